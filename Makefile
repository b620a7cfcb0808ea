# courtflow: `make demo` runs the pipeline end to end offline; `make test` runs the tests.
# Every target does its own set-up: checks Python, installs uv if missing, syncs the
# virtual environment from uv.lock.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
PY := $(VENV)/bin/python
export UV_LINK_MODE ?= copy

.PHONY: help setup docs demo test test-under-load test-unit test-integration test-slow lint typecheck bench compat clean reliability

help:
	@echo "make demo   - run the courtlistener_pipeline DAG end to end (SQLite + sandbox, offline)"
	@echo "make test   - run the test suite (unit + integration: PostgreSQL, sandbox, Airflow)"
	@echo "make test-under-load - make test's suite while one busy process keeps a core busy (not in CI)"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make reliability - faults, restarts, poison, hostile server; writes reliability/RESULTS.md"
	@echo "make soak   - 300 cron-style catch-up runs against a changing sandbox, audits; writes reliability/SOAK.md"
	@echo "make lint   - ruff + mypy --strict"
	@echo "make docs   - build the documentation site into site/ (strict: a warning fails)"
	@echo "make compat - the wheel with the oldest and newest supported Airflow (before a release)"

setup: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "error: courtflow needs Python >= 3.11, found $$($(PYTHON) --version 2>&1) at $$(command -v $(PYTHON)); set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
	  { echo "uv not found: installing it with pip" >&2; $(PYTHON) -m pip install --quiet uv || \
	    { echo "error: could not install uv with '$(PYTHON) -m pip install uv'; install uv (https://docs.astral.sh/uv/) and retry" >&2; exit 1; }; }
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $@

demo: setup
	$(PY) -m courtflow.demo

docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

TEST_CMD = $(PY) -m pytest -q -m "not slow" tests

test: setup
	$(TEST_CMD)

# The same suite on a busy machine: no test may depend on how fast the host is (#28).
# One spinning interpreter keeps a core busy for the whole run; the trap ends it however
# the run ends (pass, fail, Ctrl-C). Not in CI: it proves the suite is load-proof.
test-under-load: setup
	@$(PYTHON) -c "while True: pass" & busy=$$!; \
	trap 'kill $$busy 2>/dev/null; wait $$busy 2>/dev/null' EXIT; trap 'exit 130' INT TERM HUP; \
	echo "test-under-load: busy process $$busy keeps a core busy"; \
	start=$$(date +%s); \
	$(TEST_CMD); status=$$?; \
	echo "test-under-load: exit $$status after $$(( $$(date +%s) - start ))s (load: $$(cut -d' ' -f1-3 /proc/loadavg))"; \
	exit $$status

test-unit: setup
	$(PY) -m pytest -q tests/unit

test-integration: setup
	$(PY) -m pytest -q -m "not slow" tests/integration

test-slow: setup
	$(PY) -m pytest -q -m slow tests

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks reliability
	$(VENV)/bin/mypy --strict src

bench: setup
	$(PY) -m benchmarks

# The whole reliability suite (loopback only; its own PostgreSQL cluster for restarts):
# the reliability tests, slow ones included, then the scenario table.
RELIABILITY_TESTS := tests/unit/store/test_store_dbretry.py tests/unit/store/test_store_poison.py \
	tests/unit/core/test_config_bounds.py tests/integration/store/test_store_rejects.py \
	tests/integration/run/test_sync_hostile.py tests/integration/run/test_sync_db_restart.py \
	tests/integration/test_cli_reliability.py tests/integration/airflow/test_airflow_celery.py
reliability: setup
	$(PY) -m pytest -q $(RELIABILITY_TESTS)
	$(PY) -m reliability --out reliability/RESULTS.md

# Not in `make test`: 300+ cron-style catch-up runs (one every few seconds) against a
# sandbox streaming edits, inserts and deletions, an audit every 50 runs, and an exact
# comparison with the sandbox at the end (about an hour here). SOAK_ARGS shortens it,
# e.g. make soak SOAK_ARGS="--runs 30 --interval 1 --db sqlite".
SOAK_ARGS ?=
soak: setup
	$(PY) -m reliability.soak --out reliability/SOAK.md $(SOAK_ARGS)

# Before a release: build the wheel, install it in fresh virtual environments (from PyPI)
# with the oldest and the newest supported Airflow and run a DAG under `airflow dags
# test` with each; and check that the core alone (`pip install courtflow`) brings no
# Airflow and `courtflow sync` runs. COMPAT_AIRFLOW overrides the versions tried.
compat: setup
	UV="$(UV)" $(PY) tests/integration/airflow/compat_check.py $(if $(COMPAT_AIRFLOW),--airflow $(COMPAT_AIRFLOW))

clean:
	rm -rf .demo .pytest_cache .mypy_cache
