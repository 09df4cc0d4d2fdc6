"""Shared test settings.

Hypothesis: no per-example deadline (a shared 2-core CI machine has uneven
timing, and a slow example is not a wrong one). Example counts are set per
test: with `tests/example_counts.py` (`FEW.given(...)`: a few examples in the plain
`pytest`, the full count under `pytest -m slow`), or with @settings(max_examples=...)
where the full count is already fast.
"""
from hypothesis import settings

settings.register_profile("minivi", deadline=None)
settings.load_profile("minivi")


# ---------------------------------------------------------------- one pytest marker per classroom exercise
# `pytest -m exercise3` runs exercise 3's checks only. The markers come from the checker's
# registry (tutorials/exercises/exercise_checker), so a new exercise gets its marker with no
# edit here. A test belongs to exercise N when it is parametrised with number=N, or when its
# body calls assert_caught / check_exercise / check_file with the exercise's name or number
# as a literal first argument (e.g. assert_caught("kl", ...)).
import ast  # noqa: E402
import inspect  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

EXERCISES_DIR = Path(__file__).resolve().parent.parent / "tutorials" / "exercises"
_CHECKER_CALLS = {"assert_caught", "check_exercise", "check_file"}


def _exercise_registry():
    if str(EXERCISES_DIR) not in sys.path:
        sys.path.insert(0, str(EXERCISES_DIR))
    import exercise_checker
    return exercise_checker.EXERCISES, exercise_checker.find_exercise


def _exercises_named_in(function, find_exercise) -> set:
    """Numbers of the exercises that `function`'s body checks by a literal name or number."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):   # no source to read: the test gets no exercise marker
        return set()
    numbers = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) in _CHECKER_CALLS):
            try:
                numbers.add(find_exercise(node.args[0].value).number)
            except ValueError:
                pass
    return numbers


def pytest_configure(config):
    exercises, _ = _exercise_registry()
    for number in sorted(exercises):
        config.addinivalue_line("markers", f"exercise{number}: the checks of classroom exercise {number} "
                                           f"({exercises[number].key})")


def pytest_collection_modifyitems(config, items):
    exercises, find_exercise = _exercise_registry()
    for item in items:
        if item.fspath.basename != "test_exercises.py":
            continue
        numbers = _exercises_named_in(item.function, find_exercise)
        param = getattr(getattr(item, "callspec", None), "params", {}).get("number")
        if param in exercises:
            numbers.add(param)
        for number in numbers:
            item.add_marker(f"exercise{number}")
