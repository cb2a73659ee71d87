"""Prediction ids: made here when the client sends none, checked here when it does.

A made id is 32 hex digits whose first 12 are the milliseconds since the epoch (UUIDv7's layout), so
ids sort by time and a label sent for an id the log has already archived can be told apart from one
for an id that never existed. A batch gets one such id and its rows `<id>-<row>`, built in the
flusher, so a million-row batch does not make a million strings on the request path.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timedelta

from core.domain.clock import EPOCH
from core.domain.validation import shown
from core.errors import UserInputError

MAX_ID_LENGTH = 128
CLIENT_ID_PATTERN = rf"^[\x21-\x7e]{{1,{MAX_ID_LENGTH}}}$"  # printable ASCII, no spaces: ids travel in CSV files and URLs
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)
_MADE = re.compile(r"([0-9a-f]{12})[0-9a-f]{20}(-\d+)?")


def new_id() -> str:
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def row_id(batch_id: str, row: int) -> str:
    return f"{batch_id}-{row}"


def expand_ids(ids: list[str] | str | None, n_rows: int) -> list[str | None]:
    """Each row's id from what a prediction carries: the ids themselves, a batch's made id, or none (older logs)."""
    if isinstance(ids, str):
        return [row_id(ids, i) for i in range(n_rows)]
    return list(ids) if ids is not None else [None] * n_rows


def issued_at(prediction_id: str) -> datetime | None:
    """When a made id was issued (naive UTC); None for a client's own id."""
    found = _MADE.fullmatch(prediction_id)
    return None if found is None else EPOCH + timedelta(milliseconds=int(found.group(1), 16))


def checked_id(value: object, field: str = "prediction_id") -> str:
    """A prediction id as a client may send it: 1 to 128 printable characters without spaces."""
    if not isinstance(value, str):
        raise UserInputError(field, f"expected a string of 1 to {MAX_ID_LENGTH} characters, got {shown(value)}")
    if len(value) > MAX_ID_LENGTH:
        raise UserInputError(field, f"{len(value):,} characters is longer than the limit of {MAX_ID_LENGTH}")
    if not _CLIENT_ID.fullmatch(value):
        raise UserInputError(field, f"{shown(value)}: use 1 to {MAX_ID_LENGTH} printable characters without spaces")
    return value


def checked_ids(values: object, n_rows: int, field: str = "prediction_ids") -> list[str]:
    """A client's ids for a batch: one per row, each checked, none twice."""
    if not isinstance(values, list) or len(values) != n_rows:
        count = f"{len(values):,}" if isinstance(values, list) else shown(values)
        raise UserInputError(field, f"expected a list of one id per row ({n_rows:,}), got {count}")
    ids = [checked_id(v, f"{field}[{i}]") for i, v in enumerate(values)]
    repeated = first_repeat(ids)
    if repeated is not None:
        raise UserInputError(field, f"{shown(repeated)} appears more than once: each prediction needs its own id")
    return ids


def first_repeat(ids: list[str]) -> str | None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            return value
        seen.add(value)
    return None
