"""Interactive figures: explore a trained model's latent space by dragging.

Each explorer comes in two forms, for the two ways the book is read:

* **In Jupyter or Colab** (a kernel runs the model): ipywidgets controls.
  :class:`LatentExplorer` has two sliders, ``z1`` and ``z2``, and shows the digit the decoder makes
  of that point next to the encoder's map of test digits with a marker at the point;
  :class:`Interpolation` has one slider ``t`` in [0, 1] that walks, linearly or along a great circle
  (slerp), from one latent vector to another and shows the image at ``t`` with the path drawn.
* **On the website** (no kernel): :func:`latent_explorer_html` and :func:`interpolation_html` return
  a self-contained HTML output: the decoded images precomputed on a grid of latent points, as one
  PNG sprite inside the page, and ``<input type="range">`` controls whose script draws the nearest
  precomputed image. No request leaves the page, and the output is a deterministic function of the
  model's weights, so nbval can compare it.

A third pair turns a dial on a training run instead of a trained model: :class:`TrainingDial`
(generator steps per discriminator step, learning rate and number of steps, then a "train" button)
trains a small GAN on a ring of Gaussians in seconds and shows its samples over the ring's modes with
the number of modes covered (:func:`gvutil.toy.mode_coverage`); :func:`training_grid` trains it once
for every setting of a small grid and :func:`training_dial_html` shows those runs without a kernel.

The ipywidgets need ``ipywidgets>=8`` (the ``widgets`` extra); in Colab the chapters' setup cell
enables Colab's custom widget manager.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "decode_latents", "encode_means", "interpolate", "LatentExplorer", "Interpolation",
    "latent_explorer_html", "interpolation_html", "ring_picture", "ring_png", "TrainingDial", "TrainingGrid",
    "training_grid", "training_dial_html",
]


# --------------------------------------------------------------------------- model access
def _check_2d(vae) -> None:
    dim = getattr(vae, "latent_dim", None)
    if dim != 2:
        raise ValueError(f"the 2-D latent explorer needs a VAE with a two-dimensional latent space; "
                         f"this model has latent_dim={dim}. Train one with make_vae('conv', "
                         f"latent_dim=2) (section 4.4), or use Interpolation, which works in any dimension.")


def decode_latents(model, z) -> np.ndarray:
    """Images in [0, 1], shape ``(n, h, w)``, that ``model`` makes of the latent vectors ``z``.

    A VAE gives the mean of p(x|z) (``to_images(decode(z))``); a GAN its generator's image.
    """
    from keras import ops

    z = np.asarray(z, dtype="float32")
    if z.ndim == 1:
        z = z[None]
    if hasattr(model, "to_images"):
        images = model.to_images(model.decode(z))
    else:  # a gvutil GAN: its generator's images are in [0, 1] whatever its output layer
        images = model.generator(z, training=False)
    images = np.asarray(ops.convert_to_numpy(images), dtype="float32")
    return np.clip(images.reshape(len(z), *images.shape[1:3]), 0.0, 1.0)


def encode_means(vae, x) -> np.ndarray:
    """Means of q(z|x) for images ``x`` (NumPy, ``(n, latent_dim)``)."""
    from keras import ops

    z_mean, _ = vae.encode(ops.convert_to_tensor(np.asarray(x, dtype="float32")))
    return np.asarray(ops.convert_to_numpy(z_mean), dtype="float32")


def interpolate(z_a, z_b, t, method: str = "linear") -> np.ndarray:
    """Points between ``z_a`` (t = 0) and ``z_b`` (t = 1), one row per value of ``t``.

    ``method="linear"``: ``(1 - t) z_a + t z_b``. ``method="slerp"``: along the great circle between the
    two directions, with the norm interpolated linearly; under a standard normal prior, points on
    the straight line near its middle have an atypically small norm, and slerp avoids them.
    """
    z_a, z_b = np.asarray(z_a, dtype="float64").ravel(), np.asarray(z_b, dtype="float64").ravel()
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b differ in shape: {z_a.shape} and {z_b.shape}")
    t = np.atleast_1d(np.asarray(t, dtype="float64"))[:, None]
    if method == "linear":
        return ((1 - t) * z_a + t * z_b).astype("float32")
    if method != "slerp":
        raise ValueError(f"method must be 'linear' or 'slerp'; received {method!r}")
    na, nb = np.linalg.norm(z_a), np.linalg.norm(z_b)
    if na == 0 or nb == 0:
        return ((1 - t) * z_a + t * z_b).astype("float32")
    ua, ub = z_a / na, z_b / nb
    omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
    if omega < 1e-6:
        direction = (1 - t) * ua + t * ub
    else:
        direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).astype("float32")


# --------------------------------------------------------------------------- PNG helpers
def _png(pixels: np.ndarray) -> bytes:
    """A grey-scale image in [0, 1] as an 8-bit grey PNG (Pillow, which matplotlib depends on).
    No metadata: the same pixels give the same bytes."""
    from PIL import Image

    grey = np.round(np.clip(np.asarray(pixels, dtype="float64"), 0.0, 1.0) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buf, format="png", optimize=True)
    return buf.getvalue()


def _upscale(image: np.ndarray, scale: int) -> np.ndarray:
    return np.kron(image, np.ones((scale, scale), dtype=image.dtype))


def _figure_png(draw, size=(3.2, 3.0)) -> bytes:
    """Render ``draw(ax)`` into PNG bytes without pyplot (nothing is shown in the notebook)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw(ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------- ipywidgets
def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as e:  # pragma: no cover - the book's environment has it
        raise ImportError("the explorers need ipywidgets>=8: pip install 'gvutil[widgets]'") from e
    return ipywidgets


class LatentExplorer(_ipywidgets().HBox):
    """Two sliders (z1, z2) -> the decoded image, beside the latent map of ``x`` with a marker.

    ``vae`` must have a two-dimensional latent space (otherwise ``ValueError``). ``x`` (optional):
    images whose encoder means are drawn as the map, coloured by ``labels`` if given. Set the
    sliders programmatically with ``explorer.z1.value = ...``; ``explorer.image_array`` is the
    image on display, ``explorer.z`` the point.
    """

    def __init__(self, vae, x=None, labels=None, extent: float = 3.0, step: float = 0.05,
                 scale: int = 5):
        _check_2d(vae)
        w = _ipywidgets()
        self.vae, self.scale = vae, int(scale)
        self.points = None if x is None else encode_means(vae, x)
        self.labels = None if labels is None else np.asarray(labels)[:len(self.points)]
        slider = dict(value=0.0, min=-extent, max=extent, step=step, continuous_update=True,
                      readout_format=".2f")
        self.z1 = w.FloatSlider(description="z1", **slider)
        self.z2 = w.FloatSlider(description="z2", **slider)
        self.image = w.Image(format="png", width=28 * self.scale, height=28 * self.scale)
        self.map = w.Image(format="png")
        self.extent = float(extent)
        left = w.VBox([self.z1, self.z2, self.image])
        super().__init__([left, self.map] if self.points is not None else [left])
        self.z1.observe(self._update, "value")
        self.z2.observe(self._update, "value")
        self._update()

    @property
    def z(self) -> np.ndarray:
        return np.array([self.z1.value, self.z2.value], dtype="float32")

    def __repr__(self):  # short and stable: a stored notebook output, compared by nbval
        return f"LatentExplorer(z1={self.z1.value:.2f}, z2={self.z2.value:.2f})"

    def _update(self, change=None):
        self.image_array = decode_latents(self.vae, self.z)[0]
        self.image.value = _png(_upscale(self.image_array, self.scale))
        if self.points is not None:
            self.map.value = _figure_png(self._draw_map)

    def _draw_map(self, ax):
        p, e = self.points, self.extent
        ax.scatter(p[:, 0], p[:, 1], s=2, c=self.labels if self.labels is not None else "0.6",
                   cmap="tab10", vmin=-0.5, vmax=9.5)
        ax.plot(*self.z, marker="+", color="k", ms=14, mew=2)
        ax.set(xlim=(-e, e), ylim=(-e, e), xlabel="$z_1$", ylabel="$z_2$", aspect="equal")


class Interpolation(_ipywidgets().HBox):
    """A slider t in [0, 1] from ``z_a`` to ``z_b`` (linear or slerp) -> the image at t.

    ``model``: a VAE (decoded means) or a GAN (generated images); ``z_a``/``z_b``: latent vectors of
    any dimension, e.g. two test digits' encoder means, or two noise vectors. When the latent space
    is two-dimensional, the path is drawn on the plane with a marker at t.
    """

    def __init__(self, model, z_a, z_b, method: str = "linear", scale: int = 5, steps: int = 50):
        w = _ipywidgets()
        self.model, self.method, self.scale = model, method, int(scale)
        self.z_a = np.asarray(z_a, dtype="float32").ravel()
        self.z_b = np.asarray(z_b, dtype="float32").ravel()
        interpolate(self.z_a, self.z_b, 0.0, method)  # checks shapes and method
        self.t = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=1.0 / steps, description="t",
                               continuous_update=True)
        self.image = w.Image(format="png", width=28 * self.scale, height=28 * self.scale)
        self.path = w.Image(format="png")
        children = [w.VBox([self.t, self.image])]
        if self.z_a.size == 2:
            children.append(self.path)
        super().__init__(children)
        self.t.observe(self._update, "value")
        self._update()

    @property
    def z(self) -> np.ndarray:
        return interpolate(self.z_a, self.z_b, self.t.value, self.method)[0]

    def __repr__(self):
        return f"Interpolation(method={self.method!r}, t={self.t.value:.2f})"

    def _update(self, change=None):
        self.image_array = decode_latents(self.model, self.z)[0]
        self.image.value = _png(_upscale(self.image_array, self.scale))
        if self.z_a.size == 2:
            self.path.value = _figure_png(self._draw_path, size=(2.6, 2.6))

    def _draw_path(self, ax):
        line = interpolate(self.z_a, self.z_b, np.linspace(0, 1, 101), self.method)
        ax.plot(line[:, 0], line[:, 1], color="0.5")
        ax.plot(*self.z, marker="o", color="C3")
        ax.set(xlabel="$z_1$", ylabel="$z_2$", aspect="equal")


# --------------------------------------------------------------------------- kernel-free HTML
_HTML = """<div class="gvutil-explorer" id="{uid}" style="display:flex;gap:1.2em;align-items:center;flex-wrap:wrap">
<canvas width="{size}" height="{size}" role="img" aria-label="{label}" style="image-rendering:pixelated;border:1px solid #888"></canvas>
<div style="display:flex;flex-direction:column;gap:0.4em;font-family:monospace">{controls}</div>
<script>(function () {{
  var root = document.getElementById("{uid}");
  var canvas = root.querySelector("canvas"), ctx = canvas.getContext("2d");
  var inputs = root.querySelectorAll("input[type=range]"), outs = root.querySelectorAll("output");
  var spec = {spec};
  var sprite = new Image();
  function draw() {{
    var col = 0, row = 0;
    for (var k = 0; k < inputs.length; k++) {{
      var v = Number(inputs[k].value);
      outs[k].textContent = spec.values[k][v].toFixed(2);
      if (k === 0) col = v; else row = spec.rows - 1 - v;
    }}
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(sprite, col * spec.tile, row * spec.tile, spec.tile, spec.tile, 0, 0, canvas.width, canvas.height);
  }}
  sprite.onload = draw;
  for (var k = 0; k < inputs.length; k++) inputs[k].addEventListener("input", draw);
  sprite.src = "data:image/png;base64,{sprite}";
}})();</script>
</div>"""

_CONTROL = ('<label>{name} <input type="range" min="0" max="{last}" step="1" value="{start}" '
            'aria-label="{name}"> <output>{value:.2f}</output></label>')


def _html_explorer(tiles: np.ndarray, axes: list[tuple[str, np.ndarray, int]], label: str,
                   scale: int) -> str:
    """Sprite of ``tiles`` (rows, cols, h, w) with one range input per axis (name, values, start)."""
    rows, cols, h, w = tiles.shape
    sprite = tiles.transpose(0, 2, 1, 3).reshape(rows * h, cols * w)
    png = _png(sprite)
    spec = {"tile": int(h), "rows": int(rows), "values": [np.round(v, 4).tolist() for _, v, _ in axes]}
    uid = "gvx-" + hashlib.sha256(png + json.dumps(spec).encode()).hexdigest()[:12]
    controls = "\n".join(_CONTROL.format(name=name, last=len(values) - 1, start=start, value=values[start])
                         for name, values, start in axes)
    return _HTML.format(uid=uid, size=h * scale, label=label, controls=controls, spec=json.dumps(spec),
                        sprite=base64.b64encode(png).decode("ascii"))


def latent_explorer_html(vae, n: int = 21, extent: float = 3.0, scale: int = 5):
    """The 2-D latent explorer without a kernel: an ``IPython.display.HTML`` output.

    The decoder's images on an ``n`` x ``n`` grid of ``[-extent, extent]^2`` form one PNG sprite in
    the page; two range inputs (z1, z2) pick the grid point, and the canvas shows its image. The
    HTML is a deterministic function of the weights (its element id is a hash of its content).
    """
    from IPython.display import HTML

    _check_2d(vae)
    values = np.linspace(-extent, extent, n)
    zz = np.array([[z1, z2] for z2 in values[::-1] for z1 in values], dtype="float32")
    images = decode_latents(vae, zz)
    tiles = images.reshape(n, n, *images.shape[1:])
    mid = n // 2
    return HTML(_html_explorer(tiles, [("z1", values, mid), ("z2", values, mid)],
                               "digit decoded at the chosen point (z1, z2)", scale))


def interpolation_html(model, z_a, z_b, method: str = "linear", n: int = 21, scale: int = 5):
    """:class:`Interpolation` without a kernel: ``n`` precomputed images along t in [0, 1]."""
    from IPython.display import HTML

    t = np.linspace(0.0, 1.0, n)
    images = decode_latents(model, interpolate(z_a, z_b, t, method))
    return HTML(_html_explorer(images[None], [("t", t, 0)],
                               f"image at t on the {method} path between two latent vectors", scale))


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


def ring_picture(samples, centres, std: float, size: int = 160, extent: float = 3.0, k: float = 3.0,
                 min_fraction: float = 0.01):
    """Generated 2-D ``samples`` over the modes of a ring of Gaussians, as a small picture.

    Returns ``(pixels, coverage)``: ``pixels`` a ``(size, size)`` array of indices into the palette of
    :func:`ring_png` showing ``[-extent, extent]^2`` (light grey: the ring through the centres; each
    mode's ``k``-standard-deviation disk, green where the mode is covered and a grey outline where
    it is missed; orange: one pixel per sample), and ``coverage`` the
    :func:`gvutil.toy.mode_coverage` of the samples. A deterministic function of its inputs.
    """
    from .toy import ModeCoverage, mode_coverage

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

    def __init__(self, train, centres, std: float, *, g_steps=DIAL_G_STEPS, learning_rates=DIAL_LEARNING_RATES,
                 steps=DIAL_STEPS, start=(1, 3e-3, 600), size: int = 160, scale: int = 2):
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

    def run(self, **settings):
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


def training_grid(train, centres, std: float, g_steps=(1, 2, 5), learning_rates=(3e-4, 1e-3, 3e-3),
                  steps=DIAL_STEPS) -> TrainingGrid:
    """Train once for every ``(g_steps, lr)`` (one run per pair, its samples recorded at every one of
    ``steps``) with the ``train`` function of :class:`TrainingDial`; for :func:`training_dial_html`."""
    _check_train(train)
    gs = _choices("g_steps", g_steps, integer=True)
    lrs = _choices("lr", learning_rates, integer=False)
    ss = _choices("steps", steps, integer=True)
    from .toy import mode_coverage

    samples, coverage = {}, {}
    for g in gs:
        for lr in lrs:
            out = train(g_steps=g, lr=lr, record_at=ss)
            for s in ss:
                samples[g, lr, s] = _snapshot(out, s)
                coverage[g, lr, s] = mode_coverage(samples[g, lr, s], centres, std=std)
    return TrainingGrid(gs, lrs, ss, np.asarray(centres, dtype="float64"), float(std), samples, coverage)


_DIAL_HTML = """<div class="gvutil-explorer gvutil-dial" id="{uid}" style="display:flex;gap:1.2em;align-items:center;flex-wrap:wrap">
<canvas width="{size}" height="{size}" role="img" aria-label="{label}" style="image-rendering:pixelated;border:1px solid #888"></canvas>
<div style="display:flex;flex-direction:column;gap:0.4em;font-family:monospace">{controls}
<p class="gvutil-dial-result" aria-live="polite" style="margin:0.4em 0 0 0;max-width:26em"></p>
<small style="max-width:26em">{legend}</small>
</div>
<script>(function () {{
  var root = document.getElementById("{uid}");
  var canvas = root.querySelector("canvas"), ctx = canvas.getContext("2d");
  var inputs = root.querySelectorAll("input[type=range]"), outs = root.querySelectorAll("output");
  var result = root.querySelector(".gvutil-dial-result");
  var spec = {spec};
  var sprite = new Image();
  function draw() {{
    var index = 0;
    for (var k = 0; k < inputs.length; k++) {{
      var v = Number(inputs[k].value);
      outs[k].textContent = spec.labels[k][v];
      index = index * spec.labels[k].length + v;
    }}
    var col = index % spec.cols, row = Math.floor(index / spec.cols);
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(sprite, col * spec.tile, row * spec.tile, spec.tile, spec.tile, 0, 0, canvas.width, canvas.height);
    result.textContent = spec.results[index];
  }}
  sprite.onload = draw;
  for (var k = 0; k < inputs.length; k++) inputs[k].addEventListener("input", draw);
  sprite.src = "data:image/png;base64,{sprite}";
}})();</script>
</div>"""

_DIAL_CONTROL = ('<label>{name} <input type="range" min="0" max="{last}" step="1" value="{start}" '
                 'aria-label="{name}"> <output>{value}</output></label>')


def training_dial_html(grid: TrainingGrid, start=None, size: int = 160, scale: int = 2):
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
    png = ring_png(sprite)
    spec = {"tile": int(size), "cols": cols, "labels": [[_label(v) for v in values] for _, values in axes],
            "results": results}
    uid = "gvx-" + hashlib.sha256(png + json.dumps(spec).encode()).hexdigest()[:12]
    controls = "\n".join(_DIAL_CONTROL.format(name=_DIAL_LABELS[name], last=len(values) - 1,
                                              start=values.index(v), value=_label(v))
                         for (name, values), v in zip(axes, first))
    n = len(next(iter(grid.samples.values())))
    legend = (f"Orange: {n:,} samples of the generator; green disk: a covered mode (3 standard "
              "deviations); grey circle: a missed mode. Each setting was trained once, when this page "
              "was made.")
    return HTML(_DIAL_HTML.format(uid=uid, size=size * scale, controls=controls, spec=json.dumps(spec),
                                  legend=legend, sprite=base64.b64encode(png).decode("ascii"),
                                  label="samples of a GAN trained with the chosen settings, over the "
                                        "ring's modes"))
