"""The REST API through FastAPI's TestClient on a real workspace, and once on a real uvicorn."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from core.api import FastPredict, check_binding, create_app
from core.config import POLICIES, SettingsError
from core.runtime import Runtime
from core.services.ingest import ARROW_STREAM
from core.startup import start_api
from tests.api.refusals import refusal
from tests.fixtures import make_settings
from tests.servers import free_port
from tests.waiting import wait_until


@pytest.fixture
def client(trained_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(trained_runtime), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(params=["route", "fast path"])
def predict_client(request: pytest.FixtureRequest, trained_runtime: Runtime) -> Iterator[TestClient]:
    """/predict answered by the FastAPI route and by the ASGI fast path in front of it: the same contract."""
    app = create_app(trained_runtime)
    with TestClient(FastPredict(app, trained_runtime) if request.param == "fast path" else app, raise_server_exceptions=False) as c:
        yield c


def test_health_is_200_with_every_component_and_503_naming_the_failing_one(client: TestClient, trained_runtime: Runtime) -> None:
    trained_runtime.scheduler.start(paused=True)
    reply = client.get("/health")
    body = reply.json()
    assert reply.status_code == 200 and body["status"] == "ok" and body["version"] == "0.1.0"
    assert {"duckdb", "mlflow", "disk", "champion", "worker", "webhook"} <= set(body["components"])
    assert body["timestamp"].endswith("Z")
    # the workspace's uptime (a switch starts it again) and the process's (a restart): a monitor tells them apart
    assert body["process_uptime_seconds"] >= body["uptime_seconds"] > 0
    trained_runtime.scheduler.stop()
    reply = client.get("/health")
    assert reply.status_code == 503 and reply.json()["status"] == "degraded: worker"
    assert client.get("/health/live").json()["status"] == "alive"


def test_health_answers_without_a_token_so_its_details_name_no_server_folder(client: TestClient, trained_runtime: Runtime) -> None:
    artifacts = trained_runtime.settings.mlflow_artifacts_dir
    aside = artifacts.with_name(artifacts.name + "-aside")
    artifacts.rename(aside)
    try:
        reply = client.get("/health")
    finally:
        aside.rename(artifacts)
    detail = reply.json()["components"]["mlflow"]["detail"]
    assert reply.status_code == 503 and "degraded: " in reply.json()["status"] and "mlflow" in reply.json()["status"]
    assert f"…/{artifacts.name} is missing" in detail and str(artifacts.parent) not in detail


def test_an_unknown_query_parameter_is_refused_naming_it_and_what_the_path_takes(predict_client: TestClient) -> None:
    """Tour 13: /cycles?limt=3 answered the default 50 cycles as if the limit had been read; an unknown body field is refused."""
    typo = predict_client.get("/cycles", params={"limt": 3})
    assert typo.status_code == 422 and typo.json() == refusal("limt", "unknown query parameter(s) 'limt': /cycles takes limit, offset")
    assert predict_client.get("/cycles", params={"limit": 3}).status_code == 200
    aside = predict_client.post("/predict", params={"version": "v1.0.0"}, json={"features": [1.5, 2.3]})  # the fast path too
    assert aside.status_code == 422 and aside.json()["error"] == "unknown query parameter(s) 'version': /predict takes none"
    typo = predict_client.post("/explain", params={"versoin": "v1.0.0"}, json={"features": [1.5, 2.3]})
    assert typo.status_code == 422 and typo.json()["error"] == "unknown query parameter(s) 'versoin': /explain takes version"
    assert predict_client.post("/explain", params={"version": "v1.0.0"}, json={"features": [1.5, 2.3]}).status_code == 200
    assert predict_client.get("/models", params={"limit": 1}).json()["error"] == "unknown query parameter(s) 'limit': /models takes none"
    assert predict_client.get("/health", params={"_": "1733"}).status_code == 200  # a probe's cache-buster is not refused
    assert predict_client.get("/docs", params={"utm_source": "a"}).status_code == 200  # the docs' pages read what they like
    assert predict_client.get("/cycles?=3&limit=2").status_code == 200  # a value with no name names nothing
    limits = [predict_client.get(f"/cycles?{query}").json() for query in ("limit=0", "limit=lots", "offset=-1", "limit=2.5")]
    assert [r["error"] for r in limits] == ["limit: expected a whole number from 1 to 1,000, got '0'",
                                            "limit: expected a whole number from 1 to 1,000, got 'lots'",
                                            "offset: expected a whole number from 0 to 1,000,000,000, got '-1'",
                                            "limit: expected a whole number from 1 to 1,000, got '2.5'"]  # tour 14: Pydantic's one side  # fmt: skip
    assert predict_client.get("/cycles/0").json()["error"] == f"cycle_id: expected a whole number from 1 to {2**62:,}, got '0'"
    assert predict_client.head("/cycles?limt=1").status_code == 422  # HEAD is GET without the body
    long = predict_client.get("/cycles", params={"x" * 5000: 1}).json()
    assert len(long["field"]) <= 130 and long["field"].endswith("…") and len(long["error"]) < 300, long


def test_head_is_answered_wherever_get_is_with_get_s_headers_and_no_body(predict_client: TestClient) -> None:
    """HEAD /health (what uptime probes send) and HEAD /docs were 405: FastAPI's routes take GET alone."""
    for path in ("/health/live", "/models", "/docs", "/metrics"):
        head, get = predict_client.head(path), predict_client.get(path)
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-type"] == get.headers["content-type"], path
    assert predict_client.head("/models").headers["content-length"] == predict_client.get("/models").headers["content-length"]
    assert "HEAD" in predict_client.options("/health").headers["allow"].split(", ")
    refused = predict_client.head("/retrain")
    assert refused.status_code == 405 and refused.headers["allow"] == "OPTIONS, POST" and refused.content == b""


def test_a_body_sent_where_none_is_read_is_refused_and_nothing_runs(predict_client: TestClient, trained_runtime: Runtime) -> None:
    """A body on POST /cycles (or DELETE /datasets/1) was ignored, as if its fields had been read: refused as an
    unknown field is; no body, or an empty JSON object, is none."""
    before = len(trained_runtime.insights.cycles_page(50, 0))
    sent = predict_client.post("/cycles", params={"wait": "true"}, json={"policy": "always"})
    assert sent.status_code == 422 and sent.json() == refusal(
        "body", "POST /cycles takes no body (its options are query parameters: wait): send none"
    )
    assert len(trained_runtime.insights.cycles_page(50, 0)) == before
    long = predict_client.request("DELETE", "/datasets/1", content=b"x" * 100_000, headers={"content-type": "text/plain"})
    assert long.status_code == 422 and long.json()["error"] == "DELETE /datasets/1 takes no body: send none"
    assert predict_client.post("/models/v1.0.0/promote", content=b"  {}  ").json()["field"] != "body"  # the route answered
    assert predict_client.post("/cycles", params={"wait": "true"}, json={}).status_code == 200
    assert predict_client.post("/cycles", params={"wait": "true"}).status_code == 200
    assert len(trained_runtime.insights.cycles_page(50, 0)) == before + 2


def test_predict_answers_the_original_contract_and_logs_it(predict_client: TestClient, trained_runtime: Runtime) -> None:
    reply = predict_client.post("/predict", json={"features": [1.5, 2.3]})
    body = reply.json()
    assert reply.status_code == 200 and set(body) >= {"prediction", "model_version", "confidence", "timestamp"}
    expected = trained_runtime.registry.load(1).predict_proba(np.array([[1.5, 2.3]]))[0]
    assert body["prediction"] == int(expected.argmax()) and body["confidence"] == pytest.approx(expected.max())
    assert body["model_version"] == "v1.0.0" and body["probability"] == pytest.approx(expected[1])
    trained_runtime.predictor.flush()
    assert trained_runtime.store.recent_predictions(5)["source"].tolist() == ["api"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"features": [1.0]}, "features", "expected 2 features per row"),
        ({"features": [1.0, "2"]}, "features", "'2' is not a number"),
        ({"features": [1e308, 1.0]}, "features", "beyond the limit"),
        ({"features": [True, 1.0]}, "features", "true is not a number"),  # as JSON writes it
        ({"features": "1.5,2.3"}, "features", "expected a list"),
        ({}, "features", "Field required"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_the_limit(predict_client: TestClient, body: dict, field: str, words: str) -> None:
    reply = predict_client.post("/predict", json=body)
    assert reply.status_code == 422 and reply.json()["field"] == field and words in reply.json()["error"]


def test_nan_and_inf_in_json_are_refused(predict_client: TestClient) -> None:
    for raw in (b'{"features": [NaN, 1]}', b'{"features": [Infinity, 1]}'):
        reply = predict_client.post("/predict", content=raw, headers={"content-type": "application/json"})
        assert reply.status_code == 422 and "finite" in reply.json()["error"]
    broken = predict_client.post("/predict", content=b'{"features": [1,', headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["field"]


def test_no_model_yet_is_a_503_saying_to_train(runtime: Runtime) -> None:
    for app in (create_app(runtime), FastPredict(create_app(runtime), runtime)):
        with TestClient(app) as c:
            reply = c.post("/predict", json={"features": [1.0, 2.0]})
        assert reply.status_code == 503 and "train one first" in reply.json()["error"]


def test_batch_generate_retrain_and_the_registry(client: TestClient, trained_runtime: Runtime) -> None:
    batch = client.post("/predict/batch", json={"rows": [[1.0, 2.0], [-1.0, -2.0]]}).json()
    assert batch["count"] == 2 and batch["model_version"] == "v1.0.0" and len(batch["probabilities"]) == 2
    generated = client.post("/generate", json={"samples": 1500, "scenario": "concept_drift", "seed": 3, "role": "incoming"})
    assert generated.status_code == 200 and generated.json()["samples_created"] == 1500
    for bad, field in (({"samples": 0}, "samples"), ({"samples": 10, "scenario": "nope"}, "scenario"), ({"samples": "10"}, "samples")):
        reply = client.post("/generate", json=bad)
        assert reply.status_code == 422 and reply.json()["field"] == field
    retrained = client.post("/retrain", json={"window_rows": 1500}).json()
    assert retrained["status"] == "promoted" and retrained["model_version"] == "v1.1.0" and retrained["training_samples"] == 1500
    assert client.post("/retrain", json={"window_rows": 1500}).json()["status"] == "unchanged"
    assert [m["version"] for m in client.get("/models").json()] == ["v1.1.0", "v1.0.0"]
    assert client.get("/models/v1.0.0").json()["status"] == "archived"
    assert client.get("/models/9").status_code == 404 and client.get("/models/latest").status_code == 422
    promoted = client.post("/models/v1.0.0/promote").json()
    assert promoted["promoted"] and trained_runtime.registry.champion_version == 1
    assert "rollback" in trained_runtime.store.notifications()["kind"].tolist()
    assert client.post("/models/v1.1.0/reject").status_code == 422  # not awaiting approval


def test_retrain_while_a_training_runs_is_a_409(client: TestClient, trained_runtime: Runtime) -> None:
    with trained_runtime.training_lock:
        reply = client.post("/retrain")
    assert reply.status_code == 409 and "already running" in reply.json()["error"]


def test_datasets_upload_with_a_role_and_a_csv_problem_named(client: TestClient, trained_runtime: Runtime) -> None:
    good = client.post("/datasets", files={"file": ("mine.csv", b"feature_1,feature_2,target\n1,2,0\n3,4,1\n")}, data={"role": "incoming"})
    assert good.status_code == 200 and good.json()["samples_created"] == 2 and good.json()["duplicate_of"] is None
    assert client.get("/datasets").json()[0]["role"] == "incoming"
    tagged = client.patch(f"/datasets/{good.json()['dataset_id']}", json={"tags": ["mine", "first"]})
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["mine", "first"], tagged.json()  # a list, not its JSON text
    assert client.get("/datasets").json()[0]["tags"] == ["mine", "first"]
    again = client.post("/datasets", files={"file": ("again.csv", b"feature_1,feature_2,target\n1,2,0\n3,4,1\n")})
    assert again.json()["duplicate_of"] == good.json()["dataset_id"]  # said on the dashboard only, before
    bad = client.post("/datasets", files={"file": ("bad.csv", b"feature_1,feature_2,target\n1,x,0\n")})
    assert bad.status_code == 422 and "column feature_2, row 2" in bad.json()["error"]
    assert (
        client.post("/datasets", files={"file": ("b.csv", b"feature_1,feature_2,target\n1,2,0\n")}, data={"role": "x"}).status_code == 422
    )


def test_the_loop_stream_cycles_drift_and_alerts(client: TestClient, trained_runtime: Runtime) -> None:
    loop = client.put("/loop", json={"state": "paused", "interval": 5, "policy": "never", "thresholds": {"ks_alpha": 0.01}}).json()
    assert loop["interval"] == 5 and loop["policy"] == "never" and loop["thresholds"]["ks_alpha"] == 0.01
    bad = client.put("/loop", json={"interval": 0.1})  # named as sent (tour 13: "scheduler_interval", the setting it changes)
    assert bad.status_code == 422 and bad.json()["field"] == "interval" and client.get("/loop").json()["interval"] == 5
    fast = client.put("/loop", json={"interval": "fast"}).json()  # its limits and the value sent, as every number's refusal
    assert fast["field"] == "interval" and fast["error"] == "interval: expected a number from 1 to 86,400, got 'fast'", fast
    lots = client.put("/stream", json={"batch_size": "lots"}).json()
    assert lots["field"] == "batch_size" and lots["error"].startswith("batch_size: expected a whole number from 10 to 100,000, got "), lots
    assert client.put("/stream", json={"enabled": "yes"}).json()["field"] == "enabled"
    before = client.get("/loop").json()
    for thresholds in ({"scheduler_interval": 10}, {"policy": "always"}):  # tour 16: these were applied from inside thresholds
        misplaced = client.put("/loop", json={"thresholds": thresholds}).json()
        (name,) = thresholds
        assert misplaced["field"] == f"thresholds.{name}" and "is not a threshold: send it as " in misplaced["error"], misplaced
    unknown = client.put("/loop", json={"thresholds": {"foo": 1}}).json()  # tour 16: listed policy and the interval as thresholds
    assert unknown["field"] == "thresholds.foo" and "is not a threshold (one of retrain_cooldown_cycles, " in unknown["error"], unknown
    assert "policy" not in unknown["error"] and "scheduler_interval" not in unknown["error"]
    texts = {"interval": "5", "policy": 3, "thresholds": {"ks_alpha": "0.01"}}  # tour 16: numbers sent as text were applied
    for field, value in texts.items():
        said = client.put("/loop", json={field: value}).json()
        assert said["error"].startswith(f"{field if field != 'thresholds' else 'ks_alpha'}: expected "), said
    assert client.put("/loop", json={"thresholds": {"drift_persistence": "3"}}).status_code == 422
    assert client.put("/stream", json={"label_delay_cycles": "2"}).status_code == 422
    assert client.get("/loop").json() == before
    limits = [client.put("/loop", json={"thresholds": {name: "often"}}).json()["error"] for name in ("challenge_every", "ks_alpha")]
    assert limits == ["challenge_every: expected a whole number from 0 to 1,000,000, got 'often'",
                      "ks_alpha: expected a number from 0.000001 to 0.5, got 'often'"]  # not 1e+06 and 1e-06  # fmt: skip
    stream = client.put("/stream", json={"scenario": "covariate_shift", "strength": 1.0, "batch_size": 100}).json()
    assert stream["scenario"] == "covariate_shift" and stream["batch_size"] == 100
    assert client.put("/stream", json={"strength": 5}).status_code == 422
    started = client.post("/cycles")
    assert started.status_code == 202
    wait_until(lambda: client.get("/cycles").json()["cycles"], what="the cycle started over the API")
    cycles = client.get("/cycles", params={"limit": 1}).json()["cycles"]
    assert cycles[0]["rows_seen"] == 100
    stored = trained_runtime.store.cycle(cycles[0]["cycle_id"])  # the store's JSON text, carried as JSON, not as a string
    for name in ("signals", "reference", "step_ms"):
        assert cycles[0][name] == json.loads(stored[name]) and not isinstance(cycles[0][name], str), name
    assert "read" in cycles[0]["step_ms"] and cycles[0]["reference"]["version"] == 1
    (model,) = client.get("/models").json()
    assert model["dataset_ids"] == json.loads(trained_runtime.store.model(1)["dataset_ids"]) and model["dataset_ids"], model
    assert client.get("/models/v1.0.0").json()["dataset_ids"] == model["dataset_ids"]
    assert cycles[0]["estimated_low"] < cycles[0]["estimated_accuracy"] < cycles[0]["estimated_high"]
    drift = client.get("/drift/latest").json()
    assert drift["cycle_id"] == cycles[0]["cycle_id"] and "Feature drift" in drift["verdict"]
    test = client.post("/alerts/test")  # no webhook in this workspace: the reply says it was not sent (tour 11)
    assert test.status_code == 200 and test.json()["sent"] is False and "no webhook is set" in test.json()["detail"]
    assert any(a["kind"] == "test" for a in client.get("/alerts").json())


def test_a_request_with_several_bad_fields_names_every_one_and_changes_nothing(client: TestClient) -> None:
    """Tour 19: PUT /stream with a bad delay and a bad strength named the strength alone, so a caller fixed one per round."""
    before = client.get("/stream").json(), client.get("/loop").json()
    stream = client.put("/stream", json={"label_delay_cycles": -1, "strength": 5, "batch_size": 0})
    assert stream.status_code == 422
    body = stream.json()
    assert [e["field"] for e in body["errors"]] == ["strength", "batch_size", "label_delay_cycles"], body
    assert body["field"] == "strength" and all(e["error"] in body["error"] for e in body["errors"])
    assert "from 0 to 2" in body["errors"][0]["error"] and "from 10 to 100,000, got 0" in body["errors"][1]["error"]
    loop = client.put("/loop", json={"interval": 0.1, "state": "asleep", "thresholds": {"stream_batch_size": 0, "foo": 1}}).json()
    assert [e["field"] for e in loop["errors"]] == ["thresholds.foo", "stream_batch_size", "interval", "state"], loop
    assert "interval: expected a number from 1 to 86,400, got 0.1" in loop["error"]  # named as sent, not scheduler_interval
    typed = client.put("/loop", json={"intervall": 5, "polcy": "never"}).json()  # Pydantic's own refusals, every one
    assert [e["field"] for e in typed["errors"]] == ["intervall", "polcy"] and "unknown field" in typed["errors"][1]["error"]
    single = client.put("/stream", json={"strength": 5}).json()
    assert single["errors"] == [{"field": "strength", "error": single["error"]}]
    assert (client.get("/stream").json(), client.get("/loop").json()) == before


def test_tour_20_s_refusals_name_the_field_in_our_words_and_change_nothing(client: TestClient, trained_runtime: Runtime) -> None:
    """Arguments ignored or read another way, an unknown version named by its registry number (422) or by a regular
    expression, Pydantic's own words, contradictory PSI levels stored, unknown form fields dropped, a lost cycle blamed on
    retention: each is now a refusal naming the field as the caller wrote it, and nothing changes."""
    before = trained_runtime.store.counts(), client.get("/loop").json()

    def said(reply: httpx.Response, status: int = 422) -> tuple[str, str]:
        assert reply.status_code == status, reply.text
        return reply.json()["field"], reply.json()["error"]

    assert said(client.post("/retrain", json={"dataset_ids": [1], "window_rows": 100}))[0] == "window_rows"
    assert said(client.post("/retrain", json={"dataset_ids": []})) == (
        "dataset_ids",
        "dataset_ids: expected at least one dataset id (GET /datasets lists them), got []",
    )
    typo = said(client.post("/retrain", json={"foo": 1}))[1]
    assert "foo: unknown field" in typo and "(it takes dataset_ids, window_rows, C, class_weight, promote)" in typo, typo
    unknown = (
        "version",
        "version: no version v1.99.0 is registered, under that label or its registry number 100: GET /models lists the versions",
    )
    for action in ("promote", "reject"):
        assert said(client.post(f"/models/v1.99.0/{action}"), 404) == unknown
    assert said(client.get("/models/v1.99.0"), 404) == said(client.get("/models/100"), 404) == unknown  # one shape, one message
    assert said(client.post("/explain", params={"version": "v1.99.0"}, json={"features": [1.0, 2.0]}), 404) == unknown
    assert said(client.get("/models/v9.9.9"))[1] == ("version: 'v9.9.9' is not a version: write it as its label, v1.N.0 "
                                                       "(v1.0.0 is the first), or as its registry number (1)")  # fmt: skip
    assert said(client.post("/cycles", params={"wait": "maybe"}))[1] == "wait: expected true or false, got 'maybe'"
    assert said(client.put("/stream", content=b"null", headers={"content-type": "application/json"}))[1] == (
        "body: expected a JSON object, got null"
    )
    assert said(client.put("/loop", json={"thresholds": [1, 2]}))[1] == "thresholds: expected a JSON object, got [1, 2]"
    levels = said(client.put("/loop", json={"thresholds": {"psi_warning": 50}}))
    assert levels[0] == "psi_warning" and "must not be above the high one (psi_threshold 0.2)" in levels[1], levels
    files = {"file": ("t.csv", b"x,y\n" + b"1,a\n2,b\n" * 60)}
    for path, form in (("/workspaces", {"name": "t20", "target": "y", "foo": "1"}), ("/datasets", {"role": "library", "foo": "1"})):
        assert said(client.post(path, files=files, data=form))[0] == "foo"
    assert said(client.post("/workspaces/preview", files=files, data={"target": "y", "id_column": "y"}))[0] == "id_column"
    theirs = {"file": ("t.csv", b"x,tags,y\n" + b'1,"[1, 2]",a\n2,"{}",b\n' * 60)}  # a user's column named like a stored one
    head = client.post("/workspaces/preview", files=theirs, data={"target": "y"}).json()["head"]
    assert [row["tags"] for row in head[:2]] == ["[1, 2]", "{}"], head[:2]  # their text, not decoded as the store's JSON
    start = said(client.post("/workspaces", files=files, data={"name": "t20", "target": "y", "initial_rows": "0"}))  # was "all rows"
    assert start[0] == "initial_rows" and "from 50 to " in start[1], start
    newest = client.get("/cycles", params={"limit": 1}).json()["cycles"]
    gone = said(client.get("/cycles/999999"), 404)[1]
    assert gone == f"no cycle 999999: not run yet; the newest is {newest[0]['cycle_id'] if newest else 0}", gone
    assert (trained_runtime.store.counts(), client.get("/loop").json()) == before


def test_a_cycle_already_running_is_a_409(client: TestClient, trained_runtime: Runtime) -> None:
    with trained_runtime.pipeline.lock:
        reply = client.post("/cycles")
    assert reply.status_code == 409


def test_metrics_parse_and_match_the_store(client: TestClient, trained_runtime: Runtime) -> None:
    rt = trained_runtime
    for i in range(7):
        rt.serving.predict([float(i), 1.0])
    rt.predictor.flush()
    rt.loop.run_cycle("manual")
    text = client.get("/metrics").text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("ia_continu_predictions_total", ())] == 7 == rt.store.counts()["predictions"]
    assert samples[("ia_continu_prediction_latency_ms_count", ())] == 7
    assert samples[("ia_continu_champion_info", (("version", "v1.0.0"),))] == 1
    assert samples[("ia_continu_realised_accuracy", ())] == pytest.approx(rt.store.last_cycle()["realised_accuracy"])
    decision = rt.store.last_cycle()["decision"]  # the default policy challenges the champion when labels came
    assert samples[("ia_continu_cycles_total", (("decision", decision), ("status", "ok")))] == 1
    assert samples[("ia_continu_process_uptime_seconds", ())] >= samples[("ia_continu_uptime_seconds", ())] > 0


def test_an_internal_error_is_a_500_with_an_id_in_the_log_and_no_traceback(
    client: TestClient, trained_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    trained_runtime.store._conn.close()  # the DuckDB connection is gone under the API: a system fault, not bad input
    for cursor in [c for _thread, c in trained_runtime.store._cursors.values()]:
        cursor.close()
    reply = client.get("/models")
    body = reply.json()
    assert reply.status_code == 500 and body["error_id"] and "Traceback" not in reply.text
    assert any(body["error_id"] in r.getMessage() for r in caplog.records)


def test_tokens_guard_every_mutating_call(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.settings = replace(rt.settings, api_token="s3cret")
    for app in (create_app(rt), FastPredict(create_app(rt), rt)):
        with TestClient(app) as c:
            assert c.get("/health/live").status_code == 200 and c.get("/models").status_code == 200  # reads stay open
            assert c.post("/predict", json={"features": [1, 2]}).status_code == 401
            assert c.post("/predict", json={"features": [1, 2]}, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert c.post("/predict", json={"features": [1, 2]}, headers={"Authorization": "Bearer s3cret"}).status_code == 200
            assert c.post("/generate", json={"samples": 10}).status_code == 401


def test_a_non_loopback_address_without_a_token_refuses_to_start(trained_runtime: Runtime) -> None:
    with pytest.raises(SettingsError, match="IA_API_TOKEN"):
        check_binding(replace(trained_runtime.settings, api_host="0.0.0.0"))
    check_binding(replace(trained_runtime.settings, api_host="0.0.0.0", api_token="t"))
    check_binding(replace(trained_runtime.settings, api_host="127.0.0.1"))


def test_a_runtime_opens_no_port_and_the_launcher_starts_the_api_on_a_real_uvicorn(tmp_path: Path, mlflow_template: Path) -> None:
    port = free_port()
    rt = Runtime(make_settings(tmp_path / "d", mlflow_template, starter_model=True, api_enabled=True, api_port=port))
    try:
        with socket.socket() as probe:  # a script or a notebook that builds a runtime serves nothing
            probe.bind(("127.0.0.1", port))
        assert not rt.health.api_status()["running"]
        start_api(rt)  # what the dashboard's launcher does once the runtime is built
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/health/live").status_code == 200, ignore=(httpx.HTTPError,), what="the API's answer")
        assert rt.health.api_status() == {"running": True, "address": base, "token": False, "detail": ""}
        rt.data.generate(1500, "concept_drift", 1.0, seed=4, role="incoming")
        champions: list[set[int]] = []
        replies: list[httpx.Response] = []

        def call() -> None:
            before = rt.registry.champion_version
            with httpx.Client() as c:
                replies.append(c.post(f"{base}/predict", json={"features": [0.3, -0.2]}))
            champions.append({before, rt.registry.champion_version})

        threads = [threading.Thread(target=call) for _ in range(50)]
        trainer = threading.Thread(target=lambda: rt.models.train(window_rows=1500))
        for t in threads[:25]:
            t.start()
        trainer.start()
        for t in threads[25:]:
            t.start()
        for t in [*threads, trainer]:
            t.join()
        assert all(r.status_code == 200 for r in replies) and len(replies) == 50
        labels = {f"v1.{v - 1}.0" for seen in champions for v in seen}
        assert {r.json()["model_version"] for r in replies} <= labels
        assert rt.registry.champion_version == 2
    finally:
        rt.close()


def test_the_openapi_schema_fuzzed_finds_no_500_and_no_schema_violation(trained_runtime: Runtime) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

    trained_runtime.scheduler.start(paused=True)  # health answers 200 while the worker lives
    schemathesis.serializer.alias(ARROW_STREAM, "application/octet-stream")  # a replica's batch: random bytes, refused as not Arrow
    # The schema states the workspace's own limits, so a fuzzer draws valid sizes up to them: keep them small here.
    trained_runtime.settings = replace(trained_runtime.settings, max_samples_per_request=2000)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(trained_runtime))
    checks = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)
    failures, calls = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "POST" and operation.path in ("/cycles", "/alerts/test", "/maintenance"):
            continue  # they start threads, send alerts or archive; each has its own test

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(operation.as_strategy())
        def check(case: object) -> None:
            response = case.call()
            calls.append(response.status_code)
            case.validate_response(response, checks=checks)

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {type(exc).__name__}: {str(exc)[:600]}")
    assert not failures, failures
    assert len(calls) > 200 and 500 not in calls


def test_the_show_why_views_have_the_same_door_in_the_api(client: TestClient, trained_runtime: Runtime) -> None:
    rt = trained_runtime
    evaluation = client.get("/models/v1.0.0/evaluation").json()
    assert evaluation["model_version"] == "v1.0.0" and evaluation == {"model_version": "v1.0.0", **rt.store.evaluation(1)}
    assert client.get("/models/v1.7.0/evaluation").status_code == 404
    explained = client.post("/explain", json={"features": [1.5, 2.3]}).json()
    served = rt.serving.predict([1.5, 2.3])
    assert explained["model_version"] == "v1.0.0" and explained["probability"] == pytest.approx(served.probability)
    assert explained["towards"] == rt.schema.classes[1]  # the class the probability is of, by the schema's name
    named = client.post("/explain", json={"features": {"feature_1": 1.5, "feature_2": 2.3}})  # as /predict takes them (tour 20)
    assert named.status_code == 200 and named.json()["contributions"] == explained["contributions"], named.text
    bad = client.post("/explain", json={"features": [1.5, "x"]})
    assert bad.status_code == 422 and "features" in bad.text
    rt.loop.set_stream_scenario("covariate_shift", 1.5)
    cycle_id = rt.loop.run_cycle().cycle_id
    detail = client.get(f"/cycles/{cycle_id}").json()
    assert detail["cycle"]["cycle_id"] == cycle_id and [d["feature"] for d in detail["drift"]] == ["feature_1", "feature_2"]
    assert client.get("/cycles/999").status_code == 404 and client.get("/cycles/0").status_code == 422


def test_unknown_fields_are_refused_by_name_and_store_nothing(predict_client: TestClient, trained_runtime: Runtime) -> None:
    reply = predict_client.post("/predict", json={"features": [1, 2], "colour": "red"})
    assert reply.status_code == 422 and reply.json()["field"] == "colour" and "unknown field" in reply.json()["error"]
    with TestClient(create_app(trained_runtime), raise_server_exceptions=False) as c:
        reply = c.post("/generate", json={"samples": 100, "colour": "red"})
        assert reply.status_code == 422 and reply.json()["field"] == "colour"
        typo = c.put("/loop", json={"intervall": 5}).json()  # tour 14: the fields it takes beside the one it does not
        assert typo["error"] == "intervall: unknown field: the API does not take it (it takes state, interval, policy, thresholds)"
        extra = c.post("/feedback", json={"labels": [{"prediction_id": "a", "label": 1}], "corect": True}).json()
        assert extra["field"] == "corect" and extra["error"].endswith("(it takes labels, correct)"), extra
    trained_runtime.predictor.flush()
    assert trained_runtime.store.counts()["datasets"] == 1 and trained_runtime.store.counts()["predictions"] == 0


def test_a_wrong_content_type_is_a_415_naming_it_on_every_json_route(predict_client: TestClient) -> None:
    for path in ("/predict", "/predict/batch", "/generate"):
        reply = predict_client.post(path, content=b'{"features": [1, 2]}', headers={"Content-Type": "text/plain"})
        assert reply.status_code == 415, path
        assert (
            reply.json()["field"] == "Content-Type"
            and "text/plain" in reply.json()["error"]
            and "application/json" in reply.json()["error"]
        )


def test_malformed_and_non_utf8_bodies_name_the_body_in_the_error_shape(predict_client: TestClient) -> None:
    for path in ("/predict", "/generate"):
        for body in (b'{"features": [1, 2', b'{"features": [\xff]}'):
            reply = predict_client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert reply.status_code == 422 and reply.json()["field"] == "body", (path, body, reply.text)
            assert set(reply.json()) == {"error", "field", "error_id", "errors"} and "not valid JSON" in reply.json()["error"]


def test_the_token_is_checked_before_the_body_and_read_once(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.settings = replace(rt.settings, api_token="s3cret")
    for app in (create_app(rt), FastPredict(create_app(rt), rt)):
        with TestClient(app) as c:
            for path in ("/predict", "/generate"):
                assert c.post(path, content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 401
            two = httpx.Headers([("Authorization", "Bearer wrong"), ("Authorization", "Bearer s3cret")])
            for order in (two, httpx.Headers(list(reversed(two.multi_items())))):
                reply = c.post("/predict", json={"features": [1, 2]}, headers=order)
                assert reply.status_code == 401 and reply.json()["field"] == "Authorization"


def test_options_and_wrong_methods_list_every_method_of_the_path(client: TestClient) -> None:
    reply = client.options("/loop")
    assert reply.status_code == 204 and set(reply.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "OPTIONS"}
    reply = client.delete("/loop")
    assert reply.status_code == 405 and set(reply.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "OPTIONS"}
    assert reply.json()["field"] == "method"
    assert set(client.options("/datasets/1").headers["allow"].split(", ")) == {"PATCH", "DELETE", "OPTIONS"}


def test_the_schema_states_the_limits_the_api_enforces(client: TestClient, trained_runtime: Runtime) -> None:
    schema = client.get("/openapi.json").json()
    parts = schema["components"]["schemas"]
    features = parts["PredictRequest"]["properties"]["features"]
    assert features["minItems"] == features["maxItems"] == 2
    assert features["items"]["maximum"] == trained_runtime.settings.feature_max_abs
    generate = parts["GenerateRequest"]["properties"]
    assert generate["samples"]["minimum"] == 1 and generate["samples"]["maximum"] == trained_runtime.settings.max_samples_per_request
    assert set(generate["scenario"]["enum"]) == {"stable", "covariate_shift", "concept_drift", "gradual", "label_noise"}
    assert parts["PredictRequest"]["additionalProperties"] is False
    version = next(p for p in schema["paths"]["/models/{version}"]["get"]["parameters"] if p["name"] == "version")
    assert version["schema"]["pattern"]
    import re

    assert not re.fullmatch(version["schema"]["pattern"], "0") and re.fullmatch(version["schema"]["pattern"], "v1.2.0")
    assert all(p in parts["LoopUpdate"]["properties"]["policy"]["description"] for p in POLICIES)  # the default too
    health = client.get("/health").json()
    assert set(health) <= set(parts["HealthReply"]["properties"]), "a field /health answers is missing from its schema"


def test_trainings_are_rate_limited_with_a_429_and_retry_after(tmp_path: Path, mlflow_template: Path) -> None:
    rt = Runtime(make_settings(tmp_path / "w", mlflow_template, starter_model=True, trainings_per_minute=2))
    try:
        with TestClient(create_app(rt), raise_server_exceptions=False) as c:
            codes = [c.post("/retrain", json={"window_rows": 100 + i}).status_code for i in range(3)]
            reply = c.post("/retrain", json={"window_rows": 500})
        assert codes[:2] != [429, 429] and codes[2] == 429 and reply.status_code == 429
        assert 1 <= int(reply.headers["retry-after"]) <= 60 and "IA_TRAININGS_PER_MINUTE" in reply.json()["error"]
        assert rt.store.counts()["models"] <= 3
    finally:
        rt.close()


def test_a_refused_retrain_does_not_count_against_the_rate_limit(tmp_path: Path, mlflow_template: Path) -> None:
    rt = Runtime(make_settings(tmp_path / "w", mlflow_template, starter_model=True, trainings_per_minute=2))
    try:
        with TestClient(create_app(rt), raise_server_exceptions=False) as c:
            refused = [c.post("/retrain", json={"dataset_ids": [999]}) for _ in range(3)]
            accepted = [c.post("/retrain", json={"window_rows": 100 + i}).status_code for i in range(2)]
            over = c.post("/retrain", json={"window_rows": 300})
        assert [r.status_code for r in refused] == [422] * 3 and refused[0].json()["field"] == "dataset_ids"
        assert accepted == [200, 200] and over.status_code == 429
    finally:
        rt.close()


def test_a_read_only_mlflow_store_makes_retrain_a_503(client: TestClient, trained_runtime: Runtime) -> None:
    from tests.services.test_faults import immutable

    trained_runtime.data.generate(500, seed=2, role="incoming")
    with immutable(trained_runtime.settings.data_dir / "mlflow.db"):
        reply = client.post("/retrain", json={"window_rows": 500})
    assert reply.status_code == 503 and "read-only" in reply.json()["error"]


def test_a_webhook_refusing_every_alert_shows_in_health(tmp_path: Path, mlflow_template: Path) -> None:
    from tests.discord_server import FakeDiscord

    with FakeDiscord(default=401) as discord:
        rt = Runtime(make_settings(tmp_path / "w", mlflow_template, discord_webhook_url=discord.url, notify_retries=0))
        try:
            assert rt.health.check().checks["webhook"].ok
            for _ in range(3):
                rt.health.send_test_message()
            assert rt.notifier.flush(10)
            check = rt.health.check().checks["webhook"]
            assert not check.ok and "the last 3 alerts failed" in check.detail and "HTTP 401" in check.detail
        finally:
            rt.close()


def test_a_cycle_can_be_waited_for_and_maintenance_run_on_request(client: TestClient, trained_runtime: Runtime) -> None:
    """What an orchestrator calls when the in-process scheduler is off: the cycle's outcome in the reply, and retention."""
    reply = client.post("/cycles", params={"wait": "true"})
    body = reply.json()
    assert reply.status_code == 200 and body["status"] == "ok"
    stored = trained_runtime.store.cycles()
    assert body["cycle"]["cycle_id"] == int(stored["cycle_id"].iloc[0]) and stored["trigger"].iloc[0] == "api"
    assert client.post("/cycles").status_code == 202  # without wait: started in the background, as before
    trained_runtime.loop.run_cycle()  # after the one started: cycles run one at a time
    assert trained_runtime.store.cycles()["trigger"].tolist()[:3] == ["manual", "api", "api"]  # a call from outside is not a click
    moved = client.post("/maintenance").json()["moved"]
    assert {"predictions", "feedback", "forwarded_batches", "health_checks"} <= set(moved)
