"""A dial on a training run: chapter 2's ring GAN trained from sliders, live or precomputed."""

from __future__ import annotations

import html
import io
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ._render import _ipywidgets, _upscale, sprite_player_html

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from IPython.display import HTML
    from numpy.typing import ArrayLike

    from gvutil.toy import ModeCoverage

    # train(g_steps=, lr=, record_at=) -> {step: samples}, as chapter 2's ring_gan
    TrainFn = Callable[..., Mapping[int, ArrayLike]]

# --------------------------------------------------------------------------- training dial
#: The dial's default settings. Chapter 2's ring GAN trains 1800 steps at a learning rate of 1e-3.
DIAL_G_STEPS = (1, 2, 3, 4, 5)
DIAL_LEARNING_RATES = (3e-4, 1e-3, 3e-3, 1e-2)
DIAL_STEPS = (300, 600, 900, 1200, 1500, 1800)
_DIAL_NAMES = {"g_steps": "generator steps per discriminator step", "lr": "learning rate",
               "steps": "training steps"}
_DIAL_LABELS = {"g_steps": "G steps per D step", "lr": "learning rate", "steps": "training steps"}

# Colours of ring_picture, by palette index: background, the ring, a missed mode (outline), a
# covered mode (disk), generated samples.
_RING_PALETTE = ((255, 255, 255), (222, 222, 222), (150, 150, 150), (140, 205, 140), (217, 95, 2))


def _label(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _choices(name: str, values, integer: bool) -> tuple:
    """The settings a dial offers for ``name``: positive, increasing, integers where ``integer``."""
    try:
        vals = tuple(values)
    except TypeError:
        vals = None
    ok = bool(vals) and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                            and np.isfinite(v) and v > 0 and (not integer or float(v).is_integer())
                            for v in vals)
    if not ok or any(a >= b for a, b in zip(vals, vals[1:])):
        kind = "positive integers" if integer else "positive numbers"
        raise ValueError(f"{name} ({_DIAL_NAMES[name]}) must be one or more {kind} in increasing order; "
                         f"received {values!r}")
    return tuple(int(v) for v in vals) if integer else tuple(float(v) for v in vals)


def _pick(name: str, value, allowed: tuple):
    """``value`` as the allowed setting it equals (a float to 1e-9 relative), else ``ValueError``."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        for a in allowed:
            if np.isclose(float(value), a, rtol=1e-9, atol=0.0):
                return a
    raise ValueError(f"{name}={value!r} is not a setting of this dial; {_DIAL_NAMES[name]} can be "
                     f"{', '.join(_label(a) for a in allowed)}")


def _check_train(train) -> None:
    if not callable(train):
        raise TypeError(f"train must be a function train(g_steps=, lr=, record_at=); "
                        f"received {type(train).__name__}")


def _snapshot(out, step: int) -> np.ndarray:
    """The samples at ``step`` from what a training function returned ({step: samples})."""
    if not hasattr(out, "keys"):
        raise ValueError(f"the training function must return a dict {{step: samples}} (as chapter 2's "
                         f"ring_gan does); it returned {type(out).__name__}")
    if step not in out:
        raise ValueError(f"the training function was asked for record_at containing {step} but "
                         f"returned samples at steps {sorted(out)}")
    from keras import ops

    samples = np.asarray(ops.convert_to_numpy(out[step]), dtype="float64")
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"the samples at step {step} must be 2-D points, shape (n, 2); "
                         f"received shape {samples.shape}")
    return samples


def ring_picture(samples: ArrayLike, centres: ArrayLike, std: float, size: int = 160, extent: float = 3.0,
                 k: float = 3.0, min_fraction: float = 0.01) -> tuple[np.ndarray, ModeCoverage]:
    """Generated 2-D ``samples`` over the modes of a ring of Gaussians, as a small picture.

    Returns ``(pixels, coverage)``: ``pixels`` a ``(size, size)`` array of indices into the palette of
    :func:`ring_png` showing ``[-extent, extent]^2`` (light grey: the ring through the centres; each
    mode's ``k``-standard-deviation disk, green where the mode is covered and a grey outline where
    it is missed; orange: one pixel per sample), and ``coverage`` the
    :func:`gvutil.toy.mode_coverage` of the samples. A deterministic function of its inputs.
    """
    from gvutil.toy import ModeCoverage, mode_coverage

    x = np.asarray(samples, dtype="float64")
    c = np.asarray(centres, dtype="float64")
    if x.size == 0:
        x = x.reshape(0, 2)
    if len(x):
        coverage = mode_coverage(x, c, std=std, k=k, min_fraction=min_fraction)
    else:  # nothing trained yet: the ring alone
        coverage = ModeCoverage(counts=np.zeros(len(c), dtype=np.int64), covered=0, high_quality=0.0, n=0)
    scale = size / (2.0 * extent)
    rows, cols = np.mgrid[0:size, 0:size]
    px, py = (cols + 0.5) / scale - extent, extent - (rows + 0.5) / scale  # pixel centres
    pixels = np.zeros((size, size), dtype=np.uint8)
    radius = float(np.linalg.norm(c, axis=1).mean())
    pixels[np.abs(np.hypot(px, py) - radius) < 0.5 / scale] = 1
    covered = (coverage.counts >= min_fraction * len(x)) & (coverage.counts > 0)
    for (cx, cy), hit in zip(c, covered):
        d = np.hypot(px - cx, py - cy)
        if hit:
            pixels[d <= k * std] = 3
        else:
            pixels[np.abs(d - k * std) < 0.6 / scale] = 2
    x = x[np.isfinite(x).all(axis=1)]
    col = np.floor((x[:, 0] + extent) * scale).astype(np.int64)
    row = np.floor((extent - x[:, 1]) * scale).astype(np.int64)
    inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
    pixels[row[inside], col[inside]] = 4
    return pixels, coverage


def ring_png(pixels: np.ndarray, scale: int = 1) -> bytes:
    """A :func:`ring_picture` (palette indices) as a small palette PNG, each pixel ``scale`` x ``scale``."""
    from PIL import Image

    image = Image.fromarray(_upscale(np.asarray(pixels, dtype=np.uint8), int(scale)), mode="P")
    image.putpalette([v for rgb in _RING_PALETTE for v in rgb])
    buf = io.BytesIO()
    image.save(buf, format="png", optimize=True)
    return buf.getvalue()


class TrainingDial(_ipywidgets().HBox):
    """Set how a GAN is trained, press "train", and see where its samples land on a ring of Gaussians.

    ``train(g_steps=..., lr=..., record_at=(steps,))`` trains a fresh GAN and returns
    ``{steps: samples}``, the generator's 2-D samples after ``steps`` training steps (chapter 2's
    ``ring_gan`` has this form; it seeds everything, so the same settings give the same samples).
    ``centres`` and ``std``: the ring's modes, for :func:`gvutil.toy.mode_coverage`.

    Three selection sliders offer the settings ``g_steps`` (generator steps per discriminator step),
    ``learning_rates`` and ``steps``; ``start`` is the ``(g_steps, lr, steps)`` shown first. Nothing is
    trained until the button is pressed (``dial.button.click()`` in code, or :meth:`run`). Then
    ``dial.samples``, ``dial.coverage`` and ``dial.pixels`` hold the result on display, and
    ``dial.seconds`` how long it took. Settings outside the offered ones raise ``ValueError``.
    """

    def __init__(self, train: TrainFn, centres: ArrayLike, std: float, *,
                 g_steps: Iterable[int] = DIAL_G_STEPS, learning_rates: Iterable[float] = DIAL_LEARNING_RATES,
                 steps: Iterable[int] = DIAL_STEPS, start: tuple[int, float, int] = (1, 3e-3, 600),
                 size: int = 160, scale: int = 2) -> None:
        _check_train(train)
        self.train = train
        self.centres = np.asarray(centres, dtype="float64")
        self.std, self.size, self.scale = float(std), int(size), int(scale)
        self.choices = {"g_steps": _choices("g_steps", g_steps, integer=True),
                        "lr": _choices("lr", learning_rates, integer=False),
                        "steps": _choices("steps", steps, integer=True)}
        try:
            g0, lr0, s0 = start
        except (TypeError, ValueError):
            raise ValueError(f"start must be (g_steps, lr, steps); received {start!r}") from None
        first = {name: _pick(name, v, self.choices[name]) for name, v in zip(self.choices, (g0, lr0, s0))}
        w = _ipywidgets()
        style = {"description_width": "10em"}

        def slider(name, description):
            return w.SelectionSlider(options=[(_label(v), v) for v in self.choices[name]], value=first[name],
                                     description=description, style=style, continuous_update=False)

        self.g_steps, self.lr, self.steps = (slider(name, _DIAL_LABELS[name]) for name in self.choices)
        self.button = w.Button(description="train", button_style="primary", icon="play",
                               tooltip="train a fresh GAN with these settings")
        self.result = w.HTML(value="Press <b>train</b>: a fresh GAN is trained with these settings.")
        self.image = w.Image(format="png", width=self.size * self.scale, height=self.size * self.scale)
        super().__init__([w.VBox([self.g_steps, self.lr, self.steps, self.button, self.result]), self.image])
        self.samples = self.coverage = self.seconds = None
        self.button.on_click(lambda _: self._train())
        self._show(np.zeros((0, 2)))

    @property
    def settings(self) -> dict:
        return {"g_steps": self.g_steps.value, "lr": self.lr.value, "steps": self.steps.value}

    def __repr__(self):  # short and stable: a stored notebook output
        s = self.settings
        return f"TrainingDial(g_steps={s['g_steps']}, lr={_label(s['lr'])}, steps={s['steps']})"

    def run(self, **settings: float) -> ModeCoverage | None:
        """Set some of ``g_steps``, ``lr``, ``steps``, then train as the button does; the coverage."""
        unknown = sorted(set(settings) - set(self.choices))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; the dial has {sorted(self.choices)}")
        picked = {name: _pick(name, v, self.choices[name]) for name, v in settings.items()}
        for name, value in picked.items():
            getattr(self, name).value = value
        return self._train()

    def _train(self):
        s = self.settings
        self.button.disabled, self.button.description = True, "training…"
        self.result.value = (f"training {s['steps']} steps, {s['g_steps']} G step(s) per D step, "
                             f"learning rate {_label(s['lr'])} …")
        start = time.perf_counter()
        try:
            samples = _snapshot(self.train(g_steps=s["g_steps"], lr=s["lr"], record_at=(s["steps"],)),
                                s["steps"])
        except Exception as e:
            self.result.value = f"training failed: {html.escape(str(e))}"
            raise
        finally:
            self.button.disabled, self.button.description = False, "train"
        self.seconds = time.perf_counter() - start
        self._show(samples)
        self.samples = samples
        self.result.value = (f"after {s['steps']} steps: {self.coverage}<br>"
                             f"(trained in {self.seconds:.1f} s)")
        return self.coverage

    def _show(self, samples):
        self.pixels, coverage = ring_picture(samples, self.centres, self.std, size=self.size)
        self.coverage = coverage if len(samples) else None
        self.image.value = ring_png(self.pixels, self.scale)


@dataclass(frozen=True)
class TrainingGrid:
    """What :func:`training_grid` trained: for each ``(g_steps, lr, step)``, the generator's samples
    and their :class:`gvutil.toy.ModeCoverage`."""

    g_steps: tuple
    learning_rates: tuple
    steps: tuple
    centres: np.ndarray = field(repr=False)
    std: float
    samples: dict = field(repr=False)
    coverage: dict = field(repr=False)

    def table(self) -> str:
        """Modes covered, one row per ``(g_steps, lr)`` and one column per step."""
        modes = len(self.centres)
        head = f"{'modes covered (of ' + str(modes) + ') after':<34}" + "".join(f"{s:>6}" for s in self.steps)
        lines = [head + " steps"]
        for g in self.g_steps:
            for lr in self.learning_rates:
                name = f"{g} G step{'s' if g > 1 else ''} per D step, lr {_label(lr)}"
                lines.append(f"{name:<34}" + "".join(f"{self.coverage[g, lr, s].covered:>6}" for s in self.steps))
        return "\n".join(lines)


def training_grid(train: TrainFn, centres: ArrayLike, std: float, g_steps: Iterable[int] = (1, 2, 5),
                  learning_rates: Iterable[float] = (3e-4, 1e-3, 3e-3),
                  steps: Iterable[int] = DIAL_STEPS) -> TrainingGrid:
    """Train once for every ``(g_steps, lr)`` (one run per pair, its samples recorded at every one of
    ``steps``) with the ``train`` function of :class:`TrainingDial`; for :func:`training_dial_html`."""
    _check_train(train)
    gs = _choices("g_steps", g_steps, integer=True)
    lrs = _choices("lr", learning_rates, integer=False)
    ss = _choices("steps", steps, integer=True)
    from gvutil.toy import mode_coverage

    samples, coverage = {}, {}
    for g in gs:
        for lr in lrs:
            out = train(g_steps=g, lr=lr, record_at=ss)
            for s in ss:
                samples[g, lr, s] = _snapshot(out, s)
                coverage[g, lr, s] = mode_coverage(samples[g, lr, s], centres, std=std)
    return TrainingGrid(gs, lrs, ss, np.asarray(centres, dtype="float64"), float(std), samples, coverage)


def training_dial_html(grid: TrainingGrid, start: tuple[int, float, int] | None = None, size: int = 160,
                       scale: int = 2) -> HTML:
    """:class:`TrainingDial` without a kernel: the runs of a :class:`TrainingGrid`, one picture each.

    Every ``(g_steps, lr, step)`` of ``grid`` becomes a :func:`ring_picture` in one PNG sprite inside
    the page; three range inputs pick the setting, the canvas shows its picture and a line below
    the number of modes covered. ``start``: the ``(g_steps, lr, steps)`` shown first (default: the
    fewest generator steps, the middle learning rate, the last step). No request leaves the page,
    and the HTML is a deterministic function of the samples (its element id hashes its content).
    """
    from IPython.display import HTML

    axes = [("g_steps", grid.g_steps), ("lr", grid.learning_rates), ("steps", grid.steps)]
    if start is None:
        start = (grid.g_steps[0], grid.learning_rates[len(grid.learning_rates) // 2], grid.steps[-1])
    try:
        first = [_pick(name, v, values) for (name, values), v in zip(axes, start, strict=True)]
    except (TypeError, ValueError) as e:
        if isinstance(e, ValueError) and "not a setting" in str(e):
            raise
        raise ValueError(f"start must be (g_steps, lr, steps); received {start!r}") from None
    tiles, results = [], []
    for g in grid.g_steps:
        for lr in grid.learning_rates:
            for s in grid.steps:
                pixels, coverage = ring_picture(grid.samples[g, lr, s], grid.centres, grid.std, size=size)
                tiles.append(pixels)
                results.append(f"after {s} steps: {coverage}")
    cols = len(grid.steps)
    sprite = np.concatenate([np.concatenate(tiles[r * cols:(r + 1) * cols], axis=1)
                             for r in range(len(tiles) // cols)], axis=0)
    controls = [(_DIAL_LABELS[name], [_label(v) for v in values], values.index(v))
                for (name, values), v in zip(axes, first)]
    n = len(next(iter(grid.samples.values())))
    legend = (f"Orange: {n:,} samples of the generator; green disk: a covered mode (3 standard "
              "deviations); grey circle: a missed mode. Each setting was trained once, when this page "
              "was made.")
    below = ('\n<p class="gvutil-dial-result" aria-live="polite" style="margin:0.4em 0 0 0;max-width:26em"></p>'
             f'\n<small style="max-width:26em">{legend}</small>\n')
    return HTML(sprite_player_html(ring_png(sprite), size, cols, controls,
                                   "samples of a GAN trained with the chosen settings, over the ring's modes",
                                   size * scale, results=results, below=below, css=" gvutil-dial"))
