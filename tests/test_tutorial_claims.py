"""What the tutorials, their figures and the README claim, checked against the numbers behind them.

The prose checks read each tutorial's full run as the site shows it: the notebook that
docs/hooks.py executed for the site (build/docs-notebooks/, keyed on the script and minivi's
source, so it is the run of the code as it is now). After `mkdocs build` they reuse the build's
runs; without one they execute the missing tutorials the same way (all eight in full: minutes).
Every number a tutorial's prose quotes must be printed by that run (tests/prose_numbers.py says
what counts), and each comparison the prose makes is checked against the printed numbers here.

The figure tests run a tutorial's quick mode in this process (runpy) to read the
arrays and the matplotlib artists it drew; the fast ones read the text.
"""
import hashlib
import importlib.util
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import prose_numbers

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


def numbered_headings(prefix: str) -> dict[str, list[int]]:
    """The numbers of a tutorial's "## 3." and "## Part 3." headings, in order, by kind."""
    cells = prose_numbers.markdown_cells(tutorial(prefix).read_text(encoding="utf-8"))
    return {kind: [int(n) for cell in cells for n in re.findall(rf"(?m)^## {word}(\d+)\.", cell)]
            for kind, word in (("section", ""), ("part", "Part "))}


@pytest.mark.parametrize("prefix", [path.name[:2] for path in sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))])
def test_a_tutorials_numbered_sections_count_1_2_3(prefix):
    for kind, numbers in numbered_headings(prefix).items():
        assert numbers == list(range(1, len(numbers) + 1)), (prefix, kind, numbers)


def test_a_section_or_part_another_tutorial_cites_is_there():
    """"tutorial 04, section 4" and "tutorial 08 (part 3)" name headings that exist in that tutorial."""
    cited = []
    for path in sorted(TUTORIALS.glob("[0-9][0-9]_*.py")):
        prose = "\n".join(prose_numbers.markdown_cells(path.read_text(encoding="utf-8")))
        cited += re.findall(r"[Tt]utorial (\d\d),? \(?(section|part) (\d+)", prose)
    assert cited, "no citation found: the pattern above is out of date"
    for prefix, kind, number in cited:
        assert int(number) in numbered_headings(prefix)[kind], (prefix, kind, number)


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


# ---------------------------------------------------------------- the prose against the full run the site shows

# Numbers the prose may quote although the run does not print them, each with its reason. Keep it short:
# a measured number belongs in the output, not here.
NOT_MEASURED = {
    "01": {"10^{301}": "2^1000 ≈ 10^301, arithmetic about the grid's size"},
    "04": {"10^{-6}": "the step h of central differences, minivi.gradcheck's default, a setting"},
    "05": {"0.3": "the amplitudes in the definition of the toy curve f(x) (mv.data.toy_curve_clean)",
           "10": "a prior scale for the reader to try at the end, not a result"},
    "07": {"256": "16 × 16, the entries of the layer the text names"},
    "09": {"80": "a data size for the reader to try in the closing exercise, not a result"},
}


def test_prose_numbers_finds_the_numbers_that_are_claims():
    prose = ("The KL is 0.618 (tutorial 02, steps 4-8, exercises 8 and 9; Neal 2011; Foong et al. (2019)); "
             "see `08_in_between.png` and `x_diag`. It holds 72% of $\\frac{D}{2} + 1.96\\sigma^2$, error "
             "around $10^{-9}$, 1,797 images.\n## 5. A heading\n| 6 | a step row |")
    quoted = {q.text for q in prose_numbers.quoted_numbers(prose)}
    assert quoted == {"0.618", "72%", "1.96", "10^{-9}", "1797"}, quoted


@pytest.mark.parametrize("prose, output, code, missing", [
    ("KL 0.618 and 0.62 and 72%", "KL 0.61811\n72.2% held", "", []),
    ("KL 0.7", "KL 0.61811", "", ["0.7"]),                          # a stale number
    ("KL 0.618", "KL 0.6", "", ["0.618"]),                          # printed with fewer digits than quoted
    ("20 points, lr $10^{-2}$", "", "N = 20\nlr = 1e-2\n", []),     # the code's settings
    ("3.0% below", "relative error -3.0%", "", []),                 # the sign is the prose's words
    ("error around $10^{-9}$", "max error 2.3e-13", "", ["10^{-9}"]),
    ("error around $10^{-13}$", "max error 2.3e-13", "", []),
])
def test_unaccounted_numbers_flags_what_the_run_did_not_print(prose, output, code, missing):
    script = "# %% [markdown]\n" + "".join(f"# {line}\n" for line in prose.splitlines()) + "\n# %%\n" + code
    assert [q.text for q in prose_numbers.unaccounted_numbers(script, output)] == missing


def _docs_hooks():
    for module in ("mkdocs", "jupytext", "nbclient"):
        if importlib.util.find_spec(module) is None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{module} is missing in CI (pip install -e \".[docs]\")")
            pytest.skip(f"{module} is missing: pip install -e \".[docs]\" to check the tutorials' prose")
    spec = importlib.util.spec_from_file_location("minivi_docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


@pytest.fixture(scope="module")
def full_runs():
    """prefix -> (script text, everything its full run printed), from the notebooks the site shows."""
    notebooks = _docs_hooks().executed_notebooks()          # runs only what build/docs-notebooks lacks
    runs = {}
    for script, notebook in notebooks.items():
        data = json.loads(notebook.read_text(encoding="utf-8"))
        assert data["metadata"]["minivi"]["mode"] == "full", notebook
        runs[script.name[:2]] = (script.read_text(encoding="utf-8"), prose_numbers.notebook_output(data))
    return runs


# Warnings a tutorial's full run shows on purpose, each with the reason its prose gives.
SHOWN_ON_PURPOSE = {
    "08": {"ConvergenceWarning": "HMC's R-hat of single weights stays above 1.01 on a network's posterior, "
                                 "as the prose says before the run; the functions' diagnostics are printed"},
}


@pytest.mark.slow
def test_no_tutorial_page_shows_a_warning_its_prose_does_not_explain(full_runs):
    """A warning on a page is a claim the prose must answer: a coarse grid used on purpose silences
    the library's warning where it is used and says why (tutorial 01)."""
    for prefix, (_, output) in sorted(full_runs.items()):
        shown = set(re.findall(r"\b(\w+Warning):", output))
        unexplained = sorted(shown - set(SHOWN_ON_PURPOSE.get(prefix, {})))
        assert not unexplained, f"tutorial {prefix}'s full run shows {unexplained}"


def value_after(output: str, pattern: str) -> float:
    """The number right after the first match of `pattern` in the output."""
    match = re.search(rf"{pattern}\s*([-+]?\d+(?:\.\d+)?)", output, re.M)
    assert match, f"the run printed nothing matching {pattern!r}"
    return float(match.group(1))


def printed(output: str, pattern: str) -> list[float]:
    """The numbers of the first line matching `pattern` (a regular expression), in order."""
    line = re.search(rf"^.*{pattern}.*$", output, re.M)
    assert line, f"the run printed no line matching {pattern!r}"
    return [float(v) for v in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]\d+)?(?![\w])", line.group(0))]


@pytest.mark.slow
@pytest.mark.parametrize("prefix", [f"{i:02d}" for i in range(1, 11)])
def test_every_number_the_prose_quotes_is_printed_by_the_full_run(prefix, full_runs):
    script, output = full_runs[prefix]
    allowed = NOT_MEASURED.get(prefix, {})
    missing = [q for q in prose_numbers.unaccounted_numbers(script, output) if q.text not in allowed]
    assert not missing, "the prose quotes numbers its full run does not print:\n" + "\n".join(
        f"  {q.text!r} in ...{q.context}..." for q in missing)
    quoted = {q.text for cell in prose_numbers.markdown_cells(script) for q in prose_numbers.quoted_numbers(cell)}
    assert set(allowed) <= quoted, f"NOT_MEASURED lists numbers the prose no longer quotes: {set(allowed) - quoted}"


@pytest.mark.slow
def test_05_comparisons_in_the_prose_hold_in_the_full_run(full_runs):
    out = full_runs["05"][1]
    rmse = printed(out, r"^test RMSE")[-3:]
    assert max(rmse) < 1.2 * min(rmse), rmse                                 # "all three fit about equally well"
    ml, map_, bbb = printed(out, r"true curve inside ±2 std")[-3:]
    assert bbb > 0.5 > max(ml, map_), (ml, map_, bbb)                         # "holds most"; "holds little"
    ml_nll, map_nll = printed(out, r"^last epoch: ML NLL")
    bbb_nll = value_after(out, r"^last epoch, summed over its minibatches: .* \+ NLL")
    assert abs(ml_nll - map_nll) < 0.25 * abs(bbb_nll - map_nll) and bbb_nll > max(ml_nll, map_nll)
    big, small = printed(out, r"^lr = 1e-05"), printed(out, r"^lr = 1e-06")
    assert big[-1] > big[-2] and small[-1] < small[-2], (big, small)        # the larger step overshoots
    on, off = printed(out, r"epistemic std on the data")[-1], printed(out, r"epistemic std off the data")[-2]
    assert off > 10 * on                                                     # "narrow on the data, widens off it"


@pytest.mark.slow
def test_08_full_run_converged_and_its_comparisons_hold(full_runs):
    out = full_runs["08"][1]
    # What the page must show: HMC converged for every prediction it prints, and mean-field q at its optimum.
    f_rhat = [float(v) for v in re.findall(r"^f\(x = [-+]\d\.\d+\): split R-hat (\d\.\d+)", out, re.M)]
    assert len(f_rhat) == 5 and max(f_rhat) <= 1.01, f_rhat
    assert value_after(out, r"^HMC: 4 chains x 2000 draws of 2 weights.*max R-hat") <= 1.01   # conjugate model
    kl_fc, kl_vi, kl_opt = printed(out, r"^KL\[q \|\| exact posterior\]")
    assert kl_fc < 0.01 and kl_opt <= kl_vi < kl_opt + 0.02, (kl_fc, kl_vi, kl_opt)
    z = [printed(out, rf"^mean of w{i} ")[-1] for i in range(2)]
    assert max(abs(v) for v in z) < 2, z                     # "within their Monte Carlo error"
    warmup, kept = printed(out, r"^warm-up: ")
    assert (warmup, kept) == (500, 2000)                                     # "the first 500 ... the 2000 after"
    # The network: "far too uncertain on the clusters", "close to HMC's in the gap", the ratio, ELBO, coverage.
    hmc, mf, fc = printed(out, r"^epistemic std on the clusters")
    assert min(mf, fc) > 2 * hmc, (hmc, mf, fc)
    g_hmc, g_mf, g_fc = printed(out, r"^epistemic std in the gap")
    assert max(abs(g_mf - g_hmc), abs(g_fc - g_hmc)) < 0.25 * g_hmc, (g_hmc, g_mf, g_fc)
    r_hmc, r_mf, r_fc = printed(out, r"^gap / clusters")
    assert 1 < r_mf and 1 < r_fc and max(r_mf, r_fc) < 0.5 * r_hmc, (r_hmc, r_mf, r_fc)
    assert printed(out, r"^full-covariance q : negative ELBO")[0] < printed(out, r"^mean-field q +: negative ELBO")[0]
    ll_hmc, ll_mf, ll_fc = printed(out, r"^test log-lik per point, all")
    assert ll_mf < ll_fc < ll_hmc, (ll_hmc, ll_mf, ll_fc)
    coverage = printed(out, r"^95% interval coverage, all")[-3:]
    assert all(abs(c - 0.95) <= 0.04 for c in coverage), coverage          # "close to nominal for all three"
    assert printed(out, r"^95% interval coverage, gap")[-1] < 0.95           # full-covariance "under-covers slightly"
    hmc_seconds = printed(out, r"^HMC time:")[0]
    vi_seconds = printed(out, r"^mean-field VI: 4000 steps")[-1] + printed(out, r"^full-covariance VI: 3000 steps")[-1]
    assert hmc_seconds > vi_seconds, (hmc_seconds, vi_seconds)               # "On a network it is the slow part"


@pytest.mark.slow
def test_06_comparisons_in_the_prose_hold_in_the_full_run(full_runs):
    out = full_runs["06"][1]
    entropy_ratio = value_after(out, r"^mean predictive_entropy .*\(")
    mi_ratio = value_after(out, r"^mean mutual_information .*\(")
    assert 1 < entropy_ratio < mi_ratio, (entropy_ratio, mi_ratio)   # "both larger far from the data, MI by more"
    by_entropy = [value_after(out, rf"^set aside +{p}%: by predictive entropy") for p in (0, 5, 10, 20)]
    assert by_entropy == sorted(by_entropy) and by_entropy[-1] > by_entropy[0], by_entropy   # "removes mistakes first"
    wrong_here, shown = printed(out, r"^\d+ of these \d+ are misclassified")[:2]
    wrong_all, n_test = printed(out, r"^\d+ of these \d+ are misclassified")[2:]
    assert wrong_here / shown > 10 * wrong_all / n_test                       # "Mistakes gather here"


@pytest.mark.slow
def test_07_comparisons_in_the_prose_hold_in_the_full_run(full_runs):
    out = full_runs["07"][1]
    table = out.split("initial parameters:", 1)[1].split("from B = 2", 1)[0]
    rows = [[float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", line)] for line in table.splitlines()
            if re.match(r"^\s+\d+ \|", line)]
    n, mu_ratio, rho_ratio = [r[0] for r in rows], [r[3] for r in rows], [r[6] for r in rows]
    assert n[0] == 2 and mu_ratio[0] < 2, rows                       # "close at B = 2"
    assert mu_ratio == sorted(mu_ratio), mu_ratio                    # "the gap opens as B grows"
    assert rho_ratio[0] > 10, rho_ratio                              # rho: "lower even at B = 2"
    weight_fall, local_fall = printed(out, r"^from B = 2 to 512")[2:4]
    assert weight_fall < 2 and 128 < local_fall < 512, (weight_fall, local_fall)   # "falls like 1/B"; "levels off"
    assert re.search(r"^local reparameterisation ended lower in (\d) of \1 seeds", out, re.M)   # "for every seed"


@pytest.mark.slow
def test_01_and_02_comparisons_in_the_prose_hold_in_the_full_run(full_runs):
    out = full_runs["01"][1]
    year = value_after(out, r"^one evidence takes longer than a year from D =")
    universe = value_after(out, r"^one evidence takes longer than the age of the universe from D =")
    assert year < universe <= 24, (year, universe)                 # "a couple of dozen at most"
    out = full_runs["02"][1]
    wider, narrower = value_after(out, r"^posterior 2x wider +-?\d+\.\d+"), value_after(out, r"^posterior 2x narrower +-?\d+\.\d+")
    assert wider > narrower, (wider, narrower)                       # "punishes a q too wide more than one too narrow"
    assert abs(value_after(out, r"^mean-field optimum, S = \d+: .*difference")) < 3   # "within a couple of s.e."


@pytest.mark.slow
def test_10_comparisons_in_the_prose_hold_in_the_full_run(full_runs):
    out = full_runs["10"][1]
    names = ("Bayesian MLP", "deterministic CNN", "Bayesian CNN, ELBO", "Bayesian CNN, tempered")
    mlp, det, elbo, tempered = (printed(out, rf"^{name} +\d")[:4] for name in names)   # accuracy, NLL, ECE, confidence
    assert elbo[3] < elbo[0] and mlp[3] < mlp[0], (mlp, elbo)                            # "underconfident"
    assert elbo[0] >= 0.98 and elbo[0] > max(mlp[0], det[0], tempered[0]), elbo         # "highest accuracy of the four"
    assert elbo[1] < min(mlp[1], tempered[1]), (mlp, elbo, tempered)                    # "lowest NLL of the Bayesian"
    assert 0.02 < elbo[2] <= 0.025, elbo                                                # "ECE just above 0.02"
    assert tempered[2] <= 0.02 and tempered[0] < min(0.98, mlp[0]) and tempered[3] > tempered[0], tempered
    assert all(det[1] < r[1] and det[2] < r[2] for r in (mlp, elbo, tempered)), det      # "lowest NLL and ECE"
    assert len(re.findall(r"accuracy >= 98% and ECE <= 0.02, for the Bayesian CNN, \w+: NOT reached", out)) == 2
    boot = out.split("95% bootstrap intervals", 1)[1]
    elbo_acc_low, elbo_acc_high, elbo_ece_low, elbo_ece_high = printed(boot, r"^Bayesian CNN, ELBO +accuracy")[:4]
    det_acc_low, det_acc_high = printed(boot, r"^deterministic CNN +accuracy")[:2]
    assert elbo_acc_low < 0.98 < elbo_acc_high and elbo_ece_low < 0.02 < elbo_ece_high, boot   # "both hold the line"
    assert elbo_acc_low < det_acc_high and det_acc_low < elbo_acc_high, boot                   # "the intervals overlap"
    assert re.search(r"^Bayesian CNN, ELBO +images per confidence bin.*above the diagonal: (\d+) of \1$", out, re.M)
    sigma_40, sigma_60 = (printed(out, rf"weights after {n} epochs")[1:] for n in (40, 60))   # the ELBO CNN's lines
    assert len(sigma_40) == 3 and all(a < b for a, b in zip(sigma_40, sigma_60)), (sigma_40, sigma_60)  # "still growing"
    kept = {name: printed(out.split("mistakes set aside", 1)[1], rf"^{name} +\d")[:2] for name in names}
    others = {kept[name][1] for name in names if name != "Bayesian CNN, ELBO"}
    assert len(others) == 1 and kept[names[2]][1] < min(others), kept                 # "the same error; the ELBO's lower"
    assert round((min(others) - kept[names[2]][1]) * 404) == 1, kept                    # "by one image"
    assert kept[names[2]][0] < kept[names[0]][0], kept                                  # full coverage: below the MLP's
    entropy = out.split("mean predictive entropy", 1)[1].split("AUROC", 1)[0]
    rows = {name: printed(entropy, rf"^{name} +\d")[-4:] for name in names}
    assert all(min(r[1:]) > r[0] for r in rows.values()), rows                      # "unseen: higher entropy"
    assert all(t < e for t, e in zip(rows[names[3]], rows[names[2]])), rows         # tempered below the ELBO CNN
    assert all(rows[name][i] > rows[names[1]][i] for name in names[::2] + names[3:] for i in (0, 3)), rows
    auroc = {name: printed(out.split("AUROC", 1)[1], rf"^{name} ")[-3:] for name in rows}
    assert min(min(v) for v in auroc.values()) > 0.7, auroc                         # "every AUROC above 0.7"
    shifted, rotated, noise = ({name: v[i] for name, v in auroc.items()} for i in range(3))
    assert max(shifted, key=shifted.get) == max(noise, key=noise.get) == names[0], auroc   # the MLP: shifted, noise
    assert max(rotated, key=rotated.get) == names[2] and min(rotated, key=rotated.get) == names[3], auroc


def laplace_lines(output: str, after: str) -> list[list[float]]:
    """The numbers of each 'start k: ...' line of tutorial 09's Laplace table printed after the line `after`."""
    block = output.split(after, 1)[1]
    return [[float(v) for v in re.findall(r"[-+]?\d+(?:\.\d+)?(?:e[-+]\d+)?", line)]
            for line in block.splitlines() if line.startswith("start ")][:4]


@pytest.mark.slow
def test_09_laplace_claims_hold_in_the_full_run(full_runs):
    out = full_runs["09"][1]
    lower, upper = printed(out, r"^Laplace at \d+ modes in .* the sandwich")[-2:]
    # columns: k, log joint, GGN, GGN - lower, exact, exact - lower, 1 (of "mode 1"), |mode - mode 1|, canonical
    sim = laplace_lines(out, "1-20-1 network: D = 61")
    assert len(sim) == 4 and len({row[1] for row in sim}) == 1, sim           # "the same height", four starts
    assert max(row[7] for row in sim) > 1 and max(row[8] for row in sim) < 1e-2, sim   # far apart, copies
    ggn, exact = sim[0][2], sim[0][4]
    assert ggn > max(lower, upper) and exact < min(lower, upper), (ggn, exact, lower, upper)   # either side
    with_copies = [float(v) for v in re.findall(r"= (-?\d+\.\d+)", re.search(r"^one mode's GGN Laplace.*$", out,
                                                                             re.M).group(0))]
    assert len(with_copies) == 2 and min(with_copies) > max(lower, upper) + 20, with_copies   # "tens of nats above"
    net = laplace_lines(out, "1-50-1 network: D = 151")
    bound, bound_se = printed(out, r"^K = 1000: forward AIS")[1:3]
    assert len({row[1] for row in net}) == 2, net                              # "two modes of different heights"
    assert all(row[2] < bound - 2 * bound_se and row[4] < bound - 2 * bound_se for row in net), (net, bound)


@pytest.mark.slow
def test_08_alternatives_against_hmc_hold_in_the_full_run(full_runs):
    """Tutorial 08 part 3: the table of all six methods, read row by row (columns in the printed order)."""
    out = full_runs["08"][1]
    names = ("HMC", "mean-field", "full-cov", "MC dropout", "ensemble", "lin. Laplace")
    row = {label: dict(zip(names, printed(out, rf"^{re.escape(label)}  ")[-6:])) for label in (
        "std of f, clusters", "std of f, gap", "std ratio gap / clusters", "test LL per point, all",
        "test LL per point, gap", "held-out y in the 95% interval", "HMC's mass inside, clusters",
        "HMC's mass inside, gap")}
    assert all(len(values) == 6 for values in row.values()), row
    ratio, others = row["std ratio gap / clusters"], names[1:]
    # the linearised Laplace is "the closest to HMC in shape": its gap/clusters ratio nearest HMC's (in log)
    closest = min(others, key=lambda m: abs(np.log(ratio[m] / ratio["HMC"])))
    assert closest == "lin. Laplace", ratio
    clusters = row["std of f, clusters"]
    assert abs(clusters["lin. Laplace"] - clusters["HMC"]) < 0.25 * clusters["HMC"], clusters   # "sure on the clusters"
    gap = row["std of f, gap"]
    assert gap["lin. Laplace"] < gap["HMC"], gap                                   # "somewhat too narrow" in the gap
    ll = row["test LL per point, all"]
    assert abs(ll["lin. Laplace"] - ll["HMC"]) < 0.05, ll                          # "close to HMC's"
    # MC dropout: less uncertain in the gap than on the clusters, the least of HMC's predictive held in the gap
    assert ratio["MC dropout"] < 1, ratio
    assert min(row["HMC's mass inside, gap"], key=row["HMC's mass inside, gap"].get) == "MC dropout"
    assert row["test LL per point, gap"]["MC dropout"] > row["test LL per point, gap"]["HMC"]    # "above HMC's"
    # the ensemble: far surer than HMC on the clusters, the largest ratio, the best test log-likelihood of all six
    assert clusters["ensemble"] < 0.25 * clusters["HMC"] and max(ratio, key=ratio.get) == "ensemble", (clusters, ratio)
    assert max(ll, key=ll.get) == "ensemble", ll
    # every method keeps about 95% of the held-out points inside its own interval
    assert all(abs(c - 0.95) <= 0.04 for c in row["held-out y in the 95% interval"].values()), row
