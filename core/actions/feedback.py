"""Labels for served predictions, by prediction id: checked whole, joined to the log, stored at once.

Every door (`POST /feedback`, the Predict page's labels file, the simulator's late labels) comes
through `FeedbackActions`. A request is refused whole for bad input (an id too long or sent twice, a
label that is not a class, too many labels); ids the log does not hold, or already labelled, are
answered id by id while the rest are stored. The buffered prediction log is flushed first, so a
label can follow its prediction at once.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.table_check import class_index, class_lookup
from core.domain.prediction_ids import checked_id, first_repeat, issued_at
from core.domain.schema import Schema
from core.domain.validation import shown, summarise
from core.errors import Refusals, StorageError, UserInputError, every_refusal, noted
from core.services.predictor import Predictor
from core.store import FeedbackResult, Store, utcnow

FIELDS = ("prediction_id", "label")


@dataclass(frozen=True)
class FeedbackReply:
    """A request's answer: how many ids matched and what became of each of the rest."""

    received: int
    matched: int
    stored: int
    corrected: int
    unknown: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)  # made ids older than the prediction log's retention
    already_labelled: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received, "matched": self.matched, "stored": self.stored, "corrected": self.corrected,
            "unknown": self.unknown, "expired": self.expired, "already_labelled": self.already_labelled,
        }  # fmt: skip


def label_indices(values: list[object], schema: Schema, field_of: Callable[[int], str], field: str | None = None) -> np.ndarray:
    """Each label as its class's index, by its canonical text (3, 3.0 and "3.0" are the class 3); unknown ones refused,
    under `field` (else the first position's name up to its index), each named by `field_of` its position."""
    lookup = class_lookup(schema)
    found, bad = np.empty(len(values), dtype=np.int8), []
    for i, value in enumerate(values):
        index = class_index(value, lookup)
        if index is None:
            bad.append(i)
            continue
        found[i] = index
    if not bad:
        return found
    classes = f"the classes are {', '.join(map(str, schema.classes))}"
    if field is None and len(bad) == 1:  # the one label refused is the field: not "labels: labels[0].label: ..."
        raise UserInputError(field_of(bad[0]), f"{shown(values[bad[0]])} is not a class; {classes}")
    problems = [f"{field_of(i)}: {shown(values[i])} is not a class" for i in bad]
    said = summarise(problems) + f"; {classes}"
    raise UserInputError(field or field_of(bad[0]), said if field else f"{len(bad):,} labels are not classes: {said}")


class FeedbackActions:
    def __init__(self, store: Store, predictor: Predictor, settings: Settings) -> None:
        self.store, self.predictor, self.settings = store, predictor, settings

    def send(self, labels: object, correct: object = False) -> FeedbackReply:
        """Labels as a list of {"prediction_id", "label"} objects; `correct` replaces labels already given."""
        with _none_stored():
            return self._send(labels, correct)

    def _send(self, labels: object, correct: object) -> FeedbackReply:
        limit = self.settings.max_labels_per_request
        if not isinstance(labels, list) or not labels:
            raise UserInputError("labels", f'expected a list of 1 to {limit:,} objects {{"prediction_id": ..., "label": ...}}')
        if len(labels) > limit:
            raise UserInputError(
                "labels", f"{len(labels):,} labels is more than the limit of {limit:,} per request (IA_MAX_LABELS_PER_REQUEST)"
            )
        if not isinstance(correct, bool):
            raise UserInputError("correct", f"expected true or false, got {shown(correct)}")
        ids, values = [], []
        for i, item in enumerate(labels):
            where = f"labels[{i}]"
            if not isinstance(item, dict):
                raise UserInputError(where, f'expected an object {{"prediction_id": ..., "label": ...}}, got {shown(item)}')
            unknown = sorted(set(item) - set(FIELDS))
            missing = [f for f in FIELDS if f not in item]
            if unknown or missing:
                what = f"unknown field {shown(unknown[0])}" if unknown else f"missing {missing[0]}"
                raise UserInputError(where, f"{what}: each label is exactly prediction_id and label")
            ids.append(checked_id(item["prediction_id"], f"{where}.prediction_id"))
            values.append(item["label"])
        indices = label_indices(values, self.store.schema, lambda i: f"labels[{i}].label")
        return self.apply(ids, indices, correct)

    def send_csv(self, data: bytes | str, correct: bool = False) -> FeedbackReply:
        """A labels file: columns prediction_id and label (a header row, comma-separated)."""
        with _none_stored():
            return self._send_csv(data, correct)

    def _send_csv(self, data: bytes | str, correct: bool) -> FeedbackReply:
        raw = data.encode() if isinstance(data, str) else bytes(data)
        try:
            frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, skipinitialspace=True)
        except (ValueError, pd.errors.ParserError) as exc:
            raise UserInputError("file", f"not a readable CSV: {shown(str(exc).splitlines()[0])}") from None
        columns = [str(c).strip() for c in frame.columns]
        if sorted(columns) != sorted(FIELDS):
            raise UserInputError("file", f"expected the columns prediction_id,label; got {shown(','.join(columns))}")
        frame.columns = columns
        limit = self.settings.max_labels_per_request
        if frame.empty:
            raise UserInputError("file", "the file has a header but no rows: add at least one label")
        if len(frame) > limit:
            raise UserInputError("file", f"{len(frame):,} labels is more than the limit of {limit:,} per file (IA_MAX_LABELS_PER_REQUEST)")

        def row(i: int) -> str:  # the file's line, its header being line 1
            return f"row {i + 2}"

        given = list(frame["prediction_id"])
        ids, indices, _ = every_refusal(  # every kind of problem in one round, not the first alone (tour 20)
            lambda: _checked_ids(given, row),
            lambda: label_indices(list(frame["label"]), self.store.schema, row, field="label"),
            lambda: _no_repeats(given, row),
        )
        return self.apply(ids, indices, correct, where=row, id_field=lambda _: "prediction_id")

    def apply(
        self,
        ids: list[str],
        indices: np.ndarray,
        correct: bool = False,
        where: Callable[[int], str] = lambda i: f"labels[{i}]",
        replay_of: list[int | None] | None = None,
        id_field: Callable[[int], str] = lambda i: f"labels[{i}].prediction_id",
    ) -> FeedbackReply:
        """Checked ids and class indices: join them to the log and store them (the stream's held-back labels come in
        here, with `replay_of` for a replay's). `where` names an id's position as its door does: a file's row, a list's
        index."""
        _no_repeats(ids, where, id_field)  # tour 20: a list's repeated id was named "prediction_id", not its place
        self.predictor.flush()
        if self.predictor.last_flush_error:
            raise StorageError(f"the prediction log cannot be written now ({self.predictor.last_flush_error}); send the labels again later")
        now = utcnow()
        result = self.store.apply_feedback(ids, indices, correct, now, replay_of)
        unknown, expired = self._expired(result, now)
        return FeedbackReply(len(ids), result.matched, result.stored, result.corrected, unknown, expired, result.already_labelled)

    def _expired(self, result: FeedbackResult, now: datetime) -> tuple[list[str], list[str]]:
        """Split the unknown ids: made ids issued before the log's retention cut-off were archived, not invented."""
        days = self.settings.retain_predictions_days
        if not days:
            return result.unknown, []
        cutoff = now - timedelta(days=days)
        expired = [i for i in result.unknown if (issued_at(i) or cutoff) < cutoff]
        return [i for i in result.unknown if i not in set(expired)], expired


def _checked_ids(values: list[object], where: Callable[[int], str]) -> list[str]:
    """Every id checked, every bad one named (the first of them in full), not the first alone."""
    ids, problems = [], Refusals()
    for i, value in enumerate(values):
        with problems.collected():
            ids.append(checked_id(value, f"prediction_id, {where(i)}"))
    if len(problems.found) > 1:  # a file of 10,000 bad ids is counted and summarised, not listed
        raise UserInputError("prediction_id", f"{len(problems.found):,} ids are not valid: {summarise([str(p) for p in problems.found])}")
    problems.raise_any()
    return ids


def _no_repeats(ids: list[object], where: Callable[[int], str], field: Callable[[int], str] = lambda _: "prediction_id") -> None:
    """An id given twice is refused, at the second place it was given (`field` of its index: a list's
    labels[1].prediction_id, or a file's column)."""
    repeated = first_repeat(ids)
    if repeated is not None:
        places = [i for i, value in enumerate(ids) if value == repeated]
        raise UserInputError(field(places[1]), _given_again(repeated, [where(i) for i in places]))


def _given_again(repeated: str, places: list[str], most: int = 5) -> str:
    """An id given more than once, with where each time: "'r1' is given 3 times (row 2, row 3 and row 4)"."""
    times = "twice" if len(places) == 2 else f"{len(places):,} times"
    named_places = places[:most] + ([f"{len(places) - most:,} more"] if len(places) > most else [])
    listed = ", ".join(named_places[:-1]) + f" and {named_places[-1]}"
    return f"{shown(repeated)} is given {times} ({listed}): one label per id"


@contextmanager
def _none_stored() -> Iterator[None]:
    """A refused request or file stores no label, and says so: a person fixing a file needs to know whether to send
    all of it again (tour 13)."""
    try:
        yield
    except UserInputError as refused:
        raise noted(refused, "no label was stored") from None
