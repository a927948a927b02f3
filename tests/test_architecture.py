"""docs/architecture.md stays true to the tree: every module is in the map, and every file the
map names exists."""

import re

import pytest

from paper_figures.paths import REPO_ROOT

DOC = REPO_ROOT / "docs" / "architecture.md"
#: Folders whose files the map must list, with the suffixes that count as modules.
MAPPED = {
    "gaussclip": ("*.py",),
    "paper_figures": ("*.py",),
    "benchmarks": ("*.py",),
    "notebooks": ("*.py", "*.ipynb"),
}
#: A file path as the map writes it, in backticks: `gaussclip/data/gp.py`.
NAMED = re.compile(r"`((?:" + "|".join(MAPPED) + r")/[\w./-]+\.(?:py|ipynb))`")


def _modules():
    found = []
    for folder, patterns in MAPPED.items():
        for pattern in patterns:
            for path in (REPO_ROOT / folder).rglob(pattern):
                relative = path.relative_to(REPO_ROOT)
                if not any(
                    part.startswith(".") or part == "__pycache__" for part in relative.parts
                ):
                    found.append(relative.as_posix())
    return sorted(found)


MODULES = _modules()


def test_modules_are_found():
    assert "gaussclip/minimizers.py" in MODULES
    assert any(m.startswith("paper_figures/fig") for m in MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_is_in_the_map(module):
    assert f"`{module}`" in DOC.read_text(encoding="utf-8"), (
        f"{module} is missing from docs/architecture.md: add a row saying what it holds"
    )


def test_every_file_in_the_map_exists():
    named = set(NAMED.findall(DOC.read_text(encoding="utf-8")))
    assert named, "docs/architecture.md names no files"
    missing = sorted(name for name in named if not (REPO_ROOT / name).is_file())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"
