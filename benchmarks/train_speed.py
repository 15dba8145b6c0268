"""Training speed of gvutil's ``fit()`` against a hand-written compiled loop of the same model.

In one process, for the TF-tutorial DCGAN and for the MLP VAE, on random MNIST-shaped data:

* gvutil: ``make_gan("dcgan")`` / ``make_vae("mlp")`` trained with ``fit(gvutil.train.dataset(x))``;
* reference: the identical model (same builders, same optimizers, same losses, alternating D
  and G updates) trained by a hand-written step: on JAX ``jax.jit`` around ``stateless_call``
  and ``stateless_apply`` with the data already on the device; on TensorFlow a
  ``tf.function`` with ``GradientTape`` (XLA exactly when gvutil's ``fit`` uses XLA, see
  ``--jit``).

Prints images/s of both and ``ratio gvutil/reference`` (1.0 = no overhead). By default each side
runs ``--steps`` steps in one call (for gvutil: one ``fit()`` of one epoch, its start-up included);
``--epochs N`` instead trains one ``fit()`` of N epochs over 60,000 images and times epochs 2..N
(the steady state a long training run spends its time in) against as many reference steps.
``--steps-per-execution K`` overrides gvutil's compile default. ``--mnist-epochs
instead times whole 60,000-image epochs of the article's MLP GAN and the MLP VAE on real MNIST.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import gvutil  # noqa: E402  (quiets TensorFlow before it is imported)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small smoke run (CPU, under a minute)")
    p.add_argument("--batch-size", type=int, default=None, help="GAN batch (default 256; quick 64)")
    p.add_argument("--vae-batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=None, help="timed steps per model (default 200; quick 10)")
    p.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16", "auto"),
                   help="Keras dtype policy (the book's models carry no float16 loss scaling)")
    p.add_argument("--models", default="dcgan,vae",
                   help="comma-separated: dcgan, vae, fit_floor (stock Keras fit of a one-weight model)")
    p.add_argument("--jit", choices=("auto", "on", "off"), default="auto",
                   help="XLA for both sides; auto = Keras' choice (on for JAX and GPUs)")
    p.add_argument("--repeats", type=int, default=2, help="timed runs per side; the best is kept")
    p.add_argument("--mnist-epochs", action="store_true",
                   help="time 60,000-image epochs of the MLP GAN and MLP VAE on real MNIST")
    p.add_argument("--epochs", type=int, default=None,
                   help="steady state: one fit() of this many epochs over 60,000 images; epochs 2.. timed")
    p.add_argument("--steps-per-execution", type=int, default=None,
                   help="gvutil's steps_per_execution (default: gvutil.config.compile_defaults())")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 2:
        p.error("--epochs needs at least 2 (the first epoch compiles and is not timed)")
    if args.batch_size is None:
        args.batch_size = 64 if args.quick else 256
    if args.steps is None:
        args.steps = 10 if args.quick else 200
    return args


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def steady_state_seconds(model, data, epochs, repeats, **fit_kwargs):
    """Best of ``repeats`` timings of epochs 2..``epochs`` of one ``model.fit`` (the first epoch of
    each fit is not timed; every epoch ends in Keras' own synchronisation)."""
    import keras

    marks = {}

    class Mark(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                marks["start"] = time.perf_counter()

    def timed_fit():
        model.fit(data, epochs=epochs, verbose=0, callbacks=[Mark()], **fit_kwargs)
        return time.perf_counter() - marks["start"]

    return min(timed_fit() for _ in range(repeats))


# --------------------------------------------------------------------------- reference loops
def jax_reference_gan(gan, x, batch, steps):
    """A jitted alternating D/G step on stateless_call + stateless_apply; data on the device."""
    import jax
    import jax.numpy as jnp
    import keras

    G, D, latent = gan.generator, gan.discriminator, gan.latent_dim
    d_opt, g_opt = gan.d_optimizer, gan.g_optimizer
    sp = jax.nn.softplus
    x_dev = jax.device_put(jnp.asarray(x, "float32") / 255.0)

    def d_loss(d_tv, d_ntv, g_tv, g_ntv, real, z):
        fake, g_ntv = G.stateless_call(g_tv, g_ntv, z, training=True)
        rl, d_ntv = D.stateless_call(d_tv, d_ntv, real, training=True)
        fl, d_ntv = D.stateless_call(d_tv, d_ntv, fake, training=True)
        rl, fl = rl.astype("float32"), fl.astype("float32")
        return jnp.mean(sp(-rl)) + jnp.mean(sp(fl)), (d_ntv, g_ntv)

    def g_loss(g_tv, g_ntv, d_tv, d_ntv, z):
        fake, g_ntv = G.stateless_call(g_tv, g_ntv, z, training=True)
        fl, d_ntv = D.stateless_call(d_tv, d_ntv, fake, training=True)
        return jnp.mean(sp(-fl.astype("float32"))), (g_ntv, d_ntv)

    def scaled(opt, ov, fn):
        def wrapped(*a):
            loss, aux = fn(*a)
            with keras.StatelessScope(state_mapping=list(zip(opt.variables, ov))):
                return opt.scale_loss(loss), (loss, aux)
        return wrapped

    def step(state, i):
        g_tv, g_ntv, d_tv, d_ntv, d_ov, g_ov = state
        real = jax.lax.dynamic_slice_in_dim(x_dev, (i % (len(x) // batch)) * batch, batch)
        k1, k2 = jax.random.split(jax.random.fold_in(jax.random.key(0), i))
        z1 = jax.random.normal(k1, (batch, latent))
        z2 = jax.random.normal(k2, (batch, latent))
        (_, (dl, (d_ntv, g_ntv))), grads = jax.value_and_grad(
            scaled(d_opt, d_ov, d_loss), has_aux=True)(d_tv, d_ntv, g_tv, g_ntv, real, z1)
        d_tv, d_ov = d_opt.stateless_apply(d_ov, grads, d_tv)
        (_, (gl, (g_ntv, d_ntv))), grads = jax.value_and_grad(
            scaled(g_opt, g_ov, g_loss), has_aux=True)(g_tv, g_ntv, d_tv, d_ntv, z2)
        g_tv, g_ov = g_opt.stateless_apply(g_ov, grads, g_tv)
        return (g_tv, g_ntv, d_tv, d_ntv, d_ov, g_ov), (dl, gl)

    step = jax.jit(step, donate_argnums=0)
    values = lambda vs: [v.value for v in vs]  # noqa: E731
    state = [(values(G.trainable_variables), values(G.non_trainable_variables),
              values(D.trainable_variables), values(D.non_trainable_variables),
              values(d_opt.variables), values(g_opt.variables))]

    def run(n):
        s = state[0]
        for i in range(n):
            s, losses = step(s, i)
        jax.block_until_ready(losses)
        state[0] = s

    return run


def jax_reference_vae(vae, x, batch, steps):
    import jax
    import jax.numpy as jnp
    import keras

    E, Dec, opt = vae.encoder, vae.decoder, vae.optimizer
    x_dev = jax.device_put(jnp.asarray(x, "float32") / 255.0)

    def loss_fn(e_tv, e_ntv, d_tv, d_ntv, ov, real, key):
        (m, lv), e_ntv = E.stateless_call(e_tv, e_ntv, real, training=True)
        m, lv = m.astype("float32"), lv.astype("float32")
        z = m + jnp.exp(0.5 * lv) * jax.random.normal(key, m.shape)
        logits, d_ntv = Dec.stateless_call(d_tv, d_ntv, z, training=True)
        logits = logits.astype("float32").reshape(batch, -1)
        flat = real.reshape(batch, -1)
        rec = jnp.sum(jax.nn.softplus(logits) - flat * logits, axis=1)
        kl = 0.5 * jnp.sum(jnp.exp(lv) + m ** 2 - 1.0 - lv, axis=1)
        loss = jnp.mean(rec + kl)
        with keras.StatelessScope(state_mapping=list(zip(opt.variables, ov))):
            return opt.scale_loss(loss), (loss, e_ntv, d_ntv)

    n_e = len(E.trainable_variables)

    def step(state, i):
        tv, e_ntv, d_ntv, ov = state
        real = jax.lax.dynamic_slice_in_dim(x_dev, (i % (len(x) // batch)) * batch, batch)
        key = jax.random.fold_in(jax.random.key(1), i)
        (_, (loss, e_ntv, d_ntv)), grads = jax.value_and_grad(
            lambda t: loss_fn(t[:n_e], e_ntv, t[n_e:], d_ntv, ov, real, key), has_aux=True)(tv)
        tv, ov = opt.stateless_apply(ov, grads, tv)
        return (tv, e_ntv, d_ntv, ov), loss

    step = jax.jit(step, donate_argnums=0)
    assert [id(v) for v in vae.trainable_variables] == [
        id(v) for v in E.trainable_variables + Dec.trainable_variables]
    state = [([v.value for v in vae.trainable_variables],
              [v.value for v in E.non_trainable_variables],
              [v.value for v in Dec.non_trainable_variables],
              [v.value for v in opt.variables])]

    def run(n):
        s = state[0]
        for i in range(n):
            s, loss = step(s, i)
        jax.block_until_ready(loss)
        state[0] = s

    return run


def tf_reference_gan(gan, x, batch, steps, jit):
    import tensorflow as tf

    G, D, latent = gan.generator, gan.discriminator, gan.latent_dim
    d_opt, g_opt = gan.d_optimizer, gan.g_optimizer
    x_dev = tf.constant(x)
    n_batches = len(x) // batch
    sp = tf.math.softplus

    @tf.function(jit_compile=jit)
    def step(i):
        start = (i % n_batches) * batch
        real = tf.cast(x_dev[start:start + batch], tf.float32) / 255.0
        z1 = tf.random.stateless_normal((batch, latent), seed=tf.stack([i, 0]))
        z2 = tf.random.stateless_normal((batch, latent), seed=tf.stack([i, 1]))
        with tf.GradientTape() as tape:
            fake = G(z1, training=True)
            rl = tf.cast(D(real, training=True), tf.float32)
            fl = tf.cast(D(fake, training=True), tf.float32)
            dl = tf.reduce_mean(sp(-rl)) + tf.reduce_mean(sp(fl))
            scaled = d_opt.scale_loss(dl)
        d_opt.apply_gradients(zip(tape.gradient(scaled, D.trainable_variables), D.trainable_variables))
        with tf.GradientTape() as tape:
            fl = tf.cast(D(G(z2, training=True), training=True), tf.float32)
            gl = tf.reduce_mean(sp(-fl))
            scaled = g_opt.scale_loss(gl)
        g_opt.apply_gradients(zip(tape.gradient(scaled, G.trainable_variables), G.trainable_variables))
        return dl, gl

    def run(n):
        for i in range(n):
            out = step(tf.constant(i, tf.int32))
        float(out[0])  # wait for the last step

    return run


def tf_reference_vae(vae, x, batch, steps, jit):
    import tensorflow as tf

    E, Dec, opt = vae.encoder, vae.decoder, vae.optimizer
    x_dev = tf.constant(x)
    n_batches = len(x) // batch
    variables = vae.trainable_variables

    @tf.function(jit_compile=jit)
    def step(i):
        start = (i % n_batches) * batch
        real = tf.cast(x_dev[start:start + batch], tf.float32) / 255.0
        with tf.GradientTape() as tape:
            m, lv = E(real, training=True)
            m, lv = tf.cast(m, tf.float32), tf.cast(lv, tf.float32)
            z = m + tf.exp(0.5 * lv) * tf.random.stateless_normal(tf.shape(m), seed=tf.stack([i, 7]))
            logits = tf.reshape(tf.cast(Dec(z, training=True), tf.float32), (batch, -1))
            flat = tf.reshape(real, (batch, -1))
            rec = tf.reduce_sum(tf.math.softplus(logits) - flat * logits, axis=1)
            kl = 0.5 * tf.reduce_sum(tf.exp(lv) + m ** 2 - 1.0 - lv, axis=1)
            loss = tf.reduce_mean(rec + kl)
            scaled = opt.scale_loss(loss)
        opt.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return loss

    def run(n):
        for i in range(n):
            out = step(tf.constant(i, tf.int32))
        float(out)

    return run


# --------------------------------------------------------------------------- the comparison
def compare(kind, args, backend, jit_kwargs):
    import keras
    import numpy as np

    from gvutil import models, train

    batch = args.batch_size if kind == "dcgan" else args.vae_batch_size
    rng = np.random.default_rng(0)
    n_images = 60000 if args.epochs else batch * args.steps
    x = rng.integers(0, 256, (n_images, 28, 28, 1), dtype=np.uint8)
    build_kwargs = dict(jit_kwargs)
    if args.steps_per_execution:
        build_kwargs["steps_per_execution"] = args.steps_per_execution

    def build(**kwargs):
        gvutil.seed_everything(0)
        if kind == "dcgan":
            return models.make_gan("dcgan", seed=0, **kwargs)
        return models.make_vae("mlp", seed=0, **kwargs)

    model = build(**build_kwargs)
    data = train.dataset(x, batch, seed=0)
    model.fit(data, epochs=1, verbose=0)  # the first fit compiles
    if args.epochs:  # steady state: epochs 2..N of one fit, each ending in Keras' own sync
        steps = (args.epochs - 1) * len(data)
        t_gvutil = steady_state_seconds(model, data, args.epochs, args.repeats)
    else:
        steps = args.steps
        t_gvutil = best_time(lambda: model.fit(data, epochs=1, verbose=0), args.repeats)

    # reference: the same architecture, fresh weights and optimizers.
    ref_model = build(**jit_kwargs)
    jit = bool(ref_model.jit_compile)
    if backend == "jax":
        run = (jax_reference_gan if kind == "dcgan" else jax_reference_vae)(ref_model, x, batch, steps)
    else:
        make = tf_reference_gan if kind == "dcgan" else tf_reference_vae
        run = make(ref_model, x, batch, steps, jit)
    run(steps)  # compile + warm up
    t_ref = best_time(lambda: run(steps), args.repeats)

    images = batch * steps
    result = {
        "model": kind, "backend": backend, "batch_size": batch, "steps": steps,
        "mode": f"steady state, epochs 2..{args.epochs} of one fit" if args.epochs else "one fit of one epoch",
        "precision": keras.config.dtype_policy().name, "xla": jit,
        "steps_per_execution": model.steps_per_execution,
        "gvutil_images_per_s": images / t_gvutil, "reference_images_per_s": images / t_ref,
        "ratio": t_ref / t_gvutil,
    }
    if kind == "vae":
        result["gvutil_s_per_60k_epoch"] = 60000 / result["gvutil_images_per_s"]
        result["reference_s_per_60k_epoch"] = 60000 / result["reference_images_per_s"]
    return result


def mnist_epochs(args):
    """Whole 60,000-image epochs on real MNIST (batch 128), second epoch timed."""
    from gvutil import models, train
    from gvutil.data import load_mnist

    (x_train, _), _ = load_mnist()
    out = []
    for kind in ("mlp_gan", "mlp_vae"):
        gvutil.seed_everything(0)
        model = models.make_gan("mlp", seed=0) if kind == "mlp_gan" else models.make_vae("mlp", seed=0)
        times = []

        class Timer(__import__("keras").callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.t)

        model.fit(train.dataset(x_train, 128, seed=0), epochs=2, verbose=0, callbacks=[Timer()])
        out.append({"model": kind, "batch_size": 128, "first_epoch_s": times[0],
                    "epoch_s": times[1], "steps_per_epoch": 60000 // 128})
    return out


def fit_floor(args, jit_kwargs):
    """The fastest any ``fit()`` runs here: stock Keras (its own ``train_step``) training a model of
    two weights on the same device-resident batches (``--vae-batch-size``), with gvutil's compile
    settings. Its steps per second bound from above what a model with a tiny step can reach in
    ``fit()``, whoever writes the step; compare with the VAE's steps per second."""
    import keras
    import numpy as np

    from gvutil import config, train

    class Floor(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(keras.ops.reshape(x, (-1, 784))[:, :1])

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return keras.ops.mean(y_pred ** 2)

    batch = args.vae_batch_size
    x = np.random.default_rng(0).integers(0, 256, (60000, 28, 28, 1), dtype=np.uint8)
    data = train.dataset(x, batch, seed=0)
    settings = {**config.compile_defaults(), **jit_kwargs}
    if args.steps_per_execution:
        settings["steps_per_execution"] = args.steps_per_execution
    model = Floor()
    model.compile(optimizer=keras.optimizers.SGD(1e-3), **settings)
    model.fit(data, epochs=1, verbose=0, shuffle=False)  # compiles
    epochs = args.epochs or 3
    seconds = steady_state_seconds(model, data, epochs, args.repeats, shuffle=False)
    steps = (epochs - 1) * len(data)
    return {"model": "fit_floor", "batch_size": batch, "steps": steps,
            "mode": f"steady state, epochs 2..{epochs} of one fit",
            "steps_per_execution": model.steps_per_execution, "xla": bool(model.jit_compile),
            "steps_per_s": steps / seconds, "images_per_s": steps * batch / seconds}


def main(argv=None):
    args = parse_args(argv)
    import keras

    from gvutil import train

    backend = keras.backend.backend()
    if args.precision == "auto":
        train.set_precision("auto")
    else:
        keras.config.set_dtype_policy(args.precision)
    print(f"backend {backend}, device {train.accelerator()}, precision "
          f"{keras.config.dtype_policy().name}, keras {keras.__version__}", flush=True)
    results = []
    if args.mnist_epochs:
        for r in mnist_epochs(args):
            results.append(r)
            print(f"{r['model']}: {r['epoch_s']:.1f} s per 60,000-image epoch at batch 128 "
                  f"(first epoch, with tracing: {r['first_epoch_s']:.1f} s)", flush=True)
    else:
        jit_kwargs = {} if args.jit == "auto" else {"jit_compile": args.jit == "on"}
        for kind in [m.strip() for m in args.models.split(",") if m.strip()]:
            if kind == "fit_floor":
                r = fit_floor(args, jit_kwargs)
                results.append(r)
                print(f"fit_floor: batch {r['batch_size']}, {r['steps']} steps ({r['mode']}), xla {r['xla']}, "
                      f"steps_per_execution {r['steps_per_execution']}: {r['steps_per_s']:,.0f} steps/s "
                      f"({r['images_per_s']:,.0f} images/s)", flush=True)
                continue
            r = compare(kind, args, backend, jit_kwargs)
            results.append(r)
            line = (f"{kind}: batch {r['batch_size']}, {r['steps']} steps ({r['mode']}), xla {r['xla']}, "
                    f"steps_per_execution {r['steps_per_execution']}: "
                    f"gvutil {r['gvutil_images_per_s']:,.0f} images/s, "
                    f"reference {r['reference_images_per_s']:,.0f} images/s")
            if kind == "vae":
                line += (f"; gvutil {r['gvutil_images_per_s'] / r['batch_size']:,.0f} steps/s"
                         f" ({r['gvutil_s_per_60k_epoch']:.2f} s vs "
                         f"{r['reference_s_per_60k_epoch']:.2f} s per 60,000-image epoch)")
            print(line, flush=True)
            print(f"  ratio gvutil/reference = {r['ratio']:.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
