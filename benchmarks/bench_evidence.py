"""How fast is annealed importance sampling on minivi's engine? Cost per gradient per chain, and one evidence estimate.

Three one-hidden-layer tanh networks, 1-10-1, 1-20-1 and 1-50-1, each on 40 points of a
noisy sine curve (noise_sigma = 0.1, prior N(0, 1) on every weight; the 1-10-1 one is the
model of the issue that measured NumPyro's NUTS at about 13 µs per gradient).

    python benchmarks/bench_evidence.py            # K = 1000 steps for the evidence estimates
    python benchmarks/bench_evidence.py --quick    # K = 100

It prints, per network:
  - the CPU time of one log-density-and-gradient of the tempered density log p(w) + β log p(𝒟|w)
    (what every leapfrog step of `mv.evidence.ais` evaluates), per chain: all C chains in one
    engine pass (the vectorised path, the default) against the same density called one chain
    at a time (the baseline, measured in the same process), and their ratio;
  - the wall-clock and CPU seconds of one forward AIS estimate with the default settings
    (`geometric_schedule(K)`, 5 leapfrog steps per transition, 16 counted + 5 tuning chains).
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
from minivi import evidence as ev

N_DATA, NOISE_SIGMA, N_CHAINS = 40, 0.1, 21           # 21 rows: 5 tune the step size, 16 count


def problem(hidden: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, size=(N_DATA, 1))
    y = np.sin(2.0 * x) + NOISE_SIGMA * rng.normal(size=(N_DATA, 1))
    net = mv.Sequential(mv.Linear(1, hidden, rng=rng), mv.Tanh(), mv.Linear(hidden, 1, rng=rng))
    return net, ev.network_log_densities(net, x, y, noise_sigma=NOISE_SIGMA)


def seconds_per_call(fn, repeats: int) -> float:
    """CPU seconds per call: the best of 5 means over `repeats` calls (CPU time, not wall-clock time, so that
    other jobs on a shared machine inflate it less)."""
    best = np.inf
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeats):
            fn()
        best = min(best, (time.process_time() - start) / repeats)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="K = 100 for the evidence estimates")
    parser.add_argument("--repeats", type=int, default=50, help="calls per timing of one gradient")
    args = parser.parse_args()
    n_steps = 100 if args.quick else 1000
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}\n")
    for hidden in (10, 20, 50):
        net, (log_prior, log_likelihood) = problem(hidden)
        d = mv.flat.n_weights(net)
        w = np.random.default_rng(1).standard_normal((N_CHAINS, d))
        vectorised = seconds_per_call(lambda: ev._densities(log_prior, log_likelihood, w, 0.5, True), args.repeats)
        one_by_one = seconds_per_call(lambda: ev._densities(log_prior, log_likelihood, w, 0.5, False),
                                      max(1, args.repeats // 5))
        print(f"1-{hidden}-1 tanh, N = {N_DATA}, D = {d}, {N_CHAINS} chains")
        print(f"  one log-density-and-gradient per chain: vectorised {1e6 * vectorised / N_CHAINS:.1f} µs, one "
              f"chain at a time {1e6 * one_by_one / N_CHAINS:.1f} µs, ratio {one_by_one / vectorised:.1f}x")
        rng = np.random.default_rng(2)
        cpu = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ev.UnreliableEstimateWarning)
            result = ev.ais(log_prior, log_likelihood, rng.standard_normal((N_CHAINS, d)),
                            ev.geometric_schedule(n_steps), rng=rng)
        cpu = time.process_time() - cpu
        print(f"  one evidence estimate (forward AIS, K = {n_steps}): {result.seconds:.1f} s wall, {cpu:.1f} s CPU "
              f"({1e6 * cpu / (result.n_gradients * N_CHAINS):.1f} µs CPU per gradient per chain, transitions "
              f"included); {result.n_gradients} gradients per chain; log p(data) >= {result.log_evidence:.2f} ± "
              f"{result.stderr:.2f} (ESS {result.ess:.1f})\n")


if __name__ == "__main__":
    main()
