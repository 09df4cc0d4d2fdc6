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
from .nn import (BayesianModule, Module, Parameter, check_features, check_generator, check_positive, check_sizes,
                 takes_keyword)
from .tensor import Tensor, affine, as_tensor, is_grad_enabled, make_op, unbroadcast


class SigmaOfRho:
    """sigma = softplus(rho) (step 4) of ONE rho Tensor at ONE version, and sigmoid(rho) when a backward asks.

    A training step uses sigma twice, in the sampled weights w = mu + sigma * eps
    and in the KL, and both backwards use dsigma/drho = sigmoid(rho) = 1 - e^-sigma.
    `elbo_loss` therefore hands the forward and `kl_divergence` one fresh dict,
    `shared_sigma`, for that call only; `sigma_of` reuses an entry of it only if
    it was made from the same rho Tensor, at the same version (no assignment to
    rho.data since), in the same grad mode. Anything else is computed again, and
    a plain model(x) or kl() (no dict) computes its own, as a student expects.
    """

    __slots__ = ("rho", "version", "grad_enabled", "sigma", "_sigmoid")

    def __init__(self, rho: Tensor):
        self.rho, self.version, self.grad_enabled = rho, rho._version, is_grad_enabled()
        self.sigma = g.softplus(rho.data, validate=False)              # sigma = softplus(rho)
        self._sigmoid = None

    def sigmoid(self) -> np.ndarray:
        """dsigma/drho = sigmoid(rho) = -expm1(-sigma), computed once, when first asked."""
        if self._sigmoid is None:
            self._sigmoid = g.softplus_grad_from_sigma(self.sigma)
        return self._sigmoid

    def is_current(self, rho: Tensor) -> bool:
        """Made from this very rho, unchanged since, in the grad mode in force now?"""
        return self.rho is rho and self.version == rho._version and self.grad_enabled == is_grad_enabled()


def sigma_of(rho: Tensor, shared_sigma: dict | None = None) -> SigmaOfRho:
    """softplus(rho), taken from `shared_sigma` (a per-call dict, see SigmaOfRho) when still valid, else computed."""
    if shared_sigma is None:
        return SigmaOfRho(rho)
    entry = shared_sigma.get(id(rho))
    if entry is None or not entry.is_current(rho):
        entry = shared_sigma[id(rho)] = SigmaOfRho(rho)
    return entry


def sample_weight(mu: Tensor, rho: Tensor, eps: np.ndarray, *, shared_sigma: dict | None = None) -> Tensor:
    """w = mu + softplus(rho) * eps as one engine op (step 7), with the explicit backward.

    eps has mu's shape, or a leading sample axis (S, *mu.shape) for S weight
    samples at once; the gradients of mu and rho are then summed over the
    samples (`unbroadcast`), as each sample used the same mu and rho.
    shared_sigma: the per-call dict of `elbo_loss` (see SigmaOfRho), or None.
    (The gaussian functions skip their input checks here: mu and rho are the
    layer's own float64 parameters, and `fit` stops at the first NaN.)
    """
    s = sigma_of(rho, shared_sigma)
    w = g.reparameterize(mu.data, s.sigma, eps, validate=False)                  # w = mu + sigma * eps

    def vjp_mu(grad_w):
        return unbroadcast(grad_w, mu.shape)       # dF/dmu = dF/dw: g.reparameterize_grads' first half

    def vjp_rho(grad_w):
        if eps.ndim > rho.ndim and len(eps) > 1:   # S samples of one sigma: dF/dsigma = Σ_s dF/dw_s * eps_s,
            grad_sigma = g.sigma_grad_summed(grad_w, eps, validate=False)            # no (S, ...) products stored
        else:                     # one sample (a sample axis of length 1 is dropped by unbroadcast below)
            _, grad_sigma = g.reparameterize_grads(grad_w, eps, validate=False)   # dF/dsigma = dF/dw * eps
        grad_sigma = unbroadcast(grad_sigma, rho.shape)      # (a bias's eps (S, 1, n): the size-1 axis too)
        return grad_sigma * s.sigmoid()                                       # dF/drho = dF/dsigma * sigmoid(rho)

    return make_op("sample_weight", w, (mu, rho), (vjp_mu, vjp_rho))


def kl_normal_op(mu, rho, prior_mu=0.0, prior_sigma=1.0, *, shared_sigma: dict | None = None) -> Tensor:
    """KL[q || p] summed over the weights, closed form (step 5), as one engine op.

    Value: Σ log(s/sigma) + (sigma² + (mu - m)²)/(2s²) - 1/2, with sigma = softplus(rho).
    Backward: dKL/dmu = (mu - m)/s², dKL/drho = (sigma/s² - 1/sigma) * sigmoid(rho),
    with sigmoid(rho)/sigma computed stably (`g.kl_normal_grads(..., wrt="rho")`):
    about -1 per weight for rho far below -709, where 1/sigma overflows.
    Each gradient is computed only when a backward asks for it (never for a KL
    that is only read, nor under `no_grad`).
    mu, rho: one Tensor each, or tuples of Tensors, mu[k] paired with rho[k]
    (a layer's weights and biases): the KL is then summed over every pair, still
    as ONE op (inputs mu[0], rho[0], mu[1], rho[1], ...).
    shared_sigma: the per-call dict of `elbo_loss` (see SigmaOfRho), or None.
    """
    mus, rhos = (mu, rho) if isinstance(mu, tuple) else ((mu,), (rho,))
    inputs, vjps, value = [], [], 0.0
    for mu_k, rho_k in zip(mus, rhos, strict=True):
        s = sigma_of(rho_k, shared_sigma)
        value += g.kl_normal(mu_k.data, s.sigma, prior_mu, prior_sigma, validate=False,
                             log_sigma=g.log_softplus(rho_k.data, s.sigma, validate=False))   # right where sigma underflows
        inputs += (mu_k, rho_k)
        vjps += _kl_normal_vjps(mu_k.data, s, prior_mu, prior_sigma)
    return make_op("kl_normal", np.asarray(value), tuple(inputs), tuple(vjps))


def _kl_normal_vjps(mu_data, s: SigmaOfRho, prior_mu, prior_sigma) -> tuple:
    """The VJPs of one (mu, rho) pair of the KL op: dKL/dmu and dKL/drho, times the output's gradient."""

    def vjp_mu(grad_out):   # dKL/dmu = (mu - m)/s²
        return grad_out * g.kl_normal_grad_mu(mu_data, prior_mu, prior_sigma, validate=False)

    def vjp_rho(grad_out):  # dKL/drho = (sigma/s² - 1/sigma) * sigmoid(rho)
        return grad_out * g.kl_normal_grad_rho(s.sigma, s.sigmoid(), prior_sigma, validate=False)

    return vjp_mu, vjp_rho


def log_sigma(rho: Tensor) -> Tensor:
    """log sigma = log softplus(rho) as one op (step 4), right for every finite rho (`g.log_softplus`).

    d log sigma/drho = sigmoid(rho) / sigma, computed from sigma alone (`g.sigmoid_over_sigma`):
    its limit is 1 where sigma underflows, not the 0/0 of rho.softplus().log().
    """
    sigma = g.softplus(rho.data, validate=False)
    ratio = g.sigmoid_over_sigma(sigma, g.softplus_grad_from_sigma(sigma))
    return make_op("log_sigma", g.log_softplus(rho.data, sigma, validate=False), (rho,), (lambda grad: grad * ratio,))


class GaussianPrior:
    """p(w) = N(prior_mu, prior_sigma²) for every weight; N(0, 1) is the derivation's (step 4)."""

    draws_random = False  # the KL is in closed form

    def __init__(self, prior_sigma: float = 1.0, prior_mu: float = 0.0):
        self.prior_sigma = check_positive(prior_sigma, "prior_sigma", who="GaussianPrior", squared=True,
                                          hint="a standard deviation; a Gaussian with scale 0 is a single point")
        self.prior_mu = float(prior_mu)

    def kl(self, mu, rho, rng: np.random.Generator, *, shared_sigma: dict | None = None) -> Tensor:
        """Closed form: no random numbers needed (rng is unused). mu and rho may be tuples (see kl_normal_op)."""
        return kl_normal_op(mu, rho, self.prior_mu, self.prior_sigma, shared_sigma=shared_sigma)

    def config(self) -> dict:
        return {"class": "GaussianPrior", "prior_sigma": self.prior_sigma, "prior_mu": self.prior_mu}

    def __repr__(self):
        return f"GaussianPrior(prior_sigma={self.prior_sigma:g}, prior_mu={self.prior_mu:g})"


class ScaleMixturePrior:
    """p(w) = pi N(w; 0, sigma1²) + (1 - pi) N(w; 0, sigma2²)  (Blundell et al. 2015, §3.3).

    A wide component and a narrow one (sigma2 << sigma1) that pulls many
    weights towards zero. KL[q || p] has no closed form, so `kl` returns the
    one-sample Monte Carlo estimate log q(w) - log p(w) at a fresh w ~ q,
    unbiased for the KL (its gradients flow through the reparameterised w).
    The layer hands `kl` a generator seeded by its last sampling forward, so
    reading the KL twice gives the same number and never moves the layer's own
    generator (logging the KL does not change training).
    """

    draws_random = True  # the KL is a Monte Carlo estimate

    def __init__(self, pi: float = 0.5, sigma1: float = 1.0, sigma2: float = np.exp(-6)):
        self.pi = check_positive(pi, "pi", who="ScaleMixturePrior", below=1.0,
                                 hint="the mixture weight; for a single Gaussian use GaussianPrior")
        self.sigma1 = check_positive(sigma1, "sigma1", who="ScaleMixturePrior", squared=True, hint="a standard deviation")
        self.sigma2 = check_positive(sigma2, "sigma2", who="ScaleMixturePrior", squared=True, hint="a standard deviation")

    def kl(self, mu: Tensor, rho: Tensor, rng: np.random.Generator) -> Tensor:
        eps = rng.standard_normal(mu.shape)
        w = sample_weight(mu, rho, eps)
        log_q = (-0.5 * g.LOG_2PI - log_sigma(rho) - 0.5 * eps ** 2).sum()
        return log_q - self.log_prior(w)

    def log_prior(self, w: Tensor) -> Tensor:
        """Σ log p(w) as one op, computed with log-sum-exp (`g.log_scale_mixture_pdf`).

        d log p/dw = -(r1/sigma1² + r2/sigma2²) w, where r1, r2 = 1 - r1 are the
        components' responsibilities (their shares of p(w)).
        """
        log_p = g.log_scale_mixture_pdf(w.data, self.pi, self.sigma1, self.sigma2, validate=False)   # NaN w: NaN
        r1 = np.exp(np.log(self.pi) + g.log_normal_pdf(w.data, 0.0, self.sigma1, validate=False) - log_p)
        dlogp_dw = -(r1 / self.sigma1 ** 2 + (1.0 - r1) / self.sigma2 ** 2) * w.data
        return make_op("log_mixture_prior", np.asarray(log_p.sum()), (w,), (lambda grad: grad * dlogp_dw,))

    def config(self) -> dict:
        return {"class": "ScaleMixturePrior", "pi": self.pi, "sigma1": self.sigma1, "sigma2": self.sigma2}

    def __repr__(self):
        return f"ScaleMixturePrior(pi={self.pi:g}, sigma1={self.sigma1:g}, sigma2={self.sigma2:g})"


class MeanFieldLayer(BayesianModule):
    """What every mean-field Gaussian layer shares: q over its weights and biases, and its KL (steps 4-5).

    q(w_i) = N(mu_i, sigma_i²), sigma_i = softplus(rho_i), for every weight and
    bias; the Parameters weight_mu, weight_rho (the weight's shape) and bias_mu,
    bias_rho (one per output, or None without bias). `BayesLinear` holds a
    matrix, `BayesConv2d` (minivi/bayes_conv.py) a stack of kernels: the same q,
    the same `sample_weight` and the same KL, whatever the weights' shape.
    A subclass writes forward(x, *, mode, n_samples) and calls `_init_q`.
    """

    def _init_q(self, rng, weight_shape: tuple, fan_in: int, n_out: int, prior_sigma, prior, init_sigma, bias: bool):
        """mu_W ~ N(0, 1/fan_in) (LeCun, as `Linear`), mu_b = 0, every rho = inverse_softplus(init_sigma)."""
        self.rng = check_generator(rng, type(self).__name__)
        self.prior = GaussianPrior(prior_sigma) if prior is None else prior
        rho0 = g.inverse_softplus(check_positive(init_sigma, "init_sigma", who=type(self).__name__,
                                                 hint="the starting standard deviation of every weight"))
        self.weight_mu = Parameter(rng.normal(0.0, 1.0 / np.sqrt(fan_in), weight_shape))
        self.weight_rho = Parameter(np.full(weight_shape, rho0))
        self.bias_mu = Parameter(np.zeros(n_out)) if bias else None
        self.bias_rho = Parameter(np.full(n_out, rho0)) if bias else None
        self._kl_seed = None
        self._new_kl_seed()

    def _eps(self, shape, n_samples):
        return self.rng.standard_normal(shape if n_samples is None else (n_samples,) + shape)

    def _new_kl_seed(self):
        """A prior whose KL is a Monte Carlo estimate gets its own seed, drawn once per sampling forward."""
        if getattr(self.prior, "draws_random", True):
            self._kl_seed = int(self.rng.integers(2 ** 63))

    def variational_parameters(self):
        """(mu, rho) pairs of the weights and (if present) the biases."""
        pairs = [(self.weight_mu, self.weight_rho)]
        return pairs + ([(self.bias_mu, self.bias_rho)] if self.bias_mu is not None else [])

    def kl(self, *, shared_sigma=None) -> Tensor:
        """KL[q || p] summed over this layer's weights and biases (step 5), a scalar Tensor.

        Reading it changes nothing: a Monte Carlo prior draws from a generator
        seeded at the last sampling forward, never from the layer's `rng`.
        shared_sigma: `elbo_loss`'s per-call dict (see SigmaOfRho), passed to a
        prior whose kl takes it; None computes sigma here.
        """
        if isinstance(self.prior, GaussianPrior):   # closed form: weights and biases in ONE op
            mus, rhos = zip(*self.variational_parameters())
            return self.prior.kl(mus, rhos, None, shared_sigma=shared_sigma)
        needs_draws = getattr(self.prior, "draws_random", True)
        if needs_draws and self._kl_seed is None:
            raise ValueError(f"{type(self).__name__}: the prior {self.prior!r} was set after construction; run the "
                             "layer once in mode='sample' before reading its KL")
        rng = np.random.default_rng(self._kl_seed) if needs_draws else None
        shared = {"shared_sigma": shared_sigma} if takes_keyword(type(self.prior).kl, "shared_sigma") else {}
        total = None
        for mu, rho in self.variational_parameters():
            term = self.prior.kl(mu, rho, rng, **shared)
            total = term if total is None else total + term
        return total

    def prior_config(self) -> dict:
        """The prior's settings as `save` records them."""
        return self.prior.config() if hasattr(self.prior, "config") else {"class": type(self.prior).__name__}


class BayesLinear(MeanFieldLayer):
    """y = x @ W + b with Gaussian q over every weight and bias (Blundell et al. 2015).

    Parameters (`Parameter`s): weight_mu, weight_rho of shape
    (in_features, out_features); bias_mu, bias_rho of shape (out_features,).
    sigma = softplus(rho) > 0 always.

    Initialisation: mu ~ N(0, 1/in_features) as in `Linear`, and every
    rho = inverse_softplus(init_sigma). A tiny start learns its sigma slowly,
    but not because the gradient vanishes. At rho = -10 (sigma ≈ 4.5e-5) the
    KL's dKL/drho = (sigma/s² - 1/sigma) * sigmoid(rho) ≈ -1 per weight
    (sigmoid(rho)/sigma → 1), while the data's dF/drho = dF/dw * eps * sigmoid(rho)
    is ~5e-5 times dF/dw: the KL alone pushes rho up, as fast as the optimiser
    lets it. Measured (1-16-1 tanh network, 200 points, batches of 50, so a KL
    weight of 1/4; median change of the first layer's rho): SGD at lr=1e-4
    (larger rates diverged on the data term) moved rho by lr/4 per step, +0.05
    in 2000 steps, sigma still 4.8e-5 (reaching 0.05 would take ~3e5 steps);
    Adam at lr=1e-2 moves rho by about lr per step whatever the gradient's
    size: +0.40 after 40 steps, +4.0 after 400 (sigma 0.0025), +6.9 after 2000
    (sigma 0.046). So a tiny start wastes about (rho_wanted - rho_start)/lr
    Adam steps, and SGD never recovers from it in a normal run.
    The default 0.05 is small next to the weights' scale (1/sqrt(in_features)),
    so the first predictions are not noise, yet large enough to learn from.

    prior: a prior_sigma gives p(w) = N(0, prior_sigma²); pass
    `prior=ScaleMixturePrior(...)` for Blundell's mixture.
    rng:   the np.random.Generator every eps of this layer is drawn from.
    """

    def __init__(self, in_features: int, out_features: int, prior_sigma: float = 1.0, *,
                 rng: np.random.Generator, prior=None, init_sigma: float = 0.05, bias: bool = True):
        self.in_features, self.out_features = check_sizes(in_features, out_features, type(self).__name__)
        self._init_q(rng, (in_features, out_features), in_features, out_features, prior_sigma, prior, init_sigma, bias)

    def forward(self, x, *, mode, n_samples, shared_sigma=None):
        """mode="mean": x @ mu_W + mu_b.  mode="sample" or "function": x @ W + b with fresh W, b ~ q.

        With n_samples=S, x is (1 or S, ..., in_features) (the sample axis first,
        see minivi/nn.py) and the output (S, ..., out_features): sample s uses W_s, b_s.
        shared_sigma: `elbo_loss`'s per-call dict of sigma = softplus(rho) (see SigmaOfRho), or None.
        """
        x = self._check_input(x, n_samples)
        if mode == "mean":
            return self._affine(x, self.weight_mu, self.bias_mu)
        self._new_kl_seed()
        w = sample_weight(self.weight_mu, self.weight_rho, self._eps(self.weight_mu.shape, n_samples),
                          shared_sigma=shared_sigma)
        if n_samples is not None and x.ndim > 3:   # (S, 1, ..., in, out): one matrix per sample, shared by the other axes
            w = w.reshape((n_samples,) + (1,) * (x.ndim - 3) + self.weight_mu.shape)
        if self.bias_mu is None:
            return x @ w
        bias_shape = self.bias_mu.shape if n_samples is None else (n_samples,) + (1,) * (x.ndim - 2) + self.bias_mu.shape
        b = sample_weight(self.bias_mu, self.bias_rho, self.rng.standard_normal(bias_shape), shared_sigma=shared_sigma)
        return affine(x, w, b)                                               # x @ W + b, one op

    def _check_input(self, x, n_samples) -> Tensor:
        """Inputs are (..., in_features); with n_samples they carry the sample axis first and one data axis."""
        x = as_tensor(x)
        check_features(x, self.in_features, type(self).__name__)
        if n_samples is not None and x.ndim < 3:
            raise ValueError(f"{type(self).__name__} with n_samples={n_samples} needs inputs with rows, shape "
                             f"(N, {self.in_features}); got one input of shape {x.shape[1:]}: pass x.reshape(1, -1)")
        return x

    @staticmethod
    def _affine(x, w, b):
        return x @ w if b is None else affine(x, w, b)

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias_mu is not None, "prior": self.prior_config()}

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_features}, {self.out_features}, prior={self.prior!r}, "
                f"bias={self.bias_mu is not None})")


class LocalBayesLinear(BayesLinear):
    """BayesLinear with the local reparameterisation trick (Kingma, Salimans & Welling 2015).

    With independent Gaussian weights, each pre-activation b_j = Σ_i x_i W_ij + b_j
    is itself Gaussian given x:

        mean_j = Σ_i x_i mu_ij + mu_bj,     var_j = Σ_i x_i² sigma_ij² + sigma_bj²

    so in mode="sample" we draw b = mean + sqrt(var) * eps directly, with eps of
    the output's shape. Each input row's output has the same distribution as
    under weight sampling, but the rows become INDEPENDENT: two identical rows
    get uncorrelated outputs (correlation ~0), where one sampled weight matrix
    gives them the same output (correlation 1). That independence lowers the
    variance of the gradient, so it is a good training estimator, but its
    outputs are not functions of x: bands across x or sampled curves drawn from
    it would be wrong. mode="function" (what `predict` uses) therefore draws the
    weights, as BayesLinear does. The gradients come from the engine's autodiff
    of this expression. Same parameters, KL and mean mode as BayesLinear.
    """

    def forward(self, x, *, mode, n_samples, shared_sigma=None):
        if mode == "function":
            return super().forward(x, mode="sample", n_samples=n_samples, shared_sigma=shared_sigma)
        x = self._check_input(x, n_samples)
        if mode == "mean":
            return self._affine(x, self.weight_mu, self.bias_mu)
        self._new_kl_seed()
        mean = x @ self.weight_mu
        var = (x ** 2) @ (self.weight_rho.softplus() ** 2)
        if self.bias_mu is not None:
            mean = mean + self.bias_mu
            var = var + self.bias_rho.softplus() ** 2
        eps_shape = mean.shape if n_samples is None else (n_samples,) + mean.shape[1:]   # the sample axis explicit
        return mean + _sqrt(var) * self.rng.standard_normal(eps_shape)


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


def kl_divergence(model: Module, *, shared_sigma: dict | None = None) -> Tensor:
    """KL[q || p] of the whole model (step 5): the sum of `kl()` over its distinct BayesianModules.

    Found by the protocol (`mv.BayesianModule`), not by class, and each layer
    once however often the model uses it: a layer applied twice has one q, so one KL.
    shared_sigma: `elbo_loss`'s per-call dict (see SigmaOfRho), passed to every
    kl() that takes it, so sigma = softplus(rho) of the forward is not computed again.
    """
    if not isinstance(model, Module):
        raise TypeError(f"kl_divergence takes a minivi Module, got {type(model).__name__}")
    terms = []
    for module in model.modules():
        if isinstance(module, BayesianModule):
            term = module.kl(shared_sigma=shared_sigma) if takes_keyword(type(module).kl, "shared_sigma") else module.kl()
            if not isinstance(term, Tensor) or term.shape != ():
                raise TypeError(f"{type(module).__name__}.kl() must return a scalar Tensor (the KL summed over "
                                f"its weights), got {term!r:.60}")
            terms.append(term)
    if len(terms) < 2:
        return terms[0] if terms else Tensor(0.0)
    return _sum_of_scalars(terms)


def _sum_of_scalars(terms: list) -> Tensor:
    """t_1 + t_2 + ... + t_n of scalar Tensors as ONE op (the same number as the chain of n - 1 `+`).

    d(sum)/dt_k = 1, so every term's VJP passes the output's gradient on unchanged.
    """
    total = terms[0].data
    for term in terms[1:]:
        total = total + term.data
    return make_op("add", total, tuple(terms), (_unchanged,) * len(terms))


def _unchanged(grad):
    return grad


def signal_to_noise(model: Module) -> np.ndarray:
    """|mu| / sigma of every weight and bias of every Bayesian layer (Blundell et al. 2015, §5.1).

    A low ratio means the posterior is wide compared with the weight's size:
    such weights can be pruned with little loss. Counts the BayesianModules
    with mean-field (mu, rho) pairs (`variational_parameters()`), each once.
    """
    ratios = [np.abs(mu.data) / g.softplus(rho.data)
              for module in model.modules()
              if isinstance(module, BayesianModule) and hasattr(module, "variational_parameters")
              for mu, rho in module.variational_parameters()]
    if not ratios:
        raise ValueError("the model has no Bayesian layers with mean-field (mu, rho) pairs (e.g. BayesLinear), "
                         "so there is no sigma to compare with")
    return np.concatenate([r.ravel() for r in ratios])
