"""Where the loop's stream comes from: the simulator, or a stored dataset replayed a batch per cycle.

A replay copies the dataset's next rows (in its sample order: the file's row order, or its time
column's when the workspace has one) into the loop's incoming data, exactly where a simulated batch
would go, and stores its position in the same transaction, so a restart resumes where it stopped.
At the end it stops, or starts over. The source and the end rule are workspace settings, like the
other run-time controls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.domain import spans
from core.domain.pace import batches, labels_to_come
from core.domain.validation import integer, shown
from core.errors import UserInputError
from core.store import DatasetInfo, Store, Window

SIMULATOR = "simulator"
AT_END = ("stop", "restart")
_SOURCE, _POSITION, _AT_END = "stream.source", "stream.position", "stream.at_end"


def _sent_key(dataset_id: int) -> str:
    """Where the spans of a dataset's rows the loop has received are kept: per dataset, so going back to one still knows."""
    return f"stream.sent.{dataset_id}"


@dataclass(frozen=True)
class StreamSource:
    """The stream's source and how far a replay has got."""

    dataset_id: int | None  # None: the simulator
    dataset_name: str | None
    position: int  # rows replayed so far
    total: int | None  # the dataset's rows
    at_end: str
    batch_size: int
    time_reached: object = None  # the time column's value of the last row replayed, where the workspace has one
    sent: spans.Spans = field(default_factory=list)  # row positions the loop has received from this dataset, ever

    @property
    def replaying(self) -> bool:
        return self.dataset_id is not None

    @property
    def finished(self) -> bool:
        return self.replaying and self.position >= (self.total or 0) and self.at_end == "stop"

    @property
    def batches_left(self) -> int | None:
        if not self.replaying:
            return None
        return batches((self.total or 0) - self.position, self.batch_size)

    @property
    def sent_before(self) -> spans.Spans:
        """The rows still to replay (the position to the end) that the loop received before: they will come again as copies."""
        return spans.within(self.sent, self.position, self.total or 0) if self.replaying else []

    def as_dict(self) -> dict[str, object]:
        return {
            "source": SIMULATOR if self.dataset_id is None else self.dataset_id, "dataset_name": self.dataset_name,
            "position": self.position, "total_rows": self.total, "batches_left": self.batches_left, "at_end": self.at_end,
            "finished": self.finished, "time_reached": None if self.time_reached is None else str(self.time_reached),
            "rows_sent_before": spans.rows(self.sent_before),
        }  # fmt: skip


def stream_source(store: Store, batch_size: int) -> StreamSource:
    stored = store.settings_map()
    raw = stored.get(_SOURCE, SIMULATOR)
    at_end = stored.get(_AT_END, "stop")
    if raw == SIMULATOR:
        return StreamSource(None, None, 0, None, at_end, batch_size)
    record = store.dataset(int(raw))
    if record is None:  # deleted under the replay: the simulator takes over again
        return StreamSource(None, None, 0, None, at_end, batch_size)
    position = int(stored.get(_POSITION, 0))
    reached = store.event_time_at(int(raw), position - 1) if position else None
    sent = spans.from_text(stored.get(_sent_key(int(raw))))
    return StreamSource(int(raw), record["name"], position, int(record["n_rows"]), at_end, batch_size, reached, sent)


def copies_ahead(source: StreamSource) -> str | None:
    """What a position set back means, in words, or None when every row still to replay is new to the loop."""
    again = source.sent_before
    if not again:
        return None
    shown = ", ".join(f"{a + 1:,}–{b:,}" for a, b in again[:3]) + (" …" if len(again) > 3 else "")
    # Counted within the dataset: its name may give the rows of the file it came from ("three.csv · rows 2,001 to 6,000").
    return (f"{spans.rows(again):,} of the rows still to replay (rows {shown} of dataset {source.dataset_id}, counted from its first "
            f"row) were sent to the loop before: {spans.SENT_AGAIN}")  # fmt: skip


def idle_reason(store: Store, enabled: bool, source: StreamSource) -> str | None:
    """Why the stream, as set, sends the loop nothing this cycle, or None when it sends rows: one wording for the
    cycle's reason, GET /stream and the Operations page. Labels of rows it served that are yet to come are said too:
    a cycle with the stream off read as if nothing more would come."""
    idle = _idle(store, enabled, source)
    if idle is None:
        return None
    pending, due_by = store.pending_labels()
    later = f"; {labels_to_come(pending, due_by)}" if pending else ""
    return idle[1] + later


def idle_headline(store: Store, enabled: bool, source: StreamSource) -> str | None:
    """`idle_reason` in a few words, for a tile's line at 1024 px (the whole reason cut there read "stream off and nothi…")."""
    idle = _idle(store, enabled, source)
    return None if idle is None else idle[0]


def _idle(store: Store, enabled: bool, source: StreamSource) -> tuple[str, str] | None:
    if not enabled:
        return "stream off", "stream off and nothing added"
    if source.finished:
        return "replay ended", (f"the replay of dataset {source.dataset_id} has ended ({source.total:,} rows); set it to start "
                                "over or pick another source")  # fmt: skip
    if not source.replaying and not store.schema.plain:
        return "no rows for this table", ("the simulator draws only the demo's columns, not this table's: replay one of its "
                                          "datasets (Operations, Stream) or add rows")  # fmt: skip
    return None


def check_stream_source(store: Store, source: object = None, position: object = None, at_end: object = None) -> tuple[int | None, int]:
    """The source and position the changes ask for, checked: a new source starts at row 0 unless a position is given."""
    current = stream_source(store, 1)
    dataset_id = current.dataset_id if source is None else _checked_source(store, source)
    total = None if dataset_id is None else int(store.dataset(dataset_id)["n_rows"])
    if position is not None:
        if dataset_id is None:
            raise UserInputError("position", "the simulator has no position: set a dataset as the source to replay it")
        new_position = integer(position, "position", 0, total)
    else:
        new_position = current.position if dataset_id == current.dataset_id else 0
    if at_end is not None and at_end not in AT_END:
        raise UserInputError("at_end", f"expected one of {', '.join(AT_END)}, got {shown(at_end)}")
    return dataset_id, new_position


def store_stream_source(store: Store, dataset_id: int | None, position: int, at_end: str | None = None) -> None:
    """Changes `check_stream_source` returned, stored together."""
    values = {_SOURCE: SIMULATOR if dataset_id is None else str(dataset_id), _POSITION: str(position)}
    store.set_settings(values | ({_AT_END: at_end} if at_end is not None else {}))


def _checked_source(store: Store, source: object) -> int | None:
    if source == SIMULATOR:
        return None
    if isinstance(source, str):  # "2" is refused as every number field refuses text (tour 20: it replayed dataset 2)
        raise UserInputError("source", f'expected "{SIMULATOR}" or a dataset id (a whole number, not text), got {shown(source)}')
    dataset_id = integer(source, "source", 1, 2**31 - 1)
    record = store.dataset(dataset_id)
    if record is None:
        raise UserInputError("source", f"no dataset {dataset_id}: GET /datasets lists them")
    if record["role"] == "incoming":
        raise UserInputError(
            "source", f"dataset {dataset_id} is the loop's own incoming data: replay a library dataset (imported or generated)"
        )
    return dataset_id


def _next_offset(source: StreamSource) -> int | None:
    """Where the replay's next batch starts: its position, 0 once it ended under `restart`, None under `stop`."""
    if source.position < (source.total or 0):
        return source.position
    return None if source.at_end == "stop" else 0


def replay_batch(store: Store, source: StreamSource) -> DatasetInfo | None:
    """The next batch of the replayed dataset into the loop's incoming data; None once it ended (rule `stop`)."""
    position = _next_offset(source)
    if position is None:
        return None
    name = f"Stream (replay of dataset {source.dataset_id}: {source.dataset_name})"[:200]
    return store.append_replay_batch(
        source.dataset_id, position, source.batch_size, name=name, position_key=_POSITION, sent_key=_sent_key(source.dataset_id)
    )


def replay_to_serve(store: Store, source: StreamSource) -> tuple[int, Window] | None:
    """The next batch of the replayed dataset to serve now, its labels to be sent later (a label delay), with where it
    starts; None once it ended (rule `stop`). Nothing moves until `labels_sent_later`."""
    position = _next_offset(source)
    if position is None:
        return None
    return position, store.replay_rows(source.dataset_id, position, source.batch_size)


def labels_sent_later(store: Store, source: StreamSource, offset: int, due_cycle: int, ids: list[str], rows: Window) -> None:
    """A served batch's labels queued for `due_cycle`, each with its row in the replayed dataset (its labelled copy is a
    replayed row, read once), and the replay moved past it, at once."""
    store.queue_replayed_labels(
        due_cycle, ids, rows.y, rows.sample_ids, offset=offset, position_key=_POSITION, sent_key=_sent_key(source.dataset_id)
    )
