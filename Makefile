# Two commands on a fresh machine: `make run` (portal with demo data on :8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench lrs-conformance clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The sample LTI tool (計算ドリル) runs beside the portal on localhost:8001 and stops with it.
run: install
	$(BIN)/tsunagu demo setup
	$(BIN)/python -m tsunagu_sample_tool --config var/drill_tool/config.json --port 8001 & \
	TOOL=$$!; trap 'kill $$TOOL' EXIT INT TERM; \
	$(BIN)/tsunagu serve --host 127.0.0.1 --port 8000

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/roster_import.py

# The ADL LRS conformance suite against a throwaway server: SUITE=a checkout of
# adlnet/lrs-conformance-test-suite (not on npm), ARGS=more switches (docs/lrs-conformance.md).
lrs-conformance: install
	$(BIN)/python bench/lrs_conformance.py $(if $(SUITE),--suite $(SUITE)) $(ARGS)

clean:
	rm -rf $(VENV) var
