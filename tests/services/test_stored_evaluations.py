"""A version's evaluation as the workspace stores and serves it: saved with the version, backfilled at start,
and the explanation and boundary of the version that served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.domain.outcomes import version_label
from core.runtime import Runtime
from core.store.predictions import BATCH_SOURCES
from tests.fixtures import make_settings


def test_training_stores_the_evaluation_with_the_version(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    stored = rt.store.evaluation(1)
    record = rt.store.model(1)
    assert stored["n_holdout"] == record["n_holdout"] and stored["roc"]["auc"] == pytest.approx(record["roc_auc"])
    assert (stored["confusion"]["tp"] + stored["confusion"]["tn"]) / stored["n_holdout"] == pytest.approx(record["accuracy"])


def test_explain_uses_the_version_that_served(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    served = rt.serving.predict([1.5, 2.3])
    explained = rt.insights.explain([1.5, 2.3], served.model_version)
    assert explained["probability"] == pytest.approx(served.probability) and explained["features"] == ["feature_1", "feature_2"]
    with pytest.raises(Exception, match="features"):
        rt.insights.explain([1.5, "x"])


def test_the_boundary_view_at_a_promotion_draws_both_lines(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(retrain_cooldown_cycles=0, drift_persistence=1, stream_batch_size=1000)
    rt.loop.set_stream_scenario("concept_drift", 1.0)
    promoted = None
    for _ in range(6):
        cycle = rt.loop.run_cycle()
        if cycle.promoted:
            promoted = cycle
            break
    assert promoted is not None, "concept drift must lead to a promotion"
    view = rt.insights.boundary(promoted.cycle_id, "feature_1", "feature_2")
    assert set(view.lines) == {"champion v1.0.0", f"challenger {version_label(promoted.new_version)} (promoted)"}
    assert len(view.batch) == 1000 and set(view.batch["target"]) == {0, 1} and not view.reference.empty
    slopes = [np.diff(line["y"])[0] / np.diff(line["x"])[0] for line in view.lines.values()]
    assert abs(slopes[0] - slopes[1]) > 0.3  # the line turns
    detail = rt.insights.cycle_detail(promoted.cycle_id)
    assert "gate" in set(detail.gate_events["kind"]) and detail.batch_range == (promoted.first_sample_id, promoted.last_sample_id)
    assert "promoted" in [a["kind"] for a in detail.alerts]


def test_single_request_latency_leaves_batch_rows_out(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.serving.predict([1.0, 2.0])
    rt.serving.predict([0.0, 1.0])
    rt.serving.predict_batch(np.zeros((50, 2)))
    rt.predictor.flush()
    latency = rt.store.latency_percentiles()
    assert latency["count"] == 52 and latency["single"] == 2 and latency["p50_ms"] > 0
    assert "batch" in BATCH_SOURCES and len(rt.store.latency_history(10)) >= 1


def test_versions_from_before_evaluations_get_theirs_back_at_start(tmp_path: Path, mlflow_template: Path) -> None:
    settings = make_settings(tmp_path / "data", mlflow_template, starter_model=True)
    rt = Runtime(settings)
    library = rt.data.generate(900, "covariate_shift", 1.0, seed=3).dataset_id
    rt.models.train(dataset_ids=[library])
    originals = {v: rt.store.evaluation(v) for v in (1, 2)}
    with rt.store.transaction() as tx:  # a workspace as migration 5 found it: versions, no evaluations
        tx.execute("DELETE FROM model_evaluations")
        tx.execute("DELETE FROM samples WHERE dataset_id = ?", [library])  # v1.1.0's rows are gone
    rt.close()
    rt = Runtime(settings)
    try:
        assert rt.store.evaluation(1) == originals[1]  # the same holdout, scored the same way
        assert rt.store.evaluation(2) is None and rt.store.versions_without_evaluation() == [2]
    finally:
        rt.close()
