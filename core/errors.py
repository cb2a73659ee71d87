"""Errors a user can cause, each naming the field and its limit, and the system faults
they may meet, described in plain words.

Pages show `str(error)` as is, so the message is written for a person.
"""

import errno
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class UserInputError(ValueError):
    """Bad input from a user; nothing was stored."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message  # without the field: a door that names the field its own way words it again


class UserInputErrors(UserInputError):
    """Several fields of one request refused at once, so a caller fixes them in one round, not one per request.
    `field` and `message` are the first refusal's; `str()` says every one."""

    def __init__(self, refusals: list[UserInputError]) -> None:
        first = refusals[0]
        super().__init__(first.field, first.message)
        self.refusals = refusals
        self.args = ("; ".join(str(refused) for refused in refusals),)


def noted(error: UserInputError, note: str) -> UserInputError:
    """The same refusal with `note` said after it ("; no label was stored"): after the last field's, when several."""
    if isinstance(error, UserInputErrors):
        last = error.refusals[-1]
        return UserInputErrors([*error.refusals[:-1], type(last)(last.field, f"{last.message}; {note}")])
    return type(error)(error.field, f"{error.message}; {note}")


def refusals_of(error: UserInputError) -> list[UserInputError]:
    """Each field an error refuses, one or several."""
    return list(error.refusals) if isinstance(error, UserInputErrors) else [error]


MAX_REFUSALS = 20  # refusals named in one reply: a body of 10,000 bad values is refused in a page, not a megabyte


def together(refusals: list[UserInputError]) -> UserInputError:
    """Refusals as one error to raise: a single one as it was raised, several as `UserInputErrors`."""
    return refusals[0] if len(refusals) == 1 else UserInputErrors(refusals)


class Refusals:
    """The refusals of checks that each run whatever the others said, so a caller fixes every field in one round,
    not one per request (tour 20). With a `limit`, `full` tells a long loop (a batch's rows) to stop reading."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.found: list[UserInputError] = []

    @contextmanager
    def collected(self) -> Iterator[None]:
        """The block's refusal kept, not raised."""
        try:
            yield
        except UserInputError as refused:
            self.found.extend(refusals_of(refused))

    @property
    def full(self) -> bool:
        return self.limit is not None and len(self.found) >= self.limit

    def raise_any(self, stopped: str = "the rest was read no further") -> None:
        """Every refusal collected, raised together; past the limit, the first `limit` and where reading `stopped`."""
        if self.full:
            raise noted(UserInputErrors(self.found[: self.limit]), f"the first {self.limit} problems: {stopped}")
        if self.found:
            raise together(self.found)


def every_refusal(*checks: Callable[[], T]) -> list[T]:
    """Each check run, whatever the others said: their results, or every field they refused raised together (a
    single refusal as it was raised)."""
    results, refused = [], Refusals()
    for check in checks:
        with refused.collected():
            results.append(check())
    refused.raise_any()
    return results


class NotFoundError(UserInputError):
    """The input names something that does not exist (a version never registered): nothing was changed."""


class ConflictError(UserInputError):
    """The input names something that exists already or is being made (a workspace's name): nothing was changed."""


class NoModelError(RuntimeError):
    """Serving was asked for a prediction before any model was trained."""

    def __init__(self, message: str = "No model yet: train one first (Models page, or runtime.models.train()).") -> None:
        super().__init__(message)


class BusyError(RuntimeError):
    """The action conflicts with one under way (a training, a cycle); try again when it ends."""


class RateLimited(BusyError):
    """Too many trainings asked for in a minute (a script in a loop, a fuzzer): try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkspaceError(RuntimeError):
    """The workspace cannot be opened as it is (held, missing, read-only); the message says what to do."""


class WorkspaceClosedError(RuntimeError):
    """An action reached a workspace after it was closed (another one is served now): a page drawn before a switch
    made in another tab, or a request caught by the switch. Nothing was done, nothing was logged."""

    def __init__(self) -> None:
        super().__init__("This workspace was closed (another one is served now, or the app is stopping): nothing was done")


class WorkspaceInUseError(WorkspaceError):
    """Another process holds the DuckDB file; DuckDB allows one read-write process."""


class StorageError(RuntimeError):
    """A write could not be made durable (disk full, read-only folder); nothing was acknowledged."""


_OS_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted (a read-only or immutable file?)",
}


def describe_os_error(exc: OSError, where: Path | str) -> str:
    """An OS error in plain words with the path it concerns and what to do."""
    what = _OS_ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
    return f"{what} ({where}): free space or make the folder writable, then try again"


def plain_fault(exc: BaseException) -> str:
    """A system fault in plain words for a page, an alert or a health check; raw driver text as a last resort.

    DuckDB, SQLite (through MLflow's SQLAlchemy) and the OS each word a full disk or a read-only
    file differently; a person needs to know which of the two it is and where.
    """
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, OSError) and exc.errno in _OS_ERRORS:
        return describe_os_error(exc, exc.filename or "the data folder")
    if "no space left" in lowered or "database or disk is full" in lowered or "disk full" in lowered:
        return "the disk is full: free space on the data folder's disk; nothing more can be stored until then"
    if "readonly database" in lowered or "read-only" in lowered or "read only" in lowered or "permission denied" in lowered:
        return "a store is read-only: make the data folder and its files writable (chmod u+w), or point IA_DATA_DIR elsewhere"
    if "disk i/o error" in lowered:
        return "a store cannot be written (disk I/O error): check that the data folder and its files are not read-only and the disk is not full"
    if "no such artifact" in lowered or ("no such file" in lowered and "artifact" in lowered):
        return "a model's files are missing from the artifact folder (IA_MLFLOW_ARTIFACTS_DIR): restore it, or retrain"
    first = _NUMPY_SCALAR.sub(r"\1", text.strip().splitlines()[0]) if text.strip() else type(exc).__name__
    return f"{type(exc).__name__}: {first[:300]}"


_NUMPY_SCALAR = re.compile(r"\bnp\.[a-z_]+\d*\(([^()]*)\)")  # numpy 2's np.int64(1) in a library's message, where a person reads 1
