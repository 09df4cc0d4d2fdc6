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
# We compare the networks on tutorial 06's split (the same 1348 training and 449 test
# images):
#
# * the **Bayesian MLP** of tutorial 06 (64-64-10, `BayesLinear`), trained exactly as there;
# * a **deterministic CNN** (`Conv2d`), trained by maximum likelihood;
# * the **Bayesian CNN**: the same kind of network with Gaussian q over every weight, trained
#   twice, each time with the settings cross-validation chose: on the ELBO of the lecture, and on
#   a tempered likelihood that is not the ELBO (explained below).
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
DECAY_EPOCHS = 1 if QUICK else 20        # more epochs at a 10x lower learning rate, where the settings ask for them
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
# then one linear layer; $c_1$ and $c_2$ channels:
#
# $$\begin{aligned}
#   1\times8\times8 &\xrightarrow{\text{conv } 3\times3,\ c_1} c_1\times8\times8 \xrightarrow{\text{pool}} c_1\times4\times4 \\
#   &\xrightarrow{\text{conv } 3\times3,\ c_2} c_2\times4\times4 \xrightarrow{\text{pool}} c_2\times2\times2 \\
#   &\xrightarrow{\text{flatten, linear}} 10 .
# \end{aligned}$$
#
# The same function builds the deterministic CNN (`Conv2d`, `Linear`; 8 and 16 channels) and
# the Bayesian ones. For the Bayesian ones we use the estimators of tutorial 07 that lower the
# gradient's variance: Flipout (`FlipoutConv2d`, `FlipoutLinear`), one sampled kernel per
# image, decorrelated by random signs.

# %%
def cnn(conv, linear, widths=(8, 16), **options):
    """conv 3x3 (c1) - ReLU - maxpool 2 - conv 3x3 (c2) - ReLU - maxpool 2 - flatten - linear (10)."""
    c1, c2 = widths
    return mv.Sequential(conv(1, c1, 3, padding=1, **options), mv.ReLU(), mv.MaxPool2d(2),
                         conv(c1, c2, 3, padding=1, **options), mv.ReLU(), mv.MaxPool2d(2), mv.Flatten(),
                         linear(c2 * 2 * 2, 10, **options))


def bayes_cnn(settings, rng):
    """The CNN of FlipoutConv2d and FlipoutLinear layers with the prior N(0, prior_sigma²), every sigma starting
    at init_sigma."""
    return cnn(mv.FlipoutConv2d, mv.FlipoutLinear, settings["widths"], prior_sigma=settings["prior_sigma"],
               init_sigma=settings["init_sigma"], rng=rng)


def weighted_nll(likelihood_weight):
    """The data term lambda · (-log p(y | x, w)) of one minibatch; lambda = 1 is the ELBO's (step 6)."""
    if likelihood_weight == 1.0:
        return mv.categorical_nll
    return lambda logits, y: mv.categorical_nll(logits, y) * likelihood_weight


def fit_bayes_cnn(x, y, settings, rng):
    """Train a Bayesian CNN with the given settings on images x, labels y; return it.

    Adam at lr 1e-2 for CNN_EPOCHS epochs, then, if settings["decay_epochs"], the same Adam (its running
    moments kept) at lr 1e-3 for that many more: the learning rate falls, the objective stays the same."""
    model = bayes_cnn(settings, rng)
    optimizer = mv.optim.Adam(model.parameters(), lr=1e-2)
    options = dict(batch_size=settings["batch_size"], rng=rng, optimizer=optimizer,
                   kl_schedule=settings["kl_schedule"], verbose=False)
    mv.fit(model, x, y, weighted_nll(settings["likelihood_weight"]), epochs=CNN_EPOCHS, **options)
    print(f"  mean sigma of each layer's weights after {CNN_EPOCHS} epochs: {mean_sigmas(model)}")
    if settings["decay_epochs"]:
        optimizer.lr = 1e-3
        mv.fit(model, x, y, weighted_nll(settings["likelihood_weight"]), epochs=DECAY_EPOCHS, **options)
        print(f"  mean sigma of each layer's weights after {CNN_EPOCHS + DECAY_EPOCHS} epochs: {mean_sigmas(model)}")
    return model


def mean_sigmas(model):
    """The mean sigma = softplus(rho) of each Bayesian layer's weights, e.g. "0.194, 0.393, 0.349"."""
    return ", ".join(f"{np.logaddexp(0.0, rho.data).mean():.3f}"
                     for name, rho in model.named_parameters() if name.endswith("weight_rho"))


cnn_rng = np.random.default_rng(10)
deterministic = cnn(mv.Conv2d, mv.Linear, rng=cnn_rng)
start = time.perf_counter()
mv.fit(deterministic, as_images(x_train), y_train, mv.categorical_nll, epochs=CNN_EPOCHS, batch_size=64,
       rng=cnn_rng, lr=1e-2, verbose=False)
print(f"deterministic CNN: {CNN_EPOCHS} epochs in {time.perf_counter() - start:.1f} s, "
      f"{sum(p.data.size for p in deterministic.parameters())} weights")

# %% [markdown]
# ## Choosing the settings on the training images, not on the test images
#
# Trained on a small data set, mean-field Bayes by Backprop tends to be
# **under**confident (tutorial 06): the KL pulls every $\sigma$ towards the prior's, the
# sampled networks disagree and their averaged softmax is flat. What can act on that pull?
#
# * **Settings that keep the objective the ELBO.** The prior's scale: $\mathcal N(0, 1)$ penalises
#   $\mu^2/2$, a wider prior lets the means grow. How the KL is spread over an epoch's
#   minibatches (`kl_schedule`, `minivi/elbo.py: kl_weights`): "uniform" gives each of the $M$
#   minibatches $1/M$ of it, "blundell" gives minibatch $i$ the share $2^{-i}/(1 - 2^{-M})$
#   (Blundell et al. 2015, §3.4); both sum to one KL per epoch. Also the starting $\sigma$,
#   the number of epochs, a learning rate that falls for the last epochs, wider convolutions,
#   the gradient estimator (weight sampling, Flipout, local reparameterisation), several
#   sampled networks per step, a KL warm-up, and the number of sampled networks used to predict.
# * **A tempered likelihood, which changes the objective.** Count every image $\lambda$ times:
#
#   $$\mathcal L_\lambda(q) = \lambda\, \mathbb E_q[\log p(\mathcal{D}\mid w)] - \mathrm{KL}[q\,\|\,p]
#     = \lambda \Big(\mathbb E_q[\log p(\mathcal{D}\mid w)] - \tfrac{1}{\lambda}\,\mathrm{KL}[q\,\|\,p]\Big).$$
#
#   This is the ELBO of a *different model*, whose likelihood is $p(\mathcal{D}\mid w)^\lambda$, so $q$
#   approaches the tempered posterior $\propto p(\mathcal{D}\mid w)^\lambda\, p(w)$, not the posterior of
#   the lecture (Wenzel et al. 2020, "How good is the Bayes posterior in deep neural networks
#   really?", count a down-weighted KL among the "cold posteriors" used in practice, find that
#   cold posteriors predict better than the Bayes posterior, and ask why).
#   Equivalently the KL is weighted by $1/\lambda$; the factor $\lambda$ in front barely changes
#   the steps of Adam, which divides every gradient by its own running scale (only Adam's tiny
#   $\epsilon$ sees the factor). In the code it is one line, `weighted_nll`
#   above: the data term times $\lambda$. With $\lambda = 1$ it is the ELBO again.
#
# The settings were compared by 3-fold cross-validation on the **training** images:
# cut them into three folds, train on two, predict the third, and score the three predictions
# together (all 1348 training images, each predicted by a model that did not see it).
# `benchmarks/bayesian_cnn_settings.py` does it for every setting listed above, with the
# network and the training loop of this page (its table:
# `benchmarks/results/bayesian_cnn_settings.txt`; it takes tens of minutes, so this page does
# not repeat it). Of the ELBO settings and of the tempered ones it kept the one with the lowest
# cross-validated NLL:
#
# * **ELBO**: the prior $\mathcal N(0, 3^2)$, the "blundell" KL over batches of 16, 16 and 32
#   channels, every $\sigma$ starting at 0.001 (the library's default is 0.05), and 40 epochs at
#   lr $10^{-2}$ followed by 20 at $10^{-3}$;
# * **tempered**: the library's default prior $\mathcal N(0, 1)$, uniform KL and starting $\sigma$, the
#   deterministic CNN's batches of 64, 8 and 16 channels and 40 epochs at lr $10^{-2}$, and the
#   likelihood counted 10 times.
#
# The test images played no part. Both are trained on all the training images, and each is
# measured on the test images once.

# %%
CHOSEN = {"ELBO": dict(prior_sigma=3.0, kl_schedule="blundell", batch_size=16, widths=(16, 32), init_sigma=0.001,
                       decay_epochs=20, likelihood_weight=1.0),
          "tempered": dict(prior_sigma=1.0, kl_schedule="uniform", batch_size=64, widths=(8, 16), init_sigma=0.05,
                           decay_epochs=0, likelihood_weight=10.0)}

bayesian = {}
for kind, settings in CHOSEN.items():
    print(f"Bayesian CNN ({kind}):")
    start = time.perf_counter()
    bayesian[kind] = fit_bayes_cnn(as_images(x_train), y_train, settings, cnn_rng)
    print(f"  {CNN_EPOCHS + DECAY_EPOCHS * bool(settings['decay_epochs'])} epochs in "
          f"{time.perf_counter() - start:.1f} s, "
          f"{sum(p.data.size for p in bayesian[kind].parameters()) // 2} weights, each with a mu and a rho")

# %% [markdown]
# ## Accuracy, NLL and calibration on the test images
#
# Accuracy, the NLL of the predictive per test image $-\frac1N\sum_n \log \bar p(y_n\mid x_n, \mathcal{D})$,
# and the expected calibration error over 10 confidence bins, as in tutorial 06. The Bayesian
# networks predict with $S$ sampled networks; the deterministic CNN is one network.

# %%
models = {"Bayesian MLP": (mlp, lambda rows: rows), "deterministic CNN": (deterministic, as_images),
          "Bayesian CNN, ELBO": (bayesian["ELBO"], as_images),
          "Bayesian CNN, tempered": (bayesian["tempered"], as_images)}


def predictive(name, rows):
    """Sampled logits (S, N, 10) of a network on pixel rows; the deterministic CNN is one network."""
    model, layout = models[name]
    if name == "deterministic CNN":
        return mv.predict(model, layout(rows), mode="mean")
    return mv.predict(model, layout(rows), n_samples=N_PREDICT)


test_logits = {name: predictive(name, x_test) for name in models}
test_uncertainty = {name: mv.classification_uncertainty(logits) for name, logits in test_logits.items()}
test_scores = {name: scores(logits, y_test) for name, logits in test_logits.items()}
print(f"{'':22s}  accuracy     NLL     ECE  mean confidence")
for name, s in test_scores.items():
    print(f"{name:22s}  {s['accuracy']:8.4f}  {s['NLL']:6.4f}  {s['ECE']:6.4f}  "
          f"{test_uncertainty[name]['probs'].max(-1).mean():15.4f}")
for name in ("Bayesian CNN, ELBO", "Bayesian CNN, tempered"):
    met = test_scores[name]["accuracy"] >= 0.98 and test_scores[name]["ECE"] <= 0.02
    print(f"the goal, accuracy >= 98% and ECE <= 0.02, for the {name}: {'reached' if met else 'NOT reached'}")


def bootstrap_interval(probs, y, n_resamples=1000, seed=10):
    """95% bootstrap intervals of accuracy and ECE: the test images drawn again with replacement.

    Its own generator, so reading the intervals changes nothing else in the run."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_resamples):
        i = rng.integers(0, len(y), len(y))
        draws.append((np.mean(probs[i].argmax(-1) == y[i]), mv.expected_calibration_error(probs[i], y[i])))
    return np.percentile(np.array(draws), [2.5, 97.5], axis=0).T     # [[acc low, acc high], [ECE low, ECE high]]


print(f"95% bootstrap intervals over the {len(y_test)} test images (1000 resamples):")
for name in models:
    (acc_low, acc_high), (ece_low, ece_high) = bootstrap_interval(test_uncertainty[name]["probs"], y_test)
    print(f"{name:22s}  accuracy [{acc_low:.4f}, {acc_high:.4f}]  ECE [{ece_low:.4f}, {ece_high:.4f}]")

# %% [markdown]
# Read the table row by row. The goal this tutorial was written towards, at least 98% accuracy
# and an ECE of at most 0.02 for the Bayesian CNN, is **not reached** by either Bayesian CNN
# (the two lines above say so whenever the run is repeated), though the ELBO one misses it narrowly:
#
# * The **ELBO** Bayesian CNN has the highest accuracy of the four, 0.9866, above the
#   deterministic CNN's 0.9822 (which has 8 and 16 channels, not 16 and 32, so this does not
#   compare Bayes with maximum likelihood on the same network) and the MLP's 0.9666, and the
#   lowest NLL of the three Bayesian networks (0.0725 against the MLP's 0.1350). Its ECE, 0.0219, is just above 0.02: it is
#   still a little underconfident, its mean confidence (0.9647) below its accuracy. On the
#   training folds the same setting had an ECE below 0.02 (`benchmarks/results/bayesian_cnn_settings.txt`);
#   on these 449 test images it does not, and we do not tune on them.
# * How much do 449 images tell? Draw the test images again with replacement, 1000 times, and
#   score each draw (the bootstrap lines): the ELBO CNN's ECE falls between 0.0172 and 0.0341 and
#   its accuracy between 0.9755 and 0.9955 in 95% of them. Both intervals hold the goal's line, so
#   this test split cannot say on which side of 0.02 the ECE lies; and the accuracy intervals of
#   the ELBO and the deterministic CNN overlap, so neither is shown more accurate than the other.
# * The training seed can. Trained again from five other seeds on the same images
#   (`benchmarks/bayesian_cnn_seeds.py`, its table in `benchmarks/results/bayesian_cnn_seeds.txt`),
#   the same ELBO setting's test ECE was above 0.02 every time: the miss is the setting's, not
#   this run's bad luck.
# * The **tempered** Bayesian CNN meets the calibration half of the goal: ECE 0.0126, its mean
#   confidence (0.9664) close to, a little above, its accuracy (0.9644). But its accuracy is
#   below 98% and below the MLP's. And it is not the posterior of the lecture: it is the ELBO of
#   a likelihood counted 10 times.
# * The **deterministic** CNN has the lowest NLL (0.0528) and ECE (0.0050) of the four.
#
# ### Has the ELBO's q converged?
#
# The lines printed during training give the mean $\sigma$ of each layer's weights. The ELBO
# CNN's $\sigma$'s started at 0.001 and were 0.153, 0.315 and 0.286 after 40 epochs, 0.168, 0.393
# and 0.351 after 60: still growing when training stopped. So the q this page scores is not the
# ELBO's optimum: stopping early leaves its $\sigma$'s smaller, and the network more confident,
# than longer training would. The cross-validation stopped its models earlier still, for it counted
# training in epochs, and on two thirds of the images 60 epochs are two thirds of the Adam steps.
# `benchmarks/bayesian_cnn_seeds.py` measures both sides: cross-validation's models end with
# smaller $\sigma$'s and are better calibrated on these same test images than networks trained
# on all the images, and such a network trained on for twice as long has larger $\sigma$'s and a
# larger ECE. A small starting $\sigma$ and a fixed number of steps act together as a
# regulariser the ELBO does not contain, and this setting's calibration depends on when
# training stops.

# %% [markdown]
# ### Reliability diagrams
#
# For each confidence bin, the fraction of test images classified correctly against the
# diagonal a calibrated model follows. Bars above the diagonal: underconfident; below:
# overconfident.

# %%
fig, axes = plots.figure(2, 2, size=(13, 11))
for ax, (name, uncertainty) in zip(axes.ravel(), test_uncertainty.items()):
    centres, bin_confidence, bin_accuracy, counts = mv.reliability_curve(uncertainty["probs"], y_test, n_bins=10)
    filled = counts > 0
    print(f"{name:22s} images per confidence bin 0.0-0.1 ... 0.9-1.0: {' '.join(str(n) for n in counts)}; "
          f"bins above the diagonal: {np.sum(bin_accuracy[filled] > bin_confidence[filled])} of {np.sum(filled)}")
    plots.reliability_diagram(ax, centres, bin_confidence, bin_accuracy, counts)
    ax.set(xlabel="confidence: largest predictive probability", title=f"{name}: ECE {test_scores[name]['ECE']:.3f}")
axes[0, 0].legend(loc="upper left", fontsize=9)
fig.suptitle("Digits, test images: reliability diagrams (numbers = images per bin)", fontsize=14)
print(f"figure written to {plots.save(fig, OUT_DIR / '10_reliability.png')}")

# %% [markdown]
# The diagrams show it. The Bayesian MLP's points lie above the diagonal in 6 of its 8 bins
# (right more often than it says), the ELBO Bayesian CNN's in all 6 of its bins, the tempered
# one's in 3 of 6. All three CNNs put most test images in the top bin (409, 403 and the
# deterministic CNN's 432), where they are as sure as they are right.

# %% [markdown]
# ## Setting the most uncertain 10% aside
#
# Sort the test images by predictive entropy, set aside the 10% with the highest and
# measure the error rate on the other 90%. A network whose doubt points at its mistakes
# removes many of them this way.

# %%
KEEP = 0.9
n_kept = int(round(KEEP * len(y_test)))
print(f"{'':22s}  error, all images  error, most certain {KEEP:.0%} ({n_kept} images)  mistakes set aside")
kept_error = {}
for name, uncertainty in test_uncertainty.items():
    wrong = uncertainty["probs"].argmax(-1) != y_test
    kept = np.argsort(uncertainty["predictive_entropy"], kind="stable")[:n_kept]
    kept_error[name] = wrong[kept].mean()
    print(f"{name:22s}  {wrong.mean():17.4f}  {kept_error[name]:38.4f}  {wrong.sum() - wrong[kept].sum():3d} of "
          f"{wrong.sum()}")

# %% [markdown]
# All four networks set most of their mistakes aside this way (13 of 15, 6 of 8, 5 of 6 and
# 14 of 16). On the remaining 90% the MLP, the deterministic CNN and the tempered CNN each make
# the same error, 0.0050 (two mistakes in 404 images); the ELBO Bayesian CNN makes 0.0025,
# one mistake. So the goal's second half, a lower error than the MLP's once the most uncertain 10%
# are set aside, is met by the ELBO Bayesian CNN, by one image: with so few mistakes left, this
# test set cannot separate the networks by more. At full coverage its error is well below the
# MLP's (0.0134 against 0.0334).

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
entropy = {}
for name in models:
    entropy[name] = {"test digits": test_uncertainty[name]["predictive_entropy"]}
    for kind, rows in unseen_inputs.items():
        entropy[name][kind] = mv.classification_uncertainty(predictive(name, rows))["predictive_entropy"]
print(f"mean predictive entropy (nats; at most log 10 = {np.log(10):.2f})")
print(f"{'':22s}" + "".join(f"{kind:>18s}" for kind in entropy["Bayesian MLP"]))
for name, by_kind in entropy.items():
    print(f"{name:22s}" + "".join(f"{h.mean():18.4f}" for h in by_kind.values()))
print("AUROC of the entropy, unseen against test digits")
for name, by_kind in entropy.items():
    print(f"{name:24s}" + "".join(f"{kind}: {auroc(h, by_kind['test digits']):.3f}  "
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
kinds = list(entropy["Bayesian MLP"])
width = 0.8 / len(entropy)
for k, (name, by_kind) in enumerate(entropy.items()):
    ax.bar(np.arange(len(kinds)) + (k - (len(entropy) - 1) / 2) * width, [h.mean() for h in by_kind.values()],
           width=width, label=name)
ax.axhline(np.log(10), color="0.4", ls="--", lw=1, label="log 10: uniform over the classes")
ax.set(xticks=np.arange(len(kinds)), xticklabels=kinds, ylabel="mean predictive entropy (nats)",
       title="Mean predictive entropy: test digits against inputs never seen in training")
ax.legend(loc="upper left", fontsize=9)
fig.suptitle("Digits: is the network less sure of what it has never seen? (left: two examples of each input)",
             fontsize=14)
print(f"figure written to {plots.save(fig, OUT_DIR / '10_unseen_entropy.png')}")

# %% [markdown]
# Every network is less sure of every kind of unseen input than of the test digits: each
# row of the mean entropies grows from the first column, and every AUROC is above 0.7.
# The Bayesian networks' entropies are larger on noise (1.8541, 1.4810 and 0.9933 nats
# against the deterministic CNN's 0.6477), but so are they on the test digits, and what tells
# unseen from seen is the ranking, which the AUROC measures: there no network wins everywhere.
# The Bayesian MLP separates shifted digits and noise best (0.996, 0.998); on rotated digits the
# ELBO Bayesian CNN does (0.945), and the tempered one does worst (0.742). The tempered CNN's
# entropies are below the ELBO CNN's everywhere (the two now differ in more than the tempering:
# widths, starting $\sigma$, prior, epochs).
#
# ## What to take away
#
# * A Bayesian convolution is the derivation of steps 4-8 on a kernel: the same q, the same
#   KL, the same loop; Flipout keeps the gradient's variance low (tutorial 07).
# * Settings were chosen by cross-validation on the training images; the test images are used
#   once, for the table above.
# * Trained on the ELBO, with settings chosen on the training folds (a wider prior, wider
#   convolutions, small starting $\sigma$, a learning rate that falls for the last 20 epochs),
#   the Bayesian CNN is the most accurate network here and, set aside its most uncertain 10%,
#   makes the fewest mistakes; but it stays a little underconfident, and its ECE misses the goal's
#   0.02. Its q has not converged (its $\sigma$'s still grow), so that calibration depends on when
#   training stops. Counting the likelihood 10 times (a tempered posterior, not the lecture's) calibrates
#   a smaller CNN, at a lower accuracy. The goal of 98% accuracy with an ECE of at most 0.02 is
#   not reached by either.
