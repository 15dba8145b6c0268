"""How far do the book's printed numbers move when only the last bits of the arithmetic change?

Executes notebooks under settings that make this machine compute like another CPU (other kernels,
other instruction sets, another order of additions), then lists, cell by cell, every number that
differs from the stored run, with the difference. These measurements are where the tolerances of
``tests/tolerances.toml`` come from (nbval's tolerant mode, ``tests/nbval_tolerance.py``).

    python benchmarks/last_bits.py run avx2 [book/x.ipynb ...]   # executes into _build/last_bits/avx2/
    python benchmarks/last_bits.py compare _build/last_bits/avx2 [--json out.json]

Settings (each changes only which kernels compute, never the code or the seeds):

* ``avx2``: ``ONEDNN_MAX_CPU_ISA=AVX2`` and ``XLA_FLAGS=--xla_cpu_max_isa=AVX2``: oneDNN's and XLA's
  CPU code as on a processor without AVX-512 (most laptops, many CI runners).
* ``noonednn``: ``TF_ENABLE_ONEDNN_OPTS=0``: TensorFlow's Eigen kernels instead of oneDNN's.
* ``onecpu``: the notebook pinned to one CPU (``taskset -c 0``): one thread, another split of every
  parallel sum.

Each notebook is executed as ``make execute`` does (same nbconvert options), one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbval.plugin import get_sanitize_patterns

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from nbval_tolerance import NUMBER, load_tolerances, rules_by_cell  # noqa: E402

SETTINGS = {
    "avx2": ({"ONEDNN_MAX_CPU_ISA": "AVX2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}, []),
    "noonednn": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, []),
    "onecpu": ({}, ["taskset", "-c", "0"]),
}
# The longest first, as in the Makefile's nbval order.
ORDER = ["04_gan_code", "04_gan_recipe", "05_gan_techniques", "05_cgan", "04_vae_code", "04_vae_latent2d", "02_concepts", "06_faq",
         "05_challenges", "03_math", "01_background", "preface"]


def run(setting: str, notebooks: list[Path], out_dir: Path) -> int:
    """Execute each notebook under ``setting``; the number that failed (their stderr is printed)."""
    env_extra, prefix = SETTINGS[setting]
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **env_extra, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONHASHSEED": "0"}
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    failed = 0
    for nb in notebooks:
        start = time.perf_counter()
        proc = subprocess.run(
            [*prefix, jupyter, "nbconvert", "--to", "notebook", "--execute", "--output-dir",
             str(out_dir), "--ExecutePreprocessor.timeout=1800",
             "--ExecutePreprocessor.kernel_name=python3", "--ExecutePreprocessor.record_timing=False",
             "--ExecutePreprocessor.store_widget_state=False",
             "--ExecutePreprocessor.extra_arguments=--IPKernelApp.capture_fd_output=False", str(nb)],
            env=env, capture_output=True, text=True)
        print(f"{setting}: {nb.name} rc={proc.returncode} {time.perf_counter() - start:.0f} s",
              flush=True)
        if proc.returncode:
            failed += 1
            print(proc.stderr[-2000:], file=sys.stderr)
    return failed


def _texts(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == "stdout":
            out.append(o.get("text", ""))
        elif "text/plain" in (o.get("data") or {}):
            out.append(o["data"]["text/plain"])
    return "".join(out)


def _html(cell) -> list[str]:
    return [o["data"]["text/html"] for o in cell.get("outputs", []) if "text/html" in (o.get("data") or {})]


# The timings nbval masks (tests/nbval_sanitize.cfg), masked the same way here.
SANITIZE = get_sanitize_patterns((REPO / "tests" / "nbval_sanitize.cfg").read_text())


def _sanitize(text: str) -> str:
    for regex, replace in SANITIZE:
        text = re.sub(regex, replace, text)
    return text


def compare(run_dir: Path, book: Path = REPO / "book") -> list[dict]:
    """Per code cell whose text output differs from the stored run: the numbers that differ."""
    tolerances = load_tolerances()
    rows = []
    for executed in sorted(run_dir.glob("*.ipynb")):
        stored_nb = nbformat.read(book / executed.name, as_version=4)
        new_nb = nbformat.read(executed, as_version=4)
        declared = rules_by_cell(tolerances, book / executed.name)
        stored_cells = [c for c in stored_nb.cells if c.cell_type == "code"]
        new_cells = [c for c in new_nb.cells if c.cell_type == "code"]
        for i, (s, n) in enumerate(zip(stored_cells, new_cells)):
            a, b = _sanitize(_texts(s)), _sanitize(_texts(n))
            html = [_html(s), _html(n)]
            if html[0] != html[1]:
                rows.append({"notebook": executed.name, "cell": i, "declared": i in declared,
                             "html_differs": True, "numbers": []})
            if a == b:
                continue
            sa, sb = list(NUMBER.finditer(a)), list(NUMBER.finditer(b))
            row = {"notebook": executed.name, "cell": i, "declared": i in declared,
                   "same_text_apart_from_numbers": NUMBER.sub("#", a) == NUMBER.sub("#", b),
                   "numbers": []}
            if len(sa) == len(sb):
                for x, y in zip(sa, sb):
                    if x.group() != y.group():
                        line_start = a.rfind("\n", 0, x.start()) + 1
                        context = a[line_start:x.start()][-40:]
                        fx, fy = (float(v.group().replace(",", "")) for v in (x, y))
                        row["numbers"].append({"context": context, "stored": x.group(),
                                               "new": y.group(), "diff": fy - fx})
            else:
                row["stored"], row["new"] = a[-1500:], b[-1500:]
            rows.append(row)
    return rows


def rule_report(run_dirs: list[Path], book: Path = REPO / "book") -> list[dict]:
    """Per declared rule: the largest difference measured under the given runs, and its tolerance."""
    out = []
    for t in load_tolerances():
        stored_nb = nbformat.read(book / t.notebook, as_version=4)
        index = [i for i, d in rules_by_cell([t], book / t.notebook).items()][0]
        stored = _sanitize(_texts([c for c in stored_nb.cells if c.cell_type == "code"][index]))
        s_nums = list(NUMBER.finditer(stored))
        for rule in t.rules:
            governed = [i for i, m in enumerate(s_nums)
                        if any(a <= m.start() and m.end() <= b for a, b in rule.spans(stored))]
            worst, worst_rel = 0.0, 0.0
            for run_dir in run_dirs:
                path = run_dir / t.notebook
                if not path.exists():
                    continue
                cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
                new = _sanitize(_texts(cells[index]))
                n_nums = list(NUMBER.finditer(new))
                # a run made before a cell's code changed may print more lines (4.2 dropped a
                # pass/fail line): compare the numbers the two outputs share, in order
                for i in (g for g in governed if g < len(n_nums)):
                    x, y = (float(m.group().replace(",", "")) for m in (s_nums[i], n_nums[i]))
                    worst = max(worst, abs(y - x))
                    worst_rel = max(worst_rel, abs(y - x) / abs(x) if x else 0.0)
            out.append({"notebook": t.notebook, "cell": t.cell, "rule": rule.label,
                        "abs": rule.abs, "rel": rule.rel, "measured_max_abs": worst,
                        "measured_max_rel": worst_rel})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("setting", choices=sorted(SETTINGS))
    r.add_argument("notebooks", nargs="*", type=Path)
    r.add_argument("--out", type=Path, default=None)
    t = sub.add_parser("tolerances", help="per declared rule: the largest difference measured")
    t.add_argument("run_dirs", nargs="+", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("run_dir", type=Path)
    c.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.cmd == "run":
        notebooks = args.notebooks or [REPO / "book" / f"{n}.ipynb" for n in ORDER]
        failed = run(args.setting, notebooks, args.out or REPO / "_build" / "last_bits" / args.setting)
        return 1 if failed else 0
    if args.cmd == "tolerances":
        for r in rule_report(args.run_dirs):
            tol = " + ".join(f"{k} {r[k]:g}" for k in ("abs", "rel") if r[k])
            print(f"{r['notebook']:<22} {r['cell'][:34]!r:<37} {r['rule'][:34]!r:<37} "
                  f"measured {r['measured_max_abs']:<9.4g} (rel {r['measured_max_rel']:.2g})  "
                  f"declared {tol}")
        return 0
    rows = compare(args.run_dir)
    for row in rows:
        if row.get("html_differs"):
            print(f"{row['notebook']} code cell {row['cell']}: its text/html output differs")
            continue
        print(f"{row['notebook']} code cell {row['cell']}"
              f"{' (tolerance declared)' if row['declared'] else ''}"
              f"{'' if row['same_text_apart_from_numbers'] else ': TEXT DIFFERS'}")
        for num in row["numbers"]:
            print(f"    ...{num['context']!r:>44} stored {num['stored']:>12}  new {num['new']:>12}"
                  f"  diff {num['diff']:+.4g}")
        if "stored" in row:
            print("    stored:", row["stored"].replace("\n", "\n            "))
            print("    new:   ", row["new"].replace("\n", "\n            "))
    n = len(list(args.run_dir.glob("*.ipynb")))
    print(f"{n} executed notebook(s) in {args.run_dir}; {len(rows)} code cell(s) print other text "
          "than the stored run")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
