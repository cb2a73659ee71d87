"""In a real Chromium: a workspace made from the weather file through the dashboard ("Start from your own
data"), opened, then a prediction from the form built from its schema and its model's evaluation."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.launch import ROOT, launched
from tests.e2e.test_e2e_browser import ARTIFACTS, _require_browser, _settle, _visit, chromium_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_browser()
    folder = tmp_path_factory.mktemp("own")
    settings = {"IA_API_ENABLED": "false", "IA_DATA_DIR": str(folder / "data"), "IA_WORKSPACES_DIR": str(folder / "workspaces"),
                "IA_STARTER_MODEL": "false", "IA_SCHEDULER_AUTOSTART": "false", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with launched(folder / "streamlit.log", settings) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str):
    with chromium_page() as page:
        yield page


def test_a_workspace_from_the_weather_file_through_the_dashboard(server: str, page) -> None:
    _visit(page, server, "data", "own-data-demo")
    own = page.locator("[data-testid='stExpander']").filter(has_text="Start from your own data")
    own.get_by_text("Start from your own data").click()
    began = time.monotonic()
    own.locator("input[type='file']").set_input_files(str(ROOT / "examples" / "weather.csv"))
    _settle(page)
    own.get_by_text("Choose the column the model is to predict").wait_for()  # no target until the user names one
    choose(page, own.locator("[data-testid='stSelectbox']").first, "rain", own.get_by_text("Inferred schema").first)
    own.get_by_text("18,159 rows").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "own-data-preview.png"), full_page=True)
    own.get_by_role("button", name="Create the workspace").click()
    own.get_by_text("Training v1.0.0 on all 18,159 rows").first.wait_for(timeout=120_000)  # each step shown as it runs
    own.get_by_text("Workspace weather created").first.wait_for(timeout=120_000)
    print(f"upload to a trained champion on screen: {time.monotonic() - began:.1f} s")
    own.get_by_role("button", name="Open weather now").click()
    _settle(page)
    page.get_by_text("built from your own file").first.wait_for(timeout=90_000)  # the Overview, now of weather
    page.get_by_text("received by the loop: 1 dataset, 18,159 samples").first.wait_for()

    _visit(page, server, "predict", "own-data-predict")
    page.get_by_label("temperature").first.wait_for()
    page.get_by_label("temperature").first.fill("25.5")
    page.get_by_role("button", name="Predict", exact=True).click()
    _settle(page)
    page.get_by_text("by v1.0.0").first.wait_for()
    page.get_by_text("Why: P(class 1)").first.wait_for(state="attached")
    assert page.locator("[data-testid='stException']").count() == 0

    _visit(page, server, "models", "own-data-models")
    page.get_by_text("Evaluation", exact=True).first.wait_for()
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 5  # confusion matrix, ROC, PR, calibration, coefficients
    page.screenshot(path=str(ARTIFACTS / "own-data-models.png"), full_page=True)


def until(page, act, shown, what: str) -> None:
    """`act`, again while `shown` does not appear: a click that lands while the page is redrawn after the last one
    is lost (the machine is shared; Streamlit's script state can read "not running" just before a rerun starts)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(10):
        try:
            act()
            shown.wait_for(timeout=5000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"{what} did not appear")


def choose(page, box, option: str, shown) -> None:
    """Pick `option` in the selectbox `box`, again until `shown` appears."""

    def pick() -> None:
        box.get_by_role("combobox").click()
        page.get_by_role("option", name=option, exact=True).click(timeout=5000)

    until(page, pick, shown, f"what choosing {option} shows")
