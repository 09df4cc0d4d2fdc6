"""The field's benchmark: four Bayesian deep-learning methods on the UCI regression sets, one protocol.

The protocol of Hernandez-Lobato & Adams (2015) and Gal & Ghahramani (2016):
for each data set and each of its 20 standard 90/10 splits (`mv.data.uci_splits`),

1. standardise inputs and target with the TRAINING split's mean and standard
   deviation (a zero standard deviation is set to 1);
2. train a network with one hidden layer of 50 ReLU units and a learned
   homoscedastic noise level, by one of the METHODS below, with the same
   optimiser, the same number of Adam steps and the same minibatches size;
3. form the predictive, a mixture of Gaussians N(f_s(x), sigma_s^2), and map it
   back to the original units, f -> y_mean + y_std f, sigma -> y_std sigma;
4. score on the test split
       RMSE    = sqrt( (1/N) sum_n (y_n - (1/S) sum_s f_s(x_n))^2 )             (the predictive mean)
       test LL = (1/N) sum_n log (1/S) sum_s N(y_n; f_s(x_n), sigma_s^2)       (log-mean-exp over s)
   and report mean +- standard error (std / sqrt(K)) over the K splits.

The methods (`--method`, repeatable):
  bbb       Bayes by Backprop: mv.BayesLinear layers, q(w) = N(mu, sigma^2), prior N(0, prior_sigma^2),
            the negative ELBO with 4 samples per step; S = 1000 networks drawn from q.
  dropout   MC dropout as variational inference (Gal & Ghahramani 2016; minivi/dropout.py): Dropout(p)
            before each Linear, the KL replaced by its weight-decay approximation; S = 1000 masks.
  ensemble  deep ensembles (Lakshminarayanan, Pritzel & Blundell 2017): 5 networks, each with its own
            learned noise, trained by maximum likelihood from their own initial weights and minibatch
            order (all five in one batched pass); the predictive is the equal mixture of the five.
  laplace   linearised Laplace (minivi/laplace.py) at a MAP network (prior N(0, prior_sigma^2) as weight
            decay): the GGN at the mode, the prior precision then chosen by maximising the Laplace
            evidence, the predictive N(f(x; w_hat), J Sigma J^T + noise^2) in closed form (no sampling).

Hyper-parameters, with no channel from test rows: every method has ONE knob with three candidates
(`GRID`), chosen per split on that split's own training rows: the last 20% of the training part is
held out, each candidate is trained on the other 80% and scored on it (validation log-likelihood),
and the best one is retrained on the whole training part, which is then scored on the test part. Every
fit, validation or final, of every method takes the same `COMMON["steps"]` Adam steps. The grid and
each split's choice, with its validation scores, are written to uci_choices.json.

    python benchmarks/uci.py                          # bbb on the four bundled sets, 20 splits each
    python benchmarks/uci.py --method bbb --method dropout --method ensemble --method laplace
    python benchmarks/uci.py --quick                  # a tiny run (2 splits, 40 steps) for the tests
    python benchmarks/uci.py --data-dir DIR           # a folder of your own holding a data.txt
    python benchmarks/uci.py --jobs 2                 # two worker processes (the same numbers, sooner)

Writes into --out (default benchmarks/results): uci.md (the table beside the published columns),
uci.png (the figure), results.json ({name: {"rmse": [one float per split], "test_ll": [...]}} for one
method, {name: {method: {"rmse": [...], "test_ll": [...]}}} for several) and uci_choices.json. They
are rewritten whenever the first k splits of every data set and method are complete, so an
interrupted run leaves a consistent table of k splits. The same --seed gives the same numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

import minivi as mv

HIDDEN = 50                 # the protocol's one hidden layer of 50 ReLU units
TEST_SAMPLES = 1000         # S networks drawn to score a test split (the protocol asks S >= 100)
RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("bbb", "dropout", "ensemble", "laplace")

# The same optimiser and budget for every method and every fit.
COMMON = {
    "steps": 6000,          # Adam steps (a step is one minibatch; for the ensemble, one per member)
    "batch_size": 128,      # minibatch size
    "lr": 1e-2,             # Adam's learning rate at the start ...
    "lr_final": 1e-3,       # ... decayed geometrically to this at the last step
    "init_noise": 0.5,      # the learned noise_sigma at the start (standardised units)
}
# Each method's settings besides its knob (fixed from the papers' practice, not tuned).
SETTINGS = {
    "bbb": {"train_samples": 4, "init_sigma": 1e-3, "prior_sigma": 1.0},
    "dropout": {"p": 0.05, "prior_sigma": 1.0},
    "ensemble": {"members": 5},
    "laplace": {"prior_sigma": 1.0},
}
# One knob per method, three candidates each, chosen per split on validation rows of its training part.
GRID = {
    "bbb": ("prior_sigma", (0.5, 1.0, 2.0)),      # the prior N(0, prior_sigma^2) of every weight
    "dropout": ("p", (0.005, 0.02, 0.1)),         # the dropout rate (Gal's grid: 0.005 to 0.1)
    "ensemble": ("lr", (3e-3, 1e-2, 3e-2)),       # maximum likelihood has no prior: its starting step size
    "laplace": ("prior_sigma", (0.5, 1.0, 2.0)),  # the MAP network's prior (weight decay)
}
VALIDATION_FRACTION = 0.2
QUICK = {"steps": 40, "n_splits": 2, "test_samples": 100}

# Gal & Ghahramani (2016), Table 1, as in /work/shared/uci/README.md: (mean, +-) per column.
# VI (Graves 2011) and PBP as run by Hernandez-Lobato & Adams (2015): +- is a standard error.
# Dropout: the paper's +- is a standard deviation over the 20 splits; `published` divides it by sqrt(20).
# "Dropout tuned": the later MC-dropout runs of its authors (grid search, 4000 epochs), means only.
PUBLISHED_RAW = {
    "concrete": {"rmse": {"VI": (7.19, 0.12), "PBP": (5.67, 0.09), "Dropout": (5.23, 0.53),
                          "Dropout tuned": (4.82, np.nan)},
                 "test_ll": {"VI": (-3.39, 0.02), "PBP": (-3.16, 0.02), "Dropout": (-3.04, 0.09),
                             "Dropout tuned": (-2.93, np.nan)}},
    "energy": {"rmse": {"VI": (2.65, 0.08), "PBP": (1.80, 0.05), "Dropout": (1.66, 0.19),
                        "Dropout tuned": (0.54, np.nan)},
               "test_ll": {"VI": (-2.39, 0.03), "PBP": (-2.04, 0.02), "Dropout": (-1.99, 0.09),
                           "Dropout tuned": (-1.21, np.nan)}},
    "wine-quality-red": {"rmse": {"VI": (0.65, 0.01), "PBP": (0.64, 0.01), "Dropout": (0.62, 0.04),
                                  "Dropout tuned": (0.62, np.nan)},
                         "test_ll": {"VI": (-0.98, 0.01), "PBP": (-0.97, 0.01), "Dropout": (-0.93, 0.06),
                                     "Dropout tuned": (-0.93, np.nan)}},
    "yacht": {"rmse": {"VI": (6.89, 0.67), "PBP": (1.02, 0.05), "Dropout": (1.11, 0.38),
                       "Dropout tuned": (0.67, np.nan)},
              "test_ll": {"VI": (-3.43, 0.16), "PBP": (-1.63, 0.02), "Dropout": (-1.55, 0.12),
                          "Dropout tuned": (-1.25, np.nan)}},
}
PUBLISHED = ("VI", "PBP", "Dropout", "Dropout tuned")
METRICS = (("rmse", "RMSE", "lower is better"), ("test_ll", "log-likelihood", "higher is better"))


def published(name, metric, column):
    """(mean, standard error) of a published column; Dropout's standard deviation becomes an SE."""
    mean, spread = PUBLISHED_RAW[name][metric][column]
    return mean, spread / np.sqrt(20) if column == "Dropout" else spread


# ---------------------------------------------------------------- scoring

def rmse(mean_prediction, y):
    """sqrt( (1/N) sum_n (y_n - m_n)^2 ) for predictions m (N, 1) and targets y (N, 1)."""
    mean_prediction, y = _check_pair(mean_prediction, y, "rmse")
    return float(np.sqrt(np.mean((y - mean_prediction) ** 2)))


def test_log_likelihood(f_samples, y, noise_sigma):
    """(1/N) sum_n log (1/S) sum_s N(y_n; f_s(x_n), noise_sigma_s^2), the predictive's log density.

    f_samples: (S, N, 1), the means of the S components (networks drawn from q, or ensemble members);
    y: (N, 1); noise_sigma: one positive number, or an array broadcastable to (S, N, 1) (a noise level
    per component, or per component and point). The mean over s is taken INSIDE the log (the
    predictive is a mixture of S Gaussians), computed as log-sum-exp(log N_s) - log S so that no
    density underflows; it is not the log-likelihood of the mean prediction.
    """
    f_samples = np.asarray(f_samples, dtype=np.float64)
    if f_samples.ndim != 3:
        raise ValueError(f"test_log_likelihood: f_samples must be (S, N, 1), got shape {f_samples.shape}")
    _check_pair(f_samples[0], y, "test_log_likelihood")
    noise_sigma = np.asarray(noise_sigma, dtype=np.float64)
    if not (np.all(np.isfinite(noise_sigma)) and np.all(noise_sigma > 0)):
        raise ValueError(f"test_log_likelihood: noise_sigma must be positive, got {noise_sigma}")
    try:
        fits = np.broadcast_shapes(noise_sigma.shape, f_samples.shape) == f_samples.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"test_log_likelihood: noise_sigma of shape {noise_sigma.shape} does not broadcast to "
                         f"f_samples of shape {f_samples.shape}")
    y = np.asarray(y, dtype=np.float64)
    log_n = -0.5 * np.log(2 * np.pi * noise_sigma ** 2) - (y - f_samples) ** 2 / (2 * noise_sigma ** 2)
    top = log_n.max(axis=0)
    log_mean = top + np.log(np.mean(np.exp(log_n - top), axis=0))
    return float(np.mean(log_mean))


def _check_pair(prediction, y, who):
    prediction, y = np.asarray(prediction, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if prediction.shape != y.shape or y.ndim != 2 or y.shape[1] != 1:
        raise ValueError(f"{who}: predictions of shape {prediction.shape} and targets of shape {y.shape}; "
                         "both must be (N, 1)")
    return prediction, y


# ---------------------------------------------------------------- training, shared by the methods

def adam_loop(parameters, loss_of_batch, n, config, rng, streams=1):
    """COMMON's optimiser: `steps` Adam steps, the learning rate decayed geometrically from lr to lr_final.

    loss_of_batch(idx) -> scalar Tensor, idx an index array (B,) into the n training rows, or
    (streams, B) with one independent shuffled minibatch order per stream (the ensemble's members).
    """
    optimizer = mv.optim.Adam(parameters, lr=config["lr"])
    steps = config["steps"]
    decay = (config["lr_final"] / config["lr"]) ** (1.0 / max(steps - 1, 1))
    queues = [[] for _ in range(streams)]
    loss = None
    for step in range(steps):
        for queue in queues:
            if not queue:
                queue.extend(reversed(mv.data.minibatches(n, min(config["batch_size"], n), rng)))
        idx = queues[0].pop() if streams == 1 else np.stack([queue.pop() for queue in queues])
        optimizer.lr = config["lr"] * decay ** step
        optimizer.zero_grad()
        loss = loss_of_batch(idx)
        loss.backward()
        optimizer.step()
    if not np.isfinite(loss.item()):
        raise RuntimeError(f"training diverged (loss {loss.item()}); lower the learning rate")


def mlp(d, rng):
    """The protocol's deterministic network: d -> 50 ReLU units -> 1."""
    return mv.Sequential(mv.Linear(d, HIDDEN, rng=rng), mv.ReLU(), mv.Linear(HIDDEN, 1, rng=rng))


def fit_bbb(x, y, config, rng):
    """Bayes by Backprop: each step (B/N) KL + (1/S) sum_s NLL (`mv.elbo_loss`), S = train_samples."""
    model = mv.Sequential(
        mv.BayesLinear(x.shape[1], HIDDEN, config["prior_sigma"], rng=rng, init_sigma=config["init_sigma"]),
        mv.ReLU(),
        mv.BayesLinear(HIDDEN, 1, config["prior_sigma"], rng=rng, init_sigma=config["init_sigma"]),
    )
    noise = mv.LearnedNoise(config["init_noise"])
    n = len(x)
    adam_loop(model.parameters() + noise.parameters(),
              lambda idx: mv.elbo_loss(model, x[idx], y[idx], noise, n, n_samples=config["train_samples"])[0],
              n, config, rng)
    return lambda x_new, s: (mv.predict(model, x_new, n_samples=s), noise.noise_sigma)


def fit_dropout(x, y, config, rng):
    """MC dropout: each step (B/N) dropout_kl + NLL of one masked forward (one mask per row)."""
    p, n = config["p"], len(x)
    model = mv.Sequential(mv.Dropout(p, rng=rng), mv.Linear(x.shape[1], HIDDEN, rng=rng), mv.ReLU(),
                          mv.Dropout(p, rng=rng), mv.Linear(HIDDEN, 1, rng=rng))
    noise = mv.LearnedNoise(config["init_noise"])

    def loss(idx):
        return noise(model(x[idx]), y[idx]) + mv.dropout_kl(model, config["prior_sigma"]) * (len(idx) / n)

    adam_loop(model.parameters() + noise.parameters(), loss, n, config, rng)
    return lambda x_new, s: (mv.predict(model, x_new, n_samples=s), noise.noise_sigma)


class StackedNetworks(mv.Module):
    """M networks d -> 50 ReLU -> 1 side by side, each with its own noise_sigma = softplus(rho_m).

    Weights (M, in, out): inputs (M, B, d) give outputs (M, B, 1), network m seeing its own rows.
    Each network is initialised as mv.Linear is (W ~ N(0, 1/in), b = 0).
    """

    def __init__(self, members, d, init_noise, rng):
        self.w1 = mv.Parameter(rng.normal(0.0, 1.0 / np.sqrt(d), (members, d, HIDDEN)))
        self.b1 = mv.Parameter(np.zeros((members, 1, HIDDEN)))
        self.w2 = mv.Parameter(rng.normal(0.0, 1.0 / np.sqrt(HIDDEN), (members, HIDDEN, 1)))
        self.b2 = mv.Parameter(np.zeros((members, 1, 1)))
        self.rho = mv.Parameter(np.full((members, 1, 1), mv.gaussian.inverse_softplus(init_noise)))

    def forward(self, x):
        return (x @ self.w1 + self.b1).relu() @ self.w2 + self.b2


def fit_ensemble(x, y, config, rng):
    """Deep ensemble: M >= 2 networks, each trained by maximum likelihood (Gaussian NLL, learned noise)."""
    members = config["members"]
    if isinstance(members, bool) or not isinstance(members, (int, np.integer)) or members < 2:
        raise ValueError(f"an ensemble needs at least 2 members (its predictive is their mixture; one network "
                         f"is maximum likelihood, not an ensemble), got {members!r}; the usual number is 5")
    nets = StackedNetworks(members, x.shape[1], config["init_noise"], rng)
    adam_loop(nets.parameters(),
              lambda idx: mv.gaussian_nll(nets(x[idx]), y[idx], nets.rho.softplus(), validate=False),
              len(x), config, rng, streams=members)

    def predict(x_new, s):
        with mv.no_grad():
            f = nets(np.broadcast_to(x_new, (members,) + x_new.shape)).data
        return f, np.logaddexp(0.0, nets.rho.data)       # (M, N, 1) means, (M, 1, 1) noise levels

    return predict


def fit_laplace(x, y, config, rng):
    """Linearised Laplace: a MAP network (NLL + (B/N) |w|^2 / (2 prior_sigma^2) per step), then
    `mv.laplace.laplace` (GGN) with the prior precision that maximises the Laplace evidence."""
    model, noise, n = mlp(x.shape[1], rng), mv.LearnedNoise(config["init_noise"]), len(x)
    decay = 1.0 / (2 * config["prior_sigma"] ** 2)

    def loss(idx):
        penalty = sum((p * p).sum() for p in model.parameters())
        return noise(model(x[idx]), y[idx]) + penalty * (decay * len(idx) / n)

    adam_loop(model.parameters() + noise.parameters(), loss, n, config, rng)
    approx = mv.laplace.laplace(model, x, y, noise_sigma=noise.noise_sigma, prior_sigma=config["prior_sigma"])
    approx = approx.optimise_prior_precision()

    def predict(x_new, s):
        mean, variance = approx.predict(x_new)
        return mean[None], np.sqrt(variance + noise.noise_sigma ** 2)[None]   # one Gaussian per point

    return predict


FITS = {"bbb": fit_bbb, "dropout": fit_dropout, "ensemble": fit_ensemble, "laplace": fit_laplace}


# ---------------------------------------------------------------- one split

def standardiser(a):
    """(mean, std) of each column of the training part; a zero std is set to 1 (a constant column)."""
    mean, std = a.mean(axis=0), a.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def method_config(method, base=None, settings=None, **overrides):
    """base (COMMON), then the method's settings (SETTINGS), then the overrides (a candidate of GRID)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return {**(base or COMMON), **(settings or SETTINGS)[method], **overrides}


def run_split(x, y, train_idx, test_idx, method, config, rng, test_samples=TEST_SAMPLES):
    """Standardise with the training rows, fit, score the held-out rows in original units: (rmse, ll)."""
    x_mean, x_std = standardiser(x[train_idx])
    y_mean, y_std = standardiser(y[train_idx])
    predictor = FITS[method]((x[train_idx] - x_mean) / x_std, (y[train_idx] - y_mean) / y_std, config, rng)
    f, sigma = predictor((x[test_idx] - x_mean) / x_std, test_samples)
    f, sigma = y_mean + y_std * f, float(y_std[0]) * np.asarray(sigma)      # back to the original units
    y_test = y[test_idx]
    return rmse(f.mean(axis=0), y_test), test_log_likelihood(f, y_test, sigma)


def task_rng(seed, name, k, method, stage):
    """The Generator of one fit: data set `name`, split k, method, stage (candidate index; len(grid): final)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), k, zlib.crc32(method.encode()), stage])


def select_and_run(x, y, train_idx, test_idx, method, base, settings, seed, name, k, test_samples=TEST_SAMPLES):
    """Nested selection: each GRID candidate fit on 80% of the training rows and scored on the other 20%,
    the best (validation log-likelihood) refit on all training rows and scored on the test rows.

    Returns (rmse, test_ll, choice) with choice = {"value": the chosen knob, "validation_ll": [...]}.
    """
    knob, values = GRID[method]
    n_fit = len(train_idx) - round(VALIDATION_FRACTION * len(train_idx))
    fit_rows, validation_rows = train_idx[:n_fit], train_idx[n_fit:]
    scores = []
    for i, value in enumerate(values):
        config = method_config(method, base, settings, **{knob: value})
        scores.append(run_split(x, y, fit_rows, validation_rows, method, config,
                                task_rng(seed, name, k, method, i), test_samples)[1])
    best = int(np.argmax(scores))
    config = method_config(method, base, settings, **{knob: values[best]})
    r, ll = run_split(x, y, train_idx, test_idx, method, config, task_rng(seed, name, k, method, len(values)),
                      test_samples)
    return r, ll, {"value": values[best], "validation_ll": scores}


# ---------------------------------------------------------------- the benchmark

def run_benchmark(datasets, methods, n_splits, base, settings, seed, test_samples=TEST_SAMPLES, jobs=1,
                  on_prefix=None):
    """Splits 0..n_splits-1 of every data set, for every method; a progress line per (set, split, method).

    Returns (results, choices, seconds): results[name][method] = {"rmse": [per split], "test_ll": [...]},
    choices[name][method] = [per split {"value", "validation_ll"}], seconds[name][method] = [per split].
    Each fit draws from its own Generator (`task_rng`), so the numbers do not depend on `jobs`.
    Whenever the first k splits are complete for every set and method, on_prefix(k, results, ...) is called.
    """
    splits = {name: mv.data.uci_splits(len(x), n_splits) for name, (x, y) in datasets.items()}
    tasks = [(name, k, method, x, y, *splits[name][k], base, settings, seed, test_samples)
             for k in range(n_splits) for name, (x, y) in datasets.items() for method in methods]
    results = {name: {m: {"rmse": [None] * n_splits, "test_ll": [None] * n_splits} for m in methods}
               for name in datasets}
    choices = {name: {m: [None] * n_splits for m in methods} for name in datasets}
    seconds = {name: {m: [None] * n_splits for m in methods} for name in datasets}
    done = [0] * n_splits
    per_split = len(datasets) * len(methods)
    complete = 0

    def record(outcome):
        nonlocal complete
        name, k, method, r, ll, choice, secs = outcome
        results[name][method]["rmse"][k], results[name][method]["test_ll"][k] = r, ll
        choices[name][method][k], seconds[name][method][k] = choice, secs
        print(f"{name} split {k + 1}/{n_splits} {method}: test RMSE {r:.3f}  test LL {ll:.3f}  "
              f"({GRID[method][0]} = {choice['value']:g}; {secs:.1f} s)", flush=True)
        done[k] += 1
        while complete < n_splits and done[complete] == per_split:
            complete += 1
            if on_prefix is not None:
                on_prefix(complete, results, choices, seconds)

    if jobs == 1:
        for task in tasks:
            record(_split_task(task))
    else:
        with ProcessPoolExecutor(jobs) as pool:
            for future in as_completed([pool.submit(_split_task, task) for task in tasks]):
                record(future.result())
    return results, choices, seconds


def _split_task(task):
    name, k, method, x, y, train_idx, test_idx, base, settings, seed, test_samples = task
    start = time.process_time()
    r, ll, choice = select_and_run(x, y, train_idx, test_idx, method, base, settings, seed, name, k, test_samples)
    return name, k, method, r, ll, choice, time.process_time() - start


def prefix(results, k):
    """The first k splits of every list in results (the lists are per split)."""
    return {name: {m: {metric: values[:k] for metric, values in scores.items()} for m, scores in by_method.items()}
            for name, by_method in results.items()}


def stored_layout(results, methods):
    """results.json: {name: {"rmse", "test_ll"}} for one method (the layout of earlier versions), else nested."""
    if len(methods) == 1:
        return {name: by_method[methods[0]] for name, by_method in results.items()}
    return results


def mean_se(values):
    """(mean, standard error std/sqrt(K)) over splits; the SE of a single split is reported as NaN."""
    values = np.asarray(values, dtype=np.float64)
    se = values.std(ddof=0) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    return float(values.mean()), float(se)


def markdown_table(results, methods, n_splits, base, settings, seed, test_samples, choices):
    head = "| data set | " + " | ".join(methods) + " | " + " | ".join(PUBLISHED) + " |"
    lines = ["# UCI regression: minivi's methods against the published table", "",
             f"{n_splits} standard splits per data set, seed {seed}, mean ± standard error over the splits. "
             "Published columns: Gal & Ghahramani (2016), Table 1 (VI = Graves 2011 and PBP as run by "
             "Hernández-Lobato & Adams 2015, 40 epochs; Dropout's ± converted from a standard deviation to a "
             "standard error, ÷√20); Dropout tuned: its authors' later runs with a grid search and 4000 "
             "epochs (means only).", ""]
    for metric, title, better in METRICS:
        lines += [f"## Test {title} ({better})", "", head, "|---" * (len(methods) + len(PUBLISHED) + 1) + "|"]
        for name, by_method in results.items():
            cells = [_fmt(*mean_se(by_method[m][metric]), digits=3) for m in methods]
            cells += [_fmt(*published(name, metric, c)) if name in PUBLISHED_RAW else "—" for c in PUBLISHED]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Hyper-parameters", "",
              f"Every fit: {', '.join(f'{k}={v:g}' for k, v in base.items())}; one hidden layer of {HIDDEN} "
              f"ReLU units; S = {test_samples} draws to score (bbb, dropout), the 5-member mixture (ensemble), "
              "the closed-form Gaussian (laplace). Each method's knob, chosen per split on the last "
              f"{VALIDATION_FRACTION:.0%} of that split's training rows (test rows never read), and how often "
              "each candidate was chosen:", "", "| method | fixed | knob | candidates: times chosen |",
              "|---|---|---|---|"]
    for m in methods:
        knob, values = GRID[m]
        picked = [c["value"] for by_method in choices.values() for c in by_method[m][:n_splits]]
        counts = ", ".join(f"{v:g}: {picked.count(v)}" for v in values)
        fixed = ", ".join(f"{k}={v:g}" for k, v in settings[m].items() if k != knob)
        lines.append(f"| {m} | {fixed} | {knob} | {counts} |")
    lines.append("")
    return "\n".join(lines)


def _fmt(mean, se, digits=2):
    """mean ± se; the published columns keep their 2 decimals, minivi's get 3 (wine's RMSEs differ in the 3rd)."""
    text = f"{mean:.{digits}f} ± {se:.{digits}f}" if np.isfinite(se) else f"{mean:.{digits}f}"
    return text.replace("-", "−")


def figure(results, methods, n_splits, path):
    """Per data set and metric: minivi's methods (mean ± SE) beside the published columns."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    labels = list(methods) + ["VI", "PBP", "Dropout", "Dropout\ntuned"]
    colours = ["tab:red", "tab:orange", "tab:purple", "tab:brown"][:len(methods)] + \
        ["tab:gray", "tab:blue", "tab:green", "darkgreen"]
    fig, axes = plt.subplots(2, len(names), figsize=(3.6 * len(names), 6.0), squeeze=False)
    for col, name in enumerate(names):
        for row, (metric, title, better) in enumerate(METRICS):
            ax = axes[row, col]
            points = [mean_se(results[name][m][metric]) for m in methods]
            points += [published(name, metric, c) if name in PUBLISHED_RAW else (np.nan, np.nan) for c in PUBLISHED]
            for i, ((mean, se), colour) in enumerate(zip(points, colours)):
                ax.errorbar(i, mean, yerr=0.0 if np.isnan(se) else se, fmt="o", color=colour, capsize=4)
            ax.axvline(len(methods) - 0.5, color="k", lw=0.5, alpha=0.4)
            ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=45)
            ax.set_xlim(-0.5, len(labels) - 0.5)
            ax.set_title(f"{name}: test {'RMSE' if metric == 'rmse' else 'LL'}", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
        axes[0, col].set_ylabel("RMSE (lower is better)" if col == 0 else "")
        axes[1, col].set_ylabel("log-likelihood (higher is better)" if col == 0 else "")
    fig.suptitle(f"UCI regression, mean ± standard error over {n_splits} splits: minivi's methods (left of the "
                 "line) against Gal & Ghahramani (2016) and the tuned MC-dropout runs (right)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- command line

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", action="append", default=None, choices=METHODS,
                        help="a method to run; may be given more than once (default: bbb)")
    parser.add_argument("--data-dir", action="append", default=None, metavar="DIR",
                        help="a folder holding a data.txt (whitespace-separated, last column the target); "
                             "may be given more than once; default: the four bundled sets")
    parser.add_argument("--splits", type=int, default=20, metavar="K",
                        help="the first K of the 20 standard splits (default 20)")
    parser.add_argument("--ensemble-size", type=int, default=SETTINGS["ensemble"]["members"], metavar="M",
                        help="members of the deep ensemble (at least 2; default 5)")
    parser.add_argument("--quick", action="store_true", help="a tiny run for the tests: 2 splits, 40 steps")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="where uci.md, uci.png, results.json and uci_choices.json go")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same table")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes running splits side by side (same numbers for any value)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.splits < 1:
        parser.error(f"--splits must be at least 1, got {args.splits}; the standard protocol uses 20")
    if args.splits > 20:
        parser.error(f"--splits must be at most 20 (the standard protocol has 20 splits), got {args.splits}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    if args.ensemble_size < 2:
        parser.error(f"--ensemble-size must be at least 2 (the predictive is the members' mixture), "
                     f"got {args.ensemble_size}; the usual number is 5")
    args.method = list(dict.fromkeys(args.method or ["bbb"]))      # in the order given, each once
    return args


def load_datasets(data_dirs):
    if not data_dirs:
        return {name: mv.data.load_uci(name) for name in mv.data.UCI_NAMES}
    datasets = {}
    for folder in data_dirs:
        name = Path(folder).resolve().name
        if name in datasets:
            raise SystemExit(f"two --data-dir folders are both named {name!r}; results are keyed by the folder's name")
        datasets[name] = mv.data.load_regression_folder(folder)
    return datasets


def cpu_seconds_so_far():
    """CPU time (user + system) of this process and of its finished worker processes (--jobs)."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def write_outputs(out, k, results, choices, seconds, methods, base, settings, seed, test_samples):
    """results.json, uci.md, uci.png and uci_choices.json for the first k splits."""
    first = prefix(results, k)
    (out / "results.json").write_text(json.dumps(stored_layout(first, methods), indent=1) + "\n", encoding="utf-8")
    (out / "uci.md").write_text(markdown_table(first, methods, k, base, settings, seed, test_samples, choices),
                                encoding="utf-8")
    figure(first, methods, k, out / "uci.png")
    record = {"protocol": f"per split, each candidate fit on the first {1 - VALIDATION_FRACTION:.0%} of the "
                          f"training rows and scored (log-likelihood) on the last {VALIDATION_FRACTION:.0%}; "
                          "the best refit on all training rows",
              "common": base, "settings": {m: settings[m] for m in methods},
              "grid": {m: {"knob": GRID[m][0], "candidates": list(GRID[m][1])} for m in methods},
              "splits": k,
              "choices": {name: {m: by_method[m][:k] for m in methods} for name, by_method in choices.items()},
              "cpu_seconds": {name: {m: by_method[m][:k] for m in methods} for name, by_method in seconds.items()}}
    (out / "uci_choices.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def main(argv=None):
    args = parse_args(argv)
    try:
        datasets = load_datasets(args.data_dir)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"uci.py: {error}") from None
    args.out.mkdir(parents=True, exist_ok=True)
    base, n_splits, test_samples = dict(COMMON), args.splits, TEST_SAMPLES
    settings = {**SETTINGS, "ensemble": {**SETTINGS["ensemble"], "members": args.ensemble_size}}
    if args.quick:
        base["steps"] = QUICK["steps"]
        n_splits, test_samples = min(n_splits, QUICK["n_splits"]), QUICK["test_samples"]
    print(f"methods {', '.join(args.method)}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    start, cpu_start = time.perf_counter(), cpu_seconds_so_far()

    def on_prefix(k, results, choices, seconds):
        write_outputs(args.out, k, results, choices, seconds, args.method, base, settings, args.seed, test_samples)
        fits = sum(t for by_method in seconds.values() for per_split in by_method.values() for t in per_split if t)
        print(f"-- first {k} split(s) complete: {(time.perf_counter() - start) / 60:.1f} min wall, "
              f"{fits / 60:.1f} min CPU in the finished tasks; tables written", flush=True)

    results, _, _ = run_benchmark(datasets, args.method, n_splits, base, settings, args.seed, test_samples,
                                  args.jobs, on_prefix)
    seconds, cpu_seconds = time.perf_counter() - start, cpu_seconds_so_far() - cpu_start
    print(f"wall time {seconds / 60:.1f} min, CPU time {cpu_seconds / 60:.1f} min, load average now "
          f"{os.getloadavg()[0]:.2f}; wrote {args.out / 'uci.md'}, uci.png, results.json, uci_choices.json",
          flush=True)
    return stored_layout(results, args.method)


if __name__ == "__main__":
    main(sys.argv[1:])
