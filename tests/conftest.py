"""Light on purpose: the pure layers' tests (tests/domain, data, stats, ml, rules) build no runtime and import
neither MLflow nor DuckDB. The runtime fixtures live in tests/fixtures.py, taken by each other folder's conftest."""

# --doctest-modules imports every module under tests/: this one is a script for the orchestration venv (Prefect).
collect_ignore = ["prefect_runs.py"]

# The longest files first (measured with --durations=0): with --dist loadfile each file runs on one worker, and a
# long file handed out last kept one worker busy while the other idled, about a minute of the suite's wall time.
LONGEST_FIRST = (
    "tests/e2e/",
    "tests/loop/test_loop_trust.py",
    "tests/deploy/",
    "tests/stats/test_drift.py",
    "tests/stats/test_table_drift.py",
    "tests/ui/",
    "tests/replica/",
    "tests/store/test_durability.py",
)


def pytest_collection_modifyitems(items: list) -> None:
    def rank(item: object) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: a file's tests keep their order
