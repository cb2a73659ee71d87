"""Evaluations stored at training time, and the views built from them, checked against sklearn and
the served model on a real workspace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

from core import datagen, evaluation, training
from core.outcomes import version_label
from core.runtime import Runtime
from core.store.predictions import BATCH_SOURCES
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def fitted() -> tuple:
    X, y = datagen.generate(3000, 3, datagen.Scenario("stable"), 5)
    result = training.fit(X, y, 0.3, 0)
    return result, evaluation.evaluate_version(result.model, result.X_holdout, result.y_holdout, seed=0)


def test_confusion_curves_and_calibration_equal_sklearn(fitted: tuple) -> None:
    result, ev = fitted
    proba = result.model.predict_proba(result.X_holdout)[:, 1]
    tn, fp, fn, tp = confusion_matrix(result.y_holdout, proba >= 0.5).ravel()
    assert ev["confusion"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp} and ev["n_holdout"] == len(result.y_holdout)
    assert ev["roc"]["auc"] == pytest.approx(roc_auc_score(result.y_holdout, proba))
    assert ev["pr"]["average_precision"] == pytest.approx(average_precision_score(result.y_holdout, proba))
    assert len(ev["roc"]["fpr"]) <= evaluation.MAX_CURVE_POINTS and ev["roc"]["fpr"][0] == 0 and ev["roc"]["tpr"][-1] == 1
    assert sum(b["n"] for b in ev["calibration"]) == len(result.y_holdout)
    worst_gap = max(abs(b["predicted"] - b["observed"]) for b in ev["calibration"] if b["n"] >= 50)
    assert worst_gap < 0.15  # logistic labels: the model is calibrated, and the bins say so


def test_intervals_contain_their_metric_and_name_the_rows_they_rest_on(fitted: tuple) -> None:
    result, ev = fitted
    c = ev["confusion"]
    for metric, n in (("accuracy", sum(c.values())), ("precision", c["tp"] + c["fp"]), ("recall", c["tp"] + c["fn"])):
        interval = ev["intervals"][metric]
        assert interval["low"] < result.metrics[metric] < interval["high"] and interval["n"] == n
    for metric in ("f1", "roc_auc", "log_loss"):
        interval = ev["intervals"][metric]
        assert interval["low"] <= result.metrics[metric] <= interval["high"], metric
    assert evaluation.wilson(0, 0) is None and evaluation.wilson(10, 10)[1] == pytest.approx(1.0)


def test_interval_width_shrinks_with_the_holdout() -> None:
    widths = []
    for n in (400, 40_000):
        X, y = datagen.generate(n, 2, datagen.Scenario("stable"), 1)
        r = training.fit(X, y, 0.3, 0)
        i = evaluation.evaluate_version(r.model, r.X_holdout, r.y_holdout)["intervals"]["accuracy"]
        widths.append(i["high"] - i["low"])
    assert widths[1] < widths[0] / 5


def test_contributions_add_up_to_the_served_models_log_odds(fitted: tuple) -> None:
    result, ev = fitted
    x = [0.7, -1.2, 2.5]
    explained = evaluation.contributions(ev["linear"], x)
    assert explained["logit"] == pytest.approx(result.model.decision_function([x])[0])
    assert explained["probability"] == pytest.approx(result.model.predict_proba([x])[0, 1])
    assert sum(explained["contributions"]) + explained["intercept"] == pytest.approx(explained["logit"])


def test_the_boundary_line_is_where_the_model_says_one_half(fitted: tuple) -> None:
    result, ev = fitted
    fixed = [0.3, -0.4, 1.1]
    line = evaluation.boundary_line(ev["linear"], 0, 2, fixed, (-3.0, 3.0))
    for x, y in zip(line["x"], line["y"], strict=True):
        assert result.model.predict_proba([[x, fixed[1], y]])[0, 1] == pytest.approx(0.5, abs=1e-9)
    vertical = evaluation.boundary_line({**ev["linear"], "coef": [1.0, 0.0, 0.0]}, 0, 1, fixed, (-3.0, 3.0))
    assert vertical["y"] is None and evaluation.boundary_line({**ev["linear"], "coef": [0.0, 0.0, 1.0]}, 0, 1, fixed, (0, 1)) is None


def test_training_stores_the_evaluation_with_the_version(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    stored = rt.store.evaluation(1)
    record = rt.store.model(1)
    assert stored["n_holdout"] == record["n_holdout"] and stored["roc"]["auc"] == pytest.approx(record["roc_auc"])
    assert (stored["confusion"]["tp"] + stored["confusion"]["tn"]) / stored["n_holdout"] == pytest.approx(record["accuracy"])


def test_explain_uses_the_version_that_served(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    served = rt.predict([1.5, 2.3])
    explained = rt.explain([1.5, 2.3], served.model_version)
    assert explained["probability"] == pytest.approx(served.probability) and explained["features"] == ["feature_1", "feature_2"]
    with pytest.raises(Exception, match="features"):
        rt.explain([1.5, "x"])


def test_the_boundary_view_at_a_promotion_draws_both_lines(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.set_controls(retrain_cooldown_cycles=0, drift_persistence=1, stream_batch_size=1000)
    rt.set_stream_scenario("concept_drift", 1.0)
    promoted = None
    for _ in range(6):
        cycle = rt.run_cycle()
        if cycle.promoted:
            promoted = cycle
            break
    assert promoted is not None, "concept drift must lead to a promotion"
    view = rt.read("boundary", promoted.cycle_id, "feature_1", "feature_2")
    assert set(view.lines) == {"champion v1.0.0", f"challenger {version_label(promoted.new_version)} (promoted)"}
    assert len(view.batch) == 1000 and set(view.batch["target"]) == {0, 1} and not view.reference.empty
    slopes = [np.diff(line["y"])[0] / np.diff(line["x"])[0] for line in view.lines.values()]
    assert abs(slopes[0] - slopes[1]) > 0.3  # the line turns
    detail = rt.read("cycle_detail", promoted.cycle_id)
    assert "gate" in set(detail.gate_events["kind"]) and detail.batch_range == (promoted.first_sample_id, promoted.last_sample_id)
    assert "promoted" in [a["kind"] for a in detail.alerts]


def test_single_request_latency_leaves_batch_rows_out(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.predict([1.0, 2.0])
    rt.predict([0.0, 1.0])
    rt.predict_batch(np.zeros((50, 2)))
    rt.predictor.flush()
    latency = rt.store.latency_percentiles()
    assert latency["count"] == 52 and latency["single"] == 2 and latency["p50_ms"] > 0
    assert "batch" in BATCH_SOURCES and len(rt.store.latency_history(10)) >= 1


def test_versions_from_before_evaluations_get_theirs_back_at_start(tmp_path: Path, mlflow_template: Path) -> None:
    settings = make_settings(tmp_path / "data", mlflow_template, starter_model=True)
    rt = Runtime(settings)
    library = rt.generate_dataset(900, "covariate_shift", 1.0, seed=3).dataset_id
    rt.train(dataset_ids=[library])
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
