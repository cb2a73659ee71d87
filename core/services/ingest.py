"""A replica's forwarded prediction batch, checked before the workbench stores it.

A replica sends the rows its journal holds, in the prediction log's own columns (`core.store.prediction_rows`),
as an Arrow IPC stream. The workbench checks them as strictly as a user's upload: the columns exactly
(an unknown one is refused, not dropped), their types, each value's range, and the names that make a
batch idempotent (the replica and the batch id). A refusal names the field and changes nothing stored.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.domain.prediction_ids import MAX_ID_LENGTH
from core.domain.schema import Schema
from core.domain.validation import shown
from core.errors import UserInputError
from core.store import Store
from core.store.prediction_rows import LOG_COLUMNS

ARROW_STREAM = "application/vnd.apache.arrow.stream"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit"
REPLICA_HEADER, BATCH_HEADER = "X-IA-Replica", "X-IA-Batch"


def checked_name(value: str | None, field: str) -> str:
    if not value or not NAME.fullmatch(value):
        raise UserInputError(field, f"{shown(value)} is not a valid name: {NAME_RULE}")
    return value


def read_batch(body: bytes, schema: Schema, max_rows: int) -> pa.Table:
    """The batch in the log's columns and types, every value checked; raises UserInputError naming the column."""
    try:
        table = pa.ipc.open_stream(body).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise UserInputError("body", f"not an Arrow IPC stream ({str(exc)[:120]})") from None
    if table.num_rows == 0:
        raise UserInputError("body", "the batch has no rows")
    if table.num_rows > max_rows:
        raise UserInputError("body", f"{table.num_rows:,} rows is more than the limit of {max_rows:,} per request")
    wanted = expected_types(schema)
    unknown = [name for name in table.column_names if name not in wanted]
    if unknown:
        raise UserInputError(unknown[0], f"unknown column: a forwarded batch has only {', '.join(wanted)}")
    missing = [name for name in wanted if name not in table.column_names]
    if missing:
        raise UserInputError(missing[0], "column missing from the forwarded batch")
    columns = {name: _cast(table.column(name), kind, name) for name, kind in wanted.items()}
    _check_values(columns, schema)
    return pa.table(columns)


def expected_types(schema: Schema) -> dict[str, pa.DataType]:
    features = {s: pa.float64() if c.kind == "numeric" else pa.string() for s, c in zip(schema.storage, schema.features, strict=True)}
    return {**LOG_COLUMNS, **features}


def _cast(column: pa.ChunkedArray, kind: pa.DataType, name: str) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_string(kind) != (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise UserInputError(name, f"expected {kind}, got {column.type}")
    try:
        return column.cast(kind, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UserInputError(name, f"expected {kind}, got {column.type} ({str(exc)[:80]})") from None


def _check_values(columns: dict[str, pa.ChunkedArray], schema: Schema) -> None:
    for name in ("ts", "model_version", "prediction", "confidence", "latency_ms", "source", "prediction_id"):
        if columns[name].null_count:
            raise UserInputError(name, "a forwarded row has no value here")
    _within(columns["model_version"], "model_version", 1, 2**31 - 1)
    _within(columns["prediction"], "prediction", 0, len(schema.classes) - 1)
    _within(columns["confidence"], "confidence", 0.0, 1.0)
    _within(columns["latency_ms"], "latency_ms", 0.0, 3.6e6)
    longest = pc.max(pc.utf8_length(columns["prediction_id"])).as_py()
    if longest > MAX_ID_LENGTH or pc.min(pc.utf8_length(columns["prediction_id"])).as_py() < 1:
        raise UserInputError("prediction_id", f"an id must be 1 to {MAX_ID_LENGTH} characters")
    if pc.max(pc.utf8_length(columns["source"])).as_py() > 32:
        raise UserInputError("source", "at most 32 characters")
    for column, storage in zip(schema.features, schema.storage, strict=True):
        values = columns[storage]
        if values.null_count and not column.missing:
            raise UserInputError(column.name, "missing values are not allowed in this column")
        if column.kind == "numeric" and values.length() > values.null_count:
            numbers = values.to_numpy(zero_copy_only=False)
            if not np.isfinite(numbers[~np.isnan(numbers)]).all():
                raise UserInputError(column.name, "values must be finite numbers")


def _within(column: pa.ChunkedArray, name: str, low: float, high: float) -> None:
    if pa.types.is_floating(column.type) and not np.isfinite(column.to_numpy(zero_copy_only=False)).all():
        raise UserInputError(name, "values must be finite numbers")
    least, most = pc.min(column).as_py(), pc.max(column).as_py()
    if least < low or most > high:
        raise UserInputError(name, f"values must be between {low} and {high} (got {shown(least)} to {shown(most)})")


def store_forwarded(store: Store, max_rows: int, replica: str | None, batch_id: str | None, body: bytes) -> dict[str, object]:
    """A serving replica's prediction batch, stored once with the replica named on each row: the drift tests,
    feedback and charts then see that traffic as if it had been served here."""
    replica, batch_id = checked_name(replica, REPLICA_HEADER), checked_name(batch_id, BATCH_HEADER)
    batch = read_batch(body, store.schema, max_rows)
    stored = store.insert_forwarded(replica, batch_id, batch)
    return {"replica": replica, "batch": batch_id, "rows": batch.num_rows, "stored": stored}
