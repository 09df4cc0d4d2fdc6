"""sigma = softplus(rho) shared by the sampling op and the KL op within one `elbo_loss` (issue 14).

`elbo_loss` hands the forward and `kl_divergence` one fresh dict; a layer
reuses an entry only if it was made from the same rho Tensor, at the same
version, in the same grad mode (bayes.SigmaOfRho). These tests check that the
sharing changes no number, that it really shares (one softplus per rho), and
that nothing stale is ever reused.
"""
import functools

import numpy as np
import pytest

import minivi as mv
from minivi import bayes
from minivi import gaussian as g

NLL = functools.partial(mv.gaussian_nll, noise_sigma=0.3)
N_DATA = 40


def _model(seed=0):
    rng = np.random.default_rng(seed)
    return mv.Sequential(mv.BayesLinear(2, 5, rng=rng), mv.Tanh(), mv.BayesLinear(5, 1, rng=rng))


def _data():
    rng = np.random.default_rng(7)
    return rng.normal(size=(10, 2)), rng.normal(size=(10, 1))


def _rhos(model):
    return [rho for m in model.modules() if isinstance(m, mv.BayesLinear) for _, rho in m.variational_parameters()]


@pytest.fixture
def count_softplus(monkeypatch):
    """Count the calls of gaussian.softplus (the layers call it through the module, so the patch sees them)."""
    calls = []
    original = g.softplus

    def counted(rho, **kwargs):
        calls.append(np.shape(rho))
        return original(rho, **kwargs)

    monkeypatch.setattr(g, "softplus", counted)
    return calls


def _loss_and_grads(model, loss):
    model.zero_grad()
    loss.backward()
    return loss.item(), [p.grad.copy() for p in model.parameters()]


def _unshared_loss(model, x, y, n_samples):
    """The same minibatch loss as elbo_loss, each op computing its own sigma (no dict passed)."""
    data_term = NLL(model(x, n_samples=n_samples), y) * (1.0 / n_samples)
    return bayes.kl_divergence(model) * (len(x) / N_DATA) + data_term


@pytest.mark.parametrize("n_samples", [1, 8])
def test_shared_loss_and_gradients_equal_the_unshared_ones(n_samples):
    x, y = _data()
    shared_model, plain_model = _model(), _model()   # same seed: same parameters and same eps stream
    loss, _ = mv.elbo_loss(shared_model, x, y, NLL, N_DATA, n_samples=n_samples)
    value, grads = _loss_and_grads(shared_model, loss)
    value_ref, grads_ref = _loss_and_grads(plain_model, _unshared_loss(plain_model, x, y, n_samples))
    assert value == pytest.approx(value_ref, rel=1e-14)
    for grad, grad_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("n_samples", [1, 8])
def test_one_softplus_per_rho_per_elbo_loss(count_softplus, n_samples):
    model = _model()
    x, y = _data()
    loss, _ = mv.elbo_loss(model, x, y, NLL, N_DATA, n_samples=n_samples)
    loss.backward()
    assert sorted(count_softplus) == sorted(rho.shape for rho in _rhos(model))   # 4 rhos, 4 calls
    count_softplus.clear()
    _unshared_loss(model, x, y, n_samples)                                       # without the dict: twice each
    assert len(count_softplus) == 2 * len(_rhos(model))


def test_assigning_rho_between_forward_and_kl_recomputes_sigma(count_softplus):
    model = _model()
    x, _ = _data()
    shared = {}
    model(x, shared_sigma=shared)
    layer = model[0]
    stale_kl = bayes.kl_divergence(model, shared_sigma=dict(shared)).item()   # the forward's sigma, still valid
    layer.weight_rho.data = layer.weight_rho.data + 0.5                       # rho changes: version bumped
    count_softplus.clear()
    kl = bayes.kl_divergence(model, shared_sigma=shared)
    assert count_softplus == [layer.weight_rho.shape]           # only the changed rho is computed again
    fresh_kl = bayes.kl_divergence(model).item()                # nothing shared at all
    assert kl.item() == fresh_kl
    assert kl.item() != stale_kl                                # so the old sigma would have given a wrong KL
    assert shared[id(layer.weight_rho)].sigma == pytest.approx(g.softplus(layer.weight_rho.data), rel=0, abs=0)


def test_sigma_made_under_no_grad_is_not_reused_with_grad_on(count_softplus):
    model = _model()
    x, _ = _data()
    shared = {}
    with mv.no_grad():
        model(x, shared_sigma=shared)
    assert all(not entry.grad_enabled for entry in shared.values())
    count_softplus.clear()
    kl = bayes.kl_divergence(model, shared_sigma=shared)
    assert len(count_softplus) == len(_rhos(model))             # every sigma computed again, with grad on
    assert all(entry.grad_enabled for entry in shared.values())
    model.zero_grad()
    kl.backward()
    assert all(rho.grad is not None for rho in _rhos(model))


def test_a_layer_used_twice_gets_the_summed_gradient_and_one_softplus_per_rho(count_softplus):
    def twice(seed):
        layer = mv.BayesLinear(3, 3, rng=np.random.default_rng(seed))
        return mv.Sequential(layer, mv.Tanh(), layer)

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    shared_model, plain_model = twice(1), twice(1)
    count_softplus.clear()
    loss, _ = mv.elbo_loss(shared_model, x, y, NLL, N_DATA, n_samples=2)
    assert len(count_softplus) == 2                             # weight_rho and bias_rho, once each
    value, grads = _loss_and_grads(shared_model, loss)
    value_ref, grads_ref = _loss_and_grads(plain_model, _unshared_loss(plain_model, x, y, 2))
    assert value == pytest.approx(value_ref, rel=1e-14)
    for grad, grad_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("rho", [-720.0, -800.0])
def test_kl_gradient_in_rho_is_minus_one_far_below_minus_709(rho):
    """dKL/drho = (sigma/s² - 1/sigma) sigmoid(rho) -> -1 as rho -> -inf; 1/sigma overflows below -709."""
    layer = mv.BayesLinear(2, 3, rng=np.random.default_rng(0))
    layer.weight_rho.data = np.full(layer.weight_rho.shape, rho)
    with np.errstate(divide="ignore"):                          # at -800 sigma is 0.0: log(sigma) = -inf in the value
        kl = layer.kl()
    kl.backward()
    assert np.all(np.isfinite(layer.weight_rho.grad))
    np.testing.assert_allclose(layer.weight_rho.grad, -1.0, rtol=1e-12)


def assert_one_softplus_per_rho(model, x, y, count_softplus):
    """One loss and backward with 2 samples: softplus called once per rho of the model."""
    loss, _ = mv.elbo_loss(model, x, y, NLL, N_DATA, n_samples=2)
    loss.backward()
    rhos = [rho for m in model.modules() if isinstance(m, bayes.MeanFieldLayer) for _, rho in m.variational_parameters()]
    assert sorted(count_softplus) == sorted(rho.shape for rho in rhos)


def test_a_bayesian_convolution_and_a_flipout_layer_share_sigma_too(count_softplus):
    # BayesConv2d samples its kernel and bias, FlipoutLinear its weights and bias, with the shared sigma:
    # one softplus per rho per loss.
    rng = np.random.default_rng(0)
    model = mv.Sequential(mv.BayesConv2d(1, 2, 2, rng=rng), mv.Flatten(), mv.FlipoutLinear(2 * 2 * 2, 1, rng=rng))
    x, y = rng.normal(size=(4, 1, 3, 3)), rng.normal(size=(4, 1))
    assert_one_softplus_per_rho(model, x, y, count_softplus)                  # 4 rhos, 4 calls


def test_a_flipout_convolution_shares_its_bias_sigma_too(count_softplus):
    # FlipoutConv2d's bias b_n = mu_b + sigma_b * eps_b * r_n used to be sampled from reshaped copies of
    # mu_b and rho_b without the shared dict: softplus(rho_b) was then computed twice per loss.
    rng = np.random.default_rng(0)
    model = mv.Sequential(mv.FlipoutConv2d(1, 2, 2, rng=rng), mv.Flatten(), mv.BayesLinear(2 * 2 * 2, 1, rng=rng))
    x, y = rng.normal(size=(4, 1, 3, 3)), rng.normal(size=(4, 1))
    assert_one_softplus_per_rho(model, x, y, count_softplus)                  # 4 rhos, 4 calls
    shared_model = mv.Sequential(mv.FlipoutConv2d(1, 2, 2, rng=np.random.default_rng(5)), mv.Flatten(),
                                 mv.BayesLinear(8, 1, rng=np.random.default_rng(6)))
    plain_model = mv.Sequential(mv.FlipoutConv2d(1, 2, 2, rng=np.random.default_rng(5)), mv.Flatten(),
                                mv.BayesLinear(8, 1, rng=np.random.default_rng(6)))
    value, grads = _loss_and_grads(shared_model, mv.elbo_loss(shared_model, x, y, NLL, N_DATA, n_samples=2)[0])
    value_ref, grads_ref = _loss_and_grads(plain_model, _unshared_loss(plain_model, x, y, 2))
    assert value == pytest.approx(value_ref, rel=1e-14)
    for grad, grad_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-13, atol=1e-15)
