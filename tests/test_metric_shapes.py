"""The metrics' shapes and edge cases (minivi/predict.py, minivi/likelihoods.py).

One rule for the whole library: samples have the sample axis first (S, N, ...);
a regression target has one sample's shape; class labels are (N,). Anything
else is refused with the fix, never broadcast (a (N,) target against (S, N, 1)
samples would silently become (S, N, N)). The calibration tests pin the bins:
empty bins, empty top bins, and a confidence of exactly 1.0.
"""
import re

import numpy as np
import pytest

import minivi as mv


def two_class(confidences, correct):
    """Rows (c, 1 - c) with label 0 where `correct`, else label 1 (confidences >= 0.5)."""
    c = np.asarray(confidences, dtype=float)
    return np.stack([c, 1.0 - c], axis=1), np.where(correct, 0, 1)


# ---------------------------------------------------------------- calibration: the bins


def test_ece_and_reliability_curve_with_empty_bins_and_empty_top_bins():
    # confidences 0.55, 0.55 (bin 5, one right) and 0.62 (bin 6, right); bins 0-4 and 7-9 are empty
    probs, labels = two_class([0.55, 0.55, 0.62], [True, False, True])
    with np.errstate(all="raise"):      # an empty bin must not be averaged (0/0)
        ece = mv.expected_calibration_error(probs, labels)
    # bin 5: |1/2 - 0.55| = 0.05, weight 2/3; bin 6: |1 - 0.62| = 0.38, weight 1/3
    assert ece == pytest.approx(2 / 3 * 0.05 + 1 / 3 * 0.38, rel=1e-14)
    centres, confidence, accuracy, counts = mv.reliability_curve(probs, labels)
    np.testing.assert_array_equal(counts, [0, 0, 0, 0, 0, 2, 1, 0, 0, 0])
    np.testing.assert_allclose(centres, np.arange(0.05, 1.0, 0.1), rtol=1e-15)
    np.testing.assert_allclose(confidence[5:7], [0.55, 0.62], rtol=1e-15)
    np.testing.assert_array_equal(accuracy[5:7], [0.5, 1.0])
    empty = counts == 0
    assert np.all(np.isnan(confidence[empty])) and np.all(np.isnan(accuracy[empty]))


def test_a_confidence_of_exactly_one_falls_in_the_top_bin():
    # 1.0 * n_bins = n_bins would be bin 10 of 0..9: it belongs to the last bin, [0.9, 1.0].
    probs, labels = two_class([1.0, 1.0, 0.95], [True, False, True])
    _, confidence, accuracy, counts = mv.reliability_curve(probs, labels)
    np.testing.assert_array_equal(counts, [0] * 9 + [3])
    assert confidence[9] == pytest.approx((1.0 + 1.0 + 0.95) / 3, rel=1e-15)
    assert accuracy[9] == pytest.approx(2 / 3, rel=1e-15)
    assert mv.expected_calibration_error(probs, labels) == pytest.approx(abs(2 / 3 - 2.95 / 3), rel=1e-13)


def test_ece_uses_ten_bins_by_default():
    # 0.71 and 0.79 share a bin of width 0.1 (|1/2 - 0.75| = 0.25) but not of width 0.05 (0.29 and 0.21)
    probs, labels = two_class([0.71, 0.79], [True, False])
    assert mv.expected_calibration_error(probs, labels) == pytest.approx(0.25, rel=1e-13)
    assert mv.expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.25, rel=1e-13)
    assert mv.expected_calibration_error(probs, labels, n_bins=20) == pytest.approx(0.5 * 0.29 + 0.5 * 0.79,
                                                                                     rel=1e-13)
    _, _, _, counts = mv.reliability_curve(probs, labels)
    assert len(counts) == 10 and counts[7] == 2


def test_calibration_accepts_whole_number_float_labels():
    probs, labels = two_class([0.9, 0.6, 0.8], [True, False, True])
    assert (mv.expected_calibration_error(probs, labels.astype(float))
            == mv.expected_calibration_error(probs, labels))


@pytest.mark.parametrize("function", [mv.expected_calibration_error, mv.reliability_curve])
def test_calibration_refuses_a_label_column(function):
    """The issue's case: labels[:, None] gave 0.264 against 0.234 for the same labels as (N,)."""
    probs, labels = two_class([0.9, 0.6, 0.8], [True, False, True])
    with pytest.raises(ValueError, match=re.escape("labels of shape (N,) = (3,), got labels of shape (3, 1)")
                       + ".*labels.ravel()"):
        function(probs, labels[:, None])


@pytest.mark.parametrize("probs, message", [
    (np.zeros((2, 3, 2)) + 0.5, r"shape \(N, C\).*classification_uncertainty"),
    (np.array([[2.0, -1.0], [0.5, 0.5]]), r"in \[0, 1\] summing to 1 .*row 0 holds 2, outside"),
    (np.array([[0.6, 0.6], [0.5, 0.5]]), r"in \[0, 1\] summing to 1 .*row 0 sums to 1.2;"),
])
def test_calibration_refuses_what_is_not_a_table_of_probabilities(probs, message):
    with pytest.raises(ValueError, match=message):
        mv.expected_calibration_error(probs, np.array([0, 1]))


@pytest.mark.parametrize("n_bins, error", [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_calibration_refuses_a_bad_number_of_bins(n_bins, error):
    probs, labels = two_class([0.9, 0.6], [True, False])
    with pytest.raises(error, match="n_bins must be a whole number >= 1"):
        mv.reliability_curve(probs, labels, n_bins=n_bins)


# ---------------------------------------------------------------- regression metrics


def test_gaussian_log_likelihood_refuses_a_target_that_would_broadcast():
    """The issue's case: samples (S, N, 1) against y (N,) gave -28.8 instead of -1.54 (an (S, N, N) sum)."""
    rng = np.random.default_rng(0)
    samples, y = rng.normal(size=(5, 4, 1)), rng.normal(size=4)
    with pytest.raises(ValueError, match=re.escape("(5, 4, 1)") + ".*" + re.escape("(4,)") + ".*y.reshape"):
        mv.gaussian_log_likelihood(samples, y, 0.5)
    with pytest.raises(ValueError, match=r"y.ravel\(\)"):
        mv.gaussian_log_likelihood(samples[..., 0], y[:, None], 0.5)
    # the right shapes give one answer, whichever of the two layouts is used
    assert (mv.gaussian_log_likelihood(samples, y[:, None], 0.5)
            == pytest.approx(mv.gaussian_log_likelihood(samples[..., 0], y, 0.5), rel=1e-15))


@pytest.mark.parametrize("noise_sigma", [0.0, -1.0, np.nan])
def test_regression_metrics_refuse_a_bad_noise_sigma(noise_sigma):
    samples = np.zeros((3, 2, 1))
    with pytest.raises(ValueError, match="noise_sigma must be one positive finite number"):
        mv.gaussian_log_likelihood(samples, np.zeros((2, 1)), noise_sigma)
    with pytest.raises(ValueError, match="noise_sigma must be one positive finite number"):
        mv.regression_uncertainty(samples, noise_sigma)


def test_regression_uncertainty_gives_every_entry_one_samples_shape():
    samples = np.random.default_rng(1).normal(size=(7, 5, 2))
    summary = mv.regression_uncertainty(samples, 0.3)
    for key in ("mean", "epistemic", "aleatoric", "total"):
        assert summary[key].shape == (5, 2), key
    np.testing.assert_array_equal(summary["aleatoric"], np.full((5, 2), 0.3))


def test_regression_uncertainty_of_one_network_has_zero_epistemic():
    out = np.random.default_rng(2).normal(size=(1, 4, 1))      # S = 1: a point estimate
    summary = mv.regression_uncertainty(out, 0.2)
    np.testing.assert_array_equal(summary["epistemic"], np.zeros((4, 1)))
    np.testing.assert_array_equal(summary["total"], np.full((4, 1), 0.2))


@pytest.mark.parametrize("function", [lambda s: mv.regression_uncertainty(s, 0.1),
                                      lambda s: mv.gaussian_log_likelihood(s, np.zeros(s.shape[1:]), 0.1)],
                         ids=["regression_uncertainty", "gaussian_log_likelihood"])
@pytest.mark.parametrize("samples, message", [(np.zeros(4), "sample axis first"),
                                              (np.zeros((0, 3, 1)), "sample axis first"),
                                              (np.full((2, 3, 1), np.nan), "NaN")])
def test_regression_metrics_refuse_samples_without_a_sample_axis_or_with_nan(function, samples, message):
    with pytest.raises(ValueError, match=message):
        function(samples)


# ---------------------------------------------------------------- classification metrics


@pytest.mark.parametrize("function", [mv.classification_uncertainty,
                                      lambda z: mv.categorical_log_likelihood(z, np.zeros(z.shape[1], int))],
                         ids=["classification_uncertainty", "categorical_log_likelihood"])
def test_classification_metrics_need_sampled_logits(function):
    with pytest.raises(ValueError, match=r"\(S, N, C\).*got shape \(4, 3\)"):
        function(np.zeros((4, 3)))                             # one network's (N, C): add the sample axis
    with pytest.raises(ValueError, match=r"\+inf"):
        function(np.array([[[np.inf, 0.0]]]))


def test_categorical_log_likelihood_checks_its_labels_and_accepts_whole_floats():
    logits = np.random.default_rng(3).normal(size=(3, 4, 2))
    labels = np.array([1, 0, 0, 1])
    expected = mv.categorical_log_likelihood(logits, labels)
    assert mv.categorical_log_likelihood(logits, labels.astype(float)) == expected
    with pytest.raises(ValueError, match=r"labels.ravel\(\)"):
        mv.categorical_log_likelihood(logits, labels[:, None])
    with pytest.raises(ValueError, match="0..1"):
        mv.categorical_log_likelihood(logits, np.array([1, 0, 2, 1]))


def test_a_masked_class_is_fine_in_the_classification_metrics():
    logits = np.array([[[0.0, -np.inf, 1.0]], [[0.5, -np.inf, 0.5]]])
    summary = mv.classification_uncertainty(logits)
    assert summary["probs"][0, 1] == 0.0 and np.all(np.isfinite(summary["predictive_entropy"]))
    assert np.isfinite(mv.categorical_log_likelihood(logits, np.array([2])))
