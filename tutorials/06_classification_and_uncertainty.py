"""Tutorial 06: classification and uncertainty: two moons and 8x8 handwritten digits with Bayes by Backprop."""
# %% [markdown]
# # 06 · Classification and uncertainty
#
# Tutorial 05 ran steps 4-8 of the derivation on a regression curve. Nothing in
# those steps cares what the likelihood is, so here we swap the Gaussian (L2) data
# term for a **categorical** one and classify:
#
# * **two half-moons** in 2-D, where we can draw the uncertainty as a map;
# * the **8×8 handwritten digits** (1,797 images), where we measure it: test
#   accuracy, test log-likelihood, calibration, and whether the network's doubt
#   points at the inputs it gets wrong.
#
# Run it with `python tutorials/06_classification_and_uncertainty.py` (add
# `--quick` for a short run).

# %%
import copy
import time

import numpy as np
from matplotlib.patches import Patch

import minivi as mv
from minivi import plots

QUICK, OUT_DIR = plots.tutorial_options(__doc__ or "tutorial 06")

MOONS_EPOCHS = 30 if QUICK else 300
DIGITS_EPOCHS = 10 if QUICK else 200
N_PREDICT = 20 if QUICK else 100       # weight samples for the predictive
GRID_SIZE = (50, 40) if QUICK else (100, 80)

moons_rng = np.random.default_rng(6)     # one generator per part, so the digits part does not
digits_rng = np.random.default_rng(7)    # depend on how long the moons part trained

# %% [markdown]
# ## The categorical likelihood (step 6 for classes)
#
# With $C$ classes the network outputs $C$ numbers (logits) $z = f(x; w)$ and
#
# $$\begin{aligned}
#   p(y = c \mid x, w) &= \mathrm{softmax}(z)_c = \frac{e^{z_c}}{\sum_k e^{z_k}}, \\
#   -\log p(\mathcal{D}\mid w) &= -\sum_n \log \mathrm{softmax}(f(x_n; w))_{y_n} .
# \end{aligned}$$
#
# This is the cross-entropy loss; it plays the part the L2 loss played for
# regression (`minivi/likelihoods.py: categorical_nll`, computed with a stable
# log-softmax). The loss is still $F = \mathrm{KL}[q\,\|\,p] - \mathbb E_q[\log p(\mathcal{D}\mid w)]$
# (step 3), the KL is still the closed form of step 5, and `mv.fit` runs the same loop.
#
# ## Predictive and its uncertainty (step 2)
#
# With $S$ weight samples $w_s \sim q$ the predictive class probabilities are
#
# $$\bar p(y\mid x, \mathcal{D}) \approx \frac1S \sum_s \mathrm{softmax}(f(x; w_s)),$$
#
# and its uncertainty splits in two (Houlsby et al. 2011, "Bayesian Active Learning
# for Classification and Preference Learning"; Depeweg et al. 2018):
#
# $$\underbrace{H[\bar p]}_{\text{predictive entropy (total)}} =
#   \underbrace{\frac1S\sum_s H[p_s]}_{\text{expected entropy (aleatoric)}} +
#   \underbrace{I[y; w\mid x, \mathcal{D}]}_{\text{mutual information (epistemic)}} .$$
#
# Predictive entropy is high when the prediction is unsure for any reason. Mutual
# information is high only when the sampled networks **disagree**, each sure of a
# different answer: doubt about $w$, which more data would remove.
# `minivi/predict.py: classification_uncertainty` returns all three.

# %% [markdown]
# ## Two moons
#
# 200 training points (`mv.data.two_moons`, noise 0.1) and a fresh test set of
# 1000. A 2-50-50-2 ReLU network of `BayesLinear` layers with the $\mathcal N(0, 1)$ prior,
# trained with minibatches of 50 and 2 weight samples per step.

# %%
x_moons, labels_moons = mv.data.two_moons(200, moons_rng, noise_sigma=0.1)
x_moons_test, labels_moons_test = mv.data.two_moons(1000, moons_rng, noise_sigma=0.1)


def bayes_mlp(sizes, rng):
    """BayesLinear layers of the given widths with ReLU between them."""
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [mv.BayesLinear(n_in, n_out, rng=rng)] + ([mv.ReLU()] if k < len(sizes) - 2 else [])
    return mv.Sequential(*layers)


moons_model = bayes_mlp([2, 50, 50, 2], moons_rng)
start = time.perf_counter()
moons_history = mv.fit(moons_model, x_moons, labels_moons, mv.categorical_nll, epochs=MOONS_EPOCHS,
                       batch_size=50, rng=moons_rng, lr=1e-2, n_samples=2, print_every=max(1, MOONS_EPOCHS // 4))
print(f"two moons: {MOONS_EPOCHS} epochs in {time.perf_counter() - start:.1f} s")

moons_test_logits = mv.predict(moons_model, x_moons_test, n_samples=N_PREDICT)
moons_test_probs = mv.classification_uncertainty(moons_test_logits)["probs"]
print(f"two moons test accuracy {np.mean(moons_test_probs.argmax(-1) == labels_moons_test):.4f}, "
      f"test log-likelihood per point {mv.categorical_log_likelihood(moons_test_logits, labels_moons_test):.4f}")

# %% [markdown]
# ### Maps of the predictive
#
# We evaluate the predictive on a grid that reaches well beyond the data, in
# chunks so the $S \times \text{points} \times 50$ hidden activations stay small in memory. Every
# chunk must see the SAME $S$ sampled networks, or the maps would show seams
# between chunks: each chunk runs on a copy of the model whose generators start
# from the same state, so it draws the same eps.

# %%
def predict_in_chunks(model, x, n_samples, chunk=1000):
    """mv.predict over consecutive chunks of the rows of x with the same weight samples, joined."""
    return np.concatenate([mv.predict(copy.deepcopy(model), x[i:i + chunk], n_samples=n_samples)
                           for i in range(0, len(x), chunk)], axis=1)


grid_1, grid_2 = np.meshgrid(np.linspace(-2.0, 3.0, GRID_SIZE[0]), np.linspace(-1.5, 2.0, GRID_SIZE[1]))
x_grid = np.stack([grid_1.ravel(), grid_2.ravel()], axis=1)
grid_uncertainty = mv.classification_uncertainty(predict_in_chunks(moons_model, x_grid, N_PREDICT))

distance_to_data = np.sqrt(((x_grid[:, None, :] - x_moons[None, :, :]) ** 2).sum(-1)).min(axis=1)
far = distance_to_data > 0.5
train_uncertainty = mv.classification_uncertainty(mv.predict(moons_model, x_moons, n_samples=N_PREDICT))
for key in ("predictive_entropy", "mutual_information"):
    near_value, far_value = train_uncertainty[key].mean(), grid_uncertainty[key][far].mean()
    print(f"mean {key:<19} at the training points {near_value:.4f}, at grid points farther than 0.5 "
          f"from every training point {far_value:.4f} ({far_value / near_value:.2f} times)")

# %%
fig, axes = plots.figure(1, 3, size=(17, 5))
max_entropy = np.log(2)                # two classes: H is at most log 2 nats
panels = (("mean probability of class 1", grid_uncertainty["probs"][:, 1], "RdBu_r", 1.0, "probability"),
          ("predictive entropy: total", grid_uncertainty["predictive_entropy"], "viridis", max_entropy, "nats"),
          ("mutual information: epistemic", grid_uncertainty["mutual_information"], "viridis", max_entropy, "nats"))
for ax, (title, values, cmap, high, unit) in zip(axes, panels):
    filled = ax.contourf(grid_1, grid_2, values.reshape(grid_1.shape), levels=np.linspace(0.0, high, 21), cmap=cmap)
    fig.colorbar(filled, ax=ax, ticks=np.linspace(0.0, high, 5), format="%.2f", label=unit)
    for label, marker, face, edge in ((0, "o", "white", "black"), (1, "^", "black", "white")):
        chosen = labels_moons == label
        ax.scatter(x_moons[chosen, 0], x_moons[chosen, 1], s=22, marker=marker, facecolor=face, edgecolor=edge,
                   linewidth=0.5, label=f"training data, class {label}")
    ax.set(xlabel="x₁", ylabel="x₂", title=title)
axes[0].legend(loc="upper right", fontsize=9)
fig.suptitle("Two moons: the Bayesian network's predictive, averaged over sampled networks", fontsize=14)
print(f"figure written to {plots.save(fig, OUT_DIR / '06_moons_uncertainty.png')}")

# %% [markdown]
# Reading the maps. The mean probability goes from one class to the other across
# a band that follows the gap between the moons. Predictive entropy is high along
# the whole band: where the classes meet among the data, and where the boundary
# runs out past the data. Mutual information is highest on the second part: where
# no data pin the boundary down, the sampled networks draw it in different places
# and disagree. Among the data, part of the entropy is each network's own doubt
# (aleatoric), so the mutual information there is lower. The printed means put
# numbers on it: both measures are larger far from the data, mutual information
# by the larger factor.
#
# Note also what the maps do **not** show: far from the data but away from the
# boundary (the corners) the network is confident. A mean-field Gaussian q over a
# ReLU network does not make the predictive uncertain everywhere off the data;
# its doubt is about *where the boundary goes* (see Foong et al. 2020, "On the
# Expressiveness of Approximate Inference in Bayesian Neural Networks").

# %% [markdown]
# ## Handwritten digits
#
# The UCI "Optical Recognition of Handwritten Digits" test set: 1,797 images of
# 8×8 pixels, written by 13 people (Alpaydin & Kaynak 1998, UCI Machine Learning
# Repository, DOI 10.24432/C50P49, licence CC BY 4.0). It is bundled with minivi as
# `minivi/datasets/digits.csv.gz`, with its source and licence in
# `minivi/datasets/DIGITS_LICENSE.txt`; `mv.data.load_digits()` returns the pixels
# scaled to [0, 1]. We keep a quarter of the images for testing
# (`mv.data.train_test_split`) and train a 64-64-10 Bayesian network.

# %%
images, digit_labels = mv.data.load_digits()
x_train, y_train, x_test, y_test = mv.data.train_test_split(images, digit_labels, 0.25, digits_rng)
print(f"{len(images)} images; {len(x_train)} for training, {len(x_test)} for testing; "
      f"pixels in [{images.min():.0f}, {images.max():.0f}]")

digits_model = bayes_mlp([64, 64, 10], digits_rng)
start = time.perf_counter()
digits_history = mv.fit(digits_model, x_train, y_train, mv.categorical_nll, epochs=DIGITS_EPOCHS,
                        batch_size=100, rng=digits_rng, lr=1e-2, n_samples=2, print_every=max(1, DIGITS_EPOCHS // 4))
print(f"digits: {DIGITS_EPOCHS} epochs in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# ### Accuracy, log-likelihood, calibration
#
# * **accuracy**: the class with the largest mean probability $\bar p$ is right;
# * **test log-likelihood**: $\frac1N\sum_n \log \bar p(y_n\mid x_n, \mathcal{D})$, which punishes
#   confident mistakes (`mv.categorical_log_likelihood`);
# * **expected calibration error** (Naeini et al. 2015; Guo et al. 2017, "On Calibration
#   of Modern Neural Networks"): group the test points by confidence
#   $\max_c \bar p_c$ into 10 bins and average $|\text{accuracy}_b - \text{confidence}_b|$,
#   weighted by the bins' sizes (`mv.expected_calibration_error`). A calibrated
#   model that says 0.8 is right 80% of the time: ECE = 0.

# %%
test_logits = mv.predict(digits_model, x_test, n_samples=N_PREDICT)
test_uncertainty = mv.classification_uncertainty(test_logits)
test_probs = test_uncertainty["probs"]
predicted = test_probs.argmax(axis=-1)
accuracy = np.mean(predicted == y_test)
confidence = test_probs.max(axis=-1)
print(f"test accuracy            {accuracy:.4f}  ({np.sum(predicted != y_test)} of {len(y_test)} wrong)")
print(f"test log-likelihood      {mv.categorical_log_likelihood(test_logits, y_test):.4f} nats per image")
print(f"expected calibration err {mv.expected_calibration_error(test_probs, y_test):.4f}")
print(f"mean confidence          {confidence.mean():.4f}  (vs accuracy {accuracy:.4f})")
mean_network_probs = mv.classification_uncertainty(mv.predict(digits_model, x_test, mode="mean"))["probs"]
print(f"mean confidence of the one network at the posterior means (mode='mean'): "
      f"{mean_network_probs.max(axis=-1).mean():.4f}")

# %% [markdown]
# ### Reliability diagram
#
# For each confidence bin: the fraction of correct answers (bars) against the
# diagonal a calibrated model would follow (`mv.reliability_curve`). Bars above the
# diagonal mean **under**confidence (right more often than it claims), bars below mean
# overconfidence. The printed counts show how many test images each bin holds.
#
# Compare the printed mean confidence with the accuracy: if the confidence is
# lower, the network is *under*confident, which is what mean-field Bayes by
# Backprop tends to do on a small data set. The KL term pulls every $\sigma$ towards the
# prior's 1, the sampled networks then disagree, and averaging their softmax outputs
# flattens the probabilities (compare the single network at the means, printed
# above). Trippe & Turner (2018), "Overpruning in Variational Bayesian Neural
# Networks", describe the same pull of the KL. Deterministic networks trained by
# maximum likelihood usually err the other way (Guo et al. 2017).

# %%
centres, bin_confidence, bin_accuracy, counts = mv.reliability_curve(test_probs, y_test, n_bins=10)
print("bin      count  confidence  accuracy")
for c, n, conf, acc in zip(centres, counts, bin_confidence, bin_accuracy):
    if n:
        print(f"{c - 0.05:.1f}-{c + 0.05:.1f}  {n:5d}  {conf:10.3f}  {acc:8.3f}")

fig, ax = plots.figure(size=(7, 6))
plots.reliability_diagram(ax, centres, bin_confidence, bin_accuracy, counts)
ax.set(xlabel="confidence: largest mean class probability",
       title=f"Digits: reliability diagram (ECE {mv.expected_calibration_error(test_probs, y_test):.3f}; "
             "numbers = images per bin)")
ax.legend(loc="upper left", fontsize=9)
print(f"figure written to {plots.save(fig, OUT_DIR / '06_digits_reliability.png')}")

# %% [markdown]
# ### Does the doubt point at the mistakes?
#
# Sort the test images by predictive entropy, set aside the most uncertain
# fraction (say, to hand them to a person) and measure the accuracy on the rest.
# If the uncertainty is useful, the accuracy rises as more is set aside
# (an accuracy-rejection curve; e.g. Nadeem et al. 2009). We draw the same curve
# for mutual information, and the best possible ordering (mistakes first) as a
# reference.

# %%
def accuracy_after_setting_aside(score, correct):
    """Accuracy on the remaining inputs after removing the k highest-score inputs, for k = 0..N-1."""
    kept_correct = correct[np.argsort(-score, kind="stable")][::-1]   # lowest score first
    remaining = np.arange(len(correct), 0, -1)
    return np.cumsum(kept_correct)[::-1] / remaining


correct = (predicted == y_test).astype(float)
fractions = np.arange(len(y_test)) / len(y_test)
curves = {"by predictive entropy": accuracy_after_setting_aside(test_uncertainty["predictive_entropy"], correct),
          "by mutual information": accuracy_after_setting_aside(test_uncertainty["mutual_information"], correct),
          "mistakes first (best possible)": accuracy_after_setting_aside(1.0 - correct, correct)}
for fraction in (0.0, 0.05, 0.1, 0.2):
    k = int(round(fraction * len(y_test)))
    print(f"set aside {fraction:4.0%}: " + ", ".join(f"{name} {curve[k]:.4f}" for name, curve in curves.items()))

fig, ax = plots.figure(size=(8, 5))
shown = fractions <= 0.5
for (name, curve), style in zip(curves.items(), ("-", "--", ":")):
    ax.plot(fractions[shown], curve[shown], style, lw=2, label=name)
ax.axhline(accuracy, color="0.5", lw=1, label="no input set aside")
ax.set(xlabel="fraction of test images set aside (most uncertain first)",
       ylabel="accuracy on the remaining images",
       title="Digits: accuracy rises as the most uncertain inputs are set aside")
ax.legend(loc="lower right", fontsize=10)
print(f"figure written to {plots.save(fig, OUT_DIR / '06_digits_set_aside.png')}")

# %% [markdown]
# ### The most uncertain digits
#
# The eight test images with the highest predictive entropy, with their mean
# class probabilities (the true class in orange). Look at the pictures: at 8×8
# pixels many of them could pass for two different digits, and the network spreads
# its probability over exactly those. Mistakes gather here (the count is printed).

# %%
most_uncertain = np.argsort(-test_uncertainty["predictive_entropy"], kind="stable")[:8]
fig, axes = plots.figure(2, 8, size=(17, 5))
for column, i in enumerate(most_uncertain):
    top, bottom = axes[0, column], axes[1, column]
    top.imshow(x_test[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    top.set_xticks([])
    top.set_yticks([])
    top.set_title(f"true {y_test[i]}, said {predicted[i]}\nH = {test_uncertainty['predictive_entropy'][i]:.2f}, "
                  f"MI = {test_uncertainty['mutual_information'][i]:.2f}", fontsize=10)
    colours = ["tab:orange" if c == y_test[i] else "tab:blue" for c in range(10)]
    bottom.bar(np.arange(10), test_probs[i], color=colours)
    bottom.set(ylim=(0, 1), xticks=np.arange(10), xlabel="class")
    bottom.tick_params(labelsize=8)
axes[1, 0].set_ylabel("mean probability")
axes[1, 0].legend(handles=[Patch(color="tab:orange", label="true class"), Patch(color="tab:blue", label="other classes")],
                  loc="upper left", fontsize=8, framealpha=0.9)
fig.suptitle("Digits: the 8 most uncertain test images (H = predictive entropy, MI = mutual information, nats)",
             fontsize=14)
print(f"figure written to {plots.save(fig, OUT_DIR / '06_digits_most_uncertain.png')}")
print(f"{np.sum(predicted[most_uncertain] != y_test[most_uncertain])} of these 8 are misclassified "
      f"({np.sum(predicted != y_test)} of all {len(y_test)} test images are)")
for i in most_uncertain:
    print(f"test image {i:3d}: true {y_test[i]}, predicted {predicted[i]}, "
          f"probabilities " + " ".join(f"{p:.2f}" for p in test_probs[i]))

# %% [markdown]
# ## What to take away
#
# * Classification changes one thing in the derivation: the data term is the
#   categorical NLL (cross-entropy) instead of the L2 loss. KL, reparameterisation
#   and the training loop are the same.
# * The predictive averages the sampled networks' softmax outputs; its entropy is the
#   total uncertainty and the mutual information is the part that comes from
#   disagreement about the weights (epistemic).
# * On the moons, mutual information is high where no data fix the boundary; a
#   mean-field ReLU network stays confident far out where the boundary does not go.
# * On the digits, the numbers above measure how well the probabilities match reality
#   (test log-likelihood, ECE, the reliability diagram), and the accuracy-rejection curve
#   shows that setting aside the most uncertain inputs removes mistakes first.
#
# Classroom exercise 6 asks you to write predictive entropy and mutual information from
# sampled probabilities (`python tutorials/exercises/check.py 6` checks them).
#
# Try it yourself: give the layers a narrower or
# wider prior (`mv.BayesLinear(..., prior_sigma=...)`), or train the same network with
# `mv.Linear` layers by maximum likelihood as in tutorial 05, and compare the ECE and
# the reliability diagram with the Bayesian network's.
