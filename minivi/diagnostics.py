"""MCMC diagnostics: split R-hat and the bulk effective sample size (Vehtari et al. 2021).

Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of
MCMC". Two questions about draws from C chains, (C, S, D):

  - did the chains converge to the same distribution?  split R-hat, < 1.01 to trust them;
  - how many independent draws are they worth?  the effective sample size (ESS).

Both work on half-chains (a drifting chain disagrees with itself) and, by
default, on rank-normalised draws (robust to heavy tails). `mv.mcmc` uses them
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


def rank_normalize(samples: np.ndarray) -> np.ndarray:
    """z = Φ⁻¹((r - 3/8) / (S - 1/4 + 1/2)) of the pooled ranks r of each coordinate (Vehtari et al. 2021, eq. 14).

    r is the rank of a draw among all S draws of all chains (ties get their
    average rank). The normal scores make R-hat and ESS work for heavy tails
    and are unchanged by any monotone transformation of the weights.
    Here S - 1/4 + 1/2 = S + 1/4 (Blom's offsets, a = 3/8).
    """
    c, n, d = samples.shape
    flat = samples.reshape(c * n, d)
    order = np.argsort(flat, axis=0, kind="stable")
    ranks = np.empty_like(flat)
    np.put_along_axis(ranks, order, np.arange(1, c * n + 1, dtype=float)[:, None].repeat(d, axis=1), axis=0)
    for j in range(d):   # average the ranks of tied values (rare for continuous draws)
        values, inverse, counts = np.unique(flat[:, j], return_inverse=True, return_counts=True)
        if len(values) < c * n:
            ranks[:, j] = (np.bincount(inverse, weights=ranks[:, j]) / counts)[inverse]
    probs = (ranks - 0.375) / (c * n + 0.25)
    unique, inverse = np.unique(probs, return_inverse=True)
    normal = NormalDist()
    z = np.array([normal.inv_cdf(u) for u in unique])[inverse]
    return z.reshape(c, n, d)


def split_rhat(samples, rank_normalized: bool = True) -> np.ndarray:
    """Split R-hat of each coordinate: does every half-chain tell the same story? Array (D,).

    samples: (C, S, D) (or (C, S) for one quantity). After splitting into M = 2C
    half-chains of N draws (and, by default, rank-normalising):

        B = N/(M - 1) Σ_m (θ̄_m - θ̄)²        between-chain variance
        W = (1/M) Σ_m s_m²                     within-chain variance
        var⁺ = (N - 1)/N W + B/N              an over-estimate of Var[θ] while the chains have not mixed
        R̂ = sqrt(var⁺ / W)

    R̂ -> 1 as the chains converge; Vehtari et al. (2021) recommend trusting
    the draws only when R̂ < 1.01. A coordinate whose draws are all equal has
    W = 0 and gets NaN (nothing can be said about its mixing).
    """
    chains = _split_chains(_checked_samples(samples, "split_rhat"))
    if rank_normalized:
        chains = rank_normalize(chains)
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
    From the M = 2C split (and by default rank-normalised) half-chains:

        ρ_t = 1 - (W - (1/M) Σ_m s_m² ρ_{t,m}) / var⁺    (combines the chains; var⁺, W as in split_rhat)

    The sum is cut by Geyer's initial positive sequence: the pairs
    P_k = ρ_{2k} + ρ_{2k+1} are summed while positive, each made no larger than
    the one before (the true sequence is positive and decreasing), and
    τ = -1 + 2 Σ_k P_k. ESS is capped at M N log10(M N) as in Stan
    (an anti-correlated chain can beat independent draws, but not by that much).
    rank_normalized=False gives the ESS of the plain mean, the one that goes into
    the Monte Carlo standard error sd / sqrt(ESS) (`monte_carlo_se`). A coordinate
    whose draws are all equal gets NaN, as in `split_rhat`.
    """
    chains = _split_chains(_checked_samples(samples, "effective_sample_size"))
    if rank_normalized:
        chains = rank_normalize(chains)
    m, n, d = chains.shape
    _, within, var_plus = _variances(chains)
    acov = _autocovariance(chains)                                 # (M, N, D)
    # s_m² ρ_{t,m} = γ_m(t) · N/(N-1) (γ uses 1/N, s_m² uses 1/(N-1)); averaged over the chains:
    with np.errstate(divide="ignore", invalid="ignore"):   # a coordinate that never moved: NaN, as R-hat
        rho = 1.0 - (within - acov.mean(axis=0) * n / (n - 1)) / var_plus   # (N, D)
    ess = np.full(d, np.nan)
    for j in np.flatnonzero(var_plus > 0):
        pairs = rho[: 2 * (n // 2), j].reshape(-1, 2).sum(axis=1)
        positive = np.flatnonzero(pairs <= 0)
        pairs = pairs[: positive[0]] if positive.size else pairs
        pairs = np.minimum.accumulate(pairs)
        tau = -1.0 + 2.0 * pairs.sum()
        ess[j] = m * n / tau if tau > 0 else np.inf
    return np.minimum(ess, m * n * np.log10(m * n))


def monte_carlo_se(samples) -> np.ndarray:
    """The Monte Carlo standard error of each coordinate's posterior mean: sd / sqrt(ESS of the mean). Array (D,)."""
    samples = _checked_samples(samples, "monte_carlo_se")
    sd = samples.reshape(-1, samples.shape[2]).std(axis=0, ddof=1)
    return sd / np.sqrt(effective_sample_size(samples, rank_normalized=False))
