"""What the book's GAN and VAE share and a reader of chapter 4 need not see: :class:`ImageModel`.

``gan.py`` and ``vae.py`` are the cells chapter 4 writes. Two things here work around Keras' JAX
trainer, each with the Keras issue at its line: :func:`stateful_step` and :class:`OptimizerPair`.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import ops

from gvutil.data import check_fit_data, check_images

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["ImageModel", "OptimizerPair", "add_to_class", "check_images", "stateful_step"]


def stateful_step(step: Callable[..., Any]) -> Callable[..., Any]:
    """Run a ``train_step``/``test_step`` written as stateful Keras code under Keras' JAX trainer, which
    calls ``step(state, data)`` and wants ``(logs, new_state)``: as keras-team/keras#18881 advises, a
    ``keras.StatelessScope`` maps the variables to ``state`` while the step runs. TensorFlow: as is."""

    @functools.wraps(step)
    def wrapper(self, *args):
        if keras.backend.backend() != "jax":
            return step(self, *args)
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


class OptimizerPair(keras.optimizers.Optimizer):
    """Two optimizers, each with the network it trains, behind the one ``model.optimizer``: Keras'
    JAX trainer threads only ``model.optimizer.variables`` through ``fit()`` (keras-team/keras#18881,
    #19358), and so do backups. Nothing is applied through it; the two apply, save and load themselves.
    """

    def __init__(self, first: tuple[keras.optimizers.Optimizer, keras.Model],
                 second: tuple[keras.optimizers.Optimizer, keras.Model], name: str = "optimizer_pair") -> None:
        super().__init__(learning_rate=0.0, name=name)
        if first[0] is second[0]:
            raise ValueError("a GAN needs two different optimizer objects, one per network")
        for optimizer, network in (first, second):
            if not optimizer.built:
                optimizer.build(network.trainable_variables)
        self.pair = (first[0], second[0])
        self.built = True

    @property
    def variables(self) -> list[keras.Variable]:
        return [v for optimizer in self.pair for v in optimizer.variables]

    @property
    def iterations(self) -> keras.Variable:
        return self.pair[1].iterations

    # Each optimizer of the pair was built for its own network and saves and loads its own variables;
    # there are no averaged weights (use_ema) to write back at the end of fit().
    build = finalize_variable_values = save_own_variables = load_own_variables = lambda self, arg: None


def add_to_class(cls: type) -> Callable[[Callable[..., Any]], None]:
    """Make the decorated function a method of ``cls`` (d2l's idiom: one class over several cells)."""

    def register(method: Callable[..., Any]) -> None:
        setattr(cls, method.__name__, method)

    return register


class ImageModel(keras.Model):
    """Base of the book's ``GAN`` and ``VAE``: a subclass keeps each constructor argument in an attribute
    of the same name (for ``get_config``), calls :meth:`add_noise_streams`, sets ``self.trackers``
    (name -> ``keras.metrics.Mean``) and ``self.image_shape``, and implements ``images_from_latents``."""

    def add_noise_streams(self, seed: int | None) -> None:
        """Noise for training, ``sample()`` and ``evaluate()``: looking never moves the training noise."""
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.sample_seed_generator = keras.random.SeedGenerator(None if seed is None else seed + 1)
        self.eval_seed_generator = keras.random.SeedGenerator(None if seed is None else seed + 2)
        self.built = True  # every weight lives in the sub-models, built already

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def record(self, **values: Any) -> dict[str, Any]:
        """Add one batch's values to the trackers of the same names; return every metric's mean."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def unpack_images(self, data: Any) -> Any:
        """The images of a batch (``x`` or ``(x,)``), checked for shape and dtype."""
        x = keras.utils.unpack_x_y_sample_weight(data)[0]
        check_images(x, self.image_shape, type(self).__name__)
        return x

    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000, **conditions: Any) -> np.ndarray:
        """``n`` images for ``z ~ N(0, I)``, NumPy float32 in [0, 1]; the same for one integer ``seed``, else the
        model's sampling stream (not the training noise). ``conditions`` (``labels``) go to ``images_from_latents``."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"sample needs a positive whole number of images; received n={n!r}")
        z = ops.convert_to_numpy(keras.random.normal((n, self.latent_dim),
                                                     seed=self.sample_seed_generator if seed is None else seed))
        out = [self.images_from_latents(z[i:i + batch_size], **{k: v[i:i + batch_size] for k, v in conditions.items()})
               for i in range(0, n, batch_size)]
        return np.concatenate(out).astype("float32")

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: str | int = "auto", callbacks: Any = None, **kwargs: Any) -> keras.callbacks.History:
        """``keras.Model.fit``, with the data checked first; data with ``set_epoch`` (gvutil's
        datasets) is told each epoch's number by ``train.DataEpoch`` and not reshuffled by Keras."""
        from gvutil.train import DataEpoch

        check_fit_data(x, self.image_shape, type(self).__name__)  # before a JAX step can fail
        if hasattr(x, "set_epoch"):
            kwargs = {"shuffle": False, **kwargs}
            if isinstance(callbacks, keras.callbacks.CallbackList):
                callbacks.append(DataEpoch(x))
            else:
                callbacks = [DataEpoch(x)] + list(callbacks or [])
        return super().fit(x, y, batch_size, epochs, verbose, callbacks, **kwargs)

    def compile(self, **kwargs: Any) -> None:
        for key in ("loss", "metrics"):
            if kwargs.pop(key, None) is not None:
                raise TypeError(f"{type(self).__name__}.compile() computes its own loss and metrics; "
                                f"remove {key}=")
        self._compile_args = {k: kwargs[k] for k in ("steps_per_execution", "jit_compile", "run_eagerly")
                              if k in kwargs}
        super().compile(**kwargs)
        if not self.optimizer.built:  # its variables must exist before a backup or a JAX step
            self.optimizer.build(self.trainable_variables)

    # ----------------------------------------------------------------- saving
    def get_compile_config(self) -> dict[str, Any] | None:
        if not getattr(self, "compiled", False):
            return None
        names = [k for k in inspect.signature(self.compile).parameters
                 if isinstance(getattr(self, k, None), keras.optimizers.Optimizer)]
        return {**{k: keras.saving.serialize_keras_object(getattr(self, k)) for k in names},
                **getattr(self, "_compile_args", {})}

    def compile_from_config(self, config: dict[str, Any]) -> None:
        self.compile(**{k: keras.saving.deserialize_keras_object(v) if isinstance(v, dict) else v
                        for k, v in config.items()})

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for name, p in inspect.signature(type(self).__init__).parameters.items():
            if name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD:
                value = getattr(self, name)
                is_part = isinstance(value, keras.layers.Layer)
                config[name] = keras.saving.serialize_keras_object(value) if is_part else value
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ImageModel:
        return cls(**{k: keras.saving.deserialize_keras_object(v) if isinstance(v, dict) and "class_name" in v
                      else v for k, v in config.items()})

    # Keras does not save SeedGenerator states; without them a resumed run would replay the noise
    # (and dropout masks) of its first epochs instead of continuing the sequence.
    def _seed_states(self):
        return [v for v in self.non_trainable_variables if v.name == "seed_generator_state"]

    def save_own_variables(self, store: dict) -> None:
        super().save_own_variables(store)
        for i, v in enumerate(self._seed_states()):
            store[f"rng_{i}"] = v

    def load_own_variables(self, store: dict) -> None:
        for i, v in enumerate(self._trainable_variables + self._non_trainable_variables):
            v.assign(store[f"{i}"])
        for i, v in enumerate(self._seed_states()):
            if f"rng_{i}" in store.keys():  # files written without RNG states keep the fresh ones
                v.assign(store[f"rng_{i}"])
