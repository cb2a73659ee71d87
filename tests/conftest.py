"""Shared fixtures: real DuckDB files and real MLflow sqlite stores in temp folders.

Creating an MLflow database runs its migrations (seconds), so one migrated template
is made per session and copied into each test's workspace.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.runtime import Runtime
from tests.waiting import wait_until


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def make_settings(data_dir: Path, template: Path, **overrides: object) -> Settings:
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "mlflow.db").exists():
        shutil.copy(template, data_dir / "mlflow.db")
    seeded = data_dir / "workspaces" / ".mlflow-template.db"  # what `workspaces.create` copies, made once per session here
    if not seeded.exists():
        seeded.parent.mkdir(exist_ok=True)
        shutil.copy(template, seeded)
    defaults = {"starter_model": False, "scheduler_autostart": False, "prediction_flush_seconds": 0.05, "api_enabled": False}
    return Settings.from_env({}, data_dir=data_dir, **{**defaults, **overrides})


@pytest.fixture
def settings(tmp_path: Path, mlflow_template: Path) -> Settings:
    return make_settings(tmp_path / "data", mlflow_template)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def trained_runtime(tmp_path: Path, mlflow_template: Path) -> Iterator[Runtime]:
    """A workspace with the starter dataset and model v1.0.0 as champion."""
    rt = Runtime(make_settings(tmp_path / "data", mlflow_template, starter_model=True))
    yield rt
    rt.close()


def wait_for_url(url: str, process: subprocess.Popen | None = None, timeout: float = 90.0, any_status: bool = False) -> None:
    """Return once `url` answers 200 (with `any_status`, any HTTP answer: the server is up); fail at once,
    with the tail of its stderr when piped, if `process` ends first, and after `timeout` seconds."""

    def answered() -> bool:
        if process is not None and process.poll() is not None:
            tail = process.stderr.read()[-3000:] if process.stderr else ""
            raise AssertionError(f"{process.args[:4]} ended with {process.returncode} before {url} answered {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200 or any_status
        except urllib.error.HTTPError:
            return any_status
        except OSError:
            return False

    wait_until(answered, timeout, what=f"an answer from {url}")


def clean_environ() -> dict[str, str]:
    """This process's environment without our settings and MLflow's, for a server a test starts: MLflow's
    `set_tracking_uri` exports MLFLOW_TRACKING_URI here for whatever store another test opened."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "IA_", "API_"))}


def free_port() -> int:
    """A port nothing listens on now, on loopback, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
