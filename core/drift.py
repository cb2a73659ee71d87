"""Statistical drift tests and drift reports (pure numpy/scipy).

Per feature, following Evidently's defaults with two corrections:

- Kolmogorov-Smirnov when the smaller sample has at most `ks_max_rows` rows, with a
  Bonferroni correction over the features (Evidently tests each feature at 0.05 and
  so flags false drift on wide data).
- Otherwise the Wasserstein distance divided by the reference standard deviation,
  drift at >= 0.1. Evidently picks the test by the reference size alone; we pick it
  by the smaller sample, because the distance is noisy on small batches: with a
  200-row batch against a 2,000-row reference from the same distribution it exceeds
  0.1 in about a third of batches, while KS at 0.05 errs in 5 % of them.

PSI (10 quantile bins of the reference, empty bins floored at 1e-4) is reported
beside the verdict: >= 0.2 drift, >= 0.1 warning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

PSI_BINS = 10
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class DriftThresholds:
    ks_alpha: float = 0.05
    ks_max_rows: int = 1000
    wasserstein: float = 0.1
    psi_drift: float = 0.2
    psi_warning: float = 0.1
    drift_share: float = 0.5


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    psi: float
    psi_status: str


@dataclass(frozen=True)
class DriftReport:
    features: list[FeatureDrift]
    drift_share: float
    dataset_drift: bool
    n_reference: int
    n_current: int

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def rows(self) -> list[dict]:
        return [{**asdict(f), "n_reference": self.n_reference, "n_current": self.n_current} for f in self.features]


def ks_test(reference: np.ndarray, current: np.ndarray, alpha: float) -> tuple[float, float, bool]:
    """Two-sample KS: (statistic, p-value, drifted at `alpha`)."""
    result = stats.ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue), bool(result.pvalue < alpha)


def normalised_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """Earth mover's distance in units of the reference standard deviation."""
    scale = float(np.std(reference)) or 1.0
    return float(stats.wasserstein_distance(reference, current)) / scale


def psi(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    """Population stability index over quantile bins of the reference."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / reference.shape[0]
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1) / current.shape[0]
    ref_share = np.maximum(ref_share, PSI_FLOOR)
    cur_share = np.maximum(cur_share, PSI_FLOOR)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def psi_status(value: float, thresholds: DriftThresholds) -> str:
    if value >= thresholds.psi_drift:
        return "drift"
    return "warning" if value >= thresholds.psi_warning else "ok"


def chosen_test(n_reference: int, n_current: int, thresholds: DriftThresholds) -> str:
    return "ks" if min(n_reference, n_current) <= thresholds.ks_max_rows else "wasserstein"


def drift_report(reference: np.ndarray, current: np.ndarray, names: list[str], thresholds: DriftThresholds) -> DriftReport:
    """Test every feature of `current` against `reference`; dataset drift by the share drifted."""
    n_ref, n_cur = reference.shape[0], current.shape[0]
    test = chosen_test(n_ref, n_cur, thresholds)
    alpha = thresholds.ks_alpha / len(names)
    results = []
    for i, name in enumerate(names):
        ref, cur = reference[:, i], current[:, i]
        if test == "ks":
            statistic, p_value, drifted = ks_test(ref, cur, alpha)
            threshold = alpha
        else:
            statistic, p_value, threshold = normalised_wasserstein(ref, cur), None, thresholds.wasserstein
            drifted = statistic >= threshold
        value = psi(ref, cur)
        results.append(FeatureDrift(name, test, statistic, p_value, threshold, drifted, value, psi_status(value, thresholds)))
    share = sum(r.drifted for r in results) / len(results)
    return DriftReport(results, share, share >= thresholds.drift_share, n_ref, n_cur)


def wilson_upper(successes: int, n: int, confidence: float) -> float:
    """One-sided upper bound of a proportion (Wilson score), used to call accuracy drops real."""
    if n == 0:
        return 1.0
    if confidence <= 0:
        return successes / n
    z = float(stats.norm.ppf(confidence))
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(min(1.0, (centre + spread) / (1 + z * z / n)))
