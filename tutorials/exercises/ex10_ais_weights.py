"""Exercise 10 — the log weights of annealed importance sampling, and the evidence they estimate (Neal 2001).

Why. Step 1 of the derivation calls the evidence p(𝒟) = ∫ p(𝒟|w) p(w) dw
hopeless, and step 3 rests on it: log p(𝒟) = ELBO(q) + KL[q ‖ p(w|𝒟)]. If we
could estimate log p(𝒟), the KL that VI minimises could be measured in nats.
Annealed importance sampling (AIS; Neal 2001, "Annealed importance sampling")
estimates p(𝒟) by walking from the prior to the posterior through

    π_β(w) ∝ p(w) p(𝒟|w)^β,      0 = β_0 < β_1 < ... < β_T = 1,

whose normalisers are Z_0 = 1 (the prior) and Z_T = p(𝒟) (𝒟 is the data set,
D the number of weights; the checker's messages, plain text, write p(data)).
Each chain starts at w_0, a draw from the prior; the transition at step t
moves w_{t−1} to w_t with an MCMC step (e.g. HMC, exercise 8) that leaves
π_{β_t} invariant. The chain's weight multiplies, at each step, the ratio of
the two consecutive unnormalised densities at the point the chain held BEFORE
the transition:

    log W = Σ_{t=1}^{T} [ log f_t(w_{t−1}) − log f_{t−1}(w_{t−1}) ]
          = Σ_{t=1}^{T} (β_t − β_{t−1}) log p(𝒟 | w_{t−1}),     f_t(w) = p(w) p(𝒟|w)^{β_t}.

The prior cancels in each ratio. E[W] = p(𝒟) exactly, for any schedule, so
the average of the weights of n independent chains estimates p(𝒟):

    log p(𝒟) ≈ log (1/n Σ_c W_c).

By Jensen's inequality its expectation is ≤ log p(𝒟): a stochastic lower bound.
Log weights grow with the data set (log p(𝒟|w) is a sum over the data
points), and in float64 exp(710) is inf and exp(−746) is 0: compute the log
of the mean without exponentiating the log weights as they are.

Your task. A run of n chains over the schedule `betas` (length T + 1) recorded

    log_likelihoods[t, c] = log p(𝒟 | w_t) of chain c,   t = 0, 1, ..., T,

an array (T + 1, n): row 0 at the draws from the prior, row t at the state
after the transition at β_t (row T, after the last one, is at an approximate
draw from the posterior; the weight does not need it).

  ais_log_weights(log_likelihoods, betas): the log weight of each chain, an array (n,).
  log_evidence_estimate(log_weights): log of the mean of exp(log_weights), one float,
      finite for log weights of any size.

The checker tests both on hand-made tables and random schedules, then runs
AIS on a conjugate model whose evidence is known exactly (with transitions
that draw exactly from each π_β) and compares your estimate with it.

Check:  python check.py 10
"""


def ais_log_weights(log_likelihoods, betas):
    """Σ_{t=1}^{T} (β_t − β_{t−1}) log p(𝒟 | w_{t−1}) for each chain: an array (n,)."""
    raise NotImplementedError("exercise 10: write ais_log_weights")


def log_evidence_estimate(log_weights):
    """log (1/n Σ_c exp(log_weights[c])), computed without overflow: one float."""
    raise NotImplementedError("exercise 10: write log_evidence_estimate")
