"""What came after the article, measured on one card: chapter 4.2's recipe and the techniques of
section 5.2 (averaging the generator's weights, WGAN-GP, spectral normalisation), on the recipe's MLP
networks and on the study DCGAN of section 4.2, and section 5.3's conditional GAN; 3 seeds each.

Every run trains one GAN on all 60,000 MNIST training images for ``--steps`` generator steps and
keeps an exponential moving average of its generator's weights (decay 0.999) beside it, which does
not change training; so each run is measured twice, with the generator it trained (``averaged``
false) and with the average (true): the same run with and without averaging. Each is scored on the
book's metric card (``gvutil.metrics.metric_card``: 10,000 samples; classifier score, digit shares,
and FID, precision and recall of the first 2,000 against the card's fixed 2,000 test images).

    GVUTIL_DATA_DIR=../shared/data KERAS_BACKEND=tensorflow \\
        .venv/bin/python benchmarks/gan_techniques.py            # all variants, seeds 0 1 2

writes ``benchmarks/results/gan_techniques.json`` (one record per run and generator, the machine,
the command) and prints mean +- sd over seeds. ``--variants``, ``--seeds``, ``--steps``,
``--workers`` (processes, one compute thread each) as in ``gan_recipes.py``; finished (variant,
seed, steps) records are kept, so an interrupted study resumes. ``--save-dir`` also saves each
generator (float16 .npz, the averaged one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gan_recipes import machine, run_workers  # noqa: E402

DEFAULT_OUT = HERE / "results" / "gan_techniques.json"
EMA_DECAY = 0.999
HIDDEN = (256, 512, 1024)  # chapter 4.2's recipe widths: G 256-512-1024, D mirrored

# name -> (what it is, critic batch per generator step)
VARIANTS = {
    "recipe": "chapter 4.2's recipe: MLP 256-512-1024 with batch norm in G, tanh, Adam(1e-3, 0.5), batch 128",
    "sn": "the recipe with spectral normalisation on every layer of the discriminator",
    "wgan_gp": "the recipe's networks as a WGAN-GP: 5 critic steps of 64 images per generator step "
               "(batch 64), penalty weight 10, Adam(1e-4, 0, 0.9)",
    "cgan": "section 5.3's conditional GAN: the recipe's generator on noise + one-hot digit, the recipe's "
            "discriminator with a projection of the digit; samples 1,000 per digit",
    "dcgan": "chapter 4.2's study DCGAN (32 filters, batch norm in G, tanh, Adam(1e-3, 0.5), batch 128)",
    "dcgan_sn": "the DCGAN with spectral normalisation on every layer of the discriminator",
    "dcgan_wgan_gp": "the DCGAN's networks as a WGAN-GP (as wgan_gp: 5 critic steps of 64 images, penalty 10, "
                     "Adam(1e-4, 0, 0.9))",
}


def build(variant: str, seed: int):
    """The compiled model of ``variant`` and its fit batch size."""
    import keras

    from gvutil.config import compile_defaults
    from gvutil.models.gan import mlp_discriminator, mlp_generator
    from gvutil.models.stable import AveragedGAN, WGANGP, spectrally_normalized

    if variant.startswith("dcgan"):  # XLA slows the DCGAN on a CPU (0.87x, gvutil.config.compile_defaults)
        from gvutil.models.gan import dcgan_discriminator, dcgan_generator

        generator, discriminator = dcgan_generator(100, 32), dcgan_discriminator(32)
        xla = compile_defaults(False)
        variant = {"dcgan": "recipe", "dcgan_sn": "sn", "dcgan_wgan_gp": "wgan_gp"}[variant]
    else:
        generator = mlp_generator(100, HIDDEN, "tanh", batchnorm=True)
        discriminator = mlp_discriminator(tuple(reversed(HIDDEN)))
        xla = compile_defaults(True)
    if variant == "cgan":
        from gvutil.models.conditional import ConditionalGAN, conditional_mlp_generator, projection_discriminator

        gan = ConditionalGAN(conditional_mlp_generator(100, HIDDEN), projection_discriminator(tuple(reversed(HIDDEN))),
                             100, ema_decay=EMA_DECAY, seed=seed)
        gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5), **xla)
        return gan, 128
    if variant == "wgan_gp":
        gan = WGANGP(generator, discriminator, 100, n_critic=5, gp_weight=10.0, ema_decay=EMA_DECAY, seed=seed)
        gan.compile(**xla)
        return gan, 5 * 64
    if variant == "sn":
        discriminator = spectrally_normalized(discriminator)
    elif variant != "recipe":
        raise ValueError(f"unknown variant {variant!r}")
    gan = AveragedGAN(generator, discriminator, 100, ema_decay=EMA_DECAY, seed=seed)
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5), **xla)
    return gan, 128


def run_one(variant: str, seed: int, steps: int, threads: int, save_dir: Path | None = None) -> list[dict]:
    """Train one run in this process; its two records (the generator, the average)."""
    import gvutil

    if threads:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    import numpy as np

    from gvutil import metrics, pretrained, train
    from gvutil.data import load_mnist

    gvutil.seed_everything(seed)
    (x_train, y_train), _ = load_mnist()
    gan, batch_size = build(variant, seed)
    conditional = variant == "cgan"
    data = train.dataset(x_train, batch_size, seed=seed, labels=y_train if conditional else None)
    start = time.perf_counter()
    history = gan.fit(data, epochs=-(-steps // len(data)), verbose=0, callbacks=[train.StopAfter(steps)])
    seconds = time.perf_counter() - start
    last = {k: round(float(v[-1]), 4) for k, v in history.history.items()}
    z = keras.random.normal((10_000, gan.latent_dim), seed=10_000 + seed)
    labels = (np.arange(10_000) % 10).astype("int32")
    records = []
    for averaged, net in ((False, gan.generator), (True, gan.averaged)):
        images = net.predict([z, labels] if conditional else z, batch_size=1000, verbose=0)
        q = metrics.metric_card(images)
        extra = {}
        if conditional:
            extra["digit_accuracy"] = [round(float(a), 4) for a in metrics.conditional_accuracy(images, labels)]
        records.append({**extra, "variant": variant, "averaged": averaged, "seed": seed, "steps": steps,
                        "batch_size": batch_size, **{k: round(float(q[k]), 4) for k in
                                                     ("score", "fid", "precision", "recall")},
                        "classes_5pct": q["classes_5pct"], "shares": [round(float(s), 4) for s in q["shares"]],
                        "train_seconds": round(seconds, 1), "threads": threads, "last_epoch": last})
    if save_dir is not None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        pretrained.save_weights(gan, ("averaged",), Path(save_dir) / f"{variant}_seed{seed}_{steps}.weights.npz")
    return records


def summarize(records: list[dict]) -> list[dict]:
    import numpy as np

    rows = []
    for variant in VARIANTS:
        for averaged in (False, True):
            rs = [r for r in records if r["variant"] == variant and r["averaged"] == averaged]
            if not rs:
                continue
            row = {"variant": variant, "averaged": averaged, "runs": len(rs)}
            for key in ("score", "fid", "precision", "recall", "classes_5pct"):
                v = np.array([r[key] for r in rs], float)
                row[key] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0)
            rows.append(row)
    return rows


def table(records: list[dict]) -> str:
    lines = [f"{'variant':<13} {'average':>7} {'runs':>4}  {'score':>12}  {'FID':>13}  {'precision':>11}  "
             f"{'recall':>11}  {'digits>=5%':>10}", "-" * 92]
    for r in summarize(records):
        cells = "  ".join(f"{m:{w}.{p}f} ± {s:{w - 2}.{p}f}" for (m, s), w, p in
                          zip((r["score"], r["fid"], r["precision"], r["recall"], r["classes_5pct"]),
                              (5, 5, 4, 4, 4), (2, 1, 2, 2, 1)))
        lines.append(f"{r['variant']:<13} {'yes' if r['averaged'] else 'no':>7} {r['runs']:>4}  {cells}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="compute threads per run (0: backend default)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--save-dir", type=Path, help="also save each run's averaged generator (float16 .npz) here")
    p.add_argument("--one", nargs=2, metavar=("VARIANT", "SEED"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.one:  # a worker process: print its records as JSON on the last line
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.steps, args.threads, args.save_dir)))
        return 0

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    doc = json.loads(args.out.read_text()) if args.out.exists() else {"records": []}
    done = {(r["variant"], r["seed"], r["steps"]) for r in doc["records"]}
    todo = [(v, s) for v in variants for s in args.seeds if (v, s, args.steps) not in done]
    command = "python benchmarks/gan_techniques.py " + " ".join(argv if argv is not None else sys.argv[1:])
    doc.update({"command": command.strip(), "machine": machine(), "date": time.strftime("%Y-%m-%d"),
                "protocol": "10,000 samples per generator (score, digit shares); FID, precision and recall "
                            "(k = 3) of the first 2,000 against the metric card's reference (2,000 MNIST "
                            "test images, seed 0); each run measured with its generator and with the "
                            f"moving average of its weights (decay {EMA_DECAY})",
                "variants": VARIANTS})
    t0 = time.perf_counter()
    options = ["--steps", str(args.steps), "--threads", str(args.threads)]
    options += ["--save-dir", str(args.save_dir)] if args.save_dir else []
    for records in run_workers(__file__, todo, options, args.workers):
        doc["records"].extend(records)
        doc["records"].sort(key=lambda r: (list(VARIANTS).index(r["variant"]), r["averaged"], r["seed"]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        for r in records:
            print(f"{r['variant']:<9} averaged {r['averaged']!s:<5} seed {r['seed']}  score {r['score']:5.2f}  "
                  f"FID {r['fid']:6.1f}  P {r['precision']:.2f}  R {r['recall']:.2f}  "
                  f"({r['train_seconds']:.0f}s, {time.perf_counter() - t0:.0f}s so far)", flush=True)
    doc["wall_seconds_last_invocation"] = round(time.perf_counter() - t0, 1)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(table(doc["records"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
