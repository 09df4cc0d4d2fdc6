"""Layer 3, convolutions: `conv2d` as ONE engine op with its backward written out, and the layers of a CNN.

PyTorch's layout: images x of shape (N, C_in, H, W), kernels W of shape
(C_out, C_in, kH, kW), bias b of shape (C_out,). With stride s and zero
padding p (xp is x with p zeros added on each side of H and W):

    out[n, o, i, j] = b[o] + Σ_{c, a, e} W[o, c, a, e] · xp[n, c, s·i + a, s·j + e]

for output pixels i < OH = (H + 2p - kH) // s + 1 and j < OW likewise.
(This is a cross-correlation, what every deep-learning library calls a convolution.)

Forward by im2col. Copy the window of every output pixel into one row:

    X_col[(n, i, j), (c, a, e)] = xp[n, c, s·i + a, s·j + e]          (N·OH·OW rows, C_in·kH·kW columns)
    W_col[o, (c, a, e)]         = W[o, c, a, e]                        (W reshaped, no copy)

Then the whole convolution is one matrix product, Out_col = X_col W_colᵀ,
of shape (N·OH·OW, C_out), put back as (N, C_out, OH, OW). The windows are
read through a strided view of xp (`sliding_window_view`): no Python loop
over pixels.

Backward (the VJPs). Write G = dF/dout, laid out like Out_col as
G_col[(n, i, j), o]. The product Out_col = X_col W_colᵀ has matmul's VJPs:

    dF/dW_col = G_colᵀ X_col                    (C_out, C_in·kH·kW), reshaped to W's shape
    dF/dX_col = G_col W_col                     (N·OH·OW, C_in·kH·kW)
    dF/db[o]  = Σ_{n, i, j} G[n, o, i, j]       (b was broadcast over n, i, j: its adjoint is a sum)

col2im, the input's gradient. X_col holds copies of the pixels of xp: pixel
(h, w) sits in every window that covers it, once per kernel offset (a, e)
with s·i + a = h and s·j + e = w. The adjoint of copying is a sum (as for
broadcasting, `unbroadcast`), so

    dF/dxp[n, c, h, w] = Σ_{(i, j, a, e): s·i + a = h, s·j + e = w} dF/dX_col[(n, i, j), (c, a, e)].

For one kernel offset (a, e) the pixels h = s·i + a, w = s·j + e form a
strided slice of xp, so col2im is a loop over the kH·kW offsets (never over
pixels), each adding one slice:

    dxp[:, :, a : a + s·OH : s, e : e + s·OW : s] += (dF/dX_col[(n, i, j), (c, a, e)] over all n, c, i, j,
                                                      laid out as (N, C_in, OH, OW))

The padding zeros are constants: dF/dx is dF/dxp with the border cut off.

A sample axis. x may be (S, N, C_in, H, W) and W (S, C_out, C_in, kH, kW)
(S Monte Carlo samples of the kernel, as `BayesConv2d` draws them); each
side's sample axis may be absent or of size 1, and is then broadcast. The
products above are then stacks of S matrix products, and the gradient of a
side that was broadcast is summed over the samples (`unbroadcast`).

`Conv2d` (deterministic), `Flatten`, `MaxPool2d` and `AvgPool2d` are the
other layers a small CNN needs; the pooling ops' backwards are written out too.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .nn import Module, Parameter, check_count, check_generator
from .tensor import Tensor, as_tensor, make_op, unbroadcast

IMAGE_SHAPE = "(N, C_in, H, W), or (S, N, C_in, H, W) with a leading sample axis"
KERNEL_SHAPE = "(C_out, C_in, kH, kW), or (S, C_out, C_in, kH, kW) with a leading sample axis"


# ---------------------------------------------------------------- checks of the arguments


def pair(value, name: str, minimum: int) -> tuple:
    """An int or a pair of ints (along H, then W), each >= minimum, as a pair of Python ints."""
    hint = f"or a pair of them (along H, W); e.g. {name}={max(minimum, 1)}"
    if not isinstance(value, (tuple, list)):
        value = check_count(value, name, minimum, hint=hint)
        return value, value
    if len(value) != 2:
        raise ValueError(f"{name} must be a whole number >= {minimum} or a pair of them (along H, W), got "
                         f"{len(value)} numbers {value!r}; e.g. {name}={max(minimum, 1)}")
    return check_count(value[0], name, minimum, hint=hint), check_count(value[1], name, minimum, hint=hint)


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """OH = (H + 2p - kH) // s + 1: the number of window positions along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


def _check_image(x: Tensor, who: str) -> None:
    if x.ndim not in (4, 5):
        hint = " (one image: x.reshape(1, C_in, H, W))" if x.ndim == 3 else ""
        raise ValueError(f"{who} expects images of shape {IMAGE_SHAPE}, got shape {x.shape}{hint}")


def _check_window(image_hw: tuple, kernel: tuple, padding, who: str) -> None:
    """The kernel must fit inside the padded image (padding None: a pooling window, inside the image)."""
    padded = tuple(n + 2 * p for n, p in zip(image_hw, padding or (0, 0)))
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        if padding is None:
            raise ValueError(f"{who}: the {kernel[0]}x{kernel[1]} window is larger than the image {padded[0]}x"
                             f"{padded[1]} (H, W); use a smaller kernel_size (pooling adds no padding) or larger images")
        raise ValueError(f"{who}: the {kernel[0]}x{kernel[1]} window is larger than the padded image "
                         f"{padded[0]}x{padded[1]} (H, W = {image_hw[0]}, {image_hw[1]} plus padding {padding}); "
                         "use a smaller kernel, more padding, or larger images")


def _check_conv_args(x: Tensor, w: Tensor, b, stride, padding) -> tuple:
    """Shapes and settings of conv2d, checked; returns (stride pair, padding pair)."""
    _check_image(x, "conv2d")
    if w.ndim not in (4, 5):
        raise ValueError(f"conv2d expects a kernel of shape {KERNEL_SHAPE}, got shape {w.shape}")
    if 0 in w.shape[-4:]:
        raise ValueError(f"conv2d: the kernel of shape {w.shape} has an empty axis; C_out, C_in, kH and kW must each "
                         "be at least 1")
    if 0 in x.shape[-2:]:
        raise ValueError(f"conv2d: images of shape {x.shape} have no pixels; images need H, W >= 1")
    stride, padding = pair(stride, "stride", 1), pair(padding, "padding", 0)
    if x.shape[-3] != w.shape[-3]:
        raise ValueError(f"conv2d: x has {x.shape[-3]} channels (x of shape {x.shape}, expected "
                         f"(N, {w.shape[-3]}, H, W)) but the kernel of shape {w.shape} expects C_in = {w.shape[-3]}")
    s_x, s_w = (x.shape[0] if x.ndim == 5 else 1), (w.shape[0] if w.ndim == 5 else 1)
    if s_x != s_w and 1 not in (s_x, s_w):
        raise ValueError(f"conv2d: the sample axes of x {x.shape} and of the kernel {w.shape} differ ({s_x} and "
                         f"{s_w}); they must be equal, or one of them 1 or absent")
    _check_window(x.shape[-2:], w.shape[-2:], padding, "conv2d")
    if b is not None:
        c_out, n_samples = w.shape[-4], max(s_x, s_w)
        with_samples = list(dict.fromkeys([(n_samples, c_out), (1, c_out)])) if max(x.ndim, w.ndim) == 5 else []
        if b.shape != (c_out,) and b.shape not in with_samples:
            raise ValueError(f"conv2d: the bias has shape {b.shape}; expected (C_out,) = ({c_out},)"
                             + (", or " + " or ".join(map(str, with_samples)) + " with the sample axis"
                                if with_samples else ""))
    return stride, padding


# ---------------------------------------------------------------- im2col, the product, col2im (plain arrays)


def im2col(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple) -> np.ndarray:
    """X_col: every window of the padded x as one row, shape (lead..., N·OH·OW, C·kH·kW).

    x is (lead..., N, C, H, W) (lead: the optional sample axis). The windows are
    a strided view of the padded array; the one copy is the reshape into rows.
    """
    (ph, pw), (sh, sw) = padding, stride
    if ph or pw:
        x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)])
    windows = sliding_window_view(x, kernel, axis=(-2, -1))[..., ::sh, ::sw, :, :]   # (..., N, C, OH, OW, kH, kW)
    windows = np.moveaxis(windows, -5, -3)                                              # (..., N, OH, OW, C, kH, kW)
    n, oh, ow, c, kh, kw = windows.shape[-6:]
    return windows.reshape(windows.shape[:-6] + (n * oh * ow, c * kh * kw))   # sizes spelled out: N may be 0


def col2im(d_cols: np.ndarray, image_shape: tuple, kernel: tuple, stride: tuple, padding: tuple) -> np.ndarray:
    """dF/dx from dF/dX_col: the adjoint of im2col (see the module docstring).

    d_cols: (lead..., N·OH·OW, C·kH·kW); image_shape: (lead..., N, C, H, W).
    Every input pixel collects the gradient of every window it was copied into:
    one strided slice per kernel offset (a, e), a loop over kH·kW offsets.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    *lead, n, c, h, w = image_shape
    oh, ow = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
    d = d_cols.reshape(tuple(lead) + (n, oh, ow, c, kh, kw))
    d = np.moveaxis(d, -3, -5)                                         # (..., N, C, OH, OW, kH, kW)
    dxp = np.zeros(tuple(lead) + (n, c, h + 2 * ph, w + 2 * pw))
    for a in range(kh):
        for e in range(kw):
            dxp[..., a:a + sh * oh:sh, e:e + sw * ow:sw] += d[..., a, e]
    return dxp[..., ph:ph + h, pw:pw + w]


def _to_rows(grad_out: np.ndarray) -> np.ndarray:
    """G (lead..., N, C_out, OH, OW) laid out as G_col (lead..., N·OH·OW, C_out)."""
    g = np.moveaxis(grad_out, -3, -1)
    n, oh, ow, c_out = g.shape[-4:]
    return g.reshape(g.shape[:-4] + (n * oh * ow, c_out))


def _from_rows(out_col: np.ndarray, n: int, oh: int, ow: int) -> np.ndarray:
    """Out_col (lead..., N·OH·OW, C_out) put back as (lead..., N, C_out, OH, OW), C-contiguous."""
    out = out_col.reshape(out_col.shape[:-2] + (n, oh, ow, out_col.shape[-1]))
    return np.ascontiguousarray(np.moveaxis(out, -1, -3))


def _kernel_rows(w: np.ndarray) -> np.ndarray:
    """W_col: the kernel (lead..., C_out, C_in, kH, kW) as rows (lead..., C_out, C_in·kH·kW), no copy."""
    c_in, kh, kw = w.shape[-3:]
    return w.reshape(w.shape[:-3] + (c_in * kh * kw,))


def conv_forward(cols: np.ndarray, w: np.ndarray, n: int, oh: int, ow: int) -> np.ndarray:
    """Out = X_col W_colᵀ, laid out as (lead..., N, C_out, OH, OW); no bias."""
    w_col = _kernel_rows(w)                                                # (lead..., C_out, C_in·kH·kW)
    return _from_rows(cols @ np.swapaxes(w_col, -1, -2), n, oh, ow)


def conv_weight_grad(cols: np.ndarray, grad_out: np.ndarray, w_shape: tuple) -> np.ndarray:
    """dF/dW = G_colᵀ X_col, reshaped to the kernel's shape (summed over samples if W had none)."""
    g_col = _to_rows(grad_out)
    c_out = w_shape[-4]
    if len(w_shape) == 4 and g_col.ndim == 3:      # one kernel for every sample: sum the samples' products
        if cols.ndim == 3 and len(cols) != 1:      # Σ_s G_sᵀ X_s: one product with the samples' rows end to end
            d_w = g_col.reshape(-1, c_out).T @ cols.reshape(-1, cols.shape[-1])
        else:                                      # one X for every sample: Σ_s G_sᵀ X = (Σ_s G_s)ᵀ X
            d_w = g_col.sum(axis=0).T @ cols.reshape(cols.shape[-2:])
    else:
        d_w = np.swapaxes(g_col, -1, -2) @ cols
    return unbroadcast(d_w.reshape(d_w.shape[:-1] + tuple(w_shape[-3:])), tuple(w_shape))


def conv_input_grad(grad_out: np.ndarray, w: np.ndarray, x_shape: tuple, stride: tuple, padding: tuple) -> np.ndarray:
    """dF/dx = col2im(G_col W_col) (summed over samples if x had no sample axis or one of size 1)."""
    w_col = _kernel_rows(w)
    d_cols = _to_rows(grad_out) @ w_col
    lead = d_cols.shape[:-2]
    d_x = col2im(d_cols, lead + tuple(x_shape[-4:]), w.shape[-2:], stride, padding)
    return unbroadcast(d_x, tuple(x_shape))


# ---------------------------------------------------------------- the op


def conv2d(x, weight, bias=None, *, stride=1, padding=0) -> Tensor:
    """The 2-D convolution (cross-correlation) of images with kernels, as ONE engine op.

    x: (N, C_in, H, W) or (S, N, C_in, H, W); weight: (C_out, C_in, kH, kW) or
    (S, C_out, C_in, kH, kW); bias: None, (C_out,) or, with a sample axis,
    (S, C_out) or (1, C_out) (one bias for every sample). stride, padding: an int or a pair (along H, W); zero padding.
    Returns (N, C_out, OH, OW), or (S, N, C_out, OH, OW) if either side has a
    sample axis, with OH = (H + 2·padding - kH) // stride + 1 (PyTorch's
    `torch.nn.functional.conv2d`, with S as an extra batch of kernels).
    Arrays of any real dtype (int, bool, float32) are converted to float64, as
    every Tensor is. N = 0 images give an empty output and dF/dW = 0. Refused:
    a kernel larger than the padded image, channel counts that differ, an
    empty kernel axis or an image with no pixels. NaN and inf propagate as in
    any sum of products (as in PyTorch); `elbo_loss` refuses data holding them.

    Forward: im2col and one matrix product; backward: dF/dW = G_colᵀ X_col,
    dF/db = Σ G, dF/dx = col2im(G_col W_col). Derived in this module's docstring.
    """
    x, weight = as_tensor(x), as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    stride, padding = _check_conv_args(x, weight, b, stride, padding)
    kernel = weight.shape[-2:]
    n, oh, ow = x.shape[-4], output_size(x.shape[-2], kernel[0], stride[0], padding[0]), \
        output_size(x.shape[-1], kernel[1], stride[1], padding[1])
    cols = im2col(x.data, kernel, stride, padding)
    out = conv_forward(cols, weight.data, n, oh, ow)
    inputs = (x, weight)
    vjps = (lambda g: conv_input_grad(g, weight.data, x.shape, stride, padding),
            lambda g: conv_weight_grad(cols, g, weight.shape))
    if b is not None:
        b_view = (b.shape[-1], 1, 1) if b.ndim == 1 else (b.shape[0], 1, b.shape[-1], 1, 1)   # along C_out (and S)
        out = out + b.data.reshape(b_view)
        inputs += (b,)
        vjps += (lambda g: unbroadcast(g, b_view).reshape(b.shape),)
    return make_op("conv2d", out, inputs, vjps)


# ---------------------------------------------------------------- pooling


def _pool_windows(x: Tensor, kernel_size, stride, who: str) -> tuple:
    """The checked settings and the windows (..., C, OH, OW, kH, kW) of x, a strided view (no copy)."""
    _check_image(x, who)
    kernel = pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else pair(stride, "stride", 1)
    _check_window(x.shape[-2:], kernel, None, who)
    windows = sliding_window_view(x.data, kernel, axis=(-2, -1))[..., ::stride[0], ::stride[1], :, :]
    return kernel, stride, windows


def max_pool2d(x, kernel_size, stride=None) -> Tensor:
    """The largest value of every kH x kW window (stride defaults to the window size), no padding.

    x: (N, C, H, W) or (S, N, C, H, W); out[..., i, j] = max_{a, e} x[..., s·i + a, s·j + e].
    Backward: the window's maximum gets the whole gradient, the other entries
    none: dF/dx[..., s·i + a*, s·j + e*] += G[..., i, j] at the argmax (a*, e*).
    Overlapping windows (stride < kernel) add up at a shared maximum.
    Ties: the gradient goes to the FIRST maximum of the window, reading it row
    by row (NumPy's argmax; PyTorch's CPU max_pool2d chooses the same entry).
    The max is not differentiable at a tie; any split is a valid subgradient,
    and one entry getting all of it keeps the gradient of a max a max's.
    A NaN in a window makes its maximum NaN; the first NaN gets the gradient
    (PyTorch gives it to the last: the value is NaN either way).
    """
    x = as_tensor(x)
    (kh, kw), (sh, sw), windows = _pool_windows(x, kernel_size, stride, "max_pool2d")
    flat = windows.reshape(windows.shape[:-2] + (kh * kw,))
    first_max = np.argmax(flat, axis=-1)                      # which offset a·kW + e holds the maximum
    out = np.take_along_axis(flat, first_max[..., None], axis=-1)[..., 0]
    oh, ow = out.shape[-2:]

    def vjp(g):
        d_x = np.zeros(x.shape)
        for a in range(kh):
            for e in range(kw):
                d_x[..., a:a + sh * oh:sh, e:e + sw * ow:sw] += np.where(first_max == a * kw + e, g, 0.0)
        return d_x

    return make_op("max_pool2d", out, (x,), (vjp,))


def avg_pool2d(x, kernel_size, stride=None) -> Tensor:
    """The mean of every kH x kW window (stride defaults to the window size), no padding.

    out[..., i, j] = (1 / (kH·kW)) Σ_{a, e} x[..., s·i + a, s·j + e].
    Backward: every entry of a window gets G[..., i, j] / (kH·kW); one strided
    slice per offset (a, e), adding where windows overlap.
    """
    x = as_tensor(x)
    (kh, kw), (sh, sw), windows = _pool_windows(x, kernel_size, stride, "avg_pool2d")
    out = windows.mean(axis=(-2, -1))
    oh, ow = out.shape[-2:]

    def vjp(g):
        d_x = np.zeros(x.shape)
        share = g / (kh * kw)
        for a in range(kh):
            for e in range(kw):
                d_x[..., a:a + sh * oh:sh, e:e + sw * ow:sw] += share
        return d_x

    return make_op("avg_pool2d", out, (x,), (vjp,))


# ---------------------------------------------------------------- layers


def check_channels(in_channels, out_channels, kernel_size, who: str) -> tuple:
    """Whole numbers >= 1: the channel counts, and the kernel size as a pair."""
    return (check_count(in_channels, "in_channels", who=who, hint="a number of channels"),
            check_count(out_channels, "out_channels", who=who, hint="a number of channels"),
            pair(kernel_size, "kernel_size", 1))


class Conv2d(Module):
    """out = conv2d(x, W, b, stride, padding), W of shape (out_channels, in_channels, kH, kW), b of (out_channels,).

    Initialisation (LeCun, as `Linear`): W ~ N(0, 1/fan_in) with fan_in = in_channels·kH·kW,
    the number of products each output sums; b = 0. Takes x (N, C_in, H, W), or
    (S, N, C_in, H, W): S stacks of N images, such as the samples of a call with n_samples,
    each convolved with the same kernel (as `Linear` takes extra leading axes).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 rng: np.random.Generator, bias: bool = True):
        check_generator(rng, "Conv2d")
        self.in_channels, self.out_channels, self.kernel_size = check_channels(
            in_channels, out_channels, kernel_size, "Conv2d")
        self.stride, self.padding = pair(stride, "stride", 1), pair(padding, "padding", 0)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = Parameter(rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[1:])), shape))
        self.bias = Parameter(np.zeros(self.out_channels)) if bias else None

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def config(self) -> dict:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "bias": self.bias is not None}

    def __repr__(self):
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})")


class Flatten(Module):
    """(..., C, H, W) -> (..., C·H·W): the last three axes of images as one, before a Linear layer.

    Takes (N, C, H, W), or (S, N, C, H, W) inside a call with n_samples.
    """

    def forward(self, x):
        x = as_tensor(x)
        _check_image(x, "Flatten")
        c, h, w = x.shape[-3:]
        return x.reshape(x.shape[:-3] + (c * h * w,))

    def __repr__(self):
        return "Flatten()"


class _Pool2d(Module):
    """What the pooling layers share: the window size and the stride (the window size by default)."""

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", 1)

    def config(self) -> dict:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}

    def __repr__(self):
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """`max_pool2d` as a layer: the largest value of each kernel_size window (stride = kernel_size by default)."""

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride)


class AvgPool2d(_Pool2d):
    """`avg_pool2d` as a layer: the mean of each kernel_size window (stride = kernel_size by default)."""

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride)
