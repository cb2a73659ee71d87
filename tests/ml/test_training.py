import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.data.synthetic_stream import generate
from core.domain.schema import Schema
from core.errors import UserInputError
from core.ml import training
from core.ml.row_model import RowModel
from core.stats.estimate import AccuracyEstimator


def test_metrics_match_their_definitions_on_known_data() -> None:
    X, y = generate(4000, 2, seed=11)
    result = training.fit(X, y, 0.25, seed=0)
    proba = result.model.predict_proba(result.X_holdout)[:, 1]
    predicted = proba >= 0.5
    truth = result.y_holdout == 1
    tp, fp, fn = np.sum(predicted & truth), np.sum(predicted & ~truth), np.sum(~predicted & truth)
    m = result.metrics
    assert m["accuracy"] == pytest.approx(np.mean(predicted == truth))
    assert m["precision"] == pytest.approx(tp / (tp + fp)) and m["recall"] == pytest.approx(tp / (tp + fn))
    assert m["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    eps = 1e-15
    assert m["log_loss"] == pytest.approx(-np.mean(truth * np.log(np.clip(proba, eps, 1)) + ~truth * np.log(np.clip(1 - proba, eps, 1))))
    assert 0.9 < m["roc_auc"] <= 1.0
    assert result.n_train == 3000 and len(result.y_holdout) == 1000


def test_split_is_stratified_and_seeded() -> None:
    X, y = generate(1000, 2, seed=3)
    a, b = training.fit(X, y, 0.3, seed=5), training.fit(X, y, 0.3, seed=5)
    assert np.array_equal(a.X_holdout, b.X_holdout)
    assert abs(a.y_holdout.mean() - y.mean()) < 0.01


def test_a_separable_problem_scores_perfectly() -> None:
    X = np.vstack([np.random.default_rng(0).normal(-5, 1, (200, 2)), np.random.default_rng(1).normal(5, 1, (200, 2))])
    y = np.repeat([0, 1], 200)
    assert training.fit(X, y, 0.3, 0).metrics["accuracy"] == 1.0


def test_one_class_is_refused_with_the_counts() -> None:
    with pytest.raises(UserInputError, match="has 50 of class 0 and 0 of class 1"):
        training.fit(np.zeros((50, 2)), np.zeros(50, dtype=np.int8))


def test_a_fit_carries_the_estimator_fitted_on_its_holdout() -> None:
    X, y = generate(2000, 2, seed=3)
    result = training.fit(X, y, seed=3)
    again = AccuracyEstimator.fit(result.model.predict_proba(result.X_holdout), result.y_holdout, seed=3)
    assert result.estimator.to_dict() == again.to_dict() and len(result.estimator.correct) == len(result.y_holdout)
    assert result.estimator.served_right.mean() == pytest.approx(result.metrics["accuracy"], abs=0.03)


def test_data_hash() -> None:
    X, y = generate(100, 2, seed=1)
    assert training.data_hash(X, y) == training.data_hash(X.copy(), y.copy())
    y2 = y.copy()
    y2[0] ^= 1
    assert training.data_hash(X, y) != training.data_hash(X, y2)


def test_numpy_metrics_agree_with_sklearn() -> None:
    from sklearn import metrics as skm

    rng = np.random.default_rng(4)
    truth = rng.random(5000) < 0.4
    proba = np.clip(truth * 0.3 + rng.random(5000) * 0.7, 0, 1)
    ours = training.metrics_from_proba(truth, proba)
    predicted = proba >= 0.5
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted))
    assert ours["precision"] == pytest.approx(skm.precision_score(truth, predicted))
    assert ours["recall"] == pytest.approx(skm.recall_score(truth, predicted))
    assert ours["f1"] == pytest.approx(skm.f1_score(truth, predicted))
    assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, proba))
    assert ours["log_loss"] == pytest.approx(skm.log_loss(truth, proba))
    one_class = training.metrics_from_proba(np.zeros(10, dtype=bool), np.full(10, 0.2))
    assert np.isnan(one_class["roc_auc"]) and one_class["accuracy"] == 1.0


def test_holdout_mask_holds_out_the_same_share_of_each_class() -> None:
    y = np.array([0] * 700 + [1] * 300)
    mask = training.stratified_holdout_mask(y, 0.2, seed=1)
    assert mask[:700].sum() == 140 and mask[700:].sum() == 60
    assert not np.array_equal(mask, training.stratified_holdout_mask(y, 0.2, seed=2))


@pytest.mark.parametrize("n_features", [2, 5])
def test_one_demo_row_scored_from_the_pipeline_s_arrays_is_exactly_what_the_pipeline_gives(n_features: int) -> None:
    X, y = generate(3000, n_features, seed=1)
    result = training.fit(X, y, 0.2, seed=0)
    row_model = RowModel.of(result.model, Schema.demo(n_features))
    rows, _ = generate(300, n_features, seed=3)
    rows = np.vstack([rows * 5, np.full((1, n_features), 1e6), np.full((1, n_features), -1e6)])  # saturated sigmoids too
    for x in rows:
        assert np.array_equal(row_model.proba_of_numbers(x), result.model.predict_proba(x.reshape(1, -1))[0]), x


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_batch_scored_from_the_pipeline_s_arrays_is_exactly_what_the_pipeline_gives(n_classes: int) -> None:
    X, y = generate(3000, 2, seed=1)
    if n_classes == 2:
        model = training.fit(X, y, 0.2, seed=0).model
    else:  # the demo's pipeline on three classes (a multinomial: softmax, not the sigmoid)
        y3 = np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])
        model = Pipeline([("scaler", StandardScaler()), ("classifier", LogisticRegression())]).fit(X, y3)
    rows = np.vstack([generate(5000, 2, seed=3)[0] * 5, np.full((1, 2), 1e6), np.full((1, 2), -1e6)])
    expected = model.predict_proba(rows)
    got = RowModel.of(model, Schema.demo(2)).scores_of_numbers(rows)
    assert np.array_equal(got, expected[:, 1] if n_classes == 2 else expected)


def test_a_model_not_built_by_training_has_no_row_arrays() -> None:
    X, y = generate(500, 2, seed=1)
    schema = Schema.demo(2)
    assert RowModel.of(Pipeline([("scaler", StandardScaler()), ("classifier", RandomForestClassifier(5))]).fit(X, y), schema) is None
    assert RowModel.of(LogisticRegression().fit(X, y), schema) is None  # no scaler: not the demo's pipeline
    assert RowModel.of(training.fit(X, y, 0.2, seed=0).model, Schema.demo(3)) is None  # another width
