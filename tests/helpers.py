"""Small models and data the unit tests share (one home: test_models.py, test_train.py and
test_core.py import them from here)."""

import numpy as np

from gvutil import models


def patterns(n=64, seed=0):
    """n float images in [0, 1]: four fixed binary patterns plus a little noise."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((4, 28, 28, 1)) > 0.7).astype("float32")
    x = protos[rng.integers(0, 4, n)] * 0.9 + 0.1 * rng.random((n, 28, 28, 1))
    return x.astype("float32")


def tiny_gan(seed=0, **kwargs):
    """The MLP GAN, shrunk (tanh output by default); with dropout in D (whose RNG state must be
    handled too)."""
    kwargs.setdefault("dropout", 0.25)
    return models.make_gan("mlp", latent_dim=8, hidden=16, seed=seed, **kwargs)


def tiny_vae(seed=0, **kwargs):
    """The MLP VAE, shrunk: a 2-D latent space and 16 hidden units unless told otherwise."""
    kwargs.setdefault("latent_dim", 2)
    kwargs.setdefault("hidden", 16)
    return models.make_vae("mlp", seed=seed, **kwargs)


def constructed_vae(cls=None, decoder=None, **kwargs):
    """A VAE (or ``cls``, a subclass) whose encoder gives, for an image x, mu = (x[0, 0], 0, 2) and
    log_var = (0, 0, 0): latent 0 follows the image, latent 1 is the prior (collapsed), latent 2 is moved
    away from the prior by the same amount for every image (KL 2, but it carries nothing about x).
    Per image, the KL of the three latents is x[0, 0]^2 / 2, 0 and 2."""
    import keras

    from gvutil.models.vae import VAE, mlp_decoder

    image = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(image)
    mean_layer, log_var_layer = keras.layers.Dense(3), keras.layers.Dense(3)
    encoder = keras.Model(image, [mean_layer(flat), log_var_layer(flat)])
    kernel = np.zeros((784, 3), "float32")
    kernel[0, 0] = 1.0
    mean_layer.set_weights([kernel, np.array([0.0, 0.0, 2.0], "float32")])
    log_var_layer.set_weights([np.zeros((784, 3), "float32"), np.zeros(3, "float32")])
    return (cls or VAE)(encoder, decoder or mlp_decoder(3, (4,)), **kwargs)


def constant_decoder(latent_dim, logit=0.5):
    """A decoder whose logits are ``logit`` for every pixel whatever z: p(x|z) = p(x)."""
    import keras

    z = keras.Input((latent_dim,))
    dense = keras.layers.Dense(784, kernel_initializer="zeros",
                               bias_initializer=keras.initializers.Constant(logit))
    return keras.Model(z, keras.layers.Reshape((28, 28, 1))(dense(z)))
