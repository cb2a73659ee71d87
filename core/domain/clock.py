"""The process's clock for stored timestamps: naive UTC, movable forward for accelerated replays."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_clock_offset = timedelta(0)
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
