"""Training conveniences: run profiles, input pipelines, callbacks, speed switches, data parallelism.

A chapter trains like this (stored outputs stay stable: one rounded line per epoch)::

    from gvutil import data, models, train
    (x, _), _ = data.load_mnist()             # uint8 (n, 28, 28); dataset() scales to [0, 1]
    gan = models.make_gan("mlp", seed=0)
    data = train.dataset(x, batch_size=128, seed=0)
    gan.fit(data, epochs=train.pick(cpu=2, full=50), verbose=0,
            callbacks=train.callbacks(samples=True, checkpoint="ckpt/gan"))
"""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np
import keras

from gvutil import data

__all__ = [
    "PROFILES", "accelerator", "profile", "pick", "set_precision", "compile_defaults",
    "dataset", "BinarizedImages", "resumable", "SampleGrid", "EpochLog", "StopOnNaN", "StopAfter", "ProgressBar",
    "callbacks",
    "data_parallel", "split_cpu",
]

PROFILES = ("cpu", "full", "tiny")
# The "tiny" profile runs the full profile's code (its branches, its settings) with every integer
# that `pick` returns divided by this, so that a test on a CPU executes what a GPU user runs.
TINY_DIVISOR = 100


# --------------------------------------------------------------------------- devices, profiles
def accelerator() -> str:
    """"gpu", "tpu" or "cpu": the kind of device the current Keras backend computes on."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        platform = jax.default_backend()
        return "gpu" if platform in ("gpu", "cuda", "rocm") else ("tpu" if platform == "tpu" else "cpu")
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("TPU"):
            return "tpu"
        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


def profile() -> str:
    """The run profile: ``$GVUTIL_PROFILE`` if set, else "full" on a GPU/TPU and "cpu" elsewhere.

    "cpu" is what CI and the website run (few epochs); "full" is the same code trained longer;
    "tiny" is the full profile's code at sizes divided by ``TINY_DIVISOR`` (see :func:`pick`), for
    tests that must execute, on a CPU, every line a GPU user runs.
    """
    value = os.environ.get("GVUTIL_PROFILE", "").strip().lower()
    if value:
        if value not in PROFILES:
            raise ValueError(f"GVUTIL_PROFILE must be one of {PROFILES}; received {value!r}")
        return value
    return "cpu" if accelerator() == "cpu" else "full"


def _shrink(value):
    if isinstance(value, tuple):
        return tuple(_shrink(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(1, value // TINY_DIVISOR)
    return value


def pick(cpu, full):
    """``cpu`` under the "cpu" profile, ``full`` under "full" (e.g. ``epochs=pick(cpu=2, full=50)``).

    Under "tiny" it is ``full`` with each integer (also inside a tuple) divided by
    ``TINY_DIVISOR``, at least 1; other values (learning rates, strings) are ``full`` unchanged.
    """
    mode = profile()
    if mode == "cpu":
        return cpu
    return _shrink(full) if mode == "tiny" else full


def _gpu_compute_capability():
    """(major, minor) of the first GPU, or None when unknown."""
    try:
        if keras.backend.backend() == "jax":
            import jax

            cc = getattr(jax.devices()[0], "compute_capability", None)
            return tuple(int(p) for p in str(cc).split(".")[:2]) if cc else None
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            gpu = tf.config.list_physical_devices("GPU")[0]
            return tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability"))
    except Exception:  # pragma: no cover - best effort on unusual devices
        return None
    return None


def set_precision(precision: str = "auto") -> str:
    """Set Keras' global dtype policy before building models; returns the policy name.

    "auto": ``mixed_bfloat16`` on a TPU or a GPU with bfloat16 tensor cores (compute
    capability >= 8, e.g. A100/H100/L4), ``mixed_float16`` on older GPUs (e.g. Colab's T4;
    the models then scale their losses), ``float32`` on a CPU (exact and deterministic).
    Any Keras policy name is accepted as is.
    """
    if precision == "auto":
        device = accelerator()
        if device == "tpu":
            precision = "mixed_bfloat16"
        elif device == "gpu":
            cc = _gpu_compute_capability()
            precision = "mixed_float16" if cc is not None and cc < (8, 0) else "mixed_bfloat16"
        else:
            precision = "float32"
    keras.config.set_dtype_policy(precision)
    return keras.config.dtype_policy().name


def compile_defaults() -> dict:
    """Compile settings the builders use.

    XLA where Keras enables it (``jit_compile="auto"``: on for JAX, and for TensorFlow on a
    GPU); 8 steps per ``fit`` dispatch on a JAX accelerator (fewer Python callbacks between
    jitted steps). Measured on this project's CPU, TensorFlow ran slower with
    ``steps_per_execution=8`` (15k vs 25k images/s, MLP VAE), so it stays 1 there and on CPUs.
    """
    many = keras.backend.backend() == "jax" and accelerator() != "cpu"
    return {"jit_compile": "auto", "steps_per_execution": 8 if many else 1}


# --------------------------------------------------------------------------- input pipeline
class _ArrayBatches(keras.utils.PyDataset):
    """Shuffled batches of an in-memory array; the order of epoch e depends only on (seed, e)."""

    def __init__(self, x, batch_size, shuffle, seed, drop_remainder, on_device=False):
        super().__init__()
        self.x, self.batch_size, self.shuffle, self.seed = x, batch_size, shuffle, seed
        self.on_device = on_device
        if on_device:  # JAX: keep the images on the accelerator; no host copy per step
            import jax

            self._x_device = jax.device_put(x)
            self._epoch_images = jax.jit(lambda images, perm: _to_float(images[perm]))
        n = len(x)
        self._len = n // batch_size if drop_remainder else math.ceil(n / batch_size)
        self.epoch = 0  # the epoch whose order __getitem__ serves
        self._next_epoch = 0
        self._saw_begin = False  # does this Keras call PyDataset.on_epoch_begin?
        self._served = False  # a batch was served since the last epoch end
        self._perm_epoch = None

    def __len__(self):
        return self._len

    def set_epoch(self, epoch):
        """Serve epoch ``epoch``'s order next (called by ``resumable`` at each epoch start)."""
        self.epoch = self._next_epoch = int(epoch)

    def on_epoch_begin(self):
        self._saw_begin = True
        self.epoch = self._next_epoch
        self._next_epoch += 1

    def on_epoch_end(self):
        if not self._saw_begin and self._served:  # Keras without PyDataset.on_epoch_begin
            self.epoch = self._next_epoch = self.epoch + 1
        self._served = False

    def _order(self):
        if self._perm_epoch != self.epoch:
            n = len(self.x)
            rng = np.random.default_rng([self.seed, self.epoch])
            self._perm = rng.permutation(n) if self.shuffle else np.arange(n)
            if self.on_device:  # the whole epoch, permuted and scaled, in one device call
                self._device_epoch = self._epoch_images(self._x_device, self._perm)
            self._perm_epoch = self.epoch
        return self._perm

    def __getitem__(self, i):
        self._served = True
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        order = self._order()
        if self.on_device:
            return (self._device_epoch[rows],)
        return _to_float(self.x[order[rows]])


_INV_255 = np.float32(1.0 / 255.0)  # multiply (not divide) so NumPy and XLA agree bit for bit


def _to_float(batch):
    if batch.dtype == np.uint8:
        return batch.astype("float32") * _INV_255
    return batch.astype("float32")


def dataset(x, batch_size: int = 128, *, shuffle: bool = True, seed: int = 0,
            drop_remainder: bool = True, on_device=None):
    """Batches of images for ``fit()``: shuffled with a seed, the partial last batch dropped.

    ``x``: images, float in [0, 1] or uint8 (scaled to [0, 1] batch by batch); ``(n, h, w)``
    gets a channel axis, so ``load_mnist()`` arrays can be passed as they are. Epoch ``e``
    visits the images in an order that depends only on ``(seed, e)``, so a resumed run sees
    the same batches as an uninterrupted one. Dropping the last partial batch keeps every
    step the same shape (on JAX a different shape means a fresh XLA compile).

    Returns a ``tf.data.Dataset`` (prefetched) on TensorFlow, else a ``keras.utils.PyDataset``.
    On JAX with an accelerator (or ``on_device=True``) the images stay on the device and each
    epoch is permuted there, so no step waits for a host-to-device copy. Both kinds have
    ``set_epoch(e)``, which ``GAN.fit``/``VAE.fit`` call at each epoch start (they
    also default to ``shuffle=False`` for it). Other Keras models can use it with
    ``fit(..., shuffle=False)``; the epoch then advances by itself, once per pass.
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
    if keras.backend.backend() != "tensorflow":
        if on_device is None:
            on_device = keras.backend.backend() == "jax" and accelerator() != "cpu"
        return _ArrayBatches(x, batch_size, shuffle, seed, drop_remainder, bool(on_device))

    import tensorflow as tf

    n = len(x)
    with tf.init_scope(), tf.device("/cpu:0"):
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="gvutil_dataset_epoch")
        images = tf.constant(x)

    def epoch_indices(_):
        e = epoch.assign_add(1) - 1  # read the epoch, advance the counter for the next pass
        if shuffle:
            keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(seed, tf.int64), e]))
            order = tf.argsort(keys)
        else:
            order = tf.range(n)
        return tf.data.Dataset.from_tensor_slices(order)

    def gather(idx):
        batch = tf.gather(images, idx)
        return tf.cast(batch, tf.float32) * _INV_255 if x.dtype == np.uint8 else batch

    steps = n // batch_size if drop_remainder else math.ceil(n / batch_size)
    ds = (tf.data.Dataset.from_tensors(0).flat_map(epoch_indices)
          .batch(batch_size, drop_remainder=drop_remainder)
          .map(gather)  # one gather per batch: no parallel map needed
          .apply(tf.data.experimental.assert_cardinality(steps))
          .prefetch(tf.data.AUTOTUNE))
    ds.set_epoch = lambda e: epoch.assign(int(e))
    ds._gvutil_epoch = epoch  # keeps the variable alive with the dataset
    return ds


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
def resumable(directory, save_freq="epoch"):
    """A callback that makes ``fit()`` resumable: an interrupted run loses at most one epoch.

    ``keras.callbacks.BackupAndRestore`` backs up weights, optimizer states (both of a GAN's)
    and the epoch number to ``directory`` after every epoch; the gvutil models add their
    random-generator states. Calling ``fit()`` again with the same arguments (in a new
    process too) continues from the last backup, which is deleted when training ends.
    With a ``dataset()`` as data, whose order depends on (seed, epoch) only, a resumed run
    on a CPU ends with exactly the weights of an uninterrupted one.
    """
    return keras.callbacks.BackupAndRestore(str(directory), save_freq=save_freq)


def _in_ipython():
    try:
        from IPython import get_ipython

        return get_ipython() is not None
    except ImportError:  # pragma: no cover
        return False


class SampleGrid(keras.callbacks.Callback):
    """Every ``every`` epochs, draw ``n`` images with a fixed seed and store (and show) a grid.

    The same seed every time means the same noise, so successive frames show the same
    samples changing. Works with ``GAN`` (``generate``) and ``VAE`` (``sample``).
    Attributes: ``frames`` (list of (epoch, images)), ``figures`` (list of figures).

    Args:
        every: epochs between grids (the last epoch is always drawn).
        n, ncols, size: number of images, images per row, inches per image.
        seed: noise seed.
        show: display each grid when running in IPython/Jupyter.
        directory: if given, also save ``epoch_XXX.png`` there.
    """

    def __init__(self, every=1, n=16, ncols=8, seed=0, size=0.6, show=True, directory=None):
        super().__init__()
        self.every, self.n, self.ncols, self.seed, self.size = every, n, ncols, seed, size
        self.show, self.directory = show, directory
        self.frames, self.figures = [], []

    def draw(self):
        """The current ``n`` images for the fixed seed."""
        model = self.model
        if hasattr(model, "generate"):
            return model.generate(self.n, seed=self.seed)
        if hasattr(model, "sample"):
            return model.sample(self.n, seed=self.seed)
        raise TypeError("SampleGrid needs a model with generate(n, seed) or sample(n, seed)")

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 == self.params.get("epochs")
        if (epoch + 1) % self.every and not last:
            return
        from gvutil.plot import image_grid

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


class EpochLog(keras.callbacks.Callback):
    """Print one line per epoch of rounded metrics, e.g. ``epoch 3/10  d_loss 0.612  g_loss 1.234``.

    Meant for ``fit(..., verbose=0)`` in notebooks whose outputs are committed: no timings,
    fixed decimals. ``keys`` selects and orders metrics (default: all, as logged).
    """

    def __init__(self, every=1, digits=3, keys=None):
        super().__init__()
        self.every, self.digits, self.keys = every, digits, keys

    def on_epoch_end(self, epoch, logs=None):
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

    def __init__(self, raise_error=False, check_batches=False):
        super().__init__()
        self.raise_error, self.check_batches = raise_error, check_batches
        self.message, self.stopped_epoch = None, None
        self._epoch = 0
        # Keras waits for every step's results before calling a callback's on_train_batch_end,
        # unless the callback says it is safe to call it later (async_safe): without the
        # per-batch check there is nothing to wait for.
        self.async_safe = not check_batches

    def on_epoch_begin(self, epoch, logs=None):
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

    def on_train_batch_end(self, batch, logs=None):
        if self.check_batches and self.message is None:
            self._check(logs, f", batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
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

    def __init__(self, steps):
        super().__init__()
        if int(steps) != steps or steps < 1:
            raise ValueError(f"steps must be a positive integer; received {steps!r}")
        self.steps = int(steps)
        self.steps_done = 0
        self._before_epoch = 0

    def on_train_begin(self, logs=None):
        self.steps_done = self._before_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._before_epoch = self.steps_done

    def on_train_batch_begin(self, batch, logs=None):
        # batch: the index in the epoch of the first step this call runs; it runs
        # steps_per_execution steps (fewer at the end of an epoch, which fit does not run past).
        per_call = int(getattr(self.model, "steps_per_execution", 1) or 1)
        self.steps_done = self._before_epoch + batch + per_call
        if self.steps_done >= self.steps:
            self.model.stop_training = True  # checked by fit after this step

    def on_epoch_end(self, epoch, logs=None):
        self.steps_done = min(self.steps_done, self._before_epoch + self._epoch_steps())

    def _epoch_steps(self):
        steps = self.params.get("steps") if self.params else None
        return steps if steps else self.steps_done - self._before_epoch


class ProgressBar(keras.callbacks.Callback):
    """A live progress bar (``tqdm.auto``: a widget in Jupyter, text elsewhere), removed at the end.

    Its text includes timings, so keep it out of notebooks whose outputs are committed
    (``callbacks(progress=False)``, the default); use it interactively.
    """

    def __init__(self, leave=False):
        super().__init__()
        self.leave = leave
        self._bar = None

    def on_train_begin(self, logs=None):
        from tqdm.auto import tqdm

        steps = self.params.get("steps") or 0
        self._bar = tqdm(total=steps * self.params.get("epochs", 1), leave=self.leave, unit="step")

    def on_train_batch_end(self, batch, logs=None):
        self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        self._bar.set_description(f"epoch {epoch + 1}/{self.params.get('epochs')}")
        self._bar.set_postfix({k: f"{float(v):.3f}" for k, v in (logs or {}).items()}, refresh=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()


def callbacks(log=True, nan=True, samples=False, checkpoint=None, progress=False, every=1):
    """The usual list: ``EpochLog``, ``StopOnNaN``, optionally ``SampleGrid`` (``samples=True``
    or a SampleGrid), ``resumable(checkpoint)`` and ``ProgressBar``."""
    out = []
    if checkpoint is not None:
        out.append(resumable(checkpoint))
    if nan:
        out.append(StopOnNaN())
    if log:
        out.append(EpochLog(every=every))
    if samples:
        out.append(samples if isinstance(samples, keras.callbacks.Callback) else SampleGrid(every=every))
    if progress:
        out.append(ProgressBar())
    return out


# --------------------------------------------------------------------------- data parallelism
def split_cpu(n: int = 2) -> int:
    """Expose the host CPU as ``n`` devices, to try data parallelism without GPUs.

    Must run before the backend starts computing (in a fresh process, before any model
    is built). Returns the number of CPU devices now visible.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        flag = f"--xla_force_host_platform_device_count={n}"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
        try:
            jax.config.update("jax_num_cpu_devices", n)
        except Exception:  # older JAX reads XLA_FLAGS only; newer one refuses after start-up
            pass
        count = len(jax.devices("cpu"))
    elif backend == "tensorflow":
        import tensorflow as tf

        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
        except RuntimeError as e:
            raise RuntimeError("split_cpu() must run before TensorFlow starts computing "
                               "(call it first thing in a fresh process)") from e
        count = len(tf.config.list_logical_devices("CPU"))
    else:
        raise NotImplementedError("split_cpu supports the jax and tensorflow backends")
    if count != n:
        raise RuntimeError(f"asked for {n} CPU devices but {count} are visible; call split_cpu() "
                           "before the backend starts (fresh process, before building models)")
    return count


@contextlib.contextmanager
def data_parallel(devices=None):
    """Context for data-parallel training: build, compile and ``fit`` inside it.

    The model is replicated on every device and each batch is split between them
    (``keras.distribution.DataParallel`` on JAX, ``tf.distribute.MirroredStrategy`` on
    TensorFlow). ``devices`` defaults to all GPUs (or all CPU devices if there is no GPU).
    The batch size must be a multiple of the number of devices. Yields the
    distribution/strategy object.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        devices = devices or keras.distribution.list_devices()
        distribution = keras.distribution.DataParallel(devices=devices)
        with distribution.scope():
            yield distribution
    elif backend == "tensorflow":
        import tensorflow as tf

        if devices is None:
            devices = [d.name for d in tf.config.list_logical_devices("GPU")]
            devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        with strategy.scope():
            yield strategy
    else:
        raise NotImplementedError("data_parallel supports the jax and tensorflow backends")
