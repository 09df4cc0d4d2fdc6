"""Layer 3, Bayesian convolutions: `BayesConv2d` and `LocalBayesConv2d`.

The q of a convolutional layer is BayesLinear's, on a kernel instead of a
matrix (`MeanFieldLayer`, minivi/bayes.py): every kernel entry and bias gets
q(w_i) = N(mu_i, sigma_i²), sigma_i = softplus(rho_i) (step 4), the same
closed-form KL (step 5, `kl_normal_op`) and the same sampled weights
w = mu + sigma * eps (step 7, `sample_weight`). Only the product with the
input changes: `conv2d` (minivi/conv.py) instead of x @ W.
So on the flattened kernel its KL and its gradients are BayesLinear's.
"""
from __future__ import annotations

import numpy as np

from .bayes import MeanFieldLayer, _sqrt, sample_weight
from .conv import check_channels, conv2d, pair
from .tensor import Tensor, as_tensor


class BayesConv2d(MeanFieldLayer):
    """out = conv2d(x, W, b, stride, padding) with Gaussian q over every kernel entry and bias (Blundell et al. 2015).

    Parameters: weight_mu, weight_rho of shape (out_channels, in_channels, kH, kW);
    bias_mu, bias_rho of shape (out_channels,). Initialisation as `BayesLinear`:
    mu ~ N(0, 1/fan_in) with fan_in = in_channels·kH·kW, every sigma = init_sigma.

    mode="sample" or "function": one kernel W = mu + sigma * eps per Monte Carlo
    sample, shared by all the images of the batch (weight sampling); with
    n_samples=S, x is (1 or S, N, C_in, H, W) and the output (S, N, C_out, OH, OW),
    sample s convolving with W_s. mode="mean": the kernel mu.
    prior, prior_sigma, init_sigma, rng, bias: as `BayesLinear`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, prior_sigma: float = 1.0, *,
                 stride=1, padding=0, rng: np.random.Generator, prior=None, init_sigma: float = 0.05,
                 bias: bool = True):
        self.in_channels, self.out_channels, self.kernel_size = check_channels(
            in_channels, out_channels, kernel_size, type(self).__name__)
        self.stride, self.padding = pair(stride, "stride", 1), pair(padding, "padding", 0)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self._init_q(rng, shape, int(np.prod(shape[1:])), self.out_channels, prior_sigma, prior, init_sigma, bias)

    def forward(self, x, *, mode, n_samples, shared_sigma=None):
        """mode="mean": conv2d(x, mu_W, mu_b).  mode="sample" or "function": conv2d(x, W, b), fresh W, b ~ q.

        The eps are drawn from the layer's rng: the kernel's, (S, C_out, C_in, kH, kW)
        (no S without n_samples), then the bias's, (S, C_out).
        """
        x = self._check_input(x, n_samples)
        if mode == "mean":
            return self._conv(x, self.weight_mu, self.bias_mu)
        self._new_kl_seed()
        w = sample_weight(self.weight_mu, self.weight_rho, self._eps(self.weight_mu.shape, n_samples),
                          shared_sigma=shared_sigma)
        b = None if self.bias_mu is None else sample_weight(
            self.bias_mu, self.bias_rho, self._eps(self.bias_mu.shape, n_samples), shared_sigma=shared_sigma)
        return self._conv(x, w, b)

    def _conv(self, x, w, b) -> Tensor:
        return conv2d(x, w, b, stride=self.stride, padding=self.padding)

    def _check_input(self, x, n_samples) -> Tensor:
        """Images (N, C_in, H, W); inside a call with n_samples, (1 or S, N, C_in, H, W)."""
        x = as_tensor(x)
        ndim = 4 if n_samples is None else 5
        if x.ndim != ndim or x.shape[-3] != self.in_channels:
            inside = "" if n_samples is None else f" (inside a call with n_samples={n_samples}: with the sample axis first)"
            one = " (one image: x.reshape(1, C_in, H, W))" if x.ndim == ndim - 1 else ""
            raise ValueError(f"{type(self).__name__} expects images of shape (N, {self.in_channels}, H, W){inside}, "
                             f"got shape {x.shape}{one}")
        return x

    def config(self) -> dict:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
                "bias": self.bias_mu is not None, "prior": self.prior_config()}

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, prior={self.prior!r}, bias={self.bias_mu is not None})")


class LocalBayesConv2d(BayesConv2d):
    """BayesConv2d with the local reparameterisation trick (Kingma, Salimans & Welling 2015) in mode="sample".

    Given x, each output pixel is a sum of independent Gaussian products, so it
    is Gaussian:

        mean = conv2d(x, mu_W) + mu_b,       var = conv2d(x², sigma_W²) + sigma_b²

    and mode="sample" draws out = mean + sqrt(var) * eps with eps of the
    output's shape, one per pixel (gradients by the engine's autodiff of this
    expression). Each pixel's distribution is the one weight sampling gives it.
    Unlike a linear layer, whose rows are separate examples, the pixels of ONE
    image share the kernel, so under q they are correlated; this estimator
    draws them independently. It keeps every pixel's mean and variance but not
    their covariances, so the expectation of a loss that depends on several
    pixels jointly (pooling and the next layers mix them) is not the ELBO's:
    for F = (Σ_pixels out)² it misses Σ_{pixels p != p'} Cov(out_p, out_p')
    (tests/test_bayes_conv.py measures this gap). Flipout (minivi/flipout.py)
    keeps one kernel per image and has no such gap.
    mode="function" draws kernels, as BayesConv2d does; same parameters, KL and mean mode.
    """

    def forward(self, x, *, mode, n_samples, shared_sigma=None):
        if mode == "function":
            return super().forward(x, mode="sample", n_samples=n_samples, shared_sigma=shared_sigma)
        x = self._check_input(x, n_samples)
        if mode == "mean":
            return self._conv(x, self.weight_mu, self.bias_mu)
        self._new_kl_seed()
        sigma_b2 = None if self.bias_mu is None else self.bias_rho.softplus() ** 2
        mean = self._conv(x, self.weight_mu, self.bias_mu)
        var = self._conv(x ** 2, self.weight_rho.softplus() ** 2, sigma_b2)
        eps_shape = mean.shape if n_samples is None else (n_samples,) + mean.shape[1:]
        return mean + _sqrt(var) * self.rng.standard_normal(eps_shape)
