# The two commands of the README: `make test` and `make figures`.
# Each creates .venv with `python3 -m venv` when missing and installs what it needs into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONSTRAINTS := .ci/constraints.txt
STAMP := $(VENV)/.installed

.PHONY: test figures figures-full lint format bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

figures: $(STAMP)
	$(PY) -m paper_figures --quick

figures-full: $(STAMP)
	$(PY) -m paper_figures --full

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)
	$(PY) -m gaussclip bench

clean:
	rm -rf $(VENV) figures .pytest_cache .hypothesis .ruff_cache
