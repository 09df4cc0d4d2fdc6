"""Layer 5, using the posterior: the predictive distribution by Monte Carlo (step 2).

The posterior predictive p(y | x, D) = ∫ p(y | x, w) q(w) dw is estimated by
drawing weights from q:  p(y | x, D) ≈ (1/S) Σ_s p(y | x, w_s).

Uncertainty splits in two (e.g. Depeweg et al. 2018; Kendall & Gal 2017):
  - epistemic: disagreement between the sampled networks; shrinks with more data;
  - aleatoric: the noise in the data itself (noise_sigma, or the entropy of one
    network's class probabilities); does not shrink with more data.

Shapes: samples are (S, N, ...) with the sample axis first, as `predict`
returns them (S = 1 for a single network). A regression target y has the
shape of one sample, samples.shape[1:]: a (N,) y against (S, N, 1) samples is
refused with the fix (it would broadcast to (S, N, N)). Class probabilities
are (N, C), sampled logits (S, N, C), class labels (N,) whole numbers.
"""
from __future__ import annotations

import numpy as np

from .nn import check_count, check_mode, check_positive
from .likelihoods import checked_labels
from .tensor import Tensor, as_float_array, as_tensor, no_grad


def predict(model, x, n_samples: int = 100, mode: str = "sample") -> np.ndarray:
    """Outputs of `n_samples` sampled networks, an array (n_samples, N, out); no graph kept.

    Every draw is a whole function: each Bayesian layer draws its weights
    (mode="function"), so row n of sample s and row m of sample s come from the
    same network, whatever estimator trained the model (LocalBayesLinear's
    per-row sampling included). A model without random layers gives n_samples
    equal rows. mode="mean" gives the single network at the posterior means,
    shape (1, N, out). Any other mode is refused.
    """
    if mode not in ("sample", "mean"):
        raise ValueError(f"predict: mode must be 'sample' (draws from q) or 'mean' (the network at mu), got {mode!r}")
    check_mode("function", n_samples)
    x = as_tensor(x)
    if not np.all(np.isfinite(x.data)):
        raise ValueError("predict: the inputs x contain NaN or inf, which would give NaN predictions; "
                         "clean or drop those rows first")
    with no_grad():
        if mode == "mean":
            return model(x, mode="mean").data[None]
        return model(x, mode="function", n_samples=n_samples).data


def regression_uncertainty(samples: np.ndarray, noise_sigma: float) -> dict:
    """Predictive mean and standard deviations from samples f_s(x) of shape (S, N, ...).

        mean      = (1/S) Σ_s f_s
        epistemic = std over s of f_s            (the networks disagree)
        aleatoric = noise_sigma                  (the data's own noise)
        total     = sqrt(epistemic² + aleatoric²) (variance of y: the law of total variance)

    Every entry has the shape of one sample, samples.shape[1:]. With S = 1 (a
    point estimate) the epistemic std is 0 by construction. Samples must be finite (an inf
    has no mean or spread).
    """
    samples = _checked_samples(samples, 2, "(S, N, ...)", "regression_uncertainty")
    epistemic = samples.std(axis=0)
    aleatoric = np.full_like(epistemic, check_positive(noise_sigma, "noise_sigma", who="regression_uncertainty",
                                                           squared=True))
    return {"mean": samples.mean(axis=0), "epistemic": epistemic, "aleatoric": aleatoric,
            "total": np.sqrt(epistemic ** 2 + aleatoric ** 2)}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities exp(z_c - logsumexp(z)) along the last axis, computed stably."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def entropy(probs: np.ndarray) -> np.ndarray:
    """H[p] = -Σ_c p_c log p_c along the last axis (0 log 0 = 0), in nats."""
    return -np.sum(np.where(probs > 0, probs * np.log(np.where(probs > 0, probs, 1.0)), 0.0), axis=-1)


def classification_uncertainty(logit_samples: np.ndarray) -> dict:
    """From sampled logits (S, N, C): mean probabilities and the uncertainty split.

        probs              = (1/S) Σ_s softmax(z_s)
        predictive_entropy = H[probs]                  (total uncertainty)
        expected_entropy   = (1/S) Σ_s H[softmax(z_s)] (aleatoric: each network's own doubt)
        mutual_information = predictive_entropy - expected_entropy  (epistemic: disagreement, >= 0)

    A logit of -inf masks its class; a row with every class masked is refused (its softmax is 0/0).
    """
    per_sample = softmax(_checked_logits(logit_samples, "classification_uncertainty"))
    probs = per_sample.mean(axis=0)
    predictive = entropy(probs)
    expected = entropy(per_sample).mean(axis=0)
    return {"probs": probs, "predictive_entropy": predictive, "expected_entropy": expected,
            "mutual_information": np.maximum(predictive - expected, 0.0)}


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float:
    """ECE = Σ_b (n_b / N) |accuracy_b - confidence_b| over equal-width confidence bins.

    confidence = the largest predicted probability; a calibrated model is right
    80% of the time when it says 0.8 (Guo et al. 2017). A row's bin is
    b = floor(confidence · n_bins), the interval [b/n_bins, (b+1)/n_bins), with a
    confidence of exactly 1.0 in the last bin; empty bins add nothing.
    probs: (N, C), N >= 1, rows summing to 1 within 1e-6 (float32 softmax rows pass: measured
    within 4e-7 for 2 to 1000 classes); labels: (N,) whole numbers.
    """
    probs, labels, bins = _calibration_bins(probs, labels, n_bins, "expected_calibration_error")
    confidence, predicted = probs.max(axis=-1), probs.argmax(axis=-1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs((predicted[in_bin] == labels[in_bin]).mean() - confidence[in_bin].mean())
    return float(ece)


def reliability_curve(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> tuple:
    """Per confidence bin: (bin centres, mean confidence, accuracy, counts); empty bins give NaN.

    The bins and the shapes are those of `expected_calibration_error`.
    """
    probs, labels, bins = _calibration_bins(probs, labels, n_bins, "reliability_curve")
    confidence, correct = probs.max(axis=-1), probs.argmax(axis=-1) == labels
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, confidence, n_bins) / counts
        accuracy = np.bincount(bins, correct.astype(float), n_bins) / counts
    return (np.arange(n_bins) + 0.5) / n_bins, mean_conf, accuracy, counts


def gaussian_log_likelihood(samples: np.ndarray, y: np.ndarray, noise_sigma: float) -> float:
    """Mean test log-likelihood (1/N) Σ_n log (1/S) Σ_s N(y_n; f_s(x_n), noise_sigma²), via log-sum-exp.

    samples: (S, N, ...), finite, N >= 1; y: one sample's shape, samples.shape[1:] (a point's
    outputs count together: their log densities are summed).
    """
    samples = _checked_samples(samples, 2, "(S, N, ...)", "gaussian_log_likelihood")
    _check_some_points(samples.shape[1], "gaussian_log_likelihood")
    y = _checked_target(y, samples.shape, "gaussian_log_likelihood")
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="gaussian_log_likelihood", squared=True)
    log_p = -0.5 * np.log(2 * np.pi * noise_sigma ** 2) - (y - samples) ** 2 / (2 * noise_sigma ** 2)
    log_p = log_p.reshape(log_p.shape[0], log_p.shape[1], -1).sum(axis=-1)  # a point's outputs together
    return float(np.mean(_logmeanexp(log_p, axis=0)))


def categorical_log_likelihood(logit_samples: np.ndarray, labels: np.ndarray) -> float:
    """Mean test log-likelihood (1/N) Σ_n log (1/S) Σ_s softmax(z_s(x_n))[y_n], via log-sum-exp.

    logit_samples: (S, N, C), N >= 1; labels: (N,) whole numbers in 0..C-1. A label whose
    logit is -inf in every sample gives -inf (the model calls the observed class impossible).
    """
    z = _checked_logits(logit_samples, "categorical_log_likelihood")
    _check_some_points(z.shape[1], "categorical_log_likelihood")
    labels = checked_labels(labels, z.shape, "categorical_log_likelihood")
    log_probs = z - (np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) + z.max(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, labels[None, :, None], axis=-1)[..., 0]
    return float(np.mean(_logmeanexp(picked, axis=0)))


def _logmeanexp(a: np.ndarray, axis: int) -> np.ndarray:
    """log mean exp along axis; -inf where every value is -inf (the mean of zeros)."""
    m = a.max(axis=axis, keepdims=True)
    m = np.where(m == -np.inf, 0.0, m)
    with np.errstate(divide="ignore"):
        return (m + np.log(np.mean(np.exp(a - m), axis=axis, keepdims=True))).squeeze(axis)


def _checked_samples(samples, min_ndim: int, layout: str, who: str, finite: bool = True) -> np.ndarray:
    """Real samples with the sample axis first and at least `min_ndim` axes; finite, or (finite=False) not NaN."""
    samples = as_float_array(samples.data if isinstance(samples, Tensor) else samples, f"{who}: samples")
    if samples.ndim < min_ndim or samples.shape[0] == 0:
        raise ValueError(f"{who}: expected samples of shape {layout} with the sample axis first, got shape "
                         f"{samples.shape}; mv.predict(model, x, n_samples=S) returns that layout "
                         "(one network's outputs: add the sample axis with out[None])")
    if np.any(np.isnan(samples)):
        raise ValueError(f"{who}: the samples contain NaN (a diverged model?); check the predictions first")
    if finite and not np.all(np.isfinite(samples)):
        raise ValueError(f"{who}: the samples contain inf (a diverged model?); a regression output must be finite")
    return samples


def _check_some_points(n: int, who: str) -> None:
    """A mean over data points needs at least one point."""
    if n == 0:
        raise ValueError(f"{who}: there are no data points (N = 0), so there is no mean over them; pass N >= 1")


def _checked_logits(logit_samples, who: str) -> np.ndarray:
    """Sampled logits (S, N, C), C >= 1; -inf (a masked class) is fine, NaN, +inf and a row all -inf are not."""
    z = _checked_samples(logit_samples, 3, "(S, N, C)", who, finite=False)
    if z.ndim != 3 or z.shape[2] == 0:
        raise ValueError(f"{who}: expected logits of shape (S, N, C) with C >= 1 classes, got shape {z.shape}")
    if np.any(z == np.inf):
        raise ValueError(f"{who}: the logits contain +inf, whose softmax is undefined; check the model's outputs")
    if np.any(np.all(z == -np.inf, axis=-1)):
        s, n = np.argwhere(np.all(z == -np.inf, axis=-1))[0]
        raise ValueError(f"{who}: sample {s}, row {n} has every logit -inf (every class masked), whose softmax "
                         "is 0/0; check the model's outputs")
    return z


def _checked_target(y, samples_shape: tuple, who: str) -> np.ndarray:
    """y must have one sample's shape exactly; a (N,) against (S, N, 1) would broadcast to (S, N, N)."""
    y = as_float_array(y.data if isinstance(y, Tensor) else y, f"{who}: y")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{who}: the targets y must be finite real numbers")
    one_sample, n = samples_shape[1:], samples_shape[1]
    if y.shape != one_sample:
        hint = {((n,), (n, 1)): "; pass y.reshape(-1, 1)", ((n, 1), (n,)): "; pass y.ravel()"}
        raise ValueError(f"{who}: samples of shape {samples_shape} need targets of one sample's shape "
                         f"{one_sample}, got y of shape {y.shape}{hint.get((y.shape, one_sample), '')}")
    return y.astype(float)


def _calibration_bins(probs, labels, n_bins, who: str) -> tuple:
    """Checked (probs (N, C), labels (N,), bin of each row's confidence in 0..n_bins-1)."""
    n_bins = check_count(n_bins, "n_bins", who=who)
    probs = np.asarray(probs)
    if probs.dtype.kind not in "biuf" or probs.ndim != 2:
        raise ValueError(f"{who}: probs must be real numbers of shape (N, C), got shape {probs.shape} and "
                         f"dtype {probs.dtype}; for sampled logits (S, N, C) pass "
                         "classification_uncertainty(logits)['probs']")
    probs = probs.astype(float)
    _check_some_points(len(probs), who)
    problem = _probability_problem(probs)
    if problem:
        raise ValueError(f"{who}: each row of probs must be probabilities in [0, 1] summing to 1 (within 1e-6), "
                         f"but {problem}; logits? pass classification_uncertainty(logits)['probs']")
    labels = checked_labels(labels, probs.shape, who)
    bins = np.minimum((probs.max(axis=-1) * n_bins).astype(int), n_bins - 1)
    return probs, labels, bins


def _probability_problem(probs: np.ndarray) -> str | None:
    """What is wrong with rows of probabilities (N, C), naming the first bad row, or None."""
    outside = np.argwhere((probs < 0) | (probs > 1) | np.isnan(probs))
    if len(outside):
        row, column = outside[0]
        return f"row {row} holds {probs[row, column]:.8g}, outside [0, 1]"
    off = np.abs(probs.sum(axis=-1) - 1.0)
    if np.any(off > 1e-6):
        row = int(np.argmax(off))
        return f"row {row} sums to {probs[row].sum():.8g}"
    return None

