"""The runtime fixtures for tests of this layer (tests/fixtures.py): pure layers' tests never build one."""

import pytest

from core import startup
from tests.fixtures import mlflow_template, runtime, settings, trained_runtime  # noqa: F401


@pytest.fixture(autouse=True)
def no_switch_carried_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """A workspace a page test switched to is the process's choice (`core.startup`); the next test in this worker
    serves the one its own environment names."""
    monkeypatch.setattr(startup, "_chosen", None)
    monkeypatch.setattr(startup, "_demo", None)
