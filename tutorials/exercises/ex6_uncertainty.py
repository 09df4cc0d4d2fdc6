"""Exercise 6 — predictive entropy and mutual information from sampled probabilities (step 2).

Why. A Bayesian classifier is run S times with S weight samples w_s ~ q. For
each input it gives S probability vectors p_s (one per sample). The posterior
predictive is their mean, p̄ = (1/S) Σ_s p_s, and its uncertainty splits in two
(e.g. Depeweg et al. 2018):

    total      H[p̄]                          predictive entropy
    aleatoric  (1/S) Σ_s H[p_s]               expected entropy: each network's own doubt
    epistemic  H[p̄] − (1/S) Σ_s H[p_s]       mutual information: the networks disagree

with the entropy H[p] = −Σ_c p_c log p_c (natural log, in nats; 0·log 0 = 0).

Your task. probs has shape (S, N, C): samples, data points, classes; each
probs[s, n] sums to 1 and may contain exact zeros. Return arrays of shape (N,).

Starting point. Write a small entropy(p) over the last axis first, careful with
p = 0 (np.log(0) = −inf, and 0·(−inf) = NaN). Sanity checks: if all S samples
are identical the mutual information is 0; if half the samples are certain of
class A and half of class B, both the predictive entropy and the mutual
information are log 2.

Check:  python check.py 6
"""


def predictive_entropy(probs):
    """H[(1/S) Σ_s probs[s]] for each data point: shape (N,)."""
    raise NotImplementedError("exercise 6: write predictive_entropy")


def mutual_information(probs):
    """H[(1/S) Σ_s probs[s]] − (1/S) Σ_s H[probs[s]] for each data point: shape (N,)."""
    raise NotImplementedError("exercise 6: write mutual_information")
