"""Gradient variance of three training estimators against the batch size, on the 8x8 digits.

Weight sampling (`BayesLinear`, `BayesConv2d`: one W per minibatch), local
reparameterisation (`LocalBayesLinear`, `LocalBayesConv2d`: pre-activations
drawn per example) and Flipout (`FlipoutLinear`, `FlipoutConv2d`: one
Delta_W per minibatch, random signs per example) are unbiased estimators of
the same gradient; they differ in its noise. For a Bayesian MLP (64-64-10) and
a small Bayesian CNN (conv 1->8 3x3, ReLU, 2x2 max pool, Flatten, linear 128->10),
trained for a few epochs with weight sampling, the SAME mu and rho are copied
into the three variants, and at those parameters the gradient of

    L = (1/B) Σ_{n in batch} -log p(y_n | x_n, w)      (the data term per example; the KL adds no noise)

is drawn R times. Two kinds of noise are measured:

  - "eps only": one fixed minibatch, fresh eps (and signs) each time: the noise
    the estimator itself adds, which is what Flipout and local reparameterisation change;
  - "eps + batch": a fresh minibatch (drawn with replacement) each time too,
    the noise an optimiser sees (tutorial 07's measure); the minibatch's own
    share of it is the same for the three estimators and falls like 1/B.

Reported: the variance of dL/dmu and dL/drho of the FIRST layer's weights
(the convolution in the CNN), summed over its entries, per batch size, and
the time of one forward and backward at each batch size.

    OPENBLAS_NUM_THREADS=1 python benchmarks/gradient_variance.py            # R = 200, about 1-2 minutes
    OPENBLAS_NUM_THREADS=1 python benchmarks/gradient_variance.py --quick    # R = 30
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import minivi as mv

ESTIMATORS = {  # name: (linear layer class, convolutional layer class)
    "weight sampling": (mv.BayesLinear, mv.BayesConv2d),
    "local reparam.": (mv.LocalBayesLinear, mv.LocalBayesConv2d),
    "Flipout": (mv.FlipoutLinear, mv.FlipoutConv2d),
}
BATCH_SIZES = (8, 32, 64, 256)


def mlp(estimator: str, rng) -> mv.Sequential:
    linear, _ = ESTIMATORS[estimator]
    return mv.Sequential(linear(64, 64, rng=rng), mv.ReLU(), linear(64, 10, rng=rng))


def cnn(estimator: str, rng) -> mv.Sequential:
    linear, conv = ESTIMATORS[estimator]
    return mv.Sequential(conv(1, 8, 3, padding=1, rng=rng), mv.ReLU(), mv.MaxPool2d(2), mv.Flatten(),
                         linear(8 * 4 * 4, 10, rng=rng))


def digits(shape_of_x: str, seed: int = 0):
    """The bundled digits, 75/25 split; x as rows (N, 64) for the MLP or images (N, 1, 8, 8) for the CNN."""
    images, labels = mv.data.load_digits()
    x_train, y_train, x_test, y_test = mv.data.train_test_split(images, labels, 0.25, np.random.default_rng(seed))
    if shape_of_x == "images":
        x_train, x_test = x_train.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8)
    return x_train, y_train, x_test, y_test


def gradient_draws(model, x, y, batch_size, repeats, rng, resample_batch: bool):
    """(repeats, entries) draws of dL/dmu and of dL/drho of the first layer's weights, L = NLL / B."""
    layer = model[0]
    fixed = rng.integers(0, len(x), batch_size)
    mus, rhos = [], []
    for _ in range(repeats):
        batch = rng.integers(0, len(x), batch_size) if resample_batch else fixed
        model.zero_grad()
        (mv.categorical_nll(model(x[batch]), y[batch]) * (1.0 / batch_size)).backward()
        mus.append(layer.weight_mu.grad.ravel())
        rhos.append(layer.weight_rho.grad.ravel())
    return np.array(mus), np.array(rhos)


def summed_variance(draws: np.ndarray) -> float:
    return float(np.var(draws, axis=0, ddof=1).sum())


def measure(architecture, x, y, repeats, epochs, seed=0):
    """{(estimator, kind): array (batch sizes, [var mu, var rho])} and {(estimator, B): ms per forward+backward}."""
    trained = architecture("weight sampling", np.random.default_rng(seed))
    mv.fit(trained, x, y, mv.categorical_nll, epochs=epochs, batch_size=100, rng=np.random.default_rng(seed + 1),
           lr=1e-2, verbose=False)
    variance, ms = {}, {}
    for estimator in ESTIMATORS:
        model = architecture(estimator, np.random.default_rng(seed + 2))
        model.load_state_dict(trained.state_dict())                          # the same mu and rho
        for kind, resample in (("eps only", False), ("eps + batch", True)):
            rows = []
            for batch_size in BATCH_SIZES:
                rng = np.random.default_rng(seed + 3)                        # the same minibatches for all three
                start = time.process_time()
                mu_draws, rho_draws = gradient_draws(model, x, y, batch_size, repeats, rng, resample)
                ms[estimator, batch_size] = 1e3 * (time.process_time() - start) / repeats
                rows.append((summed_variance(mu_draws), summed_variance(rho_draws)))
            variance[estimator, kind] = np.array(rows)
    return variance, ms


def report(name, variance, ms, repeats):
    print(f"\n{name}: summed variance of the first layer's dL/dmu and dL/drho, {repeats} draws per batch size")
    for kind in ("eps only", "eps + batch"):
        print(f"  {kind}:")
        print(f"  {'B':>5} | " + " | ".join(f"{e:>27}" for e in ESTIMATORS) + " | Flipout / w.s. (mu, rho)")
        for k, batch_size in enumerate(BATCH_SIZES):
            cells = " | ".join(f"{variance[e, kind][k, 0]:13.4g} {variance[e, kind][k, 1]:13.4g}" for e in ESTIMATORS)
            ratio = variance["Flipout", kind][k] / variance["weight sampling", kind][k]
            print(f"  {batch_size:>5} | {cells} | {ratio[0]:.3f}, {ratio[1]:.3f}")
        for e in ESTIMATORS:
            fall = variance[e, kind][0] / variance[e, kind][-1]
            print(f"    {e}: from B = {BATCH_SIZES[0]} to {BATCH_SIZES[-1]} (x{BATCH_SIZES[-1] // BATCH_SIZES[0]}) "
                  f"the variance fell by x{fall[0]:.1f} (mu), x{fall[1]:.1f} (rho)")
    print("  CPU ms per forward + backward: " + "; ".join(
        f"{e}: " + ", ".join(f"B={b} {ms[e, b]:.2f}" for b in BATCH_SIZES) for e in ESTIMATORS))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 draws per batch size instead of 200")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of weight sampling before measuring")
    args = parser.parse_args()
    repeats = 30 if args.quick else 200
    for name, architecture, shape in (("MLP 64-64-10", mlp, "rows"), ("CNN conv 1->8 3x3, pool, linear 128->10", cnn,
                                                                     "images")):
        x, y, _, _ = digits(shape)
        variance, ms = measure(architecture, x, y, repeats, args.epochs)
        report(name, variance, ms, repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
