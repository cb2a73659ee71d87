"""Serving replicas: they follow the registry's @champion, serve the workbench's prediction contract, and forward
their prediction log to the workbench, which stores each batch once with the replica named on each row.

The workbench and the replicas here are real: a Runtime behind a real HTTP server, a replica behind another, both on
one MLflow sqlite store (a tracking server is what the compose test in test_containers.py uses), and, for kill -9,
`python -m core.api` and `python -m core.serve` as processes."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pytest
import uvicorn
from fastapi.testclient import TestClient

from core.api.server import ApiServer
from core.config import Settings
from core.replica.app import replica_app
from core.replica.wiring import Replica
from core.runtime import Runtime
from core.services.ingest import ARROW_STREAM
from tests.fixtures import make_settings
from tests.servers import clean_environ, free_port, wait_for_url
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "replica-test-token"


class Served:
    """A uvicorn server on a thread, for a replica (the workbench's is `ApiServer`)."""

    def __init__(self, app: object, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for_url(f"{self.url}/health/live")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def workbench(tmp_path: Path, mlflow_template: Path) -> Iterator[Runtime]:
    """A workspace with v1.0.0 as champion and its API on a real port, with a token."""
    settings = make_settings(tmp_path / "wb", mlflow_template, starter_model=True, api_enabled=True, api_port=free_port(), api_token=TOKEN)
    rt = Runtime(settings)
    rt.attach_server(ApiServer(rt))
    wait_for_url(f"http://127.0.0.1:{settings.api_port}/health/live")
    yield rt
    rt.close()


def replica_settings(folder: Path, workbench: Runtime | None, tracking_uri: str, **overrides: object) -> Settings:
    target = f"http://127.0.0.1:{workbench.settings.api_port}" if workbench is not None else ""
    values = {"data_dir": folder, "mlflow_tracking_uri": tracking_uri, "workbench_url": target, "workbench_token": TOKEN,
              "replica_name": "replica-a", "replica_poll_seconds": 0.3, "prediction_flush_seconds": 0.05}  # fmt: skip
    return Settings.from_env({}, **{**values, **overrides})


@pytest.fixture
def replica(tmp_path: Path, workbench: Runtime) -> Iterator[Replica]:
    r = Replica(replica_settings(tmp_path / "replica", workbench, workbench.settings.mlflow_tracking_uri))
    yield r
    r.close()


def forwarded(rt: Runtime, replica: Replica) -> list[str]:
    """The ids the workbench holds from `replica`, once the replica sent all it served."""
    replica.predictor.flush()
    assert replica.forwarder.drain(30), replica.forwarder.state()
    log = rt.insights.recent_predictions(100_000)
    return log.loc[log["replica"] == replica.name, "prediction_id"].tolist()


def test_a_replica_serves_the_champion_as_the_workbench_does_and_its_traffic_reaches_the_log_once(
    workbench: Runtime, replica: Replica
) -> None:
    rows = [[0.2, -1.0], [1.5, 0.3], [-0.7, 2.2]]
    ours = [replica.predict(row) for row in rows]
    theirs = [workbench.serving.predict(row) for row in rows]
    assert [(p.prediction, p.confidence, p.model_version) for p in ours] == [(p.prediction, p.confidence, p.model_version) for p in theirs]
    batch = replica.predict_batch(rows)
    assert batch.model_version == 1 and batch.labels == [p.label for p in theirs]

    ids = forwarded(workbench, replica)
    assert sorted(ids) == sorted([p.prediction_id for p in ours] + batch.prediction_ids)  # each exactly once
    traffic = workbench.insights.replica_traffic()
    assert traffic["replica"].tolist() == ["replica-a"] and int(traffic["predictions"].iloc[0]) == 6
    own = workbench.insights.recent_predictions(100)
    assert own["replica"].isna().sum() == 3  # the workbench's own predictions name no replica

    labelled = workbench.feedback.send([{"prediction_id": ours[0].prediction_id, "label": 1 - ours[0].prediction}])
    assert labelled.stored == 1 and labelled.unknown == []  # a replica's prediction takes its label on the workbench
    assert (
        workbench.insights.recent_predictions(100).set_index("prediction_id").loc[ours[0].prediction_id, "true_label"] == 1 - ours[0].label
    )

    health = replica.check_health()
    assert health.healthy and health.checks["champion"].detail == "serving v1.0.0"
    assert health.checks["forwarding"].detail.startswith("6 predictions in ")


def test_a_promotion_reaches_a_replica_within_two_polls_while_no_request_fails(workbench: Runtime, replica: Replica) -> None:
    served = Served(replica_app(replica), free_port())
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
            while not stop.is_set():
                reply = client.post("/predict", json={"features": [0.4, 0.1]})
                answers.append((reply.status_code, reply.json().get("model_version", reply.text)))

    loader = threading.Thread(target=load)
    try:
        loader.start()
        wait_until(lambda: len(answers) > 50, what="load on the replica")
        challenger = workbench.models.train(window_rows=700, promote=False)
        polls = replica.follower.state().polls  # counted, not timed: a slow load makes a poll longer, not later
        workbench.models.promote(challenger.version)
        followed = wait_until(lambda: (s := replica.follower.state()).version == challenger.version and s, interval=0.01,
                              what="the replica to follow")  # fmt: skip
        assert followed.polls <= polls + 2, (polls, followed)  # the poll under way or the next; one more may have begun since
        seen = len(answers)
        wait_until(lambda: len(answers) > seen + 50, what="more load")
    finally:
        stop.set()
        loader.join(10)
        served.stop()
    assert {status for status, _ in answers} == {200}
    versions = [version for _, version in answers]
    assert versions[0] == "v1.0.0" and versions[-1] == challenger.label
    switch = versions.index(challenger.label)
    assert set(versions[switch:]) == {challenger.label}  # once swapped, never back
    assert replica.follower.swaps == 2

    ids = forwarded(workbench, replica)
    assert len(ids) == len(set(ids)) == len(answers)
    log = workbench.insights.recent_predictions(100_000)
    mine = log[log["replica"] == "replica-a"]
    assert set(mine["model_version"]) == {1, challenger.version}


def test_a_replica_with_no_champion_or_no_registry_says_why_and_serves_as_soon_as_one_exists(tmp_path: Path, mlflow_template: Path) -> None:
    down = Replica(replica_settings(tmp_path / "down", None, f"http://127.0.0.1:{free_port()}", replica_name="lost"))
    try:
        report = down.check_health()
        assert not report.healthy and "the registry could not be read" in report.checks["champion"].detail
        with _client(down) as client:
            reply = client.get("/health")
            assert reply.status_code == 503 and "registry could not be read" in reply.json()["components"]["champion"]["detail"]
            failed = client.post("/predict", json={"features": [1.0, 2.0]}, headers={"Authorization": f"Bearer {TOKEN}"})
            assert failed.status_code == 503 and "no champion to serve" in failed.json()["error"]
            empty = client.post("/predict", content=b"", headers={"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"})
            assert empty.status_code == 422 and '{"features": [1.5, 1.5]}' in empty.json()["error"]  # a bad body, not a 503
    finally:
        down.close()

    rt = Runtime(make_settings(tmp_path / "wb", mlflow_template))  # an empty workspace: no model yet
    waiting = Replica(replica_settings(tmp_path / "waiting", None, rt.settings.mlflow_tracking_uri, replica_name="early"))
    try:
        assert "the registry has no @champion yet" in waiting.check_health().checks["champion"].detail
        rt.models.ensure_starter()
        wait_until(lambda: waiting.check_health().healthy, what="the replica to load the first champion")
        assert waiting.predict([0.1, 0.2]).model_version == 1
    finally:
        waiting.close()
        rt.close()


def _client(replica: Replica) -> TestClient:
    return TestClient(replica_app(replica))


def test_forwarding_keeps_predictions_through_an_outage_and_a_wrong_token_and_counts_none_twice(tmp_path: Path, workbench: Runtime) -> None:
    folder = tmp_path / "replica"
    uri = workbench.settings.mlflow_tracking_uri
    closed = f"http://127.0.0.1:{free_port()}"
    first = Replica(replica_settings(folder, None, uri, workbench_url=closed))
    ids = [first.predict([float(i), 1.0]).prediction_id for i in range(20)]
    first.predictor.flush()
    wait_until(lambda: first.forwarder.state().failures > 0, what="a failed send")
    report = first.check_health()
    assert report.healthy  # serving goes on: forwarding is said, not required
    assert not report.checks["forwarding"].ok and "did not answer" in report.checks["forwarding"].detail
    first.close()

    wrong = Replica(replica_settings(folder, workbench, uri, workbench_token="not-the-token"))
    ids += [wrong.predict([float(i), -1.0]).prediction_id for i in range(20)]
    wrong.predictor.flush()
    wait_until(lambda: "401" in (wrong.forwarder.state().error or ""), what="a refused send")
    assert "kept in the journal and retried" in wrong.check_health().checks["forwarding"].detail
    assert workbench.insights.replica_traffic().empty
    wrong.close()

    segments = sorted(p.name for p in (folder / "replicas" / "replica-a" / "journal").glob("*.journal"))
    assert len(segments) >= 2  # both runs' predictions are kept, unsent
    keep = {name: (folder / "replicas" / "replica-a" / "journal" / name).read_bytes() for name in segments}
    right = Replica(replica_settings(folder, workbench, uri))
    assert right.predictor.replayed == 40
    assert sorted(forwarded(workbench, right)) == sorted(ids)

    for name, data in keep.items():  # the same batches again, as after a reply lost on the way back
        (folder / "replicas" / "replica-a" / "journal" / name).write_bytes(data)
    right.forwarder.replay()
    assert sorted(forwarded(workbench, right)) == sorted(ids)  # stored once
    assert right.forwarder.state().duplicates == len(keep)
    right.close()


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_the_ingest_route_refuses_what_is_not_a_batch_of_this_workspace_and_stores_nothing(workbench: Runtime, replica: Replica) -> None:
    from core.store.journal import Entry
    from core.store.prediction_rows import entries_table

    entry = Entry(1_800_000_000_000_000, 1, np.array([[0.3, 0.3], [0.6, -0.3]]), np.array([0.8, 0.3]), 1.2, "api", ids="b" * 32)
    good = entries_table([entry], replica.follower.schema)  # two rows as a replica's journal holds them
    url = f"http://127.0.0.1:{workbench.settings.api_port}/ingest/predictions"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": ARROW_STREAM, "X-IA-Replica": "r9", "X-IA-Batch": "b1"}

    def post(body: bytes, **changes: str) -> httpx.Response:
        return httpx.post(url, content=body, headers={k: v for k, v in {**headers, **changes}.items() if v}, timeout=30)

    cases = [
        (post(_arrow(good), Authorization=f"Bearer {TOKEN}x"), 401, "Authorization"),
        (post(_arrow(good), **{"Content-Type": "application/json"}), 415, "Content-Type"),
        (post(b"not arrow"), 422, "body"),
        (post(_arrow(good.append_column("extra", pa.array([1, 2])))), 422, "extra"),
        (post(_arrow(good.drop_columns(["confidence"]))), 422, "confidence"),
        (
            post(_arrow(good.set_column(good.schema.get_field_index("prediction"), "prediction", pa.array([0, 7], pa.int8())))),
            422,
            "prediction",
        ),
        (
            post(_arrow(good.set_column(good.schema.get_field_index("confidence"), "confidence", pa.array([0.5, float("nan")])))),
            422,
            "confidence",
        ),
        (post(_arrow(good), **{"X-IA-Replica": "bad name!"}), 422, "X-IA-Replica"),
        (post(_arrow(good), **{"X-IA-Batch": ""}), 422, "X-IA-Batch"),
    ]
    for reply, status, field in cases:
        assert reply.status_code == status, (field, reply.text)
        assert reply.json()["field"] == field, reply.text
    assert "r9" not in workbench.insights.replica_traffic()["replica"].tolist()

    first, again = post(_arrow(good)), post(_arrow(good))
    assert first.json()["stored"] is True and again.json()["stored"] is False
    traffic = workbench.insights.replica_traffic().set_index("replica")
    assert traffic.loc["r9", "predictions"] == 2 and traffic.loc["r9", "batches"] == 1


WORKBENCH_ENV = {
    "IA_SCHEDULER_AUTOSTART": "false",
    "IA_STREAM_ENABLED": "false",
    "IA_API_TOKEN": TOKEN,
    "LOG_LEVEL": "WARNING",
    "IA_STARTER_ROWS": "500",
}


def _process(module: str, env: dict[str, str]) -> subprocess.Popen:
    """A server process with only the settings given: MLflow sets MLFLOW_TRACKING_URI in this process's environment
    for the store other tests opened, which a child would inherit."""
    return subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=clean_environ() | env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def test_kill_9_of_the_workbench_during_load_loses_no_replica_prediction_and_stores_none_twice(
    tmp_path: Path, mlflow_template: Path
) -> None:
    data = tmp_path / "wb"
    data.mkdir()
    (data / "mlflow.db").write_bytes(mlflow_template.read_bytes())
    api_port, replica_port = free_port(), free_port()
    wb_env = {**WORKBENCH_ENV, "IA_DATA_DIR": str(data), "API_PORT": str(api_port)}
    wb = _process("core.api", wb_env)
    replica = None
    try:
        wait_for_url(f"http://127.0.0.1:{api_port}/health", wb)
        replica = _process("core.serve", {
            "IA_DATA_DIR": str(tmp_path / "replica"), "MLFLOW_TRACKING_URI": f"sqlite:///{data / 'mlflow.db'}", "API_PORT": str(replica_port),
            "IA_WORKBENCH_URL": f"http://127.0.0.1:{api_port}", "IA_API_TOKEN": TOKEN, "IA_REPLICA_NAME": "killer-test",
            "IA_PREDICTION_FLUSH_SECONDS": "0.1", "LOG_LEVEL": "WARNING",
        })  # fmt: skip
        wait_for_url(f"http://127.0.0.1:{replica_port}/health", replica)
        acknowledged: list[str] = []
        failures: list[str] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{replica_port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as c:
                i = 0
                while not stop.is_set():
                    reply = c.post("/predict", json={"features": [i % 7 / 3, 1.0]})
                    if reply.status_code == 200:
                        acknowledged.append(reply.json()["prediction_id"])
                    else:
                        failures.append(reply.text)
                    i += 1

        loader = threading.Thread(target=load)
        loader.start()
        wait_until(lambda: len(acknowledged) > 150, what="load")
        wb.send_signal(signal.SIGKILL)
        wb.wait(10)
        during = len(acknowledged)
        wait_until(lambda: len(acknowledged) > during + 150, what="serving while the workbench is down")
        with httpx.Client(timeout=10) as c:
            health = c.get(f"http://127.0.0.1:{replica_port}/health").json()
        assert not health["components"]["forwarding"]["ok"]
        wb = _process("core.api", wb_env)
        wait_for_url(f"http://127.0.0.1:{api_port}/health", wb)
        after = len(acknowledged)
        wait_until(lambda: len(acknowledged) > after + 50, what="load after the restart")
        stop.set()
        loader.join(10)
        assert failures == []

        def held() -> int:
            replicas = httpx.get(f"http://127.0.0.1:{api_port}/replicas", timeout=30).json()["replicas"]
            return sum(r["predictions"] for r in replicas)

        wait_until(lambda: held() >= len(acknowledged), what="every acknowledged prediction on the workbench")
        wb.terminate()
        wb.wait(60)
        with duckdb.connect(str(data / "ia_continu.duckdb"), read_only=True) as db:
            ids = [row[0] for row in db.execute("SELECT prediction_id FROM predictions WHERE replica = 'killer-test'").fetchall()]
        assert len(ids) == len(set(ids)) == len(acknowledged) and set(ids) == set(acknowledged)
    finally:
        for proc in (replica, wb):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(30)


def test_a_replica_serves_a_table_workspace_from_the_schema_logged_beside_its_model(tmp_path: Path, mlflow_template: Path) -> None:
    """Named columns, categories and missing values: the replica knows them from the model's schema artifact alone, serves
    what the workbench serves, and its rows (text categories, NULLs) pass the workbench's ingest checks."""
    from core.data.synthetic_table import generate_table
    from core.store.prediction_rows import entries_table
    from core.workspaces import TableChoice, create, workspace_settings

    frame = generate_table(1500, seed=1)
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    base = make_settings(tmp_path / "data", mlflow_template)
    create(base, "table", path, "table.csv", TableChoice(target="outcome"))
    rt = Runtime(workspace_settings(base, base.workspaces_dir / "table"))
    replica = Replica(
        replica_settings(
            tmp_path / "replica",
            None,
            rt.settings.mlflow_tracking_uri,
            replica_name="tables",
            prediction_flush_seconds=3600,
            prediction_flush_rows=10**6,
        )
    )  # its rows stay in the buffer
    try:
        rows = [{k: (None if v != v else v) for k, v in row.items()} for row in frame.drop(columns=["outcome"]).head(20).to_dict("records")]
        ours = [replica.predict(row) for row in rows]
        theirs = [rt.serving.predict(row) for row in rows]
        assert [(p.label, round(p.confidence, 12)) for p in ours] == [(p.label, round(p.confidence, 12)) for p in theirs]
        assert replica.follower.schema == rt.schema
        with replica.predictor._buffer_lock:
            entries = list(replica.predictor._buffer)
        body = io.BytesIO()
        table = entries_table(entries, replica.follower.schema)
        with pa.ipc.new_stream(body, table.schema) as writer:
            writer.write_table(table)
        assert rt.serving.ingest_forwarded("tables", "00001", body.getvalue())["rows"] == 20
        log = rt.insights.recent_predictions(100)
        mine = log[log["replica"] == "tables"]
        assert len(mine) == 20 and set(mine["prediction"]) <= set(rt.schema.classes)
    finally:
        replica.close()
        rt.close()


def test_a_batch_the_workbench_refuses_is_set_aside_and_said_and_the_ones_behind_it_still_flow(
    workbench: Runtime, replica: Replica
) -> None:
    from core.store.journal import Entry, Journal

    broken = Journal(replica.journal.folder)  # a segment whose confidence is not a number: the workbench answers 422
    broken.append(Entry(1_800_000_000_000_000, 1, np.array([[0.1, 0.2]]), np.array([float("nan")]), 1.0, "api", ids=["broken-1"]))
    (name,) = broken.rotate()
    replica.forwarder.write([], [name])
    good = replica.predict([0.5, 0.5])
    ids = forwarded(workbench, replica)
    assert ids == [good.prediction_id]  # the good one behind it arrived; the broken one was not stored
    assert (replica.journal.folder / "refused" / name).exists()  # kept, not lost
    forwarding = replica.check_health().checks["forwarding"]
    assert not forwarding.ok and "refused" in forwarding.detail and "confidence" in forwarding.detail
    metrics = _client(replica).get("/metrics").text
    assert "ia_continu_forward_refused_batches 1.0" in metrics and "ia_continu_forwarded_rows_total 1.0" in metrics


def test_a_champion_registered_by_hand_is_served_by_its_own_predict_proba(tmp_path: Path, mlflow_template: Path) -> None:
    """A model not built by core.ml.training (here a random forest someone registered and aliased in MLflow) has no
    one-row arrays (core.ml.row_model): the replica scores it with the model itself, and says its answers are that model's."""
    import mlflow
    import mlflow.sklearn
    from sklearn.ensemble import RandomForestClassifier

    from core.data.synthetic_stream import generate

    settings = make_settings(tmp_path / "wb", mlflow_template)
    X, y = generate(600, 2, seed=2)
    forest = RandomForestClassifier(n_estimators=7, random_state=0).fit(X, y)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)  # a workbench earlier in this process set both to its own store
    experiment = mlflow.create_experiment("by-hand", artifact_location=(tmp_path / "artifacts").as_uri())  # not ./mlruns
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            forest, name="model", registered_model_name=settings.registered_model_name, skops_trusted_types=["sklearn.tree._tree.Tree"]
        )
    mlflow.MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri).set_registered_model_alias(
        settings.registered_model_name, "champion", info.registered_model_version
    )
    replica = Replica(replica_settings(tmp_path / "replica", None, settings.mlflow_tracking_uri, replica_name="by-hand"))
    try:
        wait_until(lambda: replica.check_health().healthy, what="the replica to load the hand-registered champion")
        rows, _ = generate(30, 2, seed=5)
        expected = forest.predict_proba(rows)
        for x, proba in zip(rows, expected, strict=True):
            served = replica.predict(list(x))
            assert served.prediction == int(proba.argmax()) and served.confidence == pytest.approx(proba.max(), abs=1e-12)
    finally:
        replica.close()


def test_every_route_of_a_replica_takes_the_workbench_token_guard(tmp_path: Path, workbench: Runtime) -> None:
    """With IA_API_TOKEN set, a replica's /predict (the fast path) and /predict/batch refuse no token, a wrong one and
    `?token=`, and what they refuse is not forwarded; reads stay open, as on the workbench."""
    replica = Replica(replica_settings(tmp_path / "replica", workbench, workbench.settings.mlflow_tracking_uri, api_token=TOKEN))
    served = Served(replica_app(replica), free_port())
    try:
        bodies = {"/predict": {"features": [0.2, -1.0]}, "/predict/batch": {"rows": [[0.2, -1.0]]}}
        refused = [({}, ""), ({"Authorization": "Bearer wrong"}, ""), ({}, f"?token={TOKEN}"), ({"Authorization": TOKEN}, "")]
        accepted = [{"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"bearer {TOKEN}"}]
        served_ids = []
        for path, body in bodies.items():
            for headers, query in refused:
                reply = httpx.post(f"{served.url}{path}{query}", json=body, headers=headers)
                assert reply.status_code == 401 and reply.json()["field"] == "Authorization", (path, headers, query, reply.text)
                assert reply.headers["www-authenticate"] == "Bearer"
            for headers in accepted:
                reply = httpx.post(f"{served.url}{path}", json=body, headers=headers)
                assert reply.status_code == 200, (path, headers, reply.text)
                served_ids += [reply.json().get("prediction_id") or reply.json()["prediction_ids"][0]]
        reads = ("/health", "/health/live", "/metrics")
        assert set(httpx.get(f"{served.url}/openapi.json").json()["paths"]) == {*bodies, *reads}  # every route is tested here
        for path in reads:
            for headers, query in [*refused, *((h, "") for h in accepted)]:
                assert httpx.get(f"{served.url}{path}{query}", headers=headers).status_code == 200, (path, headers)
        assert sorted(forwarded(workbench, replica)) == sorted(served_ids)  # nothing refused reached the workbench's log
    finally:
        served.stop()
        replica.close()


def test_a_replica_journal_folder_that_refused_a_deletion_for_a_while_keeps_forwarding(tmp_path: Path, workbench: Runtime) -> None:
    """A segment the workbench holds but the folder will not let go (read-only for a while): forwarding goes on, and
    the file goes once the folder lets it."""
    from tests.services.test_faults import immutable

    replica = Replica(replica_settings(tmp_path / "replica", workbench, workbench.settings.mlflow_tracking_uri))
    try:
        first = replica.predict([0.1, 0.2]).prediction_id
        with immutable(replica.journal.folder):
            replica.predictor.flush()
            wait_until(lambda: replica.forwarder.state().sent_batches == 1, what="the segment stored on the workbench")
        later = replica.predict([0.3, 0.4]).prediction_id
        assert sorted(forwarded(workbench, replica)) == sorted([first, later])
        wait_until(lambda: not replica.journal.segments(), what="the stored segments deleted")
    finally:
        replica.close()
