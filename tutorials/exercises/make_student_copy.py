"""Build the folder to hand out to students: the exercise stubs and the checker, no solutions.

    python make_student_copy.py DEST                 # every exercise
    python make_student_copy.py DEST 1 2 3           # only these exercises (number, name or file)

DEST must not exist yet (nothing is ever overwritten). It receives

    ex*_*.py          the stubs, copied as they are in this folder
    check.py          the checker's command
    exercise_checker/ the checks and the hints
    README.md         the students' part of this folder's README.md

and not reference.py (the adapters to minivi's own solutions) nor the teacher's
notes. The checker's ground truths are computed independently of minivi's
solutions; it needs only an installed minivi (`pip install minivi`, or
`pip install git+<the repository>`) for the engine (Tensor, make_op) and
finite differences. So the students work in a folder with no copy of the
library's source next to them. (An installed package can still be read by a
determined student; the exercises ask them to derive, and a short derivation on
paper keeps that honest.)

Every stub is checked to be untouched (each exercise reports "not done"),
so a teacher's own solutions are never handed out by mistake.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from check import all_exercises, check_file, find_exercise  # noqa: E402

STUDENT_README_START = "## For the student"


def student_readme(exercises) -> str:
    """The students' section of README.md under a title of its own, naming the exercises copied."""
    text = (HERE / "README.md").read_text(encoding="utf-8")
    if STUDENT_README_START not in text:
        raise RuntimeError(f"README.md has no '{STUDENT_README_START}' section to copy")
    section = text.split(STUDENT_README_START, 1)[1].split("\n## ", 1)[0]
    exercises = sorted(exercises, key=lambda ex: ex.number)
    listed = "\n".join(f"- exercise {ex.number}: `{ex.file}`, {ex.title}" for ex in exercises)
    first = exercises[0]
    return ("# minivi exercises\n\nYou need minivi installed (`pip install minivi`, or the command your "
            "teacher gives you).\nRun `python check.py` in this folder to check every exercise.\n\n"
            f"This folder holds {len(exercises)} exercise{'s' * (len(exercises) != 1)}:\n\n{listed}\n\n"
            f"Start with `{first.file}` and `python check.py {first.number}`."
            + section.rstrip() + "\n")


def build(dest: Path, exercises) -> list[Path]:
    """Write the student copy of `exercises` into the new folder `dest`; return the files written."""
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; choose a new folder (nothing is overwritten)")
    not_stubs = [ex.file for ex in exercises if check_file(ex.number, HERE / ex.file).status != "todo"]
    if not_stubs:
        raise RuntimeError(f"{', '.join(not_stubs)} in {HERE} are no longer untouched stubs (some check does "
                           "not report 'not done'); restore them (git checkout) before handing them out")
    dest.mkdir(parents=True)
    for ex in exercises:
        shutil.copy2(HERE / ex.file, dest / ex.file)
    shutil.copy2(HERE / "check.py", dest / "check.py")
    shutil.copytree(HERE / "exercise_checker", dest / "exercise_checker",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "README.md").write_text(student_readme(exercises), encoding="utf-8")
    return sorted(p for p in dest.rglob("*") if p.is_file())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", help="the new folder to create")
    parser.add_argument("exercises", nargs="*", help="which exercises (default: all)")
    args = parser.parse_args(argv)
    try:
        chosen = [find_exercise(name) for name in args.exercises] or all_exercises()
        files = build(Path(args.dest), chosen)
    except (ValueError, FileExistsError, RuntimeError) as error:
        parser.error(str(error))
    print(f"student copy in {args.dest}: {len(files)} files, exercises {[ex.number for ex in chosen]}; "
          "no reference.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
