"""Tests for minivi/optim.py: each update equals its docstring formula, computed
here by hand for a few steps; unused parameters are left alone; bad settings
are refused; and a small network actually learns with Adam."""
import numpy as np
import pytest

from minivi import Linear, Sequential, Tanh, Tensor
from minivi import optim
from minivi.optim import SGD, Adam

START = np.array([1.0, -2.0, 0.25])
TARGET = np.array([0.5, 0.5, 0.5])
STEPS = 3

# Engine and hand computation apply the same float64 formulas, possibly in a
# different order of operations, so they agree to rounding: 1e-13 relative.
RTOL = 1e-13


def loss_of(p):
    """F(θ) = Σ (θ − target)², whose gradient 2(θ − target) the hand computations use."""
    return ((p - TARGET) ** 2).sum()


def gradient_of(theta):
    return 2 * (theta - TARGET)


def optimise(make_optimizer, steps=STEPS):
    """Run the optimiser on loss_of for a few steps; return θ after each step."""
    p = Tensor(START, requires_grad=True)
    optimizer = make_optimizer([p])
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss_of(p).backward()
        optimizer.step()
        history.append(p.data.copy())
    return history


# ------------------------------------------------------------------ SGD


def test_sgd_is_theta_minus_lr_times_gradient():
    lr = 0.1
    theta, expected = START.copy(), []
    for _ in range(STEPS):
        theta = theta - lr * gradient_of(theta)
        expected.append(theta)
    np.testing.assert_allclose(optimise(lambda ps: SGD(ps, lr=lr)), expected, rtol=RTOL)


def test_sgd_with_momentum():
    lr, momentum = 0.1, 0.9
    theta, velocity, expected = START.copy(), np.zeros(3), []
    for _ in range(STEPS):
        velocity = momentum * velocity + gradient_of(theta)
        theta = theta - lr * velocity
        expected.append(theta)
    np.testing.assert_allclose(optimise(lambda ps: SGD(ps, lr=lr, momentum=momentum)), expected, rtol=RTOL)


# ------------------------------------------------------------------ Adam


def test_adam_matches_its_formula():
    lr, beta1, beta2, eps = 0.05, 0.8, 0.95, 1e-8
    theta, m, v, expected = START.copy(), np.zeros(3), np.zeros(3), []
    for t in range(1, STEPS + 1):
        g = gradient_of(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append(theta)
    history = optimise(lambda ps: Adam(ps, lr=lr, betas=(beta1, beta2), eps=eps))
    np.testing.assert_allclose(history, expected, rtol=RTOL)


def test_adam_first_step_moves_each_entry_by_lr():
    """After the bias correction, step 1 is lr · g/(|g| + eps) = lr · sign(g) when |g| >> eps."""
    lr = 0.01
    (after_one_step,) = optimise(lambda ps: Adam(ps, lr=lr), steps=1)
    g = gradient_of(START)              # [1, -5, -0.5]
    # eps = 1e-8 shortens the step by lr·eps/|g| <= 2e-10 here (|g| >= 0.5): allow 1e-9.
    np.testing.assert_allclose(after_one_step, START - lr * np.sign(g), rtol=0, atol=1e-9)


# ------------------------------------------------------------------ shared behaviour


@pytest.mark.parametrize("make_optimizer", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1)],
                         ids=["SGD", "Adam"])
def test_a_parameter_without_gradient_is_left_alone(make_optimizer):
    used, unused = Tensor(START, requires_grad=True), Tensor(START, requires_grad=True)
    optimizer = make_optimizer([used, unused])
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss_of(used).backward()       # `unused` takes no part: its grad stays None
        optimizer.step()
    assert unused.grad is None
    np.testing.assert_array_equal(unused.data, START)
    assert not np.array_equal(used.data, START)


def test_optimizer_zero_grad_clears_the_gradients():
    p = Tensor(START, requires_grad=True)
    optimizer = SGD([p], lr=0.1)
    loss_of(p).backward()
    optimizer.zero_grad()
    assert p.grad is None


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_no_parameters_is_refused(optimizer_class):
    with pytest.raises(ValueError, match="got no parameters"):
        optimizer_class([], lr=0.1)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan])
def test_non_positive_learning_rate_is_refused(optimizer_class, lr):
    with pytest.raises(ValueError, match=r"lr must be one positive finite number \(> 0\)"):
        optimizer_class([Tensor(START, requires_grad=True)], lr=lr)


@pytest.mark.parametrize("not_a_parameter", [np.ones(3), Tensor(START)], ids=["array", "constant Tensor"])
def test_only_tensors_with_requires_grad_are_accepted(not_a_parameter):
    with pytest.raises(TypeError, match="requires_grad=True"):
        SGD([not_a_parameter], lr=0.1)


def test_momentum_must_be_below_one():
    with pytest.raises(ValueError, match=r"momentum must be one finite number in \[0, 1\)"):
        SGD([Tensor(START, requires_grad=True)], lr=0.1, momentum=1.0)


def test_adam_betas_must_be_below_one():
    with pytest.raises(ValueError, match=r"betas\[\d\] must be one finite number in \[0, 1\)"):
        Adam([Tensor(START, requires_grad=True)], lr=0.1, betas=(0.9, 1.0))


# ------------------------------------------------------------------ it learns


def test_small_mlp_fits_a_smooth_curve():
    """A 1-32-32-1 tanh network, full-batch Adam, learns y = sin(3x) on [-1, 1]."""
    x = np.linspace(-1.0, 1.0, 64)[:, None]
    y = np.sin(3.0 * x)
    rng = np.random.default_rng(0)
    model = Sequential(Linear(1, 32, rng=rng), Tanh(), Linear(32, 32, rng=rng), Tanh(), Linear(32, 1, rng=rng))

    def mse():
        return ((model(x) - y) ** 2).mean()

    # y has variance ≈ 0.5; a fit explaining 99% of it has MSE below 1% of that.
    threshold = 0.01 * np.var(y)
    assert mse().item() > threshold       # the untrained network does not pass by luck
    optimizer = Adam(model.parameters(), lr=0.01)
    for _ in range(400):
        optimizer.zero_grad()
        loss = mse()
        loss.backward()
        optimizer.step()
    assert mse().item() < threshold


def test_in_place_adam_equals_the_textbook_formula_on_a_matrix():
    """The in-place update (one scratch array) gives the docstring's formula, written out of place, to rounding."""
    rng = np.random.default_rng(3)
    lr, beta1, beta2, eps = 0.01, 0.8, 0.99, 1e-6
    p = Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    optimizer = Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)
    theta, m, v = p.data.copy(), np.zeros((4, 3)), np.zeros((4, 3))
    for t in range(1, 6):
        g = rng.normal(size=(4, 3))
        p.grad = g.copy()
        optimizer.step()
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        theta = theta - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
        np.testing.assert_allclose(p.data, theta, rtol=RTOL)
        np.testing.assert_array_equal(p.grad, g)   # the gradient is read, never overwritten


# ---------------------------------------------------------------- a parameter listed twice (issue 10, item 7)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_a_parameter_listed_twice_is_refused(optimizer_class):
    p, q = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    with pytest.raises(ValueError, match="parameter 2 is the same Tensor as parameter 0.*updated twice"):
        optimizer_class([p, q, p], lr=0.1)


def test_fit_updates_a_learned_noise_held_by_the_model_and_passed_as_nll_once():
    import minivi as mv
    x, y = np.linspace(-1, 1, 8)[:, None], np.zeros((8, 1))

    def one_step(hold_noise):
        model = Sequential(Linear(1, 1, rng=np.random.default_rng(0)))
        noise = mv.LearnedNoise(0.5)
        if hold_noise:
            model.noise = noise                     # the model holds it AND it is passed as nll
        mv.fit(model, x, y, noise, epochs=1, batch_size=8, rng=np.random.default_rng(1), lr=0.1, verbose=False)
        return noise.rho.data.copy()

    assert np.array_equal(one_step(True), one_step(False))   # one Adam step of lr, not two


# ---------------------------------------------------------------- all parameters at once (issue 14)


def _three_parameters(seed):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.normal(size=shape), requires_grad=True) for shape in ((4, 3), (3,), ())]


@pytest.mark.parametrize("make_optimizer", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                            lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.99))], ids=["SGD", "Adam"])
def test_the_update_of_all_parameters_at_once_equals_one_optimiser_per_parameter(make_optimizer):
    """The flat update over all parameters end to end gives each parameter the same bits as
    an optimiser of its own, step after step (the same arithmetic, entry by entry)."""
    together, alone = _three_parameters(0), _three_parameters(0)
    optimizer, separate = make_optimizer(together), [make_optimizer([p]) for p in alone]
    rng = np.random.default_rng(1)
    for _ in range(4):
        for p, q in zip(together, alone):
            p.grad = rng.normal(size=p.shape)
            q.grad = p.grad.copy()
        optimizer.step()
        for opt in separate:
            opt.step()
        for p, q in zip(together, alone):
            np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("make_optimizer", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                            lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.99))], ids=["SGD", "Adam"])
def test_large_networks_update_each_parameter_alone_with_the_same_bits(make_optimizer, monkeypatch):
    """From FLAT_LIMIT entries on, step() runs the formula on each parameter alone (no pass laying
    the gradients end to end); the parameters get the bits of the update over all at once."""
    flat, alone = _three_parameters(4), _three_parameters(4)
    flat_optimizer, default = make_optimizer(flat), optim.FLAT_LIMIT
    monkeypatch.setattr(optim, "FLAT_LIMIT", 5)   # the three parameters have 16 entries
    one_by_one = make_optimizer(alone)
    assert flat_optimizer._grad is not None and one_by_one._grad is None
    rng = np.random.default_rng(5)
    for _ in range(4):
        for p, q in zip(flat, alone):
            p.grad = rng.normal(size=p.shape)
            q.grad = p.grad.copy()
        monkeypatch.setattr(optim, "FLAT_LIMIT", default)
        flat_optimizer.step()
        monkeypatch.setattr(optim, "FLAT_LIMIT", 5)
        one_by_one.step()
        for p, q in zip(flat, alone):
            np.testing.assert_array_equal(p.data, q.data)
    assert flat_optimizer.t == one_by_one.t == [4, 4, 4]


def test_adam_counts_the_steps_of_each_parameter_after_one_was_skipped():
    """A parameter without a gradient for one step keeps its own step count t: its first
    update, a step later, is lr · sign(g) (bias correction at t = 1), and from then on
    every parameter follows its own formula (the one-by-one path)."""
    lr = 0.01
    together, alone = _three_parameters(2), _three_parameters(2)
    optimizer, separate = Adam(together, lr=lr), [Adam([p], lr=lr) for p in alone]
    rng = np.random.default_rng(3)
    for step in range(4):
        for k, (p, q) in enumerate(zip(together, alone)):
            g = None if (step == 0 and k == 1) else rng.normal(size=p.shape)
            p.grad, q.grad = g, None if g is None else g.copy()
        before = together[1].data.copy()
        optimizer.step()
        for opt in separate:
            opt.step()
        if step == 1:   # the first update of the skipped parameter: lr · g/(|g| + eps)
            g = together[1].grad
            np.testing.assert_allclose(together[1].data, before - lr * g / (np.abs(g) + 1e-8), rtol=1e-12)
        for p, q in zip(together, alone):
            np.testing.assert_array_equal(p.data, q.data)
    assert optimizer.t == [4, 3, 4]
