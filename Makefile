# Two commands on a fresh machine: `make run` (portal with demo data on :8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench lrs-bench lrs-conformance clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/tsunagu demo setup
	$(BIN)/tsunagu serve --host 127.0.0.1 --port 8000

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/roster_import.py

# xAPI LRS over HTTP on PostgreSQL up to 1 M statements (docs/lrs-benchmark.md); ARGS=--quick,
# or a peer: ARGS="--peer-url http://127.0.0.1:8100/xapi --peer-auth bench:bench --peer-name ADL_LRS".
lrs-bench: install
	$(BIN)/python bench/lrs.py $(ARGS)

# The ADL LRS conformance suite against a throwaway server: SUITE=a checkout of
# adlnet/lrs-conformance-test-suite (not on npm), ARGS=more switches (docs/lrs-conformance.md).
lrs-conformance: install
	$(BIN)/python bench/lrs_conformance.py $(if $(SUITE),--suite $(SUITE)) $(ARGS)

clean:
	rm -rf $(VENV) var
