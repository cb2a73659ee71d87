"""The Models page of a two-class workspace names its classes as the schema writes them, never 0/1 or "class 1"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import workspaces
from core.config import Settings
from core.data.synthetic_table import generate_table
from core.runtime import get_runtime
from tests.fixtures import make_settings
from tests.ui.serving import serving
from tests.ui.test_pages import open_page


@pytest.fixture(scope="module")
def churn2(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Path:
    base = make_settings(tmp_path_factory.mktemp("demo") / "data", mlflow_template)
    path = tmp_path_factory.mktemp("files") / "churn2.csv"
    generate_table(1500, seed=11, n_classes=2).to_csv(path, index=False)  # classes "stays" and "leaves"
    return workspaces.create(base, "churn2", path, "churn2.csv", workspaces.TableChoice("outcome")).folder


@pytest.fixture
def served(churn2: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    yield from serving(monkeypatch, churn2.parent, "churn2")


def _words(spec: dict) -> str:
    """Every word a chart shows: its title, axis titles, tick labels and trace names."""
    layout = spec["layout"]
    texts = [layout.get("title", {}).get("text", "")]
    texts += [layout.get(axis, {}).get("title", {}).get("text", "") for axis in ("xaxis", "yaxis")]
    for trace in spec["data"]:
        texts += [str(trace.get("name", ""))] + [str(v) for k in ("x", "y") if trace.get("type") == "heatmap" for v in trace.get(k, [])]
    return " · ".join(texts)


def test_the_two_class_models_page_names_its_classes_in_every_chart_slider_and_caption(served: Settings) -> None:
    negative, positive = get_runtime(served).schema.classes
    assert {negative, positive} == {"stays", "leaves"}  # the user's file's names, as the schema keeps them
    at = open_page("models")
    assert not at.exception and not at.error, [e.value for e in at.error]
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]

    matrices = [s for s in specs if s["data"] and s["data"][0].get("type") == "heatmap"]
    assert len(matrices) == 2  # the version's matrix and the one at the chosen threshold
    for matrix in matrices:
        assert matrix["data"][0]["x"] == [f"predicted {negative}", f"predicted {positive}"]
        assert matrix["data"][0]["y"] == [f"actual {negative}", f"actual {positive}"]

    (calibration,) = [s for s in specs if "Calibration" in s["layout"]["title"]["text"]]
    assert calibration["layout"]["xaxis"]["title"]["text"] == f"predicted P(class {positive})"
    assert calibration["layout"]["yaxis"]["title"]["text"] == f"share of class {positive}"

    slider = at.select_slider(key="eval_threshold")
    assert slider.label == f"Predict class {positive} when P(class {positive}) ≥"
    said = next(c.value for c in at.caption if "Below it a row is called" in c.value)
    assert f"class {negative}" in said and f"those of class {positive}" in said
    helps = {m.label: m.help for m in at.metric}
    assert f"class {positive}" in helps["Precision"] and f"class {positive}" in helps["Recall"]

    shown = [_words(s) for s in specs] + [slider.label] + [c.value for c in at.caption]
    for slip in ("class 1", "class 0", "predicted 0", "predicted 1", "actual 0", "actual 1"):
        assert not any(slip in text for text in shown), (slip, [t for t in shown if slip in t])
