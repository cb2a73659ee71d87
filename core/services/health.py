"""Health and uptime: component checks now, and a periodic record to chart availability.

This is the part an external uptime monitor did for the product we replace, done
from inside: each check asks the real component (a query to DuckDB, a call to the
MLflow store, the loaded champion, the worker's heartbeat).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from core.domain.faults import FaultBoard
from core.domain.outcomes import LoopState, version_label
from core.store import Store, utcnow

if TYPE_CHECKING:
    from core.config import Settings
    from core.io.notify import Notifier
    from core.loop.scheduler import Scheduler
    from core.services.predictor import Predictor
    from core.services.registry import ModelRegistry
    from core.tracking import Tracker

log = logging.getLogger(__name__)
LATENCY_WINDOW = timedelta(hours=1)
WEBHOOK_FAILURES = 3


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
    required: tuple[str, ...] = field(default=("duckdb", "mlflow", "disk", "champion", "worker", "loop"))

    @property
    def healthy(self) -> bool:
        return all(self.checks[name].ok for name in self.required)


class Server(Protocol):
    """A server a launcher started over a runtime (the REST API); stopped when the runtime closes."""

    address: str
    error: str | None

    def stop(self) -> None: ...


class HealthMonitor:
    """Runs the checks (`probes` maps a component to a callable returning (ok, detail)), and says what the
    Operations page shows beside them: uptime, where the REST API listens (`server`), the webhook."""

    def __init__(
        self, store: Store, started_at: float, probes: dict[str, Callable[[], tuple[bool, str]]], notifier: Notifier,
        server: Callable[[], Server | None], api_token: str,
    ) -> None:  # fmt: skip
        self.store = store
        self.started_at = started_at
        self.probes = probes
        self.notifier, self.server, self.api_token = notifier, server, api_token

    def uptime(self) -> float:
        return time.time() - self.started_at

    def api_status(self) -> dict[str, object]:
        """Where the REST API listens, for the Operations page."""
        server = self.server()
        if server is None:
            return {"running": False, "address": None, "token": False, "detail": "The REST API is not running in this process "
                    "(IA_API_ENABLED=false, or started without a launcher); `make api` runs it headless."}  # fmt: skip
        if server.error:
            return {"running": False, "address": server.address, "token": False, "detail": server.error}
        return {"running": True, "address": server.address, "token": bool(self.api_token), "detail": ""}

    def webhook(self) -> tuple[str, bool]:
        """The webhook as it may be shown (its secret masked), and whether one is set."""
        return self.notifier.masked_url, self.notifier.configured

    def send_test_message(self) -> int:
        """A test alert through the webhook; the notification's id."""
        return self.notifier.send_test()

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


def loop_state(store: Store, worker: str, unstored: int = 0) -> LoopState:
    """The loop's state, computed once for every door (the Overview's tile, /health, /metrics): the worker's state
    and the stored cycles that failed in a row up to the newest (with the cycles the store refused)."""
    return LoopState(worker, store.failing_streak(), unstored)


def _run_probe(probe: Callable[[], tuple[bool, str]]) -> Check:
    try:
        ok, detail = probe()
        return Check(ok, detail)
    except Exception as exc:
        return Check(False, f"{type(exc).__name__}: {exc}"[:300])


def component_probes(
    settings: Settings, store: Store, registry: ModelRegistry, predictor: Predictor, scheduler: Scheduler, tracker: Tracker,
    notifier: Notifier, faults: FaultBoard, loop: Callable[[], LoopState],
) -> dict[str, Callable[[], tuple[bool, str]]]:  # fmt: skip
    """Each component asked for real: a query, the MLflow store written, the loaded champion, the heartbeat, the
    newest cycles (`loop`: the loop's state as every door reads it)."""

    def champion() -> tuple[bool, str]:
        wanted = registry.champion_version
        if wanted is None:
            return False, "no champion yet: train a model"
        version, _model = predictor.model()
        return version == wanted, f"{version_label(version)} loaded"

    def worker() -> tuple[bool, str]:
        age = scheduler.heartbeat_age()
        state = scheduler.state
        if state == "stopped":
            if not settings.scheduler_autostart and age is None:  # never started: cycles come from POST /cycles (an orchestrator)
                return True, "not started (IA_SCHEDULER_AUTOSTART=false): cycles run when asked, POST /cycles"
            return False, "stopped"
        fresh = age is not None and age < settings.stale_after_seconds
        return fresh, f"{state}, heartbeat {age:.1f} s ago" if age is not None else state

    def duckdb() -> tuple[bool, str]:
        store.ping()
        fault = faults.get("duckdb")
        if fault is not None:
            return False, f"a write failed: {fault.message}"
        if predictor.last_flush_error:
            return False, f"the prediction log cannot be written (kept in the journal): {predictor.last_flush_error}"
        return True, "answers, writes succeed"

    def mlflow() -> tuple[bool, str]:
        ok, detail = tracker.check_writable(settings.mlflow_artifacts_dir)
        fault = faults.get("mlflow")
        return (False, f"{detail}; last failure: {fault.message}") if fault is not None else (ok, detail)

    def disk() -> tuple[bool, str]:
        free_mb = shutil.disk_usage(settings.data_dir).free / 2**20
        fault = faults.get("disk")
        if fault is not None:
            return False, f"{fault.message} ({free_mb:,.0f} MB free)"
        if free_mb < settings.min_free_mb:
            return False, f"the disk is full or nearly: {free_mb:,.0f} MB free, below IA_MIN_FREE_MB={settings.min_free_mb:g}"
        return True, f"{free_mb:,.0f} MB free"

    def webhook() -> tuple[bool, str]:
        """Configured, and not refusing: the newest WEBHOOK_FAILURES deliveries all failing is a fault to show."""
        if not notifier.configured:
            return False, "not set: alerts are stored, not sent (DISCORD_WEBHOOK_URL)"
        recent = store.recent_deliveries(WEBHOOK_FAILURES)
        if len(recent) == WEBHOOK_FAILURES and all(delivery == "failed" for delivery, _status, _error in recent):
            return False, f"{notifier.masked_url}: the last {WEBHOOK_FAILURES} alerts failed ({recent[0][2] or 'no answer'})"
        return True, notifier.masked_url

    def cycles() -> tuple[bool, str]:
        state = loop()
        return state.ok, state.describe()

    return {
        "duckdb": duckdb,
        "mlflow": mlflow,
        "disk": disk,
        "champion": champion,
        "worker": worker,
        "loop": cycles,
        "webhook": webhook,
    }
