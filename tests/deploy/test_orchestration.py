"""The Prefect flow (orchestration/flow.py) against a real workbench (`python -m core.api` with its scheduler off), run
inside Prefect's local test harness by the orchestration venv's Python (`make test` makes it; the app has no Prefect)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import clean_environ, free_port, wait_for_url
from tests.services.test_faults import IS_ROOT, _fill

ROOT = Path(__file__).resolve().parents[2]
PREFECT_PYTHON = Path(os.environ.get("IA_ORCHESTRATE_PYTHON", ROOT / ".venv-orchestrate" / "bin" / "python"))
TOKEN = "orchestrator-token"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 64 MB tmpfs, so the workbench's disk can be filled after it started; None where it cannot be mounted (not root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if not IS_ROOT or shutil.which("mount") is None:
        yield None
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


class Harness:
    """The flow in Prefect's test harness, in the orchestration venv: one flow run per `run()`."""

    def __init__(self, api_url: str) -> None:
        if not PREFECT_PYTHON.exists():
            pytest.fail(f"{PREFECT_PYTHON} is missing: make test installs it (make .venv-orchestrate/.done)")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
        env.pop("PREFECT_API_URL", None)
        self.proc = subprocess.Popen([str(PREFECT_PYTHON), str(ROOT / "tests" / "prefect_runs.py"), api_url, TOKEN], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        assert json.loads(self._line()) == {"ready": True}

    def _line(self) -> str:
        line = self.proc.stdout.readline()
        assert line, f"the Prefect harness ended: {self.proc.stderr.read()[-3000:]}"
        return line

    def run(self) -> dict:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return json.loads(self._line())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(120)


def test_the_flow_runs_cycles_on_the_workbench_and_fails_on_a_failed_cycle_or_an_unhealthy_workbench(
    tmp_path: Path, small_disk: Path | None, mlflow_template: Path
) -> None:
    data = tmp_path / "wb"  # the MLflow store and the journal on the machine's disk, the DuckDB file on the small one
    data.mkdir()
    shutil.copy(mlflow_template, data / "mlflow.db")
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = {**clean_environ(), "IA_DATA_DIR": str(data), "API_PORT": str(port), "IA_API_TOKEN": TOKEN, "IA_SCHEDULER_AUTOSTART": "false",
           "IA_DUCKDB_PATH": str((small_disk or data) / "ia_continu.duckdb"), "LOG_LEVEL": "WARNING", "IA_STARTER_ROWS": "500"}  # fmt: skip
    workbench = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-m", "core.api"], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    harness = None
    try:
        wait_for_url(f"{api}/health", workbench)  # healthy with the scheduler off: cycles come from the flow
        harness = Harness(api)
        first, second = harness.run(), harness.run()
        assert first["state"] == second["state"] == "COMPLETED", (first, second)
        cycles = httpx.get(f"{api}/cycles", timeout=10).json()["cycles"]
        assert [c["trigger"] for c in cycles] == ["api", "api"]  # a cycle says which door asked for it
        assert [c["cycle_id"] for c in cycles] == [second["result"]["cycle_id"], first["result"]["cycle_id"]]

        if small_disk is None:
            pytest.skip("the failed-cycle half needs a tmpfs to fill, which only root can mount (the completed runs passed)")
        filler = _fill(small_disk)  # the next cycle cannot store what it reads: it ends in error
        failed = harness.run()
        assert failed["state"] == "FAILED" and "CycleFailed: cycle 3 failed" in failed["message"], failed
        unhealthy = harness.run()  # the failed write is now a fault /health reports: the run fails before any cycle
        assert unhealthy["state"] == "FAILED" and "WorkbenchUnhealthy" in unhealthy["message"] and "duckdb" in unhealthy["message"]
        filler.unlink()
    finally:
        if harness is not None:
            harness.close()
        workbench.terminate()
        workbench.wait(60)
