"""The dashboard's "show why" views and the fixes of issue 10, through AppTest on a real workspace.
Each stale-value test reads the value in the run that made the change."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import workspaces
from core.data.synthetic_stream import Scenario, generate
from core.rules.verdicts import REALISED
from core.runtime import Runtime, get_runtime
from tests.core.test_workspace_switching import held_by_another_process, penguins
from tests.ui.test_pages import APP, button, open_page, workspace  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.usefixtures("workspace")  # a fresh app workspace for every test here
CSV = b"feature_1,feature_2,target\n1,2,1\n-1,-2,0\n0.5,1,1\n"


def charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def titles(at: AppTest) -> list[str]:
    return [c["layout"].get("title", {}).get("text", "").replace("<br>", " ") for c in charts(at)]


def drifted_workspace(cycles: int = 4) -> None:
    """Concept drift until the loop promotes a challenger: cycles with drift rows, gate events and alerts."""
    rt = get_runtime()
    rt.loop.set_controls(retrain_cooldown_cycles=0, drift_persistence=1, stream_batch_size=1000)
    rt.loop.set_stream_scenario("concept_drift", 1.0)
    for _ in range(cycles):
        rt.loop.run_cycle()
    assert rt.registry.champion_version != 1, "concept drift must have promoted a challenger"


def test_models_page_shows_the_stored_evaluation_and_compares_two_versions() -> None:
    rt = get_runtime()
    rt.data.generate(1500, "concept_drift", 1.0, seed=4, role="incoming")
    rt.models.train(window_rows=1500)
    at = open_page("models")
    at.selectbox(key="eval_version").set_value(2).run()
    at.selectbox(key="eval_compare").set_value(1).run()
    assert not at.exception and not at.error
    assert at.radio(key="eval_basis").value == "loop"  # a second version switches to one shared set
    shown = titles(at)
    assert "v1.1.0 · 1,500 rows" in shown and "v1.0.0 · 1,500 rows" in shown  # the same rows under both
    assert any("the same 1,500 rows: the loop's newest 1,500 incoming rows" in c.value for c in at.caption)
    # a flattering figure says so; the window's count holds its holdout too, so it is not called "trained on" (tour 13)
    assert any("v1.1.0's training window holds 1,500 of them (fitted on, or held out to score it)" in c.value for c in at.caption)
    for title in ("ROC curve", "Precision-recall curve", "Calibration (reliability)", "Coefficients (per sd"):
        assert any(t.startswith(title) for t in shown), title
    roc = next(c for c in charts(at) if c["layout"]["title"]["text"] == "ROC curve")
    assert [t["name"].split(" ·")[0] for t in roc["data"][1:]] == ["v1.1.0", "v1.0.0"]
    metrics = next(df.value for df in at.dataframe if "95 % interval" in df.value.columns)
    accuracy = metrics.set_index("metric").loc["accuracy"]
    assert accuracy["rows"] == 1500 and accuracy["95 % interval"].count("–") == 1
    at.radio(key="eval_basis").set_value("own").run()  # each on its own holdout: labelled as such
    shown = titles(at)
    assert (
        f"v1.1.0 · {rt.store.evaluation(2)['n_holdout']:,} rows" in shown
        and f"v1.0.0 · {rt.store.evaluation(1)['n_holdout']:,} rows" in shown
    )
    assert any("own holdout" in m.value for m in at.markdown)


def test_models_page_compares_on_a_dataset_the_user_picks_and_moves_the_threshold() -> None:
    rt = get_runtime()
    picked = rt.data.generate(800, "covariate_shift", 1.0, seed=7)
    rt.data.generate(1500, "concept_drift", 1.0, seed=4, role="incoming")
    rt.models.train(window_rows=1500)
    at = open_page("models")
    at.selectbox(key="eval_compare").set_value(1).run()
    at.radio(key="eval_basis").set_value("dataset").run()
    at.selectbox(key="eval_dataset").set_value(picked.dataset_id).run()
    assert not at.exception and not at.error
    assert {"v1.1.0 · 800 rows", "v1.0.0 · 800 rows"} <= set(titles(at))
    assert any(f"dataset {picked.dataset_id} (800 rows)" in c.value and "No version trained on any of them" in c.value for c in at.caption)
    strict = {m.label: m.value for m in at.select_slider(key="eval_threshold").set_value(0.9).run().metric}
    loose = {m.label: m.value for m in at.select_slider(key="eval_threshold").set_value(0.1).run().metric}
    as_float = lambda text: float(text.rstrip(" %"))  # noqa: E731
    assert as_float(strict["Recall"]) < as_float(loose["Recall"])


def test_gate_table_and_registry_show_version_labels() -> None:
    rt = get_runtime()
    rt.data.generate(1500, "concept_drift", 1.0, seed=4, role="incoming")
    rt.models.train(window_rows=1500)
    at = open_page("models")
    events = next(df.value for df in at.dataframe if "champion_score" in df.value.columns)
    assert set(events["version"]) <= {"v1.0.0", "v1.1.0"} and "None" not in events.astype(str).to_numpy()
    assert "v1.0.0" in set(events["previous_champion"])


def test_mlflow_run_links_when_a_ui_address_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IA_MLFLOW_UI_URL", "http://127.0.0.1:5999/")
    at = open_page("models")
    registry = at.dataframe[0].value
    run_id = get_runtime().store.model(1)["run_id"]
    experiment = get_runtime().tracker.experiment_id
    assert registry["mlflow_run"].tolist() == [f"http://127.0.0.1:5999/#/experiments/{experiment}/runs/{run_id}"]


def test_why_this_prediction_shows_contributions_and_the_point() -> None:
    at = open_page("predict")
    at.number_input[0].set_value(2.0)
    at.number_input[1].set_value(-1.0)
    button(at, "Predict").click().run()
    assert not at.exception and not at.error
    why = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Why: P(class 1)"))
    explained = get_runtime().insights.explain([2.0, -1.0])
    bars = why["data"][0]
    assert bars["y"] == ["feature_1", "feature_2", "intercept"]
    assert bars["x"] == pytest.approx([*explained["contributions"], explained["intercept"]])
    boundary = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Decision boundary"))
    star = next(t for t in boundary["data"] if t.get("name") == "this prediction")
    assert star["x"] == [2.0] and star["y"] == [-1.0]
    assert any(t.get("name") == "champion v1.0.0" for t in boundary["data"])


def test_predict_log_shows_version_labels_and_latency_without_batch_rows() -> None:
    rt = get_runtime()
    rt.serving.predict_batch([[0.0, 0.0]] * 40)
    rt.serving.predict([1.0, 1.0], source="ui")
    rt.predictor.flush()
    at = open_page("predict")
    metrics = {m.label: m for m in at.metric}
    assert metrics["Predictions logged"].value == "41"
    assert float(metrics["Latency p50"].value.split()[0]) > 0.0
    log = at.dataframe[-1].value
    assert set(log["model_version"]) == {"v1.0.0"}


def test_drift_page_drills_into_any_cycle_and_exports_it() -> None:
    drifted_workspace()
    rt = get_runtime()
    promoted = next(c for c in rt.store.cycles(10).to_dict("records") if c["promoted"])
    at = open_page("drift")
    at.selectbox(key="drill_cycle").set_value(promoted["cycle_id"]).run()
    assert not at.exception and not at.error
    assert any(promoted["verdict"] == w.value for w in at.warning)  # a signal's verdict is a warning, not "No signal"'s info
    quiet = next(c for c in rt.store.cycles(10).to_dict("records") if c["signals"] == "[]" and c["status"] == "ok")
    at.selectbox(key="drill_cycle").set_value(quiet["cycle_id"]).run()
    assert any(quiet["verdict"] == i.value for i in at.info) and not any(quiet["verdict"] == w.value for w in at.warning)
    at.selectbox(key="drill_cycle").set_value(promoted["cycle_id"]).run()
    gate = next(df.value for df in at.dataframe if "champion_score" in df.value.columns)
    assert gate["version"].tolist()[0] == f"v1.{promoted['new_version'] - 1}.0"
    alerts = next(df.value for df in at.dataframe if "delivery" in df.value.columns)
    assert "promoted" in set(alerts["kind"])
    tests = next(df.value for df in at.dataframe if "effect" in df.value.columns)
    assert tests["feature"].tolist() == ["feature_1", "feature_2"]
    assert sum(t.startswith("feature_") and f"cycle {promoted['cycle_id']} batch" in t for t in titles(at)) == 2
    assert any(b.label == "Download this report (HTML)" for b in at.get("download_button"))


def test_the_replay_follows_the_chosen_cycle_and_the_url_names_it() -> None:
    drifted_workspace()
    rt = get_runtime()
    first = min(rt.store.cycle_ids())
    at = open_page("drift")
    at.selectbox(key="drill_cycle").set_value(first).run()
    assert at.select_slider(key="boundary_cycle").value == first  # not left at the newest cycle
    assert at.query_params["cycle"] in (str(first), [str(first)])
    link = AppTest.from_file(APP, default_timeout=90)
    link.query_params["cycle"] = str(first + 1)  # a link to another cycle opens that cycle
    link.run()
    link.switch_page("app_pages/drift.py").run()
    assert link.selectbox(key="drill_cycle").value == first + 1 and link.select_slider(key="boundary_cycle").value == first + 1


def test_a_view_chosen_in_one_workspace_is_not_carried_into_another(workspace: Path) -> None:  # noqa: F811
    """An interval typed on Operations, then cycle 1 picked on the Drift page (the URL says ?cycle=1), then, with the
    Drift page open, another workspace chosen in the sidebar: the page opens on that workspace's own newest tested
    cycle and the URL names it, and Operations shows its own scheduler's interval, not the one typed for the one left."""
    drifted_workspace(3)
    table = workspace.parent / "penguins.csv"
    penguins(900, seed=3).to_csv(table, index=False)
    demo = get_runtime().settings
    workspaces.create(demo, "penguins", table, "penguins.csv", workspaces.TableChoice("species", initial_rows=300))
    other = Runtime(replace(workspaces.served_settings(demo, "penguins"), scheduler_autostart=False))
    for _ in range(3):
        other.loop.run_cycle()
    newest = int(other.insights.drift_results()["cycle_id"].iloc[0])
    other.close()
    at = open_page("operations")
    at.number_input(key="interval").set_value(7.0).run()
    assert get_runtime().loop.worker_status().interval == 7.0
    at.switch_page("app_pages/drift.py").run()
    at.selectbox(key="drill_cycle").set_value(1).run()
    assert at.query_params["cycle"] in ("1", ["1"]) and newest != 1
    at.selectbox(key="workspace_demo").set_value("penguins").run()
    assert get_runtime().settings.workspace == "penguins" and not at.exception
    assert at.selectbox(key="drill_cycle").value == newest
    assert at.query_params["cycle"] in (str(newest), [str(newest)])
    at.switch_page("app_pages/operations.py").run()
    assert at.number_input(key="interval").value == get_runtime().loop.worker_status().interval != 7.0


def test_a_workspace_another_app_holds_is_refused_in_the_sidebar_and_the_one_served_stays(workspace: Path) -> None:  # noqa: F811
    """Tour 13: choosing a workspace a second app had open closed this one (its API and loop with it), then showed a
    page with only the error and no Workspace select, so there was no way back but a restart."""
    table = workspace.parent / "penguins.csv"
    penguins(400, seed=4).to_csv(table, index=False)
    at = open_page("models")
    workspaces.create(get_runtime().settings, "penguins", table, "penguins.csv", workspaces.TableChoice("species"))
    served = get_runtime()
    holder = held_by_another_process(workspace / "workspaces" / "penguins" / "ia_continu.duckdb")
    try:
        at.run()
        at.selectbox(key="workspace_demo").set_value("penguins").run()
        assert not at.exception and get_runtime() is served and not served.closed
        assert at.selectbox(key="workspace_demo").value == "demo"  # the select says what is served
        refusals = [e.value for e in at.sidebar.error]
        assert len(refusals) == 1 and f"in use by another process (PID {holder.pid})" in refusals[0], refusals
        assert at.metric and not at.main.error  # the page goes on showing the workspace served
    finally:
        holder.kill()
        holder.wait()
    at.selectbox(key="workspace_demo").set_value("penguins").run()  # let go: the same choice now switches
    assert get_runtime().settings.workspace == "penguins" and served.closed and not at.exception


def _predictions_in(folder: Path) -> int:
    """The predictions a closed workspace's file holds, read without opening it as the app does."""
    with duckdb.connect(str(folder / "ia_continu.duckdb"), read_only=True) as con:
        return con.execute("SELECT count(*) FROM predictions").fetchone()[0]


def test_a_tab_drawn_before_another_tab_switched_does_nothing_to_either_workspace(workspace: Path) -> None:  # noqa: F811
    """Tour 20: with Predict open on one workspace, another tab switched to a second; Predict in the first tab was then
    answered by the closed workspace's model, logged into its journal (and labelled there later), and a stale tab's
    Train now trained the workspace switched to. Now each tab is redrawn for the workspace served, saying why, and
    neither workspace gains a prediction or a version."""
    table = workspace.parent / "penguins.csv"
    penguins(400, seed=5).to_csv(table, index=False)
    demo = get_runtime()
    workspaces.create(demo.settings, "penguins", table, "penguins.csv", workspaces.TableChoice("species"))
    predicting, training, switching = open_page("predict"), open_page("models"), open_page()  # three tabs on the demo
    held = demo.store.counts()
    switching.selectbox(key="workspace_demo").set_value("penguins").run()
    served = get_runtime()
    assert served.settings.workspace == "penguins" and demo.closed and not switching.exception
    kept = served.store.counts()
    for tab, action in ((predicting, "Predict"), (training, "Train now")):
        button(tab, action).click().run()
        assert not tab.exception, [e.value for e in tab.exception]
        said = [w.value for w in tab.warning]
        assert any("This tab showed workspace demo, and penguins is served now" in w for w in said), (action, said)
        assert not [s for s in tab.success if "confidence, by" in s.value], action  # no answer from the closed model
    assert served.store.counts() == kept and get_runtime() is served  # nothing trained or logged on penguins
    assert _predictions_in(workspace) == held["predictions"] and not list((workspace / "journal").glob("*.journal"))
    assert served.store.counts()["models"] == kept["models"]
    button(predicting, "Predict").click().run()  # the page drawn again for penguins predicts with penguins' model
    answer = [s.value for s in predicting.success if "confidence, by" in s.value]
    assert answer and any(f"Class **{c}**" in answer[0] for c in served.schema.classes), answer
    switching.selectbox(key="workspace_penguins").set_value("demo").run()  # away and back: penguins closed, opened again
    switching.selectbox(key="workspace_demo").set_value("penguins").run()
    button(training, "Train now").click().run()
    said = [w.value for w in training.warning]
    assert any("Workspace penguins was closed and opened again since this tab was drawn" in w for w in said), said


def test_the_report_carries_the_cycles_decision_boundary() -> None:
    drifted_workspace()
    rt = get_runtime()
    promoted = next(c for c in rt.store.cycles(10).to_dict("records") if c["promoted"])
    detail = rt.insights.cycle_detail(promoted["cycle_id"])
    from ui import charts as ui_charts
    from ui.report import drift_report_html

    page = drift_report_html(detail, [], ui_charts.decision_boundary(rt.insights.boundary(promoted["cycle_id"], "feature_1", "feature_2")))
    assert "Decision boundary at this cycle" in page and f"Decision boundary at cycle {promoted['cycle_id']}" in page
    assert "challenger v1." in page and "(promoted)" in page


def test_the_last_event_stays_on_the_overview_with_a_link_to_its_cycle() -> None:
    drifted_workspace()
    rt = get_runtime()
    rt.loop.set_controls(policy="never")
    quiet = [rt.loop.run_cycle() for _ in range(3)]  # the new champion fits the new regime: nothing fires
    assert not any(json.loads(c.signals) for c in quiet)
    event_cycle = max(c["cycle_id"] for c in rt.store.cycles(20).to_dict("records") if c["promoted"] or json.loads(c["signals"] or "[]"))
    event = rt.insights.last_event()
    assert event.cycle_id == event_cycle < quiet[-1].cycle_id
    at = open_page()
    assert any(event.title in box.value and "Last event" in box.value for box in [*at.warning, *at.success])
    links = [link for link in at.get("page_link") if link.proto.label == f"Open cycle {event_cycle} in full"]
    assert links and "cycle=" + str(event_cycle) in links[0].proto.query_string


def test_drift_chart_has_one_panel_per_kind_of_number() -> None:
    drifted_workspace()
    at = open_page("drift")
    chart = next(c for c in charts(at) if c["layout"]["title"]["text"] == "Drift tests per cycle")
    layout = chart["layout"]
    assert layout["yaxis"]["title"]["text"] == "p-value" and layout["yaxis"]["type"] == "log"
    assert layout["yaxis2"]["title"]["text"] == "effect (sd)" and layout["yaxis3"]["title"]["text"] == "PSI"


def test_performance_drift_is_named_as_the_trigger() -> None:
    """Inputs from the reference's own distribution with every label flipped: the model is wrong, the
    features have not moved, so performance drift alone fires, at every seed."""
    rt = get_runtime()
    rt.loop.set_controls(stream_enabled=False)
    X, y = generate(1000, 2, Scenario("stable"), seed=11)
    flipped = pd.DataFrame(X, columns=rt.schema.names).assign(target=1 - y)
    rt.data.import_csv(flipped.to_csv(index=False), name="labels flipped", role="incoming")
    cycle = rt.loop.run_cycle()
    assert cycle.performance_drift and not cycle.dataset_drift and json.loads(cycle.signals) == [REALISED]
    at = open_page("drift")
    at.selectbox(key="drill_cycle").set_value(cycle.cycle_id).run()
    assert any("performance drift" in w.value for w in at.warning)


def test_the_boundary_replays_cycles_with_a_slider() -> None:
    drifted_workspace()
    rt = get_runtime()
    first = min(rt.store.cycle_ids())
    at = open_page("drift")
    at.select_slider(key="boundary_cycle").set_value(first).run()
    boundary = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Decision boundary"))
    assert boundary["layout"]["title"]["text"] == f"Decision boundary at cycle {first}"
    lines = [t["name"] for t in boundary["data"] if t.get("mode") == "lines"]
    assert lines[0] == "champion v1.0.0"


def test_data_page_shows_role_preview_statistics_and_a_scatter() -> None:
    at = open_page("data")
    assert any("**Role:** sent to the loop" in m.value for m in at.markdown)
    preview = next(df.value for df in at.dataframe if list(df.value.columns) == ["feature_1", "feature_2", "target"])
    assert len(preview) == 100
    stats = next(df.value for df in at.dataframe if "median" in df.value.columns)
    assert stats["column"].tolist() == ["feature_1", "feature_2", "target"] and stats["count"].tolist() == [2000] * 3
    assert any("feature_1 against feature_2, by class" in t for t in titles(at))


def test_stream_segments_are_hidden_until_asked_for_and_the_pick_stays() -> None:
    rt = get_runtime()
    rt.loop.run_cycle()  # the stream adds a segment
    rt.data.generate(300, seed=5)
    at = open_page("data")
    shown = at.dataframe[0].value
    assert "stream" not in set(shown["source"]) and len(shown) == 2
    at.selectbox(key="dataset_pick").set_value(1).run()
    rt.loop.run_cycle()  # new data arrives; a rerun must not move the picker
    at.run()
    assert at.selectbox(key="dataset_pick").value == 1
    at.get("button_group")[0].set_value(["stream"]).run()
    assert set(at.dataframe[0].value["source"]) == {"stream"}


def test_importing_the_same_file_twice_warns() -> None:
    at = open_page("data")
    for _ in range(2):
        at.get("file_uploader")[0].set_value(("mine.csv", CSV, "text/csv"))
        at.run()
        button(at, "Import").click().run()
    assert any("exactly the bytes of the file dataset 2 was made from" in w.value for w in at.warning)
    assert get_runtime().store.counts()["datasets"] == 3


def test_an_over_limit_size_gets_a_message_not_a_silent_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IA_MAX_SAMPLES_PER_REQUEST", "5000")
    at = open_page("data")
    at.number_input[0].set_value(6000)
    button(at, "Generate").click().run()
    assert any("samples" in e.value and "5,000" in e.value for e in at.error), [e.value for e in at.error]
    assert get_runtime().store.counts()["datasets"] == 1


def test_operations_values_reflect_the_action_just_taken() -> None:
    at = open_page("operations")
    active = next(c.value for c in at.caption if c.value.startswith("Active: the simulator"))
    assert "from the first cycle" in active and "cycle 0" not in active  # cycles count from 1
    at.number_input(key="interval").set_value(5.0).run()
    assert {m.label: m.value for m in at.metric}["Interval"] == "5 s"
    button(at, "Start").click().run()
    assert {m.label: m.value for m in at.metric}["State"] == "running"
    at.selectbox(key="stream_scenario").set_value("concept_drift")
    button(at, "Apply").click().run()
    assert any(c.value.startswith("Active: the simulator, Concept drift") for c in at.caption), [c.value for c in at.caption]
    button(at, "Pause").click().run()
    assert {m.label: m.value for m in at.metric}["State"] == "paused"


def test_operations_exports_cycles_and_alerts() -> None:
    rt = get_runtime()
    rt.loop.run_cycle()
    rt.health.send_test_message()
    at = open_page("operations")
    labels = {b.label for b in at.get("download_button")}
    assert {"Download cycles (CSV)", "Download alerts (CSV)"} <= labels


def test_the_theme_is_the_users_choice() -> None:
    config = (Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text()
    assert "base =" not in config and 'toolbarMode = "viewer"' in config and "showSidebarNavigation = false" in config


def test_with_more_features_the_boundary_plane_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IA_N_FEATURES", "3")
    get_runtime().loop.run_cycle()
    at = open_page("drift")
    at.selectbox(key="boundary_x").set_value("feature_2").run()
    at.selectbox(key="boundary_y").set_value("feature_3").run()
    assert not at.exception and not at.error
    boundary = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Decision boundary"))
    assert boundary["layout"]["xaxis"]["title"]["text"] == "feature_2" and boundary["layout"]["yaxis"]["title"]["text"] == "feature_3"
    assert any(t.get("name") == "champion v1.0.0" and t.get("mode") == "lines" for t in boundary["data"])


def test_an_import_empties_the_uploader_and_a_copy_can_be_deleted_from_the_page() -> None:
    at = open_page("data")
    at.get("file_uploader")[0].set_value(("mine.csv", CSV, "text/csv"))
    at.run()
    button(at, "Import").click().run()
    assert not at.get("file_uploader")[0].value  # stored once: a second click cannot store a copy
    assert not any(b.label == "Import" for b in at.button)
    rt = get_runtime()
    assert rt.store.counts()["datasets"] == 2 and at.selectbox(key="dataset_pick").value == 2
    at.text_input(key="dataset_name_2").set_value("my table")
    at.text_input(key="dataset_tags_2").set_value("mine, q3")
    button(at, "Save").click().run()
    assert rt.store.dataset(2)["name"] == "my table" and "mine, q3" in at.dataframe[0].value["tags"].tolist()
    # tour 17: picked next, dataset 1's form showed dataset 2's name, and Save gave that name to dataset 1
    first = rt.store.dataset(1)["name"]
    at.selectbox(key="dataset_pick").set_value(1).run()
    name = next(t for t in at.text_input if t.label == "Name")
    assert name.value == first
    next(t for t in at.text_input if t.label.startswith("Tags")).set_value("starter")
    button(at, "Save").click().run()
    assert (rt.store.dataset(1)["name"], rt.store.dataset(2)["name"]) == (first, "my table")
    rt.data.update(1, "renamed by PATCH", None)  # while the page is open: Save must not put the old name back
    at.run()
    assert next(t for t in at.text_input if t.label == "Name").value == "renamed by PATCH"
    button(at, "Save").click().run()
    assert rt.store.dataset(1)["name"] == "renamed by PATCH"
    rt.data.update(1, "renamed again", None)  # this tab not redrawn since: its Save of a tag alone keeps the new name
    next(t for t in at.text_input if t.label.startswith("Tags")).set_value("kept")
    button(at, "Save").click().run()
    assert rt.store.dataset(1)["name"] == "renamed again" and "kept" in rt.store.dataset(1)["tags"]
    at.selectbox(key="dataset_pick").set_value(2).run()
    button(at, "Delete dataset 2").click().run()
    assert rt.store.dataset(2) is None and not at.exception
    at.selectbox(key="dataset_pick").set_value(1).run()
    button(at, "Delete dataset 1").click().run()
    assert any("sent to the loop" in e.value for e in at.error) and rt.store.dataset(1) is not None
    assert any(e.value.startswith("Dataset: dataset 1 was sent to the loop") for e in at.error)  # its box, not "dataset_id:"


def test_overview_reads_well_with_unlabelled_cycles() -> None:
    rt = get_runtime()
    rt.loop.set_controls(stream_enabled=False)
    rt.loop.run_cycle()  # nothing new yet
    rt.serving.predict([0.5, 0.5])
    rt.predictor.flush()
    rt.loop.run_cycle()  # one row: neither a drift test nor an estimate (tour 21: one confidence drawn as an accuracy)
    rt.serving.predict_batch(np.random.default_rng(4).normal(0.0, 1.0, size=(40, 2)))
    rt.predictor.flush()
    rt.loop.run_cycle()  # label-free: an estimate, no realised accuracy
    at = open_page()
    cycles = next(df.value for df in at.dataframe if "verdict" in df.value.columns)
    assert cycles["realised_accuracy"].tolist() == ["—", "—", "—"] and cycles["estimated_accuracy"].iloc[0].endswith(" %")
    assert cycles["estimated_accuracy"].tolist()[1:] == ["—", "—"]
    assert "None" not in cycles.astype(str).to_numpy() and cycles["champion_version"].tolist() == ["v1.0.0"] * 3
    assert any("· 1 model ·" in c.value and "· 41 predictions logged (served by any door" in c.value for c in at.caption)


def test_cycles_in_a_row_with_no_new_data_are_one_row_of_the_latest_cycles() -> None:
    """Tour 21: after a replay ended, a no-data cycle every interval pushed every cycle that did something out of the
    Overview's ten rows. A run is one row, its newest cycle, saying which cycles it holds."""
    rt = get_runtime()
    read = rt.loop.run_cycle()  # the stream's batch
    assert read.status == "ok"
    rt.loop.set_controls(stream_enabled=False)
    idle = [rt.loop.run_cycle() for _ in range(12)]
    assert {r.status for r in idle} == {"no_data"}
    at = open_page()
    cycles = next(df.value for df in at.dataframe if "verdict" in df.value.columns)
    first, last = idle[0].cycle_id, idle[-1].cycle_id
    assert cycles["cycle_id"].iloc[0] == last and cycles["verdict"].iloc[0].startswith(f"Cycles {first}–{last}, 12 in a row: No verdict")
    assert cycles["decision"].iloc[0] == f"no new data, cycles {first}–{last}"  # seen at 1024 px, where the verdict is hovered
    assert cycles["cycle_id"].tolist()[:2] == [last, read.cycle_id]  # the cycle that read something still shows
    assert len(rt.store.cycles(100)) == read.cycle_id + 12  # every cycle is still stored: only the table reads them as one


def test_a_realised_accuracy_no_label_has_come_to_since_says_how_old_it_is() -> None:
    """Tour 9: "Realised accuracy 89.5 % · cycle 33 · 200 labels" stood unchanged 116 cycles after labels stopped, beside
    "Data drift, performance holds" judged by the estimate alone."""
    rt = get_runtime()
    rt.loop.set_stream_scenario("covariate_shift", 2.0)
    measured = rt.loop.run_cycle()
    rt.loop.set_controls(stream_enabled=False)
    for _ in range(3):
        rt.serving.predict_batch(np.random.default_rng(9).normal(2.0, 1.0, size=(200, 2)))
        rt.predictor.flush()
        unlabelled = rt.loop.run_cycle()
    at = open_page()
    tile = next(m for m in at.metric if m.label == "Realised accuracy")
    assert tile.proto.delta.startswith("3 cycles ago · ") and f"Cycle {measured.cycle_id} at" in tile.proto.help
    assert unlabelled.dataset_drift and not unlabelled.labelled  # the estimate alone judged it, and the event says so
    assert rt.insights.last_event().title.startswith("Data drift, estimated performance holds")


def test_the_data_page_s_reference_is_the_window_the_registry_counts_trained_and_held_out() -> None:
    """The reference is the champion's whole window; called its "training data" beside that row count, it read as more
    rows than the registry says it trained on."""
    rt = get_runtime()
    model = rt.store.model(rt.registry.champion_version)
    at = open_page("data")
    caption = next(c.value for c in at.caption if c.value.startswith("Reference:"))
    window = int(model["n_train"]) + int(model["n_holdout"])
    assert f"the {window:,} rows the champion's drift tests compare with" in caption, caption
    assert "training window, its holdout included" in caption and "training data" not in caption


def test_a_pooled_drift_test_s_charts_are_titled_and_drawn_from_every_batch_it_pooled() -> None:
    rt = get_runtime()
    rt.loop.set_stream_scenario("covariate_shift", 0.3)  # mild: three batches pooled read stronger than one
    ids = [rt.loop.run_cycle().cycle_id for _ in range(3)]
    assert (rt.store.drift_results(ids[-1])["window_batches"] == 3).all()
    at = open_page("drift")
    overlays = [c for c in charts(at) if c["layout"].get("title", {}).get("text", "").endswith("<br>reference vs 3 batches pooled")]
    assert all(c["data"][1]["name"] == f"Cycles {ids[0]}–{ids[-1]}: 3 batches pooled" for c in overlays)  # the legend says which
    drawn = [base64.b64decode(c["data"][1]["x"]["bdata"]) for c in overlays]  # float64 values, as plotly sends them
    assert len(drawn) == 2 and all(len(x) == 600 * 8 for x in drawn)  # every pooled row, not the batch's 200
    assert any("or the newest batches the test pooled with it" in c.value for c in at.caption)
