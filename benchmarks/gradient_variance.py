"""Gradient variance of the training estimators against the batch size, on the 8x8 digits, with the floor.

Weight sampling (`BayesLinear`, `BayesConv2d`: one W per minibatch), local
reparameterisation (`LocalBayesLinear`, `LocalBayesConv2d`: pre-activations
drawn per example) and Flipout (`FlipoutLinear`, `FlipoutConv2d`: one
Delta_W per minibatch, random signs per example) are unbiased estimators of
the same gradient; they differ in its noise. Two references are measured with them:

  - "independent W_n": every example n of the minibatch through its own
    weights W_n = mu + sigma * eps_n, eps_n drawn independently for every n
    (B weight samples per step, as B forward passes of one example would).
    Weight sampling and Flipout give each example exactly this marginal
    (W_n ~ q), so for a fixed minibatch

        Var[(1/B) Σ_n g_n] = (1/B²) Σ_n Var[g_n] + (1/B²) Σ_{n != m} Cov[g_n, g_m]

    has the same first term for the three; independent W_n makes the second
    term 0. It is the floor of every estimator with that per-example marginal.
    (Local reparameterisation draws the pre-activations, not W_n, and its rho
    gradient is another estimator: its per-example variance differs, so it can
    sit below the floor.)
  - "signs per entry": W_n = mu + Delta_W * E_n, ONE Delta_W = sigma * eps per
    minibatch as Flipout, but E_n a matrix of independent random signs, one per
    weight entry, instead of Flipout's E_n = s_n r_nᵀ (per input and output
    unit; for a convolution per input and output CHANNEL, shared by the kH·kW
    entries of one kernel slice). Also W_n ~ q; it costs one weight tensor per
    example, so it is a diagnostic, not a proposal.

Given Delta_W, Flipout's examples are independent (their signs are), so its
covariance term is Cov over Delta_W of E[g_n | Delta_W] (the average over the
signs): the part of g_n that no sign flip changes survives, e.g. the products
Delta_W_k Delta_W_l of two entries that always get the same sign. In a
convolution with ONE input channel that is every pair within a kernel (and its
bias): image n gets +Delta_W_o or -Delta_W_o for each output channel o. The
ratio (Var - Var_indep) / (Var_ws - Var_indep) printed at B = 64 is the share
of weight sampling's covariance term an estimator keeps.

For a Bayesian MLP (64-64-10) and a small Bayesian CNN (conv 1->8 3x3, ReLU,
2x2 max pool, Flatten, linear 128->10), the SAME mu and rho are copied into
every variant at three points of training, fixed in advance:

  1. initialisation (mu ~ N(0, 1/fan_in), sigma = 0.05, the layers' defaults);
  2. 20 epochs of weight sampling (ELBO, Adam lr 1e-2, batches of 100);
  3. trained on the ELBO: the MLP as tutorial 06 (weight sampling, 200 epochs,
     batches of 100, 2 weight samples per step, prior N(0, 1)); the CNN with
     tutorial 10's chosen ELBO settings (Flipout, 40 epochs, batches of 16,
     prior N(0, 3²), "blundell" KL), on this benchmark's smaller CNN;

and at those parameters the gradient of

    L = (1/B) Σ_{n in batch} -log p(y_n | x_n, w)      (the data term per example; the KL adds no noise)

is drawn R times. Two kinds of noise are measured:

  - "eps only": one fixed minibatch, fresh eps (and signs) each time: the noise
    the estimator itself adds, which is what the estimators change;
  - "eps + batch": a fresh minibatch (drawn with replacement) each time too,
    the noise an optimiser sees (tutorial 07's measure); the minibatch's own
    share of it is the same for all estimators and falls like 1/B.

Reported: the variance of dL/dmu and dL/drho summed over the entries of each
Bayesian layer (its weights and its bias) and over the whole network, per batch
size; at B = 64 every estimator's ratio to weight sampling, and the covariance
share above; the CPU time of one forward and backward at each batch size.

    OPENBLAS_NUM_THREADS=1 python benchmarks/gradient_variance.py            # R = 200, about 6.5 CPU minutes
    OPENBLAS_NUM_THREADS=1 python benchmarks/gradient_variance.py --quick    # R = 30
    OPENBLAS_NUM_THREADS=1 python benchmarks/gradient_variance.py --seed 1   # another initialisation and draws
"""
from __future__ import annotations

import argparse
import functools
import sys
import time

import numpy as np

import minivi as mv
from minivi.bayes import sample_weight
from minivi.flipout import random_signs

LAYER_CLASSES = {  # name: (linear layer class, convolutional layer class)
    "weight sampling": (mv.BayesLinear, mv.BayesConv2d),
    "local reparam.": (mv.LocalBayesLinear, mv.LocalBayesConv2d),
    "Flipout": (mv.FlipoutLinear, mv.FlipoutConv2d),
}
PER_EXAMPLE = ("independent W_n", "signs per entry")   # computed from the weight-sampling model, W_n per example
ESTIMATORS = tuple(LAYER_CLASSES) + PER_EXAMPLE
BATCH_SIZES = (8, 32, 64, 256)
B_RATIO = 64
N_BOOTSTRAP = 200   # resamples of the draws at B_RATIO, for the standard errors of the ratios
POINTS = ("initialisation", "20 epochs of weight sampling", "trained on the ELBO")


def mlp(layers: tuple, rng, **options) -> mv.Sequential:
    linear, _ = layers
    return mv.Sequential(linear(64, 64, rng=rng, **options), mv.ReLU(), linear(64, 10, rng=rng, **options))


def cnn(layers: tuple, rng, **options) -> mv.Sequential:
    linear, conv = layers
    return mv.Sequential(conv(1, 8, 3, padding=1, rng=rng, **options), mv.ReLU(), mv.MaxPool2d(2), mv.Flatten(),
                         linear(8 * 4 * 4, 10, rng=rng, **options))


# How each architecture is brought to point 3 (tutorial 06's MLP, tutorial 10's chosen ELBO settings for the CNN).
TRAINED = {mlp: dict(layers=LAYER_CLASSES["weight sampling"], prior_sigma=1.0, epochs=200, batch_size=100,
                     n_samples=2, kl_schedule="uniform"),
           cnn: dict(layers=LAYER_CLASSES["Flipout"], prior_sigma=3.0, epochs=40, batch_size=16, n_samples=1,
                     kl_schedule="blundell")}


def digits(shape_of_x: str, seed: int = 0):
    """The bundled digits, 75/25 split; x as rows (N, 64) for the MLP or images (N, 1, 8, 8) for the CNN."""
    images, labels = mv.data.load_digits()
    x_train, y_train, x_test, y_test = mv.data.train_test_split(images, labels, 0.25, np.random.default_rng(seed))
    if shape_of_x == "images":
        x_train, x_test = x_train.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8)
    return x_train, y_train, x_test, y_test


def at_point(architecture, point: str, x, y, seed: int = 0) -> dict:
    """The state (mu and rho of every layer) of the architecture at one of POINTS."""
    if point == "initialisation":
        return architecture(LAYER_CLASSES["weight sampling"], np.random.default_rng(seed)).state_dict()
    if point == "20 epochs of weight sampling":
        model = architecture(LAYER_CLASSES["weight sampling"], np.random.default_rng(seed))
        mv.fit(model, x, y, mv.categorical_nll, epochs=20, batch_size=100, rng=np.random.default_rng(seed + 1),
               lr=1e-2, verbose=False)
        return model.state_dict()
    settings = TRAINED[architecture]
    model = architecture(settings["layers"], np.random.default_rng(seed), prior_sigma=settings["prior_sigma"])
    mv.fit(model, x, y, mv.categorical_nll, epochs=settings["epochs"], batch_size=settings["batch_size"],
           rng=np.random.default_rng(seed + 1), lr=1e-2, n_samples=settings["n_samples"],
           kl_schedule=settings["kl_schedule"], verbose=False)
    return model.state_dict()


def bayesian_layers(model) -> list:
    return [m for m in model if isinstance(m, mv.bayes.MeanFieldLayer)]


def independent_eps(rng, shape):
    """eps_n for every example n (the first axis): independent draws, W_n ~ q independently."""
    return rng.standard_normal(shape)


def eps_with_signs_per_entry(rng, shape):
    """eps * E_n: ONE eps shared by the examples, flipped by an independent sign per example and entry."""
    return rng.standard_normal(shape[1:]) * random_signs(rng, shape)


def per_example_loss(model, x, y, rng, *, eps_of):
    """L = (1/B) Σ_n -log p(y_n | x_n, W_n), example n through its own W_n = mu + sigma * eps_n (all layers).

    The example axis doubles as the sample axis of the weights: W (B, ...) applied to x (B, 1, ...).
    """
    batch = len(x)
    h = mv.Tensor(x)
    for layer in model:
        if isinstance(layer, mv.BayesConv2d):
            w = sample_weight(layer.weight_mu, layer.weight_rho, eps_of(rng, (batch,) + layer.weight_mu.shape))
            b = sample_weight(layer.bias_mu, layer.bias_rho, eps_of(rng, (batch,) + layer.bias_mu.shape))
            h = mv.conv2d(h.reshape((batch, 1) + h.shape[1:]), w, b, stride=layer.stride, padding=layer.padding)
            h = h.reshape((batch,) + h.shape[2:])
        elif isinstance(layer, mv.BayesLinear):
            w = sample_weight(layer.weight_mu, layer.weight_rho, eps_of(rng, (batch,) + layer.weight_mu.shape))
            b = sample_weight(layer.bias_mu, layer.bias_rho, eps_of(rng, (batch, 1) + layer.bias_mu.shape))
            h = (h.reshape((batch, 1, -1)) @ w + b).reshape((batch, -1))
        else:
            h = layer(h)
    return mv.categorical_nll(h, y) * (1.0 / batch)


def gradient_draws(model, loss, x, y, batch_size, repeats, rng, resample_batch: bool):
    """{parameter name: (repeats, entries) draws of its gradient}, L = loss(model, x_batch, y_batch, rng)."""
    fixed = rng.integers(0, len(x), batch_size)
    params = dict(model.named_parameters())
    draws = {name: [] for name in params}
    for _ in range(repeats):
        batch = rng.integers(0, len(x), batch_size) if resample_batch else fixed
        model.zero_grad()
        loss(model, x[batch], y[batch], rng).backward()
        for name, p in params.items():
            draws[name].append(p.grad.ravel().copy())
    return {name: np.array(d) for name, d in draws.items()}


def layer_variances(model, draws) -> np.ndarray:
    """(layers + 1, 2): summed variance of dL/dmu and dL/drho over each Bayesian layer's entries; last row: all."""
    rows = []
    for layer in bayesian_layers(model):
        names = {id(p): name for name, p in model.named_parameters()}
        row = [0.0, 0.0]
        for mu, rho in layer.variational_parameters():
            row[0] += float(np.var(draws[names[id(mu)]], axis=0, ddof=1).sum())
            row[1] += float(np.var(draws[names[id(rho)]], axis=0, ddof=1).sum())
        rows.append(row)
    rows.append(np.sum(rows, axis=0))
    return np.array(rows)


def layer_loss(model, x, y, rng):
    return mv.categorical_nll(model(x), y) * (1.0 / len(x))


def bootstrap(model, draws, rng) -> np.ndarray:
    """(N_BOOTSTRAP, layers + 1, 2): layer_variances of the draws resampled with replacement."""
    repeats = len(next(iter(draws.values())))
    resamples = []
    for _ in range(N_BOOTSTRAP):
        pick = rng.integers(0, repeats, repeats)
        resamples.append(layer_variances(model, {name: d[pick] for name, d in draws.items()}))
    return np.array(resamples)


def measure(architecture, state, x, y, repeats, seed=0):
    """{(estimator, kind): array (batch sizes, layers + 1, 2)}, {(estimator, kind): bootstrap at B_RATIO}
    and {(estimator, B): CPU ms per forward+backward}."""
    variance, boot, ms = {}, {}, {}
    boot_rng = np.random.default_rng(seed + 4)
    for estimator in ESTIMATORS:
        layers = LAYER_CLASSES.get(estimator, LAYER_CLASSES["weight sampling"])
        model = architecture(layers, np.random.default_rng(seed + 2)).load_state_dict(state)   # the same mu, rho
        if estimator in LAYER_CLASSES:
            loss = layer_loss
        else:
            eps_of = independent_eps if estimator == "independent W_n" else eps_with_signs_per_entry
            loss = functools.partial(per_example_loss, eps_of=eps_of)
        for kind, resample in (("eps only", False), ("eps + batch", True)):
            rows = []
            for batch_size in BATCH_SIZES:
                rng = np.random.default_rng(seed + 3)                        # the same minibatches for all
                start = time.process_time()
                draws = gradient_draws(model, loss, x, y, batch_size, repeats, rng, resample)
                ms[estimator, batch_size] = 1e3 * (time.process_time() - start) / repeats
                rows.append(layer_variances(model, draws))
                if batch_size == B_RATIO:
                    boot[estimator, kind] = bootstrap(model, draws, boot_rng)
            variance[estimator, kind] = np.array(rows)
    return variance, boot, ms


def describe(architecture, state) -> str:
    """Each Bayesian layer's median sigma and median |mu| at this point."""
    model = architecture(LAYER_CLASSES["weight sampling"], np.random.default_rng(0)).load_state_dict(state)
    parts = []
    for k, layer in enumerate(bayesian_layers(model)):
        sigma = np.logaddexp(0.0, layer.weight_rho.data)
        parts.append(f"layer {k + 1}: median sigma {np.median(sigma):.3g}, median |mu| "
                     f"{np.median(np.abs(layer.weight_mu.data)):.3g}")
    return "; ".join(parts)


def report(name, point, description, layer_names, variance, boot, ms, repeats):
    columns = layer_names + ["network"]
    print(f"\n{name}, at {point} ({description})")
    print(f"  summed variance of dL/dmu and dL/drho per Bayesian layer (weights and bias) and over the network, "
          f"{repeats} draws per batch size")
    for kind in ("eps only", "eps + batch"):
        print(f"  {kind}:")
        print(f"  {'B':>5} {'estimator':>16} | " + " | ".join(f"{c + ' mu':>10} {c + ' rho':>10}" for c in columns))
        for k, batch_size in enumerate(BATCH_SIZES):
            for e in ESTIMATORS:
                cells = " | ".join(f"{variance[e, kind][k, j, 0]:10.4g} {variance[e, kind][k, j, 1]:10.4g}"
                                   for j in range(len(columns)))
                print(f"  {batch_size:>5} {e:>16} | {cells}")
        for e in ESTIMATORS:
            fall = variance[e, kind][0, -1] / variance[e, kind][-1, -1]
            print(f"    {e}: from B = {BATCH_SIZES[0]} to {BATCH_SIZES[-1]} (x{BATCH_SIZES[-1] // BATCH_SIZES[0]}) "
                  f"the network's variance fell by x{fall[0]:.1f} (mu), x{fall[1]:.1f} (rho)")
    k = BATCH_SIZES.index(B_RATIO)
    for kind in ("eps only", "eps + batch"):
        ws, indep = variance["weight sampling", kind][k], variance["independent W_n", kind][k]
        boot_ws, boot_indep = boot["weight sampling", kind], boot["independent W_n", kind]
        print(f"  B = {B_RATIO}, {kind}: variance / weight sampling's (mu, rho), and the share of weight "
              "sampling's covariance term kept, (Var - Var_indep) / (Var_ws - Var_indep); ± a bootstrap "
              f"standard error ({N_BOOTSTRAP} resamples of the draws)")
        print(f"  {'':>16} | " + " | ".join(f"{c:>25}" for c in columns) + " | share kept (network mu, rho)")
        for e in ESTIMATORS[1:]:
            ratio, ratio_se = variance[e, kind][k] / ws, np.std(boot[e, kind] / boot_ws, axis=0)
            share = (variance[e, kind][k] - indep) / (ws - indep)
            share_se = np.std((boot[e, kind] - boot_indep) / (boot_ws - boot_indep), axis=0)
            cells = " | ".join(f"{ratio[j, 0]:6.3f}±{ratio_se[j, 0]:5.3f} {ratio[j, 1]:6.3f}±{ratio_se[j, 1]:5.3f}"
                               for j in range(len(columns)))
            print(f"  {e:>16} | {cells} | {share[-1, 0]:.2f}±{share_se[-1, 0]:.2f}, "
                  f"{share[-1, 1]:.2f}±{share_se[-1, 1]:.2f}")
            if e == "Flipout":
                flipout_first = share[0], share_se[0]
        (mu, rho), (mu_se, rho_se) = flipout_first
        print(f"    layer 1 alone: Flipout keeps {mu:.2f}±{mu_se:.2f} (mu), {rho:.2f}±{rho_se:.2f} (rho) of weight "
              "sampling's covariance term")
    print("  CPU ms per forward + backward: " + "; ".join(
        f"{e}: " + ", ".join(f"B={b} {ms[e, b]:.2f}" for b in BATCH_SIZES) for e in ESTIMATORS))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 draws per batch size instead of 200")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initialisation, training and draws")
    args = parser.parse_args()
    repeats = 30 if args.quick else 200
    start = time.process_time()
    for name, architecture, shape, layer_names in (
            ("MLP 64-64-10", mlp, "rows", ["lin1", "lin2"]),
            ("CNN conv 1->8 3x3, pool, linear 128->10", cnn, "images", ["conv", "linear"])):
        x, y, _, _ = digits(shape)
        for point in POINTS:
            state = at_point(architecture, point, x, y, seed=args.seed)
            variance, boot, ms = measure(architecture, state, x, y, repeats, seed=args.seed)
            report(name, point, describe(architecture, state), layer_names, variance, boot, ms, repeats)
    print(f"\ntotal CPU time {time.process_time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
