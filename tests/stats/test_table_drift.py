"""Drift on a mixed table, in one Bonferroni family: KS on numbers, chi-square with a Jensen-Shannon floor on
categories, the missing-value rate; the false-alarm and detection rates docs/own-data.md states, on their seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from core.data.synthetic_table import generate_table
from core.data.table_check import Encoded, encode, infer_schema
from core.ml import training
from core.stats.drift import JS_FLOOR, NO_VALUES, PSI_LEVELS, DriftThresholds, ks_and_wasserstein, measured, psi, table_report

T = DriftThresholds()
SCHEMA = infer_schema(generate_table(2000, seed=0), "outcome")


def _rows(n: int, scenario: str, seed: int, strength: float = 1.0) -> pd.DataFrame:
    return encode(generate_table(n, scenario, strength, seed=seed), SCHEMA, labelled=False).X


def _labelled(n: int, scenario: str, seed: int, strength: float = 1.0) -> Encoded:
    return encode(generate_table(n, scenario, strength, seed=seed), SCHEMA, labelled=True)


def _flags(seed: int, scenario: str, cycles: int, onset: int = 0, strength: float = 1.0) -> list[bool]:
    """The loop's test on a mixed stream, without storage: a 2,000-row reference (the champion's training rows),
    200-row labelled batches, 3 pooled, with the champion's predicted classes and the labels in the family."""
    reference = _labelled(2000, "stable", seed)
    model = training.fit(reference.X, reference.y, 0.3, 0, schema=SCHEMA).model
    outputs_ref = {"(predicted class)": _text(model.predict(reference.X)), "(label)": _text(reference.y)}
    recent: list[tuple[pd.DataFrame, dict[str, pd.Series]]] = []
    flags = []
    for c in range(1, cycles + 1):
        batch = _labelled(200, scenario if c > onset else "stable", seed * 1_000_003 + c, strength)
        recent = [(batch.X, {"(predicted class)": _text(model.predict(batch.X)), "(label)": _text(batch.y)}), *recent[:2]]
        outputs = {name: (ref, [o[name] for _, o in recent]) for name, ref in outputs_ref.items()}
        flags.append(table_report(reference.X, [x for x, _ in recent], SCHEMA, T, outputs).dataset_drift)
    return flags


def _text(indices: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(indices).astype(str))


def test_every_column_kind_has_its_test_in_one_family() -> None:
    report = table_report(_rows(2000, "stable", 1), [_rows(200, "stable", 2)], SCHEMA, T)
    tests = {f.feature: f.test for f in report.features}
    assert tests["monthly_fee"] == "ks" and tests["plan"] == "chi2" and tests["support_calls"] == "chi2"
    assert tests["tenure_months · missing rate"] == "missing" and tests["channel · missing rate"] == "missing"
    assert all(f.threshold == pytest.approx(T.alpha / len(report.features)) for f in report.features)  # Bonferroni over all


def test_each_test_counts_the_reference_values_it_read_as_it_counts_the_current_ones() -> None:
    """A column with missing values: its KS or chi-square reads the values present on both sides, its missing-rate
    test every row. "reference rows" beside "current rows" counted every reference row against the values present."""
    reference, current = _rows(2000, "stable", 1), _rows(200, "stable", 2)
    rows = {r["feature"]: r for r in table_report(reference, [current], SCHEMA, T).rows()}
    for column in ("tenure_months", "channel"):
        assert reference[column].isna().any() and current[column].isna().any()
        assert (rows[column]["n_reference"], rows[column]["n_current"]) == (reference[column].notna().sum(), current[column].notna().sum())
        assert (rows[f"{column} · missing rate"]["n_reference"], rows[f"{column} · missing rate"]["n_current"]) == (2000, 200)


def test_the_category_test_is_scipy_s_chi_square_with_unseen_values_pooled() -> None:
    reference, current = _rows(2000, "stable", 1), _rows(300, "new_category", 2)
    plan = next(f for f in table_report(reference, [current], SCHEMA, T).features if f.feature == "plan")
    categories = sorted(reference["plan"].unique())
    counts = [[int((frame["plan"] == c).sum()) for c in categories] for frame in (reference, current)]
    counts[0].append(0)
    counts[1].append(int((~current["plan"].isin(categories)).sum()))
    chi2, p_value, _, _ = stats.chi2_contingency(np.array(counts), correction=False)
    assert plan.statistic == pytest.approx(chi2) and plan.p_value == pytest.approx(p_value)
    assert plan.effect == pytest.approx(jensenshannon(counts[0], counts[1]))
    assert plan.unseen_share == pytest.approx(counts[1][-1] / 300)


def test_a_significant_but_tiny_category_move_is_not_drift() -> None:
    reference = _rows(2000, "stable", 1)
    huge = _rows(200_000, "category_shift", 2, strength=0.1)  # pro from 20 % to 21.5 %: significant on 200,000 rows, tiny
    plan = next(f for f in table_report(reference, [huge], SCHEMA, T).features if f.feature == "plan")
    assert plan.effect < JS_FLOOR and not plan.drifted


@pytest.mark.slow
def test_false_alarms_on_a_stable_mixed_stream_under_one_percent_on_average_and_three_for_any_seed() -> None:
    rates = [np.mean(_flags(seed, "stable", 60)) for seed in range(1, 11)]
    assert np.mean(rates) <= 0.01 and max(rates) <= 0.03, rates


def test_a_category_share_from_20_to_35_percent_is_flagged_within_three_cycles() -> None:
    caught = [any(_flags(seed, "category_shift", 3)) for seed in range(1, 21)]
    assert np.mean(caught) >= 0.9, caught


def test_a_new_category_at_a_ten_percent_share_is_flagged_in_the_first_cycle() -> None:
    first = [_flags(seed, "new_category", 1)[0] for seed in range(1, 21)]
    assert np.mean(first) >= 0.9, first


def test_a_shift_of_the_labels_or_of_the_predicted_classes_is_flagged_with_the_features_unchanged() -> None:
    rng = np.random.default_rng(3)
    reference, batch = _rows(2000, "stable", 1), _rows(200, "stable", 2)
    before = pd.Series(rng.choice(["stays", "leaves"], 2000, p=[0.7, 0.3]))
    after = pd.Series(rng.choice(["stays", "leaves"], 200, p=[0.4, 0.6]))
    for name in ("(label)", "(predicted class)"):
        report = table_report(reference, [batch], SCHEMA, T, {name: (before, [after])})
        row = next(f for f in report.features if f.feature == name)
        assert row.test == "chi2" and row.drifted and report.dataset_drift
        assert all(f.threshold == pytest.approx(T.alpha / len(report.features)) for f in report.features)  # one family


def test_a_change_in_the_missing_value_rate_is_flagged() -> None:
    report = table_report(_rows(2000, "stable", 1), [_rows(200, "missing_rate", 2)], SCHEMA, T)
    rows = {f.feature: f for f in report.features}
    assert rows["tenure_months · missing rate"].drifted and rows["tenure_months · missing rate"].effect > 0.1
    assert not rows["channel · missing rate"].drifted
    missing = rows["tenure_months · missing rate"]  # no PSI: a fixed 0 read "low" beside a move of many points
    assert np.isnan(missing.psi) and missing.psi_status == "not_read" and PSI_LEVELS["not_read"] == "—"


def test_a_column_with_no_value_in_the_batch_is_not_a_test_passed() -> None:
    """Tour 9: a batch whose every value of a column was missing read KS 0, p = 1, PSI "low": a test passed on no rows.
    It measured nothing, says so, and the missing rate's own test carries the change."""
    batch = _rows(200, "stable", 2).assign(tenure_months=np.nan, channel=None)
    older = _rows(200, "stable", 3)  # pooled with a batch that had values: the newest batch still had none
    report = table_report(_rows(2000, "stable", 1), [batch, older], SCHEMA, T)
    rows = {f.feature: f for f in report.features}
    for name in ("tenure_months", "channel"):
        row = rows[name]
        assert not row.drifted and row.n_current == 0 and row.psi_status == NO_VALUES
        assert all(np.isnan(v) for v in (row.statistic, row.p_value, row.effect, row.psi))
        assert measured(row.test, row.statistic, row.effect) == "no values: nothing compared"
        assert rows[f"{name} · missing rate"].drifted
    assert PSI_LEVELS[NO_VALUES] == "no values" and not np.isnan(rows["monthly_fee"].p_value)
    made = [f for f in report.features if f.psi_status != NO_VALUES]  # the share counts the tests that measured something
    assert report.drift_share == sum(f.drifted for f in made) / len(made) and len(made) == len(report.features) - 2


@pytest.mark.parametrize(("n_ref", "n_cur"), [(100_000, 100_000), (20_000, 600), (5_000, 50_000)])
def test_the_one_pass_ks_and_wasserstein_of_large_samples_are_scipy_s(n_ref: int, n_cur: int) -> None:
    rng = np.random.default_rng(n_ref + n_cur)
    ref, cur = rng.normal(size=n_ref), rng.normal(0.02, 1.1, size=n_cur)
    ref[:50], cur[:30] = np.round(ref[:50]), 0.0  # ties, as rounded real data has
    statistic, p_value, distance = ks_and_wasserstein(np.sort(ref), np.sort(cur))
    expected = stats.ks_2samp(ref, cur)
    assert statistic == expected.statistic and p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=0)
    assert distance == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12)


def test_psi_counted_on_sorted_arrays_equals_psi_counted_value_by_value() -> None:
    rng = np.random.default_rng(1)
    for ref, cur in [(rng.normal(size=50_000), rng.normal(0.1, 1, 30_000)), (np.round(rng.normal(size=20_000)), np.round(rng.normal(size=9_000))),
                     (np.zeros(20_000), np.full(30_000, 0.05))]:  # fmt: skip
        assert psi(np.sort(ref), np.sort(cur), presorted=True) == pytest.approx(psi(ref, cur), rel=1e-12)
