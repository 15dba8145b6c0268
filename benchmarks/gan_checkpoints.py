"""Chapter 5's checkpoints: section 5.2's averaged GAN and section 5.3's conditional GAN, trained
30,000 generator steps, one snapshot chosen on held-out *training* images.

    GVUTIL_DATA_DIR=../shared/data KERAS_BACKEND=tensorflow \\
        .venv/bin/python benchmarks/gan_checkpoints.py --model averaged_gan      # or conditional_gan

Protocol. 2,000 of the 60,000 MNIST training images (``numpy.random.default_rng(1)``) are held out
as the validation set; the GAN trains on the other 58,000 (batch 128, seed 0; the recipe of section
4.2 with the moving average of section 5.2, decay 0.999). Every ``--every`` steps the moving average
of the generator's weights is kept. After training, each snapshot draws 10,000 samples (fixed
noise; for the conditional GAN 1,000 per digit) and is scored against the held-out training images:
classifier score, FID, precision and recall. The snapshot with the lowest validation FID is the
checkpoint; only it, and the last snapshot for comparison, are then scored on the book's metric card
(the 2,000 test images of ``gvutil.metrics.card_reference``). The test images choose nothing.

The checkpoint (float16 weights, SHA-256, RECORD with command, machine, versions, time, the
validation table and the card) is written by ``gvutil.pretrained.export`` into ``--out``
(default ``_build/converged/checkpoints``); ``make install-checkpoints`` ships it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

MODELS = {
    "averaged_gan": ("mlp_gan_averaged", "section 5.2's averaged GAN (chapter 4.2's recipe + moving average)"),
    "conditional_gan": ("cgan", "section 5.3's conditional GAN (projection discriminator, moving average)"),
}
KWARGS = {"latent_dim": 100, "hidden": [256, 512, 1024], "ema_decay": 0.999, "learning_rate": 1e-3, "seed": 0}
HOLDOUT = {"n": 2000, "seed": 1}
BATCH = 128


def holdout_split(n_train: int = 60_000):
    """Indices of the validation images (held out) and of the training images, both sorted."""
    import numpy as np

    order = np.random.default_rng(HOLDOUT["seed"]).permutation(n_train)
    return np.sort(order[:HOLDOUT["n"]]), np.sort(order[HOLDOUT["n"]:])


def card(images, reference, labels=None) -> dict:
    from gvutil import metrics

    q = metrics.sample_quality(images, reference)
    out = {k: round(float(q[k]), 4) for k in ("score", "fid", "precision", "recall")}
    out["shares"] = [round(float(s), 4) for s in q["shares"]]
    if labels is not None:
        out["digit_accuracy"] = [round(float(a), 4) for a in metrics.conditional_accuracy(images, labels)]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=sorted(MODELS), required=True)
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--every", type=int, default=2_500)
    p.add_argument("--threads", type=int, default=0, help="compute threads (0: backend default)")
    p.add_argument("--out", type=Path, default=REPO / "_build" / "converged" / "checkpoints")
    args = p.parse_args(argv)
    if args.steps % args.every:
        p.error("--steps must be a multiple of --every")

    import keras

    if args.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import numpy as np

    import gvutil
    from gvutil import metrics, pretrained, train
    from gvutil.data import load_mnist

    name, what = MODELS[args.model]
    conditional = args.model == "conditional_gan"
    gvutil.seed_everything(KWARGS["seed"])
    (x_all, y_all), (x_test, _) = load_mnist()
    held, kept = holdout_split(len(x_all))
    x_val = x_all[held]
    gan = pretrained.build(args.model, KWARGS)
    data = train.dataset(x_all[kept], BATCH, seed=KWARGS["seed"], labels=y_all[kept] if conditional else None)

    class Snapshots(keras.callbacks.Callback):
        """Keep a copy of the averaged generator's weights every ``every`` steps."""

        def __init__(self, every):
            super().__init__()
            self.every, self.step, self.kept = every, 0, []

        def on_train_begin(self, logs=None):
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % self.every == 0:
                self.kept.append((self.step, time.perf_counter() - self.t0,
                                  [np.array(w) for w in self.model.averaged.get_weights()]))
                print(f"step {self.step:,}: {self.kept[-1][1]:.0f}s", flush=True)

    snaps = Snapshots(args.every)
    start = time.perf_counter()
    gan.fit(data, epochs=-(-args.steps // len(data)), verbose=0, callbacks=[train.StopAfter(args.steps), snaps])
    seconds = time.perf_counter() - start
    print(f"trained {args.steps:,} steps in {seconds:.0f}s", flush=True)

    labels = (np.arange(10_000) % 10).astype("int32") if conditional else None

    def samples():  # the same noise for every snapshot; the conditional GAN's default labels are `labels`
        return gan.sample(10_000, seed=10_000)

    validation = []
    for step, t, weights in snaps.kept:
        gan.averaged.set_weights(weights)
        v = card(samples(), x_val, labels)
        validation.append({"step": step, "seconds": round(t, 1), **v})
        print(f"step {step:6,}  validation: score {v['score']:.2f}  FID {v['fid']:6.1f}  "
              f"P {v['precision']:.2f}  R {v['recall']:.2f}  digits {min(v['shares']):.3f}-{max(v['shares']):.3f}",
              flush=True)
    best = min(range(len(validation)), key=lambda i: validation[i]["fid"])
    reference = metrics.card_reference(x_test)
    cards = {}
    for label, i in (("last", len(validation) - 1), ("chosen", best)):
        gan.averaged.set_weights(snaps.kept[i][2])
        cards[label] = {"step": validation[i]["step"], **card(samples(), reference, labels)}
        c = cards[label]
        print(f"{label:6} step {c['step']:6,}  card: score {c['score']:.2f}  FID {c['fid']:6.1f}  "
              f"P {c['precision']:.2f}  R {c['recall']:.2f}  digits {min(c['shares']):.3f}-{max(c['shares']):.3f}"
              + (f"  lowest digit accuracy {min(c['digit_accuracy']):.3f}" if conditional else ""), flush=True)
    gan.averaged.set_weights(snaps.kept[best][2])
    command = "python benchmarks/gan_checkpoints.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rec = pretrained.export(
        gan, name, args.model, KWARGS, directory=args.out, train_seconds=seconds, steps=args.steps,
        epochs=args.steps / len(data), command=command.strip(),
        evaluation={"chosen step (lowest validation FID)": validation[best]["step"],
                    "card (2,000 test images, seed 0), chosen step": cards["chosen"],
                    "card, last step": cards["last"],
                    "validation (2,000 held-out training images, rng 1), every snapshot": validation},
        note=f"{what}; trained on 58,000 training images, 2,000 held out (default_rng({HOLDOUT['seed']})); "
             f"weights = the moving average of the generator's weights at the chosen step")
    print(json.dumps({k: rec[k] for k in ("file", "sha256", "train_seconds", "machine")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
