"""VAEs after the article: training on the importance-weighted bound, and free bits, of section 5.4.
Written by ``make library`` from the ``#@save`` cells of 05_vae_techniques; edit those.
"""

import math

import keras
import numpy as np
from keras import ops

from gvutil.autodiff import value_and_grad
from gvutil.models.base import add_to_class, stateful_step
from gvutil.models.vae import VAE, kl_divergence

LOG_2PI = math.log(2 * math.pi)


def log_normal(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))), summed over the last axis (the latent dimensions)."""
    return -0.5 * ops.sum(ops.square(z - mean) * ops.exp(-log_var) + log_var + LOG_2PI, axis=-1)


def kl_per_dimension(z_mean, z_log_var):
    """Section 4.3's closed-form KL, one value per image and latent dimension; shape (n, latent_dim)."""
    kl = kl_divergence(ops.reshape(z_mean, (-1, 1)), ops.reshape(z_log_var, (-1, 1)))
    return ops.reshape(kl, ops.shape(z_mean))


@keras.saving.register_keras_serializable(package="gvutil")
class IWAE(VAE):
    """Section 4.3's VAE with two training options. `k` > 1 trains on the importance-weighted bound L_k
    (Burda et al., 2016) instead of the ELBO; `free_bits` > 0 stops pressing the KL of a latent dimension
    below that many nats (its batch mean; Kingma et al., 2016). k=1, free_bits=0: section 4.3's VAE."""

    def __init__(self, encoder, decoder, k=1, free_bits=0.0, likelihood="bernoulli", beta=1.0,
                 sigma=None, sigma_init=0.1, seed=None, **kwargs):
        super().__init__(encoder, decoder, likelihood, beta, sigma, sigma_init, seed, **kwargs)
        if isinstance(k, bool) or int(k) != k or k < 1:
            raise ValueError(f"k must be a whole number of samples >= 1; received k={k!r}")
        if not (free_bits >= 0 and np.isfinite(free_bits)):
            raise ValueError(f"free_bits must be >= 0 nats; received free_bits={free_bits!r}")
        if k > 1 and (self.beta != 1.0 or free_bits > 0):
            raise ValueError(f"L_k with k={k} is a bound on log p(x) only with beta=1 and free_bits=0; "
                             f"received beta={beta!r}, free_bits={free_bits!r}")
        self.k, self.free_bits = int(k), float(free_bits)


@add_to_class(IWAE)
def log_weights(self, x, training=True):
    """For k draws z_j ~ q(z|x) of each image, the two parts of log w_j: log p(x|z_j), and
    log p(z_j) - log q(z_j|x); each of shape (k, n)."""
    z_mean, z_log_var = (ops.cast(t, "float32") for t in self.encoder(x, training=training))
    seed = self.seed_generator if training else self.eval_seed_generator
    z = self.reparameterize(ops.repeat(z_mean[None], self.k, axis=0),
                            ops.repeat(z_log_var[None], self.k, axis=0), seed=seed)  # (k, n, latent_dim)
    out = self.decoder(ops.reshape(z, (-1, self.latent_dim)), training=training)  # k * n images at once
    x_k = ops.reshape(ops.repeat(x[None], self.k, axis=0), (-1,) + self.image_shape)
    log_px_z = ops.reshape(self.log_px_given_z(x_k, out), (self.k, -1))
    return log_px_z, log_normal(z, 0.0, 0.0) - log_normal(z, z_mean, z_log_var)


@add_to_class(IWAE)
def objective(self, x, training=True):
    """The batch's loss, and per image -log p(x|z), the KL term and the ELBO (k > 1: means over the draws)."""
    if self.k == 1:  # section 4.3's ELBO; each dimension's batch-mean KL counts at least free_bits nats
        z_mean, z_log_var = (ops.cast(t, "float32") for t in self.encoder(x, training=training))
        z = self.reparameterize(z_mean, z_log_var, seed=None if training else self.eval_seed_generator)
        reconstruction = -self.log_px_given_z(x, self.decoder(z, training=training))
        kl = kl_per_dimension(z_mean, z_log_var)  # (n, latent_dim)
        kl_term = ops.sum(ops.maximum(ops.mean(kl, axis=0), self.free_bits))
        kl = ops.sum(kl, axis=1)
        return ops.mean(reconstruction) + self.beta * kl_term, (reconstruction, kl, -(reconstruction + kl))
    log_px_z, log_prior_ratio = self.log_weights(x, training)
    log_w = log_px_z + log_prior_ratio  # (k, n)
    bound = ops.logsumexp(log_w, axis=0) - math.log(self.k)  # L_k = log (1/k) sum_j w_j, per image
    terms = (-ops.mean(log_px_z, axis=0), -ops.mean(log_prior_ratio, axis=0), ops.mean(log_w, axis=0))
    return -ops.mean(bound), terms


@add_to_class(IWAE)
@stateful_step
def train_step(self, data):
    """One optimizer step on the objective; the trackers get its per-image terms."""
    x = self.unpack_images(data)
    (loss, (reconstruction, kl, elbo)), grads = value_and_grad(
        lambda: self.objective(x), self.trainable_variables, has_aux=True)
    self.optimizer.apply(grads, self.trainable_variables)
    return self.record(reconstruction=reconstruction, kl=kl, elbo=elbo, loss=loss)


@add_to_class(IWAE)
@stateful_step
def test_step(self, data):
    """The same numbers on a batch, without updates, with z from the evaluation stream."""
    loss, (reconstruction, kl, elbo) = self.objective(self.unpack_images(data), training=False)
    return self.record(reconstruction=reconstruction, kl=kl, elbo=elbo, loss=loss)
