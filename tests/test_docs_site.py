"""The documentation website, built once and opened in a real browser.

The module fixture draws the figures in tiny mode into a temporary folder, builds the site from a
copy of ``docs/`` there with ``sphinx-build -W --keep-going`` (what ``make docs`` runs) and
visits every page from ``file://`` in headless Debian Chromium driven by Playwright, recording
what a reader's browser would see.
The tests then assert, for every page: it loads, no console errors, no failed local requests and
no request leaving the machine (the site must work offline), every internal link and anchor
resolves, every image decodes, mathematics is typeset by the bundled MathJax (no raw ``$...$``
or ``\\(`` left in the text). The search page must find ``minimize``. Screenshots of the landing
page, an API page and a figure page are written to ``docs/_build/screenshots/`` (printed).

Chromium comes from Debian's ``chromium`` package (``.ci/run`` and ``make test`` install it when
running as root); the test skips only when it is absent and cannot be installed.
"""

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "_build" / "screenshots"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Milliseconds a page (and MathJax's typesetting, and a search) may take; generous for a
#: loaded 2-core machine, where a page takes well under one second.
PAGE_TIMEOUT_MS = 30_000
#: Pages the landing page, one API page and one figure page screenshots are taken of.
SCREENSHOT_PAGES = {
    "landing": "index.html",
    "api": "_generated/api/gaussclip.minimizers.html",
    "figure": "_generated/figures/fig02_cond_inner.html",
}
#: Raw TeX that MathJax failed to typeset would show as one of these in the rendered text.
RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$[^$\n]+\$")

# Rendered text of a page without code, scripts and typeset math (whose assistive MathML
# repeats the TeX); what a reader sees as prose.
PROSE_JS = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea')
      .forEach(node => node.remove());
  return body.textContent;
}"""
# Wait for MathJax when the page loads it: startup.promise settles once the page is typeset.
MATHJAX_JS = """async () => {
  if (!document.querySelector('script[src*="mathjax"]')) return 'absent';
  for (let i = 0; i < 300 && !(window.MathJax && window.MathJax.startup
       && window.MathJax.startup.promise); i++) await new Promise(r => setTimeout(r, 50));
  await window.MathJax.startup.promise;
  return 'typeset';
}"""
PAGE_FACTS_JS = """() => ({
  links: Array.from(document.querySelectorAll('a[href]'), a => a.href),
  ids: Array.from(document.querySelectorAll('[id]'), e => e.id),
  images: Array.from(document.images, i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
  math: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  mathErrors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
  title: document.title,
})"""


def find_chromium():
    for candidate in CHROMIUM_CANDIDATES:
        path = shutil.which(candidate)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once: tiny figures into a temporary folder, then sphinx-build -W.

    ``GAUSSCLIP_DOCS_SITE=docs/_build/html`` checks an existing build (``make docs``) instead.
    """
    if os.environ.get("GAUSSCLIP_DOCS_SITE"):
        return Path(os.environ["GAUSSCLIP_DOCS_SITE"]).resolve()
    tmp = tmp_path_factory.mktemp("docs_site")
    # a copy of docs/, so the generated pages of this build leave the checkout's alone
    source = tmp / "docs"
    shutil.copytree(ROOT / "docs", source, ignore=shutil.ignore_patterns("_build", "_generated"))
    env = dict(os.environ, GAUSSCLIP_CACHE=str(tmp / "cache"), MPLBACKEND="Agg")
    env.update(GAUSSCLIP_DOCS_FIGURES=str(tmp / "figures"), GAUSSCLIP_DOCS_REPO=str(ROOT))
    figures = [sys.executable, "-m", "paper_figures", "--tiny", "--jobs", "1"]
    run = subprocess.run(
        [*figures, "--out", str(tmp / "figures")], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    html = tmp / "html"
    start = time.perf_counter()
    sphinx = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q"]
    build = subprocess.run(
        [*sphinx, "-d", str(tmp / "doctrees"), str(source), str(html)],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    assert build.returncode == 0, f"sphinx-build failed:\n{build.stderr[-6000:]}"
    print(f"\nsite built in {seconds:.1f} s into {html}")
    return html


def pages_of(html):
    return sorted(
        path
        for path in html.rglob("*.html")
        if not path.relative_to(html).parts[0].startswith(("_static", "_sources", "_images"))
    )


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(
            "Debian's chromium is not installed and this user cannot install it "
            "(as root: apt-get install chromium; .ci/run and make test do this)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def visits(site, browser):
    """Open every page once; ``{relative path: facts}`` with what the browser saw."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = {page: name for name, page in SCREENSHOT_PAGES.items()}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    events = {}
    page.on("console", lambda m: m.type == "error" and events["console"].append(m.text))
    page.on("pageerror", lambda e: events["console"].append(str(e)))
    page.on("requestfailed", lambda r: events["failed"].append(f"{r.url} {r.failure}"))
    page.on("request", lambda r: events["requests"].append(r.url))
    results = {}
    for path in pages_of(site):
        name = path.relative_to(site).as_posix()
        events.update(console=[], failed=[], requests=[])
        response = page.goto(path.as_uri(), wait_until="load")
        mathjax = page.evaluate(MATHJAX_JS)
        facts = page.evaluate(PAGE_FACTS_JS)
        facts.update(
            loaded=response is not None and response.ok,
            mathjax=mathjax,
            prose=page.evaluate(PROSE_JS),
            console=list(events["console"]),
            failed=list(events["failed"]),
            requests=list(events["requests"]),
        )
        results[name] = facts
        if name in shots:
            target = SCREENSHOTS / f"{shots[name]}.png"
            page.screenshot(path=str(target), full_page=False)
    context.close()
    print(f"\n{len(results)} pages visited; screenshots in {SCREENSHOTS}")
    return results


def test_the_site_has_every_section(visits):
    names = set(visits)
    assert "index.html" in names and "search.html" in names
    for page in SCREENSHOT_PAGES.values():
        assert page in names
    assert sum(n.startswith("_generated/figures/fig") for n in names) == 15
    assert sum(n.startswith("_generated/notebooks/0") for n in names) >= 8
    # an API page for every public module of the package
    for path in (ROOT / "gaussclip").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not any(part.startswith("_") for part in parts):
            assert f"_generated/api/{'.'.join(parts)}.html" in names, parts
    for page in ("derivations.html", "ERRATA.html", "architecture.html", "_generated/checks.html"):
        assert page in names


def test_every_page_loads_without_console_errors(visits):
    broken = {n: f["console"] for n, f in visits.items() if not f["loaded"] or f["console"]}
    assert not broken


def test_no_local_request_fails_and_nothing_leaves_the_machine(visits):
    failed = {n: f["failed"] for n, f in visits.items() if f["failed"]}
    assert not failed
    remote = {
        n: [u for u in f["requests"] if not u.startswith(("file:", "data:", "about:", "blob:"))]
        for n, f in visits.items()
    }
    assert not {n: urls for n, urls in remote.items() if urls}


def test_every_internal_link_and_anchor_resolves(site, visits):
    ids = {(site / name).resolve(): set(facts["ids"]) for name, facts in visits.items()}
    checked, broken = 0, []
    for name, facts in visits.items():
        for href in facts["links"]:
            url = urlsplit(href)
            if url.scheme != "file":
                continue
            target = Path(unquote(url.path))
            checked += 1
            if not target.exists():
                broken.append(f"{name} -> {href}")
            elif url.fragment and target.suffix == ".html":
                if target.resolve() in ids and unquote(url.fragment) not in ids[target.resolve()]:
                    broken.append(f"{name} -> {href} (no such anchor)")
    print(f"\n{checked} internal links checked")
    assert checked > len(visits) and not broken, broken[:20]


def test_every_image_loads(visits):
    images = [(n, i) for n, f in visits.items() for i in f["images"]]
    print(f"\n{len(images)} images checked")
    assert sum("_images/fig" in i["src"] for _, i in images) >= 15
    assert not [f"{n}: {i['src']}" for n, i in images if not i["ok"]]


def test_mathematics_is_typeset_offline(visits):
    with_math = {n: f for n, f in visits.items() if f["math"]}
    print(f"\n{len(with_math)} pages with mathematics")
    # the landing page, the derivation-heavy API pages and the notebooks all carry math
    assert "index.html" in with_math and len(with_math) >= 10
    for name, facts in with_math.items():
        assert facts["mathjax"] == "typeset", name
        assert facts["typeset"] >= facts["math"] and not facts["mathErrors"], name
    raw = {n: RAW_MATH.findall(f["prose"])[:5] for n, f in visits.items()}
    assert not {n: found for n, found in raw.items() if found}


def test_search_finds_minimize(site, browser):
    page = browser.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto((site / "search.html").as_uri() + "?q=minimize", wait_until="load")
    page.wait_for_selector("ul.search li a")
    hits = page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.textContent)")
    page.close()
    assert any("minimize" in hit for hit in hits), hits


def test_notebook_pages_show_static_figures_not_widgets(visits):
    for stem in ("01_tilting", "05_joint_vs_conditional"):
        facts = visits[f"_generated/notebooks/{stem}.html"]
        assert len(facts["images"]) >= 2 and "interactive(children" not in facts["prose"]


def test_landing_page_example_runs_and_prints_its_comments():
    text = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/index.md", "exec"), {})
    printed = out.getvalue().splitlines()
    claimed = [line.split("#", 1)[1] for line in code.splitlines() if "print(" in line]
    assert len(printed) == len(claimed)
    for shown, comment in zip(printed, claimed, strict=True):
        # each comment starts with the rounded values the line prints
        numbers = [float(x) for x in re.findall(r"-?\d+\.\d+", shown)]
        expected = [float(x) for x in re.findall(r"-?\d+\.\d+", comment.split(":")[0])]
        assert numbers[: len(expected)] == pytest.approx(expected, abs=1e-3), (shown, comment)


def test_screenshots_are_written(visits):
    for name in SCREENSHOT_PAGES:
        shot = SCREENSHOTS / f"{name}.png"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_readme_and_makefile_offer_make_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make docs" in readme and "make test" in readme and "make figures" in readme
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^docs:", makefile, flags=re.M)
    assert "-W --keep-going" in makefile
