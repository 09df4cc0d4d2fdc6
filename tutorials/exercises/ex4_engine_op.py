"""Exercise 4 — one engine op's backward: vector-Jacobian products and broadcasting (layer 1).

Why. Every operation in minivi is one call of mv.make_op(name, out_data,
inputs, vjps): a forward result computed on arrays plus, for each input, a
vector-Jacobian product (VJP) g -> dF/d(input), where g = dF/d(out) is the
gradient arriving at the output (read the top of minivi/tensor.py). The
Bayesian layer's trick in exercise 3 is just one more such op.

Your task. The forwards are written; write the VJPs (the functions raising
NotImplementedError).

  mul(a, b): out = a * b with NumPy broadcasting, e.g. a of shape (2, 3, 4)
     and b of shape (3, 1). Each VJP must return an array of ITS input's shape.
     Starting point: for out = a·b, dF/da = g·b and dF/db = g·a — for arrays of
     equal shape. When an input was broadcast, each of its entries was used
     several times; the adjoint of broadcasting is a SUM over the copies
     (mv.unbroadcast(grad, shape) does it; read its docstring).

  log_softmax(x, axis): out_i = x_i − log Σ_j e^(x_j) along `axis`.
     Starting point: d out_i / d x_j = δ_ij − softmax(x)_j, so
     dF/dx_j = Σ_i g_i (δ_ij − softmax_j). Simplify the sum, and keep in mind
     that it runs along `axis` only (each row is normalised on its own).

Check:  python check.py 4
"""
import numpy as np

import minivi as mv


def mul(a, b):
    """a * b for Tensors of broadcastable shapes, as one engine op."""
    def vjp_a(g):
        raise NotImplementedError("exercise 4: write vjp_a in mul (dF/da from g = dF/dout)")

    def vjp_b(g):
        raise NotImplementedError("exercise 4: write vjp_b in mul (dF/db from g = dF/dout)")

    return mv.make_op("mul", a.data * b.data, (a, b), (vjp_a, vjp_b))


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis` for a Tensor x, as one engine op."""
    m = x.data.max(axis=axis, keepdims=True)   # subtract the max so that exp cannot overflow
    out = x.data - (m + np.log(np.sum(np.exp(x.data - m), axis=axis, keepdims=True)))

    def vjp(g):
        raise NotImplementedError("exercise 4: write the VJP of log_softmax (dF/dx from g = dF/dout)")

    return mv.make_op("log_softmax", out, (x,), (vjp,))
