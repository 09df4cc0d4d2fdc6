"""Relations every correct MCMC diagnostic satisfies, whatever its estimator's details.

These do not pin any ESS or R-hat value (the estimators themselves are
checked against ArviZ elsewhere); they pin what cannot change: the ESS of
the plain mean does not depend on the units or the origin of the draws, and
the Monte Carlo standard error is sd / sqrt(ESS of the mean), scaling with the units.
"""
import numpy as np
import pytest

from minivi import mcmc


def ar1_chains(phi=0.6, shape=(3, 400, 2), seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=shape)
    draws = np.empty(shape)
    draws[:, 0] = noise[:, 0]
    for t in range(1, shape[1]):
        draws[:, t] = phi * draws[:, t - 1] + noise[:, t]
    return draws


@pytest.mark.parametrize("rank_normalized", [False, True])
def test_the_ess_does_not_depend_on_the_units_or_origin_of_the_draws(rank_normalized):
    draws = ar1_chains()
    ess = mcmc.effective_sample_size(draws, rank_normalized=rank_normalized)
    moved = mcmc.effective_sample_size(7.0 * draws + 100.0, rank_normalized=rank_normalized)
    np.testing.assert_allclose(moved, ess, rtol=1e-8)


def test_monte_carlo_se_is_sd_over_the_root_of_the_plain_ess_and_scales_with_the_units():
    draws = ar1_chains(seed=1)
    sd = draws.reshape(-1, 2).std(axis=0, ddof=1)
    expected = sd / np.sqrt(mcmc.effective_sample_size(draws, rank_normalized=False))
    np.testing.assert_allclose(mcmc.monte_carlo_se(draws), expected, rtol=1e-14)
    np.testing.assert_allclose(mcmc.monte_carlo_se(3.0 * draws - 5.0), 3.0 * expected, rtol=1e-8)
    assert mcmc.monte_carlo_se(draws).shape == (2,)


def test_monte_carlo_se_refuses_what_the_other_diagnostics_refuse():
    with pytest.raises(ValueError, match="monte_carlo_se"):
        mcmc.monte_carlo_se(np.full((2, 10, 1), np.nan))
