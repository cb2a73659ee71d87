"""Datasets and their samples: bulk inserts, training windows, reference samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from core.features import TARGET
from core.store.base import StoreBase, insert_arrow, utcnow


@dataclass(frozen=True)
class DatasetInfo:
    dataset_id: int
    n_rows: int
    first_sample_id: int
    last_sample_id: int


@dataclass(frozen=True)
class Window:
    """Labelled samples read for training or evaluation, with where they came from."""

    X: np.ndarray
    y: np.ndarray
    first_sample_id: int
    last_sample_id: int
    dataset_ids: tuple[int, ...]

    @property
    def n_rows(self) -> int:
        return int(self.y.shape[0])


class DatasetQueries(StoreBase):
    def insert_dataset(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        source: str,
        name: str,
        scenario: str | None = None,
        strength: float | None = None,
        seed: int | None = None,
    ) -> DatasetInfo:
        """One dataset row and all its samples in one transaction and one bulk insert."""
        n = int(y.shape[0])
        with self.transaction() as tx:
            first = tx.execute("SELECT coalesce(max(sample_id), 0) + 1 FROM samples").fetchone()[0]
            dataset_id = tx.execute(
                """INSERT INTO datasets (name, source, scenario, strength, seed, n_rows, first_sample_id, last_sample_id, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING dataset_id""",
                [name, source, scenario, strength, seed, n, first, first + n - 1, utcnow()],
            ).fetchone()[0]
            self._insert_samples(tx, dataset_id, first, X, y)
        return DatasetInfo(dataset_id, n, first, first + n - 1)

    def append_stream_batch(self, X: np.ndarray, y: np.ndarray, *, name: str, scenario: str, strength: float, seed: int) -> DatasetInfo:
        """A stream batch joins the current stream segment: one dataset per run of batches of one
        scenario and strength (a day at 30 s used to add 2,880 datasets). A new segment starts when
        the scenario changes or another dataset was added in between, so ids stay contiguous."""
        n = int(y.shape[0])
        with self.transaction() as tx:
            first = tx.execute("SELECT coalesce(max(sample_id), 0) + 1 FROM samples").fetchone()[0]
            last = tx.execute(
                "SELECT dataset_id, source, scenario, strength, last_sample_id FROM datasets ORDER BY dataset_id DESC LIMIT 1"
            ).fetchone()
            if last is not None and last[1:4] == ("stream", scenario, strength) and last[4] == first - 1:
                dataset_id = last[0]
                tx.execute(
                    "UPDATE datasets SET n_rows = n_rows + ?, last_sample_id = ? WHERE dataset_id = ?", [n, first + n - 1, dataset_id]
                )
            else:
                dataset_id = tx.execute(
                    """INSERT INTO datasets (name, source, scenario, strength, seed, n_rows, first_sample_id, last_sample_id, created_at)
                       VALUES (?, 'stream', ?, ?, ?, ?, ?, ?, ?) RETURNING dataset_id""",
                    [name, scenario, strength, seed, n, first, first + n - 1, utcnow()],
                ).fetchone()[0]
            self._insert_samples(tx, dataset_id, first, X, y)
        return DatasetInfo(dataset_id, n, first, first + n - 1)

    def _insert_samples(self, tx: object, dataset_id: int, first: int, X: np.ndarray, y: np.ndarray) -> None:
        n = int(y.shape[0])
        columns = {
            "sample_id": pa.array(np.arange(first, first + n, dtype=np.int64)),
            "dataset_id": pa.array(np.full(n, dataset_id, dtype=np.int32)),
        }
        columns |= {name_: pa.array(np.ascontiguousarray(X[:, i], dtype=np.float64)) for i, name_ in enumerate(self.features)}
        columns[TARGET] = pa.array(np.asarray(y, dtype=np.int8))
        insert_arrow(tx, "samples", pa.table(columns))

    def datasets(self) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM datasets ORDER BY dataset_id DESC").df()

    def dataset_frame(self, dataset_id: int, limit: int | None = None) -> pd.DataFrame:
        cols = ", ".join([*self.features, TARGET])
        sql = f"SELECT {cols} FROM samples WHERE dataset_id = ? ORDER BY sample_id"
        return self.cur.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), [dataset_id]).df()

    def max_sample_id(self) -> int:
        return self.cur.execute("SELECT coalesce(max(sample_id), 0) FROM samples").fetchone()[0]

    def read_samples(self, first_sample_id: int, last_sample_id: int | None = None) -> Window:
        """Samples with ids in [first, last]; ids are dense, so a range is the recent window."""
        last = self.max_sample_id() if last_sample_id is None else last_sample_id
        cols = ", ".join(["sample_id", "dataset_id", *self.features, TARGET])
        arrays = self.cur.execute(f"SELECT {cols} FROM samples WHERE sample_id BETWEEN ? AND ?", [first_sample_id, last]).fetchnumpy()
        ids = arrays["sample_id"]
        X = (
            np.column_stack([np.asarray(arrays[c], dtype=np.float64) for c in self.features])
            if len(ids)
            else np.empty((0, self.n_features))
        )
        y = np.asarray(arrays[TARGET], dtype=np.int64)
        dataset_ids = tuple(int(d) for d in np.unique(arrays["dataset_id"]))
        return Window(X, y, int(ids.min()) if len(ids) else first_sample_id, int(ids.max()) if len(ids) else last, dataset_ids)

    def recent_window(self, n_rows: int) -> Window:
        last = self.max_sample_id()
        return self.read_samples(max(1, last - n_rows + 1), last)

    def sample_reference(self, first_sample_id: int, last_sample_id: int, max_rows: int, seed: int) -> np.ndarray:
        """A seeded reservoir sample of a sample-id range, as a feature matrix."""
        return self.sample_features(first_sample_id, last_sample_id, max_rows, seed)[self.features].to_numpy(dtype=np.float64)

    def sample_features(self, first_sample_id: int, last_sample_id: int, max_rows: int, seed: int = 0) -> pd.DataFrame:
        """A seeded sample of features and target for distribution plots."""
        cols = ", ".join([*self.features, TARGET])
        sql = f"SELECT {cols} FROM samples WHERE sample_id BETWEEN ? AND ?"
        if last_sample_id - first_sample_id + 1 > max_rows:
            sql = f"SELECT * FROM ({sql}) USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE ({int(seed)})"
        return self.cur.execute(sql, [first_sample_id, last_sample_id]).df()

    def class_balance(self, first_sample_id: int, last_sample_id: int) -> dict[int, int]:
        rows = self.cur.execute(
            f"SELECT {TARGET}, count(*) FROM samples WHERE sample_id BETWEEN ? AND ? GROUP BY {TARGET}", [first_sample_id, last_sample_id]
        ).fetchall()
        return {int(k): int(v) for k, v in rows}
