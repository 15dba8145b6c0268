"""An explorer of a sweep of trained VAEs (section 5.4 sweeps beta): for each setting, the model's
samples, its reconstructions of test images and the KL of each latent dimension, drawn as one tile;
a slider moves through the settings. :class:`SweepExplorer` in Jupyter or Colab (ipywidgets),
:func:`sweep_explorer_html` on the website (no kernel: the tiles are one PNG sprite in the page)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._render import _ipywidgets, _png, _upscale, sprite_player_html

if TYPE_CHECKING:
    from collections.abc import Mapping

    from IPython.display import HTML

_KEYS = ("samples", "originals", "reconstructions", "kl")
_BAR_HEIGHT = 48  # pixels of the KL strip


def _grey(images) -> np.ndarray:
    """(n, 28, 28[, 1]) images, uint8 or float in [0, 1] -> float (n, 28, 28)."""
    a = np.asarray(images)
    a = a.astype("float64") / 255.0 if a.dtype == np.uint8 else a.astype("float64")
    return a.reshape(a.shape[0], a.shape[1], a.shape[2])


def sweep_tile(run: Mapping[str, object], kl_max: float, cols: int = 8) -> np.ndarray:
    """One setting as a square grey picture (float in [0, 1], side ``cols * 28``): four rows of samples,
    a row of test images over a row of their reconstructions, and below them one white bar per latent
    dimension whose height is its KL (nats) over ``kl_max`` (the same for every tile, so bars compare
    between settings). ``run`` holds ``samples`` (at least ``4 * cols``), ``originals`` and
    ``reconstructions`` (at least ``cols`` each) and ``kl`` (one value per latent dimension)."""
    missing = [k for k in _KEYS if k not in run]
    if missing:
        raise ValueError(f"a run needs {list(_KEYS)}; missing {missing}")
    if not kl_max > 0:
        raise ValueError(f"kl_max must be > 0; received {kl_max!r}")
    samples, originals, recon = (_grey(run[k]) for k in ("samples", "originals", "reconstructions"))
    if len(samples) < 4 * cols or min(len(originals), len(recon)) < cols:
        raise ValueError(f"a tile of {cols} columns needs {4 * cols} samples and {cols} reconstructions")
    side = cols * 28

    def rows(images, n):
        return np.concatenate([np.concatenate(list(images[r * cols:(r + 1) * cols]), axis=1) for r in range(n)])

    kl = np.asarray(run["kl"], dtype="float64").ravel()
    width = side // len(kl)
    bars = np.zeros((_BAR_HEIGHT, side))
    for i, v in enumerate(kl):
        h = int(round(min(v / kl_max, 1.0) * (_BAR_HEIGHT - 2)))
        if h:
            bars[_BAR_HEIGHT - h:, i * width:(i + 1) * width - (1 if width > 2 else 0)] = 1.0
    gap = lambda: np.full((2, side), 0.5)  # noqa: E731 - a grey rule between the parts
    tile = np.concatenate([rows(samples, 4), gap(), rows(originals, 1), rows(recon, 1), gap(), bars])
    pad = side - tile.shape[0]
    return np.concatenate([tile, np.full((pad, side), 0.5)]) if pad > 0 else tile[:side]


def _tiles(runs: Mapping[str, Mapping[str, object]], cols: int) -> tuple[list[str], list[np.ndarray], float]:
    if not runs:
        raise ValueError("the sweep has no runs")
    kl_max = max(float(np.max(run.get("kl", 0.0))) for run in runs.values()) or 1.0  # one scale for all
    return list(runs), [sweep_tile(run, kl_max, cols) for run in runs.values()], kl_max


class SweepExplorer(_ipywidgets().VBox):
    """A slider over the settings of a sweep (``runs``: label -> a run as :func:`sweep_tile` takes it,
    plus an optional ``text`` shown under the picture) and the picture of the chosen one."""

    def __init__(self, runs: Mapping[str, Mapping[str, object]], name: str = "beta", start: str | None = None,
                 scale: int = 2, cols: int = 8) -> None:
        w = _ipywidgets()
        labels, self.tiles, self.kl_max = _tiles(runs, cols)
        self.texts = [str(run.get("text", "")) for run in runs.values()]
        self.scale = int(scale)
        if start is not None and start not in labels:
            raise ValueError(f"start must be one of {labels}; received {start!r}")
        self.slider = w.SelectionSlider(options=labels, value=start or labels[0], description=name,
                                        continuous_update=True)
        self.image = w.Image(format="png", width=self.tiles[0].shape[1] * self.scale)
        self.text = w.Label()
        super().__init__([self.slider, self.image, self.text])
        self.slider.observe(self._update, "value")
        self._update()

    def __repr__(self):
        return f"SweepExplorer({self.slider.description}={self.slider.value})"

    def _update(self, change=None):
        i = list(self.slider.options).index(self.slider.value)
        self.image_array = self.tiles[i]
        self.image.value = _png(_upscale(self.image_array, self.scale))
        self.text.value = self.texts[i]


def sweep_explorer_html(runs: Mapping[str, Mapping[str, object]], name: str = "beta", start: str | None = None,
                        scale: int = 2, cols: int = 8) -> HTML:
    """:class:`SweepExplorer` without a kernel: every setting's picture in one sprite, a range input
    over the settings and the setting's ``text`` below it."""
    from IPython.display import HTML

    labels, tiles, kl_max = _tiles(runs, cols)
    if start is not None and start not in labels:
        raise ValueError(f"start must be one of {labels}; received {start!r}")
    side = tiles[0].shape[0]
    legend = (f"Top: samples from the prior; middle: test images over their reconstructions; bottom: one "
              f"bar per latent dimension, its KL from 0 to {kl_max:.2f} nats.")
    below = ('\n<p class="gvutil-dial-result" aria-live="polite" style="margin:0.4em 0 0 0;max-width:26em"></p>'
             f'\n<small style="max-width:26em">{legend}</small>\n')
    return HTML(sprite_player_html(_png(np.concatenate(tiles, axis=1)), side, len(tiles),
                                   [(name, labels, labels.index(start) if start else 0)],
                                   f"samples, reconstructions and KL per latent dimension of the VAE trained "
                                   f"with the chosen {name}", side * scale,
                                   results=[str(run.get("text", "")) for run in runs.values()], below=below))
