"""Light on purpose: the pure layers' tests (tests/domain, data, stats, ml, rules) build no runtime and import
neither MLflow nor DuckDB. The runtime fixtures live in tests/fixtures.py, taken by each other folder's conftest."""

# --doctest-modules imports every module under tests/: this one is a script for the orchestration venv (Prefect).
collect_ignore = ["prefect_runs.py"]
