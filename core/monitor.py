"""The drift monitor: fitted on the champion's reference, then fed each batch, NannyML's way.

It owns what a drift test compares with and keeps between cycles: the reference's rows (read
again only when the reference changes: a new champion, a moved reference, other settings), the
champion's own label-free estimate on them (the level an estimated drop is measured from), and the
newest batches pooled for the windowed tests (dropped when the reference or the kind of data
changes, so a window never mixes labelled stream batches with unlabelled prediction inputs).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core import training
from core.drift import DriftReport, DriftThresholds, drift_report, table_report
from core.reference import Reference, move_reference, read_reference, reference_of
from core.store import Store
from core.tables import model_input


@dataclass(frozen=True)
class Fitted:
    reference: Reference
    rows: np.ndarray | pd.DataFrame  # as the model takes them: float rows, or the user's table
    key: tuple


class DriftMonitor:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._fitted: Fitted | None = None
        self._estimate: tuple[tuple, float] | None = None
        self._batches: deque[np.ndarray | pd.DataFrame] = deque()
        self._batches_key: tuple | None = None

    def fit(self, champion: int, max_rows: int, seed: int) -> Fitted:
        """The champion's reference in force, its rows read only when it changed."""
        reference = reference_of(self.store, champion)
        key = (reference, max_rows, seed)
        if self._fitted is None or self._fitted.key != key:
            rows = read_reference(self.store, reference, max_rows, seed)
            schema = self.store.schema
            self._fitted = Fitted(reference, model_input(rows, schema, schema.names), key)
        return self._fitted

    @property
    def reference(self) -> Reference | None:
        return None if self._fitted is None else self._fitted.reference

    def reference_estimate(self, model: object) -> float:
        """The champion's own estimate on its reference: a model trained on few or noisy rows is less
        confident everywhere, and that is no drop. Call after `fit`."""
        fitted = self._require_fitted()
        if self._estimate is None or self._estimate[0] != fitted.key:
            self._estimate = (fitted.key, training.expected_accuracy(model.predict_proba(fitted.rows)))
        return self._estimate[1]

    def update(
        self, X: np.ndarray | pd.DataFrame, labelled: bool, window_batches: int, features: list[str], thresholds: DriftThresholds
    ) -> DriftReport:
        """Add the newest batch and test it, alone and pooled with the ones before it, against the reference."""
        fitted = self._require_fitted()
        key = (fitted.key, labelled, window_batches)
        if key != self._batches_key:
            self._batches.clear()
            self._batches_key = key
        self._batches.appendleft(X)
        while len(self._batches) > window_batches:
            self._batches.pop()
        if isinstance(fitted.rows, pd.DataFrame):
            return table_report(fitted.rows, list(self._batches), self.store.schema, thresholds)
        return drift_report(fitted.rows, list(self._batches), features, thresholds)

    def move_reference(self, champion: int, first_sample_id: int, last_sample_id: int) -> Reference:
        """The champion held on post-drift rows: they become its reference (read at the next `fit`)."""
        return move_reference(self.store, champion, first_sample_id, last_sample_id)

    def _require_fitted(self) -> Fitted:
        if self._fitted is None:
            raise RuntimeError("the drift monitor has no reference yet: call fit() with the champion first")
        return self._fitted
