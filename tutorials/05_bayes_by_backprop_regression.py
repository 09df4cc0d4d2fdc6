"""Tutorial 05: Bayes by Backprop for regression (steps 4-8), compared with maximum likelihood and MAP."""
# %% [markdown]
# # 05 · Bayes by Backprop for regression
#
# This is the derivation's *practical example* (steps 4-8 of the derivation in `README.md`), run
# end to end on the 1-D toy curve of Blundell, Cornebise, Kavukcuoglu & Wierstra
# (2015), "Weight Uncertainty in Neural Networks", §5.2:
#
# | step | what | where in minivi |
# |---|---|---|
# | 4 | prior $p(w_i)=\mathcal N(0,1)$, posterior $q(w_i)=\mathcal N(\mu_i,\sigma_i^2)$: $2D$ numbers | `minivi/bayes.py: BayesLinear` |
# | 5 | closed-form KL per weight | `minivi/gaussian.py: kl_normal` |
# | 6 | Gaussian likelihood = L2 loss | `minivi/likelihoods.py: gaussian_nll` |
# | 7 | reparameterisation $w=\mu+\sigma\varepsilon$ | `minivi/gaussian.py: reparameterize`, `minivi/bayes.py: sample_weight` |
# | 8 | the loop: sample, loss, backward into $\mu$ and $\rho$, update | `minivi/train.py: fit` |
#
# We first take **one training step by hand**, so every part of the loop is in
# plain sight, then let `mv.fit` repeat it. At the end the same network is
# trained by **maximum likelihood (ML)** and by **MAP** (the two point estimates
# the lecture starts from), and we see what only the Bayesian network has: a
# predictive band that widens where there are no data.
#
# Run it with `python tutorials/05_bayes_by_backprop_regression.py` (add
# `--quick` for a short run).

# %%
import functools
import time

import numpy as np
import minivi as mv
from minivi import plots

QUICK, OUT_DIR = plots.tutorial_options(__doc__ or "tutorial 05")

EPOCHS = 60 if QUICK else 400           # (the demo, `python -m minivi`, trains 400 full-batch epochs)
N_PREDICT = 50 if QUICK else 200        # weight samples for the predictive
NOISE_SIGMA = 0.05                      # about the scatter of the data around the curve (see below)
PRIOR_SIGMA = 1.0                       # the derivation's standard normal prior (step 4)
HIDDEN = 50
ON_DATA, OFF_DATA = (0.0, 0.5), ((-0.5, -0.2), (0.8, 1.2))

rng = np.random.default_rng(5)

# %% [markdown]
# ## The data
#
# 200 points $y = f(x+\varepsilon)$ with $x \sim U(0, 0.5)$, $\varepsilon\sim\mathcal N(0, 0.02^2)$ and
# $f(x) = x + 0.3\sin 2\pi x + 0.3 \sin 4\pi x$ (`mv.data.toy_curve`). The input jitter
# is magnified by the curve's slope, so the residuals $y - f(x)$ are larger than 0.02:
# their rms, printed below, is about 0.05, and that is the likelihood's noise scale
# `NOISE_SIGMA`. A second draw of 200 points on the same range is the
# test set. We will ask every model about $x \in [-0.5, 1.2]$, far beyond the data.

# %%
x, y = mv.data.toy_curve(200, rng, noise_sigma=0.02)
x_test, y_test = mv.data.toy_curve(200, rng, noise_sigma=0.02)
x_grid, truth = mv.data.toy_curve_grid()
print(f"training set: x {x.shape}, y {y.shape}; test set: {x_test.shape}; x in [{x.min():.3f}, {x.max():.3f}]")
print(f"rms of y - f(x) on the training set: {np.sqrt(np.mean((y - mv.data.toy_curve_clean(x)) ** 2)):.4f}")

# %% [markdown]
# ## Step 4: 2D numbers to learn
#
# A 1-50-50-1 ReLU network. Every weight and bias $w_i$ gets its own Gaussian
# $q(w_i) = \mathcal N(\mu_i, \sigma_i^2)$, and the prior is $p(w_i) = \mathcal N(0, 1)$.
# So each `BayesLinear` layer holds **two** arrays per weight array: `weight_mu`
# and `weight_rho`, with
#
# $$\sigma_i = \mathrm{softplus}(\rho_i) = \log(1 + e^{\rho_i}) > 0 .$$
#
# The optimiser moves the unconstrained $\rho$; $\sigma$ stays positive whatever
# it does (Blundell et al. 2015, §3.2; `minivi/gaussian.py: softplus`). The weights
# themselves are never stored: they are sampled at every forward pass.

# %%
model = mv.Sequential(mv.BayesLinear(1, HIDDEN, PRIOR_SIGMA, rng=rng), mv.ReLU(),
                      mv.BayesLinear(HIDDEN, HIDDEN, PRIOR_SIGMA, rng=rng), mv.ReLU(),
                      mv.BayesLinear(HIDDEN, 1, PRIOR_SIGMA, rng=rng))
bayes_layers = [layer for layer in model.layers if isinstance(layer, mv.BayesLinear)]
n_weights = sum(mu.size for layer in bayes_layers for mu, _ in layer.variational_parameters())
for k, layer in enumerate(bayes_layers):
    print(f"layer {k}: weight_mu {layer.weight_mu.shape}, weight_rho {layer.weight_rho.shape}, "
          f"bias_mu {layer.bias_mu.shape}, bias_rho {layer.bias_rho.shape}")
print(f"D = {n_weights} weights and biases -> 2D = {2 * n_weights} numbers to learn; "
      f"model.parameters() holds {sum(p.size for p in model.parameters())}")
print(f"initial sigma = softplus(rho) = {mv.gaussian.softplus(bayes_layers[0].weight_rho.data[0, 0]):.3f} "
      "for every weight (BayesLinear's init_sigma)")

# %% [markdown]
# ## Step 5: the KL term in closed form
#
# For $q=\mathcal N(\mu,\sigma^2)$ and $p=\mathcal N(0,1)$, one weight contributes
#
# $$\mathrm{KL}[q\,\|\,p] = -\log\sigma + \tfrac12(\sigma^2+\mu^2) - \tfrac12 ,$$
#
# and the network's KL is the sum over all $D$ weights (`minivi/gaussian.py: kl_normal`,
# summed over layers by `mv.kl_divergence`). We check the library against the
# formula typed straight from the derivation.

# %%
by_formula = 0.0
for layer in bayes_layers:
    for mu, rho in layer.variational_parameters():           # (weight_mu, weight_rho), (bias_mu, bias_rho)
        sigma = mv.gaussian.softplus(rho.data)
        by_formula += np.sum(-np.log(sigma) + 0.5 * (sigma ** 2 + mu.data ** 2) - 0.5)
print(f"KL by the step-5 formula: {by_formula:.6f}")
print(f"mv.kl_divergence(model):  {mv.kl_divergence(model).item():.6f}")

# %% [markdown]
# ## Step 6: a Gaussian likelihood is the L2 loss
#
# With $p(y_n\mid x_n, w) = \mathcal N(y_n; f(x_n; w), \sigma_{\text{noise}}^2)$,
#
# $$-\log p(\mathcal{D}\mid w) = \underbrace{\frac{1}{2\sigma_{\text{noise}}^2}\sum_n (y_n - f(x_n;w))^2}_{\text{the L2 loss, scaled}}
#   + \underbrace{N\left(\log\sigma_{\text{noise}} + \tfrac12\log 2\pi\right)}_{\text{a constant}} .$$
#
# `mv.gaussian_nll` keeps the constant, so its value is a true negative
# log-likelihood; the gradient is the L2 loss's gradient times $1/(2\sigma_{\text{noise}}^2)$.
# The scale matters: it sets how loudly the data speak against the KL.
# So does the KL's own factor, which the lecture drops and minivi keeps: a multiple
# $c\,\mathrm{KL}$ with $c \neq 1$ is a KL weight (tutorial 04, section 4, shows its effect).

# %%
f_mean = model(x, mode="mean")                          # one network, every weight at mu
l2 = np.sum((y - f_mean.data) ** 2)
constant = len(x) * (np.log(NOISE_SIGMA) + 0.5 * np.log(2 * np.pi))
print(f"at the mean weights w = mu: gaussian_nll = {mv.gaussian_nll(f_mean, y, NOISE_SIGMA).item():.6f}")
print(f"at the mean weights w = mu: L2 / (2 noise_sigma^2) + N(log noise_sigma + log(2 pi)/2) = "
      f"{l2 / (2 * NOISE_SIGMA ** 2):.6f} "
      f"+ ({constant:.6f}) = {l2 / (2 * NOISE_SIGMA ** 2) + constant:.6f}")

# %% [markdown]
# ## Steps 7 and 8: one training step, by hand
#
# Sampling $w\sim q$ is not differentiable in $\mu,\sigma$, but
#
# $$w_i = \mu_i + \sigma_i\,\varepsilon_i,\qquad \varepsilon_i\sim\mathcal N(0,1)$$
#
# is (Kingma & Welling 2014; Blundell et al. 2015, §3.1). Below we draw every
# $\varepsilon$ ourselves, form the weights with ordinary Tensor operations,
# run the network, and build the whole-data loss
# $F = \mathrm{KL}[q\,\|\,p] - \log p(\mathcal{D}\mid w)$ (the one-sample estimate of step 3's
# negative ELBO). `backward()` then carries the gradient **into $\mu$ and $\rho$**: the
# weights $w$ are intermediate results, not parameters.

# %%
def sample_weights(layers, rng):
    """Step 7 by hand: eps ~ N(0, 1), w = mu + softplus(rho) * eps for every weight array."""
    eps = [[rng.standard_normal(mu.shape) for mu, _ in layer.variational_parameters()] for layer in layers]
    weights = [[mu + rho.softplus() * e for (mu, rho), e in zip(layer.variational_parameters(), layer_eps)]
               for layer, layer_eps in zip(layers, eps)]
    return eps, weights


def forward(x, weights):
    """The 1-50-50-1 ReLU network with given weights: h = relu(x W1 + b1), ..., f = h W3 + b3."""
    h = x
    for k, (w, b) in enumerate(weights):
        h = h @ w + b
        if k < len(weights) - 1:
            h = h.relu()
    return h


model.zero_grad()
eps, weights = sample_weights(bayes_layers, rng)
data_term = mv.gaussian_nll(forward(x, weights), y, NOISE_SIGMA)
kl = mv.kl_divergence(model)
loss = kl + data_term
loss.backward()
first = bayes_layers[0]
print(f"at one sample w = mu + sigma * eps: loss = KL + NLL = {kl.item():.2f} + {data_term.item():.2f} "
      f"= {loss.item():.2f}   (the NLL is not the one above: other weights)")
for name in ("weight_mu", "weight_rho"):
    grad = getattr(first, name).grad
    print(f"layer 0 {name}.grad: shape {grad.shape}, first entries " + ", ".join(f"{v:.4g}" for v in grad[0, :4]))

# %% [markdown]
# **Are these the gradients of step 7?** The derivation says, for each weight,
#
# $$\frac{\partial F}{\partial \mu_i} = \frac{\partial F}{\partial w_i} + \frac{\partial\,\mathrm{KL}}{\partial \mu_i},\qquad
#   \frac{\partial F}{\partial \sigma_i} = \frac{\partial F}{\partial w_i}\,\varepsilon_i + \frac{\partial\,\mathrm{KL}}{\partial \sigma_i},\qquad
#   \frac{\partial F}{\partial \rho_i} = \frac{\partial F}{\partial \sigma_i}\,\mathrm{sigmoid}(\rho_i),$$
#
# with $\partial\mathrm{KL}/\partial\mu = \mu$ and $\partial\mathrm{KL}/\partial\sigma = \sigma - 1/\sigma$
# (`minivi/gaussian.py: reparameterize_grads, kl_normal_grads, sigma_grad_to_rho`).
# To get $\partial F/\partial w$ we run the same network again with the *same*
# sampled weights held as leaves, then assemble the formula and compare.
# (`BayesLinear` itself does exactly this assembly inside one engine op,
# `minivi/bayes.py: sample_weight`.)

# %%
w_leaves = [[mv.Tensor(w.data, requires_grad=True) for w in layer_w] for layer_w in weights]
mv.gaussian_nll(forward(x, w_leaves), y, NOISE_SIGMA).backward()
worst = 0.0
for layer, layer_eps, layer_w in zip(bayes_layers, eps, w_leaves):
    for (mu, rho), e, w in zip(layer.variational_parameters(), layer_eps, layer_w):
        sigma = mv.gaussian.softplus(rho.data)
        grad_mu_data, grad_sigma_data = mv.gaussian.reparameterize_grads(w.grad, e)
        grad_mu_kl, grad_sigma_kl = mv.gaussian.kl_normal_grads(mu.data, sigma)
        grad_rho = mv.gaussian.sigma_grad_to_rho(grad_sigma_data + grad_sigma_kl, rho.data)
        worst = max(worst, np.max(np.abs(mu.grad - (grad_mu_data + grad_mu_kl))), np.max(np.abs(rho.grad - grad_rho)))
largest = max(np.max(np.abs(p.grad)) for p in model.parameters())
print(f"largest |gradient| {largest:.1f}; largest |autodiff - step-7 formula| {worst:.2e}")

# %% [markdown]
# The last part of step 8 is the update. Plain gradient descent,
# $\theta \leftarrow \theta - \text{lr}\,\partial F/\partial\theta$ for every $\mu$ and $\rho$. We evaluate the
# loss with the same $\varepsilon$ after a step of two sizes. The gradients are large, because
# the data term carries the factor $1/(2\sigma_{\text{noise}}^2) = 200$: the larger step
# overshoots and the loss rises; the smaller one lowers it. Choosing such a step size
# by hand is what Adam spares us below.

# %%
def loss_after_step(lr):
    """F with the same eps at mu - lr * dF/dmu, rho - lr * dF/drho (the model is not changed)."""
    moved = [[(mu.data - lr * mu.grad, rho.data - lr * rho.grad) for mu, rho in layer.variational_parameters()]
             for layer in bayes_layers]
    kl_moved = sum(mv.gaussian.kl_normal(mu, mv.gaussian.softplus(rho)) for layer in moved for mu, rho in layer)
    weights_moved = [[mv.Tensor(mv.gaussian.reparameterize(mu, mv.gaussian.softplus(rho), e)) for (mu, rho), e in
                      zip(layer, layer_eps)] for layer, layer_eps in zip(moved, eps)]
    return kl_moved + mv.gaussian_nll(forward(x, weights_moved), y, NOISE_SIGMA).item()


for lr in (1e-5, 1e-6):
    print(f"lr = {lr:g}: loss with the same eps {loss.item():.1f} -> {loss_after_step(lr):.1f}")
LR_BY_HAND = 1e-6
for p in model.parameters():
    p.data -= LR_BY_HAND * p.grad

# %% [markdown]
# ## The loop: `mv.fit`
#
# `mv.fit` (`minivi/train.py`) repeats that step with three practical changes:
#
# * **minibatches** of 50 points; minibatch $i$ gets the share
#   $\pi_i\,\mathrm{KL} - \log p(\mathcal{D}_i\mid w)$ with $\pi_i = 50/200$, so the shares add up
#   to the whole-data loss over an epoch (Blundell et al. 2015, eq. 8-9; `mv.elbo_loss`);
# * **4 weight samples** per step, averaged, for a less noisy estimate of $\mathbb E_q[\log p(\mathcal{D}_i\mid w)]$ (step 6);
# * **Adam** (Kingma & Ba 2015) instead of plain gradient descent.
#
# The history records, per epoch, the loss (the negative ELBO), the KL and the NLL.

# %%
nll = functools.partial(mv.gaussian_nll, noise_sigma=NOISE_SIGMA)
start = time.perf_counter()
history = mv.fit(model, x, y, nll, epochs=EPOCHS, batch_size=50, rng=rng, lr=1e-2, n_samples=4,
                 print_every=max(1, EPOCHS // 5))
print(f"Bayes by Backprop: {EPOCHS} epochs in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# ## The comparison: maximum likelihood and MAP
#
# The same 1-50-50-1 architecture with ordinary `mv.Linear` layers: one number
# per weight, no $\sigma$, no sampling.
#
# * **ML** minimises $-\log p(\mathcal{D}\mid w)$, the scaled L2 loss alone.
# * **MAP** maximises the posterior density, i.e. minimises
#   $-\log p(\mathcal{D}\mid w) - \log p(w)$. With the same $\mathcal N(0,1)$ prior on every
#   weight and bias, $-\log p(w) = \sum_i w_i^2/(2\,\sigma_{\text{prior}}^2)$ + a constant: the
#   familiar weight decay. Like the KL, the prior is counted once per epoch, so
#   minibatch $i$ gets the share $50/200$ of it.
#
# Same data, minibatches, epochs and optimiser (`mv.optim.Adam`, lr $10^{-2}$) as above.

# %%
def deterministic_model(rng):
    return mv.Sequential(mv.Linear(1, HIDDEN, rng=rng), mv.ReLU(),
                         mv.Linear(HIDDEN, HIDDEN, rng=rng), mv.ReLU(),
                         mv.Linear(HIDDEN, 1, rng=rng))


def neg_log_prior(params):
    """-log p(w) up to a constant: sum of w^2 / (2 prior_sigma^2) over every weight and bias."""
    return sum((p ** 2).sum() for p in params) * (1.0 / (2 * PRIOR_SIGMA ** 2))


def train_point_estimate(model, use_prior, rng):
    """Minibatch Adam on NLL (ML) or NLL - log prior (MAP); returns the NLL of each epoch."""
    params = model.parameters()
    optimizer = mv.optim.Adam(params, lr=1e-2)
    nll_per_epoch = []
    for _ in range(EPOCHS):
        epoch_nll = 0.0
        for idx in mv.data.minibatches(len(x), 50, rng):
            optimizer.zero_grad()
            data_term = nll(model(x[idx]), y[idx])
            loss = data_term + neg_log_prior(params) * (len(idx) / len(x)) if use_prior else data_term
            loss.backward()
            optimizer.step()
            epoch_nll += data_term.item()
        nll_per_epoch.append(epoch_nll)
    return nll_per_epoch


start = time.perf_counter()
ml_model, map_model = deterministic_model(rng), deterministic_model(rng)
ml_nll = train_point_estimate(ml_model, use_prior=False, rng=rng)
map_nll = train_point_estimate(map_model, use_prior=True, rng=rng)
print(f"ML and MAP: {EPOCHS} epochs each in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# ## The predictive distributions
#
# For Bayes by Backprop the predictive is estimated with $S$ sampled networks
# (step 2; `mv.predict`, `mv.regression_uncertainty`):
#
# * epistemic std = the spread of the $S$ networks' outputs $f_s(x)$ (disagreement about $w$);
# * total std $= \sqrt{\text{epistemic}^2 + \sigma_{\text{noise}}^2}$ (the noise in $y$ added on top).
#
# A point estimate is a "posterior" with a single sample: its epistemic std is
# zero by construction, so its only band is the fixed noise $\pm 2\sigma_{\text{noise}}$.

# %%
def point_samples(model, x):
    """A point estimate as a 'posterior' with one sample: shape (1, N, 1)."""
    with mv.no_grad():
        return model(x).data[None]


def bayes_samples(model, x):
    return mv.predict(model, x, n_samples=N_PREDICT)


x_off = np.concatenate([np.linspace(a, b, 25) for a, b in OFF_DATA])[:, None]
x_on = np.linspace(*ON_DATA, 50)[:, None]
methods = {"maximum likelihood": (ml_model, point_samples),
           "MAP (N(0,1) prior)": (map_model, point_samples),
           "Bayes by Backprop": (model, bayes_samples)}
summary = {}
for name, (net, sampler) in methods.items():
    test_samples = sampler(net, x_test)
    test_mean = test_samples.mean(axis=0)
    off = mv.regression_uncertainty(sampler(net, x_off), NOISE_SIGMA)
    off_truth = mv.data.toy_curve_clean(x_off)
    summary[name] = {
        "test RMSE (x in [0, 0.5])": float(np.sqrt(np.mean((test_mean - y_test) ** 2))),
        "test log-lik per point": mv.gaussian_log_likelihood(test_samples, y_test, NOISE_SIGMA),
        "off-data RMSE to the true curve": float(np.sqrt(np.mean((off["mean"] - off_truth) ** 2))),
        "off-data: true curve inside ±2 std": float(np.mean(np.abs(off["mean"] - off_truth) <= 2 * off["total"])),
    }
print(f"{'':<36}" + "".join(f"{name:>22}" for name in methods))
for key in summary["Bayes by Backprop"]:
    print(f"{key:<36}" + "".join(f"{summary[name][key]:>22.4f}" for name in methods))

std_on = bayes_samples(model, x_on).std(axis=0).mean()
std_off = bayes_samples(model, x_off).std(axis=0).mean()
print(f"Bayes by Backprop, mean epistemic std on the data (x in [0, 0.5]):          {std_on:.4f}")
print(f"Bayes by Backprop, mean epistemic std off the data ([-0.5,-0.2], [0.8,1.2]): {std_off:.4f}"
      f"  ({std_off / std_on:.1f} times larger)")

# %% [markdown]
# The test log-likelihood is $\frac1N\sum_n \log \frac1S \sum_s \mathcal N(y_n; f_s(x_n), \sigma_{\text{noise}}^2)$
# (`mv.gaussian_log_likelihood`; $S = 1$ for ML and MAP). On the data range all three fit about equally well
# (test RMSE 0.070, 0.070 and 0.076). Off the data all three guess wrong (RMSE to the true
# curve 0.47, 0.54 and 0.64), but only Bayes by Backprop *says* it is guessing: its ±2 std
# band holds most of the true curve there (a fraction 0.78 of the off-data grid points),
# while the point estimates' $\pm 2\sigma$ noise band holds little of it (0.20 for ML, 0.00
# for MAP).

# %%
fig, axes = plots.figure(1, 3, size=(16, 5))
for ax, (name, (net, sampler)) in zip(axes, methods.items()):
    ax.axvspan(*ON_DATA, color="0.92", zorder=0, label="where the data are")
    band = mv.regression_uncertainty(sampler(net, x_grid), NOISE_SIGMA)
    plots.regression_band(ax, x, y, x_grid, band, truth=truth, title=name)
    ax.set_ylim(-1.5, 2.0)
    ax.set_xlabel("input x")
    ax.set_ylabel("output y")
    if ax is not axes[0]:
        ax.get_legend().remove()
fig.suptitle("Only Bayes by Backprop's band widens away from the data "
             "(ML and MAP: one network, no epistemic band, ±2 noise_sigma only)", fontsize=13)
print(f"figure written to {plots.save(fig, OUT_DIR / '05_ml_map_bbb.png')}")

# %% [markdown]
# ## Training curves
#
# Left: Bayes by Backprop's loss (the negative ELBO, summed over an epoch's
# minibatches), its KL and its NLL. The axis is symmetric-log (linear between
# -100 and 100, logarithmic beyond) because the NLL turns negative: a Gaussian
# density with $\sigma = 0.05$ exceeds 1 near its mean. The KL starts large (posteriors
# 0.05 wide are far narrower than the $\mathcal N(0,1)$ prior) and falls as $\sigma$ grows wherever
# the data allow; the NLL falls as the fit improves. Right: the data term of all
# three methods. ML and MAP end close together (NLL −299.1 and −291.7 in the last epoch: the
# $\mathcal N(0,1)$ prior is weak next to 200 points measured to ±0.05); Bayes by Backprop's
# NLL stays higher (−214.9), because it
# is averaged over sampled networks rather than measured at one best network:
# that is the price of the band, paid to lower the KL.

# %%
fig, (left, right) = plots.figure(1, 2, size=(13, 4.8))
plots.training_curves(left, history, title="Bayes by Backprop: negative ELBO = KL + NLL")
left.set_yscale("symlog", linthresh=100)
epochs = np.arange(1, EPOCHS + 1)
for label, values in (("maximum likelihood", ml_nll), ("MAP", map_nll), ("Bayes by Backprop", history.nll)):
    right.plot(epochs, values, label=label)
right.set_yscale("symlog", linthresh=100)
right.set(xlabel="epoch", ylabel="NLL of the training data (nats)", title="The data term of the three methods")
right.legend(fontsize=9)
print(f"figure written to {plots.save(fig, OUT_DIR / '05_training_curves.png')}")
kl_part = history.loss[-1] - history.nll[-1]   # Σ_i π_i KL_i: each minibatch's share of the KL, at its own step
print(f"last epoch, summed over its minibatches: BBB loss {history.loss[-1]:.1f} = KL part {kl_part:.1f} "
      f"+ NLL {history.nll[-1]:.1f}; the KL part is Σ_i π_i KL_i, each KL_i taken at its own step "
      f"(the KL at the epoch's last step, drawn on the left: {history.kl[-1]:.1f})")
print(f"last epoch: ML NLL {ml_nll[-1]:.1f}; MAP NLL {map_nll[-1]:.1f}")

# %% [markdown]
# ## What to take away
#
# * Bayes by Backprop learns **$2D$ numbers**, $\mu$ and $\rho$ ($\sigma = \operatorname{softplus}(\rho)$), for $D$ weights (step 4).
# * Its loss is **KL + scaled L2**: a closed-form KL (step 5) plus `gaussian_nll`, which is
#   the L2 loss times $1/(2\sigma_{\text{noise}}^2)$ plus a constant (step 6).
# * The reparameterisation $w = \mu + \sigma\varepsilon$ lets `backward()` reach $\mu$ and $\rho$, and the
#   gradients are exactly step 7's formulas (checked above to rounding error).
# * ML and MAP give one network each; MAP is ML plus weight decay. Neither has an
#   epistemic band. Bayes by Backprop's band stays narrow on the data and widens off it
#   (its epistemic std is 15.2 times larger off the data than on it).
#
# Next: tutorial 06 applies the same machinery to classification (two moons, handwritten
# digits), where uncertainty becomes predictive entropy and mutual information.
#
# Try it yourself: halve and double `NOISE_SIGMA`, or set `PRIOR_SIGMA` to 0.1 and 10,
# and predict before running how the band and the KL at the end of training change.
# Classroom exercises 3 (the reparameterisation backward) and 5 (the minibatch ELBO
# with Blundell's KL weights) rebuild this tutorial's machinery by hand:
# `python tutorials/exercises/check.py 3 5` checks your solutions.
