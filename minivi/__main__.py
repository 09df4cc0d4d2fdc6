"""`python -m minivi`: the demo. Bayes by Backprop on Blundell's toy curve, end to end.

Trains a 1-50-50-1 Bayesian network (standard normal prior, Gaussian q over
every weight, L2 loss, reparameterisation: steps 4-8 of the derivation) on
points with x in [0, 0.5], prints a summary, and draws the predictive band,
which should widen away from the data.

Training: 400 epochs of full-batch Adam (lr 3e-2, 4 samples of w per step), about
a second on a small machine. This q is not fully converged (the ELBO is still
rising), but the fit is good and the band already widens off the data; more
epochs (`--epochs 2000`) tighten the KL and raise the ELBO further.
"""
from __future__ import annotations

import argparse
import functools
import sys

import numpy as np

import minivi as mv
from minivi import plots

NOISE_SIGMA = 0.05   # about the scatter of the toy data around its curve
HIDDEN = 50
EPOCHS, LEARNING_RATE, N_SAMPLES = 400, 3e-2, 4   # full batch: one Adam step per epoch
ON_DATA, OFF_DATA = (0.0, 0.5), ((-0.5, -0.2), (0.8, 1.2))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m minivi", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"training epochs (default {EPOCHS})")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--out", default="figures/demo.png", help="where to write the figure")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    return args


def build_model(rng):
    return mv.Sequential(mv.BayesLinear(1, HIDDEN, rng=rng), mv.ReLU(),
                         mv.BayesLinear(HIDDEN, HIDDEN, rng=rng), mv.ReLU(),
                         mv.BayesLinear(HIDDEN, 1, rng=rng))


def summarise(model, x, y, x_test, y_test):
    """The numbers the demo prints, all measured here at the trained q."""
    nll = functools.partial(mv.gaussian_nll, noise_sigma=NOISE_SIGMA)
    with mv.no_grad():  # ELBO = -(KL + E_q[-log p(𝒟|w)]), the expectation from 100 samples of w
        loss, info = mv.elbo_loss(model, x, y, nll, len(x), n_samples=100, kl_weight=1.0)
    test_mean = mv.predict(model, x_test, n_samples=200).mean(axis=0)
    x_on = np.linspace(*ON_DATA, 50)[:, None]
    x_off = np.concatenate([np.linspace(a, b, 25) for a, b in OFF_DATA])[:, None]
    std_on = mv.predict(model, x_on, n_samples=200).std(axis=0).mean()
    std_off = mv.predict(model, x_off, n_samples=200).std(axis=0).mean()
    return {"ELBO (100 samples, whole training set)": -info["loss"], "KL[q || p]": info["kl"],
            "expected NLL, E_q[-log p(data|w)]": info["nll"],
            "test RMSE": float(np.sqrt(np.mean((test_mean - y_test) ** 2))),
            "epistemic std on the data, x in [0, 0.5]": float(std_on),
            "epistemic std off the data, x in [-0.5, -0.2] and [0.8, 1.2]": float(std_off),
            "off / on": float(std_off / std_on)}


def draw(model, history, x, y, out):
    x_grid, truth = mv.data.toy_curve_grid()
    unc = mv.regression_uncertainty(mv.predict(model, x_grid, n_samples=200), NOISE_SIGMA)
    fig, (left, right) = plots.figure(1, 2, size=(12, 4.5))
    left.axvspan(*ON_DATA, color="0.92", zorder=0, label="where the data are")
    plots.regression_band(left, x, y, x_grid, unc, truth=truth,
                          title="Bayes by Backprop: the predictive widens away from the data")
    left.set_ylim(-1.5, 2.0)
    plots.training_curves(right, history)
    right.set_yscale("symlog", linthresh=100)  # linear within ±100 nats, logarithmic beyond
    return plots.save(fig, out)


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    x, y = mv.data.toy_curve(200, rng)
    x_test, y_test = mv.data.toy_curve(200, rng)
    model = build_model(rng)
    print(f"minivi demo: a {HIDDEN}-{HIDDEN} ReLU Bayesian network on {len(x)} points of Blundell's toy curve "
          f"(noise_sigma={NOISE_SIGMA}, seed {args.seed})")
    nll = functools.partial(mv.gaussian_nll, noise_sigma=NOISE_SIGMA)
    history = mv.fit(model, x, y, nll, epochs=args.epochs, batch_size=len(x), rng=rng, lr=LEARNING_RATE,
                     n_samples=N_SAMPLES)
    if history.stopped:
        return 1
    for name, value in summarise(model, x, y, x_test, y_test).items():
        print(f"  {name:<62} {value:10.4f}")
    print(f"figure written to {draw(model, history, x, y, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
