"""The tutorials' Markdown cells write their formulas as LaTeX ($...$ inline, $$...$$ on their own)
so that Jupyter, VS Code and the site render them; these tests check that every formula is well
formed. The fast tests check the delimiters and the braces; the slow one parses every formula with
KaTeX itself, the renderer the site uses (vendored from the npm registry by docs/hooks.py)."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))


def markdown_cells(script: Path):
    """(first line number, text) of each `# %% [markdown]` cell of a percent-format script."""
    cells, current, start = [], None, 0
    for number, line in enumerate(script.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("# %%"):
            if current is not None:
                cells.append((start, "\n".join(current)))
            current, start = ([] if "[markdown]" in line else None), number + 1
        elif current is not None:
            if line and not line.startswith("#"):
                cells.append((start, "\n".join(current)))
                current = None
            else:
                current.append(line[2:] if line.startswith("# ") else line[1:])
    if current is not None:
        cells.append((start, "\n".join(current)))
    return cells


CODE_SPAN = re.compile(r"`[^`\n]*`")


def formulas(text: str):
    """(is_display, tex) for every formula of one Markdown cell; raises ValueError on a `$` or
    `$$` that is never closed. Inline code spans (`...`) are not math."""
    text = CODE_SPAN.sub("", text)
    found = []
    parts = text.split("$$")
    if len(parts) % 2 == 0:
        raise ValueError("an odd number of $$: a display formula is not closed")
    for index, part in enumerate(parts):
        if index % 2:
            found.append((True, part.strip()))
            continue
        for paragraph in re.split(r"\n\s*\n", part):
            pieces = re.split(r"(?<!\\)\$", paragraph)
            if len(pieces) % 2 == 0:
                raise ValueError(f"an odd number of $ in the paragraph: {paragraph.strip()[:200]!r}")
            found += [(False, piece) for piece in pieces[1::2]]
    return found


def brace_problem(tex: str):
    """None if the braces, \\left/\\right and \\begin/\\end of a formula balance, else what is wrong."""
    depth = 0
    for char in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return "a } closes nothing"
    if depth:
        return f"{depth} {{ never closed"
    if len(re.findall(r"\\left\b", tex)) != len(re.findall(r"\\right\b", tex)):
        return "\\left and \\right do not pair up"
    environments = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+\*?)\}", tex):
        if kind == "begin":
            environments.append(name)
        elif not environments or environments.pop() != name:
            return f"\\end{{{name}}} closes no \\begin{{{name}}}"
    if environments:
        return f"\\begin{{{environments[-1]}}} never ends"
    if not tex.strip():
        return "an empty formula"
    return None


def all_formulas():
    for script in TUTORIALS:
        for line, cell in markdown_cells(script):
            for display, tex in formulas(cell):
                yield script.name, line, display, tex


def test_the_markdown_reader_finds_the_cells():
    cells = markdown_cells(TUTORIALS[0])
    assert len(cells) >= 3 and cells[0][1].lstrip().startswith("# 01")


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_formulas_are_delimited_and_balanced(script):
    problems = []
    count = 0
    for line, cell in markdown_cells(script):
        try:
            found = formulas(cell)
        except ValueError as error:
            problems.append(f"cell at line {line}: {error}")
            continue
        count += len(found)
        problems += [f"cell at line {line}: {problem} in ${tex}$" for _, tex in found
                     if (problem := brace_problem(tex))]
    assert not problems, "\n".join(problems)
    assert count > 0, f"{script.name} writes no formula as LaTeX"


@pytest.mark.parametrize("text, error", [("a $x$ and $y", "odd number of \\$"),
                                         ("$$x$$ and $$y", "odd number of \\$\\$")])
def test_an_unclosed_dollar_is_caught(text, error):
    with pytest.raises(ValueError, match=error):
        formulas(text)


def test_unbalanced_braces_are_caught():
    assert brace_problem(r"\frac{a}{b") == "1 { never closed"
    assert brace_problem(r"\left( x \right.") is None
    assert brace_problem(r"\left( x") is not None
    assert brace_problem(r"\{ x \}") is None
    assert brace_problem(r"\begin{aligned} x \end{aligned}") is None
    assert brace_problem(r"\begin{aligned} x") is not None


def test_code_spans_are_not_math():
    assert formulas("costs `$5` and $x$") == [(False, "x")]


# Issue 22: one symbol each, on every page: the data set 𝒟, N its number of points, D the number of
# weights. In math the data set is \mathcal{D}; a bare D there (p(D), p(w | D), (w, D)) reads as the
# number of weights. Code, printed output and plain figure text write it `data`, and the glyph 𝒟
# itself never appears in a tutorial: the browsers' and matplotlib's default fonts lack it.
DATA_AS_D_IN_MATH = re.compile(r"p\(D(?![\w{])|\\mid\s*D(?![\w{])|,\s*D\s*[)\]]")
DATA_AS_D_IN_CODE = re.compile(r"p\(D(?![\w{])|\|\s*D\)")


def data_set_written_as_d(script: Path) -> list[str]:
    """Where a tutorial writes the data set as D (in a formula or in its code), or the glyph 𝒟."""
    lines = script.read_text(encoding="utf-8").splitlines()
    problems = [f"line {n}: the glyph 𝒟" for n, line in enumerate(lines, 1) if "𝒟" in line]
    markdown = set()
    for start, cell in markdown_cells(script):
        markdown.update(range(start, start + cell.count("\n") + 1))
        problems += [f"cell at line {start}: ${tex}$" for _, tex in formulas(cell) if DATA_AS_D_IN_MATH.search(tex)]
    problems += [f"line {n}: {line.strip()}" for n, line in enumerate(lines, 1)
                 if n not in markdown and DATA_AS_D_IN_CODE.search(line)]
    return problems


# Tutorial 10 still writes p(y_n | x_n, D) (line 174) and was being edited elsewhere when this test
# came; strict, so that the mark must go once that line writes \mathcal{D}.
LEFT_FOR_LATER: dict[str, str] = {}   # tutorial stem -> why it still writes D (none now)


@pytest.mark.parametrize("script", [
    pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=LEFT_FOR_LATER[s.stem])) if s.stem in LEFT_FOR_LATER
    else s for s in TUTORIALS], ids=lambda p: p.stem)
def test_tutorials_write_the_data_set_as_script_d_and_never_as_the_number_of_weights(script):
    assert not data_set_written_as_d(script), "\n".join(data_set_written_as_d(script))


@pytest.mark.parametrize("cell, code", [
    ("$\\log p(D)$", ""), ("$p(w \\mid D)$", ""), ("$(w^\\star, D)$", ""), ("the data 𝒟", ""),
    ("", 'print(f"log p(D) = {x}")'), ("", 'ax.set(ylabel="KL[q || p(w|D)]")'),
])
def test_the_data_set_written_as_d_is_caught(tmp_path, cell, code):
    script = tmp_path / "01_x.py"
    script.write_text(f"# %% [markdown]\n# {cell}\n\n# %%\n{code}\n", encoding="utf-8")
    assert data_set_written_as_d(script)
    clean = tmp_path / "02_x.py"
    clean.write_text("# %% [markdown]\n# $\\log p(\\mathcal{D} \\mid w)$, $\\frac{D}{2}$, $D = 6$, $p(w, \\mathcal{D})$\n\n"
                     "# %%\nprint(f\"D = {d} weights: log p(data|w) = {x}\")\n", encoding="utf-8")
    assert not data_set_written_as_d(clean)


KATEX_CHECK = """
const katex = require(process.argv[1]);
const items = JSON.parse(require("fs").readFileSync(0, "utf8"));
const errors = [];
for (const [where, display, tex] of items) {
  try { katex.renderToString(tex, {displayMode: display, throwOnError: true, strict: "error"}); }
  catch (e) { errors.push(where + ": " + e.message); }
}
process.stdout.write(JSON.stringify(errors));
"""


@pytest.mark.slow
def test_every_tutorial_formula_parses_with_katex():
    """KaTeX, the site's renderer, parses every formula (strict mode: unknown commands and
    unbalanced groups are errors)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are needed to parse the formulas with KaTeX")
        pytest.skip("node and npm are needed to parse the formulas with KaTeX")
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    katex = hooks.vendor_package("katex") / "dist" / "katex.min.js"
    items = [[f"{name}:{line}", display, tex] for name, line, display, tex in all_formulas()]
    assert len(items) > 50
    done = subprocess.run(["node", "-e", KATEX_CHECK, str(katex)], input=json.dumps(items),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout)
    assert not errors, "\n".join(errors)
    bad = subprocess.run(["node", "-e", KATEX_CHECK, str(katex)], input=json.dumps([["x", False, r"\frac{a"]]),
                         capture_output=True, text=True, timeout=60)
    assert json.loads(bad.stdout), "KaTeX accepted a broken formula: the check cannot fail"


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_headings_hold_no_math(script):
    """A heading is also the page's table of contents, where KaTeX does not run: '$' there is raw TeX."""
    headings = [line for line in script.read_text(encoding="utf-8").splitlines()
                if line.startswith("# #") and "$" in line]
    assert not headings, f"{script.name}: headings with math (write them in words): {headings}"
