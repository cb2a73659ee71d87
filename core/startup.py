"""Build the runtime on a background thread as soon as the server starts, with its steps readable.

This is the dashboard's launcher: it builds the runtime, then starts the REST API beside it when
IA_API_ENABLED (a runtime built anywhere else opens no port). Opening a workspace takes seconds (importing MLflow, replaying the journal, training the starter
model). Started here, that work runs while the browser is still connecting, and every page can
show which step it is on instead of a blank screen. A failed build is kept for the page to show;
the next call starts a new attempt (the other process may have let go of the file by then).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from core import runtime as runtime_module
from core.config import Settings

log = logging.getLogger(__name__)

EXPECTED_STEPS = 7  # DuckDB, MLflow, repairs, starter data, starter training, loop, API: for the progress bar only


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    done: bool


class Startup:
    """Progress of one build: the steps so far with their durations, then done or failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: list[tuple[str, float, float | None]] = []
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.began = time.monotonic()

    def begin(self, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._close_last(now)
            self._steps.append((name, now, None))

    def finish(self, error: BaseException | None = None) -> None:
        with self._lock:
            self._close_last(time.monotonic())
            self.error = error
        self.finished.set()

    def _close_last(self, now: float) -> None:
        if self._steps and self._steps[-1][2] is None:
            name, began, _ = self._steps[-1]
            self._steps[-1] = (name, began, now)

    def steps(self) -> list[Step]:
        now = time.monotonic()
        with self._lock:
            return [Step(name, (end or now) - began, end is not None) for name, began, end in self._steps]

    @property
    def fraction(self) -> float:
        """Share of the expected steps completed, for a progress bar (never 1 before the end)."""
        if self.finished.is_set():
            return 1.0
        done = sum(step.done for step in self.steps())
        return min(done / EXPECTED_STEPS, 0.95)


_startup: Startup | None = None
_chosen: Settings | None = None  # the workspace a user switched to (None: the one the environment names)
_lock = threading.Lock()


def start_in_background(settings: Settings | None = None) -> Startup:
    """The current build, started now if none is under way or the last one failed or was closed."""
    global _startup
    with _lock:
        if _startup is not None and (not _startup.finished.is_set() or (_startup.error is None and runtime_module.is_built())):
            return _startup
        _startup = Startup()
        threading.Thread(target=_build, args=(settings or _chosen, _startup), name="runtime-build", daemon=True).start()
        return _startup


def workspace_names(settings: Settings) -> list[str]:
    """ "demo" (the data folder itself) and every workspace made from a file, for the switcher."""
    from core.workspaces import list_workspaces

    return ["demo", *list_workspaces(settings.workspaces_dir)]


def switch_workspace(current: Settings, name: str) -> Settings:
    """Serve another workspace: the running one closes (its loop stops, its DuckDB file is released, its
    API stops) and the next page view opens `name`. One process serves one workspace at a time."""
    global _chosen
    from core.workspaces import checked_name

    environ = {**os.environ, "IA_WORKSPACES_DIR": str(current.workspaces_dir)}
    if name == "demo":
        chosen = Settings.from_env({**environ, "IA_WORKSPACE": ""}) if current.workspace else current
    else:
        checked_name(name)
        paths = {"IA_DATA_DIR": "", "IA_DUCKDB_PATH": "", "MLFLOW_TRACKING_URI": "", "IA_MLFLOW_ARTIFACTS_DIR": ""}
        chosen = Settings.from_env({**environ, **paths, "IA_WORKSPACE": name})
    with _lock:
        _chosen = chosen
    runtime_module.close_runtime()
    return chosen


def _build(settings: Settings | None, startup: Startup) -> None:
    try:
        rt = runtime_module.get_runtime(settings, startup.begin)
        if rt.settings.api_enabled and rt.api_server is None:
            startup.begin("Starting the REST API")
            start_api(rt)
    except BaseException as exc:  # shown by the page that waits for it; the next page view retries
        log.warning("the workspace could not be opened: %s", exc)
        startup.finish(exc)
    else:
        startup.finish()


def start_api(rt: runtime_module.Runtime) -> None:
    """The REST API beside the dashboard, on a thread; the runtime stops it when it closes."""
    from core.api import ApiServer  # FastAPI only where the API runs

    rt.attach_server(ApiServer(rt))
