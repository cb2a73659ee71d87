"""One value, one category at every door; unseen categories named; null and absent one missing value; /explain
per column. On a real workspace (DuckDB file, MLflow store) built from a file whose numbers-as-categories are
written as floats (2007.0) and whose labels are written 0.0 and 1.0."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core import workspaces
from core.api import create_app
from core.api.app import serving_app
from core.config import Settings
from core.data.table_check import checked_rows
from core.domain.features import RENAMED_INPUTS
from core.domain.schema import Column, Schema
from core.domain.validation import category, known_spelling
from core.errors import UserInputError
from core.io.table_files import category_sql
from core.ml.row_model import RowModel
from core.runtime import Runtime
from core.stats import evaluation
from tests.fixtures import make_settings

ISLANDS = ("Biscoe", "Dream", "Torgersen")


def penguins(rows: int, seed: int) -> pd.DataFrame:
    """A table whose first column is a category (so the schema's order differs from the encoder's, numbers first),
    a year written as 2007.0, a category and a number that may be missing, and labels written 0.0 and 1.0."""
    rng = np.random.default_rng(seed)
    island = rng.choice(ISLANDS, rows)
    bill = rng.normal(44, 5, rows)
    year = rng.choice([2007.0, 2008.0, 2009.0], rows)
    sex = rng.choice(["male", "female"], rows).astype(object)
    sex[rng.random(rows) < 0.1] = None
    flipper = rng.normal(200, 14, rows)
    flipper[rng.random(rows) < 0.1] = np.nan
    sex[:5], flipper[:5] = None, np.nan  # in the rows MLflow's example is taken from: inferred, both would be optional
    logit = (bill - 44) / 3 + np.where(island == "Dream", 1.5, -0.5) + np.where(year == 2009.0, 0.8, 0.0)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame({"island": island, "bill": bill, "year": year, "sex": sex, "flipper": flipper, "label": label})


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Settings:
    return make_settings(tmp_path_factory.mktemp("cats") / "data", mlflow_template)


@pytest.fixture(scope="module")
def penguin_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "penguins.csv"
    penguins(600, seed=3).to_csv(path, index=False, float_format="%.1f")  # 2007.0, 0.0 and 1.0 as written
    return path


@pytest.fixture(scope="module")
def rt(base: Settings, penguin_file: Path) -> Iterator[Runtime]:
    created = workspaces.create(base, "penguins", penguin_file, "penguins.csv", workspaces.TableChoice("label"))
    runtime = Runtime(workspaces.workspace_settings(base, created.folder))
    yield runtime
    runtime.close()


ROW = {"island": "Dream", "bill": 45.0, "year": 2008, "sex": "male", "flipper": 201.0}


# the rule ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [(3, "3"), (3.0, "3"), ("3.0", "3"), ("3", "3"), (np.float64(3.0), "3"), (np.int64(3), "3"), ("3e0", "3"), (1e3, "1000"),
     ("1e3", "1000"), ("2007.0", "2007"), (" 2007 ", "2007"), ("-0", "0"), (-0.0, "0"), (2.50, "2.5"), ("2.50", "2.5"),
     (".5", "0.5"), ("3.", "3"), (1e20, "1e+20"), (True, "true"), (np.bool_(False), "false"), ("01", "01"), ("007", "007"),
     ("+3", "+3"), ("True", "True"), (" a", " a"), ("1_000", "1_000"), (None, None), (float("nan"), None), (pd.NA, None)],
)  # fmt: skip
def test_a_category_has_one_canonical_text_however_it_is_written(value: object, text: str | None) -> None:
    assert category(value) == text


def test_the_bulk_import_writes_every_category_as_the_row_doors_do() -> None:
    texts = ["3", "3.0", "3.", ".5", "-0", "-0.0", "0.50", "1e3", "1E3", "2007.0", " 3 ", "01", "+3", "007", "-01", "abc", "True",
             "1e400", "1e20", "9007199254740993.0", "12345678901234567890123456789012345678901234567890", "0.1", "1.5e-7", "x 3",
             " a", "", "nan", "inf", "1_000", None]  # fmt: skip
    doubles = [3.0, 2.5, 1e20, -0.0, 1e-7, 2.0**53, 2.0**53 - 1, float("inf"), 0.30000000000000004, None]
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t (text VARCHAR, number DOUBLE, whole BIGINT, flag BOOLEAN)")
        rows = [[t, d, w, f] for t, d, w, f in zip(texts, doubles * 3, [5, -3, 0, None] * 8, [True, False, None] * 10, strict=False)]
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
        found = con.execute(f"SELECT {', '.join(category_sql(c) for c in ('text', 'number', 'whole', 'flag'))} FROM t").fetchall()
    finally:
        con.close()
    for row, sql in zip(rows, found, strict=True):
        assert [category(v) for v in row] == list(sql), row


# files -----------------------------------------------------------------------------------------------
def test_reimporting_the_file_a_workspace_was_built_from_stores_the_same_categories(rt: Runtime, penguin_file: Path) -> None:
    info = rt.data.import_csv(penguin_file.read_bytes(), name="penguins again", role="library")
    first, again = rt.insights.dataset_frame(1), rt.insights.dataset_frame(info.dataset_id)
    assert set(rt.schema.column("year").categories) == set(again["year"]) == {"2007", "2008", "2009"}
    for name in ("island", "year", "sex", "label"):
        pd.testing.assert_series_equal(first[name], again[name], check_dtype=False)


def test_a_batch_file_with_a_category_written_as_text_or_a_float_is_one_category(rt: Runtime) -> None:
    years = ["2008.0", "2008", "2.008e3", "MMVIII"]  # the last one makes the column text when the file is read
    frame = rt.serving.predict_csv(pd.DataFrame([ROW] * 4).assign(year=years).to_csv(index=False).encode())
    assert frame["year"].tolist() == ["2008", "2008", "2008", "MMVIII"] and frame["confidence"].head(3).nunique() == 1


def test_a_batch_names_each_row_s_unseen_categories_and_the_values_it_never_saw(rt: Runtime) -> None:
    """A file writing Dream as dream was scored as an unknown island with no word in the results or their download."""
    islands = ["Dream", "dream", "DREAM", "dream", "Torgersen"]
    frame = rt.serving.predict_csv(
        pd.DataFrame([ROW] * 5).assign(island=islands, sex=["male"] * 4 + ["robot"]).to_csv(index=False).encode()
    )
    assert frame["unseen categories"].tolist() == [[], ["island"], ["island"], ["island"], ["sex"]]
    assert rt.serving.unseen_values(frame) == {"island": "'dream' ×2, 'DREAM' ×1", "sex": "'robot' ×1"}
    written = rt.serving.results_csv(frame).splitlines()
    assert "unseen categories" in written[0] and written[2].endswith(",island")  # the download says it too
    commas = frame.rename(columns={"island": "island, coast"}).assign(**{"unseen categories": [[]] * 4 + [["island, coast"]]})
    assert rt.serving.unseen_values(commas) == {"island, coast": "'Torgersen' ×1"}  # a name with a comma is one name


# /predict, /predict/batch and labels ---------------------------------------------------------------------
@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "route"])
def test_a_number_used_as_a_category_is_one_category_at_predict_however_written(rt: Runtime, fast: bool) -> None:
    client = TestClient(serving_app(rt) if fast else create_app(rt))
    replies = [client.post("/predict", json={"features": {**ROW, "year": year}}) for year in (2008, 2008.0, "2008", "2008.0", "2.008e3")]
    assert [r.status_code for r in replies] == [200] * 5, [r.text for r in replies]
    bodies = [r.json() for r in replies]
    assert len({b["confidence"] for b in bodies}) == 1 and all(b["unseen"] == [] for b in bodies)
    batch = client.post("/predict/batch", json={"rows": [{**ROW, "year": y} for y in (2008, 2008.0, "2008.0")]})
    assert batch.status_code == 200, batch.text
    assert batch.json()["confidences"] == [bodies[0]["confidence"]] * 3 and batch.json()["unseen"] == [[], [], []]


def test_labels_written_as_a_number_or_its_text_are_one_class(rt: Runtime) -> None:
    ids = [rt.serving.predict(ROW, source="api").prediction_id for _ in range(4)]
    reply = rt.feedback.send([{"prediction_id": i, "label": label} for i, label in zip(ids[:3], (1, 1.0, "1.0"), strict=True)])
    assert reply.stored == 3
    assert rt.feedback.send_csv(f"prediction_id,label\n{ids[3]},0.0\n").stored == 1
    with pytest.raises(UserInputError, match=r"'1\.5' is not a class"):
        rt.feedback.send([{"prediction_id": ids[0], "label": "1.5"}], correct=True)


# unseen categories -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "route"])
def test_an_unseen_category_is_named_in_the_reply(rt: Runtime, fast: bool) -> None:
    client = TestClient(serving_app(rt) if fast else create_app(rt))
    reply = client.post("/predict", json={"features": {**ROW, "island": "Atlantis"}})
    assert reply.status_code == 200 and reply.json()["unseen"] == ["island"]
    batch = client.post("/predict/batch", json={"rows": [ROW, {**ROW, "island": "Atlantis", "year": 2031}, {**ROW, "sex": None}]})
    assert batch.json()["unseen"] == [[], ["island", "year"], []]  # a missing value is missing, not unseen
    document = client.get("/openapi.json").json()["components"]["schemas"]
    assert "unseen" in document["PredictReply"]["required"] and "unseen" in document["BatchReply"]["required"]


def trained_mean(rt: Runtime, model: object) -> np.ndarray:
    """The encoded inputs' mean over the workspace's first dataset, the rows v1.0.0 learnt from, read as the user's table."""
    frame = rt.store.dataset_frame(1)
    return np.asarray(model.named_steps["preprocess"].transform(frame[rt.schema.names]), dtype=float).mean(axis=0)


def test_an_unseen_category_without_an_infrequent_column_counts_as_no_island_and_explain_says_so(rt: Runtime) -> None:
    """No known island: each island's one-hot input is 0, so its part is what the average row's island mix gave, taken
    away (an explanation measures from the average row, as a linear model's Shapley values do)."""
    _, model = rt.predictor.model()
    assert RowModel.of(model, rt.schema).categorical[0][2] is None  # every island had 5 rows or more: no infrequent column
    explained = rt.insights.explain({**ROW, "island": "Atlantis"})
    island = next(c for c in explained["columns"] if c["column"] == "island")
    terms = evaluation.encoded_terms(model)
    away = -sum(w * m for w, m, s in zip(terms["coef"][0], trained_mean(rt, model), terms["sources"], strict=True) if s == "island")
    assert island["contribution"] == pytest.approx(away, abs=1e-9) and island["unseen"] and explained["unseen"] == ["island"]
    served = rt.serving.predict({**ROW, "island": "Atlantis"})
    assert served.probabilities == tuple(model.predict_proba(pd.DataFrame([{**ROW, "island": "Atlantis", "year": "2008"}]))[0])


# /explain per column ---------------------------------------------------------------------------------
def test_explain_answers_one_entry_per_schema_column_in_the_schema_s_order(rt: Runtime) -> None:
    schema = rt.schema
    row = {**ROW, "flipper": None}
    explained = TestClient(create_app(rt)).post("/explain", json={"features": row}).json()
    assert [c["column"] for c in explained["columns"]] == schema.names == explained["features"] == list(ROW)
    assert [c["value"] for c in explained["columns"]] == [row[n] if n != "year" else "2008" for n in schema.names]
    _, model = rt.predictor.model()
    terms = evaluation.encoded_terms(model)
    encoded = model.named_steps["preprocess"].transform(pd.DataFrame([{**row, "year": "2008", "flipper": np.nan}]))[0]
    parts = np.asarray(terms["coef"][0]) * (encoded - trained_mean(rt, model))  # from the average row the model learnt from
    for entry in explained["columns"]:
        expected = sum(p for p, source in zip(parts, terms["sources"], strict=True) if source == entry["column"])
        assert entry["contribution"] == pytest.approx(expected, abs=1e-12), entry["column"]
    assert explained["contributions"] == [c["contribution"] for c in explained["columns"]]
    logit = sum(explained["contributions"]) + explained["intercept"]
    assert 1 / (1 + math.exp(-logit)) == pytest.approx(rt.serving.predict(row).probabilities[1])


def test_a_version_keeps_the_average_row_it_is_explained_from_when_its_rows_are_gone(base: Settings, penguin_file: Path) -> None:
    """The average row is stored when the version is trained: the first explanation reads no rows on the click, and a
    version whose rows were archived is still explained from its average, not from zero."""
    created = workspaces.create(base, "penguins_gone", penguin_file, "penguins.csv", workspaces.TableChoice("label"))
    settings = workspaces.workspace_settings(base, created.folder)
    first = Runtime(settings)
    try:
        _, model = first.predictor.model()
        mean = trained_mean(first, model)
        assert first.store.evaluation(1)["encoded_mean"] == pytest.approx(mean.tolist(), abs=1e-12)
    finally:
        first.close()
    with duckdb.connect(str(settings.duckdb_path)) as db:
        db.execute("DELETE FROM samples")  # what retention leaves of a version's rows once it is out of service
    runtime = Runtime(settings)
    try:
        explained = runtime.insights.explain(ROW)
        assert explained["from_average"] is True
        terms = evaluation.encoded_terms(model)
        encoded = model.named_steps["preprocess"].transform(pd.DataFrame([{**ROW, "year": "2008"}]))[0]
        parts = np.asarray(terms["coef"][0]) * (encoded - mean)
        island = sum(p for p, source in zip(parts, terms["sources"], strict=True) if source == "island")
        assert next(c["contribution"] for c in explained["columns"] if c["column"] == "island") == pytest.approx(island, abs=1e-12)
    finally:
        runtime.close()


# null and absent -------------------------------------------------------------------------------------
def test_a_missing_value_is_null_and_a_column_left_out_is_refused_at_every_door(rt: Runtime) -> None:
    client = TestClient(serving_app(rt))
    served = client.post("/predict", json={"features": {**ROW, "sex": None, "flipper": None}})
    assert served.status_code == 200, served.text
    cases = [({**ROW, "bill": None}, "features.bill", "is null"), ({k: v for k, v in ROW.items() if k != "bill"}, "features.bill", "is missing"),
             ({k: v for k, v in ROW.items() if k != "sex"}, "features.sex", "send null for a missing value"),
             ({**ROW, "island": float("nan")}, "features.island", "is NaN, a missing value: this column allows no")]  # fmt: skip
    for bad, field, said in cases:  # as written: NaN is a JSON token Python reads (tour 20: it was refused as "is null")
        refused = client.post("/predict", content=json.dumps({"features": bad}), headers={"content-type": "application/json"})
        assert refused.status_code == 422 and refused.json()["field"] == field and said in refused.json()["error"], refused.text
    batch = client.post("/predict/batch", json={"rows": [ROW, {k: v for k, v in ROW.items() if k != "flipper"}]})
    assert batch.status_code == 422 and "row 2: is missing" in batch.json()["error"]
    features = client.get("/openapi.json").json()["components"]["schemas"]["PredictRequest"]["properties"]["features"]
    assert features["required"] == rt.schema.names
    assert {"type": "null"} in features["properties"]["sex"]["anyOf"] and "null for a missing value" in features["properties"]["sex"][
        "description"
    ]
    assert {"type": "number"} in features["properties"]["year"]["anyOf"]


def test_the_logged_models_signature_takes_what_predict_takes(rt: Runtime) -> None:
    """MLflow's own schema enforcement, on the signature the tracker logged with the champion, agrees with /predict:
    null where missing is allowed is served; a column left out is refused, naming it, before the pipeline (where it
    would fail with scikit-learn's "columns are missing"). Inferred from five example rows, a column with a null in
    them would be optional instead."""
    import mlflow

    inputs = rt.schema.signature_inputs()
    assert [(c["name"], c["type"], c["required"]) for c in inputs] == [
        ("island", "string", True), ("bill", "double", True), ("year", "string", True), ("sex", "string", True),
        ("flipper", "double", True),
    ]  # fmt: skip
    version = rt.registry.champion_version
    uri = urlsplit(rt.tracker.client.get_model_version_download_uri(rt.tracker.model_name, str(version))).path
    logged = mlflow.models.Model.load(uri).signature.inputs
    assert [(c.name, c.type.name, c.required) for c in logged.inputs] == [(c["name"], c["type"], True) for c in inputs]
    served = mlflow.pyfunc.load_model(uri)
    row = {**ROW, "year": "2008", "flipper": None}  # a null number; MLflow passes a null text as None, which the encoder
    # does not read as its missing category (NaN): that is MLflow's door, not this signature's
    assert served.predict(pd.DataFrame([row]))[0].tolist() == list(rt.serving.predict(row).probabilities)
    for left_out in ("sex", "bill"):
        with pytest.raises(mlflow.exceptions.MlflowException, match=rf"missing inputs \['{left_out}'\]"):
            served.predict(pd.DataFrame([row]).drop(columns=[left_out]))


def test_a_table_whose_columns_are_named_like_the_results_keeps_its_values(base: Settings, tmp_path: Path) -> None:
    """A user's `confidence`, `timestamp` or `source` column was overwritten by the workbench's own in a batch's results
    and their download, and the prediction log showed the model's confidence as the user's; the file's id, time and
    target columns were dropped, so the results could be joined back to its rows by order only (tour 11)."""
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"confidence": rng.normal(50, 10, 400), "timestamp": rng.choice(["am", "pm"], 400),
                          "source": rng.choice(["web", "shop"], 400)})  # fmt: skip
    table["bought"] = np.where(table["confidence"] + rng.normal(0, 5, 400) > 50, "yes", "no")
    table.insert(0, "order", [f"o{i}" for i in range(400)])
    table["prediction"] = pd.date_range("2026-01-01", periods=400, freq="h").astype(str)  # a time column, named like ours
    table.to_csv(path := tmp_path / "named.csv", index=False)
    choice = workspaces.TableChoice("bought", id_column="order", time_column="prediction")
    runtime = Runtime(workspaces.workspace_settings(base, workspaces.create(base, "named", path, "named.csv", choice).folder))
    try:
        sent = pd.DataFrame({"order": ["007", "010"], "confidence": [80.0, 20.0], "timestamp": ["am", "noon"], "source": ["web", "shop"],
                             "prediction": ["2026-02-01T10:00", "2026-02-01T11:30"], "bought": ["yes", "no"]})  # fmt: skip
        results = runtime.serving.predict_csv(sent.to_csv(index=False).encode())
        assert list(results.columns[:6]) == ["order", "confidence (input)", "timestamp (input)", "source", "prediction (input)", "bought"]
        # they join back: as the file wrote them, not 7 for "007" nor "2026-02-01 10:00:00" for its time
        assert results["order"].tolist() == ["007", "010"] and results["bought"].tolist() == ["yes", "no"]
        assert results["prediction (input)"].tolist() == ["2026-02-01T10:00", "2026-02-01T11:30"]
        assert results.attrs[RENAMED_INPUTS] == {"confidence": "confidence (input)", "timestamp": "timestamp (input)",
                                                 "prediction": "prediction (input)"}  # every renamed column, what the page says  # fmt: skip
        assert set(results["prediction"]) <= {"yes", "no"}
        assert results["confidence (input)"].tolist() == [80.0, 20.0] and results["confidence"].between(0.5, 1).all()
        assert results["timestamp (input)"].tolist() == ["am", "noon"] and results["timestamp"].nunique() == 1
        assert results["unseen categories"].tolist() == [[], ["timestamp (input)"]]  # named as the file names it
        assert runtime.serving.unseen_values(results) == {"timestamp (input)": "'noon' ×1"}
        assert list(pd.read_csv(io.StringIO(runtime.serving.results_csv(results))).columns[:4]) == [
            "order", "confidence (input)", "timestamp (input)", "source"]  # fmt: skip
        assert runtime.serving.results_csv(results).splitlines()[1].startswith("007,80.0,am,web,2026-02-01T10:00,yes,")
        stamped = pd.read_csv(io.StringIO(runtime.serving.results_csv(results)))["timestamp"]  # ISO UTC with its Z, as the API
        assert stamped.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z").all()
        assert pd.Timestamp(stamped[0]).tz_convert(None) == results["timestamp"][0]
        runtime.serving.flush()
        log = runtime.insights.recent_predictions(10)
        assert sorted(log["source (input)"]) == ["shop", "web"] and set(log["source"]) == {"batch"}
        assert sorted(log["confidence (input)"]) == [20.0, 80.0] and log["confidence"].between(0.5, 1).all()
        many = pd.DataFrame({"order": [f"b{i}" for i in range(60)], "confidence": np.arange(60.0), "timestamp": "am", "source": "web"})
        runtime.serving.predict_csv(many.to_csv(index=False).encode())
        runtime.serving.flush()
        assert runtime.insights.recent_predictions(60)["confidence (input)"].tolist() == list(np.arange(60.0))  # one time: file order
    finally:
        runtime.close()


# true and false in another case ----------------------------------------------------------------------
def flags(rows: int, seed: int) -> pd.DataFrame:
    """A boolean input and a boolean target, as pandas holds them: Parquet keeps them booleans, a CSV writes True/False."""
    rng = np.random.default_rng(seed)
    flag, x = rng.random(rows) < 0.5, rng.normal(0, 1, rows)
    return pd.DataFrame({"flag": flag, "x": x, "ok": rng.random(rows) < 1 / (1 + np.exp(-(2 * flag - 1 + x)))})


@pytest.fixture(scope="module", params=["parquet", "csv"])
def flagged(request: pytest.FixtureRequest, base: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    path = tmp_path_factory.mktemp("flags") / f"flags.{request.param}"
    table = flags(400, seed=8)
    table.to_parquet(path) if request.param == "parquet" else table.to_csv(path, index=False)
    created = workspaces.create(base, f"flags-{request.param}", path, path.name, workspaces.TableChoice("ok"))
    runtime = Runtime(workspaces.workspace_settings(base, created.folder))
    yield runtime
    runtime.close()


def test_true_and_false_in_any_case_find_the_category_and_class_the_first_file_spelt(flagged: Runtime, tmp_path: Path) -> None:
    """Tour 13: a workspace made from Parquet knows true and false, one made from a pandas CSV True and False; the
    other door's spelling (a CSV's True, a JSON true, a spreadsheet's TRUE) was an unseen category, and a label true
    was not a class of a CSV-made workspace."""
    rt, known = flagged, set(flagged.schema.column("flag").categories)
    assert known in ({"true", "false"}, {"True", "False"})
    spelt = "true" if "true" in known else "True"
    batch = rt.serving.predict_csv(pd.DataFrame({"flag": ["True", "TRUE", "true", " true"], "x": 0.3}).to_csv(index=False).encode())
    assert batch["unseen categories"].tolist() == [[]] * 4 and batch["confidence"].nunique() == 1
    for fast in (True, False):
        client = TestClient(serving_app(rt) if fast else create_app(rt))
        replies = [client.post("/predict", json={"features": {"flag": flag, "x": 0.3}}).json() for flag in (True, "True", "TRUE", "true")]
        assert {r["confidence"] for r in replies} == {batch["confidence"][0]} and all(r["unseen"] == [] for r in replies), replies
    ids = [rt.serving.predict({"flag": False, "x": 0.0}, source="api").prediction_id for _ in range(3)]
    assert (
        rt.feedback.send([{"prediction_id": i, "label": label} for i, label in zip(ids, (True, "TRUE", "false"), strict=True)]).stored == 3
    )
    written = tmp_path / "more.parquet"  # the bulk import, from the other kind of file
    flags(50, seed=9).pipe(lambda t: t.to_csv(written.with_suffix(".csv"), index=False) if spelt == "true" else t.to_parquet(written))
    more = written.with_suffix(".csv") if spelt == "true" else written
    info = rt.data.import_csv(more.read_bytes(), name=more.name, role="library")
    stored = rt.insights.dataset_frame(info.dataset_id)
    assert set(stored["flag"]) == known and set(stored["ok"].map(str)) <= {str(c) for c in rt.schema.classes} and len(stored) == 50


def test_the_bulk_import_spells_true_and_false_as_the_row_doors_do() -> None:
    values = ["True", "TRUE", " false ", "true", "False", "yes", "1", "true\t", "\nFALSE\r", None]
    for spellings in ({"true": "True", "false": "False"}, {"true": "true"}, {}):
        con = duckdb.connect()
        try:
            con.execute("CREATE TABLE t (text VARCHAR, flag BOOLEAN)")
            con.executemany("INSERT INTO t VALUES (?, ?)", [[v, f] for v, f in zip(values, [True, False, None] * 3, strict=False)])
            found = con.execute(f"SELECT {category_sql('text', spellings)}, {category_sql('flag', spellings)} FROM t").fetchall()
        finally:
            con.close()
        for (text, flag), (sql_text, sql_flag) in zip(zip(values, [True, False, None] * 3, strict=False), found, strict=True):
            expected = [None if v is None else known_spelling(category(v), spellings) for v in (text, flag)]
            assert [sql_text, sql_flag] == expected, (text, flag, spellings)


def test_a_column_that_saw_only_true_takes_false_in_any_case_as_one_category() -> None:
    """A first file whose flag was always True: False, false and FALSE were three unseen categories, counted apart
    in the drift test; now each door spells the unseen word as the column spells the one it saw."""
    schema = Schema((Column("flag", "categorical", categories=("True",)), Column("x", "numeric")), target="ok", classes=(0, 1))
    rows = [{"flag": f, "x": 0.0} for f in ("False", "false", "FALSE", " false", "TRUE", "true")]
    checked = checked_rows(rows, schema, max_rows=10, max_abs=1e9)
    assert checked["flag"] == ["False"] * 4 + ["True"] * 2
    con = duckdb.connect()
    try:
        sql = category_sql("v", schema.column("flag").spellings)
        found = con.execute(f"SELECT {sql} FROM (SELECT unnest(?) AS v)", [[r["flag"] for r in rows]]).fetchall()
    finally:
        con.close()
    assert [f for (f,) in found] == checked["flag"]
