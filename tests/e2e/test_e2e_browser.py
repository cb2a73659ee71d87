"""End to end in a real Chromium: `streamlit run app.py` on a free port with a temporary workspace.

Visits every page (no exception element), generates, trains and predicts through the
UI, switches the stream to concept drift, runs cycles over the REST API until one promotes
a challenger and sees the new champion on Overview. Screenshots of each page land in
test-artifacts/; the Overview after the drift and the promotion, at 1280 x 800, lands in
docs/overview.png with IA_SAVE_SCREENSHOT=1 (`make screenshot`), in the test's temporary
folder otherwise. Without Chromium the test skips, except where IA_REQUIRE_BROWSER is set
(.ci/run sets it): there a skip is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.launch import ROOT, launched
from tests.servers import free_port
from tests.waiting import HANG, HANG_MS, wait_until

ARTIFACTS = ROOT / "test-artifacts"
README_SHOT = ROOT / "docs" / "overview.png"  # the README's picture, rewritten only on request (IA_SAVE_SCREENSHOT=1)
DRIFT_CYCLES = 10  # concept drift at strength 1 promotes a challenger in its first cycle; ten is the bound
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip

pytestmark = pytest.mark.browser


def _require_browser() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install -r requirements-dev.txt)"
    else:
        if CHROMIUM:
            return CHROMIUM
        reason = "no Chromium on this machine (apt-get install chromium)"
    if os.environ.get("IA_REQUIRE_BROWSER"):
        pytest.fail(f"browser tests are required here (IA_REQUIRE_BROWSER) but cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The dashboard and the REST API beside it (which the test drives the loop's cycles through)."""
    _require_browser()
    data = tmp_path_factory.mktemp("e2e") / "data"
    port = free_port()
    settings = {"IA_DATA_DIR": str(data), "IA_API_ENABLED": "true", "API_PORT": str(port), "IA_SCHEDULER_INTERVAL": "3",
                "IA_RETRAIN_COOLDOWN_CYCLES": "0", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with launched(tmp_path_factory.mktemp("e2e-log") / "streamlit.log", settings) as url:
        yield url, f"http://127.0.0.1:{port}"


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000, init_script: str | None = None) -> Iterator[object]:
    """A page of a headless Chromium, `width` x `height` (1400 x 1000 unless told), closed with its browser; with
    `init_script`, that script runs in every document before the page's own scripts."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height})
        if init_script is not None:
            context.add_init_script(init_script)
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(server: str):
    with chromium_page() as page:
        yield page


def _settle(page) -> None:
    """Wait for the script run to finish (Streamlit marks stApp with its script state)."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=90_000)
    page.wait_for_timeout(300)


def _visit(page, server: str, path: str, name: str) -> None:
    page.goto(f"{server}/{path}")
    _settle(page)
    assert page.locator("[data-testid='stException']").count() == 0, f"exception on {name}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _shot_at(page, text: str, name: str) -> None:
    """A screenshot with `text` scrolled to the top (Streamlit scrolls inside its own container, so a
    full-page screenshot shows only the first screen)."""
    target = page.get_by_text(text).first
    target.wait_for(state="attached")
    target.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _cut_off(page, deltas: bool = False) -> list[str]:
    """KPI labels and values (with `deltas`, the lines beneath them too) whose text does not fit their box (an ellipsis
    on screen)."""
    kinds = ["stMetricLabel", "stMetricValue", *(["stMetricDelta"] if deltas else [])]
    return page.evaluate(
        """kinds => [...document.querySelectorAll(kinds.map(k => `[data-testid='${k}']`).join(', '))]
            .filter(e => [e, ...e.querySelectorAll('*')].some(n => n.scrollWidth > n.clientWidth + 1))
            .map(e => e.innerText)""",
        kinds,
    )


def _metric(page, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return metric.locator("[data-testid='stMetricValue']").inner_text()


def _newest_cycle(api: str) -> int:
    cycles = httpx.get(f"{api}/cycles", params={"limit": 1}, timeout=HANG).json()["cycles"]
    return cycles[0]["cycle_id"] if cycles else 0


def _set_interval(api: str, seconds: float) -> None:
    assert httpx.put(f"{api}/loop", json={"interval": seconds}, timeout=HANG).json()["interval"] == seconds


def _drive_until_promoted(api: str, after: int) -> dict:
    """Cycles run now over the API (each after any cycle under way), until one after cycle `after` has promoted a
    challenger: counted in cycles, so a slow machine only takes longer."""
    for _ in range(DRIFT_CYCLES):
        ran = httpx.post(f"{api}/cycles", params={"wait": "true"}, timeout=HANG).json()
        assert ran["status"] == "ok", ran
        since = httpx.get(f"{api}/cycles", params={"limit": 100}, timeout=HANG).json()["cycles"]
        promoted = [c for c in since if c["cycle_id"] > after and c["promoted"]]
        if promoted:
            return promoted[-1]
    raise AssertionError(f"no promotion in the {DRIFT_CYCLES} cycles run after concept drift: {since[:DRIFT_CYCLES]}")


def _save_overview(page, server: str, tmp_path: Path) -> Path:
    """The Overview's first screen at 1280 x 800, nothing on it cut off: the README's picture with IA_SAVE_SCREENSHOT=1,
    else a file in the test's temporary folder (a test run leaves the tracked picture alone)."""
    page.set_viewport_size({"width": 1280, "height": 800})
    _visit(page, server, "", "overview-1280")
    page.get_by_text("Accuracy over time").first.wait_for(state="attached")
    page.locator("[data-testid='stDataFrame'] td[role=gridcell]").first.wait_for(state="attached")
    page.get_by_text("Last event · New champion").first.wait_for()
    page.wait_for_timeout(500)
    assert _cut_off(page, deltas=True) == [], "cut off at 1280 px"
    path = README_SHOT if os.environ.get("IA_SAVE_SCREENSHOT") == "1" else tmp_path / "overview.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})
    return path


def test_every_page_and_the_whole_loop_in_a_browser(server: tuple[str, str], page, tmp_path: Path) -> None:
    server, api = server
    _visit(page, server, "", "overview")
    assert re.fullmatch(r"v1\.\d+\.0", _metric(page, "Champion"))

    for path in ("data", "models", "predict", "drift", "operations"):
        _visit(page, server, path, path)

    for width in (1440, 1024):  # the KPIs fit: two rows of three
        page.set_viewport_size({"width": width, "height": 1000})
        _visit(page, server, "", f"overview-{width}")
        assert _cut_off(page) == [], f"cut off at {width} px"
    page.set_viewport_size({"width": 1400, "height": 1000})

    _visit(page, server, "data", "data")
    page.get_by_role("button", name="Generate", exact=True).click()
    _settle(page)
    page.get_by_text("stored: 1,000 rows").first.wait_for()

    _visit(page, server, "models", "models")
    page.get_by_role("button", name="Train now").click()
    _settle(page)
    # The loop runs every 3 s: when a cycle's challenger has just trained on the very rows Train now reads (every incoming
    # row so far, fewer than the training window) and no batch came in between, the training is refused as a copy of it.
    page.get_by_text(re.compile(r"v1\.\d+\.0 (promoted|rejected)|Unchanged: equals v1\.\d+\.0")).first.wait_for()

    page.get_by_text("Evaluation", exact=True).first.wait_for()
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 5  # confusion matrix, ROC, PR, calibration, coefficients
    _shot_at(page, "Evaluation", "models-evaluation")
    _shot_at(page, "ROC curve", "models-curves")

    _visit(page, server, "predict", "predict")
    page.get_by_role("button", name="Predict", exact=True).click()
    _settle(page)
    page.get_by_text(re.compile(r"by v1\.\d+\.0")).first.wait_for()  # after the page's redraw that shows the log
    page.get_by_text("Why: P(class 1)").first.wait_for(state="attached")  # the contributions chart's title
    shown_id = page.locator("[data-testid='stCode']").first.inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", shown_id), shown_id  # the id its label is sent back with
    _shot_at(page, "Why: P(class 1)", "predict-why")

    _visit(page, server, "", "overview")
    before = _metric(page, "Champion")
    _visit(page, server, "operations", "operations")
    first_run = _metric(page, "Next run (UTC)")
    # the loop runs every 3 s on its own: its next run moves on with no click (the page redraws itself every 2 s)
    wait_until(lambda: _metric(page, "Next run (UTC)") != first_run, interval=0.5, what=f"the next run to move on from {first_run}")
    _set_interval(api, 3600)  # from here the test runs the cycles, and the one that promotes stays the latest
    stream_form = page.locator("[data-testid='stForm']").filter(has_text="Stream on")
    stream_form.evaluate("e => e.scrollIntoView({block: 'center'})")  # a select at the window's bottom edge does not open
    stream_form.locator("[data-testid='stSelectbox']").filter(has_text="Scenario (simulator)").click()
    page.get_by_role("option", name="Concept drift (boundary rotates)").click()
    stream_form.get_by_role("button", name="Apply").click()
    _settle(page)
    page.get_by_text("Concept drift (boundary rotates), strength 1").first.wait_for(state="attached")  # the active stream

    _visit(page, server, "", "overview-before-drift")
    promoted = _drive_until_promoted(api, _newest_cycle(api))
    # the Overview fragment refreshes itself every 5 s
    after = wait_until(lambda: (v := _metric(page, "Champion")) != before and v, interval=1,
                       what=f"a new champion on the Overview after cycle {promoted['cycle_id']} promoted one (was {before})")  # fmt: skip
    page.screenshot(path=str(ARTIFACTS / "overview-after-drift.png"), full_page=True)
    # the alert, in the latest alerts table (a canvas grid: its cells are attached for accessibility, not visible)
    page.get_by_text(f"New champion {after}").first.wait_for(state="attached", timeout=HANG_MS)
    assert page.locator("[data-testid='stException']").count() == 0
    assert re.fullmatch(r"\d signals?", _metric(page, "Signals (latest cycle)"))  # the drift that made the loop retrain
    _save_overview(page, server, tmp_path)
    _set_interval(api, 3)

    _visit(page, server, "drift", "drift-after-drift")  # drill-down, tests over time, the boundary replay
    for heading in ("A cycle in full", "Tests over time", "Decision boundary"):
        page.get_by_text(heading, exact=True).first.wait_for()
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 4
    _shot_at(page, "Drift tests per cycle", "drift-tests-over-time")
    _shot_at(page, "Replay cycles", "drift-boundary")

    # A second tab shares the runtime: the same champion, and still one worker (one "Scheduler started"
    # alert in the latest alerts, whose grid cells are in the page for accessibility).
    # Both tabs on the Overview: the first was on the Drift page, whose "Champion then" is the drilled cycle's,
    # and the loop may promote a follow-up meanwhile, so both are read until their 5 s refreshes agree.
    second = page.context.new_page()
    _visit(second, server, "", "overview-second-tab")
    _visit(page, server, "", "overview-first-tab")
    wait_until(lambda: _metric(second, "Champion") == _metric(page, "Champion"), interval=1, what="the same champion in both tabs")
    # The fragment redraws every 5 s, so the count is read in the same call that finds the table drawn.
    started = wait_until(lambda: second.get_by_text("Scheduler started", exact=True).count(), interval=0.5,
                         what="the 'Scheduler started' alert in the second tab")  # fmt: skip
    assert started == 1
    second.close()


def test_the_first_page_shows_the_start_up_steps_not_a_blank_page(tmp_path: Path, page) -> None:
    """A million-row starter keeps the build busy for seconds: the first visitor sees its steps and the
    named pages in the sidebar (never the raw list of page files), then the Overview, without reloading.
    (The module's browser, in a new context.)"""
    settings = {"IA_API_ENABLED": "false", "LOG_LEVEL": "WARNING", "IA_DATA_DIR": str(tmp_path / "data"), "IA_STARTER_ROWS": "1000000",
                "IA_SCHEDULER_AUTOSTART": "false"}  # fmt: skip
    with launched(tmp_path / "streamlit.log", settings) as url:
        context = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(url)
        page.get_by_text("Starting IA Continu").wait_for(timeout=30_000)
        page.get_by_text("Opening the MLflow store").wait_for(state="attached")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "startup.png"), full_page=True)
        assert page.get_by_text("app", exact=True).count() == 0  # never the raw list of page files
        sidebar = page.locator("[data-testid='stSidebar']")
        # The links are sent before the steps, but the browser may draw grey placeholders for them a moment longer (the
        # clean-clone CI on 6a73d60 caught it once): named within seconds, while the start-up is still shown.
        for name in ("Overview", "Drift", "Operations"):
            sidebar.get_by_text(name, exact=True).first.wait_for(timeout=10_000)
        assert [sidebar.get_by_text(name, exact=True).count() for name in ("Overview", "Drift", "Operations")] == [1, 1, 1]
        assert page.get_by_text("Starting IA Continu").count() == 1  # still starting: the names came with the steps
        page.locator("[data-testid='stMetric']").filter(has_text="Champion").first.wait_for(timeout=120_000)
        assert _metric(page, "Champion") == "v1.0.0"
        assert page.get_by_text("Starting IA Continu").count() == 0
        context.close()
