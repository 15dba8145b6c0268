"""Every exercise solution whose text holds a code block has that code executed in CI.

A solution is a ``:::{admonition} Solution N`` block in a notebook's markdown. Its fenced ``python``
blocks are executed in one of two places:

* in a code cell of the same notebook tagged ``solution`` (hidden on the site with ``hide-cell``),
  which nbval re-runs on every change and whose stored outputs the solution's text quotes; or
* here, at reduced size (a few hundred images, one epoch), for solutions that train a model for
  minutes: ``REDUCED`` maps them to a check of what the code is meant to produce.

A code block in neither place fails ``test_every_solution_code_block_is_executed``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "book").glob("*.ipynb"))
SOLUTION = re.compile(r"^:::\{admonition\} Solution (\d+)\n(.*?)^:::$", re.S | re.M)
FENCE = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def _normal(code: str) -> str:
    """The code without comments, blank lines and trailing spaces: what is compared."""
    lines = (re.sub(r"\s+#.*$", "", line).rstrip() for line in code.splitlines())
    return "\n".join(line for line in lines if line and not line.lstrip().startswith("#"))


def solution_blocks(nb) -> list[tuple[int, str]]:
    """(solution number, code) for every fenced python block inside a solution of ``nb``."""
    blocks = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for sol in SOLUTION.finditer(cell.source):
            blocks += [(int(sol.group(1)), code.group(1)) for code in FENCE.finditer(sol.group(2))]
    return blocks


def executed_solution_cells(nb) -> list[str]:
    """Sources of the code cells tagged ``solution`` that carry a stored run."""
    return [_normal(c.source) for c in nb.cells
            if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])
            and c.execution_count is not None]


# --------------------------------------------------------------------------- reduced-size runs
def _vae_namespace(mnist):
    """What chapter 4.3 has defined by its exercises, at reduced size: 512 images, one epoch."""
    import keras

    import gvutil
    from gvutil import data, metrics, models, train

    (x_train, _), _ = mnist
    x_small = x_train[:512]
    return dict(gvutil=gvutil, keras=keras, np=np, data=data, metrics=metrics, models=models,
                train=train, x_train=x_small, EPOCHS=1,
                train_data=train.dataset(data.binarize(data.to_float_images(x_small), seed=0),
                                         batch_size=128, seed=0))


def _check_vae_solution_1(ns):
    wide = ns["wide"]
    widths = [layer.units for layer in wide.encoder.layers if hasattr(layer, "units")]
    assert widths[:2] == [1024, 1024], widths
    assert int(wide.optimizer.iterations) == len(ns["train_data"]), "the wide VAE did not train"


def _check_vae_solution_3(ns):
    static = ns["static"]
    batches = [np.asarray(b[0] if isinstance(b, tuple) else b) for b in static]
    pixels = np.unique(np.concatenate([b.ravel() for b in batches]))
    assert set(pixels.tolist()) <= {0.0, 1.0}, "static binarisation must give binary pixels"
    again = [np.asarray(b[0] if isinstance(b, tuple) else b) for b in static]
    assert sum(len(b) for b in batches) == sum(len(b) for b in again)
    # The bits do not change between epochs: the same image has the same bits in both passes.
    first = np.sort(np.concatenate(batches).reshape(len(np.concatenate(batches)), -1), axis=0)
    second = np.sort(np.concatenate(again).reshape(len(np.concatenate(again)), -1), axis=0)
    np.testing.assert_array_equal(first, second)


REDUCED = {
    ("04_vae_code.ipynb", 1): (_vae_namespace, _check_vae_solution_1),
    ("04_vae_code.ipynb", 3): (_vae_namespace, _check_vae_solution_3),
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_solution_code_block_is_executed(path):
    nb = nbformat.read(path, as_version=4)
    cells = executed_solution_cells(nb)
    for number, code in solution_blocks(nb):
        if (path.name, number) in REDUCED:
            continue
        assert any(_normal(code) in cell for cell in cells), (
            f"{path.name}, solution {number}: its code block is run neither by a code cell tagged "
            f"'solution' in the notebook nor at reduced size in tests/test_solutions.py")


@pytest.mark.parametrize("key", sorted(REDUCED), ids=lambda k: f"{k[0]}-solution-{k[1]}")
def test_solution_runs_at_reduced_size(key, mnist):
    name, number = key
    blocks = [code for n, code in solution_blocks(nbformat.read(REPO / "book" / name, as_version=4))
              if n == number]
    assert blocks, f"{name} has no code block in solution {number}: drop it from REDUCED"
    make_namespace, check = REDUCED[key]
    ns = make_namespace(mnist)
    for code in blocks:
        exec(compile(code, f"{name}:solution-{number}", "exec"), ns)  # noqa: S102 - the book's own code
    check(ns)


def test_the_check_finds_an_unexecuted_block():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(":::{admonition} Solution 1\n:class: dropdown\n```python\n"
                                      "x = 1 + 1\n```\nText.\n:::"),
        nbformat.v4.new_code_cell("y = 2", metadata={"tags": ["solution"]}, execution_count=1),
    ])
    assert solution_blocks(nb) == [(1, "x = 1 + 1\n")]
    assert not any(_normal("x = 1 + 1\n") in cell for cell in executed_solution_cells(nb))
    nb.cells[1].source = "# Solution 1, run\nx = 1 + 1  # two\nprint(x)"
    assert any(_normal("x = 1 + 1\n") in cell for cell in executed_solution_cells(nb))
    nb.cells[1].execution_count = None  # a cell that never ran does not count
    assert not executed_solution_cells(nb)
