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
