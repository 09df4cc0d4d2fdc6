"""Checks for exercise 9: the KL of a full-covariance Gaussian q = N(μ, L Lᵀ) and its gradient in L.

Ground truth, written here independently of the student's file and of
minivi/fullcov.py: the general Gaussian KL with tr Σ and log det Σ computed by
NumPy from Σ = L Lᵀ (np.trace, np.linalg.slogdet), a Monte Carlo estimate of
E_q[log q(w) − log p(w)], exercise 2's mean-field KL for a diagonal L, and
central finite differences (mv.numerical_grad) over the entries of L on and
below the diagonal, the only entries that are parameters.

The diagnosis runs the student's functions on 24 random (μ, L, s) with D = 1
to 4 and fits the ERROR (the student's value minus the right one) exactly as a
sum of terms: the KL's own terms (tr Σ/s², μᵀμ/s², D, D log s, Σ log L_ii, 1)
and what students write in their place (tr Σ without 1/s², the diagonal of L
only, tr L, log of the diagonal of L Lᵀ, s for s², ...). Each term found names
a mistake (a missing factor 2 on the log-determinant leaves +1/2 Σ log L_ii),
several terms name several, and the report prints the fitted error. A mistake
outside these terms gets the formula as its hint.
"""
import numpy as np

import minivi as mv

from .core import (Diagnosis, Failure, as_array, as_tuple, describe_terms, exercise, expect_close, fit_terms, function,
                   matches, matrix_lines, number, safe_diagnose)

# Tolerances. The closed form differs from ours by rounding only. slogdet of Σ = L Lᵀ
# loses about cond(Σ)·1e-16 relative; the probe matrices below have cond(Σ) < 100, so
# values use rtol 1e-10. Central differences with h = 1e-6 err by ~1e-10 on these smooth
# functions (L_ii >= 0.4 keeps the 1/L_ii terms tame): gradients use rtol 1e-6, atol 1e-8.
VALUE_RTOL = 1e-10
GRAD_RTOL, GRAD_ATOL = 1e-6, 1e-8

EX9 = exercise(9, "fullcov", "ex9_fullcov_kl.py",
               "the KL of a full-covariance Gaussian q = N(μ, L Lᵀ) and its gradient in L",
               ("kl_full_cov", "kl_full_cov_grads"))

CASE_MU = np.array([0.4, -0.7, 1.2])
CASE_L = np.array([[0.9, 0.0, 0.0], [0.5, 1.3, 0.0], [-0.8, 0.3, 0.6]])


def _random_probes(n=24, seed=90):
    """n random (μ, L, s): D = 1, 2, 3, 4 in turn, L_ii in [0.4, 2], entries below the diagonal ~ N(0, 0.8²)."""
    rng, probes = np.random.default_rng(seed), []
    for i in range(n):
        d = 1 + i % 4
        L = np.tril(0.8 * rng.normal(size=(d, d)), -1) + np.diag(rng.uniform(0.4, 2.0, size=d))
        probes.append((rng.normal(size=d), L, float(rng.choice([0.6, 0.8, 1.0, 1.5]))))
    return probes


# Probes for the diagnosis: different sizes, scales and priors, so each wrong term leaves its own trace.
PROBES = _random_probes()


def true_kl(mu, L, s):
    """1/2 [tr(Σ)/s² + μᵀμ/s² − D + D log s² − log det Σ] with Σ = L Lᵀ, by NumPy's trace and slogdet."""
    cov = L @ L.T
    d = mu.size
    sign, log_det = np.linalg.slogdet(cov)
    assert sign > 0
    return 0.5 * (np.trace(cov) / s ** 2 + mu @ mu / s ** 2 - d + d * np.log(s ** 2) - log_det)


def _kl_number(m, mu, L, s) -> float:
    got = as_array(function(m, "kl_full_cov")(mu.copy(), L.copy(), s), "kl_full_cov")
    if got.size != 1:
        raise Failure([f"checked: kl_full_cov on D = {mu.size} weights",
                       f"expected one number (the KL of the whole Gaussian), got an array of shape {got.shape}"],
                      ["fullkl-not-a-number"])
    return float(got.reshape(()))


def kl_terms(mu, L, s) -> dict:
    """The terms a wrong KL is fitted with: the right ones, and what students write in their place."""
    cov, d = L @ L.T, mu.size
    cov_inv = np.linalg.inv(cov)
    return {"tr(Σ)/s²": np.trace(cov) / s ** 2, "tr(Σ)": np.trace(cov), "tr(Σ)/s": np.trace(cov) / s,
            "Σ_i L_ii²/s²": np.sum(np.diag(L) ** 2) / s ** 2, "tr(L)/s²": np.trace(L) / s ** 2,
            "Σ_ij Σ_ij/s²": np.sum(cov) / s ** 2, "s² tr(Σ⁻¹)": s ** 2 * np.trace(cov_inv),
            "μᵀμ/s²": mu @ mu / s ** 2, "μᵀμ": mu @ mu, "μᵀμ/s": mu @ mu / s, "μᵀΣ⁻¹μ": mu @ cov_inv @ mu,
            "D": d, "D log s": d * np.log(s), "log s": np.log(s), "D²": d ** 2, "D² log s": d ** 2 * np.log(s),
            "Σ_i log L_ii": np.sum(np.log(np.diag(L))), "Σ_i log (L Lᵀ)_ii": np.sum(np.log(np.diag(cov))),
            "1": 1.0}


LOGDET_KEYS = {1.0: "fullkl-missing-logdet", 0.5: "fullkl-logdet-half", -1.0: "fullkl-logdet-twice",
               2.0: "fullkl-logdet-sign"}
KL_PRIOR_IGNORED = {"tr(Σ)/s²": -0.5, "tr(Σ)": 0.5, "μᵀμ/s²": -0.5, "μᵀμ": 0.5, "D log s": -1.0}


def classify_kl(error: dict) -> list:
    """The hint keys of the mistakes that (student's KL − closed form) = Σ factor·term shows, term by term."""
    if error == KL_PRIOR_IGNORED:
        return ["fullkl-prior-ignored"]
    if "s² tr(Σ⁻¹)" in error and "μᵀΣ⁻¹μ" in error:   # the prior's covariance and q's swapped everywhere
        return ["fullkl-reversed"]
    keys = ["fullkl-d-wrong"] if "D²" in error or "D² log s" in error else []
    trace_keys = [key for term, key in (("Σ_i L_ii²/s²", "fullkl-trace-diagonal-only"), ("tr(L)/s²", "fullkl-trace-of-L"),
                                        ("tr(Σ)", "fullkl-trace-no-prior-precision"),
                                        ("tr(Σ)/s", "fullkl-prior-sigma-not-squared"),
                                        ("Σ_ij Σ_ij/s²", "fullkl-trace-all-entries"),
                                        ("s² tr(Σ⁻¹)", "fullkl-reversed")) if term in error]
    keys += trace_keys or (["fullkl-trace-factor"] if "tr(Σ)/s²" in error else [])
    mean_keys = [key for term, key in (("μᵀμ", "fullkl-mean-no-prior-precision"),
                                       ("μᵀμ/s", "fullkl-prior-sigma-not-squared"),
                                       ("μᵀΣ⁻¹μ", "fullkl-mean-uses-q-covariance")) if term in error]
    keys += mean_keys or (["fullkl-mean-factor"] if "μᵀμ/s²" in error else [])
    if "fullkl-d-wrong" not in keys:   # a wrong D shows in these terms too
        keys += ["fullkl-minus-d"] if "D" in error else []
        keys += ["fullkl-prior-logdet"] if "D log s" in error or "log s" in error else []
    if "Σ_i log (L Lᵀ)_ii" in error:
        keys.append("fullkl-logdet-diag-of-cov")
    elif "Σ_i log L_ii" in error:
        keys.append(LOGDET_KEYS.get(error["Σ_i log L_ii"], "fullkl-logdet-factor"))
    keys += ["fullkl-constant"] if "1" in error else []
    return list(dict.fromkeys(keys))


def _diagnose_kl(m) -> Diagnosis:
    """The student's KL minus the closed form on the probes, fitted as a sum of terms; the mistakes it shows."""
    error = np.array([_kl_number(m, mu, L, s) - true_kl(mu, L, s) for mu, L, s in PROBES])
    terms = [kl_terms(mu, L, s) for mu, L, s in PROBES]
    fit = fit_terms(error, {name: np.array([t[name] for t in terms]) for name in terms[0]})
    if not fit:
        return Diagnosis()
    return Diagnosis(classify_kl(fit), [f"your KL − the closed form = {describe_terms(fit)}, exactly, on "
                                        f"{len(PROBES)} random (μ, L, s) with D = 1 to 4"])


def grad_L_terms(L, s) -> dict:
    """The terms a wrong dKL/dL is fitted with (each a lower-triangular matrix)."""
    cov = L @ L.T
    return {"L/s²": L / s ** 2, "L": L, "L/s": L / s, "(L below the diagonal)/s²": np.tril(L, -1) / s ** 2,
            "I/s²": np.eye(len(L)) / s ** 2, "diag(1/L_ii)": np.diag(1.0 / np.diag(L)),
            "L_ij/(L Lᵀ)_ii": np.tril(L / np.diag(cov)[:, None]),
            "1/L_ij below the diagonal": np.tril(1.0 / np.where(L == 0, np.inf, L), -1),
            "(L⁻¹ below the diagonal)": np.tril(np.linalg.inv(L), -1)}


def classify_grad_L(error: dict) -> list:
    """The hint keys of the mistakes that (student's dKL/dL − the right one) = Σ factor·term shows.

    (A dKL/dL for prior_sigma = 1 whatever s is, L − diag(1/L_ii), leaves L − L/s²: the trace term's
    missing 1/s², the only term of dKL/dL that holds s.)
    """
    keys = [key for term, key in (("(L below the diagonal)/s²", "fullkl-trace-diagonal-only"),
                                  ("I/s²", "fullkl-trace-of-L"), ("L", "fullkl-trace-no-prior-precision"),
                                  ("L/s", "fullkl-prior-sigma-not-squared")) if term in error]
    keys += [] if keys or "L/s²" not in error else ["fullkl-grad-trace-factor"]
    keys += ["fullkl-grad-logdet-every-entry"] if "1/L_ij below the diagonal" in error else []
    keys += ["fullkl-grad-logdet-not-transposed"] if "(L⁻¹ below the diagonal)" in error else []
    if "L_ij/(L Lᵀ)_ii" in error:
        keys.append("fullkl-logdet-diag-of-cov")
    elif "diag(1/L_ii)" in error:
        keys.append({1.0: "fullkl-grad-missing-logdet"}.get(error["diag(1/L_ii)"])
                    or LOGDET_KEYS.get(error["diag(1/L_ii)"], "fullkl-logdet-factor"))
    return keys


@EX9.check("kl_full_cov is 0 when q equals the prior (μ = 0, L = s·I)")
def _kl_zero(m):
    for s in (1.0, 0.6):
        got = _kl_number(m, np.zeros(3), s * np.eye(3), s)
        expect_close(got, 0.0, what=f"kl_full_cov(mu=0, L={s}·I, prior_sigma={s}) for D = 3", rtol=0.0,
                     atol=1e-12, truth="KL[q ‖ q] = 0", diagnose=lambda got: _diagnose_kl(m),
                     generic="fullkl-formula")


@EX9.check("kl_full_cov with a diagonal L = diag(σ) is exercise 2's summed mean-field KL")
def _kl_diagonal(m):
    mu, sigma, s = np.array([0.5, -1.0, 0.0]), np.array([0.3, 2.0, 0.8]), 0.7
    mean_field = np.sum(np.log(s / sigma) + (sigma ** 2 + mu ** 2) / (2 * s ** 2) - 0.5)
    got = _kl_number(m, mu, np.diag(sigma), s)
    expect_close(got, mean_field, what="kl_full_cov(mu, diag(sigma), prior_sigma=0.7)",
                 inputs={"mu": mu, "sigma": sigma}, rtol=VALUE_RTOL, atol=1e-12,
                 truth="Σ_i log(s/σ_i) + (σ_i² + μ_i²)/(2s²) − 1/2, exercise 2",
                 diagnose=lambda got: _diagnose_kl(m), generic="fullkl-formula")


@EX9.check("kl_full_cov of a correlated q (D = 3) against 1/2 [tr Σ/s² + μᵀμ/s² − D + D log s² − log det Σ]")
def _kl_correlated(m):
    for s in (1.0, 0.8):
        got = _kl_number(m, CASE_MU, CASE_L, s)
        expect_close(got, true_kl(CASE_MU, CASE_L, s), what=f"kl_full_cov(mu, L, prior_sigma={s})",
                     inputs={"mu": CASE_MU, "L": CASE_L}, rtol=VALUE_RTOL, atol=1e-12,
                     truth="tr and log det of Σ = L Lᵀ by NumPy",
                     diagnose=lambda got: _diagnose_kl(m), generic="fullkl-formula")


@EX9.check("kl_full_cov agrees with a Monte Carlo estimate of E_q[log q(w) − log p(w)]")
def _kl_monte_carlo(m):
    mu, L, s, n = np.array([0.3, -0.2]), np.array([[0.6, 0.0], [0.4, 0.5]]), 0.9, 200_000
    eps = np.random.default_rng(4).standard_normal((n, 2))
    w = mu + eps @ L.T
    # log q(w) = −½‖ε‖² − Σ log L_ii + c and log p(w) = −‖w‖²/(2s²) − D log s + c, the same c = −(D/2) log 2π.
    log_ratio = (-0.5 * np.sum(eps ** 2, axis=1) - np.sum(np.log(np.diag(L)))) \
        - (-np.sum(w ** 2, axis=1) / (2 * s ** 2) - 2 * np.log(s))
    estimate, std_error = log_ratio.mean(), log_ratio.std() / np.sqrt(n)
    got = _kl_number(m, mu, L, s)
    # 5 standard errors: a correct KL fails this by chance with probability < 1e-6 (and the seed is fixed).
    if not abs(got - estimate) <= 5 * std_error:
        raise Failure([f"checked: kl_full_cov(mu, L, prior_sigma={s}) at mu = {number(mu)} and",
                       *matrix_lines("L =", L),
                       f"expected {number(estimate)} ± {number(std_error)}   (the average of log q(w) − log p(w) "
                       f"over {n} samples w = μ + L ε)",
                       f"got      {number(got)}"], safe_diagnose(_diagnose_kl, m) or ["fullkl-formula"])


def _lower_fd(m_kl, mu, L):
    """Central differences of a KL(mu, L) in mu and in the entries of L on and below the diagonal."""
    lower = np.tril(np.ones(L.shape, dtype=bool))

    def kl_of(a, lower_entries):
        M = np.zeros(L.shape)
        M[lower] = lower_entries
        return m_kl(a, M)

    fd_mu, fd_lower = mv.numerical_grad(kl_of, mu, L[lower])
    fd_L = np.zeros(L.shape)
    fd_L[lower] = fd_lower
    return fd_mu, fd_L


def _grad_errors(m, which: int) -> list:
    """On each probe: the student's dKL/dμ (which=0) or dKL/dL (1) minus central differences of the closed form."""
    return [_grads(m, mu, L, s)[which] - _lower_fd(lambda a, M: true_kl(a, M, s), mu, L)[which]
            for mu, L, s in PROBES]


# Central differences err by ~1e-10 on the probes, so the fit of a gradient's error allows 1e-6 relative.
GRAD_FIT_TOL = 1e-6


def _diagnose_grad_mu(m) -> Diagnosis:
    terms = {"μ/s²": [mu / s ** 2 for mu, _, s in PROBES], "μ": [mu for mu, _, _ in PROBES],
             "μ/s": [mu / s for mu, _, s in PROBES]}
    fit = fit_terms(np.concatenate(_grad_errors(m, 0)), {k: np.concatenate(v) for k, v in terms.items()},
                    tol=GRAD_FIT_TOL)
    if not fit:
        return Diagnosis()
    keys = [key for term, key in (("μ", "fullkl-mean-no-prior-precision"), ("μ/s", "fullkl-prior-sigma-not-squared"),
                                  ("μ/s²", "fullkl-grad-mu-factor")) if term in fit][:1]
    return Diagnosis(keys, [f"your dKL/dμ − the right one = {describe_terms(fit)}, exactly, on {len(PROBES)} "
                            "random (μ, L, s) with D = 1 to 4"])


def _diagnose_grad_L(m, mu, L, s):
    def diagnose(got):
        if np.any(np.abs(np.triu(got, 1)) > GRAD_ATOL):
            return ["fullkl-grad-not-lower"]
        errors = _grad_errors(m, 1)
        terms = [grad_L_terms(L_, s_) for _, L_, s_ in PROBES]
        fit = fit_terms(np.concatenate([e.ravel() for e in errors]),
                        {k: np.concatenate([t[k].ravel() for t in terms]) for k in terms[0]}, tol=GRAD_FIT_TOL)
        if fit:
            found = classify_grad_L(fit)
            if found:
                return Diagnosis(found, [f"your dKL/dL − the right one = {describe_terms(fit)}, exactly, on "
                                         f"{len(PROBES)} random (μ, L, s) with D = 1 to 4"])
        own = _lower_fd(lambda a, M: _kl_number(m, a, M, s), mu, L)[1]
        return ["fullkl-grad-follows-own-kl"] if matches(got, own, rtol=1e-5, atol=1e-7) else []
    return diagnose


def _grads(m, mu, L, s):
    return as_tuple(function(m, "kl_full_cov_grads")(mu.copy(), L.copy(), s), ("grad_mu", "grad_L"),
                    "kl_full_cov_grads")


@EX9.check("kl_full_cov_grads: dKL/dμ against finite differences")
def _grad_mu(m):
    for s in (1.0, 0.8):
        got = _grads(m, CASE_MU, CASE_L, s)[0]
        fd_mu = _lower_fd(lambda a, M: true_kl(a, M, s), CASE_MU, CASE_L)[0]
        expect_close(got, fd_mu, what=f"kl_full_cov_grads(mu, L, prior_sigma={s}): dKL/dmu",
                     inputs={"mu": CASE_MU}, rtol=GRAD_RTOL, atol=GRAD_ATOL, truth="central finite differences",
                     diagnose=lambda got: _diagnose_grad_mu(m), generic="fullkl-grad-mu")


@EX9.check("kl_full_cov_grads: dKL/dL against finite differences on and below the diagonal, 0 above it")
def _grad_L(m):
    for s in (1.0, 0.8):
        got = _grads(m, CASE_MU, CASE_L, s)[1]
        fd_L = _lower_fd(lambda a, M: true_kl(a, M, s), CASE_MU, CASE_L)[1]
        expect_close(got, fd_L, what=f"kl_full_cov_grads(mu, L, prior_sigma={s}): dKL/dL",
                     inputs={"L": CASE_L}, rtol=GRAD_RTOL, atol=GRAD_ATOL,
                     truth="central finite differences in each L_ij with j <= i; 0 for j > i",
                     diagnose=_diagnose_grad_L(m, CASE_MU, CASE_L, s), generic="fullkl-grad-L")
