"""Tests for the engine, minivi/tensor.py.

The main test is one idea applied to every op: draw inputs with Hypothesis,
then check
  1. the op's value equals the same formula computed with NumPy, and
  2. the engine's gradient equals central finite differences of that NumPy
     formula (so the judge never uses the engine), with the gradient's shape
     equal to the input's.
The ops sit in small registries of (name, NumPy function, engine function,
domain) so a student can add a row for a new op. The rest are unit tests of
the graph machinery (reused nodes, deep chains, accumulation, no_grad,
unbroadcast) and of the error messages.
"""
import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minivi as mv
from example_counts import Examples
from minivi import Tensor, make_op, no_grad, unbroadcast

# ------------------------------------------------------------------ tolerances

# Value: engine and reference evaluate the same float64 formula, sometimes in a
# different but equivalent form (stable sigmoid, shifted log-sum-exp), so they
# agree to a few units in the last place; 1e-12 leaves room for that and
# nothing more.
VALUE_RTOL, VALUE_ATOL = 1e-12, 1e-12

# Gradient: mv.numerical_grad uses central differences with h = 1e-6. On the
# domains below (|inputs| <= 3; log and pow inputs >= 0.1, divisors >= 0.5 away
# from zero; at most 81 entries) the truncation error h^2 |f'''| / 6 is below
# 1e-9 of the gradient, and a pessimistic bound on the rounding error,
# 1e-16 * |F| / h with |F| <= 1e4, is 1e-6; measured errors stay below 5% of
# the tolerance. A wrong derivative formula is off by O(0.1) or more.
GRAD_RTOL, GRAD_ATOL = 1e-6, 1e-6

FEW = Examples(plain=10, slow=50)  # per op and case: 10 in the plain run, 50 in `pytest -m slow`

# ------------------------------------------------------------------ domains


def floats_in(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


ANY = floats_in(-3.0, 3.0)
POSITIVE = floats_in(0.1, 3.0)                                 # log, sqrt, non-integer powers
AWAY_FROM_ZERO = floats_in(-3.0, -0.5) | floats_in(0.5, 3.0)   # divisors, negative powers
OFF_KINK = ANY.filter(lambda v: abs(v) > 1e-3)                 # relu is not differentiable at 0

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
NONEMPTY_SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
MATRIX_SHAPES = hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4)
BROADCASTABLE = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
# NumPy's own rule for @: optional 1-D operands "(n?,k),(k,m?)" and broadcast batch axes.
MATMUL_SHAPES = hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3)


def arrays(shape, elements=ANY):
    return hnp.arrays(np.float64, shape, elements=elements)


# ------------------------------------------------------------------ the check


def unequal_weights(shape):
    """Weights for the final sum. Unequal weights make the gradient that arrives
    at the op non-uniform, so a VJP that ignores its incoming gradient fails."""
    size = int(np.prod(shape))
    return np.linspace(0.5, 1.5, size).reshape(shape)


def check_op(engine_fn, numpy_fn, *arrays):
    """engine_fn(*Tensors) must equal numpy_fn(*arrays) in value and in gradient."""
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = engine_fn(*tensors)
    expected = numpy_fn(*arrays)
    assert isinstance(out, Tensor) and isinstance(out.data, np.ndarray) and out.data.dtype == np.float64
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=VALUE_RTOL, atol=VALUE_ATOL)

    weights = unequal_weights(out.shape)
    (out * weights).sum().backward()
    numeric = mv.numerical_grad(lambda *xs: np.sum(numpy_fn(*xs) * weights), *arrays)
    for t, expected_grad in zip(tensors, numeric):
        assert isinstance(t.grad, np.ndarray) and t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad, expected_grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


# ------------------------------------------------------------------ elementwise and whole-array ops

UNARY_OPS = [
    # name          NumPy reference                      engine                     domain
    ("neg",         lambda x: -x,                        lambda t: -t,              ANY),
    ("exp",         np.exp,                              lambda t: t.exp(),         ANY),
    ("log",         np.log,                              lambda t: t.log(),         POSITIVE),
    ("tanh",        np.tanh,                             lambda t: t.tanh(),        ANY),
    ("relu",        lambda x: np.maximum(x, 0.0),        lambda t: t.relu(),        OFF_KINK),
    ("sigmoid",     lambda x: 1.0 / (1.0 + np.exp(-x)),  lambda t: t.sigmoid(),     ANY),
    ("softplus",    lambda x: np.log(1.0 + np.exp(x)),   lambda t: t.softplus(),    ANY),
    ("sqrt",        np.sqrt,                             lambda t: t.sqrt(),        POSITIVE),
    ("abs",         np.abs,                              lambda t: t.abs(),         OFF_KINK),
    ("abs()",       np.abs,                              lambda t: abs(t),          OFF_KINK),
    ("x ** 2",      lambda x: x * x,                     lambda t: t ** 2,          ANY),
    ("x ** 3",      lambda x: x * x * x,                 lambda t: t ** 3,          ANY),
    ("x ** -1",     lambda x: 1.0 / x,                   lambda t: t ** -1,         AWAY_FROM_ZERO),
    ("x ** 0.5",    np.sqrt,                             lambda t: t ** 0.5,        POSITIVE),
    ("x ** -1.5",   lambda x: 1.0 / (x * np.sqrt(x)),    lambda t: t ** -1.5,       POSITIVE),
    # Python numbers on either side
    ("2.5 + t",     lambda x: 2.5 + x,                   lambda t: 2.5 + t,         ANY),
    ("t + 2.5",     lambda x: x + 2.5,                   lambda t: t + 2.5,         ANY),
    ("2.5 - t",     lambda x: 2.5 - x,                   lambda t: 2.5 - t,         ANY),
    ("t - 2.5",     lambda x: x - 2.5,                   lambda t: t - 2.5,         ANY),
    ("-1.5 * t",    lambda x: -1.5 * x,                  lambda t: -1.5 * t,        ANY),
    ("t * -1.5",    lambda x: x * -1.5,                  lambda t: t * -1.5,        ANY),
    ("2.5 / t",     lambda x: 2.5 / x,                   lambda t: 2.5 / t,         AWAY_FROM_ZERO),
    ("t / 2.5",     lambda x: x / 2.5,                   lambda t: t / 2.5,         ANY),
    # whole-array ops without arguments
    ("sum",         np.sum,                              lambda t: t.sum(),         ANY),
    ("mean",        np.mean,                             lambda t: t.mean(),        ANY),
    (".T",          lambda x: x.T,                       lambda t: t.T,             ANY),
    ("transpose()", np.transpose,                        lambda t: t.transpose(),   ANY),
    ("reshape(-1)", lambda x: x.reshape(-1),             lambda t: t.reshape(-1),   ANY),
]


@pytest.mark.parametrize("name, numpy_fn, engine_fn, domain", UNARY_OPS, ids=[op[0] for op in UNARY_OPS])
@FEW.given(data=st.data())
def test_unary_op_value_and_gradient(name, numpy_fn, engine_fn, domain, data):
    x = data.draw(arrays(data.draw(SHAPES), domain), label="x")
    check_op(engine_fn, numpy_fn, x)


@FEW.given(data=st.data(), p=floats_in(-2.0, 3.0))
def test_pow_with_any_real_exponent_on_positive_inputs(data, p):
    x = data.draw(arrays(data.draw(SHAPES), POSITIVE), label="x")
    check_op(lambda t: t ** p, lambda x: np.exp(p * np.log(x)), x)


# ------------------------------------------------------------------ binary ops with broadcasting

BINARY_OPS = [
    # name     NumPy reference  engine               left domain  right domain    shapes
    ("add",    np.add,          lambda a, b: a + b,  ANY,         ANY,            BROADCASTABLE),
    ("sub",    np.subtract,     lambda a, b: a - b,  ANY,         ANY,            BROADCASTABLE),
    ("mul",    np.multiply,     lambda a, b: a * b,  ANY,         ANY,            BROADCASTABLE),
    ("div",    np.divide,       lambda a, b: a / b,  ANY,         AWAY_FROM_ZERO, BROADCASTABLE),
    ("matmul", np.matmul,       lambda a, b: a @ b,  ANY,         ANY,            MATMUL_SHAPES),
]


@pytest.mark.parametrize("tensor_side", ["both", "left", "right"])
@pytest.mark.parametrize("name, numpy_fn, engine_fn, left_domain, right_domain, shapes", BINARY_OPS,
                         ids=[op[0] for op in BINARY_OPS])
@FEW.given(data=st.data())
def test_binary_op_value_and_gradient(name, numpy_fn, engine_fn, left_domain, right_domain, shapes,
                                      tensor_side, data):
    """tensor_side: which operands are Tensors; the other one is a plain NumPy
    array, so `t - array`, `array / t`, `array @ t` are covered too."""
    (left_shape, right_shape), _ = data.draw(shapes, label="shapes")
    a = data.draw(arrays(left_shape, left_domain), label="a")
    b = data.draw(arrays(right_shape, right_domain), label="b")
    if tensor_side == "both":
        check_op(engine_fn, numpy_fn, a, b)
    elif tensor_side == "left":
        check_op(lambda t: engine_fn(t, b), lambda x: numpy_fn(x, b), a)
    else:
        check_op(lambda t: engine_fn(a, t), lambda x: numpy_fn(a, x), b)


def test_matmul_covers_vector_vector_and_batched_cases():
    """Hypothesis draws these shapes at random; pin the special ones so they always run."""
    rng = np.random.default_rng(0)
    for left, right in [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3, 2)),
                        ((1, 2, 3), (5, 3, 2)), ((3,), (4, 3, 2)), ((2, 3, 2, 4), (4, 3)),
                        ((4, 1), (3, 1, 5)), ((2, 4, 1), (1, 5)), ((1,), (1, 3)), ((3, 1), (1,))]:
        check_op(lambda a, b: a @ b, np.matmul, rng.normal(size=left), rng.normal(size=right))


def test_matmul_over_one_shared_axis_equals_numpys_bit_for_bit():
    """With k = 1 (a (..., N, 1) @ (..., 1, n)) each entry is one product, computed as a * b: the same bits
    as np.matmul, signed zeros included, and batch axes that do not broadcast still name both shapes."""
    rng = np.random.default_rng(1)
    for left, right in [((32, 1), (8, 1, 50)), ((3, 1), (1, 4)), ((2, 1, 3, 1), (5, 1, 2))]:
        a, b = rng.normal(size=left), rng.normal(size=right)
        a.flat[0], b.flat[0] = 0.0, -1.0   # a signed zero: 0 * -1 = -0.0
        out = (Tensor(a) @ Tensor(b)).data
        assert out.tobytes() == np.matmul(a, b).tobytes()
    with pytest.raises(ValueError, match=r"\(2, 3, 1\).*\(4, 1, 5\)"):
        Tensor(np.ones((2, 3, 1))) @ Tensor(np.ones((4, 1, 5)))


# ------------------------------------------------------------------ reductions and shape ops with arguments


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, -1)])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@FEW.given(data=st.data())
def test_sum_and_mean_over_axes(reduction, axis, keepdims, data):
    x = data.draw(arrays(data.draw(MATRIX_SHAPES)), label="x")
    check_op(lambda t: getattr(t, reduction)(axis=axis, keepdims=keepdims),
             lambda x: getattr(np, reduction)(x, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1])
@FEW.given(data=st.data())
def test_logsumexp(axis, keepdims, data):
    x = data.draw(arrays(data.draw(NONEMPTY_SHAPES)), label="x")
    check_op(lambda t: t.logsumexp(axis=axis, keepdims=keepdims),
             lambda x: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)), x)


@pytest.mark.parametrize("axis", [0, -1])
@FEW.given(data=st.data())
def test_log_softmax(axis, data):
    x = data.draw(arrays(data.draw(NONEMPTY_SHAPES)), label="x")
    check_op(lambda t: t.log_softmax(axis=axis),
             lambda x: x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True)), x)


@FEW.given(data=st.data())
def test_reshape(data):
    x = data.draw(arrays(data.draw(SHAPES)), label="x")
    new_shape = data.draw(st.sampled_from([(-1,), (1, -1), (x.size, 1), x.shape[::-1]]), label="new shape")
    check_op(lambda t: t.reshape(new_shape), lambda x: x.reshape(new_shape), x)


@FEW.given(data=st.data())
def test_transpose_with_axes(data):
    x = data.draw(arrays(data.draw(NONEMPTY_SHAPES)), label="x")
    axes = data.draw(st.permutations(range(x.ndim)), label="axes")
    # NumPy also counts axes from the end (-1 is the last): write some axes that way
    from_end = data.draw(st.lists(st.booleans(), min_size=x.ndim, max_size=x.ndim), label="from end")
    axes = [a - x.ndim if negative else a for a, negative in zip(axes, from_end)]
    check_op(lambda t: t.transpose(*axes), lambda x: x.transpose(axes), x)


# ------------------------------------------------------------------ indexing


@FEW.given(data=st.data())
def test_index_with_slices_and_integers(data):
    x = data.draw(arrays(data.draw(NONEMPTY_SHAPES)), label="x")
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True), label="index")
    check_op(lambda t: t[index], lambda x: x[index], x)


@FEW.given(data=st.data())
def test_index_with_integer_arrays(data):
    """Integer arrays may repeat an entry; its gradient must then be added up."""
    x = data.draw(arrays(data.draw(NONEMPTY_SHAPES)), label="x")
    index = data.draw(hnp.integer_array_indices(x.shape, result_shape=hnp.array_shapes(max_dims=2, max_side=5)),
                      label="index")
    check_op(lambda t: t[index], lambda x: x[index], x)


@FEW.given(data=st.data())
def test_index_with_boolean_mask(data):
    x = data.draw(arrays(data.draw(NONEMPTY_SHAPES)), label="x")
    mask = data.draw(hnp.arrays(bool, x.shape), label="mask")
    check_op(lambda t: t[mask], lambda x: x[mask], x)


def test_repeated_index_adds_up_the_gradient():
    x = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


@pytest.mark.parametrize("index", [([1, 1, 0], slice(None)), (slice(None), [2, 2]), (Ellipsis, [0, 0]),
                                   ([1, 1], 0), (np.int64(1), [0, 0, 2])])
def test_a_tuple_mixing_slices_and_repeated_indices_adds_up(index):
    """Only plain slices and integers may skip the adding scatter: a list inside a tuple may repeat."""
    rng = np.random.default_rng(0)
    check_op(lambda t: t[index], lambda x: x[index], rng.normal(size=(2, 3)))


# ------------------------------------------------------------------ numerical stability


def test_logsumexp_and_log_softmax_do_not_overflow():
    x = Tensor([1000.0, 1000.0, -1000.0])
    assert x.logsumexp().item() == pytest.approx(1000.0 + np.log(2.0), rel=1e-15)
    # log_softmax = x - logsumexp(x) = 1000 - (1000 + log 2): the rounding of
    # 1000 + log 2 (half an ulp of 1000, 6e-14) survives the subtraction.
    np.testing.assert_allclose(x.log_softmax().data[:2], -np.log(2.0), rtol=0, atol=1e-13)


def test_sigmoid_and_softplus_do_not_overflow():
    x = Tensor([-1000.0, 1000.0])
    with np.errstate(over="raise", invalid="raise"):  # an overflow or a NaN would become an error
        np.testing.assert_array_equal(x.sigmoid().data, [0.0, 1.0])
        np.testing.assert_array_equal(x.softplus().data, [0.0, 1000.0])


# ------------------------------------------------------------------ unbroadcast


def test_unbroadcast_sums_leading_axes():
    grad = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(grad, (3, 4)), grad[0] + grad[1])


def test_unbroadcast_sums_size_one_axes_keeping_them():
    grad = np.arange(12.0).reshape(3, 4)
    expected = np.array([[0 + 1 + 2 + 3], [4 + 5 + 6 + 7], [8 + 9 + 10 + 11]], dtype=float)
    np.testing.assert_array_equal(unbroadcast(grad, (3, 1)), expected)
    np.testing.assert_array_equal(unbroadcast(grad, (1, 4)), [[12.0, 15.0, 18.0, 21.0]])


def test_unbroadcast_sums_leading_and_size_one_axes_together():
    grad = np.arange(24.0).reshape(2, 3, 4)
    expected = (grad[0] + grad[1]).sum(axis=1).reshape(3, 1)
    np.testing.assert_array_equal(unbroadcast(grad, (3, 1)), expected)
    assert unbroadcast(grad, ()) == grad.sum()


def test_unbroadcast_leaves_a_matching_shape_alone():
    grad = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(unbroadcast(grad, (2, 3)), grad)


@FEW.given(data=st.data())
def test_unbroadcast_is_the_adjoint_of_broadcasting(data):
    """For broadcasting B, <B(x), g> = <x, unbroadcast(g)> for all x and g."""
    (shape, _), out_shape = data.draw(BROADCASTABLE, label="shapes")
    x = data.draw(arrays(shape), label="x")
    g = data.draw(arrays(out_shape), label="g")
    back = unbroadcast(g, shape)
    assert back.shape == shape
    assert np.sum(np.broadcast_to(x, out_shape) * g) == pytest.approx(np.sum(x * back), rel=1e-12, abs=1e-12)


# ------------------------------------------------------------------ the graph: reuse, depth, accumulation


def test_reused_node_gets_summed_gradients():
    a = Tensor(3.0, requires_grad=True)
    b = a + a      # b = 2a, a used twice
    c = b * b      # c = 4a^2, b used twice; dc/da = 8a
    c.backward()
    assert a.grad == pytest.approx(8 * 3.0, rel=1e-15)


def test_diamond_gets_summed_gradients():
    a = Tensor(0.7, requires_grad=True)
    left, right = a * 2.0, a.exp()     # two paths from a ...
    (left * right).backward()          # ... meet again: d(2a e^a)/da = 2e^a + 2a e^a
    assert a.grad == pytest.approx(2 * np.exp(0.7) + 2 * 0.7 * np.exp(0.7), rel=1e-14)


def test_chain_of_ten_thousand_ops_backpropagates():
    """Deeper than Python's default recursion limit (1000): backward must not recurse."""
    x = Tensor(2.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + x          # y = 10001 x
    y.backward()
    assert x.grad == 10_001.0


def test_backward_twice_accumulates():
    x = Tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()                       # gradients add up, as documented (like PyTorch)
    np.testing.assert_array_equal(x.grad, 2 * (2 * x.data))
    x.grad = None                      # how to start afresh
    y.backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_backward_with_a_given_gradient_for_non_scalar_outputs():
    x = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    g = np.array([[0.5, -1.0, 2.0]])
    (x * 3.0).backward(g)
    np.testing.assert_array_equal(x.grad, 3.0 * g)


def test_only_leaves_keep_a_gradient_and_constants_get_none():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])             # a constant: requires_grad=False
    hidden = x * c
    hidden.sum().backward()
    assert hidden.grad is None and c.grad is None
    np.testing.assert_array_equal(x.grad, c.data)


# ------------------------------------------------------------------ make_op: the one mechanism


def test_make_op_records_a_custom_op():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    square = make_op("square", x.data ** 2, (x,), (lambda g: g * 2 * x.data,))
    square.sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_make_op_skips_the_vjp_of_an_input_without_gradient():
    def must_not_run(g):
        raise AssertionError("the VJP of a constant input was called")

    x, c = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0])
    out = make_op("mul", x.data * c.data, (x, c), (lambda g: g * c.data, must_not_run))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, c.data)


@pytest.mark.parametrize("uses", [1, 2, 3])
def test_a_leaf_gradient_owns_its_memory(uses):
    """A VJP may return an array it keeps (here `kept`, once per use of x); x.grad must
    still be a new float64 array, so changing it changes nothing else, and a second
    backward adds to x.grad without touching `kept`."""
    kept = np.array([1.0, 2.0])
    x = Tensor([5.0, 6.0], requires_grad=True)
    out = make_op("keeps", np.float64(0.0), (x,) * uses, (lambda g: kept,) * uses)
    out.backward()
    assert not np.shares_memory(x.grad, kept) and x.grad.dtype == np.float64
    x.grad *= 10.0
    np.testing.assert_array_equal(kept, [1.0, 2.0])
    out.backward()
    np.testing.assert_array_equal(x.grad, 10.0 * uses * kept + uses * kept)
    np.testing.assert_array_equal(kept, [1.0, 2.0])


@pytest.mark.parametrize("uses", [1, 2])
def test_a_scalar_leaf_gets_a_0d_array_as_its_gradient(uses):
    """NumPy gives 0-d results as scalars (np.float64), also for the sum of two uses' gradients;
    a leaf's .grad is still a float64 ndarray of shape () that += updates in place."""
    x = Tensor(3.0, requires_grad=True)
    out = make_op("twice", np.float64(0.0), (x,) * uses, (lambda g: g * 2.0,) * uses)
    out.backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad.dtype == np.float64
    assert x.grad == 2.0 * uses


def test_backward_on_a_leaf_itself_gives_it_the_gradient_passed():
    """d leaf / d leaf = 1: a leaf is not an op (the topological order holds none), yet backward on it
    still fills its .grad, with a copy of the gradient passed in."""
    x = Tensor(3.0, requires_grad=True)
    x.backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad == 1.0
    y, g = Tensor([1.0, 2.0], requires_grad=True), np.array([3.0, 4.0])
    y.backward(g)
    g[0] = 100.0
    np.testing.assert_array_equal(y.grad, [3.0, 4.0])


@pytest.mark.parametrize("uses", [1, 2])
def test_a_leaf_gradient_is_float64_even_from_integer_vjps(uses):
    """A hand-written VJP may return integers; the leaf's gradient is float64 all the same."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    out = make_op("count", np.float64(0.0), (x,) * uses, (lambda g: np.ones(2, dtype=np.int64),) * uses)
    out.backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [uses, uses])


def test_two_leaves_fed_the_same_gradient_get_separate_arrays():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad, b.grad)
    a.grad += 1.0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_backward_checks_that_a_vjp_returns_the_input_shape():
    """A real check (RuntimeError), not an assert that `python -O` would remove."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    bad = make_op("bad_shape", x.data.sum(), (x,), (lambda g: np.ones(3),))
    with pytest.raises(RuntimeError, match=r"bad_shape.*\(3,\).*\(2,\).*unbroadcast"):
        bad.backward()


def test_the_shape_check_survives_python_dash_O():
    import subprocess
    import sys
    code = ("import numpy as np, minivi as mv\n"
            "x = mv.Tensor([1.0, 2.0], requires_grad=True)\n"
            "bad = mv.make_op('bad_shape', x.data.sum(), (x,), (lambda g: np.ones(3),))\n"
            "try:\n    bad.backward()\nexcept RuntimeError:\n    print('refused')\n")
    result = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "refused"


# ------------------------------------------------------------------ stale gradients: the version counter


def test_changing_an_index_array_after_the_forward_does_not_move_the_gradient():
    """The issue's example: the gradient must land on [1, 2], the entries the forward used."""
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    index = np.array([1, 2])
    y = (w[index] * np.array([10.0, 20.0])).sum()
    index[:] = [0, 1]
    y.backward()
    np.testing.assert_array_equal(w.grad, [0.0, 10.0, 20.0])


def test_changing_an_index_list_inside_a_tuple_after_the_forward_does_not_move_the_gradient():
    w = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    rows = [1]
    y = w[:, rows].sum()
    rows[0] = 2
    y.backward()
    np.testing.assert_array_equal(w.grad, [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("change", ["assign", "subtract in place"])
def test_backward_refuses_an_input_changed_after_the_forward(change):
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = Tensor([4.0, 5.0, 6.0])                      # a constant: its value is in w's gradient
    y = (w * x).exp().sum()
    if change == "assign":
        x.data = np.array([0.0, 0.0, 0.0])
    else:
        x.data -= 1.0
    with pytest.raises(RuntimeError, match=r"input 1 of op 'mul'.*forward pass again"):
        y.backward()
    assert w.grad is None                            # refused before any gradient was written


def test_backward_refuses_a_parameter_stepped_between_forward_and_backward():
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.data -= 0.1                                    # an optimiser step too early
    with pytest.raises(RuntimeError, match=r"op 'mul'"):
        y.backward()


def test_backward_refuses_an_op_result_changed_after_the_forward():
    w = Tensor([1.0, 2.0], requires_grad=True)
    e = w.exp()                                      # exp's VJP reuses its output
    y = e.sum()
    e.data = np.zeros(2)
    with pytest.raises(RuntimeError, match=r"result of op 'exp'"):
        y.backward()


def test_forward_backward_step_forward_backward_is_allowed():
    """The training loop changes parameters only after backward: never refused, gradients fresh."""
    w = Tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        w.grad = None
        (w * w).sum().backward()
        np.testing.assert_array_equal(w.grad, 2 * w.data)
        w.data -= 0.1 * w.grad


def test_assigning_data_copies_and_counts_the_change():
    t = Tensor([1.0, 2.0])
    source = np.array([3, 4])
    t.data = source
    source[0] = 100                                  # the Tensor holds its own copy
    assert t.data.dtype == np.float64 and t._version == 1
    np.testing.assert_array_equal(t.data, [3.0, 4.0])
    held = t.data
    t.data -= 1.0                                    # in place: the same array, one more version
    assert t.data is held and t._version == 2
    np.testing.assert_array_equal(t.data, [2.0, 3.0])


def test_assigning_data_of_another_shape_to_a_parameter_is_refused():
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        w.data = np.ones(3)
    c = Tensor([1.0, 2.0])                           # a constant may change shape
    c.data = np.ones(3)
    assert c.shape == (3,)


def test_assigning_non_numbers_to_data_is_refused():
    with pytest.raises(TypeError, match="real numbers"):
        Tensor([1.0]).data = ["a"]


# ------------------------------------------------------------------ sqrt and abs: explicit formula, autodiff, differences


def test_sqrt_gradient_three_ways():
    x = np.array([0.3, 1.0, 2.5, 9.0])
    weights = np.array([1.0, -2.0, 0.5, 3.0])
    explicit = weights / (2.0 * np.sqrt(x))                          # d√x/dx = 1/(2√x)
    t = Tensor(x, requires_grad=True)
    (t.sqrt() * weights).sum().backward()
    numeric, = mv.numerical_grad(lambda a: np.sum(np.sqrt(a) * weights), x)
    np.testing.assert_allclose(t.grad, explicit, rtol=1e-14)
    np.testing.assert_allclose(numeric, explicit, rtol=1e-8)


def test_abs_gradient_three_ways_and_zero_at_the_kink():
    x = np.array([-2.0, -0.4, 0.0, 0.7, 3.0])
    weights = np.array([1.0, -2.0, 0.5, 3.0, -1.5])
    explicit = weights * np.array([-1.0, -1.0, 0.0, 1.0, 1.0])      # sign(x), 0 at x = 0
    t = Tensor(x, requires_grad=True)
    (abs(t) * weights).sum().backward()
    np.testing.assert_array_equal(t.grad, explicit)
    off_kink = x != 0
    numeric, = mv.numerical_grad(lambda a: np.sum(np.abs(a) * weights), x)
    np.testing.assert_allclose(numeric[off_kink], explicit[off_kink], rtol=1e-8)


# ------------------------------------------------------------------ PyTorch habits: numpy(), comparisons, ==


def test_numpy_returns_a_copy_of_the_values():
    t = Tensor([1.0, 2.0], requires_grad=True)
    a = t.numpy()
    assert type(a) is np.ndarray and a.dtype == np.float64
    np.testing.assert_array_equal(a, [1.0, 2.0])
    a[0] = 100.0
    np.testing.assert_array_equal(t.data, [1.0, 2.0])


def test_comparisons_give_plain_boolean_arrays():
    t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for got, expected in [(t < 2.0, [True, False, False]), (t <= 2.0, [True, True, False]),
                          (t > 2.0, [False, False, True]), (t >= 2.0, [False, True, True]),
                          (t > Tensor([0.0, 2.0, 4.0]), [True, False, False]),
                          (np.array([3.0, 2.0, 1.0]) > t, [True, False, False])]:
        assert type(got) is np.ndarray and got.dtype == bool
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        t < np.ones(2)


def test_equality_is_identity_so_tensors_can_be_dict_keys():
    """backward keeps Tensors in a dict and a set: == must not compare values."""
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])
    assert a == a and a != b and len({a, b}) == 2
    assert (a == 1.0) is False


# ------------------------------------------------------------------ axes of a 0-d Tensor


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("axis", [0, -1, (0,)])
def test_a_single_number_has_no_axis(reduction, axis):
    with pytest.raises(ValueError, match="0-d Tensor .*has no axes.*without axis"):
        getattr(Tensor(1.0), reduction)(axis=axis)


def test_a_repeated_axis_is_refused():
    with pytest.raises(ValueError, match="same axis twice"):
        Tensor(np.ones((2, 3))).sum(axis=(1, -1))


# ------------------------------------------------------------------ no_grad


def test_no_grad_records_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = (x * 2.0).exp().sum()
    assert not y.requires_grad
    z = x * 2.0                         # recording is back on after the block
    assert z.requires_grad


def test_backward_inside_no_grad_raises():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_no_grad_is_restored_after_an_error():
    with pytest.raises(ZeroDivisionError), no_grad():
        1 / 0
    assert mv.tensor.is_grad_enabled()


# ------------------------------------------------------------------ data conversion


def test_data_is_copied_to_float64():
    source = np.array([1, 2, 3])
    t = Tensor(source)
    source[0] = 100
    assert t.data.dtype == np.float64
    np.testing.assert_array_equal(t.data, [1.0, 2.0, 3.0])
    assert Tensor([True, False]).data.dtype == np.float64


@pytest.mark.parametrize("bad", ["abc", ["a", "b"], object(), [1 + 2j], np.array([1.0, None])],
                         ids=["string", "strings", "object", "complex", "object array"])
def test_non_numeric_data_is_refused(bad):
    with pytest.raises(TypeError, match="real numbers"):
        Tensor(bad)


def test_non_numeric_operand_is_refused():
    with pytest.raises(TypeError, match="real numbers"):
        Tensor([1.0]) + "abc"


# ------------------------------------------------------------------ error messages


def test_backward_on_non_scalar_needs_a_gradient():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"scalar.*\(2, 3\)"):
        y.backward()


def test_backward_with_gradient_of_wrong_shape():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))


def test_backward_without_any_parameter():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        (Tensor([1.0]) * 2.0).sum().backward()


def re_shape(shape):
    """A shape as it appears in a message, escaped for a regular expression: (2, 3) -> \\(2, 3\\)."""
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("left, right", [((2, 3), (4, 5)), ((3,), (2,)), ((2, 3, 4), (5, 4, 2))])
def test_matmul_shape_mismatch_names_both_shapes(left, right):
    a, b = Tensor(np.ones(left)), Tensor(np.ones(right))
    with pytest.raises(ValueError, match=rf"{re_shape(left)}.*{re_shape(right)}"):
        a @ b


def test_matmul_with_a_number_is_refused():
    with pytest.raises(ValueError, match=r"use \*"):
        Tensor([1.0, 2.0]) @ 3.0


@pytest.mark.parametrize("exponent", [Tensor(2.0), np.array([2.0, 3.0])], ids=["Tensor", "array"])
def test_pow_needs_a_number_exponent(exponent):
    with pytest.raises(TypeError, match="number exponent"):
        Tensor([1.0, 2.0]) ** exponent


def test_index_with_a_tensor_is_refused():
    with pytest.raises(TypeError, match="t.data"):
        Tensor([1.0, 2.0])[Tensor([0.0])]


def test_sum_over_a_missing_axis_is_refused():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        Tensor(np.ones((2, 3))).sum(axis=2)


# ------------------------------------------------------------------ affine: x @ w + b as one op (issue 14)

AFFINE_SHAPES = [  # (x, w, b): plain rows; the sample axis of BayesLinear; b broadcasting the product; 1-D x
    ((5, 3), (3, 2), (2,)),
    ((1, 5, 3), (4, 3, 2), (4, 1, 2)),
    ((4, 5, 3), (3, 2), (2,)),
    ((5, 3), (3, 2), (4, 1, 2)),
    ((3,), (3, 2), (2,)),
]


@pytest.mark.parametrize("shapes", AFFINE_SHAPES, ids=[str(s) for s in AFFINE_SHAPES])
def test_affine_gradient_three_way(shapes):
    """mv.tensor.affine(x, w, b): the engine's VJPs, the explicit formulas dF/dx = G wᵀ,
    dF/dw = xᵀ G, dF/db = G summed over b's broadcast axes, and central finite
    differences of the NumPy x @ w + b agree (float64); the value is x @ w + b exactly."""
    rng = np.random.default_rng(sum(map(sum, shapes)))
    x, w, b = (rng.normal(size=s) for s in shapes)
    weights_of_out = rng.uniform(0.5, 1.5, size=np.broadcast_shapes(np.matmul(x, w).shape, b.shape))
    tensors = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    out = mv.tensor.affine(*tensors)
    np.testing.assert_array_equal(out.data, x @ w + b)
    (out * weights_of_out).sum().backward()
    G = weights_of_out                                           # dF/d(out) for F = Σ weights * out
    G_product = unbroadcast(G, np.matmul(x, w).shape)            # summed back to x @ w's shape
    x2 = x[None, :] if x.ndim == 1 else x
    G2 = G_product[..., None, :] if x.ndim == 1 else G_product
    explicit = [unbroadcast(G2 @ np.swapaxes(w, -1, -2), x2.shape).reshape(x.shape),
                unbroadcast(np.swapaxes(x2, -1, -2) @ G2, w.shape),
                unbroadcast(G, b.shape)]
    numeric = mv.numerical_grad(lambda *arrays: np.sum((arrays[0] @ arrays[1] + arrays[2]) * weights_of_out), x, w, b)
    for t, formula, fd in zip(tensors, explicit, numeric):
        np.testing.assert_allclose(t.grad, formula, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(t.grad, fd, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_affine_refuses_a_bias_that_does_not_broadcast():
    with pytest.raises(ValueError, match=r"b of shape \(3,\) do not broadcast"):
        mv.tensor.affine(Tensor(np.ones((5, 3))), Tensor(np.ones((3, 2))), Tensor(np.ones(3)))
