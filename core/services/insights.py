"""What the doors show, read from stored facts (`core.services.facts`) and assembled into views: the Overview,
the decision boundary at any cycle, a prediction's feature contributions, one cycle in full, the last event.

Nothing here re-scores a model: evaluations and linear terms were stored at training time,
cycles and drift rows by the loop. Streamlit-free so the API could serve the same views.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.table_check import model_input, named_rows, plain_rows
from core.domain import validation
from core.domain.features import TARGET
from core.domain.outcomes import BY_HAND_EVENT_KINDS, MANUAL_TRIGGERS, LoopState, manual_title, no_such_version, version_label
from core.domain.schema import ClassLabel, Schema
from core.errors import NoModelError
from core.ml.row_model import RowModel
from core.ml.training import encoded_mean
from core.rules import verdicts
from core.rules.policy import CHALLENGING, promoted_as, warns
from core.services.compared import Compared, ComparedRows, compared_rows
from core.services.facts import StoredFacts
from core.services.reference import Reference, holding_rows, read_reference, reference_of, trained_on
from core.services.registry import ModelRegistry
from core.stats import evaluation
from core.stats.drift import PREDICTED
from core.stats.estimate import predicted_class
from core.store import Store

BOUNDARY_POINTS = 1500


@dataclass(frozen=True)
class BoundaryView:
    """The 2-D plane of two features at one cycle: points coloured by class, the models' lines."""

    cycle_id: int | None
    x_feature: str
    y_feature: str
    reference: pd.DataFrame
    batch: pd.DataFrame
    lines: dict[str, dict] = field(default_factory=dict)
    note: str = ""
    x_range: tuple[float, float] = (-3.0, 3.0)  # the points' span, padded: the lines end there, the axes show it
    y_range: tuple[float, float] = (-3.0, 3.0)
    regions: dict | None = None  # a table's champion: the class it predicts over a grid of the plane (x, y, z, classes)
    classes: tuple = (0, 1)


@dataclass(frozen=True)
class CycleDetail:
    cycle: dict
    drift: pd.DataFrame
    gate_events: pd.DataFrame
    alerts: list[dict]
    reference: Reference | None
    batch_range: tuple[int, int] | None


@dataclass(frozen=True)
class Event:
    """The last thing worth seeing (drift detected, a retrain, a promotion, a rollback): it stays on the
    Overview until another replaces it, where the newest cycle is replaced every few seconds."""

    kind: str  # drift | info | failure | promoted | awaiting | candidate | rejected | rollback | by_hand | approval
    title: str
    detail: str
    at: datetime
    cycle_id: int | None


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
    estimated: dict | None = None  # the newest cycle that estimated one (likewise)
    majority: tuple[ClassLabel, float] | None = None  # the champion's holdout's most frequent class and its share
    holdout_rows: int | None = None  # the rows the champion's holdout accuracy rests on


class WorkerStatus(Protocol):
    """The worker as the Overview shows it (`core.loop.scheduler.SchedulerStatus`)."""

    state: str
    interval: float
    next_run: datetime | None


GRID = 60  # points a side of a table's boundary grid: 3,600 rows scored once per view


class Insights(StoredFacts):
    """The doors' reads: each stored fact (`StoredFacts`) and the views built from them. `worker` and `loop` are the
    loop's state as `core.loop.control.LoopControl` reports it, asked when the Overview is drawn."""

    def __init__(
        self, store: Store, settings: Settings, registry: ModelRegistry, started_at: float, worker: Callable[[], WorkerStatus],
        loop: Callable[[], LoopState],
    ) -> None:  # fmt: skip
        self.store = store
        self.settings = settings
        self.max_abs = settings.feature_max_abs
        self.registry = registry
        self.started_at, self.worker, self.loop = started_at, worker, loop
        self._majority: tuple[int | None, tuple[ClassLabel, float] | None] = (None, None)  # per champion: read once
        self._encoded_means: dict[int, np.ndarray | None] = {}  # per version: its training rows' encoded mean, read once

    def overview(self) -> Overview:
        champion = self.registry.champion_version
        record = self.store.model(champion) if champion is not None else None
        worker = self.worker()
        return Overview(
            champion, record["accuracy"] if record else None, self.store.last_cycle(), worker.state, worker.next_run, worker.interval,
            time.time() - self.started_at, self.store.counts(), self.loop(), self.store.last_realised(),
            self.store.last_estimated(), self.majority(champion), int(record["n_holdout"]) if record else None,
        )  # fmt: skip

    def majority(self, champion: int | None) -> tuple[ClassLabel, float] | None:
        """The champion's holdout's most frequent class and its share (`evaluation.majority`), read from its stored
        evaluation once per champion: the Overview redraws every 5 s in every open tab."""
        if champion is None:
            return None
        if self._majority[0] != champion:
            stored = self.store.evaluation(champion)
            base = evaluation.majority(stored) if stored else None
            self._majority = (champion, None if base is None else (self.store.schema.classes[base[0]], base[1]))
        return self._majority[1]

    def explain(self, values: object, version: int | None = None) -> dict:
        """Why the champion (or `version`) predicts what it does for `values`: per-feature contributions."""
        version = self.registry.champion_version if version is None else version
        if version is None:
            raise NoModelError("no model yet: train one first")
        if self.store.model(version) is None:
            raise no_such_version(version)
        model = None if self.store.schema.plain else self.registry.load(version)
        return self.contributions(version, values, model)

    def reference_of_cycle(self, cycle: dict | None) -> Reference | None:
        """The reference a cycle's drift test used (stored with the cycle); for a cycle stored before
        references were, or with no cycle, the champion's reference in force now."""
        if cycle and cycle.get("reference"):
            return holding_rows(self.store, Reference.from_json(cycle["reference"]))
        champion = (cycle or {}).get("champion_version") or self.store.champion_version()
        return reference_of(self.store, int(champion)) if champion else None

    def reference_sample(self, cycle_id: int | None = None) -> tuple[Reference | None, pd.DataFrame]:
        """Exactly the rows the drift test of `cycle_id` (None: the champion's next test) compares with."""
        cycle = self.store.cycle(cycle_id) if cycle_id is not None else None
        ref = self.reference_of_cycle(cycle)
        if ref is None:
            return None, pd.DataFrame(columns=[*self.store.features, TARGET])
        return ref, read_reference(self.store, ref, self.settings.reference_max_rows, self.settings.seed)

    def typical_row(self) -> dict[str, object]:
        """A plausible row of the champion's reference (`typical_row`): where the Predict form starts, so a person
        pressing Predict at once asks about a sane row, not one of zeros. Empty before any champion."""
        ref, reference = self.reference_sample()
        return {} if ref is None else typical_row(reference, self.store.schema)

    def input_decimals(self) -> dict[str, int]:
        """Per numeric column, the decimals its reference values are written with (`decimals_written`): the Predict
        form shows a count as 22042, not 22042.0000, and a fee as 33.57. Empty before any champion."""
        ref, reference = self.reference_sample()
        if ref is None:
            return {}
        return {c.name: decimals_written(reference[c.name]) for c in self.store.schema.features if c.kind == "numeric"}

    def batch_sample(self, first_sample_id: int, last_sample_id: int, max_rows: int = 20_000) -> pd.DataFrame:
        """A cycle's batch: the loop's incoming rows of its range (library data stored in between left out)."""
        return self.store.incoming_rows(first_sample_id, last_sample_id, max_rows)

    def compared_rows(self, cycle_id: int, max_rows: int = 20_000) -> ComparedRows | None:
        """Per tested feature of a cycle, the rows its drift test compared: the batch, or the batches it pooled."""
        return compared_rows(self.store, validation.integer(cycle_id, "cycle", 1, 2**62), max_rows)

    def predicted_classes(self, cycle_id: int, max_rows: int = 20_000) -> tuple[pd.DataFrame, Compared] | None:
        """The classes the cycle's champion predicted on the reference and on the rows its "(predicted class)" test
        compared (as TARGET): the picture of that test. The classes are tested, not stored; the same model gives them
        again. None where the cycle made no such test, or its rows or its model cannot all be read again (the counts
        must equal the test's)."""
        tested = self.store.drift_results(validation.integer(cycle_id, "cycle", 1, 2**62))
        test = tested[tested["feature"] == PREDICTED]
        compared = compared_rows(self.store, cycle_id, max_rows) if not test.empty else None
        cycle = self.store.cycle(cycle_id) or {}
        champion = cycle.get("champion_version")
        record = self.store.model(int(champion)) if champion else None
        if compared is None or record is None or record.get("pruned_at") is not None:
            return None
        window = compared.windows.get(int(test["window_batches"].fillna(1).iloc[0]))
        _ref, reference = self.reference_sample(cycle_id)
        if window is None or (len(reference), len(window.rows)) != (int(test["n_reference"].iloc[0]), int(test["n_current"].iloc[0])):
            return None
        model, schema = self.registry.load(int(champion)), self.store.schema

        def predicted(rows: pd.DataFrame) -> pd.DataFrame:
            return pd.DataFrame({TARGET: predicted_class(model.predict_proba(model_input(rows, schema, schema.names)))})

        return predicted(reference), Compared(predicted(window.rows), window.cycles)

    def contributions(self, version: int, values: object, model: object = None) -> dict:
        """Each feature's contribution to the log-odds of class 1 under `version`, in the features' order;
        for a workspace's own table, from `model` (the version's pipeline), one entry per schema column in the
        schema's order (`columns`: its value as checked, its one-hot parts added up, whether training never saw
        its category), and `features`, `values` and `contributions` as parallel lists in that same order."""
        schema = self.store.schema
        if not schema.plain:
            row = named_rows(values, schema, 1, self.max_abs)
            baseline = self._encoded_mean(version, model)
            explained = evaluation.table_contributions(model, row, schema.classes, baseline) | {"from_average": baseline is not None}
            shown = [None if isinstance(v, float) and np.isnan(v) else v for v in row.iloc[0].tolist()]
            row_model = RowModel.of(model, schema)
            unseen = row_model.unseen(dict(zip(schema.names, shown, strict=True))) if row_model is not None else []
            columns = [{"column": name, "value": value, "contribution": part, "unseen": name in unseen}
                       for name, value, part in zip(explained["features"], shown, explained["contributions"], strict=True)]  # fmt: skip
            return {"version": version, "values": shown, "columns": columns, "unseen": unseen} | explained
        row = plain_rows(values if isinstance(values, dict) else [values], schema, 1, self.max_abs)[0]
        stored = self.store.evaluation(version)
        if stored is None:
            raise NoModelError(f"{version_label(version)} was trained before evaluations were stored: no coefficients to explain with")
        return {"version": version, "features": self.store.features, "values": row.tolist(), "towards": schema.classes[1]} | (
            evaluation.contributions(stored["linear"], row.tolist())
        )

    def _encoded_mean(self, version: int, model: object) -> np.ndarray | None:
        """The mean of `version`'s encoded inputs over the rows it was trained on: what an explanation measures a row's
        inputs from. Stored with its evaluation at training (`training.encoded_mean`); a version trained before that
        reads up to IA_REFERENCE_MAX_ROWS of its rows once, and has None when they are gone (retention)."""
        if version not in self._encoded_means:
            mean = (self.store.evaluation(version) or {}).get("encoded_mean")
            if mean is None:
                rows = read_reference(self.store, trained_on(self.store, version), self.settings.reference_max_rows, self.settings.seed)
                mean = None if rows.empty else encoded_mean(model, model_input(rows, self.store.schema, self.store.schema.names))
            self._encoded_means[version] = None if mean is None else np.asarray(mean, dtype=np.float64)
        return self._encoded_means[version]

    def last_event(self) -> Event | None:
        """The newest significant event of the loop or of a person: the newest cycle worth seeing (a signal, a retrain, a
        failure) or the newest thing a person did to models (a training from Train now or POST /retrain and its gate's
        decision, a rollback, a promotion, an approval or a rejection by hand), whichever came last."""
        cycle, person = self.store.last_event_cycle(), self.store.last_person_event()
        if person is not None and (cycle is None or person["ts"] >= cycle["started_at"]):
            return _person_event(person)
        if cycle is None:
            return None
        new = cycle.get("new_version")
        if cycle.get("status") == "error":
            return self._failure(cycle)
        if not new:
            return _signal_event(cycle)
        outcome = "promoted" if cycle.get("promoted") else "awaiting" if cycle.get("gate_outcome") == "awaiting" else "rejected"
        kind, title = _gate_title(outcome, new, cycle.get("champion_version"), promoted_as(cycle["reason"] or ""))
        return Event(kind, title, cycle["reason"], cycle["started_at"], int(cycle["cycle_id"]))  # told by its decision and gate

    def _failure(self, cycle: dict) -> Event:
        """A failed cycle: the episode it belongs to when the loop is still failing, else that one cycle."""
        streak = self.store.failing_streak()
        if streak is not None and streak.first_cycle <= cycle["cycle_id"] <= streak.last_cycle:
            runs = "" if streak.cycles == 1 else f", {streak.cycles:,} cycles in a row"
            title = f"Loop failing since {streak.since:%H:%M} UTC (cycle {streak.last_cycle} failed{runs})"
        else:
            title = f"Cycle {cycle['cycle_id']} failed (the loop has run since)"
        return Event("failure", title, cycle["reason"], cycle["started_at"], int(cycle["cycle_id"]))

    def boundary(self, cycle_id: int | None, x_feature: str, y_feature: str, max_points: int = BOUNDARY_POINTS) -> BoundaryView:
        """At `cycle_id` (None: the newest cycle, or the champion alone before any cycle): a sample of the
        champion's reference, the cycle's labelled batch, the champion's line and the challenger's if the
        cycle trained one. Features other than the two are held at the reference's means.
        For a workspace's own table: two numeric columns, the others at their typical value (`typical_row`),
        and the champion's predicted class over a grid of the plane (class regions)."""
        if not self.store.schema.plain:
            return self._table_boundary(cycle_id, x_feature, y_feature, max_points)
        features = self.store.features
        xi, yi = (features.index(validation.choice(f, name, features)) for f, name in ((x_feature, "x feature"), (y_feature, "y feature")))
        cycle = self.store.cycle(cycle_id) if cycle_id is not None else self.store.last_cycle()
        champion = (cycle or {}).get("champion_version") or self.store.champion_version()
        if champion is None:
            empty = pd.DataFrame(columns=[*features, TARGET])
            return BoundaryView(None, x_feature, y_feature, empty, empty, note="No champion yet: nothing to draw.")
        ref = self.reference_of_cycle(cycle) if cycle else reference_of(self.store, champion)
        reference = read_reference(self.store, ref, self.settings.reference_max_rows, self.settings.seed)
        if len(reference) > max_points:  # a fixed subset of the very rows the drift test used
            reference = reference.sample(n=max_points, random_state=0).sort_index()
        batch = pd.DataFrame(columns=[*features, TARGET])
        note = ""
        if cycle and cycle.get("first_sample_id") is not None:
            batch = self.batch_sample(int(cycle["first_sample_id"]), int(cycle["last_sample_id"]), max_points)
            if batch.empty:
                note = f"Cycle {cycle['cycle_id']}'s batch was archived by retention: only the reference is drawn."
        shown = pd.concat([reference, batch]) if not batch.empty else reference
        x_range, y_range = (_padded(shown[f]) if not shown.empty else (-3.0, 3.0) for f in (x_feature, y_feature))
        fixed = reference[features].mean().fillna(0.0).tolist() if not reference.empty else [0.0] * len(features)
        lines = {}
        versions = [("champion", champion)]
        if cycle and cycle.get("new_version"):
            versions.append(("challenger", int(cycle["new_version"])))
        for role, version in versions:
            stored = self.store.evaluation(version)
            line = evaluation.boundary_line(stored["linear"], xi, yi, fixed, x_range) if stored else None
            if line is not None:
                promoted = role == "challenger" and bool(cycle.get("promoted"))
                lines[f"{role} {version_label(version)}" + (" (promoted)" if promoted else "")] = line
        cycle_id = cycle["cycle_id"] if cycle else None
        return BoundaryView(cycle_id, x_feature, y_feature, reference, batch, lines, note, x_range, y_range)

    def _table_boundary(self, cycle_id: int | None, x_feature: str, y_feature: str, max_points: int) -> BoundaryView:
        schema = self.store.schema
        numeric = schema.numeric
        for f, name in ((x_feature, "x feature"), (y_feature, "y feature")):
            validation.choice(f, name, numeric)
        cycle = self.store.cycle(cycle_id) if cycle_id is not None else self.store.last_cycle()
        champion = (cycle or {}).get("champion_version") or self.store.champion_version()
        empty = pd.DataFrame(columns=[*schema.names, TARGET])
        if champion is None:
            return BoundaryView(None, x_feature, y_feature, empty, empty, note="No champion yet: nothing to draw.", classes=schema.classes)
        ref = self.reference_of_cycle(cycle) if cycle else reference_of(self.store, champion)
        reference = read_reference(self.store, ref, self.settings.reference_max_rows, self.settings.seed)
        if len(reference) > max_points:
            reference = reference.sample(n=max_points, random_state=0).sort_index()
        batch = empty
        if cycle and cycle.get("first_sample_id") is not None:
            batch = self.batch_sample(int(cycle["first_sample_id"]), int(cycle["last_sample_id"]), max_points)
        shown = pd.concat([reference, batch]) if not batch.empty else reference
        x_range, y_range = (_padded(shown[f].dropna()) if shown[f].notna().any() else (-3.0, 3.0) for f in (x_feature, y_feature))
        xs, ys = np.linspace(*x_range, GRID), np.linspace(*y_range, GRID)
        typical = typical_row(reference, schema)
        grid = pd.DataFrame({name: [typical[name]] * GRID * GRID for name in schema.names}, columns=schema.names)
        grid[x_feature], grid[y_feature] = np.tile(xs, GRID), np.repeat(ys, GRID)
        predicted = self.registry.load(int(champion)).predict_proba(model_input(grid, schema, schema.names)).argmax(axis=1)
        regions = {"x": xs.tolist(), "y": ys.tolist(), "z": predicted.reshape(GRID, GRID).tolist(), "version": version_label(int(champion))}
        note = f"Other columns held at the reference's median or most frequent category; regions: {version_label(int(champion))}'s class."
        return BoundaryView(cycle["cycle_id"] if cycle else None, x_feature, y_feature, reference, batch, {}, note, x_range, y_range,
                            regions, schema.classes)  # fmt: skip

    def cycle_detail(self, cycle_id: int) -> CycleDetail | None:
        """One cycle as stored: its record, drift rows, the gate's events for the version it trained, its alerts."""
        cycle = self.store.cycle(validation.integer(cycle_id, "cycle", 1, 2**62))
        if cycle is None:
            return None
        events = self.store.model_events_of(int(cycle["new_version"])) if cycle.get("new_version") else pd.DataFrame()
        alerts = self.store.cycle_notifications(cycle["cycle_id"])
        batch = (int(cycle["first_sample_id"]), int(cycle["last_sample_id"])) if cycle.get("first_sample_id") is not None else None
        reference = self.reference_of_cycle(cycle) if cycle.get("champion_version") else None
        return CycleDetail(cycle, self.store.drift_results(cycle["cycle_id"]), events, alerts, reference, batch)


CHALLENGE_WON = {  # by the test a promoted challenge passed (`policy.promoted_as`)
    "better": ": a challenger credibly better than {kept}",
    "after a drop": ": a challenger not worse than {kept}, which was failing",
    "follow-up": ": {kept}'s window grown to the rows since the drop, not worse than it",
}


def _gate_title(outcome: str, version: int, champion: int | None, how: str | None = None, asked_by: str = "") -> tuple[str, str]:
    """The event's kind and title for what a gate made of a freshly trained version, a cycle's or one a person asked for
    (`asked_by`: "Train now", "POST /retrain"); a promoted challenge's says which test it passed (`how`)."""
    label, kept = version_label(version), version_label(champion)
    source = f" from {asked_by}" if asked_by else ""
    if outcome == "promoted":
        return "promoted", f"New champion {label}{source}{CHALLENGE_WON.get(how, '').format(kept=kept)}"
    if outcome == "awaiting":
        return "awaiting", f"Challenger {label}{source} awaits approval"
    if outcome == "candidate":
        return "candidate", f"Candidate {label}{source}, kept without promoting"
    return "rejected", f"Challenger {label}{source} rejected; {kept} stays"


def _person_event(event: dict) -> Event:
    """A model event a person caused (`Store.last_person_event`): a training they asked for, told by what its gate
    decided, or a change made by hand."""
    kind = event["kind"]
    if kind in BY_HAND_EVENT_KINDS:
        return Event("rejected" if kind == "rejection" else kind, manual_title(kind, event["version"]), event["reason"], event["ts"], None)
    outcome = kind if kind != "gate" else "promoted" if event["promoted"] else "rejected"
    asked_by = MANUAL_TRIGGERS.get(event["trigger"], "")
    kind, title = _gate_title(outcome, event["version"], event["previous_champion"], asked_by=asked_by)
    return Event(kind, title, event["reason"], event["ts"], None)


def _signal_event(cycle: dict) -> Event:
    """A cycle whose signals fired and that changed no model. Under a policy that follows performance, feature drift
    alone is informational (the alert was not sent) and the event says what the cycle's challenger came to."""
    fired = json.loads(cycle["signals"])
    detail = cycle.get("verdict") or cycle["reason"]
    if verdicts.drops(fired):
        kind, title = "drift", f"{verdicts.DROP_TITLE}: {', '.join(verdicts.drops(fired))}"
    elif warns(fired, cycle.get("policy")):  # as its alert: a warning only where the policy acts on drift
        kind, title = "drift", f"Drift detected: {', '.join(fired)}"
    else:
        kind, title = "info", f"{verdicts.info_title(pd.notna(cycle.get('realised_accuracy')))}: {', '.join(fired)}"
    if cycle.get("policy") in CHALLENGING:
        words = verdicts.decision_words(cycle["decision"], None, None, None)
        detail += f" Decision: {words}."
    return Event(kind, title, detail, cycle["started_at"], int(cycle["cycle_id"]))


def typical_row(reference: pd.DataFrame, schema: Schema) -> dict[str, object]:
    """Each column's typical value in `reference`: a number's median (robust to the odd extreme row), a category's most
    frequent value; None for a column with no value present. A table's boundary holds the other columns there."""
    row: dict[str, object] = {}
    for column in schema.features:
        present = reference[column.name].dropna() if column.name in reference else pd.Series(dtype=object)
        if present.empty:
            row[column.name] = None
        elif column.kind == "numeric":
            # Written as the column writes its values: a form shows it so, and must send what it shows.
            row[column.name] = round(float(present.astype(float).median()), decimals_written(present)) + 0.0  # never -0.0
        else:
            row[column.name] = present.astype(str).value_counts().index[0]
    return row


def decimals_written(values: pd.Series, most: int = 4) -> int:
    """The fewest decimals that write every present value of `values` exactly: 0 for a count, 2 for a price. A
    measurement's float noise gets `most`, or as many as show `most` significant digits of a typical value (8 for
    values near 0.00001, which 4 decimals would write 0.0000). Read from at most 5,000 values."""
    present = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)[:5000]
    present = present[np.isfinite(present)]
    sizes = np.abs(present[present != 0])
    limit = most if sizes.size == 0 else int(np.clip(most - 1 - np.floor(np.log10(np.median(sizes))), most, 15))
    for places in range(limit + 1):
        noise = np.maximum(1e-9 * 10.0**-places, 4 * np.finfo(float).eps * np.abs(present))  # a float's own error only
        if np.all(np.abs(present - np.round(present, places)) <= noise):
            return places
    return limit


def _padded(values: pd.Series) -> tuple[float, float]:
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = (high - low) * 0.05 or 1.0
    return low - pad, high + pad
