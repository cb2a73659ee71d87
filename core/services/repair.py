"""Repairs at start: put back what a killed process left half-done.

A kill -9 can land between any two steps of a retrain, a promotion or an alert: a
challenger whose gate never ran, an MLflow alias that moved while DuckDB's commit
did not, a run left RUNNING, alerts stored but never sent. DuckDB is the system of
record, so MLflow is made to agree with it. Each repair is logged and stored (shown
on Operations), so an operator can see what a restart fixed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from core.domain.outcomes import version_label
from core.store import Store, utcnow

if TYPE_CHECKING:
    from core.io.notify import Notifier
    from core.tracking import Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Repair:
    component: str
    action: str
    detail: str


def repair_at_start(store: Store, tracker: Tracker, notifier: Notifier, replayed: int, alert_max_age: float) -> list[Repair]:
    """Run every repair; returns what was done (already logged and stored)."""
    repairs: list[Repair] = []
    if replayed:
        repairs.append(Repair("predictions", "replayed", f"{replayed} acknowledged predictions written from the journal"))
    repairs += _interrupted_challengers(store)
    repairs += _aliases(store, tracker)
    repairs += _running_runs(tracker)
    repairs += _pending_alerts(store, notifier, alert_max_age)
    for repair in repairs:
        log.warning("repair at start: %s %s: %s", repair.component, repair.action, repair.detail)
        store.add_repair(repair.component, repair.action, repair.detail)
    return repairs


def _interrupted_challengers(store: Store) -> list[Repair]:
    """A challenger at start whose gate a stop interrupted is rejected, with the reason; one that
    passed the gate and waits for approval (policy `approve`) keeps waiting."""
    repairs = []
    waiting = set(store.awaiting_approval())
    for version in (v for v in store.versions_with_status("challenger") if v not in waiting):
        reason = f"gate interrupted: the process stopped before {version_label(version)} was gated; retrain to try again"
        with store.transaction() as tx:
            Store.set_status(tx, version, "rejected")
            store.add_model_event(
                tx,
                {"kind": "repair", "version": version, "previous_champion": store.champion_version(), "promoted": False, "reason": reason},
            )
        repairs.append(Repair("models", "rejected", reason))
    return repairs


def _aliases(store: Store, tracker: Tracker) -> list[Repair]:
    """MLflow's `champion` and `challenger` aliases made equal to DuckDB's statuses."""
    repairs = []
    wanted = {"champion": store.champion_version(), "challenger": next(iter(store.versions_with_status("challenger")), None)}
    for alias, version in wanted.items():
        actual = tracker.alias_version(alias)
        if actual == version:
            continue
        if version is None:
            tracker.delete_alias(alias)
            detail = f"alias {alias} removed from {version_label(actual)}: no {alias} in the workspace"
        else:
            tracker.set_alias(alias, version)
            detail = f"alias {alias} moved from {version_label(actual)} to {version_label(version)}, as the workspace records"
        repairs.append(Repair("mlflow", "alias", detail))
    return repairs


def _running_runs(tracker: Tracker) -> list[Repair]:
    repairs = []
    for run_id in tracker.running_runs():
        tracker.kill_run(run_id)
        repairs.append(Repair("mlflow", "run killed", f"run {run_id} was left RUNNING by a stopped process; closed as KILLED"))
    return repairs


def _pending_alerts(store: Store, notifier: Notifier, max_age: float) -> list[Repair]:
    """Alerts a stop left pending: sent again if younger than `max_age` seconds, else abandoned."""
    pending = store.pending_notifications()
    if not pending:
        return []
    oldest_kept = utcnow() - timedelta(seconds=max_age)
    retried = [p for p in pending if p["created_at"] >= oldest_kept and notifier.configured]
    abandoned = [p for p in pending if p not in retried]
    for alert in retried:
        notifier.resend(alert["notification_id"], alert["payload"])
    for alert in abandoned:
        store.update_notification(alert["notification_id"], delivery="abandoned", error=f"left pending by a stop; older than {max_age:g} s")
    repairs = []
    if retried:
        repairs.append(Repair("alerts", "retried", f"{len(retried)} alerts left pending by a stop queued again"))
    if abandoned:
        repairs.append(Repair("alerts", "abandoned", f"{len(abandoned)} alerts left pending were older than {max_age:g} s (or no webhook)"))
    return repairs
