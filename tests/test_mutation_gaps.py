"""Behaviours fresh mutation samples found unpinned (tests/README.md, "Mutation testing": the samples
of seeds 789261, 206874, 280520 and 677783): each test fails with its mutant applied and passes on the code as it is."""

import functools
import re
import warnings

import matplotlib
import numpy as np
import pytest

import minivi as mv
from minivi import __main__ as demo

matplotlib.use("Agg")


def _conjugate_densities():
    """log p(w) and log p(data|w) of a 2-weight linear regression, both vectorised over rows of w."""
    rng = np.random.default_rng(0)
    phi = rng.standard_normal((8, 2))
    y = phi @ np.array([0.5, -1.0]) + 0.3 * rng.standard_normal(8)

    def log_prior(w):
        return -0.5 * (w * w).sum(axis=-1) - np.log(2 * np.pi)

    def log_likelihood(w):
        r = mv.Tensor(y) - w @ mv.Tensor(phi.T)
        return -0.5 * (r * r).sum(axis=-1) / 0.09 - 8 * np.log(0.3 * np.sqrt(2 * np.pi))

    log_prior.vectorized = log_likelihood.vectorized = True
    return log_prior, log_likelihood


# ---------------------------------------------------------------- seed 789261


def test_an_empty_interval_is_refused():
    """x_low == x_high is no interval: the toy data would all sit at one x."""
    with pytest.raises(ValueError, match="x_low must be smaller than x_high"):
        mv.data.toy_curve(5, np.random.default_rng(0), x_low=0.3, x_high=0.3)
    with pytest.raises(ValueError, match="x_low must be smaller than x_high"):
        mv.data.toy_curve_grid(5, x_low=1.0, x_high=1.0)


def test_a_dropout_layer_rebuilt_from_its_config_drops_with_the_same_rate():
    layer = mv.Dropout(0.3, rng=np.random.default_rng(0))
    assert layer.config() == {"p": 0.3}
    assert mv.Dropout(**layer.config(), rng=np.random.default_rng(1)).p == layer.p


def test_the_ais_summary_states_the_bound_its_value_and_its_run():
    log_prior, log_likelihood = _conjugate_densities()
    rng = np.random.default_rng(0)
    result = mv.evidence.ais(log_prior, log_likelihood, rng.standard_normal((8, 2)),
                             mv.evidence.geometric_schedule(20), rng=rng)
    text = result.summary()
    assert text.startswith("forward AIS (lower bound): log p(data) = ")
    assert f"{result.log_evidence:.3f} ± {result.stderr:.3f}" in text
    assert f"{len(result.log_weights)} chains, 20 steps x {result.n_leapfrog} leapfrog" in text
    assert result.n_leapfrog == 5 and f"ESS {result.ess:.1f}" in text


def test_the_hamiltonian_of_a_single_momentum_vector():
    """p may be one momentum (D,) as well as a batch (C, D): the kinetic energy sums over the last axis."""
    p, inverse_mass = np.array([1.0, -2.0, 0.5]), np.array([2.0, 1.0, 4.0])
    assert mv.mcmc.hamiltonian(1.5, p, inverse_mass) == pytest.approx(-1.5 + 0.5 * (2.0 + 4.0 + 1.0))
    batch = np.stack([p, 2 * p])
    np.testing.assert_allclose(mv.mcmc.hamiltonian(np.array([1.5, 0.0]), batch, inverse_mass),
                               [-1.5 + 3.5, 14.0])


def test_a_regression_band_without_a_title_has_none():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 5)
    band = {"mean": x, "total": np.full(5, 0.2), "epistemic": np.full(5, 0.1)}
    mv.plots.regression_band(ax, x, x, x, band)
    assert ax.get_title() == ""
    plt.close(fig)


def test_empty_confidence_bins_give_nan_without_a_warning():
    probs = np.array([[0.95, 0.05], [0.9, 0.1], [0.55, 0.45]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        centres, confidence, accuracy, counts = mv.reliability_curve(probs, np.array([0, 1, 0]), n_bins=10)
    empty = counts == 0
    assert empty.sum() == 8 and np.all(np.isnan(confidence[empty])) and np.all(np.isnan(accuracy[empty]))
    assert np.all(np.isfinite(confidence[~empty]))


def test_the_demo_accepts_a_single_epoch():
    assert demo.parse_args(["--epochs", "1"]).epochs == 1


# ---------------------------------------------------------------- seed 206874


@pytest.mark.parametrize("inverse_mass", [0.0, -1.0, [1.0, -0.5]])
def test_ais_refuses_a_finite_non_positive_inverse_mass(inverse_mass):
    log_prior, log_likelihood = _conjugate_densities()
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="inverse_mass .* must be positive"):
        mv.evidence.ais(log_prior, log_likelihood, rng.standard_normal((6, 2)), mv.evidence.geometric_schedule(5),
                        rng=rng, inverse_mass=inverse_mass)


@pytest.mark.parametrize("target_accept", [0.0, 1.0])
def test_hmc_refuses_a_target_acceptance_of_0_or_1(target_accept):
    log_prior, log_likelihood = _conjugate_densities()

    def log_prob(w):
        return log_prior(w) + log_likelihood(w)

    log_prob.vectorized = True
    with pytest.raises(ValueError, match=r"target_accept must be one finite number in \(0, 1\)"):
        mv.mcmc.hmc(log_prob, np.zeros((2, 2)), n_samples=4, n_warmup=4, target_accept=target_accept,
                    rng=np.random.default_rng(2))


def test_the_toy_grid_spans_the_documented_default_interval():
    x, f = mv.data.toy_curve_grid(11)
    assert (x[0, 0], x[-1, 0]) == (-0.5, 1.2)        # the defaults the docstring states
    assert x.shape == (11, 1) and f.shape == (11, 1)


# ---------------------------------------------------------------- seed 206874: the sampler, AIS, q and the layers


def test_hmc_uses_a_log_density_vectorised_over_chains_when_it_says_so():
    """`vectorized=None` (the default) reads the function's own `vectorized` attribute: one call for all chains."""
    log_prior, log_likelihood = _conjugate_densities()
    shapes = []

    def log_prob(w):
        shapes.append(w.shape)
        return log_prior(w) + log_likelihood(w)

    log_prob.vectorized = True
    mv.mcmc.hmc(log_prob, np.zeros((3, 2)), n_samples=5, n_warmup=5, rng=np.random.default_rng(3), warn=False)
    assert shapes and set(shapes) == {(3, 2)}


def test_a_calm_warm_up_counts_no_divergent_transitions():
    def log_prob(w):
        return (w * w).sum(axis=-1) * -0.5

    log_prob.vectorized = True
    result = mv.mcmc.hmc(log_prob, np.zeros((2, 3)), n_samples=50, n_warmup=5, rng=np.random.default_rng(4),
                         step_size=0.1, n_leapfrog=5, warn=False)
    assert result.n_divergent_warmup == 0 and result.n_divergent == 0
    assert "0 during warm-up" in result.summary()


def test_the_reverse_and_forward_runs_count_their_gradients():
    """K likelihood evaluations (one per level) + (K − 1) transitions of L leapfrog steps: no transition at β = 0."""
    log_prior, log_likelihood = _conjugate_densities()
    rng = np.random.default_rng(5)
    betas = mv.evidence.geometric_schedule(6)
    forward = mv.evidence.ais(log_prior, log_likelihood, rng.standard_normal((6, 2)), betas, rng=rng, n_leapfrog=3)
    reverse = mv.evidence.reverse_ais(log_prior, log_likelihood, rng.standard_normal((6, 2)) * 0.1, betas, rng=rng,
                                      step_size=forward.step_size, n_leapfrog=3)
    k = len(betas) - 1
    assert forward.n_gradients == reverse.n_gradients == k + (k - 1) * 3


def test_the_mean_field_vector_refuses_variational_layers_it_cannot_lay_flat():
    rng = np.random.default_rng(6)
    model = mv.Sequential(mv.BayesConv2d(1, 2, 3, rng=rng), mv.Flatten(), mv.BayesLinear(8, 1, rng=rng))
    with pytest.raises(TypeError, match="all BayesLinear; got BayesConv2d"):
        mv.evidence.mean_field_vector(model)
    mu, sigma = mv.evidence.mean_field_vector(mv.Sequential(mv.FlipoutLinear(2, 1, rng=rng)))   # the same q
    assert mu.shape == sigma.shape == (3,)


def test_averaging_the_last_steps_sets_q_to_the_mean_of_those_iterates():
    """average_last = 0.4 of 10 steps: q ends at the mean of (mu, L) after steps 7, 8, 9 and 10 (L not diagonal)."""
    log_prior, log_likelihood = _conjugate_densities()

    def trained(n_steps, average_last=0.0):
        q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(7), init_sigma=0.3)
        mv.fit_full_cov(log_likelihood, q, n_steps=n_steps, lr=0.05, n_samples=2, average_last=average_last)
        return q.mu.data.copy(), q.scale_tril()

    iterates = [trained(n) for n in (7, 8, 9, 10)]
    mu, L = trained(10, average_last=0.4)
    assert abs(iterates[-1][1][1, 0]) > 1e-3                      # a full lower triangle to average
    np.testing.assert_allclose(mu, np.mean([m for m, _ in iterates], axis=0), rtol=1e-12)
    np.testing.assert_allclose(L, np.mean([s for _, s in iterates], axis=0), rtol=1e-12, atol=1e-15)


def test_the_evidence_fixed_point_refuses_a_hessian_whose_smallest_eigenvalue_alone_is_negative():
    with pytest.raises(ValueError, match="negative eigenvalue"):
        mv.laplace.evidence_prior_precision(np.diag([-0.5, 2.0, 3.0]), np.ones(3))
    assert mv.laplace.evidence_prior_precision(np.diag([0.0, 2.0, 3.0]), np.ones(3)) > 0


def test_the_mean_mode_loss_is_the_data_term_at_mu_plus_the_kl():
    """mode="mean": no sampling; loss = KL + NLL(mu) over a batch that is the whole data set, whatever n_samples."""
    rng = np.random.default_rng(8)
    model = mv.Sequential(mv.BayesLinear(2, 3, rng=rng), mv.ReLU(), mv.BayesLinear(3, 1, rng=rng))
    x, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 1))
    nll = lambda f, t: mv.gaussian_nll(f, t, noise_sigma=0.5)            # noqa: E731
    expected_nll = nll(model(x, mode="mean"), y).item()
    for n_samples in (1, 3):
        loss, info = mv.elbo_loss(model, x, y, nll, n_data=5, n_samples=n_samples, mode="mean")
        assert info["nll"] == pytest.approx(expected_nll, rel=1e-12)
        assert loss.item() == pytest.approx(mv.kl_divergence(model).item() + expected_nll, rel=1e-12)


def test_rhat_of_chains_that_never_moved_is_silent():
    """All draws equal: NaN; chains each stuck at its own value: inf (basic) — no RuntimeWarning either way."""
    stuck = np.ones((4, 50, 1)) * np.arange(4)[:, None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(mv.diagnostics.split_rhat(np.ones((4, 50, 2)))).all()
        assert np.isinf(mv.diagnostics.split_rhat(stuck, rank_normalized=False)).all()


class _NoisyPrior:
    """A prior whose KL is a Monte Carlo estimate (one standard normal draw) and that does not say so."""

    def kl(self, mu, rho, rng):
        return mv.Tensor(float(rng.standard_normal()))


def test_a_prior_that_does_not_say_draws_random_gets_a_fresh_kl_seed_per_sampling_forward():
    layer = mv.BayesLinear(2, 1, rng=np.random.default_rng(9), prior=_NoisyPrior())
    x = np.ones((3, 2))
    layer(x)
    first = layer.kl().item()
    assert layer.kl().item() == first                        # reading it changes nothing
    layer(x)
    assert layer.kl().item() != first                        # a new forward, a new draw


def test_a_flipout_layer_in_function_mode_draws_one_network_for_every_row():
    layer = mv.FlipoutLinear(3, 2, rng=np.random.default_rng(10))
    layer.weight_rho.data[:] = 0.0                           # sigma = softplus(0): perturbations clearly visible
    x = np.ones((4, 3))
    rows = layer(x, mode="function").data
    assert np.allclose(rows, rows[0])                        # one network for every input
    assert not np.allclose(layer(x, mode="sample").data, rows[0])   # Flipout: each row its own signs
    sampled = layer(x, mode="function", n_samples=5).data
    assert sampled.shape == (5, 4, 2) and np.allclose(sampled, sampled[:, :1]) and not np.allclose(sampled, sampled[0])


# ---------------------------------------------------------------- seed 206874, the rest


def test_a_4d_convolution_refuses_a_bias_with_a_sample_axis():
    """Without a sample axis on x or the kernel the bias is (C_out,) only: a (1, C_out) bias would add one."""
    x, w = np.zeros((2, 2, 5, 5)), np.zeros((4, 2, 3, 3))
    for bias in (np.zeros((1, 4)), np.zeros((2, 4))):
        with pytest.raises(ValueError, match=r"bias has shape \(\d, 4\); expected \(C_out,\) = \(4,\)$"):
            mv.conv2d(x, w, bias)
    assert mv.conv2d(x, w, np.zeros(4)).shape == (2, 4, 3, 3)


def test_a_conv_layer_shows_its_settings_and_whether_it_has_a_bias():
    rng = np.random.default_rng(0)
    assert repr(mv.Conv2d(2, 3, 3, rng=rng)) == \
        "Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), bias=True)"
    assert repr(mv.Conv2d(2, 3, (3, 2), stride=2, padding=1, bias=False, rng=rng)) == \
        "Conv2d(2, 3, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), bias=False)"


def test_two_moons_default_noise_is_0_1():
    x, labels = mv.data.two_moons(40, np.random.default_rng(5))
    x_01, labels_01 = mv.data.two_moons(40, np.random.default_rng(5), noise_sigma=0.1)
    np.testing.assert_array_equal(x, x_01)
    np.testing.assert_array_equal(labels, labels_01)


def test_a_split_may_leave_a_single_training_row():
    """n_test = n - 1 (the upper boundary) is allowed: one row to train on, the rest to test."""
    x, y = np.arange(5.0)[:, None], np.arange(5.0)
    x_train, y_train, x_test, y_test = mv.data.train_test_split(x, y, 0.8, np.random.default_rng(0))
    assert (len(x_train), len(x_test)) == (1, 4)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(x_train[:, 0], y_train)


def test_uci_splits_of_5_rows_are_4_and_1_and_fewer_rows_are_refused():
    """round(0.9 n) < n first at n = 5; below it every row would train and the test part be empty."""
    for train, test in mv.data.uci_splits(5, 3):
        assert (len(train), len(test)) == (4, 1)
        assert sorted(np.concatenate([train, test]).tolist()) == [0, 1, 2, 3, 4]
    for n in (2, 3, 4):
        with pytest.raises(ValueError, match=rf"at least 5 .* n = {n} rows, round\(0.9 n\) = {n} go to training"):
            mv.data.uci_splits(n)


def test_a_tensor_vector_is_written_like_its_array():
    rng = np.random.default_rng(0)
    model = mv.Sequential(mv.Linear(2, 3, rng=rng), mv.Tanh(), mv.Linear(3, 1, rng=rng))
    twin = mv.Sequential(mv.Linear(2, 3, rng=rng), mv.Tanh(), mv.Linear(3, 1, rng=rng))
    vec = np.arange(13.0) / 10
    mv.flat.vector_to_parameters(mv.Tensor(vec), model)
    mv.flat.vector_to_parameters(vec, twin)
    np.testing.assert_array_equal(mv.flat.parameters_to_vector(model), vec)
    np.testing.assert_array_equal(mv.flat.parameters_to_vector(twin), vec)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32])
def test_a_loaded_state_is_stored_as_float64(dtype):
    """Integer or single-precision arrays load as float64, the dtype every op and optimiser step expects.

    (check_state_array's float64 and the `.data` setter's each suffice: mutant 18, which drops the
    first, is equivalent; this fails only when both are gone.)"""
    rng = np.random.default_rng(0)
    model = mv.Sequential(mv.Linear(2, 3, rng=rng), mv.Tanh(), mv.Linear(3, 1, rng=rng))
    state = {name: np.arange(p.size).reshape(p.shape).astype(dtype) for name, p in model.named_parameters()}
    model.load_state_dict(state)
    for name, p in model.named_parameters():
        assert p.data.dtype == np.float64
        np.testing.assert_array_equal(p.data, state[name])


def test_the_repr_of_a_network_lists_its_layers():
    rng = np.random.default_rng(0)
    model = mv.Sequential(mv.Linear(2, 3, rng=rng), mv.Tanh(), mv.ReLU(), mv.Linear(3, 1, rng=rng))
    assert repr(mv.Tanh()) == "Tanh()"
    assert repr(model) == "Sequential(\n  Linear(2, 3),\n  Tanh(),\n  ReLU(),\n  Linear(3, 1)\n)"


def test_the_training_curves_legend_is_as_small_as_the_band_legend():
    fig, (left, right) = mv.plots.figure(1, 2)
    x = np.linspace(0, 1, 4)[:, None]
    mv.plots.regression_band(left, x, x, x, {"mean": x, "total": 0.2 + 0 * x, "epistemic": 0.1 + 0 * x})
    mv.plots.training_curves(right, mv.train.History(loss=[3.0, 2.0], kl=[1.0, 1.0], nll=[2.0, 1.0]))
    sizes = {ax: {text.get_fontsize() for text in ax.get_legend().get_texts()} for ax in (left, right)}
    assert sizes[left] == sizes[right] == {8.0}


@pytest.mark.parametrize("fn", [mv.expected_calibration_error, mv.reliability_curve])
def test_a_probability_just_above_1_is_refused(fn):
    """The rows' sums are allowed 1e-6 of rounding, a single probability is not allowed to pass 1."""
    probs = np.array([[1.0 + 5e-7, 0.0], [0.3, 0.7]])
    with pytest.raises(ValueError, match=r"in \[0, 1\] summing to 1 .*, but row 0 holds 1\.0000005, outside \[0, 1\]"):
        fn(probs, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"but row 1 sums to 0\.9;"):
        fn(np.array([[1.0, 0.0], [0.2, 0.7]]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"but row 0 holds nan"):
        fn(np.array([[np.nan, 0.0], [0.3, 0.7]]), np.array([0, 1]))
    fn(np.array([[1.0, 0.0], [0.3, 0.7]]), np.array([0, 1]))


def test_logsumexp_drops_the_reduced_axis_by_default():
    a = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    expected = np.log(np.exp(a).sum(axis=-1))
    out = mv.Tensor(a).logsumexp()
    assert out.shape == (2,)
    np.testing.assert_allclose(out.data, expected, rtol=1e-15)
    assert mv.Tensor(a).logsumexp(axis=None).shape == ()
    assert mv.Tensor(a).logsumexp(keepdims=True).shape == (2, 1)


@pytest.mark.parametrize("name", ["epochs", "batch_size", "print_every"])
@pytest.mark.parametrize("value", [True, 2.5])
def test_fit_refuses_counts_that_are_not_whole_numbers(name, value):
    rng = np.random.default_rng(0)
    model = mv.Sequential(mv.BayesLinear(1, 2, rng=rng))
    x = rng.standard_normal((4, 1))
    counts = {"epochs": 2, "batch_size": 4, name: value}
    with pytest.raises(TypeError, match=rf"^{name} must be a whole number >= 1 \(an int\), got {value!r}"):
        mv.fit(model, x, x @ np.ones((1, 2)), functools.partial(mv.gaussian_nll, noise_sigma=0.1), rng=rng,
               verbose=False, **counts)


def _demo_figure(monkeypatch, tmp_path, seed):
    """The figure the demo draws for an untrained network on 20 toy points (saving replaced by keeping it)."""
    saved = []
    monkeypatch.setattr(demo.plots, "save", lambda fig, path: saved.append(fig) or path)
    rng = np.random.default_rng(seed)
    model = demo.build_model(rng)
    x, y = mv.data.toy_curve(20, rng)
    demo.draw(model, mv.train.History(loss=[3.0, 2.0], kl=[1.0, 1.0], nll=[2.0, 1.0]), x, y, tmp_path / "f.png")
    return saved[0]


def test_the_demo_figure_is_12_by_4_5_inches_with_the_data_region_in_light_grey(monkeypatch, tmp_path):
    figure = _demo_figure(monkeypatch, tmp_path, seed=3)
    assert tuple(figure.get_size_inches()) == (12.0, 4.5)
    shaded = [p for p in figure.axes[0].patches if p.get_label() == "where the data are"]
    assert shaded[0].get_facecolor() == matplotlib.colors.to_rgba("0.92")


def test_the_demo_tests_on_200_fresh_points(capsys, tmp_path):
    """The printed numbers are those of the recipe: 200 training points, then 200 test points, then the network."""
    assert demo.main(["--epochs", "2", "--out", str(tmp_path / "demo.png")]) == 0
    printed = {m.group(1).strip(): float(m.group(2))
               for m in re.finditer(r"^  (.+?)\s+(-?\d+\.\d{4})$", capsys.readouterr().out, re.M)}
    rng = np.random.default_rng(0)
    x, y = mv.data.toy_curve(200, rng)
    x_test, y_test = mv.data.toy_curve(200, rng)
    model = demo.build_model(rng)
    mv.fit(model, x, y, functools.partial(mv.gaussian_nll, noise_sigma=demo.NOISE_SIGMA), epochs=2, batch_size=200,
           rng=rng, lr=demo.LEARNING_RATE, n_samples=demo.N_SAMPLES, verbose=False)
    expected = demo.summarise(model, x, y, x_test, y_test)
    assert printed == {name: round(value, 4) for name, value in expected.items()}


# ---------------------------------------------------------------- seed 280520


def test_rhat_takes_the_median_of_each_coordinate_for_the_tail():
    """The folded draws |θ − median| use each coordinate's own median: R-hat of D coordinates at once
    equals R-hat of each alone, even when the coordinates sit far apart."""
    rng = np.random.default_rng(11)
    samples = rng.standard_normal((4, 200, 3)) * np.array([1.0, 0.2, 5.0]) + np.array([0.0, 30.0, -7.0])
    samples[0, :, 0] *= 0.2                          # one chain narrower: the tail R-hat sees it
    together = mv.diagnostics.split_rhat(samples)
    alone = [mv.diagnostics.split_rhat(samples[:, :, j:j + 1])[0] for j in range(3)]
    np.testing.assert_allclose(together, alone, rtol=1e-12)
    assert together[0] > 1.05


def test_ess_of_a_coordinate_that_never_moved_is_nan_without_a_warning():
    samples = np.random.default_rng(12).standard_normal((2, 50, 2))
    samples[:, :, 1] = 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ess = mv.diagnostics.effective_sample_size(samples)
    assert np.isfinite(ess[0]) and np.isnan(ess[1])


def test_a_full_covariance_q_starts_at_the_documented_sigma():
    q = mv.FullCovGaussian(np.zeros(3), rng=np.random.default_rng(13))
    np.testing.assert_allclose(q.scale_tril(), 0.05 * np.eye(3), rtol=1e-12)


def test_fit_full_cov_stops_on_an_overflowing_loss_without_a_runtime_warning(capsys):
    """A log-likelihood finite at w but whose gradient overflows (1/u² with u = 1e-160 w): the fit
    stops with its message, NumPy stays quiet."""
    q = mv.FullCovGaussian(np.ones(2), rng=np.random.default_rng(14))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = mv.fit_full_cov(lambda w: (1.0 / (w * 1e-160)).sum(), q, n_steps=3)
    assert history.stopped and "stopped at step 1" in capsys.readouterr().err


def test_the_evidence_fixed_point_refuses_a_root_just_below_low():
    """α |ŵ|² = γ(α) with G = diag(1, 1), ŵ = (1, 1): the root is α ≈ 0.618; low = 0.7 is above it."""
    g, w_hat = np.eye(2), np.ones(2)
    alpha = mv.laplace.evidence_prior_precision(g, w_hat)
    assert alpha == pytest.approx((np.sqrt(5) - 1) / 2, rel=1e-10)
    with pytest.raises(ValueError, match="outside"):
        mv.laplace.evidence_prior_precision(g, w_hat, low=0.7)


def test_flat_takes_the_inputs_as_a_list():
    model = mv.Sequential(mv.Linear(2, 3, rng=np.random.default_rng(15)), mv.Tanh(), mv.Linear(3, 1,
                                                                                               rng=np.random.default_rng(16)))
    x, y = [[0.1, 0.2], [0.3, -0.4]], np.array([[0.5], [0.6]])
    w = mv.flat.parameters_to_vector(model)
    as_list = mv.flat.log_likelihood(model, x, y, noise_sigma=0.5)(mv.Tensor(w)).item()
    assert as_list == mv.flat.log_likelihood(model, np.array(x), y, noise_sigma=0.5)(mv.Tensor(w)).item()


def test_flipout_conv2d_input_gradient_with_a_sample_axis():
    """S = 2 samples with their own signs over images without a sample axis: dF/dx sums the two."""
    rng = np.random.default_rng(17)
    mu, rho = mv.Tensor(rng.standard_normal((3, 2, 3, 3))), mv.Tensor(rng.standard_normal((3, 2, 3, 3)))
    eps = rng.standard_normal((2, 3, 2, 3, 3))
    sign_in, sign_out = mv.flipout.random_signs(rng, (2, 4, 2, 1, 1)), mv.flipout.random_signs(rng, (2, 4, 3, 1, 1))
    weights = mv.Tensor(rng.standard_normal((2, 4, 3, 5, 5)))
    assert mv.gradcheck(lambda x: (mv.flipout.flipout_conv2d(x, mu, rho, eps, sign_in, sign_out, padding=1)
                                   * weights).sum(), rng.standard_normal((4, 2, 5, 5)))


def test_reverse_ais_evaluates_vectorised_densities_once_for_all_chains():
    log_prior, log_likelihood = _conjugate_densities()
    shapes = []

    def recorded_prior(w):
        shapes.append(w.shape)
        return log_prior(w)

    recorded_prior.vectorized = True
    rng = np.random.default_rng(18)
    mv.evidence.reverse_ais(recorded_prior, log_likelihood, rng.standard_normal((5, 2)) * 0.1,
                            mv.evidence.geometric_schedule(4), rng=rng, step_size=0.05, n_leapfrog=2)
    assert shapes and set(shapes) == {(5, 2)}


@pytest.mark.parametrize("step_size", [-0.1, [0.1, -0.1, 0.1], 0.0])
def test_reverse_ais_refuses_a_step_size_that_is_not_positive(step_size):
    log_prior, log_likelihood = _conjugate_densities()
    rng = np.random.default_rng(19)
    with pytest.raises(ValueError, match="step_size must be (a|one) positive"):
        mv.evidence.reverse_ais(log_prior, log_likelihood, rng.standard_normal((4, 2)),
                                mv.evidence.geometric_schedule(4), rng=rng, step_size=step_size)


def test_the_reliability_bars_have_black_edges():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    mv.plots.reliability_diagram(ax, np.array([0.55, 0.95]), np.array([0.6, 0.9]), np.array([0.5, 1.0]),
                                 np.array([4, 6]))
    bars = ax.patches
    assert len(bars) == 2 and all(np.allclose(bar.get_edgecolor(), (0, 0, 0, 0.8)) for bar in bars)   # drawn, not clear
    plt.close(fig)


@pytest.mark.parametrize("length", [0.0, -1.0, np.inf, np.nan])
def test_hmc_refuses_a_trajectory_length_that_is_not_positive_and_finite(length):
    def log_prob(w):
        return (w * w).sum(axis=-1) * -0.5

    log_prob.vectorized = True
    with pytest.raises(ValueError, match="trajectory_length"):
        mv.mcmc.hmc(log_prob, np.zeros((2, 2)), n_samples=4, n_warmup=4, trajectory_length=length,
                    rng=np.random.default_rng(20))


def test_hmc_uses_the_inverse_mass_it_is_given():
    """Without warm-up the given M⁻¹ is the sampler's, reported back and shaping every momentum."""
    def log_prob(w):
        return (w * w).sum(axis=-1) * -0.5

    log_prob.vectorized = True
    inverse_mass = np.array([0.5, 2.0])
    runs = [mv.mcmc.hmc(log_prob, np.zeros((2, 2)), n_samples=20, n_warmup=0, step_size=0.3, n_leapfrog=3,
                        inverse_mass=m, rng=np.random.default_rng(21), warn=False) for m in (inverse_mass, None)]
    np.testing.assert_array_equal(runs[0].inverse_mass, inverse_mass)
    np.testing.assert_array_equal(runs[1].inverse_mass, np.ones(2))
    assert not np.array_equal(runs[0].samples, runs[1].samples)


def test_hmc_reports_ess_and_rhat_from_four_draws_on():
    def log_prob(w):
        return (w * w).sum(axis=-1) * -0.5

    log_prob.vectorized = True
    result = mv.mcmc.hmc(log_prob, np.zeros((2, 1)), n_samples=4, n_warmup=0, step_size=0.5, n_leapfrog=3,
                         rng=np.random.default_rng(22), warn=False)
    assert np.isfinite(result.ess).all() and np.isfinite(result.rhat).all()
    np.testing.assert_allclose(result.ess, mv.diagnostics.effective_sample_size(result.samples))


@pytest.mark.parametrize("prior_sigma", [0.3, 4.0])
def test_quadrature_evidence_with_a_prior_scale_other_than_1(prior_sigma):
    """The default box is ±8 prior_sigma: wide enough for a posterior at (3, −2) under a broad prior."""
    rng = np.random.default_rng(23)
    Phi = rng.standard_normal((10, 2))
    y = Phi @ np.array([3.0, -2.0]) + 0.7 * rng.standard_normal(10)
    by_grid = mv.exact.evidence_by_quadrature(Phi, y, prior_sigma, 0.7)
    assert by_grid == pytest.approx(mv.exact.blr_log_evidence(Phi, y, prior_sigma, 0.7), rel=1e-9)


def test_a_split_may_hold_a_single_test_row():
    x, y = np.arange(10.0).reshape(5, 2), np.arange(5.0)
    x_train, y_train, x_test, y_test = mv.data.train_test_split(x, y, 0.2, np.random.default_rng(24))
    assert (len(x_train), len(x_test)) == (4, 1)


def test_a_two_row_table_loads(tmp_path):
    (tmp_path / "data.txt").write_text("1 2 3\n4 5 6\n", encoding="utf-8")
    x, y = mv.data.load_regression_folder(tmp_path)
    assert x.shape == (2, 2) and y.ravel().tolist() == [3.0, 6.0]


def test_flatten_and_pooling_layers_show_their_settings():
    assert repr(mv.Flatten()) == "Flatten()"
    pool = mv.MaxPool2d(1)                                       # a 1x1 window is allowed (an identity)
    assert pool.kernel_size == (1, 1)
    x = np.random.default_rng(25).standard_normal((2, 3, 4, 4))
    np.testing.assert_array_equal(pool(x).data, x)


def test_the_demo_plots_the_free_energy_linear_within_100_nats(monkeypatch, tmp_path):
    figure = _demo_figure(monkeypatch, tmp_path, seed=26)
    right = figure.axes[1]
    assert right.get_yscale() == "symlog" and right.yaxis.get_transform().linthresh == 100


def test_a_dict_of_modules_with_a_dotted_key_is_refused():
    class Holder(mv.Module):
        def __init__(self):
            self.blocks = {"a.b": mv.Linear(1, 1, rng=np.random.default_rng(27))}

    with pytest.raises(TypeError, match="string keys without dots .*, got 'a.b'"):
        Holder().parameters()


# ---------------------------------------------------------------- seed 677783


def test_the_demo_draws_the_fit_and_the_training_curves_side_by_side(monkeypatch, tmp_path):
    figure = _demo_figure(monkeypatch, tmp_path, seed=28)
    left, right = (ax.get_position() for ax in figure.axes)
    assert left.x1 < right.x0 and left.y0 == pytest.approx(right.y0) and left.y1 == pytest.approx(right.y1)


def test_a_table_of_one_feature_and_the_target_loads(tmp_path):
    (tmp_path / "data.txt").write_text("1 2\n4 5\n", encoding="utf-8")
    x, y = mv.data.load_regression_folder(tmp_path)
    assert x.ravel().tolist() == [1.0, 4.0] and y.ravel().tolist() == [2.0, 5.0]


def test_the_clean_curve_is_computed_in_float64_for_float32_inputs():
    x = np.array([0.1, 0.37], dtype=np.float32)
    f = mv.data.toy_curve_clean(x)
    assert f.dtype == np.float64
    np.testing.assert_array_equal(f, mv.data.toy_curve_clean(x.astype(np.float64)))


def test_dropout_with_rate_0_is_the_identity_and_draws_nothing():
    """p = 0 keeps every unit: the layer returns its input and leaves the Generator where it was."""
    rng = np.random.default_rng(29)
    x = mv.Tensor(np.array([[1.0, -2.0, 3.0]]))
    assert mv.Dropout(0.0, rng=rng)(x, mode="sample") is x
    assert rng.random() == np.random.default_rng(29).random()


def _untemper(y: int) -> int:
    """The MT19937 state word whose tempered output is y (the inverse of the four tempering steps)."""
    y ^= y >> 18
    y ^= (y << 15) & 0xEFC60000
    t = y
    for _ in range(5):
        t = y ^ ((t << 7) & 0x9D2C5680)
    t &= 0xFFFFFFFF
    y = t
    for _ in range(3):
        t = y ^ (t >> 11)
    return t


def _generator_whose_first_uniform_is(u: float) -> np.random.Generator:
    """An MT19937 Generator set to a state whose next `random()` is u (a multiple of 2⁻⁵³): NumPy builds the
    double from two 32-bit outputs a, b as ((a >> 5) 2²⁶ + (b >> 6)) / 2⁵³."""
    k = int(u * 2 ** 53)
    key = np.zeros(624, dtype=np.uint32)
    key[0], key[1] = _untemper((k >> 26) << 5), _untemper((k & (2 ** 26 - 1)) << 6)
    bits = np.random.MT19937(0)
    bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": 0}}
    return np.random.Generator(bits)


def test_dropout_keeps_a_unit_when_its_uniform_is_below_1_minus_p_only():
    """z = [u < 1 − p] with u uniform on [0, 1): P(z = 1) = 1 − p exactly; u = 1 − p itself drops the unit."""
    assert _generator_whose_first_uniform_is(0.5).random() == 0.5
    out = mv.Dropout(0.5, rng=_generator_whose_first_uniform_is(0.5))(np.ones((1, 1)), mode="sample")
    assert out.data.tolist() == [[0.0]]
    out = mv.Dropout(0.5, rng=_generator_whose_first_uniform_is(0.5 - 2 ** -53))(np.ones((1, 1)), mode="sample")
    assert out.data.tolist() == [[2.0]]


def test_the_adapted_inverse_mass_is_the_variance_plus_the_floor():
    """A posterior of standard deviation 1e-4: the tuning chains' variance falls far below MASS_FLOOR, so
    M⁻¹ = variance + MASS_FLOOR ends just above the floor (variance − floor would fall below it)."""
    def log_prior(w):
        return (w * w).sum(axis=-1) * -0.5

    def log_likelihood(w):
        return (w * w).sum(axis=-1) * (-0.5 / 1e-8)

    log_prior.vectorized = log_likelihood.vectorized = True
    rng = np.random.default_rng(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mv.evidence.UnreliableEstimateWarning)
        result = mv.evidence.ais(log_prior, log_likelihood, rng.standard_normal((8, 1)),
                                 mv.evidence.geometric_schedule(300), rng=rng)
    inverse_mass = np.asarray(result.inverse_mass)[1:]
    assert np.all(inverse_mass > mv.evidence.MASS_FLOOR) and inverse_mass[-1] < 1.1 * mv.evidence.MASS_FLOOR


def test_a_categorical_network_with_one_output_has_log_likelihood_0():
    """One class: softmax of one logit is 1, so every label 0 has probability 1; label 1 is refused."""
    model = mv.Sequential(mv.Linear(2, 1, rng=np.random.default_rng(31)))
    x, w = np.ones((3, 2)), mv.Tensor(mv.flat.parameters_to_vector(model))
    log_likelihood = mv.flat.log_likelihood(model, x, np.zeros(3), likelihood="categorical")
    assert log_likelihood(w).item() == 0.0
    with pytest.raises(ValueError, match="whole numbers 0..0"):
        mv.flat.log_likelihood(model, x, np.array([0, 1, 0]), likelihood="categorical")


def test_the_exact_hessian_laplace_steps_1e_3_by_default():
    model = mv.Sequential(mv.Linear(2, 3, rng=np.random.default_rng(32)), mv.Tanh(),
                          mv.Linear(3, 1, rng=np.random.default_rng(33)))
    rng = np.random.default_rng(34)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(12, 1))
    w = mv.laplace.find_mode(model, x, y, noise_sigma=0.5, tol=1e-10)
    log_prob = mv.flat.log_joint(model, x, y, noise_sigma=0.5, prior_sigma=1.0)
    fine = mv.laplace.exact_hessian(log_prob, w, step=1e-3)
    assert not np.allclose(mv.laplace.exact_hessian(log_prob, w, step=0.2), fine, rtol=1e-8)   # the step matters
    default = mv.laplace.laplace(model, x, y, noise_sigma=0.5, hessian="exact", w=w)
    np.testing.assert_allclose(default.hessian, fine, rtol=1e-13, atol=1e-13)


def test_hmc_caps_the_trajectory_at_256_leapfrog_steps_by_default():
    """trajectory_length 2 at ε = 1e-3 asks for 2000 steps: max_leapfrog = 256 caps them."""
    def log_prob(w):
        return (w * w).sum(axis=-1) * -0.5

    log_prob.vectorized = True
    result = mv.mcmc.hmc(log_prob, np.zeros((1, 1)), n_samples=1, n_warmup=0, step_size=1e-3,
                         rng=np.random.default_rng(35), warn=False)
    assert result.n_leapfrog == 256


def test_log_prob_and_grad_calls_a_per_chain_density_once_per_row_by_default():
    def log_prob(w):                       # Tensor (D,) -> scalar, as hmc's log_prob without `vectorized`
        assert w.shape == (2,)
        return (w * w).sum() * -0.5

    w = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, 1.0]])
    values, grads = mv.mcmc.log_prob_and_grad(log_prob, w)
    np.testing.assert_array_equal(values, -0.5 * (w * w).sum(axis=1))
    np.testing.assert_array_equal(grads, -w)


def test_the_hmc_diagnostics_warning_points_at_the_callers_line():
    def log_prob(w):
        return (w * w).sum(axis=-1) * -0.5

    log_prob.vectorized = True
    with pytest.warns(mv.mcmc.ConvergenceWarning) as record:
        mv.mcmc.hmc(log_prob, np.zeros((2, 1)), n_samples=4, n_warmup=0, step_size=0.5, n_leapfrog=3,
                    rng=np.random.default_rng(36))
    assert [w.filename for w in record] == [__file__]


def test_the_reliability_counts_sit_4_points_straight_above_each_point():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    mv.plots.reliability_diagram(ax, np.array([0.55, 0.95]), np.array([0.6, 0.9]), np.array([0.5, 1.0]),
                                 np.array([4, 6]))
    labels = [t for t in ax.texts if isinstance(t, matplotlib.text.Annotation)]
    assert [(t.get_text(), t.xyann, t.get_ha()) for t in labels] == [("4", (0, 4), "center"), ("6", (0, 4), "center")]
    plt.close(fig)


def test_the_true_curve_is_1_5_points_wide_whatever_the_style():
    import matplotlib.pyplot as plt
    with matplotlib.rc_context({"lines.linewidth": 4.0}):
        fig, ax = plt.subplots()
        x = np.linspace(0, 1, 5)
        band = {"mean": x, "total": np.full(5, 0.2), "epistemic": np.full(5, 0.1)}
        mv.plots.regression_band(ax, x, x, x, band, truth=x)
    truth = [line for line in ax.lines if line.get_label() == "true curve (no noise)"]
    assert len(truth) == 1 and truth[0].get_linewidth() == 1.5
    plt.close(fig)
