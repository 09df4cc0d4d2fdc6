"""Layer 4, optimisers: turn gradients into parameter updates (step 8's "update").

Each optimiser updates `p.data` of the Tensors it was given, in place, from
their `.grad`; a parameter whose `.grad` is None (unused this step) is left as
it is. A Tensor listed twice is refused (it would be updated twice per step).
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor


class Optimizer:
    """Holds the parameters; `step()` updates them, `zero_grad()` clears their gradients."""

    def __init__(self, params, lr: float):
        if callable(params):  # the model itself, or model.parameters without the call
            given = "the method model.parameters" if hasattr(params, "__self__") else f"a {type(params).__name__}"
            raise TypeError(f"{type(self).__name__} takes the list of parameters: pass model.parameters() "
                            f"(called, with the brackets), not {given}")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got no parameters; pass model.parameters() of a model "
                             "that has layers (did you build the model before the optimiser?)")
        for p in self.params:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{type(self).__name__} takes Tensors with requires_grad=True, got {p!r:.60}")
        _refuse_repeats(self.params, type(self).__name__)
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"the learning rate must be a positive number, got lr={lr}")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self.update(i, p)


class SGD(Optimizer):
    """Stochastic gradient descent with momentum.

        v ← momentum · v + g
        θ ← θ − lr · v

    momentum = 0 gives plain gradient descent θ ← θ − lr · g.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0):
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.velocity = [np.zeros(p.shape) for p in self.params]

    def update(self, i, p):
        v = self.velocity[i]
        v *= self.momentum
        v += p.grad
        p.data -= self.lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization").

    With gradient g at step t:
        m ← β1 m + (1 − β1) g            (running mean of g)
        v ← β2 v + (1 − β2) g²           (running mean of g²)
        m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)   (bias corrections: m, v start at 0)
        θ ← θ − lr · m̂ / (√v̂ + ε)
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise ValueError(f"Adam's betas must be in [0, 1), got {betas}")
        self.eps = float(eps)
        self.m = [np.zeros(p.shape) for p in self.params]
        self.v = [np.zeros(p.shape) for p in self.params]
        self.t = [0] * len(self.params)

    def update(self, i, p):
        g, m, v = p.grad, self.m[i], self.v[i]
        self.t[i] += 1
        bias1, bias2 = 1.0 - self.beta1 ** self.t[i], 1.0 - self.beta2 ** self.t[i]
        work = np.empty_like(p.data)   # one scratch array: every line below updates in place
        m *= self.beta1                                          # m ← β1 m
        m += np.multiply(g, 1.0 - self.beta1, out=work)          #     + (1 − β1) g
        v *= self.beta2                                          # v ← β2 v
        np.multiply(g, g, out=work)
        work *= 1.0 - self.beta2
        v += work                                                #     + (1 − β2) g²
        np.divide(v, bias2, out=work)                            # v̂ = v / (1 − β2^t)
        np.sqrt(work, out=work)
        work += self.eps                                         # √v̂ + ε
        np.divide(m, work, out=work)                             # m / (√v̂ + ε)
        work *= self.lr / bias1                                  # lr · m̂ / (√v̂ + ε),  m̂ = m / (1 − β1^t)
        p.data -= work                                           # θ ← θ − lr · m̂ / (√v̂ + ε)


def _refuse_repeats(params: list, who: str) -> None:
    """A parameter listed twice would get two updates per step: refuse it, naming the positions."""
    first = {}
    for k, p in enumerate(params):
        if id(p) in first:
            raise ValueError(f"{who}: parameter {k} is the same Tensor as parameter {first[id(p)]} (shape {p.shape}), "
                             "so it would be updated twice per step. Pass each parameter once, e.g. "
                             "model.parameters() alone when the model already holds the LearnedNoise")
        first[id(p)] = k
