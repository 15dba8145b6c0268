"""gvutil.pretrained: checkpoints are rebuilt exactly, checked by SHA-256, and refused when altered."""

import json

import keras
import numpy as np
import pytest

from gvutil import models, pretrained


@pytest.fixture
def package(tmp_path, monkeypatch):
    """An empty folder in place of the package's own checkpoint folder."""
    shipped = tmp_path / "package"
    shipped.mkdir()
    monkeypatch.setattr(pretrained, "DIR", shipped)
    monkeypatch.setattr(pretrained, "RECORD_JSON", shipped / "RECORD.json")
    monkeypatch.setattr(pretrained, "RECORD_MD", shipped / "RECORD.md")
    return shipped


def test_export_then_load_gives_the_same_generator(tmp_path):
    out = tmp_path / "converged"
    kwargs = {"kind": "mlp", "hidden": [8, 16], "batchnorm": True, "latent_dim": 3, "seed": 0}
    gan = models.make_gan(**{**kwargs, "hidden": (8, 16)})
    rec = pretrained.export(gan, "tiny_gan", "make_gan", kwargs, directory=out, train_seconds=12.0,
                            steps=30, epochs=1.5, evaluation={"score": 1.0})
    assert rec["sha256"] and rec["bytes"] == (out / "tiny_gan.weights.npz").stat().st_size
    assert rec["seconds_per_epoch"] == 8.0 and pretrained.available(out) == ["tiny_gan"]
    assert "tiny_gan" in (out / "RECORD.md").read_text()
    loaded = pretrained.load("tiny_gan", out)
    # Every generator weight (BatchNorm statistics included) is the float16-rounded original.
    for a, b in zip(gan.generator.weights, loaded.generator.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a).astype("float16").astype("float32"),
                                      keras.ops.convert_to_numpy(b))
    z = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(gan.generator.predict_on_batch(z), loaded.generator.predict_on_batch(z),
                               atol=5e-3)


def test_vae_round_trip_keeps_encoder_and_decoder(tmp_path):
    vae = models.make_vae("mlp", latent_dim=2, hidden=8, seed=0)
    pretrained.export(vae, "tiny_vae", "make_vae", {"kind": "mlp", "latent_dim": 2, "hidden": 8},
                      directory=tmp_path, train_seconds=1.0, steps=1, epochs=1)
    loaded = pretrained.load("tiny_vae", tmp_path)
    x = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(vae.reconstruct(x), loaded.reconstruct(x), atol=5e-3)


@pytest.mark.parametrize("builder", ["averaged_gan", "conditional_gan"])
def test_chapter_5_checkpoints_keep_the_average_and_load_it_into_both_generators(tmp_path, builder):
    kwargs = {"latent_dim": 3, "hidden": [8, 16], "ema_decay": 0.9, "seed": 0}
    gan = pretrained.build(builder, kwargs)
    # Make the average differ from the generator, as after training.
    gan.averaged.set_weights([w + 0.25 for w in gan.averaged.get_weights()])
    pretrained.export(gan, "g5", builder, kwargs, directory=tmp_path, train_seconds=1.0, steps=1, epochs=1)
    with np.load(tmp_path / "g5.weights.npz") as arrays:
        assert sorted({k.split("/")[0] for k in arrays.files}) == ["averaged"]
    loaded = pretrained.load("g5", tmp_path)
    assert type(loaded) is type(gan) and loaded.ema_decay == 0.9
    for a, b, c in zip(gan.averaged.weights, loaded.averaged.weights, loaded.generator.weights):
        expected = keras.ops.convert_to_numpy(a).astype("float16").astype("float32")
        np.testing.assert_array_equal(expected, keras.ops.convert_to_numpy(b))
        np.testing.assert_array_equal(expected, keras.ops.convert_to_numpy(c))
    z = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    extra = (np.arange(4) % 10,) if builder == "conditional_gan" else ()
    np.testing.assert_allclose(gan.images_from_latents(z, *extra), loaded.images_from_latents(z, *extra), atol=5e-3)
    assert "gvutil.pretrained." + builder in (tmp_path / "RECORD.md").read_text()


def test_an_unknown_builder_is_refused(tmp_path):
    with pytest.raises(pretrained.CheckpointError, match="unknown builder 'make_dragon'"):
        pretrained.build("make_dragon", {})


def test_a_changed_or_missing_file_is_refused(tmp_path):
    gan = models.make_gan("mlp", hidden=8, latent_dim=2, seed=0)
    pretrained.export(gan, "g", "make_gan", {"kind": "mlp", "hidden": 8, "latent_dim": 2},
                      directory=tmp_path, train_seconds=1.0, steps=1, epochs=1)
    path = tmp_path / "g.weights.npz"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(pretrained.CheckpointError, match="SHA-256"):
        pretrained.load("g", tmp_path)
    path.unlink()
    with pytest.raises(pretrained.CheckpointError, match="missing"):
        pretrained.load("g", tmp_path)
    with pytest.raises(KeyError, match="no checkpoint named 'nope'"):
        pretrained.load("nope", tmp_path)


def test_export_never_writes_into_the_package_and_install_is_the_one_copy_step(tmp_path, package):
    gan = models.make_gan("mlp", hidden=8, latent_dim=2, seed=0)
    args = dict(train_seconds=1.0, steps=1, epochs=1)
    with pytest.raises(ValueError, match="outside the package"):
        pretrained.export(gan, "g", "make_gan", {"kind": "mlp", "hidden": 8, "latent_dim": 2},
                          directory=package, **args)
    assert not any(package.iterdir())
    out = tmp_path / "converged"
    for name, seed in (("g", 0), ("h", 1)):
        model = models.make_gan("mlp", hidden=8, latent_dim=2, seed=seed)
        pretrained.export(model, name, "make_gan", {"kind": "mlp", "hidden": 8, "latent_dim": 2},
                          directory=out, **args)
    # A file that no longer matches its record: nothing at all is installed.
    (out / "h.weights.npz").write_bytes(b"not the checkpoint")
    with pytest.raises(pretrained.CheckpointError, match="'h'"):
        pretrained.install(out)
    assert pretrained.available() == [] and not (package / "g.weights.npz").exists()
    # Installing the good one copies the file and its record, and the package loads it.
    assert pretrained.install(out, ["g"]) == ["g"]
    assert pretrained.available() == ["g"] and (package / "RECORD.md").exists()
    z = np.ones((2, 2), "float32")
    np.testing.assert_array_equal(pretrained.load("g").generator.predict_on_batch(z),
                                  pretrained.load("g", out).generator.predict_on_batch(z))


def test_shipped_checkpoints_match_their_records():
    """The package's own checkpoints: small, present, and load with their recorded SHA-256."""
    names = pretrained.available()
    assert {"mlp_gan", "mlp_vae"} <= set(names), names
    records = json.loads(pretrained.RECORD_JSON.read_text())
    for name in names:
        rec = records[name]
        assert rec["bytes"] <= 4 * 2**20, f"{name} is {rec['bytes']:,} bytes (limit 4 MiB)"
        for key in ("command", "machine", "versions", "train_seconds", "steps", "date"):
            assert rec[key], f"{name}: record lacks {key}"
        model = pretrained.load(name)
        assert model.image_shape == (28, 28, 1)
