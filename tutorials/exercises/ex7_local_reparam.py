"""Exercise 7 — the local reparameterisation trick, forward pass (Kingma, Salimans & Welling 2015).

Why. A Bayesian layer computes pre-activations b = x @ W with independent
Gaussian weights W_ij ~ N(μ_ij, σ_ij²). Sampling one W per minibatch makes all
rows of the batch share the same noise, which makes the gradient noisy.
Given x, each b_nj = Σ_i x_ni W_ij is a sum of independent Gaussians, so it
is itself Gaussian, and we can sample it directly:

    b = mean + sqrt(var) · ε,   ε ~ N(0, 1) of b's shape (one per row and output).

minivi's LocalBayesLinear does exactly this (minivi/bayes.py).

Your task.
  lrt_moments(x, mu, sigma): x has shape (N, in), mu and sigma (in, out).
     Return (mean, var), both of shape (N, out): the mean and the variance of
     b_nj = Σ_i x_ni W_ij.
  lrt_sample(x, mu, sigma, rng): one sample of b, drawing the noise as
     eps = rng.standard_normal(mean.shape) (exactly this call, once, so the
     checker can reproduce your sample).

Starting point. For a fixed number a and a random variable W:
E[aW] = a E[W] and Var(aW) = a² Var(W); for independent terms, means add and
variances add. Which of μ, σ, σ² enters where?

Check:  python check.py 7
"""


def lrt_moments(x, mu, sigma):
    """(mean, var) of the pre-activations x @ W for W_ij ~ N(mu_ij, sigma_ij²), each (N, out)."""
    raise NotImplementedError("exercise 7: write lrt_moments")


def lrt_sample(x, mu, sigma, rng):
    """mean + sqrt(var) * eps with eps = rng.standard_normal(mean.shape)."""
    raise NotImplementedError("exercise 7: write lrt_sample")
