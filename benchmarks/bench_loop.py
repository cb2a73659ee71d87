"""Loop benchmarks: the drift report beside bare scipy calls, and a full cycle split by step.

Run: .venv/bin/python -m benchmarks.bench_loop
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

from benchmarks.timing import compare, fmt, paired_medians, print_table
from core.config import Settings
from core.runtime import Runtime
from core.stats.drift import DriftThresholds, drift_report


def bare_report(reference: np.ndarray, current: np.ndarray) -> None:
    """The same statistics with plain calls: KS, Wasserstein / std and a histogram PSI per feature."""
    for i in range(reference.shape[1]):
        ref, cur = reference[:, i], current[:, i]
        stats.ks_2samp(ref, cur)
        stats.wasserstein_distance(ref, cur) / ref.std()
        edges = np.quantile(ref, np.linspace(0, 1, 11))
        edges[0], edges[-1] = -np.inf, np.inf
        r = np.maximum(np.histogram(ref, edges)[0] / len(ref), 1e-4)
        c = np.maximum(np.histogram(cur, edges)[0] / len(cur), 1e-4)
        np.sum((c - r) * np.log(c / r))


def bench_drift(n_features: int) -> None:
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((100_000, n_features))
    current = rng.standard_normal((100_000, n_features)) + 0.05
    names = [f"feature_{i}" for i in range(1, n_features + 1)]
    ours, base = paired_medians(
        lambda: drift_report(reference, current, names, DriftThresholds()), lambda: bare_report(reference, current), 7
    )
    what = f"drift report, 100,000 vs 100,000 rows, {n_features} features"
    compare(what, "core.stats.drift", ours, "bare scipy/numpy calls", base, "ratio <= 1.3")


def bench_cycle() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {}, data_dir=Path(tmp), scheduler_autostart=False, log_level="WARNING", policy="never", api_enabled=False
        )
        rt = Runtime(settings)
        try:
            for _ in range(3):
                rt.loop.run_cycle()  # warm: reference sampled, model loaded
            records = [rt.loop.run_cycle() for _ in range(30)]
        finally:
            rt.close()
    totals = [(r.ended_at - r.started_at).total_seconds() for r in records]
    steps = [json.loads(r.step_ms) for r in records]
    split = ", ".join(f"{name} {statistics.median(s[name] for s in steps):.1f} ms" for name in steps[0])
    print(f"full cycle (200-row batch, no retrain): median {fmt(statistics.median(totals))}; by step: {split}", flush=True)


def main() -> None:
    logging.disable(logging.INFO)
    bench_drift(2)
    bench_drift(20)
    bench_cycle()
    print_table()


if __name__ == "__main__":
    main()
