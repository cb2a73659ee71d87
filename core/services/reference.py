"""A champion's drift reference: the rows every drift test of that champion compares a batch with.

One owner for it, so the drift test, the Drift page's histograms, the decision boundary's
reference cloud and the Data page all read the same rows. The reference is the model's
training rows (its datasets within its sample-id range: a range alone would take in any
library dataset or import stored while it trained), unless it was moved to the post-drift rows: a
champion that held its own on them, or one promoted from a window reaching back before the drift.
A moved reference is the loop's incoming rows of a range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pandas as pd

from core.store import Store


@dataclass(frozen=True)
class Reference:
    version: int
    first_sample_id: int
    last_sample_id: int
    dataset_ids: tuple[int, ...] | None  # None: the loop's incoming rows of the range (a moved reference)

    @property
    def moved(self) -> bool:
        return self.dataset_ids is None

    @property
    def legend(self) -> str:
        return "Reference (post-drift rows)" if self.moved else "Reference (champion's training window)"

    def describe(self) -> str:
        """What the screen calls it, from the same fields the rows are read by. The window is the rows the champion
        was fitted on and its holdout together: "training data" beside its row count read as more rows than it trained on."""
        span = f"sample ids {self.first_sample_id:,}–{self.last_sample_id:,}"
        if self.moved:
            return f"the post-drift incoming rows, the regime it serves ({span})"
        ids = ", ".join(map(str, self.dataset_ids))
        return f"the champion's training window, its holdout included (dataset{'s' if len(self.dataset_ids) > 1 else ''} {ids}, {span})"

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "first": self.first_sample_id, "last": self.last_sample_id,
                           "dataset_ids": None if self.dataset_ids is None else list(self.dataset_ids)})  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Reference:
        raw = json.loads(text)
        ids = raw["dataset_ids"]
        return cls(int(raw["version"]), int(raw["first"]), int(raw["last"]), None if ids is None else tuple(int(i) for i in ids))


def reference_of(store: Store, version: int) -> Reference:
    """The reference in force for `version` now."""
    moved = store.moved_reference(version)
    if moved is not None:
        return Reference(version, moved[0], moved[1], None)
    return trained_on(store, version)


def trained_on(store: Store, version: int) -> Reference:
    """The rows `version` was trained on, whatever reference is in force for it now."""
    model = store.model(version)
    ids = tuple(int(i) for i in json.loads(model["dataset_ids"] or "[]"))
    return holding_rows(store, Reference(version, int(model["window_first_sample"]), int(model["window_last_sample"]), ids or None))


def holding_rows(store: Store, reference: Reference) -> Reference:
    """`reference` naming only the datasets with rows in its range: a model's dataset ids are every dataset its training
    could read, and a window of the newest rows holds none of the starter's. The rows read are the same."""
    if reference.moved:
        return reference
    held = store.datasets_holding(reference.dataset_ids, reference.first_sample_id, reference.last_sample_id)
    return replace(reference, dataset_ids=held) if held else reference


def move_reference(store: Store, version: int, first_sample_id: int, last_sample_id: int) -> Reference:
    """Post-drift rows become the version's reference: it held on them, or was promoted from a window reaching back
    before them (see the pipeline's retrain step)."""
    store.move_reference(version, first_sample_id, last_sample_id)
    return Reference(version, first_sample_id, last_sample_id, None)


def read_reference(store: Store, reference: Reference, max_rows: int, seed: int) -> pd.DataFrame:
    """The reference's rows (features and target), at most `max_rows`, the same rows at every call."""
    return store.reference_rows(reference.first_sample_id, reference.last_sample_id, reference.dataset_ids, max_rows, seed)
