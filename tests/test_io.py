"""Saving and loading models (minivi/io.py): exact round trips, clear refusals, no lost work.

What must hold:
  - a round trip is bit-exact: the same parameter bits, so the same predictions
    from the same random seed;
  - the file is a plain NumPy archive read with allow_pickle=False, with stable
    structural names and a small metadata entry;
  - a file that does not fit the model (other architecture, shapes, names,
    version) or is damaged (truncated, flipped bytes, NaN, pickled objects) is
    refused with a message naming what differs, and the model is left EXACTLY
    as it was;
  - writing is atomic: a failure while writing never damages the file that was there.
"""
import json

import numpy as np
import pytest

import minivi as mv
from minivi.io import (CONFIG_KEY, FORMAT_KEY, FORMAT_VERSION, MODULES_KEY, architecture, configuration, load,
                       named_parameters, save)


def make_model(seed=0, hidden=4, activation=mv.ReLU, bias=True, last=mv.BayesLinear):
    rng = np.random.default_rng(seed)
    return mv.Sequential(mv.BayesLinear(1, hidden, rng=rng, bias=bias), activation(),
                         last(hidden, 1, rng=rng))


def trained_model(seed=0):
    """A model whose parameters are no longer their initial values (so a round trip has something to show)."""
    rng = np.random.default_rng(seed)
    model = make_model(seed)
    x, y = mv.data.toy_curve(16, rng)
    mv.fit(model, x, y, mv.LearnedNoise(0.1), epochs=2, batch_size=8, rng=rng, verbose=False)
    return model


def bits(model):
    """Every parameter's exact bits (uint64 views tell -0.0 from 0.0 and compare NaN payloads too)."""
    return {name: p.data.copy().view(np.uint64) for name, p in named_parameters(model).items()}


def snapshot(model):
    """Parameters AND gradients, to check that a refused load changes nothing at all."""
    return [(p.data.copy(), None if p.grad is None else p.grad.copy()) for _, p in model.named_parameters()]


def assert_unchanged(model, before):
    after = snapshot(model)
    assert len(after) == len(before)
    for (data, grad), (data0, grad0) in zip(after, before):
        assert np.array_equal(data.view(np.uint64), data0.view(np.uint64))
        assert (grad is None and grad0 is None) or np.array_equal(grad, grad0)


def model_with_gradients(**kwargs):
    """A fresh model whose parameters also carry gradients (which a refused load must keep too)."""
    model = make_model(seed=5, **kwargs)
    loss, _ = mv.elbo_loss(model, np.ones((3, 1)), np.ones((3, 1)), mv.LearnedNoise(0.1), n_data=3)
    loss.backward()
    return model


# ---------------------------------------------------------------- round trips


def test_round_trip_is_bit_exact_and_predictions_repeat(tmp_path):
    model = trained_model()
    path = save(model, tmp_path / "model.npz")
    fresh = make_model(seed=99)                      # other initial values
    assert bits(fresh).keys() == bits(model).keys()
    assert load(fresh, path) is fresh
    assert all(np.array_equal(a, b) for a, b in zip(bits(fresh).values(), bits(model).values()))
    x = np.linspace(-1, 1, 7)[:, None]
    for m in (model, fresh):                         # the same eps for both
        for layer in m.modules():
            if isinstance(layer, mv.BayesLinear):
                layer.rng = np.random.default_rng(1)
    assert np.array_equal(mv.predict(model, x, n_samples=10), mv.predict(fresh, x, n_samples=10))


def test_round_trip_keeps_special_values_bit_for_bit(tmp_path):
    model = make_model()
    p = model.layers[0].weight_mu
    p.data[...] = np.array([[-0.0, 5e-324, 1.7976931348623157e308, -1e-300]])   # signed zero, subnormal, max
    fresh = load(make_model(seed=1), save(model, tmp_path / "m.npz"))
    assert np.array_equal(fresh.layers[0].weight_mu.data.view(np.uint64), p.data.view(np.uint64))


def test_learned_noise_round_trip(tmp_path):
    noise = mv.LearnedNoise(0.37)
    noise.rho.data[...] = -3.25
    other = load(mv.LearnedNoise(1.0), save(noise, tmp_path / "noise.npz"))
    assert other.rho.data.view(np.uint64) == noise.rho.data.view(np.uint64)
    assert other.noise_sigma == noise.noise_sigma


def test_load_clears_stale_gradients(tmp_path):
    path = save(make_model(), tmp_path / "m.npz")
    model = model_with_gradients()
    assert any(p.grad is not None for p in model.parameters())
    load(model, path)
    assert all(p.grad is None for p in model.parameters())


def test_save_accepts_str_and_creates_folders(tmp_path):
    target = tmp_path / "runs" / "today" / "model.npz"
    assert save(make_model(), str(target)) == target
    assert target.is_file()


# ---------------------------------------------------------------- the file itself


def test_file_is_a_plain_archive_with_structural_names_and_metadata(tmp_path):
    model = make_model()
    path = save(model, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:       # no pickle needed to read it
        contents = {key: archive[key] for key in archive.files}
    assert set(contents) == {FORMAT_KEY, MODULES_KEY, CONFIG_KEY,
                             "layers.0.weight_mu", "layers.0.weight_rho", "layers.0.bias_mu", "layers.0.bias_rho",
                             "layers.2.weight_mu", "layers.2.weight_rho", "layers.2.bias_mu", "layers.2.bias_rho"}
    assert contents[FORMAT_KEY] == FORMAT_VERSION == 2
    assert contents[MODULES_KEY].tolist() == ["<model>: Sequential", "layers.0: BayesLinear", "layers.1: ReLU",
                                              "layers.2: BayesLinear"]
    assert contents["layers.0.weight_mu"].shape == (1, 4) and contents["layers.2.bias_rho"].shape == (1,)
    assert np.array_equal(contents["layers.2.weight_rho"], model.layers[2].weight_rho.data)


def test_named_parameters_are_exactly_the_models_parameters_in_order():
    model = make_model(bias=False)
    assert [id(p) for p in named_parameters(model).values()] == [id(p) for p in model.parameters()]
    assert list(named_parameters(model)) == ["layers.0.weight_mu", "layers.0.weight_rho",
                                             "layers.2.weight_mu", "layers.2.weight_rho", "layers.2.bias_mu",
                                             "layers.2.bias_rho"]
    assert list(named_parameters(mv.LearnedNoise())) == ["rho"]


def test_a_layer_used_twice_is_saved_once_under_its_first_name():
    layer = mv.BayesLinear(2, 2, rng=np.random.default_rng(0))
    shared = mv.Sequential(layer, mv.ReLU(), layer)
    assert list(named_parameters(shared)) == ["layers.0.weight_mu", "layers.0.weight_rho", "layers.0.bias_mu",
                                              "layers.0.bias_rho"]


# ---------------------------------------------------------------- refusals leave the model as it was


def refused(model, path, error=ValueError):
    before = snapshot(model)
    with pytest.raises(error) as info:
        load(model, path)
    assert_unchanged(model, before)
    return str(info.value)


def test_another_architecture_is_refused_naming_the_difference(tmp_path):
    path = save(make_model(activation=mv.Tanh), tmp_path / "tanh.npz")
    message = refused(model_with_gradients(), path)
    assert "module 3" in message and "'layers.1: Tanh' in the file" in message
    assert "'layers.1: ReLU' in the model" in message and "Build the model exactly as the saved one" in message


def test_a_local_layer_is_another_architecture(tmp_path):
    path = save(make_model(last=mv.LocalBayesLinear), tmp_path / "local.npz")
    message = refused(make_model(), path)
    assert "'layers.2: LocalBayesLinear' in the file" in message


def test_an_extra_layer_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    deeper = mv.Sequential(*make_model().layers, mv.Tanh(), mv.BayesLinear(1, 1, rng=rng))
    message = refused(make_model(), save(deeper, tmp_path / "deeper.npz"))
    assert "'layers.3: Tanh' in the file but 'nothing more' in the model" in message


def test_a_file_with_fewer_layers_than_the_model_is_refused(tmp_path):
    """The other direction: the model holds a layer the file does not (an architecture message, not an IndexError)."""
    rng = np.random.default_rng(0)
    deeper = mv.Sequential(*make_model().layers, mv.Tanh(), mv.BayesLinear(1, 1, rng=rng))
    message = refused(deeper, save(make_model(), tmp_path / "shallow.npz"))
    assert "'nothing more' in the file but 'layers.3: Tanh' in the model" in message


def test_other_layer_sizes_are_refused_naming_both_shapes(tmp_path):
    path = save(make_model(hidden=5), tmp_path / "wide.npz")
    message = refused(model_with_gradients(), path)
    assert "layers.0.weight_mu has shape (1, 5)" in message and "but (1, 4) in the model" in message
    assert "same sizes" in message


def test_missing_and_extra_parameters_are_refused_by_name(tmp_path):
    message = refused(model_with_gradients(), save(make_model(bias=False), tmp_path / "nobias.npz"))
    assert "missing from the file ['layers.0.bias_mu', 'layers.0.bias_rho']" in message and "bias=" in message
    message = refused(make_model(bias=False), save(make_model(), tmp_path / "bias.npz"))
    assert "in the file but not in the model ['layers.0.bias_mu', 'layers.0.bias_rho']" in message


def test_a_truncated_file_is_refused_at_every_length(tmp_path):
    good = save(trained_model(), tmp_path / "good.npz").read_bytes()
    model = model_with_gradients()
    bad = tmp_path / "bad.npz"
    for length in list(range(0, len(good), max(1, len(good) // 60))) + [len(good) - 1]:
        bad.write_bytes(good[:length])
        message = refused(model, bad)
        assert "truncated or corrupt" in message and "Nothing was loaded" in message


def test_flipped_bytes_are_refused_or_harmless_never_a_silent_wrong_number(tmp_path):
    # A flipped byte either makes the file unreadable (the zip's CRC-32 checks every
    # member, the headers are checked) or lands where it changes nothing (e.g. a
    # time stamp). It must never load different numbers. 150 positions, fixed seed.
    saved = trained_model()
    good = save(saved, tmp_path / "good.npz").read_bytes()
    expected = bits(saved)
    bad = tmp_path / "bad.npz"
    rng = np.random.default_rng(0)
    refusals = 0
    for position in rng.choice(len(good), size=150, replace=False):
        damaged = bytearray(good)
        damaged[position] ^= 0x5A
        bad.write_bytes(bytes(damaged))
        model = make_model(seed=3)
        before = snapshot(model)
        try:
            load(model, bad)
        except ValueError:
            refusals += 1
            assert_unchanged(model, before)
        else:
            assert all(np.array_equal(bits(model)[k], v) for k, v in expected.items()), f"byte {position}"
    assert refusals > 100     # most bytes of the file matter


def test_a_numpy_archive_that_is_not_a_minivi_file_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    assert "not a minivi model file" in refused(make_model(), path)


def test_a_single_npy_array_is_refused(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.ones(3))
    assert "single array" in refused(make_model(), path)


def write_archive(path, model, **changes):
    """A minivi file for `model`, with some entries replaced, written directly with np.savez."""
    arrays = {FORMAT_KEY: np.array(FORMAT_VERSION), MODULES_KEY: np.array(architecture(model)),
              CONFIG_KEY: np.array(configuration(model))}
    arrays.update((name, p.data) for name, p in named_parameters(model).items())
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


def test_pickled_objects_are_never_unpickled(tmp_path):
    model = make_model()
    path = write_archive(tmp_path / "pickled.npz", model,
                         **{"layers.0.weight_mu": np.array([[{"not": "numbers"}] * 4], dtype=object)})
    assert "Object arrays cannot be loaded when allow_pickle=False" in refused(make_model(), path)


def test_another_format_version_is_refused(tmp_path):
    model = make_model()
    message = refused(model, write_archive(tmp_path / "v3.npz", model, **{FORMAT_KEY: np.array(3)}))
    assert "format version 3" in message and "reads versions (1, 2)" in message


def test_nan_or_float32_parameters_in_a_file_are_refused(tmp_path):
    model = make_model()
    nan = model.layers[2].bias_mu.data + np.nan
    message = refused(model, write_archive(tmp_path / "nan.npz", model, **{"layers.2.bias_mu": nan}))
    assert "layers.2.bias_mu" in message and "NaN or inf" in message
    single = model.layers[0].weight_mu.data.astype(np.float32)
    message = refused(model, write_archive(tmp_path / "f32.npz", model, **{"layers.0.weight_mu": single}))
    assert "layers.0.weight_mu" in message and "float32" in message


def test_a_missing_file_names_the_path(tmp_path):
    message = refused(make_model(), tmp_path / "nowhere.npz", FileNotFoundError)
    assert "nowhere.npz" in message and "check the path" in message


def test_arguments_in_the_wrong_order_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"save\(model, 'model.npz'\)"):
        save(tmp_path / "m.npz", make_model())
    with pytest.raises(TypeError, match=r"load\(model, 'model.npz'\)"):
        load(make_model(), 3)


# ---------------------------------------------------------------- never lost work


def leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_a_crash_while_writing_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = save(make_model(seed=1), tmp_path / "model.npz")
    good = path.read_bytes()

    def crash_halfway(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", crash_halfway)
    with pytest.raises(OSError, match="No space left"):
        save(trained_model(), path)
    assert path.read_bytes() == good
    assert leftovers(tmp_path, {"model.npz"}) == []      # the temporary file is gone too


def test_a_diverged_model_is_not_saved_over_a_good_file(tmp_path):
    path = save(make_model(seed=1), tmp_path / "model.npz")
    good = path.read_bytes()
    broken = make_model()
    broken.layers[2].weight_rho.data[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"layers\.2\.weight_rho .* NaN or inf.*nothing was written"):
        save(broken, path)
    assert path.read_bytes() == good
    assert leftovers(tmp_path, {"model.npz"}) == []


def test_saving_over_an_existing_file_replaces_it_whole(tmp_path):
    path = tmp_path / "model.npz"
    save(make_model(seed=1), path)
    second = trained_model()
    save(second, path)
    assert all(np.array_equal(a, b) for a, b in zip(bits(load(make_model(), path)).values(), bits(second).values()))
    assert leftovers(tmp_path, {"model.npz"}) == []


# ---------------------------------------------------------------- in memory, hyper-parameters, frozen ones (issue 10)


def test_state_dict_round_trips_in_memory_bit_for_bit_and_holds_copies():
    model, other = trained_model(), make_model(seed=9)
    state = model.state_dict()
    assert list(state) == list(named_parameters(model))
    state["layers.0.weight_mu"] += 0.0                      # a copy: the model is not aliased
    other.load_state_dict(model.state_dict())
    assert snapshot_bits(other) == snapshot_bits(model)


def test_load_state_dict_takes_nested_lists_as_arrays():
    """A state read from JSON holds lists: they are the same numbers, so they load (as float64 copies)."""
    model, other = trained_model(), make_model(seed=9)
    other.load_state_dict({name: value.tolist() for name, value in model.state_dict().items()})
    assert snapshot_bits(other) == snapshot_bits(model)


def snapshot_bits(model):
    return {name: p.data.tobytes() for name, p in model.named_parameters()}


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("layers.2.bias_rho"), r"missing \['layers.2.bias_rho'\]"),
    (lambda s: s.update(extra=np.zeros(1)), r"not in the model \['extra'\]"),
    (lambda s: s.update({"layers.2.bias_mu": np.zeros(3)}), r"layers.2.bias_mu has shape \(3,\) but \(1,\)"),
    (lambda s: s.update({"layers.2.bias_mu": np.array([np.nan])}), "layers.2.bias_mu contains NaN"),
])
def test_a_refused_load_state_dict_leaves_the_model_as_it_was(change, message):
    model = model_with_gradients()
    state = trained_model().state_dict()
    change(state)
    before = snapshot(model)
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(state)
    assert_unchanged(model, before)


def test_another_prior_or_prior_sigma_is_refused_naming_the_layer(tmp_path):
    rng = np.random.default_rng(0)
    path = save(mv.Sequential(mv.BayesLinear(1, 2, prior_sigma=0.5, rng=rng)), tmp_path / "narrow.npz")
    for prior in (dict(prior_sigma=1.0), dict(prior=mv.ScaleMixturePrior())):
        message = refused(mv.Sequential(mv.BayesLinear(1, 2, rng=rng, **prior)), path)
        assert "layers.0" in message and '"prior_sigma": 0.5' in message and "saved settings" in message


def test_the_file_records_each_modules_hyper_parameters(tmp_path):
    model = mv.Sequential(mv.BayesLinear(1, 2, prior_sigma=0.5, rng=np.random.default_rng(0), bias=False))
    with np.load(save(model, tmp_path / "m.npz"), allow_pickle=False) as archive:
        config = [json.loads(line) for line in archive[CONFIG_KEY]]
    assert config == [{}, {"in_features": 1, "out_features": 2, "bias": False,
                           "prior": {"class": "GaussianPrior", "prior_sigma": 0.5, "prior_mu": 0.0}}]


def test_a_version_1_file_without_hyper_parameters_still_loads(tmp_path):
    model = trained_model()
    arrays = {FORMAT_KEY: np.array(1), MODULES_KEY: np.array(architecture(model))}
    arrays.update((name, p.data) for name, p in named_parameters(model).items())
    np.savez(tmp_path / "v1.npz", **arrays)
    other = load(make_model(seed=3), tmp_path / "v1.npz")
    assert snapshot_bits(other) == snapshot_bits(model)


def test_frozen_parameters_are_saved_and_loaded(tmp_path):
    model = trained_model()
    model.layers[0].weight_rho.requires_grad = False           # frozen: not trained, still part of the model
    path = save(model, tmp_path / "frozen.npz")
    other = make_model(seed=4)
    other.layers[0].weight_rho.requires_grad = False
    load(other, path)
    assert snapshot_bits(other) == snapshot_bits(model)


def test_describe_lists_what_is_needed_to_rebuild_the_model(tmp_path):
    model = mv.Sequential(mv.BayesLinear(1, 3, rng=np.random.default_rng(0), prior=mv.ScaleMixturePrior(0.25)),
                          mv.Tanh(), mv.Linear(3, 1, rng=np.random.default_rng(1)))
    described = mv.io.describe(save(model, tmp_path / "m.npz"))
    assert [(place, name) for place, name, _ in described] == [
        ("<model>", "Sequential"), ("layers.0", "BayesLinear"), ("layers.1", "Tanh"), ("layers.2", "Linear")]
    layer = described[1][2]
    prior = layer["prior"]
    assert prior["class"] == "ScaleMixturePrior" and prior["pi"] == 0.25
    rebuilt = mv.Sequential(mv.BayesLinear(layer["in_features"], layer["out_features"], bias=layer["bias"],
                                           rng=np.random.default_rng(5),
                                           prior=mv.ScaleMixturePrior(prior["pi"], prior["sigma1"], prior["sigma2"])),
                            mv.Tanh(), mv.Linear(**described[3][2], rng=np.random.default_rng(6)))
    load(rebuilt, tmp_path / "m.npz")
    assert snapshot_bits(rebuilt) == snapshot_bits(model)
