"""Layer 3, Flipout: one sampled perturbation per Monte Carlo sample, decorrelated per example by random signs.

Wen, Vicol, Ba, Tran & Grosse (2018), "Flipout: Efficient pseudo-independent
weight perturbations on mini-batches". Weight sampling (`BayesLinear`) draws
one W = mu + Delta_W, Delta_W = sigma * eps, for the whole minibatch, so every
example sees the same perturbation and their gradients are correlated: the
gradient's variance does not fall like 1/B as the batch size B grows.
Flipout gives example n its own weight

    W_n = mu + Delta_W * (s_n r_nᵀ)      (entrywise; W is (in, out); s_n, r_n vectors of random signs ±1)

from ONE Delta_W. Because eps is symmetric and independent of the signs,
Delta_W * (s_n r_nᵀ) has exactly the distribution of Delta_W: each W_n is a
draw from q, so the estimate of the ELBO and its gradient are unbiased. But
two examples' perturbations now differ by the random signs, which decorrelates
their gradients. The product never forms W_n:

    y_n = x_n W_n = x_n mu + ((x_n * s_n) Delta_W) * r_n                    (linear layer)
    y_n = conv(x_n, mu) + conv(x_n * s_n, Delta_W) * r_n                    (convolution)

two matrix products (two convolutions) instead of one. For a convolution s_n
holds one sign per input channel and r_n one per output channel, shared by
all pixels: W_n[o, c, a, e] = mu + Delta_W[o, c, a, e] r_n[o] s_n[c] is then one
kernel per image, a draw from q, so the pixels of an image keep the joint
distribution weight sampling gives them (`LocalBayesConv2d` does not).
The bias, the weight of a constant input 1, gets b_n = mu_b + (sigma_b * eps_b) * r_n.

The backward, written out (G = dF/dy, summed over examples n and samples):

    dF/dmu      = Σ_n x_nᵀ G_n                                  (as for x @ mu)
    dF/dDelta_W = Σ_n (x_n * s_n)ᵀ (G_n * r_n)                  (one per Monte Carlo sample)
    dF/dsigma   = Σ_samples dF/dDelta_W * eps,   dF/drho = dF/dsigma * sigmoid(rho)    (step 7)
    dF/dx_n     = G_n muᵀ + ((G_n * r_n) Delta_Wᵀ) * s_n

and for the convolution the same with conv2d's VJPs (minivi/conv.py): the
products with x become `conv_weight_grad` on the windows of x and of x * s,
the products with the kernel `conv_input_grad`.

Classes, not a mode: `FlipoutLinear` and `FlipoutConv2d` are BayesLinear and
BayesConv2d with another training estimator, as `LocalBayesLinear` is. The
keyword `mode` already says what a CALL asks for (a sample, the mean, whole
functions); which estimator a layer trains with is a property of the layer,
recorded by `save` with its class. Same parameters, KL, mean mode; mode="function"
(what `predict` uses) draws one weight for all rows, since a Flipout output,
each row with its own W_n, is not a function of x.
"""
from __future__ import annotations

import numpy as np

from .bayes import BayesLinear, sample_weight, sigma_of
from .bayes_conv import BayesConv2d
from .conv import (_check_conv_args, conv_forward, conv_input_grad, conv_weight_grad, im2col, output_size)
from .tensor import Tensor, as_tensor, make_op, unbroadcast


def random_signs(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Independent signs ±1 with probability 1/2 each (Rademacher), drawn from rng."""
    return 2.0 * rng.integers(0, 2, size=shape) - 1.0


def _check_q(who: str, mu, rho, expected: str, ndim: int) -> tuple:
    """mu and rho as Tensors (an array is a constant), of one shape with `ndim` axes."""
    mu, rho = as_tensor(mu), as_tensor(rho)
    if mu.ndim != ndim:
        raise ValueError(f"{who}: mu has shape {mu.shape}; expected {expected}")
    if rho.shape != mu.shape:
        raise ValueError(f"{who}: rho has shape {rho.shape}; expected mu's shape {mu.shape}")
    return mu, rho


def _check_noise(who: str, mu: Tensor, eps, sign_in, sign_out, rows: tuple, n_in: int, n_out: int, tail: tuple) -> None:
    """eps of mu's shape (with an optional sample axis first), signs ±1 of the shapes the rows need."""
    lead = np.shape(eps)[:-mu.ndim]
    if np.shape(eps)[len(lead):] != mu.shape or len(lead) > 1:
        raise ValueError(f"{who}: eps has shape {np.shape(eps)}; expected mu's shape {mu.shape}, or (S, *{mu.shape})")
    try:
        rows = np.broadcast_shapes(rows, lead + (1,))
    except ValueError:
        raise ValueError(f"{who}: the sample axes of x (leading axes {rows}) and of eps {np.shape(eps)} differ; "
                         "they must be equal, or one of them 1 or absent") from None
    for name, sign, n in (("sign_in", sign_in, n_in), ("sign_out", sign_out, n_out)):
        if np.shape(sign) != rows + (n,) + tail:
            raise ValueError(f"{who}: {name} has shape {np.shape(sign)}; expected {rows + (n,) + tail}, one sign per "
                             "row (image) and " + ("feature" if not tail else "channel"))
        if not np.all(np.abs(sign) == 1):     # other values scale Delta_W: no longer a draw from q
            raise ValueError(f"{who}: {name} must hold only +1 and -1 (draw it with random_signs(rng, shape))")


def _delta_w(rho: Tensor, eps: np.ndarray, shared_sigma):
    s = sigma_of(rho, shared_sigma)
    return s, s.sigma * eps                                           # Delta_W = sigma * eps


def _rho_grad(grad_delta: np.ndarray, eps: np.ndarray, s, rho_shape: tuple) -> np.ndarray:
    """dF/drho = (Σ_samples dF/dDelta_W * eps) * sigmoid(rho)."""
    return unbroadcast(grad_delta * eps, rho_shape) * s.sigmoid()


def flipout_linear(x, mu: Tensor, rho: Tensor, eps: np.ndarray, sign_in: np.ndarray, sign_out: np.ndarray, *,
                   shared_sigma: dict | None = None) -> Tensor:
    """y = x @ mu + ((x * sign_in) @ Delta_W) * sign_out, Delta_W = softplus(rho) * eps, as ONE op.

    x: (N, in) or (S, N, in) (S: 1 or the sample count); mu, rho: (in, out) (Tensors; an array is a constant);
    eps: (in, out) or (S, in, out); sign_in: x's rows' shape (S, N, in) or
    (N, in); sign_out: the output's (S, N, out) or (N, out), every sign +1 or -1.
    Backward: see the module docstring; gradients of mu and rho are summed over the samples.
    """
    x = as_tensor(x)
    mu, rho = _check_q("flipout_linear", mu, rho, "(in_features, out_features)", 2)
    if x.ndim not in (2, 3) or x.shape[-1] != mu.shape[0]:
        raise ValueError(f"flipout_linear expects x of shape (N, {mu.shape[0]}), or (S, N, {mu.shape[0]}) with a "
                         f"sample axis, got shape {x.shape}")
    _check_noise("flipout_linear", mu, eps, sign_in, sign_out, x.shape[:-1], mu.shape[0], mu.shape[1], ())
    s, delta = _delta_w(rho, eps, shared_sigma)
    x_signed = x.data * sign_in
    out = x.data @ mu.data + (x_signed @ delta) * sign_out

    def vjp_x(g):      # dF/dx = G muᵀ + ((G * r) Delta_Wᵀ) * s
        return unbroadcast(g @ mu.data.T + ((g * sign_out) @ np.swapaxes(delta, -1, -2)) * sign_in, x.shape)

    def vjp_mu(g):     # dF/dmu = Σ_n x_nᵀ G_n, over every row of every sample
        rows = np.broadcast_to(x.data, g.shape[:-1] + x.shape[-1:])
        return rows.reshape(-1, x.shape[-1]).T @ g.reshape(-1, g.shape[-1])

    def vjp_rho(g):    # dF/dDelta_W = (x * s)ᵀ (G * r) per sample; dF/drho = Σ eps * that * sigmoid(rho)
        return _rho_grad(np.swapaxes(x_signed, -1, -2) @ (g * sign_out), eps, s, rho.shape)

    return make_op("flipout_linear", out, (x, mu, rho), (vjp_x, vjp_mu, vjp_rho))


def flipout_conv2d(x, mu: Tensor, rho: Tensor, eps: np.ndarray, sign_in: np.ndarray, sign_out: np.ndarray, *,
                   stride=1, padding=0, shared_sigma: dict | None = None) -> Tensor:
    """y = conv2d(x, mu) + conv2d(x * sign_in, Delta_W) * sign_out, Delta_W = softplus(rho) * eps, as ONE op.

    x: (N, C_in, H, W) or (S, N, C_in, H, W); mu, rho: (C_out, C_in, kH, kW) (Tensors or constant arrays);
    eps: mu's shape or (S, C_out, C_in, kH, kW); sign_in: (S, N, C_in, 1, 1) or
    (N, C_in, 1, 1), one sign per image and input channel; sign_out: (S, N, C_out, 1, 1)
    or (N, C_out, 1, 1); every sign +1 or -1. Backward: see the module docstring.
    """
    x = as_tensor(x)
    mu, rho = _check_q("flipout_conv2d", mu, rho, "(C_out, C_in, kH, kW) (the sample axis goes on eps)", 4)
    stride, padding = _check_conv_args(x, mu, None, stride, padding)
    _check_noise("flipout_conv2d", mu, eps, sign_in, sign_out, x.shape[:-3], mu.shape[1], mu.shape[0], (1, 1))
    s, delta = _delta_w(rho, eps, shared_sigma)
    kernel = mu.shape[-2:]
    n, oh, ow = x.shape[-4], output_size(x.shape[-2], kernel[0], stride[0], padding[0]), \
        output_size(x.shape[-1], kernel[1], stride[1], padding[1])
    cols = im2col(x.data, kernel, stride, padding)
    x_signed = x.data * sign_in
    cols_signed = im2col(x_signed, kernel, stride, padding)
    out = conv_forward(cols, mu.data, n, oh, ow) + conv_forward(cols_signed, delta, n, oh, ow) * sign_out

    def vjp_x(g):      # dF/dx = conv_input_grad(G, mu) + conv_input_grad(G * r, Delta_W) * s
        g_signed = g * sign_out
        d_x_signed = conv_input_grad(g_signed, delta, g_signed.shape[:-4] + x_signed.shape[-4:], stride, padding)
        return conv_input_grad(g, mu.data, x.shape, stride, padding) + unbroadcast(d_x_signed * sign_in, x.shape)

    def vjp_mu(g):
        return conv_weight_grad(cols, g, mu.shape)

    def vjp_rho(g):
        g_signed = g * sign_out
        return _rho_grad(conv_weight_grad(cols_signed, g_signed, delta.shape), eps, s, rho.shape)

    return make_op("flipout_conv2d", out, (x, mu, rho), (vjp_x, vjp_mu, vjp_rho))


class FlipoutLinear(BayesLinear):
    """BayesLinear trained with Flipout (Wen et al. 2018): one Delta_W per sample, random signs per row.

    mode="sample": y_n = x_n mu + ((x_n * s_n) Delta_W) * r_n + mu_b + (sigma_b * eps_b) * r_n,
    the eps and signs drawn from the layer's rng in this order: eps of the
    weight (S, in, out), eps of the bias (S, 1, out), s (S, N, in), r (S, N, out)
    (no S without n_samples). Inputs are (N, in_features), or (1 or S, N, in_features)
    inside a call with n_samples. See minivi/flipout.py for the derivation.
    """

    def forward(self, x, *, mode, n_samples, shared_sigma=None):
        if mode == "function":
            return super().forward(x, mode="sample", n_samples=n_samples, shared_sigma=shared_sigma)
        x = self._check_input(x, n_samples)
        if mode == "mean":
            return self._affine(x, self.weight_mu, self.bias_mu)
        if x.ndim != (2 if n_samples is None else 3):
            raise ValueError(f"{type(self).__name__} expects rows of shape (N, {self.in_features}), got shape "
                             f"{x.shape if n_samples is None else x.shape[1:]}; reshape to (-1, {self.in_features})")
        self._new_kl_seed()
        lead = () if n_samples is None else (n_samples,)
        eps = self._eps(self.weight_mu.shape, n_samples)
        eps_b = None if self.bias_mu is None else self.rng.standard_normal(lead + (1, self.out_features))
        rows = lead + x.shape[-2:-1]
        sign_in, sign_out = random_signs(self.rng, rows + (self.in_features,)), random_signs(self.rng, rows + (self.out_features,))
        y = flipout_linear(x, self.weight_mu, self.weight_rho, eps, sign_in, sign_out, shared_sigma=shared_sigma)
        if eps_b is None:
            return y
        return y + sample_weight(self.bias_mu, self.bias_rho, eps_b * sign_out, shared_sigma=shared_sigma)


class FlipoutConv2d(BayesConv2d):
    """BayesConv2d trained with Flipout (Wen et al. 2018): one Delta_W per sample, random signs per image and channel.

    mode="sample": y_n = conv(x_n, mu) + conv(x_n * s_n, Delta_W) * r_n + mu_b + (sigma_b * eps_b) * r_n,
    s_n one sign per input channel, r_n one per output channel (shared by the
    pixels: image n convolves with one kernel drawn from q). Drawn from the
    layer's rng in this order: eps of the kernel (S, C_out, C_in, kH, kW), eps
    of the bias (S, 1, C_out), s (S, N, C_in, 1, 1), r (S, N, C_out, 1, 1)
    (no S without n_samples). See minivi/flipout.py for the derivation.
    """

    def forward(self, x, *, mode, n_samples, shared_sigma=None):
        if mode == "function":
            return super().forward(x, mode="sample", n_samples=n_samples, shared_sigma=shared_sigma)
        x = self._check_input(x, n_samples)
        if mode == "mean":
            return self._conv(x, self.weight_mu, self.bias_mu)
        self._new_kl_seed()
        lead = () if n_samples is None else (n_samples,)
        eps = self._eps(self.weight_mu.shape, n_samples)
        eps_b = None if self.bias_mu is None else self.rng.standard_normal(lead + (1, self.out_channels))
        images = lead + (x.shape[-4],)
        sign_in = random_signs(self.rng, images + (self.in_channels, 1, 1))
        sign_out = random_signs(self.rng, images + (self.out_channels, 1, 1))
        y = flipout_conv2d(x, self.weight_mu, self.weight_rho, eps, sign_in, sign_out, stride=self.stride,
                           padding=self.padding, shared_sigma=shared_sigma)
        if eps_b is None:
            return y
        # b_n = mu_b + (sigma_b * eps_b) * r_n, one row (C_out,) per image, on the bias's own mu and rho (so
        # the sigma shared with the KL is found), then set along the channel axis of y
        b = sample_weight(self.bias_mu, self.bias_rho, eps_b * sign_out[..., 0, 0], shared_sigma=shared_sigma)
        return y + b.reshape(images + (self.out_channels, 1, 1))
