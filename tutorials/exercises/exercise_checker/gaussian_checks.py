"""Checks for exercises 1-3: softplus, the closed-form KL, the reparameterisation backward (steps 4, 5, 7).

Ground truth is written here again, independently of the student's file and
of minivi/gaussian.py, and gradients are judged by central finite differences
(mv.numerical_grad). When a result is wrong, the probes below re-evaluate the
usual wrong formulas at the same inputs and name the one the student's
result equals.
"""
import numpy as np

import minivi as mv

from .core import (Failure, as_array, as_tuple, exercise, expect_close, function, matches, number,
                   safe_diagnose)

# Tolerances. A correct closed form differs from ours only by rounding (~1e-15
# relative), so values use rtol 1e-10. Central differences with h = 1e-6 on
# these smooth functions err by ~1e-10 (see minivi/gradcheck.py), so gradients
# use rtol 1e-6, atol 1e-8: loose enough for that, tight enough that any wrong
# formula (off by O(1)) fails.
VALUE_RTOL = 1e-10
GRAD_RTOL, GRAD_ATOL = 1e-6, 1e-8


def true_softplus(rho):
    """log(1 + e^rho) written as max(rho, 0) + log1p(e^-|rho|): exact and stable for every rho."""
    return np.maximum(rho, 0.0) + np.log1p(np.exp(-np.abs(rho)))


def true_sigmoid(rho):
    return 1.0 / (1.0 + np.exp(-rho))


def true_kl(mu, sigma, s):
    """Per-weight KL[N(mu, sigma²) || N(0, s²)] = log(s/sigma) + (sigma² + mu²)/(2s²) - 1/2."""
    return np.log(s / sigma) + (sigma ** 2 + mu ** 2) / (2 * s ** 2) - 0.5


# ================================================================ exercise 1: softplus

EX1 = exercise(1, "softplus", "ex1_softplus.py", "softplus σ = log(1 + e^ρ) and its derivative (step 4)",
               ("softplus", "softplus_grad"))
MODERATE_RHO = np.array([-5.0, -1.5, 0.0, 0.7, 3.0, 8.0])
EXTREME_RHO = np.array([-1000.0, -50.0, 50.0, 1000.0])


def _diagnose_softplus(rho):
    """The usual wrong softplus formulas, at the same ρ."""
    candidates = [("softplus-sign", true_softplus(-rho)), ("softplus-is-relu", np.maximum(rho, 0.0)),
                  ("softplus-missing-one", rho), ("softplus-log-base", true_softplus(rho) / np.log(10.0)),
                  ("softplus-log-base", true_softplus(rho) / np.log(2.0)), ("softplus-is-exp", np.exp(rho))]
    return lambda got: [key for key, wrong in candidates if matches(got, wrong)][:1]


@EX1.check("softplus(rho) against log(1 + e^ρ) for moderate ρ")
def _softplus_values(m):
    got = function(m, "softplus")(MODERATE_RHO.copy())
    expect_close(got, true_softplus(MODERATE_RHO), what="softplus(rho)", inputs={"rho": MODERATE_RHO},
                 rtol=VALUE_RTOL, atol=0.0, truth="log(1 + e^ρ)", diagnose=_diagnose_softplus(MODERATE_RHO),
                 generic="softplus-formula")


@EX1.check("softplus(rho) stays finite and accurate for ρ = ±50, ±1000")
def _softplus_extremes(m):
    def diagnose(got):
        if not np.all(np.isfinite(got)):
            return ["softplus-overflow"]
        return ["softplus-underflow"] if got[1] == 0.0 else []

    got = function(m, "softplus")(EXTREME_RHO.copy())
    expect_close(got, true_softplus(EXTREME_RHO), what="softplus(rho)", inputs={"rho": EXTREME_RHO},
                 rtol=VALUE_RTOL, atol=0.0, truth="log(1 + e^ρ)", diagnose=diagnose, generic="softplus-formula")


def _diagnose_softplus_grad(rho):
    sig = true_sigmoid(rho)
    candidates = {"softplus-grad-is-function": true_softplus(rho), "softplus-grad-exp": np.exp(rho),
                  "softplus-grad-sign": true_sigmoid(-rho), "softplus-grad-sigmoid-derivative": sig * (1 - sig)}
    return lambda got: [key for key, wrong in candidates.items() if matches(got, wrong)][:1]


@EX1.check("softplus_grad(rho) against finite differences of softplus")
def _softplus_grad_values(m):
    got = function(m, "softplus_grad")(MODERATE_RHO.copy())
    (fd,) = mv.numerical_grad(lambda r: np.sum(true_softplus(r)), MODERATE_RHO)
    expect_close(got, fd, what="softplus_grad(rho)", inputs={"rho": MODERATE_RHO}, rtol=GRAD_RTOL,
                 atol=GRAD_ATOL, truth="central finite differences",
                 diagnose=_diagnose_softplus_grad(MODERATE_RHO), generic="softplus-grad-formula")


@EX1.check("softplus_grad(rho) stays finite for ρ = ±50, ±1000")
def _softplus_grad_extremes(m):
    got = function(m, "softplus_grad")(EXTREME_RHO.copy())
    diagnose = _diagnose_softplus_grad(EXTREME_RHO)
    expect_close(got, true_sigmoid(EXTREME_RHO), what="softplus_grad(rho)", inputs={"rho": EXTREME_RHO},
                 rtol=VALUE_RTOL, atol=1e-300, truth="1 / (1 + e^(−ρ))",
                 diagnose=lambda got: ["softplus-grad-overflow"] if not np.all(np.isfinite(got)) else diagnose(got),
                 generic="softplus-grad-formula")


# ================================================================ exercise 2: the closed-form KL

EX2 = exercise(2, "kl", "ex2_kl.py", "the closed-form KL against N(0, prior_sigma²) and its gradient (step 5)",
               ("kl_normal", "kl_normal_grads"))
# Probe weights for the diagnosis: varied mu and sigma, so each wrong formula leaves its own trace.
PROBE_MU = np.array([0.3, -0.8, 1.1, 0.0, 0.6])
PROBE_SIGMA = np.array([0.2, 0.5, 1.7, 3.0, 0.9])


def _kl_number(m, mu, sigma, prior_sigma) -> float:
    """The student's KL as one number; an array of several values means it was not summed."""
    got = as_array(function(m, "kl_normal")(mu.copy(), sigma.copy(), prior_sigma), "kl_normal")
    if got.size != 1:
        raise Failure([f"checked: kl_normal on {mu.size} weights",
                       f"expected one number (the sum over the weights), got an array of shape {got.shape}"],
                      ["kl-not-summed"])
    return float(got.reshape(()))


def _diagnose_kl(m) -> list:
    """Which wrong KL formula the student's per-weight KL matches, from single-weight probes."""
    for s in (1.0, 0.7):
        got = np.array([_kl_number(m, np.array([mu]), np.array([sigma]), s)
                        for mu, sigma in zip(PROBE_MU, PROBE_SIGMA)])
        r = got - true_kl(PROBE_MU, PROBE_SIGMA, s)        # the student's error, weight by weight
        if np.all(np.abs(r) < 1e-9):
            continue
        def constant(x):   # the same for every probe weight, to rounding
            return np.ptp(x) < 1e-8 * (1 + np.max(np.abs(r)))

        log_sigma = np.log(PROBE_SIGMA)
        if constant(r - log_sigma):                        # + c, e.g. a missing log s as well
            return ["kl-missing-log-sigma"]
        if constant(r - 2 * log_sigma):
            return ["kl-log-sign"]
        if constant(r + log_sigma):
            return ["kl-log-twice"]
        if constant(r):
            return ["kl-constant"]
        wrong = {"kl-prior-variance-missing": [np.log(s / PROBE_SIGMA) + (PROBE_SIGMA ** 2 + PROBE_MU ** 2) / 2 - 0.5],
                 "kl-sigma-for-variance": [np.log(s / PROBE_SIGMA) + (PROBE_SIGMA + PROBE_MU ** 2) / (2 * s ** 2) - 0.5,
                                           np.log(s / PROBE_SIGMA) + (PROBE_SIGMA ** 2 + PROBE_MU ** 2) / (2 * s) - 0.5],
                 "kl-missing-mu": [np.log(s / PROBE_SIGMA) + PROBE_SIGMA ** 2 / (2 * s ** 2) - 0.5],
                 "kl-quadratic-not-halved": [np.log(s / PROBE_SIGMA) + (PROBE_SIGMA ** 2 + PROBE_MU ** 2) / s ** 2 - 0.5],
                 "kl-prior-ignored": [true_kl(PROBE_MU, PROBE_SIGMA, 1.0)]}
        for key, formulas in wrong.items():
            if any(matches(got, f) for f in formulas):
                return [key]
        return []
    return []


@EX2.check("kl_normal is 0 when q equals the prior (μ = 0, σ = prior_sigma)")
def _kl_zero(m):
    for s in (1.0, 0.5):
        got = _kl_number(m, np.zeros(3), np.full(3, s), s)
        expect_close(got, 0.0, what=f"kl_normal(mu=0, sigma={s}, prior_sigma={s}) on 3 weights",
                     rtol=0.0, atol=1e-12, truth="KL[q ‖ q] = 0",
                     diagnose=lambda got: _diagnose_kl(m), generic="kl-formula")


@EX2.check("kl_normal of one weight against the closed form, prior N(0, 1)")
def _kl_one_weight(m):
    for mu, sigma in [(0.5, 0.3), (-1.0, 2.0), (0.0, 0.05)]:
        got = _kl_number(m, np.array([mu]), np.array([sigma]), 1.0)
        expect_close(got, true_kl(mu, sigma, 1.0), what="kl_normal(mu, sigma, prior_sigma) for one weight",
                     inputs={"mu": mu, "sigma": sigma, "prior_sigma": 1.0}, rtol=VALUE_RTOL, atol=1e-12,
                     truth="log(s/σ) + (σ² + μ²)/(2s²) − 1/2",
                     diagnose=lambda got: _diagnose_kl(m), generic="kl-formula")


@EX2.check("kl_normal summed over a (2, 3) array of weights, prior N(0, 0.7²)")
def _kl_summed(m):
    mu = np.array([[0.5, -1.0, 0.0], [2.0, 0.3, -0.4]])
    sigma = np.array([[0.3, 2.0, 0.05], [0.8, 1.0, 0.6]])
    truth = true_kl(mu, sigma, 0.7)
    got = _kl_number(m, mu, sigma, 0.7)

    def diagnose(got):
        return ["kl-mean-not-sum"] if matches(got, truth.mean()) else _diagnose_kl(m)

    expect_close(got, truth.sum(), what="kl_normal(mu, sigma, prior_sigma=0.7)",
                 inputs={"mu": mu, "sigma": sigma}, rtol=VALUE_RTOL, atol=1e-12,
                 truth="Σ over the weights of the closed form", diagnose=diagnose, generic="kl-formula")


@EX2.check("kl_normal agrees with a Monte Carlo estimate of E_q[log q(w) − log p(w)]")
def _kl_monte_carlo(m):
    mu, sigma, s, n = 0.4, 0.6, 0.8, 200_000
    w = mu + sigma * np.random.default_rng(2).standard_normal(n)
    log_ratio = (-np.log(sigma) - (w - mu) ** 2 / (2 * sigma ** 2)) - (-np.log(s) - w ** 2 / (2 * s ** 2))
    estimate, std_error = log_ratio.mean(), log_ratio.std() / np.sqrt(n)
    got = _kl_number(m, np.array([mu]), np.array([sigma]), s)
    # 5 standard errors: a correct KL fails this by chance with probability < 1e-6 (and the seed is fixed).
    if not abs(got - estimate) <= 5 * std_error:
        raise Failure([f"checked: kl_normal(mu={mu}, sigma={sigma}, prior_sigma={s}) for one weight",
                       f"expected {number(estimate)} ± {number(std_error)}   "
                       f"(the average of log q(w) − log p(w) over {n} samples w ~ q)",
                       f"got      {number(got)}"], safe_diagnose(_diagnose_kl, m) or ["kl-formula"])


def _diagnose_kl_grads(m, mu, sigma, s, which):
    """Hints for a wrong dKL/dmu (which=0) or dKL/dsigma (which=1)."""
    if which == 0:
        wrong = {"kl-prior-ignored": [mu], "kl-grad-s-not-squared": [mu / s], "kl-grad-mu-halved": [mu / (2 * s ** 2)],
                 "kl-quadratic-not-halved": [2 * mu / s ** 2], "kl-grads-swapped": [sigma / s ** 2 - 1 / sigma]}
    else:
        wrong = {"kl-grads-swapped": [mu / s ** 2], "kl-quadratic-not-halved": [2 * sigma / s ** 2 - 1 / sigma],
                 "kl-grad-missing-log-sigma": [sigma / s ** 2], "kl-log-sign": [1 / sigma + sigma / s ** 2],
                 "kl-log-twice": [-2 / sigma + sigma / s ** 2], "kl-prior-ignored": [sigma - 1 / sigma],
                 "kl-sigma-for-variance": [-1 / sigma + 1 / (2 * s ** 2), -1 / sigma + sigma / s]}

    def diagnose(got):
        for key, formulas in wrong.items():
            if any(matches(got, f) for f in formulas):
                return [key]
        own = mv.numerical_grad(lambda a, b: _kl_number(m, a, b, s), mu, sigma)[which]
        return ["kl-grad-follows-own-kl"] if matches(got, own, rtol=1e-5, atol=1e-7) else []
    return diagnose


@EX2.check("kl_normal_grads against finite differences of the closed-form KL")
def _kl_grads(m):
    mu = np.array([[0.5, -1.0, 0.0], [2.0, 0.3, -0.4]])
    sigma = np.array([[0.3, 2.0, 0.25], [0.8, 1.0, 0.6]])
    for s in (1.0, 0.7):
        got = as_tuple(function(m, "kl_normal_grads")(mu.copy(), sigma.copy(), s), ("grad_mu", "grad_sigma"),
                       "kl_normal_grads")
        fd = mv.numerical_grad(lambda a, b: np.sum(true_kl(a, b, s)), mu, sigma)
        for which, name in enumerate(("dKL/dmu", "dKL/dsigma")):
            expect_close(got[which], fd[which], what=f"kl_normal_grads(mu, sigma, prior_sigma={s}): {name}",
                         inputs={"mu": mu, "sigma": sigma}, rtol=GRAD_RTOL, atol=GRAD_ATOL,
                         truth="central finite differences of the KL",
                         diagnose=_diagnose_kl_grads(m, mu, sigma, s, which),
                         generic=("kl-grad-mu", "kl-grad-sigma")[which])


# ================================================================ exercise 3: reparameterisation backward

EX3 = exercise(3, "reparam", "ex3_reparam.py",
               "the reparameterisation backward: dF/dμ, dF/dσ, dF/dρ from dF/dw (step 7)", ("reparam_backward",))


def _reparam_case():
    """mu, rho, eps, and F(w) = Σ (c·w + w²/2), whose gradient is dF/dw = c + w."""
    rng = np.random.default_rng(3)
    mu, rho = rng.normal(size=(2, 3)), rng.uniform(-2.0, 1.0, size=(2, 3))
    eps, c = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    F = lambda w: np.sum(c * w + 0.5 * w ** 2)   # noqa: E731
    w = mu + true_softplus(rho) * eps
    return mu, rho, eps, F, c + w


def _diagnose_grad_rho(g, own_sigma, true_sigma, rho) -> list:
    """dF/dρ = dF/dσ · dσ/dρ with the wrong dσ/dρ (exercise 1's slips), or right after a wrong dF/dσ."""
    sigma_wrong = not matches(own_sigma, true_sigma)
    if sigma_wrong and matches(g, own_sigma * true_sigmoid(rho)):
        return ["reparam-fix-sigma-first"]
    if matches(g, own_sigma) or matches(g, true_sigma):
        return ["reparam-softplus-chain-forgotten"] + (["reparam-fix-sigma-first"] if sigma_wrong else [])
    with np.errstate(over="ignore"):   # e^ρ at ρ = 1000 is inf: then it matches nothing
        wrong_links = ((true_softplus(rho), "reparam-softplus-not-derivative"),
                       (true_sigmoid(-rho), "reparam-dsigma-drho-sign"), (np.exp(rho), "reparam-dsigma-drho-exp"))
    for dsigma_drho, key in wrong_links:
        if matches(g, own_sigma * dsigma_drho) or matches(g, true_sigma * dsigma_drho):
            return [key]
    return []


def _reparam_check(m, which):
    mu, rho, eps, F, grad_w = _reparam_case()
    sigma = true_softplus(rho)
    got = as_tuple(function(m, "reparam_backward")(grad_w.copy(), eps.copy(), rho.copy()),
                   ("grad_mu", "grad_sigma", "grad_rho"), "reparam_backward")
    fd = {"mu": mv.numerical_grad(lambda a: F(a + sigma * eps), mu)[0],
          "sigma": mv.numerical_grad(lambda a: F(mu + a * eps), sigma)[0],
          "rho": mv.numerical_grad(lambda a: F(mu + true_softplus(a) * eps), rho)[0]}
    name = ("mu", "sigma", "rho")[which]

    def diagnose(g):
        true_sigma, own_sigma = grad_w * eps, got[1]
        if which == 0:
            return ["reparam-mu-times-eps"] if matches(g, grad_w * eps) else []
        if which == 1:
            if matches(g, grad_w):
                return ["reparam-sigma-without-eps"]
            if matches(g, -true_sigma):
                return ["reparam-sigma-sign"]
            return ["reparam-chain-in-sigma"] if matches(g, true_sigma * true_sigmoid(rho)) else []
        return _diagnose_grad_rho(g, own_sigma, true_sigma, rho)

    inputs = {"dF/dw": grad_w, "eps": eps, "rho": rho} | ({"sigma": sigma} if which == 2 else {})
    expect_close(got[which], fd[name], what=f"reparam_backward(grad_w, eps, rho) -> grad_{name} = dF/d{name}",
                 inputs=inputs, rtol=GRAD_RTOL, atol=GRAD_ATOL,
                 truth="finite differences of " + ("F(μ + σ·ε) in μ", "F(μ + σ·ε) in σ",
                                                   "F(μ + softplus(ρ)·ε) in ρ")[which], diagnose=diagnose,
                 generic="reparam-formula")


EX3.check("grad_mu against finite differences of F(μ + σε) in μ")(lambda m: _reparam_check(m, 0))
EX3.check("grad_sigma against finite differences of F(μ + σε) in σ")(lambda m: _reparam_check(m, 1))
EX3.check("grad_rho against finite differences of F(μ + softplus(ρ)ε) in ρ")(lambda m: _reparam_check(m, 2))


@EX3.check("grad_rho stays finite and right for ρ = ±50, ±1000")
def _reparam_extremes(m):
    rho = EXTREME_RHO.copy()
    grad_w, eps = np.array([0.7, -1.2, 0.4, 2.0]), np.array([1.3, 0.5, -0.8, -1.1])
    got = as_tuple(function(m, "reparam_backward")(grad_w.copy(), eps.copy(), rho.copy()),
                   ("grad_mu", "grad_sigma", "grad_rho"), "reparam_backward")

    def diagnose(g):
        if not np.all(np.isfinite(g)):
            return ["reparam-grad-rho-overflow"]
        return _diagnose_grad_rho(g, as_array(got[1], "grad_sigma"), grad_w * eps, rho)

    expect_close(got[2], grad_w * eps * true_sigmoid(rho), what="reparam_backward(grad_w, eps, rho) -> grad_rho",
                 inputs={"dF/dw": grad_w, "eps": eps, "rho": rho}, rtol=VALUE_RTOL, atol=1e-300,
                 truth="dF/dw · ε · 1 / (1 + e^(−ρ))", diagnose=diagnose, generic="reparam-formula")
