"""Tutorial 04: the closed-form KL (step 5): the derivation written out, the formula against a Monte Carlo
estimate, and the KL's landscape over mu and sigma with its gradient field."""

# %% [markdown]
# # 04 · The closed-form KL (derivation step 5)
#
# Step 4 of the derivation fixes the practical choices of Bayes by Backprop
# (Blundell et al. 2015, "Weight Uncertainty in Neural Networks"): every weight $w_i$ has the
# prior $p(w_i) = \mathcal{N}(0, 1)$ and the variational posterior $q(w_i) = \mathcal{N}(\mu_i, \sigma_i^2)$. The loss of
# step 3 is $F = \mathrm{KL}[q \,\|\, p(w)] - \mathbb{E}_q[\log p(\mathcal{D} \mid w)]$. Its first term needs no sampling at all:
# for two Gaussians the KL has a closed form. This tutorial derives it, checks it against
# the definition by Monte Carlo, and draws it as a function of $(\mu, \sigma)$ together with its
# gradient. In the code: `minivi/gaussian.py: kl_normal` and `kl_normal_grads`.
#
# ## The derivation, one weight at a time
#
# By definition, $\mathrm{KL}[q \,\|\, p] = \mathbb{E}_q[\log q(w) - \log p(w)] = \mathbb{E}_q[\log q(w)] - \mathbb{E}_q[\log p(w)]$.
# Two facts about $w \sim \mathcal{N}(\mu, \sigma^2)$ do all the work:
#
# $$\mathbb{E}_q[(w-\mu)^2] = \sigma^2, \qquad \mathbb{E}_q[w^2] = \mathrm{Var}_q[w] + (\mathbb{E}_q[w])^2 = \sigma^2 + \mu^2 .$$
#
# **The first expectation.** $\log q(w) = -\tfrac12 \log 2\pi - \log \sigma - (w - \mu)^2/(2\sigma^2)$, so
#
# $$\mathbb{E}_q[\log q(w)] = -\tfrac12 \log 2\pi - \log\sigma - \frac{\sigma^2}{2\sigma^2} = -\tfrac12 \log 2\pi - \log\sigma - \tfrac12 .$$
#
# (This is minus the entropy of $q$: a wider $q$ has more entropy.)
#
# **The second expectation.** $\log p(w) = -\tfrac12 \log 2\pi - w^2/2$, so
#
# $$\mathbb{E}_q[\log p(w)] = -\tfrac12 \log 2\pi - \frac{\sigma^2 + \mu^2}{2} .$$
#
# **Subtract.** The $-\tfrac12 \log 2\pi$ terms cancel:
#
# $$\mathrm{KL}[q\,\|\,p] = -\log\sigma + \frac{\sigma^2 + \mu^2}{2} - \frac12 .$$
#
# **All the weights.** $q$ and $p$ both factorise over the weights, so $\log q(w) - \log p(w)$ is a
# sum of one term per weight, and each term's expectation involves only its own weight:
#
# $$\mathrm{KL}[q(w)\,\|\,p(w)] = \sum_i \Big(-\log\sigma_i + \frac{\sigma_i^2 + \mu_i^2}{2} - \frac12\Big).$$
#
# With a general prior $\mathcal{N}(m, s^2)$ the same steps give
# $\log(s/\sigma) + \big(\sigma^2 + (\mu - m)^2\big)/(2s^2) - \tfrac12$, which `kl_normal(mu, sigma, prior_mu, prior_sigma)`
# implements (in a rounding-safe arrangement described in its docstring).
#
# **Its gradient**, needed for step 8's update, by differentiating term by term:
#
# $$\frac{\partial\,\mathrm{KL}}{\partial\mu_i} = \mu_i, \qquad \frac{\partial\,\mathrm{KL}}{\partial\sigma_i} = \sigma_i - \frac{1}{\sigma_i} .$$
#
# Both vanish only at $\mu_i = 0$, $\sigma_i = 1$: the KL is zero exactly when $q$ is the prior.

# %%
import numpy as np

import minivi as mv
from minivi import plots

QUICK, OUT_DIR = plots.tutorial_options(__doc__ or "tutorial 04")

# %% [markdown]
# ## 1. The formula against its definition
#
# The definition is an expectation, so Monte Carlo estimates it without any algebra:
# draw $w^s = \mu + \sigma \varepsilon^s$ with $\varepsilon^s \sim \mathcal{N}(0, 1)$ (`mv.gaussian.reparameterize`, step 7) and average
# $\log q(w^s) - \log p(w^s)$ (`mv.gaussian.log_normal_pdf`). The estimate is unbiased and its
# standard error (SE) is the sample standard deviation over $\sqrt{S}$, so the closed form should
# sit within a few SE of it. The table uses a few single weights, one with a non-standard
# prior, and a layer of 50 weights summed.

# %%
N_SAMPLES = 20_000 if QUICK else 200_000
rng = np.random.default_rng(0)


def kl_monte_carlo_terms(mu, sigma, prior_mu, prior_sigma, eps):
    """Per-sample log q(w) - log p(w), summed over the weights, at w = mu + sigma * eps (eps: (S, *mu.shape))."""
    w = mv.gaussian.reparameterize(mu, sigma, eps)
    log_ratio = mv.gaussian.log_normal_pdf(w, mu, sigma) - mv.gaussian.log_normal_pdf(w, prior_mu, prior_sigma)
    return log_ratio.reshape(eps.shape[0], -1).sum(axis=1)


cases = [
    ("mu=0, sigma=1 (q = prior)", np.array([0.0]), np.array([1.0]), 0.0, 1.0),
    ("mu=1, sigma=0.5", np.array([1.0]), np.array([0.5]), 0.0, 1.0),
    ("mu=-0.5, sigma=2", np.array([-0.5]), np.array([2.0]), 0.0, 1.0),
    ("mu=0.3, sigma=0.05 (narrow)", np.array([0.3]), np.array([0.05]), 0.0, 1.0),
    ("mu=1, sigma=0.5, prior N(0.5, 0.3^2)", np.array([1.0]), np.array([0.5]), 0.5, 0.3),
    ("50 weights, random mu and sigma", rng.normal(0.0, 1.0, 50), rng.uniform(0.1, 2.0, 50), 0.0, 1.0),
]
print(f"S = {N_SAMPLES} samples per case")
print(f"{'case':40s} {'closed form':>12s} {'Monte Carlo':>12s} {'SE':>8s} {'(MC-cf)/SE':>11s}")
for name, mu, sigma, prior_mu, prior_sigma in cases:
    closed_form = mv.gaussian.kl_normal(mu, sigma, prior_mu, prior_sigma)
    terms = kl_monte_carlo_terms(mu, sigma, prior_mu, prior_sigma, rng.standard_normal((N_SAMPLES, mu.size)))
    estimate, standard_error = terms.mean(), terms.std(ddof=1) / np.sqrt(N_SAMPLES)
    z = (estimate - closed_form) / standard_error if standard_error > 0 else 0.0
    print(f"{name:40s} {closed_form:12.6f} {estimate:12.6f} {standard_error:8.5f} {z:+11.2f}")

# %% [markdown]
# When $q$ equals the prior every sample gives $\log q - \log p = 0$ exactly: the estimate is 0
# with no noise at all (SE 0). In every other row the closed form lies within a few
# standard errors of the Monte Carlo estimate, and a wrong formula (a missing $\tfrac12$, a $\sigma$ where
# $\sigma^2$ belongs) would be off by dozens or hundreds of them at this $S$.
#
# The figure follows the running Monte Carlo estimate as samples accumulate, with a band
# of ±2 SE computed from the samples so far: the band narrows as $1/\sqrt{S}$ around the closed form.

# %%
S_PLOT = 20_000 if QUICK else 100_000
plot_cases = [("μ = 1, σ = 0.5", np.array([1.0]), np.array([0.5])),
              ("μ = −0.5, σ = 2", np.array([-0.5]), np.array([2.0]))]
fig, axes = plots.figure(1, 2, size=(12, 4.6))
for ax, (title, mu, sigma) in zip(axes, plot_cases):
    terms = kl_monte_carlo_terms(mu, sigma, 0.0, 1.0, rng.standard_normal((S_PLOT, 1)))
    counts = np.arange(1, S_PLOT + 1)
    running_mean = np.cumsum(terms) / counts
    running_var = (np.cumsum(terms**2) - counts * running_mean**2)[1:] / (counts[1:] - 1)
    running_se = np.sqrt(np.maximum(running_var, 0.0) / counts[1:])
    closed_form = mv.gaussian.kl_normal(mu, sigma)
    ax.fill_between(counts[1:], running_mean[1:] - 2 * running_se, running_mean[1:] + 2 * running_se,
                    color="tab:blue", alpha=0.25, lw=0, label="±2 SE")
    ax.plot(counts[1:], running_mean[1:], color="tab:blue", lw=1.5, label="Monte Carlo estimate")
    ax.axhline(closed_form, color="black", lw=2, ls="--",
               label=f"closed form −log σ + (σ² + μ²)/2 − ½ = {closed_form:.4f}")
    ax.set_xscale("log")
    ax.set_ylim(closed_form - 1.0, closed_form + 1.0)
    ax.set(xlabel="Monte Carlo samples S", ylabel="KL[q || N(0, 1)]  (nats)", title=f"q = N(μ, σ²) with {title}")
    ax.legend(fontsize=9, loc="upper right")
    print(f"{title}: closed form {closed_form:.5f}, MC at S = {S_PLOT}: {running_mean[-1]:.5f} "
          f"± {running_se[-1]:.5f} (1 SE)")
plots.save(fig, OUT_DIR / "04_kl_monte_carlo.png")

# %% [markdown]
# ## 2. The gradient against finite differences
#
# `kl_normal_grads` returns $(\partial \mathrm{KL}/\partial\mu, \partial \mathrm{KL}/\partial\sigma) = (\mu, \sigma - 1/\sigma)$ for the standard normal prior.
# `mv.numerical_grad` moves each entry by ±h and takes central differences of `kl_normal`
# itself, an independent check of the derivative written out above. Central differences
# with $h = 10^{-6}$ are accurate to about $10^{-10}$ here (see `minivi/gradcheck.py`), so anything
# much bigger would be a wrong formula.

# %%
mu_check, sigma_check = rng.normal(0.0, 1.0, 8), rng.uniform(0.2, 2.0, 8)
grad_mu, grad_sigma = mv.gaussian.kl_normal_grads(mu_check, sigma_check)
numeric_mu, numeric_sigma = mv.numerical_grad(lambda m, s: mv.gaussian.kl_normal(m, s), mu_check, sigma_check)
print(f"max |dKL/dmu    - finite difference| = {np.max(np.abs(grad_mu - numeric_mu)):.1e}")
print(f"max |dKL/dsigma - finite difference| = {np.max(np.abs(grad_sigma - numeric_sigma)):.1e}")

# %% [markdown]
# ## 3. The landscape over (μ, σ)
#
# The left panel colours $\mathrm{KL}[\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, 1)]$ for one weight over a grid of $(\mu, \sigma)$, each
# value from `kl_normal`. Arrows show the direction of steepest descent, $-\nabla \mathrm{KL}$ from
# `kl_normal_grads` (length normalised: near $\sigma = 0$ the $-1/\sigma$ term makes them huge), and
# three gradient-descent paths, $\sigma \leftarrow \sigma - \eta\, \partial \mathrm{KL}/\partial\sigma$ and $\mu \leftarrow \mu - \eta\, \partial \mathrm{KL}/\partial\mu$, run from different
# starts, all end at the minimum $(0, 1)$. The right panel slices the landscape at $\mu = 0$ and
# splits it into its two $\sigma$-terms: $-\log \sigma$, which grows without bound as $\sigma \to 0$, and
# $(\sigma^2 - 1)/2$, which grows as $\sigma$ widens. Alone, the data term of the loss would shrink every
# $\sigma$ towards zero (a point estimate fits the data best); the $-\log \sigma$ wall of the KL is what
# keeps the uncertainty alive.

# %%
n_grid = 75 if QUICK else 149                     # odd, so that mu = 0 and sigma = 1 are grid points
mu_axis = np.linspace(-2.5, 2.5, n_grid)
sigma_axis = np.linspace(0.04, 3.0, n_grid)
MU, SIGMA = np.meshgrid(mu_axis, sigma_axis)
kl_surface = np.array([[mv.gaussian.kl_normal(m, s) for m, s in zip(mu_row, sigma_row)]
                       for mu_row, sigma_row in zip(MU, SIGMA)])
print(f"on the grid: smallest KL {kl_surface.min():.2e} at mu = {MU.flat[np.argmin(kl_surface)]:.3f}, "
      f"sigma = {SIGMA.flat[np.argmin(kl_surface)]:.3f} (grid steps {mu_axis[1] - mu_axis[0]:.3f}, "
      f"{sigma_axis[1] - sigma_axis[0]:.3f})")

LEARNING_RATE, N_STEPS = 0.05, 200
starts = [(2.2, 0.15), (-2.2, 2.8), (-1.5, 0.4)]
paths = []
for mu0, sigma0 in starts:
    mu_t, sigma_t = np.array([mu0]), np.array([sigma0])
    path = [(mu0, sigma0)]
    for _ in range(N_STEPS):
        step_mu, step_sigma = mv.gaussian.kl_normal_grads(mu_t, sigma_t)
        mu_t, sigma_t = mu_t - LEARNING_RATE * step_mu, sigma_t - LEARNING_RATE * step_sigma
        path.append((mu_t[0], sigma_t[0]))
    paths.append(np.array(path))
    print(f"gradient descent from (mu, sigma) = ({mu0}, {sigma0}): after {N_STEPS} steps of size {LEARNING_RATE} "
          f"at ({mu_t[0]:.4f}, {sigma_t[0]:.4f}), KL = {mv.gaussian.kl_normal(mu_t, sigma_t):.2e}")

# %%
fig, (ax_map, ax_slice) = plots.figure(1, 2, size=(13, 5.2))
levels = np.linspace(0.0, 6.0, 25)
image = ax_map.contourf(MU, SIGMA, np.minimum(kl_surface, levels[-1]), levels=levels, cmap="viridis")
fig.colorbar(image, ax=ax_map, label="KL[N(μ, σ²) || N(0, 1)]  (nats, capped at 6)")
lines = ax_map.contour(MU, SIGMA, kl_surface, levels=[0.1, 0.5, 1.0, 2.0, 4.0], colors="white", linewidths=0.8)
ax_map.clabel(lines, fontsize=8, fmt="%.1f")
arrow_mu, arrow_sigma = np.meshgrid(np.linspace(-2.25, 2.25, 13), np.linspace(0.2, 2.85, 11))
g_mu, g_sigma = mv.gaussian.kl_normal_grads(arrow_mu, arrow_sigma)
length = np.hypot(g_mu, g_sigma)
ax_map.quiver(arrow_mu, arrow_sigma, -g_mu / length, -g_sigma / length, color="white", alpha=0.8,
              angles="xy", scale=30, width=0.003)
for path in paths:
    ax_map.plot(path[:, 0], path[:, 1], color="tab:orange", lw=2)
    ax_map.plot(*path[0], "o", color="tab:orange", ms=6)
ax_map.plot([], [], color="tab:orange", lw=2, label=f"gradient descent, {N_STEPS} steps of η = {LEARNING_RATE}")
ax_map.plot([], [], ">", color="white", markeredgecolor="gray", label="−∇KL direction (kl_normal_grads)")
ax_map.plot(0.0, 1.0, "*", color="red", ms=16, markeredgecolor="white", label="minimum (μ, σ) = (0, 1), KL = 0")
ax_map.set(xlabel="μ (mean of q)", ylabel="σ (standard deviation of q)",
           title="The KL over (μ, σ) and its gradient")
ax_map.legend(fontsize=8, loc="upper center", framealpha=0.9)

sigma_line = np.linspace(0.05, 3.0, 400)
kl_line = np.array([mv.gaussian.kl_normal(np.array([0.0]), np.array([s])) for s in sigma_line])
ax_slice.plot(sigma_line, kl_line, color="black", lw=2.5, label="KL at μ = 0")
ax_slice.plot(sigma_line, -np.log(sigma_line), color="tab:blue", ls="--", lw=1.8,
              label="−log σ = −entropy of q + const  (keeps σ > 0)")
ax_slice.plot(sigma_line, (sigma_line**2 - 1.0) / 2.0, color="tab:red", ls="--", lw=1.8,
              label="(σ² − 1)/2  (pulls σ back to the prior)")
ax_slice.axhline(0.0, color="gray", lw=0.8)
ax_slice.axvline(1.0, color="gray", lw=0.8, ls=":")
ax_slice.set(xlabel="σ", ylabel="nats", ylim=(-1.5, 4.0), title="Slice at μ = 0: the two σ-terms")
ax_slice.legend(fontsize=9, loc="upper center")
plots.save(fig, OUT_DIR / "04_kl_landscape.png")

# %% [markdown]
# ## 4. The KL's constant factor is part of the objective
#
# After deriving this KL, the lecture removes a constant factor ("상수배 Scale을 제거하고")
# before summing over the weights: written with $\log\sigma_i^2$ and without the ½, its loss
# term is $c\,\mathrm{KL}$ with $c = 2$. minivi keeps the factor. Scaling the whole loss would
# change nothing, but scaling the KL alone does: $F_c = c\,\mathrm{KL}[q\,\|\,p(w)] - \mathbb{E}_q[\log p(\mathcal{D}\mid w)]$
# is a KL weight $c \neq 1$, and since $F_c = c\,\mathrm{KL}[q\,\|\,p(w)\,p(\mathcal{D}\mid w)^{1/c}/Z] + \text{const}$,
# its minimiser imitates the posterior of the likelihood raised to $1/c$: for $c = 2$, as if
# every data point counted half. (Tutorial 05 says the same of the L2 loss: its factor
# $1/(2\sigma_{\text{noise}}^2)$ must stay.) Below, one weight and eight points
# $y = w x + \text{noise}$, where $\mathbb{E}_q[-\log p(\mathcal{D}\mid w)]$ has a closed form, so $F_c$ is
# minimised over a fine $(\mu, \sigma)$ grid for $c = 1$ and $c = 2$.

# %%
NOISE_SIGMA_C = 0.5
Phi_c, y_c = mv.data.linear_gaussian(8, np.random.default_rng(4), weights=[0.8], noise_sigma=NOISE_SIGMA_C)
x_c = Phi_c[:, 0]
mu_grid = np.linspace(-0.5, 2.0, 2501)[:, None]
sigma_grid = np.linspace(0.05, 1.0, 951)[None, :]


def expected_nll(mu, sigma):
    """E_q[−log p(data|w)], q = N(mu, sigma²): Σ_n [(y_n − x_n mu)² + x_n² sigma²] / (2 s²) + N log(s √(2π))."""
    squares = np.sum((y_c[:, None, None] - x_c[:, None, None] * mu) ** 2, axis=0) + np.sum(x_c**2) * sigma**2
    return squares / (2 * NOISE_SIGMA_C**2) + len(x_c) * np.log(NOISE_SIGMA_C * np.sqrt(2 * np.pi))


kl_grid = -np.log(sigma_grid) + (sigma_grid**2 + mu_grid**2) / 2 - 0.5   # the step-5 KL, prior N(0, 1)
nll_grid = expected_nll(mu_grid, sigma_grid)
for c, name in ((1.0, "the KL as derived"), (2.0, "the KL's ½ dropped")):
    i, j = np.unravel_index(np.argmin(c * kl_grid + nll_grid), kl_grid.shape)
    mean_c, cov_c = mv.exact.blr_posterior(Phi_c, y_c, 1.0, NOISE_SIGMA_C * np.sqrt(c))   # likelihood^(1/c)
    print(f"c = {c:g} ({name}): c·KL + E_q[NLL] is smallest at q = N({mu_grid[i, 0]:.3f}, "
          f"{sigma_grid[0, j]:.3f}²); the posterior of the likelihood^(1/{c:g}) is "
          f"N({mean_c[0]:.3f}, {np.sqrt(cov_c[0, 0]):.3f}²)")

# %% [markdown]
# ## What to take away
#
# - $\mathrm{KL}[\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, 1)] = -\log \sigma + (\sigma^2 + \mu^2)/2 - \tfrac12$ comes from two Gaussian moments,
#   $\mathbb{E}_q[(w - \mu)^2] = \sigma^2$ and $\mathbb{E}_q[w^2] = \sigma^2 + \mu^2$; for independent weights the KLs add up.
#   `mv.gaussian.kl_normal` is that sum; it agrees with the Monte Carlo definition to
#   within the sampling error, and `kl_normal_grads` with finite differences.
# - As a loss term it pulls each $\mu_i$ towards 0 (weight decay, $\mu^2/2$) and each $\sigma_i$ towards 1,
#   and its $-\log \sigma$ wall stops $\sigma$ from collapsing to a point estimate.
# - Its constant factor stays: $c\,\mathrm{KL}$ with $c \neq 1$ is a KL weight, and its minimiser is
#   a different, tempered posterior (wider for the lecture's $c = 2$).
# - Because it is exact, this half of the loss needs no sampling; only the data term
#   $\mathbb{E}_q[\log p(\mathcal{D} \mid w)]$ is estimated by Monte Carlo (step 6), through $w = \mu + \sigma \varepsilon$ (step 7).
#
# Next: tutorial 05 (`05_bayes_by_backprop_regression.py`) puts the two halves of the loss
# together and trains a Bayesian network.
#
# Exercises: classroom exercise 2 asks you to write `kl_normal` and `kl_normal_grads` for a
# prior $\mathcal{N}(0, s^2)$ yourself; `python tutorials/exercises/check.py 2` checks them. Then repeat
# the derivation above for a prior $\mathcal{N}(m, s^2)$ and compare with
# `kl_normal(mu, sigma, prior_mu=m, prior_sigma=s)`; and in the gradient-descent paths,
# parameterise $\sigma = \operatorname{softplus}(\rho)$ (step 4, `mv.gaussian.softplus`) and update $\rho$ with
# `mv.gaussian.sigma_grad_to_rho` instead.
