"""Layer 5, using the posterior: the predictive distribution by Monte Carlo (step 2).

The posterior predictive p(y | x, D) = ∫ p(y | x, w) q(w) dw is estimated by
drawing weights from q:  p(y | x, D) ≈ (1/S) Σ_s p(y | x, w_s).

Uncertainty splits in two (e.g. Depeweg et al. 2018; Kendall & Gal 2017):
  - epistemic: disagreement between the sampled networks; shrinks with more data;
  - aleatoric: the noise in the data itself (noise_sigma, or the entropy of one
    network's class probabilities); does not shrink with more data.
"""
from __future__ import annotations

import numpy as np

from .nn import check_mode
from .tensor import as_tensor, no_grad


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
    """
    samples = np.asarray(samples, dtype=float)
    epistemic = samples.std(axis=0)
    aleatoric = np.full_like(epistemic, float(noise_sigma))
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
    """
    per_sample = softmax(np.asarray(logit_samples, dtype=float))
    probs = per_sample.mean(axis=0)
    predictive = entropy(probs)
    expected = entropy(per_sample).mean(axis=0)
    return {"probs": probs, "predictive_entropy": predictive, "expected_entropy": expected,
            "mutual_information": np.maximum(predictive - expected, 0.0)}


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float:
    """ECE = Σ_b (n_b / N) |accuracy_b - confidence_b| over equal-width confidence bins.

    confidence = the largest predicted probability; a calibrated model is right
    80% of the time when it says 0.8 (Guo et al. 2017).
    """
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    confidence, predicted = probs.max(axis=-1), probs.argmax(axis=-1)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs((predicted[in_bin] == labels[in_bin]).mean() - confidence[in_bin].mean())
    return float(ece)


def reliability_curve(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> tuple:
    """Per confidence bin: (bin centres, mean confidence, accuracy, counts); empty bins give NaN."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    confidence, correct = probs.max(axis=-1), probs.argmax(axis=-1) == labels
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, confidence, n_bins) / counts
        accuracy = np.bincount(bins, correct.astype(float), n_bins) / counts
    return (np.arange(n_bins) + 0.5) / n_bins, mean_conf, accuracy, counts


def gaussian_log_likelihood(samples: np.ndarray, y: np.ndarray, noise_sigma: float) -> float:
    """Mean test log-likelihood (1/N) Σ_n log (1/S) Σ_s N(y_n; f_s(x_n), noise_sigma²), via log-sum-exp."""
    samples, y = np.asarray(samples, dtype=float), np.asarray(y, dtype=float)
    log_p = -0.5 * np.log(2 * np.pi * noise_sigma ** 2) - (y - samples) ** 2 / (2 * noise_sigma ** 2)
    log_p = log_p.reshape(log_p.shape[0], log_p.shape[1], -1).sum(axis=-1)  # a point's outputs together
    return float(np.mean(_logmeanexp(log_p, axis=0)))


def categorical_log_likelihood(logit_samples: np.ndarray, labels: np.ndarray) -> float:
    """Mean test log-likelihood (1/N) Σ_n log (1/S) Σ_s softmax(z_s(x_n))[y_n], via log-sum-exp."""
    z = np.asarray(logit_samples, dtype=float)
    log_probs = z - (np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) + z.max(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, np.asarray(labels)[None, :, None], axis=-1)[..., 0]
    return float(np.mean(_logmeanexp(picked, axis=0)))


def _logmeanexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.mean(np.exp(a - m), axis=axis, keepdims=True))).squeeze(axis)
