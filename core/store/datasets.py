"""Datasets and their samples: bulk inserts, training windows, reference samples."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from core.data.table_check import check_columns, missing_not_allowed, model_input, not_a_number, not_finite, time_order, unknown_label
from core.domain import spans
from core.domain.features import TARGET
from core.domain.schema import Schema
from core.domain.validation import shown, summarise
from core.errors import UserInputError
from core.store.base import StoreBase, insert_arrow, quoted, upsert_setting, utcnow
from core.store.prediction_rows import feature_arrays


@dataclass(frozen=True)
class DatasetInfo:
    dataset_id: int
    n_rows: int
    first_sample_id: int
    last_sample_id: int
    duplicate_of: int | None = None  # an import of a file already imported as this dataset


@dataclass(frozen=True)
class Window:
    """Labelled samples read for training or evaluation, with where they came from."""

    X: np.ndarray | pd.DataFrame  # float rows for the synthetic schema, else a table by the user's column names
    y: np.ndarray
    first_sample_id: int
    last_sample_id: int
    dataset_ids: tuple[int, ...]
    sample_ids: np.ndarray | None = None  # each row's, in order

    @property
    def n_rows(self) -> int:
        return int(self.y.shape[0])


# A dataset's row as read out: a replay segment keeps its source's id in `strength` (`stream_segment` tells segments of
# two sources apart by it), shown as `replay_of`, and a replay has no strength.
READ_OUT = """* REPLACE (CASE WHEN scenario = 'replay' THEN NULL ELSE strength END AS strength),
              CASE WHEN scenario = 'replay' THEN CAST(strength AS BIGINT) END AS replay_of"""
INCOMING = "dataset_id IN (SELECT dataset_id FROM datasets WHERE role = 'incoming')"
# Of the rows a replay sent more than once (set back, or started over), the newest copy in the range read: a window then
# trains on each row once, and its newest rows (a holdout, a challenge's check rows) hold no copy of a row it trained on.
ONCE = "QUALIFY row_number() OVER (PARTITION BY coalesce(replay_of, sample_id) ORDER BY sample_id DESC) = 1"
ROLES = ("incoming", "library")


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
        role: str = "library",
        content_hash: str | None = None,
        times: np.ndarray | None = None,
    ) -> DatasetInfo:
        """One dataset row and all its samples in one transaction and one bulk insert; `times` are the rows'
        values of the workspace's time column (datetime64), kept to say how far a replay has got."""
        n = int(y.shape[0])
        with self.transaction() as tx:
            first = tx.execute("SELECT coalesce(max(sample_id), 0) + 1 FROM samples").fetchone()[0]
            dataset_id = tx.execute(
                """INSERT INTO datasets (name, source, scenario, strength, seed, n_rows, first_sample_id, last_sample_id, created_at,
                                        role, content_hash)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING dataset_id""",
                [name, source, scenario, strength, seed, n, first, first + n - 1, utcnow(), role, content_hash],
            ).fetchone()[0]
            self._insert_samples(tx, dataset_id, first, X, y, times)
        return DatasetInfo(dataset_id, n, first, first + n - 1)

    def append_stream_batch(self, X: np.ndarray, y: np.ndarray, *, name: str, scenario: str, strength: float, seed: int) -> DatasetInfo:
        """A stream batch joins the current stream segment (`stream_segment`)."""
        n = int(y.shape[0])
        with self.transaction() as tx:
            dataset_id, first = stream_segment(tx, n, name=name, scenario=scenario, strength=strength, seed=seed)
            self._insert_samples(tx, dataset_id, first, X, y)
        return DatasetInfo(dataset_id, n, first, first + n - 1)

    def append_replay_batch(self, source: int, offset: int, n_rows: int, *, name: str, position_key: str, sent_key: str) -> DatasetInfo:
        """The rows `offset` to `offset + n_rows - 1` of dataset `source` (in its sample order) as a stream batch,
        copied inside DuckDB, and the stream's new position and the spans of rows sent so far (`sent_key`) stored in
        the same transaction: a restart neither replays a batch twice nor skips one."""
        cols = ", ".join([*self.features, TARGET, "event_time"])
        with self.transaction() as tx:
            start, total = tx.execute("SELECT first_sample_id, n_rows FROM datasets WHERE dataset_id = ?", [source]).fetchall()[0]
            n = max(0, min(n_rows, total - offset))  # a stored dataset's sample ids are contiguous
            dataset_id, first = stream_segment(tx, n, name=name, scenario="replay", strength=float(source), seed=None)
            tx.execute(
                f"""INSERT INTO samples (sample_id, dataset_id, replay_of, {cols})
                    SELECT ? + row_number() OVER (ORDER BY sample_id) - 1, ?, sample_id, {cols} FROM samples
                    WHERE dataset_id = ? AND sample_id >= ? AND sample_id < ?""",
                [first, dataset_id, source, start + offset, start + offset + n_rows],
            )
            replay_moved(tx, position_key, sent_key, offset, n)
        return DatasetInfo(dataset_id, n, first, first + n - 1)

    def replay_rows(self, source: int, offset: int, n_rows: int) -> Window:
        """The rows `offset` to `offset + n_rows - 1` of dataset `source` (in its sample order) as a model reads them:
        what a replay whose labels come later serves, rather than storing them labelled."""
        start, total = self.cur.execute("SELECT first_sample_id, n_rows FROM datasets WHERE dataset_id = ?", [source]).fetchall()[0]
        last = start + offset + max(0, min(n_rows, total - offset)) - 1
        return self._window("dataset_id = ? AND sample_id BETWEEN ? AND ?", [source, start + offset, last], start + offset, last)

    def _insert_samples(
        self, tx: object, dataset_id: int, first: int, X: np.ndarray, y: np.ndarray, times: np.ndarray | None = None
    ) -> None:
        n = int(y.shape[0])
        columns = {
            "sample_id": pa.array(np.arange(first, first + n, dtype=np.int64)),
            "dataset_id": pa.array(np.full(n, dataset_id, dtype=np.int32)),
        }
        columns |= self.feature_arrays(X)
        columns[TARGET] = pa.array(np.asarray(y, dtype=np.int8))
        if times is not None:
            columns["event_time"] = pa.array(np.asarray(times, dtype="datetime64[us]"))
        insert_arrow(tx, "samples", pa.table(columns))

    def import_file(self, sources: tuple[str, str], *, name: str, role: str, content_hash: str | None, max_rows: int) -> DatasetInfo:
        """A labelled file of this workspace's own schema, stored by DuckDB without a round trip through Python:
        read once into a temporary table, checked there with `core.data.table_check`' rules and wording (columns by name,
        numbers, missing values, known labels, the row limit), then inserted in the time column's order.
        `sources` is the file read typed, then as text: a value that is not a number stops the typed read,
        and the text read finds and names every problem. Nothing is stored when a check fails."""
        schema = self.schema
        cur = self.cur
        for source in sources:
            try:
                cur.execute(f"CREATE OR REPLACE TEMP TABLE _import AS SELECT * FROM {source}")
                break
            except duckdb.ConversionException:
                continue  # the text read names the values
            except duckdb.Error as exc:
                raise UserInputError("file", f"not a readable file: {shown(str(exc).splitlines()[0])}") from None
        try:
            names = [row[0] for row in cur.execute("DESCRIBE _import").fetchall()]
            check_columns(names, schema, True, "file")
            self._check_import(cur, schema, max_rows)
            timed = schema.time_column in names
            if timed:
                self._time_order(cur, schema.time_column)
            with self.transaction() as tx:
                first = tx.execute("SELECT coalesce(max(sample_id), 0) + 1 FROM samples").fetchone()[0]
                n = tx.execute("SELECT count(*) FROM _import").fetchone()[0]
                dataset_id = tx.execute(
                    """INSERT INTO datasets (name, source, n_rows, first_sample_id, last_sample_id, created_at, role, content_hash)
                       VALUES (?, 'imported', ?, ?, ?, ?, ?, ?) RETURNING dataset_id""",
                    [name, n, first, first + n - 1, utcnow(), role, content_hash],
                ).fetchone()[0]
                # The file's order is the temporary table's rowid, or the time column's (`_time_order`).
                # Qualified: a file may have columns named _time or _position (InfluxDB's exports have _time).
                values = [f"TRY_CAST(i.{quoted(c.name)} AS DOUBLE)" if c.kind == "numeric" else f"CAST(i.{quoted(c.name)} AS VARCHAR)"
                          for c in schema.features]  # fmt: skip
                source = "_import i JOIN _order o ON i.rowid = o._row" if timed else "_import i"
                position, time = ("o._position", "o._time") if timed else ("i.rowid", "NULL")
                tx.execute(
                    f"""INSERT INTO samples (sample_id, dataset_id, {", ".join(self.features)}, {TARGET}, event_time)
                        SELECT ? + {position}, ?, {", ".join(values)}, {_class_index(schema, "i.")}, {time} FROM {source}""",
                    [first, dataset_id],
                )
        finally:
            cur.execute("DROP TABLE IF EXISTS _import")
            cur.execute("DROP TABLE IF EXISTS _order")
        return DatasetInfo(dataset_id, n, first, first + n - 1)

    @staticmethod
    def _time_order(cur: duckdb.DuckDBPyConnection, column: str) -> None:
        """Each imported row's place in time and its time (`_order`), by the rule a first file follows
        (`table_check.time_order`): DuckDB reads a CSV's dates as text, and text sorts 10 May before 9 May."""
        values = cur.execute(f"SELECT {quoted(column)} FROM _import ORDER BY rowid").df()[column]
        order, times = time_order(values, column)
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        table = {"_row": pa.array(order.astype(np.int64)), "_position": pa.array(position[order])}
        table["_time"] = pa.array(
            np.asarray(times, dtype="datetime64[us]") if times is not None else [None] * len(order), pa.timestamp("us")
        )
        cur.register("_order_arrow", pa.table(table))
        try:
            cur.execute("CREATE OR REPLACE TEMP TABLE _order AS SELECT * FROM _order_arrow")
        finally:
            cur.unregister("_order_arrow")

    @staticmethod
    def _check_import(cur: duckdb.DuckDBPyConnection, schema: Schema, max_rows: int) -> None:
        """Every rule, counted in one scan of the temporary table; where a count is not zero, a second query
        finds the first row and value, named like `core.data.table_check.encode` names them (rows as a spreadsheet
        shows them: the header is row 1, so a row is its rowid + 2)."""
        types = dict(cur.execute("SELECT column_name, column_type FROM (DESCRIBE _import)").fetchall())
        rules: list[tuple[str, str, str]] = []  # (what, column, condition)
        for c in schema.features:
            column = quoted(c.name)
            if c.kind == "numeric":
                if types.get(c.name) != "DOUBLE":
                    rules.append(("number", c.name, f"{column} IS NOT NULL AND TRY_CAST({column} AS DOUBLE) IS NULL"))
                rules.append(("finite", c.name, f"isinf(TRY_CAST({column} AS DOUBLE))"))
            if not c.missing:
                rules.append(("missing", c.name, f"{column} IS NULL"))
        rules.append(("label", schema.target, f"({_class_index(schema)}) IS NULL"))
        counts = cur.execute(f"SELECT count(*), {', '.join(f'count(*) FILTER ({rule})' for _, _, rule in rules)} FROM _import").fetchone()
        n, failing = counts[0], [(rule, count) for rule, count in zip(rules, counts[1:], strict=True) if count]
        if n == 0:
            raise UserInputError("file", "the file has a header but no rows: add at least one row")
        if n > max_rows:
            raise UserInputError("file", f"more than {max_rows:,} rows: the limit per file is {max_rows:,} (IA_MAX_SAMPLES_PER_REQUEST)")
        problems = []
        for (what, name, rule), count in failing:
            row, value = cur.execute(
                f"SELECT rowid + 2, CAST({quoted(name)} AS VARCHAR) FROM _import WHERE {rule} ORDER BY rowid LIMIT 1"
            ).fetchone()
            problems.append(_problem(what, schema, name, row, value, count))
        if problems:
            raise UserInputError("file", summarise(problems))

    def feature_arrays(self, X: np.ndarray | pd.DataFrame) -> dict[str, pa.Array]:
        return feature_arrays(X, self.schema)

    def as_features(self, columns: Mapping[str, object]) -> np.ndarray | pd.DataFrame:
        """Stored feature columns (a DataFrame or DuckDB's `fetchnumpy`, under storage names) as the model takes them."""
        return model_input(columns, self.schema, self.features)

    def named_columns(self) -> str:
        """The features and the target, each under the name the user gave it (SQL select list)."""
        return ", ".join([*(f"{s} AS {quoted(n)}" for s, n in zip(self.features, self.schema.names, strict=True)), TARGET])

    def dataset(self, dataset_id: int) -> dict | None:
        """One dataset as `datasets` reads it (a replay segment's source in `replay_of`)."""
        return self._one(f"SELECT {READ_OUT} FROM datasets WHERE dataset_id = ?", [dataset_id])

    def update_dataset(self, dataset_id: int, name: str | None = None, tags: list[str] | None = None) -> None:
        with self.transaction() as tx:
            if name is not None:
                tx.execute("UPDATE datasets SET name = ? WHERE dataset_id = ?", [name, dataset_id])
            if tags is not None:
                tx.execute("UPDATE datasets SET tags = ? WHERE dataset_id = ?", [json.dumps(tags), dataset_id])

    def versions_trained_on(self, dataset_id: int) -> list[int]:
        """Versions whose training data includes the dataset (their holdout, evaluation and drift reference are its rows)."""
        rows = self.cur.execute("SELECT version, dataset_ids FROM models ORDER BY version").fetchall()
        return [version for version, ids in rows if dataset_id in json.loads(ids or "[]")]

    def delete_dataset(self, dataset_id: int) -> int:
        """The dataset and its samples, in one transaction; the caller has checked nothing needs them."""
        with self.transaction() as tx:
            n = tx.execute("SELECT count(*) FROM samples WHERE dataset_id = ?", [dataset_id]).fetchall()[0][0]
            tx.execute("DELETE FROM samples WHERE dataset_id = ?", [dataset_id])
            tx.execute("DELETE FROM datasets WHERE dataset_id = ?", [dataset_id])
        return int(n)

    def datasets(self) -> pd.DataFrame:
        """Every dataset, newest first, read out as READ_OUT says."""
        return self.cur.execute(f"SELECT {READ_OUT} FROM datasets ORDER BY dataset_id DESC").df()

    def dataset_frame(self, dataset_id: int, limit: int | None = None) -> pd.DataFrame:
        """The dataset as the user's table: their column names, the target's classes as written, and first the time
        column's value where the workspace has one of dates (numbers order the rows but are not stored as times; the
        identifier column is not stored)."""
        cols = self.named_columns()
        if self.schema.time_column:
            cols = f"event_time AS {quoted(self.schema.time_column)}, {cols}"
        frame = self.cur.execute(
            f"SELECT {cols} FROM samples WHERE dataset_id = ? ORDER BY sample_id" + (f" LIMIT {int(limit)}" if limit else ""), [dataset_id]
        ).df()
        if self.schema.time_column and frame[self.schema.time_column].isna().all():
            frame = frame.drop(columns=self.schema.time_column)  # a file imported without its times
        if not self.schema.plain:
            labels = np.array(self.schema.classes, dtype=object)
            frame[TARGET] = labels[frame[TARGET].to_numpy(dtype=np.int64)]
            frame = frame.rename(columns={TARGET: self.schema.target})
        return frame

    def set_content_hash(self, dataset_id: int, content_hash: str) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE datasets SET content_hash = ? WHERE dataset_id = ?", [content_hash, dataset_id])

    def dataset_with_hash(self, content_hash: str) -> dict | None:
        """The first dataset imported from a file with exactly these bytes, if any."""
        return self._one(
            "SELECT dataset_id, name, created_at FROM datasets WHERE content_hash = ? ORDER BY dataset_id LIMIT 1", [content_hash]
        )

    def dataset_summary(self, dataset_id: int) -> pd.DataFrame:
        """Per column, computed in DuckDB over every row: count, missing values and distinct values; for numbers
        mean, std, min, quartiles and max; for categories the most frequent one. The target's classes as written."""
        columns = [(s, c.name, c.kind) for s, c in zip(self.features, self.schema.features, strict=True)]
        parts = []
        for storage, name, kind in [*columns, (TARGET, self.schema.target, "target")]:
            label = name.replace("'", "''")
            numeric = kind == "numeric" or (kind == "target" and self.schema.plain)
            stats = (
                f"avg({storage}), stddev_samp({storage}), min({storage}), quantile_cont({storage}, 0.25), median({storage}), "
                f"quantile_cont({storage}, 0.75), max({storage})"
                if numeric
                else ", ".join(["CAST(NULL AS DOUBLE)"] * 7)
            )
            top = "CAST(NULL AS VARCHAR)" if numeric else f"CAST(mode({storage}) AS VARCHAR)"
            parts.append(
                f"""SELECT '{label}' AS column, '{kind}' AS kind, count({storage}) AS count, count(*) - count({storage}) AS missing,
                       count(DISTINCT {storage}) AS distinct_values, {top} AS top, {stats} FROM samples WHERE dataset_id = $id"""
            )
        frame = self.cur.execute(" UNION ALL ".join(parts), {"id": dataset_id}).df()
        frame.columns = ["column", "kind", "count", "missing", "distinct", "top", "mean", "std", "min", "q25", "median", "q75", "max"]
        if not self.schema.plain:
            classes = self.schema.classes
            frame.loc[frame["kind"] == "target", "top"] = [
                None if pd.isna(t) else str(classes[int(t)]) for t in frame.loc[frame["kind"] == "target", "top"]
            ]
        return frame

    def event_time_at(self, dataset_id: int, offset: int) -> object:
        """The time column's value of a dataset's row `offset` (in sample order), or None."""
        rows = self.cur.execute(
            "SELECT s.event_time FROM samples s JOIN datasets d USING (dataset_id) WHERE d.dataset_id = ? AND s.sample_id = d.first_sample_id + ?",
            [dataset_id, offset],
        ).fetchall()
        return rows[0][0] if rows else None

    def max_sample_id(self) -> int:
        return self.cur.execute("SELECT coalesce(max(sample_id), 0) FROM samples").fetchone()[0]

    def max_incoming_sample_id(self) -> int:
        """The newest sample the loop may read: incoming data only (the stream, data sent to the loop)."""
        return self.cur.execute(f"SELECT coalesce(max(sample_id), 0) FROM samples WHERE {INCOMING}").fetchone()[0]

    def first_incoming_sample_id(self, after: int) -> int | None:
        """The oldest incoming sample past `after`: where a cycle's read begins (library rows in between are not read)."""
        return self.cur.execute(f"SELECT min(sample_id) FROM samples WHERE sample_id > ? AND {INCOMING}", [after]).fetchone()[0]

    def count_incoming(self, first_sample_id: int) -> int:
        return self.cur.execute(f"SELECT count(*) FROM samples WHERE sample_id >= ? AND {INCOMING}", [first_sample_id]).fetchone()[0]

    def read_samples(self, first_sample_id: int, last_sample_id: int | None = None, *, incoming: bool = False) -> Window:
        """Samples with ids in [first, last]; `incoming` keeps only the loop's data (not library datasets), a row a
        replay sent again once (`ONCE`)."""
        last = self.max_sample_id() if last_sample_id is None else last_sample_id
        where = f"sample_id BETWEEN ? AND ? AND {INCOMING} {ONCE}" if incoming else "sample_id BETWEEN ? AND ?"
        return self._window(where, [first_sample_id, last], first_sample_id, last)

    def read_datasets(self, dataset_ids: list[int]) -> Window:
        """Every sample of the chosen datasets, for a training the user pointed at them: a row a replay sent again
        once, as the loop's windows and a model's reference read it."""
        marks = ", ".join("?" * len(dataset_ids))
        return self._window(f"dataset_id IN ({marks}) {ONCE}", list(dataset_ids), 0, 0)

    def recent_window(self, n_rows: int, exclude_datasets: tuple[int, ...] = ()) -> Window:
        """The loop's newest `n_rows` incoming samples: what "Train now" uses by default and retrains read;
        `exclude_datasets` leaves out rows a model was trained on (the gate's fresh set)."""
        where = INCOMING + "".join(f" AND dataset_id <> {int(d)}" for d in exclude_datasets)
        if exclude_datasets:  # nor a replayed copy of one of their rows
            marks = ", ".join(str(int(d)) for d in exclude_datasets)
            where += (" AND (replay_of IS NULL OR NOT EXISTS (SELECT 1 FROM datasets x WHERE x.dataset_id IN "
                      f"({marks}) AND replay_of BETWEEN x.first_sample_id AND x.last_sample_id))")  # fmt: skip
        first = self.cur.execute(
            f"SELECT coalesce(min(sample_id), 1) FROM (SELECT sample_id FROM samples WHERE {where} ORDER BY sample_id DESC LIMIT ?)",
            [n_rows],
        ).fetchone()[0]
        if not exclude_datasets:
            return self.read_samples(first, incoming=True)
        return self._window(f"sample_id >= ? AND {where} {ONCE}", [first], first, first)

    def _window(self, where: str, params: list, first: int, last: int) -> Window:
        cols = ", ".join(["sample_id", "dataset_id", *self.features, TARGET])
        arrays = self.cur.execute(f"SELECT {cols} FROM samples WHERE {where} ORDER BY sample_id", params).fetchnumpy()
        ids = arrays["sample_id"]
        X = self.as_features(arrays)
        y = np.asarray(arrays[TARGET], dtype=np.int64)
        dataset_ids = tuple(int(d) for d in np.unique(arrays["dataset_id"]))
        return Window(X, y, int(ids.min()) if len(ids) else first, int(ids.max()) if len(ids) else last, dataset_ids, np.asarray(ids))

    def datasets_holding(self, dataset_ids: tuple[int, ...], first_sample_id: int, last_sample_id: int) -> tuple[int, ...]:
        """Those of `dataset_ids` with rows in [first, last] (a dataset's samples are one run of ids)."""
        marks = ", ".join(str(int(d)) for d in dataset_ids) or "NULL"
        rows = self.cur.execute(
            f"""SELECT dataset_id FROM datasets WHERE dataset_id IN ({marks}) AND first_sample_id <= ? AND last_sample_id >= ?
                ORDER BY dataset_id""",
            [last_sample_id, first_sample_id],
        ).fetchall()
        return tuple(int(r[0]) for r in rows)

    def reference_rows(
        self, first_sample_id: int, last_sample_id: int, dataset_ids: tuple[int, ...] | None, max_rows: int, seed: int
    ) -> pd.DataFrame:
        """Features and target of a drift reference: a model's training rows (its datasets within its id
        range) or, without `dataset_ids`, the incoming rows of a range; a row a replay sent again once, as training
        reads it (tour 19: a reference of 2,610 rows beside a model trained on 2,310 distinct ones); at most
        `max_rows`, chosen by a seeded hash of the sample id, so every reader (the drift test, each chart) gets the
        same rows."""
        where = f"dataset_id IN ({', '.join(str(int(d)) for d in dataset_ids)})" if dataset_ids else INCOMING
        return self._sampled(f"sample_id BETWEEN ? AND ? AND {where} {ONCE}", [first_sample_id, last_sample_id], max_rows, seed)

    def incoming_rows(
        self, first_sample_id: int, last_sample_id: int, max_rows: int, served_before: datetime | None = None
    ) -> pd.DataFrame:
        """Features and target of the loop's incoming rows in a range (a cycle's batch, never a library
        dataset stored in between), at most `max_rows` (the same seeded hash choice); with `served_before`, without
        the labels of predictions served before it, dropped after each row's newest copy is chosen, as a cycle's own
        read does (`read_samples`, then `NewData.fresh`): their inputs were an earlier cycle's."""
        if served_before is None:
            return self.reference_rows(first_sample_id, last_sample_id, None, max_rows, 0)
        once = f"SELECT * FROM samples WHERE sample_id BETWEEN ? AND ? AND {INCOMING} {ONCE}"
        late = "SELECT 1 FROM feedback f WHERE f.sample_id = s.sample_id AND f.predicted_at < ?"
        return self._sampled(f"sample_id IN (SELECT s.sample_id FROM ({once}) s WHERE NOT EXISTS ({late}))",
                             [first_sample_id, last_sample_id, served_before], max_rows, 0)  # fmt: skip

    def _sampled(self, where: str, params: list, max_rows: int, seed: int) -> pd.DataFrame:
        """The rows `where` selects, at most `max_rows` by a seeded hash of the sample id, in sample order."""
        sql = f"""SELECT {self.named_columns()} FROM (SELECT * FROM samples WHERE {where} ORDER BY hash(sample_id, ?) LIMIT ?)
                  ORDER BY sample_id"""
        return self.cur.execute(sql, [*params, int(seed), int(max_rows)]).df()

    def sample_features(self, first_sample_id: int, last_sample_id: int, max_rows: int, seed: int = 0) -> pd.DataFrame:
        """A seeded sample of features and target for distribution plots."""
        cols = self.named_columns()
        sql = f"SELECT {cols} FROM samples WHERE sample_id BETWEEN ? AND ?"
        if last_sample_id - first_sample_id + 1 > max_rows:
            sql = f"SELECT * FROM ({sql}) USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE ({int(seed)})"
        return self.cur.execute(sql, [first_sample_id, last_sample_id]).df()

    def class_balance(self, first_sample_id: int, last_sample_id: int) -> dict[int, int]:
        rows = self.cur.execute(
            f"SELECT {TARGET}, count(*) FROM samples WHERE sample_id BETWEEN ? AND ? GROUP BY {TARGET}", [first_sample_id, last_sample_id]
        ).fetchall()
        return {int(k): int(v) for k, v in rows}


def replay_moved(tx: object, position_key: str, sent_key: str, offset: int, n: int) -> None:
    """A replay's new position, and rows `offset` to `offset + n - 1` added to the spans it has sent, in the caller's
    transaction (with the rows it stored, or the labels it queued)."""
    upsert_setting(tx, position_key, str(offset + n))
    sent = tx.execute("SELECT value FROM workspace WHERE key = ?", [sent_key]).fetchall()
    upsert_setting(tx, sent_key, spans.to_text(spans.added(spans.from_text(sent[0][0] if sent else None), offset, offset + n)))


def stream_segment(
    tx: duckdb.DuckDBPyConnection, n: int, *, name: str, scenario: str, strength: float, seed: int | None
) -> tuple[int, int]:
    """The dataset and first sample id for `n` incoming rows of the stream (simulated, replayed, or labels that
    came back): one dataset per run of batches of one scenario and strength (not one per batch: a day at 30 s would
    add 2,880 datasets). A new segment starts when the scenario changes or another dataset was added in between, so ids
    stay contiguous."""
    first = tx.execute("SELECT coalesce(max(sample_id), 0) + 1 FROM samples").fetchall()[0][0]
    last = tx.execute(
        "SELECT dataset_id, source, scenario, strength, last_sample_id FROM datasets ORDER BY dataset_id DESC LIMIT 1"
    ).fetchall()
    if last and last[0][1:4] == ("stream", scenario, strength) and last[0][4] == first - 1:
        dataset_id = last[0][0]
        tx.execute("UPDATE datasets SET n_rows = n_rows + ?, last_sample_id = ? WHERE dataset_id = ?", [n, first + n - 1, dataset_id])
        return dataset_id, first
    dataset_id = tx.execute(
        """INSERT INTO datasets (name, source, scenario, strength, seed, n_rows, first_sample_id, last_sample_id, created_at, role)
           VALUES (?, 'stream', ?, ?, ?, ?, ?, ?, ?, 'incoming') RETURNING dataset_id""",
        [name, scenario, strength, seed, n, first, first + n - 1, utcnow()],
    ).fetchall()[0][0]
    return dataset_id, first


def _problem(what: str, schema: Schema, column: str, row: int, value: object, count: int) -> str:
    if what == "number":
        return not_a_number(column, row, value, count)
    if what == "finite":
        return not_finite(column, row)
    if what == "missing":
        return missing_not_allowed(column, count, row)
    return unknown_label(schema, row, value, count)


def _class_index(schema: Schema, table: str = "") -> str:
    """The stored index of each row's label as SQL (NULL for a label that is not a class), matched as text; `table`
    qualifies the column ("i.") where a join could make its name ambiguous."""
    whens = " ".join(f"WHEN '{str(c).replace(chr(39), chr(39) * 2)}' THEN {i}" for i, c in enumerate(schema.classes))
    return f"CASE trim(CAST({table}{quoted(schema.target)} AS VARCHAR)) {whens} END"
