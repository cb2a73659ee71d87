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
from core.features import TARGET
from core.reference import Reference, move_reference, read_reference, reference_of
from core.schema import Schema
from core.store import Store
from core.tables import model_input

PREDICTED, LABELS = "(predicted class)", "(label)"


def class_text(indices: np.ndarray, schema: Schema) -> pd.Series:
    """Class indices as the classes are written, for the distribution tests."""
    return pd.Series(np.array([str(c) for c in schema.classes], dtype=object)[np.asarray(indices, dtype=np.int64)])


@dataclass(frozen=True)
class Fitted:
    reference: Reference
    rows: np.ndarray | pd.DataFrame  # as the model takes them: float rows, or the user's table
    key: tuple
    labels: pd.Series | None = None  # a table's reference labels, as class text (the label-distribution test)


class DriftMonitor:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._fitted: Fitted | None = None
        self._estimate: tuple[tuple, float, pd.Series] | None = None
        self._batches: deque[tuple[np.ndarray | pd.DataFrame, dict[str, pd.Series]]] = deque()
        self._batches_key: tuple | None = None

    def fit(self, champion: int, max_rows: int, seed: int) -> Fitted:
        """The champion's reference in force, its rows read only when it changed."""
        reference = reference_of(self.store, champion)
        key = (reference, max_rows, seed)
        if self._fitted is None or self._fitted.key != key:
            rows = read_reference(self.store, reference, max_rows, seed)
            schema = self.store.schema
            labels = None if schema.plain else class_text(rows[TARGET].to_numpy(), schema)
            self._fitted = Fitted(reference, model_input(rows, schema, schema.names), key, labels)
        return self._fitted

    @property
    def reference(self) -> Reference | None:
        return None if self._fitted is None else self._fitted.reference

    def reference_estimate(self, model: object) -> float:
        """The champion's own estimate on its reference: a model trained on few or noisy rows is less
        confident everywhere, and that is no drop. Call after `fit`."""
        fitted = self._require_fitted()
        if self._estimate is None or self._estimate[0] != fitted.key:
            proba = model.predict_proba(fitted.rows)
            predicted = class_text(training.predicted_class(proba), self.store.schema)
            self._estimate = (fitted.key, training.expected_accuracy(proba), predicted)
        return self._estimate[1]

    def update(
        self,
        X: np.ndarray | pd.DataFrame,
        labelled: bool,
        window_batches: int,
        features: list[str],
        thresholds: DriftThresholds,
        model: object = None,
        y: np.ndarray | None = None,
    ) -> DriftReport:
        """Add the newest batch and test it, alone and pooled with the ones before it, against the reference.
        For a table, the champion's predicted classes (given `model`; call `reference_estimate` first) and
        the labels (given `y`) join the family: their distributions against the reference's."""
        fitted = self._require_fitted()
        key = (fitted.key, labelled, window_batches)
        if key != self._batches_key:
            self._batches.clear()
            self._batches_key = key
        outputs = {}
        if isinstance(fitted.rows, pd.DataFrame):
            schema = self.store.schema
            if model is not None and self._estimate is not None and self._estimate[0] == fitted.key:
                outputs[PREDICTED] = class_text(training.predicted_class(model.predict_proba(X)), schema)
            if y is not None and fitted.labels is not None:
                outputs[LABELS] = class_text(y, schema)
        self._batches.appendleft((X, outputs))
        while len(self._batches) > window_batches:
            self._batches.pop()
        batches = [b for b, _ in self._batches]
        if not isinstance(fitted.rows, pd.DataFrame):
            return drift_report(fitted.rows, batches, features, thresholds)
        references = {PREDICTED: self._estimate[2] if self._estimate else None, LABELS: fitted.labels}
        extra = {
            name: (references[name], [o[name] for _, o in self._batches])
            for name in (PREDICTED, LABELS)
            if references[name] is not None and all(name in o for _, o in self._batches)
        }
        return table_report(fitted.rows, batches, self.store.schema, thresholds, extra)

    def move_reference(self, champion: int, first_sample_id: int, last_sample_id: int) -> Reference:
        """The champion held on post-drift rows: they become its reference (read at the next `fit`)."""
        return move_reference(self.store, champion, first_sample_id, last_sample_id)

    def _require_fitted(self) -> Fitted:
        if self._fitted is None:
            raise RuntimeError("the drift monitor has no reference yet: call fit() with the champion first")
        return self._fitted
