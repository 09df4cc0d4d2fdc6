"""Tutorial 02: KL and the ELBO (step 3): log p(data) = ELBO + KL(q || posterior) checked for several q,
and the best mean-field q drawn over the exact posterior (too narrow, and why)."""

# %% [markdown]
# # 02 · KL and the ELBO (derivation step 3)
#
# Tutorial 01 showed that the posterior $p(w \mid \mathcal{D})$ is out of reach because its normaliser
# $p(\mathcal{D})$ is an integral over all weights. Variational inference gives up on $p(w \mid \mathcal{D})$ itself
# and picks a simple distribution q(w) that we can evaluate and sample, then makes it
# imitate the posterior by minimising the Kullback–Leibler divergence
#
# $$\mathrm{KL}[q \,\|\, p(w \mid \mathcal{D})] = \mathbb{E}_q\big[\log q(w) - \log p(w \mid \mathcal{D})\big] \ \ge 0 .$$
#
# Substituting Bayes' rule, $\log p(w \mid \mathcal{D}) = \log p(\mathcal{D} \mid w) + \log p(w) - \log p(\mathcal{D})$, and using that
# $\log p(\mathcal{D})$ is a constant under $\mathbb{E}_q$:
#
# $$\mathrm{KL}[q \,\|\, p(w \mid \mathcal{D})] = \underbrace{\mathrm{KL}[q \,\|\, p(w)] - \mathbb{E}_q[\log p(\mathcal{D} \mid w)]}_{F(q)\;=\;-\mathrm{ELBO}(q)} + \log p(\mathcal{D}).$$
#
# Rearranged, this is the identity at the heart of step 3:
#
# $$\begin{aligned}
#   \log p(\mathcal{D}) &= \mathrm{ELBO}(q) + \mathrm{KL}[q \,\|\, p(w \mid \mathcal{D})], \\
#   \mathrm{ELBO}(q) &= \mathbb{E}_q[\log p(\mathcal{D} \mid w)] - \mathrm{KL}[q \,\|\, p(w)] .
# \end{aligned}$$
#
# Three consequences: the ELBO is a lower bound on the log evidence (hence the name,
# Evidence Lower BOund), because $\mathrm{KL} \ge 0$; maximising the ELBO over $q$ is the same as
# minimising $\mathrm{KL}[q \,\|\, \text{posterior}]$, because their sum does not depend on $q$; and the ELBO only
# needs the likelihood and the prior, never $p(\mathcal{D})$. Below the identity is checked to
# rounding error on a model where every term is known exactly.

# %%
import numpy as np

import minivi as mv
from minivi import plots

QUICK, OUT_DIR = plots.tutorial_options(__doc__ or "tutorial 02")

# %% [markdown]
# ## 1. A model with an exact answer
#
# The two-weight regression of tutorial 01: $y = w_0 + w_1 x + \text{noise}$, 20 points with $x$ in
# $[0, 1]$, noise standard deviation 0.3, prior $\mathcal{N}(0, I)$. Intercept and slope trade off, so
# the posterior is strongly correlated. `minivi/exact.py` gives the exact posterior
# (`blr_posterior`), the exact log evidence (`blr_log_evidence`), the exact ELBO of any
# Gaussian q (`elbo_gaussian_q`: the Gaussian likelihood's expectation has a closed form)
# and the KL between two Gaussians (`kl_gaussians`).

# %%
PRIOR_SIGMA, NOISE_SIGMA, N_DATA = 1.0, 0.3, 20
W_TRUE = np.array([-0.3, 0.9])
rng = np.random.default_rng(0)                       # tutorial 01's seed; it first drew its one-weight data
rng.uniform(-1.0, 1.0, 8), rng.standard_normal(8)    # (8 x's, 8 noises), so draw those too: the same 20 points
x = rng.uniform(0.0, 1.0, N_DATA)
Phi = np.column_stack([np.ones(N_DATA), x])
y = Phi @ W_TRUE + NOISE_SIGMA * rng.standard_normal(N_DATA)

post_mean, post_cov = mv.exact.blr_posterior(Phi, y, PRIOR_SIGMA, NOISE_SIGMA)
log_evidence = mv.exact.blr_log_evidence(Phi, y, PRIOR_SIGMA, NOISE_SIGMA)
post_sd = np.sqrt(np.diag(post_cov))
post_corr = post_cov[0, 1] / (post_sd[0] * post_sd[1])
print(f"posterior mean {np.round(post_mean, 4)}, sd {np.round(post_sd, 4)}, correlation {post_corr:.3f}")
print(f"log p(data) = {log_evidence:.12f}")

# %% [markdown]
# ## 2. The identity, q by q
#
# Seven Gaussians $q = \mathcal{N}(m, S)$, from hopeless to perfect:
#
# - **prior**: $q = p(w)$, which has not looked at the data;
# - **exact posterior**: $q = p(w \mid \mathcal{D})$, for which KL must be 0 and $\mathrm{ELBO} = \log p(\mathcal{D})$;
# - **mean-field optimum**: the best *factorised* $q(w) = \mathcal{N}(w_0; \mu_0, \sigma_0^2)\, \mathcal{N}(w_1; \mu_1, \sigma_1^2)$,
#   from `mv.exact.mean_field_optimum` (section 3);
# - **diagonal, marginal variances**: factorised, with each $\sigma_i$ set to the posterior's
#   marginal standard deviation;
# - **shifted**: the posterior's shape, moved off its mean;
# - **2× wider / 2× narrower**: the posterior's shape and mean, every standard deviation
#   doubled or halved.
#
# For each, the table prints $\mathrm{ELBO}(q)$ (`elbo_gaussian_q`), $\mathrm{KL}[q \,\|\, p(w \mid \mathcal{D})]$ (`kl_gaussians`),
# their sum, and the sum minus $\log p(\mathcal{D})$.

# %%
mf_mu, mf_sigma = mv.exact.mean_field_optimum(post_mean, post_cov)
SHIFT = 2.0 * post_sd * np.array([1.0, -1.0])     # two posterior sds along each axis, against the correlation
candidates = {
    "prior p(w)": (np.zeros(2), PRIOR_SIGMA**2 * np.eye(2)),
    "exact posterior": (post_mean, post_cov),
    "mean-field optimum": (mf_mu, np.diag(mf_sigma**2)),
    "diagonal, marginal variances": (post_mean, np.diag(np.diag(post_cov))),
    "posterior shifted by 2 sd": (post_mean + SHIFT, post_cov),
    "posterior 2x wider": (post_mean, 4.0 * post_cov),
    "posterior 2x narrower": (post_mean, 0.25 * post_cov),
}
elbo, kl_to_post = {}, {}
print(f"{'q':30s} {'ELBO(q)':>12s} {'KL[q||post]':>12s} {'ELBO + KL':>16s} {'log p(data)':>16s} {'difference':>11s}")
for name, (mean_q, cov_q) in candidates.items():
    elbo[name] = mv.exact.elbo_gaussian_q(Phi, y, PRIOR_SIGMA, NOISE_SIGMA, mean_q, cov_q)
    kl_to_post[name] = mv.exact.kl_gaussians(mean_q, cov_q, post_mean, post_cov)
    total = elbo[name] + kl_to_post[name]
    print(f"{name:30s} {elbo[name]:12.6f} {kl_to_post[name]:12.6f} {total:16.12f} {log_evidence:16.12f} "
          f"{total - log_evidence:11.1e}")

# %% [markdown]
# The last column is rounding error (around $10^{-13}$ nats): ELBO and KL trade off exactly.
# Every ELBO is below $\log p(\mathcal{D})$, and equal to it only for the exact posterior. Note the
# asymmetry between the last two rows: $\mathrm{KL}[q \,\|\, p]$ punishes a $q$ that is too *wide* (mass where
# the posterior has none) more than one that is too narrow.
#
# The figure draws the same numbers: each row's bar starts at $\mathrm{ELBO}(q)$ and has length
# $\mathrm{KL}[q \,\|\, \text{posterior}]$, so every bar ends on the line $\log p(\mathcal{D})$. The prior's row is far off to
# the left (its ELBO is printed above) and is left out so the others stay readable.

# %%
shown = [name for name in candidates if name != "prior p(w)"]
fig, ax = plots.figure(size=(10, 4.8))
rows = np.arange(len(shown))
ax.barh(rows, [kl_to_post[name] for name in shown], left=[elbo[name] for name in shown], height=0.55,
        color="tab:orange", alpha=0.8, label=r"$\mathrm{KL}[q \,\|\, p(w \mid \mathcal{D})]$")
ax.plot([elbo[name] for name in shown], rows, "o", color="tab:blue", ms=8, label="ELBO(q)")
ax.axvline(log_evidence, color="black", lw=2, ls="--", label=rf"$\log p(\mathcal{{D}})$ = {log_evidence:.4f}")
for row, name in zip(rows, shown):
    ax.text(elbo[name] - 0.05, row, f"ELBO {elbo[name]:.3f}, KL {kl_to_post[name]:.3f}",
            va="center", ha="right", fontsize=9)
left_edge = min(elbo[name] for name in shown)
ax.set_xlim(left_edge - 0.6 * (log_evidence - left_edge), log_evidence + 0.3)   # room for the labels
ax.set_yticks(rows, shown)
ax.invert_yaxis()
ax.set(xlabel="nats", title=r"$\log p(\mathcal{D})$ = ELBO(q) + KL[q || posterior], for every q")
ax.legend(loc="lower left", fontsize=9)
plots.save(fig, OUT_DIR / "02_elbo_plus_kl.png")

# %% [markdown]
# ## 3. The best mean-field q, and why it is too narrow
#
# Bayes by Backprop (step 4) uses a *factorised* (mean-field) q: every weight gets its own
# $\mathcal{N}(\mu_i, \sigma_i^2)$, independent of the others, so it cannot represent the intercept–slope
# correlation. Which factorised $q$ minimises $\mathrm{KL}[q \,\|\, p]$ for a Gaussian $p = \mathcal{N}(m, \Sigma)$? With the
# precision matrix $\Lambda = \Sigma^{-1}$ (Bishop 2006, *Pattern Recognition and Machine Learning*,
# sec. 10.1.2; `minivi/exact.py: mean_field_optimum`):
#
# $$\mu_i = m_i, \qquad \sigma_i^2 = 1 / \Lambda_{ii} .$$
#
# $1/\Lambda_{ii}$ is the variance of $w_i$ *with every other weight held fixed* (the conditional
# variance), which is never larger than the marginal variance $\Sigma_{ii}$, and much smaller when
# the weights are correlated. In two dimensions $\Sigma_{ii} \Lambda_{ii} = 1 / (1 - \rho^2)$ for both weights,
# with $\rho$ the correlation.
#
# Why would the best $q$ be too narrow? $\mathrm{KL}[q \,\|\, p] = \mathbb{E}_q[\log q - \log p]$ is an average *under q*:
# wherever $q$ puts mass and $p$ has almost none, $\log p$ is very negative and the penalty is
# large; where $p$ has mass that $q$ misses, nothing is averaged at all. So $q$ is pushed to fit
# *inside* $p$. An axis-aligned ellipse inside a tilted one must be thin. First, a brute-force
# check of the formula: a grid search over $(\sigma_0, \sigma_1)$ with the means fixed at $m$.

# %%
n_search = 41 if QUICK else 121
sigma_axes = [np.linspace(0.3, 2.0, n_search) * mf_sigma[i] for i in (0, 1)]
search_kl = np.array([[mv.exact.kl_gaussians(post_mean, np.diag([s0**2, s1**2]), post_mean, post_cov)
                       for s1 in sigma_axes[1]] for s0 in sigma_axes[0]])
best = np.unravel_index(np.argmin(search_kl), search_kl.shape)
search_step = sigma_axes[0][1] - sigma_axes[0][0], sigma_axes[1][1] - sigma_axes[1][0]
print(f"grid search over {n_search}x{n_search} (σ₀, σ₁): minimum at ({sigma_axes[0][best[0]]:.4f}, "
      f"{sigma_axes[1][best[1]]:.4f}), grid steps ({search_step[0]:.4f}, {search_step[1]:.4f})")
print(f"mean_field_optimum:  σ = ({mf_sigma[0]:.4f}, {mf_sigma[1]:.4f}), KL = {kl_to_post['mean-field optimum']:.6f}")
print(f"posterior marginals: sd = ({post_sd[0]:.4f}, {post_sd[1]:.4f})")
print(f"ratio marginal / mean-field: {np.round(post_sd / mf_sigma, 4)}; "
      f"1/sqrt(1 - ρ²) = {1.0 / np.sqrt(1.0 - post_corr**2):.4f}")

# %% [markdown]
# The picture: the exact posterior's contours at Mahalanobis radius 1, 2, 3 (shaded), the
# mean-field optimum's at the same radii (red), and, for contrast, the factorised q that
# matches the posterior's marginals (dashed). The right panels compare the marginal of
# each weight: these are the error bars a practitioner would quote.

# %%
def ellipse(mean, cov, radius, n_points=200):
    """Points on the contour {w : (w - mean)ᵀ cov⁻¹ (w - mean) = radius²}, shape (n_points, 2)."""
    angle = np.linspace(0.0, 2.0 * np.pi, n_points)
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return mean + radius * circle @ np.linalg.cholesky(cov).T


RADII = (1.0, 2.0, 3.0)
fig, axes = plots.figure(1, 3, size=(15, 4.8))
ax_contour = axes[0]
for radius in reversed(RADII):
    ax_contour.fill(*ellipse(post_mean, post_cov, radius).T, color="tab:blue", alpha=0.18, lw=0)
for radius in RADII:
    ax_contour.plot(*ellipse(post_mean, post_cov, radius).T, color="tab:blue", lw=1.5)
    ax_contour.plot(*ellipse(mf_mu, np.diag(mf_sigma**2), radius).T, color="tab:red", lw=2)
    ax_contour.plot(*ellipse(post_mean, np.diag(post_sd**2), radius).T, color="gray", lw=1.2, ls="--")
ax_contour.plot([], [], color="tab:blue", lw=1.5, label=f"exact posterior (ρ = {post_corr:.2f})")
ax_contour.plot([], [], color="tab:red", lw=2, label="mean-field optimum")
ax_contour.plot([], [], color="gray", ls="--", label="factorised, marginal sds")
ax_contour.set(xlabel="intercept w₀", ylabel="slope w₁", title="Radius 1, 2, 3 contours")
ax_contour.set_aspect("equal", adjustable="datalim")
ax_contour.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)

for i, (ax, name) in enumerate(zip(axes[1:], ("intercept w₀", "slope w₁"))):
    grid = np.linspace(post_mean[i] - 4 * post_sd[i], post_mean[i] + 4 * post_sd[i], 400)
    ax.plot(grid, np.exp(mv.gaussian.log_normal_pdf(grid, post_mean[i], post_sd[i])), color="tab:blue", lw=2,
            label=f"exact marginal, sd {post_sd[i]:.3f}")
    ax.plot(grid, np.exp(mv.gaussian.log_normal_pdf(grid, mf_mu[i], mf_sigma[i])), color="tab:red", lw=2,
            label=f"mean-field q, σ {mf_sigma[i]:.3f}")
    ax.set(xlabel=name, ylabel="density", title=f"Marginal of {name}")
    ax.legend(fontsize=9, loc="upper right")
plots.save(fig, OUT_DIR / "02_mean_field_vs_posterior.png")

# %% [markdown]
# ## 4. It is the direction of the KL
#
# Take the factorised $q_c = \mathcal{N}(m, \operatorname{diag}(c^2 \sigma_{\text{mf}}^2))$, the mean-field optimum with every $\sigma$
# scaled by $c$, and measure both directions of the KL as $c$ varies:
#
# - $\mathrm{KL}[q_c \,\|\, p]$, the one VI minimises ("exclusive"), is smallest at $c = 1$: the narrow $q$;
# - $\mathrm{KL}[p \,\|\, q_c]$ ("inclusive", the one expectation propagation minimises) is smallest where
#   $q_c$ matches the marginal variances, $c = 1/\sqrt{1 - \rho^2}$: it would rather cover $p$.
#
# Both are computed with `mv.exact.kl_gaussians`, arguments swapped.

# %%
scales = np.linspace(0.4, 3.5, 80 if QUICK else 300)
kl_exclusive = np.array([mv.exact.kl_gaussians(mf_mu, np.diag((c * mf_sigma) ** 2), post_mean, post_cov)
                         for c in scales])
kl_inclusive = np.array([mv.exact.kl_gaussians(post_mean, post_cov, mf_mu, np.diag((c * mf_sigma) ** 2))
                         for c in scales])
c_marginal = 1.0 / np.sqrt(1.0 - post_corr**2)
print(f"KL[q_c || p] smallest on the scan at c = {scales[np.argmin(kl_exclusive)]:.3f} (formula: 1)")
print(f"KL[p || q_c] smallest on the scan at c = {scales[np.argmin(kl_inclusive)]:.3f} "
      f"(formula: 1/sqrt(1 - ρ²) = {c_marginal:.3f}); scan step {scales[1] - scales[0]:.3f}")

fig, ax = plots.figure(size=(9, 4.8))
ax.plot(scales, kl_exclusive, lw=2.5, color="tab:red", label=r"$\mathrm{KL}[q_c \,\|\, p(w \mid \mathcal{D})]$  (what VI minimises)")
ax.plot(scales, kl_inclusive, lw=2.5, color="tab:purple", label=r"$\mathrm{KL}[p(w \mid \mathcal{D}) \,\|\, q_c]$  (the other direction)")
ax.axvline(1.0, color="tab:red", ls=":", lw=1.5, label="c = 1: mean-field optimum")
ax.axvline(c_marginal, color="tab:purple", ls=":", lw=1.5,
           label=f"c = 1/√(1−ρ²) = {c_marginal:.2f}: marginal sds")
ax.set(xlabel="scale c of every σ (q_c = N(m, diag(c² σ²_mf)))", ylabel="nats", ylim=(0, 4),
       title="The two KL directions want different widths")
ax.legend(fontsize=9)
plots.save(fig, OUT_DIR / "02_kl_direction.png")

# %% [markdown]
# ## 5. The ELBO without the exact formula: Monte Carlo and the closed-form KL
#
# `elbo_gaussian_q` uses the exact Gaussian expectation of the likelihood, which a neural
# network does not have. Steps 5–6 compute the same ELBO the way Bayes by Backprop does:
# the KL to the $\mathcal{N}(0, 1)$ prior in closed form, summed over the weights
# (`mv.gaussian.kl_normal`, tutorial 04), and $\mathbb{E}_q[\log p(\mathcal{D} \mid w)]$ by Monte Carlo over sampled
# weights $w = \mu + \sigma \varepsilon$ (step 7's reparameterisation, `mv.gaussian.reparameterize`).

# %%
N_ELBO_SAMPLES = 2_000 if QUICK else 20_000
mc_rng = np.random.default_rng(1)
eps = mc_rng.standard_normal((N_ELBO_SAMPLES, 2))
w_samples = mv.gaussian.reparameterize(mf_mu, mf_sigma, eps)                        # (S, 2)
log_lik = np.sum(mv.gaussian.log_normal_pdf(y, w_samples @ Phi.T, NOISE_SIGMA), axis=1)  # log p(data|w) per sample
kl_prior = mv.gaussian.kl_normal(mf_mu, mf_sigma, prior_sigma=PRIOR_SIGMA)
elbo_mc = log_lik.mean() - kl_prior
elbo_se = log_lik.std(ddof=1) / np.sqrt(N_ELBO_SAMPLES)
print(f"mean-field optimum, S = {N_ELBO_SAMPLES}: ELBO by MC = {elbo_mc:.4f} ± {elbo_se:.4f} (1 SE), "
      f"exact {elbo['mean-field optimum']:.4f}, difference {(elbo_mc - elbo['mean-field optimum']) / elbo_se:+.2f} SE")

# %% [markdown]
# The estimate lands within a couple of standard errors of the exact value, which is what
# Monte Carlo noise looks like (and its error shrinks as $1/\sqrt{S}$, tutorial 01); a wrong
# formula on either side would be off by many standard errors.

# %% [markdown]
# ## What to take away
#
# - $\log p(\mathcal{D}) = \mathrm{ELBO}(q) + \mathrm{KL}[q \,\|\, p(w \mid \mathcal{D})]$ holds for every $q$, to rounding error. So the ELBO is
#   a lower bound on the log evidence, and maximising it is minimising $\mathrm{KL}[q \,\|\, \text{posterior}]$
#   without ever computing $p(\mathcal{D})$: step 3's loss $F = \mathrm{KL}[q \,\|\, p(w)] - \mathbb{E}_q[\log p(\mathcal{D} \mid w)] = -\mathrm{ELBO}$.
# - The best factorised $q$ matches the posterior's *conditional* variances $1/\Lambda_{ii}$, not its
#   marginal ones: with correlated weights, mean-field VI gives error bars that are too
#   small. This is a property of $\mathrm{KL}[q \,\|\, p]$ (mass outside $p$ is expensive, missed mass is free),
#   not of the optimiser.
# - The ELBO can be estimated from samples of $q$ and the closed-form KL alone, which is
#   what a Bayesian neural network will do.
#
# Next: tutorial 03 (`03_reparameterisation_trick.py`) shows how gradients get through the
# sampled weights $w = \mu + \sigma \varepsilon$, and tutorial 04 (`04_closed_form_kl.py`) derives the
# closed-form KL used in section 5.
# Exercises: make the data less correlated (x centred on 0 instead of in [0, 1]) and watch
# the mean-field optimum grow to the marginals; add a "3x narrower" q to the table and
# compare its KL with the "2x wider" one.
