"""MCMC diagnostics (minivi/diagnostics.py) against Vehtari et al. (2021) as Stan and ArviZ compute them:
R-hat = max(bulk, folded), the bulk ESS with Geyer's initial monotone sequence and its last half pair,
ranks in float64, the Monte Carlo standard error. The last test compares with ArviZ when it is installed.
"""
from statistics import NormalDist

import numpy as np
import pytest

from minivi import diagnostics, mcmc


def ar1(phi, n_chains, n, rng):
    """Stationary AR(1) chains x_t = φ x_{t-1} + sqrt(1 - φ²) ε_t, started from N(0, 1)."""
    x = np.empty((n_chains, n))
    x[:, 0] = rng.standard_normal(n_chains)
    noise = np.sqrt(1 - phi ** 2) * rng.standard_normal((n_chains, n))
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def chains_with_one_narrow(seed=0):
    """Four chains of 1000 independent N(0, 1) draws, the last one with a fifth of the others' spread."""
    samples = np.random.default_rng(seed).standard_normal((4, 1000))
    samples[3] *= 0.2
    return samples


def antithetic_chains(seed=5):
    """x_t = e_t - 0.5 e_{t-1} + 0.2 e_{t-2} - 0.6 e_{t-3}: ρ_1 ≈ -0.44, ρ_2 ≈ +0.30, ρ_3 ≈ -0.36, so the
    second pair sum ρ_2 + ρ_3 is already negative while ρ_2 > 0: the case Geyer's last half pair is for."""
    e = np.random.default_rng(seed).standard_normal((4, 1003))
    return e[:, 3:] - 0.5 * e[:, 2:-1] + 0.2 * e[:, 1:-2] - 0.6 * e[:, :-3]


# ---------------------------------------------------------------- R-hat: bulk and folded


def test_rhat_flags_chains_that_agree_in_location_but_not_in_spread():
    """The bulk R-hat sees the same centre in all four chains; the folded one sees the narrow chain."""
    samples = chains_with_one_narrow()
    assert mcmc.split_rhat(samples, rank_normalized=False)[0] < 1.01    # the classic R-hat trusts them
    rhat = mcmc.split_rhat(samples)[0]
    assert rhat > 1.15                                                   # ArviZ 0.23: 1.2073 on these draws
    # by hand: the folded draws |θ - median| of the narrow chain are all small
    chains = np.concatenate([samples[:, :500], samples[:, 500:]])[:, :, None]
    folded = np.abs(chains - np.median(chains))
    z = diagnostics.rank_normalize(folded)[:, :, 0]
    n = z.shape[1]
    within = z.var(axis=1, ddof=1).mean()
    var_plus = (n - 1) / n * within + z.mean(axis=1).var(ddof=1)
    np.testing.assert_allclose(rhat, np.sqrt(var_plus / within), rtol=1e-12)


def test_hmc_result_and_its_warning_use_the_folded_rhat(monkeypatch):
    """HMCResult.rhat is split_rhat of its draws, and a narrow chain there triggers the warning."""
    def log_prob(w):
        return (w * w).sum(axis=-1) * -0.5
    log_prob.vectorized = True
    result = mcmc.hmc(log_prob, np.zeros((2, 1)), n_samples=50, n_warmup=50, rng=np.random.default_rng(0),
                      warn=False)
    np.testing.assert_array_equal(result.rhat, mcmc.split_rhat(result.samples))
    narrow = chains_with_one_narrow()[:, :, None]
    result.samples, result.rhat = narrow, mcmc.split_rhat(narrow)
    result.ess = mcmc.effective_sample_size(narrow)
    with pytest.warns(mcmc.ConvergenceWarning, match="R-hat"):
        mcmc._warn_if_unconverged(result)


def test_rhat_of_draws_whose_folded_values_are_all_equal_is_the_bulk_rhat():
    """Draws ±1 in equal numbers fold to |θ - 0| = 1 everywhere: the tail R-hat is 0/0 and says nothing."""
    samples = np.tile([-1.0, 1.0], (2, 4))
    bulk = diagnostics._basic_rhat(diagnostics.rank_normalize(diagnostics._split_chains(samples[:, :, None])))
    np.testing.assert_array_equal(mcmc.split_rhat(samples), bulk)
    assert np.isfinite(bulk[0])


# ---------------------------------------------------------------- ranks


def test_rank_normalize_gives_integer_draws_with_ties_their_exact_average_ranks():
    """Draws 1, 1, 2, 3 have ranks 1.5, 1.5, 3, 4 (not 1, 1, 3, 4 as an integer array would store them)."""
    draws = np.array([1, 1, 2, 3])[None, :, None]
    expected = [NormalDist().inv_cdf((r - 0.375) / 4.25) for r in (1.5, 1.5, 3.0, 4.0)]
    np.testing.assert_allclose(diagnostics.rank_normalize(draws)[0, :, 0], expected, rtol=1e-15)
    ints = np.random.default_rng(0).integers(0, 4, size=(3, 20, 2))
    np.testing.assert_array_equal(diagnostics.rank_normalize(ints), diagnostics.rank_normalize(ints.astype(float)))
    np.testing.assert_array_equal(mcmc.effective_sample_size(ints), mcmc.effective_sample_size(ints.astype(float)))


def test_rank_normalize_refuses_what_it_cannot_rank():
    with pytest.raises(ValueError, match=r"shape \(n_chains, n_draws, D\)"):
        diagnostics.rank_normalize(np.zeros((4, 10)))
    with pytest.raises(ValueError, match="NaN"):
        diagnostics.rank_normalize(np.full((1, 4, 1), np.nan))
    with pytest.raises(TypeError, match="real numbers"):
        diagnostics.rank_normalize(np.array([[["a"]]]))


# ---------------------------------------------------------------- ESS: Geyer's initial monotone sequence


@pytest.mark.parametrize("rho, tau", [
    # P = (0.4, 0.2, -0.1): two positive pairs, then ρ_4 = 0.25 > 0 is added once
    ([1.0, -0.6, 0.5, -0.3, 0.25, -0.35, 0.1, 0.05, 0.0, 0.0, 0.0, 0.0], -1 + 2 * (0.4 + 0.2) + 0.25),
    # P = (0.3, 0.5, -0.2): P_1 > P_0 is lowered to 0.3 (monotone), then ρ_4 = 0.1
    ([1.0, -0.7, 0.6, -0.1, 0.1, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], -1 + 2 * (0.3 + 0.3) + 0.1),
    # P = (0.4, -0.3): one pair, and ρ_2 = -0.1 < 0 with P_1 < 0 adds nothing
    ([1.0, -0.6, -0.1, -0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], -1 + 2 * 0.4),
    # N = 8 looks at pairs with 2k < 6 only: P_0, P_1 summed; P_2 = 0.15 >= 0, so its ρ_4 = -0.05 counts
    ([1.0, -0.2, 0.3, 0.1, -0.05, 0.2, 0.0, 0.0], -1 + 2 * (0.8 + 0.4) - 0.05),
    # N = 9 (odd): 2k < 7 looks at P_0..P_3, so P_0..P_2 = (0.8, 0.4, 0.3) are summed and ρ_6 = 0.05 > 0 added
    ([1.0, -0.2, 0.3, 0.1, 0.2, 0.1, 0.05, 0.01, 0.0], -1 + 2 * (0.8 + 0.4 + 0.3) + 0.05),
    # N = 4 (chains of 8 or 9 draws, split): no pair after P_0 is looked at; τ = -1 + ρ_0 = 0
    ([1.0, 0.3, 0.2, 0.1], 0.0),
])
def test_geyer_tau_by_hand(rho, tau):
    np.testing.assert_allclose(diagnostics._geyer_tau(np.array(rho)), tau, rtol=1e-14, atol=1e-15)


def test_ess_of_two_chains_of_nine_draws_is_stans_cap():
    """Split into 4 half-chains of 4 draws, no autocorrelation pair is trusted: τ is raised to its floor
    1/log10(M N), so ESS = M N log10(M N) = 16 log10(16) = 19.27 (ArviZ: 19.266)."""
    samples = np.random.default_rng(0).standard_normal((2, 9))
    np.testing.assert_allclose(mcmc.effective_sample_size(samples), [16 * np.log10(16)], rtol=1e-12)


def test_ess_uses_the_last_half_pair_on_antithetic_chains():
    """Without ρ_2K the estimate of τ is 0.13, under the floor 1/log10(4000): ESS would be the cap 14408.
    With it τ ≈ 0.47: ESS ≈ 8596 (ArviZ 0.23: 8596.29)."""
    samples = antithetic_chains()
    cap = 4000 * np.log10(4000)
    ess = mcmc.effective_sample_size(samples)[0]
    assert 0.5 * cap < ess < 0.7 * cap


def test_ess_by_hand_from_the_autocovariances():
    """ρ_t = 1 - (W - γ̄_t)/var⁺ with γ̄_t the chains' mean autocovariance (1/N normalisation, no N/(N-1)),
    written out with plain sums here and fed to Geyer's sequence; rank_normalized=False, so the raw draws."""
    samples = np.random.default_rng(3).standard_normal((2, 40)) + np.linspace(0, 0.5, 40)
    chains = np.concatenate([samples[:, :20], samples[:, 20:]])            # M = 4 half-chains of N = 20
    m, n = chains.shape
    centred = chains - chains.mean(axis=1, keepdims=True)
    gamma = np.array([np.mean([np.sum(c[: n - t] * c[t:]) / n for c in centred]) for t in range(n)])
    within = chains.var(axis=1, ddof=1).mean()
    var_plus = (n - 1) / n * within + chains.mean(axis=1).var(ddof=1)
    rho = 1 - (within - gamma) / var_plus
    rho[0] = 1.0
    tau = max(diagnostics._geyer_tau(rho), 1 / np.log10(m * n))
    np.testing.assert_allclose(mcmc.effective_sample_size(samples, rank_normalized=False), [m * n / tau], rtol=1e-12)


def test_ess_does_not_depend_on_the_scale_of_the_draws():
    samples = ar1(0.6, 3, 200, np.random.default_rng(7))
    np.testing.assert_allclose(mcmc.effective_sample_size(1e4 * samples, rank_normalized=False),
                               mcmc.effective_sample_size(samples, rank_normalized=False), rtol=1e-10)


def test_monte_carlo_se_is_the_sd_over_the_root_of_the_ess_of_the_mean():
    samples = ar1(0.8, 4, 300, np.random.default_rng(8))[:, :, None]
    sd = samples.reshape(-1).std(ddof=1)
    expected = sd / np.sqrt(mcmc.effective_sample_size(samples, rank_normalized=False))
    np.testing.assert_allclose(mcmc.monte_carlo_se(samples), expected, rtol=1e-14)
    # and not the bulk (rank) ESS: the two differ on these draws
    assert not np.allclose(mcmc.effective_sample_size(samples), mcmc.effective_sample_size(samples, False))


# ---------------------------------------------------------------- against ArviZ, when it is installed


def arviz_cases():
    rng = np.random.default_rng(11)
    return {
        "one chain with a fifth of the spread": chains_with_one_narrow(),
        "antithetic MA(3)": antithetic_chains(),
        "antithetic AR(1), φ = -0.5": ar1(-0.5, 4, 1000, rng),
        "AR(1), φ = 0.9": ar1(0.9, 4, 1000, rng),
        "2 chains of 9 draws": rng.standard_normal((2, 9)),
        "integer draws with ties": rng.integers(0, 5, size=(4, 200)),
        "odd length, 3 chains": ar1(0.3, 3, 101, rng),
        "shifted chain": rng.standard_normal((4, 500)) + np.array([0, 0, 0, 0.5])[:, None],
        "heavy tails": rng.standard_cauchy((4, 500)),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", list(arviz_cases()))
def test_rhat_and_bulk_ess_agree_with_arviz(name):
    az = pytest.importorskip("arviz")
    samples = arviz_cases()[name]
    draws = np.asarray(samples, dtype=float)
    np.testing.assert_allclose(mcmc.split_rhat(samples), [float(az.rhat(draws, method="rank"))], rtol=0.02)
    np.testing.assert_allclose(mcmc.effective_sample_size(samples), [float(az.ess(draws, method="bulk"))],
                               rtol=0.02)
    np.testing.assert_allclose(mcmc.monte_carlo_se(samples), [float(az.mcse(draws, method="mean"))], rtol=0.02)
