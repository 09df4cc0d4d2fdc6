"""What does a Bayesian convolution cost in minivi? One BayesConv2d training step against hand-written NumPy.

The step: sample eps, form the kernels W = mu + softplus(rho) * eps (one per
Monte Carlo sample) and biases, convolve (`mv.conv2d`: im2col and one matrix
product), the minibatch loss pi·KL + NLL/S, backward into mu and rho, an Adam
update. Two kinds of case: "layer", BayesConv2d alone with a Gaussian NLL
against a target image (`NumpyConv`), and "cnn", BayesConv2d, ReLU, Flatten,
BayesLinear and a categorical NLL on 10 classes (`NumpyCNN`), the shape of a
digits classifier. The NumPy classes do exactly the same step with every
gradient written out by hand (im2col + matmul, no Tensor, no graph; im2col
in the step, as a new minibatch needs): the speed limit the engine can approach. Both draw eps from identical
generators in the same order, so the script first checks that they give the
same loss and the same gradients (relative error <= 1e-12) and refuses to time
otherwise. If PyTorch is installed (never required), the same step in PyTorch
(CPU, float64, one thread; `F.conv2d`, one call per Monte Carlo sample) is a
third column.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_conv.py            # 15 rounds
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_conv.py --quick    # 5 rounds

Every round times a block of steps of each implementation of each case, the
order rotated from round to round, all in this one process, so a change in the
machine's load hits both sides of a ratio alike. Printed per case: the median
ms per step of each and the median, quartiles and range of the per-round ratio
minivi / NumPy, and the median ratio minivi / PyTorch.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import minivi as mv

CASES = [  # (kind, (C_in, C_out, kernel, padding), image side, batch, Monte Carlo samples)
    ("layer", (1, 16, 3, 1), 8, 64, 1),     # BayesConv2d alone, Gaussian NLL against a target image
    ("layer", (1, 16, 3, 1), 8, 64, 4),
    ("layer", (16, 32, 3, 1), 8, 64, 1),
    ("layer", (16, 32, 3, 1), 8, 64, 4),
    ("cnn", (1, 16, 3, 1), 8, 64, 1),       # BayesConv2d, ReLU, Flatten, BayesLinear(C_out·8·8, 10), categorical NLL
    ("cnn", (1, 16, 3, 1), 8, 64, 4),
]
NOISE_SIGMA, LR, N_DATA, N_CLASSES = 0.5, 1e-3, 1797, 10
GRAD_TOL = 1e-12


def label(kind, shape, side, batch, n_samples):
    c_in, c_out, k, _ = shape
    body = f"conv {c_in}->{c_out} {k}x{k}" + (f" -> linear {c_out * side * side}->10" if kind == "cnn" else "")
    return f"{body} on {side}x{side}, b{batch} S={n_samples}"


def make_data(kind, shape, side, batch, seed=0):
    c_in, c_out, k, p = shape
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, c_in, side, side))
    if kind == "cnn":
        return x, rng.integers(0, N_CLASSES, size=batch)
    out_side = side + 2 * p - k + 1
    return x, rng.normal(size=(batch, c_out, out_side, out_side))


def minivi_model(kind, shape, side, seed=1):
    c_in, c_out, k, p = shape
    rng = np.random.default_rng(seed)
    conv = mv.BayesConv2d(c_in, c_out, k, padding=p, rng=rng)
    if kind == "layer":
        return conv
    out_side = side + 2 * p - k + 1
    return mv.Sequential(conv, mv.ReLU(), mv.Flatten(), mv.BayesLinear(c_out * out_side ** 2, N_CLASSES, rng=rng))


def minivi_nll(kind):
    return mv.categorical_nll if kind == "cnn" else (lambda pred, target: mv.gaussian_nll(pred, target, NOISE_SIGMA))


def minivi_step_factory(kind, shape, side, x, y, n_samples):
    model, nll = minivi_model(kind, shape, side), minivi_nll(kind)
    optimizer = mv.optim.Adam(model.parameters(), lr=LR)

    def step():
        optimizer.zero_grad()
        loss, _ = mv.elbo_loss(model, x, y, nll, N_DATA, n_samples=n_samples)
        loss.backward()
        optimizer.step()
        return loss

    return model, step


def numpy_step_factory(kind, shape, side, x, y):
    return (NumpyCNN if kind == "cnn" else NumpyConv)(minivi_model(kind, shape, side), x, y)


# ---------------------------------------------------------------- hand-written NumPy


def softplus(rho):
    return np.maximum(rho, 0.0) + np.log1p(np.exp(-np.abs(rho)))


class NumpyConv:
    """The same layer, loss and Adam as plain arrays, every gradient written out; parameters copied from minivi."""

    def __init__(self, layer, x, y):
        self.params = [p.data.copy() for p in layer.parameters()]      # W_mu, W_rho, b_mu, b_rho
        self.rng, self.padding = layer.rng, layer.padding[0]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.k, self.x, self.y = layer.kernel_size[0], x, y

    def loss_and_grads(self, n_samples):
        """Everything a step does with a minibatch, im2col included (a new minibatch every step in training)."""
        x, y, k, p = self.x, self.y, self.k, self.padding
        xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
        windows = sliding_window_view(xp, (k, k), axis=(2, 3))                    # (N, C, OH, OW, k, k)
        cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1] * k * k)   # im2col: X_col
        y_rows = y.transpose(0, 2, 3, 1).reshape(-1, y.shape[1])                  # the target as (N·OH·OW, C_out)
        w_mu, w_rho, b_mu, b_rho = self.params
        lead = () if n_samples == 1 else (n_samples,)
        S = n_samples
        sigma_w, sigma_b = softplus(w_rho), softplus(b_rho)
        eps_w = self.rng.standard_normal(lead + w_mu.shape)
        eps_b = self.rng.standard_normal(lead + b_mu.shape)
        w = (w_mu + sigma_w * eps_w).reshape(lead + (w_mu.shape[0], -1))          # W_col (S, C_out, K)
        b = b_mu + sigma_b * eps_b
        out = cols @ np.swapaxes(w, -1, -2) + (b[:, None, :] if lead else b)  # (S, N·OH·OW, C_out)
        r = out - y_rows
        nll = (np.sum(r * r) / (2 * NOISE_SIGMA ** 2) + r.size * np.log(NOISE_SIGMA * np.sqrt(2 * np.pi))) / S
        g = r / (NOISE_SIGMA ** 2 * S)
        if lead:
            grad_w = (np.swapaxes(g, -1, -2) @ cols).reshape(eps_w.shape)       # G_colᵀ X_col per sample
            grad_b = g.sum(axis=1)
        else:
            grad_w = (g.T @ cols).reshape(eps_w.shape)
            grad_b = g.sum(axis=0)
        kl_weight, grads, kl = len(x) / N_DATA, [], 0.0
        for mu, sigma, gw, eps in ((w_mu, sigma_w, grad_w, eps_w), (b_mu, sigma_b, grad_b, eps_b)):
            log_sigma = np.log(sigma)
            kl += np.sum(0.5 * np.expm1(2 * log_sigma) - log_sigma + 0.5 * mu ** 2)
            sum_s = (lambda a: a.sum(axis=0)) if lead else (lambda a: a)
            grads.append(sum_s(gw) + kl_weight * mu)
            grads.append((sum_s(gw * eps) + kl_weight * (sigma - 1.0 / sigma)) * -np.expm1(-sigma))
        return kl_weight * kl + nll, grads

    def step(self, n_samples):
        loss, grads = self.loss_and_grads(n_samples)
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= LR * (m / (1 - 0.9 ** self.t)) / (np.sqrt(v / (1 - 0.999 ** self.t)) + 1e-8)
        return loss


class NumpyCNN:
    """BayesConv2d -> ReLU -> Flatten -> BayesLinear -> categorical NLL, plain arrays, every gradient by hand."""

    def __init__(self, model, x, y):
        self.params = [p.data.copy() for p in model.parameters()]   # conv W_mu, W_rho, b_mu, b_rho; linear the same
        conv = model.layers[0]
        self.rng, self.padding, self.k = conv.rng, conv.padding[0], conv.kernel_size[0]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t, self.x, self.y = 0, x, y

    def loss_and_grads(self, n_samples):
        x, y, k, p, S = self.x, self.y, self.k, self.padding, n_samples
        lead = () if S == 1 else (S,)
        sum_s = (lambda a: a.sum(axis=0)) if lead else (lambda a: a)
        n, c_in = x.shape[:2]
        xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
        cols = sliding_window_view(xp, (k, k), axis=(2, 3)).transpose(0, 2, 3, 1, 4, 5).reshape(-1, c_in * k * k)
        oh = x.shape[2] + 2 * p - k + 1
        sigmas = [softplus(rho) for rho in self.params[1::2]]
        mus = self.params[0::2]
        eps = []
        # the draws in minivi's order: conv kernel, conv bias, linear weight, linear bias
        eps.append(self.rng.standard_normal(lead + mus[0].shape))
        eps.append(self.rng.standard_normal(lead + mus[1].shape))
        w1 = (mus[0] + sigmas[0] * eps[0]).reshape(lead + (mus[0].shape[0], -1))         # (S, C_out, K)
        b1 = mus[1] + sigmas[1] * eps[1]
        a1 = cols @ np.swapaxes(w1, -1, -2) + (b1[:, None, :] if lead else b1)           # (S, N·OH·OW, C_out)
        h1 = np.maximum(a1, 0.0)
        c_out = mus[0].shape[0]
        flat = h1.reshape(lead + (n, oh, oh, c_out))
        flat = np.moveaxis(flat, -1, -3).reshape(lead + (n, -1))                         # Flatten in (C, H, W) order
        eps.append(self.rng.standard_normal(lead + mus[2].shape))
        eps.append(self.rng.standard_normal(lead + (1,) + mus[3].shape if lead else mus[3].shape))
        w2 = mus[2] + sigmas[2] * eps[2]
        logits = flat @ w2 + (mus[3] + sigmas[3] * eps[3])
        z = logits - logits.max(axis=-1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        one_hot = np.eye(logits.shape[-1])[y]
        nll = -np.sum(log_p * one_hot) / S
        g2 = (np.exp(log_p) - one_hot) / S                                              # dF/dlogits
        grad_w2 = np.swapaxes(flat, -1, -2) @ g2
        grad_b2 = g2.sum(axis=-2, keepdims=bool(lead))
        g_flat = g2 @ np.swapaxes(w2, -1, -2)                                            # (S, N, C·OH·OW)
        g1 = np.moveaxis(g_flat.reshape(lead + (n, c_out, oh, oh)), -3, -1).reshape(a1.shape) * (a1 > 0)
        grad_w1 = (np.swapaxes(g1, -1, -2) @ cols).reshape(eps[0].shape)
        grad_b1 = g1.sum(axis=-2)
        kl_weight, grads, kl = n / N_DATA, [], 0.0
        for mu, sigma, gw, e in zip(mus, sigmas, (grad_w1, grad_b1, grad_w2, grad_b2), eps):
            log_sigma = np.log(sigma)
            kl += np.sum(0.5 * np.expm1(2 * log_sigma) - log_sigma + 0.5 * mu ** 2)
            grads.append(sum_s(gw).reshape(mu.shape) + kl_weight * mu)
            grads.append((sum_s(gw * e).reshape(mu.shape) + kl_weight * (sigma - 1.0 / sigma)) * -np.expm1(-sigma))
        return kl_weight * kl + nll, grads

    step = NumpyConv.step


def torch_step_factory(kind, shape, side, x, y, n_samples):
    """The same step in PyTorch (CPU, float64, one thread; F.conv2d once per sample), or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    F = torch.nn.functional
    params = [torch.tensor(p.data, requires_grad=True) for p in minivi_model(kind, shape, side).parameters()]
    opt = torch.optim.Adam(params, lr=LR)
    xt, yt, gen, padding = torch.tensor(x), torch.tensor(y), torch.Generator().manual_seed(0), shape[3]
    draw = lambda t: torch.randn(t.shape, generator=gen, dtype=torch.float64)

    def step():
        opt.zero_grad()
        sigmas = [F.softplus(rho) for rho in params[1::2]]
        mus = params[0::2]
        nll = 0.0
        for _ in range(n_samples):
            w1, b1 = (mu + s * draw(mu) for mu, s in zip(mus[:2], sigmas[:2]))
            h = F.conv2d(xt, w1, b1, padding=padding)
            if kind == "layer":
                nll = nll + ((h - yt) ** 2).sum() / (2 * NOISE_SIGMA ** 2)
                continue
            w2, b2 = (mu + s * draw(mu) for mu, s in zip(mus[2:], sigmas[2:]))
            logits = torch.relu(h).flatten(1) @ w2 + b2
            nll = nll + F.cross_entropy(logits, yt, reduction="sum")
        kl = sum((-torch.log(s) + 0.5 * (s ** 2 + mu ** 2) - 0.5).sum() for mu, s in zip(mus, sigmas))
        loss = kl * (len(x) / N_DATA) + nll / n_samples
        loss.backward()
        opt.step()

    return step


# ---------------------------------------------------------------- checking, then timing


def check_agreement(kind, shape, side, batch, n_samples):
    """Same eps, same parameters: minivi and NumPy agree on the loss and every gradient, or the script stops."""
    x, y = make_data(kind, shape, side, batch)
    layer = minivi_model(kind, shape, side)
    reference = numpy_step_factory(kind, shape, side, x, y)
    loss, _ = mv.elbo_loss(layer, x, y, minivi_nll(kind), N_DATA, n_samples=n_samples)
    loss.backward()
    ref_loss, ref_grads = reference.loss_and_grads(n_samples)
    worst = max(np.max(np.abs(p.grad - g)) / np.max(np.abs(g)) for p, g in zip(layer.parameters(), ref_grads))
    rel_loss = abs(loss.item() - ref_loss) / abs(ref_loss)
    if rel_loss > GRAD_TOL or worst > GRAD_TOL:
        raise SystemExit(f"minivi and the NumPy step disagree: loss rel. error {rel_loss:.2e}, worst gradient "
                         f"rel. error {worst:.2e}; nothing timed")
    return rel_loss, worst


def block_ms(fn, steps):
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return 1e3 * (time.perf_counter() - start) / steps


def interleaved(rounds, steps):
    """ms per step, shape (cases, rounds, 3): minivi, NumPy, PyTorch (NaN if not installed)."""
    functions = []
    for kind, shape, side, batch, n_samples in CASES:
        x, y = make_data(kind, shape, side, batch)
        _, minivi_step = minivi_step_factory(kind, shape, side, x, y, n_samples)
        numpy_step = numpy_step_factory(kind, shape, side, x, y)
        functions.append([minivi_step, lambda s=numpy_step, n=n_samples: s.step(n),
                          torch_step_factory(kind, shape, side, x, y, n_samples)])
    for fns in functions:           # warm-up
        for fn in fns:
            if fn is not None:
                fn()
    ms = np.full((len(CASES), rounds, 3), np.nan)
    for r in range(rounds):
        for c, fns in enumerate(functions):
            order = [(r + i) % 3 for i in range(3)]
            for i in order:
                if fns[i] is not None:
                    ms[c, r, i] = block_ms(fns[i], steps)
    return ms


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    args = parser.parse_args()
    print(f"{cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"load average {os.getloadavg()[0]:.2f}")
    try:
        import torch
        print(f"PyTorch {torch.__version__} (CPU, float64, 1 thread)")
    except ImportError:
        print("PyTorch not installed: no PyTorch column")
    for case in CASES:
        rel_loss, worst = check_agreement(*case)
        print(f"checked {label(*case)}: loss rel. error {rel_loss:.1e}, worst gradient rel. error {worst:.1e}")
    rounds = 5 if args.quick else 15
    ms = interleaved(rounds, steps=20)
    print(f"\nmedian ms per training step over {rounds} interleaved rounds of 20 steps (sample, conv, ELBO, backward, Adam)")
    print(f"{'case':<46}{'minivi':>8}{'NumPy':>8}{'torch':>8}  {'minivi/NumPy: median [quartiles] (range)':<42}"
          f"{'minivi/torch':>13}")
    for spec, case in zip(CASES, ms):
        ratio = case[:, 0] / case[:, 1]
        q1, q2, q3 = np.percentile(ratio, [25, 50, 75])
        med = np.median(case, axis=0)
        torch_ratio = np.median(case[:, 0] / case[:, 2])
        print(f"{label(*spec):<46}{med[0]:>8.2f}{med[1]:>8.2f}{med[2]:>8.2f}  "
              f"{q2:.2f} [{q1:.2f}, {q3:.2f}] ({ratio.min():.2f}-{ratio.max():.2f}){'':<14}{torch_ratio:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
