"""The predictor: the cached champion, input validation, predictions and their log.

The champion is loaded once and reloaded only when the registry's champion pointer
moves. Predictions are appended to an in-memory buffer that a flusher thread hands,
in batches, to a log writer (the workbench's DuckDB, `StoreLog`, or a replica's
forwarder, `core.replica.forwarder`), so a caller never waits on an insert; each is
first appended to the journal (`core.store.journal`), so none that was answered is lost to
a crash, and a prediction that cannot be journalled is an error, not an answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd

from core.data.table_check import checked_rows, named_rows, plain_rows
from core.domain.clock import EPOCH
from core.domain.features import RENAMED_INPUTS, RESULT_COLUMNS, UNSEEN_COLUMN, inputs_beside
from core.domain.outcomes import version_label
from core.domain.prediction_ids import checked_id, checked_ids, expand_ids, new_id
from core.domain.schema import ClassLabel, Schema
from core.domain.validation import shown
from core.errors import NoModelError, UserInputError, WorkspaceClosedError, plain_fault
from core.ml.row_model import RowModel
from core.store import Store, utcnow
from core.store.journal import Entry, Journal, read_segment
from core.store.prediction_rows import confidence_of, entries_table, labels_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    prediction: int  # the class's index
    confidence: float
    model_version: int
    timestamp: datetime
    latency_ms: float
    label: ClassLabel | None = None  # the class as the user wrote it (the index itself for the demo's 0/1)
    probabilities: tuple[float, ...] = ()  # every class's, in the schema's order
    classes: tuple[ClassLabel, ...] = (0, 1)
    prediction_id: str = ""
    unseen: tuple[str, ...] = ()  # the columns whose category the model never saw in training

    @property
    def version_label(self) -> str:
        return version_label(self.model_version)

    @property
    def probability(self) -> float:
        """Probability of class 1."""
        return self.confidence if self.prediction == 1 else 1.0 - self.confidence

    def as_dict(self) -> dict[str, object]:
        return {
            "prediction": self.prediction if self.label is None else self.label,
            "confidence": self.confidence,
            "model_version": self.version_label,
            "timestamp": self.timestamp.isoformat() + "Z",
            "latency_ms": self.latency_ms,
            "prediction_id": self.prediction_id,
        }


@dataclass(frozen=True)
class BatchPrediction:
    """Class-1 probabilities; labels and confidence are derived when asked for, off the request path."""

    proba: np.ndarray  # class 1's probability per row, or every class's (a table with more than two classes)
    model_version: int
    timestamp: datetime
    latency_ms: float
    classes: tuple[ClassLabel, ...] = (0, 1)
    ids: list[str] | str = ""  # each row's id, or the batch's made id (rows are `<id>-<row>`)
    unseen: list[list[str]] | None = None  # per row, the columns whose category the model never saw in training

    @cached_property
    def prediction_ids(self) -> list[str]:
        return expand_ids(self.ids, len(self.proba))

    @cached_property
    def predictions(self) -> np.ndarray:
        return labels_of(self.proba)

    @cached_property
    def confidence(self) -> np.ndarray:
        return confidence_of(self.proba)

    @property
    def labels(self) -> list[ClassLabel]:
        return [self.classes[i] for i in self.predictions]

    def to_frame(self, X: np.ndarray | pd.DataFrame, feature_columns: list[str]) -> pd.DataFrame:
        """The inputs and what was predicted, one row each; an input named like one of the results' columns is
        renamed "name (input)" rather than overwritten (a user's `timestamp` or `confidence` column)."""
        frame = X.copy() if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=feature_columns)
        renamed = inputs_beside(frame.columns, RESULT_COLUMNS)
        frame = frame.rename(columns=renamed)
        frame["prediction"] = self.labels
        frame["confidence"] = self.confidence
        frame["model_version"] = version_label(self.model_version)
        frame["timestamp"] = self.timestamp
        frame["prediction_id"] = self.prediction_ids
        if self.unseen is not None:  # a table's categories: which of the row's the model never saw (read as none of its own)
            frame[UNSEEN_COLUMN] = [[renamed.get(c, c) for c in columns] for columns in self.unseen]
        frame.attrs[RENAMED_INPUTS] = {name: shown for name, shown in renamed.items() if name != shown}  # what a page says
        return frame


class Workspace(Protocol):
    """What serving needs of the workspace it serves: its schema (a `Store`, or a replica's follower)."""

    schema: Schema


class Champion(Protocol):
    """The version to serve and its model (the workbench's `ModelRegistry`, or a replica's follower)."""

    champion_version: int | None

    def load(self, version: int) -> object: ...


class LogWriter(Protocol):
    """Where flushed predictions go. `write` owns the entries' journal segments once it returns (a raise keeps
    both for the next flush); `replay` takes the segments a stop left behind; `taken_ids` says which
    client ids are already stored."""

    def write(self, entries: list[Entry], segments: list[str]) -> None: ...

    def replay(self) -> int: ...

    def taken_ids(self, ids: list[str]) -> list[str]: ...


class StoreLog:
    """The workbench's writer: each flush is one DuckDB insert that also marks its segments applied, so a replay
    after a crash between the insert and the files' deletion inserts nothing twice."""

    def __init__(self, store: Store, journal: Journal) -> None:
        self.store, self.journal = store, journal

    def write(self, entries: list[Entry], segments: list[str]) -> None:
        self.store.insert_predictions(entries_table(entries, self.store.schema), segments)
        self._finish(segments)

    def replay(self) -> int:
        applied = self.store.applied_segments()
        rows = 0
        for path in self.journal.segments():
            if path.name not in applied:
                entries = read_segment(path)
                if entries:
                    self.store.insert_predictions(entries_table(entries, self.store.schema), [path.name])
                    rows += sum(len(e.proba) for e in entries)
            self._finish([path.name])
        self.store.forget_segments(sorted(applied - {p.name for p in self.journal.segments()}))
        return rows

    def taken_ids(self, ids: list[str]) -> list[str]:
        return self.store.taken_prediction_ids(ids)

    def _finish(self, names: list[str]) -> None:
        """A segment's applied mark goes with its file: one the folder would not let go keeps it, so no replay
        stores it again, until a later flush deletes it."""
        deleted = self.journal.remove(names)
        try:
            self.store.forget_segments(deleted)
        except Exception:  # harmless: a stale mark is cleared at the next start
            log.warning("could not clear journal marks %s", deleted)


class Predictor:
    """Serves the champion; thread-safe; one per process (built by the runtime, or a replica)."""

    def __init__(
        self,
        workspace: Workspace,
        registry: Champion,
        max_rows: int,
        flush_rows: int,
        flush_seconds: float,
        max_abs: float = 1e12,
        journal: Journal | None = None,
        writer: LogWriter | None = None,
    ) -> None:
        self.store = workspace
        self.registry = registry
        self.max_rows = max_rows
        self.max_abs = max_abs
        self.flush_rows = flush_rows
        self.journal = journal or Journal(workspace.path.parent / "journal")
        self.writer = writer or StoreLog(workspace, self.journal)
        self._model_lock = threading.Lock()
        self._loaded: tuple[int, object] | None = None
        self._row_model: tuple[object, RowModel | None] | None = None  # the loaded model and its arrays
        self._buffer: list[Entry] = []
        self._buffered_rows = 0
        self._pending: list[Entry] = []
        self._pending_segments: list[str] = []
        self._buffer_lock = threading.Lock()
        self._ids_lock = threading.Lock()
        self._client_ids: set[str] = set()  # clients' own ids not yet written (their uniqueness is checked here)
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._closed = False
        self.flush_failures = 0
        self.last_flush_error: str | None = None
        self.replayed = self.replay()
        self._flusher = threading.Thread(target=self._flush_loop, args=(flush_seconds,), name="prediction-log-flusher", daemon=True)
        self._flusher.start()

    # model -----------------------------------------------------------------
    def model(self) -> tuple[int, object]:
        """The champion, loading it only when the registry's pointer has moved."""
        wanted = self.registry.champion_version
        loaded = self._loaded
        if loaded is not None and loaded[0] == wanted:
            return loaded
        if wanted is None:
            raise NoModelError()
        with self._model_lock:
            if self._loaded is None or self._loaded[0] != wanted:
                self._loaded = (wanted, self.registry.load(wanted))
                log.info("serving %s", version_label(wanted))
            return self._loaded

    def _row_model_of(self, model: object) -> RowModel | None:
        """The model's arrays for one-row scoring, made once per loaded model (by identity, so a version
        number reused by a new workspace cannot pick up the old arrays)."""
        cached = self._row_model
        if cached is None or cached[0] is not model:
            cached = (model, RowModel.of(model, self.store.schema))
            self._row_model = cached
        return cached[1]

    # predictions ---------------------------------------------------------------
    def predict_one(self, features: object, source: str = "api", prediction_id: object = None) -> Prediction:
        """One row; `prediction_id` is the client's own id for it (unique in the workspace), else one is made."""
        start = time.perf_counter()
        schema = self.store.schema
        given = None if prediction_id is None else checked_id(prediction_id)
        if not schema.plain:
            return self._predict_table_row(features, source, start, given)
        X = self._rows(features, 1, "features")
        version, model = self.model()
        row_model = self._row_model_of(model)
        proba = row_model.proba_of_numbers(X[0]) if row_model is not None else model.predict_proba(X)[0]
        index = int(proba[1] >= 0.5)  # the demo's two classes; a table's rows take _predict_table_row
        now = utcnow()
        latency = (time.perf_counter() - start) * 1000
        ids = [given] if given else [new_id()]
        self._log(now, version, X, proba[1:], latency, source, ids, claimed=given is not None)
        return Prediction(index, float(proba[index]), version, now, latency, schema.classes[index], tuple(float(p) for p in proba),
                          schema.classes, ids[0])  # fmt: skip

    def _predict_table_row(self, features: object, source: str, start: float, given: str | None) -> Prediction:
        """One row of a table, scored from the pipeline's arrays (`core.ml.row_model`): no one-row DataFrame."""
        schema = self.store.schema
        columns = checked_rows(features, schema, 1, self.max_abs)
        values = {name: column[0] for name, column in columns.items()}
        version, model = self.model()
        row_model = self._row_model_of(model)  # a table's models are build_pipeline's: never without arrays
        proba = row_model.proba(values)
        index = int(proba[1] >= 0.5) if proba.shape[0] == 2 else int(proba.argmax())
        now = utcnow()
        latency = (time.perf_counter() - start) * 1000
        ids = [given] if given else [new_id()]
        entry = table_entry(_micros(now), version, columns, proba.reshape(1, -1), latency, source, schema, ids)
        self._append(entry, 1, ids if given else None)
        return Prediction(index, float(proba[index]), version, now, latency, schema.classes[index], tuple(float(p) for p in proba),
                          schema.classes, ids[0], tuple(row_model.unseen(values)))  # fmt: skip

    def predict_batch(self, rows: object, source: str = "batch", prediction_ids: object = None) -> BatchPrediction:
        """Many rows; `prediction_ids` are the client's own, one per row, else the batch gets a made id."""
        start = time.perf_counter()
        schema = self.store.schema
        X = self._rows(rows, self.max_rows, "batch")
        given = None if prediction_ids is None else checked_ids(prediction_ids, len(X))
        version, model = self.model()
        row_model = self._row_model_of(model)
        if schema.plain and row_model is not None:
            scores = proba = row_model.scores_of_numbers(X)
        else:
            scores = model.predict_proba(X)
            proba = scores[:, 1] if scores.shape[1] == 2 else scores
        now = utcnow()
        latency = (time.perf_counter() - start) * 1000
        ids = given if given is not None else new_id()
        self._log(now, version, X, proba if schema.plain else scores, latency / len(proba), source, ids, claimed=given is not None)
        tabular = None if schema.plain else row_model
        unseen = tabular.unseen_rows(X) if tabular is not None else None  # no categories: nothing can be unseen
        return BatchPrediction(proba, version, now, latency, schema.classes, ids, unseen)

    def _rows(self, rows: object, max_rows: int, field: str) -> np.ndarray | pd.DataFrame:
        """Float rows for the synthetic schema (a list, or named values), or a table checked by the schema."""
        schema = self.store.schema
        if not schema.plain:
            if isinstance(rows, pd.DataFrame):  # a file already checked by the schema (core.data.table_check.encode)
                if len(rows) > max_rows:
                    raise UserInputError(field, f"{len(rows):,} rows is more than the limit of {max_rows:,} per request")
                return rows
            return named_rows(rows, schema, max_rows, self.max_abs, field)
        return plain_rows(rows, schema, max_rows, self.max_abs, field)

    # the prediction log ----------------------------------------------------------
    def _log(
        self, ts: datetime, version: int, X: np.ndarray | pd.DataFrame, proba: np.ndarray, latency_ms: float, source: str,
        ids: list[str] | str, claimed: bool = False,
    ) -> None:  # fmt: skip
        """Journal, then buffer; raises StorageError (and buffers nothing) when the journal write fails."""
        if isinstance(X, pd.DataFrame):
            entry = table_entry(_micros(ts), version, X, proba, latency_ms, source, self.store.schema, ids)
        else:
            entry = Entry(_micros(ts), version, X, proba, latency_ms, source, ids=ids)
        self._append(entry, len(proba), ids if claimed else None)

    def _append(self, entry: Entry, rows: int, client_ids: list[str] | None = None) -> None:
        """Journal and buffer; a client's own ids are checked unique and held until the flush writes them."""
        with self._ids_lock if client_ids else nullcontext():
            if client_ids:
                self._refuse_taken(client_ids)
            with self._buffer_lock:
                if self._closed:  # its workspace closed: a prediction written now would land in the one left
                    raise WorkspaceClosedError()
                self.journal.append(entry)
                self._buffer.append(entry)
                self._buffered_rows += rows
                full = self._buffered_rows >= self.flush_rows
                if client_ids:
                    self._client_ids.update(client_ids)
        if full:
            self._wake.set()

    def _refuse_taken(self, ids: list[str]) -> None:
        taken = [i for i in ids if i in self._client_ids] or self.writer.taken_ids(ids)
        if taken:
            field = "prediction_id" if len(ids) == 1 else "prediction_ids"
            raise UserInputError(field, f"{shown(taken[0])} is already the id of a prediction in this workspace: ids must be unique")

    def _flush_loop(self, interval: float) -> None:
        while not self._stopping.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write everything buffered in one insert; returns the rows written.

        Serialised, so a caller that flushes also waits for an insert already under way. A failed
        insert keeps the predictions (in memory and in their journal segments) for the next flush.
        """
        with self._flush_lock:
            with self._buffer_lock:
                entries, self._buffer, self._buffered_rows = self._buffer, [], 0
                self._pending_segments += self.journal.rotate()
            self._pending += entries
            if not self._pending:
                return 0
            rows = sum(len(e.proba) for e in self._pending)
            try:
                self.writer.write(self._pending, self._pending_segments)
            except Exception as exc:
                self.flush_failures += 1
                self.last_flush_error = plain_fault(exc)
                log.error("could not write %s predictions to the log (kept for the next flush): %s", rows, exc)
                return 0
            if self._client_ids:  # clients' own ids are written now: the writer's lookup answers for them
                written = {i for e in self._pending if isinstance(e.ids, list) for i in e.ids}
                with self._buffer_lock:
                    self._client_ids -= written
            self._pending, self._pending_segments, self.last_flush_error = [], [], None
            return rows

    def replay(self) -> int:
        """At start: the predictions of journal segments a stop left behind, handed to the writer; returns the rows."""
        rows = self.writer.replay()
        if rows:
            log.warning("replayed %s acknowledged predictions from the journal (the last run stopped before writing them)", rows)
        return rows

    def close(self) -> None:
        """Refuse new predictions, stop the flusher and write what is left."""
        with self._buffer_lock:
            self._closed = True
        self._stopping.set()
        self._wake.set()
        self._flusher.join(timeout=10)
        self.flush()
        self.journal.close()


def _micros(ts: datetime) -> int:
    """Naive UTC datetime to microseconds since the epoch, exactly (no float rounding)."""
    return (ts - EPOCH) // timedelta(microseconds=1)


def table_entry(
    ts_us: int, version: int, columns: Mapping[str, Sequence], proba: np.ndarray, latency_ms: float, source: str, schema: Schema,
    ids: list[str] | str | None = None,
) -> Entry:  # fmt: skip
    """A table's rows (a DataFrame, or each column's values) as a journal entry: its numeric columns as floats,
    its categories as text."""
    rows = proba.shape[0]
    numbers = np.column_stack([np.asarray(columns[n], dtype=np.float64) for n in schema.numeric]) if schema.numeric else np.empty((rows, 0))
    text = [[v if isinstance(v, str) else None for v in columns[name]] for name in schema.categorical]
    return Entry(ts_us, version, numbers, proba, latency_ms, source, text, ids)
