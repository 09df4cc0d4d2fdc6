"""Layer 3, modules: containers of parameters that map inputs to outputs.

A `Module` is a function with parameters.

Parameters are declared, not guessed. A parameter is a `Parameter` (a Tensor
subclass) stored on a module:

    self.weight = mv.Parameter(array)            # trained, saved
    self.scale = mv.Parameter(1.0, requires_grad=False)   # frozen: not trained, still saved
    self.hidden = h                              # a cache (a computed Tensor): never a parameter

`named_parameters()` / `state_dict()` list every declared parameter, frozen
ones included (what `save` writes); `parameters()` lists the trainable ones
(what an optimiser updates). A leaf Tensor with requires_grad=True found on a
module is refused by them (TypeError): it was meant as a parameter, so declare it.

Where modules and parameters are found (the PyTorch ModuleList/ModuleDict
habit, without the wrappers): in attributes directly, and inside lists, tuples
and dicts with string keys, nested to any depth. Their names join the steps
with dots: "layers.0.weight_mu", "heads.mean.bias". A set of modules is
refused (a set has no order, so no stable names), and so is a dict key that is
not a string or that holds a dot. Each module and each parameter is visited
ONCE, however many places hold it: a layer used twice is one layer (its KL
counts once), and a reference back to a parent module ends the walk instead of
recursing for ever.

Sampling mode. Bayesian layers (`BayesianModule`, minivi/bayes.py) are random:
every call draws fresh weights. How they are called is always said at the
call, never kept as hidden state:

    model(x)                    # mode="sample": one weight sample, output (N, out)
    model(x, n_samples=8)       # 8 weight samples in one vectorised pass, output (8, N, out)
    model(x, mode="mean")       # every weight at its mean mu, output (N, out)
    model(x, mode="function", n_samples=8)   # 8 whole networks (weights drawn), see below

"sample" is the layer's training estimator; "function" asks every layer for a
draw of its weights, shared by all rows, so each of the S outputs is one
function of x (what `predict` uses). They differ only for a layer that samples
each row independently (`LocalBayesLinear`).

The sample axis is explicit. `model(x, n_samples=S)` takes x WITHOUT a sample
axis. That outermost call puts a leading axis of size 1 on x, and every forward
run inside it receives (and returns) a leading sample axis, of size 1 (the
same for every sample) or S, whenever it is given n_samples. At the end the
output is broadcast to (S, ...), so every model, even one with no random layer,
gives S outputs. Nothing is inferred from the number of axes: data that are
naturally 3-D, or N equal to S, are never mistaken for samples.

A module's forward is `forward(x)` if its output does not depend on the mode
(Linear, ReLU, Tanh; they act on the last axis, so a sample axis passes
through), or `forward(x, *, mode, n_samples)`, passing both on to the modules
it calls. A module that holds a BayesianModule must take the mode (TypeError
otherwise), or mode="mean" would silently keep sampling inside it.
A container may also take `shared_sigma=None` and pass it on (Sequential
does): `elbo_loss`'s per-call dict that lets the forward and the KL share
sigma = softplus(rho) (minivi/bayes.py, SigmaOfRho). A forward without it
still works; its layers then compute their own sigma.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import numbers

import numpy as np

from .tensor import Tensor, as_tensor

MODES = ("sample", "mean", "function")

# True while a call made with n_samples runs: inputs then carry the sample axis.
_inside_sampled_call = contextvars.ContextVar("inside_sampled_call", default=False)


class Parameter(Tensor):
    """A Tensor declared as a module's parameter: found by `parameters()`, saved by `save`.

    `Parameter(data)` has requires_grad=True; `Parameter(data, requires_grad=False)`
    (or setting `p.requires_grad = False` later) freezes it: optimisers built from
    `parameters()` leave it alone, but `state_dict()` and `save` still hold it.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class. Subclasses write `forward(x)`, or `forward(x, *, mode, n_samples)` (see the module docstring)."""

    def __setattr__(self, name, value):
        _check_member(value, f"{type(self).__name__}.{name}")
        object.__setattr__(self, name, value)

    def __call__(self, x, *, mode: str = "sample", n_samples: int | None = None, shared_sigma: dict | None = None):
        check_mode(mode, n_samples)
        if n_samples is None:
            return self._run(x, mode, None, shared_sigma)
        if _inside_sampled_call.get():
            return self._run(_check_sample_axis(as_tensor(x), n_samples, self), mode, n_samples, shared_sigma)
        x = as_tensor(x)
        token = _inside_sampled_call.set(True)
        try:
            out = self._run(x.reshape((1,) + x.shape), mode, n_samples, shared_sigma)
        finally:
            _inside_sampled_call.reset(token)
        out = _check_sample_axis(out, n_samples, self, what="output")
        return out if out.shape[0] == n_samples else out + np.zeros((n_samples,) + (1,) * (out.ndim - 1))

    def _run(self, x, mode, n_samples, shared_sigma=None):
        if _takes_mode(type(self)):
            if shared_sigma is not None and takes_keyword(type(self).forward, "shared_sigma"):
                out = self.forward(x, mode=mode, n_samples=n_samples, shared_sigma=shared_sigma)
            else:
                out = self.forward(x, mode=mode, n_samples=n_samples)
        elif vars(self) and any(isinstance(m, BayesianModule) for m in self.modules()):   # (no attributes: no layers)
            raise TypeError(f"{type(self).__name__} holds Bayesian layers, so its forward must take the sampling "
                            "mode: write forward(self, x, *, mode, n_samples) and pass mode=mode, "
                            "n_samples=n_samples to the layers it calls")
        else:
            out = self.forward(x)
        if out is None:
            raise TypeError(f"{type(self).__name__}.forward returned None (mode={mode!r}); it must return the "
                            "output Tensor in every mode (a missing return, or a missing branch for this mode?)")
        return out

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def config(self) -> dict:
        """The hyper-parameters that, with the class, define this module (plain numbers and strings).

        `save` records them and `load` refuses a model whose config differs.
        Modules without hyper-parameters return {}.
        """
        return {}

    # ---------------------------------------------------------------- walking the structure

    def named_modules(self):
        """(name, module) for this module ("") and every module inside it, depth first, each once."""
        seen = set()

        def visit(module, path):
            seen.add(id(module))
            yield path, module
            for name, item in _members(module):
                if isinstance(item, Module) and id(item) not in seen:
                    yield from visit(item, _join(path, name))

        yield from visit(self, "")

    def modules(self) -> list:
        """This module and every module inside it, depth first, each once (a layer used twice is one layer).

        The same modules in the same order as `named_modules()`, found without building their names
        (`kl_divergence` walks the model at every training step).
        """
        found, seen = [], set()

        def visit(value):   # a Module, or a list, tuple or dict that may hold some; each opened once
            if id(value) in seen:
                return
            seen.add(id(value))
            if isinstance(value, Module):
                found.append(value)
                items = vars(value).values()
            else:
                items = value.values() if isinstance(value, dict) else value
            for item in items:
                if isinstance(item, (Module, list, tuple, dict)):
                    visit(item)

        visit(self)
        return found

    def named_parameters(self) -> list:
        """[(name, Parameter)] for every declared parameter, frozen ones included, each once (first name found)."""
        found, seen = [], set()
        for path, module in self.named_modules():
            for name, item in _members(module):
                if isinstance(item, Parameter) and id(item) not in seen:
                    seen.add(id(item))
                    found.append((_join(path, name), item))
                elif _undeclared_parameter(item):
                    raise TypeError(f"{_join(path, name) or type(self).__name__}: a leaf Tensor with "
                                    "requires_grad=True is held by the model but is not a Parameter, so it would be "
                                    "neither trained nor saved; declare it as mv.Parameter(array), or store "
                                    "Tensor(array) or t.detach() for a constant")
        return found

    def parameters(self) -> list:
        """The trainable parameters (declared, requires_grad=True), each once: what an optimiser updates."""
        return [p for _, p in self.named_parameters() if p.requires_grad]

    def zero_grad(self) -> None:
        """Forget the accumulated gradients (call before each backward)."""
        for _, p in self.named_parameters():
            p.grad = None

    # ---------------------------------------------------------------- the numbers, in memory

    def state_dict(self) -> dict:
        """{name: a copy of the array} for every declared parameter, frozen ones included."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> "Module":
        """Copy the arrays of `state` (as `state_dict()` gives) into the parameters; return self.

        All names, shapes and values are checked first; if anything differs the
        module is left exactly as it was and ValueError says what. Gradients are cleared.
        """
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict takes a dict {{name: array}} as model.state_dict() gives, "
                            f"got {type(state).__name__}")
        params = dict(self.named_parameters())
        check_state_names(set(state), set(params), "load_state_dict")
        arrays = {name: check_state_array(state[name], name, params[name].shape, "load_state_dict")
                  for name in params}
        copy_into(params, arrays)
        return self


class BayesianModule(Module):
    """The protocol every variational module joins (mean-field, local reparameterisation, full covariance...).

    A subclass implements both:
      forward(x, *, mode, n_samples)  always called with the sampling mode ("sample", "mean"
                                      or "function") and the sample count (None or S; with S,
                                      x carries a leading sample axis of size 1 or S, and the
                                      output must carry one of size S);
      kl()                            KL[q || p] of this module's own variational parameters,
                                      a scalar Tensor (step 5).
    `kl_divergence(model)` sums `kl()` over the distinct BayesianModules in the model,
    whatever their class. A subclass missing either method, or whose forward does not
    take mode and n_samples, cannot be created (TypeError).
    """

    def __new__(cls, *args, **kwargs):
        missing = [name for name in ("forward", "kl") if getattr(cls, name) is getattr(BayesianModule, name)]
        if missing:
            raise TypeError(f"{cls.__name__} is a BayesianModule but does not define {' and '.join(missing)}(); "
                            "implement forward(self, x, *, mode, n_samples) and kl()")
        if not _takes_mode(cls):
            raise TypeError(f"{cls.__name__}.forward must take the sampling mode: "
                            "def forward(self, x, *, mode, n_samples)")
        return super().__new__(cls)

    def forward(self, x, *, mode, n_samples):
        raise NotImplementedError

    def kl(self) -> Tensor:
        raise NotImplementedError


def check_mode(mode: str, n_samples) -> None:
    """Refuse an unknown mode, or a sample count that is not a positive integer."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if n_samples is None:
        return
    if mode == "mean":
        raise ValueError("n_samples only applies in mode='sample' (or 'function'); "
                         "in mode='mean' there is nothing to sample")
    check_count(n_samples, "n_samples")


def check_count(value, name: str, minimum: int = 1, *, who: str | None = None, hint: str = "") -> int:
    """A count (epochs, batch_size, n_samples, n_steps, a layer's size, ...) as a Python int.

    Every count in minivi goes through here, so one rule holds everywhere: a value of
    the wrong type (a float, even 2.0; a bool; a string) is a TypeError, an integer
    below `minimum` a ValueError. Both messages name the argument (after `who`, the
    function, if given), quote the value, say what is accepted and end with `hint`.
    NumPy integers are integers.
    """
    where = f"{who}: " if who else ""
    tail = f"; {hint}" if hint else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}{name} must be a whole number >= {minimum} (an int), got {value!r} of type "
                        f"{type(value).__name__}{tail}")
    if value < minimum:
        raise ValueError(f"{where}{name} must be a whole number >= {minimum}, got {value!r}{tail}")
    return int(value)


# The smallest number whose square is still a normal float64 (about 1.5e-154): a standard
# deviation below it squares to 0 or to a subnormal, and 1 / sigma**2 overflows.
SMALLEST_SQUARED_SCALE = float(np.sqrt(np.finfo(np.float64).tiny))


def check_positive(value, name: str, *, who: str | None = None, hint: str = "", minimum: float = 0.0,
                   closed: bool = False, below: float | None = None, squared: bool = False) -> float:
    """One real number in a range (a standard deviation, a step size, a rate, ...) as a Python float.

    Every "one positive number" argument in minivi goes through here, so one rule holds
    everywhere: anything but one real number (a bool, a string, None, an array of one or
    more axes, even of one element, a Tensor) is a TypeError; NaN, inf, or a value outside
    the range a ValueError. The range is value > minimum (value >= minimum when `closed`),
    and value < below when `below` is given. With `squared` (the code squares the value:
    a variance, a precision 1/sigma**2) a value below SMALLEST_SQUARED_SCALE is refused
    too, as its square underflows. Python and NumPy ints and floats, and 0-d NumPy
    arrays of them, are accepted. Messages name the argument (after `who`, the function,
    if given), quote the value, say what is accepted and end with `hint`.
    """
    where = f"{who}: " if who else ""
    tail = f"; {hint}" if hint else ""
    if below is not None:
        accepted = f"finite number in {'[' if closed else '('}{minimum:g}, {below:g})"
    else:
        kind = ("non-negative " if closed else "positive ") if minimum == 0 else ""
        accepted = f"{kind}finite number ({'>=' if closed else '>'} {minimum:g})"
    number = value
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        number = value.item()
    if isinstance(number, (bool, np.bool_)) or not isinstance(number, numbers.Real):
        raise TypeError(f"{where}{name} must be one {accepted}, got {value!r} of type "
                        f"{type(value).__name__}{tail}")
    number = float(number)
    inside = (number >= minimum if closed else number > minimum) and (below is None or number < below)
    if not np.isfinite(number) or not inside:
        raise ValueError(f"{where}{name} must be one {accepted}, got {value!r}{tail}")
    if squared and number < SMALLEST_SQUARED_SCALE:
        raise ValueError(f"{where}{name} must be at least {SMALLEST_SQUARED_SCALE:.3g} (its square is used and "
                         f"would underflow: to 0, or to a subnormal float that has lost digits), got {value!r}{tail}")
    return number


def check_generator(rng, who: str) -> np.random.Generator:
    """Every random draw in minivi takes an explicit np.random.Generator."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who} needs rng=np.random.default_rng(seed) (a numpy Generator), got {type(rng).__name__}")
    return rng


def check_sizes(in_features, out_features, who: str) -> tuple:
    """A layer's sizes are whole numbers >= 1; returned as ints."""
    return (check_count(in_features, "in_features", who=who, hint="a number of features"),
            check_count(out_features, "out_features", who=who, hint="a number of features"))


def check_features(x: Tensor, in_features: int, who: str) -> None:
    """The last axis of the input must hold `in_features` numbers."""
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise ValueError(f"{who} expects inputs whose last axis has size {in_features}, got shape {x.shape}; "
                         f"reshape the data to (N, {in_features})")


def check_state_names(given: set, expected: set, who: str) -> None:
    """The same parameter names on both sides, or a message listing the differences."""
    missing, extra = sorted(expected - given), sorted(given - expected)
    if missing or extra:
        raise ValueError(f"{who}: the parameters differ: missing {missing}, not in the model {extra}. Build the "
                         "model with the same layers and options (e.g. bias=True/False) as the saved one")


def check_state_array(array, name: str, shape: tuple, who: str) -> np.ndarray:
    """A finite real array of the parameter's shape, returned as a new float64 array."""
    array = np.asarray(array.data if isinstance(array, Tensor) else array)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{who}: parameter {name} must hold real numbers, got dtype {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"{who}: parameter {name} has shape {array.shape} but {shape} in the model; build the "
                         "layers with the same sizes as the saved model")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{who}: parameter {name} contains NaN or inf; a diverged model cannot be loaded")
    return np.array(array, dtype=np.float64)


def copy_into(params: dict, arrays: dict) -> None:
    """The last step of a load, after every check: the new values in, the old gradients out."""
    for name, p in params.items():
        p.data = arrays[name]
        p.grad = None


def _check_sample_axis(t, n_samples: int, module: Module, what: str = "input") -> Tensor:
    """Inside model(x, n_samples=S), inputs and outputs carry a leading sample axis of size 1 or S."""
    who = type(module).__name__
    if not isinstance(t, Tensor):
        raise TypeError(f"{who}.forward returned {type(t).__name__}, not a Tensor")
    if t.ndim == 0 or t.shape[0] not in (1, n_samples):
        raise ValueError(f"{who}: inside a call with n_samples={n_samples} every module's {what} carries a leading "
                         f"sample axis of size 1 or {n_samples}, got shape {t.shape}. Give the outermost call x "
                         "without a sample axis, and keep the sample axis first in custom forwards")
    return t


@functools.lru_cache(maxsize=None)
def takes_keyword(function, name: str) -> bool:
    """Does function (a class's forward or kl) take the keyword `name`, e.g. "shared_sigma"?"""
    return name in inspect.signature(function).parameters


@functools.lru_cache(maxsize=None)
def _takes_mode(cls) -> bool:
    """Does cls.forward take the keywords mode and n_samples (both, or neither)?"""
    params = inspect.signature(cls.forward).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    if ("mode" in params) != ("n_samples" in params):
        raise TypeError(f"{cls.__name__}.forward takes only one of mode and n_samples; take both "
                        "(forward(self, x, *, mode, n_samples)) or neither (forward(self, x))")
    return "mode" in params


def _undeclared_parameter(value) -> bool:
    """A leaf Tensor that wants a gradient, stored on a module: meant as a parameter, but not declared."""
    return (isinstance(value, Tensor) and not isinstance(value, Parameter) and value.requires_grad
            and not value._parents)


def _declared(value) -> bool:
    return isinstance(value, (Module, Parameter))


def _holds_declared(value, seen=None) -> bool:
    """Is there a Module or Parameter in value, or in the lists, tuples, dicts and sets inside it?"""
    if _declared(value):
        return True
    if not isinstance(value, (list, tuple, dict, set, frozenset)):
        return False
    seen = set() if seen is None else seen
    if id(value) in seen:
        return False
    seen.add(id(value))
    return any(_holds_declared(item, seen) for item in (value.values() if isinstance(value, dict) else value))


def _check_member(value, where: str, seen=None) -> None:
    """Refuse, at assignment, modules that could not be named: in a set, or under a key that is not a plain string.

    seen: ids of the lists, tuples and dicts already opened (a list that holds itself is opened once).
    """
    if _declared(value):
        return
    if isinstance(value, Tensor):
        return
    if isinstance(value, (set, frozenset)) and _holds_declared(value):
        raise TypeError(f"{where}: a set has no order, so its modules or parameters would have no stable names; "
                        "use a list or a dict with string keys")
    if isinstance(value, dict):
        for key in value:
            if (not isinstance(key, str) or "." in key) and _holds_declared(value[key]):
                raise TypeError(f"{where}: modules and parameters in a dict need string keys without dots (the "
                                f"key is part of their saved name), got {key!r}")
    if isinstance(value, (list, tuple, dict)):
        seen = set() if seen is None else seen
        if id(value) in seen:
            return
        seen.add(id(value))
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            if isinstance(item, (Tensor, list, tuple, dict, set, frozenset)):
                _check_member(item, f"{where}[{key!r}]", seen)


def _members(module: Module) -> list:
    """[(dotted name, item)] for every item held by the module's attributes, lists, tuples and dicts opened."""
    found, seen = [], set()

    def walk(name, value):   # value: a list, tuple or dict, opened once however often it is held
        if id(value) in seen:
            return
        seen.add(id(value))
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            if isinstance(value, dict) and (not isinstance(key, str) or "." in key) and _holds_declared(item):
                raise TypeError(f"{type(module).__name__}.{name}: modules and parameters in a dict need string "
                                f"keys without dots, got {key!r}")
            if isinstance(item, (list, tuple, dict)):
                walk(f"{name}.{key}", item)
            else:
                found.append((f"{name}.{key}", item))

    for attr, value in vars(module).items():
        if isinstance(value, (list, tuple, dict)):
            walk(attr, value)
        else:
            found.append((attr, value))
    return found


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class Linear(Module):
    """y = x @ W + b, with W of shape (in_features, out_features) and b of shape (out_features,).

    Initialisation (LeCun): W_ij ~ N(0, 1/in_features), b = 0. Each output sums
    in_features products, so this keeps the variance of the outputs close to
    the variance of the inputs, and tanh units start in their linear range.
    """

    def __init__(self, in_features: int, out_features: int, *, rng: np.random.Generator):
        check_generator(rng, "Linear")
        self.in_features, self.out_features = check_sizes(in_features, out_features, "Linear")
        self.weight = Parameter(rng.normal(0.0, 1.0 / np.sqrt(in_features), (in_features, out_features)))
        self.bias = Parameter(np.zeros(out_features))

    def forward(self, x):
        x = as_tensor(x)
        check_features(x, self.in_features, "Linear")
        return x @ self.weight + self.bias

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features}

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
    """Layers applied in order; the sampling mode and sample count are passed to every layer."""

    def __init__(self, *layers: Module):
        for layer in layers:
            if isinstance(layer, type) and issubclass(layer, Module):
                raise TypeError(f"Sequential takes Modules, got the class {layer.__name__} itself; "
                                f"create one by calling it: {layer.__name__}(...)")
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes Modules, got {type(layer).__name__}; "
                                "wrap functions in a Module or use mv.ReLU()/mv.Tanh()")
        self.layers = list(layers)

    def forward(self, x, *, mode, n_samples, shared_sigma=None):
        for layer in self.layers:
            x = layer(x, mode=mode, n_samples=n_samples, shared_sigma=shared_sigma)
        return x

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"
