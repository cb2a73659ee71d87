"""Nothing acknowledged is lost, and what a killed process leaves behind is repaired at start.

Real kills (SIGKILL of a subprocess that owns the workspace), a real journal on disk,
a real MLflow store, a webhook server that never answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from core.io.notify import Notifier
from core.runtime import Runtime
from core.services.predictor import StoreLog
from core.store import Store, utcnow
from core.store.journal import Entry, Journal, decode_all, encode, read_segment
from core.store.prediction_rows import entries_table
from tests.discord_server import FakeDiscord
from tests.fixtures import make_settings
from tests.servers import clean_environ

ROOT = Path(__file__).resolve().parents[2]


def _env(data: Path, **extra: str) -> dict[str, str]:
    return clean_environ() | {
        "IA_DATA_DIR": str(data),
        "IA_SCHEDULER_AUTOSTART": "false",
        "IA_API_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def _spawn(script: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _read_until(proc: subprocess.Popen, wanted: int, prefix: str, timeout: float = 120) -> int:
    """Read the child's lines until `wanted` lines start with `prefix`; returns how many did."""
    seen, deadline = 0, time.monotonic() + timeout
    while seen < wanted and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"child ended early: {proc.stderr.read()[-2000:]}")
        seen += line.startswith(prefix)
    return seen


PREDICT_FOREVER = """
import sys
from core.runtime import Runtime
rt = Runtime()
i = 0
while True:
    rt.serving.predict([float(i % 7), 1.0])
    i += 1
    print("ack", i, flush=True)
"""


@pytest.fixture
def workspace(tmp_path: Path, mlflow_template: Path) -> Path:
    """A closed workspace with the starter champion, ready for a child process to own."""
    data = tmp_path / "data"
    Runtime(make_settings(data, mlflow_template, starter_model=True)).close()
    return data


@pytest.mark.parametrize(("flush_rows", "flush_seconds"), [("1000000", "3600"), ("40", "0.05")], ids=["never-flushed", "mid-flush"])
def test_kill9_loses_no_acknowledged_prediction(workspace: Path, flush_rows: str, flush_seconds: str) -> None:
    env = _env(workspace, IA_PREDICTION_FLUSH_ROWS=flush_rows, IA_PREDICTION_FLUSH_SECONDS=flush_seconds)
    proc = _spawn(PREDICT_FOREVER, env)
    try:
        acked = _read_until(proc, 600, "ack")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    acked += sum(line.startswith("ack") for line in proc.stdout.read().splitlines())  # answered before the kill, read after it
    rt = Runtime(make_settings(workspace, workspace / "mlflow.db", starter_model=True))
    try:
        logged = rt.store.counts()["predictions"]
        assert acked <= logged <= acked + 1  # the one being answered at the kill may be in too
        if flush_rows == "1000000":  # nothing reached DuckDB before the kill: all came back from the journal
            assert any(r.action == "replayed" for r in rt.repairs)
            assert "replayed" in rt.store.repairs()["action"].tolist()
        assert list((workspace / "journal").glob("*.journal")) == []
    finally:
        rt.close()


TRAIN_FOREVER = """
from core.runtime import Runtime
rt = Runtime()
k = 0
while True:
    k += 1
    rt.data.generate(400, "concept_drift", 0.5 + (k % 3) * 0.5, seed=k, role="incoming")
    outcome = rt.models.train(window_rows=400, on_step=lambda step: print("step", step, flush=True))
    print("trained", outcome.version, outcome.decision.promoted, flush=True)
"""


@pytest.mark.parametrize("step", ["step Reading", "step Fitting"])
def test_kill9_mid_retrain_or_promotion_is_repaired_at_start(workspace: Path, step: str) -> None:
    proc = _spawn(TRAIN_FOREVER, _env(workspace))
    try:
        _read_until(proc, 2, "trained")
        _read_until(proc, 1, step)  # killed as the third training reads its rows, or as it fits, logs, registers and gates
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    rt = Runtime(make_settings(workspace, workspace / "mlflow.db", starter_model=True))
    try:
        assert rt.tracker.alias_version("champion") == rt.store.champion_version() == rt.registry.champion_version
        assert rt.tracker.alias_version("challenger") is None and rt.store.versions_with_status("challenger") == []
        assert rt.tracker.running_runs() == []
        assert rt.serving.predict([0.5, 0.5]).model_version == rt.store.champion_version()
    finally:
        rt.close()


def test_left_over_aliases_runs_and_challengers_are_repaired_and_recorded(workspace: Path) -> None:
    settings = make_settings(workspace, workspace / "mlflow.db", starter_model=True)
    rt = Runtime(settings)
    rt.data.generate(600, "concept_drift", 1.0, seed=3, role="incoming")
    outcome = rt.models.train(window_rows=600)
    assert outcome.decision.promoted
    # The states a kill leaves: the challenger alias still on the new champion, a run never ended,
    # a challenger whose gate never ran.
    rt.tracker.set_alias("challenger", outcome.version)
    run = rt.tracker.client.create_run(rt.tracker.experiment_id)
    rt.tracker.set_alias("champion", 1)
    with rt.store.transaction() as tx:
        rt.store.set_status(tx, 1, "challenger")
    rt.close()
    rt = Runtime(settings)
    try:
        assert rt.tracker.alias_version("champion") == outcome.version and rt.tracker.alias_version("challenger") is None
        assert rt.tracker.client.get_run(run.info.run_id).info.status == "KILLED"
        assert rt.store.model(1)["status"] == "rejected"
        recorded = rt.store.repairs()
        assert {"alias", "run killed", "rejected"} <= set(recorded["action"]) and all(recorded["detail"].str.len() > 20)
    finally:
        rt.close()


def test_alerts_left_pending_are_sent_after_a_restart_or_abandoned_when_old(tmp_path: Path, mlflow_template: Path) -> None:
    settings = make_settings(tmp_path / "d", mlflow_template)
    rt = Runtime(settings)
    young = rt.notifier.notify("drift", "warning", "Drift detected", "a stop came before the send")
    old = rt.notifier.notify("drift", "warning", "Older drift", "a stop came long before")
    rt.close()
    store = Store(settings.duckdb_path, 2)
    store.update_notification(young, delivery="pending")
    store.update_notification(old, delivery="pending", created_at=utcnow() - timedelta(hours=5))
    store.close()
    with FakeDiscord() as discord:
        rt = Runtime(make_settings(tmp_path / "d", mlflow_template, discord_webhook_url=discord.url))
        try:
            assert rt.notifier.flush(10)
            assert rt.store.notification(young)["delivery"] == "sent" and len(discord.received) == 1
            assert rt.store.notification(old)["delivery"] == "abandoned"
            assert {"retried", "abandoned"} <= set(rt.store.repairs()["action"])
        finally:
            rt.close()


def test_a_webhook_that_never_answers_fails_within_the_deadline(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (the kernel does), never reads or answers
    store = Store(tmp_path / "w.duckdb", 2)
    notifier = Notifier(
        store, f"http://127.0.0.1:{silent.getsockname()[1]}/api/webhooks/1/x", timeout=5, retries=3, backoff=1, deadline=1.0
    )
    try:
        alert = notifier.notify("drift", "warning", "Hung", "nobody answers")
        assert notifier.flush(30)
        record = store.notification(alert)
        # one attempt, cut by the 1 s deadline: not the 5 s timeout, not four attempts with backoff (27 s before the deadline)
        assert record["delivery"] == "failed" and "deadline" in record["error"] and record["attempts"] == 1
    finally:
        notifier.close()
        store.close()
        silent.close()


def test_journal_tail_torn_by_a_kill_is_ignored_and_the_rest_read(tmp_path: Path) -> None:
    entries = [Entry(1_700_000_000_000_000 + i, 1, np.array([[i, 2.0]]), np.array([0.25]), 0.1, "api") for i in range(5)]
    data = b"".join(encode(e) for e in entries)
    read, end = decode_all(data + encode(entries[0])[:-7])
    assert len(read) == 5 and end == len(data) and read[3].X.tolist() == [[3.0, 2.0]]
    damaged = bytearray(data)
    damaged[len(encode(entries[0])) + 12] ^= 0xFF  # a flipped byte in the second record: stop before it
    assert len(decode_all(bytes(damaged))[0]) == 1


def test_replay_after_a_crash_between_insert_and_delete_inserts_nothing_twice(tmp_path: Path) -> None:
    store = Store(tmp_path / "w.duckdb", 2)
    journal = Journal(tmp_path / "journal")
    for i in range(3):
        journal.append(Entry(1_700_000_000_000_000 + i, 1, np.array([[i, 1.0]]), np.array([0.9]), 0.2, "api"))
    (name,) = journal.rotate()
    log = StoreLog(store, journal)  # the log half only: no model is needed to write the log
    store.insert_predictions(entries_table(read_segment(journal.folder / name), store.schema), [name])  # the insert committed...
    assert store.counts()["predictions"] == 3  # ...and the process died before deleting the segment
    assert log.replay() == 0 and store.counts()["predictions"] == 3
    assert list(journal.folder.iterdir()) == [] and store.applied_segments() == set()
    store.close()


def test_flush_from_a_thread_with_an_unfinished_result_writes_the_batch(workspace: Path) -> None:
    rt = Runtime(make_settings(workspace, workspace / "mlflow.db", prediction_flush_seconds=3600, prediction_flush_rows=10**6))
    try:
        rt.store.cur.execute("SELECT * FROM range(100)").fetchone()  # this thread's cursor holds an open result
        rt.serving.predict([1.0, 2.0])
        assert rt.predictor.flush() == 1 and rt.store.counts()["predictions"] == 1
    finally:
        rt.close()


def test_a_prediction_that_cannot_be_journalled_is_an_error_not_an_answer(trained_runtime: Runtime) -> None:
    from core.errors import StorageError

    rt = trained_runtime
    rt.predictor.journal.rotate()
    folder = rt.predictor.journal.folder
    os.chmod(folder, 0o500)
    blocked = folder.with_name("journal-moved")
    folder.rename(blocked)  # even root cannot create a segment in a folder that is gone
    try:
        with pytest.raises(StorageError, match="the prediction was not recorded"):
            rt.serving.predict([1.0, 2.0])
    finally:
        blocked.rename(folder)
        os.chmod(folder, 0o755)
    assert rt.predictor.flush() == 0 and rt.store.counts()["predictions"] == 0
    rt.serving.predict([1.0, 2.0])
    assert rt.predictor.flush() == 1


@pytest.fixture
def concurrent_predictions(trained_runtime: Runtime) -> Iterator[tuple[Runtime, list[int]]]:
    """Predictions from four threads while the flusher writes, for the exactly-once count."""
    counts = [0] * 4

    def work(k: int) -> None:
        for i in range(200):
            trained_runtime.serving.predict([float(i), float(k)])
            counts[k] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    yield trained_runtime, counts


def test_concurrent_predictions_are_logged_exactly_once(concurrent_predictions: tuple[Runtime, list[int]]) -> None:
    rt, counts = concurrent_predictions
    rt.predictor.flush()
    assert rt.store.counts()["predictions"] == sum(counts) == 800
    assert list(rt.predictor.journal.folder.glob("*.journal")) == []


PAUSE_AND_WAIT = """
import time
from core.runtime import Runtime
rt = Runtime()
rt.loop.pause()
print("paused", flush=True)
time.sleep(600)
"""


def test_a_start_after_a_kill_says_the_loop_comes_back_paused_and_the_process_before_was_not_stopped(
    workspace: Path, mlflow_template: Path
) -> None:
    """Tour 9: after kill -9 of a paused workspace, the next start stored "Scheduler started" while the loop stayed
    paused, and nothing said the process before had died."""
    proc = _spawn(PAUSE_AND_WAIT, _env(workspace, IA_SCHEDULER_AUTOSTART="true"))
    try:
        _read_until(proc, 1, "paused")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    settings = make_settings(workspace, mlflow_template, scheduler_autostart=True)
    for unclean in (True, False):  # the second start follows a clean close
        rt = Runtime(settings)
        try:
            started = rt.store.notifications().query("kind == 'scheduler'").iloc[0]
            title = "Scheduler started (paused)" + (" after an unclean stop" if unclean else "")
            assert rt.scheduler.state == "paused" and started["title"] == title
            assert "no scheduled cycle runs until Start" in started["description"]
            assert ("ended without being stopped" in started["description"]) is unclean
            assert (started["level"], started["delivery"] == "info") == (("warning", False) if unclean else ("info", True))
        finally:
            rt.close()
