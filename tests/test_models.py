"""gvutil.models: the GAN and VAE a chapter trains with fit(x), their builders and saving.

Tiny models on tiny data keep this fast; every test runs on the TensorFlow and the JAX backend.
"""

import math

import keras
import numpy as np
import pytest

import gvutil
from gvutil import models, train
from helpers import patterns, tiny_gan, tiny_vae

BACKEND = keras.backend.backend()


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def max_diff(variables_a, variables_b):
    return max(float(np.abs(numpy(a).astype("float64") - numpy(b).astype("float64")).max())
               for a, b in zip(variables_a, variables_b))


def grad(fn, x):
    """d fn(x) / dx for a scalar function of a float32 array (the backends differ here only)."""
    x = np.asarray(x, "float32")
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.grad(fn)(jax.numpy.asarray(x)))
    import tensorflow as tf

    v = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(v)
        y = fn(v)
    return tape.gradient(y, v).numpy()


# --------------------------------------------------------------------------- builders and shapes
def test_builders_match_the_reference_architectures():
    # The article's MLP GAN: G 100-1024-1024-784, D 784-1024-1024-1 (the output choice adds no weights).
    for output in ("sigmoid", "tanh"):
        gan = models.make_gan("mlp", output=output)
        assert gan.generator.count_params() == (100 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 784 + 784)
        assert gan.discriminator.count_params() == (784 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 + 1)
    # The book's DCGAN (filters f=32, 5x5 kernels): G dense 100->7*7*2f (no bias) + BN, 5x5 deconv
    # 2f->f (no bias) + BN, 5x5 deconv f->1 (bias); D 5x5 convs 1->f, f->2f, dense 7*7*2f->1.
    dcgan = models.make_gan("dcgan")
    f = 32
    assert dcgan.generator.count_params() == (100 * 49 * 2 * f + 4 * 49 * 2 * f) + (25 * 2 * f * f + 4 * f) + (25 * f + 1)
    assert dcgan.discriminator.count_params() == (25 * f + f) + (25 * f * 2 * f + 2 * f) + (49 * 2 * f + 1)
    for m in (gan, dcgan):
        assert m.generator.output_shape == (None, 28, 28, 1)
        assert m.discriminator.output_shape == (None, 1)
        assert m.latent_dim == 100
        assert isinstance(m.d_optimizer, keras.optimizers.Adam)
        assert float(m.g_optimizer.beta_1) == pytest.approx(0.5)
    assert float(models.make_gan("mlp").g_optimizer.learning_rate) == pytest.approx(2e-4)
    assert float(models.make_gan("mlp", learning_rate=1e-3).d_optimizer.learning_rate) == pytest.approx(1e-3)
    vae = models.make_vae("mlp")
    assert vae.latent_dim == 20 and float(vae.optimizer.learning_rate) == pytest.approx(1e-3)
    assert models.make_vae("conv").latent_dim == 2


def test_tanh_generators_work_in_signed_range_but_hand_out_unit_range_images():
    # output="tanh": the network computes in [-1, 1]; the last layer maps to [0, 1] exactly.
    gen = models.mlp_generator(latent_dim=3, hidden=(8, 8), output="tanh")
    z = np.random.default_rng(0).normal(size=(64, 3)).astype("float32") * 30  # saturate some pixels
    images = numpy(gen(z))
    pre = numpy(keras.Model(gen.inputs, gen.get_layer("to_unit_range").input)(z))
    assert pre.min() >= -1.0 and pre.max() <= 1.0 and pre.min() < -0.99  # tanh range, reached
    np.testing.assert_allclose(images.reshape(len(z), -1), (pre + 1.0) / 2.0, atol=1e-6)
    assert images.min() >= 0.0 and images.max() <= 1.0
    # signed=True: the discriminator sees 2x - 1, i.e. the same network applied to [-1, 1] images.
    signed = models.mlp_discriminator(hidden=(8, 8), signed=True)
    plain = models.mlp_discriminator(hidden=(8, 8), signed=False)
    plain.set_weights(signed.get_weights())
    x = patterns(5)
    np.testing.assert_allclose(numpy(signed(x)), numpy(plain(2.0 * x - 1.0)), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="output must be .tanh. or .sigmoid.; received .relu."):
        models.make_gan("mlp", output="relu", hidden=8, latent_dim=2)


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_gan_shapes_and_pixel_range(kind):
    size = {"hidden": 16} if kind == "mlp" else {"filters": 4}
    gan = models.make_gan(kind, latent_dim=8, seed=0, **size)
    images = gan.sample(5, seed=1)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, gan.sample(5, seed=1))  # same seed, same images
    assert not np.array_equal(gan.sample(5), gan.sample(5))  # the model's own generator moves on
    logits = numpy(gan.discriminator(images))
    assert logits.shape == (5, 1)


@pytest.mark.parametrize("kind,likelihood", [("mlp", "bernoulli"), ("conv", "gaussian")])
def test_vae_public_interface_shapes(kind, likelihood):
    size = {"hidden": 16} if kind == "mlp" else {"filters": 4}
    vae = models.make_vae(kind, latent_dim=3, likelihood=likelihood, seed=0, **size)
    x = patterns(6)
    z_mean, z_log_var = vae.encode(x)
    assert numpy(z_mean).shape == (6, 3) and numpy(z_log_var).shape == (6, 3)
    assert isinstance(vae.latent_dim, int) and vae.latent_dim == 3
    out = vae.decode(z_mean)
    assert numpy(out).shape == (6, 28, 28, 1)
    assert numpy(vae.log_px_given_z(x, out)).shape == (6,)
    for images in (vae.sample(7, seed=0), vae.reconstruct(x)):
        assert images.dtype == np.float32 and images.min() >= 0.0 and images.max() <= 1.0
    assert vae.sample(7, seed=0).shape == (7, 28, 28, 1)
    np.testing.assert_array_equal(vae.sample(4, seed=3), vae.sample(4, seed=3))
    np.testing.assert_allclose(vae.reconstruct(x), numpy(vae(x)), atol=1e-6)


# --------------------------------------------------------------------------- losses
def test_log_px_given_z_matches_the_formulas_and_is_stable():
    rng = np.random.default_rng(0)
    x = rng.random((3, 28, 28, 1)).astype("float32")
    x[0] = 1.0
    logits = rng.normal(size=(3, 28, 28, 1)).astype("float32") * 3
    logits[0] = 200.0  # sigmoid(200) == 1 in float32: a naive log(1 - p) would be -inf
    vae = tiny_vae()
    expected = (x * logits - np.logaddexp(0.0, logits)).reshape(3, -1).sum(1)
    got = numpy(vae.log_px_given_z(x, logits))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    assert np.isfinite(got).all() and abs(got[0]) < 1e-3

    sigma = 0.5
    gauss = models.VAE(models.mlp_encoder(2, (16,)), models.mlp_decoder(2, (16,), "gaussian"),
                       likelihood="gaussian", sigma=sigma)
    mean = rng.random((3, 28, 28, 1)).astype("float32")
    expected = (-0.5 * ((x - mean) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)).reshape(3, -1).sum(1)
    np.testing.assert_allclose(numpy(gauss.log_px_given_z(x, mean)), expected, rtol=1e-5)
    assert gauss.trainable_weights == gauss.encoder.trainable_weights + gauss.decoder.trainable_weights
    learned = models.make_vae("mlp", latent_dim=2, hidden=8, likelihood="gaussian")
    assert float(learned.log_sigma_value()) == pytest.approx(math.log(0.1))
    assert any(v.name == "log_sigma" for v in learned.trainable_weights)


def test_kl_divergence_closed_form():
    m = np.array([[0.0, 0.0], [1.0, -2.0]], "float32")
    lv = np.array([[0.0, 0.0], [0.5, -1.0]], "float32")
    expected = 0.5 * (np.exp(lv) + m ** 2 - 1 - lv).sum(1)
    got = numpy(models.kl_divergence(m, lv))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got[0] == 0.0


def test_minimax_and_non_saturating_generator_gradients_differ():
    ns = tiny_gan(objective="non_saturating")
    mm = tiny_gan(objective="minimax")
    rejected = np.full((4, 1), -8.0, "float32")  # D is sure the fakes are fake (early training)
    g_ns = grad(lambda l: models.generator_loss(l, ns.objective), rejected)
    g_mm = grad(lambda l: models.generator_loss(l, mm.objective), rejected)
    # d/dl of mean softplus(-l) is -(1 - D)/n; of mean -softplus(l) it is -D/n.
    np.testing.assert_allclose(g_ns, -(1 - 1 / (1 + np.exp(8))) / 4, rtol=1e-5)
    np.testing.assert_allclose(g_mm, -(1 / (1 + np.exp(8))) / 4, rtol=1e-4)
    assert (g_ns < 0).all() and (g_mm < 0).all()  # both push D(G(z)) up ...
    assert np.abs(g_ns).min() > 1000 * np.abs(g_mm).max()  # ... but minimax saturates
    # values: -log D(G(z)) and log(1 - D(G(z)))
    d = 1 / (1 + np.exp(8.0))
    assert float(models.generator_loss(rejected)) == pytest.approx(-math.log(d), rel=1e-5)
    assert float(models.generator_loss(rejected, "minimax")) == pytest.approx(math.log(1 - d), rel=1e-5)

    # Wired into training: from identical starts, one step gives the same D update but
    # different G updates.
    x = patterns(16)
    trained = []
    for objective in ("non_saturating", "minimax"):
        gvutil.seed_everything(0)
        gan = tiny_gan(objective=objective)
        gan.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
        trained.append(gan)
    ns, mm = trained
    assert max_diff(ns.discriminator.weights, mm.discriminator.weights) == 0.0
    assert max_diff(ns.generator.trainable_weights, mm.generator.trainable_weights) > 1e-6


def test_discriminator_loss_label_smoothing_and_stability():
    logits_real = np.array([[100.0], [-3.0], [0.5]], "float32")
    logits_fake = np.array([[-100.0], [2.0], [0.0]], "float32")
    sp = lambda v: np.logaddexp(0.0, v)  # noqa: E731
    for smoothing in (0.0, 0.1):
        t = 1 - smoothing
        expected = (t * sp(-logits_real) + (1 - t) * sp(logits_real)).mean() + sp(logits_fake).mean()
        got = float(models.discriminator_loss(logits_real, logits_fake, smoothing))
        assert math.isfinite(got) and got == pytest.approx(expected, rel=1e-5)
    # Equilibrium D = 1/2 everywhere: d_loss = 2 log 2.
    zeros = np.zeros((4, 1), "float32")
    assert float(models.discriminator_loss(zeros, zeros)) == pytest.approx(2 * math.log(2))
    with pytest.raises(ValueError, match="label_smoothing"):
        tiny_gan(label_smoothing=1.0)
    with pytest.raises(ValueError, match="non_saturating"):
        tiny_gan(objective="wasserstein")


# --------------------------------------------------------------------------- training behaviour
def test_discriminator_learns_to_separate_real_from_a_frozen_generator():
    gvutil.seed_everything(0)
    gan = tiny_gan(d_optimizer=keras.optimizers.Adam(3e-3), output="sigmoid",
                   g_optimizer=keras.optimizers.SGD(0.0))  # G never moves
    g_before = [numpy(w).copy() for w in gan.generator.weights]
    h = gan.fit(train.dataset(patterns(64), 16, seed=0), epochs=6, verbose=0).history
    assert set(h) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert h["d_real"][-1] > 0.8 and h["d_fake"][-1] < 0.2
    assert h["d_loss"][-1] < 0.5 < math.log(4) - 0.5 < h["d_loss"][0]
    assert h["g_loss"][-1] > h["g_loss"][0] + 1.0  # -log D(G(z)) grows as D wins
    for before, after in zip(g_before, gan.generator.weights):
        np.testing.assert_array_equal(before, numpy(after))
    ev = gan.evaluate(patterns(32), batch_size=16, verbose=0, return_dict=True)  # fresh noise
    assert ev["d_real"] > 0.8 and ev["d_fake"] < 0.2


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_vae_training_lowers_the_loss_and_metrics_agree(beta):
    gvutil.seed_everything(0)
    vae = tiny_vae(beta=beta, optimizer=keras.optimizers.Adam(1e-2))
    h = vae.fit(train.dataset(patterns(64), 16, seed=0), epochs=6, verbose=0).history
    assert set(h) == {"reconstruction", "kl", "elbo", "loss"}
    rec, kl, elbo, loss = (np.array(h[k]) for k in ("reconstruction", "kl", "elbo", "loss"))
    np.testing.assert_allclose(elbo, -(rec + kl), rtol=1e-5)
    np.testing.assert_allclose(loss, rec + beta * kl, rtol=1e-5)
    assert (kl >= 0).all()
    assert (np.diff(loss) < 0).all() and loss[-1] < 0.8 * loss[0]
    ev = vae.evaluate(patterns(32, seed=1), batch_size=16, verbose=0, return_dict=True)
    assert ev["elbo"] == pytest.approx(-(ev["reconstruction"] + ev["kl"]), rel=1e-5)


def test_same_seed_gives_identical_weights():
    def run(seed):
        gvutil.seed_everything(seed)
        gan = tiny_gan(seed=seed)
        gan.fit(train.dataset(patterns(64), 16, seed=seed), epochs=2, verbose=0)
        return gan

    a, b, c = run(0), run(0), run(1)
    assert max_diff(a.weights, b.weights) == 0.0
    assert max_diff(a.trainable_weights, c.trainable_weights) > 1e-3


def test_wrong_input_shape_or_dtype_names_expected_and_received():
    flat = np.zeros((32, 784), "float32")
    for model, who in ((tiny_gan(), "GAN"), (tiny_vae(), "VAE")):
        with pytest.raises(ValueError) as err:
            model.fit(flat, batch_size=32, epochs=1, verbose=0)
        msg = str(err.value)
        assert f"{who} expects images of shape (None, 28, 28, 1); received (" in msg and ", 784)" in msg
        with pytest.raises(ValueError, match="uint8"):
            model.fit(np.zeros((32, 28, 28, 1), "uint8"), batch_size=32, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"expects images of shape \(None, 28, 28, 1\); received \(32, 784\)"):
        tiny_vae().encode(flat)


def test_bad_pixel_values_and_settings_are_refused_before_training():
    """Inputs that used to train silently: each gets a ValueError naming what was received."""
    x = patterns(32)
    for model, who in ((tiny_gan(), "GAN"), (tiny_vae(), "VAE")):
        before = [np.array(w) for w in model.weights]
        with pytest.raises(ValueError, match=r"values in \[0, 1\]; received values in \[0\.\d+, 2\d\d(\.\d*)?\] \(pixels in \[0, 255\]"):
            model.fit(x * 255.0, batch_size=16, epochs=1, verbose=0)
        nan = x.copy()
        nan[3, 4, 5, 0] = np.nan
        with pytest.raises(ValueError, match="finite values; received 1 NaN"):
            model.fit(nan, batch_size=16, epochs=1, verbose=0)
        with pytest.raises(ValueError, match="finite values"):  # the same through the pipeline
            model.fit(train.dataset(nan, 16), epochs=1, verbose=0)
        assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, model.weights)), who
    with pytest.raises(ValueError, match=r"received values in \[-0\.9\d*, 0\.9\d*\]"):
        train.dataset(x * 2.0 - 1.0, 16)
    for bad in (0, -3, 2.5, True, "16"):
        with pytest.raises(ValueError, match=f"batch_size must be a positive integer; received {bad!r}"):
            train.dataset(x, bad)
    with pytest.raises(ValueError, match=r"beta must be >= 0; received -1.0"):
        models.make_vae("mlp", beta=-1.0)
    # data that are not images (2-D points, as in chapter 6): any finite range trains, NaN does not
    gan = models.GAN(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]),
                     keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), latent_dim=2, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    points = np.random.default_rng(0).normal(0.0, 2.0, (64, 2)).astype("float32")
    assert math.isfinite(gan.fit(points, batch_size=32, epochs=1, verbose=0).history["d_loss"][0])
    points[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite values; received 1 NaN"):
        gan.fit(points, batch_size=32, epochs=1, verbose=0)
    encoder, decoder = models.mlp_encoder(2, (16,)), models.mlp_decoder(2, (16,), likelihood="gaussian")
    with pytest.raises(ValueError, match="sigma_init must be > 0; received 0.0"):
        models.VAE(encoder, decoder, likelihood="gaussian", sigma_init=0.0)
    with pytest.raises(ValueError, match="sigma must be > 0; received nan"):
        tiny_vae(likelihood="gaussian", sigma=float("nan"))


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_evaluate_does_not_move_the_training_noise(kind):
    """fit -> evaluate -> fit trains exactly like fit -> fit: evaluation has its own noise stream."""
    x = patterns(64)
    build, names = {"gan": (tiny_gan, {"d_loss", "g_loss"}), "vae": (tiny_vae, {"elbo", "kl"})}[kind]

    def run(evaluate_between):
        gvutil.seed_everything(0)
        model = build(seed=0)
        model.fit(train.dataset(x, 16, seed=0), epochs=1, verbose=0)
        if evaluate_between:
            logs = model.evaluate(x[:32], batch_size=16, verbose=0, return_dict=True)
            assert set(logs) >= names and all(math.isfinite(v) for v in logs.values())
        model.fit(train.dataset(x, 16, seed=1), epochs=1, verbose=0)
        return model

    assert max_diff(run(False).weights, run(True).weights) == 0.0


def test_mixed_bfloat16_trains_both_models_without_loss_scaling():
    """The GPU precision the book keeps: bfloat16 compute, float32 weights and losses, no scaling."""
    try:
        keras.config.set_dtype_policy("mixed_bfloat16")
        gvutil.seed_everything(0)
        gan, vae = tiny_gan(), tiny_vae()
    finally:
        keras.config.set_dtype_policy("float32")
    assert gan.generator.layers[1].compute_dtype == "bfloat16"
    assert gan.generator.layers[1].kernel.dtype == "float32"
    assert not isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    for model, key in ((gan, "d_loss"), (vae, "elbo")):
        h = model.fit(train.dataset(patterns(32), 16, seed=0), epochs=2, verbose=0).history
        assert all(math.isfinite(v) for values in h.values() for v in values), h
        assert model.sample(2, seed=0).dtype == np.float32


# --------------------------------------------------------------------------- saving
def test_dcgan_parts_keras_round_trip(tmp_path):
    gan = models.make_gan("dcgan", latent_dim=8, filters=4, dropout=0.3, seed=0)  # BatchNorm, Dropout, convs
    gan.save(tmp_path / "dcgan.keras")
    gan.generator.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "dcgan.keras")
    g = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_array_equal(loaded.sample(3, seed=0), gan.sample(3, seed=0))
    np.testing.assert_array_equal(g.predict_on_batch(np.ones((2, 8), "float32")),
                                  gan.generator.predict_on_batch(np.ones((2, 8), "float32")))
    x = patterns(4)
    np.testing.assert_array_equal(loaded.discriminator.predict_on_batch(x),
                                  gan.discriminator.predict_on_batch(x))


def test_gan_keras_round_trip(tmp_path):
    gvutil.seed_everything(0)
    gan = tiny_gan(steps_per_execution=2)
    x = patterns(32)
    gan.fit(train.dataset(x, 16, seed=0), epochs=1, verbose=0)
    for name, obj in (("gan", gan), ("g", gan.generator), ("d", gan.discriminator)):
        obj.save(tmp_path / f"{name}.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras")  # default safe_mode=True
    g = keras.saving.load_model(tmp_path / "g.keras")
    d = keras.saving.load_model(tmp_path / "d.keras")
    assert isinstance(loaded, models.GAN) and loaded.latent_dim == 8 and loaded.steps_per_execution == 2
    z = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    for gen in (loaded.generator, g):
        np.testing.assert_array_equal(numpy(gen(z)), numpy(gan.generator(z)))
    for disc in (loaded.discriminator, d):
        np.testing.assert_array_equal(numpy(disc(x[:4])), numpy(gan.discriminator(x[:4])))
    np.testing.assert_array_equal(loaded.sample(3, seed=5), gan.sample(3, seed=5))
    assert int(loaded.d_optimizer.iterations) == int(gan.d_optimizer.iterations) == 2
    assert max_diff(loaded.optimizer.variables, gan.optimizer.variables) == 0.0
    # Optimizer moments and noise state came back too: training continues identically.
    gan.fit(train.dataset(x, 16, seed=1), epochs=1, verbose=0)
    loaded.fit(train.dataset(x, 16, seed=1), epochs=1, verbose=0)
    assert max_diff(gan.weights, loaded.weights) == 0.0


def test_vae_keras_round_trip(tmp_path):
    gvutil.seed_everything(0)
    vae = models.make_vae("mlp", latent_dim=2, hidden=16, likelihood="gaussian", beta=0.5, seed=0)
    x = patterns(32)
    vae.fit(train.dataset(x, 16, seed=0), epochs=1, verbose=0)
    for name, obj in (("vae", vae), ("e", vae.encoder), ("dec", vae.decoder)):
        obj.save(tmp_path / f"{name}.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras")
    enc = keras.saving.load_model(tmp_path / "e.keras")
    dec = keras.saving.load_model(tmp_path / "dec.keras")
    assert (loaded.likelihood, loaded.beta, loaded.latent_dim) == ("gaussian", 0.5, 2)
    assert float(loaded.log_sigma_value()) == float(vae.log_sigma_value()) != pytest.approx(math.log(0.1))
    for a, b in zip(loaded.encode(x), vae.encode(x)):
        np.testing.assert_array_equal(numpy(a), numpy(b))
    for a, b in zip(enc(x), vae.encoder(x)):
        np.testing.assert_array_equal(numpy(a), numpy(b))
    z = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    np.testing.assert_array_equal(numpy(loaded.decode(z)), numpy(vae.decode(z)))
    np.testing.assert_array_equal(numpy(dec(z)), numpy(vae.decoder(z)))
    loaded.fit(train.dataset(x, 16, seed=1), epochs=1, verbose=0)
    vae.fit(train.dataset(x, 16, seed=1), epochs=1, verbose=0)
    assert max_diff(vae.weights, loaded.weights) == 0.0


def test_a_rejected_fit_leaves_the_model_usable():
    gan = tiny_gan()
    with pytest.raises(ValueError):
        gan.fit(np.zeros((16, 28, 28), "float32"), batch_size=16, verbose=0)
    with pytest.raises(ValueError, match=r"received \(\d+, 784\)"):  # array or batch shape
        gan.fit(train.dataset(np.zeros((32, 784), "float32"), 16), verbose=0)
    h = gan.fit(patterns(16), batch_size=16, epochs=1, verbose=0).history
    assert math.isfinite(h["d_loss"][0])


def test_models_document_themselves():
    # help(GAN) and help(VAE) show the classes' own docstrings, not the base class's.
    assert models.GAN.__doc__.startswith("A generator and a discriminator, trained in turn by `fit(x)`")
    assert models.VAE.__doc__.startswith("An encoder q(z|x) and a decoder p(x|z), trained by `fit(x)`")
    assert models.GAN.train_step.__doc__.startswith("One batch: a discriminator update, then")


@pytest.mark.parametrize("builder,kind,wrong", [
    ("make_gan", "dcgan", {"hidden": 256}), ("make_gan", "dcgan", {"batchnorm": True}),
    ("make_gan", "mlp", {"filters": 64}), ("make_gan", "mlp", {"kernel": 3}),
    ("make_vae", "conv", {"hidden": 256}), ("make_vae", "mlp", {"filters": 16})])
def test_builders_refuse_an_argument_of_the_other_kind(builder, kind, wrong):
    (name, value), = wrong.items()
    with pytest.raises(ValueError, match=rf"{builder}\(kind='{kind}'\) has no use for {name}={value!r}"):
        getattr(models, builder)(kind, **wrong)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_sample_refuses_a_count_that_is_not_a_positive_whole_number(n):
    gan = models.make_gan("mlp", latent_dim=2, hidden=8, seed=0)
    with pytest.raises(ValueError, match=rf"positive whole number of images; received n={n!r}"):
        gan.sample(n)
