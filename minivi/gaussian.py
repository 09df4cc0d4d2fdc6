"""The derivation on plain arrays: layer 2 of minivi.

Every function here takes and returns NumPy arrays (float64), never Tensors,
so a student can check each formula by hand or with finite differences.
The numbered steps refer to the derivation in README.md:

    step 4  q(w_i) = N(mu_i, sigma_i^2), prior p(w_i) = N(0, 1); sigma = softplus(rho)
    step 5  the closed-form KL[q || p], summed over the weights, and its gradient
    step 7  reparameterisation w = mu + sigma * eps and the chain rule through it

Every function checks its inputs (real, finite, matching shapes, sigma > 0)
and says what is wrong. The functions the layers call at every training step
also take ``validate=False``, which skips those checks: there mu and rho are
the layer's own float64 parameters, and `fit` stops at the first NaN.

The scale-mixture prior of Blundell et al. (2015), "Weight Uncertainty in
Neural Networks", section 3.3, has no closed-form KL; ``kl_mixture_mc`` gives
the Monte Carlo estimate they use instead.
"""

import numpy as np

LOG_2PI = np.log(2.0 * np.pi)


def _as_real_array(x, name):
    """Return ``x`` as a float64 array, refusing non-numbers, NaN and inf."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {array.dtype}; pass a "
            f"float array (for a minivi Tensor pass its .data)."
        )
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} contains NaN or inf; pass finite values (a NaN here usually "
            f"means training diverged: lower the learning rate)."
        )
    return array


def _as_positive_array(x, name):
    """Like ``_as_real_array`` but every entry must also be > 0 (a scale)."""
    array = _as_real_array(x, name)
    if np.any(array <= 0):
        raise ValueError(
            f"{name} must be > 0 everywhere, got minimum {array.min()}; a standard "
            f"deviation is positive (parameterise it as softplus(rho) to keep it so)."
        )
    return array


def _check_same_shape(a, b, name_a, name_b, why):
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; "
            f"they must match: {why}."
        )


def _check_broadcasts_to(prior, shape, name):
    """A prior parameter may be a scalar or any array that broadcasts to ``shape``."""
    try:
        broadcast = np.broadcast_shapes(prior.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != shape:
        raise ValueError(
            f"{name} has shape {prior.shape}, which does not broadcast to mu's shape "
            f"{shape}; pass a scalar or an array broadcastable to {shape}."
        )


# ---------------------------------------------------------------- step 4: sigma = softplus(rho)


def softplus(rho, *, validate=True):
    """sigma = softplus(rho) = log(1 + e^rho)   (step 4).

    The optimiser updates an unconstrained number rho; sigma = softplus(rho)
    is then positive whatever the update does (Blundell et al. 2015, sec. 3.2).
    A plain ``sigma`` parameter could be pushed below zero by one gradient step.
    For large rho, softplus(rho) ~ rho; for very negative rho, softplus(rho) ~ e^rho,
    so sigma can become tiny without ever reaching zero.

    Computed as max(rho, 0) + log(1 + e^-|rho|), the same number rearranged:
    the exponent is never positive, so nothing overflows (log1p(exp(rho))
    overflows for rho > 709). It equals np.logaddexp(0, rho), about twice as
    fast. For rho below about -745, e^rho is smaller than the smallest float64
    and the result is 0.0.
    """
    if validate:
        rho = _as_real_array(rho, "rho")
    sigma = np.asarray(np.exp(-np.abs(rho)))  # e^-|rho|, one array updated in place (fewer large temporaries)
    np.log1p(sigma, out=sigma)                # log(1 + e^-|rho|)
    sigma += np.maximum(rho, 0.0)             # + max(rho, 0)
    return sigma


def log_softplus(rho, sigma=None, *, validate=True):
    """log sigma = log softplus(rho), right for every finite rho   (step 4; the KL's log sigma, step 5).

    np.log(softplus(rho)) is right until sigma leaves the normal floats: below
    rho = log(2.2e-308) = -708.4 sigma is subnormal (a few bits, log off by up to
    1e-3), below about -745 it is 0.0 and the log is -inf. There
    log softplus(rho) = log(e^rho (1 - e^rho/2 + ...)) = rho - e^rho/2 + ... = rho
    to double precision, so rho itself is used. sigma: softplus(rho), if the
    caller holds it already (not checked). Returns a new array.
    """
    if validate:
        rho = _as_real_array(rho, "rho")
    sigma = softplus(rho, validate=False) if sigma is None else sigma
    tiny = np.finfo(np.float64).tiny
    if np.min(sigma, initial=np.inf) >= tiny:            # the usual case: every sigma a normal float
        return np.log(sigma)
    return np.where(sigma >= tiny, np.log(np.maximum(sigma, tiny)), rho)


def softplus_grad(rho, *, validate=True):
    """dsigma/drho = e^rho / (1 + e^rho) = 1 / (1 + e^-rho) = logistic sigmoid(rho)   (step 4).

    Computed from sigma itself, see ``softplus_grad_from_sigma``; nothing
    overflows for any finite rho (the naive 1 / (1 + np.exp(-rho)) overflows
    in np.exp for rho < -709).
    """
    if validate:
        rho = _as_real_array(rho, "rho")
    return softplus_grad_from_sigma(softplus(rho, validate=False))


def softplus_grad_from_sigma(sigma):
    """dsigma/drho = sigmoid(rho) = 1 - e^-sigma, where sigma = softplus(rho)   (step 4).

    Since sigma = log(1 + e^rho), e^-sigma = 1 / (1 + e^rho), and
        1 - e^-sigma = e^rho / (1 + e^rho) = sigmoid(rho).
    Layers already hold sigma, so this costs one cheap pass instead of a second
    softplus. Computed as -expm1(-sigma), which keeps full precision for tiny
    sigma (1 - e^-sigma by subtraction would round to 0).
    """
    return -np.expm1(-sigma)


def inverse_softplus(sigma):
    """rho = softplus^-1(sigma) = log(e^sigma - 1)   (step 4).

    Used to set the initial rho from a chosen initial sigma. Computed as
    sigma + log(1 - e^-sigma) = sigma + log(-expm1(-sigma)), which neither
    overflows for large sigma (e^sigma) nor loses digits for small sigma
    (e^sigma - 1 by subtraction).
    """
    sigma = _as_positive_array(sigma, "sigma")
    return sigma + np.log(-np.expm1(-sigma))


def sigma_grad_to_rho(grad_sigma, rho, *, validate=True):
    """dF/drho = dF/dsigma * dsigma/drho = dF/dsigma * sigmoid(rho)   (steps 4 and 7).

    The chain rule through sigma = softplus(rho): the last link from a
    gradient on sigma to the parameter the optimiser actually updates.
    ``grad_sigma`` must have rho's shape (sum over any sample axis first).
    """
    if validate:
        grad_sigma = _as_real_array(grad_sigma, "grad_sigma")
        rho = _as_real_array(rho, "rho")
        _check_same_shape(grad_sigma, rho, "grad_sigma", "rho",
                          "dF/dsigma has one entry per sigma = softplus(rho); sum it over "
                          "any sample axis first")
    return grad_sigma * softplus_grad(rho, validate=False)


# ---------------------------------------------------------------- step 7: reparameterisation


def reparameterize(mu, sigma, eps, *, validate=True):
    """w = mu + sigma * eps, with eps ~ N(0, 1) drawn by the caller   (step 7).

    Writing the sample as a deterministic function of (mu, sigma) and outside
    noise eps moves the randomness out of the path the gradient travels
    (Kingma & Welling 2014; Blundell et al. 2015, sec. 3.1). The arrays
    broadcast as NumPy does, e.g. eps of shape (S, *mu.shape) gives S samples.
    """
    if validate:
        mu = _as_real_array(mu, "mu")
        sigma = _as_positive_array(sigma, "sigma")
        eps = _as_real_array(eps, "eps")
        try:
            np.broadcast_shapes(mu.shape, sigma.shape, eps.shape)
        except ValueError:
            raise ValueError(
                f"mu has shape {mu.shape}, sigma has shape {sigma.shape} and eps has shape "
                f"{eps.shape}, which do not broadcast together; draw eps with mu's shape "
                f"(or with extra leading sample axes)."
            ) from None
    return mu + sigma * eps


def reparameterize_grads(grad_w, eps, *, validate=True):
    """(dF/dmu, dF/dsigma) = (dF/dw, dF/dw * eps) for w = mu + sigma * eps   (step 7).

    The chain rule, one weight at a time:
        dw/dmu    = 1    so  dF/dmu    = dF/dw * 1   = dF/dw
        dw/dsigma = eps  so  dF/dsigma = dF/dw * eps
    ``grad_w`` is dF/dw, of w's shape, which is eps's shape. If eps carries a
    leading sample axis that mu does not, sum both results over that axis to
    get gradients of mu's shape. The KL term adds its own gradient
    (``kl_normal_grads``) on top of these. (With validate=False the first
    result is grad_w itself, not a copy: dw/dmu = 1 changes nothing.)
    """
    if validate:
        grad_w = _as_real_array(grad_w, "grad_w")
        eps = _as_real_array(eps, "eps")
        _check_same_shape(grad_w, eps, "grad_w", "eps",
                          "grad_w is dF/dw for w = mu + sigma * eps, one entry per sampled weight")
    return grad_w, grad_w * eps


def sigma_grad_summed(grad_w, eps, *, validate=True):
    """dF/dsigma = sum_s dF/dw_s * eps_s for S samples w_s = mu + sigma * eps_s   (step 7).

    All S samples share one mu and one sigma, so each adds its own
    dF/dsigma = dF/dw_s * eps_s (``reparameterize_grads``) to sigma's gradient.
    grad_w and eps have shape (S, *sigma.shape); the result has sigma's shape.
    The number is (grad_w * eps).sum(axis=0), but np.einsum adds each product
    as it goes, so the (S, ...) array of all products is never stored: for a
    784 x 400 layer with S = 8 that is 20 MB less, and faster. (dF/dmu =
    sum_s dF/dw_s needs no products: grad_w.sum(axis=0).)
    """
    if validate:
        grad_w = _as_real_array(grad_w, "grad_w")
        eps = _as_real_array(eps, "eps")
        _check_same_shape(grad_w, eps, "grad_w", "eps",
                          "grad_w is dF/dw for w = mu + sigma * eps, one entry per sampled weight")
        if eps.ndim == 0:
            raise ValueError("eps has no sample axis; pass arrays of shape (S, *sigma.shape), or use "
                             "reparameterize_grads for a single sample")
    return np.einsum("s...,s...->...", grad_w, eps)   # sum over s of grad_w[s] * eps[s]


# ---------------------------------------------------------------- step 5: closed-form KL


def _checked_kl_inputs(mu, sigma, prior_mu, prior_sigma):
    mu = _as_real_array(mu, "mu")
    sigma = _as_positive_array(sigma, "sigma")
    _check_same_shape(mu, sigma, "mu", "sigma", "each weight has its own mu and sigma")
    prior_mu = _as_real_array(prior_mu, "prior_mu")
    prior_sigma = _as_positive_array(prior_sigma, "prior_sigma")
    _check_broadcasts_to(prior_mu, mu.shape, "prior_mu")
    _check_broadcasts_to(prior_sigma, mu.shape, "prior_sigma")
    return mu, sigma, prior_mu, prior_sigma


def kl_normal(mu, sigma, prior_mu=0.0, prior_sigma=1.0, *, validate=True, log_sigma=None):
    """KL[N(mu, sigma^2) || N(m, s^2)], summed over all weights   (step 5).

    Per weight:
        KL = log(s / sigma) + (sigma^2 + (mu - m)^2) / (2 s^2) - 1/2.
    With the standard normal prior (m = 0, s = 1) of step 4 this is the
    derivation's  -log sigma + (sigma^2 + mu^2) / 2 - 1/2.

    Computed with u = log(sigma / s) as
        KL = (e^{2u} - 1) / 2 - u + (mu - m)^2 / (2 s^2),
    using expm1 for e^{2u} - 1: each term is then >= 0 even after rounding
    (e^x - 1 >= x), the KL is exactly 0 when q equals the prior, and a tiny
    sigma gives a large finite KL instead of log(0).

    prior_mu and prior_sigma may be scalars or arrays broadcastable to mu.
    log_sigma: log sigma, if the caller has it more exactly than np.log(sigma):
    for sigma = softplus(rho), ``log_softplus(rho)``, which stays right where
    sigma underflows (rho below about -708; the KL op of the layers passes it).
    Returns a Python float.
    """
    if validate:
        mu, sigma, prior_mu, prior_sigma = _checked_kl_inputs(mu, sigma, prior_mu, prior_sigma)
    u = np.log(sigma) if log_sigma is None else np.array(log_sigma, dtype=float)   # u = log(sigma / s), in place below
    if not _is_number(prior_sigma, 1.0):    # (log 1 = 0: nothing to subtract for s = 1)
        u -= np.log(prior_sigma)
    per_weight = np.expm1(2.0 * u)
    per_weight *= 0.5
    per_weight -= u                         # (e^{2u} - 1) / 2 - u  >= 0
    z = _standardized(mu, prior_mu, prior_sigma)   # z = (mu - m) / s
    return float(per_weight.sum() + 0.5 * np.vdot(z, z))


def _is_number(value, number) -> bool:
    """True only for a Python number equal to `number` (an array, even of that value, gives False)."""
    return type(value) in (float, int) and value == number


def _standardized(mu, prior_mu, prior_sigma):
    """z = (mu - m) / s; for the standard prior (m = 0, s = 1) mu itself, not a copy, since
    mu - 0 = mu and mu / 1 = mu exactly."""
    if _is_number(prior_mu, 0.0) and _is_number(prior_sigma, 1.0):
        return mu
    z = mu - prior_mu
    z /= prior_sigma
    return z


def kl_normal_grads(mu, sigma, prior_mu=0.0, prior_sigma=1.0, *, validate=True, wrt="sigma", sigmoid_rho=None):
    """(dKL/dmu, dKL/dsigma) of the summed closed-form KL   (step 5), or (dKL/dmu, dKL/drho).

    Differentiating KL = log s - log sigma + (sigma^2 + (mu - m)^2) / (2 s^2) - 1/2:
        dKL/dmu    = (mu - m) / s^2
        dKL/dsigma = -1/sigma + sigma / s^2
    For the standard normal prior: (mu, sigma - 1/sigma). Both arrays have
    mu's shape; the KL's minimum (zero gradient) is at mu = m, sigma = s.

    wrt="rho" gives the gradient for the parameter the optimiser updates,
    sigma = softplus(rho) (step 4), by the chain rule with dsigma/drho = sigmoid(rho)
    (``kl_normal_grad_rho``). Pass sigma = softplus(rho); it may be 0.0 there. A caller
    that already holds sigmoid(rho) = softplus_grad_from_sigma(sigma) may pass
    it as sigmoid_rho (it is not checked) instead of having it computed again.
    Both results are new arrays.
    """
    if wrt not in ("sigma", "rho"):
        raise ValueError(f"wrt must be 'sigma' or 'rho', got {wrt!r}")
    if validate:
        # with wrt="rho" a sigma of 0.0 is softplus(rho) underflowed (rho < -745): check it as if it were 1
        underflowed = (_as_real_array(sigma, "sigma") == 0) if wrt == "rho" else False
        mu, sigma, prior_mu, prior_sigma = _checked_kl_inputs(mu, np.where(underflowed, 1.0, sigma),
                                                              prior_mu, prior_sigma)
        sigma = np.where(underflowed, 0.0, sigma)
    grad_mu = np.array(kl_normal_grad_mu(mu, prior_mu, prior_sigma, validate=False))   # new, even if mu itself
    if wrt == "sigma":
        return grad_mu, -1.0 / sigma + sigma / prior_sigma**2
    if sigmoid_rho is None:
        sigmoid_rho = softplus_grad_from_sigma(sigma)
    return grad_mu, kl_normal_grad_rho(sigma, sigmoid_rho, prior_sigma, validate=False)


def kl_normal_grad_mu(mu, prior_mu=0.0, prior_sigma=1.0, *, validate=True):
    """dKL/dmu = (mu - m) / s^2   (step 5), the first half of ``kl_normal_grads``.

    For the standard prior (m = 0, s = 1) with validate=False this is mu itself,
    not a copy: a caller that keeps the result multiplies it into a new array
    first (as the KL op's VJP does). validate=True checks mu, m and s (and copies mu).
    """
    if validate:
        mu = _as_real_array(mu, "mu")
        prior_mu, prior_sigma = _as_real_array(prior_mu, "prior_mu"), _as_positive_array(prior_sigma, "prior_sigma")
        _check_broadcasts_to(prior_mu, mu.shape, "prior_mu")
        _check_broadcasts_to(prior_sigma, mu.shape, "prior_sigma")
    if _is_number(prior_sigma, 1.0):
        return _standardized(mu, prior_mu, prior_sigma)   # (mu - m) / 1
    return (mu - prior_mu) / prior_sigma**2


def sigmoid_over_sigma(sigma, sigmoid_rho):
    """sigmoid(rho) / softplus(rho) = d log sigma/drho   (step 4), from sigma = softplus(rho) and sigmoid(rho).

    Its limit is 1 where sigma underflowed to 0.0 (rho below about -745); there it is not divided (no 0/0).
    """
    sigma = np.asarray(sigma)
    if sigma.all():                                  # every sigma > 0 (softplus is never negative)
        return sigmoid_rho / sigma
    return np.divide(sigmoid_rho, sigma, out=np.ones(sigma.shape), where=sigma > 0)


def kl_normal_grad_rho(sigma, sigmoid_rho, prior_sigma=1.0, *, validate=True):
    """dKL/drho = (sigma / s^2 - 1/sigma) sigmoid(rho)   (steps 4-5), the second half of ``kl_normal_grads``.

    dKL/dsigma times dsigma/drho = sigmoid(rho), written as
        sigma sigmoid(rho) / s^2 - sigmoid(rho) / sigma.
    The ratio is computed from sigma alone, sigmoid(rho) / sigma = -expm1(-sigma) / sigma
    (see ``softplus_grad_from_sigma``), which tends to 1 as sigma -> 0. So for
    rho below about -709, where 1/sigma overflows (and below -745, where sigma
    itself rounds to 0.0), dKL/drho is still the true value, about -1, instead
    of -inf or NaN. sigma = softplus(rho) may hold 0.0; sigmoid_rho is
    softplus_grad_from_sigma(sigma). Returns a new array. validate=True checks that
    sigma >= 0 and sigmoid_rho are finite arrays of one shape and that s > 0.
    """
    if validate:
        sigma, sigmoid_rho = _as_real_array(sigma, "sigma"), _as_real_array(sigmoid_rho, "sigmoid_rho")
        if np.any(sigma < 0):
            raise ValueError(f"sigma must be >= 0 (sigma = softplus(rho)), got minimum {sigma.min()}")
        _check_same_shape(sigma, sigmoid_rho, "sigma", "sigmoid_rho", "sigmoid_rho = softplus_grad_from_sigma(sigma)")
        prior_sigma = _as_positive_array(prior_sigma, "prior_sigma")
        _check_broadcasts_to(prior_sigma, sigma.shape, "prior_sigma")
    sigma = np.asarray(sigma)
    ratio = sigmoid_over_sigma(sigma, sigmoid_rho)
    grad_rho = sigma * sigmoid_rho                   # sigma sigmoid(rho) / s^2 - sigmoid(rho) / sigma
    if not _is_number(prior_sigma, 1.0):
        grad_rho /= prior_sigma**2
    grad_rho -= ratio
    return grad_rho


# ---------------------------------------------------------------- scale-mixture prior


def log_normal_pdf(w, mu, sigma, *, validate=True):
    """log N(w; mu, sigma^2) = -log(2 pi)/2 - log sigma - (w - mu)^2 / (2 sigma^2), elementwise.

    Written in log form so that it stays finite where the density itself
    underflows to 0 (far tails, tiny sigma). Arrays broadcast as NumPy does.
    validate=False skips the input checks (a NaN w then gives NaN, which a
    training loop reports with its own message).
    """
    if validate:
        w = _as_real_array(w, "w")
        mu = _as_real_array(mu, "mu")
        sigma = _as_positive_array(sigma, "sigma")
    return -0.5 * LOG_2PI - np.log(sigma) - 0.5 * ((w - mu) / sigma) ** 2


def log_scale_mixture_pdf(w, pi, sigma1, sigma2, *, validate=True):
    """log p(w) for p(w) = pi N(w; 0, sigma1^2) + (1 - pi) N(w; 0, sigma2^2), elementwise.

    The scale-mixture prior of Blundell et al. (2015), sec. 3.3: a wide
    component (sigma1) and a narrow one (sigma2 << 1) that pulls many weights
    towards zero. Computed as
        logaddexp(log pi + log N(w; 0, sigma1^2), log(1 - pi) + log N(w; 0, sigma2^2)),
    the log-sum-exp of the two log terms, so it stays finite where both
    densities underflow (a tiny sigma2 makes N(w; 0, sigma2^2) = 0.0 for
    most w). Requires 0 < pi < 1 and sigma1, sigma2 > 0. validate=False skips
    the checks (ScaleMixturePrior checked pi and the sigmas when it was made,
    and a diverged w must reach `fit`'s "training stopped" message as a NaN).
    """
    if validate:
        w = _as_real_array(w, "w")
        pi = _as_real_array(pi, "pi")
        if np.any((pi <= 0) | (pi >= 1)):
            raise ValueError(
                f"pi must lie strictly between 0 and 1, got {pi}; it is the weight of the "
                f"first component (pi = 0 or 1 is a single Gaussian: use log_normal_pdf)."
            )
        sigma1 = _as_positive_array(sigma1, "sigma1")
        sigma2 = _as_positive_array(sigma2, "sigma2")
    log_wide = np.log(pi) + log_normal_pdf(w, 0.0, sigma1, validate=False)
    log_narrow = np.log1p(-pi) + log_normal_pdf(w, 0.0, sigma2, validate=False)
    return np.logaddexp(log_wide, log_narrow)


def kl_mixture_mc(mu, sigma, eps, pi, sigma1, sigma2):
    """Monte Carlo estimate of KL[q || scale-mixture prior], summed over the weights.

    No closed form exists for this KL, so Blundell et al. (2015, sec. 3.3)
    use its definition KL = E_q[log q(w) - log p(w)] at sampled weights
    w = mu + sigma * eps (step 7):
        estimate = sum_i [log q(w_i) - log p(w_i)],
    with log q(w) = log N(w; mu, sigma^2) = -log(2 pi)/2 - log sigma - eps^2/2,
    since (w - mu) / sigma = eps. Averaged over draws of eps ~ N(0, 1) it is
    unbiased for the KL.

    eps has either mu's shape (one sample) or shape (S, *mu.shape), in which
    case the S estimates are averaged. Returns a Python float.
    """
    mu = _as_real_array(mu, "mu")
    sigma = _as_positive_array(sigma, "sigma")
    _check_same_shape(mu, sigma, "mu", "sigma", "each weight has its own mu and sigma")
    eps = _as_real_array(eps, "eps")
    if eps.shape != mu.shape and eps.shape[1:] != mu.shape:
        raise ValueError(
            f"eps has shape {eps.shape} but mu has shape {mu.shape}; draw eps with shape "
            f"{mu.shape} for one sample or (S, *{mu.shape}) for S samples."
        )
    w = mu + sigma * eps
    log_q = -0.5 * LOG_2PI - np.log(sigma) - 0.5 * eps**2
    log_p = log_scale_mixture_pdf(w, pi, sigma1, sigma2)
    weight_axes = tuple(range(eps.ndim - mu.ndim, eps.ndim))
    per_sample = np.sum(log_q - log_p, axis=weight_axes)
    return float(np.mean(per_sample))
