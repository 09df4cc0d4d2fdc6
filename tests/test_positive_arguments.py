"""Every public argument that is one positive (or non-negative, or bounded) number follows one rule.

A standard deviation, a step size, a learning rate, a tolerance, a fraction... given
as anything but one real number (a bool, a string, None where None means nothing, an
array of several numbers) is a TypeError; NaN, inf, or a number outside the accepted
range is a ValueError; a standard deviation whose square the code uses is refused
below about 1e-154, where its square underflows. All go through
`minivi.nn.check_positive`, and every message names the argument and quotes the value.
NumPy scalars and 0-d arrays are numbers.
"""
import functools
import re

import numpy as np
import pytest

import minivi as mv
from minivi import data, evidence, exact, flat, fullcov, laplace, mcmc
from minivi.nn import SMALLEST_SQUARED_SCALE, check_positive

# Some calls stop later with a warning of their own (a point that is no mode, a coarse grid, too few draws):
# here only the argument checks matter.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

X = np.linspace(-1.0, 1.0, 8)[:, None]
Y = np.sin(3 * X)
NLL = functools.partial(mv.gaussian_nll, noise_sigma=0.1)
PHI, TARGETS = np.ones((4, 1)), np.zeros(4)
SAMPLES = np.zeros((3, 2, 1))


def rng():
    return np.random.default_rng(0)


def bayes_net():
    return mv.Sequential(mv.BayesLinear(1, 3, rng=rng()), mv.ReLU(), mv.BayesLinear(3, 1, rng=rng()))


def plain_net():
    return mv.Sequential(mv.Linear(1, 3, rng=rng()), mv.Tanh(), mv.Linear(3, 1, rng=rng()))


def params():
    return [mv.Tensor(np.ones(2), requires_grad=True)]


def log_prior(w):
    return -0.5 * (w * w).sum()


def fit_full_cov(**options):
    q = mv.FullCovGaussian(np.zeros(2), rng=rng())
    return mv.fit_full_cov(lambda w: -(w * w).sum(), q, **(dict(n_steps=1) | options))


def hmc(**options):
    return mcmc.hmc(log_prior, np.zeros((2, 1)), **(dict(n_samples=2, n_warmup=0, step_size=0.1, rng=rng()) | options))


def ais(**options):
    return evidence.ais(log_prior, log_prior, np.zeros((4, 1)), np.linspace(0, 1, 4), rng=rng(), **options)


def with_dropout(p):
    return mv.Sequential(mv.Dropout(p, rng=rng()), mv.Linear(1, 1, rng=rng()))


def a_laplace():
    return laplace.laplace(plain_net(), X, Y, noise_sigma=0.1)


# Kinds of range: which out-of-range values must be a ValueError.
OUTSIDE = {"> 0": [0.0, -1.0, -np.inf], ">= 0": [-1.0, -np.inf], "(0, 1)": [0.0, 1.0, -0.5, 1.5],
           "[0, 1)": [1.0, -0.5, 1.5]}

# (the call with the number in it, the argument's name, the range, the code squares it,
#  what else the argument takes besides one number: None (a meaningful default), an array
#  (one number per weight, chain or transition), a Tensor (gaussian_nll's learned noise))
INVENTORY = [
    (lambda v: mv.GaussianPrior(prior_sigma=v), "prior_sigma", "> 0", True, set()),
    (lambda v: mv.ScaleMixturePrior(pi=v), "pi", "(0, 1)", False, set()),
    (lambda v: mv.ScaleMixturePrior(sigma1=v), "sigma1", "> 0", True, set()),
    (lambda v: mv.ScaleMixturePrior(sigma2=v), "sigma2", "> 0", True, set()),
    (lambda v: mv.BayesLinear(1, 2, prior_sigma=v, rng=rng()), "prior_sigma", "> 0", True, set()),
    (lambda v: mv.BayesLinear(1, 2, init_sigma=v, rng=rng()), "init_sigma", "> 0", False, set()),
    (lambda v: mv.BayesConv2d(1, 1, 2, init_sigma=v, rng=rng()), "init_sigma", "> 0", False, set()),
    (lambda v: mv.Dropout(v, rng=rng()), "p", "[0, 1)", False, set()),
    (lambda v: mv.dropout_kl(with_dropout(0.1), prior_sigma=v), "prior_sigma", "> 0", True, set()),
    (lambda v: mv.gaussian_nll(Y, Y, v), "noise_sigma", "> 0", True, {"Tensor"}),
    (lambda v: mv.LearnedNoise(v), "init_sigma", "> 0", True, set()),
    (lambda v: mv.regression_uncertainty(SAMPLES, v), "noise_sigma", "> 0", True, set()),
    (lambda v: mv.gaussian_log_likelihood(SAMPLES, np.zeros((2, 1)), v), "noise_sigma", "> 0", True, set()),
    (lambda v: mv.elbo_loss(bayes_net(), X, Y, NLL, 8, kl_weight=v), "kl_weight", ">= 0", False, {"None"}),
    (lambda v: mv.optim.SGD(params(), lr=v), "lr", "> 0", False, set()),
    (lambda v: mv.optim.SGD(params(), lr=0.1, momentum=v), "momentum", "[0, 1)", False, set()),
    (lambda v: mv.optim.Adam(params(), lr=v), "lr", "> 0", False, set()),
    (lambda v: mv.optim.Adam(params(), betas=(v, 0.999)), "betas[0]", "[0, 1)", False, set()),
    (lambda v: mv.optim.Adam(params(), betas=(0.9, v)), "betas[1]", "[0, 1)", False, set()),
    (lambda v: mv.optim.Adam(params(), eps=v), "eps", ">= 0", False, set()),
    (lambda v: mv.fit(bayes_net(), X, Y, NLL, epochs=1, batch_size=4, rng=rng(), verbose=False, lr=v),
     "lr", "> 0", False, {"None"}),
    (lambda v: mv.FullCovGaussian(np.zeros(2), rng=rng(), prior_sigma=v), "prior_sigma", "> 0", True, set()),
    (lambda v: mv.FullCovGaussian(np.zeros(2), rng=rng(), init_sigma=v), "init_sigma", "> 0", False, {"array"}),
    (lambda v: fullcov.kl_full_cov(np.zeros(2), np.eye(2), v), "prior_sigma", "> 0", True, set()),
    (lambda v: fullcov.kl_full_cov_grads(np.zeros(2), np.eye(2), v), "prior_sigma", "> 0", True, set()),
    (lambda v: fullcov.kl_full_cov_op(mv.Tensor(np.zeros(2)), mv.Tensor(np.eye(2)), v), "prior_sigma", "> 0",
     True, set()),
    (lambda v: fit_full_cov(lr=v), "lr", "> 0", False, set()),
    (lambda v: fit_full_cov(scale_lr=v), "scale_lr", "> 0", False, {"None"}),
    (lambda v: fit_full_cov(average_last=v), "average_last", "[0, 1)", False, set()),
    (lambda v: exact.blr_posterior(PHI, TARGETS, v, 1.0), "prior_sigma", "> 0", True, set()),
    (lambda v: exact.blr_posterior(PHI, TARGETS, 1.0, v), "noise_sigma", "> 0", True, set()),
    (lambda v: exact.blr_log_evidence(PHI, TARGETS, v, 1.0), "prior_sigma", "> 0", True, set()),
    (lambda v: exact.blr_log_evidence(PHI, TARGETS, 1.0, v), "noise_sigma", "> 0", True, set()),
    (lambda v: exact.evidence_by_quadrature(PHI, TARGETS, v, 1.0), "prior_sigma", "> 0", True, set()),
    (lambda v: exact.evidence_by_quadrature(PHI, TARGETS, 1.0, v), "noise_sigma", "> 0", True, set()),
    (lambda v: exact.evidence_by_quadrature(PHI, TARGETS, 1.0, 1.0, half_width=v), "half_width", "> 0",
     False, {"None"}),
    (lambda v: exact.elbo_gaussian_q(PHI, TARGETS, v, 1.0, np.zeros(1), np.eye(1)), "prior_sigma", "> 0",
     True, set()),
    (lambda v: exact.elbo_gaussian_q(PHI, TARGETS, 1.0, v, np.zeros(1), np.eye(1)), "noise_sigma", "> 0",
     True, set()),
    (lambda v: flat.log_joint(plain_net(), X, Y, noise_sigma=v), "noise_sigma", "> 0", True, {"None"}),
    (lambda v: flat.log_joint(plain_net(), X, Y, noise_sigma=0.1, prior_sigma=v), "prior_sigma", "> 0",
     True, set()),
    (lambda v: flat.log_likelihood(plain_net(), X, Y, noise_sigma=v), "noise_sigma", "> 0", True, {"None"}),
    (lambda v: evidence.network_log_densities(plain_net(), X, Y, noise_sigma=0.1, prior_sigma=v), "prior_sigma",
     "> 0", True, set()),
    (lambda v: laplace.exact_hessian(log_prior, np.zeros(2), step=v), "step", "> 0", False, set()),
    (lambda v: laplace.ggn(plain_net(), np.zeros(10), X, noise_sigma=v, prior_sigma=1.0), "noise_sigma", "> 0",
     True, set()),
    (lambda v: laplace.ggn(plain_net(), np.zeros(10), X, noise_sigma=0.1, prior_sigma=v), "prior_sigma", "> 0",
     True, set()),
    (lambda v: laplace.find_mode(plain_net(), X, Y, noise_sigma=v, n_steps=1), "noise_sigma", "> 0",
     True, set()),
    (lambda v: laplace.find_mode(plain_net(), X, Y, noise_sigma=0.1, prior_sigma=v, n_steps=1), "prior_sigma",
     "> 0", True, set()),
    (lambda v: laplace.find_mode(plain_net(), X, Y, noise_sigma=0.1, n_steps=1, tol=v), "tol", "> 0",
     False, set()),
    (lambda v: laplace.laplace(plain_net(), X, Y, noise_sigma=v), "noise_sigma", "> 0", True, set()),
    (lambda v: laplace.laplace(plain_net(), X, Y, noise_sigma=0.1, prior_sigma=v), "prior_sigma", "> 0",
     True, set()),
    (lambda v: laplace.evidence_prior_precision(np.eye(2), np.ones(2), low=v), "low", "> 0", False, set()),
    (lambda v: laplace.evidence_prior_precision(np.eye(2), np.ones(2), high=v), "high", "> 0", False, set()),
    (lambda v: laplace.evidence_prior_precision(np.eye(2), np.ones(2), refit=lambda a: (np.ones(2), np.eye(2)),
                                                rtol=v), "rtol", "> 0", False, set()),
    (lambda v: a_laplace().with_prior_precision(v), "alpha", "> 0", False, set()),
    (lambda v: evidence.sigmoid_schedule(4, delta=v), "delta", "> 0", False, set()),
    (lambda v: evidence.geometric_schedule(4, start=v), "start", "(0, 1)", False, set()),
    (lambda v: ais(target_accept=v), "target_accept", "(0, 1)", False, set()),
    (lambda v: ais(step_size=v), "step_size", "> 0", False, {"None", "array"}),
    (lambda v: evidence.reverse_ais(log_prior, log_prior, np.zeros((4, 1)), np.linspace(0, 1, 4), rng=rng(),
                                    step_size=v), "step_size", "> 0", False, {"None", "array"}),
    (lambda v: mcmc.leapfrog(np.zeros(1), np.zeros(1), v, 1, lambda w: (0.0, -w)), "step_size", "> 0",
     False, {"array"}),
    (lambda v: hmc(step_size=v), "step_size", "> 0", False, {"None"}),
    (lambda v: hmc(target_accept=v), "target_accept", "(0, 1)", False, set()),
    (lambda v: hmc(trajectory_length=v, n_leapfrog=None), "trajectory_length", "> 0", False, set()),
    (lambda v: data.toy_curve(4, rng(), noise_sigma=v), "noise_sigma", ">= 0", False, set()),
    (lambda v: data.two_moons(4, rng(), noise_sigma=v), "noise_sigma", ">= 0", False, set()),
    (lambda v: data.linear_gaussian(4, rng(), [1.0], v), "noise_sigma", ">= 0", False, set()),
    (lambda v: data.linear_gaussian(4, rng(), [1.0], 0.1, x_scale=v), "x_scale", "> 0", False, set()),
    (lambda v: data.train_test_split(np.zeros((10, 1)), np.zeros(10), v, rng()), "test_fraction", "(0, 1)",
     False, set()),
]
IDS = [f"{name}-{i}" for i, (_, name, *_) in enumerate(INVENTORY)]


def wrong_types(also_takes):
    wrong = {"bool": True, "str": "0.5", "None": None, "array": np.array([0.5, 0.5]), "Tensor": mv.Tensor(0.5)}
    return [value for kind, value in wrong.items() if kind not in also_takes]


def not_refused(call, name, value):
    """The checker lets `value` through: the call runs, or stops later for a reason other than `name`'s value."""
    try:
        call(value)
    except (ValueError, TypeError, RuntimeError) as error:
        assert f"{name} must be" not in str(error), str(error)


CASES = [(entry, value) for entry in INVENTORY for value in wrong_types(entry[4])]


@pytest.mark.parametrize("entry, value", CASES, ids=[f"{IDS[INVENTORY.index(e)]}-{type(v).__name__}"
                                                     for e, v in CASES])
def test_a_value_that_is_not_one_number_is_a_type_error_naming_it(entry, value):
    call, name = entry[:2]
    with pytest.raises(TypeError) as info:
        call(value)
    message = str(info.value)
    assert f"{name} must be one " in message and f"of type {type(value).__name__}" in message


BAD_VALUES = [(entry, value) for entry in INVENTORY for value in [np.nan, np.inf] + OUTSIDE[entry[2]]]


@pytest.mark.parametrize("entry, value", BAD_VALUES, ids=[f"{IDS[INVENTORY.index(e)]}-{v}" for e, v in BAD_VALUES])
def test_nan_inf_or_out_of_range_is_a_value_error_naming_it(entry, value):
    call, name, accepted = entry[:3]
    with pytest.raises(ValueError) as info:
        call(value)
    message = str(info.value)
    assert f"{name} must be one " in message and accepted in message and f"got {value!r}" in message


SQUARED = [entry for entry in INVENTORY if entry[3]]


@pytest.mark.parametrize("entry", SQUARED, ids=[IDS[INVENTORY.index(e)] for e in SQUARED])
def test_a_scale_whose_square_underflows_is_refused(entry):
    call, name = entry[:2]
    with pytest.raises(ValueError, match=re.escape(name) + r" must be at least 1.49e-154 .*underflow"):
        call(1e-300)
    not_refused(call, name, 1e-150)   # just above the bound


@pytest.mark.parametrize("entry", INVENTORY, ids=IDS)
def test_numpy_scalars_and_0d_arrays_are_numbers(entry):
    call, name, accepted = entry[:3]
    inside = 0.5 if accepted in ("(0, 1)", "[0, 1)") else 0.1
    not_refused(call, name, np.float32(inside))
    not_refused(call, name, np.array(inside))


def test_check_positive_returns_a_python_float_and_states_the_range():
    assert check_positive(np.float32(0.5), "s") == 0.5 and type(check_positive(np.int64(2), "s")) is float
    assert check_positive(0, "s", closed=True) == 0.0
    assert check_positive(SMALLEST_SQUARED_SCALE, "s", squared=True) == SMALLEST_SQUARED_SCALE
    assert SMALLEST_SQUARED_SCALE ** 2 > 0 and (SMALLEST_SQUARED_SCALE / 2) ** 2 < np.finfo(float).tiny
    with pytest.raises(TypeError, match=r"^f: s must be one positive finite number \(> 0\), got True of type "
                                        r"bool; a scale$"):
        check_positive(True, "s", who="f", hint="a scale")
    with pytest.raises(ValueError, match=r"^s must be one finite number in \[0, 1\), got 1$"):
        check_positive(1, "s", closed=True, below=1.0)
    with pytest.raises(ValueError, match=r"^s must be one finite number \(> 2\), got 2$"):
        check_positive(2, "s", minimum=2.0)
    with pytest.raises(TypeError, match="got array"):
        check_positive(np.array([0.5]), "s")   # one element, but an array of one axis: not one number


# ---------------------------------------------------------------- the holes a review found, one by one


def test_dropout_kl_refuses_a_bool_prior_sigma():   # was read as 1
    with pytest.raises(TypeError, match="dropout_kl: prior_sigma must be one positive finite number"):
        mv.dropout_kl(with_dropout(0.1), prior_sigma=True)


def test_dropout_kl_refuses_a_prior_sigma_whose_square_underflows():   # was a ZeroDivisionError
    with pytest.raises(ValueError, match="dropout_kl: prior_sigma must be at least .* underflow"):
        mv.dropout_kl(with_dropout(0.1), prior_sigma=1e-300)


def test_sigmoid_schedule_names_a_delta_that_is_no_number():   # was NumPy's TypeError
    with pytest.raises(TypeError, match="sigmoid_schedule: delta must be one positive finite number"):
        evidence.sigmoid_schedule(4, delta="a")


def test_geometric_schedule_names_a_start_that_is_no_number():   # was Python's '<' TypeError
    with pytest.raises(TypeError, match=r"geometric_schedule: start must be one finite number in \(0, 1\)"):
        evidence.geometric_schedule(4, start="a")


def test_the_exact_formulas_refuse_a_bool_scale():   # exact._as_scale accepted True as 1
    with pytest.raises(TypeError, match="blr_posterior: prior_sigma must be one positive finite number"):
        exact.blr_posterior(PHI, TARGETS, True, 1.0)


@pytest.mark.parametrize("returned", [np.ones(2), (np.ones(2), np.eye(2), 0.0), None],
                         ids=["w_hat alone", "three things", "nothing"])
def test_evidence_prior_precision_names_a_refit_that_returns_no_pair(returned):
    # were an error about scalars' shapes (an array of two unpacked), "too many values to unpack", "cannot unpack"
    with pytest.raises(TypeError, match=r"refit\(alpha\) must return the pair \(w_hat, data_hessian\), got "
                                        + type(returned).__name__):
        laplace.evidence_prior_precision(np.eye(2), np.ones(2), refit=lambda alpha: returned)


@pytest.mark.parametrize("betas", [0.9, (0.9,), (0.9, 0.99, 0.999)])
def test_adam_betas_must_be_a_pair(betas):   # were "not iterable" or unpack errors that did not name betas
    with pytest.raises(TypeError, match=r"Adam: betas must be a pair \(beta1, beta2\)"):
        mv.optim.Adam(params(), betas=betas)
