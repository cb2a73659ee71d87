"""Training on a user's table: one scikit-learn pipeline over numbers, categories and missing values, two or more
classes, the metrics and evaluation of any number of classes, and explanations that add up to what is served."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, log_loss, precision_score, roc_auc_score

from core.data.synthetic_table import generate_table
from core.data.table_check import encode, infer_schema, named_rows
from core.ml import training
from core.ml.row_model import RowModel
from core.stats import evaluation


def _fitted(n_classes: int, rows: int = 3000, seed: int = 1) -> tuple:
    frame = generate_table(rows, seed=seed, n_classes=n_classes)
    schema = infer_schema(frame, "outcome")
    data = encode(frame, schema, labelled=True)
    return schema, data, training.fit(data.X, data.y, 0.3, 0, schema=schema)


def test_the_pipeline_imputes_scales_and_one_hot_encodes_with_an_infrequent_bucket() -> None:
    _, data, result = _fitted(2, rows=800)  # few enough rows that the rarest regions have fewer than 5
    steps = result.model.named_steps["preprocess"].named_transformers_
    assert set(steps) >= {"numeric", "categorical"}
    assert np.isnan(data.X["tenure_months"]).any()  # and yet it trained: the median fills them
    terms = evaluation.encoded_terms(result.model)
    assert "tenure_months" in terms["names"] and "plan = pro" in terms["names"] and "channel = (missing)" in terms["names"]
    rare = [n for n in terms["names"] if n.startswith("region = ")]
    assert "region = (infrequent)" in rare and len(rare) < 51  # the long tail of 50 regions shares one column
    assert result.params["model"] == training.TABULAR_MODEL and result.metrics["accuracy"] > 0.7


def test_an_unseen_category_and_a_missing_value_are_served_not_refused() -> None:
    schema, _, result = _fitted(2)
    row = named_rows({"monthly_fee": 40.0, "tenure_months": None, "support_calls": 1, "plan": "platinum", "region": "region_99",
                      "channel": None}, schema, 1, 1e12)  # fmt: skip
    proba = result.model.predict_proba(row)[0]
    assert proba.shape == (2,) and math.isclose(proba.sum(), 1.0)


def test_three_classes_get_macro_weighted_and_one_vs_rest_metrics_as_sklearn_computes_them() -> None:
    schema, _, result = _fitted(3)
    assert schema.classes == ("downgrades", "leaves", "stays")
    proba = result.model.predict_proba(result.X_holdout)
    y, predicted = result.y_holdout, proba.argmax(axis=1)
    m = result.metrics
    assert m["precision"] == pytest.approx(precision_score(y, predicted, average="macro"))
    assert m["f1"] == pytest.approx(f1_score(y, predicted, average="macro"))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    assert m["log_loss"] == pytest.approx(log_loss(y, proba), rel=1e-6)
    assert result.extra_metrics["f1_weighted"] == pytest.approx(f1_score(y, predicted, average="weighted"))


def test_a_three_class_evaluation_has_its_matrix_curves_per_class_intervals_and_coefficients() -> None:
    _, _, result = _fitted(3)
    ev = evaluation.evaluate_version(result.model, result.X_holdout, result.y_holdout, seed=0)
    matrix = np.array(ev["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == len(result.y_holdout)
    assert np.trace(matrix) / matrix.sum() == pytest.approx(result.metrics["accuracy"])
    assert len(ev["per_class"]) == 3 and all(c["roc"]["auc"] > 0.5 for c in ev["per_class"])
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"):
        interval = ev["intervals"][name]
        assert interval["low"] <= result.metrics[name] <= interval["high"], name
    assert len(ev["linear"]["coef"]) == 3 and len(ev["linear"]["coef"][0]) == len(ev["linear"]["names"])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_an_explanation_adds_up_to_the_served_log_odds(n_classes: int) -> None:
    schema, data, result = _fitted(n_classes)
    row = data.X.iloc[[7]]
    explained = evaluation.table_contributions(result.model, row, schema.classes)
    assert explained["features"] == schema.names  # one part per original column, one-hot columns added up
    logits = result.model.decision_function(row)[0]
    served = result.model.predict_proba(row)[0]
    if n_classes == 2:
        assert sum(explained["contributions"]) + explained["intercept"] == pytest.approx(float(logits))
        assert explained["probability"] == pytest.approx(served[1])
    else:
        for part, logit in zip(explained["per_class"], logits, strict=True):
            assert sum(part["contributions"]) + part["intercept"] == pytest.approx(float(logit))
        assert explained["probability"] == pytest.approx(served.max())
        assert explained["towards"] == schema.classes[int(served.argmax())]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_measured_from_the_average_row_a_column_the_same_in_every_row_explains_nothing(n_classes: int) -> None:
    """Tour 20: three constant pixels read +0.11 each on digits, their one-hot 1 times a weight that is really intercept.
    From the encoded rows' mean, their part is 0, the parts still add up to the served logits, and the intercept is the
    average row's logit."""
    frame = generate_table(1500, seed=3, n_classes=n_classes).assign(site="same", level=7.0)  # a category and a number, constant
    schema = infer_schema(frame, "outcome")
    data = encode(frame, schema, labelled=True)
    model = training.fit(data.X, data.y, 0.3, 0, schema=schema).model
    mean = np.asarray(model.named_steps["preprocess"].transform(data.X), dtype=float).mean(axis=0)
    row = data.X.iloc[[11]]
    explained = evaluation.table_contributions(model, row, schema.classes, mean)
    parts = explained["per_class"] if n_classes > 2 else [explained]
    for part, logit in zip(parts, np.atleast_1d(model.decision_function(row)[0]), strict=True):
        by_column = dict(zip(explained["features"], part["contributions"], strict=True))
        assert by_column["site"] == pytest.approx(0.0, abs=1e-12) and by_column["level"] == pytest.approx(0.0, abs=1e-12)
        assert sum(part["contributions"]) + part["intercept"] == pytest.approx(float(logit))
    raw = evaluation.table_contributions(model, row, schema.classes)  # from 0: the constant category's weight shows
    assert abs(dict(zip(raw["features"], raw["contributions"], strict=True))["site"]) > 1e-6


def test_a_class_with_too_few_rows_is_a_clear_refusal_naming_every_class() -> None:
    schema, data, _ = _fitted(3, rows=400)
    y = data.y.copy()
    y[y == 0] = 1
    y[:3] = 0
    with pytest.raises(training.NotEnoughRows, match=r"has 3 of class downgrades, \d+ of class leaves and \d+ of class stays"):
        training.fit(data.X, y, 0.3, 0, schema=schema)


@pytest.mark.parametrize(("n_classes", "rows"), [(2, 800), (3, 3000)])
def test_one_row_scored_from_the_pipeline_s_arrays_gets_the_pipeline_s_probabilities(n_classes: int, rows: int) -> None:
    schema, _, result = _fitted(n_classes, rows=rows)  # 800 rows: rare regions share the infrequent column
    later = generate_table(200, "new_category", 1.0, seed=9, n_classes=n_classes)
    later.loc[::7, "channel"] = None
    later.loc[::5, "region"] = "region_99"  # never seen: the infrequent column, or none
    table = encode(later, schema, labelled=False).X
    row_model = RowModel.of(result.model, schema)
    expected = result.model.predict_proba(table)
    for i in range(len(table)):
        values = {name: table[name].iloc[i] for name in schema.names}
        assert row_model.proba(values) == pytest.approx(expected[i], abs=1e-12), i
