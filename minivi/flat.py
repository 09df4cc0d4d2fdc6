"""The flat-weight view of a deterministic network: all its weights as one vector w.

Bayes' rule (step 1 of the derivation) is about ONE vector of weights w:

    log p(w|𝒟) = log p(𝒟|w) + log p(w) - log p(𝒟).

A network keeps its weights in layers (each Linear holds a matrix W and a
vector b). This module lays them end to end as one vector w of length D, the
way Hamiltonian Monte Carlo (minivi/mcmc.py) and a full-covariance q see them:

    parameters_to_vector(model)        -> ndarray (D,)     the model's weights, in `model.parameters()` order,
                                                           each array flattened row by row (C order)
    vector_to_parameters(vec, model)                       write them back (the inverse)
    functional_forward(model, w, x)    -> Tensor           the network's output with its weights read from w,
                                                           gradients flowing into w (not into the layers)
    log_likelihood(model, x, y, ...)   -> callable          w -> log p(𝒟|w), a scalar Tensor (for mv.fit_full_cov)
    log_joint(model, x, y, ...)        -> callable          w -> log p(𝒟|w) + log p(w), a scalar Tensor (for HMC)

The log joint is log p(w|𝒟) up to the constant log p(𝒟): all that HMC needs.
VI needs the likelihood alone, as its q brings the prior in the KL term.

Decisions (so that nothing is silently wrong):
  - functional_forward and log_joint accept Sequential (nested too), Linear, ReLU
    and Tanh. A Bayesian layer (BayesLinear, anything with `kl()` or a sampling
    mode) or any other module is refused with an error: its forward is not a
    function of the weights alone. So is a subclass of one of the four that
    overrides forward (a residual block, a scaled layer): the view computes
    each layer's own forward, and would silently compute a different network.
  - A layer used twice is one set of weights: its entries appear once in w
    (as in `model.parameters()`), and both uses read them.
  - A parameter with requires_grad=False (frozen) is not in w; the forward
    uses its value as it is.
  - Batches of weight vectors: w of shape (C, D), one vector per chain, gives
    outputs (C, N, out) and log joints of shape (C,), all in one pass.
"""
from __future__ import annotations

import numpy as np

from .gaussian import LOG_2PI
from .nn import Linear, Module, ReLU, Sequential, Tanh, check_positive
from .tensor import Tensor, as_float_array, as_tensor, make_op

LIKELIHOODS = ("gaussian", "categorical")


# ---------------------------------------------------------------- vector <-> parameters


def _check_module(model, who: str) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{who} needs a minivi Module (e.g. mv.Sequential(mv.Linear(1, 50, rng=rng), mv.Tanh(), "
                        f"mv.Linear(50, 1, rng=rng))), got {type(model).__name__}")


def _slices(model: Module) -> dict:
    """id(parameter) -> (its slice of w, the parameter), in `model.parameters()` order."""
    slices, start = {}, 0
    for p in model.parameters():
        slices[id(p)] = (slice(start, start + p.size), p)
        start += p.size
    return slices


def n_weights(model: Module) -> int:
    """D, the length of the flat weight vector: the number of entries of all the model's parameters."""
    _check_module(model, "n_weights")
    return sum(p.size for p in model.parameters())


def parameters_to_vector(model: Module) -> np.ndarray:
    """The model's parameters as one float64 vector (D,): `model.parameters()` in order, each raveled.

    For a Sequential of Linear layers this is [W_1 (row by row), b_1, W_2, b_2, ...].
    Works for any Module (for a Bayesian one, the mu's and rho's); a copy, so
    changing it does not change the model.
    """
    _check_module(model, "parameters_to_vector")
    params = model.parameters()
    if not params:
        return np.zeros(0)
    return np.concatenate([p.data.ravel() for p in params])


def vector_to_parameters(vec, model: Module) -> None:
    """Write the flat vector back into the model's parameters (the inverse of parameters_to_vector).

    vec: an array or Tensor of shape (D,), finite. Each parameter gets a new
    array (assigned through `p.data = ...`), so earlier graphs are not changed.
    """
    _check_module(model, "vector_to_parameters")
    vec = vec.data if isinstance(vec, Tensor) else as_float_array(vec, "vector_to_parameters: vec")
    d = n_weights(model)
    if vec.shape != (d,):
        raise ValueError(f"vector_to_parameters: the model has D = {d} weights, so vec must have shape ({d},), "
                         f"got {vec.shape}; for a batch of vectors write one row at a time")
    if not np.all(np.isfinite(vec)):
        raise ValueError("vector_to_parameters: vec contains NaN or inf; refusing to write them into the model")
    for where, p in _slices(model).values():
        p.data = vec[where].reshape(p.shape).copy()


# ---------------------------------------------------------------- the forward as a function of w


def _deterministic_layers(model: Module) -> list:
    """The model as a flat list of Linear/ReLU/Tanh layers, or an error naming the module that is not one.

    A module is recognised by what it computes, not only by its class: a subclass of
    Sequential or Linear that overrides forward (a residual block x + f(x), a scaled
    layer) is a different function of the weights, which the flat view would not
    compute, so it is refused like any unknown module.
    """
    known = next((base for base in (Sequential, Linear, ReLU, Tanh) if isinstance(model, base)), None)
    name = type(model).__name__
    if known is not None and not _computes_as(model, known):
        raise TypeError(f"the flat-weight view computes {known.__name__} with {known.__name__}.forward, but {name} "
                        f"(a subclass of {known.__name__}) overrides forward (or __call__), so the view would "
                        "compute a different network. Build the network from mv.Sequential, mv.Linear, mv.ReLU "
                        "and mv.Tanh as they are, or write log_prob(w) yourself by slicing the weight vector w")
    if known is Sequential:
        return [layer for inner in model.layers for layer in _deterministic_layers(inner)]
    if known is not None:
        return [model]
    if callable(getattr(model, "kl", None)) or getattr(model, "uses_mode", False):
        raise TypeError(f"the flat-weight view needs a deterministic network, but {name} is a variational "
                        "(Bayesian) layer: its forward samples weights, so it is not a function of w. Build the "
                        "same network from mv.Linear layers (same sizes) for HMC and the flat view")
    raise TypeError(f"the flat-weight view knows Sequential, Linear, ReLU and Tanh; got {name}. Rebuild the "
                    "network from those, or write its forward from the weight vector yourself")


def _computes_as(model: Module, base: type) -> bool:
    """Does model run base's own forward (no override of forward, __call__ or _run on the way)?"""
    cls = type(model)
    return cls.forward is base.forward and cls.__call__ is Module.__call__ and cls._run is Module._run


def _weight_view(w: Tensor, slices: dict, p: Tensor, shape: tuple) -> Tensor:
    """Parameter p as read from w: w[..., slice] reshaped to p's shape (with the chain axis in front)."""
    if id(p) not in slices:      # a frozen parameter (requires_grad=False): used as it is
        return p
    where = slices[id(p)][0]
    if w.ndim == 1:
        return w[where].reshape(p.shape)
    return w[:, where].reshape((w.shape[0],) + shape)


def _checked_w(w, d: int) -> Tensor:
    w = as_tensor(w)
    if w.ndim not in (1, 2) or w.shape[-1] != d:
        raise ValueError(f"the model has D = {d} weights, so w must have shape ({d},), or (C, {d}) for C "
                         f"weight vectors at once; got shape {w.shape}")
    return w


def functional_forward(model: Module, w, x) -> Tensor:
    """The network's output f(x; w) with every weight read from the flat vector w.

    w: a Tensor (D,) (gradients flow into it), or (C, D) for C weight vectors
       at once; an array is taken as a constant.
    x: inputs (N, in_features).
    Returns (N, out), or (C, N, out) for a batch of weight vectors. Each Linear
    computes x @ W + b exactly as `Linear.forward`, with W and b sliced from w;
    the layers' own parameters are neither used nor changed.
    """
    _check_module(model, "functional_forward")
    layers, slices = _deterministic_layers(model), _slices(model)
    return _forward(layers, slices, _checked_w(w, n_weights(model)), x)


def _forward(layers: list, slices: dict, w: Tensor, x) -> Tensor:
    """functional_forward once the layers and the slices of w are known (log_joint computes them once)."""
    h = as_tensor(x)
    if h.ndim != 2:
        raise ValueError(f"functional_forward: x must have shape (N, in_features), got {h.shape}; "
                         "for a single feature pass x.reshape(-1, 1)")
    return _run_layers(layers, slices, w, h)


def _run_layers(layers: list, slices: dict, w: Tensor, h: Tensor) -> Tensor:
    """The layers applied to h (..., in_features), each Linear's W and b read from w by `_weight_view`.

    h @ W + b broadcasts as NumPy does: h (N, in) with w (D,) gives (N, out), with w (C, D)
    (C, N, out); h (N, 1, in) with w (N, D) gives (N, 1, out), row n meeting only w_n
    (`laplace.jacobian`).
    """
    for layer in layers:
        if isinstance(layer, Linear):
            if h.shape[-1] != layer.in_features:
                raise ValueError(f"{layer!r} expects inputs whose last axis has size {layer.in_features}, "
                                 f"got shape {h.shape}")
            weight = _weight_view(w, slices, layer.weight, (layer.in_features, layer.out_features))
            bias = _weight_view(w, slices, layer.bias, (1, layer.out_features))
            h = h @ weight + bias
        else:
            h = layer(h)
    return h


# ---------------------------------------------------------------- log p(𝒟|w) + log p(w)


def _prior_scales(model: Module, prior_sigma: float, fan_in_prior: bool) -> np.ndarray:
    """The prior standard deviation s_i of every entry of w, shape (D,).

    fan_in_prior=False: s_i = prior_sigma for every weight and bias.
    fan_in_prior=True:  s_i² = prior_sigma² / in_features for the weights W of a
    Linear layer (a wide layer's output variance then does not grow with its
    width, Neal 1996), and s_i = prior_sigma for the biases.
    """
    scales = np.full(n_weights(model), prior_sigma)
    if fan_in_prior:
        slices = _slices(model)
        for layer in _deterministic_layers(model):
            if isinstance(layer, Linear) and id(layer.weight) in slices:
                scales[slices[id(layer.weight)][0]] = prior_sigma / np.sqrt(layer.in_features)
    return scales


def log_normal_prior(w: Tensor, scales: np.ndarray) -> Tensor:
    """log p(w) = Σ_i [ -w_i² / (2 s_i²) - log s_i - log(2π)/2 ], one engine op with its gradient written out.

    d log p / dw_i = -w_i / s_i². For w of shape (C, D) the sum runs over the
    last axis: one value per chain, shape (C,).
    """
    value = np.sum(-w.data ** 2 / (2 * scales ** 2) - np.log(scales) - 0.5 * LOG_2PI, axis=-1)
    grad = -w.data / scales ** 2
    return make_op("log_normal_prior", value, (w,), (lambda g: np.expand_dims(g, -1) * grad,))


def _checked_targets(y, likelihood: str, n: int, n_out: int, who: str) -> np.ndarray:
    """Gaussian: y of shape (N, out), or (N,) when out = 1 (read as a column). Categorical: labels (N,) or (N, 1)."""
    y = as_float_array(y.data if isinstance(y, Tensor) else y, f"{who}: y")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{who}: y contains NaN or inf; clean or drop those rows first")
    if likelihood == "gaussian":
        if y.shape == (n,) and n_out == 1:
            return y.reshape(n, 1)
        if y.shape != (n, n_out):
            raise ValueError(f"{who}: the network gives outputs of shape ({n}, {n_out}), so y must have that "
                             f"shape" + (f" (or ({n},))" if n_out == 1 else "") + f"; got {y.shape}")
        return y
    if y.shape == (n, 1):
        y = y.ravel()
    if y.shape != (n,):
        hint = "; one-hot labels? pass y.argmax(axis=1)" if y.shape == (n, n_out) else ""
        raise ValueError(f"{who}: categorical labels must have shape ({n},) (or ({n}, 1)), got {y.shape}{hint}")
    if np.any(y != np.round(y)) or y.min(initial=0) < 0 or y.max(initial=0) >= n_out:
        raise ValueError(f"{who}: categorical labels must be whole numbers 0..{n_out - 1} (the network has "
                         f"{n_out} outputs), got values from {y.min()} to {y.max()}")
    return np.eye(n_out)[y.astype(np.int64)]


def log_likelihood(model: Module, x, y, *, likelihood: str = "gaussian", noise_sigma=None):
    """The log-likelihood as a function of the flat weights: w -> log p(𝒟|w), every constant kept.

      "gaussian":    log p(𝒟|w) = Σ_n Σ_k [ -(y_nk - f_nk)² / (2 noise_sigma²) - log noise_sigma - log(2π)/2 ]
                     (step 6; noise_sigma is required). y: (N, out), or (N,) for a one-output network.
      "categorical": log p(𝒟|w) = Σ_n log softmax(f_n)[y_n]; y: integer labels (N,) or (N, 1).

    This is what `mv.fit_full_cov` takes: its q carries the prior in the KL, so
    the data term must not hold it again (pass `log_joint` there and the prior
    would be counted twice; fit_full_cov refuses it). Returns log_lik(w): w a
    Tensor (D,) -> a scalar Tensor, or (C, D) -> (C,); it carries
    `vectorized = True` and `includes_prior = False`.
    """
    _check_module(model, "log_likelihood")
    layers, slices, d, x, data_term = _data_term(model, x, y, likelihood, noise_sigma, "log_likelihood")

    def log_lik(w) -> Tensor:
        w = _checked_w(w, d)
        return data_term(_forward(layers, slices, w, x))

    log_lik.vectorized, log_lik.includes_prior = True, False
    return log_lik


def _data_term(model: Module, x, y, likelihood: str, noise_sigma, who: str) -> tuple:
    """(layers, slices of w, D, x as an array, f -> log p(𝒟|f)) after checking every argument once."""
    layers = _deterministic_layers(model)
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"{who}: likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    if likelihood == "gaussian":
        if noise_sigma is None:
            raise ValueError(f"{who}: the Gaussian likelihood needs noise_sigma, the standard deviation of "
                             "the observation noise, e.g. noise_sigma=0.1")
        noise_sigma = check_positive(noise_sigma, "noise_sigma", who=who, squared=True, hint="e.g. noise_sigma=0.1")
    elif noise_sigma is not None:
        raise ValueError(f"{who}: noise_sigma belongs to the Gaussian likelihood; the categorical one has none")
    x = as_float_array(x.data if isinstance(x, Tensor) else x, f"{who}: x")
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"{who}: x must be a finite array of shape (N, in_features), got shape {x.shape}"
                         + ("" if x.ndim != 2 else " with NaN or inf"))
    linears = [layer for layer in layers if isinstance(layer, Linear)]
    if not linears:
        raise ValueError(f"{who}: the model has no Linear layer, so it has no weights to put a posterior on")
    targets = _checked_targets(y, likelihood, x.shape[0], linears[-1].out_features, who)
    n_terms = targets.size

    def data_term(f: Tensor) -> Tensor:
        if likelihood == "gaussian":
            r = f - targets
            return (r * r).sum(axis=(-2, -1)) * (-0.5 / noise_sigma ** 2) \
                - n_terms * (np.log(noise_sigma) + 0.5 * LOG_2PI)
        return (f.log_softmax(axis=-1) * targets).sum(axis=(-2, -1))

    return layers, _slices(model), n_weights(model), x, data_term


def log_joint(model: Module, x, y, *, likelihood: str = "gaussian", noise_sigma=None, prior_sigma=1.0,
              fan_in_prior: bool = False):
    """The unnormalised log posterior as a function of the flat weights: w -> log p(𝒟|w) + log p(w).

    log p(𝒟|w) as in `log_likelihood` ("gaussian" or "categorical", every constant kept,
    so the value is a true log density). Prior: w_i ~ N(0, s_i²) independently
    (`log_normal_prior`), s_i = prior_sigma, or with fan_in_prior=True
    s_i² = prior_sigma² / in_features for the weights of each layer.

    Returns log_prob(w): w a Tensor (D,) -> a scalar Tensor, or (C, D) -> (C,),
    one value per weight vector. Its gradient comes from the engine. The
    returned function carries `log_prob.vectorized = True`, which tells
    `mv.mcmc.hmc` that it may pass all chains at once, and
    `log_prob.includes_prior = True`, by which `mv.fit_full_cov` (which wants
    the likelihood alone) recognises and refuses it.
    """
    _check_module(model, "log_joint")
    layers, slices, d, x, data_term = _data_term(model, x, y, likelihood, noise_sigma, "log_joint")
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="log_joint", squared=True, hint="e.g. prior_sigma=1.0")
    scales = _prior_scales(model, prior_sigma, fan_in_prior)

    def log_prob(w) -> Tensor:
        w = _checked_w(w, d)
        return data_term(_forward(layers, slices, w, x)) + log_normal_prior(w, scales)

    log_prob.vectorized, log_prob.includes_prior = True, True
    return log_prob
