"""Training conveniences: input pipelines and callbacks (profiles, devices and data parallelism,
from :mod:`gvutil.config`, are re-exported here).

A chapter trains like this (stored outputs stay stable: one rounded line per epoch)::

    from gvutil import data, models, train
    (x, _), _ = data.load_mnist()             # uint8 (n, 28, 28); dataset() scales to [0, 1]
    gan = models.make_gan("mlp", seed=0)
    data = train.dataset(x, batch_size=128, seed=0)
    gan.fit(data, epochs=train.pick(cpu=2, full=50), verbose=0,
            callbacks=train.callbacks(samples=True, checkpoint="ckpt/gan"))
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import keras

from gvutil import data
from gvutil.data import scale_pixels
from gvutil.config import (PROFILES, TINY_DIVISOR, accelerator, compile_defaults,  # noqa: F401
                            data_parallel, pick, profile, set_precision, split_cpu)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from os import PathLike
    from typing import Any

    from numpy.typing import ArrayLike

__all__ = [
    "PROFILES", "accelerator", "profile", "pick", "set_precision", "compile_defaults",
    "dataset", "ImageBatches", "BinarizedImages", "DataEpoch", "resumable", "EpochLog", "StopOnNaN", "StopAfter", "callbacks",
    "data_parallel", "split_cpu",
]

# --------------------------------------------------------------------------- input pipeline
class ImageBatches(keras.utils.PyDataset):
    """Shuffled batches of an in-memory image array, scaled to [0, 1]; the order of epoch e depends
    only on (seed, e). What :func:`dataset` returns, on every backend (see there)."""

    def __init__(self, x: np.ndarray, batch_size: int, shuffle: bool, seed: int, drop_remainder: bool,
                 on_device: bool = False, labels: np.ndarray | None = None) -> None:
        super().__init__()
        self.x, self.batch_size, self.shuffle, self.seed = x, batch_size, shuffle, seed
        self.labels = labels  # int32 (n,), served with the images when given
        self.on_device = on_device
        n = len(x)
        self._len = n // batch_size if drop_remainder else math.ceil(n / batch_size)
        if on_device:  # JAX: keep the images on the accelerator; no host copy per step
            import jax
            import jax.numpy as jnp

            self._x_device = jax.device_put(x)
            # One device call per epoch permutes, scales and cuts the epoch into its batches: a step
            # then only picks a ready array (indexing a device array costs ~0.4 ms of Python per call,
            # more than a small model's whole step on a GPU).
            cuts = [batch_size * k for k in range(1, self._len)]
            used = min(n, batch_size * self._len)
            self._epoch_batches = jax.jit(
                lambda images, perm: jnp.split(scale_pixels(images[perm[:used]]), cuts))
        self.epoch = 0  # the epoch whose order __getitem__ serves
        self._next_epoch = 0
        self._saw_begin = False  # does this Keras call PyDataset.on_epoch_begin?
        self._served = False  # a batch was served since the last epoch end
        self._perm_epoch = None

    def __len__(self):
        return self._len

    def set_epoch(self, epoch: int) -> None:
        """Serve epoch ``epoch``'s order next (called by ``resumable`` at each epoch start)."""
        self.epoch = self._next_epoch = int(epoch)

    def on_epoch_begin(self) -> None:
        self._saw_begin = True
        self.epoch = self._next_epoch
        self._next_epoch += 1

    def on_epoch_end(self) -> None:
        if not self._saw_begin and self._served:  # Keras without PyDataset.on_epoch_begin
            self.epoch = self._next_epoch = self.epoch + 1
        self._served = False

    def _order(self):
        if self._perm_epoch != self.epoch:
            n = len(self.x)
            rng = np.random.default_rng([self.seed, self.epoch])
            self._perm = rng.permutation(n) if self.shuffle else np.arange(n)
            if self.on_device:  # the whole epoch, permuted, scaled and batched, in one device call
                self._device_batches = self._epoch_batches(self._x_device, self._perm)
            self._perm_epoch = self.epoch
        return self._perm

    def __getitem__(self, i):
        if not 0 <= i < len(self):  # ends a plain `for batch in data` (Keras 3.8's PyDataset has no __iter__)
            raise IndexError(f"batch {i} of {len(self)}")
        self._served = True
        order = self._order()
        rows = order[i * self.batch_size:(i + 1) * self.batch_size]
        images = self._device_batches[i] if self.on_device else scale_pixels(self.x[rows])
        if self.labels is not None:
            return images, self.labels[rows]
        return (images,) if self.on_device else images


def dataset(x: ArrayLike, batch_size: int = 128, *, shuffle: bool = True, seed: int = 0,
            drop_remainder: bool = True, on_device: bool | None = None,
            labels: ArrayLike | None = None) -> ImageBatches:
    """Batches of images for ``fit()``: shuffled with a seed, the partial last batch dropped.
    With ``labels`` (digits 0-9, one per image, for a conditional GAN) each batch is the pair
    ``(images, labels)``, the labels int32.

    ``x``: images, float in [0, 1] or uint8 (scaled to [0, 1] batch by batch); ``(n, h, w)``
    gets a channel axis, so ``load_mnist()`` arrays can be passed as they are. Epoch ``e``
    visits the images in an order that depends only on ``(seed, e)`` (NumPy's generator, the same
    on every backend), so a resumed run sees the same batches as an uninterrupted one. Dropping the
    last partial batch keeps every step the same shape (on JAX a different shape means a fresh XLA
    compile).

    One kind of object on every backend, an :class:`ImageBatches` (a ``keras.utils.PyDataset``): a
    ``tf.data`` pipeline trained the book's GANs no faster on this project's CPU (1.02x and 0.95x,
    ``benchmarks/pipelines.py``). On JAX with an accelerator (or ``on_device=True``) the images stay
    on the device and each epoch is permuted and cut into batches there in one call, so no step waits
    for a host-to-device copy (1.6x on a GPU, ``benchmarks/README.md``). ``set_epoch(e)`` is called by
    ``GAN.fit``/``VAE.fit`` at each epoch start (``train.DataEpoch``), which also default to
    ``shuffle=False``; other Keras models can use it with ``fit(..., shuffle=False)``, and the epoch
    then advances by itself, once per pass.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; received {batch_size!r}")
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype != np.uint8:
        x = x.astype("float32", copy=False)
        data.check_pixel_values(x, "train.dataset")
    if batch_size > len(x) and drop_remainder:
        raise ValueError(f"batch_size={batch_size} is larger than the {len(x)} images")
    if labels is not None:
        labels = data.check_labels(labels, len(x), "labels")
    if on_device is None:
        on_device = keras.backend.backend() == "jax" and accelerator() != "cpu"
    if on_device and keras.backend.backend() != "jax":
        raise ValueError("on_device=True keeps the batches on a JAX device; this is the "
                         f"{keras.backend.backend()} backend")
    return ImageBatches(x, batch_size, shuffle, seed, drop_remainder, bool(on_device), labels)


class BinarizedImages(keras.utils.PyDataset):
    """Dynamically binarised image batches for a VAE with a Bernoulli likelihood (section 4.3).

    Shuffled batches of ``images`` (uint8, or float in [0, 1]; ``(n, 28, 28)`` gets a channel
    axis) whose pixels are drawn anew in every epoch: each becomes 1 with probability equal to its
    intensity. Epoch ``e`` visits the images in an order that depends only on ``(seed, e)``, and the
    bits of batch ``i`` depend only on ``(seed, e, i)``, so a rerun sees the same batches. The
    gvutil models' ``fit`` calls ``set_epoch`` at the start of every epoch. The partial last batch
    is dropped. Batches are 1-tuples ``(x,)``.

    The code is the class that section 4.3 writes and explains; ``tests/test_train.py`` checks that
    the two stay the same.
    """

    def __init__(self, images, batch_size=128, seed=0):
        super().__init__()
        self.x = data.to_float_images(images)  # (n, 28, 28, 1) in [0, 1]
        self.batch_size, self.seed = batch_size, seed
        self.set_epoch(0)

    def set_epoch(self, epoch):
        self.epoch = int(epoch)
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))

    def __len__(self):
        return len(self.x) // self.batch_size  # drop the partial last batch

    def __getitem__(self, i):
        rows = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return (data.binarize(self.x[rows], seed=[self.seed, self.epoch, i]),)


# --------------------------------------------------------------------------- callbacks
class DataEpoch(keras.callbacks.Callback):
    """Tell data with ``set_epoch`` (``dataset()``, ``BinarizedImages``) which epoch starts, so it
    serves that epoch's order, also after a resume. ``GAN.fit``/``VAE.fit`` add it by themselves."""

    def __init__(self, data: Any) -> None:
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.data.set_epoch(epoch)


def resumable(directory: str | PathLike[str],
              save_freq: str | int = "epoch") -> keras.callbacks.BackupAndRestore:
    """A callback that makes ``fit()`` resumable: an interrupted run loses at most one epoch.

    ``keras.callbacks.BackupAndRestore`` backs up weights, optimizer states (both of a GAN's)
    and the epoch number to ``directory`` after every epoch; the gvutil models add their
    random-generator states. Calling ``fit()`` again with the same arguments (in a new
    process too) continues from the last backup, which is deleted when training ends.
    With a ``dataset()`` as data, whose order depends on (seed, epoch) only, a resumed run
    on a CPU ends with exactly the weights of an uninterrupted one.
    """
    return keras.callbacks.BackupAndRestore(str(directory), save_freq=save_freq)


class EpochLog(keras.callbacks.Callback):
    """Print one line per epoch of rounded metrics, e.g. ``epoch 3/10  d_loss 0.612  g_loss 1.234``.

    Meant for ``fit(..., verbose=0)`` in notebooks whose outputs are committed: no timings,
    fixed decimals. ``keys`` selects and orders metrics (default: all, as logged).
    """

    def __init__(self, every: int = 1, digits: int = 3, keys: Sequence[str] | None = None) -> None:
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"EpochLog: every must be a positive whole number of epochs; "
                             f"received every={every!r}")
        self.every, self.digits, self.keys = every, digits, keys

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        total = self.params.get("epochs")
        if (epoch + 1) % self.every and epoch + 1 != total:
            return
        logs = logs or {}
        keys = self.keys
        if keys is None:  # the model's own metric order first (fit sorts them on some backends)
            names = [m.name for m in getattr(self.model, "metrics", [])]
            keys = [k for k in names if k in logs] + [k for k in logs if k not in names]
        parts = [f"epoch {epoch + 1}/{total}"]
        parts += [f"{k} {float(logs[k]):.{self.digits}f}" for k in keys if k in logs]
        print("  ".join(parts), flush=True)


class StopOnNaN(keras.callbacks.Callback):
    """Stop training when a logged metric becomes NaN or infinite, naming metric and epoch.

    It prints e.g. ``Training stopped: d_loss is nan at epoch 3.`` and sets
    ``model.stop_training``; with ``raise_error=True`` it raises ``FloatingPointError`` instead.
    Epoch means are checked (a NaN in any batch makes the mean NaN); ``check_batches=True``
    also checks every batch (slower: it waits for each step's results).
    Attributes after a stop: ``message``, ``stopped_epoch`` (1-based).
    """

    def __init__(self, raise_error: bool = False, check_batches: bool = False) -> None:
        super().__init__()
        self.raise_error, self.check_batches = raise_error, check_batches
        self.message, self.stopped_epoch = None, None
        self._epoch = 0
        # Keras waits for every step's results before calling a callback's on_train_batch_end,
        # unless the callback says it is safe to call it later (async_safe): without the
        # per-batch check there is nothing to wait for.
        self.async_safe = not check_batches

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def _check(self, logs, where):
        for key, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                self.message = f"Training stopped: {key} is {value} at epoch {self._epoch + 1}{where}."
                self.stopped_epoch = self._epoch + 1
                self.model.stop_training = True
                if self.raise_error:
                    raise FloatingPointError(self.message)
                print(self.message, flush=True)
                return True
        return False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.check_batches and self.message is None:
            self._check(logs, f", batch {batch + 1}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.message is None:
            self._epoch = epoch
            self._check(logs, "")


class StopAfter(keras.callbacks.Callback):
    """Stop ``fit()`` after ``steps`` training steps in all, mid-epoch if need be.

    A step budget compares models fairly when their epochs differ in length (other data,
    other batch sizes): ``fit(data, epochs=math.ceil(steps / len(data)), callbacks=[StopAfter(steps)])``.
    Attribute ``steps_done`` counts the steps run so far. With ``steps_per_execution=k`` Keras
    runs k steps per call, so the run stops at the first multiple of k at or after ``steps``.

    It counts at the *start* of each step and asks Keras to stop after the step that reaches the
    budget: a callback with ``on_train_batch_end`` makes Keras wait for every step's results before
    starting the next (no asynchronous dispatch), which costs a few per cent of a CPU run.
    """

    def __init__(self, steps: int) -> None:
        super().__init__()
        if int(steps) != steps or steps < 1:
            raise ValueError(f"steps must be a positive integer; received {steps!r}")
        self.steps = int(steps)
        self.steps_done = 0
        self._before_epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.steps_done = self._before_epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._before_epoch = self.steps_done

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        # batch: the index in the epoch of the first step this call runs; it runs
        # steps_per_execution steps (fewer at the end of an epoch, which fit does not run past).
        per_call = int(getattr(self.model, "steps_per_execution", 1) or 1)
        self.steps_done = self._before_epoch + batch + per_call
        if self.steps_done >= self.steps:
            self.model.stop_training = True  # checked by fit after this step

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.steps_done = min(self.steps_done, self._before_epoch + self._epoch_steps())

    def _epoch_steps(self):
        steps = self.params.get("steps") if self.params else None
        return steps if steps else self.steps_done - self._before_epoch


def callbacks(log: bool = True, nan: bool = True, samples: bool | keras.callbacks.Callback = False,
              checkpoint: str | PathLike[str] | None = None, progress: bool = False,
              every: int = 1) -> list[keras.callbacks.Callback]:
    """The usual list: ``EpochLog``, ``StopOnNaN``, optionally a ``gvutil.plot.SampleGrid``
    (``samples=True`` or a SampleGrid), ``resumable(checkpoint)`` and a progress bar
    (``progress=True``: ``tqdm.keras.TqdmCallback``, one bar over the epochs with the logged
    metrics; a widget in Jupyter). The bar shows timings: leave it out of notebooks whose
    outputs are committed."""
    out = []
    if checkpoint is not None:
        out.append(resumable(checkpoint))
    if nan:
        out.append(StopOnNaN())
    if log:
        out.append(EpochLog(every=every))
    if samples:
        if not isinstance(samples, keras.callbacks.Callback):
            from gvutil.plot import SampleGrid  # a view: train never imports plotting otherwise

            samples = SampleGrid(every=every)
        out.append(samples)
    if progress:
        from tqdm.keras import TqdmCallback

        out.append(TqdmCallback(verbose=0, leave=False))
    return out
