"""The book's MNIST evaluator: a small CNN whose features and class probabilities measure samples.

The network is built in code (:func:`build_evaluator`); only its weights are stored, in
``mnist_cnn.weights.h5`` beside this file, together with ``mnist_cnn.json`` (the SHA-256 of the
weights, the exact command that made them, the library versions, the seconds taken, the test
accuracy, and reference outputs on a few test images) and ``RECORD.md`` (the same, for people).

* ``python -m gvutil.evaluator train`` retrains it (seeded; bit-for-bit repeatable on the
  TensorFlow CPU backend) and rewrites the three files; that code lives in
  :mod:`gvutil.evaluator.training`, outside the import path of :mod:`gvutil.metrics`.
* ``python -m gvutil.evaluator verify`` checks the checksum, recomputes the test accuracy and
  compares the outputs with the recorded reference outputs (on either Keras backend).

:func:`load_evaluator` refuses a weights file whose SHA-256 is not the recorded one, so a
corrupted or swapped file can never silently change every FID in the book.

Most readers want :mod:`gvutil.metrics` (``classifier_fid``, ``classifier_score``,
``evaluator_features``) rather than this module.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gvutil.data import ChecksumError, scale_pixels

if TYPE_CHECKING:
    from os import PathLike

    import keras
    from numpy.typing import ArrayLike

__all__ = [
    "EVALUATOR_DIR",
    "FEATURE_DIM",
    "RECORD_JSON",
    "RECORD_MD",
    "WEIGHTS_PATH",
    "EvaluatorChecksumError",
    "MNISTEvaluator",
    "as_evaluator_images",
    "build_evaluator",
    "load_evaluator",
    "read_record",
    "sha256_file",
    "verify",
]

EVALUATOR_DIR = Path(__file__).resolve().parent
WEIGHTS_PATH = EVALUATOR_DIR / "mnist_cnn.weights.h5"
RECORD_JSON = EVALUATOR_DIR / "mnist_cnn.json"
RECORD_MD = EVALUATOR_DIR / "RECORD.md"

#: Width of the penultimate ("features") layer, the space in which classifier FID is computed.
FEATURE_DIM = 128
#: Number of test images whose outputs are recorded as a cross-backend reference.
N_REFERENCE = 16

class EvaluatorChecksumError(ChecksumError):
    """The evaluator's weights file is not the one whose SHA-256 was recorded."""


# ----------------------------------------------------------------------------- the network

def build_evaluator() -> keras.Model:
    """The evaluator CNN (untrained): (n,28,28,1) float in [0,1] -> 10 logits.

    Three 3x3 convolutions (32, 64, 128 channels, batch norm, ReLU, two 2x2 max-pools), then a
    128-wide dense ReLU layer named ``"features"`` (the penultimate layer used for FID),
    dropout 0.3 (training only) and a 10-way dense layer named ``"logits"``. 242k parameters.
    """
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1), name="image")
    h = inputs
    for i, filters in enumerate((32, 64, 128)):
        h = layers.Conv2D(filters, 3, use_bias=False, name=f"conv{i + 1}")(h)
        h = layers.BatchNormalization(name=f"bn{i + 1}")(h)
        h = layers.ReLU(name=f"relu{i + 1}")(h)
        if i < 2:
            h = layers.MaxPooling2D(name=f"pool{i + 1}")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(FEATURE_DIM, activation="relu", name="features")(h)
    h = layers.Dropout(0.3, name="dropout")(h)
    outputs = layers.Dense(10, name="logits")(h)
    return keras.Model(inputs, outputs, name="mnist_evaluator")


def as_evaluator_images(images: ArrayLike, name: str = "images", min_count: int = 1) -> np.ndarray:
    """Validate a batch of MNIST-like images and return float32 (n,28,28,1) in [0,1].

    Accepts a NumPy array or a backend tensor of shape (n,28,28) or (n,28,28,1), either
    ``uint8`` (0..255) or floating point / boolean with values in [0,1]. Anything else raises
    a ``ValueError`` that names what was expected and what was received.
    """
    if not isinstance(images, np.ndarray):
        try:
            import keras

            images = keras.ops.convert_to_numpy(images)
        except Exception:
            images = np.asarray(images)
    x = np.asarray(images)
    expected = "shape (n, 28, 28) or (n, 28, 28, 1)"
    if not (x.ndim == 3 and x.shape[1:] == (28, 28)) and not (x.ndim == 4 and x.shape[1:] == (28, 28, 1)):
        raise ValueError(f"{name}: expected {expected}; received shape {x.shape}.")
    if x.shape[0] < min_count:
        raise ValueError(
            f"{name}: expected at least {min_count} image(s) (a covariance needs at least 2); "
            f"received {x.shape[0]}."
        )
    if x.dtype == np.uint8:
        x = scale_pixels(x)
    elif x.dtype == np.bool_:
        x = x.astype("float32")
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype("float32")
        if x.size:
            if not np.all(np.isfinite(x)):
                raise ValueError(f"{name}: expected finite values in [0, 1]; received NaN or inf.")
            lo, hi = float(x.min()), float(x.max())
            if lo < 0.0 or hi > 1.0:
                raise ValueError(
                    f"{name}: expected float values in [0, 1] (or uint8 in 0..255); received values "
                    f"in [{lo:.4g}, {hi:.4g}]. Rescale (e.g. (x + 1) / 2 for tanh outputs) or clip first."
                )
    else:
        raise ValueError(
            f"{name}: expected dtype uint8 (0..255) or float in [0, 1]; received dtype {x.dtype}."
        )
    return x.reshape(-1, 28, 28, 1)


class MNISTEvaluator:
    """A loaded evaluator: batched forward passes returning features and class probabilities."""

    def __init__(self, model: keras.Model, path: Path, sha256: str) -> None:
        import keras

        self.model = model
        self.path = Path(path)
        self.sha256 = sha256
        self.backend = keras.backend.backend()
        self._both = keras.Model(model.inputs, [model.get_layer("features").output, model.outputs[0]])

    def outputs(self, images: ArrayLike, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """(features (n,128), logits (n,10)) as float32 NumPy arrays.

        Every forward batch has the same size (the last one is zero-padded), so JAX compiles
        the network once per batch size instead of once more for a ragged last batch.
        """
        x = as_evaluator_images(images)
        n = len(x)
        if n == 0:
            return np.zeros((0, FEATURE_DIM), "float32"), np.zeros((0, 10), "float32")
        bs = int(min(batch_size, 1 << (n - 1).bit_length()))  # power of two below batch_size
        padded = -(-n // bs) * bs
        if padded != n:
            x = np.concatenate([x, np.zeros((padded - n, 28, 28, 1), "float32")])
        feats, logits = [], []
        for i in range(0, padded, bs):  # predict_on_batch: one compiled step, no data pipeline
            f, lg = self._both.predict_on_batch(x[i:i + bs])
            feats.append(np.asarray(f, "float32"))
            logits.append(np.asarray(lg, "float32"))
        return np.concatenate(feats)[:n], np.concatenate(logits)[:n]

    def features(self, images: ArrayLike, batch_size: int = 500) -> np.ndarray:
        return self.outputs(images, batch_size)[0]

    def logits(self, images: ArrayLike, batch_size: int = 500) -> np.ndarray:
        return self.outputs(images, batch_size)[1]

    def probabilities(self, images: ArrayLike, batch_size: int = 500) -> np.ndarray:
        return softmax(self.logits(images, batch_size))

    def predict_labels(self, images: ArrayLike, batch_size: int = 500) -> np.ndarray:
        return np.argmax(self.logits(images, batch_size), axis=1)


def softmax(logits: ArrayLike) -> np.ndarray:
    z = np.asarray(logits, "float64")
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- loading

def sha256_file(path: str | PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_record(path: str | PathLike[str] | None = None) -> dict:
    """The training record (``mnist_cnn.json``) as a dict."""
    path = Path(path) if path is not None else RECORD_JSON
    if not path.exists():
        raise FileNotFoundError(
            f"The evaluator record {path} is missing; run `python -m gvutil.evaluator train`."
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_evaluator(path: str | PathLike[str] | None = None, sha256: str | None = None) -> MNISTEvaluator:
    """Build the evaluator and load its weights after checking their SHA-256.

    Args:
        path: a ``.weights.h5`` file (default: the committed weights beside this module).
        sha256: the expected digest (default: the one recorded in ``mnist_cnn.json``).

    Raises:
        EvaluatorChecksumError: the file's SHA-256 differs from the expected one.
        FileNotFoundError: no weights file (train it with ``python -m gvutil.evaluator train``).
    """
    path = Path(path) if path is not None else WEIGHTS_PATH
    if not path.exists():
        raise FileNotFoundError(
            f"Evaluator weights {path} not found; run `python -m gvutil.evaluator train`."
        )
    expected = sha256 if sha256 is not None else read_record()["weights_sha256"]
    actual = sha256_file(path)
    if actual != expected:
        raise EvaluatorChecksumError(
            f"Evaluator weights {path} failed their checksum: SHA-256 {actual[:16]}... "
            f"({path.stat().st_size:,} bytes) but the recorded weights have {expected[:16]}... "
            f"The file is corrupted or not the committed evaluator; restore it (git checkout) "
            f"or retrain with `python -m gvutil.evaluator train`."
        )
    model = build_evaluator()
    model.load_weights(path)
    return MNISTEvaluator(model, path, actual)


# ----------------------------------------------------------------------------- training

# ----------------------------------------------------------------------------- verification

# How far verify() lets this machine's evaluator differ from the record (max absolute differences).
VERIFY_TOLERANCE = {"accuracy": 2e-4, "logits": 1e-4, "features": 1e-4, "probabilities": 1e-5}


class EvaluatorMismatch(ValueError):
    """The evaluator on this machine does not reproduce its record (see :func:`verify`)."""


def verify(path: str | PathLike[str] | None = None, sha256: str | None = None, verbose: bool = True) -> dict:
    """Check the checksum, recompute the test accuracy and compare with the recorded outputs.

    Raises:
        EvaluatorMismatch: the test accuracy differs from the record by more than 2e-4, or the
            outputs on the reference images by more than ``VERIFY_TOLERANCE``.
    """
    import keras

    from gvutil.data import load_mnist

    record = read_record()
    t0 = time.perf_counter()
    ev = load_evaluator(path, sha256)
    (_, _), (x_test, y_test) = load_mnist()
    feats, logits = ev.outputs(x_test)
    seconds = time.perf_counter() - t0
    accuracy = float((logits.argmax(1) == y_test).mean())
    ref = record["reference"]
    dlog = float(np.abs(logits[:N_REFERENCE] - np.asarray(ref["logits"])).max())
    dfeat = float(np.abs(feats[:N_REFERENCE] - np.asarray(ref["features"])).max())
    dprob = float(np.abs(softmax(logits[:N_REFERENCE]) - softmax(np.asarray(ref["logits"]))).max())
    out = {
        "backend": keras.backend.backend(),
        "sha256": ev.sha256,
        "test_accuracy": accuracy,
        "recorded_test_accuracy": record["test_accuracy"],
        "max_abs_diff_logits": dlog,
        "max_abs_diff_features": dfeat,
        "max_abs_diff_probabilities": dprob,
        "seconds": round(seconds, 2),
    }
    if verbose:
        print(json.dumps(out, indent=1))
    if abs(accuracy - record["test_accuracy"]) > VERIFY_TOLERANCE["accuracy"]:
        raise EvaluatorMismatch(f"test accuracy {accuracy:.5f} differs from the recorded "
                                f"{record['test_accuracy']:.5f} by more than {VERIFY_TOLERANCE['accuracy']}")
    diffs = {"logits": dlog, "features": dfeat, "probabilities": dprob}
    over = {k: v for k, v in diffs.items() if v >= VERIFY_TOLERANCE[k]}
    if over:
        raise EvaluatorMismatch("outputs differ from the recorded reference: " + ", ".join(
            f"{k} by {v:.2e} (allowed < {VERIFY_TOLERANCE[k]:.0e})" for k, v in over.items()))
    return out
