"""Prometheus metrics of a replica, read from its services at each scrape (as `core.api.metrics` does for the workbench)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from core.domain.outcomes import version_label

if TYPE_CHECKING:
    from core.replica.wiring import Replica


class ReplicaCollector:
    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def collect(self) -> Iterator[Metric]:
        r = self.replica
        follow, sent = r.follower.state(), r.forwarder.state()
        info = GaugeMetricFamily("ia_continu_champion_info", "The model in service", labels=["version", "replica"])
        if follow.version is not None:
            info.add_metric([version_label(follow.version), r.name], 1.0)
        yield info
        yield GaugeMetricFamily("ia_continu_champion_version", "Registry version number of the champion", value=follow.version or 0)
        yield CounterMetricFamily("ia_continu_predictions", "Predictions served by this replica since it started", value=r.served_rows)
        yield CounterMetricFamily("ia_continu_champion_swaps", "New champions swapped in since start", value=follow.swaps)
        yield CounterMetricFamily("ia_continu_forwarded_rows", "Predictions the workbench acknowledged", value=sent.sent_rows)
        yield CounterMetricFamily("ia_continu_forwarded_batches", "Batches the workbench acknowledged", value=sent.sent_batches)
        yield CounterMetricFamily("ia_continu_forward_failures", "Sends that failed (kept and retried)", value=sent.failures)
        yield GaugeMetricFamily("ia_continu_forward_waiting_batches", "Journal segments not yet acknowledged", value=sent.waiting_segments)
        yield GaugeMetricFamily(
            "ia_continu_forward_refused_batches", "Batches the workbench refused as malformed", value=sent.refused_segments
        )
        yield GaugeMetricFamily("ia_continu_registry_ok", "1 when the last registry poll succeeded", value=0.0 if follow.error else 1.0)
