"""One monitoring cycle: new data -> evaluate -> test drift -> decide -> retrain -> gate -> notify.

A cycle never raises: whatever fails is stored in the cycle's record with its
traceback and announced, so the scheduler always reaches the next cycle.

A cycle reads only what arrived since the last one: the loop's incoming labelled rows (the
stream, simulated or replayed, datasets sent to the loop, labels of served predictions) and
the predictions whose labels have not come (`core.data.new_rows`); library datasets never move it.
Retraining after drift learns from the rows since the drift began (the current streak of
drifted cycles), the way drift detectors such as ADWIN drop the old regime, unless a longer
window scores as well on the newest of those rows (`core.ml.window_choice`); once a full training
window of the new regime has arrived, a small-window champion is retrained again through the gate. Performance drift is
called only when the drop is larger than the tolerance and statistically credible
(the batch accuracy's upper confidence bound is below the bar minus the tolerance);
the bar is the champion's realised accuracy on the cycles it served once they hold
more rows than its holdout, and the holdout accuracy before that.

Each cycle stores its verdict in words: which signal fired (feature drift, a
realised-accuracy drop, an estimated-accuracy drop), what it means and what it
cannot see; a cycle with no new data or that failed says so in its verdict too.

Labels count for the version that served them: a label of a prediction served before a promotion
is stored with the cycle under that version, and the champion's realised accuracy (and its
drop test) rests on its own predictions' labels and the stream rows it scored.

A failing cycle is a fact every door shows (`core.services.health.loop_state`). It is stored, with how far it
read, so the next cycle moves on rather than failing on the same rows for ever; its alerts are held
until it is stored, so none names a cycle the store lacks. A failing episode is announced once, and
its recovery once, not every failed cycle.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from core.actions.feedback import FeedbackActions
from core.actions.models import TrainOutcome, train_and_gate
from core.config import Settings, sqlite_path
from core.data import synthetic_stream
from core.data.new_rows import NewData
from core.domain.clock import EPOCH
from core.domain.faults import FaultBoard, component_of
from core.domain.outcomes import Action, CycleRecord, Decision, FailingStreak, Measurement, VersionLabels, version_label
from core.io.notify import HeldAlerts, Notifier
from core.loop.monitor import DriftMonitor
from core.ml import training
from core.ml.window_choice import MIN_ROWS, NoChallenger, challenge, choose_window, tail
from core.rules import verdicts
from core.rules.policy import (
    FAILING,
    FOLLOW_UP_GROWTH,
    FOLLOWED_UP,
    MAX_CHECK_ROWS,
    MIN_CHECK_ROWS,
    CycleFacts,
    RetrainPolicy,
    promotion,
    stopgap,
    warns,
)
from core.services import controls
from core.services.predictor import Predictor
from core.services.reference import Reference, move_reference, read_reference, reference_of
from core.services.registry import ModelRegistry
from core.services.stream_source import StreamSource, idle_reason, labels_sent_later, replay_batch, replay_to_serve, stream_source
from core.stats.drift import DriftReport, DriftThresholds, lower_bound, upper_bound
from core.stats.estimate import AccuracyEstimator, Estimate
from core.stats.paired import paired
from core.store import Store, Window, utcnow

log = logging.getLogger(__name__)
MAX_ROWS_PER_CYCLE = 100_000
MAX_UNRECORDED_CYCLES = 1000
MIN_SERVED_ROWS = 1000
MIN_ONE_CLASS_ROWS = 20  # labels of a cycle all of one class, said in its verdict from this many on


def thresholds_of(s: Settings) -> DriftThresholds:
    return DriftThresholds(s.ks_alpha, s.wasserstein_threshold, s.psi_threshold, s.psi_warning)


class MonitoringPipeline:
    """Runs cycles against one workspace; cycles are serialised by a lock. The steps are here; what to
    decide is `core.rules.policy`, what to compare with is `core.loop.monitor`, how to retrain is `core.actions.models`."""

    def __init__(
        self,
        store: Store,
        registry: ModelRegistry,
        notifier: Notifier,
        settings: Settings,
        faults: FaultBoard | None = None,
        training_lock: threading.Lock | None = None,
        feedback: FeedbackActions | None = None,
        predictor: Predictor | None = None,
    ) -> None:
        self.store = store
        self.feedback = feedback  # labels of served predictions; without it, the loop reads labelled rows only
        self.predictor = predictor  # serves a stream whose labels come late (with `feedback`)
        self.registry = registry
        self.notifier = notifier
        self.settings = settings
        self.faults = faults or FaultBoard()
        self.training_lock = training_lock or threading.Lock()
        self.monitor = DriftMonitor()
        self._monitor_fitted_on: tuple | None = None  # the reference and reading settings its rows came from
        self._estimator: tuple[int, AccuracyEstimator] | None = None  # the champion's, read once per champion
        self._unrecorded: list[tuple[CycleRecord, HeldAlerts]] = []
        self._unrecovered: FailingStreak | None = None  # an episode whose MLflow store has not taken a write since (below)
        self._cycle_began = 0.0  # when the running cycle began (time.time()): which faults are its own
        self.lock = threading.Lock()

    @property
    def unstored(self) -> int:
        """Cycles kept in memory because the store refused them."""
        return len(self._unrecorded)

    # the cycle ---------------------------------------------------------------
    def run_cycle(self, trigger: str = "schedule") -> CycleRecord:
        """Run one cycle and store its record; never raises. Waits for a cycle under way."""
        with self.lock:
            return self.run_cycle_locked(trigger)

    def run_cycle_locked(self, trigger: str) -> CycleRecord:
        """The cycle itself; the caller holds `self.lock` (the scheduler takes it without waiting)."""
        started, self._cycle_began = utcnow(), time.time()
        try:
            s = controls.effective_settings(self.settings, self.store)
            cycle_id = self.store.next_cycle_id()
            self._record_unrecorded()
            streak = self.store.failing_streak()
            if self._unrecovered is None and streak is None:  # at start: an episode a stop left unannounced
                self._unrecovered = self.store.unannounced_episode()
        except Exception as exc:  # the store itself fails (disk full, read-only): nothing can be recorded now
            fault = self.faults.failed(component_of(exc), exc)
            log.error("cycle could not start: %s", fault.message)
            return CycleRecord(None, started, trigger, status="error", decision="error", reason=fault.message, ended_at=utcnow())
        record = CycleRecord(cycle_id, started, trigger, policy=s.policy, champion_version=self.registry.champion_version)
        alerts = HeldAlerts(self.notifier)
        steps: dict[str, float] = {}
        report: DriftReport | None = None
        try:
            report = self._steps(s, record, steps, alerts)
        except Exception as exc:
            log.exception("cycle %s failed", cycle_id)
            fault = self.faults.failed(component_of(exc), exc)
            self._failed(record, f"cycle failed: {fault.message}; {_skipped(record)}")
        record.ended_at = utcnow()
        record.step_ms = json.dumps({k: round(v, 3) for k, v in steps.items()})
        held = bool(self._unrecorded)  # failed cycles the store still refuses: the loop was failing before this one
        stored = self._store_cycle(record, report.rows() if report else [])
        self._announce_episode(record, streak, held, alerts)
        if stored:
            alerts.release({"Status": record.status, "Decision": record.decision})
        elif len(self._unrecorded) < MAX_UNRECORDED_CYCLES:
            self._unrecorded.append((record, alerts))
            log.error("cycle %s kept in memory until the store accepts writes again", record.cycle_id)
        return record

    @staticmethod
    def _failed(record: CycleRecord, reason: str, decision: Action = "error") -> None:
        """The cycle ends in an error: its reason, traceback and a verdict that says it could not judge (or, when
        the failure came after the verdict, that it failed then)."""
        record.status, record.decision, record.reason = "error", decision, reason
        record.error = traceback.format_exc()
        record.verdict = f"{record.verdict} The cycle then failed: {reason}." if record.verdict else f"No verdict: {reason}."

    def _store_cycle(self, record: CycleRecord, drift_rows: list[dict]) -> bool:
        """Store the cycle with its drift rows; failing that, the cycle alone as an error; False when that
        fails too (the disk is full): the caller keeps it to store at a later cycle, the store marked faulty."""
        try:
            self.store.insert_cycle(record.row(), drift_rows)
            if record.status != "error":
                self.faults.succeeded("duckdb")
                self.faults.succeeded("disk")
            return True
        except Exception as exc:
            fault = self.faults.failed(component_of(exc), exc)
            log.error("could not store cycle %s in full: %s", record.cycle_id, fault.message)
            record.status, record.error = "error", f"{record.error or ''}storing the cycle failed: {fault.message}"
            record.reason = f"{record.reason}; its drift results could not be stored: {fault.message}"
        try:
            self.store.insert_cycle(record.row(), [])
            return True
        except Exception:
            return False

    def _record_unrecorded(self) -> None:
        """Cycles the store refused, stored once it accepts writes, then their alerts (held until then)."""
        while self._unrecorded:
            record, alerts = self._unrecorded[0]
            try:
                self.store.insert_cycle(record.row(), [])
            except Exception:
                return
            self._unrecorded.pop(0)
            alerts.release({"Status": record.status, "Decision": record.decision})
            log.info("cycle %s stored late: the store accepts writes again", record.cycle_id)

    def _announce_episode(self, record: CycleRecord, before: FailingStreak | None, held: bool, alerts: HeldAlerts) -> None:
        """One alert when the loop starts failing, one when it recovers: a loop failing every 30 s for an hour
        is one fact, not 120 alerts (each failed cycle is stored, with its reason). `before`: the stored cycles
        failing up to this one; `held`: failed cycles the store refused, kept in memory."""
        fields = _fields(record)
        if record.status == "error":
            own = self.faults.get("mlflow")
            if self._unrecovered is not None and own is not None and own.at >= self._cycle_began:  # MLflow still refuses
                self._unrecovered = replace(self._unrecovered, cycles=self._unrecovered.cycles + 1, last_cycle=record.cycle_id)
                return
            self._unrecovered = None  # another failure, after cycles that ran: news of its own, told below
            if before is None and not held:
                alerts.notify("loop_failing", "failure", "Monitoring loop failing",
                              f"Cycle {record.cycle_id} failed: {record.reason}\nThe loop goes on; the next alert says when it recovers.",
                              fields, collapse=False, cycle_id=record.cycle_id)  # fmt: skip
            return
        episode = self._unrecovered or before
        if episode is None and not held:
            return
        if self._mlflow_refuses():  # this cycle wrote nothing to MLflow (a cooldown), and its store still refuses a write
            self._unrecovered = episode
            log.info("cycle %s ran, but the MLflow store still refuses a write: no recovery yet", record.cycle_id)
            return
        self._unrecovered = None
        after = episode.ended() if episode else "cycles the store refused"
        alerts.notify("loop_recovered", "success", "Monitoring loop recovered", f"Cycle {record.cycle_id} ran after {after}.",
                      fields, collapse=False, cycle_id=record.cycle_id)  # fmt: skip

    def _mlflow_refuses(self) -> bool:
        """MLflow is written only when a version is registered, so a cycle that registered none is no evidence it works
        again: a local store with a fault since is probed (a write lock, rolled back; 2 s at most). A remote server is
        not (its client retries for minutes): a cycle that ran is taken as the recovery, as DuckDB's and the disk's
        faults are cleared by the cycle's own write."""
        if self.faults.get("mlflow") is None or sqlite_path(self.registry.tracker.tracking_uri) is None:
            return False
        try:
            works = self.registry.tracker.check_writable(self.settings.mlflow_artifacts_dir)[0]
        except Exception as exc:
            log.info("the MLflow store still refuses its probe: %s", exc)
            return True
        if works:
            self.faults.succeeded("mlflow")
        return not works

    def _steps(self, s: Settings, record: CycleRecord, steps: dict[str, float], alerts: HeldAlerts) -> DriftReport | None:
        with _timed(steps, "stream"):
            self._stream(s, record)
        with _timed(steps, "read"):
            new = self._new_data(record)
        record.arrived(new)
        if new.n_rows == 0:
            why = idle_reason(self.store, s.stream_enabled, stream_source(self.store, s.stream_batch_size)) or "nothing added"
            since = self.store.data_since()
            record.status, record.reason = "no_data", f"no new data {since}: {why}"
            record.verdict = f"No verdict: no new data {since}, so nothing was measured ({why})."
            return None
        X = new.inputs  # not the late labels' rows: an earlier cycle tested their inputs
        y = new.labelled.y[new.fresh[: new.n_labelled]] if new.labelled is not None and not len(new.unlabelled) else None
        with _timed(steps, "evaluate"):
            measured = self._measure(new, s)
        record.measured(measured)
        report, untested = None, None
        if measured.champion is not None and not new.testable(s):
            untested = new.n_inputs
        elif measured.champion is not None:
            with _timed(steps, "drift"):
                model = self.registry.load(measured.champion)
                report = self.monitor.calculate(
                    X, new.inputs_came_labelled, s.drift_window_batches, self.store.features, thresholds_of(s), model, y
                )
                record.reference = self.monitor.reference.to_json()
            record.drift_share, record.dataset_drift = report.drift_share, report.dataset_drift
        signals = verdicts.signals(report, measured)
        record.signals, record.verdict = json.dumps(signals), verdicts.verdict(signals, report, measured, s, untested) + _others(measured)
        policy, facts = RetrainPolicy(s), CycleFacts(record.cycle_id, record.labelled, record.first_sample_id)
        with _timed(steps, "decide"):
            decision = policy.decide(facts, report, measured, self.store)
        record.decision, record.reason, record.draw = decision.action, decision.reason, decision.draw
        record.reason += _estimate_alone(measured) + (f"; {verdicts.too_few(untested, s)}" if untested is not None else "")
        self._alert_signals(signals, decision, record, alerts)
        if decision.action == "challenge" or (decision.action == "retrain" and decision.trigger == "drop"):
            with _timed(steps, "retrain"):
                self._challenge(decision, s, record, alerts)
        elif decision.action == "retrain":
            with _timed(steps, "retrain"):
                self._retrain(decision, s, record, alerts)
        return report

    def _alert_signals(self, signals: list[str], decision: Decision, record: CycleRecord, alerts: HeldAlerts) -> None:
        """Discord hears of a performance drop (realised, or estimated), once per episode; feature drift the model's
        performance does not feel is an informational alert, stored and shown, once per episode of drifted cycles
        (an episode ends at a cycle with no drift): real inputs drift with the seasons, and an alarm on every cycle
        says nothing. Under `drift`, the policy acts on feature drift, so it alerts as a warning."""
        if not signals:
            return
        text = f"{record.verdict}\nDecision: {decision.reason}"
        if warns(signals, record.policy):
            alerts.notify("drift", "warning", verdicts.DROP_TITLE if verdicts.drops(signals) else "Drift detected", text, _fields(record),
                          cycle_id=record.cycle_id, episode=decision.episode_onset)  # fmt: skip
        elif self._drift_episode_starts():
            measured = record.realised_accuracy is not None  # labels may all be another version's: the estimate judged
            alerts.notify("drift", "info", verdicts.info_title(measured), text, _fields(record), cycle_id=record.cycle_id, info=True)

    def _drift_episode_starts(self) -> bool:
        """The newest stored cycle that read data showed no drift: this cycle's drift opens an episode."""
        newest = self.store.recent_drift_flags(1)
        return not newest or not newest[0][1]

    # steps -------------------------------------------------------------------------
    def _stream(self, s: Settings, record: CycleRecord) -> None:
        """The stream's batch for this cycle: the replayed dataset's next rows, or the simulator's (the synthetic
        schema only), whose labels may be held back IA_LABEL_DELAY_CYCLES cycles; then any labels now due, the stream on or
        off: its predictions were served, and their labels come as labels of served predictions do."""
        if s.stream_enabled:
            source = stream_source(self.store, s.stream_batch_size)
            if source.replaying:
                record.scenario = "replay" if self._replay(s, record, source) else None
            elif self.store.schema.plain:
                self._simulate(s, record)
        if self.feedback is not None:  # labels held back earlier are still sent if the delay was since set to 0
            ids, labels, replay_of = self.store.due_labels(record.cycle_id)
            if ids:
                self.feedback.apply(ids, labels, replay_of=replay_of)
                self.store.forget_due_labels(record.cycle_id)

    def _labels_later(self, s: Settings) -> bool:
        """Whether a stream batch is served first and its labels sent IA_LABEL_DELAY_CYCLES cycles later, through the
        feedback path (as POST /feedback sends them): only with a delay, and a champion to serve it."""
        return (
            bool(s.label_delay_cycles)
            and self.feedback is not None
            and self.predictor is not None
            and self.registry.champion_version is not None
        )

    def _replay(self, s: Settings, record: CycleRecord, source: StreamSource) -> bool:
        """The replay's next batch: stored labelled, or, with a label delay, served now by the champion (its rows then
        reach the loop as predictions without labels) and its labels queued for a later cycle. False once it ended.
        Served before the queue is written: a stop in between serves the batch again, and labels only the second copy."""
        if not self._labels_later(s):
            return replay_batch(self.store, source) is not None
        taken = replay_to_serve(self.store, source)
        if taken is None:
            return False
        offset, rows = taken
        ids: list[str] = []
        for start in range(0, rows.n_rows, self.predictor.max_rows):
            part = rows.X[start : start + self.predictor.max_rows]
            ids += self.predictor.predict_batch(part, source="stream").prediction_ids
        labels_sent_later(self.store, source, offset, record.cycle_id + s.label_delay_cycles, ids, rows)
        return True

    def _simulate(self, s: Settings, record: CycleRecord) -> None:
        state = controls.stream_state(self.store)
        scenario = state.at_cycle(record.cycle_id)
        X, y = synthetic_stream.generate(s.stream_batch_size, self.store.n_features, scenario, seed=s.seed * 1_000_003 + record.cycle_id)
        record.scenario, record.strength = scenario.name, scenario.strength
        if self._labels_later(s):
            served = self.predictor.predict_batch(X, source="stream")  # served now, its labels sent later
            self.store.queue_labels(record.cycle_id + s.label_delay_cycles, served.prediction_ids, y)
            return
        name = f"Stream (synthetic) · {synthetic_stream.SCENARIO_LABELS[scenario.name]} · from cycle {record.cycle_id}"
        self.store.append_stream_batch(X, y, name=name, scenario=scenario.name, strength=float(scenario.strength), seed=s.seed)

    def _new_data(self, record: CycleRecord) -> NewData:
        """What arrived since the last cycle: incoming labelled rows (stream batches, data sent to the loop, labels of
        served predictions) and the predictions still without a label. Library datasets are never read here."""
        previous = self._read_position()
        if previous is not None:
            seen_until, predictions_since = previous["last_sample_id"] or 0, previous["predictions_until"]
        else:
            champion = self.store.model(self.registry.champion_version) if self.registry.champion_version else None
            seen_until, predictions_since = (int(champion["window_last_sample"]) if champion else 0), None
        if self.predictor is not None:
            self.predictor.flush()  # the predictions served so far are read from DuckDB
        newest = self.store.max_incoming_sample_id()
        now = utcnow()
        record.last_sample_id, record.predictions_until = max(newest, seen_until), now
        # the first incoming row: a replay's first batch follows its library rows, which /cycles counted as read
        first = self.store.first_incoming_sample_id(max(seen_until, newest - MAX_ROWS_PER_CYCLE)) if newest > seen_until else None
        record.first_sample_id = first  # how far this cycle reads, recorded before it reads: a failure skips these rows
        # A first cycle reads every prediction served before it, as it counts them: reading only those served during it, it
        # called 200 predictions made beforehand "no new data: nothing added".
        since = predictions_since or EPOCH
        unlabelled = self.store.prediction_features_since(since, now, record.last_sample_id, MAX_ROWS_PER_CYCLE)
        served = self.store.served_count(predictions_since, now)  # a first cycle counts every prediction served before it
        if first is None:
            return NewData(None, unlabelled, None, served)
        window = self.store.read_samples(first, newest, incoming=True)
        return NewData(window, unlabelled, self.store.arrived_labels(first, newest), served, predictions_since)

    def _read_position(self) -> dict | None:
        """Where the last cycle that read stopped: stored, or kept in memory while the store refuses writes."""
        position = self.store.read_position()
        held = next((r for r, _alerts in reversed(self._unrecorded) if r.predictions_until is not None), None)
        if held is not None and (position is None or held.cycle_id > position["cycle_id"]):
            return {"cycle_id": held.cycle_id, "last_sample_id": held.last_sample_id, "predictions_until": held.predictions_until}
        return position

    def _measure(self, new: NewData, s: Settings) -> Measurement:
        champion = self.registry.champion_version
        if champion is None:
            return Measurement(None, None, None, None, None, False)
        model = self.store.model(champion)
        holdout = float(model["accuracy"])
        bar, bar_source = self._bar(champion, holdout, int(model["n_holdout"]), s)
        predictor = self.registry.load(champion)
        scores = predictor.predict_proba(new.features)
        # as no drift test, no estimate on a handful of rows (tour 21: one prediction's confidence, 0.884, was drawn as the
        # cycle's estimated accuracy, and "holds")
        testable = new.testable(s)
        if testable:  # once a cycle, for the estimate's threshold and the drift test after it (`_steps`), which run only so
            self._fit_monitor(champion, s)
        estimated, estimated_drop = self._estimate(champion, predictor, scores[new.fresh], s) if testable else (_NO_ESTIMATE, False)
        if new.labelled is None:
            return Measurement(
                champion, holdout, None, None, estimated.value, False, bar, bar_source, new.n_rows, estimated_drop, **estimated.band
            )
        y = new.labelled.y
        right = new.served_classes(training.predicted_class(scores[: len(y)])) == y
        versions = new.served_versions(champion)
        own = versions == champion
        others = tuple(
            VersionLabels(int(v), int(np.count_nonzero(versions == v)), int(np.count_nonzero(right[versions == v])))
            for v in sorted(set(versions[~own].tolist()), reverse=True)
        )
        n = int(np.count_nonzero(own))
        if n == 0:  # every label was of another version's predictions: nothing to hold the champion to
            return Measurement(
                champion, holdout, None, None, estimated.value, False, bar, bar_source, 0, estimated_drop, others, **estimated.band
            )
        correct = int(np.count_nonzero(right[own]))
        upper = upper_bound(correct, n, s.perf_confidence)
        drop = upper < bar - s.perf_tolerance
        # Labels outrank the estimate: where they credibly hold the accuracy at or above the estimate's own threshold, an
        # estimated drop is not one (wine's 78 rows, 100 % right, were called a "Performance drop" on its estimate).
        estimated_drop = estimated_drop and lower_bound(correct, n, s.perf_confidence) < estimated.threshold
        at_once = new.came_labelled()
        scored = VersionLabels(champion, int(np.count_nonzero(at_once)), int(np.count_nonzero(right[at_once])))
        one = (self.store.schema.classes[int(y[0])], len(y)) if len(y) >= MIN_ONE_CLASS_ROWS and np.all(y == y[0]) else None
        return Measurement(champion, holdout, correct / n, upper, estimated.value, drop, bar, bar_source, n, estimated_drop, others,
                           **estimated.band, scored=scored, one_class=one)  # fmt: skip

    def _estimate(self, champion: int, predictor: object, scores: np.ndarray, s: Settings) -> tuple[_Estimated, bool]:
        """The champion's label-free estimate of the batch with its band, and whether it is a drop: below the
        champion's own estimate on its reference less the spread its holdout's chunks of this size show."""
        if self._estimator is None or self._estimator[0] != champion:
            self._estimator = (champion, self.registry.estimator(champion))
        estimator = self._estimator[1]
        estimate = estimator.estimate(scores)
        limits = estimator.thresholds(estimate.n, self.monitor.reference_estimate(predictor, estimator))
        return _Estimated(estimate, limits.estimated), estimate.value < limits.estimated

    def _bar(self, champion: int, holdout: float, n_holdout: int, s: Settings) -> tuple[float, str]:
        """The accuracy a drop is measured from: the champion's realised accuracy on the cycles it
        served once they outnumber its holdout (and MIN_SERVED_ROWS); before that, what its holdout
        can vouch for (the lower confidence bound: 0.98 on 60 rows is not a promise of 0.98)."""
        correct, rows = self.store.served_accuracy(champion)
        if rows >= max(n_holdout, MIN_SERVED_ROWS):
            return correct / rows, f"realised on {rows:,} served rows"
        lower = lower_bound(round(holdout * n_holdout), n_holdout, s.perf_confidence)
        # named in full: beside the Models page's two-sided 95 % interval, "the lower bound" read as another figure (tour 19)
        bound = f"the one-sided {s.perf_confidence * 100:g} % lower bound" if s.perf_confidence > 0 else "the accuracy"
        return lower, f"{bound} of holdout {holdout:.3f} on {n_holdout:,} rows"

    def _fit_monitor(self, champion: int, s: Settings) -> None:
        """The drift monitor fitted on the champion's reference in force, its rows read again only when that changed
        (a new champion, a moved reference, other reading settings)."""
        reference = reference_of(self.store, champion)
        key = (reference, s.reference_max_rows, s.seed)
        if key != self._monitor_fitted_on:
            self.monitor.fit(read_reference(self.store, reference, s.reference_max_rows, s.seed), self.store.schema, reference)
            self._monitor_fitted_on = key

    def reference(self, champion: int) -> Reference:
        """The champion's drift reference in force (core.services.reference owns what that is)."""
        return reference_of(self.store, champion)

    # retraining ------------------------------------------------------------------------------
    def _challenge(self, decision: Decision, s: Settings, record: CycleRecord, alerts: HeldAlerts) -> None:
        """The default policy's step: a challenger on the newest labelled window (its length chosen by forward
        validation), scored with the champion on the newest labelled rows neither trained on; promoted through
        the gate (judged on those rows) only when `policy.promotion` trusts it. A losing challenger is fitted in
        memory and never registered: a cycle costs milliseconds, and MLflow holds only models that served or
        were gated."""
        champion = record.champion_version
        urgent = decision.trigger == "drop" and bool(record.performance_drift)  # labels show the champion failing
        window = self.store.recent_window(s.training_window + MAX_CHECK_ROWS)
        model = self.store.model(champion)
        trained_until = model["window_last_sample"]
        fresh = window.n_rows if window.sample_ids is None or trained_until is None else int(
            np.count_nonzero(window.sample_ids > int(trained_until)))  # fmt: skip
        check = min(fresh, MAX_CHECK_ROWS)
        if window.n_rows - check < MIN_ROWS:  # too few rows left before them to train a challenger on: half the window
            # (the champion trained on none of it, one trained on a library dataset; tour 20: 997 check rows of a 997-row
            # window, nothing before them, cycle after cycle)
            check = min(check, max(MIN_CHECK_ROWS, window.n_rows // 2))
        lengths = (1000, 2000, s.training_window)
        follow_up = None
        if urgent and decision.onset_sample_id is not None and window.sample_ids is not None:
            since = int(np.count_nonzero(window.sample_ids >= decision.onset_sample_id))
            check = min(check, max(MIN_CHECK_ROWS, round(since * s.holdout_fraction)))
            lengths = (since - check, *lengths)  # the rows since the drop began, before the check rows
        elif stopgap(model, min(lengths), self.store.followup_onset(champion)) and window.sample_ids is not None:
            # A champion fitted on the few rows since a drop: judged on every fresh row, the challengers could train
            # only on rows from before the drop, and it served until a thousand had come (tour 15: 8 cycles). Its
            # regime's rows are split as a drop's are, and its own window grown to them is challenged.
            since = int(np.count_nonzero(window.sample_ids >= int(model["window_first_sample"])))
            check = min(check, max(MIN_CHECK_ROWS, round(fresh * s.holdout_fraction)))
            if since - check >= FOLLOW_UP_GROWTH * int(model["n_train"]):
                follow_up = since - check
                lengths = (follow_up, *lengths)
        if check < MIN_CHECK_ROWS:
            record.decision = "wait"
            record.reason = (f"{decision.reason}; no challenger yet: {fresh:,} labelled rows {version_label(champion)} did not "
                             f"train on, {MIN_CHECK_ROWS} needed to judge one")  # fmt: skip
            return
        y_check = window.y[window.n_rows - check :]
        if not urgent and np.all(y_check == y_check[0]):  # tour 16: v1.5.0, promoted on 1,000 "silver" rows, then served 30 %
            record.decision = "wait"
            record.reason = (f"{decision.reason}; not judged: the {check:,} newest labelled rows are all "
                             f"{self.store.schema.classes[int(y_check[0])]!r}, and a challenger that favours that class wins on "
                             "them by that alone; a challenger is judged once they hold two classes or more")  # fmt: skip
            return
        found = challenge(window, check, lengths, self.store.schema)
        if isinstance(found, NoChallenger):
            record.decision = "wait"
            record.reason = f"{decision.reason}; {found.describe()}"
            return
        X_check = tail(window, check).X
        champion_right = training.predicted_class(self.registry.load(champion).predict_proba(X_check)) == y_check
        grown = found.length == follow_up  # its own regime's rows: more of them replace it unless worse, as after a drop
        verdict = promotion(paired(champion_right, found.right), urgent or grown, s.gate_margin, tried=len(found.scores),
                            against=FAILING if urgent else FOLLOWED_UP)  # fmt: skip
        follow = (f"; {version_label(champion)} was fitted on {int(model['n_train']):,} rows after a drop, and its window grown to "
                  f"the {follow_up:,} rows before these replaces it unless worse: " if grown else "; ")  # fmt: skip
        record.reason = f"{decision.reason}; {found.describe()}{follow}{verdict.reason}"
        if not verdict.promote:
            return
        trained = tail(window, found.length + check)
        holdout = np.zeros(trained.n_rows, dtype=bool)
        holdout[-check:] = True
        outcome = self._train_and_gate(decision, s, record, alerts, trained, holdout, failure="registering the challenger failed")
        if outcome is None:
            return
        if outcome.decision is None:
            record.reason += f"; nothing registered: {outcome.reason}"
            return
        gate = outcome.decision
        self.faults.succeeded("mlflow")
        record.new_version, record.promoted, record.gate_outcome = gate.version, gate.promoted, gate.outcome
        record.reason += f"; registered {version_label(gate.version)} ({trained.n_rows - check:,} training rows); {gate.reason}"
        if urgent and found.length == lengths[0]:  # fitted on the rows since the drop only: its onset stays with it, promoted
            self.store.set_followup(gate.version, decision.onset_sample_id)  # now or approved later (read only while champion)

    def _retrain(self, decision: Decision, s: Settings, record: CycleRecord, alerts: HeldAlerts) -> None:
        window = self.store.recent_window(s.training_window)
        if decision.onset_sample_id is not None and window.first_sample_id < decision.onset_sample_id:
            post_drift = int(np.count_nonzero(window.sample_ids >= decision.onset_sample_id))
            choice = choose_window(window, post_drift, self.store.schema, s.holdout_fraction)
            window = choice.window if choice is not None else tail(window, post_drift)
            if choice is not None:
                record.reason += f"; {choice.describe()}"
        outcome = self._train_and_gate(decision, s, record, alerts, window, None, failure="retrain failed")
        if outcome is None:
            return
        first = window.first_sample_id if decision.onset_sample_id is None else max(window.first_sample_id, decision.onset_sample_id)
        self._after_gate(outcome, decision, s, record, first, window.last_sample_id, window.first_sample_id < first)

    def _train_and_gate(
        self, decision: Decision, s: Settings, record: CycleRecord, alerts: HeldAlerts, window: Window, holdout: np.ndarray | None,
        failure: str,
    ) -> TrainOutcome | None:  # fmt: skip
        """`train_and_gate` under the training lock; None when the cycle ends here, its record saying why: too few rows of
        a class is a verdict (a strong shift can leave the newest rows almost all one class), anything else a fault."""
        try:
            with self.training_lock:
                return train_and_gate(
                    self.registry, alerts, window, decision.trigger, approve=s.policy == "approve", cycle_id=record.cycle_id,
                    fields=_fields(record), holdout=holdout,
                )  # fmt: skip
        except training.NotEnoughRows as few:
            record.decision = "wait"
            record.reason = f"{record.reason}; waiting for more rows: a training {few.message} (window of {window.n_rows:,} rows)"
        except Exception as exc:
            log.exception(failure)
            fault = self.faults.failed(component_of(exc), exc)
            self._failed(record, f"{record.reason}; {failure}: {fault.message}", decision=decision.action)
        return None

    def _after_gate(
        self, outcome: TrainOutcome, decision: Decision, s: Settings, record: CycleRecord, first: int, last: int, mixed: bool = False
    ) -> None:
        """The cycle's record, the follow-up owed and the reference moved, from what the gate decided. `first` to `last`
        are the post-drift rows; `mixed` says the training window reached back before them."""
        if outcome.decision is None:
            record.reason += f"; retrain skipped: {outcome.reason}"
            return
        gate = outcome.decision
        self.faults.succeeded("mlflow")
        if decision.trigger == "follow-up":  # done, whatever the gate says: the champion held or was replaced
            self.store.set_followup(record.champion_version, None)
        record.new_version, record.promoted, record.gate_outcome = gate.version, gate.promoted, gate.outcome
        record.reason = f"{record.reason}; trained {version_label(gate.version)} on {_fitted_on(outcome)}; {gate.reason}"
        if gate.promoted:
            if decision.onset_sample_id is not None and outcome.n_rows < s.training_window:
                self.store.set_followup(gate.version, decision.onset_sample_id)
            if mixed:  # it learnt from older rows too, but what it must now look like is the new regime
                move_reference(self.store, gate.version, first, last)
                record.reason += "; its drift reference is the post-drift rows"
        elif gate.outcome == "rejected" and decision.onset_sample_id is not None and gate.champion is not None:
            # The champion is at least as good on the post-drift rows: they are its new normal. Without
            # this, a covariate shift the champion handles well would be retested against the old
            # reference, flagged and retrained every cooldown, forever.
            move_reference(self.store, gate.champion, first, last)
            record.reason += "; the champion holds on the post-drift rows, so they become its drift reference"


@dataclass(frozen=True)
class _Estimated:
    estimate: Estimate
    threshold: float

    @property
    def value(self) -> float:
        return self.estimate.value

    @property
    def band(self) -> dict[str, float]:
        """The Measurement's band fields."""
        return {"estimated_low": self.estimate.low, "estimated_high": self.estimate.high, "estimated_threshold": self.threshold,
                "estimated_rows": self.estimate.n}  # fmt: skip


class _NoEstimate:
    """A cycle with nothing new to estimate: every row an earlier cycle already estimated (only late labels came), or
    fewer new rows than IA_DRIFT_MIN_ROWS."""

    value = threshold = None

    @property
    def band(self) -> dict[str, object]:
        return {"estimated_low": None, "estimated_high": None, "estimated_threshold": None, "estimated_rows": 0}


_NO_ESTIMATE = _NoEstimate()


def _estimate_alone(m: Measurement) -> str:
    """Said in the reason of a cycle whose rows brought no labels of the champion's: the estimate alone judged it."""
    return (
        "; no labels came for the champion's rows, so the label-free estimate alone judged it"
        if m.realised is None and m.estimated is not None
        else ""
    )


def _fields(record: CycleRecord) -> dict[str, object]:
    """The cycle's figures an alert carries (Discord embed fields), each named for what it is: the accuracies are the
    champion's that served the cycle, whatever version the alert is about (the gate's alert names its own scores)."""
    return {
        "Status": record.status,
        "Champion this cycle": version_label(record.champion_version),
        "Champion's accuracy this cycle": _pct(record.realised_accuracy),
        "Champion's estimated accuracy this cycle": _pct(record.estimated_accuracy),
        "Drift share": _pct(record.drift_share),
        "Decision": record.decision,
        "Cycle": record.cycle_id,
    }


def _fitted_on(outcome: TrainOutcome) -> str:
    """The rows a version was fitted on and those held out to score it: "on 5000 rows" read as its training set beside
    "trained on 3,500 rows" on the Models page."""
    return f"{outcome.n_train:,} rows ({outcome.n_holdout:,} more held out to score it)"


def _skipped(record: CycleRecord) -> str:
    """What a failed cycle leaves behind: the rows it had begun to read are not read again (the next cycle moves
    on rather than failing on them for ever), or nothing, when it failed before reading."""
    if record.predictions_until is None:
        return "it failed before reading, so the next cycle reads what had arrived"
    rows = f"samples {record.first_sample_id:,}–{record.last_sample_id:,} and " if record.first_sample_id is not None else ""
    return f"skipped: {rows}the predictions served until {record.predictions_until:%H:%M:%S} UTC are not read again"


def _others(m: Measurement) -> str:
    """The labels of other versions' predictions a cycle received, said beside the champion's verdict."""
    if not m.others:
        return ""
    each = "; ".join(o.describe() for o in m.others)
    also = " also" if m.realised is not None else ""  # tour 18: "No labels came for the champion's rows… Labels also came"
    return (
        f" Labels{also} came back for predictions other versions served: {each}. They count for those versions, "
        f"not for {version_label(m.champion)}'s realised accuracy."
    )


@contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        steps[name] = (time.perf_counter() - start) * 1000


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{float(value):.1%}"
