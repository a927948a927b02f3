"""Sphinx configuration of the gaussclip documentation website (``make docs``).

The site is built from the repository as it is: the API reference from the numpydoc docstrings
(grouped as ``docs/architecture.md`` groups the modules), one page per paper figure generated from
``figures/*.json`` (folder set by ``$GAUSSCLIP_DOCS_FIGURES``), the notebooks with their stored
outputs, the Markdown notes, and the symbolic checks table from ``gaussclip.symbolic.checks()``.
``docs/_ext/gaussclip_docs.py`` writes the generated pages into ``docs/_generated/`` (git-ignored)
before Sphinx reads the sources. MathJax 3 comes from a PyPI wheel and is copied into the site, so
the pages render their mathematics from ``file://`` with no network.
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = Path(os.environ.get("GAUSSCLIP_DOCS_REPO") or DOCS.parent).resolve()
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(REPO))

import gaussclip  # noqa: E402

project = "gaussclip"
author = "the gaussclip authors"
copyright = "the gaussclip authors, MIT License"
version = release = gaussclip.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",  # also registers myst_parser for the Markdown pages
    "gaussclip_docs",
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "README.md", "**.ipynb_checkpoints"]
templates_path = []

# -- API reference -----------------------------------------------------------------------------
autosummary_generate = False  # tables only: every object is documented on its module's page
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types
add_module_names = False
numpydoc_show_class_members = False  # members are documented by autodoc on the same page
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# numpydoc's structural checks of every docstring: a parameter documented twice or a section
# numpydoc cannot parse is a build error (-W); style checks (summary length, full stops) are
# not enforced here, ruff and the reviewers own those.
numpydoc_validation_checks = {"GL08", "PR02", "PR06"}

# -- Markdown and notebooks --------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # notebooks are rendered from their stored outputs, never re-executed
# The slider cells of notebooks 01 and 05 are live-Jupyter only: the site shows the static
# figure the notebook draws beside them, and loads no widget JavaScript (it would need a CDN).
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_merge_streams = True

# -- HTML --------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"gaussclip {release}"
html_static_path = []
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
    "icon_links": [],
}
# Pages without children get no (empty) section navigation.
html_sidebars = {
    page: []
    for page in ("index", "search", "derivations", "ERRATA", "architecture", "_generated/checks")
}
html_sidebars["_generated/pages/*"] = []
# The theme reads the light/dark mode from this (an empty value is a console error).
html_context = {"default_mode": "auto"}

# -- Mathematics, offline ----------------------------------------------------------------------
# A path (not a URL) is resolved against the site's _static/ folder; gaussclip_docs copies the
# MathJax 3 es5 build there. The SVG output needs no web fonts, so it also works from file://.
mathjax_path = "mathjax/tex-svg-full.js"
mathjax3_config = {"svg": {"fontCache": "global"}}
