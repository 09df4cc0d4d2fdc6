"""tests/mutation_sample.py: which mutants count as changing only an error message.

The classifier compares a mutant's syntax tree with the original's. Hand-written
pairs (original, mutant) in the shape mutmut 3 writes them (`x_f__mutmut_orig`
and `x_f__mutmut_N`, mutmut's string mutation wraps the text in "XX") check
both sides of the line: a string in a `raise` or in a message argument of a
checking helper is a message; a string the code computes with, a number, a
string in a helper's other arguments, a format spec, or a message change
together with any other change is not. A last test reads minivi's own source
to check that every argument MESSAGE_ARGUMENTS names is used for nothing but
error messages.
"""
import ast
import textwrap
from pathlib import Path

import pytest

import mutation_sample as ms

MINIVI = Path(__file__).resolve().parent.parent / "minivi"


def function(source: str) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(source)).body[0]


def classify(original: str, mutant: str) -> bool:
    return ms.only_changes_a_message(function(original), function(mutant))


MESSAGE_ONLY = {
    "a string in a raise": (
        'def x_f__mutmut_orig(n):\n    raise ValueError(f"n must be >= 1, got {n}")\n',
        'def x_f__mutmut_3(n):\n    raise ValueError(f"XXn must be >= 1, got XX{n}")\n'),
    "the caller's name handed to check_generator": (
        'def x_fit__mutmut_orig(rng):\n    check_generator(rng, "fit")\n    return rng.normal()\n',
        'def x_fit__mutmut_1(rng):\n    check_generator(rng, "XXfitXX")\n    return rng.normal()\n'),
    "a count's name, positional": (
        'def x_f__mutmut_orig(n):\n    return check_count(n, "n_steps", 0, who="leapfrog")\n',
        'def x_f__mutmut_2(n):\n    return check_count(n, "N_STEPS", 0, who="leapfrog")\n'),
    "who= and hint= as keywords": (
        'def x_f__mutmut_orig(n):\n    return check_count(n, "n", who="hmc", hint="e.g. n=5")\n',
        'def x_f__mutmut_4(n):\n    return check_count(n, "n", who="XXhmcXX", hint="XXe.g. n=5XX")\n'),
    "a module-qualified helper": (
        'def x_f__mutmut_orig(x):\n    return nn.check_features(x, 3, "Linear")\n',
        'def x_f__mutmut_1(x):\n    return nn.check_features(x, 3, "XXLinearXX")\n'),
    "the text of an f-string given as the message": (
        'def x_f__mutmut_orig(x, k):\n    return as_float_array(x, f"weights of layer {k}")\n',
        'def x_f__mutmut_1(x, k):\n    return as_float_array(x, f"XXweights of layer {k}")\n'),
}

NOT_MESSAGE_ONLY = {
    "no change at all": (
        'def x_f__mutmut_orig(rng):\n    check_generator(rng, "fit")\n',
        'def x_f__mutmut_1(rng):\n    check_generator(rng, "fit")\n'),
    "a string the code computes with": (
        'def x_f__mutmut_orig(a):\n    return np.einsum("ij->i", a)\n',
        'def x_f__mutmut_1(a):\n    return np.einsum("XXij->iXX", a)\n'),
    "a helper's argument that is not a message (the mode of check_mode)": (
        'def x_f__mutmut_orig(n):\n    check_mode("sample", n)\n',
        'def x_f__mutmut_1(n):\n    check_mode("XXsampleXX", n)\n'),
    "a number given to a checking helper": (
        'def x_f__mutmut_orig(n):\n    return check_count(n, "n", 1)\n',
        'def x_f__mutmut_1(n):\n    return check_count(n, "n", 2)\n'),
    "the message replaced by None": (
        'def x_f__mutmut_orig(rng):\n    check_generator(rng, "fit")\n',
        'def x_f__mutmut_1(rng):\n    check_generator(rng, None)\n'),
    "a string of a call nested inside the message argument": (
        'def x_f__mutmut_orig(rng, names):\n    check_generator(rng, names.get("fit"))\n',
        'def x_f__mutmut_1(rng, names):\n    check_generator(rng, names.get("XXfitXX"))\n'),
    "a message argument at a position a starred argument hides": (
        'def x_f__mutmut_orig(args):\n    check_count(*args, "n")\n',
        'def x_f__mutmut_1(args):\n    check_count(*args, "XXnXX")\n'),
    "a format spec in a raise (a bad spec raises while the message is built)": (
        'def x_f__mutmut_orig(v):\n    raise ValueError(f"got {v:.3g}")\n',
        'def x_f__mutmut_1(v):\n    raise ValueError(f"got {v:XX.3gXX}")\n'),
    "a message change together with a change of behaviour": (
        'def x_f__mutmut_orig(n):\n    return check_count(n, "n", 1)\n',
        'def x_f__mutmut_1(n):\n    return check_count(n, "XXnXX", 2)\n'),
}


@pytest.mark.parametrize("original, mutant", MESSAGE_ONLY.values(), ids=MESSAGE_ONLY.keys())
def test_a_mutant_that_changes_only_a_message_is_set_aside(original, mutant):
    assert classify(original, mutant) is True


@pytest.mark.parametrize("original, mutant", NOT_MESSAGE_ONLY.values(), ids=NOT_MESSAGE_ONLY.keys())
def test_a_mutant_that_changes_anything_else_is_kept(original, mutant):
    assert classify(original, mutant) is False


def test_mutants_by_file_reads_mutmuts_copies_and_names_them(tmp_path):
    (tmp_path / "train.py").write_text(
        'def x_fit__mutmut_orig(rng, n):\n    check_generator(rng, "fit")\n    return n + 1\n'
        'def x_fit__mutmut_1(rng, n):\n    check_generator(rng, "XXfitXX")\n    return n + 1\n'
        'def x_fit__mutmut_2(rng, n):\n    check_generator(rng, "fit")\n    return n - 1\n'
        'def fit(*args, **kwargs):\n    return trampoline(x_fit__mutmut_orig, args, kwargs)\n')
    (tmp_path / "empty.py").write_text("X = 1\n")
    assert ms.mutants_by_file(tmp_path) == {
        "train.py": [("minivi.train.x_fit__mutmut_1", True), ("minivi.train.x_fit__mutmut_2", False)]}


# ---------------------------------------------------------------- MESSAGE_ARGUMENTS against minivi's source


def _paths(node, ancestors=()):
    """Every node of the tree with the list of its ancestors, root first."""
    yield node, list(ancestors)
    for child in ast.iter_child_nodes(node):
        yield from _paths(child, (*ancestors, node))


def _only_in_messages(body: list, name: str, defined_by: ast.Assign | None = None) -> bool:
    """Is every use of `name` in a raise, in a message argument of a helper, or in a local that only
    such uses read (e.g. check_count's `where = f"{who}: " if who else ""`)? Assigned nowhere else."""
    for statement in body:
        for node, ancestors in _paths(statement):
            if not (isinstance(node, ast.Name) and node.id == name):
                continue
            if isinstance(node.ctx, ast.Store):
                if defined_by is not None and node is defined_by.targets[0]:
                    continue
                return False
            if any(isinstance(a, ast.Raise) for a in ancestors) or ms._in_message_argument([*ancestors, node]):
                continue
            assign = next((a for a in reversed(ancestors) if isinstance(a, ast.Assign)), None)
            if not (defined_by is None and assign is not None and len(assign.targets) == 1
                    and isinstance(assign.targets[0], ast.Name) and node in ast.walk(assign.value)
                    and _only_in_messages(body, assign.targets[0].id, assign)):
                return False
    return True


def _definitions(name: str) -> list:
    return [node for path in sorted(MINIVI.glob("*.py")) for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name == name]


@pytest.mark.parametrize("helper", sorted(ms.MESSAGE_ARGUMENTS))
def test_each_message_argument_is_used_for_nothing_but_error_messages(helper):
    definitions = _definitions(helper)
    assert definitions, f"no function {helper} in minivi/"
    slots = ms.MESSAGE_ARGUMENTS[helper]
    for definition in definitions:
        positional = [a.arg for a in definition.args.posonlyargs + definition.args.args]
        keyword_only = [a.arg for a in definition.args.kwonlyargs]
        names = {positional[k] for k in slots if isinstance(k, int)}
        # each message parameter is listed both ways it can be passed (by position, by keyword)
        assert names | {k for k in slots if isinstance(k, str)} == {k for k in slots if isinstance(k, str)}
        assert all(positional.index(k) in slots for k in slots if isinstance(k, str) and k in positional)
        assert all(k in positional + keyword_only for k in slots if isinstance(k, str))
        for parameter in sorted(names | {k for k in slots if isinstance(k, str)}):
            assert _only_in_messages(definition.body, parameter), (helper, parameter)


def test_the_use_check_notices_a_parameter_that_computes():
    """The check above can fail: a `name` used as a dictionary key is not a message."""
    body = function('def f(value, name):\n    if value < 0:\n        raise ValueError(f"{name} < 0")\n'
                    '    return TABLE[name]\n').body
    assert not _only_in_messages(body, "name")
    assert _only_in_messages(body[:1], "name")
    through_a_local = function('def f(value, name):\n    key = name.lower()\n    return TABLE[key]\n').body
    assert not _only_in_messages(through_a_local, "name")
