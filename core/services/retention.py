"""Retention: a workspace that runs for months stays the size its settings say.

Old stream samples, predictions, cycles (with their drift rows and sent alerts) and
health records are archived to Parquet under `<data dir>/archive/` and then deleted, a
whole UTC day at a time (one file per kind and day, however often the job runs);
model versions beyond the kept count lose their artifact files (the champion, the
challenger and the newest IA_KEEP_MODEL_VERSIONS keep theirs); the WAL is folded into
the database file. Library datasets (generated, imported, starter) are never pruned:
they are the user's. Samples that models in service still read are kept.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.config import Settings
from core.domain.faults import FaultBoard, component_of
from core.store import Store, utcnow

if TYPE_CHECKING:
    from core.tracking import Tracker

log = logging.getLogger(__name__)


def apply_retention(store: Store, tracker: Tracker | None, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """One retention pass; returns the rows (or versions) moved per kind. Raises on a failed write,
    leaving the rows of that kind where they were."""
    # Whole UTC days only: one Parquet file per kind and day, however often the job runs.
    now = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    folder = settings.data_dir / "archive"
    moved: dict[str, int] = {}
    if settings.retain_stream_days:
        cutoff = now - timedelta(days=settings.retain_stream_days)
        last = store.stream_cutoff_sample(cutoff)
        moved["samples"] = store.archive_stream_samples(last, store.protected_ranges(), cutoff, folder) if last else 0
    for table, days in (("predictions", settings.retain_predictions_days), ("feedback", settings.retain_predictions_days),
                        ("forwarded_batches", settings.retain_predictions_days), ("health_checks", settings.retain_health_days)):  # fmt: skip
        if days:
            moved[table] = store.archive_aged(table, now - timedelta(days=days), folder)
    if settings.retain_cycles_days:
        cutoff = now - timedelta(days=settings.retain_cycles_days)
        moved["cycles"] = store.archive_cycles(cutoff, folder)
        moved["notifications"] = store.archive_aged("notifications", cutoff, folder)
    if settings.keep_model_versions and tracker is not None:
        moved["model_versions"] = _prune_versions(store, tracker, settings.keep_model_versions)
    store.checkpoint()
    if any(moved.values()):
        log.info("retention: %s", ", ".join(f"{k} {v:,}" for k, v in moved.items() if v))
    return moved


def run_maintenance(store: Store, tracker: Tracker, settings: Settings, cycle_lock: threading.Lock, faults: FaultBoard) -> dict[str, int]:
    """Retention and a checkpoint, between cycles (a cycle reads the samples retention may delete): the worker's
    periodic job and POST /maintenance alike. A failure is put on the fault board under its component, then raised."""
    with cycle_lock:
        try:
            return apply_retention(store, tracker, settings)
        except Exception as exc:
            faults.failed(component_of(exc), exc)
            raise


def _prune_versions(store: Store, tracker: Tracker, keep: int) -> int:
    versions = store.prunable_versions(keep)
    for version in versions:
        detail = tracker.prune_version(version)
        store.mark_pruned(version)
        log.info("version %s pruned: %s", version, detail)
    return len(versions)
