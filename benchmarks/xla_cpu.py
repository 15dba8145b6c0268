"""Does XLA pay on a CPU under TensorFlow? Train steps per second of the book's models, without
and with ``jit_compile=True``, in one process (the ratio is what counts, not the absolute speed).

Keras' default (``jit_compile="auto"``) leaves XLA off for TensorFlow on a CPU. This script is
the measurement behind ``gvutil.config.compile_defaults(xla_on_cpu=...)``: which of the book's
models ``make_gan``/``make_vae`` compile with XLA on a CPU.

    GVUTIL_DATA_DIR=../shared/data KERAS_BACKEND=tensorflow .venv/bin/python benchmarks/xla_cpu.py
    ... --models article,recipe --steps 200 --json out.json

Each model is trained ``--steps`` steps (after a 30-step warm-up that compiles) on batches of 128
MNIST training images, first as Keras would compile it (no XLA on a TensorFlow CPU), then with
XLA; best of ``--repeats``. Op determinism is left off for both (Keras switches XLA off under it).
"""

from __future__ import annotations

import argparse
import json
import time

import gvutil  # noqa: F401  (quiets TensorFlow before Keras loads it)
import keras

from gvutil import data, models, train

MODELS = {
    "article": ("the article's MLP GAN (1024-1024, sigmoid)",
                lambda: models.make_gan("mlp", hidden=1024, output="sigmoid", seed=0)),
    "recipe": ("the recommended MLP GAN (256-512-1024, batch norm)",
               lambda: models.make_gan("mlp", hidden=(256, 512, 1024), batchnorm=True,
                                       learning_rate=1e-3, seed=0)),
    "dcgan": ("the small DCGAN (32 filters)", lambda: models.make_gan("dcgan", seed=0)),
    "vae_mlp": ("MLP VAE 512-512, z = 32",
                lambda: models.make_vae("mlp", latent_dim=32, hidden=(512, 512), seed=0)),
    "vae_conv": ("conv VAE, z = 2", lambda: models.make_vae("conv", latent_dim=2, seed=0)),
}


def steps_per_second(name, jit, steps, images):
    model = MODELS[name][1]()
    if isinstance(model, models.GAN):
        model.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                      g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), jit_compile=jit)
        batches = train.dataset(images, 128, seed=0)
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
        batches = train.BinarizedImages(images, batch_size=128, seed=0)
    model.fit(batches, epochs=1, verbose=0, callbacks=[train.StopAfter(30)])  # compile, warm up
    start = time.perf_counter()
    model.fit(batches, epochs=1, verbose=0, callbacks=[train.StopAfter(steps)])
    return steps / (time.perf_counter() - start), bool(model.jit_compile)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("this benchmark is about TensorFlow on a CPU: run with KERAS_BACKEND=tensorflow")
    gvutil.seed_everything(0)  # on a CPU this leaves op determinism off (see its docstring)
    (x, _), _ = data.load_mnist()
    rows = []
    print(f"{'model':<10} {'no XLA':>8} {'XLA':>8} {'ratio':>6}   steps/s, {args.steps} steps, batch 128")
    for name in args.models.split(","):
        plain = max(steps_per_second(name, False, args.steps, x)[0] for _ in range(args.repeats))
        xla, used = zip(*(steps_per_second(name, True, args.steps, x) for _ in range(args.repeats)))
        assert all(used), "XLA was switched off (is op determinism enabled?)"
        rows.append({"model": name, "what": MODELS[name][0], "steps_per_s": plain,
                     "xla_steps_per_s": max(xla), "ratio": max(xla) / plain})
        print(f"{name:<10} {plain:8.1f} {max(xla):8.1f} {max(xla) / plain:6.2f}   {MODELS[name][0]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"versions": gvutil.versions(), "steps": args.steps, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
