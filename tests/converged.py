"""Chapter 4's converged checkpoints: its pages executed with the full profile, their models exported.

``make converged`` runs ``python tests/converged.py``: each page below is executed top to bottom with
``GVUTIL_PROFILE=full`` (a GPU takes minutes, a 2-core CPU hours), with one cell added after the cell
that trained a model; that cell exports the model with ``gvutil.pretrained.export`` into
``OUT/checkpoints`` (weights, ``RECORD.json``, ``RECORD.md``). The executed pages go to ``OUT``.
The pages themselves carry no export code, and nothing here writes into the package: the shipped
checkpoints change only by ``make install-checkpoints`` (``gvutil.pretrained.install``, which checks
every file against its record first).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]

#: page -> [(the start of the cell that trains the model, the export code run after it)]
EXPORTS = {
    "04_gan_recipe": [
        ("reference = x_test_u8[:2000]",
         'pretrained.export(gan, "mlp_gan", "make_gan", {**RECIPE, "seed": 0}, directory=EXPORT_DIR,\n'
         '                  train_seconds=train_seconds, steps=STEPS, epochs=STEPS / len(data),\n'
         '                  evaluation={"score": round(live["score"], 3), "fid (2,000 vs 2,000)": round(live["fid"], 1)})'),
        ("DCGAN = dict(",
         'pretrained.export(dcgan, "dcgan", "make_gan", {**DCGAN, "seed": 0}, directory=EXPORT_DIR,\n'
         '                  train_seconds=dcgan_seconds, steps=DCGAN_STEPS, epochs=DCGAN_STEPS / len(data),\n'
         '                  evaluation={"score": round(dcgan_live["score"], 3),\n'
         '                              "fid (2,000 vs 2,000)": round(dcgan_live["fid"], 1)})'),
    ],
    "04_vae_code": [
        ("n_eval, k_eval = train.pick(",
         'pretrained.export(vae, "mlp_vae", "make_vae", {"kind": "mlp", "latent_dim": LATENT, "hidden": HIDDEN, "seed": 0},\n'
         '                  directory=EXPORT_DIR, train_seconds=train_seconds, steps=EPOCHS * len(train_data),\n'
         '                  epochs=EPOCHS, evaluation={f"IWAE log p(x), K={k_eval}, first {n_eval:,} test images":\n'
         '                                             round(float(log_px.mean()), 2)})'),
    ],
}


def with_exports(page: str, export_dir: Path) -> nbformat.NotebookNode:
    """The page with an export cell after each cell that trains a model it exports."""
    nb = nbformat.read(REPO / "book" / f"{page}.ipynb", as_version=4)
    for start, code in reversed(EXPORTS.get(page, [])):
        hits = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith(start)]
        if len(hits) != 1:
            raise ValueError(f"{page}: {len(hits)} code cells start with {start!r}; expected one")
        cell = nbformat.v4.new_code_cell(f"from gvutil import pretrained\nEXPORT_DIR = {str(export_dir)!r}\n{code}")
        nb.cells.insert(hits[0] + 1, cell)
    return nb


def run(page: str, out: Path, profile: str = "full", timeout: int | None = None) -> nbformat.NotebookNode:
    """Execute ``page`` with its export cells under ``profile``; write the executed copy into ``out``."""
    from nbclient import NotebookClient

    nb = with_exports(page, out / "checkpoints")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    env = os.environ.get("GVUTIL_PROFILE")
    os.environ["GVUTIL_PROFILE"] = profile  # the kernel inherits the environment
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(REPO / "book")}},
                       extra_arguments=["--IPKernelApp.capture_fd_output=False"]).execute()
    finally:
        if env is None:
            os.environ.pop("GVUTIL_PROFILE")
        else:
            os.environ["GVUTIL_PROFILE"] = env
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / f"{page}.ipynb")
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "_build" / "converged")
    parser.add_argument("--pages", nargs="*", default=["04_gan_recipe", "04_vae_code", "04_gan_code"])
    parser.add_argument("--profile", default="full")
    args = parser.parse_args(argv)
    for page in args.pages:
        print(f"{page}: executing with the {args.profile} profile", flush=True)
        run(page, args.out, args.profile)
    print(f"checkpoints in {args.out / 'checkpoints'}; `make install-checkpoints` ships them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
