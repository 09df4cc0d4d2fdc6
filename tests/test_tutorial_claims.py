"""What the tutorials, their figures and the README claim, checked against the numbers behind them.

The slow tests run a tutorial's quick mode in this process (runpy) to read the
arrays and the matplotlib artists it drew; the fast ones read the text.
"""
import hashlib
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"


def tutorial(prefix: str) -> Path:
    (path,) = TUTORIALS.glob(f"{prefix}_*.py")
    return path


def run_quick(prefix, out_dir, monkeypatch) -> dict:
    """Run a tutorial's quick mode in this process; return its global variables."""
    monkeypatch.setattr(sys, "argv", [str(tutorial(prefix)), "--quick", "--out-dir", str(out_dir)])
    return runpy.run_path(str(tutorial(prefix)), run_name="__main__")


# ---------------------------------------------------------------- text


def test_readme_step_8_back_propagates_into_the_parameters_the_table_and_the_code_name():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    step_8 = " ".join(readme.split("\n8. ", 1)[1].split("\n\n", 1)[0].split())
    row_8 = next(line for line in readme.splitlines() if line.startswith("| 8 |"))
    assert "into mu and rho" in step_8 and "into mu and rho" in row_8, (step_8, row_8)


def test_readme_names_the_lecture_it_follows():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r'lecture on variational inference: "Variational inference",\s+a blog post in Korean', readme)


NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5}


def test_tutorial_03_says_as_many_ways_as_its_table_has_columns():
    text = tutorial("03").read_text(encoding="utf-8")
    header = re.search(r'header = f"(.*)"', text).group(1)
    columns = header.count("|")          # "gradient | explicit | ... | finite diff": one bar per method
    claims = re.findall(r"\b(two|three|four|five)\s+(?:independent\s+)?(?:ways|computations)", text)
    assert claims and all(NUMBER_WORDS[word] == columns for word in claims), (claims, columns)
    independent = re.findall(r"\((two|three|four|five) of them independent\)|(two|three|four|five) of them independent",
                             text)
    assert independent and all(NUMBER_WORDS[a or b] == columns - 1 for a, b in independent), independent


# ---------------------------------------------------------------- figures and the data behind them


@pytest.mark.slow
def test_01_predictive_mc_draws_the_relative_error_which_is_the_same_for_every_dimension(tmp_path, monkeypatch):
    g = run_quick("01", tmp_path, monkeypatch)
    ax = g["ax"]                                     # the last figure's axes: 01_predictive_mc.png
    assert "whatever the dimension" in ax.get_title() and "sd_p[f]" in ax.get_ylabel()
    measured = [line for line in ax.get_lines() if "(measured" in line.get_label()]
    assert len(measured) == len(g["mc_dims"]) >= 3
    S = g["sample_counts"]
    for line, d in zip(measured, g["mc_dims"]):
        np.testing.assert_array_equal(line.get_ydata(), g["rms_error"][d] / g["spread_of_f"][d])
        # What the title claims: relative to sd_p[f], the error is 1/√S for every D. With 100 repeats the
        # RMS is known to about ±10% (1/√(2·100) = 7%, times ~1.4 for the correlated running means).
        ratio = line.get_ydata() * np.sqrt(S)
        assert np.all(np.abs(ratio - 1.0) < 0.3), (d, ratio)
    spreads = [g["spread_of_f"][d] for d in g["mc_dims"]]
    assert max(spreads) > 5 * min(spreads)           # the absolute errors differ with D; the relative ones do not


@pytest.mark.slow
def test_02_uses_the_same_two_weight_data_as_tutorial_01(tmp_path, monkeypatch):
    first = run_quick("01", tmp_path / "01", monkeypatch)
    second = run_quick("02", tmp_path / "02", monkeypatch)
    np.testing.assert_array_equal(second["Phi"], first["Phi_2d"])
    np.testing.assert_array_equal(second["y"], first["y_2d"])
    np.testing.assert_allclose(second["post_mean"], first["post_mean_2d"], rtol=1e-14)


@pytest.mark.slow
def test_04_legend_calls_minus_log_sigma_minus_the_entropy_and_the_kl_factor_tempers_q(tmp_path, monkeypatch,
                                                                                          capsys):
    g = run_quick("04", tmp_path, monkeypatch)
    (line,) = [ln for ln in g["ax_slice"].get_lines() if "entropy" in ln.get_label()]
    assert "−entropy" in line.get_label(), line.get_label()
    sigma = line.get_xdata()
    entropy = 0.5 * np.log(2 * np.pi * np.e * sigma ** 2)          # of N(mu, sigma²)
    np.testing.assert_allclose(line.get_ydata(), -entropy + 0.5 * np.log(2 * np.pi * np.e), rtol=0, atol=1e-12)

    # Item 11: the grid minimiser of c·KL + E_q[NLL] is the posterior of the likelihood^(1/c), and c = 2 is wider.
    printed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("c = ")]
    assert len(printed) == 2, printed
    numbers = [[float(v) for v in re.findall(r"N\((-?[\d.]+), ([\d.]+)²\)", ln) for v in v] for ln in printed]
    for grid_mu, grid_sigma, exact_mu, exact_sigma in numbers:
        assert abs(grid_mu - exact_mu) <= 0.0015 and abs(grid_sigma - exact_sigma) <= 0.0015, numbers
    (c1_mu, c1_sigma, *_), (c2_mu, c2_sigma, *_) = numbers
    assert c2_sigma > 1.2 * c1_sigma and c1_mu != c2_mu


@pytest.mark.slow
def test_06_most_uncertain_digits_have_a_legend_for_the_bar_colours(tmp_path, monkeypatch):
    g = run_quick("06", tmp_path, monkeypatch)
    axes = g["axes"]                                   # the last figure: 06_digits_most_uncertain.png
    legend = axes[1, 0].get_legend()
    assert legend is not None
    labels = {text.get_text(): handle.get_facecolor() for text, handle in zip(legend.get_texts(), legend.legend_handles)}
    assert "true class" in labels
    bars = axes[1, 0].patches
    i = g["most_uncertain"][0]
    true_bar = bars[int(g["y_test"][i])]
    np.testing.assert_allclose(true_bar.get_facecolor(), labels["true class"])
    assert sum(np.allclose(b.get_facecolor(), labels["true class"]) for b in bars) == 1


# ---------------------------------------------------------------- reproducibility


def _figure_hashes(out_dir: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out_dir.glob("*.png"))}


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["01", "04"])
def test_two_runs_draw_bit_identical_figures(prefix, tmp_path):
    """Same seed, same bytes: every figure but 01_grid_cost.png (its right panel is wall-clock time).

    The two runs differ in what a student's two runs may differ in: the hash seed of Python's sets and
    dicts, and the number of BLAS threads.
    """
    hashes = []
    for run, threads in enumerate(("1", "2")):
        out = tmp_path / str(run)
        env = {**os.environ, "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": threads, "PYTHONHASHSEED": str(run),
               "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, str(tutorial(prefix)), "--quick", "--out-dir", str(out)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        hashes.append({name: h for name, h in _figure_hashes(out).items() if name != "01_grid_cost.png"})
    assert hashes[0] and hashes[0] == hashes[1]


@pytest.mark.slow
def test_09_part_3_uses_tutorial_08_s_two_cluster_data(tmp_path, monkeypatch):
    """Tutorial 09 says its part 3 is tutorial 08's network on the same data, draw for draw."""
    first = run_quick("08", tmp_path / "08", monkeypatch)
    ninth = run_quick("09", tmp_path / "09", monkeypatch)
    np.testing.assert_array_equal(ninth["x_net"], first["x_net"])
    np.testing.assert_array_equal(ninth["y_net"], first["y_net"])
    assert ninth["D_NET"] == first["D"] == 151
