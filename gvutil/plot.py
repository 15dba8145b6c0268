"""Figures the chapters reuse: image grids and training curves.

Every function returns the Matplotlib figure and never calls ``plt.show()``, so a notebook
cell shows it once (as its last expression) and tests can inspect it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["image_grid", "loss_curves", "to_numpy_images"]


def to_numpy_images(images) -> np.ndarray:
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
    if images.dtype == np.uint8:
        return images.astype("float32") / 255.0
    return images.astype("float32")


def image_grid(images, ncols: int = 8, titles=None, size: float = 0.9, title: str | None = None):
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


def loss_curves(history, keys=None, title: str | None = None):
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
