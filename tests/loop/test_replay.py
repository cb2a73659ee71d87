"""A stored dataset replayed as the stream, a workspace that replays its own file, and the window a drift retrain picks.

Real workspaces (DuckDB, MLflow), the REST API through TestClient, and the replay benchmark on a slice of the
real Weather stream.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core.api import create_app
from core.data import synthetic_stream
from core.data.table_check import ordered_by_time
from core.domain.clock import utc_csv
from core.domain.features import TARGET
from core.domain.schema import Schema
from core.errors import UserInputError
from core.ml.window_choice import NoChallenger, challenge, choose_window
from core.runtime import Runtime
from core.store import Window
from core.workspaces import TableChoice, create, workspace_settings
from tests.core.test_workspace_switching import penguins
from tests.fixtures import make_settings

ROOT = Path(__file__).resolve().parents[2]
WEATHER = ROOT / "examples" / "weather.csv"


def _replayed_rows(rt: Runtime) -> np.ndarray:
    """The features of every replayed batch, in the order the loop received them."""
    return rt.store.cur.execute(
        "SELECT feature_1, feature_2 FROM samples WHERE dataset_id IN (SELECT dataset_id FROM datasets WHERE scenario = 'replay') "
        "ORDER BY sample_id"
    ).fetchnumpy()


def test_a_replay_feeds_the_dataset_in_order_survives_a_restart_and_stops_at_the_end(tmp_path: Path, mlflow_template: Path) -> None:
    settings = make_settings(tmp_path / "d", mlflow_template, starter_model=True, stream_batch_size=150)
    rt = Runtime(settings)
    source = rt.data.generate(400, "concept_drift", seed=5)
    rt.loop.update_stream(source=source.dataset_id)
    first, second = rt.loop.run_cycle(), rt.loop.run_cycle()
    assert (first.scenario, first.labelled_rows, second.labelled_rows) == ("replay", 150, 150)
    # the range read is the replay's copies, not the library rows between the starter's window and them (tour 13)
    assert [(c.first_sample_id, c.last_sample_id) for c in (first, second)] == [
        (source.last_sample_id + 1, source.last_sample_id + 150),
        (source.last_sample_id + 151, source.last_sample_id + 300),
    ]
    assert rt.loop.stream_info()["position"] == 300 and rt.loop.stream_info()["batches_left"] == 1
    rt.close()
    rt = Runtime(settings)  # the position was stored with the batch: the restart resumes at row 300
    try:
        third, end = rt.loop.run_cycle(), rt.loop.run_cycle()
        assert third.labelled_rows == 100 and end.status == "no_data" and "replay of dataset" in end.reason and "ended" in end.reason
        info = rt.loop.stream_info()
        assert info["finished"] and info["position"] == 400 and info["batches_left"] == 0
        replayed = _replayed_rows(rt)
        original = rt.store.read_datasets([source.dataset_id])
        assert np.array_equal(replayed["feature_1"], original.X[:, 0])  # every row once, in the dataset's order
        assert np.array_equal(rt.store.recent_window(400).y, original.y)
        rt.loop.update_stream(at_end="restart")
        again = rt.loop.run_cycle()
        assert again.labelled_rows == 150 and rt.loop.stream_info()["position"] == 150
    finally:
        rt.close()


def test_rows_sent_before_are_named_when_the_position_goes_back_and_only_those(trained_runtime: Runtime) -> None:
    """The loop receives rows set back to as new rows: the spans it was sent say which will be copies, where the position
    alone would say all rows before it (wrong after a skip forward)."""
    rt = trained_runtime
    rt.loop.set_controls(policy="never", stream_batch_size=100)
    library = rt.data.generate(1000, "stable", seed=1)
    rt.loop.update_stream(source=library.dataset_id)
    rt.loop.run_cycle()  # rows 1-100
    rt.loop.update_stream(position=500)
    rt.loop.run_cycle()  # rows 501-600
    assert (rt.loop.stream_info()["rows_sent_before"], rt.loop.stream_info()["copies_ahead"]) == (0, None)  # all ahead is new
    rt.loop.update_stream(position=0)
    info = rt.loop.stream_info()
    assert info["rows_sent_before"] == 200
    assert (
        f"200 of the rows still to replay (rows 1–100, 501–600 of dataset {library.dataset_id}, counted from its first row) were sent to the loop before"
        in (info["copies_ahead"])
    )
    rt.loop.run_cycle()  # rows 1-100 again
    assert rt.loop.stream_info()["rows_sent_before"] == 100  # 501-600 still ahead
    other = rt.data.generate(300, "stable", seed=2)
    rt.loop.update_stream(source=other.dataset_id)  # another dataset: none of its rows came yet
    assert rt.loop.stream_info()["rows_sent_before"] == 0
    rt.loop.update_stream(source=library.dataset_id, position=550)  # back to the first: it is remembered
    assert rt.loop.stream_info()["rows_sent_before"] == 50


def test_a_row_the_replay_sends_again_is_read_once_and_never_judges_a_model_that_trained_on_it(trained_runtime: Runtime) -> None:
    """Started over, a replay re-sends its rows as new ones: the window read keeps each source row's newest copy, so a
    model trains on each once and the newest rows it is judged on hold no copy of a row it trained on."""
    rt = trained_runtime
    rt.loop.set_controls(policy="never", stream_batch_size=100)
    library = rt.data.generate(300, "stable", seed=4)
    rt.loop.update_stream(source=library.dataset_id, at_end="restart")
    for _ in range(5):  # 300 rows, then 200 of them again
        rt.loop.run_cycle()
    received = rt.store.cur.execute("SELECT count(*), count(DISTINCT replay_of) FROM samples WHERE replay_of IS NOT NULL").fetchone()
    assert received == (500, 300)
    window = rt.store.recent_window(500)
    sources = rt.store.cur.execute(
        f"SELECT coalesce(replay_of, sample_id) FROM samples WHERE sample_id IN ({', '.join(map(str, window.sample_ids))})"
    ).fetchnumpy()
    keys = next(iter(sources.values()))
    assert len(keys) == len(set(keys)) == window.n_rows  # each row once ...
    newest = rt.store.cur.execute("SELECT max(sample_id) FROM samples").fetchone()[0]
    assert window.last_sample_id == newest  # ... at its newest copy
    assert 300 <= window.n_rows < 500
    # A reference or a chart over the replay's whole range reads each row once, as training reads it.
    first = rt.store.cur.execute("SELECT min(sample_id) FROM samples WHERE replay_of IS NOT NULL").fetchone()[0]
    assert len(rt.store.incoming_rows(first, newest, 10_000)) == rt.store.read_samples(first, newest, incoming=True).n_rows == 300
    segments = tuple(rt.store.datasets_holding(tuple(range(1, 20)), first, newest))  # a model's reference names its datasets
    assert len(rt.store.reference_rows(first, newest, segments, 10_000, 0)) == 300  # tour 19: 2,610 beside 2,310 trained on
    # A model trained on the library dataset is judged on incoming rows, never on the replay's copies of its own rows.
    other = rt.data.generate(200, "stable", seed=9, role="incoming")
    gate_rows = rt.store.recent_window(1000, exclude_datasets=(library.dataset_id,))
    copies = rt.store.cur.execute("SELECT sample_id FROM samples WHERE replay_of IS NOT NULL").fetchnumpy()["sample_id"]
    assert not set(gate_rows.sample_ids) & set(copies)
    assert set(range(other.first_sample_id, other.last_sample_id + 1)) <= set(gate_rows.sample_ids)
    assert set(copies) & set(rt.store.recent_window(1000).sample_ids)  # the copies are in the loop's data: only left out here


def test_stream_source_over_the_api_and_its_bad_input(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    library = rt.data.generate(300, "stable", seed=1)
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        assert client.get("/stream").json()["source"] == "simulator"
        reply = client.put("/stream", json={"source": library.dataset_id, "at_end": "restart", "batch_size": 100})
        body = reply.json()
        assert reply.status_code == 200 and (body["source"], body["position"], body["total_rows"], body["batches_left"]) == (
            library.dataset_id, 0, 300, 3)  # fmt: skip
        assert client.put("/stream", json={"position": 200}).json()["batches_left"] == 1
        starter = int(rt.store.datasets().query("role == 'incoming'")["dataset_id"].iloc[0])
        for bad, field in (({"source": 999}, "source"), ({"source": "abc"}, "source"), ({"source": starter}, "source"),
                           ({"source": str(library.dataset_id)}, "source"),
                           ({"position": 301}, "position"), ({"at_end": "loop"}, "at_end"),
                           ({"position": 5, "batch_size": 5}, "batch_size"), ({"label_delay_cycles": -1}, "label_delay_cycles")):  # fmt: skip
            refused = client.put("/stream", json=bad)
            assert refused.status_code == 422 and refused.json()["field"] == field, (bad, refused.text)
        after = client.get("/stream").json()
        assert (after["position"], after["at_end"], after["batch_size"]) == (200, "restart", 100)  # nothing half-applied
        refused = client.delete(f"/datasets/{library.dataset_id}")  # the loop reads it: it stays while it is the source
        assert refused.status_code == 422 and "stream's source" in refused.json()["error"]
        assert refused.json()["field"] == "dataset_id" == client.delete("/datasets/999").json()["field"]  # the path's name
        incoming = len(rt.store.datasets().query("role == 'incoming'"))
        with pytest.raises(UserInputError, match="twice") as twice:  # the replay sends these rows already
            rt.data.send_to_loop(library.dataset_id)
        assert twice.value.field == "dataset_id" and len(rt.store.datasets().query("role == 'incoming'")) == incoming
        assert client.put("/stream", json={"source": "simulator"}).json()["source"] == "simulator"
        assert client.delete(f"/datasets/{library.dataset_id}").status_code == 200


def test_a_workspace_from_a_file_replays_the_rows_after_its_first_ones(tmp_path: Path, mlflow_template: Path) -> None:
    base = make_settings(tmp_path / "base", mlflow_template)
    created = create(base, "weather", WEATHER, "weather.csv", TableChoice("rain", initial_rows=300))
    rt = Runtime(replace(workspace_settings(base, created.folder), stream_enabled=True, stream_batch_size=200))
    try:
        model = rt.store.model(1)
        assert model["n_train"] + model["n_holdout"] == 300  # v1.0.0 learnt the first 300 rows only
        names = rt.store.datasets().set_index("dataset_id")["name"]
        assert (names[created.dataset_id], names[created.replay_dataset_id]) == ("weather.csv · rows 1 to 300",
                                                                                 f"weather.csv · rows 301 to {created.n_rows:,}")  # fmt: skip
        info = rt.loop.stream_info()
        assert info["source"] == created.replay_dataset_id and info["total_rows"] == created.n_rows - 300
        record = rt.loop.run_cycle()
        assert record.scenario == "replay" and record.labelled_rows == 200 and record.realised_accuracy is not None
        frame = pd.read_csv(WEATHER)
        replayed = rt.store.dataset_frame(created.replay_dataset_id, limit=3)
        assert replayed["temperature"].tolist() == frame["temperature"].iloc[300:303].tolist()
    finally:
        rt.close()


def test_a_replay_by_time_column_goes_in_time_order_and_says_what_time_it_reached(tmp_path: Path, mlflow_template: Path) -> None:
    days = pd.date_range("2020-01-01", periods=400, freq="D")
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    frame = pd.DataFrame({"day": days.strftime("%Y-%m-%d"), "x": x, "y": np.where(x + rng.normal(0, 0.5, 400) > 0, "up", "down")})
    shuffled = frame.sample(frac=1.0, random_state=1)
    path = tmp_path / "days.csv"
    shuffled.to_csv(path, index=False)
    base = make_settings(tmp_path / "base", mlflow_template)
    created = create(base, "days", path, "days.csv", TableChoice("y", time_column="day", initial_rows=150))
    rt = Runtime(replace(workspace_settings(base, created.folder), stream_enabled=True, stream_batch_size=100))
    try:
        rt.loop.run_cycle()
        info = rt.loop.stream_info()
        assert info["position"] == 100 and info["time_reached"] == "2020-09-06 00:00:00"  # day 250 of the sorted file
        replayed = rt.store.dataset_frame(created.replay_dataset_id, limit=3)
        assert replayed["x"].tolist() == pytest.approx(x[150:153].tolist())  # the file's rows in time order, not its own
        # the Data page shows and downloads each row's time, first, under the file's name for it
        assert (
            replayed.columns[0] == "day" and replayed["day"].dt.strftime("%Y-%m-%d").tolist() == days[150:153].strftime("%Y-%m-%d").tolist()
        )
        again = rt.data.import_csv(utc_csv(rt.store.dataset_frame(created.dataset_id)).encode(), name="again", role="library")
        assert rt.store.dataset_frame(again.dataset_id).equals(rt.store.dataset_frame(created.dataset_id))
        # a later file is put in time order by the first file's rule: "9 May" before "10 May", not as text sorts them
        later = shuffled.head(40).assign(day=lambda t: pd.to_datetime(t["day"]).dt.strftime("%-d %B %Y"))
        info = rt.data.import_csv(later.to_csv(index=False).encode(), name="later", role="library")
        stored = rt.store.dataset_frame(info.dataset_id)
        assert stored["day"].is_monotonic_increasing and sorted(stored["x"]) == sorted(later["x"])
        assert stored.set_index("day")["x"].to_dict() == later.set_index(pd.to_datetime(later["day"], format="%d %B %Y"))["x"].to_dict()
        count = rt.store.counts()["datasets"]
        with pytest.raises(UserInputError, match=r"^day: row 3: 'soon' is not a date or time"):
            rt.data.import_csv(later.assign(day=lambda t: t["day"].where(t.index != t.index[1], "soon")).to_csv(index=False).encode())
        assert rt.store.counts()["datasets"] == count
    finally:
        rt.close()


def test_a_replay_with_a_label_delay_serves_each_batch_and_sends_its_labels_that_many_cycles_later(
    tmp_path: Path, mlflow_template: Path
) -> None:
    """The label delay was the simulator's alone: a user could not try their own stream with labels that come late, or
    never. Served by the champion as it arrives, a batch's labels (the file's) reach the loop `delay` cycles later,
    credited to the version that served it; until then the estimate alone judges."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=700)
    frame = pd.DataFrame({"x": x, "z": rng.normal(size=700), "y": np.where(x + rng.normal(0, 0.7, 700) > 0, "up", "down")})
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    base = make_settings(tmp_path / "base", mlflow_template)
    created = create(base, "late", path, "late.csv", TableChoice("y", initial_rows=300))
    rt = Runtime(replace(workspace_settings(base, created.folder), stream_enabled=True, stream_batch_size=100, label_delay_cycles=2))
    try:
        first, second, third = (rt.loop.run_cycle() for _ in range(3))
        assert [rt.loop.stream_info()["position"], rt.store.counts()["predictions"]] == [300, 300]  # each batch served once
        assert first.realised_accuracy is None and second.realised_accuracy is None  # no labels yet: the estimate judges
        assert first.estimated_accuracy is not None and first.label_coverage == 0 and first.rows_seen == 100
        model = rt.registry.load(1)
        batch = frame.iloc[300:400]
        expected = float(np.mean(model.predict(batch[["x", "z"]]) == np.where(batch["y"] == "up", 1, 0)))
        assert third.realised_accuracy == pytest.approx(expected) and third.realised_rows == 100  # batch 1's labels, v1.0.0's
        # tour 18: batch 1's inputs were met in cycle 1; its labels do not make cycle 3 test, estimate or count them again
        tested = rt.store.drift_results(third.cycle_id)["n_current"]
        assert third.rows_seen == 100 and set(tested) <= {100, 200, 300}  # batch 3's rows and the ones before, not 400
        # the pool kept the batches served before the first labels came: late labels add no rows to test
        assert rt.pipeline.monitor.pooled == 3
        compared = rt.insights.compared_rows(third.cycle_id)  # the Drift page's charts: the rows the test read, re-read
        assert compared.unread == () and len(compared.batch.rows) == 100 and compared.batch.rows[TARGET].isna().all()
        # tour 18: a row served first and labelled later is a copy of its library row, as a row replayed labelled is
        copies = rt.store.cur.execute(
            "SELECT s.replay_of - d.first_sample_id FROM samples s JOIN feedback f USING (sample_id), datasets d "
            "WHERE d.dataset_id = 2 ORDER BY s.sample_id"
        ).fetchall()
        assert [c[0] for c in copies] == list(range(100)) and rt.store.counts()["replayed_samples"] == 100
    finally:
        rt.close()
    created = create(base, "never", path, "late.csv", TableChoice("y", initial_rows=300))
    never = Runtime(replace(workspace_settings(base, created.folder), stream_enabled=True, stream_batch_size=100, label_delay_cycles=1000))
    try:
        records = [never.loop.run_cycle() for _ in range(2)]  # labels due after the replay's end: they never come while it runs
        assert [r.realised_accuracy for r in records] == [None, None] and all(r.estimated_accuracy is not None for r in records)
        assert all(r.status == "ok" and "the label-free estimate alone judged it" in r.reason for r in records)
        assert never.loop.stream_info()["position"] == 200 and never.store.due_labels(1001)[0] and not never.store.due_labels(1000)[0]
    finally:
        never.close()


def test_initial_rows_outside_the_file_are_refused(tmp_path: Path, mlflow_template: Path) -> None:
    base = make_settings(tmp_path / "base", mlflow_template)
    with pytest.raises(UserInputError, match="initial_rows"):
        create(base, "w", WEATHER, "weather.csv", TableChoice("rain", initial_rows=10**9))
    assert not (base.workspaces_dir / "w").exists()


def test_the_time_column_orders_rows_as_times_and_refuses_what_is_not_one() -> None:
    frame = pd.DataFrame({"when": ["2024-05-10", "2024-05-9", "2024-05-09 06:00"], "x": [3, 1, 2]})
    ordered, times = ordered_by_time(frame, "when")
    assert ordered["x"].tolist() == [1, 2, 3]  # as text, 10 May would come before 9 May
    assert times[0] == np.datetime64("2024-05-09T00:00") and times[2] == np.datetime64("2024-05-10T00:00")
    with pytest.raises(UserInputError, match=r"row 3: 'soon' is not a date or time"):
        ordered_by_time(pd.DataFrame({"when": ["2024-05-10", "soon"], "x": [1, 2]}), "when")
    with pytest.raises(UserInputError, match="missing value"):
        ordered_by_time(pd.DataFrame({"when": [1.0, None], "x": [1, 2]}), "when")


def _window(X: np.ndarray, y: np.ndarray) -> Window:
    ids = np.arange(1, len(y) + 1)
    return Window(X, y, 1, len(y), (1,), ids)


def test_a_drift_retrain_keeps_the_post_drift_rows_after_an_abrupt_change_and_more_when_history_still_holds() -> None:
    schema = Schema.demo(2)
    old_X, old_y = synthetic_stream.generate(4000, 2, synthetic_stream.Scenario("stable"), seed=1)
    new_X, new_y = synthetic_stream.generate(600, 2, synthetic_stream.Scenario("concept_drift", 1.0), seed=2)
    abrupt = choose_window(_window(np.vstack([old_X, new_X]), np.concatenate([old_y, new_y])), 600, schema, 0.3)
    assert abrupt.window.n_rows == 600 and abrupt.window.first_sample_id == 4001
    assert abrupt.scores[600] > abrupt.scores[4600] + 0.1
    same_X, same_y = synthetic_stream.generate(600, 2, synthetic_stream.Scenario("stable"), seed=3)
    steady = choose_window(_window(np.vstack([old_X, same_X]), np.concatenate([old_y, same_y])), 600, schema, 0.3)
    assert steady.window.n_rows == 4600 and "chosen on the newest 180 post-drift rows" in steady.describe()
    assert choose_window(_window(old_X[:500], old_y[:500]), 500, schema, 0.3) is None  # nothing older to choose


def test_a_challenge_with_one_window_fitted_claims_no_choice() -> None:
    """With 400 rows before the check rows, 1,000 and 2,000 both mean those 400: one window, nothing "scored best"."""
    schema = Schema.demo(2)
    X, y = synthetic_stream.generate(500, 2, synthetic_stream.Scenario("stable"), seed=4)
    one = challenge(_window(X, y), 100, (1000, 2000), schema)
    assert one.scores.keys() == {400} and "scored best" not in one.describe()
    assert one.describe().startswith("trained on the 400 rows before the newest 100, scored on those 100 (400 rows 0.")
    two = challenge(_window(X, y), 100, (200, 2000), schema)
    assert two.scores.keys() == {200, 400} and "the window that scored best on those 100" in two.describe()
    assert "not fitted" not in two.describe()
    y = y.copy()
    y[200:400] = 1  # the 200 rows before the check rows hold one class: that window is named, not left out unsaid (tour 16)
    skipped = challenge(_window(X, y), 100, (200, 2000), schema)
    assert skipped.scores.keys() == {400} and skipped.describe().endswith("; not fitted: 200 rows (one class only))")


def test_no_challenger_says_why_none_could_be_fitted() -> None:
    """Tour 20: 40 cycles said "no candidate window holds two classes" while every batch held ten: there were no rows
    at all before the check rows (a replay started over, each row read once)."""
    schema = Schema.demo(2)
    X, y = synthetic_stream.generate(500, 2, synthetic_stream.Scenario("stable"), seed=4)
    bare = challenge(_window(X[:130], y[:130]), 100, (1000, 2000), schema)
    assert isinstance(bare, NoChallenger) and "two classes" not in bare.describe()
    assert bare.describe() == ("no challenger yet: one trains on the labelled rows before the 100 newest it is judged on, and "
                               "there are 30 (60 needed; a row a replay sent again counts once)")  # fmt: skip
    y = y.copy()
    y[:400] = 1
    single = challenge(_window(X, y), 100, (1000, 2000), schema)
    assert single.describe() == "waiting for more rows: no candidate window holds two classes"
    mixed = challenge(_window(X, y), 100, (50, 2000), schema)
    assert (
        mixed.describe() == "waiting for more rows: no candidate window could be fitted (50 rows: fewer than 60, 400 rows: one class only)"
    )


def test_a_replay_going_round_its_rows_again_still_challenges_the_champion(tmp_path: Path, mlflow_template: Path) -> None:
    """Tour 20: a replay set to restart went round its 997 rows until the window held only their newest copies, none of
    them trained on by the champion: all were check rows, none was left before them to train a challenger, and every
    cycle said "no candidate window holds two classes" though each batch held all ten. At most half the window is
    checked now, so the other half trains one."""
    base = make_settings(tmp_path / "data", mlflow_template)
    table = tmp_path / "penguins.csv"
    penguins(500, seed=8).to_csv(table, index=False)
    created = create(base, "loop", table, "penguins.csv", TableChoice("species", initial_rows=300))
    rt = Runtime(replace(workspace_settings(base, created.folder), scheduler_autostart=False, training_window=50))
    try:
        rt.loop.set_controls(policy="challenge", retrain_cooldown_cycles=1000)  # v1.0.0 serves throughout
        rt.loop.update_stream(enabled=True, batch_size=200, at_end="restart")
        records = [rt.loop.run_cycle() for _ in range(8)]  # 1,600 copies of 200 rows: the window's 1,050 are copies
    finally:
        rt.close()
    reasons = [r.reason for r in records]
    assert not [r for r in reasons if "two classes" in r or "no challenger yet" in r], reasons
    assert all("trained on the 100 rows before the newest 100" in r for r in reasons[-3:]), reasons


def test_bench_replay_runs_on_a_slice_of_a_real_stream(tmp_path: Path) -> None:
    from benchmarks import bench_replay

    path = tmp_path / "weather-slice.csv"
    pd.read_csv(WEATHER).head(700).to_csv(path, index=False)
    out = tmp_path / "replay.json"
    results = bench_replay.main([str(path), "--target", "rain", "--initial", "300", "--batch", "100", "--policies",
                                 "challenge,drift", "--json", str(out)])  # fmt: skip
    table = json.loads(out.read_text())
    assert {r["kind"] for r in table} == {"policy", "baseline"} and [r["name"] for r in table if r["default"]] == ["ours: challenge"]
    names = {r["name"] for r in table}
    assert {"trained once on the initial rows", "River online logistic regression", "River adaptive random forest",
            "the last known label"} <= names  # fmt: skip
    columns = {"name", "kind", "default", "served_accuracy", "retrains", "seconds", "cycles", "alerts", "info_alerts", "estimate_mae"}
    assert all(set(r) == columns for r in table)
    for row in (r for r in table if r["kind"] == "policy"):  # what a user would feel: 4 cycles of 100 rows, their alerts
        assert row["cycles"] == 4 and row["alerts"] >= 0 and row["info_alerts"] >= 0 and 0 <= row["estimate_mae"] <= 1
    assert all(0.0 <= r["served_accuracy"] <= 1.0 for r in table) and results[0].rows == 400
    # Prequential and exact: the last-label baseline computed here by hand from the file.
    y = pd.read_csv(path)["rain"].to_numpy()
    expected = np.mean([y[i] == y[lo - 1] for lo in range(300, 700, 100) for i in range(lo, min(lo + 100, 700))])
    assert next(r for r in table if r["name"] == "the last known label")["served_accuracy"] == pytest.approx(expected)


def test_bench_replay_with_late_labels_credits_every_label_to_the_version_that_served_it(tmp_path: Path) -> None:
    """`--label-delay`: under `never` one model serves every row, so the served accuracy cannot depend on when the
    labels come; the cycles run on until the last batch's labels came (4 batches, then 2 cycles)."""
    from benchmarks import bench_replay

    path = tmp_path / "weather-slice.csv"
    pd.read_csv(WEATHER).head(700).to_csv(path, index=False)
    common = [str(path), "--target", "rain", "--initial", "300", "--batch", "100", "--policies", "never", "--no-baselines"]
    at_once, late = bench_replay.main(common)[0], bench_replay.main([*common, "--label-delay", "2"])[0]
    assert late.served_accuracy == at_once.served_accuracy and late.rows == at_once.rows == 400
    assert (at_once.cycles, late.cycles) == (4, 6)


def test_the_switching_hyperplanes_change_the_concept_and_not_the_inputs(tmp_path: Path) -> None:
    """`--river hyperplane-switch` is the issue's "Hyperplane through ConceptDriftStream": four still hyperplanes, one
    after another. A model of the first quarter fails on the last one while the inputs look the same."""
    from sklearn.linear_model import LogisticRegression

    from benchmarks import bench_replay

    frame = pd.read_csv(bench_replay.river_file(tmp_path, "hyperplane-switch", 4000))
    first, last = frame.iloc[:900], frame.iloc[-900:]
    X = [f"x{k}" for k in range(10)]
    assert list(frame.columns) == [*X, "target"] and set(frame["target"]) == {0, 1}
    model = LogisticRegression().fit(first[X], first["target"])
    assert model.score(first[X], first["target"]) > 0.85 and model.score(last[X], last["target"]) < 0.8
    assert np.abs(first[X].mean().to_numpy() - last[X].mean().to_numpy()).max() < 0.05


def test_the_real_shuttle_stream_is_river_s_own_copy_whole_and_in_its_order(tmp_path: Path) -> None:
    """`--river shuttle`: a real stream with no download, every row, the file's order (what a replay needs)."""
    from benchmarks import bench_replay

    frame = pd.read_csv(bench_replay.river_file(tmp_path, "shuttle", 1000))
    assert frame.shape == (49_097, 10) and list(frame.columns) == [*(f"f{k}" for k in range(1, 10)), "target"]
    assert int(frame["target"].sum()) == 3_511 and frame.iloc[0].tolist() == [50, 21, 77, 0, 28, 0, 27, 48, 22, 1]


def test_the_docs_offer_the_replay_they_have_and_never_say_it_is_to_come() -> None:
    """The README and docs/ are read as the manual: a section that says a feature the code has is still to come sends
    a user looking for a workaround they do not need. The replay is documented in docs/streams.md."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    to_come = [p for page in pages for p in page.read_text().split("\n\n") if "still to come" in p.lower()]
    assert not any("replay" in p.lower() for p in to_come), to_come
    streams = (ROOT / "docs" / "streams.md").read_text()
    assert "## Replay a dataset as the stream" in streams and "PUT /stream" in streams
