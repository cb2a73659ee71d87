"""What people and the loop do to models: train then gate, approve, reject, roll back, compare, and the
starter model an empty workspace gets.

`train_and_gate` is the one path from a window of rows to a gated version, for "Train now", the
API's /retrain and the loop alike, and it sends the gate's alert whoever called it: a new champion
is announced the same way whether a cycle or a person trained it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from core.actions.data import DataActions, checked_dataset_id, checked_dataset_ids
from core.config import Settings
from core.domain import validation
from core.domain.outcomes import MANUAL_TRIGGERS, METRICS, RetrainStatus, manual_title, no_such_version, retrain_status, version_label
from core.errors import BusyError, RateLimited, UserInputError
from core.io.notify import Notifier
from core.ml import training
from core.services.registry import GateDecision, IdenticalVersion, ModelRegistry
from core.stats import evaluation
from core.store import Store, Window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutcome:
    version: int
    label: str
    metrics: dict[str, float]
    n_rows: int
    decision: GateDecision | None
    n_train: int  # of `n_rows`, those it was fitted on
    n_holdout: int  # and those held out to score it
    equal_to: int | None = None  # nothing registered: these rows and parameters equal this version's

    @property
    def status(self) -> RetrainStatus:
        return retrain_status(None if self.decision is None else self.decision.outcome)

    @property
    def reason(self) -> str:
        if self.decision is None:
            return str(IdenticalVersion(self.version))
        return self.decision.reason


@dataclass(frozen=True)
class Comparison:
    """Versions scored on one shared set of rows, with what that set is and how much of it each trained on."""

    evaluations: dict[str, dict]  # label -> evaluation (as stored at training time) plus "metrics"
    description: str
    n_rows: int
    seen: dict[str, int]  # label -> rows of the set inside that version's training data


def train_and_gate(
    registry: ModelRegistry,
    notifier: Notifier,
    window: Window,
    trigger: str,
    *,
    training_data: str = "loop window",
    options: training.TrainingOptions = training.DEFAULT_OPTIONS,
    promote: bool = True,
    approve: bool = False,
    cycle_id: int | None = None,
    fields: Mapping[str, object] | None = None,
    holdout: np.ndarray | None = None,
) -> TrainOutcome:
    """Train a challenger on `window` and gate it; `promote` False keeps it as a candidate, `approve`
    (the approve policy) lets a passing one wait for a person; `holdout` (a mask of the newest rows) is the
    rows it is judged on instead of a random share. Raises training.NotEnoughRows."""
    try:
        challenger = registry.train_challenger(window, trigger, training_data, options, holdout)
    except IdenticalVersion as same:
        record = registry.store.model(same.version)
        metrics = {m: record[m] for m in METRICS}
        return TrainOutcome(same.version, version_label(same.version), metrics, window.n_rows, None, record["n_train"],
                            record["n_holdout"], equal_to=same.version)  # fmt: skip
    decision = registry.gate(challenger, promote=not approve, candidate=not promote)
    outcome = TrainOutcome(challenger.version, version_label(challenger.version), challenger.metrics, window.n_rows, decision,
                           challenger.n_train, int(challenger.y_holdout.shape[0]))  # fmt: skip
    if trigger != "starter":  # the starter model comes with the workspace: nothing happened anyone needs telling
        announce(notifier, decision, cycle_id, fields)
    return outcome


def announce(notifier: Notifier, decision: GateDecision, cycle_id: int | None = None, fields: Mapping[str, object] | None = None) -> None:
    """The gate's alert: a new champion, a challenger rejected or waiting for approval (a candidate is silent). A
    challenger that replaces one already waiting is shown, not sent: under `approve` every cycle can bring a winner,
    and the person asked to decide needs one message per wait, not one per cycle."""
    label = version_label(decision.version)
    alerts = {
        "promoted": ("promoted", "success", f"New champion {label}", decision.reason),
        "first": ("promoted", "success", f"New champion {label}", decision.reason),
        "rejected": ("rejected", "warning", f"Challenger {label} rejected", decision.reason),
        "awaiting": ("awaiting", "info", f"Challenger {label} awaits approval",
                     f"{decision.reason}. Promote or reject it on the Models page."),
    }  # fmt: skip
    if decision.outcome not in alerts:
        return
    kind, level, title, description = alerts[decision.outcome]
    try:
        shown = {**(fields or {}), **gate_fields(decision)}
        notifier.notify(kind, level, title, description, shown, collapse=kind != "promoted", cycle_id=cycle_id,
                        info=bool(decision.superseded))  # fmt: skip
    except Exception:
        log.exception("could not record the %s alert", kind)


def gate_fields(decision: GateDecision) -> dict[str, str]:
    """The gate's scores an alert carries, each under the name of the version it belongs to."""
    label = version_label(decision.version)
    rows = f" on {decision.n_rows:,} rows" if decision.n_rows else ""
    shown = {f"{label} at the gate": f"{decision.metric} {decision.challenger_score:.3f}{rows}"}
    if decision.champion is not None and decision.champion_score is not None:
        shown[f"{version_label(decision.champion)} at the gate"] = f"{decision.metric} {decision.champion_score:.3f} on the same rows"
    return shown


class ModelActions:
    """Trainings a person asks for (rate-limited, one at a time), the gate's human steps, comparisons, the
    versions a person may act on, and where each run is in the MLflow UI."""

    def __init__(
        self, store: Store, registry: ModelRegistry, notifier: Notifier, settings: Settings, training_lock: threading.Lock,
        live_settings: Callable[[], Settings], data: DataActions,
    ) -> None:  # fmt: skip
        self.store, self.registry, self.notifier, self.settings = store, registry, notifier, settings
        self.training_lock = training_lock
        self.live_settings = live_settings
        self.data = data
        self._times: deque[float] = deque()
        self._times_lock = threading.Lock()

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
        slot = self._count_training() if trigger in MANUAL_TRIGGERS else None
        if not self.training_lock.acquire(blocking=False):
            self._release(slot)
            raise BusyError("a training is already running: wait for it to finish")
        try:
            step = on_step or (lambda _message: None)
            try:
                window, training_data = self._window(dataset_ids, window_rows, step)
            except UserInputError:
                self._release(slot)  # refused before training: nothing registered, nothing counted
                raise
            weights = "" if options.class_weight == "none" else f", class weights {options.class_weight}"
            step(f"Fitting StandardScaler + LogisticRegression (C={options.C:g}{weights}) on {window.n_rows:,} rows, logging the run "
                 "to MLflow and gating it against the champion on the loop's recent incoming data")  # fmt: skip
            return train_and_gate(
                self.registry, self.notifier, window, trigger, training_data=training_data, options=options, promote=bool(promote),
                approve=self.live_settings().policy == "approve",
            )  # fmt: skip
        finally:
            self.training_lock.release()

    def _window(self, dataset_ids: list[int] | None, window_rows: int | None, step: Callable[[str], None]) -> tuple[Window, str]:
        if dataset_ids is not None and window_rows is not None:  # tour 20: window_rows was dropped without a word
            raise UserInputError("window_rows", "send dataset_ids or window_rows, not both: datasets are trained on whole")
        if dataset_ids is not None:
            if isinstance(dataset_ids, list) and not dataset_ids:  # tour 20: [] trained on the loop's window
                raise UserInputError("dataset_ids", "expected at least one dataset id (GET /datasets lists them), got []")
            ids = checked_dataset_ids(self.store, dataset_ids)
            step(f"Reading datasets {', '.join(map(str, ids))}")
            window, training_data = self.store.read_datasets(ids), f"datasets {', '.join(map(str, ids))}"
        else:
            rows = validation.integer(self.settings.training_window if window_rows is None else window_rows, "window_rows", 50, 10**9)
            step(f"Reading the loop's newest {rows:,} labelled samples")
            window, training_data = self.store.recent_window(rows), "loop window"
        if window.n_rows == 0:
            raise UserInputError(
                "training data", "no incoming samples yet: turn the stream on, send a dataset to the loop, or pick datasets"
            )
        return window, training_data

    def _count_training(self) -> float:
        """At most IA_TRAININGS_PER_MINUTE asked-for trainings in any minute: each registers a version for good.
        The slot taken (its time), to give back when the request is refused before anything is trained."""
        now, limit = time.monotonic(), self.settings.trainings_per_minute
        with self._times_lock:
            while self._times and now - self._times[0] >= 60:
                self._times.popleft()
            if len(self._times) >= limit:
                wait = 60 - (now - self._times[0])
                raise RateLimited(
                    f"{limit} training{'' if limit == 1 else 's'} in the last minute already (IA_TRAININGS_PER_MINUTE): try again in {wait:.0f} s",
                    wait,
                )
            self._times.append(now)
        return now

    def _release(self, slot: float | None) -> None:
        if slot is None:
            return
        with self._times_lock:
            if slot in self._times:
                self._times.remove(slot)

    def ensure_starter(self, progress: Callable[[str], None] = lambda _step: None) -> TrainOutcome | None:
        """An empty workspace gets a labelled starter dataset and model v1.0.0, so it works at once."""
        if self.store.counts()["datasets"] or self.registry.champion_version is not None or not self.store.schema.plain:
            return None
        s = self.settings
        progress(f"Generating the starter data ({s.starter_rows:,} synthetic rows)")
        self.data.generate_starter(s.starter_rows, s.seed)
        progress(f"Training {version_label(1)} on the starter data")
        outcome = self.train(trigger="starter")
        log.info("starter model %s trained on %s rows", outcome.label, outcome.n_rows)
        return outcome

    @property
    def champion_version(self) -> int | None:
        return self.registry.champion_version

    def promotable_versions(self) -> list[int]:
        return self.store.promotable_versions()

    def awaiting_approval(self) -> list[int]:
        return self.store.awaiting_approval()

    def run_links(self, run_ids: list[str]) -> list[str | None]:
        """Each run's page in the MLflow UI at IA_MLFLOW_UI_URL, or None when no UI address is set."""
        return self.registry.tracker.run_links(run_ids, self.settings.mlflow_ui_url)

    def mlflow_ui_command(self) -> str:
        return self.registry.tracker.ui_command()

    def approve(self, version: object) -> GateDecision:
        decision = self.registry.approve(validation.integer(version, "version", 1, 2**31 - 1))
        self.notifier.notify("promoted", "success", f"New champion {version_label(decision.version)}", decision.reason, collapse=False)
        return decision

    def reject(self, version: object) -> GateDecision:
        decision = self.registry.reject(validation.integer(version, "version", 1, 2**31 - 1))
        self.notifier.notify("rejected", "warning", f"Challenger {version_label(decision.version)} rejected", decision.reason)
        return decision

    def rollback(self, version: int) -> GateDecision:
        decision = self.registry.rollback(version)
        # A change of champion is news however soon it follows the same one: v1.0.0 back, v1.3.0, then v1.0.0 back again
        # within the cooldown left the channel naming v1.3.0 when the second rollback was collapsed.
        self.notifier.notify(decision.outcome, "warning", manual_title(decision.outcome, version), decision.reason, collapse=False)
        return decision

    def manual_kind(self, version: int) -> str:
        """ "rollback" or "by_hand": what the Models page asks a person to confirm, by the registry's rule."""
        return self.registry.manual_kind(version)

    def promote(self, version: int) -> GateDecision:
        """A person promotes a version: the approval of a waiting challenger, else a rollback (an older former
        champion) or a promotion by hand (a candidate, or a newer former champion)."""
        return self.approve(version) if version in self.store.awaiting_approval() else self.rollback(version)

    def compare(self, versions: tuple[int, ...], dataset_id: int | None = None) -> Comparison:
        """Score `versions` on the same rows: the loop's newest incoming window (a holdout's worth), or
        one dataset. Versions scored on their own holdouts are not comparable (one 90 % class 1, the
        other 51 %); rows a version trained on are counted, so a flattering figure says so."""
        labels = {validation.integer(v, "version", 1, 2**31 - 1): None for v in versions}
        for v in labels:
            if self.store.model(v) is None:
                raise no_such_version(v)
        if dataset_id is None:
            wanted = round(self.settings.training_window * self.settings.holdout_fraction)
            rows = self.store.recent_window(wanted)
            description = f"the loop's newest {rows.n_rows:,} incoming rows (sample ids {rows.first_sample_id:,}–{rows.last_sample_id:,})"
        else:
            dataset_id = checked_dataset_id(self.store, dataset_id)
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
