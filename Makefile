# One command per job. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install demo serve test lint bench clean

$(BIN)/frolic: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/frolic

demo: install
	$(BIN)/frolic serve

serve: install
	$(BIN)/frolic serve

lint: install
	$(BIN)/ruff check frolic tests
	$(BIN)/ruff format --check frolic tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/frolic bench all

clean:
	rm -rf $(VENV) .frolic .mypy_cache .ruff_cache .pytest_cache
