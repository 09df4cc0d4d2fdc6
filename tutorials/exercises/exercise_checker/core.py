"""The checker's machinery: the registry of exercises, running a check, and comparisons that explain.

A check is a function `check(module)` that calls the student's functions in
`module`, compares them with a ground truth computed independently, and on
a mismatch raises `Failure` with the lines to print (what was checked, where,
expected vs got) and the keys of the hints (hints.py) that its diagnostic
probes matched. `check_exercise(name, module)` runs every check of an
exercise against any module-like object, so the same checks serve the
students' files, the reference solutions (reference.py) and the tests'
planted mistakes.
"""
from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field

import numpy as np

from .hints import GENERIC_HINTS


class Diagnosis(list):
    """The hint keys of the mistakes a probe recognised, and the lines saying what the numbers showed.

    A list of keys (so `probe() or ["generic-key"]` works as for a plain list), carrying `lines`:
    e.g. "your KL − the closed form = +0.5·Σ_i log L_ii on all 24 probes", printed above the hints.
    """

    def __init__(self, keys=(), lines=()):
        super().__init__(keys)
        self.lines = list(lines) if keys else []


class Failure(Exception):
    """A check found a wrong answer: the lines to print and the keys of the matching hints.

    If `hints` is a Diagnosis, its lines (what the student's numbers showed) are printed too.
    """

    def __init__(self, lines, hints=()):
        lines = [*lines, *getattr(hints, "lines", [])]
        super().__init__("\n".join(lines))
        self.lines = list(lines)
        self.hints = list(hints)


@dataclass
class Exercise:
    number: int
    key: str           # a short name, e.g. "softplus"
    file: str          # the student's file, e.g. "ex1_softplus.py"
    title: str
    functions: tuple   # the function names the student writes
    checks: list = field(default_factory=list)   # (title, check function)

    def check(self, title: str):
        """Decorator: register `check(module)` under this exercise, run in registration order."""
        def register(fn):
            self.checks.append((title, fn))
            return fn
        return register


EXERCISES: dict[int, Exercise] = {}


def exercise(number: int, key: str, file: str, title: str, functions: tuple) -> Exercise:
    EXERCISES[number] = Exercise(number, key, file, title, tuple(functions))
    return EXERCISES[number]


def find_exercise(name) -> Exercise:
    """An exercise by number (2, "2"), short name ("kl"), file stem ("ex2_kl", "ex2") or file name."""
    text = str(name).strip().lower().removesuffix(".py")
    ordered = [EXERCISES[number] for number in sorted(EXERCISES)]
    for ex in ordered:
        stem = ex.file.removesuffix(".py")
        if text in (str(ex.number), ex.key, stem, stem.split("_")[0]):
            return ex
    names = ", ".join(f"{ex.number} ({ex.key})" for ex in ordered)
    raise ValueError(f"no exercise called {name!r}; choose one of {names}")


@dataclass
class CheckResult:
    title: str
    status: str        # "ok", "FAIL" or "TODO" (the stub still raises NotImplementedError)
    lines: list
    hints: list

    @property
    def diagnosis(self) -> str | None:
        """The key of the first mistake recognised; None if the check passed or only a generic hint was given."""
        return next((key for key in self.hints if key not in GENERIC_HINTS), None)


@dataclass
class ExerciseResult:
    exercise: Exercise
    source: str
    checks: list

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def status(self) -> str:
        """"passed"; "failed" if any check failed; else "todo" (some functions are still stubs)."""
        statuses = {c.status for c in self.checks}
        return "failed" if "FAIL" in statuses else "todo" if "TODO" in statuses else "passed"

    @property
    def hints(self) -> list:
        """The hint keys of every failed check, in order, without repeats."""
        return list(dict.fromkeys(key for c in self.checks for key in c.hints))


def check_exercise(name, module) -> ExerciseResult:
    """Run every check of exercise `name` on `module` (any object with the exercise's functions)."""
    ex = find_exercise(name)
    source = getattr(module, "__file__", None) or f"<a {type(module).__name__} passed to check_exercise>"
    return ExerciseResult(ex, str(source), [_run_check(title, fn, module) for title, fn in ex.checks])


def failed_to_load(name, source: str, error: BaseException) -> ExerciseResult:
    """The result for a student's file that could not even be imported (e.g. a SyntaxError)."""
    ex = find_exercise(name)
    lines = [f"the file could not be imported: {type(error).__name__}: {error}"]
    return ExerciseResult(ex, source, [CheckResult("import the file", "FAIL", lines, ["raised"])])


def _run_check(title: str, check, module) -> CheckResult:
    try:
        with np.errstate(all="ignore"):   # NaN and inf show in the comparison, not as warnings
            check(module)
    except Failure as failure:
        return CheckResult(title, "FAIL", failure.lines, failure.hints)
    except NotImplementedError as error:
        where = traceback.extract_tb(error.__traceback__)[-1].name
        return CheckResult(title, "TODO", [f"not written yet: `{where}` still raises NotImplementedError"], [])
    except Exception as error:   # the student's code crashed: say where
        return CheckResult(title, "FAIL", [f"your code raised {type(error).__name__}: {error}",
                                           *_student_frame(error, module)], ["raised"])
    return CheckResult(title, "ok", [], [])


def _student_frame(error: BaseException, module) -> list:
    """'at file:line in function: code' for the deepest frame inside the student's file, if any."""
    student_file = getattr(module, "__file__", None)
    if not student_file:
        return []
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if os.path.abspath(f.filename) == os.path.abspath(student_file)]
    if not frames:
        return []
    f = frames[-1]
    return [f"at {os.path.basename(f.filename)}:{f.lineno} in {f.name}: {f.line}"]


# ---------------------------------------------------------------- helpers for writing checks


def function(module, name: str):
    """The student's function `name`, or a Failure saying it is missing."""
    fn = getattr(module, name, None)
    if not callable(fn):
        raise Failure([f"no function `{name}` found"], ["missing-function"])
    return fn


def as_array(value, what: str) -> np.ndarray:
    """The student's result as a float array, or a Failure explaining why it is not one."""
    if value is None:
        raise Failure([f"{what} returned None"], ["returned-none"])
    if type(value).__name__ == "Tensor":
        raise Failure([f"{what} returned a minivi Tensor; return a NumPy array (a Tensor's array is t.data)"],
                      ["shape"])
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Failure([f"{what} returned a {type(value).__name__}, not an array of numbers"], ["shape"]) from None


def as_tuple(value, names: tuple, what: str) -> tuple:
    """The student's result as a tuple of len(names) float arrays."""
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        raise Failure([f"{what} must return a tuple ({', '.join(names)}), "
                       f"got {type(value).__name__}" + (f" of length {len(value)}"
                                                        if isinstance(value, (tuple, list)) else "")], ["shape"])
    return tuple(as_array(v, f"{what}: {n}") for v, n in zip(value, names))


def number(x) -> str:
    """A number (or a small array) for the report: 6 significant digits."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 0:
        return f"{float(x):.6g}"
    return " ".join(np.array2string(x, precision=4, separator=", ", threshold=12).split())   # one line


def matches(got, candidate, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    """True if `got` equals `candidate` (same shape, equal to rounding): used by the diagnostic probes."""
    try:
        got, candidate = np.asarray(got, dtype=float), np.asarray(candidate, dtype=float)
    except (TypeError, ValueError):
        return False
    return got.shape == candidate.shape and bool(np.all(np.abs(got - candidate) <= atol + rtol * np.abs(candidate)))


def safe_diagnose(diagnose, *args) -> list:
    """Run a diagnostic probe; a probe that itself fails (the student's code raised) matches nothing."""
    try:
        found = diagnose(*args)
    except Exception:   # the probe re-runs student code, which may crash on the probe's inputs
        return []
    return found if isinstance(found, Diagnosis) else list(found)


def fit_terms(y, terms: dict, tol: float = 1e-8) -> dict | None:
    """y as an exact linear combination of the named terms: {name: factor}, or None if it is not one.

    y and every term are arrays of the same shape, evaluated on the same probe inputs. The
    least-squares factors count only if they reproduce y to rounding (relative residual < tol).
    Factors below 1e-7 are dropped, and the rest are snapped to the nearest multiple of 1/8 when
    within 1e-6 of it, so that a student's 0.5 prints (and compares) as 0.5.
    """
    y = np.asarray(y, dtype=float).ravel()
    if not np.all(np.isfinite(y)):
        return None
    names = list(terms)
    X = np.stack([np.asarray(terms[n], dtype=float).ravel() for n in names], axis=1)
    factors = np.linalg.lstsq(X, y, rcond=None)[0]
    if np.linalg.norm(X @ factors - y) > tol * (1.0 + np.linalg.norm(y)):
        return None
    eighths = np.round(8 * factors) / 8
    factors = np.where(np.abs(factors - eighths) < 1e-6, eighths, factors)
    return {n: float(f) for n, f in zip(names, factors) if abs(f) >= 1e-7}


def describe_terms(factors: dict) -> str:
    """{'w': 1, 'ε p': 1, 'ε² g(w)': -0.5} as '1·w + 1·ε p − 0.5·ε² g(w)'."""
    if not factors:
        return "0"
    text = " ".join(f"{'−' if f < 0 else '+'} {abs(f):.6g}·{name}" for name, f in factors.items())
    return text[2:] if text.startswith("+ ") else "−" + text[2:]


def expect_close(got, expected, *, what: str, inputs: dict | None = None, rtol: float, atol: float,
                 truth: str = "", diagnose=None, generic: str | None = None) -> None:
    """Raise Failure unless |got - expected| <= atol + rtol·|expected| everywhere (NaN fails).

    what:     the call that was checked, e.g. "softplus(rho)".
    inputs:   name -> value; arrays of the result's shape are shown at the worst entry.
    truth:    how `expected` was obtained, shown next to it.
    diagnose: got -> hint keys of the mistakes that `got` matches; `generic` if none does.
    """
    got = as_array(got, what)
    expected = np.asarray(expected, dtype=float)
    hints = (lambda: safe_diagnose(diagnose, got) if diagnose else [])
    if got.shape != expected.shape:
        raise Failure([f"checked: {what}",
                       f"expected a result of shape {expected.shape}, got shape {got.shape}"],
                      hints() or ["shape"])
    excess = np.abs(got - expected) - (atol + rtol * np.abs(expected))
    excess = np.where(np.isnan(excess), np.inf, excess)
    if np.all(excess <= 0):
        return
    worst = np.unravel_index(np.argmax(excess), excess.shape) if excess.ndim else ()
    lines = [f"checked: {what}"]
    if inputs:
        matrices = {k: v for k, v in inputs.items() if _is_small_matrix(v)}
        others = {k: v for k, v in inputs.items() if k not in matrices}
        if others:
            lines.append("at " + ", ".join(f"{k} = {_entry(v, worst, got.shape)}" for k, v in others.items()))
        for k, v in matrices.items():
            lines.extend(matrix_lines(("at " if not others and k == next(iter(matrices)) else "") + f"{k} =", v))
    if got.ndim:
        n_bad = int(np.sum(excess > 0))
        lines.append(f"entry {tuple(int(i) for i in worst)} of the result (shape {got.shape}); "
                     f"{n_bad} of {got.size} entries are wrong")
    if _is_small_matrix(got):
        lines.extend(matrix_lines("expected" + (f"   ({truth})" if truth else ""), expected))
        lines.extend(matrix_lines("got", got))
        lines.append(f"at entry {tuple(int(i) for i in worst)}: expected {number(expected[worst])}, "
                     f"got {number(got[worst])}")
    else:
        lines.append(f"expected {number(expected[worst])}" + (f"   ({truth})" if truth else ""))
        lines.append(f"got      {number(got[worst])}")
    raise Failure(lines, hints() or ([generic] if generic else []))


def _is_small_matrix(value) -> bool:
    value = np.asarray(value)
    return value.ndim == 2 and value.size <= 64


def matrix_lines(label: str, value) -> list:
    """A matrix as a label line and one line per row, columns aligned: how a matrix input is printed."""
    value = np.asarray(value, dtype=float)
    cells = [[f"{x:.6g}" for x in row] for row in value]
    width = max((len(c) for row in cells for c in row), default=1)
    return [label] + ["    [" + "  ".join(c.rjust(width) for c in row) + "]" for row in cells]


def _entry(value, index, shape) -> str:
    """An input at the result's worst entry if it has the result's shape, else the whole (small) input."""
    value = np.asarray(value, dtype=float)
    if value.shape == shape and value.ndim:
        return number(value[index])
    return number(value) if value.size <= 12 else f"<array of shape {value.shape}>"
