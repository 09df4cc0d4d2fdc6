"""Checks for exercise 10: the log weights of annealed importance sampling and the log evidence (Neal 2001).

Ground truth, written here independently of the student's file and of minivi:
the sum Σ_t (β_t − β_{t−1}) log p(𝒟|w_{t−1}) as a loop over the steps, the log
of the mean of the weights shifted by their largest (so nothing overflows), and
a whole AIS run on a conjugate model (Bayesian linear regression, 2 weights,
12 points) whose evidence log p(𝒟) = log N(y; 0, s² I + X Xᵀ) is exact, with
transitions that draw exactly from each π_β (a draw from π_β, whatever the
current point, leaves π_β invariant), so the only error left is Monte Carlo.

The diagnosis of ais_log_weights runs the student's function on 5 random
schedules (T = 2 to 9 steps, uneven) and random tables of log-likelihoods,
and fits each chain's result exactly as Σ_{t=0}^{T} a_t log p(𝒟|w_t) + b.
The right weight has a_t = β_{t+1} − β_t for t < T and a_T = 0. Each mistake
leaves its own coefficients: the states one later (a_t = β_t − β_{t−1} for
t ≥ 1), β_t for its increment, −(β_t − β_{t−1}), 1/T, the increments / T,
...; the report prints
the fitted weight, so the student sees what their code computes. The result's
shape names the wrong axis summed.

The diagnosis of log_evidence_estimate runs it on 12 random sets of log
weights (n = 2 to 60) and fits the result exactly as a sum of log Σ_c W_c,
log n, mean_c log W_c, max_c log W_c, (log Σ_c W_c)/n, n and 1 (the right one is
log Σ_c W_c − log n); then it shifts one set by ±1000 nats, and tries a set
with one log weight 3000 nats below the others, and names a result that is
no longer finite.
"""
import numpy as np

from .core import (Diagnosis, Failure, as_array, describe_terms, exercise, expect_close, fit_terms, function, matches,
                   number, safe_diagnose)

# Tolerances. The weights are sums of T products: a right answer differs from the loop below by rounding,
# ~1e-15 relative, so rtol 1e-10. The log-mean-exp of log weights near ±1000 loses ~1e-13 absolute.
VALUE_RTOL, VALUE_ATOL = 1e-10, 1e-10
# The run on the conjugate model: the estimate must lie within 4 standard errors of the exact log p(𝒟).
# Over 200 seeds the right functions stayed within 2.94 standard errors; the mistakes named below miss
# by 10 or more (the weights at the new point, the trapezoid rule, the mean of the log weights).
N_STANDARD_ERRORS = 4.0
# Probe log weights are shifted by this much to find an estimate that overflows (exp(710) = inf in
# float64) or underflows (exp(−746) = 0): log weights grow with the data set.
SHIFT = 1000.0

EX10 = exercise(10, "ais", "ex10_ais_weights.py",
                "the log weights of annealed importance sampling (Neal 2001) and the log evidence they estimate",
                ("ais_log_weights", "log_evidence_estimate"))


# ---------------------------------------------------------------- ground truth


def true_log_weights(log_likelihoods, betas):
    """Σ_{t=1}^{T} (β_t − β_{t−1}) log p(𝒟|w_{t−1}) for each chain, a loop over the steps."""
    log_w = np.zeros(log_likelihoods.shape[1])
    for t in range(1, len(betas)):
        log_w += (betas[t] - betas[t - 1]) * log_likelihoods[t - 1]
    return log_w


def true_log_mean_exp(log_w):
    """log (1/n Σ_c exp(log_w_c)) = m + log (1/n Σ_c exp(log_w_c − m)), m = max_c log_w_c."""
    m = np.max(log_w)
    return m + np.log(np.mean(np.exp(log_w - m)))


def _weights(m, log_likelihoods, betas):
    got = function(m, "ais_log_weights")(log_likelihoods.copy(), betas.copy())
    return as_array(got, "ais_log_weights")


def _estimate(m, log_w):
    return as_array(function(m, "log_evidence_estimate")(log_w.copy()), "log_evidence_estimate")


# ---------------------------------------------------------------- diagnosis of ais_log_weights


def _random_schedule(rng, n_steps):
    """0 = β_0 < ... < β_T = 1 with uneven steps, none shorter than 0.02 (so no two coefficients coincide)."""
    while True:
        inner = np.sort(np.round(rng.uniform(0.0, 1.0, n_steps - 1), 2))   # 2 decimals: readable in a report
        betas = np.concatenate([[0.0], inner, [1.0]])
        if np.min(np.diff(betas)) > 0.02:
            return betas


def _weight_probes(seed=100):
    """5 (betas, log_likelihoods): T = 2, 3, 4, 6, 9 steps and n = T + 6 chains (more than the T + 2 unknowns)."""
    rng = np.random.default_rng(seed)
    return [(_random_schedule(rng, t), rng.normal(-6.0, 3.0, size=(t + 1, t + 6))) for t in (2, 3, 4, 6, 9)]


WEIGHT_PROBES = _weight_probes()


def fit_coefficients(got, log_likelihoods):
    """got (n,) as Σ_t a_t log_likelihoods[t] + b over the n chains: (a, b), or None if no such fit is exact."""
    X = np.column_stack([log_likelihoods.T, np.ones(log_likelihoods.shape[1])])
    if not np.all(np.isfinite(got)):
        return None
    solution = np.linalg.lstsq(X, got, rcond=None)[0]
    if np.linalg.norm(X @ solution - got) > 1e-9 * (1.0 + np.linalg.norm(got)):
        return None
    a, b = solution[:-1], float(solution[-1])
    return np.where(np.abs(a) < 1e-9, 0.0, a), (b if abs(b) > 1e-8 else 0.0)   # rounding to 0


# Each candidate's coefficients a_0..a_T, from the schedule: (the factor at step t) × (the state it is taken at).
FACTORS = {"β_t − β_{t−1}": (lambda b: np.diff(b), []),
           "β_{t−1} − β_t": (lambda b: -np.diff(b), ["ais-increment-sign"]),
           "β_t": (lambda b: b[1:], ["ais-beta-not-increment"]),
           "β_{t−1}": (lambda b: b[:-1], ["ais-beta-not-increment"]),
           "(β_t − β_{t−1})/T": (lambda b: np.diff(b) / (len(b) - 1), ["ais-mean-over-steps"]),
           "1/T": (lambda b: np.full(len(b) - 1, 1.0 / (len(b) - 1)), ["ais-uniform-steps"]),
           "1": (lambda b: np.ones(len(b) - 1), ["ais-increment-missing"])}
STATES = {"log p(data|w_{t−1})": (lambda f: np.append(f, 0.0), []),
          "log p(data|w_t)": (lambda f: np.insert(f, 0, 0.0), ["ais-likelihood-at-new-point"]),
          "½ [log p(data|w_{t−1}) + log p(data|w_t)]": (lambda f: 0.5 * (np.append(f, 0.0) + np.insert(f, 0, 0.0)),
                                                  ["ais-trapezoid"])}


def classify_weights(fits) -> tuple:
    """(hint keys, the weight written out) of the (factor, state) pair whose coefficients match the fits on
    every probe; ([], "") if none does."""
    for factor, (coefficients, factor_keys) in FACTORS.items():
        for state, (placed, state_keys) in STATES.items():
            if all(b == 0.0 and matches(a, placed(coefficients(betas)), rtol=1e-8, atol=1e-9)
                   for (a, b), (betas, _) in zip(fits, WEIGHT_PROBES)):
                shown = f"({factor})" if " " in factor else factor
                return factor_keys + state_keys, f"Σ_{{t=1}}^{{T}} {shown} · {state}"
    return [], ""


def schedule(betas) -> str:
    return "[" + ", ".join(f"{b:.6g}" for b in betas) + "]"


def _diagnose_weights(m) -> Diagnosis:
    """The mistake ais_log_weights shows on the probes, and the weight as the fit sees it."""
    results = [_weights(m, ll, betas) for betas, ll in WEIGHT_PROBES]
    shapes = [(r.shape, len(betas) - 1, ll.shape[1]) for r, (betas, ll) in zip(results, WEIGHT_PROBES)]
    if all(shape in ((t,), (t + 1,), ()) or (len(shape) == 1 and shape[0] == 1) for shape, t, _ in shapes):
        (shape, t, n) = shapes[-1]
        return Diagnosis(["ais-sum-over-chains"], [
            f"on a table of T + 1 = {t + 1} rows (states) and n = {n} columns (chains) your result has shape {shape}: "
            + ("one number for all the chains" if len(shape) == 0 or shape[0] == 1 else "one number per step")])
    if all(shape in ((t, n), (t + 1, n)) for shape, t, n in shapes):
        (shape, t, n) = shapes[-1]
        last = results[-1][-1]
        betas, ll = WEIGHT_PROBES[-1]
        what = ("its last row is the log weight: a running sum" if matches(last, true_log_weights(ll, betas))
                else "one row per step or state")
        return Diagnosis(["ais-not-summed-over-steps"], [
            f"on a table of T + 1 = {t + 1} rows and n = {n} chains your result has shape {shape}, {what}"])
    if not all(r.shape == (n,) for r, (_, _, n) in zip(results, shapes)):
        return Diagnosis()
    if all(matches(r, np.exp(true_log_weights(ll, betas))) for r, (betas, ll) in zip(results, WEIGHT_PROBES)):
        return Diagnosis(["ais-weights-not-log"], ["your results are exp of the log weights: the weights W themselves"])
    fits = [fit_coefficients(r, ll) for r, (_, ll) in zip(results, WEIGHT_PROBES)]
    if any(fit is None for fit in fits):
        return Diagnosis()
    (a, b), (betas, _) = fits[0], WEIGHT_PROBES[0]
    shown = {f"log p(data|w_{t})": float(a_t) for t, a_t in enumerate(a) if a_t != 0.0}
    shown |= {"1": b} if b != 0.0 else {}
    keys, formula = classify_weights(fits)
    return Diagnosis(keys, [
        f"your log weight of each chain, fitted exactly on {len(WEIGHT_PROBES)} random schedules and tables "
        f"(T = 2 to 9 steps), is {formula}; on the schedule β = {schedule(betas)} it is",
        f"    {describe_terms(shown)}"])


# ---------------------------------------------------------------- diagnosis of log_evidence_estimate


def _log_weight_probes(seed=101):
    """12 sets of n = 2 to 60 log weights, centred anywhere in [−20, 20] with a spread of 0.5 to 4 nats."""
    rng = np.random.default_rng(seed)
    return [rng.normal(rng.uniform(-20, 20), rng.uniform(0.5, 4.0), size=n)
            for n in (2, 3, 4, 5, 7, 9, 12, 16, 23, 31, 45, 60)]


LOG_WEIGHT_PROBES = _log_weight_probes()


def estimate_terms(log_w) -> dict:
    """The terms an estimate is fitted with; the right one is log Σ_c W_c − log n."""
    m = np.max(log_w)
    lse = m + np.log(np.sum(np.exp(log_w - m)))
    return {"log Σ_c W_c": lse, "log n": np.log(log_w.size), "mean_c log W_c": np.mean(log_w),
            "max_c log W_c": m, "(log Σ_c W_c)/n": lse / log_w.size, "n": log_w.size, "1": 1.0}


def classify_estimate(fit: dict) -> list:
    """The hint keys of the mistakes that an estimate fitted as Σ factor·term shows, term by term."""
    keys = ["ais-mean-of-log-weights"] if "mean_c log W_c" in fit else []
    keys += ["ais-log-divided-by-n"] if "(log Σ_c W_c)/n" in fit else []
    lse, max_, log_n = (fit.get(term, 0.0) for term in ("log Σ_c W_c", "max_c log W_c", "log n"))
    if max_ == -1.0 and lse == 1.0:
        keys.append("ais-max-not-added-back")
    elif max_ == 1.0 and lse == 1.0:
        keys.append("ais-max-added-twice")
    elif max_ != 0.0 and lse == 0.0:
        keys.append("ais-max-weight-only")
    keys += ["ais-n-not-log-n"] if "n" in fit else []
    if lse == 1.0 and log_n != -1.0:
        keys.append("ais-lse-without-log-n" if log_n == 0.0 else "ais-log-n-factor")
    return keys


def _diagnose_estimate(m) -> Diagnosis:
    """The mistake log_evidence_estimate shows on the probes: the fitted estimate, and overflow at ±1000 nats."""
    got = np.array([float(_estimate(m, lw).reshape(())) for lw in LOG_WEIGHT_PROBES])
    n_range = f"n = {LOG_WEIGHT_PROBES[0].size} to {LOG_WEIGHT_PROBES[-1].size}"
    if matches(got, [np.exp(true_log_mean_exp(lw)) for lw in LOG_WEIGHT_PROBES]):
        return Diagnosis(["ais-evidence-not-log"], [f"on {len(LOG_WEIGHT_PROBES)} random sets of log weights "
                                                    f"({n_range}) your estimate is the mean of the weights W_c"])
    if not np.all(np.isfinite(got)):
        return Diagnosis()
    terms = [estimate_terms(lw) for lw in LOG_WEIGHT_PROBES]
    fit = fit_terms(got, {name: np.array([t[name] for t in terms]) for name in terms[0]})
    keys, lines = [], []
    if fit:
        keys = classify_estimate(fit)
        lines = [f"your estimate, fitted exactly on {len(LOG_WEIGHT_PROBES)} random sets of log weights "
                 f"({n_range}): {describe_terms(fit)}"]
    broken = [f"{what} is {number(value)}" for what, log_w in overflow_probes().items()
              for value in [float(_estimate(m, log_w).reshape(()))] if not np.isfinite(value)]
    if broken:
        keys.append("ais-lme-overflow")
        lines.append("your estimate of " + "; of ".join(broken))
    return Diagnosis(keys, lines)


def overflow_probes() -> dict:
    """Log weights whose exp overflows or underflows: a probe shifted by ±SHIFT, and a chain 3000 nats behind."""
    log_w = LOG_WEIGHT_PROBES[-1]
    return {f"{log_w.size} random log weights shifted by +{SHIFT:g} nats": log_w + SHIFT,
            f"the same shifted by −{SHIFT:g} nats": log_w - SHIFT,
            "[2, 0, −3000] (one chain far behind the others)": np.array([2.0, 0.0, -3000.0])}


# ---------------------------------------------------------------- the checks of ais_log_weights


def _check_weights(m, log_likelihoods, betas, what, truth):
    expect_close(_weights(m, log_likelihoods, betas), true_log_weights(log_likelihoods, betas), what=what,
                 inputs={"betas": betas, "log_likelihoods": log_likelihoods}, rtol=VALUE_RTOL, atol=VALUE_ATOL,
                 truth=truth, diagnose=lambda got: _diagnose_weights(m), generic="ais-log-weights-formula")


@EX10.check("ais_log_weights with one step, betas = [0, 1]: log W = log p(data|w_0), importance sampling from the prior")
def _one_step(m):
    log_likelihoods = np.array([[-3.0, -7.5, -1.25], [-2.0, -4.0, -0.5]])
    _check_weights(m, log_likelihoods, np.array([0.0, 1.0]), "ais_log_weights(log_likelihoods, [0, 1]), 3 chains",
                   "row 0, log p(data|w_0): the one ratio p(w) p(data|w) / p(w) at the draw from the prior")


@EX10.check("ais_log_weights on a table worked by hand: T = 3 steps, 2 chains, betas = [0, 0.1, 0.4, 1]")
def _by_hand(m):
    log_likelihoods = np.array([[-50.0, -20.0], [-10.0, -8.0], [-6.0, -4.0], [-5.0, -3.0]])
    _check_weights(m, log_likelihoods, np.array([0.0, 0.1, 0.4, 1.0]),
                   "ais_log_weights(log_likelihoods, betas) with log_likelihoods of shape (4, 2)",
                   "0.1·(−50) + 0.3·(−10) + 0.6·(−6) and 0.1·(−20) + 0.3·(−8) + 0.6·(−4)")


@EX10.check("ais_log_weights on random uneven schedules against Σ_t (β_t − β_{t−1}) log p(data|w_{t−1})")
def _random_schedules(m):
    rng = np.random.default_rng(102)
    for n_steps, n_chains in ((5, 3), (12, 4), (20, 7)):
        betas = _random_schedule(rng, n_steps) if n_steps < 20 else np.linspace(0.0, 1.0, n_steps + 1) ** 3
        log_likelihoods = rng.normal(-40.0, 15.0, size=(n_steps + 1, n_chains))
        _check_weights(m, log_likelihoods, betas, f"ais_log_weights on T = {n_steps} steps, {n_chains} chains",
                       "Σ_{t=1}^{T} (β_t − β_{t−1}) log p(data|w_{t−1}), a loop over the steps")


# ---------------------------------------------------------------- the checks of log_evidence_estimate


def _check_estimate(m, log_w, what, truth):
    got = _estimate(m, log_w)
    expect_close(got.reshape(()) if got.size == 1 else got, true_log_mean_exp(log_w), what=what,
                 inputs={"log_weights": log_w}, rtol=VALUE_RTOL, atol=VALUE_ATOL, truth=truth,
                 diagnose=lambda got: _diagnose_estimate(m), generic="ais-log-evidence-formula")


@EX10.check("log_evidence_estimate(log [1, 2, 3, 6]) = log 3: the log of the weights' MEAN")
def _by_hand_estimate(m):
    _check_estimate(m, np.log([1.0, 2.0, 3.0, 6.0]), "log_evidence_estimate(np.log([1, 2, 3, 6]))",
                    "log((1 + 2 + 3 + 6)/4) = log 3")


@EX10.check("log_evidence_estimate on random log weights against log Σ_c exp(log W_c) − log n")
def _random_estimate(m):
    rng = np.random.default_rng(103)
    for n in (7, 50):
        _check_estimate(m, rng.normal(-12.0, 3.0, size=n), f"log_evidence_estimate of {n} log weights",
                        "the largest log weight m plus log mean exp(log W − m)")


@EX10.check("log_evidence_estimate of log weights near ±1000 nats, or 3000 nats apart: finite and right")
def _large_estimate(m):
    for centre in (1000.0, -1000.0):
        log_w = centre + np.array([0.0, -1.5, 0.8, -3.0, 0.2])
        _check_estimate(m, log_w, f"log_evidence_estimate of 5 log weights near {centre:+g}",
                        "the largest log weight m plus log mean exp(log W − m): no overflow, no underflow")
    _check_estimate(m, np.array([2.0, 0.0, -3000.0]), "log_evidence_estimate of 3 log weights, one chain far behind",
                    "log((e² + e⁰ + e⁻³⁰⁰⁰)/3): the last weight adds nothing in float64")


# ---------------------------------------------------------------- both, on a model whose evidence is known


CONJUGATE_SEED, RUN_SEED = 100, 5
N_CHAINS = 1000
BETAS = np.concatenate([[0.0], np.geomspace(0.01, 1.0, 10)])   # T = 10 steps, geometric from β_1 = 0.01
NOISE = 0.5
LOG_2PI = np.log(2.0 * np.pi)


def conjugate_model(seed=CONJUGATE_SEED, n_points=12, n_weights=2):
    """Simulated Bayesian linear regression: prior w ~ N(0, I), y = X w + N(0, NOISE²) noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_points, n_weights))
    return X, X @ rng.normal(size=n_weights) + NOISE * rng.normal(size=n_points)


def log_likelihood(W, X, y):
    """log p(y | X, w) = Σ_i log N(y_i; x_i·w, NOISE²), for each row w of W."""
    residual = y - W @ X.T
    return -0.5 * len(y) * (LOG_2PI + 2.0 * np.log(NOISE)) - 0.5 * np.sum(residual ** 2, axis=-1) / NOISE ** 2


def exact_log_evidence(X, y):
    """log p(𝒟) = log N(y; 0, NOISE² I + X Xᵀ): the weights integrated out in closed form."""
    cov = NOISE ** 2 * np.eye(len(y)) + X @ X.T
    return -0.5 * (len(y) * LOG_2PI + np.linalg.slogdet(cov)[1] + y @ np.linalg.solve(cov, y))


def ais_table(X, y, betas, n_chains, rng):
    """log p(𝒟|w_t) of each chain at each state: w_t is an exact draw from π_{β_t}, a Gaussian here.

    π_β(w) ∝ N(w; 0, I) p(y|w)^β has precision I + β XᵀX/NOISE² and mean (its inverse) β Xᵀy/NOISE².
    """
    rows = []
    for beta in betas:
        cov = np.linalg.inv(np.eye(X.shape[1]) + beta * X.T @ X / NOISE ** 2)
        mean = cov @ (beta * X.T @ y / NOISE ** 2)
        W = mean + rng.standard_normal((n_chains, X.shape[1])) @ np.linalg.cholesky(cov).T
        rows.append(log_likelihood(W, X, y))
    return np.array(rows)


def standard_error(log_w):
    """The delta method's standard error of log mean W: sd(W) / (√n mean W), on W / max W."""
    w = np.exp(log_w - np.max(log_w))
    return float(np.std(w, ddof=1) / (np.sqrt(len(w)) * np.mean(w)))


@EX10.check("both, on AIS with exact transitions on a conjugate model: within 4 standard errors of the exact log p(data)")
def _conjugate(m):
    X, y = conjugate_model()
    log_likelihoods = ais_table(X, y, BETAS, N_CHAINS, np.random.default_rng(RUN_SEED))
    log_w = _weights(m, log_likelihoods, BETAS)
    exact = exact_log_evidence(X, y)
    lines = [f"checked: log_evidence_estimate(ais_log_weights(log_likelihoods, betas)) on {N_CHAINS} chains, "
             f"T = {len(BETAS) - 1} steps (β geometric from 0.01), Bayesian linear regression with 2 weights, "
             f"{len(y)} points"]
    if log_w.shape != (N_CHAINS,):
        raise Failure(lines + [f"expected {N_CHAINS} log weights, one per chain, got shape {log_w.shape}"],
                      safe_diagnose(_diagnose_weights, m) or ["shape"])
    got = _estimate(m, log_w)
    estimate = float(got.reshape(())) if got.size == 1 else np.nan
    error = standard_error(log_w) if np.all(np.isfinite(log_w)) else np.nan
    if abs(estimate - exact) <= N_STANDARD_ERRORS * error:
        return
    weights_found = safe_diagnose(_diagnose_weights, m)
    estimate_found = safe_diagnose(_diagnose_estimate, m)
    found = Diagnosis([*weights_found, *estimate_found],
                      [*getattr(weights_found, "lines", []), *getattr(estimate_found, "lines", [])])
    raise Failure(lines + [f"expected {number(exact)}   (the exact log p(data) = log N(y; 0, s² I + X Xᵀ))",
                           f"got      {number(estimate)} ± {number(error)}   (± one standard error, sd(W)/(√n mean W))",
                           f"off by {number(abs(estimate - exact) / error)} standard errors; a right estimate is "
                           f"within {N_STANDARD_ERRORS:g}"],
                  found or ["ais-evidence-formula"])
