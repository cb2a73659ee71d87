"""Serving beyond one process with MLflow's own engines, on real processes and free ports.

`mlflow models serve` on `models:/<name>@champion` returns the probabilities our /predict
returns; and with a real `mlflow server` as the tracking URI, model files go to the
server's artifact store, so a fresh process that knows only the server's URI loads the
champion and predicts the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from core.config import Settings
from core.runtime import Runtime
from tests.fixtures import make_settings
from tests.servers import clean_environ, free_port, wait_for_url

ROWS = [[1.5, 2.3], [-0.7, 0.4], [0.05, -0.02]]


def _env(**extra: str) -> dict[str, str]:
    """The venv's bin first on PATH: `mlflow models serve` starts `uvicorn` by name."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return clean_environ() | {"PATH": path} | extra


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen]]:
    processes: list[subprocess.Popen] = []
    yield processes
    for proc in processes:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_mlflow_models_serve_returns_our_probabilities(trained_runtime: Runtime, started: list[subprocess.Popen]) -> None:
    rt = trained_runtime
    port = free_port()
    started.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                f"models:/{rt.settings.registered_model_name}@champion",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=_env(MLFLOW_TRACKING_URI=rt.settings.mlflow_tracking_uri),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    wait_for_url(f"http://127.0.0.1:{port}/ping", started[0])
    served = httpx.post(f"http://127.0.0.1:{port}/invocations", json={"inputs": ROWS}, timeout=30).json()["predictions"]
    ours = [rt.serving.predict(row).probability for row in ROWS]
    assert np.allclose(np.asarray(served)[:, 1], ours, rtol=0, atol=1e-12)


def test_a_shared_mlflow_server_holds_the_model_files_for_every_replica(
    tmp_path: Path, mlflow_template: Path, started: list[subprocess.Popen]
) -> None:
    port = free_port()
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    started.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{server_dir / 'mlflow.db'}",
                "--artifacts-destination",
                str(server_dir / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=server_dir,
        )
    )
    uri = f"http://127.0.0.1:{port}"
    wait_for_url(f"{uri}/health", started[0])
    settings = make_settings(tmp_path / "workbench", mlflow_template, starter_model=True, mlflow_tracking_uri=uri)
    settings = Settings.from_env({}, **{f: getattr(settings, f) for f in ("data_dir", "starter_model", "scheduler_autostart", "api_enabled")},
                                 mlflow_tracking_uri=uri)  # fmt: skip
    assert settings.mlflow_artifacts_dir is None
    rt = Runtime(settings)
    try:
        ours = [rt.serving.predict(row).probability for row in ROWS]
        files = [p.name for p in (server_dir / "artifacts").rglob("*") if p.is_file()]
        assert not (settings.data_dir / "mlartifacts").exists() and "MLmodel" in files, files
        assert rt.health.check().checks["mlflow"].ok
    finally:
        rt.close()
    replica = subprocess.run(
        [sys.executable, "-c", "import json, sys, mlflow.sklearn; m = mlflow.sklearn.load_model(sys.argv[1]); "
         "print(json.dumps(m.predict_proba(json.loads(sys.argv[2]))[:, 1].tolist()))",
         f"models:/{settings.registered_model_name}@champion", str(ROWS)],
        env=_env(MLFLOW_TRACKING_URI=uri), capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert replica.returncode == 0, replica.stderr[-2000:]
    assert np.allclose(json.loads(replica.stdout.strip().splitlines()[-1]), ours, rtol=0, atol=1e-12)
