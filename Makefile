# The two commands: `make up` runs the whole system, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help setup system-deps cluster-deps browser-deps up cluster faults test test-unit lint typecheck bench bench-cluster bench-postgres screenshots clean

help:
	@echo "make up     start server, worker, SMTP; deploy; submit samples (Ctrl-C stops)"
	@echo "make cluster  the production topology: PostgreSQL, Redis, N API processes, worker hosts"
	@echo "make faults   kill, restart and cut parts of the cluster; count lost/doubled/stuck jobs"
	@echo "make test   run the whole test suite"
	@echo "make lint   ruff + mypy + import layers;  make bench  benchmarks"
	@echo "make screenshots  refresh the README's pictures of the Prefect UI (docs/screenshots/)"

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

setup: $(VENV)/.synced

# ffmpeg (Debian's package) for the video job; installed when we may, else video jobs say so.
system-deps:
	@command -v ffmpeg >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	  else echo "ffmpeg not found: video jobs fail until it is installed"; fi; }

# PostgreSQL and Redis (Debian's packages) for the cluster, its tests and the fault suite; the
# cluster's worker hosts are network namespaces (iproute2), so it runs as root.
cluster-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing (the cluster and its tests need them)"; fi; fi

# Chromium (Debian's package) for the UI tests and `make screenshots`, driven by Playwright
# through its executable: no browser download.
browser-deps:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found: the UI tests and make screenshots need it"; fi; }

up: setup system-deps
	$(PY) -m jobs up

cluster: setup system-deps cluster-deps
	$(PY) -m jobs cluster

faults: setup system-deps cluster-deps
	$(PY) -m faults

# Two test processes (pytest-xdist), a test file each at a time: each has its own server, ports
# and home, and most of a test's time is spent waiting on jobs, so two halve the wall time.
TEST_PROCESSES ?= 2
test: setup system-deps cluster-deps browser-deps
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadfile

test-unit: setup
	$(PY) -m pytest tests/unit

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Queue benchmark, the batched lane's (python -m bench.batched), the HTTP API against the
# Python client (python -m bench.http), each on an embedded SQLite server of its own;
# bench-postgres: the same on PostgreSQL.
bench: setup
	$(PY) -m bench

# Throughput of the cluster against its API processes and worker hosts.
bench-cluster: setup system-deps cluster-deps
	$(PY) -m bench.cluster

bench-postgres: setup
	bash bench/postgres.sh $(PY) -m bench

# Screenshots of the Prefect UI for the README (docs/screenshots/), from a stack of their own.
screenshots: setup browser-deps
	$(PY) -m screenshots

clean:
	rm -rf $(VENV) .tools .jobs
