"""Toy data sets for minivi's tests and tutorials, in plain NumPy.

Every random draw comes from an ``np.random.Generator`` passed in by the
caller, so the same seed gives bit-identical data. All arrays are float64
(labels are int64). Shapes follow minivi's convention: regression inputs are
``(N, D)`` and targets ``(N, 1)``; class labels are ``(N,)``.

Contents
- ``toy_curve``, ``toy_curve_clean``, ``toy_curve_grid``: the 1-D regression
  curve of Blundell et al. (2015), section 5.2.
- ``two_moons``: two interleaved half circles, a 2-D binary classification set.
- ``linear_gaussian``: y = Phi w + noise, the conjugate model that
  ``minivi.exact`` solves exactly.
- ``load_digits``: the UCI 8x8 handwritten digits (1,797 images), bundled in
  ``minivi/datasets/`` (see ``DIGITS_LICENSE.txt`` there).
- ``load_uci``, ``load_regression_folder``, ``uci_splits``: four UCI regression
  sets of the standard Bayesian-network benchmark (concrete, energy,
  wine-quality-red, yacht; see ``UCI_LICENSE.txt``), any folder in the same
  layout, and the benchmark's 20 standard train/test splits.
- ``train_test_split`` and ``minibatches``: splitting and batching helpers.
"""

import gzip
import numbers
from importlib import resources

import numpy as np

from .nn import check_count, check_positive

# The digits' pixels are counts of "on" pixels in a 4x4 block: integers 0..16.
DIGITS_MAX_PIXEL = 16


# ---------------------------------------------------------------- checks


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}; "
            "create one with rng = np.random.default_rng(seed)"
        )


def _check_real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type {type(value).__name__}"
        )
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}; pass a finite number")
    return value


def _check_interval(low, high, low_name, high_name):
    low, high = _check_real(low, low_name), _check_real(high, high_name)
    if not low < high:
        raise ValueError(
            f"{low_name} must be smaller than {high_name}, got {low_name}={low}, "
            f"{high_name}={high}; swap them or widen the interval"
        )
    return low, high


# ------------------------------------------------- Blundell et al. curve


def toy_curve_clean(x):
    """The noise-free regression curve of Blundell et al. (2015), section 5.2.

        f(x) = x + 0.3 sin(2 pi x) + 0.3 sin(4 pi x)

    Works elementwise on an array (or a number) of any shape and returns
    float64 of the same shape.
    """
    x = np.asarray(x, dtype=np.float64)
    return x + 0.3 * np.sin(2 * np.pi * x) + 0.3 * np.sin(4 * np.pi * x)


def toy_curve(n, rng, x_low=0.0, x_high=0.5, noise_sigma=0.02):
    """Noisy samples of the regression curve of Blundell et al. (2015), section 5.2.

    Blundell, Cornebise, Kavukcuoglu & Wierstra (2015), "Weight Uncertainty in
    Neural Networks", section 5.2, generate

        y = x + 0.3 sin(2 pi (x + eps)) + 0.3 sin(4 pi (x + eps)) + eps,
        eps ~ N(0, 0.02),

    with training inputs x in [0, 0.5]. Here x ~ Uniform(x_low, x_high) and
    eps ~ N(0, noise_sigma^2).

    Note that y = f(x + eps) with f = ``toy_curve_clean``: the noise jitters the
    input, so to first order y - f(x) = f'(x) eps, with
    f'(x) = 1 + 0.6 pi cos(2 pi x) + 1.2 pi cos(4 pi x) (up to 6.65 at x = 0).
    The residuals are heteroscedastic, and over x in [0, 0.5] their
    root-mean-square is about sigma * sqrt(1 + 0.9 pi^2) = 3.1 sigma.

    The 0.02: we read it as the STANDARD DEVIATION of eps (noise_sigma=0.02),
    as reimplementations commonly do; the residuals then have an rms of about
    0.06. Read as a variance (sigma = sqrt(0.02) = 0.14) the rms would be
    about 0.4, a cloud far wider than the training points in the paper's
    figure 5, which hug the curve.

    Draws, in this order: x (n uniforms), then eps (n standard normals).

    Returns
        x: (n, 1) float64 inputs; y: (n, 1) float64 targets.
    """
    n = check_count(n, "n")
    _check_rng(rng)
    x_low, x_high = _check_interval(x_low, x_high, "x_low", "x_high")
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="toy_curve", closed=True, hint="0 gives no noise")
    x = rng.uniform(x_low, x_high, size=(n, 1))
    eps = noise_sigma * rng.standard_normal((n, 1))
    return x, toy_curve_clean(x + eps)


def toy_curve_grid(n=200, x_low=-0.5, x_high=1.2):
    """Evenly spaced inputs and the clean curve, for plotting predictions.

    The default range [-0.5, 1.2] reaches well beyond the training interval
    [0, 0.5], where a Bayesian network's uncertainty should grow.

    Returns
        x: (n, 1) float64, ``np.linspace(x_low, x_high, n)``;
        f(x): (n, 1) float64, ``toy_curve_clean(x)``.
    """
    n = check_count(n, "n")
    x_low, x_high = _check_interval(x_low, x_high, "x_low", "x_high")
    x = np.linspace(x_low, x_high, n).reshape(n, 1)
    return x, toy_curve_clean(x)


# --------------------------------------------------------------- two moons


def two_moons(n, rng, noise_sigma=0.1):
    """Two interleaved half circles, a 2-D binary classification set.

    Class 0 lies on the upper half of the unit circle centred at (0, 0),
    class 1 on the lower half of the unit circle centred at (1, 0.5):

        class 0: (cos t, sin t),             t ~ Uniform(0, pi)
        class 1: (1 - cos t, 0.5 - sin t),   t ~ Uniform(0, pi)

    and every point gets isotropic Gaussian noise N(0, noise_sigma^2 I).
    Class 0 has ceil(n/2) points and class 1 floor(n/2), in shuffled order.

    Draws, in this order: the label order (a permutation of n), the angles t
    (n uniforms), the noise (n x 2 standard normals).

    Returns
        x: (n, 2) float64 points; labels: (n,) int64 in {0, 1}.
    """
    n = check_count(n, "n")
    _check_rng(rng)
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="two_moons", closed=True, hint="0 gives no noise")
    n_class_1 = n // 2
    sorted_labels = np.repeat(np.array([0, 1], dtype=np.int64), [n - n_class_1, n_class_1])
    labels = rng.permutation(sorted_labels)
    t = rng.uniform(0.0, np.pi, size=n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(labels[:, None] == 0, upper, lower)
    x = x + noise_sigma * rng.standard_normal((n, 2))
    return x, labels


# ------------------------------------------------- linear-Gaussian model


def linear_gaussian(n, rng, weights, noise_sigma, x_scale=1.0):
    """Data from the linear-Gaussian model that ``minivi.exact`` solves exactly.

        Phi_nd ~ N(0, x_scale^2)   (independent features)
        y = Phi w + e,   e ~ N(0, noise_sigma^2 I)

    With the prior w ~ N(0, prior_sigma^2 I) the posterior p(w | Phi, y) is
    Gaussian in closed form, so variational answers can be checked against it.

    Draws, in this order: Phi (n x D standard normals), then e (n).

    Parameters
        weights: 1-D array-like of the D true weights w.
        noise_sigma: >= 0, standard deviation of the observation noise.
        x_scale: > 0, standard deviation of each feature.

    Returns
        Phi: (n, D) float64 design matrix; y: (n,) float64 targets
        (1-D, as ``minivi.exact`` expects).
    """
    n = check_count(n, "n")
    _check_rng(rng)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(
            f"weights must be a non-empty 1-D array, got shape {w.shape}; "
            "pass one weight per feature, e.g. weights=[0.5, -1.0]"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or inf; pass finite numbers")
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="linear_gaussian", closed=True, hint="0 gives no noise")
    x_scale = check_positive(x_scale, "x_scale", who="linear_gaussian", hint="the features' standard deviation")
    Phi = x_scale * rng.standard_normal((n, w.size))
    y = Phi @ w + noise_sigma * rng.standard_normal(n)
    return Phi, y


# ------------------------------------------------------------------ digits


def load_digits():
    """The UCI "Optical Recognition of Handwritten Digits" test set, 8x8 pixels.

    Alpaydin & Kaynak (1998), UCI Machine Learning Repository,
    DOI 10.24432/C50P49, licence CC BY 4.0. The bundled file
    ``minivi/datasets/digits.csv.gz`` is the copy that scikit-learn ships
    (scikit-learn is not needed); ``DIGITS_LICENSE.txt`` beside it gives
    source and format. Each row of the file holds 64 pixels (the 8x8 image,
    row by row), integers 0..16, then the label 0..9.

    Returns
        images: (1797, 64) float64, pixels divided by 16 so they lie in [0, 1]
            (``images[i].reshape(8, 8)`` is the picture);
        labels: (1797,) int64 digits 0..9.
    """
    source = resources.files("minivi") / "datasets" / "digits.csv.gz"
    with source.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    images = table[:, :-1].astype(np.float64) / DIGITS_MAX_PIXEL
    return images, table[:, -1]


# ---------------------------------------------------- splits and batches


def train_test_split(x, y, test_fraction, rng):
    """Split paired rows at random into a training and a test part.

    A random permutation of the N rows (one ``rng.permutation(N)`` draw) puts
    the first n_test = round(test_fraction * N) rows into the test part and
    the rest into the training part; x[i] stays paired with y[i].

    Returns
        (x_train, y_train, x_test, y_test), each indexed along axis 0.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same number of rows, got shapes {x.shape} and "
            f"{y.shape}; pass one target row per input row"
        )
    test_fraction = check_positive(test_fraction, "test_fraction", who="train_test_split", below=1.0,
                                   hint="e.g. test_fraction=0.2 keeps a fifth of the rows for testing")
    _check_rng(rng)
    n = x.shape[0]
    n_test = round(test_fraction * n)
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"test_fraction={test_fraction} of {n} rows gives {n_test} test rows, "
            "leaving one part empty; use more data or a fraction nearer 0.5"
        )
    order = rng.permutation(n)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def minibatches(n, batch_size, rng):
    """Index arrays for one epoch of shuffled minibatches over n data points.

    One ``rng.permutation(n)`` draw, cut into consecutive chunks of
    batch_size; every index 0..n-1 appears in exactly one batch, and the last
    batch is smaller when batch_size does not divide n. Call once per epoch
    for a fresh shuffle.

    Returns a list (not a lazy generator, so bad arguments fail here and
    ``len()`` gives the number of batches M = ceil(n / batch_size)) of int64
    index arrays.
    """
    n = check_count(n, "n")
    batch_size = check_count(batch_size, "batch_size")
    _check_rng(rng)
    order = rng.permutation(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


# ------------------------------------------------------ UCI regression

# The bundled sets of the UCI regression benchmark (Hernandez-Lobato & Adams 2015),
# name -> file in minivi/datasets/; UCI_LICENSE.txt there gives authors and licence.
UCI_NAMES = ("concrete", "energy", "wine-quality-red", "yacht")


def load_uci(name):
    """One of the four bundled UCI regression sets, as (x, y).

    name: "concrete" (1030 x 8), "energy" (768 x 8), "wine-quality-red"
    (1599 x 11) or "yacht" (308 x 6). The files are the benchmark's
    ``data.txt`` (whitespace-separated numbers, one row per example, the last
    column the target), gzip-compressed in ``minivi/datasets/uci-<name>.txt.gz``;
    ``UCI_LICENSE.txt`` beside them names the authors and the licence (CC BY 4.0).
    Note that "energy" is the heating-load target only.

    Returns
        x: (N, D) float64 features; y: (N, 1) float64 target.
    """
    if name not in UCI_NAMES:
        raise ValueError(f"unknown UCI data set {name!r}; the bundled ones are {', '.join(UCI_NAMES)} "
                         "(for a folder of your own with a data.txt, use load_regression_folder)")
    source = resources.files("minivi") / "datasets" / f"uci-{name}.txt.gz"
    with source.open("rb") as raw, gzip.open(raw, "rt") as text:
        return _parse_regression_table(text, f"minivi/datasets/uci-{name}.txt.gz")


def load_regression_folder(folder):
    """(x, y) from ``<folder>/data.txt`` in the UCI benchmark's layout.

    The layout: whitespace-separated numbers, one example per line, every
    line with the same number (at least 2) of columns; the last column is the
    target, the others are features. Blank lines are skipped.

    Refuses, naming the file and the line: a cell that is not a number, a
    NaN or inf, a row of another length. Refuses a file with fewer than two
    rows or a constant target (nothing to learn or to standardise by).

    Returns
        x: (N, D) float64 features; y: (N, 1) float64 target.
    """
    from pathlib import Path

    path = Path(folder)
    if path.is_dir():
        path = path / "data.txt"
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}; pass a folder holding a data.txt "
                                "(whitespace-separated numbers, last column the target)")
    with open(path, encoding="utf-8") as text:
        return _parse_regression_table(text, str(path))


def _parse_regression_table(lines, filename):
    """Read whitespace-separated rows of numbers; every refusal names the file and the line."""
    rows, n_columns = [], None
    for line_number, line in enumerate(lines, start=1):
        cells = line.split()
        if not cells:
            continue
        where = f"{filename}, line {line_number}"
        try:
            row = [float(cell) for cell in cells]
        except ValueError:
            bad = next(cell for cell in cells if not _is_number(cell))
            raise ValueError(f"{where}: the cell {bad!r} is not a number; every cell must be a number "
                             "(fix or delete that line)") from None
        if not all(np.isfinite(row)):
            raise ValueError(f"{where}: NaN or inf entry ({line.strip()!r}); the benchmark needs complete rows, "
                             "so drop or impute that row first")
        if n_columns is None:
            n_columns = len(row)
            if n_columns < 2:
                raise ValueError(f"{where}: a row needs at least 2 columns (features, then the target), "
                                 f"got {n_columns}")
        elif len(row) != n_columns:
            raise ValueError(f"{where}: {len(row)} columns, but the first row has {n_columns}; "
                             "every row needs the same number of columns")
        rows.append(row)
    if len(rows) < 2:
        raise ValueError(f"{filename}: {len(rows)} data row(s); at least 2 are needed to standardise the target "
                         "(and mv.data.uci_splits needs 5 to leave a test row)")
    table = np.array(rows, dtype=np.float64)
    x, y = table[:, :-1], table[:, -1:]
    if np.all(y == y[0]):
        raise ValueError(f"{filename}: the target (last column) is constant ({y[0, 0]:g} on every row): "
                         "there is nothing to predict and its standard deviation is 0; check the last column")
    return x, y


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def uci_splits(n, n_splits=20):
    """The standard train/test splits of the UCI benchmark: a list of (train, test) index arrays.

    Hernandez-Lobato & Adams (2015) made 20 random 90/10 splits with NumPy's
    legacy global generator, and Gal & Ghahramani (2016) published them:

        np.random.seed(1)
        for each split:
            permutation = np.random.choice(range(n), n, replace=False)
            train, test = permutation[:round(0.9 n)], permutation[round(0.9 n):]

    This function repeats that recipe draw for draw, so it returns the
    published index files row for row. It is the one documented exception to
    "every draw takes a Generator": the point is to reproduce those exact
    splits. It does not disturb your own use of ``np.random``: the global
    state is saved before and restored after (even on error).

    Split k of ``uci_splits(n, K)`` is the same for every K >= k + 1.

    Returns
        a list of n_splits pairs (train, test) of int64 index arrays; train has
        round(0.9 n) entries, test the rest, together a permutation of 0..n-1.
        n must be at least 5: below that round(0.9 n) = n leaves the test part empty.
    """
    n = check_count(n, "n")
    end_train = round(n * 9.0 / 10)
    if end_train >= n:   # n <= 4: round(0.9 n) = n, every row would train
        raise ValueError(f"n must be at least 5 to split into a training and a test part: with n = {n} rows, "
                         f"round(0.9 n) = {end_train} go to training and none is left to test")
    n_splits = check_count(n_splits, "n_splits")
    saved = np.random.get_state()
    try:
        np.random.seed(1)
        splits = []
        for _ in range(n_splits):
            permutation = np.random.choice(range(n), n, replace=False)
            splits.append((permutation[:end_train].astype(np.int64), permutation[end_train:].astype(np.int64)))
    finally:
        np.random.set_state(saved)
    return splits
