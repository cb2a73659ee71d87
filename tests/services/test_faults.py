"""System faults on real files: a full filesystem, read-only stores, missing stores at start.

The full disk is a small tmpfs mounted by the test (root only, as in CI); read-only is
`chattr +i`, which holds even for root. Each fault must show in health in plain words,
never turn an unrecorded write into a success, and leave the loop running.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.api.server import ApiServer
from core.errors import StorageError, WorkspaceError, plain_fault
from core.runtime import Runtime
from tests.fixtures import make_settings
from tests.servers import free_port, wait_for_url
from tests.waiting import wait_until

IS_ROOT = os.geteuid() == 0


def _require(ok: bool, reason: str) -> None:
    if not ok:
        if os.environ.get("IA_REQUIRE_BROWSER"):  # CI runs as root: these must run there
            pytest.fail(f"fault test cannot run in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    _require(IS_ROOT and shutil.which("mount") is not None, "mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True, text=True)
    _require(done.returncode == 0, f"mount failed: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    _require(shutil.which("chattr") is not None, "chattr is not installed")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    _require(done.returncode == 0, f"chattr +i not supported here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_refuses_new_predictions_loses_none_acknowledged_and_shows_in_health(small_disk: Path, mlflow_template: Path) -> None:
    rt = Runtime(make_settings(small_disk / "data", mlflow_template, starter_model=True, stream_batch_size=50))
    try:
        acked = sum(1 for i in range(20) if rt.serving.predict([float(i), 1.0]))
        rt.predictor.flush()
        filler = _fill(small_disk)
        refused = 0
        for i in range(400):
            try:
                rt.serving.predict([float(i), 2.0])
                acked += 1
            except StorageError as exc:
                refused += 1
                assert "the disk is full" in str(exc)
        rt.predictor.flush()
        failed = rt.loop.run_cycle("manual")
        assert refused > 0 and failed.status == "error"
        health = rt.health.check()
        assert not health.healthy
        assert not health.checks["disk"].ok and "the disk is full" in health.checks["disk"].detail
        assert not health.checks["duckdb"].ok and "the disk is full" in health.checks["duckdb"].detail
        assert rt.scheduler.state in ("stopped", "paused", "running")  # nothing raised out of the cycle

        filler.unlink()
        rt.predictor.flush()
        assert rt.store.counts()["predictions"] == acked
        ok = rt.loop.run_cycle("manual")
        assert ok.status == "ok"
        cycles = rt.store.cycles()
        statuses = cycles["status"].tolist()
        assert "error" in statuses and statuses[0] == "ok"  # the failed cycle was stored once writes came back
        alerts = rt.store.notifications()  # held with the cycle they name, stored after it
        assert set(alerts["cycle_id"].dropna()) <= set(cycles["cycle_id"])
        assert alerts.query("kind == 'loop_failing'")["cycle_id"].tolist() == [failed.cycle_id]
        assert rt.health.check().checks["duckdb"].ok
    finally:
        rt.close()


def test_a_read_only_mlflow_store_is_degraded_in_health_and_a_retrain_fails_in_plain_words(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    store = rt.settings.data_dir / "mlflow.db"
    assert rt.health.check().checks["mlflow"].ok
    rt.data.generate(500, seed=2, role="incoming")
    with immutable(store):
        check = rt.health.check().checks["mlflow"]
        assert not check.ok and "refuses writes" in check.detail and str(store) in check.detail
        with pytest.raises(Exception) as caught:
            rt.models.train(window_rows=500)
        assert "read-only" in plain_fault(caught.value)
    assert rt.health.check().checks["mlflow"].ok


def test_a_loop_retrain_against_a_read_only_store_marks_mlflow_degraded_until_it_recovers(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(policy="always", retrain_cooldown_cycles=0)
    with immutable(rt.settings.data_dir / "mlflow.db"):
        record = rt.loop.run_cycle("manual")
        assert record.status == "error" and "retrain failed" in record.reason and "read-only" in record.reason
        assert not rt.health.check().checks["mlflow"].ok
    record = rt.loop.run_cycle("manual")
    assert record.status == "ok" and rt.health.check().checks["mlflow"].ok


def test_a_missing_mlflow_store_at_start_names_the_path_and_what_to_do(tmp_path: Path, mlflow_template: Path) -> None:
    settings = make_settings(tmp_path / "data", mlflow_template, starter_model=True)
    Runtime(settings).close()
    (settings.data_dir / "mlflow.db").unlink()
    with pytest.raises(WorkspaceError, match=r"MLflow store .*mlflow\.db is missing.*Restore mlflow\.db"):
        Runtime(settings)
    assert not (settings.data_dir / "mlflow.db").exists()  # nothing created behind the user's back


def test_a_missing_artifact_folder_at_start_names_the_path(tmp_path: Path, mlflow_template: Path) -> None:
    settings = make_settings(tmp_path / "data", mlflow_template, starter_model=True)
    Runtime(settings).close()
    shutil.rmtree(settings.mlflow_artifacts_dir)
    with pytest.raises(WorkspaceError, match=r"artifact folder .*mlartifacts is missing"):
        Runtime(settings)


def test_a_read_only_data_folder_at_start_names_the_folder(tmp_path: Path, mlflow_template: Path) -> None:
    settings = make_settings(tmp_path / "data", mlflow_template)
    Runtime(settings).close()
    with immutable(settings.data_dir), pytest.raises(WorkspaceError) as caught:
        Runtime(settings)
    assert str(settings.duckdb_path) in str(caught.value) and "writable" in str(caught.value)


def test_a_journal_folder_that_refused_writes_for_a_while_leaves_every_route_answering_again_by_itself(
    tmp_path: Path, mlflow_template: Path
) -> None:
    """The operator's case: the data folder made read-only, then writable again. While it is, the flusher stores a
    segment it cannot delete; once it is writable, /predict, /health and /feedback all answer 200 without a restart,
    and no prediction is stored twice."""
    port = free_port()
    rt = Runtime(make_settings(tmp_path / "data", mlflow_template, starter_model=True, api_enabled=True, api_port=port))
    rt.attach_server(ApiServer(rt))
    url = f"http://127.0.0.1:{port}"
    wait_for_url(f"{url}/health/live")
    try:
        first = httpx.post(f"{url}/predict", json={"features": [1.0, 2.0]})
        assert first.status_code == 200
        folder = rt.predictor.journal.folder
        with immutable(folder):
            rt.predictor.flush()  # stored; its segment cannot be deleted
            refused = httpx.post(f"{url}/predict", json={"features": [1.0, 2.0]})
            assert refused.status_code == 503 and "not recorded" in refused.json()["error"]
            assert str(tmp_path) not in refused.text and "…/journal" in refused.json()["error"]  # no server folder told to a caller
        wait_until(lambda: httpx.get(f"{url}/health").status_code == 200, what="/health back to 200 with no restart")
        again = httpx.post(f"{url}/predict", json={"features": [3.0, -1.0]})
        assert again.status_code == 200
        labels = {"labels": [{"prediction_id": first.json()["prediction_id"], "label": 1}]}
        fed = httpx.post(f"{url}/feedback", json=labels)
        assert fed.status_code == 200 and fed.json()["stored"] == 1, fed.text
        rt.predictor.flush()
        logged = rt.insights.recent_predictions(100)["prediction_id"].tolist()
        assert sorted(logged) == sorted([first.json()["prediction_id"], again.json()["prediction_id"]])  # each once
        assert [p.name for p in folder.glob("*.journal")] == []  # the stored segment went once the folder let it
        assert rt.store.applied_segments() == set()
    finally:
        rt.close()
