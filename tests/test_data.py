"""Tests for minivi.data: reproducibility, shapes, the documented generative
formulas checked statistically, the bundled digits, and argument errors."""

import hashlib
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivi import data


def rng(seed=0):
    return np.random.default_rng(seed)


def blundell_curve(u):
    """Blundell et al. (2015) section 5.2 curve with eps = 0, written out
    again here so the tests do not trust minivi's own version."""
    return u + 0.3 * np.sin(2 * np.pi * u) + 0.3 * np.sin(4 * np.pi * u)


# -------------------------------------------------------- reproducibility

SAMPLERS = {
    "toy_curve": lambda r: data.toy_curve(50, r),
    "two_moons": lambda r: data.two_moons(50, r),
    "linear_gaussian": lambda r: data.linear_gaussian(50, r, [1.0, -2.0], 0.5),
    "train_test_split": lambda r: data.train_test_split(
        np.arange(50.0), np.arange(50.0), 0.2, r
    ),
    "minibatches": lambda r: data.minibatches(50, 8, r),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_same_bits_different_seed_different_data(name):
    first, again, other = (SAMPLERS[name](rng(seed)) for seed in (7, 7, 8))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first, other))


# --------------------------------------------------------- toy curve


def test_toy_curve_clean_hand_values():
    # f(0) = 0; f(1/8) = 1/8 + 0.3 sin(pi/4) + 0.3 sin(pi/2);
    # f(1/4) = 1/4 + 0.3 + 0.3 sin(pi) = 0.55; f(1/2) = 1/2 (both sines vanish).
    # Tolerance: a few ulps of rounding in sin.
    x = np.array([0.0, 0.125, 0.25, 0.5])
    expected = np.array([0.0, 0.125 + 0.3 * np.sqrt(0.5) + 0.3, 0.55, 0.5])
    np.testing.assert_allclose(data.toy_curve_clean(x), expected, rtol=0, atol=1e-15)


def test_toy_curve_shapes_dtypes_and_input_range():
    n, low, high = 20_000, 0.0, 0.5
    x, y = data.toy_curve(n, rng(), x_low=low, x_high=high)
    assert x.shape == (n, 1) and y.shape == (n, 1)
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert np.all((x >= low) & (x < high))
    # Uniform(low, high) has mean (low+high)/2 and standard deviation
    # (high-low)/sqrt(12); 4 standard errors of the sample mean.
    assert abs(x.mean() - (low + high) / 2) < 4 * (high - low) / np.sqrt(12 * n)


def test_toy_curve_without_noise_lies_on_the_curve():
    x, y = data.toy_curve(100, rng(), noise_sigma=0.0)
    # Same formula evaluated twice, so only rounding can differ (|f| < 1.5).
    np.testing.assert_allclose(y, blundell_curve(x), rtol=0, atol=1e-14)


def residual_z_score(x, y, noise_sigma):
    """z-score of sum (y - f(x))^2 under y = f(x + eps), eps ~ N(0, noise_sigma^2).

    Given x, r = f(x + eps) - f(x). Its moments E[r^2 | x] and E[r^4 | x] are
    Gaussian expectations, computed by Gauss-Hermite quadrature (probabilists'
    weight exp(-z^2/2); the weights sum to sqrt(2 pi)). 80 nodes integrate these
    smooth integrands to near machine precision for noise_sigma <= 0.15. The
    sum of the n independent r^2 then has mean sum E[r^2|x] and variance
    sum (E[r^4|x] - E[r^2|x]^2), so the returned z is approximately N(0, 1).
    """
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / np.sqrt(2 * np.pi)
    r = blundell_curve(x + noise_sigma * z) - blundell_curve(x)  # (n, 80)
    m2, m4 = (r**2) @ w, (r**4) @ w
    observed = np.sum((y[:, 0] - blundell_curve(x[:, 0])) ** 2)
    return (observed - m2.sum()) / np.sqrt(np.sum(m4 - m2**2))


@pytest.mark.parametrize("noise_sigma", [0.02, 0.1])
def test_toy_curve_noise_level_is_the_documented_standard_deviation(noise_sigma):
    x, y = data.toy_curve(20_000, rng(3), noise_sigma=noise_sigma)
    # |z| < 4: a correct sampler fails with probability 6e-5.
    assert abs(residual_z_score(x, y, noise_sigma)) < 4


def test_toy_curve_noise_is_not_the_variance_reading():
    # Power check of the test above: data drawn with sigma = 0.02 must be
    # rejected if we pretend 0.02 were the variance (sigma = 0.141).
    x, y = data.toy_curve(20_000, rng(3), noise_sigma=0.02)
    assert residual_z_score(x, y, np.sqrt(0.02)) < -50


def test_toy_curve_grid():
    x, fx = data.toy_curve_grid(n=35, x_low=-0.5, x_high=1.2)
    assert x.shape == (35, 1) and fx.shape == (35, 1) and x.dtype == np.float64
    assert x[0, 0] == -0.5 and x[-1, 0] == 1.2
    np.testing.assert_allclose(np.diff(x[:, 0]), 1.7 / 34, rtol=1e-12)
    np.testing.assert_allclose(fx, blundell_curve(x), rtol=0, atol=1e-14)


# ---------------------------------------------------------- two moons


def test_two_moons_shapes_dtypes_and_balance():
    x, labels = data.two_moons(1001, rng())
    assert x.shape == (1001, 2) and x.dtype == np.float64
    assert labels.shape == (1001,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [501, 500]
    assert np.any(np.diff(labels) < 0)  # shuffled, not sorted by class


def test_two_moons_noiseless_points_lie_on_their_half_circles():
    x, labels = data.two_moons(2000, rng(), noise_sigma=0.0)
    upper, lower = x[labels == 0], x[labels == 1]
    # Rounding only: cos^2 + sin^2 = 1 to a few ulps.
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(*(lower - [1.0, 0.5]).T), 1.0, rtol=0, atol=1e-12)
    assert np.all(upper[:, 1] >= 0) and np.all(lower[:, 1] <= 0.5)
    # The angles fill (0, pi): both ends of each moon are reached. With 1000
    # uniform angles, the chance of none within 0.05 rad of an end is
    # (1 - 0.05/pi)^1000 < 1e-6.
    assert upper[:, 0].max() > np.cos(0.05) and upper[:, 0].min() < -np.cos(0.05)
    assert lower[:, 0].min() < 1 - np.cos(0.05) and lower[:, 0].max() > 1 + np.cos(0.05)


def test_two_moons_noise_level():
    noise_sigma, n = 0.05, 20_000
    x, labels = data.two_moons(n, rng(1), noise_sigma=noise_sigma)
    centres = np.where(labels[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    radial = np.hypot(*(x - centres).T) - 1.0
    # Isotropic noise moves a point off its unit circle by sigma * z_radial +
    # O(sigma^2), so the radial spread is sigma (1 + O(sigma^2) = 0.25%).
    # Sample std has relative standard error 1/sqrt(2n) = 0.5%: 3% allows
    # 4 standard errors plus the bias.
    assert abs(radial.std() / noise_sigma - 1) < 0.03


# --------------------------------------------------- linear-Gaussian model


def test_linear_gaussian_recovers_weights_within_standard_errors():
    w = np.array([0.5, -1.0, 2.0])
    n, noise_sigma, x_scale = 2000, 0.3, 2.0
    Phi, y = data.linear_gaussian(n, rng(2), w, noise_sigma, x_scale=x_scale)
    assert Phi.shape == (n, 3) and y.shape == (n,)
    assert Phi.dtype == np.float64 and y.dtype == np.float64
    w_hat = np.linalg.lstsq(Phi, y, rcond=None)[0]
    # Least squares: w_hat ~ N(w, noise_sigma^2 (Phi^T Phi)^-1) given Phi.
    standard_error = noise_sigma * np.sqrt(np.diag(np.linalg.inv(Phi.T @ Phi)))
    assert np.all(np.abs(w_hat - w) < 4 * standard_error)
    # ||y - Phi w||^2 / noise_sigma^2 ~ chi^2_n: mean n, std sqrt(2n).
    chi2 = np.sum((y - Phi @ w) ** 2) / noise_sigma**2
    assert abs(chi2 - n) < 4 * np.sqrt(2 * n)
    # Features ~ N(0, x_scale^2): the sample variance of the 3n entries has
    # relative standard error sqrt(2 / 3n).
    assert abs(Phi.var() / x_scale**2 - 1) < 4 * np.sqrt(2 / (3 * n))


def test_linear_gaussian_without_noise_is_exactly_linear():
    w = [1.5, -0.5]
    Phi, y = data.linear_gaussian(10, rng(), w, noise_sigma=0.0)
    np.testing.assert_allclose(y, Phi @ np.array(w), rtol=1e-15, atol=0)


# ------------------------------------------------------------------ digits
# Facts below were read from the raw CSV inside the scikit-learn 1.9.1 wheel
# with zcat/awk, not from load_digits: the class counts are also those UCI
# lists for optdigits.tes; pixels 0, 32 and 39 are zero in every image; the
# first line of the file is the digit 0 with the pixels in FIRST_IMAGE.

UCI_TEST_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
FIRST_IMAGE = [
    0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0,
    0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0,
    0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0,
    0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0,
]  # fmt: skip
# SHA-256 of the file as shipped by scikit-learn (see DIGITS_LICENSE.txt).
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def test_bundled_digits_file_is_the_published_one():
    source = resources.files("minivi") / "datasets" / "digits.csv.gz"
    assert hashlib.sha256(source.read_bytes()).hexdigest() == DIGITS_SHA256
    licence = (resources.files("minivi") / "datasets" / "DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in licence and "10.24432/C50P49" in licence


def test_digits_shapes_dtypes_and_range(digits):
    images, labels = digits
    assert images.shape == (1797, 64) and images.dtype == np.float64
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    # Pixels were integers 0..16 divided by 16, which is exact in binary.
    np.testing.assert_array_equal(images * 16, np.round(images * 16))


def test_digits_known_facts(digits):
    images, labels = digits
    assert np.bincount(labels, minlength=10).tolist() == UCI_TEST_CLASS_COUNTS
    assert np.all(images[:, [0, 32, 39]] == 0.0)
    assert labels[0] == 0
    np.testing.assert_array_equal(images[0] * 16, FIRST_IMAGE)


# ------------------------------------------------------ splits and batches


@pytest.mark.parametrize("y_shape", [(10,), (10, 1)])
def test_train_test_split_partitions_and_keeps_pairs(y_shape):
    x = np.arange(20.0).reshape(10, 2)
    y = (10 * x[:, 0]).reshape(y_shape)
    x_train, y_train, x_test, y_test = data.train_test_split(x, y, 0.3, rng())
    assert x_train.shape == (7, 2) and x_test.shape == (3, 2)
    assert y_train.shape == (7,) + y_shape[1:] and y_test.shape == (3,) + y_shape[1:]
    # Every row lands in exactly one part, still next to its own target.
    rows = np.concatenate([x_train, x_test])
    np.testing.assert_array_equal(np.sort(rows[:, 0]), x[:, 0])
    np.testing.assert_array_equal(y_train.reshape(-1), 10 * x_train[:, 0])
    np.testing.assert_array_equal(y_test.reshape(-1), 10 * x_test[:, 0])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), batch_size=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
def test_minibatches_cover_every_index_once(n, batch_size, seed):
    batches = data.minibatches(n, batch_size, rng(seed))
    assert len(batches) == -(-n // batch_size)  # ceil(n / batch_size)
    assert all(len(b) == batch_size for b in batches[:-1])
    assert 1 <= len(batches[-1]) <= batch_size
    every = np.concatenate(batches)
    assert every.dtype.kind == "i"
    np.testing.assert_array_equal(np.sort(every), np.arange(n))


def test_minibatches_reshuffle_every_epoch():
    generator = rng()
    first, second = data.minibatches(100, 100, generator), data.minibatches(100, 100, generator)
    assert not np.array_equal(first[0], second[0])


# ------------------------------------------------------------------ errors

x10, y9 = np.zeros((10, 2)), np.zeros(9)
BAD_CALLS = [
    (lambda: data.toy_curve(0, rng()), ValueError, "n must be a whole number >= 1, got 0"),
    (lambda: data.toy_curve(2.5, rng()), TypeError, r"n must be a whole number >= 1 \(an int\), got 2.5"),
    (lambda: data.toy_curve(True, rng()), TypeError, r"n must be a whole number >= 1 \(an int\), got True"),
    (lambda: data.toy_curve(10, 42), TypeError, "default_rng"),
    (lambda: data.toy_curve(10, rng(), noise_sigma=-0.1), ValueError, r"noise_sigma must be one non-negative finite number \(>= 0\)"),
    (lambda: data.toy_curve(10, rng(), noise_sigma=np.nan), ValueError, "finite"),
    (lambda: data.toy_curve(10, rng(), x_low=1.0, x_high=0.0), ValueError, "smaller"),
    (lambda: data.toy_curve_grid(n=0), ValueError, "n must be a whole number >= 1, got 0"),
    (lambda: data.two_moons(10, rng(), noise_sigma=-1.0), ValueError, "noise_sigma"),
    (lambda: data.two_moons(10, np.random.RandomState(0)), TypeError, "Generator"),
    (lambda: data.linear_gaussian(10, rng(), [[1.0, 2.0]], 0.1), ValueError, r"1-D.*\(1, 2\)"),
    (lambda: data.linear_gaussian(10, rng(), [], 0.1), ValueError, "non-empty"),
    (lambda: data.linear_gaussian(10, rng(), [1.0, np.inf], 0.1), ValueError, "NaN or inf"),
    (lambda: data.linear_gaussian(10, rng(), [1.0], 0.1, x_scale=0.0), ValueError, "x_scale"),
    (lambda: data.train_test_split(x10, y9, 0.2, rng()), ValueError, r"\(10, 2\) and \(9,\)"),
    (lambda: data.train_test_split(x10, x10, 0.0, rng()), ValueError, r"test_fraction must be one finite number in \(0, 1\)"),
    (lambda: data.train_test_split(x10, x10, 1.0, rng()), ValueError, r"test_fraction must be one finite number in \(0, 1\)"),
    (lambda: data.train_test_split(x10, x10, 0.01, rng()), ValueError, "0 test rows"),
    (lambda: data.minibatches(10, 0, rng()), ValueError, "batch_size must be a whole number >= 1, got 0"),
    (lambda: data.minibatches(10, 2, None), TypeError, "Generator"),
]


@pytest.mark.parametrize("call, error, message", BAD_CALLS)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
