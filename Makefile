# fairgate: the two commands are `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest bench install browser clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: initialise ./var, load the sample catalog if empty, serve http://127.0.0.1:$${FAIRGATE_PORT:-8000}
run: install
	$(VENV)/bin/fairgate run

## make test: install everything, lint, type-check and run the whole suite (PostgreSQL and Chromium included)
test: install browser lint typecheck pytest

lint: install
	$(VENV)/bin/ruff check catalog schemas consent harvesters access tests bench

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest

browser:
	@bash scripts/ensure-browser-tools.sh

## make bench: every benchmark, each figure printed beside its same-run baseline
bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
