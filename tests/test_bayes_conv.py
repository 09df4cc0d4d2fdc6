"""Tests for minivi.bayes_conv: BayesConv2d and LocalBayesConv2d (steps 4, 5, 7 on a kernel).

The claim of the module: q over the kernel is BayesLinear's, so on the
flattened kernel the KL and the gradients are BayesLinear's. A convolution
whose kernel covers the whole image (no padding) IS a linear layer on the
flattened image, and with one output channel the kernel's entries are drawn in
the order of BayesLinear's (C_in·kH·kW, 1) weights: the two layers, built from
the same seed, are then the same layer and must agree on everything.
"""
import copy
import functools

import numpy as np
import pytest

import minivi as mv
from conv_helpers import conv_numpy
from minivi import gaussian as g

NOISE = functools.partial(mv.gaussian_nll, noise_sigma=0.3)


def softplus(rho):
    return np.logaddexp(0.0, rho)


def perturbed(layer, rng):
    """Move every mu and rho away from its initial value, so no gradient is accidentally symmetric."""
    for mu, rho in layer.variational_parameters():
        mu.data = mu.data + rng.normal(0, 0.3, mu.shape)
        rho.data = rho.data + rng.normal(0, 0.5, rho.shape)
    return layer


@pytest.mark.parametrize("n_samples", [None, 1, 3])
def test_on_the_flattened_kernel_the_loss_kl_and_gradients_are_bayes_linears(n_samples):
    c_in, k = 2, 3
    conv = mv.Sequential(mv.BayesConv2d(c_in, 1, k, rng=np.random.default_rng(5)), mv.Flatten())
    linear = mv.BayesLinear(c_in * k * k, 1, rng=np.random.default_rng(5))
    perturbed(conv[0], np.random.default_rng(1))
    perturbed(linear, np.random.default_rng(1))
    for (mu_c, rho_c), (mu_l, rho_l) in zip(conv[0].variational_parameters(), linear.variational_parameters()):
        np.testing.assert_array_equal(mu_c.data.ravel(), mu_l.data.ravel())    # the same q, entry for entry
        np.testing.assert_array_equal(rho_c.data.ravel(), rho_l.data.ravel())
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, c_in, k, k)), rng.normal(size=(6, 1))
    loss_c, info_c = mv.elbo_loss(conv, x, y, NOISE, n_data=60, n_samples=n_samples or 1)
    loss_l, info_l = mv.elbo_loss(linear, x.reshape(6, -1), y, NOISE, n_data=60, n_samples=n_samples or 1)
    loss_c.backward()
    loss_l.backward()
    np.testing.assert_allclose(info_c["kl"], info_l["kl"], rtol=1e-14)
    np.testing.assert_allclose(loss_c.item(), loss_l.item(), rtol=1e-13)
    for (mu_c, rho_c), (mu_l, rho_l) in zip(conv[0].variational_parameters(), linear.variational_parameters()):
        for p_c, p_l in ((mu_c, mu_l), (rho_c, rho_l)):
            np.testing.assert_allclose(p_c.grad.ravel(), p_l.grad.ravel(), rtol=1e-12, atol=1e-14)


def test_kl_and_its_gradient_are_bayes_linears_on_the_flattened_kernel_for_any_shape():
    conv = perturbed(mv.BayesConv2d(3, 4, (2, 3), prior_sigma=0.7, rng=np.random.default_rng(0)),
                     np.random.default_rng(1))
    linear = mv.BayesLinear(3 * 2 * 3, 4, prior_sigma=0.7, rng=np.random.default_rng(0))
    flat = lambda a: a.reshape(4, -1).T                         # kernel (C_out, C_in, kH, kW) -> (in, out)
    linear.weight_mu.data, linear.weight_rho.data = flat(conv.weight_mu.data), flat(conv.weight_rho.data)
    linear.bias_mu.data, linear.bias_rho.data = conv.bias_mu.data, conv.bias_rho.data
    kl_c, kl_l = conv.kl(), linear.kl()
    kl_c.backward()
    kl_l.backward()
    np.testing.assert_allclose(kl_c.item(), kl_l.item(), rtol=1e-14)
    mus = np.concatenate([conv.weight_mu.data.ravel(), conv.bias_mu.data])
    sigmas = np.concatenate([softplus(conv.weight_rho.data).ravel(), softplus(conv.bias_rho.data)])
    np.testing.assert_allclose(kl_c.item(), g.kl_normal(mus, sigmas, 0.0, 0.7), rtol=1e-14)   # step 5
    np.testing.assert_array_equal(flat(conv.weight_mu.grad), linear.weight_mu.grad)
    np.testing.assert_array_equal(flat(conv.weight_rho.grad), linear.weight_rho.grad)
    np.testing.assert_array_equal(conv.bias_rho.grad, linear.bias_rho.grad)


@pytest.mark.parametrize("n_samples", [None, 4])
def test_bayes_conv2d_forward_reproduces_its_eps_draws(n_samples):
    layer = perturbed(mv.BayesConv2d(2, 3, 3, stride=2, padding=1, rng=np.random.default_rng(0)),
                      np.random.default_rng(1))
    x = np.random.default_rng(2).normal(size=(5, 2, 6, 7))
    replay = copy.deepcopy(layer.rng)
    out = layer(x, n_samples=n_samples).data
    lead = () if n_samples is None else (n_samples,)
    eps_w = replay.standard_normal(lead + (3, 2, 3, 3))
    eps_b = replay.standard_normal(lead + (3,))
    w = layer.weight_mu.data + softplus(layer.weight_rho.data) * eps_w
    b = layer.bias_mu.data + softplus(layer.bias_rho.data) * eps_b
    np.testing.assert_allclose(out, conv_numpy(x, w, b, stride=2, padding=1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer(x, mode="mean").data,
                               conv_numpy(x, layer.weight_mu.data, layer.bias_mu.data, stride=2, padding=1), atol=1e-12)


@pytest.mark.parametrize("n_samples", [None, 3])
def test_local_bayes_conv2d_draws_each_pixel_from_its_gaussian(n_samples):
    layer = perturbed(mv.LocalBayesConv2d(2, 3, 2, padding=1, rng=np.random.default_rng(0)),
                      np.random.default_rng(1))
    x = np.random.default_rng(2).normal(size=(4, 2, 5, 5))
    replay = copy.deepcopy(layer.rng)
    out = layer(x, n_samples=n_samples).data
    mean = conv_numpy(x, layer.weight_mu.data, layer.bias_mu.data, padding=1)
    var = conv_numpy(x ** 2, softplus(layer.weight_rho.data) ** 2, softplus(layer.bias_rho.data) ** 2, padding=1)
    eps = replay.standard_normal(out.shape)
    np.testing.assert_allclose(out, mean + np.sqrt(var) * eps, rtol=1e-12, atol=1e-12)
    # mode="function" draws kernels: exactly what BayesConv2d draws from the same generator state
    twin = mv.BayesConv2d(2, 3, 2, padding=1, rng=np.random.default_rng(3))
    twin.load_state_dict(layer.state_dict())
    twin.rng = copy.deepcopy(layer.rng)
    np.testing.assert_array_equal(layer(x, mode="function", n_samples=2).data,
                                  twin(x, mode="function", n_samples=2).data)


def test_local_bayes_conv2d_mean_mode_is_the_convolution_with_mu_and_draws_nothing():
    layer = perturbed(mv.LocalBayesConv2d(2, 3, 2, padding=1, rng=np.random.default_rng(0)),
                      np.random.default_rng(1))
    x = np.random.default_rng(2).normal(size=(4, 2, 5, 5))
    state = copy.deepcopy(layer.rng.bit_generator.state)
    np.testing.assert_allclose(layer(x, mode="mean").data,
                               conv_numpy(x, layer.weight_mu.data, layer.bias_mu.data, padding=1), atol=1e-12)
    assert layer.rng.bit_generator.state == state


def test_config_names_the_constructor_arguments_and_repr_shows_the_settings():
    for cls in (mv.BayesConv2d, mv.LocalBayesConv2d):
        layer = cls(2, 3, (3, 2), stride=2, padding=(1, 0), bias=False, rng=np.random.default_rng(0))
        config = layer.config()
        assert (config["kernel_size"], config["stride"], config["padding"]) == ([3, 2], [2, 2], [1, 0])
        rebuilt = cls(**{k: v for k, v in config.items() if k != "prior"}, rng=np.random.default_rng(1))
        assert rebuilt.config() == config
        assert repr(layer).startswith(f"{cls.__name__}(2, 3, kernel_size=(3, 2), stride=(2, 2), padding=(1, 0)")
        assert repr(layer).endswith("bias=False)")
        assert repr(cls(1, 1, 1, rng=np.random.default_rng(0))).endswith("bias=True)")


def test_local_bayes_conv2d_gradients_match_central_differences():
    # The engine's autodiff of mean + sqrt(var) * eps (conv2d, softplus, sqrt) against finite differences.
    layer = perturbed(mv.LocalBayesConv2d(1, 2, 2, rng=np.random.default_rng(0)), np.random.default_rng(1))
    x = np.random.default_rng(2).normal(size=(2, 1, 3, 3))
    state = copy.deepcopy(layer.rng)
    values = [p.data.copy() for _, p in layer.named_parameters()]
    mv.gradcheck(lambda *t: _with_leaves(layer, t, lambda: (layer(x).tanh() ** 2).sum(), state), *values)


def _with_leaves(layer, leaves, f, state):
    """f() with the layer's parameters replaced by the given Tensors (for gradcheck), the same eps each time."""
    names = [n for n, _ in layer.named_parameters()]
    saved = {n: getattr(layer, n) for n in names}
    for n, t in zip(names, leaves):
        object.__setattr__(layer, n, t)
    layer.rng = copy.deepcopy(state)
    try:
        return f()
    finally:
        for n, p in saved.items():
            object.__setattr__(layer, n, p)


def test_save_and_load_record_the_kernel_and_refuse_another(tmp_path):
    rng = np.random.default_rng(0)

    def build(cls=mv.BayesConv2d, kernel=3, padding=1):
        r = np.random.default_rng(9)
        return mv.Sequential(cls(1, 4, kernel, padding=padding, rng=r), mv.ReLU(), mv.MaxPool2d(2), mv.Flatten(),
                             mv.BayesLinear(4 * 4 * 4, 3, rng=r))

    model = build()
    perturbed(model[0], rng)
    mv.save(model, tmp_path / "m.npz")
    other = build()
    mv.load(other, tmp_path / "m.npz")
    for (name, p), (_, q) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    place, name, config = mv.io.describe(tmp_path / "m.npz")[1]
    assert (place, name) == ("layers.0", "BayesConv2d")
    assert config["kernel_size"] == [3, 3] and config["padding"] == [1, 1] and config["in_channels"] == 1
    with pytest.raises(ValueError, match=r"\(4, 1, 3, 3\) in .* but \(4, 1, 3, 2\) in the model"):
        mv.load(build(kernel=(3, 2)), tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"'padding': \[1, 1\].*'padding': \[0, 0\]|\"padding\": \[1, 1\].*\"padding\": \[0, 0\]"):
        mv.load(build(padding=0), tmp_path / "m.npz")      # same parameter shapes, another convolution
    with pytest.raises(ValueError, match="FlipoutConv2d"):
        mv.load(build(cls=mv.FlipoutConv2d), tmp_path / "m.npz")


@pytest.mark.parametrize("call, fragments", [
    (lambda layer: layer(np.zeros((2, 5, 5))), [r"BayesConv2d expects images of shape \(N, 2, H, W\)", r"\(2, 5, 5\)",
                                                "x.reshape"]),
    (lambda layer: layer(np.zeros((4, 3, 5, 5))), [r"\(N, 2, H, W\)", r"\(4, 3, 5, 5\)"]),
    (lambda layer: layer(np.zeros((4, 2, 5, 5, 1)), n_samples=2), [r"\(N, 2, H, W\)", "sample axis first"]),
    (lambda layer: layer(np.zeros((4, 2, 2, 2))), ["3x3 window is larger than the padded image 2x2"]),
])
def test_bayes_conv2d_refuses_bad_images_naming_the_shape(call, fragments):
    import re
    layer = mv.BayesConv2d(2, 3, 3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError) as info:
        call(layer)
    for fragment in fragments:
        assert re.search(fragment, str(info.value)), (fragment, str(info.value))


def test_bayes_conv2d_refuses_bad_settings():
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="stride must be a whole number >= 1"):
        mv.BayesConv2d(1, 2, 3, stride=1.5, rng=rng)
    with pytest.raises(ValueError, match="padding must be a whole number >= 0"):
        mv.BayesConv2d(1, 2, 3, padding=-1, rng=rng)
    with pytest.raises(ValueError, match="out_channels must be a whole number >= 1"):
        mv.BayesConv2d(1, 0, 3, rng=rng)
    with pytest.raises(TypeError, match="Generator"):
        mv.BayesConv2d(1, 2, 3, rng=0)
    with pytest.raises(ValueError, match="init_sigma"):
        mv.BayesConv2d(1, 2, 3, rng=rng, init_sigma=0.0)


def test_a_mixture_prior_kl_on_a_kernel_is_its_monte_carlo_estimate_and_reading_it_changes_nothing():
    prior = mv.ScaleMixturePrior(0.5, 1.0, 0.1)
    layer = mv.BayesConv2d(2, 3, 2, prior=prior, rng=np.random.default_rng(0))
    layer(np.ones((1, 2, 3, 3)))
    first, second = layer.kl().item(), layer.kl().item()
    assert first == second                                       # read twice: the same draw
    # the estimate log q(w) - log p(w) at w = mu + sigma * eps, eps from the generator seeded at the forward
    rng = np.random.default_rng(layer._kl_seed)
    expected = 0.0
    for mu, rho in layer.variational_parameters():
        eps = rng.standard_normal(mu.shape)
        sigma = softplus(rho.data)
        w = mu.data + sigma * eps
        log_q = np.sum(-0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * eps ** 2)
        expected += log_q - np.sum(g.log_scale_mixture_pdf(w, 0.5, 1.0, 0.1))
    np.testing.assert_allclose(first, expected, rtol=1e-12)


def test_local_reparameterisation_keeps_each_pixel_but_not_their_covariance_flipout_keeps_both():
    # F = Σ_n (Σ_pixels out_n)² depends on the pixels of an image jointly. Under q (one kernel per image)
    # Σ_pixels out_n = Σ_{c,a,e} W[c,a,e] T_n[c,a,e], T_n the sum of the pixels each kernel entry meets, so
    #     E_q[F] = Σ_n (Σ mu T_n)² + Σ sigma² T_n²;
    # local reparameterisation draws the pixels independently, each with its own variance v_nij, so
    #     E_local[F] = Σ_n (Σ mu T_n)² + Σ_ij v_nij,   which misses the pixels' covariances.
    rng = np.random.default_rng(4)
    x = rng.uniform(0.2, 1.0, size=(3, 1, 3, 3))                 # positive pixels: positive covariances
    layers = {cls: cls(1, 1, 2, rng=np.random.default_rng(0), bias=False, init_sigma=0.5)
              for cls in (mv.BayesConv2d, mv.LocalBayesConv2d, mv.FlipoutConv2d)}
    for layer in layers.values():
        layer.weight_mu.data = np.array([[[[0.3, -0.2], [0.1, 0.4]]]])
    sigma2 = softplus(layers[mv.BayesConv2d].weight_rho.data[0, 0]) ** 2
    mu = layers[mv.BayesConv2d].weight_mu.data[0, 0]
    windows = np.lib.stride_tricks.sliding_window_view(x[:, 0], (2, 2), axis=(1, 2))   # (N, 2, 2, a, e)
    t = windows.sum(axis=(1, 2))                                                          # T_n[a, e]
    exact_q = np.sum(np.sum(mu * t, axis=(1, 2)) ** 2 + np.sum(sigma2 * t ** 2, axis=(1, 2)))
    exact_local = np.sum(np.sum(mu * t, axis=(1, 2)) ** 2) + np.sum(windows ** 2 * sigma2)
    n_draws = 20000
    for cls, layer in layers.items():
        out = layer(x, n_samples=n_draws).data                   # (S, N, 1, 2, 2)
        f = (out.sum(axis=(2, 3, 4)) ** 2).sum(axis=1)
        standard_error = f.std(ddof=1) / np.sqrt(n_draws)
        expected = exact_local if cls is mv.LocalBayesConv2d else exact_q
        assert abs(f.mean() - expected) < 5 * standard_error, (cls.__name__, f.mean(), expected, standard_error)
        assert abs(exact_q - exact_local) > 20 * standard_error   # the gap is far beyond Monte Carlo error
