"""gvutil.train: data pipeline, resumable training, callbacks, profiles, data parallelism."""

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import gvutil
from gvutil import models, plot, train
from helpers import patterns, tiny_gan, tiny_vae

BACKEND = keras.backend.backend()
REPO = Path(__file__).resolve().parents[1]


def epoch_batches(ds):
    """One pass over a gvutil dataset as a list of NumPy batches."""
    ds.on_epoch_begin()
    out = [ds[i] for i in range(len(ds))]
    ds.on_epoch_end()
    return out


def max_diff(a, b):
    return max(float(np.abs(keras.ops.convert_to_numpy(u).astype("float64")
                            - keras.ops.convert_to_numpy(v).astype("float64")).max()) for u, v in zip(a, b))


# --------------------------------------------------------------------------- dataset
def test_dataset_drops_the_partial_batch_and_shuffles_by_seed_and_epoch():
    x = (np.arange(70, dtype="uint8").reshape(70, 1, 1, 1) * np.ones((1, 28, 28, 1), "uint8"))
    ds = train.dataset(x, 16, seed=3)
    first = epoch_batches(ds)
    assert len(first) == 4 and all(b.shape == (16, 28, 28, 1) and b.dtype == np.float32 for b in first)
    ids = np.concatenate([np.rint(b[:, 0, 0, 0] * 255) for b in first]).astype(int)
    assert len(set(ids)) == 64 and ids.max() <= 69  # no repeats, 6 images left out
    assert float(first[0].max()) <= 1.0  # uint8 scaled to [0, 1]
    assert not np.array_equal(ids, np.sort(ids))  # shuffled
    second = np.concatenate([b[:, 0, 0, 0] for b in epoch_batches(ds)])
    assert not np.array_equal(second, np.concatenate([b[:, 0, 0, 0] for b in first]))  # reshuffled
    again = train.dataset(x, 16, seed=3)
    np.testing.assert_array_equal(epoch_batches(again)[0], first[0])  # same seed, same epoch 0
    again.set_epoch(0)
    np.testing.assert_array_equal(epoch_batches(again)[2], first[2])
    other = train.dataset(x, 16, seed=4)
    assert not np.array_equal(epoch_batches(other)[0], first[0])
    if BACKEND == "jax":  # device-resident batches (the default on a GPU) are the same batches
        on_device = epoch_batches(train.dataset(x, 16, seed=3, on_device=True))
        for a, b in zip(on_device, first):
            np.testing.assert_array_equal(np.asarray(a[0]), b)
    ordered = epoch_batches(train.dataset(x, 16, shuffle=False, drop_remainder=False))
    assert len(ordered) == 5 and ordered[-1].shape[0] == 6
    if BACKEND == "jax":  # the device keeps the partial last batch too
        on_device = epoch_batches(train.dataset(x, 16, shuffle=False, drop_remainder=False, on_device=True))
        assert [np.asarray(a[0]).tobytes() for a in on_device] == [b.tobytes() for b in ordered]
    assert np.rint(ordered[0][:, 0, 0, 0] * 255).astype(int).tolist() == list(range(16))


def test_every_pixel_value_scales_to_the_same_float_everywhere():
    """One pixel scaling: the training pipeline (host, device), a compiled step, the
    chapters' to_float_images, the plots and the evaluator give the same float32 for each of the
    256 values, bit for bit, and that float is the exact float32 of v * float32(1/255)."""
    from gvutil import evaluator
    from gvutil.data import PIXEL_SCALE, binarize, scale_pixels, to_float_images

    values = np.arange(256, dtype=np.uint8)
    x = np.resize(values, (4, 28, 28, 1))  # every value, 12 times in all
    reference = (x.astype(np.float32) * np.float32(1.0 / 255.0))
    np.testing.assert_array_equal(to_float_images(x[..., 0]), reference)
    assert to_float_images(x).tobytes() == reference.tobytes()
    assert plot.to_numpy_images(x).tobytes() == reference[..., 0].tobytes()
    assert evaluator.as_evaluator_images(x).tobytes() == reference.tobytes()
    # not the same as a division: the single home matters (the two differ for many values)
    assert np.count_nonzero(values.astype(np.float32) / np.float32(255) != scale_pixels(values)) > 50
    batches = epoch_batches(train.dataset(x, 4, shuffle=False))
    assert keras.ops.convert_to_numpy(batches[0]).tobytes() == reference.tobytes()
    if BACKEND == "jax":
        import jax

        batch = epoch_batches(train.dataset(x, 4, shuffle=False, on_device=True))[0][0]
        assert np.asarray(batch).tobytes() == reference.tobytes()
        compiled = jax.jit(lambda u: u.astype("float32") / 255.0)(x)  # what XLA makes of a division
        assert np.asarray(compiled).tobytes() == reference.tobytes()
    else:
        import tensorflow as tf

        compiled = tf.function(lambda u: tf.cast(u, tf.float32) / 255.0, jit_compile=True)(x)
        assert compiled.numpy().tobytes() == reference.tobytes()
    # binarize thresholds the same probabilities
    rng = np.random.default_rng(0)
    u = rng.random(x.shape, dtype=np.float32)
    np.testing.assert_array_equal(binarize(x, seed=0), (u < reference).astype(np.float32))
    assert PIXEL_SCALE.dtype == np.float32


# --------------------------------------------------------------------------- resuming
class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt(f"simulated interruption at epoch {epoch}")


def test_binarized_images_draw_new_bits_each_epoch_reproducibly():
    grey = patterns(300)  # floats in [0, 1]
    ds = train.BinarizedImages(grey, batch_size=64, seed=3)
    assert len(ds) == 4  # 300 // 64: the partial batch is dropped
    (first,) = ds[0]
    assert first.shape == (64, 28, 28, 1) and set(np.unique(first).tolist()) <= {0.0, 1.0}
    again = train.BinarizedImages(grey, batch_size=64, seed=3)
    np.testing.assert_array_equal(again[2][0], ds[2][0])          # same (seed, epoch, batch): same bits
    ds.set_epoch(1)
    assert not np.array_equal(ds[0][0], first)                     # a new epoch: new order, new bits
    again.set_epoch(1)
    np.testing.assert_array_equal(again[0][0], ds[0][0])
    # each pixel is 1 with probability equal to its intensity
    rows = np.concatenate([ds[i][0] for i in range(len(ds))])
    seen = grey[ds.order[:len(rows)]]
    assert abs(rows.mean() - seen.mean()) < 0.01
    # uint8 images are scaled: the same bits as the float images they stand for
    u8 = (np.arange(256, dtype=np.uint8)[None, :, None].repeat(64, 0)).reshape(64, 16, 16)
    assert train.BinarizedImages(u8, batch_size=64)[0][0].shape == (64, 16, 16, 1)


def test_binarized_images_is_the_class_section_4_3_writes():
    """One home, d2l-style: the chapter teaches the class, gvutil keeps the same code for reuse."""
    import inspect

    import nbformat

    def code_only(src):
        src = re.sub(r'""".*?"""', "", src, flags=re.S)          # docstrings
        lines = (re.sub(r"\s+#.*$", "", ln).rstrip() for ln in src.splitlines())
        return [ln for ln in lines if ln.strip() and not ln.strip().startswith("#")]

    nb = nbformat.read(REPO / "book" / "04_vae_code.ipynb", as_version=4)
    cell = next(c.source for c in nb.cells if c.cell_type == "code"
                and c.source.startswith("class BinarizedImages("))
    taught = code_only(cell)
    taught = taught[:next(i for i, ln in enumerate(taught[1:], 1) if not ln.startswith(" "))]
    assert taught == code_only(inspect.getsource(train.BinarizedImages))


@pytest.mark.parametrize("make", [tiny_gan, tiny_vae], ids=["gan", "vae"])
def test_interrupted_then_resumed_equals_uninterrupted(make, tmp_path):
    x = patterns(48)
    backup = tmp_path / "backup"

    def fresh():  # as a new process would build it
        gvutil.seed_everything(0)
        return make(), train.dataset(x, 16, seed=0)

    reference, data = fresh()
    reference.fit(data, epochs=4, verbose=0)

    model, data = fresh()
    with pytest.raises(KeyboardInterrupt):
        model.fit(data, epochs=4, verbose=0, callbacks=[train.resumable(backup), Interrupt(2)])
    assert any(backup.iterdir())  # a backup was written

    model, data = fresh()
    log = train.EpochLog()
    history = model.fit(data, epochs=4, verbose=0, callbacks=[train.resumable(backup), log])
    assert len(next(iter(history.history.values()))) == 2  # only epochs 3 and 4 ran again
    assert max_diff(reference.weights, model.weights) == 0.0
    assert max_diff(reference.optimizer.variables, model.optimizer.variables) == 0.0
    assert not backup.exists()  # backup removed after a finished run


# --------------------------------------------------------------------------- callbacks
class _Unchecked(keras.utils.PyDataset):
    """Two batches of 16 from a custom pipeline: gvutil checks arrays and its own datasets for
    NaN pixels before training, not arbitrary pipelines, so a NaN can still reach the loss."""

    def __init__(self, images):
        super().__init__()
        self.images = images

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return self.images[16 * i:16 * (i + 1)]


def test_stop_on_nan_names_the_metric_and_epoch(capsys):
    x = patterns(32)
    x[5, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="finite values"):  # an array is refused up front
        tiny_vae().fit(x, batch_size=16, epochs=1, verbose=0)
    x = _Unchecked(x)
    vae = tiny_vae()
    stop = train.StopOnNaN()
    h = vae.fit(x, epochs=3, verbose=0, shuffle=False, callbacks=[stop])
    assert len(h.history["loss"]) == 1  # stopped after the first epoch
    out = capsys.readouterr().out
    assert re.search(r"Training stopped: (reconstruction|kl|elbo|loss) is nan at epoch 1\.", out)
    assert stop.stopped_epoch == 1 and stop.message in out
    with pytest.raises(FloatingPointError, match="is nan at epoch 1, batch 1"):
        tiny_vae().fit(x, epochs=3, verbose=0, shuffle=False,
                       callbacks=[train.StopOnNaN(raise_error=True, check_batches=True)])


def test_epoch_log_prints_one_rounded_line_per_epoch(capsys):
    gvutil.seed_everything(0)
    gan = tiny_gan()
    gan.fit(train.dataset(patterns(32), 16), epochs=3, verbose=0, callbacks=[train.EpochLog()])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    number = r"-?\d+\.\d{3}"
    for i, line in enumerate(lines, 1):
        assert re.fullmatch(rf"epoch {i}/3  d_loss {number}  g_loss {number}  d_real {number}  "
                            rf"d_fake {number}", line), line


def test_sample_grid_uses_fixed_noise_and_keeps_small_figures(tmp_path):
    gvutil.seed_everything(0)
    gan = tiny_gan()
    grid = plot.SampleGrid(every=2, n=6, ncols=3, seed=7, show=False, directory=tmp_path)
    gan.fit(train.dataset(patterns(32), 16), epochs=3, verbose=0, callbacks=[grid])
    assert [epoch for epoch, _ in grid.frames] == [2, 3]  # every 2 epochs, and the last one
    images = grid.frames[-1][1]
    assert images.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(images, gan.sample(6, seed=7))  # the fixed noise
    assert not np.array_equal(grid.frames[0][1], grid.frames[1][1])  # training moved on
    w, h = grid.figures[0].get_size_inches()
    assert w <= 3 and h <= 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_002.png", "epoch_003.png"]
    vae_grid = plot.SampleGrid(n=4, show=False)
    tiny_vae().fit(patterns(16), batch_size=16, epochs=1, verbose=0, callbacks=[vae_grid])
    assert vae_grid.frames[0][1].shape == (4, 28, 28, 1)


def test_callbacks_helper_and_progress_bar(tmp_path, capsys):
    cbs = train.callbacks(samples=True, checkpoint=tmp_path / "ck", progress=True)
    kinds = [type(c).__name__ for c in cbs]
    assert kinds == ["BackupAndRestore", "StopOnNaN", "EpochLog", "SampleGrid", "TqdmCallback"]
    assert [type(c).__name__ for c in train.callbacks()] == ["StopOnNaN", "EpochLog"]
    bar = train.callbacks(log=False, nan=False, progress=True)[0]
    tiny_vae().fit(patterns(32), batch_size=16, epochs=2, verbose=0, callbacks=[bar])
    assert bar.epoch_bar.n == 2 and bar.epoch_bar.total == 2  # one tick per epoch
    assert "epoch" not in capsys.readouterr().out  # a bar (on stderr or a widget), not printed lines


# --------------------------------------------------------------------------- profiles and speed switches
def test_profile_from_environment_or_device(monkeypatch):
    monkeypatch.setenv("GVUTIL_PROFILE", "full")
    assert train.profile() == "full" and train.pick(cpu=2, full=50) == 50
    monkeypatch.setenv("GVUTIL_PROFILE", "cpu")
    assert train.profile() == "cpu" and train.pick(cpu=2, full=50) == 2
    monkeypatch.setenv("GVUTIL_PROFILE", "tiny")  # the full profile's values, integers / 1000
    assert train.profile() == "tiny"
    assert train.pick(cpu=2, full=30_000) == 30 and train.pick(cpu=2, full=50) == 1
    assert train.pick(cpu=(2000, 100), full=(10_000, 1000)) == (10, 1)
    assert train.pick(cpu=2e-4, full=1e-3) == 1e-3 and train.pick(cpu=False, full=True) is True
    monkeypatch.setenv("GVUTIL_PROFILE", "fast")
    with pytest.raises(ValueError, match="GVUTIL_PROFILE"):
        train.profile()
    monkeypatch.delenv("GVUTIL_PROFILE")
    device = train.accelerator()
    assert train.profile() == ("cpu" if device == "cpu" else "full")


def test_speed_defaults_keep_a_cpu_exact():
    if train.accelerator() != "cpu":
        pytest.skip("checks the CPU defaults")
    try:
        assert train.set_precision("auto") == "float32"
        assert train.set_precision("mixed_bfloat16") == "mixed_bfloat16"
    finally:
        keras.config.set_dtype_policy("float32")
    assert train.compile_defaults() == {"jit_compile": "auto", "steps_per_execution": 1}
    on_tf = BACKEND == "tensorflow"
    assert train.compile_defaults(xla_on_cpu=True) == {"jit_compile": True if on_tf else "auto",
                                                       "steps_per_execution": 1}
    # XLA on JAX always; on a TensorFlow CPU only for large MLP GANs (faster there; compiling costs
    # more than it saves for small ones, and XLA is slower for the convolutional models)
    assert tiny_gan().jit_compile == (BACKEND == "jax")
    assert models.make_gan("mlp", hidden=(256, 512, 1024), batchnorm=True).jit_compile is True
    assert models.make_gan("dcgan", filters=4).jit_compile == (BACKEND == "jax")
    assert tiny_vae().jit_compile == (BACKEND == "jax")


# --------------------------------------------------------------------------- data parallelism
DATA_PARALLEL_SCRIPT = textwrap.dedent("""
    import json
    import gvutil
    from gvutil import train
    devices = train.split_cpu(2)   # before the backend starts computing
    import keras, numpy as np
    from gvutil import models
    x = np.random.default_rng(0).random((64, 28, 28, 1)).astype("float32")

    def run(kind):
        gvutil.seed_everything(0)
        if kind == "gan":
            m = models.make_gan("mlp", latent_dim=8, hidden=16, seed=0)
        else:
            m = models.make_vae("mlp", latent_dim=2, hidden=16, seed=0)
        h = m.fit(train.dataset(x, 16, seed=0), epochs=2, verbose=0).history
        return m, {k: v[-1] for k, v in h.items()}

    with train.data_parallel() as dist:
        replicas = dist.device_mesh.devices.size
        parallel = {kind: run(kind) for kind in ("gan", "vae")}
    out = {"devices": devices, "replicas": int(replicas)}
    for kind, (m, logs) in parallel.items():
        single, _ = run(kind)
        out[kind] = logs
        out[kind + "_vs_single_device"] = max(
            float(np.abs(keras.ops.convert_to_numpy(a) - keras.ops.convert_to_numpy(b)).max())
            for a, b in zip(m.trainable_variables, single.trainable_variables))
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution data parallelism is JAX's")
def test_two_virtual_device_data_parallel_fit_matches_one_device():
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "TF_CPP_MIN_LOG_LEVEL": "2",
           "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", DATA_PARALLEL_SCRIPT], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    assert out["devices"] == 2 and out["replicas"] == 2
    for kind in ("gan", "vae"):
        assert all(math.isfinite(v) for v in out[kind].values())
        # Splitting each batch over two devices computes the same update as one device.
        assert out[kind + "_vs_single_device"] < 1e-4, out


def test_stop_after_ends_fit_at_the_step_budget_across_epochs():
    gan = tiny_gan()
    data = train.dataset(np.random.default_rng(0).random((64, 28, 28, 1)).astype("float32"), 16)
    stop = train.StopAfter(10)  # 4 steps per epoch: stops in the third epoch
    seen = []
    count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs=None: seen.append(batch))
    history = gan.fit(data, epochs=5, verbose=0, callbacks=[stop, count])
    assert stop.steps_done == 10 and len(seen) == 10
    assert len(history.history["d_loss"]) == 3
    assert int(gan.optimizer.iterations) == 10
    # Without a per-batch callback, Keras dispatches steps asynchronously; StopAfter and StopOnNaN
    # keep it so, and the budget is still exact.
    gan = tiny_gan()
    stop = train.StopAfter(10)
    callbacks = [stop, train.StopOnNaN(), train.EpochLog(every=5)]
    cbl = keras.callbacks.CallbackList(callbacks, model=gan)
    if hasattr(cbl, "_async_train") and BACKEND == "jax":  # Keras dispatches async on JAX only
        assert cbl._async_train, "StopAfter/StopOnNaN disable Keras's asynchronous dispatch"
        assert not keras.callbacks.CallbackList([train.StopOnNaN(check_batches=True)], model=gan)._async_train
    history = gan.fit(data, epochs=5, verbose=0, callbacks=callbacks)
    assert stop.steps_done == 10 and int(gan.optimizer.iterations) == 10
    assert len(history.history["d_loss"]) == 3
    with pytest.raises(ValueError, match="positive integer"):
        train.StopAfter(0)
    with pytest.raises(ValueError, match="positive integer"):
        train.StopAfter(2.5)


def test_a_plain_for_loop_over_a_dataset_ends_after_its_batches():
    """`for batch in data` must stop after len(data) batches, also where Keras' PyDataset has no
    __iter__ of its own (Keras 3.8: Python then calls __getitem__ with 0, 1, 2, ... until IndexError)."""

    def sequence_protocol(seq):  # what `for` does without __iter__
        i = 0
        while True:
            try:
                item = seq[i]
            except IndexError:
                return
            yield item
            i += 1

    ds = train.dataset(patterns(40), 16, seed=0)  # an ImageBatches on every backend
    batches = list(sequence_protocol(ds))
    assert len(batches) == len(ds) == 2 and all(len(b) == 16 for b in batches)


@pytest.mark.parametrize("every", [0, -1, 1.5])
def test_epoch_callbacks_refuse_every_that_is_not_a_positive_whole_number(every):
    from gvutil.plot import SampleGrid

    for callback in (train.EpochLog, SampleGrid):
        with pytest.raises(ValueError, match=rf"every must be a positive whole number of epochs; "
                                             rf"received every={every!r}"):
            callback(every=every)


@pytest.mark.skipif(BACKEND == "jax", reason="the JAX backend has data parallelism")
def test_data_parallel_elsewhere_says_it_needs_jax():
    for what, call in (("data_parallel", lambda: train.data_parallel().__enter__()),
                       ("split_cpu", lambda: train.split_cpu(2))):
        with pytest.raises(NotImplementedError, match=rf"{what} uses keras.distribution.*KERAS_BACKEND=jax"):
            call()


def test_dataset_is_one_kind_of_object_on_every_backend():
    ds = train.dataset(patterns(32), 16, seed=0)
    assert isinstance(ds, train.ImageBatches) and isinstance(ds, keras.utils.PyDataset)
    if BACKEND != "jax":
        with pytest.raises(ValueError, match="on_device=True keeps the batches on a JAX device"):
            train.dataset(patterns(32), 16, on_device=True)


def test_uint8_images_train_through_the_pipeline():
    """load_mnist's uint8 arrays go into dataset() as they are; fit gets floats in [0, 1]."""
    x = (patterns(32) * 255).round().astype("uint8")
    h = tiny_gan().fit(train.dataset(x, 16, seed=0), epochs=1, verbose=0).history
    assert math.isfinite(h["d_loss"][0])
    with pytest.raises(ValueError, match=r"expects images of shape \(None, 28, 28, 1\); received \(\d+, 14, 14, 1\)"):
        tiny_gan().fit(train.dataset(x[:, ::2, ::2], 16), epochs=1, verbose=0)
