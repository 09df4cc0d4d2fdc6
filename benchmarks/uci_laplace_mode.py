"""Is the UCI benchmark's Laplace built at a mode? The Newton decrement at Adam's end point.

`uci.py`'s `laplace` method trains a MAP network with 6000 Adam steps and builds the linearised Laplace
approximation where Adam stopped (post-hoc Laplace, as the practitioners' libraries do). The Laplace
evidence, which re-chooses the prior precision, is the formula for a MODE ŵ of the log joint. This script
measures how far Adam's end point is from one, on split 0 of each bundled data set, with the benchmark's
recipe at its default prior sigma 1 (nothing is chosen and no test row is read):

  - the Newton decrement ½ gᵀ G⁻¹ g at Adam's end (g the gradient of the negative log joint, G the GGN):
    how many nats a quadratic model says the log joint could still rise (`mv.laplace.laplace` warns above
    0.1 with a NotAModeWarning and quotes it);
  - the Laplace log evidence there;
  - whether `mv.laplace.find_mode` (Levenberg-Marquardt with the GGN), started there, reaches a mode
    (decrement below 1e-6) within 500 steps, and the decrement it reports if not.

    OPENBLAS_NUM_THREADS=1 python benchmarks/uci_laplace_mode.py      # about 2 CPU minutes
"""
from __future__ import annotations

import re
import time
import warnings

import minivi as mv
import uci

SPLIT = 0
PRIOR_SIGMA = 1.0     # SETTINGS["laplace"]'s default
MODE_STEPS = 500


def adam_map(x, y, name):
    """The benchmark's MAP network (uci.fit_laplace's training, with the rng of split 0's final fit)."""
    config = uci.method_config("laplace", prior_sigma=PRIOR_SIGMA)
    rng = uci.task_rng(0, name, SPLIT, "laplace", len(uci.GRID["laplace"][1]))
    model, noise, n = uci.mlp(x.shape[1], rng), mv.LearnedNoise(config["init_noise"]), len(x)
    decay = 1.0 / (2 * PRIOR_SIGMA ** 2)

    def loss(idx):
        penalty = sum((p * p).sum() for p in model.parameters())
        return noise(model(x[idx]), y[idx]) + penalty * (decay * len(idx) / n)

    uci.adam_loop(model.parameters() + noise.parameters(), loss, n, config, rng)
    return model, noise.noise_sigma


def decrement_at(model, x, y, noise_sigma):
    """(Laplace log evidence, Newton decrement) at the model's weights, the decrement read from the warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mv.laplace.NotAModeWarning)
        approx = mv.laplace.laplace(model, x, y, noise_sigma=noise_sigma, prior_sigma=PRIOR_SIGMA)
    rises = [re.search(r"rise by about ([0-9.e+-]+) nats", str(w.message)) for w in caught]
    return approx.log_evidence, max((float(r.group(1)) for r in rises if r), default=0.0)


def main():
    print(f"split {SPLIT}, prior sigma {PRIOR_SIGMA}; decrement = ½ gᵀG⁻¹g in nats (0.0: below 0.1, a mode)")
    for name in mv.data.UCI_NAMES:
        start = time.process_time()
        x, y = mv.data.load_uci(name)
        train_idx, _ = mv.data.uci_splits(len(x))[SPLIT]
        x_mean, x_std = uci.standardiser(x[train_idx])
        y_mean, y_std = uci.standardiser(y[train_idx])
        x_train, y_train = (x[train_idx] - x_mean) / x_std, (y[train_idx] - y_mean) / y_std
        model, noise_sigma = adam_map(x_train, y_train, name)
        log_evidence, decrement = decrement_at(model, x_train, y_train, noise_sigma)
        try:
            mv.laplace.find_mode(model, x_train, y_train, noise_sigma=noise_sigma, prior_sigma=PRIOR_SIGMA,
                                 n_steps=MODE_STEPS)
            after = "a mode"
        except RuntimeError as error:
            after = "no mode, " + re.search(r"rise by about [0-9.e+-]+ nats", str(error)).group(0)
        print(f"{name:17s} N = {len(x_train):4d}: Laplace log evidence at Adam's end {log_evidence:9.2f}, "
              f"decrement {decrement:6.1f}; find_mode from there, {MODE_STEPS} steps: {after} "
              f"({time.process_time() - start:.0f} s CPU)", flush=True)


if __name__ == "__main__":
    main()
