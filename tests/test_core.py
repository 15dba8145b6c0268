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
