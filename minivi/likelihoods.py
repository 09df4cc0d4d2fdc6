"""Layer 4, likelihoods: -log p(𝒟_batch | w), the data term of the loss (step 6).

Both functions sum over the batch and keep every constant, so the value is a
true negative log-likelihood (comparable with the KL and with exact answers).
`pred` may carry extra leading axes that `target` lacks, e.g. the Monte Carlo
sample axis (S, N, ...): the sum then runs over the samples too, and
`elbo_loss` divides by S.

Shapes, decided once for the whole library: a regression target has exactly
the shape of one network's output, (N, out) (or (N,) for an output without
its own axis); a (N,) target against (N, 1) predictions is refused with the
fix, never broadcast to (N, N). Class labels are always (N,) whole numbers.
"""
from __future__ import annotations

import numpy as np

from .nn import Module, Parameter, check_positive
from .gaussian import LOG_2PI, inverse_softplus
from .tensor import Tensor, as_tensor, make_op, unbroadcast


def gaussian_nll(pred, target, noise_sigma, *, validate: bool = True) -> Tensor:
    """-log p(y | f) = Σ_n [ (y_n - f_n)² / (2 noise_sigma²) + log(noise_sigma) + log(2π)/2 ]   (step 6).

    With a fixed noise_sigma this is the derivation's L2 loss,
    Σ (y - f)² / (2 noise_sigma²), plus a constant that no parameter changes.
    The noise scale sets the balance in F = KL - E_q[log p(𝒟|w)]: halving
    noise_sigma multiplies the data term by 4, so the data outweigh the prior
    more and q becomes narrower; a large noise_sigma lets the KL pull q back
    to the prior (wider, more uncertain predictions).

    One engine op, with its gradient written out (r = f - y, s = noise_sigma):
        d/df_n = r_n / s²                 (the L2 loss's gradient, scaled)
        d/dy_n = -r_n / s²                (summed over any sample axes of pred)
        d/ds   = Σ_n (1/s - r_n² / s³)   (only used when s is learned)

    target: the shape of pred without its leading sample axes (see the top of
    this file); a target Tensor with requires_grad=True gets its gradient.
    noise_sigma: a positive number, or a positive Tensor broadcastable to pred
    (learned noise). validate=False skips the check noise_sigma > 0 of a Tensor:
    `LearnedNoise` uses it, whose softplus(rho) is positive unless a diverging
    rho underflows it to 0; the loss is then not finite and `fit` stops with
    its message.
    """
    pred, target = as_tensor(pred), _checked_target(target)
    _check_trailing_shape(pred.shape, target.shape, "gaussian_nll")
    if isinstance(noise_sigma, Tensor):
        if validate and not (np.all(noise_sigma.data > 0) and np.all(np.isfinite(noise_sigma.data))):
            raise ValueError(f"gaussian_nll: noise_sigma must be > 0 and finite, got {noise_sigma.data}; parameterise a "
                             "learned noise as softplus(rho) (mv.LearnedNoise does)")
        if _broadcast_shape(noise_sigma.shape, pred.shape) != pred.shape:
            raise ValueError(f"gaussian_nll: noise_sigma of shape {noise_sigma.shape} must broadcast to the "
                             f"predictions' shape {pred.shape} (one scale, or one per output)")
    else:
        noise_sigma = as_tensor(check_positive(noise_sigma, "noise_sigma", who="gaussian_nll", squared=True,
                                               hint="e.g. noise_sigma=0.1, or a Tensor for one scale per output"))
    s, r = noise_sigma.data, pred.data - target.data
    return make_op("gaussian_nll", _gaussian_nll_value(r, s), (pred, target, noise_sigma),
                   (lambda g: _divided(g * r, s * s),
                    lambda g: unbroadcast(-g * r / (s * s), target.shape),
                    lambda g: unbroadcast(g * (1.0 / s - r * r / s ** 3), s.shape)))


def _gaussian_nll_value(r: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Σ_n [ r_n² / (2 s²) + log s + log(2π)/2 ]; with one s for every entry, Σ r² is one dot product."""
    if s.ndim == 0:
        return np.vdot(r, r) / (2.0 * s * s) + r.size * (np.log(s) + 0.5 * LOG_2PI)
    return (r * r / (2.0 * s * s) + np.log(s) + 0.5 * LOG_2PI).sum()


def _divided(t: np.ndarray, d: np.ndarray) -> np.ndarray:
    """t / d written into t (a fresh array): the same numbers without one more batch-sized copy."""
    t /= d
    return t


def categorical_nll(logits, labels) -> Tensor:
    """-log p(labels | logits) = -Σ_n log softmax(logits_n)[label_n], summed over the batch.

    log softmax is computed stably (log-sum-exp), so logits of any size are fine.
    The target column is picked by indexing (not a one-hot product), so a logit
    of -inf in another column (a masked class) gives no NaN.
    logits: (..., N, C); labels: (N,) whole numbers in [0, C) (ints, or floats like 2.0).
    """
    logits = as_tensor(logits)
    if logits.ndim < 2:
        raise ValueError(f"categorical_nll: logits must be (N, C) or (S, N, C), got shape {logits.shape}")
    labels = checked_labels(labels, logits.shape, "categorical_nll")
    picked = logits.log_softmax(axis=-1)[..., np.arange(len(labels)), labels]   # (..., N)
    return -picked.sum()


class LearnedNoise(Module):
    """A Gaussian likelihood whose noise_sigma = softplus(rho) is learned with the model.

    Use it as the `nll` of `elbo_loss`/`fit` (it is called as nll(pred, target));
    `fit` adds its rho to the parameters it optimises. Its value is a point
    estimate (no prior, no KL): the data decide the noise level.
    """

    def __init__(self, init_sigma: float = 0.1):
        init_sigma = check_positive(init_sigma, "init_sigma", who="LearnedNoise", squared=True, hint="e.g. init_sigma=0.1")
        self.rho = Parameter(inverse_softplus(np.array(init_sigma)))

    @property
    def noise_sigma(self) -> float:
        return float(np.logaddexp(0.0, self.rho.data))

    def __call__(self, pred, target):
        return gaussian_nll(pred, target, self.rho.softplus(), validate=False)

    def __repr__(self):
        return f"LearnedNoise(noise_sigma={self.noise_sigma:.4g})"


def checked_labels(labels, logits_shape: tuple, who: str) -> np.ndarray:
    """Class labels as an int array of shape (N,), for logits of shape (..., N, C).

    Whole-number floats (2.0) are accepted; a column (N, 1), one-hot rows,
    fractions, NaN and labels outside 0..C-1 are refused with the fix.
    """
    n, n_classes = logits_shape[-2:]
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise TypeError(f"{who}: class labels must be integers 0..C-1, got dtype {labels.dtype}; "
                            "convert with labels.astype(int) after checking they are whole numbers")
    if labels.shape != (n,):
        hint = {(n, 1): "; a column? pass labels.ravel()",
                (n, n_classes): "; one-hot labels? pass labels.argmax(axis=1)"}.get(labels.shape, "")
        raise ValueError(f"{who}: logits of shape {tuple(logits_shape)} need labels of shape (N,) = ({n},), "
                         f"got labels of shape {labels.shape}{hint}")
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{who}: class labels must lie in 0..{n_classes - 1} (the model has {n_classes} "
                         f"outputs), got labels from {labels.min()} to {labels.max()}")
    return labels


def _checked_target(target) -> Tensor:
    target = as_tensor(target)
    if not np.isfinite(target.data).all():
        raise ValueError("the targets contain NaN or inf; clean or drop those rows before training")
    return target


def _check_trailing_shape(pred_shape, target_shape, who):
    """pred may have extra leading (sample) axes; the rest must equal the target's shape exactly."""
    k = len(target_shape)
    if len(pred_shape) < k or pred_shape[len(pred_shape) - k:] != target_shape:
        hint = (" (a (N,) target against (N, 1) predictions: reshape the target to (N, 1))"
                if pred_shape[-1:] == (1,) else "")
        raise ValueError(f"{who}: predictions of shape {pred_shape} do not match targets of shape "
                         f"{target_shape}{hint}")


def _broadcast_shape(a: tuple, b: tuple):
    """NumPy's broadcast of two shapes, or None if they do not broadcast."""
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        return None
