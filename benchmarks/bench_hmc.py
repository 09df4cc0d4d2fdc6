"""How fast is HMC on minivi's engine? Effective samples per second on a 1-50-1 network.

The target is the posterior of a one-hidden-layer network with 50 units (tanh
or ReLU; D = 151 weights) on 100 points of a noisy sine curve, Gaussian
likelihood (noise_sigma = 0.1), prior N(0, 1/fan_in) on the weights and
N(0, 1) on the biases: `mv.flat.log_joint(..., fan_in_prior=True)`.

    python benchmarks/bench_hmc.py            # 4 chains, 1000 warm-up + 1000 draws each
    python benchmarks/bench_hmc.py --quick    # 4 chains, 200 + 200: a rough check

It prints, per network:
  - the cost of one log-density gradient for all chains at once, in minivi and
    in a hand-written NumPy version of the same forward and backward (no graph:
    the limit the engine can approach), their ratio, and the ratio of one
    vectorised call over the chains one at a time;
  - the run: seconds for warm-up + sampling, step size, leapfrog steps,
    acceptance, divergences;
  - bulk ESS and split R-hat of the weights and of the network's output f(x)
    at 5 inputs. A network's weights have exact symmetries (swap two hidden
    units, flip the signs of a tanh unit's weights), so single weights can mix
    slowly while the function they compute, which is what a prediction uses,
    mixes well; both are shown;
  - effective samples per second: the smallest bulk ESS of f(x) over the 5
    inputs, divided by the total seconds (warm-up included).
Nothing here is asserted in a test: the script reports.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np

import minivi as mv
from minivi import flat, mcmc

N_DATA, HIDDEN, NOISE_SIGMA = 100, 50, 0.1
X_PROBE = np.array([[-2.0], [-1.0], [0.0], [1.0], [2.0]])


def problem(activation, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, size=(N_DATA, 1))
    y = np.sin(2.0 * x[:, 0]) + NOISE_SIGMA * rng.normal(size=N_DATA)
    model = mv.Sequential(mv.Linear(1, HIDDEN, rng=rng), activation(), mv.Linear(HIDDEN, 1, rng=rng))
    log_prob = flat.log_joint(model, x, y, noise_sigma=NOISE_SIGMA, fan_in_prior=True)
    return model, x, y, log_prob


def numpy_value_and_grad(w, x, y, activation_name):
    """The same log joint and its gradient written out by hand, for C weight vectors w (C, 151)."""
    h = HIDDEN
    W1, b1 = w[:, :h].reshape(-1, 1, h), w[:, h:2 * h][:, None, :]
    W2, b2 = w[:, 2 * h:3 * h].reshape(-1, h, 1), w[:, 3 * h:][:, None, :]
    a = x @ W1 + b1                                        # (C, N, h)
    z = np.tanh(a) if activation_name == "tanh" else np.maximum(a, 0.0)
    f = z @ W2 + b2                                        # (C, N, 1)
    r = f - y[None, :, None]
    scales = np.concatenate([np.ones(h), np.ones(h), np.full(h, 1.0 / np.sqrt(h)), np.ones(1)])
    value = (-0.5 * np.sum(r * r, axis=(1, 2)) / NOISE_SIGMA ** 2
             - N_DATA * (np.log(NOISE_SIGMA) + 0.5 * np.log(2 * np.pi))
             + np.sum(-w ** 2 / (2 * scales ** 2) - np.log(scales) - 0.5 * np.log(2 * np.pi), axis=1))
    g_f = -r / NOISE_SIGMA ** 2                            # d log p / d f
    g_W2, g_b2 = np.swapaxes(z, 1, 2) @ g_f, g_f.sum(axis=1)
    g_z = g_f @ np.swapaxes(W2, 1, 2)
    g_a = g_z * ((1.0 - z ** 2) if activation_name == "tanh" else (a > 0))
    g_W1, g_b1 = np.swapaxes(x[None], 1, 2) @ g_a, g_a.sum(axis=1)
    grad = np.concatenate([g_W1.reshape(-1, h), g_b1, g_W2.reshape(-1, h), g_b2], axis=1) - w / scales ** 2
    return value, grad


def median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def gradient_cost(log_prob, d, x, y, activation_name, n_chains, repeats):
    """Check minivi's gradient against the hand-written one, then time both and the one-chain-at-a-time loop."""
    w = np.random.default_rng(1).normal(0.0, 0.3, size=(n_chains, d))
    engine = mcmc.log_prob_and_grad(log_prob, w, vectorized=True)
    by_hand = numpy_value_and_grad(w, x, y, activation_name)
    error = max(np.max(np.abs(engine[0] - by_hand[0]) / np.abs(by_hand[0])),
                np.max(np.abs(engine[1] - by_hand[1])) / np.max(np.abs(by_hand[1])))
    t_engine = median_ms(lambda: mcmc.log_prob_and_grad(log_prob, w, vectorized=True), repeats)
    t_numpy = median_ms(lambda: numpy_value_and_grad(w, x, y, activation_name), repeats)
    t_loop = median_ms(lambda: mcmc.log_prob_and_grad(log_prob, w, vectorized=False), repeats)
    return error, t_engine, t_numpy, t_loop


def run(activation, activation_name, args):
    model, x, y, log_prob = problem(activation)
    error, t_engine, t_numpy, t_loop = gradient_cost(log_prob, flat.n_weights(model), x, y, activation_name,
                                                     args.chains, args.repeats)
    print(f"\n1-{HIDDEN}-1 {activation_name}, N = {N_DATA}, D = {flat.n_weights(model)}, {args.chains} chains")
    print(f"  one gradient for all chains: minivi {t_engine:.3f} ms, hand-written NumPy {t_numpy:.3f} ms, "
          f"ratio {t_engine / t_numpy:.2f} (agree to {error:.1e}); one chain at a time {t_loop:.3f} ms, "
          f"vectorised speed-up {t_loop / t_engine:.2f}x")
    init = np.random.default_rng(2).normal(0.0, 0.1, size=(args.chains, flat.n_weights(model)))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mcmc.ConvergenceWarning)   # reported below instead
        result = mcmc.hmc(log_prob, init, n_samples=args.samples, n_warmup=args.warmup,
                          rng=np.random.default_rng(3))
    seconds = time.perf_counter() - start
    outputs = np.stack([[flat.functional_forward(model, w, X_PROBE).data[:, 0] for w in chain]
                        for chain in result.samples])             # (C, S, 5)
    ess_f, rhat_f = mcmc.effective_sample_size(outputs), mcmc.split_rhat(outputs)
    print(f"  run: {seconds:.1f} s for {args.warmup} warm-up + {args.samples} draws per chain; "
          f"step size {result.step_size:.3g}, {result.n_leapfrog} leapfrog steps, acceptance "
          f"{result.acceptance_rate:.2f}, divergent {result.n_divergent} (warm-up {result.n_divergent_warmup})")
    print(f"  weights: bulk ESS min {np.min(result.ess):.0f}, median {np.median(result.ess):.0f}; "
          f"split R-hat max {np.max(result.rhat):.3f}, median {np.median(result.rhat):.3f}")
    print(f"  f(x) at x = {X_PROBE[:, 0]}: bulk ESS {np.round(ess_f).astype(int)}, split R-hat max "
          f"{np.max(rhat_f):.3f}")
    print(f"  effective samples per second (min ESS of f(x) / total time): {np.min(ess_f) / seconds:.1f}; "
          f"of the slowest weight: {np.min(result.ess) / seconds:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 warm-up + 200 draws")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    default = 200 if args.quick else 1000
    args.warmup = default if args.warmup is None else args.warmup
    args.samples = default if args.samples is None else args.samples
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, NumPy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    for activation, name in ((mv.Tanh, "tanh"), (mv.ReLU, "relu")):
        run(activation, name, args)


if __name__ == "__main__":
    main()
