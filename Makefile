# The commands of the README: `make test`, `make figures` and `make docs` (the website).
# Each creates .venv with `python3 -m venv` when missing and installs what it needs into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONSTRAINTS := .ci/constraints.txt
STAMP := $(VENV)/.installed

.PHONY: test figures figures-full docs lint format bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[test,docs]'
	touch $(STAMP)

# Debian's Chromium for the website's browser test, installed when missing and we are root
# (elsewhere the test skips and says why).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing: tests/test_docs_site.py will skip (apt-get install chromium)"; fi

test: $(STAMP) | $(CHROMIUM)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

figures: $(STAMP)
	$(PY) -m paper_figures --quick

figures-full: $(STAMP)
	$(PY) -m paper_figures --full

# The website: Sphinx into docs/_build/html/, warnings are errors. Figure pages are generated
# from $(GAUSSCLIP_DOCS_FIGURES) (default figures/), drawn in quick mode first when missing.
GAUSSCLIP_DOCS_FIGURES ?= figures
export GAUSSCLIP_DOCS_FIGURES
docs: $(STAMP)
	@if ! ls $(GAUSSCLIP_DOCS_FIGURES)/fig*.json >/dev/null 2>&1; then \
		$(PY) -m paper_figures --quick --out $(GAUSSCLIP_DOCS_FIGURES); fi
	rm -rf docs/_build/html  # no stale pages; the doctrees keep the rebuild incremental
	$(PY) -m sphinx -b html -W --keep-going -q -d docs/_build/doctrees docs docs/_build/html
	@echo "site: docs/_build/html/index.html"

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
	rm -rf $(VENV) figures docs/_build docs/_generated .pytest_cache .hypothesis .ruff_cache
