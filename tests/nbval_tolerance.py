"""A pytest plugin around nbval: exact where the stored run was made, measured tolerances elsewhere.

nbval re-runs every notebook and compares each cell's new outputs with the stored ones as text.
On the machine that made the stored outputs (same fingerprint, ``tests/machine.py``) that is what
happens here too: every output is compared exactly. On another machine the notebook is checked in
*tolerant mode*: the numbers that ``tests/tolerances.toml`` names in a cell (a training run's losses,
scores, FIDs, ...) may differ from the stored ones by the tolerance declared there, which comes from a
measured spread; every other character of every output (text, shapes, counts, other numbers) is
still compared exactly by nbval itself.

How: before nbval's own ``compare_outputs`` runs, each number that a rule governs and that lies
within its tolerance is written back into the new output as the stored text; a number outside its
tolerance is left as it came, so nbval reports the cell, and this plugin adds a line saying which
number, by how much, and the tolerance. Nothing else is changed: no notebook runner of our own.

Use: ``pytest --nbval -p nbval_tolerance ...`` with ``tests`` on ``sys.path`` (the Makefile does it).
Options: ``--nbval-tolerances FILE`` (default ``tests/tolerances.toml``), ``--nbval-mode
{auto,exact,tolerant}`` (``auto``: by fingerprint). The terminal summary says, per notebook, which
mode it was checked in and why.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

import machine

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TOLERANCES = REPO / "tests" / "tolerances.toml"

# A decimal number as printed by Python/NumPy: optional sign, thousands separators, fraction, exponent.
NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Rule:
    """Numbers of a cell's text output that may move by ``abs + rel * |stored|`` in tolerant mode.

    Exactly one of: ``after``, the first number after each occurrence of this literal text (only
    spaces, ':' or '=' between them); ``rest_of_line``, every number after each occurrence of this
    literal text, up to the end of its line; ``column``, the column-th number (from 1) of every line,
    for tables. ``scope``: if given, only the text after the first occurrence of this literal counts
    (e.g. a model's lines, not the real images' lines printed above them in the same format);
    ``until``: if given, only the text before the next occurrence of this literal counts.
    """

    after: str | None = None
    rest_of_line: str | None = None
    column: int | None = None
    abs: float = 0.0
    rel: float = 0.0
    scope: str | None = None
    until: str | None = None

    def __post_init__(self):
        if sum(k is not None for k in (self.after, self.rest_of_line, self.column)) != 1:
            raise ValueError("a rule names exactly one of 'after', 'rest_of_line' and 'column'")
        if self.column is not None and self.column < 1:
            raise ValueError("columns count from 1")
        if self.abs < 0 or self.rel < 0 or (self.abs == 0 and self.rel == 0):
            raise ValueError(f"a rule needs a positive tolerance: {self}")

    @property
    def label(self) -> str:
        if self.column is not None:
            return f"column {self.column}" + (f" after {self.scope!r}" if self.scope else "")
        return self.after if self.after is not None else self.rest_of_line

    def spans(self, text: str):
        """(start, end) of the stretches of ``text`` whose numbers this rule governs."""
        begin = 0
        if self.scope is not None:
            begin = text.find(self.scope)
            if begin < 0:
                return
            begin += len(self.scope)
        if self.until is not None:
            end = text.find(self.until, begin)
            text = text if end < 0 else text[:end]
        if self.column is not None:
            line_start = begin
            for line in text[begin:].split("\n"):
                numbers = list(NUMBER.finditer(line))
                if len(numbers) >= self.column:
                    m = numbers[self.column - 1]
                    yield line_start + m.start(), line_start + m.end()
                line_start += len(line) + 1
            return
        for m in re.compile(re.escape(self.label)).finditer(text, begin):
            start = m.end()
            if self.after is not None:
                number = NUMBER.search(text, start)
                if number and re.fullmatch(r"[\s:=]*", text[start:number.start()]):
                    yield number.start(), number.end()
            else:
                end = text.find("\n", start)
                yield start, len(text) if end < 0 else end

    def allows(self, stored: float, new: float) -> bool:
        return abs(new - stored) <= self.abs + self.rel * abs(stored) + 1e-12


@dataclass
class CellTolerance:
    """The rules of one code cell, found by a piece of source that only that cell contains."""

    notebook: str
    cell: str
    why: str
    rules: list[Rule] = field(default_factory=list)
    compare_html: bool = True  # False: a text/html output (pictures of a run) is not compared


def load_tolerances(path: Path = DEFAULT_TOLERANCES) -> list[CellTolerance]:
    """The declarations of ``tolerances.toml``; a malformed one raises ValueError."""
    data = tomllib.loads(Path(path).read_text())
    out = []
    for entry in data.get("cell", []):
        unknown = set(entry) - {"notebook", "cell", "why", "number", "compare_html"}
        if unknown or not {"notebook", "cell", "why"} <= set(entry):
            raise ValueError(f"{path}: a [[cell]] needs notebook, cell, why and [[cell.number]] "
                             f"rules (or compare_html = false); got {sorted(entry)}")
        rules = [Rule(**r) for r in entry.get("number", [])]
        compare_html = bool(entry.get("compare_html", True))
        if not rules and compare_html:
            raise ValueError(f"{path}: {entry['notebook']} cell {entry['cell']!r} has no rules")
        out.append(CellTolerance(entry["notebook"], entry["cell"], entry["why"], rules,
                                 compare_html))
    return out


def rules_by_cell(tolerances: list[CellTolerance], notebook: Path) -> dict[int, CellTolerance]:
    """{index among code cells: declaration} for one notebook; each anchor must match one cell."""
    nb = nbformat.read(str(notebook), as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    found = {}
    for t in tolerances:
        if t.notebook != notebook.name:
            continue
        hits = [i for i, s in enumerate(sources) if t.cell in s]
        if len(hits) != 1:
            raise ValueError(f"tolerances.toml: {t.notebook}: {t.cell!r} is in {len(hits)} code "
                             "cells, it must name exactly one")
        found[hits[0]] = t
    return found


def _tokens(text: str) -> tuple[list[str], list[re.Match]]:
    """The text split at its numbers: pieces (len n+1) and the n number matches."""
    numbers = list(NUMBER.finditer(text))
    cuts = [0] + [p for m in numbers for p in (m.start(), m.end())] + [len(text)]
    return [text[cuts[i]:cuts[i + 1]] for i in range(0, len(cuts), 2)], numbers


def reconcile(stored: str, new: str, rules: list[Rule]) -> tuple[str, list[str]]:
    """``new`` with every governed number that lies within its tolerance written as in ``stored``.

    Returns the reconciled text and one note per governed number that lies outside its tolerance.
    When the two texts do not hold the same sequence of numbers, ``new`` is returned unchanged
    (nbval then reports the difference in the text itself).
    """
    s_pieces, s_nums = _tokens(stored)
    n_pieces, n_nums = _tokens(new)
    if len(s_nums) != len(n_nums):
        return new, []
    governed = {}  # index of a stored number -> rule
    for rule in rules:
        for start, end in rule.spans(stored):
            for i, m in enumerate(s_nums):
                if start <= m.start() and m.end() <= end:
                    governed.setdefault(i, rule)
    notes = []
    pieces, numbers = list(n_pieces), [m.group() for m in n_nums]
    for i, rule in sorted(governed.items()):
        a, b = s_nums[i].group(), n_nums[i].group()
        if a == b:
            continue
        x, y = float(a.replace(",", "")), float(b.replace(",", ""))
        if math.isfinite(x) and math.isfinite(y) and rule.allows(x, y):
            numbers[i] = a
            # the padding around a number may change with its width ("  9.80" vs " 10.10",
            # NumPy's "[0.201 0.177]" vs "[0.199 0.18 ]")
            if pieces[i].rstrip(" ") == s_pieces[i].rstrip(" "):
                pieces[i] = s_pieces[i]
            if pieces[i + 1].lstrip(" ") == s_pieces[i + 1].lstrip(" "):
                pieces[i + 1] = s_pieces[i + 1]
        else:
            bound = " + ".join(f"{v:g}{'' if k == 'abs' else ' x |stored|'}"
                               for k, v in (("abs", rule.abs), ("rel", rule.rel)) if v)
            notes.append(f"'{rule.label}' {b}: stored {a}, difference {y - x:+.4g}, "
                         f"tolerance +/- {bound}")
    text = "".join(p + n for p, n in zip(pieces, numbers)) + pieces[-1]
    return text, notes


def _text_fields(output) -> list[tuple[object, str]]:
    """(container, key) of the text nbval compares in one output (after coalescing streams)."""
    if output.get("output_type") == "stream":
        return [(output, "text")]
    data = output.get("data") or {}
    return [(data, "text/plain")] if "text/plain" in data else []


def reconcile_outputs(new_outputs, stored_outputs, rules: list[Rule]):
    """Copies of the new outputs with ``reconcile`` applied to each text field; and the notes."""
    new_outputs = copy.deepcopy(new_outputs)
    notes = []
    for new, stored in zip(new_outputs, stored_outputs):
        if (new.get("output_type"), new.get("name")) != (stored.get("output_type"), stored.get("name")):
            continue
        for (container, key), (s_container, s_key) in zip(_text_fields(new), _text_fields(stored)):
            container[key], more = reconcile(s_container[s_key], container[key], rules)
            notes += more
    return new_outputs, notes


# ---------------------------------------------------------------------------------------------
# The plugin


def pytest_addoption(parser):
    group = parser.getgroup("nbval_tolerance", "nbval: exact on the stored run's machine, "
                            "measured tolerances elsewhere")
    group.addoption("--nbval-tolerances", default=str(DEFAULT_TOLERANCES),
                    help="TOML file of per-cell tolerances (default: tests/tolerances.toml)")
    group.addoption("--nbval-mode", default="auto", choices=("auto", "exact", "tolerant"),
                    help="auto: exact where the machine's fingerprint matches the stored run's")


class _Modes:
    """Per notebook: the mode it is checked in, why, and how many cells carry tolerances."""

    def __init__(self, config):
        self.config = config
        self.tolerances = load_tolerances(Path(config.getoption("nbval_tolerances")))
        self.here = machine.fingerprint()
        self.forced = config.getoption("nbval_mode")
        self.cache = {}

    def of(self, path: Path) -> dict:
        path = Path(path).resolve()
        if path not in self.cache:
            nb = nbformat.read(str(path), as_version=4)
            diffs = machine.differences(machine.stored_fingerprint(nb), self.here)
            mode = self.forced if self.forced != "auto" else ("tolerant" if diffs else "exact")
            if self.forced != "auto":
                why = f"--nbval-mode {self.forced}"
            elif diffs:
                why = "another machine than the stored run's: " + "; ".join(diffs[:3]) + (
                    f" (+{len(diffs) - 3} more)" if len(diffs) > 3 else "")
            else:
                why = "same machine fingerprint as the stored run"
            self.cache[path] = {"mode": mode, "why": why, "rules": rules_by_cell(self.tolerances, path)}
        return self.cache[path]


def pytest_configure(config):
    if not (getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)):
        return
    config._nbval_modes = _Modes(config)


def pytest_collection_modifyitems(session, config, items):
    modes = getattr(config, "_nbval_modes", None)
    if modes is None:
        return
    from nbval.plugin import IPyNbCell

    for item in items:
        if not isinstance(item, IPyNbCell):
            continue
        info = modes.of(Path(str(item.fspath)))
        declared = info["rules"].get(item.cell_num)
        if info["mode"] == "tolerant" and declared is not None:
            _make_tolerant(item, declared)


def _make_tolerant(item, declared: CellTolerance):
    original = item.compare_outputs

    def compare_outputs(test, ref, skip_compare=None):
        test, notes = reconcile_outputs(test, ref, declared.rules)
        if not declared.compare_html:
            skip_compare = tuple(skip_compare or item.parent.skip_compare) + ("text/html",)
        ok = original(test, ref, skip_compare)
        if not ok:
            item.comparison_traceback.append(
                "nbval_tolerance: tolerant mode; declared for this cell: " + declared.why)
            item.comparison_traceback.extend("  outside its tolerance: " + n for n in notes)
        return ok

    item.compare_outputs = compare_outputs


def _notebooks_in(config) -> list[Path]:
    paths = []
    for arg in config.args:
        p = Path(str(arg).split("::")[0])
        if p.is_dir():
            paths += sorted(p.rglob("*.ipynb"))
        elif p.suffix == ".ipynb" and p.exists():
            paths.append(p)
    return [p for p in paths if ".ipynb_checkpoints" not in p.parts]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    modes = getattr(config, "_nbval_modes", None)
    if modes is None or getattr(config.option, "nbval_lax", False):
        return
    tr = terminalreporter
    tr.section("nbval: how each notebook was compared")
    tr.write_line(f"this machine: {machine.describe(modes.here)}")
    for path in _notebooks_in(config):
        info = modes.of(path)
        n = len(info["rules"])
        if info["mode"] == "exact":
            what = "exact: every output compared exactly"
        elif n == 0:
            what = "tolerant, but no cell declares tolerances: every output compared exactly"
        else:
            what = (f"tolerant: {n} cell(s) with declared tolerances (tests/tolerances.toml), "
                    "every other output exact")
        tr.write_line(f"{path.name}: {what}; {info['why']}")
