"""Input checks and edges of the math core that a fresh mutation sample found unpinned.

validate=False really skips the checks (a NaN propagates, a caller's
sigmoid(rho) is taken as given) and the default validate=True really checks;
a noise Tensor with a zero; the tolerance of "rows summing to 1" in the
calibration error, pinned on both sides; exact zero probabilities in the
entropy without NumPy warnings; elbo_loss's mode="function" with several
samples, a 0-d minibatch, kl_weight=0, non-integer sample counts; the KL
between two zero-dimensional Gaussians.
"""
import functools
import warnings

import numpy as np
import pytest

import minivi as mv
from minivi import exact
from minivi.gradcheck import gradcheck
from minivi import gaussian as g
from minivi.predict import entropy

NLL = functools.partial(mv.gaussian_nll, noise_sigma=0.4)


# ---------------------------------------------------------------- gaussian.py: validate


def test_kl_normal_grads_in_rho_without_validation_lets_a_nan_sigma_through():
    mu, sigma = np.array([0.5, -0.2]), np.array([np.nan, 0.7])
    grad_mu, grad_rho = g.kl_normal_grads(mu, sigma, wrt="rho", validate=False)
    np.testing.assert_array_equal(grad_mu, mu)
    assert np.isnan(grad_rho[0])
    s = 0.7
    assert grad_rho[1] == pytest.approx((s - 1 / s) * -np.expm1(-s), rel=1e-14)
    with pytest.raises(ValueError, match="sigma contains NaN"):
        g.kl_normal_grads(mu, sigma, wrt="rho")                     # validate=True (the default) refuses it


def test_kl_normal_grads_in_rho_takes_the_callers_sigmoid_rho_as_given():
    """sigmoid_rho is not recomputed nor checked: a value of 2 (no sigmoid is) is used as it is."""
    mu, sigma = np.array([0.1, 0.3]), np.array([0.5, 2.0])
    given = np.array([2.0, 0.25])
    _, grad_rho = g.kl_normal_grads(mu, sigma, wrt="rho", validate=False, sigmoid_rho=given)
    np.testing.assert_allclose(grad_rho, (sigma - 1 / sigma) * given, rtol=1e-14)
    _, checked = g.kl_normal_grads(mu, sigma, wrt="rho", sigmoid_rho=given)   # validate=True: still taken as given
    np.testing.assert_allclose(checked, (sigma - 1 / sigma) * given, rtol=1e-14)


@pytest.mark.parametrize("rho, error", [([np.nan], ValueError), ([np.inf, 0.0], ValueError), (["a"], TypeError)])
def test_softplus_grad_checks_its_input_by_default(rho, error):
    with pytest.raises(error, match="rho"):
        g.softplus_grad(np.array(rho))


def test_softplus_grad_without_validation_propagates_nan():
    out = g.softplus_grad(np.array([np.nan, 0.0]), validate=False)
    assert np.isnan(out[0]) and out[1] == 0.5


# ---------------------------------------------------------------- likelihoods.py


@pytest.mark.parametrize("noise", [[0.0, 1.0], [1.0, -0.5], [0.0, 0.0]])
def test_gaussian_nll_refuses_a_noise_tensor_with_a_zero_or_negative_entry(noise):
    pred, target = np.zeros((3, 2)), np.ones((3, 2))
    with pytest.raises(ValueError, match="noise_sigma must be > 0"):
        mv.gaussian_nll(pred, target, mv.Tensor(noise))
    ok = mv.gaussian_nll(pred, target, mv.Tensor(np.abs(noise) + 1.0))
    assert np.isfinite(ok.item())


# ---------------------------------------------------------------- predict.py


@pytest.mark.parametrize("error", [9e-7, -9e-7, 0.0])
def test_calibration_accepts_rows_summing_to_one_within_one_millionth(error):
    probs = np.array([[0.7 + error, 0.3], [0.2, 0.8]])
    assert mv.expected_calibration_error(probs, np.array([0, 1])) == pytest.approx(0.25, abs=1e-6)


@pytest.mark.parametrize("error", [1.5e-6, -1.5e-6, 1e-5, -1e-5])
def test_calibration_refuses_rows_further_than_one_millionth_from_one(error):
    probs = np.array([[0.7 + error, 0.3], [0.2, 0.8]])
    for metric in (mv.expected_calibration_error, mv.reliability_curve):
        with pytest.raises(ValueError, match="summing to 1"):
            metric(probs, np.array([0, 1]))


def test_float32_softmax_rows_pass_the_calibration_check():
    z = (np.random.default_rng(0).normal(size=(2000, 100)) * 3).astype(np.float32)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    assert 0.0 <= mv.expected_calibration_error(probs, np.zeros(2000, dtype=int)) <= 1.0


def test_entropy_of_exact_zero_probabilities_is_computed_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(entropy(np.array([[0.0, 1.0], [0.5, 0.5], [0.0, 0.0], [0.25, 0.75]])),
                                   [0.0, np.log(2), 0.0, -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))],
                                   rtol=1e-15)
        summary = mv.classification_uncertainty(np.array([[[0.0, -np.inf, 0.0]], [[0.0, -np.inf, -np.inf]]]))
    np.testing.assert_allclose(summary["probs"], [[0.75, 0.0, 0.25]], rtol=1e-15)
    assert summary["expected_entropy"][0] == pytest.approx(np.log(2) / 2, rel=1e-15)


# ---------------------------------------------------------------- elbo.py


def local_model(seed=0):
    """LocalBayesLinear draws per row in mode="sample" but whole weights in mode="function": they differ."""
    rng = np.random.default_rng(seed)
    return mv.Sequential(mv.LocalBayesLinear(2, 3, rng=rng), mv.Tanh(), mv.LocalBayesLinear(3, 1, rng=rng))


@pytest.mark.parametrize("n_samples", [1, 3])
def test_elbo_loss_in_function_mode_draws_whole_networks(n_samples):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    loss, info = mv.elbo_loss(local_model(), x, y, NLL, n_data=10, n_samples=n_samples, mode="function")
    by_hand_model = local_model()
    options = {} if n_samples == 1 else {"n_samples": n_samples}
    pred = by_hand_model(x, mode="function", **options)
    nll = NLL(pred, y).item() / n_samples
    kl = mv.kl_divergence(by_hand_model).item()
    assert info["nll"] == pytest.approx(nll, rel=1e-14) and info["kl"] == pytest.approx(kl, rel=1e-14)
    assert loss.item() == pytest.approx(0.5 * kl + nll, rel=1e-14)
    _, sampled = mv.elbo_loss(local_model(), x, y, NLL, n_data=10, n_samples=n_samples, mode="sample")
    assert sampled["nll"] != pytest.approx(nll, rel=1e-3)


@pytest.mark.parametrize("x, y", [(np.float64(0.5), [1.0]), (np.ones((2, 2)), np.float64(1.0))])
def test_elbo_loss_refuses_zero_dimensional_inputs_or_targets(x, y):
    with pytest.raises(ValueError, match="empty|different numbers of examples"):
        mv.elbo_loss(local_model(), x, y, NLL, n_data=4)


def test_an_explicit_kl_weight_of_zero_leaves_the_data_term_alone():
    x, y = np.ones((4, 2)), np.zeros((4, 1))
    loss, info = mv.elbo_loss(local_model(), x, y, NLL, n_data=8, kl_weight=0)
    assert info["kl_weight"] == 0.0 and info["kl"] > 0
    assert loss.item() == info["nll"] == info["loss"]
    loss.backward()                                   # no KL gradient: rho only moves through the data term
    _, default_info = mv.elbo_loss(local_model(), x, y, NLL, n_data=8)
    assert default_info["kl_weight"] == 0.5 and default_info["loss"] > default_info["nll"]


@pytest.mark.parametrize("n_samples, error", [(1.0, TypeError), ("2", TypeError), (True, TypeError), (0, ValueError),
                                              (-1, ValueError), (2.5, TypeError)])
def test_elbo_loss_refuses_sample_counts_that_are_not_whole_numbers(n_samples, error):
    with pytest.raises(error, match="n_samples must be a whole number >= 1"):
        mv.elbo_loss(local_model(), np.ones((3, 2)), np.ones((3, 1)), NLL, n_data=3, n_samples=n_samples)


def test_elbo_loss_takes_a_numpy_integer_sample_count():
    x, y = np.ones((3, 2)), np.ones((3, 1))
    a, _ = mv.elbo_loss(local_model(), x, y, NLL, n_data=3, n_samples=np.int64(2))
    b, _ = mv.elbo_loss(local_model(), x, y, NLL, n_data=3, n_samples=2)
    assert a.item() == b.item()


# ---------------------------------------------------------------- exact.py


def test_the_kl_between_two_zero_dimensional_gaussians_is_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kl = exact.kl_gaussians(np.zeros(0), np.zeros((0, 0)), np.zeros(0), np.zeros((0, 0)))
    assert kl == 0.0 and isinstance(kl, float)


# ---------------------------------------------------------------- tensor.py, exact.py, gradcheck.py


def test_a_tensor_to_the_power_one_is_itself_and_to_the_power_zero_has_gradient_zero_at_zero():
    x = mv.Tensor([0.0, -1.5, 2.0], requires_grad=True)
    y = x ** 1
    np.testing.assert_array_equal(y.data, x.data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])
    x.grad = None
    z = x ** 0
    np.testing.assert_array_equal(z.data, [1.0, 1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # no 0 * inf at x = 0
        z.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_symmetry_is_judged_relative_to_the_covariances_own_scale():
    """A covariance of size 1e-6 whose asymmetry is 1e-6 of its size is not symmetric: the tolerance (1e-10)
    is relative to the largest entry, not to 1."""
    cov = 1e-6 * np.array([[1.0, 0.3], [0.3 + 1e-6, 1.0]])
    with pytest.raises(ValueError, match="cov_q is not symmetric"):
        exact.kl_gaussians(np.zeros(2), cov, np.zeros(2), np.eye(2))
    rounding = 1e-6 * np.array([[1.0, 0.3], [0.3 * (1 + 1e-14), 1.0]])     # rounding-level asymmetry: accepted
    assert np.isfinite(exact.kl_gaussians(np.zeros(2), rounding, np.zeros(2), np.eye(2)))


def test_gradcheck_passes_an_exact_match_with_zero_tolerance_and_uses_the_given_step():
    """Central differences are exact for a quadratic with a step of 0.5 (a power of 2): engine and numbers agree
    bit for bit, so the check passes with rtol = atol = 0. The default step (1e-6) rounds and fails that."""
    def f(x):
        return (x * x).sum()

    assert gradcheck(f, np.array([1.0, -3.0]), eps=0.5, rtol=0.0, atol=0.0) is True
    with pytest.raises(AssertionError, match="gradient check failed"):
        gradcheck(f, np.array([1.0, -3.0]), rtol=0.0, atol=0.0)
