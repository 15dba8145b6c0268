"""gvutil.widgets: the explorers show what the model makes of the chosen point, and the kernel-free
HTML version is self-contained and deterministic."""

import base64
import io
import json
import re
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from gvutil import models, widgets  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


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


# --------------------------------------------------------------------------- the training dial
def ring_centres():
    from gvutil.data import ring_of_gaussians

    return ring_of_gaussians(10, modes=8, radius=2.0, std=0.05)[1]


def fake_train(g_steps, lr, record_at):
    """A stand-in for chapter 2's ring_gan, instant and deterministic: more generator steps, fewer
    modes; each step a different spread."""
    centres = ring_centres()
    out = {}
    for step in record_at:
        rng = np.random.default_rng([g_steps, round(lr * 1e6), step])
        modes = rng.integers(0, max(1, 9 - 2 * g_steps), 400)
        out[step] = centres[modes] + 0.02 * rng.standard_normal((400, 2))
    return out


def chapter2_ring_gan():
    """``ring_gan`` and the ring of chapter 2, from the notebook's own cells: its imports, the
    function definitions it builds ring_gan from (mlp, the two losses, make_gan_step, train,
    ring_gan) and the cell that makes the ring. Nothing is trained here."""
    import ast
    import linecache

    import nbformat

    import gvutil

    nb = nbformat.read(REPO / "book" / "02_concepts.ipynb", as_version=4)
    cells = {c.get("id"): c.source for c in nb.cells}
    keep = {"c02": (ast.Import, ast.ImportFrom), "c06": (ast.FunctionDef,), "c10": (ast.FunctionDef,),
            "c14": (ast.FunctionDef,), "c21": (ast.Assign,), "c23": (ast.FunctionDef,)}
    ns = {"gvutil": gvutil}
    for cell_id, kinds in keep.items():
        tree = ast.parse(cells[cell_id])
        tree.body = [node for node in tree.body if isinstance(node, kinds)]
        name = f"<02_concepts.ipynb:{cell_id}>"
        # the cell's source where inspect finds it (TensorFlow's AutoGraph reads the step's source)
        linecache.cache[name] = (len(cells[cell_id]), None, cells[cell_id].splitlines(True), name)
        exec(compile(tree, name, "exec"), ns)  # noqa: S102 - the book's own code
    return ns["ring_gan"], ns["centres"], ns["RING_STD"]


def test_training_dial_trains_chapter_2s_gan_on_click_and_repeats_itself():
    """The dial drives the chapter's own ring_gan: pressing train shows a new picture, other settings
    another, and the same settings (in this dial or a new one) exactly the same samples and picture."""
    ring_gan, centres, ring_std = chapter2_ring_gan()
    dial = widgets.TrainingDial(ring_gan, centres, ring_std, steps=(20, 40), start=(1, 3e-3, 20))
    assert dial.coverage is None and dial.samples is None  # nothing trained before the click
    empty = dial.image.value
    dial.button.click()  # what a click in the browser calls
    assert dial.image.value != empty
    assert dial.samples.shape == (2000, 2) and not dial.button.disabled
    first_png, first_samples = dial.image.value, dial.samples.copy()
    # what is shown is the chapter's run with these settings, its picture and its mode coverage
    np.testing.assert_array_equal(first_samples, ring_gan(1, lr=3e-3, record_at=(20,))[20])
    pixels, coverage = widgets.ring_picture(first_samples, centres, ring_std)
    np.testing.assert_array_equal(dial.pixels, pixels)
    np.testing.assert_array_equal(dial.coverage.counts, coverage.counts)
    assert dial.coverage.covered == coverage.covered
    assert str(coverage) in dial.result.value and "after 20 steps" in dial.result.value

    dial.g_steps.value = 5
    dial.button.click()
    assert dial.image.value != first_png
    assert not np.array_equal(dial.samples, first_samples)

    dial.g_steps.value = 1
    dial.button.click()
    assert dial.image.value == first_png
    np.testing.assert_array_equal(dial.samples, first_samples)
    again = widgets.TrainingDial(ring_gan, centres, ring_std, steps=(20, 40), start=(1, 3e-3, 20))
    again.button.click()
    assert again.image.value == first_png
    assert repr(again) == "TrainingDial(g_steps=1, lr=0.003, steps=20)"


def test_training_dial_rejects_bad_settings_naming_them():
    centres = ring_centres()
    dial = widgets.TrainingDial(fake_train, centres, 0.05)
    with pytest.raises(ValueError, match=r"g_steps=7 is not a setting of this dial; generator steps per "
                                         r"discriminator step can be 1, 2, 3, 4, 5"):
        dial.run(g_steps=7)
    with pytest.raises(ValueError, match=r"lr=0.5 is not a setting .* learning rate can be 0.0003, 0.001, "
                                         r"0.003, 0.01"):
        dial.run(lr=0.5)
    with pytest.raises(ValueError, match=r"steps='600' is not a setting .* training steps can be 300, 600"):
        dial.run(steps="600")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['speed'\]; the dial has \['g_steps', 'lr', "
                                         r"'steps'\]"):
        dial.run(speed=2)
    assert dial.samples is None  # nothing was trained by a rejected call
    with pytest.raises(ValueError, match=r"lr=0.5 is not a setting"):
        widgets.TrainingDial(fake_train, centres, 0.05, start=(1, 0.5, 600))
    with pytest.raises(ValueError, match=r"start must be \(g_steps, lr, steps\); received 3"):
        widgets.TrainingDial(fake_train, centres, 0.05, start=3)
    for kwargs, message in [
            ({"steps": (600, 300)}, r"steps \(training steps\) must be one or more positive integers in "
                                    r"increasing order; received \(600, 300\)"),
            ({"g_steps": (0, 1)}, r"g_steps .* positive integers .* received \(0, 1\)"),
            ({"g_steps": (1.5, 2)}, r"received \(1.5, 2\)"),
            ({"learning_rates": ()}, r"lr \(learning rate\) must be one or more positive numbers .* received \(\)"),
            ({"learning_rates": (1e-3, float("nan"))}, r"received \(0.001, nan\)")]:
        with pytest.raises(ValueError, match=message):
            widgets.TrainingDial(fake_train, centres, 0.05, **kwargs)
    with pytest.raises(TypeError, match="train must be a function"):
        widgets.TrainingDial("ring_gan", centres, 0.05)
    # a training function that does not answer as ring_gan does
    bad = widgets.TrainingDial(lambda **kw: np.zeros((5, 2)), centres, 0.05)
    with pytest.raises(ValueError, match=r"must return a dict \{step: samples\}.* it returned ndarray"):
        bad.run()
    bad.button.click()  # ipywidgets reports a handler's exception (logged) instead of raising it
    assert not bad.button.disabled and bad.samples is None
    assert bad.result.value.startswith("training failed: the training function must return a dict")
    with pytest.raises(ValueError, match=r"asked for record_at containing 600 but returned samples at steps \[1\]"):
        widgets.TrainingDial(lambda **kw: {1: np.zeros((5, 2))}, centres, 0.05).run()
    with pytest.raises(ValueError, match=r"shape \(n, 2\); received shape \(5, 3\)"):
        widgets.TrainingDial(lambda **kw: {600: np.zeros((5, 3))}, centres, 0.05).run()


def test_ring_picture_shows_samples_and_which_modes_are_covered():
    centres = ring_centres()
    rng = np.random.default_rng(0)
    samples = centres[3] + 0.01 * rng.standard_normal((300, 2))  # all on mode 3
    pixels, coverage = widgets.ring_picture(samples, centres, 0.05, size=120, extent=3.0)
    assert coverage.covered == 1 and coverage.counts[3] == 300
    scale = 120 / 6.0

    def at(x, y):
        return pixels[int((3.0 - y) * scale), int((x + 3.0) * scale)]

    assert at(*centres[3]) == 4                       # samples drawn over the mode
    assert at(centres[3][0] + 0.12, centres[3][1]) == 3  # its 3-std disk, green: covered
    assert at(*centres[0]) == 0                       # a missed mode: an empty circle ...
    assert at(centres[0][0] + 0.15, centres[0][1]) == 2  # ... with a grey outline at 3 std
    assert at(0.0, 0.0) == 0 and (pixels == 1).sum() > 0  # the ring itself, light grey
    png = widgets.ring_png(pixels, scale=2)
    from PIL import Image
    shown = np.asarray(Image.open(io.BytesIO(png)))
    np.testing.assert_array_equal(shown[::2, ::2], pixels)
    assert png == widgets.ring_png(pixels, scale=2)
    far = np.array([[50.0, 50.0], [np.nan, 0.0]])  # outside the picture, or not a number: not drawn
    pixels_far, cov = widgets.ring_picture(far, centres, 0.05, size=120)
    assert (pixels_far == 4).sum() == 0 and cov.covered == 0


def test_training_dial_html_is_self_contained_deterministic_and_right():
    centres = ring_centres()
    grid = widgets.training_grid(fake_train, centres, 0.05, g_steps=(1, 3), learning_rates=(1e-3, 3e-3),
                                 steps=(100, 200, 300))
    assert grid.coverage[3, 1e-3, 200].covered == 3  # fake_train: 9 - 2 * 3 modes to choose from
    assert "1 G step per D step, lr 0.001" in grid.table() and "3 G steps per D step, lr 0.003" in grid.table()
    html = widgets.training_dial_html(grid, start=(3, 1e-3, 200), size=80).data
    assert html == widgets.training_dial_html(grid, start=(3, 1e-3, 200), size=80).data
    assert 'class="gvutil-explorer gvutil-dial"' in html  # found by the site's explorer test
    ranges = re.findall(r'<input type="range" min="0" max="(\d+)" step="1" value="(\d+)"', html)
    assert ranges == [("1", "1"), ("1", "0"), ("2", "1")]
    assert not re.search(r"https?://", html)
    assert all(v.startswith("data:") for v in re.findall(r'src\s*=\s*"([^"]*)"', html))
    from PIL import Image
    png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html).group(1))
    sprite = np.asarray(Image.open(io.BytesIO(png)))  # palette indices
    assert sprite.shape == (4 * 80, 3 * 80)  # rows: (g_steps, lr) pairs; columns: steps
    spec = json.loads(re.search(r"var spec = (\{.*\});", html).group(1))
    assert spec["labels"] == [["1", "3"], ["0.001", "0.003"], ["100", "200", "300"]]
    for (gi, g), (li, lr), (si, s) in [((0, 1), (0, 1e-3), (0, 100)), ((1, 3), (1, 3e-3), (2, 300)),
                                       ((1, 3), (0, 1e-3), (1, 200))]:
        index = (gi * 2 + li) * 3 + si  # what the page's script computes from the three inputs
        row, col = divmod(index, 3)
        tile = sprite[row * 80:(row + 1) * 80, col * 80:(col + 1) * 80]
        pixels, coverage = widgets.ring_picture(grid.samples[g, lr, s], centres, 0.05, size=80)
        np.testing.assert_array_equal(tile, pixels)
        assert spec["results"][index] == f"after {s} steps: {coverage}"
    other = widgets.training_grid(fake_train, centres, 0.05, g_steps=(1, 2), learning_rates=(1e-3, 3e-3),
                                  steps=(100, 200, 300))
    uid = re.search(r'id="(gvx-[0-9a-f]+)"', html).group(1)
    assert uid not in widgets.training_dial_html(other, size=80).data
    with pytest.raises(ValueError, match=r"g_steps=2 is not a setting of this dial; .* can be 1, 3"):
        widgets.training_dial_html(grid, start=(2, 1e-3, 100))
    with pytest.raises(ValueError, match=r"start must be \(g_steps, lr, steps\); received \(1, 0.001\)"):
        widgets.training_dial_html(grid, start=(1, 1e-3))


def test_kernel_free_explorers_keep_each_page_light():
    """The stored kernel-free explorers of a chapter (the website's only page weight they add) stay
    under 300 kB per page; chapter 2 has the training dial, 4.4 the latent explorer."""
    import nbformat

    weights = {}
    for path in sorted((REPO / "book").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        html = ["".join(o.get("data", {}).get("text/html", "")) for c in nb.cells if c.cell_type == "code"
                for o in c.get("outputs", [])]
        weights[path.name] = sum(len(h.encode()) for h in html if "gvutil-explorer" in h)
    assert weights["02_concepts.ipynb"] > 0 and weights["04_vae_latent2d.ipynb"] > 0, weights
    assert max(weights.values()) < 300_000, weights


# --------------------------------------------------------------------------- the conditional GAN's explorer
def tiny_cgan():
    import keras

    from gvutil.models.conditional import ConditionalGAN, conditional_mlp_generator, projection_discriminator

    keras.utils.set_random_seed(0)
    gan = ConditionalGAN(conditional_mlp_generator(4, (8,)), projection_discriminator((8,)), 4, seed=0)
    gan.compile()
    return gan


def test_digit_explorer_draws_the_chosen_digit_at_the_chosen_noise():
    gan = tiny_cgan()
    z_a, z_b = np.eye(4, dtype="float32")[:2] * 2
    explorer = widgets.DigitExplorer(gan, z_a, z_b, method="linear")
    np.testing.assert_allclose(explorer.image_array, gan.images_from_latents(z_a[None], [0])[0, ..., 0], atol=1e-6)
    explorer.digit.value, explorer.t.value = 7, 1.0
    np.testing.assert_allclose(explorer.image_array, gan.images_from_latents(z_b[None], [7])[0, ..., 0], atol=1e-6)
    assert repr(explorer) == "DigitExplorer(digit=7, t=1.00)"
    with pytest.raises(ValueError):
        widgets.DigitExplorer(gan, z_a, z_b[:3])


def test_digit_explorer_html_has_a_row_per_digit_and_two_controls():
    gan = tiny_cgan()
    z_a, z_b = np.eye(4, dtype="float32")[:2] * 2
    html = widgets.digit_explorer_html(gan, z_a, z_b, method="linear", n=5).data
    assert len(re.findall(r'<input type="range"', html)) == 2 and 'max="9"' in html and 'max="4"' in html
    assert html == widgets.digit_explorer_html(gan, z_a, z_b, method="linear", n=5).data
    sprite = png_grey(base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1)))
    assert sprite.shape == (10 * 28, 5 * 28)
    # row d, column j: digit d at the j-th point of the path (setting index d * n + j, the player's tile)
    np.testing.assert_allclose(sprite[3 * 28:4 * 28, 4 * 28:], gan.images_from_latents(z_b[None], [3])[0, ..., 0],
                               atol=1 / 255 + 1e-5)


# --------------------------------------------------------------------------- section 5.4's sweep explorer
def sweep_runs():
    """Two settings whose pictures differ everywhere: samples all 1 / all 0, KL per dimension given."""
    ones, zeros = np.ones((32, 28, 28), "uint8") * 255, np.zeros((32, 28, 28), "uint8")
    return {"0.5": {"samples": ones, "originals": zeros[:8], "reconstructions": ones[:8],
                    "kl": [2.0, 0.0, 1.0, 0.0], "text": "beta 0.5: 2 active"},
            "4": {"samples": zeros, "originals": ones[:8], "reconstructions": zeros[:8],
                  "kl": [0.5, 0.0, 0.0, 0.0], "text": "beta 4: 1 active"}}


def test_sweep_tile_draws_samples_reconstructions_and_kl_bars_to_one_scale():
    run = sweep_runs()["0.5"]
    tile = widgets.sweep_tile(run, kl_max=2.0)
    assert tile.shape == (224, 224)
    assert (tile[:112] == 1.0).all()  # four rows of white samples
    assert (tile[114:142] == 0.0).all() and (tile[142:170] == 1.0).all()  # originals over reconstructions
    bars = tile[172:220]  # 48 pixels: one bar of 224 / 4 = 56 columns per dimension
    heights = [(bars[:, 56 * i + 10] == 1.0).sum() for i in range(4)]
    assert heights == [46, 0, 23, 0]  # KL 2, 0, 1, 0 nats over kl_max = 2
    with pytest.raises(ValueError, match="missing \\['kl'\\]"):
        widgets.sweep_tile({k: v for k, v in run.items() if k != "kl"}, kl_max=1.0)
    with pytest.raises(ValueError, match="kl_max must be > 0"):
        widgets.sweep_tile(run, kl_max=0.0)


def test_sweep_explorer_shows_the_chosen_setting_and_its_text():
    explorer = widgets.SweepExplorer(sweep_runs(), name="beta")
    assert (explorer.image_array[:112] == 1.0).all() and explorer.text.value == "beta 0.5: 2 active"
    explorer.slider.value = "4"
    assert (explorer.image_array[:112] == 0.0).all() and explorer.text.value == "beta 4: 1 active"
    # one KL scale for the sweep: beta 4's single bar (0.5 of 2 nats) is a quarter of the strip
    assert (explorer.image_array[172:220, 10] == 1.0).sum() == round(0.25 * 46)
    assert repr(explorer) == "SweepExplorer(beta=4)"
    with pytest.raises(ValueError, match="start must be one of"):
        widgets.SweepExplorer(sweep_runs(), start="2")


def test_sweep_explorer_html_has_every_setting_in_one_sprite():
    html = widgets.sweep_explorer_html(sweep_runs(), name="beta").data
    assert len(re.findall(r'<input type="range"', html)) == 1 and 'max="1"' in html
    assert "beta 4: 1 active" in html and html == widgets.sweep_explorer_html(sweep_runs(), name="beta").data
    sprite = png_grey(base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1)))
    assert sprite.shape == (224, 2 * 224)
    assert (sprite[:112, :224] == 1.0).all() and (sprite[:112, 224:] == 0.0).all()
