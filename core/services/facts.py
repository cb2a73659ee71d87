"""The stored facts the doors show, each read typed: models, datasets, cycles, drift, predictions, alerts, health.

Each is one query of the store (`core.store`); `Insights` adds the views assembled from several. The pages
cache them by `data_version`, the API and the metrics read them at each request.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from core.domain.outcomes import VersionLabels
from core.store import Store


class StoredFacts:
    store: Store

    def data_version(self) -> tuple:
        """Changes whenever stored data does: the dashboard's cache key."""
        return self.store.data_version()

    # models
    def models(self) -> pd.DataFrame:
        return self.store.models()

    def model(self, version: int) -> dict | None:
        return self.store.model(version)

    def evaluation(self, version: int) -> dict | None:
        return self.store.evaluation(version)

    def model_events(self, limit: int = 200) -> pd.DataFrame:
        return self.store.model_events(limit)

    def realised_by_version(self, version: int | None = None) -> list[VersionLabels]:
        return self.store.realised_by_version(version)

    def realised_of(self, version: int) -> VersionLabels:
        """Every label received for `version`'s served predictions and how many it got right (none: 0 labels)."""
        found = self.store.realised_by_version(version)
        return found[0] if found else VersionLabels(version, 0, 0)

    # datasets
    def datasets(self) -> pd.DataFrame:
        return self.store.datasets()

    def dataset_frame(self, dataset_id: int, limit: int | None = None) -> pd.DataFrame:
        return self.store.dataset_frame(dataset_id, limit)

    def dataset_summary(self, dataset_id: int) -> pd.DataFrame:
        return self.store.dataset_summary(dataset_id)

    def sample_features(self, first_sample_id: int, last_sample_id: int, max_rows: int, seed: int = 0) -> pd.DataFrame:
        return self.store.sample_features(first_sample_id, last_sample_id, max_rows, seed)

    def class_balance(self, first_sample_id: int, last_sample_id: int) -> dict[int, int]:
        return self.store.class_balance(first_sample_id, last_sample_id)

    # cycles and drift
    def cycles(self, limit: int = 100) -> pd.DataFrame:
        return self.store.cycles(limit)

    def waiting_reason(self, version: int) -> str | None:
        """Why `version` waits for approval: its gate's words (the figures it passed on, the champion it was judged
        against). The approval panel showed a name and two buttons, beside a registry where it looked worse (tour 22)."""
        events = self.store.model_events_of(version)
        waits = events[events["kind"] == "awaiting"]
        return None if waits.empty else str(waits["reason"].iloc[-1])

    def latest_cycles(self, limit: int = 10) -> pd.DataFrame:
        """The newest cycles for a table to read, a run of cycles in a row with no new data as one row whose verdict says
        how many and which (`Store.cycles_idle_runs`)."""
        cycles = self.store.cycles_idle_runs(limit)
        runs = cycles["idle_cycles"].fillna(1) > 1
        cycles.loc[runs, "verdict"] = [f"Cycles {int(row.idle_from)}–{row.cycle_id}, {int(row.idle_cycles):,} in a row: {row.verdict}"
                                       for row in cycles[runs].itertuples()]  # fmt: skip
        return cycles

    def cycles_page(self, limit: int, offset: int) -> pd.DataFrame:
        return self.store.cycles_page(limit, offset)

    def cycle_ids(self, limit: int = 500) -> list[int]:
        return self.store.cycle_ids(limit)

    def last_cycle(self) -> dict | None:
        return self.store.last_cycle()

    def cycle_verdict(self, cycle_id: int) -> str | None:
        """The verdict a cycle stored: which signal fired, what it means and what it cannot see."""
        return self.store.cycle_verdict(cycle_id)

    def drift_results(self, cycle_id: int | None = None) -> pd.DataFrame:
        return self.store.drift_results(cycle_id)

    def accuracy_history(self, max_points: int = 400) -> pd.DataFrame:
        return self.store.accuracy_history(max_points)

    def drift_history(self, max_points: int = 300) -> pd.DataFrame:
        return self.store.drift_history(max_points)

    # predictions
    def recent_predictions(self, limit: int = 100) -> pd.DataFrame:
        return self.store.recent_predictions(limit)

    def latency_history(self, max_points: int = 200) -> pd.DataFrame:
        return self.store.latency_history(max_points)

    def latency_percentiles(self, since: datetime | None = None) -> dict[str, float | None]:
        return self.store.latency_percentiles(since)

    def replica_traffic(self) -> pd.DataFrame:
        return self.store.replica_traffic()

    # operations
    def notifications(self, limit: int = 100) -> pd.DataFrame:
        return self.store.notifications(limit)

    def availability(self, max_points: int = 200) -> pd.DataFrame:
        return self.store.availability(max_points)

    def repairs(self, limit: int = 100) -> pd.DataFrame:
        return self.store.repairs(limit)

    def archives(self, limit: int = 100) -> pd.DataFrame:
        return self.store.archives(limit)

    def metric_facts(self, latency_buckets_ms: tuple[float, ...]) -> dict:
        return self.store.metric_facts(latency_buckets_ms)
