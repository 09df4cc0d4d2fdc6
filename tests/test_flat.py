"""The flat-weight view (minivi/flat.py): round trips, the forward from w, the log joint against
hand-written densities, gradients three ways."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minivi as mv
from minivi import flat
from minivi.gradcheck import engine_grad

LOG_2PI = np.log(2 * np.pi)


def tanh_net(rng, sizes=(2, 4, 3)):
    return mv.Sequential(mv.Linear(sizes[0], sizes[1], rng=rng), mv.Tanh(), mv.Linear(sizes[1], sizes[2], rng=rng))


def numpy_forward(w, x, sizes=(2, 4, 3)):
    """The tanh network written by hand from the documented layout [W1 row by row, b1, W2, b2]."""
    a, b, c = sizes
    W1 = w[:a * b].reshape(a, b)
    b1 = w[a * b:a * b + b]
    W2 = w[a * b + b:a * b + b + b * c].reshape(b, c)
    b2 = w[a * b + b + b * c:a * b + b + b * c + c]
    return np.tanh(x @ W1 + b1) @ W2 + b2


# ---------------------------------------------------------------- vector <-> parameters


def test_the_vector_lays_the_parameters_end_to_end_in_order():
    rng = np.random.default_rng(0)
    model = tanh_net(rng)
    vec = flat.parameters_to_vector(model)
    expected = np.concatenate([p.data.ravel() for p in model.parameters()])
    assert vec.shape == (flat.n_weights(model),) == (2 * 4 + 4 + 4 * 3 + 3,)
    np.testing.assert_array_equal(vec, expected)
    np.testing.assert_array_equal(vec[:8].reshape(2, 4), model[0].weight.data)


def test_round_trip_vector_to_parameters_and_back():
    rng = np.random.default_rng(1)
    model = tanh_net(rng)
    new = rng.normal(size=flat.n_weights(model))
    flat.vector_to_parameters(new, model)
    np.testing.assert_array_equal(flat.parameters_to_vector(model), new)
    new[0] = 99.0   # the model holds copies, not views of the caller's vector
    assert model[0].weight.data[0, 0] != 99.0


def test_parameters_to_vector_is_a_copy():
    model = tanh_net(np.random.default_rng(2))
    vec = flat.parameters_to_vector(model)
    vec[:] = 0.0
    assert np.any(flat.parameters_to_vector(model) != 0.0)


def test_vector_to_parameters_refuses_a_wrong_length_or_non_finite_values():
    model = tanh_net(np.random.default_rng(3))
    d = flat.n_weights(model)
    with pytest.raises(ValueError, match=f"D = {d}"):
        flat.vector_to_parameters(np.zeros(d + 1), model)
    with pytest.raises(ValueError, match=f"D = {d}"):
        flat.vector_to_parameters(np.zeros((2, d)), model)
    bad = np.zeros(d)
    bad[3] = np.nan
    before = flat.parameters_to_vector(model)
    with pytest.raises(ValueError, match="NaN"):
        flat.vector_to_parameters(bad, model)
    np.testing.assert_array_equal(flat.parameters_to_vector(model), before)   # nothing written
    with pytest.raises(TypeError, match="Module"):
        flat.parameters_to_vector([model])


# ---------------------------------------------------------------- the forward from w


def test_functional_forward_equals_the_model_and_a_hand_written_forward():
    rng = np.random.default_rng(4)
    model, x = tanh_net(rng), rng.normal(size=(5, 2))
    w = flat.parameters_to_vector(model)
    out = flat.functional_forward(model, mv.Tensor(w), x)
    assert out.shape == (5, 3)
    np.testing.assert_allclose(out.data, model(x).data, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(out.data, numpy_forward(w, x), rtol=1e-13, atol=1e-14)


def test_functional_forward_reads_w_not_the_layers():
    rng = np.random.default_rng(5)
    model, x = tanh_net(rng), rng.normal(size=(5, 2))
    w = rng.normal(size=flat.n_weights(model))
    before = flat.parameters_to_vector(model)
    np.testing.assert_allclose(flat.functional_forward(model, w, x).data, numpy_forward(w, x), rtol=1e-13)
    np.testing.assert_array_equal(flat.parameters_to_vector(model), before)


def test_a_batch_of_weight_vectors_gives_one_output_per_vector():
    rng = np.random.default_rng(6)
    model, x = tanh_net(rng), rng.normal(size=(5, 2))
    ws = rng.normal(size=(3, flat.n_weights(model)))
    out = flat.functional_forward(model, mv.Tensor(ws), x)
    assert out.shape == (3, 5, 3)
    for c in range(3):
        np.testing.assert_allclose(out.data[c], numpy_forward(ws[c], x), rtol=1e-13, atol=1e-14)


def test_gradients_flow_into_w_only():
    rng = np.random.default_rng(7)
    model, x = tanh_net(rng), rng.normal(size=(5, 2))
    w = mv.Tensor(flat.parameters_to_vector(model), requires_grad=True)
    flat.functional_forward(model, w, x).sum().backward()
    assert w.grad.shape == w.shape and np.any(w.grad != 0)
    assert all(p.grad is None for p in model.parameters())


def test_a_layer_used_twice_has_its_weights_once_in_w():
    rng = np.random.default_rng(8)
    shared = mv.Linear(3, 3, rng=rng)
    model = mv.Sequential(shared, mv.Tanh(), shared)
    x = rng.normal(size=(4, 3))
    assert flat.n_weights(model) == 12
    w = flat.parameters_to_vector(model)
    np.testing.assert_allclose(flat.functional_forward(model, w, x).data, model(x).data, rtol=1e-14)


def test_nested_sequential_and_a_bare_linear_work():
    rng = np.random.default_rng(9)
    inner = mv.Sequential(mv.Linear(2, 3, rng=rng), mv.ReLU())
    model = mv.Sequential(inner, mv.Linear(3, 1, rng=rng))
    x = rng.normal(size=(6, 2))
    np.testing.assert_allclose(flat.functional_forward(model, flat.parameters_to_vector(model), x).data,
                               model(x).data, rtol=1e-14)
    single = mv.Linear(2, 1, rng=rng)
    np.testing.assert_allclose(flat.functional_forward(single, flat.parameters_to_vector(single), x).data,
                               single(x).data, rtol=1e-14)


def test_a_frozen_parameter_is_not_in_w_and_is_used_as_it_is():
    rng = np.random.default_rng(10)
    model = mv.Sequential(mv.Linear(2, 3, rng=rng), mv.Tanh(), mv.Linear(3, 1, rng=rng))
    model[2].bias = mv.Tensor([0.7])   # requires_grad=False: frozen
    x = rng.normal(size=(4, 2))
    assert flat.n_weights(model) == 6 + 3 + 3
    np.testing.assert_allclose(flat.functional_forward(model, flat.parameters_to_vector(model), x).data,
                               model(x).data, rtol=1e-14)


def test_bayesian_layers_and_unknown_modules_are_refused():
    rng = np.random.default_rng(11)
    bayes = mv.Sequential(mv.BayesLinear(2, 3, rng=rng), mv.Tanh(), mv.Linear(3, 1, rng=rng))
    with pytest.raises(TypeError, match="BayesLinear is a variational"):
        flat.functional_forward(bayes, np.zeros(flat.n_weights(bayes)), np.zeros((1, 2)))
    with pytest.raises(TypeError, match="variational"):
        flat.log_joint(bayes, np.zeros((1, 2)), np.zeros(1), noise_sigma=1.0)

    class Square(mv.Module):
        def forward(self, x):
            return x * x

    odd = mv.Sequential(mv.Linear(2, 1, rng=rng), Square())
    with pytest.raises(TypeError, match="Square"):
        flat.functional_forward(odd, np.zeros(3), np.zeros((1, 2)))


class Residual(mv.Sequential):
    """x + f(x): a Sequential whose forward is not the composition of its layers."""

    def forward(self, x, *, mode, n_samples, shared_sigma=None):
        return x + super().forward(x, mode=mode, n_samples=n_samples, shared_sigma=shared_sigma)


class Scaled(mv.Linear):
    """2 (x W + b): a Linear whose forward is not x W + b."""

    def forward(self, x):
        return super().forward(x) * 2.0


class Named(mv.Linear):
    """A Linear subclass that computes exactly what Linear computes (only its repr differs)."""

    def __repr__(self):
        return "Named" + super().__repr__()


def residual_and_scaled_models(rng):
    residual = mv.Sequential(mv.Linear(2, 3, rng=rng), Residual(mv.Linear(3, 3, rng=rng), mv.Tanh()),
                             mv.Linear(3, 1, rng=rng))
    scaled = mv.Sequential(Scaled(2, 3, rng=rng), mv.Tanh(), mv.Linear(3, 1, rng=rng))
    return {"Residual": residual, "Scaled": scaled}


@pytest.mark.parametrize("name", ["Residual", "Scaled"])
def test_a_subclass_that_overrides_forward_is_refused_not_computed_as_its_base(name):
    """The view would compute Sequential / Linear in their place: a different network, so it refuses."""
    rng = np.random.default_rng(12)
    model = residual_and_scaled_models(rng)[name]
    x = rng.normal(size=(5, 2))
    w = flat.parameters_to_vector(model)
    with pytest.raises(TypeError, match=f"{name} .a subclass of .*overrides forward"):
        flat.functional_forward(model, w, x)
    with pytest.raises(TypeError, match=f"{name} .a subclass of .*overrides forward"):
        flat.log_joint(model, x, np.zeros(5), noise_sigma=1.0)
    alone = {"Residual": model.layers[1], "Scaled": model.layers[0]}[name]   # also when it is the whole model
    x_alone = {"Residual": rng.normal(size=(5, 3)), "Scaled": x}[name]
    with pytest.raises(TypeError, match="overrides forward"):
        flat.functional_forward(alone, flat.parameters_to_vector(alone), x_alone)


def test_a_subclass_that_keeps_the_forward_is_viewed_exactly():
    rng = np.random.default_rng(13)
    model = mv.Sequential(Named(2, 4, rng=rng), mv.ReLU(), Named(4, 1, rng=rng))
    x = rng.normal(size=(6, 2))
    w = flat.parameters_to_vector(model)
    np.testing.assert_array_equal(flat.functional_forward(model, w, x).data, model(x).data)


def test_functional_forward_refuses_wrong_shapes():
    rng = np.random.default_rng(12)
    model = tanh_net(rng)
    d = flat.n_weights(model)
    with pytest.raises(ValueError, match=f"D = {d}"):
        flat.functional_forward(model, np.zeros(d - 1), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\(N, in_features\)"):
        flat.functional_forward(model, np.zeros(d), np.zeros(2))
    with pytest.raises(ValueError, match="last axis has size 2"):
        flat.functional_forward(model, np.zeros(d), np.zeros((4, 3)))


# ---------------------------------------------------------------- the log joint against hand-written densities


def hand_gaussian_log_joint(w, x, y, noise_sigma, prior_scales, sizes=(2, 4, 3)):
    f = numpy_forward(w, x, sizes)
    log_lik = np.sum(-(y - f) ** 2 / (2 * noise_sigma ** 2) - np.log(noise_sigma) - 0.5 * LOG_2PI)
    log_prior = np.sum(-w ** 2 / (2 * prior_scales ** 2) - np.log(prior_scales) - 0.5 * LOG_2PI)
    return log_lik + log_prior


def test_gaussian_log_joint_equals_the_hand_written_density():
    rng = np.random.default_rng(13)
    model, x, y = tanh_net(rng), rng.normal(size=(6, 2)), rng.normal(size=(6, 3))
    w = rng.normal(size=flat.n_weights(model))
    log_prob = flat.log_joint(model, x, y, noise_sigma=0.3, prior_sigma=1.5)
    value = log_prob(mv.Tensor(w))
    assert value.shape == ()
    np.testing.assert_allclose(value.item(), hand_gaussian_log_joint(w, x, y, 0.3, np.full(w.size, 1.5)),
                               rtol=1e-13)


def test_fan_in_prior_scales_the_weights_not_the_biases():
    rng = np.random.default_rng(14)
    model, x, y = tanh_net(rng), rng.normal(size=(6, 2)), rng.normal(size=(6, 3))
    w = rng.normal(size=flat.n_weights(model))
    scales = np.concatenate([np.full(8, 2.0 / np.sqrt(2)), np.full(4, 2.0), np.full(12, 2.0 / np.sqrt(4)),
                             np.full(3, 2.0)])
    log_prob = flat.log_joint(model, x, y, noise_sigma=0.5, prior_sigma=2.0, fan_in_prior=True)
    np.testing.assert_allclose(log_prob(mv.Tensor(w)).item(), hand_gaussian_log_joint(w, x, y, 0.5, scales),
                               rtol=1e-13)


def test_categorical_log_joint_equals_the_hand_written_density():
    rng = np.random.default_rng(15)
    model, x = tanh_net(rng), rng.normal(size=(7, 2))
    labels = rng.integers(0, 3, size=7)
    w = rng.normal(size=flat.n_weights(model))
    f = numpy_forward(w, x)
    log_softmax = f - np.log(np.exp(f).sum(axis=1, keepdims=True))
    expected = log_softmax[np.arange(7), labels].sum() + np.sum(-w ** 2 / 2 - 0.5 * LOG_2PI)
    log_prob = flat.log_joint(model, x, labels, likelihood="categorical")
    np.testing.assert_allclose(log_prob(mv.Tensor(w)).item(), expected, rtol=1e-13)
    column = flat.log_joint(model, x, labels.reshape(-1, 1), likelihood="categorical")   # (N, 1): same labels
    assert column(mv.Tensor(w)).item() == log_prob(mv.Tensor(w)).item()


def test_the_log_joint_of_a_batch_is_one_value_per_weight_vector():
    rng = np.random.default_rng(16)
    model, x, y = tanh_net(rng), rng.normal(size=(6, 2)), rng.normal(size=(6, 3))
    ws = rng.normal(size=(4, flat.n_weights(model)))
    log_prob = flat.log_joint(model, x, y, noise_sigma=0.3)
    assert log_prob.vectorized
    values = log_prob(mv.Tensor(ws))
    assert values.shape == (4,)
    for c in range(4):
        np.testing.assert_allclose(values.data[c], log_prob(mv.Tensor(ws[c])).item(), rtol=1e-13)


def test_targets_n_and_n_by_1_mean_the_same_for_one_output():
    rng = np.random.default_rng(17)
    model = tanh_net(rng, (2, 4, 1))
    x, y = rng.normal(size=(6, 2)), rng.normal(size=6)
    w = mv.Tensor(rng.normal(size=flat.n_weights(model)))
    a = flat.log_joint(model, x, y, noise_sigma=0.2)(w).item()
    b = flat.log_joint(model, x, y.reshape(-1, 1), noise_sigma=0.2)(w).item()
    assert a == b
    expected = hand_gaussian_log_joint(w.data, x, y.reshape(-1, 1), 0.2, np.ones(w.size), (2, 4, 1))
    np.testing.assert_allclose(a, expected, rtol=1e-13)


def test_log_likelihood_is_the_log_joint_without_the_prior():
    """Gaussian and categorical, one vector and a batch: log p(𝒟|w) written by hand, the same refusals."""
    rng = np.random.default_rng(21)
    model, x = tanh_net(rng), rng.normal(size=(7, 2))
    y, labels = rng.normal(size=(7, 3)), rng.integers(0, 3, size=7)
    w = rng.normal(size=(2, flat.n_weights(model)))
    f = np.stack([numpy_forward(w_c, x) for w_c in w])
    gaussian = np.sum(-(y - f) ** 2 / (2 * 0.4 ** 2) - np.log(0.4) - 0.5 * LOG_2PI, axis=(1, 2))
    log_lik = flat.log_likelihood(model, x, y, noise_sigma=0.4)
    np.testing.assert_allclose(log_lik(mv.Tensor(w)).data, gaussian, rtol=1e-13)
    np.testing.assert_allclose(log_lik(mv.Tensor(w[0])).item(), gaussian[0], rtol=1e-13)
    log_softmax = f - np.log(np.exp(f).sum(axis=2, keepdims=True))
    categorical = log_softmax[:, np.arange(7), labels].sum(axis=1)
    log_lik_cat = flat.log_likelihood(model, x, labels, likelihood="categorical")
    np.testing.assert_allclose(log_lik_cat(mv.Tensor(w)).data, categorical, rtol=1e-13)
    prior = np.sum(-w ** 2 / 2 - 0.5 * LOG_2PI, axis=1)
    np.testing.assert_allclose(flat.log_joint(model, x, y, noise_sigma=0.4)(mv.Tensor(w)).data, gaussian + prior,
                               rtol=1e-13)
    assert log_lik.vectorized and not log_lik.includes_prior
    assert flat.log_joint(model, x, y, noise_sigma=0.4).includes_prior
    with pytest.raises(ValueError, match="log_likelihood: the Gaussian likelihood needs noise_sigma"):
        flat.log_likelihood(model, x, y)
    with pytest.raises(ValueError, match=r"log_likelihood: the network gives outputs of shape \(7, 3\)"):
        flat.log_likelihood(model, x, y[:, 0], noise_sigma=1.0)
    with pytest.raises(TypeError, match="overrides forward"):
        flat.log_likelihood(residual_and_scaled_models(rng)["Scaled"], x, y[:, :1], noise_sigma=1.0)


def test_log_joint_refuses_bad_input():
    rng = np.random.default_rng(18)
    model, x = tanh_net(rng), rng.normal(size=(6, 2))
    y = rng.normal(size=(6, 3))
    with pytest.raises(ValueError, match="needs noise_sigma"):
        flat.log_joint(model, x, y)
    with pytest.raises(ValueError, match="positive"):
        flat.log_joint(model, x, y, noise_sigma=0.0)
    with pytest.raises(ValueError, match="positive"):
        flat.log_joint(model, x, y, noise_sigma=1.0, prior_sigma=-1.0)
    with pytest.raises(ValueError, match=r"\(6, 3\)"):
        flat.log_joint(model, x, y[:, 0], noise_sigma=1.0)     # (N,) but 3 outputs: ambiguous, refused
    with pytest.raises(ValueError, match=r"\(6, 3\)"):
        flat.log_joint(model, x, y[:5], noise_sigma=1.0)
    with pytest.raises(ValueError, match="NaN"):
        flat.log_joint(model, x, np.where(y > 1, np.nan, y), noise_sigma=1.0)
    with pytest.raises(ValueError, match="must be one of"):
        flat.log_joint(model, x, y, likelihood="poisson")
    with pytest.raises(ValueError, match="categorical one has none"):
        flat.log_joint(model, x, np.zeros(6), likelihood="categorical", noise_sigma=1.0)
    with pytest.raises(ValueError, match="one-hot"):
        flat.log_joint(model, x, np.eye(3)[np.zeros(6, int)], likelihood="categorical")
    with pytest.raises(ValueError, match="whole numbers 0..2"):
        flat.log_joint(model, x, np.full(6, 3), likelihood="categorical")
    with pytest.raises(ValueError, match=r"\(N, in_features\)"):
        flat.log_joint(model, x[:, 0], y, noise_sigma=1.0)
    log_prob = flat.log_joint(model, x, y, noise_sigma=1.0)
    with pytest.raises(ValueError, match="D = 27"):
        log_prob(mv.Tensor(np.zeros(26)))


# ---------------------------------------------------------------- gradients three ways


def test_linear_gaussian_gradient_three_ways():
    """Explicit: ∇ log p = Φᵀ(y - Φw)/σ² - w/s² with Φ = [x, 1] (the bias last, as in the layout)."""
    rng = np.random.default_rng(19)
    model = mv.Linear(3, 1, rng=rng)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=8)
    w = rng.normal(size=4)
    noise_sigma, prior_sigma = 0.4, 0.8
    log_prob = flat.log_joint(model, x, y, noise_sigma=noise_sigma, prior_sigma=prior_sigma)
    phi = np.hstack([x, np.ones((8, 1))])
    explicit = phi.T @ (y - phi @ w) / noise_sigma ** 2 - w / prior_sigma ** 2
    autodiff = engine_grad(log_prob, w)[0]
    numeric = mv.numerical_grad(lambda v: log_prob(mv.Tensor(v)).item(), w)[0]
    np.testing.assert_allclose(autodiff, explicit, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(numeric, explicit, rtol=1e-6, atol=1e-6)


def test_softmax_regression_gradient_three_ways():
    """Explicit: ∇_W = xᵀ(Y - P) - W/s², ∇_b = Σ_n (Y - P)_n - b/s², P = softmax(x W + b), Y one-hot."""
    rng = np.random.default_rng(20)
    model = mv.Linear(2, 3, rng=rng)
    x, labels = rng.normal(size=(9, 2)), rng.integers(0, 3, size=9)
    w = rng.normal(size=9)
    W, b = w[:6].reshape(2, 3), w[6:]
    logits = x @ W + b
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Y = np.eye(3)[labels]
    explicit = np.concatenate([(x.T @ (Y - P) - W).ravel(), (Y - P).sum(axis=0) - b])
    log_prob = flat.log_joint(model, x, labels, likelihood="categorical")
    np.testing.assert_allclose(engine_grad(log_prob, w)[0], explicit, rtol=1e-12, atol=1e-12)
    assert mv.gradcheck(log_prob, w)


def test_prior_gradient_three_ways():
    """log_normal_prior is one op with the explicit gradient -w/s²; autodiff of the formula and finite
    differences agree."""
    rng = np.random.default_rng(21)
    w, scales = rng.normal(size=(2, 5)), rng.uniform(0.3, 2.0, size=5)
    explicit = engine_grad(lambda t: flat.log_normal_prior(t, scales).sum(), w)[0]
    np.testing.assert_allclose(explicit, -w / scales ** 2, rtol=1e-14)

    def formula(t):
        return (t * t * (-0.5 / scales ** 2)).sum() - 2 * np.sum(np.log(scales) + 0.5 * LOG_2PI)

    np.testing.assert_allclose(engine_grad(formula, w)[0], explicit, rtol=1e-14)
    assert mv.gradcheck(lambda t: flat.log_normal_prior(t, scales).sum(), w)


@pytest.mark.parametrize("likelihood", ["gaussian", "categorical"])
def test_network_log_joint_gradient_against_finite_differences(likelihood):
    rng = np.random.default_rng(22)
    model, x = tanh_net(rng), rng.normal(size=(6, 2))
    y = rng.normal(size=(6, 3)) if likelihood == "gaussian" else rng.integers(0, 3, size=6)
    kwargs = {"noise_sigma": 0.5} if likelihood == "gaussian" else {}
    log_prob = flat.log_joint(model, x, y, likelihood=likelihood, fan_in_prior=True, **kwargs)
    assert mv.gradcheck(log_prob, rng.normal(size=flat.n_weights(model)))


def test_batched_gradients_equal_one_chain_at_a_time():
    rng = np.random.default_rng(23)
    model, x, y = tanh_net(rng), rng.normal(size=(6, 2)), rng.normal(size=(6, 3))
    log_prob = flat.log_joint(model, x, y, noise_sigma=0.5)
    ws = rng.normal(size=(3, flat.n_weights(model)))
    batch = mv.Tensor(ws, requires_grad=True)
    log_prob(batch).backward(np.ones(3))
    for c in range(3):
        np.testing.assert_allclose(batch.grad[c], engine_grad(log_prob, ws[c])[0], rtol=1e-12,
                                   atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4), activation=st.sampled_from([mv.Tanh, mv.ReLU]),
       n_chains=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_round_trip_and_forward_on_drawn_architectures(sizes, activation, n_chains, seed):
    """Any stack of Linear layers with activations between: vec -> parameters -> vec is exact, and the
    forward from w (one vector or a batch) equals the model's own forward with those parameters."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [mv.Linear(n_in, n_out, rng=rng)] + ([activation()] if i < len(sizes) - 2 else [])
    model = mv.Sequential(*layers)
    x = rng.normal(size=(3, sizes[0]))
    ws = rng.normal(size=(n_chains, flat.n_weights(model)))
    batch = flat.functional_forward(model, mv.Tensor(ws), x).data
    for c in range(n_chains):
        flat.vector_to_parameters(ws[c], model)
        np.testing.assert_array_equal(flat.parameters_to_vector(model), ws[c])
        np.testing.assert_allclose(flat.functional_forward(model, mv.Tensor(ws[c]), x).data, model(x).data,
                                   rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(batch[c], model(x).data, rtol=1e-12, atol=1e-13)
