"""Every public argument that counts something follows one rule.

A count (epochs, batch_size, n_samples, n_steps, n_bins, a layer's sizes, ...)
given as the wrong type (a float, even 2.0; a bool; a string) is a TypeError; an
integer below the smallest count the argument accepts is a ValueError. Both
messages name the argument, quote the value and say what is accepted. NumPy
integers are integers.
"""
import functools

import numpy as np
import pytest

import minivi as mv
from minivi import data, evidence, exact, laplace, mcmc
from minivi.nn import check_count

X = np.linspace(-1.0, 1.0, 8)[:, None]
Y = np.sin(3 * X)
NLL = functools.partial(mv.gaussian_nll, noise_sigma=0.1)


def rng():
    return np.random.default_rng(0)


def bayes_net():
    return mv.Sequential(mv.BayesLinear(1, 3, rng=rng()), mv.ReLU(), mv.BayesLinear(3, 1, rng=rng()))


def plain_net():
    return mv.Sequential(mv.Linear(1, 3, rng=rng()), mv.Tanh(), mv.Linear(3, 1, rng=rng()))


def fit(**counts):
    kwargs = dict(epochs=1, batch_size=4, rng=rng(), verbose=False) | counts
    return mv.fit(bayes_net(), X, Y, NLL, **kwargs)


def fit_full_cov(**counts):
    q = mv.FullCovGaussian(np.zeros(2), rng=rng())
    return mv.fit_full_cov(lambda w: -(w * w).sum(), q, **(dict(n_steps=1) | counts))


def log_prior(w):
    return -0.5 * (w * w).sum()


def hmc(**counts):
    return mcmc.hmc(log_prior, np.zeros((2, 1)), **(dict(n_samples=4, n_warmup=0, step_size=0.1, rng=rng()) | counts))


def ais(**counts):
    return evidence.ais(log_prior, log_prior, np.zeros((4, 1)), np.linspace(0, 1, 4), rng=rng(), **counts)


def quadrature(n_grid):
    return exact.evidence_by_quadrature(np.ones((3, 1)), np.zeros(3), 1.0, 1.0, n_grid=n_grid)


IMAGES = np.zeros((1, 1, 4, 4))
KERNELS = np.zeros((1, 1, 2, 2))

# (the call with the count in it, the argument's name, the smallest count it accepts)
COUNTS = [
    (lambda n: fit(epochs=n), "epochs", 1),
    (lambda n: fit(batch_size=n), "batch_size", 1),
    (lambda n: fit(n_samples=n), "n_samples", 1),
    (lambda n: fit(print_every=n, verbose=True), "print_every", 1),
    (lambda n: fit(warmup_epochs=n), "warmup_epochs", 0),
    (lambda n: data.minibatches(n, 2, rng()), "n", 1),
    (lambda n: data.minibatches(10, n, rng()), "batch_size", 1),
    (lambda n: data.toy_curve(n, rng()), "n", 1),
    (lambda n: data.uci_splits(100, n), "n_splits", 1),
    (lambda n: mv.elbo_loss(bayes_net(), X, Y, NLL, 8, n_samples=n), "n_samples", 1),
    (lambda n: mv.elbo_loss(bayes_net(), X, Y, NLL, n), "n_data", 8),
    (lambda n: mv.kl_weights(n), "n_batches", 1),
    (lambda n: mv.warmup_factor(0, n), "warmup_epochs", 0),
    (lambda n: mv.warmup_factor(n, 3), "epoch", 0),
    (lambda n: bayes_net()(X, n_samples=n), "n_samples", 1),
    (lambda n: mv.predict(bayes_net(), X, n_samples=n), "n_samples", 1),
    (lambda n: mv.Linear(n, 2, rng=rng()), "in_features", 1),
    (lambda n: mv.BayesLinear(2, n, rng=rng()), "out_features", 1),
    (lambda n: mv.Conv2d(n, 2, 3, rng=rng()), "in_channels", 1),
    (lambda n: mv.BayesConv2d(1, n, 3, rng=rng()), "out_channels", 1),
    (lambda n: mv.conv2d(IMAGES, KERNELS, stride=n), "stride", 1),
    (lambda n: mv.conv2d(IMAGES, KERNELS, padding=n), "padding", 0),
    (lambda n: mv.max_pool2d(IMAGES, n), "kernel_size", 1),
    (lambda n: mv.expected_calibration_error(np.full((2, 2), 0.5), np.array([0, 1]), n_bins=n), "n_bins", 1),
    (lambda n: mv.reliability_curve(np.full((2, 2), 0.5), np.array([0, 1]), n_bins=n), "n_bins", 1),
    (lambda n: mv.FullCovGaussian(np.zeros(2), rng=rng()).sample(n), "n_samples", 1),
    (lambda n: fit_full_cov(n_steps=n), "n_steps", 1),
    (lambda n: fit_full_cov(n_samples=n), "n_samples", 1),
    (lambda n: fit_full_cov(print_every=n, verbose=True), "print_every", 1),
    (lambda n: laplace.find_mode(plain_net(), X, Y, noise_sigma=0.1, n_steps=n), "n_steps", 1),
    (lambda n: evidence.sigmoid_schedule(n), "n_steps", 1),
    (lambda n: evidence.geometric_schedule(n), "n_steps", 1),
    (lambda n: ais(n_leapfrog=n), "n_leapfrog", 1),
    (lambda n: ais(n_tune=n), "n_tune", 2),
    (lambda n: evidence.elbo(log_prior, log_prior, (np.zeros(1), np.ones(1)), n_samples=n, rng=rng()),
     "n_samples", 2),
    (lambda n: evidence.elbo(log_prior, log_prior, (np.zeros(1), np.ones(1)), batch_size=n, rng=rng()),
     "batch_size", 1),
    (lambda n: mcmc.leapfrog(np.zeros(1), np.zeros(1), 0.1, n, lambda w: (0.0, -w)), "n_steps", 0),
    (lambda n: hmc(n_samples=n), "n_samples", 1),
    (lambda n: hmc(n_warmup=n, step_size=None), "n_warmup", 0),
    (lambda n: hmc(max_leapfrog=n), "max_leapfrog", 1),
    (lambda n: hmc(n_leapfrog=n), "n_leapfrog", 1),
    (quadrature, "n_grid", 3),
]
IDS = [f"{name}-{i}" for i, (_, name, _) in enumerate(COUNTS)]


@pytest.mark.parametrize("call, name, minimum", COUNTS, ids=IDS)
@pytest.mark.parametrize("value", [2.5, 2.0, True, "3"])
def test_a_count_of_the_wrong_type_is_a_type_error_naming_it(call, name, minimum, value):
    with pytest.raises(TypeError) as info:
        call(value)
    message = str(info.value)
    assert f"{name} must be a whole number >= {minimum}" in message
    assert f"got {value!r} of type {type(value).__name__}" in message


@pytest.mark.parametrize("call, name, minimum", COUNTS, ids=IDS)
@pytest.mark.parametrize("below", [1, 2])
def test_an_integer_count_below_the_smallest_accepted_is_a_value_error_naming_it(call, name, minimum, below):
    value = minimum - below
    with pytest.raises(ValueError) as info:
        call(value)
    assert f"{name} must be a whole number >= {minimum}, got {value!r}" in str(info.value)


def test_check_count_returns_a_python_int_and_takes_numpy_integers():
    assert check_count(np.int64(3), "n") == 3 and type(check_count(np.int64(3), "n")) is int
    assert check_count(0, "n", 0) == 0
    with pytest.raises(TypeError, match=r"^hmc: n must be a whole number >= 1 \(an int\), got 1.0 of type float; "
                                        r"e\.g\. n=1$"):
        check_count(1.0, "n", who="hmc", hint="e.g. n=1")
    with pytest.raises(ValueError, match=r"^n must be a whole number >= 2, got 1; more\.$"):
        check_count(1, "n", 2, hint="more.")
