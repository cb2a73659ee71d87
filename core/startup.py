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
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from core import runtime as runtime_module
from core.config import DEMO_WORKSPACE, Settings
from core.store.base import check_openable

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


# The environment as the process started it (this module is imported before any workspace opens): what a switch
# back to the demo reads, never os.environ as it is later, where a library may have written a previous workspace's paths.
LAUNCH_ENVIRON: Mapping[str, str] = MappingProxyType(dict(os.environ))

_startup: Startup | None = None
_chosen: Settings | None = None  # the workspace a user switched to (None: the one the environment names)
_demo: Settings | None = None  # the demo as this process opened it, once a user switched away from it
_lock = threading.Lock()


def chosen_settings() -> Settings | None:
    """The workspace a user switched to, or None for the one the launch environment names."""
    return _chosen


def opening_settings() -> Settings:
    """The settings of the workspace being opened (or that failed to open): a page with no runtime still offers the
    switch to another."""
    return _chosen or Settings.from_env()


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

    return [DEMO_WORKSPACE, *list_workspaces(settings.workspaces_dir)]


def switch_workspace(current: Settings, name: str) -> Settings:
    """Serve another workspace: the running one closes (its API stops, its loop and notifier threads end, its
    journal is flushed, its DuckDB file is released) and the next page view opens `name`, with everything of
    `current` but the paths. One process serves one workspace at a time, and nothing of one reaches the next.
    Raises WorkspaceError, with `current` still served, when `name`'s file cannot be opened (another app has it)."""
    global _chosen, _demo
    from core.workspaces import checked_name, served_settings

    chosen = demo_settings(current) if name == DEMO_WORKSPACE else served_settings(current, checked_name(name))
    if chosen.duckdb_path != current.duckdb_path and chosen.duckdb_path.exists():
        check_openable(chosen.duckdb_path)  # held by another app: refused here, and `current` goes on serving
    with _lock:
        if not current.workspace:
            _demo = current
        _chosen = chosen
        runtime_module.close_runtime()
    return chosen


def demo_settings(current: Settings) -> Settings:
    """The demo (data/ itself): as this process opened it, or, for a process started on a named workspace, as the
    launch environment places it, with the rest of `current`'s settings."""
    if not current.workspace:
        return current
    if _demo is not None:
        return _demo
    from core.workspaces import carried

    return Settings.from_env({**LAUNCH_ENVIRON, "IA_WORKSPACE": ""}, **carried(current))


def _build(settings: Settings | None, startup: Startup) -> None:
    try:
        rt = runtime_module.get_runtime(settings, startup.begin)
        if rt.settings.api_enabled and rt.api_server is None:
            startup.begin("Starting the REST API")
            with _lock:  # a switch closes the runtime under this lock: no API starts over a closed one
                if not rt.closed:
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
