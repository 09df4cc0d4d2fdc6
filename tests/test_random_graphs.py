"""Random expressions from the engine's ops, each gradient checked against central differences.

Hypothesis writes a small program: three input arrays with mutually
broadcastable shapes, then one step per op (every op, in a random order),
each applying its op to nodes picked from everything computed so far (so
nodes get reused, and gradients must add up along every path). The program
is replayed as f(*Tensors) and `mv.gradcheck` compares the engine's gradient
with central differences.

Staying off singularities. Central differences need f smooth within ±h of
the point, and every op is smooth except at a few places: log, sqrt, 1/x and
division near 0, relu at 0, and overflow of exp. While the program is drawn, each step
is tried on the actual values; a step that would land near such a place is
replaced by `tanh` of its first operand (smooth everywhere, bounded), so no
example is thrown away. The thresholds (log, sqrt, 1/x arguments and divisors >= 0.2,
relu inputs at least 0.05 away from 0, exp inputs <= 2, values <= 10) are
far beyond the step h = 1e-6 times any derivative met here.

Tolerance: gradcheck's defaults (atol 1e-6, rtol 1e-5). Every value is at
most 10 and the output is Σ_k (1/k) · (a sum of at most 27 entries of node k)
over 24 nodes, so it is at most about 1000 (typically under 100). Rounding in
the central difference is then about 1e-16 · 1000 / 1e-6 = 1e-7 at worst, and
the O(h²) truncation error about 1e-12 times third derivatives of moderate
size: both well below the tolerance, while a wrong VJP is off by O(1).
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from example_counts import Examples
import minivi as mv

BOUND = 10.0          # largest |value| a step may produce
RELU_GAP = 0.05       # relu inputs stay this far from its kink at 0
POSITIVE_FLOOR = 0.2  # log, sqrt and 1/x arguments and divisors stay above this
EXP_MAX = 2.0         # exp inputs stay below this (e^2 ≈ 7.4 < BOUND)

UNARY = {
    "neg": lambda a: -a,
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "tanh": lambda a: a.tanh(),
    "relu": lambda a: a.relu(),
    "sigmoid": lambda a: a.sigmoid(),
    "softplus": lambda a: a.softplus(),
    "square": lambda a: a ** 2,
    "sqrt": lambda a: a ** 0.5,
    "cube": lambda a: a ** 3,
    "reciprocal": lambda a: 1.0 / a,
    "number ops": lambda a: 2.0 - 0.5 * a + 1.5,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "matmul": lambda a, b: a @ b,
}
REDUCE = ("sum", "mean", "logsumexp", "log_softmax", "transpose", "reshape", "index")


def is_safe(name, inputs, out):
    """May this step stay in the program? (values as arrays, before and after the op)"""
    a = inputs[0]
    if name in ("log", "sqrt", "reciprocal") and np.min(a, initial=np.inf) < POSITIVE_FLOOR:
        return False
    if name == "div" and np.min(inputs[1], initial=np.inf) < POSITIVE_FLOOR:
        return False
    if name == "relu" and np.min(np.abs(a), initial=np.inf) < RELU_GAP:
        return False
    if name == "exp" and np.max(a, initial=-np.inf) > EXP_MAX:
        return False
    return out.size > 0 and np.all(np.isfinite(out)) and np.max(np.abs(out)) <= BOUND


def reduce_op(name, a, choose):
    """A reduction or reshaping step on Tensor a, its parameters picked now (a 0-d a only gets "sum")."""
    if a.ndim == 0:
        return lambda t: t.sum()
    axis = int(choose.integers(-a.ndim, a.ndim))
    keepdims = bool(choose.integers(2))
    if name == "sum":
        axes = [None, axis, tuple(range(a.ndim))][choose.integers(3)]
        return lambda t: t.sum(axis=axes, keepdims=keepdims)
    if name == "mean":
        return lambda t: t.mean(axis=axis, keepdims=keepdims)
    if name == "logsumexp":
        return lambda t: t.logsumexp(axis=axis, keepdims=keepdims)
    if name == "log_softmax":
        return lambda t: t.log_softmax(axis=axis)
    if name == "transpose":
        order = tuple(int(i) for i in choose.permutation(a.ndim))
        return lambda t: t.transpose(order)
    if name == "reshape":
        return lambda t: t.reshape(-1)
    rows = choose.integers(0, a.shape[0], size=choose.integers(1, 5))   # index: repeats must add up
    return lambda t: t[rows]


ALL_OPS = sorted(UNARY) + sorted(BINARY) + list(REDUCE)


@st.composite
def programs(draw):
    """(input arrays, steps): a step is (name, operand positions, function of Tensors).

    Hypothesis draws the shapes, the values and a seeded generator, which orders
    the ops and picks their operands and axes. (Left to Hypothesis's own choices,
    which lean towards the first entries of a list, some ops were almost never tested.)
    """
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=1, max_dims=3, min_side=1, max_side=3))
    inputs = [draw(hnp.arrays(np.float64, shape, elements=st.floats(-2, 2))) for shape in shapes.input_shapes]
    choose = np.random.default_rng(draw(st.randoms(use_true_random=True)).getrandbits(64))
    values = [mv.Tensor(a) for a in inputs]
    steps = []
    for name in choose.permutation(ALL_OPS):     # every op once, in a random order
        name = str(name)
        first = int(choose.integers(len(values)))
        if name in UNARY:
            operands, fn = (first,), UNARY[name]
        elif name in BINARY:
            operands, fn = (first, int(choose.integers(len(values)))), BINARY[name]
        else:
            name = name if values[first].ndim > 0 else "sum"
            operands, fn = (first,), reduce_op(name, values[first], choose)
        try:
            with np.errstate(all="ignore"):  # a trial: an unsafe result is replaced below
                out = fn(*(values[i] for i in operands))
            safe = is_safe(name, [values[i].data for i in operands], out.data)
        except (ValueError, IndexError):     # shapes that do not fit this op
            safe = False
        if not safe:
            name, operands, fn = "tanh (instead)", (first,), UNARY["tanh"]
            out = fn(values[first])
        steps.append((name, operands, fn))
        values.append(out)
    return inputs, steps


def run(inputs, steps):
    """Replay the program on Tensors. The output is Σ_k (1/k) · sum(step k's result), so every step
    reaches the output (its gradient is tested) and most nodes feed it along several paths."""
    values = list(inputs)
    for _, operands, fn in steps:
        values.append(fn(*(values[i] for i in operands)))
    return sum(values[len(inputs) + k].sum() * (1.0 / (k + 1)) for k in range(len(steps)))


@Examples(plain=25, slow=100, deadline=None).given(programs())
def test_random_expression_gradients_match_central_differences(program):
    inputs, steps = program
    assert mv.gradcheck(lambda *xs: run(xs, steps), *inputs)


def test_the_generator_reaches_every_op():
    # A check on the test itself: across examples, every op really appears (not only its tanh stand-in).
    seen = set()

    @settings(max_examples=50, deadline=None, database=None)
    @given(programs())
    def collect(program):
        seen.update(name for name, _, _ in program[1])

    collect()
    assert set(UNARY) | set(BINARY) | set(REDUCE) <= seen
