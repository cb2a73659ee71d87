"""What the API refuses, and how, through a real uvicorn: values past a limit, bodies it cannot read, the token's
scheme in any case, and messages a person reads (no numpy reprs). Each refusal is the documented shape
(`error`, `field`, `error_id`) and changes nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.api.server import ApiServer
from core.runtime import Runtime
from tests.fixtures import make_settings
from tests.servers import free_port, wait_for_url

TOKEN = "refusals-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api(tmp_path: Path, mlflow_template: Path) -> Iterator[tuple[Runtime, str]]:
    """A workspace with v1.0.0 as champion, its API on a real port behind a token."""
    settings = make_settings(
        tmp_path / "data", mlflow_template, starter_model=True, api_enabled=True, api_port=free_port(), api_token=TOKEN
    )
    rt = Runtime(settings)
    rt.attach_server(ApiServer(rt))
    url = f"http://127.0.0.1:{settings.api_port}"
    wait_for_url(f"{url}/health/live")
    yield rt, url
    rt.close()


def refused(reply: httpx.Response, field: str) -> str:
    """The refusal's message, once its status, shape and field are the documented ones."""
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert set(body) == {"error", "field", "error_id", "errors"} and body["field"] == field and body["error_id"] is None, body
    assert body["errors"] == [{"field": field, "error": body["error"]}], body
    return body["error"]


def test_an_id_a_window_or_a_flag_past_its_limit_is_refused_naming_it_and_nothing_changes(api: tuple[Runtime, str]) -> None:
    rt, url = api
    long_id = {"features": [1.0, 2.0], "prediction_id": "a" * 129}
    assert "limit of 128" in refused(httpx.post(f"{url}/explain", json=long_id, headers=AUTH), "prediction_id")
    assert httpx.post(f"{url}/explain", json={**long_id, "prediction_id": "a" * 128}, headers=AUTH).status_code == 200

    versions = len(rt.insights.models())
    assert "from 50" in refused(httpx.post(f"{url}/retrain", json={"window_rows": 0}, headers=AUTH, timeout=60), "window_rows")
    assert len(rt.insights.models()) == versions

    loop, stream = httpx.get(f"{url}/loop").json(), httpx.get(f"{url}/stream").json()
    for flag in (0, 1, "yes"):
        said = refused(httpx.put(f"{url}/loop", json={"thresholds": {"stream_enabled": flag}}, headers=AUTH), "stream_enabled")
        assert "true or false" in said
        said = refused(httpx.put(f"{url}/stream", json={"enabled": flag}, headers=AUTH), "enabled")  # as sent
        assert "true or false" in said
    assert httpx.get(f"{url}/loop").json() == loop and httpx.get(f"{url}/stream").json() == stream
    assert httpx.put(f"{url}/stream", json={"enabled": not stream["enabled"]}, headers=AUTH).json()["enabled"] is not stream["enabled"]


def test_a_body_that_cannot_be_read_is_a_422_on_body_saying_why(api: tuple[Runtime, str]) -> None:
    rt, url = api
    datasets = len(rt.insights.datasets())
    for path in ("/datasets", "/workspaces/preview"):
        for content_type, body in (("multipart/form-data; boundary=xyz", b"garbage"), ("multipart/form-data", b"garbage")):
            reply = httpx.post(f"{url}{path}", content=body, headers={**AUTH, "Content-Type": content_type})
            assert "not a readable multipart form" in refused(reply, "body"), (path, content_type)
    assert len(rt.insights.datasets()) == datasets

    deep = "[" * 5000 + "]" * 5000
    for path, body in (("/predict", deep), ("/predict", '{"features": ' + deep + "}"), ("/generate", '{"samples": ' + deep + "}"),
                       ("/feedback", '{"labels": ' + deep + "}")):  # fmt: skip
        said = refused(httpx.post(f"{url}{path}", content=body, headers={**AUTH, "Content-Type": "application/json"}), "body")
        assert "nested too deep" in said and "UTF-8" not in said, (path, said)
    long = "9" * 5000  # valid JSON past Python's digit limit (tour 20: "not valid JSON" on /predict, "not readable" elsewhere)
    for path, body in (("/predict", '{"features": [' + long + ", 1]}"), ("/predict/batch", '{"rows": [[' + long + ", 1]]}"),
                       ("/generate", '{"samples": ' + long + "}")):  # fmt: skip
        said = refused(httpx.post(f"{url}{path}", content=body, headers={**AUTH, "Content-Type": "application/json"}), "body")
        assert "a number of more than 4,300 digits" in said, (path, said)
    for path in ("/predict", "/generate"):
        said = refused(
            httpx.post(f"{url}{path}", content=b'{"samples": "\xff"}', headers={**AUTH, "Content-Type": "application/json"}), "body"
        )
        assert "not UTF-8" in said or "not valid JSON" in said


def test_the_bearer_scheme_is_read_in_any_case_and_the_token_never_from_the_query(api: tuple[Runtime, str]) -> None:
    _rt, url = api
    for scheme in ("Bearer", "bearer", "BEARER"):
        for path, body in (("/predict", {"features": [1.0, 2.0]}), ("/generate", {"samples": 10})):
            reply = httpx.post(f"{url}{path}", json=body, headers={"Authorization": f"{scheme} {TOKEN}"})
            assert reply.status_code == 200, (scheme, path, reply.text)
    for path in ("/predict", "/generate"):
        reply = httpx.post(f"{url}{path}?token={TOKEN}", json={"features": [1.0, 2.0]})
        assert reply.status_code == 401 and reply.json()["field"] == "Authorization"


def test_a_refusal_shows_values_as_a_person_wrote_them(api: tuple[Runtime, str]) -> None:
    _rt, url = api
    one_class = b"x,y\n" + b"1,1\n2,1\n" * 50
    for path, form in (("/workspaces/preview", {"target": "y"}), ("/workspaces", {"target": "y", "name": "single"})):
        # A child process reads the file (core.workspaces): seconds on a loaded machine, past httpx's default of 5.
        said = refused(httpx.post(f"{url}{path}", files={"file": ("one.csv", one_class)}, data=form, headers=AUTH, timeout=120), "y")
        assert "one class only (1)" in said and "np." not in said, said


def test_a_wrong_kind_is_refused_naming_its_column_and_what_it_was_given(api: tuple[Runtime, str]) -> None:
    """Tour 11: {"x": "text"} was refused as "expected an object of column names to one of …", naming neither."""
    _rt, url = api
    table = b"x,z,y\n" + b"1,a,0\n2,b,1\n" * 50
    form = {"target": "y", "kinds": '{"x": "numeric", "z": "text", "y": true}'}
    said = refused(httpx.post(f"{url}/workspaces/preview", files={"file": ("t.csv", table)}, data=form, headers=AUTH, timeout=120), "kinds")
    assert "z = 'text', y = true" in said and "numeric, categorical, ignored" in said and "x =" not in said, said
