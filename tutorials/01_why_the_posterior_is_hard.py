"""Tutorial 01: why the posterior is hard (steps 1-2): the evidence by grid quadrature, its cost as the
dimension grows, and the predictive integral answered by Monte Carlo."""

# %% [markdown]
# # 01 · Why the posterior is hard (derivation steps 1–2)
#
# Bayes' rule gives the posterior over the weights w of a model from the data $\mathcal{D}$:
#
# $$p(w \mid \mathcal{D}) = \frac{p(\mathcal{D} \mid w)\, p(w)}{p(\mathcal{D})}, \qquad p(\mathcal{D}) = \int p(\mathcal{D} \mid w)\, p(w)\, dw .$$
#
# The numerator is easy: we chose the prior $p(w)$ and the likelihood $p(\mathcal{D} \mid w)$ ourselves.
# The **evidence** $p(\mathcal{D})$ in the denominator is an integral over *every* weight
# (step 1 of the derivation in `README.md`). And once we have the posterior, using it
# for a prediction is a second integral of the same kind (step 2):
#
# $$\mathbb{E}_{p(w \mid \mathcal{D})}[f(x; w)] = \int f(x; w)\, p(w \mid \mathcal{D})\, dw .$$
#
# **Symbols**, the same on every page, in the README and in the derivation: $\mathcal{D}$ is the
# data set, $N$ the number of its points, $D$ the number of weights. The printed output is plain
# text, where the data set is written out as `data`: `log p(data)` is $\log p(\mathcal{D})$ and
# `p(data|w)` is $p(\mathcal{D} \mid w)$.
#
# This tutorial does both integrals the obvious way, on a grid, for models small enough
# that we also know the exact answer, and measures how fast the obvious way stops
# working as the number of weights grows. Then it shows what does keep working for the
# second integral: Monte Carlo.
#
# The ground truth is conjugate Bayesian linear regression,
# $y = \Phi w + \text{noise}$ with noise $\sim \mathcal{N}(0, \sigma_{\text{noise}}^2)$ and prior $w \sim \mathcal{N}(0, \sigma_{\text{prior}}^2 I)$, where the
# posterior and the evidence have closed forms (`minivi/exact.py`: `blr_posterior`,
# `blr_log_evidence`). A neural network has no such closed form; that is why the rest
# of minivi exists.

# %%
import time
import warnings

import numpy as np

import minivi as mv
from minivi import plots

QUICK, OUT_DIR = plots.tutorial_options(__doc__ or "tutorial 01")

# %% [markdown]
# ## 1. One weight: the evidence is an area
#
# Eight points from $y = w x + \text{noise}$ with one unknown weight $w$. The prior is $\mathcal{N}(0, 1)$,
# the noise standard deviation 0.5. For one weight the evidence integral is the area
# under the curve $p(\mathcal{D} \mid w)\, p(w)$, and a grid of points along $w$ (the trapezoid rule) finds it.
# `mv.exact.evidence_by_quadrature` does exactly that, in log space because $p(\mathcal{D} \mid w)$
# alone underflows for more than a few data points.

# %%
PRIOR_SIGMA = 1.0
rng = np.random.default_rng(0)
N_1D, W_TRUE_1D, NOISE_1D = 8, 0.8, 0.5
x_1d = rng.uniform(-1.0, 1.0, N_1D)
y_1d = W_TRUE_1D * x_1d + NOISE_1D * rng.standard_normal(N_1D)
Phi_1d = x_1d.reshape(-1, 1)

post_mean_1d, post_cov_1d = mv.exact.blr_posterior(Phi_1d, y_1d, PRIOR_SIGMA, NOISE_1D)
log_evidence_1d = mv.exact.blr_log_evidence(Phi_1d, y_1d, PRIOR_SIGMA, NOISE_1D)
log_evidence_1d_grid = mv.exact.evidence_by_quadrature(Phi_1d, y_1d, PRIOR_SIGMA, NOISE_1D, n_grid=801)
print(f"one weight: posterior N({post_mean_1d[0]:.4f}, {np.sqrt(post_cov_1d[0, 0]):.4f}^2)")
print(f"  log p(data) exact (closed form)   = {log_evidence_1d:.12f}")
print(f"  log p(data) by grid, 801 points   = {log_evidence_1d_grid:.12f}")
print(f"  difference                        = {log_evidence_1d_grid - log_evidence_1d:.1e}")

# %% [markdown]
# The figure draws the three densities of Bayes' rule and, on the right, the
# unnormalised product $p(\mathcal{D} \mid w)\, p(w)$, whose area *is* $p(\mathcal{D})$. Dividing the product by its
# area gives back the posterior on the left: that division is all Bayes' rule asks for.

# %%
def trapezoid(values, grid):
    """∫ values d(grid) by the trapezoid rule (np.trapezoid itself needs NumPy >= 2)."""
    return np.sum(0.5 * (values[1:] + values[:-1]) * np.diff(grid))


def log_likelihood(Phi, y, w, noise_sigma):
    """log p(data|w) = Σ_n log N(y_n; φ_nᵀ w, σ_noise²) for each row of w (shape (G, D)) -> (G,)."""
    return np.sum(mv.gaussian.log_normal_pdf(y, w @ Phi.T, noise_sigma), axis=1)


def log_prior(w, prior_sigma):
    """log p(w) = Σ_i log N(w_i; 0, σ_prior²) for each row of w -> (G,)."""
    return np.sum(mv.gaussian.log_normal_pdf(w, 0.0, prior_sigma), axis=1)


w_axis = np.linspace(-2.5, 2.5, 1001)
w_col = w_axis.reshape(-1, 1)
prior_1d = np.exp(log_prior(w_col, PRIOR_SIGMA))
likelihood_1d = np.exp(log_likelihood(Phi_1d, y_1d, w_col, NOISE_1D))
joint_1d = likelihood_1d * prior_1d
posterior_1d = np.exp(mv.gaussian.log_normal_pdf(w_axis, post_mean_1d[0], np.sqrt(post_cov_1d[0, 0])))
likelihood_unit_area = likelihood_1d / trapezoid(likelihood_1d, w_axis)

fig, (ax_densities, ax_area) = plots.figure(1, 2, size=(12, 4.5))
ax_densities.plot(w_axis, prior_1d, lw=2, label="prior p(w) = N(0, 1)")
ax_densities.plot(w_axis, likelihood_unit_area, lw=2, ls="--", label=r"likelihood $p(\mathcal{D} \mid w)$, rescaled to area 1")
ax_densities.plot(w_axis, posterior_1d, lw=2.5, color="black", label=r"posterior $p(w \mid \mathcal{D})$ (exact)")
ax_densities.axvline(W_TRUE_1D, color="gray", lw=1, ls=":", label=f"true w = {W_TRUE_1D}")
ax_densities.set(xlabel="weight w", ylabel="density", title="Bayes' rule for one weight")
ax_densities.legend(fontsize=9)

ax_area.fill_between(w_axis, joint_1d, color="tab:orange", alpha=0.4,
                     label=rf"area = $p(\mathcal{{D}})$ = {np.exp(log_evidence_1d):.3e}")
ax_area.plot(w_axis, joint_1d, color="tab:orange", lw=2, label=r"$p(\mathcal{D} \mid w)\, p(w)$")
ax_area.set(xlabel="weight w", ylabel=r"$p(\mathcal{D} \mid w)\, p(w)$   (not a density in w)",
            title=rf"The evidence is the area: $\log p(\mathcal{{D}})$ = {log_evidence_1d:.4f}")
ax_area.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
ax_area.legend(fontsize=9)
plots.save(fig, OUT_DIR / "01_evidence_1d.png")

# %% [markdown]
# ## 2. Two weights: a grid in the plane
#
# Now an intercept and a slope, y = w₀ + w₁ x + noise, from 20 points with x in [0, 1].
# The two weights trade off against each other (a higher intercept fits as well with a
# lower slope), so the posterior is a tilted ellipse. A grid with n points per axis now
# has $n^2$ points. On the left, a fine grid's $p(\mathcal{D} \mid w)\, p(w) / p(\mathcal{D})_{\text{grid}}$ is filled in at the
# levels of the exact posterior's contours, which are drawn on top: they coincide. On the
# right, a coarse grid of the same box $[-8, 8]^2$ (the default of `evidence_by_quadrature`:
# ±8 prior standard deviations), whose points mostly miss the posterior and whose evidence
# is badly wrong. The library says so: `evidence_by_quadrature` warns (an
# `UnresolvedGridWarning`) when its grid step is wider than the posterior's narrowest
# standard deviation or its box cuts the integrand off. This tutorial uses coarse grids on
# purpose, to measure how wrong they are, so it silences that warning where it does.

# %%
N_2D, NOISE_2D = 20, 0.3
W_TRUE_2D = np.array([-0.3, 0.9])
x_2d = rng.uniform(0.0, 1.0, N_2D)
Phi_2d = np.column_stack([np.ones(N_2D), x_2d])
y_2d = Phi_2d @ W_TRUE_2D + NOISE_2D * rng.standard_normal(N_2D)

post_mean_2d, post_cov_2d = mv.exact.blr_posterior(Phi_2d, y_2d, PRIOR_SIGMA, NOISE_2D)
log_evidence_2d = mv.exact.blr_log_evidence(Phi_2d, y_2d, PRIOR_SIGMA, NOISE_2D)
post_sd_2d = np.sqrt(np.diag(post_cov_2d))
post_corr_2d = post_cov_2d[0, 1] / (post_sd_2d[0] * post_sd_2d[1])
print(f"two weights: posterior mean {np.round(post_mean_2d, 4)}, sd {np.round(post_sd_2d, 4)}, "
      f"correlation {post_corr_2d:.3f}")
print(f"  log p(data) exact = {log_evidence_2d:.12f}")
N_FINE, N_COARSE = 401, 25
log_evidence_2d_fine = mv.exact.evidence_by_quadrature(Phi_2d, y_2d, PRIOR_SIGMA, NOISE_2D, n_grid=N_FINE)
with warnings.catch_warnings():                   # coarse on purpose: its error is what we measure
    warnings.simplefilter("ignore", mv.exact.UnresolvedGridWarning)
    log_evidence_2d_coarse = mv.exact.evidence_by_quadrature(Phi_2d, y_2d, PRIOR_SIGMA, NOISE_2D, n_grid=N_COARSE)
for n, value in ((N_FINE, log_evidence_2d_fine), (N_COARSE, log_evidence_2d_coarse)):
    print(f"  grid {n:3d} x {n:3d} = {n * n:6d} points: log p(data) = {value:.12f}, "
          f"error {value - log_evidence_2d:+.2e}")


# %%
def gaussian_log_pdf_2d(w, mean, cov):
    """log N(w; mean, cov) for each row of w (shape (G, 2)), written out for the 2x2 case."""
    diff = w - mean
    precision = np.linalg.inv(cov)
    mahalanobis = np.sum((diff @ precision) * diff, axis=1)
    return -np.log(2.0 * np.pi) - 0.5 * np.log(np.linalg.det(cov)) - 0.5 * mahalanobis


HALF_WIDTH = 8.0 * PRIOR_SIGMA                     # evidence_by_quadrature's default box
view = [(post_mean_2d[i] - 4.5 * post_sd_2d[i], post_mean_2d[i] + 4.5 * post_sd_2d[i]) for i in (0, 1)]
plot_axes = [np.linspace(lo, hi, 200) for lo, hi in view]
W0, W1 = np.meshgrid(*plot_axes, indexing="ij")
w_plot = np.column_stack([W0.ravel(), W1.ravel()])
exact_density = np.exp(gaussian_log_pdf_2d(w_plot, post_mean_2d, post_cov_2d)).reshape(W0.shape)
# The contour levels of a 2-D Gaussian at 1, 2, 3 Mahalanobis radii r: peak * exp(-r^2 / 2).
peak = exact_density.max()
levels = sorted(peak * np.exp(-0.5 * np.array([1.0, 2.0, 3.0]) ** 2))   # increasing: radius 3, 2, 1

fig, (ax_fine, ax_coarse) = plots.figure(1, 2, size=(12, 5))
for ax, n, value in ((ax_fine, N_FINE, log_evidence_2d_fine), (ax_coarse, N_COARSE, log_evidence_2d_coarse)):
    grid_axis = np.linspace(-HALF_WIDTH, HALF_WIDTH, n)
    step = grid_axis[1] - grid_axis[0]             # one point beyond each side, so colour fills the view
    inside = [grid_axis[(grid_axis >= lo - step) & (grid_axis <= hi + step)] for lo, hi in view]
    G0, G1 = np.meshgrid(*inside, indexing="ij")
    w_grid = np.column_stack([G0.ravel(), G1.ravel()])
    log_joint = log_likelihood(Phi_2d, y_2d, w_grid, NOISE_2D) + log_prior(w_grid, PRIOR_SIGMA)
    grid_posterior = np.exp(log_joint - value)
    if G0.shape[0] > 20:
        ax.contourf(G0, G1, grid_posterior.reshape(G0.shape), levels=levels + [1.01 * peak], cmap="Blues", alpha=0.8)
        ax.fill([], [], color="tab:blue", alpha=0.5, label=r"grid: $p(\mathcal{D} \mid w)\, p(w) / p(\mathcal{D})_{\mathrm{grid}}$, same levels")
    else:
        ax.scatter(w_grid[:, 0], w_grid[:, 1], s=25, c="tab:blue", label="grid points in view")
    ax.contour(W0, W1, exact_density, levels=levels, colors="black", linewidths=1.5)
    ax.plot([], [], color="black", label="exact posterior, Mahalanobis radius 1, 2, 3")
    ax.set(xlim=view[0], ylim=view[1], xlabel="intercept w₀", ylabel="slope w₁",
           title=rf"{n} x {n} grid on [−8, 8]² (step {step:.2f}): $\log p(\mathcal{{D}})$ error {value - log_evidence_2d:+.1e}")
    ax.legend(loc="upper right", fontsize=9)
plots.save(fig, OUT_DIR / "01_posterior_2d.png")

# %% [markdown]
# ## 3. How many grid points are needed?
#
# The trapezoid rule converges very fast once the grid step is well below the
# posterior's width: the error falls off a cliff. Before that the grid simply misses
# the posterior. Sweeping the number of points per axis, for the one- and two-weight
# problems, finds the smallest $n$ that gets $\log p(\mathcal{D})$ right to 0.01 nats (and stays
# right for every larger n in the sweep).

# %%
TOLERANCE = 1e-2                                   # nats: a 1% error in p(data) itself
n_sweep = np.arange(5, 161, 2 if QUICK else 1)
sweep_errors = {}
with warnings.catch_warnings():                   # the sweep's coarse grids: their error is what we measure
    warnings.simplefilter("ignore", mv.exact.UnresolvedGridWarning)
    for label, Phi, y, noise_sigma, exact_value in (("D = 1", Phi_1d, y_1d, NOISE_1D, log_evidence_1d),
                                                    ("D = 2", Phi_2d, y_2d, NOISE_2D, log_evidence_2d)):
        sweep_errors[label] = np.array([
            abs(mv.exact.evidence_by_quadrature(Phi, y, PRIOR_SIGMA, noise_sigma, n_grid=int(n)) - exact_value)
            for n in n_sweep
        ])


def smallest_n_within(errors, n_values, tolerance):
    """The smallest n from which every error in the sweep stays below tolerance."""
    bad = np.nonzero(errors >= tolerance)[0]
    return int(n_values[bad[-1] + 1]) if bad.size else int(n_values[0])


n_needed_by_d = {label: smallest_n_within(errors, n_sweep, TOLERANCE) for label, errors in sweep_errors.items()}
N_PER_AXIS = max(n_needed_by_d.values())
for label, n in n_needed_by_d.items():
    print(f"{label}: {n} points per axis give |log p(data) error| < {TOLERANCE} nats")
print(f"so a grid needs about n = {N_PER_AXIS} points per axis, n^D points in D dimensions")

# %% [markdown]
# ## 4. And how long does it take?
#
# `evidence_by_quadrature` stops at D = 2 on purpose. To time larger D, here is the
# same tensor-product trapezoid sum for any D (the library's version expands the squared
# residual to avoid touching each data point; this one evaluates $\log p(\mathcal{D} \mid w) + \log p(w)$
# directly with `mv.gaussian.log_normal_pdf`). At D = 1 and 2 it agrees with the library.
#
# The clock then measures one pass over about $2 \cdot 10^5$ grid points ($2 \cdot 10^4$ in quick mode)
# for D = 1…4 on the data of a D-weight linear model — the time per grid point — and
# multiplies it by the $n^D$ points that the accuracy of section 3 needs. Only $D = 1, \dots, 4$ are
# **measured**; every larger D is **extrapolated** from the count, and optimistically so:
# one point's work (the products φₙᵀw) grows with D, while the extrapolation keeps the
# time per point measured at D = 4.

# %%
def grid_log_evidence(Phi, y, prior_sigma, noise_sigma, n_per_axis, half_width):
    """log ∫ p(data|w) p(w) dw by the trapezoid rule on an n^D grid over [-half_width, half_width]^D."""
    d = Phi.shape[1]
    axis = np.linspace(-half_width, half_width, n_per_axis)
    log_step_weight = np.log(np.full(n_per_axis, axis[1] - axis[0]))
    log_step_weight[[0, -1]] += np.log(0.5)        # the trapezoid rule's half weights at the ends
    w = np.stack(np.meshgrid(*([axis] * d), indexing="ij"), axis=-1).reshape(-1, d)
    log_weight = sum(np.meshgrid(*([log_step_weight] * d), indexing="ij")).ravel()
    terms = log_likelihood(Phi, y, w, noise_sigma) + log_prior(w, prior_sigma) + log_weight
    largest = terms.max()                          # log-sum-exp: the integrand underflows on its own
    return largest + np.log(np.sum(np.exp(terms - largest)))


for Phi, y, noise_sigma, name in ((Phi_1d, y_1d, NOISE_1D, "D = 1"), (Phi_2d, y_2d, NOISE_2D, "D = 2")):
    ours = grid_log_evidence(Phi, y, PRIOR_SIGMA, noise_sigma, 101, HALF_WIDTH)
    with warnings.catch_warnings():               # 101 points: the same sum, not the evidence, in D = 2
        warnings.simplefilter("ignore", mv.exact.UnresolvedGridWarning)
        library = mv.exact.evidence_by_quadrature(Phi, y, PRIOR_SIGMA, noise_sigma, n_grid=101,
                                                  half_width=HALF_WIDTH)
    print(f"{name}: this grid sum {ours:.12f}, library {library:.12f}, difference {ours - library:.1e}")

TIMING_POINTS = 2 * 10**4 if QUICK else 2 * 10**5
TIMING_REPEATS = 3
measured_dims = np.arange(1, 5)
timing_rng = np.random.default_rng(1)
seconds_per_point = []
for d in measured_dims:
    Phi_d, y_d = mv.data.linear_gaussian(N_2D, timing_rng, weights=np.full(d, 0.5), noise_sigma=NOISE_2D)
    n = int(round(TIMING_POINTS ** (1.0 / d)))
    runs = []
    for _ in range(TIMING_REPEATS):
        start = time.perf_counter()
        grid_log_evidence(Phi_d, y_d, PRIOR_SIGMA, NOISE_2D, n, HALF_WIDTH)
        runs.append(time.perf_counter() - start)
    seconds_per_point.append(min(runs) / n**d)
    print(f"D = {d}: {n}^{d} = {n**d:7d} points in {min(runs) * 1e3:6.1f} ms -> "
          f"{seconds_per_point[-1] * 1e9:5.0f} ns per point (measured)")

all_dims = np.arange(1, 21)
points_needed = float(N_PER_AXIS) ** all_dims
seconds_needed = points_needed * seconds_per_point[-1]
measured_seconds = float(N_PER_AXIS) ** measured_dims * np.array(seconds_per_point)
SECONDS_PER_YEAR = 365.25 * 24 * 3600
AGE_OF_UNIVERSE_S = 13.8e9 * SECONDS_PER_YEAR
for d in (4, 8, 12, 16, 20):
    print(f"D = {d:2d}: {N_PER_AXIS}^{d} = {points_needed[d - 1]:.1e} points, about "
          f"{seconds_needed[d - 1]:.1e} s = {seconds_needed[d - 1] / SECONDS_PER_YEAR:.1e} years (extrapolated)")
for seconds, name in ((SECONDS_PER_YEAR, "a year"), (AGE_OF_UNIVERSE_S, "the age of the universe")):
    print(f"one evidence takes longer than {name} from D = {all_dims[np.argmax(seconds_needed > seconds)]} weights on")

# %%
fig, (ax_err, ax_count, ax_time) = plots.figure(1, 3, size=(15, 4.8))
for label, errors in sweep_errors.items():
    ax_err.semilogy(n_sweep, np.maximum(errors, 1e-16), lw=2, label=f"{label} (needs n = {n_needed_by_d[label]})")
ax_err.axhline(TOLERANCE, color="gray", ls="--", lw=1, label=f"tolerance {TOLERANCE} nats")
ax_err.set(xlabel="grid points per axis n", ylabel=r"$|\log p(\mathcal{D})$ grid − exact$|$  (nats)",
           title="Grid error: nothing, then everything")
ax_err.legend(fontsize=9)

ax_count.semilogy(all_dims, points_needed, "o-", lw=2, color="tab:purple")
ax_count.set(xlabel="number of weights D", ylabel="grid points n^D",
             title=f"Points needed: {N_PER_AXIS}^D")
ax_count.grid(alpha=0.3)
for ax in (ax_count, ax_time):
    ax.set_xticks(all_dims[1::2])

ax_time.semilogy(all_dims, seconds_needed, "--", color="tab:red", lw=2,
                 label=f"extrapolated: {N_PER_AXIS}^D × {seconds_per_point[-1] * 1e9:.0f} ns")
ax_time.semilogy(measured_dims, measured_seconds, "o", color="black", ms=8,
                 label=f"measured time per point × {N_PER_AXIS}^D (D = 1…4)")
for seconds, name, side in ((1.0, "1 second", "right"), (SECONDS_PER_YEAR, "1 year", "left"),
                           (AGE_OF_UNIVERSE_S, "age of the universe", "left")):   # labels clear of the data
    ax_time.axhline(seconds, color="gray", lw=1, ls=":")
    ax_time.text(all_dims[0] if side == "left" else all_dims[-1], seconds * 2.0, name, fontsize=9,
                 color="dimgray", ha=side)
ax_time.set(xlabel="number of weights D", ylabel="seconds for one evidence",
            title=r"Time for one $\log p(\mathcal{D})$ on this machine")
ax_time.legend(loc="lower right", fontsize=9)
plots.save(fig, OUT_DIR / "01_grid_cost.png")

# %% [markdown]
# The printout says from how many weights one evidence would outlast a year, and the
# universe: a couple of dozen at most, while even the smallest network in these tutorials (tutorial
# 09's, one hidden layer of tanh units) has several times as many. Even a useless grid of 2 points per
# axis has $2^{1000} \approx 10^{301}$ points for 1,000 weights. This is the curse of dimensionality,
# and it is why step 1 calls the evidence hopeless.
#
# ## 5. The predictive integral (step 2), and why Monte Carlo answers it
#
# Suppose we did have the posterior. A prediction averages the network's output over it:
# $\mathbb{E}_{p(w \mid \mathcal{D})}[f(x; w)]$. On a grid this is the same $n^D$ problem. **Monte Carlo** instead
# draws $S$ weight vectors $w^{(s)} \sim p(w \mid \mathcal{D})$ and averages:
#
# $$\mathbb{E}_{p(w \mid \mathcal{D})}[f(x; w)] \approx \frac{1}{S}\sum_{s=1}^{S} f(x; w^{(s)}),$$
#
# an unbiased estimate whose standard error is $\mathrm{sd}_p[f] / \sqrt{S}$: it depends on how much $f$
# varies under the posterior, **not on how many weights there are**.
#
# To see it, take a linear model with $D = 1, 10, 100$ (and 1,000 in the full run) weights,
# its exact Gaussian posterior, and a one-neuron "network" $f(x; w) = \tanh(\varphi(x)^\top w)$. Each
# sample draws all $D$ weights, $w = m + L \varepsilon$ with $\varepsilon \sim \mathcal{N}(0, I)$ and $L L^\top$ the posterior
# covariance (the reparameterisation of step 7, in $D$ dimensions); $\varphi^\top w$ is then formed as
# $\varphi^\top m + (L^\top \varphi)^\top \varepsilon$, the same number without the $D \times D$ product per sample. The reference answer
# uses a shortcut only this toy allows: under a Gaussian posterior $\varphi^\top w$ is a 1-D Gaussian,
# so the $D$-dimensional integral collapses to a 1-D one that a fine grid does exactly.
# `minivi/predict.py: predict` is this Monte Carlo average for a Bayesian network, where no
# such shortcut exists.

# %%
def gaussian_expectation(g, mean_a, sd_a):
    """E[g(a)] for a ~ N(mean_a, sd_a²), by a fine 1-D trapezoid grid over ±12 standard deviations."""
    z = np.linspace(-12.0, 12.0, 20001)
    return trapezoid(g(mean_a + sd_a * z) * np.exp(mv.gaussian.log_normal_pdf(z, 0.0, 1.0)), z)


mc_dims = (1, 10, 100) if QUICK else (1, 10, 100, 1000)
N_MC_DATA = 50
S_MAX = 1024
REPEATS = 100 if QUICK else 60                 # full: fewer repeats, since D = 1000 draws 1000 ε per sample
sample_counts = 2 ** np.arange(0, int(np.log2(S_MAX)) + 1)
mc_rng = np.random.default_rng(2)
rms_error, clt_prediction, spread_of_f = {}, {}, {}
for d in mc_dims:
    # Features of size 1/√D keep φᵀw of order 1 whatever D is, so the curves are comparable.
    Phi_d, y_d = mv.data.linear_gaussian(N_MC_DATA, mc_rng, weights=mc_rng.standard_normal(d), noise_sigma=NOISE_2D,
                                         x_scale=1.0 / np.sqrt(d))
    mean_d, cov_d = mv.exact.blr_posterior(Phi_d, y_d, PRIOR_SIGMA, NOISE_2D)
    L_d = np.linalg.cholesky(cov_d)
    phi_test = mc_rng.standard_normal(d) / np.sqrt(d)
    mean_a, sd_a = phi_test @ mean_d, np.sqrt(phi_test @ cov_d @ phi_test)
    truth = gaussian_expectation(np.tanh, mean_a, sd_a)
    sd_f = np.sqrt(gaussian_expectation(lambda a: np.tanh(a) ** 2, mean_a, sd_a) - truth**2)
    errors = np.empty((REPEATS, sample_counts.size))
    for r in range(REPEATS):
        eps = mc_rng.standard_normal((S_MAX, d))
        f_samples = np.tanh(phi_test @ mean_d + eps @ (L_d.T @ phi_test))
        running_mean = np.cumsum(f_samples) / np.arange(1, S_MAX + 1)
        errors[r] = running_mean[sample_counts - 1] - truth
    rms_error[d] = np.sqrt(np.mean(errors**2, axis=0))
    clt_prediction[d] = sd_f / np.sqrt(sample_counts)
    spread_of_f[d] = sd_f
    print(f"D = {d:4d}: E[f] = {truth:+.5f}, sd_p[f] = {sd_f:.4f}; RMS error of the MC mean over {REPEATS} "
          f"repeats: S = 16 -> {rms_error[d][4]:.4f}, S = {S_MAX} -> {rms_error[d][-1]:.5f} "
          f"(sd_p[f]/√S = {clt_prediction[d][-1]:.5f}; RMS error / (sd_p[f]/√S) = "
          f"{rms_error[d][-1] / clt_prediction[d][-1]:.2f})")

# %% [markdown]
# The figure puts the measured root-mean-square error of the Monte Carlo mean (solid,
# over independent repeats), divided by the spread $\mathrm{sd}_p[f]$ of $f$ under the posterior,
# next to the prediction $1/\sqrt{S}$ (dotted). The spread itself depends on the set-up (here
# it grows with $D$; the printout gives it), but relative to it every line falls on
# $1/\sqrt{S}$, with slope −1/2 on log-log axes, for one weight as for a thousand: to halve the
# error, take four times the samples, whatever D is.

# %%
fig, ax = plots.figure(size=(8, 5))
for d, color in zip(mc_dims, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
    ax.loglog(sample_counts, rms_error[d] / spread_of_f[d], "o-", color=color, lw=2, ms=4,
              label=f"D = {d} weight{'s' if d > 1 else ''} (measured, sd_p[f] = {spread_of_f[d]:.3f})")
ax.loglog(sample_counts, 1.0 / np.sqrt(sample_counts), ":", color="black", lw=1.5, label="1 / √S")
ax.set(xlabel="Monte Carlo samples S", ylabel="RMS error of the estimate of E[f(x; w)]  /  sd_p[f]",
       title="Monte Carlo error, relative to the spread of f, shrinks as 1/√S whatever the dimension")
ax.legend(fontsize=9)
ax.grid(alpha=0.3, which="both")
plots.save(fig, OUT_DIR / "01_predictive_mc.png")

# %% [markdown]
# ## What to take away
#
# - The evidence $p(\mathcal{D}) = \int p(\mathcal{D} \mid w)\, p(w)\, dw$ (step 1) is an area for one weight and a volume
#   for two; a grid finds it to many digits once its step is below the posterior's width
#   (`mv.exact.evidence_by_quadrature` against `mv.exact.blr_log_evidence`).
# - A grid needs $n^D$ points. With the few dozen points per axis that one axis needed here,
#   a couple of dozen weights already cost more than the age of the universe: direct
#   integration is hopeless for a neural network, so the posterior $p(w \mid \mathcal{D}) = p(\mathcal{D} \mid w)\, p(w) / p(\mathcal{D})$ is out of reach.
# - The predictive mean (step 2) is another such integral, but an *expectation*: Monte
#   Carlo estimates it with error $\mathrm{sd}/\sqrt{S}$, independent of $D$. What it needs is samples from
#   the posterior, which we cannot draw either.
# - Variational inference (tutorial 02, `02_kl_and_the_elbo.py`) replaces the posterior by
#   a simple q(w) that we *can* sample, fitted without ever computing $p(\mathcal{D})$. Then every
#   expectation becomes a Monte Carlo average over q.
#
# Exercises: change `PRIOR_SIGMA` or the number of data points and watch how the n needed
# per axis moves (a narrower posterior needs a finer grid); replace tanh by another f and
# check that the $1/\sqrt{S}$ slope does not change.
