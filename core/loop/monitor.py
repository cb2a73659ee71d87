"""The drift monitor, NannyML's way: `fit(reference rows)` once per reference, then `calculate(batch)`
each cycle, returning a drift report.

It holds what a drift test compares with and keeps between cycles: the reference's rows as the
model takes them, the champion's own label-free estimate on them (the level an estimated drop is
measured from), and the newest batches pooled for the windowed tests (dropped when it is fitted
again or the kind of data changes, so a window never mixes labelled stream batches with unlabelled
prediction inputs). It reads nothing: whoever owns the reference (`core.services.reference`) loads
the rows, and fits it again when the reference changes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.table_check import model_input
from core.domain.features import TARGET
from core.domain.schema import Schema
from core.ml import training
from core.services.reference import Reference
from core.stats.drift import LABELS, PREDICTED, DriftReport, DriftThresholds, drift_report, table_report
from core.stats.estimate import AccuracyEstimator


def class_text(indices: np.ndarray, schema: Schema) -> pd.Series:
    """Class indices as the classes are written, for the distribution tests."""
    return pd.Series(np.array([str(c) for c in schema.classes], dtype=object)[np.asarray(indices, dtype=np.int64)])


@dataclass(frozen=True)
class Fitted:
    reference: Reference | None  # what the rows are, recorded with each cycle
    rows: np.ndarray | pd.DataFrame  # as the model takes them: float rows, or the user's table
    schema: Schema
    labels: pd.Series | None = None  # a table's reference labels, as class text (the label-distribution test)


class DriftMonitor:
    def __init__(self) -> None:
        self._fitted: Fitted | None = None
        self._estimate: tuple[float, pd.Series] | None = None
        self._batches: deque[tuple[np.ndarray | pd.DataFrame, dict[str, pd.Series]]] = deque()
        self._batches_key: tuple | None = None

    def fit(self, rows: pd.DataFrame, schema: Schema, reference: Reference | None = None) -> DriftMonitor:
        """Compare every later batch with `rows` (the reference's features and target); forgets the pooled
        batches and the reference estimate of the previous fit."""
        labels = None if schema.plain else class_text(rows[TARGET].to_numpy(), schema)
        self._fitted = Fitted(reference, model_input(rows, schema, schema.names), schema, labels)
        self._estimate = None
        self._batches.clear()
        self._batches_key = None
        return self

    @property
    def rows(self) -> np.ndarray | pd.DataFrame:
        """The reference rows every test compares with, as the model takes them."""
        return self._require_fitted().rows

    @property
    def pooled(self) -> int:
        """How many batches the newest windowed test pooled (the newest one included)."""
        return len(self._batches)

    @property
    def reference(self) -> Reference | None:
        return None if self._fitted is None else self._fitted.reference

    def reference_estimate(self, model: object, estimator: AccuracyEstimator) -> float:
        """The champion's own estimate on its reference (`estimator`, the one its cycles are estimated with): the
        level an estimated drop is measured from, which follows the reference when it moves to post-drift rows the
        champion held on. Call after `fit`; kept until the next."""
        fitted = self._require_fitted()
        if self._estimate is None:
            proba = model.predict_proba(fitted.rows)
            self._estimate = (estimator.estimate(proba).value, class_text(training.predicted_class(proba), fitted.schema))
        return self._estimate[0]

    def calculate(
        self,
        X: np.ndarray | pd.DataFrame,
        came_labelled: bool,
        window_batches: int,
        features: list[str],
        thresholds: DriftThresholds,
        model: object = None,
        y: np.ndarray | None = None,
    ) -> DriftReport:
        """Add the newest batch and test it, alone and pooled with the ones before it, against the reference.
        For a table, the champion's predicted classes (given `model`; call `reference_estimate` first) and
        the labels (given `y`) join the family: their distributions against the reference's. `came_labelled`: `X`
        holds rows that arrived with their labels (a stream batch), not only prediction inputs; the pool starts again
        when that changes, or when the batch's labels (`y`) come or go. Late labels coming or not changes neither:
        their rows are not in `X`, and a batch of served inputs carries no `y`."""
        fitted = self._require_fitted()
        key = (came_labelled, y is not None, window_batches)  # the labels' test pools only batches that all carry labels
        if key != self._batches_key:
            self._batches.clear()
            self._batches_key = key
        outputs = {}
        if isinstance(fitted.rows, pd.DataFrame):
            if model is not None and self._estimate is not None:
                outputs[PREDICTED] = class_text(training.predicted_class(model.predict_proba(X)), fitted.schema)
            if y is not None and fitted.labels is not None:
                outputs[LABELS] = class_text(y, fitted.schema)
        self._batches.appendleft((X, outputs))
        while len(self._batches) > window_batches:
            self._batches.pop()
        batches = [b for b, _ in self._batches]
        if not isinstance(fitted.rows, pd.DataFrame):
            return drift_report(fitted.rows, batches, features, thresholds)
        references = {PREDICTED: self._estimate[1] if self._estimate else None, LABELS: fitted.labels}
        extra = {
            name: (references[name], [o[name] for _, o in self._batches])
            for name in (PREDICTED, LABELS)
            if references[name] is not None and all(name in o for _, o in self._batches)
        }
        return table_report(fitted.rows, batches, fitted.schema, thresholds, extra)

    def _require_fitted(self) -> Fitted:
        if self._fitted is None:
            raise RuntimeError("the drift monitor has no reference yet: call fit() with the champion first")
        return self._fitted
