"""The book's GAN and VAE (``gan.py``, ``vae.py``: the cells chapter 4 writes), and the builders the
later chapters use, each a compiled model for ``fit(x)`` on float images (n, 28, 28, 1) in [0, 1]:

>>> gan = make_gan("dcgan")                        # the book's recommended GAN
>>> article = make_gan("mlp", output="sigmoid")     # the source article's MLP GAN
>>> vae = make_vae("conv", latent_dim=2)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from gvutil.config import compile_defaults

from .gan import (GAN, IMAGE_SHAPE, dcgan_discriminator, dcgan_generator, discriminator_input,
                  discriminator_loss, generator_loss, generator_output, mlp_discriminator, mlp_generator)
from .vae import VAE, conv_decoder, conv_encoder, kl_divergence, mlp_decoder, mlp_encoder

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from keras.optimizers import Optimizer

__all__ = ["GAN", "VAE", "IMAGE_SHAPE", "make_gan", "make_vae", "generator_output", "discriminator_input",
           "discriminator_loss", "generator_loss", "kl_divergence", "mlp_generator", "mlp_discriminator",
           "dcgan_generator", "dcgan_discriminator", "mlp_encoder", "mlp_decoder", "conv_encoder", "conv_decoder"]

#: XLA on a TensorFlow CPU pays for its compilation (a few seconds per model) only for large dense
#: GANs trained for thousands of steps: the article's (3.8 million weights) and the recipe (2.95 million).
XLA_MIN_WEIGHTS = 1_000_000


def make_gan(kind: str = "dcgan", latent_dim: int = 100, *, hidden: int | Sequence[int] | None = None,
             filters: int | None = None, kernel: int | None = None, dropout: float = 0.0,
             output: str = "tanh", batchnorm: bool | None = None, objective: str = "non_saturating",
             label_smoothing: float = 0.0, seed: int | None = None, learning_rate: float = 2e-4,
             d_optimizer: Optimizer | None = None, g_optimizer: Optimizer | None = None,
             **compile_kwargs: Any) -> GAN:
    """A compiled ``GAN`` for 28x28x1 images in [0, 1].

    ``kind``: "dcgan" (``filters``, default 32, ``kernel``, default 5) or "mlp" (``hidden``, default
    1024: one width for two layers, or the generator's widths, which the discriminator mirrors;
    ``batchnorm`` in the generator); an argument of the other kind is refused. ``output``: "tanh"
    (networks in [-1, 1], images still in [0, 1]) or the article's "sigmoid" (discriminator on raw
    pixels). ``dropout`` in the discriminator; ``objective``, ``label_smoothing``, ``seed``: see ``GAN``;
    optimizers default to Adam(learning_rate, beta_1=0.5). ``compile_kwargs`` override
    ``compile_defaults()``, which adds XLA on a TensorFlow CPU for MLP GANs of at least
    ``XLA_MIN_WEIGHTS`` weights (1.26-1.37x faster there). The article's GAN is
    ``make_gan("mlp", output="sigmoid")``.
    """
    signed = output == "tanh"
    if kind == "mlp":
        _refuse("make_gan", kind, filters=filters, kernel=kernel)
        hidden = (1024, 1024) if hidden is None else (hidden, hidden) if isinstance(hidden, int) else tuple(hidden)
        generator = mlp_generator(latent_dim, hidden, output, bool(batchnorm))
        discriminator = mlp_discriminator(tuple(reversed(hidden)), dropout, signed)
    elif kind == "dcgan":
        _refuse("make_gan", kind, hidden=hidden, batchnorm=batchnorm)
        filters, kernel = 32 if filters is None else filters, 5 if kernel is None else kernel
        generator = dcgan_generator(latent_dim, filters, kernel, output)
        discriminator = dcgan_discriminator(filters, kernel, dropout, signed)
    else:
        raise ValueError(f"kind must be 'mlp' or 'dcgan'; received {kind!r}")
    gan = GAN(generator, discriminator, latent_dim, objective=objective,
              label_smoothing=label_smoothing, seed=seed, name=f"{kind}_gan")
    weights = generator.count_params() + discriminator.count_params()
    gan.compile(d_optimizer=d_optimizer or keras.optimizers.Adam(learning_rate, beta_1=0.5),
                g_optimizer=g_optimizer or keras.optimizers.Adam(learning_rate, beta_1=0.5),
                **{**compile_defaults(kind == "mlp" and weights >= XLA_MIN_WEIGHTS), **compile_kwargs})
    return gan


def make_vae(kind: str = "mlp", latent_dim: int | None = None, *,
             hidden: int | Sequence[int] | None = None, filters: int | None = None,
             likelihood: str = "bernoulli", beta: float = 1.0, sigma: float | None = None,
             seed: int | None = None, optimizer: Optimizer | None = None, **compile_kwargs: Any) -> VAE:
    """A compiled ``VAE`` for 28x28x1 images in [0, 1].

    ``kind``: "mlp" (``hidden`` widths, default 512: one int is one layer; latent_dim default 20) or
    "conv" (the keras.io example; ``filters``, default 32; latent_dim default 2); an argument of the
    other kind is refused. ``likelihood``, ``beta``, ``sigma``, ``seed``: see ``VAE``; ``optimizer``
    default Adam(1e-3); ``compile_kwargs`` override ``compile_defaults()``.
    """
    if kind == "mlp":
        _refuse("make_vae", kind, filters=filters)
        latent_dim = 20 if latent_dim is None else latent_dim
        hidden = (512,) if hidden is None else (hidden,) if isinstance(hidden, int) else tuple(hidden)
        encoder, decoder = mlp_encoder(latent_dim, hidden), mlp_decoder(latent_dim, hidden, likelihood)
    elif kind == "conv":
        _refuse("make_vae", kind, hidden=hidden)
        latent_dim = 2 if latent_dim is None else latent_dim
        filters = 32 if filters is None else filters
        encoder, decoder = conv_encoder(latent_dim, filters), conv_decoder(latent_dim, filters, likelihood)
    else:
        raise ValueError(f"kind must be 'mlp' or 'conv'; received {kind!r}")
    vae = VAE(encoder, decoder, likelihood=likelihood, beta=beta, sigma=sigma, seed=seed, name=f"{kind}_vae")
    vae.compile(optimizer=optimizer, **{**compile_defaults(), **compile_kwargs})
    return vae


def _refuse(builder, kind, **given):
    """A ValueError naming each argument given that the model ``kind`` has no use for."""
    wrong = ", ".join(f"{name}={value!r}" for name, value in given.items() if value is not None)
    if wrong:
        raise ValueError(f"{builder}(kind={kind!r}) has no use for {wrong}: "
                         f"{'these are' if ',' in wrong else 'it is'} an argument of another kind")
