"""How much do tutorial 10's test numbers move when only the training seed changes?

Tutorial 10 trains each network once (one generator, one initialisation, one order of minibatches) and
scores it on the 449 test images of tutorial 06's split. Its bootstrap intervals say how much the TEST
IMAGES leave open; this script measures the other source of spread: the same settings, the same split,
trained again from other seeds (fixed before any run: 0 to 4). Nothing is chosen here; the settings are
the ones cross-validation chose on the training images (benchmarks/bayesian_cnn_settings.py):

  - the Bayesian CNN on the ELBO: prior N(0, 3²), "blundell" KL over batches of 16, 16 and 32 channels,
    init_sigma 0.001, 40 epochs at lr 1e-2 then 20 at 1e-3 (Flipout);
  - the Bayesian CNN on the likelihood counted 10 times (tempered; the library's defaults otherwise);
  - the deterministic CNN (8 and 16 channels, maximum likelihood);
  - tutorial 06's Bayesian MLP (64-64-10, 200 epochs, batches of 100, 2 samples per step).

For each network and seed: test accuracy, NLL per image, ECE over 10 bins, and the error on the 90% of
test images with the lowest predictive entropy; then the mean, the smallest and the largest over seeds.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bayesian_cnn_seeds.py            # about 8 CPU minutes
    OPENBLAS_NUM_THREADS=1 python benchmarks/bayesian_cnn_seeds.py --quick    # 2 epochs each, 2 seeds
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minivi as mv
from bayesian_cnn_settings import CANDIDATES, ELBO, cnn, scores, train

SEEDS = range(5)
KEEP = 0.9   # the share of test images kept when the most uncertain are set aside (tutorial 10's)
NETWORKS = {"Bayesian CNN, ELBO": "ELBO, prior N(0, 3²), blundell KL, batches of 16, 16 and 32 channels, "
                                  "40 + 20 epochs, init_sigma 0.001",
            "Bayesian CNN, tempered": "tempered, likelihood counted 10 times",
            "deterministic CNN": "deterministic CNN (maximum likelihood)"}
N_PREDICT = 100


def bayes_mlp(rng):
    """Tutorial 06's Bayesian MLP: BayesLinear 64-64-10 with a ReLU between."""
    return mv.Sequential(mv.BayesLinear(64, 64, rng=rng), mv.ReLU(), mv.BayesLinear(64, 10, rng=rng))


def train_and_predict(name, x_train, y_train, x_test, quick, rng):
    """Train one network from the generator rng; return its sampled test logits (S, N, 10)."""
    if name == "Bayesian MLP":
        model = bayes_mlp(rng)
        mv.fit(model, x_train.reshape(len(x_train), 64), y_train, mv.categorical_nll, epochs=2 if quick else 200,
               batch_size=100, rng=rng, lr=1e-2, n_samples=2, verbose=False)
        return mv.predict(model, x_test.reshape(len(x_test), 64), n_samples=N_PREDICT)
    settings = {**ELBO, **CANDIDATES[NETWORKS[name]]}
    model = cnn(settings, rng)
    train(model, x_train, y_train, settings, quick, rng)
    if settings.get("deterministic"):
        return mv.predict(model, x_test, mode="mean")
    return mv.predict(model, x_test, n_samples=N_PREDICT)


def error_when_most_uncertain_set_aside(logits, y):
    """Error rate on the KEEP share of images with the lowest predictive entropy."""
    uncertainty = mv.classification_uncertainty(logits)
    kept = np.argsort(uncertainty["predictive_entropy"], kind="stable")[:int(round(KEEP * len(y)))]
    return np.mean(uncertainty["probs"][kept].argmax(-1) != y[kept])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs (1 after the decay), seeds 0 and 1")
    quick = parser.parse_args().quick
    images, labels = mv.data.load_digits()
    x_train, y_train, x_test, y_test = mv.data.train_test_split(images, labels, 0.25, np.random.default_rng(7))
    x_train, x_test = x_train.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8)
    seeds = SEEDS[:2] if quick else SEEDS
    columns = ("accuracy", "NLL", "ECE", f"error, most certain {KEEP:.0%}")
    print(f"tutorial 06's split: {len(y_train)} training, {len(y_test)} test images; training seeds "
          f"{list(seeds)}{' (--quick: 2 epochs)' if quick else ''}")
    print(f"{'network':24s}{'seed':>5s}" + "".join(f"{c:>24s}" for c in columns) + "  seconds")
    for name in [*NETWORKS, "Bayesian MLP"]:
        rows = []
        for seed in seeds:
            start = time.perf_counter()
            logits = train_and_predict(name, x_train, y_train, x_test, quick, np.random.default_rng(seed))
            s = scores(logits, y_test)
            rows.append([s["accuracy"], s["NLL"], s["ECE"], error_when_most_uncertain_set_aside(logits, y_test)])
            print(f"{name:24s}{seed:5d}" + "".join(f"{v:24.4f}" for v in rows[-1])
                  + f"  {time.perf_counter() - start:7.1f}", flush=True)
        rows = np.array(rows)
        for label, values in (("mean", rows.mean(0)), ("min", rows.min(0)), ("max", rows.max(0))):
            print(f"{name:24s}{label:>5s}" + "".join(f"{v:24.4f}" for v in values))


if __name__ == "__main__":
    main()
