"""A replica's prediction log, forwarded to the workbench from its own journal.

The predictor journals every prediction before its reply, as on the workbench. Here the closed
journal segments are the outbox: a thread sends each, in order, as one Arrow batch named by the
replica and the segment (`POST /ingest/predictions`), and deletes the file only once the workbench
has answered that it holds it. A workbench that is down, restarting or refuses the token leaves
the segment where it is, to be sent again with a growing pause; one that already stored it (the
reply was lost) answers so and stores nothing twice. Segment names come from the clock and are
never reused, so a resend after a restart carries the id the first send had. A batch the workbench
refuses as malformed (422) is set aside in `refused/`, kept, and said at `/health`, so the segments
behind it still flow.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import requests

from core.domain.schema import Schema
from core.errors import plain_fault
from core.services.ingest import ARROW_STREAM, BATCH_HEADER, REPLICA_HEADER
from core.store.journal import Entry, Journal, read_segment
from core.store.prediction_rows import entries_table

log = logging.getLogger(__name__)

FIRST_PAUSE, LONGEST_PAUSE = 0.5, 30.0
MAX_CACHED_SEGMENTS = 64  # a flush's entries kept in memory for its send; beyond this (a long outage) they are read back from disk


@dataclass(frozen=True)
class ForwardState:
    target: str
    waiting_segments: int
    sent_batches: int
    sent_rows: int
    duplicates: int
    failures: int
    refused_segments: int
    last_refusal: str | None  # why the workbench refused the last batch it refused (kept in `refused/`)
    last_sent_at: float | None
    error: str | None  # why the last send failed; None once one succeeds


class Forwarder:
    """The replica's `core.services.predictor.LogWriter`: `write` hands closed segments to the sending thread."""

    def __init__(self, journal: Journal, url: str, token: str, replica: str, schema: Callable[[], Schema], timeout: float = 30.0) -> None:
        self.journal, self.replica, self.schema = journal, replica, schema
        self.target = f"{url.rstrip('/')}/ingest/predictions" if url else ""
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Content-Type": ARROW_STREAM, REPLICA_HEADER: replica})
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.refused = journal.folder / "refused"
        self._queue: list[str] = []
        self._cached: dict[str, list[Entry]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.sent_batches = self.sent_rows = self.duplicates = self.failures = 0
        self.last_sent_at: float | None = None
        self.error: str | None = None
        self.last_refusal: str | None = None
        self._thread = threading.Thread(target=self._run, name="log-forwarder", daemon=True)
        self._thread.start()

    # the LogWriter side -----------------------------------------------------------------
    def write(self, entries: list[Entry], segments: list[str]) -> None:
        with self._lock:
            self._queue += segments
            if len(segments) == 1 and len(self._cached) < MAX_CACHED_SEGMENTS:  # one flush, one segment: its entries are these
                self._cached[segments[0]] = entries
        self._wake.set()

    def replay(self) -> int:
        """Segments a stop left unsent: queued again, under their own names (the workbench drops any it holds)."""
        names = [p.name for p in self.journal.segments()]
        rows, read = 0, {}
        for name in names:  # read once: counted for the log, and kept (up to the cache's bound) for the send
            entries = read_segment(self.journal.folder / name)
            rows += sum(len(e.proba) for e in entries)
            if len(read) < MAX_CACHED_SEGMENTS:
                read[name] = entries
        with self._lock:
            self._queue = names + [n for n in self._queue if n not in names]
            self._cached.update(read)
        self._wake.set()
        return rows

    def taken_ids(self, ids: list[str]) -> list[str]:
        return []  # the workspace's ids are on the workbench: a replica checks a client's id against its own unsent ones only

    # sending --------------------------------------------------------------------------
    def state(self) -> ForwardState:
        with self._lock:
            waiting = len(self._queue)
        refused = len(list(self.refused.glob("*"))) if self.refused.exists() else 0
        return ForwardState(self.target, waiting, self.sent_batches, self.sent_rows, self.duplicates, self.failures, refused,
                            self.last_refusal, self.last_sent_at, self.error)  # fmt: skip

    def drain(self, timeout: float) -> bool:
        """Wait until every queued segment is sent (or `timeout`); True when none is left."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._queue:
                    return True
            self._wake.set()
            time.sleep(0.02)
        return False

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued for up to `timeout`; what is left stays in the journal for the next start."""
        self.drain(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.timeout + 1)

    def _run(self) -> None:
        pause, retry_at = FIRST_PAUSE, 0.0
        while not self._stop.is_set():
            self._wake.wait(max(0.05, retry_at - time.monotonic()) if retry_at else 1.0)
            self._wake.clear()
            if retry_at and time.monotonic() < retry_at:
                continue  # new segments queue behind the one that failed until its pause is over
            retry_at = 0.0
            while not self._stop.is_set():
                with self._lock:
                    name = self._queue[0] if self._queue else None
                if name is None:
                    break
                if not self._attempt(name):
                    retry_at, pause = time.monotonic() + pause, min(pause * 2, LONGEST_PAUSE)
                    break
                pause = FIRST_PAUSE
                with self._lock:
                    self._queue.remove(name)

    def _attempt(self, name: str) -> bool:
        """`_send`, with any fault (a folder that refuses a move) a failed send to try again: the thread never ends on one."""
        try:
            return self._send(name)
        except Exception as exc:
            return self._failed(name, f"could not forward {name}: {plain_fault(exc)[:300]}")

    def _send(self, name: str) -> bool:
        """One segment to the workbench; True when it is off our hands (stored, already stored, or set aside)."""
        path = self.journal.folder / name
        with self._lock:
            cached = self._cached.pop(name, None)
        readable = self.target and path.exists()  # no target: the log is not kept (IA_WORKBENCH_URL empty)
        entries = (cached or read_segment(path)) if readable else []
        if not entries:
            self.journal.remove([name])
            return True
        try:
            body = _arrow_stream(entries_table(entries, self.schema()))
            reply = self.session.post(self.target, data=body, headers={BATCH_HEADER: name.removesuffix(".journal")}, timeout=self.timeout)
        except Exception as exc:
            return self._failed(name, f"the workbench at {self.target} did not answer: {plain_fault(exc)[:200]}")
        if reply.status_code == 422:
            self.refused.mkdir(exist_ok=True)
            shutil.move(path, self.refused / name)
            self.last_refusal = f"the workbench refused {name} as malformed (kept in {self.refused}): {reply.text[:300]}"
            return self._failed(name, self.last_refusal, True)
        if reply.status_code != 200:
            return self._failed(name, f"the workbench answered {reply.status_code}: {reply.text[:300]}")
        stored = reply.json().get("stored", True)
        self.journal.remove([name])
        self.sent_batches += 1
        self.sent_rows += sum(len(e.proba) for e in entries)
        self.duplicates += 0 if stored else 1
        self.last_sent_at, self.error = time.time(), None
        return True

    def _failed(self, name: str, why: str, handled: bool = False) -> bool:
        self.failures += 1
        self.error = why
        log.error("forwarding %s: %s", name, why)
        return handled


def _arrow_stream(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
