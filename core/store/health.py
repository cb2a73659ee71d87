"""Health records and the workspace-wide views (counts, data version)."""

from __future__ import annotations

import pandas as pd

from core.store.base import StoreBase, insert_row, utcnow


class HealthQueries(StoreBase):
    def insert_health(self, record: dict) -> None:
        with self.transaction() as tx:
            insert_row(tx, "health_checks", record)

    def health_history(self, limit: int = 500) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM health_checks ORDER BY ts DESC LIMIT ?", [limit]).df()

    def availability(self, max_points: int = 200) -> pd.DataFrame:
        """Share of healthy records per time bucket."""
        return self.cur.execute(
            """WITH h AS (SELECT *, ntile(?) OVER (ORDER BY ts) AS bucket FROM health_checks)
               SELECT min(ts) AS ts, avg(healthy::INTEGER) AS availability, count(*) AS checks,
                      avg(duckdb_ok::INTEGER) AS duckdb, avg(mlflow_ok::INTEGER) AS mlflow,
                      avg(champion_ok::INTEGER) AS champion, avg(worker_ok::INTEGER) AS worker
               FROM h GROUP BY bucket ORDER BY ts""",
            [max_points],
        ).df()

    def data_version(self) -> tuple:
        """Changes whenever the loop or a user writes something a page shows; keys the UI's caches."""
        return self.cur.execute(
            """SELECT (SELECT coalesce(max(cycle_id), 0) FROM cycles), (SELECT count(*) FROM models),
                      (SELECT coalesce(max(promoted_at), TIMESTAMP '1970-01-01') FROM models),
                      (SELECT coalesce(max(dataset_id), 0) FROM datasets), (SELECT count(*) FROM predictions),
                      (SELECT coalesce(sum(hash(dataset_id, name, tags)), 0) FROM datasets WHERE source <> 'stream'),
                      (SELECT coalesce(max(notification_id), 0) FROM notifications),
                      (SELECT count(*) FILTER (WHERE delivery = 'pending') FROM notifications), (SELECT count(*) FROM health_checks),
                      (SELECT count(*) FROM feedback), (SELECT max(coalesce(corrected_at, received_at)) FROM feedback)"""
        ).fetchone()

    # overview -------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """What is stored, with the incoming part of datasets and samples: a replay's rows are stored twice (its
        library source, and the incoming copies the stream made of them), counted apart as `replayed_samples`."""
        row = self.cur.execute(
            """SELECT (SELECT count(*) FROM datasets), (SELECT count(*) FROM samples),
                      (SELECT count(*) FROM models), (SELECT count(*) FROM predictions),
                      (SELECT count(*) FROM datasets WHERE role = 'incoming'),
                      (SELECT count(*) FROM samples WHERE dataset_id IN (SELECT dataset_id FROM datasets WHERE role = 'incoming')),
                      (SELECT count(*) FROM samples WHERE replay_of IS NOT NULL)"""
        ).fetchone()
        names = ("datasets", "samples", "models", "predictions", "incoming_datasets", "incoming_samples", "replayed_samples")
        return dict(zip(names, row, strict=True))

    # repairs made at start ---------------------------------------------------------------
    def add_repair(self, component: str, action: str, detail: str) -> None:
        with self.transaction() as tx:
            insert_row(tx, "repairs", {"ts": utcnow(), "component": component, "action": action, "detail": detail})

    def repairs(self, limit: int = 100) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM repairs ORDER BY repair_id DESC LIMIT ?", [limit]).df()

    def metric_facts(self, latency_buckets_ms: tuple[float, ...]) -> dict:
        """Counts for the Prometheus exposition, each read from the tables in one place."""
        cur = self.cur
        buckets = ", ".join(f"count(*) FILTER (WHERE latency_ms <= {float(b)})" for b in latency_buckets_ms)
        latency = cur.execute(f"SELECT count(*), coalesce(sum(latency_ms), 0), {buckets} FROM predictions").fetchone()
        return {
            "cycles": cur.execute("SELECT status, decision, count(*) FROM cycles GROUP BY ALL ORDER BY ALL").fetchall(),
            # the versions the loop registered, a retrain's or a challenge's; promotions over a champion (not the starter's
            # gate): "retrains 3" beside eleven versions the loop had trained (tour 22)
            "retrains": cur.execute("SELECT count(*) FROM cycles WHERE new_version IS NOT NULL").fetchone()[0],
            "promotions": cur.execute("SELECT count(*) FROM model_events WHERE promoted AND previous_champion IS NOT NULL").fetchone()[0],
            "predictions": latency[0],
            "latency_sum": float(latency[1]),
            "latency_buckets": list(zip(latency_buckets_ms, latency[2:], strict=True)),
            "alerts": cur.execute("SELECT delivery, count(*) FROM notifications GROUP BY ALL ORDER BY ALL").fetchall(),
        }
