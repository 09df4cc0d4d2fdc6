"""Exercise 11 — the backward of a 2-D convolution: col2im for the image, a matrix product for the kernel.

Why. A convolutional layer is one engine op (minivi/conv.py; the engine's
rule is the same as in exercise 4: forward on arrays, and for each input a
vector-Jacobian product g -> dF/d(input), with g = dF/d(out)). A Bayesian CNN
samples its kernel W = μ + σ ∘ ε: step 7 needs dF/dW, which this op's backward
gives and exercise 3 carries to μ and σ; the layers below it need dF/dx. Both
follow from writing the convolution as one matrix product.

The forward (PyTorch's layout, no sample axis). Images x of shape
(N, C_in, H, W), kernels W of shape (C_out, C_in, kH, kW), stride s, zero
padding p (xp is x with p zeros added on every side of H and W):

    y[n, o, i, j] = Σ_{c, a, e} W[o, c, a, e] · xp[n, c, s·i + a, s·j + e],

for i < OH = (H + 2p − kH) // s + 1 and j < OW = (W + 2p − kW) // s + 1.
Copy the window under every output pixel into one row (im2col):

    col(x)[(n, i, j), (c, a, e)] = xp[n, c, s·i + a, s·j + e]     (N·OH·OW rows, C_in·kH·kW columns)

and y = W · col(x) is ONE matrix product: with W_col = W reshaped to
(C_out, C_in·kH·kW), Y_col = col(x) W_colᵀ holds y[n, o, i, j] in row (n, i, j),
column o.

The backward. Let G = dF/dy (grad_out, the shape of y), laid out as G_col
like Y_col. A matrix product's VJPs give

    dF/dW_col    = G_colᵀ col(x)          → reshaped to W's shape  (the kernel's gradient)
    dF/dcol(x)   = G_col W_col            → one row per window, one column per (c, a, e)

col(x) is not x: it holds COPIES of the pixels of xp, one per window that
covers the pixel. The adjoint of making copies is a sum over the copies
(as for broadcasting in exercise 4), so

    dF/dxp[n, c, h, w] = Σ over every (i, j, a, e) with s·i + a = h and s·j + e = w
                                of dF/dcol(x)[(n, i, j), (c, a, e)]           (col2im)

and the padding zeros are constants, not inputs: dF/dx is the part of dF/dxp
that lies over the image. Where windows overlap (a stride smaller than the
kernel), a pixel is in several windows and collects several terms.

Your task. Write

  conv2d_backward(x, weight, grad_out, stride, padding) -> (grad_x, grad_weight)

with x (N, C_in, H, W), weight (C_out, C_in, kH, kW), grad_out (N, C_out, OH, OW),
and stride >= 1, padding >= 0 plain ints (the same along H and W); return
grad_x of x's shape and grad_weight of weight's shape, as NumPy arrays.
You may form col(x) and G_col and use the two matrix products above, or
write the sums as loops over the kernel offsets (a, e) or over the output
pixels (i, j): a loop over kH·kW offsets or OH·OW windows is fine here.
Derive, on paper, which pixel of xp the entry (c, a, e) of row (n, i, j)
came from before you write the scatter.

The checker compares both with the sums above written as loops, and with
central differences of F = Σ grad_out ∘ y, on several shapes, strides
(smaller than, equal to and larger than the kernel) and paddings.

Check:  python check.py 11
"""
import numpy as np  # noqa: F401  (for your code)


def conv2d_backward(x, weight, grad_out, stride, padding):
    """(dF/dx, dF/dW) of y = conv2d(x, W, stride, padding), given grad_out = dF/dy: arrays of x's and W's shapes."""
    raise NotImplementedError("exercise 11: write conv2d_backward (col2im for grad_x, G_colᵀ col(x) for grad_weight)")
