"""Journal entries as the prediction log's rows (Arrow): one conversion for the workbench's DuckDB insert
and a replica's forwarded batches, so both store exactly the same columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.domain.schema import Schema
from core.store.journal import Entry

# The log's columns besides the features, with the Arrow type each must have (a forwarded batch is checked against them).
LOG_COLUMNS: dict[str, pa.DataType] = {
    "ts": pa.timestamp("us"),
    "model_version": pa.int32(),
    "prediction": pa.int8(),
    "confidence": pa.float64(),
    "latency_ms": pa.float64(),
    "source": pa.string(),
    "prediction_id": pa.string(),
}


def labels_of(proba: np.ndarray) -> np.ndarray:
    """Class indices from class 1's probability, or from every class's (more than two classes)."""
    if proba.ndim == 2:
        return (proba[:, 1] >= 0.5).astype(np.int8) if proba.shape[1] == 2 else proba.argmax(axis=1).astype(np.int8)
    return (proba >= 0.5).astype(np.int8)


def confidence_of(proba: np.ndarray) -> np.ndarray:
    """The max class probability."""
    return proba.max(axis=1) if proba.ndim == 2 else np.maximum(proba, 1.0 - proba)


def feature_arrays(X: np.ndarray | pd.DataFrame, schema: Schema) -> dict[str, pa.Array]:
    """The feature columns as Arrow arrays under their storage names: floats (NULL where NaN in a
    user's table) or text."""
    if isinstance(X, np.ndarray):
        return {name: pa.array(np.ascontiguousarray(X[:, i], dtype=np.float64)) for i, name in enumerate(schema.storage)}
    arrays = {}
    for column, storage in zip(schema.features, schema.storage, strict=True):
        values = X[column.name]
        if column.kind == "numeric":
            numbers = values.to_numpy(dtype=np.float64)
            arrays[storage] = pa.array(numbers, mask=np.isnan(numbers))
        else:
            arrays[storage] = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)  # NaN is null
    return arrays


def entries_table(entries: list[Entry], schema: Schema) -> pa.Table:
    """The rows of `entries` in the prediction log's columns."""
    sizes = [len(e.proba) for e in entries]
    proba = np.concatenate([e.proba for e in entries])
    columns = {
        "ts": pa.array(np.repeat(np.array([e.ts_us for e in entries], dtype="datetime64[us]"), sizes)),
        "model_version": pa.array(np.repeat([e.version for e in entries], sizes).astype(np.int32)),
        **_feature_columns(entries, schema),
        "prediction": pa.array(labels_of(proba)),
        "confidence": pa.array(confidence_of(proba)),
        "latency_ms": pa.array(np.repeat([e.latency_ms for e in entries], sizes).astype(np.float64)),
        "source": _repeated_strings([e.source for e in entries], sizes),
        "prediction_id": _prediction_ids(entries),
    }
    return pa.table(columns)


def _feature_columns(entries: list[Entry], schema: Schema) -> dict[str, pa.Array]:
    if schema.plain:
        return feature_arrays(np.concatenate([e.X for e in entries]), schema)
    numbers = np.concatenate([e.X for e in entries])
    texts = [[v for e in entries for v in e.text[i]] for i in range(len(schema.categorical))]
    table = {name: numbers[:, i] for i, name in enumerate(schema.numeric)}
    table |= {name: np.array([np.nan if v is None else v for v in texts[i]], dtype=object) for i, name in enumerate(schema.categorical)}
    return feature_arrays(pd.DataFrame(table, columns=schema.names), schema)


def _prediction_ids(entries: list[Entry]) -> pa.Array:
    """Every row's id: a client's or a single row's as given, gathered into one array (a flush of one-row
    predictions is thousands of entries); a made batch id expanded to `<id>-<row>` in Arrow, not in Python."""
    parts: list[pa.Array] = []
    given: list[str | None] = []
    for e in entries:
        if isinstance(e.ids, str):  # the same ids as `expand_ids`, joined by Arrow
            if given:
                parts.append(pa.array(given, type=pa.string()))
                given = []
            rows = pc.cast(pa.array(np.arange(e.proba.shape[0])), pa.string())
            parts.append(pc.binary_join_element_wise(e.ids, rows, "-"))
        else:
            given += e.prediction_ids()
    if given or not parts:
        parts.append(pa.array(given, type=pa.string()))
    return parts[0] if len(parts) == 1 else pa.concat_arrays(parts)


def _repeated_strings(values: list[str], sizes: list[int]) -> pa.Array:
    """Dictionary-encoded, so a million-row batch costs one index array, not a million strings."""
    names = sorted(set(values))
    code = {name: i for i, name in enumerate(names)}
    codes = np.repeat(np.fromiter((code[v] for v in values), np.int32, len(values)), sizes)
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names))
