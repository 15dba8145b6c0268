"""What came after the article for VAEs, measured: section 4.3's MLP VAE (512-512 ReLU, Adam 1e-3,
batch 128, dynamically binarised MNIST) trained on the importance-weighted bound L_k, with other
latent sizes, other beta (beta-VAE) and with free bits: section 5.4's study, 3 seeds each.

Runs (``--groups``):

* ``bound``: k = 50 for ``--bound-epochs`` epochs, then k = 1 and k = 5 for the CPU time that k = 50
  took (the same seed), each also measured at ``--bound-epochs`` epochs: L_k at an equal number of
  epochs and at equal time. Time is the process's CPU time with one compute thread, so other work on
  the machine does not shorten a run's budget.
* ``latent``: latent sizes 2, 16, 32, 50 (beta 1), ``--epochs`` epochs;
* ``beta``: beta 0.5, 1, 2, 4 (latent 32);
* ``free_bits``: latent 50 with free bits 0.25 and 1 nat per dimension.

Every run is measured on the first 2,000 MNIST test images binarised once with seed 0
(``metrics.mnist_test_binarized``), the book's CPU protocol: the ELBO and L_1000 (K = 1,000) in nats
per image, summed over the 784 pixels; rate (the KL term, nats) and distortion (-E_q log p(x|z), nats);
KL per latent dimension and active units (``metrics.latent_usage``, threshold 0.01); and the book's
metric card of 10,000 samples (``metrics.metric_card``). No setting is chosen on these images.

    GVUTIL_DATA_DIR=../shared/data KERAS_BACKEND=tensorflow nice -n 19 \\
        .venv/bin/python benchmarks/vae_techniques.py --workers 2

writes ``benchmarks/results/vae_techniques.json`` (finished runs are kept, so an interrupted study
resumes) and ``benchmarks/results/vae_techniques_images/beta*.npz`` (samples, test images and their
reconstructions of each seed-0 run of the beta sweep, uint8, for section 5.4's explorer).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gan_recipes import machine, run_jobs  # noqa: E402

DEFAULT_OUT = HERE / "results" / "vae_techniques.json"
HIDDEN = (512, 512)  # section 4.3's networks


def configs(groups: list[str]) -> list[dict]:
    """The runs of ``groups``, without seeds; a run shared by two groups appears once."""
    out = []
    if "bound" in groups:
        out += [{"k": k, "latent": 32, "beta": 1.0, "free_bits": 0.0, "budget": "bound"} for k in (50, 1, 5)]
    sweep = []
    if "latent" in groups:
        sweep += [(latent, 1.0, 0.0) for latent in (2, 16, 32, 50)]
    if "beta" in groups:
        sweep += [(32, beta, 0.0) for beta in (0.5, 1.0, 2.0, 4.0)]
    if "free_bits" in groups:
        sweep += [(50, 1.0, fb) for fb in (0.25, 1.0)]
    for latent, beta, fb in dict.fromkeys(sweep):
        out.append({"k": 1, "latent": latent, "beta": beta, "free_bits": fb, "budget": "epochs"})
    return out


def key(c: dict) -> str:
    """A record's identity: its settings, its budget ("time", or "epochs" and how many) and its seed."""
    budget = "time" if c["budget"] == "time" else f"{c['budget']}{int(round(c['epochs']))}"
    return f"k{c['k']}_z{c['latent']}_b{c['beta']:g}_fb{c['free_bits']:g}_{budget}_s{c['seed']}"


class CPUBudget:
    """A Keras callback that stops training once the process has used ``seconds`` of CPU time
    (``None``: never), and keeps the weights at the end of epoch ``snapshot_epoch``."""

    def __new__(cls, seconds, snapshot_epoch):
        import keras

        class _CPUBudget(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.start, self.snapshot, self.snapshot_cpu, self.steps = time.process_time(), None, None, 0

            def on_train_batch_end(self, batch, logs=None):
                self.steps += 1
                if seconds is not None and time.process_time() - self.start >= seconds:
                    self.model.stop_training = True

            def on_epoch_end(self, epoch, logs=None):
                if epoch + 1 == snapshot_epoch:
                    self.snapshot = self.model.get_weights()
                    self.snapshot_cpu = time.process_time() - self.start

        return _CPUBudget()


def measure(vae, x_eval, seed: int) -> dict:
    """L_1000, ELBO, rate, distortion, latent usage and the metric card of one model."""
    from gvutil import metrics

    log_px, elbo = metrics.iwae_log_likelihood(vae, x_eval, k=1000, seed=0, return_elbo=True)
    usage = metrics.latent_usage(vae, x_eval)
    rate = float(usage["kl"].sum())
    card = metrics.metric_card(vae.sample(10_000, seed=10_000 + seed))
    return {"log_px": round(float(log_px.mean()), 3), "log_px_se": round(float(log_px.std() / len(log_px) ** 0.5), 3),
            "elbo": round(float(elbo.mean()), 3), "rate": round(rate, 3),
            "distortion": round(float(-elbo.mean() - rate), 3),
            "active_units": usage["active_units"], "kl_per_dim": [round(float(v), 4) for v in usage["kl"]],
            "activity": [round(float(v), 5) for v in usage["activity"]],
            "card": {"score": round(card["score"], 4), "fid": round(card["fid"], 2),
                     "precision": round(card["precision"], 4), "recall": round(card["recall"], 4),
                     "shares": [round(float(s), 4) for s in card["shares"]]}}


def run_one(config: dict, epochs: int, bound_epochs: int, budget_seconds: float | None,
            images: Path | None) -> list[dict]:
    """Train and measure one configuration in this process (one compute thread); its records."""
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import numpy as np

    import gvutil
    from gvutil import metrics, train
    from gvutil.data import load_mnist
    from gvutil.models.iwae import IWAE
    from gvutil.models.vae import mlp_decoder, mlp_encoder

    seed = config["seed"]
    gvutil.seed_everything(seed)
    (x_train, _), _ = load_mnist()
    x_eval = metrics.mnist_test_binarized(n=2000, seed=0)
    vae = IWAE(mlp_encoder(config["latent"], HIDDEN), mlp_decoder(config["latent"], HIDDEN), k=config["k"],
               beta=config["beta"], free_bits=config["free_bits"], seed=seed)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    data = train.BinarizedImages(x_train, batch_size=128, seed=seed)
    is_bound = config["budget"] == "bound"
    n_epochs = bound_epochs if is_bound and config["k"] == 50 else epochs
    seconds = budget_seconds if is_bound and config["k"] != 50 else None
    if seconds is not None:
        n_epochs = 10_000  # the CPU budget stops it
    budget = CPUBudget(seconds, bound_epochs if is_bound else None)
    start = time.perf_counter()
    vae.fit(data, epochs=n_epochs, verbose=0, callbacks=[budget])
    wall = time.perf_counter() - start
    cpu = time.process_time() - budget.start
    base = {**config, "hidden": list(HIDDEN), "threads": 1}
    records = []
    if is_bound and config["k"] != 50:  # the same run at the k = 50 run's number of epochs
        final = vae.get_weights()
        vae.set_weights(budget.snapshot)
        records.append({**base, "budget": "epochs", "epochs": bound_epochs, "steps": bound_epochs * len(data),
                        "cpu_seconds": round(budget.snapshot_cpu, 1), **measure(vae, x_eval, seed)})
        vae.set_weights(final)
    kind = "time" if seconds is not None else "epochs"
    records.append({**base, "budget": kind, "epochs": round(budget.steps / len(data), 3), "steps": budget.steps,
                    "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1), **measure(vae, x_eval, seed)})
    if images is not None and config["budget"] == "epochs" and config["latent"] == 32 and seed == 0 \
            and config["free_bits"] == 0:
        images.mkdir(parents=True, exist_ok=True)
        to_u8 = lambda a: np.round(255 * np.asarray(a)[..., 0]).astype("uint8")  # noqa: E731
        np.savez_compressed(images / f"beta{config['beta']:g}.npz", samples=to_u8(vae.sample(32, seed=1)),
                            reconstructions=to_u8(vae.reconstruct(x_eval[:16])), originals=to_u8(x_eval[:16]))
    return records


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--groups", default="bound,latent,beta,free_bits")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10, help="epochs of the latent, beta and free-bits runs")
    p.add_argument("--bound-epochs", type=int, default=3, help="epochs of the k = 50 run")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--budget", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    images_dir = args.out.parent / "vae_techniques_images"

    if args.one:  # a worker process: print its records as JSON on the last line
        config = json.loads(args.one)
        print(json.dumps(run_one(config, args.epochs, args.bound_epochs, args.budget, images_dir)))
        return 0

    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    doc = json.loads(args.out.read_text()) if args.out.exists() else {"records": []}
    done = {key(r) for r in doc["records"] if r["budget"] in ("epochs", "time")}
    command = "python benchmarks/vae_techniques.py " + " ".join(argv if argv is not None else sys.argv[1:])
    doc.update({"command": command.strip(), "machine": machine(), "date": time.strftime("%Y-%m-%d"),
                "protocol": "first 2,000 MNIST test images binarised with seed 0; L_1000 and ELBO in nats per "
                            "image (summed over pixels); card: 10,000 samples against the card's 2,000 test images",
                "epochs": args.epochs, "bound_epochs": args.bound_epochs})

    def save(records):
        doc["records"] = sorted([r for r in doc["records"] if key(r) not in {key(n) for n in records}] + records,
                                key=lambda r: (r["budget"] == "epochs", r["k"], r["latent"], r["beta"],
                                               r["free_bits"], r["seed"]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        for r in records:
            print(f"{key(r):<34} L_1000 {r['log_px']:8.2f}  ELBO {r['elbo']:8.2f}  rate {r['rate']:6.2f}  "
                  f"active {r['active_units']:2d}  score {r['card']['score']:.2f}  FID {r['card']['fid']:6.1f}  "
                  f"({r['epochs']} epochs, {r['cpu_seconds']:.0f} CPU s)", flush=True)

    todo = [{**c, "seed": s} for s in args.seeds for c in configs(groups)]
    sweeps = [c for c in todo if c["budget"] == "epochs" and key({**c, "epochs": args.epochs}) not in done]
    bound50 = [c for c in todo if c["budget"] == "bound" and c["k"] == 50]
    common = ["--epochs", str(args.epochs), "--bound-epochs", str(args.bound_epochs), "--out", str(args.out)]
    t0 = time.perf_counter()
    # First the k = 50 runs (they set the budget of the k = 1 and k = 5 runs of the same seed), then
    # those, with the sweeps filling the other worker.
    first = [c for c in bound50 if key({**c, "budget": "epochs", "epochs": args.bound_epochs}) not in done]
    first_jobs = [["--one", json.dumps(c), *common] for c in first]
    for records in run_jobs(__file__, first_jobs, args.workers, ordered=False):
        save(records)
    budgets = {r["seed"]: r["cpu_seconds"] for r in doc["records"]
               if r["k"] == 50 and r["budget"] == "epochs" and r["epochs"] == args.bound_epochs}
    rest = [c for c in todo if c["budget"] == "bound" and c["k"] != 50
            and key({**c, "budget": "time"}) not in done and c["seed"] in budgets]
    jobs = [["--one", json.dumps(c), *common, "--budget", str(budgets[c["seed"]])] for c in rest]
    for records in run_jobs(__file__, jobs + [["--one", json.dumps(c), *common] for c in sweeps], args.workers,
                            ordered=False):
        save(records)
    doc["wall_seconds_last_invocation"] = round(time.perf_counter() - t0, 1)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
