"""The book's MNIST evaluator: a small CNN whose features and class probabilities measure samples.

The network is built in code (:func:`build_evaluator`); only its weights are stored, in
``mnist_cnn.weights.h5`` beside this file, together with ``mnist_cnn.json`` (the SHA-256 of the
weights, the exact command that made them, the library versions, the seconds taken, the test
accuracy, and reference outputs on a few test images) and ``RECORD.md`` (the same, for people).

* ``python -m gvutil.evaluator train`` retrains it (seeded; bit-for-bit repeatable on the
  TensorFlow CPU backend) and rewrites the three files.
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
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from gvutil.data import ChecksumError

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
    "train",
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

#: Training settings used by ``python -m gvutil.evaluator train`` (recorded in the JSON).
DEFAULT_TRAIN = {
    "seed": 0,
    "epochs": 5,
    "batch_size": 100,
    "learning_rate": 2e-3,
    "max_shift": 2,
}


class EvaluatorChecksumError(ChecksumError):
    """The evaluator's weights file is not the one whose SHA-256 was recorded."""


# ----------------------------------------------------------------------------- the network

def build_evaluator():
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


def as_evaluator_images(images, name: str = "images", min_count: int = 1) -> np.ndarray:
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
        x = x.astype("float32") / 255.0
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

    def __init__(self, model, path: Path, sha256: str):
        import keras

        self.model = model
        self.path = Path(path)
        self.sha256 = sha256
        self.backend = keras.backend.backend()
        self._both = keras.Model(model.inputs, [model.get_layer("features").output, model.outputs[0]])

    def outputs(self, images, batch_size: int = 500):
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

    def features(self, images, batch_size: int = 500) -> np.ndarray:
        return self.outputs(images, batch_size)[0]

    def logits(self, images, batch_size: int = 500) -> np.ndarray:
        return self.outputs(images, batch_size)[1]

    def probabilities(self, images, batch_size: int = 500) -> np.ndarray:
        return softmax(self.logits(images, batch_size))

    def predict_labels(self, images, batch_size: int = 500) -> np.ndarray:
        return np.argmax(self.logits(images, batch_size), axis=1)


def softmax(logits) -> np.ndarray:
    z = np.asarray(logits, "float64")
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- loading

def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_record(path=None) -> dict:
    """The training record (``mnist_cnn.json``) as a dict."""
    path = Path(path) if path is not None else RECORD_JSON
    if not path.exists():
        raise FileNotFoundError(
            f"The evaluator record {path} is missing; run `python -m gvutil.evaluator train`."
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_evaluator(path=None, sha256: str | None = None) -> MNISTEvaluator:
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

def _shift_augment(x: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """Translate each image by a random integer offset in [-max_shift, max_shift]^2 (zero fill)."""
    if max_shift <= 0:
        return x
    n = len(x)
    s = max_shift
    padded = np.pad(x, ((0, 0), (s, s), (s, s), (0, 0)))
    dy = rng.integers(-s, s + 1, size=n)
    dx = rng.integers(-s, s + 1, size=n)
    out = np.empty_like(x)
    for oy in range(-s, s + 1):
        for ox in range(-s, s + 1):
            idx = np.nonzero((dy == oy) & (dx == ox))[0]
            if len(idx):
                out[idx] = padded[idx, s + oy: s + oy + 28, s + ox: s + ox + 28]
    return out


def _environment() -> dict:
    import platform

    import gvutil

    env = gvutil.versions()
    env["platform"] = platform.platform()
    env["cpu_count"] = os.cpu_count()
    try:  # training time depends on what else runs on the machine: record it
        env["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # pragma: no cover - not on every platform
        pass
    return env


def _without_optimizer(model):
    clean = build_evaluator()
    clean.set_weights(model.get_weights())
    return clean


def train(out_dir=None, seed: int = DEFAULT_TRAIN["seed"], epochs: int = DEFAULT_TRAIN["epochs"],
          batch_size: int = DEFAULT_TRAIN["batch_size"],
          learning_rate: float = DEFAULT_TRAIN["learning_rate"],
          max_shift: int = DEFAULT_TRAIN["max_shift"], command: str | None = None,
          n_train: int | None = None, verbose: int = 2) -> dict:
    """Train the evaluator on the MNIST training set and write weights + record into ``out_dir``.

    Deterministic: NumPy does the shuffling and augmentation from ``seed``, and
    :func:`gvutil.seed_everything` seeds Keras and turns on TensorFlow's op determinism. The
    test set is used only once, after training, to report accuracy (no model selection on it).
    ``n_train`` limits training to the first images (for smoke tests only; the committed weights
    use all 60,000). Returns the record dict that was written.
    """
    import gvutil

    gvutil.quiet_tensorflow()
    import keras

    from gvutil.data import load_mnist, to_float_images

    out_dir = Path(out_dir) if out_dir is not None else EVALUATOR_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    environment = _environment()
    gvutil.seed_everything(seed)
    (x_train, y_train), (x_test, y_test) = load_mnist()
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    x_train, x_test = to_float_images(x_train), to_float_images(x_test)
    y_train, y_test = y_train.astype("int32"), y_test.astype("int32")

    t0 = time.perf_counter()
    model = build_evaluator()
    steps_per_epoch = -(-len(x_train) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps_per_epoch,
                                                      alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        perm = rng.permutation(len(x_train))
        xa = _shift_augment(x_train[perm], rng, max_shift)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}", flush=True)
        h = model.fit(xa, y_train[perm], batch_size=batch_size, epochs=1, shuffle=False, verbose=verbose)
        history.append({k: round(float(v[-1]), 5) for k, v in h.history.items()})
    train_seconds = time.perf_counter() - t0

    weights_path = out_dir / WEIGHTS_PATH.name
    # Save from a fresh, uncompiled copy: a compiled model's file would also hold Adam's two
    # moment estimates (three times the size) that inference never needs.
    with warnings.catch_warnings():
        # Keras 3.15 copies variables with np.array(variable); NumPy >= 2 warns about the copy
        # keyword for every variable. Harmless, and not ours to fix.
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy",
                                category=DeprecationWarning)
        model = _without_optimizer(model)
        model.save_weights(weights_path)
    digest = sha256_file(weights_path)
    ev = MNISTEvaluator(model, weights_path, digest)
    _, logits = ev.outputs(x_test)
    pred = logits.argmax(1)
    accuracy = float((pred == y_test).mean())
    feats_ref, logits_ref = ev.outputs(x_test[:N_REFERENCE])
    total_seconds = time.perf_counter() - t0

    record = {
        "weights_file": weights_path.name,
        "weights_sha256": digest,
        "weights_bytes": weights_path.stat().st_size,
        "command": command or f"python -m gvutil.evaluator train --seed {seed} --epochs {epochs}",
        "architecture": "gvutil.evaluator.build_evaluator: conv3x3(32)-BN-ReLU-pool, conv3x3(64)-BN-ReLU-pool, "
                        "conv3x3(128)-BN-ReLU, flatten, dense(128, ReLU) 'features', dropout 0.3, dense(10) 'logits'",
        "parameters": int(model.count_params()),
        "feature_layer": "features",
        "feature_dim": FEATURE_DIM,
        "input": "float32 (n,28,28,1) in [0,1] (MNIST uint8 / 255)",
        "training": {
            "data": (f"MNIST training set, all {len(x_train):,} images" if n_train is None else
                     f"MNIST training set, first {len(x_train):,} images only (smoke test)")
                    + " (no validation split; fixed schedule)",
            "seed": seed, "epochs": epochs, "batch_size": batch_size,
            "optimizer": f"Adam, cosine decay from {learning_rate} to {learning_rate * 0.01:g}",
            "augmentation": f"random integer translation in [-{max_shift}, {max_shift}] px (zero fill), "
                            f"redrawn every epoch",
            "history": history,
        },
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(total_seconds, 1),
        "test_accuracy": round(accuracy, 5),
        "test_errors": int((pred != y_test).sum()),
        "environment": environment,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "reference": {
            "what": f"outputs on the first {N_REFERENCE} MNIST test images, float32, backend "
                    f"{keras.backend.backend()}; `verify` and the tests check every backend against them",
            "logits": np.round(logits_ref.astype("float64"), 6).tolist(),
            "features": np.round(feats_ref.astype("float64"), 6).tolist(),
        },
    }
    with open(out_dir / RECORD_JSON.name, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    (out_dir / RECORD_MD.name).write_text(_record_markdown(record), encoding="utf-8")
    return record


def _record_markdown(r: dict) -> str:
    env = r["environment"]
    t = r["training"]
    hist = "\n".join(
        f"| {i + 1} | {h.get('loss', float('nan')):.4f} | {h.get('accuracy', float('nan')):.4f} |"
        for i, h in enumerate(t["history"])
    )
    return f"""# MNIST evaluator: training record

Written by `python -m gvutil.evaluator train`; do not edit by hand (retrain instead).
`python -m gvutil.evaluator verify` checks everything below that can be checked.

| | |
|---|---|
| weights | `{r['weights_file']}` ({r['weights_bytes']:,} bytes) |
| SHA-256 | `{r['weights_sha256']}` |
| command | `{r['command']}` |
| test accuracy | **{100 * r['test_accuracy']:.2f}%** ({r['test_errors']} errors in 10,000) |
| training time | {r['train_seconds']} s ({r['total_seconds']} s with saving and testing) |
| date | {r['date']} |
| machine | {env.get('platform')}, {env.get('cpu_count')} CPUs (1-minute load average at start: {env.get('load_average_1min_at_start', 'n/a')}) |
| versions | Python {env.get('python')}, Keras {env.get('keras')} on {env.get('backend')}, TensorFlow {env.get('tensorflow')}, JAX {env.get('jax')}, NumPy {env.get('numpy')}, gvutil {env.get('gvutil')} |

**Architecture** ({r['parameters']:,} parameters, built in code by `build_evaluator()`):
{r['architecture']}. Input: {r['input']}.
FID features: the {r['feature_dim']}-wide `{r['feature_layer']}` layer (after its ReLU).

**Training**: {t['data']}; seed {t['seed']}, {t['epochs']} epochs, batch {t['batch_size']},
{t['optimizer']}; augmentation: {t['augmentation']}. The test set was used once, after training.

| epoch | train loss | train accuracy (augmented, dropout on) |
|---|---|---|
{hist}

The JSON beside this file also stores the evaluator's outputs on the first 16 test images; on
TensorFlow and on JAX the loaded network reproduces them to about 1e-5.
"""


# ----------------------------------------------------------------------------- verification

# How far verify() lets this machine's evaluator differ from the record (max absolute differences).
VERIFY_TOLERANCE = {"accuracy": 2e-4, "logits": 1e-4, "features": 1e-4, "probabilities": 1e-5}


class EvaluatorMismatch(ValueError):
    """The evaluator on this machine does not reproduce its record (see :func:`verify`)."""


def verify(path=None, sha256: str | None = None, verbose: bool = True) -> dict:
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


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gvutil.evaluator", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_train = sub.add_parser("train", help="train the evaluator and write weights + record")
    p_train.add_argument("--seed", type=int, default=DEFAULT_TRAIN["seed"])
    p_train.add_argument("--epochs", type=int, default=DEFAULT_TRAIN["epochs"])
    p_train.add_argument("--out-dir", default=None, help="default: the gvutil/evaluator package folder")
    p_verify = sub.add_parser("verify", help="check checksum, test accuracy and reference outputs")
    p_verify.add_argument("--weights", default=None, help="a .weights.h5 file (default: the committed one)")
    args = parser.parse_args(argv)
    import gvutil

    gvutil.quiet_tensorflow()
    if args.cmd == "train":
        command = "python -m gvutil.evaluator " + " ".join(sys.argv[1:] if argv is None else argv)
        rec = train(out_dir=args.out_dir, seed=args.seed, epochs=args.epochs, command=command.strip())
        print(f"test accuracy {100 * rec['test_accuracy']:.2f}% ({rec['test_errors']} errors), "
              f"trained in {rec['train_seconds']} s; weights {rec['weights_bytes']:,} bytes, "
              f"sha256 {rec['weights_sha256']}")
    else:
        verify(args.weights)
    return 0
