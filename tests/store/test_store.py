import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest

from core.data.synthetic_stream import generate
from core.domain.schema import Schema
from core.errors import WorkspaceError, WorkspaceInUseError
from core.store import Store
from core.store import base as store_module
from core.store.migrations import MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_create_every_table_on_an_empty_file(tmp_path: Path) -> None:
    s = Store(tmp_path / "w.duckdb", 3)
    tables = {r[0] for r in s.cur.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"schema_migrations", "workspace", "datasets", "samples", "models", "model_events", "predictions"} <= tables
    assert s.schema_version() == MIGRATIONS[-1][0]
    assert s.features == ["feature_1", "feature_2", "feature_3"]
    s.close()


def test_an_older_database_upgrades_in_place_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))  # what the first build left behind: migration 1 only
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    MIGRATIONS[0][2](conn, Schema.demo(2))
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'core', now())")
    conn.execute(
        "INSERT INTO datasets (name, source, n_rows, first_sample_id, last_sample_id, created_at) VALUES ('old', 'imported', 1, 1, 1, now())"
    )
    conn.execute("INSERT INTO samples VALUES (1, 1, 0.5, -0.5, 1)")
    conn.close()
    s = Store(path, 2)
    assert s.schema_version() == MIGRATIONS[-1][0]
    assert s.counts()["samples"] == 1 and s.datasets()["name"].tolist() == ["old"]
    assert s.migrate(Schema.demo(2)) == []  # idempotent: nothing left to apply
    assert s.schema == Schema.demo(2)  # migration 8 gave it the synthetic schema
    s.close()


def workspace_at(path: Path, version: int) -> duckdb.DuckDBPyConnection:
    """A workspace file as a build that knew migrations 1..`version` left it, open for the test to fill."""
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for number, name, migration in MIGRATIONS[:version]:
        migration(conn, Schema.demo(2))
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, name])
    return conn


def test_a_workspace_from_before_data_roles_gets_them_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v3.duckdb"
    conn = workspace_at(path, 3)
    for source in ("starter", "stream", "generated", "imported"):
        conn.execute(
            "INSERT INTO datasets (name, source, n_rows, first_sample_id, last_sample_id, created_at) VALUES (?, ?, 1, 1, 1, now())",
            [source, source],
        )
    conn.close()
    s = Store(path, 2)
    roles = dict(zip(s.datasets()["source"], s.datasets()["role"], strict=True))
    assert roles == {"starter": "incoming", "stream": "incoming", "generated": "library", "imported": "library"}
    s.close()


def test_cycles_from_before_scored_rows_get_them_from_their_realised_figures(tmp_path: Path) -> None:
    path = tmp_path / "v12.duckdb"
    conn = workspace_at(path, 12)
    cycle = """INSERT INTO cycles (cycle_id, started_at, ended_at, trigger, status, rows_seen, labelled, first_sample_id,
               last_sample_id, policy, champion_version, realised_accuracy, decision, reason, realised_rows)
               VALUES (?, now(), now(), 'schedule', 'ok', ?, true, ?, ?, 'never', ?, ?, 'none', '', ?)"""
    conn.execute(cycle, [1, 200, 1, 200, 1, 0.9, 200])  # 200 stream rows, 180 right
    conn.execute(cycle, [2, 220, 201, 420, 1, 0.85, 220])  # 200 stream rows and 20 labels of its predictions, 187 right
    conn.execute(cycle, [3, 200, 421, 620, 2, None, None])  # no labels: nothing scored
    for i in range(20):  # 15 of v1.0.0's 20 labelled predictions right, in cycle 2's range
        conn.execute("INSERT INTO feedback VALUES (?, ?, 1, 1, now(), now(), NULL, ?)", [f"p{i}", int(i < 15), 401 + i])
    conn.close()
    s = Store(path, 2)
    scored = s.cur.execute("SELECT cycle_id, scored_rows, scored_correct FROM cycles ORDER BY cycle_id").fetchall()
    assert scored == [(1, 200, 180), (2, 200, 172), (3, None, None)]
    (v1,) = s.realised_by_version()
    assert (v1.version, v1.labels, v1.correct) == (1, 420, 367)
    s.close()


def test_reopening_keeps_data_and_the_workspace_feature_count(tmp_path: Path) -> None:
    X, y = generate(100, 2, seed=1)
    s = Store(tmp_path / "w.duckdb", 2)
    info = s.insert_dataset(X, y, source="generated", name="a")
    s.close()
    again = Store(tmp_path / "w.duckdb", 5)  # a different IA_N_FEATURES cannot reshape an existing workspace
    assert again.n_features == 2
    window = again.read_samples(info.first_sample_id, info.last_sample_id)
    assert np.array_equal(window.X, X) and np.array_equal(window.y, y)
    again.close()


def test_bulk_insert_assigns_dense_ids_and_recent_window_reads_the_newest(tmp_path: Path) -> None:
    s = Store(tmp_path / "w.duckdb", 2)
    first = s.insert_dataset(*generate(300, 2, seed=1), source="generated", name="a", role="incoming")
    library = s.insert_dataset(*generate(100, 2, seed=9), source="generated", name="mine")
    second = s.insert_dataset(*generate(200, 2, seed=2), source="stream", name="b", role="incoming")
    assert (first.first_sample_id, first.last_sample_id, second.first_sample_id, second.last_sample_id) == (1, 300, 401, 600)
    window = s.recent_window(250)  # the loop's data: the library dataset in between is skipped
    assert window.n_rows == 250 and window.dataset_ids == (first.dataset_id, second.dataset_id)
    assert np.array_equal(window.X[-200:], generate(200, 2, seed=2)[0])
    assert library.dataset_id not in s.read_samples(1, 600, incoming=True).dataset_ids
    assert s.max_incoming_sample_id() == 600 and s.count_incoming(301) == 200
    ref = s.reference_rows(1, 600, None, 100, seed=3)  # incoming rows of the range: the library dataset left out
    assert ref.shape == (100, 3) and ref.equals(s.reference_rows(1, 600, None, 100, seed=3))
    assert not ref.equals(s.reference_rows(1, 600, None, 100, seed=4))
    everything = s.reference_rows(1, 600, None, 10_000, seed=3)
    assert len(everything) == 500 and len(s.reference_rows(1, 600, (first.dataset_id,), 10_000, seed=3)) == 300
    s.close()


def test_a_failed_insert_stores_nothing(tmp_path: Path) -> None:
    s = Store(tmp_path / "w.duckdb", 2)
    X, y = generate(10, 2, seed=1)
    with pytest.raises(duckdb.Error):
        s.insert_dataset(X, y, source="nonsense", name="bad")  # CHECK constraint on source
    assert set(s.counts().values()) == {0}  # nothing stored, of any kind
    s.close()


def test_a_second_process_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    s = Store(path, 2)
    code = (
        "import sys; from pathlib import Path; from core.store import Store; from core.errors import WorkspaceInUseError\n"
        f"try: Store(Path({str(path)!r}), 2)\nexcept WorkspaceInUseError as e: print(e); sys.exit(3)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    s.close()
    assert done.returncode == 3, done.stderr
    assert "in use by another process" in done.stdout and str(path) in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_lock_error_message_is_built_from_duckdbs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(_path: str) -> None:
        raise duckdb.IOException('IO Error: Could not set lock on file "x": Conflicting lock is held in /usr/bin/python3 (PID 4242)')

    monkeypatch.setattr(store_module.duckdb, "connect", locked)
    with pytest.raises(WorkspaceInUseError, match="PID 4242"):
        store_module.connect(tmp_path / "w.duckdb")


def test_a_file_that_is_not_a_duckdb_database_is_named_so_with_what_to_do(tmp_path: Path) -> None:
    """Review of tour 13's fix: a damaged file was told to make its folder writable, after DuckDB's own "!."."""
    (damaged := tmp_path / "w.duckdb").write_bytes(b"not a database" * 500)
    with pytest.raises(WorkspaceError) as refused:
        store_module.check_openable(damaged)
    said = str(refused.value)
    assert "is not a valid DuckDB database file. The file is not a DuckDB database (damaged, or another program's)" in said, said
    assert "writable" not in said and "!." not in said


def test_cursors_of_finished_threads_are_closed(tmp_path: Path) -> None:
    import threading

    s = Store(tmp_path / "w.duckdb", 2)
    for _ in range(30):  # like Streamlit: a new thread per script run
        t = threading.Thread(target=lambda: s.counts())
        t.start()
        t.join()
    assert s.open_cursors <= 3  # this thread, the last one, and at most one more
    s.close()


def test_a_cycle_id_taken_on_one_thread_does_not_block_a_checkpoint_on_another(tmp_path: Path) -> None:
    """The soak's day-2 crash: nextval read with fetchone left a write transaction open on the loop's cursor."""
    import threading

    s = Store(tmp_path / "w.duckdb", 2)
    taken = threading.Thread(target=s.next_cycle_id)
    taken.start()
    taken.join()
    assert s.checkpoint(attempts=1) is True
    s.close()


def test_a_checkpoint_that_cannot_run_is_deferred_not_raised(tmp_path: Path) -> None:
    s = Store(tmp_path / "w.duckdb", 2)
    other = s._conn.cursor()  # a writer outside our lock, holding a catalog write open
    other.execute("BEGIN TRANSACTION")
    other.execute("CREATE TABLE scratch (x INTEGER)")
    assert s.checkpoint(attempts=2, pause=0.01) is False
    other.execute("ROLLBACK")
    assert s.checkpoint(attempts=1) is True
    other.close()
    s.close()


def test_a_finished_threads_half_read_result_does_not_block_a_checkpoint(tmp_path: Path) -> None:
    """A page run ends with its last result half-read; its cursor's transaction made every CHECKPOINT fail."""
    import threading

    s = Store(tmp_path / "w.duckdb", 2)
    page_run = threading.Thread(target=lambda: s.cur.execute("SELECT nextval('cycle_id_seq') FROM range(3)").fetchone())
    page_run.start()
    page_run.join()
    assert s.checkpoint(attempts=1) is True
    s.close()


def test_a_workspace_from_before_the_monitor_state_columns_keeps_its_references_follow_ups_and_alert_cycles(tmp_path: Path) -> None:
    path = tmp_path / "v6.duckdb"
    conn = workspace_at(path, 6)
    conn.executemany("INSERT INTO workspace VALUES (?, ?, now())", [["reference.2", "10-20"], ["followup.3", "15"], ["followup.4", ""]])
    embed = {"embeds": [{"title": "Drift detected", "fields": [{"name": "Decision", "value": "wait"}, {"name": "Cycle", "value": "7"}]}]}
    for payload, cycle_id in ((embed, None), ({"embeds": [{"title": "Scheduler started"}]}, None), (embed, 9)):
        conn.execute(
            """INSERT INTO notifications (created_at, kind, level, title, description, payload, delivery, cycle_id)
               VALUES (now(), 'drift', 'warning', 't', 'd', ?, 'sent', ?)""",
            [json.dumps(payload), cycle_id],
        )
    conn.execute("INSERT INTO model_events (ts, kind, version, promoted, reason) VALUES (now(), 'awaiting', 5, false, 'passed')")
    for cycle_id, new_version, promoted in ((1, None, None), (2, 4, True), (3, 5, False), (4, 6, False)):
        conn.execute(
            """INSERT INTO cycles (cycle_id, started_at, ended_at, trigger, status, rows_seen, labelled, policy, decision, reason,
                                   new_version, promoted) VALUES (?, now(), now(), 'schedule', 'ok', 1, true, 'drift', 'none', '', ?, ?)""",
            [cycle_id, new_version, promoted],
        )
    conn.close()
    s = Store(path, 2)
    try:
        assert s.moved_reference(2) == (10, 20) and s.moved_reference(3) is None and (10, 20) in s.protected_ranges()
        assert s.followup_onset(3) == 15 and s.followup_onset(4) is None and s.followup_onset(2) is None
        assert not [k for k in s.settings_map() if k.startswith(("reference.", "followup."))]
        assert s.notifications()["cycle_id"].astype(object).where(lambda c: c.notna(), None).tolist()[::-1] == [7, None, 9]  # oldest first
        assert [s.cycle(c)["gate_outcome"] for c in (1, 2, 3, 4)] == [None, "promoted", "awaiting", "rejected"]
    finally:
        s.close()
