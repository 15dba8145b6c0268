"""Tests of gvutil.evaluator: checksummed weights, recorded provenance, backend-independent outputs.

Run on both backends:
    KERAS_BACKEND=tensorflow python -m pytest tests/test_evaluator.py
    KERAS_BACKEND=jax        python -m pytest tests/test_evaluator.py
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import gvutil

gvutil.quiet_tensorflow()

import keras  # noqa: E402

from gvutil import evaluator  # noqa: E402
from gvutil.evaluator import training  # noqa: E402
from gvutil.data import ChecksumError  # noqa: E402


@pytest.fixture(scope="module")
def record():
    return evaluator.read_record()


def test_weights_and_record_are_committed_and_consistent(record):
    path = evaluator.WEIGHTS_PATH
    assert path.name.endswith(".weights.h5") and path.exists()
    assert path.stat().st_size < 2_000_000
    assert record["weights_file"] == path.name
    assert record["weights_sha256"] == evaluator.sha256_file(path)
    assert record["weights_bytes"] == path.stat().st_size
    assert record["test_accuracy"] >= 0.99
    assert record["command"].startswith("python -m gvutil.evaluator train")
    assert record["train_seconds"] > 0
    for lib in ("python", "keras", "tensorflow", "jax", "numpy", "backend"):
        assert lib in record["environment"], lib
    assert record["feature_dim"] == evaluator.FEATURE_DIM == 128
    # the human-readable record states the same digest, command and accuracy
    md = evaluator.RECORD_MD.read_text(encoding="utf-8")
    assert record["weights_sha256"] in md and record["command"] in md
    assert f"{100 * record['test_accuracy']:.2f}%" in md
    # the architecture built in code is the one the weights were saved from
    model = evaluator.build_evaluator()
    assert model.count_params() == record["parameters"]
    assert model.get_layer("features").units == evaluator.FEATURE_DIM


def test_tampered_weights_fail_with_a_checksum_error(tmp_path):
    good = tmp_path / "copy.weights.h5"
    shutil.copyfile(evaluator.WEIGHTS_PATH, good)
    ev = evaluator.load_evaluator(good)  # an intact copy loads (same digest)
    assert ev.sha256 == evaluator.read_record()["weights_sha256"]

    bad = tmp_path / "tampered.weights.h5"
    data = bytearray(evaluator.WEIGHTS_PATH.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the middle of the weights
    bad.write_bytes(bytes(data))
    with pytest.raises(evaluator.EvaluatorChecksumError, match="failed their checksum"):
        evaluator.load_evaluator(bad)
    with pytest.raises(ChecksumError):  # also catchable as the data loader's error
        evaluator.load_evaluator(bad)
    with pytest.raises(evaluator.EvaluatorChecksumError):
        evaluator.load_evaluator(good, sha256="0" * 64)
    with pytest.raises(FileNotFoundError, match="gvutil.evaluator train"):
        evaluator.load_evaluator(tmp_path / "missing.weights.h5")


def test_outputs_match_the_recorded_reference_on_this_backend(mnist, record):
    """The reference was recorded on TensorFlow at training time; every backend must match it."""
    (_, _), (x_test, _) = mnist
    ev = evaluator.load_evaluator()
    ref = record["reference"]
    n = len(ref["logits"])
    feats, logits = ev.outputs(x_test[:n])
    assert feats.shape == (n, 128) and logits.shape == (n, 10)
    d_logits = np.abs(logits - np.asarray(ref["logits"])).max()
    d_feats = np.abs(feats - np.asarray(ref["features"])).max()
    d_probs = np.abs(evaluator.softmax(logits) - evaluator.softmax(np.asarray(ref["logits"]))).max()
    print(f"\n[{keras.backend.backend()}] max |diff| vs recorded reference: logits {d_logits:.2e}, "
          f"features {d_feats:.2e}, probabilities {d_probs:.2e}")
    tol = evaluator.VERIFY_TOLERANCE  # the tolerance `verify()` enforces
    assert d_logits < tol["logits"] and d_feats < tol["features"] and d_probs < tol["probabilities"]
    # batching does not change the numbers
    feats_big, _ = ev.outputs(x_test[:1000], batch_size=250)
    np.testing.assert_allclose(feats_big[:n], feats, atol=1e-5)


def test_verify_recomputes_test_accuracy(mnist, record, capsys):
    assert training.main(["verify"]) == 0  # the CLI path of `python -m gvutil.evaluator verify`
    out = evaluator.verify(verbose=False)
    assert out["test_accuracy"] >= 0.99
    assert out["test_accuracy"] == pytest.approx(record["test_accuracy"], abs=2e-4)
    assert out["backend"] == keras.backend.backend()


def test_verify_raises_when_the_record_is_not_reproduced(mnist, record, monkeypatch):
    """verify() raises (not `assert`, which `python -O` strips) naming what differs."""
    import copy

    wrong = copy.deepcopy(record)
    wrong["test_accuracy"] = record["test_accuracy"] - 0.01
    monkeypatch.setattr(evaluator, "read_record", lambda: wrong)
    with pytest.raises(evaluator.EvaluatorMismatch, match="test accuracy"):
        evaluator.verify(verbose=False)
    wrong = copy.deepcopy(record)
    wrong["reference"]["logits"] = (np.asarray(record["reference"]["logits"]) + 1e-3).tolist()
    monkeypatch.setattr(evaluator, "read_record", lambda: wrong)
    with pytest.raises(evaluator.EvaluatorMismatch, match="logits by"):
        evaluator.verify(verbose=False)


def test_train_smoke_is_deterministic_and_loadable(mnist, tmp_path):
    """A tiny run of the training command's code path: files, checksum, record, determinism."""
    a = training.train(out_dir=tmp_path / "a", epochs=1, n_train=600, verbose=0)
    runs = [(a, tmp_path / "a")]
    if keras.backend.backend() == "tensorflow":  # the determinism the committed weights rely on
        b = training.train(out_dir=tmp_path / "b", epochs=1, n_train=600, verbose=0)
        runs.append((b, tmp_path / "b"))
        assert a["weights_sha256"] == b["weights_sha256"], "same seed, different weights"
    for rec, d in runs:
        w = d / evaluator.WEIGHTS_PATH.name
        assert w.exists() and w.stat().st_size < 2_000_000
        assert evaluator.sha256_file(w) == rec["weights_sha256"]
        assert evaluator.read_record(d / evaluator.RECORD_JSON.name)["weights_sha256"] == rec["weights_sha256"]
        assert rec["weights_sha256"] in (d / evaluator.RECORD_MD.name).read_text(encoding="utf-8")
        assert "first 600 images only" in rec["training"]["data"]
    ev = evaluator.load_evaluator(tmp_path / "a" / evaluator.WEIGHTS_PATH.name, sha256=a["weights_sha256"])
    assert 0.5 < a["test_accuracy"] < 0.99  # learned something from 600 images, far from the real one
    assert ev.predict_labels(mnist[1][0][:10]).shape == (10,)
