"""Section 5.4's VAE options (gvutil.models.iwae): training on the importance-weighted bound L_k, and
free bits. Exact answers on constructed models; every test runs on the TensorFlow and the JAX backend."""

import math

import keras
import numpy as np
import pytest
from keras import ops

import gvutil
from gvutil import train
from gvutil.models.iwae import IWAE, kl_per_dimension, log_normal
from gvutil.models.vae import VAE, mlp_decoder, mlp_encoder
from helpers import constant_decoder, constructed_vae, patterns


def numpy(x):
    return ops.convert_to_numpy(x)


def binary_images(n=6, seed=0):
    return (patterns(n, seed) > 0.5).astype("float32")


def prior_encoder(latent_dim=3):
    """q(z|x) = N(0, I) for every image: the prior itself."""
    x = keras.Input((28, 28, 1))
    h = keras.layers.Flatten()(x)
    heads = [keras.layers.Dense(latent_dim, kernel_initializer="zeros")(h) for _ in range(2)]
    return keras.Model(x, heads)


def test_log_normal_and_kl_per_dimension_against_scipy_free_formulas():
    z = np.array([[0.5, -1.0]], "float32")
    mean, log_var = np.array([[0.0, 1.0]], "float32"), np.array([[0.0, math.log(4.0)]], "float32")
    expected = (-0.5 * 0.25 - 0.5 * math.log(2 * math.pi)) + (-0.5 * 4.0 / 4.0 - 0.5 * math.log(2 * math.pi * 4.0))
    np.testing.assert_allclose(numpy(log_normal(z, mean, log_var)), [expected], rtol=1e-6)
    # KL(N(1, 4) || N(0, 1)) = (4 + 1 - 1 - log 4) / 2 per dimension; N(0, 1) has none
    np.testing.assert_allclose(numpy(kl_per_dimension(mean, log_var)), [[0.0, (4.0 - math.log(4.0)) / 2]], rtol=1e-6)


@pytest.mark.parametrize("k", [1, 5, 50])
def test_with_the_exact_posterior_every_bound_is_log_p_x(k):
    # The decoder ignores z, so p(z|x) = p(z) = q(z|x): every importance weight is p(x) exactly, and the
    # loss is -log p(x) = sum over pixels of softplus(l) - x l, whatever k and the draws.
    x = binary_images()
    vae = IWAE(prior_encoder(), constant_decoder(3, logit=0.5), k=k, seed=0)
    loss, (reconstruction, kl, elbo) = vae.objective(ops.convert_to_tensor(x))
    log_px = (x.reshape(len(x), -1) * 0.5 - math.log1p(math.exp(0.5))).sum(axis=1)
    np.testing.assert_allclose(numpy(loss), -log_px.mean(), rtol=1e-6)
    np.testing.assert_allclose(numpy(elbo), log_px, rtol=1e-6)
    np.testing.assert_allclose(numpy(kl), 0.0, atol=1e-5)
    np.testing.assert_allclose(numpy(reconstruction), -log_px, rtol=1e-6)


def test_log_weights_have_one_row_per_draw_and_the_prior_ratio_of_a_shifted_posterior():
    # q(z|x) = N((x00, 0, 2), I): log p(z) - log q(z|x) = -mu.eps - |mu|^2 / 2 with z = mu + eps; its
    # mean over many draws is -KL = -(x00^2/2 + 2).
    x = np.zeros((4, 28, 28, 1), "float32")
    x[:2, 0, 0, 0] = 1.0
    vae = constructed_vae(IWAE, k=4000, seed=0)
    log_px_z, ratio = vae.log_weights(ops.convert_to_tensor(x))
    assert tuple(log_px_z.shape) == (4000, 4) and tuple(ratio.shape) == (4000, 4)
    np.testing.assert_allclose(numpy(ratio).mean(axis=0), [-2.5, -2.5, -2.0, -2.0], atol=0.1)
    assert numpy(ratio).std(axis=0)[0] > 1.0  # draws differ (std of -mu.eps is |mu| = sqrt(5))


def test_the_bound_lies_between_the_elbo_and_zero_on_the_same_draws():
    gvutil.seed_everything(0)
    x = ops.convert_to_tensor(binary_images(8))
    vae = IWAE(mlp_encoder(4, (16,)), mlp_decoder(4, (16,)), k=10, seed=0)
    loss, (reconstruction, kl, elbo) = vae.objective(x)
    # log mean exp >= mean log, image by image: so -loss >= mean ELBO (strictly, the draws differ)
    assert -float(numpy(loss)) > float(numpy(elbo).mean())
    np.testing.assert_allclose(numpy(elbo), -(numpy(reconstruction) + numpy(kl)), rtol=1e-5)


def test_k1_without_free_bits_is_section_4_3s_vae_step_for_step():
    x = binary_images(64)
    histories = []
    for cls in (VAE, IWAE):
        gvutil.seed_everything(0)
        vae = cls(mlp_encoder(4, (16,)), mlp_decoder(4, (16,)), seed=0)
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        h = vae.fit(x, batch_size=16, epochs=2, shuffle=False, verbose=0)
        histories.append((h.history, [w.copy() for w in vae.get_weights()]))
    (h_vae, w_vae), (h_iwae, w_iwae) = histories
    for name in ("loss", "elbo", "kl", "reconstruction"):
        np.testing.assert_allclose(h_iwae[name], h_vae[name], rtol=1e-5)
    for a, b in zip(w_vae, w_iwae):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_free_bits_floor_each_dimensions_batch_mean_kl():
    # Batch-mean KL per latent: (0.25, 0, 2) for images half with x00 = 1. Free bits of 1 nat count
    # max(., 1): 1 + 1 + 2 = 4 nats instead of 2.25, times beta; reconstruction and logged KL unchanged.
    x = np.zeros((10, 28, 28, 1), "float32")
    x[:5, 0, 0, 0] = 1.0
    x = ops.convert_to_tensor(x)
    losses, reconstructions = {}, {}
    decoder = mlp_decoder(3, (4,))
    for free_bits in (0.0, 1.0):
        vae = constructed_vae(IWAE, decoder=decoder, free_bits=free_bits, beta=2.0, seed=0)
        loss, (reconstruction, kl, _) = vae.objective(x, training=False)
        losses[free_bits], reconstructions[free_bits] = float(numpy(loss)), numpy(reconstruction)
        np.testing.assert_allclose(numpy(kl), np.array([0.5] * 5 + [0.0] * 5) + 2.0, atol=1e-6)  # the true KL
    np.testing.assert_array_equal(reconstructions[0.0], reconstructions[1.0])  # the same draws, the same decoder
    np.testing.assert_allclose(losses[1.0] - losses[0.0], 2.0 * (4.0 - 2.25), rtol=1e-5)


@pytest.mark.parametrize("k", [1, 5])
def test_fit_improves_the_bound_and_logs_each_term(k):
    gvutil.seed_everything(0)
    x = binary_images(256)
    vae = IWAE(mlp_encoder(4, (32,)), mlp_decoder(4, (32,)), k=k, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = vae.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    history = vae.fit(train.BinarizedImages(x, batch_size=64, seed=0), epochs=8, verbose=0).history
    after = vae.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    assert set(history) == {"loss", "elbo", "kl", "reconstruction"}
    assert after["loss"] < before["loss"] - 50  # nats: from random weights to the four patterns
    assert all(np.isfinite(v).all() for v in history.values())


def test_saved_and_loaded_with_its_options(tmp_path):
    gvutil.seed_everything(0)
    vae = IWAE(mlp_encoder(3, (8,)), mlp_decoder(3, (8,)), k=7, seed=3)
    vae.compile()
    vae.save(tmp_path / "iwae.keras")
    loaded = keras.saving.load_model(tmp_path / "iwae.keras")
    assert type(loaded) is IWAE and (loaded.k, loaded.free_bits, loaded.beta, loaded.seed) == (7, 0.0, 1.0, 3)
    x = binary_images(4)
    np.testing.assert_allclose(loaded.reconstruct(x), vae.reconstruct(x), atol=1e-6)
    fb = IWAE(mlp_encoder(3, (8,)), mlp_decoder(3, (8,)), free_bits=0.5, beta=4.0)
    again = IWAE.from_config(fb.get_config())
    assert (again.k, again.free_bits, again.beta) == (1, 0.5, 4.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "k must be a whole number of samples >= 1; received k=0"),
    ({"k": 2.5}, "k must be a whole number"),
    ({"k": True}, "k must be a whole number"),
    ({"free_bits": -0.1}, "free_bits must be >= 0 nats; received free_bits=-0.1"),
    ({"free_bits": float("nan")}, "free_bits must be >= 0"),
    ({"beta": -1.0}, "beta must be >= 0"),
    ({"k": 5, "beta": 2.0}, "L_k with k=5 is a bound on log p.x. only with beta=1 and free_bits=0"),
    ({"k": 5, "free_bits": 0.5}, "only with beta=1 and free_bits=0"),
])
def test_clear_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IWAE(mlp_encoder(3, (8,)), mlp_decoder(3, (8,)), **kwargs)


@pytest.mark.parametrize("cls", [VAE, IWAE])
def test_a_decoder_for_another_latent_size_is_refused(cls):
    with pytest.raises(ValueError, match=r"the decoder takes latents of shape \(None, 5\) but the encoder needs \(None, 3\)"):
        cls(mlp_encoder(3, (8,)), mlp_decoder(5, (8,)))
