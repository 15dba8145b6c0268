"""Hygiene of the committed notebooks in book/: what a reader downloads, what the site shows.

Each notebook must be valid nbformat with the ``python3`` kernelspec, carry the outputs of one
clean top-to-bottom run (execution counts 1..n), no error outputs (unless the cell is tagged
``raises-exception``), no absolute paths of the machine that ran it, record that machine's
fingerprint (``tests/machine.py``: nbval compares exactly only on a machine with the same one), stay
under 3 MB, and hold its figures as modest PNGs whose cells give alt text
(``metadata.mystnb.image.alt``, which myst-nb puts on the page's <img>). The last tests build a
notebook with every flaw and check that each one is caught.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from pathlib import Path

import nbformat
import pytest

import machine

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "book").glob("*.ipynb"))

MAX_NOTEBOOK_BYTES = 3 * 1024 * 1024
MAX_PNG_BYTES = 300 * 1024
MAX_PNG_WIDTH = 1600
MAX_PNG_HEIGHT = 2400
MAX_PNG_DPI = 300
LOCAL_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|home|tmp)/[^\s'\"<>)]*")
# TensorFlow's C++ start-up lines (absl, oneDNN's port.cc, cpu_feature_guard): captured by a plain
# `nbconvert --execute` but not by nbval's re-run, so a stored one fails nbval; `make execute`
# keeps them out (capture_fd_output=False) while oneDNN stays on for speed.
TF_LOG_LINE = re.compile(r"oneDNN custom operations are on|absl::InitializeLog|port\.cc:\d+\]"
                         r"|cpu_feature_guard|^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \w+\.cc:\d+\]",
                         re.MULTILINE)
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex")
# Tags after which a cell's output never reaches the page.
HIDDEN_OUTPUT_TAGS = {"remove-output", "remove_output", "remove-cell", "remove_cell"}


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _png_facts(data: bytes) -> dict:
    """width, height and dots per inch (None without a pHYs chunk) of a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    dpi, pos = None, 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs":
            ppu_x, _, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            if unit == 1:  # pixels per metre
                dpi = round(ppu_x * 0.0254)
            break
        if kind == b"IDAT":
            break
        pos += 12 + length
    return {"width": width, "height": height, "dpi": dpi}


def notebook_problems(path: Path) -> list[str]:
    """Every hygiene problem of one notebook file, one line each."""
    problems = []
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        problems.append(f"file is {size / 2**20:.1f} MB (limit {MAX_NOTEBOOK_BYTES / 2**20:.0f} MB)")
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)
    except Exception as e:  # invalid JSON or schema
        return problems + [f"not a valid notebook: {type(e).__name__}: {str(e)[:200]}"]
    if nb.nbformat != 4:
        problems.append(f"nbformat {nb.nbformat}, expected 4")

    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec name is {kernel!r}, expected 'python3'")

    fp = machine.stored_fingerprint(nb)
    if not fp or not fp.get("cpu", {}).get("model_name") or "versions" not in fp:
        problems.append("no machine recorded for the stored run (metadata.gvutil.machine): "
                        "re-run with `make execute NB=...`, which records it")

    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    counts = [c.get("execution_count") for _, c in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"execution counts are {counts}, expected 1..{len(code)} "
                        "(re-run top to bottom with `make execute NB=...`)")

    for i, cell in code:
        where = f"cell {i}"
        tags = set(cell.metadata.get("tags", []))
        has_image = False
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error" and "raises-exception" not in tags:
                problems.append(f"{where}: error output {out.get('ename')}: "
                                f"{_text(out.get('evalue'))[:100]}")
            texts = []
            if kind == "stream":
                texts.append(_text(out.get("text")))
            elif kind == "error":
                texts.extend(_text(t) for t in out.get("traceback", []))
            for mime, value in (out.get("data") or {}).items():
                if mime in TEXT_MIMES or mime.endswith("json"):
                    texts.append(_text(value) if isinstance(value, (str, list)) else json.dumps(value))
                elif mime.startswith("image/"):
                    has_image = True
                    if mime != "image/png":
                        problems.append(f"{where}: image output {mime}, expected image/png")
                        continue
                    try:
                        data = base64.b64decode(_text(value))
                        facts = _png_facts(data)
                    except Exception as e:
                        problems.append(f"{where}: unreadable PNG ({e})")
                        continue
                    if len(data) > MAX_PNG_BYTES:
                        problems.append(f"{where}: PNG is {len(data) // 1024} KB "
                                        f"(limit {MAX_PNG_BYTES // 1024} KB)")
                    if facts["width"] > MAX_PNG_WIDTH or facts["height"] > MAX_PNG_HEIGHT:
                        problems.append(f"{where}: PNG is {facts['width']}x{facts['height']} px "
                                        f"(limit {MAX_PNG_WIDTH}x{MAX_PNG_HEIGHT})")
                    if facts["dpi"] and facts["dpi"] > MAX_PNG_DPI:
                        problems.append(f"{where}: PNG at {facts['dpi']} dpi (limit {MAX_PNG_DPI})")
            for text in texts:
                for m in LOCAL_PATH.finditer(text):
                    problems.append(f"{where}: absolute local path in output: {m.group(0)[:80]}")
                m = TF_LOG_LINE.search(text)
                if m:
                    problems.append(f"{where}: TensorFlow start-up log line in output ({m.group(0)!r}); "
                                    "re-run with `make execute`")
        if has_image and not tags & HIDDEN_OUTPUT_TAGS:
            alt = (cell.metadata.get("mystnb", {}).get("image", {}) or {}).get("alt", "")
            if not str(alt).strip():
                problems.append(f"{where}: makes a figure but has no alt text "
                                "(cell metadata mystnb.image.alt)")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_hygiene(path):
    problems = notebook_problems(path)
    assert not problems, f"{path.relative_to(REPO)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_header_states_running_time_of_both_profiles(path):
    """Readers plan their time: the first cell says how long the page takes on the CPU profile and
    on the full profile (or that the two are the same)."""
    first = json.loads(path.read_text())["cells"][0]
    text = "".join(first["source"])
    assert first["cell_type"] == "markdown" and ":::{admonition} Running time" in text, path.name
    header = text[text.index(":::{admonition} Running time"):]
    assert "CPU profile" in header and "Full profile" in header, path.name


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks in book/"


# --------------------------------------------------------------------------------------------
# The checks can fail
# --------------------------------------------------------------------------------------------


def _png(width: int, height: int, dpi: int = 100, pad: int = 0) -> str:
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    ppm = round(dpi / 0.0254)
    data = (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
            + chunk(b"IDAT", zlib.compress(raw))
            + (chunk(b"tEXt", b"pad\x00" + bytes(pad)) if pad else b"")
            + chunk(b"IEND", b""))
    return base64.b64encode(data).decode()


def _good_notebook():
    v4 = nbformat.v4
    nb = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                  "language": "python"},
                                   "gvutil": {"machine": machine.fingerprint()}})
    nb.cells = [
        v4.new_markdown_cell("# Title"),
        v4.new_code_cell("print(1)", execution_count=1,
                         outputs=[v4.new_output("stream", name="stdout", text="1\n")]),
        v4.new_code_cell("plot()", execution_count=2, metadata={"mystnb": {"image": {"alt": "A plot"}}},
                         outputs=[v4.new_output("display_data", data={
                             "image/png": _png(640, 480), "text/plain": "<Figure size 640x480>"})]),
        v4.new_code_cell("1/0", execution_count=3, metadata={"tags": ["raises-exception"]},
                         outputs=[v4.new_output("error", ename="ZeroDivisionError",
                                                evalue="division by zero", traceback=[])]),
    ]
    return nb


def _write(tmp_path, nb, name="nb.ipynb") -> Path:
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_good_fixture_passes(tmp_path):
    assert notebook_problems(_write(tmp_path, _good_notebook())) == []


def _flaw(name):
    v4 = nbformat.v4

    def kernel(nb):
        nb.metadata.kernelspec.name = "python3.11-venv"

    def counts(nb):
        nb.cells[2].execution_count = 7

    def unexecuted(nb):
        nb.cells[1].execution_count = None

    def error(nb):
        nb.cells[1].outputs.append(v4.new_output("error", ename="NameError", evalue="x", traceback=[]))

    def path(nb):
        nb.cells[1].outputs[0].text = "saved to /work/main/book/out.png\n"

    def jpeg(nb):
        nb.cells[2].outputs[0].data["image/jpeg"] = nb.cells[2].outputs[0].data.pop("image/png")

    def wide(nb):
        nb.cells[2].outputs[0].data["image/png"] = _png(2000, 100)

    def heavy(nb):
        nb.cells[2].outputs[0].data["image/png"] = _png(64, 64, pad=400 * 1024)

    def dpi(nb):
        nb.cells[2].outputs[0].data["image/png"] = _png(64, 64, dpi=600)

    def no_alt(nb):
        nb.cells[2].metadata = {}

    def tf_log(nb):
        nb.cells[1].outputs.append(v4.new_output("stream", name="stderr", text=(
            "I0000 00:00:1796025490.672373    2155 port.cc:153] oneDNN custom operations are on. "
            "You may see slightly different numerical results due to floating-point round-off errors\n")))

    def no_machine(nb):
        del nb.metadata["gvutil"]

    def big(nb):
        nb.cells[0].source = "x" * (3 * 1024 * 1024 + 10)

    return {k: v for k, v in locals().items() if k != "v4"}[name]


FLAWS = [
    ("kernel", "kernelspec name is 'python3.11-venv'"),
    ("counts", "execution counts are [1, 7, 3]"),
    ("unexecuted", "execution counts are [None, 2, 3]"),
    ("error", "error output NameError"),
    ("path", "absolute local path in output: /work/main/book/out.png"),
    ("jpeg", "image output image/jpeg, expected image/png"),
    ("wide", "PNG is 2000x100 px"),
    ("heavy", "KB (limit 300 KB)"),
    ("dpi", "PNG at 600 dpi"),
    ("no_alt", "makes a figure but has no alt text"),
    ("tf_log", "TensorFlow start-up log line in output"),
    ("no_machine", "no machine recorded for the stored run"),
    ("big", "file is 3.0 MB"),
]


@pytest.mark.parametrize("flaw,expected", FLAWS, ids=[f for f, _ in FLAWS])
def test_broken_fixture_fails(tmp_path, flaw, expected):
    nb = _good_notebook()
    _flaw(flaw)(nb)
    problems = notebook_problems(_write(tmp_path, nb))
    assert any(expected in p for p in problems), problems


def test_invalid_notebook_fails(tmp_path):
    path = tmp_path / "bad.ipynb"
    nb = json.loads(nbformat.writes(_good_notebook()))
    nb["cells"][1]["outputs"][0]["output_type"] = "strem"
    path.write_text(json.dumps(nb))
    assert any("not a valid notebook" in p for p in notebook_problems(path))


# --------------------------------------------------------------------------- one set of VAE conventions
VAE_PAGES = ("04_vae_code.ipynb", "04_vae_latent2d.ipynb", "05_vae_techniques.ipynb")
CONVENTIONS = ":::{admonition} Conventions: what a VAE's \"nats\" mean on MNIST in this book"


def test_every_vae_page_states_the_same_conventions():
    """Issue 23: each VAE page carries the conventions box (sums, nats, binarisation, K), word for word
    the same, so a change to one is a change to all."""
    boxes = {}
    for name in VAE_PAGES:
        cells = [c.source for c in nbformat.read(REPO / "book" / name, as_version=4).cells
                 if c.cell_type == "markdown" and c.source.startswith(CONVENTIONS)]
        assert len(cells) == 1, f"{name}: {len(cells)} conventions boxes"
        boxes[name] = cells[0]
    assert len(set(boxes.values())) == 1, "the conventions boxes differ between " + ", ".join(boxes)
