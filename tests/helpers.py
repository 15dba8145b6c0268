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
