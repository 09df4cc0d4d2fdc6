"""The Laplace approximation: a Gaussian at a mode, the evidence it implies, and its predictive.

Steps 1 and 3 of the derivation call the evidence log p(𝒟) = log ∫ p(𝒟|w) p(w) dw
hopeless in high dimension. Laplace (MacKay 1992, "A practical Bayesian framework
for backpropagation networks") answers it with a second-order Taylor expansion of
the log joint around a mode ŵ (where its gradient is zero):

    log p(𝒟|w) + log p(w) ≈ log p(𝒟|ŵ) + log p(ŵ) - ½ (w - ŵ)ᵀ H (w - ŵ),
    H = -∇² [log p(𝒟|w) + log p(w)] at ŵ          (the Hessian of the NEGATIVE log joint)

The right-hand side is an unnormalised Gaussian N(ŵ, H⁻¹), whose integral is known:

    log p(𝒟) ≈ log p(𝒟|ŵ) + log p(ŵ) + (D/2) log 2π - ½ log det H        (step 1's evidence)

and the posterior is approximated by q(w) = N(ŵ, H⁻¹) (step 3's q, found without
minimising the KL). On conjugate Bayesian linear regression (`minivi/exact.py`) the
log joint IS quadratic, so all of this is exact there; the tests check it to ~1e-10.

Two Hessians:

    exact_hessian(log_prob, w)    the exact Hessian of -log_prob, column by column from central
                                  differences of the engine's exact gradient (Richardson-extrapolated);
                                  2·2 gradients per column: for small models (D up to a few hundred).
    ggn(model, w, x, ...)         the generalised Gauss-Newton J^T Λ J + prior precision, with J the
                                  exact Jacobian of the network's outputs (one backward per output
                                  unit, `jacobian`) and Λ = I / noise_sigma² for a Gaussian likelihood.
                                  It drops the term Σ_n (f_n - y_n)/σ² ∇² f_n, so it is positive
                                  definite at ANY point, and it is cheap.

The linearised-Laplace predictive (MacKay 1992; Foong et al. 2019, "'In-between'
uncertainty in Bayesian neural networks"; Immer, Korzepa & Bauer 2021) replaces f by its
first-order expansion f(x; w) ≈ f(x; ŵ) + J(x)(w - ŵ), under which q(w) gives

    f(x) ~ N( f(x; ŵ),  J(x) H⁻¹ J(x)ᵀ ),     y ~ N( f(x; ŵ), J(x) H⁻¹ J(x)ᵀ + noise_sigma² ).

The prior precision α (p(w) = N(0, α⁻¹ I)) can be chosen by maximising the Laplace
evidence (`evidence_prior_precision`): MacKay's fixed point α = γ / |ŵ|².

    find_mode(model, x, y, noise_sigma=..., w0=...)  -> ŵ (Levenberg-Marquardt with the GGN)
    laplace(model, x, y, noise_sigma=..., prior_sigma=..., hessian="ggn")  -> Laplace
    Laplace.log_evidence, .predict(x_new) -> (mean, variance of f), .with_prior_precision(alpha)
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .flat import (_deterministic_layers, _prior_scales, _run_layers, _slices, functional_forward, log_joint, n_weights,
                   parameters_to_vector)
from .exact import SYMMETRY_RTOL
from .gaussian import LOG_2PI
from .nn import Linear, Module, check_count, check_positive
from .tensor import Tensor, as_float_array

HESSIANS = ("ggn", "exact")
# `laplace` warns when the log joint could still rise by more than this many nats from w (the Newton
# decrement ½ gᵀH⁻¹g): for a quadratic log joint the Laplace evidence at w is low by exactly that much.
MODE_TOL = 0.1


class NotAModeWarning(UserWarning):
    """The Laplace approximation was built at a point that is not a mode of the log joint."""


# ---------------------------------------------------------------- derivatives of the log joint


def _checked_vector(w, d: int, who: str) -> np.ndarray:
    w = as_float_array(w.data if isinstance(w, Tensor) else w, f"{who}: w")
    if w.shape != (d,):
        raise ValueError(f"{who}: w must be one weight vector of shape ({d},), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{who}: w contains NaN or inf; pass the finite mode (e.g. from training)")
    return w


def _checked_inputs(x, who: str) -> np.ndarray:
    x = as_float_array(x.data if isinstance(x, Tensor) else x, f"{who}: x")
    if x.ndim != 2:
        raise ValueError(f"{who}: x must have shape (N, in_features), got {x.shape}; "
                         "for a single feature pass x.reshape(-1, 1)")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{who}: x contains NaN or inf; clean or drop those rows first")
    return x


def gradient(log_prob, w) -> np.ndarray:
    """∇_w [-log_prob(w)], the gradient of the NEGATIVE log joint, from one backward of the engine.

    log_prob: Tensor (D,) -> scalar Tensor, e.g. `mv.flat.log_joint(model, x, y, ...)`.
    """
    w = Tensor(as_float_array(w.data if isinstance(w, Tensor) else w, "gradient: w"), requires_grad=True)
    value = log_prob(w)
    if not isinstance(value, Tensor):
        raise TypeError(f"log_prob must return a scalar Tensor built from minivi ops (so that it has a gradient), "
                        f"got {type(value).__name__}")
    if value.size != 1:
        raise ValueError(f"log_prob must return a scalar Tensor for one weight vector, got shape {value.shape}")
    if not np.isfinite(value.item()):
        raise ValueError(f"log_prob(w) = {value.item()}; the Laplace approximation needs a finite log joint")
    (-value).backward()
    return w.grad


def exact_hessian(log_prob, w, *, step: float = 1e-3) -> np.ndarray:
    """H = -∇² log_prob at w, shape (D, D): column j from central differences of the exact gradient g.

        D_j(h) = [g(w + h e_j) - g(w - h e_j)] / (2h)           (error O(h²))
        H[:, j] = (4 D_j(h/2) - D_j(h)) / 3                       (Richardson: error O(h⁴))

    with h = step · max(1, |w_j|); g = `gradient` (one backward each), so a
    column costs four backward passes. H is symmetrised, (H + Hᵀ)/2. For a
    quadratic log joint (linear regression) it is exact up to rounding. A
    ReLU network's log joint has kinks: the result is its Hessian only where
    no hidden unit changes sign within ±h of w (true at almost every w).
    """
    w = as_float_array(w.data if isinstance(w, Tensor) else w, "exact_hessian: w")
    if w.ndim != 1 or not np.all(np.isfinite(w)):
        raise ValueError(f"exact_hessian: w must be a finite vector (D,), got shape {w.shape}"
                         + (" with NaN or inf" if w.ndim == 1 else ""))
    step = check_positive(step, "step", who="exact_hessian")
    d = len(w)
    columns = np.empty((d, d))
    for j in range(d):
        h = step * max(1.0, abs(w[j]))
        e = np.zeros(d)
        e[j] = 1.0

        def central(h):
            return (gradient(log_prob, w + h * e) - gradient(log_prob, w - h * e)) / (2 * h)

        columns[:, j] = (4 * central(h / 2) - central(h)) / 3
    return 0.5 * (columns + columns.T)


def jacobian(model: Module, w, x) -> np.ndarray:
    """J[n, k, i] = ∂f_k(x_n; w) / ∂w_i, shape (N, out, D): exact, one backward per output unit k.

    Each row x_n gets its own copy w_n of the weight vector (a Tensor (N, D)), and the
    network runs row by row in one batched pass (x_n @ W_n); the gradient of
    Σ_n f_k(x_n; w_n) with respect to w_n is then row n's Jacobian. The model is a
    Sequential of Linear, ReLU and Tanh (the flat-weight view, `minivi/flat.py`).
    """
    layers, slices, d = _deterministic_layers(model), _slices(model), n_weights(model)
    w = _checked_vector(w, d, "jacobian")
    x = _checked_inputs(x, "jacobian")
    n = len(x)
    n_out = [layer for layer in layers if isinstance(layer, Linear)][-1].out_features
    out = np.empty((n, n_out, d))
    for k in range(n_out):
        rows = Tensor(np.broadcast_to(w, (n, d)), requires_grad=True)
        f = _run_layers(layers, slices, rows, Tensor(x[:, None, :]))   # (N, 1, out): x_n @ W_n + b_n
        f[:, 0, k].sum().backward()
        out[:, k, :] = rows.grad
    return out


def ggn(model: Module, w, x, *, noise_sigma, prior_sigma, fan_in_prior: bool = False) -> np.ndarray:
    """The generalised Gauss-Newton matrix of the negative log joint of a Gaussian regression network:

        G = J^T J / noise_sigma² + diag(1/s²)        (D, D),  J = `jacobian`, rows (n, k) stacked,

    s_i the prior's standard deviations, prior_sigma (or prior_sigma / sqrt(in_features) for the
    weights of a layer with fan_in_prior=True, as in `mv.flat.log_joint`).

    It is the Hessian without the term Σ_nk (f_nk - y_nk)/noise_sigma² ∇² f_nk: exact for a
    model linear in w, and positive definite wherever it is evaluated.
    """
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="ggn", squared=True)
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="ggn", squared=True)
    j = jacobian(model, w, x)
    j = j.reshape(-1, j.shape[-1])
    return j.T @ j / noise_sigma ** 2 + np.diag(1.0 / _prior_scales(model, prior_sigma, fan_in_prior) ** 2)


def find_mode(model: Module, x, y, *, noise_sigma, prior_sigma=1.0, w0=None, fan_in_prior: bool = False,
              n_steps: int = 200, tol: float = 1e-6) -> np.ndarray:
    """A mode ŵ of the log joint (`mv.flat.log_joint`), by Levenberg-Marquardt steps with the GGN:

        w ← w - (G(w) + λ I)⁻¹ g(w),     g = ∇[-log joint],  G = `ggn`,

    λ divided by 3 after a step that lowers -log joint, multiplied by 3 (and the step refused)
    otherwise: small λ is Gauss-Newton (fast near a mode), large λ a short gradient step.
    Stops when the Newton decrement ½ gᵀ G⁻¹ g, the rise of the log joint that a quadratic model
    still promises, is below tol nats (returns ŵ), or after n_steps (raises: the Laplace
    approximation needs the mode). w0: the start (D,), by default the model's own parameters.
    A network has many modes (and H! 2^H symmetric copies of each): the one found depends on w0.
    """
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="find_mode", squared=True)
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="find_mode", squared=True)
    n_steps = check_count(n_steps, "n_steps", who="find_mode")
    tol = check_positive(tol, "tol", who="find_mode")
    x = _checked_inputs(x, "find_mode")
    log_prob = log_joint(model, x, y, noise_sigma=noise_sigma, prior_sigma=prior_sigma, fan_in_prior=fan_in_prior)
    d = n_weights(model)
    w = _checked_vector(parameters_to_vector(model) if w0 is None else w0, d, "find_mode").copy()
    loss, lam = -log_prob(w).item(), 1.0
    for _ in range(n_steps):
        g = gradient(log_prob, w)
        h = ggn(model, w, x, noise_sigma=noise_sigma, prior_sigma=prior_sigma, fan_in_prior=fan_in_prior)
        decrement = 0.5 * g @ np.linalg.solve(h, g)
        if decrement < tol:
            return w
        candidate = w - np.linalg.solve(h + lam * np.eye(d), g)
        new_loss = -log_prob(candidate).item()
        if new_loss < loss:
            w, loss, lam = candidate, new_loss, lam / 3
        else:
            lam *= 3
    raise RuntimeError(f"find_mode: no mode within {n_steps} steps (the log joint may still rise by about "
                       f"{decrement:.3g} nats > tol = {tol:g}); raise n_steps or tol, or start elsewhere (w0)")


# ---------------------------------------------------------------- the evidence


def cholesky_of_hessian(h: np.ndarray, who: str = "the Laplace approximation") -> np.ndarray:
    """Lower Cholesky factor L of H (H = L Lᵀ), or an error that names the fix.

    H must be symmetric up to rounding (as `exact.SYMMETRY_RTOL` asks of a covariance): a clearly
    asymmetric H is a mistake upstream, refused rather than silently replaced by (H + Hᵀ)/2.
    """
    h = as_float_array(h, f"{who}: H")
    if h.ndim != 2 or h.shape[0] != h.shape[1]:
        raise ValueError(f"{who}: the Hessian must be a square (D, D) matrix, got shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError(f"{who}: the Hessian contains NaN or inf; check that the log joint is finite at w")
    if np.max(np.abs(h - h.T), initial=0.0) > SYMMETRY_RTOL * np.max(np.abs(h), initial=0.0):
        raise ValueError(f"{who}: the Hessian is not symmetric (largest |H - Hᵀ| = {np.max(np.abs(h - h.T)):.3g}); "
                         "a matrix of second derivatives equals its transpose: check how it was built "
                         "(use (H + H.T) / 2 if the asymmetry is rounding)")
    try:
        return np.linalg.cholesky(0.5 * (h + h.T))
    except np.linalg.LinAlgError:
        low = np.linalg.eigvalsh(0.5 * (h + h.T))[0]
        raise ValueError(f"{who}: the Hessian of the negative log joint is not positive definite at this point "
                         f"(smallest eigenvalue {low:.3g}), so the log joint has no Gaussian bump here: w is not "
                         "a mode. Optimise to the mode first (train longer, or to a smaller gradient), or use "
                         "hessian='ggn' (the generalised Gauss-Newton, positive definite everywhere)") from None


def laplace_log_evidence(log_joint_at_mode: float, h) -> float:
    """log p(𝒟) ≈ log p(𝒟|ŵ) + log p(ŵ) + (D/2) log 2π - ½ log det H          (steps 1 and 3).

    log_joint_at_mode: log p(𝒟|ŵ) + log p(ŵ), every constant kept; H: (D, D), positive definite.
    log det H = 2 Σ_i log L_ii from the Cholesky factor.
    """
    if isinstance(log_joint_at_mode, bool) or not isinstance(log_joint_at_mode, numbers.Real):
        raise TypeError(f"laplace_log_evidence: the log joint at the mode must be one number, got "
                        f"{type(log_joint_at_mode).__name__}; pass log_prob(w_hat).item()")
    if not np.isfinite(log_joint_at_mode):
        raise ValueError(f"laplace_log_evidence: the log joint at the mode is {log_joint_at_mode}; it must be finite")
    chol = cholesky_of_hessian(h, "laplace_log_evidence")
    return float(log_joint_at_mode + 0.5 * len(chol) * LOG_2PI - np.sum(np.log(np.diag(chol))))


def evidence_prior_precision(data_hessian, w_hat, *, low: float = 1e-8, high: float = 1e8, refit=None,
                             rtol: float = 1e-12, max_refits: int = 1000) -> float:
    """The prior precision α (p(w) = N(0, I/α)) that maximises the Laplace evidence at a fixed ŵ.

    With H = G + α I (G = the data part of the Hessian, eigenvalues λ_i), the evidence is, up to
    terms free of α,   E(α) = -α |ŵ|²/2 + (D/2) log α - ½ Σ_i log(λ_i + α),
    and dE/dα = 0 is MacKay's fixed point (1992):

        α |ŵ|² = γ(α),    γ(α) = Σ_i λ_i / (λ_i + α)   (the number of well-determined weights).

    The left side grows with α and γ falls, so the root is unique and E has its maximum there;
    it is found by bisection in log α between `low` and `high`. Refused: a G with a clearly
    negative eigenvalue (not a GGN, and not at a mode: use hessian='ggn'), ŵ = 0, no root
    inside [low, high].

    refit: None (ŵ stays where it is: the usual post-hoc choice for a trained network), or a
    callable alpha -> (w_hat, data_hessian) giving the mode under the prior N(0, I/alpha).
    Then MacKay's loop runs: α from the fixed point at the current ŵ, ŵ moved to the new mode,
    until α changes by less than rtol (relative). Its end point makes dE/dα = 0 with ŵ = ŵ(α),
    the stationary point of the evidence itself when Laplace is exact (linear regression).
    """
    if refit is None:
        return _fixed_point(data_hessian, w_hat, low, high)
    max_refits = check_count(max_refits, "max_refits", who="evidence_prior_precision")
    rtol = check_positive(rtol, "rtol", who="evidence_prior_precision")
    alpha = _fixed_point(data_hessian, w_hat, low, high)
    for _ in range(max_refits):
        refitted = refit(alpha)
        if not (isinstance(refitted, (tuple, list)) and len(refitted) == 2):
            raise TypeError(f"evidence_prior_precision: refit(alpha) must return the pair (w_hat, data_hessian), "
                            f"got {type(refitted).__name__}; return the new mode and the data part of its Hessian")
        w_hat, data_hessian = refitted
        new = _fixed_point(data_hessian, w_hat, low, high)
        if abs(new - alpha) <= rtol * alpha:
            return new
        alpha = new
    raise RuntimeError(f"evidence_prior_precision: MacKay's loop did not settle in {max_refits} refits "
                       f"(last alpha {alpha:.6g}); raise max_refits or check that refit returns the mode")


def _fixed_point(data_hessian, w_hat, low: float, high: float) -> float:
    """The root of α |ŵ|² = γ(α) at a fixed ŵ (see `evidence_prior_precision`)."""
    g = as_float_array(data_hessian, "evidence_prior_precision: data_hessian")
    w_hat = as_float_array(w_hat, "evidence_prior_precision: w_hat")
    if w_hat.ndim != 1 or g.shape != (len(w_hat), len(w_hat)):
        raise ValueError(f"evidence_prior_precision: data_hessian must be (D, D) and w_hat (D,), got "
                         f"{g.shape} and {w_hat.shape}")
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(w_hat))):
        raise ValueError("evidence_prior_precision: data_hessian or w_hat contains NaN or inf")
    lam = np.linalg.eigvalsh(0.5 * (g + g.T))
    if lam[0] < -1e-8 * max(lam[-1], 1.0):
        raise ValueError(f"evidence_prior_precision: the data part of the Hessian has a negative eigenvalue "
                         f"({lam[0]:.3g}); the evidence's fixed point needs it positive semi-definite: use the "
                         "generalised Gauss-Newton (hessian='ggn'), or optimise w to the mode first")
    lam = np.clip(lam, 0.0, None)
    w2 = float(w_hat @ w_hat)
    if w2 == 0:
        raise ValueError("evidence_prior_precision: w_hat is zero, so any prior precision fits it; "
                         "pass the trained mode")

    def excess(log_alpha):    # α |ŵ|² - γ(α): increasing in α
        alpha = np.exp(log_alpha)
        return alpha * w2 - np.sum(lam / (lam + alpha))

    lo = np.log(check_positive(low, "low", who="evidence_prior_precision"))
    hi = np.log(check_positive(high, "high", who="evidence_prior_precision"))
    if not lo < hi:
        raise ValueError(f"evidence_prior_precision: low must be below high, got low = {low:g}, high = {high:g}")
    if excess(lo) > 0 or excess(hi) < 0:
        raise ValueError(f"evidence_prior_precision: the evidence is maximised outside [{low:g}, {high:g}] "
                         "(the fixed point alpha |w|^2 = gamma has no root there); widen low/high")
    for _ in range(200):       # bisection in log α: 200 halvings of at most 37 nats reach rounding
        mid = 0.5 * (lo + hi)
        if excess(mid) > 0:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-15:
            break
    return float(np.exp(0.5 * (lo + hi)))


# ---------------------------------------------------------------- the approximation as an object


class Laplace:
    """q(w) = N(ŵ, H⁻¹) for a Gaussian regression network, with its evidence and linearised predictive.

    Build with `laplace(...)`. The prior is p(w_i) = N(0, s_i²) with precision 1/s_i² = r_i α,
    α = 1/prior_sigma² and r_i = 1 (or r_i = in_features for the weights of a layer when
    fan_in_prior=True, as in `mv.flat.log_joint`). Attributes: w_hat (D,), hessian H (D, D),
    data_hessian (H minus the prior's precision diag(r α)), log_likelihood = log p(𝒟|ŵ),
    log_prior = log p(ŵ), log_evidence (the Laplace estimate of log p(𝒟)), noise_sigma,
    prior_sigma, prior_ratio r (D,), kind ("ggn" or "exact").
    """

    def __init__(self, model, w_hat, data_hessian, log_likelihood, noise_sigma, prior_sigma, kind, prior_ratio):
        self.model, self.w_hat, self.kind = model, w_hat, kind
        self.noise_sigma, self.prior_sigma, self.prior_ratio = noise_sigma, prior_sigma, prior_ratio
        self.data_hessian, self.log_likelihood = data_hessian, log_likelihood
        precision = prior_ratio / prior_sigma ** 2
        self.hessian = data_hessian + np.diag(precision)
        self.log_prior = float(np.sum(-0.5 * precision * w_hat ** 2 + 0.5 * (np.log(precision) - LOG_2PI)))
        self._chol = cholesky_of_hessian(self.hessian, f"Laplace ({kind} Hessian)")
        self.log_evidence = laplace_log_evidence(log_likelihood + self.log_prior, self.hessian)

    @property
    def prior_precision(self) -> float:
        """α = 1/prior_sigma²."""
        return 1.0 / self.prior_sigma ** 2

    def with_prior_precision(self, alpha: float) -> "Laplace":
        """The same ŵ and data Hessian with α = alpha: H = data_hessian + diag(r alpha)."""
        alpha = check_positive(alpha, "alpha", who="Laplace.with_prior_precision")
        return Laplace(self.model, self.w_hat, self.data_hessian, self.log_likelihood, self.noise_sigma,
                       1.0 / np.sqrt(alpha), self.kind, self.prior_ratio)

    def optimise_prior_precision(self) -> "Laplace":
        """The approximation with the α that maximises the Laplace evidence at ŵ (`evidence_prior_precision`).

        With r ≠ 1 the variables v = r^½ w make the prior isotropic, N(0, I/α): the fixed point is
        solved for ŵ' = r^½ ŵ and G' = r^-½ G r^-½ (log det(G + α diag r) = log det(G' + α I) + Σ log r_i).
        """
        root = np.sqrt(self.prior_ratio)
        alpha = evidence_prior_precision(self.data_hessian / np.outer(root, root), root * self.w_hat)
        return self.with_prior_precision(alpha)

    def predict(self, x) -> tuple:
        """The linearised predictive of f at inputs x (N, in): (mean (N, out), variance (N, out)).

            mean_nk = f_k(x_n; ŵ),   variance_nk = J_nk H⁻¹ J_nkᵀ     (J_nk: row of `jacobian`)

        computed as |L⁻¹ J_nkᵀ|² with H = L Lᵀ. Add noise_sigma² for the predictive of y.
        """
        x = _checked_inputs(x, "Laplace.predict")
        j = jacobian(self.model, self.w_hat, x)                       # (N, out, D)
        v = np.linalg.solve(self._chol, j.reshape(-1, j.shape[-1]).T)   # (D, N·out)
        variance = np.sum(v * v, axis=0).reshape(j.shape[:2])
        mean = functional_forward(self.model, self.w_hat, x).data
        return mean, variance


def laplace(model: Module, x, y, *, noise_sigma, prior_sigma=1.0, fan_in_prior: bool = False,
            hessian: str = "ggn", w=None, step: float = 1e-3) -> Laplace:
    """The Laplace approximation of a Gaussian regression network's posterior at a mode ŵ.

    model: a Sequential of Linear/ReLU/Tanh (the flat-weight view); w: the mode ŵ (D,), by default
    the model's own parameters (`parameters_to_vector`). The log joint is `mv.flat.log_joint`'s,
    with the same arguments: log p(𝒟|w) = Σ log N(y; f(x; w), noise_sigma²), p(w_i) = N(0, s_i²),
    s_i = prior_sigma (or prior_sigma / sqrt(in_features) for weights with fan_in_prior=True).
    hessian: "ggn" (J^T J / noise_sigma² + diag(1/s²), `ggn`) or "exact" (from finite
    differences of the engine's gradient, `exact_hessian`; D up to a few hundred).
    A Hessian that is not positive definite at w is refused with the fix (optimise to the mode,
    or use "ggn"). A w from which the log joint could still rise by more than MODE_TOL nats
    (the Newton decrement ½ gᵀH⁻¹g, g the gradient of the negative log joint at w) gets a
    NotAModeWarning: the formula is computed there all the same, but it is not the Laplace
    evidence (on linear regression it is low by exactly the decrement); `find_mode(..., w0=w)` fixes it.
    """
    if hessian not in HESSIANS:
        raise ValueError(f"laplace: hessian must be one of {HESSIANS}, got {hessian!r}")
    noise_sigma = check_positive(noise_sigma, "noise_sigma", who="laplace", squared=True)
    prior_sigma = check_positive(prior_sigma, "prior_sigma", who="laplace", squared=True)
    x = _checked_inputs(x, "laplace")
    log_prob = log_joint(model, x, y, noise_sigma=noise_sigma, prior_sigma=prior_sigma, fan_in_prior=fan_in_prior)
    d = n_weights(model)
    w_hat = _checked_vector(parameters_to_vector(model) if w is None else w, d, "laplace")
    precision = 1.0 / _prior_scales(model, prior_sigma, fan_in_prior) ** 2
    log_prior = np.sum(-0.5 * precision * w_hat ** 2 + 0.5 * (np.log(precision) - LOG_2PI))
    if hessian == "ggn":
        h = ggn(model, w_hat, x, noise_sigma=noise_sigma, prior_sigma=prior_sigma, fan_in_prior=fan_in_prior)
    else:
        h = exact_hessian(log_prob, w_hat, step=step)
    approx = Laplace(model, w_hat, h - np.diag(precision), float(log_prob(w_hat).item() - log_prior), noise_sigma,
                     prior_sigma, hessian, precision * prior_sigma ** 2)
    v = np.linalg.solve(approx._chol, gradient(log_prob, w_hat))       # H = L Lᵀ: gᵀH⁻¹g = |L⁻¹g|²
    if 0.5 * v @ v > MODE_TOL:
        warnings.warn(f"laplace: w is not a mode: the log joint could still rise by about {0.5 * v @ v:.3g} nats "
                      f"(> {MODE_TOL:g}), so log_evidence is not the Laplace evidence (too low); start "
                      "find_mode(model, x, y, ..., w0=w) from here and pass its result as w", NotAModeWarning,
                      stacklevel=2)
    return approx
