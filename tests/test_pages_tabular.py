"""Every page on a workspace built from a mixed table with three classes, through Streamlit's AppTest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from core import workspaces
from core.config import Settings
from core.runtime import close_runtime, get_runtime
from core.tablegen import generate_table
from tests.conftest import make_settings
from tests.test_pages import button, open_page

PAGES = ("overview", "data", "models", "predict", "drift", "operations")


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Path:
    base = make_settings(tmp_path_factory.mktemp("demo") / "data", mlflow_template)
    path = tmp_path_factory.mktemp("files") / "churn.csv"
    generate_table(1500, seed=11, n_classes=3).to_csv(path, index=False)
    return workspaces.create(base, "churn", path, "churn.csv", workspaces.TableChoice("outcome")).folder


@pytest.fixture
def served(churn: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("IA_WORKSPACES_DIR", str(churn.parent))
    monkeypatch.setenv("IA_WORKSPACE", "churn")
    for name in ("IA_DATA_DIR", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IA_SCHEDULER_AUTOSTART", "false")
    monkeypatch.setenv("IA_API_ENABLED", "false")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield Settings.from_env()
    st.cache_resource.clear()
    st.cache_data.clear()
    close_runtime()


def test_every_page_renders_on_a_three_class_table(served: Settings) -> None:
    rt = get_runtime(served)
    later = generate_table(300, "new_category", 1.0, seed=12, n_classes=3).to_csv(index=False).encode()
    rt.import_csv(later, name="later.csv", role="incoming")
    rt.run_cycle()
    for page in PAGES:
        at = open_page(page)
        assert not at.exception and not at.error, (page, [e.value for e in at.exception], [e.value for e in at.error])


def test_the_data_page_shows_the_schema_and_refuses_the_generator(served: Settings) -> None:
    at = open_page("data")
    schema = at.table[0].value
    assert schema.loc["plan", "kind"] == "categorical" and schema.loc["tenure_months", "missing allowed"] == "yes"
    assert any("takes files of its own columns" in i.value for i in at.info)


def test_the_predict_form_is_built_from_the_schema_and_serves_a_class_as_written(served: Settings) -> None:
    at = open_page("predict")
    plan = at.selectbox(key="in_3")
    assert plan.label == "plan" and plan.options[-1] == "other…" and "basic" in plan.options
    channel = at.selectbox(key="in_5")
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


def test_the_generated_mixed_table_previews_its_schema_before_anything_is_stored(served: Settings) -> None:
    at = open_page("data")
    button(at, "Use a generated mixed table").click().run()
    assert not at.exception and not at.error
    assert any("Inferred schema" in m.value and "5,000 rows" in m.value for m in at.markdown)
    assert any("3 classes: downgrades" in m.value for m in at.markdown)
    assert workspaces.list_workspaces(served.workspaces_dir) == ["churn"]  # a preview creates nothing
