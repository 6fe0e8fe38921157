# Development entry points. `make run` starts the whole service locally; `make test` is what CI runs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROCFILE ?= Procfile

.PHONY: help venv system-deps proto proto-check web run up test screenshots resilience lint py-fix bench lock clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install the locked dependencies (again only when they change)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

system-deps: ## install ffmpeg, PostgreSQL, Redis, wrk, Chromium when missing (apt-get, as root or with sudo)
	@bash scripts/bootstrap.sh

NODE_STAMP := node_modules/.installed
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/build.mjs

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

web: web/dist/manifest.json ## bundle the pages' scripts and styles (npm ci, esbuild) into web/dist

web/dist/manifest.json: $(NODE_STAMP) $(WEB_SOURCES)
	node web/build.mjs

proto: venv ## regenerate the gRPC code from proto/
	bash scripts/proto.sh gen

proto-check: venv ## fail when the generated gRPC code is stale
	bash scripts/proto.sh check

run: system-deps venv web ## start everything (infrastructure, migrations, every service); Ctrl-C stops it
	$(PY) -m devstack run --procfile $(PROCFILE)

up: system-deps venv ## infrastructure and migrations only, printing its environment
	$(PY) -m devstack up --print-env

test: system-deps venv proto-check web ## the test suite against real PostgreSQL, Redis, SeaweedFS and FFmpeg, with coverage
	$(VENV)/bin/pytest --cov --cov-report=term-missing:skip-covered --cov-fail-under=80 --durations=30

screenshots: system-deps venv web ## PNGs of every page at desktop and phone width into docs/screenshots/ (axe-core checks them too)
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots TEST_START_TIMEOUT_SECONDS=$${TEST_START_TIMEOUT_SECONDS:-180} \
	  $(VENV)/bin/pytest -q -p no:cacheprovider tests/web/test_every_page.py

resilience: system-deps venv ## a whole stack under supervisord, faults injected with traffic flowing; a table, non-zero on any loss
	$(PY) -m resilience

lint: venv ## ruff, mypy, the import contracts (import-linter), buf lint and buf breaking
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	bash scripts/proto.sh lint
	bash scripts/proto.sh breaking

py-fix: venv ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: system-deps venv web ## the benchmarks, side by side with the usual tools
	$(PY) -m bench

lock: ## re-resolve pyproject.toml's dependencies and rewrite requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	{ echo "# Exact versions of every runtime and dev dependency (pip freeze of .venv). Regenerate: make lock"; \
	  $(PY) -m pip freeze --exclude-editable --exclude lecture-media; } > requirements.lock
	@touch $(STAMP)

clean: ## remove caches, coverage data and the local state of `make run` (.devstack)
	rm -rf web/dist .devstack .pytest_cache .mypy_cache .ruff_cache htmlcov coverage.xml .coverage .coverage.*
	find . -path ./$(VENV) -prune -o -path ./node_modules -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean ## clean, and remove the virtualenv too
	rm -rf $(VENV) *.egg-info
