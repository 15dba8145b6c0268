"""The book's GAN: the networks, losses and ``GAN`` class of sections 4.1 and 4.2.
Written by ``make library`` from the ``#@save`` cells of 04_gan_code and 04_gan_recipe; edit those.
"""

import keras
from keras import layers, ops

from gvutil.autodiff import value_and_grad
from gvutil.models.base import ImageModel, OptimizerPair, add_to_class, stateful_step

IMAGE_SHAPE = (28, 28, 1)  # MNIST: 28 x 28 pixels, one grey channel


def generator_output(h, output="tanh"):
    """Images in [0, 1] either way: "sigmoid" (the article's) or "tanh" rescaled (section 4.2)."""
    if output == "tanh":
        h = layers.Activation("tanh", dtype="float32")(h)
        return layers.Rescaling(0.5, offset=0.5, dtype="float32", name="to_unit_range")(h)
    if output == "sigmoid":
        return layers.Activation("sigmoid", dtype="float32")(h)
    raise ValueError(f"output must be 'tanh' or 'sigmoid'; received {output!r}")


def discriminator_input(x, signed=True):
    """A discriminator's first layer: images in [0, 1], mapped to [-1, 1] when `signed` (section 4.2)."""
    return layers.Rescaling(2.0, offset=-1.0, name="to_signed_range")(x) if signed else x


def mlp_generator(latent_dim=100, hidden=(1024, 1024), output="tanh", batchnorm=False,
                  name="generator"):
    """Noise -> one Dense layer per width in `hidden` (LeakyReLU 0.2, batch norm if asked) -> image."""
    z = keras.Input((latent_dim,), name="z")
    h = z
    for units in hidden:
        h = layers.Dense(units, use_bias=not batchnorm)(h)
        if batchnorm:
            h = layers.BatchNormalization()(h)
        h = layers.LeakyReLU(0.2)(h)
    x = generator_output(layers.Dense(784)(h), output)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE, dtype="float32")(x), name=name)


def mlp_discriminator(hidden=(1024, 1024), dropout=0.0, signed=True, name="discriminator"):
    """Image -> one Dense layer per width in `hidden` (LeakyReLU 0.2, dropout if asked) -> one logit."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Flatten()(discriminator_input(x, signed))
    for units in hidden:
        h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
        if dropout:
            h = layers.Dropout(dropout)(h)
    return keras.Model(x, layers.Dense(1, dtype="float32", name="logit")(h), name=name)


def discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """Mean cross-entropy of D on real images (target 1 - label_smoothing) plus on fakes (target 0)."""
    real_logits = ops.cast(real_logits, "float32")
    fake_logits = ops.cast(fake_logits, "float32")
    t = 1.0 - label_smoothing
    # -log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l): finite however sure D is
    real = t * ops.softplus(-real_logits) + (1.0 - t) * ops.softplus(real_logits)
    return ops.mean(real) + ops.mean(ops.softplus(fake_logits))


def generator_loss(fake_logits, objective="non_saturating"):
    """G's loss from D's logits on fakes: mean -log D(G(z)), or mean log(1 - D(G(z))) ("minimax")."""
    fake_logits = ops.cast(fake_logits, "float32")
    if objective == "minimax":
        return -ops.mean(ops.softplus(fake_logits))
    return ops.mean(ops.softplus(-fake_logits))


@keras.saving.register_keras_serializable(package="gvutil")
class GAN(ImageModel):
    """A generator and a discriminator, trained in turn by `fit(x)` on images in [0, 1]."""

    def __init__(self, generator, discriminator, latent_dim, objective="non_saturating",
                 label_smoothing=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if objective not in ("non_saturating", "minimax"):
            raise ValueError(f"objective must be 'non_saturating' or 'minimax'; received {objective!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1); received {label_smoothing}")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.objective = int(latent_dim), objective
        self.label_smoothing, self.seed = float(label_smoothing), seed
        # the networks' first inputs: the image and the noise (section 5.3's also take a label)
        self.image_shape = tuple(discriminator.inputs[0].shape[1:])
        if tuple(generator.outputs[0].shape[1:]) != self.image_shape:
            raise ValueError(f"the generator outputs shape {generator.outputs[0].shape} but the "
                             f"discriminator takes {discriminator.inputs[0].shape}")
        if tuple(generator.inputs[0].shape[1:]) != (self.latent_dim,):
            raise ValueError(f"the generator takes inputs of shape {generator.inputs[0].shape}, "
                             f"not (None, {self.latent_dim}) (latent_dim={self.latent_dim})")
        self.add_noise_streams(seed)  # training, sample() and evaluate() each draw their own noise
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "d_real", "d_fake")}

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """One optimizer per network, Adam(2e-4, beta_1=0.5) each unless given (DCGAN's)."""
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        # Keras' JAX trainer carries only `model.optimizer`'s variables through fit()
        # (keras-team/keras#18881): the pair stands for both optimizers there.
        pair = OptimizerPair((self.d_optimizer, self.discriminator), (self.g_optimizer, self.generator))
        super().compile(optimizer=pair, **kwargs)

    def call(self, z, training=False):
        """Images from latent vectors `z` of shape (n, latent_dim)."""
        return self.generator(z, training=training)

    def images_from_latents(self, z):
        return self.generator.predict_on_batch(z)

    def noise(self, n, training=True):
        """`n` latent vectors z ~ N(0, I), from the training stream or the evaluation stream."""
        seed = self.seed_generator if training else self.eval_seed_generator
        return keras.random.normal((n, self.latent_dim), seed=seed)


@add_to_class(GAN)
def d_objective(self, x, training=True):
    """D's loss on the real images `x` and as many fakes; also D's mean probability on each."""
    fake = self.generator(self.noise(ops.shape(x)[0], training), training=training)
    real_logits = ops.cast(self.discriminator(x, training=training), "float32")
    fake_logits = ops.cast(self.discriminator(fake, training=training), "float32")
    d_loss = discriminator_loss(real_logits, fake_logits, self.label_smoothing)
    return d_loss, (ops.mean(ops.sigmoid(real_logits)), ops.mean(ops.sigmoid(fake_logits)))


@add_to_class(GAN)
def g_objective(self, n, training=True):
    """G's loss on `n` fresh fakes, judged by the discriminator as it is now."""
    fake = self.generator(self.noise(n, training), training=training)
    return generator_loss(self.discriminator(fake, training=training), self.objective)


@add_to_class(GAN)
@stateful_step  # lets Keras' JAX trainer, which wants a pure function, run this code (keras-team/keras#18881)
def train_step(self, data):
    """One batch: a discriminator update, then a generator update against the new discriminator."""
    x = self.unpack_images(data)
    d_vars = self.discriminator.trainable_variables
    g_vars = self.generator.trainable_variables

    # 1. The discriminator: real images towards "real", the generator's fakes towards "fake".
    (d_loss, (d_real, d_fake)), grads = value_and_grad(lambda: self.d_objective(x), d_vars, has_aux=True)
    self.d_optimizer.apply(grads, d_vars)

    # 2. The generator: fresh noise, judged by the discriminator just updated.
    g_loss, grads = value_and_grad(lambda: self.g_objective(ops.shape(x)[0]), g_vars)
    self.g_optimizer.apply(grads, g_vars)
    return self.record(d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake)


@add_to_class(GAN)
@stateful_step
def test_step(self, data):
    """Both losses on a batch, without updates, with noise from the evaluation stream."""
    x = self.unpack_images(data)
    d_loss, (d_real, d_fake) = self.d_objective(x, training=False)
    g_loss = self.g_objective(ops.shape(x)[0], training=False)
    return self.record(d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake)


def dcgan_generator(latent_dim=100, filters=32, kernel=5, output="tanh", name="generator"):
    """Noise -> 7x7x2f -> two stride-2 transposed convolutions (f, then 1 channel) -> 28x28 image."""
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(7 * 7 * 2 * filters, use_bias=False)(z)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Reshape((7, 7, 2 * filters))(h)
    h = layers.Conv2DTranspose(filters, kernel, strides=2, padding="same", use_bias=False)(h)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Conv2DTranspose(1, kernel, strides=2, padding="same")(h)
    return keras.Model(z, generator_output(h, output), name=name)


def dcgan_discriminator(filters=32, kernel=5, dropout=0.0, signed=True, name="discriminator"):
    """Image -> two stride-2 convolutions (f, 2f channels, LeakyReLU 0.2) -> one logit."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = discriminator_input(x, signed)
    for f in (filters, 2 * filters):
        h = layers.LeakyReLU(0.2)(layers.Conv2D(f, kernel, strides=2, padding="same")(h))
        if dropout:
            h = layers.Dropout(dropout)(h)
    h = layers.Flatten()(h)
    return keras.Model(x, layers.Dense(1, dtype="float32", name="logit")(h), name=name)
