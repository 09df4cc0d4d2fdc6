"""Checks for exercise 8: one leapfrog step of Hamiltonian Monte Carlo (minivi/mcmc.py).

Ground truth: the step written out again here (half step in momentum, full
step in position, half step in momentum) on a 2-D log density that is not
Gaussian, so that no wrong scheme can be right by accident; and the two
properties HMC needs from the integrator, measured on the student's own
steps: time-reversibility and an energy error that shrinks as ε².

The diagnosis does not compare with a list of wrong steps at one input: it
runs the student's step on 12 random (w, p, ε) and fits the results exactly as
w' = a·w + b·ε p + c·ε² g(w) and p' = a'·p + d·ε g(w) + k·ε g(w'), with
g = ∇log p, plus the terms with a power of ε one too high or too low. Leapfrog
is a = a' = b = 1, c = d = k = 1/2; each mistake leaves its own pattern in the
fitted factors (a whole first kick: c = d = 1; the last half kick missing:
k = 0; the force's sign: negative factors; ...), and the report prints the
fitted step, so the student sees what their code computes.
"""
import textwrap

import numpy as np

from .core import (Diagnosis, Failure, as_tuple, describe_terms, exercise, expect_close, fit_terms, function, matches,
                   number, safe_diagnose)

# One step is a few products and sums: a correct step differs from ours by rounding (~1e-16), so rtol 1e-10.
VALUE_RTOL = 1e-10
# Forward then back over 25 steps: rounding grows to ~1e-14; any non-reversible scheme errs by > 1e-4.
REVERSIBILITY_TOL = 1e-10
# The measured slope of log |energy error| against log ε: 2 for leapfrog (we see 1.99-2.01 on this
# target), 1 for the first-order schemes. [1.8, 2.2] separates them with room for the fit's curvature.
SLOPE_RANGE = (1.8, 2.2)

EX8 = exercise(8, "leapfrog", "ex8_leapfrog.py",
               "one leapfrog step of Hamiltonian Monte Carlo (Neal 2011): reversible, energy error ∝ ε²",
               ("leapfrog_step",))

# The target: log p(w) = -½ wᵀ A w - 0.1 Σ_i w_i⁴ (correlated, and not Gaussian).
A = np.array([[1.0, 0.6], [0.6, 2.0]])


def log_prob(w):
    return -0.5 * w @ A @ w - 0.1 * np.sum(w ** 4)


def grad_log_prob(w):
    """∇ log p(w) = -A w - 0.4 w³."""
    return -A @ w - 0.4 * w ** 3


def energy(w, p):
    """H = -log p(w) + ½ pᵀp (M = I)."""
    return -log_prob(w) + 0.5 * p @ p


W0, P0 = np.array([0.7, -0.4]), np.array([0.3, 0.9])


def true_step(w, p, eps, grad=grad_log_prob):
    p_half = p + 0.5 * eps * grad(w)
    w_new = w + eps * p_half
    return w_new, p_half + 0.5 * eps * grad(w_new)


def _step(m, w, p, eps):
    got = function(m, "leapfrog_step")(w.copy(), p.copy(), eps, grad_log_prob)
    return as_tuple(got, ("w_new", "p_new"), "leapfrog_step")


# Probe inputs for the diagnosis: 12 random (w, p, ε) with ε from 0.05 to 0.5, so that every term
# below varies on its own and a wrong step's pattern shows in the fitted factors, whatever the mistake.
_rng = np.random.default_rng(80)
PROBES = [(_rng.normal(size=2), _rng.normal(size=2), float(eps)) for eps in np.linspace(0.05, 0.5, 12)]
# Leapfrog written out: w' = w + ε p + ½ε² g(w),  p' = p + ½ε g(w) + ½ε g(w'), with g = ∇log p.
# The fit allows each term a factor of its own, plus the terms with a power of ε one too high
# (the step size applied twice) or one too low (the step size missing), w' = 1·w + ... in both.
TOO_HIGH = {"w": ("ε² p", "ε³ g(w)"), "p": ("ε² g(w)", "ε² g(w')")}
TOO_LOW = {"w": ("p", "ε g(w)"), "p": ("g(w)", "g(w')")}


def fit_step(m) -> tuple | None:
    """The student's step as w' = Σ factor·term and p' = Σ factor·term over the probes: two dicts, or None."""
    rows = []
    for w, p, eps in PROBES:
        got_w, got_p = _step(m, w, p, eps)
        g, g_new = grad_log_prob(w), grad_log_prob(got_w)
        rows.append((got_w, got_p, w, p, eps, g, g_new))
    stack = lambda f: np.concatenate([f(*r) for r in rows])   # noqa: E731
    fit_w = fit_terms(stack(lambda gw, gp, w, p, e, g, gn: gw),
                      {"w": stack(lambda gw, gp, w, p, e, g, gn: w),
                       "ε p": stack(lambda gw, gp, w, p, e, g, gn: e * p),
                       "ε² g(w)": stack(lambda gw, gp, w, p, e, g, gn: e ** 2 * g),
                       "ε² p": stack(lambda gw, gp, w, p, e, g, gn: e ** 2 * p),
                       "ε³ g(w)": stack(lambda gw, gp, w, p, e, g, gn: e ** 3 * g),
                       "p": stack(lambda gw, gp, w, p, e, g, gn: p),
                       "ε g(w)": stack(lambda gw, gp, w, p, e, g, gn: e * g)})
    fit_p = fit_terms(stack(lambda gw, gp, w, p, e, g, gn: gp),
                      {"p": stack(lambda gw, gp, w, p, e, g, gn: p),
                       "ε g(w)": stack(lambda gw, gp, w, p, e, g, gn: e * g),
                       "ε g(w')": stack(lambda gw, gp, w, p, e, g, gn: e * gn),
                       "ε² g(w)": stack(lambda gw, gp, w, p, e, g, gn: e ** 2 * g),
                       "ε² g(w')": stack(lambda gw, gp, w, p, e, g, gn: e ** 2 * gn),
                       "g(w)": stack(lambda gw, gp, w, p, e, g, gn: g),
                       "g(w')": stack(lambda gw, gp, w, p, e, g, gn: gn)})
    return None if fit_w is None or fit_p is None else (fit_w, fit_p)


def classify_step(fit_w: dict, fit_p: dict) -> list:
    """The hint key of the mistake a fitted step shows; [] if it is leapfrog or nothing known."""
    for extra, key in ((TOO_HIGH, "leapfrog-step-size-twice"), (TOO_LOW, "leapfrog-step-size-missing")):
        if any(t in fit_w for t in extra["w"]) or any(t in fit_p for t in extra["p"]):
            return [key]
    a_w, b, c = (fit_w.get(k, 0.0) for k in ("w", "ε p", "ε² g(w)"))
    a_p, d, k = (fit_p.get(key, 0.0) for key in ("p", "ε g(w)", "ε g(w')"))
    if a_w != 1.0:
        return []
    if a_p == -1.0 and (b, c, d, k) == (1.0, 0.5, -0.5, -0.5):
        return ["leapfrog-momentum-negated"]
    if a_p != 1.0:
        return []
    if min(c, d, k) < 0:
        return ["leapfrog-force-sign"]
    if b != 1.0:
        return ["leapfrog-position-half" if b == 0.5 else "leapfrog-position-step"]
    known = {(1.0, 1.0, 0.0): "leapfrog-forgot-half-step", (0.5, 0.5, 0.0): "leapfrog-last-half-missing",
             (0.0, 0.0, 0.5): "leapfrog-first-half-missing", (0.0, 0.0, 1.0): "leapfrog-first-half-missing",
             (0.5, 0.5, 1.0): "leapfrog-full-last-kick", (0.5, 1.0, 0.0): "leapfrog-old-gradient",
             (0.5, 0.0, 0.5): "leapfrog-last-kick-from-old-p",
             (0.0, 1.0, 0.0): "leapfrog-old-values"}
    if (c, d, k) in known:
        return [known[c, d, k]]
    if c == 1.0 and d == 1.0:
        return ["leapfrog-full-first-kick"]
    if c == 0.0 and d > 0:
        return ["leapfrog-position-old-momentum"]
    return [] if (c, d, k) == (0.5, 0.5, 0.5) else ["leapfrog-kicks"]


def _diagnose(m) -> Diagnosis:
    """The mistake the student's step shows on the probes, and the step as the fit sees it."""
    if all(matches(got[::-1], true_step(w, p, eps)) for w, p, eps in PROBES[:3]
           for got in [np.array(_step(m, w, p, eps))]):
        return Diagnosis(["leapfrog-swapped-outputs"], ["your step's two arrays are leapfrog's (p', w'), in that order"])
    fit = fit_step(m)
    if fit is None:
        return Diagnosis()
    fit_w, fit_p = fit
    return Diagnosis(classify_step(fit_w, fit_p), [
        f"your step, fitted exactly on {len(PROBES)} random (w, p, ε), with g = ∇log p:",
        f"    w' = {describe_terms(fit_w)}", f"    p' = {describe_terms(fit_p)}"])


@EX8.check("leapfrog_step(w, p, ε, grad_log_prob) against the half step, full step, half step")
def _one_step(m):
    eps = 0.3
    got_w, got_p = _step(m, W0, P0, eps)
    want_w, want_p = true_step(W0, P0, eps)
    inputs = {"w": W0, "p": P0, "step_size": eps}
    diagnose = (lambda got: safe_diagnose(_diagnose, m))
    expect_close(got_w, want_w, what="leapfrog_step(w, p, 0.3, grad_log_prob): w_new", inputs=inputs,
                 rtol=VALUE_RTOL, atol=1e-12, truth="p½ = p + (ε/2)∇log p(w);  w' = w + ε p½",
                 diagnose=diagnose, generic="leapfrog-formula")
    expect_close(got_p, want_p, what="leapfrog_step(w, p, 0.3, grad_log_prob): p_new", inputs=inputs,
                 rtol=VALUE_RTOL, atol=1e-12, truth="p' = p½ + (ε/2)∇log p(w')",
                 diagnose=diagnose, generic="leapfrog-formula")


@EX8.check("leapfrog_step leaves its input arrays w and p unchanged")
def _no_in_place(m):
    w, p = W0.copy(), P0.copy()
    function(m, "leapfrog_step")(w, p, 0.3, grad_log_prob)
    if not (np.array_equal(w, W0) and np.array_equal(p, P0)):
        raise Failure(["checked: w and p after calling leapfrog_step(w, p, 0.3, grad_log_prob)",
                       f"expected w = {number(W0)}, p = {number(P0)}   (unchanged: HMC keeps the start to "
                       "fall back on when it rejects)",
                       f"got      w = {number(w)}, p = {number(p)}"], ["leapfrog-in-place"])


def _run(m, w, p, eps, n_steps):
    for _ in range(n_steps):
        w, p = _step(m, w, p, eps)
    return w, p


@EX8.check("25 steps forward, momentum negated, 25 steps back: the start again (time-reversibility)")
def _reversible(m):
    w, p = _run(m, W0, P0, 0.1, 25)
    w_back, p_back = _run(m, w, -p, 0.1, 25)
    error = max(np.max(np.abs(w_back - W0)), np.max(np.abs(-p_back - P0)))
    if not error <= REVERSIBILITY_TOL:
        raise Failure(["checked: 25 steps of ε = 0.1 from (w, p), then 25 steps from (w', -p')",
                       f"expected to land on w = {number(W0)} with momentum {number(-P0)}   (to {REVERSIBILITY_TOL:g}: "
                       "the leapfrog step is symmetric, so running it backwards undoes it)",
                       f"got      w = {number(w_back)}, momentum {number(p_back)}   (off by {error:.3g})"],
                      safe_diagnose(_diagnose, m) or ["leapfrog-not-reversible"])


def _max_energy_error(m, eps, time=1.0):
    w, p = W0.copy(), P0.copy()
    h0, worst = energy(W0, P0), 0.0
    for _ in range(int(round(time / eps))):
        w, p = _step(m, w, p, eps)
        worst = max(worst, abs(energy(w, p) - h0))
    return worst


@EX8.check("the energy error over a trajectory of fixed length shrinks as ε² (ε = 0.1, 0.05, 0.025)")
def _energy_order(m):
    step_sizes = np.array([0.1, 0.05, 0.025])
    errors = np.array([_max_energy_error(m, eps) for eps in step_sizes])
    with np.errstate(all="ignore"):
        slope = float(np.polyfit(np.log(step_sizes), np.log(errors), 1)[0]) if np.all(errors > 0) else np.nan
    if not SLOPE_RANGE[0] <= slope <= SLOPE_RANGE[1]:
        raise Failure(["checked: the largest |H - H_0| along a trajectory of time 1, H = -log p(w) + ½ pᵀp",
                       f"at ε = {number(step_sizes)} it is {number(errors)}",
                       f"expected a slope of log error against log ε between {SLOPE_RANGE[0]} and {SLOPE_RANGE[1]}"
                       "   (leapfrog is second order: halving ε divides the error by 4)",
                       f"got      slope {number(slope)}",
                       *textwrap.wrap("what that slope means: " + slope_meaning(slope), 80,
                                      subsequent_indent="    ")],
                      safe_diagnose(_diagnose, m) or ["leapfrog-energy"])


def slope_meaning(slope: float) -> str:
    """What a slope of log(energy error) against log ε says about a step, for the energy check's report."""
    if not np.isfinite(slope):
        return ("the energy error is 0 or not a finite number at some ε, so no slope can be measured: "
                "a step that does not move (returns w and p unchanged) keeps H exactly, and one that "
                "blows up gives inf or NaN")
    if slope > SLOPE_RANGE[1]:
        return (f"{slope:.2g} is steeper than ε²: the error shrinks faster than leapfrog's, which happens when "
                "the step moves less than it should (e.g. a factor ε too many somewhere)")
    if slope >= 0.6:
        return (f"{slope:.2g} ≈ 1: the error is ∝ ε, a FIRST-order scheme: it follows Hamilton's equations as "
                "ε → 0, but its steps are not symmetric (e.g. one whole momentum step instead of two halves)")
    if slope >= -0.4:
        return (f"{slope:.2g} ≈ 0: the error does not shrink at all as ε shrinks. Each step makes a mistake of "
                "size ∝ ε (an extra kick, a wrong factor, the wrong sign of the force), and the 1/ε steps of the "
                "trajectory add up to an error that stays the same: the step does not follow Hamilton's "
                "equations even for tiny ε")
    return (f"{slope:.2g} ≤ −0.4 (≈ −1 if ∝ 1/ε): the error GROWS as ε shrinks. Each step makes a mistake "
            "that does not shrink with ε (an update without its factor ε), so more, smaller steps make it worse")
