"""nbval's check on another machine (tests/nbval_tolerance.py, tests/machine.py, tests/tolerances.toml).

First the pieces against exact answers (which numbers a rule governs, what is written back, what is
reported), then the declarations against the book's stored outputs, then the whole scheme end to end:
nbval with the plugin on a notebook that trains a small model, run on this machine, shows that an
output perturbed within its tolerance passes in tolerant mode and fails in exact mode, and that a
broken change (learning rate x10, the gradient's sign flipped) fails in tolerant mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

import machine
from nbval_tolerance import (DEFAULT_TOLERANCES, Rule, load_tolerances, reconcile,
                             reconcile_outputs, rules_by_cell)

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"


# --------------------------------------------------------------------------------------------
# Rules and reconciliation
# --------------------------------------------------------------------------------------------


def test_within_tolerance_is_written_back_as_stored():
    rules = [Rule(after="score", abs=0.5), Rule(after="FID", rel=0.1)]
    stored = "this run  score  7.63   FID   49.2   digits: 10\n"
    new = "this run  score  7.41   FID   52.9   digits: 10\n"
    assert reconcile(stored, new, rules) == (stored, [])


def test_outside_tolerance_is_left_and_reported():
    rules = [Rule(after="score", abs=0.5), Rule(after="FID", rel=0.1)]
    stored = "score  7.63   FID   49.2\n"
    text, notes = reconcile(stored, "score  7.01   FID   49.9\n", rules)
    assert text == "score  7.01   FID   49.2\n" != stored  # FID written back, the score left
    assert len(notes) == 1 and "'score' 7.01: stored 7.63, difference -0.62" in notes[0]


def test_numbers_no_rule_names_stay_exact():
    rules = [Rule(after="loss", abs=1.0)]
    stored = "epoch 3/3  loss 1.25  digits 10\n"
    text, notes = reconcile(stored, "epoch 3/3  loss 1.30  digits 9\n", rules)
    assert text == "epoch 3/3  loss 1.25  digits 9\n" != stored and notes == []
    # the count of epochs is text to the rule: another count is not reconciled
    assert reconcile(stored, "epoch 2/3  loss 1.25  digits 10\n", rules)[0] != stored


def test_other_text_or_another_count_of_numbers_is_left_unchanged():
    rules = [Rule(after="loss", abs=1.0)]
    assert reconcile("loss 1.25\n", "loss 1.30 2\n", rules) == ("loss 1.30 2\n", [])
    assert reconcile("loss 1.25\n", "LOSS 1.30\n", rules)[0] != "loss 1.25\n"  # text: nbval flags it


def test_rest_of_line_governs_that_line_only():
    rules = [Rule(rest_of_line="shares of 0..9:", abs=0.02)]
    stored = "shares of 0..9: 0.08 0.13 0.07\nsteps 5,000\n"
    assert reconcile(stored, "shares of 0..9: 0.09 0.12 0.08\nsteps 5,000\n", rules)[0] == stored
    # '0..9' in the label is not a governed number; the next line is not governed
    assert reconcile(stored, "shares of 0..9: 0.09 0.12 0.08\nsteps 5,001\n", rules)[0] != stored


def test_scope_limits_a_rule_to_what_follows_its_text():
    rules = [Rule(after="score", abs=0.5, scope="this run"), Rule(rest_of_line="shares:", abs=0.1,
                                                                  scope="this run")]
    stored = "real  score 9.85\n  shares: 0.10 0.10\nthis run  score 7.63\n  shares: 0.08 0.13\n"
    moved = "real  score 9.85\n  shares: 0.10 0.10\nthis run  score 7.41\n  shares: 0.12 0.10\n"
    assert reconcile(stored, moved, rules)[0] == stored
    real_moved = moved.replace("real  score 9.85", "real  score 9.80")
    assert reconcile(stored, real_moved, rules)[0] == stored.replace("9.85", "9.80")  # not governed
    assert list(Rule(after="score", abs=1, scope="absent").spans(stored)) == []
    first_only = Rule(after="score", abs=1, until="this run")
    assert [stored[a:b] for a, b in first_only.spans(stored)] == ["9.85"]


def test_column_governs_one_column_of_a_table():
    rules = [Rule(column=2, abs=0.05, scope="epoch  d_loss")]
    stored = "epoch  d_loss  modes\n    1   1.179      1\n    2   1.271      0\n"
    assert reconcile(stored, "epoch  d_loss  modes\n    1   1.200      1\n    2   1.250      0\n",
                     rules)[0] == stored
    assert reconcile(stored, "epoch  d_loss  modes\n    1   1.179      2\n    2   1.271      0\n",
                     rules)[0] != stored  # column 3 is not governed


def test_numpy_padding_after_a_shorter_number_is_reconciled():
    rules = [Rule(rest_of_line="data:", abs=0.005)]
    assert reconcile("data: [0.201 0.177]", "data: [0.199 0.18 ]", rules)[0] == "data: [0.201 0.177]"


def test_padding_that_follows_a_number_width_is_reconciled():
    rules = [Rule(after="FID", abs=2.0)]
    assert reconcile("FID  99.5 |", "FID 100.9 |", rules)[0] == "FID  99.5 |"


def test_thousands_separators_signs_and_exponents():
    rules = [Rule(after="elbo", abs=0.05), Rule(after="a", rel=1e-6)]
    assert reconcile("elbo -1,135.664", "elbo -1,135.629", rules)[0] == "elbo -1,135.664"
    assert reconcile("a 1.5e-03", "a 1.5000001e-03", rules)[0] == "a 1.5e-03"
    assert reconcile("a 1.5e-03", "a 1.6e-03", rules)[1]  # reported


def test_nan_is_never_within_tolerance():
    # 'nan' is not a number token: the token counts differ and the text is left for nbval to flag
    assert reconcile("loss 1.25", "loss nan", [Rule(after="loss", abs=1e9)])[0] == "loss nan"


@pytest.mark.parametrize("kwargs", [dict(after="x"), dict(after="x", rest_of_line="y", abs=1),
                                    dict(abs=1), dict(after="x", abs=-1), dict(column=0, abs=1),
                                    dict(column=2, after="x", abs=1)])
def test_a_rule_needs_one_label_and_a_positive_tolerance(kwargs):
    with pytest.raises(ValueError):
        Rule(**kwargs)


def test_outputs_reconciled_per_stream_and_text_plain():
    v4 = nbformat.v4
    stored = [v4.new_output("stream", name="stdout", text="loss 1.25\n"),
              v4.new_output("execute_result", data={"text/plain": "loss 2.5"}, execution_count=1)]
    new = [v4.new_output("stream", name="stdout", text="loss 1.27\n"),
           v4.new_output("execute_result", data={"text/plain": "loss 2.52"}, execution_count=1)]
    out, notes = reconcile_outputs(new, stored, [Rule(after="loss", abs=0.05)])
    assert out[0].text == "loss 1.25\n" and out[1].data["text/plain"] == "loss 2.5" and not notes
    assert new[0].text == "loss 1.27\n"  # the outputs passed in are not modified


# --------------------------------------------------------------------------------------------
# Machine fingerprints
# --------------------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_settings_that_change_kernels_change_it():
    env = {k: v for k, v in os.environ.items() if k not in machine.ENV_VARS}
    here = machine.fingerprint(env)
    assert machine.differences(here, machine.fingerprint(env)) == []
    for var, value in [("ONEDNN_MAX_CPU_ISA", "AVX2"), ("TF_ENABLE_ONEDNN_OPTS", "0"),
                       ("XLA_FLAGS", "--xla_cpu_max_isa=AVX2")]:
        diffs = machine.differences(here, machine.fingerprint({**env, var: value}))
        assert diffs == [f"env.{var}: stored unset, here {value}"]
    other_cpu = {**here, "cpu": {**here["cpu"], "vendor": "AuthenticAMD", "model_name": "AMD EPYC"}}
    assert len(machine.differences(other_cpu, here)) == 2
    assert machine.differences(None, here) == ["no machine recorded for the stored run"]


# --------------------------------------------------------------------------------------------
# The book's declarations
# --------------------------------------------------------------------------------------------


def test_every_declaration_names_one_cell_and_governs_a_stored_number():
    tolerances = load_tolerances(DEFAULT_TOLERANCES)
    assert tolerances, "tests/tolerances.toml declares nothing"
    for name in sorted({t.notebook for t in tolerances}):
        path = BOOK / name
        assert path.exists(), f"tolerances.toml names {name}, which is not in book/"
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        for index, declared in rules_by_cell(tolerances, path).items():
            assert len(declared.why) > 40, f"{name} {declared.cell!r}: say what was measured"
            text = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                           for o in cells[index].outputs)
            for rule in declared.rules:
                governed = [text[a:b] for a, b in rule.spans(text)]
                assert any(any(ch.isdigit() for ch in g) for g in governed), (
                    f"{name} {declared.cell!r}: rule {rule.label!r} governs no number of the "
                    "stored output (stale declaration)")


def test_a_declaration_naming_no_cell_or_two_cells_is_an_error(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text('[[cell]]\nnotebook = "preface.ipynb"\ncell = "print("\nwhy = "x"\n'
                    '[[cell.number]]\nafter = "a"\nabs = 1\n')
    with pytest.raises(ValueError, match="code cells, it must name exactly one"):
        rules_by_cell(load_tolerances(toml), BOOK / "preface.ipynb")
    toml.write_text(toml.read_text().replace("print(", "no such source"))
    with pytest.raises(ValueError, match="in 0 code cells"):
        rules_by_cell(load_tolerances(toml), BOOK / "preface.ipynb")


# --------------------------------------------------------------------------------------------
# End to end: nbval with the plugin, on a notebook that trains
# --------------------------------------------------------------------------------------------

TRAIN = """\
import gvutil
import numpy as np
import keras

gvutil.seed_everything(0)
LEARNING_RATE = {lr}
x = np.random.default_rng(0).normal(size=(512, 8)).astype("float32")
y = np.tanh(x @ np.linspace(-1, 1, 8, dtype="float32"))[:, None]
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="tanh"),
                          keras.layers.Dense(1)])
model.compile(keras.optimizers.Adam(LEARNING_RATE), "mse")
history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
print(f"final loss {{history.history['loss'][-1]:.4f}}  epochs {{len(history.history['loss'])}}")
"""
# The tolerance the end-to-end notebooks declare: 0.002 on a loss near 0.01 (a toy: what matters
# here is that the scheme tells a rerun from a broken change, not the size of the number).
TOY_TOML = """\
[[cell]]
notebook = "{name}"
cell = "history = model.fit"
why = "toy notebook of tests/test_nbval_tolerance.py: the final loss may move by 0.002"
[[cell.number]]
after = "final loss"
abs = 0.002
"""


def _notebook(source: str, stored_text: str, fp: dict):
    v4 = nbformat.v4
    nb = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                  "language": "python"},
                                   machine.METADATA_KEY: {"machine": fp}})
    nb.cells = [v4.new_code_cell(source, execution_count=1, outputs=[
        v4.new_output("stream", name="stdout", text=stored_text)])]
    return nb


@pytest.mark.slow
def test_nbval_tolerates_a_rerun_and_catches_a_broken_change(tmp_path):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("nbval checks the book on TensorFlow (make nbval); once is enough")
    # the stored run: this machine's own output of the correct notebook
    from nbclient import NotebookClient

    good = TRAIN.format(lr=0.01)
    run = _notebook(good, "", {})
    NotebookClient(run, kernel_name="python3", timeout=300).execute()
    stored = run.cells[0].outputs[0].text
    loss = float(stored.split()[2])
    assert stored == f"final loss {loss:.4f}  epochs 15\n"

    here = machine.fingerprint()
    elsewhere = {**here, "cpu": {**here["cpu"], "model_name": "another CPU"}}
    within = stored.replace(f"{loss:.4f}", f"{loss + 0.0015:.4f}")  # as if made on another machine
    cases = {  # name: (source, stored output, machine recorded, expected)
        "perturbed_within_tolerance": (good, within, elsewhere, "passed"),
        "perturbed_exact_mode": (good, within, here, "failed"),
        "learning_rate_x10": (TRAIN.format(lr=0.1), stored, elsewhere, "failed"),
        "gradient_sign_flipped": (TRAIN.format(lr=-0.01), stored, elsewhere, "failed"),
    }
    toml = tmp_path / "tolerances.toml"
    toml.write_text("\n".join(TOY_TOML.format(name=f"{name}.ipynb") for name in cases))
    for name, (source, text, fp, _) in cases.items():
        nbformat.write(_notebook(source, text, fp), tmp_path / f"{name}.ipynb")

    report = tmp_path / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "nbval_tolerance",
         "--nbval", "--nbval-current-env", "--nbval-tolerances", str(toml),
         "--junitxml", str(report), "-rA", "-o", "addopts=", *(f"{n}.ipynb" for n in cases)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    results = {}
    for case in ET.parse(report).iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        results[Path(case.get("file") or case.get("classname")).stem.split(".")[-1]] = (
            "failed" if failed else "passed")
    assert results == {name: expected for name, (*_, expected) in cases.items()}, proc.stdout[-4000:]
    # the summary says how each notebook was compared, and why
    assert "perturbed_exact_mode.ipynb: exact: every output compared exactly; same machine" in proc.stdout
    assert ("perturbed_within_tolerance.ipynb: tolerant: 1 cell(s) with declared tolerances"
            in proc.stdout)
    assert "another machine than the stored run's: cpu.model_name: stored another CPU" in proc.stdout
    # a broken change is reported with the number, the difference and the tolerance
    assert "outside its tolerance: 'final loss'" in proc.stdout
