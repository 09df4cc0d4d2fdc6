"""Tests for minivi/gradcheck.py: the judge itself must be right, and must be able to say no.

numerical_grad is checked against derivatives written out by hand; gradcheck
is shown to pass a correct gradient and to catch wrong ones (a deliberately
wrong backward built with make_op, a slightly wrong one, a NaN one, and a
function that is not even defined at the point).
"""
import re

import numpy as np
import pytest

import minivi as mv
from minivi import Tensor, make_op
from minivi.gradcheck import engine_grad


def square_with_wrong_backward(x: Tensor) -> Tensor:
    """y = x², but the backward says dy/dx = x instead of 2x: the bug a student might write."""
    return make_op("bad_square", x.data ** 2, (x,), (lambda g: g * x.data,))


# ------------------------------------------------------------------ numerical_grad


def test_numerical_grad_matches_a_derivative_written_out():
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    (grad,) = mv.numerical_grad(lambda x: np.sum(x ** 3), x)
    # Error of central differences with h = 1e-6: h² f'''/6 = 1e-12 (f''' = 6) plus
    # rounding 1e-16 |F| / h ≈ 1e-9 (|F| <= 10); 1e-8 is a safe bound.
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=0, atol=1e-8)


def test_numerical_grad_of_several_inputs():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 2.0])
    grad_a, grad_b = mv.numerical_grad(lambda a, b: np.sum(a * b ** 2), a, b)
    # f is quadratic in b and linear in a, so the only error is rounding (|F| <= 10): 1e-8.
    np.testing.assert_allclose(grad_a, b ** 2, rtol=0, atol=1e-8)
    np.testing.assert_allclose(grad_b, 2 * a * b, rtol=0, atol=1e-8)


def test_numerical_grad_leaves_its_inputs_unchanged():
    x = np.array([1.0, 2.0, 3.0])
    mv.numerical_grad(lambda x: np.sum(np.exp(x)), x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


# ------------------------------------------------------------------ gradcheck passes correct gradients


def test_gradcheck_passes_a_correct_gradient():
    rng = np.random.default_rng(0)
    x, W = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    assert mv.gradcheck(lambda x, W: (x @ W).tanh().sum(), x, W) is True


def test_gradcheck_of_an_input_the_function_ignores():
    a, b = np.array([1.0, 2.0]), np.array([3.0])
    grad_a, grad_b = engine_grad(lambda a, b: (a * a).sum(), a, b)
    np.testing.assert_array_equal(grad_b, [0.0])   # unused: zero gradient, not None
    assert mv.gradcheck(lambda a, b: (a * a).sum(), a, b) is True


# ------------------------------------------------------------------ gradcheck catches wrong gradients


def test_gradcheck_catches_a_wrong_backward_and_names_the_worst_entry():
    x = np.array([1.0, 2.0, -3.0])
    # engine says g·x, truth is 2x: the error |x| is largest at index 2,
    # where the engine says -3 and finite differences say -6.
    with pytest.raises(AssertionError) as failure:
        mv.gradcheck(lambda x: square_with_wrong_backward(x).sum(), x)
    message = str(failure.value)
    assert "input 0" in message
    assert "index (2,)" in message
    assert re.search(r"engine -3\b", message)
    assert re.search(r"finite differences -6\b", message)


def test_gradcheck_names_the_input_whose_gradient_is_wrong():
    def mul_with_wrong_second_gradient(a, b):
        # d(ab)/db is a; this backward says 2a
        return make_op("bad_mul", a.data * b.data, (a, b),
                       (lambda g: g * b.data, lambda g: g * 2 * a.data))

    a, b = np.array([[1.0, 4.0]]), np.array([[0.5, 0.25]])
    with pytest.raises(AssertionError, match=r"input 1 .*index \(0, 1\).*engine 8\b.*finite differences 4\b"):
        mv.gradcheck(lambda a, b: mul_with_wrong_second_gradient(a, b).sum(), a, b)


def test_gradcheck_catches_a_small_error():
    """A gradient off by a relative 1e-4 fails the default tolerances (rtol 1e-5)."""
    def exp_slightly_wrong(x):
        out = np.exp(x.data)
        return make_op("exp_off", out, (x,), (lambda g: g * out * (1 + 1e-4),))

    with pytest.raises(AssertionError, match="gradient check failed"):
        mv.gradcheck(lambda x: exp_slightly_wrong(x).sum(), np.array([0.3, 1.2]))


def test_gradcheck_catches_a_nan_gradient():
    def nan_backward(x):
        return make_op("nan_grad", x.data * 2, (x,), (lambda g: g * np.nan,))

    with pytest.raises(AssertionError, match="input 0"):
        mv.gradcheck(lambda x: nan_backward(x).sum(), np.array([1.0, 2.0]))


def test_gradcheck_fails_where_the_function_is_undefined():
    """log of negative numbers is NaN; the engine's 1/x is finite there, but no
    finite difference can confirm it, so the check must not pass."""
    with np.errstate(invalid="ignore"), pytest.raises(AssertionError, match="finite differences nan"):
        mv.gradcheck(lambda x: x.log().sum(), np.array([-1.0, -2.0]))


def test_gradcheck_needs_a_scalar_output():
    with pytest.raises(ValueError, match="scalar"):
        mv.gradcheck(lambda x: x * 2.0, np.array([1.0, 2.0]))


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"eps": 0.0}, ValueError, "eps must be a finite number > 0"),           # was 0/0: a NaN gradient
    ({"eps": -1e-6}, ValueError, "eps must be a finite number > 0"),
    ({"eps": float("nan")}, ValueError, "eps must be a finite number > 0"),
    ({"eps": True}, TypeError, "eps must be one real number"),               # was read as a step of 1
    ({"rtol": -1.0}, ValueError, "rtol must be a finite number >= 0"),       # was a check nothing passes
    ({"atol": float("inf")}, ValueError, "atol must be a finite number >= 0"),  # was a check nothing fails
    ({"atol": "1e-6"}, TypeError, "atol must be one real number"),
])
def test_gradcheck_refuses_a_step_or_tolerance_it_cannot_use(kwargs, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        mv.gradcheck(lambda t: (t * t).sum(), np.array([1.0, 2.0]), **kwargs)


def test_a_zero_tolerance_is_allowed_and_an_integer_step_is_a_step():
    assert mv.gradcheck(lambda t: (t * 2.0).sum(), np.array([1.0, 2.0]), rtol=0, atol=1e-9)
    grad, = mv.numerical_grad(lambda x: float((x * x).sum()), np.array([1.0, 2.0]), eps=1)
    np.testing.assert_allclose(grad, [2.0, 4.0])     # central differences are exact on a quadratic
