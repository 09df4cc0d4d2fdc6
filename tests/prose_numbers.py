"""Which numbers a tutorial's prose quotes, and whether its run printed them (tests/test_tutorial_claims.py).

A tutorial is a percent-format script: its prose is the `# ` comment lines of its `# %% [markdown]`
cells. A number the prose quotes is accepted when

- the run printed it: some number in the output rounds to it at the precision the prose gives
  ("0.618" for a printed 0.61811, "72%" for a printed 72.2%; the sign is not compared, so
  "3.0% below" reads a printed -3.0%), or
- the code sets it: a numeric literal of the script's code cells has its value (20 points, noise 0.3,
  4000 steps: the run's settings, which the run uses rather than prints), or
- it names something rather than measures it: a derivation step, a tutorial, an exercise or a part
  ("steps 4-8", "tutorials 01-02", "exercises 8 and 9", "§5.2", a heading's "## 5.", a table row's
  label "| 6 |"), a DOI or a web address, the year of a citation ("Neal 2011",
  "(2019)"), a number inside a file name or identifier (`08_in_between.png`, `x_diag`), or a small
  integer constant of a formula inside the math ($\\frac{D}{2}$, $\\sigma^2$).

A power of ten in the math ("around $10^{-9}$") claims an order of magnitude: some printed number
must lie within a factor of 10 of it (or a literal of the code must equal it: lr $10^{-2}$).

Anything else is a number that the page's run does not show, and the test names it.
"""
from __future__ import annotations

import io
import math
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

# A number in prose: not glued to a letter, digit, underscore or dot on its left (so `x_2`, `08_a.png`,
# `v1.2` give nothing), not followed by a letter, digit or underscore; a % sign kept with it.
NUMBER = re.compile(r"(?<![\w.])[-−]?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(%?)(?![\w])")
# Numbers that name a part of the course, removed before the numbers are read.
REFERENCE = re.compile(r"(?:\b(?:[Ss]teps?|[Tt]utorials?|[Ee]xercises?|[Pp]arts?|[Ss]ection|[Cc]hapter|[Ee]q\.|"
                       r"[Ee]quation|[Ff]igure|check\.py)\s+|§\s*)\d+(?:\.\d+)?(?:\s*(?:-|–|,|and|or|to)\s*\d+)*"
                       r"|^#+\s+\d+\.|^\|\s*\d+\s*\||\bDOI\s+\S+|https?://\S+", re.M)
CITATION_YEAR = re.compile(r"(?:\(|\b(?:al\.|[A-Z][a-z]+,?)\s)((?:19|20)\d\d)\b|\b((?:19|20)\d\d)\)")
MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S)
INLINE_CODE = re.compile(r"`[^`]*`")
# Inside math, integers up to this are the constants of formulas (powers, halves, indices), not results.
MATH_SMALL_INTEGER = 10


# A power of ten in the math, "10^{-9}" or "2 \cdot 10^5": an order of magnitude.
POWER_OF_TEN = re.compile(r"(?:(\d+(?:\.\d+)?)\s*(?:\\cdot|\\times)\s*)?10\^\{?([-−]?\d+)\}?")


@dataclass(frozen=True)
class Quoted:
    text: str          # as written, e.g. "0.618" or "72%"
    value: float
    decimals: int
    context: str       # the words around it, for the failure message
    magnitude: bool = False   # "10^{-9}": matched by any printed number within a factor of 10


def markdown_cells(script_text: str) -> list[str]:
    """The prose of each `# %% [markdown]` cell of a percent-format script, the leading '# ' removed."""
    cells, current = [], None
    for line in script_text.splitlines():
        if line.startswith("# %%"):
            if current is not None:
                cells.append("\n".join(current))
            current = [] if "[markdown]" in line else None
        elif current is not None:
            if line.startswith("#"):
                current.append(line[2:] if line.startswith("# ") else line[1:])
            elif line.strip():
                cells.append("\n".join(current))
                current = None
    if current is not None:
        cells.append("\n".join(current))
    return cells


def code_cells_source(script_text: str) -> str:
    """The script with the markdown cells' comment lines dropped (what Python runs)."""
    return "\n".join(line for line in script_text.splitlines() if not line.startswith("#"))


def code_literals(script_text: str) -> set[float]:
    """The values of every numeric literal in the script's code (1e-2 -> 0.01, 4_000 -> 4000)."""
    values = set()
    for token in tokenize.generate_tokens(io.StringIO(code_cells_source(script_text)).readline):
        if token.type == tokenize.NUMBER and not token.string.lower().endswith("j"):
            values.add(abs(float(eval(token.string))))            # a literal, so eval is a parse
    return values


def _quoted_in(text: str, *, in_math: bool) -> list[Quoted]:
    found = []
    if in_math:
        for match in POWER_OF_TEN.finditer(text):
            value = float(match.group(1) or 1) * 10.0 ** int(match.group(2).replace("−", "-"))
            found.append(Quoted(match.group(0), value, 99, text.strip()[:80], magnitude=True))
        text = POWER_OF_TEN.sub(" ", text)
    for match in NUMBER.finditer(text):
        digits, percent = match.group(1).replace(",", ""), match.group(2)
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        value = float(digits)
        if in_math and decimals == 0 and value <= MATH_SMALL_INTEGER:
            continue
        start, end = max(0, match.start() - 40), min(len(text), match.end() + 40)
        found.append(Quoted(digits + percent, value, decimals, " ".join(text[start:end].split())))
    return found


def quoted_numbers(prose: str) -> list[Quoted]:
    """Every number a prose text quotes that must be accounted for (see the module docstring)."""
    prose = REFERENCE.sub(" ", prose)
    prose = CITATION_YEAR.sub(" ", prose)
    math = [m.group(0) for m in MATH.finditer(prose)]
    text = INLINE_CODE.sub(lambda m: re.sub(r"\w*\d\w*\.\w+|\w+_\w*", " ", m.group(0)), MATH.sub(" ", prose))
    return _quoted_in(text, in_math=False) + [q for m in math for q in _quoted_in(m, in_math=True)]


def printed_numbers(output: str) -> list[tuple[float, int]]:
    """(|value|, decimals) of every number in a run's output; 1.5e-04 counts as 0.00015."""
    numbers = []
    for match in re.finditer(r"(?<![\w.])[-−]?(\d+(?:\.\d+)?)(?:e([-+]\d+))?(?![\w])", output):
        digits, exponent = match.group(1), match.group(2)
        if exponent:
            value = float(digits + "e" + exponent)
            numbers.append((value, 99))
        else:
            numbers.append((float(digits), len(digits.split(".")[1]) if "." in digits else 0))
    return numbers


def is_printed(quoted: Quoted, printed: list[tuple[float, int]]) -> bool:
    """Some printed number, rounded to the prose's decimals, is the prose's number (and it was printed to
    at least that many decimals: a printed 0.6 does not stand for a quoted 0.60)."""
    if quoted.magnitude:
        return any(value > 0 and abs(math.log10(value) - math.log10(quoted.value)) <= 1 for value, _ in printed)
    return any(decimals >= quoted.decimals and round(value, quoted.decimals) == quoted.value
               for value, decimals in printed)


def unaccounted_numbers(script_text: str, output: str) -> list[Quoted]:
    """The numbers of the prose that the output does not print and the code does not set."""
    printed = printed_numbers(output)
    literals = code_literals(script_text)
    missing = []
    for cell in markdown_cells(script_text):
        for quoted in quoted_numbers(cell):
            if is_printed(quoted, printed) or any(math.isclose(quoted.value, v, rel_tol=1e-12) for v in literals):
                continue
            missing.append(quoted)
    return missing


def notebook_output(notebook: dict) -> str:
    """All that a run printed (stdout and stderr streams, and plain-text results) in cell order."""
    parts = []
    for cell in notebook["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            elif "text/plain" in out.get("data", {}):
                text = out["data"]["text/plain"]
                parts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(parts)


def read_script(path: Path) -> str:
    return path.read_text(encoding="utf-8")
