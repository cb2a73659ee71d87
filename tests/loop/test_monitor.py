"""The drift monitor on its own, NannyML's shape: fitted on reference rows, then each batch calculated; no store."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from core.domain.features import TARGET
from core.domain.schema import Schema
from core.loop.monitor import DriftMonitor
from core.stats.drift import DriftThresholds
from core.stats.estimate import AccuracyEstimator

SCHEMA = Schema.demo(2)


def reference_rows(schema: Schema, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 2)), columns=schema.names)
    frame[TARGET] = (frame[schema.names[0]] > 0).astype(float)
    return frame


def test_a_fitted_monitor_tests_each_batch_against_the_rows_it_was_fitted_on() -> None:
    schema = SCHEMA
    monitor = DriftMonitor().fit(reference_rows(schema, 2000, 0), schema)
    rng = np.random.default_rng(1)
    same = monitor.calculate(rng.normal(size=(200, 2)), True, 1, schema.names, DriftThresholds())
    shifted = monitor.calculate(rng.normal(size=(200, 2)) + np.array([1.5, 0.0]), True, 1, schema.names, DriftThresholds())
    assert not same.dataset_drift and [f.drifted for f in shifted.features] == [True, False]
    assert monitor.rows.shape == (2000, 2)


def test_batches_pool_until_the_monitor_is_fitted_again() -> None:
    schema = SCHEMA
    monitor = DriftMonitor().fit(reference_rows(schema, 2000, 0), schema)
    rng = np.random.default_rng(2)
    for _ in range(3):
        report = monitor.calculate(rng.normal(size=(100, 2)), True, 3, schema.names, DriftThresholds())
    assert max(f.window_batches for f in report.features) <= 3 and report.n_current == 100
    assert {f.n_current for f in report.features} <= {100, 200, 300} and monitor.pooled == 3
    monitor.calculate(rng.normal(size=(100, 2)), False, 3, schema.names, DriftThresholds())
    assert monitor.pooled == 1  # prediction inputs are not pooled with stream batches
    monitor.fit(reference_rows(schema, 500, 3), schema)
    again = monitor.calculate(rng.normal(size=(100, 2)), True, 3, schema.names, DriftThresholds())
    assert {f.n_current for f in again.features} == {100}  # nothing pooled from before the new reference
    assert again.n_reference == 500


def test_the_reference_estimate_is_the_models_own_on_the_fitted_rows() -> None:
    schema = SCHEMA
    rows = reference_rows(schema, 1000, 4)
    model = LogisticRegression().fit(rows[schema.names].to_numpy(), rows[TARGET])
    monitor = DriftMonitor().fit(rows, schema)
    proba = model.predict_proba(rows[schema.names].to_numpy())
    estimator = AccuracyEstimator.fit(proba[:300], rows[TARGET].to_numpy()[:300])
    assert monitor.reference_estimate(model, estimator) == estimator.estimate(proba).value
