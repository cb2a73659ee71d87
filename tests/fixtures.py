"""The runtime fixtures: real DuckDB files and real MLflow sqlite stores in temp folders.

Creating an MLflow database runs its migrations (seconds), so one migrated template is made per session (per
layer folder that uses it) and copied into each test's workspace. The folders of the pure layers never import
this module, so their tests run without MLflow or a runtime; the others take it through their conftest.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.runtime import Runtime


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
