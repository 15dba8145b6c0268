"""gvutil.widgets: the explorers show what the model makes of the chosen point, and the kernel-free
HTML version is self-contained and deterministic."""

import base64
import io
import re

import matplotlib.image
import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from gvutil import models, widgets  # noqa: E402


def png_grey(data: bytes) -> np.ndarray:
    """The grey levels in [0, 1] of a PNG written by gvutil.widgets (R channel of its RGBA)."""
    pixels = matplotlib.image.imread(io.BytesIO(data), format="png")
    return pixels[..., 0] if pixels.ndim == 3 else pixels


def digits(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 28, 28, 1)) > 0.6).astype("float32")


@pytest.fixture(scope="module")
def vae2():
    return models.make_vae("mlp", latent_dim=2, hidden=16, seed=0)


def test_latent_explorer_shows_the_decoder_at_the_slider_point(vae2):
    explorer = widgets.LatentExplorer(vae2, x=digits(), labels=np.arange(8), scale=2)
    explorer.z1.value, explorer.z2.value = 1.25, -0.7
    expected = widgets.decode_latents(vae2, [[1.25, -0.7]])[0]
    np.testing.assert_array_equal(explorer.z, np.float32([1.25, -0.7]))
    np.testing.assert_allclose(explorer.image_array, expected, atol=1e-6)
    shown = png_grey(explorer.image.value)[::2, ::2]  # the PNG on display, scale 2
    assert shown.shape == (28, 28)
    np.testing.assert_allclose(shown, expected, atol=1 / 255 + 1e-6)
    # the decoder's own output, computed independently
    from keras import ops
    direct = ops.convert_to_numpy(vae2.to_images(vae2.decode(np.float32([[1.25, -0.7]]))))[0, ..., 0]
    np.testing.assert_allclose(explorer.image_array, direct, atol=1e-6)
    assert explorer.map.value[:4] == b"\x89PNG"  # the latent map with its marker
    assert repr(explorer) == "LatentExplorer(z1=1.25, z2=-0.70)"


def test_latent_explorer_needs_a_two_dimensional_latent_space():
    vae3 = models.make_vae("mlp", latent_dim=3, hidden=8, seed=0)
    with pytest.raises(ValueError, match="two-dimensional latent space; this model has latent_dim=3"):
        widgets.LatentExplorer(vae3)
    with pytest.raises(ValueError, match="two-dimensional"):
        widgets.latent_explorer_html(vae3)


def test_interpolation_endpoints_reproduce_the_two_encoded_digits(vae2):
    x = digits(2, seed=1)
    z_a, z_b = widgets.encode_means(vae2, x)
    recon = vae2.reconstruct(x)[..., 0]  # decoded encoder means
    for method in ("linear", "slerp"):
        inter = widgets.Interpolation(vae2, z_a, z_b, method=method)
        np.testing.assert_allclose(inter.image_array, recon[0], atol=1e-5)
        inter.t.value = 1.0
        np.testing.assert_allclose(inter.image_array, recon[1], atol=1e-5)
        inter.t.value = 0.5
        np.testing.assert_allclose(inter.z, widgets.interpolate(z_a, z_b, 0.5, method)[0], atol=1e-6)
        assert inter.path.value[:4] == b"\x89PNG"  # 2-D latent: the path is drawn


def test_interpolation_between_gan_noise_vectors():
    gan = models.make_gan("mlp", latent_dim=8, hidden=16, seed=0)
    rng = np.random.default_rng(0)
    z_a, z_b = rng.standard_normal((2, 8)).astype("float32")
    inter = widgets.Interpolation(gan, z_a, z_b, method="slerp")
    inter.t.value = 0.3
    from keras import ops
    z = widgets.interpolate(z_a, z_b, 0.3, "slerp")
    direct = ops.convert_to_numpy(gan.generator(z, training=False))[0, ..., 0]
    np.testing.assert_allclose(inter.image_array, direct, atol=1e-6)
    assert len(inter.children) == 1  # no path figure for an 8-D latent space


def test_interpolate_linear_and_slerp():
    a, b = np.float32([3.0, 0.0]), np.float32([0.0, 1.0])
    lin = widgets.interpolate(a, b, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(lin, [[3, 0], [1.5, 0.5], [0, 1]])
    sl = widgets.interpolate(a, b, np.linspace(0, 1, 11), "slerp")
    np.testing.assert_allclose(sl[[0, -1]], [a, b], atol=1e-6)
    # slerp: the norm goes linearly from 3 to 1, the direction along the quarter circle
    np.testing.assert_allclose(np.linalg.norm(sl, axis=1), np.linspace(3, 1, 11), atol=1e-5)
    np.testing.assert_allclose(np.arctan2(sl[:, 1], sl[:, 0]), np.linspace(0, np.pi / 2, 11), atol=1e-5)
    with pytest.raises(ValueError, match="'linear' or 'slerp'"):
        widgets.interpolate(a, b, 0.5, "spline")
    with pytest.raises(ValueError, match="differ in shape"):
        widgets.interpolate(a, np.zeros(3), 0.5)


def test_kernel_free_html_is_self_contained_deterministic_and_right(vae2):
    html = widgets.latent_explorer_html(vae2, n=5, extent=2.0).data
    assert html == widgets.latent_explorer_html(vae2, n=5, extent=2.0).data  # same weights, same bytes
    assert len(re.findall(r'<input type="range"', html)) == 2
    # nothing is fetched: every src/href is inline data, and no URL appears at all
    assert not re.search(r"https?://", html)
    assert all(v.startswith("data:") for v in re.findall(r'src\s*=\s*"([^"]*)"', html))
    sprite = png_grey(base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html).group(1)))
    assert sprite.shape == (5 * 28, 5 * 28)
    values = np.linspace(-2, 2, 5)
    # row r of the sprite is z2 = values[::-1][r], column c is z1 = values[c]
    for r, c in [(0, 0), (4, 1), (2, 3)]:
        expected = widgets.decode_latents(vae2, [[values[c], values[::-1][r]]])[0]
        tile = sprite[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28]
        np.testing.assert_allclose(tile, expected, atol=1 / 255 + 1e-6)
    # a different model gives a different page element (the id is a hash of the content)
    other = models.make_vae("mlp", latent_dim=2, hidden=16, seed=1)
    uid = re.search(r'id="(gvx-[0-9a-f]+)"', html).group(1)
    assert uid not in widgets.latent_explorer_html(other, n=5, extent=2.0).data


def test_interpolation_html_has_one_slider_over_t(vae2):
    z_a, z_b = widgets.encode_means(vae2, digits(2))
    html = widgets.interpolation_html(vae2, z_a, z_b, method="slerp", n=7).data
    assert len(re.findall(r'<input type="range"', html)) == 1 and 'max="6"' in html
    sprite = png_grey(base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1)))
    assert sprite.shape == (28, 7 * 28)
    np.testing.assert_allclose(sprite[:, :28], vae2.reconstruct(digits(2))[0, ..., 0], atol=1 / 255 + 1e-5)
