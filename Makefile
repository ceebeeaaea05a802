# The README's quick start. Each target sets itself up on a fresh machine: it creates .venv if
# missing and installs the project into it (pip only reinstalls when pyproject.toml changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## run: the workbench on the built-in demo data set (DATA=path/to/animals for your own)
run: install
	$(BIN)/workbench $(if $(DATA),--data $(DATA))

## test: lint, format check, type check, and the whole test suite
test: install-test
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/ruff format --check workbench tests benchmarks
	$(BIN)/mypy workbench
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

## test-fast: the edit loop: lint, then the tests that are neither slow nor UI (about a minute)
test-fast: install-test
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/python -m pytest -m "not slow" --ignore=tests/ui -q

bench: install
	$(BIN)/workbench bench $(if $(DATA),--data $(DATA))

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
