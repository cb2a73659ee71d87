"""Builds and owns the process singletons; the one entry point for pages and scripts.

DuckDB allows one read-write process per file and the scheduler must run once per
process, so everything stateful is created here, once, and closed here, once.
Heavy imports (mlflow) happen when the runtime is built, not when a page imports
this module.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd

from core import controls, datagen, evaluation, training, validation
from core.config import Settings, sqlite_path
from core.csv_import import parse_feature_csv, parse_labelled_csv
from core.errors import BusyError, NoModelError, RateLimited, UserInputError, WorkspaceError
from core.faults import FaultBoard, component_of
from core.health import HealthMonitor, HealthReport
from core.insight import BoundaryView, CycleDetail, Insights
from core.journal import Journal
from core.notify import Notifier
from core.pipeline import MonitoringPipeline
from core.reference import Reference
from core.registry import GateDecision, IdenticalVersion, ModelRegistry, version_label
from core.repair import repair_at_start
from core.retention import apply_retention
from core.scheduler import RunNowResult, Scheduler
from core.serving import BatchPrediction, Prediction, Predictor
from core.store import METRICS, DatasetInfo, Store
from core.store.datasets import ROLES

log = logging.getLogger(__name__)


READS = frozenset(
    {
        "models", "datasets", "dataset_frame", "cycles", "notifications", "model_events", "drift_results", "accuracy_history",
        "drift_history", "latency_history", "availability", "recent_predictions", "sample_features", "class_balance",
        "latency_percentiles", "repairs", "archives", "cycle_ids", "dataset_summary", "evaluation",
    }
)  # fmt: skip
WEBHOOK_FAILURES = 3
INSIGHT_READS = frozenset({"boundary", "cycle_detail", "reference_sample", "batch_sample", "last_event"})


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


@dataclass(frozen=True)
class Comparison:
    """Versions scored on one shared set of rows, with what that set is and how much of it each trained on."""

    evaluations: dict[str, dict]  # label -> evaluation (as stored at training time) plus "metrics"
    description: str
    n_rows: int
    seen: dict[str, int]  # label -> rows of the set inside that version's training data


@dataclass(frozen=True)
class TrainOutcome:
    version: int
    label: str
    metrics: dict[str, float]
    n_rows: int
    decision: GateDecision | None
    equal_to: int | None = None


class Runtime:
    """Store, tracker, registry, predictor, notifier, pipeline, scheduler and health of one workspace."""

    def __init__(self, settings: Settings | None = None, progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings or Settings.from_env()
        logging.basicConfig(level=self.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.progress = progress or (lambda _step: None)
        self.started_at = time.time()
        self.faults = FaultBoard()
        self.training_lock = threading.Lock()
        self._training_times: deque[float] = deque()
        self._training_times_lock = threading.Lock()
        self.api_server: object | None = None
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
        if s.starter_model:
            self.ensure_starter()
        self.pipeline = MonitoringPipeline(self.store, self.registry, self.notifier, s, self.faults, self.training_lock)
        self.insights = Insights(self.store, s)
        self.health = HealthMonitor(self.store, self.started_at, self._probes())
        self.progress("Starting the loop" + (" and the REST API" if s.api_enabled else ""))
        live = controls.effective_settings(s, self.store)
        self.scheduler = Scheduler(
            self.pipeline.run_cycle_locked, self.pipeline.lock, live.scheduler_interval, health=self.health.record,
            health_interval=s.health_interval, maintenance=self.run_maintenance, maintenance_interval=s.retention_interval,
            on_error=self._worker_error, on_state=self._scheduler_state,
        )  # fmt: skip
        if s.scheduler_autostart:
            self.scheduler.start(paused=self.store.get_setting("scheduler.state") == "paused")
        if s.api_enabled:
            from core.api import ApiServer  # FastAPI only where the API runs

            self.api_server = ApiServer(self)

    # the loop ------------------------------------------------------------------
    def live_settings(self) -> Settings:
        """Settings with the user's run-time choices (policy, interval, stream, thresholds) applied."""
        return controls.effective_settings(self.settings, self.store)

    def set_controls(self, **changes: object) -> Settings:
        """Change run-time controls; validated all at once, stored, the interval applied live."""
        controls.update_controls(self.store, **changes)
        live = self.live_settings()
        if "scheduler_interval" in changes:
            self.scheduler.set_interval(live.scheduler_interval)
        return live

    def set_stream_scenario(self, scenario: str, strength: float) -> controls.StreamState:
        return controls.set_stream_scenario(self.store, scenario, strength)

    def stream_state(self) -> controls.StreamState:
        return controls.stream_state(self.store)

    def start_loop(self) -> None:
        self.scheduler.start()
        self.store.set_setting("scheduler.state", "running")

    def pause_loop(self) -> None:
        self.scheduler.pause()
        self.store.set_setting("scheduler.state", "paused")

    def resume_loop(self) -> None:
        self.scheduler.resume()
        self.store.set_setting("scheduler.state", "running")

    def loop_state(self) -> dict[str, object]:
        live = self.live_settings()
        return {
            "state": self.scheduler.state, "interval": self.scheduler.interval, "policy": live.policy,
            "next_run": self.scheduler.next_run.isoformat() if self.scheduler.next_run else None,
            "thresholds": {name: getattr(live, name) for name in controls.CONTROLS if name not in ("policy", "scheduler_interval")},
        }  # fmt: skip

    def update_loop(self, state: object = None, interval: object = None, policy: object = None, thresholds: dict | None = None) -> None:
        """Change the loop from one call: every value is validated before any is applied."""
        changes = dict(thresholds or {})
        if interval is not None:
            changes["scheduler_interval"] = interval
        if policy is not None:
            changes["policy"] = policy
        if state is not None:
            validation.choice(state, "state", ("running", "paused"))
        for name, value in changes.items():
            if not isinstance(value, bool | int | float | str):
                raise UserInputError(name, f"expected a number, a word or true/false, got {validation.shown(value)}")
        if changes:
            self.set_controls(**changes)
        if state == "running":
            self.resume_loop()
        elif state == "paused":
            self.pause_loop()

    def stream_info(self) -> dict[str, object]:
        live, stream = self.live_settings(), self.stream_state()
        return {"enabled": live.stream_enabled, "scenario": stream.scenario, "strength": stream.strength,
                "batch_size": live.stream_batch_size, "since_cycle": stream.since_cycle}  # fmt: skip

    def update_stream(self, enabled: object = None, scenario: object = None, strength: object = None, batch_size: object = None) -> None:
        current = self.stream_state()
        changes = {k: v for k, v in (("stream_enabled", enabled), ("stream_batch_size", batch_size)) if v is not None}
        if scenario is not None or strength is not None:
            spec = datagen.Scenario(current.scenario if scenario is None else scenario, current.strength if strength is None else strength)
        for name, value in changes.items():
            if not isinstance(value, bool | int | float):
                raise UserInputError(
                    name, f"expected {'true or false' if name == 'stream_enabled' else 'a whole number'}, got {validation.shown(value)}"
                )
        if changes:
            self.set_controls(**changes)
        if scenario is not None or strength is not None:
            self.set_stream_scenario(spec.name, spec.strength)

    def run_cycle_now(self) -> RunNowResult:
        return self.scheduler.run_now()

    def run_maintenance(self) -> dict[str, int]:
        """Retention and a checkpoint, between cycles (a cycle reads the samples retention may delete)."""
        with self.pipeline.lock:
            try:
                moved = apply_retention(self.store, self.tracker, self.settings)
            except Exception as exc:
                self.faults.failed(component_of(exc), exc)
                raise
        return moved

    def send_test_message(self) -> int:
        return self.notifier.send_test()

    def api_status(self) -> dict[str, object]:
        """Where the REST API listens, for the Operations page."""
        server = self.api_server
        if server is None:
            return {"running": False, "address": None, "token": False, "detail": "The REST API is off here (IA_API_ENABLED=false); "
                    "`make api` runs it headless."}  # fmt: skip
        if server.error:
            return {"running": False, "address": server.address, "token": False, "detail": server.error}
        return {"running": True, "address": server.address, "token": bool(self.settings.api_token), "detail": ""}

    def check_uptime(self) -> float:
        return time.time() - self.started_at

    def check_health(self) -> HealthReport:
        return self.health.check()

    def _probes(self) -> dict:
        def champion() -> tuple[bool, str]:
            wanted = self.registry.champion_version
            if wanted is None:
                return False, "no champion yet: train a model"
            version, _model = self.predictor.model()
            return version == wanted, f"{version_label(version)} loaded"

        def worker() -> tuple[bool, str]:
            age = self.scheduler.heartbeat_age()
            state = self.scheduler.state
            if state == "stopped":
                return False, "stopped"
            fresh = age is not None and age < self.settings.stale_after_seconds
            return fresh, f"{state}, heartbeat {age:.1f} s ago" if age is not None else state

        def duckdb() -> tuple[bool, str]:
            self.store.ping()
            fault = self.faults.get("duckdb")
            if fault is not None:
                return False, f"a write failed: {fault.message}"
            if self.predictor.last_flush_error:
                return False, f"the prediction log cannot be written (kept in the journal): {self.predictor.last_flush_error}"
            return True, "answers, writes succeed"

        def mlflow() -> tuple[bool, str]:
            ok, detail = self.tracker.check_writable(self.settings.mlflow_artifacts_dir)
            fault = self.faults.get("mlflow")
            return (False, f"{detail}; last failure: {fault.message}") if fault is not None else (ok, detail)

        def disk() -> tuple[bool, str]:
            free_mb = shutil.disk_usage(self.settings.data_dir).free / 2**20
            fault = self.faults.get("disk")
            if fault is not None:
                return False, f"{fault.message} ({free_mb:,.0f} MB free)"
            if free_mb < self.settings.min_free_mb:
                return False, f"the disk is full or nearly: {free_mb:,.0f} MB free, below IA_MIN_FREE_MB={self.settings.min_free_mb:g}"
            return True, f"{free_mb:,.0f} MB free"

        def webhook() -> tuple[bool, str]:
            """Configured, and not refusing: the newest WEBHOOK_FAILURES deliveries all failing is a fault to show."""
            if not self.notifier.configured:
                return False, "not set: alerts are stored, not sent (DISCORD_WEBHOOK_URL)"
            recent = self.store.recent_deliveries(WEBHOOK_FAILURES)
            if len(recent) == WEBHOOK_FAILURES and all(delivery == "failed" for delivery, _status, _error in recent):
                return False, f"{self.notifier.masked_url}: the last {WEBHOOK_FAILURES} alerts failed ({recent[0][2] or 'no answer'})"
            return True, self.notifier.masked_url

        return {
            "duckdb": duckdb,
            "mlflow": mlflow,
            "disk": disk,
            "champion": champion,
            "worker": worker,
            "webhook": webhook,
        }

    def _worker_error(self, where: str, exc: BaseException) -> None:
        try:
            self.notifier.notify("worker_error", "failure", f"Worker error in {where}", f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("could not record the worker error")

    def _scheduler_state(self, state: str) -> None:
        live = self.live_settings()
        description = f"Policy {live.policy}, every {live.scheduler_interval:g} s, stream {'on' if live.stream_enabled else 'off'}."
        self.notifier.notify("scheduler", "info", f"Scheduler {state}", description, {"Status": state})

    # reads for the dashboard ----------------------------------------------------------
    def read(self, name: str, *args: object) -> object:
        """A named store read (the dashboard caches these by data version)."""
        if name in INSIGHT_READS:
            return getattr(self.insights, name)(*args)
        if name == "comparison":
            return self.compare_versions(*args)
        if name not in READS:
            raise KeyError(f"{name} is not a dashboard read")
        return getattr(self.store, name)(*args)

    def boundary(self, cycle_id: int | None, x_feature: str, y_feature: str) -> BoundaryView:
        return self.insights.boundary(cycle_id, x_feature, y_feature)

    def cycle_detail(self, cycle_id: int) -> CycleDetail | None:
        return self.insights.cycle_detail(cycle_id)

    def explain(self, values: object, version: int | None = None) -> dict:
        """Why the champion (or `version`) predicts what it does for `values`: per-feature contributions."""
        version = self.registry.champion_version if version is None else version
        if version is None:
            raise NoModelError("no model yet: train one first")
        if self.store.model(version) is None:
            raise UserInputError("version", f"no version {version_label(version)}")
        return self.insights.explain(version, values)

    def overview(self) -> Overview:
        champion = self.registry.champion_version
        record = self.store.model(champion) if champion is not None else None
        return Overview(
            champion, record["accuracy"] if record else None, self.store.last_cycle(), self.scheduler.state,
            self.scheduler.next_run, self.scheduler.interval, time.time() - self.started_at, self.store.counts(),
        )  # fmt: skip

    def cycle_verdict(self, cycle_id: int) -> str | None:
        """The verdict a cycle stored: which signal fired, what it means and what it cannot see."""
        return self.store.cycle_verdict(cycle_id)

    def reference(self) -> Reference | None:
        """The champion's drift reference in force (None before the first model)."""
        champion = self.registry.champion_version
        return None if champion is None else self.pipeline.reference(champion)

    def compare_versions(self, versions: tuple[int, ...], dataset_id: int | None = None) -> Comparison:
        """Score `versions` on the same rows: the loop's newest incoming window (a holdout's worth), or
        one dataset. Versions scored on their own holdouts are not comparable (one 90 % class 1, the
        other 51 %); rows a version trained on are counted, so a flattering figure says so."""
        labels = {validation.integer(v, "version", 1, 2**31 - 1): None for v in versions}
        for v in labels:
            if self.store.model(v) is None:
                raise UserInputError("version", f"no version {v}")
        if dataset_id is None:
            wanted = round(self.settings.training_window * self.settings.holdout_fraction)
            rows = self.store.recent_window(wanted)
            description = f"the loop's newest {rows.n_rows:,} incoming rows (sample ids {rows.first_sample_id:,}–{rows.last_sample_id:,})"
        else:
            (dataset_id,) = self._dataset_ids([dataset_id])
            rows = self.store.read_datasets([dataset_id])
            description = f"dataset {dataset_id} ({rows.n_rows:,} rows)"
        if rows.n_rows == 0:
            raise UserInputError("comparison set", "no rows to score on: the loop has no incoming data yet, or the dataset is empty")
        evaluations, seen = {}, {}
        for version in labels:
            model, label = self.registry.load(version), version_label(version)
            evaluations[label] = evaluation.evaluate_version(model, rows.X, rows.y, self.settings.seed) | {
                "metrics": training.evaluate(model, rows.X, rows.y)}  # fmt: skip
            seen[label] = self.store.rows_trained_on(version, rows.first_sample_id, rows.last_sample_id, rows.dataset_ids)
        return Comparison(evaluations, description, rows.n_rows, seen)

    # data ----------------------------------------------------------------------
    def generate_dataset(
        self, n_samples: int, scenario: str = "stable", strength: float = 1.0, seed: int | None = None, role: str = "library"
    ) -> DatasetInfo:
        """Draw a synthetic dataset: a library dataset, or incoming data sent to the loop (`role`).
        Every argument is checked before anything is drawn or stored."""
        role = validation.choice(role, "role", ROLES)
        n_samples = validation.integer(n_samples, "samples", 1, self.settings.max_samples_per_request)
        seed = self.settings.seed if seed is None else validation.seed(seed)
        spec = datagen.Scenario(scenario, strength)
        X, y = datagen.generate(n_samples, self.store.n_features, spec, seed)
        name = f"{datagen.SCENARIO_LABELS[scenario]} · {n_samples:,} rows · seed {seed}"
        return self.store.insert_dataset(
            X, y, source="generated", name=name, scenario=scenario, strength=spec.strength, seed=seed, role=role
        )

    def import_csv(self, data: bytes | str, name: str = "imported.csv", role: str = "library") -> DatasetInfo:
        role = validation.choice(role, "role", ROLES)
        parsed = parse_labelled_csv(data, self.store.n_features, self.settings.max_samples_per_request, self.settings.feature_max_abs)
        digest = hashlib.blake2b(data.encode() if isinstance(data, str) else bytes(data), digest_size=16).hexdigest()
        earlier = self.store.dataset_with_hash(digest)
        info = self.store.insert_dataset(
            parsed.X, parsed.y, source="imported", name=validation.text(name, "name"), role=role, content_hash=digest
        )
        return replace(info, duplicate_of=earlier["dataset_id"]) if earlier else info

    # models --------------------------------------------------------------------------
    def train(
        self,
        trigger: str = "manual",
        window_rows: int | None = None,
        on_step: Callable[[str], None] | None = None,
        dataset_ids: list[int] | None = None,
        options: training.TrainingOptions | None = None,
        promote: bool = True,
    ) -> TrainOutcome:
        """Train a challenger and gate it against the champion: on the loop's newest incoming window
        (the default) or on the chosen datasets; the run records which. `promote` False keeps it as a
        candidate whatever the gate says. Data and parameters equal to an existing version's register
        nothing: the outcome names that version instead."""
        options = options or training.DEFAULT_OPTIONS
        if trigger in ("manual", "api"):
            self._count_training()
        if not self.training_lock.acquire(blocking=False):
            raise BusyError("a training is already running: wait for it to finish")
        try:
            return self._train(trigger, window_rows, on_step, dataset_ids, options, bool(promote))
        finally:
            self.training_lock.release()

    def _train(
        self, trigger: str, window_rows: int | None, on_step: Callable[[str], None] | None, dataset_ids: list[int] | None,
        options: training.TrainingOptions, promote: bool,
    ) -> TrainOutcome:  # fmt: skip
        step = on_step or (lambda _message: None)
        if dataset_ids:
            ids = self._dataset_ids(dataset_ids)
            step(f"Reading datasets {', '.join(map(str, ids))}")
            window, training_data = self.store.read_datasets(ids), f"datasets {', '.join(map(str, ids))}"
        else:
            rows = validation.integer(window_rows or self.settings.training_window, "window rows", 50, 10**9)
            step(f"Reading the loop's newest {rows:,} labelled samples")
            window, training_data = self.store.recent_window(rows), "loop window"
        if window.n_rows == 0:
            raise UserInputError(
                "training data", "no incoming samples yet: turn the stream on, send a dataset to the loop, or pick datasets"
            )
        weights = "" if options.class_weight == "none" else f", class weights {options.class_weight}"
        step(
            f"Fitting StandardScaler + LogisticRegression (C={options.C:g}{weights}) on {window.n_rows:,} rows and logging the run to MLflow"
        )
        try:
            challenger = self.registry.train_challenger(window, trigger, training_data, options)
        except IdenticalVersion as same:
            record = self.store.model(same.version)
            metrics = {m: record[m] for m in METRICS}
            return TrainOutcome(same.version, version_label(same.version), metrics, window.n_rows, None, equal_to=same.version)
        step(f"Gating {version_label(challenger.version)} against the champion on the loop's recent incoming data")
        decision = self.registry.gate(challenger, promote=self.live_settings().policy != "approve", candidate=not promote)
        self._announce(decision)
        return TrainOutcome(challenger.version, version_label(challenger.version), challenger.metrics, window.n_rows, decision)

    def _count_training(self) -> None:
        """At most IA_TRAININGS_PER_MINUTE asked-for trainings in any minute: each registers a version for good."""
        now, limit = time.monotonic(), self.settings.trainings_per_minute
        with self._training_times_lock:
            while self._training_times and now - self._training_times[0] >= 60:
                self._training_times.popleft()
            if len(self._training_times) >= limit:
                wait = 60 - (now - self._training_times[0])
                raise RateLimited(
                    f"{limit} trainings in the last minute already (IA_TRAININGS_PER_MINUTE): try again in {wait:.0f} s", wait
                )
            self._training_times.append(now)

    def _announce(self, decision: GateDecision) -> None:
        """A new champion from a manual training is announced like one from the loop."""
        if decision.promoted and decision.champion is not None:
            self.notifier.notify("promoted", "success", f"New champion {version_label(decision.version)}", decision.reason)

    def _dataset_ids(self, dataset_ids: list[int]) -> list[int]:
        if not isinstance(dataset_ids, list | tuple) or len(dataset_ids) > 1000:
            raise UserInputError("datasets", "expected a list of up to 1,000 dataset ids")
        known = set(self.store.datasets()["dataset_id"].tolist())
        ids = sorted({validation.integer(i, "datasets", 1, 2**31 - 1) for i in dataset_ids})
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UserInputError("datasets", f"no dataset {', '.join(map(str, unknown[:5]))}")
        return ids

    def promotable_versions(self) -> list[int]:
        return self.store.promotable_versions()

    def awaiting_approval(self) -> list[int]:
        return self.store.awaiting_approval()

    def approve(self, version: int) -> GateDecision:
        decision = self.registry.approve(validation.integer(version, "version", 1, 2**31 - 1))
        self.notifier.notify("promoted", "success", f"New champion {version_label(version)}", decision.reason)
        return decision

    def reject(self, version: int) -> GateDecision:
        decision = self.registry.reject(validation.integer(version, "version", 1, 2**31 - 1))
        self.notifier.notify("rejected", "warning", f"Challenger {version_label(version)} rejected", decision.reason)
        return decision

    def update_dataset(self, dataset_id: object, name: object = None, tags: object = None) -> dict:
        """Rename or tag a dataset; both checked before either is stored."""
        (dataset_id,) = self._dataset_ids([dataset_id])
        new_name = None if name is None else validation.text(name, "name")
        new_tags = None if tags is None else validation.tags(tags)
        self.store.update_dataset(dataset_id, new_name, new_tags)
        return self.store.dataset(dataset_id)

    def delete_dataset(self, dataset_id: object) -> int:
        """Delete a library dataset no model was trained on; refused, with the reason, for data something needs."""
        (dataset_id,) = self._dataset_ids([dataset_id])
        record = self.store.dataset(dataset_id)
        if record["role"] == "incoming":
            raise UserInputError("dataset", f"dataset {dataset_id} was sent to the loop: its cycles, drift references and served "
                                 "accuracy rest on these rows, so it stays (retention archives old stream data)")  # fmt: skip
        versions = self.store.versions_trained_on(dataset_id)
        if versions:
            labels = ", ".join(map(version_label, versions))
            raise UserInputError("dataset", f"dataset {dataset_id} is the training data of {labels}: their holdouts, evaluations and "
                                 "drift references are its rows, so it stays")  # fmt: skip
        return self.store.delete_dataset(dataset_id)

    def send_to_loop(self, dataset_id: int) -> DatasetInfo:
        """Copy a library dataset into the loop's incoming data: the next cycle reads it as new data."""
        (dataset_id,) = self._dataset_ids([dataset_id])
        window = self.store.read_datasets([dataset_id])
        name = self.store.datasets().set_index("dataset_id").loc[dataset_id, "name"]
        return self.store.insert_dataset(window.X, window.y, source="imported", name=f"Sent to the loop: {name}"[:200], role="incoming")

    def rollback(self, version: int) -> GateDecision:
        decision = self.registry.rollback(version)
        self.notifier.notify("rollback", "warning", f"Rollback to {version_label(version)}", decision.reason)
        return decision

    def promote(self, version: int) -> GateDecision:
        """A person promotes a version: the approval of a waiting challenger, or a rollback."""
        return self.approve(version) if version in self.awaiting_approval() else self.rollback(version)

    def ensure_starter(self) -> TrainOutcome | None:
        """An empty workspace gets a labelled starter dataset and model v1.0.0, so it works at once."""
        if self.store.counts()["datasets"] or self.registry.champion_version is not None:
            return None
        s = self.settings
        self.progress(f"Generating the starter data ({s.starter_rows:,} synthetic rows)")
        X, y = datagen.generate(s.starter_rows, self.store.n_features, datagen.Scenario("stable"), s.seed)
        self.store.insert_dataset(
            X,
            y,
            source="starter",
            name=f"Starter (synthetic, stable) · {s.starter_rows:,} rows",
            role="incoming",
            scenario="stable",
            strength=0.0,
            seed=s.seed,
        )
        self.progress(f"Training {version_label(1)} on the starter data")
        outcome = self.train(trigger="starter")
        log.info("starter model %s trained on %s rows", outcome.label, outcome.n_rows)
        return outcome

    # predictions -------------------------------------------------------------------------
    def predict(self, features: object, source: str = "api") -> Prediction:
        return self.predictor.predict_one(features, source)

    def predict_batch(self, rows: object, source: str = "batch") -> BatchPrediction:
        return self.predictor.predict_batch(rows, source)

    def predict_csv(self, data: bytes | str) -> pd.DataFrame:
        """Batch prediction of a CSV of feature columns: the rows with prediction, confidence, version."""
        X = parse_feature_csv(data, self.store.n_features, self.settings.max_samples_per_request, self.settings.feature_max_abs)
        return self.predict_batch(X, source="batch").to_frame(X, self.store.features)

    def run_links(self, run_ids: list[str]) -> list[str | None]:
        """Each run's page in the MLflow UI at IA_MLFLOW_UI_URL, or None when no UI address is set."""
        base = self.settings.mlflow_ui_url.rstrip("/")
        if not base:
            return [None] * len(run_ids)
        return [f"{base}/#/experiments/{self.tracker.experiment_id}/runs/{run_id}" for run_id in run_ids]

    def mlflow_ui_command(self) -> str:
        return f'mlflow ui --backend-store-uri "{self.settings.mlflow_tracking_uri}" --port 5000'

    def close(self, cycle_wait: float = 60.0) -> None:
        """Stop the worker, wait for a cycle under way, drain alerts, flush the prediction log, release the DuckDB file."""
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
