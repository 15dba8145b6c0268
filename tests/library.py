"""Write gvutil's model modules from the chapter cells marked ``#@save`` (d2l's idiom).

Chapter 4 writes the book's GAN and VAE on the page; ``gvutil.models.gan`` and ``gvutil.models.vae``
are those cells, in page order, and nothing else; section 5.2's techniques are ``gvutil.models.stable``, 5.3's
conditional GAN ``gvutil.models.conditional``, 5.4's ``IWAE`` ``gvutil.models.iwae``. ``python tests/library.py``
(``make library``)
rewrites the modules after a page changed; ``python tests/library.py --check`` (run by
``tests/test_library.py``) fails when a module is not what its pages say.

Why generate rather than compare: the classes are written over several cells with prose between
them (``add_to_class``), so a comparison would need the same assembly anyway; generating makes the
page the only place to edit, and the check catches an edit made to the module instead.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
MARK = "#@save"

#: module -> (its docstring, the pages whose marked cells make it, in order)
MODULES = {
    "gvutil/models/gan.py": (
        "The book's GAN: the networks, losses and ``GAN`` class of sections 4.1 and 4.2.",
        ["book/04_gan_code.ipynb", "book/04_gan_recipe.ipynb"]),
    "gvutil/models/vae.py": (
        "The book's VAE: the networks, the ELBO and ``VAE`` class of sections 4.3 and 4.4.",
        ["book/04_vae_code.ipynb", "book/04_vae_latent2d.ipynb"]),
    "gvutil/models/stable.py": (
        "GANs after the article: the averaged generator, WGAN-GP and spectral normalisation of section 5.2.",
        ["book/05_gan_techniques.ipynb"]),
    "gvutil/models/conditional.py": (
        "A conditional GAN: the networks and ``ConditionalGAN`` class of section 5.3.",
        ["book/05_cgan.ipynb"]),
    "gvutil/models/iwae.py": (
        "VAEs after the article: training on the importance-weighted bound, and free bits, of section 5.4.",
        ["book/05_vae_techniques.ipynb"]),
}


def saved_cells(page: Path) -> list[str]:
    """The sources of the page's code cells whose first line is ``#@save``, without that line."""
    nb = nbformat.read(page, as_version=4)
    out = []
    for cell in nb.cells:
        first, _, rest = cell.source.partition("\n")
        if cell.cell_type == "code" and first.strip() == MARK:
            out.append(rest.strip("\n"))
    return out


def module_text(module: str) -> str:
    doc, pages = MODULES[module]
    cells = [src for page in pages for src in saved_cells(REPO / page)]
    if not cells:
        raise ValueError(f"no cell of {pages} is marked {MARK}")
    names = " and ".join(Path(p).stem for p in pages)
    header = f'"""{doc}\nWritten by ``make library`` from the ``{MARK}`` cells of {names}; edit those.\n"""\n\n'
    return header + "\n\n\n".join(cells) + "\n"


def stale(root: Path = REPO) -> dict[str, tuple[str, str]]:
    """The modules under ``root`` that differ from their pages: module -> (file text, page text)."""
    out = {}
    for module in MODULES:
        path, text = root / module, module_text(module)
        old = path.read_text() if path.exists() else ""
        if old != text:
            out[module] = (old, text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report modules that differ")
    args = parser.parse_args(argv)
    differ = stale()
    for module, (old, text) in differ.items():
        path = REPO / module
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), text.splitlines(True), f"{module} (in the repository)",
                f"{module} (from its pages)", n=1))
        else:
            path.write_text(text)
            print(f"wrote {module}")
    if args.check and differ:
        print(f"\n{', '.join(differ)}: not what the pages say; run `make library`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
