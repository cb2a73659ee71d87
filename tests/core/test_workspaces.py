"""Workspaces built from a user's own table, on real DuckDB files and MLflow stores: created from a file with
a first model, served by name through the runtime and the API, checked by their schema at every door."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core import startup, workspaces
from core.api import create_app, serving_app
from core.config import Settings
from core.data.synthetic_table import generate_table
from core.errors import ConflictError, UserInputError
from core.runtime import Runtime
from core.store import Store
from tests.fixtures import make_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROOT = Path(__file__).resolve().parents[2]
RAIN = workspaces.TableChoice("rain")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Settings:
    return make_settings(tmp_path_factory.mktemp("demo") / "data", mlflow_template)


@pytest.fixture(scope="module")
def weather(base: Settings) -> workspaces.Created:
    return workspaces.create(base, "weather", EXAMPLES / "weather.csv", "weather.csv", RAIN)


@pytest.fixture(scope="module")
def weather_runtime(base: Settings, weather: workspaces.Created) -> Iterator[Runtime]:
    rt = Runtime(workspaces.workspace_settings(base, weather.folder))
    yield rt
    rt.close()


def _weather_row(rt: Runtime) -> dict[str, float]:
    row = rt.insights.dataset_frame(1, 1).iloc[0]
    return {name: float(row[name]) for name in rt.schema.names}


def test_a_workspace_from_the_weather_file_has_its_schema_its_data_and_a_champion(weather: workspaces.Created, base: Settings) -> None:
    assert weather.champion == "v1.0.0" and weather.n_rows == 18_159 and weather.metrics["accuracy"] > 0.7
    assert weather.schema.classes == (0, 1) and weather.schema.names[0] == "temperature"
    assert workspaces.list_workspaces(base.workspaces_dir) == ["weather"]
    store = Store(weather.folder / "ia_continu.duckdb", 2)  # an existing workspace keeps its own schema
    try:
        assert store.schema == weather.schema and store.counts()["samples"] == 18_159
    finally:
        store.close()


def test_its_mlflow_model_takes_named_columns(weather_runtime: Runtime) -> None:
    from mlflow.models import Model

    uri = weather_runtime.tracker.client.get_model_version_download_uri(weather_runtime.settings.registered_model_name, "1")
    assert Model.load(urlsplit(uri).path).signature.inputs.input_names() == weather_runtime.schema.names


def test_the_api_serves_the_schema_and_predicts_named_features(weather_runtime: Runtime) -> None:
    client = TestClient(create_app(weather_runtime))
    schema = client.get("/schema").json()
    assert schema["target"] == "rain" and [c["name"] for c in schema["columns"]][:2] == ["temperature", "dew_point"]
    row = _weather_row(weather_runtime)
    reply = client.post("/predict", json={"features": row})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["prediction"] in (0, 1) and set(body["probabilities"]) == {"0", "1"}
    assert body["probability"] == pytest.approx(body["probabilities"]["1"])
    refused = client.post("/predict", json={"features": [1.0, 2.0]})
    assert refused.status_code == 422 and "named values" in refused.text
    unknown = client.post("/predict", json={"features": {**row, "humidity": 3.0}})
    assert unknown.status_code == 422 and "humidity" in unknown.text
    document = client.get("/openapi.json").json()
    features = document["components"]["schemas"]["PredictRequest"]["properties"]["features"]
    assert list(features["properties"])[:2] == ["temperature", "dew_point"] and features["additionalProperties"] is False
    fast = TestClient(serving_app(weather_runtime))  # /predict's fast path, in front of the app
    for body in (b"", b"{}"):  # tour 11: both suggested the list form this workspace refuses
        said = fast.post("/predict", content=body, headers={"content-type": "application/json"}).json()["error"]
        assert '{"features": {"temperature": 1.5, "dew_point": 1.5, "sea_level_pressure": 1.5, "...": "..."}}' in said, said


def test_an_import_maps_columns_by_name_and_refuses_a_file_that_does_not_match(weather_runtime: Runtime) -> None:
    frame = pd.read_csv(EXAMPLES / "weather.csv").tail(300)
    before = weather_runtime.store.counts()["datasets"]
    shuffled = frame[list(reversed(frame.columns))].to_csv(index=False)
    info = weather_runtime.data.import_csv(shuffled.encode(), name="last 300 days", role="library")
    assert info.n_rows == 300
    stored = weather_runtime.insights.dataset_frame(info.dataset_id)
    assert np.allclose(stored["temperature"].to_numpy(), frame["temperature"].to_numpy())
    wrong = frame.drop(columns=["visibility"]).assign(humidity=1.0).to_csv(index=False)
    with pytest.raises(UserInputError) as caught:
        weather_runtime.data.import_csv(wrong.encode(), name="wrong", role="library")
    assert "missing column(s) 'visibility'" in str(caught.value) and "unexpected column(s) 'humidity'" in str(caught.value)
    assert weather_runtime.store.counts()["datasets"] == before + 1  # the refused file stored nothing


def test_importing_the_file_a_workspace_was_created_from_is_named_a_copy(weather_runtime: Runtime, weather: workspaces.Created) -> None:
    """Tour 11: the creation stored no digest of its file, so importing it again was not named a copy (a third import
    was, of the second)."""
    info = weather_runtime.data.import_csv((EXAMPLES / "weather.csv").read_bytes(), name="weather again", role="library")
    assert info.duplicate_of == weather.dataset_id


def test_a_batch_file_is_predicted_by_column_name(weather_runtime: Runtime) -> None:
    frame = pd.read_csv(EXAMPLES / "weather.csv").head(50).drop(columns=["rain"])
    results = weather_runtime.serving.predict_csv(frame[list(reversed(frame.columns))].to_csv(index=False).encode())
    assert len(results) == 50 and set(results["prediction"]) <= {0, 1} and "temperature" in results


def test_the_schema_of_a_workspace_with_data_cannot_change(weather: workspaces.Created, base: Settings) -> None:
    other = weather.schema.with_kinds({"visibility": "ignored"})
    with pytest.raises(UserInputError, match="already has a schema and data"):
        Store(weather.folder / "ia_continu.duckdb", other)
    with pytest.raises(UserInputError, match="a workspace named 'weather' exists already"):
        workspaces.create(base, "weather", EXAMPLES / "weather.csv", "weather.csv", RAIN)


def test_a_bad_file_leaves_no_workspace_behind(base: Settings, tmp_path: Path) -> None:
    one_class = tmp_path / "one.csv"
    one_class.write_text("a,b,y\n1,2,0\n3,4,0\n5,6,0\n")
    with pytest.raises(UserInputError, match="one class only"):
        workspaces.create(base, "broken", one_class, "one.csv", workspaces.TableChoice("y"))
    assert not (base.workspaces_dir / "broken").exists()
    with pytest.raises(UserInputError, match="workspace name is 1 to 64"):
        workspaces.create(base, "../escape", one_class, "one.csv", workspaces.TableChoice("y"))


def test_a_three_class_table_with_categories_and_missing_values_goes_through_the_loop(base: Settings, tmp_path: Path) -> None:
    path = tmp_path / "churn.parquet"
    generate_table(3000, seed=5, n_classes=3).to_parquet(path)
    created = workspaces.create(base, "churn3", path, "churn.parquet", workspaces.TableChoice("outcome"))
    rt = Runtime(workspaces.workspace_settings(base, created.folder))
    try:
        assert rt.schema.classes == ("downgrades", "leaves", "stays") and rt.schema.column("tenure_months").missing
        row = {"monthly_fee": 40.0, "tenure_months": None, "support_calls": 2, "plan": "enterprise", "region": "region_03",
               "channel": "web"}  # fmt: skip
        served = rt.serving.predict(row, source="api")
        assert served.label in rt.schema.classes and len(served.probabilities) == 3
        explained = rt.insights.explain(row)
        assert explained["probability"] == pytest.approx(max(served.probabilities))
        with pytest.raises(UserInputError, match="generator makes the demo's columns"):
            rt.data.generate(100)
        first = rt.loop.run_cycle()  # it reads the prediction served before it: too few rows to test drift on
        assert first.status == "ok" and first.rows_seen == 1 and not first.labelled
        later = generate_table(400, "category_shift", 2.0, seed=6, n_classes=3)
        buffer = io.BytesIO()
        later.to_parquet(buffer)
        rt.data.import_csv(buffer.getvalue(), name="later.parquet", role="incoming")
        record = rt.loop.run_cycle()
        assert record.status == "ok" and record.labelled and record.rows_seen == 400
        drift = rt.insights.drift_results(record.cycle_id)
        plan = drift.set_index("feature").loc["plan"]
        assert plan["test"] == "chi2" and bool(plan["drifted"])
        assert "tenure_months · missing rate" in set(drift["feature"])
        assert {"(predicted class)", "(label)"} <= set(drift["feature"])  # the champion's outputs and the labels, in the family
        unseen = later.head(50).assign(outcome="cancels")
        buffer = io.BytesIO()
        unseen.to_parquet(buffer)
        with pytest.raises(UserInputError, match="'cancels' is not a known class"):
            rt.data.import_csv(buffer.getvalue(), name="bad.parquet", role="incoming")
    finally:
        rt.close()


def test_the_command_refuses_bad_input_with_the_message_and_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "dup.csv"
    bad.write_text("a,a,y\n1,2,0\n3,4,1\n")
    done = subprocess.run([sys.executable, "-m", "core.workspaces", str(bad), "--name", "dup", "--target", "y"], cwd=ROOT,
                          env={"IA_WORKSPACES_DIR": str(tmp_path / "ws"), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 2 and "duplicate column name(s) 'a'" in done.stderr
    assert not (tmp_path / "ws" / "dup").exists()


def test_switching_workspaces_closes_the_one_served_and_points_at_the_other(base: Settings, weather: workspaces.Created) -> None:
    assert startup.workspace_names(base) == ["demo", *workspaces.list_workspaces(base.workspaces_dir)]
    chosen = startup.switch_workspace(base, "weather")
    try:
        assert chosen.workspace == "weather" and chosen.data_dir == weather.folder
        assert chosen.duckdb_path == weather.folder / "ia_continu.duckdb"
        with pytest.raises(UserInputError, match="workspace name"):
            startup.switch_workspace(base, "no/such")
    finally:
        startup._chosen = None


def test_the_api_creates_a_workspace_from_an_upload(base: Settings, tmp_path: Path) -> None:
    rt = Runtime(base)
    try:
        client = TestClient(create_app(rt))
        data = generate_table(600, seed=8).to_csv(index=False).encode()
        preview = client.post("/workspaces/preview", files={"file": ("shop.csv", data)}, data={"target": "outcome"})
        assert preview.status_code == 200, preview.text
        kinds = {c["name"]: c["kind"] for c in preview.json()["schema"]["columns"]}
        assert kinds["plan"] == "categorical" and preview.json()["n_rows"] == 600
        assert not (base.workspaces_dir / "shop").exists()  # a preview stores nothing
        bad = client.post("/workspaces", files={"file": ("shop.csv", data)}, data={"name": "shop", "target": "nope"})
        assert bad.status_code == 422 and "no column named 'nope'" in bad.text
        made = client.post("/workspaces", files={"file": ("shop.csv", data)},
                           data={"name": "shop", "target": "outcome", "kinds": '{"support_calls": "numeric"}'})  # fmt: skip
        assert made.status_code == 201, made.text
        assert "shop" in client.get("/workspaces").json()["workspaces"]
        store = Store(base.workspaces_dir / "shop" / "ia_continu.duckdb", 2)
        try:
            assert store.schema.column("support_calls").kind == "numeric" and store.champion_version() == 1
        finally:
            store.close()
    finally:
        rt.close()
        shutil.rmtree(base.workspaces_dir / "shop", ignore_errors=True)


def test_an_import_names_each_bad_value_as_a_row_check_would_and_stores_nothing(weather_runtime: Runtime) -> None:
    frame = pd.read_csv(EXAMPLES / "weather.csv").head(20).astype(object)
    frame.loc[3, "temperature"] = "warm"
    frame.loc[5, "visibility"] = None
    frame.loc[7, "rain"] = 2
    before = weather_runtime.store.counts()
    with pytest.raises(UserInputError) as caught:
        weather_runtime.data.import_csv(frame.to_csv(index=False).encode(), name="bad.csv", role="library")
    text = str(caught.value)
    assert "column temperature, row 5: 'warm' is not a number (1 such row)" in text
    assert "column visibility: 1 missing value, first at row 7; this column allows none" in text
    assert "column rain, row 9: '2' is not a known class (1 such row); the classes are 0, 1" in text
    assert weather_runtime.store.counts() == before


def test_table_predictions_cut_off_by_an_abrupt_stop_are_replayed_from_the_journal(base: Settings, tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    generate_table(800, seed=13).to_csv(path, index=False)
    created = workspaces.create(base, "journal", path, "shop.csv", workspaces.TableChoice("outcome"))
    child = f"""
import os
from pathlib import Path
from core.config import Settings
from core.runtime import Runtime
from core import workspaces
rt = Runtime(workspaces.workspace_settings(Settings.from_env({{}}, data_dir=Path({str(tmp_path / "unused")!r})), Path({str(created.folder)!r})))
for plan in ("basic", "galaxy", None):
    rt.serving.predict({{"monthly_fee": 40.0, "tenure_months": None, "support_calls": 2, "plan": plan or "pro", "region": "region_02",
                "channel": None if plan is None else "web"}}, source="api")
    print("ack", flush=True)
os._exit(0)  # no flush, no close: what kill -9 leaves behind
"""
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert done.stdout.count("ack") == 3, done.stderr[-2000:]
    rt = Runtime(workspaces.workspace_settings(base, created.folder))
    try:
        assert rt.predictor.replayed == 3
        logged = rt.store.cur.execute("SELECT feature_4, feature_6 FROM predictions ORDER BY ts").fetchall()
        assert logged == [("basic", "web"), ("galaxy", "web"), ("pro", None)]  # plan and channel, as they were sent
    finally:
        rt.close()


def test_an_import_into_a_workspace_with_a_time_column_is_stored_in_time_order(base: Settings, tmp_path: Path) -> None:
    frame = generate_table(400, seed=14).assign(day=pd.date_range("2024-01-01", periods=400, freq="D").astype(str))
    frame.to_csv(tmp_path / "first.csv", index=False)
    created = workspaces.create(base, "dated", tmp_path / "first.csv", "first.csv", workspaces.TableChoice("outcome", time_column="day"))
    rt = Runtime(workspaces.workspace_settings(base, created.folder))
    try:
        later = generate_table(28, seed=15).assign(day=[f"2025-02-{d:02d}" for d in range(28, 0, -1)])  # newest first in the file
        info = rt.data.import_csv(later.to_csv(index=False).encode(), name="later.csv", role="library")
        stored = rt.insights.dataset_frame(info.dataset_id)
        assert stored["monthly_fee"].tolist() == later["monthly_fee"].iloc[::-1].tolist()  # oldest day first
    finally:
        rt.close()


def test_a_time_column_of_numbers_orders_later_imports_as_numbers(base: Settings, tmp_path: Path) -> None:
    """Review of ad1bff7: a later CSV's time column is read as text, and steps 1 to 300 were refused as "not a date or
    time" (re-importing the very first file too), where the first file, read by pandas, had sorted them as numbers."""
    frame = generate_table(300, seed=16).assign(step=range(1, 301))
    frame.to_csv(tmp_path / "steps.csv", index=False)
    created = workspaces.create(base, "steps", tmp_path / "steps.csv", "steps.csv", workspaces.TableChoice("outcome", time_column="step"))
    rt = Runtime(workspaces.workspace_settings(base, created.folder))
    try:
        later = generate_table(40, seed=17).assign(step=[(i * 7) % 40 + 1000 for i in range(40)])  # steps 1000 to 1039, shuffled
        info = rt.data.import_csv(later.to_csv(index=False).encode(), name="later.csv", role="library")
        stored = rt.insights.dataset_frame(info.dataset_id)
        expected = later.sort_values("step", kind="stable")["monthly_fee"].tolist()
        assert stored["monthly_fee"].tolist() == expected and "step" not in stored  # numbers: ordered, no times to show
        again = rt.data.import_csv((tmp_path / "steps.csv").read_bytes(), name="again.csv", role="library")
        assert rt.insights.dataset_frame(again.dataset_id).equals(rt.insights.dataset_frame(1))
    finally:
        rt.close()


def test_a_file_with_columns_named_like_the_import_s_own_is_imported(base: Settings, tmp_path: Path) -> None:
    """Review of ad1bff7: the time-ordered import joined its rows to a table of _row, _position and _time, and a file
    with a column _time (InfluxDB's exports name their time so) failed with an ambiguous reference."""
    days = pd.date_range("2024-01-01", periods=300, freq="h").strftime("%Y-%m-%dT%H:%M:%SZ")
    frame = generate_table(300, seed=18).assign(_time=days, _position=range(300))
    frame.to_csv(tmp_path / "influx.csv", index=False)
    choice = workspaces.TableChoice("outcome", time_column="_time")
    created = workspaces.create(base, "influx", tmp_path / "influx.csv", "influx.csv", choice)
    rt = Runtime(workspaces.workspace_settings(base, created.folder))
    try:
        shuffled = frame.sample(frac=1.0, random_state=3)
        info = rt.data.import_csv(shuffled.to_csv(index=False).encode(), name="shuffled.csv", role="library")
        stored = rt.insights.dataset_frame(info.dataset_id)
        assert stored["_time"].is_monotonic_increasing and stored["_position"].tolist() == list(range(300))
    finally:
        rt.close()


def test_the_boundary_of_a_table_shades_the_champion_s_class_over_two_numeric_columns(weather_runtime: Runtime) -> None:
    view = weather_runtime.insights.boundary(None, "temperature", "dew_point")
    z = np.array(view.regions["z"])
    assert z.shape == (60, 60) and set(np.unique(z)) <= {0, 1} and len(np.unique(z)) == 2  # both classes somewhere in the plane
    model = weather_runtime.registry.load(weather_runtime.models.champion_version)
    reference = view.reference
    point = {c: float(reference[c].mean()) for c in weather_runtime.schema.names}
    point |= {"temperature": view.regions["x"][7], "dew_point": view.regions["y"][41]}
    assert z[41, 7] == int(model.predict(pd.DataFrame([point]))[0])  # row = y, column = x, as the chart reads it
    with pytest.raises(UserInputError, match="x feature"):
        weather_runtime.insights.boundary(None, "rain", "dew_point")


def test_the_same_table_file_imported_twice_is_named_a_duplicate_of_the_first(weather_runtime: Runtime) -> None:
    data = pd.read_csv(EXAMPLES / "weather.csv").iloc[1000:1100].to_csv(index=False).encode()
    first = weather_runtime.data.import_csv(data, name="slice.csv", role="library")
    second = weather_runtime.data.import_csv(data, name="slice again.csv", role="library")
    assert first.duplicate_of is None and second.duplicate_of == first.dataset_id


def test_a_creation_names_the_columns_that_hold_one_value(base: Settings, tmp_path: Path) -> None:
    """Tour 11: constant columns were accepted without a word by the command line."""
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"a": rng.normal(size=300), "flat": 3.5, "tag": "same", "y": rng.choice(["up", "down"], 300)})
    table.to_csv(path := tmp_path / "flat.csv", index=False)
    steps: list[str] = []
    workspaces.create(base, "flat", path, "flat.csv", workspaces.TableChoice("y"), progress=steps.append)
    assert [s for s in steps if s.startswith("Note:")] == [
        "Note: flat, tag hold one value only: kept, watched for drift, but nothing to learn from until it varies"]  # fmt: skip


def test_the_command_s_usage_names_itself_and_its_required_options(capsys: pytest.CaptureFixture[str]) -> None:
    """Tour 13: the usage read "make workspace [-h] [--name NAME] --target TARGET", a name it is not run by and a required
    option shown as optional; --ignore's help read "columns to treat as ignore"."""
    with pytest.raises(SystemExit):
        workspaces.main(["--help"])
    shown = capsys.readouterr().out
    assert shown.startswith("usage: python -m core.workspaces FILE --name NAME --target COLUMN [options]")
    assert "as ignore" not in shown and "columns the model does not read" in " ".join(shown.split())
    with pytest.raises(SystemExit):
        workspaces.main(["x.csv", "--target", "y"])
    assert "--name is required" in capsys.readouterr().err


def test_the_command_says_the_loop_starts_on_its_replay_at_once_and_how_to_choose_first(
    base: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tour 22: opened as told, the loop replayed 600 rows and promoted before a policy could be chosen, unwarned."""
    path = tmp_path / "small.csv"
    generate_table(900, seed=4).to_csv(path, index=False)
    monkeypatch.setenv("IA_DATA_DIR", str(base.data_dir))
    assert workspaces.main([str(path), "--name", "told", "--target", "outcome", "--initial-rows", "600"]) == 0
    said = capsys.readouterr().out
    assert "its loop starts at once and replays the rows after the first 600, a batch per cycle, under policy challenge" in said
    assert "IA_SCHEDULER_AUTOSTART=false" in said
    assert workspaces.main([str(path), "--name", "whole", "--target", "outcome"]) == 0  # nothing to replay: nothing to say
    assert "starts at once" not in capsys.readouterr().out


def test_demo_names_the_data_folder_itself_at_every_door(base: Settings, tmp_path: Path) -> None:
    """Tour 20: a workspace named demo could be made; the sidebar then listed demo twice (both opened the data folder),
    and IA_WORKSPACE=demo, the command its summary gave, opened the new folder instead."""
    table = pd.DataFrame({"a": np.arange(200.0), "y": ["up", "down"] * 100})
    table.to_csv(path := tmp_path / "t.csv", index=False)
    with pytest.raises(ConflictError, match="'demo' is the demo's name") as refused:
        workspaces.create(base, "demo", path, "t.csv", workspaces.TableChoice("y"))
    assert refused.value.field == "name" and not (base.workspaces_dir / "demo").exists()
    (base.workspaces_dir / "demo").mkdir(parents=True)  # made before the rule: listed once, as the demo
    (base.workspaces_dir / "demo" / "ia_continu.duckdb").touch()
    try:
        assert "demo" not in workspaces.list_workspaces(base.workspaces_dir)
        assert startup.workspace_names(base).count("demo") == 1
    finally:
        shutil.rmtree(base.workspaces_dir / "demo")
    chosen = Settings.from_env({"IA_WORKSPACE": "demo", "IA_DATA_DIR": str(base.data_dir)})
    assert chosen.workspace_name == "demo" and chosen.data_dir == base.data_dir
