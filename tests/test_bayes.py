"""Tests for minivi.bayes: the Gaussian variational layers (steps 4, 5, 7) and their priors.

The central check is a three-way agreement for every gradient:
  (a) the explicit formula registered as one engine op (bayes.sample_weight, bayes.kl_normal_op),
  (b) the engine's autodiff of the same expression built from primitive ops,
  (c) central differences of the same expression written in plain NumPy.
(a) and (b) do the same float64 arithmetic in a different order, so they agree
to a few ulps of the terms summed. (c) is limited by rounding and truncation,
estimated next to each test.
"""

import warnings

import numpy as np
import pytest
from hypothesis import example
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minivi as mv
from example_counts import Examples
from gradient_helpers import assert_within, engine_grads
from minivi import bayes
from minivi import gaussian as g

FAST = Examples(plain=10, slow=30, deadline=None)       # plain run / `pytest -m slow`
THOROUGH = Examples(plain=15, slow=60, deadline=None)   # the core three-way checks; ~5 ms an example
H = 1e-6                       # central-difference step (the default of mv.numerical_grad)
U = np.finfo(np.float64).eps   # 2.2e-16, the float64 rounding unit
# (a) vs (b): both sum the same few products in float64; each result is off by
# at most a few ulps of the sum of the absolute values of the terms ("scale").
SAME_ARITHMETIC = 1e-12
LOG_2PI = np.log(2 * np.pi)


def finite_floats(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def softplus(rho):
    return np.logaddexp(0.0, rho)


def sigmoid(rho):
    return 1.0 / (1.0 + np.exp(-rho))   # exact enough for |rho| <= 20 (no overflow, no cancellation)


def log_normal(w, std):
    return -0.5 * LOG_2PI - np.log(std) - 0.5 * (w / std) ** 2


def log_mixture(w, pi, sigma1, sigma2):
    return np.logaddexp(np.log(pi) + log_normal(w, sigma1), np.log(1 - pi) + log_normal(w, sigma2))



# ---------------------------------------------------------------- step 7: w = mu + softplus(rho) * eps


@st.composite
def weight_cases(draw):
    """Shapes (in, out), an optional sample axis S, and values with rho over the whole of [-20, 20]."""
    n_in, n_out, n_rows = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    n_samples = draw(st.sampled_from([None, 1, 3]))
    lead = () if n_samples is None else (n_samples,)
    arr = lambda shape, lo, hi: draw(hnp.arrays(np.float64, shape, elements=finite_floats(lo, hi)))
    return dict(mu=arr((n_in, n_out), -2, 2), rho=arr((n_in, n_out), -20, 20),
                eps=arr(lead + (n_in, n_out), -3, 3), x=arr((n_rows, n_in), -2, 2),
                c=arr(lead + (n_rows, n_out), -2, 2))


def downstream(w, x, c):
    """A nonlinear scalar of the sampled weights: sum(tanh(x @ w) * c); works on Tensors."""
    return ((x @ w).tanh() * c).sum()


def downstream_numpy(mu, rho, eps, x, c):
    return float(np.sum(np.tanh(x @ (mu + softplus(rho) * eps)) * c))


@THOROUGH.given(case=weight_cases())
@example(case=dict(mu=np.array([[0.5, -1.0]]), rho=np.array([[-20.0, 20.0]]), eps=np.array([[[1.5, -0.7]]]),
                   x=np.array([[1.0], [-2.0]]), c=np.array([[[1.0, 0.5], [-1.0, 2.0]]])))
def test_sample_weight_gradient_three_way(case):
    mu, rho, eps, x, c = (case[k] for k in ("mu", "rho", "eps", "x", "c"))
    explicit = engine_grads(lambda m, r: downstream(bayes.sample_weight(m, r, eps), x, c), mu, rho)
    autodiff = engine_grads(lambda m, r: downstream(m + r.softplus() * eps, x, c), mu, rho)
    numeric = mv.numerical_grad(lambda m, r: downstream_numpy(m, r, eps, x, c), mu, rho, eps=H)

    # Scale of the terms each gradient sums: dF/dmu = sum_s dF/dw, dF/drho = sum_s dF/dw * eps * sigmoid(rho).
    (grad_w,) = engine_grads(lambda w: downstream(w, x, c), mu + softplus(rho) * eps)
    sample_axes = tuple(range(eps.ndim - 2))
    scale_mu = np.abs(grad_w).sum(axis=sample_axes)
    scale_rho = np.abs(grad_w * eps).sum(axis=sample_axes) * sigmoid(rho)
    assert_within(explicit[0], autodiff[0], SAME_ARITHMETIC * scale_mu, "dF/dmu explicit vs autodiff")
    assert_within(explicit[1], autodiff[1], SAME_ARITHMETIC * scale_rho, "dF/drho explicit vs autodiff")

    # Central differences. Rounding: each F evaluation is off by at most ~10 roundings of
    # terms bounded by sum|c|, so the quotient errs by <= 10 U sum|c| / H ~ 2e-9 sum|c|.
    # Truncation: H^2/6 |F'''| with |F'''| <= 2 (|x| |eps|)^3 sum|c| <= 432 sum|c|, i.e. < 1e-10 sum|c|.
    # 1e-8 (1 + sum|c|) leaves a margin of about 5; a wrong formula is off by the gradient itself.
    # What this cannot see: a rho-gradient below that floor (sigma'(rho) ~ e^rho < 1e-8 for rho < -18);
    # the explicit-vs-autodiff check above and the tiny-sigma test below cover those entries.
    fd_atol = 1e-8 * (1.0 + np.abs(c).sum())
    for k, name in enumerate(("dF/dmu", "dF/drho")):
        assert_within(explicit[k], numeric[k], fd_atol + 1e-7 * np.abs(numeric[k]), f"{name} vs central differences")


def test_sample_weight_rho_gradient_at_tiny_sigma():
    # rho = -20: sigma ~ 2e-9. With mu = 0 the whole F is of sigma's size, so the rounding
    # floor U |F| / H is ~1e-10 |F| while dF/drho ~ |F|: central differences resolve the
    # gradient to ~1e-9 relative here (truncation H^2/6 ~ 2e-13 relative, as sigma ~ e^rho).
    rng = np.random.default_rng(0)
    mu, rho = np.zeros((3, 2)), np.full((3, 2), -20.0)
    eps, x, c = rng.normal(size=(2, 3, 2)), rng.normal(size=(4, 3)), rng.normal(size=(2, 4, 2))
    explicit = engine_grads(lambda m, r: downstream(bayes.sample_weight(m, r, eps), x, c), mu, rho)
    numeric = mv.numerical_grad(lambda m, r: downstream_numpy(m, r, eps, x, c), mu, rho, eps=H)
    assert np.all(explicit[1] != 0)   # not a gradient that vanished by underflow
    np.testing.assert_allclose(explicit[1], numeric[1], rtol=1e-6, atol=0)
    np.testing.assert_allclose(explicit[0], numeric[0], rtol=1e-6, atol=1e-9)


@st.composite
def sample_cases(draw):
    """S samples of one sigma: eps (S, in, out), sigma > 0, an input x and the downstream weights c."""
    n_in, n_out, n_rows = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    n_samples = draw(st.sampled_from([1, 2, 5]))
    arr = lambda shape, lo, hi: draw(hnp.arrays(np.float64, shape, elements=finite_floats(lo, hi)))
    return dict(mu=arr((n_in, n_out), -2, 2), sigma=arr((n_in, n_out), 1e-3, 3),
                eps=arr((n_samples, n_in, n_out), -3, 3), x=arr((n_rows, n_in), -2, 2),
                c=arr((n_samples, n_rows, n_out), -2, 2))


@FAST.given(case=sample_cases())
def test_sigma_grad_summed_three_way(case):
    # g.sigma_grad_summed is sample_weight's backward with a sample axis: dF/dsigma = sum_s dF/dw_s * eps_s.
    mu, sigma, eps, x, c = (case[k] for k in ("mu", "sigma", "eps", "x", "c"))
    (grad_w,) = engine_grads(lambda w: downstream(w, x, c), g.reparameterize(mu, sigma, eps))
    formula = g.sigma_grad_summed(grad_w, eps)
    (autodiff,) = engine_grads(lambda s: downstream(mu + s * eps, x, c), sigma)
    (numeric,) = mv.numerical_grad(lambda s: float(np.sum(np.tanh(x @ (mu + s * eps)) * c)), sigma, eps=H)
    assert formula.shape == sigma.shape
    assert_within(formula, autodiff, SAME_ARITHMETIC * np.abs(grad_w * eps).sum(axis=0), "formula vs autodiff")
    # Central differences: the rounding and truncation bounds of the sample_weight test above
    # (|x| <= 2, |eps| <= 3, so the third derivative is <= 432 sum|c|); a wrong formula is off by the gradient.
    fd_atol = 1e-8 * (1.0 + np.abs(c).sum())
    assert_within(formula, numeric, fd_atol + 1e-7 * np.abs(numeric), "formula vs central differences")


@pytest.mark.parametrize("shape", [(8, 50, 40), (8, 1, 7), (3, 2)])
def test_sigma_grad_summed_is_the_sum_over_samples_of_the_per_sample_products(shape):
    rng = np.random.default_rng(1)
    grad_w, eps = rng.normal(size=shape), rng.normal(size=shape)
    eps_before = eps.copy()
    products = g.reparameterize_grads(grad_w, eps)[1]       # (S, ...): dF/dw_s * eps_s, one array per sample
    summed = g.sigma_grad_summed(grad_w, eps)
    assert summed.shape == shape[1:]
    # the same S - 1 additions of the same products: at most a few roundings of sum_s |product|
    assert_within(summed, products.sum(axis=0), 4 * U * np.abs(products).sum(axis=0), "einsum vs sum of products")
    assert np.array_equal(eps, eps_before)


def test_sigma_grad_summed_names_what_is_wrong():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 3\)"):
        g.sigma_grad_summed(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="no sample axis"):
        g.sigma_grad_summed(np.array(1.0), np.array(2.0))


# ---------------------------------------------------------------- step 5: closed-form KL


def kl_numpy(mu, rho, prior_mu, prior_sigma):
    sigma = softplus(rho)
    return np.sum(np.log(prior_sigma / sigma) + (sigma**2 + (mu - prior_mu) ** 2) / (2 * prior_sigma**2) - 0.5)


def kl_primitive(mu, rho, prior_mu, prior_sigma):
    """The KL from the engine's primitive ops; the derivation's form for the N(0, 1) prior."""
    sigma = rho.softplus()
    if prior_mu == 0.0 and prior_sigma == 1.0:
        return (-(sigma.log()) + (sigma**2 + mu**2) / 2 - 0.5).sum()
    return (np.log(prior_sigma) - sigma.log() + (sigma**2 + (mu - prior_mu) ** 2) / (2 * prior_sigma**2) - 0.5).sum()


priors = st.one_of(st.just((0.0, 1.0)), st.tuples(finite_floats(-2, 2), finite_floats(0.3, 3)))


@THOROUGH.given(mu=hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=4), elements=finite_floats(-5, 5)),
       rho_seed=st.integers(0, 2**32 - 1), prior=priors)
def test_kl_normal_op_gradient_three_way(mu, rho_seed, prior):
    prior_mu, prior_sigma = prior
    rho = np.random.default_rng(rho_seed).uniform(-20, 20, mu.shape)
    rho.flat[0] = -20.0 if rho_seed % 2 else 20.0            # always include an end of the range
    explicit = engine_grads(lambda m, r: bayes.kl_normal_op(m, r, prior_mu, prior_sigma), mu, rho)
    autodiff = engine_grads(lambda m, r: kl_primitive(m, r, prior_mu, prior_sigma), mu, rho)
    numeric = mv.numerical_grad(lambda m, r: kl_numpy(m, r, prior_mu, prior_sigma), mu, rho, eps=H)

    sigma = softplus(rho)
    with mv.no_grad():
        value = bayes.kl_normal_op(mv.Tensor(mu), mv.Tensor(rho), prior_mu, prior_sigma).item()
    # The library's value uses expm1 (no cancellation); the direct formula loses up to
    # U * (size of its terms) to cancellation, so compare to that.
    terms = np.abs(np.log(prior_sigma / sigma)) + (sigma**2 + (mu - prior_mu) ** 2) / (2 * prior_sigma**2) + 0.5
    assert abs(value - kl_numpy(mu, rho, prior_mu, prior_sigma)) <= 20 * U * terms.sum()

    # (a) vs (b): dKL/dmu = (mu - m)/s^2, dKL/drho = (-1/sigma + sigma/s^2) sigmoid(rho); the two
    # rho-terms cancel near sigma = s, so the scale is the sum of their sizes.
    scale_mu = np.abs(mu - prior_mu) / prior_sigma**2
    scale_rho = (1 / sigma + sigma / prior_sigma**2) * sigmoid(rho)
    assert_within(explicit[0], autodiff[0], SAME_ARITHMETIC * scale_mu, "dKL/dmu explicit vs autodiff")
    assert_within(explicit[1], autodiff[1], SAME_ARITHMETIC * scale_rho, "dKL/drho explicit vs autodiff")

    # (c): rounding of the summed KL is ~ few U * sum(terms), divided by H: ~1e-9 sum(terms);
    # truncation H^2/6 |KL'''| with |KL'''| <~ (1 + sigma)/s^2 <~ 250 here: < 1e-10.
    fd_atol = 1e-8 * terms.sum()
    for k, name in enumerate(("dKL/dmu", "dKL/drho")):
        assert_within(explicit[k], numeric[k], fd_atol + 1e-7 * np.abs(numeric[k]), f"{name} vs central differences")


def test_kl_normal_op_is_the_closed_form_at_the_derivations_prior():
    # KL = -log sigma + (sigma^2 + mu^2)/2 - 1/2, at hand-picked points (sigma = 1, mu = 0 gives 0).
    mu, sigma = np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 2.0])
    by_hand = (0.0) + (-np.log(0.5) + (0.25 + 1.0) / 2 - 0.5) + (-np.log(2.0) + (4.0 + 4.0) / 2 - 0.5)
    kl = bayes.kl_normal_op(mv.Tensor(mu), mv.Tensor(g.inverse_softplus(sigma)))
    assert kl.shape == () and abs(kl.item() - by_hand) <= 1e-14 * by_hand


# ---------------------------------------------------------------- the whole BayesLinear layer


def make_layer(cls=mv.BayesLinear, n_in=3, n_out=2, bias=True, prior=None, seed=0):
    """A layer whose rho (so sigma) differs from weight to weight and whose mu_b is not zero."""
    rng = np.random.default_rng(seed)
    layer = cls(n_in, n_out, rng=np.random.default_rng(seed + 1), prior=prior, bias=bias)
    layer.weight_rho.data[...] = g.inverse_softplus(rng.uniform(0.05, 0.6, (n_in, n_out)))
    if bias:
        layer.bias_mu.data[...] = rng.normal(size=n_out)
        layer.bias_rho.data[...] = g.inverse_softplus(rng.uniform(0.05, 0.6, n_out))
    return layer


@pytest.mark.parametrize("n_samples", [None, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_bayes_linear_forward_reproduces_its_eps_draws(n_samples, bias):
    layer = make_layer(bias=bias)
    x = np.random.default_rng(5).normal(size=(4, 3))
    layer.rng = np.random.default_rng(42)
    out = layer(x, n_samples=n_samples).data

    draws = np.random.default_rng(42)   # the same stream: the weights' eps first, then the biases'
    lead = () if n_samples is None else (n_samples,)
    eps_w = draws.standard_normal(lead + (3, 2))
    expected = x @ (layer.weight_mu.data + softplus(layer.weight_rho.data) * eps_w)
    if bias:
        eps_b = draws.standard_normal(lead + (2,))
        eps_b = eps_b if n_samples is None else eps_b[:, None, :]   # one bias draw per sample, shared by the rows
        expected = expected + layer.bias_mu.data + softplus(layer.bias_rho.data) * eps_b
    assert out.shape == lead + (4, 2)
    # Same products and sums of <= 4 terms of size < 10, so a few ulps: 1e-12 is generous.
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("prior", [None, mv.ScaleMixturePrior(0.5, 1.0, np.exp(-6))], ids=["gaussian", "mixture"])
@pytest.mark.parametrize("n_samples", [None, 2])
def test_bayes_linear_parameter_gradients_match_central_differences(prior, n_samples):
    layer = make_layer(prior=prior)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 3))
    c = rng.normal(size=(4, 2) if n_samples is None else (n_samples, 4, 2))

    def loss(weight_mu, weight_rho, bias_mu, bias_rho):
        layer.weight_mu, layer.weight_rho, layer.bias_mu, layer.bias_rho = weight_mu, weight_rho, bias_mu, bias_rho
        layer.rng = np.random.default_rng(11)   # the same eps at every call (forward, then a mixture KL's draw)
        return (layer(x, n_samples=n_samples).tanh() * c).sum() + layer.kl()

    params = [p.data.copy() for p in (layer.weight_mu, layer.weight_rho, layer.bias_mu, layer.bias_rho)]
    # |F| is O(10): the central-difference error is ~1e-9 (rounding) + ~1e-10 (truncation; the
    # mixture's narrow component adds (H/sigma2)^2 ~ 2e-7 relative at most), far inside
    # gradcheck's rtol=1e-5, atol=1e-6, and far below an O(1) formula mistake.
    assert mv.gradcheck(loss, *params, eps=H, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- the scale-mixture prior


mixtures = st.tuples(finite_floats(0.05, 0.95), finite_floats(0.5, 3.0), finite_floats(np.exp(-7), 0.5))


@FAST.given(mu=hnp.arrays(np.float64, st.integers(1, 6), elements=finite_floats(-1, 1)),
       rho_seed=st.integers(0, 2**32 - 1), mixture=mixtures)
def test_scale_mixture_kl_gradient_at_fixed_eps_matches_central_differences(mu, rho_seed, mixture):
    pi, sigma1, sigma2 = mixture
    prior = mv.ScaleMixturePrior(pi, sigma1, sigma2)
    rho = np.random.default_rng(rho_seed).uniform(-20, 20, mu.shape)
    eps = np.random.default_rng(rho_seed).standard_normal(mu.shape)   # what kl() draws from that seed

    def kl_numpy_at_eps(m, r):
        sigma = softplus(r)
        return np.sum(-0.5 * LOG_2PI - np.log(sigma) - 0.5 * eps**2 - log_mixture(m + sigma * eps, pi, sigma1, sigma2))

    explicit = engine_grads(lambda m, r: prior.kl(m, r, np.random.default_rng(rho_seed)), mu, rho)
    numeric = mv.numerical_grad(kl_numpy_at_eps, mu, rho, eps=H)
    with mv.no_grad():
        value = prior.kl(mv.Tensor(mu), mv.Tensor(rho), np.random.default_rng(rho_seed)).item()
    sigma = softplus(rho)
    terms = np.abs(np.log(sigma)) + eps**2 + np.abs(log_mixture(mu + sigma * eps, pi, sigma1, sigma2)) + 1
    assert abs(value - kl_numpy_at_eps(mu, rho)) <= 20 * U * terms.sum()
    assert value == pytest.approx(g.kl_mixture_mc(mu, sigma, eps, pi, sigma1, sigma2), rel=1e-12, abs=1e-12)
    # Rounding floor ~ few U sum(terms) / H as above. Truncation: near w = 0 the narrow component
    # bends on the scale sigma2 >= e^-7, so H^2 |F'''| / 6 <~ (H/sigma2)^2 |F'| ~ 1e-6 |F'|: rtol 1e-5.
    fd_atol = 1e-8 * terms.sum()
    for k, name in enumerate(("dKL/dmu", "dKL/drho")):
        assert_within(explicit[k], numeric[k], fd_atol + 1e-5 * np.abs(numeric[k]), f"{name} vs central differences")


@FAST.given(w=hnp.arrays(np.float64, st.integers(1, 6), elements=finite_floats(-3, 3)), mixture=mixtures)
def test_log_prior_gradient_matches_central_differences(w, mixture):
    prior = mv.ScaleMixturePrior(*mixture)
    (explicit,) = engine_grads(prior.log_prior, w)
    (numeric,) = mv.numerical_grad(lambda v: np.sum(log_mixture(v, *mixture)), w, eps=H)
    with mv.no_grad():
        assert prior.log_prior(mv.Tensor(w)).item() == pytest.approx(np.sum(log_mixture(w, *mixture)), rel=1e-13)
    # |log p| <= ~ w^2/(2 sigma2^2) ~ 5e6 at worst: rounding floor ~ 10 U |log p| / H; truncation as above.
    fd_atol = 10 * U * np.sum(np.abs(log_mixture(w, *mixture)) + 1) / H
    assert_within(explicit, numeric, fd_atol + 1e-5 * np.abs(numeric), "d log p/dw vs central differences")


# Slow (4000 draws, about 2 s): in the plain run, the fixed-eps test above checks the same prior.kl,
# value and gradient, against the formula and central differences.
@pytest.mark.slow
def test_scale_mixture_kl_averages_to_the_integrated_kl():
    # A small layer whose q overlaps the narrow spike (sigma2 = e^-6 ~ 0.0025) and the wide part.
    prior = mv.ScaleMixturePrior(0.5, 1.0, np.exp(-6))
    layer = mv.BayesLinear(2, 2, rng=np.random.default_rng(3), prior=prior)
    layer.weight_mu.data[...] = [[0.0, 0.003], [-0.4, 1.2]]
    layer.weight_rho.data[...] = g.inverse_softplus(np.array([[0.001, 0.01], [0.1, 0.3]]))
    layer.bias_mu.data[...] = [0.01, -0.05]
    layer.bias_rho.data[...] = g.inverse_softplus(np.array([0.002, 0.05]))

    # Integrated KL per weight: E_q[log q(w) - log p(w)], by the trapezoid rule over eps in [-10, 10]
    # (tails beyond carry < 1e-20 of the mass); the step 1e-3 in eps is sigma * 1e-3 in w, far
    # finer than the spike's width sigma2, so the quadrature error is negligible next to the MC error.
    eps = np.linspace(-10, 10, 20001)
    density = np.exp(-0.5 * eps**2) / np.sqrt(2 * np.pi)
    exact = 0.0
    for mu, rho in layer.variational_parameters():
        sigma = softplus(rho.data).ravel()[:, None]
        w = mu.data.ravel()[:, None] + sigma * eps
        integrand = density * (log_normal(w - mu.data.ravel()[:, None], sigma) - log_mixture(w, 0.5, 1.0, np.exp(-6)))
        exact += np.trapezoid(integrand, eps, axis=1).sum()

    def kl_after_a_training_draw():
        layer(np.ones((1, 2)))        # each sampling forward gives the KL estimate a fresh seed
        return layer.kl().item()

    with mv.no_grad():
        estimates = np.array([kl_after_a_training_draw() for _ in range(4000)])
    standard_error = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert abs(estimates.mean() - exact) < 4 * standard_error


# ---------------------------------------------------------------- modes and shapes


def test_mean_mode_uses_mu_exactly():
    layer = make_layer()
    x = np.random.default_rng(1).normal(size=(5, 3))
    out = layer(x, mode="mean").data
    expected = x @ layer.weight_mu.data + layer.bias_mu.data
    assert np.array_equal(out, expected)   # the same two float64 ops, bit for bit
    assert np.array_equal(layer(x, mode="mean").data, out)


@pytest.mark.parametrize("cls", [mv.BayesLinear, mv.LocalBayesLinear])
def test_sampling_draws_fresh_eps_every_call_and_per_sample(cls):
    layer = make_layer(cls)
    x = np.random.default_rng(1).normal(size=(5, 3))
    first, second = layer(x).data, layer(x).data
    assert first.shape == second.shape == (5, 2)
    assert not np.any(first == second)
    many = layer(x, n_samples=4).data
    assert many.shape == (4, 5, 2)
    for s in range(4):
        for t in range(s):
            assert not np.any(many[s] == many[t])


@pytest.mark.parametrize("cls", [mv.BayesLinear, mv.LocalBayesLinear])
def test_same_seed_gives_the_same_bits(cls):
    x = np.random.default_rng(1).normal(size=(5, 3))
    outs = []
    for _ in range(2):
        layer = make_layer(cls)
        layer.rng = np.random.default_rng(9)
        outs.append(layer(x, n_samples=3).data)
    assert np.array_equal(outs[0], outs[1])


@pytest.mark.parametrize("cls", [mv.BayesLinear, mv.LocalBayesLinear])
def test_sequential_keeps_the_sample_axis(cls):
    rng = np.random.default_rng(0)
    model = mv.Sequential(cls(3, 4, rng=rng), mv.Tanh(), cls(4, 2, rng=rng))
    x = rng.normal(size=(5, 3))
    assert model(x, n_samples=6).shape == (6, 5, 2)
    assert model(x).shape == (5, 2)
    assert model(x, mode="mean").shape == (5, 2)
    out = model(x, n_samples=6)
    out.sum().backward()
    for p in model.parameters():
        assert p.grad.shape == p.shape and np.all(np.isfinite(p.grad))


class ReturnsTwoSamples(mv.Module):
    """Hands the next layer a sample axis of size 2, whatever n_samples says."""

    def forward(self, x, *, mode, n_samples):
        return mv.Tensor(np.ones((2,) + x.shape[1:]))


@pytest.mark.parametrize("cls", [mv.BayesLinear, mv.LocalBayesLinear])
def test_mismatched_n_samples_and_input_sample_axis_raises(cls):
    layer = make_layer(cls)
    with pytest.raises(ValueError, match=r"n_samples=3.*\(2, 5, 3\)"):
        mv.Sequential(ReturnsTwoSamples(), layer)(np.ones((5, 3)), n_samples=3)
    with pytest.raises(ValueError, match="last axis has size 3"):
        layer(np.ones((5, 4)))
    with pytest.raises(ValueError, match="n_samples"):
        layer(np.ones((5, 3)), n_samples=0)
    with pytest.raises(ValueError, match="mode"):
        layer(np.ones((5, 3)), mode="average")


def test_kl_divergence_sums_the_layers_kl():
    rng = np.random.default_rng(0)
    first, second = make_layer(seed=1), make_layer(mv.LocalBayesLinear, 2, 4, bias=False, seed=2)
    model = mv.Sequential(first, mv.Tanh(), mv.Linear(2, 2, rng=rng), second)
    expected = sum(kl_numpy(mu.data, rho.data, 0.0, 1.0)
                   for layer in (first, second) for mu, rho in layer.variational_parameters())
    total = mv.kl_divergence(model)
    assert total.item() == pytest.approx(expected, rel=1e-12)
    assert total.item() == pytest.approx(first.kl().item() + second.kl().item(), rel=1e-14)
    assert mv.kl_divergence(mv.Sequential(mv.Linear(2, 2, rng=rng))).item() == 0.0


def test_kl_divergence_of_three_layers_is_one_sum_with_each_layers_gradient():
    """Three or more layers' KLs are added as one op: the value of (kl_1 + kl_2) + kl_3, bit for bit, and
    every parameter gets the gradient its own layer's kl() gives it (d(sum)/d kl_k = 1)."""
    layers = [make_layer(seed=s) for s in (1, 2, 3)]
    model = mv.Sequential(*layers)
    total = mv.kl_divergence(model)
    kls = [layer.kl() for layer in layers]
    assert total.item() == (kls[0] + kls[1] + kls[2]).item()
    (2.5 * total).backward()
    for layer in layers:
        got = [p.grad.copy() for p in layer.parameters()]
        layer.zero_grad()
        (2.5 * layer.kl()).backward()
        for g_sum, p in zip(got, layer.parameters(), strict=True):
            assert np.array_equal(g_sum, p.grad)


def test_layer_kl_uses_its_prior_sigma():
    layer = mv.BayesLinear(3, 2, prior_sigma=0.5, rng=np.random.default_rng(0))
    expected = sum(kl_numpy(mu.data, rho.data, 0.0, 0.5) for mu, rho in layer.variational_parameters())
    assert layer.kl().item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("cls", [mv.BayesLinear, mv.LocalBayesLinear])
def test_no_bias_layer(cls):
    layer = make_layer(cls, bias=False)
    assert layer.bias_mu is None and len(layer.parameters()) == 2
    x = np.random.default_rng(1).normal(size=(5, 3))
    assert np.array_equal(layer(x, mode="mean").data, x @ layer.weight_mu.data)
    assert layer(x, n_samples=2).shape == (2, 5, 2)
    assert layer.kl().item() == pytest.approx(kl_numpy(layer.weight_mu.data, layer.weight_rho.data, 0, 1), rel=1e-12)


def test_local_layer_without_bias_has_finite_gradients_on_a_zero_input_row():
    # A row of zeros (an all-zero ReLU layer, say) has output variance exactly 0 without a bias.
    # Its output is 0 for every parameter value, so it contributes 0 to every gradient.
    layer = make_layer(mv.LocalBayesLinear, bias=False)
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    c = np.array([[1.0, -1.0], [0.5, 2.0]])

    def loss(weight_mu, weight_rho):
        layer.weight_mu, layer.weight_rho = weight_mu, weight_rho
        layer.rng = np.random.default_rng(4)
        return (layer(x).tanh() * c).sum()

    assert mv.gradcheck(loss, layer.weight_mu.data.copy(), layer.weight_rho.data.copy(), eps=H)


# ---------------------------------------------------------------- local reparameterisation


def test_local_reparameterisation_has_the_same_output_moments():
    # Each output b_nj = sum_i x_ni W_ij + b_j is Gaussian with
    #   mean = x @ mu + mu_b   and   var = (x^2) @ sigma^2 + sigma_b^2,
    # whether W is sampled (BayesLinear) or b directly (LocalBayesLinear).
    n_samples = 20000
    x = np.random.default_rng(2).normal(size=(4, 3))
    reference = make_layer()
    mean = x @ reference.weight_mu.data + reference.bias_mu.data
    var = (x**2) @ softplus(reference.weight_rho.data) ** 2 + softplus(reference.bias_rho.data) ** 2
    for cls in (mv.BayesLinear, mv.LocalBayesLinear):
        layer = make_layer(cls)
        with mv.no_grad():
            out = layer(x, n_samples=n_samples).data
        sample_mean, sample_var = out.mean(axis=0), out.var(axis=0, ddof=1)
        fourth = ((out - sample_mean) ** 4).mean(axis=0)
        # Standard errors: of a mean sqrt(var/K); of a sample variance sqrt((m4 - var^2)/K).
        assert np.all(np.abs(sample_mean - mean) < 4 * np.sqrt(sample_var / n_samples)), cls.__name__
        assert np.all(np.abs(sample_var - var) < 4 * np.sqrt((fourth - sample_var**2) / n_samples)), cls.__name__


def test_only_weight_sampling_correlates_the_rows():
    # With one W shared by the batch, rows n and m covary: cov = (x_n * x_m) @ sigma^2 + sigma_b^2.
    # The local trick draws each row's output on its own, so there cov = 0 (this is what lowers
    # the gradient's variance). Standard error of a sample covariance: std of the products / sqrt(K).
    n_samples = 20000
    x = np.random.default_rng(2).normal(size=(4, 3))
    reference = make_layer()
    sigma2, sigma2_b = softplus(reference.weight_rho.data) ** 2, softplus(reference.bias_rho.data) ** 2
    for cls in (mv.BayesLinear, mv.LocalBayesLinear):
        with mv.no_grad():
            out = make_layer(cls)(x, n_samples=n_samples).data
        centred = out - out.mean(axis=0)
        for n, m in ((0, 1), (0, 3), (2, 3)):
            products = centred[:, n] * centred[:, m]
            expected = (x[n] * x[m]) @ sigma2 + sigma2_b if cls is mv.BayesLinear else np.zeros(2)
            standard_error = products.std(axis=0, ddof=1) / np.sqrt(n_samples)
            assert np.all(np.abs(products.mean(axis=0) - expected) < 4 * standard_error), (cls.__name__, n, m)


def test_local_reparameterisation_gradient_is_unbiased_and_has_lower_variance():
    # Data loss L = sum_n ||f(x_n) - y_n||^2 over N = 32 inputs. Its expectation over q is
    #   E L = sum_n ||mean_n - y_n||^2 + sum_n sum_j var_nj,
    # so E[dL/dmu] = 2 x^T (x @ mu + mu_b - y) and E[dL/drho_ij] = sum_n x_ni^2 * 2 sigma_ij sigmoid(rho_ij).
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 2))
    reference = make_layer()
    mu, rho = reference.weight_mu.data, reference.weight_rho.data
    expected_mu = 2 * x.T @ (x @ mu + reference.bias_mu.data - y)
    expected_rho = ((x**2).sum(axis=0)[:, None]) * 2 * softplus(rho) * sigmoid(rho)
    n_draws, variances = 400, {}
    for cls in (mv.BayesLinear, mv.LocalBayesLinear):
        layer = make_layer(cls)
        draws = {"mu": [], "rho": []}
        for _ in range(n_draws):
            layer.zero_grad()
            ((layer(x) - y) ** 2).sum().backward()
            draws["mu"].append(layer.weight_mu.grad)
            draws["rho"].append(layer.weight_rho.grad)
        for name, expected in (("mu", expected_mu), ("rho", expected_rho)):
            grads = np.array(draws[name])
            standard_error = grads.std(axis=0, ddof=1) / np.sqrt(n_draws)
            assert np.all(np.abs(grads.mean(axis=0) - expected) < 4 * standard_error), (cls.__name__, name)
        variances[cls] = [np.array(draws[name]).var(axis=0, ddof=1).sum() for name in ("mu", "rho")]
    assert all(local < weight for local, weight in zip(variances[mv.LocalBayesLinear], variances[mv.BayesLinear]))


# ---------------------------------------------------------------- errors


def test_priors_and_layers_reject_bad_settings():
    with pytest.raises(ValueError, match="pi"):
        mv.ScaleMixturePrior(pi=1.0)
    with pytest.raises(ValueError, match="sigma2"):
        mv.ScaleMixturePrior(sigma2=0.0)
    with pytest.raises(ValueError, match="prior_sigma"):
        mv.GaussianPrior(prior_sigma=-1.0)
    with pytest.raises(ValueError, match="init_sigma"):
        mv.BayesLinear(2, 2, rng=np.random.default_rng(0), init_sigma=0.0)
    with pytest.raises(TypeError, match="default_rng"):
        mv.BayesLinear(2, 2, rng=0)


def test_kl_gradients_are_computed_only_by_a_backward(monkeypatch):
    """kl_normal_op computes dKL/dmu and dKL/drho when a backward needs them, each once:
    never under no_grad, never for a KL that is only read."""
    calls = []
    for name in ("kl_normal_grad_mu", "kl_normal_grad_rho"):
        real = getattr(g, name)
        monkeypatch.setattr(g, name, lambda *a, real=real, name=name, **k: calls.append(name) or real(*a, **k))
    mu = mv.Tensor(np.array([0.3, -1.0]), requires_grad=True)
    rho = mv.Tensor(np.array([-2.0, 0.5]), requires_grad=True)
    with mv.no_grad():
        bayes.kl_normal_op(mu, rho).item()
    kl = bayes.kl_normal_op(mu, rho)
    kl.item()
    assert calls == []
    kl.backward()
    assert sorted(calls) == ["kl_normal_grad_mu", "kl_normal_grad_rho"]
    sigma = g.softplus(rho.data)
    np.testing.assert_allclose(mu.grad, mu.data, rtol=1e-15)
    np.testing.assert_allclose(rho.grad, (sigma - 1 / sigma) * g.softplus_grad(rho.data), rtol=1e-14)


def test_the_kl_gradient_of_mu_is_not_the_parameter_itself():
    """For the standard prior dKL/dmu = mu, which kl_normal_grad_mu returns without a copy; the
    KL op's VJP multiplies it into a new array, so mu.grad never shares memory with mu."""
    mu = mv.Tensor(np.array([0.3, -1.0]), requires_grad=True)
    rho = mv.Tensor(np.array([-2.0, 0.5]), requires_grad=True)
    bayes.kl_normal_op(mu, rho).backward()
    assert not np.shares_memory(mu.grad, mu.data)
    grad_mu, _ = g.kl_normal_grads(mu.data, g.softplus(rho.data), wrt="rho")
    assert not np.shares_memory(grad_mu, mu.data)


@pytest.mark.parametrize("rho_learned", [True, False])
def test_kl_op_backward_twice_adds_the_gradient_twice(rho_learned):
    """The KL op hands each lazily computed gradient out once per backward, so a second backward
    (or one where rho is frozen) still gets the full gradient."""
    mu = mv.Tensor(np.array([0.3, -1.0]), requires_grad=True)
    rho = mv.Tensor(np.array([-2.0, 0.5]), requires_grad=rho_learned)
    kl = bayes.kl_normal_op(mu, rho, prior_mu=0.1, prior_sigma=2.0)
    kl.backward()
    kl.backward()
    np.testing.assert_allclose(mu.grad, 2 * (mu.data - 0.1) / 4.0, rtol=1e-15)
    if rho_learned:
        sigma = g.softplus(rho.data)
        np.testing.assert_allclose(rho.grad, 2 * (-1 / sigma + sigma / 4.0) * g.softplus_grad(rho.data), rtol=1e-14)


# ---------------------------------------------------------------- reading the KL changes nothing (issue 10, item 9)


def test_logging_the_mixture_kl_leaves_training_bit_identical():
    x = np.linspace(-1, 1, 20)[:, None]
    y = np.sin(3 * x)

    def train(log_the_kl):
        rng = np.random.default_rng(0)
        model = mv.Sequential(mv.BayesLinear(1, 6, rng=rng, prior=mv.ScaleMixturePrior()), mv.Tanh(),
                              mv.BayesLinear(6, 1, rng=rng, prior=mv.ScaleMixturePrior()))
        optimizer = mv.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(5):
            optimizer.zero_grad()
            loss, _ = mv.elbo_loss(model, x, y, mv.LearnedNoise(0.3), n_data=20, n_samples=2)
            loss.backward()
            if log_the_kl:
                with mv.no_grad():
                    mv.kl_divergence(model).item(), model[0].kl().item()   # read twice: no effect
            optimizer.step()
        return [p.data.copy() for p in model.parameters()]

    for quiet, logged in zip(train(False), train(True)):
        assert np.array_equal(quiet.view(np.uint64), logged.view(np.uint64))


def test_reading_the_mixture_kl_twice_gives_the_same_number_and_a_forward_gives_a_fresh_one():
    layer = mv.BayesLinear(3, 2, rng=np.random.default_rng(0), prior=mv.ScaleMixturePrior())
    first, again = layer.kl().item(), layer.kl().item()
    assert first == again
    layer(np.ones((1, 3)))
    assert layer.kl().item() != first


# ---------------------------------------------------------------- what a tiny initial sigma does (docstring's claim)


@pytest.mark.parametrize("optimizer_class, lr, expected_step", [
    (mv.optim.SGD, 0.05, 0.05),     # SGD: lr * |dKL/drho| and dKL/drho ≈ -1 at rho = -10
    (mv.optim.Adam, 0.05, 0.05),    # Adam: about lr per step, whatever the gradient's size
])
def test_at_rho_minus_10_the_kl_pushes_rho_up_by_about_lr_per_step(optimizer_class, lr, expected_step):
    layer = mv.BayesLinear(4, 3, rng=np.random.default_rng(0), init_sigma=float(g.softplus(np.array(-10.0))))
    optimizer = optimizer_class(layer.parameters(), lr=lr)
    start = layer.weight_rho.data.copy()
    for _ in range(10):
        optimizer.zero_grad()
        layer.kl().backward()
        optimizer.step()
    per_step = (layer.weight_rho.data - start) / 10
    np.testing.assert_allclose(per_step, expected_step, rtol=0.01)


@pytest.mark.parametrize("prior_mu, prior_sigma", [(0.0, 1.0), (0.2, 0.5)])
def test_the_layers_kl_and_its_rho_gradient_are_the_limits_where_sigma_underflows(prior_mu, prior_sigma):
    """KL per weight = log(s/sigma) + (sigma² + (mu - m)²)/(2s²) - 1/2 with log sigma = rho and sigma² = 0 to
    double precision for rho <= -720; dKL/drho = -1. No NumPy warning, no inf (was inf with 'divide by zero')."""
    layer = mv.BayesLinear(3, 2, prior_sigma, rng=np.random.default_rng(0), prior=mv.GaussianPrior(prior_sigma, prior_mu))
    rho = np.array([[-800.0, -746.0], [-740.0, -720.0], [-1.0, 0.5]])
    layer.weight_rho.data[...] = rho
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kl = layer.kl()
        kl.backward()
    sigma = g.softplus(rho)
    log_sigma = np.where(rho < -700, rho, np.log(np.maximum(sigma, 1e-300)))   # the limit where sigma underflows
    mu_w, mu_b, sigma_b = layer.weight_mu.data, layer.bias_mu.data, g.softplus(layer.bias_rho.data)
    expected = sum(np.sum(np.log(prior_sigma) - ls + (s ** 2 + (m - prior_mu) ** 2) / (2 * prior_sigma ** 2) - 0.5)
                   for m, s, ls in ((mu_w, sigma, log_sigma), (mu_b, sigma_b, np.log(sigma_b))))
    assert np.isfinite(kl.data) and abs(kl.data - expected) <= 1e-12 * abs(expected)
    assert np.array_equal(layer.weight_rho.grad[:2], -np.ones((2, 2)))


def test_the_mixture_priors_kl_stays_finite_and_right_where_sigma_underflows():
    """ScaleMixturePrior's Monte Carlo KL reads log q(w) = -log(2 pi)/2 - log sigma - eps²/2: with sigma = 0.0
    (rho = -800), log sigma = rho and w = mu; its rho gradient is finite (was inf and NaN)."""
    prior = mv.ScaleMixturePrior()
    mu = mv.Tensor(np.array([0.3, -0.1]), requires_grad=True)
    rho = mv.Tensor(np.array([-800.0, -2.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kl = prior.kl(mu, rho, np.random.default_rng(4))
        kl.backward()
    eps = np.random.default_rng(4).standard_normal(2)
    sigma = g.softplus(rho.data)
    w = mu.data + sigma * eps
    log_q = -0.5 * g.LOG_2PI - np.array([-800.0, np.log(sigma[1])]) - 0.5 * eps ** 2
    expected = np.sum(log_q - g.log_scale_mixture_pdf(w, prior.pi, prior.sigma1, prior.sigma2))
    assert abs(kl.data - expected) <= 1e-12 * abs(expected)
    assert np.all(np.isfinite(rho.grad)) and np.all(np.isfinite(mu.grad))
    assert rho.grad[0] == -1.0    # d(-log sigma)/drho = -sigmoid(rho)/sigma -> -1; w's gradient is 0 there


@FAST.given(rho=hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-30, 30)),
            c=st.floats(-2, 2).filter(lambda v: abs(v) > 0.1))
def test_log_sigma_op_gradient_three_ways(rho, c):
    """d log softplus(rho)/drho = sigmoid(rho)/softplus(rho): the op's explicit formula, the engine's autodiff
    of the same function from primitive ops (rho.softplus().log()), and central differences, in float64."""
    (op,) = engine_grads(lambda r: (bayes.log_sigma(r) * c).sum(), rho)
    (autodiff,) = engine_grads(lambda r: (r.softplus().log() * c).sum(), rho)
    sigma = g.softplus(rho)
    explicit = c * g.softplus_grad_from_sigma(sigma) / sigma
    (numeric,) = mv.numerical_grad(lambda r: float(np.sum(np.log(g.softplus(r)) * c)), rho, eps=H)
    assert_within(op, explicit, 4 * U * np.abs(explicit), "log_sigma's gradient vs sigmoid(rho)/softplus(rho)")
    assert_within(autodiff, explicit, 4 * U * np.abs(explicit), "primitive ops' autodiff vs the formula")
    # |d²/drho²| <= 1 here, so the truncation is <= H²/6; rounding ~ U |log sigma| / H, |log sigma| <= 31.
    assert_within(op, numeric, abs(c) * (1e-8 + 40 * U / H), "log_sigma's gradient vs central differences")
    with mv.no_grad():
        assert np.array_equal(bayes.log_sigma(mv.Tensor(rho)).data, np.log(sigma))   # its value: log softplus
