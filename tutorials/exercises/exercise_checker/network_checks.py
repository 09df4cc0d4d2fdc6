"""Checks for exercises 5-7: the minibatch ELBO's KL weights, predictive uncertainty, local reparameterisation.

Ground truth: the formulas written out again here, the ELBO's defining
property (the M minibatch losses of an epoch add up to KL + Σ nll), special
cases with known answers (agreeing samples have zero mutual information),
and Monte Carlo estimates with seeded generators and stated tolerances.
"""
import numpy as np

from .core import Failure, as_array, as_tuple, exercise, expect_close, function, matches, number

# A correct formula differs from ours by rounding only: values use rtol 1e-10.
VALUE_RTOL = 1e-10

# ================================================================ exercise 5: minibatch ELBO with Blundell's KL weights

EX5 = exercise(5, "elbo", "ex5_elbo.py", "the minibatch ELBO with Blundell's KL weights (steps 3 and 8)",
               ("blundell_weights", "minibatch_losses"))


def true_blundell(n_batches):
    """π_i = 2^(M-i) / (2^M - 1), i = 1..M, with Python's exact integers (no overflow)."""
    return np.array([2 ** (n_batches - i) / (2 ** n_batches - 1) for i in range(1, n_batches + 1)])


def _weights(m, n_batches):
    return as_array(function(m, "blundell_weights")(n_batches), f"blundell_weights({n_batches})")


@EX5.check("blundell_weights(M) sum to 1 for M = 1, 2, 3, 10")
def _weights_sum(m):
    for n_batches in (1, 2, 3, 10):
        weights = _weights(m, n_batches)
        total = float(np.sum(weights))
        if not abs(total - 1.0) <= 1e-12:   # a sum of M exact fractions: rounding only
            hints = ["elbo-weights-not-sum-to-one"]
            if abs(total - 2.0) <= 1e-9:
                hints.append("elbo-weights-index-from-zero")
            elif abs(total - (1 - 2.0 ** -n_batches)) <= 1e-9:
                hints.append("elbo-weights-denominator")
            raise Failure([f"checked: the sum of blundell_weights({n_batches})",
                           "expected 1   (the KL counted exactly once per epoch)",
                           f"got      {number(total)}   (weights {number(weights)})"], hints)


@EX5.check("blundell_weights(4) = [8, 4, 2, 1] / 15, i.e. π_i = 2^(M−i) / (2^M − 1)")
def _weights_values(m):
    truth = true_blundell(4)

    def diagnose(got):
        if matches(got, truth[::-1]):
            return ["elbo-weights-order"]
        return ["elbo-weights-uniform"] if matches(got, np.full(4, 0.25)) else []

    expect_close(_weights(m, 4), truth, what="blundell_weights(4)", rtol=VALUE_RTOL, atol=0.0,
                 truth="2^(M−i) / (2^M − 1)", diagnose=diagnose, generic="elbo-weights-formula")


@EX5.check("blundell_weights(2000), a long epoch: finite and summing to 1")
def _weights_long_epoch(m):
    try:
        weights = _weights(m, 2000)
    except OverflowError as error:   # Python floats raise where NumPy returns inf
        raise Failure(["checked: blundell_weights(2000)", f"your code raised OverflowError: {error}"],
                      ["elbo-weights-overflow"]) from None
    if weights.shape != (2000,) or not np.all(np.isfinite(weights)) or not abs(np.sum(weights) - 1.0) <= 1e-12:
        n_bad = int(np.sum(~np.isfinite(weights)))
        raise Failure(["checked: blundell_weights(2000)",
                       "expected 2000 finite weights summing to 1, the first 0.5, the second 0.25",
                       f"got      shape {weights.shape}, {n_bad} not finite, first two {number(weights[:2])}, "
                       f"sum {number(np.sum(weights))}"],
                      ["elbo-weights-overflow"] if n_bad else ["elbo-weights-formula"])


KL, NLLS = 12.5, np.array([30.0, 27.5, 31.25, 29.0])


@EX5.check("minibatch_losses(kl, nlls)[i] = π_i·KL + nll_i")
def _losses_values(m):
    pi = true_blundell(len(NLLS))
    got = function(m, "minibatch_losses")(KL, NLLS.copy())

    def diagnose(got):
        wrong = {"elbo-loss-weighted-data": pi * (KL + NLLS), "elbo-loss-kl-unweighted": KL + NLLS,
                 "elbo-loss-sign": pi * KL - NLLS, "elbo-loss-uniform-weights": KL / len(NLLS) + NLLS,
                 "elbo-weights-order": pi[::-1] * KL + NLLS}
        keys = [key for key, value in wrong.items() if matches(got, value)][:1]
        own = _weights(m, len(NLLS))
        if not keys and not matches(own, pi) and matches(got, own * KL + NLLS):
            keys = ["elbo-loss-own-weights"]
        return keys

    expect_close(got, pi * KL + NLLS, what="minibatch_losses(kl, nlls)", inputs={"nll_i": NLLS, "kl": KL},
                 rtol=VALUE_RTOL, atol=0.0, truth="π_i·KL + nll_i", diagnose=diagnose, generic="elbo-loss-formula")


@EX5.check("the M minibatch losses of an epoch add up to the negative ELBO, KL + Σ nll_i")
def _losses_sum(m):
    total = float(np.sum(as_array(function(m, "minibatch_losses")(KL, NLLS.copy()), "minibatch_losses")))
    if not abs(total - (KL + NLLS.sum())) <= 1e-10 * (KL + NLLS.sum()):
        kl_count = (total - NLLS.sum()) / KL
        hints = ["elbo-weights-not-sum-to-one"] if abs(kl_count - 1) > 1e-9 else ["elbo-loss-formula"]
        raise Failure([f"checked: the sum of minibatch_losses(kl={KL}, nlls={number(NLLS)})",
                       f"expected {number(KL + NLLS.sum())}   (KL + Σ nll_i: every term counted once)",
                       f"got      {number(total)}   (the KL counted {number(kl_count)} times if the nlls are "
                       "counted once)"], hints)


# ================================================================ exercise 6: predictive uncertainty

EX6 = exercise(6, "uncertainty", "ex6_uncertainty.py",
               "predictive entropy and mutual information from sampled probabilities (step 2)",
               ("predictive_entropy", "mutual_information"))


def _entropy(p):
    """-Σ_c p_c log p_c over the last axis, with 0 log 0 = 0."""
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def true_uncertainty(probs):
    """(predictive entropy H[mean_s p_s], mutual information H[mean_s p_s] - mean_s H[p_s])."""
    predictive = _entropy(probs.mean(axis=0))
    return predictive, predictive - _entropy(probs).mean(axis=0)


RANDOM_PROBS = np.random.default_rng(7).dirichlet(np.full(4, 0.7), size=(6, 3))   # (S=6, N=3, C=4)
# Point 0: all 4 samples certain of class 0. Point 1: two samples certain of class 0, two of class 1.
ONE_HOT_PROBS = np.array([[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
                          [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])


def _diagnose_uncertainty(probs, which):
    predictive, mi = true_uncertainty(probs)
    expected_entropy = _entropy(probs).mean(axis=0)
    truth = (predictive, mi)[which]

    def diagnose(got):
        if got.shape != truth.shape:
            return ["unc-wrong-axis"]
        if np.any(np.isnan(got)):
            return ["unc-zero-prob"]
        if any(matches(got, truth / np.log(base)) for base in (2.0, 10.0)):
            return ["unc-log-base"]
        wrong = ({"unc-entropy-of-mean": expected_entropy, "unc-entropy-sign": -predictive} if which == 0 else
                 {"unc-mi-sign": -mi, "unc-mi-is-entropy": predictive,
                  "unc-mi-summed-entropies": predictive - len(probs) * expected_entropy})
        keys = [key for key, value in wrong.items() if matches(got, value)][:1]
        if which == 1 and not keys and matches(got, expected_entropy):
            keys = ["unc-mi-is-entropy"]
        return keys
    return diagnose


def _check_uncertainty(m, name, which, probs, description):
    got = function(m, name)(probs.copy())
    expect_close(got, true_uncertainty(probs)[which], what=f"{name}(probs) on {description}",
                 inputs={"probs": probs} if probs.size <= 12 else None, rtol=VALUE_RTOL, atol=1e-12,
                 truth=("H[(1/S) Σ_s p_s]", "H[(1/S) Σ_s p_s] − (1/S) Σ_s H[p_s]")[which],
                 diagnose=_diagnose_uncertainty(probs, which),
                 generic=("unc-entropy-formula", "unc-mi-formula")[which])


EX6.check("predictive_entropy on random probabilities, shape (S=6, N=3, C=4)")(
    lambda m: _check_uncertainty(m, "predictive_entropy", 0, RANDOM_PROBS, "random probabilities (6, 3, 4)"))
EX6.check("predictive_entropy with zero probabilities: 0 (all samples agree) and log 2 (they split)")(
    lambda m: _check_uncertainty(m, "predictive_entropy", 0, ONE_HOT_PROBS, "one-hot samples (4, 2, 3)"))
EX6.check("mutual_information on random probabilities, shape (S=6, N=3, C=4)")(
    lambda m: _check_uncertainty(m, "mutual_information", 1, RANDOM_PROBS, "random probabilities (6, 3, 4)"))
EX6.check("mutual_information: 0 when all samples agree, log 2 when certain samples split two ways")(
    lambda m: _check_uncertainty(m, "mutual_information", 1, ONE_HOT_PROBS, "one-hot samples (4, 2, 3)"))


# ================================================================ exercise 7: local reparameterisation

EX7 = exercise(7, "lrt", "ex7_local_reparam.py",
               "the local reparameterisation forward: moments of x @ W, then a sample (Kingma et al. 2015)",
               ("lrt_moments", "lrt_sample"))


def _lrt_case():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(5, 3))
    mu, sigma = rng.normal(size=(3, 2)), rng.uniform(0.2, 1.5, size=(3, 2))
    return x, mu, sigma, x @ mu, (x ** 2) @ (sigma ** 2)


def _moments(m, x, mu, sigma):
    return as_tuple(function(m, "lrt_moments")(x.copy(), mu.copy(), sigma.copy()), ("mean", "var"), "lrt_moments")


def _diagnose_var(x, mu, sigma):
    wrong = {"lrt-sigma-for-variance": [(x ** 2) @ sigma, x @ sigma, np.abs(x) @ sigma],
             "lrt-x-not-squared": [x @ (sigma ** 2)], "lrt-sum-of-stds": [(x @ sigma) ** 2],
             "lrt-returned-std": [np.sqrt((x ** 2) @ (sigma ** 2))]}
    return lambda got: [key for key, values in wrong.items() if any(matches(got, v) for v in values)][:1]


@EX7.check("lrt_moments(x, mu, sigma): mean = x @ mu and var = (x²) @ (σ²)")
def _lrt_moments(m):
    x, mu, sigma, mean, var = _lrt_case()
    got_mean, got_var = _moments(m, x, mu, sigma)
    expect_close(got_mean, mean, what="lrt_moments(x, mu, sigma): mean", rtol=VALUE_RTOL, atol=1e-12,
                 truth="Σ_i x_i μ_ij", generic="lrt-mean")
    expect_close(got_var, var, what="lrt_moments(x, mu, sigma): var", rtol=VALUE_RTOL, atol=1e-12,
                 truth="Σ_i x_i² σ_ij²", diagnose=_diagnose_var(x, mu, sigma), generic="lrt-variance")


@EX7.check("lrt_moments agree with the mean and variance of x @ W over 20000 sampled weight matrices")
def _lrt_monte_carlo(m):
    x, mu, sigma, _, _ = _lrt_case()
    n = 20_000
    weights = mu + sigma * np.random.default_rng(9).standard_normal((n, *mu.shape))
    pre = np.einsum("ni,sij->snj", x, weights)
    mc_mean, mc_var = pre.mean(axis=0), pre.var(axis=0, ddof=1)
    # Standard errors: of a mean sqrt(var/n); of a Gaussian sample variance var·sqrt(2/(n-1)).
    # 5 of them: a correct answer fails by chance with probability < 1e-5 per entry (and the seed is fixed).
    se_mean, se_var = np.sqrt(mc_var / n), mc_var * np.sqrt(2 / (n - 1))
    got_mean, got_var = _moments(m, x, mu, sigma)
    for name, got, estimate, se, diagnose, generic in (
            ("mean", got_mean, mc_mean, se_mean, None, "lrt-mean"),
            ("var", got_var, mc_var, se_var, _diagnose_var(x, mu, sigma), "lrt-variance")):
        if got.shape != estimate.shape:
            raise Failure([f"checked: lrt_moments: {name}", f"expected shape {estimate.shape}, got {got.shape}"],
                          ["shape"])
        z = np.abs(got - estimate) / se
        if not np.all(z <= 5):
            i = np.unravel_index(np.argmax(np.where(np.isnan(z), np.inf, z)), z.shape)
            hints = (diagnose(got) if diagnose else []) or [generic]
            raise Failure([f"checked: lrt_moments(x, mu, sigma): {name} of pre-activation {tuple(map(int, i))}",
                           f"expected {number(estimate[i])} ± {number(se[i])}   (Monte Carlo over {n} "
                           "weight matrices W ~ N(μ, σ²))",
                           f"got      {number(got[i])}"], hints)


def _diagnose_sample(m, x, mu, sigma, mean, var, seed):
    eps = np.random.default_rng(seed).standard_normal(mean.shape)
    shared_w = mu + sigma * np.random.default_rng(seed).standard_normal(mu.shape)

    def diagnose(got):
        wrong = {"lrt-sample-uses-variance": mean + var * eps, "lrt-sample-shared-weights": x @ shared_w,
                 "lrt-sigma-for-variance": mean + np.sqrt((x ** 2) @ sigma) * eps}
        keys = [key for key, value in wrong.items() if matches(got, value)][:1]
        own_mean, own_var = _moments(m, x, mu, sigma)
        if not keys and not (matches(own_mean, mean) and matches(own_var, var)) \
                and matches(got, own_mean + np.sqrt(own_var) * eps):
            keys = ["lrt-sample-own-moments"]
        return keys
    return diagnose


@EX7.check("lrt_sample(x, mu, sigma, rng) = mean + sqrt(var)·ε with ε = rng.standard_normal(mean.shape)")
def _lrt_sample_exact(m):
    x, mu, sigma, mean, var = _lrt_case()
    eps = np.random.default_rng(10).standard_normal(mean.shape)
    got = function(m, "lrt_sample")(x.copy(), mu.copy(), sigma.copy(), np.random.default_rng(10))
    expect_close(got, mean + np.sqrt(var) * eps, what="lrt_sample(x, mu, sigma, np.random.default_rng(10))",
                 inputs={"eps": eps}, rtol=1e-9, atol=1e-12, truth="mean + sqrt(var)·ε, the same ε",
                 diagnose=_diagnose_sample(m, x, mu, sigma, mean, var, 10), generic="lrt-sample-eps")


@EX7.check("lrt_sample: 4000 rows with the same input x give independent samples with that mean and variance")
def _lrt_sample_statistics(m):
    x, mu, sigma, mean, var = _lrt_case()
    n = 4000
    rows = np.repeat(x[:1], n, axis=0)
    samples = as_array(function(m, "lrt_sample")(rows, mu.copy(), sigma.copy(), np.random.default_rng(11)),
                       "lrt_sample")
    if samples.shape != (n, mu.shape[1]):
        raise Failure([f"checked: lrt_sample on x of shape {rows.shape}",
                       f"expected shape {(n, mu.shape[1])}, got {samples.shape}"], ["shape"])
    got_var = samples.var(axis=0, ddof=1)
    # As above: 5 standard errors of a Gaussian sample mean and variance.
    z_mean = np.abs(samples.mean(axis=0) - mean[0]) / np.sqrt(var[0] / n)
    z_var = np.abs(got_var - var[0]) / (var[0] * np.sqrt(2 / (n - 1)))
    if not (np.all(z_mean <= 5) and np.all(z_var <= 5)):
        j = int(np.argmax(np.nan_to_num(np.maximum(z_mean, z_var), nan=np.inf)))
        if np.all(got_var < 1e-12 * var[0]):
            hints = ["lrt-sample-shared-weights"]
        elif matches(got_var, var[0] ** 2, rtol=0.2):   # Var(var·ε) = var²; 20% is far wider than the sampling error
            hints = ["lrt-sample-uses-variance"]
        else:
            hints = ["lrt-variance"]
        raise Failure([f"checked: the variance across {n} rows of lrt_sample for the same input, output {j}",
                       f"expected {number(var[0, j])}   (Σ_i x_i² σ_ij²; a sampling error of about "
                       f"{number(var[0, j] * np.sqrt(2 / (n - 1)))} is allowed five times)",
                       f"got      {number(got_var[j])}   (sample mean {number(samples[:, j].mean())}, "
                       f"expected {number(mean[0, j])})"], hints)
