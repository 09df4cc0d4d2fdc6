"""Saving and loading a model's parameters: plain NumPy .npz files, no pickle.

A trained variational posterior q(w|θ) is nothing but its numbers θ: every
mu and rho of every layer (step 4). `save` writes them, `load` reads them back
into a model built the same way, bit for bit.

The file is an ordinary NumPy archive (open it with
`np.load(path, allow_pickle=False)` to look inside):

    "__minivi_format__"   the format version, an integer (FORMAT_VERSION)
    "__minivi_modules__"  the architecture: one string per module, "path: ClassName"
    "__minivi_config__"   each module's hyper-parameters (`Module.config()`: sizes,
                          bias, the prior and its numbers), one JSON string per module
    "layers.0.weight_mu"  one float64 array per declared parameter (frozen ones
    "layers.0.weight_rho" included), named after where it sits in the model
    ...                   (attribute names, list positions, dict keys)

In memory, `model.state_dict()` and `model.load_state_dict(state)` do the same
with a dict {name: array}. `describe(path)` lists the recorded modules and
their hyper-parameters, enough to rebuild the model before loading into it.

Nothing is pickled: reading a file never runs code from it.

Safety, because a lost or silently wrong model costs hours of training:
  - `save` writes a temporary file beside the target and renames it over the
    target only when it is complete (`os.replace` is atomic), so a crash or a
    full disk never leaves a half-written file where a good one was. It
    refuses to save parameters containing NaN or inf (a diverged model), so a
    good file is never overwritten by a broken one.
  - `load` reads and checks the whole file first (readable, format version,
    architecture, hyper-parameters and priors, names, shapes, dtypes, finite
    values) and only then copies the numbers in. A refused file leaves the
    model exactly as it was. Files of format version 1 (no hyper-parameters
    recorded) are still read.
"""
from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np

from .nn import Module, copy_into

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
FORMAT_KEY = "__minivi_format__"
MODULES_KEY = "__minivi_modules__"
CONFIG_KEY = "__minivi_config__"
RESERVED = (FORMAT_KEY, MODULES_KEY, CONFIG_KEY)
ROOT = "<model>"  # how the outermost module is named in the architecture lines

_temp_counter = itertools.count()


def named_modules(module: Module):
    """(path, module) for this module and every module inside it, each once: `Module.named_modules()`."""
    return module.named_modules()


def named_parameters(module: Module) -> dict:
    """{name: Parameter} for every declared parameter of `module`, frozen ones included, each once.

    Names are stable, derived from the structure: "layers.0.weight_mu",
    "layers.0.bias_rho", "rho" (for `LearnedNoise`). A parameter held in two
    places is listed once, under the first name found. `module.parameters()`
    is the trainable subset of these.
    """
    return dict(module.named_parameters())


def configuration(module: Module) -> list:
    """One JSON string per module, in `architecture` order: its `config()` (sizes, bias, prior, ...)."""
    return [json.dumps(sub.config(), sort_keys=True) for _, sub in named_modules(module)]


def architecture(module: Module) -> list:
    """The module structure as strings "path: ClassName", e.g. ["<model>: Sequential", "layers.0: BayesLinear", ...]."""
    return [f"{path or ROOT}: {type(sub).__name__}" for path, sub in named_modules(module)]


def save(model: Module, path) -> Path:
    """Write every declared parameter of `model` (frozen ones too) and its hyper-parameters to `path`.

    Returns the path. The architecture and each module's `config()` (sizes,
    bias, the prior and its numbers) are recorded, so `load` can refuse a
    model built differently.

    Folders on the way are created. The file is complete or absent: it is
    written under a temporary name in the same folder, flushed to disk, then
    renamed over `path`. Parameters with NaN or inf are refused (ValueError)
    and nothing is written.
    """
    _check_module(model, "save")
    path = _check_path(path, "save")
    params = named_parameters(model)
    for name, p in params.items():
        if not np.all(np.isfinite(p.data)):
            raise ValueError(f"save: parameter {name} (shape {p.shape}) contains NaN or inf, so this model has "
                             "diverged; nothing was written. Retrain with a smaller learning rate (History.stopped "
                             "says when training broke down), or save before it diverges")
    arrays = {FORMAT_KEY: np.array(FORMAT_VERSION), MODULES_KEY: np.array(architecture(model)),
              CONFIG_KEY: np.array(configuration(model))}
    arrays.update((name, p.data) for name, p in params.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}-{next(_temp_counter)}.tmp")
    try:
        with open(temp, "xb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()
    return path


def load(model: Module, path) -> Module:
    """Read the parameters saved by `save` into `model` (built as the saved one was); return `model`.

    Every check runs before any parameter changes, so if anything differs the
    model is left exactly as it was and ValueError says what differs:
    an unreadable (truncated, corrupt, non-minivi) file, another format version,
    another architecture (module classes), other hyper-parameters or priors,
    missing or extra parameters, or another shape. The values are copied bit
    for bit, frozen parameters included; the parameters' `.grad` is cleared,
    since it belonged to the old values.
    """
    _check_module(model, "load")
    path = _check_path(path, "load")
    arrays = _read_arrays(path)
    _check_format(arrays, path)
    _check_architecture(arrays, model, path)
    params = named_parameters(model)
    _check_names(arrays, params, path)
    for name, p in params.items():
        _check_array(arrays[name], name, p.shape, path)
    _check_configuration(arrays, model, path)
    copy_into(params, {name: arrays[name].copy() for name in params})
    return model


def describe(path) -> list:
    """What a file says about the model it came from, to rebuild it: [(place, class name, config dict)].

    E.g. [("<model>", "Sequential", {}), ("layers.0", "BayesLinear", {"in_features": 1, "out_features": 50,
    "bias": True, "prior": {"class": "GaussianPrior", "prior_sigma": 1.0, "prior_mu": 0.0}}), ...].
    A version-1 file recorded no hyper-parameters: its configs are None.
    """
    path = _check_path(path, "describe")
    arrays = _read_arrays(path)
    _check_format(arrays, path)
    lines = [str(line).split(": ", 1) for line in arrays[MODULES_KEY]]
    configs = [json.loads(str(c)) for c in arrays[CONFIG_KEY]] if CONFIG_KEY in arrays else [None] * len(lines)
    return [(place, name, config) for (place, name), config in zip(lines, configs)]


# ---------------------------------------------------------------- checks, all run before anything changes


def _read_arrays(path: Path) -> dict:
    """Every array in the file, read now (so a damaged member fails here, not halfway through loading)."""
    if not path.is_file():
        raise FileNotFoundError(f"load: there is no file {str(path)!r}; check the path (models are written "
                                "with minivi.io.save(model, path))")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array (.npy), not an archive of parameters")
        with archive:
            return {key: archive[key] for key in archive.files}
    except Exception as err:  # a damaged archive fails in many ways: BadZipFile, ValueError, EOFError, ...
        raise ValueError(f"load: {str(path)!r} is not a readable minivi model file ({err}); it may be truncated "
                         "or corrupt. Nothing was loaded: load an intact copy, or save the model again") from None


def _check_format(arrays: dict, path: Path) -> None:
    if FORMAT_KEY not in arrays or MODULES_KEY not in arrays:
        raise ValueError(f"load: {str(path)!r} is a NumPy archive but not a minivi model file (it has no "
                         f"{FORMAT_KEY!r} and {MODULES_KEY!r} entries); write model files with minivi.io.save")
    version = arrays[FORMAT_KEY]
    if version.shape != () or version.dtype.kind not in "iu":
        raise ValueError(f"load: {str(path)!r} has a damaged format entry {version!r}; save the model again")
    if int(version) not in READABLE_VERSIONS:
        raise ValueError(f"load: {str(path)!r} has file format version {int(version)}, but this minivi reads "
                         f"versions {READABLE_VERSIONS}; load it with the minivi version that wrote it")
    modules = arrays[MODULES_KEY]
    if modules.ndim != 1 or modules.dtype.kind != "U" or not all(": " in str(line) for line in modules):
        raise ValueError(f"load: {str(path)!r} has a damaged architecture entry; save the model again")
    if int(version) >= 2 and (CONFIG_KEY not in arrays or arrays[CONFIG_KEY].ndim != 1
                              or arrays[CONFIG_KEY].dtype.kind != "U" or len(arrays[CONFIG_KEY]) != len(modules)
                              or not all(_is_json_object(str(c)) for c in arrays[CONFIG_KEY])):
        raise ValueError(f"load: {str(path)!r} has a missing or damaged hyper-parameter entry (one JSON object "
                         "per module); save the model again")


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _check_architecture(arrays: dict, model: Module, path: Path) -> None:
    """The same module classes at the same places, or a message naming the first difference."""
    in_file, in_model = [str(s) for s in arrays[MODULES_KEY]], architecture(model)
    if in_file == in_model:
        return
    first = next((i for i, (a, b) in enumerate(zip(in_file, in_model)) if a != b), min(len(in_file), len(in_model)))
    file_line = in_file[first] if first < len(in_file) else "nothing more"
    model_line = in_model[first] if first < len(in_model) else "nothing more"
    raise ValueError(
        f"load: {str(path)!r} was saved from another architecture: module {first + 1} is {file_line!r} in the "
        f"file but {model_line!r} in the model.\n  file:  {', '.join(in_file)}\n  model: {', '.join(in_model)}\n"
        "Build the model exactly as the saved one was built (same layers in the same order), then load")


def _check_configuration(arrays: dict, model: Module, path: Path) -> None:
    """The same hyper-parameters (sizes, bias, prior) in every module; version 1 files did not record them."""
    if CONFIG_KEY not in arrays:
        return
    for place, saved, built in zip(architecture(model), arrays[CONFIG_KEY], configuration(model)):
        if str(saved) != built:
            raise ValueError(f"load: {str(path)!r} was saved from a model whose module {place!r} had the settings "
                             f"{saved} but this model's has {built}. Build the layer with the saved settings (sizes, "
                             "bias, prior), then load")


def _check_names(arrays: dict, params: dict, path: Path) -> None:
    in_file = {key for key in arrays if key not in RESERVED}
    missing, extra = sorted(set(params) - in_file), sorted(in_file - set(params))
    if missing or extra:
        raise ValueError(
            f"load: {str(path)!r} does not hold this model's parameters: missing from the file {missing}, "
            f"in the file but not in the model {extra}. Build the model with the same options as the saved "
            "one (e.g. bias=True/False), then load")


def _check_array(array: np.ndarray, name: str, shape: tuple, path: Path) -> None:
    if array.shape != shape:
        raise ValueError(f"load: parameter {name} has shape {array.shape} in {str(path)!r} but {shape} in the "
                         "model; build the layers with the same sizes as the saved model, then load")
    if array.dtype != np.float64:
        raise ValueError(f"load: parameter {name} in {str(path)!r} has dtype {array.dtype}, not float64, so "
                         "minivi.io.save did not write it; save the model with minivi.io.save")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"load: parameter {name} in {str(path)!r} contains NaN or inf, which minivi.io.save "
                         "never writes: the file is damaged; load an intact copy")


def _check_module(model, who: str) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{who}(model, path) takes a minivi Module first, got {type(model).__name__}; "
                        f"call {who}(model, 'model.npz')")


def _check_path(path, who: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}(model, path): path must be a file name (str or pathlib.Path), got "
                        f"{type(path).__name__}; call {who}(model, 'model.npz')")
    return Path(path)
