"""The runtime as a Streamlit resource, cached reads keyed by the data version, and safe actions.

One runtime per server process (`st.cache_resource`, closed on release), shared by
every browser tab. Reads are cached by the store's data version, so a page shows new
cycles as soon as the loop writes them, without the worker touching Streamlit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.config import SettingsError
from core.errors import NoModelError, StorageError, UserInputError, WorkspaceError, plain_fault
from core.runtime import Runtime, close_runtime, get_runtime

log = logging.getLogger(__name__)


def _close(_runtime: Runtime) -> None:
    close_runtime()  # stops the worker and releases the DuckDB file for the next runtime


@st.cache_resource(show_spinner="Opening the workspace…", on_release=_close)
def _runtime() -> Runtime:
    return get_runtime()


def runtime() -> Runtime:
    """The process's runtime; a bad setting or a workspace held by another process stops the page with a clear message."""
    try:
        return _runtime()
    except (WorkspaceError, SettingsError) as exc:
        st.error(str(exc))
        st.stop()
        raise  # unreachable: st.stop() raises


_run = threading.local()  # Streamlit runs each script run (and fragment run) on its own thread
VERSION_REUSE_SECONDS = 1.0


def data_version() -> tuple:
    """The store's data version, asked once per script run rather than once per read;
    an action in this run forgets it, so reads after the action see its effect."""
    now = time.monotonic()
    if getattr(_run, "expires", 0.0) < now:
        _run.version, _run.expires = runtime().store.data_version(), now + VERSION_REUSE_SECONDS
    return _run.version


@st.cache_data(max_entries=64, show_spinner=False)
def cached_read(name: str, version: tuple, *args: Any) -> Any:
    """`Runtime.read(name, *args)`, recomputed only when the data version changes."""
    del version  # part of the cache key only
    return runtime().read(name, *args)


def read(name: str, *args: Any) -> Any:
    return cached_read(name, data_version(), *args)


def act(action: Callable[[], Any], success: str | Callable[[Any], str] | None = None) -> Any:
    """Run a user action: user errors shown with st.error, system faults logged and summarised, never a traceback."""
    _run.expires = 0.0
    try:
        result = action()
    except UserInputError as exc:
        st.error(str(exc))
        return None
    except NoModelError as exc:
        st.warning(str(exc))
        return None
    except StorageError as exc:
        st.error(f"Not done: {exc}")
        return None
    except Exception as exc:
        log.exception("action failed")
        st.error(f"That did not work: {plain_fault(exc)}. The details are in the server log.")
        return None
    if success:
        st.toast(success(result) if callable(success) else success)
    return result


def empty_state(message: str) -> None:
    st.info(message, icon=":material/info:")


def table(frame: pd.DataFrame, columns: list[str], empty: str, **options: Any) -> None:
    """A table of `columns`, or the empty state saying what to do next."""
    if frame.empty:
        empty_state(empty)
    else:
        st.dataframe(frame[columns], hide_index=True, **options)
