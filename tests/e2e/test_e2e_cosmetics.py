"""In a real Chromium, what a table's workspace looks like at 1024 and 1280 px: no chart legend over its title, its range
buttons, its panels' titles or its plot; every bar of a prediction's explanation named; no table cell reading "None"
where a value is missing; no table header cut inside its column.

One dashboard for the module, on a workspace made from scikit-learn's breast-cancer table (30 columns, classes
"malignant" and "benign"): its first 300 rows train v1.0.0, the loop replays the rest 100 rows a cycle.
Glide's tables draw on a canvas, so what a cell or a header shows is read off the canvas's own text calls.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core import workspaces
from tests.e2e.launch import launched
from tests.e2e.test_e2e_browser import _require_browser, _settle, chromium_page
from tests.fixtures import make_settings
from tests.waiting import HANG_MS, wait_until

pytestmark = pytest.mark.browser

NAME = "cancer"

# Every text a canvas draws, with where it starts, how wide it is and the clip rectangle it was drawn in (a table's
# header cell is clipped to its column): installed before the page's own scripts run.
CANVAS_TEXT = """
(() => {
  const P = CanvasRenderingContext2D.prototype;
  const rect = P.rect, clip = P.clip, save = P.save, restore = P.restore, fillText = P.fillText;
  window.__drawn = [];
  P.rect = function (x, y, w, h) { this.__rect = [x, y, w, h]; return rect.apply(this, arguments); };
  P.clip = function () { (this.__clips = this.__clips || []).push(this.__rect); return clip.apply(this, arguments); };
  P.save = function () { (this.__saved = this.__saved || []).push((this.__clips || []).length); return save.apply(this, arguments); };
  P.restore = function () {
    if (this.__saved && this.__saved.length && this.__clips) this.__clips.length = this.__saved.pop();
    return restore.apply(this, arguments);
  };
  P.fillText = function (text, x) {
    const clips = this.__clips || [];
    window.__drawn.push({text: String(text), x: x + this.getTransform().e / this.getTransform().a,
                         width: this.measureText(text).width, clip: clips.length ? clips[clips.length - 1] : null});
    return fillText.apply(this, arguments);
  };
})();
"""

# Each chart's legend entries against what they must not cover: the title, the range buttons, the annotations (a
# panel's title among them) and the plot areas.
LEGEND_OVER = """root => [...root.querySelectorAll('.js-plotly-plot')].flatMap(plot => {
  const box = e => e.getBoundingClientRect();
  const hit = (a, b) => a.width > 0 && b.width > 0 && a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1
                        && b.top < a.bottom - 1;
  const title = plot.querySelector('.g-gtitle text');
  const name = title ? title.textContent : 'a chart without a title';
  const covered = [
    ...(title ? [['its title', box(title)]] : []),
    ...[...plot.querySelectorAll('.rangeselector .button')].map(e => ['a range button', box(e)]),
    ...[...plot.querySelectorAll('.infolayer .annotation text')].map(e => [`the annotation "${e.textContent}"`, box(e)]),
    ...[...plot.querySelectorAll('.nsewdrag')].map(e => ['its plot', box(e)]),
  ];
  return [...plot.querySelectorAll('.legend .traces .legendtext')].flatMap(entry =>
    covered.filter(([, b]) => hit(box(entry), b)).map(([what]) => `${name}: "${entry.textContent}" covers ${what}`));
})"""

CHARTS_DRAWN = """() => {
  const charts = document.querySelectorAll("[data-testid='stPlotlyChart']");
  return charts.length > 0 && [...charts].every(c => c.querySelector('.js-plotly-plot .main-svg'));
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[str]:
    _require_browser()
    from sklearn.datasets import load_breast_cancer

    folder = tmp_path_factory.mktemp("cosmetics")
    base = make_settings(folder / "data", mlflow_template)
    table = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0)
    table["target"] = table["target"].map({0: "malignant", 1: "benign"})
    path = folder / "cancer.csv"
    table.to_csv(path, index=False)
    workspaces.create(base, NAME, path, "cancer.csv", workspaces.TableChoice("target", initial_rows=300))
    settings = {"IA_DATA_DIR": str(base.data_dir), "IA_WORKSPACES_DIR": str(base.workspaces_dir), "IA_WORKSPACE": NAME,
                "IA_API_ENABLED": "false", "IA_SCHEDULER_INTERVAL": "2", "IA_STREAM_BATCH_SIZE": "100", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with launched(folder / "streamlit.log", settings) as url:
        yield url


@contextmanager
def _page(width: int, height: int = 900) -> Iterator[object]:
    """A page of a Chromium of its own, `width` x `height`, recording what its canvases draw (CANVAS_TEXT)."""
    with chromium_page(width, height, init_script=CANVAS_TEXT) as page:
        page.set_default_timeout(HANG_MS)
        yield page


def _open(page, url: str) -> None:
    page.goto(url)
    _settle(page)
    page.wait_for_function(CHARTS_DRAWN, timeout=HANG_MS)
    page.wait_for_timeout(500)


def _replayed(page, server: str) -> None:
    """The loop has replayed the whole stream: the Operations page says so once opened after its end."""

    def ended() -> bool:
        page.goto(f"{server}/operations")
        _settle(page)
        return page.get_by_text("has ended (269 rows)").count() > 0

    wait_until(ended, interval=1.0, what="the replay's end")


def _tables_drawn(page) -> list[dict]:
    """What the page's tables drew since it was opened, every column of them: each table shown is scrolled to its right
    end and back (one in a closed expander is not drawn)."""
    for grid in page.locator("[data-testid='stDataFrame']").all():
        if not grid.is_visible():
            continue
        grid.scroll_into_view_if_needed()
        scroller = grid.locator(".dvn-scroller").first
        hidden = scroller.evaluate("s => s.scrollWidth - s.clientWidth")  # as far as it scrolls, not 6,000 px of every table
        for left in [*range(0, max(hidden, 0), 400), max(hidden, 0)]:
            scroller.evaluate(f"s => s.scrollTo({left}, 0)")
            page.wait_for_timeout(60)
        scroller.evaluate("s => s.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    return page.evaluate("window.__drawn")


@pytest.mark.parametrize("width", [1024, 1280])
def test_no_legend_covers_a_title_a_range_button_a_panel_title_or_a_plot(server: str, width: int) -> None:
    with _page(width, 1000) as page:
        _replayed(page, server)
        covered = []
        for path in ("", "models", "drift?cycle=1", "data"):
            _open(page, f"{server}/{path}")
            covered += [f"/{path}: {c}" for c in page.locator("[data-testid='stMain']").evaluate(LEGEND_OVER)]
    assert covered == [], "\n".join(covered)


def test_every_bar_of_a_prediction_s_explanation_is_named_at_1024_px(server: str) -> None:
    with _page(1024) as page:
        page.goto(f"{server}/predict")
        _settle(page)
        page.locator("[data-testid='stForm']").get_by_role("button", name="Predict").click()
        why = page.locator("[data-testid='stPlotlyChart']").filter(has_text="Why:")
        why.locator(".main-svg").first.wait_for()
        page.wait_for_timeout(500)
        bars = why.locator(".barlayer .point").count()
        names = why.locator(".yaxislayer-above .ytick text").evaluate_all(
            "ticks => ticks.map(t => { const b = t.getBoundingClientRect(); return [t.textContent, b.top, b.bottom]; })"
        )
    assert bars == 31  # the 30 columns and the intercept
    assert len(names) == bars, f"{len(names)} of {bars} bars are named: {[n for n, *_ in names]}"
    rows = sorted(names, key=lambda n: n[1])
    assert all(a[2] <= b[1] + 1 for a, b in itertools.pairwise(rows)), "two bar names overlap"


def test_no_table_says_none_where_a_value_is_missing(server: str) -> None:
    with _page(1600) as page:
        page.goto(f"{server}/predict")
        _settle(page)
        page.locator("[data-testid='stForm']").get_by_role("button", name="Predict").click()  # a logged row with no label yet
        page.get_by_text("Predictions logged").wait_for()
        _replayed(page, server)  # alerts with no delivery status, gate events with no own-holdout scores
        said = {}
        for path in ("", "operations", "predict", "data", "drift", "models"):
            page.goto(f"{server}/{path}")
            _settle(page)
            said[path] = sum(t["text"] == "None" for t in _tables_drawn(page))
    assert said == dict.fromkeys(said, 0), f"cells reading None, by page: {said}"


def test_every_coefficient_is_named_at_1024_px(server: str) -> None:
    """Upright bars in a half-width column named every other one of the table's 30 inputs, slanted and cut."""
    with _page(1024) as page:
        _open(page, f"{server}/models")
        chart = page.locator("[data-testid='stPlotlyChart']").filter(has_text="Coefficients")
        chart.scroll_into_view_if_needed()
        chart.locator(".main-svg").first.wait_for()
        page.wait_for_timeout(500)
        names = chart.locator(".yaxislayer-above .ytick text").evaluate_all(
            "ticks => ticks.map(t => { const b = t.getBoundingClientRect(); return [t.textContent, b.top, b.bottom, b.left]; })"
        )
        left = chart.bounding_box()["x"]
    assert len(names) == 30, f"{len(names)} of 30 inputs named: {[n for n, *_ in names]}"
    rows = sorted(names, key=lambda n: n[1])
    assert all(a[2] <= b[1] + 1 for a, b in itertools.pairwise(rows)), "two names overlap"
    assert min(n[3] for n in names) >= left - 1, "a name starts left of its chart"


def test_no_table_header_is_cut_inside_its_column_at_1024_px(server: str) -> None:
    with _page(1024) as page:
        _replayed(page, server)
        cut = []
        for path in ("", "operations", "predict"):
            page.goto(f"{server}/{path}")
            _settle(page)
            headers = [t for t in _tables_drawn(page) if t["clip"] and t["clip"][1] == 0 and t["clip"][3] <= 40]
            assert headers, f"no table header drawn on /{path}"
            cut += sorted({f"/{path}: {t['text']}" for t in headers if t["x"] + t["width"] > t["clip"][0] + t["clip"][2] + 0.5})
    assert cut == [], f"headers cut inside their column: {cut}"


def test_the_latest_cycles_show_every_column_but_the_verdict_whole_at_1024_px(server: str) -> None:
    """Tour 18: at 1024 px the Overview's Latest cycles cut its "estimated" column, the label-free figure beside the realised
    one; the verdict, the widest, is read by hovering its cells."""
    with _page(1024) as page:
        _replayed(page, server)
        page.goto(server)
        _settle(page)
        grid = page.locator("[data-testid='stDataFrame']").first  # Latest cycles, above Latest alerts
        grid.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        visible = grid.bounding_box()["width"]
        ours = ("cycle", "started (UTC)", "decision", "champion", "realised", "estimated")
        headers = {t["text"]: t["clip"] for t in page.evaluate("window.__drawn") if t["clip"] and t["clip"][1] == 0 and t["text"] in ours}
    assert set(headers) == set(ours), headers
    cut = [name for name, (x, _, w, _) in headers.items() if x + w > visible + 0.5]
    assert cut == [], f"columns past the table's right edge ({visible:.0f} px): {cut}"


SELECTS_CUT = """() => [...document.querySelectorAll("[data-testid='stSelectbox'] input")]
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => `${e.getAttribute('aria-label')}: ${e.value}`)"""


def test_no_select_box_cuts_its_choice_at_1024_px(server: str) -> None:
    """Tour 9: the stream's source read "Replay 2: edge.csv ·" at 1024 px, a third of the form's width."""
    with _page(1024) as page:
        cut, seen = [], []
        for path in ("operations", "data", "models", "drift", "predict"):
            page.goto(f"{server}/{path}")
            _settle(page)
            for summary in page.locator("[data-testid='stExpander'] summary").all():  # a closed one's boxes measure 0 wide
                if summary.is_visible() and not summary.evaluate("s => s.parentElement.open"):
                    summary.click()
            page.wait_for_timeout(500)
            seen += page.evaluate("""() => [...document.querySelectorAll("[data-testid='stSelectbox'] input")].map(e => e.value)""")
            cut += [f"/{path}: {c}" for c in page.evaluate(SELECTS_CUT)]
    assert any(v.startswith("Replay ") and "cancer.csv" in v for v in seen), seen  # the replay's source, named in full
    assert cut == [], f"select boxes whose choice is cut: {cut}"
