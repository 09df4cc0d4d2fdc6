"""The module layer's contract (issue 10): modules visited once, containers found, declared
parameters, one protocol for variational modules, an explicit sample axis, function draws in predict."""
import os
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minivi as mv


def rng(seed=0):
    return np.random.default_rng(seed)


def bits(array):
    return np.asarray(array, dtype=np.float64).view(np.uint64)


# ---------------------------------------------------------------- item 1: a module used twice counts once


def test_a_layer_used_twice_counts_its_kl_once():
    layer = mv.BayesLinear(4, 4, rng=rng())
    model = mv.Sequential(layer, mv.ReLU(), layer)
    assert [type(m).__name__ for m in model.modules()] == ["Sequential", "BayesLinear", "ReLU"]
    assert mv.kl_divergence(model).item() == layer.kl().item()
    assert len(model.parameters()) == 4


class Child(mv.Module):
    def __init__(self, parent):
        self.parent = parent                      # a reference back up the tree
        self.linear = mv.Linear(2, 2, rng=rng(1))

    def forward(self, x):
        return self.linear(x)


class Parent(mv.Module):
    def __init__(self):
        self.child = Child(self)

    def forward(self, x):
        return self.child(x)


def test_a_reference_back_to_the_parent_ends_the_walk():
    model = Parent()
    assert [type(m).__name__ for m in model.modules()] == ["Parent", "Child", "Linear"]
    assert [name for name, _ in model.named_parameters()] == ["child.linear.weight", "child.linear.bias"]


# ---------------------------------------------------------------- item 2: containers


class Heads(mv.Module):
    """Modules in a dict, in a list inside a list, and in a tuple."""

    def __init__(self):
        r = rng(2)
        self.trunk = [[mv.BayesLinear(2, 3, rng=r)], (mv.Tanh(),)]
        self.heads = {"mean": mv.BayesLinear(3, 1, rng=r), "scale": mv.Linear(3, 1, rng=r)}

    def forward(self, x, *, mode, n_samples):
        h = self.trunk[1][0](self.trunk[0][0](x, mode=mode, n_samples=n_samples))
        return self.heads["mean"](h, mode=mode, n_samples=n_samples) + self.heads["scale"](h)


def test_modules_in_dicts_and_nested_lists_are_trained_counted_and_saved(tmp_path):
    model = Heads()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["trunk.0.0.weight_mu", "trunk.0.0.weight_rho", "trunk.0.0.bias_mu", "trunk.0.0.bias_rho",
                     "heads.mean.weight_mu", "heads.mean.weight_rho", "heads.mean.bias_mu", "heads.mean.bias_rho",
                     "heads.scale.weight", "heads.scale.bias"]
    expected_kl = model.trunk[0][0].kl().item() + model.heads["mean"].kl().item()
    assert mv.kl_divergence(model).item() == pytest.approx(expected_kl, rel=1e-15)
    mv.save(model, tmp_path / "heads.npz")
    other = Heads()
    other.heads["scale"].bias.data[...] = 7.0
    mv.load(other, tmp_path / "heads.npz")
    assert np.array_equal(other.heads["scale"].bias.data, model.heads["scale"].bias.data)


def test_sets_of_modules_and_bad_dict_keys_are_refused_at_assignment():
    holder = mv.Module()
    with pytest.raises(TypeError, match="a set has no order"):
        holder.layers = {mv.Linear(1, 1, rng=rng())}
    with pytest.raises(TypeError, match="string keys without dots"):
        holder.heads = {0: mv.Linear(1, 1, rng=rng())}
    with pytest.raises(TypeError, match="string keys without dots"):
        holder.heads = {"a.b": mv.Linear(1, 1, rng=rng())}
    holder.lookup = {0: "a number key is fine when no module sits under it"}


# ---------------------------------------------------------------- item 3: declared parameters


class Cached(mv.Module):
    def __init__(self):
        self.linear = mv.Linear(2, 2, rng=rng(3))
        self.frozen_scale = mv.Parameter(3.0, requires_grad=False)

    def forward(self, x):
        self.hidden = self.linear(x)                # a cache: a computed Tensor, never a parameter
        return self.hidden * self.frozen_scale


def test_a_cache_is_never_a_parameter_and_a_frozen_one_is_still_declared(tmp_path):
    model = Cached()
    before = model.parameters()
    model(np.ones((3, 2))).sum().backward()
    assert [id(p) for p in model.parameters()] == [id(p) for p in before] == \
        [id(model.linear.weight), id(model.linear.bias)]
    assert [name for name, _ in model.named_parameters()] == ["frozen_scale", "linear.weight", "linear.bias"]
    assert set(model.state_dict()) == {"linear.weight", "linear.bias", "frozen_scale"}
    optimizer = mv.optim.Adam(model.parameters(), lr=0.1)
    optimizer.step()
    assert model.frozen_scale.data == 3.0             # not trained
    mv.save(model, tmp_path / "cached.npz")
    other = Cached()
    other.frozen_scale.data[...] = -1.0
    mv.load(other, tmp_path / "cached.npz")
    assert other.frozen_scale.data == 3.0             # but saved and loaded


def test_an_undeclared_leaf_tensor_with_a_gradient_is_refused_with_the_fix():
    holder = mv.Module()
    holder.w = mv.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"w: .*not a Parameter.*mv\.Parameter"):
        holder.parameters()


def test_parameter_is_a_tensor_that_asks_for_a_gradient():
    p = mv.Parameter([1.0, 2.0])
    assert isinstance(p, mv.Tensor) and p.requires_grad and repr(p).startswith("Parameter(")
    assert not mv.Parameter(1.0, requires_grad=False).requires_grad


# ---------------------------------------------------------------- item 8: the protocol


class PointMassLayer(mv.BayesianModule):
    """A variational module that is not a BayesLinear: y = x * a, KL given as a Parameter's square."""

    def __init__(self):
        self.a = mv.Parameter(2.0)
        self.calls = []

    def forward(self, x, *, mode, n_samples):
        self.calls.append((mode, n_samples))
        return x * self.a if isinstance(x, mv.Tensor) else mv.Tensor(x) * self.a

    def kl(self):
        return self.a * self.a


def test_a_bayesian_module_of_any_class_adds_its_kl():
    custom = PointMassLayer()
    model = mv.Sequential(mv.BayesLinear(1, 1, rng=rng()), custom)
    assert mv.kl_divergence(model).item() == pytest.approx(model[0].kl().item() + 4.0, rel=1e-15)
    model(np.ones((2, 1)), mode="mean")
    model(np.ones((2, 1)), n_samples=3)
    assert custom.calls == [("mean", None), ("sample", 3)]


def test_a_bayesian_module_missing_a_part_cannot_be_created():
    class NoKL(mv.BayesianModule):
        def forward(self, x, *, mode, n_samples):
            return x

    class NoMode(mv.BayesianModule):
        def forward(self, x):
            return x

        def kl(self):
            return mv.Tensor(0.0)

    with pytest.raises(TypeError, match=r"NoKL is a BayesianModule but does not define kl\(\)"):
        NoKL()
    with pytest.raises(TypeError, match="NoMode.forward must take the sampling mode"):
        NoMode()


def test_a_module_holding_bayesian_layers_must_pass_the_mode_on():
    class Forgetful(mv.Module):
        def __init__(self):
            self.layer = mv.BayesLinear(1, 1, rng=rng())

        def forward(self, x):
            return self.layer(x)         # would sample even in mode="mean"

    with pytest.raises(TypeError, match="Forgetful holds Bayesian layers.*forward\\(self, x, \\*, mode, n_samples\\)"):
        Forgetful()(np.ones((2, 1)), mode="mean")


def test_a_forward_that_returns_nothing_in_some_mode_is_refused():
    class OnlySample(mv.BayesianModule):
        def forward(self, x, *, mode, n_samples):
            if mode == "sample":
                return mv.Tensor(x)

        def kl(self):
            return mv.Tensor(0.0)

    with pytest.raises(TypeError, match="returned None \\(mode='mean'\\)"):
        OnlySample()(np.ones((1, 1)), mode="mean")


# ---------------------------------------------------------------- item 10: the sample axis is explicit


@pytest.mark.parametrize("cls", [mv.BayesLinear, mv.LocalBayesLinear])
def test_n_equal_to_s_keeps_data_and_samples_apart(cls):
    s = 4
    layer = cls(2, 3, rng=rng(5))
    x = np.tile(rng(6).normal(size=(1, 2)), (s, 1))          # N = S = 4 identical rows
    out = mv.Sequential(mv.Linear(2, 2, rng=rng(7)), layer)(x, mode="function", n_samples=s).data
    assert out.shape == (s, s, 3)
    assert np.allclose(out, out[:, :1])                      # one function per sample: equal rows agree
    assert not np.allclose(out[0], out[1])                   # and the samples differ


@pytest.mark.parametrize("cls", [mv.BayesLinear, mv.LocalBayesLinear])
def test_naturally_3d_inputs_are_not_mistaken_for_samples(cls):
    layer = cls(2, 3, rng=rng(8))
    x = rng(9).normal(size=(3, 5, 2))                        # e.g. 3 sequences of 5 steps: data, not samples
    out = mv.Sequential(layer, mv.Tanh(), cls(3, 1, rng=rng(10)))(x, n_samples=3)
    assert out.shape == (3, 3, 5, 1)
    mean = layer(x, mode="mean").data
    np.testing.assert_allclose(mean, x @ layer.weight_mu.data + layer.bias_mu.data, rtol=1e-14)
    # with one weight sample per s, data item n pairs with every sample, not only sample n
    w_out = mv.Sequential(mv.BayesLinear(2, 1, rng=rng(11)))(np.broadcast_to(x[:1], (3, 5, 2)), n_samples=3).data
    assert np.allclose(w_out, w_out[:, :1])


# ---------------------------------------------------------------- item 5: predict


def test_predict_gives_samples_for_a_model_without_bayesian_layers():
    model = mv.Sequential(mv.Linear(2, 3, rng=rng()), mv.Tanh())
    x = rng(1).normal(size=(5, 2))
    samples = mv.predict(model, x, n_samples=4)
    assert samples.shape == (4, 5, 3)
    assert np.array_equal(samples, np.broadcast_to(model(x).data, (4, 5, 3)))
    assert mv.regression_uncertainty(samples, 0.1)["epistemic"].shape == (5, 3)


def test_predict_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be 'sample'.*'mean'.*got 'samples'"):
        mv.predict(mv.Linear(1, 1, rng=rng()), np.ones((2, 1)), mode="samples")


def test_predict_draws_functions_from_a_local_reparameterisation_model():
    model = mv.Sequential(mv.LocalBayesLinear(1, 8, rng=rng(2), init_sigma=0.5), mv.Tanh(),
                          mv.LocalBayesLinear(8, 1, rng=rng(3), init_sigma=0.5))
    x = np.ones((2, 1))                                       # two identical inputs
    trained_way = model(x, n_samples=500).data[..., 0]
    drawn = mv.predict(model, x, n_samples=500)[..., 0]
    assert abs(np.corrcoef(trained_way.T)[0, 1]) < 0.2       # per-row draws: independent rows
    assert np.array_equal(drawn[:, 0], drawn[:, 1])          # functions: the same network for both rows


# ---------------------------------------------------------------- the property


@st.composite
def models(draw):
    """A random model from the public modules: layers tied, nested in lists and dicts, some parameters frozen."""
    seed = draw(st.integers(0, 2 ** 16))
    r = rng(seed)
    width = draw(st.integers(1, 3))
    pool = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["bayes", "local", "linear", "mixture"]))
        if kind == "linear":
            pool.append(mv.Linear(width, width, rng=r))
        else:
            cls = mv.LocalBayesLinear if kind == "local" else mv.BayesLinear
            prior = mv.ScaleMixturePrior() if kind == "mixture" else None
            pool.append(cls(width, width, rng=r, prior=prior, bias=draw(st.booleans())))
    picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=6))   # repeats tie layers
    layers = [pool[i] for i in picks]
    model = mv.Sequential(*layers[:2])
    model.extra = {"inner": [layers[2:4], (mv.Tanh(),)], "more": {"deep": layers[4:]}}
    model.noise = mv.LearnedNoise(0.3)
    for _, p in model.named_parameters():
        if draw(st.booleans()) and draw(st.booleans()):
            p.requires_grad = False
    return model, layers, seed


@settings(max_examples=20, deadline=None)
@given(models())
def test_random_models_count_each_layer_once_and_round_trip_bit_for_bit(built):
    model, layers, seed = built
    distinct_bayes = {id(layer): layer for layer in layers if isinstance(layer, mv.BayesianModule)}
    with mv.no_grad():
        expected = sum(layer.kl().item() for layer in distinct_bayes.values())
        assert mv.kl_divergence(model).item() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    params = model.parameters()
    assert len({id(p) for p in params}) == len(params)
    named = model.named_parameters()
    assert len({id(p) for _, p in named}) == len(named)
    state = model.state_dict()
    with tempfile.TemporaryDirectory() as folder:
        path = mv.save(model, os.path.join(folder, "m.npz"))
        for _, p in named:
            p.data[...] = rng(seed + 1).normal(size=p.shape)
        mv.load(model, path)
    for name, p in model.named_parameters():
        assert np.array_equal(bits(p.data), bits(state[name])), name


def test_a_forward_taking_only_one_of_mode_and_n_samples_is_refused():
    class HalfAware(mv.Module):
        def forward(self, x, mode="sample"):
            return mv.Tensor(x)

    with pytest.raises(TypeError, match="takes only one of mode and n_samples"):
        HalfAware()(np.ones((1, 1)))


def test_a_single_input_row_without_a_row_axis_is_refused_when_sampling_many():
    layer = mv.BayesLinear(2, 1, rng=rng())
    assert layer(np.ones(2)).shape == (1,)                   # one sample: a single input is fine
    with pytest.raises(ValueError, match=r"needs inputs with rows.*x.reshape\(1, -1\)"):
        layer(np.ones(2), n_samples=3)


def test_modules_finds_what_named_modules_finds_in_the_same_order():
    """modules() walks without names (it runs at every training step, in kl_divergence); it must
    list the same modules, in the same order, as named_modules(): nested lists, tuples, dicts,
    a layer held twice, a list held by two modules, and a reference back to the parent."""
    model = Heads()
    shared = mv.Tanh()
    model.extra = [{"a": shared, "b": (model.trunk[0][0], mv.ReLU())}, shared]
    model.more = mv.Sequential(mv.Tanh(), shared)
    model.more.again = model.extra          # the same list, held by a second module
    model.more.parent = model               # a cycle
    named = [m for _, m in model.named_modules()]
    assert len(named) == 9
    assert [id(m) for m in model.modules()] == [id(m) for m in named]
