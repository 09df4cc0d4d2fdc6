"""Tutorial 07: lower-variance gradients with the local reparameterisation trick (Kingma, Salimans &
Welling 2015) and Flipout (Wen et al. 2018): weight sampling against pre-activation sampling and
sign-flipped perturbations, the variance of the minibatch gradient as the batch grows, on an MLP and
a small CNN, and training curves side by side."""

# %% [markdown]
# # 07 · Lower-variance gradients: local reparameterisation
#
# Step 7 samples the weights, $w = \mu + \sigma \varepsilon$, and `BayesLinear` does it the plain way:
# **one** weight matrix $W$ per forward pass, shared by every example of the
# minibatch. The minibatch gradient is an average over its $B$ examples ($B$ is the batch size;
# $N$, as on every page, is the number of points in the whole data set),
#
# $$g = \frac{1}{B} \sum_n g_n, \qquad \mathrm{Var}[g] = \frac{1}{B} \mathrm{Var}[g_n] + \Big(1 - \frac{1}{B}\Big) \mathrm{Cov}[g_n, g_m],$$
#
# and with one shared $W$ the examples' gradients are correlated ($\mathrm{Cov} \neq 0$): they all
# saw the same lucky or unlucky weights. That covariance term does not shrink as $B$
# grows, so a bigger minibatch stops helping.
#
# Kingma, Salimans & Welling (2015), "Variational Dropout and the Local
# Reparameterization Trick", noticed that for Gaussian weights we never need $W$
# itself, only the pre-activations $b = x W + \beta$ ($\beta$ the bias). Given an input row $x_n$,
# each $b_{nj}$ is a sum of independent Gaussians, so it is Gaussian:
#
# $$b_{nj} \sim \mathcal{N}\Big(\sum_i x_{ni} \mu_{ij} + \mu_{\beta j},\; \sum_i x_{ni}^2 \sigma_{ij}^2 + \sigma_{\beta j}^2\Big),$$
#
# and we can sample it directly,
#
# $$b = x \mu + \mu_\beta + \sqrt{x^2 \sigma^2 + \sigma_\beta^2} \odot \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, 1) \text{ of shape } (B, \text{out}),$$
#
# with a fresh $\varepsilon$ for every example. For each single example this has *exactly* the
# distribution of weight sampling, so the ELBO and its gradient in expectation are
# unchanged; but different examples now get independent noise, the covariance term
# vanishes and $\mathrm{Var}[g]$ falls like $1/B$. The price is a second matrix product per
# layer ($x^2 \sigma^2$), and $B \times \text{out}$ random numbers per forward pass instead of $\text{in} \times \text{out}$.
#
# In minivi: `mv.BayesLinear` samples weights (`bayes.sample_weight`, tutorial 03);
# `mv.LocalBayesLinear` samples pre-activations (`minivi/bayes.py:
# LocalBayesLinear.forward`, differentiated by the engine). Same parameters, same KL.
#
# This tutorial
# 1. checks "same distribution per example, independent across the minibatch";
# 2. measures the variance of the minibatch gradient for several batch sizes;
# 3. trains the same network both ways and compares the training curves;
# 4. adds Flipout, which decorrelates the examples for any layer, convolutions included,
#    and measures all three estimators on the MLP and on a small CNN for the digits.

# %%
import functools
import time

import numpy as np
import minivi as mv
from minivi import plots

QUICK, OUT_DIR = plots.tutorial_options(__doc__ or "tutorial 07")

NOISE_SIGMA = 0.05        # the likelihood's noise scale, as in tutorial 05
HIDDEN = 16
METHODS = {"weight sampling (BayesLinear)": mv.BayesLinear,
           "local reparameterisation (LocalBayesLinear)": mv.LocalBayesLinear}
COLORS = dict(zip(METHODS, ("tab:red", "tab:blue")))


def copy_parameters(source, target):
    """Give `target` the same mu and rho values as `source` (same architecture)."""
    for p_source, p_target in zip(source.parameters(), target.parameters()):
        p_target.data = p_source.data.copy()


# %% [markdown]
# ## 1. Same distribution per example, independent across the minibatch
#
# One layer with 3 inputs and 1 output, the same $\mu$ and $\rho$ in both layer types, and a
# minibatch of two input rows $x_1, x_2$. We draw the pair of pre-activations
# $(b_1, b_2)$ many times (`n_samples` draws in one vectorised forward) and compare
# each example's mean and standard deviation with the formula above, and the
# correlation between the two examples. For weight sampling that correlation has a
# closed form too: $\mathrm{Cov}[b_1, b_2] = \sum_i x_{1i} x_{2i} \sigma_i^2 + \sigma_\beta^2$, because both rows
# share the same $W$ and $\beta$.

# %%
rng = np.random.default_rng(0)
n_draws = 2000 if QUICK else 20000
layers = {name: cls(3, 1, rng=np.random.default_rng(1), init_sigma=0.5) for name, cls in METHODS.items()}
reference = next(iter(layers.values()))
reference.weight_mu.data = rng.normal(size=(3, 1))
reference.weight_rho.data = mv.gaussian.inverse_softplus(rng.uniform(0.3, 0.8, size=(3, 1)))
for layer in layers.values():
    copy_parameters(reference, layer)
x_pair = np.array([[1.0, 0.5, -1.0], [0.8, -0.6, -1.2]])

sigma_w = mv.gaussian.softplus(reference.weight_rho.data)[:, 0]
sigma_b = mv.gaussian.softplus(reference.bias_rho.data)[0]
theory_mean = x_pair @ reference.weight_mu.data[:, 0] + reference.bias_mu.data[0]
theory_var = x_pair ** 2 @ sigma_w ** 2 + sigma_b ** 2
theory_corr = (x_pair[0] * x_pair[1] @ sigma_w ** 2 + sigma_b ** 2) / np.sqrt(theory_var.prod())

pairs = {}
with mv.no_grad():
    for name, layer in layers.items():
        pairs[name] = layer(x_pair, n_samples=n_draws).data[:, :, 0]     # (draws, 2 examples)
print(f"{n_draws} draws of (b_1, b_2)")
print(f"{'':>45} | {'mean b_1':>8} {'mean b_2':>8} | {'std b_1':>7} {'std b_2':>7} | {'corr(b_1, b_2)':>14}")
print(f"{'formula (weight sampling for the correlation)':>45} | {theory_mean[0]:8.3f} {theory_mean[1]:8.3f} | "
      f"{np.sqrt(theory_var[0]):7.3f} {np.sqrt(theory_var[1]):7.3f} | {theory_corr:14.3f}")
for name, b in pairs.items():
    corr = np.corrcoef(b.T)[0, 1]
    print(f"{name:>45} | {b[:, 0].mean():8.3f} {b[:, 1].mean():8.3f} | "
          f"{b[:, 0].std():7.3f} {b[:, 1].std():7.3f} | {corr:14.3f}")

# %% [markdown]
# Each example's mean and spread agree between the two layer types and with the
# formula; only the *joint* behaviour differs. Weight sampling moves both examples
# together (they share $W$); local reparameterisation gives them independent noise.

# %%
fig, axes = plots.figure(1, 2, size=(10.0, 4.6))
shown = slice(0, 1500)
for ax, (name, b) in zip(axes, pairs.items()):
    ax.scatter(b[shown, 0], b[shown, 1], s=4, alpha=0.4, color=COLORS[name])
    ax.set(xlabel="pre-activation b_1 (example 1)", ylabel="pre-activation b_2 (example 2)",
           title=f"{name}\ncorrelation {np.corrcoef(b.T)[0, 1]:+.2f}")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
fig.suptitle("Same layer, same μ and σ, two examples in one minibatch: each dot is one forward pass", fontsize=12)
plots.save(fig, OUT_DIR / "07_preactivation_pairs.png")

# %% [markdown]
# ## 2. The variance of the minibatch gradient
#
# Now a real network: the 1-D regression curve of Blundell et al. (2015)
# (`mv.data.toy_curve`), a 1-16-16-1 ReLU network whose three layers are all
# `BayesLinear` or all `LocalBayesLinear`, and the Gaussian likelihood with
# $\sigma_{\text{noise}} = 0.05$. The quantity whose gradient we take is the average data term
# per example,
#
# $$L = \frac{1}{B} \sum_{n \in \text{batch}} -\log p(y_n \mid x_n, w),$$
#
# on a minibatch of $B$ examples drawn at random (with replacement) from the training
# set, with fresh noise $\varepsilon$. (The KL is closed form, so it adds no noise to the
# gradient.) We repeat
# this $R$ times *at the same parameters* and measure the variance of $\partial L/\partial \mu$ (`weight_mu`) and
# $\partial L/\partial \rho$ (`weight_rho`) of the middle (16 × 16) layer, summed over its 256 entries. The
# repetition re-draws both the minibatch and $\varepsilon$, so this is the noise an optimiser
# actually sees. Both layer types compute unbiased estimates of the same expected
# gradient; only the noise differs.
#
# We measure at two points: the initial parameters, and the parameters after a
# short training run (with weight sampling). At each point both layer types get
# exactly the same $\mu$ and $\rho$, copied, so only the way of sampling differs.

# %%
rng = np.random.default_rng(5)
x, y = mv.data.toy_curve(200, rng)
nll = functools.partial(mv.gaussian_nll, noise_sigma=NOISE_SIGMA)


def make_network(layer_class, seed):
    """1-H-H-1 ReLU network of Bayesian layers (H = HIDDEN); the seed fixes the initial mu and all eps."""
    layer_rng = np.random.default_rng(seed)
    return mv.Sequential(layer_class(1, HIDDEN, rng=layer_rng), mv.ReLU(),
                         layer_class(HIDDEN, HIDDEN, rng=layer_rng), mv.ReLU(),
                         layer_class(HIDDEN, 1, rng=layer_rng))


MEASURED_LAYER = 2                                    # index in the Sequential: the H x H layer
batch_sizes = np.array([2, 8, 32, 128] if QUICK else [2, 8, 32, 128, 512])
n_repeats = 25 if QUICK else 300
pretrain_epochs = 5 if QUICK else 100


def gradient_variance(network, batch_size, repeats, rng):
    """Summed per-entry variance of dL/dweight_mu and dL/dweight_rho of the measured layer over `repeats` draws."""
    layer = network[MEASURED_LAYER]
    grads_mu, grads_rho = [], []
    for _ in range(repeats):
        batch = rng.integers(0, len(x), batch_size)
        network.zero_grad()
        (nll(network(x[batch]), y[batch]) * (1.0 / batch_size)).backward()
        grads_mu.append(layer.weight_mu.grad.ravel())
        grads_rho.append(layer.weight_rho.grad.ravel())
    return np.var(grads_mu, axis=0, ddof=1).sum(), np.var(grads_rho, axis=0, ddof=1).sum()


initial = make_network(mv.BayesLinear, seed=1)
trained = make_network(mv.BayesLinear, seed=1)
mv.fit(trained, x, y, nll, epochs=pretrain_epochs, batch_size=32, rng=np.random.default_rng(2), verbose=False)
variance = {}
for point, parameters in (("initial parameters", initial), (f"after {pretrain_epochs} epochs", trained)):
    for name, cls in METHODS.items():
        network = make_network(cls, seed=3)
        copy_parameters(parameters, network)
        measure_rng = np.random.default_rng(4)
        variance[point, name] = np.array([gradient_variance(network, n, n_repeats, measure_rng)
                                          for n in batch_sizes])          # (batch sizes, [mu, rho])

for point in ("initial parameters", f"after {pretrain_epochs} epochs"):
    ws, lrt = (variance[point, name] for name in METHODS)
    print(f"\n{point}: summed gradient variance of the {HIDDEN}x{HIDDEN} layer, {n_repeats} draws per batch size")
    print(f"{'B':>5} | {'mu: weight s.':>13} {'local':>10} {'ratio':>7} | {'rho: weight s.':>14} {'local':>10} {'ratio':>7}")
    for k, n in enumerate(batch_sizes):
        print(f"{n:>5} | {ws[k, 0]:13.4g} {lrt[k, 0]:10.4g} {ws[k, 0] / lrt[k, 0]:7.1f} | "
              f"{ws[k, 1]:14.4g} {lrt[k, 1]:10.4g} {ws[k, 1] / lrt[k, 1]:7.1f}")
    growth = batch_sizes[-1] / batch_sizes[0]
    print(f"from B = {batch_sizes[0]} to {batch_sizes[-1]} (x{growth:.0f}) the variance fell by a factor of "
          f"{ws[0, 0] / ws[-1, 0]:.1f} (weight sampling) and {lrt[0, 0] / lrt[-1, 0]:.1f} (local) for mu, "
          f"{ws[0, 1] / ws[-1, 1]:.1f} and {lrt[0, 1] / lrt[-1, 1]:.1f} for rho")

# %%
fig, axes = plots.figure(2, 2, size=(11.0, 8.0))
for row, point in enumerate(("initial parameters", f"after {pretrain_epochs} epochs")):
    for col, parameter in enumerate(("weight_mu", "weight_rho")):
        ax = axes[row, col]
        for name in METHODS:
            values = variance[point, name][:, col]
            ax.loglog(batch_sizes, values, "o-", lw=2, color=COLORS[name], label=name)
        local = variance[point, list(METHODS)[1]][:, col]
        ax.loglog(batch_sizes, local[0] * batch_sizes[0] / batch_sizes, ":", color="gray", label="∝ 1/B (reference)")
        ax.set(xlabel="minibatch size B", ylabel="summed variance of the gradient",
               title=f"∂L/∂{parameter}, middle layer, {point}")
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=8)
fig.suptitle(f"Gradient noise vs minibatch size ({n_repeats} draws of minibatch and ε per point)", fontsize=13)
plots.save(fig, OUT_DIR / "07_gradient_variance.png")

# %% [markdown]
# Read the plot with the table above. With local reparameterisation the variance
# follows the $1/B$ line: each example's noise is its own, so averaging $B$ examples
# divides it by $B$. With weight sampling the variance flattens out as $B$ grows: the
# part that comes from the one shared $W$ is the same however many examples look at it.
# For $\partial L/\partial\mu$ the two are close at $B = 2$, where there is little to average either way,
# and the gap (the ratio column) opens as $B$ grows. For $\partial L/\partial\rho$ the local version is
# lower even at $B = 2$: its per-example gradient with respect to $\sigma_{ij}$ is a different
# estimator, $\frac{\partial L}{\partial b_{nj}}\, \varepsilon_{nj}\, x_{ni}^2 \sigma_{ij} \big/ \sqrt{\sum_k x_{nk}^2 \sigma_{kj}^2 + \sigma_{\beta j}^2}$, driven by the
# one noise $\varepsilon_{nj}$ of the pre-activation rather than by weight $ij$'s own $\varepsilon_{ij}$; here it
# happens to be much less noisy as well. The estimates themselves are noisy — a
# variance measured from $R$ draws is uncertain, more so for weight sampling, whose
# gradients have heavy tails (an occasional extreme $W$ moves the whole minibatch) —
# so a point that does not lie on a smooth line is measurement noise, not a feature.
#
# ## 3. Does it train faster?
#
# Same network, same data, same initial $\mu$ and $\rho$, same minibatch order and the same
# optimiser (Adam, lr $10^{-2}$), once with each layer type, for a few seeds. `mv.fit`
# records the negative ELBO per epoch (the sum of the minibatch losses, each
# estimated with one sample). Since each training run's own per-epoch loss is a noisy
# estimate computed with its own estimator, we also evaluate the final negative ELBO
# of every trained network the same way for both: parameters copied into a
# weight-sampling network, all 200 points, many weight samples.

# %%
epochs = 15 if QUICK else 250
seeds = [0] if QUICK else [0, 1, 2]
n_eval_chunks, eval_samples_per_chunk = (4, 25) if QUICK else (10, 50)


def final_negative_elbo(network, seed):
    """KL − E_q[log p(data|w)] on all data with a common weight-sampling estimator; (mean, standard error)."""
    evaluator = make_network(mv.BayesLinear, seed)
    copy_parameters(network, evaluator)
    with mv.no_grad():
        chunks = [mv.elbo_loss(evaluator, x, y, nll, n_data=len(x), n_samples=eval_samples_per_chunk,
                               kl_weight=1.0)[1]["loss"] for _ in range(n_eval_chunks)]
    return np.mean(chunks), np.std(chunks, ddof=1) / np.sqrt(n_eval_chunks)


histories, finals = {}, {}
for seed in seeds:
    for name, cls in METHODS.items():
        network = make_network(cls, seed=10 + seed)
        histories[name, seed] = mv.fit(network, x, y, nll, epochs=epochs, batch_size=40,
                                       rng=np.random.default_rng(100 + seed), lr=1e-2, verbose=False)
        finals[name, seed] = final_negative_elbo(network, seed=1000 + seed)

short = dict(zip(METHODS, ("weight sampling", "local")))
print(f"negative ELBO (nats, 200 points): per-epoch training estimate averaged over the last 20 epochs, "
      f"and a final evaluation with {n_eval_chunks * eval_samples_per_chunk} weight samples (± standard error)")
for seed in seeds:
    for name in METHODS:
        history, (final, error) = histories[name, seed], finals[name, seed]
        print(f"seed {seed}  {short[name]:>15}: last 20 epochs {np.mean(history.loss[-20:]):9.1f}   "
              f"final {final:9.1f} ± {error:.1f}   (KL {history.kl[-1]:.1f})")
local_better = sum(finals[list(METHODS)[1], s][0] < finals[list(METHODS)[0], s][0] for s in seeds)
print(f"local reparameterisation ended lower in {local_better} of {len(seeds)} seeds")

# %%
fig, (left, right) = plots.figure(1, 2, size=(12.0, 4.8))
for (name, seed), history in histories.items():
    left.plot(np.arange(1, epochs + 1), history.loss, color=COLORS[name], lw=1.2, alpha=0.8,
              label=name if seed == seeds[0] else None)
all_losses = np.concatenate([h.loss for h in histories.values()])
low = all_losses.min()
left.set_ylim(low - 0.1 * abs(low) - 10, np.percentile(all_losses, 90))
left.set(xlabel="epoch", ylabel="negative ELBO per epoch (nats)",
         title=f"Training curves, {len(seeds)} seed(s) each (y-axis cut at the 90th percentile)")
left.grid(alpha=0.3)
left.legend(fontsize=9)
offsets = {name: k * 0.15 - 0.075 for k, name in enumerate(METHODS)}
for name in METHODS:
    values = np.array([finals[name, s] for s in seeds])
    right.errorbar(np.array(seeds) + offsets[name], values[:, 0], yerr=values[:, 1], fmt="o", ms=8, capsize=4,
                   color=COLORS[name], label=name)
right.set(xlabel="seed", ylabel="final negative ELBO (nats)", xticks=seeds,
          title=f"Final negative ELBO, {n_eval_chunks * eval_samples_per_chunk} weight samples (± s.e.)")
right.grid(alpha=0.3)
right.legend(fontsize=9)
plots.save(fig, OUT_DIR / "07_training_curves.png")

# %% [markdown]
# What the full run (3 seeds, 250 epochs; `--quick` is too short to judge) shows: the
# local-reparameterisation curves fall faster and are visibly smoother, and the final
# evaluation, done with the same estimator for both, puts them lower for every seed
# (the last printed line). So on this small network the gap is real, not an
# artefact of the noisier per-epoch estimate. Three caveats keep it in proportion:
# it is one network on one data set; we trained for a fixed budget, so this does not
# say where each method would end with more epochs or a different learning rate;
# and the lower variance has two sources we did not separate: the independent noise
# across examples, and the different $\rho$-gradient estimator noted in section 2.
#
# ## 4. Flipout: decorrelated noise for any layer
#
# Local reparameterisation needs the pre-activation to be a Gaussian sum given the input.
# Flipout (Wen, Vicol, Ba, Tran & Grosse 2018) needs only that the noise $\Delta W = \sigma \odot \varepsilon$
# is symmetric: it draws **one** $\Delta W$ per forward pass, as weight sampling does, and gives
# example $n$ its own copy with random signs, $W_n = \mu + \Delta W \odot (s_n r_n^\top)$, where
# $s_n \in \{\pm 1\}^{\text{in}}$ and $r_n \in \{\pm 1\}^{\text{out}}$ are drawn at random. Flipping signs does not change the
# distribution of a symmetric $\Delta W$, so every $W_n$ is a draw from $q$ and the estimate stays
# unbiased; but two examples now see perturbations whose signs are independent, so the part of
# their gradients that is linear in $\Delta W$ no longer correlates. The product never forms $W_n$:
#
# $$y_n = x_n \mu + \big((x_n \odot s_n)\, \Delta W\big) \odot r_n,$$
#
# two matrix products per layer, like local reparameterisation. For a convolution $s_n$ holds one
# sign per input channel and $r_n$ one per output channel, so image $n$ is convolved with one kernel
# drawn from $q$ (`minivi/flipout.py` derives the gradients). In minivi: `mv.FlipoutLinear` and
# `mv.FlipoutConv2d`, with the same parameters and KL as `BayesLinear` and `BayesConv2d`
# (`mv.LocalBayesConv2d` is local reparameterisation for a convolution; it draws the pixels of
# one image independently, which under $q$ they are not).
#
# We measure the three estimators as in section 2, at the same trained $\mu$ and $\rho$ copied
# into each, on two networks: the 1-16-16-1 regression network of section 2 (middle layer), and
# a small CNN for the 8×8 digits, a 3×3 convolution with 8 channels, ReLU, 2×2 max pooling and a
# linear layer to 10 classes, trained first with weight sampling on all the bundled digits (the
# convolution's $\partial L/\partial \mu$ is measured). The time is the CPU time of one
# forward and backward pass.

# %%
ESTIMATORS = {"weight sampling": (mv.BayesLinear, mv.BayesConv2d),
              "local reparameterisation": (mv.LocalBayesLinear, mv.LocalBayesConv2d),
              "Flipout": (mv.FlipoutLinear, mv.FlipoutConv2d)}
ESTIMATOR_COLORS = dict(zip(ESTIMATORS, ("tab:red", "tab:blue", "tab:green")))


def estimator_variance(network, layer, inputs, targets, loss, sizes, repeats, seed):
    """Per batch size: summed variance of dL/dweight_mu of `layer` over `repeats` draws of minibatch and
    noise, and the CPU ms of one forward and backward. The same minibatches for every network (seed)."""
    rng = np.random.default_rng(seed)
    variances, times = [], []
    for batch_size in sizes:
        grads, start = [], time.process_time()
        for _ in range(repeats):
            batch = rng.integers(0, len(inputs), batch_size)
            network.zero_grad()
            (loss(network(inputs[batch]), targets[batch]) * (1.0 / batch_size)).backward()
            grads.append(layer.weight_mu.grad.ravel())
        times.append(1e3 * (time.process_time() - start) / repeats)
        variances.append(np.var(grads, axis=0, ddof=1).sum())
    return np.array(variances), np.array(times)


def make_cnn(estimator, seed):
    linear, conv = ESTIMATORS[estimator]
    layer_rng = np.random.default_rng(seed)
    return mv.Sequential(conv(1, 8, 3, padding=1, rng=layer_rng), mv.ReLU(), mv.MaxPool2d(2), mv.Flatten(),
                         linear(8 * 4 * 4, 10, rng=layer_rng))


images, labels = mv.data.load_digits()
digit_images = images.reshape(-1, 1, 8, 8)                   # (N, channels, height, width)
cnn_sizes = np.array([8, 32] if QUICK else [8, 16, 32, 64, 128, 256])
cnn_repeats, cnn_epochs = (15, 2) if QUICK else (200, 20)
cnn_trained = make_cnn("weight sampling", seed=20)
mv.fit(cnn_trained, digit_images, labels, mv.categorical_nll, epochs=cnn_epochs, batch_size=100,
       rng=np.random.default_rng(21), lr=1e-2, verbose=False)

flipout_results = {}
for estimator, (linear, _) in ESTIMATORS.items():
    network = make_network(linear, seed=3)
    copy_parameters(trained, network)
    flipout_results["MLP", estimator] = estimator_variance(network, network[MEASURED_LAYER], x, y, nll,
                                                           batch_sizes, n_repeats, seed=4)
    network = make_cnn(estimator, seed=22)
    copy_parameters(cnn_trained, network)
    flipout_results["CNN", estimator] = estimator_variance(network, network[0], digit_images, labels,
                                                           mv.categorical_nll, cnn_sizes, cnn_repeats, seed=23)

for net, sizes, repeats in (("MLP", batch_sizes, n_repeats), ("CNN", cnn_sizes, cnn_repeats)):
    print(f"\n{net}: summed variance of dL/dmu of the measured layer ({repeats} draws per batch size), "
          "and CPU ms per forward + backward")
    print(f"{'B':>5} | " + " | ".join(f"{name:>24}" for name in ESTIMATORS) + " | Flipout / weight s.")
    for k, n in enumerate(sizes):
        cells = " | ".join(f"{flipout_results[net, name][0][k]:12.4g} {flipout_results[net, name][1][k]:8.2f} ms"
                           for name in ESTIMATORS)
        ratio = flipout_results[net, "Flipout"][0][k] / flipout_results[net, "weight sampling"][0][k]
        print(f"{n:>5} | {cells} | {ratio:10.3f}")
    for name in ESTIMATORS:
        v = flipout_results[net, name][0]
        print(f"  {name}: from B = {sizes[0]} to {sizes[-1]} (x{sizes[-1] // sizes[0]}) the variance fell by "
              f"a factor of {v[0] / v[-1]:.1f}")

# %%
fig, axes = plots.figure(1, 2, size=(12.0, 4.8))
for ax, (net, sizes, repeats) in zip(axes, (("MLP", batch_sizes, n_repeats), ("CNN", cnn_sizes, cnn_repeats))):
    for name in ESTIMATORS:
        ax.loglog(sizes, flipout_results[net, name][0], "o-", lw=2, color=ESTIMATOR_COLORS[name], label=name)
    first = flipout_results[net, "Flipout"][0][0]
    ax.loglog(sizes, first * sizes[0] / sizes, ":", color="gray", label="∝ 1/B from Flipout's first point")
    measured = "middle layer of the 1-16-16-1 MLP" if net == "MLP" else "the convolution of the digits CNN"
    ax.set(xlabel="minibatch size B", ylabel="summed variance of ∂L/∂μ",
           title=f"{measured}, {repeats} draws per point")
    ax.grid(alpha=0.3, which="major")
    ax.legend(fontsize=8)
fig.suptitle("Gradient noise of three estimators at the same μ and ρ, against the minibatch size", fontsize=13)
plots.save(fig, OUT_DIR / "07_flipout_variance.png")

# %% [markdown]
# Read the two tables with the figure. In the full run weight sampling's variance falls slowly
# and flattens as $B$ grows, while Flipout's and local reparameterisation's keep falling close to
# the $1/B$ line (the last lines of each table give the factors over the whole range): the sign
# flips take away most of the shared part of the noise. Flipout stays above local
# reparameterisation, and on the MLP it bends away from the $1/B$ line at large $B$: only the part
# of the noise that is linear in $\Delta W$ is decorrelated, since $(\Delta W \odot E_n)^2 = \Delta W^2$ whatever
# the signs $E_n = s_n r_n^\top$. How much lower than weight sampling it gets at a given $B$ is the last
# column; it depends on how much of the noise was shared, so measure it on your own network
# (`benchmarks/gradient_variance.py` does it on the digits for an MLP and this CNN, with and
# without fresh minibatches). Each Flipout and local-reparameterisation step costs a second
# matrix product (a second convolution), as the times show.
#
# ## What to take away
#
# - Local reparameterisation samples the pre-activations $b = x\mu + \sqrt{x^2\sigma^2}\, \varepsilon$
#   instead of the weights. Per example the distribution is the same, so the ELBO is
#   the same objective; across the minibatch the noise becomes independent.
# - So its gradient variance falls like $1/B$ with the minibatch size, while weight
#   sampling's levels off at the part due to the one shared weight sample.
# - Here that bought faster training for the same number of steps. How much it buys
#   depends on how much of the gradient noise came from the shared weights, so
#   measure it for your network rather than expecting a fixed speed-up.
# - The trick needs the pre-activation to be Gaussian given the input, which holds
#   because the weights of a linear layer are independent Gaussians under q; the
#   prior and the KL are untouched.
# - Flipout keeps one sampled perturbation per pass and flips its signs per example:
#   unbiased for any layer whose noise is symmetric, convolutions included, and most
#   of weight sampling's shared noise is gone, though not all of it.
#
# Classroom exercise 7 has you write this layer's forward yourself
# (`python tutorials/exercises/check.py 7`).
#
# Exercise: measure the gradient variance of the *first* layer and of the
# output layer too, and repeat section 2 with `n_samples=4` weight samples per step
# — how many weight samples does weight sampling need to match local
# reparameterisation at $B = 128$, and what does each cost?
