"""What the "show why" views need, assembled from stored facts: a version's evaluation, the
decision boundary at any cycle, a prediction's feature contributions, one cycle in full.

Nothing here re-scores a model: evaluations and linear terms were stored at training time,
cycles and drift rows by the loop. Streamlit-free so the API could serve the same views.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from core import evaluation, validation
from core.config import Settings
from core.errors import NoModelError
from core.features import TARGET
from core.outcomes import manual_title, version_label
from core.reference import Reference, read_reference, reference_of
from core.row_model import RowModel
from core.store import Store
from core.tables import model_input, named_rows

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

    kind: str  # drift | promoted | rejected | awaiting | rollback | by_hand | approval | failure
    title: str
    detail: str
    at: datetime
    cycle_id: int | None


GRID = 60  # points a side of a table's boundary grid: 3,600 rows scored once per view


class Insights:
    def __init__(self, store: Store, settings: Settings, load_model: Callable[[int], object] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.max_abs = settings.feature_max_abs
        self.load_model = load_model

    def reference_of_cycle(self, cycle: dict | None) -> Reference | None:
        """The reference a cycle's drift test used (stored with the cycle); for a cycle stored before
        references were, or with no cycle, the champion's reference in force now."""
        if cycle and cycle.get("reference"):
            return Reference.from_json(cycle["reference"])
        champion = (cycle or {}).get("champion_version") or self.store.champion_version()
        return reference_of(self.store, int(champion)) if champion else None

    def reference_sample(self, cycle_id: int | None = None) -> tuple[Reference | None, pd.DataFrame]:
        """Exactly the rows the drift test of `cycle_id` (None: the champion's next test) compares with."""
        cycle = self.store.cycle(cycle_id) if cycle_id is not None else None
        ref = self.reference_of_cycle(cycle)
        if ref is None:
            return None, pd.DataFrame(columns=[*self.store.features, TARGET])
        return ref, read_reference(self.store, ref, self.settings.reference_max_rows, self.settings.seed)

    def batch_sample(self, first_sample_id: int, last_sample_id: int, max_rows: int = 20_000) -> pd.DataFrame:
        """A cycle's batch: the loop's incoming rows of its range (library data stored in between left out)."""
        return self.store.incoming_rows(first_sample_id, last_sample_id, max_rows)

    def explain(self, version: int, values: object, model: object = None) -> dict:
        """Each feature's contribution to the log-odds of class 1 under `version`, in the features' order;
        for a workspace's own table, from `model` (the version's pipeline), one entry per schema column in the
        schema's order (`columns`: its value as checked, its one-hot parts added up, whether training never saw
        its category), and `features`, `values` and `contributions` as parallel lists in that same order."""
        schema = self.store.schema
        if not schema.plain:
            row = named_rows(values, schema, 1, self.max_abs)
            explained = evaluation.table_contributions(model, row, schema.classes)
            shown = [None if isinstance(v, float) and np.isnan(v) else v for v in row.iloc[0].tolist()]
            row_model = RowModel.of(model, schema)
            unseen = row_model.unseen(dict(zip(schema.names, shown, strict=True))) if row_model is not None else []
            columns = [{"column": name, "value": value, "contribution": part, "unseen": name in unseen}
                       for name, value, part in zip(explained["features"], shown, explained["contributions"], strict=True)]  # fmt: skip
            return {"version": version, "values": shown, "columns": columns, "unseen": unseen} | explained
        row = validation.feature_matrix([values], self.store.n_features, 1, self.max_abs)[0]
        stored = self.store.evaluation(version)
        if stored is None:
            raise NoModelError(f"{version_label(version)} was trained before evaluations were stored: no coefficients to explain with")
        return {"version": version, "features": self.store.features, "values": row.tolist()} | evaluation.contributions(
            stored["linear"], row.tolist()
        )

    def last_event(self) -> Event | None:
        """The newest significant event of the loop or of a person, from the stored cycles and model events."""
        cycle, manual = self.store.last_event_cycle(), self.store.last_manual_change()
        if manual is not None and (cycle is None or manual["ts"] >= cycle["started_at"]):
            kind = manual["kind"]
            title = manual_title(kind, manual["version"])
            return Event(kind, title, manual["reason"], manual["ts"], None)
        if cycle is None:
            return None
        new = cycle.get("new_version")
        if cycle.get("status") == "error":
            return self._failure(cycle)
        if new and cycle.get("promoted"):
            kind, title = "promoted", f"New champion {version_label(new)}"
        elif new and cycle.get("gate_outcome") == "awaiting":
            kind, title = "awaiting", f"Challenger {version_label(new)} awaits approval"
        elif new:
            kind, title = "rejected", f"Challenger {version_label(new)} rejected; {version_label(cycle.get('champion_version'))} stays"
        else:
            kind, title = "drift", f"Drift detected: {', '.join(json.loads(cycle['signals']))}"
        detail = cycle.get("verdict") if kind == "drift" else cycle["reason"]  # a retrain is told by its decision and gate
        return Event(kind, title, detail or cycle["reason"], cycle["started_at"], int(cycle["cycle_id"]))

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
        For a workspace's own table: two numeric columns, the others at the reference's mean or most
        frequent category, and the champion's predicted class over a grid of the plane (class regions)."""
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
        if champion is None or self.load_model is None:
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
        grid = pd.DataFrame({c.name: [_typical(reference[c.name], c.kind)] * GRID * GRID for c in schema.features}, columns=schema.names)
        grid[x_feature], grid[y_feature] = np.tile(xs, GRID), np.repeat(ys, GRID)
        predicted = self.load_model(int(champion)).predict_proba(model_input(grid, schema, schema.names)).argmax(axis=1)
        regions = {"x": xs.tolist(), "y": ys.tolist(), "z": predicted.reshape(GRID, GRID).tolist(), "version": version_label(int(champion))}
        note = f"Other columns held at the reference's mean or most frequent category; regions: {version_label(int(champion))}'s class."
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


def _typical(values: pd.Series, kind: str) -> object:
    """A column held fixed in the boundary's plane: the mean of a number, the most frequent category."""
    present = values.dropna()
    if present.empty:
        return np.nan
    return float(present.astype(float).mean()) if kind == "numeric" else present.astype(str).value_counts().index[0]


def _padded(values: pd.Series) -> tuple[float, float]:
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = (high - low) * 0.05 or 1.0
    return low - pad, high + pad
