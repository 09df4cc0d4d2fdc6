"""Tests a mutation run showed missing: defaults no other test used, and edges no test reached.

Each test here fails if the default it names (or the edge it pins) changes:
elbo_loss's one Monte Carlo sample, kl_weights' uniform schedule, Adam's
learning rate, ScaleMixturePrior's sigma2 = e^-6, the trapezoid rule's end
weights in exact.evidence_by_quadrature, no_grad keeping no graph, and a
gradient reaching every parameter of a BayesLinear.
"""
import functools

import numpy as np
import pytest

import minivi as mv
from minivi import exact


def bayes_model(seed):
    rng = np.random.default_rng(seed)
    return mv.Sequential(mv.BayesLinear(2, 3, rng=rng), mv.Tanh(), mv.BayesLinear(3, 1, rng=rng))


def data(seed=10):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(5, 2)), rng.normal(size=(5, 1))


NLL = functools.partial(mv.gaussian_nll, noise_sigma=0.3)


def test_elbo_loss_draws_one_sample_by_default():
    x, y = data()
    default, _ = mv.elbo_loss(bayes_model(1), x, y, NLL, n_data=20)
    one, _ = mv.elbo_loss(bayes_model(1), x, y, NLL, n_data=20, n_samples=1)
    two, _ = mv.elbo_loss(bayes_model(1), x, y, NLL, n_data=20, n_samples=2)
    assert default.item() == one.item()        # same seed, same bits
    assert default.item() != two.item()


def test_kl_weights_are_uniform_by_default():
    np.testing.assert_array_equal(mv.kl_weights(4), np.full(4, 0.25))
    assert not np.array_equal(mv.kl_weights(4), mv.kl_weights(4, schedule="blundell"))


def test_adams_default_learning_rate_is_one_thousandth():
    """Adam's first step moves each entry by lr · g / (|g| + eps) ≈ lr · sign(g)."""
    p = mv.Tensor([1.0, -2.0], requires_grad=True)
    p.grad = np.array([5.0, -0.5])
    mv.optim.Adam([p]).step()
    np.testing.assert_allclose(p.data, [1.0 - 1e-3, -2.0 + 1e-3], rtol=0, atol=1e-10)


def test_scale_mixture_priors_defaults_are_blundells():
    prior = mv.ScaleMixturePrior()
    assert (prior.pi, prior.sigma1, prior.sigma2) == (0.5, 1.0, np.exp(-6))
    np.testing.assert_allclose(prior.log_prior(mv.Tensor([0.0, 0.3])).item(),
                               np.sum(mv.gaussian.log_scale_mixture_pdf(np.array([0.0, 0.3]), 0.5, 1.0, np.exp(-6))),
                               rtol=1e-15)


@pytest.mark.parametrize("d", [1, 2])
def test_quadrature_uses_the_trapezoid_end_weights(d):
    """On a 3-point grid over [-a, a] that cuts the integrand off where it is still large, the
    end weights (h/2, not h) change the answer: compare with the rule written out by hand."""
    rng = np.random.default_rng(d)
    Phi, y, prior_sigma, noise_sigma, a = rng.normal(size=(4, d)), rng.normal(size=4), 1.0, 0.8, 0.5
    axis, h = np.array([-a, 0.0, a]), a
    weights_1d = np.array([h / 2, h, h / 2])
    grids = np.meshgrid(*([axis] * d), indexing="ij")
    w = np.stack([g.ravel() for g in grids], axis=1)
    weights = functools.reduce(np.multiply, np.meshgrid(*([weights_1d] * d), indexing="ij")).ravel()
    residual = y[None, :] - w @ Phi.T
    likelihood = np.prod(np.exp(-residual**2 / (2 * noise_sigma**2)) / np.sqrt(2 * np.pi * noise_sigma**2), axis=1)
    prior = np.prod(np.exp(-w**2 / (2 * prior_sigma**2)) / np.sqrt(2 * np.pi * prior_sigma**2), axis=1)
    by_hand = np.log(np.sum(weights * likelihood * prior))
    with pytest.warns(exact.UnresolvedGridWarning, match="widen half_width"):   # cut off on purpose: it says so
        got = exact.evidence_by_quadrature(Phi, y, prior_sigma, noise_sigma, n_grid=3, half_width=a)
    assert got == pytest.approx(by_hand, rel=1e-13)


def test_no_grad_keeps_no_graph():
    x = mv.Tensor([1.0, 2.0], requires_grad=True)
    with mv.no_grad():
        y = (x * 3.0).exp().sum()
    assert not y.requires_grad and y._parents == () and y._vjps == ()
    with pytest.raises(RuntimeError, match="does not depend on any Tensor"):
        y.backward()


def test_every_bayes_linear_parameter_gets_a_gradient():
    model = bayes_model(3)
    x, y = data()
    loss, _ = mv.elbo_loss(model, x, y, NLL, n_data=20, n_samples=2)
    loss.backward()
    params = model.parameters()
    assert len(params) == 8                      # mu and rho of a weight and a bias, two layers
    for p in params:
        assert p.grad is not None and p.grad.shape == p.shape
        assert np.all(np.isfinite(p.grad)) and np.all(p.grad != 0)


def test_tensor_repr_shows_the_values_and_requires_grad_only_when_set():
    assert repr(mv.Tensor([1.0, 2.5])) == "Tensor([1.  2.5])"
    assert repr(mv.Tensor([1.0, 2.5], requires_grad=True)) == "Tensor([1.  2.5], requires_grad=True)"
    assert "..." not in repr(mv.Tensor(np.arange(20.0)))        # up to 20 entries: all shown
    assert "..." in repr(mv.Tensor(np.arange(21.0)))            # more: summarised


@pytest.mark.parametrize("n_grid, error", [(2, ValueError), (10.5, TypeError)])
def test_quadrature_refuses_a_grid_of_fewer_than_three_points_or_a_fraction(n_grid, error):
    with pytest.raises(error, match=r"n_grid must be a whole number >= 3"):
        exact.evidence_by_quadrature(np.ones((3, 1)), np.zeros(3), 1.0, 1.0, n_grid=n_grid)


def test_test_log_likelihoods_average_points_of_very_different_fit():
    """Each point is averaged over the samples with its own shift (log-mean-exp per point): a point
    10^4 nats below another must not underflow to -inf because of the other's scale."""
    samples, y = np.array([[[0.0], [0.0]], [[1.0], [0.0]]]), np.array([[0.0], [150.0]])
    near = np.log(np.mean(np.exp([-0.0, -0.5]))) - 0.5 * np.log(2 * np.pi)
    far = -150.0**2 / 2 - 0.5 * np.log(2 * np.pi)
    assert mv.gaussian_log_likelihood(samples, y, 1.0) == pytest.approx((near + far) / 2, rel=1e-14)
    logits = np.array([[[0.0, 0.0], [0.0, -30000.0]], [[0.0, 0.0], [0.0, -30000.0]]])
    expected = (np.log(0.5) - 30000.0) / 2
    assert mv.categorical_log_likelihood(logits, np.array([0, 1])) == pytest.approx(expected, rel=1e-14)


def test_learned_noise_starts_at_a_tenth_by_default():
    assert mv.LearnedNoise().noise_sigma == pytest.approx(0.1, rel=1e-15)


@pytest.mark.parametrize("option, value", [("n_samples", True), ("n_samples", 2.0), ("n_data", True),
                                           ("n_data", 20.0)])
def test_elbo_loss_refuses_counts_that_are_not_whole_numbers(option, value):
    """True is an int to Python and 2.0 equals 2: both are refused, not silently used as counts."""
    x, y = data()
    kwargs = {"n_data": 20, option: value}
    with pytest.raises(TypeError, match=f"{option} must be"):
        mv.elbo_loss(bayes_model(1), x, y, NLL, **kwargs)
