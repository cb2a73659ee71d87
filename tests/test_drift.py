import numpy as np
import pytest
from scipy import stats

from core import drift
from core.drift import DriftThresholds, drift_report

T = DriftThresholds()


def _normal(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) + shift


def test_same_distribution_no_drift_and_ks_for_small_samples() -> None:
    report = drift_report(_normal(1000, 2, 1), _normal(200, 2, 2), ["a", "b"], T)
    assert [f.test for f in report.features] == ["ks", "ks"]
    assert not report.dataset_drift and report.drift_share == 0.0
    assert all(f.threshold == pytest.approx(0.025) for f in report.features)  # Bonferroni over 2 features


def test_statistics_are_scipys() -> None:
    ref, cur = _normal(800, 1, 1), _normal(150, 1, 2, shift=0.3)
    feature = drift_report(ref, cur, ["a"], T).features[0]
    expected = stats.ks_2samp(ref[:, 0], cur[:, 0])
    assert feature.statistic == pytest.approx(expected.statistic) and feature.p_value == pytest.approx(expected.pvalue)
    big_ref, big_cur = _normal(5000, 1, 3), _normal(4000, 1, 4, shift=0.3)
    w = drift_report(big_ref, big_cur, ["a"], T).features[0]
    assert w.test == "wasserstein" and w.p_value is None
    assert w.statistic == pytest.approx(stats.wasserstein_distance(big_ref[:, 0], big_cur[:, 0]) / big_ref[:, 0].std())


def test_only_the_shifted_feature_drifts_and_share_decides_dataset_drift() -> None:
    ref = _normal(1000, 2, 1)
    cur = _normal(200, 2, 2)
    cur[:, 1] += 1.0
    report = drift_report(ref, cur, ["a", "b"], T)
    assert report.drifted_features == ["b"] and report.drift_share == 0.5 and report.dataset_drift
    wide_ref, wide_cur = _normal(1000, 20, 3), _normal(300, 20, 4)
    wide_cur[:, :9] += 1.0
    assert not drift_report(wide_ref, wide_cur, [f"f{i}" for i in range(20)], T).dataset_drift  # 9 of 20 < half
    wide_cur[:, 9] += 1.0
    assert drift_report(wide_ref, wide_cur, [f"f{i}" for i in range(20)], T).dataset_drift


def test_test_is_chosen_by_the_smaller_sample() -> None:
    # A 200-row batch against a 5,000-row reference: the noisy distance is not used.
    assert drift.chosen_test(5000, 200, T) == "ks"
    assert drift.chosen_test(5000, 5000, T) == "wasserstein"
    assert drift.chosen_test(800, 100_000, T) == "ks"


def test_bonferroni_keeps_false_dataset_drift_near_alpha() -> None:
    ref = _normal(1000, 2, 0)
    flagged = [drift_report(ref, _normal(200, 2, seed), ["a", "b"], T).dataset_drift for seed in range(1, 401)]
    rate = float(np.mean(flagged))
    assert rate <= 0.08  # family-wise 5 %; testing each feature at 0.05 would give about 10 %
    uncorrected = np.mean([min(stats.ks_2samp(ref[:, i], _normal(200, 2, s)[:, i]).pvalue for i in (0, 1)) < 0.05 for s in range(1, 401)])
    assert uncorrected > rate


def test_psi_is_zero_for_the_same_sample_and_large_for_a_shift() -> None:
    ref = _normal(5000, 1, 1)[:, 0]
    assert drift.psi(ref, ref) == pytest.approx(0.0, abs=1e-12)
    assert drift.psi(ref, ref + 1.0) > 0.2
    assert np.isfinite(drift.psi(ref, np.full(100, 50.0)))  # every current row in one bin: empty bins floored
    assert drift.psi_status(0.15, T) == "warning" and drift.psi_status(0.25, T) == "drift" and drift.psi_status(0.01, T) == "ok"


def test_psi_matches_its_formula_on_known_bins() -> None:
    ref = np.arange(1000, dtype=float)
    cur = np.concatenate([np.full(50, 10.0), np.full(50, 990.0)])  # half in the first decile, half in the last
    expected = 2 * (0.5 - 0.1) * np.log(0.5 / 0.1) + 8 * (1e-4 - 0.1) * np.log(1e-4 / 0.1)
    assert drift.psi(ref, cur) == pytest.approx(expected)


def test_wilson_upper_bound() -> None:
    assert drift.wilson_upper(50, 100, 0.95) == pytest.approx(0.5815, abs=1e-3)
    assert drift.wilson_upper(50, 100, 0.0) == 0.5
    assert drift.wilson_upper(0, 0, 0.95) == 1.0
