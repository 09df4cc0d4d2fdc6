"""Exercise 2 — the closed-form KL against a Gaussian prior, and its gradient (derivation step 5).

Why. The loss of Bayes by Backprop is F = KL[q || p] − E_q[log p(𝒟|w)]. With a
Gaussian q(w_i) = N(μ_i, σ_i²) and a Gaussian prior p(w_i) = N(0, s²), the KL
has a closed form: no sampling needed, and its gradient is exact.

Your task. Write kl_normal (the KL summed over all weights, one float) and
kl_normal_grads (its gradient with respect to every μ_i and every σ_i).
mu and sigma are arrays of the same shape (sigma > 0); prior_sigma = s is a
positive number.

Starting point. For one weight, from the definition KL = E_q[log q(w) − log p(w)]
with log N(w; m, v²) = −log v − (w − m)²/(2v²) − log(2π)/2, and E_q[(w − μ)²] = σ²,
E_q[w²] = σ² + μ², you get

    KL[N(μ, σ²) || N(0, s²)] = log(s/σ) + (σ² + μ²)/(2s²) − 1/2.

Derive this yourself first (it is a few lines), then differentiate it term by
term for dKL/dμ and dKL/dσ. Sanity checks: the KL is 0 at μ = 0, σ = s, and
both derivatives vanish there.

Check:  python check.py 2
"""


def kl_normal(mu, sigma, prior_sigma=1.0):
    """Σ_i KL[N(mu_i, sigma_i²) || N(0, prior_sigma²)], a single float."""
    raise NotImplementedError("exercise 2: write kl_normal")


def kl_normal_grads(mu, sigma, prior_sigma=1.0):
    """(dKL/dmu, dKL/dsigma): two arrays of mu's shape, the gradient of kl_normal's sum."""
    raise NotImplementedError("exercise 2: write kl_normal_grads")
