"""Exact answers: conjugate Bayesian linear regression, the ground truth.

For the model

    y = Phi w + noise,   noise ~ N(0, noise_sigma^2 I),   prior w ~ N(0, prior_sigma^2 I),

with Phi of shape (N, D) (one row of features phi_n per data point) and y of
shape (N,), everything the derivation calls intractable (steps 1-3) has a
closed form: the posterior p(w|𝒟), the evidence p(𝒟), the ELBO of any Gaussian
q, and the best factorised (mean-field) q. Tests and tutorials compare
variational answers against these numbers.

This module is pure NumPy and imports nothing else from minivi, so that it
stays an independent check. Every inverse and determinant goes through a
Cholesky factor L (A = L L^T): log det A = 2 sum_i log L_ii, and
A^-1 b = L^-T (L^-1 b).
"""

import warnings
from math import erf, sqrt

import numpy as np

from .nn import check_count, check_positive

LOG_2PI = np.log(2.0 * np.pi)

# Rounding leaves a computed covariance asymmetric by about 1e-16 relative;
# an asymmetry above this relative size is a real mistake in the input.
SYMMETRY_RTOL = 1e-10
# evidence_by_quadrature warns when its integrand, at an edge of the box, is still within this many
# nats of its peak: the box cuts off mass (measured: an edge 20.8 nats down left the log evidence
# 1.2e-10 low, 11.5 nats down 3e-6 low).
EDGE_NATS = 20.0


class UnresolvedGridWarning(UserWarning):
    """evidence_by_quadrature's grid is too coarse or its box too small: the sum is not the evidence."""


def _as_real_array(x, name):
    """Return ``x`` as a float64 array, refusing non-numbers, NaN and inf."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}; pass a float array.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; remove or impute those entries first.")
    return array


def _checked_data(Phi, y):
    """Phi must be (N, D) and y must be (N,): one target per row of Phi."""
    Phi = _as_real_array(Phi, "Phi")
    y = _as_real_array(y, "y")
    if Phi.ndim != 2:
        raise ValueError(
            f"Phi must be 2-D with shape (N, D), one row of features per data point, "
            f"got shape {Phi.shape}; for a single feature pass x.reshape(-1, 1)."
        )
    if y.shape != (Phi.shape[0],):
        raise ValueError(
            f"y has shape {y.shape} but Phi has shape {Phi.shape}; y must have shape "
            f"({Phi.shape[0]},), one target per row of Phi (a column (N, 1) can be "
            f"passed as y.ravel())."
        )
    return Phi, y


def _checked_gaussian(mean, cov, mean_name, cov_name):
    """mean must be (D,), cov must be (D, D) and symmetric (positive definiteness: see _cholesky)."""
    mean = _as_real_array(mean, mean_name)
    cov = _as_real_array(cov, cov_name)
    if mean.ndim != 1 or cov.shape != (mean.shape[0], mean.shape[0]):
        raise ValueError(
            f"{mean_name} has shape {mean.shape} and {cov_name} has shape {cov.shape}; "
            f"a Gaussian over D weights needs a mean of shape (D,) and a covariance (D, D)."
        )
    if np.max(np.abs(cov - cov.T), initial=0.0) > SYMMETRY_RTOL * np.max(np.abs(cov), initial=0.0):
        raise ValueError(f"{cov_name} is not symmetric; a covariance equals its transpose "
                         f"(use (cov + cov.T) / 2 if the asymmetry is rounding).")
    return mean, 0.5 * (cov + cov.T)


def _cholesky(matrix, name):
    """Lower Cholesky factor, with an error that says what went wrong."""
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{name} is not positive definite (its Cholesky factorisation failed); "
            f"a covariance must have all eigenvalues > 0."
        ) from None


def _cho_solve(L, b):
    """A^-1 b for A = L L^T: solve L z = b, then L^T x = z."""
    return np.linalg.solve(L.T, np.linalg.solve(L, b))


def _log_det(L):
    """log det A = 2 sum_i log L_ii for A = L L^T."""
    return 2.0 * np.sum(np.log(np.diag(L)))


def _posterior_precision_cholesky(Phi, prior_sigma, noise_sigma):
    """Cholesky factor of the posterior precision A = Phi^T Phi / noise_sigma^2 + I / prior_sigma^2."""
    d = Phi.shape[1]
    precision = Phi.T @ Phi / noise_sigma**2 + np.eye(d) / prior_sigma**2
    return _cholesky(precision, "the posterior precision")


# ---------------------------------------------------------------- posterior and evidence (steps 1, 3)


def blr_posterior(Phi, y, prior_sigma, noise_sigma):
    """The exact posterior p(w|𝒟) = N(mean, cov)   (step 1, Bayes' rule, in closed form).

        cov  = (Phi^T Phi / noise_sigma^2 + I / prior_sigma^2)^-1
        mean = cov Phi^T y / noise_sigma^2

    Returns (mean of shape (D,), cov of shape (D, D), exactly symmetric).
    """
    Phi, y = _checked_data(Phi, y)
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="blr_posterior", squared=True)
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="blr_posterior", squared=True)
    L = _posterior_precision_cholesky(Phi, prior_sigma, noise_sigma)
    mean = _cho_solve(L, Phi.T @ y) / noise_sigma**2
    L_inv = np.linalg.solve(L, np.eye(L.shape[0]))
    cov = L_inv.T @ L_inv
    return mean, 0.5 * (cov + cov.T)


def blr_log_evidence(Phi, y, prior_sigma, noise_sigma):
    """log p(𝒟) = log N(y; 0, C),  C = prior_sigma^2 Phi Phi^T + noise_sigma^2 I   (step 1's evidence).

        log p(𝒟) = -1/2 [N log 2 pi + log det C + y^T C^-1 y]

    C is N x N; both terms are computed from the D x D posterior precision
    A = Phi^T Phi / noise_sigma^2 + I / prior_sigma^2 instead, costing
    O(N D^2 + D^3) rather than O(N^3):
        log det C = N log noise_sigma^2 + D log prior_sigma^2 + log det A
                    (the matrix determinant lemma),
        y^T C^-1 y = |y - Phi m|^2 / noise_sigma^2 + |m|^2 / prior_sigma^2
                    (Woodbury; equivalently, completing the square in w),
                    with m = A^-1 Phi^T y / noise_sigma^2 the posterior mean.
    The second form is a sum of squares, so it cannot cancel catastrophically.
    Returns a Python float.
    """
    Phi, y = _checked_data(Phi, y)
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="blr_log_evidence", squared=True)
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="blr_log_evidence", squared=True)
    n, d = Phi.shape
    L = _posterior_precision_cholesky(Phi, prior_sigma, noise_sigma)
    mean = _cho_solve(L, Phi.T @ y) / noise_sigma**2
    log_det_C = n * np.log(noise_sigma**2) + d * np.log(prior_sigma**2) + _log_det(L)
    quad = np.sum((y - Phi @ mean) ** 2) / noise_sigma**2 + np.sum(mean**2) / prior_sigma**2
    return float(-0.5 * (n * LOG_2PI + log_det_C + quad))


def evidence_by_quadrature(Phi, y, prior_sigma, noise_sigma, n_grid=801, half_width=None):
    """log p(𝒟) = log of the integral of p(𝒟|w) p(w) dw, done by brute force on a grid (step 1).

    Step 1 says this integral is hopeless in high dimension; for D = 1 or 2
    weights it is easy, and it checks ``blr_log_evidence`` without any of
    its algebra. The tensor-product trapezoid rule on a grid of n_grid points
    per axis over [-half_width, half_width]^D (default half_width =
    8 prior_sigma, where the prior density has fallen by e^-32) is summed in
    log space (log-sum-exp), since p(𝒟|w) alone underflows for moderate N.
    For a smooth integrand that vanishes at the box edges the trapezoid rule
    converges exponentially fast, once the grid step is well below the
    posterior's standard deviation. Widen half_width if the posterior sits
    in the prior's far tail.

    An UnresolvedGridWarning says when the sum is not the evidence: the grid step is wider than
    the integrand's narrowest standard deviation (1/sqrt of the largest eigenvalue of its
    curvature Phi^T Phi / noise_sigma^2 + I / prior_sigma^2; with a step at that width the
    trapezoid rule is still off by about 1e-8 relative), or at an edge of the box the integrand
    is still within EDGE_NATS = 20 nats of its peak. The value returned is then the
    trapezoid sum on that grid.

    |y - Phi w|^2 is expanded as y^T y - 2 w^T Phi^T y + w^T Phi^T Phi w so
    the grid never meets the N data points one by one.
    D > 2 raises ValueError: the grid would have n_grid^D points.
    """
    Phi, y = _checked_data(Phi, y)
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="evidence_by_quadrature", squared=True)
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="evidence_by_quadrature", squared=True)
    n, d = Phi.shape
    if d not in (1, 2):
        raise ValueError(
            f"evidence_by_quadrature handles D = 1 or 2 weights, got D = {d}: a grid of "
            f"n_grid points per axis has n_grid^D points ({n_grid}^{d}), which is the "
            f"curse of dimensionality of step 1. Use blr_log_evidence for D > 2."
        )
    if half_width is None:
        half_width = 8.0 * prior_sigma
    half_width = check_positive(half_width, "half_width", who="evidence_by_quadrature")
    n_grid = check_count(n_grid, "n_grid", 3)

    axis = np.linspace(-half_width, half_width, n_grid)
    step = axis[1] - axis[0]
    log_weight_1d = np.log(np.full(axis.shape, step))
    log_weight_1d[[0, -1]] += np.log(0.5)
    grids = np.meshgrid(*([axis] * d), indexing="ij")
    w = np.stack([g.ravel() for g in grids], axis=1)                     # (n_grid^D, D)
    log_weight = sum(np.meshgrid(*([log_weight_1d] * d), indexing="ij")).ravel()

    squared_residual = y @ y - 2.0 * w @ (Phi.T @ y) + np.sum((w @ (Phi.T @ Phi)) * w, axis=1)
    log_likelihood = -0.5 * n * np.log(2.0 * np.pi * noise_sigma**2) - squared_residual / (2.0 * noise_sigma**2)
    log_prior = -0.5 * d * np.log(2.0 * np.pi * prior_sigma**2) - np.sum(w**2, axis=1) / (2.0 * prior_sigma**2)
    terms = log_likelihood + log_prior + log_weight
    largest = np.max(terms)
    _check_grid(terms, largest, step, n_grid, half_width, Phi.T @ Phi / noise_sigma**2 + np.eye(d) / prior_sigma**2)
    return float(largest + np.log(np.sum(np.exp(terms - largest))))


def _check_grid(terms, largest, step, n_grid, half_width, curvature):
    """Warn when the grid does not resolve the integrand or the box cuts it off (see evidence_by_quadrature)."""
    narrowest = 1.0 / np.sqrt(np.linalg.eigvalsh(curvature)[-1])
    index = np.indices((n_grid,) * len(curvature)).reshape(len(curvature), -1)
    on_edge = np.any((index == 0) | (index == n_grid - 1), axis=0)
    problems = []
    if step > narrowest:
        problems.append(f"the grid step {step:.3g} is wider than the integrand's narrowest standard deviation "
                        f"{narrowest:.3g}: use n_grid >= {int(np.ceil(2 * half_width / narrowest)) + 1}")
    if np.max(terms[on_edge]) > largest - EDGE_NATS:
        problems.append(f"at the box's edge (half_width = {half_width:g}) the integrand is still within "
                        f"{EDGE_NATS:g} nats of its peak: widen half_width")
    if problems:
        warnings.warn("evidence_by_quadrature: the sum is not the evidence: " + "; ".join(problems),
                      UnresolvedGridWarning, stacklevel=3)


# ---------------------------------------------------------------- Gaussian q: KL and ELBO (step 3)


def kl_gaussians(mean_q, cov_q, mean_p, cov_p):
    """KL[N(m_q, S_q) || N(m_p, S_p)] between full-covariance Gaussians   (step 3).

        KL = 1/2 [ tr(S_p^-1 S_q) + (m_p - m_q)^T S_p^-1 (m_p - m_q) - D
                   + log det S_p - log det S_q ]

    With Cholesky factors S_p = L_p L_p^T, S_q = L_q L_q^T:
    tr(S_p^-1 S_q) = |L_p^-1 L_q|_F^2 and the quadratic form is |L_p^-1 (m_p - m_q)|^2.
    Returns a Python float.
    """
    mean_q, cov_q = _checked_gaussian(mean_q, cov_q, "mean_q", "cov_q")
    mean_p, cov_p = _checked_gaussian(mean_p, cov_p, "mean_p", "cov_p")
    if mean_q.shape != mean_p.shape:
        raise ValueError(f"mean_q has shape {mean_q.shape} but mean_p has shape {mean_p.shape}; "
                         f"both Gaussians must be over the same D weights.")
    L_q = _cholesky(cov_q, "cov_q")
    L_p = _cholesky(cov_p, "cov_p")
    trace = np.sum(np.linalg.solve(L_p, L_q) ** 2)
    mahalanobis = np.sum(np.linalg.solve(L_p, mean_p - mean_q) ** 2)
    d = mean_q.shape[0]
    return float(0.5 * (trace + mahalanobis - d + _log_det(L_p) - _log_det(L_q)))


def elbo_gaussian_q(Phi, y, prior_sigma, noise_sigma, mean_q, cov_q):
    """ELBO(q) = E_q[log p(𝒟|w)] - KL[q || p(w)], exactly, for q = N(m, S)   (step 3).

    The Gaussian likelihood's expectation needs no Monte Carlo:
        E_q[log p(𝒟|w)] = sum_n log N(y_n; phi_n^T m, noise_sigma^2)
                          - tr(Phi^T Phi S) / (2 noise_sigma^2),
    because E_q[(y_n - phi_n^T w)^2] = (y_n - phi_n^T m)^2 + phi_n^T S phi_n.
    The KL to the prior N(0, prior_sigma^2 I) is ``kl_gaussians``. Step 3's
    identity then holds exactly:
        log p(𝒟) = ELBO(q) + KL[q || p(w|𝒟)],
    so ELBO(q) <= log p(𝒟), with equality when q is the exact posterior.
    Returns a Python float.
    """
    Phi, y = _checked_data(Phi, y)
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="elbo_gaussian_q", squared=True)
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="elbo_gaussian_q", squared=True)
    mean_q, cov_q = _checked_gaussian(mean_q, cov_q, "mean_q", "cov_q")
    if mean_q.shape != (Phi.shape[1],):
        raise ValueError(f"mean_q has shape {mean_q.shape} but Phi has shape {Phi.shape}; "
                         f"q must be over the D = {Phi.shape[1]} weights, mean_q of shape ({Phi.shape[1]},).")
    n, d = Phi.shape
    residual = y - Phi @ mean_q
    log_lik_at_mean = -0.5 * n * np.log(2.0 * np.pi * noise_sigma**2) - np.sum(residual**2) / (2.0 * noise_sigma**2)
    spread = np.sum((Phi @ cov_q) * Phi) / (2.0 * noise_sigma**2)
    kl_prior = kl_gaussians(mean_q, cov_q, np.zeros(d), prior_sigma**2 * np.eye(d))
    return float(log_lik_at_mean - spread - kl_prior)


def mean_field_optimum(mean, cov):
    """The factorised q(w) = prod_i N(mu_i, sigma_i^2) minimising KL[q || N(mean, cov)]   (steps 3-4).

        mu_i = mean_i,   sigma_i = 1 / sqrt(Lambda_ii),   Lambda = cov^-1

    (Bishop 2006, "Pattern Recognition and Machine Learning", sec. 10.1.2).
    This q is too narrow: 1 / Lambda_ii is the variance of w_i when every
    other weight is held fixed (the conditional variance), which is never
    larger than the marginal variance cov_ii. KL[q || p] punishes q for
    putting mass where p has little, so a factorised q fits inside a
    correlated posterior rather than covering it. It matches the precision's
    diagonal, not the covariance's: expect VI error bars that are too small
    when weights are correlated.

    Lambda_ii is the squared norm of column i of L^-1, where cov = L L^T.
    Returns (mu, sigma), both of shape (D,).
    """
    mean, cov = _checked_gaussian(mean, cov, "mean", "cov")
    L = _cholesky(cov, "cov")
    L_inv = np.linalg.solve(L, np.eye(L.shape[0]))
    precision_diagonal = np.sum(L_inv**2, axis=0)
    return mean.copy(), 1.0 / np.sqrt(precision_diagonal)


def normal_cdf(z):
    """Phi(z) = (1 + erf(z / sqrt(2))) / 2, the standard normal CDF, elementwise (an array of z's shape)."""
    z = _as_real_array(z, "z")
    return np.reshape([0.5 * (1.0 + erf(v / sqrt(2.0))) for v in z.ravel()], z.shape)


def interval_mass(lower, upper, mean, sd):
    """P(lower_i <= w_i <= upper_i) when w_i ~ N(mean_i, sd_i^2), per coordinate:

        Phi((upper_i - mean_i) / sd_i) - Phi((lower_i - mean_i) / sd_i).

    The mass an exact posterior marginal N(mean, sd^2) puts inside an interval that
    some q proposes, e.g. q's 95% interval mu_q +- 1.96 sigma_q: an interval that is
    off-centre loses mass on one side even when it is wide enough. All four
    arguments are arrays of one shape (D,), or broadcast to one; sd > 0, lower <= upper.
    """
    lower, upper = _as_real_array(lower, "lower"), _as_real_array(upper, "upper")
    mean, sd = _as_real_array(mean, "mean"), _as_real_array(sd, "sd")
    try:
        lower, upper, mean, sd = np.broadcast_arrays(lower, upper, mean, sd)
    except ValueError:
        raise ValueError(f"interval_mass: lower {lower.shape}, upper {upper.shape}, mean {mean.shape} and sd "
                         f"{sd.shape} do not broadcast to one shape; pass one entry per coordinate in each.") from None
    if np.any(sd <= 0):
        raise ValueError("interval_mass: every sd must be > 0 (a standard deviation, not a variance or a "
                         "log); got " + np.array2string(sd[sd <= 0][:5]))
    if np.any(lower > upper):
        raise ValueError("interval_mass: lower > upper at some coordinate; pass (lower, upper) in that order.")
    return normal_cdf((upper - mean) / sd) - normal_cdf((lower - mean) / sd)
