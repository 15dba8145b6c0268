"""The book's VAE: the networks, the ELBO and ``VAE`` class of sections 4.3 and 4.4.
Written by ``make library`` from the ``#@save`` cells of 04_vae_code and 04_vae_latent2d; edit those.
"""

import math

import keras
import numpy as np
from keras import layers, ops

from gvutil.autodiff import value_and_grad
from gvutil.models.base import ImageModel, add_to_class, check_images, stateful_step

IMAGE_SHAPE = (28, 28, 1)


def gaussian_head(x, h, latent_dim, name="encoder"):
    """The encoder x -> [z_mean, z_log_var] of q(z|x): two linear heads (float32) on the features h."""
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name=name)


def mlp_encoder(latent_dim=20, hidden=(512,), name="encoder"):
    """Image -> one Dense(relu) layer per width in `hidden` -> [z_mean, z_log_var]."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Flatten()(x)
    for units in hidden:
        h = layers.Dense(units, activation="relu")(h)
    return gaussian_head(x, h, latent_dim, name)


def mlp_decoder(latent_dim=20, hidden=(512,), likelihood="bernoulli", name="decoder"):
    """z -> the widths of `hidden` in reverse (relu) -> 784 logits ("bernoulli") or means ("gaussian")."""
    z = keras.Input((latent_dim,), name="z")
    h = z
    for units in reversed(hidden):
        h = layers.Dense(units, activation="relu")(h)
    h = layers.Dense(784, dtype="float32")(h)
    if likelihood == "gaussian":
        h = layers.Activation("sigmoid", dtype="float32")(h)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE, dtype="float32")(h), name=name)


@keras.saving.register_keras_serializable(package="gvutil")
class VAE(ImageModel):
    """An encoder q(z|x) and a decoder p(x|z), trained by `fit(x)` on images in [0, 1]."""

    def __init__(self, encoder, decoder, likelihood="bernoulli", beta=1.0, sigma=None,
                 sigma_init=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian'; received {likelihood!r}")
        for name, value, ok in (("beta", beta, beta >= 0), ("sigma_init", sigma_init, sigma_init > 0),
                                ("sigma", sigma, sigma is None or sigma > 0)):
            if not ok or (value is not None and not np.isfinite(value)):  # NaN fails `ok` too
                raise ValueError(f"{name} must be {'>= 0' if name == 'beta' else '> 0'}; received {value!r}")
        self.encoder, self.decoder, self.likelihood = encoder, decoder, likelihood
        self.beta, self.sigma_init, self.seed = float(beta), float(sigma_init), seed
        self.sigma = None if sigma is None else float(sigma)
        self.image_shape = tuple(encoder.input_shape[1:])
        if not (isinstance(encoder.output_shape, list) and len(encoder.output_shape) == 2
                and isinstance(encoder.output_shape[0], tuple)):
            raise ValueError(f"the encoder must output [z_mean, z_log_var]; it outputs {encoder.output_shape}")
        self.latent_dim = int(encoder.output_shape[0][-1])
        for what, got, want in (("takes latents of shape", decoder.input_shape, (None, self.latent_dim)),
                                ("outputs images of shape", decoder.output_shape, (None,) + self.image_shape)):
            if tuple(got) != want:
                raise ValueError(f"the decoder {what} {got} but the encoder needs {want}")
        self.log_sigma = None  # a Gaussian likelihood's log sigma is a weight unless sigma is given
        if likelihood == "gaussian" and sigma is None:
            self.log_sigma = self.add_weight(shape=(), name="log_sigma",
                                             initializer=keras.initializers.Constant(math.log(sigma_init)))
        self.add_noise_streams(seed)  # training, sample() and evaluate() each draw their own noise
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("reconstruction", "kl", "elbo", "loss")}

    def compile(self, optimizer=None, **kwargs):
        """One optimizer for encoder and decoder together, Adam(1e-3) unless given."""
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), **kwargs)

    def call(self, x, training=False):
        """Reconstructions (the decoded z_mean) as images in [0, 1]."""
        z_mean, _ = self.encoder(x, training=training)
        return self.to_images(self.decoder(z_mean, training=training))


@add_to_class(VAE)
def encode(self, x):
    """(z_mean, z_log_var) of q(z|x) for the images `x`."""
    check_images(x, self.image_shape, "VAE")
    z_mean, z_log_var = self.encoder(x, training=False)
    return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")


@add_to_class(VAE)
def reparameterize(self, z_mean, z_log_var, seed=None):
    """z = z_mean + exp(z_log_var / 2) * eps, eps ~ N(0, I) from the training stream or from `seed`."""
    eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator if seed is None else seed)
    return z_mean + ops.exp(0.5 * z_log_var) * eps


@add_to_class(VAE)
def decode(self, z):
    """The decoder's output for latents `z`: logits ("bernoulli") or means ("gaussian")."""
    return ops.cast(self.decoder(z, training=False), "float32")


@add_to_class(VAE)
def to_images(self, decoder_output):
    """The mean of p(x|z) as images in [0, 1]: the sigmoid of logits, or the clipped Gaussian mean."""
    decoder_output = ops.cast(decoder_output, "float32")
    if self.likelihood == "bernoulli":
        return ops.sigmoid(decoder_output)
    return ops.clip(decoder_output, 0.0, 1.0)


@add_to_class(VAE)
def log_px_given_z(self, x, decoder_output):
    """Per-image log p(x|z) in nats, summed over the pixels; shape (n,)."""
    x, out = ops.cast(x, "float32"), ops.cast(decoder_output, "float32")
    if self.likelihood == "bernoulli":
        log_p = x * out - ops.softplus(out)  # x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))
    else:
        log_sigma = self.log_sigma_value()
        log_p = -0.5 * ops.square((x - out) * ops.exp(-log_sigma)) - log_sigma - 0.5 * math.log(2 * math.pi)
    return ops.sum(ops.reshape(log_p, (ops.shape(log_p)[0], -1)), axis=1)


@add_to_class(VAE)
def log_sigma_value(self):
    """log of the Gaussian likelihood's sigma: the learned weight, or the fixed `sigma`."""
    fixed = self.log_sigma is None
    return ops.convert_to_tensor(math.log(self.sigma), "float32") if fixed else ops.cast(self.log_sigma, "float32")


def kl_divergence(z_mean, z_log_var):
    """Per-image KL(N(z_mean, exp(z_log_var)) || N(0, I)) in nats, in closed form; shape (n,)."""
    z_mean, z_log_var = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
    return 0.5 * ops.sum(ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=1)


@add_to_class(VAE)
def elbo_terms(self, x, training=True):
    """Per-image reconstruction term -log p(x|z) (one z from q(z|x)) and KL term, in nats."""
    z_mean, z_log_var = self.encoder(x, training=training)
    z_mean, z_log_var = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
    z = self.reparameterize(z_mean, z_log_var, seed=None if training else self.eval_seed_generator)
    out = self.decoder(z, training=training)
    return -self.log_px_given_z(x, out), kl_divergence(z_mean, z_log_var)


@add_to_class(VAE)
@stateful_step  # as for the GAN (section 4.1): the same code under Keras' JAX trainer (keras-team/keras#18881)
def train_step(self, data):
    """One optimizer step on the negative ELBO (reconstruction + beta * KL), averaged over the batch."""
    x = self.unpack_images(data)

    def objective():
        reconstruction, kl = self.elbo_terms(x)
        return ops.mean(reconstruction + self.beta * kl), (reconstruction, kl)

    (_, (reconstruction, kl)), grads = value_and_grad(objective, self.trainable_variables, has_aux=True)
    self.optimizer.apply(grads, self.trainable_variables)
    return self.record(reconstruction=reconstruction, kl=kl, elbo=-(reconstruction + kl),
                       loss=reconstruction + self.beta * kl)


@add_to_class(VAE)
@stateful_step
def test_step(self, data):
    """The same terms on a batch, without updates, with z from the evaluation stream."""
    reconstruction, kl = self.elbo_terms(self.unpack_images(data), training=False)
    return self.record(reconstruction=reconstruction, kl=kl, elbo=-(reconstruction + kl),
                       loss=reconstruction + self.beta * kl)


@add_to_class(VAE)
def images_from_latents(self, z):
    """Images in [0, 1] (NumPy) decoded from latents `z`: the mean of p(x|z)."""
    return ops.convert_to_numpy(self.to_images(self.decoder.predict_on_batch(z))).astype("float32")


@add_to_class(VAE)
def reconstruct(self, x, batch_size=1000):
    """Reconstructions of the images `x` (the decoded z_mean), NumPy images in [0, 1]."""
    check_images(x, self.image_shape, "VAE")
    z_means = [self.encoder.predict_on_batch(x[i:i + batch_size])[0] for i in range(0, len(x), batch_size)]
    return np.concatenate([self.images_from_latents(z) for z in z_means])


def conv_encoder(latent_dim=2, filters=32, dense=16, name="encoder"):
    """The keras.io VAE's encoder: conv f, 2f (3x3, stride 2, relu) -> Dense(16) -> [z_mean, z_log_var]."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(2 * filters, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Dense(dense, activation="relu")(layers.Flatten()(h))
    return gaussian_head(x, h, latent_dim, name)


def conv_decoder(latent_dim=2, filters=32, likelihood="bernoulli", name="decoder"):
    """The keras.io VAE's decoder: Dense 7x7x2f -> transposed conv 2f, f (stride 2, relu) -> 1 channel."""
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(7 * 7 * 2 * filters, activation="relu")(z)
    h = layers.Reshape((7, 7, 2 * filters))(h)
    h = layers.Conv2DTranspose(2 * filters, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(1, 3, padding="same", dtype="float32")(h)
    if likelihood == "gaussian":
        h = layers.Activation("sigmoid", dtype="float32")(h)
    return keras.Model(z, h, name=name)
