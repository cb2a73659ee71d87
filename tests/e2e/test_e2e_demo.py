"""What a live demo showed, checked where a person sees it: in Chromium, on a workspace with a drift story.

The workspace is made first with a real runtime (starter, concept drift until a promotion, a
prediction), closed, then served by `python -m ui.launch` with the loop stopped, so every page
shows the same cycles while the browser looks at them: the theme choice and the dark theme,
nothing cut at 1024x768, the last event's link into its cycle, the prediction log after a
prediction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.runtime import Runtime
from tests.e2e.launch import launched
from tests.e2e.test_e2e_browser import ARTIFACTS, CHROMIUM_ARGS, _cut_off, _metric, _require_browser, _settle
from tests.fixtures import make_settings

pytestmark = pytest.mark.browser

TITLES_AND_MODEBAR = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
    const title = plot.querySelector('.gtitle'), svg = plot.querySelector('.main-svg');
    if (!title || !svg || !title.textContent) return null;
    const t = title.getBoundingClientRect(), s = svg.getBoundingClientRect();
    return {text: title.textContent, inside: t.left >= s.left - 1 && t.right <= s.right + 1};
}).filter(Boolean)"""

# A panel's title and a line's label are annotations: each must end inside its chart too.
ANNOTATIONS_CUT = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(plot => {
    const s = plot.querySelector('.main-svg').getBoundingClientRect();
    return [...plot.querySelectorAll('.infolayer .annotation text')].filter(e => e.textContent).map(e => [e.textContent, e.getBoundingClientRect()])
        .filter(([, a]) => a.width > 0 && (a.left < s.left - 1 || a.right > s.right + 1)).map(([text]) => text);
})"""

MODEBAR_OVER_TITLE = """(plot) => {
    const title = plot.querySelector('.gtitle'), bar = plot.querySelector('.modebar-container .modebar');
    if (!title || !bar) return false;
    const t = title.getBoundingClientRect(), b = bar.getBoundingClientRect();
    return b.width > 0 && !(b.right <= t.left || b.left >= t.right || b.bottom <= t.top || b.top >= t.bottom);
}"""


# The column widths glide-data-grid draws with (its React props), found from the grid's canvas; `columns` stays null
# when the canvas is not drawn yet.
GRID_COLUMNS = """const canvas = root.querySelector('canvas');
  if (!canvas) return [];
  const key = Object.keys(canvas).find(k => k.startsWith('__reactFiber'));
  let fiber = canvas[key], columns = null;
  for (let i = 0; fiber && i < 80 && !columns; i++, fiber = fiber.return) {
    const p = fiber.memoizedProps;
    if (p && Array.isArray(p.columns) && p.columns.length && p.columns[0].width !== undefined) columns = p.columns;
  }"""

# st.dataframe draws on a canvas (glide-data-grid): its cells' text is in an accessibility table, the widths it
# draws with are in the grid's React props. A short text (a scenario, a decision, a version: at most 30 characters)
# must fit its column; long free text (names, verdicts, reasons) is cut by design and shown whole on hover. The
# accessibility text of a number or a time is its raw value, not the formatted one drawn, so those are left out.
CUT_CELLS = """(root) => {
  GRID_COLUMNS
  if (!columns) return ['(no column widths found in the grid)'];
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = '14px ' + getComputedStyle(root).fontFamily;
  const cut = [];
  for (const cell of root.querySelectorAll('td[role=gridcell]')) {
    const text = cell.textContent.trim(), column = columns[Number(cell.getAttribute('aria-colindex')) - 1];
    if (!column || !text || text.length > 30 || /^[-+\\d.,eE%]+$/.test(text) || /^\\d{4}-\\d\\d-\\d\\d/.test(text)) continue;
    if (ctx.measureText(text).width > column.width - 16) cut.push(column.title + ': ' + text);
  }
  return cut;
}""".replace("GRID_COLUMNS", GRID_COLUMNS)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[tuple[str, int]]:
    """A served workspace with concept drift and a promotion; yields its URL and the last event's cycle."""
    _require_browser()
    data = tmp_path_factory.mktemp("demo") / "data"
    rt = Runtime(make_settings(data, mlflow_template, starter_model=True))
    rt.loop.set_controls(retrain_cooldown_cycles=0, drift_persistence=1, stream_batch_size=1000)
    rt.loop.set_stream_scenario("concept_drift", 1.0)
    for _ in range(4):
        rt.loop.run_cycle()
    assert rt.registry.champion_version != 1, "concept drift must have promoted a challenger"
    rt.data.generate(500, "covariate_shift", 1.0, seed=3)
    event = rt.insights.last_event()
    rt.close()
    settings = {"IA_DATA_DIR": str(data), "IA_API_ENABLED": "false", "IA_SCHEDULER_AUTOSTART": "false", "LOG_LEVEL": "WARNING"}
    with launched(tmp_path_factory.mktemp("demo-log") / "streamlit.log", settings) as url:
        yield url, event.cycle_id


# Axis titles and legends inside their chart, no legend over an axis title or a tick label (the Data page's three per row
# and the Models page's slanted input names ran under their legends at 1024 px).
PLOT_OVERLAPS = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(plot => {
  const svg = plot.querySelector('.main-svg');
  if (!svg) return [];
  const s = svg.getBoundingClientRect(), name = (plot.querySelector('.gtitle') || {}).textContent || '(untitled)';
  const box = e => e.getBoundingClientRect();
  const outside = r => r.width > 0 && (r.left < s.left - 1 || r.right > s.right + 1 || r.top < s.top - 1 || r.bottom > s.bottom + 1);
  const meet = (a, b) => a.width > 0 && b.width > 0 && !(a.right <= b.left || a.left >= b.right || a.bottom <= b.top || a.top >= b.bottom);
  const titles = [...plot.querySelectorAll('.infolayer > g[class^="g-"][class$="title"]:not(.g-gtitle) text')];
  const problems = titles.filter(t => outside(box(t))).map(t => `${name}: axis title "${t.textContent}" cut`);
  const legend = plot.querySelector('.legend .bg');
  if (legend) {
    if (outside(box(legend))) problems.push(`${name}: legend cut`);
    for (const t of [...titles, ...plot.querySelectorAll('.xtick text, .ytick text')])
      if (meet(box(legend), box(t))) problems.push(`${name}: legend over "${t.textContent}"`);
  }
  return problems;
})"""

# A table's columns past its visible width need a horizontal scroll (the grid's column widths, as CUT_CELLS reads them).
HIDDEN_COLUMNS = """(root) => {
  GRID_COLUMNS
  let right = 0;
  const shown = root.getBoundingClientRect().width, hidden = [];
  for (const column of columns || []) { right += column.width; if (right > shown + 1) hidden.push(column.title); }
  return hidden;
}""".replace("GRID_COLUMNS", GRID_COLUMNS)
# A column's header must fit its column (glide-data-grid cuts a long title with an ellipsis: "challenger_…" told a
# reader nothing). The grid draws a header in the cells' font, after the cells' 8 px padding.
HEADERS_CUT = """(root) => {
  GRID_COLUMNS
  if (!columns) return ['(no column widths found in the grid)'];
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = '14px ' + getComputedStyle(root).fontFamily;
  return columns.filter(c => c.title && ctx.measureText(c.title).width > c.width - 8).map(c => c.title + ` (${c.width} px)`);
}""".replace("GRID_COLUMNS", GRID_COLUMNS)
# A short table is as tall as its rows: a fixed height drew empty rows under the Models page's two gate decisions.
EMPTY_ROWS = """(root) => {
  const rows = new Set([...root.querySelectorAll('td[role=gridcell]')].map(c => c.closest('tr').getAttribute('aria-rowindex'))).size;
  const height = root.getBoundingClientRect().height;
  return rows && rows < 8 && height > (rows + 2) * 35 + 4 ? [`${rows} rows in ${Math.round(height)} px`] : [];
}"""
# A code block on screen scrolled sideways hides its end: the prediction id, to be copied for a late label, ran under
# its box (one in a closed expander is not on screen).
CODE_SCROLLED = """() => [...document.querySelectorAll("[data-testid='stCode'] pre, [data-testid='stCode'] code")]
  .filter(e => e.checkVisibility() && e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""
MUST_SHOW = {"": ["decision", "delivery"], "drift": ["drifted"]}  # columns a person reads first, on screen without scrolling


@pytest.fixture(scope="module")
def table_story(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[tuple[str, int]]:
    """A penguins-like workspace (categories, missing values, three classes, six columns) whose replay has ended: cycles
    that read and tested its stream, then one that found no new data, served with the loop stopped."""
    from core import workspaces
    from tests.core.test_workspace_switching import penguins

    _require_browser()
    data = tmp_path_factory.mktemp("table") / "data"
    base = make_settings(data, mlflow_template)
    path = data.parent / "penguins.csv"
    penguins(900, seed=3).to_csv(path, index=False)
    workspaces.create(base, "penguins", path, "penguins.csv", workspaces.TableChoice("species", initial_rows=500))
    rt = Runtime(workspaces.served_settings(base, "penguins"))
    rt.loop.set_controls(stream_batch_size=200)
    records = [rt.loop.run_cycle() for _ in range(3)]
    assert records[-1].status == "no_data" and all(r.status == "ok" for r in records[:2]), [(r.status, r.reason) for r in records]
    rt.close()
    settings = {"IA_WORKSPACES_DIR": str(base.workspaces_dir), "IA_WORKSPACE": "penguins", "IA_API_ENABLED": "false",
                "IA_SCHEDULER_AUTOSTART": "false", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with launched(tmp_path_factory.mktemp("table-log") / "streamlit.log", settings) as url:
        yield url, records[1].cycle_id


@pytest.fixture(scope="module")
def browser(story: tuple[str, int]):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=_require_browser(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, url: str, **context: object):
    page = browser.new_context(**{"viewport": {"width": 1024, "height": 768}, **context}).new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    _settle(page)
    return page


def _background_luminance(page) -> float:
    rgb = page.evaluate("getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor")
    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_light_dark_and_the_systems_theme_can_be_chosen(story: tuple[str, int], browser) -> None:
    url, _cycle = story
    page = _open(browser, url, color_scheme="dark")
    assert _background_luminance(page) < 0.3  # the system's dark preference is followed
    page.locator("[data-testid='stMainMenu']").click()
    for choice in ("System", "Light", "Dark"):
        page.locator(f"[data-testid='stMainMenuItem-theme-{choice}']").wait_for()
    page.locator("[data-testid='stMainMenuItem-theme-Light']").click()
    page.wait_for_timeout(500)
    assert _background_luminance(page) > 0.8
    page.context.close()


def test_in_dark_mode_the_reference_cloud_stays_visible(story: tuple[str, int], browser) -> None:
    url, cycle = story
    page = _open(browser, f"{url}/drift?cycle={cycle}", color_scheme="dark")
    page.get_by_text("Replay cycles").first.wait_for()
    page.get_by_text(f"Decision boundary at cycle {cycle}").first.wait_for(state="attached")
    markers = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(p => p.data || [])
            .filter(t => (t.name || '').startsWith('reference · ')).map(t => [t.marker.symbol, t.marker.opacity])"""
    )
    assert markers and all(symbol == "circle-open" and opacity >= 0.5 for symbol, opacity in markers), markers
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_text("Replay cycles").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "drift-boundary-dark.png"))
    page.context.close()


@pytest.mark.parametrize("workspace", ["story", "table_story"])
@pytest.mark.parametrize("path", ["", "data", "models", "predict", "drift", "operations"])
def test_at_1024_px_no_chart_title_metric_or_value_is_cut(request: pytest.FixtureRequest, browser, path: str, workspace: str) -> None:
    url, _cycle = request.getfixturevalue(workspace)
    page = _open(browser, f"{url}/{path}")
    if path == "predict":
        page.get_by_role("button", name="Predict", exact=True).click()
        _settle(page)
        page.get_by_text("Why: P(class ").first.wait_for(state="attached")
    if path == "models":
        page.get_by_text("ROC curve").first.wait_for(state="attached")
    if path != "operations":  # its one chart needs health records, which a stopped loop does not write
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .gtitle').length > 0")
    page.wait_for_timeout(800)
    assert _cut_off(page) == [], f"metrics cut on /{path}"
    assert page.evaluate(CODE_SCROLLED) == [], f"code scrolled sideways on /{path}"
    cells = [cut for table in page.locator("[data-testid='stDataFrame']").all() for cut in table.evaluate(CUT_CELLS)]
    assert cells == [], f"table cells cut on /{path}"
    headers = [cut for table in page.locator("[data-testid='stDataFrame']").all() for cut in table.evaluate(HEADERS_CUT)]
    assert headers == [], f"column headers cut on /{path}"
    empty = [e for table in page.locator("[data-testid='stDataFrame']").all() for e in table.evaluate(EMPTY_ROWS)]
    assert empty == [], f"empty rows under a short table on /{path}"
    hidden = [c for table in page.locator("[data-testid='stDataFrame']").all() for c in table.evaluate(HIDDEN_COLUMNS)]
    assert [c for c in MUST_SHOW.get(path, []) if c in hidden] == [], f"columns past the table's edge on /{path}: {hidden}"
    titles = page.evaluate(TITLES_AND_MODEBAR)
    assert [t["text"] for t in titles if not t["inside"]] == [], f"chart titles cut on /{path}"
    assert page.evaluate(ANNOTATIONS_CUT) == [], f"panel titles or line labels cut on /{path}"
    assert page.evaluate(PLOT_OVERLAPS) == [], f"axis titles or legends cut or overlapping on /{path}"
    for plot in page.locator(".js-plotly-plot").all():
        plot.scroll_into_view_if_needed()
        plot.hover()
        page.wait_for_timeout(150)
        assert not plot.evaluate(MODEBAR_OVER_TITLE), f"the toolbar covers a chart title on /{path}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{workspace}-{path or 'overview'}-1024.png"))
    page.context.close()


def test_the_last_event_stays_on_the_overview_and_opens_its_cycle(story: tuple[str, int], browser) -> None:
    url, cycle = story
    page = _open(browser, url)
    page.get_by_text("Last event").first.wait_for()
    page.get_by_text(f"Open cycle {cycle} in full").click()
    page.wait_for_url(re.compile(rf"/drift\?cycle={cycle}$"))
    _settle(page)
    picked = page.locator("[data-testid='stSelectbox']").filter(has_text="Cycle").first
    assert picked.locator("input").input_value().startswith(f"cycle {cycle}")
    replay = page.locator("[data-testid='stSlider']").filter(has_text="Replay cycles").first
    assert replay.locator("[data-testid='stSliderThumbValue']").inner_text().strip() == str(cycle)  # the replay starts there
    page.context.close()


def test_a_prediction_is_in_the_log_at_once(story: tuple[str, int], browser) -> None:
    url, _cycle = story
    page = _open(browser, f"{url}/predict", viewport={"width": 1400, "height": 1000})
    page.get_by_text(re.compile("Predictions logged|No predictions yet")).first.wait_for()
    before = int(_metric(page, "Predictions logged").replace(",", "")) if page.get_by_text("Predictions logged").count() else 0
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text(re.compile(r"by v1\.\d+\.0")).first.wait_for()  # the result, drawn after the page's redraw
    _settle(page)
    logged = page.locator("[data-testid='stMetric']").filter(has_text="Predictions logged").locator("[data-testid='stMetricValue']")
    logged.filter(has_text=re.compile(rf"^{before + 1}$")).wait_for(timeout=15_000)  # the log below the form, redrawn at once
    assert page.get_by_text("No predictions yet").count() == 0
    page.context.close()


def test_a_click_on_the_accuracy_chart_opens_that_cycle(story: tuple[str, int], browser) -> None:
    url, _cycle = story
    page = _open(browser, url, viewport={"width": 1400, "height": 1000})
    page.get_by_text("Accuracy over time").first.wait_for(state="attached")
    plot = page.locator(".js-plotly-plot").filter(has_text="Accuracy over time").first
    plot.scroll_into_view_if_needed()
    # The story's cycles run within a second on a chart at least ten minutes wide, so its points share one x: the
    # point clicked is the realised drop, which no other trace's point sits beside.
    index, wanted = plot.evaluate(
        "gd => { const t = gd._fullData.find(t => (t.name || '').startsWith('Realised'));"
        " const i = t.y.indexOf(Math.min(...t.y)); return [i, t.customdata[i]]; }"
    )
    for _attempt in range(3):  # a click that lands while the 5 s refresh redraws the chart is lost; a person clicks again
        point = plot.locator(".scatterlayer .trace").first.locator("path.point").nth(index)
        box = point.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        page.mouse.click(x, y)
        try:
            page.wait_for_url(re.compile(rf"/drift\?cycle={int(wanted)}$"), timeout=8_000)
            break
        except Exception:
            continue
    assert page.url.endswith(f"/drift?cycle={int(wanted)}")
    _settle(page)
    cycle_box = page.locator("[data-testid='stSelectbox']").filter(has_text="Cycle").first
    cycle_box.wait_for(state="attached", timeout=20_000)  # no blank page: the Overview's timer does not rerun over it
    assert cycle_box.locator("input").input_value().startswith(f"cycle {int(wanted)}")
    page.context.close()


def test_the_overview_answers_at_its_name_as_every_page_does(story: tuple[str, int], browser) -> None:
    url, _cycle = story
    page = _open(browser, url)
    page.goto(f"{url}/overview")  # typed after the app has run once in this tab, as a person does
    _settle(page)
    page.get_by_role("heading", name="Overview").first.wait_for()
    page.wait_for_timeout(2000)  # Streamlit's "Page not found" dialog comes once the page list reaches the browser
    assert page.get_by_text("Page not found").count() == 0 and page.url.rstrip("/").endswith("/overview"), page.url
    page.context.close()
