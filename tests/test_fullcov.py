"""Tests for minivi.fullcov: the full-covariance Gaussian q = N(mu, L Lᵀ) (steps 4, 5, 7 with a Cholesky factor).

Every gradient is checked three ways, as in test_bayes.py:
  (a) the explicit formula registered as one engine op (sample_full_cov, kl_full_cov_op),
  (b) the engine's autodiff of the same expression built from primitive ops,
  (c) central differences of the same expression written in plain NumPy, in float64.
The KL's value is checked against exact.kl_gaussians, an independent implementation
(Cholesky solves), and the trained q against the exact posterior of a conjugate model.
"""
import warnings

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from example_counts import Examples
import minivi as mv
from gradient_helpers import assert_within, engine_grads
from minivi import fullcov as fc

THOROUGH = Examples(plain=10, slow=40, deadline=None)   # plain run / `pytest -m slow`
H = 1e-6                      # central-difference step
SAME_ARITHMETIC = 1e-12       # (a) vs (b): the same float64 products summed in another order


def finite_floats(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def softplus(x):
    return np.logaddexp(0.0, x)


def numpy_scale_tril(l_raw):
    """L from l_raw, written out again: strict lower triangle as it is, softplus on the diagonal."""
    d = l_raw.shape[0]
    L = np.zeros((d, d))
    for i in range(d):
        for j in range(i):
            L[i, j] = l_raw[i, j]
        L[i, i] = softplus(l_raw[i, i])
    return L


def autodiff_scale_tril(l_raw):
    """L from primitive Tensor ops: l_raw * strict-lower mask + softplus(l_raw) * identity."""
    d = l_raw.shape[0]
    return l_raw * np.tril(np.ones((d, d)), -1) + l_raw.softplus() * np.eye(d)



@st.composite
def full_cov_cases(draw):
    """D in 1..5, an optional sample axis, l_raw with its diagonal over [-5, 5] (L_ii from 0.007 to 5)."""
    d = draw(st.integers(1, 5))
    n_samples = draw(st.sampled_from([None, 1, 3]))
    lead = () if n_samples is None else (n_samples,)
    arr = lambda shape, lo, hi: draw(hnp.arrays(np.float64, shape, elements=finite_floats(lo, hi)))  # noqa: E731
    return dict(mu=arr((d,), -2, 2), l_raw=arr((d, d), -2, 2) + np.diag(arr((d,), -3, 3)),
                eps=arr(lead + (d,), -3, 3), a=arr((d, 3), -1, 1), c=arr(lead + (3,), -2, 2),
                prior_sigma=draw(finite_floats(0.3, 3.0)))


# ---------------------------------------------------------------- the formulas on arrays


def test_scale_tril_keeps_the_strict_lower_triangle_and_softplus_on_the_diagonal():
    l_raw = np.array([[0.0, 9.0, 9.0], [-1.5, 2.0, 9.0], [0.25, 3.0, -30.0]])
    L = fc.scale_tril(l_raw)
    assert np.array_equal(L, numpy_scale_tril(l_raw))
    assert np.array_equal(np.triu(L, 1), np.zeros((3, 3)))   # the upper triangle of l_raw is ignored
    assert L[0, 0] == np.log(2.0) and 0 < L[2, 2] < 1e-12     # softplus(-30) = e^-30 (1 - ...), still > 0


@pytest.mark.parametrize("shape", [(2, 3), (3, 2), (3,), (2, 2, 2)])
def test_scale_tril_refuses_what_is_not_a_square_matrix(shape):
    with pytest.raises(ValueError, match=r"l_raw must be a square matrix \(D, D\)"):
        fc.scale_tril(np.zeros(shape))


def test_samples_have_covariance_L_Lt():
    rng = np.random.default_rng(0)
    mu, L = np.array([1.0, -2.0, 0.5]), np.array([[0.5, 0, 0], [0.8, 0.3, 0], [-0.2, 0.4, 1.0]])
    n = 200_000
    w = fc.reparameterize_full(mu, L, rng.standard_normal((n, 3)))
    # Each entry of a sample covariance has standard error <= sqrt(2/n) * (largest variance) ~ 0.004 here.
    assert np.allclose(w.mean(axis=0), mu, atol=5 * np.sqrt(np.diag(L @ L.T).max() / n))
    assert np.allclose(np.cov(w.T), L @ L.T, atol=5 * np.sqrt(2.0 / n) * np.diag(L @ L.T).max())


@THOROUGH.given(case=full_cov_cases())
def test_kl_full_cov_matches_the_general_gaussian_kl(case):
    L = numpy_scale_tril(case["l_raw"])
    mu, s, d = case["mu"], case["prior_sigma"], case["mu"].size
    expected = mv.exact.kl_gaussians(mu, L @ L.T, np.zeros(d), s ** 2 * np.eye(d))
    scale = np.sum(L ** 2) / s ** 2 + np.sum(mu ** 2) / s ** 2 + d + np.sum(np.abs(np.log(np.diag(L)))) + d * abs(np.log(s))
    # exact.kl_gaussians factorises L Lᵀ again: its log det errs by up to ~ U · cond(L Lᵀ) (Cholesky's
    # backward error), which reaches 1e-3 when the draws make L ill-conditioned (cond ~ 1e13).
    rounding = 1e-12 * scale + 10 * np.finfo(float).eps * np.linalg.cond(L @ L.T)
    assert np.isclose(fc.kl_full_cov(mu, L, s), expected, rtol=0, atol=rounding)


def test_kl_full_cov_with_a_diagonal_L_is_the_mean_field_kl():
    mu, sigma = np.array([0.3, -1.0, 2.0]), np.array([0.2, 1.5, 0.7])
    assert np.isclose(fc.kl_full_cov(mu, np.diag(sigma), 0.8), mv.gaussian.kl_normal(mu, sigma, prior_sigma=0.8),
                      rtol=1e-13)


def test_kl_full_cov_is_zero_at_the_prior_and_its_gradient_vanishes_there():
    assert abs(fc.kl_full_cov(np.zeros(4), 0.7 * np.eye(4), 0.7)) < 1e-14
    grad_mu, grad_L = fc.kl_full_cov_grads(np.zeros(4), 0.7 * np.eye(4), 0.7)
    assert np.array_equal(grad_mu, np.zeros(4)) and np.allclose(grad_L, 0.0, atol=1e-15)


@THOROUGH.given(case=full_cov_cases())
def test_kl_full_cov_grads_match_central_differences_on_the_lower_triangle(case):
    mu, s = case["mu"], case["prior_sigma"]
    L = numpy_scale_tril(case["l_raw"])
    grad_mu, grad_L = fc.kl_full_cov_grads(mu, L, s)
    lower = np.tril(np.ones(L.shape, dtype=bool))

    def kl_of(m, lower_entries):
        M = np.zeros(L.shape)
        M[lower] = lower_entries
        return fc.kl_full_cov(m, M, s, validate=False)

    fd_mu, fd_lower = mv.numerical_grad(kl_of, mu, L[lower], eps=H)
    # Truncation H^2/6 |d^3 KL| <= H^2/3 / L_ii^3 <= 1e-12 / 3e-7 (L_ii >= softplus(-5) ~ 0.0067) ~ 1e-6 · ...:
    # relative 1e-6 of the gradient's own size (1/L_ii) plus rounding 1e-8 (1 + |KL|) covers it.
    atol = 1e-8 * (1.0 + abs(fc.kl_full_cov(mu, L, s)))
    assert_within(grad_mu, fd_mu, atol + 1e-6 * np.abs(fd_mu), "dKL/dmu")
    assert_within(grad_L[lower], fd_lower, atol + 1e-6 * np.abs(fd_lower), "dKL/dL, lower triangle")
    assert np.array_equal(np.triu(grad_L, 1), np.zeros(L.shape)), "dKL/dL must be lower-triangular"


@THOROUGH.given(case=full_cov_cases())
def test_reparameterize_full_grads_match_central_differences_in_mu_and_L(case):
    mu, eps, a, c = (case[k] for k in ("mu", "eps", "a", "c"))
    L = numpy_scale_tril(case["l_raw"])
    lower = np.tril(np.ones(L.shape, dtype=bool))

    def F(m, lower_entries):
        M = np.zeros(L.shape)
        M[lower] = lower_entries
        return float(np.sum(np.tanh((m + eps @ M.T) @ a) * c))

    w = fc.reparameterize_full(mu, L, eps)
    grad_w = (1.0 - np.tanh(w @ a) ** 2) * c @ a.T           # dF/dw of sum(tanh(w a) c), by hand
    grad_mu, grad_L = fc.reparameterize_full_grads(grad_w, eps)
    fd_mu, fd_lower = mv.numerical_grad(F, mu, L[lower], eps=H)
    fd_atol = 1e-7 * (1.0 + np.abs(c).sum())                   # as in the three-way test below
    assert_within(grad_mu, fd_mu, fd_atol + 1e-6 * np.abs(fd_mu), "dF/dmu")
    assert_within(grad_L[lower], fd_lower, fd_atol + 1e-6 * np.abs(fd_lower), "dF/dL, lower triangle")
    assert np.array_equal(np.triu(grad_L, 1), np.zeros(L.shape)), "dF/dL must be restricted to the lower triangle"


# ---------------------------------------------------------------- the two engine ops, three ways


def downstream(w, a, c):
    """A nonlinear scalar of the sampled weights: sum(tanh(w @ a) * c); works on Tensors and arrays."""
    return ((w @ a).tanh() * c).sum()


def downstream_numpy(mu, l_raw, eps, a, c):
    w = mu + eps @ numpy_scale_tril(l_raw).T
    return float(np.sum(np.tanh(w @ a) * c))


@THOROUGH.given(case=full_cov_cases())
def test_sample_full_cov_gradient_three_way(case):
    mu, l_raw, eps, a, c = (case[k] for k in ("mu", "l_raw", "eps", "a", "c"))
    explicit = engine_grads(lambda m, r: downstream(fc.sample_full_cov(m, r, eps), a, c), mu, l_raw)
    autodiff = engine_grads(lambda m, r: downstream(m + mv.Tensor(eps) @ autodiff_scale_tril(r).T, a, c), mu, l_raw)
    numeric = mv.numerical_grad(lambda m, r: downstream_numpy(m, r, eps, a, c), mu, l_raw, eps=H)

    # Scale of the summed terms: |dF/dw| (and times |eps|) summed over samples and entries.
    (grad_w,) = engine_grads(lambda w: downstream(w, a, c), mu + eps @ numpy_scale_tril(l_raw).T)
    grad_w2, eps2 = np.atleast_2d(grad_w), np.atleast_2d(eps)
    scale_mu = np.abs(grad_w2).sum(axis=0)
    scale_raw = np.abs(grad_w2).T @ np.abs(eps2) + 1e-300
    assert_within(explicit[0], autodiff[0], SAME_ARITHMETIC * scale_mu, "dF/dmu explicit vs autodiff")
    assert_within(explicit[1], autodiff[1], SAME_ARITHMETIC * scale_raw, "dF/dl_raw explicit vs autodiff")
    assert np.array_equal(np.triu(explicit[1], 1), np.zeros(l_raw.shape)), "l_raw's upper triangle is unused"
    # Central differences: F is a sum of |c| <= 2 times tanh of arguments with |w| <= 2 + 5·3·... bounded terms;
    # rounding ~10 U sum|c| / H ~ 2e-9 sum|c|, truncation H^2/6 |F'''| ~ 1e-11 (|a| |eps|)^3 sum|c|.
    fd_atol = 1e-7 * (1.0 + np.abs(c).sum())
    for k, name in enumerate(("dF/dmu", "dF/dl_raw")):
        assert_within(explicit[k], numeric[k], fd_atol + 1e-6 * np.abs(numeric[k]), f"{name} vs central differences")


@THOROUGH.given(case=full_cov_cases())
def test_kl_full_cov_op_gradient_three_way(case):
    mu, l_raw, s = case["mu"], case["l_raw"], case["prior_sigma"]
    d = mu.size

    def primitive_kl(m, r):
        L = autodiff_scale_tril(r)
        log_diag = (L * np.eye(d)).sum(axis=1).log()
        return ((L * L).sum() + (m * m).sum()) * (0.5 / s ** 2) - 0.5 * d + d * np.log(s) - log_diag.sum()

    explicit = engine_grads(lambda m, r: fc.kl_full_cov_op(m, r, s), mu, l_raw)
    autodiff = engine_grads(primitive_kl, mu, l_raw)
    op_value = fc.kl_full_cov_op(mv.Tensor(mu), mv.Tensor(l_raw), s).item()   # the split form (op) = the formula
    assert op_value == pytest.approx(fc.kl_full_cov(mu, numpy_scale_tril(l_raw), s), rel=1e-12, abs=1e-12)
    numeric = mv.numerical_grad(lambda m, r: fc.kl_full_cov(m, numpy_scale_tril(r), s, validate=False), mu, l_raw,
                                eps=H)
    L = numpy_scale_tril(l_raw)
    scale = np.abs(L) / s ** 2 + np.diag(1.0 / np.diag(L)) + np.abs(mu).max() / s ** 2
    for k, name in enumerate(("dKL/dmu", "dKL/dl_raw")):
        ref = scale.max(axis=1) if k == 0 else scale
        assert_within(explicit[k], autodiff[k], SAME_ARITHMETIC * ref, f"{name} explicit vs autodiff")
        fd_atol = 1e-8 * (1.0 + abs(fc.kl_full_cov(mu, L, s)))
        assert_within(explicit[k], numeric[k], fd_atol + 1e-6 * np.abs(numeric[k]), f"{name} vs central differences")


def test_a_kl_gradient_without_the_log_determinant_fails_the_check():
    """The check can fail: dKL/dL = L/s² alone (the log-det term forgotten) is caught by central differences."""
    mu, L = np.array([0.2, -0.4]), np.array([[0.6, 0.0], [0.3, 0.9]])
    _, grad_L = fc.kl_full_cov_grads(mu, L, 1.0)
    wrong = L / 1.0
    fd = mv.numerical_grad(lambda M: fc.kl_full_cov(mu, np.tril(M), 1.0, validate=False), L)[0]
    assert np.allclose(np.tril(grad_L), np.tril(fd), rtol=1e-6, atol=1e-8)
    assert not np.allclose(np.tril(wrong), np.tril(fd), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- q, bad input, random draws


def test_a_fresh_q_is_uncorrelated_with_init_sigma():
    q = mv.FullCovGaussian(np.arange(3.0), rng=np.random.default_rng(0), init_sigma=0.05)
    assert np.array_equal(q.mu.data, np.arange(3.0))
    assert np.allclose(q.covariance(), 0.05 ** 2 * np.eye(3), rtol=1e-12)
    assert q.sample().shape == (3,) and q.sample(4).shape == (4, 3) and q.kl().shape == ()


def test_same_seed_same_samples_and_reading_the_kl_draws_nothing():
    def draws(read_kl):
        q = mv.FullCovGaussian(np.zeros(3), rng=np.random.default_rng(7))
        first = q.sample(2).data
        if read_kl:
            q.kl()
        return first, q.sample(2).data

    a, b = draws(False), draws(True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("prior_sigma", [0.0, -1.0, np.nan, np.inf])
def test_non_positive_prior_sigma_is_refused(prior_sigma):
    with pytest.raises(ValueError, match="prior_sigma"):
        mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0), prior_sigma=prior_sigma)
    with pytest.raises(ValueError, match="prior_sigma"):
        fc.kl_full_cov(np.zeros(2), np.eye(2), prior_sigma)


def test_bad_shapes_and_values_are_refused_with_the_fix():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"shape \(D,\).*\(2, 3\)"):
        mv.FullCovGaussian(np.zeros((2, 3)), rng=rng)
    with pytest.raises(ValueError, match="NaN or inf"):
        mv.FullCovGaussian(np.array([0.0, np.nan]), rng=rng)
    with pytest.raises(TypeError, match="Generator"):
        mv.FullCovGaussian(np.zeros(2), rng=0)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 2\)"):
        fc.kl_full_cov(np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="above its diagonal"):
        fc.kl_full_cov(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="diagonal must be > 0"):
        fc.kl_full_cov_grads(np.zeros(2), np.array([[1.0, 0.0], [0.5, 0.0]]))
    with pytest.raises(ValueError, match=r"eps has shape \(3,\).*D = 2"):
        fc.reparameterize_full(np.zeros(2), np.eye(2), np.zeros(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        fc.reparameterize_full(np.zeros(2), np.eye(2), np.array([0.0, np.inf]))
    with pytest.raises(ValueError, match="grad_w has shape"):
        fc.reparameterize_full_grads(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n_samples"):
        mv.FullCovGaussian(np.zeros(2), rng=rng).sample(0)


def test_fit_full_cov_refuses_bad_arguments_and_a_non_scalar_log_likelihood():
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    ok = lambda w: (w * w).sum() * -0.5   # noqa: E731
    with pytest.raises(ValueError, match="n_steps"):
        mv.fit_full_cov(ok, q, n_steps=0)
    with pytest.raises(ValueError, match="average_last"):
        mv.fit_full_cov(ok, q, n_steps=5, average_last=1.0)
    with pytest.raises(TypeError, match="FullCovGaussian"):
        mv.fit_full_cov(ok, object(), n_steps=5)
    with pytest.raises(TypeError, match=r"scalar Tensor.*shape \(2,\)"):
        mv.fit_full_cov(lambda w: w * 2.0, q, n_steps=5)
    with pytest.raises(TypeError, match="scalar Tensor"):
        mv.fit_full_cov(lambda w: 1.0, q, n_steps=5)


def test_fit_full_cov_stops_on_a_nan_loss_with_a_message(capsys):
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    before = q.mu.data.copy()
    history = mv.fit_full_cov(lambda w: (w * np.nan).sum(), q, n_steps=5)
    assert history.stopped is not None and "step 1" in history.stopped and "nan" in history.stopped
    assert len(history) == 0 and np.array_equal(q.mu.data, before)   # no update from a NaN gradient
    assert "stopped" in capsys.readouterr().err


def test_fit_full_cov_stops_on_a_gradient_too_large_to_square(capsys):
    # log p = 1e155 Σw: the loss is finite, its gradient in mu is -1e155, whose square Adam cannot hold
    # (it would be inf, the step m / sqrt(v) would be 0, and mu frozen without a word).
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = mv.fit_full_cov(lambda w: (w * 1e155).sum(), q, n_steps=3)
    assert history.stopped is not None and "step 1" in history.stopped, history.stopped
    assert "gradient of q.mu reaches 1e+155, too large to square" in history.stopped, history.stopped
    assert len(history) == 0 and np.array_equal(q.mu.data, np.zeros(2))
    assert "stopped" in capsys.readouterr().err


def test_fit_full_cov_stops_on_an_infinite_gradient_without_a_runtime_warning(capsys):
    # sqrt at 0 is finite, its derivative 1/(2 sqrt 0) is not: the backward divides by zero.
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = mv.fit_full_cov(lambda w: (w * 0.0).sum().sqrt() - (w * w).sum() * 0.5, q, n_steps=3)
    assert history.stopped is not None and "step 1" in history.stopped and "gradient of q.mu" in history.stopped
    assert "stopped" in capsys.readouterr().err


def test_a_nan_in_l_raw_reaches_the_stop_message_as_the_kl_does(capsys):
    # The sampling op does not re-check l_raw: a NaN goes through it as through the KL, and the fit reports it.
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    q.l_raw.data = np.array([[np.nan, 0.0], [0.0, 0.0]])
    assert np.isnan(q.kl().item())
    assert np.isnan(q.sample(3).data[:, 0]).all() and np.isfinite(q.sample(3).data[:, 1]).all()
    history = mv.fit_full_cov(lambda w: (w * w).sum() * -0.5, q, n_steps=3)
    assert history.stopped is not None and "step 1" in history.stopped and "nan" in history.stopped
    assert "stopped" in capsys.readouterr().err


def test_the_kl_of_an_underflowed_sigma_is_its_limit_without_a_runtime_warning():
    """softplus(-800) = 0.0 and softplus(-720) ≈ 1e-313 (subnormal): log L_ii is rho_ii to double
    precision and dKL/drho_ii = L_ii sigmoid(rho_ii)/s² − sigmoid(rho_ii)/softplus(rho_ii) is −1,
    not log 0 = −inf and 1/0 (NumPy's divide-by-zero RuntimeWarning)."""
    mu = mv.Tensor([0.5, -1.0], requires_grad=True)
    l_raw = mv.Tensor([[-800.0, 7.0], [0.3, -720.0]], requires_grad=True)   # 7.0: above the diagonal, unused
    s = 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kl = fc.kl_full_cov_op(mu, l_raw, s)
        kl.backward()
    # 1/2 [(‖L‖²_F + ‖mu‖²)/s² − D] + D log s − Σ log L_ii, with ‖L‖²_F = 0.3² (+ 0 + ~1e-626)
    expected = 0.5 * ((0.3**2 + 0.5**2 + 1.0**2) / s**2 - 2) + 2 * np.log(s) + 800.0 + 720.0
    assert kl.item() == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(mu.grad, [0.5 / s**2, -1.0 / s**2], rtol=1e-15)
    np.testing.assert_allclose(l_raw.grad, [[-1.0, 0.0], [0.3 / s**2, -1.0]], rtol=1e-15)


def test_just_above_the_underflow_the_kl_and_its_gradient_approach_those_limits():
    """At rho = -700 sigma = e^-700 is a normal double and the formulas run as written: they
    give −log L_ii = 700 and dKL/drho = −1 to within rounding, the limits taken below −708."""
    mu, l_raw = mv.Tensor([0.0], requires_grad=True), mv.Tensor([[-700.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kl = fc.kl_full_cov_op(mu, l_raw)
        kl.backward()
    assert kl.item() == pytest.approx(-0.5 + 700.0, rel=1e-15)
    assert l_raw.grad[0, 0] == pytest.approx(-1.0, rel=1e-14)


def test_a_fit_whose_steps_drive_sigma_below_the_smallest_double_runs_without_a_runtime_warning(capsys):
    """A scale learning rate of 1000 against a sharp likelihood sends the diagonal of l_raw below
    −745 in a few steps, where sigma = softplus(rho) is 0.0: every step's KL and gradient stay
    finite (the limits above), so the run neither warns nor stops with a NaN."""
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = mv.fit_full_cov(lambda w: (w * w).sum() * -1e4, q, n_steps=10, scale_lr=1000.0)
    assert history.stopped is None and len(history) == 10 and capsys.readouterr().err == ""
    assert np.all(np.isfinite(history.loss)) and np.all(np.isfinite(history.kl))
    assert np.all(np.diag(q.l_raw.data) < -745) and np.all(np.diag(q.scale_tril()) == 0.0)


# ---------------------------------------------------------------- the conjugate model: q reaches the exact posterior


def conjugate_problem():
    """Tutorials 01-02's model: y = w0 + w1 x + noise, 20 points, noise 0.3, prior N(0, I)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, 20)
    Phi = np.column_stack([np.ones(20), x])
    y = Phi @ np.array([-0.3, 0.9]) + 0.3 * rng.standard_normal(20)
    return Phi, y, 1.0, 0.3


@pytest.mark.slow
def test_full_cov_vi_recovers_the_exact_posterior_on_the_conjugate_model():
    Phi, y, prior_sigma, noise_sigma = conjugate_problem()
    mean, cov = mv.exact.blr_posterior(Phi, y, prior_sigma, noise_sigma)

    def log_likelihood(w):
        r = y - Phi @ w
        return (r * r).sum() * (-0.5 / noise_sigma ** 2)   # up to a constant, which has no gradient

    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(1), prior_sigma=prior_sigma)
    mv.fit_full_cov(log_likelihood, q, n_steps=2000, lr=1e-2, n_samples=4, average_last=0.5)
    sd = np.sqrt(np.diag(cov))
    # The exact posterior is in q's family, so the ELBO's optimum IS it; what remains is the
    # stochastic-gradient noise left after averaging: a few percent is the claim.
    assert np.all(np.abs(q.mu.data - mean) < 0.03 * sd), (q.mu.data, mean)
    assert np.allclose(q.covariance(), cov, rtol=0.03, atol=0), (q.covariance(), cov)
    # The correlation (about -0.87 here) is what mean-field q cannot represent.
    corr = cov[0, 1] / (sd[0] * sd[1])
    q_corr = q.covariance()[0, 1] / np.sqrt(q.covariance()[0, 0] * q.covariance()[1, 1])
    assert corr < -0.5 and abs(q_corr - corr) < 0.02


def two_weight_regression():
    """y = w x + b + noise with 6 points and noise 1: few data, so the prior moves the posterior mean."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, (6, 1))
    y = 0.5 + 0.8 * x[:, 0] + rng.standard_normal(6)
    model = mv.Linear(1, 1, rng=rng)
    phi = np.column_stack([x[:, 0], np.ones(6)])          # the flat layout: the weight, then the bias
    return model, x, y, phi


def test_fit_full_cov_with_flat_log_likelihood_reaches_the_exact_mean_not_the_prior_counted_twice():
    model, x, y, phi = two_weight_regression()
    mean, cov = mv.exact.blr_posterior(phi, y, 1.0, 1.0)
    twice, _ = mv.exact.blr_posterior(phi, y, 1.0 / np.sqrt(2.0), 1.0)   # N(0, 1)² ∝ N(0, 1/2)
    sd = np.sqrt(np.diag(cov))
    assert abs(twice[0] - mean[0]) > 0.3 * sd[0]                         # the two answers are told apart
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(1), prior_sigma=1.0)
    mv.fit_full_cov(mv.flat.log_likelihood(model, x, y, noise_sigma=1.0), q, n_steps=300, lr=0.05, n_samples=4,
                    average_last=0.5)
    assert np.all(np.abs(q.mu.data - mean) < 0.1 * sd), (q.mu.data, mean, twice)


def test_fit_full_cov_refuses_a_log_joint():
    """flat.log_joint adds the prior, which q's KL holds already: recognised by includes_prior, refused."""
    model, x, y, _ = two_weight_regression()
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(1))
    before = q.mu.data.copy()
    with pytest.raises(ValueError, match=r"counted twice.*mv\.flat\.log_likelihood"):
        mv.fit_full_cov(mv.flat.log_joint(model, x, y, noise_sigma=1.0), q, n_steps=5)
    assert np.array_equal(q.mu.data, before)


def test_a_vectorized_log_likelihood_gives_the_same_steps_as_one_call_per_sample():
    """With `vectorized = True` all S samples go in one call; the loss and gradients are the same numbers."""
    Phi, y, prior_sigma, noise_sigma = conjugate_problem()

    def per_sample(w):
        r = y - Phi @ w
        return (r * r).sum() * (-0.5 / noise_sigma ** 2)

    def batched(W):
        r = y - W @ Phi.T
        return (r * r).sum(axis=1) * (-0.5 / noise_sigma ** 2)

    batched.vectorized = True
    runs = []
    for log_likelihood in (per_sample, batched):
        q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(3), prior_sigma=prior_sigma)
        history = mv.fit_full_cov(log_likelihood, q, n_steps=20, n_samples=3)
        runs.append((np.array(history.loss), q.mu.data, q.l_raw.data))
    for a, b in zip(*runs):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match=r"shape \(3,\).*vectorized"):
        bad = lambda W: (W * 1.0).sum()   # noqa: E731
        bad.vectorized = True
        mv.fit_full_cov(bad, q, n_steps=2, n_samples=3)


def test_scale_lr_sets_the_learning_rate_of_L_alone():
    """Adam's first step moves every entry with a non-zero gradient by about its learning rate."""
    Phi, y, prior_sigma, noise_sigma = conjugate_problem()

    def log_likelihood(w):
        r = y - Phi @ w
        return (r * r).sum() * (-0.5 / noise_sigma ** 2)

    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0), prior_sigma=prior_sigma)
    mu0, raw0 = q.mu.data.copy(), q.l_raw.data.copy()
    mv.fit_full_cov(log_likelihood, q, n_steps=1, lr=1e-2, scale_lr=1e-5)
    assert np.allclose(np.abs(q.mu.data - mu0), 1e-2, rtol=1e-3)
    moved = np.tril(np.ones((2, 2), dtype=bool))
    assert np.allclose(np.abs(q.l_raw.data - raw0)[moved], 1e-5, rtol=1e-3)
    assert np.array_equal(q.l_raw.data[0, 1], raw0[0, 1])   # the unused upper triangle never moves


def test_init_sigma_per_weight_starts_q_at_a_given_diagonal_and_bad_ones_are_refused():
    sigma = np.array([0.1, 2.0, 0.5])
    q = mv.FullCovGaussian(np.ones(3), rng=np.random.default_rng(0), init_sigma=sigma)
    assert np.allclose(q.scale_tril(), np.diag(sigma), rtol=1e-12, atol=0)
    for bad in (np.array([0.1, 0.0, 1.0]), np.ones(2), -1.0):
        with pytest.raises(ValueError, match="init_sigma"):
            mv.FullCovGaussian(np.ones(3), rng=np.random.default_rng(0), init_sigma=bad)


def test_sample_full_cov_refuses_eps_of_the_wrong_shape_or_with_nan():
    mu, l_raw = mv.Tensor(np.zeros(3), requires_grad=True), mv.Tensor(np.eye(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"eps has shape \(2,\).*D = 3"):
        fc.sample_full_cov(mu, l_raw, np.zeros(2))
    with pytest.raises(ValueError, match="NaN or inf"):
        fc.sample_full_cov(mu, l_raw, np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"\(D,\) and \(D, D\)"):
        fc.sample_full_cov(mu, mv.Tensor(np.eye(2)), np.zeros(3))
