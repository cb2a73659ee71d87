"""In a real Chromium, what a user sees when the loop fails or finds nothing, and whose labels a figure rests on.

Each workspace is prepared in this process with the runtime (cycles, predictions, labels, a promotion), closed,
then served by `python -m ui.launch` as a user runs it. The failing one has lost its model files (a bad clean-up
of the artifact folder), so every cycle of the served loop fails.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.runtime import Runtime
from tests.e2e.launch import launched
from tests.e2e.test_e2e_browser import ARTIFACTS, _cut_off, _metric, _require_browser, _settle, _shot_at, _visit, chromium_page
from tests.e2e.test_e2e_cosmetics import CANVAS_TEXT, _tables_drawn
from tests.fixtures import make_settings
from tests.waiting import wait_until

pytestmark = pytest.mark.browser


def _serve(folder: Path, interval: str) -> dict[str, str]:
    return {"IA_API_ENABLED": "false", "IA_DATA_DIR": str(folder / "data"), "IA_SCHEDULER_INTERVAL": interval, "LOG_LEVEL": "WARNING"}


def _labelled_by_two_versions(rt: Runtime) -> dict[str, int]:
    """20 predictions of v1.0.0, all right; v1.1.0 promoted; 40 of its predictions, 28 right; labels for all 60 come
    in one cycle. Then a cycle of unlabelled predictions only."""
    rt.loop.set_controls(stream_enabled=False, perf_tolerance=1.0, policy="never")
    rt.loop.run_cycle()
    rng = np.random.default_rng(12)
    first = rt.serving.predict_batch(rng.normal(0, 1, (20, 2)))
    rt.feedback.send([{"prediction_id": i, "label": int(p)} for i, p in zip(first.prediction_ids, first.predictions, strict=True)])
    rt.models.promote(rt.models.train(dataset_ids=[rt.data.generate(1500, seed=3).dataset_id], promote=False).version)
    served = rt.serving.predict_batch(rng.normal(0, 1, (40, 2)))
    truth = served.predictions.copy()
    truth[:12] = 1 - truth[:12]
    rt.feedback.send([{"prediction_id": i, "label": int(t)} for i, t in zip(served.prediction_ids, truth, strict=True)])
    labelled = rt.loop.run_cycle()
    rt.serving.predict_batch(rng.normal(0, 1, (10, 2)))
    rt.serving.flush()
    unlabelled = rt.loop.run_cycle()
    assert labelled.realised_accuracy == pytest.approx(0.7) and unlabelled.realised_accuracy is None
    return {"labelled": labelled.cycle_id, "unlabelled": unlabelled.cycle_id}


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[tuple[str, dict[str, object]]]:
    _require_browser()
    folder = tmp_path_factory.mktemp("failing")
    settings = make_settings(folder / "data", mlflow_template, starter_model=True)
    rt = Runtime(settings)
    try:
        facts: dict[str, object] = _labelled_by_two_versions(rt)
        rt.loop.set_controls(stream_enabled=True)  # the served loop gets rows every cycle, and fails on each
    finally:
        rt.close()
    for child in settings.mlflow_artifacts_dir.iterdir():  # the model files vanish; the folder stays
        shutil.rmtree(child)
    with launched(folder / "streamlit.log", _serve(folder, "2")) as url:
        yield url, facts


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[str]:
    """A workspace whose loop has nothing to read: the stream off and nothing added."""
    _require_browser()
    folder = tmp_path_factory.mktemp("quiet")
    rt = Runtime(make_settings(folder / "data", mlflow_template, starter_model=True))
    rt.loop.set_controls(stream_enabled=False)
    rt.close()
    with launched(folder / "streamlit.log", _serve(folder, "1")) as url:
        yield url


@pytest.fixture(scope="module")
def page():
    with chromium_page() as page:
        yield page


def _delta(page, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    found = metric.locator("[data-testid='stMetricDelta']")
    return found.inner_text() if found.count() else ""


def _column(page, table: int, header: str) -> list[str]:
    """One column of the `table`-th grid on the page, by its header, read from the cells Streamlit's canvas grid keeps
    in the page for accessibility (a live fragment redraws it: read once its header is there)."""
    grid = page.locator("[data-testid='stDataFrame']").nth(table)

    def read() -> list[str] | None:
        headers = [h.strip() for h in grid.locator("[role='columnheader']").all_inner_texts()]
        if header not in headers:
            return None
        cells = grid.locator(f"[role='gridcell'][aria-colindex='{headers.index(header) + 1}']").all_inner_texts()
        return [c.strip() for c in cells] or None

    return wait_until(read, interval=0.5, what=f"the {header!r} column of table {table}")


def test_a_failing_loop_shows_on_the_overview_the_drift_page_and_the_models_page(failing: tuple[str, dict], page) -> None:
    server, facts = failing
    _visit(page, server, "", "failing-overview")
    wait_until(lambda: _metric(page, "Loop") == "failing" and _metric(page, "Signals (latest cycle)") == "failed", interval=1,
               what="the Loop tile saying failing and the latest cycle failed")  # fmt: skip
    _settle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "failing-overview.png"), full_page=True)
    assert re.fullmatch(r"since \d\d:\d\d UTC, \d+ cycles?", _delta(page, "Loop")), _delta(page, "Loop")  # the reason: below
    page.get_by_text(re.compile(r"cycle failed: .*model's files are missing")).first.wait_for()
    assert _metric(page, "Signals (latest cycle)") == "failed"
    page.set_viewport_size({"width": 1024, "height": 1000})
    page.wait_for_timeout(500)
    assert _cut_off(page, deltas=True) == [], "cut off at 1024 px"  # the reason in the tile's line was cut mid-word
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.get_by_text(re.compile(r"Last event · Loop failing since \d\d:\d\d UTC")).first.wait_for()
    assert page.get_by_text("No cycles yet").count() == 0
    page.get_by_text("Cycle failed", exact=True).first.wait_for(state="attached")  # the chart's marks of failed cycles
    _shot_at(page, "Accuracy over time", "failing-overview-chart")
    # the realised figure stays, with when, how many cycles ago and on what, whatever the cycles since did
    assert _metric(page, "Realised accuracy") == "70.0 %"
    assert re.fullmatch(r"[1-9]\d* cycles? ago · 40 labels", _delta(page, "Realised accuracy")), _delta(page, "Realised accuracy")
    page.get_by_text("v1.1.0 70.0 % on 40 labels · v1.0.0 100.0 % on 20 labels", exact=False).first.wait_for()
    champions = _column(page, 0, "champion")
    assert champions[0] == "v1.1.0" and "—" not in champions, champions  # failed cycles too: a champion served them

    failed = int(page.get_by_text(re.compile(r"Open cycle \d+ in full")).first.inner_text().split()[2])
    _visit(page, server, f"drift?cycle={failed}", "failing-drift-cycle")
    page.get_by_text("No verdict: cycle failed").first.wait_for()
    assert page.get_by_text("No verdict stored for this cycle").count() == 0
    _visit(page, server, f"drift?cycle={facts['labelled']}", "failing-drift-labels")
    page.get_by_text("v1.0.0 20 of 20 right (1.000)", exact=False).first.wait_for()

    _visit(page, server, "operations", "failing-operations")
    assert _delta(page, "State") == "cycles failing"
    page.get_by_text(re.compile(r"failing since \d\d:\d\d UTC \(\d+ cycles in a row")).first.wait_for(state="attached")  # health

    _visit(page, server, "models", "failing-models")
    realised = dict(zip(_column(page, 0, "label"), _column(page, 0, "realised (served)"), strict=True))
    assert realised == {"v1.1.0": "70.0 % on 40 labels", "v1.0.0": "100.0 % on 20 labels"}, realised


def test_a_loop_with_nothing_to_read_says_so_and_nothing_false(quiet: str, page) -> None:
    _visit(page, quiet, "", "quiet-overview")
    wait_until(lambda: _metric(page, "Signals (latest cycle)") == "no data", interval=1, what="a no-data cycle")
    _settle(page)
    page.screenshot(path=str(ARTIFACTS / "quiet-overview.png"), full_page=True)
    page.get_by_text(re.compile(r"No cycle has read data yet: the newest, cycle \d+ at")).first.wait_for()
    assert page.get_by_text("No cycles yet").count() == 0
    assert _metric(page, "Realised accuracy") == "—" and "label" not in _delta(page, "Realised accuracy")
    assert page.get_by_text(re.compile(r"\b0 labels")).count() == 0  # a cycle with no labels says "no labels"
    champions = _column(page, 0, "champion")
    assert champions and set(champions) == {"v1.0.0"}, champions
    _visit(page, quiet, "drift", "quiet-drift")
    page.get_by_text(re.compile(r"No verdict: no new data (since cycle \d+|yet), so nothing was measured")).first.wait_for()
    assert page.get_by_text("No verdict stored for this cycle").count() == 0


def test_a_count_in_a_table_is_written_as_the_sentences_write_it_in_a_german_browser(quiet: str, page) -> None:
    """Tables formatted "localized" drew 2.000 in a German browser, beside sentences saying 2,000 rows. Read off the
    canvas: the grid's accessibility cells hold the raw number whatever the format."""
    drawn = []
    context = page.context.browser.new_context(locale="de-DE", viewport={"width": 1400, "height": 1000})  # the module's browser:
    context.add_init_script(CANVAS_TEXT)  # a second Playwright in one thread is refused
    try:
        german = context.new_page()
        german.set_default_timeout(60_000)
        for path, count in (("data", "2,000"), ("models", "1,400")):
            _visit(german, quiet, path, f"quiet-{path}-german")
            german.locator("[data-testid='stDataFrame']").first.wait_for()  # a fresh context under load drew placeholders first

            def read(count: str = count) -> bool:
                drawn.extend(t["text"] for t in _tables_drawn(german))
                return count in drawn or "2.000" in drawn or "1.400" in drawn  # either way, the assertions below say which

            wait_until(read, interval=1, timeout=60, what=f"the {path} page's tables drawn")
    finally:
        context.close()
    assert "2,000" in drawn and "1,400" in drawn, sorted(set(drawn))  # the starter dataset's rows, v1.0.0's training rows
    assert "2.000" not in drawn and "1.400" not in drawn, sorted(set(drawn))
