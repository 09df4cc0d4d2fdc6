"""Checks for exercise 9: the KL of a full-covariance Gaussian q = N(μ, L Lᵀ) and its gradient in L.

Ground truth, written here independently of the student's file and of
minivi/fullcov.py: the general Gaussian KL with tr Σ and log det Σ computed by
NumPy from Σ = L Lᵀ (np.trace, np.linalg.slogdet), a Monte Carlo estimate of
E_q[log q(w) − log p(w)], exercise 2's mean-field KL for a diagonal L, and
central finite differences (mv.numerical_grad) over the entries of L on and
below the diagonal, the only entries that are parameters.
"""
import numpy as np

import minivi as mv

from .core import Failure, as_array, as_tuple, exercise, expect_close, function, matches, number, safe_diagnose

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
# Probes for the diagnosis: different sizes and diagonals, so each wrong formula leaves its own trace.
PROBES = [(np.array([0.3]), np.array([[0.45]])),
          (np.array([-0.5, 0.8]), np.array([[1.6, 0.0], [0.7, 0.5]])),
          (CASE_MU, CASE_L),
          (np.array([0.0, 0.2, -0.1]), np.array([[0.7, 0.0, 0.0], [-0.5, 2.2, 0.0], [0.9, 0.1, 1.1]])),
          (np.array([1.0, -0.3]), np.array([[0.5, 0.0], [-1.1, 0.9]]))]


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


def _diagnose_kl(m) -> list:
    """Which wrong formula the student's KL matches, from the probes (each with two prior scales)."""
    for s in (1.0, 0.7):
        got = np.array([_kl_number(m, mu, L, s) for mu, L in PROBES])
        truth = np.array([true_kl(mu, L, s) for mu, L in PROBES])
        r = got - truth
        if np.all(np.abs(r) < 1e-9):
            continue
        sum_log_diag = np.array([np.sum(np.log(np.diag(L))) for _, L in PROBES])

        def depends_on_d_only(x):   # the same for probes of equal D (a forgotten D/2 or D log s), to rounding
            dims = np.array([mu.size for mu, _ in PROBES])
            return all(np.ptp(x[dims == d]) < 1e-8 * (1 + np.max(np.abs(r))) for d in set(dims))

        if depends_on_d_only(r - sum_log_diag):
            return ["fullkl-missing-logdet"]
        if depends_on_d_only(r + sum_log_diag):
            return ["fullkl-logdet-twice"]
        if depends_on_d_only(r - 2 * sum_log_diag):
            return ["fullkl-logdet-sign"]
        if depends_on_d_only(r):
            return ["fullkl-constant"]
        off_diagonal = np.array([np.sum(np.tril(L, -1) ** 2) for _, L in PROBES]) / (2 * s ** 2)
        trace_of_L = np.array([np.trace(L) - np.sum(L ** 2) for _, L in PROBES]) / (2 * s ** 2)
        wrong = {"fullkl-trace-diagonal-only": [truth - off_diagonal],
                 "fullkl-trace-of-L": [truth + trace_of_L],
                 "fullkl-prior-ignored": [np.array([true_kl(mu, L, 1.0) for mu, L in PROBES])]}
        for key, formulas in wrong.items():
            if any(matches(got, f) for f in formulas):
                return [key]
        return []
    return []


@EX9.check("kl_full_cov is 0 when q equals the prior (μ = 0, L = s·I)")
def _kl_zero(m):
    for s in (1.0, 0.6):
        got = _kl_number(m, np.zeros(3), s * np.eye(3), s)
        expect_close(got, 0.0, what=f"kl_full_cov(mu=0, L={s}·I, prior_sigma={s}) for D = 3", rtol=0.0,
                     atol=1e-12, truth="KL[q ‖ q] = 0", diagnose=lambda got: _diagnose_kl(m),
                     generic="fullkl-constant")


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
        raise Failure([f"checked: kl_full_cov(mu, L, prior_sigma={s}) at mu = {number(mu)}, L = {number(L)}",
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


def _diagnose_grad_L(m, mu, L, s):
    inv_diag = np.diag(1.0 / np.diag(L))

    def diagnose(got):
        if np.any(np.abs(np.triu(got, 1)) > GRAD_ATOL):
            return ["fullkl-grad-not-lower"]
        wrong = {"fullkl-grad-missing-logdet": L / s ** 2, "fullkl-logdet-twice": L / s ** 2 - 2 * inv_diag,
                 "fullkl-logdet-sign": L / s ** 2 + inv_diag, "fullkl-prior-ignored": L - inv_diag}
        for key, value in wrong.items():
            if matches(got, value):
                return [key]
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
                     diagnose=lambda got: ["fullkl-prior-ignored"] if matches(got, CASE_MU) else [],
                     generic="fullkl-grad-mu")


@EX9.check("kl_full_cov_grads: dKL/dL against finite differences on and below the diagonal, 0 above it")
def _grad_L(m):
    for s in (1.0, 0.8):
        got = _grads(m, CASE_MU, CASE_L, s)[1]
        fd_L = _lower_fd(lambda a, M: true_kl(a, M, s), CASE_MU, CASE_L)[1]
        expect_close(got, fd_L, what=f"kl_full_cov_grads(mu, L, prior_sigma={s}): dKL/dL",
                     inputs={"L": CASE_L}, rtol=GRAD_RTOL, atol=GRAD_ATOL,
                     truth="central finite differences in each L_ij with j <= i; 0 for j > i",
                     diagnose=_diagnose_grad_L(m, CASE_MU, CASE_L, s), generic="fullkl-grad-L")
