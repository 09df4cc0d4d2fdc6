"""Exercise 5 — the minibatch ELBO with Blundell's KL weights (derivation steps 3 and 8).

Why. The negative ELBO over the whole data set is F = KL[q || p] + Σ_n nll_n,
with nll_n = −E_q[log p(y_n | x_n, w)]. Training sees one minibatch at a time,
so the data set is split into M minibatches and minibatch i gets the loss

    F_i = π_i · KL + nll_i,        with Σ_i π_i = 1,

where nll_i is the data term summed over minibatch i. Then Σ_i F_i = F over an
epoch. Blundell et al. (2015, sec. 3.4) choose

    π_i = 2^(M−i) / (2^M − 1),   i = 1, ..., M:

the first minibatches lean on the prior, the last ones on the data.

Your task.
  blundell_weights(n_batches): the array [π_1, ..., π_M], float, length M.
     It must work for long epochs too (M = 2000): 2.0 ** 2000 overflows, so
     rewrite the fraction (divide above and below by 2^M) before computing it.
  minibatch_losses(kl, nlls): given the KL (a float) and the M minibatches'
     data terms nlls (an array of length M), the array of the M losses F_i,
     using your blundell_weights.

Check:  python check.py 5
"""


def blundell_weights(n_batches):
    """[π_1, ..., π_M] with π_i = 2^(M−i) / (2^M − 1), i = 1..M; finite for any M >= 1."""
    raise NotImplementedError("exercise 5: write blundell_weights")


def minibatch_losses(kl, nlls):
    """[F_1, ..., F_M] with F_i = π_i · kl + nlls[i-1]."""
    raise NotImplementedError("exercise 5: write minibatch_losses")
