"""The evidence log p(𝒟) of a network, sandwiched; and how many nats q is from the posterior.

Step 1 of the derivation calls the evidence p(𝒟) = ∫ p(𝒟|w) p(w) dw hopeless,
and step 3 rests on an identity that contains it:

    log p(𝒟) = ELBO(q) + KL[q(w) ‖ p(w|𝒟)].

If log p(𝒟) can be estimated with an error bar, so can the KL that VI
minimises: KL = log p(𝒟) − ELBO. This module estimates both terms.

Annealed importance sampling (AIS; Neal 2001, "Annealed importance sampling").
Walk from the prior to the posterior through the tempered densities

    π_β(w) ∝ p(w) p(𝒟|w)^β,     0 = β_0 < β_1 < ... < β_K = 1,

whose normalisers are Z_0 = 1 (the prior integrates to one) and Z_K = p(𝒟).
Start w_0 from the prior; at each β_k add (β_k − β_{k−1}) log p(𝒟|w_{k−1}) to
the chain's log weight, then move w with an HMC transition that leaves π_{β_k}
invariant (`mv.mcmc.transition`). After the last step

    log W = Σ_k (β_k − β_{k−1}) log p(𝒟|w_{k−1}),      E[W] = p(𝒟)   exactly,

for any number of steps: each factor is a ratio of consecutive unnormalised
densities at a point distributed (jointly with the others) so that the
ratios telescope. A short schedule is still unbiased, only noisier. By
Jensen's inequality E[log mean W] ≤ log p(𝒟): a stochastic *lower* bound.

Reverse AIS runs the same path backwards from an exact posterior draw; its
weights average to 1/p(𝒟), so −log mean W_rev is a stochastic *upper* bound.
Together they sandwich log p(𝒟) (bidirectional Monte Carlo, BDMC; Grosse,
Ghahramani & Adams 2015). An exact posterior draw exists for simulated data:
draw w* from the prior and 𝒟 from p(𝒟|w*); then w* ~ p(w|𝒟).

The transitions must be fixed before a chain arrives: a step size adapted on
the chain's own acceptances makes the kernel depend on the path, and the
weights no longer average to p(𝒟). Here the step size at each β is set by a
few tuning chains whose weights are thrown away (forward), or taken from a
forward run (reverse).

ELBOs with Monte Carlo error bars (`elbo`) for a mean-field q (`BayesLinear`
layers) or a full-covariance q (`FullCovGaussian`) on the same log joint.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from .bayes import BayesLinear
from .flat import log_joint, log_normal_prior, n_weights
from .fullcov import FullCovGaussian
from .gaussian import LOG_2PI, softplus
from .mcmc import _initial_step_size, transition
from .nn import Module, check_count, check_generator, check_positive
from .tensor import Tensor, as_float_array, as_tensor, no_grad

__all__ = ["ais", "reverse_ais", "AISResult", "sigmoid_schedule", "geometric_schedule", "elbo", "ELBOEstimate", "mean_field_vector",
           "network_log_densities", "log_mean_exp", "UnreliableEstimateWarning"]

# The tuning chains move the shared step size by exp(TUNE_GAIN · (acceptance − target)) after every β.
TUNE_GAIN = 1.0
# The tuning chains' positions are pooled over about 1/MOMENT_RATE steps for the mass matrix M⁻¹ = their
# variance (+ MASS_FLOOR, so that no weight gets a zero variance).
MOMENT_RATE, MASS_FLOOR = 0.05, 1e-6
# A run whose weights have an effective sample size below this fraction of the chains warns.
MIN_ESS_FRACTION = 0.1


class UnreliableEstimateWarning(UserWarning):
    """A few chains carry almost all the weight: the estimate of log p(𝒟) is unreliable."""


# ---------------------------------------------------------------- the schedule and the weights


def sigmoid_schedule(n_steps: int, delta: float = 4.0) -> np.ndarray:
    """β_0 = 0 < ... < β_K = 1, K = n_steps, spaced along a sigmoid (Grosse, Ghahramani & Adams 2015).

        β̃_k = s(δ (2k/K − 1)),   β_k = (β̃_k − β̃_0) / (β̃_K − β̃_0),   s(z) = 1 / (1 + e^−z)

    Steps are small at both ends, where log p(𝒟|w)^β changes fastest relative to
    its size (near 0 the likelihood first takes over the prior's spread; near 1
    the posterior is narrowest). δ sets how strongly; δ → 0 gives equal steps.
    """
    n_steps = check_count(n_steps, "n_steps", who="sigmoid_schedule")
    delta = check_positive(delta, "delta", who="sigmoid_schedule", hint="how strongly the steps bunch at the ends")
    tilde = 1.0 / (1.0 + np.exp(-delta * (2.0 * np.arange(n_steps + 1) / n_steps - 1.0)))
    betas = (tilde - tilde[0]) / (tilde[-1] - tilde[0])
    betas[0], betas[-1] = 0.0, 1.0
    return betas


def geometric_schedule(n_steps: int, start: float = 1e-4) -> np.ndarray:
    """β_0 = 0, then β_1, ..., β_K equally spaced in log β from `start` to 1 (K = n_steps).

    Why geometric: once the likelihood dominates the prior, π_β is about Gaussian with a
    precision proportional to β, so Var_β[log p(𝒟|w)] ≈ D_eff / (2β²). A step adds variance
    (β_k − β_{k−1})² Var[log p(𝒟|w)] to the log weight; equal ratios β_k / β_{k−1} make every
    step add about the same. `start` should be about where the likelihood starts to dominate:
    small enough that start · sd_prior[log p(𝒟|w)] is well below one nat.
    """
    n_steps = check_count(n_steps, "n_steps", who="geometric_schedule")
    start = check_positive(start, "start", who="geometric_schedule", below=1.0, hint="the first beta after 0")
    betas = np.concatenate([[0.0], np.geomspace(start, 1.0, n_steps)])
    betas[-1] = 1.0
    return betas


def log_mean_exp(log_w) -> float:
    """log (1/C Σ_c exp(log_w_c)) = m + log mean exp(log_w − m), m = max: no overflow, no underflow to 0.

    Over every entry of log_w (at least one). All −inf gives −inf (every weight 0), any +inf gives +inf;
    NaN is refused.
    """
    log_w = as_float_array(log_w, "log_mean_exp: log_w")
    if log_w.size == 0 or np.any(np.isnan(log_w)):
        raise ValueError(f"log_mean_exp needs at least one log weight and no NaN, got {log_w.size} values"
                         + (" with NaN" if log_w.size else "") + "; check where the log weights came from")
    m = np.max(log_w)
    if not np.isfinite(m):
        return float(m)
    return float(m + np.log(np.mean(np.exp(log_w - m))))


def _weight_summary(log_w: np.ndarray) -> tuple:
    """(standard error of log mean W, effective sample size (Σ W)² / Σ W²) from the log weights.

    With W̄ the mean of C weights, the delta method gives se[log W̄] ≈ sd(W) / (√C W̄),
    computed on W / max W (the same ratio, without overflow).
    """
    w = np.exp(log_w - np.max(log_w))
    stderr = float(np.std(w, ddof=1) / (np.sqrt(len(w)) * np.mean(w)))
    return stderr, float(np.sum(w) ** 2 / np.sum(w * w))


@dataclass
class AISResult:
    """What `ais` and `reverse_ais` return. C chains, K = len(betas) − 1 steps, D weights.

    log_weights: (C,), log W_c. Forward: mean W estimates p(𝒟). Reverse: mean W estimates 1/p(𝒟).
    log_evidence: log p(𝒟) from them: log mean W (forward, a stochastic lower bound) or
                  −log mean W (reverse, a stochastic upper bound); log-mean-exp, computed stably.
    stderr:      the delta-method standard error of log_evidence (sd(W) / (√C mean W)).
    ess:         (Σ W)² / Σ W², how many equally weighted chains the weights are worth.
    acceptance:  (K − 1,), the mean acceptance probability of the HMC transition at β_1, ..., β_{K−1}.
    step_size:   (K − 1,), the leapfrog step size used there (pass it to `reverse_ais`).
    inverse_mass: (K − 1, D), the diagonal of HMC's M⁻¹ used there (pass it to `reverse_ais` too).
    final:       (C, D), where the counted chains ended (forward: about the posterior; reverse: the prior).
    n_gradients: log-density-and-gradient evaluations per chain (K + (K − 1) · n_leapfrog).
    """

    direction: str
    log_evidence: float
    log_weights: np.ndarray
    stderr: float
    ess: float
    betas: np.ndarray
    acceptance: np.ndarray
    step_size: np.ndarray
    n_leapfrog: int
    inverse_mass: np.ndarray
    final: np.ndarray
    seconds: float                      # wall-clock time of the run
    n_gradients: int

    def summary(self) -> str:
        bound = "lower" if self.direction == "forward" else "upper"
        return (f"{self.direction} AIS ({bound} bound): log p(data) = {self.log_evidence:.3f} ± {self.stderr:.3f}; "
                f"{len(self.log_weights)} chains, {len(self.betas) - 1} steps x {self.n_leapfrog} leapfrog; "
                f"ESS {self.ess:.1f}; acceptance {np.mean(self.acceptance):.2f}; {self.seconds:.1f} s")


# ---------------------------------------------------------------- checking what we are given


def _checked_betas(betas) -> np.ndarray:
    betas = as_float_array(betas, "betas")
    fix = "; build it with mv.evidence.geometric_schedule(n_steps), sigmoid_schedule(n_steps) or np.linspace(0.0, 1.0, n_steps + 1)"
    if betas.ndim != 1 or betas.size < 2:
        raise ValueError(f"betas must be a 1-D array of at least 2 values from 0 to 1, got shape {betas.shape}{fix}")
    if not np.all(np.isfinite(betas)):
        raise ValueError(f"betas contains NaN or inf{fix}")
    if betas[0] != 0.0 or betas[-1] != 1.0:
        raise ValueError(f"betas must start at exactly 0 (the prior) and end at exactly 1 (the posterior), "
                         f"got {betas[0]!r} ... {betas[-1]!r}{fix}")
    if np.any(np.diff(betas) <= 0):
        k = int(np.argmax(np.diff(betas) <= 0))
        raise ValueError(f"betas must be strictly increasing, but betas[{k}] = {betas[k]} >= betas[{k + 1}] = "
                         f"{betas[k + 1]}{fix}")
    return betas


def _checked_init(init, who: str, what: str) -> np.ndarray:
    init = as_float_array(init.data if isinstance(init, Tensor) else init, f"{who}: init")
    if init.ndim != 2:
        raise ValueError(f"{who}: init must have shape (n_chains, D), one {what} per chain, got shape "
                         f"{init.shape}; stack the draws with np.stack")
    if init.shape[0] < 2:
        raise ValueError(f"{who}: init has {init.shape[0]} chain(s); the standard error and the effective sample "
                         "size need at least 2 chains (use tens to hundreds: they run side by side)")
    if init.shape[1] < 1 or not np.all(np.isfinite(init)):
        raise ValueError(f"{who}: init of shape {init.shape} must hold finite {what}s of at least one weight")
    return init


def _checked_value(out, n: int | None, name: str) -> np.ndarray:
    signature = "Tensor (D,) -> scalar Tensor" if n is None else "Tensor (C, D) -> Tensor (C,) (vectorized = True)"
    if not isinstance(out, Tensor):
        raise TypeError(f"{name} must be a function {signature} built from minivi ops, got a {type(out).__name__}")
    if out.shape != (() if n is None else (n,)):
        raise ValueError(f"{name} must be a function {signature}, but it returned shape {out.shape}; sum the log "
                         "density over data points and weights")
    return out


# ---------------------------------------------------------------- the tempered log density


def _densities(log_prior, log_likelihood, w: np.ndarray, beta: float, vectorized: bool) -> tuple:
    """(log p(𝒟|w), log π_β(w) = log p(w) + β log p(𝒟|w), ∇ log π_β(w)) for every row of w (C, D).

    One graph and one backward pass: the likelihood value comes with the tempered gradient.
    A value or gradient that is NaN or inf is returned as it is, without NumPy's warnings: the
    callers refuse it at the start (`_check_start`) and reject it in a transition (divergent).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _densities_unchecked(log_prior, log_likelihood, w, beta, vectorized)


def _densities_unchecked(log_prior, log_likelihood, w: np.ndarray, beta: float, vectorized: bool) -> tuple:
    """`_densities` without the errstate: one graph per call (vectorized) or per chain."""
    if vectorized:
        t = Tensor(w, requires_grad=True)
        lp = _checked_value(log_prior(t), len(w), "log_prior")
        ll = _checked_value(log_likelihood(t), len(w), "log_likelihood")
        out = lp + ll * beta
        out.backward(np.ones(len(w)))
        grad = t.grad if t.grad is not None else np.zeros_like(w)
        return ll.data.copy(), out.data.copy(), grad
    lls, log_ps, grads = np.empty(len(w)), np.empty(len(w)), np.zeros_like(w)
    for c, w_c in enumerate(w):
        t = Tensor(w_c, requires_grad=True)
        lp = _checked_value(log_prior(t), None, "log_prior")
        ll = _checked_value(log_likelihood(t), None, "log_likelihood")
        out = lp + ll * beta
        out.backward()
        lls[c], log_ps[c] = ll.item(), out.item()
        if t.grad is not None:
            grads[c] = t.grad
    return lls, log_ps, grads


def _is_vectorized(log_prior, log_likelihood, vectorized) -> bool:
    if vectorized is not None:
        return bool(vectorized)
    return bool(getattr(log_prior, "vectorized", False) and getattr(log_likelihood, "vectorized", False))


# ---------------------------------------------------------------- the anneal


def _anneal(log_prior, log_likelihood, w, betas, direction, *, rng, step_size, n_leapfrog, inverse_mass,
            n_tune, target_accept, adapt_mass, vectorized) -> AISResult:
    """The loop both directions share. Rows n_tune: of w are the chains whose weights count.

    forward: for k = 1..K:  log W += (β_k − β_{k−1}) log p(𝒟|w);  then a transition at β_k (k < K).
    reverse: for k = K..1:  log W −= (β_k − β_{k−1}) log p(𝒟|w);  then a transition at β_{k−1} (k > 1).
    The step size at transition j (level β_{j+1}) is step_size[j], or, when step_size is None,
    set from the tuning chains' acceptances at the transitions before j only.
    """
    start = time.perf_counter()
    n_steps = len(betas) - 1
    if direction == "forward":
        plan = [(betas[k] - betas[k - 1], betas[k], k - 1 if k < n_steps else None) for k in range(1, n_steps + 1)]
        sign = 1.0
    else:
        plan = [(betas[k] - betas[k - 1], betas[k - 1], k - 2 if k > 1 else None) for k in range(n_steps, 0, -1)]
        sign = -1.0
    main, tune = slice(n_tune, None), slice(0, n_tune)
    log_w = np.zeros(len(w) - n_tune)
    acceptance = np.zeros(n_steps - 1)
    tuning = step_size is None
    if tuning:
        step_size, moments = np.zeros(n_steps - 1), None
    n_gradients = 0
    for increment, level, j in plan:
        ll, log_p, grad = _densities(log_prior, log_likelihood, w, level, vectorized)
        n_gradients += 1
        if n_gradients == 1:
            _check_start(ll, log_p, grad, direction)
        log_w += sign * increment * ll[main]
        if j is None:
            continue
        if tuning and j == 0:                 # a first guess from the tuning chains (Hoffman & Gelman's heuristic)
            step_size[0] = _initial_step_size(
                lambda v: _densities(log_prior, log_likelihood, v, level, vectorized)[1:],
                w[tune], log_p[tune], grad[tune], inverse_mass[0], rng)
        (w, _, _), _, accept_prob, _ = transition(
            (w, log_p, grad), step_size[j], n_leapfrog,
            lambda v, b=level: _densities(log_prior, log_likelihood, v, b, vectorized)[1:], inverse_mass[j], rng)
        n_gradients += n_leapfrog
        acceptance[j] = accept_prob[main].mean()
        if tuning and j + 1 < n_steps - 1:    # the next transition, from the tuning chains only
            step_size[j + 1] = step_size[j] * np.exp(TUNE_GAIN * (accept_prob[tune].mean() - target_accept))
            if adapt_mass:
                moments = _running_moments(moments, w[tune])
                inverse_mass[j + 1] = moments[1] + MASS_FLOOR
    if not np.all(np.isfinite(log_w)):
        raise FloatingPointError(f"{direction} AIS: some log weights are not finite (the log-likelihood was NaN or "
                                 "inf along the way); check log_likelihood far from the data, or use a longer "
                                 "schedule so that the transitions stay accurate")
    stderr, ess = _weight_summary(log_w)
    estimate = log_mean_exp(log_w)
    result = AISResult(direction=direction, log_evidence=estimate if direction == "forward" else -estimate,
                       log_weights=log_w, stderr=stderr, ess=ess, betas=betas, acceptance=acceptance,
                       step_size=step_size, n_leapfrog=n_leapfrog, inverse_mass=inverse_mass,
                       final=w[main].copy(), seconds=time.perf_counter() - start, n_gradients=n_gradients)
    if ess < MIN_ESS_FRACTION * len(log_w):
        warnings.warn(f"{direction} AIS: the weights' effective sample size is {ess:.1f} of {len(log_w)} chains "
                      f"(below {MIN_ESS_FRACTION:.0%}): a few chains carry the estimate, which is unreliable and "
                      "probably too low (forward) or too high (reverse); lengthen the schedule (more betas) or "
                      "the trajectories (n_leapfrog)", UnreliableEstimateWarning, stacklevel=3)
    return result


def _running_moments(moments, w_tune: np.ndarray) -> tuple:
    """Exponentially weighted mean and variance of the tuning chains' positions over the last steps.

    m ← (1 − a) m + a mean_c(w_c),  v ← (1 − a) v + a mean_c((w_c − m)²),  a = MOMENT_RATE:
    about 1/a steps pooled, so that a handful of tuning chains gives a usable variance, which
    follows the tempered posterior as it narrows.
    """
    mean, spread = w_tune.mean(axis=0), ((w_tune - w_tune.mean(axis=0)) ** 2).mean(axis=0)
    if moments is None:
        return mean, spread
    m, v = moments
    m = (1.0 - MOMENT_RATE) * m + MOMENT_RATE * mean
    return m, (1.0 - MOMENT_RATE) * v + MOMENT_RATE * ((w_tune - m) ** 2).mean(axis=0)


def _check_start(ll, log_p, grad, direction: str) -> None:
    bad = ~(np.isfinite(ll) & np.isfinite(log_p) & np.all(np.isfinite(grad), axis=1))
    if np.any(bad):
        c = int(np.argmax(bad))
        where = "prior" if direction == "forward" else "posterior"
        raise ValueError(f"{direction} AIS: at the start of chain {c} the log-likelihood is {ll[c]} and the tempered "
                         f"log density {log_p[c]} (or its gradient is not finite); start every chain at a {where} "
                         "draw where log p(w) and log p(data|w) are finite")


def _checked_options(d: int, n_betas: int, n_leapfrog, inverse_mass, target_accept):
    """n_leapfrog as an int; inverse_mass as one row (D,) per transition, (K − 1, D)."""
    n_leapfrog = check_count(n_leapfrog, "n_leapfrog", 1)
    inverse_mass = as_float_array(1.0 if inverse_mass is None else inverse_mass, "inverse_mass")
    if inverse_mass.shape not in ((), (d,), (n_betas - 2, d)):
        raise ValueError(f"inverse_mass must be a number, an array ({d},) or one row per transition "
                         f"({n_betas - 2}, {d}) (a forward run's .inverse_mass), got shape {inverse_mass.shape}")
    inverse_mass = np.broadcast_to(inverse_mass, (n_betas - 2, d)).copy()
    if not np.all(np.isfinite(inverse_mass)) or not np.all(inverse_mass > 0):
        raise ValueError("inverse_mass (the diagonal of M⁻¹, about the variance of each weight) must be positive")
    check_positive(target_accept, "target_accept", who="ais", below=1.0, hint="e.g. target_accept=0.8")
    return n_leapfrog, inverse_mass


def ais(log_prior, log_likelihood, init, betas, *, rng: np.random.Generator, n_leapfrog: int = 5,
        step_size=None, n_tune: int | None = None, inverse_mass=None, adapt_mass: bool = True,
        target_accept: float = 0.8, vectorized: bool | None = None) -> AISResult:
    """Forward AIS: a stochastic lower bound on log p(𝒟), from the prior to the posterior.

    log_prior:      w -> log p(w) + any constant: only its shape enters (through the transitions; the
                    weights hold only the likelihood). Tensor (D,) -> scalar Tensor, or (C, D) -> (C,)
                    when it carries `vectorized = True`, as `mv.mcmc.hmc`'s log_prob.
    log_likelihood: w -> log p(𝒟|w), normalised (every constant kept), same convention.
    init:           (n_chains, D) exact draws from the prior.
    betas:          the schedule, strictly increasing from exactly 0 to exactly 1 (`geometric_schedule`).
    rng:            the np.random.Generator of every draw (momenta, jitter, accept/reject).
    n_leapfrog:     leapfrog steps per HMC transition (one transition per β).
    step_size:      None: tuned on the run by the first n_tune chains (default max(2, n_chains // 4)),
                    whose weights are discarded; the step at β_{k+1} is
                    step at β_k · exp(their mean acceptance at β_k − target_accept)),
                    so it is fixed before any counted chain reaches β_{k+1}. Or a number, or an array
                    (K − 1,) with one per transition (e.g. another run's `.step_size`): no tuning chains
                    (then n_tune is refused: it would tune nothing).
    inverse_mass:   the diagonal of HMC's M⁻¹, (D,) or a number (default 1: fits a N(0, 1) prior).
    The chains run side by side: with vectorized log densities each leapfrog step is one engine pass.
    Returns an AISResult; warns (UnreliableEstimateWarning) when the ESS of the weights is < 10% of the chains.
    """
    check_generator(rng, "ais")
    betas = _checked_betas(betas)
    init = _checked_init(init, "ais", "prior draw")
    n_leapfrog, inverse_mass = _checked_options(init.shape[1], len(betas), n_leapfrog, inverse_mass, target_accept)
    steps = _checked_step_sizes(step_size, len(betas), "ais")
    if steps is None:
        n_tune = max(2, len(init) // 4) if n_tune is None else check_count(n_tune, "n_tune", 2)
        if len(init) - n_tune < 2:
            raise ValueError(f"ais: init has {len(init)} chains and {n_tune} of them tune the step size, which leaves "
                             "fewer than 2 whose weights count; pass more prior draws (or a step_size)")
    elif n_tune is not None:
        raise ValueError("ais: n_tune chains tune the step size, but step_size is given, so nothing is tuned; "
                         "pass step_size=None to tune, or drop n_tune")
    else:
        n_tune = 0
    return _anneal(log_prior, log_likelihood, init, betas, "forward", rng=rng, step_size=steps,
                   n_leapfrog=n_leapfrog, inverse_mass=inverse_mass, n_tune=n_tune, target_accept=target_accept,
                   adapt_mass=adapt_mass and steps is None, vectorized=_is_vectorized(log_prior, log_likelihood, vectorized))


def reverse_ais(log_prior, log_likelihood, init, betas, *, rng: np.random.Generator, step_size,
                n_leapfrog: int = 5, inverse_mass=None, vectorized: bool | None = None) -> AISResult:
    """Reverse AIS: a stochastic upper bound on log p(𝒟), from exact posterior draws back to the prior.

    Same path as `ais`, run from β = 1 to β = 0:

        log W_rev = −Σ_k (β_k − β_{k−1}) log p(𝒟|w_k),     E[W_rev] = 1/p(𝒟),

    with w_K = init (exact posterior draws) and w_{k−1} an HMC transition at β_{k−1}
    from w_k. So −log mean W_rev ≥ log p(𝒟) in expectation (Jensen): the upper half of
    the BDMC sandwich (Grosse, Ghahramani & Adams 2015).
    init:       (n_chains, D) exact posterior draws. For simulated data the weights w* the data
                were drawn with are one; several chains may start from copies of it (each chain's
                W_rev still averages to 1/p(𝒟), but the chains are then not independent, so read
                the standard error as a lower limit).
    step_size:  required: a number or an array (K − 1,), e.g. `ais(...).step_size` of a forward run on
                the same schedule. Tuning on these chains would make the kernels depend on the
                posterior draws and bias the bound.
    Other arguments as in `ais`.
    """
    check_generator(rng, "reverse_ais")
    betas = _checked_betas(betas)
    init = _checked_init(init, "reverse_ais", "posterior draw")
    n_leapfrog, inverse_mass = _checked_options(init.shape[1], len(betas), n_leapfrog, inverse_mass, 0.5)
    if step_size is None:
        raise ValueError("reverse_ais needs step_size: tune it in a forward run on the same betas and pass "
                         "step_size=forward.step_size (tuning on the reverse chains would bias the bound)")
    steps = _checked_step_sizes(step_size, len(betas), "reverse_ais")
    return _anneal(log_prior, log_likelihood, init, betas, "reverse", rng=rng, step_size=steps,
                   n_leapfrog=n_leapfrog, inverse_mass=inverse_mass, n_tune=0, target_accept=0.5,
                   adapt_mass=False, vectorized=_is_vectorized(log_prior, log_likelihood, vectorized))


def _checked_step_sizes(step_size, n_betas: int, who: str):
    """None, or one positive step size per transition, (K − 1,)."""
    if step_size is None:
        return None
    if np.ndim(step_size) == 0:
        return np.full(n_betas - 2, check_positive(step_size, "step_size", who=who, hint=(
            f"or {n_betas - 2} positive numbers, one per transition (a forward run's .step_size on the same betas)")))
    steps = as_float_array(step_size, f"{who}: step_size")
    if steps.shape != (n_betas - 2,) or not np.all(np.isfinite(steps)) or not np.all(steps > 0):
        raise ValueError(f"{who}: step_size must be a positive number or {n_betas - 2} positive numbers (one per "
                         f"transition, at betas[1:-1]), got shape {steps.shape}; a forward run's .step_size on the "
                         "same betas fits")
    return steps


# ---------------------------------------------------------------- a network's two log densities


def network_log_densities(model: Module, x, y, *, likelihood: str = "gaussian", noise_sigma=None,
                          prior_sigma: float = 1.0) -> tuple:
    """(log_prior, log_likelihood) of a deterministic network as functions of its flat weights w (minivi/flat.py).

        log p(w)   = Σ_i [ −w_i² / (2 s²) − log s − log(2π)/2 ]          (`flat.log_normal_prior`, s = prior_sigma)
        log p(𝒟|w) = `flat.log_joint(...)`(w) − log p(w)                   (every constant kept)

    so that log_prior + log_likelihood is exactly the log joint that HMC samples. Both take
    (C, D) -> (C,) (`vectorized = True`): all chains in one engine pass.
    """
    joint = log_joint(model, x, y, likelihood=likelihood, noise_sigma=noise_sigma, prior_sigma=prior_sigma)
    scales = np.full(n_weights(model), float(prior_sigma))

    def log_prior(w) -> Tensor:
        w = as_tensor(w)
        if w.ndim not in (1, 2) or w.shape[-1] != len(scales):
            raise ValueError(f"the model has D = {len(scales)} weights, so w must have shape ({len(scales)},), or "
                             f"(C, {len(scales)}) for C weight vectors at once; got shape {w.shape}")
        return log_normal_prior(w, scales)

    def log_likelihood(w) -> Tensor:
        w = as_tensor(w)
        return joint(w) - log_normal_prior(w, scales)

    log_prior.vectorized = log_likelihood.vectorized = True
    return log_prior, log_likelihood


# ---------------------------------------------------------------- ELBOs with error bars


def mean_field_vector(model: Module) -> tuple:
    """(mu, sigma), each (D,): a network of `BayesLinear` layers as one mean-field Gaussian over the flat weights.

    The order is that of the same network built from `mv.Linear` layers (minivi/flat.py): for each
    layer its weight (in, out) row by row, then its bias. sigma = softplus(rho) (step 4).
    Each layer counts once, however often the network uses it (`Module.modules()`), as in the
    flat view: a layer used twice is one set of weights, and one KL.
    """
    if not isinstance(model, Module):
        raise TypeError(f"mean_field_vector needs a minivi Module of BayesLinear layers, got {type(model).__name__}")
    layers = [m for m in model.modules() if isinstance(m, BayesLinear)]
    others = [type(m).__name__ for m in model.modules() if callable(getattr(m, "kl", None))
              and not isinstance(m, BayesLinear)]
    if not layers or others:
        raise TypeError("mean_field_vector needs a network whose variational layers are all BayesLinear; got "
                        + (f"{', '.join(others)}" if others else "none"))
    mus, sigmas = [], []
    for layer in layers:
        for mu, rho in layer.variational_parameters():
            mus.append(mu.data.ravel())
            sigmas.append(softplus(rho.data.ravel()))
    return np.concatenate(mus), np.concatenate(sigmas)


@dataclass
class ELBOEstimate:
    """ELBO(q) = E_q[log p(w) + log p(𝒟|w)] + H[q], with its Monte Carlo standard error."""

    elbo: float
    stderr: float
    n_samples: int
    entropy: float                          # H[q], in closed form

    def __str__(self):
        return f"ELBO {self.elbo:.3f} ± {self.stderr:.3f} ({self.n_samples} samples)"


def elbo(log_prior, log_likelihood, q, *, n_samples: int = 2000, rng: np.random.Generator,
         vectorized: bool | None = None, batch_size: int = 500) -> ELBOEstimate:
    """The ELBO of a Gaussian q on the log joint log p(w) + log p(𝒟|w), with its Monte Carlo error (step 3).

        ELBO(q) = E_q[log p(w) + log p(𝒟|w)] + H[q] = log p(𝒟) − KL[q ‖ p(w|𝒟)]
        H[N(mu, L Lᵀ)] = D/2 (1 + log 2π) + Σ_i log L_ii          (mean-field: L = diag(sigma))

    The expectation by Monte Carlo over w_s = mu + L eps_s, eps_s ~ N(0, I) from rng
    (never from q's own generator, so reading the ELBO does not change q's later draws);
    the entropy in closed form. stderr = sd_s(log p(w_s) + log p(𝒟|w_s)) / √S.
    q: a `FullCovGaussian`, a network of `BayesLinear` layers (`mean_field_vector`), or
       a pair (mu, sigma) of arrays (D,) for a mean-field q.
    log_prior, log_likelihood: as for `ais`; the same functions give the same log joint.
    """
    check_generator(rng, "elbo")
    n_samples = check_count(n_samples, "n_samples", 2)
    batch_size = check_count(batch_size, "batch_size", 1)
    mu, scale = _gaussian_of(q)
    vectorized = _is_vectorized(log_prior, log_likelihood, vectorized)
    joint = np.empty(n_samples)
    for start in range(0, n_samples, batch_size):
        eps = rng.standard_normal((min(batch_size, n_samples - start), mu.size))
        w = mu + (eps * scale if scale.ndim == 1 else eps @ scale.T)
        joint[start:start + len(w)] = _log_joint_values(log_prior, log_likelihood, w, vectorized)
    if not np.all(np.isfinite(joint)):
        raise FloatingPointError("elbo: log p(w) + log p(data|w) is not finite at some sampled w; check the log "
                                 "densities far from q's mean")
    log_diag = np.log(scale) if scale.ndim == 1 else np.log(np.diag(scale))
    entropy = float(0.5 * mu.size * (1.0 + LOG_2PI) + np.sum(log_diag))
    return ELBOEstimate(elbo=float(joint.mean() + entropy), stderr=float(joint.std(ddof=1) / np.sqrt(n_samples)),
                        n_samples=n_samples, entropy=entropy)


def _gaussian_of(q) -> tuple:
    """(mu (D,), sigma (D,)) for a mean-field q, or (mu (D,), L (D, D)) for a full-covariance one."""
    if isinstance(q, FullCovGaussian):
        return q.mu.data.copy(), q.scale_tril()
    if isinstance(q, Module):
        return mean_field_vector(q)
    if isinstance(q, tuple) and len(q) == 2:
        mu, sigma = (as_float_array(v, "elbo: q") for v in q)
        if mu.ndim != 1 or sigma.shape != mu.shape or not np.all(np.isfinite(mu)) or not np.all(np.isfinite(sigma)) \
                or not np.all(sigma > 0):
            raise ValueError(f"elbo: a mean-field q given as (mu, sigma) needs two finite arrays of shape (D,) with "
                             f"sigma > 0, got shapes {mu.shape} and {sigma.shape}")
        return mu, sigma
    raise TypeError(f"elbo: q must be a FullCovGaussian, a network of BayesLinear layers or a pair (mu, sigma), "
                    f"got {type(q).__name__}")


def _log_joint_values(log_prior, log_likelihood, w: np.ndarray, vectorized: bool) -> np.ndarray:
    with no_grad():
        if vectorized:
            return (_checked_value(log_prior(Tensor(w)), len(w), "log_prior").data
                    + _checked_value(log_likelihood(Tensor(w)), len(w), "log_likelihood").data)
        return np.array([_checked_value(log_prior(Tensor(v)), None, "log_prior").item()
                         + _checked_value(log_likelihood(Tensor(v)), None, "log_likelihood").item() for v in w])
