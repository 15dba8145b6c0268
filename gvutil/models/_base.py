"""What the GAN and the VAE share: input checks, seeded noise, RNG-state saving, fit plumbing.

:class:`ImageModel` is the base of both: a ``keras.Model`` built from named sub-models
(``_parts``), trained on float images of ``image_shape`` by ``fit(x)``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from gvutil.data import check_pixel_values


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


def normal(shape, seed_generator):
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


def check_images(x, image_shape, who):
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
            "(convert uint8 pixels with x.astype('float32') / 255)."
        )


class _DataEpoch(keras.callbacks.Callback):
    """Tell a ``gvutil.train.dataset()`` which epoch starts, so its order is that epoch's."""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.set_epoch(epoch)


def check_fit_data(x, image_shape, who):
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


def fit_args(x, callbacks, kwargs):
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


class ImageModel(keras.Model):
    """Base of :class:`~gvutil.models.GAN` and :class:`~gvutil.models.VAE`.

    Subclasses set ``_parts`` (names of their sub-model attributes, serialised in
    ``get_config``) and ``self.image_shape``.
    """

    _parts: tuple[str, ...] = ()

    def _parts_config(self) -> dict:
        return {name: keras.saving.serialize_keras_object(getattr(self, name)) for name in self._parts}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in cls._parts:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        _save_rng(self, store)

    def load_own_variables(self, store):
        _load_own_and_rng(self, store)

    def _images(self, data):
        x = keras.utils.unpack_x_y_sample_weight(data)[0]
        check_images(x, self.image_shape, type(self).__name__)
        return x

    # Training branches on the backend only where gradients are taken: subclasses define
    # _tf_train_step/_tf_test_step (GradientTape) and _jax_train_step/_jax_test_step (stateless).
    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "jax":
            return self._jax_train_step(*args)
        if backend == "tensorflow":
            return self._tf_train_step(*args)
        raise NotImplementedError(
            f"gvutil.models.{type(self).__name__} trains on the jax and tensorflow backends")

    def test_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._jax_test_step(*args)
        return self._tf_test_step(*args)

    def _stateless(self, fn, trainable, non_trainable):
        """Run ``fn()`` with the model's variables bound to values; return (out, new non-trainables)."""
        mapping = list(zip(self.trainable_variables, trainable))
        mapping += list(zip(self.non_trainable_variables, non_trainable))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            out = fn()
        return out, [scope.get_current_value(v) for v in self.non_trainable_variables]

    def _stateless_metrics(self, metrics_values, *values):
        """``self._track(*values)`` against metric-variable values; return (logs, new values)."""
        mapping = list(zip(self.metrics_variables, metrics_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._track(*values)
        return logs, [scope.get_current_value(v) for v in self.metrics_variables]

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kwargs):
        """``keras.Model.fit``; data from ``gvutil.train.dataset()`` keeps its seeded order."""
        check_fit_data(x, self.image_shape, type(self).__name__)
        callbacks, kwargs = fit_args(x, callbacks, kwargs)
        return super().fit(x, y, batch_size, epochs, verbose, callbacks, **kwargs)
