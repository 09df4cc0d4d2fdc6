"""A full-covariance Gaussian q on a network's flat weight vector, and its ELBO training loop.

Mean-field q (steps 4-7, `minivi/bayes.py`) gives every weight its own
N(mu_i, sigma_i²), independent of the others: it cannot represent weights that
trade off against each other. Here q is one Gaussian over the whole vector
w in R^D, with a full covariance Sigma = L Lᵀ:

    q(w) = N(mu, L Lᵀ),   L lower-triangular with a positive diagonal.

D + D(D+1)/2 numbers instead of 2D. The steps of the derivation carry over:

    step 4   L_ii = softplus(rho_ii) > 0 on the diagonal; below it L_ij = l_ij freely;
             the optimiser moves one unconstrained matrix `l_raw` (its upper triangle is unused).
    step 7   w = mu + L eps, eps ~ N(0, I_D).  The chain rule, entry by entry
             (w_i = mu_i + Σ_{j<=i} L_ij eps_j, so dw_i/dL_ij = eps_j):
                 dF/dmu = dF/dw
                 dF/dL  = tril(dF/dw epsᵀ)           (an outer product, lower triangle only)
                 dF/drho_ii = dF/dL_ii · sigmoid(rho_ii)
             summed over the samples when several are drawn at once.
    step 5   KL[N(mu, L Lᵀ) || N(0, s² I)] in closed form,
                 KL = 1/2 [ (‖L‖²_F + ‖mu‖²)/s² − D + 2 D log s − 2 Σ_i log L_ii ],
             using tr(L Lᵀ) = ‖L‖²_F and log det(L Lᵀ) = 2 Σ_i log L_ii.  Its gradient:
                 dKL/dmu = mu / s²,    dKL/dL = L / s² − diag(1 / L_ii).
             The log-determinant term is q's entropy: without it L would shrink to 0.

As in `bayes.py`, the sample and the KL are each ONE engine op whose backward
is the formula above (`sample_full_cov`, `kl_full_cov_op`), checked three ways
in tests/test_fullcov.py. `fit_full_cov` is the training loop of step 8 for this q,
parallel to `mv.fit`: it takes the log-likelihood as a function of the flat
weight vector (e.g. `mv.flat.log_likelihood(model, x, y, noise_sigma=...)`), not a model.

Reference: Titsias & Lázaro-Gredilla (2014), "Doubly Stochastic Variational
Bayes for non-Conjugate Inference" (the Cholesky-factor reparameterisation).
"""
from __future__ import annotations

import sys

import numpy as np

from . import gaussian as g
from .nn import check_count, check_generator, check_positive
from .optim import Adam
from .tensor import Tensor, make_op
from .train import History, gradient_problem

# ---------------------------------------------------------------- input checks


def _as_finite(x, name: str) -> np.ndarray:
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}; pass a float array "
                        "(for a minivi Tensor pass its .data)")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; pass finite values (a NaN here usually means "
                         "training diverged: lower the learning rate)")
    return array


def _check_mu_and_scale(mu, L):
    """mu of shape (D,), L of shape (D, D), lower-triangular with a positive diagonal."""
    mu = _as_finite(mu, "mu")
    L = _as_finite(L, "L")
    if mu.ndim != 1 or L.shape != (mu.size, mu.size):
        raise ValueError(f"mu has shape {mu.shape} and L has shape {L.shape}; a Gaussian over D weights needs "
                         f"mu of shape (D,) and a square L of shape (D, D), here ({mu.size}, {mu.size})")
    if np.any(np.triu(L, 1) != 0):
        raise ValueError("L has non-zero entries above its diagonal; the Cholesky factor is lower-triangular "
                         "(use np.tril(L))")
    if np.any(np.diag(L) <= 0):
        raise ValueError(f"L's diagonal must be > 0, got minimum {np.diag(L).min()}; it holds the "
                         "conditional standard deviations (parameterise it as softplus(rho))")
    return mu, L


def _check_eps(eps, dim: int) -> np.ndarray:
    eps = _as_finite(eps, "eps")
    if eps.ndim not in (1, 2) or eps.shape[-1] != dim:
        raise ValueError(f"eps has shape {eps.shape} but q is over D = {dim} weights; draw eps with shape "
                         f"({dim},) for one sample or (S, {dim}) for S samples")
    return eps


# ---------------------------------------------------------------- the formulas on arrays (steps 4, 5, 7)


def scale_tril(l_raw, *, validate=True) -> np.ndarray:
    """L = tril(l_raw, −1) + diag(softplus(diag(l_raw)))   (step 4 for a full covariance).

    Below the diagonal the entries are free; on it softplus keeps L_ii > 0,
    so L L^T is positive definite whatever the optimiser does. The upper
    triangle of l_raw is ignored.
    """
    if validate:
        l_raw = _as_finite(l_raw, "l_raw")
        if l_raw.ndim != 2 or l_raw.shape[0] != l_raw.shape[1]:
            raise ValueError(f"l_raw must be a square matrix (D, D), got shape {l_raw.shape}")
    L = np.tril(l_raw, -1)
    np.fill_diagonal(L, g.softplus(np.diag(l_raw), validate=False))
    return L


def reparameterize_full(mu, L, eps, *, validate=True) -> np.ndarray:
    """w = mu + L eps   (step 7); eps of shape (D,), or (S, D) for S samples (then w is (S, D)).

    Cov(w) = L E[eps epsᵀ] Lᵀ = L Lᵀ, since E[eps epsᵀ] = I.
    """
    if validate:
        mu, L = _check_mu_and_scale(mu, L)
        eps = _check_eps(eps, mu.size)
    return mu + eps @ L.T


def reparameterize_full_grads(grad_w, eps, *, validate=True):
    """(dF/dmu, dF/dL) for w = mu + L eps   (step 7), summed over a leading sample axis.

    w_i = mu_i + Σ_j L_ij eps_j, so dw_i/dmu_i = 1 and dw_i/dL_ij = eps_j:
        dF/dmu  = Σ_s dF/dw_s
        dF/dL   = tril(Σ_s dF/dw_s eps_sᵀ)       (entry ij: dF/dw_i · eps_j, kept for j <= i)
    Entries above the diagonal are not parameters of L: their gradient is 0.
    """
    if validate:
        grad_w = _as_finite(grad_w, "grad_w")
        eps = _as_finite(eps, "eps")
        if grad_w.shape != eps.shape or grad_w.ndim not in (1, 2):
            raise ValueError(f"grad_w has shape {grad_w.shape} but eps has shape {eps.shape}; grad_w is dF/dw "
                             "for w = mu + L eps, one entry per sampled weight: (D,) or (S, D)")
    grad_w2, eps2 = np.atleast_2d(grad_w), np.atleast_2d(eps)
    return grad_w2.sum(axis=0), np.tril(grad_w2.T @ eps2)


def scale_grad_to_raw(grad_L, l_raw, *, validate=True) -> np.ndarray:
    """dF/dl_raw from dF/dL for L = scale_tril(l_raw)   (the step-4 link).

    Below the diagonal L_ij = l_raw_ij (factor 1); on it L_ii = softplus(l_raw_ii),
    whose derivative is sigmoid(l_raw_ii); above it l_raw is unused (0).
    """
    if validate:
        grad_L = _as_finite(grad_L, "grad_L")
        l_raw = _as_finite(l_raw, "l_raw")
        if grad_L.shape != l_raw.shape or grad_L.ndim != 2:
            raise ValueError(f"grad_L has shape {grad_L.shape} but l_raw has shape {l_raw.shape}; both are (D, D)")
    grad_raw = np.tril(grad_L, -1)
    np.fill_diagonal(grad_raw, np.diag(grad_L) * g.softplus_grad(np.diag(l_raw), validate=False))
    return grad_raw


def kl_full_cov(mu, L, prior_sigma=1.0, *, validate=True) -> float:
    """KL[N(mu, L Lᵀ) || N(0, s² I)] in closed form   (step 5 for a full covariance).

        KL = 1/2 [ tr(L Lᵀ)/s² + ‖mu‖²/s² − D + D log s² − log det(L Lᵀ) ]
           = 1/2 [ (‖L‖²_F + ‖mu‖²)/s² − D ] + D log s − Σ_i log L_ii
    With a diagonal L = diag(sigma) it is the mean-field KL of step 5, summed.
    Returns a Python float.
    """
    if validate:
        mu, L = _check_mu_and_scale(mu, L)
        prior_sigma = check_positive(prior_sigma, "prior_sigma", who="kl_full_cov", squared=True)
    s2 = prior_sigma ** 2
    d = mu.size
    return float(0.5 * ((np.sum(L ** 2) + np.sum(mu ** 2)) / s2 - d) + d * np.log(prior_sigma)
                 - np.sum(np.log(np.diag(L))))


def kl_full_cov_grads(mu, L, prior_sigma=1.0, *, validate=True):
    """(dKL/dmu, dKL/dL) of `kl_full_cov`   (step 5).

        dKL/dmu = mu / s²
        dKL/dL  = L / s² − diag(1 / L_ii)
    The first part is d/dL of ‖L‖²_F/(2s²); the second comes from the
    log-determinant −Σ log L_ii and sits on the diagonal only. Both are
    lower-triangular, like L: the KL's minimum (zero gradient) is at mu = 0, L = s I.
    """
    if validate:
        mu, L = _check_mu_and_scale(mu, L)
        prior_sigma = check_positive(prior_sigma, "prior_sigma", who="kl_full_cov_grads", squared=True)
    s2 = prior_sigma ** 2
    return mu / s2, L / s2 - np.diag(1.0 / np.diag(L))


# ---------------------------------------------------------------- the two engine ops


def sample_full_cov(mu: Tensor, l_raw: Tensor, eps: np.ndarray) -> Tensor:
    """w = mu + L eps with L = scale_tril(l_raw), as one engine op with the explicit backward (step 7).

    eps: (D,) for one sample, (S, D) for S samples (w then has shape (S, D)).
    VJPs: dF/dmu = Σ_s dF/dw_s; dF/dl_raw = scale_grad_to_raw(tril(Σ_s dF/dw_s eps_sᵀ)).
    """
    eps = _check_eps(eps, mu.size)
    if mu.ndim != 1 or l_raw.shape != (mu.size, mu.size):
        raise ValueError(f"mu has shape {mu.shape} and l_raw has shape {l_raw.shape}; they must be (D,) and (D, D)")
    L = scale_tril(l_raw.data, validate=False)
    w = reparameterize_full(mu.data, L, eps, validate=False)

    def vjp_mu(grad_w):
        return reparameterize_full_grads(grad_w, eps, validate=False)[0]

    def vjp_l_raw(grad_w):
        grad_L = reparameterize_full_grads(grad_w, eps, validate=False)[1]
        return scale_grad_to_raw(grad_L, l_raw.data, validate=False)

    return make_op("sample_full_cov", w, (mu, l_raw), (vjp_mu, vjp_l_raw))


def kl_full_cov_op(mu: Tensor, l_raw: Tensor, prior_sigma: float = 1.0) -> Tensor:
    """KL[N(mu, L Lᵀ) || N(0, s² I)] as one engine op: value and gradient in closed form (step 5).

    `kl_full_cov` splits into the mean-field KL of the diagonal (step 5, with sigma_i = L_ii)
    and the rest of ‖L‖²_F / (2s²), the entries below the diagonal:
        KL = Σ_i KL[N(mu_i, L_ii²) || N(0, s²)] + Σ_{i>j} L_ij² / (2s²)
        dKL/dmu      = mu / s²
        dKL/drho_ii  = (L_ii / s² − 1 / L_ii) sigmoid(rho_ii)      (rho_ii = l_raw_ii, L_ii = softplus(rho_ii))
        dKL/dl_raw_ij = L_ij / s²   (i > j; 0 above the diagonal)
    The diagonal goes through step 5's own functions, `gaussian.kl_normal` with
    log L_ii = `gaussian.log_softplus(rho_ii)` and `gaussian.kl_normal_grad_rho`, so the KL and
    its gradient are finite and right for every finite l_raw, also where L_ii has underflowed
    (rho_ii below about −708): log L_ii -> rho_ii and dKL/drho_ii -> −1, as for a mean-field
    layer. A step size that drives L_ii that low shows as a KL of hundreds of nats per such
    weight, and the gradient −1 pushes rho_ii back up.
    """
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="kl_full_cov_op", squared=True)
    rho = np.diag(l_raw.data)
    sigma = g.softplus(rho, validate=False)
    below = np.tril(l_raw.data, -1)
    s2 = prior_sigma ** 2
    value = (g.kl_normal(mu.data, sigma, 0.0, prior_sigma, validate=False,
                         log_sigma=g.log_softplus(rho, sigma, validate=False))
             + np.vdot(below, below) / (2 * s2))
    grad_mu = g.kl_normal_grad_mu(mu.data, 0.0, prior_sigma, validate=False)
    grad_raw = below / s2
    np.fill_diagonal(grad_raw, g.kl_normal_grad_rho(sigma, g.softplus_grad_from_sigma(sigma), prior_sigma,
                                                     validate=False))
    return make_op("kl_full_cov", np.asarray(value), (mu, l_raw),
                   (lambda grad: grad * grad_mu, lambda grad: grad * grad_raw))


# ---------------------------------------------------------------- q and its training loop


class FullCovGaussian:
    """q(w) = N(mu, L Lᵀ) over a flat weight vector of D numbers, with prior N(0, prior_sigma² I).

    Parameters (Tensors, requires_grad): `mu` of shape (D,) and `l_raw` of
    shape (D, D), of which the strict lower triangle is L's and the diagonal
    goes through softplus (`scale_tril`). They start at mu = init_mu and
    L = diag(init_sigma): uncorrelated, like a fresh BayesLinear (see its note
    on why the initial sigma should be small but not tiny). init_sigma is one
    number, or one per weight (D,), e.g. a trained mean-field q's sigmas, so
    that the full-covariance q starts where the mean-field one ended.
    rng: the np.random.Generator every eps of this q is drawn from.
    """

    def __init__(self, init_mu, *, rng: np.random.Generator, prior_sigma: float = 1.0, init_sigma=0.05):
        self.rng = check_generator(rng, "FullCovGaussian")
        init_mu = _as_finite(init_mu, "init_mu")
        if init_mu.ndim != 1 or init_mu.size == 0:
            raise ValueError(f"init_mu must be a flat vector of shape (D,), got shape {init_mu.shape}; for a "
                             "network pass minivi.flat.parameters_to_vector(model)")
        self.prior_sigma = check_positive(prior_sigma, "prior_sigma", who="FullCovGaussian", squared=True)
        if np.ndim(init_sigma) == 0:
            init_sigma = check_positive(init_sigma, "init_sigma", who="FullCovGaussian",
                                        hint=f"or an array of {init_mu.size} positive numbers (one per weight)")
        init_sigma = _as_finite(init_sigma, "init_sigma")
        if init_sigma.shape not in ((), init_mu.shape) or np.any(init_sigma <= 0):
            raise ValueError(f"init_sigma must be a positive number or an array of {init_mu.size} positive numbers "
                             f"(one per weight), got shape {init_sigma.shape} and minimum {init_sigma.min()}")
        self.mu = Tensor(init_mu, requires_grad=True)
        self.l_raw = Tensor(np.diag(np.broadcast_to(g.inverse_softplus(init_sigma), init_mu.shape)),
                            requires_grad=True)

    @property
    def dim(self) -> int:
        return self.mu.size

    def parameters(self) -> list:
        return [self.mu, self.l_raw]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def scale_tril(self) -> np.ndarray:
        """L, the lower-triangular Cholesky factor of q's covariance."""
        return scale_tril(self.l_raw.data, validate=False)

    def covariance(self) -> np.ndarray:
        """Sigma = L Lᵀ."""
        L = self.scale_tril()
        return L @ L.T

    def sample(self, n_samples: int | None = None) -> Tensor:
        """w = mu + L eps with fresh eps from self.rng: a Tensor (D,), or (S, D) for n_samples=S."""
        if n_samples is not None:
            n_samples = check_count(n_samples, "n_samples", hint="or None for one draw of shape (D,)")
        shape = (self.dim,) if n_samples is None else (n_samples, self.dim)
        return sample_full_cov(self.mu, self.l_raw, self.rng.standard_normal(shape))

    def kl(self) -> Tensor:
        """KL[q || N(0, prior_sigma² I)], a scalar Tensor (closed form; draws nothing)."""
        return kl_full_cov_op(self.mu, self.l_raw, self.prior_sigma)

    def __repr__(self):
        return f"FullCovGaussian(D={self.dim}, prior_sigma={self.prior_sigma:g})"


def fit_full_cov(log_likelihood, q: FullCovGaussian, *, n_steps: int, lr: float = 1e-2, scale_lr: float | None = None,
                 n_samples: int = 1, average_last: float = 0.0, verbose: bool = False,
                 print_every: int | None = None) -> History:
    """Minimise the negative ELBO F(q) = KL[q || p(w)] − E_q[log p(𝒟|w)] with Adam (step 8).

    log_likelihood: a function Tensor w of shape (D,) -> scalar Tensor, log p(𝒟|w)
                    over the whole data set, WITHOUT the prior: the prior is q's, in the KL.
                    For a network: `mv.flat.log_likelihood(model, x, y, noise_sigma=...)`.
                    Not `mv.flat.log_joint`, which adds log p(w): the prior would be counted
                    twice (q would be pulled to the prior too hard); it is recognised by its
                    attribute `includes_prior = True` and refused. If the function carries
                    `vectorized = True` (the convention of mv.mcmc.hmc), it is called once
                    with all S samples, (S, D) -> (S,), instead of S times.
    Each step draws n_samples weight vectors w_s = mu + L eps_s (one op) and
    takes the loss  KL + (1/S) Σ_s −log p(𝒟|w_s); backward carries it into mu
    and l_raw through the explicit gradients above.
    lr, scale_lr:   Adam's learning rates for mu and for l_raw (scale_lr defaults to lr).
                    Adam moves every entry by about its learning rate whatever the size of
                    its gradient, and the D(D+1)/2 entries of L get noisy gradients
                    (dF/dw epsᵀ with random eps): in high dimension a smaller scale_lr
                    keeps that noise from inflating L.
    average_last:   a fraction in [0, 1): if > 0, q ends at the average of its
                    (mu, L) over that last fraction of the steps (Polyak-Ruppert
                    averaging), which removes most of the step-to-step noise of
                    a stochastic gradient with a constant learning rate.
    verbose:        print a line (step, loss, KL, NLL) every `print_every` steps, a whole number
                    >= 1 (default None: 10 lines in all; 0 is refused, verbose=False prints nothing).
    Returns a History with one entry per step (loss, KL, NLL = −(1/S) Σ log p(𝒟|w_s)).
    A non-finite loss or gradient stops training with a message (History.stopped).
    """
    if not isinstance(q, FullCovGaussian):
        raise TypeError(f"fit_full_cov trains a FullCovGaussian, got {type(q).__name__}")
    if not callable(log_likelihood):
        raise TypeError("log_likelihood must be a function of the flat weight Tensor w (D,) -> scalar Tensor")
    if getattr(log_likelihood, "includes_prior", False):
        raise ValueError("fit_full_cov got a log joint log p(data|w) + log p(w) (e.g. from mv.flat.log_joint), but "
                         "it needs the log-likelihood log p(data|w) alone: q's KL already holds the prior, which would "
                         "be counted twice. Pass mv.flat.log_likelihood(model, x, y, noise_sigma=...) instead")
    n_steps, n_samples = check_count(n_steps, "n_steps"), check_count(n_samples, "n_samples")
    if print_every is not None:   # None: the default; 0 is refused
        print_every = check_count(print_every, "print_every", hint="to print nothing pass verbose=False")
    average_last = check_positive(average_last, "average_last", who="fit_full_cov", closed=True, below=1.0,
                                  hint="the fraction of the last steps to average over")
    lr = check_positive(lr, "lr", who="fit_full_cov", hint="Adam's learning rate for mu")
    scale_lr = lr if scale_lr is None else check_positive(scale_lr, "scale_lr", who="fit_full_cov",
                                                          hint="Adam's learning rate for l_raw")
    optimizers = [Adam([q.mu], lr=lr), Adam([q.l_raw], lr=scale_lr)]
    history = History()
    n_average = int(round(average_last * n_steps))
    sums = [np.zeros(q.dim), np.zeros((q.dim, q.dim))]
    print_every = max(1, n_steps // 10) if print_every is None else print_every
    for step in range(int(n_steps)):
        q.zero_grad()
        w = q.sample(n_samples)
        nll = _mean_nll(log_likelihood, w, q.dim)
        kl = q.kl()
        loss = kl + nll
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss.backward()
        problem = _non_finite(loss, q)
        if problem:
            history.stopped = (f"fit_full_cov stopped at step {step + 1}: {problem}. Likely causes: a learning rate "
                               "too large (try 10x smaller) or a log-likelihood that overflows far from the data.")
            print(history.stopped, file=sys.stderr)
            return history
        for optimizer in optimizers:
            optimizer.step()
        history.loss.append(loss.item())
        history.kl.append(kl.item())
        history.nll.append(nll.item())
        if step >= n_steps - n_average:
            sums[0] += q.mu.data
            sums[1] += q.scale_tril()
        if verbose and ((step + 1) % print_every == 0 or step + 1 == n_steps):
            print(f"step {step + 1}/{n_steps}  loss {history.loss[-1]:.4f}  KL {history.kl[-1]:.4f}  "
                  f"NLL {history.nll[-1]:.4f}", flush=True)
    if n_average:
        _set_mu_and_scale(q, sums[0] / n_average, sums[1] / n_average)
    return history


def _mean_nll(log_likelihood, w: Tensor, dim: int) -> Tensor:
    """(1/S) Σ_s −log_likelihood(w_s) for draws w of shape (S, D), checking that each value is a scalar Tensor
    (or (S,) if vectorized)."""
    n_samples = w.shape[0]
    if getattr(log_likelihood, "vectorized", False):
        values = _checked_value(log_likelihood(w), (n_samples,), f"({n_samples}, {dim})")
        return values.sum() * (-1.0 / n_samples)
    total = None
    for s in range(n_samples):
        value = _checked_value(log_likelihood(w[s]), (), f"({dim},)").reshape(())
        total = -value if total is None else total - value
    return total * (1.0 / n_samples)


def _checked_value(value, shape: tuple, w_shape: str) -> Tensor:
    if not isinstance(value, Tensor) or value.size != max(1, int(np.prod(shape))) or (shape and value.shape != shape):
        got = type(value).__name__ + (f" of shape {value.shape}" if isinstance(value, Tensor) else "")
        want = "a scalar Tensor" if not shape else f"a Tensor of shape {shape} (vectorized = True)"
        raise TypeError(f"log_likelihood must return {want} for w of shape {w_shape}, got {got}; sum the "
                        "log-likelihood over the data points and build it from w with Tensor ops")
    return value


def _non_finite(loss: Tensor, q: FullCovGaussian) -> str | None:
    """Why this step cannot be taken: a loss that is not finite, or a `gradient_problem` of mu or l_raw."""
    if not np.isfinite(loss.item()):
        return f"the loss is {loss.item()}"
    return gradient_problem(q.mu.grad, "q.mu") or gradient_problem(q.l_raw.grad, "q.l_raw")


def _set_mu_and_scale(q: FullCovGaussian, mu: np.ndarray, L: np.ndarray) -> None:
    """Write (mu, L) into q's parameters: l_raw = L below the diagonal, inverse_softplus(L_ii) on it."""
    l_raw = np.tril(L, -1)
    np.fill_diagonal(l_raw, g.inverse_softplus(np.diag(L)))
    q.mu.data = np.array(mu, dtype=np.float64)     # assigned, not written in place: the engine sees the change
    q.l_raw.data = l_raw
