"""Prediction ids and labels that arrive later: over the API, from a labels file, across kill -9, in the cycle.

A real workspace (DuckDB file, MLflow store), FastAPI's TestClient, a real child process killed with SIGKILL.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from core.api import FastPredict, create_app
from core.domain.prediction_ids import issued_at, new_id
from core.errors import UserInputError
from core.ml import training
from core.runtime import Runtime
from core.store import utcnow
from core.store.journal import Entry, decode_all, encode
from tests.fixtures import make_settings
from tests.store.test_durability import _env, _read_until, _spawn


@pytest.fixture
def client(trained_runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(trained_runtime)
    with TestClient(FastPredict(app, trained_runtime), raise_server_exceptions=False) as c:
        yield c


def _stored(rt: Runtime) -> tuple[int, int]:
    """Labels stored, and incoming rows they became."""
    return rt.store.feedback_count(), rt.store.count_incoming(rt.store.max_sample_id() + 1 - rt.store.feedback_count())


def test_every_prediction_has_an_id_and_a_client_may_send_its_own_once(client: TestClient, trained_runtime: Runtime) -> None:
    made = client.post("/predict", json={"features": [1.5, 2.3]}).json()["prediction_id"]
    assert len(made) == 32 and abs(issued_at(made) - utcnow()) < timedelta(minutes=1)
    own = client.post("/predict", json={"features": [1.5, 2.3], "prediction_id": "order-1842"})
    assert own.status_code == 200 and own.json()["prediction_id"] == "order-1842"
    again = client.post("/predict", json={"features": [0.0, 0.0], "prediction_id": "order-1842"})
    assert again.status_code == 422 and again.json()["field"] == "prediction_id" and "already" in again.json()["error"]
    trained_runtime.predictor.flush()  # unique against the log in DuckDB too, not only the buffer
    assert client.post("/predict", json={"features": [0.0, 0.0], "prediction_id": "order-1842"}).status_code == 422
    too_long = client.post("/predict", json={"features": [0.0, 0.0], "prediction_id": "x" * 10_000})
    assert too_long.status_code == 422 and "128" in too_long.json()["error"]
    batch = client.post("/predict/batch", json={"rows": [[1, 2], [3, 4]]}).json()["prediction_ids"]
    assert len(set(batch)) == 2 and batch[0].endswith("-0") and batch[0][:32] == batch[1][:32]
    mine = client.post("/predict/batch", json={"rows": [[1, 2], [3, 4]], "prediction_ids": ["a-1", "a-2"]}).json()
    assert mine["prediction_ids"] == ["a-1", "a-2"]
    twice = client.post("/predict/batch", json={"rows": [[1, 2], [3, 4]], "prediction_ids": ["b", "b"]})
    assert twice.status_code == 422 and twice.json()["field"] == "prediction_ids"
    trained_runtime.predictor.flush()
    logged = set(trained_runtime.store.recent_predictions(10)["prediction_id"])
    assert {made, "order-1842", *batch, "a-1", "a-2"} == logged


def test_feedback_matches_ids_reports_the_rest_and_corrects_only_when_asked(client: TestClient, trained_runtime: Runtime) -> None:
    ids = [client.post("/predict", json={"features": [float(i), 1.0]}).json()["prediction_id"] for i in range(3)]
    reply = client.post("/feedback", json={"labels": [{"prediction_id": ids[0], "label": 1}, {"prediction_id": ids[1], "label": 0},
                                                      {"prediction_id": "never-served", "label": 1}]})  # fmt: skip
    body = reply.json()
    assert reply.status_code == 200
    assert (body["matched"], body["stored"], body["unknown"], body["already_labelled"]) == (2, 2, ["never-served"], [])
    version = trained_runtime.insights.data_version()  # the pages' caches follow every label, even one added to the same segment
    second = client.post("/feedback", json={"labels": [{"prediction_id": ids[0], "label": 0}, {"prediction_id": ids[2], "label": 1}]})
    assert second.json()["already_labelled"] == [ids[0]] and second.json()["stored"] == 1
    assert trained_runtime.insights.data_version() != version
    version = trained_runtime.insights.data_version()
    fixed = client.post("/feedback", json={"labels": [{"prediction_id": ids[0], "label": 0}], "correct": True}).json()
    assert fixed["corrected"] == 1 and fixed["stored"] == 0 and trained_runtime.insights.data_version() != version
    log = trained_runtime.store.recent_predictions(10).set_index("prediction_id")
    assert log.loc[ids[0], "true_label"] == 0 and log.loc[ids[1], "true_label"] == 0 and log.loc[ids[2], "true_label"] == 1
    # Each label became one incoming row with the prediction's inputs, the correction included.
    window = trained_runtime.store.recent_window(3)
    assert window.y.tolist() == [0, 0, 1] and window.X[:, 0].tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"labels": [{"prediction_id": "p" * 129, "label": 1}]}, "labels[1].prediction_id"),
        ({"labels": [{"prediction_id": "p", "label": 1}, {"prediction_id": "p", "label": 0}]}, "labels[2].prediction_id"),
        ({"labels": [{"prediction_id": "p", "label": 2}]}, "labels[1].label"),
        ({"labels": [{"prediction_id": "p", "label": 1, "weight": 2}]}, "labels[1]"),
        ({"labels": []}, "labels"),
        ({"labels": [{"prediction_id": "p", "label": 1}], "correct": "yes"}, "correct"),
        ({"labels": [{"prediction_id": "p", "label": 1}], "extra": 1}, "extra"),
    ],
    ids=["id too long", "id twice", "not a class", "unknown field", "empty", "correct not a boolean", "unknown body field"],
)
def test_bad_feedback_is_refused_whole_naming_the_field(client: TestClient, trained_runtime: Runtime, body: dict, field: str) -> None:
    pid = client.post("/predict", json={"features": [1.0, 1.0]}).json()["prediction_id"]
    good = {"prediction_id": pid, "label": 1}
    body = {**body, "labels": [good, *body["labels"]]} if body["labels"] else body
    reply = client.post("/feedback", json=body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == field
    assert trained_runtime.store.feedback_count() == 0  # the good label in the same request was not stored either


def test_a_label_that_is_not_a_class_is_named_once_by_its_place(trained_runtime: Runtime) -> None:
    """Tour 15: "labels: labels[0].label: 'maybe' is not a class", its place said twice and its field only "labels"."""
    with pytest.raises(UserInputError) as one:
        trained_runtime.feedback.send([{"prediction_id": "a", "label": "maybe"}])
    assert (one.value.field, str(one.value)) == (
        "labels[0].label",
        "labels[0].label: 'maybe' is not a class; the classes are 0, 1; no label was stored",
    )
    with pytest.raises(UserInputError) as two:
        trained_runtime.feedback.send(
            [{"prediction_id": "a", "label": 1}, {"prediction_id": "b", "label": 7}, {"prediction_id": "c", "label": "x"}]
        )
    assert two.value.field == "labels[1].label" and str(two.value).startswith(
        "labels[1].label: 2 labels are not classes: labels[1].label: 7 is not a class; labels[2].label: 'x' is not a class; the classes are 0, 1")  # fmt: skip


def test_too_many_labels_in_one_request_are_refused(tmp_path: Path, mlflow_template: Path) -> None:
    rt = Runtime(make_settings(tmp_path / "d", mlflow_template, starter_model=True, max_labels_per_request=5))
    try:
        with pytest.raises(ValueError, match="more than the limit of 5"):
            rt.feedback.send([{"prediction_id": f"p{i}", "label": 1} for i in range(6)])
        assert rt.store.feedback_count() == 0
    finally:
        rt.close()


def test_a_label_for_an_archived_prediction_is_expired_not_unknown(trained_runtime: Runtime) -> None:
    old = f"{int((time.time() - 30 * 86400) * 1000):012x}" + "0" * 20  # made 30 days ago: past the 7-day log
    reply = trained_runtime.feedback.send([{"prediction_id": old, "label": 1}, {"prediction_id": "client-9", "label": 0}])
    assert reply.expired == [old] and reply.unknown == ["client-9"] and reply.stored == 0


def test_a_labels_file_is_joined_by_id(trained_runtime: Runtime) -> None:
    served = trained_runtime.serving.predict_batch([[0.0, 1.0], [2.0, 2.0]], prediction_ids=["r1", "r2"])
    assert served.prediction_ids == ["r1", "r2"]
    reply = trained_runtime.feedback.send_csv(b"prediction_id,label\nr1,1\nr2,0\nr3,1\n")
    assert (reply.stored, reply.unknown) == (2, ["r3"])
    with pytest.raises(ValueError, match="expected the columns prediction_id,label"):
        trained_runtime.feedback.send_csv(b"id,label\nr1,1\n")
    with pytest.raises(ValueError, match="is not a class") as refused:
        trained_runtime.feedback.send_csv(b"prediction_id,label\nr1,1\nr2,5\n")
    assert str(refused.value).startswith("label: row 3: '5' is not a class") and refused.value.field == "label"
    assert trained_runtime.store.feedback_count() == 2


def test_an_id_given_twice_is_refused_naming_both_places_as_its_door_numbers_them(trained_runtime: Runtime) -> None:
    """Tour 13: a labels file with an id twice read "appears more than once in the request", with no row."""
    trained_runtime.serving.predict_batch([[0.0, 1.0], [2.0, 2.0]], prediction_ids=["r1", "r2"])
    with pytest.raises(ValueError) as in_file:
        trained_runtime.feedback.send_csv(b"prediction_id,label\nr1,1\nr2,0\nr1,0\n")
    assert str(in_file.value) == "prediction_id: 'r1' is given twice (row 2 and row 4): one label per id; no label was stored"
    with pytest.raises(ValueError) as in_list:
        trained_runtime.feedback.send([{"prediction_id": "r2", "label": 1}, {"prediction_id": "r1", "label": 0},
                                       {"prediction_id": "r2", "label": 0}])  # fmt: skip
    assert str(in_list.value) == (  # the field is the second place the id was given (tour 20: "prediction_id")
        "labels[2].prediction_id: 'r2' is given twice (labels[0] and labels[2]): one label per id; no label was stored"
    )
    with pytest.raises(ValueError, match=r"'r1' is given 3 times \(row 2, row 3 and row 4\): one label per id"):
        trained_runtime.feedback.send_csv(b"prediction_id,label\nr1,1\nr1,0\nr1,0\n")  # review: "twice" for three
    with pytest.raises(ValueError, match=r"'r1' is given 8 times \(row 2, row 3, row 4, row 5, row 6 and 3 more\)"):
        trained_runtime.feedback.send_csv(b"prediction_id,label\n" + b"r1,1\n" * 8)
    assert trained_runtime.store.feedback_count() == 0


def test_a_labels_file_with_several_problems_names_each_kind_at_once(trained_runtime: Runtime) -> None:
    """Tour 20: a file with an id twice and a label that is no class named the label alone; one with a bad id and an
    empty one named the last. Every kind of problem is now named in one reply, and nothing is stored."""
    trained_runtime.serving.predict_batch([[0.0, 1.0], [2.0, 2.0]], prediction_ids=["r1", "r2"])
    with pytest.raises(ValueError) as refused:
        trained_runtime.feedback.send_csv(b"prediction_id,label\nr1,1\nr1,0\nr2,maybe\n")
    said = str(refused.value)
    assert "label: row 4: 'maybe' is not a class" in said and "'r1' is given twice (row 2 and row 3)" in said, said
    with pytest.raises(ValueError) as ids:
        trained_runtime.feedback.send_csv(b"prediction_id,label\nr1,1\nbad id,0\n,1\n")
    assert str(ids.value).startswith("prediction_id: 2 ids are not valid: prediction_id, row 3: 'bad id': use 1 to 128"), str(ids.value)
    assert "prediction_id, row 4: ''" in str(ids.value)
    assert trained_runtime.store.feedback_count() == 0


def test_journal_records_carry_prediction_ids() -> None:
    made = Entry(1, 2, np.ones((3, 2)), np.full(3, 0.5), 1.0, "batch", ids=new_id())
    own = Entry(1, 2, np.ones((1, 2)), np.full(1, 0.5), 1.0, "api", ids=["order-7"])
    plain = Entry(1, 2, np.ones((1, 2)), np.full(1, 0.5), 1.0, "api")
    entries, _ = decode_all(encode(made) + encode(own) + encode(plain))
    assert entries[0].prediction_ids() == [f"{made.ids}-{i}" for i in range(3)]
    assert entries[1].prediction_ids() == ["order-7"] and entries[2].ids is None


FEEDBACK_FOREVER = """
from core.errors import UserInputError
from core.runtime import Runtime
rt = Runtime()
i = 0
while True:
    pid = f"kill-{i}"
    rt.serving.predict([float(i % 7), 1.0], prediction_id=pid)
    reply = rt.feedback.send([{"prediction_id": pid, "label": i % 2}])
    assert reply.stored == 1, reply
    i += 1
    print("ack", i, flush=True)
"""


def test_kill9_loses_no_acknowledged_label_and_stores_none_twice(tmp_path: Path, mlflow_template: Path) -> None:
    data = tmp_path / "data"
    Runtime(make_settings(data, mlflow_template, starter_model=True)).close()
    proc = _spawn(FEEDBACK_FOREVER, _env(data, IA_PREDICTION_FLUSH_ROWS="1000000", IA_PREDICTION_FLUSH_SECONDS="3600"))
    try:
        acked = _read_until(proc, 150, "ack")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    rt = Runtime(make_settings(data, data / "mlflow.db", starter_model=True))
    try:
        labelled = rt.store.feedback_count()
        assert acked <= labelled <= acked + 1
        frame = rt.store.cur.execute("SELECT prediction_id, label, sample_id FROM feedback").df()
        assert frame["prediction_id"].is_unique and frame["sample_id"].is_unique
        numbers = frame["prediction_id"].str.removeprefix("kill-").astype(int)
        assert (frame["label"] == numbers % 2).all()
        rows = rt.store.cur.execute("SELECT count(*) FROM samples WHERE sample_id IN (SELECT sample_id FROM feedback)").fetchone()[0]
        assert rows == labelled  # every label is its incoming row, once
    finally:
        rt.close()


def test_a_cycle_measures_the_served_classes_against_the_labels_that_arrived(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(stream_enabled=False)
    rt.loop.run_cycle()  # the cycle that marks where "since the last cycle" starts
    X = np.random.default_rng(3).normal(0, 2, (40, 2))
    served = rt.serving.predict_batch(X)
    time.sleep(0.3)
    truth = served.predictions.copy()
    truth[:10] = 1 - truth[:10]  # a quarter of the served classes were wrong
    rt.feedback.send([{"prediction_id": i, "label": int(t)} for i, t in zip(served.prediction_ids[:20], truth[:20], strict=True)])
    record = rt.loop.run_cycle()
    assert record.labelled_rows == 20 and record.served_rows == 40 and record.label_coverage == pytest.approx(0.5)
    assert record.realised_accuracy == pytest.approx(10 / 20)  # the served classes, not what today's champion says
    assert record.rows_seen == 40  # the 20 labelled rows and the 20 still unlabelled predictions
    assert 0.3 <= record.label_delay_p50_s <= record.label_delay_p90_s < 60
    stored = rt.store.cycle(record.cycle_id)
    assert stored["label_coverage"] == pytest.approx(0.5) and stored["labelled_rows"] == 20
    with TestClient(create_app(rt)) as client:
        scraped = {s.name: s.value for f in text_string_to_metric_families(client.get("/metrics").text) for s in f.samples}
    assert scraped["ia_continu_label_coverage"] == pytest.approx(0.5) and scraped["ia_continu_labelled_rows"] == 20
    assert scraped["ia_continu_label_delay_p50_seconds"] == pytest.approx(record.label_delay_p50_s)
    champion = training.predicted_class(rt.registry.load(1).predict_proba(X[:20]))
    assert record.realised_accuracy != pytest.approx(float(np.mean(champion == truth[:20]))) or champion.tolist() != truth[:20].tolist()


def test_a_cycle_with_the_stream_off_says_labels_of_rows_it_served_are_still_to_come(tmp_path: Path, mlflow_template: Path) -> None:
    """The review of the stream-off change: a cycle that read nothing said only "stream off and nothing added", as if no
    label of the rows the stream served were on its way."""
    rt = Runtime(make_settings(tmp_path / "d", mlflow_template, starter_model=True, label_delay_cycles=2, stream_batch_size=100))
    try:
        rt.loop.run_cycle()  # 100 rows served, their labels due at cycle 3
        rt.loop.set_controls(stream_enabled=False)
        idle, labels = rt.loop.run_cycle(), rt.loop.run_cycle()
        assert idle.status == "no_data" and idle.reason.endswith(
            "stream off and nothing added; 100 labels of rows already served still to come, the last due at cycle 3"
        ), idle.reason
        assert labels.labelled_rows == 100 and rt.loop.stream_info()["idle_reason"] == "stream off and nothing added"
    finally:
        rt.close()


def test_simulated_labels_arrive_the_set_number_of_cycles_late(tmp_path: Path, mlflow_template: Path) -> None:
    rt = Runtime(make_settings(tmp_path / "d", mlflow_template, starter_model=True, label_delay_cycles=2, stream_batch_size=100))
    try:
        first, second, third = (rt.loop.run_cycle() for _ in range(3))
        for early in (first, second):
            assert early.labelled_rows == 0 and early.served_rows == 100 and early.realised_accuracy is None
            assert early.estimated_accuracy is not None  # the estimate fills the gap until labels come
        assert third.labelled_rows == 100 and third.served_rows == 100 and third.realised_accuracy is not None
        assert third.label_delay_p50_s > 0 and rt.store.feedback_count() == 100
        first_batch = rt.store.cur.execute("SELECT min(predicted_at), max(predicted_at) FROM feedback").fetchone()
        assert first.started_at <= first_batch[0] and first_batch[1] <= first.ended_at  # the labels of cycle 1's predictions
        assert rt.store.due_labels(3)[0] == []  # sent once, then forgotten
        rows = rt.store.cur.execute("SELECT f.prediction_id FROM feedback f ORDER BY f.sample_id").fetchall()
        assert [int(r[0].rsplit("-", 1)[1]) for r in rows] == list(range(100))  # stored in the order served, not as text sorts
        rt.loop.set_controls(stream_enabled=False)  # cycles 2 and 3 served batches whose labels are due at 4 and 5
        info = rt.loop.stream_info()
        assert (info["enabled"], info["labels_pending"], info["labels_due_by"]) == (False, 200, 5)  # said on Operations
        fourth, fifth, sixth = (rt.loop.run_cycle() for _ in range(3))
        # the stream stopped serving, not the labels of what it served: they come when due
        assert [fourth.labelled_rows, fifth.labelled_rows, sixth.status] == [100, 100, "no_data"]
        assert fourth.verdict.startswith("No new inputs to test for drift: only labels came") and rt.store.feedback_count() == 300
    finally:
        rt.close()
