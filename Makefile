# One command per job. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install demo serve test lint bench clean

# The product and, beside it, the tooling (tools/: frolic bench, the chaos harness, the docs
# generators), both editable: what a developer runs is what the checkout says.
$(BIN)/frolic: pyproject.toml tools/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./tools
	touch $@

install: $(BIN)/frolic

demo: install
	$(BIN)/frolic demo

serve: install
	$(BIN)/frolic serve

lint: install
	$(BIN)/ruff check frolic tools tests benchmarks
	$(BIN)/ruff format --check frolic tools tests benchmarks
	$(BIN)/mypy

# The page tests drive Debian's chromium headless. Where it is missing (a fresh CI machine)
# and we are root, install it; without it they skip, or fail when CI is set.
test: lint
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && { \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || { \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; }; } || true
	$(BIN)/pytest

# The allocate benchmark's baseline is redis-benchmark (Debian's redis-tools) when it can be
# had; without it, a Python client stands in and the output says so.
bench: install
	command -v redis-benchmark >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null; } || true
	$(BIN)/frolic bench all --json

clean:
	rm -rf $(VENV) .frolic .mypy_cache .ruff_cache .pytest_cache
