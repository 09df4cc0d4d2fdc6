"""Figures for the demo and the tutorials, drawn with matplotlib's object API.

Figures are made with `matplotlib.figure.Figure` (no pyplot, no window, no
global state) and written as PNG files by `save`, so they work the same in a
terminal, in CI and in a notebook.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

DATA_STYLE = dict(s=10, color="black", alpha=0.6, zorder=3, label="training data")


def figure(nrows: int = 1, ncols: int = 1, size=(9.0, 4.5)):
    """A new Figure and its axes (a single Axes, or an array of them)."""
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols)
    return fig, axes


def save(fig: Figure, path) -> Path:
    """Write `fig` as a PNG at `path` (folders created as needed); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def regression_band(ax, x_train, y_train, x_grid, uncertainty: dict, truth=None, title: str = ""):
    """Predictive mean with ±2 std bands: total (light) and epistemic (dark) uncertainty."""
    x = np.ravel(x_grid)
    mean = np.ravel(uncertainty["mean"])
    for key, shade, label in (("total", 0.15, "±2 std, total"), ("epistemic", 0.35, "±2 std, epistemic")):
        std = np.ravel(uncertainty[key])
        ax.fill_between(x, mean - 2 * std, mean + 2 * std, color="tab:blue", alpha=shade, lw=0, label=label)
    ax.plot(x, mean, color="tab:blue", lw=2, label="predictive mean")
    if truth is not None:
        ax.plot(x, np.ravel(truth), "--", color="tab:green", lw=1.5, label="true curve (no noise)")
    ax.scatter(np.ravel(x_train), np.ravel(y_train), **DATA_STYLE)
    ax.set(xlabel="x", ylabel="y", title=title)
    ax.legend(loc="upper left", fontsize=8)


def reliability_diagram(ax, centres, bin_confidence, bin_accuracy, counts):
    """A reliability diagram from `mv.reliability_curve`'s four arrays: for every non-empty bin its
    accuracy as a bar, (mean confidence, accuracy) as a point with the bin's count above it, and
    the diagonal a calibrated model follows. The caller sets the x label and the title."""
    filled = np.asarray(counts) > 0
    centres, confidence = np.asarray(centres)[filled], np.asarray(bin_confidence)[filled]
    accuracy, counts = np.asarray(bin_accuracy)[filled], np.asarray(counts)[filled]
    ax.bar(centres, accuracy, width=0.1, color="tab:blue", edgecolor="black", alpha=0.8, label="accuracy in the bin")
    ax.plot(confidence, accuracy, "o", color="black", label="(mean confidence, accuracy)")
    ax.plot([0, 1], [0, 1], "--", color="tab:red", label="perfect calibration")
    for c, acc, n in zip(centres, accuracy, counts):
        ax.annotate(f"{n}", (c, acc), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=9)
    ax.set(xlim=(0, 1), ylim=(0, 1.08), ylabel="fraction of test images classified correctly")


def training_curves(ax, history, title: str = "Training: the negative ELBO and its two parts"):
    """Loss (= KL + NLL once the KL weights sum to 1), KL and NLL per epoch."""
    epochs = np.arange(1, len(history.loss) + 1)
    ax.plot(epochs, history.loss, label="loss = negative ELBO")
    ax.plot(epochs, history.kl, label="KL[q || p]")
    ax.plot(epochs, history.nll, label="NLL (data term)")
    ax.set(xlabel="epoch", ylabel="nats", title=title)
    ax.legend(fontsize=8)


def tutorial_options(description: str, argv=None):
    """The command line every tutorial shares: returns (quick, out_dir).

    --quick      a small, fast run (the test suite uses it);
    --out-dir D  where the figures go; by default the repository's figures/
                 folder (or ./figures when minivi is installed elsewhere).
    Unknown arguments are ignored, so the script also runs as a notebook,
    whose kernel passes arguments of its own.
    """
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a small, fast run")
    parser.add_argument("--out-dir", type=Path, default=default_figure_dir(), help="folder for the figures")
    args, _ = parser.parse_known_args(argv)
    return args.quick, args.out_dir


def default_figure_dir() -> Path:
    """figures/ beside the minivi package in a source checkout, else ./figures."""
    repo = Path(__file__).resolve().parent.parent
    return repo / "figures" if (repo / "setup.cfg").exists() else Path.cwd() / "figures"
