"""Champion/challenger registry: train a challenger, gate it, promote, roll back.

DuckDB is the system of record for which version serves; the MLflow `champion` alias
mirrors it. A promotion changes both or neither: the DuckDB transaction stays open
while the alias moves, and if the commit fails after the alias moved, the alias is
put back.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from core.config import Settings
from core.domain.outcomes import GateOutcome, manual_kind, no_such_version, version_label
from core.errors import UserInputError
from core.ml import training
from core.stats import evaluation
from core.stats.estimate import AccuracyEstimator
from core.store import Store, Window, dumps_ids, utcnow

if TYPE_CHECKING:
    from core.tracking import Tracker

log = logging.getLogger(__name__)
LOWER_IS_BETTER = {"log_loss"}


class IdenticalVersion(Exception):
    """A training whose data and parameters equal an existing version's: nothing is registered."""

    def __init__(self, version: int) -> None:
        super().__init__(f"nothing registered: the data and parameters equal {version_label(version)}'s")
        self.version = version


@dataclass(frozen=True)
class Challenger:
    version: int
    run_id: str
    metrics: dict[str, float]
    X_holdout: training.Features
    y_holdout: np.ndarray
    n_train: int
    from_loop: bool = True  # trained on the loop's incoming window (False: on datasets a user chose)
    dataset_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class GateSet:
    """The rows a gate scores both models on: what the winner will serve (the loop's recent traffic)."""

    X: training.Features
    y: np.ndarray
    description: str


@dataclass(frozen=True)
class GateDecision:
    version: int
    champion: int | None
    metric: str
    challenger_score: float | None  # on the gate's set; None for a person's decision, which scored nothing there
    champion_score: float | None
    n_rows: int | None
    promoted: bool
    reason: str
    gate_set: str = ""
    own_challenger_score: float | None = None  # both models on the challenger's own holdout, shown beside
    own_champion_score: float | None = None
    own_n_rows: int | None = None
    outcome: GateOutcome = "rejected"
    superseded: tuple[int, ...] = ()  # challengers that were awaiting approval and this one replaced

    @property
    def awaiting_approval(self) -> bool:
        return self.outcome == "awaiting"


class ModelRegistry:
    """Owns the champion pointer of this process and every change to it."""

    def __init__(self, store: Store, tracker: Tracker, settings: Settings) -> None:
        self.store = store
        self.tracker = tracker
        self.settings = settings
        self._lock = threading.RLock()
        self._models: OrderedDict[int, object] = OrderedDict()
        self.champion_version: int | None = store.champion_version()

    def load(self, version: int) -> object:
        """A registered model, kept in a small cache so gates and serving share loads."""
        with self._lock:
            if version not in self._models:
                self._models[version] = self.tracker.load_model(version)
                while len(self._models) > 4:
                    self._models.popitem(last=False)
            self._models.move_to_end(version)
            return self._models[version]

    def train_challenger(
        self,
        window: Window,
        trigger: str,
        training_data: str = "loop window",
        options: training.TrainingOptions = training.DEFAULT_OPTIONS,
        holdout: np.ndarray | None = None,
    ) -> Challenger:
        """Fit on `window`, log and register the run, mark it challenger in MLflow and DuckDB.

        Raises IdenticalVersion when a version was already trained on exactly these rows with these
        parameters: registering it again would add a version that differs from it in name only.
        """
        data_hash = training.data_hash(window.X, window.y)
        schema = self.store.schema
        params_hash = training.params_hash(self.settings.holdout_fraction, self.settings.seed, options, schema)
        same = self.store.identical_version(data_hash, params_hash)
        if same is not None:
            raise IdenticalVersion(same)
        result = training.fit(window.X, window.y, self.settings.holdout_fraction, self.settings.seed, options, schema, holdout)
        # A window's tail (the loop's challenger) keeps every dataset the full window read: its lineage names only those
        # it trained on.
        window = replace(window, dataset_ids=self.store.datasets_holding(window.dataset_ids, window.first_sample_id,
                                                                         window.last_sample_id) or window.dataset_ids)  # fmt: skip
        tags = {
            "training_data": training_data,
            "dataset_ids": dumps_ids(window.dataset_ids),
            "n_rows": str(window.n_rows),
            "data_hash": data_hash,
            "trigger": trigger,
            "sample_id_range": f"{window.first_sample_id}-{window.last_sample_id}",
        }
        params = {**result.params, "n_train": result.n_train, "n_holdout": int(result.y_holdout.shape[0])}
        logged = self.tracker.log_model(result.model, params, result.metrics | result.extra_metrics, tags, window.X, schema.to_json())
        self.tracker.set_alias("challenger", logged.version)
        with self._lock:
            self._models[logged.version] = result.model
        scored = evaluation.evaluate_version(result.model, result.X_holdout, result.y_holdout, self.settings.seed)
        if result.encoded_mean is not None:
            scored["encoded_mean"] = result.encoded_mean
        self.store.insert_model(
            {
                "version": logged.version,
                "label": version_label(logged.version),
                "run_id": logged.run_id,
                "n_train": result.n_train,
                "n_holdout": int(result.y_holdout.shape[0]),
                "window_first_sample": window.first_sample_id,
                "window_last_sample": window.last_sample_id,
                "dataset_ids": tags["dataset_ids"],
                "data_hash": data_hash,
                "params_hash": params_hash,
                "training_data": training_data,
                "trigger": trigger,
                **result.metrics,
                "estimator": json.dumps(result.estimator.to_dict()),
                "status": "challenger",
                "created_at": utcnow(),
            },
            scored,
        )
        return Challenger(logged.version, logged.run_id, result.metrics, result.X_holdout, result.y_holdout, result.n_train,
                          training_data == "loop window", window.dataset_ids)  # fmt: skip

    def backfill_missing(self, progress: Callable[[str], None]) -> None:
        """At start: the versions stored without an evaluation get theirs (`backfill_evaluations`)."""
        missing = self.store.versions_without_evaluation()
        if missing:
            progress("Evaluating versions trained before evaluations were stored")
            backfilled = self.backfill_evaluations(missing)
            if backfilled:
                log.info("stored the evaluations of %s", ", ".join(map(version_label, backfilled)))

    def backfill_evaluations(self, versions: list[int]) -> list[int]:
        """Versions registered before evaluations were stored get theirs, from the very holdout they were
        scored on (`holdout`). A version whose rows were archived or whose parameters differ is left alone
        (the page says it has no evaluation)."""
        done = []
        for version in versions:
            try:
                holdout = self.holdout(version)
                if holdout is None:
                    continue
                scored = evaluation.evaluate_version(self.load(version), *holdout, self.settings.seed)
                self.store.insert_evaluation(version, scored)
                done.append(version)
            except Exception:
                log.exception("could not evaluate %s after the fact; it stays without an evaluation", version_label(version))
        return done

    def holdout(self, version: int) -> tuple[training.Features, np.ndarray] | None:
        """The holdout a version was scored on, recomputed: its training rows re-read and checked against the
        stored data hash, split with the same seeded rule, under the same parameters; None when its rows
        were archived or its parameters differ."""
        s, record = self.settings, self.store.model(version)
        if record is None or record["params_hash"] != training.params_hash(s.holdout_fraction, s.seed, schema=self.store.schema):
            return None
        loop = record["training_data"] in (None, "loop window")
        rows = (self.store.read_samples(record["window_first_sample"], record["window_last_sample"], incoming=True) if loop
                else self.store.read_datasets(json.loads(record["dataset_ids"])))  # fmt: skip
        if rows.n_rows == 0 or training.data_hash(rows.X, rows.y) != record["data_hash"]:
            return None
        held = training.stratified_holdout_mask(rows.y, s.holdout_fraction, s.seed, len(self.store.schema.classes))
        return rows.X[held], rows.y[held]

    def estimator(self, version: int) -> AccuracyEstimator:
        """The version's label-free accuracy estimator: stored at training; for a version trained before, fitted
        on its recomputed holdout and stored; failing that (its rows archived), uncalibrated with no thresholds
        (no estimated drop can be called), and it says why."""
        stored = self.store.estimator(version)
        if stored is not None:
            return AccuracyEstimator.from_dict(stored)
        holdout = self.holdout(version)
        if holdout is None:
            reason = "uncalibrated: its holdout cannot be recomputed (rows archived or other parameters), so no drop thresholds"
            return AccuracyEstimator(len(self.store.schema.classes), reason=reason, seed=self.settings.seed)
        fitted = AccuracyEstimator.fit(self.load(version).predict_proba(holdout[0]), holdout[1], seed=self.settings.seed)
        self.store.set_estimator(version, fitted.to_dict())
        return fitted

    def gate_set(self, challenger: Challenger) -> GateSet | None:
        """What the gate scores on. A challenger trained on the loop's window is judged on its own holdout,
        which is the loop's recent traffic it never saw. One trained on chosen datasets is judged on the
        loop's newest incoming rows outside those datasets: its own holdout only says it fits its own data
        (a covariate-shift dataset's holdout promoted a model the stable stream then looked drifted
        against). None when the loop has no such rows with both classes: nothing to judge on."""
        if challenger.from_loop:
            n = int(challenger.y_holdout.shape[0])
            return GateSet(
                challenger.X_holdout, challenger.y_holdout, f"the challenger's holdout: {n:,} of the loop's newest incoming rows"
            )
        wanted = max(int(challenger.y_holdout.shape[0]), round(self.settings.training_window * self.settings.holdout_fraction))
        rows = self.store.recent_window(wanted, exclude_datasets=challenger.dataset_ids)
        if rows.n_rows == 0 or len(np.unique(rows.y)) < 2:
            return None
        return GateSet(rows.X, rows.y, f"the loop's newest {rows.n_rows:,} incoming rows (sample ids {rows.first_sample_id:,}–"
                       f"{rows.last_sample_id:,}), none of them in the training datasets")  # fmt: skip

    def gate(self, challenger: Challenger, promote: bool = True, candidate: bool = False) -> GateDecision:
        """Score challenger and champion on the gate set (see `gate_set`), and on the challenger's own
        holdout beside it; promote if not worse by the rule. With `promote` False (the `approve` policy) a
        passing challenger waits for a person; with `candidate` the user asked to train without promoting."""
        metric, margin = self.settings.gate_metric, self.settings.gate_margin
        champion = self.champion_version
        own_n = int(challenger.y_holdout.shape[0])
        own = challenger.metrics[metric]  # scored on exactly this holdout when it was fitted
        own_champion = (
            None if champion is None else training.evaluate(self.load(champion), challenger.X_holdout, challenger.y_holdout)[metric]
        )
        beside = {"own_challenger_score": own, "own_champion_score": own_champion, "own_n_rows": own_n}
        fresh = self.gate_set(challenger)
        if champion is None:
            decision = GateDecision(challenger.version, None, metric, own, None, own_n, True, "first model: no champion to compare with",
                                    gate_set="its own holdout", outcome="first", **beside)  # fmt: skip
        elif fresh is None:
            reason = (f"kept as a candidate: the loop has no recent incoming rows outside its training datasets to judge it on "
                      f"(on its own holdout: {metric} {own:.4f} vs champion {version_label(champion)}'s {own_champion:.4f})")  # fmt: skip
            decision = GateDecision(challenger.version, champion, metric, own, own_champion, own_n, False, reason, gate_set="none",
                                    outcome="candidate", **beside)  # fmt: skip
        else:
            if challenger.from_loop:  # the gate's set is the own holdout: already scored
                score, champion_score = own, own_champion
            else:
                score = training.evaluate(self.load(challenger.version), fresh.X, fresh.y)[metric]
                champion_score = training.evaluate(self.load(champion), fresh.X, fresh.y)[metric]
            passed = _not_worse(metric, score, champion_score, margin)
            n = int(fresh.y.shape[0])
            aside = "" if challenger.from_loop else f"; on its own holdout ({own_n:,} rows): {own:.4f} vs {own_champion:.4f}"
            compared = (f"{metric} {score:.4f} {'>=' if passed else '<'} champion {version_label(champion)}'s {champion_score:.4f} - "
                        f"margin {margin:g} on the same {n:,} rows: {fresh.description}{aside}")  # fmt: skip
            if candidate:
                verdict = f"kept as a candidate (trained without promoting); it would {'' if passed else 'not '}have passed the gate"
            else:  # "passed the gate", not "promoted", for one that waits for a person's approval
                verdict = "rejected" if not passed else "promoted" if promote else "passed the gate"
            reason = f"{verdict}: {compared}"
            decision = GateDecision(challenger.version, champion, metric, score, champion_score, n, passed, reason,
                                    gate_set=fresh.description, outcome="promoted" if passed else "rejected", **beside)  # fmt: skip
        if candidate and champion is not None and decision.outcome != "candidate":
            decision = replace(decision, promoted=False, outcome="candidate")  # its reason says what the gate would have done
        if decision.outcome == "candidate":
            self._keep_candidate(decision)
        elif decision.promoted and not promote:
            superseded = self.store.awaiting_approval()
            replaced = f"; it replaces {', '.join(map(version_label, superseded))}, which was waiting" if superseded else ""
            decision = replace(decision, promoted=False, outcome="awaiting", superseded=tuple(superseded),
                               reason=f"{decision.reason}; awaiting approval (policy approve){replaced}")  # fmt: skip
            with self.store.transaction() as tx:
                for older in superseded:  # one challenger waits at a time: the freshest
                    Store.set_status(tx, older, "rejected")
                    reason = f"superseded by {version_label(challenger.version)} while awaiting approval"
                    self.store.add_model_event(tx, {"kind": "superseded", "version": older, "previous_champion": champion,
                                                    "promoted": False, "reason": reason})  # fmt: skip
                self.store.add_model_event(tx, {**_event("gate", decision), "kind": "awaiting"})
        elif decision.promoted:
            self.promote(challenger.version, kind="gate", decision=decision)
        else:
            self._reject(decision)
        return decision

    def _keep_candidate(self, decision: GateDecision) -> None:
        """Registered and scored, not in service: a person may promote it later (Models page)."""
        with self.store.transaction() as tx:
            Store.set_status(tx, decision.version, "candidate")
            self.store.add_model_event(tx, {**_event("gate", decision), "kind": "candidate"})
        self._restore_challenger_alias()

    def approve(self, version: int) -> GateDecision:
        """A person promotes a challenger that passed the gate and waits for approval."""
        decision = self._human_decision(version, True, f"approved by hand: {version_label(version)} promoted over "
                                        f"{version_label(self.champion_version)}")  # fmt: skip
        self.promote(version, kind="approval", decision=decision)
        return decision

    def reject(self, version: int) -> GateDecision:
        """A person rejects a challenger awaiting approval; the champion stays."""
        decision = self._human_decision(version, False, f"rejected by hand: {version_label(self.champion_version)} stays champion")
        with self.store.transaction() as tx:
            Store.set_status(tx, version, "rejected")
            self.store.add_model_event(tx, {**_event("gate", decision), "kind": "rejection"})
        self._restore_challenger_alias()
        return decision

    def _human_decision(self, version: int, promoted: bool, reason: str) -> GateDecision:
        if self.store.model(version) is None:
            raise no_such_version(version)
        if version not in self.store.awaiting_approval():
            raise UserInputError("version", f"{version_label(version)} is not a challenger awaiting approval")
        return self._by_hand(version, promoted, reason, "approval" if promoted else "rejected")

    def _reject(self, decision: GateDecision) -> None:
        with self.store.transaction() as tx:
            Store.set_status(tx, decision.version, "rejected")
            self.store.add_model_event(tx, _event("gate", decision))
        self._restore_challenger_alias()

    def _restore_challenger_alias(self) -> None:
        """The `challenger` alias follows the challenger awaiting approval, or goes."""
        waiting = self.store.awaiting_approval()
        if waiting:
            self.tracker.set_alias("challenger", waiting[-1])
        else:
            self.tracker.delete_alias("challenger")

    def rollback(self, version: int) -> GateDecision:
        """Put a version in service by hand, without a gate: a rollback when it is a former champion older than the
        champion, else a promotion by hand (a candidate trained without promoting, or no champion in service)."""
        record = self.store.model(version)
        if record is None:  # by its label, as the caller wrote it (tour 20: "100 is not a registered version" for v1.99.0)
            raise no_such_version(version)
        if version == self.champion_version:
            raise UserInputError("version", f"{version_label(version)} is already the champion")
        if record["status"] == "rejected":
            why = ("was withdrawn while awaiting approval (a fresher challenger replaced it, or another version took service)"
                   if record.get("superseded") else "was rejected by the gate")  # fmt: skip
            raise UserInputError("version", f"{version_label(version)} {why} and never served: train again, or promote a former "
                                 "champion or a candidate")  # fmt: skip
        if record.get("pruned_at") is not None:
            raise UserInputError(
                "version",
                f"{version_label(version)}'s model files were pruned by retention (IA_KEEP_MODEL_VERSIONS): it cannot serve again",
            )
        kind = self.manual_kind(version)
        decision = self._by_hand(version, True, _by_hand_reason(kind, version, self.champion_version), kind)
        self.promote(version, kind=kind, decision=decision)
        return decision

    def manual_kind(self, version: int) -> str:
        """What putting `version` in service by hand would be: a rollback (a former champion, older than the champion)
        or a promotion by hand."""
        record = self.store.model(version)
        return manual_kind(version, self.champion_version, former_champion=record is not None and record["status"] == "archived")

    def _by_hand(self, version: int, promoted: bool, reason: str, outcome: GateOutcome) -> GateDecision:
        """A person's decision: no gate set was scored, so the version's score is its own holdout's, with no gate rows."""
        score = float(self.store.model(version)[self.settings.gate_metric])
        return GateDecision(version, self.champion_version, self.settings.gate_metric, None, None, None, promoted, reason,
                            own_challenger_score=score, outcome=outcome)  # fmt: skip

    def promote(self, version: int, *, kind: str, decision: GateDecision) -> None:
        """Move the champion in DuckDB and MLflow together, or in neither."""
        with self._lock:
            previous = self.champion_version
            stale = [v for v in self.store.awaiting_approval() if v != version]
            alias_moved = False
            try:
                with self.store.transaction() as tx:
                    Store.set_champion(tx, version, previous)
                    self.store.add_model_event(tx, _event(kind, decision))
                    for older in stale:  # judged against a champion that no longer serves: its gate no longer holds (tour 22:
                        # one left waiting under approve was approved 74 cycles later, over a newer champion, unwarned)
                        Store.set_status(tx, older, "rejected")
                        self.store.add_model_event(tx, {"kind": "superseded", "version": older, "previous_champion": previous,
                                                        "promoted": False, "reason": f"withdrawn while awaiting approval: "
                                                        f"{version_label(version)} took service, and its gate had judged it "
                                                        f"against {version_label(previous)}"})  # fmt: skip
                    self.tracker.set_alias("champion", version)
                    alias_moved = True
            except Exception:
                if alias_moved and previous is not None:
                    self.tracker.set_alias("champion", previous)
                log.exception("promotion of version %s failed; %s stays champion", version, version_label(previous))
                raise
            self.champion_version = version
        if stale:
            self._restore_challenger_alias()
        elif self.tracker.alias_version("challenger") == version:
            self.tracker.delete_alias("challenger")


def _by_hand_reason(kind: str, version: int, champion: int | None) -> str:
    over = f"over {version_label(champion)}" if champion is not None else "with no champion in service"
    if kind == "rollback":
        return f"rollback: {version_label(version)}, a former champion, put back in service by hand {over}"
    return f"promotion by hand: {version_label(version)} put in service by a person, without the gate, {over}"


def _not_worse(metric: str, challenger: float, champion: float, margin: float) -> bool:
    if math.isnan(challenger) or math.isnan(champion):
        return not math.isnan(challenger)
    if metric in LOWER_IS_BETTER:
        return challenger <= champion + margin
    return challenger >= champion - margin


def _event(kind: str, decision: GateDecision) -> dict:
    return {
        "kind": kind,
        "version": decision.version,
        "previous_champion": decision.champion,
        "metric": decision.metric,
        "challenger_score": decision.challenger_score,
        "champion_score": decision.champion_score,
        "n_rows": decision.n_rows,
        "promoted": decision.promoted,
        "reason": decision.reason,
        "gate_set": decision.gate_set or None,
        "own_challenger_score": decision.own_challenger_score,
        "own_champion_score": decision.own_champion_score,
        "own_n_rows": decision.own_n_rows,
    }
