"""The runtime built in the background as the server starts, its steps readable while it runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core import startup
from core.config import Settings
from core.runtime import close_runtime, is_built
from core.startup import start_in_background
from tests.fixtures import make_settings


@pytest.fixture(autouse=True)
def no_runtime_left() -> Iterator[None]:
    close_runtime()
    yield
    close_runtime()


def test_a_background_build_reports_each_step_then_serves_the_same_runtime(tmp_path: Path, mlflow_template: Path) -> None:
    settings = make_settings(tmp_path / "data", mlflow_template, starter_model=True)
    startup = start_in_background(settings)
    assert startup.finished.wait(120) and startup.error is None and is_built()
    steps = startup.steps()
    names = [s.name for s in steps]
    assert names[0] == "Opening the DuckDB workspace ia_continu.duckdb" and names[1] == "Opening the MLflow store"
    assert "Generating the starter data (2,000 synthetic rows)" in names and "Training v1.0.0 on the starter data" in names
    assert names[-1] == "Starting the loop" and all(s.done and s.seconds >= 0 for s in steps) and startup.fraction == 1.0
    assert start_in_background() is startup  # built: no second build
    close_runtime()
    again = start_in_background(settings)  # closed (a test, or the cache released it): built anew
    assert again is not startup and again.finished.wait(120) and again.error is None
    assert "Training v1.0.0 on the starter data" not in [s.name for s in again.steps()]  # the workspace has its model now


def test_a_failed_build_is_kept_for_the_page_and_the_next_call_tries_again(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    settings = Settings.from_env({}, data_dir=blocker, scheduler_autostart=False, api_enabled=False)
    startup = start_in_background(settings)
    assert startup.finished.wait(60) and startup.error is not None and not is_built()
    assert str(blocker) in str(startup.error)
    assert start_in_background(settings) is not startup


def test_a_process_started_on_a_named_workspace_switches_to_the_demo_its_launch_environment_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = tmp_path / "demo"
    monkeypatch.setattr(startup, "LAUNCH_ENVIRON", {"IA_DATA_DIR": str(demo)}, raising=False)
    monkeypatch.setattr(startup, "_chosen", None)
    monkeypatch.setattr(startup, "_demo", None, raising=False)
    monkeypatch.setenv("IA_DATA_DIR", str(demo))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'penguins' / 'mlflow.db'}")  # what a library wrote since
    named = Settings.from_env({"IA_WORKSPACE": "penguins", "IA_WORKSPACES_DIR": str(tmp_path / "ws")}, api_enabled=False)
    chosen = startup.switch_workspace(named, "demo")
    assert chosen.workspace == "" and chosen.data_dir == demo and chosen.duckdb_path == demo / "ia_continu.duckdb"
    assert chosen.mlflow_tracking_uri == f"sqlite:///{demo / 'mlflow.db'}" and chosen.mlflow_artifacts_dir == demo / "mlartifacts"
    assert chosen.workspaces_dir == named.workspaces_dir and chosen.api_enabled is False  # the rest as the workspace left had it
    back = startup.switch_workspace(chosen, "penguins")
    assert back == named
    assert startup.switch_workspace(back, "demo") == chosen  # the demo as this process opened it
