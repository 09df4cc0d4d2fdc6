"""HMC's internals one at a time (minivi/mcmc.py), each against a number worked out by hand.

One transition per chain: its own divergence flag, its own Metropolis uniform,
the random draws in the documented order; the first step size (halve or double
until one leapfrog step is accepted with probability about 1/2); dual averaging's
first iterates; the number of leapfrog steps L = trajectory_length / ε; Stan's
regularised variance with the unbiased (n - 1) variance; a run of one draw.
"""
import math
import warnings

import numpy as np
import pytest

from minivi import mcmc


def gaussian_value_and_grad(scale=1.0):
    """log p(w) = -Σ w² / (2 scale²) for every row (chain) of w, and its gradient -w / scale²."""
    def value_and_grad(w):
        return -0.5 * np.sum(w * w, axis=1) / scale ** 2, -w / scale ** 2
    return value_and_grad


# ---------------------------------------------------------------- one transition


def test_a_non_finite_gradient_in_one_chain_marks_only_that_chain_divergent():
    base = gaussian_value_and_grad()

    def value_and_grad(w):        # chain 1's gradient is NaN everywhere except at its start (given below)
        log_p, grad = base(w)
        grad[1] = np.nan
        return log_p, grad

    w = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]])
    state = (w, *base(w))
    (w_new, log_p_new, grad_new), accept, accept_prob, divergent = mcmc.transition(
        state, 0.1, 3, value_and_grad, 1.0, np.random.default_rng(0))
    assert divergent.tolist() == [False, True, False]
    assert accept_prob[1] == 0.0 and not accept[1]
    np.testing.assert_array_equal(w_new[1], w[1])                    # rejected: chain 1 stays where it was
    assert np.all(accept_prob[[0, 2]] > 0.9) and accept[[0, 2]].all()   # small steps on a Gaussian: accepted
    assert np.all(np.isfinite(w_new)) and np.all(np.isfinite(log_p_new)) and np.all(np.isfinite(grad_new))


def test_one_transition_draws_jitter_momenta_and_one_metropolis_uniform_per_chain_in_that_order():
    n_chains, d, step, n_steps = 4, 3, 0.9, 4
    inverse_mass = np.array([0.5, 1.0, 2.0])
    value_and_grad = gaussian_value_and_grad(0.7)
    w = np.random.default_rng(1).normal(size=(n_chains, d))
    state = (w, *value_and_grad(w))
    rng, replay = np.random.default_rng(42), np.random.default_rng(42)
    (w_new, log_p_new, _), accept, accept_prob, _ = mcmc.transition(state, step, n_steps, value_and_grad,
                                                                   inverse_mass, rng)
    jittered = step * replay.uniform(0.8, 1.2, size=(n_chains, 1))
    p = replay.standard_normal((n_chains, d)) / np.sqrt(inverse_mass)
    u = replay.uniform(size=n_chains)
    assert rng.random() == replay.random()            # exactly these draws, no more
    w_end, p_end, log_p_end, _ = mcmc.leapfrog(w, p, jittered, n_steps, value_and_grad, inverse_mass)
    delta = mcmc.hamiltonian(log_p_end, p_end, inverse_mass) - mcmc.hamiltonian(state[1], p, inverse_mass)
    np.testing.assert_allclose(accept_prob, np.minimum(1.0, np.exp(-delta)), rtol=1e-12)
    np.testing.assert_array_equal(accept, u < accept_prob)
    assert 0 < accept.sum() < n_chains               # this seed accepts some chains and rejects others
    np.testing.assert_array_equal(w_new, np.where(accept[:, None], w_end, w))
    np.testing.assert_array_equal(log_p_new, np.where(accept, log_p_end, state[1]))


# ---------------------------------------------------------------- the first step size


def one_step_acceptance(w, p, step, scale):
    """Mean over chains of min(1, exp(-ΔH)) after one leapfrog step on N(0, scale²), written out."""
    p_half = p - 0.5 * step * w / scale ** 2
    w_new = w + step * p_half
    p_new = p_half - 0.5 * step * w_new / scale ** 2
    h_start = np.sum(w * w, axis=1) / (2 * scale ** 2) + 0.5 * np.sum(p * p, axis=1)
    h_end = np.sum(w_new * w_new, axis=1) / (2 * scale ** 2) + 0.5 * np.sum(p_new * p_new, axis=1)
    return np.mean(np.minimum(1.0, np.exp(h_start - h_end)))


@pytest.mark.parametrize("scale, doubled", [(30.0, True), (0.02, False)])
def test_the_first_step_size_is_the_power_of_two_where_the_acceptance_crosses_one_half(scale, doubled):
    """From ε = 1: a wide target accepts it, so ε doubles up to the first with acceptance <= 1/2;
    a narrow one rejects it, so ε halves down to the first accepted with probability > 1/2."""
    value_and_grad = gaussian_value_and_grad(scale)
    w = scale * np.random.default_rng(3).normal(size=(3, 2))
    log_p, grad = value_and_grad(w)
    step = mcmc._initial_step_size(value_and_grad, w, log_p, grad, np.ones(2), np.random.default_rng(8))
    p = np.random.default_rng(8).standard_normal(w.shape)        # the one draw it makes
    exponent = math.log2(step)
    assert exponent == round(exponent) and (exponent > 0) == doubled
    if doubled:
        assert one_step_acceptance(w, p, step, scale) <= 0.5 < one_step_acceptance(w, p, step / 2, scale)
    else:
        assert one_step_acceptance(w, p, step, scale) > 0.5 >= one_step_acceptance(w, p, step * 2, scale)


def test_a_mean_acceptance_of_exactly_one_half_counts_as_a_step_too_large():
    """Chain 0 on a flat density always accepts; chain 1 gets NaN (acceptance 0) once it moves more than 0.1.
    At ε = 1 the mean is exactly 1/2, not above it: ε halves until chain 1 stays within 0.1 (mean 1)."""
    def value_and_grad(w):
        log_p = np.where((np.arange(len(w)) == 1) & (np.abs(w).max(axis=1) > 0.1), np.nan, 0.0)
        return log_p, np.zeros_like(w)

    w = np.zeros((2, 1))
    step = mcmc._initial_step_size(value_and_grad, w, *value_and_grad(w), np.ones(1), np.random.default_rng(0))
    p1 = np.random.default_rng(0).standard_normal((2, 1))[1, 0]
    assert abs(p1) > 0.1                                          # at ε = 1 chain 1 leaves: mean exactly 1/2
    assert step * abs(p1) <= 0.1 < 2 * step * abs(p1)              # the largest power of 2 that keeps it in


def test_the_first_step_size_search_on_a_density_that_overflows_raises_no_warning():
    """Scale 1e-160: one step of ε = 1 throws w to ~1e160, whose square overflows. The search halves, silently."""
    value_and_grad = gaussian_value_and_grad(1e-160)
    w = 1e-160 * np.random.default_rng(3).normal(size=(2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step = mcmc._initial_step_size(value_and_grad, w, *value_and_grad(w), np.ones(2), np.random.default_rng(8))
    assert 0 < step < 1


def test_the_first_step_size_search_uses_the_mass_matrix():
    """With M⁻¹ = scale², every weight looks like N(0, 1) to the sampler: the search ends near ε ~ 1."""
    scale = np.array([30.0, 30.0])
    value_and_grad = gaussian_value_and_grad(30.0)
    w = 30.0 * np.random.default_rng(3).normal(size=(3, 2))
    unit = mcmc._initial_step_size(value_and_grad, w, *value_and_grad(w), np.ones(2), np.random.default_rng(8))
    scaled = mcmc._initial_step_size(value_and_grad, w, *value_and_grad(w), scale ** 2, np.random.default_rng(8))
    assert unit >= 16 and 0.25 <= scaled <= 4


# ---------------------------------------------------------------- dual averaging


def test_dual_averaging_starts_at_mu_log_ten_eps0_and_follows_its_recursion():
    da = mcmc.DualAveraging(0.3, target=0.8)
    assert da.mu == pytest.approx(math.log(3.0), rel=1e-15)
    assert da.step_size == pytest.approx(0.3, rel=1e-15) and da.final_step_size == da.step_size
    da.update(0.5)                                        # t = 1: H̄ = (0.8 - 0.5) / 11
    h1 = 0.3 / 11
    log1 = math.log(3.0) - 1 / 0.05 * h1
    assert da.step_size == pytest.approx(math.exp(log1), rel=1e-12)
    assert da.final_step_size == pytest.approx(math.exp(log1), rel=1e-12)        # t^-κ = 1: the iterate itself
    da.update(0.9)                                        # t = 2
    h2 = (1 - 1 / 12) * h1 + (0.8 - 0.9) / 12
    log2 = math.log(3.0) - math.sqrt(2) / 0.05 * h2
    eta = 2 ** -0.75
    assert da.step_size == pytest.approx(math.exp(log2), rel=1e-12)
    assert da.final_step_size == pytest.approx(math.exp(eta * log2 + (1 - eta) * log1), rel=1e-12)
    da.restart(0.1)
    assert da.mu == pytest.approx(math.log(1.0), abs=1e-15) and da.t == 0 and da.h_bar == 0.0
    assert da.final_step_size == pytest.approx(0.1, rel=1e-15)


# ---------------------------------------------------------------- leapfrog steps per iteration


class CountingGaussian:
    """log p(w) = -Σ w² / 2 for one chain's Tensor w (D,), counting the calls (one per leapfrog step)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, w):
        self.calls += 1
        return (w * w).sum() * -0.5


@pytest.mark.parametrize("step_size, options, n_steps", [
    (0.25, {}, 8),                                  # L = 2.0 / 0.25
    (0.3, {}, 7),                                   # 6.67 rounded
    (0.3, {"trajectory_length": 0.9}, 3),
    (0.001, {"max_leapfrog": 5}, 5),                # capped
    (10.0, {}, 1),                                  # at least one step
    (0.25, {"n_leapfrog": 3}, 3),                   # given: used as it is
])
def test_each_iteration_takes_trajectory_length_over_eps_leapfrog_steps(step_size, options, n_steps):
    log_prob = CountingGaussian()
    result = mcmc.hmc(log_prob, np.zeros((1, 2)), n_samples=3, n_warmup=0, step_size=step_size,
                      rng=np.random.default_rng(0), warn=False, **options)
    assert result.n_leapfrog == n_steps
    assert log_prob.calls == 1 + 3 * n_steps       # the start, then one gradient per leapfrog step


def test_regularized_variance_uses_the_unbiased_variance_shrunk_towards_one_thousandth():
    draws = np.array([[0.0, 10.0], [1.0, 10.0], [2.0, 10.0], [3.0, 10.0]])   # variances (n - 1): 5/3 and 0
    np.testing.assert_allclose(mcmc.regularized_variance(draws),
                               [4 / 9 * 5 / 3 + 1e-3 * 5 / 9, 1e-3 * 5 / 9], rtol=1e-14)


def test_a_run_of_one_draw_per_chain_keeps_it_and_warns_that_r_hat_is_undefined():
    log_prob = CountingGaussian()
    with pytest.warns(mcmc.ConvergenceWarning):
        result = mcmc.hmc(log_prob, np.array([[0.5, -0.5], [1.0, 0.0]]), n_samples=1, n_warmup=0, step_size=0.4,
                          rng=np.random.default_rng(2))
    assert result.samples.shape == (2, 1, 2) and result.log_prob.shape == (2, 1)
    np.testing.assert_allclose(result.log_prob[:, 0], -0.5 * np.sum(result.samples[:, 0] ** 2, axis=1), rtol=1e-15)
    assert set(result.acceptance_rate_per_chain.tolist()) <= {0.0, 1.0}
    assert np.all(np.isnan(result.rhat)) and np.all(np.isnan(result.ess))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mcmc.hmc(CountingGaussian(), np.zeros((2, 2)), n_samples=1, n_warmup=0, step_size=0.4,
                 rng=np.random.default_rng(2), warn=False)         # warn=False: silent


def test_the_first_step_size_search_starts_at_one_and_stops_after_sixty_doublings():
    """On a flat density every step is accepted: from ε = 1, sixty doublings give 2^60, where the search stops."""
    def flat(w):
        return np.zeros(len(w)), np.zeros_like(w)

    w = np.zeros((2, 3))
    step = mcmc._initial_step_size(flat, w, *flat(w), np.ones(3), np.random.default_rng(0))
    assert step == 2.0 ** 60


def test_each_mass_window_estimates_m_from_exactly_its_own_draws(monkeypatch):
    # regularized_variance sees, at the end of every slow window (mass_windows), the draws of all chains
    # in that window and no other: (end - start) iterations x n_chains rows.
    seen = []
    original = mcmc.regularized_variance

    def recording(draws):
        seen.append(draws.shape)
        return original(draws)

    monkeypatch.setattr(mcmc, "regularized_variance", recording)
    n_warmup, n_chains = 200, 3
    mcmc.hmc(CountingGaussian(), np.zeros((n_chains, 2)), n_samples=2, n_warmup=n_warmup,
             rng=np.random.default_rng(4), warn=False)
    windows = mcmc.mass_windows(n_warmup)
    assert len(windows) >= 2
    assert seen == [((end - start) * n_chains, 2) for start, end in windows]


def test_the_acceptance_rate_per_chain_is_a_fraction_whose_mean_is_the_acceptance_rate():
    result = mcmc.hmc(CountingGaussian(), np.zeros((3, 2)), n_samples=40, n_warmup=0, step_size=1.2,
                      rng=np.random.default_rng(5), warn=False)
    per_chain = result.acceptance_rate_per_chain
    assert per_chain.shape == (3,) and np.all((0 <= per_chain) & (per_chain <= 1))
    assert 0 < result.acceptance_rate < 1                        # some proposals rejected at this step size
    assert per_chain.mean() == pytest.approx(result.acceptance_rate, rel=1e-14)
    np.testing.assert_allclose(per_chain * 40, np.round(per_chain * 40), atol=1e-12)   # whole counts over 40
