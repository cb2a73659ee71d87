"""Health and uptime: component checks now, and a periodic record to chart availability.

This is the part an external uptime monitor did for the product we replace, done
from inside: each check asks the real component (a query to DuckDB, a call to the
MLflow store, the loaded champion, the worker's heartbeat).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from core.store import Store, utcnow

log = logging.getLogger(__name__)
LATENCY_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


@dataclass(frozen=True)
class HealthReport:
    started_at: float
    uptime_seconds: float
    checks: dict[str, Check]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    required: tuple[str, ...] = field(default=("duckdb", "mlflow", "disk", "champion", "worker"))

    @property
    def healthy(self) -> bool:
        return all(self.checks[name].ok for name in self.required)


class HealthMonitor:
    """Runs the checks; `probes` maps a component to a callable returning (ok, detail)."""

    def __init__(self, store: Store, started_at: float, probes: dict[str, Callable[[], tuple[bool, str]]]) -> None:
        self.store = store
        self.started_at = started_at
        self.probes = probes

    def check(self) -> HealthReport:
        checks = {name: _run_probe(probe) for name, probe in self.probes.items()}
        latency = self.store.latency_percentiles(utcnow() - LATENCY_WINDOW) if checks["duckdb"].ok else {}
        return HealthReport(self.started_at, time.time() - self.started_at, checks, latency.get("p50_ms"), latency.get("p95_ms"))

    def record(self) -> HealthReport:
        """Check and store one health record (the worker calls this every IA_HEALTH_INTERVAL)."""
        report = self.check()
        self.store.insert_health(
            {
                "ts": utcnow(),
                "healthy": report.healthy,
                "duckdb_ok": report.checks["duckdb"].ok,
                "mlflow_ok": report.checks["mlflow"].ok,
                "champion_ok": report.checks["champion"].ok,
                "worker_ok": report.checks["worker"].ok,
                "webhook_configured": report.checks["webhook"].ok,
                "latency_p50_ms": report.latency_p50_ms,
                "latency_p95_ms": report.latency_p95_ms,
                "detail": json.dumps({name: c.detail for name, c in report.checks.items()}),
            }
        )
        return report


def _run_probe(probe: Callable[[], tuple[bool, str]]) -> Check:
    try:
        ok, detail = probe()
        return Check(ok, detail)
    except Exception as exc:
        return Check(False, f"{type(exc).__name__}: {exc}"[:300])
