"""Limits, defaults and small contracts a mutation run found unpinned, each against a literal or a hand value.

Adam's β boundaries (1 refused, 0 accepted and meaning "no running mean"),
FullCovGaussian.sample's count, kl_full_cov_op's default prior N(0, 1),
covariance() = L Lᵀ with off-diagonal entries, a custom prior receiving
elbo_loss's shared sigma, deterministic modules under n_samples = S when the
batch also has S rows, the flat vector of a model without parameters, and
BayesLinear's repr.
"""
import functools

import numpy as np
import pytest

import minivi as mv
from minivi import bayes, fullcov
from minivi.optim import Adam


# ---------------------------------------------------------------- Adam's betas


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.999), (0.9, -0.5)])
def test_adam_refuses_betas_outside_zero_to_one(betas):
    with pytest.raises(ValueError, match=r"betas\[\d\] must be one finite number in \[0, 1\)"):
        Adam([mv.Tensor([1.0], requires_grad=True)], lr=0.1, betas=betas)


def test_adam_with_beta1_zero_steps_by_the_current_gradient_alone():
    """β1 = 0: m = g, m̂ = g / (1 - 0^t) = g; with β2 = 0.5 the second step is lr g2 / (√v̂2 + eps)."""
    p = mv.Tensor([1.0, -2.0], requires_grad=True)
    opt = Adam([p], lr=0.1, betas=(0.0, 0.5), eps=0.0)
    g1, g2 = np.array([4.0, -1.0]), np.array([-2.0, 3.0])
    p.grad = g1
    opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1, -2.0 + 0.1], rtol=1e-15)        # lr · g / |g|
    p.grad = g2
    opt.step()
    v_hat = (0.5 * 0.5 * g1 ** 2 + 0.5 * g2 ** 2) / (1 - 0.5 ** 2)
    np.testing.assert_allclose(p.data, np.array([0.9, -1.9]) - 0.1 * g2 / np.sqrt(v_hat), rtol=1e-14)


def test_adam_with_beta2_zero_divides_by_the_current_gradients_size():
    p = mv.Tensor([0.0, 0.0], requires_grad=True)
    opt = Adam([p], lr=0.1, betas=(0.5, 0.0), eps=0.0)
    for g in ([2.0, -1.0], [-4.0, 1.0]):
        p.grad = np.array(g)
        opt.step()
    m_hat = (0.5 * 0.5 * np.array([2.0, -1.0]) + 0.5 * np.array([-4.0, 1.0])) / (1 - 0.25)
    np.testing.assert_allclose(p.data, -0.1 * np.array([1.0, -1.0]) - 0.1 * m_hat / np.array([4.0, 1.0]),
                               rtol=1e-14)


# ---------------------------------------------------------------- the full-covariance q


@pytest.mark.parametrize("n, error", [(2.0, TypeError), (True, TypeError), ("2", TypeError), (0, ValueError),
                                      (-1, ValueError), (np.float64(3.0), TypeError)])
def test_full_cov_sample_refuses_counts_that_are_not_whole_numbers_of_at_least_one(n, error):
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    with pytest.raises(error, match="n_samples must be a whole number >= 1.*or None"):
        q.sample(n)


def test_full_cov_sample_takes_numpy_integers():
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    assert q.sample(np.int64(3)).shape == (3, 2) and q.sample(1).shape == (1, 2) and q.sample().shape == (2,)


def test_kl_full_cov_op_uses_the_standard_normal_prior_by_default():
    mu, l_raw = mv.Tensor([0.3, -0.4]), mv.Tensor([[0.2, 0.0], [0.7, -1.1]])
    L = fullcov.scale_tril(l_raw.data)
    by_hand = 0.5 * (np.sum(L ** 2) + np.sum(mu.data ** 2) - 2) - np.sum(np.log(np.diag(L)))   # s = 1
    assert fullcov.kl_full_cov_op(mu, l_raw).item() == pytest.approx(by_hand, rel=1e-14)
    assert fullcov.kl_full_cov_op(mu, l_raw, 2.0).item() != pytest.approx(by_hand, rel=1e-3)


def test_covariance_is_L_L_transpose_with_off_diagonal_entries():
    q = mv.FullCovGaussian(np.zeros(3), rng=np.random.default_rng(0))
    q.l_raw.data = np.array([[mv.gaussian.inverse_softplus(2.0), 9.0, 9.0],        # the upper triangle is unused
                             [0.5, mv.gaussian.inverse_softplus(1.0), 9.0],
                             [-1.0, 3.0, mv.gaussian.inverse_softplus(0.5)]])
    # L = [[2, 0, 0], [0.5, 1, 0], [-1, 3, 0.5]], so L Lᵀ by hand:
    expected = np.array([[4.0, 1.0, -2.0],
                         [1.0, 1.25, 2.5],
                         [-2.0, 2.5, 10.25]])
    np.testing.assert_allclose(q.covariance(), expected, rtol=1e-14)
    np.testing.assert_allclose(q.scale_tril(), [[2.0, 0, 0], [0.5, 1.0, 0], [-1.0, 3.0, 0.5]], rtol=1e-14)


# ---------------------------------------------------------------- a custom prior and shared sigma


class RecordingPrior:
    """N(0, 1) written as a custom prior whose kl takes elbo_loss's shared_sigma, and keeps what it was given."""

    draws_random = False

    def __init__(self):
        self.received = []

    def kl(self, mu, rho, rng, *, shared_sigma=None):
        self.received.append(shared_sigma)
        return bayes.kl_normal_op(mu, rho, shared_sigma=shared_sigma)


class PlainPrior:
    """The same prior without the keyword: it is called without it."""

    draws_random = False

    def kl(self, mu, rho, rng):
        return bayes.kl_normal_op(mu, rho)


def test_a_custom_priors_kl_gets_the_sigma_the_forward_computed():
    layer = mv.BayesLinear(2, 3, rng=np.random.default_rng(0), prior=RecordingPrior())
    x, y = np.ones((4, 2)), np.zeros((4, 3))
    loss, info = mv.elbo_loss(layer, x, y, functools.partial(mv.gaussian_nll, noise_sigma=1.0), n_data=4)
    received = layer.prior.received
    assert len(received) == 2 and received[0] is received[1] and isinstance(received[0], dict)
    entry = received[0][id(layer.weight_rho)]                 # filled by the forward, used by the KL
    assert entry.rho is layer.weight_rho and entry.is_current(layer.weight_rho)
    assert id(layer.bias_rho) in received[0]
    plain = mv.BayesLinear(2, 3, rng=np.random.default_rng(0), prior=PlainPrior())
    _, plain_info = mv.elbo_loss(plain, x, y, functools.partial(mv.gaussian_nll, noise_sigma=1.0), n_data=4)
    assert info["kl"] == plain_info["kl"] == mv.BayesLinear(2, 3, rng=np.random.default_rng(0)).kl().item()


def test_a_custom_prior_without_config_is_recorded_by_its_class_name():
    layer = mv.BayesLinear(2, 3, rng=np.random.default_rng(0), prior=PlainPrior())
    assert layer.prior_config() == {"class": "PlainPrior"}
    gaussian = mv.BayesLinear(2, 3, rng=np.random.default_rng(0))
    assert gaussian.prior_config() == gaussian.prior.config()


# ---------------------------------------------------------------- deterministic modules under n_samples


@pytest.mark.parametrize("make", [lambda: mv.Linear(3, 2, rng=np.random.default_rng(0)), lambda: mv.Tanh(),
                                  lambda: mv.Sequential(mv.Linear(3, 2, rng=np.random.default_rng(0)), mv.ReLU())])
def test_a_module_that_draws_nothing_repeats_its_output_for_each_sample_even_when_n_equals_s(make):
    module = make()
    x = np.random.default_rng(1).normal(size=(4, 3))          # 4 rows, and 4 samples
    single = module(x).data
    out = module(x, n_samples=4)
    assert out.shape == (4,) + single.shape                   # (S, N, out): the sample axis added in front
    for s in range(4):
        np.testing.assert_array_equal(out.data[s], single)
    out3 = module(x[:3], n_samples=3)
    assert out3.shape == (3,) + single[:3].shape


# ---------------------------------------------------------------- small contracts


def test_parameters_to_vector_of_a_model_without_parameters_is_an_empty_float_vector():
    vec = mv.flat.parameters_to_vector(mv.Sequential(mv.Tanh(), mv.ReLU()))
    assert vec.shape == (0,) and vec.dtype == np.float64


@pytest.mark.parametrize("layer, text", [
    (lambda rng: mv.BayesLinear(2, 3, rng=rng),
     "BayesLinear(2, 3, prior=GaussianPrior(prior_sigma=1, prior_mu=0), bias=True)"),
    (lambda rng: mv.BayesLinear(4, 1, prior_sigma=0.5, rng=rng, bias=False),
     "BayesLinear(4, 1, prior=GaussianPrior(prior_sigma=0.5, prior_mu=0), bias=False)"),
    (lambda rng: mv.LocalBayesLinear(1, 2, rng=rng, prior=mv.ScaleMixturePrior(0.25, 1.5, 0.1)),
     "LocalBayesLinear(1, 2, prior=ScaleMixturePrior(pi=0.25, sigma1=1.5, sigma2=0.1), bias=True)"),
])
def test_bayes_linear_repr_names_its_class_sizes_prior_and_bias(layer, text):
    assert repr(layer(np.random.default_rng(0))) == text


def test_scale_grad_to_raw_checks_its_inputs_by_default_and_applies_the_step_4_link():
    grad_L = np.array([[2.0, 5.0], [3.0, -1.0]])
    l_raw = np.array([[0.0, 7.0], [1.5, np.log(3.0)]])          # sigmoid(0) = 1/2, sigmoid(log 3) = 3/4
    np.testing.assert_allclose(fullcov.scale_grad_to_raw(grad_L, l_raw), [[1.0, 0.0], [3.0, -0.75]], rtol=1e-15)
    with pytest.raises(ValueError, match="grad_L contains NaN"):
        fullcov.scale_grad_to_raw(np.array([[np.nan, 0.0], [0.0, 1.0]]), l_raw)
    with pytest.raises(ValueError, match="l_raw contains NaN"):
        fullcov.scale_grad_to_raw(grad_L, np.array([[np.nan, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="both are"):
        fullcov.scale_grad_to_raw(grad_L, np.zeros((3, 3)))


def test_a_full_cov_sample_with_an_underflowed_diagonal_is_still_computed():
    """softplus(-800) = 0.0: that direction of q has no spread left, and w = mu + L eps still follows
    (the KL is then large but finite: test_fullcov.py's underflow tests); drawing the sample is not refused."""
    mu = mv.Tensor([1.0, -1.0], requires_grad=True)
    l_raw = mv.Tensor([[-800.0, 0.0], [0.5, 0.0]], requires_grad=True)
    eps = np.array([0.3, -2.0])
    w = fullcov.sample_full_cov(mu, l_raw, eps)
    np.testing.assert_allclose(w.data, [1.0, -1.0 + 0.5 * 0.3 + np.log(2.0) * -2.0], rtol=1e-15)


def test_local_bayes_linear_in_mean_mode_adds_the_bias_mean():
    layer = mv.LocalBayesLinear(2, 3, rng=np.random.default_rng(0))
    layer.bias_mu.data = np.array([1.0, -2.0, 0.5])
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    expected = x @ layer.weight_mu.data + layer.bias_mu.data
    np.testing.assert_allclose(layer(x, mode="mean").data, expected, rtol=1e-15)
    np.testing.assert_allclose(layer(x, mode="mean", n_samples=None).data, expected, rtol=1e-15)


def test_a_module_in_a_dict_under_a_non_string_key_is_refused_however_deep():
    model = mv.Sequential(mv.Tanh())
    with pytest.raises(TypeError, match="need string keys"):
        model.extra = {1: {"inner": mv.Linear(1, 1, rng=np.random.default_rng(0))}}
    with pytest.raises(TypeError, match="need string keys"):
        model.extra = {"ok": [{2.5: [mv.Linear(1, 1, rng=np.random.default_rng(0))]}]}


def test_a_list_that_holds_itself_can_be_assigned_and_is_still_checked():
    """A container cycle used to recurse without end (RecursionError) when assigned to a module attribute."""
    loop = []
    loop.append(loop)
    model = mv.Sequential(mv.Tanh())
    model.loop = {1: loop, "again": loop}               # nothing declared inside: accepted
    assert model.loop[1] is loop
    bad = [mv.Linear(1, 1, rng=np.random.default_rng(0))]
    bad.append(bad)
    with pytest.raises(TypeError, match="need string keys"):
        model.bad = {(1, 2): bad}


def test_an_optimiser_over_exactly_flat_limit_entries_updates_each_parameter_alone():
    """From FLAT_LIMIT entries on there is no flat gradient buffer: the boundary itself must take that path."""
    p = mv.Tensor(np.zeros(mv.optim.FLAT_LIMIT), requires_grad=True)
    p.grad = np.ones(mv.optim.FLAT_LIMIT)
    opt = mv.optim.SGD([p], lr=0.25)
    assert opt._grad is None
    opt.step()
    assert np.all(p.data == -0.25)


def test_named_modules_names_the_model_itself_with_the_empty_string():
    model = mv.Sequential(mv.Linear(1, 2, rng=np.random.default_rng(0)), mv.Tanh())
    assert [name for name, _ in model.named_modules()] == ["", "layers.0", "layers.1"]
    assert next(iter(model.named_modules()))[1] is model
