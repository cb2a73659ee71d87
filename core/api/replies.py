"""Reply bodies built once, for the routes and for the /predict fast path alike."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from core.api.schemas import DatasetReply
from core.domain.outcomes import status_label, version_label
from core.services.predictor import Prediction
from core.store import DatasetInfo


def prediction(result: Prediction) -> dict[str, Any]:
    """The PredictReply body."""
    two = len(result.probabilities) <= 2
    return {
        "prediction": result.prediction if result.label is None else result.label, "confidence": result.confidence,
        "probability": result.probability if two else None,
        "probabilities": {str(c): p for c, p in zip(result.classes, result.probabilities, strict=True)},
        "model_version": result.version_label, "timestamp": result.timestamp.isoformat() + "Z", "prediction_id": result.prediction_id,
        "unseen": list(result.unseen),
    }  # fmt: skip


def dataset(info: DatasetInfo, timestamp: str) -> DatasetReply:
    return DatasetReply(
        dataset_id=info.dataset_id, samples_created=info.n_rows, first_sample_id=info.first_sample_id,
        last_sample_id=info.last_sample_id, timestamp=timestamp, duplicate_of=info.duplicate_of,
    )  # fmt: skip


# Columns the store keeps as JSON text: a reply carries them as JSON (a list, an object), not as a string a caller
# must parse a second time.
JSON_TEXT = frozenset({"step_ms", "signals", "reference", "realised_versions", "dataset_ids", "tags"})


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-safe rows: timestamps in ISO 8601, NaN as null."""
    return json.loads(frame.to_json(orient="records", date_format="iso")) if not frame.empty else []


def stored(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One of the store's own tables (cycles, models, datasets) as `records`, its JSON text as JSON. Never a user's
    table: a column of theirs named `tags` is their text (a review of the change that decoded it everywhere)."""
    rows = records(frame)
    nested = JSON_TEXT.intersection(frame.columns)
    for row in rows if nested else ():
        row.update({name: _parsed(row[name]) for name in nested if isinstance(row[name], str)})
    return rows


def _parsed(text: str) -> Any:
    """The stored JSON text as JSON; an empty or unreadable one (a row older than its column's format) as it is."""
    try:
        return json.loads(text)
    except ValueError:
        return text or None


def record(row: dict[str, Any]) -> dict[str, Any]:
    """One row of the store's own tables, as `stored` gives them."""
    return stored(pd.DataFrame([row]))[0]


def model_row(row: dict[str, Any]) -> dict[str, Any]:
    """A version as GET /models returns it: `status` the stored value scripts compare with ("archived"), `status_label`
    the words the dashboard shows ("former champion")."""
    return {
        **row,
        "version": version_label(row["version"]),
        "registry_version": row["version"],
        "status_label": status_label(row["status"], bool(row.get("superseded"))),
    }
