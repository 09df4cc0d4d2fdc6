"""Hamiltonian Monte Carlo (HMC) from scratch: draws from the true posterior p(w|𝒟), the gold standard for VI.

Variational inference replaces p(w|𝒟) by a simple q (step 3 of the
derivation). To see how close q gets, we need the posterior itself. HMC
(Neal 2011, "MCMC using Hamiltonian dynamics") draws from it using only the
unnormalised log density log p(w|𝒟) + const = log p(𝒟|w) + log p(w) (e.g.
`mv.flat.log_joint`) and its gradient, which minivi's engine gives us.

The idea. Add a momentum p ~ N(0, M) beside the weights w and treat

    H(w, p) = -log p(w|𝒟) + ½ pᵀ M⁻¹ p          (potential energy + kinetic energy)

as the energy of a particle. exp(-H) is the joint density of (w, p), whose
w-marginal is the posterior. Hamilton's equations

    dw/dt = M⁻¹ p,      dp/dt = ∇_w log p(w|𝒟)

keep H constant, so following them moves w far across the posterior (the
particle rolls through the valleys of -log p) yet lands on a point that is
(almost) as probable as the start. One iteration:

  1. draw a fresh momentum p ~ N(0, M)                 (Gibbs step on p: w stays)
  2. follow the dynamics for L leapfrog steps of size ε  (`leapfrog`)
  3. accept the end point with probability min(1, exp(H_start - H_end))
     (Metropolis), otherwise keep the start.

Step 3 makes the chain exact: leapfrog is reversible and preserves volume,
so the accept/reject step corrects its energy error whatever its size. The
error only costs acceptance. (`hmc` documents what this means for a wrong
gradient.)

Tuning during warm-up (draws discarded):
  - the step size ε by dual averaging to a target acceptance rate
    (Hoffman & Gelman 2014, "The No-U-Turn Sampler", §3.2);
  - a diagonal mass matrix M = diag(1 / Var[w_d]) estimated from the warm-up
    draws in windows, as Stan does: a posterior that is wide in one weight and
    narrow in another then looks round to the sampler, so one ε fits all.

Diagnostics (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, "Rank-
normalization, folding, and localization: an improved R-hat"): split R-hat
(bulk and folded) and the bulk effective sample size, in minivi/diagnostics.py and re-exported
here, with a warning when R-hat > 1.01 or the ESS is low.

Every random number comes from the np.random.Generator passed in; the same
seed gives the same draws, bit for bit.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
import numpy as np

from .diagnostics import effective_sample_size, monte_carlo_se, rank_normalize, split_rhat
from .nn import check_count, check_generator, check_positive
from .tensor import Tensor, as_float_array

# A trajectory whose energy error H_end - H_start exceeds this is "divergent":
# the integrator left the region where it is accurate (Stan uses the same 1000).
# It is rejected (its acceptance probability is exp(-1000) = 0 anyway) and counted.
DIVERGENCE_THRESHOLD = 1000.0
# The dual-averaging constants recommended by Hoffman & Gelman (2014, §3.2).
DA_GAMMA, DA_T0, DA_KAPPA = 0.05, 10.0, 0.75
# Fewer warm-up iterations than this: tune the step size only (too few draws for a variance).
MIN_WARMUP_FOR_MASS = 20
# The trajectory length is jittered by a factor uniform in [1 - JITTER, 1 + JITTER] (see `hmc`).
JITTER = 0.2


__all__ = ["hmc", "HMCResult", "leapfrog", "transition", "hamiltonian", "log_prob_and_grad", "DualAveraging",
           "mass_windows", "regularized_variance", "ConvergenceWarning",
           "split_rhat", "effective_sample_size", "monte_carlo_se", "rank_normalize"]


class ConvergenceWarning(UserWarning):
    """The chains may not have converged or mixed: R-hat > 1.01, a low ESS, or divergent transitions."""


# ---------------------------------------------------------------- the log density and its gradient


def log_prob_and_grad(log_prob, w: np.ndarray, vectorized: bool = False) -> tuple:
    """(log p(w_c), ∇ log p(w_c)) for every row w_c of w (C, D), from the engine's autodiff.

    vectorized=True: log_prob takes all chains at once, Tensor (C, D) -> Tensor (C,)
    (e.g. `mv.flat.log_joint`), and one backward pass with output gradient 1 per
    chain gives every chain's gradient (the chains do not interact). Otherwise
    log_prob is called on one Tensor (D,) per chain and must return a scalar.
    """
    if vectorized:
        t = Tensor(w, requires_grad=True)
        out = _checked_output(log_prob(t), (w.shape[0],), "Tensor (C, D) -> Tensor (C,)")
        out.backward(np.ones(w.shape[0]))
        return out.data.copy(), _checked_grad(t)
    values, grads = np.empty(w.shape[0]), np.empty_like(w)
    for c, w_c in enumerate(w):
        t = Tensor(w_c, requires_grad=True)
        out = _checked_output(log_prob(t), (), "Tensor (D,) -> scalar Tensor")
        out.backward()
        values[c], grads[c] = out.item(), _checked_grad(t)
    return values, grads


def _checked_grad(w: Tensor) -> np.ndarray:
    if w.grad is None:   # the result required a gradient, but through other Tensors (e.g. a model's parameters)
        raise ValueError("log_prob's result does not depend on the weights it was given (no gradient reached "
                         "them); compute it from its argument w, e.g. with mv.flat.functional_forward(model, w, x)")
    return w.grad


def _checked_output(out, shape: tuple, signature: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"log_prob must be a function {signature} built from minivi ops (so the engine can "
                        f"differentiate it), but it returned a {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"log_prob must be a function {signature}, but it returned shape {out.shape}; "
                         "sum the log density over data points and weights")
    if not out.requires_grad:
        raise ValueError("log_prob's result does not depend on the weights it was given (no gradient flows "
                         "back to them); compute it from its argument w with minivi ops")
    return out


# ---------------------------------------------------------------- the integrator


def hamiltonian(log_p, p, inverse_mass=1.0):
    """H(w, p) = -log p(w) + ½ pᵀ M⁻¹ p for a diagonal M⁻¹ (given as a vector or a number); p (..., D)."""
    return -np.asarray(log_p) + 0.5 * np.sum(p * p * inverse_mass, axis=-1)


def leapfrog(w, p, step_size, n_steps: int, value_and_grad, inverse_mass=1.0, start=None) -> tuple:
    """n_steps leapfrog steps of Hamilton's equations; returns (w, p, log_p, grad) at the end.

    One step of size ε (the "half step, full step, half step" of Neal 2011, eq. 2.28-2.30):

        p_½  = p   + (ε/2) ∇ log p(w)           half step in momentum
        w'   = w   + ε M⁻¹ p_½                   full step in position
        p'   = p_½ + (ε/2) ∇ log p(w')          half step in momentum

    Why this order: each of the three updates is a shear (it changes one of w, p
    by an amount that depends only on the other), so the step preserves volume;
    and the step is symmetric, so running it with -p' from (w', -p') gives back
    (w, -p): it is time-reversible. These two properties are what make the
    Metropolis correction in `hmc` exact. Its energy error is O(ε²) over a fixed
    trajectory time. The gradient at the end of one step is the one at the start
    of the next, so L steps cost L gradient evaluations.

    w, p:            arrays (D,) or (C, D), one row per chain
    step_size:       ε, a number or an array broadcasting against w (one per chain: shape (C, 1))
    value_and_grad:  w -> (log p(w), ∇ log p(w)), e.g. `lambda w: log_prob_and_grad(f, w)`
    inverse_mass:    the diagonal of M⁻¹, a number or an array broadcasting against w
    start:           optional (log p(w), ∇ log p(w)) at the starting w, to save one evaluation
    """
    n_steps = check_count(n_steps, "n_steps", 0, who="leapfrog")
    if np.ndim(step_size) == 0:
        step_size = check_positive(step_size, "step_size", who="leapfrog", hint="or an array broadcasting against w")
    step = np.asarray(step_size, dtype=float)
    if not np.all(step > 0):
        raise ValueError(f"leapfrog: the step size must be > 0, got {step_size!r}")
    w, p = np.array(w, dtype=float), np.array(p, dtype=float)
    log_p, grad = value_and_grad(w) if start is None else start
    for _ in range(n_steps):
        p = p + 0.5 * step * grad
        w = w + step * inverse_mass * p
        log_p, grad = value_and_grad(w)
        p = p + 0.5 * step * grad
    return w, p, log_p, grad


# ---------------------------------------------------------------- step size: dual averaging


class DualAveraging:
    """Tune log ε so that the mean acceptance probability α approaches a target δ (Hoffman & Gelman 2014, §3.2).

    After iteration t with acceptance probability α_t:

        H̄_t      = (1 - 1/(t + t0)) H̄_{t-1} + (δ - α_t) / (t + t0)
        log ε_t  = μ - (√t / γ) H̄_t
        log ε̄_t  = t^(-κ) log ε_t + (1 - t^(-κ)) log ε̄_{t-1}

    H̄ is the running mean of the acceptance shortfall: too many rejections
    (α < δ) make it positive and shrink ε. The iterates ε_t explore; their
    weighted average ε̄ settles and is used after warm-up. μ = log(10 ε_0)
    biases early trials towards larger steps (cheaper trajectories).
    γ = 0.05, t0 = 10, κ = 0.75 as recommended there.

    The average ε̄ leans towards the smaller steps the iterates tried, so the
    acceptance rate after warm-up usually lies somewhat above the target
    (measured: 0.88-0.94 for target 0.8 on the conjugate model of the tests).
    """

    def __init__(self, step_size: float, target: float):
        self.target = target
        self.restart(step_size)

    def restart(self, step_size: float) -> None:
        """Start again from step_size (after the mass matrix changed, the best ε changes too)."""
        self.mu = np.log(10.0 * step_size)
        self.t, self.h_bar, self.log_step, self.log_step_bar = 0, 0.0, np.log(step_size), 0.0

    def update(self, accept_prob: float) -> None:
        self.t += 1
        weight = 1.0 / (self.t + DA_T0)
        self.h_bar = (1.0 - weight) * self.h_bar + weight * (self.target - accept_prob)
        self.log_step = self.mu - np.sqrt(self.t) / DA_GAMMA * self.h_bar
        eta = self.t ** -DA_KAPPA
        self.log_step_bar = eta * self.log_step + (1.0 - eta) * self.log_step_bar

    @property
    def step_size(self) -> float:
        return float(np.exp(self.log_step))

    @property
    def final_step_size(self) -> float:
        return float(np.exp(self.log_step_bar)) if self.t else self.step_size


def mass_windows(n_warmup: int) -> list:
    """The warm-up iterations after which the mass matrix is re-estimated: Stan's windowed adaptation.

    Warm-up = a fast window (75 iterations: only ε adapts, while the chains find
    the typical set), slow windows of 25, 50, 100, ... iterations (each ends by
    setting M⁻¹ to the variance of its draws; doubling, as later estimates are
    better and can use more draws), and a final fast window (50 iterations: ε
    adapts to the final M). A slow window after the first one runs to the end of
    the slow part if the window after it would not fit (its end + twice its size
    > n_warmup - 50); the first one (75, 100) is never stretched, so n_warmup =
    160 gives the windows (75, 100) and (100, 110), as Stan's do.
    If 75 + 25 + 50 > n_warmup, the three parts take int(0.15 n_warmup),
    the rest and int(0.1 n_warmup) iterations: one slow window. Fewer than
    MIN_WARMUP_FOR_MASS = 20 iterations: no mass adaptation (Stan's rule too).
    (Stan's stan/mcmc/windowed_adaptation.hpp, with init_buffer 75, term_buffer 50,
    window 25, its defaults.) Returns the list of (start, end) iteration ranges of
    the slow windows, end excluded.
    """
    if n_warmup < MIN_WARMUP_FOR_MASS:
        return []
    init, term, base = 75, 50, 25
    if init + term + base > n_warmup:
        init, term = int(0.15 * n_warmup), int(0.1 * n_warmup)
        base = n_warmup - init - term
    end_slow = n_warmup - term
    windows = [(init, init + base)]
    size = base
    while windows[-1][1] < end_slow:
        start, size = windows[-1][1], 2 * size
        end = start + size
        if end + 2 * size > end_slow:   # the next window would not fit: this one runs to the end
            end = end_slow
        windows.append((start, end))
    return windows


def regularized_variance(draws: np.ndarray) -> np.ndarray:
    """The variance of each coordinate of draws (n, D), shrunk a little towards 1e-3 (as Stan does).

    var_reg = n/(n + 5) · var + 1e-3 · 5/(n + 5): a short window can give a
    tiny or zero variance for some weight, which would make M⁻¹ singular.
    """
    n = draws.shape[0]
    return n / (n + 5.0) * draws.var(axis=0, ddof=1) + 1e-3 * 5.0 / (n + 5.0)


# ---------------------------------------------------------------- the sampler


@dataclass
class HMCResult:
    """What `hmc` returns. Shapes: C chains, S kept draws, D weights."""

    samples: np.ndarray                    # (C, S, D), warm-up discarded
    log_prob: np.ndarray                   # (C, S), log p(w) of every kept draw
    acceptance_rate: float                 # fraction of proposals accepted after warm-up, over all chains
    acceptance_rate_per_chain: np.ndarray  # (C,)
    step_size: float                       # ε after warm-up (shared by the chains; jittered around it)
    inverse_mass: np.ndarray               # (D,), the diagonal of M⁻¹ after warm-up
    n_leapfrog: int                        # leapfrog steps per iteration after warm-up
    n_divergent: int                       # divergent transitions after warm-up, all chains (each one rejected)
    n_divergent_per_chain: np.ndarray      # (C,)
    n_divergent_warmup: int                # divergent transitions during warm-up (common while ε is tuned)
    rhat: np.ndarray                       # (D,), split R-hat: max of the bulk and the folded (tail) one
    ess: np.ndarray                        # (D,), bulk effective sample size summed over chains

    def summary(self) -> str:
        """One line per quantity: what a student should look at before trusting the draws."""
        return (f"HMC: {self.samples.shape[0]} chains x {self.samples.shape[1]} draws of {self.samples.shape[2]} "
                f"weights; step size {self.step_size:.3g}, {self.n_leapfrog} leapfrog steps; acceptance "
                f"{self.acceptance_rate:.2f}; divergent transitions: {self.n_divergent} after warm-up, "
                f"{self.n_divergent_warmup} during warm-up (discarded); "
                f"max R-hat {np.max(self.rhat):.3f}; min bulk ESS {np.min(self.ess):.0f}")


def _checked_init(init) -> np.ndarray:
    init = as_float_array(init, "hmc: init")
    if init.ndim != 2:
        raise ValueError(f"hmc: init must have shape (n_chains, D), one starting point per chain, got {init.shape}; "
                         "for one chain pass init[None, :]")
    if init.shape[0] < 1 or init.shape[1] < 1:
        raise ValueError(f"hmc: init of shape {init.shape} has no chains or no weights")
    if not np.all(np.isfinite(init)):
        raise ValueError("hmc: init contains NaN or inf; start every chain at a finite point, e.g. the prior "
                         "mean plus small noise")
    return init


def _checked_options(step_size, n_warmup, target_accept, trajectory_length, inverse_mass, d):
    if step_size is not None:
        step_size = check_positive(step_size, "step_size", who="hmc", hint="or leave it None to let the warm-up find one")
    elif n_warmup == 0:
        raise ValueError("hmc: with n_warmup=0 nothing tunes the step size, so pass step_size=... yourself "
                         "(or give some warm-up iterations, e.g. n_warmup=500)")
    check_positive(target_accept, "target_accept", who="hmc", below=1.0, hint="e.g. target_accept=0.8")
    check_positive(trajectory_length, "trajectory_length", who="hmc", hint="e.g. trajectory_length=2.0")
    if inverse_mass is None:
        return step_size, np.ones(d)
    inverse_mass = np.broadcast_to(as_float_array(inverse_mass, "hmc: inverse_mass"), (d,)).copy()
    if not np.all(np.isfinite(inverse_mass)) or not np.all(inverse_mass > 0):
        raise ValueError("hmc: inverse_mass (the diagonal of M⁻¹) must be positive and finite")
    return step_size, inverse_mass


def _initial_step_size(value_and_grad, w, log_p, grad, inverse_mass, rng) -> float:
    """A first ε for warm-up: halve or double until one leapfrog step is accepted with probability ≈ ½.

    (Hoffman & Gelman 2014, Algorithm 4.) Starting from ε = 1, a step is too
    large if the mean acceptance probability over the chains is below ½.
    """
    step = 1.0
    p = rng.standard_normal(w.shape) / np.sqrt(inverse_mass)

    def accept(step):
        with np.errstate(all="ignore"):
            _, p_new, log_p_new, _ = leapfrog(w, p, step, 1, value_and_grad, inverse_mass, start=(log_p, grad))
            delta = hamiltonian(log_p, p, inverse_mass) - hamiltonian(log_p_new, p_new, inverse_mass)
        return float(np.mean(np.exp(np.minimum(np.nan_to_num(delta, nan=-np.inf), 0.0))))

    direction = 1.0 if accept(step) > 0.5 else -1.0
    for _ in range(60):   # 2^±60: far beyond any sensible step size
        if (accept(step) > 0.5) != (direction > 0):
            break
        step *= 2.0 ** direction
    return step


def hmc(log_prob, init, n_samples: int = 1000, n_warmup: int = 1000, *, rng: np.random.Generator,
        step_size: float | None = None, target_accept: float = 0.8, trajectory_length: float = 2.0,
        n_leapfrog: int | None = None, max_leapfrog: int = 256, inverse_mass=None, adapt_mass: bool = True,
        vectorized: bool | None = None, warn: bool = True) -> HMCResult:
    """Draw from the density exp(log_prob(w)) with Hamiltonian Monte Carlo, several chains side by side.

    log_prob: Tensor (D,) -> scalar Tensor, the unnormalised log density (e.g. `mv.flat.log_joint(...)`).
              If it also takes (C, D) -> (C,) (it has `vectorized = True`, as log_joint's has), all
              chains are evaluated in one engine pass per leapfrog step.
    init:     array (n_chains, D), one starting point per chain.
    n_samples, n_warmup: draws kept per chain, and warm-up iterations (tuning, then discarded).
    rng:      the np.random.Generator every draw comes from (momenta, jitter, accept/reject).

    Each iteration (all chains in lockstep, each with its own random numbers):
      p ~ N(0, M)                  with M = diag(1 / inverse_mass)
      ε_c = ε · u_c, u_c ~ U(1 - 0.2, 1 + 0.2)  jittered trajectory length L ε_c: a fixed length can
                                   match a period of the dynamics and return to where it started
                                   (Neal 2011, §3.2), the jitter breaks that
      (w', p') = leapfrog(w, p, ε_c, L)        L = n_leapfrog, or trajectory_length / ε rounded, capped at
                                   max_leapfrog (after the mass matrix has scaled every weight to about
                                   unit spread, a length of about 2 moves a weight by about its spread)
      accept w' with probability α = min(1, exp(H(w, p) - H(w', p'))), else keep w
      divergent if H(w', p') - H(w, p) > 1000 or not finite: rejected and counted.

    Warm-up: ε by dual averaging (`DualAveraging`) to the mean acceptance
    probability target_accept; M⁻¹ = the pooled variance of all chains' draws
    in each slow window (`mass_windows`, `regularized_variance`), unless
    adapt_mass=False. The chains share one ε and one M (more draws for the
    estimate, and one step size to vectorise over); after warm-up both are
    fixed, so the kept draws are an exact Markov chain. n_warmup=0 needs a
    step_size (and uses inverse_mass, default ones).

    A wrong gradient does not bias the answer. The Metropolis step looks only
    at the value of H; the gradient only decides where the proposal goes. Any
    force field F(w) that depends on w alone gives leapfrog updates that are
    still shears (volume-preserving) and still symmetric (reversible), so the
    accept/reject step keeps p(w|𝒟) exactly stationary. A wrong gradient makes
    the energy error larger, so fewer proposals are accepted and the chain
    mixes more slowly; a wrong log density, by contrast, is a different target.
    (tests/test_mcmc.py measures both.)

    Raises ValueError for a non-finite init, a log density that is NaN, inf or
    -inf at some chain's start, a step size <= 0, or n_warmup=0 without a step
    size. Warns (ConvergenceWarning) when max R-hat > 1.01, the smallest bulk
    ESS is below 100 per chain, or there were divergent transitions after warm-up.
    """
    check_generator(rng, "hmc")
    init = _checked_init(init)
    n_chains, d = init.shape
    n_samples, n_warmup = check_count(n_samples, "n_samples", 1, who="hmc"), check_count(n_warmup, "n_warmup", 0, who="hmc")
    max_leapfrog = check_count(max_leapfrog, "max_leapfrog", 1, who="hmc")
    if n_leapfrog is not None:
        n_leapfrog = check_count(n_leapfrog, "n_leapfrog", 1, who="hmc")
    step_size, inverse_mass = _checked_options(step_size, n_warmup, target_accept, trajectory_length,
                                               inverse_mass, d)
    vectorized = bool(getattr(log_prob, "vectorized", False)) if vectorized is None else bool(vectorized)

    def value_and_grad(w):
        return log_prob_and_grad(log_prob, w, vectorized)

    w = init.copy()
    log_p, grad = value_and_grad(w)
    bad = ~(np.isfinite(log_p) & np.all(np.isfinite(grad), axis=1))
    if np.any(bad):
        c = int(np.argmax(bad))
        raise ValueError(f"hmc: at the starting point of chain {c} the log density is {log_p[c]} (or its gradient "
                         "is not finite); start every chain where the density is positive and finite")
    if step_size is None:
        step_size = _initial_step_size(value_and_grad, w, log_p, grad, inverse_mass, rng)
    adapter = DualAveraging(step_size, target_accept)
    windows = mass_windows(n_warmup) if adapt_mass else []
    window_draws = []
    final_step = step_size   # replaced by the dual-averaging result at the end of warm-up

    samples = np.empty((n_chains, n_samples, d))
    kept_log_p = np.empty((n_chains, n_samples))
    accepted = np.zeros(n_chains)
    divergent = np.zeros(n_chains, dtype=int)
    n_divergent_warmup = 0
    for it in range(n_warmup + n_samples):
        warming = it < n_warmup
        step = adapter.step_size if warming else final_step
        n_steps = n_leapfrog or _n_steps(trajectory_length, step, max_leapfrog)
        (w, log_p, grad), accept, accept_prob, is_divergent = transition(
            (w, log_p, grad), step, n_steps, value_and_grad, inverse_mass, rng)
        if warming:
            n_divergent_warmup += int(is_divergent.sum())
            adapter.update(float(accept_prob.mean()))
            window = next((win for win in windows if win[0] <= it < win[1]), None)
            if window is not None:
                window_draws.append(w.copy())
                if it == window[1] - 1:
                    inverse_mass = regularized_variance(np.concatenate(window_draws))
                    window_draws = []
                    adapter.restart(adapter.step_size)
            if it == n_warmup - 1:
                final_step = adapter.final_step_size
        else:
            s = it - n_warmup
            samples[:, s], kept_log_p[:, s] = w, log_p
            accepted += accept
            divergent += is_divergent

    final_n_steps = n_leapfrog or _n_steps(trajectory_length, final_step, max_leapfrog)
    result = HMCResult(samples=samples, log_prob=kept_log_p,
                       acceptance_rate=float(accepted.sum() / (n_chains * n_samples)),
                       acceptance_rate_per_chain=accepted / n_samples, step_size=float(final_step),
                       inverse_mass=np.asarray(inverse_mass, dtype=float).copy(), n_leapfrog=final_n_steps,
                       n_divergent=int(divergent.sum()), n_divergent_per_chain=divergent,
                       n_divergent_warmup=n_divergent_warmup,
                       rhat=split_rhat(samples) if n_samples >= 4 else np.full(d, np.nan),
                       ess=effective_sample_size(samples) if n_samples >= 4 else np.full(d, np.nan))
    if warn:
        _warn_if_unconverged(result)
    return result


def transition(state: tuple, step_size: float, n_steps: int, value_and_grad, inverse_mass,
               rng: np.random.Generator) -> tuple:
    """One HMC iteration for every chain: fresh momentum, a jittered leapfrog trajectory, accept or reject.

    state: (w (C, D), log p(w) (C,), ∇ log p(w) (C, D)). Returns (the new state,
    accepted (C,) bools, acceptance probabilities α (C,), divergent (C,) bools).
    Draws, in this order: the jitter u_c ~ U(0.8, 1.2), the momenta p ~ N(0, M),
    the uniforms of the Metropolis test.
    """
    w, log_p, grad = state
    n_chains = w.shape[0]
    jittered = step_size * rng.uniform(1.0 - JITTER, 1.0 + JITTER, size=(n_chains, 1))
    p = rng.standard_normal(w.shape) / np.sqrt(inverse_mass)          # p ~ N(0, M), M = diag(1/inverse_mass)
    with np.errstate(all="ignore"):   # a diverging trajectory may overflow; it is caught below
        w_new, p_new, log_p_new, grad_new = leapfrog(w, p, jittered, n_steps, value_and_grad, inverse_mass,
                                                     start=(log_p, grad))
        energy_error = hamiltonian(log_p_new, p_new, inverse_mass) - hamiltonian(log_p, p, inverse_mass)
    finite = np.isfinite(energy_error) & np.all(np.isfinite(grad_new), axis=1)
    divergent = ~finite | (energy_error > DIVERGENCE_THRESHOLD)
    accept_prob = np.where(divergent, 0.0, np.exp(-np.maximum(np.where(finite, energy_error, 0.0), 0.0)))
    accept = rng.uniform(size=n_chains) < accept_prob             # Metropolis: α = min(1, exp(-ΔH))
    new_state = (np.where(accept[:, None], w_new, w), np.where(accept, log_p_new, log_p),
                 np.where(accept[:, None], grad_new, grad))
    return new_state, accept, accept_prob, divergent


def _n_steps(trajectory_length: float, step: float, max_leapfrog: int) -> int:
    """L = trajectory_length / ε rounded, at least 1 and at most max_leapfrog."""
    return int(min(max_leapfrog, max(1, round(trajectory_length / step))))


def _warn_if_unconverged(result: HMCResult) -> None:
    n_chains = result.samples.shape[0]
    problems = []
    if np.any(~np.isfinite(result.rhat)):
        problems.append("R-hat is undefined for some weights: too few draws (need at least 4 per chain), or "
                        "a weight that never moved (every proposal rejected: lower the step size)")
    else:
        if np.max(result.rhat) > 1.01:
            problems.append(f"max split R-hat = {np.max(result.rhat):.3f} > 1.01 (the chains disagree: "
                            "run longer, or check for several modes)")
        if np.min(result.ess) < 100 * n_chains:
            problems.append(f"min bulk ESS = {np.min(result.ess):.0f} < 100 per chain (estimates are noisy: "
                            "draw more samples)")
    if result.n_divergent:
        problems.append(f"{result.n_divergent} divergent transitions after warm-up (the step size is too large "
                        "for some region: raise target_accept, e.g. 0.95, or reparameterise)")
    if problems:
        warnings.warn("HMC diagnostics: " + "; ".join(problems), ConvergenceWarning, stacklevel=3)
