"""Every tutorial and the demo run from start to end (quick mode) and write their figures.

Each runs in a fresh Python process, exactly as a student would start it, with
figures going to a temporary folder so the committed ones stay untouched.
"""
import os
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


def test_there_are_eight_tutorials():
    assert len(TUTORIALS) == 8, [t.name for t in TUTORIALS]


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_in_quick_mode_and_writes_its_figures(script, tmp_path):
    run([str(script), "--quick", "--out-dir", str(tmp_path)], cwd=tmp_path)
    number = script.name[:2]
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
