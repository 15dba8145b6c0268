"""The book's GAN and VAE as ``keras.Model`` subclasses, and builders for MNIST-sized ones.

Every builder returns a compiled model ready for ``fit(x)`` with ``x`` float images in
[0, 1] of shape ``(n, 28, 28, 1)``; compile keyword arguments can be overridden.

>>> gan = make_gan("dcgan")                        # the book's recommended GAN
>>> article = make_gan("mlp", output="sigmoid")     # the source article's MLP GAN
>>> vae = make_vae("conv", latent_dim=2)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Sequence, Union

import keras
from keras import layers

from gvutil.config import compile_defaults

from .gan import GAN
from .vae import VAE

if TYPE_CHECKING:
    from typing import Any

    from keras.optimizers import Optimizer

__all__ = ["GAN", "VAE", "IMAGE_SHAPE", "make_gan", "make_vae", "generator_output",
           "discriminator_input",
           "mlp_generator", "mlp_discriminator", "dcgan_generator", "dcgan_discriminator",
           "mlp_encoder", "mlp_decoder", "conv_encoder", "conv_decoder"]

IMAGE_SHAPE = (28, 28, 1)
_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2]


#: widths of hidden layers: one int (used for every layer) or one int per layer
Widths = Union[int, Sequence[int]]
GeneratorOutput = Literal["tanh", "sigmoid"]
Likelihood = Literal["bernoulli", "gaussian"]


def _sizes(hidden, default_depth=2):
    return (int(hidden),) * default_depth if isinstance(hidden, int) else tuple(int(h) for h in hidden)


GENERATOR_OUTPUTS = ("tanh", "sigmoid")


def generator_output(h: keras.KerasTensor, output: GeneratorOutput = "tanh") -> keras.KerasTensor:
    """The generator's last activation, always giving images in [0, 1].

    ``"tanh"``: the network works in [-1, 1] (tanh) and a fixed ``Rescaling`` layer maps that to
    [0, 1] on the way out, so the rest of the book sees ordinary [0, 1] images. ``"sigmoid"``:
    a sigmoid straight to [0, 1], as in the source article. Section 4.2's recipe study measures the
    difference: with the article's networks and budget, the tanh output (and the discriminator on
    [-1, 1]) lifts the classifier score from 1.98 to 4.36 (mean of three seeds).
    """
    if output == "tanh":
        h = layers.Activation("tanh", dtype="float32")(h)
        return layers.Rescaling(0.5, offset=0.5, dtype="float32", name="to_unit_range")(h)
    if output == "sigmoid":
        return layers.Activation("sigmoid", dtype="float32")(h)
    raise ValueError(f"output must be one of {GENERATOR_OUTPUTS}; received {output!r}")


def discriminator_input(x: keras.KerasTensor, signed: bool = True) -> keras.KerasTensor:
    """A discriminator's first layer: images in [0, 1], mapped to [-1, 1] when ``signed``
    (the range a tanh generator works in; zero-centred inputs also train faster)."""
    return layers.Rescaling(2.0, offset=-1.0, name="to_signed_range")(x) if signed else x


def mlp_generator(latent_dim: int = 100, hidden: Widths = 1024, output: GeneratorOutput = "tanh",
                  batchnorm: bool = False, name: str = "generator") -> keras.Model:
    """Fully connected generator: latent -> hidden... -> 784 -> image in [0, 1], LeakyReLU(0.2).

    ``hidden``: one width for two layers (the article: 1024, 1024) or a tuple of widths.
    ``batchnorm``: batch normalisation before each hidden activation.
    ``output``: see :func:`generator_output` (the article used "sigmoid").
    """
    z = keras.Input((latent_dim,), name="z")
    h = z
    for units in _sizes(hidden):
        h = layers.Dense(units, use_bias=not batchnorm)(h)
        if batchnorm:
            h = layers.BatchNormalization()(h)
        h = layers.LeakyReLU(0.2)(h)
    x = generator_output(layers.Dense(_PIXELS)(h), output)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE, dtype="float32")(x), name=name)


def mlp_discriminator(hidden: Widths = 1024, dropout: float = 0.0, signed: bool = True,
                      name: str = "discriminator") -> keras.Model:
    """Fully connected discriminator: 784 -> hidden... -> 1 logit, LeakyReLU(0.2), optional dropout.

    ``signed``: map the [0, 1] input to [-1, 1] first (see :func:`discriminator_input`).
    """
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Flatten()(discriminator_input(x, signed))
    for units in _sizes(hidden):
        h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
        if dropout:
            h = layers.Dropout(dropout)(h)
    return keras.Model(x, layers.Dense(1, dtype="float32", name="logit")(h), name=name)


def dcgan_generator(latent_dim: int = 100, filters: int = 32, kernel: int = 5,
                    output: GeneratorOutput = "tanh", name: str = "generator") -> keras.Model:
    """A small DCGAN generator (Radford et al., 2016): project to 7x7x2f, two stride-2 transposed
    convolutions (f channels, then 1) up to 28x28, batch norm and ReLU in between."""
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(7 * 7 * 2 * filters, use_bias=False)(z)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Reshape((7, 7, 2 * filters))(h)
    h = layers.Conv2DTranspose(filters, kernel, strides=2, padding="same", use_bias=False)(h)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Conv2DTranspose(1, kernel, strides=2, padding="same")(h)
    return keras.Model(z, generator_output(h, output), name=name)


def dcgan_discriminator(filters: int = 32, kernel: int = 5, dropout: float = 0.0, signed: bool = True,
                        name: str = "discriminator") -> keras.Model:
    """A small DCGAN discriminator: two stride-2 convolutions (f, 2f channels) with LeakyReLU(0.2),
    then one logit. ``signed``: see :func:`discriminator_input`."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = discriminator_input(x, signed)
    for f in (filters, 2 * filters):
        h = layers.LeakyReLU(0.2)(layers.Conv2D(f, kernel, strides=2, padding="same")(h))
        if dropout:
            h = layers.Dropout(dropout)(h)
    h = layers.Flatten()(h)
    return keras.Model(x, layers.Dense(1, dtype="float32", name="logit")(h), name=name)


def make_gan(kind: Literal["dcgan", "mlp"] = "dcgan", latent_dim: int = 100, *, hidden: Widths | None = None,
             filters: int | None = None, kernel: int | None = None, dropout: float = 0.0,
             output: GeneratorOutput = "tanh", batchnorm: bool | None = None, loss: Literal["non_saturating", "minimax"] = "non_saturating",
             label_smoothing: float = 0.0, seed: int | None = None, learning_rate: float = 2e-4,
             d_optimizer: Optimizer | str | None = None, g_optimizer: Optimizer | str | None = None,
             **compile_kwargs: Any) -> GAN:
    """A compiled ``GAN`` for 28x28x1 images in [0, 1].

    Args:
        kind: "dcgan" (convolutional; ``filters``, default 32, and ``kernel``, default 5, set its
            size) or "mlp" (fully connected; ``hidden``, default 1024, is one width for two layers
            or the generator's widths, which the discriminator mirrors, e.g. (256, 512, 1024) ->
            D 1024-512-256; ``batchnorm=True`` adds batch norm to the generator). An argument of
            the other kind is refused with a ValueError, not ignored. The article's GAN is
            ``make_gan("mlp", output="sigmoid")``; the book's recommended MLP GAN is
            ``make_gan("mlp", hidden=(256, 512, 1024), batchnorm=True, learning_rate=1e-3)``.
        latent_dim: noise size.
        dropout: discriminator dropout rate.
        output: "tanh" (the networks work in [-1, 1]; images still come out in [0, 1]) or
            "sigmoid" (the article's [0, 1] generator, discriminator on raw pixels).
        loss, label_smoothing, seed: see ``GAN``.
        learning_rate: of the two default optimizers, Adam(learning_rate, beta_1=0.5).
        d_optimizer, g_optimizer: optimizers to use instead.
        **compile_kwargs: e.g. ``steps_per_execution``, ``jit_compile``; defaults from
            ``gvutil.config.compile_defaults()`` (for an "mlp" GAN of at least
            ``XLA_MIN_WEIGHTS`` weights with XLA also on a TensorFlow CPU, where it trains the
            chapters' MLP GANs 1.26-1.37x faster).
    """
    signed = output == "tanh"
    if kind == "mlp":
        _refuse("make_gan", kind, filters=filters, kernel=kernel)
        hidden = 1024 if hidden is None else hidden
        generator = mlp_generator(latent_dim, hidden, output, bool(batchnorm))
        discriminator = mlp_discriminator(tuple(reversed(_sizes(hidden))), dropout, signed)
    elif kind == "dcgan":
        _refuse("make_gan", kind, hidden=hidden, batchnorm=batchnorm)
        filters, kernel = 32 if filters is None else filters, 5 if kernel is None else kernel
        generator = dcgan_generator(latent_dim, filters, kernel, output)
        discriminator = dcgan_discriminator(filters, kernel, dropout, signed)
    else:
        raise ValueError(f"kind must be 'mlp' or 'dcgan'; received {kind!r}")
    gan = GAN(generator, discriminator, latent_dim, loss=loss, label_smoothing=label_smoothing,
              seed=seed, name=f"{kind}_gan")
    gan.compile(d_optimizer=d_optimizer or keras.optimizers.Adam(learning_rate, beta_1=0.5),
                g_optimizer=g_optimizer or keras.optimizers.Adam(learning_rate, beta_1=0.5),
                **_compile_kwargs(compile_kwargs, xla_on_cpu=_xla_pays(kind, generator, discriminator)))
    return gan


#: XLA on a TensorFlow CPU pays for its compilation (a few seconds per model) only for large dense
#: GANs trained for thousands of steps: the article's (3.8 million weights) and the recipe (2.95 million).
XLA_MIN_WEIGHTS = 1_000_000


def _xla_pays(kind, generator, discriminator) -> bool:
    return kind == "mlp" and generator.count_params() + discriminator.count_params() >= XLA_MIN_WEIGHTS


def _gaussian_encoder(x, h, latent_dim, name):
    """The encoder ``x -> [z_mean, z_log_var]``: two linear heads (float32) on the features ``h``."""
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name=name)


def mlp_encoder(latent_dim: int = 20, hidden: Widths = 512, name: str = "encoder") -> keras.Model:
    """Flatten -> Dense(hidden, relu)... -> [z_mean, z_log_var]."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Flatten()(x)
    for units in _sizes(hidden, 1):
        h = layers.Dense(units, activation="relu")(h)
    return _gaussian_encoder(x, h, latent_dim, name)


def mlp_decoder(latent_dim: int = 20, hidden: Widths = 512, likelihood: Likelihood = "bernoulli",
                name: str = "decoder") -> keras.Model:
    """Dense(hidden, relu)... -> 784 logits ("bernoulli") or sigmoid means ("gaussian"), as 28x28x1."""
    z = keras.Input((latent_dim,), name="z")
    h = z
    for units in reversed(_sizes(hidden, 1)):
        h = layers.Dense(units, activation="relu")(h)
    h = layers.Dense(_PIXELS, dtype="float32")(h)
    if likelihood == "gaussian":
        h = layers.Activation("sigmoid", dtype="float32")(h)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE, dtype="float32")(h), name=name)


def conv_encoder(latent_dim: int = 2, filters: int = 32, dense: int = 16, name: str = "encoder") -> keras.Model:
    """The keras.io VAE encoder: conv f, 2f (3x3, stride 2, relu) -> Dense(16) -> [z_mean, z_log_var]."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(2 * filters, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Dense(dense, activation="relu")(layers.Flatten()(h))
    return _gaussian_encoder(x, h, latent_dim, name)


def conv_decoder(latent_dim: int = 2, filters: int = 32, likelihood: Likelihood = "bernoulli",
                 name: str = "decoder") -> keras.Model:
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


def make_vae(kind: Literal["mlp", "conv"] = "mlp", latent_dim: int | None = None, *,
             hidden: Widths | None = None, filters: int | None = None, likelihood: Likelihood = "bernoulli", beta: float = 1.0,
             sigma: float | None = None, seed: int | None = None, optimizer: Optimizer | str | None = None,
             **compile_kwargs: Any) -> VAE:
    """A compiled ``VAE`` for 28x28x1 images in [0, 1].

    Args:
        kind: "mlp" (``hidden`` widths, default 512) or "conv" (the keras.io example;
            ``filters``, default 32, sets the widths). An argument of the other kind is refused
            with a ValueError, not ignored.
        latent_dim: default 20 for "mlp", 2 for "conv".
        likelihood, beta, sigma, seed: see ``VAE``.
        optimizer: default Adam(1e-3).
        **compile_kwargs: e.g. ``steps_per_execution``; defaults from
            ``gvutil.config.compile_defaults()``.
    """
    if kind == "mlp":
        _refuse("make_vae", kind, filters=filters)
        latent_dim = 20 if latent_dim is None else latent_dim
        hidden = 512 if hidden is None else hidden
        encoder = mlp_encoder(latent_dim, hidden)
        decoder = mlp_decoder(latent_dim, hidden, likelihood)
    elif kind == "conv":
        _refuse("make_vae", kind, hidden=hidden)
        latent_dim = 2 if latent_dim is None else latent_dim
        filters = 32 if filters is None else filters
        encoder = conv_encoder(latent_dim, filters)
        decoder = conv_decoder(latent_dim, filters, likelihood)
    else:
        raise ValueError(f"kind must be 'mlp' or 'conv'; received {kind!r}")
    vae = VAE(encoder, decoder, likelihood=likelihood, beta=beta, sigma=sigma, seed=seed,
              name=f"{kind}_vae")
    vae.compile(optimizer=optimizer, **_compile_kwargs(compile_kwargs))
    return vae


def _refuse(builder, kind, **given):
    """A ValueError naming each argument given that the model ``kind`` has no use for."""
    wrong = ", ".join(f"{name}={value!r}" for name, value in given.items() if value is not None)
    if wrong:
        raise ValueError(f"{builder}(kind={kind!r}) has no use for {wrong}: "
                         f"{'these are' if ',' in wrong else 'it is'} an argument of another kind")


def _compile_kwargs(overrides, xla_on_cpu=False):
    return {**compile_defaults(xla_on_cpu), **overrides}
