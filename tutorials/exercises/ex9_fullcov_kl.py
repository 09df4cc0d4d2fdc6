"""Exercise 9 — the KL of a full-covariance Gaussian q, and its gradient in the Cholesky factor L.

Why. Mean-field q gives each weight its own N(μ_i, σ_i²) and cannot represent
weights that trade off against each other (tutorial 02). A full-covariance q
is one Gaussian over the whole weight vector w in R^D:

    q(w) = N(μ, Σ),   Σ = L Lᵀ,   L lower-triangular with L_ii > 0,

sampled as w = μ + L ε (minivi/fullcov.py). Its KL to the prior
p(w) = N(0, s² I) still has a closed form, and the optimiser needs its
gradient with respect to every parameter of q: μ and the entries of L on and
below the diagonal (the entries above it are fixed at 0; they are not parameters).

Your task.
  kl_full_cov(mu, L, prior_sigma): KL[N(μ, L Lᵀ) || N(0, s² I)], one float.
      mu has shape (D,), L has shape (D, D), lower-triangular with a positive diagonal.
  kl_full_cov_grads(mu, L, prior_sigma): (dKL/dμ of shape (D,), dKL/dL of shape (D, D)).

Starting point. For two Gaussians in D dimensions,

    KL[N(μ, Σ) || N(0, s² I)] = 1/2 [ tr(Σ)/s² + μᵀμ/s² − D + D log s² − log det Σ ].

Write tr(L Lᵀ) and log det(L Lᵀ) in terms of the entries of L (for a
triangular matrix the determinant is the product of the diagonal), then
differentiate term by term. Sanity checks: the KL is 0 at μ = 0, L = s·I; with
a diagonal L = diag(σ) it is exercise 2's sum of per-weight KLs.

Check:  python check.py 9
"""


def kl_full_cov(mu, L, prior_sigma=1.0):
    """KL[N(mu, L Lᵀ) || N(0, prior_sigma² I)], a single float."""
    raise NotImplementedError("exercise 9: write kl_full_cov")


def kl_full_cov_grads(mu, L, prior_sigma=1.0):
    """(dKL/dmu, dKL/dL): arrays of shapes (D,) and (D, D); dKL/dL is zero above the diagonal."""
    raise NotImplementedError("exercise 9: write kl_full_cov_grads")
