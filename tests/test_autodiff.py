"""gvutil.autodiff: the same gradients and training steps on TensorFlow and JAX.

Run on both backends: ``KERAS_BACKEND=tensorflow pytest tests/test_autodiff.py`` and
``KERAS_BACKEND=jax pytest tests/test_autodiff.py``.
"""

import numpy as np
import pytest

import gvutil


def _np(x):
    import keras

    return keras.ops.convert_to_numpy(x)


def test_scalar_gradient():
    import keras

    from gvutil.autodiff import value_and_grad

    w = keras.Variable(1.0)
    loss, (g,) = value_and_grad(lambda: (w - 3.0) ** 2, [w])
    assert float(_np(loss)) == pytest.approx(4.0)
    assert float(_np(g)) == pytest.approx(-4.0)


def test_matches_analytic_gradient_float64(float64):
    import keras
    from keras import ops

    from gvutil.autodiff import value_and_grad

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3))
    y = rng.standard_normal((5,))
    w = keras.Variable(rng.standard_normal(3), dtype="float64")
    b = keras.Variable(0.5, dtype="float64")

    def loss():
        r = ops.matmul(ops.convert_to_tensor(x), w) + b - y
        return ops.sum(r ** 2) / 5  # ops.mean computes in float32 on JAX, whatever the input

    value, (gw, gb) = value_and_grad(loss, [w, b])
    r = x @ _np(w) + 0.5 - y
    np.testing.assert_allclose(_np(value), np.mean(r ** 2), rtol=1e-12)
    np.testing.assert_allclose(_np(gw), 2 * x.T @ r / 5, rtol=1e-12)
    np.testing.assert_allclose(_np(gb), 2 * r.mean(), rtol=1e-12)
    assert _np(gw).dtype == np.float64


def test_model_gradient_and_aux():
    import keras
    from keras import ops

    from gvutil.autodiff import value_and_grad

    gvutil.seed_everything(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1)])
    x = np.ones((3, 2), "float32")

    def loss():
        out = model(x)
        return ops.sum(out ** 2), out

    (value, out), grads = value_and_grad(loss, model.trainable_variables, has_aux=True)
    assert len(grads) == len(model.trainable_variables)
    for g, v in zip(grads, model.trainable_variables):
        assert tuple(g.shape) == tuple(v.shape)
    np.testing.assert_allclose(_np(value), np.sum(_np(out) ** 2), rtol=1e-6)
    # Finite-difference check of the output bias gradient.
    bias = model.trainable_variables[-1]
    b0 = _np(bias).copy()
    eps = 1e-2
    bias.assign(b0 + eps)
    up = float(_np(ops.sum(model(x) ** 2)))
    bias.assign(b0 - eps)
    down = float(_np(ops.sum(model(x) ** 2)))
    bias.assign(b0)
    assert float(_np(grads[-1])[0]) == pytest.approx((up - down) / (2 * eps), rel=1e-3)


def test_unused_variable_gets_zero_gradient():
    import keras

    from gvutil.autodiff import value_and_grad

    a, b = keras.Variable(2.0), keras.Variable(5.0)
    _, (ga, gb) = value_and_grad(lambda: a * a, [a, b])
    assert float(_np(ga)) == pytest.approx(4.0)
    assert float(_np(gb)) == 0.0


def test_seed_generator_advances_inside_loss():
    """Noise drawn inside the loss must differ from call to call, as on TensorFlow."""
    import keras

    from gvutil.autodiff import value_and_grad

    gvutil.seed_everything(0)
    seed = keras.random.SeedGenerator(3)
    w = keras.Variable(1.0)
    draws = []
    for _ in range(2):
        (_, noise), _ = value_and_grad(
            lambda: (lambda n: (w * keras.ops.sum(n), n))(keras.random.normal((4,), seed=seed)),
            [w], has_aux=True)
        draws.append(_np(noise))
    assert not np.array_equal(draws[0], draws[1])


def _gan_setup():
    import keras
    from keras import ops

    from gvutil.autodiff import state_of, value_and_grad

    gvutil.seed_everything(0)

    def mlp(out):
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                                 keras.layers.Dense(out)])

    g, d = mlp(2), mlp(1)
    g_opt, d_opt = keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2)
    g_opt.build(g.trainable_variables)
    d_opt.build(d.trainable_variables)
    seed = keras.random.SeedGenerator(7)

    def step(x):
        z = keras.random.normal((16, 2), seed=seed)
        d_loss, grads = value_and_grad(
            lambda: ops.mean(ops.softplus(-d(x))) + ops.mean(ops.softplus(d(g(z)))),
            d.trainable_variables)
        d_opt.apply(grads, d.trainable_variables)
        g_loss, grads = value_and_grad(
            lambda: ops.mean(ops.softplus(-d(g(keras.random.normal((16, 2), seed=seed))))),
            g.trainable_variables)
        g_opt.apply(grads, g.trainable_variables)
        return d_loss, g_loss

    return step, state_of(g, d, g_opt, d_opt, seed), (g, d)


def test_jit_step_equals_eager_step():
    from gvutil.autodiff import jit

    x = np.random.default_rng(0).standard_normal((16, 2)).astype("float32")
    results = []
    for compiled in (False, True):
        step, state, models = _gan_setup()
        run = jit(step, state) if compiled else step
        losses = [tuple(float(_np(v)) for v in run(x)) for _ in range(3)]
        weights = [_np(w) for m in models for w in m.weights]
        results.append((losses, weights))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # The step changed the weights and the noise (the losses differ between steps).
    assert len({l for l, _ in results[1][0]}) == 3


def test_state_of_has_no_duplicates():
    import keras

    from gvutil.autodiff import state_of

    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    seed = keras.random.SeedGenerator(0)
    vs = state_of(m, m, seed, [m.weights[0]])
    assert len(vs) == len(m.variables) + 1


def test_jit_rejects_unlisted_state_on_jax():
    import keras

    from gvutil.autodiff import jit

    if keras.backend.backend() != "jax":
        pytest.skip("only JAX needs the list of variables a step assigns")
    w, hidden = keras.Variable(1.0), keras.Variable(0.0)

    def step():
        hidden.assign(hidden + 1.0)
        return w * 2.0

    with pytest.raises(ValueError, match="not passed to jit"):
        jit(step, [w])()


def test_float64_is_scoped_to_the_test_that_asks_for_it():
    """Runs after the float64 test in this file: JAX must be back to float32 defaults."""
    import keras
    from keras import ops

    x = ops.convert_to_tensor(np.arange(3.0))  # float64 NumPy input
    if keras.backend.backend() == "jax":
        assert str(x.dtype) == "float32"
