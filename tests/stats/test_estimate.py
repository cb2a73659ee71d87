"""The label-free accuracy estimate: calibrated where it helps, multiclass included, with its band and thresholds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.errors import UserInputError
from core.stats.estimate import AccuracyEstimator, predicted_class

CHUNK = 200


def scored(n_classes: int, C: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A model trained on 2,000 rows; its probabilities and labels on a 1,000-row holdout and on 20,000 later rows."""
    X, y = make_classification(23_000, 6, n_informative=4, n_redundant=0, n_classes=n_classes, n_clusters_per_class=1,
                               class_sep=1.0, random_state=seed)  # fmt: skip
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C)).fit(X[:2000], y[:2000])
    return model.predict_proba(X[2000:3000]), y[2000:3000], model.predict_proba(X[3000:]), y[3000:]


def chunk_errors(estimator: AccuracyEstimator, P: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per 200-row chunk: |ours - realised|, |mean top probability - realised|, and whether our band held it."""
    ours, top, covered = [], [], []
    for start in range(0, len(y) - CHUNK + 1, CHUNK):
        p, truth = P[start : start + CHUNK], y[start : start + CHUNK]
        realised = float(np.mean(predicted_class(p) == truth))
        e = estimator.estimate(p)
        ours.append(abs(e.value - realised))
        top.append(abs(float(p.max(axis=1).mean()) - realised))
        covered.append(e.low <= realised <= e.high)
    return np.array(ours), np.array(top), np.array(covered)


def test_a_flattened_three_class_model_is_estimated_near_its_accuracy_where_its_top_probability_is_far_off() -> None:
    hold_p, hold_y, P, y = scored(3, C=0.001)
    estimator = AccuracyEstimator.fit(hold_p, hold_y)
    ours, top, _ = chunk_errors(estimator, P, y)
    assert estimator.method != "uncalibrated"
    assert top.mean() > 0.2  # the mean top probability says 0.4 where the model is right about 0.7 of the time
    assert ours.mean() < 0.035


def test_a_flattened_binary_model_is_recalibrated_too() -> None:
    hold_p, hold_y, P, y = scored(2, C=0.001)
    ours, top, _ = chunk_errors(AccuracyEstimator.fit(hold_p, hold_y), P, y)
    assert top.mean() > 0.15 and ours.mean() < 0.03


def test_a_well_calibrated_binary_model_is_not_made_worse() -> None:
    for seed in (1, 2, 3):
        hold_p, hold_y, P, y = scored(2, C=1.0, seed=seed)
        ours, top, _ = chunk_errors(AccuracyEstimator.fit(hold_p, hold_y, seed=seed), P, y)
        assert ours.mean() <= top.mean() + 0.003


def test_a_model_right_in_the_large_keeps_its_probabilities_where_a_map_would_stretch_them() -> None:
    """Probabilities squeezed around their right mean: a map sharpens them on the holdout (a credible Brier gain), yet
    the mean is already right, and on a batch beyond the holdout's range the stretched ones overshoot."""
    rng = np.random.default_rng(3)

    def squeezed(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top = 0.75 + 0.4 * (q - 0.75)  # the chance each row is right, squeezed towards 0.75
        return np.column_stack([1 - top, top]), (rng.uniform(0, 1, q.shape[0]) < q).astype(int)

    hold_p, hold_y = squeezed(rng.uniform(0.55, 0.95, 2000))
    estimator = AccuracyEstimator.fit(hold_p, hold_y)
    assert estimator.scores["isotonic"] < estimator.scores["uncalibrated"] - 0.002  # the map would sharpen it...
    assert estimator.method == "uncalibrated" and "within 2 standard errors" in estimator.reason  # ...and is not taken
    later_p = np.column_stack([np.full(200, 0.1), np.full(200, 0.9)])  # beyond every holdout row's probability
    assert estimator.estimate(later_p).value == pytest.approx(0.9)


def test_the_band_holds_the_realised_accuracy_in_nine_chunks_of_ten() -> None:
    for n_classes, C in ((2, 1.0), (3, 0.001), (3, 1.0)):
        hold_p, hold_y, P, y = scored(n_classes, C)
        _, _, covered = chunk_errors(AccuracyEstimator.fit(hold_p, hold_y), P, y)
        assert covered.mean() >= 0.9, (n_classes, C, covered.mean())


def test_the_band_narrows_with_more_rows() -> None:
    hold_p, hold_y, P, _ = scored(2, C=1.0)
    estimator = AccuracyEstimator.fit(hold_p, hold_y)
    small, large = estimator.estimate(P[:100]), estimator.estimate(P[:10_000])
    assert large.high - large.low < (small.high - small.low) / 2
    assert (small.n, large.n) == (100, 10_000)


def test_thresholds_come_from_the_holdouts_chunk_to_chunk_variation() -> None:
    hold_p, hold_y, P, _ = scored(2, C=1.0)
    estimator = AccuracyEstimator.fit(hold_p, hold_y)
    small, large = estimator.thresholds(50), estimator.thresholds(1000)
    realised = float(np.mean(predicted_class(hold_p) == hold_y))
    assert small.realised < large.realised < realised and small.spread > 2 * large.spread
    drops = [estimator.estimate(P[s : s + CHUNK]).value < estimator.thresholds(CHUNK).estimated for s in range(0, 20_000, CHUNK)]
    assert sum(drops) <= 1  # the same population: no drop
    assert estimator.thresholds(CHUNK, level=0.6).estimated == pytest.approx(0.6 - estimator.thresholds(CHUNK).spread)


def test_it_round_trips_through_json() -> None:
    hold_p, hold_y, P, _ = scored(3, C=0.001)
    estimator = AccuracyEstimator.fit(hold_p, hold_y)
    again = AccuracyEstimator.from_dict(json.loads(json.dumps(estimator.to_dict())))
    assert again.estimate(P[:300]) == estimator.estimate(P[:300])
    assert again.thresholds(200) == estimator.thresholds(200)
    assert again.method == estimator.method and again.reason == estimator.reason


def test_a_small_or_single_class_holdout_stays_uncalibrated_and_says_why() -> None:
    hold_p, hold_y, P, _ = scored(3, C=0.001)
    small = AccuracyEstimator.fit(hold_p[:60], hold_y[:60])
    assert small.method == "uncalibrated" and "60 rows" in small.reason
    one = AccuracyEstimator.fit(hold_p[hold_y == 1], hold_y[hold_y == 1])
    assert one.method == "uncalibrated" and "one class" in one.reason
    assert 0 < one.estimate(P[:200]).value < 1


def test_labels_given_as_class_names() -> None:
    hold_p, hold_y, _, _ = scored(3, C=0.001)
    names = np.array(["a", "b", "c"], dtype=object)[hold_y]
    assert AccuracyEstimator.fit(hold_p, names, classes=("a", "b", "c")).to_dict() == AccuracyEstimator.fit(hold_p, hold_y).to_dict()


@pytest.mark.parametrize(
    ("probabilities", "labels", "field", "says"),
    [
        (np.full((10, 2), 0.5), np.zeros(9, dtype=int), "labels", "one label per row"),
        (np.ones((10, 1)), np.zeros(10, dtype=int), "probabilities", "at least 2"),
        (np.array([[0.5, 0.5], [np.nan, 0.5]]), np.array([0, 1]), "probabilities", "NaN"),
        (np.full((2, 2), 0.5), np.array([0.0, np.nan]), "labels", "NaN"),
        (np.full((2, 2), 0.5), np.array([0, 2]), "labels", "0..1"),
        (np.array([[1.5, -0.5], [0.5, 0.5]]), np.array([0, 1]), "probabilities", "[0, 1]"),
        (np.zeros((0, 2)), np.zeros(0, dtype=int), "probabilities", "at least 1 row"),
    ],
)
def test_bad_input_is_refused_naming_the_field(probabilities: np.ndarray, labels: np.ndarray, field: str, says: str) -> None:
    with pytest.raises(UserInputError, match=field) as refused:
        AccuracyEstimator.fit(probabilities, labels)
    assert refused.value.field == field and says in str(refused.value)


def test_a_batch_with_other_columns_is_refused() -> None:
    hold_p, hold_y, _, _ = scored(3, C=0.001)
    with pytest.raises(UserInputError, match="expected 3 columns"):
        AccuracyEstimator.fit(hold_p, hold_y).estimate(np.full((5, 2), 0.5))


def test_a_binary_holdout_s_chance_offset_is_not_mapped_without_a_credible_brier_gain() -> None:
    """Calibrated probabilities whose 600-row holdout happened to come out 2.5 standard errors above them: the offset is
    the holdout's noise (Weather, C = 1: 3 of 20 holdouts took a map and later years did not keep the offset)."""
    rng = np.random.default_rng(5)
    top = rng.uniform(0.55, 0.95, 600)
    right = np.zeros(600, dtype=bool)
    right[np.argsort(rng.uniform(0, 1, 600) / top)[: round(600 * (top.mean() + 2.5 * 0.0177))]] = True  # about 0.794 right
    hold_p, hold_y = np.column_stack([1 - top, top]), right.astype(int)  # class 1 served on every row, right where labelled 1
    estimator = AccuracyEstimator.fit(hold_p, hold_y)
    assert estimator.method == "uncalibrated" and "but no map lowers the cross-validated Brier score" in estimator.reason
    assert estimator.estimate(hold_p).value == pytest.approx(top.mean())


def test_a_perfect_holdout_leaves_room_for_a_chunk_s_chance_errors() -> None:
    """100 of 100 right on the holdout: resampled chunks all read 100 %, a spread of 0, so the drop threshold was the
    estimate itself and a 39-row batch estimated a hair lower was a "performance drop" every cycle."""
    top = np.linspace(0.9, 0.999, 100)
    estimator = AccuracyEstimator.fit(np.column_stack([1 - top, top]), np.ones(100, dtype=int))
    t = estimator.thresholds(39)
    p = 100.5 / 101
    assert t.spread >= 3 * np.sqrt(p * (1 - p) / 39) > 0.03
    batch = top[::2][:39] - 0.01  # the holdout's confidence, a hair lower
    assert estimator.estimate(np.column_stack([1 - batch, batch])).value > t.estimated
