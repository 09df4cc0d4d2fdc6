"""Layer 4, training: the loop of step 8.

    for each epoch, for each minibatch i:
        sample eps, form w = mu + sigma * eps         (inside the model's forward)
        loss = π_i KL + data loss                      (elbo_loss)
        back-propagate into mu and rho (not into w)    (loss.backward())
        update mu and rho                              (optimizer.step())
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .data import minibatches
from .elbo import elbo_loss, kl_weights, warmup_factor
from .io import named_parameters
from .nn import Module, check_count, check_generator, check_positive
from .optim import Adam, Optimizer
from .tensor import Tensor, as_float_array


@dataclass
class History:
    """What `fit` measured, one entry per epoch (sums over the epoch's minibatches).

    loss = Σ_i loss_i (the negative ELBO estimate once the KL weights sum to 1),
    kl = KL[q || p] (unweighted) at the epoch's last step, before its update,
    nll = Σ_i data term_i.
    So loss = Σ_i π_i KL_i + nll, with each KL_i taken at its own step: loss − nll
    (the "KL part" of the progress line) is not kl unless q stood still over the epoch.
    `stopped` is None, or the message of why training stopped early.
    """

    loss: list = field(default_factory=list)
    kl: list = field(default_factory=list)
    nll: list = field(default_factory=list)
    stopped: str | None = None

    def __len__(self):
        return len(self.loss)


def fit(model: Module, x, y, nll, *, epochs: int, batch_size: int, rng: np.random.Generator,
        optimizer: Optimizer | None = None, lr: float | None = None, n_samples: int = 1,
        kl_schedule: str = "uniform", warmup_epochs: int = 0, verbose: bool = True,
        print_every: int | None = None) -> History:
    """Train `model` by minimising the negative ELBO over minibatches; return the History.

    optimizer:     defaults to Adam(lr) over the model's parameters (and nll's,
                   if nll is a Module such as LearnedNoise), each once.
    lr:            the default Adam's learning rate (1e-2 if not given). Refused
                   together with `optimizer`, whose own lr is the one used.
    kl_schedule:   "uniform" or "blundell" KL weights within an epoch (see elbo.kl_weights).
    warmup_epochs: linear KL warm-up over this many epochs (0: none).
    verbose:       print a progress line (epoch, loss, KL, NLL) every `print_every` epochs;
                   by default every epoch in a terminal (one live line), else 10 lines in all.
                   print_every is a whole number >= 1 or None (0 is refused: verbose=False
                   is the way to print nothing).

    If a loss or gradient becomes NaN or infinite, or a gradient entry too large
    to square in float64 (above about 1.3e154, where the optimiser's running g²
    would be inf), training stops at once with a message naming the step and the
    likely causes; the History up to the last good epoch is returned with
    `stopped` set to that message.
    """
    check_generator(rng, "fit")
    x, y = _check_data(x, y)
    n_data = len(x)
    epochs, batch_size = check_count(epochs, "epochs"), check_count(batch_size, "batch_size")
    n_samples, warmup_epochs = check_count(n_samples, "n_samples"), check_count(warmup_epochs, "warmup_epochs", 0)
    if print_every is not None:   # None: the default; 0 is refused
        print_every = check_count(print_every, "print_every", hint="to print nothing pass verbose=False")
    if print_every is None:
        print_every = 1 if sys.stdout.isatty() else max(1, epochs // 10)
    if optimizer is not None and lr is not None:
        raise ValueError(f"fit got both optimizer= and lr={lr}; the optimiser has its own learning rate "
                         f"(lr={getattr(optimizer, 'lr', '?')}), so lr would be ignored. Pass one: "
                         "the lr inside the optimiser, or lr= alone for the default Adam")
    if optimizer is None:
        lr = 1e-2 if lr is None else check_positive(lr, "lr", who="fit", hint="the default Adam's learning rate")
        params = model.parameters() + (nll.parameters() if isinstance(nll, Module) else [])
        optimizer = Adam(list({id(p): p for p in params}.values()), lr=lr)
    names = _parameter_names(model, nll)
    history, step, start = History(), 0, time.perf_counter()
    for epoch in range(int(epochs)):
        batches = minibatches(n_data, min(batch_size, n_data), rng)
        weights = kl_weights(len(batches), kl_schedule) * warmup_factor(epoch, warmup_epochs)
        totals = {"loss": 0.0, "nll": 0.0}
        for idx, weight in zip(batches, weights):
            step += 1
            optimizer.zero_grad()
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # _non_finite reports them
                loss, info = elbo_loss(model, x[idx], y[idx], nll, n_data, n_samples=n_samples, kl_weight=weight)
                loss.backward()
            problem = _non_finite(info, optimizer, names)
            if problem:
                history.stopped = _stop_message(problem, epoch, step)
                print(history.stopped, file=sys.stderr)
                return history
            optimizer.step()
            totals["loss"] += info["loss"]
            totals["nll"] += info["nll"]
        history.loss.append(totals["loss"])
        history.nll.append(totals["nll"])
        history.kl.append(info["kl"])
        if verbose and ((epoch + 1) % print_every == 0 or epoch + 1 == epochs):
            _progress(epoch, epochs, history, time.perf_counter() - start)
    if verbose and sys.stdout.isatty():
        print()
    return history


def _check_data(x, y):
    for name, a in (("inputs x", x), ("targets y", y)):
        if isinstance(a, Tensor):
            raise TypeError(f"fit takes the training {name} as a NumPy array, got a Tensor; pass its array, t.data")
    x = as_float_array(x, "training inputs x") if not isinstance(x, np.ndarray) else x
    y = np.asarray(y)
    for name, a in (("inputs x", x), ("targets y", y)):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"training {name} must be numbers, got dtype {a.dtype}; convert them with "
                            "np.asarray(..., dtype=float) after checking what they hold")
        if a.ndim == 0 or len(a) == 0:
            raise ValueError(f"training {name} are empty (shape {a.shape}); pass at least one example")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"training {name} contain NaN or inf (e.g. at row {np.argwhere(~np.isfinite(a))[0][0]}); "
                             "clean or drop those rows first")
    if len(x) != len(y):
        raise ValueError(f"inputs x of shape {x.shape} and targets y of shape {y.shape} have different "
                         "numbers of examples; pass one target per input")
    return x, y


LARGEST_SQUARABLE = np.sqrt(np.finfo(np.float64).max)   # about 1.3e154: g² of anything larger is inf


def gradient_problem(grad, name: str) -> str | None:
    """Why an optimiser should not step on this gradient: NaN or inf entries, or an entry too large to
    square in float64 (Adam's running g² would be inf and freeze that weight silently). None if fine."""
    largest = np.max(np.abs(grad), initial=0.0) if grad is not None else 0.0   # NaN if any entry is NaN
    if largest < LARGEST_SQUARABLE:
        return None
    if not np.isfinite(largest):
        return f"the gradient of {name} has NaN or inf entries"
    return f"the gradient of {name} reaches {largest:.3g}, too large to square in float64"


def _non_finite(info, optimizer, names: dict) -> str | None:
    """Why this step cannot be taken: a loss that is not finite, or a gradient_problem. None if fine."""
    if not np.isfinite(info["loss"]):
        return f"the loss is {info['loss']} (KL {info['kl']:.4g}, NLL {info['nll']:.4g})"
    for k, p in enumerate(optimizer.params):
        problem = gradient_problem(p.grad, f"{names.get(id(p), f'parameter {k} of the optimiser')} (shape {p.shape})")
        if problem:
            return problem
    return None


def _parameter_names(model, nll) -> dict:
    """id(Tensor) -> its name in the model ("layers.0.weight_rho"), or "nll.rho" for a learned noise."""
    names = {id(p): name for name, p in named_parameters(model).items()}
    if isinstance(nll, Module):
        names.update((id(p), f"nll.{name}") for name, p in named_parameters(nll).items())
    return names


def _stop_message(problem, epoch, step):
    return (f"\ntraining stopped at epoch {epoch + 1}, step {step}: {problem}. Likely causes: a learning rate "
            "too large (try 10x smaller), an initial rho so low that sigma underflows, or data on a large "
            "scale (standardise x and y). The history up to the last finished epoch is returned.")


def _progress(epoch, epochs, history, seconds):
    kl_part = history.loss[-1] - history.nll[-1]   # Σ_i π_i KL_i, each minibatch's KL share at its own step
    line = (f"epoch {epoch + 1:>{len(str(epochs))}}/{epochs}  loss {history.loss[-1]:11.4f} = "
            f"KL part {kl_part:10.4f} + NLL {history.nll[-1]:11.4f}   KL at the last step {history.kl[-1]:10.4f}"
            f"  ({seconds:.1f} s)")
    if sys.stdout.isatty():
        print("\r" + line, end="", flush=True)   # one live line in a terminal
    else:
        print(line, flush=True)                 # one line per report in logs and notebooks
