"""The book's GAN and VAE as ``keras.Model`` subclasses, and builders for MNIST-sized ones.

Every builder returns a compiled model ready for ``fit(x)`` with ``x`` float images in
[0, 1] of shape ``(n, 28, 28, 1)``; compile keyword arguments can be overridden.

>>> gan = make_gan("mlp")                # the article's MLP GAN
>>> vae = make_vae("conv", latent_dim=2)
"""

from __future__ import annotations

import keras
from keras import layers

from .gan import GAN
from .vae import VAE

__all__ = ["GAN", "VAE", "IMAGE_SHAPE", "make_gan", "make_vae",
           "mlp_generator", "mlp_discriminator", "dcgan_generator", "dcgan_discriminator",
           "mlp_encoder", "mlp_decoder", "conv_encoder", "conv_decoder"]

IMAGE_SHAPE = (28, 28, 1)
_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2]


def _sizes(hidden, default_depth=2):
    return (int(hidden),) * default_depth if isinstance(hidden, int) else tuple(int(h) for h in hidden)


def mlp_generator(latent_dim=100, hidden=1024, name="generator"):
    """The article's generator: latent -> 1024 -> 1024 -> 784 sigmoid, LeakyReLU(0.2), as 28x28x1."""
    z = keras.Input((latent_dim,), name="z")
    h = z
    for units in _sizes(hidden):
        h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
    h = layers.Dense(_PIXELS)(h)
    x = layers.Activation("sigmoid", dtype="float32")(h)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE)(x), name=name)


def mlp_discriminator(hidden=1024, dropout=0.0, name="discriminator"):
    """The article's discriminator: 784 -> 1024 -> 1024 -> 1 logit, LeakyReLU(0.2), optional dropout."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Flatten()(x)
    for units in _sizes(hidden):
        h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
        if dropout:
            h = layers.Dropout(dropout)(h)
    return keras.Model(x, layers.Dense(1, dtype="float32", name="logit")(h), name=name)


def dcgan_generator(latent_dim=100, filters=64, name="generator"):
    """TensorFlow's DCGAN-tutorial generator (widths 4f, 2f, f with f=64), sigmoid output."""
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(7 * 7 * 4 * filters, use_bias=False)(z)
    h = layers.LeakyReLU()(layers.BatchNormalization()(h))
    h = layers.Reshape((7, 7, 4 * filters))(h)
    h = layers.Conv2DTranspose(2 * filters, 5, strides=1, padding="same", use_bias=False)(h)
    h = layers.LeakyReLU()(layers.BatchNormalization()(h))
    h = layers.Conv2DTranspose(filters, 5, strides=2, padding="same", use_bias=False)(h)
    h = layers.LeakyReLU()(layers.BatchNormalization()(h))
    h = layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False)(h)
    return keras.Model(z, layers.Activation("sigmoid", dtype="float32")(h), name=name)


def dcgan_discriminator(filters=64, dropout=0.3, name="discriminator"):
    """TensorFlow's DCGAN-tutorial discriminator (conv f, 2f with f=64, 5x5 stride 2), one logit."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = x
    for f in (filters, 2 * filters):
        h = layers.Conv2D(f, 5, strides=2, padding="same")(h)
        h = layers.Dropout(dropout)(layers.LeakyReLU()(h))
    h = layers.Flatten()(h)
    return keras.Model(x, layers.Dense(1, dtype="float32", name="logit")(h), name=name)


def make_gan(kind="mlp", latent_dim=100, *, hidden=1024, filters=64, dropout=None,
             loss="non_saturating", label_smoothing=0.0, seed=None,
             d_optimizer=None, g_optimizer=None, **compile_kwargs):
    """A compiled ``GAN`` for 28x28x1 images in [0, 1].

    Args:
        kind: "mlp" (the article's MLP; ``hidden`` sets the hidden widths) or "dcgan"
            (TensorFlow's DCGAN tutorial; ``filters`` sets the widths).
        latent_dim: noise size.
        dropout: discriminator dropout rate (default 0 for "mlp", 0.3 for "dcgan").
        loss, label_smoothing, seed: see ``GAN``.
        d_optimizer, g_optimizer: default Adam(2e-4, beta_1=0.5) each.
        **compile_kwargs: e.g. ``steps_per_execution``, ``jit_compile``; defaults from
            ``gvutil.train.compile_defaults()``.
    """
    if kind == "mlp":
        generator = mlp_generator(latent_dim, hidden)
        discriminator = mlp_discriminator(hidden, dropout or 0.0)
    elif kind == "dcgan":
        generator = dcgan_generator(latent_dim, filters)
        discriminator = dcgan_discriminator(filters, 0.3 if dropout is None else dropout)
    else:
        raise ValueError(f"kind must be 'mlp' or 'dcgan'; received {kind!r}")
    gan = GAN(generator, discriminator, latent_dim, loss=loss, label_smoothing=label_smoothing,
              seed=seed, name=f"{kind}_gan")
    gan.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer, **_compile_kwargs(compile_kwargs))
    return gan


def mlp_encoder(latent_dim=20, hidden=512, name="encoder"):
    """Flatten -> Dense(hidden, relu)... -> [z_mean, z_log_var]."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Flatten()(x)
    for units in _sizes(hidden, 1):
        h = layers.Dense(units, activation="relu")(h)
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name=name)


def mlp_decoder(latent_dim=20, hidden=512, likelihood="bernoulli", name="decoder"):
    """Dense(hidden, relu)... -> 784 logits ("bernoulli") or sigmoid means ("gaussian"), as 28x28x1."""
    z = keras.Input((latent_dim,), name="z")
    h = z
    for units in reversed(_sizes(hidden, 1)):
        h = layers.Dense(units, activation="relu")(h)
    h = layers.Dense(_PIXELS, dtype="float32")(h)
    if likelihood == "gaussian":
        h = layers.Activation("sigmoid", dtype="float32")(h)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE, dtype="float32")(h), name=name)


def conv_encoder(latent_dim=2, filters=32, dense=16, name="encoder"):
    """The keras.io VAE encoder: conv f, 2f (3x3, stride 2, relu) -> Dense(16) -> [z_mean, z_log_var]."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(2 * filters, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Dense(dense, activation="relu")(layers.Flatten()(h))
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name=name)


def conv_decoder(latent_dim=2, filters=32, likelihood="bernoulli", name="decoder"):
    """The keras.io VAE decoder: Dense 7x7x2f -> deconv 2f, f (stride 2, relu) -> 1 channel."""
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(7 * 7 * 2 * filters, activation="relu")(z)
    h = layers.Reshape((7, 7, 2 * filters))(h)
    h = layers.Conv2DTranspose(2 * filters, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(1, 3, padding="same", dtype="float32")(h)
    if likelihood == "gaussian":
        h = layers.Activation("sigmoid", dtype="float32")(h)
    return keras.Model(z, h, name=name)


def make_vae(kind="mlp", latent_dim=None, *, hidden=512, filters=32, likelihood="bernoulli",
             beta=1.0, sigma=None, seed=None, optimizer=None, **compile_kwargs):
    """A compiled ``VAE`` for 28x28x1 images in [0, 1].

    Args:
        kind: "mlp" (``hidden`` widths, default 512) or "conv" (the keras.io example;
            ``filters`` sets the widths).
        latent_dim: default 20 for "mlp", 2 for "conv".
        likelihood, beta, sigma, seed: see ``VAE``.
        optimizer: default Adam(1e-3).
        **compile_kwargs: e.g. ``steps_per_execution``; defaults from
            ``gvutil.train.compile_defaults()``.
    """
    if kind == "mlp":
        latent_dim = 20 if latent_dim is None else latent_dim
        encoder = mlp_encoder(latent_dim, hidden)
        decoder = mlp_decoder(latent_dim, hidden, likelihood)
    elif kind == "conv":
        latent_dim = 2 if latent_dim is None else latent_dim
        encoder = conv_encoder(latent_dim, filters)
        decoder = conv_decoder(latent_dim, filters, likelihood)
    else:
        raise ValueError(f"kind must be 'mlp' or 'conv'; received {kind!r}")
    vae = VAE(encoder, decoder, likelihood=likelihood, beta=beta, sigma=sigma, seed=seed,
              name=f"{kind}_vae")
    vae.compile(optimizer=optimizer, **_compile_kwargs(compile_kwargs))
    return vae


def _compile_kwargs(overrides):
    from gvutil.train import compile_defaults

    return {**compile_defaults(), **overrides}
