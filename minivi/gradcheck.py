"""Layer 1, checks: central finite differences, the independent judge of every gradient.

For a function F of an array x, the central difference

    dF/dx_i ≈ (F(x + h e_i) - F(x - h e_i)) / (2h)

has error O(h²) from the Taylor series plus about (machine epsilon · |F|) / h
from rounding. With float64 (epsilon ≈ 1e-16) and h = 1e-6 both are around
1e-10 · (size of F and its derivatives), far below the default tolerances
of `gradcheck`. A wrong gradient formula is off by O(1), so it cannot hide.
"""
from __future__ import annotations

import numbers

import numpy as np

from .tensor import Tensor, as_float_array, no_grad

DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-6


def _step_or_tolerance(value, name: str, *, zero_allowed: bool) -> float:
    """eps (> 0), rtol and atol (>= 0): one finite real number each, or an error naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be one real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not zero_allowed):
        raise ValueError(f"{name} must be a finite number {'>= 0' if zero_allowed else '> 0 (a step)'}, got {value}")
    return value


def numerical_grad(f, *arrays, eps: float = 1e-6) -> tuple:
    """Central-difference gradients of a float-valued f(*arrays), one array per input.

    Each entry of each input is moved by ±eps in turn (on a float64 copy); eps > 0.
    """
    eps = _step_or_tolerance(eps, "numerical_grad: eps", zero_allowed=False)
    arrays = [as_float_array(a, "numerical_grad input").copy() for a in arrays]
    grads = []
    for x in arrays:
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            original = x[i]
            x[i] = original + eps
            f_plus = float(f(*arrays))
            x[i] = original - eps
            f_minus = float(f(*arrays))
            x[i] = original
            grad[i] = (f_plus - f_minus) / (2 * eps)
        grads.append(grad)
    return tuple(grads)


def engine_grad(f, *arrays) -> tuple:
    """The engine's gradients of f(*Tensors) -> scalar Tensor, at the given arrays."""
    inputs = [Tensor(a, requires_grad=True) for a in arrays]
    out = f(*inputs)
    if not isinstance(out, Tensor) or out.size != 1:
        raise ValueError("gradcheck needs f to return a scalar Tensor (use .sum() or .mean() at the end)")
    out.backward()
    return tuple(x.grad if x.grad is not None else np.zeros(x.shape) for x in inputs)


def gradcheck(f, *arrays, eps: float = 1e-6, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> bool:
    """Check the engine's gradient of f(*Tensors) -> scalar Tensor against central differences.

    Passes when |engine - numeric| <= atol + rtol·|numeric| for every entry of
    every input; returns True. Otherwise raises AssertionError naming the
    input, the entry with the worst error, both values and the error.
    eps > 0 (the step); rtol, atol >= 0.
    """
    rtol = _step_or_tolerance(rtol, "gradcheck: rtol", zero_allowed=True)
    atol = _step_or_tolerance(atol, "gradcheck: atol", zero_allowed=True)
    analytic = engine_grad(f, *arrays)

    def f_value(*xs):
        with no_grad():
            return f(*[Tensor(x) for x in xs]).item()

    numeric = numerical_grad(f_value, *arrays, eps=eps)
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        if not np.all(excess <= 0):  # also fails on NaN, from the engine or from f itself
            worst = np.unravel_index(np.argmax(np.where(np.isfinite(excess), excess, np.inf)), excess.shape)
            raise AssertionError(
                f"gradient check failed for input {k} (shape {a.shape}) at index {tuple(int(i) for i in worst)}: "
                f"engine {a[worst]:.10g}, finite differences {n[worst]:.10g}, "
                f"error {abs(a[worst] - n[worst]):.3g} > allowed {atol + rtol * abs(n[worst]):.3g} "
                f"(atol={atol:g}, rtol={rtol:g})")
    return True
