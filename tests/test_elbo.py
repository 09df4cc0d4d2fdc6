"""Tests for the objective (steps 3, 6, 8): likelihoods, KL weights, elbo_loss, and fit."""

import functools
import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minivi as mv
from minivi.gradcheck import engine_grad

FAST = settings(max_examples=30, deadline=None)
H = 1e-6
U = np.finfo(np.float64).eps


def finite_floats(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def softplus(rho):
    return np.logaddexp(0.0, rho)


def kl_by_hand(model):
    """Closed-form KL to N(0, 1) of every Bayesian layer: -log sigma + (sigma^2 + mu^2)/2 - 1/2."""
    total = 0.0
    for layer in model.layers:
        if isinstance(layer, mv.BayesLinear):
            for mu, rho in layer.variational_parameters():
                sigma = softplus(rho.data)
                total += np.sum(-np.log(sigma) + (sigma**2 + mu.data**2) / 2 - 0.5)
    return total


def small_model(seed=0, n_in=3, n_hidden=4, n_out=2):
    return mv.Sequential(mv.BayesLinear(n_in, n_hidden, rng=np.random.default_rng(seed + 1)), mv.Tanh(),
                         mv.BayesLinear(n_hidden, n_out, rng=np.random.default_rng(seed + 2)))


# ---------------------------------------------------------------- step 6: likelihoods


@FAST
@given(data=st.data(), n_samples=st.sampled_from([None, 1, 3]), noise_sigma=finite_floats(0.2, 5))
def test_gaussian_nll_is_the_summed_negative_log_density(data, n_samples, noise_sigma):
    n, k = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3))
    lead = () if n_samples is None else (n_samples,)
    pred = data.draw(hnp.arrays(np.float64, lead + (n, k), elements=finite_floats(-3, 3)))
    target = data.draw(hnp.arrays(np.float64, (n, k), elements=finite_floats(-3, 3)))
    # -log of the density itself (not its log form): exp(-(y-f)^2/(2 s^2)) / sqrt(2 pi s^2),
    # summed over every prediction, samples included. |y - f| <= 6 and s >= 0.2 give |z| <= 30,
    # so the density stays above exp(-450), a normal float64.
    z = (target - pred) / noise_sigma
    density = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi * noise_sigma**2)
    expected = -np.sum(np.log(density))
    value = mv.gaussian_nll(pred, target, noise_sigma).item()
    # float64 terms of size <= 450 + |log s| + 1, rounded a few times each.
    assert abs(value - expected) <= 10 * U * np.sum(0.5 * z**2 + abs(np.log(noise_sigma)) + 2)


def test_gaussian_nll_gradients_match_central_differences():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(3, 4, 2)), rng.normal(size=(4, 2))
    # |F| ~ 100: central-difference error ~ 1e-8 (rounding) + 0 (F is quadratic in pred, and
    # 1/s^2 has third derivative ~ 100 at s ~ 0.7: 1e-12 * 100); default tolerances are 100x that.
    assert mv.gradcheck(lambda p: mv.gaussian_nll(p, target, 0.3), pred, eps=H)
    assert mv.gradcheck(lambda p, s: mv.gaussian_nll(p, target, s), pred, np.array(0.7), eps=H)
    # A noise scale per output, broadcast over the sample and batch axes: its gradient is summed back.
    assert mv.gradcheck(lambda p, s: mv.gaussian_nll(p, target, s), pred, np.array([0.7, 1.3]), eps=H)


def test_gaussian_nll_gradient_three_way():
    """The explicit op, the engine's autodiff of the same formula in primitive ops, and central differences."""
    rng = np.random.default_rng(2)
    pred, target, noise = rng.normal(size=(3, 4, 2)), rng.normal(size=(4, 2)), np.array([0.6, 1.1])

    def by_primitive_ops(p, s):
        r = p - target
        return ((r ** 2) / (2.0 * s ** 2) + s.log() + 0.5 * np.log(2 * np.pi)).sum()

    explicit = engine_grad(lambda p, s: mv.gaussian_nll(p, target, s), pred, noise)
    autodiff = engine_grad(by_primitive_ops, pred, noise)
    for a, b in zip(explicit, autodiff):
        # the same sums in another order: equal to rounding (terms ~ 10, summed over 24 entries)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert mv.gradcheck(by_primitive_ops, pred, noise, eps=H)


def test_gaussian_nll_gives_the_target_its_gradient_three_ways():
    """d/dy_n = -Σ_s (f_sn - y_n) / s²: the explicit formula, the op, autodiff of primitives, differences."""
    rng = np.random.default_rng(3)
    pred, target, noise = rng.normal(size=(3, 4, 2)), rng.normal(size=(4, 2)), np.array([0.6, 1.1])
    formula = -np.sum(pred - target, axis=0) / noise**2

    def by_primitive_ops(y):
        return (((pred - y) ** 2) / (2.0 * noise ** 2) + np.log(noise) + 0.5 * np.log(2 * np.pi)).sum()

    explicit, = engine_grad(lambda y: mv.gaussian_nll(pred, y, mv.Tensor(noise)), target)
    autodiff, = engine_grad(by_primitive_ops, target)
    np.testing.assert_allclose(explicit, formula, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(autodiff, formula, rtol=1e-12, atol=1e-12)
    assert mv.gradcheck(lambda y: mv.gaussian_nll(pred, y, mv.Tensor(noise)), target, eps=H)


@pytest.mark.parametrize("noise_shape", [(3, 1), (2, 4, 1)])
def test_gaussian_nll_refuses_a_noise_sigma_that_does_not_broadcast_to_the_predictions(noise_shape):
    """(2, 4, 1) broadcasts with (4, 1), but to a larger shape: each residual would be counted twice."""
    with pytest.raises(ValueError, match=rf"noise_sigma of shape {re.escape(str(noise_shape))}.*\(4, 1\)"):
        mv.gaussian_nll(np.zeros((4, 1)), np.zeros((4, 1)), mv.Tensor(np.ones(noise_shape)))


def test_gaussian_nll_refuses_an_infinite_noise_tensor_and_names_a_noise_that_is_no_number():
    pred, target = np.zeros((3, 1)), np.ones((3, 1))
    with pytest.raises(ValueError, match="noise_sigma must be > 0 and finite"):
        mv.gaussian_nll(pred, target, mv.Tensor(np.inf))            # was a loss of inf, accepted
    for bad in (None, np.array([0.1, 0.2])):                        # were float()'s own messages
        with pytest.raises(TypeError, match="noise_sigma must be one positive finite number"):
            mv.gaussian_nll(pred, target, bad)


def test_categorical_nll_with_a_masked_class_has_no_nan():
    """A logit of -inf (a class switched off) in a non-target column: finite loss and gradient."""
    logits = mv.Tensor(np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, 0.5]]), requires_grad=True)
    loss = mv.categorical_nll(logits, np.array([2, 1]))
    expected = -(1.0 - np.logaddexp(0.0, 1.0)) - (2.0 - np.logaddexp(2.0, 0.5))
    assert loss.item() == pytest.approx(expected, rel=1e-15)
    loss.backward()
    p = np.exp(logits.data - np.logaddexp.reduce(logits.data, axis=1, keepdims=True))
    np.testing.assert_allclose(logits.grad, p - np.array([[0, 0, 1], [0, 1, 0]]), rtol=1e-15, atol=1e-16)


def test_categorical_nll_accepts_whole_number_float_labels():
    logits = np.random.default_rng(5).normal(size=(2, 4, 3))
    as_ints = mv.categorical_nll(logits, np.array([2, 0, 1, 1])).item()
    assert mv.categorical_nll(logits, np.array([2.0, 0.0, 1.0, 1.0])).item() == as_ints


def test_learned_noise_gradient_matches_central_differences():
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=(5, 1)), rng.normal(size=(5, 1))
    noise = mv.LearnedNoise(init_sigma=0.4)

    def nll(rho):
        noise.rho = rho
        return noise(pred, target)

    assert mv.gradcheck(nll, noise.rho.data.copy(), eps=H)
    assert mv.gradcheck(nll, np.array(-3.0), eps=H)


def test_learned_noise_fits_the_residuals_rms():
    # For residuals r, -log p = n log s + sum r^2 / (2 s^2) + const is minimised at
    # s = sqrt(mean r^2) (set the derivative n/s - sum r^2/s^3 to 0): the closed-form MLE.
    residuals = np.random.default_rng(2).normal(0.0, 0.3, size=(2000, 1))
    rms = np.sqrt(np.mean(residuals**2))
    noise = mv.LearnedNoise(init_sigma=1.0)
    optimizer = mv.optim.SGD([noise.rho], lr=0.5)
    for _ in range(200):
        optimizer.zero_grad()
        (noise(np.zeros_like(residuals), residuals) * (1 / len(residuals))).backward()
        optimizer.step()
    # SGD on this smooth 1-D problem contracts the error by a constant factor (~0.25) per step.
    assert noise.noise_sigma == pytest.approx(rms, rel=1e-10)
    # And the RMS of 2000 draws estimates the true 0.3 within 4 standard errors 0.3/sqrt(2n).
    assert abs(rms - 0.3) < 4 * 0.3 / np.sqrt(2 * len(residuals))


@FAST
@given(data=st.data(), n_samples=st.sampled_from([None, 2]))
def test_categorical_nll_is_minus_the_picked_log_softmax(data, n_samples):
    n, c = data.draw(st.integers(1, 5)), data.draw(st.integers(2, 4))
    lead = () if n_samples is None else (n_samples,)
    logits = data.draw(hnp.arrays(np.float64, lead + (n, c), elements=finite_floats(-20, 20)))
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)   # exp(20) is harmless
    expected = -np.sum(np.log(probs[..., np.arange(n), labels]))
    value = mv.categorical_nll(logits, labels).item()
    assert abs(value - expected) <= 100 * U * (np.abs(logits).sum() + expected + 1)


def test_categorical_nll_is_stable_for_huge_logits():
    # log softmax([1000, 0])[1] = -1000 exactly in the limit (the other term is e^-1000).
    assert mv.categorical_nll(np.array([[1000.0, 0.0]]), np.array([1])).item() == pytest.approx(1000.0, rel=1e-15)
    assert mv.categorical_nll(np.array([[1000.0, 0.0]]), np.array([0])).item() == pytest.approx(0.0, abs=1e-300)


def test_categorical_nll_gradient_matches_central_differences():
    rng = np.random.default_rng(3)
    logits, labels = rng.normal(size=(2, 5, 3)), np.array([0, 2, 1, 1, 0])
    assert mv.gradcheck(lambda z: mv.categorical_nll(z, labels), logits, eps=H)


def test_likelihoods_reject_bad_input():
    logits = np.zeros((4, 3))
    with pytest.raises(ValueError, match="0..2"):
        mv.categorical_nll(logits, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="0..2"):
        mv.categorical_nll(logits, np.array([0, -1, 2, 0]))
    with pytest.raises(TypeError, match="integers"):
        mv.categorical_nll(logits, np.array([0, 1.5, 2, 0]))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 1\)"):
        mv.categorical_nll(logits, np.zeros((4, 1), dtype=int))
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        mv.gaussian_nll(np.zeros((4, 1)), np.zeros(4), 0.1)
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(3, 2\)"):
        mv.gaussian_nll(np.zeros((4, 2)), np.zeros((3, 2)), 0.1)
    with pytest.raises(ValueError, match="noise_sigma"):
        mv.gaussian_nll(np.zeros(3), np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="NaN"):
        mv.gaussian_nll(np.zeros(3), np.array([0.0, np.nan, 1.0]), 0.1)


# ---------------------------------------------------------------- KL weights (Blundell et al. 2015, eq. 9)


@pytest.mark.parametrize("n_batches", [1, 2, 3, 7, 10, 64, 100, 1000, 2000])
@pytest.mark.parametrize("schedule", ["uniform", "blundell"])
def test_kl_weights_sum_to_one(n_batches, schedule):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        weights = mv.kl_weights(n_batches, schedule)
    assert weights.shape == (n_batches,) and np.all(weights >= 0)
    # math.fsum adds exactly, so only the weights' own rounding (a few ulps each, relative) remains.
    assert abs(math.fsum(weights) - 1.0) <= 1e-14


@pytest.mark.parametrize("n_batches", range(1, 31))
def test_blundell_weights_are_the_exact_fractions(n_batches):
    # pi_i = 2^(M-i) / (2^M - 1), in exact rational arithmetic; a float64 result a few roundings
    # (exp2, expm1, a division) away is within 1e-14 relative.
    exact = [Fraction(2 ** (n_batches - i), 2**n_batches - 1) for i in range(1, n_batches + 1)]
    weights = mv.kl_weights(n_batches, "blundell")
    np.testing.assert_allclose(weights, [float(f) for f in exact], rtol=1e-14, atol=0)
    assert np.all(np.diff(weights) < 0) or n_batches == 1   # the first minibatches lean on the prior


@pytest.mark.parametrize("warmup_epochs", [1, 3, 5])
@pytest.mark.parametrize("schedule", ["uniform", "blundell"])
def test_warmup_scales_the_weights_to_beta_then_one(warmup_epochs, schedule):
    for epoch in range(warmup_epochs + 3):
        beta = min(Fraction(epoch + 1, warmup_epochs), Fraction(1))
        factor = mv.warmup_factor(epoch, warmup_epochs)
        assert factor == pytest.approx(float(beta), rel=1e-15)
        weights = mv.kl_weights(7, schedule) * factor
        assert abs(math.fsum(weights) - float(beta)) <= 1e-14   # beta during warm-up, 1 after it
    assert mv.warmup_factor(0, 0) == 1.0


def test_kl_weights_reject_bad_arguments():
    for bad, error in ((0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="n_batches"):
            mv.kl_weights(bad)
    with pytest.raises(ValueError, match="schedule"):
        mv.kl_weights(3, "geometric")
    with pytest.raises(ValueError, match="warmup_epochs"):
        mv.warmup_factor(0, -1)


# ---------------------------------------------------------------- elbo_loss (steps 3, 6)


@pytest.mark.parametrize("schedule", [None, "uniform", "blundell"])
def test_mean_mode_minibatch_losses_sum_to_the_full_batch_loss(schedule):
    # sum_i [pi_i KL + nll(D_i)] = KL + nll(D) whenever sum_i pi_i = 1; the default
    # pi_i = |D_i| / N does so for unequal batches too (23 = 5 + 5 + 5 + 5 + 3).
    model = small_model()
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(23, 3)), rng.normal(size=(23, 2))
    nll = functools.partial(mv.gaussian_nll, noise_sigma=0.3)
    full, full_info = mv.elbo_loss(model, x, y, nll, n_data=23, mode="mean")
    full.backward()
    full_grads = [p.grad for p in model.parameters()]

    batches = mv.data.minibatches(23, 5, rng)
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    weights = [None] * len(batches) if schedule is None else mv.kl_weights(len(batches), schedule)
    model.zero_grad()
    total = 0.0
    for idx, weight in zip(batches, weights):
        loss, _ = mv.elbo_loss(model, x[idx], y[idx], nll, n_data=23, mode="mean", kl_weight=weight)
        loss.backward()   # gradients accumulate over the epoch
        total += loss.item()
    # Sums of ~30 terms of size ~100: the two orders of summation differ by < 1e-13 relative.
    assert total == pytest.approx(full.item(), rel=1e-10)
    assert full_info["loss"] == pytest.approx(full_info["kl"] + full_info["nll"], rel=1e-14)
    for summed, whole in zip((p.grad for p in model.parameters()), full_grads):
        np.testing.assert_allclose(summed, whole, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n_samples", [1, 4])
def test_sampling_mode_loss_is_the_hand_computed_elbo(n_samples):
    model = small_model()
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    noise_sigma = 0.4
    model[0].rng, model[2].rng = np.random.default_rng(10), np.random.default_rng(20)
    loss, info = mv.elbo_loss(model, x, y, functools.partial(mv.gaussian_nll, noise_sigma=noise_sigma),
                              n_data=30, n_samples=n_samples)

    # By hand: each layer draws (S, in, out) weight eps, then (S, out) bias eps, from its own stream.
    def sampled_layer(layer, h, stream):
        eps_w = stream.standard_normal((n_samples,) + layer.weight_mu.shape)
        eps_b = stream.standard_normal((n_samples, 1) + layer.bias_mu.shape)
        w = layer.weight_mu.data + softplus(layer.weight_rho.data) * eps_w
        b = layer.bias_mu.data + softplus(layer.bias_rho.data) * eps_b
        return h @ w + b

    hidden = np.tanh(sampled_layer(model[0], x, np.random.default_rng(10)))
    pred = sampled_layer(model[2], hidden, np.random.default_rng(20))            # (S, N, 2)
    nll_per_sample = np.sum(np.log(noise_sigma) + 0.5 * np.log(2 * np.pi)
                            + (y - pred) ** 2 / (2 * noise_sigma**2), axis=(1, 2))
    data_term = nll_per_sample.mean()
    kl = kl_by_hand(model)
    kl_weight = 6 / 30                                                             # batch / n_data
    assert set(info) == {"kl", "nll", "kl_weight", "loss"}
    assert all(type(v) is float for v in info.values())
    # Same float64 operations in another order on values ~10-100: 1e-12 relative is a few ulps' margin x 100.
    assert info["kl"] == pytest.approx(kl, rel=1e-12)
    assert info["nll"] == pytest.approx(data_term, rel=1e-12)
    assert info["kl_weight"] == kl_weight
    assert info["loss"] == pytest.approx(kl_weight * kl + data_term, rel=1e-12)
    assert loss.item() == info["loss"]


@pytest.mark.parametrize("layer, prior, classes", [(mv.BayesLinear, None, 0), (mv.LocalBayesLinear, None, 0),
                                                    (mv.BayesLinear, mv.ScaleMixturePrior(), 0),
                                                    (mv.BayesLinear, None, 3)])
def test_one_sample_loss_and_gradients_equal_those_with_a_sample_axis_of_one(layer, prior, classes):
    """elbo_loss(n_samples=1) runs model(x) without a sample axis; it must give the loss, the KL and every
    gradient of the same step built with model(x, n_samples=1), to the last bit (the same eps drawn)."""
    def model():
        rng = np.random.default_rng(4)
        return mv.Sequential(layer(3, 5, rng=rng, prior=prior), mv.ReLU(), layer(5, classes or 2, rng=rng, prior=prior))

    rng = np.random.default_rng(6)
    x = rng.normal(size=(7, 3))
    y = rng.integers(0, classes, size=7) if classes else rng.normal(size=(7, 2))
    nll = mv.categorical_nll if classes else functools.partial(mv.gaussian_nll, noise_sigma=0.5)
    fast = model()
    loss, info = mv.elbo_loss(fast, x, y, nll, n_data=21, n_samples=1)
    loss.backward()
    axis = model()
    pred = axis(x, n_samples=1)
    assert pred.shape[0] == 1
    kl = mv.kl_divergence(axis)
    loss_with_axis = kl * (7 / 21) + nll(pred, y) * 1.0
    loss_with_axis.backward()
    assert loss.item() == loss_with_axis.item() and info["kl"] == kl.item()
    for p, q in zip(fast.parameters(), axis.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad)


def test_elbo_loss_rejects_bad_arguments():
    model = small_model()
    x, y = np.zeros((4, 3)), np.zeros((4, 2))
    nll = functools.partial(mv.gaussian_nll, noise_sigma=0.1)
    for bad, error in ((0, ValueError), (-2, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match="n_samples"):
            mv.elbo_loss(model, x, y, nll, n_data=10, n_samples=bad)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 2\)"):
        mv.elbo_loss(model, x, y[:3], nll, n_data=10)
    with pytest.raises(ValueError, match="empty"):
        mv.elbo_loss(model, np.zeros((0, 3)), np.zeros((0, 2)), nll, n_data=10)
    with pytest.raises(ValueError, match="n_data"):
        mv.elbo_loss(model, x, y, nll, n_data=3)
    with pytest.raises(ValueError, match="kl_weight"):
        mv.elbo_loss(model, x, y, nll, n_data=10, kl_weight=-0.1)


# ---------------------------------------------------------------- fit (step 8)


def regression_data(n=40, seed=6):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 3))
    return x, np.sin(x @ np.array([[1.0, -0.5], [0.3, 2.0], [0.0, 1.0]])) + 0.1 * rng.normal(size=(n, 2))


def test_fit_history_has_one_finite_entry_per_epoch():
    x, y = regression_data()
    model = small_model()
    history = mv.fit(model, x, y, functools.partial(mv.gaussian_nll, noise_sigma=0.1), epochs=20, batch_size=16,
                     rng=np.random.default_rng(0), lr=1e-2, verbose=False)
    assert history.stopped is None
    assert len(history) == len(history.loss) == len(history.kl) == len(history.nll) == 20
    assert np.all(np.isfinite(history.loss + history.kl + history.nll))
    # The untrained net misfits y by ~1 with noise_sigma = 0.1: an NLL in the thousands that training lowers.
    assert history.loss[-1] < 0.5 * history.loss[0]


def assert_stopped_cleanly(history, epochs):
    assert history.stopped is not None
    match = re.search(r"step (\d+)", history.stopped)
    assert match, history.stopped
    assert "learning rate" in history.stopped                  # the likely cause is named
    assert len(history) < epochs
    assert len(history.loss) == len(history.kl) == len(history.nll)
    assert np.all(np.isfinite(history.loss + history.kl + history.nll))
    return int(match.group(1))


def test_fit_stops_with_a_message_when_the_learning_rate_is_absurd():
    # lr = 1e160: the first Adam step moves every mu by about 1e160, so the next loss overflows (mu² in the
    # KL, the outputs in the NLL). (At lr = 1e6 the rho sink to -1e6, sigma underflows to 0, yet the KL
    # stays finite and right, log sigma = rho: a huge loss, not a broken one, and fit goes on.)
    x, y = regression_data()
    with np.errstate(over="ignore", invalid="ignore"):   # inf, inf - inf on the way
        history = mv.fit(small_model(), x, y, functools.partial(mv.gaussian_nll, noise_sigma=0.1), epochs=20,
                         batch_size=10, rng=np.random.default_rng(0), lr=1e160, verbose=False)
    assert assert_stopped_cleanly(history, 20) >= 2             # step 1 is finite; its update breaks q


def test_fit_stops_with_a_message_when_a_learned_noise_collapses():
    # Starting far too wide, the first Adam step of size lr = 1e6 sends the noise's rho to about
    # -1e6, where sigma = softplus(rho) underflows to 0: the next loss is not finite.
    x, y = regression_data()
    model = mv.Sequential(mv.Linear(3, 2, rng=np.random.default_rng(0)))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        history = mv.fit(model, x, y, mv.LearnedNoise(init_sigma=10.0), epochs=5, batch_size=10,
                         rng=np.random.default_rng(0), lr=1e6, verbose=False)
    assert assert_stopped_cleanly(history, 5) >= 2


def test_fit_stops_at_step_one_when_the_data_make_the_loss_infinite():
    x, y = regression_data()
    with np.errstate(over="ignore", invalid="ignore"):
        history = mv.fit(small_model(), x, 1e200 * np.ones_like(y), functools.partial(mv.gaussian_nll, noise_sigma=0.1),
                         epochs=3, batch_size=10, rng=np.random.default_rng(0), verbose=False)
    assert assert_stopped_cleanly(history, 3) == 1
    assert "inf" in history.stopped and len(history) == 0


def test_fit_with_learned_noise_optimises_its_rho():
    x, y = regression_data()
    noise = mv.LearnedNoise(init_sigma=1.0)
    history = mv.fit(small_model(), x, y, noise, epochs=3, batch_size=20, rng=np.random.default_rng(0),
                     lr=0.05, verbose=False)
    assert history.stopped is None and len(history) == 3
    assert noise.noise_sigma < 1.0   # residuals ~0.1-1 pull the noise down from its start at 1


def test_fit_refuses_an_optimizer_and_a_learning_rate_together():
    model = mv.Sequential(mv.Linear(1, 1, rng=np.random.default_rng(0)))
    optimizer = mv.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.raises(ValueError, match=r"both optimizer= and lr=5.0.*lr=0.001"):
        mv.fit(model, np.ones((4, 1)), np.ones((4, 1)), mv.LearnedNoise(), epochs=1, batch_size=4,
               rng=np.random.default_rng(1), optimizer=optimizer, lr=5.0, verbose=False)


# ---------------------------------------------------------------- an outside review's inputs


@pytest.mark.parametrize("kl_weight", [True, "0.5", np.array([0.5, 0.5]), [0.5]])
def test_a_kl_weight_that_is_not_one_number_is_named(kl_weight):
    model = mv.Sequential(mv.BayesLinear(2, 1, rng=np.random.default_rng(0)))
    nll = functools.partial(mv.gaussian_nll, noise_sigma=0.1)
    with pytest.raises(TypeError, match="kl_weight must be one non-negative finite number"):   # True was read as 1.0; others: numpy's errors
        mv.elbo_loss(model, np.ones((3, 2)), np.ones((3, 1)), nll, n_data=6, kl_weight=kl_weight)
    loss, info = mv.elbo_loss(model, np.ones((3, 2)), np.ones((3, 1)), nll, n_data=6, kl_weight=np.float32(0.5),
                              mode="mean")
    assert info["kl_weight"] == 0.5
    assert mv.elbo_loss(model, np.ones((3, 2)), np.ones((3, 1)), nll, n_data=6, kl_weight=np.array(0.25),
                        mode="mean")[1]["kl_weight"] == 0.25                 # a 0-d array is one number too
