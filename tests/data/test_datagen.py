import numpy as np
import pytest

from core.data import synthetic_stream
from core.data.synthetic_stream import Scenario
from core.errors import UserInputError
from core.ml import training


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = synthetic_stream.generate(500, 3, Scenario("gradual", 1.0, step=4), seed=7)
    b = synthetic_stream.generate(500, 3, Scenario("gradual", 1.0, step=4), seed=7)
    c = synthetic_stream.generate(500, 3, Scenario("gradual", 1.0, step=4), seed=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_shapes_types_and_a_fresh_model_scores_about_point_nine() -> None:
    X, y = synthetic_stream.generate(20_000, 2, seed=1)
    assert X.shape == (20_000, 2) and X.dtype == np.float64 and y.dtype == np.int8
    assert set(np.unique(y)) == {0, 1}
    accuracy = training.fit(X, y, 0.3, 0).metrics["accuracy"]
    assert 0.88 <= accuracy <= 0.95


def _stable_model():
    X, y = synthetic_stream.generate(5000, 2, seed=1)
    return training.fit(X, y, 0.3, 0).model


def test_concept_drift_costs_a_stable_model_at_least_15_points() -> None:
    model = _stable_model()
    on_stable = training.evaluate(model, *synthetic_stream.generate(5000, 2, seed=2))["accuracy"]
    on_drift = training.evaluate(model, *synthetic_stream.generate(5000, 2, Scenario("concept_drift", 1.0), seed=2))["accuracy"]
    assert on_stable - on_drift >= 0.15
    retrained = training.fit(*synthetic_stream.generate(5000, 2, Scenario("concept_drift", 1.0), seed=3), 0.3, 0).metrics["accuracy"]
    assert retrained - on_drift >= 0.15


def test_covariate_shift_moves_means_but_keeps_the_boundary() -> None:
    model = _stable_model()
    X, y = synthetic_stream.generate(5000, 2, Scenario("covariate_shift", 1.0), seed=2)
    assert np.allclose(X.mean(axis=0), 1.0, atol=0.05)
    assert training.evaluate(model, X, y)["accuracy"] >= 0.88


def test_gradual_drift_grows_with_the_step_and_label_noise_flips_labels() -> None:
    model = _stable_model()
    scores = [
        training.evaluate(model, *synthetic_stream.generate(4000, 2, Scenario("gradual", 1.0, step), seed=5))["accuracy"]
        for step in (0, 4, 10)
    ]
    assert scores[0] > scores[1] > scores[2]
    noisy = training.evaluate(model, *synthetic_stream.generate(4000, 2, Scenario("label_noise", 1.0), seed=5))["accuracy"]
    assert noisy < scores[0] - 0.15


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"name": "tornado"}, "scenario"), ({"strength": -1.0}, "strength"), ({"strength": 9.0}, "strength")]
)
def test_bad_scenarios_are_refused(kwargs: dict, field: str) -> None:
    with pytest.raises(UserInputError, match=field):
        Scenario(**kwargs)
