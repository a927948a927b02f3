"""Generated pages of the gaussclip site, written into ``docs/_generated/`` before Sphinx reads.

* ``api/``: one page per public module, grouped by concept in the order of the tables of
  ``docs/architecture.md`` (section 2), so the reference cannot drift from the module map; each
  page has an autosummary table of the module's public names and their autodoc entries. The
  ``gaussclip`` page lists the top-level names (``gaussclip.__all__``) linked to where they live.
* ``figures/``: one page per paper figure from ``<figures>/figNN_<slug>.json`` and ``.png``: the
  image, the claim (the figure script's docstring), the numbers of the JSON as a table and the
  command that regenerates it, grouped by the paper's sections.
* ``checks.md``: the symbolic checks from ``gaussclip.symbolic.checks()``.
* ``notebooks/``: copies of ``notebooks/*.ipynb`` (rendered from their stored outputs).
* ``pages/``: ``paper_figures/README.md``, ``notebooks/README.md`` and the benchmark scripts'
  docstrings, which live outside ``docs/``.

The figure folder is ``$GAUSSCLIP_DOCS_FIGURES`` when set, else ``figures/`` at the repository
root (``$GAUSSCLIP_DOCS_REPO`` when set, else the parent of ``docs/``). After the build the
MathJax 3 ``es5`` files of the ``django-static-mathjax`` wheel are copied into
``_static/mathjax/`` so the site typesets offline.
"""

import ast
import importlib
import inspect
import json
import os
import re
import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
#: The repository the pages describe; ``$GAUSSCLIP_DOCS_REPO`` lets a copy of ``docs/`` elsewhere
#: (the browser test builds one in a temporary folder) document this checkout.
REPO = Path(os.environ.get("GAUSSCLIP_DOCS_REPO") or DOCS.parent).resolve()
GENERATED = DOCS / "_generated"
FIGURES_ENV = "GAUSSCLIP_DOCS_FIGURES"

#: The paper's grouping of its figures: (section, title, figure numbers).
FIGURE_SECTIONS = (
    ("5.4", "Section 5.4: the two-dimensional Gaussian example", range(1, 7)),
    ("6.1", "Section 6.1: Gaussian-process data and linear encoders", range(7, 11)),
    ("6.2", "Section 6.2: MNIST, classification and mode collapse", range(11, 13)),
    ("6.3", "Section 6.3: Lagrangian data, retrieval", range(13, 16)),
)
#: Arrays longer than this are summarized (shape, range, first values) in the numbers tables.
MAX_LISTED = 8


def figures_dir():
    """The folder the figure pages are generated from."""
    return Path(os.environ.get(FIGURES_ENV) or REPO / "figures").resolve()


#: Files written by this build; anything else under ``_generated/`` is stale and removed.
WRITTEN = set()


def write(path, text):
    """Write ``text`` to ``path`` unless it holds it already (keeps rebuilds incremental)."""
    WRITTEN.add(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def copy(source, target):
    WRITTEN.add(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)


def rst_heading(text, char):
    return f"{text}\n{char * len(text)}\n"


# -- API reference -----------------------------------------------------------------------------


def architecture_groups():
    """``[(group title, [module names])]`` from the tables of section 2 of architecture.md.

    Private modules (a leading underscore) and ``__main__`` are left out.
    """
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## 2.", 1)[1].split("\n## ", 1)[0]
    groups = []
    for block in section.split("\n### ")[1:]:
        title = block.splitlines()[0].strip()
        modules = []
        for path in re.findall(r"^\| `(gaussclip/[^`]+\.py)` \|", block, flags=re.M):
            parts = path[: -len(".py")].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if any(part.startswith("_") for part in parts):
                continue
            modules.append(".".join(parts))
        groups.append((title, modules))
    return groups


def public_names(module):
    """The names a module's page documents: ``__all__``, else its own public members."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if callable(value):
            names.append(name)
    return names


def registered_checks(module):
    """``{check function: Check}`` of the symbolic checks a module registers (else empty)."""
    if not module.__name__.startswith("gaussclip.symbolic."):
        return {}
    from gaussclip import symbolic

    return {c.run: c for c in symbolic.checks() if c.run.__module__ == module.__name__}


def rst_escape(text):
    """Plain text safe inside reST: markup characters escaped."""
    return re.sub(r"([\\`*_|])", r"\\\1", text)


def module_page(name):
    """The reST of one module's page: its docstring, a table of its names, their entries."""
    module = importlib.import_module(name)
    lines = [rst_heading(f"``{name}``", "="), f".. automodule:: {name}", "   :no-members:", ""]
    if name == "gaussclip":
        lines += [
            rst_heading("The top-level names", "-"),
            "``import gaussclip as gc`` gives these names; each links to its entry on the page "
            "of the module that defines it.",
            "",
            ".. autosummary::",
            "",
        ]
        for item in module.__all__:
            home = getattr(module, item).__module__.removeprefix("gaussclip.")
            lines.append(f"   ~{home}.{item}")
        return "\n".join(lines) + "\n"
    names = public_names(module)
    checks = registered_checks(module)
    if checks:
        # a module of symbolic checks: its functions are registry entries, shown as a table
        names = [item for item in names if getattr(module, item) not in checks]
        lines += [
            rst_heading("Checks registered here", "-"),
            "Run one with ``gaussclip verify --only ID``; all of them are on "
            ":doc:`the checks page </_generated/checks>`.",
            "",
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 15 85",
            "",
            "   * - id",
            "     - statement",
        ]
        for check in checks.values():
            lines += [f"   * - ``{check.id}``", f"     - {rst_escape(check.statement)}"]
        lines.append("")
    if names:
        lines += [".. autosummary::", ""] + [f"   {item}" for item in names] + [""]
    for item in names:
        value = getattr(module, item)
        if inspect.ismodule(value):
            continue  # a submodule: it has its own page
        if isinstance(value, type):
            kind = "autoclass"
        elif callable(value):
            kind = "autofunction"
        else:
            kind = "autodata"
        lines += [f".. {kind}:: {item}", ""]
    return "\n".join(lines) + "\n"


def generate_api():
    out = GENERATED / "api"
    groups = architecture_groups()
    index = [
        rst_heading("API reference", "="),
        "Generated from the numpydoc docstrings. Pages are grouped as the module map "
        ":doc:`/architecture` groups the modules; every docstring gives the shapes, the "
        "formula and the paper's equation or theorem number.",
        "",
    ]
    documented = set()
    for title, modules in groups:
        title = re.sub(r"`([^`]+)`", r"``\1``", title)  # Markdown code to reST literals
        index += [rst_heading(title, "-"), ".. autosummary::", ""]
        index += [f"   {name}" for name in modules]
        index += ["", ".. toctree::", "   :hidden:", ""]
        for name in modules:
            write(out / f"{name}.rst", module_page(name))
            index.append(f"   {name}")
            documented.add(name)
        index.append("")
    write(out / "index.rst", "\n".join(index))
    return documented


# -- Figures -----------------------------------------------------------------------------------


def script_docstring(stem):
    source = (REPO / "paper_figures" / f"{stem}.py").read_text(encoding="utf-8")
    return ast.get_docstring(ast.parse(source)) or ""


def flatten(value, prefix=""):
    """``[(dotted key, value)]`` of the nested dictionaries of a figure's JSON."""
    if isinstance(value, dict):
        rows = []
        for key, item in value.items():
            rows += flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        if not all(isinstance(x, (int, float)) for x in leaves(value)):
            # records (e.g. one dictionary per sweep point): one row per field and index
            rows = []
            for index, item in enumerate(value):
                rows += flatten(item, f"{prefix}[{index}]")
            return rows
    return [(prefix, value)]


def fmt_number(value):
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def shape_of(value):
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def leaves(value):
    """The scalars of nested lists and dictionaries."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def fmt_value(value):
    """One table cell: numbers to 4 significant digits, long arrays summarized."""
    if not isinstance(value, list):
        return fmt_number(value)
    flat = list(leaves(value))
    if len(flat) <= MAX_LISTED:
        return "[" + ", ".join(fmt_value(item) for item in value) + "]"
    numeric = [x for x in flat if isinstance(x, (int, float)) and not isinstance(x, bool)]
    shape = " x ".join(str(n) for n in shape_of(value))
    text = f"array {shape}"
    if numeric:
        text += f", min {fmt_number(min(numeric))}, max {fmt_number(max(numeric))}"
    head = ", ".join(fmt_number(x) for x in flat[:4])
    return f"{text}; first: {head}, ..."


def md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def figure_page(record, png_name, claim, section):
    number, stem = record["figure"], record["stem"]
    lines = [
        f"# {record['title']}",
        "",
        f"```{{image}} {png_name}",
        f":alt: {md_cell(record['title'])}",
        ":width: 100%",
        "```",
        "",
        "## The claim",
        "",
        "```{eval-rst}",
        claim,
        "```",
        "",
        f"Paper section {section}. Script: `paper_figures/{stem}.py` "
        f"(mode of this build: `{record['mode']}`, gaussclip {record['gaussclip_version']}).",
        "",
        "## Regenerate it",
        "",
        "```",
        f"python -m paper_figures --quick --only {number}   # or --full: the paper's settings",
        "```",
        "",
        "## The numbers in the figure",
        "",
        f"From `{stem}.json`: every value the figure shows, so a result can be checked without "
        "looking at pixels.",
        "",
        "| quantity | value |",
        "|---|---|",
    ]
    for key, value in flatten(record["numbers"]):
        lines.append(f"| `{md_cell(key)}` | {md_cell(fmt_value(value))} |")
    return "\n".join(lines) + "\n"


def generate_figures():
    folder = figures_dir()
    records = {}
    for path in sorted(folder.glob("fig[0-9][0-9]_*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        records[record["figure"]] = (path, record)
    if not records:
        raise RuntimeError(
            f"no figNN_*.json in {folder}: run `python -m paper_figures --quick` first "
            f"(or set ${FIGURES_ENV} to a folder of figures)."
        )
    out = GENERATED / "figures"
    modes = sorted({record["mode"] for _, record in records.values()})
    index = [
        "# The paper's figures",
        "",
        "Each page shows one figure as `python -m paper_figures` draws it, the claim it "
        "illustrates, the numbers of its JSON file and the command that regenerates it. "
        f"Built from `{', '.join(modes)}` mode outputs.",
        "",
    ]
    for section, title, numbers in FIGURE_SECTIONS:
        present = [n for n in numbers if n in records]
        index += [f"## {title}", "", "```{toctree}", ":maxdepth: 1", ""]
        for number in present:
            path, record = records[number]
            stem = record["stem"]
            copy(path.with_suffix(".png"), out / f"{stem}.png")
            page = figure_page(record, f"{stem}.png", script_docstring(stem), section)
            write(out / f"{stem}.md", page)
            index.append(stem)
        index += ["```", ""]
        missing = [str(n) for n in numbers if n not in records]
        if missing:
            index += [
                f"Not in `{folder.name}/` when this site was built: figure(s) "
                f"{', '.join(missing)} (`python -m paper_figures --quick --only "
                f"{' '.join(missing)}` draws them).",
                "",
            ]
    write(out / "index.md", "\n".join(index))


# -- Symbolic checks, notebooks, pages from outside docs/ ---------------------------------------


def generate_checks():
    from gaussclip import symbolic

    checks = symbolic.checks()
    lines = [
        "# The symbolic checks",
        "",
        f"`gaussclip verify` runs these {len(checks)} SymPy derivations (the table is generated "
        "from `gaussclip.symbolic.checks()`). Each has a *negative twin*: a deliberately wrong "
        "variant that the same derivation must reject. `gaussclip verify --json` prints the "
        "same fields with the outcome of each run.",
        "",
        "| id | statement | method | negative twin |",
        "|---|---|---|---|",
    ]
    for check in checks:
        cells = (f"`{check.id}`", check.statement, check.method, check.twin)
        lines.append("| " + " | ".join(md_cell(cell) for cell in cells) + " |")
    write(GENERATED / "checks.md", "\n".join(lines) + "\n")


def generate_notebooks():
    out = GENERATED / "notebooks"
    names = []
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        copy(path, out / path.name)
        names.append(path.stem)
    readme = (REPO / "notebooks" / "README.md").read_text(encoding="utf-8")
    toctree = ["", "```{toctree}", ":maxdepth: 1", ":hidden:", "", *names, "```", ""]
    write(out / "index.md", readme + "\n".join(toctree))


def generate_pages():
    out = GENERATED / "pages"
    write(out / "paper_figures.md", (REPO / "paper_figures" / "README.md").read_text("utf-8"))
    bench = [
        rst_heading("Benchmarks", "="),
        "Run them with ``make bench`` or ``gaussclip bench [engine|trainer|lagrangian]`` in a "
        "source checkout; each script's documentation, what it measures and against which "
        "peer, follows.",
        "",
    ]
    for path in sorted((REPO / "benchmarks").glob("bench_*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        bench += [rst_heading(f"``benchmarks/{path.name}``", "-"), doc, ""]
    write(out / "benchmarks.rst", "\n".join(bench))


def generate(app):
    WRITTEN.clear()
    generate_api()
    generate_figures()
    generate_checks()
    generate_notebooks()
    generate_pages()
    # e.g. the page of a figure no longer in the figure folder
    for path in GENERATED.rglob("*"):
        if path.is_file() and path not in WRITTEN:
            path.unlink()


def mathjax_source():
    import mathjax  # the django-static-mathjax wheel: static files only

    return Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"


def copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    if not (target / "tex-svg-full.js").exists():
        shutil.copytree(mathjax_source(), target, dirs_exist_ok=True)


def setup(app):
    # MathJax on every page, not only on pages with equations: figure titles carry math and
    # appear in the navigation of every page.
    app.set_html_assets_policy("always")
    app.connect("builder-inited", generate)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
