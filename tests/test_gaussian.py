"""Tests for minivi.gaussian: the derivation's formulas on plain arrays (steps 4, 5, 7)."""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from example_counts import Examples
from minivi import gaussian as g

FAST = Examples(plain=10, slow=40, deadline=None)   # plain run / `pytest -m slow`

# Central differences with step H in float64: the truncation error is about
# H^2 |F'''| / 6 ~ 1e-13 for the smooth functions below, the rounding error
# about eps_machine * |F| / H ~ 2e-10 |F|. A formula mistake is O(1) off.
H = 1e-6


def central_difference(f, x):
    """dF/dx_i ~ (F(x + H e_i) - F(x - H e_i)) / (2 H) for a float-valued F of an array x."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = H
        grad[i] = (f(x + step) - f(x - step)) / (2 * H)
    return grad


def rounding_tolerance(value):
    """Absolute tolerance for a central difference of F with |F| = value: 50 eps |F| / H."""
    return 50 * np.finfo(np.float64).eps * max(1.0, abs(value)) / H


def finite_floats(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def vectors(lo, hi, size=3):
    return hnp.arrays(np.float64, size, elements=finite_floats(lo, hi))


def log_density(w, mean, std):
    """log N(w; mean, std^2), written out here so the tests do not lean on the module."""
    return -0.5 * np.log(2 * np.pi) - np.log(std) - 0.5 * ((w - mean) / std) ** 2


# ---------------------------------------------------------------- softplus (step 4)


@FAST.given(rho=finite_floats(-30, 30))
def test_softplus_matches_log1p_exp(rho):
    # On [-30, 30] exp(rho) neither overflows nor underflows, so log1p(exp(rho))
    # is accurate to a few ulps; 1e-14 relative allows that.
    assert np.isclose(g.softplus(rho), np.log1p(np.exp(rho)), rtol=1e-14, atol=0)


@FAST.given(rho=finite_floats(-20, 20))
def test_softplus_grad_matches_central_difference(rho):
    numeric = central_difference(lambda r: float(g.softplus(r)), rho)
    assert np.isclose(g.softplus_grad(rho), numeric, rtol=1e-6, atol=rounding_tolerance(g.softplus(rho)))


@FAST.given(rho=finite_floats(-30, 30))
def test_softplus_grad_is_the_logistic_sigmoid(rho):
    # 1 / (1 + exp(-rho)) is safe on [-30, 30]; both sides are a few ulps accurate.
    assert np.isclose(g.softplus_grad(rho), 1.0 / (1.0 + np.exp(-rho)), rtol=1e-14, atol=0)


def test_softplus_and_its_grad_are_finite_at_extreme_rho():
    rho = np.array([-1e300, -1000.0, -30.0, 0.0, 30.0, 1000.0, 1e300])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        sigma = g.softplus(rho)
        slope = g.softplus_grad(rho)
    assert np.all(np.isfinite(sigma)) and np.all(sigma >= 0)
    assert np.all(np.isfinite(slope)) and np.all((slope >= 0) & (slope <= 1))
    # Limits: softplus(rho) -> rho and sigmoid -> 1 for large rho; e^rho and 0 for very negative rho.
    assert g.softplus(1000.0) == 1000.0 and g.softplus(1e300) == 1e300
    assert g.softplus_grad(1000.0) == 1.0 and g.softplus_grad(-1000.0) == 0.0
    # log(1 + x) = x - x^2/2 + ...: for x = e^-30 the relative gap to x is 5e-14.
    assert np.isclose(g.softplus(-30.0), np.exp(-30.0), rtol=1e-13, atol=0)
    assert g.softplus(0.0) == np.log(2.0) and g.softplus_grad(0.0) == 0.5


@FAST.given(rho=finite_floats(-30, 30))
def test_inverse_softplus_undoes_softplus(rho):
    # Both maps are well conditioned in relative terms here: a few ulps of rho.
    assert np.isclose(g.inverse_softplus(g.softplus(rho)), rho, rtol=1e-12, atol=1e-12)


@FAST.given(sigma=finite_floats(1e-12, 1e3))
def test_softplus_undoes_inverse_softplus(sigma):
    assert np.isclose(g.softplus(g.inverse_softplus(sigma)), sigma, rtol=1e-12, atol=0)


@pytest.mark.parametrize("sigma", [0.0, -1.0, np.nan, np.inf, [1.0, 0.0]])
def test_inverse_softplus_rejects_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        g.inverse_softplus(sigma)


def test_softplus_rejects_non_numbers_and_nan():
    with pytest.raises(TypeError, match="real numbers"):
        g.softplus(np.array(["1.0"]))
    with pytest.raises(ValueError, match="NaN or inf"):
        g.softplus(np.array([0.0, np.nan]))


# ---------------------------------------------------------------- reparameterisation (step 7)


def test_reparameterize_broadcasts_over_a_sample_axis():
    mu, sigma = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    eps = np.array([[1.0, -2.0], [0.0, 4.0], [-1.0, 1.0]])
    w = g.reparameterize(mu, sigma, eps)
    assert w.shape == (3, 2)
    assert np.array_equal(w[1], [0.5, 0.0])  # 0.5 + 2*0, -1 + 0.25*4, exact in binary


def test_reparameterize_names_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"\(3,\).*\(3,\).*\(2,\)"):
        g.reparameterize(np.zeros(3), np.ones(3), np.zeros(2))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        g.reparameterize(np.zeros(3), np.array([1.0, 0.0, 1.0]), np.zeros(3))


def nonlinear_loss(w, c):
    """A scalar F(w) = sum(c sin(w)) + sum(w^2)/4 standing in for a network's loss; dF/dw = c cos(w) + w/2."""
    return float(np.sum(c * np.sin(w)) + 0.25 * np.sum(w**2))


def nonlinear_loss_grad(w, c):
    return c * np.cos(w) + 0.5 * w


@FAST.given(seed=st.integers(0, 2**32 - 1), n_samples=st.integers(0, 3))
def test_reparameterize_grads_match_central_differences(seed, n_samples):
    rng = np.random.default_rng(seed)
    mu, rho, c = rng.normal(size=4), rng.uniform(-3, 3, size=4), rng.normal(size=4)
    sample_shape = (n_samples,) if n_samples else ()
    eps = rng.standard_normal(sample_shape + (4,))
    sigma = g.softplus(rho)
    sample_axes = tuple(range(len(sample_shape)))

    grad_w = nonlinear_loss_grad(g.reparameterize(mu, sigma, eps), c)
    grad_mu, grad_sigma = g.reparameterize_grads(grad_w, eps)
    grad_mu, grad_sigma = grad_mu.sum(axis=sample_axes), grad_sigma.sum(axis=sample_axes)
    grad_rho = g.sigma_grad_to_rho(grad_sigma, rho)

    def loss(m, s):
        return nonlinear_loss(m + s * eps, c)

    atol = rounding_tolerance(loss(mu, sigma))
    assert np.allclose(grad_mu, central_difference(lambda m: loss(m, sigma), mu), rtol=1e-6, atol=atol)
    assert np.allclose(grad_sigma, central_difference(lambda s: loss(mu, s), sigma), rtol=1e-6, atol=atol)
    numeric_rho = central_difference(lambda r: loss(mu, g.softplus(r)), rho)
    assert np.allclose(grad_rho, numeric_rho, rtol=1e-6, atol=atol)


def test_reparameterize_grads_returns_fresh_arrays():
    grad_w = np.array([1.0, 2.0])
    grad_mu, _ = g.reparameterize_grads(grad_w, np.ones(2))
    grad_mu += 1.0
    assert np.array_equal(grad_w, [1.0, 2.0])


def test_gradient_helpers_name_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3,\)"):
        g.reparameterize_grads(np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3,\).*sample axis"):
        g.sigma_grad_to_rho(np.ones((2, 3)), np.ones(3))


# ---------------------------------------------------------------- closed-form KL (step 5)

prior_means = finite_floats(-5, 5)
prior_sigmas = finite_floats(0.5, 5)


@FAST.given(mu=vectors(-10, 10), rho=vectors(-20, 20), prior_mu=prior_means, prior_sigma=prior_sigmas)
def test_kl_normal_is_non_negative(mu, rho, prior_mu, prior_sigma):
    assert g.kl_normal(mu, g.softplus(rho), prior_mu, prior_sigma) >= 0.0


def test_kl_normal_is_zero_when_q_is_the_prior():
    assert g.kl_normal(np.zeros(5), np.ones(5)) == 0.0
    assert g.kl_normal(np.full(4, 0.7), np.full(4, 2.5), prior_mu=0.7, prior_sigma=2.5) == 0.0
    prior_mu, prior_sigma = np.array([-1.0, 0.0, 3.0]), np.array([0.1, 1.0, 7.0])
    assert g.kl_normal(prior_mu, prior_sigma, prior_mu, prior_sigma) == 0.0
    grad_mu, grad_sigma = g.kl_normal_grads(prior_mu, prior_sigma, prior_mu, prior_sigma)
    # -1/s + s/s^2 rounds to within an ulp of 1/s of zero.
    assert np.array_equal(grad_mu, np.zeros(3))
    assert np.allclose(grad_sigma, 0.0, rtol=0, atol=4 * np.finfo(float).eps / prior_sigma.min())


@FAST.given(mu=vectors(-10, 10), rho=vectors(-20, 20))
def test_kl_normal_matches_the_derivations_formula(mu, rho):
    sigma = g.softplus(rho)
    derivation = np.sum(-np.log(sigma) + (sigma**2 + mu**2) / 2 - 0.5)
    # The terms reach ~250 (sigma^2/2 at rho = 20), so rounding in either
    # form is below 1e-12 relative to the largest term.
    scale = np.sum(np.abs(np.log(sigma)) + (sigma**2 + mu**2) / 2 + 0.5)
    assert np.isclose(g.kl_normal(mu, sigma), derivation, rtol=0, atol=1e-12 * scale)


@FAST.given(mu=vectors(-10, 10), rho=vectors(-20, 20), prior_mu=prior_means, prior_sigma=prior_sigmas)
def test_kl_normal_matches_the_general_formula(mu, rho, prior_mu, prior_sigma):
    sigma = g.softplus(rho)
    m, s = prior_mu, prior_sigma
    terms = np.log(s / sigma) + (sigma**2 + (mu - m) ** 2) / (2 * s**2) - 0.5
    scale = np.sum(np.abs(np.log(s / sigma)) + (sigma**2 + (mu - m) ** 2) / (2 * s**2) + 0.5)
    assert np.isclose(g.kl_normal(mu, sigma, m, s), np.sum(terms), rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("prior_mu, prior_sigma", [(0.0, 1.0), (0.5, 1.3), (np.array([0.0, 1.0, -2.0]), np.array([2.0, 0.5, 1.0]))])
def test_kl_normal_matches_monte_carlo(prior_mu, prior_sigma):
    rng = np.random.default_rng(20240501)
    mu, sigma = np.array([0.3, -1.2, 2.0]), np.array([0.5, 1.5, 0.2])
    n = 100_000
    w = mu + sigma * rng.standard_normal((n, 3))
    samples = np.sum(log_density(w, mu, sigma) - log_density(w, prior_mu, prior_sigma), axis=1)
    standard_error = samples.std(ddof=1) / np.sqrt(n)
    # 4 standard errors: a correct formula fails this about once in 16,000 seeds.
    assert abs(samples.mean() - g.kl_normal(mu, sigma, prior_mu, prior_sigma)) < 4 * standard_error


@FAST.given(mu=vectors(-5, 5), rho=vectors(-20, 20), prior_mu=prior_means, prior_sigma=prior_sigmas)
def test_kl_normal_grads_match_central_differences(mu, rho, prior_mu, prior_sigma):
    sigma = g.softplus(rho)
    grad_mu, grad_sigma = g.kl_normal_grads(mu, sigma, prior_mu, prior_sigma)
    atol = rounding_tolerance(g.kl_normal(mu, sigma, prior_mu, prior_sigma))
    numeric_mu = central_difference(lambda m: g.kl_normal(m, sigma, prior_mu, prior_sigma), mu)
    assert np.allclose(grad_mu, numeric_mu, rtol=1e-6, atol=atol)
    # sigma = softplus(rho) can be 2e-9, smaller than the step H, so check
    # dKL/dsigma through the chain to rho, where the step is safe.
    numeric_rho = central_difference(lambda r: g.kl_normal(mu, g.softplus(r), prior_mu, prior_sigma), rho)
    assert np.allclose(g.sigma_grad_to_rho(grad_sigma, rho), numeric_rho, rtol=1e-6, atol=atol)


@FAST.given(mu=vectors(-5, 5), rho=vectors(-20, 20), prior_mu=prior_means, prior_sigma=prior_sigmas)
def test_kl_normal_grads_with_respect_to_rho_three_ways(mu, rho, prior_mu, prior_sigma):
    """wrt="rho": the explicit formula, the chain rule through sigma (autodiff's route), central differences."""
    sigma = g.softplus(rho)
    grad_mu, grad_rho = g.kl_normal_grads(mu, sigma, prior_mu, prior_sigma, wrt="rho")
    same_mu, grad_sigma = g.kl_normal_grads(mu, sigma, prior_mu, prior_sigma)
    assert np.array_equal(grad_mu, same_mu)
    chained = grad_sigma * g.softplus_grad(rho)                     # dKL/dsigma * sigmoid(rho)
    # the same product in another order: equal to rounding, relative to its largest term 1/sigma * sigmoid
    assert np.allclose(grad_rho, chained, rtol=1e-13, atol=1e-13 * np.max(1.0 + sigma**2 / prior_sigma**2))
    atol = rounding_tolerance(g.kl_normal(mu, sigma, prior_mu, prior_sigma))
    numeric_rho = central_difference(lambda r: g.kl_normal(mu, g.softplus(r), prior_mu, prior_sigma), rho)
    assert np.allclose(grad_rho, numeric_rho, rtol=1e-6, atol=atol)


def test_kl_normal_grads_with_respect_to_rho_stay_finite_for_tiny_sigma():
    """Below rho = -709.8, 1/sigma overflows (-inf); below -745 sigma is 0.0 (NaN). The truth is
    dKL/drho = sigma sigmoid(rho)/s^2 - sigmoid(rho)/sigma -> 0 - 1: about -1 there."""
    rho = np.array([-800.0, -746.0, -745.0, -720.0, -709.9, -709.0, -100.0])
    sigma = g.softplus(rho)
    with np.errstate(over="ignore"):
        assert sigma[0] == 0.0 and np.isinf(1.0 / sigma[3])         # the two failures of the old route
    for prior_sigma in (1.0, 0.1):
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            _, grad_rho = g.kl_normal_grads(np.zeros(7), sigma, prior_sigma=prior_sigma, wrt="rho")
        assert np.array_equal(grad_rho, -np.ones(7))                # -1 + O(sigma) with sigma < 1e-43


def test_kl_normal_grads_refuses_an_unknown_wrt_and_a_zero_sigma_for_sigma():
    with pytest.raises(ValueError, match="wrt must be 'sigma' or 'rho'"):
        g.kl_normal_grads(np.zeros(2), np.ones(2), wrt="mu")
    with pytest.raises(ValueError, match="sigma must be > 0"):
        g.kl_normal_grads(np.zeros(2), np.array([1.0, 0.0]))         # d/dsigma at sigma = 0 is -inf
    with pytest.raises(ValueError, match="sigma must be > 0"):
        g.kl_normal_grads(np.zeros(2), np.array([1.0, -1.0]), wrt="rho")


@pytest.mark.parametrize("prior_mu, prior_sigma", [(0.0, 1.0), (0.3, 0.5), (np.array([0.1, -0.2, 0.0]), 2.0)])
def test_the_two_halves_of_kl_normal_grads_match_finite_differences_of_the_kl(prior_mu, prior_sigma):
    """kl_normal_grad_mu and kl_normal_grad_rho (what the KL op's VJPs call) give kl_normal_grads' results
    bit for bit, and central finite differences of kl_normal in mu and in rho (sigma = softplus(rho))."""
    mu, rho = np.array([0.4, -1.2, 0.05]), np.array([-1.5, 0.3, -4.0])
    sigma = g.softplus(rho)
    sigmoid_rho = g.softplus_grad_from_sigma(sigma)
    grad_mu, grad_rho = g.kl_normal_grad_mu(mu, prior_mu, prior_sigma), g.kl_normal_grad_rho(sigma, sigmoid_rho, prior_sigma)
    both = g.kl_normal_grads(mu, sigma, prior_mu, prior_sigma, wrt="rho")
    assert np.array_equal(grad_mu, both[0]) and np.array_equal(grad_rho, both[1])
    h = 1e-6
    for i in range(3):
        e = np.eye(3)[i] * h
        fd_mu = (g.kl_normal(mu + e, sigma, prior_mu, prior_sigma) - g.kl_normal(mu - e, sigma, prior_mu, prior_sigma)) / (2 * h)
        fd_rho = (g.kl_normal(mu, g.softplus(rho + e), prior_mu, prior_sigma)
                  - g.kl_normal(mu, g.softplus(rho - e), prior_mu, prior_sigma)) / (2 * h)
        assert grad_mu[i] == pytest.approx(fd_mu, rel=1e-7, abs=1e-9)
        assert grad_rho[i] == pytest.approx(fd_rho, rel=1e-7, abs=1e-9)


def test_the_two_halves_of_kl_normal_grads_refuse_bad_input():
    with pytest.raises(ValueError, match="mu contains NaN"):
        g.kl_normal_grad_mu(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="prior_sigma must be > 0"):
        g.kl_normal_grad_mu(np.zeros(2), prior_sigma=0.0)
    with pytest.raises(ValueError, match=r"prior_mu has shape \(3,\)"):
        g.kl_normal_grad_mu(np.zeros(2), prior_mu=np.zeros(3))
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        g.kl_normal_grad_rho(np.array([1.0, -1.0]), np.ones(2))
    with pytest.raises(ValueError, match=r"sigma has shape \(2,\) but sigmoid_rho has shape \(3,\)"):
        g.kl_normal_grad_rho(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="real numbers"):
        g.kl_normal_grad_rho(np.array(["a", "b"]), np.ones(2))
    mu = np.array([0.5, -1.0])
    assert not np.shares_memory(g.kl_normal_grad_mu(mu), mu)       # checked: a copy, unlike validate=False
    assert g.kl_normal_grad_mu(mu, validate=False) is mu            # the VJP's path: mu itself, multiplied later
    assert np.array_equal(g.kl_normal_grad_rho(np.array([0.0]), np.array([0.0])), [-1.0])   # the limit at sigma = 0


def test_kl_normal_grads_default_prior_is_the_standard_normal():
    mu, sigma = np.array([0.5, -2.0]), np.array([0.25, 2.0])
    grad_mu, grad_sigma = g.kl_normal_grads(mu, sigma)
    assert np.array_equal(grad_mu, mu)                               # (mu - 0) / 1
    assert np.array_equal(grad_sigma, sigma - 1.0 / sigma)           # sigma - 1/sigma


def test_kl_normal_grads_have_mus_shape_with_broadcast_priors():
    mu, sigma = np.zeros((2, 3)), np.ones((2, 3))
    grad_mu, grad_sigma = g.kl_normal_grads(mu, sigma, prior_mu=np.array([1.0, 2.0, 4.0]), prior_sigma=2.0)
    assert grad_mu.shape == grad_sigma.shape == (2, 3)
    assert np.array_equal(grad_mu[1], [-0.25, -0.5, -1.0])      # (0 - m) / 4
    assert np.array_equal(grad_sigma[0], [-0.75, -0.75, -0.75])  # -1/1 + 1/4


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(mu=np.zeros(3), sigma=np.array([1.0, 0.0, 1.0])), ValueError, "sigma must be > 0"),
        (dict(mu=np.zeros(3), sigma=-np.ones(3)), ValueError, "softplus"),
        (dict(mu=np.array([0.0, np.nan, 0.0]), sigma=np.ones(3)), ValueError, "mu contains NaN"),
        (dict(mu=np.zeros(3), sigma=np.ones(2)), ValueError, r"\(3,\).*\(2,\)"),
        (dict(mu=np.zeros(3), sigma=np.ones(3), prior_sigma=0.0), ValueError, "prior_sigma must be > 0"),
        (dict(mu=np.zeros(3), sigma=np.ones(3), prior_mu=np.zeros(4)), ValueError, r"prior_mu has shape \(4,\).*\(3,\)"),
        (dict(mu=np.zeros(3), sigma=np.ones(3), prior_sigma=np.ones((2, 3))), ValueError, r"\(2, 3\).*\(3,\)"),
        (dict(mu=np.array(["a", "b"]), sigma=np.ones(2)), TypeError, "real numbers"),
    ],
)
def test_kl_normal_rejects_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        g.kl_normal(**kwargs)
    with pytest.raises(error, match=message):
        g.kl_normal_grads(**kwargs)


# ---------------------------------------------------------------- scale-mixture prior (Blundell et al. 2015, sec. 3.3)

# (pi, sigma1, sigma2) from the ranges Blundell et al. searched: -log sigma1 in
# {0, 1, 2}, -log sigma2 in {6, 7, 8}; plus one mild mixture.
MIXTURES = [(0.5, 1.0, np.exp(-6)), (0.25, np.exp(-1), np.exp(-7)), (0.75, 1.0, 0.3)]


def trapezoid(values, step):
    return step * (np.sum(values) - 0.5 * (values[0] + values[-1]))


def test_log_normal_pdf_matches_the_density():
    w = np.linspace(-4, 4, 17)
    direct = np.exp(-0.5 * ((w - 0.5) / 1.5) ** 2) / (np.sqrt(2 * np.pi) * 1.5)
    assert np.allclose(np.exp(g.log_normal_pdf(w, 0.5, 1.5)), direct, rtol=1e-14, atol=0)


@pytest.mark.parametrize("pi, sigma1, sigma2", MIXTURES)
def test_scale_mixture_density_integrates_to_one(pi, sigma1, sigma2):
    # The grid spans +-12 sigma1 (tails ~ e^-72) with a step of sigma2/10, at
    # which the trapezoid rule on a Gaussian is exact to far below rounding;
    # summing ~3e5 terms leaves ~1e-11 of rounding.
    step = sigma2 / 10
    w = np.arange(-12 * sigma1, 12 * sigma1 + step, step)
    density = np.exp(g.log_scale_mixture_pdf(w, pi, sigma1, sigma2))
    assert abs(trapezoid(density, w[1] - w[0]) - 1.0) < 1e-9


@pytest.mark.parametrize("pi, sigma1, sigma2", MIXTURES)
def test_scale_mixture_matches_the_direct_formula(pi, sigma1, sigma2):
    w = np.linspace(-3 * sigma1, 3 * sigma1, 41)  # both densities well above underflow here
    direct = np.log(pi * np.exp(log_density(w, 0, sigma1)) + (1 - pi) * np.exp(log_density(w, 0, sigma2)))
    assert np.allclose(g.log_scale_mixture_pdf(w, pi, sigma1, sigma2), direct, rtol=1e-13, atol=1e-13)


def test_scale_mixture_stays_finite_where_both_densities_underflow():
    pi, sigma1, sigma2, w = 0.5, 1.0, np.exp(-6), 50.0
    with np.errstate(divide="ignore"):
        naive = np.log(pi * np.exp(-0.5 * w**2) / np.sqrt(2 * np.pi) + (1 - pi) * 0.0)
    assert naive == -np.inf
    # The narrow component is e^(-10^8) times smaller: only the wide one counts.
    expected = np.log(pi) + log_density(w, 0.0, sigma1)
    assert np.isclose(g.log_scale_mixture_pdf(w, pi, sigma1, sigma2), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("pi", [0.0, 1.0, -0.1, 1.5, np.nan])
def test_scale_mixture_rejects_bad_pi(pi):
    with pytest.raises(ValueError, match="pi"):
        g.log_scale_mixture_pdf(0.0, pi, 1.0, 0.1)


def test_scale_mixture_rejects_non_positive_sigmas():
    with pytest.raises(ValueError, match="sigma2 must be > 0"):
        g.log_scale_mixture_pdf(0.0, 0.5, 1.0, 0.0)


def kl_by_integration(mu, sigma, pi, sigma1, sigma2):
    """sum_i of the integral of q(w)[log q(w) - log p(w)] dw, on a grid per weight.

    The grid spans mu +- 10 sigma (q's mass outside is ~1e-23) with a step a
    tenth of the smaller of sigma and sigma2, which resolves both q and the
    narrow spike of the prior.
    """
    total = 0.0
    for m, s in zip(mu, sigma):
        step = min(s, sigma2) / 10
        w = np.arange(m - 10 * s, m + 10 * s + step, step)
        log_q = log_density(w, m, s)
        log_p = np.log(pi * np.exp(log_density(w, 0, sigma1)) + (1 - pi) * np.exp(log_density(w, 0, sigma2)))
        total += trapezoid(np.exp(log_q) * (log_q - log_p), w[1] - w[0])
    return total


@pytest.mark.parametrize("pi, sigma1, sigma2", MIXTURES)
def test_kl_mixture_mc_is_unbiased(pi, sigma1, sigma2):
    rng = np.random.default_rng(7)
    mu, sigma = np.array([0.0, 0.4, -1.0]), np.array([0.05, 0.3, 0.8])
    n_batches, batch_size = 400, 500
    eps = rng.standard_normal((n_batches, batch_size, 3))
    batch_means = np.array([g.kl_mixture_mc(mu, sigma, batch, pi, sigma1, sigma2) for batch in eps])
    standard_error = batch_means.std(ddof=1) / np.sqrt(n_batches)
    # 4 standard errors: a correct estimator fails this about once in 16,000 seeds.
    assert abs(batch_means.mean() - kl_by_integration(mu, sigma, pi, sigma1, sigma2)) < 4 * standard_error
    # Averaging over a leading sample axis: all samples at once = mean of the equal-size batches.
    all_at_once = g.kl_mixture_mc(mu, sigma, eps.reshape(-1, 3), pi, sigma1, sigma2)
    assert np.isclose(all_at_once, batch_means.mean(), rtol=1e-12, atol=1e-12)


def test_kl_mixture_mc_single_sample_is_log_q_minus_log_p():
    mu, sigma, eps = np.array([0.2, -0.5]), np.array([0.1, 2.0]), np.array([1.5, -0.3])
    pi, sigma1, sigma2 = MIXTURES[0]
    w = mu + sigma * eps
    expected = np.sum(log_density(w, mu, sigma) - g.log_scale_mixture_pdf(w, pi, sigma1, sigma2))
    assert np.isclose(g.kl_mixture_mc(mu, sigma, eps, pi, sigma1, sigma2), expected, rtol=1e-13, atol=1e-13)


def test_kl_mixture_mc_names_a_wrong_eps_shape():
    with pytest.raises(ValueError, match=r"eps has shape \(3, 2\).*\(3,\)"):
        g.kl_mixture_mc(np.zeros(3), np.ones(3), np.zeros((3, 2)), 0.5, 1.0, 0.1)


def test_kl_normal_of_a_single_weight_given_as_numbers():
    """Plain numbers and 0-d arrays (one weight) give the step-5 formula, like arrays do."""
    expected = np.log(2.0 / 1.2) + (1.2**2 + (0.5 - 0.1) ** 2) / (2 * 2.0**2) - 0.5
    assert np.isclose(g.kl_normal(0.5, 1.2, 0.1, 2.0), expected, rtol=1e-14)
    assert np.isclose(g.kl_normal(np.array(0.5), np.array(1.2), 0.1, 2.0, validate=False), expected, rtol=1e-14)


def test_log_softplus_is_right_where_sigma_underflows_and_np_log_of_sigma_is_not():
    """log softplus(rho): np.log(softplus(rho)) where sigma is a normal float; rho itself below that
    (the correction -e^rho/2 is below 1e-307). The naive route gives -inf at -800 and is off at -740."""
    rho = np.array([-800.0, -746.0, -740.0, -720.0, -708.0, -700.0, -30.0, 0.0, 30.0])
    with np.errstate(divide="ignore"):
        naive = np.log(g.softplus(rho))
    assert naive[0] == -np.inf and abs(naive[2] - rho[2]) > 1e-4       # what a KL built on it would read
    with np.errstate(divide="raise", invalid="raise", over="raise"):   # (underflow in e^rho is the point)
        got = g.log_softplus(rho)
    assert np.array_equal(got[:4], rho[:4])
    assert np.array_equal(got[4:], np.log(g.softplus(rho[4:])))
    assert np.array_equal(g.log_softplus(rho, g.softplus(rho)), got)     # with sigma given: the same bits



@pytest.mark.parametrize("rho, error", [(np.array([0.0, np.nan]), ValueError), (np.array([-np.inf]), ValueError),
                                        (np.array(["a"]), TypeError)])
def test_log_softplus_refuses_what_is_not_a_finite_real_rho(rho, error):
    with pytest.raises(error, match="rho"):
        g.log_softplus(rho)
