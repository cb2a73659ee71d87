"""A version's status in words is one definition (`core.domain.outcomes.STATUS_LABELS`) that both doors show: the Models
page and GET /models say "former champion" for a replaced champion; the API keeps the stored value in `status`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.api import create_app
from core.runtime import get_runtime
from tests.ui.test_pages import open_page, workspace  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.usefixtures("workspace")  # a fresh app workspace for every test here


def test_a_replaced_champion_is_a_former_champion_on_the_models_page_and_in_get_models() -> None:
    rt = get_runtime()
    rt.data.generate(2000, "concept_drift", 1.0, seed=3, role="incoming")
    rt.models.train(window_rows=2000)
    assert rt.registry.champion_version == 2
    with TestClient(create_app(rt)) as client:
        listed = {m["version"]: m for m in client.get("/models").json()}
        one = client.get("/models/v1.0.0").json()
    assert (listed["v1.0.0"]["status"], listed["v1.0.0"]["status_label"]) == ("archived", "former champion")  # machine value kept
    assert (listed["v1.1.0"]["status"], listed["v1.1.0"]["status_label"]) == ("champion", "champion")
    assert (one["status"], one["status_label"]) == ("archived", "former champion")
    shown = open_page("models").dataframe[0].value.set_index("label")["status"]
    assert shown["v1.0.0"] == listed["v1.0.0"]["status_label"] and shown["v1.1.0"].endswith(listed["v1.1.0"]["status_label"])
