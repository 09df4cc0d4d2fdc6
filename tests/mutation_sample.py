"""Draw the mutation-testing sample described in tests/README.md ("Mutation testing").

mutmut 3.x writes every mutant of a function f as a copy `x_f__mutmut_N` next to
the original `x_f__mutmut_orig` in mutants/minivi/*.py. This script compares
each copy with the original (their syntax trees) and sets aside the mutants
whose only change is the text of an error message: a string inside a `raise`,
or a string handed to one of minivi's checking helpers in an argument that the
helper only quotes in its error messages (the `who`, `name`, `what` or `hint`
of `check_generator(rng, "fit")`, `check_count(n, "n_steps", who="hmc")`, ...;
MESSAGE_ARGUMENTS lists them, and tests/test_mutation_sample.py checks against
minivi's source that each is used for nothing else). Then it draws a fixed number per file with random.Random(seed).sample
from the sorted names of the others, and prints them for `mutmut run`:

    python tests/mutation_sample.py --seed 384781 --per-file 35 > sample.txt
    mutmut run --max-children 1 $(cat sample.txt)

Run it from the project root after mutmut has generated mutants/ (any
`mutmut run` does that first). Not a test: pytest collects only test_*.py.
"""
from __future__ import annotations

import argparse
import ast
import random
import sys
from pathlib import Path


# The checking helpers of minivi/ and their arguments that only go into an error message:
# {function name: positions and keyword names of those arguments}. A function name stands for
# every function of minivi/ so named (two `_as_real_array`s, in exact.py and gaussian.py).
MESSAGE_ARGUMENTS = {
    "check_generator": {1, "who"},
    "check_count": {1, "name", "who", "hint"},
    "check_positive": {1, "name", "who", "hint"},
    "_step_or_tolerance": {1, "name"},
    "check_sizes": {2, "who"},
    "check_features": {2, "who"},
    "check_channels": {3, "who"},
    "check_state_names": {2, "who"},
    "as_float_array": {1, "what"},
    "_as_finite": {1, "name"},
    "_as_real_array": {1, "name"},
    "_as_positive_array": {1, "name"},
    "_check_real": {1, "name"},
    "_check_module": {1, "who"},
    "_checked_inputs": {1, "who"},
    "_checked_vector": {2, "who"},
    "_refuse_repeats": {1, "who"},
}


def _callee(call: ast.Call) -> str | None:
    """The name a call is made by: `f(...)` and `module.f(...)` both give "f"."""
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _in_message_argument(ancestors: list) -> bool:
    """Is the innermost call on the path from the root one of MESSAGE_ARGUMENTS, entered by a message argument?"""
    for i in range(len(ancestors) - 2, -1, -1):
        call, child = ancestors[i], ancestors[i + 1]
        if isinstance(call, ast.Call):
            slots = MESSAGE_ARGUMENTS.get(_callee(call), set())
            if isinstance(child, ast.keyword):
                return child.arg in slots
            return any(child is arg for k, arg in enumerate(call.args) if k in slots
                       and not any(isinstance(a, ast.Starred) for a in call.args[:k + 1]))
    return False


def _in_format_spec(ancestors: list) -> bool:
    """Is the path inside the format spec of an f-string field (f"{x:.3g}")? A changed spec can raise."""
    return any(isinstance(node, ast.FormattedValue) and child is node.format_spec
               for node, child in zip(ancestors, ancestors[1:]))


def _differences(a, b, ancestors: list, out: list) -> None:
    """Collect (a, b, ancestors) for the places where two syntax trees first differ."""
    if type(a) is not type(b):
        out.append((a, b, ancestors))
    elif isinstance(a, ast.AST):
        for field in a._fields:
            if field == "name" and isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue   # the copies are named differently, by construction
            _differences(getattr(a, field, None), getattr(b, field, None), ancestors + [a], out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append((a, b, ancestors))
        else:
            for x, y in zip(a, b):
                _differences(x, y, ancestors, out)
    elif a != b:
        out.append((a, b, ancestors))


def only_changes_a_message(original: ast.AST, mutant: ast.AST) -> bool:
    """True if every difference is a string constant of an error message: inside a raise
    statement, or in a message argument of a checking helper (MESSAGE_ARGUMENTS)."""
    found = []
    _differences(original, mutant, [], found)
    return bool(found) and all(
        isinstance(a, str) and isinstance(b, str) and isinstance(ancestors[-1], ast.Constant)
        and not _in_format_spec(ancestors)
        and (any(isinstance(node, ast.Raise) for node in ancestors) or _in_message_argument(ancestors))
        for a, b, ancestors in found)


def mutants_by_file(root: Path) -> dict:
    """{file name: [(mutant name, message only?)]} for every mutants/minivi/*.py."""
    result = {}
    for path in sorted(root.glob("*.py")):
        functions = {node.name: node for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "__mutmut_" in node.name}
        rows = []
        for name, node in functions.items():
            base, _, tag = name.rpartition("__mutmut_")
            if tag != "orig":
                rows.append((f"minivi.{path.stem}.{name}", only_changes_a_message(functions[base + "__mutmut_orig"], node)))
        if rows:
            result[path.name] = rows
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--per-file", type=int, default=35)
    parser.add_argument("--mutants", default="mutants/minivi", help="mutmut's copy of the package")
    args = parser.parse_args(argv)
    for file, rows in mutants_by_file(Path(args.mutants)).items():
        candidates = sorted(name for name, message in rows if not message)
        drawn = random.Random(args.seed).sample(candidates, min(args.per_file, len(candidates)))
        print(f"{file}: {len(rows)} mutants, {len(rows) - len(candidates)} message-only, {len(drawn)} drawn",
              file=sys.stderr)
        print("\n".join(drawn))


if __name__ == "__main__":
    main()
