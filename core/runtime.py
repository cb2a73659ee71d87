"""Builds and owns the process singletons; the one entry point for pages, the API and scripts.

DuckDB allows one read-write process per file and the scheduler must run once per
process, so everything stateful is created here, once, and closed here, once. The
use cases live in the modules that own them (`model_actions`, `data_actions`,
`loop_control`, `insight`, `health`); the methods below are the doors' one vocabulary,
so the dashboard and the API call the same thing. Building a runtime opens no port:
starting the REST API is the launcher's job (`core.startup`, `python -m core.api`).
Heavy imports (mlflow) happen when the runtime is built, not when a page imports this.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from core import controls
from core.config import Settings, sqlite_path
from core.csv_import import parse_feature_csv
from core.data_actions import DataActions
from core.errors import NoModelError, UserInputError, WorkspaceError
from core.faults import FaultBoard, component_of
from core.feedback import FeedbackActions, FeedbackReply
from core.health import HealthMonitor, HealthReport, component_probes, loop_state
from core.ingest import BATCH_HEADER, REPLICA_HEADER, checked_name, read_batch
from core.insight import Insights
from core.journal import Journal
from core.loop_control import LoopControl
from core.model_actions import Comparison, ModelActions, TrainOutcome
from core.notify import Notifier
from core.outcomes import CycleRecord, LoopState, VersionLabels, version_label
from core.pipeline import MonitoringPipeline
from core.reference import Reference
from core.registry import GateDecision, ModelRegistry
from core.repair import repair_at_start
from core.retention import apply_retention
from core.scheduler import RunNowResult, Scheduler, SchedulerStatus
from core.schema import Schema
from core.serving import BatchPrediction, Prediction, Predictor
from core.store import DatasetInfo, Store
from core.table_files import read_table
from core.tables import encode

log = logging.getLogger(__name__)

__all__ = ["Comparison", "Overview", "Runtime", "TrainOutcome", "close_runtime", "get_runtime", "is_built"]

READS = frozenset(
    {
        "models", "datasets", "dataset_frame", "cycles", "notifications", "model_events", "drift_results", "accuracy_history",
        "drift_history", "latency_history", "availability", "recent_predictions", "sample_features", "class_balance",
        "latency_percentiles", "repairs", "archives", "cycle_ids", "dataset_summary", "evaluation", "cycles_page", "model",
        "metric_facts", "last_cycle", "replica_traffic", "realised_by_version",
    }
)  # fmt: skip
INSIGHT_READS = frozenset({"boundary", "cycle_detail", "reference_sample", "batch_sample", "last_event"})


class Server(Protocol):
    """A server a launcher started over this runtime (the REST API); stopped when the runtime closes."""

    address: str
    error: str | None

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Overview:
    champion: int | None
    champion_accuracy: float | None
    last_cycle: dict | None
    scheduler_state: str
    next_run: datetime | None
    interval: float
    uptime_seconds: float
    counts: dict[str, int]
    loop: LoopState
    realised: dict | None = None  # the newest cycle that measured a realised accuracy (it stays until a newer one)


class Runtime:
    """Store, tracker, registry, predictor, notifier, pipeline, scheduler and health of one workspace."""

    def __init__(self, settings: Settings | None = None, progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings or Settings.from_env()
        logging.basicConfig(level=self.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.progress = progress or (lambda _step: None)
        self.started_at = time.time()
        self.faults = FaultBoard()
        self.training_lock = threading.Lock()
        self.api_server: Server | None = None
        self.progress(f"Opening the DuckDB workspace {self.settings.duckdb_path.name}")
        self.store = Store(self.settings.duckdb_path, self.settings.n_features)
        self._closed = False
        try:
            self._check_mlflow_files()
            self._build_services()
        except BaseException:
            self.close()
            raise

    def _check_mlflow_files(self) -> None:
        """MLflow silently creates an empty store where its file is missing; a workspace with models
        would then fail later with "Registered Model ... not found". Say so now, with the path."""
        models = self.store.counts()["models"]
        path = sqlite_path(self.settings.mlflow_tracking_uri)
        if not models or path is None:
            return
        what = f"but the workspace {self.settings.duckdb_path} records {models} model versions"
        if not path.exists():
            raise WorkspaceError(
                f"The MLflow store {path} is missing, {what}. Restore {path.name} from a backup, or move "
                f"{self.settings.duckdb_path.name} aside (or set IA_DATA_DIR to an empty folder) to start a fresh workspace."
            )
        if self.settings.mlflow_artifacts_dir is not None and not self.settings.mlflow_artifacts_dir.exists():
            raise WorkspaceError(
                f"The model artifact folder {self.settings.mlflow_artifacts_dir} is missing, {what}. Restore the folder from a "
                "backup, or start a fresh workspace (IA_DATA_DIR); the models cannot be loaded without it."
            )

    def _build_services(self) -> None:
        self.progress("Opening the MLflow store")
        from core.tracking import Tracker  # mlflow costs seconds to import: only when a runtime is built

        s = self.settings
        self.tracker = Tracker(s.mlflow_tracking_uri, s.mlflow_artifacts_dir, s.experiment_name, s.registered_model_name)
        self.registry = ModelRegistry(self.store, self.tracker, s)
        self.predictor = Predictor(
            self.store, self.registry, s.max_samples_per_request, s.prediction_flush_rows, s.prediction_flush_seconds,
            s.feature_max_abs, Journal(s.data_dir / "journal", s.prediction_fsync),
        )  # fmt: skip
        self.notifier = Notifier(
            self.store, s.discord_webhook_url, timeout=s.notify_timeout, retries=s.notify_retries,
            backoff=s.notify_backoff, cooldown=s.alert_cooldown_seconds, deadline=s.notify_deadline,
        )  # fmt: skip
        self.progress("Replaying the prediction journal, repairing what a stop left half-done")
        self.repairs = repair_at_start(self.store, self.tracker, self.notifier, self.predictor.replayed, s.alert_max_age_seconds)
        self.registry.champion_version = self.store.champion_version()
        missing = self.store.versions_without_evaluation()
        if missing:
            self.progress("Evaluating versions trained before evaluations were stored")
            backfilled = self.registry.backfill_evaluations(missing)
            if backfilled:
                log.info("stored the evaluations of %s", ", ".join(map(version_label, backfilled)))
        self.data = DataActions(self.store, s)
        self.models = ModelActions(self.store, self.registry, self.notifier, s, self.training_lock, self.live_settings)
        if s.starter_model:
            self.ensure_starter()
        self.feedback = FeedbackActions(self.store, self.predictor, s)
        self.pipeline = MonitoringPipeline(self.store, self.registry, self.notifier, s, self.faults, self.training_lock, self.feedback)
        self.insights = Insights(self.store, s, self.registry.load)
        self.progress("Starting the loop")
        live = controls.effective_settings(s, self.store)
        self.scheduler = Scheduler(
            self.pipeline.run_cycle_locked, self.pipeline.lock, live.scheduler_interval, health=self.record_health,
            health_interval=s.health_interval, maintenance=self.run_maintenance, maintenance_interval=s.retention_interval,
            on_error=self._worker_error, on_state=self._scheduler_state,
        )  # fmt: skip
        self.health = HealthMonitor(self.store, self.started_at, component_probes(
            s, self.store, self.registry, self.predictor, self.scheduler, self.tracker, self.notifier, self.faults,
            self.loop_status))  # fmt: skip
        self.loop = LoopControl(self.store, self.scheduler, s)
        if s.scheduler_autostart:
            self.scheduler.start(paused=self.store.get_setting("scheduler.state") == "paused")

    def attach_server(self, server: Server) -> None:
        """A launcher started `server` over this runtime: shown on the Operations page, stopped on close."""
        self.api_server = server

    # the loop ------------------------------------------------------------------
    def live_settings(self) -> Settings:
        """Settings with the user's run-time choices (policy, interval, stream, thresholds) applied."""
        return controls.effective_settings(self.settings, self.store)

    def set_controls(self, **changes: object) -> Settings:
        return self.loop.set_controls(**changes)

    def set_stream_scenario(self, scenario: str, strength: float) -> controls.StreamState:
        return controls.set_stream_scenario(self.store, scenario, strength)

    def stream_state(self) -> controls.StreamState:
        return controls.stream_state(self.store)

    def start_loop(self) -> None:
        self.loop.start()

    def pause_loop(self) -> None:
        self.loop.pause()

    def resume_loop(self) -> None:
        self.loop.resume()

    def loop_state(self) -> dict[str, object]:
        return self.loop.state()

    def update_loop(self, state: object = None, interval: object = None, policy: object = None, thresholds: dict | None = None) -> None:
        self.loop.update(state, interval, policy, thresholds)

    def stream_info(self) -> dict[str, object]:
        return self.loop.stream_info()

    def update_stream(self, **changes: object) -> None:
        """Any of enabled, scenario, strength, batch_size, label_delay_cycles, source, position, at_end (LoopControl.update_stream)."""
        self.loop.update_stream(**changes)

    def run_cycle(self, trigger: str = "manual") -> CycleRecord:
        """One cycle now, on the caller's thread, after any cycle under way (scripts, notebooks, tests)."""
        return self.pipeline.run_cycle(trigger)

    def run_cycle_now(self) -> RunNowResult:
        """One cycle now on the worker; refused while one runs (the dashboard's and the API's button)."""
        return self.scheduler.run_now()

    def scheduler_status(self) -> SchedulerStatus:
        return self.scheduler.status()

    def loop_status(self) -> LoopState:
        """The loop as every door shows it: the worker's state, and whether its cycles fail, since when and why."""
        return loop_state(self.store, self.scheduler.state, self.pipeline.unstored)

    def run_maintenance(self) -> dict[str, int]:
        """Retention and a checkpoint, between cycles (a cycle reads the samples retention may delete)."""
        with self.pipeline.lock:
            try:
                moved = apply_retention(self.store, self.tracker, self.settings)
            except Exception as exc:
                self.faults.failed(component_of(exc), exc)
                raise
        return moved

    # alerts and health -----------------------------------------------------------
    def send_test_message(self) -> int:
        return self.notifier.send_test()

    def webhook(self) -> tuple[str, bool]:
        """The webhook as it may be shown (its secret masked), and whether one is set."""
        return self.notifier.masked_url, self.notifier.configured

    def api_status(self) -> dict[str, object]:
        """Where the REST API listens, for the Operations page."""
        server = self.api_server
        if server is None:
            return {"running": False, "address": None, "token": False, "detail": "The REST API is not running in this process "
                    "(IA_API_ENABLED=false, or started without a launcher); `make api` runs it headless."}  # fmt: skip
        if server.error:
            return {"running": False, "address": server.address, "token": False, "detail": server.error}
        return {"running": True, "address": server.address, "token": bool(self.settings.api_token), "detail": ""}

    def check_uptime(self) -> float:
        return time.time() - self.started_at

    def check_health(self) -> HealthReport:
        return self.health.check()

    def record_health(self) -> HealthReport:
        """Check and store one health record (the worker does this every IA_HEALTH_INTERVAL)."""
        return self.health.record()

    def _worker_error(self, where: str, exc: BaseException) -> None:
        try:
            self.notifier.notify("worker_error", "failure", f"Worker error in {where}", f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("could not record the worker error")

    def _scheduler_state(self, state: str) -> None:
        live = self.live_settings()
        description = f"Policy {live.policy}, every {live.scheduler_interval:g} s, stream {'on' if live.stream_enabled else 'off'}."
        self.notifier.notify("scheduler", "info", f"Scheduler {state}", description, {"Status": state})

    # reads -------------------------------------------------------------------------
    def read(self, name: str, *args: object) -> object:
        """A named read for the doors (the dashboard caches these by data version)."""
        if name in INSIGHT_READS:
            return getattr(self.insights, name)(*args)
        if name == "comparison":
            return self.compare_versions(*args)
        if name not in READS:
            raise KeyError(f"{name} is not a dashboard read")
        return getattr(self.store, name)(*args)

    def data_version(self) -> tuple:
        """Changes whenever stored data does: the dashboard's cache key."""
        return self.store.data_version()

    @property
    def features(self) -> list[str]:
        """The feature columns by the names the user gave them (feature_1 … in the demo)."""
        return self.store.schema.names

    def schema(self) -> Schema:
        return self.store.schema

    @property
    def champion_version(self) -> int | None:
        return self.registry.champion_version

    def explain(self, values: object, version: int | None = None) -> dict:
        """Why the champion (or `version`) predicts what it does for `values`: per-feature contributions."""
        version = self.registry.champion_version if version is None else version
        if version is None:
            raise NoModelError("no model yet: train one first")
        if self.store.model(version) is None:
            raise UserInputError("version", f"no version {version_label(version)}")
        model = None if self.store.schema.plain else self.registry.load(version)
        return self.insights.explain(version, values, model)

    def overview(self) -> Overview:
        champion = self.registry.champion_version
        record = self.store.model(champion) if champion is not None else None
        return Overview(
            champion, record["accuracy"] if record else None, self.store.last_cycle(), self.scheduler.state,
            self.scheduler.next_run, self.scheduler.interval, time.time() - self.started_at, self.store.counts(),
            self.loop_status(), self.store.last_realised(),
        )  # fmt: skip

    def realised_of(self, version: int) -> VersionLabels:
        """Every label received for `version`'s served predictions and how many it got right (none: 0 labels)."""
        found = self.store.realised_by_version(version)
        return found[0] if found else VersionLabels(version, 0, 0)

    def cycle_verdict(self, cycle_id: int) -> str | None:
        """The verdict a cycle stored: which signal fired, what it means and what it cannot see."""
        return self.store.cycle_verdict(cycle_id)

    def reference(self) -> Reference | None:
        """The champion's drift reference in force (None before the first model)."""
        champion = self.registry.champion_version
        return None if champion is None else self.pipeline.reference(champion)

    def compare_versions(self, versions: tuple[int, ...], dataset_id: int | None = None) -> Comparison:
        return self.models.compare(versions, dataset_id)

    # data ----------------------------------------------------------------------
    def generate_dataset(
        self, n_samples: int, scenario: str = "stable", strength: float = 1.0, seed: int | None = None, role: str = "library"
    ) -> DatasetInfo:
        return self.data.generate(n_samples, scenario, strength, seed, role)

    def import_csv(self, data: bytes | str, name: str = "imported.csv", role: str = "library") -> DatasetInfo:
        return self.data.import_csv(data, name, role)

    def update_dataset(self, dataset_id: object, name: object = None, tags: object = None) -> dict:
        return self.data.update(dataset_id, name, tags)

    def delete_dataset(self, dataset_id: object) -> int:
        return self.data.delete(dataset_id)

    def send_to_loop(self, dataset_id: int) -> DatasetInfo:
        return self.data.send_to_loop(dataset_id)

    # models --------------------------------------------------------------------------
    def train(self, trigger: str = "manual", **request: Any) -> TrainOutcome:
        """Train and gate; `request` is ModelActions.train's (window_rows, on_step, dataset_ids, options, promote).
        The gate's alert is sent as the loop's would be."""
        return self.models.train(trigger, **request)

    def promotable_versions(self) -> list[int]:
        return self.store.promotable_versions()

    def awaiting_approval(self) -> list[int]:
        return self.store.awaiting_approval()

    def approve(self, version: int) -> GateDecision:
        return self.models.approve(version)

    def reject(self, version: int) -> GateDecision:
        return self.models.reject(version)

    def rollback(self, version: int) -> GateDecision:
        return self.models.rollback(version)

    def promote(self, version: int) -> GateDecision:
        return self.models.promote(version)

    def ensure_starter(self) -> TrainOutcome | None:
        """An empty workspace gets a labelled starter dataset and model v1.0.0, so it works at once."""
        if self.store.counts()["datasets"] or self.registry.champion_version is not None or not self.store.schema.plain:
            return None
        s = self.settings
        self.progress(f"Generating the starter data ({s.starter_rows:,} synthetic rows)")
        self.data.generate_starter(s.starter_rows, s.seed)
        self.progress(f"Training {version_label(1)} on the starter data")
        outcome = self.train(trigger="starter")
        log.info("starter model %s trained on %s rows", outcome.label, outcome.n_rows)
        return outcome

    # predictions -------------------------------------------------------------------------
    def predict(self, features: object, source: str = "api", prediction_id: object = None) -> Prediction:
        return self.predictor.predict_one(features, source, prediction_id)

    def predict_batch(self, rows: object, source: str = "batch", prediction_ids: object = None) -> BatchPrediction:
        return self.predictor.predict_batch(rows, source, prediction_ids)

    def ingest_forwarded(self, replica: str | None, batch_id: str | None, body: bytes) -> dict[str, object]:
        """A serving replica's prediction batch (`core.ingest`), stored once with the replica named on each row: the
        drift tests, feedback and charts then see that traffic as if it had been served here."""
        replica, batch_id = checked_name(replica, REPLICA_HEADER), checked_name(batch_id, BATCH_HEADER)
        batch = read_batch(body, self.store.schema, self.settings.max_samples_per_request)
        stored = self.store.insert_forwarded(replica, batch_id, batch)
        return {"replica": replica, "batch": batch_id, "rows": batch.num_rows, "stored": stored}

    def send_feedback(self, labels: object, correct: object = False) -> FeedbackReply:
        """Labels for served predictions by id; each becomes an incoming labelled row of the loop."""
        return self.feedback.send(labels, correct)

    def send_feedback_csv(self, data: bytes | str, correct: bool = False) -> FeedbackReply:
        """A labels file (prediction_id,label), as the Predict page uploads it."""
        return self.feedback.send_csv(data, correct)

    def predict_csv(self, data: bytes | str) -> pd.DataFrame:
        """Batch prediction of a CSV of feature columns: the rows with prediction, confidence, version.
        A workspace with its own schema takes its columns by name (a CSV or Parquet file), checked by the schema."""
        if not self.store.schema.plain:
            frame = read_table(bytes(data.encode() if isinstance(data, str) else data), "batch.csv", self.settings.max_samples_per_request)
            X = encode(frame, self.store.schema, labelled=False, field="batch").X
            return self.predict_batch(X, source="batch").to_frame(X, self.features)
        X = parse_feature_csv(data, self.store.n_features, self.settings.max_samples_per_request, self.settings.feature_max_abs)
        return self.predict_batch(X, source="batch").to_frame(X, self.store.features)

    def flush_predictions(self) -> int:
        """Write the logged predictions to DuckDB now (they are journalled already): a page shows its own at once."""
        return self.predictor.flush()

    def run_links(self, run_ids: list[str]) -> list[str | None]:
        """Each run's page in the MLflow UI at IA_MLFLOW_UI_URL, or None when no UI address is set."""
        base = self.settings.mlflow_ui_url.rstrip("/")
        if not base:
            return [None] * len(run_ids)
        return [f"{base}/#/experiments/{self.tracker.experiment_id}/runs/{run_id}" for run_id in run_ids]

    def mlflow_ui_command(self) -> str:
        return f'mlflow ui --backend-store-uri "{self.settings.mlflow_tracking_uri}" --port 5000'

    def close(self, cycle_wait: float = 60.0) -> None:
        """Stop the servers and the worker, wait for a cycle under way, drain alerts, flush the prediction
        log, release the DuckDB file."""
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
            atexit.register(close_runtime)  # Ctrl-C on the server still flushes the prediction log
        return _runtime


def close_runtime() -> None:
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.close()
            _runtime = None


def is_built() -> bool:
    return _runtime is not None
