import math

import mlflow.sklearn
import numpy as np
import pytest

from core.data.synthetic_stream import generate
from core.errors import NoModelError, UserInputError
from core.runtime import Runtime
from tests.waiting import wait_until


def test_serving_equals_the_registered_models_predict_proba(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    X, _ = generate(500, 2, seed=9)
    folder = rt.tracker.client.get_model_version_download_uri(rt.settings.registered_model_name, "1")  # no process-global URI is set
    reference = mlflow.sklearn.load_model(folder).predict_proba(X)
    batch = rt.serving.predict_batch(X)
    assert np.array_equal(batch.proba, reference[:, 1])
    assert np.array_equal(batch.predictions, reference.argmax(axis=1))
    assert np.array_equal(batch.confidence, reference.max(axis=1))
    one = rt.serving.predict(list(X[0]))
    assert one.prediction == int(reference[0].argmax()) and one.confidence == reference[0].max()
    assert one.model_version == 1 and one.as_dict()["model_version"] == "v1.0.0" and one.latency_ms > 0


def test_the_champion_is_loaded_once_and_reloaded_when_it_changes(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.serving.predict([0.0, 1.0])
    first = rt.predictor.model()[1]
    rt.serving.predict([1.0, 0.0])
    assert rt.predictor.model()[1] is first
    rt.data.generate(2000, "concept_drift", 1.0, seed=4, role="incoming")
    assert rt.models.train(window_rows=2000).decision.promoted
    assert rt.serving.predict([1.0, 0.0]).model_version == 2 and rt.predictor.model()[1] is not first


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ([1.0], "expected 2 features per row"),
        ([1.0, 2.0, 3.0], "expected 2 features per row"),
        ([1.0, "2"], "'2' is not a number"),
        ([True, 1.0], "true is not a number"),
        ([1.0, math.nan], "feature_2 is nan"),
        ([math.inf, 1.0], "feature_1 is inf"),
        ("1.5,2.3", "expected a list"),
        ([], "empty"),
    ],
)
def test_each_bad_single_input_is_refused_and_not_logged(trained_runtime: Runtime, features: object, expected: str) -> None:
    with pytest.raises(UserInputError, match=expected):
        trained_runtime.serving.predict(features)
    trained_runtime.predictor.flush()
    assert trained_runtime.store.counts()["predictions"] == 0


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (np.empty((0, 2)), "batch: the batch is empty"),
        ([[1.0, 2.0], [3.0]], "every row must hold exactly 2 numbers"),
        (np.ones((3, 3)), "expected 2 features per row"),
        (np.array([[1.0, 2.0], [np.nan, 1.0]]), "row 2, feature_1 is nan"),
    ],
)
def test_each_bad_batch_is_refused(trained_runtime: Runtime, rows: object, expected: str) -> None:
    with pytest.raises(UserInputError, match=expected):
        trained_runtime.serving.predict_batch(rows)


def test_batches_over_the_limit_are_refused(tmp_path, mlflow_template) -> None:
    from tests.fixtures import make_settings

    rt = Runtime(make_settings(tmp_path / "d", mlflow_template, starter_model=True, max_samples_per_request=100))
    try:
        with pytest.raises(UserInputError, match="101 rows is more than the limit of 100"):
            rt.serving.predict_batch(np.zeros((101, 2)))
    finally:
        rt.close()


def test_no_model_yet_says_to_train_one(runtime: Runtime) -> None:
    with pytest.raises(NoModelError, match="train one first"):
        runtime.serving.predict([1.5, 2.3])


def test_predictions_are_logged_in_batches_with_latency(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    for i in range(5):
        rt.serving.predict([float(i), 1.0])
    rt.serving.predict_batch(np.zeros((10, 2)))
    wait_until(lambda: rt.store.counts()["predictions"] >= 15, what="the flusher's write")  # it writes on its own schedule
    logged = rt.store.recent_predictions(100)
    assert len(logged) == 15
    assert set(logged["source"]) == {"api", "batch"} and (logged["latency_ms"] > 0).all()
    assert (logged["model_version"] == 1).all() and logged["feature_1"].max() == 4.0
    assert rt.store.latency_percentiles()["count"] == 15


def test_close_flushes_what_is_buffered(tmp_path, mlflow_template) -> None:
    from tests.fixtures import make_settings

    settings = make_settings(
        tmp_path / "d", mlflow_template, starter_model=True, prediction_flush_seconds=3600, prediction_flush_rows=10_000
    )
    rt = Runtime(settings)
    rt.serving.predict([1.0, 2.0])
    assert rt.store.counts()["predictions"] == 0  # still buffered: the caller did not wait on an insert
    rt.close()
    again = Runtime(settings)
    try:
        assert again.store.counts()["predictions"] == 1
    finally:
        again.close()
