"""Figures the chapters reuse: image grids, training curves, and a callback that draws samples.

Every function returns the Matplotlib figure and never calls ``plt.show()``, so a notebook
cell shows it once (as its last expression) and tests can inspect it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import keras
import numpy as np

from gvutil.data import scale_pixels

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from os import PathLike

    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

__all__ = ["image_grid", "loss_curves", "to_numpy_images", "SampleGrid"]


def to_numpy_images(images: ArrayLike) -> np.ndarray:
    """Convert a batch of images (tensor or array; (n,28,28) or (n,28,28,1)) to float (n,h,w) in [0,1]."""
    try:
        import keras

        images = keras.ops.convert_to_numpy(images)
    except Exception:  # pragma: no cover - numpy input without keras
        images = np.asarray(images)
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 2:  # flat vectors of a square image
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"cannot reshape vectors of length {images.shape[1]} into square images")
        images = images.reshape(-1, side, side)
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (n,h,w), (n,h,w,1) or (n,h*w); got {images.shape}")
    return scale_pixels(images)


def image_grid(images: ArrayLike, ncols: int = 8, titles: Sequence[object] | None = None, size: float = 0.9,
               title: str | None = None) -> Figure:
    """Show up to ``len(images)`` grey-scale images in a grid; returns the figure.

    Args:
        images: array-like of shape (n,h,w), (n,h,w,1) or (n,h*w), values in [0,1] or uint8.
        ncols: images per row.
        titles: optional list of n short strings, one above each image.
        size: inches per image.
        title: optional figure title.
    """
    import matplotlib.pyplot as plt

    images = to_numpy_images(images)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(pad=0.2)
    plt.close(fig)  # the caller displays it; avoids a second copy in notebooks
    return fig


def loss_curves(history: keras.callbacks.History | Mapping[str, Sequence[float]],
                keys: Iterable[str] | None = None, title: str | None = None) -> Figure:
    """Plot per-epoch metrics from a Keras ``History`` (or its ``.history`` dict); returns the figure."""
    import matplotlib.pyplot as plt

    hist = getattr(history, "history", history)
    keys = list(keys) if keys is not None else sorted(hist)
    fig, ax = plt.subplots(figsize=(5, 3))
    for k in keys:
        ax.plot(np.arange(1, len(hist[k]) + 1), hist[k], label=k)
    ax.set_xlabel("epoch")
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- during training
def _in_ipython():
    try:
        from IPython import get_ipython

        return get_ipython() is not None
    except ImportError:  # pragma: no cover
        return False


class SampleGrid(keras.callbacks.Callback):
    """Every ``every`` epochs, draw ``n`` images with a fixed seed and store (and show) a grid.

    The same seed every time means the same noise, so successive frames show the same
    samples changing. Works with any model that has ``sample(n, seed)``: ``GAN`` and ``VAE``.
    Attributes: ``frames`` (list of (epoch, images)), ``figures`` (list of figures).

    Args:
        every: epochs between grids (the last epoch is always drawn).
        n, ncols, size: number of images, images per row, inches per image.
        seed: noise seed.
        show: display each grid when running in IPython/Jupyter.
        directory: if given, also save ``epoch_XXX.png`` there.
    """

    def __init__(self, every: int = 1, n: int = 16, ncols: int = 8, seed: int = 0, size: float = 0.6,
                 show: bool = True, directory: str | PathLike[str] | None = None) -> None:
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"SampleGrid: every must be a positive whole number of epochs; "
                             f"received every={every!r}")
        self.every, self.n, self.ncols, self.seed, self.size = every, n, ncols, seed, size
        self.show, self.directory = show, directory
        self.frames, self.figures = [], []

    def draw(self) -> np.ndarray:
        """The current ``n`` images for the fixed seed (``model.sample(n, seed)``)."""
        if not hasattr(self.model, "sample"):
            raise TypeError("SampleGrid needs a model with sample(n, seed), e.g. a gvutil GAN or VAE")
        return self.model.sample(self.n, seed=self.seed)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        last = epoch + 1 == self.params.get("epochs")
        if (epoch + 1) % self.every and not last:
            return
        images = self.draw()
        fig = image_grid(images, ncols=self.ncols, size=self.size, title=f"epoch {epoch + 1}")
        self.frames.append((epoch + 1, images))
        self.figures.append(fig)
        if self.directory:
            os.makedirs(self.directory, exist_ok=True)
            fig.savefig(os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png"), dpi=80)
        if self.show and _in_ipython():
            from IPython.display import display

            display(fig)
