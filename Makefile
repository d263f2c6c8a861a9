# Two commands on a fresh machine: `make run` (portal with demo data on :8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NODE_STAMP := node_modules/.installed
CHROMIUM := /usr/bin/chromium
WRK := /usr/bin/wrk
# Where `tsunagu demo setup` writes the sample tool's config (follows TSUNAGU_VAR_DIR).
VAR_DIR := $(or $(TSUNAGU_VAR_DIR),var)

.PHONY: install assets browser bench-tools messages run test lint bench lrs-bench lrs-conformance clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Browser assets the portal serves itself (htmx) and the browser tests' axe-core, from the npm
# registry at the versions package-lock.json pins (node_modules/ is not committed).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

assets: $(NODE_STAMP)

# Debian's Chromium for the Playwright browser tests (Playwright never downloads a browser here),
# with Japanese and emoji fonts so the screenshots in test-artifacts/ show text, not boxes.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-ipafont-gothic fonts-noto-color-emoji; \
	else echo "install Debian's chromium, fonts-ipafont-gothic and fonts-noto-color-emoji (sudo apt-get install ...) for the browser tests" >&2; exit 1; fi

browser: $(CHROMIUM)

# Debian's wrk, the load generator of bench/portal.py (an in-process Python client tops out near
# 300 req/s by itself, so it would measure the client rather than the portal).
$(WRK):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
	else echo "install Debian's wrk (sudo apt-get install wrk) for bench/portal.py's load (without it the bench falls back to its slower httpx client)" >&2; exit 1; fi

bench-tools: $(WRK)

# Re-extract interface text into the catalogs after changing templates (translate en, commit .po).
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ --no-location --sort-output -o src/tsunagu/web/locale/messages.pot .
	$(BIN)/pybabel update -i src/tsunagu/web/locale/messages.pot -d src/tsunagu/web/locale --ignore-obsolete

# The sample LTI tool (計算ドリル) runs beside the portal on localhost:8001 and stops with it.
run: install assets
	$(BIN)/tsunagu demo setup
	$(BIN)/python -m tsunagu_sample_tool --config $(VAR_DIR)/drill_tool/config.json --port 8001 & \
	TOOL=$$!; trap 'kill $$TOOL' EXIT INT TERM; \
	$(BIN)/tsunagu serve --host 127.0.0.1 --port 8000

test: install assets browser
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: install assets bench-tools
	$(BIN)/python bench/roster_import.py
	$(BIN)/python bench/portal.py

# xAPI LRS over HTTP on PostgreSQL up to 1 M statements (docs/lrs-benchmark.md); ARGS=--quick,
# or a peer: ARGS="--peer-url http://127.0.0.1:8100/xapi --peer-auth bench:bench --peer-name ADL_LRS".
lrs-bench: install
	$(BIN)/python bench/lrs.py $(ARGS)

# The ADL LRS conformance suite against a throwaway server: SUITE=a checkout of
# adlnet/lrs-conformance-test-suite (not on npm), ARGS=more switches (docs/lrs-conformance.md).
lrs-conformance: install
	$(BIN)/python bench/lrs_conformance.py $(if $(SUITE),--suite $(SUITE)) $(ARGS)

clean:
	rm -rf $(VENV) var node_modules test-artifacts
