# Two commands on a fresh machine with Python 3.11+:  make run  |  make test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UI_HOST ?= 127.0.0.1
UI_PORT ?= 8501

.PHONY: run api serve image orchestrate test screenshot lint bench bench-evidently bench-estimate clean workspace

# make run WORKSPACE=name (or make api WORKSPACE=name) opens a workspace made by make workspace. Only a WORKSPACE given on
# make's command line counts: an environment variable of that name (Jenkins sets one to its build folder) is not ours.
ifeq ($(origin WORKSPACE),command line)
export IA_WORKSPACE := $(WORKSPACE)
endif

UV ?= 1

# uv installs in seconds what pip takes minutes for; pip installs uv itself, so nothing is needed
# beforehand, and plain pip takes over if uv cannot be had (or with UV=0).
define install
	if [ "$(UV)" = 1 ] && $(PY) -m pip install --quiet uv && $(PY) -m uv pip install --quiet --python $(PY) $(1); then :; \
	else $(PY) -m pip install --quiet $(1); fi
endef

$(VENV)/.app: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(call install,-r requirements.txt)
	touch $@

$(VENV)/.dev: $(VENV)/.app requirements-dev.txt
	$(call install,-r requirements-dev.txt)
	touch $@

run: $(VENV)/.app
	$(PY) -m ui.launch --server.address $(UI_HOST) --server.port $(UI_PORT)

api: $(VENV)/.app
	$(PY) -m core.api

# A serving replica of the registry's @champion (MLFLOW_TRACKING_URI), forwarding its predictions to IA_WORKBENCH_URL.
serve: $(VENV)/.app
	$(PY) -m core.serve

# The container image (Containerfile) with podman, or docker when podman is missing. BASE=, and BUILD_FLAGS= for a
# network that needs its certificate bundle mounted (.ci/run shows how).
ENGINE ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
IMAGE ?= localhost/ia-continu:latest
BASE ?= python:3.12-slim
image:
	$(ENGINE) build $(if $(findstring podman,$(ENGINE)),--format docker) $(BUILD_FLAGS) --build-arg BASE=$(BASE) -t $(IMAGE) -f Containerfile .

# make workspace FILE=path.csv NAME=name TARGET=column [CATEGORICAL=a,b] [NUMERIC=c] [IGNORE=d] [TIME=column] [ID=column]
workspace: $(VENV)/.app
	@test -n "$(FILE)" -a -n "$(NAME)" -a -n "$(TARGET)" || { echo "usage: make workspace FILE=path NAME=name TARGET=column"; exit 2; }
	$(PY) -m core.workspaces "$(FILE)" --name "$(NAME)" --target "$(TARGET)" --categorical "$(CATEGORICAL)" --numeric "$(NUMERIC)" \
		--ignore "$(IGNORE)" $(if $(TIME),--time-column "$(TIME)") $(if $(ID),--id-column "$(ID)") $(if $(INITIAL),--initial-rows "$(INITIAL)")

# Prefect, for orchestration/flow.py only, in a venv of its own: the app does not carry it.
ORCH_VENV ?= .venv-orchestrate
$(ORCH_VENV)/.done: requirements-orchestrate.txt
	$(PYTHON) -m venv $(ORCH_VENV)
	if [ "$(UV)" = 1 ] && $(ORCH_VENV)/bin/python -m pip install --quiet uv && $(ORCH_VENV)/bin/python -m uv pip install --quiet \
		--python $(ORCH_VENV)/bin/python -r requirements-orchestrate.txt; then :; \
	else $(ORCH_VENV)/bin/python -m pip install --quiet -r requirements-orchestrate.txt; fi
	touch $@

# make orchestrate [INTERVAL=30]: the loop's cycles from Prefect (flow.serve) instead of the in-process scheduler.
INTERVAL ?= 30
orchestrate: $(ORCH_VENV)/.done
	$(ORCH_VENV)/bin/python -m orchestration.flow serve $(INTERVAL)

test: $(VENV)/.dev $(ORCH_VENV)/.done
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

# The README's picture, docs/overview.png: the Overview at 1280 x 800 after a concept drift and a promotion, taken by
# the whole-loop browser test (Chromium needed). A plain test run leaves the tracked file alone.
screenshot: $(VENV)/.dev
	IA_SAVE_SCREENSHOT=1 $(PY) -m pytest -n 0 -p no:cacheprovider tests/e2e/test_e2e_browser.py::test_every_page_and_the_whole_loop_in_a_browser

bench: $(VENV)/.dev
	$(PY) -m benchmarks.bench_core
	$(PY) -m benchmarks.bench_tables
	$(PY) -m benchmarks.bench_upload
	$(PY) -m benchmarks.bench_loop
	$(PY) -m benchmarks.bench_ui
	$(PY) -m benchmarks.bench_api
	$(PY) -m benchmarks.bench_replicas
	$(PY) -m benchmarks.bench_policies
	$(PY) -m benchmarks.bench_replay examples/weather.csv --target rain
	$(PY) -m benchmarks.bench_replay --synthetic
	$(PY) -m benchmarks.bench_soak

# Our drift report beside Evidently's, in a venv of its own (Evidently 0.7 needs pandas 2).
.venv-bench/.done: requirements-bench.txt requirements.txt
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet uv && .venv-bench/bin/python -m uv pip install --quiet --python .venv-bench/bin/python -r requirements-bench.txt
	touch $@

bench-evidently: .venv-bench/.done
	.venv-bench/bin/python -m benchmarks.bench_evidently

bench-estimate: .venv-bench/.done
	.venv-bench/bin/python -m benchmarks.bench_estimate

clean:
	rm -rf $(VENV) .venv-bench $(ORCH_VENV) .pytest_cache .ruff_cache
