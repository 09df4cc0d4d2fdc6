"""The evidence by annealed importance sampling, sandwiched, and ELBOs with error bars (minivi/evidence.py).

Ground truth: the conjugate model of minivi/exact.py, whose log p(𝒟), posterior and KL are exact.
Every random run uses fixed seeds, so each statistical check gives the same answer every time;
the tolerances are 3 standard errors as the run itself reports them.
"""
import warnings

import numpy as np
import pytest

import minivi as mv
from minivi import evidence as ev


def conjugate(n_data, d, seed, prior_sigma=1.0, noise_sigma=0.5):
    """y = Phi w + noise with w from the prior: (Phi, y, log_prior, log_likelihood), both densities normalised."""
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((n_data, d))
    y = Phi @ (prior_sigma * rng.standard_normal(d)) + noise_sigma * rng.standard_normal(n_data)

    def log_prior(w):
        return (w * w).sum(axis=-1) * (-0.5 / prior_sigma ** 2) - d * (np.log(prior_sigma) + 0.5 * np.log(2 * np.pi))

    def log_likelihood(w):
        r = y - w @ Phi.T
        return (r * r).sum(axis=-1) * (-0.5 / noise_sigma ** 2) - n_data * (np.log(noise_sigma)
                                                                            + 0.5 * np.log(2 * np.pi))

    log_prior.vectorized = log_likelihood.vectorized = True
    return Phi, y, log_prior, log_likelihood


def sandwich(n_data, d, seed, n_chains, n_steps, n_leapfrog=5, noise_sigma=0.5):
    """(exact log p(𝒟), forward AIS, reverse AIS) on one conjugate problem."""
    Phi, y, log_prior, log_likelihood = conjugate(n_data, d, seed, noise_sigma=noise_sigma)
    exact = mv.exact.blr_log_evidence(Phi, y, 1.0, noise_sigma)
    mean, cov = mv.exact.blr_posterior(Phi, y, 1.0, noise_sigma)
    rng = np.random.default_rng(seed + 100)
    betas = ev.geometric_schedule(n_steps)
    forward = ev.ais(log_prior, log_likelihood, rng.standard_normal((n_chains, d)), betas, rng=rng,
                     n_leapfrog=n_leapfrog)
    reverse = ev.reverse_ais(log_prior, log_likelihood, rng.multivariate_normal(mean, cov, n_chains), betas, rng=rng,
                             n_leapfrog=n_leapfrog, step_size=forward.step_size, inverse_mass=forward.inverse_mass)
    return exact, forward, reverse


def assert_within_3_stderr(result, exact):
    z = (result.log_evidence - exact) / result.stderr
    assert abs(z) <= 3.0, (result.summary(), exact, z)
    assert result.ess >= 0.1 * len(result.log_weights), result.summary()   # the stderr is then meaningful


# ---------------------------------------------------------------- the conjugate model: exact log p(𝒟)


@pytest.mark.parametrize("d", [1, 3])
def test_forward_and_reverse_ais_bracket_the_exact_evidence_small(d):
    exact, forward, reverse = sandwich(n_data=10, d=d, seed=d, n_chains=64, n_steps=60, n_leapfrog=5, noise_sigma=1.0)
    assert_within_3_stderr(forward, exact)
    assert_within_3_stderr(reverse, exact)


@pytest.mark.slow
@pytest.mark.parametrize("d, n_steps", [(2, 200), (5, 300), (10, 600)])
def test_forward_and_reverse_ais_bracket_the_exact_evidence(d, n_steps):
    exact, forward, reverse = sandwich(n_data=30, d=d, seed=10 + d, n_chains=200, n_steps=n_steps)
    assert_within_3_stderr(forward, exact)
    assert_within_3_stderr(reverse, exact)


def test_a_short_schedule_gives_a_lower_and_an_upper_bound():
    """With 5 steps the bias dominates the noise: forward lands well below the exact value, reverse well above
    (and the forward run says its few effective chains make it unreliable)."""
    with pytest.warns(ev.UnreliableEstimateWarning, match="forward AIS: the weights' effective sample size"):
        exact, forward, reverse = sandwich(n_data=20, d=3, seed=4, n_chains=64, n_steps=5, n_leapfrog=5)
    assert forward.log_evidence < exact - 2 * forward.stderr, (forward.summary(), exact)
    assert reverse.log_evidence > exact + 2 * reverse.stderr, (reverse.summary(), exact)


def test_one_step_is_plain_importance_sampling_from_the_prior():
    """betas = [0, 1]: no transition at all; log W_c = log p(𝒟|w_c) at the prior draws."""
    _, _, log_prior, log_likelihood = conjugate(8, 2, seed=0)
    init = np.random.default_rng(1).standard_normal((50, 2))
    with pytest.warns(ev.UnreliableEstimateWarning):      # prior draws as proposals: a few carry the weight
        result = ev.ais(log_prior, log_likelihood, init, [0.0, 1.0], rng=np.random.default_rng(2), step_size=0.1)
    expected = log_likelihood(mv.Tensor(init)).data
    np.testing.assert_allclose(result.log_weights, expected, rtol=1e-13)
    m = expected.max()
    assert result.log_evidence == pytest.approx(m + np.log(np.mean(np.exp(expected - m))), rel=1e-13)


def test_weight_summary_equal_weights_and_one_dominant_weight():
    stderr, ess = ev._weight_summary(np.full(10, -3.0))
    assert stderr == 0.0 and ess == pytest.approx(10.0)
    stderr, ess = ev._weight_summary(np.array([0.0, -1000.0, -1000.0, -1000.0]))
    assert ess == pytest.approx(1.0)
    # delta method on W = (1, 0, 0, 0): sd / (√4 · mean) = 0.5 / (2 · 0.25)
    assert stderr == pytest.approx(1.0)


def test_log_mean_exp_does_not_overflow():
    assert ev.log_mean_exp([1000.0, 1000.0]) == pytest.approx(1000.0)
    assert ev.log_mean_exp([-1000.0, -1000.0 + np.log(3.0)]) == pytest.approx(-1000.0 + np.log(2.0))


def test_sigmoid_schedule_runs_from_zero_to_one_and_increases():
    betas = ev.sigmoid_schedule(50)
    assert betas[0] == 0.0 and betas[-1] == 1.0 and np.all(np.diff(betas) > 0) and len(betas) == 51
    assert np.diff(betas)[0] < np.diff(betas)[25] and np.diff(betas)[-1] < np.diff(betas)[25]   # small at the ends


def test_sigmoid_schedule_is_symmetric_about_its_middle_and_delta_four_by_default():
    # s(-z) = 1 - s(z), so the normalised betas satisfy beta_k + beta_{K-k} = 1 (beta_{K/2} = 1/2).
    for delta in (1.0, 4.0, 9.0):
        betas = ev.sigmoid_schedule(20, delta=delta)
        np.testing.assert_allclose(betas + betas[::-1], 1.0, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(ev.sigmoid_schedule(20), ev.sigmoid_schedule(20, delta=4.0))
    assert not np.allclose(ev.sigmoid_schedule(20, delta=1.0), ev.sigmoid_schedule(20, delta=4.0))


def test_ais_calls_the_densities_on_all_chains_at_once_when_told_so():
    # vectorized=True given explicitly: no attribute on the functions is needed.
    _, _, log_prior, log_likelihood = conjugate(5, 2, seed=2)
    shapes = []

    def prior(w):
        shapes.append(w.shape)
        return log_prior(w)

    def likelihood(w):
        return log_likelihood(w)

    init = np.random.default_rng(0).standard_normal((4, 2))
    ev.ais(prior, likelihood, init, ev.geometric_schedule(3), rng=np.random.default_rng(1), vectorized=True)
    assert shapes and all(len(shape) == 2 and shape[1] == 2 for shape in shapes)   # (chains, D)
    shapes.clear()
    ev.ais(prior, likelihood, init, ev.geometric_schedule(3), rng=np.random.default_rng(1))   # no attribute: one by one
    assert shapes and all(shape == (2,) for shape in shapes)


@pytest.mark.parametrize("target_accept", [0.0, 1.0])
def test_ais_refuses_a_target_acceptance_of_zero_or_one(target_accept):
    _, _, log_prior, log_likelihood = conjugate(5, 2, seed=2)
    with pytest.raises(ValueError, match="target_accept"):
        ev.ais(log_prior, log_likelihood, np.zeros((2, 2)), ev.geometric_schedule(3), rng=np.random.default_rng(1),
               target_accept=target_accept)


def test_geometric_schedule_has_equal_ratios_after_zero():
    betas = ev.geometric_schedule(40, start=1e-3)
    assert betas[0] == 0.0 and betas[1] == pytest.approx(1e-3) and betas[-1] == 1.0 and len(betas) == 41
    np.testing.assert_allclose(betas[2:] / betas[1:-1], 1e-3 ** (-1 / 39), rtol=1e-12)


# ---------------------------------------------------------------- the transitions are fixed in advance


def test_the_step_sizes_come_from_the_tuning_chains_only():
    """Change every counted chain's start: the tuning chains (the first rows) and the step sizes stay the same."""
    _, _, log_prior, log_likelihood = conjugate(10, 3, seed=5)
    init = np.random.default_rng(6).standard_normal((16, 3))
    other = init.copy()
    other[4:] = np.random.default_rng(7).standard_normal((12, 3))
    betas = ev.sigmoid_schedule(30)
    a = ev.ais(log_prior, log_likelihood, init, betas, rng=np.random.default_rng(8), n_tune=4)
    b = ev.ais(log_prior, log_likelihood, other, betas, rng=np.random.default_rng(8), n_tune=4)
    np.testing.assert_array_equal(a.step_size, b.step_size)
    np.testing.assert_array_equal(a.inverse_mass, b.inverse_mass)
    assert len(a.log_weights) == 12 and not np.array_equal(a.log_weights, b.log_weights)
    assert np.all(a.inverse_mass[1:] != 1.0) and a.step_size.std() > 0     # they were tuned


def test_same_seed_same_bits_and_the_vectorised_path_agrees_with_the_per_chain_one():
    _, _, log_prior, log_likelihood = conjugate(10, 2, seed=9)
    init = np.random.default_rng(10).standard_normal((6, 2))
    betas = ev.sigmoid_schedule(8)
    runs = [ev.ais(log_prior, log_likelihood, init, betas, rng=np.random.default_rng(11), vectorized=v)
            for v in (True, True, False)]
    np.testing.assert_array_equal(runs[0].log_weights, runs[1].log_weights)
    np.testing.assert_allclose(runs[2].log_weights, runs[0].log_weights, rtol=1e-9)


# ---------------------------------------------------------------- a simulated network: lower <= upper


def small_network(seed, hidden=3, n_data=12, noise_sigma=0.3):
    rng = np.random.default_rng(seed)
    net = mv.Sequential(mv.Linear(1, hidden, rng=rng), mv.Tanh(), mv.Linear(hidden, 1, rng=rng))
    d = mv.flat.n_weights(net)
    w_star = rng.standard_normal(d)
    x = rng.uniform(-2.0, 2.0, (n_data, 1))
    with mv.no_grad():
        y = mv.flat.functional_forward(net, mv.Tensor(w_star), x).data + noise_sigma * rng.standard_normal((n_data, 1))
    log_prior, log_likelihood = ev.network_log_densities(net, x, y, noise_sigma=noise_sigma)
    return net, w_star, log_prior, log_likelihood, (x, y)


@pytest.mark.parametrize("seed", [0, 1])
def test_bdmc_lower_bound_is_below_the_upper_bound_on_a_simulated_network(seed):
    """A schedule short enough (30 steps) that the gap is a bias, larger than the noise of either bound."""
    net, w_star, log_prior, log_likelihood, _ = small_network(seed, hidden=5, n_data=20, noise_sigma=0.1)
    rng = np.random.default_rng(seed + 20)
    betas = ev.sigmoid_schedule(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ev.UnreliableEstimateWarning)
        forward = ev.ais(log_prior, log_likelihood, rng.standard_normal((24, len(w_star))), betas, rng=rng,
                         n_leapfrog=5)
        reverse = ev.reverse_ais(log_prior, log_likelihood, np.tile(w_star, (24, 1)), betas, rng=rng, n_leapfrog=5,
                                 step_size=forward.step_size, inverse_mass=forward.inverse_mass)
    assert forward.log_evidence + 2 * forward.stderr < reverse.log_evidence - 2 * reverse.stderr, \
        (forward.summary(), reverse.summary())


def test_network_log_densities_split_the_log_joint():
    net, w_star, log_prior, log_likelihood, (x, y) = small_network(3)
    joint = mv.flat.log_joint(net, x, y, noise_sigma=0.3)
    w = np.random.default_rng(0).standard_normal((5, len(w_star)))
    np.testing.assert_allclose(log_prior(mv.Tensor(w)).data + log_likelihood(mv.Tensor(w)).data,
                               joint(mv.Tensor(w)).data, rtol=1e-12)
    prior_by_hand = -0.5 * np.sum(w ** 2, axis=1) - 0.5 * len(w_star) * np.log(2 * np.pi)
    np.testing.assert_allclose(log_prior(mv.Tensor(w)).data, prior_by_hand, rtol=1e-12)


def test_network_log_likelihood_does_not_depend_on_the_prior_sigma():
    net, w_star, _, _, (x, y) = small_network(3)
    w = mv.Tensor(np.random.default_rng(1).standard_normal((4, len(w_star))))
    _, likelihood_1 = ev.network_log_densities(net, x, y, noise_sigma=0.3, prior_sigma=1.0)
    prior_3, likelihood_3 = ev.network_log_densities(net, x, y, noise_sigma=0.3, prior_sigma=3.0)
    np.testing.assert_allclose(likelihood_3(w).data, likelihood_1(w).data, rtol=1e-12)
    np.testing.assert_allclose(prior_3(w).data + likelihood_3(w).data,
                               mv.flat.log_joint(net, x, y, noise_sigma=0.3, prior_sigma=3.0)(w).data, rtol=1e-12)


# ---------------------------------------------------------------- log p(𝒟) − ELBO = KL[q ‖ p(w|𝒟)]


@pytest.mark.parametrize("which", ["mean-field optimum", "full covariance, shifted and widened"])
def test_evidence_minus_elbo_is_the_exact_kl_to_the_posterior(which):
    Phi, y, log_prior, log_likelihood = conjugate(20, 3, seed=12)
    mean, cov = mv.exact.blr_posterior(Phi, y, 1.0, 0.5)
    if which == "mean-field optimum":
        mu, sigma = mv.exact.mean_field_optimum(mean, cov)
        q, cov_q = (mu, sigma), np.diag(sigma ** 2)
    else:
        mu, cov_q = mean + 0.05, 1.5 * cov
        q = mv.FullCovGaussian(mu, rng=np.random.default_rng(0))
        L = np.linalg.cholesky(cov_q)
        q.l_raw.data = np.tril(L, -1) + np.diag(mv.gaussian.inverse_softplus(np.diag(L)))
        np.testing.assert_allclose(q.covariance(), cov_q, rtol=1e-12)
    estimate = ev.elbo(log_prior, log_likelihood, q, n_samples=20000, rng=np.random.default_rng(13))
    exact_elbo = mv.exact.elbo_gaussian_q(Phi, y, 1.0, 0.5, mu, cov_q)
    kl = mv.exact.kl_gaussians(mu, cov_q, mean, cov)
    assert abs(estimate.elbo - exact_elbo) <= 3 * estimate.stderr, (estimate, exact_elbo)
    gap = mv.exact.blr_log_evidence(Phi, y, 1.0, 0.5) - estimate.elbo
    assert abs(gap - kl) <= 3 * estimate.stderr and kl > 5 * estimate.stderr, (gap, kl, estimate)


def test_elbo_is_the_mean_log_joint_plus_the_entropy_and_its_stderr_the_sample_sd_over_root_s():
    # Record every w the log densities are called with, then recompute both numbers by hand.
    _, _, log_prior, log_likelihood = conjugate(6, 2, seed=3)
    seen = []

    def recording_likelihood(w):
        seen.append(w.data.copy())
        return log_likelihood(w)

    mu, sigma = np.array([0.3, -0.2]), np.array([0.5, 0.8])
    estimate = ev.elbo(log_prior, recording_likelihood, (mu, sigma), n_samples=5, rng=np.random.default_rng(4),
                       vectorized=False)
    w = np.array(seen)
    assert w.shape == (5, 2)
    joint = np.array([log_prior(mv.Tensor(v)).item() + log_likelihood(mv.Tensor(v)).item() for v in w])
    entropy = np.sum(0.5 * np.log(2 * np.pi * np.e * sigma ** 2))
    assert estimate.entropy == pytest.approx(entropy, rel=1e-13)
    assert estimate.elbo == pytest.approx(joint.mean() + entropy, rel=1e-13)
    assert estimate.stderr == pytest.approx(joint.std(ddof=1) / np.sqrt(5), rel=1e-13)


def test_elbo_does_not_touch_q_s_own_generator():
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    state = q.rng.bit_generator.state
    _, _, log_prior, log_likelihood = conjugate(5, 2, seed=0)
    ev.elbo(log_prior, log_likelihood, q, n_samples=10, rng=np.random.default_rng(1))
    assert q.rng.bit_generator.state == state


def test_mean_field_vector_is_the_flat_order_of_the_same_network():
    rng = np.random.default_rng(0)
    bayes = mv.Sequential(mv.BayesLinear(1, 4, rng=rng), mv.Tanh(), mv.BayesLinear(4, 2, rng=rng))
    plain = mv.Sequential(mv.Linear(1, 4, rng=rng), mv.Tanh(), mv.Linear(4, 2, rng=rng))
    mu, sigma = ev.mean_field_vector(bayes)
    assert mu.shape == sigma.shape == (mv.flat.n_weights(plain),)
    x = rng.standard_normal((6, 1))
    with mv.no_grad():
        np.testing.assert_allclose(mv.flat.functional_forward(plain, mv.Tensor(mu), x).data,
                                   bayes(x, mode="mean").data, rtol=1e-13)
    np.testing.assert_allclose(sigma[:4], mv.gaussian.softplus(bayes.layers[0].weight_rho.data.ravel()))


# ---------------------------------------------------------------- bad input


@pytest.fixture
def model():
    _, _, log_prior, log_likelihood = conjugate(5, 2, seed=0)
    return log_prior, log_likelihood, np.random.default_rng(0).standard_normal((8, 2))


@pytest.mark.parametrize("betas, message", [
    ([0.0, 0.5, 0.5, 1.0], "strictly increasing"),
    ([0.0, 0.6, 0.4, 1.0], "strictly increasing"),
    ([0.1, 0.5, 1.0], "start at exactly 0"),
    ([0.0, 0.5, 0.99], "end at exactly 1"),
    ([1.0], "at least 2"),
    ([[0.0, 1.0]], "1-D"),
    ([0.0, np.nan, 1.0], "NaN"),
])
def test_bad_schedules_are_refused_with_the_fix(model, betas, message):
    log_prior, log_likelihood, init = model
    with pytest.raises(ValueError, match=message) as error:
        ev.ais(log_prior, log_likelihood, init, betas, rng=np.random.default_rng(0))
    assert "sigmoid_schedule" in str(error.value)


def test_bad_init_is_refused(model):
    log_prior, log_likelihood, init = model
    betas = ev.sigmoid_schedule(4)
    with pytest.raises(ValueError, match=r"shape \(n_chains, D\)"):
        ev.ais(log_prior, log_likelihood, init[0], betas, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least 2 chains"):
        ev.ais(log_prior, log_likelihood, init[:1], betas, rng=np.random.default_rng(0), step_size=0.1)
    with pytest.raises(ValueError, match="at least 2 chains"):
        ev.reverse_ais(log_prior, log_likelihood, init[:1], betas, rng=np.random.default_rng(0), step_size=0.1)
    with pytest.raises(ValueError, match="fewer than 2 whose weights count"):
        ev.ais(log_prior, log_likelihood, init[:3], betas, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="finite"):
        ev.ais(log_prior, log_likelihood, np.where(init > 1, np.nan, init), betas, rng=np.random.default_rng(0))
    _, w_star, net_prior, net_likelihood, _ = small_network(0)
    with pytest.raises(ValueError, match=rf"the model has D = {len(w_star)} weights"):   # D does not fit the network
        ev.ais(net_prior, net_likelihood, np.zeros((8, 3)), betas, rng=np.random.default_rng(0))


def test_a_non_finite_log_likelihood_at_the_start_is_refused(model):
    log_prior, _, init = model

    def log_likelihood(w):
        return (w * w).sum(axis=-1).log()           # -inf at w = 0

    log_likelihood.vectorized = True
    init[3] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)            # the refusal, not NumPy's warnings on the way
        with pytest.raises(ValueError, match="start of chain 3"):
            ev.ais(log_prior, log_likelihood, init, ev.sigmoid_schedule(4), rng=np.random.default_rng(0),
                   step_size=0.1)


def test_reverse_ais_needs_step_sizes_fixed_in_advance(model):
    log_prior, log_likelihood, init = model
    with pytest.raises(ValueError, match="step_size=forward.step_size"):
        ev.reverse_ais(log_prior, log_likelihood, init, ev.sigmoid_schedule(4), rng=np.random.default_rng(0),
                       step_size=None)
    with pytest.raises(ValueError, match="3 positive numbers"):
        ev.reverse_ais(log_prior, log_likelihood, init, ev.sigmoid_schedule(4), rng=np.random.default_rng(0),
                       step_size=[0.1, 0.1])


def test_no_generator_and_a_wrong_log_density_are_refused(model):
    log_prior, log_likelihood, init = model
    with pytest.raises(TypeError, match="default_rng"):
        ev.ais(log_prior, log_likelihood, init, ev.sigmoid_schedule(4), rng=0)

    def summed(w):
        return (w * w).sum()                         # one number for all chains, not one per chain

    summed.vectorized = True
    with pytest.raises(ValueError, match="log_likelihood must be a function"):
        ev.ais(log_prior, summed, init, ev.sigmoid_schedule(4), rng=np.random.default_rng(0), step_size=0.1)


def test_too_few_effective_chains_warn(model):
    """One step from the prior to a sharp likelihood: almost all the weight on one chain."""
    Phi, y, log_prior, log_likelihood = conjugate(50, 4, seed=1, noise_sigma=0.05)
    init = np.random.default_rng(0).standard_normal((40, 4))
    with pytest.warns(ev.UnreliableEstimateWarning, match="effective sample size"):
        result = ev.ais(log_prior, log_likelihood, init, [0.0, 1.0], rng=np.random.default_rng(0), step_size=0.1)
    assert result.ess < 4


def test_elbo_refuses_what_is_not_a_gaussian_q(model):
    log_prior, log_likelihood, _ = model
    with pytest.raises(TypeError, match="FullCovGaussian"):
        ev.elbo(log_prior, log_likelihood, "q", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="sigma > 0"):
        ev.elbo(log_prior, log_likelihood, (np.zeros(2), np.array([1.0, -1.0])), rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="BayesLinear"):
        ev.mean_field_vector(mv.Sequential(mv.Linear(1, 2, rng=np.random.default_rng(0))))


@pytest.mark.slow
def test_the_default_settings_sandwich_a_1_20_1_network_to_within_one_nat():
    """Issue 23's goal, on tutorial 09's simulated network (40 points, noise 0.3): geometric_schedule(1000),
    the default 5 leapfrog steps, 16 counted chains each way. Measured: bounds -18.86 and -18.89."""
    rng = np.random.default_rng(20)
    net = mv.Sequential(mv.Linear(1, 20, rng=rng), mv.Tanh(), mv.Linear(20, 1, rng=rng))
    w_star = rng.standard_normal(mv.flat.n_weights(net))
    x = rng.uniform(-2.0, 2.0, (40, 1))
    with mv.no_grad():
        f_star = mv.flat.functional_forward(net, mv.Tensor(w_star), x).data
    y = f_star + 0.3 * rng.standard_normal(f_star.shape)
    log_prior, log_likelihood = ev.network_log_densities(net, x, y, noise_sigma=0.3)
    ais_rng = np.random.default_rng(1100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ev.UnreliableEstimateWarning)
        betas = ev.geometric_schedule(1000)
        forward = ev.ais(log_prior, log_likelihood, ais_rng.standard_normal((21, len(w_star))), betas, rng=ais_rng)
        reverse = ev.reverse_ais(log_prior, log_likelihood, np.tile(w_star, (16, 1)), betas, rng=ais_rng,
                                 step_size=forward.step_size, inverse_mass=forward.inverse_mass)
    assert abs(reverse.log_evidence - forward.log_evidence) < 1.0, (forward.summary(), reverse.summary())
    assert forward.ess >= 0.3 * 16, forward.summary()


# ---------------------------------------------------------------- an outside review's inputs


def test_log_mean_exp_at_its_edges():
    assert ev.log_mean_exp([-np.inf, -np.inf]) == -np.inf          # every weight 0: was NaN
    assert ev.log_mean_exp([np.inf, 0.0]) == np.inf                  # was NaN
    assert ev.log_mean_exp([-1000.0, -1000.0 + np.log(3.0)]) == pytest.approx(-1000.0 + np.log(2.0), rel=1e-15)
    for bad in ([], [0.0, np.nan]):                                  # were numpy's "zero-size array" and NaN
        with pytest.raises(ValueError, match="at least one log weight and no NaN"):
            ev.log_mean_exp(bad)


def test_ais_refuses_tuning_chains_when_the_step_size_is_given():
    _, _, log_prior, log_likelihood = conjugate(5, 1, seed=0)
    init = np.random.default_rng(1).standard_normal((8, 1))
    with pytest.raises(ValueError, match="step_size is given, so nothing is tuned"):   # n_tune was ignored
        ev.ais(log_prior, log_likelihood, init, np.linspace(0, 1, 4), rng=np.random.default_rng(2),
               step_size=0.1, n_tune=4)


def test_mean_field_vector_counts_a_layer_used_twice_once_and_finds_layers_in_any_container():
    rng = np.random.default_rng(3)
    shared, last = mv.BayesLinear(2, 2, rng=rng), mv.BayesLinear(2, 1, rng=rng)
    twice = mv.Sequential(shared, mv.Tanh(), shared, mv.Tanh(), last)
    plain = mv.Sequential(*(lambda lin: [lin, mv.Tanh(), lin, mv.Tanh(), mv.Linear(2, 1, rng=rng)])(
        mv.Linear(2, 2, rng=rng)))
    mu, sigma = ev.mean_field_vector(twice)
    assert mu.shape == sigma.shape == (mv.flat.n_weights(plain),)    # 9, was 15: shared's weights twice
    with mv.no_grad():
        x = rng.standard_normal((4, 2))
        np.testing.assert_allclose(mv.flat.functional_forward(plain, mv.Tensor(mu), x).data,
                                   twice(x, mode="mean").data, rtol=1e-13)

    class Holder(mv.Module):                                          # a layer in an attribute, not in .layers
        def __init__(self):
            self.body = last

        def forward(self, x, *, mode, n_samples):
            return self.body(x, mode=mode, n_samples=n_samples)

    np.testing.assert_array_equal(ev.mean_field_vector(Holder())[0], ev.mean_field_vector(mv.Sequential(last))[0])


def test_elbo_refuses_an_infinite_sigma_before_sampling():
    _, _, log_prior, log_likelihood = conjugate(5, 2, seed=0)
    with pytest.raises(ValueError, match="finite arrays"):
        ev.elbo(log_prior, log_likelihood, (np.zeros(2), np.array([np.inf, 1.0])), n_samples=10,
                rng=np.random.default_rng(0))
