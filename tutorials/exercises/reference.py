"""The reference solutions: every exercise's functions, taken from the minivi library itself.

`python check.py --solutions-from minivi` checks this file. Each function is a
thin adapter from the exercise's signature to the library function that
solves it; the docstrings name where in minivi to read the worked solution.
Exercise 10's two functions are written out here in full.
"""
import numpy as np

import minivi as mv
from minivi import gaussian as g

# ---------------------------------------------------------------- exercise 1: minivi/gaussian.py

softplus = g.softplus               # np.logaddexp(0, rho)
softplus_grad = g.softplus_grad     # exp(-logaddexp(0, -rho)) = sigmoid(rho)


# ---------------------------------------------------------------- exercise 2: minivi/gaussian.py


def kl_normal(mu, sigma, prior_sigma=1.0):
    """minivi.gaussian.kl_normal with the prior's mean at 0."""
    return g.kl_normal(mu, sigma, prior_mu=0.0, prior_sigma=prior_sigma)


def kl_normal_grads(mu, sigma, prior_sigma=1.0):
    """minivi.gaussian.kl_normal_grads with the prior's mean at 0."""
    return g.kl_normal_grads(mu, sigma, prior_mu=0.0, prior_sigma=prior_sigma)


# ---------------------------------------------------------------- exercise 3: minivi/gaussian.py (used in bayes.sample_weight)


def reparam_backward(grad_w, eps, rho):
    """minivi.gaussian.reparameterize_grads, then minivi.gaussian.sigma_grad_to_rho."""
    grad_mu, grad_sigma = g.reparameterize_grads(grad_w, eps)
    return grad_mu, grad_sigma, g.sigma_grad_to_rho(grad_sigma, rho)


# ---------------------------------------------------------------- exercise 4: minivi/tensor.py


def mul(a, b):
    """Tensor.__mul__: one make_op whose VJPs call unbroadcast."""
    return a * b


def log_softmax(x, axis=-1):
    """Tensor.log_softmax: one make_op with the VJP g - softmax(x) * Σ g."""
    return x.log_softmax(axis=axis)


# ---------------------------------------------------------------- exercise 5: minivi/elbo.py


def blundell_weights(n_batches):
    """minivi.kl_weights(M, "blundell")."""
    return mv.kl_weights(n_batches, "blundell")


def minibatch_losses(kl, nlls):
    """π_i·KL + nll_i, as minivi.elbo_loss computes one minibatch's loss with kl_weight = π_i."""
    return mv.kl_weights(len(nlls), "blundell") * kl + np.asarray(nlls, dtype=float)


# ---------------------------------------------------------------- exercise 6: minivi/predict.py


def _uncertainty(probs):
    """minivi.classification_uncertainty takes logits; log p are logits whose softmax is p again."""
    with np.errstate(divide="ignore"):   # log 0 = -inf is a valid logit: softmax gives 0 back
        return mv.classification_uncertainty(np.log(probs))


def predictive_entropy(probs):
    return _uncertainty(probs)["predictive_entropy"]


def mutual_information(probs):
    return _uncertainty(probs)["mutual_information"]


# ---------------------------------------------------------------- exercise 7: minivi/bayes.py (LocalBayesLinear)


def _layer(mu, sigma, rng):
    """A bias-free LocalBayesLinear holding the given mu and sigma = softplus(rho), drawing from rng."""
    layer = mv.LocalBayesLinear(*np.shape(mu), bias=False, rng=np.random.default_rng(0))
    layer.weight_mu = mv.Tensor(mu)
    layer.weight_rho = mv.Tensor(g.inverse_softplus(sigma))
    layer.rng = rng   # after construction, so the initialisation does not consume its draws
    return layer


def lrt_moments(x, mu, sigma):
    """The mean is LocalBayesLinear's mean mode; the variance is the line of its forward
    `var = (x ** 2) @ (self.weight_rho.softplus() ** 2)` (not a separate library function)."""
    layer = _layer(mu, sigma, np.random.default_rng(0))
    x = mv.Tensor(x)
    with mv.no_grad():
        return layer(x, mode="mean").data, ((x ** 2) @ (layer.weight_rho.softplus() ** 2)).data


def lrt_sample(x, mu, sigma, rng):
    """LocalBayesLinear.forward in sampling mode: mean + sqrt(var) * rng.standard_normal(mean.shape)."""
    with mv.no_grad():
        return _layer(mu, sigma, rng)(mv.Tensor(x)).data


# ---------------------------------------------------------------- exercise 8: minivi/mcmc.py


def leapfrog_step(w, p, step_size, grad_log_prob):
    """minivi.mcmc.leapfrog with one step and M = I. Its value_and_grad also returns log p(w), which
    one step does not need, so a placeholder 0.0 stands in for it."""
    w_new, p_new, _, _ = mv.mcmc.leapfrog(w, p, step_size, 1, lambda v: (0.0, grad_log_prob(v)))
    return w_new, p_new


# ---------------------------------------------------------------- exercise 9: minivi/fullcov.py


def kl_full_cov(mu, L, prior_sigma=1.0):
    """minivi.fullcov.kl_full_cov: (‖L‖²_F + ‖μ‖²)/(2s²) − D/2 + D log s − Σ log L_ii."""
    return mv.fullcov.kl_full_cov(mu, L, prior_sigma)


def kl_full_cov_grads(mu, L, prior_sigma=1.0):
    """minivi.fullcov.kl_full_cov_grads: (μ/s², L/s² − diag(1/L_ii)), used by fullcov.kl_full_cov_op."""
    return mv.fullcov.kl_full_cov_grads(mu, L, prior_sigma)


# ---------------------------------------------------------------- exercise 10: written out here


def ais_log_weights(log_likelihoods, betas):
    """Σ_{t=1}^{T} (β_t − β_{t−1}) log p(𝒟|w_{t−1}) per chain: the increments times rows 0..T−1 of the table."""
    log_likelihoods, betas = np.asarray(log_likelihoods, dtype=float), np.asarray(betas, dtype=float)
    if betas.ndim != 1 or len(betas) < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) <= 0):
        raise ValueError(f"betas must be an increasing 1-D schedule from exactly 0 to exactly 1, got {betas}")
    if log_likelihoods.ndim != 2 or len(log_likelihoods) != len(betas):
        raise ValueError(f"log_likelihoods must have shape (T + 1, n_chains) = ({len(betas)}, n_chains) for "
                         f"{len(betas)} betas, got shape {log_likelihoods.shape}")
    return np.diff(betas) @ log_likelihoods[:-1]


def log_evidence_estimate(log_weights):
    """log mean exp(log W) = m + log mean exp(log W − m), m = max log W: no exponent is above 0."""
    log_weights = np.asarray(log_weights, dtype=float)
    if log_weights.ndim != 1 or log_weights.size == 0 or not np.all(np.isfinite(log_weights)):
        raise ValueError(f"log_weights must be a non-empty 1-D array of finite numbers, got {log_weights}")
    m = np.max(log_weights)
    return float(m + np.log(np.mean(np.exp(log_weights - m))))


# ---------------------------------------------------------------- exercise 11: minivi/conv.py


def conv2d_backward(x, weight, grad_out, stride, padding):
    """minivi.conv's two VJPs of conv2d: conv_input_grad (col2im of G_col W_col) and conv_weight_grad
    (G_colᵀ col(x), with col(x) from im2col). mv.conv2d runs first to check x, weight, stride and padding."""
    x, weight, grad_out = (np.asarray(a, dtype=float) for a in (x, weight, grad_out))
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"x must be (N, C_in, H, W) and weight (C_out, C_in, kH, kW), got shapes {x.shape} "
                         f"and {weight.shape} (no sample axis in this exercise)")
    with mv.no_grad():
        out_shape = mv.conv2d(x, weight, stride=stride, padding=padding).shape
    if grad_out.shape != out_shape:
        raise ValueError(f"grad_out must have the shape of conv2d's output, {out_shape}, got {grad_out.shape}")
    stride, padding = (stride, stride), (padding, padding)
    cols = mv.conv.im2col(x, weight.shape[-2:], stride, padding)
    return (mv.conv.conv_input_grad(grad_out, weight, x.shape, stride, padding),
            mv.conv.conv_weight_grad(cols, grad_out, weight.shape))
