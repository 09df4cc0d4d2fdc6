"""Layer 3, modules: containers of parameters that map inputs to outputs.

A `Module` is a function with parameters. `parameters()` finds every Tensor
with requires_grad=True stored on it (directly, in lists, or in sub-modules),
so optimisers and `zero_grad()` need no registration step.

Sampling mode. Bayesian layers (minivi/bayes.py) are random: every call draws
fresh weights. How they are called is always said at the call, never kept as
hidden state:

    model(x)                    # mode="sample": one weight sample, output (N, out)
    model(x, n_samples=8)       # 8 weight samples in one vectorised pass, output (8, N, out)
    model(x, mode="mean")       # every weight at its mean mu, output (N, out)

Deterministic modules (Linear, ReLU, Tanh) ignore the mode; since they act on
the last axis only, a leading sample axis passes straight through them.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, as_tensor

MODES = ("sample", "mean")


class Module:
    """Base class. Subclasses write `forward(x)`, or `forward(x, mode, n_samples)` if `uses_mode`."""

    uses_mode = False  # True for modules whose output depends on the sampling mode

    def __call__(self, x, *, mode: str = "sample", n_samples: int | None = None):
        check_mode(mode, n_samples)
        if self.uses_mode:
            return self.forward(x, mode=mode, n_samples=n_samples)
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def modules(self):
        """This module and every module inside it, depth first."""
        yield self
        for value in vars(self).values():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, Module):
                    yield from item.modules()

    def parameters(self) -> list:
        """Every Tensor with requires_grad=True held by this module or its sub-modules (no repeats)."""
        found, seen = [], set()
        for module in self.modules():
            for value in vars(module).values():
                for item in value if isinstance(value, (list, tuple)) else [value]:
                    if isinstance(item, Tensor) and item.requires_grad and id(item) not in seen:
                        seen.add(id(item))
                        found.append(item)
        return found

    def zero_grad(self) -> None:
        """Forget the accumulated gradients (call before each backward)."""
        for p in self.parameters():
            p.grad = None


def check_mode(mode: str, n_samples) -> None:
    """Refuse an unknown mode, or a sample count that is not a positive integer."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if n_samples is None:
        return
    if mode == "mean":
        raise ValueError("n_samples only applies in mode='sample'; in mode='mean' there is nothing to sample")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a whole number >= 1, got {n_samples!r}")


def check_generator(rng, who: str) -> np.random.Generator:
    """Every random draw in minivi takes an explicit np.random.Generator."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who} needs rng=np.random.default_rng(seed) (a numpy Generator), got {type(rng).__name__}")
    return rng


def check_sizes(in_features, out_features, who: str) -> tuple:
    """A layer's sizes are whole numbers >= 1; returned as ints."""
    for name, n in (("in_features", in_features), ("out_features", out_features)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{who}: {name} must be a whole number >= 1 (a number of features), got {n!r}")
    return int(in_features), int(out_features)


def check_features(x: Tensor, in_features: int, who: str) -> None:
    """The last axis of the input must hold `in_features` numbers."""
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise ValueError(f"{who} expects inputs whose last axis has size {in_features}, got shape {x.shape}; "
                         f"reshape the data to (N, {in_features})")


class Linear(Module):
    """y = x @ W + b, with W of shape (in_features, out_features) and b of shape (out_features,).

    Initialisation (LeCun): W_ij ~ N(0, 1/in_features), b = 0. Each output sums
    in_features products, so this keeps the variance of the outputs close to
    the variance of the inputs, and tanh units start in their linear range.
    """

    def __init__(self, in_features: int, out_features: int, *, rng: np.random.Generator):
        check_generator(rng, "Linear")
        self.in_features, self.out_features = check_sizes(in_features, out_features, "Linear")
        self.weight = Tensor(rng.normal(0.0, 1.0 / np.sqrt(in_features), (in_features, out_features)),
                             requires_grad=True)
        self.bias = Tensor(np.zeros(out_features), requires_grad=True)

    def forward(self, x):
        x = as_tensor(x)
        check_features(x, self.in_features, "Linear")
        return x @ self.weight + self.bias

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x):
        return as_tensor(x).relu()

    def __repr__(self):
        return "ReLU()"


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x):
        return as_tensor(x).tanh()

    def __repr__(self):
        return "Tanh()"


class Sequential(Module):
    """Layers applied in order; the sampling mode is passed to every layer that uses it."""

    uses_mode = True

    def __init__(self, *layers: Module):
        for layer in layers:
            if isinstance(layer, type) and issubclass(layer, Module):
                raise TypeError(f"Sequential takes Modules, got the class {layer.__name__} itself; "
                                f"create one by calling it: {layer.__name__}(...)")
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes Modules, got {type(layer).__name__}; "
                                "wrap functions in a Module or use mv.ReLU()/mv.Tanh()")
        self.layers = list(layers)

    def forward(self, x, mode="sample", n_samples=None):
        for layer in self.layers:
            x = layer(x, mode=mode, n_samples=n_samples)
        return x

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"
