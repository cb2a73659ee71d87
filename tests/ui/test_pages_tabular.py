"""Every page on a workspace built from a mixed table with three classes, through Streamlit's AppTest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st

from core import workspaces
from core.config import Settings
from core.data.synthetic_table import generate_table
from core.domain.features import TARGET
from core.runtime import close_runtime, get_runtime
from tests.fixtures import make_settings
from tests.ui.serving import serving
from tests.ui.test_dashboard_views import charts
from tests.ui.test_pages import button, open_page
from ui.state import percent

PAGES = ("overview", "data", "models", "predict", "drift", "operations")


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Path:
    base = make_settings(tmp_path_factory.mktemp("demo") / "data", mlflow_template)
    path = tmp_path_factory.mktemp("files") / "churn.csv"
    generate_table(1500, seed=11, n_classes=3).to_csv(path, index=False)
    return workspaces.create(base, "churn", path, "churn.csv", workspaces.TableChoice("outcome")).folder


@pytest.fixture
def served(churn: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    yield from serving(monkeypatch, churn.parent, "churn")


def test_every_page_renders_on_a_three_class_table(served: Settings) -> None:
    rt = get_runtime(served)
    later = generate_table(300, "new_category", 1.0, seed=12, n_classes=3).to_csv(index=False).encode()
    rt.data.import_csv(later, name="later.csv", role="incoming")
    rt.loop.run_cycle()
    for page in PAGES:
        at = open_page(page)
        assert not at.exception and not at.error, (page, [e.value for e in at.exception], [e.value for e in at.error])


def test_every_table_heads_a_stored_column_and_writes_a_count_as_a_person_does(served: Settings) -> None:
    """created_at, rows_seen, http_status are the store's names: a header reads "created (UTC)", "rows seen",
    "HTTP status". The user's own columns (monthly_fee) keep the names their file gave them."""
    rt = get_runtime(served)
    rt.loop.run_cycle()
    rt.health.send_test_message()  # an alert row: no webhook here, so it is stored as not sent
    rt.serving.predict(rt.insights.typical_row(), source="api")
    rt.serving.flush()
    schema = rt.schema
    users = {*schema.names, schema.target}
    seen, formats = [], {}
    for page in PAGES:
        for frame in open_page(page).dataframe:
            config = json.loads(frame.proto.columns or "{}")
            for column in frame.value.columns:
                given = config.get(f"col:name:{column}") or config.get(column) or {}
                label = given.get("label") or column
                seen.append((page, label))
                formats[(page, label)] = given.get("type_config", {}).get("format")
                assert column in users or "_" not in label, (page, column, label)
    assert ("operations", "rows seen") in seen and ("operations", "HTTP status") in seen, seen
    runs = next(f.value for f in open_page("operations").dataframe if "rows_seen" in f.value.columns)
    assert "no data" in set(runs["status"]) <= {"ok", "no data", "failed"}, set(runs["status"])  # in words, not no_data
    # a count is written 1,234 in every browser (tests/e2e/test_e2e_loop_truth.py), headed by the page or by default
    assert formats[("operations", "rows seen")] == formats[("data", "rows")] == formats[("models", "gate rows")] == "%,d", formats
    assert ("data", "monthly_fee") in seen and ("predict", "monthly_fee") in seen  # the user's, as written


def test_the_data_page_shows_the_schema_and_refuses_the_generator(served: Settings) -> None:
    at = open_page("data")
    schema = at.table[0].value
    assert schema.loc["plan", "kind"] == "categorical" and schema.loc["tenure_months", "missing allowed"] == "yes"
    assert any("takes files of its own columns" in i.value for i in at.info)
    first_rows = next(d for d in at.dataframe if "channel" in d.value.columns)
    assert first_rows.value["channel"].isna().any() and first_rows.proto.placeholder == "—"  # a dash, not "None"


def test_the_predict_form_is_built_from_the_schema_and_serves_a_class_as_written(served: Settings) -> None:
    at = open_page("predict")
    plan = at.selectbox(key="in_churn_plan")
    assert plan.label == "plan" and plan.options[-1] == "other…" and "basic" in plan.options
    channel = at.selectbox(key="in_churn_channel")
    assert channel.options[-1] == "(missing)"  # 5 % of channels are missing in the first file: allowed
    channel.set_value("(missing)")
    button(at, "Predict").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(f"Class **{c}**" in s.value for s in at.success for c in ("stays", "leaves", "downgrades"))
    log = at.dataframe[-1].value  # the prediction log: the user's column names, the class as written
    assert "plan" in log.columns and "feature_1" not in log.columns and set(log["prediction"]) <= {"stays", "leaves", "downgrades"}


def test_the_models_page_shows_a_three_by_three_matrix_and_no_threshold(served: Settings) -> None:
    at = open_page("models")
    assert not at.exception
    assert any("there is no single threshold" in c.value for c in at.caption)
    how = next(c.value for c in at.caption if "Intervals are 95 %" in c.value)
    assert "for the macro precision, recall and F1" in how and "Wilson for proportions" not in how  # they are not proportions


def test_the_generated_mixed_table_previews_its_schema_before_anything_is_stored(served: Settings) -> None:
    at = open_page("data")
    button(at, "Use a generated mixed table").click().run()
    at.selectbox(key="own_target").set_value("outcome").run()  # no column is the target until the user names it
    assert not at.exception and not at.error
    assert any("Inferred schema" in m.value and "5,000 rows" in m.value for m in at.markdown)
    assert any("3 classes: downgrades" in m.value for m in at.markdown)
    assert workspaces.list_workspaces(served.workspaces_dir) == ["churn"]  # a preview creates nothing


def test_the_calibration_chart_of_three_classes_is_the_top_label_one_and_names_no_class_1(served: Settings) -> None:
    import json

    at = open_page("models")
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    (calibration,) = [s for s in specs if "alibration" in s["layout"]["title"]["text"]]
    axes = calibration["layout"]["xaxis"]["title"]["text"] + " · " + calibration["layout"]["yaxis"]["title"]["text"]
    assert "class 1" not in axes and "top label" in calibration["layout"]["title"]["text"].replace("<br>", " ")
    assert "confidence" in axes and "right" in axes


def test_a_workspace_of_ones_own_file_says_nothing_of_the_generator_and_offers_no_generator_form(served: Settings) -> None:
    overview = open_page("overview")
    first = overview.caption[0].value
    assert "your own file" in first and "seeded generator" not in first
    data = open_page("data")
    assert not any(n.label == "Samples" for n in data.number_input) and not any(
        b.label == "Generate" for b in data.get("form_submit_button")
    )
    assert not any("seeded generator" in c.value for c in data.caption)


def test_the_overview_counts_a_replayed_file_so_its_rows_can_be_reconciled(
    tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,500 rows: v1.0.0 on the first 1,000, the other 500 kept in the library and replayed as the stream. The loop's
    copies and their library source are both stored: the counts say which is which, so they add up to the file."""
    base = make_settings(tmp_path / "demo", mlflow_template)
    path = tmp_path / "churn.csv"
    generate_table(1500, seed=11, n_classes=3).to_csv(path, index=False)
    folder = workspaces.create(base, "replayed", path, "churn.csv", workspaces.TableChoice("outcome", initial_rows=1000)).folder
    for name, value in (("IA_WORKSPACES_DIR", str(folder.parent)), ("IA_WORKSPACE", "replayed"), ("IA_SCHEDULER_AUTOSTART", "false"),
                        ("IA_API_ENABLED", "false")):  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("IA_DATA_DIR", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    try:
        rt = get_runtime(Settings.from_env())
        rt.loop.run_cycle()
        batch = rt.loop.live_settings().stream_batch_size
        at = open_page("overview")
        (counts,) = [c.value for c in at.caption if c.value.startswith("Server up")]
        assert f"received by the loop: 2 datasets, {1000 + batch:,} samples ({batch:,} of them copies of library rows, replayed)" in counts
        assert "in the library: 1 dataset, 500 samples" in counts, counts
        assert "· 0 predictions logged (served by any door" in counts  # not "0 served"
        roles = next(df.value for df in open_page("data").dataframe if "role" in df.value.columns).set_index("dataset_id")["role"]
        assert roles[rt.loop.stream_info()["source"]] == "library, being replayed" and "sent to the loop" in set(roles)
    finally:
        st.cache_resource.clear()
        close_runtime()


def test_a_model_no_better_than_always_the_most_frequent_class_is_said_so(
    tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 % positives and inputs that say nothing: 96 % holdout accuracy is a model that never says yes."""
    base = make_settings(tmp_path / "demo", mlflow_template)
    rng = np.random.default_rng(4)
    path = tmp_path / "rare.csv"
    pd.DataFrame({"a": rng.normal(size=1500), "b": rng.normal(size=1500),
                  "event": np.where(rng.random(1500) < 0.04, "yes", "no")}).to_csv(path, index=False)  # fmt: skip
    folder = workspaces.create(base, "rare", path, "rare.csv", workspaces.TableChoice("event")).folder
    served = serving(monkeypatch, folder.parent, "rare")
    next(served)
    try:
        at = open_page("overview")
        holdout = next(m for m in at.metric if m.label == "Holdout accuracy")
        share = get_runtime().insights.overview().majority
        assert share is not None and share[0] == "no" and holdout.value == percent(share[1]), (holdout.value, share)
        assert holdout.proto.delta == f"always class no: {percent(share[1])}", holdout.proto.delta
        assert "Always predicting class no would score" in holdout.proto.help
    finally:
        next(served, None)  # its clean-up: caches cleared, the runtime closed


def test_the_predict_form_starts_at_the_reference_s_median_and_most_frequent_category(served: Settings) -> None:
    at = open_page("predict")
    reference = get_runtime().insights.reference_sample()[1]
    fee = next(n for n in at.number_input if n.label == "monthly_fee")
    assert fee.value == round(reference["monthly_fee"].median(), 2)  # a customer's fee, not 0
    assert at.selectbox(key="in_churn_plan").value == reference["plan"].mode()[0] == "basic"


def test_the_drift_page_names_category_and_missing_value_tests_only_where_the_table_has_such_columns(
    tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import pandas as pd

    base = make_settings(tmp_path / "demo", mlflow_template)
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"pressure": rng.normal(1013, 8, 600), "humidity": rng.normal(60, 12, 600)})
    frame["rain"] = np.where(frame["humidity"] + rng.normal(0, 8, 600) > 62, "yes", "no")
    path = tmp_path / "weather.csv"
    frame.to_csv(path, index=False)
    folder = workspaces.create(base, "weather", path, "weather.csv", workspaces.TableChoice("rain")).folder
    for name, value in (("IA_WORKSPACES_DIR", str(folder.parent)), ("IA_WORKSPACE", "weather"), ("IA_SCHEDULER_AUTOSTART", "false"),
                        ("IA_API_ENABLED", "false")):  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("IA_DATA_DIR", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    try:
        at = open_page("drift")
        assert not any("category column" in c.value or "missing-value rate" in c.value for c in at.caption)
    finally:
        st.cache_resource.clear()
        close_runtime()


def test_the_drift_page_names_both_extra_tests_in_a_table_with_categories_and_missing_values(served: Settings) -> None:
    at = open_page("drift")
    assert any("category column" in c.value and "missing-value rate" in c.value for c in at.caption)


def test_the_estimate_stays_with_its_cycle_when_the_newest_cycle_read_no_rows(served: Settings) -> None:
    rt = get_runtime(served)
    later = generate_table(300, seed=13, n_classes=3).to_csv(index=False).encode()
    rt.data.import_csv(later, name="later.csv", role="incoming")
    read, idle = rt.loop.run_cycle(), rt.loop.run_cycle()
    assert read.status == "ok" and read.estimated_accuracy is not None and idle.status == "no_data"
    at = open_page()
    tile = next(m for m in at.metric if m.label == "Estimated accuracy")
    assert tile.value == percent(read.estimated_accuracy) != "—"
    assert tile.proto.delta.startswith("1 cycle ago · "), tile.proto.delta  # as the realised tile says it (tour 19)
    assert f"Cycle {read.cycle_id} at" in tile.proto.help


def test_the_operations_page_says_the_simulator_sends_a_table_s_workspace_nothing(served: Settings) -> None:
    get_runtime(served).loop.set_controls(stream_enabled=True)
    at = open_page("operations")
    warnings = [w.value for w in at.warning]
    assert any("The stream sends the loop nothing: the simulator draws only the demo's columns" in w for w in warnings), warnings
    assert not any("Active: the simulator" in c.value for c in at.caption)
    scenario, strength = at.selectbox(key="stream_scenario"), at.slider(key="stream_strength")
    assert scenario.disabled and strength.disabled and "cannot feed this workspace's table" in scenario.help  # tour 21


def test_the_why_chart_of_three_classes_speaks_of_the_class_score_and_shows_the_headline_s_probability(served: Settings) -> None:
    at = open_page("predict")
    button(at, "Predict").click().run()
    headline = next(s.value for s in at.success if s.value.startswith("Class **"))
    why = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Why: P(class "))
    title = why["layout"]["title"]["text"]
    shown = title.split(" = ")[1].split("<br>")[0]
    assert f"with {shown} confidence" in headline, (title, headline)  # the same figure, to the same decimals
    assert (
        "class score (logit)" in title
        and "log-odds" not in title
        and why["layout"]["xaxis"]["title"]["text"] == "contribution to the score"
    )
    assert any("sum to the served class's score (logit)" in c.value for c in at.caption)


def test_the_registry_says_how_many_rows_each_version_trained_on_and_held_out(served: Settings) -> None:
    at = open_page("models")
    registry = at.dataframe[0].value
    stored = get_runtime().store.model(1)
    first = registry[registry["label"] == "v1.0.0"].iloc[0]
    assert "rows" not in registry.columns  # a sum of the two, which the evaluation below never shows
    assert (first["n_train"], first["n_holdout"]) == (stored["n_train"], stored["n_holdout"]) and stored["n_holdout"] > 0


def test_a_replay_set_to_start_over_warns_that_its_rows_come_again(served: Settings) -> None:
    rt = get_runtime(served)
    later = generate_table(400, seed=13, n_classes=3).to_csv(index=False).encode()
    rt.data.import_csv(later, name="later.csv", role="library")
    library = rt.insights.datasets().query("role == 'library'")["dataset_id"].tolist()
    rt.loop.update_stream(source=int(library[-1]), at_end="stop")
    assert not any("sends the same rows again" in c.value for c in open_page("operations").caption)
    rt.loop.update_stream(at_end="restart")
    assert any("sends the same rows again" in c.value for c in open_page("operations").caption)


def test_each_number_is_shown_as_its_column_writes_it_and_sends_what_it_shows(served: Settings) -> None:
    """A fee as 33.57 and a tenure as 27.5, not 33.5700 (a count's whole numbers: tests/services/test_written_decimals.py);
    the starting median is written so too, since the field must send what it shows."""
    at = open_page("predict")
    shown = {n.label: (n.proto.format, n.step, n.value) for n in at.number_input}
    fee, tenure = shown["monthly_fee"], shown["tenure_months"]
    assert (fee[0], fee[1], tenure[0], tenure[1]) == ("%.2f", 0.01, "%.1f", 0.1)
    assert fee[2] == round(fee[2], 2) and tenure[2] == round(tenure[2], 1)
    next(n for n in at.number_input if n.label == "monthly_fee").set_value(33.567)  # shown 33.57 by the browser
    button(at, "Predict").click().run()
    assert at.dataframe[-1].value.iloc[0]["monthly_fee"] == 33.57  # the prediction log, newest first: sent as shown


def test_a_batch_with_a_category_never_seen_says_which_values_and_the_known_ones(served: Settings) -> None:
    rt = get_runtime(served)
    row = rt.insights.typical_row()
    file = pd.DataFrame([row, {**row, "plan": "Gold"}, {**row, "plan": "Gold"}]).to_csv(index=False).encode()
    at = open_page("predict")
    at.get("file_uploader")[0].set_value(("mine.csv", file, "text/csv"))
    at.run()
    button(at, "Predict the batch").click().run()
    (warned,) = [w.value for w in at.warning if w.value.startswith("plan:")]
    assert "'Gold' ×2 never seen in training" in warned and "basic" in warned, warned
    assert [list(v) for v in at.dataframe[0].value["unseen categories"]] == [[], ["plan"], ["plan"]]


def test_a_number_that_may_be_missing_starts_at_its_median_and_can_be_emptied_to_send_it_missing(served: Settings) -> None:
    at = open_page("predict")
    tenure = next(n for n in at.number_input if n.label == "tenure_months")
    assert tenure.value == round(get_runtime().insights.reference_sample()[1]["tenure_months"].median(), 1)
    assert not tenure.proto.HasField("default")  # no default to fall back to: the browser lets a user empty it
    tenure.set_value(None)
    button(at, "Predict").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    newest = at.dataframe[-1].value.iloc[0]  # the prediction log, newest first
    assert pd.isna(newest["tenure_months"]) and not pd.isna(newest["monthly_fee"]), newest


def test_the_drift_page_draws_the_labels_class_shares_it_tested(served: Settings) -> None:
    """A labelled batch is tested for its labels' shares ("(label)"): the page draws them, by class name, beside the
    columns, so a class-share shift has a picture too."""
    rt = get_runtime(served)
    rt.loop.set_controls(drift_window_batches=1)  # this batch alone: earlier tests' predictions came without labels
    rt.loop.run_cycle()  # and those predictions are read here, not with the labelled batch
    later = generate_table(300, seed=14, n_classes=3).to_csv(index=False).encode()
    rt.data.import_csv(later, name="later.csv", role="incoming")
    record = rt.loop.run_cycle()
    assert "(label)" in set(rt.insights.drift_results(record.cycle_id)["feature"])
    at = open_page("drift")
    assert not at.exception and not at.error
    drawn = [c for c in charts(at) if c["layout"].get("title", {}).get("text", "").startswith("(label)<br>")]
    assert len(drawn) == 1
    assert {x for trace in drawn[0]["data"] for x in trace["x"]} <= {str(c) for c in rt.schema.classes}
    assert [trace["name"] for trace in drawn[0]["data"]][1] == f"Cycle {record.cycle_id} batch"
    (predicted,) = [c for c in charts(at) if c["layout"].get("title", {}).get("text", "").startswith("(predicted class)<br>")]
    _on_reference, shown = rt.insights.predicted_classes(record.cycle_id)  # the champion's classes: tested, then drawn
    shares = shown.rows[TARGET].map(lambda i: str(rt.schema.classes[i])).value_counts(normalize=True)
    assert dict(zip(predicted["data"][1]["x"], predicted["data"][1]["y"], strict=True)) == pytest.approx(shares.reindex(
        [str(c) for c in rt.schema.classes], fill_value=0.0).to_dict())  # fmt: skip
    assert not [c.value for c in at.caption if "no chart" in c.value]
    family = next(c.value for c in at.caption if c.value.startswith("In this table, the same family also tests"))
    assert "the champion's predicted classes and, where labels came with the batch, the labels' classes" in family


def test_a_table_s_time_column_is_shown_first_and_headed_as_utc(
    tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store keeps a time column in UTC with no zone written: the First rows headed it `day` alone, where every
    table of ours says "(UTC)", so 09:00 read as the reader's own clock (left by last session's read-through)."""
    base = make_settings(tmp_path / "data", mlflow_template)
    path = tmp_path / "dated.csv"
    generate_table(300, seed=18).assign(day=pd.date_range("2024-01-01 09:00", periods=300, freq="h").astype(str)).to_csv(path, index=False)
    created = workspaces.create(base, "dated", path, "dated.csv", workspaces.TableChoice("outcome", time_column="day"))
    served = serving(monkeypatch, created.folder.parent, "dated")
    next(served)
    try:
        first = next(df for df in open_page("data").dataframe if "monthly_fee" in df.value.columns)
        assert first.value.columns[0] == "day" and first.value["day"].iloc[0] == pd.Timestamp("2024-01-01 09:00")
        headers = {name: c.get("label") for name, c in json.loads(first.proto.columns).items()}
        assert headers["day"] == "day (UTC)" and headers.get("monthly_fee") in (None, "monthly_fee")  # the others as written
    finally:
        next(served, None)
