"""MkDocs hooks: the parts of minivi's site that are made from the repository at build time.

- the math renderer (KaTeX) and the fonts, fetched from the npm registry with `npm pack`,
  checked against pinned sha512 digests and served by the site itself (no CDN, ever);
- every tutorial `tutorials/[0-9][0-9]_*.py`, executed as a notebook in full (exactly what
  `python tutorials/NN_name.py` prints and draws) with its printed output and every figure it
  saves shown inline, the run's measured wall-clock time above it, and the script itself for
  download; the tutorials join the navigation on their own;
- one page per source file (minivi/*.py, tests/*.py) with an anchor per function, so the
  derivation page links each step to its code and its test;
- the committed figures (the gallery), and benchmarks/results/uci.md when it exists.

Run as a script, `python docs/hooks.py SCRIPT OUT.ipynb` executes one tutorial (the build starts
these two at a time, one kernel each). An executed notebook is cached in build/docs-notebooks/
under a key made of the script and minivi's source, so a rebuild reruns only what changed;
tests/test_tutorial_claims.py reads the same notebooks to check the tutorials' prose.
"""
from __future__ import annotations

import ast
import base64
import hashlib
import json
import logging
import os
import posixpath
import re
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
VENDOR_DIR = BUILD / "docs-vendor"
NOTEBOOK_DIR = BUILD / "docs-notebooks"
TUTORIAL_GLOB = "[0-9][0-9]_*.py"
NOTEBOOK_FORMAT = "full run, timed, figure paths dropped"   # part of the cache key: change it to rerun them all
log = logging.getLogger("mkdocs.hooks.minivi")

# npm package -> (version, sha512 integrity as the registry publishes it, files to serve).
VENDORED = {
    "katex": ("0.16.25",
              "sha512-woHRUZ/iF23GBP1dkDQMh1QBad9dmr8/PAwNA54VrSOVYgI12MAcE14TqnDdQOdzyEonGzMepYnqBMYdsoAr8Q==",
              ("dist/katex.min.js", "dist/katex.min.css", "dist/contrib/auto-render.min.js",
               "dist/fonts/*.woff2")),
    "@fontsource/roboto": ("5.3.0",
                           "sha512-BapRJOWYP+LZ21zp+wBQjfpPYKRoxc4LspJ/RLuI+HSMBD5u/X4O+ESDrSvEqDSy0rAl7GwBJ+09mdc16cVQ1Q==",
                           ("300.css", "400.css", "700.css", "files/roboto-*-{300,400,700}-normal.woff2")),
    "@fontsource/roboto-mono": ("5.3.0",
                                "sha512-yhwplHMHW9dCk+1pZuERfcJe+K3rosGVZEoK0XktkxRSqQ9qsipSwwiuW2/8Qmtp9lzu3Ixa/ie4BMH3i8CkZQ==",
                                ("400.css", "700.css", "files/roboto-mono-*-{400,700}-normal.woff2")),
    # Hangul for the Korean page: cut into unicode-range slices, so a page loads only the ones it uses.
    "@fontsource/noto-sans-kr": ("5.3.0",
                                 "sha512-/JnpTjaCOXW7xUoqOyCVYSr05VOkDy5Yla9O+WAEiS7u+yYLsmHoqj6v1W0bf91G8G3XA2+NnRS3CX2Tf/FVZg==",
                                 ("400.css", "files/noto-sans-kr-*-400-normal.woff2")),
}


# ---------------------------------------------------------------- vendoring (npm registry)

def _expand(pattern: str) -> list[str]:
    """'a-{1,2}.x' -> ['a-1.x', 'a-2.x'] (one brace group at most)."""
    match = re.search(r"\{([^}]*)\}", pattern)
    if not match:
        return [pattern]
    return [pattern[:match.start()] + part + pattern[match.end():] for part in match.group(1).split(",")]


def vendor_package(name: str) -> Path:
    """Fetch one pinned npm package with `npm pack`, check its digest, unpack the files the site
    serves into build/docs-vendor/<name>/, and return that folder. Cached across builds."""
    version, integrity, patterns = VENDORED[name]
    target = VENDOR_DIR / name.replace("@", "").replace("/", "-")
    stamp = target / ".version"
    if stamp.exists() and stamp.read_text() == f"{version} {integrity}":
        return target
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(VENDOR_DIR)],
                          capture_output=True, text=True, cwd=VENDOR_DIR)
    if done.returncode != 0:
        raise RuntimeError(f"`npm pack {name}@{version}` failed (the site vendors its math renderer and "
                           f"fonts from the npm registry; is npm installed?):\n{done.stderr[-2000:]}")
    tarball = VENDOR_DIR / json.loads(done.stdout)[0]["filename"]
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != integrity:
        raise RuntimeError(f"{tarball.name}: sha512 {digest} is not the pinned {integrity}")
    wanted = [p for pattern in patterns for p in _expand(pattern)]
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            inside = member.name.split("/", 1)[1]          # npm tarballs hold a folder "package/"
            if member.isfile() and any(Path(inside).match(p) and inside.count("/") == p.count("/")
                                       for p in wanted):
                archive.extract(member, target, filter="data")
    tarball.unlink()
    for path in (target / "package").rglob("*"):
        if path.is_file():
            moved = target / path.relative_to(target / "package")
            moved.parent.mkdir(parents=True, exist_ok=True)
            path.replace(moved)
    stamp.write_text(f"{version} {integrity}")
    return target


def vendored_files() -> dict[str, Path]:
    """site path (under assets/vendor/) -> file on disk, for every vendored package."""
    served = {}
    for name in VENDORED:
        folder = vendor_package(name)
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                served[f"assets/vendor/{folder.name}/{path.relative_to(folder).as_posix()}"] = path
    return served


# ---------------------------------------------------------------- tutorials as executed notebooks

def tutorial_scripts() -> list[Path]:
    return sorted((ROOT / "tutorials").glob(TUTORIAL_GLOB))


def tutorial_title(script: Path) -> str:
    """The first Markdown heading of the script ('# # 01 · Title' -> '01 · Title')."""
    for line in script.read_text(encoding="utf-8").splitlines():
        if line.startswith("# # "):
            return line[4:].strip()
    return script.stem


# Runs before the tutorial's first cell and is removed from the notebook afterwards: the
# tutorial's command line (the full run, figures to a scratch folder), and each figure the
# tutorial saves with minivi.plots.save is also displayed, so it appears in the page.
PREAMBLE = """\
import sys
sys.argv = ["{script}", *{args!r}]
from IPython.display import Image, display
from minivi import plots as _plots
_save_figure = _plots.save
def _save_and_show(fig, path):
    written = _save_figure(fig, path)
    display(Image(filename=str(written)))
    return written
_plots.save = _save_and_show
"""


def is_docstring_cell(cell) -> bool:
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return False
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)


def execute_tutorial(script: Path, out: Path) -> None:
    """Execute one tutorial script in full as a notebook and write it, outputs included, to `out`,
    with the run's wall-clock time (from the first cell's start to the last cell's end) in its metadata."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    notebook = jupytext.read(script)
    workdir = out.parent.parent / "run" / script.stem      # the kernel's cwd; figures go to its figures/
    workdir.mkdir(parents=True, exist_ok=True)
    args = ["--out-dir", "figures"]
    notebook.cells.insert(0, nbformat.v4.new_code_cell(PREAMBLE.format(script=script.name, args=args)))
    os.environ.update(MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1",
                      PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    NotebookClient(notebook, timeout=1800, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    seconds = time.perf_counter() - start
    notebook.cells.pop(0)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if is_docstring_cell(cell):
            cell.outputs = []
        # A cell ending in `plots.save(...)` would show the returned path as Out[n]: the figure is the output.
        cell.outputs = [o for o in cell.outputs if not (o.output_type == "execute_result" and
                                                        o.data.get("text/plain", "").startswith("PosixPath("))]
        if cell.execution_count:
            cell.execution_count -= 1
        for output in cell.outputs:
            if output.get("execution_count"):
                output["execution_count"] -= 1
    notebook.metadata["minivi"] = {"mode": "full", "seconds": round(seconds, 1), "script": script.name,
                                   "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d", time.gmtime())}
    nbformat.write(notebook, out)


def notebook_path(script: Path) -> Path:
    """build/docs-notebooks/full/<key>/tutorials/<stem>.ipynb, keyed on the script and minivi's source."""
    digest = hashlib.sha256(script.read_bytes())
    digest.update(NOTEBOOK_FORMAT.encode())
    for source in sorted((ROOT / "minivi").rglob("*.py")):
        digest.update(source.read_bytes())
    return NOTEBOOK_DIR / "full" / digest.hexdigest()[:16] / "tutorials" / f"{script.stem}.ipynb"


def executed_notebooks() -> dict[Path, Path]:
    """script -> executed notebook, running (two at a time) the ones not cached yet."""
    wanted = {script: notebook_path(script) for script in tutorial_scripts()}
    missing = [(script, out) for script, out in wanted.items() if not out.exists()]

    def run(item):
        script, out = item
        out.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, str(script), str(out)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"executing {script.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
        log.info("executed %s in full in %.1f s", script.name, time.perf_counter() - start)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, missing))
    return wanted


# ---------------------------------------------------------------- source pages with anchors

def source_page(path: Path) -> str:
    """A Markdown page showing a Python file in order, one section (with an anchor) per top-level
    function or class, so a link can point at `test_x` or `kl_normal` directly."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    starts = []
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            starts.append((first, node.name))
    rel = path.relative_to(ROOT).as_posix()
    parts = [f"# `{rel}`\n", f"The file as it was when this site was built, {len(lines)} lines, one section "
             "per top-level function or class.\n"]
    edges = [1] + [first for first, _ in starts] + [len(lines) + 1]
    names = [None] + [name for _, name in starts]
    for (begin, end), name in zip(zip(edges[:-1], edges[1:]), names):
        chunk = "\n".join(lines[begin - 1:end - 1]).strip("\n")
        if not chunk:
            continue
        if name:
            parts.append(f"## `{name}` {{#{name}}}\n")
        parts.append(f'````python linenums="{begin}"\n{chunk}\n````\n')   # 4 backticks: code may hold 3
    return "\n".join(parts)


def source_files() -> list[Path]:
    return sorted((ROOT / "minivi").glob("*.py")) + sorted((ROOT / "tests").glob("test_*.py"))


# ---------------------------------------------------------------- the hooks

def on_config(config):
    """Put every tutorial in the navigation (under 'Tutorials'), and the source pages (under 'Source')."""
    for entry in config["nav"]:
        if isinstance(entry, dict) and "Tutorials" in entry:
            entry["Tutorials"] = [item for item in entry["Tutorials"] if "tutorials/index.md" in str(item)]
            entry["Tutorials"] += [{tutorial_title(s): f"tutorials/{s.stem}.ipynb"} for s in tutorial_scripts()]
        if isinstance(entry, dict) and "Source" in entry:
            entry["Source"] = [f"source/{p.relative_to(ROOT).with_suffix('.md').as_posix()}" for p in source_files()]
    return config


@event_priority(50)   # before mkdocs-jupyter's on_files, which must see the notebooks added here
def on_files(files, config):
    from mkdocs.structure.files import File

    def add(src_uri, path=None, content=None):
        if path is not None:
            files.append(File.generated(config, src_uri, abs_src_path=str(path)))
        else:
            files.append(File.generated(config, src_uri, content=content))

    for src_uri, path in vendored_files().items():
        add(src_uri, path)
    for script, notebook in executed_notebooks().items():
        # A plain File with a src_dir, not File.generated: mkdocs-jupyter wraps it as a page and
        # reads it through src_dir (a generated file has none).
        files.append(File(f"tutorials/{notebook.name}", src_dir=str(notebook.parent.parent),
                          dest_dir=config["site_dir"], use_directory_urls=config["use_directory_urls"]))
        add(f"tutorials/{script.name}", script)
    for figure in sorted((ROOT / "figures").glob("*.png")):
        add(f"figures/{figure.name}", figure)
    for path in source_files():
        add(f"source/{path.relative_to(ROOT).with_suffix('.md').as_posix()}", content=source_page(path))
    return files


UCI_MARKER = "<!-- uci-table -->"
SPEED_MARKER = "<!-- speed-table -->"
EXERCISES_MARKER = "<!-- exercises-readme -->"
API_REST_MARKER = "<!-- api-rest -->"


def api_rest(api_markdown: str) -> str:
    """`::: minivi.NAME` for every name of minivi.__all__ that docs/api.md does not list yet, so a
    name added to the package shows up in the reference even before someone files it in a section."""
    import minivi

    listed = set(re.findall(r"^::: minivi\.(\w+)", api_markdown, re.M))
    missing = [name for name in minivi.__all__ if name not in listed]
    if not missing:
        return ""
    return "## More\n\n" + "\n\n".join(f"::: minivi.{name}" for name in missing) + "\n"


def _section(markdown_text: str, heading: str) -> str | None:
    """The body of the '## heading' section of a Markdown text, or None."""
    match = re.search(rf"^## {re.escape(heading)}[^\n]*\n(.*?)(?=^## |\Z)", markdown_text, re.S | re.M)
    return match.group(1).strip() if match else None


def on_page_markdown(markdown, page, config, files):
    """Fill pages from the files they describe (one source of truth): the benchmark tables, the
    exercises' teacher's guide, and any public name api.md does not list yet."""
    if SPEED_MARKER in markdown:
        readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
        measured = next((body for heading in ("Measured",) if (body := _section(readme, heading))), None)
        markdown = markdown.replace(SPEED_MARKER, measured or "*(benchmarks/README.md has no 'Measured' section.)*")
    if EXERCISES_MARKER in markdown:
        guide = (ROOT / "tutorials" / "exercises" / "README.md").read_text(encoding="utf-8")
        markdown = markdown.replace(EXERCISES_MARKER, re.sub(r"^#\s.*\n", "", guide, count=1))
    if API_REST_MARKER in markdown:
        markdown = markdown.replace(API_REST_MARKER, api_rest(markdown))
    if UCI_MARKER in markdown:
        uci = ROOT / "benchmarks" / "results" / "uci.md"
        if uci.exists():
            body = re.sub(r"^#\s.*\n", "", uci.read_text(encoding="utf-8"), count=1)
            markdown = markdown.replace(UCI_MARKER, body)
        else:
            markdown = markdown.replace(UCI_MARKER, "*The UCI table (`benchmarks/results/uci.md`) has not been "
                                        "produced in this checkout yet.*")
    return markdown


def on_page_content(html, page, config, files):
    """Above each tutorial: how it was executed, and its notebook and script to download."""
    src = page.file.src_uri
    if not (src.startswith("tutorials/") and src.endswith(".ipynb")):
        return html
    stem = Path(src).stem
    meta = json.loads(Path(page.file.abs_src_path).read_text(encoding="utf-8"))["metadata"].get("minivi", {})
    page_dir = posixpath.dirname(page.file.dest_uri)
    script = posixpath.relpath(f"tutorials/{stem}.py", page_dir)
    if meta.get("mode") != "full" or "seconds" not in meta:
        raise RuntimeError(f"{src}: not a full run executed by docs/hooks.py (metadata {meta}); delete "
                           "build/docs-notebooks and build again")
    banner = (f'<div class="admonition note minivi-run"><p class="admonition-title">Executed while the site was '
              f'built</p><p>This page is <code>tutorials/{stem}.py</code> run in full as a notebook: exactly '
              f'what <code>python tutorials/{stem}.py</code> prints and draws. <b>This run took {meta["seconds"]} s'
              f'</b> (wall clock, {meta.get("date", "date not recorded")}, on a machine with {meta.get("cores", "?")} '
              f'cores, one BLAS thread, another tutorial running beside it). Every result the text quotes is '
              f'a number this run printed (tests/test_tutorial_claims.py checks it). Download it: '
              f'<a href="{stem}.ipynb" download>notebook (.ipynb, with outputs)</a> · '
              f'<a href="{script}" download>script (.py)</a>.</p></div>')
    return banner + html


_MATHJAX_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)


def on_post_page(output, page, config):
    """nbconvert's template loads MathJax from a CDN on notebook pages; the site renders all math
    with its own KaTeX, so that block goes."""
    return _MATHJAX_BLOCK.sub("", output)


if __name__ == "__main__":
    execute_tutorial(Path(sys.argv[1]), Path(sys.argv[2]))
