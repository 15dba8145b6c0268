"""seed_everything and versions: reproducibility the notebooks rely on."""

import sys

import numpy as np

import gvutil


def _run(seed):
    import keras

    gvutil.seed_everything(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dropout(0.5)])
    x = np.ones((8, 4), "float32")
    y = np.zeros((8, 3), "float32")
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=True)
    return model.get_weights(), np.random.rand(2), keras.ops.convert_to_numpy(keras.random.normal((3,)))


def test_same_seed_same_training():
    a, b = _run(1), _run(1)
    for wa, wb in zip(a[0], b[0]):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])


def test_different_seed_different_weights():
    a, b = _run(1), _run(2)
    assert not np.array_equal(a[0][0], b[0][0])


def test_versions_names_the_backend():
    import keras

    v = gvutil.versions()
    assert v["backend"] == keras.backend.backend()
    assert v["keras"].startswith("3.") and v["gvutil"] == gvutil.__version__


def test_in_colab_reads_colabs_module_or_its_variable(monkeypatch):
    import types

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert gvutil.in_colab() is False
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20261130-060000_RC00")
    assert gvutil.in_colab() is True
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert gvutil.in_colab() is True


def _train_mlp_gan_twice():
    import keras

    from gvutil.models import make_gan

    x = np.random.default_rng(0).random((64, 28, 28, 1)).astype("float32")
    out = []
    for _ in range(2):
        gvutil.seed_everything(3)
        gan = make_gan("mlp", hidden=(256, 512, 1024), batchnorm=True, seed=3)  # large enough for XLA
        gan.fit(x, epochs=2, batch_size=16, verbose=0)
        out.append((gan, [keras.ops.convert_to_numpy(w) for w in gan.weights]))
    return out


def test_mlp_gan_reruns_bit_identical_with_xla_on_a_cpu():
    """What the stored outputs of chapter 4 rely on: seed_everything + the MLP GAN's compile
    settings (XLA, also on a TensorFlow CPU) give bit-identical weights when run again."""
    import keras

    from gvutil import config

    (gan_a, a), (_, b) = _train_mlp_gan_twice()
    if keras.backend.backend() == "tensorflow" and config.accelerator() == "cpu":
        import tensorflow as tf
        from tensorflow.python.framework.config import is_op_determinism_enabled

        assert gan_a.jit_compile is True  # op determinism would have switched XLA off
        assert not is_op_determinism_enabled() and not tf.config.list_physical_devices("GPU")
    assert len(a) == len(b) > 0
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
