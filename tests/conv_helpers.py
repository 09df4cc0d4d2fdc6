"""Two independent references for conv2d, shared by the convolution and Flipout tests.

- `conv_from_primitives`: the same convolution built from the engine's primitive ops
  (zero padding as products with 0/1 matrices, one slice and one matmul per kernel
  offset), so its gradient is the engine's autodiff, not conv2d's written-out VJPs.
- `conv_numpy`: the defining sum, one output pixel at a time, in plain NumPy (for
  central differences and for forward checks).
Both take x (N, C, H, W) or (S, N, C, H, W), w (O, C, kH, kW) or (S, O, C, kH, kW).
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minivi as mv


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def conv_from_primitives(x, w, b=None, stride=1, padding=0):
    """conv2d from `@`, slicing, transpose, reshape and `+` only (Tensors in, a Tensor out)."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    h, wd = x.shape[-2:]
    kh, kw = w.shape[-2:]
    pad_rows = mv.Tensor(np.eye(h + 2 * ph, h, k=-ph))      # (H + 2p, H): row i + p of the result is row i
    pad_cols = mv.Tensor(np.eye(wd + 2 * pw, wd, k=-pw).T)
    xp = pad_rows @ x @ pad_cols
    oh, ow = out_size(h, kh, sh, ph), out_size(wd, kw, sw, pw)
    five = x.ndim == 5 or w.ndim == 5
    total = None
    for a in range(kh):
        for e in range(kw):
            patch = xp[..., a:a + sh * oh:sh, e:e + sw * ow:sw]                  # (..., N, C, OH, OW)
            patch = patch.transpose((0, 1, 3, 4, 2) if x.ndim == 5 else (0, 2, 3, 1))   # (..., N, OH, OW, C)
            w_ae = w[..., a, e]                                                   # (..., O, C)
            w_ae = w_ae.transpose((0, 2, 1)).reshape((w.shape[0], 1, 1, w.shape[2], w.shape[1])) \
                if w.ndim == 5 else w_ae.T
            term = patch @ w_ae                                                   # (..., N, OH, OW, O)
            total = term if total is None else total + term
    out = total.transpose((0, 1, 4, 2, 3) if five else (0, 3, 1, 2))
    if b is None:
        return out
    return out + (b.reshape((b.shape[-1], 1, 1)) if b.ndim == 1 else b.reshape((b.shape[0], 1, b.shape[1], 1, 1)))


def conv_numpy(x, w, b=None, stride=1, padding=0):
    """The defining sum out[.., n, o, i, j] = b[o] + Σ W[o, c, a, e] xp[n, c, s·i + a, s·j + e], pixel by pixel."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    xp = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)])
    kh, kw = w.shape[-2:]
    oh, ow = out_size(x.shape[-2], kh, sh, ph), out_size(x.shape[-1], kw, sw, pw)
    xs = xp if x.ndim == 5 else xp[None]
    ws = w if w.ndim == 5 else w[None]
    n_samples = max(len(xs), len(ws))
    out = np.zeros((n_samples, x.shape[-4], w.shape[-4], oh, ow))
    for s in range(n_samples):
        xs_s, ws_s = xs[s if len(xs) > 1 else 0], ws[s if len(ws) > 1 else 0]
        for i in range(oh):
            for j in range(ow):
                window = xs_s[:, :, sh * i:sh * i + kh, sw * j:sw * j + kw]
                out[s, :, :, i, j] = np.tensordot(window, ws_s, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out = out + (b[:, None, None] if b.ndim == 1 else b[:, None, :, None, None])
    return out if (x.ndim == 5 or w.ndim == 5) else out[0]


def finite_floats(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


@st.composite
def conv_cases(draw, max_size=5):
    """x, w, b, stride, padding with the kernel inside the padded image, with or without sample axes."""
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))))
    ph, pw = pair(padding)
    h = draw(st.integers(max(1, kh - 2 * ph), max_size))
    wd = draw(st.integers(max(1, kw - 2 * pw), max_size))
    n_samples = draw(st.sampled_from([None, 2]))
    x_lead = () if n_samples is None else draw(st.sampled_from([(), (1,), (n_samples,)]))
    w_lead = () if n_samples is None else draw(st.sampled_from([(), (1,), (n_samples,)]))
    five = bool(x_lead or w_lead)
    bias_shapes = [None, (c_out,)] + ([(max(x_lead + w_lead), c_out)] if five else [])
    bias_shape = draw(st.sampled_from(bias_shapes))
    arr = lambda shape: draw(hnp.arrays(np.float64, shape, elements=finite_floats(-2, 2)))
    return dict(x=arr(x_lead + (n, c_in, h, wd)), w=arr(w_lead + (c_out, c_in, kh, kw)),
                b=None if bias_shape is None else arr(bias_shape), stride=stride, padding=padding)
