"""Soak: an accelerated week at the default stream size, with retention, on one workspace.

20,160 cycles (a week at the default 30 s interval) run back to back while the process
clock advances 30 s per cycle, so retention sees a week pass. Each cycle also serves 10
single predictions and every other cycle stores a health record. Per simulated day it
prints the DuckDB and Parquet sizes, the median cycle time beside a bare baseline (the
same day's median of a raw `scipy.stats.ks_2samp` on the same batch shapes), the
Overview and Drift render times (AppTest, server side) and RSS.

Retention is set to one day for every kind here (the defaults keep 2 to 14 days), so the
bounded size shows inside the week.

Run: .venv/bin/python -m benchmarks.bench_soak [--days 7] [--cycles-per-day 2880]   (about 20 minutes for a week)
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

from core.config import Settings
from core.domain.clock import advance_clock
from core.runtime import get_runtime

ROOT = Path(__file__).resolve().parent.parent
RETENTION_DAYS = 1.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20 if folder.exists() else 0.0


def render_seconds(at: object, page: str) -> float:
    start = time.perf_counter()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--cycles-per-day", type=int, default=2880)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
            del os.environ[key]
        os.environ.update(IA_DATA_DIR=str(data), IA_SCHEDULER_AUTOSTART="false", IA_API_ENABLED="false")
        days = {f"retain_{k}_days": RETENTION_DAYS for k in ("stream", "predictions", "cycles", "health")}
        rt = get_runtime(Settings.from_env(log_level="ERROR", **days))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        rng = np.random.default_rng(0)
        reference = rng.standard_normal(2000)
        errors, first_day = 0, None
        print(
            "| day | cycles | DuckDB MB | WAL MB | Parquet MB | cycle p50 ms | bare KS p50 ms | Overview s | Drift s | RSS MB |", flush=True
        )
        print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
        for day in range(1, args.days + 1):
            cycle_ms, bare_ms = [], []
            for i in range(args.cycles_per_day):
                advance_clock(30.0)
                start = time.perf_counter()
                record = rt.loop.run_cycle("schedule")
                cycle_ms.append((time.perf_counter() - start) * 1000)
                errors += record.status == "error"
                start = time.perf_counter()
                for feature in range(rt.store.n_features):
                    stats.ks_2samp(reference, rng.standard_normal(200) + feature)
                bare_ms.append((time.perf_counter() - start) * 1000)
                for k in range(10):
                    rt.serving.predict([float(k % 5), float(i % 3)])
                if i % 2 == 0:
                    rt.health.record()
                if i % 20 == 0:  # every 600 simulated seconds, as IA_RETENTION_INTERVAL
                    rt.loop.run_maintenance()
            rt.serving.flush()
            gc.collect()
            overview, drift = render_seconds(at, "overview"), render_seconds(at, "drift")
            sizes = rt.store.file_sizes()
            row = (
                day, day * args.cycles_per_day, sizes["duckdb"] / 2**20, sizes["wal"] / 2**20, folder_mb(data / "archive"),
                statistics.median(cycle_ms), statistics.median(bare_ms), overview, drift, rss_mb(),
            )  # fmt: skip
            first_day = first_day or row
            print("| {} | {:,} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.2f} | {:.2f} | {:.2f} | {:.0f} |".format(*row), flush=True)
        last = row
        print(
            f"\nerrors: {errors}; cycle time last/first day {last[5] / first_day[5]:.2f}x (target <= 1.2); "
            f"Overview {last[7] / first_day[7]:.2f}x, Drift {last[8] / first_day[8]:.2f}x (target <= 1.2); "
            f"RSS day {args.days} / day 1 {last[9] / first_day[9]:.2f}x (target <= 1.1); "
            f"cycle / bare KS {last[5] / last[6]:.1f}x",
            flush=True,
        )
        rt.close()


if __name__ == "__main__":
    main()
