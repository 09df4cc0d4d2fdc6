"""Every tutorial and the demo run from start to end (quick mode) and write their figures.

Each runs in a fresh Python process, exactly as a student would start it, with
figures going to a temporary folder so the committed ones stay untouched.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))


def run(args, cwd):
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"})
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


NUMBER = r"(-?\d+(?:\.\d+)?)"


def assert_printed_sums_add_up(stdout, pattern, last_digit):
    """Every line matching `pattern` (total, part, part) adds up to within the rounding of what is printed."""
    sums = [tuple(float(v) for v in m.groups()) for m in re.finditer(pattern, stdout)]
    assert sums, f"no line matches {pattern!r}:\n{stdout[-3000:]}"
    for total, a, b in sums:   # three numbers each rounded to half a last digit
        assert abs(total - (a + b)) <= 1.5 * last_digit + 1e-9, (total, a, b)


def check_05_output(stdout):
    """Tutorial 05 labels its two NLLs, and its printed loss is the sum of the two parts it prints."""
    assert re.search(r"^at the mean weights w = mu: gaussian_nll = ", stdout, re.M), stdout
    assert re.search(r"^at one sample w = mu \+ sigma \* eps: loss = KL \+ NLL = ", stdout, re.M), stdout
    one_sample = re.search(rf"loss = KL \+ NLL = {NUMBER} \+ {NUMBER} = {NUMBER}", stdout)
    kl, nll, total = (float(v) for v in one_sample.groups())
    assert abs(total - (kl + nll)) <= 0.015, one_sample.group(0)
    assert_printed_sums_add_up(stdout, rf"BBB loss {NUMBER} = KL part {NUMBER} \+ NLL {NUMBER}", last_digit=0.1)


STDOUT_CHECKS = {"05": check_05_output}


def test_there_are_eight_tutorials():
    assert len(TUTORIALS) == 8, [t.name for t in TUTORIALS]


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_in_quick_mode_and_writes_its_figures(script, tmp_path):
    stdout = run([str(script), "--quick", "--out-dir", str(tmp_path)], cwd=tmp_path)
    number = script.name[:2]
    if number in STDOUT_CHECKS:
        STDOUT_CHECKS[number](stdout)
    made = sorted(p.name for p in tmp_path.glob("*.png"))
    assert made, f"{script.name} wrote no figure"
    assert all(name.startswith(number + "_") for name in made), made
    committed = {p.name for p in (ROOT / "figures").glob(number + "_*.png")}
    assert set(made) == committed, f"quick run drew {made}, figures/ holds {sorted(committed)}"


def test_demo_runs_and_prints_its_summary(tmp_path):
    out = tmp_path / "demo.png"
    stdout = run(["-m", "minivi", "--epochs", "30", "--seed", "3", "--out", str(out)], cwd=ROOT)
    assert out.stat().st_size > 10_000
    for line in ("test RMSE", "epistemic std on the data", "epistemic std off the data", "KL[q || p]"):
        assert line in stdout
    # fit's progress lines: the loss is the KL part plus the NLL, as printed (4 decimals)
    assert_printed_sums_add_up(stdout, rf"loss +{NUMBER} = KL part +{NUMBER} \+ NLL +{NUMBER}", last_digit=1e-4)
