"""Timing helpers shared by the benchmarks: medians of repeated runs and a ratio table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

ROWS: list[tuple[str, str, float, str, float, str]] = []


def median_seconds(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> float:
    """Median wall time of `fn` over `repeat` runs; `setup` runs untimed before each."""
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_medians(
    ours: Callable[[], object], base: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None
) -> tuple[float, float]:
    """Medians of `ours` and `base` run alternately, so both meet the same background load."""
    ours_times, base_times = [], []
    for _ in range(repeat):
        for fn, times in ((ours, ours_times), (base, base_times)):
            if setup:
                setup()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(ours_times), statistics.median(base_times)


def compare(what: str, ours_name: str, ours: float, base_name: str, base: float, target: str) -> None:
    ROWS.append((what, ours_name, ours, base_name, base, target))
    print(f"{what}: ours {fmt(ours)} | {base_name} {fmt(base)} | ratio {ours / base:.2f} | target {target}", flush=True)


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def print_table() -> None:
    print("\n| what | ours (median) | bare baseline (median) | ratio | target |")
    print("|---|---|---|---|---|")
    for what, _ours_name, ours, base_name, base, target in ROWS:
        print(f"| {what} | {fmt(ours)} | {base_name}: {fmt(base)} | {ours / base:.2f} | {target} |")
