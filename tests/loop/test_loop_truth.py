"""The loop tells the truth in real use, on real workspaces: every cycle is storable (every drift kind of a table
reaches DuckDB), a failing loop shows at every door (health, metrics, the last event, one alert per episode), a
failed cycle moves on, and labels count for the version that served them."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from core import workspaces
from core.api import create_app
from core.config import Settings
from core.data.synthetic_table import generate_table
from core.runtime import Runtime
from core.stats.drift import upper_bound
from tests.discord_server import FakeDiscord
from tests.fixtures import make_settings
from tests.waiting import wait_until
from ui.state import TILE_LINE, decision_of


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Settings:
    return make_settings(tmp_path_factory.mktemp("truth") / "data", mlflow_template)


@pytest.fixture
def table_runtime(base: Settings, tmp_path: Path) -> Iterator[Runtime]:
    path = tmp_path / "churn.parquet"
    generate_table(3000, seed=5).to_parquet(path)
    created = workspaces.create(base, f"churn{tmp_path.name[-12:]}", path, "churn.parquet", workspaces.TableChoice("outcome"))
    rt = Runtime(workspaces.workspace_settings(base, created.folder))
    yield rt
    rt.close()


def _send(rt: Runtime, frame: pd.DataFrame, name: str) -> None:
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    rt.data.import_csv(buffer.getvalue(), name=name, role="incoming")


def _scrape(client: TestClient) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(client.get("/metrics").text) for s in f.samples}


def test_every_drift_kind_of_a_table_reaches_duckdb_through_a_real_cycle(table_runtime: Runtime) -> None:
    rt = table_runtime
    rt.loop.set_controls(policy="never", drift_window_batches=1, stream_enabled=False)  # each batch tested alone, one reference
    pool = generate_table(4000, seed=21)
    batches = {
        "monthly_fee": generate_table(400, "covariate_shift", 2.0, seed=3),  # numbers: KS
        "plan": generate_table(400, "category_shift", 2.0, seed=4),  # categories: chi-square
        "tenure_months · missing rate": generate_table(400, "missing_rate", 1.0, seed=5),  # a missing-value rate
        "plan ": generate_table(400, "new_category", 1.0, seed=6),  # a category the reference never had: its unseen share
        "(label)": pool[pool["outcome"] == "leaves"].head(400),  # the labels' classes, and with them the champion's outputs
    }
    for expected, frame in batches.items():
        _send(rt, frame, f"{expected.strip()}.parquet")
        record = rt.loop.run_cycle()
        assert record.status == "ok" and record.error is None, record.reason
        stored = rt.store.cycle(record.cycle_id)
        assert stored is not None and stored["dataset_drift"] is True and stored["rows_seen"] == 400
        drift = rt.insights.drift_results(record.cycle_id).set_index("feature")
        assert bool(drift.loc[expected.strip(), "drifted"]), drift[["test", "p_value", "effect"]]
        if expected == "(label)":
            assert bool(drift.loc["(predicted class)", "drifted"])
        if expected == "plan ":
            assert drift.loc["plan", "unseen_share"] == pytest.approx(0.1, abs=0.03)
    cycles = set(rt.store.cycles()["cycle_id"])
    alerts = rt.store.notifications()
    assert len(cycles) == len(batches) and set(alerts["cycle_id"]) <= cycles and "drift" in set(alerts["kind"])


def test_a_failing_loop_shows_at_every_door_and_is_announced_once_per_episode(tmp_path: Path, mlflow_template: Path) -> None:
    with FakeDiscord() as discord:
        settings = make_settings(tmp_path / "w", mlflow_template, starter_model=True, discord_webhook_url=discord.url)
        Runtime(settings).close()  # the starter model; reopened below with nothing loaded yet
        rt = Runtime(settings)
        aside = tmp_path / "artifacts-aside"
        shutil.move(settings.mlflow_artifacts_dir, aside)  # the model files vanish under a running workspace (a bad clean-up)
        try:
            client = TestClient(create_app(rt))
            first, second, third = (rt.loop.run_cycle() for _ in range(3))
            for record in (first, second, third):
                assert record.status == "error" and "model's files are missing" in record.reason
                assert record.champion_version == 1 and record.verdict.startswith("No verdict: cycle failed")
            assert "skipped: samples 2,001–2,200 and the predictions served until" in first.reason
            assert (second.first_sample_id, third.first_sample_id) == (2201, 2401)  # each failed cycle moved on

            state = rt.loop.status()
            assert state.headline == "failing" and state.failing.cycles == 3 and state.failing.first_cycle == first.cycle_id
            reply = client.get("/health")
            loop = reply.json()["components"]["loop"]
            assert reply.status_code == 503 and "loop" in reply.json()["status"] and not loop["ok"]
            assert loop["detail"].startswith(f"failing since {first.started_at:%H:%M} UTC (3 cycles in a row")
            assert "model's files are missing" in loop["detail"]
            scraped = _scrape(client)
            assert scraped["ia_continu_loop_failing"] == 1.0 and scraped["ia_continu_loop_failed_cycles_in_a_row"] == 3.0
            event = rt.insights.last_event()
            assert event.kind == "failure" and event.title.startswith("Loop failing since") and event.cycle_id == third.cycle_id

            shutil.move(aside, settings.mlflow_artifacts_dir)
            recovered = rt.loop.run_cycle()
            assert recovered.status == "ok"
            assert rt.loop.status().headline == "stopped" and rt.health.check().checks["loop"].ok
            assert _scrape(client)["ia_continu_loop_failing"] == 0.0
            assert rt.notifier.flush()
            alerts = rt.store.notifications().sort_values("notification_id")
            assert alerts["kind"].tolist() == ["loop_failing", "loop_recovered"]  # not one per failed cycle
            assert alerts["cycle_id"].tolist() == [first.cycle_id, recovered.cycle_id]
            wait_until(lambda: len(discord.received) == 2, what="two deliveries")
            titles = [body["embeds"][0]["title"] for _at, body in discord.received]
            assert titles == ["Monitoring loop failing", "Monitoring loop recovered"]
            assert "3 failed cycles" in discord.received[1][1]["embeds"][0]["description"]
        finally:
            rt.close()


def test_a_cycle_that_skipped_the_failing_store_is_not_a_recovery(tmp_path: Path, mlflow_template: Path) -> None:
    """MLflow refused a retrain's write (cycle 1); cycle 2 was a cooldown, which writes nothing to MLflow: "Monitoring loop
    recovered" was sent while MLflow still refused writes. The recovery waits for the store to take a write again."""
    settings = make_settings(tmp_path / "w", mlflow_template, starter_model=True)
    rt = Runtime(settings)
    try:
        rt.loop.set_controls(policy="always", retrain_cooldown_cycles=5)
        lock = sqlite3.connect(settings.data_dir / "mlflow.db", timeout=0)
        lock.execute("BEGIN IMMEDIATE")  # another process holds the store's write lock: MLflow's writes time out (20 s)
        failed = rt.loop.run_cycle()
        skipped = rt.loop.run_cycle()
        assert failed.status == "error" and (skipped.status, skipped.decision) == ("ok", "cooldown"), (failed.reason, skipped.reason)
        assert rt.store.notifications()["kind"].tolist() == ["loop_failing"]  # no recovery: MLflow has not taken a write
        assert rt.loop.status().failing is None  # the loop itself runs: the Overview says so, and health names MLflow
        assert decision_of(rt.store.cycle(failed.cycle_id)) == "retrain failed: champion kept"  # not "retrain: champion kept"
        still = rt.loop.run_cycle()  # the probe is refused again: still no recovery
        assert still.decision == "cooldown" and rt.store.notifications()["kind"].tolist() == ["loop_failing"]
        lock.rollback()
        lock.close()
        rt.close()
        rt = Runtime(settings)  # a restart forgets what was in memory: the episode is read back from the alerts
        rt.loop.set_controls(policy="always", retrain_cooldown_cycles=5)
        recovered = rt.loop.run_cycle()
        alerts = rt.store.notifications()
        assert recovered.decision == "cooldown" and alerts["kind"].tolist() == ["loop_recovered", "loop_failing"], alerts
        assert f"ran after 1 failed cycle (cycle {failed.cycle_id}; failing since" in alerts["description"].iloc[0], alerts["description"]
        assert rt.loop.run_cycle().status == "ok" and len(rt.store.notifications()) == 2  # announced once
    finally:
        rt.close()


def test_one_wrong_label_is_no_drop_but_a_handful_all_wrong_is(trained_runtime: Runtime) -> None:
    """Tour 19: one wrong label sent back was a "Performance drop" alert (Wilson's upper bound on 0 of 1, 0.730, under
    the bar less the tolerance) and set the loop collecting post-drift rows. A model at the bar errs on one row often."""
    rt = trained_runtime
    rt.loop.set_controls(stream_enabled=False, policy="never")
    served = rt.serving.predict_batch(np.random.default_rng(19).normal(0, 1, (9, 2)))
    rt.loop.run_cycle()  # the nine inputs are met here (too few to drift-test); their labels come later
    wrong = [{"prediction_id": i, "label": 1 - int(p)} for i, p in zip(served.prediction_ids, served.predictions, strict=True)]
    rt.feedback.send(wrong[:1])
    one = rt.loop.run_cycle()
    assert one.realised_accuracy == 0.0 and one.realised_upper == pytest.approx(0.95) and not one.performance_drift
    assert one.verdict.startswith("No new inputs to test for drift: only labels came")  # tour 19 read "To new inputs"
    assert "accuracy 0.000 on 1 label (upper bound 0.950) holds against its bar" in one.verdict
    assert "(the one-sided 95 % lower bound of holdout" in one.verdict  # not "the lower bound": the Models page shows two-sided
    rt.feedback.send(wrong[1:])
    eight = rt.loop.run_cycle()  # 8 of 8 wrong: a model right 80 % of the time does that once in 390,000 batches
    assert eight.performance_drift and "Realised-accuracy drop: 0.000 on 8 labels (upper bound" in eight.verdict


def test_labels_count_for_the_version_that_served_them(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(stream_enabled=False, perf_tolerance=1.0, policy="never")  # no drop called: the cycle counts for the bar
    rt.loop.run_cycle()  # where "since the last cycle" starts
    rng = np.random.default_rng(12)
    first = rt.serving.predict_batch(rng.normal(0, 1, (20, 2)))
    rt.feedback.send([{"prediction_id": i, "label": int(p)} for i, p in zip(first.prediction_ids, first.predictions, strict=True)])
    library = rt.data.generate(1500, seed=3)
    second = rt.models.train(dataset_ids=[library.dataset_id], promote=False)
    rt.models.promote(second.version)
    served = rt.serving.predict_batch(rng.normal(0, 1, (50, 2)))
    truth = served.predictions[:40].copy()
    truth[:12] = 1 - truth[:12]  # 28 of 40 right; 10 predictions stay unlabelled
    rt.feedback.send([{"prediction_id": i, "label": int(t)} for i, t in zip(served.prediction_ids, truth, strict=False)])
    record = rt.loop.run_cycle()
    assert record.champion_version == second.version == 2 and record.labelled_rows == 60 and record.served_rows == 70
    assert record.realised_accuracy == pytest.approx(0.70) and record.realised_rows == 40  # v1.1.0's own, not the mixed 0.80
    assert json.loads(rt.store.cycle(record.cycle_id)["realised_versions"]) == [{"version": 1, "labels": 20, "correct": 20}]
    assert "v1.0.0 20 of 20 right (1.000)" in record.verdict and "not for v1.1.0's realised accuracy" in record.verdict
    assert not record.dataset_drift, record.verdict
    assert rt.store.served_accuracy(2) == (28, 40)  # the bar in time: v1.1.0's own labels
    confidence = rt.loop.live_settings().perf_confidence
    assert record.realised_upper == pytest.approx(upper_bound(28, 40, confidence))  # the drop test: v1.1.0's own labels only
    with TestClient(create_app(rt)) as client:
        scraped = _scrape(client)
        assert (scraped["ia_continu_realised_accuracy"], scraped["ia_continu_realised_rows"]) == (pytest.approx(0.7), 40.0)
        assert scraped["ia_continu_labelled_rows"] == 60.0
        assert client.get("/models/v1.1.0").json()["realised"] == {"labels": 40, "accuracy": pytest.approx(0.70)}
        assert client.get("/models/v1.0.0").json()["realised"] == {"labels": 20, "accuracy": 1.0}
        rt.data.generate(800, seed=9, role="incoming")
        unserved = rt.models.train(window_rows=800, promote=False)
        assert client.get(f"/models/{unserved.label}").json()["realised"] == {"labels": 0, "accuracy": None}


def test_a_cycle_whose_labels_are_all_another_version_s_does_not_say_they_came_also(trained_runtime: Runtime) -> None:
    """Tour 18: "No labels came for the champion's rows this cycle: the estimate alone judged it. Labels also came back…"."""
    rt = trained_runtime
    rt.loop.set_controls(stream_enabled=False, policy="never")
    rt.loop.run_cycle()
    early = rt.serving.predict_batch(np.random.default_rng(13).normal(0, 1, (10, 2)))  # served by v1.0.0
    second = rt.models.train(dataset_ids=[rt.data.generate(1500, seed=3).dataset_id], promote=False)
    rt.models.promote(second.version)
    rt.loop.run_cycle()
    rt.feedback.send([{"prediction_id": i, "label": int(p)} for i, p in zip(early.prediction_ids, early.predictions, strict=True)])
    record = rt.loop.run_cycle()
    assert record.realised_accuracy is None and record.champion_version == 2
    assert "Labels came back for predictions other versions served: v1.0.0 10 of 10 right" in record.verdict, record.verdict
    assert "carry no labels" not in record.verdict  # tour 22: said beside the labels that came
    assert "The labels that came are of other versions' predictions, so concept drift could not show" in record.verdict


def test_predictions_served_before_the_first_cycle_count_in_its_served_rows(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(stream_enabled=False)
    served = rt.serving.predict_batch(np.random.default_rng(2).normal(0, 1, (30, 2)))
    rt.serving.flush()
    time.sleep(0.05)
    first = rt.loop.run_cycle()
    assert first.cycle_id == 1 and first.served_rows == 30
    rt.feedback.send([{"prediction_id": i, "label": int(p)} for i, p in zip(served.prediction_ids, served.predictions, strict=True)])
    second = rt.loop.run_cycle()  # their labels come: the coverage is of rows served, counted once
    assert second.served_rows == 0 and second.labelled_rows == 30 and second.realised_accuracy == 1.0


def test_the_store_takes_numpy_and_pandas_values_at_its_edge(runtime: Runtime) -> None:
    """What a drift test or a frame hands over (numpy.bool, numpy numbers, pandas times and missing markers) is made
    plain once, at the store's edge, for every insert that takes records."""
    store = runtime.store
    now = pd.Timestamp.now()
    record = {"cycle_id": 1, "started_at": now, "ended_at": np.datetime64(now.to_datetime64()), "trigger": "manual", "status": "ok",
              "rows_seen": np.int64(3), "labelled": np.bool_(True), "dataset_drift": np.bool_(True), "drift_share": np.float64(0.5),
              "decision": "none", "reason": "", "policy": "drift", "predictions_until": pd.NaT}  # fmt: skip
    drift = {"feature": "x · missing rate", "test": "missing", "statistic": np.float32(3.5), "p_value": np.float64(1e-9),
             "threshold": 0.001, "drifted": np.bool_(True), "psi": 0.0, "psi_status": "ok", "n_reference": np.int32(10),
             "n_current": np.int64(5), "effect": np.float64(0.2), "window_batches": np.int8(1), "unseen_share": None}  # fmt: skip
    store.insert_cycle(record, [drift])
    stored = store.cycle(1)
    assert stored["dataset_drift"] is True and stored["rows_seen"] == 3 and stored["predictions_until"] is None
    assert bool(store.drift_results(1)["drifted"].iloc[0])
    nid = store.insert_notification({"created_at": now, "kind": "test", "level": "info", "title": "t", "description": "d",
                                     "payload": "{}", "delivery": "pending", "cycle_id": np.int64(1)})  # fmt: skip
    store.update_notification(nid, delivery="sent", attempts=np.int64(1), http_status=np.int16(204), sent_at=now)
    assert store.notification(nid)["http_status"] == 204
    store.insert_health({"ts": now, "healthy": np.bool_(False), "duckdb_ok": np.bool_(True), "mlflow_ok": True, "champion_ok": False,
                         "worker_ok": True, "webhook_configured": False, "latency_p50_ms": np.float64(1.5)})  # fmt: skip


def test_realised_per_version_counts_the_stream_rows_each_champion_scored(trained_runtime: Runtime) -> None:
    """With labels known at once (the default: the stream's rows come labelled), the per-version figure is every
    label the version's rows got: the rows it scored as champion, and the late labels of its predictions, once."""
    rt = trained_runtime
    rt.loop.set_controls(perf_tolerance=1.0, policy="never")  # the default stream; no retrain changes the champion
    rng = np.random.default_rng(4)
    rt.loop.run_cycle()
    served = rt.serving.predict_batch(rng.normal(0, 1, (20, 2)))  # v1.0.0's predictions, labelled after the promotion
    rt.loop.run_cycle()
    second = rt.models.train(dataset_ids=[rt.data.generate(1500, seed=3).dataset_id], promote=False)
    rt.models.promote(second.version)
    truth = served.predictions.copy()
    truth[:5] = 1 - truth[:5]  # 15 of 20 right
    rt.feedback.send([{"prediction_id": i, "label": int(t)} for i, t in zip(served.prediction_ids, truth, strict=True)])
    rt.loop.run_cycle()
    cycles = [rt.store.cycle(c) for c in (1, 2, 3)]
    assert [c["champion_version"] for c in cycles] == [1, 1, 2] and all(c["scored_rows"] == 200 for c in cycles)
    expected: dict[int, list[int]] = {1: [20, 15], 2: [0, 0]}  # the late labels, counted for v1.0.0 that served them
    for c in cycles:  # the stored stream rows, scored again by each cycle's champion
        rows = rt.store.read_samples(c["first_sample_id"], c["last_sample_id"], incoming=True)
        at_once = ~np.isin(rows.sample_ids, rt.store.arrived_labels(c["first_sample_id"], c["last_sample_id"]).sample_ids)
        classes = rt.registry.load(c["champion_version"]).predict_proba(rows.X[at_once]).argmax(axis=1)
        expected[c["champion_version"]][0] += int(at_once.sum())
        expected[c["champion_version"]][1] += int(np.count_nonzero(classes == rows.y[at_once]))
    mine = [c for c in cycles if c["champion_version"] == 1]  # the cycles' own figures agree for the stream part
    assert sum(c["realised_rows"] for c in mine) == expected[1][0] - 20
    assert sum(round(c["realised_accuracy"] * c["realised_rows"]) for c in mine) == expected[1][1] - 15
    assert cycles[2]["realised_rows"] == 200 and round(cycles[2]["realised_accuracy"] * 200) == expected[2][1]
    found = {v.version: [v.labels, v.correct] for v in rt.insights.realised_by_version()}
    assert found == expected and expected[1][0] == 420 and expected[2][0] == 200
    with TestClient(create_app(rt)) as client:
        for version, (n, right) in expected.items():
            label = f"v1.{version - 1}.0"
            assert client.get(f"/models/{label}").json()["realised"] == {"labels": n, "accuracy": pytest.approx(right / n)}


def test_a_cycle_of_too_few_rows_makes_no_drift_test_and_says_so(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(stream_enabled=False)
    rt.loop.run_cycle()
    rt.serving.predict_batch(np.array([[7.0, 7.0], [7.2, 6.9]]))  # two inputs 7 sd away: no test on 2 rows can say they match
    small = rt.loop.run_cycle()
    assert small.rows_seen == 2 and rt.loop.live_settings().drift_min_rows == 30
    assert small.verdict.startswith("Too few rows (2) to test drift or estimate the accuracy: at least 30 are needed (IA_DRIFT_MIN_ROWS).")
    assert "match the reference" not in small.verdict and "too few rows (2) to test drift" in small.reason
    assert "estimated accuracy" not in small.verdict  # tour 21: one row's confidence "holds" as the cycle's estimate
    assert small.verdict.endswith("(IA_DRIFT_MIN_ROWS). These inputs carry no labels, so concept drift could not show here.")
    stored = rt.store.cycle(small.cycle_id)
    assert stored["dataset_drift"] is None and stored["drift_share"] is None and stored["signals"] == "[]"
    assert stored["estimated_accuracy"] is None and stored["estimated_low"] is None
    assert rt.store.drift_results(small.cycle_id).empty
    rt.serving.predict_batch(np.random.default_rng(3).normal(0, 1, (30, 2)))
    tested = rt.loop.run_cycle()  # 30 rows: tested, and the two odd rows above did not join its windows
    assert tested.dataset_drift is False and "Too few rows" not in tested.verdict and tested.estimated_accuracy is not None
    assert set(rt.store.drift_results(tested.cycle_id)["n_current"]) == {30}


def test_a_table_s_workspace_with_the_simulator_as_source_says_its_stream_sends_nothing(table_runtime: Runtime) -> None:
    """The simulator draws the demo's columns only: on a table's workspace a stream 'on' with it as the source feeds the
    loop nothing, and every door says so instead of showing an active simulator."""
    rt = table_runtime
    rt.loop.set_controls(stream_enabled=True)
    info = rt.loop.stream_info()
    assert info["source"] == "simulator" and "only the demo's columns" in info["idle_reason"]
    assert info["idle_headline"] == "no rows for this table" and len(f"idle: {info['idle_headline']}") <= TILE_LINE  # fits at 1024 px
    first = rt.loop.run_cycle()
    assert first.status == "no_data" and first.cycle_id == 1
    assert first.reason.startswith("no new data yet: the simulator draws only the demo's columns"), first.reason
    second = rt.loop.run_cycle()
    assert second.reason.startswith("no new data yet: the simulator"), second.reason  # cycle 1 read nothing either
    rt.loop.set_controls(stream_enabled=False)
    assert rt.loop.stream_info()["idle_reason"] == "stream off and nothing added"
