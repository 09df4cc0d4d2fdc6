"""Tutorial 08: how good is q? The true posterior by Hamiltonian Monte Carlo against mean-field and
full-covariance variational inference, on the conjugate model and on a small network."""

# %% [markdown]
# # 08 · How good is q? (derivation steps 2 and 3, checked against the true posterior)
#
# The lecture ends with "this q is not exactly the posterior, but we may call it the
# posterior". How far from it is it? Tutorial 02 answered for a two-weight linear model,
# where the posterior has a formula. For a *network* there is no formula, so we need
# another way to see the posterior itself: we draw samples from it with **Hamiltonian
# Monte Carlo** (HMC; Neal 2011, "MCMC using Hamiltonian dynamics"; `minivi/mcmc.py`),
# which needs only the unnormalised log density
#
# $$\log p(w \mid \mathcal{D}) = \log p(\mathcal{D} \mid w) + \log p(w) - \log p(\mathcal{D}),$$
#
# where the constant $\log p(\mathcal{D})$, the hopeless integral of step 1, drops out. HMC's samples
# are the gold standard that two variational families are held against:
#
# - **mean-field** q, the derivation's $q(w) = \prod_i \mathcal N(w_i;\mu_i,\sigma_i^2)$ (steps 4-8,
#   `mv.BayesLinear`);
# - **full-covariance** q, one Gaussian over the whole weight vector,
#   $q(w) = \mathcal N(\mu, LL^\top)$ with $L$ lower-triangular (`minivi/fullcov.py`). It is sampled as
#   $w = \mu + L\varepsilon$, and step 7's gradients become
#   $\partial F/\partial\mu = \partial F/\partial w$ and
#   $\partial F/\partial L = \mathrm{tril}(\partial F/\partial w\,\varepsilon^\top)$; step 5's KL becomes
#
# $$\mathrm{KL}[\mathcal N(\mu, LL^\top)\,\|\,\mathcal N(0, s^2 I)] = \frac{\lVert L\rVert_F^2 + \lVert\mu\rVert^2}{2s^2}
#   - \frac{D}{2} + D\log s - \sum_i \log L_{ii}.$$
#
# Part 1 uses a conjugate model like that of tutorials 01-02, where the exact posterior checks HMC
# and both kinds of q. Part 2 uses a one-hidden-layer network on data in two separated
# clusters, where only HMC can tell us the truth.

# %%
import time

import numpy as np

import minivi as mv
from minivi import plots

QUICK, OUT_DIR = plots.tutorial_options(__doc__ or "tutorial 08")
START = time.perf_counter()

# %% [markdown]
# ## Part 1. The conjugate model: everything has an exact answer
#
# A two-weight regression of the same kind as tutorials 01-02 (its data are drawn anew here, so
# its numbers differ from theirs): $y = w_0 + w_1 x + \text{noise}$, 20 points
# with $x \in [0, 1]$, noise standard deviation 0.3, prior $\mathcal N(0, I)$. Intercept and
# slope trade off, so the posterior is strongly correlated. `mv.exact.blr_posterior` gives
# it exactly, and `mv.exact.mean_field_optimum` the best factorised q
# ($\sigma_i^2 = 1/\Lambda_{ii}$ with $\Lambda$ the posterior precision, tutorial 02).

# %%
PRIOR_SIGMA, NOISE_SIGMA, N_DATA = 1.0, 0.3, 20
W_TRUE = np.array([-0.3, 0.9])
rng = np.random.default_rng(0)
x_lin = rng.uniform(0.0, 1.0, N_DATA)
Phi = np.column_stack([np.ones(N_DATA), x_lin])
y_lin = Phi @ W_TRUE + NOISE_SIGMA * rng.standard_normal(N_DATA)

post_mean, post_cov = mv.exact.blr_posterior(Phi, y_lin, PRIOR_SIGMA, NOISE_SIGMA)
post_sd = np.sqrt(np.diag(post_cov))
post_corr = post_cov[0, 1] / (post_sd[0] * post_sd[1])
mf_mu, mf_sigma = mv.exact.mean_field_optimum(post_mean, post_cov)
print(f"exact posterior: mean {np.round(post_mean, 4)}, sd {np.round(post_sd, 4)}, correlation {post_corr:.3f}")
print(f"best mean-field q: mu {np.round(mf_mu, 4)}, sigma {np.round(mf_sigma, 4)}")

# %% [markdown]
# ### HMC on the conjugate model
#
# HMC needs $\log p(w\mid \mathcal{D})$ up to a constant, as a function of a Tensor $w$ so that the
# engine can give its gradient. Written so that it also takes a batch of weight vectors
# (one row per chain) and returns one value per row; `vectorized = True` tells `mv.mcmc.hmc`
# to evaluate all chains in one pass.
#
# $$\log p(w\mid \mathcal{D}) = -\frac{\lVert y - \Phi w\rVert^2}{2\sigma_{\text{noise}}^2} - \frac{\lVert w\rVert^2}{2 s^2} + \text{const}.$$
#
# Four chains start at scattered points. The first 500 iterations of each chain (the warm-up)
# tune the step size and a diagonal mass matrix and are thrown away; the 2000 after them are
# kept, with the step size and the mass matrix fixed. Then: split $\hat R$ (near 1
# when the four chains agree) and the bulk effective sample size (ESS: how many
# independent draws the correlated chain is worth) of Vehtari et al. (2021).

# %%
def log_posterior_linear(w):
    """log p(data|w) + log p(w) + const for w of shape (2,) or (C, 2): one value per row."""
    residual = y_lin - w @ Phi.T
    return ((residual * residual).sum(axis=-1) * (-0.5 / NOISE_SIGMA ** 2)
            + (w * w).sum(axis=-1) * (-0.5 / PRIOR_SIGMA ** 2))


log_posterior_linear.vectorized = True

N_CHAINS = 4
HMC_WARMUP_LIN, HMC_SAMPLES_LIN = (60, 100) if QUICK else (500, 2000)
hmc_rng = np.random.default_rng(1)
t0 = time.perf_counter()
lin = mv.mcmc.hmc(log_posterior_linear, hmc_rng.normal(0.0, 1.0, (N_CHAINS, 2)), n_samples=HMC_SAMPLES_LIN,
                  n_warmup=HMC_WARMUP_LIN, rng=hmc_rng, warn=not QUICK)
print(f"warm-up: {HMC_WARMUP_LIN} iterations per chain (tuning, discarded), then {HMC_SAMPLES_LIN} kept")
print(lin.summary(), f"({time.perf_counter() - t0:.1f} s)")

draws = lin.samples.reshape(-1, 2)
hmc_mean, hmc_cov = draws.mean(axis=0), np.cov(draws.T)
mcse = mv.mcmc.monte_carlo_se(lin.samples)
print(f"{'':24}{'exact':>10}{'HMC':>10}{'HMC - exact':>13}{'MC s.e.':>9}{'z':>7}")
for i, name in enumerate(("mean of w0", "mean of w1")):
    z = (hmc_mean[i] - post_mean[i]) / mcse[i]
    print(f"{name:24}{post_mean[i]:10.4f}{hmc_mean[i]:10.4f}{hmc_mean[i] - post_mean[i]:13.4f}{mcse[i]:9.4f}{z:7.2f}")
# A covariance entry estimated from n_eff effective draws has relative standard error of
# about sqrt(2 / n_eff) for a variance (a Gaussian's sample variance): the tolerance to read the table by.
n_eff = float(np.min(lin.ess))
for (i, j), name in zip(((0, 0), (1, 1), (0, 1)), ("var of w0", "var of w1", "cov of w0, w1")):
    rel = hmc_cov[i, j] / post_cov[i, j] - 1.0
    print(f"{name:24}{post_cov[i, j]:10.5f}{hmc_cov[i, j]:10.5f}{'':13}{'':9}   relative error {100 * rel:+.1f}%")
print(f"relative s.e. of a variance from the smallest bulk ESS ({n_eff:.0f}): about {100 * np.sqrt(2.0 / n_eff):.1f}%")

# %% [markdown]
# The z column is the error of HMC's mean in units of its Monte Carlo standard error (the
# posterior sd divided by $\sqrt{\text{ESS}}$): values of a couple of units are what
# sampling noise looks like. Here both are below 1 (0.45 and 0.37), and the three covariance
# entries came out 3.0%, 4.6% and 4.5% below the exact ones, against a rough relative
# standard error of 1.8%. That rough figure uses the ESS of the mean; the
# ESS of a variance (of squared deviations) is usually smaller, so read it as a scale, not
# a test. HMC knows nothing of the formula; it only evaluated the log density and its gradient.
#
# ### Full-covariance and mean-field VI on the same model
#
# Full-covariance q is trained by `mv.fit_full_cov`: Adam on the negative ELBO
# $F = \mathrm{KL}[q\,\|\,p(w)] - \mathbb E_q[\log p(\mathcal{D}\mid w)]$ with 4 samples of $w = \mu + L\varepsilon$
# per step; its last half of steps is averaged (Polyak averaging) to remove the noise of the
# stochastic gradient. Mean-field q is a `BayesLinear(2, 1, bias=False)` layer fed the features
# $\Phi = [1, x]$, trained by `mv.fit` on the same ELBO. The exact posterior lies inside the
# full-covariance family, so that q can reach it; the mean-field family cannot, and its best
# member is `mean_field_optimum`.

# %%
def log_likelihood_linear(w):
    """log p(data|w) + const for w of shape (S, 2): one value per sample (the prior is in q's KL)."""
    residual = y_lin - w @ Phi.T
    return (residual * residual).sum(axis=-1) * (-0.5 / NOISE_SIGMA ** 2)


log_likelihood_linear.vectorized = True

VI_STEPS_LIN = 200 if QUICK else 3000
q_lin = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(2), prior_sigma=PRIOR_SIGMA)
t0 = time.perf_counter()
mv.fit_full_cov(log_likelihood_linear, q_lin, n_steps=VI_STEPS_LIN, lr=1e-2, n_samples=4, average_last=0.5)
fc_mean, fc_cov = q_lin.mu.data.copy(), q_lin.covariance()
print(f"full-covariance VI: {VI_STEPS_LIN} steps in {time.perf_counter() - t0:.1f} s")

mf_layer = mv.BayesLinear(2, 1, PRIOR_SIGMA, bias=False, rng=np.random.default_rng(3))
t0 = time.perf_counter()
mv.fit(mf_layer, Phi, y_lin[:, None], lambda pred, target: mv.gaussian_nll(pred, target, NOISE_SIGMA),
       epochs=VI_STEPS_LIN, batch_size=N_DATA, rng=np.random.default_rng(4), lr=1e-2, n_samples=4, verbose=False)
vi_mf_mu = mf_layer.weight_mu.data.ravel()
vi_mf_sigma = mv.gaussian.softplus(mf_layer.weight_rho.data.ravel())
print(f"mean-field VI: {VI_STEPS_LIN} full-batch steps in {time.perf_counter() - t0:.1f} s")

print(f"{'':22}{'exact':>10}{'full-cov VI':>13}{'mean-field VI':>15}{'MF optimum':>12}")
rows = [("mean of w0", post_mean[0], fc_mean[0], vi_mf_mu[0], mf_mu[0]),
        ("mean of w1", post_mean[1], fc_mean[1], vi_mf_mu[1], mf_mu[1]),
        ("sd of w0", post_sd[0], np.sqrt(fc_cov[0, 0]), vi_mf_sigma[0], mf_sigma[0]),
        ("sd of w1", post_sd[1], np.sqrt(fc_cov[1, 1]), vi_mf_sigma[1], mf_sigma[1]),
        ("correlation", post_corr, fc_cov[0, 1] / np.sqrt(fc_cov[0, 0] * fc_cov[1, 1]), 0.0, 0.0)]
for name, *values in rows:
    print(f"{name:22}" + "".join(f"{v:{width}.4f}" for v, width in zip(values, (10, 13, 15, 12))))
print(f"KL[q || exact posterior]: full-covariance VI {mv.exact.kl_gaussians(fc_mean, fc_cov, post_mean, post_cov):.5f}, "
      f"mean-field VI {mv.exact.kl_gaussians(vi_mf_mu, np.diag(vi_mf_sigma ** 2), post_mean, post_cov):.5f}, "
      f"mean-field optimum {mv.exact.kl_gaussians(mf_mu, np.diag(mf_sigma ** 2), post_mean, post_cov):.5f}")

# %% [markdown]
# **Under-coverage.** q's interval $\mu_i \pm 1.96\sigma_i$ is meant to hold 95% of the
# posterior mass of $w_i$. Under the exact marginal $\mathcal N(m_i, s_i^2)$, $s_i^2 = \Sigma_{ii}$, it holds
#
# $$\Phi\Big(\frac{\mu_i + 1.96\,\sigma_i - m_i}{s_i}\Big) - \Phi\Big(\frac{\mu_i - 1.96\,\sigma_i - m_i}{s_i}\Big)$$
#
# (with $\Phi$ the standard normal CDF; `mv.exact.interval_mass`): an interval too narrow loses
# mass on both sides, and one off-centre ($\mu_i \neq m_i$) loses more on one side.

# %%
fc_sd = np.sqrt(np.diag(fc_cov))
held_vi = mv.exact.interval_mass(vi_mf_mu - 1.96 * vi_mf_sigma, vi_mf_mu + 1.96 * vi_mf_sigma, post_mean, post_sd)
held_fc = mv.exact.interval_mass(fc_mean - 1.96 * fc_sd, fc_mean + 1.96 * fc_sd, post_mean, post_sd)
for i in range(2):
    print(f"w{i}: q's 95% interval holds {100 * held_vi[i]:.1f}% of the exact posterior (mean-field VI), "
          f"{100 * held_fc[i]:.1f}% (full-covariance VI)")

# %% [markdown]
# The figure: left, the HMC draws over the exact posterior's contours at Mahalanobis radius
# 1, 2, 3; right, the same contours with the two trained q's at the same radii.

# %%
def ellipse(mean, cov, radius, n_points=200):
    """Points on the contour {w : (w - mean)ᵀ cov⁻¹ (w - mean) = radius²}, shape (n_points, 2)."""
    angle = np.linspace(0.0, 2.0 * np.pi, n_points)
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return mean + radius * circle @ np.linalg.cholesky(cov).T


RADII = (1.0, 2.0, 3.0)
fig, (ax_hmc, ax_vi) = plots.figure(1, 2, size=(12, 5.2))
shown = draws[np.random.default_rng(5).permutation(len(draws))[:2000]]
ax_hmc.scatter(shown[:, 0], shown[:, 1], s=3, color="black", alpha=0.3, label=f"HMC draws ({len(shown)} shown)")
for ax in (ax_hmc, ax_vi):
    for radius in RADII:
        ax.plot(*ellipse(post_mean, post_cov, radius).T, color="tab:blue", lw=1.5,
                label="exact posterior, radius 1, 2, 3" if radius == 1 else None)
    ax.set(xlabel="intercept w₀", ylabel="slope w₁")
    ax.set_aspect("equal", adjustable="datalim")
for radius in RADII:
    ax_vi.plot(*ellipse(fc_mean, fc_cov, radius).T, color="tab:green", lw=2, ls="--",
               label="full-covariance VI" if radius == 1 else None)
    ax_vi.plot(*ellipse(vi_mf_mu, np.diag(vi_mf_sigma ** 2), radius).T, color="tab:red", lw=2,
               label="mean-field VI" if radius == 1 else None)
ax_hmc.set_title(f"HMC: {N_CHAINS} chains x {HMC_SAMPLES_LIN} draws, max R-hat {np.max(lin.rhat):.3f}")
ax_vi.set_title("Full-covariance q matches the posterior;\nmean-field q is axis-aligned and too short along it")
for ax in (ax_hmc, ax_vi):
    ax.legend(fontsize=9, loc="upper right")
plots.save(fig, OUT_DIR / "08_conjugate.png")

# %% [markdown]
# On this model the three answers line up with the theory: HMC's draws fill the exact
# contours, full-covariance VI lies on top of them (KL to the exact posterior 0.00015 nats),
# and mean-field VI lands next to the mean-field optimum (KL 0.618 against the optimum's
# 0.611), a q too narrow in both weights: its 95% intervals hold 72.2% and 70.5% of the
# posterior mass. Its contours cannot tilt with the posterior's; each $\sigma_i$ is the
# posterior's width in $w_i$ with the other weight held fixed ($\sigma_i^2 = 1/\Lambda_{ii}$), so
# along the correlation q is far too short. Tutorial 02 explained why: KL[q‖p] punishes q
# for mass where the posterior has little, so a factorised q stays compact.
#
# ## Part 2. A one-hidden-layer network on data in two clusters
#
# Now a model with no formula: a 1-50-1 tanh network
# $f(x; w) = \sum_{j=1}^{50} v_j \tanh(a_j x + b_j) + c$, $D = 151$ weights and biases, all with
# prior $\mathcal N(0, 1)$, a Gaussian likelihood with noise standard deviation 0.1. The data
# come in two separated clusters, $x \in [-1, -0.5]$ and $x \in [0.5, 1]$, 20 points each,
# from $y = \sin(3x) + \text{noise}$.
#
# Foong, Li, Hernández-Lobato & Turner (2019), "'In-Between' Uncertainty in Bayesian Neural
# Networks", report that mean-field VI (and MC dropout) in one-hidden-layer networks fail to
# become more uncertain *between* two clusters of data than *on* them, while the true
# posterior does (for ReLU networks, their later work bounds the variance in between by the
# variances at the ends). Our network uses tanh, so no theorem applies: we measure, with the
# same model and prior for all three methods.
#
# The log joint $\log p(\mathcal{D}\mid w) + \log p(w)$ as a function of the flat weight vector comes
# from `mv.flat.log_joint` (which reads a network's weights from one vector,
# `minivi/flat.py`); variational inference needs the log-likelihood alone (its prior is in
# the KL), written with `mv.flat.functional_forward`.

# %%
HIDDEN, NOISE_NET, N_PER_CLUSTER = 50, 0.1, 20
CLUSTERS = ((-1.0, -0.5), (0.5, 1.0))
GAP = (CLUSTERS[0][1], CLUSTERS[1][0])


def f_true(x):
    return np.sin(3.0 * x)


data_rng = np.random.default_rng(10)
x_net = np.concatenate([data_rng.uniform(lo, hi, N_PER_CLUSTER) for lo, hi in CLUSTERS])[:, None]
y_net = f_true(x_net) + NOISE_NET * data_rng.standard_normal(x_net.shape)
x_test = data_rng.uniform(CLUSTERS[0][0], CLUSTERS[1][1], 400)[:, None]     # held out, clusters and gap alike
y_test = f_true(x_test) + NOISE_NET * data_rng.standard_normal(x_test.shape)
x_grid = np.linspace(-1.6, 1.6, 161)[:, None]
in_gap = lambda x: (x > GAP[0]) & (x < GAP[1])                                  # noqa: E731
on_data = lambda x: np.any([(x >= lo) & (x <= hi) for lo, hi in CLUSTERS], axis=0)   # noqa: E731


def network(rng):
    """The deterministic 1-50-1 tanh network whose weights HMC and full-covariance VI put a distribution on."""
    return mv.Sequential(mv.Linear(1, HIDDEN, rng=rng), mv.Tanh(), mv.Linear(HIDDEN, 1, rng=rng))


net = network(np.random.default_rng(11))
D = mv.flat.n_weights(net)
log_joint = mv.flat.log_joint(net, x_net, y_net, noise_sigma=NOISE_NET, prior_sigma=1.0)


def log_likelihood_net(w):
    """log p(data|w) + const for w of shape (S, D): one value per weight vector."""
    residual = mv.flat.functional_forward(net, w, x_net) - y_net                # (S, N, 1)
    return (residual * residual).sum(axis=(-2, -1)) * (-0.5 / NOISE_NET ** 2)


log_likelihood_net.vectorized = True
print(f"network 1-{HIDDEN}-1 (tanh): D = {D} weights; {len(x_net)} training points, {len(x_test)} held-out points")

# %% [markdown]
# ### HMC: the reference
#
# Four chains, each started at a fresh random initialisation of the network. The chains
# share a step size and a diagonal mass matrix tuned in warm-up. A network's posterior is
# hard terrain for a sampler (hidden units can swap places or flip signs, which gives many
# equivalent modes, and some weights are pinned by the data while others only feel the
# prior), so $\hat R$ of single weights can stay above 1.01 even when the *functions* the
# chains produce agree. We print the diagnostics of both: of the weights, and of the
# predictions $f(x; w)$ at five inputs. To keep the run within a couple of minutes, a
# trajectory is capped at 128 leapfrog steps (`max_leapfrog`).

# %%
HMC_WARMUP_NET, HMC_SAMPLES_NET, MAX_LEAPFROG = (10, 10, 16) if QUICK else (400, 400, 128)
chain_rng = np.random.default_rng(12)
init = np.stack([mv.flat.parameters_to_vector(network(chain_rng)) for _ in range(N_CHAINS)])
t0, cpu0 = time.perf_counter(), time.process_time()
chains = mv.mcmc.hmc(log_joint, init, n_samples=HMC_SAMPLES_NET, n_warmup=HMC_WARMUP_NET, rng=chain_rng,
                     max_leapfrog=MAX_LEAPFROG, warn=not QUICK)
hmc_seconds = time.process_time() - cpu0
print(chains.summary())
print(f"HMC time: {time.perf_counter() - t0:.1f} s wall, {hmc_seconds:.1f} s CPU")

x_diag = np.array([[-0.75], [-0.25], [0.0], [0.25], [0.75]])
with mv.no_grad():
    f_diag = mv.flat.functional_forward(net, mv.Tensor(chains.samples.reshape(-1, D)), x_diag).data
f_diag = f_diag.reshape(N_CHAINS, HMC_SAMPLES_NET, len(x_diag))
f_rhat, f_ess = mv.mcmc.split_rhat(f_diag), mv.mcmc.effective_sample_size(f_diag)
print("weights:     split R-hat median {:.3f}, max {:.3f}; bulk ESS median {:.0f}, min {:.0f}".format(
    np.median(chains.rhat), np.max(chains.rhat), np.median(chains.ess), np.min(chains.ess)))
for xv, r, e in zip(x_diag.ravel(), f_rhat, f_ess):
    print(f"f(x = {xv:+.2f}): split R-hat {r:.3f}, bulk ESS {e:.0f}")
print(f"bulk ESS per CPU second (the smallest over the five predictions): {np.min(f_ess) / hmc_seconds:.2f}")

# %% [markdown]
# ### Mean-field and full-covariance VI
#
# Mean-field: the same network built from `mv.BayesLinear` layers (prior $\mathcal N(0,1)$),
# trained by `mv.fit` on the whole data set at each step with 4 weight samples per step.
#
# Full-covariance: `mv.FullCovGaussian` over the same 151 weights, a lower-triangular $L$
# with $D(D+1)/2 = 11476$ free entries. Trained from a random start, it made slow
# progress within this tutorial's budget: Adam moves every entry of $L$ by about its
# learning rate, and the gradients of the off-diagonal entries,
# $\partial F/\partial w\,\varepsilon^\top$, are mostly noise. So it starts where the mean-field q
# ended ($\mu$ and $L = \mathrm{diag}(\sigma)$: the same ELBO), and `mv.fit_full_cov` then
# learns the correlations, with a smaller learning rate for $L$ (`scale_lr`), 16 samples per
# step, and the average of the last half of its steps. Both ELBOs are then estimated the same
# way, with 4000 samples of $w$ from each q: the full-covariance family contains the
# mean-field one, so its optimum can only be higher.

# %%
VI_STEPS_MF, VI_STEPS_FC = (100, 50) if QUICK else (4000, 3000)
mf_net = mv.Sequential(mv.BayesLinear(1, HIDDEN, 1.0, rng=np.random.default_rng(13)), mv.Tanh(),
                       mv.BayesLinear(HIDDEN, 1, 1.0, rng=np.random.default_rng(14)))
t0 = time.perf_counter()
mv.fit(mf_net, x_net, y_net, lambda pred, target: mv.gaussian_nll(pred, target, NOISE_NET), epochs=VI_STEPS_MF,
       batch_size=len(x_net), rng=np.random.default_rng(15), lr=1e-2, n_samples=4, verbose=False)
print(f"mean-field VI: {VI_STEPS_MF} steps in {time.perf_counter() - t0:.1f} s")

# The mean-field q as a flat vector, in net.parameters() order: W1, b1, W2, b2 (each layer's weight, then bias).
mf_layers = [layer for layer in mf_net.layers if isinstance(layer, mv.BayesLinear)]
mf_mu_flat = np.concatenate([p.data.ravel() for layer in mf_layers for p in (layer.weight_mu, layer.bias_mu)])
mf_sigma_flat = np.concatenate([mv.gaussian.softplus(p.data.ravel())
                                for layer in mf_layers for p in (layer.weight_rho, layer.bias_rho)])
with mv.no_grad():
    same = np.max(np.abs(mv.flat.functional_forward(net, mv.Tensor(mf_mu_flat), x_net).data
                         - mf_net(x_net, mode="mean").data))
print(f"the flat vector reproduces the mean-field network at its means to {same:.1e}")

print(f"full-covariance q: mu has D = {D} entries, L has D(D+1)/2 = {D * (D + 1) // 2} free entries")
q_mf_flat = mv.FullCovGaussian(mf_mu_flat, rng=np.random.default_rng(16), prior_sigma=1.0, init_sigma=mf_sigma_flat)
q_net = mv.FullCovGaussian(mf_mu_flat, rng=np.random.default_rng(17), prior_sigma=1.0, init_sigma=mf_sigma_flat)
t0 = time.perf_counter()
mv.fit_full_cov(log_likelihood_net, q_net, n_steps=VI_STEPS_FC, lr=1e-3, scale_lr=1e-4, n_samples=16,
                average_last=0.5)
print(f"full-covariance VI: {VI_STEPS_FC} steps in {time.perf_counter() - t0:.1f} s")


N_ELBO_SAMPLES = 500 if QUICK else 4000


def negative_elbo(q, n_samples=N_ELBO_SAMPLES):
    """F = KL[q || p(w)] - E_q[log p(data|w)] (likelihood constant included), by Monte Carlo over n_samples."""
    constant = len(x_net) * (np.log(NOISE_NET) + 0.5 * np.log(2.0 * np.pi))
    with mv.no_grad():
        return q.kl().item() - log_likelihood_net(q.sample(n_samples)).data.mean() + constant, q.kl().item()


for name, q in (("mean-field q", q_mf_flat), ("full-covariance q", q_net)):
    loss, kl = negative_elbo(q)
    print(f"{name:18}: negative ELBO {loss:8.1f} nats (KL {kl:6.1f})")


# %% [markdown]
# ### The three predictives side by side
#
# Each method gives sampled functions $f_s(x)$: HMC's kept draws (thinned to 400), and 400
# draws from each q. As in tutorial 05, the epistemic std is their spread and the total std
# adds the noise: $\sqrt{\text{epistemic}^2 + \sigma_{\text{noise}}^2}$ (`mv.regression_uncertainty`).
# On 400 held-out points from the true function, spread over both clusters and the gap:
# the test log-likelihood $\frac1N\sum_n \log \frac1S\sum_s \mathcal N(y_n; f_s(x_n), \sigma_{\text{noise}}^2)$
# (`mv.gaussian_log_likelihood`), and the coverage of the 95% predictive interval, the
# fraction of held-out $y_n$ inside mean $\pm 1.96$ total std.

# %%
N_PREDICT = 100 if QUICK else 400
hmc_weights = chains.samples.reshape(-1, D)
hmc_weights = hmc_weights[np.linspace(0, len(hmc_weights) - 1, min(N_PREDICT, len(hmc_weights))).astype(int)]


def predictive(method, x):
    """Sampled functions f_s(x), an array (S, N, 1), for 'HMC', 'mean-field VI' or 'full-covariance VI'."""
    with mv.no_grad():
        if method == "HMC":
            return mv.flat.functional_forward(net, mv.Tensor(hmc_weights), x).data
        if method == "mean-field VI":
            return mv.predict(mf_net, x, n_samples=N_PREDICT)
        return mv.flat.functional_forward(net, q_net.sample(N_PREDICT), x).data


METHODS = ("HMC", "mean-field VI", "full-covariance VI")
bands = {m: mv.regression_uncertainty(predictive(m, x_grid), NOISE_NET) for m in METHODS}


def scores(band, test_samples):
    """The table's numbers for one method: its band on x_grid and its sampled functions at x_test."""
    test_band = mv.regression_uncertainty(test_samples, NOISE_NET)
    inside = np.abs(y_test - test_band["mean"]) <= 1.96 * test_band["total"]
    std = band["epistemic"].ravel()
    return {
        "epistemic std on the clusters": std[on_data(x_grid.ravel())].mean(),
        "epistemic std in the gap": std[in_gap(x_grid.ravel())].mean(),
        "gap / clusters": std[in_gap(x_grid.ravel())].mean() / std[on_data(x_grid.ravel())].mean(),
        "test log-lik per point, all": mv.gaussian_log_likelihood(test_samples, y_test, NOISE_NET),
        "test log-lik per point, gap": mv.gaussian_log_likelihood(test_samples[:, in_gap(x_test.ravel())],
                                                                  y_test[in_gap(x_test.ravel())], NOISE_NET),
        "95% interval coverage, all": inside.mean(),
        "95% interval coverage, clusters": inside[on_data(x_test)].mean(),
        "95% interval coverage, gap": inside[in_gap(x_test)].mean(),
    }


results = {m: scores(bands[m], predictive(m, x_test)) for m in METHODS}
print(f"{'':34}" + "".join(f"{m:>21}" for m in METHODS))
for key in results["HMC"]:
    print(f"{key:34}" + "".join(f"{results[m][key]:21.3f}" for m in METHODS))

# %% [markdown]
# **What came out.** HMC's chains agree on the functions: split $\hat R$ at most 1.006 and
# bulk ESS in the hundreds to about a thousand for the five predictions (printed above), while single weights do not mix (max $\hat R$
# 1.285, min ESS 11), as expected from a posterior with many equivalent modes. Against that
# reference:
#
# - HMC is almost certain on the clusters (epistemic std 0.038) and 5.4 times less certain
#   in the gap (0.206). Both q's are *far too uncertain on the clusters* (0.158 mean-field,
#   0.113 full-covariance). In the gap their std is close to HMC's (0.208 and 0.168), so
#   they are only 1.3 and 1.5 times more uncertain in the gap than on the clusters. Mean-field
#   q's uncertainty does rise between the clusters here, so this run does not show the
#   failure Foong et al. report in its strongest form, but both q's miss most of the
#   contrast the true posterior has.
# - The ELBO prefers full covariance: its negative ELBO is lower (210.4 against 246.7 nats),
#   and its test log-likelihood is higher (0.365 against 0.246 per point; HMC 0.606).
# - Coverage of the 95% interval on all held-out points is close to nominal for all three
#   (0.965, 0.988, 0.968): the q's wide bands on the clusters buy coverage there (0.990 and
#   0.995) at the price of likelihood, and full-covariance q under-covers slightly in the
#   gap (0.942).
#
# These are one seed, one data set and optimisers run for a fixed budget: the numbers say
# how this q did here, not what every q does.

# %%
fig, axes = plots.figure(1, 3, size=(16, 4.8))
for ax, m in zip(axes, METHODS):
    for lo, hi in CLUSTERS:
        ax.axvspan(lo, hi, color="0.92", zorder=0)
    plots.regression_band(ax, x_net, y_net, x_grid, bands[m], truth=f_true(x_grid), title=m)
    ax.set_ylim(-3.5, 3.5)
    if ax is not axes[0]:
        ax.get_legend().remove()
fig.suptitle("Predictive mean and ±2 std of the 1-50-1 network: HMC (the reference) against two q's "
             "(grey: where the data are)", fontsize=12)
plots.save(fig, OUT_DIR / "08_in_between.png")

# %% [markdown]
# The same numbers as curves: the epistemic std along $x$ for the three methods (left), and
# on the right the HMC chains' trace of the prediction $f(0; w)$ in the middle of the gap,
# one line per chain: chains that mix wander over the same range.

# %%
fig, (ax_std, ax_trace) = plots.figure(1, 2, size=(13, 4.6))
colors = {"HMC": "black", "mean-field VI": "tab:red", "full-covariance VI": "tab:green"}
for lo, hi in CLUSTERS:
    ax_std.axvspan(lo, hi, color="0.92", zorder=0)
for m in METHODS:
    ax_std.plot(x_grid.ravel(), bands[m]["epistemic"].ravel(), color=colors[m], lw=2, label=m)
ax_std.set(xlabel="x", ylabel="epistemic std of f(x)", yscale="log",
           title="Uncertainty about f(x): on the clusters (grey) and between them")
ax_std.legend(fontsize=9)
middle = list(x_diag.ravel()).index(0.0)
for c in range(N_CHAINS):
    ax_trace.plot(f_diag[c, :, middle], lw=0.8, label=f"chain {c + 1}")
ax_trace.set(xlabel="HMC iteration after warm-up", ylabel="f(0; w)",
             title=f"HMC trace of f(0): split R-hat {f_rhat[middle]:.3f}, bulk ESS {f_ess[middle]:.0f}")
ax_trace.legend(fontsize=8, ncol=2)
plots.save(fig, OUT_DIR / "08_std_profile.png")

# %% [markdown]
# ## Part 3. What practitioners use instead, held against the same truth
#
# Three methods that are not a Gaussian q trained on the ELBO, each on the same network,
# prior $\mathcal N(0, 1)$ where it has one, and noise standard deviation 0.1:
#
# - **MC dropout** (Gal & Ghahramani 2016; `mv.Dropout`, `minivi/dropout.py`): q is the network
#   with each hidden unit kept or dropped, $z_j \sim \text{Bernoulli}(1 - p)$, here a `Dropout(p)` in
#   front of the output layer (the single input is not dropped: that would drop $x$ itself). Step
#   5's KL becomes weight decay (`mv.dropout_kl`), so training is dropout training with an L2
#   penalty; the predictive draws 400 masks, each a whole network.
# - **A deep ensemble** (Lakshminarayanan, Pritzel & Blundell 2017): 5 networks from 5 random
#   initialisations, each trained by maximum likelihood (no prior); the predictive is their
#   mixture, $S = 5$ functions. The 5 weight vectors are the rows of one array (5, D), so the
#   vectorised log-likelihood trains all of them in one pass.
# - **The linearised Laplace approximation** of MacKay (1992) (`minivi/laplace.py`): a MAP network $\hat w$
#   (a mode of the log joint, `mv.laplace.find_mode`), the generalised Gauss-Newton
#   $H = J^\top J/\sigma_{\text{noise}}^2 + \alpha I$, and $q(w) = \mathcal N(\hat w, H^{-1})$ with $f$ linearised
#   around $\hat w$: $f_s(x) = f(x; \hat w) + J(x)(w_s - \hat w)$, $w_s \sim q$. The prior precision $\alpha$ of the
#   covariance is the one that maximises the Laplace evidence at $\hat w$ (MacKay's fixed point,
#   `optimise_prior_precision`).
#
# Dropout and the ensemble are trained by full-batch Adam, the learning rate decayed from
# $10^{-2}$ to $10^{-4}$.

# %%
ALT_STEPS, DROPOUT_P, MEMBERS = (300, 0.05, 5) if QUICK else (4000, 0.05, 5)


def adam(parameters, loss, n_steps, lr=1e-2, lr_final=1e-4):
    """n_steps of Adam on loss() (a scalar Tensor of the whole data set), lr decayed geometrically to lr_final."""
    optimizer = mv.optim.Adam(parameters, lr=lr)
    for step in range(n_steps):
        optimizer.lr = lr * (lr_final / lr) ** (step / (n_steps - 1))
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    return value.item()


alt_rng = np.random.default_rng(20)
t0 = time.process_time()
dropout_net = mv.Sequential(mv.Linear(1, HIDDEN, rng=alt_rng), mv.Tanh(), mv.Dropout(DROPOUT_P, rng=alt_rng),
                            mv.Linear(HIDDEN, 1, rng=alt_rng))
adam(dropout_net.parameters(),
     lambda: mv.gaussian_nll(dropout_net(x_net), y_net, NOISE_NET) + mv.dropout_kl(dropout_net, 1.0), ALT_STEPS)
print(f"MC dropout (p = {DROPOUT_P}): {ALT_STEPS} steps in {time.process_time() - t0:.1f} s CPU")

t0 = time.process_time()
members = mv.Parameter(np.stack([mv.flat.parameters_to_vector(network(alt_rng)) for _ in range(MEMBERS)]))
adam([members], lambda: -log_likelihood_net(members).sum(), ALT_STEPS)
print(f"deep ensemble ({MEMBERS} networks): {ALT_STEPS} steps in {time.process_time() - t0:.1f} s CPU")

t0 = time.process_time()
w_map = mv.laplace.find_mode(net, x_net, y_net, noise_sigma=NOISE_NET, prior_sigma=1.0,
                             w0=mv.flat.parameters_to_vector(network(alt_rng)), n_steps=500)
laplace_prior_1 = mv.laplace.laplace(net, x_net, y_net, noise_sigma=NOISE_NET, prior_sigma=1.0, w=w_map)
laplace_net = laplace_prior_1.optimise_prior_precision()
print(f"linearised Laplace: MAP network (log joint {log_joint(mv.Tensor(w_map)).item():.2f}) and its GGN in "
      f"{time.process_time() - t0:.1f} s CPU; Laplace log p(data) {laplace_prior_1.log_evidence:.2f} with the "
      f"prior's alpha = 1, {laplace_net.log_evidence:.2f} with the evidence's alpha = "
      f"{laplace_net.prior_precision:.3f} (prior sd {laplace_net.prior_sigma:.2f})")


def predictive_alternative(method, x):
    """Sampled functions f_s(x), (S, N, 1), for 'MC dropout', 'deep ensemble' or 'linearised Laplace'."""
    if method == "linearised Laplace":
        jac = mv.laplace.jacobian(net, w_map, x)[:, 0, :]                          # (N, D)
        chol = np.linalg.cholesky(laplace_net.hessian)                            # H = L Lᵀ
        dw = np.linalg.solve(chol.T, np.random.default_rng(21).standard_normal((D, N_PREDICT)))   # ~ N(0, H⁻¹)
        with mv.no_grad():
            f_hat = mv.flat.functional_forward(net, w_map, x).data
        return (f_hat + jac @ dw).T[:, :, None]
    with mv.no_grad():
        if method == "MC dropout":
            return mv.predict(dropout_net, x, n_samples=N_PREDICT)
        return mv.flat.functional_forward(net, members.data, x).data               # the 5 members


ALTERNATIVES = ("MC dropout", "deep ensemble", "linearised Laplace")
for m in ALTERNATIVES:
    bands[m] = mv.regression_uncertainty(predictive_alternative(m, x_grid), NOISE_NET)
    results[m] = scores(bands[m], predictive_alternative(m, x_test))

# %% [markdown]
# One more score, against HMC itself rather than against held-out points: how much of **HMC's
# predictive** of $y$ each method's 95% interval (mean $\pm 1.96$ total std) holds, at each grid
# point on the clusters and in the gap. HMC's predictive at $x$ is the mixture
# $\frac1S\sum_s \mathcal N(f_s(x), \sigma_{\text{noise}}^2)$ over its draws, so the mass is the average over $s$ of
# `mv.exact.interval_mass` (the mass of the Gaussian $\mathcal N(f_s(x), \sigma_{\text{noise}}^2)$ inside the interval).
# About 0.95 is right; less means the method is too sure where HMC is not, or off-centre.

# %%
hmc_grid = predictive("HMC", x_grid)[:, :, 0]                                     # (S, grid)


def mass_of_hmc_predictive(band):
    """The mass of HMC's predictive of y inside the band's 95% interval, at each grid point."""
    mean, total = band["mean"].ravel(), band["total"].ravel()
    return mv.exact.interval_mass(mean - 1.96 * total, mean + 1.96 * total, hmc_grid, NOISE_NET).mean(axis=0)


ALL = METHODS + ALTERNATIVES
for m in ALL:
    mass = mass_of_hmc_predictive(bands[m])
    results[m]["HMC's mass in the 95% interval, clusters"] = mass[on_data(x_grid.ravel())].mean()
    results[m]["HMC's mass in the 95% interval, gap"] = mass[in_gap(x_grid.ravel())].mean()
short = {"HMC": "HMC", "mean-field VI": "mean-field", "full-covariance VI": "full-cov",
         "MC dropout": "MC dropout", "deep ensemble": "ensemble", "linearised Laplace": "lin. Laplace"}
rows = {"epistemic std on the clusters": "std of f, clusters", "epistemic std in the gap": "std of f, gap",
        "gap / clusters": "std ratio gap / clusters", "test log-lik per point, all": "test LL per point, all",
        "test log-lik per point, gap": "test LL per point, gap",
        "95% interval coverage, all": "held-out y in the 95% interval",
        "HMC's mass in the 95% interval, clusters": "HMC's mass inside, clusters",
        "HMC's mass in the 95% interval, gap": "HMC's mass inside, gap"}
print(f"{'all six methods':32}" + "".join(f"{short[m]:>13}" for m in ALL))
for key, label in rows.items():
    print(f"{label:32}" + "".join(f"{results[m][key]:13.3f}" for m in ALL))

# %% [markdown]
# **What came out.** Two different questions, two kinds of row. The first three rows and the last
# two ask how close each method is to the posterior (HMC); the test log-likelihood and the
# held-out coverage ask how well it predicts new data from the true curve. They need not agree:
# HMC's posterior under the prior $\mathcal N(0, 1)$ is not the best possible predictor of
# $\sin(3x)$, and a method can beat it on test data while being far from it.
#
# - **The linearised Laplace** is the closest to HMC in shape: sure on the clusters (0.036
#   against HMC's 0.038), 4.3 times less sure in the gap (HMC 5.4), and its 95% interval holds
#   0.948 of HMC's predictive on the clusters. In the gap it is somewhat too narrow (0.155 against
#   0.206; it holds 0.887 of HMC's predictive there). Its test log-likelihood, 0.619, is close to
#   HMC's 0.606. The evidence chose a prior precision of 0.232 (a prior sd of 2.08), wider than the
#   prior the MAP network was trained with.
# - **MC dropout** shows the failure Foong et al. report, in its strongest form: it is *less*
#   uncertain in the gap than on the clusters (ratio 0.519; 0.085 in the gap against HMC's
#   0.206), and its interval holds only 0.727 of HMC's predictive in the gap, the least of all.
#   Yet its test log-likelihood is good (0.577; 0.705 in the gap, above HMC's 0.441): its mean
#   happens to follow the true curve across the gap, and held-out points from that curve reward
#   it for that, not for knowing what it does not know.
# - **The deep ensemble** is almost certain on the clusters, where its 5 members agree (0.004
#   against HMC's 0.038), and unsure in the gap (0.136), where they disagree: the right shape,
#   exaggerated (ratio 36.3). It has the best test log-likelihood of all six (0.752) while its
#   interval holds 0.851 of HMC's predictive in the gap: 5 maximum-likelihood fits are not a
#   posterior.
# - Every method keeps about 95% of held-out points inside its own interval (0.953 to 0.988):
#   coverage of noisy data, dominated by the noise, does not tell these methods apart; the
#   epistemic std and the mass of HMC's predictive do.
#
# One seed, one data set, fixed budgets and settings (dropout rate 0.05, 5 members): the table
# says how each did here.

# %%
fig, axes = plots.figure(2, 3, size=(17, 9))
for ax, m in zip(axes.ravel(), METHODS[1:] + ALTERNATIVES):
    for lo, hi in CLUSTERS:
        ax.axvspan(lo, hi, color="0.92", zorder=0)
    plots.regression_band(ax, x_net, y_net, x_grid, bands[m], truth=f_true(x_grid), title=m)
    hmc_mean, hmc_total = bands["HMC"]["mean"].ravel(), bands["HMC"]["total"].ravel()
    for sign in (-1, 1):
        ax.plot(x_grid.ravel(), hmc_mean + sign * 2 * hmc_total, color="black", lw=1.2, ls=":",
                label="HMC: ±2 std, total" if sign < 0 else None)
    ax.set_ylim(-3.5, 3.5)
    ax.legend(loc="upper left", fontsize=7)
ax_all = axes[1, 2]
for lo, hi in CLUSTERS:
    ax_all.axvspan(lo, hi, color="0.92", zorder=0)
colors.update({"MC dropout": "tab:purple", "deep ensemble": "tab:orange", "linearised Laplace": "tab:blue"})
for m in ALL:
    ax_all.plot(x_grid.ravel(), bands[m]["epistemic"].ravel(), color=colors[m], lw=2 if m == "HMC" else 1.5,
                label=m)
ax_all.set(xlabel="x", ylabel="epistemic std of f(x)", yscale="log", title="Epistemic std along x, all six")
ax_all.legend(fontsize=8)
fig.suptitle("Five approximations against HMC (dotted: HMC's ±2 total std) on the 1-50-1 network; "
             "grey: where the data are", fontsize=12)
plots.save(fig, OUT_DIR / "08_alternatives.png")
print(f"tutorial 08 ran in {time.perf_counter() - START:.1f} s")

# %% [markdown]
# ## What to take away
#
# - HMC needs only $\log p(\mathcal{D}\mid w) + \log p(w)$ and its gradient, never $p(\mathcal{D})$; on the conjugate
#   model its means match the exact ones within their Monte Carlo error and its covariance
#   entries within 4.6%. On a network it is the slow part (its time against the two VI fits'
#   is printed above), and its chains mixed in function space while single weights did not:
#   check $\hat R$ and ESS of what you will use.
# - A full-covariance Gaussian is step 7 and step 5 with a Cholesky factor:
#   $w = \mu + L\varepsilon$, $\partial F/\partial L = \mathrm{tril}(\partial F/\partial w\,\varepsilon^\top)$, and a KL whose
#   $-\sum_i \log L_{ii}$ is the log-determinant (exercise 9). When the posterior is Gaussian it
#   recovers it; mean-field recovers only the mean-field optimum and under-covers.
# - On a network, neither q is the posterior. Here both were far too uncertain where the data
#   are, compared with HMC, and so only a little more uncertain between the clusters than on
#   them (1.3 and 1.5 times, against HMC's 5.4). The full covariance had the better ELBO and
#   came closer to HMC in test log-likelihood; the shape of its uncertainty is still far from
#   HMC's.
# - Of the methods practitioners use instead, the linearised Laplace came closest to HMC's
#   shape of uncertainty here; MC dropout was less sure between the clusters than on them, and the
#   deep ensemble had the best test log-likelihood while far from HMC's predictive in the gap. A
#   good test score is not a good posterior: score a method against the truth where it is known.
#
# How long the run took: its last line prints it, and on the site the box at the top of the
# page gives the time of the run shown. HMC on the network takes most of it.
#
# Exercises: `python tutorials/exercises/check.py 8 9` (one leapfrog step; the full-covariance
# KL and its gradient). Try it yourself: give the network's prior a scale that shrinks with the
# layer's width (`mv.flat.log_joint(..., fan_in_prior=True)`) and see how HMC's band between
# the clusters changes.
