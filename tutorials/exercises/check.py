"""Check your exercise solutions, and learn from what is wrong.

    python check.py                 # every exercise whose ex*.py file is beside this script
    python check.py 2               # one exercise: a number, a name (kl) or a file (ex2_kl.py)
    python check.py 1 3 --solutions-from minivi      # the reference solutions (reference.py)
    python check.py --solutions-from path/to/folder  # ex*.py files in another folder
    python check.py --json results.json             # also write every check's result as JSON
    python check.py --gradescope results.json       # ... or as Gradescope's results.json

Each check compares your function with a ground truth computed independently
(a closed form, central finite differences, a Monte Carlo estimate). When a
check fails it prints what was checked, the expected and the computed value,
and a hint aimed at the mistake your result matches. The exit code is 0 only
if every checked exercise passes.

From Python (e.g. in tests): `check_exercise("kl", module)` checks any module
or namespace that has the exercise's functions; `format_result` prints it.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:   # the checker package sits beside this script
    sys.path.insert(0, str(HERE))

from exercise_checker import (EXERCISES, GENERIC_HINTS, HINTS, ExerciseResult, check_exercise, failed_to_load,  # noqa: E402
                              find_exercise)

__all__ = ["check_exercise", "check_file", "format_result", "gradescope_results", "json_results", "load_module",
           "main", "EXERCISES", "GENERIC_HINTS", "HINTS"]

REFERENCE_NAMES = ("minivi", "reference")
WIDTH = 92


def load_module(path: Path):
    """Import a Python file by its path, fresh each time (so edits are seen)."""
    spec = importlib.util.spec_from_file_location(f"_exercise_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_file(name, path: Path) -> ExerciseResult:
    """Check exercise `name` against the Python file at `path`."""
    if not path.is_file():
        return failed_to_load(name, str(path), FileNotFoundError(f"no file {path}"))
    try:
        module = load_module(path)
    except Exception as error:   # a SyntaxError or an import error in the student's file
        return failed_to_load(name, str(path), error)
    return check_exercise(name, module)


def source_path(exercise, solutions_from: str | None) -> Path:
    """Where exercise's functions come from: this folder, another folder, one file, or reference.py."""
    if solutions_from is None:
        return HERE / exercise.file
    if solutions_from in REFERENCE_NAMES:
        if not (HERE / "reference.py").is_file():
            raise ValueError("this copy of the exercises has no reference.py (a student copy leaves it out); "
                             "check the reference solutions in the teacher's copy of the repository")
        return HERE / "reference.py"
    path = Path(solutions_from)
    return path / exercise.file if path.is_dir() else path


def format_result(result: ExerciseResult) -> str:
    """The report of one exercise: a line per check, and under a failed check what, where, expected vs got, hint."""
    ex = result.exercise
    out = [f"Exercise {ex.number}: {ex.title}", f"  file: {result.source}"]
    for check in result.checks:
        out.append(f"  {check.status:<5} {check.title}")
        out.extend(f"          {line}" for line in check.lines)
        for key in check.hints:
            out.append(textwrap.fill(HINTS[key], WIDTH, initial_indent="          hint: ",
                                     subsequent_indent=" " * 16, break_on_hyphens=False))
    count = {status: sum(c.status == status for c in result.checks) for status in ("ok", "FAIL", "TODO")}
    verdict = {"passed": f"PASSED, all {len(result.checks)} checks",
               "failed": f"FAILED {count['FAIL']} of {len(result.checks)} checks"
                         + (f" ({count['TODO']} more not written yet)" if count["TODO"] else ""),
               "todo": f"NOT DONE: {count['TODO']} of {len(result.checks)} checks wait for functions that "
                       "still raise NotImplementedError"}[result.status]
    out.append(f"  => exercise {ex.number} {verdict}")
    return "\n".join(out)


def check_message(check) -> str:
    """A failed or unfinished check's report as plain text (its lines, then its hints); "" if it passed."""
    return "\n".join([*check.lines, *(f"hint: {HINTS[key]}" for key in check.hints)])


def json_results(results) -> dict:
    """Every check's result, in the format documented in README.md ("Grading automatically").

    One point per check: an exercise's score is the number of its checks that pass.
    """
    exercises = []
    for result in results:
        ex = result.exercise
        checks = [{"name": f"exercise {ex.number} ({ex.key}): {check.title}", "exercise": ex.number,
                   "passed": check.status == "ok", "status": check.status,
                   "score": int(check.status == "ok"), "max_score": 1, "message": check_message(check),
                   "diagnosis": check.diagnosis}
                  for check in result.checks]
        exercises.append({"number": ex.number, "key": ex.key, "file": ex.file, "title": ex.title,
                          "source": result.source, "status": result.status,
                          "score": sum(c["score"] for c in checks), "max_score": len(checks), "checks": checks})
    return {"format": "minivi-exercises", "version": 1,
            "score": sum(e["score"] for e in exercises), "max_score": sum(e["max_score"] for e in exercises),
            "exercises": exercises}


def gradescope_results(results) -> dict:
    """The same results in Gradescope's results.json layout: one Gradescope test per check."""
    report = json_results(results)
    tests = [{"name": c["name"], "score": c["score"], "max_score": c["max_score"],
              "status": "passed" if c["passed"] else "failed", "output": c["message"]}
             for ex in report["exercises"] for c in ex["checks"]]
    return {"score": report["score"], "tests": tests}


def write_json(data: dict, path: str) -> None:
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def all_exercises() -> list:
    return [EXERCISES[number] for number in sorted(EXERCISES)]


def default_exercises(solutions_from: str | None) -> list:
    """Every exercise; in this folder, only those whose file is here (a student copy may hold a few)."""
    here = [ex for ex in all_exercises() if (HERE / ex.file).is_file()]
    return here if solutions_from is None and here else all_exercises()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="exercises: " + ", ".join(f"{e.number} {e.key} ({e.file})"
                                                                      for e in all_exercises()))
    parser.add_argument("exercises", nargs="*", help="which exercises (default: all)")
    parser.add_argument("--solutions-from", metavar="SOURCE",
                        help="'minivi' for the reference solutions (reference.py), a folder of ex*.py "
                             "files, or one .py file holding every function (default: this folder)")
    parser.add_argument("--json", metavar="FILE", help="also write every check's result to FILE as JSON "
                                                           "(format: README.md, 'Grading automatically')")
    parser.add_argument("--gradescope", metavar="FILE", help="also write the results as Gradescope's results.json")
    args = parser.parse_args(argv)
    try:
        chosen = [find_exercise(n) for n in args.exercises] or default_exercises(args.solutions_from)
        sources = [source_path(ex, args.solutions_from) for ex in chosen]
    except ValueError as error:
        parser.error(str(error))
    results = [check_file(ex.number, source) for ex, source in zip(chosen, sources)]
    print("\n\n".join(format_result(r) for r in results))
    for path, layout in ((args.json, json_results), (args.gradescope, gradescope_results)):
        if path:
            write_json(layout(results), path)
    by_status = {status: [r.exercise.number for r in results if r.status == status]
                 for status in ("passed", "failed", "todo")}
    print(f"\nSummary: passed {by_status['passed'] or 'none'}; failed {by_status['failed'] or 'none'}; "
          f"not done {by_status['todo'] or 'none'}.")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    if hasattr(sys.stdout, "reconfigure"):   # a console without Unicode prints '?' for σ rather than crash
        sys.stdout.reconfigure(errors="replace")
    sys.exit(main())
