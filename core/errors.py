"""Errors a user can cause, each naming the field and its limit.

Pages show `str(error)` as is, so the message is written for a person.
"""


class UserInputError(ValueError):
    """Bad input from a user; nothing was stored."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NoModelError(RuntimeError):
    """Serving was asked for a prediction before any model was trained."""

    def __init__(self) -> None:
        super().__init__("No model yet: train one first (Models page, or runtime.train()).")


class WorkspaceInUseError(RuntimeError):
    """Another process holds the DuckDB file; DuckDB allows one read-write process."""
