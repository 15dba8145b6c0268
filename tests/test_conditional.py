"""Section 5.3's conditional GAN (gvutil.models.conditional), labelled batches (train.dataset(...,
labels=)) and the per-digit measure (metrics.conditional_accuracy); both backends."""

import keras
import numpy as np
import pytest

import gvutil
from gvutil import train
from gvutil.data import check_labels
from gvutil.models.conditional import ConditionalGAN, conditional_mlp_generator, projection_discriminator
from helpers import patterns


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def tiny_cgan(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    gan = ConditionalGAN(conditional_mlp_generator(8, (16,)), projection_discriminator((16,)), 8, seed=seed, **kwargs)
    gan.compile()
    return gan


def test_labelled_batches_pair_each_image_with_its_label():
    x = np.arange(20, dtype="uint8")[:, None, None] * np.ones((1, 28, 28), "uint8")
    y = np.arange(20) % 10
    data = train.dataset(x, 8, seed=0, labels=y)
    images, labels = data[0]
    assert images.shape == (8, 28, 28, 1) and labels.dtype == np.int32
    np.testing.assert_array_equal(np.round(images[:, 0, 0, 0] * 255).astype(int) % 10, labels)
    assert not isinstance(train.dataset(x, 8, seed=0)[0], tuple)  # unlabelled: images only, as before


@pytest.mark.parametrize("labels, message", [
    (np.arange(19) % 10, r"shape \(20,\)"),
    ((np.arange(20) % 10)[:, None], r"shape \(20,\)"),
    (np.arange(20), "in 0-9"),
    (-np.ones(20, int), "in 0-9"),
    (np.full(20, 1.5), "whole numbers"),
])
def test_labels_outside_0_to_9_or_of_the_wrong_shape_are_refused(labels, message):
    x = np.zeros((20, 28, 28), "uint8")
    with pytest.raises(ValueError, match="labels must .*" + message):
        train.dataset(x, 8, labels=labels)
    gan = tiny_cgan()
    with pytest.raises(ValueError, match="labels must"):
        gan.sample(20, seed=0, labels=labels)


def test_sample_refuses_more_labels_than_images():
    with pytest.raises(ValueError, match=r"labels must .*shape \(20,\).*\(21,\)"):
        tiny_cgan().sample(20, seed=0, labels=np.arange(21) % 10)


def test_check_labels_returns_int32():
    assert check_labels([0.0, 9.0, 3.0]).dtype == np.int32


def test_conditional_gan_trains_on_labelled_batches_and_samples_the_digits_asked_for():
    gvutil.seed_everything(0)
    gan = tiny_cgan()
    x, y = patterns(64), np.arange(64) % 10
    history = gan.fit(train.dataset(x, 16, seed=0, labels=y), epochs=2, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all() and int(gan.g_optimizer.iterations) == 8
    a = gan.sample(10, seed=3, labels=[7] * 10)
    b = gan.sample(10, seed=3, labels=[7] * 10)
    c = gan.sample(10, seed=3, labels=[1] * 10)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4  # the label changes the image for the same noise
    z = numpy(keras.random.normal((10, 8), seed=3))
    np.testing.assert_allclose(a, numpy(gan.averaged([z, np.full(10, 7, "int32")])), atol=1e-6)
    with pytest.raises(ValueError, match="use train.dataset\\(x, labels=y\\)"):
        gan.fit(train.dataset(x, 16, seed=0), epochs=1, verbose=0)


def test_the_projection_discriminator_depends_on_the_label_through_one_dot_product():
    """logit(x, y) - logit(x, y') = (e_y - e_y') . h(x): zero when the two embeddings are equal."""
    d = projection_discriminator((16,))
    x = patterns(4)
    embedding = next(layer for layer in d.layers if isinstance(layer, keras.layers.Embedding))
    e = numpy(embedding.embeddings)
    logits = {k: numpy(d([x, np.full(4, k, "int32")])) for k in (2, 5)}
    assert np.abs(logits[2] - logits[5]).max() > 1e-6
    e[5] = e[2]
    embedding.embeddings.assign(e)
    np.testing.assert_allclose(numpy(d([x, np.full(4, 5, "int32")])), logits[2], atol=1e-6)


def test_conditional_gan_keras_round_trip(tmp_path):
    gvutil.seed_everything(0)
    gan = tiny_cgan()
    gan.fit(train.dataset(patterns(32), 16, seed=0, labels=np.arange(32) % 10), epochs=1, verbose=0)
    gan.save(tmp_path / "cgan.keras")
    loaded = keras.saving.load_model(tmp_path / "cgan.keras")
    assert isinstance(loaded, ConditionalGAN) and loaded.num_classes == 10
    np.testing.assert_array_equal(loaded.sample(10, seed=2), gan.sample(10, seed=2))
