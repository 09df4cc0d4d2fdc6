"""The classroom exercises' checker (tutorials/exercises/check.py).

It must pass the reference solutions (the library's own functions, via
reference.py), report every untouched stub as not done, and for each planted
common mistake fail with the hint that explains that mistake. A planted
mistake is the reference module with one function replaced by a small wrong
one written below, the way a student might write it.
"""
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import minivi as mv

EXERCISES_DIR = Path(__file__).resolve().parent.parent / "tutorials" / "exercises"


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load(EXERCISES_DIR / "check.py", "exercises_check")
reference = _load(EXERCISES_DIR / "reference.py", "exercises_reference")
NUMBERS = sorted(check.EXERCISES)


def with_mistake(**functions):
    """The reference solutions with some functions replaced."""
    names = {name: getattr(reference, name) for name in dir(reference) if not name.startswith("_")}
    return types.SimpleNamespace(**(names | functions))


def flat(text):
    return " ".join(text.split())


def assert_caught(exercise, module, hint):
    """The checker fails `exercise` on `module`, names `hint`, and prints its text with expected vs got."""
    result = check.check_exercise(exercise, module)
    report = check.format_result(result)
    assert result.status == "failed", report
    assert hint in result.hints, report
    assert flat(check.HINTS[hint]) in flat(report), report
    assert "checked:" in report and "expected" in report, report
    return report


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- the reference solutions and the stubs


def test_there_are_at_least_seven_exercises_each_with_a_file():
    assert len(NUMBERS) >= 7
    for number in NUMBERS:
        assert (EXERCISES_DIR / check.EXERCISES[number].file).is_file()


@pytest.mark.parametrize("number", NUMBERS)
def test_the_reference_solutions_pass_without_any_hint(number):
    result = check.check_exercise(number, reference)
    assert result.passed, check.format_result(result)
    assert result.hints == []


@pytest.mark.parametrize("number", NUMBERS)
def test_an_untouched_stub_is_reported_not_done(number):
    ex = check.EXERCISES[number]
    result = check.check_file(number, EXERCISES_DIR / ex.file)
    assert not result.passed and result.status == "todo", check.format_result(result)
    assert "NotImplementedError" in check.format_result(result)


def test_the_command_line_exits_0_on_the_reference_and_1_on_the_stubs(capsys):
    assert check.main(["--solutions-from", "minivi"]) == 0
    assert f"passed {NUMBERS}" in capsys.readouterr().out
    done = subprocess.run([sys.executable, str(EXERCISES_DIR / "check.py"), "kl"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Exercise 2" in done.stdout and "not done [2]" in done.stdout


def test_a_file_that_does_not_import_fails_with_the_error(tmp_path):
    (tmp_path / "ex1_softplus.py").write_text("def softplus(rho)\n    return rho\n")
    result = check.check_file(1, tmp_path / "ex1_softplus.py")
    assert result.status == "failed" and "SyntaxError" in check.format_result(result)


def test_correct_code_written_differently_from_the_library_passes():
    def softplus(rho):
        return np.maximum(rho, 0.0) + np.log1p(np.exp(-np.abs(rho)))

    def softplus_grad(rho):
        return np.where(rho >= 0, 1.0 / (1.0 + np.exp(-np.abs(rho))), np.exp(-np.abs(rho)) / (1.0 + np.exp(-np.abs(rho))))

    def mul(a, b):
        return mv.make_op("mul", a.data * b.data, (a, b), (lambda g: mv.unbroadcast(g * b.data, a.shape),
                                                           lambda g: mv.unbroadcast(g * a.data, b.shape)))

    def blundell_weights(n_batches):   # exact Python integers
        return np.array([2 ** (n_batches - i) / (2 ** n_batches - 1) for i in range(1, n_batches + 1)])

    def entropy(p):
        return -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=-1)

    def mutual_information(probs):
        return entropy(probs.mean(axis=0)) - entropy(probs).mean(axis=0)

    module = with_mistake(softplus=softplus, softplus_grad=softplus_grad, mul=mul,
                          blundell_weights=blundell_weights, mutual_information=mutual_information)
    for number in (1, 4, 5, 6):
        result = check.check_exercise(number, module)
        assert result.passed, check.format_result(result)


# ---------------------------------------------------------------- the six common mistakes of the issue


def test_kl_missing_minus_log_sigma():
    def kl_normal(mu, sigma, prior_sigma=1.0):
        return float(np.sum((sigma ** 2 + mu ** 2) / (2 * prior_sigma ** 2) - 0.5))

    assert_caught("kl", with_mistake(kl_normal=kl_normal), "kl-missing-log-sigma")


def test_kl_gradient_missing_the_derivative_of_minus_log_sigma():
    def kl_normal_grads(mu, sigma, prior_sigma=1.0):
        return mu / prior_sigma ** 2, sigma / prior_sigma ** 2

    assert_caught("kl", with_mistake(kl_normal_grads=kl_normal_grads), "kl-grad-missing-log-sigma")


def test_reparam_sigma_gradient_without_eps():
    def reparam_backward(grad_w, eps, rho):
        grad_sigma = grad_w
        return grad_w, grad_sigma, grad_sigma * sigmoid(rho)

    report = assert_caught("reparam", with_mistake(reparam_backward=reparam_backward), "reparam-sigma-without-eps")
    assert "grad_mu" in report and "ok    grad_mu" in report   # dF/dmu itself is right and passes


def test_reparam_chain_through_softplus_forgotten():
    def reparam_backward(grad_w, eps, rho):
        return grad_w, grad_w * eps, grad_w * eps

    assert_caught("reparam", with_mistake(reparam_backward=reparam_backward), "reparam-softplus-chain-forgotten")


def test_reparam_rho_gradient_that_overflows_for_large_rho():
    """The task says to keep dσ/dρ stable; e^ρ/(1 + e^ρ) is NaN at ρ = 1000 and passed every check before."""
    def reparam_backward(grad_w, eps, rho):
        with np.errstate(over="ignore", invalid="ignore"):
            return grad_w, grad_w * eps, grad_w * eps * np.exp(rho) / (1.0 + np.exp(rho))

    report = assert_caught("reparam", with_mistake(reparam_backward=reparam_backward), "reparam-grad-rho-overflow")
    assert "ok    grad_rho against finite differences" in report   # right for moderate ρ


@pytest.mark.parametrize("diagnosis, dsigma_drho", [("reparam-dsigma-drho-sign", lambda rho: sigmoid(-rho)),
                                                    ("reparam-dsigma-drho-exp", np.exp)])
def test_reparam_rho_gradient_with_exercise_1s_slips_in_dsigma_drho(diagnosis, dsigma_drho):
    def reparam_backward(grad_w, eps, rho):
        with np.errstate(over="ignore"):
            return grad_w, grad_w * eps, grad_w * eps * dsigma_drho(rho)

    module = with_mistake(reparam_backward=reparam_backward)
    assert_caught("reparam", module, diagnosis)
    failed = [c for c in check.check_exercise("reparam", module).checks if c.status == "FAIL"]
    assert [c.title for c in failed][0].startswith("grad_rho against finite differences"), failed
    assert failed[0].diagnosis == diagnosis


def _kl_with_quadratic_not_halved(mu, sigma, prior_sigma=1.0):
    return float(np.sum(np.log(prior_sigma / sigma) + (sigma ** 2 + mu ** 2) / prior_sigma ** 2 - 0.5))


def _log_softmax_with_vjp(second_term):
    """log_softmax whose VJP is g − second_term(softmax, log_softmax, Σ_axis g), as a student may write it."""
    def log_softmax(x, axis=-1):
        out = x.data - np.log(np.sum(np.exp(x.data), axis=axis, keepdims=True))
        return mv.make_op("log_softmax", out, (x,),
                          (lambda g: g - second_term(np.exp(out), out, g.sum(axis=axis, keepdims=True)),))
    return log_softmax


def _entropy(p):
    return -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=-1)


USUAL_SLIPS = {   # (exercise, diagnosis) -> the functions with the slip: a factor of 1/2, a sign, a sum, an order
    (2, "kl-quadratic-not-halved"): dict(kl_normal=_kl_with_quadratic_not_halved),
    (2, "kl-grad-mu-halved"): dict(kl_normal_grads=lambda mu, sigma, s=1.0: (mu / (2 * s ** 2), sigma / s ** 2 - 1 / sigma)),
    (2, "kl-grads-swapped"): dict(kl_normal_grads=lambda mu, sigma, s=1.0: (sigma / s ** 2 - 1 / sigma, mu / s ** 2)),
    (3, "reparam-sigma-sign"): dict(reparam_backward=lambda grad_w, eps, rho: (
        grad_w, -grad_w * eps, -grad_w * eps * sigmoid(rho))),
    (4, "log-softmax-sign"): dict(log_softmax=_log_softmax_with_vjp(lambda p, out, g_sum: -p * g_sum)),
    (4, "log-softmax-log-probs"): dict(log_softmax=_log_softmax_with_vjp(lambda p, out, g_sum: out * g_sum)),
    (5, "elbo-loss-uniform-weights"): dict(minibatch_losses=lambda kl, nlls: kl / len(nlls) + np.asarray(nlls, float)),
    (5, "elbo-weights-order"): dict(
        minibatch_losses=lambda kl, nlls: reference.blundell_weights(len(nlls))[::-1] * kl + np.asarray(nlls, float)),
    (6, "unc-mi-summed-entropies"): dict(mutual_information=lambda p: _entropy(p.mean(axis=0)) - _entropy(p).sum(axis=0)),
    (6, "unc-entropy-sign"): dict(predictive_entropy=lambda p: np.sum(p.mean(axis=0) * np.log(
        np.where(p.mean(axis=0) > 0, p.mean(axis=0), 1.0)), axis=-1)),
}


@pytest.mark.parametrize("number, diagnosis", sorted(USUAL_SLIPS))
def test_each_usual_slip_of_exercises_2_to_6_is_named(number, diagnosis):
    module = with_mistake(**USUAL_SLIPS[number, diagnosis])
    assert_caught(number, module, diagnosis)
    result = check.check_exercise(number, module)
    failed = [c for c in result.checks if c.status == "FAIL"]
    # the first failed check names the slip; a later one may only add that its own result follows from it
    assert failed and failed[0].diagnosis == diagnosis, check.format_result(result)
    assert {c.diagnosis for c in failed} <= {diagnosis, "reparam-fix-sigma-first"}, check.format_result(result)


def test_kl_sigma_where_sigma_squared_belongs():
    def kl_normal(mu, sigma, prior_sigma=1.0):
        return float(np.sum(np.log(prior_sigma / sigma) + (sigma + mu ** 2) / (2 * prior_sigma ** 2) - 0.5))

    assert_caught("kl", with_mistake(kl_normal=kl_normal), "kl-sigma-for-variance")


def test_lrt_variance_with_sigma_where_sigma_squared_belongs():
    def lrt_moments(x, mu, sigma):
        return x @ mu, (x ** 2) @ sigma

    assert_caught("lrt", with_mistake(lrt_moments=lrt_moments), "lrt-sigma-for-variance")


def test_engine_op_gradient_not_summed_over_broadcast_axes():
    def mul(a, b):
        return mv.make_op("mul", a.data * b.data, (a, b), (lambda g: g * b.data, lambda g: g * a.data))

    report = assert_caught("engine", with_mistake(mul=mul), "op-not-unbroadcast")
    assert "ok    mul: VJPs, both inputs of shape (3, 4)" in report   # without broadcasting it is right


def test_kl_weights_that_do_not_sum_to_one():
    def blundell_weights(n_batches):
        i = np.arange(1, n_batches + 1)
        return 2.0 ** (n_batches - i) / 2.0 ** n_batches

    report = assert_caught("elbo", with_mistake(blundell_weights=blundell_weights), "elbo-weights-not-sum-to-one")
    assert "elbo-weights-denominator" in check.check_exercise("elbo", with_mistake(
        blundell_weights=blundell_weights)).hints, report


# ---------------------------------------------------------------- more usual mistakes, one per exercise


def test_softplus_that_overflows():
    assert_caught("softplus", with_mistake(softplus=lambda rho: np.log(1 + np.exp(rho))), "softplus-overflow")


def test_softplus_grad_missing_the_outer_derivative():
    assert_caught("softplus", with_mistake(softplus_grad=np.exp), "softplus-grad-exp")


def test_kl_weights_indexed_from_zero():
    def blundell_weights(n_batches):
        i = np.arange(n_batches)
        return 2.0 ** (n_batches - i) / (2.0 ** n_batches - 1)

    assert_caught("elbo", with_mistake(blundell_weights=blundell_weights), "elbo-weights-index-from-zero")


def test_minibatch_loss_weighting_the_data_term():
    def minibatch_losses(kl, nlls):
        return reference.blundell_weights(len(nlls)) * (kl + nlls)

    assert_caught("elbo", with_mistake(minibatch_losses=minibatch_losses), "elbo-loss-weighted-data")


def test_log_softmax_vjp_with_only_the_diagonal():
    def log_softmax(x, axis=-1):
        out = x.data - np.log(np.sum(np.exp(x.data), axis=axis, keepdims=True))
        return mv.make_op("log_softmax", out, (x,), (lambda g: g * (1 - np.exp(out)),))

    assert_caught("engine", with_mistake(log_softmax=log_softmax), "log-softmax-diagonal-only")


def test_predictive_entropy_as_the_mean_of_entropies():
    def predictive_entropy(probs):
        return -np.sum(probs * np.log(np.where(probs > 0, probs, 1.0)), axis=-1).mean(axis=0)

    assert_caught("uncertainty", with_mistake(predictive_entropy=predictive_entropy), "unc-entropy-of-mean")


def test_entropy_that_turns_zero_probabilities_into_nan():
    def predictive_entropy(probs):
        p = probs.mean(axis=0)
        return -np.sum(p * np.log(p), axis=-1)

    assert_caught("uncertainty", with_mistake(predictive_entropy=predictive_entropy), "unc-zero-prob")


def test_lrt_sample_scaled_by_the_variance():
    def lrt_sample(x, mu, sigma, rng):
        mean, var = reference.lrt_moments(x, mu, sigma)
        return mean + var * rng.standard_normal(mean.shape)

    assert_caught("lrt", with_mistake(lrt_sample=lrt_sample), "lrt-sample-uses-variance")


def test_lrt_sample_with_one_weight_matrix_for_the_batch():
    def lrt_sample(x, mu, sigma, rng):
        return x @ (mu + sigma * rng.standard_normal(mu.shape))

    assert_caught("lrt", with_mistake(lrt_sample=lrt_sample), "lrt-sample-shared-weights")


# ---------------------------------------------------------------- hints only for a diagnosed mistake (issue 15)


def test_kl_with_the_standard_normal_prior_s_quadratic_term():
    """The lecture's N(0, 1) formula used with another prior: (σ² + μ²)/2 without the /s²."""
    def kl_normal(mu, sigma, prior_sigma=1.0):
        return float(np.sum(np.log(prior_sigma / sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5))

    module = with_mistake(kl_normal=kl_normal)
    assert_caught("kl", module, "kl-prior-variance-missing")
    hints = check.check_exercise("kl", module).hints
    assert "kl-constant" not in hints, hints   # its error grows with σ² + μ²: no constant is wrong


def test_an_undiagnosed_kl_gets_no_diagnosis_only_the_formula():
    def kl_normal(mu, sigma, prior_sigma=1.0):   # no usual slip: a made-up extra term
        return float(np.sum(np.log(prior_sigma / sigma) + (sigma ** 2 + mu ** 2) / (2 * prior_sigma ** 2) - 0.5
                            + 0.1 * mu ** 3))

    result = check.check_exercise("kl", with_mistake(kl_normal=kl_normal))
    assert result.status == "failed"
    assert set(result.hints) == {"kl-formula"}, check.format_result(result)


def test_kl_off_by_a_constant_is_still_diagnosed_as_a_constant():
    def kl_normal(mu, sigma, prior_sigma=1.0):   # the -1/2 forgotten
        return float(np.sum(np.log(prior_sigma / sigma) + (sigma ** 2 + mu ** 2) / (2 * prior_sigma ** 2)))

    assert_caught("kl", with_mistake(kl_normal=kl_normal), "kl-constant")


def test_log_softmax_summed_over_every_axis_is_caught_without_giving_the_answer():
    def log_softmax(x, axis=-1):
        out = x.data - np.log(np.sum(np.exp(x.data), axis=axis, keepdims=True))
        return mv.make_op("log_softmax", out, (x,), (lambda g: g - np.exp(out) * g.sum(),))

    report = assert_caught("engine", with_mistake(log_softmax=log_softmax), "log-softmax-sum-all-axes")
    # A hint points at the mistake; it does not print the finished expression of the VJP.
    for key in ("log-softmax-sum-all-axes", "log-softmax-wrong-axis", "log-softmax-missing-sum"):
        assert "keepdims" not in check.HINTS[key] and "g.sum(" not in check.HINTS[key], key
    assert "keepdims" not in report


# ---------------------------------------------------------------- grading automatically, and the student copy


def test_json_results_hold_every_check_with_its_score_and_message(tmp_path):
    def kl_normal(mu, sigma, prior_sigma=1.0):   # the -log sigma term missing
        return float(np.sum((sigma ** 2 + mu ** 2) / (2 * prior_sigma ** 2) - 0.5))

    results = [check.check_exercise(n, module) for n, module in ((2, with_mistake(kl_normal=kl_normal)),
                                                                 (3, reference))]
    report = check.json_results(results)
    checks = [c for ex in report["exercises"] for c in ex["checks"]]
    assert len(checks) == sum(len(r.checks) for r in results)
    for c, original in zip(checks, [c for r in results for c in r.checks]):
        assert set(c) >= {"name", "passed", "score", "max_score", "message"}
        assert c["passed"] == (original.status == "ok") and c["score"] == int(c["passed"]) and c["max_score"] == 1
        assert (c["message"] == "") == c["passed"]
    failed = [c for c in checks if not c["passed"]]
    assert failed and all("expected" in c["message"] for c in failed)
    assert any(flat(check.HINTS["kl-missing-log-sigma"]) in flat(c["message"]) for c in failed)
    assert report["score"] == sum(c["score"] for c in checks) < report["max_score"] == len(checks)
    ex3 = report["exercises"][1]
    assert ex3["status"] == "passed" and ex3["score"] == ex3["max_score"] == len(results[1].checks)

    gradescope = check.gradescope_results(results)
    assert gradescope["score"] == report["score"]
    assert [t["name"] for t in gradescope["tests"]] == [c["name"] for c in checks]
    assert all(t["status"] == ("passed" if c["passed"] else "failed") and t["output"] == c["message"]
               for t, c in zip(gradescope["tests"], checks))


def test_the_command_line_writes_the_json_files(tmp_path, capsys):
    import json
    out, gs = tmp_path / "results.json", tmp_path / "gradescope.json"
    assert check.main(["1", "kl", "--solutions-from", "minivi", "--json", str(out), "--gradescope", str(gs)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["format"] == "minivi-exercises" and [e["number"] for e in report["exercises"]] == [1, 2]
    assert report["score"] == report["max_score"] == len(check.EXERCISES[1].checks) + len(check.EXERCISES[2].checks)
    assert json.loads(gs.read_text(encoding="utf-8"))["score"] == report["score"]


def test_each_exercise_has_its_pytest_marker(request):
    markers = request.config.getini("markers")
    for number in NUMBERS:
        assert any(line.startswith(f"exercise{number}:") for line in markers), markers


def test_pytest_m_exercise3_runs_exercise_3_only(request):
    names = [item.nodeid for item in request.session.items]
    if len(names) < 2:
        pytest.skip("run with the whole file collected to compare the markers")
    marked = [item.name for item in request.session.items if item.get_closest_marker("exercise3")]
    assert "test_reparam_sigma_gradient_without_eps" in marked
    assert "test_the_reference_solutions_pass_without_any_hint[3]" in marked
    assert all("reparam" in name or name.endswith("[3]") for name in marked), marked


make_student_copy = _load(EXERCISES_DIR / "make_student_copy.py", "exercises_make_student_copy")


def test_the_student_copy_has_the_stubs_and_the_checker_but_no_solutions(tmp_path):
    dest = tmp_path / "week1"
    files = {p.relative_to(dest).as_posix() for p in make_student_copy.build(dest, [check.EXERCISES[1],
                                                                                      check.EXERCISES[2]])}
    assert {"ex1_softplus.py", "ex2_kl.py", "check.py", "README.md", "exercise_checker/core.py"} <= files
    assert not any(name.startswith(("reference", "ex3", "make_student_copy")) for name in files), files
    assert "For the teacher" not in (dest / "README.md").read_text(encoding="utf-8")
    with pytest.raises(FileExistsError):
        make_student_copy.build(dest, [check.EXERCISES[1]])


def test_the_student_copy_readme_names_only_the_exercises_copied(tmp_path):
    import re
    make_student_copy.build(tmp_path / "week5", [check.EXERCISES[9], check.EXERCISES[8]])
    readme = (tmp_path / "week5" / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"ex\d+_\w+\.py", readme)) | set(re.findall(r"check\.py (\d+)", readme))
    assert named == {"ex8_leapfrog.py", "ex9_fullcov_kl.py", "8"}, readme
    assert "Start with `ex8_leapfrog.py` and `python check.py 8`" in readme and "2 exercises" in readme


def test_the_student_copy_refuses_stubs_that_hold_solutions(tmp_path, monkeypatch):
    solved = tmp_path / "solved"
    solved.mkdir()
    (solved / "ex1_softplus.py").write_text("from reference import softplus, softplus_grad\n")
    monkeypatch.setattr(make_student_copy, "HERE", solved)
    monkeypatch.syspath_prepend(str(EXERCISES_DIR))
    with pytest.raises(RuntimeError, match="no longer untouched stubs"):
        make_student_copy.build(tmp_path / "out", [check.EXERCISES[1]])
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_student_copy_runs_against_an_installed_minivi_alone(tmp_path):
    """In a fresh process, from the copy's folder, with only the minivi package importable."""
    import json
    import os
    dest = tmp_path / "copy"
    make_student_copy.build(dest, [check.EXERCISES[1], check.EXERCISES[2]])
    env = {**os.environ, "PYTHONPATH": str(EXERCISES_DIR.parent.parent)}   # minivi, as if installed

    def run(*args):
        return subprocess.run([sys.executable, "check.py", *args], cwd=dest, env=env, capture_output=True,
                              text=True, timeout=120)

    done = run("--json", "r.json")
    assert done.returncode == 1 and "not done [1, 2]" in done.stdout, done.stdout + done.stderr
    assert {c["status"] for e in json.loads((dest / "r.json").read_text())["exercises"] for c in e["checks"]} == {"TODO"}
    refused = run("--solutions-from", "minivi")
    assert refused.returncode == 2 and "no reference.py" in refused.stderr, refused.stderr
    (dest / "ex1_softplus.py").write_text("import numpy as np\n\ndef softplus(rho):\n    return np.logaddexp(0, rho)\n"
                                          "\ndef softplus_grad(rho):\n    return np.exp(-np.logaddexp(0, -rho))\n")
    done = run("1")
    assert done.returncode == 0 and "passed [1]" in done.stdout, done.stdout + done.stderr


# ---------------------------------------------------------------- exercise 8: one leapfrog step


def test_leapfrog_with_whole_momentum_steps_is_symplectic_euler():
    def leapfrog_step(w, p, step_size, grad_log_prob):
        p_new = p + step_size * grad_log_prob(w)
        return w + step_size * p_new, p_new

    report = assert_caught("leapfrog", with_mistake(leapfrog_step=leapfrog_step), "leapfrog-forgot-half-step")
    assert "slope" in report and "FAIL  25 steps forward" in report   # both properties fail, and say so


def test_leapfrog_without_the_last_half_step():
    def leapfrog_step(w, p, step_size, grad_log_prob):
        p_half = p + 0.5 * step_size * grad_log_prob(w)
        return w + step_size * p_half, p_half

    assert_caught("leapfrog", with_mistake(leapfrog_step=leapfrog_step), "leapfrog-last-half-missing")


def test_leapfrog_with_the_force_of_the_wrong_sign():
    def leapfrog_step(w, p, step_size, grad_log_prob):
        p_half = p - 0.5 * step_size * grad_log_prob(w)
        w_new = w + step_size * p_half
        return w_new, p_half - 0.5 * step_size * grad_log_prob(w_new)

    assert_caught("leapfrog", with_mistake(leapfrog_step=leapfrog_step), "leapfrog-force-sign")


def test_leapfrog_that_writes_into_its_inputs():
    def leapfrog_step(w, p, step_size, grad_log_prob):
        p += 0.5 * step_size * grad_log_prob(w)
        w += step_size * p
        p += 0.5 * step_size * grad_log_prob(w)
        return w, p

    result = check.check_exercise("leapfrog", with_mistake(leapfrog_step=leapfrog_step))
    assert result.status == "failed" and result.hints == ["leapfrog-in-place"], check.format_result(result)


def test_leapfrog_written_differently_from_the_library_passes():
    def leapfrog_step(w, p, step_size, grad_log_prob):   # the two half steps as one kick around a drift
        kick = lambda w_, p_: p_ + step_size / 2 * grad_log_prob(w_)   # noqa: E731
        p_half = kick(w, p)
        w_new = w + step_size * p_half
        return w_new, kick(w_new, p_half)

    result = check.check_exercise("leapfrog", with_mistake(leapfrog_step=leapfrog_step))
    assert result.passed, check.format_result(result)


# ---------------------------------------------------------------- exercise 9: the full-covariance KL


def test_full_cov_kl_written_differently_from_the_library_passes():
    def kl_full_cov(mu, L, prior_sigma=1.0):
        cov, d = L @ L.T, len(mu)
        return 0.5 * (np.trace(cov) / prior_sigma ** 2 + mu @ mu / prior_sigma ** 2 - d
                      + d * np.log(prior_sigma ** 2) - np.linalg.slogdet(cov)[1])

    def kl_full_cov_grads(mu, L, prior_sigma=1.0):   # the matrix-calculus gradient, restricted to the lower triangle
        return mu / prior_sigma ** 2, np.tril(L / prior_sigma ** 2 - np.linalg.inv(L).T)

    result = check.check_exercise(9, with_mistake(kl_full_cov=kl_full_cov, kl_full_cov_grads=kl_full_cov_grads))
    assert result.passed, check.format_result(result)


def test_full_cov_kl_missing_the_log_determinant():
    def kl_full_cov(mu, L, prior_sigma=1.0):
        d = len(mu)
        return 0.5 * (np.sum(L ** 2) / prior_sigma ** 2 + mu @ mu / prior_sigma ** 2 - d) + d * np.log(prior_sigma)

    assert_caught("fullcov", with_mistake(kl_full_cov=kl_full_cov), "fullkl-missing-logdet")


def test_full_cov_kl_with_log_det_sigma_not_halved():
    def kl_full_cov(mu, L, prior_sigma=1.0):
        d = len(mu)
        return (0.5 * (np.sum(L ** 2) / prior_sigma ** 2 + mu @ mu / prior_sigma ** 2 - d) + d * np.log(prior_sigma)
                - 2 * np.sum(np.log(np.diag(L))))

    assert_caught("fullcov", with_mistake(kl_full_cov=kl_full_cov), "fullkl-logdet-twice")


def test_full_cov_kl_with_the_trace_of_the_diagonal_only():
    def kl_full_cov(mu, L, prior_sigma=1.0):
        d = len(mu)
        return (0.5 * (np.sum(np.diag(L) ** 2) / prior_sigma ** 2 + mu @ mu / prior_sigma ** 2 - d)
                + d * np.log(prior_sigma) - np.sum(np.log(np.diag(L))))

    assert_caught("fullcov", with_mistake(kl_full_cov=kl_full_cov), "fullkl-trace-diagonal-only")


def test_full_cov_kl_gradient_not_restricted_to_the_lower_triangle():
    def kl_full_cov_grads(mu, L, prior_sigma=1.0):   # d log det L / dL = L^-T for a FULL matrix
        return mu / prior_sigma ** 2, L / prior_sigma ** 2 - np.linalg.inv(L).T

    report = assert_caught("fullcov", with_mistake(kl_full_cov_grads=kl_full_cov_grads), "fullkl-grad-not-lower")
    assert "ok    kl_full_cov_grads: dKL/dμ" in report   # the mu part is right and passes


def test_full_cov_kl_gradient_missing_the_log_determinant():
    def kl_full_cov_grads(mu, L, prior_sigma=1.0):
        return mu / prior_sigma ** 2, L / prior_sigma ** 2

    assert_caught("fullcov", with_mistake(kl_full_cov_grads=kl_full_cov_grads), "fullkl-grad-missing-logdet")


# ---------------------------------------------------------------- every diagnosis of exercises 8 and 9, planted (issue 22)
# Each mistake is written the way a student would write it. The checker must name it (the
# diagnosis, also in --json) and print its hint; the diagnosis is found by fitting the student's
# numbers on random probes, so a mistake is recognised whatever its inputs.


def _kick_drift_kick(first=0.5, last=0.5, drift=1.0, sign=1.0, last_at_old_w=False, negate=False):
    """A leapfrog-like step with the factors a student may get wrong."""
    def leapfrog_step(w, p, step_size, grad_log_prob):
        g = grad_log_prob(w)
        p_first = p + sign * first * step_size * g
        w_new = w + drift * step_size * p_first
        g_last = g if last_at_old_w else grad_log_prob(w_new)
        p_new = p_first + sign * last * step_size * g_last
        return w_new, -p_new if negate else p_new
    return leapfrog_step


def _position_with_old_momentum(w, p, step_size, grad_log_prob):
    w_new = w + step_size * p
    return w_new, p + 0.5 * step_size * grad_log_prob(w) + 0.5 * step_size * grad_log_prob(w_new)


def _first_half_left_out(w, p, step_size, grad_log_prob):
    w_new = w + step_size * p
    return w_new, p + 0.5 * step_size * grad_log_prob(w_new)


def _euler(w, p, step_size, grad_log_prob):
    return w + step_size * p, p + step_size * grad_log_prob(w)


def _step_size_twice(w, p, step_size, grad_log_prob):
    p_half = p + 0.5 * step_size * grad_log_prob(w)
    w_new = w + step_size * step_size * p_half         # ε applied twice
    return w_new, p_half + 0.5 * step_size * grad_log_prob(w_new)


def _last_kick_from_old_p(w, p, step_size, grad_log_prob):
    p_half = p + 0.5 * step_size * grad_log_prob(w)
    w_new = w + step_size * p_half
    return w_new, p + 0.5 * step_size * grad_log_prob(w_new)   # p where p_half belongs


def _swapped(w, p, step_size, grad_log_prob):
    w_new, p_new = reference.leapfrog_step(w, p, step_size, grad_log_prob)
    return p_new, w_new


def _step_size_missing(w, p, step_size, grad_log_prob):
    p_half = p + 0.5 * step_size * grad_log_prob(w)
    w_new = w + step_size * p_half
    return w_new, p_half + 0.5 * grad_log_prob(w_new)  # no ε


LEAPFROG_MISTAKES = {
    "leapfrog-full-first-kick": _kick_drift_kick(first=1.0),           # the issue's student
    "leapfrog-forgot-half-step": _kick_drift_kick(first=1.0, last=0.0),  # symplectic Euler
    "leapfrog-last-half-missing": _kick_drift_kick(last=0.0),
    "leapfrog-first-half-missing": _first_half_left_out,
    "leapfrog-full-last-kick": _kick_drift_kick(last=1.0),
    "leapfrog-old-gradient": _kick_drift_kick(last_at_old_w=True),
    "leapfrog-old-values": _euler,
    "leapfrog-position-old-momentum": _position_with_old_momentum,
    "leapfrog-force-sign": _kick_drift_kick(sign=-1.0),
    "leapfrog-momentum-negated": _kick_drift_kick(negate=True),
    "leapfrog-position-half": _kick_drift_kick(drift=0.5),
    "leapfrog-position-step": _kick_drift_kick(drift=2.0),
    "leapfrog-kicks": _kick_drift_kick(first=0.25, last=0.75),
    "leapfrog-step-size-twice": _step_size_twice,
    "leapfrog-step-size-missing": _step_size_missing,
    "leapfrog-last-kick-from-old-p": _last_kick_from_old_p,
    "leapfrog-swapped-outputs": _swapped,
}


@pytest.mark.parametrize("diagnosis", sorted(LEAPFROG_MISTAKES))
def test_each_leapfrog_mistake_is_named(diagnosis):
    module = with_mistake(leapfrog_step=LEAPFROG_MISTAKES[diagnosis])
    report = assert_caught(8, module, diagnosis)
    result = check.check_exercise(8, module)
    failed = [c for c in result.checks if c.status == "FAIL"]
    assert failed and all(c.diagnosis == diagnosis for c in failed), report
    assert "your step" in report   # what the numbers showed: the fitted step, or the swapped pair


def _kl(trace=lambda L, s: np.sum(L ** 2) / s ** 2, mean=lambda mu, s: mu @ mu / s ** 2, minus_d=lambda d: -d,
        prior=lambda d, s: d * np.log(s ** 2), log_det=lambda L: 2 * np.sum(np.log(np.diag(L))), extra=0.0):
    """1/2 [tr Σ/s² + μᵀμ/s² − D + D log s² − log det Σ] with any term replaced, as a student may write it."""
    def kl_full_cov(mu, L, prior_sigma=1.0):
        s, d = prior_sigma, len(mu)
        return 0.5 * (trace(L, s) + mean(mu, s) + minus_d(d) + prior(d, s) - log_det(L)) + extra
    return kl_full_cov


FULL_COV_KL_MISTAKES = {
    "fullkl-logdet-half": _kl(log_det=lambda L: np.sum(np.log(np.diag(L)))),          # no factor 2 (the issue's)
    "fullkl-logdet-diag-of-cov": _kl(log_det=lambda L: np.sum(np.log(np.diag(L @ L.T)))),  # the issue's
    "fullkl-missing-logdet": _kl(log_det=lambda L: 0.0),
    "fullkl-logdet-twice": _kl(log_det=lambda L: 4 * np.sum(np.log(np.diag(L)))),
    "fullkl-logdet-sign": _kl(log_det=lambda L: -2 * np.sum(np.log(np.diag(L)))),
    "fullkl-logdet-factor": _kl(log_det=lambda L: 3 * np.sum(np.log(np.diag(L)))),
    "fullkl-trace-no-prior-precision": _kl(trace=lambda L, s: np.sum(L ** 2)),           # tr(Σ), not tr(Σ_p⁻¹Σ)
    "fullkl-trace-diagonal-only": _kl(trace=lambda L, s: np.sum(np.diag(L) ** 2) / s ** 2),   # off-diagonals ignored
    "fullkl-trace-of-L": _kl(trace=lambda L, s: np.trace(L) / s ** 2),                    # L where L Lᵀ belongs
    "fullkl-trace-factor": _kl(trace=lambda L, s: 2 * np.sum(L ** 2) / s ** 2),
    "fullkl-mean-no-prior-precision": _kl(mean=lambda mu, s: mu @ mu),
    "fullkl-mean-factor": _kl(mean=lambda mu, s: 0.0),
    "fullkl-prior-sigma-not-squared": _kl(trace=lambda L, s: np.sum(L ** 2) / s, mean=lambda mu, s: mu @ mu / s),
    "fullkl-minus-d": _kl(minus_d=lambda d: 0.0),                                          # −D missing
    "fullkl-prior-logdet": _kl(prior=lambda d, s: -d * np.log(s ** 2)),                   # the prior's log det, sign
    "fullkl-constant": _kl(extra=-0.5 * np.log(2 * np.pi)),
    "fullkl-prior-ignored": lambda mu, L, prior_sigma=1.0: _kl()(mu, L, 1.0),
    "fullkl-trace-all-entries": _kl(trace=lambda L, s: np.sum(L @ L.T) / s ** 2),              # np.sum for np.trace
}


def _kl_mean_in_q_metric(mu, L, prior_sigma=1.0):   # μᵀΣ⁻¹μ: q's covariance where the prior's belongs
    cov, s, d = L @ L.T, prior_sigma, len(mu)
    return 0.5 * (np.trace(cov) / s ** 2 + mu @ np.linalg.solve(cov, mu) - d + d * np.log(s ** 2)
                  - np.linalg.slogdet(cov)[1])


def _kl_with_d_from_L(mu, L, prior_sigma=1.0):   # d = L.size: D² where D belongs
    cov, s, d = L @ L.T, prior_sigma, L.size
    return 0.5 * (np.trace(cov) / s ** 2 + mu @ mu / s ** 2 - d + d * np.log(s ** 2) - np.linalg.slogdet(cov)[1])


def _kl_p_to_q(mu, L, prior_sigma=1.0):   # KL[p ‖ q], the other direction
    cov, s, d = L @ L.T, prior_sigma, len(mu)
    return 0.5 * (s ** 2 * np.trace(np.linalg.inv(cov)) + mu @ np.linalg.solve(cov, mu) - d
                  + np.linalg.slogdet(cov)[1] - d * np.log(s ** 2))


FULL_COV_KL_MISTAKES |= {"fullkl-mean-uses-q-covariance": _kl_mean_in_q_metric, "fullkl-d-wrong": _kl_with_d_from_L,
                         "fullkl-reversed": _kl_p_to_q}


@pytest.mark.parametrize("diagnosis", sorted(FULL_COV_KL_MISTAKES))
def test_each_full_cov_kl_mistake_is_named(diagnosis):
    module = with_mistake(kl_full_cov=FULL_COV_KL_MISTAKES[diagnosis])
    report = assert_caught(9, module, diagnosis)
    assert "your KL − the closed form = " in report and "on 24 random (μ, L, s)" in report, report
    result = check.check_exercise(9, module)
    assert {c.diagnosis for c in result.checks if c.status == "FAIL"} == {diagnosis}, report


def test_the_students_full_cov_kl_mistakes_show_the_term_they_leave_behind():
    """The issue's two: log det Σ written Σ log L_ii (factor 2 lost), and log of diag(L Lᵀ)."""
    report = assert_caught(9, with_mistake(kl_full_cov=FULL_COV_KL_MISTAKES["fullkl-logdet-half"]),
                           "fullkl-logdet-half")
    assert "your KL − the closed form = 0.5·Σ_i log L_ii" in report
    assert "a constant is wrong" not in report   # the old misleading hint: the missing term depends on L
    report = assert_caught(9, with_mistake(kl_full_cov=FULL_COV_KL_MISTAKES["fullkl-logdet-diag-of-cov"]),
                           "fullkl-logdet-diag-of-cov")
    assert "your KL − the closed form = 1·Σ_i log L_ii − 0.5·Σ_i log (L Lᵀ)_ii" in report
    assert "ok    kl_full_cov with a diagonal L" in report   # right for a diagonal L, as its hint says


def test_two_full_cov_kl_mistakes_at_once_are_both_named():
    kl = _kl(minus_d=lambda d: 0.0, log_det=lambda L: np.sum(np.log(np.diag(L))))
    result = check.check_exercise(9, with_mistake(kl_full_cov=kl))
    assert {"fullkl-minus-d", "fullkl-logdet-half"} <= set(result.hints), check.format_result(result)


def _grads(grad_mu=lambda mu, s: mu / s ** 2, grad_L=lambda L, s: L / s ** 2 - np.diag(1 / np.diag(L))):
    return lambda mu, L, prior_sigma=1.0: (grad_mu(mu, prior_sigma), grad_L(L, prior_sigma))


FULL_COV_GRAD_MISTAKES = {
    "fullkl-grad-missing-logdet": _grads(grad_L=lambda L, s: L / s ** 2),
    "fullkl-logdet-half": _grads(grad_L=lambda L, s: L / s ** 2 - 0.5 * np.diag(1 / np.diag(L))),
    "fullkl-logdet-twice": _grads(grad_L=lambda L, s: L / s ** 2 - 2 * np.diag(1 / np.diag(L))),
    "fullkl-logdet-sign": _grads(grad_L=lambda L, s: L / s ** 2 + np.diag(1 / np.diag(L))),
    "fullkl-logdet-diag-of-cov": _grads(grad_L=lambda L, s: L / s ** 2 - np.tril(L / np.diag(L @ L.T)[:, None])),
    "fullkl-grad-trace-factor": _grads(grad_L=lambda L, s: 2 * L / s ** 2 - np.diag(1 / np.diag(L))),
    "fullkl-trace-no-prior-precision": _grads(grad_L=lambda L, s: L - np.diag(1 / np.diag(L))),
    "fullkl-trace-diagonal-only": _grads(grad_L=lambda L, s: np.diag(np.diag(L) - s ** 2 / np.diag(L)) / s ** 2),
    "fullkl-grad-not-lower": _grads(grad_L=lambda L, s: L / s ** 2 - np.linalg.inv(L).T),
    "fullkl-grad-mu-factor": _grads(grad_mu=lambda mu, s: 2 * mu / s ** 2),
    "fullkl-mean-no-prior-precision": _grads(grad_mu=lambda mu, s: mu),
    "fullkl-prior-sigma-not-squared": _grads(grad_mu=lambda mu, s: mu / s),
    "fullkl-grad-logdet-every-entry": _grads(   # d(−log L_ij)/dL_ij taken on every entry of the lower triangle
        grad_L=lambda L, s: L / s ** 2 - np.tril(1 / np.where(L == 0, np.inf, L))),
    "fullkl-grad-logdet-not-transposed": _grads(grad_L=lambda L, s: L / s ** 2 - np.linalg.inv(L)),   # L⁻¹ for L⁻ᵀ
}


@pytest.mark.parametrize("diagnosis", sorted(FULL_COV_GRAD_MISTAKES))
def test_each_full_cov_gradient_mistake_is_named(diagnosis):
    module = with_mistake(kl_full_cov_grads=FULL_COV_GRAD_MISTAKES[diagnosis])
    report = assert_caught(9, module, diagnosis)
    result = check.check_exercise(9, module)
    assert [c.diagnosis for c in result.checks if c.status == "FAIL"] == [diagnosis], report


def test_a_gradient_that_follows_a_wrong_kl_says_to_fix_the_kl_first():
    wrong_kl = _kl(extra=0.0, trace=lambda L, s: np.sum(L ** 2) / s ** 2 + 0.2 * np.sum(L ** 4))   # no known slip

    def kl_full_cov_grads(mu, L, prior_sigma=1.0):   # the exact derivatives of that wrong KL
        return mu / prior_sigma ** 2, L / prior_sigma ** 2 + 0.4 * L ** 3 - np.diag(1 / np.diag(L))

    result = check.check_exercise(9, with_mistake(kl_full_cov=wrong_kl, kl_full_cov_grads=kl_full_cov_grads))
    assert_caught(9, with_mistake(kl_full_cov=wrong_kl, kl_full_cov_grads=kl_full_cov_grads),
                  "fullkl-grad-follows-own-kl")
    assert [c.diagnosis for c in result.checks if c.status == "FAIL"] == [None, None, None, None,
                                                                          "fullkl-grad-follows-own-kl"]


def test_every_diagnosis_of_exercises_8_and_9_has_a_planted_mistake():
    planted = set(LEAPFROG_MISTAKES) | set(FULL_COV_KL_MISTAKES) | set(FULL_COV_GRAD_MISTAKES) | {
        "leapfrog-in-place", "fullkl-grad-follows-own-kl"}   # both planted above, in their own tests
    keys = {k for k in check.HINTS if k.startswith(("leapfrog-", "fullkl-"))} - check.GENERIC_HINTS
    assert keys - {"fullkl-not-a-number"} <= planted, sorted(keys - planted)


def test_an_unknown_leapfrog_mistake_gets_the_formula_and_a_null_diagnosis():
    def leapfrog_step(w, p, step_size, grad_log_prob):   # a made-up nonlinear slip: no pattern of the fit
        p_half = p + 0.5 * step_size * grad_log_prob(w)
        w_new = w + step_size * p_half + 0.01 * step_size * np.sin(w)
        return w_new, p_half + 0.5 * step_size * grad_log_prob(w_new)

    result = check.check_exercise(8, with_mistake(leapfrog_step=leapfrog_step))
    assert result.status == "failed" and result.checks[0].hints == ["leapfrog-formula"], check.format_result(result)
    assert result.checks[0].diagnosis is None
    assert "fitted" not in check.format_result(result)   # no fitted step is printed when the fit failed


def test_the_reference_step_fits_as_leapfrog_and_the_probe_terms_are_independent():
    from exercise_checker import fullcov_checks, hmc_checks
    fit_w, fit_p = hmc_checks.fit_step(reference)
    assert fit_w == {"w": 1.0, "ε p": 1.0, "ε² g(w)": 0.5} and fit_p == {"p": 1.0, "ε g(w)": 0.5, "ε g(w')": 0.5}
    assert hmc_checks.classify_step(fit_w, fit_p) == []
    terms = [fullcov_checks.kl_terms(mu, L, s) for mu, L, s in fullcov_checks.PROBES]
    X = np.array([[t[name] for name in terms[0]] for t in terms])
    assert np.linalg.matrix_rank(X) == X.shape[1]   # every term can be told apart from the others


@pytest.mark.parametrize("mistake, words", [
    ("leapfrog-full-first-kick", "≈ 0: the error does not shrink at all as ε shrinks"),
    ("leapfrog-forgot-half-step", "≈ 1: the error is ∝ ε, a FIRST-order scheme"),
    ("leapfrog-step-size-missing", "the error GROWS as ε shrinks")])
def test_the_energy_check_says_what_its_slope_means(mistake, words):
    result = check.check_exercise(8, with_mistake(leapfrog_step=LEAPFROG_MISTAKES[mistake]))
    energy = next(c for c in result.checks if c.title.startswith("the energy error"))
    assert energy.status == "FAIL" and words in flat(" ".join(energy.lines)), "\n".join(energy.lines)
    assert "only halves it" not in check.HINTS["leapfrog-energy"]


def test_a_matrix_input_is_printed_as_a_matrix_not_one_entry():
    report = check.format_result(check.check_exercise(9, with_mistake(
        kl_full_cov_grads=FULL_COV_GRAD_MISTAKES["fullkl-grad-missing-logdet"])))
    assert "L = 0.6" not in report and "at L =" in report
    assert "[ 0.9     0     0]" in report and "[-0.8   0.3   0.6]" in report, report


def test_the_json_of_a_failed_check_names_its_diagnosis_or_null(tmp_path):
    import json
    module = with_mistake(kl_full_cov=FULL_COV_KL_MISTAKES["fullkl-logdet-half"],
                          leapfrog_step=lambda w, p, step_size, grad_log_prob: (w + step_size * p + 0.01 * np.sin(w), p))
    report = check.json_results([check.check_exercise(n, module) for n in (2, 8, 9)])
    checks = {c["name"]: c for e in report["exercises"] for c in e["checks"]}
    assert all(c["diagnosis"] is None for c in checks.values() if c["passed"])
    ex9 = [c for c in checks.values() if c["exercise"] == 9 and not c["passed"]]
    assert ex9 and all(c["diagnosis"] == "fullkl-logdet-half" for c in ex9)
    assert all("hint: " + check.HINTS["fullkl-logdet-half"] in c["message"] for c in ex9)
    ex8 = [c for c in checks.values() if c["exercise"] == 8 and not c["passed"]]
    assert ex8 and ex8[0]["diagnosis"] is None and "hint: " + check.HINTS["leapfrog-formula"] in ex8[0]["message"]
    json.dumps(report)   # serialisable as written by --json


# ---------------------------------------------------------------- the stated number of exercises (issue 22, item 7)

NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen twenty").split()


def test_the_number_of_exercises_stated_on_the_site_and_in_the_guide_is_the_number_there_are():
    """A new exR_*.py must come with its registry entry, its learning goal and the new count in the text."""
    import re
    files = sorted(EXERCISES_DIR.glob("ex[0-9]*_*.py"))
    assert len(files) == len(NUMBERS), [f.name for f in files]
    word = NUMBER_WORDS[len(files)]
    index = (EXERCISES_DIR.parent.parent / "docs" / "index.md").read_text(encoding="utf-8")
    guide = (EXERCISES_DIR / "README.md").read_text(encoding="utf-8")
    assert f"[Exercises](exercises.md): {word} classroom exercises" in index
    assert guide.startswith(f"# minivi classroom exercises\n\n{word.capitalize()} exercises ")
    goals = guide.split("**Learning goals**", 1)[1].split("**Prerequisites.**", 1)[0]
    assert re.findall(r"^(\d+)\. ", goals, flags=re.M) == [str(n) for n in NUMBERS], goals
    table = re.findall(r"^\| (\d+) \| `(ex\d+_\w+\.py)` \|", guide, flags=re.M)
    assert table == [(str(n), check.EXERCISES[n].file) for n in NUMBERS]


@pytest.mark.parametrize("diagnosis, softplus", [
    ("softplus-sign", lambda rho: np.logaddexp(0, -rho)), ("softplus-is-relu", lambda rho: np.maximum(rho, 0.0)),
    ("softplus-missing-one", lambda rho: np.log(np.exp(rho))), ("softplus-log-base", lambda rho: np.log10(1 + np.exp(rho))),
    ("softplus-is-exp", np.exp)])
def test_each_softplus_mistake_is_named(diagnosis, softplus):
    module = with_mistake(softplus=softplus)
    assert_caught(1, module, diagnosis)
    assert check.check_exercise(1, module).checks[0].diagnosis == diagnosis


# ---------------------------------------------------------------- exercise 10: AIS log weights and the log evidence


def _lse(log_w):
    m = np.max(log_w)
    return m + np.log(np.sum(np.exp(log_w - m)))


def _weights_at_new_point(log_likelihoods, betas):   # the issue's: each step reads the state after its transition
    log_w = np.zeros(log_likelihoods.shape[1])
    for t in range(1, len(betas)):
        log_w += (betas[t] - betas[t - 1]) * log_likelihoods[t]
    return log_w


AIS_WEIGHT_MISTAKES = {
    "ais-beta-not-increment": lambda ll, betas: betas[1:] @ ll[:-1],                      # the issue's: β_t for β_t − β_{t−1}
    "ais-likelihood-at-new-point": _weights_at_new_point,
    "ais-trapezoid": lambda ll, betas: np.diff(betas) @ (0.5 * (ll[:-1] + ll[1:])),      # thermodynamic integration
    "ais-increment-sign": lambda ll, betas: (betas[:-1] - betas[1:]) @ ll[:-1],
    "ais-uniform-steps": lambda ll, betas: np.mean(ll[:-1], axis=0),                      # 1/T whatever the schedule
    "ais-mean-over-steps": lambda ll, betas: np.mean(np.diff(betas)[:, None] * ll[:-1], axis=0),
    "ais-increment-missing": lambda ll, betas: np.sum(ll[:-1], axis=0),
    "ais-sum-over-chains": lambda ll, betas: np.sum(np.diff(betas)[:, None] * ll[:-1], axis=1),
    "ais-not-summed-over-steps": lambda ll, betas: np.diff(betas)[:, None] * ll[:-1],
    "ais-weights-not-log": lambda ll, betas: np.exp(np.diff(betas) @ ll[:-1]),
}

AIS_ESTIMATE_MISTAKES = {
    "ais-mean-of-log-weights": lambda log_w: float(np.mean(log_w)),                      # the issue's: averaged in log space
    "ais-lse-without-log-n": lambda log_w: float(_lse(log_w)),
    "ais-lme-overflow": lambda log_w: float(np.log(np.mean(np.exp(log_w)))),
    "ais-max-not-added-back": lambda log_w: float(np.log(np.mean(np.exp(log_w - np.max(log_w))))),
    "ais-max-weight-only": lambda log_w: float(np.max(log_w)),
    "ais-log-divided-by-n": lambda log_w: float(_lse(log_w) / len(log_w)),
    "ais-log-n-factor": lambda log_w: float(_lse(log_w) + np.log(len(log_w))),
    "ais-evidence-not-log": lambda log_w: float(np.mean(np.exp(log_w))),
    "ais-max-added-twice": lambda log_w: float(np.max(log_w) + np.log(np.mean(np.exp(log_w)))),
    "ais-n-not-log-n": lambda log_w: float(_lse(log_w) - len(log_w)),
}


@pytest.mark.parametrize("diagnosis", sorted(AIS_WEIGHT_MISTAKES))
def test_each_ais_weight_mistake_is_named(diagnosis):
    module = with_mistake(ais_log_weights=AIS_WEIGHT_MISTAKES[diagnosis])
    report = assert_caught(10, module, diagnosis)
    result = check.check_exercise(10, module)
    failed = [c for c in result.checks if c.status == "FAIL"]
    assert failed and all(c.diagnosis == diagnosis for c in failed), report
    assert all(c.status == "ok" for c in result.checks if c.title.startswith("log_evidence_estimate")), report
    assert result.checks[-1].status == "FAIL", report   # the estimate of the known evidence misses too
    assert "your log weight of each chain, fitted exactly" in report or "your result" in report, report


@pytest.mark.parametrize("diagnosis", sorted(AIS_ESTIMATE_MISTAKES))
def test_each_ais_estimate_mistake_is_named(diagnosis):
    module = with_mistake(log_evidence_estimate=AIS_ESTIMATE_MISTAKES[diagnosis])
    report = assert_caught(10, module, diagnosis)
    result = check.check_exercise(10, module)
    failed = [c for c in result.checks if c.status == "FAIL"]
    assert failed and all(c.diagnosis == diagnosis for c in failed), report
    assert all(c.status == "ok" for c in result.checks if c.title.startswith("ais_log_weights")), report
    assert "your estimate" in report, report


def test_the_three_ais_mistakes_of_the_issue_show_what_the_student_computed():
    report = assert_caught(10, with_mistake(ais_log_weights=AIS_WEIGHT_MISTAKES["ais-beta-not-increment"]),
                           "ais-beta-not-increment")
    assert "is Σ_{t=1}^{T} β_t · log p(data|w_{t−1});" in report, report
    assert "ok    ais_log_weights with one step, betas = [0, 1]" in report   # β_1 = β_1 − β_0 there
    report = assert_caught(10, with_mistake(ais_log_weights=_weights_at_new_point), "ais-likelihood-at-new-point")
    assert "is Σ_{t=1}^{T} (β_t − β_{t−1}) · log p(data|w_t);" in report, report
    assert "log p(data|w_0)" not in report.split("fitted exactly")[1].split("hint:")[0]   # w_0 is never used
    report = assert_caught(10, with_mistake(log_evidence_estimate=AIS_ESTIMATE_MISTAKES["ais-mean-of-log-weights"]),
                           "ais-mean-of-log-weights")
    assert "your estimate, fitted exactly on 12 random sets of log weights (n = 2 to 60): 1·mean_c log W_c" in report
    conjugate = check.check_exercise(10, with_mistake(
        log_evidence_estimate=AIS_ESTIMATE_MISTAKES["ais-mean-of-log-weights"])).checks[-1]
    assert conjugate.status == "FAIL" and "standard errors" in " ".join(conjugate.lines)


def test_the_overflow_is_named_only_on_log_weights_too_large_to_exponentiate():
    result = check.check_exercise(10, with_mistake(log_evidence_estimate=AIS_ESTIMATE_MISTAKES["ais-lme-overflow"]))
    assert [c.status for c in result.checks] == ["ok"] * 5 + ["FAIL", "ok"], check.format_result(result)
    assert "is inf" in check.format_result(result)

    def centred_on_the_mean(log_w):   # stable for ±1000, not when the weights are 3000 nats apart
        return float(np.mean(log_w) + np.log(np.mean(np.exp(log_w - np.mean(log_w)))))

    report = assert_caught(10, with_mistake(log_evidence_estimate=centred_on_the_mean), "ais-lme-overflow")
    assert "your estimate of [2, 0, −3000] (one chain far behind the others) is inf" in report, report


def test_two_ais_mistakes_at_once_are_both_named():
    result = check.check_exercise(10, with_mistake(ais_log_weights=lambda ll, betas: betas[1:] @ ll[1:]))
    assert result.checks[1].hints == ["ais-beta-not-increment", "ais-likelihood-at-new-point"], \
        check.format_result(result)
    naive_sum = with_mistake(log_evidence_estimate=lambda log_w: float(np.log(np.sum(np.exp(log_w)))))
    assert {"ais-lse-without-log-n", "ais-lme-overflow"} <= set(check.check_exercise(10, naive_sum).hints)
    both = check.check_exercise(10, with_mistake(ais_log_weights=_weights_at_new_point,
                                                 log_evidence_estimate=AIS_ESTIMATE_MISTAKES["ais-mean-of-log-weights"]))
    assert both.checks[-1].hints == ["ais-likelihood-at-new-point", "ais-mean-of-log-weights"], check.format_result(both)


def test_ais_code_written_differently_from_the_reference_passes():
    def ais_log_weights(log_likelihoods, betas):
        log_w = 0.0
        for t in range(1, len(betas)):
            log_w = log_w + (betas[t] - betas[t - 1]) * log_likelihoods[t - 1]
        return log_w

    def log_evidence_estimate(log_weights):
        return np.logaddexp.reduce(log_weights) - np.log(len(log_weights))

    result = check.check_exercise(10, with_mistake(ais_log_weights=ais_log_weights,
                                                   log_evidence_estimate=log_evidence_estimate))
    assert result.passed, check.format_result(result)


def test_an_unknown_ais_mistake_gets_the_formula_and_a_null_diagnosis():
    result = check.check_exercise(10, with_mistake(   # made-up nonlinear slips: no pattern of the fits
        ais_log_weights=lambda ll, betas: np.diff(betas) @ ll[:-1] + 0.01 * np.sin(ll[0]),
        log_evidence_estimate=lambda log_w: float(_lse(log_w) - np.log(len(log_w)) + 0.5 * np.std(log_w))))
    failed = [c for c in result.checks if c.status == "FAIL"]
    assert len(failed) == 7 and all(c.diagnosis is None for c in failed), check.format_result(result)
    assert {key for c in failed for key in c.hints} == {"ais-log-weights-formula", "ais-log-evidence-formula",
                                                        "ais-evidence-formula"}
    assert "fitted" not in check.format_result(result)


def test_the_ais_probes_tell_every_pattern_apart():
    """The reference fits as the right pattern; no two candidate patterns coincide on the probes; the estimate's
    terms are independent, so each names one mistake."""
    from exercise_checker import ais_checks
    fits = [ais_checks.fit_coefficients(reference.ais_log_weights(ll, betas), ll)
            for betas, ll in ais_checks.WEIGHT_PROBES]
    assert ais_checks.classify_weights(fits) == ([], "Σ_{t=1}^{T} (β_t − β_{t−1}) · log p(data|w_{t−1})")
    patterns = [np.concatenate([placed(coefficients(betas)) for betas, _ in ais_checks.WEIGHT_PROBES])
                for coefficients, _ in ais_checks.FACTORS.values() for placed, _ in ais_checks.STATES.values()]
    assert min(np.max(np.abs(a - b)) for i, a in enumerate(patterns) for b in patterns[:i]) > 0.01
    terms = [ais_checks.estimate_terms(log_w) for log_w in ais_checks.LOG_WEIGHT_PROBES]
    X = np.array([[t[name] for name in terms[0]] for t in terms])
    assert np.linalg.matrix_rank(X) == X.shape[1]


def test_the_reference_ais_functions_refuse_bad_input():
    ll = np.zeros((3, 4))
    for betas, words in (([0.2, 0.5, 1.0], "from exactly 0"), ([0.0, 0.5, 0.9], "to exactly 1"),
                         ([0.0, 0.7, 0.5, 1.0], "increasing"), ([[0.0, 1.0]], "1-D")):
        with pytest.raises(ValueError, match=words):
            reference.ais_log_weights(np.zeros((len(np.ravel(betas)), 4)), np.array(betas))
    with pytest.raises(ValueError, match=r"shape \(T \+ 1, n_chains\) = \(4, n_chains\)"):
        reference.ais_log_weights(ll, np.array([0.0, 0.2, 0.5, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        reference.log_evidence_estimate(np.array([0.0, np.nan]))
    assert reference.log_evidence_estimate(np.log([1.0, 2.0, 3.0, 6.0])) == pytest.approx(np.log(3.0), rel=1e-14)


def test_the_conjugate_run_of_exercise_10_has_the_exact_evidence():
    """The checker's ground truth: its closed-form log p(𝒟) against a plain Monte Carlo average over the prior."""
    from exercise_checker import ais_checks
    X, y = ais_checks.conjugate_model()
    w = np.random.default_rng(7).standard_normal((400_000, X.shape[1]))
    log_w = ais_checks.log_likelihood(w, X, y)
    estimate, error = ais_checks.true_log_mean_exp(log_w), ais_checks.standard_error(log_w)
    assert abs(estimate - ais_checks.exact_log_evidence(X, y)) < 4 * error, (estimate, error)


@pytest.mark.slow
def test_the_right_ais_functions_pass_the_conjugate_check_on_200_seeds():
    """The stated calibration of the 4-standard-error check: the right functions stay within 2.94 of them."""
    from exercise_checker import ais_checks
    X, y = ais_checks.conjugate_model()
    exact = ais_checks.exact_log_evidence(X, y)
    worst = 0.0
    for seed in range(200):
        ll = ais_checks.ais_table(X, y, ais_checks.BETAS, ais_checks.N_CHAINS, np.random.default_rng(seed))
        log_w = reference.ais_log_weights(ll, ais_checks.BETAS)
        worst = max(worst, abs(reference.log_evidence_estimate(log_w) - exact) / ais_checks.standard_error(log_w))
    assert worst < 3.0, worst


# ---------------------------------------------------------------- exercise 11: the backward of a convolution


def _conv_backward(x, w, g, s, p, *, flip=False, swap=False, scatter_step=None, crop="centre", assign=False,
                   order="x, w", weight_flip=False, weight_swap=False, weight_step=None, batch="sum"):
    """A student's conv2d_backward written with loops over the kernel offsets (a, e); each keyword plants one slip.

    grad_x: offset (a, e) adds Σ_o G[n, o] W[o, c, a, e] onto the pixels (s·i + a, s·j + e) of dF/dxp (col2im);
    grad_weight: entry (a, e) collects Σ_{n, i, j} G[n, o, i, j] xp[n, c, s·i + a, s·j + e].
    """
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    oh, ow = g.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    kernel = w[:, :, ::-1, ::-1] if flip else w
    kernel = kernel.transpose(1, 0, 2, 3) if swap else kernel
    step = scatter_step or s
    dxp = np.zeros_like(xp)
    for a in range(kh):
        for e in range(kw):
            term = np.einsum("noij,oc->ncij", g, kernel[:, :, a, e])
            if assign:
                dxp[:, :, a:a + step * oh:step, e:e + step * ow:step] = term
            else:
                dxp[:, :, a:a + step * oh:step, e:e + step * ow:step] += term
    grad_x = {"centre": dxp[:, :, p:p + h, p:p + wd], "none": dxp, "corner": dxp[:, :, :h, :wd],
              "one side": dxp[:, :, p:, p:]}[crop]
    step = weight_step or s
    per_image = np.zeros((n, c_out, c_in, kh, kw))
    for a in range(kh):
        for e in range(kw):
            per_image[..., a, e] = np.einsum("noij,ncij->noc", g, xp[:, :, a:a + step * oh:step, e:e + step * ow:step])
    grad_w = {"sum": per_image.sum(0), "mean": per_image.mean(0), "stack": per_image, "first": per_image[0],
              "last": per_image[-1]}[batch]
    grad_w = grad_w[..., ::-1, ::-1] if weight_flip else grad_w
    grad_w = np.swapaxes(grad_w, -4, -3) if weight_swap else grad_w
    return (grad_x, grad_w) if order == "x, w" else (grad_w, grad_x)


def _conv_student(**slips):
    return with_mistake(conv2d_backward=lambda x, w, g, s, p: _conv_backward(x, w, g, s, p, **slips))


CONV_MISTAKES = {   # diagnosis -> the slip, planted in the student's loops above
    "conv-kernel-flip": dict(flip=True),
    "conv-input-grad-channels-swapped": dict(swap=True),       # runs only when C_in = C_out
    "conv-scatter-stride-ignored": dict(scatter_step=1),
    "conv-padding-not-cropped": dict(crop="none"),
    "conv-padding-cropped-wrong": dict(crop="corner"),
    "conv-overlaps-overwritten": dict(assign=True),
    "conv-grads-swapped": dict(order="w, x"),
    "conv-weight-flipped": dict(weight_flip=True),
    "conv-weight-grad-channels-swapped": dict(weight_swap=True),
    "conv-weight-stride-ignored": dict(weight_step=1),
    "conv-weight-batch-not-summed": dict(batch="stack"),
    "conv-weight-batch-averaged": dict(batch="mean"),
}


def test_a_students_loops_without_a_slip_pass_exercise_11():
    result = check.check_exercise(11, _conv_student())
    assert result.passed, check.format_result(result)


@pytest.mark.parametrize("diagnosis", sorted(CONV_MISTAKES))
def test_each_conv_backward_mistake_is_named(diagnosis):
    module = _conv_student(**CONV_MISTAKES[diagnosis])
    report = assert_caught(11, module, diagnosis)
    failed = [c for c in check.check_exercise(11, module).checks if c.status == "FAIL"]
    assert failed and all(c.diagnosis == diagnosis for c in failed), report
    assert "7 random cases" in report, report   # the report says what the student's numbers equal


@pytest.mark.parametrize("diagnosis, slips", [
    ("conv-padding-cropped-wrong", dict(crop="one side")), ("conv-weight-batch-not-summed", dict(batch="first")),
    ("conv-weight-batch-not-summed", dict(batch="last"))])
def test_other_forms_of_a_conv_backward_mistake_get_the_same_name(diagnosis, slips):
    assert_caught(11, _conv_student(**slips), diagnosis)


def _full_convolution_grad_x(x, w, g, s, p, *, flip):
    """dF/dx the other way: G with s − 1 zeros between its entries, padded by k − 1, slid under the kernel
    (turned by 180° when flip) with its channel axes read as (C_in, C_out), then the padding cut off."""
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    oh, ow = g.shape[2:]
    spread = np.zeros((n, c_out, (oh - 1) * s + 1, (ow - 1) * s + 1))
    spread[:, :, ::s, ::s] = g
    spread = np.pad(spread, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    kernel = w[:, :, ::-1, ::-1] if flip else w
    dxp = np.zeros((n, c_in, h + 2 * p, wd + 2 * p))
    for u in range((oh - 1) * s + kh):
        for v in range((ow - 1) * s + kw):
            dxp[:, :, u, v] = np.einsum("noae,ocae->nc", spread[:, :, u:u + kh, v:v + kw], kernel)
    return dxp[:, :, p:p + h, p:p + wd]


def test_grad_x_as_a_full_convolution_passes_with_the_flip_and_is_named_without_it():
    def student(flip):
        return with_mistake(conv2d_backward=lambda x, w, g, s, p: (
            _full_convolution_grad_x(x, w, g, s, p, flip=flip), _conv_backward(x, w, g, s, p)[1]))

    result = check.check_exercise(11, student(flip=True))
    assert result.passed, check.format_result(result)
    report = assert_caught(11, student(flip=False), "conv-kernel-flip")
    assert "the kernel turned by 180°" in report, report


def test_overlaps_overwritten_in_a_loop_over_the_windows_are_named_and_right_without_overlap():
    def conv2d_backward(x, w, g, s, p):   # each window's patch assigned, in the order of the output pixels
        kh, kw = w.shape[2:]
        dxp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * p, x.shape[3] + 2 * p))
        for i in range(g.shape[2]):
            for j in range(g.shape[3]):
                dxp[:, :, s * i:s * i + kh, s * j:s * j + kw] = np.einsum("no,ocae->ncae", g[:, :, i, j], w)
        return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], _conv_backward(x, w, g, s, p)[1]

    report = assert_caught(11, with_mistake(conv2d_backward=conv2d_backward), "conv-overlaps-overwritten")
    assert "ok    both, stride = kernel size (windows side by side, no overlap)" in report, report
    assert "[ 1   3   2]" in report and "[ 4  10   6]" in report, report   # the hand-worked case, as matrices


@pytest.mark.parametrize("returned", ["dx twice", "dw twice"])
def test_one_gradient_returned_in_the_others_place_is_named(returned):
    def conv2d_backward(x, w, g, s, p):
        grad_x, grad_w = _conv_backward(x, w, g, s, p)
        return (grad_x, grad_x) if returned == "dx twice" else (grad_w, grad_w)

    report = assert_caught(11, with_mistake(conv2d_backward=conv2d_backward), "conv-grads-swapped")
    assert ("second result (grad_weight's place) is dF/dx" in report) == (returned == "dx twice"), report


def test_two_conv_backward_slips_at_once_are_all_named():
    result = check.check_exercise(11, _conv_student(flip=True, crop="none", batch="mean"))
    assert {"conv-kernel-flip", "conv-padding-not-cropped", "conv-weight-batch-averaged"} <= set(result.hints), \
        check.format_result(result)


def test_an_unknown_conv_backward_mistake_gets_the_formula_and_a_null_diagnosis():
    def conv2d_backward(x, w, g, s, p):   # a made-up slip: no pattern the probes know
        grad_x, grad_w = _conv_backward(x, w, g, s, p)
        return grad_x + 0.01 * np.sin(x), grad_w * 1.01

    result = check.check_exercise(11, with_mistake(conv2d_backward=conv2d_backward))
    failed = [c for c in result.checks if c.status == "FAIL"]
    assert failed and all(c.diagnosis is None for c in failed), check.format_result(result)
    assert {key for c in failed for key in c.hints} == {"conv-grad-x-formula", "conv-grad-weight-formula"}


def test_the_conv_probes_tell_every_pattern_apart():
    """Two different combinations of slips never give the same numbers on every probe where both are defined."""
    from exercise_checker import conv_checks as cc
    patterns = {}
    for flags, settings, crop_mode, overwrite in cc.grad_x_candidates():
        if not overwrite:
            patterns["x " + ",".join(flags)] = [
                None if cc.contributions(k, **settings) is None
                else cc.crop(np.nansum(cc.contributions(k, **settings), axis=(0, 1)), c["padding"], crop_mode)
                for k, c in enumerate(cc.PROBES)]
    for flags, settings in cc.weight_candidates():
        patterns["w " + ",".join(map(str, flags))] = [cc.weight_candidate(k, **settings)
                                                      for k in range(len(cc.PROBES))]
    names = list(patterns)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if a[0] != b[0]:
                continue
            both = [(u, v) for u, v in zip(patterns[a], patterns[b]) if u is not None and v is not None]
            assert not all(u.shape == v.shape and np.allclose(u, v) for u, v in both), (a, b)


def test_the_checkers_loop_gradients_are_minivis_autodiff_of_its_loop_forward():
    from exercise_checker import conv_checks as cc
    for c in cc.PROBES:
        x, w, g = mv.Tensor(c["x"], requires_grad=True), mv.Tensor(c["weight"], requires_grad=True), c["grad_out"]
        (mv.conv2d(x, w, stride=c["stride"], padding=c["padding"]) * g).sum().backward()
        np.testing.assert_allclose(cc.conv_loop(c["x"], c["weight"], c["stride"], c["padding"]),
                                   mv.conv2d(c["x"], c["weight"], stride=c["stride"], padding=c["padding"]).data,
                                   rtol=0, atol=1e-12)
        dx, dw = cc.true_grads(c["x"], c["weight"], g, c["stride"], c["padding"])
        np.testing.assert_allclose(dx, x.grad, rtol=0, atol=1e-12)
        np.testing.assert_allclose(dw, w.grad, rtol=0, atol=1e-12)


def test_the_reference_conv2d_backward_refuses_bad_input():
    x, w = np.zeros((2, 3, 6, 6)), np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"grad_out must have the shape of conv2d's output, \(2, 4, 4, 4\)"):
        reference.conv2d_backward(x, w, np.zeros((2, 4, 6, 6)), 1, 0)
    with pytest.raises(ValueError, match="no sample axis"):
        reference.conv2d_backward(x[0], w, np.zeros((4, 4, 4)), 1, 0)
    with pytest.raises(ValueError, match="channels"):
        reference.conv2d_backward(np.zeros((2, 2, 6, 6)), w, np.zeros((2, 4, 4, 4)), 1, 0)
    with pytest.raises(ValueError, match="stride"):
        reference.conv2d_backward(x, w, np.zeros((2, 4, 4, 4)), 0, 0)


# ---------------------------------------------------------------- exercises 10 and 11: the same checks on each


@pytest.mark.parametrize("prefix, planted", [
    ("ais-", set(AIS_WEIGHT_MISTAKES) | set(AIS_ESTIMATE_MISTAKES)),
    ("conv-", set(CONV_MISTAKES)),
], ids=["exercise 10", "exercise 11"])
def test_every_diagnosis_of_exercises_10_and_11_has_a_planted_mistake(prefix, planted):
    keys = {k for k in check.HINTS if k.startswith(prefix)} - check.GENERIC_HINTS
    assert keys == planted, sorted(keys ^ planted)


@pytest.mark.parametrize("number, student, diagnosis", [
    (10, lambda: with_mistake(ais_log_weights=AIS_WEIGHT_MISTAKES["ais-beta-not-increment"]), "ais-beta-not-increment"),
    (11, lambda: _conv_student(**CONV_MISTAKES["conv-overlaps-overwritten"]), "conv-overlaps-overwritten"),
], ids=["exercise 10", "exercise 11"])
def test_the_json_of_exercises_10_and_11_names_the_diagnosis(tmp_path, number, student, diagnosis):
    import json
    assert check.main([str(number), "--solutions-from", "minivi", "--json", str(tmp_path / "r.json")]) == 0
    report = check.json_results([check.check_exercise(number, student())])
    failed = [c for c in report["exercises"][0]["checks"] if not c["passed"]]
    assert failed and {c["diagnosis"] for c in failed} == {diagnosis}
    assert all("hint: " + check.HINTS[diagnosis] in c["message"] for c in failed)
    json.dumps(report)


@pytest.mark.parametrize("number, stub, checks, not_copied", [
    (10, "ex10_ais_weights.py", "ais_checks.py", ("reference", "ex1_", "ex9")),
    (11, "ex11_conv_backward.py", "conv_checks.py", ("reference", "ex1_", "ex10")),
], ids=["exercise 10", "exercise 11"])
def test_the_student_copy_of_exercise_10_or_11_alone_runs_and_reports_it_not_done(tmp_path, number, stub, checks,
                                                                                   not_copied):
    import os
    dest = tmp_path / f"week{number}"
    files = {p.relative_to(dest).as_posix() for p in make_student_copy.build(dest, [check.EXERCISES[number]])}
    assert {stub, f"exercise_checker/{checks}", "check.py", "README.md"} <= files
    assert not any(name.startswith(not_copied) for name in files), files
    readme = (dest / "README.md").read_text(encoding="utf-8")
    assert f"Start with `{stub}` and `python check.py {number}`" in readme and "1 exercise:" in readme
    env = {**os.environ, "PYTHONPATH": str(EXERCISES_DIR.parent.parent)}   # minivi, as if installed
    done = subprocess.run([sys.executable, "check.py"], cwd=dest, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and f"not done [{number}]" in done.stdout, done.stdout + done.stderr
