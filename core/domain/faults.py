"""System faults seen by the running services, for health to report until the component recovers.

A failing write (disk full, a read-only store) shows up where it happens, deep in a
cycle or the prediction flusher; health asks here, so the fault is visible on the
Operations page and at `/health` in plain words instead of only in the server log.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from core.errors import plain_fault


@dataclass(frozen=True)
class Fault:
    component: str
    message: str
    at: float


class FaultBoard:
    """The last unrecovered fault of each component; a later success clears it."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()

    def failed(self, component: str, exc: BaseException | str) -> Fault:
        message = exc if isinstance(exc, str) else plain_fault(exc)
        fault = Fault(component, message, time.time())
        with self._lock:
            self._faults[component] = fault
        return fault

    def succeeded(self, component: str) -> None:
        with self._lock:
            self._faults.pop(component, None)

    def get(self, component: str) -> Fault | None:
        return self._faults.get(component)

    def active(self) -> dict[str, Fault]:
        with self._lock:
            return dict(self._faults)


def component_of(exc: BaseException) -> str:
    """Which store a fault came from, by the exception's module: MLflow and its SQLAlchemy, DuckDB, or the OS."""
    for cause in (exc, exc.__cause__, exc.__context__):
        if cause is None:
            continue
        module = type(cause).__module__ or ""
        if module.startswith(("mlflow", "sqlalchemy", "sqlite3")):
            return "mlflow"
        if module.startswith(("duckdb", "_duckdb")):
            return "duckdb"
    return "disk" if isinstance(exc, OSError) else "pipeline"
