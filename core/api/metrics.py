"""Prometheus metrics for `/metrics`, read from the runtime at each scrape (prometheus-client).

A custom collector rather than process-global counters: every value comes from the
store or the live services when Prometheus asks, so a restart, the dashboard's
actions and the API's all show, and there is nothing to keep in step.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from core.domain.clock import process_uptime
from core.domain.outcomes import LoopState, version_label

if TYPE_CHECKING:
    from core.runtime import Runtime

LATENCY_BUCKETS_MS = (0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0)


class RuntimeCollector:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        rt, facts = self.rt, self.rt.insights.metric_facts(LATENCY_BUCKETS_MS)
        champion = rt.models.champion_version
        info = GaugeMetricFamily("ia_continu_champion_info", "The model in service", labels=["version"])
        if champion is not None:
            info.add_metric([version_label(champion)], 1.0)
        yield info
        yield GaugeMetricFamily("ia_continu_champion_version", "Registry version number of the champion", value=champion or 0)
        last = rt.insights.last_cycle() or {}
        for name, key, help_text in (
            ("holdout_accuracy", "champion_holdout_accuracy", "Champion accuracy on its holdout"),
            ("realised_accuracy", "realised_accuracy", "Champion accuracy on the newest labelled batch"),
            ("estimated_accuracy", "estimated_accuracy", "Label-free estimate on the newest batch (calibrated CBPE)"),
            ("drift_share", "drift_share", "Share of the newest cycle's drift tests that flagged (columns; a table's class shares too)"),
            ("labelled_rows", "labelled_rows", "Labels that arrived in the newest cycle, of every version's predictions"),
            ("realised_rows", "realised_rows", "Labels the newest cycle's realised accuracy rests on (the champion's own)"),
            ("label_coverage", "label_coverage", "Labels that arrived per row served in the newest cycle"),
            ("label_delay_p50_seconds", "label_delay_p50_s", "Median delay of the labels of served predictions, newest cycle"),
            ("label_delay_p90_seconds", "label_delay_p90_s", "90th percentile of that delay, newest cycle"),
        ):
            if last.get(key) is not None:
                yield GaugeMetricFamily(f"ia_continu_{name}", help_text, value=float(last[key]))
        yield from _loop_metrics(rt.loop.status())
        cycles = CounterMetricFamily("ia_continu_cycles", "Monitoring cycles by status and decision", labels=["status", "decision"])
        for status, decision, n in facts["cycles"]:
            cycles.add_metric([status, decision], n)
        yield cycles
        yield CounterMetricFamily("ia_continu_retrains", "Versions the loop trained and registered (a retrain's, a challenge's)",
                                  value=facts["retrains"])  # fmt: skip
        yield CounterMetricFamily("ia_continu_promotions", "Promotions over a champion (gate, approval, rollback, by hand)",
                                  value=facts["promotions"])  # fmt: skip
        yield GaugeMetricFamily("ia_continu_awaiting_approval", "Challengers that passed the gate and wait for a person (policy approve)",
                                value=len(rt.models.awaiting_approval()))  # fmt: skip
        yield CounterMetricFamily("ia_continu_predictions", "Predictions logged", value=facts["predictions"])
        yield HistogramMetricFamily(
            "ia_continu_prediction_latency_ms", "Prediction latency in milliseconds (per row of a batch)",
            buckets=[(f"{b:g}", c) for b, c in facts["latency_buckets"]] + [("+Inf", facts["predictions"])],
            sum_value=facts["latency_sum"],
        )  # fmt: skip
        alerts = CounterMetricFamily("ia_continu_alerts", "Alerts by delivery status", labels=["delivery"])
        for delivery, n in facts["alerts"]:
            alerts.add_metric([delivery], n)
        yield alerts
        yield GaugeMetricFamily("ia_continu_uptime_seconds", "Seconds since the workspace's runtime started (a switch starts it again)",
                                value=rt.health.uptime())  # fmt: skip
        yield GaugeMetricFamily("ia_continu_process_uptime_seconds", "Seconds since the server process started", value=process_uptime())


def _loop_metrics(state: LoopState) -> Iterator[Metric]:
    """What a Prometheus user alerts on (`ia_continu_loop_failing == 1`), from the state every door reads."""
    streak = state.failing
    yield GaugeMetricFamily("ia_continu_loop_failing", "1 while the newest cycles fail (or cannot be stored), else 0",
                            value=0.0 if state.ok else 1.0)  # fmt: skip
    yield GaugeMetricFamily("ia_continu_loop_failed_cycles_in_a_row", "Cycles that failed in a row up to the newest",
                            value=streak.cycles if streak else 0)  # fmt: skip
    yield GaugeMetricFamily("ia_continu_loop_unstored_cycles", "Cycles kept in memory because the store refuses writes",
                            value=state.unstored)  # fmt: skip
    if streak is not None:
        yield GaugeMetricFamily("ia_continu_loop_failing_since_seconds", "Unix time of the first failed cycle of the current streak",
                                value=streak.since.replace(tzinfo=UTC).timestamp())  # fmt: skip


def exposition(rt: Runtime) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(rt))
    return generate_latest(registry), CONTENT_TYPE_LATEST
