"""Tutorial 10: a Bayesian convolutional network on the 8x8 digits, against the Bayesian MLP of tutorial 06
and a deterministic CNN: accuracy, NLL, calibration, setting the most uncertain inputs aside, and the
predictive entropy on shifted, rotated and noise images."""

# %% [markdown]
# # 10 · A Bayesian CNN on the digits
#
# Tutorial 06 classified the 8×8 digits with a Bayesian MLP: 64 pixels in a row, no
# notion that pixel (2, 3) sits next to pixel (2, 4). A convolutional network knows
# it: a 3×3 kernel slides over the image, the same weights at every position
# (`minivi/conv.py: conv2d`, im2col and one matrix product). Making it Bayesian
# changes nothing in the derivation: every kernel entry gets its own
# $q(w_i) = \mathcal N(\mu_i, \sigma_i^2)$, $\sigma_i = \mathrm{softplus}(\rho_i)$ (step 4), the KL is
# the closed form of step 5 summed over the kernel, and `mv.fit` runs the loop of step 8
# (`minivi/bayes_conv.py: BayesConv2d`).
#
# We compare three networks on tutorial 06's split (the same 1348 training and 449 test
# images):
#
# * the **Bayesian MLP** of tutorial 06 (64-64-10, `BayesLinear`), trained exactly as there;
# * a **deterministic CNN** (`Conv2d`), trained by maximum likelihood;
# * the **Bayesian CNN**: the same architecture with Gaussian q over every weight.
#
# and measure test accuracy, NLL, calibration (ECE and a reliability diagram), the
# accuracy when the most uncertain 10% are set aside, and the predictive entropy on
# images unlike any the networks were trained on.
#
# Run it with `python tutorials/10_bayesian_cnn.py` (add `--quick` for a short run).

# %%
import time

import numpy as np

import minivi as mv
from minivi import plots

QUICK, OUT_DIR = plots.tutorial_options(__doc__ or "tutorial 10")

MLP_EPOCHS = 10 if QUICK else 200        # tutorial 06's
CNN_EPOCHS = 2 if QUICK else 40
N_PREDICT = 20 if QUICK else 100         # weight samples for the predictive

images, labels = mv.data.load_digits()
digits_rng = np.random.default_rng(7)   # tutorial 06's generator: the same split, the same MLP
x_train, y_train, x_test, y_test = mv.data.train_test_split(images, labels, 0.25, digits_rng)
print(f"{len(x_train)} training images, {len(x_test)} test images (tutorial 06's split)")


def as_images(rows):
    """(N, 64) pixel rows as (N, 1, 8, 8) one-channel images, the layout conv2d takes."""
    return rows.reshape(-1, 1, 8, 8)


def scores(logits, y):
    """Accuracy, NLL per image (nats) and ECE of the predictive from sampled logits (S, N, 10)."""
    probs = mv.classification_uncertainty(logits)["probs"]
    return {"accuracy": np.mean(probs.argmax(-1) == y), "NLL": -mv.categorical_log_likelihood(logits, y),
            "ECE": mv.expected_calibration_error(probs, y)}


# %% [markdown]
# ## The Bayesian MLP of tutorial 06
#
# Same generator, same initialisation, same training: these are tutorial 06's numbers.

# %%
def bayes_mlp(sizes, rng):
    """BayesLinear layers of the given widths with ReLU between them (tutorial 06's helper)."""
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [mv.BayesLinear(n_in, n_out, rng=rng)] + ([mv.ReLU()] if k < len(sizes) - 2 else [])
    return mv.Sequential(*layers)


mlp = bayes_mlp([64, 64, 10], digits_rng)
start = time.perf_counter()
mv.fit(mlp, x_train, y_train, mv.categorical_nll, epochs=MLP_EPOCHS, batch_size=100, rng=digits_rng, lr=1e-2,
       n_samples=2, verbose=False)
print(f"Bayesian MLP: {MLP_EPOCHS} epochs in {time.perf_counter() - start:.1f} s, "
      f"{sum(p.data.size for p in mlp.parameters()) // 2} weights")

# %% [markdown]
# ## The CNN
#
# Two 3×3 convolutions with padding 1, each followed by ReLU and 2×2 max pooling,
# then one linear layer:
#
# $$1\times8\times8 \xrightarrow{\text{conv } 3\times3,\ 8} 8\times8\times8 \xrightarrow{\text{pool}}
#   8\times4\times4 \xrightarrow{\text{conv } 3\times3,\ 16} 16\times4\times4 \xrightarrow{\text{pool}}
#   16\times2\times2 \xrightarrow{\text{flatten, linear}} 10 .$$
#
# The same function builds the deterministic CNN (`Conv2d`, `Linear`) and the Bayesian one.
# For the Bayesian one we use the estimators of tutorial 07 that lower the gradient's
# variance: Flipout (`FlipoutConv2d`, `FlipoutLinear`), one sampled kernel per
# image, decorrelated by random signs.

# %%
def cnn(conv, linear, **options):
    """conv 3x3 (8) - ReLU - maxpool 2 - conv 3x3 (16) - ReLU - maxpool 2 - flatten - linear (10)."""
    return mv.Sequential(conv(1, 8, 3, padding=1, **options), mv.ReLU(), mv.MaxPool2d(2),
                         conv(8, 16, 3, padding=1, **options), mv.ReLU(), mv.MaxPool2d(2), mv.Flatten(),
                         linear(16 * 2 * 2, 10, **options))


def bayes_cnn(settings, rng):
    """The CNN of FlipoutConv2d and FlipoutLinear layers with the prior N(0, prior_sigma²)."""
    return cnn(lambda *a, **k: mv.FlipoutConv2d(*a, settings["prior_sigma"], **k),
               lambda *a, **k: mv.FlipoutLinear(*a, settings["prior_sigma"], **k), rng=rng)


def fit_bayes_cnn(x, y, settings, rng):
    """Train a Bayesian CNN with the given settings on images x, labels y; return it."""
    model = bayes_cnn(settings, rng)
    mv.fit(model, x, y, mv.categorical_nll, epochs=CNN_EPOCHS, batch_size=settings["batch_size"], rng=rng,
           lr=1e-2, kl_schedule=settings["kl_schedule"], verbose=False)
    return model


cnn_rng = np.random.default_rng(10)
deterministic = cnn(mv.Conv2d, mv.Linear, rng=cnn_rng)
start = time.perf_counter()
mv.fit(deterministic, as_images(x_train), y_train, mv.categorical_nll, epochs=CNN_EPOCHS, batch_size=64,
       rng=cnn_rng, lr=1e-2, verbose=False)
print(f"deterministic CNN: {CNN_EPOCHS} epochs in {time.perf_counter() - start:.1f} s, "
      f"{sum(p.data.size for p in deterministic.parameters())} weights")

# %% [markdown]
# ## Choosing the settings on a validation split, not on the test images
#
# Trained on a small data set, mean-field Bayes by Backprop tends to be
# **under**confident (tutorial 06): the KL pulls every $\sigma$ towards the prior's, the
# sampled networks disagree and their averaged softmax is flat. Two settings act on that
# pull without changing the objective's optimum much:
#
# * the prior's scale: $\mathcal N(0, 1)$ penalises $\mu^2/2$; a wider prior lets the means grow,
#   which sharpens the predictions;
# * how the KL is spread over an epoch's minibatches (`kl_schedule`, `minivi/elbo.py:
#   kl_weights`): "uniform" gives each of the $M$ minibatches $1/M$ of it, "blundell"
#   gives minibatch $i$ the share $2^{-i}/(1 - 2^{-M})$ (Blundell et al. 2015, §3.4). Both sum to one KL
#   per epoch; with Adam, which rescales every step, the second lets the data dominate most steps,
#   the more so the more minibatches an epoch has (smaller batches).
#
# We hold out a fifth of the **training** images as a validation set, train each
# candidate on the other four fifths and keep the one with the lowest validation NLL. The test
# images play no part in this choice.

# %%
CANDIDATES = {"prior N(0, 1), uniform KL, batches of 64": dict(prior_sigma=1.0, kl_schedule="uniform", batch_size=64),
              "prior N(0, 3²), blundell KL, batches of 32": dict(prior_sigma=3.0, kl_schedule="blundell", batch_size=32),
              "prior N(0, 3²), blundell KL, batches of 16": dict(prior_sigma=3.0, kl_schedule="blundell", batch_size=16)}
x_fit, y_fit, x_valid, y_valid = mv.data.train_test_split(x_train, y_train, 0.2, np.random.default_rng(1))
validation = {}
for name, settings in CANDIDATES.items():
    start = time.perf_counter()
    model = fit_bayes_cnn(as_images(x_fit), y_fit, settings, np.random.default_rng(11))
    validation[name] = scores(mv.predict(model, as_images(x_valid), n_samples=N_PREDICT), y_valid)
    print(f"validation ({len(x_fit)} fit, {len(x_valid)} held out), {name}: "
          + ", ".join(f"{k} {v:.4f}" for k, v in validation[name].items())
          + f"  ({time.perf_counter() - start:.1f} s)")
chosen = min(validation, key=lambda name: validation[name]["NLL"])
print(f"chosen: {chosen}")

# %% [markdown]
# The chosen settings are then trained on all the training images.

# %%
start = time.perf_counter()
bayesian = fit_bayes_cnn(as_images(x_train), y_train, CANDIDATES[chosen], cnn_rng)
print(f"Bayesian CNN: {CNN_EPOCHS} epochs in {time.perf_counter() - start:.1f} s, "
      f"{sum(p.data.size for p in bayesian.parameters()) // 2} weights, each with a mu and a rho")

# %% [markdown]
# ## Accuracy, NLL and calibration on the test images
#
# Accuracy, the NLL of the predictive per test image $-\frac1N\sum_n \log \bar p(y_n\mid x_n, D)$,
# and the expected calibration error over 10 confidence bins, as in tutorial 06. The two
# Bayesian networks predict with $S$ sampled networks; the deterministic CNN is one network.

# %%
test_logits = {"Bayesian MLP": mv.predict(mlp, x_test, n_samples=N_PREDICT),
               "deterministic CNN": mv.predict(deterministic, as_images(x_test), mode="mean"),
               "Bayesian CNN": mv.predict(bayesian, as_images(x_test), n_samples=N_PREDICT)}
test_uncertainty = {name: mv.classification_uncertainty(logits) for name, logits in test_logits.items()}
test_scores = {name: scores(logits, y_test) for name, logits in test_logits.items()}
print(f"{'':18s}  accuracy     NLL     ECE  mean confidence")
for name, s in test_scores.items():
    print(f"{name:18s}  {s['accuracy']:8.4f}  {s['NLL']:6.4f}  {s['ECE']:6.4f}  "
          f"{test_uncertainty[name]['probs'].max(-1).mean():15.4f}")
goal_met = test_scores["Bayesian CNN"]["accuracy"] >= 0.98 and test_scores["Bayesian CNN"]["ECE"] <= 0.02
print(f"the goal for the Bayesian CNN, accuracy >= 98% and ECE <= 0.02: {'reached' if goal_met else 'NOT reached'}")

# %% [markdown]
# Read the table row by row. The Bayesian CNN does better than the Bayesian MLP on all
# three measures (accuracy 0.9710 against 0.9666, NLL 0.1203 against 0.1350, ECE 0.0419
# against 0.0568): the convolution's prior knowledge, nearby pixels belong together, is worth
# having, and with 1898 weights it has fewer than half of the MLP's 4810.
#
# But on this split the **deterministic** CNN is the best of the three on every measure:
# accuracy 0.9822, NLL 0.0528, ECE 0.0050. The Bayesian CNN is still **under**confident:
# its mean confidence (0.9311) is below its accuracy (0.9710), the same failing as the MLP's
# (0.9144 against 0.9666). The settings chosen on the validation images lowered the ECE
# there (0.0679 with the N(0, 1) prior and the uniform KL, 0.0502 with the chosen ones) but
# did not remove the underconfidence. The goal this tutorial was written towards, at least 98% accuracy
# and an ECE of at most 0.02 for the Bayesian CNN, is not reached (the line above says so
# whenever the run is repeated). Mean-field Bayes by Backprop on 1348 images pays for its
# uncertainty with a KL that keeps the sampled networks apart, and their averaged softmax is
# flatter than the data call for.

# %% [markdown]
# ### Reliability diagrams
#
# For each confidence bin, the fraction of test images classified correctly against the
# diagonal a calibrated model follows. Bars above the diagonal: underconfident; below:
# overconfident.

# %%
fig, axes = plots.figure(1, 3, size=(17, 5.5))
for ax, (name, uncertainty) in zip(axes, test_uncertainty.items()):
    centres, bin_confidence, bin_accuracy, counts = mv.reliability_curve(uncertainty["probs"], y_test, n_bins=10)
    filled = counts > 0
    print(f"{name:18s} images per confidence bin 0.0-0.1 ... 0.9-1.0: {' '.join(str(n) for n in counts)}; "
          f"bins above the diagonal: {np.sum(bin_accuracy[filled] > bin_confidence[filled])} of {np.sum(filled)}")
    ax.bar(centres[filled], bin_accuracy[filled], width=0.1, color="tab:blue", edgecolor="black", alpha=0.8,
           label="accuracy in the bin")
    ax.plot(bin_confidence[filled], bin_accuracy[filled], "o", color="black", label="(mean confidence, accuracy)")
    ax.plot([0, 1], [0, 1], "--", color="tab:red", label="perfect calibration")
    for c, acc, n in zip(centres[filled], bin_accuracy[filled], counts[filled]):
        ax.annotate(f"{n}", (c, acc), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=9)
    ax.set(xlim=(0, 1), ylim=(0, 1.08), xlabel="confidence: largest predictive probability",
           title=f"{name}: ECE {test_scores[name]['ECE']:.3f}")
axes[0].set_ylabel("fraction of test images classified correctly")
axes[0].legend(loc="upper left", fontsize=9)
fig.suptitle("Digits, test images: reliability diagrams (numbers = images per bin)", fontsize=14)
print(f"figure written to {plots.save(fig, OUT_DIR / '10_reliability.png')}")

# %% [markdown]
# The diagrams show it. The Bayesian MLP's points lie above the diagonal in 6 of its 8
# bins (right more often than it says), the Bayesian CNN's in 6 of 7, while the deterministic
# CNN puts 432 of the 449 test images in its top bin, where it is as sure as it is right.

# %% [markdown]
# ## Setting the most uncertain 10% aside
#
# Sort the test images by predictive entropy, set aside the 10% with the highest and
# measure the error rate on the other 90%. A network whose doubt points at its mistakes
# removes many of them this way.

# %%
KEEP = 0.9
n_kept = int(round(KEEP * len(y_test)))
print(f"{'':18s}  error, all images  error, most certain {KEEP:.0%} ({n_kept} images)  mistakes set aside")
kept_error = {}
for name, uncertainty in test_uncertainty.items():
    wrong = uncertainty["probs"].argmax(-1) != y_test
    kept = np.argsort(uncertainty["predictive_entropy"], kind="stable")[:n_kept]
    kept_error[name] = wrong[kept].mean()
    print(f"{name:18s}  {wrong.mean():17.4f}  {kept_error[name]:38.4f}  {wrong.sum() - wrong[kept].sum():3d} of "
          f"{wrong.sum()}")

# %% [markdown]
# All three networks set most of their mistakes aside this way (13 of 15, 6 of 8 and
# 11 of 13), and on the remaining 90% each makes the same error, 0.0050: two mistakes in
# 404 images. So the Bayesian CNN does **not** beat the MLP here: at full coverage its error
# is lower (0.0290 against 0.0334), with the most uncertain 10% set aside the two tie.
# With so few mistakes left, this test set cannot separate them.

# %% [markdown]
# ## Inputs the networks have never seen
#
# Three sets of images unlike the training digits, as many as the test set:
#
# * **shifted**: each test digit moved 3 pixels to the right (the columns that enter are blank);
# * **rotated**: each test digit turned by 90°;
# * **noise**: every pixel uniform on [0, 1].
#
# A network that knows what it does not know should be less sure of these than of the test
# digits: a higher predictive entropy. We print the mean entropy of each set and the AUROC of
# the entropy as a detector: the probability that an unseen image gets a higher entropy than a
# test digit (0.5: no better than chance, 1: always higher).

# %%
def shifted(rows, pixels):
    """8x8 images moved `pixels` columns to the right, blank columns entering on the left."""
    grid = rows.reshape(-1, 8, 8)
    out = np.zeros_like(grid)
    out[:, :, pixels:] = grid[:, :, :8 - pixels]
    return out.reshape(len(rows), 64)


def auroc(unseen, seen):
    """P(an unseen input's score > a seen input's score), ties counted half."""
    greater = (unseen[:, None] > seen[None, :]).mean()
    return greater + 0.5 * (unseen[:, None] == seen[None, :]).mean()


unseen_inputs = {"shifted 3 pixels": shifted(x_test, 3),
                 "rotated 90°": np.rot90(x_test.reshape(-1, 8, 8), axes=(1, 2)).reshape(-1, 64),
                 "uniform noise": np.random.default_rng(12).uniform(0.0, 1.0, x_test.shape)}
models = {"Bayesian MLP": (mlp, lambda rows: rows), "deterministic CNN": (deterministic, as_images),
          "Bayesian CNN": (bayesian, as_images)}
entropy = {}
for name, (model, layout) in models.items():
    entropy[name] = {"test digits": test_uncertainty[name]["predictive_entropy"]}
    for kind, rows in unseen_inputs.items():
        logits = mv.predict(model, layout(rows), **({"mode": "mean"} if name == "deterministic CNN"
                                                    else {"n_samples": N_PREDICT}))
        entropy[name][kind] = mv.classification_uncertainty(logits)["predictive_entropy"]
print(f"mean predictive entropy (nats; at most log 10 = {np.log(10):.2f})")
print(f"{'':18s}" + "".join(f"{kind:>18s}" for kind in entropy["Bayesian CNN"]))
for name, by_kind in entropy.items():
    print(f"{name:18s}" + "".join(f"{h.mean():18.4f}" for h in by_kind.values()))
print("AUROC of the entropy, unseen against test digits")
for name, by_kind in entropy.items():
    print(f"{name:18s}" + "".join(f"{kind}: {auroc(h, by_kind['test digits']):.3f}  "
                                  for kind, h in by_kind.items() if kind != "test digits"))

# %%
fig = plots.figure(size=(17, 6))[0]
fig.clf()
grid = fig.add_gridspec(2, 5, width_ratios=[1, 1, 1, 1, 6])
for row, start in enumerate((0, 1)):
    for column, (kind, rows) in enumerate({"test digit": x_test, **unseen_inputs}.items()):
        ax = fig.add_subplot(grid[row, column])
        ax.imshow(rows[start].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if row == 0:
            ax.set_title(kind, fontsize=10)
ax = fig.add_subplot(grid[:, 4])
kinds = list(entropy["Bayesian CNN"])
width = 0.8 / len(entropy)
for k, (name, by_kind) in enumerate(entropy.items()):
    ax.bar(np.arange(len(kinds)) + (k - 1) * width, [h.mean() for h in by_kind.values()], width=width, label=name)
ax.axhline(np.log(10), color="0.4", ls="--", lw=1, label="log 10: uniform over the classes")
ax.set(xticks=np.arange(len(kinds)), xticklabels=kinds, ylabel="mean predictive entropy (nats)",
       title="Mean predictive entropy: test digits against inputs never seen in training")
ax.legend(loc="upper left", fontsize=9)
fig.suptitle("Digits: is the network less sure of what it has never seen? (left: two examples of each input)",
             fontsize=14)
print(f"figure written to {plots.save(fig, OUT_DIR / '10_unseen_entropy.png')}")

# %% [markdown]
# Every network is less sure of every kind of unseen input than of the test digits: each
# row of the mean entropies grows from the first column, and every AUROC is above 0.8.
# The Bayesian networks' entropies are larger everywhere (on uniform noise 1.8541 and 1.4123
# nats against the deterministic CNN's 0.6477), but so are they on the test digits, and
# what tells unseen from seen is the ranking, which the AUROC measures: there no network
# wins everywhere. The Bayesian MLP separates shifted digits and noise best (0.996,
# 0.998); on rotated digits the deterministic CNN does (0.901). The Bayesian CNN is below
# the deterministic one on shifted and rotated digits (0.924 against 0.958, 0.814 against
# 0.901) and above it only on noise (0.980 against 0.959).
#
# ## What to take away
#
# * A Bayesian convolution is the derivation of steps 4-8 on a kernel: the same q, the same
#   KL, the same loop; Flipout keeps the gradient's variance low (tutorial 07).
# * On the 8×8 digits it beats the Bayesian MLP on accuracy, NLL and calibration with fewer
#   weights, but not the deterministic CNN of the same shape, and it stays underconfident.
# * The settings that shape the KL's pull (the prior's scale, how the KL is spread over the
#   minibatches) were chosen on a validation split of the training images; the test images
#   are used once, for the table above.
