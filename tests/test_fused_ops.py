"""The ops that join several steps into one graph node (issue 14: fewer nodes per training step).

  - bayes.kl_normal_op over a layer's (weight, bias) pairs: one op, the sum of the per-pair KLs;
  - elbo._negative_elbo: pi * KL + (1/S) * sum_s nll, one op;
  - (tensor.affine, x @ w + b, is tested in test_tensor.py.)
Each gradient is checked three ways (explicit formula, the engine's autodiff of
the same expression from primitive ops, central finite differences, float64),
and the joined ops must give exactly the numbers of the separate ops.
"""
import functools

import numpy as np
import pytest

import minivi as mv
from gradient_helpers import assert_within, engine_grads
from minivi import bayes, elbo
from test_bayes import kl_numpy, kl_primitive

PAIR_SHAPES = [((3, 2), (2,)), ((4,), (1,)), ((2, 2), ())]


@pytest.mark.parametrize("prior", [(0.0, 1.0), (0.3, 1.7)], ids=["N(0,1)", "N(0.3,1.7^2)"])
@pytest.mark.parametrize("shapes", PAIR_SHAPES, ids=[str(s) for s in PAIR_SHAPES])
def test_kl_normal_op_over_pairs_gradient_three_way(shapes, prior):
    """One op over (mu_w, mu_b), (rho_w, rho_b): value and gradients of the sum of the two KLs."""
    prior_mu, prior_sigma = prior
    rng = np.random.default_rng(len(shapes[0]))
    mu_w, mu_b = (rng.normal(size=s) for s in shapes)
    rho_w, rho_b = (rng.uniform(-4, 2, size=s) for s in shapes)

    def joined(mw, rw, mb, rb):
        return bayes.kl_normal_op((mw, mb), (rw, rb), prior_mu, prior_sigma)

    def primitive(mw, rw, mb, rb):
        return kl_primitive(mw, rw, prior_mu, prior_sigma) + kl_primitive(mb, rb, prior_mu, prior_sigma)

    arrays = (mu_w, rho_w, mu_b, rho_b)
    explicit, autodiff = engine_grads(joined, *arrays), engine_grads(primitive, *arrays)
    numeric = mv.numerical_grad(lambda mw, rw, mb, rb: kl_numpy(mw, rw, prior_mu, prior_sigma)
                                + kl_numpy(mb, rb, prior_mu, prior_sigma), *arrays)
    for name, e, a, n in zip(("mu_w", "rho_w", "mu_b", "rho_b"), explicit, autodiff, numeric):
        assert_within(e, a, 1e-12 * (1 + np.abs(a)), f"dKL/d{name} explicit vs autodiff")
        assert_within(e, n, 1e-7 * (1 + np.abs(n)), f"dKL/d{name} vs central differences")
    value = joined(*(mv.Tensor(a) for a in arrays)).item()
    separate = [bayes.kl_normal_op(mv.Tensor(m), mv.Tensor(r), prior_mu, prior_sigma).item()
                for m, r in ((mu_w, rho_w), (mu_b, rho_b))]
    assert value == separate[0] + separate[1]        # the same float additions as two ops and an add


def test_kl_normal_op_refuses_unequal_numbers_of_mus_and_rhos():
    mu, rho = mv.Tensor(np.zeros(2)), mv.Tensor(np.zeros(2))
    with pytest.raises(ValueError):
        bayes.kl_normal_op((mu, mu), (rho,))


@pytest.mark.parametrize("n_samples", [1, 4])
def test_negative_elbo_op_gradient_three_way(n_samples):
    """F = pi * KL + (1/S) * nll_sum: dF/dKL = pi and dF/dnll_sum = 1/S (explicit), against the
    engine's `kl * pi + nll_sum * (1/S)` from primitive ops and central differences."""
    kl_weight = 0.37
    kl, nll_sum = np.array(2.5), np.array(-1.25)
    explicit = engine_grads(lambda k, n: elbo._negative_elbo(k, n, kl_weight, n_samples), kl, nll_sum)
    autodiff = engine_grads(lambda k, n: k * kl_weight + n * (1.0 / n_samples), kl, nll_sum)
    numeric = mv.numerical_grad(lambda k, n: kl_weight * k + n / n_samples, kl, nll_sum)
    for e, a, n, formula in zip(explicit, autodiff, numeric, (kl_weight, 1.0 / n_samples)):
        assert e == formula and a == formula
        assert abs(e - n) <= 1e-8
    with mv.no_grad():
        value = elbo._negative_elbo(mv.Tensor(kl), mv.Tensor(nll_sum), kl_weight, n_samples).item()
    assert value == kl * kl_weight + nll_sum * (1.0 / n_samples)


def _model(seed, n_out):
    rng = np.random.default_rng(seed)
    return mv.Sequential(mv.BayesLinear(2, 4, rng=rng), mv.ReLU(), mv.BayesLinear(4, n_out, rng=rng))


@pytest.mark.parametrize("n_samples", [1, 3])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_elbo_loss_equals_the_loss_built_from_separate_ops(task, n_samples):
    """elbo_loss (joined ops) gives the same loss and gradients, to the last bit, as the same loss
    built from one op per KL term, `x @ W + b` as two ops, and kl * pi + nll * (1/S) as three."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 2))
    if task == "regression":
        y, nll, n_out = rng.normal(size=(6, 1)), functools.partial(mv.gaussian_nll, noise_sigma=0.4), 1
    else:
        y, nll, n_out = rng.integers(0, 3, size=6), mv.categorical_nll, 3
    joined, separate = _model(0, n_out), _model(0, n_out)
    loss, info = mv.elbo_loss(joined, x, y, nll, n_data=30, n_samples=n_samples)
    loss.backward()

    h = mv.Tensor(x).reshape(1, 6, 2)
    kl = None
    for layer in separate.layers:
        if isinstance(layer, mv.ReLU):
            h = h.relu()
            continue
        w = bayes.sample_weight(layer.weight_mu, layer.weight_rho, layer.rng.standard_normal((n_samples, 2, 4)
                                                                                             if layer.in_features == 2
                                                                                             else (n_samples, 4, n_out)))
        b = bayes.sample_weight(layer.bias_mu, layer.bias_rho, layer.rng.standard_normal((n_samples, 1, layer.out_features)))
        h = h @ w + b
        (w_mu, w_rho), (b_mu, b_rho) = layer.variational_parameters()
        layer_kl = bayes.kl_normal_op(w_mu, w_rho) + bayes.kl_normal_op(b_mu, b_rho)   # per layer, then summed
        kl = layer_kl if kl is None else kl + layer_kl
    separate_loss = kl * (6 / 30) + nll(h, y) * (1.0 / n_samples)
    separate_loss.backward()
    assert loss.item() == separate_loss.item() == info["loss"]
    assert info["kl"] == kl.item()
    for p, q in zip(joined.parameters(), separate.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad)
