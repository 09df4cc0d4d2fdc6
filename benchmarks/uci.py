"""The field's benchmark: Bayes by Backprop on the UCI regression sets, against the published table.

The protocol of Hernandez-Lobato & Adams (2015) and Gal & Ghahramani (2016):
for each data set and each of its 20 standard 90/10 splits (`mv.data.uci_splits`),

1. standardise inputs and target with the TRAINING split's mean and standard
   deviation (a zero standard deviation is set to 1);
2. train a network with one hidden layer of 50 ReLU units, every weight and
   bias with a Gaussian q(w) = N(mu, sigma^2) (`mv.BayesLinear`, prior N(0, 1)),
   by minimising the negative ELBO (`mv.elbo_loss`, Adam), with the noise
   level of the Gaussian likelihood learned alongside (`mv.LearnedNoise`);
3. draw S = 1000 networks f_s from q (`mv.predict`) and map their outputs
   back to the original units, f_s -> y_mean + y_std f_s, noise -> y_std noise;
4. score on the test split
       RMSE    = sqrt( (1/N) sum_n (y_n - (1/S) sum_s f_s(x_n))^2 )       (the predictive mean)
       test LL = (1/N) sum_n log (1/S) sum_s N(y_n; f_s(x_n), noise^2)   (log-mean-exp over s)
   and report mean +- standard error (std / sqrt(K)) over the K splits.

Hyper-parameters: fixed ONCE for all data sets (`CONFIG` below), never chosen
by test scores. `CONFIG` was first written down from common practice for
Bayes by Backprop on small data (Adam with a decaying learning rate, a small
initial sigma, the noise learned, the full KL with the prior N(0, 1)); the
number of steps is not tuned, it is what the time budget allows. Then
`--validate` compared it with the alternatives in `CANDIDATES`: on the first
`VALIDATION_SPLITS` standard splits of each data set the last 20% of the
training part is held out (the test part is not read at all), each candidate
is trained on the other 80% and scored on the held-out 20%, and the candidate
with the best validation log-likelihood averaged over the four data sets is
the one in `CONFIG`. benchmarks/results/uci_validation.md is that run's table.

    python benchmarks/uci.py                      # the four bundled sets, 20 splits each
    python benchmarks/uci.py --quick              # a tiny run (2 splits, few steps) for the tests
    python benchmarks/uci.py --data-dir DIR       # a folder of your own holding a data.txt
    python benchmarks/uci.py --validate           # the hyper-parameter selection (no test data)
    python benchmarks/uci.py --jobs 2             # two worker processes (the same numbers, sooner)

Writes into --out (default benchmarks/results): uci.md (the table beside the
published VI, PBP and Dropout columns), uci.png (the figure) and results.json
({name: {"rmse": [one float per split], "test_ll": [...]}}). The same --seed
gives the same numbers.
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
TEST_SAMPLES = 1000         # S networks drawn from q to score a test split (the protocol asks S >= 100)
RESULTS = Path(__file__).resolve().parent / "results"

# Chosen with --validate (validation part of the training splits only), then fixed for all data sets.
CONFIG = {
    "steps": 6000,          # Adam steps (a step is one minibatch)
    "batch_size": 128,      # minibatch size: the step costs about the same for 32 or 128 rows,
                            # so big minibatches buy more epochs per second
    "lr": 1e-2,             # Adam's learning rate at the start ...
    "lr_final": 1e-3,       # ... decayed geometrically to this at the last step
    "train_samples": 4,     # Monte Carlo samples of the ELBO's data term per step
    "init_sigma": 1e-3,     # every weight's sigma at the start (BayesLinear's init_sigma)
    "prior_sigma": 1.0,     # p(w) = N(0, prior_sigma^2) on every weight and bias (step 4)
    "init_noise": 0.5,      # LearnedNoise's starting noise_sigma (standardised units)
}
QUICK = {"steps": 40, "n_splits": 2, "test_samples": 100}

# Candidates tried by --validate; each entry overrides CONFIG.
# The number of steps is not tuned: it is what the time budget allows (20 minutes for 4 x 20 splits).
CANDIDATES = {
    "A": {},
    "B": {"init_sigma": 0.05},
    "C": {"lr_final": 1e-2},
    "D": {"batch_size": 32},
}
VALIDATION_SPLITS = 2
VALIDATION_FRACTION = 0.2

# Gal & Ghahramani (2016), Table 1, as in /work/shared/uci/README.md: (mean, +-) per column.
# VI (Graves 2011) and PBP as run by Hernandez-Lobato & Adams (2015): +- is a standard error.
# Dropout: the paper's +- is a standard deviation over the 20 splits; `published` divides it by sqrt(20).
PUBLISHED_RAW = {
    "concrete": {"rmse": {"VI": (7.19, 0.12), "PBP": (5.67, 0.09), "Dropout": (5.23, 0.53)},
                 "test_ll": {"VI": (-3.39, 0.02), "PBP": (-3.16, 0.02), "Dropout": (-3.04, 0.09)}},
    "energy": {"rmse": {"VI": (2.65, 0.08), "PBP": (1.80, 0.05), "Dropout": (1.66, 0.19)},
               "test_ll": {"VI": (-2.39, 0.03), "PBP": (-2.04, 0.02), "Dropout": (-1.99, 0.09)}},
    "wine-quality-red": {"rmse": {"VI": (0.65, 0.01), "PBP": (0.64, 0.01), "Dropout": (0.62, 0.04)},
                         "test_ll": {"VI": (-0.98, 0.01), "PBP": (-0.97, 0.01), "Dropout": (-0.93, 0.06)}},
    "yacht": {"rmse": {"VI": (6.89, 0.67), "PBP": (1.02, 0.05), "Dropout": (1.11, 0.38)},
              "test_ll": {"VI": (-3.43, 0.16), "PBP": (-1.63, 0.02), "Dropout": (-1.55, 0.12)}},
}
METHODS = ("VI", "PBP", "Dropout")
METRICS = (("rmse", "RMSE", "lower is better"), ("test_ll", "log-likelihood", "higher is better"))


def published(name, metric, method):
    """(mean, standard error) of a published column; Dropout's standard deviation becomes an SE."""
    mean, spread = PUBLISHED_RAW[name][metric][method]
    return mean, spread / np.sqrt(20) if method == "Dropout" else spread


# ---------------------------------------------------------------- scoring

def rmse(mean_prediction, y):
    """sqrt( (1/N) sum_n (y_n - m_n)^2 ) for predictions m (N, 1) and targets y (N, 1)."""
    mean_prediction, y = _check_pair(mean_prediction, y, "rmse")
    return float(np.sqrt(np.mean((y - mean_prediction) ** 2)))


def test_log_likelihood(f_samples, y, noise_sigma):
    """(1/N) sum_n log (1/S) sum_s N(y_n; f_s(x_n), noise_sigma^2), the predictive's log density.

    f_samples: (S, N, 1) outputs of S networks drawn from q; y: (N, 1).
    The mean over s is taken INSIDE the log (the predictive is a mixture of S
    Gaussians), computed as log-sum-exp(log N_s) - log S so that no density
    underflows; it is not the log-likelihood of the mean prediction.
    """
    f_samples = np.asarray(f_samples, dtype=np.float64)
    if f_samples.ndim != 3:
        raise ValueError(f"test_log_likelihood: f_samples must be (S, N, 1), got shape {f_samples.shape}")
    _check_pair(f_samples[0], y, "test_log_likelihood")
    if not (np.isfinite(noise_sigma) and noise_sigma > 0):
        raise ValueError(f"test_log_likelihood: noise_sigma must be a positive number, got {noise_sigma}")
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


# ---------------------------------------------------------------- one split

def standardiser(a):
    """(mean, std) of each column of the training part; a zero std is set to 1 (a constant column)."""
    mean, std = a.mean(axis=0), a.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def train(x, y, config, rng):
    """Fit q(w) of a D-50-1 ReLU network and a learned noise level to standardised (x, y).

    Each step: a minibatch of `batch_size` rows, the loss (batch/N) KL + (1/S) sum_s NLL
    (`mv.elbo_loss`'s default KL weight, so one epoch's losses sum to the negative ELBO),
    backward, an Adam step; the learning rate decays geometrically from lr to lr_final.
    """
    model = mv.Sequential(
        mv.BayesLinear(x.shape[1], HIDDEN, config["prior_sigma"], rng=rng, init_sigma=config["init_sigma"]),
        mv.ReLU(),
        mv.BayesLinear(HIDDEN, 1, config["prior_sigma"], rng=rng, init_sigma=config["init_sigma"]),
    )
    noise = mv.LearnedNoise(config["init_noise"])
    optimizer = mv.optim.Adam(model.parameters() + noise.parameters(), lr=config["lr"])
    n, steps = len(x), config["steps"]
    decay = (config["lr_final"] / config["lr"]) ** (1.0 / max(steps - 1, 1))
    batches = []
    for step in range(steps):
        if not batches:
            batches = mv.data.minibatches(n, min(config["batch_size"], n), rng)
        idx = batches.pop()
        optimizer.lr = config["lr"] * decay ** step
        optimizer.zero_grad()
        loss, _ = mv.elbo_loss(model, x[idx], y[idx], noise, n, n_samples=config["train_samples"])
        loss.backward()
        optimizer.step()
    if not np.isfinite(loss.item()):
        raise RuntimeError(f"training diverged (loss {loss.item()}); lower CONFIG['lr']")
    return model, noise


def run_split(x, y, train_idx, test_idx, config, rng, test_samples=TEST_SAMPLES):
    """Standardise with the training part, train, score the held-out part in original units: (rmse, ll, noise)."""
    x_mean, x_std = standardiser(x[train_idx])
    y_mean, y_std = standardiser(y[train_idx])
    model, noise = train((x[train_idx] - x_mean) / x_std, (y[train_idx] - y_mean) / y_std, config, rng)
    f = mv.predict(model, (x[test_idx] - x_mean) / x_std, n_samples=test_samples)
    f = y_mean + y_std * f                                   # back to the original units
    noise_sigma = float(y_std[0]) * noise.noise_sigma
    y_test = y[test_idx]
    return rmse(f.mean(axis=0), y_test), test_log_likelihood(f, y_test, noise_sigma), noise_sigma


def split_rng(seed, name, k):
    """The Generator of split k of data set `name`: same (seed, name, k), same bits."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), k])


# ---------------------------------------------------------------- the benchmark

def run_benchmark(datasets, n_splits, config, seed, test_samples=TEST_SAMPLES, jobs=1):
    """Splits 0..n_splits-1 of every data set; a progress line per split.

    Returns {name: {"rmse": [one float per split], "test_ll": [...]}}. Each split
    draws from its own Generator (`split_rng`), so the numbers do not depend
    on `jobs`, the number of worker processes that run splits side by side.
    """
    tasks = [(name, k, x, y, train_idx, test_idx, config, seed, test_samples)
             for name, (x, y) in datasets.items()
             for k, (train_idx, test_idx) in enumerate(mv.data.uci_splits(len(x), n_splits))]
    results = {name: {"rmse": [None] * n_splits, "test_ll": [None] * n_splits} for name in datasets}
    if jobs == 1:
        for outcome in map(_split_task, tasks):
            _record(results, n_splits, *outcome)
    else:
        with ProcessPoolExecutor(jobs) as pool:
            for future in as_completed([pool.submit(_split_task, task) for task in tasks]):
                _record(results, n_splits, *future.result())
    return results


def _record(results, n_splits, name, k, r, ll, noise_sigma, seconds):
    results[name]["rmse"][k], results[name]["test_ll"][k] = r, ll
    print(f"{name} split {k + 1}/{n_splits}: test RMSE {r:.3f}  test LL {ll:.3f}  "
          f"noise sigma {noise_sigma:.3g}  ({seconds:.1f} s)", flush=True)


def _split_task(task):
    name, k, x, y, train_idx, test_idx, config, seed, test_samples = task
    start = time.perf_counter()
    r, ll, noise_sigma = run_split(x, y, train_idx, test_idx, config, split_rng(seed, name, k), test_samples)
    return name, k, r, ll, noise_sigma, time.perf_counter() - start


def mean_se(values):
    """(mean, standard error std/sqrt(K)) over splits; the SE of a single split is reported as NaN."""
    values = np.asarray(values, dtype=np.float64)
    se = values.std(ddof=0) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    return float(values.mean()), float(se)


def markdown_table(results, n_splits, config, seed, test_samples):
    lines = ["# UCI regression: minivi's Bayes by Backprop against the published table", "",
             f"{n_splits} standard splits per data set, seed {seed}, mean ± standard error over the splits. "
             "Published columns: Gal & Ghahramani (2016), Table 1 (VI = Graves 2011 and PBP as run by "
             "Hernández-Lobato & Adams 2015; Dropout's ± converted from a standard deviation to a standard "
             "error, ÷√20).", ""]
    for metric, title, better in METRICS:
        lines += [f"## Test {title} ({better})", "",
                  "| data set | minivi | VI | PBP | Dropout |", "|---|---|---|---|---|"]
        for name, scores in results.items():
            cells = [_fmt(*mean_se(scores[metric]), digits=3)]
            cells += [_fmt(*published(name, metric, m)) if name in PUBLISHED_RAW else "—" for m in METHODS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Hyper-parameters (fixed for all data sets, chosen on validation parts of the training "
              "splits with `--validate`, never on test scores): "
              + ", ".join(f"{k}={v:g}" for k, v in config.items())
              + f"; one hidden layer of {HIDDEN} ReLU units; S = {test_samples} networks drawn from q to score.", ""]
    return "\n".join(lines)


def _fmt(mean, se, digits=2):
    """mean ± se; the published columns keep their 2 decimals, minivi's get 3 (wine's RMSEs differ in the 3rd)."""
    text = f"{mean:.{digits}f} ± {se:.{digits}f}" if np.isfinite(se) else f"{mean:.{digits}f}"
    return text.replace("-", "−")


def figure(results, n_splits, path):
    """Per data set and metric, minivi's mean ± SE beside the published VI, PBP and Dropout columns."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(2, len(names), figsize=(3.2 * len(names), 5.6), squeeze=False)
    labels = ("minivi",) + METHODS
    colours = ("tab:red", "tab:gray", "tab:blue", "tab:green")
    for col, name in enumerate(names):
        for row, (metric, title, better) in enumerate(METRICS):
            ax = axes[row, col]
            points = [mean_se(results[name][metric])]
            points += [published(name, metric, m) if name in PUBLISHED_RAW else (np.nan, np.nan) for m in METHODS]
            for i, ((mean, se), colour) in enumerate(zip(points, colours)):
                ax.errorbar(i, mean, yerr=0.0 if np.isnan(se) else se, fmt="o", color=colour, capsize=4)
            ax.set_xticks(range(len(labels)), labels, fontsize=8)
            ax.set_xlim(-0.5, len(labels) - 0.5)
            ax.set_title(f"{name}: test {'RMSE' if metric == 'rmse' else 'LL'}", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
        axes[0, col].set_ylabel("RMSE (lower is better)" if col == 0 else "")
        axes[1, col].set_ylabel("log-likelihood (higher is better)" if col == 0 else "")
    fig.suptitle(f"UCI regression, mean ± standard error over {n_splits} splits: minivi (Bayes by Backprop) "
                 "against Gal & Ghahramani (2016), Table 1", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- --validate

def validate(datasets, seed, out):
    """Score every candidate of CANDIDATES on a validation part of the training splits (no test data)."""
    lines = ["# UCI hyper-parameter selection on validation data (no test split read)", "",
             f"First {VALIDATION_SPLITS} standard splits of each data set; of each training part the last "
             f"{VALIDATION_FRACTION:.0%} is held out for validation, the rest trains. Mean validation "
             "log-likelihood (RMSE) over those splits.", "",
             "| candidate | overrides | " + " | ".join(datasets) + " | mean LL |",
             "|---|---|" + "---|" * (len(datasets) + 1)]
    for label, overrides in CANDIDATES.items():
        config = {**CONFIG, **overrides}
        cells, lls = [], []
        for name, (x, y) in datasets.items():
            scores = []
            for k, (train_idx, _) in enumerate(mv.data.uci_splits(len(x), VALIDATION_SPLITS)):
                n_fit = len(train_idx) - round(VALIDATION_FRACTION * len(train_idx))
                start = time.perf_counter()
                r, ll, _ = run_split(x, y, train_idx[:n_fit], train_idx[n_fit:], config,
                                     split_rng(seed, name, k))
                scores.append((r, ll))
                print(f"candidate {label} {name} split {k + 1}: validation RMSE {r:.3f}  LL {ll:.3f}  "
                      f"({time.perf_counter() - start:.1f} s)", flush=True)
            r, ll = np.mean(scores, axis=0)
            cells.append(f"{ll:.3f} ({r:.3f})")
            lls.append(ll)
        text = ", ".join(f"{k}={v:g}" for k, v in overrides.items()) or "CONFIG as is"
        lines.append(f"| {label} | {text} | " + " | ".join(cells) + f" | {np.mean(lls):.3f} |")
    lines += ["", "CONFIG: " + ", ".join(f"{k}={v:g}" for k, v in CONFIG.items()), ""]
    (out / "uci_validation.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


# ---------------------------------------------------------------- command line

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", action="append", default=None, metavar="DIR",
                        help="a folder holding a data.txt (whitespace-separated, last column the target); "
                             "may be given more than once; default: the four bundled sets")
    parser.add_argument("--splits", type=int, default=20, metavar="K",
                        help="the first K of the 20 standard splits (default 20)")
    parser.add_argument("--quick", action="store_true", help="a tiny run for the tests: 2 splits, 40 steps")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where uci.md, uci.png and results.json go")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same table")
    parser.add_argument("--validate", action="store_true",
                        help="score the CANDIDATES on validation parts of the training splits instead")
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


def main(argv=None):
    args = parse_args(argv)
    try:
        datasets = load_datasets(args.data_dir)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"uci.py: {error}") from None
    args.out.mkdir(parents=True, exist_ok=True)
    config, n_splits, test_samples = dict(CONFIG), args.splits, TEST_SAMPLES
    if args.quick:
        config["steps"] = QUICK["steps"]
        n_splits, test_samples = min(n_splits, QUICK["n_splits"]), QUICK["test_samples"]
    if args.validate:
        validate(datasets, args.seed, args.out)
        return {}
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    start, cpu_start = time.perf_counter(), cpu_seconds_so_far()
    results = run_benchmark(datasets, n_splits, config, args.seed, test_samples, args.jobs)
    seconds, cpu_seconds = time.perf_counter() - start, cpu_seconds_so_far() - cpu_start
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out / "uci.md").write_text(markdown_table(results, n_splits, config, args.seed, test_samples), encoding="utf-8")
    figure(results, n_splits, args.out / "uci.png")
    print(f"wall time {seconds / 60:.1f} min, CPU time {cpu_seconds / 60:.1f} min, load average now "
          f"{os.getloadavg()[0]:.2f}; wrote {args.out / 'uci.md'}, uci.png and results.json", flush=True)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
