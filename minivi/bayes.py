"""Layer 3, Bayesian modules: the Gaussian variational layer of Bayes by Backprop.

Each weight w_i gets its own q(w_i) = N(mu_i, sigma_i²) with sigma_i = softplus(rho_i)
(step 4). The layer holds mu and rho; the weights are never stored, only sampled:

    w = mu + sigma * eps,  eps ~ N(0, 1)                    (step 7)

The sample enters the engine's graph as ONE op whose backward is the
derivation's formula written out in `minivi/gaussian.py`:

    dF/dmu  = dF/dw
    dF/drho = dF/dsigma * sigmoid(rho),  with dF/dsigma = dF/dw * eps

and `kl()` is ONE op whose value and gradient are the closed forms of step 5.
So the "trick" of Bayes by Backprop is nothing but two more engine ops.

References: Blundell, Cornebise, Kavukcuoglu & Wierstra (2015), "Weight
Uncertainty in Neural Networks"; Kingma, Salimans & Welling (2015),
"Variational Dropout and the Local Reparameterization Trick".
"""
from __future__ import annotations

import numpy as np

from . import gaussian as g
from .nn import Module, check_features, check_generator, check_sizes
from .tensor import Tensor, as_tensor, make_op, unbroadcast


def sample_weight(mu: Tensor, rho: Tensor, eps: np.ndarray) -> Tensor:
    """w = mu + softplus(rho) * eps as one engine op (step 7), with the explicit backward.

    eps has mu's shape, or a leading sample axis (S, *mu.shape) for S weight
    samples at once; the gradients of mu and rho are then summed over the
    samples (`unbroadcast`), as each sample used the same mu and rho.
    (The gaussian functions skip their input checks here: mu and rho are the
    layer's own float64 parameters, and `fit` stops at the first NaN.)
    """
    sigma = g.softplus(rho.data, validate=False)
    w = g.reparameterize(mu.data, sigma, eps, validate=False)

    def vjp_mu(grad_w):
        return unbroadcast(grad_w, mu.shape)       # dF/dmu = dF/dw: g.reparameterize_grads' first half

    def vjp_rho(grad_w):
        _, grad_sigma = g.reparameterize_grads(grad_w, eps, validate=False)   # dF/dsigma = dF/dw * eps
        grad_sigma = unbroadcast(grad_sigma, rho.shape)
        return grad_sigma * g.softplus_grad_from_sigma(sigma)                 # dF/drho = dF/dsigma * sigmoid(rho)

    return make_op("sample_weight", w, (mu, rho), (vjp_mu, vjp_rho))


def kl_normal_op(mu: Tensor, rho: Tensor, prior_mu=0.0, prior_sigma=1.0) -> Tensor:
    """KL[q || p] summed over the weights, closed form (step 5), as one engine op.

    Value: Σ log(s/sigma) + (sigma² + (mu - m)²)/(2s²) - 1/2, with sigma = softplus(rho).
    Backward: dKL/dmu = (mu - m)/s², dKL/drho = (-1/sigma + sigma/s²) * sigmoid(rho).
    The gradients are computed only when a backward needs them (never for a KL
    that is only read, nor under `no_grad`), and then once for both inputs.
    """
    mu_data, sigma = mu.data, g.softplus(rho.data, validate=False)
    value = np.asarray(g.kl_normal(mu_data, sigma, prior_mu, prior_sigma, validate=False))
    saved = {}   # the two gradients: computed together for the first VJP that asks, each handed out once

    def kl_grad(which):   # 0: dKL/dmu, 1: dKL/dsigma, at the forward's mu and sigma
        if which not in saved:
            saved.update(enumerate(g.kl_normal_grads(mu_data, sigma, prior_mu, prior_sigma, validate=False)))
        return saved.pop(which)

    def vjp_mu(grad_out):
        return grad_out * kl_grad(0)                                           # dKL/dmu

    def vjp_rho(grad_out):
        return grad_out * kl_grad(1) * g.softplus_grad_from_sigma(sigma)      # dKL/drho = dKL/dsigma * sigmoid(rho)

    return make_op("kl_normal", value, (mu, rho), (vjp_mu, vjp_rho))


class GaussianPrior:
    """p(w) = N(prior_mu, prior_sigma²) for every weight; N(0, 1) is the derivation's (step 4)."""

    def __init__(self, prior_sigma: float = 1.0, prior_mu: float = 0.0):
        self.prior_sigma = _positive_scale(prior_sigma, "prior_sigma")
        self.prior_mu = float(prior_mu)

    def kl(self, mu: Tensor, rho: Tensor, rng: np.random.Generator) -> Tensor:
        """Closed form: no random numbers needed (rng is unused)."""
        return kl_normal_op(mu, rho, self.prior_mu, self.prior_sigma)

    def __repr__(self):
        return f"GaussianPrior(prior_sigma={self.prior_sigma:g}, prior_mu={self.prior_mu:g})"


class ScaleMixturePrior:
    """p(w) = pi N(w; 0, sigma1²) + (1 - pi) N(w; 0, sigma2²)  (Blundell et al. 2015, §3.3).

    A wide component and a narrow one (sigma2 << sigma1) that pulls many
    weights towards zero. KL[q || p] has no closed form, so `kl` returns the
    one-sample Monte Carlo estimate log q(w) - log p(w) at a fresh w ~ q,
    unbiased for the KL (its gradients flow through the reparameterised w).
    """

    def __init__(self, pi: float = 0.5, sigma1: float = 1.0, sigma2: float = np.exp(-6)):
        if not 0.0 < pi < 1.0:
            raise ValueError(f"the mixture weight pi must lie strictly between 0 and 1, got {pi}; "
                             "for a single Gaussian use GaussianPrior")
        self.pi = float(pi)
        self.sigma1 = _positive_scale(sigma1, "sigma1")
        self.sigma2 = _positive_scale(sigma2, "sigma2")

    def kl(self, mu: Tensor, rho: Tensor, rng: np.random.Generator) -> Tensor:
        eps = rng.standard_normal(mu.shape)
        w = sample_weight(mu, rho, eps)
        log_q = (-0.5 * g.LOG_2PI - rho.softplus().log() - 0.5 * eps ** 2).sum()
        return log_q - self.log_prior(w)

    def log_prior(self, w: Tensor) -> Tensor:
        """Σ log p(w) as one op, computed with log-sum-exp (`g.log_scale_mixture_pdf`).

        d log p/dw = -(r1/sigma1² + r2/sigma2²) w, where r1, r2 = 1 - r1 are the
        components' responsibilities (their shares of p(w)).
        """
        log_p = g.log_scale_mixture_pdf(w.data, self.pi, self.sigma1, self.sigma2)
        r1 = np.exp(np.log(self.pi) + g.log_normal_pdf(w.data, 0.0, self.sigma1) - log_p)
        dlogp_dw = -(r1 / self.sigma1 ** 2 + (1.0 - r1) / self.sigma2 ** 2) * w.data
        return make_op("log_mixture_prior", np.asarray(log_p.sum()), (w,), (lambda grad: grad * dlogp_dw,))

    def __repr__(self):
        return f"ScaleMixturePrior(pi={self.pi:g}, sigma1={self.sigma1:g}, sigma2={self.sigma2:g})"


class BayesLinear(Module):
    """y = x @ W + b with Gaussian q over every weight and bias (Blundell et al. 2015).

    Parameters (Tensors, requires_grad): weight_mu, weight_rho of shape
    (in_features, out_features); bias_mu, bias_rho of shape (out_features,).
    sigma = softplus(rho) > 0 always.

    Initialisation: mu ~ N(0, 1/in_features) as in `Linear`, and every
    rho = inverse_softplus(init_sigma). init_sigma matters: a tiny start (say
    rho = -10, sigma ≈ 5e-5) makes sigmoid(rho), the factor in dF/drho, about
    5e-5 as well, so sigma hardly moves and the uncertainty never appears. The
    default 0.05 is small next to the weights' scale (1/sqrt(in_features)),
    so the first predictions are not noise, yet large enough to learn from.

    prior: a prior_sigma gives p(w) = N(0, prior_sigma²); pass
    `prior=ScaleMixturePrior(...)` for Blundell's mixture.
    rng:   the np.random.Generator every eps of this layer is drawn from.
    """

    uses_mode = True

    def __init__(self, in_features: int, out_features: int, prior_sigma: float = 1.0, *,
                 rng: np.random.Generator, prior=None, init_sigma: float = 0.05, bias: bool = True):
        self.rng = check_generator(rng, type(self).__name__)
        self.in_features, self.out_features = check_sizes(in_features, out_features, type(self).__name__)
        self.prior = GaussianPrior(prior_sigma) if prior is None else prior
        rho0 = g.inverse_softplus(_positive_scale(init_sigma, "init_sigma"))
        self.weight_mu = Tensor(rng.normal(0.0, 1.0 / np.sqrt(in_features), (in_features, out_features)),
                                requires_grad=True)
        self.weight_rho = Tensor(np.full((in_features, out_features), rho0), requires_grad=True)
        self.bias_mu = Tensor(np.zeros(out_features), requires_grad=True) if bias else None
        self.bias_rho = Tensor(np.full(out_features, rho0), requires_grad=True) if bias else None

    def forward(self, x, mode="sample", n_samples=None):
        """mode="mean": x @ mu_W + mu_b.  mode="sample": x @ W + b with fresh W, b ~ q.

        With n_samples=S the output gets a leading axis of S independent samples.
        """
        x = self._check_input(x, n_samples)
        if mode == "mean":
            return self._affine(x, self.weight_mu, self.bias_mu)
        w = sample_weight(self.weight_mu, self.weight_rho, self._eps(self.weight_mu.shape, n_samples))
        h = x @ w
        if self.bias_mu is None:
            return h
        bias_shape = self.bias_mu.shape if n_samples is None else (n_samples,) + (1,) * (h.ndim - 2) + self.bias_mu.shape
        return h + sample_weight(self.bias_mu, self.bias_rho, self.rng.standard_normal(bias_shape))

    def _check_input(self, x, n_samples) -> Tensor:
        """Inputs are (N, in_features), or (S, N, in_features) from an earlier layer run with n_samples=S."""
        x = as_tensor(x)
        check_features(x, self.in_features, type(self).__name__)
        if n_samples is not None and x.ndim > 2 and x.shape[0] != n_samples:
            raise ValueError(f"{type(self).__name__} got n_samples={n_samples} but an input of shape {x.shape}, "
                             f"whose leading (sample) axis has size {x.shape[0]}; pass inputs of shape "
                             f"(N, {self.in_features}) or use the same n_samples in every layer")
        return x

    def _eps(self, shape, n_samples):
        return self.rng.standard_normal(shape if n_samples is None else (n_samples,) + shape)

    @staticmethod
    def _affine(x, w, b):
        return x @ w if b is None else x @ w + b

    def variational_parameters(self):
        """(mu, rho) pairs of the weights and (if present) the biases."""
        pairs = [(self.weight_mu, self.weight_rho)]
        return pairs + ([(self.bias_mu, self.bias_rho)] if self.bias_mu is not None else [])

    def kl(self) -> Tensor:
        """KL[q || p] summed over this layer's weights and biases (step 5), a scalar Tensor."""
        total = None
        for mu, rho in self.variational_parameters():
            term = self.prior.kl(mu, rho, self.rng)
            total = term if total is None else total + term
        return total

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_features}, {self.out_features}, prior={self.prior!r}, "
                f"bias={self.bias_mu is not None})")


class LocalBayesLinear(BayesLinear):
    """BayesLinear with the local reparameterisation trick (Kingma, Salimans & Welling 2015).

    With independent Gaussian weights, each pre-activation b_j = Σ_i x_i W_ij + b_j
    is itself Gaussian given x:

        mean_j = Σ_i x_i mu_ij + mu_bj,     var_j = Σ_i x_i² sigma_ij² + sigma_bj²

    so we sample b = mean + sqrt(var) * eps directly, with eps of the output's
    shape. Every input row then sees its own independent weights, which lowers
    the variance of the gradient; the output's distribution is unchanged. The
    gradients come from the engine's autodiff of this expression. Same
    parameters, KL and mean mode as BayesLinear.
    """

    def forward(self, x, mode="sample", n_samples=None):
        x = self._check_input(x, n_samples)
        if mode == "mean":
            return self._affine(x, self.weight_mu, self.bias_mu)
        mean = x @ self.weight_mu
        var = (x ** 2) @ (self.weight_rho.softplus() ** 2)
        if self.bias_mu is not None:
            mean = mean + self.bias_mu
            var = var + self.bias_rho.softplus() ** 2
        has_sample_axis = n_samples is not None and x.ndim > 2   # made by an earlier sampled layer
        eps = self._eps(mean.shape, None if has_sample_axis else n_samples)
        return mean + _sqrt(var) * eps


def _sqrt(var: Tensor) -> Tensor:
    """std = sqrt(var) as one op; d sqrt(v)/dv = 1 / (2 sqrt(v)), taken as 0 where v = 0.

    var = 0 means an all-zero input row and no bias (or sigma underflowed to 0):
    there var stays 0 whatever the parameters do, so its gradient is 0. The
    plain 1 / (2 sqrt(0)) = inf would turn into NaN when multiplied by the zeros of x².
    """
    std = np.sqrt(var.data)
    positive = std > 0
    return make_op("sqrt", std, (var,),
                   (lambda grad: np.where(positive, grad / (2.0 * np.where(positive, std, 1.0)), 0.0),))


def kl_divergence(model: Module) -> Tensor:
    """KL[q || p] of the whole model: the sum of `kl()` over its Bayesian layers (step 5)."""
    terms = [module.kl() for module in model.modules() if isinstance(module, BayesLinear)]
    if not terms:
        return Tensor(0.0)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def signal_to_noise(model: Module) -> np.ndarray:
    """|mu| / sigma of every weight and bias of every Bayesian layer (Blundell et al. 2015, §5.1).

    A low ratio means the posterior is wide compared with the weight's size:
    such weights can be pruned with little loss.
    """
    ratios = [np.abs(mu.data) / g.softplus(rho.data)
              for module in model.modules() if isinstance(module, BayesLinear)
              for mu, rho in module.variational_parameters()]
    if not ratios:
        raise ValueError("the model has no Bayesian layers (BayesLinear), so there is no sigma to compare with")
    return np.concatenate([r.ravel() for r in ratios])


def _positive_scale(value, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number (a standard deviation), got {value}; "
                         "pass a number > 0 (a Gaussian with scale 0 is a single point)")
    return value
