"""/predict on a workspace of 26 named columns: a row missing many columns, or sending unknown ones, is refused naming
every one (the first 20, then how many more), in the API's one error shape, with the same words on the fast path, the
FastAPI route, the batch call and /explain, and nothing logged. On a real workspace (DuckDB file, MLflow store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core import workspaces
from core.api import create_app
from core.api.app import serving_app
from core.errors import MAX_REFUSALS
from core.runtime import Runtime
from tests.api.refusals import refusal
from tests.fixtures import make_settings

NAMES = [f"measure_{i:02d}" for i in range(1, 26)] + ["region"]  # 26 feature columns, in the schema's order


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[Runtime]:
    base = make_settings(tmp_path_factory.mktemp("wide") / "data", mlflow_template)
    rng = np.random.default_rng(5)
    table = pd.DataFrame(rng.normal(size=(400, 25)), columns=NAMES[:-1]).assign(region=rng.choice(["north", "south"], 400))
    table["label"] = np.where(table["measure_01"] + rng.normal(0, 0.5, 400) > 0, "yes", "no")
    path = tmp_path_factory.mktemp("files") / "wide.csv"
    table.to_csv(path, index=False)
    created = workspaces.create(base, "wide", path, "wide.csv", workspaces.TableChoice("label"))
    runtime = Runtime(workspaces.workspace_settings(base, created.folder))
    assert runtime.schema.names == NAMES
    yield runtime
    runtime.close()


ROW = {**{name: 0.5 for name in NAMES[:-1]}, "region": "north"}
QUOTED = [repr(name) for name in NAMES]


def refusals(rt: Runtime, features: dict) -> list[dict]:
    """The body of every door's refusal of `features`: the fast path, the FastAPI route, a batch's second row, /explain."""
    fast, routed = TestClient(serving_app(rt)), TestClient(create_app(rt))
    replies = [
        fast.post("/predict", json={"features": features}),
        routed.post("/predict", json={"features": features}),
        fast.post("/predict/batch", json={"rows": [ROW, features]}),
        fast.post("/explain", json={"features": features}),
    ]
    assert [r.status_code for r in replies] == [422] * 4, [r.text for r in replies]
    return [r.json() for r in replies]


def test_a_row_missing_twelve_columns_names_all_twelve(rt: Runtime) -> None:
    before = rt.store.counts()["predictions"]
    sent = {k: v for k, v in ROW.items() if k not in NAMES[3:15]}  # 12 columns left out
    fast, routed, batch, explain = refusals(rt, sent)
    said = f"missing column(s) {', '.join(QUOTED[3:15])}: send every column (null for a missing value where one is allowed)"
    assert fast == routed == explain == refusal("features", f"features: {said}")
    assert batch == refusal("batch", f"batch: row 2: {said}")
    rt.predictor.flush()
    assert rt.store.counts()["predictions"] == before  # nothing logged


def test_past_twenty_the_rest_are_counted(rt: Runtime) -> None:
    fast, routed, *_ = refusals(rt, {"measure_01": 0.1})  # 25 columns left out
    assert fast == routed and fast["field"] == "features"
    assert fast["error"] == (
        f"features: missing column(s) {', '.join(QUOTED[1:21])} and 5 more: send every column (null for a missing value where one is allowed)"
    )


def test_one_column_left_out_is_still_that_columns_own_refusal(rt: Runtime) -> None:
    fast, routed, batch, _ = refusals(rt, {k: v for k, v in ROW.items() if k != "measure_07"})
    assert fast == routed and fast["field"] == "features.measure_07" and "is missing: send every column" in fast["error"]
    assert batch["field"] == "batch.measure_07" and "row 2: is missing" in batch["error"]


def test_unknown_columns_are_all_named_with_the_ones_they_left_missing(rt: Runtime) -> None:
    misspelt = {k.replace("measure_", "measure-") if k in NAMES[:12] else k: v for k, v in ROW.items()}  # 12 misspelt
    fast, routed, batch, explain = refusals(rt, misspelt)
    unknown = ", ".join(repr(k.replace("measure_", "measure-")) for k in NAMES[:12])
    said = f"unknown column(s) {unknown}; missing column(s) {', '.join(QUOTED[:12])}; the columns are {', '.join(NAMES)}"
    assert fast == routed == explain == refusal("features", f"features: {said}")
    assert batch["error"] == f"batch: row 2: {said}" and batch["field"] == "batch"
    many = {**ROW, **{f"extra_{i:02d}": 1.0 for i in range(23)}}
    (fast, *_) = refusals(rt, many)
    assert fast["error"].startswith(f"features: unknown column(s) {', '.join(repr(f'extra_{i:02d}') for i in range(20))} and 3 more; ")


def test_generating_rows_in_a_table_s_workspace_is_refused_naming_the_workspace_not_a_field_not_sent(rt: Runtime) -> None:
    """Tour 16: POST /generate {"samples": 100} was refused naming `scenario`, a field the request did not send."""
    before = rt.store.counts()
    reply = TestClient(create_app(rt)).post("/generate", json={"samples": 100})
    assert reply.status_code == 422 and reply.json()["field"] == "workspace", reply.json()
    assert "the generator makes the demo's columns" in reply.json()["error"] and rt.store.counts() == before


def test_an_integer_past_a_float_is_refused_at_every_door_not_a_500(rt: Runtime) -> None:
    """Tour 20: 10**400 in a table's column (or as C) made float() overflow, a 500 on /predict, the batch and /explain."""
    before = rt.store.counts()["predictions"]
    for big in (10**400, -(10**309)):
        said = refusals(rt, {**ROW, "measure_03": big})
        assert all(r["field"].endswith("measure_03") and "must be a finite number within" in r["error"] for r in said), said
    reply = TestClient(create_app(rt)).post("/retrain", json={"C": 10**400})
    assert reply.status_code == 422 and reply.json()["field"] == "C" and "from 0.0001 to 10000" in reply.json()["error"], reply.text
    text = TestClient(create_app(rt)).post("/retrain", json={"C": "1"}).json()["error"]
    assert text.endswith("got '1'"), text  # text, as the reply says it: "got 1" hid what was wrong
    rt.predictor.flush()
    assert rt.store.counts()["predictions"] == before


def test_a_batch_with_bad_values_in_several_rows_names_each_not_the_first_alone(rt: Runtime) -> None:
    """Tour 20: {"rows": [good, "x" in one column, NaN in another]} named row 2 only."""
    rows = [ROW, {**ROW, "measure_03": "x"}, {**ROW, "measure_04": None}, {**ROW, "colour": 1}]
    reply = TestClient(serving_app(rt)).post("/predict/batch", json={"rows": rows})
    assert reply.status_code == 422, reply.text
    errors = reply.json()["errors"]
    assert [e["field"] for e in errors] == ["batch.measure_03", "batch.measure_04", "batch"], errors
    assert errors[0]["error"].startswith("batch.measure_03: row 2: expected a number, got 'x'") and "row 3: is null" in errors[1]["error"]
    assert "row 4: unknown column(s) 'colour'" in errors[2]["error"]


def test_a_batch_with_more_bad_values_than_a_reply_names_stops_at_the_limit_and_says_so(rt: Runtime) -> None:
    """30 bad rows, the 20th with two bad values: the reply names exactly the first MAX_REFUSALS problems (the two of the
    20th row made it 21), says it read no further, and nothing is logged."""
    before = rt.store.counts()["predictions"]
    rows = [ROW] + [{**ROW, "measure_02": f"bad{i}"} for i in range(30)]
    rows[MAX_REFUSALS]["measure_03"] = "also bad"
    errors = TestClient(serving_app(rt)).post("/predict/batch", json={"rows": rows}).json()["errors"]
    assert len(errors) == MAX_REFUSALS
    assert [e["error"].split(": ")[1] for e in errors] == [f"row {i}" for i in range(2, 2 + MAX_REFUSALS)]
    assert errors[-1]["error"].endswith(f"the first {MAX_REFUSALS} problems: the batch was read no further"), errors[-1]
    rt.predictor.flush()
    assert rt.store.counts()["predictions"] == before


def test_the_docs_examples_are_this_workspace_s_row_and_class_and_are_served(rt: Runtime) -> None:
    """Tour 20: a table's /openapi.json showed the demo's [1.5, 2.3] as PredictRequest's example, which /predict refuses."""
    client = TestClient(create_app(rt))
    parts = client.get("/openapi.json").json()["components"]["schemas"]
    row = parts["PredictRequest"]["properties"]["features"]["examples"][0]
    assert list(row) == NAMES and parts["BatchRequest"]["properties"]["rows"]["examples"] == [[row]]
    assert client.post("/predict", json={"features": row}).status_code == 200
    assert parts["FeedbackRequest"]["properties"]["labels"]["examples"][0][0]["label"] in rt.schema.classes
