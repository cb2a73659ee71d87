"""In a real Chromium, what the screens say where a browser decides it: a page opened by its URL as a fresh server's
first request is the app's page (menu and layout), the theme chosen in Streamlit's menu kept for a page opened by its
URL, and "Start from your own data" at 1024 px (nothing cut off, no target chosen for the user, a replay's length said)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e import test_e2e_own_data
from tests.e2e.launch import launched
from tests.e2e.test_e2e_browser import _settle, chromium_page
from tests.e2e.test_e2e_own_data import choose, until

pytestmark = pytest.mark.browser
server = test_e2e_own_data.server  # the fixture: a dashboard of no workspace yet, on its own data folder

BACKGROUND = "getComputedStyle(document.querySelector(\"[data-testid='stApp']\")).backgroundColor"
CUT_OFF = """root => [...root.querySelectorAll('*')]
    .filter(n => n.children.length === 0 && n.innerText && n.innerText.trim() && getComputedStyle(n).overflow !== 'visible'
                 && n.scrollWidth > n.clientWidth + 1)
    .map(n => n.innerText)"""


def _dark(colour: str) -> bool:
    red, green, blue = (int(v) for v in colour.removeprefix("rgb(").removesuffix(")").split(",")[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255 < 0.5


def test_a_page_opened_by_its_url_as_a_fresh_server_s_first_request_has_the_menu_and_the_wide_layout(tmp_path: Path) -> None:
    """Streamlit runs a fresh server's first request in its pages-folder mode when a pages/ folder sits beside the
    app: the page's script alone, with no menu and Streamlit's narrow default layout, until "/" is opened once."""
    settings = {"IA_API_ENABLED": "false", "IA_DATA_DIR": str(tmp_path / "data"), "IA_STARTER_MODEL": "false",
                "IA_SCHEDULER_AUTOSTART": "false", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with launched(tmp_path / "streamlit.log", settings) as url, chromium_page(1400, 900) as page:
        page.goto(f"{url}/models")  # no request has run a script on this server yet
        _settle(page)
        page.get_by_role("heading", name="Models").first.wait_for()
        menu = [t.split()[-1] for t in page.locator("[data-testid='stSidebar'] a").all_inner_texts()]
        assert menu == ["Overview", "Data", "Models", "Predict", "Drift", "Operations"], menu
        width = page.evaluate("document.querySelector(\"[data-testid='stMainBlockContainer']\").getBoundingClientRect().width")
        assert width > 800, f"the main block is {width:.0f} px wide: Streamlit's centered layout, not the app's wide one"


def test_a_training_that_did_not_complete_stays_open_with_its_reason(tmp_path: Path) -> None:
    """Train now refused (here by IA_TRAININGS_PER_MINUTE, after one training), or a dataset refused: the status box
    keeps its reason in view. A box that closes as it turns red reads as nothing having happened."""
    settings = {"IA_API_ENABLED": "false", "IA_DATA_DIR": str(tmp_path / "data"), "IA_SCHEDULER_AUTOSTART": "false",
                "IA_TRAININGS_PER_MINUTE": "1", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with launched(tmp_path / "streamlit.log", settings) as url, chromium_page(1400, 900) as page:
        page.goto(f"{url}/models")
        _settle(page)
        for _ in range(2):  # the first takes the minute's one training (or is refused on its own), the second is refused
            page.get_by_role("button", name="Train now").click()
            _settle(page)
        page.get_by_text("Training did not complete").first.wait_for()
        box = page.locator("[data-testid='stExpander']", has_text="Training did not complete").first
        assert box.locator("details").get_attribute("open") is not None, "the failed training's box is closed"
        reason = box.get_by_text(re.compile("1 training in the last minute already|no incoming samples yet")).first
        assert reason.is_visible(), "the failed training's reason is out of sight"
        page.goto(f"{url}/data")
        _settle(page)
        page.get_by_role("spinbutton", name="Samples").fill("0")
        page.get_by_role("button", name="Generate", exact=True).click()
        _settle(page)
        box = page.locator("[data-testid='stExpander']", has_text="Nothing stored").first
        box.wait_for()
        assert box.locator("details").get_attribute("open") is not None, "the refused dataset's box is closed"
        assert box.get_by_text("samples").first.is_visible()


def test_dark_chosen_in_the_menu_holds_for_a_page_opened_by_its_url(server: str) -> None:
    with chromium_page(1400, 900) as page:
        page.goto(f"{server}/")
        _settle(page)
        assert not _dark(page.evaluate(BACKGROUND))
        page.locator("[data-testid='stMainMenu']").click()
        page.locator("[data-testid='stMainMenuItem-theme-Dark']").click()
        page.wait_for_function(f"() => {BACKGROUND} !== 'rgb(255, 255, 255)'")
        assert _dark(page.evaluate(BACKGROUND))
        for path in ("drift", "models/"):  # typed into the address bar: a new page load, not the app's own navigation
            page.goto(f"{server}/{path}")
            _settle(page)
            assert _dark(page.evaluate(BACKGROUND)), (path, page.evaluate(BACKGROUND))


def test_ones_own_data_at_1024_px_cuts_nothing_off_and_chooses_no_target_for_the_user(server: str) -> None:
    with chromium_page(1024, 900) as page:
        page.goto(f"{server}/data")
        _settle(page)
        own = page.locator("[data-testid='stExpander']").filter(has_text="Start from your own data")
        own.get_by_text("Start from your own data").click()
        asked = own.get_by_text("Choose the column the model is to predict")
        until(page, own.get_by_role("button", name="Use a generated mixed table").click, asked, "the target's question")
        target = own.locator("[data-testid='stSelectbox']").first
        assert "outcome" not in target.inner_text()  # nothing chosen for the user
        assert own.get_by_role("button", name="Create the workspace").count() == 0
        choose(page, target, "outcome", own.get_by_text("Inferred schema"))
        replay = own.get_by_text("Train on the first rows")
        replay.wait_for()
        until(page, replay.click, own.get_by_text("come as the stream"), "the replay's length")
        _settle(page)
        reasons = own.get_by_text("Why these kinds:")
        assert "whole numbers with 8 distinct values: support_calls" in reasons.inner_text()
        assert own.evaluate(CUT_OFF) == []
