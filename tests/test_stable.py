"""Section 5.2's techniques (gvutil.models.stable): averaging the generator, WGAN-GP, spectral
normalisation; and the gradient they need (gvutil.autodiff.input_gradient). Exact answers where
there are some; every test runs on the TensorFlow and the JAX backend."""

import keras
import numpy as np
import pytest
from keras import ops

import gvutil
from gvutil import train
from gvutil.autodiff import input_gradient, value_and_grad
from gvutil.models.gan import mlp_discriminator, mlp_generator
from gvutil.models.stable import (WGANGP, AveragedGAN, SNConv2D, SNDense, gradient_penalty, interpolate,
                                  spectrally_normalized)
from helpers import patterns


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def tiny_nets(seed=0):
    keras.utils.set_random_seed(seed)
    return mlp_generator(8, (16,), "tanh", batchnorm=True), mlp_discriminator((16,))


def linear_critic(w):
    """critic(x) = sum(w * x) per image: its gradient at every x is w."""
    x = keras.Input((28, 28, 1))
    h = keras.layers.Flatten()(x)
    dense = keras.layers.Dense(1, use_bias=False)
    critic = keras.Model(x, dense(h))
    dense.kernel.assign(np.reshape(w, (784, 1)).astype("float32"))
    return critic


# ------------------------------------------------------------------ the gradient at the input
def test_input_gradient_exact_and_as_a_loss_term():
    x = np.arange(6, dtype="float32").reshape(2, 3) / 5
    np.testing.assert_allclose(numpy(input_gradient(lambda x: ops.sum(x ** 3) / 3, x)), x ** 2, rtol=1e-6)
    # a loss made of that gradient, differentiated with respect to a variable (second derivatives):
    # L(w) = sum((w x)^2) for the gradient w x of sum(w x^2 / 2), so dL/dw = 2 w sum(x^2)
    w = keras.Variable(1.5)
    loss, (g,) = value_and_grad(lambda: ops.sum(input_gradient(lambda x: ops.sum(w * x ** 2) / 2, x) ** 2), [w])
    np.testing.assert_allclose(float(loss), 1.5 ** 2 * np.sum(x ** 2), rtol=1e-5)
    np.testing.assert_allclose(float(g), 2 * 1.5 * np.sum(x ** 2), rtol=1e-5)


# ------------------------------------------------------------------ WGAN-GP's penalty
def test_interpolates_use_one_uniform_weight_per_example():
    real, fake = np.ones((500, 28, 28, 1), "float32"), np.zeros((500, 28, 28, 1), "float32")
    mixed = numpy(interpolate(real, fake, seed=3))
    e = mixed[:, 0, 0, 0]
    np.testing.assert_array_equal(mixed, np.broadcast_to(e[:, None, None, None], mixed.shape))  # per example
    assert e.min() >= 0.0 and e.max() <= 1.0 and len(np.unique(e)) == 500  # uniform in [0, 1], not N(0, 1)
    assert abs(e.mean() - 0.5) < 0.05 and abs(e.var() - 1 / 12) < 0.015


def test_gradient_penalty_exact_for_a_linear_critic():
    """|grad| = |w| everywhere, so the penalty is (|w| - 1)^2 whatever the interpolates."""
    w = np.zeros(784, "float32")
    w[:9] = 1.0  # |w| = 3
    rng = np.random.default_rng(0)
    real, fake = rng.random((2, 8, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(float(gradient_penalty(linear_critic(w), real, fake, seed=0)), 4.0, rtol=1e-5)


def test_gradient_penalty_stays_finite_when_real_and_fake_coincide():
    """Identical batches and a critic flat there (zero weights): the gradient is 0, where the square
    root's derivative is 0/0. The penalty's own gradient must stay finite (keras-io#910)."""
    critic = linear_critic(np.zeros(784, "float32"))
    x = patterns(8)
    (penalty, grads) = value_and_grad(lambda: gradient_penalty(critic, x, x, seed=0), critic.trainable_variables)
    assert np.isfinite(float(penalty)) and abs(float(penalty) - 1.0) < 1e-5
    assert all(np.isfinite(numpy(g)).all() for g in grads)

    def without_epsilon():  # the same penalty with a bare square root: the test above can fail
        g = input_gradient(lambda x: ops.sum(critic(x)), x)
        return ops.mean(ops.square(ops.sqrt(ops.sum(ops.square(g), axis=(1, 2, 3))) - 1.0))
    _, bare = value_and_grad(without_epsilon, critic.trainable_variables)
    assert not np.isfinite(numpy(bare[0])).all()


# ------------------------------------------------------------------ averaging the generator
def test_averaged_generator_follows_the_ema_formula_exactly():
    gvutil.seed_everything(0)
    gan = AveragedGAN(*tiny_nets(), 8, ema_decay=0.9, seed=0)
    gan.compile()
    before = [numpy(w).copy() for w in gan.generator.weights]
    np.testing.assert_array_equal(numpy(gan.averaged.weights[0]), before[0])  # starts as the generator
    gan.train_on_batch(patterns(16))
    after = [numpy(w) for w in gan.generator.weights]
    assert any(np.abs(a - b).max() > 0 for a, b in zip(after, before))
    for a, w0, w1 in zip(gan.averaged.weights, before, after):
        np.testing.assert_allclose(numpy(a), 0.9 * w0 + 0.1 * w1, rtol=1e-5, atol=1e-7)
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    np.testing.assert_array_equal(gan.sample(3, seed=4), gan.sample(3, seed=4))
    np.testing.assert_allclose(gan.images_from_latents(z), numpy(gan.averaged(z)), atol=1e-6)


def test_averaging_does_not_change_training():
    """The average only reads the generator: the run's networks are those of chapter 4's GAN."""
    from gvutil.models import GAN

    x = train.dataset(patterns(64), 16, seed=0)
    runs = []
    for cls, extra in ((GAN, {}), (AveragedGAN, {"ema_decay": 0.99})):
        gvutil.seed_everything(0)
        gan = cls(*tiny_nets(), 8, seed=0, **extra)
        gan.compile()
        gan.fit(x, epochs=2, verbose=0)
        runs.append(gan)
    for a, b in zip(runs[0].generator.weights + runs[0].discriminator.weights,
                    runs[1].generator.weights + runs[1].discriminator.weights):
        np.testing.assert_allclose(numpy(a), numpy(b), atol=1e-6)


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5, -0.1])
def test_averaging_refuses_a_decay_outside_zero_one(decay):
    with pytest.raises(ValueError, match="ema_decay must be strictly between 0 and 1"):
        AveragedGAN(*tiny_nets(), 8, ema_decay=decay)


def test_without_an_average_the_generator_is_sampled():
    gan = AveragedGAN(*tiny_nets(), 8, ema_decay=None, seed=0)
    gan.compile()
    assert gan.averaged is None
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    np.testing.assert_array_equal(gan.images_from_latents(z), gan.generator.predict_on_batch(z))


def test_averaged_gan_keras_round_trip(tmp_path):
    gvutil.seed_everything(0)
    gan = AveragedGAN(*tiny_nets(), 8, ema_decay=0.95, seed=0)
    gan.compile()
    gan.fit(train.dataset(patterns(32), 16, seed=0), epochs=1, verbose=0)
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras")
    assert isinstance(loaded, AveragedGAN) and loaded.ema_decay == 0.95
    for a, b in zip(loaded.averaged.weights + loaded.generator.weights, gan.averaged.weights + gan.generator.weights):
        np.testing.assert_array_equal(numpy(a), numpy(b))
    np.testing.assert_array_equal(loaded.sample(3, seed=5), gan.sample(3, seed=5))


# ------------------------------------------------------------------ WGAN-GP
def test_wgan_gp_takes_n_critic_critic_steps_per_generator_step():
    gvutil.seed_everything(0)
    gan = WGANGP(*tiny_nets(), 8, n_critic=3, ema_decay=0.9, seed=0)
    gan.compile()
    logs = gan.train_on_batch(patterns(24), return_dict=True)
    assert int(gan.d_optimizer.iterations) == 3 and int(gan.g_optimizer.iterations) == 1
    assert set(logs) == {"c_loss", "g_loss", "distance", "penalty"}
    assert all(np.isfinite(v) for v in logs.values())
    history = gan.fit(train.dataset(patterns(96), 24, seed=0), epochs=2, verbose=0)
    assert int(gan.g_optimizer.iterations) == 1 + 8 and int(gan.d_optimizer.iterations) == 3 * 9
    assert np.isfinite(history.history["c_loss"]).all()
    assert set(gan.evaluate(patterns(24), verbose=0, return_dict=True)) == set(logs)


@pytest.mark.parametrize("n_critic", [0, -1, 1.5, True])
def test_wgan_gp_refuses_n_critic_below_one_or_fractional(n_critic):
    with pytest.raises(ValueError, match="n_critic must be a whole number >= 1"):
        WGANGP(*tiny_nets(), 8, n_critic=n_critic)


def test_wgan_gp_refuses_a_negative_penalty_weight():
    with pytest.raises(ValueError, match="gp_weight must be >= 0"):
        WGANGP(*tiny_nets(), 8, gp_weight=-1.0)


def test_wgan_gp_keras_round_trip(tmp_path):
    gan = WGANGP(*tiny_nets(), 8, n_critic=2, gp_weight=5.0, seed=0)
    gan.compile()
    gan.train_on_batch(patterns(16))
    gan.save(tmp_path / "wgan.keras")
    loaded = keras.saving.load_model(tmp_path / "wgan.keras")
    assert (loaded.n_critic, loaded.gp_weight, loaded.ema_decay) == (2, 5.0, None)
    np.testing.assert_array_equal(loaded.sample(3, seed=1), gan.sample(3, seed=1))


# ------------------------------------------------------------------ spectral normalisation
@pytest.mark.parametrize("layer", ["dense", "conv"])
def test_spectral_normalisation_divides_by_the_largest_singular_value(layer):
    keras.utils.set_random_seed(0)
    if layer == "dense":
        sn, x = SNDense(5), np.random.default_rng(0).normal(size=(4, 7)).astype("float32")
    else:
        sn, x = SNConv2D(3, 3, padding="same"), np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32")
    sn(x)
    kernel = numpy(sn.kernel)
    sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
    for _ in range(100):  # the power iteration converges over training calls
        sn(x, training=True)
    np.testing.assert_allclose(numpy(sn.normalized_kernel(False)), kernel / sigma, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(numpy(sn.kernel), kernel)  # the kernel itself is never overwritten
    plain = (keras.layers.Dense(5) if layer == "dense" else keras.layers.Conv2D(3, 3, padding="same"))
    plain(x)
    plain.set_weights([kernel / sigma, numpy(sn.bias)])
    np.testing.assert_allclose(numpy(sn(x)), numpy(plain(x)), rtol=1e-4, atol=1e-5)


def test_spectral_normalisation_differentiates_through_sigma():
    """d/dW of sum(x W / sigma(W)) is not x / sigma: sigma depends on W too (Miyato et al., eq. 12)."""
    keras.utils.set_random_seed(0)
    sn = SNDense(1, use_bias=False)
    x = np.ones((1, 3), "float32")
    sn(x)
    sn.kernel.assign(np.array([[3.0], [0.0], [4.0]], "float32"))  # sigma = |w| = 5 for one column
    for _ in range(3):
        sn(x, training=True)
    _, (g,) = value_and_grad(lambda: ops.sum(sn(x)), [sn.kernel])
    w = np.array([3.0, 0.0, 4.0])
    exact = np.ones(3) / 5 - w.sum() * w / 5 ** 3  # d/dw (1.w / |w|)
    np.testing.assert_allclose(numpy(g)[:, 0], exact, rtol=1e-4, atol=1e-6)


def test_spectrally_normalized_network_swaps_layers_and_round_trips(tmp_path):
    _, d = tiny_nets()
    sn = spectrally_normalized(d)
    kinds = [type(layer).__name__ for layer in sn.layers]
    assert "Dense" not in kinds and kinds.count("SNDense") == 2 and sn.output_shape == d.output_shape
    assert not any(isinstance(layer, SNDense) for layer in d.layers)  # the original is left alone
    x = patterns(4)
    sn(x, training=True)
    sn.save(tmp_path / "sn.keras")
    loaded = keras.saving.load_model(tmp_path / "sn.keras")
    np.testing.assert_array_equal(numpy(loaded(x)), numpy(sn(x)))
    np.testing.assert_array_equal(numpy(loaded.layers[-1].u), numpy(sn.layers[-1].u))


def test_why_the_book_does_not_use_keras_spectral_normalization():
    """Section 5.2's claim: Keras' wrapper overwrites the kernel in a training call on TensorFlow (the
    gradient then ignores sigma); on JAX, inside value_and_grad, the write is dropped and the gradient
    flows through sigma. If Keras changes this, the page's paragraph must change too."""
    keras.utils.set_random_seed(0)
    wrapped = keras.layers.SpectralNormalization(keras.layers.Dense(4))
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    wrapped(x)
    before = numpy(wrapped.layer.kernel).copy()
    _, (g, _) = value_and_grad(lambda: ops.sum(wrapped(x, training=True)), wrapped.layer.trainable_variables)
    overwritten = np.abs(numpy(wrapped.layer.kernel) - before).max() > 1e-3
    sigma_held_fixed = np.allclose(numpy(g), x.sum(axis=0)[:, None] * np.ones((1, 4)), atol=1e-5)
    if keras.backend.backend() == "tensorflow":
        assert overwritten and sigma_held_fixed
    else:
        assert not overwritten and not sigma_held_fixed
