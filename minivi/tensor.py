"""Layer 1, the engine: a `Tensor` over float64 NumPy arrays and reverse-mode autodiff.

Read this file first. Everything else in minivi is built on one idea:

    an op = a forward computation on arrays
          + one vector-Jacobian product (VJP) per input.

If the output is y = f(x) and the loss is F, the VJP of an input x maps the
gradient arriving at the output, g = dF/dy, to the gradient of the input,
dF/dx = g · dy/dx. `make_op` records an op in the graph; `Tensor.backward`
walks the graph from the output back to the leaves and calls every VJP once.

The built-in ops below (add, matmul, exp, ...) all use `make_op`. So do the
Gaussian variational layers in `minivi/bayes.py`: their hand-derived gradients
(step 7 of the derivation, dF/dmu = dF/dw and dF/dsigma = dF/dw * eps) are just
one more VJP. There is no other mechanism.

Broadcasting. NumPy lets `a + b` combine shapes (3, 1) and (4,) into (3, 4).
The adjoint of broadcasting is a sum: the gradient of an input that was
broadcast is the output gradient summed over the axes it was stretched along.
`unbroadcast` does exactly that, every binary op calls it, and `backward`
checks that each gradient has its input's shape.

What a VJP reads, and when. Most VJPs read their inputs' arrays (`x.data`)
when `backward` runs, not when the forward ran. So every Tensor carries a
version number: assigning `t.data` (`t.data = array`, and also `t.data -=
step`, which Python runs as an assignment) adds 1 to it. `make_op` writes
down the version of each input, and `backward` refuses, naming the op, if an
input (or the op's own result) was assigned since: its gradient would mix
the new values into a graph built from the old ones (PyTorch keeps the same
kind of counter). Recompute the forward pass after changing a parameter; an
optimiser changes them only after `backward`, so training never meets this.
  - Detected: any assignment to `.data`, including the augmented `-=`, `+=`.
  - Not detected: writing into the array without assigning `.data`
    (`t.data[0] = 5`, `np.subtract(a, b, out=t.data)`); do that only
    between a `backward` and the next forward.
  - Captured at forward time instead: the index arrays of `t[index]` are
    copied, so changing your index array later does not move the gradient.
The comparisons `<`, `<=`, `>`, `>=` give plain boolean arrays (no graph);
`==` and `!=` are Python's identity tests, because `backward` keeps Tensors
in dicts and sets (compare values with `t.data == other`).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from operator import attrgetter

import numpy as np

_grad_enabled = True


@contextmanager
def no_grad():
    """Inside `with no_grad():` ops record no graph (for prediction and updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    """True unless we are inside a `no_grad()` block."""
    return _grad_enabled


def as_float_array(data, what: str = "data") -> np.ndarray:
    """Convert numbers, lists or arrays to a float64 array; refuse anything non-numeric.

    Booleans and integers are converted. Complex numbers, strings and Python
    objects raise TypeError: minivi computes real-valued float64 gradients only.
    """
    if isinstance(data, Tensor):
        raise TypeError(f"{what} is already a Tensor; pass the Tensor itself, or its array `t.data`")
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{what} must be real numbers, but got an array of dtype {array.dtype}"
            f" ({_kind_name(array.dtype)}); convert it with np.asarray(..., dtype=float)"
            " after checking what it holds"
        )
    return array.astype(np.float64, copy=False)


def _kind_name(dtype: np.dtype) -> str:
    return {"c": "complex numbers", "U": "strings", "S": "bytes", "O": "Python objects",
            "M": "dates", "m": "time deltas"}.get(dtype.kind, "not real numbers")


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`: the adjoint (backward) of NumPy broadcasting.

    Broadcasting copies an input along new leading axes and along axes of
    size 1. Each copy received its own share of the gradient, so the input's
    gradient is the sum over the copies:
      - sum over the leading axes that `shape` does not have;
      - sum, keeping the axis, over every axis where `shape` has size 1.
    Example: x of shape (3, 1) broadcast to (2, 3, 4) gets
    grad.sum(axis=0).sum(axis=2, keepdims=True), of shape (3, 1).
    """
    if grad.shape == shape:
        return grad
    n_leading = grad.ndim - len(shape)
    if grad.shape[n_leading:] == shape and grad.size == math.prod(shape):   # only leading axes of size 1
        return grad.reshape(shape)                                          # were added: a sum over one copy
    if n_leading > 0:
        grad = grad.sum(axis=tuple(range(n_leading)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Tensor:
    """A float64 array that remembers how it was computed, so gradients can flow back.

    `Tensor(data, requires_grad=True)` makes a leaf (a parameter or an input we
    want the gradient of). After `loss.backward()`, `leaf.grad` holds dF/dleaf,
    an array of the leaf's shape. Gradients accumulate (`+=`) over calls of
    `backward`, as in PyTorch: set `grad = None` (or `Module.zero_grad()`)
    between steps. Only leaves keep `.grad`; intermediate results pass theirs on.

    The data is copied into a new float64 array, so changing the array you
    passed in later does not change the Tensor. Assigning `t.data` later
    (`t.data = array` copies too; `t.data -= step` updates in place) counts
    as a change: see "What a VJP reads, and when" at the top of this file.
    """

    __slots__ = ("_data", "_version", "grad", "requires_grad", "name", "_parents", "_vjps", "_input_versions")
    __array_ufunc__ = None  # makes `ndarray + Tensor` call Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False):
        self._data = np.array(as_float_array(data), dtype=np.float64)
        self._version = 0
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = "leaf"
        self._parents = ()
        self._vjps = ()
        self._input_versions = ()

    # ---- the array it holds ----
    def _set_data(self, value):
        """`t.data = value`: store the new values and count the change (the version number).

        `t.data -= step` hands back the same array, already updated in place;
        any other array is copied as float64, as `Tensor(...)` does. A Tensor
        that requires a gradient keeps its shape (its gradients have that shape).
        """
        if value is not self._data:
            value = np.array(as_float_array(value, "the new .data"), dtype=np.float64)
            if self.requires_grad and value.shape != self._data.shape:
                raise ValueError(f"cannot assign data of shape {value.shape} to a Tensor of shape "
                                 f"{self._data.shape} that requires a gradient; make a new Tensor instead")
        self._data = value
        self._version += 1

    data = property(attrgetter("_data"), _set_data, doc="The values, a float64 NumPy array.")
    shape = property(attrgetter("_data.shape"), doc="The shape of the values (a tuple).")
    ndim = property(attrgetter("_data.ndim"), doc="The number of axes.")
    size = property(attrgetter("_data.size"), doc="The number of entries.")

    def item(self) -> float:
        """The value of a one-element Tensor as a Python float."""
        return float(self._data.item())

    def numpy(self) -> np.ndarray:
        """A copy of the values as a NumPy array (PyTorch's habit; no graph, no gradient).

        Unlike PyTorch's `.numpy()`, which shares memory, this is a copy: writing
        into it can never change the Tensor behind the engine's back.
        """
        return self._data.copy()

    def detach(self) -> "Tensor":
        """A new leaf with the same values and no history (no gradient flows through it)."""
        return Tensor(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}{grad})"

    def __len__(self):
        return len(self.data)

    # ---- backward ----
    def backward(self, grad=None) -> None:
        """Back-propagate: fill `.grad` of every leaf this Tensor depends on.

        For a scalar output, `backward()` starts from dF/dF = 1. For any other
        output pass `grad`, the gradient of some scalar with respect to this
        Tensor (same shape). Calling `backward` twice adds the gradients twice.
        """
        if not _grad_enabled:
            raise RuntimeError("backward() was called inside `with no_grad():`; call it outside that block")
        if not self.requires_grad:
            raise RuntimeError(
                "this Tensor does not depend on any Tensor with requires_grad=True, so there is no "
                "gradient to compute; create the parameters with Tensor(..., requires_grad=True)")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without a gradient needs a scalar, but this Tensor has shape {self.shape}; "
                    "reduce it first (e.g. .sum() or .mean()) or pass backward(grad) with an array of that shape")
            grad = np.ones_like(self.data)
        else:
            grad = as_float_array(grad, "the gradient passed to backward()")
            if grad.shape != self.shape:
                raise ValueError(f"backward(grad): grad has shape {grad.shape} but this Tensor has shape "
                                 f"{self.shape}; pass a gradient of the output's shape")
        order = _topological_order(self)   # the ops, inputs before outputs (leaves are not ops)
        _check_unchanged(order)
        grads = {self: grad}  # Tensors hash by identity: one entry per node
        summed = set()        # the nodes whose gradient is a sum made below: an array of backward's own
        for node in reversed(order):
            g = grads.pop(node)
            for parent, vjp in zip(node._parents, node._vjps):
                if not parent.requires_grad:
                    continue
                g_parent = vjp(g)
                if g_parent.shape != parent._data.shape:  # a real check: `python -O` would remove an assert
                    raise RuntimeError(
                        f"op '{node.name}' returned a gradient of shape {g_parent.shape} for an input of "
                        f"shape {parent.shape}; its VJP must return the input's shape (call "
                        "unbroadcast(g, x.shape) if the input was broadcast)")
                earlier = grads.get(parent)   # gradients from several uses of one input add up
                if earlier is None:
                    grads[parent] = g_parent
                else:
                    grads[parent] = earlier + g_parent
                    summed.add(parent)
        for leaf, g in grads.items():   # what is left: the leaves' gradients, complete
            # The leaf gets a float64 array of its own: a sum made above already is one (asarray only turns a
            # NumPy scalar into a 0-d array); a VJP's result may be shared with other gradients, so it is copied.
            g = np.asarray(g, dtype=np.float64) if leaf in summed else np.array(g, dtype=np.float64)
            leaf.grad = g if leaf.grad is None else leaf.grad + g

    # ---- arithmetic (numbers and arrays mix in on either side) ----
    def __add__(self, other):
        other = as_tensor(other)
        return make_op("add", _elementwise(np.add, self, other), (self, other),
                       (lambda g: unbroadcast(g, self.shape), lambda g: unbroadcast(g, other.shape)))

    def __sub__(self, other):
        other = as_tensor(other)
        return make_op("sub", _elementwise(np.subtract, self, other), (self, other),
                       (lambda g: unbroadcast(g, self.shape), lambda g: unbroadcast(-g, other.shape)))

    def __mul__(self, other):
        other = as_tensor(other)
        return make_op("mul", _elementwise(np.multiply, self, other), (self, other),
                       (lambda g: unbroadcast(g * other.data, self.shape),
                        lambda g: unbroadcast(g * self.data, other.shape)))

    def __truediv__(self, other):
        """d(a/b)/da = 1/b, d(a/b)/db = -a/b²."""
        other = as_tensor(other)
        return make_op("div", _elementwise(np.divide, self, other), (self, other),
                       (lambda g: unbroadcast(g / other.data, self.shape),
                        lambda g: unbroadcast(-g * self.data / other.data ** 2, other.shape)))

    def __radd__(self, other):
        return as_tensor(other) + self

    def __rsub__(self, other):
        return as_tensor(other) - self

    def __rmul__(self, other):
        return as_tensor(other) * self

    def __rtruediv__(self, other):
        return as_tensor(other) / self

    def __neg__(self):
        return make_op("neg", -self.data, (self,), (lambda g: -g,))

    def __pow__(self, p):
        """x**p for a number p; d(x^p)/dx = p x^(p-1)."""
        if isinstance(p, Tensor) or np.ndim(p) != 0:
            raise TypeError("only a number exponent is supported (x ** 2, x ** 0.5); "
                            "for a Tensor exponent write (y * x.log()).exp()")
        p = float(p)
        if p == 0.0:  # x**0 = 1 has gradient 0 everywhere (the formula would give 0 * inf at x = 0)
            return make_op("pow", np.ones_like(self.data), (self,), (lambda g: np.zeros_like(g),))
        return make_op("pow", self.data ** p, (self,), (lambda g: g * p * self.data ** (p - 1),))

    def __matmul__(self, other):
        return matmul(self, as_tensor(other))

    def __rmatmul__(self, other):
        return matmul(as_tensor(other), self)

    # ---- elementwise functions ----
    def exp(self):
        """d e^x/dx = e^x (reuses the output)."""
        out = np.exp(self.data)
        return make_op("exp", out, (self,), (lambda g: g * out,))

    def log(self):
        """d log x/dx = 1/x."""
        return make_op("log", np.log(self.data), (self,), (lambda g: g / self.data,))

    def tanh(self):
        """d tanh x/dx = 1 - tanh² x."""
        out = np.tanh(self.data)
        return make_op("tanh", out, (self,), (lambda g: g * (1.0 - out ** 2),))

    def relu(self):
        """max(x, 0); derivative 1 where x > 0, else 0."""
        return make_op("relu", np.maximum(self.data, 0.0), (self,), (lambda g: g * (self.data > 0),))

    def sigmoid(self):
        """s(x) = 1/(1+e^-x) = exp(-log(1+e^-x)), which never overflows; ds/dx = s(1-s)."""
        out = sigmoid(self.data)
        return make_op("sigmoid", out, (self,), (lambda g: g * out * (1.0 - out),))

    def softplus(self):
        """log(1+e^x) = max(x, 0) + log(1 + e^-|x|), stable for any x.

        Derivative: sigmoid(x) = 1 - e^-softplus(x), computed from the output.
        """
        out = np.maximum(self.data, 0.0) + np.log1p(np.exp(-np.abs(self.data)))
        return make_op("softplus", out, (self,), (lambda g: g * -np.expm1(-out),))

    def sqrt(self):
        """√x; d√x/dx = 1/(2√x) (reuses the output). Like np.sqrt: √0 = 0 with an infinite
        derivative, and a negative entry gives NaN (with NumPy's warning)."""
        out = np.sqrt(self.data)
        return make_op("sqrt", out, (self,), (lambda g: g / (2.0 * out),))

    def abs(self):
        """|x|; d|x|/dx = sign(x), taken as 0 at the kink x = 0 (as PyTorch does)."""
        return make_op("abs", np.abs(self.data), (self,), (lambda g: g * np.sign(self.data),))

    __abs__ = abs

    # ---- comparisons: plain boolean arrays, no graph (== stays identity, see the top of the file) ----
    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    # ---- reductions and shape ----
    def sum(self, axis=None, keepdims: bool = False):
        """Sum over `axis`. Backward: every summed entry gets the output's gradient (a broadcast)."""
        axes = _normalize_axes(axis, self.ndim)

        def vjp(g):
            if not keepdims:
                g = np.expand_dims(g, axes)
            return np.broadcast_to(g, self.shape).copy()

        return make_op("sum", self.data.sum(axis=axes, keepdims=keepdims), (self,), (vjp,))

    def mean(self, axis=None, keepdims: bool = False):
        """Mean = sum / (number of entries summed); built from `sum`."""
        axes = _normalize_axes(axis, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axis=axes, keepdims=keepdims) * (1.0 / count)

    def reshape(self, *shape):
        """Same entries, new shape; the gradient is reshaped back."""
        return make_op("reshape", self.data.reshape(*shape), (self,), (lambda g: g.reshape(self.shape),))

    def transpose(self, *axes):
        """Permute axes (reverse them if none given); the gradient is permuted back."""
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        axes = tuple(axes) if axes else tuple(reversed(range(self.ndim)))
        out = self.data.transpose(axes)  # NumPy checks the axes
        inverse = tuple(np.argsort([a % self.ndim for a in axes]))  # axis -1 is axis ndim - 1
        return make_op("transpose", out, (self,), (lambda g: g.transpose(inverse),))

    T = property(lambda self: self.transpose())

    def __getitem__(self, index):
        """Indexing and slicing. Backward scatters the gradient back, adding where an entry was used twice."""
        if isinstance(index, Tensor):
            raise TypeError("index with an integer or boolean NumPy array, not a Tensor (use t.data)")
        index = _captured_index(index)

        def vjp(g):
            full = np.zeros(self.shape)
            if _is_basic_index(index):   # slices and integers pick each entry at most once
                full[index] = g
            else:                        # an index array may repeat an entry: add, do not overwrite
                np.add.at(full, index, g)
            return full

        return make_op("index", self.data[index], (self,), (vjp,))

    def logsumexp(self, axis=-1, keepdims: bool = False):
        """log Σ_i e^{x_i} along `axis` (an int, or None for all), computed as m + log Σ e^{x_i - m} with m = max x (no overflow).

        The reduced axis is dropped, as in NumPy; keepdims=True keeps it with size 1.

        Gradient: d/dx_i = e^{x_i} / Σ_j e^{x_j} = softmax(x)_i.
        """
        lse = _logsumexp(self.data, axis)
        out = lse if keepdims else np.squeeze(lse, axis=axis)
        restore_axis = not keepdims and axis is not None
        return make_op("logsumexp", out, (self,),
                       (lambda g: (np.expand_dims(g, axis) if restore_axis else g) * np.exp(self.data - lse),))

    def log_softmax(self, axis=-1):
        """log softmax(x)_i = x_i - logsumexp(x).

        Gradient (a VJP): dF/dx = g - softmax(x) * Σ_j g_j, summed along `axis`.
        """
        out = self.data - _logsumexp(self.data, axis)
        return make_op("log_softmax", out, (self,),
                       (lambda g: g - np.exp(out) * g.sum(axis=axis, keepdims=True),))


def make_op(name: str, out_data: np.ndarray, inputs: tuple, vjps: tuple) -> Tensor:
    """Record one op in the graph: THE mechanism every operation in minivi uses.

    name:     a label, used in error messages.
    out_data: the forward result, already computed on plain arrays.
    inputs:   the Tensors the result was computed from.
    vjps:     one function per input, g -> dF/d(input), mapping the gradient of
              the output (an array of out_data's shape) to the gradient of that
              input (an array of the input's shape; call `unbroadcast` if the
              input was broadcast).

    A VJP is only called if its input needs a gradient, and inside `no_grad()`
    nothing is recorded at all. The inputs' version numbers are written down
    here; `backward` refuses if one has changed since (see the top of this file).
    Example, y = x²:

        make_op("square", x.data ** 2, (x,), (lambda g: g * 2 * x.data,))
    """
    out = Tensor.__new__(Tensor)
    out._data = np.asarray(out_data, dtype=np.float64)  # NumPy returns 0-d results as scalars
    out._version = 0
    out.grad = None
    out.name = name
    out.requires_grad = _grad_enabled and any(map(_requires_grad, inputs))
    if out.requires_grad:
        out._parents, out._vjps = inputs, vjps
        out._input_versions = tuple(map(_version, inputs))  # checked by backward
    else:
        out._parents = out._vjps = out._input_versions = ()
    return out


_requires_grad, _version = attrgetter("requires_grad"), attrgetter("_version")   # t -> t.requires_grad, t._version


def as_tensor(value) -> Tensor:
    """Return `value` if it is a Tensor, else wrap it as a constant (no gradient)."""
    if isinstance(value, Tensor):
        return value
    if type(value) in (float, int):  # the common case `2 * x`, without the array checks
        return make_op("constant", np.float64(value), (), ())
    return Tensor(value)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """a @ b, with NumPy's rules for 1-D operands and for leading (batch) axes.

    For C = A B: dF/dA = G Bᵀ and dF/dB = Aᵀ G, summed over broadcast batch axes.
    A 1-D `a` is treated as a row (1, k) and a 1-D `b` as a column (k, 1).
    When a matrix B meets a stack A of shape (..., N, k), the sum over the stack
    Σ_s A_sᵀ G_s is the one product Aᵀ G with the stack's rows laid end to end.
    """
    out, vjp_a, vjp_b = _matmul_and_vjps(a, b)
    return make_op("matmul", out, (a, b), (vjp_a, vjp_b))


def affine(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """x @ w + b as ONE op: a layer's pre-activation (the same numbers as `x @ w + b`, one node instead of two).

    The VJPs are those of the two ops it joins: dF/dx = G wᵀ and dF/dw = xᵀ G
    (`matmul`), and dF/db = G summed over the axes b was broadcast along
    (`unbroadcast`, as for `+`). If b broadcast the product to a larger
    shape, G is first summed back to the product's shape.
    """
    b = as_tensor(b)
    product, vjp_x, vjp_w = _matmul_and_vjps(x, w)
    try:
        out = product + b.data
    except ValueError:
        raise ValueError(f"x @ w + b: the product of shape {product.shape} and b of shape {b.shape} do not "
                         "broadcast; b needs one entry per output (shape (out,))") from None
    if out.shape != product.shape:
        vjp_x, vjp_w = _after_unbroadcast(vjp_x, product.shape), _after_unbroadcast(vjp_w, product.shape)
    return make_op("affine", out, (x, w, b), (vjp_x, vjp_w, lambda g: unbroadcast(g, b.shape)))


def _after_unbroadcast(vjp, shape: tuple):
    """The VJP of an input of an op whose result was then broadcast: sum G back to `shape` first."""
    return lambda g: vjp(unbroadcast(g, shape))


def _matmul_and_vjps(a: Tensor, b: Tensor) -> tuple:
    """a.data @ b.data and the two VJPs of `matmul` (see there), after checking the shapes."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("@ needs arrays with at least one axis; use * to multiply by a number")
    k_a, k_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        raise ValueError(f"matmul shape mismatch: {a.shape} @ {b.shape}: the last axis of the left "
                         f"({k_a}) must equal the second-to-last of the right ({k_b})")
    try:
        out = _product(a.data, b.data)
    except ValueError as err:
        raise ValueError(f"matmul shape mismatch: {a.shape} @ {b.shape}: leading (batch) axes "
                         f"do not broadcast ({err})") from None
    a2 = a.data if a.ndim > 1 else a.data[None, :]
    b2 = b.data if b.ndim > 1 else b.data[:, None]

    def as_matrix_grad(g):  # restore the axes that 1-D operands dropped: column first, then row
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        return np.expand_dims(g, -2) if a.ndim == 1 else g

    def vjp_a(g):
        g_a = _product(as_matrix_grad(g), np.swapaxes(b2, -1, -2))
        return unbroadcast(g_a[..., 0, :] if a.ndim == 1 else g_a, a.shape)

    def vjp_b(g):
        if a.ndim > 2 and b.ndim == 2:   # (..., N, k) @ (k, n): the batch axes are rows too, one 2-D product
            return a2.reshape(-1, a.shape[-1]).T @ g.reshape(-1, b.shape[-1])
        g_b = _product(np.swapaxes(a2, -1, -2), as_matrix_grad(g))
        return unbroadcast(g_b[..., 0] if b.ndim == 1 else g_b, b.shape)

    return out, vjp_a, vjp_b


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b. With one shared axis, (..., N, 1) @ (..., 1, n), each entry is a single product, so this is
    a * b (broadcast), which NumPy computes several times faster than matmul on small stacks; adding 0.0
    turns -0.0 into 0.0, as matmul's sum 0 + a_i b_j does, so the bits are those of a @ b."""
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != 1:
        return a @ b
    out = a * b
    out += 0.0
    return out


def _is_basic_index(index) -> bool:
    """True for NumPy's basic indexing (ints, slices, ..., None, or a tuple of them), which
    selects every entry at most once; False for index arrays and booleans (advanced indexing)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(part is None or part is Ellipsis or isinstance(part, slice)
               or (isinstance(part, (int, np.integer)) and not isinstance(part, bool)) for part in parts)

def _captured_index(index):
    """A copy of the index arrays (and lists) inside `index`, taken at forward time.

    The VJP of `t[index]` scatters with `index` when `backward` runs; copying it
    means that changing your index array afterwards cannot move the gradient.
    Slices, integers, None and Ellipsis are immutable and pass through.
    """
    if isinstance(index, tuple):
        return tuple([_captured_index(i) for i in index])
    if isinstance(index, (np.ndarray, list)):
        return np.array(index)
    return index


def _compare(ufunc, a: Tensor, b) -> np.ndarray:
    """a < b (or <=, >, >=) entry by entry: a plain boolean array, no graph."""
    return np.asarray(_elementwise(ufunc, a, as_tensor(b)))


def _elementwise(ufunc, a: Tensor, b: Tensor) -> np.ndarray:
    """ufunc(a, b) on the arrays, with an error that names both shapes if they do not broadcast."""
    try:
        return ufunc(a.data, b.data)
    except ValueError:
        raise ValueError(f"{ufunc.__name__}: shapes {a.shape} and {b.shape} do not broadcast (NumPy's rule: "
                         "compare from the last axis; sizes must be equal or 1); reshape one of them, e.g. "
                         "x.reshape(-1, 1) for a column") from None


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1/(1+e^-x), computed with e = e^-|x| as 1/(1+e) for x >= 0 and e/(1+e) for x < 0.

    The exponent is never positive, so nothing overflows for any x.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def _logsumexp(x: np.ndarray, axis) -> np.ndarray:
    """log Σ e^x along `axis` with keepdims, shifted by the max so nothing overflows."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def _normalize_axes(axis, ndim: int) -> tuple:
    """axis=None -> all axes; an int or tuple -> a tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if ndim == 0:
            raise ValueError(f"axis {a}: a 0-d Tensor (a single number) has no axes; "
                             "call .sum() or .mean() without axis")
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a Tensor with {ndim} axes")
    axes = tuple(sorted(a % ndim for a in axes))
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis {axis} names the same axis twice; list each axis once")
    return axes


def _check_unchanged(order: list) -> None:
    """Refuse to back-propagate through an op whose inputs or result were assigned since its forward.

    Checked for the whole graph before any gradient is written, so a refusal
    leaves every `.grad` as it was.
    """
    for node in order:
        if node._version:
            raise RuntimeError(
                f"backward: the result of op '{node.name}' (shape {node.shape}) had its .data assigned after "
                "the forward pass, so its gradient would not match its values; compute it again instead")
        if tuple(map(_version, node._parents)) == node._input_versions:   # the common case
            continue
        for i, (parent, version) in enumerate(zip(node._parents, node._input_versions)):
            if parent._version != version:
                raise RuntimeError(
                    f"backward: input {i} of op '{node.name}' (shape {parent.shape}) had its .data assigned "
                    "after the forward pass used it, so the gradient would mix the new values into a graph "
                    "built from the old ones; run the forward pass again after changing .data (an optimiser "
                    "changes parameters only after backward)")


def _topological_order(root: Tensor) -> list:
    """Every op (a node with inputs) that `root` depends on, inputs before outputs; iterative, so deep
    graphs are fine. Leaves are left out: they have no VJP to call, only a gradient to receive."""
    order, visited, stack = [], set(), [(root, False)] if root._parents else []
    while stack:
        node, finished = stack.pop()
        if finished:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for parent in node._parents:
            if parent._parents and parent.requires_grad and parent not in visited:
                stack.append((parent, False))
    return order
