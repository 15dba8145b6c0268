"""What the widgets share: PNG encoding, the ipywidgets import, and the kernel-free sprite player."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# --------------------------------------------------------------------------- PNG helpers
def _png(pixels: np.ndarray) -> bytes:
    """A grey-scale image in [0, 1] as an 8-bit grey PNG (Pillow, which matplotlib depends on).
    No metadata: the same pixels give the same bytes."""
    from PIL import Image

    grey = np.round(np.clip(np.asarray(pixels, dtype="float64"), 0.0, 1.0) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buf, format="png", optimize=True)
    return buf.getvalue()


def _upscale(image: np.ndarray, scale: int) -> np.ndarray:
    return np.kron(image, np.ones((scale, scale), dtype=image.dtype))


def _figure_png(draw, size=(3.2, 3.0)) -> bytes:
    """Render ``draw(ax)`` into PNG bytes without pyplot (nothing is shown in the notebook)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw(ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------- ipywidgets
def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as e:  # pragma: no cover - the book's environment has it
        raise ImportError("the explorers need ipywidgets>=8: pip install 'gvutil[widgets]'") from e
    return ipywidgets


# --------------------------------------------------------------------------- kernel-free HTML
# One player for every kernel-free widget: precomputed tiles in one PNG sprite, one range input per
# control; the inputs' positions, read as digits of a mixed-radix number, give the setting's index;
# ``spec.tiles`` (if present) maps it to a tile of the sprite, ``spec.results`` to a line of text.
_PLAYER = """<div class="gvutil-explorer{css}" id="{uid}" style="display:flex;gap:1.2em;align-items:center;flex-wrap:wrap">
<canvas width="{size}" height="{size}" role="img" aria-label="{label}" style="image-rendering:pixelated;border:1px solid #888"></canvas>
<div style="display:flex;flex-direction:column;gap:0.4em;font-family:monospace">{controls}{below}</div>
<script>(function () {{
  var root = document.getElementById("{uid}");
  var canvas = root.querySelector("canvas"), ctx = canvas.getContext("2d");
  var inputs = root.querySelectorAll("input[type=range]"), outs = root.querySelectorAll("output");
  var result = root.querySelector(".gvutil-dial-result");
  var spec = {spec};
  var sprite = new Image();
  function draw() {{
    var index = 0;
    for (var k = 0; k < inputs.length; k++) {{
      var v = Number(inputs[k].value);
      outs[k].textContent = spec.labels[k][v];
      index = index * spec.labels[k].length + v;
    }}
    var tile = spec.tiles ? spec.tiles[index] : index;
    var col = tile % spec.cols, row = Math.floor(tile / spec.cols);
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(sprite, col * spec.tile, row * spec.tile, spec.tile, spec.tile, 0, 0, canvas.width, canvas.height);
    if (result) result.textContent = spec.results[index];
  }}
  sprite.onload = draw;
  for (var k = 0; k < inputs.length; k++) inputs[k].addEventListener("input", draw);
  sprite.src = "data:image/png;base64,{sprite}";
}})();</script>
</div>"""

_CONTROL = ('<label>{name} <input type="range" min="0" max="{last}" step="1" value="{start}" '
            'aria-label="{name}"> <output>{value}</output></label>')


def sprite_player_html(png: bytes, tile: int, cols: int, controls: Sequence[tuple[str, Sequence[str], int]],
                       label: str, size: int, *, tiles: Iterable[int] | None = None,
                       results: Iterable[str] | None = None, below: str = "", css: str = "") -> str:
    """The HTML of a kernel-free widget (a string; wrap it in ``IPython.display.HTML``).

    Args:
        png: the sprite, tiles of ``tile`` x ``tile`` pixels, ``cols`` per row.
        controls: one ``(name, labels, start)`` per range input: the text shown for each of its
            positions, and the position it starts at.
        label: the canvas' accessible name; ``size``: its width and height in CSS pixels.
        tiles: the sprite tile of each setting index (default: the index itself).
        results: one line of text per setting index, shown below the controls.
        below: HTML placed under the controls; ``css``: extra classes of the root element.

    The element id hashes the sprite and the spec, so the HTML is a deterministic function of
    its content and two widgets on one page never share an id.
    """
    spec = {"tile": int(tile), "cols": int(cols), "labels": [list(labels) for _, labels, _ in controls]}
    if tiles is not None:
        spec["tiles"] = [int(t) for t in tiles]
    if results is not None:
        spec["results"] = list(results)
    uid = "gvx-" + hashlib.sha256(png + json.dumps(spec).encode()).hexdigest()[:12]
    inputs = "\n".join(_CONTROL.format(name=name, last=len(labels) - 1, start=start, value=labels[start])
                       for name, labels, start in controls)
    return _PLAYER.format(css=css, uid=uid, size=int(size), label=label, controls=inputs, below=below,
                          spec=json.dumps(spec), sprite=base64.b64encode(png).decode("ascii"))
