"""One monitoring cycle: new data -> evaluate -> test drift -> decide -> retrain -> gate -> notify.

A cycle never raises: whatever fails is stored in the cycle's record with its
traceback and announced, so the scheduler always reaches the next cycle.

A cycle reads only the loop's incoming data (the stream, datasets sent to the loop)
or, failing that, the inputs users sent for prediction; library datasets never move
it. Retraining after drift uses only the rows that arrived since the drift began
(the current streak of drifted cycles), the way drift detectors such as ADWIN drop
the old regime; once a full training window of the new regime has arrived, that
small-window champion is retrained again through the gate. Performance drift is
called only when the drop is larger than the tolerance and statistically credible
(the batch accuracy's upper confidence bound is below the bar minus the tolerance);
the bar is the champion's realised accuracy on the cycles it served once they hold
more rows than its holdout, and the holdout accuracy before that.

Each cycle stores its verdict in words: which signal fired (feature drift, a
realised-accuracy drop, an estimated-accuracy drop), what it means and what it
cannot see.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from core import controls, datagen, training, verdicts
from core.config import Settings
from core.drift import DriftReport, DriftThresholds, drift_report, wilson_lower, wilson_upper
from core.faults import FaultBoard, component_of
from core.notify import Notifier
from core.reference import Reference, move_reference, read_reference, reference_of
from core.registry import IdenticalVersion, ModelRegistry, version_label
from core.store import Store, utcnow

log = logging.getLogger(__name__)
MAX_ROWS_PER_CYCLE = 100_000
MAX_UNRECORDED_CYCLES = 1000
RANDOM_POLICY_THRESHOLD = 0.5
OPTIONAL_FIELDS = (
    "first_sample_id", "last_sample_id", "predictions_until", "scenario", "strength", "champion_version",
    "champion_holdout_accuracy", "realised_accuracy", "realised_upper", "estimated_accuracy", "drift_share",
    "dataset_drift", "performance_drift", "draw", "new_version", "promoted", "error", "verdict", "signals",
    "performance_bar", "reference",
)  # fmt: skip
MIN_SERVED_ROWS = 1000
FOLLOW_UP_GROWTH = 5


@dataclass(frozen=True)
class Decision:
    action: str  # retrain | none | wait | cooldown
    reason: str
    onset_sample_id: int | None = None
    draw: float | None = None
    trigger: str = "cycle"


@dataclass(frozen=True)
class Measurement:
    champion: int | None
    holdout_accuracy: float | None
    realised: float | None
    realised_upper: float | None
    estimated: float | None
    performance_drift: bool
    bar: float | None = None
    bar_source: str = ""
    n_rows: int = 0
    estimated_drop: bool = False


def thresholds_of(s: Settings) -> DriftThresholds:
    return DriftThresholds(s.ks_alpha, s.wasserstein_threshold, s.psi_threshold, s.psi_warning)


class MonitoringPipeline:
    """Runs cycles against one workspace; cycles are serialised by a lock."""

    def __init__(
        self,
        store: Store,
        registry: ModelRegistry,
        notifier: Notifier,
        settings: Settings,
        faults: FaultBoard | None = None,
        training_lock: threading.Lock | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.notifier = notifier
        self.settings = settings
        self.faults = faults or FaultBoard()
        self.training_lock = training_lock or threading.Lock()
        self._unrecorded: list[tuple[dict, list[dict]]] = []
        self.lock = threading.Lock()
        self._reference: tuple[tuple, np.ndarray] | None = None
        self._reference_estimate: tuple[tuple, float] | None = None  # the champion's own estimate on its reference
        self._recent: deque[np.ndarray] = deque()
        self._recent_key: tuple | None = None

    # the cycle ---------------------------------------------------------------
    def run_cycle(self, trigger: str = "schedule") -> dict:
        """Run one cycle and store its record; never raises. Waits for a cycle under way."""
        with self.lock:
            return self.run_cycle_locked(trigger)

    def run_cycle_locked(self, trigger: str) -> dict:
        """The cycle itself; the caller holds `self.lock` (the scheduler takes it without waiting)."""
        started = utcnow()
        try:
            s = controls.effective_settings(self.settings, self.store)
            cycle_id = self.store.next_cycle_id()
        except Exception as exc:  # the store itself fails (disk full, read-only): nothing can be recorded now
            fault = self.faults.failed(component_of(exc), exc)
            log.error("cycle could not start: %s", fault.message)
            return {"cycle_id": None, "started_at": started, "status": "error", "decision": "error", "reason": fault.message}
        self._record_unrecorded()
        record: dict = dict.fromkeys(OPTIONAL_FIELDS) | {
            "cycle_id": cycle_id, "started_at": started, "trigger": trigger, "policy": s.policy, "status": "ok",
            "rows_seen": 0, "labelled": False, "decision": "none", "reason": "",
        }  # fmt: skip
        steps: dict[str, float] = {}
        report: DriftReport | None = None
        try:
            report = self._steps(cycle_id, s, record, steps)
        except Exception as exc:
            log.exception("cycle %s failed", cycle_id)
            fault = self.faults.failed(component_of(exc), exc)
            record.update(status="error", decision="error", reason=f"cycle failed: {fault.message}", error=traceback.format_exc())
            self._alert("cycle_error", "failure", "Monitoring cycle failed", record["reason"], record)
        record["ended_at"] = utcnow()
        record["step_ms"] = json.dumps({k: round(v, 3) for k, v in steps.items()})
        self._store_cycle(record, report.rows() if report else [])
        return record

    def _store_cycle(self, record: dict, drift_rows: list[dict]) -> None:
        """Store the cycle with its drift rows; failing that, the cycle alone as an error; failing
        that too (the disk is full), keep it to store at a later cycle and mark the store faulty."""
        try:
            self.store.insert_cycle(record, drift_rows)
            if record["status"] != "error":
                self.faults.succeeded("duckdb")
                self.faults.succeeded("disk")
            return
        except Exception as exc:
            fault = self.faults.failed(component_of(exc), exc)
            log.error("could not store cycle %s in full: %s", record["cycle_id"], fault.message)
            record.update(status="error", error=f"{record.get('error') or ''}storing the cycle failed: {fault.message}")
        try:
            self.store.insert_cycle(record, [])
        except Exception:
            if len(self._unrecorded) < MAX_UNRECORDED_CYCLES:
                self._unrecorded.append((record, []))
            log.error("cycle %s kept in memory until the store accepts writes again", record["cycle_id"])

    def _record_unrecorded(self) -> None:
        while self._unrecorded:
            record, rows = self._unrecorded[0]
            try:
                self.store.insert_cycle(record, rows)
            except Exception:
                return
            self._unrecorded.pop(0)
            log.info("cycle %s stored late: the store accepts writes again", record["cycle_id"])

    def _steps(self, cycle_id: int, s: Settings, record: dict, steps: dict[str, float]) -> DriftReport | None:
        with _timed(steps, "stream"):
            self._stream(cycle_id, s, record)
        with _timed(steps, "read"):
            X, y = self._new_data(record)
        if X.shape[0] == 0:
            record.update(status="no_data", reason=f"no new data since cycle {cycle_id - 1}: stream off and nothing added")
            return None
        with _timed(steps, "evaluate"):
            measured = self._measure(X, y, s)
        record.update(
            champion_version=measured.champion,
            champion_holdout_accuracy=measured.holdout_accuracy,
            realised_accuracy=measured.realised,
            realised_upper=measured.realised_upper,
            estimated_accuracy=measured.estimated,
            performance_drift=measured.performance_drift,
        )
        report = None
        if measured.champion is not None:
            with _timed(steps, "drift"):
                reference = self._reference_for(measured.champion, s)
                record["reference"] = self._reference[0][0].to_json()
                report = drift_report(reference, self._batches(X, y is not None, s), self.store.features, thresholds_of(s))
            record.update(drift_share=report.drift_share, dataset_drift=report.dataset_drift)
        signals = verdicts.signals(report, measured)
        record.update(performance_bar=measured.bar, signals=json.dumps(signals), verdict=verdicts.verdict(signals, report, measured, s))
        with _timed(steps, "decide"):
            decision = self.decide(cycle_id, s, record, report, measured)
        record.update(decision=decision.action, reason=decision.reason, draw=decision.draw)
        if signals:
            onset = self._drift_streak(record, report, measured)[-1]  # one episode: the run of drifted cycles since its onset
            self._alert("drift", "warning", "Drift detected", f"{record['verdict']}\nDecision: {decision.reason}", record, episode=onset)
        if decision.action == "retrain":
            with _timed(steps, "retrain"):
                self._retrain(decision, s, record)
        return report

    # steps -------------------------------------------------------------------------
    def _stream(self, cycle_id: int, s: Settings, record: dict) -> None:
        if not s.stream_enabled:
            return
        state = controls.stream_state(self.store)
        scenario = state.at_cycle(cycle_id)
        X, y = datagen.generate(s.stream_batch_size, self.store.n_features, scenario, seed=s.seed * 1_000_003 + cycle_id)
        name = f"Stream (synthetic) · {datagen.SCENARIO_LABELS[scenario.name]} · from cycle {cycle_id}"
        self.store.append_stream_batch(X, y, name=name, scenario=scenario.name, strength=float(scenario.strength), seed=s.seed)
        record.update(scenario=scenario.name, strength=scenario.strength)

    def _new_data(self, record: dict) -> tuple[np.ndarray, np.ndarray | None]:
        """Incoming labelled samples since the last cycle; failing those, inputs users sent for prediction.
        Library datasets (generated or imported for training and exploration) are never read here."""
        previous = self.store.last_cycle()
        if previous is not None:
            seen_until, predictions_since = previous["last_sample_id"] or 0, previous["predictions_until"]
        else:
            champion = self.store.model(self.registry.champion_version) if self.registry.champion_version else None
            seen_until, predictions_since = (int(champion["window_last_sample"]) if champion else 0), None
        newest = self.store.max_incoming_sample_id()
        now = utcnow()
        record.update(last_sample_id=max(newest, seen_until), predictions_until=now)
        if newest > seen_until:
            first = max(seen_until + 1, newest - MAX_ROWS_PER_CYCLE + 1)
            window = self.store.read_samples(first, newest, incoming=True)
            record.update(first_sample_id=first, rows_seen=window.n_rows, labelled=True)
            return window.X, window.y
        since = predictions_since or now
        X = self.store.prediction_features_since(since, now, MAX_ROWS_PER_CYCLE)
        record.update(rows_seen=int(X.shape[0]), labelled=False)
        return X, None

    def _measure(self, X: np.ndarray, y: np.ndarray | None, s: Settings) -> Measurement:
        champion = self.registry.champion_version
        if champion is None:
            return Measurement(None, None, None, None, None, False)
        model = self.store.model(champion)
        holdout = float(model["accuracy"])
        bar, bar_source = self._bar(champion, holdout, int(model["n_holdout"]), s)
        predictor = self.registry.load(champion)
        proba = predictor.predict_proba(X)[:, 1]
        estimated = training.expected_accuracy(proba)
        # The estimate is compared with itself on the reference data: a model trained on few or noisy
        # rows is less confident everywhere, and that is no drop.
        reference = self._reference_for(champion, s)
        if self._reference_estimate is None or self._reference_estimate[0] != self._reference[0]:
            self._reference_estimate = (self._reference[0], training.expected_accuracy(predictor.predict_proba(reference)[:, 1]))
        estimated_drop = estimated < self._reference_estimate[1] - s.perf_tolerance
        if y is None:
            return Measurement(champion, holdout, None, None, estimated, False, bar, bar_source, len(X), estimated_drop)
        correct = int(np.count_nonzero((proba >= 0.5) == (y == 1)))
        realised = correct / len(y)
        upper = wilson_upper(correct, len(y), s.perf_confidence)
        drop = upper < bar - s.perf_tolerance
        return Measurement(champion, holdout, realised, upper, estimated, drop, bar, bar_source, len(y), estimated_drop)

    def _bar(self, champion: int, holdout: float, n_holdout: int, s: Settings) -> tuple[float, str]:
        """The accuracy a drop is measured from: the champion's realised accuracy on the cycles it
        served once they outnumber its holdout (and MIN_SERVED_ROWS); before that, what its holdout
        can vouch for (the lower confidence bound: 0.98 on 60 rows is not a promise of 0.98)."""
        correct, rows = self.store.served_accuracy(champion)
        if rows >= max(n_holdout, MIN_SERVED_ROWS):
            return correct / rows, f"realised on {rows:,} served rows"
        lower = wilson_lower(round(holdout * n_holdout), n_holdout, s.perf_confidence)
        return lower, f"holdout {holdout:.3f} on {n_holdout:,} rows, lower bound"

    def _batches(self, X: np.ndarray, labelled: bool, s: Settings) -> list[np.ndarray]:
        """The newest batch and the ones before it (same reference, same kind of data), newest first,
        for the pooled windows of the drift test."""
        key = (self._reference[0] if self._reference else None, labelled, s.drift_window_batches)
        if key != self._recent_key:
            self._recent.clear()
            self._recent_key = key
        self._recent.appendleft(X)
        while len(self._recent) > s.drift_window_batches:
            self._recent.pop()
        return list(self._recent)

    def reference(self, champion: int) -> Reference:
        """The champion's drift reference in force (core.reference owns what that is)."""
        return reference_of(self.store, champion)

    def _reference_for(self, champion: int, s: Settings) -> np.ndarray:
        """The reference's rows as a feature matrix, read again only when the reference changes."""
        ref = self.reference(champion)
        key = (ref, s.reference_max_rows, s.seed)
        if self._reference is None or self._reference[0] != key:
            rows = read_reference(self.store, ref, s.reference_max_rows, s.seed)
            self._reference = (key, rows[self.store.features].to_numpy(dtype=np.float64))
        return self._reference[1]

    # the decision ----------------------------------------------------------------------
    def decide(self, cycle_id: int, s: Settings, record: dict, report: DriftReport | None, m: Measurement) -> Decision:
        """Apply the policy, then the cooldown and the post-drift row minimum."""
        if m.champion is None:
            if record["labelled"]:
                return Decision("retrain", "no champion yet: training the first model")
            return Decision("none", "no champion yet and no labelled data: import or generate a dataset")
        wanted = self._policy(cycle_id, s, record, report, m)
        if wanted.action != "retrain":
            return wanted
        # A credible accuracy drop is urgent: only another accuracy-drop retrain cools it down, not a
        # planned follow-up or a feature-drift retrain that happened to come just before it.
        last = self.store.last_retrain_cycle(performance_only=m.performance_drift)
        if last is not None and cycle_id - last <= s.retrain_cooldown_cycles:
            return Decision("cooldown", f"{wanted.reason}; but cooling down: last retrain at cycle {last}, "
                            f"cooldown {s.retrain_cooldown_cycles} cycles", draw=wanted.draw)  # fmt: skip
        if wanted.onset_sample_id is not None:
            post_drift = self.store.count_incoming(wanted.onset_sample_id)
            if post_drift < s.min_retrain_rows:
                return Decision(
                    "wait", f"{wanted.reason}; collecting post-drift rows ({post_drift} of {s.min_retrain_rows})", draw=wanted.draw
                )
        return wanted

    def _policy(self, cycle_id: int, s: Settings, record: dict, report: DriftReport | None, m: Measurement) -> Decision:
        if s.policy == "never":
            return Decision("none", f"policy never: monitor only ({_summary(report, m)})")
        if s.policy == "always":
            return Decision("retrain", "policy always: retrain every cycle")
        if s.policy == "random":
            draw = float(np.random.default_rng([s.seed, cycle_id]).random())
            if draw < RANDOM_POLICY_THRESHOLD:
                return Decision("retrain", f"policy random: draw {draw:.3f} < {RANDOM_POLICY_THRESHOLD}", draw=draw)
            return Decision("none", f"policy random: draw {draw:.3f} >= {RANDOM_POLICY_THRESHOLD}", draw=draw)
        streak = self._drift_streak(record, report, m)
        if m.performance_drift:
            reason = (f"performance drift: accuracy {m.realised:.3f} (upper bound {m.realised_upper:.3f}) < "
                      f"bar {m.bar:.3f} ({m.bar_source}) - tolerance {s.perf_tolerance:g}")  # fmt: skip
            return Decision("retrain", reason, onset_sample_id=streak[-1])
        if report is not None and report.dataset_drift:
            reason = f"dataset drift: {', '.join(report.drifted_features)} drifted (KS, family-wise α {s.ks_alpha:g})"
            if len(streak) >= s.drift_persistence:
                return Decision("retrain", f"{reason} for {len(streak)} cycles", onset_sample_id=streak[-1])
            return Decision("wait", f"{reason}; waiting for {s.drift_persistence} consecutive drifted cycles ({len(streak)} so far)")
        return self._scheduled_challenge(cycle_id, s, record, report, m)

    def _scheduled_challenge(self, cycle_id: int, s: Settings, record: dict, report: DriftReport | None, m: Measurement) -> Decision:
        """With no drift: the follow-up retrain of a small-window champion, or the periodic challenger
        (IA_CHALLENGE_EVERY); both go through the gate. A champion trained on n post-drift rows is
        challenged once FOLLOW_UP_GROWTH x n rows of its regime have arrived (200, 1,000, then the full
        window): a model on 200 rows serves noticeably worse than one on 1,000, and waiting for the
        full window alone would leave it in service for 25 cycles at the default sizes."""
        followup = self.store.get_setting(f"followup.{m.champion}")
        if followup and record["labelled"]:
            model = self.store.model(m.champion)
            target = min(s.training_window, FOLLOW_UP_GROWTH * int(model["n_train"] + model["n_holdout"]))
            onset, arrived = int(followup), self.store.count_incoming(int(followup))
            if arrived >= target:
                full = "a full window" if target == s.training_window else f"{FOLLOW_UP_GROWTH}x its training rows"
                return Decision("retrain", f"follow-up: {version_label(m.champion)} was trained on a small post-drift window; "
                                f"{full} ({arrived:,} rows) of the new regime has arrived", onset, trigger="follow-up")  # fmt: skip
        if s.challenge_every and record["labelled"]:
            last = self.store.last_retrain_cycle() or 0
            if cycle_id - last >= s.challenge_every:
                return Decision("retrain", f"periodic challenger: {cycle_id - last} cycles since the last retrain "
                                f"(IA_CHALLENGE_EVERY={s.challenge_every})", trigger="periodic")  # fmt: skip
        return Decision("none", f"no drift ({_summary(report, m)})")

    def _drift_streak(self, record: dict, report: DriftReport | None, m: Measurement) -> list[int]:
        """First sample ids of the current run of drifted cycles, newest first, back to the last promotion."""
        streak = [record["first_sample_id"]]
        if not ((report is not None and report.dataset_drift) or m.performance_drift):
            return streak
        for _cycle_id, drifted, first_sample, promoted in self.store.recent_drift_flags(50):
            if not drifted or promoted or first_sample is None:
                break
            streak.append(int(first_sample))
        return streak

    # retraining ------------------------------------------------------------------------------
    def _retrain(self, decision: Decision, s: Settings, record: dict) -> None:
        window = self.store.recent_window(s.training_window)
        if decision.onset_sample_id is not None and window.first_sample_id < decision.onset_sample_id:
            window = self.store.read_samples(decision.onset_sample_id, window.last_sample_id, incoming=True)
        try:
            with self.training_lock:
                challenger = self.registry.train_challenger(window, trigger=decision.trigger)
                gate = self.registry.gate(challenger, promote=s.policy != "approve")
        except IdenticalVersion as same:
            record["reason"] += f"; retrain skipped: {same}"
            return
        except training.NotEnoughRows as few:
            # A verdict, not a fault: a strong shift can leave the post-drift rows almost all one class.
            detail = str(few).split(": ", 1)[-1]
            record.update(
                decision="wait", reason=f"{record['reason']}; waiting for more rows: a training {detail} (window of {window.n_rows:,} rows)"
            )
            return
        except Exception as exc:
            log.exception("retrain failed")
            fault = self.faults.failed(component_of(exc), exc)
            record.update(status="error", reason=f"{record['reason']}; retrain failed: {fault.message}", error=traceback.format_exc())
            self._alert("retrain_failed", "failure", "Retrain failed", record["reason"], record)
            return
        self.faults.succeeded("mlflow")
        if decision.trigger == "follow-up":  # done, whatever the gate says: the champion held or was replaced
            self.store.set_setting(f"followup.{record['champion_version']}", "")
        record.update(new_version=gate.version, promoted=gate.promoted, reason=f"{record['reason']}; trained {version_label(gate.version)} "
                      f"on {window.n_rows} rows; {gate.reason}")  # fmt: skip
        if gate.promoted:
            if decision.onset_sample_id is not None and window.n_rows < s.training_window:
                self.store.set_setting(f"followup.{gate.version}", str(decision.onset_sample_id))
            self._alert("promoted", "success", f"New champion {version_label(gate.version)}", gate.reason, record)
            return
        if gate.awaiting_approval:
            self._alert("awaiting", "info", f"Challenger {version_label(gate.version)} awaits approval",
                        f"{gate.reason}. Promote or reject it on the Models page.", record)  # fmt: skip
            return
        if decision.onset_sample_id is not None and gate.champion is not None:
            # The champion is at least as good on the post-drift rows: they are its new normal. Without
            # this, a covariate shift the champion handles well would be retested against the old
            # reference, flagged and retrained every cooldown, forever.
            move_reference(self.store, gate.champion, window.first_sample_id, window.last_sample_id)
            record["reason"] += "; the champion holds on the post-drift rows, so they become its drift reference"
        self._alert("rejected", "warning", f"Challenger {version_label(gate.version)} rejected", gate.reason, record)

    def _alert(self, kind: str, level: str, title: str, description: str, record: dict, episode: object = None) -> None:
        fields = {
            "Status": record.get("status"),
            "Model version": version_label(record.get("new_version") or record.get("champion_version")),
            "Accuracy": _pct(record.get("realised_accuracy")),
            "Estimated accuracy": _pct(record.get("estimated_accuracy")),
            "Drift share": _pct(record.get("drift_share")),
            "Decision": record.get("decision"),
            "Cycle": record.get("cycle_id"),
        }
        try:
            self.notifier.notify(kind, level, title, description, fields, cycle_id=record.get("cycle_id"), episode=episode)
        except Exception:
            log.exception("could not record the %s alert", kind)


@contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        steps[name] = (time.perf_counter() - start) * 1000


def _summary(report: DriftReport | None, m: Measurement) -> str:
    parts = []
    if m.realised is not None:
        parts.append(f"accuracy {m.realised:.3f} vs bar {m.bar:.3f}, {m.bar_source}")
    if m.estimated is not None:
        parts.append(f"estimated {m.estimated:.3f}")
    if report is not None:
        parts.append(f"drift share {report.drift_share:.2f}")
    return ", ".join(parts) or "nothing measured"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{float(value):.1%}"
