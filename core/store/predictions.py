"""The prediction log: bulk appends from the serving flusher, latency views."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.data.table_check import model_input
from core.domain.clock import EPOCH
from core.domain.features import TARGET, inputs_beside
from core.store.base import StoreBase, insert_arrow, quoted, utcnow

BATCH_SOURCES = ("batch", "api-batch", "stream")  # rows of one batch share its latency divided by its size: not a request's latency
SINGLE = f"source NOT IN {BATCH_SOURCES!r}"


LOG_OWN_COLUMNS = (  # the log's own columns, beside the inputs
    "ts",
    "model_version",
    "prediction",
    "confidence",
    "true_label",
    "latency_ms",
    "source",
    "replica",
    "prediction_id",
)


class PredictionQueries(StoreBase):
    def insert_predictions(self, batch: pa.Table, segments: list[str] = ()) -> None:
        """Many predictions at once, and the journal segments they came from marked applied in the
        same transaction, so a replay after a crash never inserts them twice."""
        with self.private_transaction() as tx:
            insert_arrow(tx, "predictions", batch)
            if segments:
                tx.executemany("INSERT INTO journal_applied VALUES (?, ?)", [[s, utcnow()] for s in segments])

    def insert_forwarded(self, replica: str, batch_id: str, batch: pa.Table) -> bool:
        """A replica's batch, stored with the replica named on each row, once: False when this replica's batch of
        that id was stored before (a resend after a lost reply), and nothing is written."""
        with self.private_transaction() as tx:
            if tx.execute("SELECT 1 FROM forwarded_batches WHERE replica = ? AND batch = ?", [replica, batch_id]).fetchone():
                return False
            insert_arrow(tx, "predictions", batch.append_column("replica", pa.array([replica] * batch.num_rows, pa.string())))
            ts = batch.column("ts")
            tx.execute(
                "INSERT INTO forwarded_batches VALUES (?, ?, ?, ?, ?, ?)",
                [replica, batch_id, batch.num_rows, pc.min(ts).as_py(), pc.max(ts).as_py(), utcnow()],
            )
        return True

    def replica_traffic(self) -> pd.DataFrame:
        """Per replica: the batches and predictions it forwarded (those still kept) and when it last did."""
        return self.cur.execute(
            """SELECT replica, count(*) AS batches, sum(n_rows)::BIGINT AS predictions, max(last_ts) AS last_prediction,
                      max(received_at) AS last_received FROM forwarded_batches GROUP BY replica ORDER BY replica"""
        ).df()

    def taken_prediction_ids(self, ids: list[str]) -> list[str]:
        """Which of `ids` the prediction log already holds."""
        table = pa.table({"prediction_id": pa.array(ids, type=pa.string())})
        with closing(self._conn.cursor()) as cur:  # its own cursor: registering on a busy shared one fails
            cur.register("_ids", table)
            sql = "SELECT prediction_id FROM predictions WHERE prediction_id IN (SELECT prediction_id FROM _ids)"
            return [row[0] for row in cur.execute(sql).fetchall()]

    def applied_segments(self) -> set[str]:
        return {row[0] for row in self.cur.execute("SELECT segment FROM journal_applied").fetchall()}

    def forget_segments(self, segments: list[str]) -> None:
        """Once a segment's file is deleted its mark is no longer needed."""
        if segments:
            with self.private_transaction() as tx:
                tx.executemany("DELETE FROM journal_applied WHERE segment = ?", [[s] for s in segments])

    def recent_predictions(self, limit: int = 100) -> pd.DataFrame:
        """The newest logged predictions, what was served and its label first (after a table's 14 inputs they were
        off-screen, tour 19), their inputs under the names the user gave the columns (one named like a
        column of the log's own shown as "name (input)") and the class as written; a batch's rows, which share a time,
        in the order they were sent."""
        names = inputs_beside(self.schema.names, LOG_OWN_COLUMNS).values()
        features = ", ".join(f"{s} AS {quoted(n)}" for s, n in zip(self.features, names, strict=True))
        frame = self.cur.execute(
            f"""SELECT p.ts, p.model_version, p.prediction, p.confidence, f.label AS true_label, {features}, p.latency_ms, p.source,
                       p.replica, p.prediction_id
                FROM (SELECT *, rowid AS logged FROM predictions ORDER BY ts DESC, rowid LIMIT ?) p LEFT JOIN feedback f USING (prediction_id)
                ORDER BY p.ts DESC, p.logged""",
            [limit],
        ).df()
        classes = np.array(self.schema.classes, dtype=object)
        frame["prediction"] = classes[frame["prediction"].to_numpy(dtype=np.int64)]
        labelled = frame["true_label"].notna().to_numpy()
        frame["true_label"] = np.where(labelled, classes[np.where(labelled, frame["true_label"].fillna(0), 0).astype(np.int64)], None)
        return frame

    def latency_percentiles(self, since: datetime | None = None) -> dict[str, float | None]:
        """Rows logged, and the latency percentiles of single requests only (`single` of them)."""
        row = self.cur.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE {SINGLE}), quantile_cont(latency_ms, 0.5) FILTER (WHERE {SINGLE}),
                       quantile_cont(latency_ms, 0.95) FILTER (WHERE {SINGLE}) FROM predictions WHERE ts >= ?""",
            [since or EPOCH],
        ).fetchone()
        return {"count": row[0], "single": row[1], "p50_ms": row[2], "p95_ms": row[3]}

    def prediction_features_since(self, since: datetime, until: datetime, labels_until: int, limit: int) -> np.ndarray | pd.DataFrame:
        """Inputs served for prediction in (since, until] whose label had not arrived by sample `labels_until` (those
        are read as labelled rows): the label-free data a cycle's drift test reads besides its samples."""
        arrays = self._served_unlabelled(", ".join(self.features), since, until, labels_until, limit).fetchnumpy()
        return model_input(arrays, self.schema, self.features)

    def served_inputs(self, since: datetime, until: datetime, labels_until: int, limit: int) -> pd.DataFrame:
        """The same rows as a past cycle read them, under the user's names (the target empty): a label that came
        after sample `labels_until` (the cycle's last) leaves its row where the test saw it."""
        features = ", ".join(f"{s} AS {quoted(n)}" for s, n in zip(self.features, self.schema.names, strict=True))
        return self._served_unlabelled(f"{features}, NULL::TINYINT AS {TARGET}", since, until, labels_until, limit).df()

    def _served_unlabelled(
        self, columns: str, since: datetime, until: datetime, labels_until: int, limit: int
    ) -> duckdb.DuckDBPyConnection:
        """One query and one cut-off for both readers, so what the charts re-read is what the test read: a label
        stored while the cycle ran, after its last sample, leaves its row among the unlabelled ones in both."""
        return self.cur.execute(
            f"""SELECT {columns} FROM predictions p WHERE ts > ? AND ts <= ? AND NOT EXISTS
                (SELECT 1 FROM feedback f WHERE f.prediction_id = p.prediction_id AND f.sample_id <= ?) ORDER BY ts DESC LIMIT ?""",
            [since, until, labels_until, limit],
        )

    def latency_history(self, max_points: int = 200) -> pd.DataFrame:
        """Single-request count and latency p50/p95 per time bucket (batch rows excluded, as above)."""
        return self.cur.execute(
            f"""WITH p AS (SELECT ts, latency_ms, ntile(?) OVER (ORDER BY ts) AS bucket FROM predictions WHERE {SINGLE})
               SELECT min(ts) AS ts, count(*) AS predictions, quantile_cont(latency_ms, 0.5) AS p50_ms,
                      quantile_cont(latency_ms, 0.95) AS p95_ms
               FROM p GROUP BY bucket ORDER BY ts""",
            [max_points],
        ).df()
