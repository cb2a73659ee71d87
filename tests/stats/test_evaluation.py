"""A version's evaluation (confusion, curves, calibration, intervals, contributions, boundary) checked against
scikit-learn on a fitted model, with no workspace."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

from core.data import synthetic_stream
from core.ml import training
from core.stats import evaluation


@pytest.fixture(scope="module")
def fitted() -> tuple:
    X, y = synthetic_stream.generate(3000, 3, synthetic_stream.Scenario("stable"), 5)
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
        X, y = synthetic_stream.generate(n, 2, synthetic_stream.Scenario("stable"), 1)
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


def test_a_perfect_holdout_still_gets_room_below_one_as_wilson_gives_a_proportion() -> None:
    """53 rows all right: the accuracy's Wilson interval reaches down to 0.93; precision, recall and F1 must not claim
    [1, 1] from resampling a matrix with no errors in it."""
    matrix = np.diag([18, 17, 18])
    y = np.repeat([0, 1, 2], [18, 17, 18])
    proba = np.eye(3)[y] * 0.97 + 0.01
    three = evaluation.multiclass_intervals(matrix, y, proba, seed=0)
    wilson_low = evaluation.wilson(53, 53)[0]
    for metric in ("precision", "recall", "f1"):
        assert 0.85 < three[metric]["low"] < 0.995 and three[metric]["high"] == pytest.approx(1.0, abs=1e-3), (metric, three[metric])
    assert three["accuracy"]["low"] == pytest.approx(wilson_low)
    two = evaluation.intervals({"tp": 30, "fp": 0, "fn": 0, "tn": 23}, y % 2, proba[:, 1], seed=0)
    assert 0.85 < two["f1"]["low"] < 0.995


def test_a_perfectly_separated_holdout_leaves_the_auc_room_below_one() -> None:
    """Hanley and McNeil's normal interval is [1, 1] at a perfect separation; a multiclass bootstrap of rows gave
    the same. Both must reach down about as far as Wilson's interval of the rows does."""
    y = np.repeat([0, 1, 2], [18, 17, 18])
    proba = np.eye(3)[y] * 0.97 + 0.01
    three = evaluation.multiclass_intervals(np.diag([18, 17, 18]), y, proba, seed=0)["roc_auc"]
    assert 0.8 < three["low"] < 0.99 and three["high"] == 1.0
    truth = np.repeat([True, False], [26, 27])
    two = evaluation.intervals({"tp": 26, "fp": 0, "fn": 0, "tn": 27}, truth, np.where(truth, 0.9, 0.1), seed=0)["roc_auc"]
    assert 0.9 < two["low"] < 0.97 and two["high"] == 1.0


@pytest.mark.parametrize("shift", [1.0, 3.5])
def test_the_auc_interval_covers_the_true_auc_95_times_in_100(shift: float) -> None:
    """Two normal classes a known distance apart (true AUC Phi(shift / sqrt 2)): over 300 small holdouts the
    interval holds the true AUC at least 93 % of the time. Hanley and McNeil's normal interval held it 68 % of the
    time at a shift of 3.5 (true AUC 0.993)."""
    from scipy.stats import norm

    rng = np.random.default_rng(1)
    true_auc, held = float(norm.cdf(shift / np.sqrt(2))), 0
    truth = np.repeat([True, False], [20, 30])
    for _ in range(300):
        scores = np.where(truth, rng.normal(shift, 1, 50), rng.normal(0, 1, 50))
        interval = evaluation.intervals({"tp": 1, "fp": 0, "fn": 0, "tn": 0}, truth, scores, seed=0)["roc_auc"]
        held += interval["low"] <= true_auc <= interval["high"]
    assert held / 300 >= 0.93
