# funnelflow: `make demo` and `make test` are all a new user needs (see README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# airflow standalone starts its parts as `airflow ...` processes, found on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
FUNNELFLOW_HOME ?= $(CURDIR)/.funnelflow
export FUNNELFLOW_HOME
# Airflow's state stays inside FUNNELFLOW_HOME unless the user chose otherwise.
AIRFLOW_HOME ?= $(FUNNELFLOW_HOME)/airflow
export AIRFLOW_HOME
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__EXECUTOR ?= LocalExecutor
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS ?= admin:admin
export AIRFLOW__API__PORT ?= 8080
# The marketing database as an Airflow connection that Airflow's own SQL hooks read too (the weekly
# report's data-quality checks): JSON form, because Airflow's URI parser mangles sqlite:////abs/path.
AIRFLOW_CONN_MARKETING_DB ?= {"conn_type": "sqlite", "host": "$(FUNNELFLOW_HOME)/marketing.db"}
export AIRFLOW_CONN_MARKETING_DB

.PHONY: help install install-dev demo test lint bench airflow stack stack-stop test-stack test-browser lock clean

help:
	@echo "make demo     build a fresh local database, synthetic leads, and run every DAG once"
	@echo "make test     ruff and the whole test suite (SQLite, and PostgreSQL when it answers)"
	@echo "make airflow  airflow standalone with funnelflow's DAGs and plugin on :8080"
	@echo "make stack    the production shape on this machine: CeleryExecutor, each part its own process"
	@echo "make stack-stop  end exactly the processes make stack started"
	@echo "make bench    the benchmarks"
	@echo "make lock     recompile requirements*.txt from requirements*.in"

# The venv is rebuilt when the pins change. The repo goes on the venv's path
# through a .pth file: funnelflow runs from the repo and is not packaged.
$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -c "import sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()['purelib'], 'funnelflow-repo.pth').write_text('$(CURDIR)\n')"
	$(BIN)/python -m pip check
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

$(AIRFLOW_HOME)/airflow.db: | $(BIN)/.installed
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)

demo: $(BIN)/.installed $(AIRFLOW_HOME)/airflow.db
	$(BIN)/python -m funnelflow_airflow.demo

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(BIN)/.installed-dev lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q $(PYTEST_ARGS)

# The funnel under the real scheduler and Celery worker; starts and stops its own stack.
test-stack: $(BIN)/.installed-dev
	$(BIN)/python -m pytest -q -m stack tests/stack $(PYTEST_ARGS)

# What people see, in headless Chromium (Debian's chromium and chromium-driver; .ci/run installs them).
test-browser: $(BIN)/.installed-dev
	$(BIN)/python -m pytest -q -m browser tests/browser $(PYTEST_ARGS)

bench: $(BIN)/.installed
	$(BIN)/python -m bench $(BENCH_ARGS)

airflow: $(BIN)/.installed $(AIRFLOW_HOME)/airflow.db
	$(BIN)/python -m funnelflow db upgrade
	@echo "Airflow UI: http://localhost:$(AIRFLOW__API__PORT)   public app: http://localhost:$(AIRFLOW__API__PORT)/funnelflow/health"
	@if [ -f $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated ]; then \
	  echo "login (user: password): $$(cat $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated)"; \
	else echo "login: admin, with the password airflow standalone prints below on this first start"; fi
	$(BIN)/airflow standalone

stack: $(BIN)/.installed
	$(BIN)/python -m funnelflow_airflow.stack start

stack-stop: $(BIN)/.installed
	$(BIN)/python -m funnelflow_airflow.stack stop

lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements.in -o requirements.txt
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements-dev.in -o requirements-dev.txt

clean:
	rm -rf $(FUNNELFLOW_HOME)
