"""Tests for minivi.flipout: the Flipout ops and layers (Wen et al. 2018).

  - The ops' written-out gradients (to x, mu, rho) three ways: explicit VJPs,
    the engine's autodiff of the same expression from primitive ops, central
    differences of it in plain NumPy (tolerances as in test_conv.py).
  - The layers' forward IS the definition: example n computed with its own
    weight W_n = mu + Delta_W * (r_n s_nᵀ), from the layer's replayed draws.
  - Unbiasedness: over many draws the mean gradient equals weight sampling's
    within Monte Carlo error (a z-score per entry, the standard error from the
    spread of the draws themselves).
"""
import copy
import functools
import re

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minivi as mv
from conv_helpers import conv_cases, conv_from_primitives, conv_numpy, finite_floats
from example_counts import Examples
from gradient_helpers import assert_within, engine_grads
from minivi.flipout import random_signs

FEW = Examples(plain=6, slow=30, deadline=None)
SAME_ARITHMETIC = 1e-10
H = 1e-6


def softplus(rho):
    return np.logaddexp(0.0, rho)


def check_three_way(op, reference, numpy_reference, arrays, c):
    explicit = engine_grads(lambda *t: (op(*t).tanh() * c).sum(), *arrays)
    autodiff = engine_grads(lambda *t: (reference(*t).tanh() * c).sum(), *arrays)
    numeric = mv.numerical_grad(lambda *a: float(np.sum(np.tanh(numpy_reference(*a)) * c)), *arrays, eps=H)
    fd_atol = 1e-8 * (1.0 + np.abs(c).sum())
    for name, e, a, n in zip(("dF/dx", "dF/dmu", "dF/drho"), explicit, autodiff, numeric):
        assert e.shape == a.shape == n.shape
        assert_within(e, a, SAME_ARITHMETIC, f"{name} explicit vs autodiff")
        assert_within(e, n, fd_atol + 1e-7 * np.abs(n), f"{name} explicit vs central differences")


# ---------------------------------------------------------------- the ops, three ways


@st.composite
def linear_cases(draw):
    n, n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    n_samples = draw(st.sampled_from([None, 1, 3]))
    lead = () if n_samples is None else (n_samples,)
    x_lead = () if n_samples is None else draw(st.sampled_from([(1,), lead]))
    arr = lambda shape, lo=-2, hi=2: draw(hnp.arrays(np.float64, shape, elements=finite_floats(lo, hi)))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    return dict(x=arr(x_lead + (n, n_in)), mu=arr((n_in, n_out)), rho=arr((n_in, n_out), -4, 3),
                eps=arr(lead + (n_in, n_out), -3, 3), sign_in=random_signs(rng, lead + (n, n_in)),
                sign_out=random_signs(rng, lead + (n, n_out)), c=rng.uniform(-2, 2, lead + (n, n_out)))


@FEW.given(case=linear_cases())
def test_flipout_linear_gradients_three_way(case):
    eps, s, r = case["eps"], case["sign_in"], case["sign_out"]
    check_three_way(
        lambda x, mu, rho: mv.flipout_linear(x, mu, rho, eps, s, r),
        lambda x, mu, rho: x @ mu + ((x * s) @ (rho.softplus() * eps)) * r,
        lambda x, mu, rho: x @ mu + ((x * s) @ (softplus(rho) * eps)) * r,
        [case["x"], case["mu"], case["rho"]], case["c"])


@FEW.given(case=conv_cases(max_size=4), data=st.data())
def test_flipout_conv2d_gradients_three_way(case, data):
    x, mu = case["x"], case["w"]
    if mu.ndim == 5:                       # the kernel's mean has no sample axis; eps carries it
        mu = mu[0]
    settings = dict(stride=case["stride"], padding=case["padding"])
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    lead = x.shape[:1] if x.ndim == 5 else ()
    lead = data.draw(st.sampled_from([lead, (2,)])) if lead == (1,) else lead
    rho, eps = rng.uniform(-4, 3, mu.shape), rng.normal(size=lead + mu.shape)
    s = random_signs(rng, lead + (x.shape[-4], mu.shape[1], 1, 1))
    r = random_signs(rng, lead + (x.shape[-4], mu.shape[0], 1, 1))
    c = rng.uniform(-2, 2, mv.conv2d(x, eps, **settings).shape)
    check_three_way(
        lambda x_, mu_, rho_: mv.flipout_conv2d(x_, mu_, rho_, eps, s, r, **settings),
        lambda x_, mu_, rho_: conv_from_primitives(x_, mu_, **settings)
        + conv_from_primitives(x_ * s, rho_.softplus() * eps, **settings) * r,
        lambda x_, mu_, rho_: conv_numpy(x_, mu_, **settings) + conv_numpy(x_ * s, softplus(rho_) * eps, **settings) * r,
        [x, mu, rho], c)


# ---------------------------------------------------------------- the layers: each example its own weight


def perturbed(layer, seed=1):
    rng = np.random.default_rng(seed)
    for mu, rho in layer.variational_parameters():
        mu.data = mu.data + rng.normal(0, 0.3, mu.shape)
        rho.data = rho.data + rng.normal(0, 0.5, rho.shape)
    return layer


@pytest.mark.parametrize("n_samples", [None, 3])
def test_flipout_linear_gives_each_row_its_own_weight_drawn_from_q(n_samples):
    layer = perturbed(mv.FlipoutLinear(4, 3, rng=np.random.default_rng(0)))
    x = np.random.default_rng(2).normal(size=(5, 4))
    replay = copy.deepcopy(layer.rng)
    out = layer(x, n_samples=n_samples).data
    lead = () if n_samples is None else (n_samples,)
    eps, eps_b = replay.standard_normal(lead + (4, 3)), replay.standard_normal(lead + (1, 3))
    s, r = random_signs(replay, lead + (5, 4)), random_signs(replay, lead + (5, 3))
    sigma, sigma_b = softplus(layer.weight_rho.data), softplus(layer.bias_rho.data)
    expected = np.zeros(lead + (5, 3))
    for k in np.ndindex(*lead):
        for n in range(5):
            w_n = layer.weight_mu.data + sigma * eps[k] * np.outer(s[k + (n,)], r[k + (n,)])   # mu + Delta_W * (s r^T)
            b_n = layer.bias_mu.data + sigma_b * eps_b[k][0] * r[k + (n,)]
            expected[k + (n,)] = x[n] @ w_n + b_n
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert len({tuple(row) for row in s.reshape(-1, 4)}) > 1        # rows really get different signs


@pytest.mark.parametrize("n_samples", [None, 2])
def test_flipout_conv2d_gives_each_image_its_own_kernel_drawn_from_q(n_samples):
    layer = perturbed(mv.FlipoutConv2d(2, 3, 3, stride=2, padding=1, rng=np.random.default_rng(0)))
    x = np.random.default_rng(2).normal(size=(4, 2, 5, 6))
    replay = copy.deepcopy(layer.rng)
    out = layer(x, n_samples=n_samples).data
    lead = () if n_samples is None else (n_samples,)
    eps, eps_b = replay.standard_normal(lead + (3, 2, 3, 3)), replay.standard_normal(lead + (1, 3))
    s, r = random_signs(replay, lead + (4, 2, 1, 1)), random_signs(replay, lead + (4, 3, 1, 1))
    sigma, sigma_b = softplus(layer.weight_rho.data), softplus(layer.bias_rho.data)
    expected = np.zeros(out.shape)
    for k in np.ndindex(*lead):
        for n in range(4):
            signs = r[k + (n,)][:, :, 0][:, None, :, None] * s[k + (n,)][None, :, :, 0, None]   # r_o s_c, (O, C, 1, 1)
            kernel = layer.weight_mu.data + sigma * eps[k] * signs
            bias = layer.bias_mu.data + sigma_b * eps_b[k].ravel() * r[k + (n,)].ravel()
            expected[k + (n,)] = conv_numpy(x[n:n + 1], kernel, bias, stride=2, padding=1)[0]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_samples", [None, 1, 2])
def test_flipout_conv2d_bias_gradients_are_the_autodiff_of_its_definition(n_samples):
    # b_n = mu_b + softplus(rho_b) * eps_b * r_n, written from primitive ops with the layer's replayed draws
    layer = perturbed(mv.FlipoutConv2d(2, 3, 3, padding=1, rng=np.random.default_rng(0)))
    x = np.random.default_rng(2).normal(size=(4, 2, 5, 5))
    c = np.random.default_rng(3).normal(size=(4, 3, 5, 5) if n_samples is None else (n_samples, 4, 3, 5, 5))
    replay = copy.deepcopy(layer.rng)
    layer.zero_grad()
    (layer(x, n_samples=n_samples).tanh() * c).sum().backward()
    explicit = layer.bias_mu.grad.copy(), layer.bias_rho.grad.copy()
    lead = () if n_samples is None else (n_samples,)
    eps, eps_b = replay.standard_normal(lead + (3, 2, 3, 3)), replay.standard_normal(lead + (1, 3))
    s, r = random_signs(replay, lead + (4, 2, 1, 1)), random_signs(replay, lead + (4, 3, 1, 1))
    mu_b, rho_b = mv.Tensor(layer.bias_mu.data, requires_grad=True), mv.Tensor(layer.bias_rho.data, requires_grad=True)
    kernel = layer.weight_mu.data + softplus(layer.weight_rho.data) * eps
    y = conv_from_primitives(mv.Tensor(x * s), mv.Tensor(kernel - layer.weight_mu.data), padding=1) * r \
        + conv_from_primitives(mv.Tensor(x), mv.Tensor(layer.weight_mu.data), padding=1)
    b = (mu_b + rho_b.softplus() * (eps_b * r[..., 0, 0])).reshape(lead + (4, 3, 1, 1))
    ((y + b).tanh() * c).sum().backward()
    np.testing.assert_allclose(explicit[0], mu_b.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(explicit[1], rho_b.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("flipout, plain, shape", [(mv.FlipoutLinear, mv.BayesLinear, (5, 4)),
                                                   (mv.FlipoutConv2d, mv.BayesConv2d, (2, 2, 4, 4))])
def test_flipout_keeps_bayes_linears_q_kl_mean_and_function_modes(flipout, plain, shape):
    args = (4, 2) if flipout is mv.FlipoutLinear else (2, 3, 2)
    a, b = perturbed(flipout(*args, rng=np.random.default_rng(0))), perturbed(plain(*args, rng=np.random.default_rng(0)))
    x = np.random.default_rng(1).normal(size=shape)
    assert a.kl().item() == b.kl().item()
    np.testing.assert_array_equal(a(x, mode="mean").data, b(x, mode="mean").data)
    np.testing.assert_array_equal(a(x, mode="function", n_samples=3).data, b(x, mode="function", n_samples=3).data)
    fresh = lambda: perturbed(flipout(*args, rng=np.random.default_rng(0)))
    np.testing.assert_array_equal(fresh()(x, n_samples=2).data, fresh()(x, n_samples=2).data)   # same seed, same bits


def test_flipout_refuses_bad_shapes_naming_the_expected_ones():
    layer = mv.FlipoutLinear(3, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=re.escape("rows of shape (N, 3), got shape (2, 4, 3)")):
        layer(np.zeros((2, 4, 3)))
    mu, rho = mv.Tensor(np.zeros((3, 2))), mv.Tensor(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=re.escape("sign_in has shape (4, 2); expected (4, 3)")):
        mv.flipout_linear(np.zeros((4, 3)), mu, rho, np.zeros((3, 2)), np.ones((4, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=re.escape("eps has shape (2, 3); expected mu's shape (3, 2)")):
        mv.flipout_linear(np.zeros((4, 3)), mu, rho, np.zeros((2, 3)), np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=re.escape("(N, 3), or (S, N, 3)")):
        mv.flipout_linear(np.zeros(3), mu, rho, np.zeros((3, 2)), np.ones(3), np.ones(2))
    k = mv.Tensor(np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError, match=re.escape("sign_out has shape (4, 3, 1, 1); expected (4, 2, 1, 1)")):
        mv.flipout_conv2d(np.zeros((4, 3, 5, 5)), k, k, np.zeros((2, 3, 3, 3)), np.ones((4, 3, 1, 1)),
                          np.ones((4, 3, 1, 1)))
    with pytest.raises(ValueError, match=re.escape("images of shape (N, 3, H, W), got shape (3, 5, 5)")):
        mv.FlipoutConv2d(3, 2, 3, rng=np.random.default_rng(0))(np.zeros((3, 5, 5)))


def test_flipout_ops_check_mu_rho_and_the_signs():
    mu, rho, eps = np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2))
    s, r = np.ones((4, 3)), np.ones((4, 2))
    x = np.random.default_rng(0).normal(size=(4, 3))
    # arrays for mu and rho are constants, as conv2d's weight may be one
    np.testing.assert_array_equal(mv.flipout_linear(x, mu + 1.0, rho, eps, s, r).data, x @ (mu + 1.0))
    with pytest.raises(ValueError, match=re.escape("rho has shape (2, 3); expected mu's shape (3, 2)")):
        mv.flipout_linear(x, mu, rho.T, eps, s, r)
    with pytest.raises(ValueError, match=re.escape("mu has shape (3,); expected (in_features, out_features)")):
        mv.flipout_linear(x, mu[:, 0], rho[:, 0], eps[:, 0], s, r[:, :1])
    with pytest.raises(ValueError, match=re.escape("sign_in must hold only +1 and -1")):
        mv.flipout_linear(x, mu, rho, eps, np.full((4, 3), 0.5), r)
    with pytest.raises(ValueError, match=re.escape("sign_out must hold only +1 and -1")):
        mv.flipout_linear(x, mu, rho, eps, s, np.zeros((4, 2)))
    k = np.zeros((4, 3, 3, 3))
    x = np.zeros((2, 3, 5, 5))
    s, r = np.ones((2, 3, 1, 1)), np.ones((2, 4, 1, 1))
    with pytest.raises(ValueError, match=re.escape("mu has shape (1, 4, 3, 3, 3); expected (C_out, C_in, kH, kW) "
                                                   "(the sample axis goes on eps)")):
        mv.flipout_conv2d(x, k[None], k[None], k[None], s, r)
    with pytest.raises(ValueError, match=re.escape("rho has shape (4, 3, 3, 2); expected mu's shape (4, 3, 3, 3)")):
        mv.flipout_conv2d(x, k, k[..., :2], k, s, r)
    with pytest.raises(ValueError, match=re.escape("sign_in must hold only +1 and -1")):
        mv.flipout_conv2d(x, k, k, k, np.random.default_rng(0).normal(size=(2, 3, 1, 1)), r)
    with pytest.raises(ValueError, match=re.escape("the sample axes of x (leading axes (2, 2)) and of eps (3, 4, 3, 3, 3) "
                                                   "differ")):
        mv.flipout_conv2d(np.zeros((2,) + x.shape), k, k, np.zeros((3,) + k.shape), s[None], r[None])


# ---------------------------------------------------------------- unbiasedness


def gradient_draws(model, x, y, nll, n_calls, n_samples):
    """n_calls gradients of the data term, each averaged over n_samples weight draws: (n_calls, n_params)."""
    draws = []
    for _ in range(n_calls):
        model.zero_grad()
        pred = model(x, n_samples=n_samples)
        (nll(pred, y) * (1.0 / n_samples)).backward()
        draws.append(np.concatenate([p.grad.ravel() for p in model.parameters()]))
    return np.array(draws)


def assert_same_mean(a, b, z_max=4.5):
    """Each entry's mean agrees within z_max standard errors (the errors from the draws' own spread)."""
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    z = (a.mean(axis=0) - b.mean(axis=0)) / se
    assert np.max(np.abs(z)) < z_max, f"largest |z| = {np.max(np.abs(z)):.2f} at entry {np.argmax(np.abs(z))}"
    return z


def test_flipout_linear_gradient_is_unbiased():
    def build(cls):
        return lambda rng: mv.Sequential(perturbed(cls(3, 4, rng=rng, init_sigma=0.5)), mv.Tanh(),
                                         perturbed(cls(4, 1, rng=rng, init_sigma=0.5), seed=2))
    flip, plain = build(mv.FlipoutLinear)(np.random.default_rng(0)), build(mv.BayesLinear)(np.random.default_rng(0))
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    nll = functools.partial(mv.gaussian_nll, noise_sigma=0.5)
    # 100 gradients, each a mean over 10 draws. Power: with Delta_W 1.5 times too large (a biased
    # estimator) the same comparison gave |z| up to 9.4 (150 x 10 draws), far beyond 4.5.
    g_flip = gradient_draws(flip, x, y, nll, 100, 10)
    g_plain = gradient_draws(plain, x, y, nll, 100, 10)
    z = assert_same_mean(g_flip, g_plain)
    assert np.std(z) < 2.0      # z-scores look like N(0, 1), not like a systematic shift


@pytest.mark.slow
def test_flipout_conv2d_gradient_is_unbiased():
    def build(cls, rng):
        return mv.Sequential(perturbed(cls(2, 3, 3, padding=1, rng=rng, init_sigma=0.5)), mv.Tanh(), mv.Flatten(),
                             perturbed(mv.BayesLinear(3 * 4 * 4, 1, rng=rng, init_sigma=0.3), seed=2))
    flip, plain = build(mv.FlipoutConv2d, np.random.default_rng(0)), build(mv.BayesConv2d, np.random.default_rng(0))
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 2, 4, 4)), rng.normal(size=(6, 1))
    nll = functools.partial(mv.gaussian_nll, noise_sigma=0.5)
    z = assert_same_mean(gradient_draws(flip, x, y, nll, 300, 20), gradient_draws(plain, x, y, nll, 300, 20))
    assert np.std(z) < 2.0
