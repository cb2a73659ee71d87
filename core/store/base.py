"""The connection, per-thread cursors, transactions and migrations of the workspace file.

DuckDB allows one read-write process per file, so the process holds one connection
and hands each thread its own cursor. Every aggregate module builds on `StoreBase`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from core.domain.clock import utcnow
from core.domain.schema import Schema
from core.errors import UserInputError, WorkspaceClosedError, WorkspaceError, WorkspaceInUseError, plain_fault
from core.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the workspace file, turning DuckDB's lock and permission errors into ones a person can act on."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(path))
    except (duckdb.IOException, OSError) as exc:
        if "lock" not in str(exc).lower():
            raise WorkspaceError(f"Cannot open the workspace {path}: {plain_fault(exc).rstrip('.!')}. {_advice(exc)}") from None
        pid = re.search(r"PID (\d+)", str(exc))
        holder = f" (PID {pid.group(1)})" if pid else ""
        raise WorkspaceInUseError(
            f"The workspace {path} is in use by another process{holder}. DuckDB allows one process per file: "
            "stop the other app, or open another workspace."
        ) from None


def _advice(exc: Exception) -> str:
    """What a person can do about a file that will not open: a damaged file is not fixed by a writable folder."""
    if "not a valid DuckDB database" in str(exc):
        return "The file is not a DuckDB database (damaged, or another program's): restore it from a copy, or open another workspace."
    return "Make the folder writable or set IA_DATA_DIR to another folder."


def check_openable(path: Path) -> None:
    """Raise what opening the workspace file would (held by another process, unwritable) without keeping it open: a
    switch asks first, so the workspace it would leave stays served when the other cannot be opened."""
    connect(path).close()


class StoreBase:
    """The process's one DuckDB connection, one cursor per thread, and the migrations."""

    def __init__(self, path: Path, shape: int | Schema) -> None:
        """`shape` is the schema of a new workspace (a count of features: the synthetic one); an existing
        workspace keeps its own, and a different schema asked of one that has data is refused."""
        self.path = path
        self._closed = False
        self._conn = connect(path)
        self._local = threading.local()
        self._cursors: dict[int, tuple[threading.Thread, duckdb.DuckDBPyConnection]] = {}
        self._cursor_lock = threading.Lock()
        self.write_lock = threading.RLock()
        asked = Schema.demo(shape) if isinstance(shape, int) else shape
        self.migrate(asked)
        self._check_writable()
        self.schema = Schema.from_json(self.get_setting("schema"))
        self.n_features = len(self.schema.features)
        self.features = self.schema.storage
        if isinstance(shape, int) and self.schema.plain and self.n_features != shape:
            log.warning("IA_N_FEATURES=%s ignored: workspace %s was created with %s features", shape, path, self.n_features)
        elif not isinstance(shape, int) and shape != self.schema:
            self._conn.close()
            raise UserInputError("schema", f"the workspace {path} already has a schema and data: its columns cannot change")

    def _check_writable(self) -> None:
        """A folder that lets DuckDB open the file but not write its WAL fails at the first write:
        find that out at start, with the path and what to do, not in the middle of a cycle."""
        try:
            self.set_setting("opened_at", utcnow().isoformat())
        except (duckdb.Error, OSError) as exc:
            self._conn.close()
            raise WorkspaceError(
                f"The workspace {self.path} cannot be written: {plain_fault(exc)}. "
                "Make the data folder writable or set IA_DATA_DIR to another folder."
            ) from None

    # connection plumbing -------------------------------------------------
    @property
    def cur(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor. Streamlit runs every script run on a new thread, so cursors of
        finished threads are closed whenever a new one is made, keeping the count bounded."""
        if self._closed:
            raise WorkspaceClosedError()
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._conn.cursor()
            self._local.cursor = cur
            self.close_finished_cursors()
            with self._cursor_lock:
                self._cursors[threading.get_ident()] = (threading.current_thread(), cur)
        return cur

    def close_finished_cursors(self) -> None:
        """Close the cursors of threads that ended. A finished page run's cursor can hold its last result
        half-read, and with it a transaction that makes every CHECKPOINT fail until the cursor closes."""
        with self._cursor_lock:
            for ident, (thread, old) in list(self._cursors.items()):
                if not thread.is_alive():
                    with suppress(duckdb.Error):
                        old.close()
                    del self._cursors[ident]

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
                cur.execute("COMMIT")
            except BaseException:
                with suppress(duckdb.Error):  # a failed COMMIT (disk full) may have ended it already
                    cur.execute("ROLLBACK")
                raise

    @contextmanager
    def private_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction on a cursor of its own: for background writers (the prediction flusher),
        which must not depend on the state of their thread's shared cursor (an unfinished
        `fetchone()` result there makes DuckDB refuse to register an Arrow table)."""
        with self.write_lock:
            if self._closed:
                raise WorkspaceClosedError()
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    yield cur
                    cur.execute("COMMIT")
                except BaseException:
                    with suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                    raise
            finally:
                cur.close()

    def close(self) -> None:
        self._closed = True
        with self._cursor_lock:
            for _thread, cur in self._cursors.values():
                with suppress(duckdb.Error):
                    cur.close()
            self._cursors.clear()
        self._conn.close()

    def _one(self, sql: str, params: list | None = None) -> dict | None:
        """One row as a dict of plain Python values (None for NULL), or None."""
        cur = self.cur.execute(sql, params or [])
        rows = cur.fetchall()  # all of it: a half-read result keeps its transaction open
        return None if not rows else dict(zip([d[0] for d in cur.description], rows[0], strict=True))

    def ping(self) -> bool:
        return self.cur.execute("SELECT 1").fetchone()[0] == 1

    # migrations ------------------------------------------------------------
    def migrate(self, schema: Schema) -> list[int]:
        """Apply the migrations this file has not seen yet, each in its own transaction."""
        cur = self.cur
        cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
        done = {row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()}
        if done:
            stored = dict(cur.execute("SELECT key, value FROM workspace WHERE key IN ('schema', 'n_features')").fetchall())
            schema = Schema.from_json(stored["schema"]) if "schema" in stored else Schema.demo(int(stored["n_features"]))
        applied = []
        for version, name, migration in MIGRATIONS:
            if version in done:
                continue
            with self.transaction() as tx:
                migration(tx, schema)
                tx.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utcnow()])
            log.info("DuckDB migration %s applied: %s", version, name)
            applied.append(version)
        return applied

    def schema_version(self) -> int:
        return self.cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]

    # workspace settings ----------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        rows = self.cur.execute("SELECT value FROM workspace WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else default

    def set_setting(self, key: str, value: str) -> None:
        self.set_settings({key: value})

    def set_settings(self, values: dict[str, str]) -> None:
        """Several settings in one transaction: all of them or none."""
        with self.transaction() as tx:
            for key, value in values.items():
                upsert_setting(tx, key, value)

    def settings_map(self) -> dict[str, str]:
        return dict(self.cur.execute("SELECT key, value FROM workspace").fetchall())


def upsert_setting(tx: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    tx.execute(
        "INSERT INTO workspace VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [key, value, utcnow()],
    )


def quoted(name: str) -> str:
    """A user's column name as a SQL identifier (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def plain(value: object) -> object:
    """A value as DuckDB binds it: numpy and pandas scalars become Python's (a `numpy.bool` from a drift test
    is refused by DuckDB's binder, and Arrow makes a column of it an object), pandas' missing markers (NaT,
    pd.NA) become NULL. Every record a query takes as a dict passes through here, so no computation upstream
    needs to remember it."""
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, pd.Timedelta):
        return value.to_pytimedelta()
    if isinstance(value, np.datetime64 | np.timedelta64):
        return None if np.isnat(value) else plain(pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


def plain_record(record: Mapping[str, object]) -> dict[str, object]:
    return {key: plain(value) for key, value in record.items()}


def insert_row(cur: duckdb.DuckDBPyConnection, table: str, record: Mapping[str, object], returning: str | None = None) -> object:
    """One row from a dict; column names come from our own code, values are bound parameters (made plain)."""
    values = list(plain_record(record).values())
    sql = f"INSERT INTO {table} ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})"
    if returning:
        return cur.execute(f"{sql} RETURNING {returning}", values).fetchone()[0]
    cur.execute(sql, values)
    return None


def insert_records(cur: duckdb.DuckDBPyConnection, table: str, records: Iterable[Mapping[str, object]]) -> None:
    """Many rows from dicts in one bulk insert, each value made plain first."""
    rows = [plain_record(r) for r in records]
    if rows:
        insert_arrow(cur, table, pa.Table.from_pylist(rows))


def insert_arrow(cur: duckdb.DuckDBPyConnection, table: str, batch: pa.Table) -> None:
    """One bulk insert, columns matched by name so the Arrow order need not follow the table's."""
    cur.register("_arrow_batch", batch)
    try:
        cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _arrow_batch")
    finally:
        with suppress(duckdb.Error):  # an aborted transaction refuses this too; the insert's error matters
            cur.unregister("_arrow_batch")
