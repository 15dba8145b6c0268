"""A conditional GAN: the networks and ``ConditionalGAN`` class of section 5.3.
Written by ``make library`` from the ``#@save`` cells of 05_cgan; edit those.
"""

import keras
import numpy as np
from keras import layers, ops

from gvutil.autodiff import value_and_grad
from gvutil.data import check_labels
from gvutil.models.base import add_to_class, stateful_step
from gvutil.models.gan import (IMAGE_SHAPE, discriminator_input, discriminator_loss, generator_loss,
                               generator_output)
from gvutil.models.stable import AveragedGAN


def conditional_mlp_generator(latent_dim=100, hidden=(256, 512, 1024), num_classes=10, name="generator"):
    """(noise, label) -> image: section 4.2's recipe generator on the noise beside the label's one-hot."""
    z = keras.Input((latent_dim,), name="z")
    y = keras.Input((), dtype="int32", name="label")
    h = layers.Concatenate()([z, ops.one_hot(y, num_classes)])
    for units in hidden:
        h = layers.LeakyReLU(0.2)(layers.BatchNormalization()(layers.Dense(units, use_bias=False)(h)))
    x = generator_output(layers.Dense(784)(h), "tanh")
    return keras.Model([z, y], layers.Reshape(IMAGE_SHAPE, dtype="float32")(x), name=name)


def projection_discriminator(hidden=(1024, 512, 256), num_classes=10, name="discriminator"):
    """(image, label) -> logit psi(h) + embed(label) . h, h the features of section 4.2's discriminator
    (the projection discriminator of Miyato and Koyama, 2018)."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    y = keras.Input((), dtype="int32", name="label")
    h = layers.Flatten()(discriminator_input(x))
    for units in hidden:
        h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
    projection = ops.sum(layers.Embedding(num_classes, hidden[-1])(y) * h, axis=-1, keepdims=True)
    logit = layers.Add(dtype="float32", name="logit")([layers.Dense(1)(h), projection])
    return keras.Model([x, y], logit, name=name)


@keras.saving.register_keras_serializable(package="gvutil")
class ConditionalGAN(AveragedGAN):
    """A GAN whose two networks also take the digit (Mirza and Osindero, 2014), trained by
    `fit(train.dataset(x, labels=y))`; `sample(n, labels=...)` draws the digits asked for."""

    def __init__(self, generator, discriminator, latent_dim, num_classes=10, ema_decay=0.999, **kwargs):
        super().__init__(generator, discriminator, latent_dim, ema_decay=ema_decay, **kwargs)
        self.num_classes = int(num_classes)

    def unpack(self, data):
        """The images and labels of a batch `(x, y)`."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError("a ConditionalGAN trains on (images, labels): use train.dataset(x, labels=y)")
        return self.unpack_images(x), ops.cast(y, "int32")

    def sample(self, n, seed=None, labels=None, batch_size=1000):
        """`n` images of the digits `labels` (default: 0, 1, ..., 9, 0, 1, ...), from the average."""
        labels = np.arange(n) % self.num_classes if labels is None else labels
        return super().sample(n, seed, batch_size, labels=check_labels(labels, n, "labels", self.num_classes))

    def images_from_latents(self, z, labels):
        """The images of the digits `labels` for the latent vectors `z`, from the average if kept."""
        labels = check_labels(labels, len(z), "labels", self.num_classes)
        return (self.averaged or self.generator).predict_on_batch([z, labels])


@add_to_class(ConditionalGAN)
def d_objective(self, x, y, training=True):
    """D's loss on real pairs (x, y) and on fakes of the same digits y; D's mean probability on each."""
    fake = self.generator([self.noise(ops.shape(x)[0], training), y], training=training)
    real_logits = self.discriminator([x, y], training=training)
    fake_logits = self.discriminator([fake, y], training=training)
    d_loss = discriminator_loss(real_logits, fake_logits, self.label_smoothing)
    return d_loss, (ops.mean(ops.sigmoid(real_logits)), ops.mean(ops.sigmoid(fake_logits)))


@add_to_class(ConditionalGAN)
def g_objective(self, y, training=True):
    """G's loss on fresh fakes of the digits y, judged as those digits."""
    fake = self.generator([self.noise(ops.shape(y)[0], training), y], training=training)
    return generator_loss(self.discriminator([fake, y], training=training), self.objective)


@add_to_class(ConditionalGAN)
@stateful_step
def train_step(self, data):
    """Chapter 4's step with labels: D on (image, digit) pairs, then G on fakes of the same digits."""
    x, y = self.unpack(data)
    d_vars = self.discriminator.trainable_variables
    g_vars = self.generator.trainable_variables

    # 1. The discriminator: real pairs towards "real", fakes of the batch's digits towards "fake".
    (d_loss, (d_real, d_fake)), grads = value_and_grad(lambda: self.d_objective(x, y), d_vars, has_aux=True)
    self.d_optimizer.apply(grads, d_vars)

    # 2. The generator: fresh noise for the same digits, judged by the discriminator just updated.
    g_loss, grads = value_and_grad(lambda: self.g_objective(y), g_vars)
    self.g_optimizer.apply(grads, g_vars)

    # 3. The average of the generator's weights.
    self.average()
    return self.record(d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake)


@add_to_class(ConditionalGAN)
@stateful_step
def test_step(self, data):
    """Both losses on a labelled batch, without updates, with noise from the evaluation stream."""
    x, y = self.unpack(data)
    d_loss, (d_real, d_fake) = self.d_objective(x, y, training=False)
    g_loss = self.g_objective(y, training=False)
    return self.record(d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake)
