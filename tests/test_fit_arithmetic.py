"""`fit`'s arithmetic and inputs: the KL weights of the schedule and the warm-up reach the loss, a
diverging fit stops without NumPy warnings, and inputs given as lists train exactly as arrays.

The hand-computed loss uses a model whose data term cannot move: one Bayesian
weight applied to x = 0 (no bias), so every prediction is exactly 0 and the
NLL of a minibatch is a constant. Only the KL then pulls on (mu, rho), and
plain SGD moves them by lr · π_i β · dKL/d(mu, rho) in closed form (step 5):
    dKL/dmu = mu,   dKL/drho = (sigma - 1/sigma) sigmoid(rho)      (prior N(0, 1)).
"""
import functools
import math
import warnings

import numpy as np
import pytest

import minivi as mv

NOISE = 0.5
NLL = functools.partial(mv.gaussian_nll, noise_sigma=NOISE)


def frozen_data_model(seed=3):
    return mv.Sequential(mv.BayesLinear(1, 1, rng=np.random.default_rng(seed), bias=False, init_sigma=0.3))


def hand_computed_history(mu, rho, y_batches, pis, betas, lr):
    """(loss, kl, nll) per epoch, stepping (mu, rho) by SGD on π_i β KL alone (the NLL does not depend on them)."""
    losses, kls, nlls = [], [], []
    for beta in betas:
        loss = nll_sum = 0.0
        for pi, y in zip(pis, y_batches):
            sigma = math.log1p(math.exp(rho))
            kl = -math.log(sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5
            nll = sum(v * v / (2 * NOISE ** 2) + math.log(NOISE) + 0.5 * math.log(2 * math.pi) for v in y)
            loss += pi * beta * kl + nll
            nll_sum += nll
            grad_mu, grad_rho = mu, (sigma - 1 / sigma) / (1 + math.exp(-rho))
            mu, rho = mu - lr * pi * beta * grad_mu, rho - lr * pi * beta * grad_rho
        losses.append(loss)
        kls.append(kl)          # the KL at the epoch's last step, before its update
        nlls.append(nll_sum)
    return losses, kls, nlls


@pytest.mark.parametrize("schedule, warmup_epochs, pis, betas", [
    ("blundell", 2, [8 / 15, 4 / 15, 2 / 15, 1 / 15], [0.5, 1.0, 1.0]),    # π_i = 2^(M-i) / (2^M - 1), M = 4
    ("uniform", 3, [0.25] * 4, [1 / 3, 2 / 3, 1.0]),                     # β = min(1, (epoch + 1) / warm-up)
    ("blundell", 0, [8 / 15, 4 / 15, 2 / 15, 1 / 15], [1.0, 1.0, 1.0]),    # no warm-up: β = 1
])
def test_the_kl_schedule_and_the_warm_up_reach_the_loss(schedule, warmup_epochs, pis, betas):
    y = np.full((8, 1), 0.7)                   # every minibatch has the same constant NLL, whatever the shuffle
    model = frozen_data_model()
    mu0, rho0 = model.layers[0].weight_mu.data.item(), model.layers[0].weight_rho.data.item()
    lr = 0.5
    history = mv.fit(model, np.zeros((8, 1)), y, NLL, epochs=3, batch_size=2, rng=np.random.default_rng(0),
                     optimizer=mv.optim.SGD(model.parameters(), lr=lr), kl_schedule=schedule,
                     warmup_epochs=warmup_epochs, verbose=False)
    losses, kls, nlls = hand_computed_history(mu0, rho0, [[0.7, 0.7]] * 4, pis, betas, lr)
    np.testing.assert_allclose(history.nll, nlls, rtol=1e-13)
    np.testing.assert_allclose(history.kl, kls, rtol=1e-12)
    np.testing.assert_allclose(history.loss, losses, rtol=1e-12)
    np.testing.assert_allclose(model.layers[0].weight_mu.data.item(),
                               mu0 * np.prod([1 - lr * p * b for b in betas for p in pis]), rtol=1e-12)


def test_a_diverging_fit_stops_without_a_single_numpy_warning(capsys):
    """lr = 1e6 sends the weights to ~1e6 after one step and the loss overflows: the stop message says so,
    and NumPy's overflow / invalid-value RuntimeWarnings on the way are not shown (the message replaces them)."""
    rng = np.random.default_rng(0)
    model = mv.Sequential(mv.BayesLinear(3, 16, rng=rng), mv.Tanh(), mv.BayesLinear(16, 1, rng=rng))
    x = rng.normal(size=(40, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # any RuntimeWarning fails the test
        history = mv.fit(model, x, x[:, :1] ** 2, functools.partial(mv.gaussian_nll, noise_sigma=1e-3),
                         epochs=20, batch_size=10, rng=np.random.default_rng(0), lr=1e150, verbose=False)
    assert history.stopped is not None and len(history) < 20
    assert "training stopped" in capsys.readouterr().err
    # Step 2's gradient is finite but above 1.3e154: Adam's g² would be inf and freeze the weight silently.
    assert "step 2" in history.stopped and "too large to square" in history.stopped, history.stopped


def test_a_loss_that_overflows_in_the_forward_stops_without_a_warning(capsys):
    """Targets of 1e200: (y - f)² overflows to inf at the first step, under fit's own errstate."""
    rng = np.random.default_rng(0)
    model = mv.Sequential(mv.BayesLinear(2, 1, rng=rng))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = mv.fit(model, rng.normal(size=(6, 2)), np.full((6, 1), 1e200), NLL, epochs=2, batch_size=3,
                         rng=np.random.default_rng(0), verbose=False)
    assert len(history) == 0 and "step 1" in history.stopped and "inf" in history.stopped
    assert history.stopped in capsys.readouterr().err


def test_inputs_and_targets_given_as_lists_train_exactly_as_arrays():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(12, 1))

    def train(x, y):
        model = mv.Sequential(mv.BayesLinear(2, 3, rng=np.random.default_rng(1)), mv.ReLU(),
                              mv.BayesLinear(3, 1, rng=np.random.default_rng(2)))
        history = mv.fit(model, x, y, NLL, epochs=3, batch_size=5, rng=np.random.default_rng(9), verbose=False)
        return history, mv.flat.parameters_to_vector(model)

    (h_array, w_array), (h_list, w_list) = train(x, y), train(x.tolist(), y.tolist())
    assert h_list.loss == h_array.loss and h_list.kl == h_array.kl and h_list.nll == h_array.nll
    np.testing.assert_array_equal(w_list, w_array)
    h_int, _ = train(np.round(x * 10).astype(int).tolist(), y)      # a list of ints: as floats
    h_float, _ = train(np.round(x * 10), y)
    assert h_int.loss == h_float.loss


@pytest.mark.parametrize("x, y, message", [
    (2.5, [1.0], "training inputs x are empty"),                   # a 0-d x
    ([[1.0]], 3.0, "training targets y are empty"),
    ([["a"]], [1.0], "training inputs x"),
])
def test_fit_refuses_zero_dimensional_or_non_numeric_data(x, y, message):
    with pytest.raises((ValueError, TypeError), match=message):
        mv.fit(frozen_data_model(), x, y, NLL, epochs=1, batch_size=1, rng=np.random.default_rng(0), verbose=False)


def test_a_collapsing_learned_noise_stops_the_fit_without_a_numpy_warning(capsys):
    """A first Adam step of 1e6 sends the noise's rho to about -1e6: sigma = 0, so the next loss divides by
    zero and its gradient is inf - inf (NaN). The stop message reports it; NumPy's warnings stay silent."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    model = mv.Sequential(mv.Linear(3, 1, rng=rng))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = mv.fit(model, x, x[:, :1], mv.LearnedNoise(init_sigma=10.0), epochs=5, batch_size=10,
                         rng=np.random.default_rng(0), lr=1e6, verbose=False)
    assert history.stopped is not None and "training stopped" in capsys.readouterr().err
