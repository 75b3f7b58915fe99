# polyfhir — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
export UV_PYTHON_DOWNLOADS := never
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: help install promtool stunnel run run-services run-stack test test-fast lint format typecheck bench-ingest bench-search bench-secondary bench-relay bench-mix clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	@command -v uv >/dev/null 2>&1 || { $(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet uv; }

install: $(if $(shell command -v uv 2>/dev/null),,$(TOOLS)/bin/uv) ## Install uv (if missing) and every dependency into .venv (and promtool and stunnel, as root with apt)
	$(UV) sync --frozen --python $(PYTHON) --all-packages
	@$(MAKE) --no-print-directory promtool
	@$(MAKE) --no-print-directory stunnel

promtool: ## Install promtool (Debian package prometheus) for the alert rule tests, where apt and root allow
	@command -v promtool >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; }; }; } || \
	  echo "promtool not installed (apt-get install prometheus): the alert rule tests will skip"

stunnel: ## Install stunnel (Debian package stunnel4) for the Kafka TLS/mTLS tests, where apt and root allow
	@{ command -v stunnel4 || command -v stunnel; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends stunnel4 >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends stunnel4 >/dev/null 2>&1; }; }; } || \
	  echo "stunnel not installed (apt-get install stunnel4): the Kafka TLS tests will skip"

run: install ## Serve the FHIR API at http://$(HOST):$(PORT)/fhir (one process; SQLite in ./data unless POLYFHIR_PRIMARY_URL is set)
	$(UV) run --frozen polyfhir run --host $(HOST) --port $(PORT)

run-services: install ## Serve the same API as two processes: primary-store (:8081) and gateway (:$(PORT))
	@trap 'kill 0' EXIT INT TERM; \
	$(UV) run --frozen polyfhir-primary-store --host 127.0.0.1 --port 8081 & \
	POLYFHIR_PRIMARY_STORE_URL=http://127.0.0.1:8081 $(UV) run --frozen polyfhir-gateway --host $(HOST) --port $(PORT)

run-stack: install ## The whole local polyglot stack (Tansu, osmem, FalkorDB, primary-store + relay, search-, graph- and terminology-indexer, gateway) at http://$(HOST):$(PORT)/fhir; Ctrl-C stops
	$(UV) run --frozen polyfhir stack --port $(PORT)

test: install ## Install everything and run the whole test suite (three workers; SQLite and embedded PostgreSQL, both topologies)
	$(UV) run --frozen pytest -q -n 3 --dist loadfile --no-loadscope-reorder --durations=25

test-fast: install ## Unit tests only (tests/unit: pure, no I/O, no engine)
	$(UV) run --frozen pytest -q tests/unit

lint: install ## ruff lint and format check
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format: install ## Apply ruff formatting and safe fixes
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

typecheck: install ## mypy (strict) over every package and the tests
	$(UV) run --frozen mypy libs/core/src libs/servicekit/src libs/bus/src services/gateway/src services/primary-store/src services/search-indexer/src services/graph-indexer/src services/terminology-indexer/src libs/testing/src libs/engines/src src
	$(UV) run --frozen --directory tests mypy --config-file ../pyproject.toml .

bench-ingest: install ## Ingest benchmark over SQLite and PostgreSQL (see benchmarks/README.md)
	$(UV) run --frozen python benchmarks/ingest.py

bench-search: install ## Search latency per query of the mix, per backend and data size
	$(UV) run --frozen python benchmarks/search.py

bench-secondary: install ## Sync lag under steady ingest and _text on the search service vs the primary (whole stack)
	$(UV) run --frozen python benchmarks/secondary.py

bench-relay: install ## Ingest throughput with the outbox relay on vs off
	$(UV) run --frozen python benchmarks/relay.py

bench-mix: install ## Issue #18's side-by-side mix: ingest, CRUD and search mix at 1 and 8 clients, CPU per request per process
	$(UV) run --frozen python benchmarks/mix.py --topologies run,services

bench-terminology: install ## ICD-10-CM load end to end, terminology operations and code:below (whole stack)
	$(UV) run --frozen python benchmarks/terminology.py

clean: ## Remove caches and local data
	rm -rf .pytest_cache .mypy_cache .ruff_cache data
