"""Retention: archive old rows to Parquet (DuckDB `COPY ... TO`), then delete them, in one transaction.

Nothing disappears unarchived: the delete runs only after the copy succeeded, in the
same transaction, so a failure (a full disk) leaves the rows where they were.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from core.errors import plain_fault
from core.store.base import StoreBase, insert_row, utcnow

log = logging.getLogger(__name__)

# table -> (timestamp column, extra condition); the condition keeps undelivered alerts.
AGED = {
    "predictions": ("ts", ""),
    "feedback": ("predicted_at", ""),  # a label goes with its prediction: a later one for it is answered "expired"
    "forwarded_batches": ("received_at", ""),  # a replica's resend of a batch is answered from here while its rows are kept
    "health_checks": ("ts", ""),
    "notifications": ("created_at", " AND delivery <> 'pending'"),
}


def _literal(ts: datetime) -> str:
    """Our own timestamp as a SQL literal: COPY's inner query takes no bound parameters."""
    return f"TIMESTAMP '{ts.isoformat(sep=' ')}'"


def _path_literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class RetentionQueries(StoreBase):
    def archive_aged(self, table: str, cutoff: datetime, folder: Path) -> int:
        """Archive and delete the rows of `table` older than `cutoff`; returns the rows moved."""
        column, extra = AGED[table]
        return self._archive([(table, f"{column} < {_literal(cutoff)}{extra}")], cutoff, folder)

    def archive_cycles(self, cutoff: datetime, folder: Path) -> int:
        """Cycles older than `cutoff`, with their per-feature drift rows; returns the cycles moved."""
        where = f"started_at < {_literal(cutoff)}"
        pairs = [("drift_results", f"cycle_id IN (SELECT cycle_id FROM cycles WHERE {where})"), ("cycles", where)]
        return self._archive(pairs, cutoff, folder, counted="cycles")

    def stream_cutoff_sample(self, cutoff: datetime) -> int | None:
        """The newest sample id a cycle had read before `cutoff`: stream rows up to it are that old."""
        return self.cur.execute("SELECT max(last_sample_id) FROM cycles WHERE started_at < ?", [cutoff]).fetchone()[0]

    def archive_stream_samples(self, last_sample_id: int, protected: list[tuple[int, int]], cutoff: datetime, folder: Path) -> int:
        """Stream samples up to `last_sample_id`, except those in `protected` id ranges (the windows and
        references of models in service); stream datasets shrink to what is left, or go."""
        keep = " ".join(f"AND sample_id NOT BETWEEN {int(a)} AND {int(b)}" for a, b in protected)
        where = f"sample_id <= {int(last_sample_id)} {keep} AND dataset_id IN (SELECT dataset_id FROM datasets WHERE source = 'stream')"
        return self._archive([("samples", where)], cutoff, folder, after=_SHRINK_STREAM_DATASETS)

    def _archive(self, pairs: list[tuple[str, str]], cutoff: datetime, folder: Path, counted: str = "", after: tuple[str, ...] = ()) -> int:
        """Copy each (table, condition) to a Parquet file, then delete it, all in one transaction."""
        moved: dict[str, int] = {}
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        with self.transaction() as tx:
            for table, condition in pairs:
                n = tx.execute(f"SELECT count(*) FROM {table} WHERE {condition}").fetchone()[0]
                moved[table] = n
                if not n:
                    continue
                path = folder / table / f"{table}_{stamp}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                tx.execute(f"COPY (SELECT * FROM {table} WHERE {condition}) TO {_path_literal(path)} (FORMAT parquet)")
                tx.execute(f"DELETE FROM {table} WHERE {condition}")
                insert_row(tx, "archives", {"ts": utcnow(), "kind": table, "path": str(path), "n_rows": n, "cutoff": cutoff, "detail": ""})
            if any(moved.values()):
                for statement in after:
                    tx.execute(statement)
        return moved[counted or pairs[0][0]]

    def archives(self, limit: int = 100) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM archives ORDER BY ts DESC LIMIT ?", [limit]).df()

    def checkpoint(self, attempts: int = 5, pause: float = 0.2) -> bool:
        """Fold the WAL into the database file so it does not grow between DuckDB's own checkpoints.

        DuckDB refuses a CHECKPOINT while another write transaction is open. Our writers hold the
        write lock, which this takes too, but a transaction can still be open elsewhere (a caller's
        half-read result); the checkpoint then waits a little and tries again, and if it still cannot
        run it is left to the next pass (DuckDB also checkpoints on its own): False, never an error."""
        for attempt in range(attempts):
            self.close_finished_cursors()
            with self.write_lock:
                try:
                    self.cur.execute("CHECKPOINT")
                    return True
                except duckdb.TransactionException as exc:
                    reason = plain_fault(exc)
            if attempt + 1 < attempts:
                time.sleep(pause * 2**attempt)
        log.info("checkpoint deferred to the next retention pass: %s", reason)
        return False

    def file_sizes(self) -> dict[str, int]:
        wal = self.path.with_name(self.path.name + ".wal")
        return {"duckdb": self.path.stat().st_size, "wal": wal.stat().st_size if wal.exists() else 0}


_SHRINK_STREAM_DATASETS = (
    """UPDATE datasets SET n_rows = s.n, first_sample_id = s.first
       FROM (SELECT dataset_id, count(*) AS n, min(sample_id) AS first FROM samples GROUP BY dataset_id) s
       WHERE datasets.dataset_id = s.dataset_id AND datasets.source = 'stream' AND datasets.n_rows <> s.n""",
    "DELETE FROM datasets WHERE source = 'stream' AND dataset_id NOT IN (SELECT DISTINCT dataset_id FROM samples)",
)
