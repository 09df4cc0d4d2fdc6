"""Layer 4, the objective: the negative ELBO with Monte Carlo samples and KL weighting (steps 3, 6, 8).

    F(θ) = KL[q(w|θ) || p(w)] - E_q[log p(𝒟|w)]                       (step 3)

With the data split into M minibatches D_1..D_M, Blundell et al. (2015, eq. 8-9)
give minibatch i the share

    F_i(θ) = π_i KL[q || p] - E_q[log p(𝒟_i | w)],     Σ_i π_i = 1,

so that Σ_i F_i = F over one epoch. The expectation is estimated with S
reparameterised samples w_s = mu + sigma * eps_s (steps 6-7):

    E_q[log p(𝒟_i | w)] ≈ (1/S) Σ_s log p(𝒟_i | w_s).
"""
from __future__ import annotations

import numpy as np

from .bayes import kl_divergence
from .likelihoods import gaussian_nll
from .nn import check_count, check_mode, check_positive
from .tensor import Tensor, as_tensor, make_op


def elbo_loss(model, x, y, nll, n_data: int, n_samples: int = 1, kl_weight: float | None = None,
              mode: str = "sample"):
    """One minibatch's share of the negative ELBO: kl_weight · KL + (1/S) Σ_s nll(f(x; w_s), y).

    model:     a Module (its Bayesian layers give the KL, see `kl_divergence`).
    x, y:      this minibatch's inputs and targets.
    nll:       callable (pred, target) -> scalar Tensor summed over the batch, e.g.
               functools.partial(mv.gaussian_nll, noise_sigma=0.1).
    n_data:    the size N of the whole training set.
    n_samples: S, the Monte Carlo samples, drawn in one vectorised forward
               (model(x, n_samples=S), outputs (S, N, ...)); S = 1 is model(x), one
               network, outputs (N, ...): the same numbers without the sample axis.
    kl_weight: π_i, one number >= 0; by default len(x) / n_data, which sums to 1 over any
               partition of the data into minibatches (see `kl_weights` for others).
    mode:      "sample" (the ELBO), or "mean" (every weight at mu: no sampling,
               a deterministic loss for checks).

    sigma = softplus(rho) is computed once per rho for the forward and the KL
    together (a fresh dict for this call, see `bayes.SigmaOfRho`).

    Returns (loss Tensor, info) with floats info["kl"] (the unweighted KL),
    info["nll"] (the data term), info["kl_weight"] and info["loss"].
    """
    check_mode(mode, None)
    _check_nll(nll)
    x, n_data = _check_sizes(x, y, n_data)   # x as a Tensor from here on (checked once, not copied again)
    batch = x.shape[0]
    n_samples = check_count(n_samples, "n_samples")
    if kl_weight is None:
        kl_weight = batch / n_data
    else:
        kl_weight = check_positive(kl_weight, "kl_weight", who="elbo_loss", closed=True,
                                   hint="this minibatch's share of the KL; for an epoch's weights pass one entry "
                                        "of kl_weights(M)")
    shared_sigma = {}   # sigma = softplus(rho) for this call only, shared by the forward and the KL (bayes.SigmaOfRho)
    if mode == "mean":   # no samples: the data term as it is
        nll_sum, n_samples = nll(model(x, mode="mean", shared_sigma=shared_sigma), y), 1
    elif n_samples == 1:   # one network drawn: model(x) needs no sample axis (the same numbers as n_samples=1)
        nll_sum = nll(model(x, mode=mode, shared_sigma=shared_sigma), y)
    else:
        nll_sum = nll(model(x, mode=mode, n_samples=n_samples, shared_sigma=shared_sigma), y)
    if not isinstance(nll_sum, Tensor) or nll_sum.size != 1:
        raise TypeError(f"nll must return a scalar Tensor (the negative log-likelihood summed over the batch), "
                        f"got {nll_sum!r:.60}; sum it, e.g. return per_example.sum()")
    kl = kl_divergence(model, shared_sigma=shared_sigma)
    loss = _negative_elbo(kl, nll_sum, kl_weight, n_samples)
    info = {"kl": kl.item(), "nll": float(nll_sum.data * (1.0 / n_samples)), "kl_weight": kl_weight,
            "loss": loss.item()}
    return loss, info


def _negative_elbo(kl: Tensor, nll_sum: Tensor, kl_weight: float, n_samples: int) -> Tensor:
    """F_i = π_i · KL + (1/S) · Σ_s nll(f(x; w_s), y) as one op (step 8), from the KL and the summed NLL.

    Its VJPs: dF_i/dKL = π_i and dF_i/d(Σ_s nll) = 1/S.
    """
    per_sample = 1.0 / n_samples
    return make_op("negative_elbo", kl.data * kl_weight + nll_sum.data * per_sample, (kl, nll_sum),
                   (lambda g: g * kl_weight, lambda g: g * per_sample))


def kl_weights(n_batches: int, schedule: str = "uniform") -> np.ndarray:
    """The weights π_1..π_M of the KL in the M minibatches of one epoch; they sum to 1.

    "uniform":  π_i = 1/M.
    "blundell": π_i = 2^(M-i) / (2^M - 1)  (Blundell et al. 2015, §3.4): the
                first minibatches lean on the prior, the last on the data.
                Computed as 2^(-i) / (1 - 2^(-M)) so large M cannot overflow.
    """
    n_batches = check_count(n_batches, "n_batches")
    i = np.arange(1, n_batches + 1)
    if schedule == "uniform":
        return np.full(n_batches, 1.0 / n_batches)
    if schedule == "blundell":
        return np.exp2(-i.astype(float)) / -np.expm1(-n_batches * np.log(2.0))
    raise ValueError(f"unknown KL schedule {schedule!r}; use 'uniform' or 'blundell' "
                     "(and warmup_factor for a linear warm-up)")


def warmup_factor(epoch: int, warmup_epochs: int) -> float:
    """Linear KL warm-up: β = min(1, (epoch + 1) / warmup_epochs), epoch counted from 0.

    Multiplying an epoch's KL weights by β < 1 lets the data shape q before the
    prior pulls on it. While β < 1 the objective is NOT the ELBO (the weights
    sum to β); from epoch warmup_epochs - 1 on they sum to 1 again.
    warmup_epochs = 0 means no warm-up (β = 1).
    """
    epoch, warmup_epochs = check_count(epoch, "epoch", 0), check_count(warmup_epochs, "warmup_epochs", 0)
    return 1.0 if warmup_epochs == 0 else min(1.0, (epoch + 1) / warmup_epochs)


def _check_sizes(x, y, n_data):
    """Same number of rows in x and y, at least one, and at most n_data; no NaN or inf. Returns (x as a Tensor, n_data)."""
    x, y = as_tensor(x), as_tensor(y)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"the minibatch is empty (inputs of shape {x.shape}); pass at least one example")
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(f"inputs of shape {x.shape} and targets of shape {y.shape} have different numbers "
                         "of examples (first axis); pass one target per input")
    n_data = check_count(n_data, "n_data", x.shape[0],
                         hint=f"n_data is the whole training set's size, at least the minibatch's {x.shape[0]}")
    for name, t in (("inputs x", x), ("targets y", y)):
        if not np.isfinite(t.data).all():
            row = np.argwhere(~np.isfinite(t.data))[0][0]
            raise ValueError(f"elbo_loss: the {name} contain NaN or inf (first at row {row}), which would make "
                             "the loss NaN; clean or drop those rows before training")
    return x, int(n_data)


def _check_nll(nll):
    """nll must be a function (pred, target) -> scalar Tensor; catch the bare gaussian_nll (no noise_sigma)."""
    if nll is gaussian_nll:
        raise TypeError("nll is called as nll(pred, target), but gaussian_nll also needs noise_sigma; pass "
                        "functools.partial(mv.gaussian_nll, noise_sigma=0.1) (your noise level), or "
                        "mv.LearnedNoise() to learn it")
    if not callable(nll):
        raise TypeError(f"nll must be a function (pred, target) -> scalar Tensor, got {type(nll).__name__}; "
                        "e.g. mv.categorical_nll or functools.partial(mv.gaussian_nll, noise_sigma=0.1)")
