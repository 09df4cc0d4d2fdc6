"""Checks for exercise 8: one leapfrog step of Hamiltonian Monte Carlo (minivi/mcmc.py).

Ground truth: the step written out again here (half step in momentum, full
step in position, half step in momentum) on a 2-D log density that is not
Gaussian, so that no wrong scheme can be right by accident; and the two
properties HMC needs from the integrator, measured on the student's own
steps: time-reversibility and an energy error that shrinks as ε².

The probes re-run the usual wrong steps (half steps made whole: symplectic
Euler; a half step left out; the force with the wrong sign; a position step
of ε/2; updates that all use the old values) at the same inputs and name the
one the student's result equals.
"""
import numpy as np

from .core import Failure, as_tuple, exercise, expect_close, function, matches, number, safe_diagnose

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


def wrong_steps(w, p, eps):
    """The usual mistakes, each as (hint key, (w', p'))."""
    g = grad_log_prob
    p_full = p + eps * g(w)
    w_euler_b = w + eps * p
    p_half = p + 0.5 * eps * g(w)
    w_after_half = w + eps * p_half
    return [
        ("leapfrog-forgot-half-step", (w + eps * p_full, p_full)),                              # symplectic Euler
        ("leapfrog-forgot-half-step", (w_euler_b, p + eps * g(w_euler_b))),                     # the other Euler
        ("leapfrog-forgot-half-step", (w_after_half, p_half)),                                  # last half left out
        ("leapfrog-forgot-half-step", (w_euler_b, p + 0.5 * eps * g(w_euler_b))),               # first half left out
        ("leapfrog-force-sign", true_step(w, p, eps, grad=lambda v: -g(v))),
        ("leapfrog-force-sign", (w + eps * (p - 0.5 * eps * g(w)),
                                 p - 0.5 * eps * g(w) + 0.5 * eps * g(w + eps * (p - 0.5 * eps * g(w))))),
        ("leapfrog-force-sign", (w_after_half, p_half - 0.5 * eps * g(w_after_half))),
        ("leapfrog-position-half", (w + 0.5 * eps * p_half, p_half + 0.5 * eps * g(w + 0.5 * eps * p_half))),
        ("leapfrog-old-values", (w_euler_b, p_full)),                                           # plain Euler
    ]


def _step(m, w, p, eps):
    got = function(m, "leapfrog_step")(w.copy(), p.copy(), eps, grad_log_prob)
    return as_tuple(got, ("w_new", "p_new"), "leapfrog_step")


def _diagnose(m):
    """The hint keys of the wrong step that the student's step equals at (W0, P0, ε = 0.3)."""
    got_w, got_p = _step(m, W0, P0, 0.3)
    return [key for key, (w, p) in wrong_steps(W0, P0, 0.3) if matches(got_w, w) and matches(got_p, p)][:1]


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
                       f"got      slope {number(slope)}"],
                      safe_diagnose(_diagnose, m) or ["leapfrog-energy"])
