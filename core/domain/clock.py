"""The process's clock for stored timestamps: naive UTC, movable forward for accelerated replays."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd

_clock_offset = timedelta(0)
EPOCH = datetime(1970, 1, 1)  # "since the beginning": where a first cycle reads served predictions from, and counts them
PROCESS_STARTED = time.time()  # imported as the process starts: every module that stores a time needs this one


def process_uptime() -> float:
    """Seconds since this process started; a workspace's own time open is its runtime's (`HealthMonitor.uptime`),
    which a switch starts again. Here, not in core.startup, so the API can read it without importing what starts it."""
    return time.time() - PROCESS_STARTED


def utcnow() -> datetime:
    """Naive UTC: DuckDB TIMESTAMP columns hold UTC without a zone."""
    return datetime.now(UTC).replace(tzinfo=None) + _clock_offset


def advance_clock(seconds: float) -> None:
    """Move every timestamp of the process forward: accelerated replays (the soak benchmark) let a
    week of cycles happen in minutes while retention still sees a week pass."""
    global _clock_offset
    _clock_offset += timedelta(seconds=seconds)


def utc_csv(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A table as a CSV file whose times (the stored naive UTC ones: every datetime column, or those of `columns`) are
    ISO 8601 with their Z, as the API answers them: a naive "2026-12-07 10:00:00" reads as local time elsewhere."""
    times = [c for c in (frame.columns if columns is None else columns) if c in frame and pd.api.types.is_datetime64_any_dtype(frame[c])]
    return frame.assign(**{c: frame[c].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for c in times}).to_csv(index=False)
