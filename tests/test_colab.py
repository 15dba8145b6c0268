"""The Colab path: the setup cell that opens every chapter.

(b) Every notebook in book/ starts with a markdown title cell, then the same setup cell, tagged
    ``hide-cell`` (hidden on the site), installing from _config.yml's repository.url at its
    repository.branch, with ``--no-deps``, only under ``google.colab``.
(a) The cell is run through IPython (so ``%pip`` works as in Colab) in a fresh virtual environment:
    with a stub ``google.colab`` module imported at start-up, as a Colab kernel does, it installs
    gvutil into that environment from ``GVUTIL_SOURCE`` (a copy of this checkout) and nothing else;
    without the stub it installs nothing.

(a) needs a new venv and pip (about half a minute), and does not depend on the Keras backend, so
it runs once: in the TensorFlow pass of `make test`, skipped in the JAX pass.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "book").glob("*.ipynb"))
ROOT_NOTEBOOK = REPO / "book" / "preface.ipynb"

once = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="backend-independent: runs once, in the TensorFlow pass")


def _config() -> dict:
    import yaml

    return yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))


def setup_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    return nb.cells[1] if len(nb.cells) > 1 else None


def canonical_source() -> str:
    return setup_cell(ROOT_NOTEBOOK).source


# --------------------------------------------------------------------------------------------
# (b) the cell in every notebook
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_starts_with_title_and_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert len(nb.cells) >= 2, f"{path.name}: fewer than two cells"
    title, setup = nb.cells[0], nb.cells[1]
    assert title.cell_type == "markdown" and re.match(r"# \S", title.source), (
        f"{path.name}: the first cell must be a markdown title ('# ...')")
    assert setup.cell_type == "code", f"{path.name}: the second cell must be the setup cell"
    assert "hide-cell" in setup.metadata.get("tags", []), (
        f"{path.name}: the setup cell must be tagged hide-cell")
    assert setup.source == canonical_source(), (
        f"{path.name}: the setup cell differs from the one in {ROOT_NOTEBOOK.name}")


def test_setup_cell_installs_from_the_books_repository_and_branch():
    src = canonical_source()
    cfg = _config()["repository"]
    url, branch = cfg["url"].rstrip("/"), str(cfg.get("branch", "main"))
    sources = re.findall(r"git\+(https://[^\s\"'@]+)@([^\s\"'#]+)", src)
    assert sources == [(url, branch)], (
        f"the setup cell installs from {sources}, _config.yml says {url} at {branch}")
    pip_lines = [line for line in src.splitlines() if re.match(r"\s*[%!]pip\b", line)]
    assert pip_lines, "no %pip line in the setup cell"
    for line in pip_lines:
        assert "--no-deps" in line, f"{line.strip()!r}: must not touch Colab's TensorFlow/Keras"
        assert line.startswith((" ", "\t")), f"{line.strip()!r} runs outside the Colab guard"
    assert re.search(r"if\s+[\"']google\.colab[\"']\s+in\s+sys\.modules", src), (
        "the install must be guarded by `'google.colab' in sys.modules`")
    assert "import gvutil" in src


# --------------------------------------------------------------------------------------------
# (a) the cell run as Colab runs it
# --------------------------------------------------------------------------------------------


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)


def _installed(python: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version "
            "for d in m.distributions()}))")
    out = _run([python, "-c", code], cwd=python.parent)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _source_copy(dest: Path) -> Path:
    """What pip gets from GitHub in Colab: the package's files (here, from this checkout)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "gvutil", dest / "gvutil",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory):
    """A fresh venv with only IPython, a google.colab stub, and an IPython start-up file."""
    root = tmp_path_factory.mktemp("colab")
    venv = root / "venv"
    made = _run([sys.executable, "-m", "venv", venv])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    ipython_version = metadata.version("ipython")
    pip = _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                f"ipython=={ipython_version}"])
    assert pip.returncode == 0, f"could not install IPython into the test venv:\n{pip.stderr}"

    stub = root / "stub" / "google" / "colab"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab module."""\n')
    # Colab's widget manager switch, which ipywidgets 8 needs there; the stub reports the call.
    (stub / "output.py").write_text(
        "def enable_custom_widget_manager():\n    print('WIDGET_MANAGER=enabled')\n")
    startup = root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    # A Colab kernel has google.colab imported before the first cell runs.
    (startup / "00-colab.py").write_text(
        "try:\n    import google.colab\nexcept ImportError:\n    pass\n")
    cell = root / "setup_cell.ipy"
    cell.write_text(
        canonical_source()
        + "\nimport importlib.metadata as _md, json as _json\n"
        + "print('GVUTIL=' + _json.dumps({'file': gvutil.__file__, "
          "'version': _md.version('gvutil')}))\n")
    source = _source_copy(root / "gvutil-src")
    return {"root": root, "venv": venv, "python": python, "stub": root / "stub",
            "ipythondir": root / "ipython", "cell": cell, "source": source}


def _run_cell(env_: dict, colab: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(IPYTHONDIR=str(env_["ipythondir"]), PYTHONNOUSERSITE="1",
               GVUTIL_SOURCE=env_["source"].as_uri(), PIP_DISABLE_PIP_VERSION_CHECK="1")
    if colab:
        env["PYTHONPATH"] = str(env_["stub"])
    ipython = env_["venv"] / "bin" / "ipython"
    # Run from the venv's folder, not the checkout, so that `import gvutil` cannot find the
    # checkout's package through the current directory.
    return _run([ipython, "--no-banner", "--colors=NoColor", env_["cell"]],
                env=env, cwd=env_["root"])


@pytest.mark.slow
@once
def test_setup_cell_outside_colab_installs_nothing(colab_like):
    before = _installed(colab_like["python"])
    out = _run_cell(colab_like, colab=False)
    after = _installed(colab_like["python"])
    assert after == before, f"the cell changed the environment outside Colab: {after} vs {before}"
    # Nothing installed gvutil, so its import is the only thing that fails.
    assert "No module named 'gvutil'" in out.stdout + out.stderr, out.stdout + out.stderr
    assert "WIDGET_MANAGER" not in out.stdout
    assert not re.search(r"^GVUTIL=", out.stdout, re.M)


@pytest.mark.slow
@once
def test_setup_cell_in_colab_installs_only_gvutil(colab_like):
    before = _installed(colab_like["python"])
    assert "gvutil" not in before
    out = _run_cell(colab_like, colab=True)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    result = json.loads(re.search(r"^GVUTIL=(.*)$", out.stdout, re.M).group(1))
    gvutil_file = Path(result["file"]).resolve()
    site = colab_like["venv"].resolve()
    assert gvutil_file.is_relative_to(site) and "site-packages" in gvutil_file.parts, (
        f"gvutil imported from {gvutil_file}, not from the venv's site-packages")
    assert not gvutil_file.is_relative_to(REPO.resolve())
    after = _installed(colab_like["python"])
    added = {k: v for k, v in after.items() if k not in before}
    changed = {k: (before[k], after[k]) for k in before if after.get(k) != before[k]}
    assert re.search(r"^WIDGET_MANAGER=enabled$", out.stdout, re.M), (
        "in Colab the setup cell must enable Colab's custom widget manager (ipywidgets 8)")
    assert added == {"gvutil": result["version"]}, f"the cell installed more than gvutil: {added}"
    assert not changed, f"the cell changed installed packages: {changed}"
    for name in ("keras", "tensorflow", "numpy", "jax", "matplotlib"):
        assert name not in after, f"{name} was installed by the setup cell"
