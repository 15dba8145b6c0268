"""The book's GAN: a discriminator and a generator trained in turn by ``model.fit(x)``.

Data contract: ``x`` holds float images in [0, 1] of the discriminator's input shape
(``(n, 28, 28, 1)`` for the builders). The discriminator outputs one *logit* per image and
every loss is computed from logits with ``softplus`` (never ``log(sigmoid(.))``), so no loss
overflows however sure the discriminator gets.

Each batch does two updates, as in Goodfellow et al. (2014), Algorithm 1 with k = 1:

1. discriminator: minimise ``-[t log D(x) + (1 - t) log(1 - D(x))] - log(1 - D(G(z)))``, with
   ``t = 1 - label_smoothing`` (one-sided label smoothing; ``t = 1`` without it);
2. generator, against the freshly updated discriminator, with fresh noise: minimise
   ``-log D(G(z))`` ("non_saturating", the default) or ``log(1 - D(G(z)))`` ("minimax", the
   original saturating objective whose gradient vanishes when D rejects the fakes).

``GAN.train_step`` is one method, the same on TensorFlow and JAX: gradients come from
:func:`gvutil.autodiff.value_and_grad` (``tf.GradientTape`` or ``jax.value_and_grad``), the losses
are backend-neutral ``keras.ops``, and ``@stateful_step`` adapts it to Keras' JAX trainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
from keras import ops

from gvutil.autodiff import value_and_grad

from ._base import ImageModel, apply_gradients, normal, replicas, stateful_step

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Literal

    from keras.optimizers import Optimizer

    Tensor = Any  # a NumPy array or a backend tensor (tf.Tensor, jax.Array)

__all__ = ["GAN"]

GAN_LOSSES = ("non_saturating", "minimax")


class _OptimizerPair(keras.optimizers.Optimizer):
    """The discriminator's and the generator's optimizers behind the one ``model.optimizer``.

    Keras' JAX trainer threads only ``model.optimizer.variables`` through ``fit()``; listing
    both optimizers' variables here carries both states through the jitted train step (and
    through ``BackupAndRestore`` and ``.keras`` files). Nothing is ever applied through it.
    """

    def __init__(self, d_optimizer: Optimizer, g_optimizer: Optimizer,
                 name: str = "gan_optimizers") -> None:
        super().__init__(learning_rate=0.0, name=name)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def build_pair(self, d_variables: Sequence[keras.Variable],
                   g_variables: Sequence[keras.Variable]) -> None:
        """Create both optimizers' slots for the discriminator's and the generator's weights."""
        if not self.d_optimizer.built:
            self.d_optimizer.build(d_variables)
        if not self.g_optimizer.built:
            self.g_optimizer.build(g_variables)
        self._d_ids = frozenset(id(v) for v in d_variables)
        self.built = True

    def build(self, var_list: Sequence[keras.Variable]) -> None:
        if not self.built:
            raise RuntimeError("GAN optimizers are built by GAN.compile(); compile the GAN first.")

    @property
    def variables(self) -> list[keras.Variable]:
        return list(self.d_optimizer.variables) + list(self.g_optimizer.variables)

    @property
    def iterations(self) -> keras.Variable:
        return self.g_optimizer.iterations

    def finalize_variable_values(self, var_list: Sequence[keras.Variable]) -> None:
        d_ids = getattr(self, "_d_ids", frozenset())
        self.d_optimizer.finalize_variable_values([v for v in var_list if id(v) in d_ids])
        self.g_optimizer.finalize_variable_values([v for v in var_list if id(v) not in d_ids])

    # The two optimizers save and load their own variables (they are children of the GAN).
    def save_own_variables(self, store: dict) -> None:
        pass

    def load_own_variables(self, store: dict) -> None:
        pass


def _needs_loss_scaling(*layers) -> bool:
    policies = [keras.config.dtype_policy().name] + [layer.dtype_policy.name for layer in layers]
    return "mixed_float16" in policies


@keras.saving.register_keras_serializable(package="gvutil")
class GAN(ImageModel):
    """A GAN trained with ``fit(x)`` on images in [0, 1].

    Args:
        generator: model mapping ``(n, latent_dim)`` noise to images in [0, 1].
        discriminator: model mapping images to ``(n, 1)`` logits.
        latent_dim: length of the noise vector z ~ N(0, I).
        loss: generator objective, "non_saturating" (-log D(G(z))) or "minimax"
            (log(1 - D(G(z)))).
        label_smoothing: one-sided label smoothing; the discriminator's target for real
            images is ``1 - label_smoothing`` (fakes keep target 0).
        seed: seed of the model's own noise (training noise and ``sample()``).

    Metrics (epoch means): ``d_loss`` (real + fake cross-entropy, 2 log 2 ≈ 1.386 when D
    outputs 1/2 everywhere), ``g_loss``, ``d_real`` (mean D(x)), ``d_fake`` (mean D(G(z))),
    the last two as probabilities measured in the discriminator step.
    """

    _parts = ("generator", "discriminator")
    _config_fields = {"latent_dim": "latent_dim", "loss": "gan_loss", "label_smoothing": "label_smoothing",
                      "seed": "seed"}

    def __init__(self, generator: keras.Model, discriminator: keras.Model, latent_dim: int,
                 loss: Literal["non_saturating", "minimax"] = "non_saturating",
                 label_smoothing: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {GAN_LOSSES}; received {loss!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1); received {label_smoothing}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.gan_loss = loss
        self.label_smoothing = float(label_smoothing)
        self.seed = seed
        self.image_shape = tuple(discriminator.input_shape[1:])
        out_shape = tuple(generator.output_shape[1:])
        if out_shape != self.image_shape:
            raise ValueError(f"generator outputs shape {(None,) + out_shape} but the discriminator "
                             f"expects {(None,) + self.image_shape}")
        if tuple(generator.input_shape[1:]) != (self.latent_dim,):
            raise ValueError(f"generator expects inputs of shape {generator.input_shape}, "
                             f"not (None, {self.latent_dim}) (latent_dim={self.latent_dim})")
        self._own_noise_and_metrics(seed, ("d_loss", "g_loss", "d_real", "d_fake"))

    # ----------------------------------------------------------------- keras plumbing
    @property
    def d_optimizer(self) -> Optimizer:
        return self.optimizer.d_optimizer

    @property
    def g_optimizer(self) -> Optimizer:
        return self.optimizer.g_optimizer

    def compile(self, d_optimizer: Optimizer | str | None = None, g_optimizer: Optimizer | str | None = None,
                **kwargs: Any) -> None:
        """Set the two optimizers (default Adam(2e-4, beta_1=0.5) each, as in DCGAN).

        Other keyword arguments (``steps_per_execution``, ``jit_compile``, ``run_eagerly``)
        go to ``keras.Model.compile``. Under a ``mixed_float16`` policy both optimizers are
        wrapped in ``LossScaleOptimizer``.
        """
        for key in ("optimizer", "loss", "metrics"):
            if kwargs.get(key) is not None:
                raise TypeError(f"GAN.compile() takes d_optimizer and g_optimizer, not {key}=")
            kwargs.pop(key, None)
        d_optimizer = keras.optimizers.get(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        g_optimizer = keras.optimizers.get(g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        if d_optimizer is g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two different optimizer objects")
        if _needs_loss_scaling(self, self.generator, self.discriminator):
            LSO = keras.optimizers.LossScaleOptimizer
            d_optimizer = d_optimizer if isinstance(d_optimizer, LSO) else LSO(d_optimizer)
            g_optimizer = g_optimizer if isinstance(g_optimizer, LSO) else LSO(g_optimizer)
        self._gvutil_compile = {k: kwargs[k] for k in ("steps_per_execution", "jit_compile",
                                                       "run_eagerly") if k in kwargs}
        pair = _OptimizerPair(d_optimizer, g_optimizer)
        super().compile(optimizer=pair, auto_scale_loss=False, **kwargs)
        pair.build_pair(self.discriminator.trainable_variables, self.generator.trainable_variables)

    def get_compile_config(self) -> dict[str, Any] | None:
        if not getattr(self, "compiled", False):
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            **getattr(self, "_gvutil_compile", {}),
        }

    def compile_from_config(self, config: dict[str, Any]) -> None:
        config = dict(config)
        d = keras.saving.deserialize_keras_object(config.pop("d_optimizer"))
        g = keras.saving.deserialize_keras_object(config.pop("g_optimizer"))
        self.compile(d_optimizer=d, g_optimizer=g, **config)

    def call(self, z: Tensor, training: bool = False) -> Tensor:
        """Generate images from latent vectors ``z`` of shape ``(n, latent_dim)``."""
        return self.generator(z, training=training)

    # ----------------------------------------------------------------- the objectives
    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Mean cross-entropy of D on real (target ``1 - label_smoothing``) plus on fakes (target 0)."""
        real_logits = ops.cast(real_logits, "float32")
        fake_logits = ops.cast(fake_logits, "float32")
        t = 1.0 - self.label_smoothing
        # -log sigmoid(l) = softplus(-l);  -log(1 - sigmoid(l)) = softplus(l)
        real = t * ops.softplus(-real_logits) + (1.0 - t) * ops.softplus(real_logits)
        return ops.mean(real) + ops.mean(ops.softplus(fake_logits))

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """Generator objective from D's logits on fakes (mean over the batch)."""
        fake_logits = ops.cast(fake_logits, "float32")
        if self.gan_loss == "minimax":
            return -ops.mean(ops.softplus(fake_logits))  # mean log(1 - D(G(z)))
        return ops.mean(ops.softplus(-fake_logits))  # mean -log D(G(z))

    def _noise(self, n, training=True):
        return normal((n, self.latent_dim), self.seed_generator if training else self.eval_seed_generator)

    def _d_step_loss(self, x, training=True):
        fake = self.generator(self._noise(ops.shape(x)[0], training), training=training)
        real_logits = ops.cast(self.discriminator(x, training=training), "float32")
        fake_logits = ops.cast(self.discriminator(fake, training=training), "float32")
        loss = self.discriminator_loss(real_logits, fake_logits)
        return loss, (ops.mean(ops.sigmoid(real_logits)), ops.mean(ops.sigmoid(fake_logits)))

    def _g_step_loss(self, n, training=True):
        fake = self.generator(self._noise(n, training), training=training)
        return self.generator_loss(self.discriminator(fake, training=training))

    # ----------------------------------------------------------------- train / test steps
    @stateful_step  # the same code on TensorFlow and JAX (see gvutil.models._base.stateful_step)
    def train_step(self, data: Any) -> dict[str, Any]:
        """One batch: a discriminator update, then a generator update against the new discriminator."""
        x = self._images(data)
        n = ops.shape(x)[0]

        # 1. Discriminator: real images towards "real", the generator's fakes towards "fake".
        def d_objective():
            d_loss, (d_real, d_fake) = self._d_step_loss(x)
            return self.d_optimizer.scale_loss(d_loss / replicas()), (d_loss, d_real, d_fake)

        d_vars = self.discriminator.trainable_variables
        (_, (d_loss, d_real, d_fake)), grads = value_and_grad(d_objective, d_vars, has_aux=True)
        apply_gradients(self.d_optimizer, grads, d_vars)

        # 2. Generator: fresh noise, judged by the discriminator just updated.
        def g_objective():
            g_loss = self._g_step_loss(n)
            return self.g_optimizer.scale_loss(g_loss / replicas()), g_loss

        g_vars = self.generator.trainable_variables
        (_, g_loss), grads = value_and_grad(g_objective, g_vars, has_aux=True)
        apply_gradients(self.g_optimizer, grads, g_vars)

        return self._track(d_loss, g_loss, d_real, d_fake)

    @stateful_step
    def test_step(self, data: Any) -> dict[str, Any]:
        """Both losses on a batch, without updates, with noise from the evaluation generator."""
        x = self._images(data)
        d_loss, (d_real, d_fake) = self._d_step_loss(x, training=False)
        g_loss = self._g_step_loss(ops.shape(x)[0], training=False)
        return self._track(d_loss, g_loss, d_real, d_fake)

    # ----------------------------------------------------------------- conveniences
    def _images_from_latents(self, z):
        return self.generator.predict_on_batch(z)
