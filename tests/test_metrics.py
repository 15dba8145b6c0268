"""Tests of gvutil.metrics: the IWAE estimator against an exact answer, and classifier FID/score.

Run on both backends:
    KERAS_BACKEND=tensorflow python -m pytest tests/test_metrics.py
    KERAS_BACKEND=jax        python -m pytest tests/test_metrics.py
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gvutil

gvutil.quiet_tensorflow()

import keras  # noqa: E402
from keras import ops  # noqa: E402

from gvutil import metrics  # noqa: E402
from gvutil.data import to_float_images  # noqa: E402
from helpers import constructed_vae  # noqa: E402


# ============================================================================ IWAE: exact model

class LinearGaussianVAE:
    """Probabilistic PCA as a VAE: z ~ N(0, I), x | z ~ N(W z + b, sigma² I).

    W has orthogonal columns (W = U diag(s), U orthonormal), so the true posterior p(z|x) is a
    *diagonal* Gaussian, N(W^T (x - b) / (s² + sigma²), sigma² / (s² + sigma²)), that the VAE
    interface can express exactly. ``exact=False`` gives a deliberately imperfect encoder:
    mean shrunk and shifted, variance inflated.
    """

    def __init__(self, W, b, sigma, exact=True, mean_scale=0.7, mean_shift=0.3, var_scale=1.8,
                 log_px_offset=0.0):
        self.W = np.asarray(W, "float64")
        self.b = np.asarray(b, "float64")
        self.sigma = float(sigma)
        self.latent_dim = self.W.shape[1]
        s2 = (self.W ** 2).sum(axis=0)
        assert np.allclose(self.W.T @ self.W, np.diag(s2)), "columns of W must be orthogonal"
        self.post_prec = s2 + self.sigma ** 2  # posterior mean = W^T(x-b) / post_prec
        self.post_var = self.sigma ** 2 / self.post_prec
        if exact:
            mean_scale, mean_shift, var_scale = 1.0, 0.0, 1.0
        self.mean_scale, self.mean_shift, self.var_scale = mean_scale, mean_shift, var_scale
        self.log_px_offset = log_px_offset

    # -- the interface iwae_log_likelihood relies on, in keras.ops
    def encode(self, x):
        x = ops.convert_to_tensor(x, "float32")
        proj = ops.matmul(x - self.b.astype("float32"), self.W.astype("float32"))
        z_mean = proj / self.post_prec.astype("float32") * self.mean_scale + self.mean_shift
        log_var = np.log(self.post_var * self.var_scale).astype("float32")
        z_log_var = ops.zeros_like(z_mean) + log_var
        return z_mean, z_log_var

    def decode(self, z):
        return ops.matmul(z, self.W.T.astype("float32")) + self.b.astype("float32")

    def log_px_given_z(self, x, mean):
        d = x.shape[-1]
        r = (x - mean) / self.sigma
        return (-0.5 * ops.sum(ops.square(r), axis=-1)
                - d * (math.log(self.sigma) + 0.5 * math.log(2 * math.pi)) + self.log_px_offset)

    # -- closed forms, in NumPy float64
    def exact_log_px(self, x):
        x = np.asarray(x, "float64")
        D = x.shape[1]
        C = self.W @ self.W.T + self.sigma ** 2 * np.eye(D)
        L = np.linalg.cholesky(C)
        sol = np.linalg.solve(L, (x - self.b).T)
        return (-0.5 * (sol ** 2).sum(0) - np.log(np.diag(L)).sum() - 0.5 * D * math.log(2 * math.pi)
                + self.log_px_offset)

    def q_params(self, x):
        proj = (np.asarray(x, "float64") - self.b) @ self.W
        mean = proj / self.post_prec * self.mean_scale + self.mean_shift
        return mean, np.broadcast_to(self.post_var * self.var_scale, mean.shape)

    def exact_elbo(self, x):
        """log p(x) - KL(q(z|x) || p(z|x)), both diagonal Gaussians."""
        m_q, v_q = self.q_params(x)
        m_p = (np.asarray(x, "float64") - self.b) @ self.W / self.post_prec
        v_p = self.post_var
        kl = 0.5 * (np.log(v_p / v_q) + (v_q + (m_q - m_p) ** 2) / v_p - 1).sum(axis=1)
        return self.exact_log_px(x) - kl


def _ppca_params(D=6, d=2, seed=0):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((D, d)))
    W = U * np.array([2.0, 1.0])[:d]
    b = rng.standard_normal(D) * 0.5
    return W, b, 0.5


# One batch size for the PPCA tests: equal shapes let JAX reuse its compiled operations.
BATCH = 4096


@pytest.fixture(scope="module")
def ppca():
    W, b, sigma = _ppca_params()
    exact = LinearGaussianVAE(W, b, sigma, exact=True)
    rough = LinearGaussianVAE(W, b, sigma, exact=False)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((300, W.shape[1]))
    x = (z @ W.T + b + sigma * rng.standard_normal((300, W.shape[0]))).astype("float32")
    return exact, rough, x, exact.exact_log_px(x)


def test_closed_forms_are_consistent(ppca):
    """Sanity of the test's own algebra: the exact posterior's ELBO is log p(x)."""
    exact, rough, x, log_px = ppca
    np.testing.assert_allclose(exact.exact_elbo(x), log_px, atol=1e-9)
    assert np.all(rough.exact_elbo(x) < log_px - 1e-3)


@pytest.mark.parametrize("k", [1, 10, 100, 1000])
def test_iwae_with_exact_posterior_is_exact_for_every_k(ppca, k):
    exact, _, x, log_px = ppca
    est, el = metrics.iwae_log_likelihood(exact, x, k=k, batch_size=BATCH, seed=3, return_elbo=True)
    assert est.shape == (len(x),) and est.dtype == np.float64
    # every importance weight equals p(x): estimate = log p(x) per image, to float32 rounding
    np.testing.assert_allclose(est, log_px, atol=2e-4 * max(1.0, np.abs(log_px).max() / 10))
    np.testing.assert_allclose(el, log_px, atol=2e-4 * max(1.0, np.abs(log_px).max() / 10))


def test_iwae_bounds_and_gap_shrink_with_k(ppca):
    _, rough, x, log_px = ppca
    exact_mean = log_px.mean()
    analytic_elbo = rough.exact_elbo(x)
    gaps, results = [], {}
    for k in (1, 10, 100, 1000):
        est, el = metrics.iwae_log_likelihood(rough, x, k=k, batch_size=BATCH, seed=11, return_elbo=True)
        assert np.all(np.isfinite(est))
        # log-mean-exp >= mean of the same log-weights (Jensen), image by image
        assert np.all(est >= el - 1e-6)
        results[k] = (est, el)
        gaps.append(exact_mean - est.mean())
    # the ELBO estimate is unbiased for the closed-form ELBO (300 images x 1000 samples)
    el_1000 = results[1000][1]
    np.testing.assert_allclose(el_1000.mean(), analytic_elbo.mean(), atol=0.02)
    kl_gap = exact_mean - analytic_elbo.mean()
    assert kl_gap > 0.5, f"the imperfect encoder should be clearly imperfect (KL gap {kl_gap:.3f})"
    # k = 1 is the ELBO; the bound tightens monotonically and ends close to log p(x)
    assert abs(gaps[0] - kl_gap) < 0.4  # one-sample ELBO: standard error ~0.1 over 300 images
    tol = 0.02
    for g_prev, g_next in zip(gaps, gaps[1:]):
        assert g_next < g_prev, f"gap did not shrink with k: {gaps}"
    assert all(g > -tol for g in gaps), f"IWAE above exact log p(x) beyond tolerance: {gaps}"
    assert analytic_elbo.mean() <= results[1000][0].mean()
    assert gaps[-1] < 0.05 * gaps[0] and gaps[-1] < 0.1, f"gaps {gaps}"


def test_iwae_is_log_sum_exp_stable(ppca):
    """log p(x|z) around -5000 nats: a naive log(mean(exp)) would underflow to -inf."""
    _, rough, x, _ = ppca
    W, b, sigma = _ppca_params()
    shifted = LinearGaussianVAE(W, b, sigma, exact=False, log_px_offset=-5000.0)
    base = metrics.iwae_log_likelihood(rough, x[:40], k=100, batch_size=BATCH, seed=5)
    far = metrics.iwae_log_likelihood(shifted, x[:40], k=100, batch_size=BATCH, seed=5)
    assert np.all(np.isfinite(far))
    np.testing.assert_allclose(far + 5000.0, base, atol=2e-2)
    assert abs(far.mean() - shifted.exact_log_px(x[:40]).mean()) < 0.3


def test_iwae_batching_seed_and_arguments(ppca):
    exact, rough, x, log_px = ppca
    xs = x[:40]
    # tiny batch: one image at a time, its samples in chunks of 7; pairs x_i with its own z's
    np.testing.assert_allclose(metrics.iwae_log_likelihood(exact, xs[:12], k=30, batch_size=7),
                               log_px[:12], atol=2e-3)
    a = metrics.iwae_log_likelihood(rough, xs, k=100, batch_size=BATCH, seed=1)
    b = metrics.iwae_log_likelihood(rough, xs, k=100, batch_size=BATCH, seed=1)
    c = metrics.iwae_log_likelihood(rough, xs, k=100, batch_size=BATCH, seed=2)
    d = metrics.iwae_log_likelihood(rough, xs, k=100, batch_size=27, seed=1)  # 1 image, 4 chunks of 25
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert abs(a.mean() - d.mean()) < 0.1  # same estimator, other draws
    # k = 1: the IWAE estimate *is* the single-sample ELBO
    one, el = metrics.iwae_log_likelihood(rough, xs, k=1, return_elbo=True)
    np.testing.assert_allclose(one, el, atol=1e-5)
    np.testing.assert_allclose(metrics.elbo(rough, xs, k=1), el, atol=1e-5)
    with pytest.raises(ValueError, match="k must be"):
        metrics.iwae_log_likelihood(rough, xs, k=0)
    assert metrics.iwae_log_likelihood(rough, xs[:0], k=3).shape == (0,)


# ============================================================================ IWAE: real VAE

def test_iwae_on_a_tiny_real_vae(mnist):  # the fixture skips, never downloads, without MNIST
    from gvutil.models import make_vae

    x = metrics.mnist_test_binarized(n=64, seed=0)
    assert x.shape == (64, 28, 28, 1) and set(np.unique(x)) <= {0.0, 1.0}
    np.testing.assert_array_equal(x, metrics.mnist_test_binarized(n=64, seed=0))  # fixed protocol
    gvutil.seed_everything(0)
    vae = make_vae("mlp", latent_dim=4, hidden=32, seed=0)  # untrained: the interface is the point
    est, el = metrics.iwae_log_likelihood(vae, x, k=64, batch_size=1024, seed=0, return_elbo=True)
    assert est.shape == (64,) and el.shape == (64,)
    assert np.all(np.isfinite(est)) and np.all(np.isfinite(el))
    assert np.all(est >= el - 1e-4) and est.mean() > el.mean()
    assert -784 * math.log(2) * 2 < est.mean() < 0  # nats for 784 binary pixels
    # same sign conventions as the model's own (one-sample, analytic-KL) ELBO metric
    logs = vae.evaluate(x, batch_size=64, return_dict=True, verbose=0)
    assert abs(el.mean() - logs["elbo"]) < 2.0, (el.mean(), logs)


# ============================================================================ Fréchet distance

def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    d = 5
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    a, b = rng.random(d) + 0.1, rng.random(d) + 0.1
    # commuting (diagonal) covariances: |mu1-mu2|² + Σ (√a - √b)²
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    # general covariances: against scipy's matrix square root
    scipy_linalg = pytest.importorskip("scipy.linalg")
    A, B = rng.standard_normal((d, d)), rng.standard_normal((d, 2))
    s1, s2 = A @ A.T, B @ B.T  # s2 singular (rank 2)
    covmean = scipy_linalg.sqrtm(s1 @ s2).real
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-6)
    assert metrics.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="expected"):
        metrics.frechet_distance(mu1, s1, mu2[:3], s2)


# ============================================================================ classifier FID / score

def _gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of uint8/float (n,28,28) images -> float32 in [0,1]."""
    x = x.astype("float32") / 255.0 if x.dtype == np.uint8 else x.astype("float32")
    if sigma <= 0:
        return x
    r = int(math.ceil(3 * sigma))
    t = np.arange(-r, r + 1)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    p = np.pad(x, ((0, 0), (r, r), (r, r)))
    h = sum(k[i] * p[:, :, i:i + 28] for i in range(2 * r + 1))
    v = sum(k[i] * h[:, i:i + 28, :] for i in range(2 * r + 1))
    return np.clip(v, 0.0, 1.0)


def _add_noise(x: np.ndarray, std: float, seed: int = 0) -> np.ndarray:
    x = x.astype("float32") / 255.0
    rng = np.random.default_rng(seed)
    return np.clip(x + std * rng.standard_normal(x.shape).astype("float32"), 0.0, 1.0)


def test_fid_train_vs_test_is_small_and_noise_is_far(mnist):
    (x_train, _), (x_test, _) = mnist
    feats = metrics.evaluator_features(x_test)  # 10,000 images, evaluator load included
    assert feats.shape == (10_000, 128) and feats.dtype == np.float32
    train_feats = metrics.evaluator_features(x_train[:20_000])
    stats = metrics.gaussian_statistics
    fid_real = metrics.frechet_distance(*stats(train_feats[:10_000]), *stats(feats))
    # the floor: two disjoint samples of one distribution (10k vs 10k training images)
    fid_floor = metrics.frechet_distance(*stats(train_feats[:10_000]), *stats(train_feats[10_000:]))
    noise = np.random.default_rng(0).random((2000, 28, 28)).astype("float32")
    fid_noise = metrics.frechet_distance(*stats(feats), *metrics.feature_statistics(noise))
    print(f"\n[{keras.backend.backend()}] FID train-vs-test {fid_real:.4f}; "
          f"train-vs-train {fid_floor:.4f}; test-vs-noise(2k) {fid_noise:.2f}")
    assert fid_noise >= 100 * fid_real > 0
    # "small": of the order of the sampling floor, and tiny against the feature scale
    assert fid_real < 2 * fid_floor
    assert fid_real < 0.01 * np.trace(np.cov(feats, rowvar=False))


def test_fid_rises_with_blur_and_noise(mnist):
    (x_train, _), (x_test, _) = mnist
    ref = x_train[:2000]
    mu_r, s_r = metrics.feature_statistics(ref)

    def fid(imgs):
        mu, s = metrics.feature_statistics(imgs)
        return metrics.frechet_distance(mu_r, s_r, mu, s)

    clean = fid(x_test[:2000])
    blur = [clean] + [fid(_gaussian_blur(x_test[:2000], s)) for s in (0.7, 1.4, 2.0)]
    noise = [clean] + [fid(_add_noise(x_test[:2000], s)) for s in (0.15, 0.3, 0.5)]
    print(f"\n[{keras.backend.backend()}] blur sigma 0,0.7,1.4,2: {np.round(blur, 3).tolist()}; "
          f"noise std 0,0.15,0.3,0.5: {np.round(noise, 3).tolist()}")
    assert all(b > a for a, b in zip(blur, blur[1:])), blur
    assert all(b > a for a, b in zip(noise, noise[1:])), noise
    # and by a clear margin, not by sampling noise: the strongest is many times the clean one
    assert blur[-1] > 10 * blur[0] and noise[-1] > 10 * noise[0]


def test_classifier_fid_equals_statistics_route(mnist):
    (x_train, _), (x_test, _) = mnist
    a, b = x_train[:300], x_test[:300]
    via_stats = metrics.frechet_distance(*metrics.feature_statistics(a), *metrics.feature_statistics(b))
    assert metrics.classifier_fid(a, b) == pytest.approx(via_stats, rel=1e-9)
    assert metrics.classifier_fid(a, a) == pytest.approx(0.0, abs=1e-6)
    # symmetric, and positive for different sets
    assert metrics.classifier_fid(b, a) == pytest.approx(via_stats, rel=1e-6) and via_stats > 0


def test_classifier_score_real_and_single_class(mnist):
    (_, _), (x_test, y_test) = mnist
    full = metrics.classifier_score(x_test)
    per_class = [metrics.classifier_score(x_test[y_test == c][:200]) for c in range(10)]
    print(f"\n[{keras.backend.backend()}] classifier score test set {full:.4f}; single classes (200 each) "
          f"{np.round(per_class, 4).tolist()}")
    assert 9.7 <= full <= 10.0
    assert all(1.0 <= s < 1.5 for s in per_class), per_class
    # noise: one "class" distribution for all images -> far from 10
    rng = np.random.default_rng(0)
    assert metrics.classifier_score(rng.random((500, 28, 28))) < 5.0
    # probabilities: rows sum to 1, agree with the labels
    p = metrics.evaluator_probabilities(x_test[:500])
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    assert (p.argmax(1) == y_test[:500]).mean() > 0.98


def test_inputs_uint8_float_and_channel_axis_agree(mnist):
    (_, _), (x_test, _) = mnist
    x = x_test[:64]
    f_u8 = metrics.evaluator_features(x)
    f_float = metrics.evaluator_features(to_float_images(x, channel_axis=False))
    f_chan = metrics.evaluator_features(to_float_images(x))
    f_tensor = metrics.evaluator_features(ops.convert_to_tensor(to_float_images(x)))
    np.testing.assert_array_equal(f_u8, f_float)  # one pixel scaling: the same floats, the same features
    np.testing.assert_array_equal(f_u8, f_chan)
    np.testing.assert_allclose(f_u8, f_tensor, atol=1e-6)
    # a reader's own x / 255 differs in the last bit for some pixel values: features agree closely
    np.testing.assert_allclose(f_u8, metrics.evaluator_features(x / np.float32(255)), rtol=1e-5, atol=1e-5)
    # ragged sizes (padded batches) give the same per-image features
    np.testing.assert_allclose(metrics.evaluator_features(x[:7]), f_u8[:7], atol=1e-5)
    assert metrics.get_evaluator() is metrics.get_evaluator()  # cached per process


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((10, 28, 28, 3), "float32"), r"expected shape \(n, 28, 28\).*received shape \(10, 28, 28, 3\)"),
        (np.zeros((10, 784), "float32"), r"received shape \(10, 784\)"),
        (np.zeros((10, 32, 32), "uint8"), r"received shape \(10, 32, 32\)"),
        (np.full((10, 28, 28), 2.0, "float32"), r"expected float values in \[0, 1\].*received values in \[2, 2\]"),
        (np.full((10, 28, 28), -1.0, "float32"), r"received values in \[-1, -1\]"),
        (np.full((10, 28, 28), np.nan, "float32"), r"NaN"),
        (np.zeros((10, 28, 28), "int64"), r"expected dtype uint8.*received dtype int64"),
    ],
)
def test_bad_inputs_raise_clear_errors(bad, match):
    for fn in (metrics.evaluator_features, metrics.classifier_score):
        with pytest.raises(ValueError, match=match):
            fn(bad)
    with pytest.raises(ValueError, match=match):
        metrics.classifier_fid(bad, np.zeros((10, 28, 28), "float32"))


def test_fid_needs_two_images():
    one = np.zeros((1, 28, 28), "float32")
    with pytest.raises(ValueError, match=r"images_a: expected at least 2 image\(s\).*received 1"):
        metrics.classifier_fid(one, np.zeros((50, 28, 28), "float32"))
    with pytest.raises(ValueError, match=r"images_b: expected at least 2"):
        metrics.classifier_fid(np.zeros((50, 28, 28), "float32"), one)


def test_fid_warns_about_rank_deficient_covariances():
    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match="rank-deficient"):
        value = metrics.classifier_fid(rng.random((20, 28, 28)), rng.random((20, 28, 28)))
    assert np.isfinite(value) and value >= 0


def test_sample_quality_matches_the_separate_metrics(mnist):
    (x_train, _), (x_test, y_test) = mnist
    images, reference = x_test[2000:2600], x_test[:300]
    q = metrics.sample_quality(images, reference, n_fid=300)
    assert q["n"] == 600
    assert q["score"] == pytest.approx(metrics.classifier_score(images), rel=1e-6)
    assert q["fid"] == pytest.approx(metrics.classifier_fid(images[:300], reference), rel=1e-6)
    predicted = metrics.evaluator_probabilities(images).argmax(axis=1)
    np.testing.assert_allclose(q["shares"], np.bincount(predicted, minlength=10) / 600)
    assert q["shares"].sum() == pytest.approx(1.0) and q["classes_5pct"] == 10
    # one digit only: every sample in one class
    ones = x_test[y_test == 1][:300]
    q1 = metrics.sample_quality(ones, reference, n_fid=200)
    assert q1["classes_5pct"] == 1 and q1["shares"][1] > 0.95 and q1["score"] < 1.2
    # precision and recall on the evaluator's features of the same images: real digits are both
    # realistic and covering; one digit only is realistic and covers about its own share
    features_ref = metrics.evaluator_features(reference)
    assert (q["precision"], q["recall"]) == tuple(metrics.precision_recall(
        features_ref, metrics.evaluator_features(images[:300])).values())
    assert q["precision"] > 0.6 and q["recall"] > 0.6
    assert q1["precision"] > 0.6 and q1["recall"] < 0.25
    with pytest.raises(ValueError, match="at least n_fid=2000"):
        metrics.sample_quality(images, reference)
    with pytest.raises(ValueError, match="must exceed the 128 feature dimensions"):
        metrics.sample_quality(images, reference, n_fid=100)


def test_report_sample_quality_prints_what_it_returns(mnist, capsys):
    (_, _), (x_test, y_test) = mnist
    ones = x_test[y_test == 1][:300]
    q = metrics.report_sample_quality("ones", ones, x_test[:300], n_fid=200)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].split() == ["ones", "score", f"{q['score']:.2f}", "FID", f"{q['fid']:.1f}",
                                "digits", "with", ">=", "5%", "of", "the", "images:", "1"]
    shares = [float(s) for s in lines[1].split(":")[1].split()]
    np.testing.assert_allclose(shares, q["shares"], atol=0.005)
    assert shares[1] > 0.95


# --------------------------------------------------------------------------- precision and recall
def _cluster(centre, n, seed, spread=0.1, d=8):
    return centre + spread * np.random.default_rng(seed).standard_normal((n, d))


def test_precision_recall_exact_answers():
    a = _cluster(0.0, 60, 0)
    b = _cluster(100.0, 40, 1)
    real = np.concatenate([a, b])
    # identical sets: every point lies in its own ball
    assert metrics.precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}
    # two clusters far apart: no sample is realistic, nothing is covered
    assert metrics.precision_recall(a, b + 1000.0) == {"precision": 0.0, "recall": 0.0}
    # a strict subset of the reference (only cluster a): every sample is a real point, so precision 1;
    # recall is the covered share of the reference, 60 of 100
    assert metrics.precision_recall(real, a) == {"precision": 1.0, "recall": 0.6}
    # the two numbers swap with the two sets
    swapped = metrics.precision_recall(a, real)
    assert swapped == {"precision": 0.6, "recall": 1.0}


def test_precision_recall_uses_the_kth_neighbour():
    # points on a line at 0, 1, 2, ..., 9; fakes at 10.5: within the 1st-neighbour radius (1) of 9?
    # no (1.5 > 1); within its 2nd-neighbour radius (2)? yes.
    real = np.arange(10, dtype="float64")[:, None]
    fake = np.full((5, 1), 10.5)
    assert metrics.precision_recall(real, fake, k=1)["precision"] == 0.0
    assert metrics.precision_recall(real, fake, k=2)["precision"] == 1.0


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_precision_recall_refuses_a_bad_k(k):
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match=rf"k must be a positive whole number of neighbours; received k={k!r}"):
        metrics.precision_recall(x, x, k=k)


def test_precision_recall_needs_more_points_than_k():
    with pytest.raises(ValueError, match=r"fake_features must be \(n, d\) with n > k = 3.*received shape \(3, 2\)"):
        metrics.precision_recall(np.zeros((10, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="have 2 and 3 columns"):
        metrics.precision_recall(np.zeros((10, 2)), np.zeros((10, 3)))


def test_the_card_reference_is_one_fixed_sample_of_test_images():
    idx = metrics.card_reference_indices()
    assert len(idx) == len(np.unique(idx)) == 2000 and idx.min() >= 0 and idx.max() < 10_000
    np.testing.assert_array_equal(idx, metrics.card_reference_indices())  # no hidden state
    assert idx[-1] > 8000 and idx[0] < 2000  # drawn from the whole test set, not a slice of it
    x_test = np.arange(10_000)[:, None, None, None] * np.ones((1, 28, 28, 1), "uint8")
    np.testing.assert_array_equal(metrics.card_reference(x_test)[:, 0, 0, 0], idx)
    with pytest.raises(ValueError, match="10,000 MNIST test images"):
        metrics.card_reference(x_test[:5000])


def test_the_card_is_sample_quality_against_the_card_reference(capsys):
    from gvutil.data import load_mnist

    (x_train, _), _ = load_mnist()
    images = x_train[:2000]
    card = metrics.report_card("train", images)
    expected = metrics.sample_quality(images, metrics.card_reference())
    assert {k: card[k] for k in ("score", "fid", "precision", "recall")} == \
        {k: expected[k] for k in ("score", "fid", "precision", "recall")}
    line = capsys.readouterr().out
    assert line.startswith("train") and f"FID {card['fid']:6.1f}" in line and f"recall {card['recall']:.2f}" in line


def test_conditional_accuracy_exact_answers():
    from gvutil.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    x = x_test[:500]
    predicted = metrics.evaluator_probabilities(x).argmax(axis=1)
    np.testing.assert_array_equal(metrics.conditional_accuracy(x, predicted)[np.bincount(predicted, minlength=10) > 0], 1.0)
    wrong = (predicted + 1) % 10  # every image asked for as another digit than the evaluator sees
    assert np.nansum(metrics.conditional_accuracy(x, wrong)) == 0.0
    acc = metrics.conditional_accuracy(x[:20], np.zeros(20, int))  # only digit 0 asked for
    assert np.isnan(acc[1:]).all() and acc[0] == (predicted[:20] == 0).mean()
    with pytest.raises(ValueError, match="labels must be in 0-9"):
        metrics.conditional_accuracy(x[:3], [0, 1, 10])


@pytest.mark.parametrize("batch_size", [1000, 3])
def test_latent_usage_gives_kl_per_dimension_and_active_units_exactly(batch_size):
    x = np.zeros((10, 28, 28, 1), "float32")
    x[:5, 0, 0, 0] = 1.0  # latent 0's mean is 1 for half of the images, 0 for the others
    usage = metrics.latent_usage(constructed_vae(), x, batch_size=batch_size)
    np.testing.assert_allclose(usage["kl"], [0.25, 0.0, 2.0], atol=1e-6)  # 0.5 E[mu^2] at var 1
    np.testing.assert_allclose(usage["activity"], [0.25, 0.0, 0.0], atol=1e-7)
    assert usage["active"].tolist() == [True, False, False] and usage["active_units"] == 1
    assert metrics.latent_usage(constructed_vae(), x, threshold=0.3)["active_units"] == 0


@pytest.mark.parametrize("threshold", [0, -0.01, float("nan")])
def test_latent_usage_refuses_a_threshold_that_is_not_positive(threshold):
    with pytest.raises(ValueError, match="threshold must be > 0"):
        metrics.latent_usage(constructed_vae(), np.zeros((4, 28, 28, 1), "float32"), threshold=threshold)
