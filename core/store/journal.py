"""The prediction journal: every acknowledged prediction is on disk before its reply.

The prediction log is written to DuckDB in batches so a caller never waits on an
insert; the journal closes the window that leaves open. Each prediction is appended
to the current segment file with one `os.write` (a few microseconds) before the
caller gets its answer. A killed process loses nothing the kernel has accepted: the
page cache outlives the process (with `IA_PREDICTION_FSYNC=true` a power cut does
too, at the cost of an fsync per prediction). A write the disk refuses (full,
read-only) raises `StorageError`, so the caller gets an error instead of a success,
and the partial record is cut off again so the segment stays readable.

A flush rotates to a new segment and inserts the closed segments' predictions into
DuckDB in the same transaction that records their names as applied, so a replay
after a crash between the insert and the file's deletion inserts nothing twice.
Records are length-prefixed and checksummed: a torn tail is recognised and ignored.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.domain.prediction_ids import expand_ids
from core.errors import StorageError, describe_os_error

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")  # payload length, crc32 of the payload
_FIXED = struct.Struct("<qiiidB")  # ts (µs since epoch), version, rows, features, latency ms, source length
_TABLE = struct.Struct("<iI")  # a table row's record (features < 0): classes, length of the categories' JSON
_IDS = struct.Struct("<I")  # a record with prediction ids (rows < 0): length of their JSON
SUFFIX = ".journal"


@dataclass(frozen=True)
class Entry:
    """A prediction call as the predictor buffers it: one row or a batch."""

    ts_us: int
    version: int
    X: np.ndarray  # numbers: every feature (the synthetic schema), or a table's numeric columns
    proba: np.ndarray  # class 1's probability per row, or (a table's rows) every class's
    latency_ms: float
    source: str
    text: list[list[str | None]] | None = None  # a table's categorical columns, one list per column
    ids: list[str] | str | None = None  # each row's prediction id, or a batch's made id (rows are `<id>-<row>`)

    def prediction_ids(self) -> list[str | None]:
        return expand_ids(self.ids, self.proba.shape[0])


def record_parts(entry: Entry) -> list[bytes | memoryview]:
    """A record as buffers for one `os.writev`: the arrays are written from their own memory, not
    copied (a million-row batch is 24 MB, and copies of it cost more than the write)."""
    source = entry.source.encode()[:255]
    rows, features = entry.X.shape
    stored_rows = rows if entry.ids is None else -rows - 1  # negative: the prediction ids follow
    stored_features = features if entry.text is None else -features - 1  # negative: a table's rows
    head = _FIXED.pack(entry.ts_us, entry.version, stored_rows, stored_features, entry.latency_ms, len(source)) + source
    if entry.text is not None:
        text = json.dumps(entry.text).encode()
        head += _TABLE.pack(entry.proba.shape[1], len(text)) + text
    if entry.ids is not None:
        ids = json.dumps(entry.ids).encode()
        head += _IDS.pack(len(ids)) + ids
    parts: list[bytes | memoryview] = [
        head,
        memoryview(np.ascontiguousarray(entry.X, dtype="<f8")).cast("B"),
        memoryview(np.ascontiguousarray(entry.proba, dtype="<f8")).cast("B"),
    ]
    crc, length = 0, 0
    for part in parts:
        crc, length = zlib.crc32(part, crc), length + len(part)
    return [_HEADER.pack(length, crc), *parts]


def encode(entry: Entry) -> bytes:
    return b"".join(bytes(part) for part in record_parts(entry))


def decode_all(data: bytes) -> tuple[list[Entry], int]:
    """The complete records of a segment, and the byte offset where the readable part ends."""
    entries, offset = [], 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        payload = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            break  # a torn or damaged tail: the process died while writing it, before the reply
        ts_us, version, rows, features, latency, source_len = _FIXED.unpack_from(payload)
        at = _FIXED.size
        source = payload[at : at + source_len].decode(errors="replace")
        at += source_len
        text, classes = None, 1
        if features < 0:
            features = -features - 1
            classes, text_len = _TABLE.unpack_from(payload, at)
            at += _TABLE.size
            text = json.loads(payload[at : at + text_len])
            at += text_len
        ids = None
        if rows < 0:
            rows = -rows - 1
            (ids_len,) = _IDS.unpack_from(payload, at)
            at += _IDS.size
            ids = json.loads(payload[at : at + ids_len])
            at += ids_len
        X = np.frombuffer(payload, dtype="<f8", count=rows * features, offset=at).reshape(rows, features)
        proba = np.frombuffer(payload, dtype="<f8", count=rows * classes, offset=at + rows * features * 8)
        proba = proba.reshape(rows, classes) if text is not None else proba
        entries.append(Entry(ts_us, version, X.astype(np.float64), proba.astype(np.float64), latency, source, text, ids))
        offset += _HEADER.size + length
    return entries, offset


class Journal:
    """Append-only segment files in one folder; thread-safe appends and rotation."""

    def __init__(self, folder: Path, fsync: bool = False) -> None:
        self.folder = folder
        self.fsync = fsync
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sequence = max((_number(p) for p in self.segments()), default=0)
        self._fd: int | None = None
        self._name = ""
        self._size = 0
        self._closed: list[str] = []
        self._undeleted: list[str] = []  # stored segments whose files the folder would not let go yet

    def segments(self) -> list[Path]:
        return sorted(self.folder.glob(f"*{SUFFIX}"), key=_number)

    def append(self, entry: Entry) -> None:
        """Write one record; raise StorageError (and leave the segment whole) when the disk refuses."""
        parts = record_parts(entry)
        size = sum(len(part) for part in parts)
        with self._lock:
            try:
                if self._fd is None:
                    self._open_next()
                written = _write_all(self._fd, parts)
                if written != size:
                    raise OSError(errno.ENOSPC, "short write")
                if self.fsync:
                    os.fsync(self._fd)
            except OSError as exc:
                self._cut_back()
                raise StorageError(f"the prediction was not recorded: {describe_os_error(exc, self.folder)}") from exc
            self._size += size

    def rotate(self) -> list[str]:
        """Close the current segment (the next append opens a new one); the names of the segments
        closed since the last rotation, whose records the caller now owns."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
                self._closed.append(self._name)
            names, self._closed = self._closed, []
            return names

    def remove(self, names: list[str]) -> list[str]:
        """Delete segments whose records are stored; returns the names deleted. One the folder will not let go
        (read-only, immutable) is logged and tried again at each later call: a stored segment left on disk is
        never a reason to store it again, nor to stop."""
        with self._lock:
            wanted, self._undeleted = [*self._undeleted, *(n for n in names if n not in self._undeleted)], []
            for name in wanted:
                try:
                    (self.folder / name).unlink(missing_ok=True)
                except OSError as exc:
                    self._undeleted.append(name)
                    log.warning("journal %s is stored but cannot be deleted yet: %s", name, describe_os_error(exc, self.folder))
            return [n for n in wanted if n not in self._undeleted]

    def close(self) -> None:
        self.rotate()

    def _open_next(self) -> None:
        # Numbered by the clock (µs), never below the last: a name is not used twice by this folder, even after its
        # files are gone, so a replica's forwarded segment names stay unique across its restarts.
        self._sequence = max(self._sequence + 1, time.time_ns() // 1000)
        self._name = f"{self._sequence:017d}{SUFFIX}"
        self._fd = os.open(self.folder / self._name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = 0

    def _cut_back(self) -> None:
        """Drop a partial record after a failed write, so later records stay reachable; if even
        that fails, close the segment so the next append starts a fresh one."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            os.close(self._fd)
            self._fd = None
            self._closed.append(self._name)


def _write_all(fd: int, parts: list[bytes | memoryview]) -> int:
    """`os.writev` until every part is written (the kernel may split a large record); returns the bytes
    written. A full disk raises OSError from the next call, after a partial write."""
    views = [memoryview(part).cast("B") for part in parts]
    written = 0
    while views:
        n = os.writev(fd, views)
        if n == 0:
            break
        written += n
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if views and n:
            views[0] = views[0][n:]
    return written


def read_segment(path: Path) -> list[Entry]:
    data = path.read_bytes()
    entries, end = decode_all(data)
    if end < len(data):
        log.warning("journal %s: %s trailing bytes of an unfinished record ignored", path.name, len(data) - end)
    return entries


def _number(path: Path) -> int:
    try:
        return int(path.name.removesuffix(SUFFIX))
    except ValueError:
        return 0
