"""One dashboard process's environment for a test: which workspace it serves, with the scheduler and the API off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from core.config import Settings
from core.runtime import close_runtime


def serving(monkeypatch: pytest.MonkeyPatch, workspaces_dir: Path, workspace: str | None = None,
            data_dir: Path | None = None) -> Iterator[Settings]:  # fmt: skip
    """Serve `workspace` of `workspaces_dir` (or the demo in `data_dir` with named workspaces kept in `workspaces_dir`),
    fresh caches before and after, the runtime closed at the end. Use as `yield from serving(...)` in a fixture."""
    monkeypatch.setenv("IA_WORKSPACES_DIR", str(workspaces_dir))
    if workspace is not None:
        monkeypatch.setenv("IA_WORKSPACE", workspace)
    if data_dir is not None:
        monkeypatch.setenv("IA_DATA_DIR", str(data_dir))
    leaked = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", *(("IA_DATA_DIR",) if data_dir is None else ()),
              *(("IA_WORKSPACE",) if workspace is None else ()))  # fmt: skip
    for name in leaked:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IA_SCHEDULER_AUTOSTART", "false")
    monkeypatch.setenv("IA_API_ENABLED", "false")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield Settings.from_env()
    st.cache_resource.clear()
    st.cache_data.clear()
    close_runtime()
