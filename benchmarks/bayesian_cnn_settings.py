"""Choosing tutorial 10's Bayesian CNN settings by cross-validation on the training images only.

Tutorial 10 trains a Bayesian CNN (FlipoutConv2d, FlipoutLinear) on tutorial 06's split of the 8x8
digits (1348 training, 449 test images). This script compares the settings a student would try
first, on the 1348 TRAINING images alone: they are cut into K = 3 folds, each setting is trained on
two folds and predicts the third, and the three predictions together are scored (accuracy, NLL per
image, ECE over 10 bins, mean confidence). The test images are never loaded into the comparison.

The candidates, in order of how standard they are:

  - the ELBO of the lecture with the library's defaults: prior N(0, 1), init_sigma 0.05, the KL
    spread uniformly over batches of 64, 40 epochs of Adam (lr 1e-2), Flipout, 100 samples to predict;
  - the same ELBO with one thing changed: a wider prior N(0, 3²) and the "blundell" KL spread
    (Blundell et al. 2015, §3.4) over batches of 16; a smaller starting sigma (init_sigma 0.001);
    80 epochs; wider convolutions (16 and 32 channels); weight sampling (BayesConv2d, BayesLinear)
    instead of Flipout; 20 samples to predict instead of 100;
  - a second search, from the best of those (prior N(0, 3²), "blundell" KL, batches of 16): the uniform
    KL; a step decay of the learning rate (40 epochs at 1e-2, then 20 at 1e-3, the same Adam); 4
    sampled networks per step; a linear KL warm-up over 10 epochs (full weight from epoch 10 on);
    LocalBayesLinear as the last layer (the same ELBO, a lower-variance estimator); LocalBayesConv2d
    and LocalBayesLinear throughout (NOT an unbiased estimator of the ELBO: it draws the pixels of
    one image independently, see minivi/bayes_conv.py); init_sigma 0.01; 16 and 32 channels; 80
    epochs; priors N(0, 0.5²) and N(0, 10²); then the changes that lowered the NLL, combined;
  - a tempered likelihood: the data term counted lambda times, lambda = 3, 10, 30, i.e. the loss
    lambda·NLL + KL, which (up to the factor 1/lambda Adam does not see) is the KL weighted by
    1/lambda. This is NOT the ELBO of the lecture: it is the ELBO of a model whose likelihood is
    p(y | x, w)^lambda, as if every image had been seen lambda times (a "tempered posterior",
    Wenzel et al. 2020, "How good is the Bayes posterior in deep neural networks really?");
  - the deterministic CNN of the same shape, trained by maximum likelihood, for reference.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bayesian_cnn_settings.py           # 78 networks, 40 to 80 epochs each
    OPENBLAS_NUM_THREADS=1 python benchmarks/bayesian_cnn_settings.py --quick   # 2 epochs each
    OPENBLAS_NUM_THREADS=1 python benchmarks/bayesian_cnn_settings.py --only "init_sigma 0.001"   # some rows

Of the ELBO rows and of the tempered rows, tutorial 10 trains the one with the lowest cross-validated
NLL on all the training images (the same Flipout CNN, the same training loop).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minivi as mv

K = 3   # folds of the training images
ELBO = dict(prior_sigma=1.0, kl_schedule="uniform", batch_size=64, init_sigma=0.05, epochs=40, widths=(8, 16),
            layers=("flipout", "flipout"), likelihood_weight=1.0, n_predict=(100,), n_samples=1, warmup_epochs=0,
            decay_epochs=0)
LAYERS = {"flipout": (mv.FlipoutConv2d, mv.FlipoutLinear), "weight": (mv.BayesConv2d, mv.BayesLinear),
          "local": (mv.LocalBayesConv2d, mv.LocalBayesLinear)}   # (conv, linear) of each estimator
WIDER = dict(prior_sigma=3.0, kl_schedule="blundell", batch_size=16)   # the best ELBO setting of the first search
CANDIDATES = {
    "ELBO, prior N(0, 1), uniform KL, batches of 64 (the defaults)": dict(n_predict=(100, 20)),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16": dict(prior_sigma=3.0, kl_schedule="blundell", batch_size=16),
    "ELBO, init_sigma 0.001": dict(init_sigma=0.001),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, init_sigma 0.001": dict(
        prior_sigma=3.0, kl_schedule="blundell", batch_size=16, init_sigma=0.001),
    "ELBO, 80 epochs": dict(epochs=80),
    "ELBO, 16 and 32 channels": dict(widths=(16, 32)),
    "ELBO, weight sampling (BayesConv2d) instead of Flipout": dict(layers=("weight", "weight")),
    # the second search: lower-variance gradients, smaller starting sigma, longer or annealed training, more
    # samples per step, a KL warm-up ending at full weight; each on its own, then combined
    "ELBO, prior N(0, 3²), uniform KL, batches of 16": dict(prior_sigma=3.0, batch_size=16),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, 40 + 20 epochs at lr 1e-3": dict(**WIDER, decay_epochs=20),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, 4 samples per step": dict(**WIDER, n_samples=4),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, KL warm-up over 10 epochs": dict(**WIDER, warmup_epochs=10),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, LocalBayesLinear last": dict(**WIDER, layers=("flipout", "local")),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, LocalBayesConv2d (not the ELBO's estimator)": dict(
        **WIDER, layers=("local", "local")),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, init_sigma 0.01": dict(**WIDER, init_sigma=0.01),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, 16 and 32 channels": dict(**WIDER, widths=(16, 32)),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, 80 epochs": dict(**WIDER, epochs=80),
    "ELBO, prior N(0, 0.5²), uniform KL, batches of 64": dict(prior_sigma=0.5),
    "ELBO, prior N(0, 10²), blundell KL, batches of 16": dict(prior_sigma=10.0, kl_schedule="blundell", batch_size=16),
    "ELBO, the defaults, 40 + 20 epochs at lr 1e-3": dict(decay_epochs=20),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, 16 and 32 channels, 40 + 20 epochs at lr 1e-3": dict(
        **WIDER, widths=(16, 32), decay_epochs=20),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, 16 and 32 channels, 40 + 20 epochs, init_sigma 0.001": dict(
        **WIDER, widths=(16, 32), decay_epochs=20, init_sigma=0.001),
    "ELBO, prior N(0, 3²), blundell KL, batches of 16, 40 + 20 epochs at lr 1e-3, init_sigma 0.001": dict(
        **WIDER, decay_epochs=20, init_sigma=0.001),
    "tempered, likelihood counted 3 times": dict(likelihood_weight=3.0),
    "tempered, likelihood counted 10 times": dict(likelihood_weight=10.0, n_predict=(100, 20)),
    "tempered, likelihood counted 30 times": dict(likelihood_weight=30.0),
    "deterministic CNN (maximum likelihood)": dict(deterministic=True),
}


def cnn(settings, rng):
    """conv 3x3 (c1) - ReLU - maxpool 2 - conv 3x3 (c2) - ReLU - maxpool 2 - flatten - linear (10), tutorial 10's."""
    c1, c2 = settings["widths"]
    if settings.get("deterministic"):
        conv, linear, options = mv.Conv2d, mv.Linear, {}
    else:
        conv, linear = LAYERS[settings["layers"][0]][0], LAYERS[settings["layers"][1]][1]
        options = dict(prior_sigma=settings["prior_sigma"], init_sigma=settings["init_sigma"])
    return mv.Sequential(conv(1, c1, 3, padding=1, rng=rng, **options), mv.ReLU(), mv.MaxPool2d(2),
                         conv(c1, c2, 3, padding=1, rng=rng, **options), mv.ReLU(), mv.MaxPool2d(2), mv.Flatten(),
                         linear(c2 * 2 * 2, 10, rng=rng, **options))


def weighted_nll(likelihood_weight):
    """The data term lambda · (-log p(y | x, w)); lambda = 1 is the ELBO's."""
    if likelihood_weight == 1.0:
        return mv.categorical_nll
    return lambda logits, y: mv.categorical_nll(logits, y) * likelihood_weight


def fold_models(settings, images, labels, quick):
    """For each of the K folds: its rows and the model trained on the other folds.

    The folds are one permutation of the rows (seed 1) cut in K; fold k's model starts from seed 11 + k."""
    folds = np.array_split(np.random.default_rng(1).permutation(len(labels)), K)
    for k, held_out in enumerate(folds):
        fit_rows = np.concatenate([fold for j, fold in enumerate(folds) if j != k])
        rng = np.random.default_rng(11 + k)
        model = cnn(settings, rng)
        train(model, images[fit_rows], labels[fit_rows], settings, quick, rng)
        yield held_out, model


def cross_validate(settings, images, labels, quick):
    """{S: logits (S, N, 10)} for every training image, each predicted by a model trained on the other folds,
    with S sampled networks for each S in settings["n_predict"] (drawn in that order)."""
    logits = {S: np.zeros((S, len(labels), 10)) for S in settings["n_predict"]}
    for held_out, model in fold_models(settings, images, labels, quick):
        for S in settings["n_predict"]:
            logits[S][:, held_out] = mv.predict(model, images[held_out], n_samples=S)
    return logits


def train(model, x, y, settings, quick, rng):
    """Adam at lr 1e-2 for settings["epochs"] epochs, then (if settings["decay_epochs"]) the same Adam, its moments
    kept, at lr 1e-3 for decay_epochs more: a step decay of the learning rate, the objective unchanged.
    quick: 2 epochs (and 1 after the decay)."""
    optimizer = mv.optim.Adam(model.parameters(), lr=1e-2)
    options = dict(batch_size=settings["batch_size"], rng=rng, optimizer=optimizer, n_samples=settings["n_samples"],
                   kl_schedule=settings["kl_schedule"], verbose=False)
    nll = weighted_nll(settings["likelihood_weight"])
    mv.fit(model, x, y, nll, epochs=2 if quick else settings["epochs"], warmup_epochs=settings["warmup_epochs"], **options)
    if settings["decay_epochs"]:
        optimizer.lr = 1e-3
        mv.fit(model, x, y, nll, epochs=1 if quick else settings["decay_epochs"], **options)


def scores(logits, y):
    """Accuracy, NLL per image (nats), ECE and mean confidence of the predictive from sampled logits (S, N, 10)."""
    probs = mv.classification_uncertainty(logits)["probs"]
    return {"accuracy": np.mean(probs.argmax(-1) == y), "NLL": -mv.categorical_log_likelihood(logits, y),
            "ECE": mv.expected_calibration_error(probs, y), "confidence": probs.max(-1).mean()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs per setting instead of 40 (or 80)")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only the settings whose name contains TEXT (repeatable)")
    args = parser.parse_args()
    quick = args.quick
    images, labels = mv.data.load_digits()
    x_train, y_train, _, _ = mv.data.train_test_split(images, labels, 0.25, np.random.default_rng(7))  # tutorial 06's
    x_train = x_train.reshape(-1, 1, 8, 8)
    print(f"{K}-fold cross-validation on the {len(y_train)} training images of tutorial 06's split"
          f"{' (--quick: 2 epochs)' if quick else ''}")
    print(f"{'setting':102s} accuracy     NLL     ECE  confidence  seconds")
    for name, changes in CANDIDATES.items():
        if args.only and not any(text in name for text in args.only):
            continue
        settings = {**ELBO, **changes}
        start = time.perf_counter()
        logits = cross_validate(settings, x_train, y_train, quick)
        seconds = time.perf_counter() - start
        for S, sampled in logits.items():
            s = scores(sampled, y_train)
            row = name if S == settings["n_predict"][0] else f"  the same, predicting with {S} samples"
            print(f"{row:102s} {s['accuracy']:8.4f}  {s['NLL']:6.4f}  {s['ECE']:6.4f}  {s['confidence']:10.4f}  "
                  + (f"{seconds:7.1f}" if S == settings["n_predict"][0] else ""), flush=True)


if __name__ == "__main__":
    main()
