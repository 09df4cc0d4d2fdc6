"""Tests for minivi/nn.py: finding parameters, the sampling mode, Linear, Sequential."""
import numpy as np
import pytest

from minivi import Linear, Module, Parameter, ReLU, Sequential, Tanh, Tensor


def rng(seed=0):
    return np.random.default_rng(seed)


class Recorder(Module):
    """A module that uses the mode and remembers how it was called."""

    def forward(self, x, *, mode, n_samples):
        self.calls = getattr(self, "calls", []) + [(mode, n_samples)]
        return x


# ------------------------------------------------------------------ parameters() and zero_grad()


class Nested(Module):
    def __init__(self):
        self.scale = Parameter(2.0)                               # an attribute
        self.blocks = [Linear(2, 3, rng=rng(1)), Linear(3, 3, rng=rng(2))]   # a list of modules
        self.head = Sequential(Tanh(), Linear(3, 1, rng=rng(3)))  # a nested module
        self.extra = (Parameter([1.0, 2.0]),)                     # a tuple of Parameters
        self.constant = Tensor([5.0])                             # no gradient: not a parameter
        self.scale_again = self.scale                             # the same Tensor twice
        self.first_block_again = self.blocks[0]                   # the same module twice

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x) * self.scale + self.extra[0].sum()


def test_parameters_are_found_everywhere_without_repeats():
    model = Nested()
    expected = [model.scale, *model.extra,
                model.blocks[0].weight, model.blocks[0].bias,
                model.blocks[1].weight, model.blocks[1].bias,
                model.head[1].weight, model.head[1].bias]
    found = model.parameters()
    assert len(found) == len(expected)
    assert {id(p) for p in found} == {id(p) for p in expected}


def test_zero_grad_clears_every_gradient():
    model = Nested()
    model(np.ones((4, 2))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------------ the sampling mode


def test_sequential_passes_the_mode_to_its_layers():
    recorder = Recorder()
    model = Sequential(Linear(2, 2, rng=rng()), recorder)
    x = np.ones((3, 2))
    model(x)
    model(x, mode="mean")
    model(x, n_samples=4)
    assert recorder.calls == [("sample", None), ("mean", None), ("sample", 4)]


def test_deterministic_modules_ignore_the_mode():
    layer = Linear(2, 3, rng=rng())
    x = rng(1).normal(size=(4, 2))
    np.testing.assert_array_equal(layer(x, mode="mean").data, layer(x).data)
    # n_samples=5 gives the (5, N, out) shape of every sampled call: five equal copies here.
    np.testing.assert_array_equal(layer(x, n_samples=5).data, np.broadcast_to(layer(x).data, (5, 4, 3)))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(mode="bogus"), ValueError, "mode must be one of"),
    (dict(n_samples=0), ValueError, "n_samples must be a whole number >= 1"),
    (dict(n_samples=2.5), TypeError, "n_samples must be a whole number >= 1"),
    (dict(n_samples=True), TypeError, "n_samples must be a whole number >= 1"),
    (dict(mode="mean", n_samples=3), ValueError, "n_samples only applies in mode='sample'"),
], ids=["unknown mode", "zero samples", "fractional samples", "bool samples", "samples in mean mode"])
def test_bad_mode_or_sample_count_is_refused(kwargs, error, message):
    model = Sequential(Linear(2, 2, rng=rng()), Recorder())
    with pytest.raises(error, match=message):
        model(np.ones((1, 2)), **kwargs)


# ------------------------------------------------------------------ Linear


def test_linear_computes_x_W_plus_b_and_its_gradients():
    layer = Linear(3, 2, rng=rng())
    layer.bias.data[:] = [0.5, -1.0]
    x = rng(1).normal(size=(4, 3))
    out = layer(x)
    np.testing.assert_allclose(out.data, x @ layer.weight.data + layer.bias.data, rtol=1e-15, atol=0)
    out.sum().backward()
    # d(sum of x W + b)/dW_ij = sum_n x_ni ; d/db_j = N
    np.testing.assert_allclose(layer.weight.grad, np.repeat(x.sum(axis=0)[:, None], 2, axis=1), rtol=1e-14)
    np.testing.assert_array_equal(layer.bias.grad, [4.0, 4.0])


def test_linear_passes_a_leading_sample_axis_through():
    layer = Linear(3, 2, rng=rng())
    x = rng(1).normal(size=(5, 4, 3))      # (samples, N, in_features)
    assert layer(x).shape == (5, 4, 2)


def test_linear_initialisation_statistics():
    """W_ij ~ N(0, 1/in_features), b = 0 (LeCun initialisation)."""
    n_in, n_out = 400, 500
    W = Linear(n_in, n_out, rng=rng()).weight.data
    n = W.size                              # 200,000 draws
    sigma = 1.0 / np.sqrt(n_in)
    # The sample std has relative standard error 1/sqrt(2n) = 0.16%; allow 1% (6 standard errors).
    assert np.std(W) == pytest.approx(sigma, rel=0.01)
    # The sample mean has standard error sigma/sqrt(n); allow 5 standard errors.
    assert abs(np.mean(W)) < 5 * sigma / np.sqrt(n)
    np.testing.assert_array_equal(Linear(n_in, n_out, rng=rng()).bias.data, np.zeros(n_out))


def test_linear_same_seed_same_weights():
    np.testing.assert_array_equal(Linear(3, 4, rng=rng(7)).weight.data, Linear(3, 4, rng=rng(7)).weight.data)
    assert not np.array_equal(Linear(3, 4, rng=rng(7)).weight.data, Linear(3, 4, rng=rng(8)).weight.data)


def test_linear_refuses_the_wrong_number_of_input_features():
    layer = Linear(3, 2, rng=rng())
    with pytest.raises(ValueError, match=r"last axis has size 3, got shape \(5, 4\)"):
        layer(np.ones((5, 4)))


def test_linear_needs_an_explicit_generator():
    with pytest.raises(TypeError, match="rng"):
        Linear(3, 2)
    for not_a_generator in (None, 42, np.random.RandomState(0)):
        with pytest.raises(TypeError, match=r"np.random.default_rng\(seed\)"):
            Linear(3, 2, rng=not_a_generator)


# ------------------------------------------------------------------ activations and Sequential


def test_activation_modules():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(ReLU()(x).data, [[0.0, 0.0, 0.0, 0.5, 2.0]])
    np.testing.assert_allclose(Tanh()(x).data, np.tanh(x), rtol=1e-15)


def test_sequential_applies_layers_in_order():
    first, second = Linear(2, 3, rng=rng(1)), Linear(3, 1, rng=rng(2))
    model = Sequential(first, Tanh(), second)
    x = rng(3).normal(size=(4, 2))
    expected = np.tanh(x @ first.weight.data + first.bias.data) @ second.weight.data + second.bias.data
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-14)
    assert len(model) == 3 and model[2] is second


def test_sequential_refuses_a_non_module():
    with pytest.raises(TypeError, match="Sequential takes Modules"):
        Sequential(Linear(2, 2, rng=rng()), np.tanh)


def test_module_without_forward():
    with pytest.raises(NotImplementedError, match="forward"):
        Module()(np.ones(2))
