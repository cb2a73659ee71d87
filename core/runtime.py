"""Builds and owns the process singletons of one workspace, and hands the doors its use cases.

DuckDB allows one read-write process per file and the scheduler must run once per
process, so everything stateful is created here, once, and closed here, once. Building a
runtime opens no port: starting the REST API is the launcher's job (`core.startup`,
`python -m core.api`). Heavy imports (mlflow) happen when the runtime is built, not when a
page imports this.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from functools import partial

from core.actions.data import DataActions
from core.actions.feedback import FeedbackActions
from core.actions.models import Comparison, ModelActions, TrainOutcome
from core.actions.serving import Serving
from core.config import Settings
from core.domain.faults import FaultBoard
from core.io.notify import Notifier
from core.loop.control import LoopControl
from core.loop.pipeline import MonitoringPipeline
from core.loop.scheduler import Scheduler
from core.loop.worker_news import WorkerNews
from core.services import controls
from core.services.health import HealthMonitor, Server, component_probes
from core.services.insights import Insights, Overview
from core.services.predictor import Predictor
from core.services.registry import ModelRegistry
from core.services.repair import repair_at_start
from core.services.retention import run_maintenance
from core.store import Store
from core.store.journal import Journal

log = logging.getLogger(__name__)

__all__ = ["Comparison", "Overview", "Runtime", "Server", "TrainOutcome", "close_runtime", "get_runtime", "is_built"]


class Runtime:
    """One workspace's services, wired. The doors (pages, ui, the API and its metrics, scripts) reach only the use
    cases, each named for what a person does with it:

    - `models`: train, gate by hand (approve, reject, promote, roll back), compare, the runs' MLflow links;
    - `data`: generate, import, edit, delete datasets, send one to the loop;
    - `serving`: predict one row, a batch or a file, flush the log, store a replica's forwarded batch;
    - `feedback`: labels for served predictions;
    - `loop`: start, pause, tune, run a cycle or maintenance now, the stream, the worker's state;
    - `insights`: every read the doors show (stored facts, the Overview, explanations, a cycle in full);
    - `health`: the component checks, uptime, the REST API's address, the webhook;
    - `settings` and `schema`: the workspace's configuration and its columns.

    The services under them (`store`, `tracker`, `registry`, `predictor`, `notifier`, `pipeline`, `scheduler`) stay
    attributes for tests and benchmarks; tests/core/test_layers.py keeps the doors off them.
    """

    def __init__(self, settings: Settings | None = None, progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings or Settings.from_env()
        logging.basicConfig(level=self.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.progress = progress or (lambda _step: None)
        self.started_at = time.time()
        self.faults = FaultBoard()
        self.training_lock = threading.Lock()
        self.api_server: Server | None = None
        self._server_lock = threading.Lock()  # a server attached while the runtime closes is stopped, never left running
        self.progress(f"Opening the DuckDB workspace {self.settings.duckdb_path.name}")
        self.store = Store(self.settings.duckdb_path, self.settings.n_features)
        self.schema = self.store.schema
        self._closed = False
        try:
            self._build_services()
        except BaseException:
            self.close()
            raise

    def _build_services(self) -> None:
        self.progress("Opening the MLflow store")
        from core.tracking import Tracker, check_mlflow_files  # mlflow costs seconds to import: only when a runtime is built

        s, store = self.settings, self.store
        check_mlflow_files(s, store.counts()["models"])
        self.tracker = Tracker(s.mlflow_tracking_uri, s.mlflow_artifacts_dir, s.experiment_name, s.registered_model_name)
        self.registry = ModelRegistry(store, self.tracker, s)
        self.predictor = Predictor(
            store, self.registry, s.max_samples_per_request, s.prediction_flush_rows, s.prediction_flush_seconds,
            s.feature_max_abs, Journal(s.data_dir / "journal", s.prediction_fsync),
        )  # fmt: skip
        self.notifier = Notifier(
            store, s.discord_webhook_url, timeout=s.notify_timeout, retries=s.notify_retries,
            backoff=s.notify_backoff, cooldown=s.alert_cooldown_seconds, deadline=s.notify_deadline, workspace=s.workspace_name,
        )  # fmt: skip
        self.progress("Replaying the prediction journal, repairing what a stop left half-done")
        self.repairs = repair_at_start(store, self.tracker, self.notifier, self.predictor.replayed, s.alert_max_age_seconds)
        self.registry.champion_version = store.champion_version()
        self.registry.backfill_missing(self.progress)
        live_settings = partial(controls.effective_settings, s, store)
        self.data = DataActions(store, s)
        self.models = ModelActions(store, self.registry, self.notifier, s, self.training_lock, live_settings, self.data)
        if s.starter_model:
            self.models.ensure_starter(self.progress)
        self.serving = Serving(store, self.predictor, s)
        self.feedback = FeedbackActions(store, self.predictor, s)
        self.pipeline = MonitoringPipeline(
            store, self.registry, self.notifier, s, self.faults, self.training_lock, self.feedback, self.predictor
        )
        maintenance = partial(run_maintenance, store, self.tracker, s, self.pipeline.lock, self.faults)
        self.progress("Starting the loop")
        news = WorkerNews(store, self.notifier, s)
        self.scheduler = Scheduler(
            self.pipeline.run_cycle_locked, self.pipeline.lock, live_settings().scheduler_interval, health=lambda: self.health.record(),
            health_interval=s.health_interval, maintenance=maintenance, maintenance_interval=s.retention_interval,
            on_error=news.error, on_state=news.state,
        )  # fmt: skip
        self.loop = LoopControl(store, self.scheduler, self.pipeline, s, maintenance)
        probes = component_probes(s, store, self.registry, self.predictor, self.scheduler, self.tracker, self.notifier, self.faults,
                                  self.loop.status)  # fmt: skip
        self.health = HealthMonitor(store, self.started_at, probes, self.notifier, lambda: self.api_server, s.api_token)
        self.insights = Insights(store, s, self.registry, self.started_at, self.loop.worker_status, self.loop.status)
        if s.scheduler_autostart:
            self.scheduler.start(paused=store.get_setting("scheduler.state") == "paused")

    def attach_server(self, server: Server) -> None:
        """A launcher started `server` over this runtime: shown on the Operations page, stopped on close
        (at once when the runtime closed while the server was starting)."""
        with self._server_lock:
            if not self._closed:
                self.api_server = server
                return
        server.stop()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, cycle_wait: float = 60.0) -> None:
        """Stop the servers and the worker, wait for a cycle under way, drain alerts, flush the prediction
        log, release the DuckDB file."""
        with self._server_lock:
            if self._closed:
                return
            self._closed = True
        pipeline = getattr(self, "pipeline", None)
        if pipeline is not None and not pipeline.lock.acquire(timeout=cycle_wait):
            log.error("a monitoring cycle still runs after %.0f s; closing the workspace under it", cycle_wait)
        for part, action in (("api_server", "stop"), ("scheduler", "stop"), ("notifier", "close"), ("predictor", "close")):
            service = getattr(self, part, None)  # absent when start-up failed midway
            if service is not None:
                getattr(service, action)()
        self.store.close()


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime(settings: Settings | None = None, progress: Callable[[str], None] | None = None) -> Runtime:
    """The process's runtime, built on first use; later calls return the same object."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime(settings, progress)
        return _runtime


def close_runtime(which: Runtime | None = None) -> None:
    """Close the process's runtime; with `which`, only if that one is still the process's runtime (a cache
    releasing a runtime a workspace switch already replaced must not close the new one)."""
    global _runtime
    with _runtime_lock:
        if which is not None and which is not _runtime:
            which.close()  # closed already when it was replaced: closing is idempotent
        elif _runtime is not None:
            _runtime.close()
            _runtime = None


atexit.register(close_runtime)  # Ctrl-C on the server still flushes the prediction log


def is_built() -> bool:
    return _runtime is not None


def built() -> Runtime | None:
    """The process's runtime if one is built, without building one (a switch may be opening the next)."""
    return _runtime
