"""GANs after the article: the averaged generator, WGAN-GP and spectral normalisation of section 5.2.
Written by ``make library`` from the ``#@save`` cells of 05_gan_techniques; edit those.
"""

import keras
from keras import layers, ops

from gvutil.autodiff import input_gradient, value_and_grad
from gvutil.models.base import add_to_class, stateful_step
from gvutil.models.gan import GAN


def check_decay(ema_decay):
    """None (no average) or a decay strictly between 0 and 1."""
    if ema_decay is not None and not 0.0 < float(ema_decay) < 1.0:
        raise ValueError(f"ema_decay must be strictly between 0 and 1 (or None); received {ema_decay}")
    return None if ema_decay is None else float(ema_decay)


@keras.saving.register_keras_serializable(package="gvutil")
class AveragedGAN(GAN):
    """Chapter 4's GAN, plus an exponential moving average of its generator's weights (Yazici et al.,
    2019) that `sample()` draws from. `ema_decay=None` keeps no average and samples the generator."""

    def __init__(self, generator, discriminator, latent_dim, ema_decay=0.999, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.ema_decay = check_decay(ema_decay)
        self.averaged = None
        if self.ema_decay is not None:
            self.averaged = keras.models.clone_model(generator)  # same layers, fresh weights...
            self.averaged.set_weights(generator.get_weights())   # ...set to the generator's
            self.averaged.trainable = False                      # moved by average(), never by an optimizer

    def average(self):
        """One step of the average: a <- decay * a + (1 - decay) * w, for every weight of the generator."""
        if self.averaged is None:
            return
        for a, w in zip(self.averaged.weights, self.generator.weights):
            a.assign(self.ema_decay * a + (1.0 - self.ema_decay) * w)

    def images_from_latents(self, z):
        return (self.averaged or self.generator).predict_on_batch(z)


@add_to_class(AveragedGAN)
@stateful_step
def train_step(self, data):
    """Chapter 4's step (the discriminator, then the generator), then the average follows the generator."""
    logs = GAN.train_step.__wrapped__(self, data)
    self.average()
    return logs


def interpolate(real, fake, seed):
    """Points on the lines between real and fake images: one weight e ~ U(0, 1) per example."""
    e = keras.random.uniform((ops.shape(real)[0], 1, 1, 1), seed=seed)
    return e * real + (1.0 - e) * fake


def gradient_penalty(critic, real, fake, seed):
    """Mean (|grad_x critic(x)| - 1)^2 at interpolates x (Gulrajani et al., 2017). The square root
    gets a tiny epsilon: at a zero gradient its derivative would be 0/0 = NaN."""
    x = interpolate(real, fake, seed)
    grads = input_gradient(lambda x: ops.sum(critic(x)), x)  # no layer of a critic differs in training
    norms = ops.sqrt(ops.sum(ops.square(grads), axis=(1, 2, 3)) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


@keras.saving.register_keras_serializable(package="gvutil")
class WGANGP(AveragedGAN):
    """A Wasserstein GAN with gradient penalty (Gulrajani et al., 2017): the discriminator is a critic
    with an unbounded score; `n_critic` critic updates, each on its own slice of the batch, per
    generator update. `ema_decay` as in AveragedGAN (None: no average)."""

    def __init__(self, generator, discriminator, latent_dim, n_critic=5, gp_weight=10.0,
                 ema_decay=None, seed=None, **kwargs):
        super().__init__(generator, discriminator, latent_dim, ema_decay=ema_decay, seed=seed, **kwargs)
        if isinstance(n_critic, bool) or int(n_critic) != n_critic or n_critic < 1:
            raise ValueError(f"n_critic must be a whole number >= 1; received {n_critic!r}")
        if not gp_weight >= 0.0:
            raise ValueError(f"gp_weight must be >= 0; received {gp_weight}")
        self.n_critic, self.gp_weight = int(n_critic), float(gp_weight)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("c_loss", "g_loss", "distance", "penalty")}

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Adam(1e-4, beta_1=0, beta_2=0.9) for each network unless given (the paper's)."""
        super().compile(d_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9),
                        g_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9), **kwargs)


@add_to_class(WGANGP)
def c_objective(self, x, training=True):
    """The critic's loss: mean score of fakes - mean score of reals + gp_weight * penalty."""
    fake = self.generator(self.noise(ops.shape(x)[0], training), training=training)
    distance = ops.mean(self.discriminator(x, training=training)) - ops.mean(
        self.discriminator(fake, training=training))
    seed = self.seed_generator if training else self.eval_seed_generator
    penalty = gradient_penalty(self.discriminator, x, fake, seed)
    return -distance + self.gp_weight * penalty, (distance, penalty)


@add_to_class(WGANGP)
def g_objective(self, n, training=True):
    """The generator's loss: minus the critic's mean score of `n` fresh fakes."""
    fake = self.generator(self.noise(n, training), training=training)
    return -ops.mean(ops.cast(self.discriminator(fake, training=training), "float32"))


@add_to_class(WGANGP)
@stateful_step
def train_step(self, data):
    """n_critic critic updates, each on the next slice of the batch; one generator update; the average."""
    x = self.unpack_images(data)
    b = ops.shape(x)[0] // self.n_critic  # each critic update sees b images of its own
    c_vars = self.discriminator.trainable_variables
    g_vars = self.generator.trainable_variables

    # 1. The critic, n_critic times: reals' scores up, fakes' down, gradients near norm 1.
    for i in range(self.n_critic):
        (c_loss, (distance, penalty)), grads = value_and_grad(
            lambda: self.c_objective(x[i * b:(i + 1) * b]), c_vars, has_aux=True)
        self.d_optimizer.apply(grads, c_vars)

    # 2. The generator: fresh noise, judged by the critic just updated.
    g_loss, grads = value_and_grad(lambda: self.g_objective(b), g_vars)
    self.g_optimizer.apply(grads, g_vars)

    # 3. The average of the generator's weights, if kept.
    self.average()
    return self.record(c_loss=c_loss, g_loss=g_loss, distance=distance, penalty=penalty)


@add_to_class(WGANGP)
@stateful_step
def test_step(self, data):
    """The critic's loss terms and the generator's loss on a batch, without updates."""
    x = self.unpack_images(data)
    c_loss, (distance, penalty) = self.c_objective(x, training=False)
    g_loss = self.g_objective(ops.shape(x)[0], training=False)
    return self.record(c_loss=c_loss, g_loss=g_loss, distance=distance, penalty=penalty)


def power_iteration(w, u):
    """One step of the power method on the matrix `w` (fan-in x fan-out) from the estimate `u`:
    the new estimate and sigma, w's largest singular value, as a differentiable function of w."""
    v = ops.stop_gradient(ops.normalize(ops.matmul(u, ops.transpose(w)), axis=-1))
    u = ops.stop_gradient(ops.normalize(ops.matmul(v, w), axis=-1))
    return u, ops.sum(ops.matmul(v, w) * u)


class SpectralNormalized:
    """Mixin for a layer with a `kernel`: `normalized_kernel()` is kernel / sigma(kernel) (Miyato et
    al., 2018), sigma estimated by one power iteration per training call, the gradient flowing
    through sigma. The estimate `u` is a non-trainable weight, saved with the layer."""

    def build(self, input_shape):
        super().build(input_shape)
        self.u = self.add_weight(shape=(1, self.kernel.shape[-1]), trainable=False, name="sn_u",
                                 initializer=keras.initializers.RandomNormal(seed=0))

    def normalized_kernel(self, training):
        w = ops.reshape(self.kernel, (-1, self.kernel.shape[-1]))
        u, sigma = power_iteration(w, self.u)
        if training:
            self.u.assign(u)
        return self.kernel / sigma

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["sn_u"] = self.u

    def load_own_variables(self, store):
        super().load_own_variables(store)  # the kernel and bias by their indices; sn_u by its name:
        self.u.assign(store["sn_u"])


@keras.saving.register_keras_serializable(package="gvutil")
class SNDense(SpectralNormalized, layers.Dense):
    """`layers.Dense` with a spectrally normalised kernel."""

    def call(self, inputs, training=False):
        y = ops.matmul(inputs, self.normalized_kernel(training))
        return self.activation(y + self.bias if self.use_bias else y)


@keras.saving.register_keras_serializable(package="gvutil")
class SNConv2D(SpectralNormalized, layers.Conv2D):
    """`layers.Conv2D` (channels last) with a spectrally normalised kernel."""

    def call(self, inputs, training=False):
        y = self.convolution_op(inputs, self.normalized_kernel(training))
        return self.activation(y + self.bias if self.use_bias else y)


def spectrally_normalized(network):
    """A copy of `network` (fresh weights) whose Dense and Conv2D layers are SNDense and SNConv2D."""
    swap = {layers.Dense: SNDense, layers.Conv2D: SNConv2D}

    def clone(layer):
        return swap.get(type(layer), type(layer)).from_config(layer.get_config())

    return keras.models.clone_model(network, clone_function=clone)
