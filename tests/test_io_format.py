"""The saved-file format itself, pinned by literal strings (not by minivi.io's own constants).

A file written today must stay readable by tomorrow's minivi, and a file
written by hand (or by another program) after the format documented in
minivi/io.py must load. So the key names, their order, the architecture
lines and the JSON of each module's settings are written out here as the
documentation gives them, and a file built from those literals alone is read back.
"""
import json

import numpy as np
import pytest

import minivi as mv
from minivi.io import describe, load, save


def make_model(seed=0):
    return mv.Sequential(mv.BayesLinear(1, 2, rng=np.random.default_rng(seed), prior_sigma=0.5), mv.Tanh(),
                         mv.BayesLinear(2, 1, rng=np.random.default_rng(seed + 1), bias=False))


KEYS = ["__minivi_format__", "__minivi_modules__", "__minivi_config__",
        "layers.0.weight_mu", "layers.0.weight_rho", "layers.0.bias_mu", "layers.0.bias_rho",
        "layers.2.weight_mu", "layers.2.weight_rho"]
MODULES = ["<model>: Sequential", "layers.0: BayesLinear", "layers.1: Tanh", "layers.2: BayesLinear"]
CONFIG = ['{}',
          '{"bias": true, "in_features": 1, "out_features": 2, "prior": {"class": "GaussianPrior", '
          '"prior_mu": 0.0, "prior_sigma": 0.5}}',
          '{}',
          '{"bias": false, "in_features": 2, "out_features": 1, "prior": {"class": "GaussianPrior", '
          '"prior_mu": 0.0, "prior_sigma": 1.0}}']
VALUES = {"layers.0.weight_mu": [[0.25, -0.5]], "layers.0.weight_rho": [[-3.0, -2.5]],
          "layers.0.bias_mu": [0.125, 1.0], "layers.0.bias_rho": [-4.0, -1.0],
          "layers.2.weight_mu": [[2.0], [-0.75]], "layers.2.weight_rho": [[-5.0], [0.5]]}


def hand_written_file(path, **changes):
    """A version-2 file written from the literals above with plain np.savez, no minivi involved."""
    arrays = {"__minivi_format__": np.array(2), "__minivi_modules__": np.array(MODULES),
              "__minivi_config__": np.array(CONFIG)}
    arrays.update((name, np.array(value, dtype=np.float64)) for name, value in VALUES.items())
    arrays.update(changes)
    for name in [k for k, v in arrays.items() if v is None]:
        del arrays[name]
    np.savez(path, **arrays)
    return path


def test_a_saved_file_has_the_documented_keys_in_order_with_their_contents(tmp_path):
    model = make_model()
    with np.load(save(model, tmp_path / "m.npz"), allow_pickle=False) as archive:
        assert archive.files == KEYS
        version, modules, config = (archive[k] for k in KEYS[:3])
        params = {k: archive[k] for k in KEYS[3:]}
    assert version.shape == () and version.dtype.kind == "i" and int(version) == 2
    assert modules.dtype.kind == "U" and modules.tolist() == MODULES
    assert config.dtype.kind == "U" and config.tolist() == CONFIG          # sorted keys, JSON's default separators
    for name, p in model.named_parameters():
        assert params[name].dtype == np.float64 and np.array_equal(params[name], p.data)


def test_a_file_written_from_the_documented_format_loads_and_describes(tmp_path):
    path = hand_written_file(tmp_path / "by_hand.npz")
    model = load(make_model(seed=7), path)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, VALUES[name])
    assert describe(path) == [("<model>", "Sequential", {}),
                              ("layers.0", "BayesLinear", json.loads(CONFIG[1])),
                              ("layers.1", "Tanh", {}),
                              ("layers.2", "BayesLinear", json.loads(CONFIG[3]))]


def test_a_version_1_file_has_no_settings_and_describes_them_as_none(tmp_path):
    path = hand_written_file(tmp_path / "v1.npz", __minivi_format__=np.array(1), __minivi_config__=None)
    load(make_model(), path)
    assert [config for _, _, config in describe(path)] == [None] * 4


@pytest.mark.parametrize("config", [
    None,                                               # missing
    np.array([CONFIG]),                                 # two-dimensional
    np.array([0.0, 1.0, 0.0, 1.0]),                     # numbers, not JSON strings
], ids=["missing", "2-d", "numbers"])
def test_a_version_2_file_with_a_missing_or_damaged_settings_entry_is_refused(tmp_path, config):
    path = hand_written_file(tmp_path / "bad.npz", __minivi_config__=config)
    model = make_model()
    before = mv.flat.parameters_to_vector(model)
    for read in (lambda: load(model, path), lambda: describe(path)):
        with pytest.raises(ValueError, match="missing or damaged hyper-parameter entry"):
            read()
    np.testing.assert_array_equal(mv.flat.parameters_to_vector(model), before)


@pytest.mark.parametrize("changes, message", [
    ({"__minivi_format__": np.array([2])}, "damaged format entry"),
    ({"__minivi_format__": np.array(2.0)}, "damaged format entry"),
    ({"__minivi_modules__": np.array([MODULES])}, "damaged architecture entry"),
    ({"__minivi_modules__": np.arange(4)}, "damaged architecture entry"),
    ({"__minivi_modules__": None}, "not a minivi model file"),
    ({"__minivi_format__": None}, "not a minivi model file"),
])
def test_damaged_format_and_architecture_entries_are_refused(tmp_path, changes, message):
    path = hand_written_file(tmp_path / "bad.npz", **changes)
    with pytest.raises(ValueError, match=message):
        load(make_model(), path)


def test_other_settings_in_the_file_are_refused_naming_the_module(tmp_path):
    changed = CONFIG[:3] + [CONFIG[3].replace('"prior_sigma": 1.0', '"prior_sigma": 2.0')]
    path = hand_written_file(tmp_path / "other.npz", __minivi_config__=np.array(changed))
    with pytest.raises(ValueError, match="module 'layers.2: BayesLinear' had the settings"):
        load(make_model(), path)


# ---------------------------------------------------------------- an outside review's inputs


@pytest.mark.parametrize("config", [
    np.array(CONFIG[:1]),                               # one entry for four modules: the rest went unchecked
    np.array(CONFIG[:3] + ["{bad json"]),               # not JSON: describe raised json's own error
    np.array(CONFIG[:3] + ["[1, 2]"]),                  # JSON, but not an object of settings
], ids=["too-few", "not-json", "not-an-object"])
def test_a_settings_entry_that_does_not_fit_the_modules_is_refused_by_load_and_describe(tmp_path, config):
    path = hand_written_file(tmp_path / "bad.npz", __minivi_config__=config)
    model = make_model()
    before = mv.flat.parameters_to_vector(model)
    for read in (lambda: load(model, path), lambda: describe(path)):
        with pytest.raises(ValueError, match="missing or damaged hyper-parameter entry"):
            read()
    np.testing.assert_array_equal(mv.flat.parameters_to_vector(model), before)


def test_an_architecture_line_without_its_place_is_refused_by_describe(tmp_path):
    path = hand_written_file(tmp_path / "bad.npz", __minivi_modules__=np.array(MODULES[:3] + ["BayesLinear"]))
    with pytest.raises(ValueError, match="damaged architecture entry"):   # was "not enough values to unpack"
        describe(path)
