"""Tutorial 03: the reparameterisation trick (step 7). Why a sampled weight blocks the
gradient, how w = mu + sigma * eps lets it through, four computations of the same gradient
(three of them independent), and the variance of the score-function estimator against the
reparameterised one."""

# %% [markdown]
# # 03 · The reparameterisation trick (step 7)
#
# Step 3 of the derivation asks us to minimise
#
# $$F(\theta) = \mathrm{KL}\big[q(w \mid \theta) \,\|\, p(w)\big] - \mathbb{E}_q\big[\log p(\mathcal{D} \mid w)\big], \qquad \theta = (\mu, \sigma),$$
#
# and step 6 estimates the expectation by Monte Carlo: draw $w$ from $q$, evaluate the
# data term at that $w$. Step 7 is the snag the lecture points out: *sampling is not
# differentiable*. If $w$ comes out of a random number generator, the gradient that
# reaches $w$ has nowhere to go — there is no formula connecting $w$ to $\mu$ and $\sigma$.
#
# The fix (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"; used for
# network weights by Blundell et al. 2015, "Weight Uncertainty in Neural Networks")
# is to draw the noise *separately* and build the weight from it:
#
# $$w = \mu + \sigma \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, 1), \qquad \sigma = \operatorname{softplus}(\rho).$$
#
# Now $w$ is an ordinary differentiable function of $(\mu, \sigma)$ and the chain rule gives
#
# $$\frac{\partial F}{\partial \mu} = \frac{\partial F}{\partial w} \cdot 1, \qquad \frac{\partial F}{\partial \sigma} = \frac{\partial F}{\partial w}\, \varepsilon, \qquad \frac{\partial F}{\partial \rho} = \frac{\partial F}{\partial \sigma}\, \operatorname{sigmoid}(\rho).$$
#
# This tutorial
# 1. shows, with minivi's engine, that a sampled number has no history;
# 2. computes the step-7 gradient four ways (three of them independent) on a small
#    regression loss and prints them side by side;
# 3. compares the reparameterised gradient estimator with the older *score-function*
#    (REINFORCE) estimator, which needs no reparameterisation, and measures how
#    their variance falls with the number of samples S.
#
# Code: `minivi/gaussian.py` (`reparameterize`, `reparameterize_grads`,
# `sigma_grad_to_rho`) and `minivi/bayes.py` (`sample_weight`, the engine op that
# uses them).

# %%
import numpy as np
import minivi as mv
from minivi import plots
from minivi.bayes import sample_weight

QUICK, OUT_DIR = plots.tutorial_options(__doc__ or "tutorial 03")
g = mv.gaussian
np.set_printoptions(precision=5, suppress=True)

# %% [markdown]
# ## 1. A sample is just a number
#
# Take one weight with $q(w) = \mathcal{N}(\mu, \sigma^2)$ and a toy objective $F(w) = (w - 2)^2$.
# We make $\mu$ and $\sigma$ engine Tensors that want gradients, then draw $w$ the "obvious" way,
# `rng.normal(mu, sigma)`. The result is a plain float: the engine never saw how it
# was made, so the loss built from it does not depend on $\mu$ or $\sigma$ at all, and
# `backward()` has nothing to do.

# %%
rng = np.random.default_rng(0)
mu = mv.Tensor(0.5, requires_grad=True)
sigma = mv.Tensor(1.0, requires_grad=True)

w_value = rng.normal(mu.data, sigma.data)       # a NumPy float: the history stops here
w = mv.Tensor(w_value)
loss = (w - 2.0) ** 2
print(f"sampled w = {w_value:.4f}  (type {type(w_value).__name__})")
print(f"w.requires_grad = {w.requires_grad},  loss.requires_grad = {loss.requires_grad}")
try:
    loss.backward()
except RuntimeError as err:
    print("loss.backward() ->", err)
print("mu.grad =", mu.grad, " sigma.grad =", sigma.grad)

# %% [markdown]
# Yet the draw *does* depend on $\mu$ and $\sigma$. In fact NumPy computes `rng.normal(mu, sigma)`
# as $\mu + \sigma \cdot$ (a standard-normal draw) — we can check that bit for bit with two
# generators started from the same seed. The reparameterisation trick simply takes
# that hidden $\varepsilon$ out of the generator and writes the formula where the engine can
# see it.

# %%
seed = 7
drawn = np.random.default_rng(seed).normal(0.5, 1.3, size=5)
rebuilt = 0.5 + 1.3 * np.random.default_rng(seed).standard_normal(5)
print("rng.normal(0.5, 1.3)           :", drawn)
print("0.5 + 1.3 * rng.standard_normal:", rebuilt)
print("bit-identical:", np.array_equal(drawn, rebuilt))

# %% [markdown]
# Written with Tensors, $w = \mu + \sigma \varepsilon$ is two engine ops (a multiply and an add), and
# `backward()` now reaches $\mu$ and $\sigma$ through them. Step 7's formulas predict
# $\partial F/\partial \mu = 2(w - 2)$ and $\partial F/\partial \sigma = 2(w - 2)\,\varepsilon$.

# %%
eps = rng.standard_normal()
w = mu + sigma * eps
loss = (w - 2.0) ** 2
loss.backward()
print(f"eps = {eps:.4f},  w = {w.item():.4f}")
print(f"engine : dF/dmu = {mu.grad.item():+.6f},  dF/dsigma = {sigma.grad.item():+.6f}")
print(f"step 7 : dF/dmu = {2 * (w.item() - 2):+.6f},  dF/dsigma = {2 * (w.item() - 2) * eps:+.6f}")

# %% [markdown]
# ## 2. One gradient, computed four ways
#
# Now a slightly bigger case: a linear model with three weights, $y \approx x \cdot w$, eight
# data points, and $S = 4$ weight samples $w_s = \mu + \sigma \odot \varepsilon_s$. The Monte Carlo data term
# (the L2 loss of step 6, without the constant $1/(2\sigma_{\text{noise}}^2)$) is
#
# $$F(\mu, \rho) = \frac{1}{S} \sum_{s} \sum_{n} \big(x_n \cdot w_s - y_n\big)^2,$$
#
# whose gradient with respect to one sample of the weights is
#
# $$\frac{\partial F}{\partial w_s} = \frac{2}{S} \sum_{n} \big(x_n \cdot w_s - y_n\big)\, x_n .$$
#
# Each of $\mu$ and $\rho$ is used by all $S$ samples, so its gradient is a sum over $s$. We
# compute the gradient with respect to $\mu$, $\sigma$ and $\rho$ in four ways, three of them independent
# (the sample_weight op runs the explicit formula inside the engine):
#
# | column | how |
# |---|---|
# | explicit | $\partial F/\partial w_s$ by the formula above, then `gaussian.reparameterize_grads` ($\partial F/\partial \mu = \partial F/\partial w$, $\partial F/\partial \sigma = \partial F/\partial w \cdot \varepsilon$) summed over $s$, and `gaussian.sigma_grad_to_rho` |
# | sample_weight op | `bayes.sample_weight(mu, rho, eps)`: ONE engine op whose backward is the explicit formula — this is what `BayesLinear` uses |
# | engine autodiff | the primitive expression `mu + rho.softplus() * eps`, differentiated by the engine op by op, knowing nothing of step 7 |
# | finite differences | `mv.numerical_grad`: central differences of $F$ with $\varepsilon$ held fixed |
#
# (The KL term of F adds its own closed-form gradient on top — tutorial 04 and
# `gaussian.kl_normal_grads` — which does not involve $\varepsilon$.)

# %%
rng = np.random.default_rng(3)
n_points, n_weights, n_samples = 8, 3, 4
x = rng.normal(size=(n_points, n_weights))
y = x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n_points)
mu0 = rng.normal(size=n_weights)
rho0 = g.inverse_softplus(rng.uniform(0.2, 0.8, size=n_weights))
sigma0 = g.softplus(rho0)
eps = rng.standard_normal((n_samples, n_weights))     # one row per weight sample, held fixed


def data_term(w):
    """(1/S) Σ_s Σ_n (x_n·w_s − y_n)² for w of shape (S, 3); works on arrays and Tensors."""
    return ((w @ x.T - y) ** 2).sum() * (1.0 / n_samples)


# explicit: dF/dw_s by hand, then step 7's formulas
w_samples = g.reparameterize(mu0, sigma0, eps)
grad_w = (2.0 / n_samples) * (w_samples @ x.T - y) @ x
grad_mu_s, grad_sigma_s = g.reparameterize_grads(grad_w, eps)
explicit = {"mu": grad_mu_s.sum(axis=0), "sigma": grad_sigma_s.sum(axis=0)}
explicit["rho"] = g.sigma_grad_to_rho(explicit["sigma"], rho0)

# sample_weight: the explicit formula registered as one engine op (bayes.py)
mu_t, rho_t = mv.Tensor(mu0, requires_grad=True), mv.Tensor(rho0, requires_grad=True)
data_term(sample_weight(mu_t, rho_t, eps)).backward()
op = {"mu": mu_t.grad, "sigma": None, "rho": rho_t.grad}

# engine autodiff of the primitive expression, once in (mu, rho) and once in (mu, sigma)
mu_t, rho_t = mv.Tensor(mu0, requires_grad=True), mv.Tensor(rho0, requires_grad=True)
data_term(mu_t + rho_t.softplus() * eps).backward()
sigma_t = mv.Tensor(sigma0, requires_grad=True)
data_term(mv.Tensor(mu0) + sigma_t * eps).backward()
autodiff = {"mu": mu_t.grad, "sigma": sigma_t.grad, "rho": rho_t.grad}

# finite differences, eps held fixed
fd_mu, fd_rho = mv.numerical_grad(lambda m, r: data_term(m + g.softplus(r) * eps), mu0, rho0)
(fd_sigma,) = mv.numerical_grad(lambda s: data_term(mu0 + s * eps), sigma0)
finite = {"mu": fd_mu, "sigma": fd_sigma, "rho": fd_rho}

header = f"{'gradient':>12} | {'explicit':>12} | {'sample_weight':>13} | {'autodiff':>12} | {'finite diff':>12}"
print(header)
print("-" * len(header))
for name in ("mu", "sigma", "rho"):
    for i in range(n_weights):
        via_op = f"{op[name][i]:13.7f}" if op[name] is not None else f"{'(uses rho)':>13}"
        print(f"{'dF/d' + name + f'_{i + 1}':>12} | {explicit[name][i]:12.7f} | {via_op} | "
              f"{autodiff[name][i]:12.7f} | {finite[name][i]:12.7f}")
worst = max(np.max(np.abs(other[name] - explicit[name]))
            for other in (op, autodiff, finite) for name in other if other[name] is not None)
print(f"\nlargest |difference| from the explicit column: {worst:.2e}")

# %% [markdown]
# All four agree to about the accuracy of the central differences (their error is
# $O(h^2)$ plus rounding, around $10^{-9}$ here; see `minivi/gradcheck.py`). The explicit
# formula and plain autodiff agree because they *are* the same chain rule; writing
# it out in `gaussian.py` lets you read step 7 in the code instead of trusting the
# engine. The finite differences are the independent judge.
#
# ## 3. Why not differentiate the density instead? The score-function estimator
#
# There is a second way to get $\nabla_\theta \mathbb{E}_q[f(w)]$ that needs no reparameterisation: move
# the gradient onto the density $q$,
#
# $$\nabla_\theta\, \mathbb{E}_q[f(w)] = \int f(w)\, \nabla_\theta q(w \mid \theta)\, dw = \mathbb{E}_q\big[f(w)\, \nabla_\theta \log q(w \mid \theta)\big],$$
#
# and estimate the right-hand side by Monte Carlo. This is the *score-function*,
# likelihood-ratio or REINFORCE estimator (Williams 1992, "Simple statistical
# gradient-following algorithms for connectionist reinforcement learning"). It
# works even when $f$ is not differentiable — but it only uses the *value* $f(w)$,
# not its slope. For $q = \mathcal{N}(\mu, \sigma^2)$, with $w = \mu + \sigma\varepsilon$:
#
# $$\frac{\partial}{\partial \mu} \log q = \frac{w - \mu}{\sigma^2} = \frac{\varepsilon}{\sigma}, \qquad \frac{\partial}{\partial \sigma} \log q = \frac{(w - \mu)^2 - \sigma^2}{\sigma^3} = \frac{\varepsilon^2 - 1}{\sigma}.$$
#
# The two estimators, each averaged over $S$ draws $\varepsilon_1, \dots, \varepsilon_S$:
#
# | | score function (REINFORCE) | reparameterised (step 7) |
# |---|---|---|
# | $\partial/\partial\mu$ | $\frac{1}{S} \sum_s f(w_s)\, \varepsilon_s / \sigma$ | $\frac{1}{S} \sum_s f'(w_s)$ |
# | $\partial/\partial\sigma$ | $\frac{1}{S} \sum_s f(w_s)\, (\varepsilon_s^2 - 1) / \sigma$ | $\frac{1}{S} \sum_s f'(w_s)\, \varepsilon_s$ |
#
# Both are unbiased. We test them on $f(w) = (w - 2)^2$, whose expectation is known in
# closed form: $\mathbb{E}_q[(w - 2)^2] = (\mu - 2)^2 + \sigma^2$, so the true gradients are
#
# $$\frac{\partial}{\partial \mu} \mathbb{E}_q f = 2(\mu - 2), \qquad \frac{\partial}{\partial \sigma} \mathbb{E}_q f = 2\sigma.$$
#
# First a check of the two score formulas against finite differences of
# `gaussian.log_normal_pdf`.

# %%
def f(w):
    return (w - 2.0) ** 2


def f_prime(w):
    return 2.0 * (w - 2.0)


def score(w, mu, sigma):
    """(∂/∂mu, ∂/∂sigma) of log N(w; mu, sigma²)."""
    return (w - mu) / sigma**2, ((w - mu) ** 2 - sigma**2) / sigma**3


w_check, mu_check, sigma_check = 1.3, 0.5, 0.7
fd = mv.numerical_grad(lambda m, s: g.log_normal_pdf(w_check, m, s), mu_check, sigma_check)
print("score formula     :", np.array(score(w_check, mu_check, sigma_check)))
print("finite differences:", np.array([d.item() for d in fd]))

# %% [markdown]
# Now the experiment. At $\mu = 0.5$, $\sigma = 1$ we repeat each estimator $R$ times for each
# sample count $S$ and record the mean and the variance of the $R$ estimates. Each
# reparameterised sample is formed with `gaussian.reparameterize` and turned into
# its $(\partial/\partial\mu, \partial/\partial\sigma)$ pair with `gaussian.reparameterize_grads` — the same code the
# Bayesian layers use.

# %%
mu_q, sigma_q = 0.5, 1.0
truth = {"mu": 2.0 * (mu_q - 2.0), "sigma": 2.0 * sigma_q}
n_repeats = 400 if QUICK else 4000
sample_counts = 2 ** np.arange(0, 9 if QUICK else 11)
rng = np.random.default_rng(2024)

results = {(estimator, param): {"mean": [], "var": []}
           for estimator in ("score", "reparam") for param in ("mu", "sigma")}
histogram_S = 16
histogram_draws = {}
for S in sample_counts:
    eps = rng.standard_normal((n_repeats, S))
    w = g.reparameterize(mu_q, sigma_q, eps)
    score_mu, score_sigma = score(w, mu_q, sigma_q)
    reparam_mu, reparam_sigma = g.reparameterize_grads(f_prime(w), eps)
    estimates = {("score", "mu"): (f(w) * score_mu).mean(axis=1),
                 ("score", "sigma"): (f(w) * score_sigma).mean(axis=1),
                 ("reparam", "mu"): reparam_mu.mean(axis=1),
                 ("reparam", "sigma"): reparam_sigma.mean(axis=1)}
    for key, values in estimates.items():
        results[key]["mean"].append(values.mean())
        results[key]["var"].append(values.var(ddof=1))
    if S == histogram_S:
        histogram_draws = estimates

for param in ("mu", "sigma"):
    print(f"\nd/d{param} E_q[(w-2)^2] at mu={mu_q}, sigma={sigma_q}: true value {truth[param]:+.3f}"
          f"  ({n_repeats} repeats per S)")
    print(f"{'S':>6} | {'mean, score':>11} | {'mean, reparam':>13} | {'var, score':>11} | "
          f"{'var, reparam':>12} | {'ratio':>6}")
    for k, S in enumerate(sample_counts):
        s, r = results[("score", param)], results[("reparam", param)]
        print(f"{S:>6} | {s['mean'][k]:+11.3f} | {r['mean'][k]:+13.3f} | {s['var'][k]:11.4g} | "
              f"{r['var'][k]:12.4g} | {s['var'][k] / r['var'][k]:6.1f}")
    for estimator in ("score", "reparam"):
        stats = results[(estimator, param)]
        standard_errors = np.sqrt(np.array(stats["var"]) / n_repeats)
        z = np.abs(np.array(stats["mean"]) - truth[param]) / standard_errors
        print(f"  {estimator:>7}: largest |mean - truth| over all S = {z.max():.2f} standard errors")

# %% [markdown]
# Both means sit on the true value to within their own Monte Carlo error, the
# standard error $\sqrt{\mathrm{var}/R}$ (the last lines of each table: a few standard errors at
# most, as chance allows over the rows): both estimators are unbiased. Both variances fall like $1/S$ — each is an
# average of $S$ independent terms — so on a log-log plot they are parallel lines of
# slope $-1$. The reparameterised line is lower by a constant factor, the "ratio"
# column: the score-function estimator needs that many times more samples for the
# same accuracy.

# %%
fig, axes = plots.figure(1, 2, size=(11.0, 4.6))
styles = {"score": dict(color="tab:red", marker="o", label="score function (REINFORCE)"),
          "reparam": dict(color="tab:blue", marker="s", label="reparameterised, w = μ + σε")}
for ax, param, symbol in zip(axes, ("mu", "sigma"), ("μ", "σ")):
    for estimator, style in styles.items():
        var = np.array(results[(estimator, param)]["var"])
        ax.loglog(sample_counts, var, lw=2, **style)
        ax.loglog(sample_counts, var[0] / sample_counts, ":", color=style["color"], lw=1)
    ax.plot([], [], ":", color="gray", label="∝ 1/S (reference)")
    ax.set(xlabel="number of samples S per estimate", ylabel="variance of the estimate",
           title=f"Estimating ∂/∂{symbol} E_q[(w − 2)²]  (true value {truth[param]:+.1f})")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
fig.suptitle(f"Gradient-estimator variance, q = N({mu_q}, {sigma_q}²), {n_repeats} repeats per S", fontsize=13)
plots.save(fig, OUT_DIR / "03_estimator_variance.png")

# %% [markdown]
# The same thing as histograms: the $R$ estimates at $S = 16$ from each estimator (the
# outer 0.5 % on each side are cut off the plot). Both average to the true gradient
# (the dashed line), but the score-function estimates are spread much wider and, for
# $\partial/\partial\sigma$, skewed: their most common value is on the wrong side of zero, balanced by a
# long tail of large positive estimates. An optimiser taking steps along such
# gradients often walks the wrong way. The fraction of estimates with the wrong sign:

# %%
for param in ("mu", "sigma"):
    wrong = {estimator: np.mean(np.sign(histogram_draws[(estimator, param)]) != np.sign(truth[param]))
             for estimator in ("score", "reparam")}
    print(f"d/d{param}, S = {histogram_S}: wrong sign in {wrong['score']:.1%} of score-function estimates, "
          f"{wrong['reparam']:.1%} of reparameterised ones")

fig, axes = plots.figure(1, 2, size=(11.0, 4.2))
for ax, param, symbol in zip(axes, ("mu", "sigma"), ("μ", "σ")):
    values = np.concatenate([histogram_draws[("score", param)], histogram_draws[("reparam", param)]])
    bins = np.linspace(*np.percentile(values, [0.5, 99.5]), 60)
    for estimator, style in styles.items():
        ax.hist(histogram_draws[(estimator, param)], bins=bins, color=style["color"], alpha=0.5,
                label=style["label"])
    ax.axvline(truth[param], color="black", ls="--", lw=1.5, label=f"true value {truth[param]:+.1f}")
    ax.set(xlabel=f"estimate of ∂/∂{symbol} E_q[(w − 2)²]", ylabel="count",
           title=f"{n_repeats} estimates, S = {histogram_S} samples each (central 99 %)")
    ax.legend(fontsize=9)
plots.save(fig, OUT_DIR / "03_estimator_histograms.png")

# %% [markdown]
# ### The gap grows as σ shrinks
#
# The score $\varepsilon/\sigma$ carries a $1/\sigma$: as $q$ narrows, $f(w)$ barely changes between samples but
# the score blows up, so for small $\sigma$ the score-function variance grows like
# $f(\mu)^2/\sigma^2$. The reparameterised estimator uses the slope $f'(w)$ and gets *better* as
# $\sigma$ shrinks (here its variance is exactly $\mathrm{Var}[2(w - 2)] = 4\sigma^2$).
# Bayesian networks start with small $\sigma$ (minivi's `BayesLinear` uses 0.05), which is
# one reason Bayes by Backprop is built on step 7. Single-sample ($S = 1$) variances
# of the $\partial/\partial\mu$ estimators:

# %%
rng = np.random.default_rng(11)
eps = rng.standard_normal(n_repeats * 10)
print(f"{'sigma':>6} | {'var, score':>11} | {'var, reparam':>12} | {'ratio':>8}")
for sigma_k in (1.0, 0.3, 0.1, 0.03):
    w = g.reparameterize(mu_q, sigma_k, eps)
    var_score = (f(w) * score(w, mu_q, sigma_k)[0]).var(ddof=1)
    var_reparam = f_prime(w).var(ddof=1)
    print(f"{sigma_k:6.2f} | {var_score:11.4g} | {var_reparam:12.4g} | {var_score / var_reparam:8.1f}")

# %% [markdown]
# An honest footnote: the score-function estimator is often run with a *baseline*
# $b$, using $(f(w) - b)\,\nabla \log q$. Since $\mathbb{E}_q[\nabla \log q] = 0$ this keeps it unbiased, and a
# good $b$ can shrink its variance a lot (Williams 1992 already uses one). We left it
# out to show the two estimators in their plain forms; the score-function
# estimator still earns its place where $f$ is not differentiable or $w$ is discrete.
#
# ## What to take away
#
# - A number drawn from a random generator has no gradient path back to $\mu$ and $\sigma$.
#   Writing the draw as $w = \mu + \sigma \varepsilon$ with $\varepsilon$ drawn separately (step 7) makes $w$ a
#   differentiable function of the parameters: $\partial F/\partial\mu = \partial F/\partial w$,
#   $\partial F/\partial\sigma = \partial F/\partial w \cdot \varepsilon$, $\partial F/\partial\rho = \partial F/\partial\sigma \cdot \operatorname{sigmoid}(\rho)$.
# - In minivi that is `gaussian.reparameterize` / `gaussian.reparameterize_grads`,
#   registered as one engine op by `bayes.sample_weight`; explicit formula, plain
#   autodiff and finite differences agree.
# - Reparameterised and score-function estimators are both unbiased and both have
#   variance $\propto 1/S$, but the reparameterised one uses the slope of $f$ and is lower by
#   a large constant factor that grows as $\sigma$ shrinks.
#
# Next: tutorial 05 puts steps 4–8 together and trains a Bayesian network with this
# gradient; tutorial 07 lowers its variance further with the *local*
# reparameterisation trick.
#
# Exercise: add a baseline b = mean of f over the S samples to the score-function
# estimator and see how close it gets to the reparameterised line. Classroom
# exercise 3 has you write the reparameterisation backward itself
# (`python tutorials/exercises/check.py 3`).
