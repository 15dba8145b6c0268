"""Explorers of a trained model's latent space: ipywidgets and their kernel-free HTML versions."""

from __future__ import annotations


from typing import TYPE_CHECKING

import numpy as np

from ._render import _figure_png, _ipywidgets, _png, _upscale, sprite_player_html

if TYPE_CHECKING:
    from typing import Any

    from IPython.display import HTML
    from numpy.typing import ArrayLike

    from gvutil.models import GAN, VAE

# --------------------------------------------------------------------------- model access
def _check_2d(vae) -> None:
    dim = getattr(vae, "latent_dim", None)
    if dim != 2:
        raise ValueError(f"the 2-D latent explorer needs a VAE with a two-dimensional latent space; "
                         f"this model has latent_dim={dim}. Train one with make_vae('conv', "
                         f"latent_dim=2) (section 4.4), or use Interpolation, which works in any dimension.")


def decode_latents(model: GAN | VAE, z: ArrayLike) -> np.ndarray:
    """Images in [0, 1], shape ``(n, h, w)``, that ``model`` makes of the latent vectors ``z``.

    A VAE gives the mean of p(x|z) (``to_images(decode(z))``); a GAN its generator's image.
    """
    from keras import ops

    z = np.asarray(z, dtype="float32")
    if z.ndim == 1:
        z = z[None]
    if hasattr(model, "to_images"):
        images = model.to_images(model.decode(z))
    else:  # a gvutil GAN: its generator's images are in [0, 1] whatever its output layer
        images = model.generator(z, training=False)
    images = np.asarray(ops.convert_to_numpy(images), dtype="float32")
    return np.clip(images.reshape(len(z), *images.shape[1:3]), 0.0, 1.0)


def encode_means(vae: VAE, x: ArrayLike) -> np.ndarray:
    """Means of q(z|x) for images ``x`` (NumPy, ``(n, latent_dim)``)."""
    from keras import ops

    z_mean, _ = vae.encode(ops.convert_to_tensor(np.asarray(x, dtype="float32")))
    return np.asarray(ops.convert_to_numpy(z_mean), dtype="float32")


def interpolate(z_a: ArrayLike, z_b: ArrayLike, t: ArrayLike, method: str = "linear") -> np.ndarray:
    """Points between ``z_a`` (t = 0) and ``z_b`` (t = 1), one row per value of ``t``.

    ``method="linear"``: ``(1 - t) z_a + t z_b``. ``method="slerp"``: along the great circle between the
    two directions, with the norm interpolated linearly; under a standard normal prior, points on
    the straight line near its middle have an atypically small norm, and slerp avoids them.
    """
    z_a, z_b = np.asarray(z_a, dtype="float64").ravel(), np.asarray(z_b, dtype="float64").ravel()
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b differ in shape: {z_a.shape} and {z_b.shape}")
    t = np.atleast_1d(np.asarray(t, dtype="float64"))[:, None]
    if method == "linear":
        return ((1 - t) * z_a + t * z_b).astype("float32")
    if method != "slerp":
        raise ValueError(f"method must be 'linear' or 'slerp'; received {method!r}")
    na, nb = np.linalg.norm(z_a), np.linalg.norm(z_b)
    if na == 0 or nb == 0:
        return ((1 - t) * z_a + t * z_b).astype("float32")
    ua, ub = z_a / na, z_b / nb
    omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
    if omega < 1e-6:
        direction = (1 - t) * ua + t * ub
    else:
        direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).astype("float32")


class LatentExplorer(_ipywidgets().HBox):
    """Two sliders (z1, z2) -> the decoded image, beside the latent map of ``x`` with a marker.

    ``vae`` must have a two-dimensional latent space (otherwise ``ValueError``). ``x`` (optional):
    images whose encoder means are drawn as the map, coloured by ``labels`` if given. Set the
    sliders programmatically with ``explorer.z1.value = ...``; ``explorer.image_array`` is the
    image on display, ``explorer.z`` the point.
    """

    def __init__(self, vae: VAE, x: ArrayLike | None = None, labels: ArrayLike | None = None,
                 extent: float = 3.0, step: float = 0.05, scale: int = 5) -> None:
        _check_2d(vae)
        w = _ipywidgets()
        self.vae, self.scale = vae, int(scale)
        self.points = None if x is None else encode_means(vae, x)
        self.labels = None if labels is None else np.asarray(labels)[:len(self.points)]
        slider = dict(value=0.0, min=-extent, max=extent, step=step, continuous_update=True,
                      readout_format=".2f")
        self.z1 = w.FloatSlider(description="z1", **slider)
        self.z2 = w.FloatSlider(description="z2", **slider)
        self.image = w.Image(format="png", width=28 * self.scale, height=28 * self.scale)
        self.map = w.Image(format="png")
        self.extent = float(extent)
        left = w.VBox([self.z1, self.z2, self.image])
        super().__init__([left, self.map] if self.points is not None else [left])
        self.z1.observe(self._update, "value")
        self.z2.observe(self._update, "value")
        self._update()

    @property
    def z(self) -> np.ndarray:
        return np.array([self.z1.value, self.z2.value], dtype="float32")

    def __repr__(self):  # short and stable: a stored notebook output, compared by nbval
        return f"LatentExplorer(z1={self.z1.value:.2f}, z2={self.z2.value:.2f})"

    def _update(self, change=None):
        self.image_array = decode_latents(self.vae, self.z)[0]
        self.image.value = _png(_upscale(self.image_array, self.scale))
        if self.points is not None:
            self.map.value = _figure_png(self._draw_map)

    def _draw_map(self, ax):
        p, e = self.points, self.extent
        ax.scatter(p[:, 0], p[:, 1], s=2, c=self.labels if self.labels is not None else "0.6",
                   cmap="tab10", vmin=-0.5, vmax=9.5)
        ax.plot(*self.z, marker="+", color="k", ms=14, mew=2)
        ax.set(xlim=(-e, e), ylim=(-e, e), xlabel="$z_1$", ylabel="$z_2$", aspect="equal")


class Interpolation(_ipywidgets().HBox):
    """A slider t in [0, 1] from ``z_a`` to ``z_b`` (linear or slerp) -> the image at t.

    ``model``: a VAE (decoded means) or a GAN (generated images); ``z_a``/``z_b``: latent vectors of
    any dimension, e.g. two test digits' encoder means, or two noise vectors. When the latent space
    is two-dimensional, the path is drawn on the plane with a marker at t.
    """

    def __init__(self, model: GAN | VAE, z_a: ArrayLike, z_b: ArrayLike, method: str = "linear",
                 scale: int = 5, steps: int = 50) -> None:
        w = _ipywidgets()
        self.model, self.method, self.scale = model, method, int(scale)
        self.z_a = np.asarray(z_a, dtype="float32").ravel()
        self.z_b = np.asarray(z_b, dtype="float32").ravel()
        interpolate(self.z_a, self.z_b, 0.0, method)  # checks shapes and method
        self.t = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=1.0 / steps, description="t",
                               continuous_update=True)
        self.image = w.Image(format="png", width=28 * self.scale, height=28 * self.scale)
        self.path = w.Image(format="png")
        children = [w.VBox([self.t, self.image])]
        if self.z_a.size == 2:
            children.append(self.path)
        super().__init__(children)
        self.t.observe(self._update, "value")
        self._update()

    @property
    def z(self) -> np.ndarray:
        return interpolate(self.z_a, self.z_b, self.t.value, self.method)[0]

    def __repr__(self):
        return f"Interpolation(method={self.method!r}, t={self.t.value:.2f})"

    def _update(self, change=None):
        self.image_array = decode_latents(self.model, self.z)[0]
        self.image.value = _png(_upscale(self.image_array, self.scale))
        if self.z_a.size == 2:
            self.path.value = _figure_png(self._draw_path, size=(2.6, 2.6))

    def _draw_path(self, ax):
        line = interpolate(self.z_a, self.z_b, np.linspace(0, 1, 101), self.method)
        ax.plot(line[:, 0], line[:, 1], color="0.5")
        ax.plot(*self.z, marker="o", color="C3")
        ax.set(xlabel="$z_1$", ylabel="$z_2$", aspect="equal")


# --------------------------------------------------------------------------- kernel-free HTML
def _html_explorer(tiles: np.ndarray, axes: list[tuple[str, np.ndarray, int]], label: str,
                   scale: int) -> str:
    """Sprite of ``tiles`` (rows, cols, h, w) with one range input per axis (name, values, start).

    With two axes (z1, z2) the sprite is the map itself: row 0 holds the largest z2, column 0 the
    smallest z1; the player's setting index is ``i1 * len(z2) + i2``.
    """
    rows, cols, h, w = tiles.shape
    sprite = tiles.transpose(0, 2, 1, 3).reshape(rows * h, cols * w)
    controls = [(name, [f"{v:.2f}" for v in values], start) for name, values, start in axes]
    tile_of = None
    if len(axes) == 2:
        tile_of = [(rows - 1 - i2) * cols + i1 for i1 in range(len(axes[0][1])) for i2 in range(len(axes[1][1]))]
    return sprite_player_html(_png(sprite), h, cols, controls, label, h * scale, tiles=tile_of)


def latent_explorer_html(vae: VAE, n: int = 21, extent: float = 3.0, scale: int = 5) -> HTML:
    """The 2-D latent explorer without a kernel: an ``IPython.display.HTML`` output.

    The decoder's images on an ``n`` x ``n`` grid of ``[-extent, extent]^2`` form one PNG sprite in
    the page; two range inputs (z1, z2) pick the grid point, and the canvas shows its image. The
    HTML is a deterministic function of the weights (its element id is a hash of its content).
    """
    from IPython.display import HTML

    _check_2d(vae)
    values = np.linspace(-extent, extent, n)
    zz = np.array([[z1, z2] for z2 in values[::-1] for z1 in values], dtype="float32")
    images = decode_latents(vae, zz)
    tiles = images.reshape(n, n, *images.shape[1:])
    mid = n // 2
    return HTML(_html_explorer(tiles, [("z1", values, mid), ("z2", values, mid)],
                               "digit decoded at the chosen point (z1, z2)", scale))


def interpolation_html(model: GAN | VAE, z_a: ArrayLike, z_b: ArrayLike, method: str = "linear",
                       n: int = 21, scale: int = 5) -> HTML:
    """:class:`Interpolation` without a kernel: ``n`` precomputed images along t in [0, 1]."""
    from IPython.display import HTML

    t = np.linspace(0.0, 1.0, n)
    images = decode_latents(model, interpolate(z_a, z_b, t, method))
    return HTML(_html_explorer(images[None], [("t", t, 0)],
                               f"image at t on the {method} path between two latent vectors", scale))


# --------------------------------------------------------------------------- a conditional GAN
class DigitExplorer(_ipywidgets().HBox):
    """A conditional GAN's two controls: the digit (0-9 buttons) and the noise (a slider t in [0, 1]
    from ``z_a`` to ``z_b``, linear or slerp) -> the image of that digit for that noise. The digit
    changes what is drawn; t changes how (the style the noise carries)."""

    def __init__(self, cgan: Any, z_a: ArrayLike, z_b: ArrayLike, method: str = "slerp",
                 scale: int = 5, steps: int = 50) -> None:
        w = _ipywidgets()
        self.model, self.method, self.scale = cgan, method, int(scale)
        self.z_a = np.asarray(z_a, dtype="float32").ravel()
        self.z_b = np.asarray(z_b, dtype="float32").ravel()
        interpolate(self.z_a, self.z_b, 0.0, method)  # checks shapes and method
        self.digit = w.ToggleButtons(options=list(range(cgan.num_classes)), value=0, description="digit",
                                     style={"button_width": "2.4em"})
        self.t = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=1.0 / steps, description="noise t",
                               continuous_update=True)
        self.image = w.Image(format="png", width=28 * self.scale, height=28 * self.scale)
        super().__init__([w.VBox([self.digit, self.t, self.image])])
        self.digit.observe(self._update, "value")
        self.t.observe(self._update, "value")
        self._update()

    def __repr__(self):
        return f"DigitExplorer(digit={self.digit.value}, t={self.t.value:.2f})"

    def _update(self, change=None):
        z = interpolate(self.z_a, self.z_b, self.t.value, self.method)
        self.image_array = np.asarray(self.model.images_from_latents(z, [self.digit.value]))[0, ..., 0]
        self.image.value = _png(_upscale(self.image_array, self.scale))


def digit_explorer_html(cgan: Any, z_a: ArrayLike, z_b: ArrayLike, method: str = "slerp", n: int = 11,
                        scale: int = 5) -> HTML:
    """:class:`DigitExplorer` without a kernel: the images of every digit at ``n`` points t of the
    noise path, precomputed into one sprite (a row per digit), with a range input for each control."""
    from IPython.display import HTML

    t = np.linspace(0.0, 1.0, n)
    z = interpolate(z_a, z_b, t, method)
    digits = np.arange(cgan.num_classes)
    images = np.asarray(cgan.images_from_latents(np.tile(z, (len(digits), 1)), np.repeat(digits, n)))
    h = images.shape[1]
    sprite = images[..., 0].reshape(len(digits), n, h, h).transpose(0, 2, 1, 3).reshape(len(digits) * h, n * h)
    controls = [("digit", [str(d) for d in digits], 0), ("t", [f"{v:.2f}" for v in t], 0)]
    return HTML(sprite_player_html(_png(sprite), h, n, controls, "the conditional GAN's image of the chosen "
                                   "digit at the chosen point t of the noise path", h * scale))
