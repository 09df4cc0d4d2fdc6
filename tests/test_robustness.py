"""Robustness: every mistake gets a message that teaches, extremes stay finite, runs repeat exactly.

Four parts:
  1. A table of bad inputs. Each must raise the stated error type at the call
     where the mistake is made, with a message that names the problem and the
     fix (the fragments listed; a shape mismatch names both shapes).
  2. Numerical extremes (Hypothesis): rho in [-30, 30], mu up to ±1e3, logits up
     to ±1e3, noise scales from 1e-4 to 1e3. Losses and gradients must be
     finite AND equal to an independent NumPy computation of the same formulas.
  3. The training guard: `fit` stops at the first NaN/inf loss or gradient,
     names the step, the parameter and the likely causes, and returns the
     history so far without applying the bad update.
  4. Reproducibility: the same seed gives bit-identical histories, parameters
     and predictions; another seed gives different ones.
"""
import copy
import functools
import math

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from example_counts import Examples
import minivi as mv
from minivi.tensor import make_op

EXTREMES = Examples(plain=10, slow=25, deadline=None)   # plain run / `pytest -m slow`
LOG_2PI = np.log(2 * np.pi)


def floats(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    return mv.Sequential(mv.BayesLinear(2, 3, rng=rng), mv.ReLU(), mv.BayesLinear(3, 1, rng=rng))


NOISE = functools.partial(mv.gaussian_nll, noise_sigma=0.1)
X, Y = np.ones((4, 2)), np.ones((4, 1))
T = mv.Tensor


def with_bad_entry(shape, value, row=1):
    a = np.ones(shape)
    a[row] = value
    return a


def fit_small(x=X, y=Y, nll=NOISE, **kwargs):
    options = dict(epochs=1, batch_size=2, rng=np.random.default_rng(0), verbose=False)
    options.update(kwargs)
    return mv.fit(small_model(), x, y, nll, **options)


def backward_inside_no_grad():
    z = T(2.0, requires_grad=True) * 3.0
    with mv.no_grad():
        z.backward()


def categorical(labels, logits_shape=(4, 3)):
    return mv.categorical_nll(T(np.zeros(logits_shape)), labels)


# ---------------------------------------------------------------- 1. bad input -> a message that teaches

# (case id, call, error type, fragments the message must contain: the problem and the fix)
BAD_INPUTS = [
    ("elementwise op, shapes do not broadcast", lambda: T(np.ones(3)) + T(np.ones(4)),
     ValueError, ["(3,)", "(4,)", "broadcast"]),
    ("matmul, inner sizes differ", lambda: T(np.ones((2, 3))) @ T(np.ones((2, 3))),
     ValueError, ["(2, 3) @ (2, 3)", "last axis of the left (3)", "second-to-last of the right (2)"]),
    ("Linear, wrong number of input features", lambda: mv.Linear(2, 3, rng=np.random.default_rng(0))(np.ones((4, 3))),
     ValueError, ["Linear", "last axis has size 2", "(4, 3)", "reshape the data to (N, 2)"]),
    ("BayesLinear, a 1-D input", lambda: small_model()(np.ones(4)),
     ValueError, ["BayesLinear", "size 2", "(4,)", "reshape the data to (N, 2)"]),
    ("gaussian_nll, (N,) targets against (N, 1) predictions",
     lambda: mv.gaussian_nll(T(np.ones((4, 1))), np.ones(4), 0.1),
     ValueError, ["(4, 1)", "(4,)", "reshape the target to (N, 1)"]),
    ("gaussian_nll, targets of another shape", lambda: mv.gaussian_nll(T(np.ones((4, 2))), np.ones((4, 3)), 0.1),
     ValueError, ["(4, 2)", "(4, 3)", "do not match"]),
    ("fit, (N,) targets for a model with one output", lambda: fit_small(y=np.ones(4)),
     ValueError, ["targets of shape (2,)", "reshape the target to (N, 1)"]),
    ("categorical_nll, one label too many", lambda: categorical(np.zeros(5, int)),
     ValueError, ["(4, 3)", "(5,)", "labels of shape (N,) = (4,)"]),
    ("categorical_nll, one-hot labels", lambda: categorical(np.eye(3)[[0, 1, 2, 0]]),
     ValueError, ["(4, 3)", "labels.argmax(axis=1)"]),
    ("categorical_nll, label = number of classes", lambda: categorical(np.array([0, 1, 3, 0])),
     ValueError, ["0..2", "3 outputs", "to 3"]),
    ("categorical_nll, negative label", lambda: categorical(np.array([0, -1, 2, 0])),
     ValueError, ["0..2", "from -1"]),
    ("categorical_nll, fractional label", lambda: categorical(np.array([0, 1, 1.5, 0])),
     TypeError, ["integers 0..C-1", "astype(int)"]),
    ("categorical_nll, string labels", lambda: categorical(np.array(["a", "b", "c", "a"])),
     TypeError, ["integers 0..C-1", "<U1"]),
    ("fit, NaN in the inputs", lambda: fit_small(x=with_bad_entry((4, 2), np.nan)),
     ValueError, ["inputs x", "NaN or inf", "row 1", "clean or drop"]),
    ("fit, inf in the targets", lambda: fit_small(y=with_bad_entry((4, 1), np.inf)),
     ValueError, ["targets y", "NaN or inf", "row 1", "clean or drop"]),
    ("elbo_loss, NaN in the inputs", lambda: mv.elbo_loss(small_model(), with_bad_entry((4, 2), np.nan), Y, NOISE, 4),
     ValueError, ["inputs x", "NaN or inf", "row 1", "clean or drop"]),
    ("elbo_loss, -inf in the targets",
     lambda: mv.elbo_loss(small_model(), X, with_bad_entry((4, 1), -np.inf), NOISE, 4),
     ValueError, ["targets y", "NaN or inf", "row 1", "clean or drop"]),
    ("predict, NaN in the inputs", lambda: mv.predict(small_model(), with_bad_entry((4, 2), np.nan)),
     ValueError, ["inputs x", "NaN or inf", "clean or drop"]),
    ("BayesLinear, prior_sigma = 0", lambda: mv.BayesLinear(2, 3, prior_sigma=0.0, rng=np.random.default_rng(0)),
     ValueError, ["prior_sigma", "got 0.0", "positive finite number (> 0)"]),
    ("BayesLinear, prior_sigma < 0", lambda: mv.BayesLinear(2, 3, prior_sigma=-1.0, rng=np.random.default_rng(0)),
     ValueError, ["prior_sigma", "got -1.0", "positive finite number (> 0)"]),
    ("BayesLinear, init_sigma = 0", lambda: mv.BayesLinear(2, 3, init_sigma=0.0, rng=np.random.default_rng(0)),
     ValueError, ["init_sigma", "got 0.0", "positive finite number (> 0)"]),
    ("gaussian_nll, noise_sigma = 0", lambda: mv.gaussian_nll(T(Y), Y, 0.0),
     ValueError, ["noise_sigma", "got 0.0", "e.g. noise_sigma=0.1"]),
    ("gaussian_nll, noise_sigma = NaN", lambda: mv.gaussian_nll(T(Y), Y, float("nan")),
     ValueError, ["noise_sigma", "got nan", "e.g. noise_sigma=0.1"]),
    ("gaussian_nll, a negative noise_sigma Tensor", lambda: mv.gaussian_nll(T(Y), Y, T(-1.0)),
     ValueError, ["noise_sigma must be > 0", "softplus(rho)"]),
    ("LearnedNoise, init_sigma < 0", lambda: mv.LearnedNoise(-0.1),
     ValueError, ["init_sigma", "got -0.1", "e.g. init_sigma=0.1"]),
    ("ScaleMixturePrior, pi = 0", lambda: mv.ScaleMixturePrior(pi=0.0),
     ValueError, ["pi", "in (0, 1)", "got 0.0", "GaussianPrior"]),
    ("ScaleMixturePrior, pi = 1", lambda: mv.ScaleMixturePrior(pi=1.0),
     ValueError, ["pi", "in (0, 1)", "got 1.0", "GaussianPrior"]),
    ("ScaleMixturePrior, pi = 1.5", lambda: mv.ScaleMixturePrior(pi=1.5),
     ValueError, ["in (0, 1)", "got 1.5"]),
    ("ScaleMixturePrior, sigma2 = 0", lambda: mv.ScaleMixturePrior(sigma2=0.0),
     ValueError, ["sigma2", "got 0.0", "positive finite number (> 0)"]),
    ("elbo_loss, n_samples = 0", lambda: mv.elbo_loss(small_model(), X, Y, NOISE, 4, n_samples=0),
     ValueError, ["n_samples", "whole number >= 1", "got 0"]),
    ("model call, n_samples = -2", lambda: small_model()(X, n_samples=-2),
     ValueError, ["n_samples", "whole number >= 1", "got -2"]),
    ("predict, n_samples = 2.5", lambda: mv.predict(small_model(), X, n_samples=2.5),
     TypeError, ["n_samples", "whole number >= 1", "got 2.5"]),
    ("fit, n_samples = 0", lambda: fit_small(n_samples=0),
     ValueError, ["n_samples", "whole number >= 1", "got 0"]),
    ("Tensor of Python objects", lambda: T(np.array([1.0, None])),
     TypeError, ["real numbers", "dtype object", "Python objects", "np.asarray(..., dtype=float)"]),
    ("Tensor of complex numbers", lambda: T(np.array([1 + 2j])),
     TypeError, ["real numbers", "complex128", "complex numbers"]),
    ("Tensor of strings", lambda: T(["1.5", "2"]),
     TypeError, ["real numbers", "<U3", "strings"]),
    ("fit, string inputs", lambda: fit_small(x=np.array([["a", "b"]] * 4)),
     TypeError, ["inputs x", "dtype <U1", "np.asarray(..., dtype=float)"]),
    ("fit, complex targets", lambda: fit_small(y=Y * 1j),
     TypeError, ["targets y", "complex128", "np.asarray(..., dtype=float)"]),
    ("fit, object targets", lambda: fit_small(y=np.array([[1.0], [None], [2.0], [3.0]], dtype=object)),
     TypeError, ["targets y", "dtype object"]),
    ("fit, a Tensor instead of an array", lambda: fit_small(x=T(X)),
     TypeError, ["inputs x", "NumPy array", "t.data"]),
    ("fit, no examples", lambda: fit_small(x=np.zeros((0, 2)), y=np.zeros((0, 1))),
     ValueError, ["empty", "(0, 2)", "at least one example"]),
    ("elbo_loss, an empty minibatch", lambda: mv.elbo_loss(small_model(), np.zeros((0, 2)), np.zeros((0, 1)), NOISE, 4),
     ValueError, ["empty", "(0, 2)", "at least one example"]),
    ("fit, fewer targets than inputs", lambda: fit_small(y=Y[:3]),
     ValueError, ["(4, 2)", "(3, 1)", "one target per input"]),
    ("elbo_loss, n_data smaller than the minibatch", lambda: mv.elbo_loss(small_model(), X, Y, NOISE, 2),
     ValueError, ["n_data", "whole training set", "got 2"]),
    ("backward() on a non-scalar", lambda: (T(np.ones(3), requires_grad=True) * 2).backward(),
     ValueError, ["scalar", "shape (3,)", ".sum()", "backward(grad)"]),
    ("backward(grad) with a gradient of the wrong shape",
     lambda: (T(np.ones(3), requires_grad=True) * 2).backward(np.ones(2)),
     ValueError, ["(2,)", "(3,)", "output's shape"]),
    ("backward() inside no_grad", backward_inside_no_grad,
     RuntimeError, ["no_grad", "call it outside"]),
    ("backward() with nothing to differentiate", lambda: (T(1.0) * 2).backward(),
     RuntimeError, ["requires_grad=True"]),
    ("optimiser with no parameters", lambda: mv.optim.Adam([], lr=0.1),
     ValueError, ["no parameters", "model.parameters()"]),
    ("optimiser given the model", lambda: mv.optim.SGD(small_model(), lr=0.1),
     TypeError, ["model.parameters()", "not a Sequential"]),
    ("optimiser given model.parameters uncalled", lambda: mv.optim.Adam(small_model().parameters, lr=0.1),
     TypeError, ["model.parameters()", "with the brackets"]),
    ("optimiser given a constant Tensor", lambda: mv.optim.SGD([T(1.0)], lr=0.1),
     TypeError, ["requires_grad=True"]),
    ("learning rate = 0", lambda: mv.optim.Adam(small_model().parameters(), lr=0.0),
     ValueError, ["learning rate", "lr must be one positive", "got 0.0"]),
    ("Sequential given a class", lambda: mv.Sequential(mv.ReLU),
     TypeError, ["class ReLU", "ReLU(...)"]),
    ("Sequential given a function", lambda: mv.Sequential(np.tanh),
     TypeError, ["Modules", "mv.ReLU()/mv.Tanh()"]),
    ("BayesLinear with 0 inputs", lambda: mv.BayesLinear(0, 3, rng=np.random.default_rng(0)),
     ValueError, ["in_features", "whole number >= 1", "got 0"]),
    ("Linear with 2.5 outputs", lambda: mv.Linear(2, 2.5, rng=np.random.default_rng(0)),
     TypeError, ["out_features", "whole number >= 1", "got 2.5"]),
    ("layer without a Generator", lambda: mv.BayesLinear(2, 3, rng=42),
     TypeError, ["rng=np.random.default_rng(seed)", "got int"]),
    ("fit without a Generator", lambda: fit_small(rng=None),
     TypeError, ["rng=np.random.default_rng(seed)", "NoneType"]),
    ("fit, epochs = 0", lambda: fit_small(epochs=0),
     ValueError, ["epochs", "whole number >= 1", "got 0"]),
    ("fit, batch_size = 0", lambda: fit_small(batch_size=0),
     ValueError, ["batch_size", "whole number >= 1", "got 0"]),
    ("fit, gaussian_nll without noise_sigma", lambda: fit_small(nll=mv.gaussian_nll),
     TypeError, ["noise_sigma", "functools.partial(mv.gaussian_nll, noise_sigma=0.1)", "mv.LearnedNoise()"]),
    ("elbo_loss, nll is not a function", lambda: mv.elbo_loss(small_model(), X, Y, 0.1, 4),
     TypeError, ["nll must be a function", "got float", "mv.categorical_nll"]),
    ("an unknown sampling mode", lambda: small_model()(X, mode="mu"),
     ValueError, ["mode must be one of", "'sample'", "'mean'", "'mu'"]),
    ("elbo_loss, negative kl_weight", lambda: mv.elbo_loss(small_model(), X, Y, NOISE, 4, kl_weight=-1.0),
     ValueError, ["kl_weight", ">= 0", "got -1.0"]),
    ("an unknown KL schedule", lambda: fit_small(kl_schedule="linear"),
     ValueError, ["'linear'", "'uniform' or 'blundell'"]),
]


@pytest.mark.parametrize("call, error, fragments", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_gets_a_message_naming_the_problem_and_the_fix(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    missing = [f for f in fragments if f not in message]
    assert not missing, f"message {message!r} lacks {missing}"


def test_the_table_covers_every_kind_of_mistake_the_issue_lists():
    assert len(BAD_INPUTS) >= 20
    assert len({case[0] for case in BAD_INPUTS}) == len(BAD_INPUTS)


def parameter_bits(model):
    return [p.data.copy() for p in model.parameters()]


def test_fit_refuses_bad_data_before_training_a_single_step():
    # The NaN sits in the LAST row: fit must find it before any update, not at
    # the minibatch that holds it, so the model is untouched.
    model = small_model()
    before = parameter_bits(model)
    x = np.ones((40, 2))
    x[-1, 0] = np.nan
    with pytest.raises(ValueError, match="row 39"):
        mv.fit(model, x, np.ones((40, 1)), NOISE, epochs=1, batch_size=8, rng=np.random.default_rng(0), verbose=False)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


# ---------------------------------------------------------------- 2. numerical extremes


def softplus_ref(rho):
    return np.log1p(np.exp(rho))        # the naive form is exact enough for rho <= 30 (e^30 ≈ 1e13)


def sigmoid_ref(rho):
    return 1.0 / (1.0 + np.exp(-rho))   # no overflow for |rho| <= 30


def kl_ref(mu, sigma, prior_sigma):
    """Closed-form KL[N(mu, sigma²) || N(0, s²)] per weight and its (mu, sigma) gradients, written out."""
    value = np.log(prior_sigma / sigma) + (sigma ** 2 + mu ** 2) / (2 * prior_sigma ** 2) - 0.5
    return value.sum(), mu / prior_sigma ** 2, -1.0 / sigma + sigma / prior_sigma ** 2


def assert_close_to_reference(engine, reference, scale, what):
    """Engine and reference do the same float64 arithmetic in a different order, summing at most a few
    dozen terms: they agree to ~1e-14 of the size of the terms ("scale"). 1e-10 leaves room for
    that and still fails any wrong formula, which is off by O(1) of the terms."""
    assert np.all(np.isfinite(engine)), f"{what} is not finite: {engine}"
    np.testing.assert_allclose(engine, reference, rtol=0, atol=1e-10 * np.max(scale) + 1e-300, err_msg=what)


rhos = lambda shape: hnp.arrays(np.float64, shape, elements=floats(-30, 30))    # noqa: E731
mus = lambda shape: hnp.arrays(np.float64, shape, elements=floats(-1e3, 1e3))   # noqa: E731
noise_scales = st.floats(-4, 3).map(lambda e: 10.0 ** e)                        # 1e-4 .. 1e3, log-uniform


@EXTREMES.given(weight_mu=mus((3, 2)), weight_rho=rhos((3, 2)), bias_mu=mus((2,)), bias_rho=rhos((2,)),
       noise_sigma=noise_scales, prior_sigma=noise_scales,
       x=hnp.arrays(np.float64, (4, 3), elements=floats(-2, 2)),
       y=hnp.arrays(np.float64, (4, 2), elements=floats(-10, 10)))
def test_bayes_linear_elbo_is_finite_and_exact_at_extreme_parameters(weight_mu, weight_rho, bias_mu, bias_rho,
                                                                     noise_sigma, prior_sigma, x, y):
    n_samples, kl_weight = 2, 0.25
    layer = mv.BayesLinear(3, 2, prior_sigma=prior_sigma, rng=np.random.default_rng(0))
    for name, value in (("weight_mu", weight_mu), ("weight_rho", weight_rho),
                        ("bias_mu", bias_mu), ("bias_rho", bias_rho)):
        getattr(layer, name).data[...] = value
    replay = copy.deepcopy(layer.rng)   # the same eps the layer is about to draw
    nll = functools.partial(mv.gaussian_nll, noise_sigma=noise_sigma)
    loss, info = mv.elbo_loss(layer, x, y, nll, n_data=16, n_samples=n_samples, kl_weight=kl_weight)
    loss.backward()

    # The same loss and gradients, written out in NumPy (steps 4-7) with the replayed eps.
    eps_w, eps_b = replay.standard_normal((n_samples, 3, 2)), replay.standard_normal((n_samples, 1, 2))
    sigma_w, sigma_b = softplus_ref(weight_rho), softplus_ref(bias_rho)
    residual = x @ (weight_mu + sigma_w * eps_w) + (bias_mu + sigma_b * eps_b) - y       # (S, N, 2)
    data_term = ((residual ** 2).sum() / (2 * noise_sigma ** 2)
                 + residual.size * (np.log(noise_sigma) + 0.5 * LOG_2PI)) / n_samples
    kl_w, kl_w_mu, kl_w_sigma = kl_ref(weight_mu, sigma_w, prior_sigma)
    kl_b, kl_b_mu, kl_b_sigma = kl_ref(bias_mu, sigma_b, prior_sigma)
    grad_pred = residual / (noise_sigma ** 2 * n_samples)
    grad_w = np.swapaxes(x, -1, -2) @ grad_pred                                           # (S, 3, 2)
    grad_b = grad_pred.sum(axis=1, keepdims=True)                                         # (S, 1, 2)
    data_scale = np.abs(residual).sum() * np.abs(grad_pred).max()

    assert_close_to_reference(loss.data, kl_weight * (kl_w + kl_b) + data_term,
                              [abs(kl_w) + abs(kl_b), abs(data_term), data_scale], "loss")
    assert_close_to_reference(layer.weight_mu.grad, grad_w.sum(0) + kl_weight * kl_w_mu,
                              [np.abs(grad_w).sum(), np.abs(kl_w_mu).max()], "dF/dweight_mu")
    assert_close_to_reference(layer.bias_mu.grad, grad_b.sum((0, 1)) + kl_weight * kl_b_mu,
                              [np.abs(grad_b).sum(), np.abs(kl_b_mu).max()], "dF/dbias_mu")
    rho_terms = ((grad_w * eps_w).sum(0), kl_weight * kl_w_sigma)
    assert_close_to_reference(layer.weight_rho.grad, (rho_terms[0] + rho_terms[1]) * sigmoid_ref(weight_rho),
                              [np.abs(grad_w * eps_w).sum(), np.abs(rho_terms[1] * sigmoid_ref(weight_rho)).max()],
                              "dF/dweight_rho")
    rho_terms = ((grad_b * eps_b).sum((0, 1)), kl_weight * kl_b_sigma)
    assert_close_to_reference(layer.bias_rho.grad, (rho_terms[0] + rho_terms[1]) * sigmoid_ref(bias_rho),
                              [np.abs(grad_b * eps_b).sum(), np.abs(rho_terms[1] * sigmoid_ref(bias_rho)).max()],
                              "dF/dbias_rho")


@EXTREMES.given(weight_mu=mus((3, 2)), weight_rho=rhos((3, 2)), bias_rho=rhos((2,)), bias=st.booleans(),
       zero_row=st.integers(0, 3), x=hnp.arrays(np.float64, (4, 3), elements=floats(-2, 2)),
       upstream=hnp.arrays(np.float64, (4, 2), elements=floats(-1e3, 1e3)))
def test_local_bayes_linear_is_finite_and_exact_at_extremes_and_on_zero_rows(weight_mu, weight_rho, bias_rho, bias,
                                                                             zero_row, x, upstream):
    # An all-zero input row without a bias gives output variance exactly 0, where
    # d sqrt(v)/dv = inf; the output does not depend on sigma there, so the
    # gradient must be the limit 0, not inf * 0 = NaN.
    x = x.copy()
    x[zero_row] = 0.0
    layer = mv.LocalBayesLinear(3, 2, rng=np.random.default_rng(0), bias=bias)
    layer.weight_mu.data[...], layer.weight_rho.data[...] = weight_mu, weight_rho
    if bias:
        layer.bias_rho.data[...] = bias_rho
    replay = copy.deepcopy(layer.rng)
    out = layer(x)
    (out * upstream).sum().backward()

    eps = replay.standard_normal((4, 2))
    sigma_w, sigma_b = softplus_ref(weight_rho), softplus_ref(bias_rho) if bias else np.zeros(2)
    std = np.sqrt((x ** 2) @ sigma_w ** 2 + sigma_b ** 2)                                 # (N, 2)
    assert_close_to_reference(out.data, x @ weight_mu + std * eps,
                              [np.abs(x) @ np.abs(weight_mu) + std * np.abs(eps)], "output")
    # d std_nj / d sigma_ij = x_ni² sigma_ij / std_nj, and 0 where std_nj = 0 (then x_n = 0).
    share = np.divide(upstream * eps, std, out=np.zeros_like(std), where=std > 0)        # g eps / std
    grad_sigma_w = (x ** 2).T @ share * sigma_w
    assert_close_to_reference(layer.weight_mu.grad, x.T @ upstream, [np.abs(x).T @ np.abs(upstream)], "dF/dmu")
    assert_close_to_reference(layer.weight_rho.grad, grad_sigma_w * sigmoid_ref(weight_rho),
                              [(x ** 2).T @ np.abs(share) * sigma_w * sigmoid_ref(weight_rho)], "dF/drho")
    if bias:
        grad_rho_b = share.sum(0) * sigma_b * sigmoid_ref(bias_rho)
        assert_close_to_reference(layer.bias_rho.grad, grad_rho_b,
                                  [np.abs(share).sum(0) * sigma_b * sigmoid_ref(bias_rho)], "dF/dbias_rho")


def test_local_bayes_linear_gradient_on_a_zero_row_passes_gradcheck():
    # At moderate values central differences are a judge: with a zero input row
    # the output std of that row is |x|-shaped (even in x), so the central
    # difference is 0 there, which is the subgradient the layer uses.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4))
    x[1] = 0.0
    layer = mv.LocalBayesLinear(4, 2, rng=rng, bias=False)
    upstream = rng.normal(size=(3, 2))

    def f(mu, rho, inputs):
        layer.weight_mu, layer.weight_rho, layer.rng = mu, rho, np.random.default_rng(11)
        return (layer(inputs) * upstream).sum()

    assert mv.gradcheck(f, rng.normal(size=(4, 2)), rng.normal(size=(4, 2)), x)


@EXTREMES.given(logits=hnp.arrays(np.float64, (3, 4), elements=floats(-1e3, 1e3)),
       labels=hnp.arrays(np.int64, (3,), elements=st.integers(0, 3)))
def test_categorical_nll_is_exact_for_huge_logits(logits, labels):
    z = mv.Tensor(logits, requires_grad=True)
    loss = mv.categorical_nll(z, labels)
    loss.backward()
    # Independent reference with Python's math module: lse = m + log Σ exp(z - m).
    value, grad, scale = 0.0, np.zeros_like(logits), 0.0
    for n, row in enumerate(logits):
        m = max(row)
        lse = m + math.log(math.fsum(math.exp(v - m) for v in row))
        value += lse - row[labels[n]]
        scale += abs(lse) + abs(row[labels[n]])
        grad[n] = [math.exp(v - lse) for v in row]
        grad[n, labels[n]] -= 1.0
    assert_close_to_reference(loss.data, value, [scale], "categorical_nll")
    assert_close_to_reference(z.grad, grad, [1.0], "d categorical_nll / d logits = softmax - one_hot")
    assert np.allclose(z.grad.sum(axis=1), 0.0, atol=1e-12)   # softmax sums to 1, minus one 1


@EXTREMES.given(pred=hnp.arrays(np.float64, (2, 5, 1), elements=floats(-1e3, 1e3)),
       target=hnp.arrays(np.float64, (5, 1), elements=floats(-1e3, 1e3)),
       rho=floats(-30, 30), noise_sigma=noise_scales)
def test_gaussian_nll_is_exact_for_tiny_and_huge_noise(pred, target, rho, noise_sigma):
    # A fixed noise_sigma from 1e-4 to 1e3 ...
    f = mv.Tensor(pred, requires_grad=True)
    loss = mv.gaussian_nll(f, target, noise_sigma)
    loss.backward()
    r = pred - target
    expected = (r ** 2).sum() / (2 * noise_sigma ** 2) + r.size * (np.log(noise_sigma) + 0.5 * LOG_2PI)
    assert_close_to_reference(loss.data, expected, [(r ** 2).sum() / noise_sigma ** 2, r.size * 10], "gaussian_nll")
    assert_close_to_reference(f.grad, r / noise_sigma ** 2, [np.abs(r).max() / noise_sigma ** 2], "d nll / d pred")
    # ... and a learned one, sigma = softplus(rho) with rho in [-30, 30] (sigma from 1e-13 to 30):
    # d nll / d rho = (n / sigma - Σ r² / sigma³) * sigmoid(rho).
    noise = mv.LearnedNoise()
    noise.rho.data[...] = rho
    learned = noise(pred, target)
    learned.backward()
    sigma = softplus_ref(rho)
    expected_grad = (r.size / sigma - (r ** 2).sum() / sigma ** 3) * sigmoid_ref(rho)
    assert np.isfinite(learned.data)
    assert_close_to_reference(noise.rho.grad, expected_grad,
                              [(r.size / sigma + (r ** 2).sum() / sigma ** 3) * sigmoid_ref(rho)], "d nll / d rho")


@EXTREMES.given(mu=mus((3, 2)), rho=rhos((3, 2)))
def test_scale_mixture_kl_is_finite_at_extreme_parameters(mu, rho):
    layer = mv.BayesLinear(3, 2, rng=np.random.default_rng(0), prior=mv.ScaleMixturePrior(), bias=False)
    layer.weight_mu.data[...], layer.weight_rho.data[...] = mu, rho
    replay = np.random.default_rng(layer._kl_seed)   # the KL's own generator, seeded by the layer
    kl = layer.kl()
    kl.backward()
    prior = layer.prior
    # The same Monte Carlo estimate from the array-level formula (one eps draw, replayed).
    expected = mv.gaussian.kl_mixture_mc(mu, softplus_ref(rho), replay.standard_normal((3, 2)),
                                         prior.pi, prior.sigma1, prior.sigma2)
    assert np.isfinite(kl.data) and np.isclose(kl.data, expected, rtol=1e-10, atol=0)
    assert np.all(np.isfinite(layer.weight_mu.grad)) and np.all(np.isfinite(layer.weight_rho.grad))


# ---------------------------------------------------------------- 3. the training guard


def regression_data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    return x, np.sin(x.sum(axis=1, keepdims=True))


class BreaksAtCall:
    """An nll that works until call `k`, where it returns NaN; it records the parameters at that moment."""

    def __init__(self, model, k):
        self.model, self.k, self.calls, self.params_at_break = model, k, 0, None

    def __call__(self, pred, target):
        self.calls += 1
        loss = NOISE(pred, target)
        if self.calls == self.k:
            self.params_at_break = parameter_bits(self.model)
            return loss * np.nan
        return loss


def test_fit_stops_at_the_first_nan_loss_names_the_step_and_keeps_the_history(capsys):
    x, y = regression_data(20)
    model = small_model()
    nll = BreaksAtCall(model, k=7)        # 20 points in batches of 5: 4 steps an epoch, so step 7 is in epoch 2
    history = mv.fit(model, x, y, nll, epochs=5, batch_size=5, rng=np.random.default_rng(0), verbose=False)
    assert nll.calls == 7                 # nothing ran after the bad step
    assert len(history) == 1 and len(history.kl) == 1 and len(history.nll) == 1
    assert np.all(np.isfinite(history.loss + history.kl + history.nll))
    for fragment in ("epoch 2, step 7", "the loss is nan", "learning rate", "rho", "standardise x and y"):
        assert fragment in history.stopped
    assert history.stopped in capsys.readouterr().err
    # The bad step was not applied: the parameters are those the broken loss saw.
    assert all(np.array_equal(a, p.data) for a, p in zip(nll.params_at_break, model.parameters()))


def inf_gradient(t):
    """Identity on values, but an infinite gradient: a loss that is finite while its gradient is not."""
    return make_op("inf_gradient", t.data, (t,), (lambda g: np.full(t.shape, np.inf),))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # inf * 0 on the way back, on purpose
def test_fit_stops_at_an_infinite_gradient_and_names_the_parameter():
    x, y = regression_data(8)
    history = mv.fit(small_model(), x, y, lambda pred, target: NOISE(inf_gradient(pred), target), epochs=3,
                     batch_size=4, rng=np.random.default_rng(0), verbose=False)
    assert len(history) == 0
    assert "epoch 1, step 1" in history.stopped
    # every gradient is broken; the first parameter checked is the model's first
    assert "the gradient of layers.0.weight_mu (shape (2, 3)) has NaN or inf" in history.stopped


class NoiseWithBrokenGradient(mv.LearnedNoise):
    def __call__(self, pred, target):
        return mv.gaussian_nll(pred, target, inf_gradient(self.rho.softplus()))


def test_fit_names_a_broken_learned_noise_parameter():
    x, y = regression_data(8)
    history = mv.fit(small_model(), x, y, NoiseWithBrokenGradient(), epochs=2, batch_size=8,
                     rng=np.random.default_rng(0), verbose=False)
    assert "the gradient of nll.rho (shape ()) has NaN or inf" in history.stopped


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the overflow is the point
def test_fit_stops_when_the_data_scale_overflows_the_loss():
    x, y = regression_data(8)
    history = mv.fit(small_model(), x, y * 1e200, NOISE, epochs=2, batch_size=4,
                     rng=np.random.default_rng(0), verbose=False)
    assert len(history) == 0
    assert "epoch 1, step 1: the loss is inf" in history.stopped


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the divergence is the point
def test_fit_stops_a_diverging_run_before_any_nan_reaches_the_history():
    # Plain SGD with a learning rate too large for gradients of size 1/noise_sigma² = 100:
    # rho is pushed so far down that sigma underflows to 0 and the KL (-log sigma) becomes inf.
    x, y = regression_data(16)
    model = small_model()
    history = mv.fit(model, x, y, NOISE, epochs=100, batch_size=4, rng=np.random.default_rng(0), verbose=False,
                     optimizer=mv.optim.SGD(model.parameters(), lr=0.1))
    assert history.stopped is not None and 0 < len(history) < 100
    assert "the loss is inf" in history.stopped
    assert np.all(np.isfinite(history.loss + history.kl + history.nll))
    assert all(np.all(np.isfinite(p.data)) for p in model.parameters())


def test_a_healthy_run_is_not_stopped():
    x, y = regression_data(16)
    history = mv.fit(small_model(), x, y, NOISE, epochs=3, batch_size=4, rng=np.random.default_rng(0), verbose=False)
    assert history.stopped is None and len(history) == 3


def mixture_prior_model(rng):
    prior = mv.ScaleMixturePrior(0.5, 1.0, 0.01)
    return mv.Sequential(mv.BayesLinear(2, 3, rng=rng, prior=prior), mv.Tanh(),
                         mv.BayesLinear(3, 1, rng=rng, prior=prior))


@pytest.mark.parametrize("n_samples", [1, 3])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NaN arithmetic on the way, on purpose
def test_a_nan_weight_under_a_mixture_prior_reaches_fits_stop_message(n_samples):
    """The Monte Carlo KL of the scale-mixture prior reads log p(w) at a sampled w: a NaN there must
    give a NaN loss and fit's own message, not a ValueError from an input check deep inside."""
    x, y = regression_data(8)
    model = mixture_prior_model(np.random.default_rng(0))
    model.layers[0].weight_mu.data[0, 0] = np.nan
    history = mv.fit(model, x, y, NOISE, epochs=2, batch_size=4, rng=np.random.default_rng(0), verbose=False,
                     n_samples=n_samples)
    assert len(history) == 0 and "epoch 1, step 1: the loss is nan" in history.stopped


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # logaddexp(nan, nan), on purpose
def test_the_mixture_log_density_checks_its_input_unless_told_not_to():
    w = np.array([0.1, np.nan])
    with pytest.raises(ValueError, match="w contains NaN"):
        mv.gaussian.log_scale_mixture_pdf(w, 0.5, 1.0, 0.1)
    with pytest.raises(ValueError, match="w contains NaN"):
        mv.gaussian.log_normal_pdf(w, 0.0, 1.0)
    unchecked = mv.gaussian.log_scale_mixture_pdf(w, 0.5, 1.0, 0.1, validate=False)
    assert unchecked[0] == mv.gaussian.log_scale_mixture_pdf(0.1, 0.5, 1.0, 0.1) and np.isnan(unchecked[1])
    assert np.isnan(mv.gaussian.log_normal_pdf(w, 0.0, 1.0, validate=False)[1])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fit_full_cov_stops_at_a_nan_that_appears_with_several_samples(capsys):
    """A log-likelihood that turns NaN once q has moved (here: beyond |w_0| > 0.3), S = 4 samples a step."""
    def log_likelihood(w):
        r = w - 1.0
        value = (r * r).sum(axis=-1) * -50.0
        return value * np.where(np.abs(w.data[..., 0]) > 0.3, np.nan, 1.0)
    log_likelihood.vectorized = True
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0), init_sigma=0.01)
    history = mv.fit_full_cov(log_likelihood, q, n_steps=200, lr=0.05, n_samples=4)
    assert history.stopped is not None and "the loss is nan" in history.stopped
    assert 0 < len(history) < 200 and np.all(np.isfinite(history.loss))      # good steps first, then the stop
    assert history.stopped in capsys.readouterr().err


def test_print_every_zero_is_refused_with_the_way_to_print_nothing():
    x, y = regression_data(8)
    with pytest.raises(ValueError, match=r"print_every must be a whole number >= 1, got 0.*verbose=False"):
        mv.fit(small_model(), x, y, NOISE, epochs=2, batch_size=4, rng=np.random.default_rng(0), print_every=0)
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"print_every must be a whole number >= 1, got 0.*verbose=False"):
        mv.fit_full_cov(lambda w: (w * w).sum() * -1.0, q, n_steps=3, verbose=True, print_every=0)
    with pytest.raises(ValueError, match="print_every"):
        mv.fit(small_model(), x, y, NOISE, epochs=2, batch_size=4, rng=np.random.default_rng(0), print_every=-1)


# ---------------------------------------------------------------- 4. reproducibility


def train_and_predict(seed):
    """Everything random (data, initial weights, eps, minibatch order) flows from one seed."""
    rng = np.random.default_rng(seed)
    x, y = mv.data.toy_curve(32, rng)
    model = mv.Sequential(mv.BayesLinear(1, 8, rng=rng, prior=mv.ScaleMixturePrior()), mv.Tanh(),
                          mv.LocalBayesLinear(8, 1, rng=rng))
    history = mv.fit(model, x, y, mv.LearnedNoise(0.1), epochs=4, batch_size=8, rng=rng, n_samples=3,
                     kl_schedule="blundell", verbose=False)
    return history, [p.data.copy() for p in model.parameters()], mv.predict(model, x, n_samples=5)


def as_bits(arrays):
    return [np.asarray(a, dtype=np.float64).view(np.uint64) for a in arrays]


def test_the_same_seed_gives_bit_identical_training_and_predictions():
    first, second = train_and_predict(7), train_and_predict(7)
    for part in ("loss", "kl", "nll"):
        assert as_bits([getattr(first[0], part)])[0].tolist() == as_bits([getattr(second[0], part)])[0].tolist()
    assert all(np.array_equal(a, b) for a, b in zip(as_bits(first[1]), as_bits(second[1])))
    assert np.array_equal(as_bits([first[2]])[0], as_bits([second[2]])[0])


def test_another_seed_gives_another_run():
    first, other = train_and_predict(7), train_and_predict(8)
    assert first[0].loss != other[0].loss
    assert not np.array_equal(first[2], other[2])
