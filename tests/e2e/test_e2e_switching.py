"""In a real Chromium, on `make run`'s launcher with its REST API: the demo and a penguins workspace (both with a
v1 of the same registered-model name) switched in the sidebar, back and forth. Each time the Predict page shows
the workspace's own columns and predicts with its own model, the API on the same port serves it, and its
cycles since the switch are not errors, on the Overview as in the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core import workspaces
from tests.core.test_workspace_switching import DEMO_ROW, PENGUIN, SPECIES, penguins
from tests.e2e.launch import launched
from tests.e2e.test_e2e_browser import ARTIFACTS, _require_browser, _settle, _visit, page  # noqa: F401 - page: the fixture
from tests.fixtures import make_settings
from tests.servers import free_port
from tests.waiting import HANG, wait_until

pytestmark = pytest.mark.browser

SIDEBAR_BOX = "[data-testid='stSidebar'] [data-testid='stSelectbox']"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[tuple[str, str]]:
    """The dashboard and its API over the demo in a folder holding a penguins workspace whose stream replays its file."""
    _require_browser()
    folder = tmp_path_factory.mktemp("switching")
    base = make_settings(folder / "data", mlflow_template)
    path = folder / "penguins.csv"
    penguins(1500, seed=2).to_csv(path, index=False)  # 12 batches to replay: more than the cycles the test runs (3 a visit)
    workspaces.create(base, "penguins", path, "penguins.csv", workspaces.TableChoice("species", initial_rows=300))
    colony = folder / "colony.csv"
    penguins(400, seed=7).to_csv(colony, index=False)  # a second table of the same columns: its form's fields sit where penguins' do
    workspaces.create(base, "colony", colony, "colony.csv", workspaces.TableChoice("species"))
    port = free_port()
    settings = {"IA_DATA_DIR": str(base.data_dir), "IA_API_ENABLED": "true", "API_PORT": str(port), "IA_SCHEDULER_INTERVAL": "3600",  # the test runs the cycles
                "IA_STREAM_BATCH_SIZE": "100", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with launched(folder / "streamlit.log", settings) as url:
        yield url, f"http://127.0.0.1:{port}"


def _api(api: str, path: str) -> dict:
    return requests.get(f"{api}{path}", timeout=HANG).json()


def _serving(api: str, name: str) -> bool:
    try:
        return _api(api, "/workspaces")["current"] == name
    except (requests.ConnectionError, ValueError, KeyError):
        return False


def _newest_cycle(api: str) -> int:
    cycles = _api(api, "/cycles?limit=1")["cycles"]
    return cycles[0]["cycle_id"] if cycles else 0


def _switch(tab, name: str) -> None:
    """The sidebar's workspace selectbox, as a person uses it; it shows `name` once the page has reopened."""
    tab.locator(SIDEBAR_BOX).filter(has_text="Workspace").click()
    tab.get_by_role("option", name=name, exact=True).click()
    _settle(tab)
    boxes = tab.locator(SIDEBAR_BOX).get_by_role("combobox", name="Workspace")  # the one left's lingers until the run ends
    app = tab.locator("[data-testid='stApp']")

    def reopened() -> bool:
        return app.get_attribute("data-test-script-state") == "notRunning" and boxes.count() == 1 and boxes.first.input_value() == name

    try:
        wait_until(reopened, what=f"the page to reopen on {name}")
    except AssertionError:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"switch-to-{name}-failed.png"), full_page=True)
        raise


def _predicts_with_its_own_model(tab, url: str, name: str, shot: str) -> None:
    _visit(tab, url, "predict", shot)
    ours, theirs = ("feature_1", "island") if name == "demo" else ("bill_length_mm", "feature_1")
    tab.get_by_label(ours).first.wait_for()
    assert tab.get_by_label(theirs, exact=True).count() == 0
    tab.get_by_role("button", name="Predict", exact=True).click()
    _settle(tab)
    answer = tab.locator("[data-testid='stAlert']").filter(has_text="confidence, by v")
    answer.first.wait_for()
    text = answer.first.inner_text()
    assert any(f"Class {c} " in text for c in (SPECIES if name == "penguins" else ("0", "1"))), text
    assert tab.get_by_text("That did not work").count() == 0 and tab.locator("[data-testid='stException']").count() == 0


def test_switching_in_the_sidebar_serves_each_workspace_s_own_model_and_cycles_without_error(server: tuple[str, str], page) -> None:  # noqa: F811
    url, api = server
    page.goto(url)
    _settle(page)
    wait_until(lambda: _serving(api, "demo"), what="the API to serve the demo")
    seen = {"demo": _newest_cycle(api), "penguins": 0}
    for step, name in enumerate(["penguins", "demo", "penguins", "demo"]):
        seen[next(n for n in seen if n != name)] = _newest_cycle(api)
        _switch(page, name)
        _predicts_with_its_own_model(page, url, name, f"switch-{step}-{name}-predict")
        wait_until(lambda name=name: _serving(api, name), what=f"the API on the same port to serve {name}")
        reply = requests.post(f"{api}/predict", json={"features": DEMO_ROW if name == "demo" else PENGUIN}, timeout=30)
        assert reply.status_code == 200, reply.text
        driven = [requests.post(f"{api}/cycles", params={"wait": "true"}, timeout=HANG).json()["cycle"] for _ in range(2)]
        assert all(c["status"] == "ok" and c["rows_seen"] for c in driven), driven  # two cycles of its stream, run now
        since = [c for c in _api(api, "/cycles?limit=50")["cycles"] if c["cycle_id"] > seen[name]]
        assert all(c["status"] == "ok" and c["decision"] != "error" for c in since), [(c["status"], c["reason"]) for c in since]
        _visit(page, url, "", f"switch-{step}-{name}-overview")
        cycles = page.locator("[data-testid='stDataFrame']").first
        cycles.locator("td[role=gridcell]").first.wait_for(state="attached")
        assert not {"error", "failed"} & set(cycles.locator("td[role=gridcell]").all_inner_texts())
        assert page.get_by_text("workspace open").count() == 1


def _field(tab, label: str) -> str:
    return tab.get_by_label(label, exact=True).first.input_value()


def test_a_value_typed_in_one_workspace_s_form_never_fills_another_s(server: tuple[str, str], page) -> None:  # noqa: F811
    """Two tables of the same columns: a flipper typed in penguins' form, then colony chosen in the sidebar while the
    Predict page is open. Colony's field holds its own starting value (what a fresh visit shows), never the one typed."""
    url = server[0]
    page.goto(url)
    _settle(page)
    _switch(page, "colony")
    _visit(page, url, "predict", "colony-fresh")
    fresh = _field(page, "flipper_length_mm")
    flippers = penguins(400, seed=7)["flipper_length_mm"]
    assert flippers.min() <= float(fresh) <= flippers.max(), fresh  # a penguin's flipper, not 0 mm
    _visit(page, url, "", "colony-overview")
    _switch(page, "penguins")
    _visit(page, url, "predict", "penguins-typed")
    field = page.get_by_label("flipper_length_mm", exact=True).first
    field.fill("999")
    page.get_by_role("button", name="Predict", exact=True).click()  # a form's values reach the app when it is sent
    _settle(page)
    assert _field(page, "flipper_length_mm").startswith("999")
    _switch(page, "colony")
    page.get_by_label("flipper_length_mm", exact=True).first.wait_for()
    assert _field(page, "flipper_length_mm") == fresh


def test_the_api_docs_render_in_a_browser_with_no_network(server: tuple[str, str], page) -> None:  # noqa: F811
    """Tour 15: /docs (linked from Operations) was a blank page offline: FastAPI's own loads Swagger UI from a CDN. With
    every request off this machine refused, the page draws the API's operations (OpenAPI 3.1 needs Swagger UI 5)."""
    _url, api = server
    wait_until(lambda: _api_up(api), what="the API to answer")
    offsite: list[str] = []

    def only_here(route) -> None:  # Playwright's Route
        if route.request.url.startswith("http://127.0.0.1"):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    try:
        page.goto(f"{api}/docs")
        page.locator(".opblock-summary-path", has_text="/predict").first.wait_for(timeout=30_000)
        assert page.locator(".opblock").count() >= 20 and page.get_by_text("IA Continu").count() >= 1
        assert offsite == []  # nothing was asked of another machine
    finally:
        page.unroute("**/*")


def _api_up(api: str) -> bool:
    try:
        return requests.get(f"{api}/health/live", timeout=HANG).status_code == 200
    except requests.ConnectionError:
        return False


def test_a_tab_left_open_when_another_switches_is_redrawn_for_the_workspace_served_and_says_why(
    server: tuple[str, str],
    page,  # noqa: F811
) -> None:
    """Tour 20: a tab left on Predict answered a click with the closed workspace's model and logged into its journal;
    a review then found a tab left on Operations drawing a closed workspace's traceback every 2 s from its own
    refreshing parts. With another tab switching, the Operations tab redraws itself for the workspace served, unasked,
    and the Predict tab's click is not answered by the workspace left."""
    url, api = server
    page.goto(url)
    _settle(page)
    if not _serving(api, "demo"):
        _switch(page, "demo")
    left = page.context.new_page()
    try:
        _visit(left, url, "operations", "stale-operations-before")
        _visit(page, url, "predict", "stale-predict-before")
        page.get_by_label("feature_1").first.wait_for()
        other = page.context.new_page()
        other.goto(url)
        _settle(other)
        _switch(other, "penguins")
        wait_until(lambda: _serving(api, "penguins"), what="the API to serve penguins")
        notice = "This tab showed workspace demo, and penguins is served now"
        left.get_by_text(notice).wait_for(timeout=HANG * 1000)  # no click: its refreshing parts noticed
        assert left.locator("[data-testid='stException']").count() == 0
        page.get_by_role("button", name="Predict", exact=True).click()
        _settle(page)
        page.get_by_text(notice).wait_for(timeout=HANG * 1000)
        assert page.locator("[data-testid='stAlert']").filter(has_text="confidence, by v").count() == 0
        page.get_by_label("bill_length_mm").first.wait_for()  # drawn again for the workspace served
        _switch(other, "demo")
        other.close()
    finally:
        left.close()
