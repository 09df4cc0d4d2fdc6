"""Hamiltonian Monte Carlo (minivi/mcmc.py): the integrator, the diagnostics against known answers,
the sampler against the exact posterior of the conjugate model, and checks that each of these can fail.
"""
import warnings

import numpy as np
import pytest

import minivi as mv
from minivi import flat, mcmc

# ---------------------------------------------------------------- problems with known answers


def conjugate_problem(prior_sigma=0.5, noise_sigma=0.5, n=20, seed=0):
    """y = x w + b + noise with two features: D = 3 weights, and the exact posterior from minivi/exact.py."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = x @ np.array([0.8, -1.2]) + 0.5 + noise_sigma * rng.normal(size=n)
    model = mv.Linear(2, 1, rng=rng)
    log_prob = flat.log_joint(model, x, y, noise_sigma=noise_sigma, prior_sigma=prior_sigma)
    phi = np.hstack([x, np.ones((n, 1))])   # the flat layout: W (2 entries), then the bias
    mean, cov = mv.exact.blr_posterior(phi, y, prior_sigma, noise_sigma)
    return model, x, y, log_prob, mean, cov


def tanh_problem(seed=0):
    """A small tanh network's log joint: a non-Gaussian, correlated target for the integrator."""
    rng = np.random.default_rng(seed)
    model = mv.Sequential(mv.Linear(1, 5, rng=rng), mv.Tanh(), mv.Linear(5, 1, rng=rng))
    x = rng.uniform(-2, 2, size=(20, 1))
    y = np.sin(2 * x[:, 0]) + 0.1 * rng.normal(size=20)
    log_prob = flat.log_joint(model, x, y, noise_sigma=0.3)
    w0 = flat.parameters_to_vector(model)[None, :]
    return log_prob, w0, rng.normal(size=w0.shape)


def value_and_grad_of(log_prob):
    return lambda w: mcmc.log_prob_and_grad(log_prob, w, vectorized=True)


def conjugate_z_scores(samples, mean, cov):
    """How many Monte Carlo standard errors each estimate is from the exact answer.

    Means: |mean of w_i - exact|/ MCSE, MCSE = sd / sqrt(ESS of w_i).
    Covariances: the estimate of cov_ij is the mean of the series z_t = (w_i - m_i)(w_j - m_j)
    about the exact mean m, whose expectation is exactly cov_ij; its MCSE is sd(z) / sqrt(ESS of z),
    so the tolerance comes from the ESS of the very series being averaged.
    """
    z_mean = np.abs(samples.mean(axis=(0, 1)) - mean) / mcmc.monte_carlo_se(samples)
    centred = samples - mean
    i, j = np.triu_indices(len(mean))
    products = centred[:, :, i] * centred[:, :, j]                  # (C, S, number of pairs)
    z_cov = np.abs(products.mean(axis=(0, 1)) - cov[i, j]) / mcmc.monte_carlo_se(products)
    return z_mean, z_cov


# ---------------------------------------------------------------- the leapfrog integrator


def symplectic_euler(w, p, step_size, n_steps, value_and_grad, inverse_mass=1.0, start=None):
    """A full momentum step, then a full position step: the leapfrog with its half steps made whole."""
    log_p, grad = value_and_grad(w) if start is None else start
    for _ in range(n_steps):
        p = p + step_size * grad
        w = w + step_size * inverse_mass * p
        log_p, grad = value_and_grad(w)
    return w, p, log_p, grad


def reversibility_error(integrator, n_steps=50, step_size=0.01):
    """L steps forward, momentum negated, L steps back: the largest distance from the start."""
    log_prob, w0, p0 = tanh_problem()
    vg = value_and_grad_of(log_prob)
    w, p, _, _ = integrator(w0, p0, step_size, n_steps, vg)
    w_back, p_back, _, _ = integrator(w, -p, step_size, n_steps, vg)
    return max(np.max(np.abs(w_back - w0)), np.max(np.abs(-p_back - p0)))


def test_leapfrog_is_time_reversible():
    assert reversibility_error(mcmc.leapfrog) < 1e-10


def test_symplectic_euler_fails_the_reversibility_test():
    assert reversibility_error(symplectic_euler) > 1e-4


def energy_error_slope(integrator, step_sizes=(0.02, 0.01, 0.005), time=1.0):
    """The slope of log(max |H - H_0| over a trajectory of fixed time) against log ε."""
    log_prob, w0, p0 = tanh_problem()
    vg = value_and_grad_of(log_prob)
    log_p0, grad0 = vg(w0)
    h0 = mcmc.hamiltonian(log_p0, p0)
    errors = []
    for eps in step_sizes:
        w, p, log_p, grad = w0, p0, log_p0, grad0
        worst = 0.0
        for _ in range(int(round(time / eps))):
            w, p, log_p, grad = integrator(w, p, eps, 1, vg, start=(log_p, grad))
            worst = max(worst, float(np.abs(mcmc.hamiltonian(log_p, p) - h0)[0]))
        errors.append(worst)
    return np.polyfit(np.log(step_sizes), np.log(errors), 1)[0]


def test_leapfrog_energy_error_shrinks_as_the_step_size_squared():
    assert 1.8 < energy_error_slope(mcmc.leapfrog) < 2.2


def test_symplectic_euler_energy_error_shrinks_only_linearly():
    assert 0.8 < energy_error_slope(symplectic_euler) < 1.2


def test_leapfrog_one_step_written_out():
    """On log p(w) = -w²/2 (gradient -w), one step with ε and M⁻¹ = m:
    p½ = p - ε w/2, w' = w + ε m p½, p' = p½ - ε w'/2."""
    def vg(w):
        return -0.5 * np.sum(w * w, axis=-1), -w

    w, p, eps, m = np.array([[0.3, -1.0]]), np.array([[1.0, 0.5]]), 0.1, np.array([2.0, 0.5])
    p_half = p - eps * w / 2
    w_new = w + eps * m * p_half
    got_w, got_p, log_p, grad = mcmc.leapfrog(w, p, eps, 1, vg, inverse_mass=m)
    np.testing.assert_allclose(got_w, w_new, rtol=1e-15)
    np.testing.assert_allclose(got_p, p_half - eps * w_new / 2, rtol=1e-15)
    np.testing.assert_allclose(grad, -w_new, rtol=1e-15)


def test_leapfrog_refuses_bad_step_sizes_and_counts():
    def vg(w):
        return -0.5 * np.sum(w * w, axis=-1), -w

    w = np.zeros((1, 2))
    for bad in (0.0, -0.1, np.array([[0.1], [0.0]])):
        with pytest.raises(ValueError, match=r"step[ _]size must be (one positive finite number|> 0)"):
            mcmc.leapfrog(w, w, bad, 3, vg)
    with pytest.raises(ValueError, match="n_steps"):
        mcmc.leapfrog(w, w, 0.1, -1, vg)
    w0, p0, _, _ = mcmc.leapfrog(w + 1, w + 2, 0.1, 0, vg)
    np.testing.assert_array_equal(w0, w + 1)   # zero steps: the start
    np.testing.assert_array_equal(p0, w + 2)


# ---------------------------------------------------------------- split R-hat and ESS against known answers


def test_split_rhat_by_hand():
    """Chains [1,2,3,4] and [5,6,7,8] split into [1,2], [3,4], [5,6], [7,8] (M = 4, N = 2):
    B = N · Var(1.5, 3.5, 5.5, 7.5) = 2 · 20/3, W = 1/2, var⁺ = W/2 + B/2 = 0.25 + 20/3, R̂ = sqrt(var⁺/W)."""
    samples = np.array([[1.0, 2, 3, 4], [5, 6, 7, 8]])
    expected = np.sqrt((0.25 + 20 / 3) / 0.5)
    np.testing.assert_allclose(mcmc.split_rhat(samples, rank_normalized=False), [expected], rtol=1e-14)


def test_split_rhat_near_one_for_independent_chains_and_large_when_they_disagree():
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((4, 2000, 3))
    assert np.all(mcmc.split_rhat(iid) < 1.01)
    shifted = iid + np.array([0.0, 0.0, 0.0, 1.0])[:, None, None]   # one chain elsewhere
    assert np.all(mcmc.split_rhat(shifted) > 1.05)


def test_split_rhat_sees_a_drifting_single_chain():
    """Splitting is what catches a trend within one chain: its two halves disagree."""
    rng = np.random.default_rng(1)
    drifting = (rng.standard_normal(1000) + np.linspace(0.0, 3.0, 1000))[None, :]
    assert mcmc.split_rhat(drifting)[0] > 1.2


def ar1(phi, n_chains, n, rng):
    """Stationary AR(1) chains x_t = φ x_{t-1} + sqrt(1 - φ²) ε_t, started from N(0, 1)."""
    x = np.empty((n_chains, n))
    x[:, 0] = rng.standard_normal(n_chains)
    noise = np.sqrt(1 - phi ** 2) * rng.standard_normal((n_chains, n))
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def test_ess_of_independent_draws_is_the_number_of_draws():
    rng = np.random.default_rng(2)
    ess = mcmc.effective_sample_size(rng.standard_normal((4, 2500, 3)))
    np.testing.assert_allclose(ess, 10_000, rtol=0.1)


@pytest.mark.parametrize("phi", [0.9, -0.5])
def test_ess_of_an_ar1_chain_is_n_times_one_minus_phi_over_one_plus_phi(phi):
    """τ = (1 + φ)/(1 - φ) for AR(1): φ = 0.9 gives ESS = n/19; φ = -0.5 (antithetic) gives 3n."""
    rng = np.random.default_rng(3)
    n = 4 * 25_000
    samples = ar1(phi, 4, 25_000, rng)
    expected = n * (1 - phi) / (1 + phi)
    np.testing.assert_allclose(mcmc.effective_sample_size(samples), expected, rtol=0.1)
    np.testing.assert_allclose(mcmc.effective_sample_size(samples, rank_normalized=False), expected, rtol=0.1)


def test_rank_normalised_diagnostics_ignore_a_monotone_transformation():
    """The bulk ESS sees only ranks: any increasing map leaves it unchanged. R-hat's folded part
    ranks |θ - median|, which an increasing map keeps only if it is affine."""
    samples = ar1(0.7, 4, 1000, np.random.default_rng(4))
    heavy = np.exp(3 * samples)   # a heavy right tail; same ranks
    np.testing.assert_array_equal(mcmc.effective_sample_size(heavy), mcmc.effective_sample_size(samples))
    # rtol: the two draws either side of an even count's median are tied in |θ - m|, a tie that the
    # rounding of 2θ + 5 may break (ranks 2000 and 2001 swap: a change in the 6th digit, not the 4th)
    np.testing.assert_allclose(mcmc.split_rhat(2.0 * samples + 5.0), mcmc.split_rhat(samples), rtol=1e-5)
    folded_changes = mcmc.split_rhat(heavy) != mcmc.split_rhat(samples)
    assert folded_changes[0]      # exp() reorders the distances to the median: the tail R-hat moves


def test_diagnostics_refuse_too_few_draws_and_non_finite_values():
    with pytest.raises(ValueError, match="at least 4 draws"):
        mcmc.split_rhat(np.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        mcmc.effective_sample_size(np.full((2, 10), np.nan))
    constant = np.ones((2, 10, 1))   # a weight that never moved: undefined, said with NaN
    assert np.isnan(mcmc.split_rhat(constant)[0]) and np.isnan(mcmc.effective_sample_size(constant)[0])


# ---------------------------------------------------------------- the tuning pieces


def test_dual_averaging_finds_the_step_size_of_the_target_acceptance():
    """With acceptance α(ε) = exp(-ε²), the target 0.8 is reached at ε = sqrt(-log 0.8)."""
    adapter = mcmc.DualAveraging(1.0, target=0.8)
    for _ in range(2000):
        adapter.update(np.exp(-adapter.step_size ** 2))
    np.testing.assert_allclose(adapter.final_step_size, np.sqrt(-np.log(0.8)), rtol=0.02)


def stan_slow_windows(n_warmup):
    """Stan's windowed adaptation, iteration by iteration as its documentation describes it: an initial
    fast buffer of 75, slow windows starting at 25 and doubling, a terminal fast buffer of 50; a window
    whose successor would overrun the slow part is stretched to its end; 15%/75%/10% when 75 + 25 + 50
    do not fit; no adaptation below 20 iterations. Returns the slow windows as (start, end) ranges."""
    if n_warmup < 20:
        return []
    init, term, base = 75, 50, 25
    if init + base + term > n_warmup:
        init, term = int(0.15 * n_warmup), int(0.10 * n_warmup)
        base = n_warmup - (init + term)
    last = n_warmup - term - 1                    # the last iteration of the slow part
    size, window_end, start, windows = base, init + base - 1, init, []
    for it in range(n_warmup):
        if it == window_end:                       # the window ends here: estimate M, plan the next one
            windows.append((start, it + 1))
            start = it + 1
            if window_end != last:
                size *= 2
                window_end = it + size
                if window_end != last and window_end + 2 * size >= n_warmup - term:
                    window_end = last
    return windows


def test_mass_windows_follow_stans_schedule():
    assert mcmc.mass_windows(1000) == [(75, 100), (100, 150), (150, 250), (250, 450), (450, 950)]
    assert mcmc.mass_windows(100) == [(15, 90)]
    assert mcmc.mass_windows(160) == [(75, 100), (100, 110)]    # Stan keeps the first window at 25
    assert mcmc.mass_windows(10) == []


def test_mass_windows_equal_a_port_of_stans_windowed_adaptation():
    differ = [n for n in range(0, 3000) if mcmc.mass_windows(n) != stan_slow_windows(n)]
    assert differ == []


def test_warm_up_learns_the_scales_of_a_stretched_gaussian():
    scales = np.array([0.01, 1.0, 30.0])

    def log_prob(w):
        return (w * w * (-0.5 / scales ** 2)).sum(axis=-1)
    log_prob.vectorized = True
    result = mcmc.hmc(log_prob, np.zeros((4, 3)), n_samples=4, n_warmup=300, n_leapfrog=8,
                      rng=np.random.default_rng(5), warn=False)
    np.testing.assert_allclose(result.inverse_mass, scales ** 2, rtol=0.3)


# ---------------------------------------------------------------- the sampler: contract, seeds, bad input


def test_hmc_result_has_the_contracted_shapes_and_is_reproducible():
    _, _, _, log_prob, mean, _ = conjugate_problem()
    init = np.zeros((2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mcmc.ConvergenceWarning)   # 20 draws are too few on purpose
        a, b, c = (mcmc.hmc(log_prob, init, n_samples=20, n_warmup=20, n_leapfrog=5, rng=np.random.default_rng(seed))
                   for seed in (6, 6, 7))
    assert a.samples.shape == (2, 20, 3) and a.log_prob.shape == (2, 20)
    assert isinstance(a.acceptance_rate, float) and 0 < a.acceptance_rate <= 1
    assert isinstance(a.step_size, float) and a.step_size > 0
    assert isinstance(a.n_divergent, int)
    assert mcmc.split_rhat(a.samples).shape == mcmc.effective_sample_size(a.samples).shape == (3,)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    assert "acceptance" in a.summary()
    assert (f"divergent transitions: {a.n_divergent} after warm-up, {a.n_divergent_warmup} during warm-up"
            in a.summary()), a.summary()


def test_one_chain_at_a_time_gives_the_same_chains_as_all_at_once():
    _, _, _, log_prob, _, cov = conjugate_problem()
    kwargs = dict(n_samples=15, n_warmup=0, step_size=0.5, inverse_mass=np.diag(cov), warn=False)
    batch = mcmc.hmc(log_prob, np.zeros((2, 3)), rng=np.random.default_rng(8), **kwargs)
    single = mcmc.hmc(log_prob, np.zeros((2, 3)), rng=np.random.default_rng(8), vectorized=False, **kwargs)
    np.testing.assert_allclose(single.samples, batch.samples, rtol=1e-12, atol=1e-12)


def test_hmc_refuses_bad_input():
    _, _, _, log_prob, _, _ = conjugate_problem()
    rng = np.random.default_rng(9)
    with pytest.raises(ValueError, match="NaN or inf"):
        mcmc.hmc(log_prob, np.array([[0.0, np.nan, 0.0]]), 10, 10, rng=rng)
    with pytest.raises(ValueError, match=r"\(n_chains, D\)"):
        mcmc.hmc(log_prob, np.zeros(3), 10, 10, rng=rng)
    for bad in (0.0, -0.1, np.inf):
        with pytest.raises(ValueError, match="step_size must be one positive"):
            mcmc.hmc(log_prob, np.zeros((1, 3)), 10, 10, rng=rng, step_size=bad)
    with pytest.raises(ValueError, match="n_warmup=0"):
        mcmc.hmc(log_prob, np.zeros((1, 3)), 10, 0, rng=rng)
    with pytest.raises(TypeError, match="Generator"):
        mcmc.hmc(log_prob, np.zeros((1, 3)), 10, 10, rng=0)
    with pytest.raises(ValueError, match="n_samples"):
        mcmc.hmc(log_prob, np.zeros((1, 3)), 0, 10, rng=rng)

    def nan_at_the_start(w):
        return (w * 0.0).sum() + np.nan

    def minus_inf_somewhere(w):   # log of a density that is 0 where w_0 < 0
        return (w[0] * 1.0).log() + (w * w).sum() * -0.5

    with pytest.raises(ValueError, match="chain 0 the log density is nan"):
        mcmc.hmc(nan_at_the_start, np.zeros((1, 3)), 10, 10, rng=rng)
    with pytest.raises(ValueError, match="chain 1 the log density is -inf"):
        with np.errstate(divide="ignore"):
            mcmc.hmc(minus_inf_somewhere, np.array([[1.0, 0, 0], [0.0, 0, 0]]), 10, 10, rng=rng)
    with pytest.raises(TypeError, match="returned a float"):
        mcmc.hmc(lambda w: 0.0, np.zeros((1, 3)), 10, 10, rng=rng)
    with pytest.raises(ValueError, match="does not depend on the weights"):
        mcmc.hmc(lambda w: mv.Tensor(1.0), np.zeros((1, 3)), 10, 10, rng=rng)
    other = mv.Tensor(np.ones(3), requires_grad=True)   # e.g. a model's parameter instead of w
    with pytest.raises(ValueError, match="does not depend on the weights"):
        mcmc.hmc(lambda w: (other * other).sum(), np.zeros((1, 3)), 10, 10, rng=rng)
    with pytest.raises(ValueError, match="returned shape"):
        mcmc.hmc(lambda w: w * 1.0, np.zeros((1, 3)), 10, 10, rng=rng)


def test_divergent_transitions_are_counted_rejected_and_reported():
    """A step far too large: every trajectory's energy error explodes; nothing is accepted, all are counted."""
    _, _, _, log_prob, _, _ = conjugate_problem()
    init = np.zeros((2, 3))
    with pytest.warns(mcmc.ConvergenceWarning, match="40 divergent transitions"):
        result = mcmc.hmc(log_prob, init, n_samples=20, n_warmup=0, step_size=5.0, n_leapfrog=20,
                          rng=np.random.default_rng(10))
    assert result.n_divergent == 40 and list(result.n_divergent_per_chain) == [20, 20]
    assert result.acceptance_rate == 0.0
    np.testing.assert_array_equal(result.samples, np.broadcast_to(init[:, None, :], result.samples.shape))


def test_chains_stuck_in_different_modes_give_an_rhat_warning():
    """Two modes at ±5 separated by a valley HMC cannot cross in 150 iterations: the chains disagree."""
    def two_modes(w):
        return (((w - 5.0) ** 2 * -0.5).exp() + ((w + 5.0) ** 2 * -0.5).exp()).log().sum(axis=-1)
    two_modes.vectorized = True
    init = np.array([[-5.0], [-5.0], [5.0], [5.0]])
    with pytest.warns(mcmc.ConvergenceWarning, match="R-hat = .* > 1.01"):
        result = mcmc.hmc(two_modes, init, n_samples=100, n_warmup=50, n_leapfrog=3,
                          rng=np.random.default_rng(18))
    assert np.max(result.rhat) > 1.5


def test_too_few_draws_give_a_convergence_warning():
    _, _, _, log_prob, _, _ = conjugate_problem()
    with pytest.warns(mcmc.ConvergenceWarning, match="ESS"):
        mcmc.hmc(log_prob, np.zeros((2, 3)), n_samples=10, n_warmup=100, n_leapfrog=5, rng=np.random.default_rng(11))


# ---------------------------------------------------------------- the posterior of the conjugate model (slow)


@pytest.mark.slow
def test_hmc_recovers_the_exact_posterior_of_the_conjugate_model():
    """4 chains, 1000 warm-up + 1000 draws from random starts. Every mean within 4 MCSEs of the exact one,
    every covariance entry within 4 MCSEs of the product series (see conjugate_z_scores), split R-hat < 1.01."""
    _, _, _, log_prob, mean, cov = conjugate_problem()
    init = np.random.default_rng(12).normal(0.0, 2.0, size=(4, 3))
    result = mcmc.hmc(log_prob, init, n_samples=1000, n_warmup=1000, rng=np.random.default_rng(13))
    z_mean, z_cov = conjugate_z_scores(result.samples, mean, cov)
    assert np.all(z_mean < 4), z_mean
    assert np.all(z_cov < 4), z_cov
    assert np.all(mcmc.split_rhat(result.samples) < 1.01)
    assert result.n_divergent == 0
    assert np.all(result.ess > 400), result.ess


@pytest.mark.slow
def test_a_log_density_with_a_dropped_term_fails_the_conjugate_check():
    """Leave out the prior log p(w): HMC then samples the likelihood alone, and the check must notice."""
    _, _, _, log_prob, mean, cov = conjugate_problem()
    scales = np.full(3, 0.5)

    def without_prior(w):
        return log_prob(w) - flat.log_normal_prior(w, scales)
    without_prior.vectorized = True
    init = np.random.default_rng(12).normal(0.0, 2.0, size=(4, 3))
    result = mcmc.hmc(without_prior, init, n_samples=1000, n_warmup=1000, rng=np.random.default_rng(13))
    z_mean, _ = conjugate_z_scores(result.samples, mean, cov)
    assert np.max(z_mean) > 4, z_mean


def with_wrong_gradient(log_prob):
    """The same log density, as one op whose VJP is wrong: 0.6 ∇log p + 0.3, a function of w alone."""
    def wrong(w):
        inner = mv.Tensor(w.data, requires_grad=True)
        value = log_prob(inner)
        value.backward(np.ones(value.shape))
        bad_grad = 0.6 * inner.grad + 0.3
        return mv.make_op("log_prob_with_a_wrong_gradient", value.data, (w,),
                          (lambda g: np.expand_dims(g, -1) * bad_grad,))
    wrong.vectorized = True
    return wrong


@pytest.mark.slow
def test_a_wrong_gradient_leaves_the_posterior_right_and_only_lowers_the_acceptance():
    """The Metropolis step's guarantee, measured.

    HMC accepts (w', p') with probability min(1, exp(H(w, p) - H(w', p'))): only the VALUE of the log
    density enters. The gradient only steers the proposal. With any force F(w) that depends on w alone,
    each leapfrog update is still a shear (volume-preserving) and the step is still symmetric (reversible),
    so p(w|D) stays exactly stationary and the draws are right. But the wrong force lets H drift more, so
    more proposals are rejected: the same step size gives a lower acceptance rate (and slower mixing).
    The step size and mass are fixed (no warm-up), so that dual averaging cannot hide the drop.
    """
    _, _, _, log_prob, mean, cov = conjugate_problem()
    init = np.random.default_rng(14).multivariate_normal(mean, cov, size=4)
    kwargs = dict(n_samples=2000, n_warmup=0, step_size=0.5, n_leapfrog=4, inverse_mass=np.diag(cov))
    right = mcmc.hmc(log_prob, init, rng=np.random.default_rng(15), **kwargs)
    wrong = mcmc.hmc(with_wrong_gradient(log_prob), init, rng=np.random.default_rng(15), **kwargs)
    z_mean, z_cov = conjugate_z_scores(wrong.samples, mean, cov)
    assert np.all(z_mean < 4) and np.all(z_cov < 4), (z_mean, z_cov)
    assert wrong.acceptance_rate < right.acceptance_rate - 0.1, (wrong.acceptance_rate, right.acceptance_rate)


@pytest.mark.slow
def test_hmc_on_a_log_density_written_for_one_chain():
    """The plain contract: log_prob(Tensor (D,)) -> scalar, no `vectorized`; a standard normal in 2-D."""
    def log_prob(w):
        return (w * w).sum() * -0.5

    init = np.random.default_rng(16).normal(size=(4, 2))
    result = mcmc.hmc(log_prob, init, n_samples=500, n_warmup=300, rng=np.random.default_rng(17))
    z_mean, z_cov = conjugate_z_scores(result.samples, np.zeros(2), np.eye(2))
    assert np.all(z_mean < 4) and np.all(z_cov < 4), (z_mean, z_cov)
