"""The process's clock for stored timestamps: naive UTC, movable forward for accelerated replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_clock_offset = timedelta(0)


def utcnow() -> datetime:
    """Naive UTC: DuckDB TIMESTAMP columns hold UTC without a zone."""
    return datetime.now(UTC).replace(tzinfo=None) + _clock_offset


def advance_clock(seconds: float) -> None:
    """Move every timestamp of the process forward: accelerated replays (the soak benchmark) let a
    week of cycles happen in minutes while retention still sees a week pass."""
    global _clock_offset
    _clock_offset += timedelta(seconds=seconds)
