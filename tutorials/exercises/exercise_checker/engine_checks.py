"""Checks for exercise 4: one engine op's backward (layer 1, minivi/tensor.py).

The student's op is called on leaf Tensors and back-propagated with a random
output gradient G; the gradients it produces are the op's vector-Jacobian
products, which must equal the central finite differences of Σ G · op(x).
If `backward` refuses a gradient of the wrong shape, the checker calls the
VJPs the op registered (`out._vjps`, see `make_op`) directly, to see what
they returned and whether summing over the broadcast axes would have fixed it.
"""
import numpy as np

import minivi as mv

from .core import Failure, as_array, exercise, expect_close, function, matches, number

# The forward results are exact products / log-sum-exps (rounding only), and
# the finite differences of the smooth Σ G·op(x) err by ~1e-10 (h = 1e-6):
# rtol 1e-6, atol 1e-8 separates that from any wrong formula.
GRAD_RTOL, GRAD_ATOL = 1e-6, 1e-8

EX4 = exercise(4, "engine", "ex4_engine_op.py",
               "an engine op's backward: mul with broadcasting, log_softmax (layer 1, make_op)",
               ("mul", "log_softmax"))


def _student_vjps(op, arrays, G):
    """Run op on leaves, back-propagate G (shown to students as g); return each input's gradient as the student's VJP made it.

    A gradient of the wrong shape makes the engine's `backward` refuse (RuntimeError); then the
    VJPs registered on the output are called directly so their raw result can be diagnosed.
    """
    leaves = [mv.Tensor(a, requires_grad=True) for a in arrays]
    out = op(*leaves)
    if not isinstance(out, mv.Tensor):
        raise Failure([f"the op returned a {type(out).__name__}; it must return the Tensor made by mv.make_op"],
                      ["op-vjp"])
    if out.shape != G.shape:
        raise Failure([f"the op's output has shape {out.shape}, expected {G.shape}"], ["shape"])
    try:
        out.backward(G)
        return [leaf.grad if leaf.grad is not None else np.zeros(leaf.shape) for leaf in leaves]
    except RuntimeError as err:   # the engine's shape check: "op ... returned a gradient of shape ..."
        if "returned a gradient of shape" not in str(err):
            raise
        parents = list(out._parents)
        return [as_array(out._vjps[parents.index(leaf)](G), "the VJP") if leaf in parents
                else np.zeros(leaf.shape) for leaf in leaves]


def _unbroadcast_mean(grad, shape):
    """The 'mean instead of sum' mistake: like mv.unbroadcast, but averaging."""
    summed = mv.unbroadcast(grad, shape)
    return summed * (np.prod(shape) / np.prod(grad.shape)) if grad.shape != shape else summed


def _check_mul(m, a_shape, b_shape):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    G = rng.normal(size=np.broadcast_shapes(a_shape, b_shape))
    grads = _student_vjps(function(m, "mul"), (a, b), G)
    fd = mv.numerical_grad(lambda x, y: np.sum(G * x * y), a, b)
    for k, (name, own, other) in enumerate((("a", a, b), ("b", b, a))):
        what = f"mul(a, b) with a of shape {a_shape}, b of shape {b_shape}: dF/d{name}, the VJP of {name}"
        wrong = {"op-mean-not-sum": _unbroadcast_mean(G * np.broadcast_to(other, G.shape), own.shape),
                 "op-mul-wrong-factor": mv.unbroadcast(G * np.broadcast_to(own, G.shape), own.shape),
                 "op-forgot-upstream": mv.unbroadcast(np.broadcast_to(other, G.shape).copy(), own.shape)}

        def diagnose(g, wrong=wrong):
            return [key for key, value in wrong.items() if matches(g, value)][:1]

        if grads[k].shape != own.shape:
            summed = _summed_to(grads[k], own.shape)
            lines = [f"checked: {what}",
                     f"expected a gradient of {name}'s shape {own.shape}: {number(fd[k])}",
                     f"got      an array of shape {grads[k].shape}"]
            if summed is not None and matches(summed, fd[k], GRAD_RTOL, GRAD_ATOL):
                raise Failure(lines + ["summed over the broadcast axes, your array would be right"],
                              ["op-not-unbroadcast"])
            raise Failure(lines, ["op-not-unbroadcast"] + (diagnose(summed) if summed is not None else []))
        expect_close(grads[k], fd[k], what=what, rtol=GRAD_RTOL, atol=GRAD_ATOL,
                     truth="finite differences of Σ g·a·b", diagnose=diagnose, generic="op-vjp")


def _summed_to(grad, shape):
    """grad summed down to `shape` with mv.unbroadcast, or None if no such sum exists."""
    try:
        summed = mv.unbroadcast(grad, shape)
    except (ValueError, IndexError):
        return None
    return summed if summed.shape == shape else None


@EX4.check("mul: forward value a * b")
def _mul_forward(m):
    a, b = np.arange(6.0).reshape(2, 3), np.array([[2.0], [-1.0]])
    out = function(m, "mul")(mv.Tensor(a), mv.Tensor(b))
    expect_close(out.data if isinstance(out, mv.Tensor) else out, a * b, what="mul(a, b).data",
                 rtol=1e-15, atol=0.0, truth="a * b with broadcasting", generic="op-vjp")


EX4.check("mul: VJPs, both inputs of shape (3, 4)")(lambda m: _check_mul(m, (3, 4), (3, 4)))
EX4.check("mul: VJPs, b of shape (3, 1) broadcast against a of shape (2, 3, 4)")(
    lambda m: _check_mul(m, (2, 3, 4), (3, 1)))
EX4.check("mul: VJPs, a of shape (4,) broadcast against b of shape (3, 4)")(lambda m: _check_mul(m, (4,), (3, 4)))


def _true_log_softmax(x, axis):
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


def _softmax(x, axis):
    return np.exp(_true_log_softmax(x, axis))


@EX4.check("log_softmax: forward value x − log Σ e^x along axis −1 and 0")
def _log_softmax_forward(m):
    x = np.random.default_rng(5).normal(size=(3, 4))
    for axis in (-1, 0):
        out = function(m, "log_softmax")(mv.Tensor(x), axis=axis)
        expect_close(out.data if isinstance(out, mv.Tensor) else out, _true_log_softmax(x, axis),
                     what=f"log_softmax(x, axis={axis}).data", rtol=1e-12, atol=1e-12,
                     truth="x − log Σ e^x", generic="op-vjp")


def _check_log_softmax(m, axis):
    rng = np.random.default_rng(6)
    x, G = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    (got,) = _student_vjps(lambda t: function(m, "log_softmax")(t, axis=axis), (x,), G)
    (fd,) = mv.numerical_grad(lambda a: np.sum(G * _true_log_softmax(a, axis)), x)
    s, other_axis = _softmax(x, axis), 0 if axis == -1 else -1
    wrong = {"log-softmax-diagonal-only": [G * (1 - s)],
             "log-softmax-missing-sum": [G - s * G, G - s],
             "log-softmax-sum-all-axes": [G - s * G.sum()],
             "log-softmax-sign": [G + s * G.sum(axis=axis, keepdims=True)],
             "log-softmax-log-probs": [G - np.log(s) * G.sum(axis=axis, keepdims=True)],
             "log-softmax-wrong-axis": [G - _softmax(x, other_axis) * G.sum(axis=other_axis, keepdims=True),
                                        G - s * G.sum(axis=other_axis, keepdims=True)]}

    def diagnose(g):
        return [key for key, values in wrong.items() if any(matches(g, v) for v in values)][:1]

    expect_close(got, fd, what=f"log_softmax(x, axis={axis}) with x of shape {x.shape}: dF/dx, its VJP",
                 inputs={"x": x, "g": G}, rtol=GRAD_RTOL, atol=GRAD_ATOL,
                 truth="finite differences of Σ g·log_softmax(x)", diagnose=diagnose, generic="op-vjp")


EX4.check("log_softmax: VJP along the last axis (axis=-1)")(lambda m: _check_log_softmax(m, -1))
EX4.check("log_softmax: VJP along the first axis (axis=0)")(lambda m: _check_log_softmax(m, 0))
