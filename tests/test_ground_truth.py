"""End-to-end: does variational inference find the truth?

1. On the conjugate linear-Gaussian model, where `minivi.exact` knows the
   answer, a BayesLinear layer trained by minimising the negative ELBO
   (steps 3-8) ends at the best mean-field q, and its Monte Carlo ELBO matches
   the exact one.
2. A Bayesian net on Blundell et al.'s toy curve is unsure away from the data.
3. A Bayesian classifier on two moons is accurate and unsure between the classes.
4. The same seed gives the same bits; another seed gives other ones.

Seeds. Each test runs on one seed so that it is deterministic. The thresholds
were NOT fitted to that seed: every training below was also run with other
seeds while writing these tests, and each comment gives the range measured
over them and the margin left to the threshold.
"""
import functools

import numpy as np
import pytest

import minivi as mv

# ---------------------------------------------------------------- 1. the conjugate model

# Two features, correlated by mixing the columns of linear_gaussian's
# independent ones: phi = (z1, 0.8 z1 + 0.6 z2), correlation 0.8. The posterior
# is then correlated too, and the mean-field optimum's sigma_i = 1/sqrt(Λ_ii)
# is well below the marginal posterior sd sqrt(cov_ii) (checked below), so the
# sigma check tells "found the mean-field optimum" apart from "found the marginals".
# N = 40 points with noise 0.5 against a N(0, 1) prior: a posterior sd of about
# 0.1-0.15 per weight, well inside the prior (well identified).
LINEAR_WEIGHTS = [0.7, -0.4]
FEATURE_MIX = np.array([[1.0, 0.8], [0.0, 0.6]])
N_LINEAR, NOISE_SIGMA_LINEAR, PRIOR_SIGMA_LINEAR = 40, 0.5, 1.0

# The optimisation. With Adam at a constant lr = 0.05, the last iterate jitters
# around the optimum by the gradient noise times the step (measured over seeds
# 10-15: |mu - mean| up to 0.36 posterior sd, sigma up to 14% off: it fails
# the thresholds). Two standard cures, used together:
#   - the learning rate decays geometrically from 0.05 to 0.001 (Robbins-Monro:
#     steps that shrink average the noise away);
#   - Polyak averaging: the reported q is the average of mu and rho over the
#     second half of the steps.
# S = 8 reparameterised samples per step lower the gradient noise further.
STEPS, LR_START, LR_END, MC_SAMPLES = 2000, 0.05, 1e-3, 8


def conjugate_data(seed):
    rng = np.random.default_rng(seed)
    z, y = mv.data.linear_gaussian(N_LINEAR, rng, LINEAR_WEIGHTS, NOISE_SIGMA_LINEAR)
    # y = z w + noise = (z A)(A^-1 w) + noise: still the linear-Gaussian model, in the features z A.
    return z @ FEATURE_MIX, y, rng


def train_conjugate(Phi, y, rng):
    """Full-batch VI on y = Phi w + noise with a bias-free BayesLinear; returns the layer set to the averaged q."""
    layer = mv.BayesLinear(Phi.shape[1], 1, PRIOR_SIGMA_LINEAR, bias=False, rng=rng)
    nll = functools.partial(mv.gaussian_nll, noise_sigma=NOISE_SIGMA_LINEAR)
    optimizer = mv.optim.Adam(layer.parameters(), lr=LR_START)
    mu_sum, rho_sum, n_averaged = 0.0, 0.0, 0
    for step in range(STEPS):
        optimizer.lr = LR_START * (LR_END / LR_START) ** (step / STEPS)
        optimizer.zero_grad()
        loss, _ = mv.elbo_loss(layer, Phi, y[:, None], nll, len(y), n_samples=MC_SAMPLES, kl_weight=1.0)
        loss.backward()
        optimizer.step()
        if step >= STEPS // 2:
            mu_sum = mu_sum + layer.weight_mu.data
            rho_sum = rho_sum + layer.weight_rho.data
            n_averaged += 1
    layer.weight_mu.data = mu_sum / n_averaged
    layer.weight_rho.data = rho_sum / n_averaged
    return layer


def variational_q(layer):
    """(mu, sigma) of a bias-free BayesLinear(D, 1), as (D,) arrays like exact's."""
    return layer.weight_mu.data[:, 0], mv.gaussian.softplus(layer.weight_rho.data[:, 0])


@pytest.fixture(scope="module")
def conjugate_fit():
    Phi, y, rng = conjugate_data(seed=0)
    return Phi, y, train_conjugate(Phi, y, rng)


def test_vi_recovers_the_exact_mean_field_posterior(conjugate_fit):
    Phi, y, layer = conjugate_fit
    mean, cov = mv.exact.blr_posterior(Phi, y, PRIOR_SIGMA_LINEAR, NOISE_SIGMA_LINEAR)
    _, sigma_star = mv.exact.mean_field_optimum(mean, cov)
    posterior_sd = np.sqrt(np.diag(cov))
    # The set-up discriminates: the mean-field sigma is far from the marginal sd
    # (ratio 1.82 at seed 0, 1.50-1.84 over the seeds below), so matching one
    # within 10% is not matching the other.
    assert np.all(posterior_sd > 1.3 * sigma_star)

    mu, sigma = variational_q(layer)
    # Thresholds from the issue: mu within 0.1 posterior sd of the exact mean,
    # sigma within 10% of the mean-field optimum. Measured over seeds 0-4 and
    # 10-15: at most 0.014 sd and 2.5%.
    np.testing.assert_array_less(np.abs(mu - mean), 0.1 * posterior_sd)
    np.testing.assert_array_less(np.abs(sigma / sigma_star - 1.0), 0.10)


def test_monte_carlo_elbo_matches_the_exact_elbo_and_stays_below_the_evidence(conjugate_fit):
    Phi, y, layer = conjugate_fit
    mu, sigma = variational_q(layer)
    exact_elbo = mv.exact.elbo_gaussian_q(Phi, y, PRIOR_SIGMA_LINEAR, NOISE_SIGMA_LINEAR, mu, np.diag(sigma ** 2))
    log_evidence = mv.exact.blr_log_evidence(Phi, y, PRIOR_SIGMA_LINEAR, NOISE_SIGMA_LINEAR)

    # 200 independent estimates, each -elbo_loss averaged over 50 samples (kl_weight 1:
    # the whole negative ELBO); their spread gives the standard error of the mean.
    nll = functools.partial(mv.gaussian_nll, noise_sigma=NOISE_SIGMA_LINEAR)
    with mv.no_grad():
        estimates = np.array([-mv.elbo_loss(layer, Phi, y[:, None], nll, len(y), n_samples=50,
                                            kl_weight=1.0)[1]["loss"] for _ in range(200)])
    estimate = estimates.mean()
    standard_error = estimates.std(ddof=1) / np.sqrt(len(estimates))
    # 4 standard errors: an unbiased estimator misses by more with probability 6e-5.
    assert abs(estimate - exact_elbo) <= 4.0 * standard_error
    # Step 3: log p(𝒟) = ELBO(q) + KL[q || p(w|𝒟)] >= ELBO(q).
    assert exact_elbo <= log_evidence
    assert estimate <= log_evidence


# ---------------------------------------------------------------- BNNs

def bayes_mlp(sizes, rng, init_sigma=0.05):
    """BayesLinear layers of the given widths with ReLUs between them."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [mv.BayesLinear(n_in, n_out, rng=rng, init_sigma=init_sigma), mv.ReLU()]
    return mv.Sequential(*layers[:-1])


# ---------------------------------------------------------------- 2. the toy curve

NOISE_SIGMA_CURVE = 0.05


def train_curve(seed, epochs=400):
    rng = np.random.default_rng(seed)
    x, y = mv.data.toy_curve(200, rng)                   # x in [0, 0.5]
    model = bayes_mlp([1, 50, 50, 1], rng)
    nll = functools.partial(mv.gaussian_nll, noise_sigma=NOISE_SIGMA_CURVE)
    history = mv.fit(model, x, y, nll, epochs=epochs, batch_size=50, lr=1e-2, n_samples=4, rng=rng, verbose=False)
    return model, history


# Slow (about 3 s): in the plain run, test_tutorials.py::test_demo_runs_and_prints_its_summary trains the
# same 1-50-50-1 net on the same toy curve (the demo) and checks the same growth off the data.
@pytest.mark.slow
def test_toy_curve_uncertainty_grows_away_from_the_data():
    model, _ = train_curve(seed=0)
    x_data = np.linspace(0.0, 0.5, 51)[:, None]
    x_far = np.concatenate([np.linspace(-0.5, -0.2, 31), np.linspace(0.8, 1.1, 31)])[:, None]
    on_data = mv.regression_uncertainty(mv.predict(model, x_data, n_samples=200), NOISE_SIGMA_CURVE)
    far = mv.regression_uncertainty(mv.predict(model, x_far, n_samples=200), NOISE_SIGMA_CURVE)

    # A good fit: the targets scatter about the clean curve with an rms of about
    # 0.06 (see data.toy_curve); the predictive mean is closer to the clean curve
    # than that. Measured over seeds 0-4: rmse 0.026-0.036.
    rmse = np.sqrt(np.mean((on_data["mean"] - mv.data.toy_curve_clean(x_data)) ** 2))
    assert rmse < 0.06
    # Epistemic sd far from the data several times its value on the data.
    # Measured over seeds 0-4: mean far / mean on data 18-31 (threshold 5), and
    # the smallest far sd / mean on-data sd 6.4-12 (threshold 3): every far point counts.
    sd_data, sd_far = on_data["epistemic"].mean(), far["epistemic"]
    assert sd_far.mean() >= 5.0 * sd_data
    assert sd_far.min() >= 3.0 * sd_data


# ---------------------------------------------------------------- 3. two moons

def distance_to_upper_arc(p):
    """Distance from points p (M, 2) to the upper half of the unit circle (the noiseless class-0 moon)."""
    to_circle = np.abs(np.linalg.norm(p, axis=1) - 1.0)
    to_ends = np.minimum(np.linalg.norm(p - [1.0, 0.0], axis=1), np.linalg.norm(p + [1.0, 0.0], axis=1))
    return np.where(p[:, 1] >= 0.0, to_circle, to_ends)


def between_the_moons(max_distance=0.45, grid_step=0.02):
    """Grid points as far from one noiseless moon as from the other, and at most max_distance from both.

    The class-1 moon is the class-0 moon reflected through (0.5, 0.25),
    p -> (1, 0.5) - p (see data.two_moons), so its distance is the same function
    of the reflected point. Equal distances within half a grid step keep the
    points along the curve of equal distance.
    """
    gx, gy = np.meshgrid(np.arange(-1.5, 2.5, grid_step), np.arange(-1.0, 1.5, grid_step))
    p = np.stack([gx.ravel(), gy.ravel()], axis=1)
    d0, d1 = distance_to_upper_arc(p), distance_to_upper_arc(np.array([1.0, 0.5]) - p)
    return p[(np.abs(d0 - d1) < grid_step / 2) & (np.maximum(d0, d1) < max_distance)]


def deep_inside_the_moons():
    """Noiseless points on the outer third of each moon (angles 0.65π-0.95π), the parts farthest from the other moon."""
    t = np.linspace(0.65 * np.pi, 0.95 * np.pi, 10)
    class0 = np.stack([np.cos(t), np.sin(t)], axis=1)
    return np.concatenate([class0, np.array([1.0, 0.5]) - class0])


def test_two_moons_accurate_and_most_uncertain_between_the_classes():
    rng = np.random.default_rng(0)
    x, labels = mv.data.two_moons(300, rng, noise_sigma=0.1)
    x_train, labels_train, x_test, labels_test = mv.data.train_test_split(x, labels, 0.3, rng)
    model = bayes_mlp([2, 32, 32, 2], rng)
    mv.fit(model, x_train, labels_train, mv.categorical_nll, epochs=200, batch_size=50, lr=1e-2,
           n_samples=4, rng=rng, verbose=False)

    def uncertainty(points):
        return mv.classification_uncertainty(mv.predict(model, points, n_samples=200))

    # Measured over seeds 0-9 (90 held-out points each): accuracy 0.956-1.
    accuracy = np.mean(uncertainty(x_test)["probs"].argmax(axis=-1) == labels_test)
    assert accuracy >= 0.9
    between, deep = uncertainty(between_the_moons()), uncertainty(deep_inside_the_moons())
    assert len(between_the_moons()) > 20            # the curve of equal distance was found
    # Measured over seeds 0-9: mean predictive entropy between / deep 3.5-8.3
    # (threshold 2.5); mean mutual information (the epistemic part) 2.2-5.5 (threshold 1.5).
    assert between["predictive_entropy"].mean() >= 2.5 * deep["predictive_entropy"].mean()
    assert between["mutual_information"].mean() >= 1.5 * deep["mutual_information"].mean()


# ---------------------------------------------------------------- 4. reproducibility

def test_same_seed_same_bits_other_seed_other_bits():
    def run(seed):
        model, history = train_curve(seed, epochs=5)
        return history, mv.predict(model, np.linspace(-0.5, 1.0, 7)[:, None], n_samples=10)

    (history_a, pred_a), (history_b, pred_b), (history_c, pred_c) = run(1), run(1), run(2)
    assert history_a == history_b                       # every float of loss, kl, nll equal
    assert np.array_equal(pred_a, pred_b)
    assert history_a.loss != history_c.loss
    assert history_a.kl != history_c.kl
    assert not np.any(pred_a == pred_c)
