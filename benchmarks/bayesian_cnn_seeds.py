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
For the Bayesian networks also the mean sigma = softplus(rho) of each layer's weights after training.

Last, the ELBO CNN's three cross-validation models (each trained on two of the three folds of the training
images, as benchmarks/bayesian_cnn_settings.py trains them) scored on the same test images: the same
setting, the same 60 epochs, two thirds of the images, so two thirds of the Adam steps. And the ELBO CNN of
seed 0 trained on past its 60 epochs, to 120 (lr 1e-3 after the first 40, as before), with its mean sigmas
every 10 epochs and its test scores at 60 and 120: is q still moving when training stops?

    OPENBLAS_NUM_THREADS=1 python benchmarks/bayesian_cnn_seeds.py            # about 9 CPU minutes
    OPENBLAS_NUM_THREADS=1 python benchmarks/bayesian_cnn_seeds.py --quick    # 2 epochs each, 2 seeds
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minivi as mv
from bayesian_cnn_settings import CANDIDATES, ELBO, cnn, fold_models, scores, train

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


def trained(name, x_train, y_train, quick, rng):
    """One network trained from the generator rng."""
    if name == "Bayesian MLP":
        model = bayes_mlp(rng)
        mv.fit(model, x_train.reshape(len(x_train), 64), y_train, mv.categorical_nll, epochs=2 if quick else 200,
               batch_size=100, rng=rng, lr=1e-2, n_samples=2, verbose=False)
        return model
    settings = {**ELBO, **CANDIDATES[NETWORKS[name]]}
    model = cnn(settings, rng)
    train(model, x_train, y_train, settings, quick, rng)
    return model


def test_logits(name, model, x_test):
    """Sampled logits (S, N, 10) on the test images; the deterministic CNN is one network."""
    if name == "deterministic CNN":
        return mv.predict(model, x_test, mode="mean")
    return mv.predict(model, x_test.reshape(len(x_test), 64) if name == "Bayesian MLP" else x_test, n_samples=N_PREDICT)


def mean_sigmas(model):
    """The mean sigma = softplus(rho) of each layer's weights, as text "0.194/0.393/0.349" ("-" without q)."""
    sigmas = [np.logaddexp(0.0, rho.data).mean() for key, rho in model.named_parameters() if key.endswith("weight_rho")]
    return "/".join(f"{s:.3f}" for s in sigmas) or "-"


def error_when_most_uncertain_set_aside(logits, y):
    """Error rate on the KEEP share of images with the lowest predictive entropy."""
    uncertainty = mv.classification_uncertainty(logits)
    kept = np.argsort(uncertainty["predictive_entropy"], kind="stable")[:int(round(KEEP * len(y)))]
    return np.mean(uncertainty["probs"][kept].argmax(-1) != y[kept])


def score_row(logits, y):
    """accuracy, NLL, ECE, error on the most certain KEEP share."""
    s = scores(logits, y)
    return [s["accuracy"], s["NLL"], s["ECE"], error_when_most_uncertain_set_aside(logits, y)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs (1 after the decay), seeds 0 and 1, 20 epochs at the end")
    quick = parser.parse_args().quick
    images, labels = mv.data.load_digits()
    x_train, y_train, x_test, y_test = mv.data.train_test_split(images, labels, 0.25, np.random.default_rng(7))
    x_train, x_test = x_train.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8)
    seeds = SEEDS[:2] if quick else SEEDS
    columns = ("accuracy", "NLL", "ECE", f"error, most certain {KEEP:.0%}")
    header = f"{'network':24s}{'seed':>5s}" + "".join(f"{c:>24s}" for c in columns) + "  seconds  mean sigma per layer"
    print(f"tutorial 06's split: {len(y_train)} training, {len(y_test)} test images; training seeds "
          f"{list(seeds)}{' (--quick: 2 epochs)' if quick else ''}")
    print(header)
    for name in [*NETWORKS, "Bayesian MLP"]:
        rows = []
        for seed in seeds:
            start = time.perf_counter()
            model = trained(name, x_train, y_train, quick, np.random.default_rng(seed))
            rows.append(score_row(test_logits(name, model, x_test), y_test))
            print(f"{name:24s}{seed:5d}" + "".join(f"{v:24.4f}" for v in rows[-1])
                  + f"  {time.perf_counter() - start:7.1f}  {mean_sigmas(model)}", flush=True)
        rows = np.array(rows)
        for label, values in (("mean", rows.mean(0)), ("min", rows.min(0)), ("max", rows.max(0))):
            print(f"{name:24s}{label:>5s}" + "".join(f"{v:24.4f}" for v in values))
    name = "Bayesian CNN, ELBO"
    print(f"\n{name}: cross-validation's models, each trained on two of the three folds of the training images")
    print(header.replace(" seed", " fold"))
    settings = {**ELBO, **CANDIDATES[NETWORKS[name]]}
    start = time.perf_counter()
    for k, (_, model) in enumerate(fold_models(settings, x_train, y_train, quick)):
        print(f"{name:24s}{k:5d}" + "".join(f"{v:24.4f}" for v in score_row(test_logits(name, model, x_test), y_test))
              + f"  {time.perf_counter() - start:7.1f}  {mean_sigmas(model)}", flush=True)
        start = time.perf_counter()
    print(f"\n{name}, seed 0, trained on past 60 epochs (the same Adam; lr 1e-3 from epoch 41 on)")
    print(f"{'epochs':>6s}  mean sigma per layer  " + "".join(f"{c:>24s}" for c in columns))
    total = 20 if quick else 120
    for epochs, model in longer_training(settings, x_train, y_train, total):
        row = score_row(test_logits(name, model, x_test), y_test) if epochs in (60, total) else []
        print(f"{epochs:6d}  {mean_sigmas(model):20s}  " + "".join(f"{v:24.4f}" for v in row), flush=True)


def longer_training(settings, x, y, epochs):
    """Yield (epochs so far, model) every 10 epochs of the ELBO CNN from seed 0: bayesian_cnn_settings.train's
    loop one epoch at a time, lr 1e-2 for 40 epochs, then 1e-3."""
    rng = np.random.default_rng(0)
    model = cnn(settings, rng)
    optimizer = mv.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(1, epochs + 1):
        optimizer.lr = 1e-2 if epoch <= settings["epochs"] else 1e-3
        mv.fit(model, x, y, mv.categorical_nll, epochs=1, batch_size=settings["batch_size"], rng=rng,
               optimizer=optimizer, kl_schedule=settings["kl_schedule"], verbose=False)
        if epoch % 10 == 0:
            yield epoch, model


if __name__ == "__main__":
    main()
