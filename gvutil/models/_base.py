"""What the GAN and the VAE share: input checks, seeded noise, RNG-state saving, fit plumbing.

:class:`ImageModel` is the base of both: a ``keras.Model`` built from named sub-models
(``_parts``), trained on float images of ``image_shape`` by ``fit(x)``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import ops

from gvutil.data import check_pixel_values

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    from keras.callbacks import Callback, CallbackList

    Tensor = Any  # a NumPy array or a backend tensor (tf.Tensor, jax.Array)
    Callbacks = Sequence[Callback] | CallbackList | None


def _seed_states(model):
    """Every SeedGenerator state variable under ``model`` (its own and its layers', e.g. Dropout)."""
    return [v for v in model.non_trainable_variables if v.name == "seed_generator_state"]


def _save_rng(model, store):
    # Keras does not save SeedGenerator states; without them a resumed run would replay the
    # noise (and dropout masks) of its first epochs instead of continuing the sequence.
    for i, v in enumerate(_seed_states(model)):
        store[f"rng_{i}"] = v


def _load_own_and_rng(model, store):
    own = model._trainable_variables + model._non_trainable_variables
    for i, v in enumerate(own):
        v.assign(store[f"{i}"])
    keys = set(store.keys())
    for i, v in enumerate(_seed_states(model)):
        if f"rng_{i}" in keys:  # files written without RNG states keep the fresh ones
            v.assign(store[f"rng_{i}"])


def normal(shape: tuple, seed_generator: keras.random.SeedGenerator) -> Tensor:
    """``keras.random.normal(shape, seed=seed_generator)``, distinct on each tf.distribute replica.

    Under ``tf.distribute`` every replica would draw the *same* numbers from a shared
    SeedGenerator; instead each draws the whole global batch and keeps its own slice, which is
    exactly what one device would draw for the global batch. (JAX shards one global draw.)
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            k = ctx.num_replicas_in_sync
            rest = tuple(shape[1:])
            full = keras.random.normal((shape[0] * k,) + rest, seed=seed_generator)
            return ops.take(ops.reshape(full, (k, -1) + rest), ctx.replica_id_in_sync_group, axis=0)
    return keras.random.normal(shape, seed=seed_generator)


def check_images(x: Any, image_shape: Sequence[int], who: str) -> None:
    """Raise a ValueError unless ``x`` is a float batch of images of ``image_shape``."""
    shape = x.shape
    shape = () if getattr(shape, "rank", 0) is None else tuple(shape)  # TensorShape of unknown rank
    expected = (None,) + tuple(image_shape)
    if len(shape) != len(expected) or tuple(shape[1:]) != tuple(image_shape):
        raise ValueError(f"{who} expects images of shape {expected}; received {shape}.")
    dtype = keras.backend.standardize_dtype(getattr(x.dtype, "name", x.dtype))
    if "float" not in dtype:
        raise ValueError(
            f"{who} expects float images with values in [0, 1]; received dtype {dtype} "
            "(convert uint8 pixels with gvutil.data.to_float_images(x))."
        )


class _DataEpoch(keras.callbacks.Callback):
    """Tell a ``gvutil.train.dataset()`` which epoch starts, so its order is that epoch's."""

    def __init__(self, data: Any) -> None:
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.data.set_epoch(epoch)


def check_fit_data(x: Any, image_shape: Sequence[int], who: str) -> None:
    """Check arrays and datasets before ``fit`` starts (a failure inside the first JAX step would
    leave the model's variables detached)."""
    if getattr(x, "set_epoch", None) is not None and hasattr(x, "x"):  # gvutil dataset (PyDataset)
        shape = tuple(x.x.shape)
        if shape[1:] != tuple(image_shape):
            raise ValueError(f"{who} expects images of shape {(None,) + tuple(image_shape)}; "
                             f"received {shape}.")
        return
    if hasattr(x, "element_spec"):  # tf.data.Dataset
        spec = x.element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        if hasattr(spec, "shape") and hasattr(spec, "dtype"):
            check_images(spec, image_shape, who)
        return
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        check_images(x, image_shape, who)
        if isinstance(x, np.ndarray):  # images (n, h, w, c) in [0, 1]; other data only finite
            check_pixel_values(x, who, images=len(image_shape) == 3)


def fit_args(x: Any, callbacks: Callbacks, kwargs: dict[str, Any]) -> tuple[Callbacks, dict[str, Any]]:
    """Callbacks and kwargs for ``fit`` on data that shuffles itself (has ``set_epoch``).

    Such data visits epoch e in an order fixed by (seed, e): ``fit`` tells it each epoch's
    number (also after a resume), and ``shuffle`` defaults to False (Keras would otherwise
    reorder the batches with Python's global ``random``, or warn that it cannot).
    """
    if hasattr(x, "set_epoch"):
        kwargs = {"shuffle": False, **kwargs}
        if isinstance(callbacks, keras.callbacks.CallbackList):
            callbacks.append(_DataEpoch(x))
        else:
            callbacks = [_DataEpoch(x)] + list(callbacks or [])
    return callbacks, kwargs


def replicas() -> int:
    """How many replicas a ``tf.distribute`` strategy runs the step on (1 without one, and on JAX).

    Under ``tf.distribute`` the gradients of the replicas are *summed*, so each replica divides its
    mean loss by this; JAX's data parallelism computes one global mean and needs no scaling.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().num_replicas_in_sync
    return 1


def stateful_step(step: Callable[..., Any]) -> Callable[..., Any]:
    """Run a ``train_step``/``test_step`` written as plain stateful Keras code on JAX as well.

    On TensorFlow, Keras calls ``step(data)`` inside a ``tf.function``: the step reads variables,
    takes gradients and lets the optimizers assign new values. Keras' JAX trainer compiles a *pure*
    function instead: it calls ``step(state, data)`` with the values of every variable and wants
    ``(logs, new_state)`` back. Following keras-team/keras#18881 ("open a StatelessScope and pretend
    everything is stateful"), this decorator maps every variable to its value in ``state`` with a
    ``keras.StatelessScope``, runs the very same step inside it (assignments are recorded by the
    scope; gradients come from :func:`gvutil.autodiff.value_and_grad`), and reads the new state
    out. It is the only place where the models' training branches on the backend.
    """

    @functools.wraps(step)
    def wrapper(self, *args):
        backend = keras.backend.backend()
        if backend == "tensorflow":
            return step(self, *args)
        if backend != "jax":
            raise NotImplementedError(
                f"gvutil.models.{type(self).__name__} trains on the jax and tensorflow backends")
        state, data = args
        groups = [self.trainable_variables, self.non_trainable_variables]
        if len(state) == 4:  # train_step: (trainable, non-trainable, optimizer, metrics variables)
            groups.append(self.optimizer.variables)
        groups.append(self.metrics_variables)  # test_step: (trainable, non-trainable, metrics)
        mapping = [(v, value) for group, values in zip(groups, state) for v, value in zip(group, values)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = step(self, data)
        return logs, tuple([scope.get_current_value(v) for v in group] for group in groups)

    return wrapper


def apply_gradients(optimizer: keras.optimizers.Optimizer, grads: Sequence[Tensor],
                    variables: Iterable[keras.Variable]) -> None:
    """``optimizer.apply(grads, variables)``, also inside :func:`stateful_step` on JAX.

    There it goes through ``optimizer.stateless_apply`` (what Keras' own JAX trainer calls): a
    ``LossScaleOptimizer`` (mixed_float16) decides with ``ops.cond`` whether the gradients are
    finite, and its stateful ``apply`` leaks tracers out of that branch under ``jax.jit``.
    """
    variables = list(variables)
    if keras.backend.backend() != "jax":
        optimizer.apply(grads, variables)
        return
    new_values, new_optimizer_values = optimizer.stateless_apply(
        [v.value for v in optimizer.variables], grads, [v.value for v in variables])
    for v, value in zip(variables + list(optimizer.variables), list(new_values) + list(new_optimizer_values)):
        v.assign(value)  # recorded by the enclosing StatelessScope


class ImageModel(keras.Model):
    """Base of :class:`~gvutil.models.GAN` and :class:`~gvutil.models.VAE`.

    Subclasses set ``_parts`` (names of their sub-model attributes, serialised in
    ``get_config``), ``_config_fields`` (their other constructor arguments) and
    ``self.image_shape``.
    """

    _parts: tuple[str, ...] = ()
    #: the constructor's other arguments: config key -> attribute holding its value
    _config_fields: dict[str, str] = {}

    def _own_noise_and_metrics(self, seed, metric_names):
        """The model's own noise streams and one ``keras.metrics.Mean`` per metric name.

        Three seed generators, so that neither sampling nor evaluating moves the training noise:
        ``seed_generator`` (training), ``sample_seed_generator`` (``sample()`` without a seed) and
        ``eval_seed_generator`` (``evaluate()``, test steps).
        """
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.sample_seed_generator = keras.random.SeedGenerator(None if seed is None else seed + 1)
        self.eval_seed_generator = keras.random.SeedGenerator(None if seed is None else seed + 2)
        self.trackers = [keras.metrics.Mean(name=name) for name in metric_names]
        self.built = True

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers)

    def _track(self, *values):
        """Add one batch's values to the trackers (in their order); return every metric's mean."""
        for tracker, value in zip(self.trackers, values, strict=True):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({name: keras.saving.serialize_keras_object(getattr(self, name)) for name in self._parts})
        config.update({key: getattr(self, attr) for key, attr in self._config_fields.items()})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ImageModel:
        config = dict(config)
        for name in cls._parts:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

    def save_own_variables(self, store: dict) -> None:
        super().save_own_variables(store)
        _save_rng(self, store)

    def load_own_variables(self, store: dict) -> None:
        _load_own_and_rng(self, store)

    def _images(self, data):
        x = keras.utils.unpack_x_y_sample_weight(data)[0]
        check_images(x, self.image_shape, type(self).__name__)
        return x

    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000) -> np.ndarray:
        """``n`` images for ``z ~ N(0, I)``, a NumPy float32 array in [0, 1].

        A GAN's generator output; a VAE's mean of p(x|z). With an integer ``seed`` the same noise
        (hence, for fixed weights, the same images) comes back every call; with ``seed=None`` the
        model's own sampling generator is used (it never touches the training noise). Runs
        compiled (``predict_on_batch``), ``batch_size`` latents at a time.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"sample needs a positive whole number of images; received n={n!r}")
        z = keras.random.normal((n, self.latent_dim),
                                seed=self.sample_seed_generator if seed is None else seed)
        z = ops.convert_to_numpy(z)
        out = [self._images_from_latents(z[i:i + batch_size]) for i in range(0, n, batch_size)]
        return np.concatenate(out).astype("float32")

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: str | int = "auto", callbacks: Callbacks = None,
            **kwargs: Any) -> keras.callbacks.History:
        """``keras.Model.fit``; data from ``gvutil.train.dataset()`` keeps its seeded order."""
        check_fit_data(x, self.image_shape, type(self).__name__)
        callbacks, kwargs = fit_args(x, callbacks, kwargs)
        return super().fit(x, y, batch_size, epochs, verbose, callbacks, **kwargs)
