"""Does a tf.data pipeline pay on TensorFlow over gvutil's backend-neutral batches (a PyDataset)?

``gvutil.train.dataset`` serves one kind of object on every backend unless a pipeline of another
kind is at least 1.2x faster somewhere (issue 21). This measures the candidate on this machine: the
same shuffled, scaled MNIST batches of 128, fed to ``fit()`` of the book's GANs either as a
``tf.data.Dataset`` (index shuffling, one gather per batch, prefetch) or as the PyDataset that the
JAX backend uses, in one process, alternating, best of ``--repeats``; the ratio is what counts.

    GVUTIL_DATA_DIR=../shared/data KERAS_BACKEND=tensorflow .venv/bin/python benchmarks/pipelines.py
    ... --models article,dcgan --steps 300 --repeats 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import time

import gvutil  # noqa: F401  (quiets TensorFlow before Keras loads it)
import keras
import numpy as np

from gvutil import data, train
from gvutil.data import PIXEL_SCALE
from xla_cpu import MODELS  # the same model builders as the XLA measurement (benchmarks/xla_cpu.py)


def tf_data_batches(x, batch_size, seed):
    """The tf.data pipeline gvutil served on TensorFlow until issue 21: shuffled indices, one gather
    per batch, scaling to [0, 1], prefetch."""
    import tensorflow as tf

    images = tf.constant(x[..., None] if x.ndim == 3 else x)
    n = len(x)

    def gather(idx):
        return tf.cast(tf.gather(images, idx), tf.float32) * PIXEL_SCALE

    order = tf.random.stateless_uniform([n], seed=[seed, 0])
    return (tf.data.Dataset.from_tensor_slices(tf.argsort(order)).batch(batch_size, drop_remainder=True)
            .map(gather).prefetch(tf.data.AUTOTUNE))


def steps_per_second(name, kind, steps, x):
    model = MODELS[name][1]()
    if kind == "pydataset":
        batches = train.dataset(x, 128, seed=0)  # an ImageBatches (PyDataset)
    else:
        batches = tf_data_batches(x, 128, 0)
    epochs = math.ceil((steps + 30) / (len(x) // 128))
    model.fit(batches, epochs=1, verbose=0, callbacks=[train.StopAfter(30)])  # compile, warm up
    start = time.perf_counter()
    model.fit(batches, epochs=epochs, verbose=0, callbacks=[train.StopAfter(steps)])
    return steps / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="article,dcgan")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("tf.data is TensorFlow's: run with KERAS_BACKEND=tensorflow")
    (x, _), _ = data.load_mnist()
    out = {"machine": gvutil.versions(), "steps": args.steps, "repeats": args.repeats, "models": {}}
    print(f"{'model':<10} {'tf.data steps/s':>16} {'PyDataset steps/s':>18} {'tf.data / PyDataset':>20}")
    for name in args.models.split(","):
        best = {"tf.data": 0.0, "pydataset": 0.0}
        for _ in range(args.repeats):
            for kind in best:  # alternating, so that drifts of the machine hit both alike
                best[kind] = max(best[kind], steps_per_second(name, kind, args.steps, x))
        ratio = best["tf.data"] / best["pydataset"]
        out["models"][name] = {"what": MODELS[name][0], **best, "ratio": round(ratio, 3)}
        print(f"{name:<10} {best['tf.data']:>16.2f} {best['pydataset']:>18.2f} {ratio:>20.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
