"""Data for the book: MNIST from verified IDX files, and small seeded toy distributions.

MNIST is looked up, in order, in

1. ``$GVUTIL_DATA_DIR/mnist/`` (CI and offline machines point this at a folder of the four
   standard ``*-ubyte.gz`` files),
2. the user cache ``$GVUTIL_CACHE_DIR`` (default ``~/.cache/gvutil``) ``/mnist/``,
3. a download from public mirrors into that cache (Colab and other online machines).

Every file is checked by the SHA-256 of its *decompressed* bytes, so a re-compressed copy
of the original files passes and a corrupted or truncated one never gets used.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from numpy.typing import ArrayLike

    Tensor = Any  # a NumPy array or a backend tensor (tf.Tensor, jax.Array)

__all__ = [
    "MNIST_FILES",
    "DataError",
    "ChecksumError",
    "MNISTNotFoundError",
    "PIXEL_SCALE",
    "binarize",
    "check_fit_data",
    "check_images",
    "check_labels",
    "cache_dir",
    "gaussian_mixture",
    "gaussian_mixture_density",
    "load_mnist",
    "ring_of_gaussians",
    "scale_pixels",
    "to_float_images",
]

#: name -> (SHA-256 of the decompressed bytes, decompressed size in bytes)
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
    "train-labels-idx1-ubyte.gz": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    "t10k-images-idx3-ubyte.gz": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    "t10k-labels-idx1-ubyte.gz": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
}

#: Public mirrors of the original gzip files, tried in order.
MNIST_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)


class DataError(RuntimeError):
    """Base class of the loader's errors."""


class ChecksumError(DataError):
    """A data file exists but its content is not the expected one."""


class MNISTNotFoundError(DataError, FileNotFoundError):
    """No verified MNIST files locally, and the download failed."""


def cache_dir() -> Path:
    """The user cache folder (``$GVUTIL_CACHE_DIR``, default ``~/.cache/gvutil``)."""
    return Path(os.environ.get("GVUTIL_CACHE_DIR") or Path.home() / ".cache" / "gvutil")


def _candidate_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("GVUTIL_DATA_DIR"):
        dirs.append(Path(os.environ["GVUTIL_DATA_DIR"]).expanduser() / "mnist")
    dirs.append(cache_dir() / "mnist")
    return dirs


def _read_verified(path: Path, name: str | None = None) -> bytes:
    """Decompress ``path`` and check its SHA-256 against file ``name``'s; return the IDX bytes."""
    name = name or path.name
    expected, size = MNIST_FILES[name]
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise ChecksumError(
            f"{path} is not a readable gzip file ({type(e).__name__}: {e}); it is corrupted or "
            f"truncated. Delete it and run again to download a fresh copy, or replace it with "
            f"the original {name}."
        ) from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise ChecksumError(
            f"{path} failed its checksum: its decompressed content has SHA-256 {digest[:16]}... "
            f"({len(raw):,} bytes) but the original {name} has {expected[:16]}... "
            f"({size:,} bytes). The file is corrupted or is not MNIST; delete it and run again "
            f"to download a fresh copy, or replace it with the original file."
        )
    return raw


def _parse_idx(raw: bytes) -> np.ndarray:
    """Parse IDX bytes (unsigned-byte data) into a numpy array."""
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape).copy()


def _download(name: str, dest: Path, mirrors, timeout: float) -> list[str]:
    """Fetch ``name`` from the first mirror that serves a verified copy into ``dest``.

    Returns the list of ``(url, reason)`` failures (empty on success). A partial or wrong download is
    deleted, never left where the loader would find it.
    """
    failures = []
    dest.parent.mkdir(parents=True, exist_ok=True)
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=name, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                shutil.copyfileobj(r, out)
            _read_verified(Path(tmp), name)
            os.replace(tmp, dest)
            return []
        except ChecksumError:
            failures.append((url, "the downloaded file failed its checksum"))
        except (urllib.error.URLError, OSError, ValueError) as e:
            failures.append((url, str(getattr(e, "reason", e))))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return failures


def _mnist_file(name: str, download: bool, mirrors, timeout: float) -> bytes:
    """Verified IDX bytes of one MNIST file, from a local folder or a download."""
    searched = _candidate_dirs()
    for d in searched:
        path = d / name
        if path.exists():
            return _read_verified(path)  # a bad local file is an error, never skipped
    if not download:
        raise MNISTNotFoundError(
            f"MNIST file {name} was not found in {', '.join(map(str, searched))} and "
            f"download=False; set GVUTIL_DATA_DIR to a folder whose mnist/ subfolder holds the "
            f"four standard *-ubyte.gz files."
        )
    dest = cache_dir() / "mnist" / name
    failures = _download(name, dest, mirrors, timeout)
    if failures:
        err = MNISTNotFoundError(
            f"MNIST file {name} is not in {' or '.join(map(str, searched))} and could not be "
            f"downloaded (no network? {failures[-1][1]}): set GVUTIL_DATA_DIR to a folder whose "
            f"mnist/ subfolder holds the four standard *-ubyte.gz files, or connect to the internet."
        )
        err.failures = failures  # [(url, reason), ...] for whoever needs the details
        raise err
    return _read_verified(dest)


def load_mnist(download: bool = True, mirrors: Sequence[str] | None = None,
               timeout: float = 30.0) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays.

    The same contract as ``keras.datasets.mnist.load_data()``: images (60000, 28, 28) and
    (10000, 28, 28), labels (60000,) and (10000,), all ``uint8``.

    Args:
        download: fetch missing files from ``mirrors`` into the user cache.
        mirrors: base URLs to try (default: :data:`MNIST_MIRRORS`, or the space-separated
            list in ``$GVUTIL_MNIST_MIRRORS``).
        timeout: seconds per connection attempt.

    Raises:
        ChecksumError: a file is present but corrupted, truncated or not MNIST.
        MNISTNotFoundError: the files are nowhere locally and could not be downloaded.
    """
    if mirrors is None:
        env = os.environ.get("GVUTIL_MNIST_MIRRORS")
        mirrors = env.split() if env else MNIST_MIRRORS
    arrays = {name: _parse_idx(_mnist_file(name, download, mirrors, timeout)) for name in MNIST_FILES}
    return ((arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"]),
            (arrays["t10k-images-idx3-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"]))


# The book's one pixel scaling. A multiplication by float32(1/255), not a division by 255: XLA (on
# TensorFlow and JAX) compiles `x / 255` into this very multiplication, and the two disagree in the
# last bit for 126 of the 256 pixel values, so only this form gives the same floats on the host, on a
# device and inside a compiled step.
PIXEL_SCALE = np.float32(1.0 / 255.0)


def scale_pixels(x: Tensor) -> Tensor:
    """uint8 pixels 0..255 -> float32 in [0, 1], as ``x * float32(1/255)``; float input -> float32.

    Works on NumPy and JAX arrays alike (the pipeline of ``gvutil.train.dataset`` calls it on the
    device); every other place in gvutil that turns pixels into floats calls this.
    """
    if x.dtype == np.uint8:
        return x.astype("float32") * PIXEL_SCALE
    return x.astype("float32")


def to_float_images(x: ArrayLike, channel_axis: bool = True) -> np.ndarray:
    """uint8 images (n,28,28) -> float32 in [0,1] (:func:`scale_pixels`), with a trailing channel
    axis by default."""
    x = scale_pixels(np.asarray(x))
    if channel_axis and x.ndim == 3:
        x = x[..., None]
    return x


def binarize(x: ArrayLike, seed: int | Sequence[int] | None = 0) -> np.ndarray:
    """Dynamic binarisation: each pixel becomes 1 with probability equal to its intensity.

    ``x`` is uint8 or float in [0,1]; returns float32 of 0s and 1s, the same shape. This is
    the usual preparation for a Bernoulli likelihood on MNIST (re-drawn each epoch during
    training; with a fixed ``seed`` for evaluation).
    """
    p = scale_pixels(np.asarray(x))
    rng = np.random.default_rng(seed)
    return (rng.random(p.shape, dtype=np.float32) < p).astype("float32")


# ----------------------------------------------------------------------------- toy data

def _mixture(means, stds, weights):
    """A mixture's (means (k, d), stds (k, d), weights (k,) summing to one), checked once for both
    :func:`gaussian_mixture` and :func:`gaussian_mixture_density`."""
    means = np.asarray(means, dtype="float64")
    if means.ndim == 1:
        means = means[:, None]
    k, d = means.shape
    raw = np.asarray(stds, dtype="float64")
    try:
        stds = np.broadcast_to(raw.reshape(-1, 1) if raw.ndim == 1 else raw, (k, d))
    except ValueError:
        raise ValueError(f"stds must be one number, {k} numbers or a ({k}, {d}) array for {k} "
                         f"components of dimension {d}; received shape {raw.shape}") from None
    if not np.all(np.isfinite(stds) & (stds > 0)):
        raise ValueError(f"stds must be positive and finite; received {stds.tolist()!r}")
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype="float64")
    if w.shape != (k,) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"weights must be {k} non-negative numbers, not all zero; received {weights!r}")
    return means, stds, w / w.sum()


def gaussian_mixture(n: int, means: ArrayLike, stds: ArrayLike, weights: ArrayLike | None = None,
                     seed: int = 0) -> np.ndarray:
    """Sample ``n`` points from a mixture of Gaussians (1-D or D-D), seeded.

    Args:
        means: (k,) for 1-D or (k, d) component means.
        stds: scalar, (k,) or (k, d) standard deviations (diagonal covariances).
        weights: (k,) mixture weights (default equal); normalised to sum to one.
    Returns:
        float32 array of shape (n, d) (d = 1 for 1-D means).
    """
    means, stds, w = _mixture(means, stds, weights)
    n_components, d = means.shape
    rng = np.random.default_rng(seed)
    comp = rng.choice(n_components, size=n, p=w)
    return (means[comp] + stds[comp] * rng.standard_normal((n, d))).astype("float32")


def gaussian_mixture_density(x: ArrayLike, means: ArrayLike, stds: ArrayLike,
                             weights: ArrayLike | None = None) -> np.ndarray:
    """Density of the 1-D or D-D diagonal Gaussian mixture at points ``x`` (shape (n,) or (n,d))."""
    means, stds, w = _mixture(means, stds, weights)
    x = np.asarray(x, dtype="float64").reshape(-1, means.shape[1])
    z = (x[:, None, :] - means[None]) / stds[None]
    comp = np.exp(-0.5 * (z ** 2).sum(-1)) / np.prod(np.sqrt(2 * np.pi) * stds, axis=-1)[None]
    return comp @ w


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The classic mode-collapse benchmark: ``modes`` Gaussians evenly spaced on a circle.

    Returns ``(points, means)``: float32 (n, 2) samples and the (modes, 2) centres.
    """
    angles = 2 * np.pi * np.arange(modes) / modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return gaussian_mixture(n, means, std, seed=seed), means.astype("float32")


def check_pixel_values(x: ArrayLike, who: str, images: bool = True) -> None:
    """Raise a ValueError unless the float array ``x`` is finite and, if ``images``, in [0, 1].

    Checked once, on the host, before training starts: images in [0, 255] or with NaN pixels
    would otherwise train without an error and give a model that draws nothing. Data that are
    not images (``images=False``, e.g. the 2-D points of chapter 6) are only checked for NaN.
    """
    x = np.asarray(x)
    if x.dtype == np.uint8 or x.size == 0:
        return
    finite = np.isfinite(x)
    if not finite.all():
        raise ValueError(f"{who} expects finite values; received {int((~finite).sum()):,} NaN or "
                         f"infinite values among {x.size:,}.")
    if not images:
        return
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        hint = " (pixels in [0, 255]? gvutil.data.to_float_images scales them)" if 1.0 < high <= 255.0 else ""
        raise ValueError(f"{who} expects float images with values in [0, 1]; received values in "
                         f"[{low:g}, {high:g}]{hint}.")


def check_labels(labels: Any, n: int | None = None, name: str = "labels", num_classes: int = 10) -> np.ndarray:
    """``labels`` as an int32 array of shape (n,), or a ValueError naming ``name``: whole numbers in
    0..num_classes-1 (the digits), one per image."""
    y = np.asarray(labels)
    if y.ndim != 1 or (n is not None and len(y) != n):
        want = "(n,)" if n is None else f"({n},)"
        raise ValueError(f"{name} must be one class per image, shape {want}; received shape {y.shape}")
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not np.all(y == np.round(y))):
        raise ValueError(f"{name} must be whole numbers 0-{num_classes - 1}; received dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() > num_classes - 1):
        raise ValueError(f"{name} must be in 0-{num_classes - 1}; received values from {y.min()} to {y.max()}")
    return y.astype("int32")


def check_images(x: Any, image_shape: Sequence[int], who: str) -> None:
    """Raise a ValueError unless ``x`` (an array, tensor or tensor spec) is a float batch of images
    of ``image_shape``."""
    shape = x.shape
    shape = () if getattr(shape, "rank", 0) is None else tuple(shape)  # TensorShape of unknown rank
    expected = (None,) + tuple(image_shape)
    if len(shape) != len(expected) or tuple(shape[1:]) != tuple(image_shape):
        raise ValueError(f"{who} expects images of shape {expected}; received {shape}.")
    dtype = str(getattr(x.dtype, "name", x.dtype))
    if "float" not in dtype:
        raise ValueError(f"{who} expects float images with values in [0, 1]; received dtype {dtype} "
                         "(convert uint8 pixels with gvutil.data.to_float_images(x)).")


def check_fit_data(x: Any, image_shape: Sequence[int], who: str) -> None:
    """:func:`check_images` (and, for a NumPy array, :func:`check_pixel_values`) on what ``fit`` gets:
    an array, a gvutil dataset (its images) or a ``tf.data.Dataset`` (its element spec)."""
    if hasattr(x, "set_epoch") and hasattr(x, "x"):  # train.dataset / BinarizedImages: batches are
        if tuple(x.x.shape[1:]) != tuple(image_shape):  # floats in [0, 1] whatever x.x holds
            raise ValueError(f"{who} expects images of shape {(None,) + tuple(image_shape)}; "
                             f"received {tuple(x.x.shape)}.")
        return
    if hasattr(x, "element_spec"):  # tf.data.Dataset
        x = x.element_spec[0] if isinstance(x.element_spec, tuple) else x.element_spec
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        check_images(x, image_shape, who)
        if isinstance(x, np.ndarray):
            check_pixel_values(x, who, images=len(image_shape) == 3)
