"""The README cannot rot: its example runs, and every name in its map of the derivation exists."""
import importlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_readme_example_runs(tmp_path):
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "model.npz").exists()


def test_every_test_the_map_names_exists():
    named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", README)
    assert len(named) >= 8
    for file, test in named:
        assert f"def {test}(" in (ROOT / "tests" / file).read_text(), f"{file}::{test} is in README but not in tests/"


def test_every_function_the_map_names_exists():
    named = [(m, n) for m, n in re.findall(r"`(exact|predict|gaussian|bayes|likelihoods|elbo|train|optim|laplace|dropout)\.(\w+)`", README)
             if n != "py"]  # `gaussian.py` is a file name
    assert len(named) >= 8
    for module, name in named:
        assert hasattr(importlib.import_module(f"minivi.{module}"), name), f"{module}.{name} is in README, not in minivi"


def test_every_figure_the_readme_shows_exists():
    for name in re.findall(r"figures/(\w+\.png)", README):
        assert (ROOT / "figures" / name).exists(), name
