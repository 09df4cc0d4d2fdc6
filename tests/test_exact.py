"""Tests for minivi.exact: conjugate Bayesian linear regression, checked against
dense textbook formulas, brute-force quadrature and step 3's identity
log p(𝒟) = ELBO(q) + KL[q || p(w|𝒟)]."""

import warnings

import numpy as np
import pytest
from hypothesis import strategies as st

from example_counts import Examples
from minivi import exact, gaussian

FAST = Examples(plain=10, slow=30, deadline=None)   # plain run / `pytest -m slow`
seeds = st.integers(0, 2**32 - 1)


def random_problem(rng, n=None, d=None):
    """Data drawn from the model itself: w ~ N(0, prior_sigma^2 I), y = Phi w + noise."""
    n = rng.integers(1, 16) if n is None else n
    d = rng.integers(1, 6) if d is None else d
    prior_sigma, noise_sigma = rng.uniform(0.5, 2.0), rng.uniform(0.3, 1.0)
    Phi = rng.normal(size=(n, d))
    y = Phi @ (prior_sigma * rng.normal(size=d)) + noise_sigma * rng.normal(size=n)
    return Phi, y, prior_sigma, noise_sigma


def random_covariance(rng, d):
    """A random symmetric positive definite matrix: A A^T plus a floor on the eigenvalues."""
    A = rng.normal(size=(d, d))
    return 0.2 * A @ A.T + 0.05 * np.eye(d)


def dense_log_gaussian(y, cov):
    """log N(y; 0, cov) straight from the definition, with slogdet and solve."""
    _, log_det = np.linalg.slogdet(cov)
    return -0.5 * (len(y) * np.log(2 * np.pi) + log_det + y @ np.linalg.solve(cov, y))


# ---------------------------------------------------------------- posterior and evidence


@FAST.given(seed=seeds)
def test_posterior_matches_the_dense_formula(seed):
    Phi, y, prior_sigma, noise_sigma = random_problem(np.random.default_rng(seed))
    cov_dense = np.linalg.inv(Phi.T @ Phi / noise_sigma**2 + np.eye(Phi.shape[1]) / prior_sigma**2)
    mean_dense = cov_dense @ Phi.T @ y / noise_sigma**2
    mean, cov = exact.blr_posterior(Phi, y, prior_sigma, noise_sigma)
    # The precision's condition number stays below ~1e3 here, so both routes
    # agree to ~1e-13; 1e-10 of the largest entry leaves margin.
    assert np.allclose(mean, mean_dense, rtol=0, atol=1e-10 * max(1.0, np.abs(mean_dense).max()))
    assert np.allclose(cov, cov_dense, rtol=0, atol=1e-10 * np.abs(cov_dense).max())
    assert np.array_equal(cov, cov.T)


@FAST.given(seed=seeds)
def test_log_evidence_matches_the_dense_gaussian_density(seed):
    Phi, y, prior_sigma, noise_sigma = random_problem(np.random.default_rng(seed))
    marginal_cov = prior_sigma**2 * Phi @ Phi.T + noise_sigma**2 * np.eye(len(y))
    expected = dense_log_gaussian(y, marginal_cov)
    assert np.isclose(exact.blr_log_evidence(Phi, y, prior_sigma, noise_sigma), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_evidence_matches_quadrature(d, seed):
    Phi, y, prior_sigma, noise_sigma = random_problem(np.random.default_rng(seed), n=12, d=d)
    # The default grid step (16 prior_sigma / 800 <= 0.04) is well below the
    # posterior standard deviation here (>= ~0.07), where the trapezoid rule
    # converges exponentially: the two agree to ~1e-14 relative.
    by_grid = exact.evidence_by_quadrature(Phi, y, prior_sigma, noise_sigma)
    assert np.isclose(by_grid, exact.blr_log_evidence(Phi, y, prior_sigma, noise_sigma), rtol=1e-9, atol=0)


def test_quadrature_refuses_more_than_two_weights():
    Phi, y, prior_sigma, noise_sigma = random_problem(np.random.default_rng(0), n=5, d=3)
    with pytest.raises(ValueError, match=r"D = 3.*n_grid\^D.*blr_log_evidence"):
        exact.evidence_by_quadrature(Phi, y, prior_sigma, noise_sigma)


# ---------------------------------------------------------------- ELBO and KL (step 3)


def random_q(rng, mean, diagonal):
    d = len(mean)
    mean_q = mean + 0.5 * rng.normal(size=d)
    cov_q = np.diag(rng.uniform(0.01, 1.0, size=d)) if diagonal else random_covariance(rng, d)
    return mean_q, cov_q


@FAST.given(seed=seeds, diagonal=st.booleans())
def test_evidence_is_elbo_plus_kl_to_the_posterior(seed, diagonal):
    rng = np.random.default_rng(seed)
    Phi, y, prior_sigma, noise_sigma = random_problem(rng)
    mean, cov = exact.blr_posterior(Phi, y, prior_sigma, noise_sigma)
    log_evidence = exact.blr_log_evidence(Phi, y, prior_sigma, noise_sigma)
    mean_q, cov_q = random_q(rng, mean, diagonal)
    elbo = exact.elbo_gaussian_q(Phi, y, prior_sigma, noise_sigma, mean_q, cov_q)
    gap = exact.kl_gaussians(mean_q, cov_q, mean, cov)
    # Every quantity is O(1e2) at most; three independent routes agree to
    # ~1e-12, so 1e-8 only forgives rounding.
    assert abs(log_evidence - elbo - gap) < 1e-8
    assert elbo <= log_evidence


@FAST.given(seed=seeds)
def test_elbo_at_the_exact_posterior_is_the_evidence(seed):
    Phi, y, prior_sigma, noise_sigma = random_problem(np.random.default_rng(seed))
    mean, cov = exact.blr_posterior(Phi, y, prior_sigma, noise_sigma)
    elbo = exact.elbo_gaussian_q(Phi, y, prior_sigma, noise_sigma, mean, cov)
    assert abs(elbo - exact.blr_log_evidence(Phi, y, prior_sigma, noise_sigma)) < 1e-8


@FAST.given(seed=seeds)
def test_kl_gaussians_is_non_negative_and_zero_at_equality(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 6))
    mean_p, cov_p = rng.normal(size=d), random_covariance(rng, d)
    mean_q, cov_q = rng.normal(size=d), random_covariance(rng, d)
    assert exact.kl_gaussians(mean_q, cov_q, mean_p, cov_p) > 0.0
    # At equality the D-term trace minus D leaves only rounding, ~1e-15 D.
    assert abs(exact.kl_gaussians(mean_p, cov_p, mean_p, cov_p)) < 1e-12


@FAST.given(seed=seeds)
def test_kl_gaussians_with_diagonal_covariances_is_the_per_weight_kl(seed):
    rng = np.random.default_rng(seed)
    mu, sigma = rng.normal(size=4), rng.uniform(0.1, 3.0, size=4)
    prior_mu, prior_sigma = rng.normal(size=4), rng.uniform(0.1, 3.0, size=4)
    full = exact.kl_gaussians(mu, np.diag(sigma**2), prior_mu, np.diag(prior_sigma**2))
    assert np.isclose(full, gaussian.kl_normal(mu, sigma, prior_mu, prior_sigma), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- the best mean-field q


@FAST.given(seed=seeds)
def test_mean_field_optimum_beats_every_perturbation(seed):
    rng = np.random.default_rng(seed)
    Phi, y, prior_sigma, noise_sigma = random_problem(rng, d=int(rng.integers(2, 6)))
    mean, cov = exact.blr_posterior(Phi, y, prior_sigma, noise_sigma)
    mu, sigma = exact.mean_field_optimum(mean, cov)

    def kl_to_posterior(m, s):
        return exact.kl_gaussians(m, np.diag(s**2), mean, cov)

    best = kl_to_posterior(mu, sigma)
    d = len(mu)
    # Relative perturbations of 1e-3 raise the KL by ~1e-6, far above rounding (~1e-14).
    for i in range(d):
        for delta in (-1e-3, 1e-3, 0.1):
            assert kl_to_posterior(mu + delta * np.sqrt(cov[i, i]) * np.eye(d)[i], sigma) > best
            assert kl_to_posterior(mu, sigma * (1 + delta * np.eye(d)[i])) > best
    for _ in range(5):
        assert kl_to_posterior(mu + 0.01 * rng.normal(size=d), sigma * np.exp(0.01 * rng.normal(size=d))) > best
    # Too narrow: the conditional standard deviation never exceeds the marginal one.
    assert np.all(sigma <= np.sqrt(np.diag(cov)) * (1 + 1e-12))
    assert np.array_equal(mu, mean)


@pytest.mark.parametrize("correlation", [-0.9, 0.0, 0.5, 0.99])
def test_mean_field_optimum_for_two_correlated_weights(correlation):
    # For cov = [[s1^2, r s1 s2], [r s1 s2, s2^2]], (cov^-1)_ii = 1 / (s_i^2 (1 - r^2)),
    # so the best factorised q has sigma_i = s_i sqrt(1 - r^2).
    s = np.array([0.5, 2.0])
    cov = np.array([[s[0] ** 2, correlation * s[0] * s[1]], [correlation * s[0] * s[1], s[1] ** 2]])
    mu, sigma = exact.mean_field_optimum(np.array([1.0, -1.0]), cov)
    assert np.allclose(sigma, s * np.sqrt(1 - correlation**2), rtol=1e-12, atol=0)
    assert np.array_equal(mu, [1.0, -1.0])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "Phi, y, prior_sigma, noise_sigma, error, message",
    [
        (np.ones(4), np.ones(4), 1.0, 1.0, ValueError, r"Phi must be 2-D.*\(4,\)"),
        (np.ones((4, 2)), np.ones((4, 1)), 1.0, 1.0, ValueError, r"y has shape \(4, 1\) but Phi has shape \(4, 2\).*ravel"),
        (np.ones((4, 2)), np.ones(3), 1.0, 1.0, ValueError, r"\(3,\).*\(4, 2\)"),
        (np.ones((4, 2)), np.ones(4), 1.0, 0.0, ValueError, "noise_sigma must be one positive finite number"),
        (np.ones((4, 2)), np.ones(4), -1.0, 1.0, ValueError, "prior_sigma must be one positive finite number"),
        (np.ones((4, 2)), np.ones(4), np.ones(2), 1.0, TypeError, "prior_sigma must be one positive finite number"),
        (np.ones((4, 2)), np.array([1.0, np.nan, 0.0, 0.0]), 1.0, 1.0, ValueError, "y contains NaN"),
        (np.ones((4, 2)), np.ones(4), 1.0, np.inf, ValueError, r"noise_sigma must be one positive finite number \(> 0\), got inf"),
        (np.array([["a", "b"]]), np.ones(1), 1.0, 1.0, TypeError, "Phi must hold real numbers"),
    ],
)
def test_regression_functions_reject_bad_input(Phi, y, prior_sigma, noise_sigma, error, message):
    for function in (exact.blr_posterior, exact.blr_log_evidence, exact.evidence_by_quadrature):
        with pytest.raises(error, match=message):
            function(Phi, y, prior_sigma, noise_sigma)


def test_gaussian_functions_reject_bad_covariances():
    mean = np.zeros(2)
    with pytest.raises(ValueError, match="cov is not symmetric"):
        exact.mean_field_optimum(mean, np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="not positive definite"):
        exact.mean_field_optimum(mean, np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match=r"mean_q has shape \(3,\) and cov_q has shape \(2, 2\)"):
        exact.kl_gaussians(np.zeros(3), np.eye(2), mean, np.eye(2))
    with pytest.raises(ValueError, match=r"mean_q has shape \(2,\) but mean_p has shape \(3,\)"):
        exact.kl_gaussians(mean, np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match=r"mean_q has shape \(3,\) but Phi has shape \(4, 2\)"):
        exact.elbo_gaussian_q(np.ones((4, 2)), np.ones(4), 1.0, 1.0, np.zeros(3), np.eye(3))


def test_normal_cdf_at_known_points():
    np.testing.assert_allclose(exact.normal_cdf(np.array([0.0, 1.959963984540054, -1.0])),
                               [0.5, 0.975, 0.15865525393145707], rtol=0, atol=1e-12)


@pytest.mark.parametrize("offset", [0.0, 0.5, 3.0])
def test_interval_mass_is_the_fraction_of_exact_posterior_draws_inside_qs_interval(offset):
    """q's 95% interval mu_q ± 1.96 sigma_q under a correlated exact posterior N(m, Σ), per coordinate, against
    the fraction of 400 000 Monte Carlo draws from that posterior inside it (binomial s.e. at most 0.0008).
    With an offset of q's mean the mass falls below 2Φ(1.96 sigma_q / sd) − 1, which ignores the offset."""
    rng = np.random.default_rng(7)
    m, sd, corr = np.array([-0.17, 0.69]), np.array([0.12, 0.20]), -0.84
    cov = np.array([[sd[0] ** 2, corr * sd[0] * sd[1]], [corr * sd[0] * sd[1], sd[1] ** 2]])
    mu_q, sigma_q = m + offset * sd * np.array([1.0, -0.5]), 0.54 * sd
    lower, upper = mu_q - 1.96 * sigma_q, mu_q + 1.96 * sigma_q
    mass = exact.interval_mass(lower, upper, m, sd)
    draws = rng.multivariate_normal(m, cov, size=400_000)
    inside = ((draws >= lower) & (draws <= upper)).mean(axis=0)
    se = np.sqrt(np.maximum(mass * (1 - mass), 1e-4) / len(draws))
    assert np.all(np.abs(inside - mass) <= 5 * se), (inside, mass)
    centred = 2 * exact.normal_cdf(1.96 * sigma_q / sd) - 1
    if offset == 0.0:
        np.testing.assert_allclose(mass, centred, rtol=0, atol=1e-12)
    else:
        assert np.all(mass < centred - 0.01), (mass, centred)   # off-centre: less mass than centred


@pytest.mark.parametrize("args, message", [
    (([0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]), "every sd must be > 0"),
    (([0.0, 2.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]), "lower > upper"),
    (([0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0], [1.0, 1.0]), "do not broadcast"),
    (([0.0, np.nan], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]), "NaN or inf"),
])
def test_interval_mass_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        exact.interval_mass(*args)


# ---------------------------------------------------------------- an outside review's inputs


@pytest.mark.parametrize("prior_sigma, noise_sigma, w_true, message", [
    (1000.0, 0.1, 3.0, "grid step 20 is wider"),                 # default box ±8000, 801 points: was 2641 nats low
    (1.0, 0.01, 30.0, "widen half_width"),                       # the posterior outside the default box
])
def test_quadrature_warns_when_its_grid_cannot_be_the_evidence(prior_sigma, noise_sigma, w_true, message):
    rng = np.random.default_rng(1)
    Phi = rng.normal(size=(4, 1))
    y = Phi[:, 0] * w_true + noise_sigma * rng.normal(size=4)
    exact_value = exact.blr_log_evidence(Phi, y, prior_sigma, noise_sigma)
    with pytest.warns(exact.UnresolvedGridWarning, match=message):
        coarse = exact.evidence_by_quadrature(Phi, y, prior_sigma, noise_sigma)
    assert abs(coarse - exact_value) > 1.0                       # the warning is about a real error
    mean, cov = exact.blr_posterior(Phi, y, prior_sigma, noise_sigma)
    half_width = abs(mean[0]) + 10 * np.sqrt(cov[0, 0])          # the fix it names: a box and a step that fit
    n_grid = int(np.ceil(2 * half_width / (np.sqrt(cov[0, 0]) / 4))) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", exact.UnresolvedGridWarning)
        fine = exact.evidence_by_quadrature(Phi, y, prior_sigma, noise_sigma, n_grid=n_grid, half_width=half_width)
    assert fine == pytest.approx(exact_value, rel=1e-9)
