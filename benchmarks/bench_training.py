"""How much does minivi's graph cost? One full training step against hand-written NumPy.

A training step of Bayes by Backprop: sample eps, form w = mu + softplus(rho) * eps,
forward, the minibatch loss KL·π + NLL/S, backward into mu and rho, an Adam
update. `numpy_step` below does exactly that with every gradient written out
by hand: no Tensor, no graph, the speed limit the engine can approach. Both
draw their eps from identical generators in the same order, so the benchmark
first checks that they produce the same loss and the same gradients.

    python benchmarks/bench_training.py            # all cases
    python benchmarks/bench_training.py --quick    # fewer repeats

Prints, per case, the median milliseconds per step of both and their ratio,
then the speed-up of one vectorised 8-sample forward over 8 sequential
single-sample forwards. If PyTorch is installed, the same model in PyTorch
(CPU, float64) is added as a further column; it is never required.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

import minivi as mv

CASES = [  # (name, layer sizes, batch, Monte Carlo samples)
    ("small", (1, 50, 50, 1), 32, 1),
    ("small", (1, 50, 50, 1), 32, 8),
    ("large", (784, 400, 400, 10), 128, 1),
    ("large", (784, 400, 400, 10), 128, 8),
]
NOISE_SIGMA, LR, N_DATA = 0.1, 1e-3, 10_000


def make_data(sizes, batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, sizes[0]))
    if sizes[-1] == 1:
        return x, rng.normal(size=(batch, 1))
    return x, rng.integers(0, sizes[-1], size=batch)


# ---------------------------------------------------------------- minivi

def minivi_model(sizes, seed):
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(mv.BayesLinear(n_in, n_out, rng=rng))
        if i < len(sizes) - 2:
            layers.append(mv.ReLU())
    return mv.Sequential(*layers)


def minivi_nll(sizes):
    if sizes[-1] == 1:
        return functools.partial(mv.gaussian_nll, noise_sigma=NOISE_SIGMA)
    return mv.categorical_nll


def minivi_step(model, optimizer, nll, x, y, n_samples):
    optimizer.zero_grad()
    loss, _ = mv.elbo_loss(model, x, y, nll, N_DATA, n_samples=n_samples)
    loss.backward()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------- hand-written NumPy

def softplus(rho):
    """log(1 + e^rho), stable: max(rho, 0) + log1p(e^-|rho|)."""
    return np.maximum(rho, 0.0) + np.log1p(np.exp(-np.abs(rho)))


class NumpyBNN:
    """The same network and Adam, as plain arrays; parameters copied from a minivi model."""

    def __init__(self, model):
        self.params = [p.data.copy() for p in model.parameters()]   # [W_mu, W_rho, b_mu, b_rho] per layer
        self.rng = model.layers[0].rng
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def forward(self, x, n_samples, sigmas):
        """The output for S weight samples at once (n_samples=S: a leading sample axis, as
        minivi's model(x, n_samples=S)) or for one (None: no sample axis, as model(x));
        eps drawn in minivi's order. Returns it and what the backward reads."""
        lead, cache, h, n_layers = () if n_samples is None else (n_samples,), [], x, len(self.params) // 4
        for k in range(n_layers):
            w_mu, b_mu = self.params[4 * k], self.params[4 * k + 2]
            w_sigma, b_sigma = sigmas[2 * k], sigmas[2 * k + 1]
            eps_w = self.rng.standard_normal(lead + w_mu.shape)
            w = w_mu + w_sigma * eps_w
            a = h @ w
            eps_b = self.rng.standard_normal((lead + (1,) * (a.ndim - 2) if lead else ()) + b_mu.shape)
            a = a + (b_mu + b_sigma * eps_b)
            cache.append((h, w, eps_w, eps_b))
            h = np.maximum(a, 0.0) if k < n_layers - 1 else a
        return h, cache

    def sampled_output(self, x, n_samples=None):
        """What minivi's model(x, n_samples=...) computes: sigma = softplus(rho), then the forward."""
        return self.forward(x, n_samples, [softplus(rho) for rho in self.params[1::2]])[0]

    def loss_and_grads(self, x, y, n_samples):
        S, n_layers = n_samples, len(self.params) // 4
        kl_weight = len(x) / N_DATA
        grads = [None] * len(self.params)
        sigmas = [softplus(rho) for rho in self.params[1::2]]     # one softplus per rho, reused below
        h, cache = self.forward(x, S, sigmas)
        if y.ndim == 2:                                            # Gaussian NLL, summed, / S
            r = h - y
            nll = (np.sum(r * r) / (2 * NOISE_SIGMA ** 2) + r.size * np.log(NOISE_SIGMA * np.sqrt(2 * np.pi))) / S
            g = r / (NOISE_SIGMA ** 2 * S)
        else:                                                      # categorical NLL, summed, / S
            z = h - h.max(axis=-1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
            one_hot = np.eye(h.shape[-1])[y]
            nll = -np.sum(log_p * one_hot) / S
            g = (np.exp(log_p) - one_hot) / S
        kl = 0.0
        for k in reversed(range(n_layers)):                        # backward
            w_mu, b_mu = self.params[4 * k], self.params[4 * k + 2]
            h_in, w, eps_w, eps_b = cache[k]
            grad_w = np.swapaxes(h_in, -1, -2) @ g                  # (S, in, out); x (B, in) broadcasts
            grad_b = g.sum(axis=-2, keepdims=True)                   # (S, 1, out), eps_b's shape
            for j, (mu, gw, eps) in enumerate(((w_mu, grad_w, eps_w), (b_mu, grad_b, eps_b))):
                sigma = sigmas[2 * k + j]
                sig = -np.expm1(-sigma)                              # sigmoid(rho) from sigma
                log_sigma = np.log(sigma)
                kl += np.sum(0.5 * np.expm1(2 * log_sigma) - log_sigma + 0.5 * mu ** 2)
                gs = (gw * eps).reshape((-1,) + mu.shape).sum(axis=0)
                grads[4 * k + 2 * j] = gw.reshape((-1,) + mu.shape).sum(axis=0) + kl_weight * mu
                grads[4 * k + 2 * j + 1] = (gs + kl_weight * (sigma - 1.0 / sigma)) * sig
            if k > 0:
                g = (g @ np.swapaxes(w, -1, -2)) * (h_in > 0)
        return kl_weight * kl + nll, grads

    def adam(self, grads, b1=0.9, b2=0.999, eps=1e-8):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= LR * (m / (1 - b1 ** self.t)) / (np.sqrt(v / (1 - b2 ** self.t)) + eps)

    def step(self, x, y, n_samples):
        loss, grads = self.loss_and_grads(x, y, n_samples)
        self.adam(grads)
        return loss


# ---------------------------------------------------------------- optional PyTorch column

def torch_step_factory(model, x, y, n_samples):
    """The same model in PyTorch (CPU, float64), or None if PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    params = [torch.tensor(p.data, requires_grad=True) for p in model.parameters()]
    opt = torch.optim.Adam(params, lr=LR)
    xt, gen = torch.tensor(x), torch.Generator().manual_seed(0)
    yt = torch.tensor(y)

    def step():
        opt.zero_grad()
        h, kl = xt, 0.0
        for k in range(len(params) // 4):
            w_mu, w_rho, b_mu, b_rho = params[4 * k: 4 * k + 4]
            w = w_mu + torch.nn.functional.softplus(w_rho) * torch.randn((n_samples,) + tuple(w_mu.shape),
                                                                          generator=gen, dtype=torch.float64)
            b = b_mu + torch.nn.functional.softplus(b_rho) * torch.randn((n_samples, 1) + tuple(b_mu.shape),
                                                                          generator=gen, dtype=torch.float64)
            h = h @ w + b
            if k < len(params) // 4 - 1:
                h = torch.relu(h)
            for mu, rho in ((w_mu, w_rho), (b_mu, b_rho)):
                sigma = torch.nn.functional.softplus(rho)
                kl = kl + (-torch.log(sigma) + 0.5 * (sigma ** 2 + mu ** 2) - 0.5).sum()
        if yt.ndim == 2:
            nll = ((h - yt) ** 2).sum() / (2 * NOISE_SIGMA ** 2) / n_samples
        else:
            nll = torch.nn.functional.cross_entropy(h.reshape(-1, h.shape[-1]), yt.repeat(n_samples),
                                                    reduction="sum") / n_samples
        loss = kl * (len(x) / N_DATA) + nll
        loss.backward()
        opt.step()

    return step


# ---------------------------------------------------------------- measuring

def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def check_agreement(sizes, batch, n_samples, tol=1e-10):
    """Same eps, same parameters: the two must agree on the loss and every gradient (relative error <= tol)."""
    x, y = make_data(sizes, batch)
    model = minivi_model(sizes, seed=1)
    reference = NumpyBNN(minivi_model(sizes, seed=1))
    loss, _ = mv.elbo_loss(model, x, y, minivi_nll(sizes), N_DATA, n_samples=n_samples)
    loss.backward()
    ref_loss, ref_grads = reference.loss_and_grads(x, y, n_samples)
    worst = max(np.max(np.abs(p.grad - g)) / (np.max(np.abs(g)) + 1e-300)
                for p, g in zip(model.parameters(), ref_grads))
    rel_loss = abs(loss.item() - ref_loss) / abs(ref_loss)
    if rel_loss > tol or worst > tol:
        raise SystemExit(f"minivi and the NumPy baseline disagree: loss rel. error {rel_loss:.2e}, "
                         f"worst gradient rel. error {worst:.2e}")
    return rel_loss, worst


def time_case(sizes, batch, n_samples, repeats, which=("minivi", "numpy", "torch")):
    """Median ms per step of each implementation in `which` (None where not timed or not installed)."""
    x, y = make_data(sizes, batch)
    times = dict.fromkeys(("minivi", "numpy", "torch"))
    if "minivi" in which:
        model, nll = minivi_model(sizes, seed=1), minivi_nll(sizes)
        optimizer = mv.optim.Adam(model.parameters(), lr=LR)
        times["minivi"] = median_ms(lambda: minivi_step(model, optimizer, nll, x, y, n_samples), repeats)
    if "numpy" in which:
        baseline = NumpyBNN(minivi_model(sizes, seed=1))
        times["numpy"] = median_ms(lambda: baseline.step(x, y, n_samples), repeats)
    torch_step = torch_step_factory(minivi_model(sizes, seed=1), x, y, n_samples) if "torch" in which else None
    if torch_step:
        times["torch"] = median_ms(torch_step, repeats)
    return times["minivi"], times["numpy"], times["torch"]


def forward_pairs():
    """Small case, 8 samples: (8 sequential forwards, one vectorised forward) of minivi (graph
    recorded) and of the hand-written NumPy network, each as a function to time."""
    sizes, batch = CASES[0][1], CASES[0][2]
    x, _ = make_data(sizes, batch)
    model, baseline = minivi_model(sizes, seed=1), NumpyBNN(minivi_model(sizes, seed=1))
    return {"minivi": (lambda: [model(x) for _ in range(8)], lambda: model(x, n_samples=8)),
            "NumPy": (lambda: [baseline.sampled_output(x) for _ in range(8)], lambda: baseline.sampled_output(x, 8))}


def check_forward_agreement():
    """The forwards timed by `forward_pairs` compute the same numbers: minivi's and NumPy's outputs,
    sequential and vectorised, agree entry by entry to GRAD_TOL relative to the largest output (both
    draw the same eps in the same order). Returns the largest difference (0.0 here: the same bits)."""
    pairs = forward_pairs()
    outputs = [(m.data, n) for m, n in zip(pairs["minivi"][0](), pairs["NumPy"][0]())]
    outputs.append((pairs["minivi"][1]().data, pairs["NumPy"][1]()))
    worst = max(np.max(np.abs(m - n)) for m, n in outputs)
    if worst > GRAD_TOL * max(np.max(np.abs(n)) for _, n in outputs):
        raise SystemExit(f"minivi's and NumPy's forwards differ by up to {worst:.2e}; the timing would compare "
                         "different computations")
    return worst


def vectorised_speedup(repeats):
    """Small case: one forward with n_samples=8 against 8 single-sample forwards, minivi and NumPy
    (the allocator warmed first, as in the interleaved mode)."""
    np.ones(WARM_UP_FLOATS).sum()
    return {name: tuple(median_ms(f, repeats) for f in pair) for name, pair in forward_pairs().items()}


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


WARM_UP_FLOATS = 4_000_000   # a 32 MB array: see "the memory allocator" in benchmarks/README.md


def print_table(results):
    """results: per case, (case, cold timings, warm timings); timings = (minivi ms, numpy ms, torch ms or None)."""
    with_torch = any(cold[2] is not None for _, cold, _ in results)
    print("\nmedian milliseconds per training step (forward, ELBO, backward, Adam)")
    print("cold: minivi, numpy and torch each in its own new process, nothing run before it;")
    print("warm: minivi then numpy in one new process, after one 32 MB array was allocated and freed")
    print("(why both: benchmarks/README.md, the memory allocator)")
    print(f"{'':<28}{'cold':^23}  |{'warm':^23}" + (f"  |{'cold':>8}" if with_torch else ""))
    print(f"{'case':<28}{'minivi':>8}{'numpy':>8}{'ratio':>7}  |{'minivi':>8}{'numpy':>8}{'ratio':>7}"
          + (f"  |{'torch':>8}" if with_torch else ""))
    for (name, sizes, batch, n_samples), cold, warm in results:
        label = f"{name} {'-'.join(map(str, sizes))} b{batch} S={n_samples}"
        extra = f"  |{cold[2]:>8.2f}" if with_torch else ""
        print(f"{label:<28}{cold[0]:>8.2f}{cold[1]:>8.2f}{cold[0] / cold[1]:>7.2f}  |"
              f"{warm[0]:>8.2f}{warm[1]:>8.2f}{warm[0] / warm[1]:>7.2f}{extra}")


def in_new_process(*flags):
    """Run this script with hidden flags in a new Python process; return the JSON it prints last."""
    done = subprocess.run([sys.executable, __file__, *flags], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fit_ms_per_step(n_batches=10, epochs=3):
    """mv.fit itself on the large case (S=1, 10 minibatches of 128), as a student would run it."""
    sizes, batch = CASES[2][1], CASES[2][2]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n_batches * batch, sizes[0]))
    y = rng.integers(0, sizes[-1], size=n_batches * batch)
    model = minivi_model(sizes, seed=1)
    start = time.perf_counter()
    mv.fit(model, x, y, minivi_nll(sizes), epochs=epochs, batch_size=batch, rng=rng, lr=LR, verbose=False)
    return 1e3 * (time.perf_counter() - start) / (n_batches * epochs)


# ---------------------------------------------------------------- one process, rounds interleaved

GRAD_TOL = 1e-12     # the interleaved mode refuses to time two steps that disagree by more


def step_functions(sizes, batch, n_samples):
    """(minivi step, NumPy step, PyTorch step or None if PyTorch is not installed) for one case,
    each a fresh model from the same seed."""
    x, y = make_data(sizes, batch)
    model, nll = minivi_model(sizes, seed=1), minivi_nll(sizes)
    optimizer = mv.optim.Adam(model.parameters(), lr=LR)
    baseline = NumpyBNN(minivi_model(sizes, seed=1))
    return (lambda: minivi_step(model, optimizer, nll, x, y, n_samples),
            lambda: baseline.step(x, y, n_samples),
            torch_step_factory(minivi_model(sizes, seed=1), x, y, n_samples))


def block_seconds(fn, steps, clock=time.perf_counter):
    """Time of `steps` calls of fn, per call: wall time, or with clock=time.process_time the
    CPU time of this process (which leaves out the time other processes had the core)."""
    start = clock()
    for _ in range(steps):
        fn()
    return (clock() - start) / steps


def interleaved_ratios(rounds, steps, clock=time.perf_counter, chosen=CASES):
    """The `chosen` cases (all four by default) in this process: every round times a block of
    `steps` steps of each implementation of each case (minivi, NumPy, and PyTorch if installed),
    in rotated order from round to round, so that drift in the machine's load hits all alike.
    Returns, per case and round, the ms per step of each (NaN for PyTorch if not installed),
    an array of shape (cases, rounds, 3)."""
    cases = []
    for name, sizes, batch, n_samples in chosen:
        fns = step_functions(sizes, batch, n_samples)
        for fn in fns:
            if fn is not None:
                fn()                                               # warm-up
        cases.append((fns, steps[name]))
    ms = np.full((len(chosen), rounds, 3), np.nan)
    for r in range(rounds):
        for k, (fns, n) in enumerate(cases):
            for which in np.roll(np.arange(3), -r):
                if fns[which] is not None:
                    ms[k, r, which] = 1e3 * block_seconds(fns[which], n, clock)
    return ms


def print_interleaved(ms, clock_name, chosen=CASES):
    with_torch = not np.isnan(ms[..., 2]).all()
    print(f"\nONE process, rounds interleaved, {clock_name}: ms per training step (elbo_loss + backward + Adam.step "
          f"against the hand-written step{' and PyTorch' if with_torch else ''}), median over rounds;")
    print("ratio = minivi / NumPy within each round: its median, quartiles and range over the rounds"
          + ("; torch/np = PyTorch / NumPy, its median" if with_torch else ""))
    print(f"{'case':<31}{'minivi':>8}{'numpy':>8}{'ratio':>7}   {'quartiles':<13}{'range':<13}"
          + (f"{'torch':>8}{'torch/np':>9}" if with_torch else ""))
    for (name, sizes, batch, n_samples), case in zip(chosen, ms):
        ratios = case[:, 0] / case[:, 1]
        q1, q3 = np.percentile(ratios, [25, 75])
        label = f"{name} {'-'.join(map(str, sizes))} b{batch} S={n_samples}"
        torch_part = (f"{np.median(case[:, 2]):>8.2f}{np.median(case[:, 2] / case[:, 1]):>9.2f}"
                      if with_torch else "")
        print(f"{label:<31}{np.median(case[:, 0]):>8.2f}{np.median(case[:, 1]):>8.2f}{np.median(ratios):>7.2f}"
              f"   {q1:.2f}-{q3:.2f}    {ratios.min():.2f}-{ratios.max():.2f} {torch_part}")


def peak_memory(case_index=2, repeats=3):
    """Peak memory a training step allocates (tracemalloc, which NumPy reports its arrays to),
    above what was allocated before the step (parameters, Adam's m and v, the data), for minivi
    and the hand-written step; the median over `repeats` steps after one warm-up step, in MB."""
    import gc
    import tracemalloc
    _, sizes, batch, n_samples = CASES[case_index]
    peaks = []
    for fn in step_functions(sizes, batch, n_samples)[:2]:
        fn()
        tracemalloc.start()
        step_peaks = []
        for _ in range(repeats):
            gc.collect()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            fn()
            step_peaks.append(tracemalloc.get_traced_memory()[1] - before)
        tracemalloc.stop()
        peaks.append(float(np.median(step_peaks)) / 1e6)
    return peaks


def vectorised_rounds(rounds, steps=50, clock=time.perf_counter):
    """Small case: one forward with n_samples=8 against 8 single-sample forwards, minivi's
    and hand-written NumPy's, interleaved like the training steps. Returns {name: per-round
    ms, shape (rounds, 2): sequential, vectorised}."""
    pairs = forward_pairs()
    timed = [(name, k, fn) for name, pair in pairs.items() for k, fn in enumerate(pair)]
    for _, _, fn in timed:
        fn()
    ms = {name: np.zeros((rounds, 2)) for name in pairs}
    for r in range(rounds):
        for name, k, fn in (timed if r % 2 == 0 else timed[::-1]):
            ms[name][r, k] = 1e3 * block_seconds(fn, steps, clock)
    return ms


def run_interleaved(quick, cpu_time=False, case_indices=(0, 1, 2, 3)):
    """The `--interleaved` mode: checks, the interleaved table, peak memory, the vectorised forward.
    With fewer `case_indices` (the --cases flag), only those cases, and peak memory of the large
    ones and the vectorised forward only when their cases are chosen."""
    chosen = [CASES[k] for k in case_indices]
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for name, sizes, batch, n_samples in chosen:
        rel_loss, worst = check_agreement(sizes, batch, n_samples, tol=GRAD_TOL)
        print(f"check {name} S={n_samples}: loss rel. error {rel_loss:.1e}, worst gradient rel. error "
              f"{worst:.1e} (must be <= {GRAD_TOL:.0e})")
    np.ones(WARM_UP_FLOATS).sum()          # the allocator warm, as in the "warm" columns
    rounds = 5 if quick else 15
    clock, clock_name = (time.process_time, "CPU time") if cpu_time else (time.perf_counter, "wall clock")
    start = time.perf_counter()
    ms = interleaved_ratios(rounds, {"small": 40 if quick else 100, "large": 2 if quick else 5}, clock, chosen)
    print_interleaved(ms, clock_name, chosen)
    print(f"({rounds} rounds, {time.perf_counter() - start:.0f} s; CPU time of this process so far "
          f"{time.process_time():.0f} s; load average now {os.getloadavg()[0]:.2f})")
    if 2 in case_indices:
        minivi_mb, numpy_mb = peak_memory()
        print(f"\npeak memory of one large S=1 step above what was allocated before it (tracemalloc): "
              f"minivi {minivi_mb:.1f} MB, NumPy {numpy_mb:.1f} MB, ratio {minivi_mb / numpy_mb:.2f}")
    if 3 in case_indices:
        minivi_mb, numpy_mb = peak_memory(case_index=3, repeats=1)
        print(f"peak memory of one large S=8 step, the same way: "
              f"minivi {minivi_mb:.1f} MB, NumPy {numpy_mb:.1f} MB, ratio {minivi_mb / numpy_mb:.2f}")
    if 0 not in case_indices:
        return
    print(f"\nsmall case forward, 8 samples, interleaved: 8 sequential forwards against one vectorised "
          f"(minivi's and NumPy's outputs checked equal: largest difference {check_forward_agreement():.1e})")
    forwards = vectorised_rounds(rounds, clock=clock)
    for name, fwd in forwards.items():
        speedups = fwd[:, 0] / fwd[:, 1]
        print(f"  {name:6}  8 sequential {np.median(fwd[:, 0]):.3f} ms, vectorised {np.median(fwd[:, 1]):.3f} ms, "
              f"speed-up median {np.median(speedups):.2f}x (range {speedups.min():.2f}-{speedups.max():.2f})")
    draws_ms = eps_draws_ms(rounds, clock)
    print(f"  of the vectorised forward, the eps draws alone take {draws_ms:.3f} ms (both sides draw the same "
          f"normals); a vectorised minivi forward as fast as the hand-written NumPy one would give "
          f"{np.median(forwards['minivi'][:, 0]) / np.median(forwards['NumPy'][:, 1]):.2f}x")


def eps_draws_ms(rounds, clock=time.perf_counter, steps=50):
    """Median ms of drawing every eps of the small net's 8-sample forward (`rng.standard_normal`,
    weights and biases of each layer, in the forward's order), the part no forward can skip."""
    sizes, rng = CASES[0][1], np.random.default_rng(0)
    shapes = [shape for n_in, n_out in zip(sizes[:-1], sizes[1:]) for shape in ((8, n_in, n_out), (8, 1, n_out))]
    return float(np.median([1e3 * block_seconds(lambda: [rng.standard_normal(s) for s in shapes], steps, clock)
                            for _ in range(rounds)]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a rough check)")
    parser.add_argument("--interleaved", action="store_true",
                        help="all cases in ONE process with rounds interleaved; peak memory; the vectorised forward")
    parser.add_argument("--cpu-time", action="store_true",
                        help="with --interleaved: time with this process's CPU time instead of the wall clock "
                             "(on a machine other processes share)")
    parser.add_argument("--cases", type=lambda text: sorted({int(k) for k in text.split(",")}),
                        default=list(range(len(CASES))),
                        help="with --interleaved: only these cases, numbered from 0 in the order of the table "
                             "(e.g. --cases 2,3 for the large net)")
    parser.add_argument("--one-case", type=int, help=argparse.SUPPRESS)   # the hidden flags of in_new_process
    parser.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    parser.add_argument("--one-fit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm:
        np.ones(WARM_UP_FLOATS).sum()      # allocated, then freed at once
    if args.interleaved:
        run_interleaved(args.quick, args.cpu_time, args.cases)
        return
    if args.one_fit:
        print(json.dumps(fit_ms_per_step()))
        return
    if args.one_case is not None:
        _, sizes, batch, n_samples = CASES[args.one_case]
        which = (args.only,) if args.only else ("minivi", "numpy")
        print(json.dumps(time_case(sizes, batch, n_samples, args.repeats, which)))
        return
    repeats = {"small": 30 if args.quick else 300, "large": 5 if args.quick else 30}
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    for name, sizes, batch, n_samples in CASES:
        rel_loss, worst = check_agreement(sizes, batch, n_samples)
        print(f"check {name} S={n_samples}: loss rel. error {rel_loss:.1e}, worst gradient rel. error {worst:.1e}")
    results = []
    for k, case in enumerate(CASES):
        flags = ["--one-case", str(k), "--repeats", str(repeats[case[0]])]
        cold = [in_new_process(*flags, "--only", name)[i] for i, name in enumerate(("minivi", "numpy", "torch"))]
        results.append((case, cold, in_new_process(*flags, "--warm")))
    print_table(results)
    print("\nsmall case forward, 8 samples: 8 sequential forwards against one vectorised")
    for name, (ms_loop, ms_vector) in vectorised_speedup(repeats["small"]).items():
        print(f"  {name:6}  8 sequential {ms_loop:.3f} ms, vectorised {ms_vector:.3f} ms, "
              f"speed-up {ms_loop / ms_vector:.2f}x")
    print(f"mv.fit on the large case, S=1, 10 minibatches of 128, new process: "
          f"{in_new_process('--one-fit'):.2f} ms per step (with fit's minibatching and NaN checks)")


if __name__ == "__main__":
    main()
