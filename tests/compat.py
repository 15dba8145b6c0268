"""`make test-compat`: the book on the oldest and the newest versions gvutil claims to support.

For each version set, a throwaway virtual environment (under ``--dir``, default
``/tmp/gvutil-compat``) gets that set of Keras, TensorFlow, JAX, NumPy, Matplotlib, ipywidgets and
tqdm, plus the test tools, and then:

1. **colab** (newest set only): a Colab-shaped run. The venv holds no gvutil; chapter 3 (the
   shortest chapter that trains a network) is executed top to bottom with a stand-in
   ``google.colab`` module importable, so that its setup cell installs gvutil the way Colab does
   (``%pip install --no-deps`` from ``GVUTIL_SOURCE``, here a copy of this checkout). It must run to
   the end, and gvutil must then be installed in the venv, from that copy, with nothing else added.
2. **unit-tf**, **unit-jax**: the unit tests (``tests -m "not browser"``) on both backends.
3. **nbval-lax**: every notebook in ``book/`` executed by nbval in lax mode (numbers may differ
   from the stored outputs; an error may not).

    python tests/compat.py                         # both sets, everything (about 40 minutes, 2 cores)
    python tests/compat.py --sets oldest --steps unit-tf,unit-jax
    python tests/compat.py --print-sets            # the version sets, nothing installed

The oldest set is the floors of ``pyproject.toml`` (with a TensorFlow and a JAX that work with that
Keras); the newest is whatever the package index offers today. A summary with the versions
installed and each step's time goes to ``--dir``/summary.json. Exit status 0 only if every step
of every set passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIBRARIES = ["keras", "tensorflow-cpu", "jax[cpu]", "numpy", "matplotlib", "ipywidgets", "tqdm"]
# The floors of pyproject.toml (keras, numpy, matplotlib, and the extras' ipywidgets, tqdm), with
# the oldest TensorFlow and JAX releases that this Keras supports and that install on Python 3.11.
OLDEST = {"keras": "3.8.0", "tensorflow-cpu": "2.18.1", "jax[cpu]": "0.4.38", "numpy": "1.26.4",
          "matplotlib": "3.7.5", "ipywidgets": "8.0.0", "tqdm": "4.60.0"}
SETS = {"oldest": [f"{name}=={OLDEST[name]}" for name in LIBRARIES], "newest": list(LIBRARIES)}
# What the tests and nbval need besides the libraries (any recent version).
TOOLS = ["pytest", "pytest-xdist", "nbval", "ipykernel", "ipython", "nbformat", "nbclient", "pyyaml",
         "packaging", "pillow", "nbconvert"]
STEPS = ("colab", "unit-tf", "unit-jax", "nbval-lax")
COLAB_CHAPTER = "03_math.ipynb"


def run(cmd, log, env=None, cwd=REPO, timeout=3600) -> tuple[bool, float]:
    """Run ``cmd``, appending its output to ``log``; (passed, seconds)."""
    start = time.perf_counter()
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"\n$ {' '.join(map(str, cmd))}\n")
        f.flush()
        try:
            proc = subprocess.run([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT, env=env,
                                  cwd=cwd, timeout=timeout)
            ok = proc.returncode == 0
        except subprocess.TimeoutExpired:
            f.write(f"\n!! timed out after {timeout} s\n")
            ok = False
    return ok, time.perf_counter() - start


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "KERAS_BACKEND")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", TF_CPP_MIN_LOG_LEVEL="2", PYTHONNOUSERSITE="1")
    env.update(extra)
    return env


def installed(python: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, json; print(json.dumps({d.metadata['Name'].lower()"
            ".replace('_', '-'): d.version for d in m.distributions()}))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def source_copy(dest: Path) -> Path:
    """What pip gets from GitHub in Colab: the package's files, copied from this checkout."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "gvutil", dest / "gvutil", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def colab_run(venv: Path, work: Path, log: Path) -> tuple[bool, float, str]:
    """Execute COLAB_CHAPTER in ``venv`` (no gvutil yet) as Colab would: the setup cell installs it."""
    python = venv / "bin" / "python"
    if "gvutil" in installed(python):
        return False, 0.0, "gvutil is already installed in the venv; the Colab run needs a venv without it"
    stub = work / "stub" / "google" / "colab"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab module."""\n')
    (stub / "output.py").write_text("def enable_custom_widget_manager():\n    pass\n")
    source = source_copy(work / "gvutil-src")
    chapter = work / COLAB_CHAPTER
    shutil.copy2(REPO / "book" / COLAB_CHAPTER, chapter)  # outside the checkout: no gvutil beside it
    before = installed(python)
    # The kernel imports google.colab before the first cell, as a Colab kernel does.
    startup = work / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-colab.py").write_text("import google.colab\n")
    env = clean_env(PYTHONPATH=str(work / "stub"), IPYTHONDIR=str(work / "ipython"),
                    GVUTIL_SOURCE=source.as_uri(), KERAS_BACKEND="tensorflow",
                    GVUTIL_DATA_DIR=os.environ.get("GVUTIL_DATA_DIR", ""))
    ok, seconds = run([python, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                       "--output", chapter.with_suffix(".out.ipynb").name,
                       "--ExecutePreprocessor.timeout=1200", chapter], log, env=env, cwd=work)
    if not ok:
        return False, seconds, f"{COLAB_CHAPTER} did not run to the end (see the log)"
    after = installed(python)
    added = {k: v for k, v in after.items() if k not in before}
    changed = {k: (before[k], after[k]) for k in before if after.get(k) != before[k]}
    if set(added) != {"gvutil"} or changed:
        return False, seconds, f"the setup cell changed more than gvutil: added {added}, changed {changed}"
    return True, seconds, f"{COLAB_CHAPTER} ran to the end; the setup cell installed gvutil {added['gvutil']} only"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="oldest,newest")
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--dir", default=os.environ.get("COMPAT_DIR", "/tmp/gvutil-compat"))
    parser.add_argument("--python", default=sys.executable, help="the interpreter the venvs are made from")
    parser.add_argument("--print-sets", action="store_true")
    args = parser.parse_args(argv)
    if args.print_sets:
        print(json.dumps({"sets": SETS, "tools": TOOLS}, indent=1))
        return 0
    steps = [s for s in args.steps.split(",") if s]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}; the steps are {STEPS}")
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    summary = {"python": args.python, "sets": {}}
    all_ok = True
    for name in args.sets.split(","):
        venv, log = root / name, root / f"{name}.log"
        log.write_text("")
        result = {"steps": {}}
        summary["sets"][name] = result
        if venv.exists():
            shutil.rmtree(venv)
        ok, seconds = run([args.python, "-m", "venv", venv], log)
        python = venv / "bin" / "python"
        ok = ok and run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], log)[0]
        ok2, seconds2 = run([python, "-m", "pip", "install", "--quiet", *SETS[name], *TOOLS], log)
        result["install"] = {"passed": ok and ok2, "seconds": round(seconds + seconds2)}
        if not (ok and ok2):
            print(f"[{name}] install FAILED (log: {log})", flush=True)
            all_ok = False
            continue
        versions = installed(python)
        result["versions"] = {k: versions.get(k.split("[")[0]) for k in LIBRARIES}
        print(f"[{name}] installed in {seconds + seconds2:.0f} s: {result['versions']}", flush=True)
        data_dir = os.environ.get("GVUTIL_DATA_DIR", str(REPO.parent / "shared" / "data"))
        for step in steps:
            if step == "colab":
                if name != "newest":
                    continue
                ok, seconds, message = colab_run(venv, root / "colab", log)
            elif step in ("unit-tf", "unit-jax"):
                backend = "tensorflow" if step == "unit-tf" else "jax"
                env = clean_env(KERAS_BACKEND=backend, GVUTIL_DATA_DIR=data_dir, PYTHONPATH=str(REPO))
                ok, seconds = run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2", "tests",
                                   "-m", "not browser"], log, env=env)
                message = "unit tests passed" if ok else "unit tests failed"
            else:
                env = clean_env(KERAS_BACKEND="tensorflow", GVUTIL_DATA_DIR=data_dir, PYTHONPATH=str(REPO))
                ok, seconds = run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-lax",
                                   "--nbval-current-env", "-n", "2", "--dist", "loadscope",
                                   *sorted((REPO / "book").glob("*.ipynb"))], log, env=env)
                message = "every notebook ran without an error" if ok else "a notebook raised an error"
            result["steps"][step] = {"passed": ok, "seconds": round(seconds), "message": message}
            all_ok = all_ok and ok
            print(f"[{name}] {step}: {'passed' if ok else 'FAILED'} in {seconds:.0f} s: {message}", flush=True)
    (root / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"summary: {root / 'summary.json'}; logs: {root}/<set>.log")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
