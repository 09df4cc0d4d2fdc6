"""Tests for minivi.predict (step 2: the predictive by Monte Carlo) and bayes.signal_to_noise."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minivi as mv

FAST = settings(max_examples=30, deadline=None)
LOG2 = np.log(2.0)


def finite_floats(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def model_with_sigma(sigma, seed=0):
    rng = np.random.default_rng(seed)
    return mv.Sequential(mv.BayesLinear(2, 5, rng=rng, init_sigma=sigma), mv.Tanh(),
                         mv.BayesLinear(5, 3, rng=rng, init_sigma=sigma))


def softmax_by_hand(z):
    e = np.exp(z)   # the logits below are small, so no shift is needed
    return e / e.sum(axis=-1, keepdims=True)


def entropy_by_hand(p):
    return -np.sum(p * np.log(p), axis=-1)


# ---------------------------------------------------------------- predict


class Recorder(mv.Module):
    """Runs a model and keeps the Tensor it returned, to look at its graph."""

    def __init__(self, model):
        self.model, self.outputs = model, []

    def forward(self, x, *, mode, n_samples):
        self.outputs.append(self.model(x, mode=mode, n_samples=n_samples))
        return self.outputs[-1]


def test_predict_returns_sample_arrays_and_keeps_no_graph():
    recorder = Recorder(model_with_sigma(0.3))
    x = np.random.default_rng(1).normal(size=(4, 2))
    samples = mv.predict(recorder, x, n_samples=7)
    assert type(samples) is np.ndarray and samples.shape == (7, 4, 3)
    assert not np.any(samples[0] == samples[1])          # seven different networks
    assert recorder(x).requires_grad                      # outside predict a graph is recorded...
    inside = recorder.outputs[0]
    assert not inside.requires_grad and inside._parents == ()   # ...inside it is not
    assert np.array_equal(inside.data, samples)


def test_predict_draws_one_hundred_networks_by_default():
    x = np.random.default_rng(1).normal(size=(2, 2))
    assert mv.predict(model_with_sigma(0.3), x).shape == (100, 2, 3)        # the documented default n_samples


def test_predict_is_reproducible_and_mean_mode_uses_mu():
    x = np.random.default_rng(1).normal(size=(4, 2))
    first, second = (mv.predict(model_with_sigma(0.3, seed=5), x, n_samples=3) for _ in range(2))
    assert np.array_equal(first, second)
    model = model_with_sigma(0.3)
    mean = mv.predict(model, x, mode="mean")
    layer1, layer2 = model[0], model[2]
    by_hand = np.tanh(x @ layer1.weight_mu.data + layer1.bias_mu.data) @ layer2.weight_mu.data + layer2.bias_mu.data
    assert mean.shape == (1, 4, 3)
    np.testing.assert_allclose(mean[0], by_hand, rtol=1e-14, atol=1e-15)


# ---------------------------------------------------------------- regression uncertainty


@FAST
@given(samples=hnp.arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(1, 4)), elements=finite_floats(-5, 5)),
       noise_sigma=finite_floats(0.01, 3))
def test_regression_uncertainty_splits_the_variance(samples, noise_sigma):
    summary = mv.regression_uncertainty(samples, noise_sigma)
    mean = samples.sum(axis=0) / len(samples)
    epistemic = np.sqrt(np.sum((samples - mean) ** 2, axis=0) / len(samples))   # spread of the networks
    np.testing.assert_allclose(summary["mean"], mean, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(summary["epistemic"], epistemic, rtol=1e-12, atol=1e-12)
    assert np.all(summary["aleatoric"] == noise_sigma)
    # The law of total variance: total^2 = epistemic^2 + aleatoric^2.
    np.testing.assert_allclose(summary["total"] ** 2, summary["epistemic"] ** 2 + noise_sigma**2, rtol=1e-13)


def test_a_deterministic_model_has_no_epistemic_uncertainty():
    # sigma = 1e-12 everywhere: every sampled network is the mean network to ~1e-11.
    model = model_with_sigma(1e-12)
    x = np.random.default_rng(2).normal(size=(6, 2))
    summary = mv.regression_uncertainty(mv.predict(model, x, n_samples=20), noise_sigma=0.2)
    assert np.all(summary["epistemic"] < 1e-10)
    np.testing.assert_allclose(summary["total"], 0.2, rtol=1e-12)
    np.testing.assert_allclose(summary["mean"], mv.predict(model, x, mode="mean")[0], atol=1e-10)


# ---------------------------------------------------------------- classification uncertainty


@FAST
@given(logits=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(2, 4)),
                         elements=finite_floats(-10, 10)))
def test_classification_uncertainty_matches_the_definitions(logits):
    summary = mv.classification_uncertainty(logits)
    per_sample = softmax_by_hand(logits)
    probs = per_sample.mean(axis=0)
    predictive, expected = entropy_by_hand(probs), entropy_by_hand(per_sample).mean(axis=0)
    np.testing.assert_allclose(summary["probs"], probs, rtol=1e-12)
    np.testing.assert_allclose(summary["predictive_entropy"], predictive, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(summary["expected_entropy"], expected, rtol=1e-10, atol=1e-12)
    # Jensen: H is concave, so H[mean p] >= mean H[p]; the mutual information is that gap.
    assert np.all(predictive - expected >= -1e-12)
    np.testing.assert_allclose(summary["mutual_information"], predictive - expected, atol=1e-12)


def test_classification_uncertainty_is_unchanged_by_shifting_the_logits():
    # softmax(z + c) = softmax(z): a shift of 1000 (e^1000 overflows) must change nothing.
    logits = np.random.default_rng(8).normal(size=(4, 3, 5))
    plain, shifted = mv.classification_uncertainty(logits), mv.classification_uncertainty(logits + 1000.0)
    for key in plain:
        # z + 1000 rounds z to ~1e-13 absolute, which moves the probabilities by about as much.
        np.testing.assert_allclose(shifted[key], plain[key], rtol=1e-10, atol=1e-12, err_msg=key)


def test_mutual_information_is_zero_when_the_samples_agree():
    logits = np.repeat(np.random.default_rng(3).normal(size=(1, 4, 3)), 5, axis=0)
    summary = mv.classification_uncertainty(logits)
    assert np.all(summary["mutual_information"] <= 1e-15)
    np.testing.assert_allclose(summary["predictive_entropy"], summary["expected_entropy"], rtol=1e-14)


def test_uniform_predictions_have_entropy_log_c():
    summary = mv.classification_uncertainty(np.zeros((3, 2, 5)))
    np.testing.assert_allclose(summary["predictive_entropy"], np.log(5), rtol=1e-15)
    np.testing.assert_allclose(summary["mutual_information"], 0.0, atol=1e-15)


def test_confident_disagreement_is_all_epistemic():
    # Two networks, each certain, of opposite classes: p = (1, 0) and (0, 1) (e^-1000 is 0.0).
    logits = np.array([[[0.0, -1000.0]], [[-1000.0, 0.0]]])
    summary = mv.classification_uncertainty(logits)
    np.testing.assert_allclose(summary["probs"], [[0.5, 0.5]])
    assert summary["expected_entropy"][0] == 0.0
    assert summary["predictive_entropy"][0] == pytest.approx(LOG2, rel=1e-15)
    assert summary["mutual_information"][0] == pytest.approx(LOG2, rel=1e-15)


# ---------------------------------------------------------------- calibration


def test_ece_is_zero_for_a_calibrated_set():
    # Confidence 0.8 and right 8 times out of 10; confidence 0.6 and right 3 times out of 5.
    probs = np.array([[0.8, 0.2]] * 10 + [[0.4, 0.6]] * 5)
    labels = np.array([0] * 8 + [1] * 2 + [1] * 3 + [0] * 2)
    assert mv.expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-15)


def test_ece_of_a_hand_computed_example():
    # bin 9: two points at 0.9, one right: |0.5 - 0.9| = 0.4, weight 2/4
    # bin 6: one point at 0.6, right:      |1 - 0.6| = 0.4,   weight 1/4
    # bin 7: one point at 0.7, right:      |1 - 0.7| = 0.3,   weight 1/4
    # ECE = 0.2 + 0.1 + 0.075 = 0.375
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 0, 1])
    assert mv.expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.375, rel=1e-14)
    # With one bin: |accuracy 3/4 - mean confidence 0.775| = 0.025.
    assert mv.expected_calibration_error(probs, labels, n_bins=1) == pytest.approx(0.025, rel=1e-12)


def test_reliability_curve_agrees_with_the_ece():
    rng = np.random.default_rng(4)
    probs = softmax_by_hand(rng.normal(size=(200, 3)) * 2)
    labels = rng.integers(0, 3, size=200)
    centres, confidence, accuracy, counts = mv.reliability_curve(probs, labels, n_bins=8)
    assert counts.sum() == 200 and np.allclose(centres, (np.arange(8) + 0.5) / 8)
    used = counts > 0
    ece = np.sum(counts[used] / 200 * np.abs(accuracy[used] - confidence[used]))
    assert mv.expected_calibration_error(probs, labels, n_bins=8) == pytest.approx(ece, rel=1e-12)


# ---------------------------------------------------------------- test log-likelihoods


def test_gaussian_log_likelihood_is_the_log_of_the_mixture_density():
    rng = np.random.default_rng(5)
    samples, y, noise_sigma = rng.normal(size=(6, 4, 2)), rng.normal(size=(4, 2)), 0.7
    density = np.exp(-((y - samples) ** 2) / (2 * noise_sigma**2)) / np.sqrt(2 * np.pi * noise_sigma**2)
    per_point = np.log(np.prod(density, axis=2).mean(axis=0))   # a point's outputs together, averaged over s
    assert mv.gaussian_log_likelihood(samples, y, noise_sigma) == pytest.approx(per_point.mean(), rel=1e-12)


def test_categorical_log_likelihood_is_the_log_of_the_mean_probability():
    rng = np.random.default_rng(6)
    logits, labels = rng.normal(size=(5, 4, 3)), np.array([2, 0, 1, 1])
    picked = softmax_by_hand(logits)[:, np.arange(4), labels]
    expected = np.log(picked.mean(axis=0)).mean()
    assert mv.categorical_log_likelihood(logits, labels) == pytest.approx(expected, rel=1e-12)


def test_log_likelihoods_stay_finite_far_from_the_data():
    # Each density underflows to 0 at these distances; log-sum-exp keeps the answer exact.
    samples, y = np.array([[[0.0]], [[1.0]]]), np.array([[100.0]])
    expected = -0.5 * np.log(2 * np.pi) - 99.0**2 / 2 + np.log((1 + np.exp(-(100.0**2 - 99.0**2) / 2)) / 2)
    assert mv.gaussian_log_likelihood(samples, y, 1.0) == pytest.approx(expected, rel=1e-14)
    logits = np.array([[[2000.0, 0.0]], [[2000.0, 0.0]]])
    assert mv.categorical_log_likelihood(logits, np.array([1])) == pytest.approx(-2000.0, rel=1e-15)


# ---------------------------------------------------------------- signal-to-noise (Blundell et al. 2015, §5.1)


def test_signal_to_noise_is_abs_mu_over_sigma():
    rng = np.random.default_rng(7)
    model = mv.Sequential(mv.BayesLinear(3, 2, rng=rng), mv.ReLU(), mv.Linear(2, 2, rng=rng),
                          mv.LocalBayesLinear(2, 1, rng=rng, bias=False))
    for layer in (model[0], model[3]):
        for mu, rho in layer.variational_parameters():
            mu.data[...] = rng.normal(size=mu.shape)
            rho.data[...] = rng.uniform(-5, 2, size=rho.shape)
    expected = [np.abs(mu.data) / np.log1p(np.exp(rho.data))
                for layer in (model[0], model[3]) for mu, rho in layer.variational_parameters()]
    ratios = mv.signal_to_noise(model)
    assert ratios.shape == (3 * 2 + 2 + 2 * 1,)
    np.testing.assert_allclose(ratios, np.concatenate([e.ravel() for e in expected]), rtol=1e-14)
    with pytest.raises(ValueError, match="no Bayesian layers"):
        mv.signal_to_noise(mv.Sequential(mv.Linear(2, 2, rng=rng)))


# ---------------------------------------------------------------- an outside review's inputs


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_an_infinite_regression_sample_is_refused_not_summarised_as_nan(bad):
    samples, y = np.zeros((3, 2, 1)), np.zeros((2, 1))
    samples[1, 0, 0] = bad
    with pytest.raises(ValueError, match="samples contain inf"):
        mv.regression_uncertainty(samples, 0.1)
    with pytest.raises(ValueError, match="samples contain inf"):
        mv.gaussian_log_likelihood(samples, y, 0.1)


def test_a_row_of_logits_all_minus_inf_is_refused_and_a_label_impossible_in_every_sample_gives_minus_inf():
    logits = np.zeros((2, 3, 4))
    logits[1, 2, :] = -np.inf                                    # every class masked: softmax 0/0
    with pytest.raises(ValueError, match="sample 1, row 2 has every logit -inf"):
        mv.classification_uncertainty(logits)
    with pytest.raises(ValueError, match="sample 1, row 2 has every logit -inf"):
        mv.categorical_log_likelihood(logits, np.zeros(3, int))
    logits = np.zeros((2, 3, 4))
    logits[:, 0, 1] = -np.inf                                    # class 1 impossible for row 0 in both samples
    assert mv.categorical_log_likelihood(logits, np.array([1, 0, 0])) == -np.inf
    assert mv.categorical_log_likelihood(logits, np.array([0, 0, 0])) == pytest.approx(np.log(1 / 3) / 3
                                                                                       + 2 * np.log(1 / 4) / 3)


def test_metrics_over_no_data_points_or_no_classes_are_refused():
    with pytest.raises(ValueError, match="no data points"):
        mv.gaussian_log_likelihood(np.zeros((3, 0, 1)), np.zeros((0, 1)), 0.1)
    with pytest.raises(ValueError, match="no data points"):
        mv.categorical_log_likelihood(np.zeros((3, 0, 2)), np.zeros(0, int))
    with pytest.raises(ValueError, match="no data points"):
        mv.expected_calibration_error(np.zeros((0, 2)), np.zeros(0, int))     # was 0.0, "perfectly calibrated"
    with pytest.raises(ValueError, match="C >= 1 classes"):
        mv.classification_uncertainty(np.zeros((3, 2, 0)))


@pytest.mark.parametrize("noise_sigma", [None, np.array([0.1, 0.2]), mv.Tensor(0.1)])
def test_a_noise_sigma_that_is_not_one_number_gets_a_message_naming_it(noise_sigma):
    samples = np.zeros((3, 2, 1))
    with pytest.raises(TypeError, match="noise_sigma must be one positive finite number"):
        mv.regression_uncertainty(samples, noise_sigma)
    with pytest.raises(TypeError, match="noise_sigma must be one positive finite number"):
        mv.gaussian_log_likelihood(samples, np.zeros((2, 1)), noise_sigma)


def test_tensor_samples_and_targets_are_read_as_their_arrays():
    rng = np.random.default_rng(8)
    samples, y = rng.normal(size=(4, 3, 1)), rng.normal(size=(3, 1))
    assert mv.gaussian_log_likelihood(mv.Tensor(samples), mv.Tensor(y), 0.5) == \
        mv.gaussian_log_likelihood(samples, y, 0.5)
