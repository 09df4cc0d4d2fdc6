"""Behaviours fresh mutation samples found unpinned (tests/README.md, "Mutation testing": the samples
of seeds 789261 and 206874): each test fails with its mutant applied and passes on the code as it is."""

import warnings

import matplotlib
import numpy as np
import pytest

import minivi as mv
from minivi import __main__ as demo

matplotlib.use("Agg")


def _conjugate_densities():
    """log p(w) and log p(data|w) of a 2-weight linear regression, both vectorised over rows of w."""
    rng = np.random.default_rng(0)
    phi = rng.standard_normal((8, 2))
    y = phi @ np.array([0.5, -1.0]) + 0.3 * rng.standard_normal(8)

    def log_prior(w):
        return -0.5 * (w * w).sum(axis=-1) - np.log(2 * np.pi)

    def log_likelihood(w):
        r = mv.Tensor(y) - w @ mv.Tensor(phi.T)
        return -0.5 * (r * r).sum(axis=-1) / 0.09 - 8 * np.log(0.3 * np.sqrt(2 * np.pi))

    log_prior.vectorized = log_likelihood.vectorized = True
    return log_prior, log_likelihood


# ---------------------------------------------------------------- seed 789261


def test_an_empty_interval_is_refused():
    """x_low == x_high is no interval: the toy data would all sit at one x."""
    with pytest.raises(ValueError, match="x_low must be smaller than x_high"):
        mv.data.toy_curve(5, np.random.default_rng(0), x_low=0.3, x_high=0.3)
    with pytest.raises(ValueError, match="x_low must be smaller than x_high"):
        mv.data.toy_curve_grid(5, x_low=1.0, x_high=1.0)


def test_a_dropout_layer_rebuilt_from_its_config_drops_with_the_same_rate():
    layer = mv.Dropout(0.3, rng=np.random.default_rng(0))
    assert layer.config() == {"p": 0.3}
    assert mv.Dropout(**layer.config(), rng=np.random.default_rng(1)).p == layer.p


def test_the_ais_summary_states_the_bound_its_value_and_its_run():
    log_prior, log_likelihood = _conjugate_densities()
    rng = np.random.default_rng(0)
    result = mv.evidence.ais(log_prior, log_likelihood, rng.standard_normal((8, 2)),
                             mv.evidence.geometric_schedule(20), rng=rng)
    text = result.summary()
    assert text.startswith("forward AIS (lower bound): log p(data) = ")
    assert f"{result.log_evidence:.3f} ± {result.stderr:.3f}" in text
    assert f"{len(result.log_weights)} chains, 20 steps x {result.n_leapfrog} leapfrog" in text
    assert result.n_leapfrog == 5 and f"ESS {result.ess:.1f}" in text


def test_the_hamiltonian_of_a_single_momentum_vector():
    """p may be one momentum (D,) as well as a batch (C, D): the kinetic energy sums over the last axis."""
    p, inverse_mass = np.array([1.0, -2.0, 0.5]), np.array([2.0, 1.0, 4.0])
    assert mv.mcmc.hamiltonian(1.5, p, inverse_mass) == pytest.approx(-1.5 + 0.5 * (2.0 + 4.0 + 1.0))
    batch = np.stack([p, 2 * p])
    np.testing.assert_allclose(mv.mcmc.hamiltonian(np.array([1.5, 0.0]), batch, inverse_mass),
                               [-1.5 + 3.5, 14.0])


def test_a_regression_band_without_a_title_has_none():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 5)
    band = {"mean": x, "total": np.full(5, 0.2), "epistemic": np.full(5, 0.1)}
    mv.plots.regression_band(ax, x, x, x, band)
    assert ax.get_title() == ""
    plt.close(fig)


def test_empty_confidence_bins_give_nan_without_a_warning():
    probs = np.array([[0.95, 0.05], [0.9, 0.1], [0.55, 0.45]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        centres, confidence, accuracy, counts = mv.reliability_curve(probs, np.array([0, 1, 0]), n_bins=10)
    empty = counts == 0
    assert empty.sum() == 8 and np.all(np.isnan(confidence[empty])) and np.all(np.isnan(accuracy[empty]))
    assert np.all(np.isfinite(confidence[~empty]))


def test_the_demo_accepts_a_single_epoch():
    assert demo.parse_args(["--epochs", "1"]).epochs == 1


# ---------------------------------------------------------------- seed 206874


@pytest.mark.parametrize("inverse_mass", [0.0, -1.0, [1.0, -0.5]])
def test_ais_refuses_a_finite_non_positive_inverse_mass(inverse_mass):
    log_prior, log_likelihood = _conjugate_densities()
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="inverse_mass .* must be positive"):
        mv.evidence.ais(log_prior, log_likelihood, rng.standard_normal((6, 2)), mv.evidence.geometric_schedule(5),
                        rng=rng, inverse_mass=inverse_mass)


@pytest.mark.parametrize("target_accept", [0.0, 1.0])
def test_hmc_refuses_a_target_acceptance_of_0_or_1(target_accept):
    log_prior, log_likelihood = _conjugate_densities()

    def log_prob(w):
        return log_prior(w) + log_likelihood(w)

    log_prob.vectorized = True
    with pytest.raises(ValueError, match="target_accept must lie strictly between 0 and 1"):
        mv.mcmc.hmc(log_prob, np.zeros((2, 2)), n_samples=4, n_warmup=4, target_accept=target_accept,
                    rng=np.random.default_rng(2))


def test_the_toy_grid_spans_the_documented_default_interval():
    x, f = mv.data.toy_curve_grid(11)
    assert (x[0, 0], x[-1, 0]) == (-0.5, 1.2)        # the defaults the docstring states
    assert x.shape == (11, 1) and f.shape == (11, 1)


# ---------------------------------------------------------------- seed 206874: the sampler, AIS, q and the layers


def test_hmc_uses_a_log_density_vectorised_over_chains_when_it_says_so():
    """`vectorized=None` (the default) reads the function's own `vectorized` attribute: one call for all chains."""
    log_prior, log_likelihood = _conjugate_densities()
    shapes = []

    def log_prob(w):
        shapes.append(w.shape)
        return log_prior(w) + log_likelihood(w)

    log_prob.vectorized = True
    mv.mcmc.hmc(log_prob, np.zeros((3, 2)), n_samples=5, n_warmup=5, rng=np.random.default_rng(3), warn=False)
    assert shapes and set(shapes) == {(3, 2)}


def test_a_calm_warm_up_counts_no_divergent_transitions():
    def log_prob(w):
        return (w * w).sum(axis=-1) * -0.5

    log_prob.vectorized = True
    result = mv.mcmc.hmc(log_prob, np.zeros((2, 3)), n_samples=50, n_warmup=5, rng=np.random.default_rng(4),
                         step_size=0.1, n_leapfrog=5, warn=False)
    assert result.n_divergent_warmup == 0 and result.n_divergent == 0
    assert "0 during warm-up" in result.summary()


def test_the_reverse_and_forward_runs_count_their_gradients():
    """K likelihood evaluations (one per level) + (K − 1) transitions of L leapfrog steps: no transition at β = 0."""
    log_prior, log_likelihood = _conjugate_densities()
    rng = np.random.default_rng(5)
    betas = mv.evidence.geometric_schedule(6)
    forward = mv.evidence.ais(log_prior, log_likelihood, rng.standard_normal((6, 2)), betas, rng=rng, n_leapfrog=3)
    reverse = mv.evidence.reverse_ais(log_prior, log_likelihood, rng.standard_normal((6, 2)) * 0.1, betas, rng=rng,
                                      step_size=forward.step_size, n_leapfrog=3)
    k = len(betas) - 1
    assert forward.n_gradients == reverse.n_gradients == k + (k - 1) * 3


def test_the_mean_field_vector_refuses_variational_layers_it_cannot_lay_flat():
    rng = np.random.default_rng(6)
    model = mv.Sequential(mv.BayesConv2d(1, 2, 3, rng=rng), mv.Flatten(), mv.BayesLinear(8, 1, rng=rng))
    with pytest.raises(TypeError, match="all BayesLinear; got BayesConv2d"):
        mv.evidence.mean_field_vector(model)
    mu, sigma = mv.evidence.mean_field_vector(mv.Sequential(mv.FlipoutLinear(2, 1, rng=rng)))   # the same q
    assert mu.shape == sigma.shape == (3,)


def test_averaging_the_last_steps_sets_q_to_the_mean_of_those_iterates():
    """average_last = 0.4 of 10 steps: q ends at the mean of (mu, L) after steps 7, 8, 9 and 10 (L not diagonal)."""
    log_prior, log_likelihood = _conjugate_densities()

    def trained(n_steps, average_last=0.0):
        q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(7), init_sigma=0.3)
        mv.fit_full_cov(log_likelihood, q, n_steps=n_steps, lr=0.05, n_samples=2, average_last=average_last)
        return q.mu.data.copy(), q.scale_tril()

    iterates = [trained(n) for n in (7, 8, 9, 10)]
    mu, L = trained(10, average_last=0.4)
    assert abs(iterates[-1][1][1, 0]) > 1e-3                      # a full lower triangle to average
    np.testing.assert_allclose(mu, np.mean([m for m, _ in iterates], axis=0), rtol=1e-12)
    np.testing.assert_allclose(L, np.mean([s for _, s in iterates], axis=0), rtol=1e-12, atol=1e-15)


def test_the_evidence_fixed_point_refuses_a_hessian_whose_smallest_eigenvalue_alone_is_negative():
    with pytest.raises(ValueError, match="negative eigenvalue"):
        mv.laplace.evidence_prior_precision(np.diag([-0.5, 2.0, 3.0]), np.ones(3))
    assert mv.laplace.evidence_prior_precision(np.diag([0.0, 2.0, 3.0]), np.ones(3)) > 0


def test_the_mean_mode_loss_is_the_data_term_at_mu_plus_the_kl():
    """mode="mean": no sampling; loss = KL + NLL(mu) over a batch that is the whole data set, whatever n_samples."""
    rng = np.random.default_rng(8)
    model = mv.Sequential(mv.BayesLinear(2, 3, rng=rng), mv.ReLU(), mv.BayesLinear(3, 1, rng=rng))
    x, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 1))
    nll = lambda f, t: mv.gaussian_nll(f, t, noise_sigma=0.5)            # noqa: E731
    expected_nll = nll(model(x, mode="mean"), y).item()
    for n_samples in (1, 3):
        loss, info = mv.elbo_loss(model, x, y, nll, n_data=5, n_samples=n_samples, mode="mean")
        assert info["nll"] == pytest.approx(expected_nll, rel=1e-12)
        assert loss.item() == pytest.approx(mv.kl_divergence(model).item() + expected_nll, rel=1e-12)


def test_rhat_of_chains_that_never_moved_is_silent():
    """All draws equal: NaN; chains each stuck at its own value: inf (basic) — no RuntimeWarning either way."""
    stuck = np.ones((4, 50, 1)) * np.arange(4)[:, None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(mv.diagnostics.split_rhat(np.ones((4, 50, 2)))).all()
        assert np.isinf(mv.diagnostics.split_rhat(stuck, rank_normalized=False)).all()


class _NoisyPrior:
    """A prior whose KL is a Monte Carlo estimate (one standard normal draw) and that does not say so."""

    def kl(self, mu, rho, rng):
        return mv.Tensor(float(rng.standard_normal()))


def test_a_prior_that_does_not_say_draws_random_gets_a_fresh_kl_seed_per_sampling_forward():
    layer = mv.BayesLinear(2, 1, rng=np.random.default_rng(9), prior=_NoisyPrior())
    x = np.ones((3, 2))
    layer(x)
    first = layer.kl().item()
    assert layer.kl().item() == first                        # reading it changes nothing
    layer(x)
    assert layer.kl().item() != first                        # a new forward, a new draw


def test_a_flipout_layer_in_function_mode_draws_one_network_for_every_row():
    layer = mv.FlipoutLinear(3, 2, rng=np.random.default_rng(10))
    layer.weight_rho.data[:] = 0.0                           # sigma = softplus(0): perturbations clearly visible
    x = np.ones((4, 3))
    rows = layer(x, mode="function").data
    assert np.allclose(rows, rows[0])                        # one network for every input
    assert not np.allclose(layer(x, mode="sample").data, rows[0])   # Flipout: each row its own signs
    sampled = layer(x, mode="function", n_samples=5).data
    assert sampled.shape == (5, 4, 2) and np.allclose(sampled, sampled[:, :1]) and not np.allclose(sampled, sampled[0])
