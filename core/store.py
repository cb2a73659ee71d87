"""DuckDB storage: the schema, its numbered migrations, and every SQL statement.

DuckDB allows one read-write process per file, so the process holds one connection
and hands each thread its own cursor. Bulk data goes in as Arrow tables in one
statement; training reads come back as numpy arrays.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from core.errors import WorkspaceInUseError
from core.features import TARGET, feature_names

log = logging.getLogger(__name__)

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")


def utcnow() -> datetime:
    """Naive UTC: DuckDB TIMESTAMP columns hold UTC without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


Migration = Callable[[duckdb.DuckDBPyConnection, int], None]


def _m001_core(cur: duckdb.DuckDBPyConnection, n_features: int) -> None:
    features = ", ".join(f"{name} DOUBLE NOT NULL" for name in feature_names(n_features))
    cur.execute("CREATE TABLE workspace (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL)")
    cur.execute(
        "INSERT INTO workspace VALUES ('n_features', ?, ?), ('created_at', ?, ?)",
        [str(n_features), utcnow(), utcnow().isoformat(), utcnow()],
    )
    cur.execute("CREATE SEQUENCE dataset_id_seq START 1")
    cur.execute(
        """CREATE TABLE datasets (
            dataset_id INTEGER PRIMARY KEY DEFAULT nextval('dataset_id_seq'),
            name VARCHAR NOT NULL,
            source VARCHAR NOT NULL CHECK (source IN ('generated', 'imported', 'stream', 'starter')),
            scenario VARCHAR, strength DOUBLE, seed BIGINT,
            n_rows BIGINT NOT NULL, first_sample_id BIGINT NOT NULL, last_sample_id BIGINT NOT NULL,
            created_at TIMESTAMP NOT NULL)"""
    )
    cur.execute(f"CREATE TABLE samples (sample_id BIGINT NOT NULL, dataset_id INTEGER NOT NULL, {features}, {TARGET} TINYINT NOT NULL)")
    cur.execute(
        """CREATE TABLE models (
            version INTEGER PRIMARY KEY, label VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
            n_train BIGINT NOT NULL, n_holdout BIGINT NOT NULL,
            window_first_sample BIGINT NOT NULL, window_last_sample BIGINT NOT NULL,
            dataset_ids VARCHAR NOT NULL, data_hash VARCHAR NOT NULL, trigger VARCHAR NOT NULL,
            accuracy DOUBLE, precision DOUBLE, recall DOUBLE, f1 DOUBLE, roc_auc DOUBLE, log_loss DOUBLE,
            status VARCHAR NOT NULL CHECK (status IN ('champion', 'challenger', 'archived', 'rejected')),
            created_at TIMESTAMP NOT NULL, promoted_at TIMESTAMP)"""
    )
    cur.execute("CREATE SEQUENCE model_event_seq START 1")
    cur.execute(
        """CREATE TABLE model_events (
            event_id BIGINT PRIMARY KEY DEFAULT nextval('model_event_seq'), ts TIMESTAMP NOT NULL,
            kind VARCHAR NOT NULL, version INTEGER NOT NULL, previous_champion INTEGER,
            metric VARCHAR, challenger_score DOUBLE, champion_score DOUBLE, n_rows BIGINT,
            promoted BOOLEAN NOT NULL, reason VARCHAR NOT NULL)"""
    )
    cur.execute(
        f"""CREATE TABLE predictions (
            ts TIMESTAMP NOT NULL, model_version INTEGER NOT NULL, {features},
            prediction TINYINT NOT NULL, confidence DOUBLE NOT NULL, latency_ms DOUBLE NOT NULL,
            source VARCHAR NOT NULL)"""
    )


def _m002_monitoring(cur: duckdb.DuckDBPyConnection, n_features: int) -> None:
    cur.execute("CREATE SEQUENCE cycle_id_seq START 1")
    cur.execute(
        """CREATE TABLE cycles (
            cycle_id BIGINT PRIMARY KEY, started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP NOT NULL,
            trigger VARCHAR NOT NULL, status VARCHAR NOT NULL, rows_seen BIGINT NOT NULL, labelled BOOLEAN NOT NULL,
            first_sample_id BIGINT, last_sample_id BIGINT, predictions_until TIMESTAMP,
            scenario VARCHAR, strength DOUBLE, policy VARCHAR NOT NULL,
            champion_version INTEGER, champion_holdout_accuracy DOUBLE,
            realised_accuracy DOUBLE, realised_upper DOUBLE, estimated_accuracy DOUBLE,
            drift_share DOUBLE, dataset_drift BOOLEAN, performance_drift BOOLEAN,
            decision VARCHAR NOT NULL, reason VARCHAR NOT NULL, draw DOUBLE,
            new_version INTEGER, promoted BOOLEAN, error VARCHAR, step_ms VARCHAR)"""
    )
    cur.execute(
        """CREATE TABLE drift_results (
            cycle_id BIGINT NOT NULL, feature VARCHAR NOT NULL, test VARCHAR NOT NULL, statistic DOUBLE NOT NULL,
            p_value DOUBLE, threshold DOUBLE NOT NULL, drifted BOOLEAN NOT NULL, psi DOUBLE NOT NULL,
            psi_status VARCHAR NOT NULL, n_reference BIGINT NOT NULL, n_current BIGINT NOT NULL)"""
    )
    cur.execute("CREATE SEQUENCE notification_id_seq START 1")
    cur.execute(
        """CREATE TABLE notifications (
            notification_id BIGINT PRIMARY KEY DEFAULT nextval('notification_id_seq'), created_at TIMESTAMP NOT NULL,
            kind VARCHAR NOT NULL, level VARCHAR NOT NULL, title VARCHAR NOT NULL, description VARCHAR NOT NULL,
            payload VARCHAR NOT NULL, delivery VARCHAR NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            http_status INTEGER, error VARCHAR, sent_at TIMESTAMP)"""
    )
    cur.execute(
        """CREATE TABLE health_checks (
            ts TIMESTAMP NOT NULL, healthy BOOLEAN NOT NULL, duckdb_ok BOOLEAN NOT NULL, mlflow_ok BOOLEAN NOT NULL,
            champion_ok BOOLEAN NOT NULL, worker_ok BOOLEAN NOT NULL, webhook_configured BOOLEAN NOT NULL,
            latency_p50_ms DOUBLE, latency_p95_ms DOUBLE, detail VARCHAR)"""
    )


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "core tables: workspace, datasets, samples, models, model_events, predictions", _m001_core),
    (2, "monitoring: cycles, drift_results, notifications, health_checks", _m002_monitoring),
]


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


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the workspace file, turning DuckDB's lock error into one a person can act on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        pid = re.search(r"PID (\d+)", str(exc))
        holder = f" (PID {pid.group(1)})" if pid else ""
        raise WorkspaceInUseError(
            f"The workspace {path} is in use by another process{holder}. DuckDB allows one process per file: "
            "stop the other app or point IA_DATA_DIR at another folder."
        ) from None


class Store:
    """The process's one DuckDB connection, one cursor per thread, and every query."""

    def __init__(self, path: Path, n_features: int) -> None:
        self.path = path
        self._conn = connect(path)
        self._local = threading.local()
        self._cursors: dict[int, tuple[threading.Thread, duckdb.DuckDBPyConnection]] = {}
        self._cursor_lock = threading.Lock()
        self.write_lock = threading.RLock()
        self.migrate(n_features)
        self.n_features = int(self.get_setting("n_features"))
        if self.n_features != n_features:
            log.warning("IA_N_FEATURES=%s ignored: workspace %s was created with %s features", n_features, path, self.n_features)
        self.features = feature_names(self.n_features)

    # connection plumbing -------------------------------------------------
    @property
    def cur(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor. Streamlit runs every script run on a new thread, so cursors of
        finished threads are closed whenever a new one is made, keeping the count bounded."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._conn.cursor()
            self._local.cursor = cur
            with self._cursor_lock:
                for ident, (thread, old) in list(self._cursors.items()):
                    if not thread.is_alive():
                        with suppress(duckdb.Error):
                            old.close()
                        del self._cursors[ident]
                self._cursors[threading.get_ident()] = (threading.current_thread(), cur)
        return cur

    @property
    def open_cursors(self) -> int:
        return len(self._cursors)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing writes; the write lock keeps sample ids dense and ordered."""
        with self.write_lock:
            cur = self.cur
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        with self._cursor_lock:
            for _thread, cur in self._cursors.values():
                with suppress(duckdb.Error):
                    cur.close()
            self._cursors.clear()
        self._conn.close()

    def _one(self, sql: str, params: list | None = None) -> dict | None:
        """One row as a dict of plain Python values (None for NULL), or None."""
        cur = self.cur.execute(sql, params or [])
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))

    def ping(self) -> bool:
        return self.cur.execute("SELECT 1").fetchone()[0] == 1

    # migrations ------------------------------------------------------------
    def migrate(self, n_features: int) -> list[int]:
        """Apply the migrations this file has not seen yet, each in its own transaction."""
        cur = self.cur
        cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
        done = {row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()}
        if done:
            n_features = int(cur.execute("SELECT value FROM workspace WHERE key = 'n_features'").fetchone()[0])
        applied = []
        for version, name, migration in MIGRATIONS:
            if version in done:
                continue
            with self.transaction() as tx:
                migration(tx, n_features)
                tx.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utcnow()])
            log.info("DuckDB migration %s applied: %s", version, name)
            applied.append(version)
        return applied

    def schema_version(self) -> int:
        return self.cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]

    # workspace settings ----------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self.cur.execute("SELECT value FROM workspace WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO workspace VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                [key, value, utcnow()],
            )

    def settings_map(self) -> dict[str, str]:
        return dict(self.cur.execute("SELECT key, value FROM workspace").fetchall())

    # datasets and samples ----------------------------------------------------
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
            last = first + n - 1
            dataset_id = tx.execute(
                """INSERT INTO datasets (name, source, scenario, strength, seed, n_rows, first_sample_id, last_sample_id, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING dataset_id""",
                [name, source, scenario, strength, seed, n, first, last, utcnow()],
            ).fetchone()[0]
            columns = {
                "sample_id": pa.array(np.arange(first, last + 1, dtype=np.int64)),
                "dataset_id": pa.array(np.full(n, dataset_id, dtype=np.int32)),
            }
            columns |= {name_: pa.array(np.ascontiguousarray(X[:, i], dtype=np.float64)) for i, name_ in enumerate(self.features)}
            columns[TARGET] = pa.array(np.asarray(y, dtype=np.int8))
            _insert_arrow(tx, "samples", pa.table(columns))
        return DatasetInfo(dataset_id, n, first, last)

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

    # models and their events -----------------------------------------------------
    def insert_model(self, record: dict) -> None:
        with self.transaction() as tx:
            _insert_row(tx, "models", record)

    def models(self) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM models ORDER BY version DESC").df()

    def model(self, version: int) -> dict | None:
        return self._one("SELECT * FROM models WHERE version = ?", [version])

    def champion_version(self) -> int | None:
        row = self.cur.execute("SELECT version FROM models WHERE status = 'champion'").fetchone()
        return row[0] if row else None

    @staticmethod
    def set_champion(tx: duckdb.DuckDBPyConnection, version: int, previous: int | None) -> None:
        """Inside a caller's transaction: the old champion is archived, `version` crowned."""
        if previous is not None:
            tx.execute("UPDATE models SET status = 'archived' WHERE version = ?", [previous])
        tx.execute("UPDATE models SET status = 'champion', promoted_at = ? WHERE version = ?", [utcnow(), version])

    @staticmethod
    def set_status(tx: duckdb.DuckDBPyConnection, version: int, status: str) -> None:
        tx.execute("UPDATE models SET status = ? WHERE version = ?", [status, version])

    @staticmethod
    def add_model_event(tx: duckdb.DuckDBPyConnection, event: dict) -> None:
        _insert_row(tx, "model_events", {"ts": utcnow(), **event})

    def model_events(self, limit: int = 200) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM model_events ORDER BY event_id DESC LIMIT ?", [limit]).df()

    # predictions ---------------------------------------------------------------
    def insert_predictions(self, batch: pa.Table) -> None:
        """Called by the serving flusher thread with many predictions at once."""
        with self.write_lock:
            _insert_arrow(self.cur, "predictions", batch)

    def recent_predictions(self, limit: int = 100) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM predictions ORDER BY ts DESC LIMIT ?", [limit]).df()

    def latency_percentiles(self, since: datetime | None = None) -> dict[str, float | None]:
        row = self.cur.execute(
            "SELECT count(*), quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95) FROM predictions WHERE ts >= ?",
            [since or datetime(1970, 1, 1)],
        ).fetchone()
        return {"count": row[0], "p50_ms": row[1], "p95_ms": row[2]}

    def prediction_features_since(self, since: datetime, until: datetime, limit: int) -> np.ndarray:
        """Inputs users sent for prediction in (since, until]: label-free data for drift."""
        cols = ", ".join(self.features)
        arrays = self.cur.execute(
            f"SELECT {cols} FROM predictions WHERE ts > ? AND ts <= ? ORDER BY ts DESC LIMIT ?", [since, until, limit]
        ).fetchnumpy()
        return np.column_stack([np.asarray(arrays[c], dtype=np.float64) for c in self.features])

    # monitoring cycles ------------------------------------------------------------
    def next_cycle_id(self) -> int:
        return self.cur.execute("SELECT nextval('cycle_id_seq')").fetchone()[0]

    def insert_cycle(self, record: dict, drift_rows: list[dict]) -> None:
        """The cycle and its per-feature drift results, together."""
        with self.transaction() as tx:
            _insert_row(tx, "cycles", record)
            if drift_rows:
                _insert_arrow(tx, "drift_results", pa.Table.from_pylist([{"cycle_id": record["cycle_id"], **r} for r in drift_rows]))

    def last_cycle_id(self) -> int:
        return self.cur.execute("SELECT coalesce(max(cycle_id), 0) FROM cycles").fetchone()[0]

    def last_cycle(self) -> dict | None:
        return self._one("SELECT * FROM cycles ORDER BY cycle_id DESC LIMIT 1")

    def cycles(self, limit: int = 100) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM cycles ORDER BY cycle_id DESC LIMIT ?", [limit]).df()

    def recent_drift_flags(self, limit: int) -> list[tuple[int, bool, int | None, bool]]:
        """(cycle_id, drifted, first_sample_id, promoted) of the newest cycles that saw data."""
        return self.cur.execute(
            """SELECT cycle_id, coalesce(dataset_drift, false) OR coalesce(performance_drift, false), first_sample_id,
                      coalesce(promoted, false)
               FROM cycles WHERE rows_seen > 0 ORDER BY cycle_id DESC LIMIT ?""",
            [limit],
        ).fetchall()

    def last_retrain_cycle(self) -> int | None:
        return self.cur.execute("SELECT max(cycle_id) FROM cycles WHERE decision = 'retrain'").fetchone()[0]

    def drift_results(self, cycle_id: int | None = None) -> pd.DataFrame:
        if cycle_id is None:
            cycle_id = self.cur.execute("SELECT max(cycle_id) FROM drift_results").fetchone()[0]
        return self.cur.execute("SELECT * FROM drift_results WHERE cycle_id = ? ORDER BY feature", [cycle_id]).df()

    # notifications -------------------------------------------------------------------
    def insert_notification(self, record: dict) -> int:
        with self.transaction() as tx:
            return _insert_row(tx, "notifications", record, returning="notification_id")

    def update_notification(self, notification_id: int, **values: object) -> None:
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as tx:
            tx.execute(f"UPDATE notifications SET {assignments} WHERE notification_id = ?", [*values.values(), notification_id])

    def notifications(self, limit: int = 100) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM notifications ORDER BY notification_id DESC LIMIT ?", [limit]).df()

    def notification(self, notification_id: int) -> dict | None:
        return self._one("SELECT * FROM notifications WHERE notification_id = ?", [notification_id])

    # health -----------------------------------------------------------------------------
    def insert_health(self, record: dict) -> None:
        with self.transaction() as tx:
            _insert_row(tx, "health_checks", record)

    def health_history(self, limit: int = 500) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM health_checks ORDER BY ts DESC LIMIT ?", [limit]).df()

    # views for the dashboard: aggregated in SQL so a chart never gets a million points ----
    def data_version(self) -> tuple:
        """Changes whenever the loop or a user writes something a page shows; keys the UI's caches."""
        return self.cur.execute(
            """SELECT (SELECT coalesce(max(cycle_id), 0) FROM cycles), (SELECT count(*) FROM models),
                      (SELECT coalesce(max(promoted_at), TIMESTAMP '1970-01-01') FROM models),
                      (SELECT coalesce(max(dataset_id), 0) FROM datasets), (SELECT count(*) FROM predictions),
                      (SELECT coalesce(max(notification_id), 0) FROM notifications), (SELECT count(*) FROM health_checks)"""
        ).fetchone()

    def accuracy_history(self, max_points: int = 400) -> pd.DataFrame:
        """Realised and estimated accuracy per cycle, averaged into at most `max_points` buckets."""
        return self.cur.execute(
            """WITH c AS (SELECT *, ntile(?) OVER (ORDER BY cycle_id) AS bucket FROM cycles WHERE rows_seen > 0)
               SELECT min(started_at) AS ts, min(cycle_id) AS first_cycle, max(cycle_id) AS last_cycle, count(*) AS cycles,
                      avg(realised_accuracy) AS realised, avg(estimated_accuracy) AS estimated,
                      bool_or(coalesce(dataset_drift, false) OR coalesce(performance_drift, false)) AS drift,
                      bool_or(coalesce(promoted, false)) AS promoted,
                      bool_or(new_version IS NOT NULL AND NOT coalesce(promoted, false)) AS rejected,
                      max(new_version) AS new_version, bool_or(status = 'error') AS error
               FROM c GROUP BY bucket ORDER BY ts""",
            [max_points],
        ).df()

    def drift_history(self, max_points: int = 300) -> pd.DataFrame:
        """Each feature's statistic and threshold over time, averaged into at most `max_points` buckets."""
        return self.cur.execute(
            """WITH d AS (SELECT r.*, c.started_at, dense_rank() OVER (ORDER BY r.cycle_id) AS k FROM drift_results r
                          JOIN cycles c USING (cycle_id)),
                    n AS (SELECT max(k) AS n FROM d)
               SELECT feature, min(started_at) AS ts, any_value(test) AS test, avg(statistic) AS statistic,
                      avg(p_value) AS p_value, avg(threshold) AS threshold, avg(psi) AS psi, bool_or(drifted) AS drifted
               FROM d, n GROUP BY feature, floor((k - 1) * ? / n.n) ORDER BY feature, ts""",
            [max_points],
        ).df()

    def latency_history(self, max_points: int = 200) -> pd.DataFrame:
        """Prediction count and latency p50/p95 per time bucket."""
        return self.cur.execute(
            """WITH p AS (SELECT ts, latency_ms, ntile(?) OVER (ORDER BY ts) AS bucket FROM predictions)
               SELECT min(ts) AS ts, count(*) AS predictions, quantile_cont(latency_ms, 0.5) AS p50_ms,
                      quantile_cont(latency_ms, 0.95) AS p95_ms
               FROM p GROUP BY bucket ORDER BY ts""",
            [max_points],
        ).df()

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

    # overview -------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        row = self.cur.execute(
            """SELECT (SELECT count(*) FROM datasets), (SELECT count(*) FROM samples),
                      (SELECT count(*) FROM models), (SELECT count(*) FROM predictions)"""
        ).fetchone()
        return dict(zip(("datasets", "samples", "models", "predictions"), row, strict=True))


def _insert_row(cur: duckdb.DuckDBPyConnection, table: str, record: dict, returning: str | None = None) -> object:
    """One row from a dict; column names come from our own code, values are bound parameters."""
    sql = f"INSERT INTO {table} ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})"
    if returning:
        return cur.execute(f"{sql} RETURNING {returning}", list(record.values())).fetchone()[0]
    cur.execute(sql, list(record.values()))
    return None


def _insert_arrow(cur: duckdb.DuckDBPyConnection, table: str, batch: pa.Table) -> None:
    """One bulk insert, columns matched by name so the Arrow order need not follow the table's."""
    cur.register("_arrow_batch", batch)
    try:
        cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _arrow_batch")
    finally:
        with suppress(duckdb.Error):  # an aborted transaction refuses this too; the insert's error matters
            cur.unregister("_arrow_batch")


def dumps_ids(ids: tuple[int, ...]) -> str:
    return json.dumps(list(ids))
