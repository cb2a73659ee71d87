# Two commands on a fresh machine with Python 3.11+:  make run  |  make test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UI_HOST ?= 127.0.0.1
UI_PORT ?= 8501

.PHONY: run api test lint bench clean

$(VENV)/.app: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.app requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.app
	$(PY) -m streamlit run app.py --server.address $(UI_HOST) --server.port $(UI_PORT)

api: $(VENV)/.app
	$(PY) -m core.api

test: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

bench: $(VENV)/.dev
	$(PY) -m benchmarks.bench_core
	$(PY) -m benchmarks.bench_loop
	$(PY) -m benchmarks.bench_ui
	$(PY) -m benchmarks.bench_api
	$(PY) -m benchmarks.bench_policies
	$(PY) -m benchmarks.bench_soak

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
