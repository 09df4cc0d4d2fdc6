"""MCMC diagnostics: split R-hat and the bulk effective sample size (Vehtari et al. 2021).

Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of
MCMC". Two questions about draws from C chains, (C, S, D):

  - did the chains converge to the same distribution?  split R-hat, the larger of the bulk
    R-hat (same location?) and the folded one (same spread?), < 1.01 to trust them;
  - how many independent draws are they worth?  the effective sample size (ESS).

Both work on half-chains (a drifting chain disagrees with itself) and, by
default, on rank-normalised draws (robust to heavy tails). Both follow the
paper as Stan and ArviZ compute it (tests/test_diagnostics.py compares with
ArviZ when it is installed). `mv.mcmc` uses them
to judge every HMC run and re-exports them: `mv.mcmc.split_rhat`,
`mv.mcmc.effective_sample_size`, `mv.mcmc.monte_carlo_se`.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np

from .tensor import as_float_array


def _checked_samples(samples, who: str) -> np.ndarray:
    samples = as_float_array(samples, f"{who}: samples")
    if samples.ndim == 2:
        samples = samples[:, :, None]
    if samples.ndim != 3 or samples.shape[1] < 4:
        raise ValueError(f"{who} needs samples of shape (n_chains, n_draws, D) (or (n_chains, n_draws)) with at "
                         f"least 4 draws per chain, got shape {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"{who}: the samples contain NaN or inf")
    return samples


def _split_chains(samples: np.ndarray) -> np.ndarray:
    """(C, S, D) -> (2C, S//2, D): each chain cut into its first and second half (the middle draw dropped if S is odd).

    A chain that is still drifting has halves with different means, which the
    between-chain comparison then sees even when only one chain was run.
    """
    half = samples.shape[1] // 2
    return np.concatenate([samples[:, :half], samples[:, samples.shape[1] - half:]], axis=0)


def rank_normalize(samples) -> np.ndarray:
    """z = Φ⁻¹((r - 3/8) / (S - 1/4 + 1/2)) of the pooled ranks r of each coordinate (Vehtari et al. 2021, eq. 14).

    samples: (C, S, D). r is the rank of a draw among all S draws of all chains
    (ties get their average rank, so integer draws with ties get ranks like
    2.5: the ranks are float64 whatever the input's dtype). The normal scores
    make R-hat and ESS work for heavy tails and are unchanged by any monotone
    transformation of the weights. Here S - 1/4 + 1/2 = S + 1/4 (Blom's offsets, a = 3/8).
    """
    samples = as_float_array(samples, "rank_normalize: samples")
    if samples.ndim != 3 or samples.size == 0:
        raise ValueError(f"rank_normalize needs samples of shape (n_chains, n_draws, D), got shape {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("rank_normalize: the samples contain NaN or inf; ranks need finite values")
    c, n, d = samples.shape
    flat = samples.reshape(c * n, d)
    order = np.argsort(flat, axis=0, kind="stable")
    ranks = np.empty(flat.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, np.arange(1, c * n + 1, dtype=np.float64)[:, None].repeat(d, axis=1), axis=0)
    for j in range(d):   # average the ranks of tied values (rare for continuous draws)
        values, inverse, counts = np.unique(flat[:, j], return_inverse=True, return_counts=True)
        if len(values) < c * n:
            ranks[:, j] = (np.bincount(inverse.ravel(), weights=ranks[:, j]) / counts)[inverse.ravel()]
    probs = (ranks - 0.375) / (c * n + 0.25)
    unique, inverse = np.unique(probs, return_inverse=True)
    normal = NormalDist()
    z = np.array([normal.inv_cdf(u) for u in unique])[inverse.ravel()]
    return z.reshape(c, n, d)


def split_rhat(samples, rank_normalized: bool = True) -> np.ndarray:
    """Split R-hat of each coordinate: does every half-chain tell the same story? Array (D,).

    samples: (C, S, D) (or (C, S) for one quantity). On M = 2C half-chains of N
    draws, the basic R-hat of draws θ is

        B = N/(M - 1) Σ_m (θ̄_m - θ̄)²        between-chain variance
        W = (1/M) Σ_m s_m²                     within-chain variance
        var⁺ = (N - 1)/N W + B/N              an over-estimate of Var[θ] while the chains have not mixed
        R̂(θ) = sqrt(var⁺ / W)

    By default (Vehtari et al. 2021, §4.2, as Stan and ArviZ compute it) this is
    taken twice and the larger value returned:

        bulk:   R̂ of the rank-normalised draws z(θ)           do the chains agree in location?
        tail:   R̂ of z(|θ - median(θ)|), the folded draws     do they agree in spread?
        R̂ = max(bulk, tail)

    The bulk R-hat alone misses chains that are centred alike but spread
    differently (one chain stuck in a narrow region): the folded draws of that
    chain are all small, which the tail R-hat sees. (The median is taken over
    all half-chains, as ArviZ does.) rank_normalized=False gives the basic split
    R-hat of the raw draws only (Gelman et al. 2013), no ranks, no folding.

    R̂ -> 1 as the chains converge; Vehtari et al. (2021) recommend trusting
    the draws only when R̂ < 1.01. A coordinate whose draws are all equal has
    W = 0 and gets NaN (nothing can be said about its mixing). If only the
    folded draws are all equal (e.g. draws ±1 around median 0), the tail part
    says nothing and R̂ is the bulk one.
    """
    chains = _split_chains(_checked_samples(samples, "split_rhat"))
    if not rank_normalized:
        return _basic_rhat(chains)
    folded = np.abs(chains - np.median(chains, axis=(0, 1)))
    bulk, tail = _basic_rhat(rank_normalize(chains)), _basic_rhat(rank_normalize(folded))
    return np.fmax(bulk, tail)     # fmax: a NaN tail (folded draws all equal) leaves the bulk value


def _basic_rhat(chains: np.ndarray) -> np.ndarray:
    """sqrt(var⁺ / W) of half-chains (M, N, D), as in `split_rhat`; NaN where W = 0."""
    _, within, var_plus = _variances(chains)
    with np.errstate(divide="ignore", invalid="ignore"):   # a coordinate that never moved: 0/0 = NaN
        return np.sqrt(var_plus / within)


def _variances(chains: np.ndarray) -> tuple:
    """(B, W, var⁺) of chains (M, N, D), as in `split_rhat`."""
    m, n, _ = chains.shape
    means = chains.mean(axis=1)
    between = n * means.var(axis=0, ddof=1) if m > 1 else np.zeros(chains.shape[2])
    within = chains.var(axis=1, ddof=1).mean(axis=0)
    return between, within, (n - 1) / n * within + between / n


def _autocovariance(chains: np.ndarray) -> np.ndarray:
    """γ_m(t) = (1/N) Σ_i (θ_i - θ̄_m)(θ_{i+t} - θ̄_m) of every chain, lags t = 0..N-1, by FFT; (M, N, D)."""
    n = chains.shape[1]
    centred = chains - chains.mean(axis=1, keepdims=True)
    size = 2 ** int(np.ceil(np.log2(2 * n)))     # zero padding: a circular correlation of length >= 2N is linear
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n] / n


def effective_sample_size(samples, rank_normalized: bool = True) -> np.ndarray:
    """The bulk effective sample size of each coordinate, summed over chains (Vehtari et al. 2021). Array (D,).

    ESS = M N / τ, with τ = 1 + 2 Σ_t ρ_t the integrated autocorrelation time:
    the number of independent draws that would estimate the mean as well.
    From the M = 2C split (and by default rank-normalised) half-chains, with
    W and var⁺ as in split_rhat and γ̄_t the chains' mean autocovariance at lag t:

        ρ_0 = 1,   ρ_t = 1 - (W - γ̄_t) / var⁺           (combines the chains)

    τ is cut by Geyer's (1992) initial monotone sequence, step by step as
    Stan and ArviZ do (`_geyer_tau`). ESS is at most M N log10(M N) (τ is kept
    >= 1/log10(M N)), as in Stan: an antithetic chain can beat independent
    draws, but not by that much. rank_normalized=False gives the ESS of the
    plain mean, the one that goes into the Monte Carlo standard error sd / sqrt(ESS)
    (`monte_carlo_se`). A coordinate whose draws are all equal gets NaN, as in
    `split_rhat` (ArviZ reports M N there; a weight that never moved is a
    problem to show, not a perfect mixer).
    """
    chains = _split_chains(_checked_samples(samples, "effective_sample_size"))
    if rank_normalized:
        chains = rank_normalize(chains)
    m, n, d = chains.shape
    _, within, var_plus = _variances(chains)
    mean_acov = _autocovariance(chains).mean(axis=0)                  # γ̄_t, (N, D)
    with np.errstate(divide="ignore", invalid="ignore"):   # a coordinate that never moved: NaN, as R-hat
        rho = 1.0 - (within - mean_acov) / var_plus                    # (N, D)
    rho[0] = 1.0
    ess = np.full(d, np.nan)
    for j in np.flatnonzero(var_plus > 0):
        tau = max(_geyer_tau(rho[:, j]), 1.0 / np.log10(m * n))
        ess[j] = m * n / tau
    return ess


def _geyer_tau(rho: np.ndarray) -> float:
    """τ = 1 + 2 Σ_t ρ_t, cut where the estimated ρ_t turn into noise: Geyer's (1992) initial monotone sequence.

    For a reversible Markov chain the pair sums P_k = ρ_2k + ρ_2k+1 are
    positive and decreasing, but their estimates at large lags are noise. So,
    with N = len(rho) (the steps and the bounds of Stan's and ArviZ's code):

      1. positive sequence: P_0, P_1, ..., P_{K-1} are the pairs before the
         first P_k <= 0, looking at most at pairs with 2k < N - 2;
      2. monotone sequence: each P_k made no larger than the one before it;
      3. τ = -1 + 2 Σ_{k<K} P_k + ρ_2K, the last term only if ρ_2K > 0 or
         P_K >= 0. That half pair makes τ less noisy for antithetic chains
         (ρ_1 < 0, as HMC gives on near-Gaussian targets), whose ESS it lowers;
         -1 + 2 P_0 + ... counts ρ_0 = 1 once: 1 + 2 Σ_{t>=1} ρ_t.
    """
    n = len(rho)
    pairs = rho[: 2 * (n // 2)].reshape(-1, 2).sum(axis=1)          # P_k = ρ_2k + ρ_2k+1
    k_max = max(0, (n - 3) // 2)                                       # the last pair looked at: 2k < N - 2
    not_positive = np.flatnonzero(pairs[:k_max] <= 0)
    k = int(not_positive[0]) if not_positive.size else k_max          # K: pairs P_0..P_{K-1} are summed
    monotone = np.minimum.accumulate(pairs[:k])
    last_even = rho[2 * k]
    tail = last_even if (last_even > 0 or pairs[k] >= 0) else 0.0
    return -1.0 + 2.0 * monotone.sum() + tail


def monte_carlo_se(samples) -> np.ndarray:
    """The Monte Carlo standard error of each coordinate's posterior mean: sd / sqrt(ESS of the mean). Array (D,).

    The convention of Stan's posterior package (mcse_mean) and ArviZ (mcse, method "mean"):
    sd is the standard deviation of all C S draws (ddof = 1), and the ESS is
    `effective_sample_size(samples, rank_normalized=False)`, the split-chain ESS of
    the raw draws (the mean is not invariant to monotone transformations, so no ranks).
    The posterior mean's estimate is then off by about ± mcse (one standard error).
    """
    samples = _checked_samples(samples, "monte_carlo_se")
    sd = samples.reshape(-1, samples.shape[2]).std(axis=0, ddof=1)
    return sd / np.sqrt(effective_sample_size(samples, rank_normalized=False))
