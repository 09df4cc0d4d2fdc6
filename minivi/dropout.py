"""MC dropout as variational inference (Gal & Ghahramani 2016, "Dropout as a Bayesian Approximation").

The lecture's step 3 minimises, over the parameters θ of a family q(w|θ),

    F(θ) = KL[q(w|θ) || p(w)] - E_q[log p(𝒟|w)].

Dropout picks a family that is not Gaussian. For a Linear layer y = x W + b whose
inputs are dropped with probability p (a `Dropout(p)` in front of it):

1. q: each input unit i keeps its row of weights or loses it, z_i ~ Bernoulli(1 - p)
   independently, and the kept rows are scaled by 1/(1 - p) ("inverted" dropout, so
   that E_q[W̃] = W):
       W̃ = diag(z) W / (1 - p),      b̃ = b (the bias is not dropped).
   θ = (W, b). Sampling w ~ q is sampling a mask z: `Dropout.forward` in mode "sample".

2. The data term E_q[log p(𝒟|w)] = Σ_n E_z[log p(y_n | x_n, z)] is estimated, as in
   step 6, by Monte Carlo: one mask per row of a minibatch (each row's term has the
   same expectation whichever draw it uses), scaled by N/B.

3. The KL against the prior p(w) = N(0, prior_sigma² I): q is a mixture of point masses,
   so Gal & Ghahramani (2016, appendix, Proposition 1) approximate each row's
   q(W̃_i) by the two-component mixture (1 - p) N(W_i/(1 - p), s² I) + p N(0, s² I) with s
   small. For many units (K outputs per row) its KL is, up to terms that do not depend
   on θ (they depend on p and s only),
       KL[q(W̃_i) || p] ≈ (1 - p)/(2 prior_sigma²) |W_i/(1 - p)|² = |W_i|² / (2 prior_sigma² (1 - p)).
   The bias is a point mass at b: KL ≈ |b|² / (2 prior_sigma²) + const.
   So the KL becomes WEIGHT DECAY:
       KL[q || p] ≈ Σ_layers [ |W|² / (2 prior_sigma² (1 - p)) + |b|² / (2 prior_sigma²) ]   (`dropout_kl`)

4. Step 8's minibatch loss is then that of Bayes by Backprop with these two pieces:
       F_i = (B/N) dropout_kl(model) + Σ_{n in batch} -log p(y_n | f(x_n; z_n)),
   which is ordinary dropout training with L2 regularisation, read as a negative ELBO.

5. The predictive (step 2): draw S masks, each a whole network (one mask shared by all
   rows: mode "function", what `mv.predict` asks for), and average, exactly as for
   Bayes by Backprop's S weight draws.

Gal's own code writes the weight decay as (1 - p)|W|² / (2 prior_sigma²) on the inverted
layer's weights; the two differ by the factor (1 - p)², 0.99 for p = 0.005. Here the formula
follows the derivation above.
"""
from __future__ import annotations

import numpy as np

from .nn import Linear, Module, Sequential, check_generator, check_positive
from .tensor import Tensor, as_tensor


class Dropout(Module):
    """Multiply each input by z / (1 - p), z ~ Bernoulli(1 - p): a draw from q (see the module docstring).

    mode="sample":   one mask per row (per entry of x): the training estimator;
    mode="function": one mask per sample, shared by every row: S whole networks (`mv.predict`);
                     a row's units are all its entries (features, or channels x height x width);
    mode="mean":     no mask, the identity (E[z / (1 - p)] = 1).
    With n_samples=S the input carries a leading sample axis of size 1 or S and the output
    has S samples. Every mask is drawn from the Generator `rng`.
    """

    def __init__(self, p: float, *, rng: np.random.Generator):
        self.p = check_positive(p, "p", who="Dropout", closed=True, below=1.0,
                                hint="the probability of dropping a unit: p = 0 keeps every unit, p = 1 would drop "
                                     "them all. Typical values: 0.005-0.1")
        self.rng = check_generator(rng, "Dropout")

    def forward(self, x, *, mode, n_samples):
        x = as_tensor(x)
        if mode == "mean" or self.p == 0.0:
            return x
        if x.ndim == 0:
            raise ValueError("Dropout needs inputs with at least one axis (N, features)")
        shared = mode == "function"          # one mask for all rows: every axis but the row axis varies
        rows = 0 if n_samples is None else 1  # where the row axis is (after the sample axis, if any)
        if shared and x.ndim > rows + 1:
            rest = (1,) + x.shape[rows + 1:]
        else:                                 # per entry; or one row of features only, which is its own unit set
            rest = x.shape[rows:]
        shape = rest if n_samples is None else (n_samples,) + rest
        keep = 1.0 - self.p
        mask = (self.rng.random(shape) < keep) / keep
        return x * Tensor(mask)

    def config(self) -> dict:
        return {"p": self.p}

    def __repr__(self):
        return f"Dropout(p={self.p:g})"


def dropout_kl(model: Module, prior_sigma: float = 1.0) -> Tensor:
    """Gal & Ghahramani's approximation of KL[q || p] for a Sequential with Dropout (step 3 of the docstring):

        Σ over Linear layers  |W|² / (2 prior_sigma² (1 - p)) + |b|² / (2 prior_sigma²),

    p being the rate of the Dropout directly in front of that Linear (0 if there is none:
    then the term is the L2 penalty of a MAP network). A scalar Tensor, gradients into W, b.
    Two Dropouts in a row keep a unit with probability (1 - p1)(1 - p2): one Dropout of rate
    p = 1 - (1 - p1)(1 - p2). A Linear used twice is one W (its term counts once) and needs the
    same p in front of each use. Refused: a Dropout hidden inside a module other than Sequential
    (its rate could not be matched to its Linear).
    """
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="dropout_kl", squared=True,
                                 hint="the standard deviation of the Gaussian prior over every weight")
    if not isinstance(model, Module):
        raise TypeError(f"dropout_kl needs a minivi Module (a Sequential of Dropout and Linear layers), "
                        f"got {type(model).__name__}")
    layers = _flat_layers(model)
    total, p, rate_of = Tensor(0.0), 0.0, {}
    for before, layer in zip([None] + layers[:-1], layers):
        if isinstance(layer, Dropout):
            p = 1.0 - (1.0 - p) * (1.0 - layer.p)       # masks in a row multiply: the keep probabilities do
        elif isinstance(layer, Linear):
            if not isinstance(before, (Dropout, type(None))) and p > 0:
                raise ValueError("dropout_kl: a Dropout must sit directly in front of the Linear layer whose "
                                 f"inputs it drops; got {before!r} between them. Move the Dropout next to the "
                                 "Linear")
            if id(layer) in rate_of and rate_of[id(layer)] != p:
                raise ValueError(f"dropout_kl: {layer!r} is used twice, with dropout rates {rate_of[id(layer)]:g} "
                                 f"and {p:g} in front of it, so its q has no single rate; use one rate, or two layers")
            if id(layer) not in rate_of:                  # one W, one KL term, however often it is used
                rate_of[id(layer)] = p
                scale = 1.0 / (2 * prior_sigma ** 2)
                total = total + (layer.weight * layer.weight).sum() * (scale / (1 - p)) \
                    + (layer.bias * layer.bias).sum() * scale
            p = 0.0
    return total


def _flat_layers(model: Module) -> list:
    if isinstance(model, Sequential):
        return [inner for layer in model.layers for inner in _flat_layers(layer)]
    if isinstance(model, (Linear, Dropout)):
        return [model]
    if any(isinstance(inner, Dropout) for inner in model.modules()):
        raise TypeError(f"dropout_kl: {type(model).__name__} holds a Dropout, whose rate it cannot match to the "
                        "Linear after it; build the network as a Sequential of Dropout, Linear, ReLU and Tanh")
    if not model.parameters():
        return [model]
    raise TypeError(f"dropout_kl knows Sequential, Linear, Dropout and parameter-free layers (ReLU, Tanh); "
                    f"got {type(model).__name__} with parameters, whose KL it cannot approximate")
