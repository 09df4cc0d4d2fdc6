"""Tests for minivi.conv: conv2d, the pooling ops and the layers of a CNN.

conv2d's gradients are checked three ways over shapes, strides, paddings and
sample axes drawn by Hypothesis:
  (a) the written-out VJPs of the op (im2col products, col2im),
  (b) the engine's autodiff of the same convolution built from primitive ops
      (`conv_helpers.conv_from_primitives`: padding by 0/1 matrices, one slice
      and one matmul per kernel offset),
  (c) central differences of the defining sum in plain NumPy (`conv_numpy`).
(a) and (b) add the same products in another order: they agree to rounding,
1e-10 absolute here (the gradients are sums of at most a few hundred products of
numbers below 8, each rounding error ~1e-16 of them). (c): each F is a sum of tanh
values times c, so its rounding error is ~1e-15 (1 + Σ|c|) and the quotient's
~1e-9 (1 + Σ|c|) with h = 1e-6; truncation h²/6 |F'''| is far below that.
A wrong formula is off by the size of the gradient itself.
"""
import re

import numpy as np
import pytest
from hypothesis import strategies as st

import minivi as mv
from conv_helpers import conv_cases, conv_from_primitives, conv_numpy
from example_counts import Examples
from gradient_helpers import assert_within, engine_grads

FEW = Examples(plain=8, slow=50, deadline=None)
FEWER = Examples(plain=5, slow=30, deadline=None)   # pooling: two ops, central differences of each
SAME_ARITHMETIC = 1e-10
H = 1e-6


def downstream(out, c):
    """A nonlinear scalar of the convolution's output: Σ tanh(out) · c."""
    return (out.tanh() * c).sum()


def case_arrays(case):
    arrays = [case["x"], case["w"]] + ([case["b"]] if case["b"] is not None else [])
    return arrays, dict(stride=case["stride"], padding=case["padding"])


# ---------------------------------------------------------------- forward


@FEW.given(case=conv_cases())
def test_conv2d_forward_is_the_defining_sum(case):
    (x, w, *b), settings = case_arrays(case)
    out = mv.conv2d(x, w, *b, **settings).data
    np.testing.assert_allclose(out, conv_numpy(x, w, *b, **settings), rtol=0, atol=1e-12)


def test_conv2d_output_shape_follows_pytorch():
    x, w = np.zeros((2, 3, 8, 7)), np.zeros((4, 3, 3, 2))
    assert mv.conv2d(x, w, stride=2, padding=1).shape == (2, 4, 4, 4)        # (8 + 2 - 3)//2 + 1, (7 + 2 - 2)//2 + 1
    assert mv.conv2d(x, w, stride=(1, 3), padding=(0, 2)).shape == (2, 4, 6, 4)
    assert mv.conv2d(x[None], np.zeros((5, 4, 3, 3, 2))).shape == (5, 2, 4, 6, 6)


# ---------------------------------------------------------------- gradients, three ways


@FEW.given(case=conv_cases(), data=st.data())
def test_conv2d_gradient_three_way(case, data):
    arrays, settings = case_arrays(case)
    shape = mv.conv2d(*arrays, **settings).shape
    c = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1))).uniform(-2, 2, size=shape)
    explicit = engine_grads(lambda *t: downstream(mv.conv2d(*t, **settings), c), *arrays)
    autodiff = engine_grads(lambda *t: downstream(conv_from_primitives(*t, **settings), c), *arrays)
    numeric = mv.numerical_grad(lambda *a: float(np.sum(np.tanh(conv_numpy(*a, **settings)) * c)), *arrays, eps=H)
    fd_atol = 1e-8 * (1.0 + np.abs(c).sum())
    for name, e, a, n in zip(("dF/dx", "dF/dW", "dF/db"), explicit, autodiff, numeric):
        assert e.shape == a.shape == n.shape
        assert_within(e, a, SAME_ARITHMETIC, f"{name} explicit vs autodiff")
        assert_within(e, n, fd_atol + 1e-7 * np.abs(n), f"{name} explicit vs central differences")


def test_col2im_adds_a_pixel_shared_by_overlapping_windows():
    # One channel, a 3x3 image, a 2x2 kernel of ones, stride 1: the centre pixel lies in all four
    # windows, the corners in one each, so with G = 1 its gradient is 4, the corners' 1.
    x = mv.Tensor(np.zeros((1, 1, 3, 3)), requires_grad=True)
    mv.conv2d(x, np.ones((1, 1, 2, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    # Stride 2 with a 1x1 kernel skips the odd pixels: they get no gradient at all.
    x.grad = None
    mv.conv2d(x, np.ones((1, 1, 1, 1)), stride=2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_padding_gets_no_gradient_and_the_border_counts_fewer_windows():
    x = mv.Tensor(np.zeros((1, 1, 2, 2)), requires_grad=True)
    mv.conv2d(x, np.ones((1, 1, 3, 3)), padding=1).sum().backward()   # 2x2 output, each window covers all 4 pixels
    np.testing.assert_array_equal(x.grad[0, 0], [[4, 4], [4, 4]])


def test_a_kernel_shared_by_the_samples_sums_their_gradients():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(3, 2, 2, 5, 5)), rng.normal(size=(4, 2, 3, 3))
    (g_shared,) = engine_grads(lambda t: mv.conv2d(x, t).sum(), w)
    per_sample = [engine_grads(lambda t: mv.conv2d(x[s], t).sum(), w)[0] for s in range(3)]
    np.testing.assert_allclose(g_shared, sum(per_sample), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- pooling


@FEWER.given(data=st.data())
def test_pooling_gradients_match_central_differences(data):
    k = data.draw(st.integers(1, 3))
    stride = data.draw(st.sampled_from([None, 1, 2, (1, 2)]))
    h, w = data.draw(st.integers(k, 6)), data.draw(st.integers(k, 6))
    lead = data.draw(st.sampled_from([(), (2,)]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    x = rng.normal(size=lead + (2, 2, h, w))     # continuous values: no ties, so max is differentiable here
    for op in (mv.max_pool2d, mv.avg_pool2d):
        c = rng.normal(size=op(x, k, stride).shape)
        mv.gradcheck(lambda t: downstream(op(t, k, stride), c), x)


def test_max_pool_forward_and_average_pool_forward():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(mv.max_pool2d(x, 2).data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(mv.avg_pool2d(x, 2).data[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(mv.max_pool2d(x, 3, 1).data[0, 0], [[10, 11], [14, 15]])


def test_max_pool_ties_send_the_whole_gradient_to_the_first_maximum():
    # Window [[1, 1], [0, 1]] has three maxima; reading row by row the first is the top left.
    x = mv.Tensor(np.array([[[[1.0, 1.0], [0.0, 1.0]]]]), requires_grad=True)
    mv.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 0], [0, 0]])
    # A constant image with overlapping windows (3x3 image, 2x2 windows, stride 1): each window's
    # first entry is its top left, so the four windows send their gradients to four different pixels.
    x = mv.Tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    mv.max_pool2d(x, 2, 1).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_overlapping_max_windows_add_up_at_a_shared_maximum():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0                      # the centre is the maximum of all four 2x2 windows
    t = mv.Tensor(x, requires_grad=True)
    mv.max_pool2d(t, 2, 1).sum().backward()
    expected = np.zeros((3, 3))
    expected[1, 1] = 4.0
    np.testing.assert_array_equal(t.grad[0, 0], expected)


# ---------------------------------------------------------------- layers


def test_conv2d_layer_is_the_op_with_its_parameters_and_passes_a_sample_axis():
    rng = np.random.default_rng(0)
    layer = mv.Conv2d(2, 3, 3, stride=2, padding=1, rng=rng)
    x = rng.normal(size=(4, 2, 6, 6))
    np.testing.assert_array_equal(layer(x).data, mv.conv2d(x, layer.weight, layer.bias, stride=2, padding=1).data)
    assert layer.weight.shape == (3, 2, 3, 3) and layer.bias.shape == (3,)
    assert np.isclose(layer.weight.data.std(), 1 / np.sqrt(18), rtol=0.5)   # LeCun: variance 1/fan_in
    out = layer(x, n_samples=5)
    assert out.shape == (5, 4, 3, 3, 3)
    np.testing.assert_array_equal(out.data[2], layer(x).data)


def test_conv2d_layer_convolves_each_stack_of_a_5d_input_with_its_one_kernel():
    """Outside a sampling call a 5-D x (S, N, C, H, W) is S stacks of images, each convolved
    with the same kernel (as documented), not refused and not mixed across stacks."""
    rng = np.random.default_rng(1)
    layer = mv.Conv2d(2, 3, 3, padding=1, rng=rng)
    x = rng.normal(size=(3, 4, 2, 5, 5))
    out = layer(x).data
    assert out.shape == (3, 4, 3, 5, 5)
    for s in range(3):
        np.testing.assert_allclose(out[s], layer(x[s]).data, rtol=0, atol=1e-13)


def test_flatten_and_a_small_cnn_train_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    model = mv.Sequential(mv.Conv2d(1, 4, 3, padding=1, rng=rng), mv.ReLU(), mv.MaxPool2d(2),
                          mv.Conv2d(4, 4, 3, padding=1, rng=rng), mv.ReLU(), mv.AvgPool2d(2), mv.Flatten(),
                          mv.Linear(16, 3, rng=rng))
    x, y = rng.normal(size=(12, 1, 8, 8)), rng.integers(0, 3, size=12)
    assert mv.Flatten()(np.zeros((2, 3, 4, 5))).shape == (2, 60)
    history = mv.fit(model, x, y, mv.categorical_nll, epochs=30, batch_size=12, rng=rng, lr=0.05, verbose=False)
    assert history.loss[-1] < 0.5 * history.loss[0]                  # it learns (12 random labels: memorised)
    mv.save(model, tmp_path / "cnn.npz")
    other = mv.Sequential(mv.Conv2d(1, 4, 3, padding=1, rng=rng), mv.ReLU(), mv.MaxPool2d(2),
                          mv.Conv2d(4, 4, 3, padding=1, rng=rng), mv.ReLU(), mv.AvgPool2d(2), mv.Flatten(),
                          mv.Linear(16, 3, rng=rng))
    mv.load(other, tmp_path / "cnn.npz")
    np.testing.assert_array_equal(other(x).data, model(x).data)
    different = mv.Sequential(mv.Conv2d(1, 4, 3, padding=1, stride=2, rng=rng), mv.ReLU(), mv.MaxPool2d(2),
                              mv.Conv2d(4, 4, 3, padding=1, rng=rng), mv.ReLU(), mv.AvgPool2d(2), mv.Flatten(),
                              mv.Linear(16, 3, rng=rng))
    with pytest.raises(ValueError, match="stride"):
        mv.load(different, tmp_path / "cnn.npz")


# ---------------------------------------------------------------- bad input


X4, W4 = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize("call, fragments", [
    (lambda: mv.conv2d(np.zeros((3, 5, 5)), W4), [r"\(N, C_in, H, W\)", r"\(3, 5, 5\)", "reshape"]),
    (lambda: mv.conv2d(X4, np.zeros((3, 3, 3))), [r"\(C_out, C_in, kH, kW\)", r"\(3, 3, 3\)"]),
    (lambda: mv.conv2d(X4, np.zeros((4, 2, 3, 3))), [r"x has 3 channels", r"\(N, 2, H, W\)", r"\(4, 2, 3, 3\)"]),
    (lambda: mv.conv2d(X4, np.zeros((4, 3, 7, 3))), ["7x3 window is larger than the padded image 5x5"]),
    (lambda: mv.conv2d(X4, np.zeros((4, 3, 8, 8)), padding=1), ["8x8 window is larger than the padded image 7x7"]),
    (lambda: mv.conv2d(X4, W4, stride=0), ["stride must be a whole number >= 1"]),
    (lambda: mv.conv2d(X4, W4, padding=-1), ["padding must be a whole number >= 0"]),
    (lambda: mv.conv2d(X4, W4, padding=(1, 2, 3)), ["padding must be"]),
    (lambda: mv.conv2d(X4, W4, np.zeros(3)), [r"bias has shape \(3,\)", r"\(C_out,\) = \(4,\)"]),
    (lambda: mv.conv2d(np.zeros((2,) + X4.shape), np.zeros((3,) + W4.shape)), ["sample axes", "2 and 3"]),
    (lambda: mv.max_pool2d(np.zeros((1, 1, 2, 2)), 3), ["3x3 window is larger than the image 2x2",
                                                       r"smaller kernel_size \(pooling adds no padding\)"]),
    (lambda: mv.AvgPool2d((1, 4))(np.zeros((1, 1, 5, 3))), ["avg_pool2d: the 1x4 window is larger than the image 5x3"]),
    (lambda: mv.avg_pool2d(np.zeros((1, 2, 2)), 2), [r"\(N, C_in, H, W\)"]),
    (lambda: mv.Conv2d(0, 2, 3, rng=np.random.default_rng(0)), ["in_channels must be a whole number >= 1"]),
    (lambda: mv.Conv2d(3, 4, 3, rng=np.random.default_rng(0))(np.zeros((3, 5, 5))), [r"\(3, 5, 5\)"]),
    (lambda: mv.Flatten()(np.zeros((3, 4, 5))), [r"\(N, C_in, H, W\)"]),
    (lambda: mv.conv2d(X4, np.zeros((4, 3, 0, 3))), [r"kernel of shape \(4, 3, 0, 3\)", "at least 1"]),
    (lambda: mv.conv2d(X4, np.zeros((0, 3, 3, 3))), [r"kernel of shape \(0, 3, 3, 3\)", "at least 1"]),
    (lambda: mv.conv2d(np.zeros((2, 0, 5, 5)), np.zeros((4, 0, 3, 3))), [r"kernel of shape \(4, 0, 3, 3\)"]),
    (lambda: mv.conv2d(np.zeros((2, 3, 0, 5)), W4, padding=2), [r"images of shape \(2, 3, 0, 5\)", "H, W >= 1"]),
    (lambda: mv.conv2d(np.zeros((1,) + X4.shape), W4, np.zeros((4, 1))),
     [r"bias has shape \(4, 1\); expected \(C_out,\) = \(4,\), or \(1, 4\) with the sample axis$"]),
])
def test_bad_input_is_refused_naming_the_expected_shape(call, fragments):
    with pytest.raises(ValueError) as info:
        call()
    for fragment in fragments:
        assert re.search(fragment, str(info.value)), (fragment, str(info.value))


@pytest.mark.parametrize("call, fragments", [
    (lambda: mv.conv2d(X4, W4, stride=1.5), ["stride must be a whole number >= 1", "1.5"]),
    (lambda: mv.conv2d(X4, W4, stride=True), ["stride must be a whole number"]),
    (lambda: mv.max_pool2d(X4, 2, stride=0.5), ["stride must be a whole number"]),
    (lambda: mv.Conv2d(2, 2, 3, stride=2.0, rng=np.random.default_rng(0)), ["stride must be a whole number"]),
])
def test_a_stride_that_is_not_an_int_is_a_type_error(call, fragments):
    with pytest.raises(TypeError) as info:
        call()
    for fragment in fragments:
        assert re.search(fragment, str(info.value)), (fragment, str(info.value))


# ---------------------------------------------------------------- against PyTorch (when it is installed)


def test_conv2d_and_pooling_equal_pytorch_on_random_shapes():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(26)
    worst = 0.0
    for _ in range(40):
        n, c_in, c_out = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 5)
        kh, kw = rng.integers(1, 5), rng.integers(1, 5)
        stride, padding = (int(rng.integers(1, 4)), int(rng.integers(1, 4))), (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        h, w = rng.integers(max(1, kh - 2 * padding[0]), 10), rng.integers(max(1, kw - 2 * padding[1]), 10)
        x, k, b = rng.normal(size=(n, c_in, h, w)), rng.normal(size=(c_out, c_in, kh, kw)), rng.normal(size=c_out)
        out = mv.conv2d(x, k, b, stride=stride, padding=padding)
        g = rng.normal(size=out.shape)
        grads = engine_grads(lambda *t: (mv.conv2d(*t, stride=stride, padding=padding) * g).sum(), x, k, b)
        tx, tk, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, k, b))
        t_out = F.conv2d(tx, tk, tb, stride=stride, padding=padding)
        (t_out * torch.tensor(g)).sum().backward()
        for mine, theirs in zip([out.data] + grads, [t_out.detach(), tx.grad, tk.grad, tb.grad]):
            assert mine.shape == tuple(theirs.shape)
            worst = max(worst, float(np.max(np.abs(mine - theirs.numpy()), initial=0.0)))
    assert worst <= 1e-10, worst
    # Pooling, with ties (small integers), overlapping windows and strides.
    for _ in range(20):
        k, s = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        x = rng.integers(0, 3, size=(2, 3, int(rng.integers(k, 9)), int(rng.integers(k, 9)))).astype(float)
        for mine_op, torch_op in ((mv.max_pool2d, F.max_pool2d), (mv.avg_pool2d, F.avg_pool2d)):
            out = mine_op(x, k, s)
            g = rng.normal(size=out.shape)
            (grad,) = engine_grads(lambda t: (mine_op(t, k, s) * g).sum(), x)
            tx = torch.tensor(x, requires_grad=True)
            t_out = torch_op(tx, k, s)
            (t_out * torch.tensor(g)).sum().backward()
            np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=0, atol=1e-12)
            np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=0, atol=1e-12)


def test_an_empty_batch_gives_an_empty_output_and_zero_kernel_gradients():
    """N = 0 images (or S = 0 samples) is a sum over nothing: outputs of size 0, dF/dW = 0 (PyTorch does the same)."""
    w = mv.Tensor(np.ones((4, 3, 3, 2)), requires_grad=True)
    b = mv.Tensor(np.ones(4), requires_grad=True)
    x = mv.Tensor(np.zeros((0, 3, 6, 5)), requires_grad=True)
    out = mv.conv2d(x, w, b, stride=2, padding=1)
    assert out.shape == (0, 4, 3, 3)
    out.sum().backward()
    assert x.grad.shape == (0, 3, 6, 5)
    np.testing.assert_array_equal(w.grad, np.zeros((4, 3, 3, 2)))
    np.testing.assert_array_equal(b.grad, np.zeros(4))
    assert mv.conv2d(np.zeros((2, 0, 3, 6, 5)), w).shape == (2, 0, 4, 4, 4)
    w.grad = None
    no_samples = mv.conv2d(np.zeros((0, 2, 3, 6, 5)), w)
    assert no_samples.shape == (0, 2, 4, 4, 4)
    no_samples.sum().backward()
    np.testing.assert_array_equal(w.grad, np.zeros((4, 3, 3, 2)))
    assert mv.Flatten()(np.zeros((0, 3, 4, 5))).shape == (0, 60)
    assert mv.Conv2d(3, 2, 3, padding=1, rng=np.random.default_rng(0))(np.zeros((0, 3, 4, 4))).shape == (0, 2, 4, 4)


def test_integer_float32_and_non_contiguous_arrays_give_the_float64_result():
    """Every array is read as float64 values, whatever its dtype or memory layout (strided views included)."""
    rng = np.random.default_rng(6)
    x, w, b = rng.integers(-3, 4, size=(2, 3, 7, 6)), rng.integers(-3, 4, size=(4, 3, 3, 2)), rng.integers(-3, 4, size=4)
    settings = dict(stride=(2, 1), padding=(1, 2))
    expected = conv_numpy(x.astype(float), w.astype(float), b.astype(float), **settings)
    for xi, wi, bi in ((x, w, b), (x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)),
                       (np.asfortranarray(x), w[..., ::-1].copy()[..., ::-1], b[::-1].copy()[::-1]),
                       (np.swapaxes(x, 2, 3).copy().swapaxes(2, 3), np.swapaxes(w, 0, 1).copy().swapaxes(0, 1), b)):
        out = mv.conv2d(xi, wi, bi, **settings)
        assert out.data.dtype == np.float64
        np.testing.assert_array_equal(out.data, expected)          # small integers: every sum is exact
        for op in (mv.max_pool2d, mv.avg_pool2d):
            np.testing.assert_array_equal(op(xi, (3, 2), (2, 3)).data, op(x.astype(float), (3, 2), (2, 3)).data)


def test_a_conv2d_rebuilt_from_its_config_has_its_stride_and_padding():
    """config() is what a saved model is rebuilt from: every geometry entry must survive the round trip."""
    layer = mv.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(2, 1), rng=np.random.default_rng(0))
    config = layer.config()
    assert (config["stride"], config["padding"], config["kernel_size"]) == ([1, 2], [2, 1], [3, 2])
    rebuilt = mv.Conv2d(config["in_channels"], config["out_channels"], config["kernel_size"],
                        stride=config["stride"], padding=config["padding"], bias=config["bias"],
                        rng=np.random.default_rng(1))
    rebuilt.weight.data[...], rebuilt.bias.data[...] = layer.weight.data, np.arange(3.0)
    layer.bias.data[...] = np.arange(3.0)
    x = np.random.default_rng(2).standard_normal((2, 2, 5, 6))
    np.testing.assert_array_equal(rebuilt(x).data, layer(x).data)


def _pool_by_loops(x, kernel, stride, reduce):
    """Pooling written out: out[n, c, i, j] = reduce of the window starting at (s_h i, s_w j)."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.empty(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, sh * i:sh * i + kh, sw * j:sw * j + kw], axis=(2, 3))
    return out


@pytest.mark.parametrize("layer_type, reduce", [(mv.MaxPool2d, np.max), (mv.AvgPool2d, np.mean)])
@pytest.mark.parametrize("kernel, stride", [(2, 1), (3, (1, 2)), ((2, 3), (3, 1))])
def test_pooling_layers_with_a_stride_other_than_their_window(layer_type, reduce, kernel, stride):
    layer = layer_type(kernel, stride=stride)
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)   # noqa: E731
    assert (layer.kernel_size, layer.stride) == (pair(kernel), pair(stride))
    assert layer.config() == {"kernel_size": list(pair(kernel)), "stride": list(pair(stride))}
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 8))
    np.testing.assert_allclose(layer(x).data, _pool_by_loops(x, pair(kernel), pair(stride), reduce), rtol=1e-14)


def _max_pool_grad_by_loops(x, g, kernel, stride):
    """dF/dx of max pooling written out: each window, read row by row, sends G to its first strict maximum."""
    (kh, kw), (sh, sw) = kernel, stride
    d_x = np.zeros(x.shape)
    for lead in np.ndindex(*g.shape[:-2]):
        for i in range(g.shape[-2]):
            for j in range(g.shape[-1]):
                best = None
                for a in range(kh):
                    for e in range(kw):
                        if best is None or x[lead + (sh * i + a, sw * j + e)] > x[lead + best]:
                            best = (sh * i + a, sw * j + e)
                d_x[lead + best] += g[lead + (i, j)]
    return d_x


@pytest.mark.parametrize("kernel, stride", [((2, 3), (1, 2)), ((3, 1), None), (2, 3), ((1, 2), (2, 1))])
def test_max_pool_gradient_with_ties_is_the_loop_reference_and_each_window_passes_on_its_g(kernel, stride):
    """ReLU zeros and small integers: many windows with tied maxima, some overlapping, some not tiling the image."""
    rng = np.random.default_rng(4)
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)   # noqa: E731
    for x in (np.maximum(rng.normal(size=(2, 2, 3, 7, 8)) - 0.7, 0.0), rng.integers(0, 3, size=(2, 3, 7, 8)) * 1.0):
        t = mv.Tensor(x, requires_grad=True)
        out = mv.max_pool2d(t, kernel, stride)
        g = rng.normal(size=out.shape)
        (out * g).sum().backward()
        expected = _max_pool_grad_by_loops(x, g, pair(kernel), pair(kernel if stride is None else stride))
        np.testing.assert_allclose(t.grad, expected, rtol=0, atol=1e-14)   # overlaps add in another order
        assert np.isclose(t.grad.sum(), g.sum(), rtol=0, atol=1e-12)     # never more than G per window




def test_conv2d_layer_adds_its_own_bias_and_passes_it_a_gradient():
    """Conv2d starts with b = 0, so a forward that dropped its bias would look right: set b and check."""
    rng = np.random.default_rng(3)
    layer = mv.Conv2d(2, 3, (2, 3), stride=(1, 2), padding=1, rng=rng)
    layer.bias.data[...] = [0.5, -1.0, 2.0]
    x = rng.normal(size=(2, 2, 5, 6))
    out = layer(x)
    assert np.allclose(out.data, conv_numpy(x, layer.weight.data, layer.bias.data, (1, 2), (1, 1)), rtol=1e-13, atol=1e-13)
    out.sum().backward()
    assert np.array_equal(layer.bias.grad, np.full(3, out.shape[0] * out.shape[2] * out.shape[3], dtype=float))
