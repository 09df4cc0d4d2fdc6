"""Helpers shared by the three-way gradient tests (explicit formula, engine autodiff, finite differences)."""
import numpy as np

import minivi as mv


def engine_grads(f, *arrays):
    """Gradients of the scalar Tensor f(*leaves) by the engine's backward."""
    leaves = [mv.Tensor(a, requires_grad=True) for a in arrays]
    f(*leaves).backward()
    return [leaf.grad for leaf in leaves]


def assert_within(actual, expected, tol, what):
    """|actual - expected| <= tol entrywise (tol may be an array), with the worst entry in the message."""
    excess = np.abs(actual - expected) - tol
    worst = np.unravel_index(np.argmax(excess), excess.shape) if excess.ndim else ()
    assert np.all(excess <= 0), (f"{what}: at {worst} got {actual[worst]!r}, expected {expected[worst]!r}, "
                                 f"allowed error {np.broadcast_to(tol, excess.shape)[worst]:.3g}")
