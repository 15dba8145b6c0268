"""The book's VAE (Kingma & Welling, 2014) trained by ``model.fit(x)``.

Data contract: ``x`` holds float images in [0, 1] of the encoder's input shape
(``(n, 28, 28, 1)`` for the builders).

* Encoder: ``x -> [z_mean, z_log_var]`` (a diagonal Gaussian q(z|x)).
* Reparameterisation: ``z = z_mean + exp(z_log_var / 2) * eps`` with ``eps ~ N(0, I)`` drawn
  from a ``keras.random.SeedGenerator`` owned by the model.
* Decoder and likelihood p(x|z):
    - ``"bernoulli"``: the decoder outputs *logits*; ``log p(x|z) = sum x*l - softplus(l)``
      (stable sigmoid cross-entropy, used with grey levels in [0, 1] as is customary);
    - ``"gaussian"``: the decoder outputs the mean; one standard deviation sigma shared by
      all pixels, *learned* (a weight of the VAE, initialised to ``sigma_init``) unless a
      fixed ``sigma`` is given.
* KL(q(z|x) || N(0, I)) in closed form; the loss is ``reconstruction + beta * kl``.

All metrics are nats per image (sums over pixels and latent dimensions, means over images):
``reconstruction`` = -E log p(x|z) (one sample of z), ``kl``, ``elbo`` = -(reconstruction + kl)
(a lower bound on log p(x): higher is better; it ignores beta), and ``loss``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import ops

from gvutil.autodiff import value_and_grad

from ._base import ImageModel, apply_gradients, check_images, normal, replicas, stateful_step

if TYPE_CHECKING:
    from typing import Any, Literal

    from keras.optimizers import Optimizer

    Tensor = Any  # a NumPy array or a backend tensor (tf.Tensor, jax.Array)

__all__ = ["VAE"]

LIKELIHOODS = ("bernoulli", "gaussian")


@keras.saving.register_keras_serializable(package="gvutil")
class VAE(ImageModel):
    """A variational autoencoder trained with ``fit(x)`` on images in [0, 1].

    Args:
        encoder: model mapping images to ``[z_mean, z_log_var]``, each ``(n, latent_dim)``.
        decoder: model mapping ``(n, latent_dim)`` to logits ("bernoulli") or means
            ("gaussian") of the image shape.
        likelihood: "bernoulli" or "gaussian".
        beta: weight of the KL term in the loss (beta-VAE; 1 is the plain ELBO).
        sigma: Gaussian likelihood only: a fixed pixel standard deviation, or None to learn
            one shared log-sigma.
        sigma_init: starting value of the learned sigma.
        seed: seed of the model's own noise (reparameterisation and ``sample()``).
    """

    _parts = ("encoder", "decoder")
    _config_fields = {name: name for name in ("likelihood", "beta", "sigma", "sigma_init", "seed")}

    def __init__(self, encoder: keras.Model, decoder: keras.Model,
                 likelihood: Literal["bernoulli", "gaussian"] = "bernoulli", beta: float = 1.0,
                 sigma: float | None = None, sigma_init: float = 0.1, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}; received {likelihood!r}")
        if sigma is not None and not (np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number or None; received {sigma!r}")
        if not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta (the KL term's weight) must be a number >= 0; received {beta!r}")
        if not (np.isfinite(sigma_init) and sigma_init > 0):
            raise ValueError(f"sigma_init must be a positive number; received {sigma_init!r}")
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.beta = float(beta)
        self.sigma = None if sigma is None else float(sigma)
        self.sigma_init = float(sigma_init)
        self.seed = seed
        self.image_shape = tuple(encoder.input_shape[1:])
        outputs = encoder.output_shape
        if not (isinstance(outputs, (list, tuple)) and len(outputs) == 2
                and isinstance(outputs[0], (list, tuple))):
            raise ValueError(f"the encoder must output [z_mean, z_log_var]; its output shape is {outputs}")
        self.latent_dim = int(outputs[0][-1])
        if tuple(decoder.output_shape[1:]) != self.image_shape:
            raise ValueError(f"the decoder outputs shape {decoder.output_shape} but the encoder "
                             f"takes images of shape {(None,) + self.image_shape}")
        self.log_sigma = None
        if likelihood == "gaussian" and sigma is None:
            self.log_sigma = self.add_weight(
                shape=(), name="log_sigma",
                initializer=keras.initializers.Constant(math.log(self.sigma_init)))
        self._own_noise_and_metrics(seed, ("reconstruction", "kl", "elbo", "loss"))

    def compile(self, optimizer: Optimizer | str | None = None, **kwargs: Any) -> None:
        """Set the optimizer (default Adam(1e-3)); other kwargs go to ``keras.Model.compile``."""
        for key in ("loss", "metrics"):
            if kwargs.get(key) is not None:
                raise TypeError(f"VAE.compile() computes its own loss and metrics; remove {key}=")
            kwargs.pop(key, None)
        optimizer = optimizer or keras.optimizers.Adam(1e-3)
        self._gvutil_compile = {k: kwargs[k] for k in ("steps_per_execution", "jit_compile",
                                                       "run_eagerly") if k in kwargs}
        super().compile(optimizer=optimizer, **kwargs)
        if not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def get_compile_config(self) -> dict[str, Any] | None:
        if not getattr(self, "compiled", False):
            return None
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer),
                **getattr(self, "_gvutil_compile", {})}

    def compile_from_config(self, config: dict[str, Any]) -> None:
        config = dict(config)
        self.compile(optimizer=keras.saving.deserialize_keras_object(config.pop("optimizer")), **config)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Reconstructions (decoded ``z_mean``) as images in [0, 1]."""
        z_mean, _ = self.encoder(x, training=training)
        return self.to_images(self.decoder(z_mean, training=training))

    # ----------------------------------------------------------------- the model
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z_mean, z_log_var)`` of q(z|x) for images ``x`` (backend tensors)."""
        check_images(x, self.image_shape, "VAE")
        z_mean, z_log_var = self.encoder(x, training=False)
        return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")

    def decode(self, z: Tensor) -> Tensor:
        """The decoder's output for latents ``z``: logits (bernoulli) or means (gaussian)."""
        return ops.cast(self.decoder(z, training=False), "float32")

    def to_images(self, decoder_output: Tensor) -> Tensor:
        """Mean of p(x|z) as images in [0, 1]: sigmoid of logits, or the clipped Gaussian mean."""
        decoder_output = ops.cast(decoder_output, "float32")
        if self.likelihood == "bernoulli":
            return ops.sigmoid(decoder_output)
        return ops.clip(decoder_output, 0.0, 1.0)

    def log_sigma_value(self) -> Tensor | None:
        """log of the Gaussian likelihood's sigma (learned or fixed); None for Bernoulli."""
        if self.likelihood != "gaussian":
            return None
        if self.log_sigma is not None:
            return ops.cast(self.log_sigma, "float32")
        return ops.convert_to_tensor(math.log(self.sigma), "float32")

    def log_px_given_z(self, x: Tensor, decoder_output: Tensor) -> Tensor:
        """Per-image log p(x|z) in nats, summed over all pixels; shape ``(n,)``."""
        x = ops.cast(x, "float32")
        out = ops.cast(decoder_output, "float32")
        if self.likelihood == "bernoulli":
            log_p = x * out - ops.softplus(out)  # x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))
        else:
            log_sigma = self.log_sigma_value()
            log_p = (-0.5 * ops.square((x - out) * ops.exp(-log_sigma)) - log_sigma
                     - 0.5 * math.log(2.0 * math.pi))
        return ops.sum(ops.reshape(log_p, (ops.shape(log_p)[0], -1)), axis=1)

    @staticmethod
    def kl_divergence(z_mean: Tensor, z_log_var: Tensor) -> Tensor:
        """Per-image KL(N(z_mean, exp(z_log_var)) || N(0, I)) in nats; shape ``(n,)``."""
        z_mean = ops.cast(z_mean, "float32")
        z_log_var = ops.cast(z_log_var, "float32")
        return 0.5 * ops.sum(ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=1)

    def reparameterize(self, z_mean: Tensor, z_log_var: Tensor,
                       seed: int | keras.random.SeedGenerator | None = None) -> Tensor:
        """A sample z = z_mean + exp(z_log_var / 2) * eps: eps from the model's training noise, or
        from ``seed`` (an int, or a ``keras.random.SeedGenerator`` such as ``eval_seed_generator``)."""
        shape = ops.shape(z_mean)
        if seed is None or isinstance(seed, keras.random.SeedGenerator):
            eps = normal(shape, self.seed_generator if seed is None else seed)
        else:
            eps = keras.random.normal(shape, seed=seed)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def _elbo_terms(self, x, training=True):
        """Per-image (reconstruction, kl) for one reparameterised sample."""
        z_mean, z_log_var = self.encoder(x, training=training)
        z_mean = ops.cast(z_mean, "float32")
        z_log_var = ops.cast(z_log_var, "float32")
        z = self.reparameterize(z_mean, z_log_var, seed=None if training else self.eval_seed_generator)
        out = self.decoder(z, training=training)
        return -self.log_px_given_z(x, out), self.kl_divergence(z_mean, z_log_var)

    def _track(self, reconstruction, kl):
        return super()._track(reconstruction, kl, -(reconstruction + kl), reconstruction + self.beta * kl)

    # ----------------------------------------------------------------- train / test steps
    @stateful_step  # the same code on TensorFlow and JAX (see gvutil.models._base.stateful_step)
    def train_step(self, data: Any) -> dict[str, Any]:
        """One gradient step on the negative ELBO (reconstruction + beta * KL), averaged over the batch."""
        x = self._images(data)

        def objective():
            reconstruction, kl = self._elbo_terms(x)
            loss = ops.mean(reconstruction + self.beta * kl)
            return self.optimizer.scale_loss(loss / replicas()), (reconstruction, kl)

        (_, (reconstruction, kl)), grads = value_and_grad(objective, self.trainable_variables, has_aux=True)
        apply_gradients(self.optimizer, grads, self.trainable_variables)
        return self._track(reconstruction, kl)

    @stateful_step
    def test_step(self, data: Any) -> dict[str, Any]:
        return self._track(*self._elbo_terms(self._images(data), training=False))

    # ----------------------------------------------------------------- conveniences
    def _images_np(self, decoder_output):
        return ops.convert_to_numpy(self.to_images(decoder_output)).astype("float32")

    def _images_from_latents(self, z):
        return self._images_np(self.decoder.predict_on_batch(z))  # the mean of p(x|z)

    def reconstruct(self, x: Tensor, batch_size: int = 1000) -> np.ndarray:
        """Reconstructions of ``x`` (decoded ``z_mean``), NumPy images in [0, 1]."""
        import numpy as np

        check_images(x, self.image_shape, "VAE")
        out = []
        for i in range(0, len(x), batch_size):
            z_mean = self.encoder.predict_on_batch(x[i:i + batch_size])[0]
            out.append(self._images_np(self.decoder.predict_on_batch(z_mean)))
        return np.concatenate(out)
