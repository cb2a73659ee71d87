"""A number as a field or a header shows it: sent as shown, headed as a person writes it, in the dashboard and the
downloadable report alike."""

import pandas as pd
import pytest

from ui import charts
from ui.state import TILE_LINE, as_shown, header, realised_as_of, tile_line


@pytest.mark.parametrize(
    ("typed", "places", "sent"),
    [
        (2.5, 0, 3.0),
        (2.4, 0, 2.0),
        (-2.5, 0, -3.0),
        (33.567, 2, 33.57),
        (2.675, 2, 2.67),
        (-0.0001, 2, 0.0),
        (None, 1, None),
        (1e300, 2, 1e300),
        (-1e300, 0, -1e300),
        (2.0**53 + 2, 3, 2.0**53 + 2),
        (1e13, 15, 1e13),  # past the default 28 digits with 15 decimals (review)
        (1e14 + 0.5, 14, 1e14 + 0.5),
    ],  # tour 21: 1e300 crashed the Predict form
)
def test_a_number_field_sends_what_it_shows(typed: float | None, places: int, sent: float | None) -> None:
    """2.675 is 2.67499... in binary: the browser's toFixed shows 2.67, and so is it sent. Never -0.0."""
    assert as_shown(typed, places) == sent
    if sent is not None:
        assert str(as_shown(typed, places)) != "-0.0"


def test_a_stored_name_is_headed_as_a_person_writes_it() -> None:
    assert [header(n) for n in ("created_at", "rows_seen", "http_status", "p_value", "run_id", "label")] == [
        "created (UTC)", "rows seen", "HTTP status", "p-value", "MLflow run id", "label"]  # fmt: skip


def test_an_explanation_s_labels_add_up_to_the_title_s_figure_even_on_a_half_cent() -> None:
    """2.335 is shown +2.33, while round(2.335 * 100) is 234: the labels added up to 2.34."""
    explained = {"features": ["a"], "contributions": [1.0], "intercept": 1.335, "logit": 1.0 + 1.335, "towards": 1, "per_class": []}
    fig = charts.contributions(explained, "91 %")
    assert "+2.33" in fig.layout.title.text
    assert round(sum(float(t) for t in fig.data[0].text), 2) == 2.33


def test_the_report_heads_its_tables_as_the_dashboard_does() -> None:
    from ui.report import _table

    html = _table(pd.DataFrame({"created_at": ["2026-12-06"], "http_status": [204], "p_value": [0.01]}))
    assert "created (UTC)" in html and "HTTP status" in html and "p-value" in html and "created_at" not in html


def test_the_report_writes_a_missing_count_and_a_time_as_the_page_does() -> None:
    """Tour 13: a superseded challenger's gate row read "<NA>" rows (a nullable integer), and its time had microseconds."""
    from ui.report import _table

    gate = pd.DataFrame({"ts": pd.to_datetime(["2026-12-07 06:33:01.735500"]), "n_rows": pd.array([None], dtype="Int64"),
                         "flag": pd.array([None], dtype="boolean"), "score": [float("nan")]})  # fmt: skip
    html = _table(gate)
    assert "NA" not in html and "None" not in html and html.count("<td>—</td>") == 3
    assert "<td>2026-12-07 06:33:01</td>" in html


@pytest.mark.parametrize(
    ("realised", "newest", "line"),
    [({"cycle_id": 3, "champion_version": 2, "realised_on": 200}, 3, "cycle 3 · 200 labels"),
     ({"cycle_id": 3, "champion_version": 2, "realised_on": 200}, 66, "63 cycles ago · 200 labels"),
     ({"cycle_id": 3, "champion_version": 1, "realised_on": 200}, 66, "v1.0.0's · 63 cycles ago"),
     ({"cycle_id": 3, "champion_version": 2, "realised_on": 1000}, 1237, "1,234 cycles ago"),  # the labels would be cut
     ({"cycle_id": 9999, "champion_version": 2, "realised_on": 5000}, 9999, "cycle 9999 · 5,000 labels"),
     ({"cycle_id": 3, "champion_version": 11, "realised_on": 200}, 12348, "v1.10.0's · 12,345 ago")],
)  # fmt: skip
def test_the_realised_tile_s_line_puts_first_what_matters_and_fits_at_1024_px(realised: dict, newest: int, line: str) -> None:
    assert realised_as_of(realised, 2, newest) == line and len(line) <= TILE_LINE


@pytest.mark.parametrize(
    ("parts", "line"),
    [(["feature drift"], "feature drift"),
     (["feature drift", "realised-accuracy drop"], "feature drift +1 more"),
     (["realised-accuracy drop", "class-share shift", "feature drift"], "realised-accuracy d… +2 more"),
     (["a signal whose name alone is longer than the line"], "a signal whose name alone i…"),
     ([], None)],
)  # fmt: skip
def test_a_tile_s_line_names_what_fits_and_counts_the_rest(parts: list[str], line: str | None) -> None:
    """The Signals tile read "feature drift, realised-accuracy d…" at 1024 px; its help names them all."""
    assert tile_line(parts) == line and len(line or "") <= TILE_LINE
