"""The teaching notebooks: each runs without error in fast mode, and each stored copy is
executed (outputs and plots present) and ends with exercises.

Fast mode (``GAUSSCLIP_FAST=1``) is what the notebooks themselves shrink on: sample counts,
epochs, the experiments' ``tiny`` presets and synthetic digits, so no network is needed. The
kernel runs in ``tmp_path`` caches and the Agg backend. Notebooks are *discovered*: a new
``notebooks/*.ipynb`` is tested automatically.
"""

import importlib.util
import re
import sys

import nbformat
import pytest

from paper_figures.paths import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: The eight notebooks of the course (01_tilting .. 08_lagrangian_retrieval).
MIN_NOTEBOOKS = 8
#: Stored notebooks keep their plots at modest resolution; this bounds a runaway output.
MAX_STORED_BYTES = 600_000
EXERCISES_HEADING = re.compile(r"^#+\s*Exercises\b", re.IGNORECASE)


def _runner():
    spec = importlib.util.spec_from_file_location("notebook_runner", NOTEBOOK_DIR / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _runner()


@pytest.fixture
def fast_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def test_every_notebook_is_found():
    assert len(NOTEBOOKS) >= MIN_NOTEBOOKS, [p.name for p in NOTEBOOKS]
    assert run.notebooks() == NOTEBOOKS


def test_kernel_is_this_python(fast_env):
    """ipykernel's native "python3" kernel is started with the interpreter running the tests
    (jupyter_client replaces the kernelspec's bare ``python`` by ``sys.executable``)."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable, end='')"))
    path = fast_env / "probe.ipynb"
    nbformat.write(nb, path)
    executed, _ = run.execute(path, fast=True)
    assert executed.cells[0].outputs[0]["text"] == sys.executable


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode(path, fast_env):
    executed, _ = run.execute(path, fast=True)  # raises CellExecutionError on any cell error
    errors = [
        out
        for cell in executed.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_notebook_is_executed_and_ends_with_exercises(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "a notebook without code"
    # executed top to bottom in one session: counts 1, 2, 3, ...
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    outputs = [out for cell in code for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert any("image/png" in out.get("data", {}) for out in outputs), "no stored plot"
    assert "widgets" not in nb.metadata, "widget state should not be stored"
    assert path.stat().st_size < MAX_STORED_BYTES
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and EXERCISES_HEADING.match(last.source), (
        "the last cell must be a markdown cell headed 'Exercises'"
    )
