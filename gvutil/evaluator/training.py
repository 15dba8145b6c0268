"""Training the book's MNIST evaluator: ``python -m gvutil.evaluator train`` (and ``verify``).

Kept apart from :mod:`gvutil.evaluator` (loading, checking and running the committed network), so
that measuring samples with :mod:`gvutil.metrics` never imports a training loop.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gvutil.evaluator import (EVALUATOR_DIR, FEATURE_DIM, N_REFERENCE, RECORD_JSON, RECORD_MD,
                              WEIGHTS_PATH, MNISTEvaluator, build_evaluator, sha256_file, verify)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from os import PathLike

__all__ = ["DEFAULT_TRAIN", "train", "main"]

#: Training settings used by ``python -m gvutil.evaluator train`` (recorded in the JSON).
DEFAULT_TRAIN = {
    "seed": 0,
    "epochs": 5,
    "batch_size": 100,
    "learning_rate": 2e-3,
    "max_shift": 2,
}


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


def train(out_dir: str | PathLike[str] | None = None, seed: int = DEFAULT_TRAIN["seed"],
          epochs: int = DEFAULT_TRAIN["epochs"], batch_size: int = DEFAULT_TRAIN["batch_size"],
          learning_rate: float = DEFAULT_TRAIN["learning_rate"],
          max_shift: int = DEFAULT_TRAIN["max_shift"], command: str | None = None,
          n_train: int | None = None, verbose: int = 2) -> dict:
    """Train the evaluator on the MNIST training set and write weights + record into ``out_dir``.

    Deterministic: NumPy does the shuffling and augmentation from ``seed``,
    :func:`gvutil.seed_everything` seeds Keras, and TensorFlow's op determinism is on while it
    trains (as when the committed weights were made). The
    test set is used only once, after training, to report accuracy (no model selection on it).
    ``n_train`` limits training to the first images (for smoke tests only; the committed weights
    use all 60,000). Returns the record dict that was written.
    """
    import gvutil

    gvutil.quiet_tensorflow()
    out_dir = Path(out_dir) if out_dir is not None else EVALUATOR_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    environment = _environment()
    gvutil.seed_everything(seed)
    with _op_determinism():
        return _train(out_dir, environment, seed, epochs, batch_size, learning_rate, max_shift,
                      command, n_train, verbose)


@contextlib.contextmanager
def _op_determinism():
    """TensorFlow's op determinism for the duration (seed_everything turns it on only on a GPU);
    restored afterwards, since it would switch XLA off for every model trained later."""
    import keras

    if keras.backend.backend() != "tensorflow":
        yield
        return
    from tensorflow.python.framework import config as tf_config

    was_on = tf_config.is_op_determinism_enabled()
    tf_config.enable_op_determinism()
    try:
        yield
    finally:
        if not was_on:
            tf_config.disable_op_determinism()


def _train(out_dir, environment, seed, epochs, batch_size, learning_rate, max_shift, command,
           n_train, verbose):
    import keras

    from gvutil.data import load_mnist, to_float_images

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


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gvutil.evaluator", description="Train or verify the book's MNIST evaluator.")
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
