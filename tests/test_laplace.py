"""The Laplace approximation (minivi/laplace.py): exact on conjugate linear regression (minivi/exact.py),
its Hessians against finite differences of the log joint itself, the Jacobian against finite differences
of the forward, the evidence-maximising prior precision, and bad input."""
import warnings

import numpy as np
import pytest

import minivi as mv
from minivi import laplace as la


def blr_problem(seed, n, d, prior_sigma=1.3, noise_sigma=0.4):
    """Data from a linear model, the same model as a Linear(d, 1) network (its bias = a feature of 1s)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ rng.normal(size=d) + 0.5 + noise_sigma * rng.normal(size=n)
    phi = np.hstack([x, np.ones((n, 1))])        # flat order of Linear: W (d, 1) row by row, then b
    return x, y, phi, mv.Sequential(mv.Linear(d, 1, rng=rng)), prior_sigma, noise_sigma


def tanh_net(seed, sizes=(2, 3, 1)):
    rng = np.random.default_rng(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [mv.Linear(a, b, rng=rng), mv.Tanh()]
    return mv.Sequential(*layers[:-1]), rng


@pytest.mark.parametrize("seed, n, d", [(0, 20, 1), (1, 40, 3), (2, 15, 9)])
@pytest.mark.parametrize("kind", ["ggn", "exact"])
def test_laplace_evidence_is_exact_on_conjugate_linear_regression(seed, n, d, kind):
    x, y, phi, model, s, sigma = blr_problem(seed, n, d)
    mean, cov = mv.exact.blr_posterior(phi, y, s, sigma)
    approx = la.laplace(model, x, y[:, None], noise_sigma=sigma, prior_sigma=s, w=mean, hessian=kind)
    exact = mv.exact.blr_log_evidence(phi, y, s, sigma)
    assert approx.log_evidence == pytest.approx(exact, abs=1e-10, rel=0)
    assert np.allclose(approx.hessian, np.linalg.inv(cov), rtol=1e-10, atol=1e-10 * np.abs(approx.hessian).max())
    # away from the mode the same formula is NOT the evidence (it is lower): the test can fail
    with pytest.warns(la.NotAModeWarning, match="not a mode"):
        away = la.laplace(model, x, y[:, None], noise_sigma=sigma, prior_sigma=s, w=mean + 0.1, hessian=kind)
    assert away.log_evidence < exact - 1e-3


def test_the_fan_in_prior_is_exact_on_linear_regression_too():
    # p(W_i) = N(0, s^2 / d), p(b) = N(0, s^2): with w = S v, v ~ N(0, I), the model is y = (Phi S) v + noise
    x, y, phi, model, s, sigma = blr_problem(12, 25, 4)
    scales = np.array([s / 2.0] * 4 + [s])                   # in_features = 4
    mean, _ = mv.exact.blr_posterior(phi * scales, y, 1.0, sigma)
    approx = la.laplace(model, x, y, noise_sigma=sigma, prior_sigma=s, fan_in_prior=True, w=scales * mean)
    assert approx.log_evidence == pytest.approx(mv.exact.blr_log_evidence(phi * scales, y, 1.0, sigma), abs=1e-10)
    best = approx.optimise_prior_precision()                 # and the evidence's alpha is the grid's best
    grid = best.prior_precision * np.exp(np.linspace(-2, 2, 401))
    evidences = [approx.with_prior_precision(a).log_evidence for a in grid]
    assert best.log_evidence >= max(evidences) - 1e-12
    assert abs(np.log(grid[int(np.argmax(evidences))] / best.prior_precision)) <= 0.01


def test_linearised_predictive_is_the_exact_posterior_predictive_on_linear_regression():
    x, y, phi, model, s, sigma = blr_problem(3, 30, 2)
    mean, cov = mv.exact.blr_posterior(phi, y, s, sigma)
    approx = la.laplace(model, x, y, noise_sigma=sigma, prior_sigma=s, w=mean)
    x_new = np.random.default_rng(9).normal(size=(7, 2)) * 3
    phi_new = np.hstack([x_new, np.ones((7, 1))])
    f_mean, f_var = approx.predict(x_new)
    assert f_mean.shape == f_var.shape == (7, 1)
    assert np.allclose(f_mean[:, 0], phi_new @ mean, rtol=1e-12, atol=1e-12)
    assert np.allclose(f_var[:, 0], np.einsum("ni,ij,nj->n", phi_new, cov, phi_new), rtol=1e-10)


def second_differences(f, w, h=1e-4):
    """H_ij = [f(w+h e_i+h e_j) - f(w+h e_i-h e_j) - f(w-h e_i+h e_j) + f(w-h e_i-h e_j)] / 4h², from VALUES only."""
    d = len(w)
    out, eye = np.empty((d, d)), np.eye(d) * h
    for i in range(d):
        for j in range(d):
            out[i, j] = (f(w + eye[i] + eye[j]) - f(w + eye[i] - eye[j]) - f(w - eye[i] + eye[j])
                         + f(w - eye[i] - eye[j])) / (4 * h * h)
    return out


def test_exact_hessian_matches_second_differences_of_the_log_joint_on_a_tanh_network():
    model, rng = tanh_net(4)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(12, 1))
    log_prob = mv.flat.log_joint(model, x, y, noise_sigma=0.5, prior_sigma=1.0)
    w = mv.flat.parameters_to_vector(model)
    h = la.exact_hessian(log_prob, w)
    by_values = -second_differences(lambda v: log_prob(v).item(), w)
    assert np.abs(h - by_values).max() < 1e-5 * np.abs(h).max()
    # the GGN drops the residual term, so here (residuals not zero) it differs
    g = la.ggn(model, w, x, noise_sigma=0.5, prior_sigma=1.0)
    assert np.abs(g - h).max() > 1e-2 * np.abs(h).max()


def test_ggn_equals_the_exact_hessian_where_the_residuals_vanish():
    model, rng = tanh_net(5, (2, 4, 2))
    x = rng.normal(size=(10, 2))
    w = mv.flat.parameters_to_vector(model)
    y = mv.flat.functional_forward(model, w, x).data        # f(x; w) = y: the residual term is zero
    log_prob = mv.flat.log_joint(model, x, y, noise_sigma=0.3, prior_sigma=2.0)
    exact = la.exact_hessian(log_prob, w)
    g = la.ggn(model, w, x, noise_sigma=0.3, prior_sigma=2.0)
    assert np.abs(g - exact).max() < 1e-8 * np.abs(g).max()


def test_jacobian_matches_central_differences_of_the_forward():
    model, rng = tanh_net(6, (3, 5, 2))
    x = rng.normal(size=(8, 3))
    w = mv.flat.parameters_to_vector(model)
    j = la.jacobian(model, w, x)
    assert j.shape == (8, 2, len(w))
    eps, fd = 1e-6, np.empty_like(j)
    for i in range(len(w)):
        e = np.zeros(len(w))
        e[i] = eps
        fd[:, :, i] = (mv.flat.functional_forward(model, w + e, x).data
                       - mv.flat.functional_forward(model, w - e, x).data) / (2 * eps)
    assert np.abs(j - fd).max() < 1e-8


def test_the_evidence_prior_precision_maximises_the_laplace_evidence_at_a_fixed_mode():
    model, rng = tanh_net(7)
    x, y = rng.normal(size=(25, 2)), rng.normal(size=(25, 1))
    with pytest.warns(la.NotAModeWarning):         # an untrained network: the fixed point holds at any w_hat
        approx = la.laplace(model, x, y, noise_sigma=0.5, prior_sigma=1.0)
    best = approx.optimise_prior_precision()
    grid = np.exp(np.linspace(np.log(best.prior_precision) - 3, np.log(best.prior_precision) + 3, 601))
    evidences = [approx.with_prior_precision(a).log_evidence for a in grid]
    assert best.log_evidence >= max(evidences) - 1e-12
    assert abs(np.log(grid[int(np.argmax(evidences))] / best.prior_precision)) <= 0.01   # the grid's spacing


def golden_section_max(f, lo, hi, tol=1e-10):
    """The maximiser of a unimodal f on [lo, hi] by golden-section search: independent of laplace.py."""
    ratio = (np.sqrt(5) - 1) / 2
    a, b = lo, hi
    while b - a > tol:
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if f(c) > f(d):
            b = d
        else:
            a = c
    return 0.5 * (a + b)


@pytest.mark.parametrize("seed, n, d", [(10, 30, 2), (11, 60, 5)])
def test_mackays_loop_finds_the_exact_evidence_maximising_prior_precision_on_linear_regression(seed, n, d):
    x, y, phi, model, _, sigma = blr_problem(seed, n, d)
    gram = phi.T @ phi / sigma ** 2                              # the data part of the Hessian

    def refit(alpha):                                            # the exact mode under N(0, I/alpha)
        return mv.exact.blr_posterior(phi, y, 1 / np.sqrt(alpha), sigma)[0], gram

    alpha = la.evidence_prior_precision(gram, refit(1.0)[0], refit=refit)
    log_alpha = golden_section_max(lambda t: mv.exact.blr_log_evidence(phi, y, np.exp(-t / 2), sigma), -10, 10)
    assert np.log(alpha) == pytest.approx(log_alpha, abs=1e-6)
    # without the refit (ŵ fixed at the mode of alpha = 1) the answer is another number
    assert abs(np.log(la.evidence_prior_precision(gram, refit(1.0)[0])) - log_alpha) > 1e-4


# ---------------------------------------------------------------- bad input


def test_a_hessian_that_is_not_positive_definite_is_refused_with_the_fix():
    # A 1-2-1 tanh network at w = 0: the output weights v and input weights a of a unit meet
    # in the residual term -sum_n y_n x_n / sigma^2 of the (v, a) block, whose diagonal is only
    # the prior's tiny precision: an indefinite Hessian.
    model, rng = tanh_net(8, (1, 2, 1))
    x = np.linspace(-1, 1, 20)[:, None]
    y = 3 * x
    w = np.zeros(mv.flat.n_weights(model))
    with pytest.raises(ValueError, match=r"not positive definite.*mode.*hessian='ggn'"):
        la.laplace(model, x, y, noise_sigma=0.1, prior_sigma=100.0, w=w, hessian="exact")
    la.laplace(model, x, y, noise_sigma=0.1, prior_sigma=100.0, w=w, hessian="ggn")   # the named fix works
    with pytest.raises(ValueError, match="not positive definite"):
        la.laplace_log_evidence(0.0, np.diag([1.0, -1.0]))


@pytest.mark.parametrize("call, error, message", [
    (lambda m, x, y: la.laplace(m, x, y, noise_sigma=0.1, w=np.zeros(3)), ValueError, r"shape \(13,\)"),
    (lambda m, x, y: la.laplace(m, x * np.nan, y, noise_sigma=0.1), ValueError, "NaN"),
    (lambda m, x, y: la.laplace(m, x, y, noise_sigma=0.1, w=np.full(13, np.nan)), ValueError, "NaN"),
    (lambda m, x, y: la.laplace(m, x[:, 0], y, noise_sigma=0.1), ValueError, r"\(N, in_features\)"),
    (lambda m, x, y: la.laplace(m, x, y, noise_sigma=-1.0), ValueError, "positive"),
    (lambda m, x, y: la.laplace(m, x, y, noise_sigma=0.1, hessian="full"), ValueError, "'ggn', 'exact'"),
    (lambda m, x, y: la.laplace(m, x, y[:4], noise_sigma=0.1), ValueError, "y must have"),
    (lambda m, x, y: la.laplace(mv.Sequential(mv.BayesLinear(2, 1, rng=np.random.default_rng(0))), x, y,
                                noise_sigma=0.1), TypeError, "deterministic network"),
    (lambda m, x, y: la.evidence_prior_precision(np.eye(13), np.zeros(13)), ValueError, "w_hat is zero"),
    (lambda m, x, y: la.evidence_prior_precision(-np.eye(13), np.ones(13)), ValueError, "negative eigenvalue"),
    (lambda m, x, y: la.evidence_prior_precision(np.eye(3), np.ones(2)), ValueError, r"\(D, D\)"),
    (lambda m, x, y: la.laplace_log_evidence(np.nan, np.eye(2)), ValueError, "finite"),
    (lambda m, x, y: la.laplace(m, x, y, noise_sigma=0.1).predict(np.ones((2, 5))), ValueError, "size 2"),
])
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    model, rng = tanh_net(9)
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    with warnings.catch_warnings(), pytest.raises(error, match=message):
        warnings.simplefilter("ignore", la.NotAModeWarning)   # the untrained network is no mode; not the point here
        call(model, x, y)


# ---------------------------------------------------------------- find_mode


@pytest.mark.parametrize("seed, n, d", [(0, 20, 1), (1, 40, 3)])
def test_find_mode_reaches_the_exact_posterior_mean_of_linear_regression(seed, n, d):
    x, y, phi, model, s, sigma = blr_problem(seed, n, d)
    mean, _ = mv.exact.blr_posterior(phi, y, s, sigma)
    w_hat = la.find_mode(model, x, y[:, None], noise_sigma=sigma, prior_sigma=s, w0=np.zeros(d + 1), tol=1e-20)
    np.testing.assert_allclose(w_hat, mean, rtol=0, atol=1e-8)


def test_find_mode_on_a_tanh_network_stops_where_the_gradient_vanishes_and_the_hessian_is_positive():
    model, rng = tanh_net(3)
    x = rng.normal(size=(30, 2))
    y = np.sin(x[:, :1]) + 0.1 * rng.normal(size=(30, 1))
    log_prob = mv.flat.log_joint(model, x, y, noise_sigma=0.1, prior_sigma=1.0)
    w0 = mv.flat.parameters_to_vector(model)
    assert np.max(np.abs(la.gradient(log_prob, w0))) > 1.0            # the start is not a mode
    w_hat = la.find_mode(model, x, y, noise_sigma=0.1, w0=w0, tol=1e-10)
    assert np.max(np.abs(la.gradient(log_prob, w_hat))) < 1e-3
    assert log_prob(w_hat).item() > log_prob(w0).item()
    assert np.linalg.eigvalsh(la.exact_hessian(log_prob, w_hat))[0] > 0   # a minimum of -log joint, not a saddle


def test_find_mode_refuses_bad_settings_and_says_when_it_did_not_arrive():
    model, rng = tanh_net(4)
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    with pytest.raises(ValueError, match="n_steps"):
        la.find_mode(model, x, y, noise_sigma=0.1, n_steps=0)
    with pytest.raises(ValueError, match="tol"):
        la.find_mode(model, x, y, noise_sigma=0.1, tol=-1.0)
    with pytest.raises(ValueError, match="shape"):
        la.find_mode(model, x, y, noise_sigma=0.1, w0=np.zeros(3))
    with pytest.raises(RuntimeError, match="no mode within 1 steps"):
        la.find_mode(model, x, y, noise_sigma=0.1, n_steps=1)


def test_laplace_hands_its_step_to_the_exact_hessian():
    model, rng = tanh_net(7, (2, 3, 1))
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(12, 1))
    w = la.find_mode(model, x, y, noise_sigma=0.5, tol=1e-10)
    log_prob = mv.flat.log_joint(model, x, y, noise_sigma=0.5, prior_sigma=1.0)
    coarse, fine = la.exact_hessian(log_prob, w, step=0.2), la.exact_hessian(log_prob, w, step=1e-3)
    assert not np.array_equal(coarse, fine)                       # the step matters at this w
    approx = la.laplace(model, x, y, noise_sigma=0.5, hessian="exact", step=0.2, w=w)
    np.testing.assert_allclose(approx.hessian, coarse, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("shape", [(2, 3), (4,)])
def test_cholesky_of_hessian_refuses_a_matrix_that_is_not_square(shape):
    with pytest.raises(ValueError, match=r"square \(D, D\)"):
        la.cholesky_of_hessian(np.ones(shape))


@pytest.mark.parametrize("where, bad", [("w_hat", np.nan), ("w_hat", np.inf), ("hessian", np.nan), ("hessian", -np.inf)])
def test_the_evidences_prior_precision_refuses_a_non_finite_entry_in_either_input(where, bad):
    g, w_hat = np.diag([4.0, 1.0, 0.25]), np.array([0.5, -1.0, 2.0])
    assert np.isfinite(la.evidence_prior_precision(g, w_hat))
    if where == "w_hat":
        w_hat = w_hat.copy()
        w_hat[1] = bad
    else:
        g = g.copy()
        g[2, 0] = g[0, 2] = bad
    with pytest.raises(ValueError, match="data_hessian or w_hat contains NaN or inf"):
        la.evidence_prior_precision(g, w_hat)


# ---------------------------------------------------------------- an outside review's inputs


def test_a_clearly_asymmetric_hessian_is_refused_not_symmetrised_in_silence():
    h = np.array([[2.0, 1.5], [0.0, 2.0]])                  # (H + Hᵀ)/2 is positive definite: was accepted
    with pytest.raises(ValueError, match="not symmetric"):
        la.laplace_log_evidence(0.0, h)
    rounding = np.array([[2.0, 0.5], [0.5 + 1e-15, 2.0]])   # rounding-level asymmetry still passes
    assert la.laplace_log_evidence(0.0, rounding) == pytest.approx(np.log(2 * np.pi) - 0.5 * np.log(3.75), rel=1e-12)


def test_mackays_loop_refuses_a_count_or_tolerance_it_cannot_use():
    gram, w_hat = np.eye(2), np.ones(2)

    def refit(alpha):
        return w_hat, gram

    with pytest.raises(ValueError, match="max_refits must be a whole number >= 1"):
        la.evidence_prior_precision(gram, w_hat, refit=refit, max_refits=0)   # was "did not settle in 0 refits"
    with pytest.raises(ValueError, match="rtol must be one positive"):
        la.evidence_prior_precision(gram, w_hat, refit=refit, rtol=-1.0)      # was 1000 refits, then an error
    with pytest.raises(ValueError, match=r"w_hat \(D,\), got \(1, 1\) and \(\)"):
        la.evidence_prior_precision(np.ones((1, 1)), np.array(2.0))           # was len() of an unsized object
    with pytest.raises(ValueError, match="low must be below high, got low = 1e\\+08, high = 1e-08"):
        la.evidence_prior_precision(gram, w_hat, low=1e8, high=1e-8)          # was "maximised outside [1e+08, 1e-08]"


def test_the_derivative_helpers_take_a_tensor_w_and_name_a_log_prob_that_returns_no_tensor():
    x, y, phi, model, s, sigma = blr_problem(4, 10, 2)
    log_prob = mv.flat.log_joint(model, x, y, noise_sigma=sigma, prior_sigma=s)
    w = np.array([0.3, -0.2, 0.1])
    assert np.array_equal(la.gradient(log_prob, mv.Tensor(w)), la.gradient(log_prob, w))
    assert np.array_equal(la.exact_hessian(log_prob, mv.Tensor(w)), la.exact_hessian(log_prob, w))
    with pytest.raises(TypeError, match="must return a scalar Tensor"):
        la.gradient(lambda v: 1.0, w)
    with pytest.raises(TypeError, match="one number, got ndarray"):
        la.laplace_log_evidence(np.array([1.0, 2.0]), np.eye(2))


@pytest.mark.parametrize("kind", ["ggn", "exact"])
def test_laplace_warns_away_from_a_mode_by_how_much_the_evidence_is_low(kind):
    # On linear regression the log joint is quadratic: at w = mode + delta the formula gives the evidence
    # minus exactly ½ deltaᵀ H delta, the Newton decrement the warning quotes.
    x, y, phi, model, s, sigma = blr_problem(6, 20, 2)
    mean, cov = mv.exact.blr_posterior(phi, y, s, sigma)
    exact = mv.exact.blr_log_evidence(phi, y, s, sigma)
    with warnings.catch_warnings():
        warnings.simplefilter("error", la.NotAModeWarning)            # at the mode: no warning
        la.laplace(model, x, y, noise_sigma=sigma, prior_sigma=s, w=mean, hessian=kind)
    delta = np.array([0.05, -0.03, 0.02])
    gap = 0.5 * delta @ np.linalg.solve(cov, delta)
    assert gap > la.MODE_TOL
    with pytest.warns(la.NotAModeWarning, match=f"about {gap:.3g} nats") as caught:
        away = la.laplace(model, x, y, noise_sigma=sigma, prior_sigma=s, w=mean + delta, hessian=kind)
    assert away.log_evidence == pytest.approx(exact - gap, abs=1e-8)
    assert len(caught) == 1
