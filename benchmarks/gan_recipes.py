"""From the article's GAN to one that works: single changes, each at the same step budget, 3 seeds.

Every run trains one GAN on all 60,000 MNIST training images for ``--steps`` generator/
discriminator steps (batch 128), draws 10,000 samples and scores them with the book's evaluator
(``gvutil.metrics.sample_quality``): classifier score, classifier FID (2,000 samples against
2,000 real images) and the number of digits that get at least 5 % of the samples.

No choice is made on the test images that chapter 4.1 reports: the FID reference here is
MNIST *test images 5,000-6,999* (the validation half); the chapter measures against test images
0-1,999. Nothing in this study trains on test images.

    GVUTIL_DATA_DIR=../shared/data KERAS_BACKEND=tensorflow \\
        .venv/bin/python benchmarks/gan_recipes.py            # all variants, seeds 0 1 2

writes ``benchmarks/results/gan_recipes.json`` (one record per run, plus the machine and the
command) and prints a table of mean +- sd over seeds. Runs go to ``--workers`` processes (default
2) with one compute thread each, which on a 2-core machine gets more done than one process with
two threads. ``--variants a,b`` and ``--seeds`` select a subset; existing records of the same
(variant, seed, steps) are kept, so an interrupted study resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "gan_recipes.json"

# name -> (what changes, keyword arguments of gvutil.models.make_gan). The first is the article's
# GAN as chapter 4.1 builds it; each of the next changes one thing of it; the last rows combine.
ARTICLE = dict(kind="mlp", hidden=1024, output="sigmoid", learning_rate=2e-4)
VARIANTS = {
    "article": ("the article's MLP GAN: 1024-1024, sigmoid on [0, 1] pixels, Adam 2e-4", {}),
    "tanh": ("tanh output, discriminator on [-1, 1] (data range)", dict(output="tanh")),
    "lr1e-3": ("learning rate 1e-3 (both networks)", dict(learning_rate=1e-3)),
    "g_batchnorm": ("batch norm in the generator", dict(batchnorm=True)),
    "smoothing": ("one-sided label smoothing 0.1", dict(label_smoothing=0.1)),
    "dropout": ("discriminator dropout 0.3", dict(dropout=0.3)),
    "widths": ("widths G 256-512-1024, D 1024-512-256", dict(hidden=(256, 512, 1024))),
    "recipe": ("tanh + batch norm + lr 1e-3 + widths (the book's recommended GAN)",
               dict(output="tanh", batchnorm=True, learning_rate=1e-3, hidden=(256, 512, 1024))),
    "dcgan": ("convolutional networks (the book's small DCGAN) + tanh + lr 1e-3",
              dict(kind="dcgan", output="tanh", learning_rate=1e-3)),
}

# Not part of the 3,000-step study: DCGANs for long runs (the converged checkpoint of section 4.2),
# compared on a GPU with `--variants dcgan,dcgan_f64,... --steps 30000 --seeds 0`.
LONG_RUN_VARIANTS = {
    "dcgan_lr2e-4": ("the study's DCGAN (32 filters) at Adam 2e-4", dict(kind="dcgan", output="tanh")),
    "dcgan_f64": ("DCGAN with 64 filters at Adam 2e-4 (section 4.2's full profile)",
                  dict(kind="dcgan", filters=64, output="tanh")),
    "dcgan_f64_lr5e-4": ("DCGAN with 64 filters at Adam 5e-4",
                         dict(kind="dcgan", filters=64, output="tanh", learning_rate=5e-4)),
}
ALL_VARIANTS = {**VARIANTS, **LONG_RUN_VARIANTS}


def gan_kwargs(variant: str) -> dict:
    kwargs = {**ARTICLE, **ALL_VARIANTS[variant][1]}
    if kwargs["kind"] == "dcgan":
        del kwargs["hidden"]  # the article's widths are an MLP's; make_gan refuses them for a DCGAN
    return kwargs


def save_generator(gan, path: Path) -> None:
    """The generator's weights in the format of ``gvutil.pretrained`` checkpoints (float16 .npz)."""
    from gvutil import pretrained

    path.parent.mkdir(parents=True, exist_ok=True)
    pretrained.save_weights(gan, ("generator",), path)


def run_one(variant: str, seed: int, steps: int, batch_size: int, threads: int,
            save_dir: Path | None = None) -> dict:
    """Train and score one GAN in this process; returns its record."""
    import gvutil

    if threads:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
    from gvutil import metrics, train
    from gvutil.data import load_mnist
    from gvutil.models import make_gan

    gvutil.seed_everything(seed)
    (x_train, _), (x_test, _) = load_mnist()
    gan = make_gan(seed=seed, **gan_kwargs(variant))
    data = train.dataset(x_train, batch_size, seed=seed)
    epochs = -(-steps // len(data))
    start = time.perf_counter()
    history = gan.fit(data, epochs=epochs, verbose=0,
                      callbacks=[train.StopAfter(steps)])
    seconds = time.perf_counter() - start
    samples = gan.sample(10_000, seed=10_000 + seed)
    q = metrics.sample_quality(samples, x_test[5000:7000])
    last = {k: round(float(v[-1]), 4) for k, v in history.history.items()}
    extra = {}
    if save_dir is not None:
        path = Path(save_dir) / f"{variant}_seed{seed}_{steps}.weights.npz"
        save_generator(gan, path)
        extra = {"weights": path.name, "device": train.accelerator()}
    return {**extra, "variant": variant, "seed": seed, "steps": steps, "batch_size": batch_size,
            "score": round(q["score"], 4), "fid": round(q["fid"], 2),
            "classes_5pct": q["classes_5pct"], "shares": [round(float(s), 4) for s in q["shares"]],
            "train_seconds": round(seconds, 1), "threads": threads, "last_epoch": last}


def machine() -> dict:
    import gvutil

    return {"platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": _cpu_model(), "versions": gvutil.versions()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def summarize(records: list[dict]) -> list[dict]:
    import numpy as np

    rows = []
    for variant, (what, _) in ALL_VARIANTS.items():
        rs = [r for r in records if r["variant"] == variant]
        if not rs:
            continue
        row = {"variant": variant, "change": what, "runs": len(rs)}
        for key in ("score", "fid", "classes_5pct"):
            v = np.array([r[key] for r in rs], float)
            row[key] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0)
        rows.append(row)
    return rows


def table(records: list[dict]) -> str:
    lines = [f"{'variant':<13} {'runs':>4}  {'score':>13}  {'FID':>15}  {'classes>=5%':>11}  change",
             "-" * 100]
    for r in summarize(records):
        (s, ss), (f, fs), (c, cs) = r["score"], r["fid"], r["classes_5pct"]
        lines.append(f"{r['variant']:<13} {r['runs']:>4}  {s:6.2f} ± {ss:4.2f}  {f:7.1f} ± {fs:5.1f}  "
                     f"{c:5.1f} ± {cs:3.1f}  {r['change']}")
    return "\n".join(lines)


def markdown(records: list[dict]) -> str:
    """The summary as a Markdown table (for benchmarks/README.md)."""
    lines = ["| variant | change from the article's GAN | seeds | classifier score | classifier FID | digits >= 5 % |",
             "|---|---|---|---|---|---|"]
    for r in summarize(records):
        (s, ss), (f, fs), (c, cs) = r["score"], r["fid"], r["classes_5pct"]
        lines.append(f"| `{r['variant']}` | {r['change']} | {r['runs']} | {s:.2f} ± {ss:.2f} | "
                     f"{f:.1f} ± {fs:.1f} | {c:.1f} ± {cs:.1f} |")
    return "\n".join(lines)


def speed(variants: list[str], batch_size: int, steps: int = 300, repeats: int = 2) -> list[tuple[str, float]]:
    """Training steps per second of each variant's GAN, timed in this process (after 20 warm-up
    steps, best of ``repeats``), at the backend's default threads. Prints each and its ratio to the
    first variant; a ratio, not an absolute speed, is what carries over to another machine."""
    import gvutil
    from gvutil import train
    from gvutil.data import load_mnist
    from gvutil.models import make_gan

    (x_train, _), _ = load_mnist()
    data = train.dataset(x_train, batch_size, seed=0)
    rates = []
    for variant in variants:
        best = 0.0
        for _ in range(repeats):
            gvutil.seed_everything(0)
            gan = make_gan(seed=0, **gan_kwargs(variant))
            gan.fit(data, epochs=1, verbose=0, callbacks=[train.StopAfter(20)])
            start = time.perf_counter()
            gan.fit(data, epochs=-(-steps // len(data)), verbose=0, callbacks=[train.StopAfter(steps)])
            best = max(best, steps / (time.perf_counter() - start))
        rates.append((variant, best))
        print(f"{variant:<12} {best:6.1f} steps/s   ratio to {variants[0]}: {best / rates[0][1]:.2f}", flush=True)
    return rates


def run_jobs(script: str, jobs: list[list[str]], workers: int, ordered: bool = True):
    """Run ``script`` with each argument list of ``jobs`` in its own process, ``workers`` at a time,
    with PYTHONHASHSEED=0; yield the JSON each printed on its last line, in ``jobs``' order (or as the
    processes finish, with ``ordered=False``). A process that fails raises with its stderr's end."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}

    def work(args):
        out = subprocess.run([sys.executable, script, *args], env=env, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"{' '.join(args)[:200]} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(workers) as pool:
        if ordered:
            yield from pool.map(work, jobs)
        else:
            for future in as_completed([pool.submit(work, job) for job in jobs]):
                yield future.result()


def run_workers(script: str, todo: list[tuple[str, int]], options: list[str], workers: int):
    """:func:`run_jobs` of ``script --one VARIANT SEED *options`` for each (variant, seed) of ``todo``."""
    return run_jobs(script, [["--one", variant, str(seed), *options] for variant, seed in todo], workers)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="compute threads per run (0: backend default)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--save-dir", type=Path, help="also save each run's generator weights (float16 .npz) here")
    p.add_argument("--one", nargs=2, metavar=("VARIANT", "SEED"), help=argparse.SUPPRESS)
    p.add_argument("--markdown", action="store_true", help="print the results file as a Markdown table and exit")
    p.add_argument("--speed", action="store_true",
                   help="time training steps per second of --variants in one process and exit")
    args = p.parse_args(argv)

    if args.speed:
        speed([v.strip() for v in args.variants.split(",") if v.strip()], args.batch_size)
        return 0

    if args.markdown:
        print(markdown(json.loads(args.out.read_text())["records"]))
        return 0

    if args.one:  # a worker process: print one record as JSON on the last line
        record = run_one(args.one[0], int(args.one[1]), args.steps, args.batch_size, args.threads,
                         args.save_dir)
        print(json.dumps(record))
        return 0

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(ALL_VARIANTS))
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {list(ALL_VARIANTS)}")
    doc = {"records": []}
    if args.out.exists():
        doc = json.loads(args.out.read_text())
    done = {(r["variant"], r["seed"], r["steps"], r["batch_size"]) for r in doc["records"]}
    todo = [(v, s) for v in variants for s in args.seeds
            if (v, s, args.steps, args.batch_size) not in done]
    command = "python benchmarks/gan_recipes.py " + " ".join(argv if argv is not None else sys.argv[1:])
    doc.update({"command": command.strip(), "machine": machine(),
                "date": time.strftime("%Y-%m-%d"),
                "protocol": "10,000 samples per run (score, class shares); classifier FID of the first "
                            "2,000 samples against MNIST test images 5,000-6,999",
                "variants": {k: {"change": w, "make_gan": gan_kwargs(k)} for k, (w, _) in ALL_VARIANTS.items()
                             if k in variants or k in VARIANTS}})
    t0 = time.perf_counter()
    options = ["--steps", str(args.steps), "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
    options += ["--save-dir", str(args.save_dir)] if args.save_dir else []
    for record in run_workers(__file__, todo, options, args.workers):
        doc["records"].append(record)
        doc["records"].sort(key=lambda r: (list(ALL_VARIANTS).index(r["variant"]), r["seed"]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{record['variant']:<13} seed {record['seed']}  score {record['score']:5.2f}  "
              f"FID {record['fid']:6.1f}  classes>=5% {record['classes_5pct']:2d}  "
              f"({record['train_seconds']:.0f}s, {time.perf_counter() - t0:.0f}s so far)", flush=True)
    doc["wall_seconds_last_invocation"] = round(time.perf_counter() - t0, 1)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(table(doc["records"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
