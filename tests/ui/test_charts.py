"""The figures and formats the pages draw with: markers where events happened, readable axes, one palette."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.domain.features import TARGET
from core.runtime import Runtime
from ui import charts
from ui.report import drift_report_html
from ui.state import percent

T0 = pd.Timestamp("2026-11-26 12:00:00")


def history(n: int) -> pd.DataFrame:
    ts = [T0 + pd.Timedelta(seconds=30 * i) for i in range(n)]
    return pd.DataFrame({"ts": ts, "realised": [0.9] * n, "estimated": [0.88] * n, "drift": [False] * n, "rejected": [False] * n})


def events() -> pd.DataFrame:
    return pd.DataFrame(
        {"ts": [T0 + pd.Timedelta(minutes=5), T0 + pd.Timedelta(minutes=9), T0 + pd.Timedelta(minutes=10)],
         "kind": ["gate", "gate", "rollback"], "version": [2, 3, 2], "promoted": [True, False, True]}
    )  # fmt: skip


def test_promotions_and_rollbacks_are_vertical_lines_at_their_time() -> None:
    fig = charts.accuracy_history(history(40), events())
    lines = [(s.x0, s.line.color) for s in fig.layout.shapes]
    assert lines == [
        (T0 + pd.Timedelta(minutes=5), charts.COLOURS["promotion"]),
        (T0 + pd.Timedelta(minutes=10), charts.COLOURS["rollback"]),
    ]
    assert sorted(a.text for a in fig.layout.annotations) == ["v1.1.0", "v1.1.0"]  # the rejected v1.2.0 draws no line
    assert {t.name for t in fig.data} >= {"Promotion", "Rollback"}
    assert [b.label for b in fig.layout.xaxis.rangeselector.buttons] == ["1h", "6h", "1d", "all"]


def test_a_rollback_after_the_last_cycle_is_on_the_axis() -> None:
    """The loop paused at minute 2; a rollback at minute 6: the axis ended at 2:15 and the line was off it, while the
    Champion tile named the version it put back."""
    late = pd.DataFrame({"ts": [T0 + pd.Timedelta(minutes=6)], "kind": ["rollback"], "version": [1], "promoted": [True]})
    fig = charts.accuracy_history(history(5), late)
    low, high = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert low <= T0 and high > T0 + pd.Timedelta(minutes=6) and [s.x0 for s in fig.layout.shapes] == [T0 + pd.Timedelta(minutes=6)]
    ran = history(40).assign(last_ts=lambda h: h["ts"])  # 20 minutes of cycles, then 9 hours that read nothing
    idle = charts.accuracy_history(ran, late.assign(ts=[T0 + pd.Timedelta(hours=10)]), newest=T0 + pd.Timedelta(hours=9))
    assert pd.Timestamp(idle.layout.xaxis.range[1]) > T0 + pd.Timedelta(hours=10)  # the long-idle view's own range, widened
    rejected = late.assign(ts=[T0 + pd.Timedelta(hours=10)], promoted=[False])  # no line: it does not stretch the axis
    assert pd.Timestamp(charts.accuracy_history(history(5), rejected).layout.xaxis.range[1]) < T0 + pd.Timedelta(minutes=15)


def test_the_estimate_is_drawn_with_its_band_where_cycles_have_one() -> None:
    banded = history(10).assign(estimated_low=[0.85] * 10, estimated_high=[0.91] * 10)
    fig = charts.accuracy_history(banded)
    band = [t for t in fig.data if t.fill == "tonexty"]
    assert [t.name for t in band] == ["Estimate's 95 % band"] and list(band[0].y) == [0.85] * 10
    assert "Estimate's 95 % band" not in {t.name for t in charts.accuracy_history(history(10)).data}
    assert charts.estimate_band({"estimated_low": 0.851, "estimated_high": 0.912}) == "95 % band 85.1–91.2 %"
    older = {"cycle_id": 2, "estimated_low": 0.92, "estimated_high": 0.998}
    assert charts.estimate_band(older, 6) == "4 cycles ago · 92.0–99.8 %"  # it fits a tile at 1024 px
    assert charts.estimate_band(older, 3) == "1 cycle ago · 92.0–99.8 %"  # as the realised tile beside it says (tour 19)
    assert charts.estimate_band(older, 12_002, room=28) == "12,000 ago · 92.0–99.8 %"  # "12,000 cycles ago · …" would be cut
    assert charts.estimate_band({"estimated_low": None, "estimated_high": None}) is None
    before = {"cycle_id": 6, "champion_version": 1, "estimated_low": 0.236, "estimated_high": 1.0}  # tour 15: whose, after a promotion
    assert charts.estimate_band(before, 6, champion=2) == "v1.0.0's · 23.6–100.0 %" and charts.estimate_band(before, 6, champion=1) == (
        "95 % band 23.6–100.0 %")  # fmt: skip


def test_version_labels_of_close_promotions_share_one_label_at_the_foot_of_the_plot() -> None:
    """A replay promoted seven versions in minutes: their staggered labels ran over each other and the drift markers."""
    close = pd.DataFrame({"ts": [T0 + pd.Timedelta(seconds=s) for s in (0, 5, 10, 600)], "kind": ["gate"] * 4,
                          "version": [2, 3, 4, 5], "promoted": [True] * 4})  # fmt: skip
    fig = charts.accuracy_history(history(40), close)
    assert [a.text for a in fig.layout.annotations] == ["v1.1.0–v1.3.0", "v1.4.0"]
    assert len(fig.layout.shapes) == 4  # every change keeps its line
    assert all(a.y < 0.5 and a.yanchor == "bottom" for a in fig.layout.annotations)  # under the 90 % line, not on it
    assert fig.layout.annotations[0].x == T0 + pd.Timedelta(seconds=10)  # beside the group's newest line
    wide = charts.accuracy_history(history(40).assign(ts=lambda h: T0 + (h["ts"] - T0) * 100), close)
    assert [a.text for a in wide.layout.annotations] == ["v1.1.0–v1.4.0"]  # 10 minutes apart in 33 hours shown: one place
    shown = history(40)["ts"].max() - T0
    chained = pd.DataFrame({"ts": [T0 + shown * i / 35 for i in range(20)], "kind": ["gate"] * 20, "version": range(2, 22),
                            "promoted": [True] * 20})  # fmt: skip
    labels = [a.text for a in charts.accuracy_history(history(40), chained).layout.annotations]
    assert len(labels) == 10 and labels[0] == "v1.1.0–v1.2.0"  # each within 1/30 of its first, not one chain of 20
    back = pd.DataFrame({"ts": [T0, T0 + pd.Timedelta(seconds=5)], "kind": ["gate", "rollback"], "version": [3, 2], "promoted": [True] * 2})
    assert [a.text for a in charts.accuracy_history(history(40), back).layout.annotations] == ["v1.2.0", "v1.1.0"]  # not "v1.2.0–v1.1.0"


def test_one_cycle_shows_both_accuracies_and_markers_carry_their_cycle() -> None:
    one = history(1).assign(drift=[True], first_cycle=[7], marked_cycle=[7])
    fig = charts.accuracy_history(one)
    modes = {t.name: t.mode for t in fig.data}
    assert "markers" in modes["Estimated accuracy (label-free)"]  # one point of a dotted line alone is invisible
    drift = next(t for t in fig.data if t.name == "Drift detected")
    assert list(drift.customdata) == [7]


def test_the_realised_accuracy_says_what_it_rests_on_and_its_size_is_the_label_coverage() -> None:
    late = history(3).assign(
        last_cycle=[1, 2, 3], marked_cycle=[None] * 3, labelled=[0, 20, 200], served=[200, 200, 200], coverage=[0.0, 0.1, 1.0],
        delay_p50=[None, 30.0, 65.0], realised=[None, 0.7, 0.8],
    )  # fmt: skip
    realised = next(t for t in charts.accuracy_history(late).data if t.name == "Realised accuracy (labels that arrived)")
    assert realised.text[2] == "on 200 labels; 200 rows served (coverage 100 %, label delay p50 65 s)" and realised.customdata[2] == 3
    assert realised.text[1] == "on 20 labels; 200 rows served (coverage 10 %, label delay p50 30 s)"
    assert list(realised.marker.size) == pytest.approx([3.0, 3.7, 10.0])
    plain = next(t for t in charts.accuracy_history(history(3)).data if t.name == "Realised accuracy (labels that arrived)")
    assert plain.marker.size == 4 and plain.text is None  # cycles stored before label counts existed


def test_cycles_a_few_seconds_apart_fill_their_axis() -> None:
    """Tour 21: twenty cycles 5 s apart sat in the right tenth of a ten-minute axis; the axis is twenty steps wide now."""
    fast = history(20).assign(ts=[T0 + pd.Timedelta(seconds=5 * i) for i in range(20)])
    low, high = (pd.Timestamp(v) for v in charts.accuracy_history(fast).layout.xaxis.range)
    assert pd.Timedelta(seconds=95) < high - low <= pd.Timedelta(seconds=100) and low < T0


def test_one_cycle_gets_a_readable_time_axis() -> None:
    for fig in (charts.accuracy_history(history(1)), charts.latency(pd.DataFrame({"ts": [T0], "p50_ms": [1.0], "p95_ms": [2.0]}))):
        low, high = (pd.Timestamp(v) for v in fig.layout.xaxis.range)
        assert high - low == charts.MIN_TIME_SPAN and T0 < high <= T0 + pd.Timedelta(seconds=30)  # not minutes into the future
    one = charts.latency(pd.DataFrame({"ts": [T0], "p50_ms": [18.5], "p95_ms": [None]}))  # tour 14: above the top gridline
    assert one.layout.yaxis.range == (0, pytest.approx(18.5 * 1.15))
    almost = charts.accuracy_history(history(20).assign(ts=lambda h: T0 + (h["ts"] - T0) * 590 / 570))  # 590 s of cycles
    low, high = (pd.Timestamp(v) for v in almost.layout.xaxis.range)
    assert low < T0 and high > T0 + pd.Timedelta(seconds=590)  # the oldest point stays on the axis


def test_reference_and_current_are_the_same_distinct_pair_everywhere() -> None:
    frame = pd.DataFrame({"feature_1": [0.0, 1.0, 2.0]})
    overlay = charts.distribution_overlay(frame, frame, "feature_1", "Current batch")
    balance = charts.class_balance({0: 1, 1: 1}, {0: 2, 1: 1}, "Current batch")
    pair = [t.marker.color for t in overlay.data]
    assert pair == [t.marker.color for t in balance.data] == [charts.COLOURS["reference"], charts.COLOURS["current"]]
    roles = ("reference", "current", "class_0", "class_1", "champion", "challenger")
    assert len({charts.COLOURS[r] for r in roles}) == len(roles)


def test_reference_and_current_are_binned_alike() -> None:
    """Binned apart, a batch of narrow values got bars a tenth of the reference's width: two densities not comparable."""
    reference = pd.DataFrame({"x": np.linspace(0.0, 10.0, 400)})
    current = pd.DataFrame({"x": pd.array([4.0, 4.5, 5.0, None], dtype="Float64")})
    ref_bins, cur_bins = (t.xbins for t in charts.distribution_overlay(reference, current, "x", "Current batch").data)
    assert ref_bins == cur_bins and (ref_bins.start, ref_bins.size) == (0.0, 0.25) and ref_bins.end > 10.0
    ages = pd.DataFrame({"age": np.arange(18, 91).repeat(3)})  # whole numbers: 1.8-wide bins held one or two ages each
    bins = charts.distribution_overlay(ages, ages, "age", "Current batch").data[0].xbins
    assert (bins.start, bins.size) == (17.5, 2.0)


@pytest.mark.parametrize(
    ("value", "shown"), [(0.9997, "99.97 %"), (0.5, "50.0 %"), (1.0, "100.0 %"), (0.99999, "99.999 %"), (None, "—"), (0.123, "12.3 %")]
)
def test_percentages_never_round_up_to_certainty(value: float | None, shown: str) -> None:
    assert percent(value) == shown


def test_the_drift_report_is_one_self_contained_file(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_stream_scenario("covariate_shift", 1.5)
    cycle = rt.loop.run_cycle()
    detail = rt.insights.cycle_detail(cycle.cycle_id)
    _ref, reference = rt.insights.reference_sample(cycle.cycle_id)
    current = rt.insights.batch_sample(*detail.batch_range)
    figures = [charts.distribution_overlay(reference, current, f, "Current batch") for f in rt.store.features]
    page = drift_report_html(detail, figures)
    assert page.startswith("<!doctype html>") and f"cycle {cycle.cycle_id}" in page
    assert cycle.verdict.split(":")[0] in page and "feature_1" in page and "feature_2" in page
    assert "<th>measured</th>" in page and "KS statistic" in page and "<td>KS</td>" in page  # each test named, in its unit
    assert "<script src=" not in page and page.count("Plotly.newPlot") == 2 and len(page) > 1_000_000  # plotly.js inlined once
    record = rt.store.cycle(cycle.cycle_id)  # its figures as the Drift page writes them (tour 9: 0.4300 beside 43.0 %)
    assert f"<td>{percent(record['realised_accuracy'])}</td>" in page and f"<td>{percent(record['performance_bar'])}</td>" in page
    assert f"<td>Its upper bound (a drop is called on it)</td>\n      <td>{percent(record['realised_upper'])}</td>" in page
    assert f"<td>{record['started_at']:%Y-%m-%d %H:%M:%S}</td>" in page and "<td>on 200 labels; 200 rows served (coverage 100 %" in page
    assert "<td>None</td>" not in page  # an alert's HTTP status, none yet, read "None" in the report (tour 11)
    noted = drift_report_html(detail, [], notes=["Far values in the rows compared: feature_1 2 of 200 (< 1 %)."])
    assert "<p>Far values in the rows compared: feature_1 2 of 200 (&lt; 1 %).</p>" in noted  # the page's line beneath the table


@pytest.mark.parametrize(
    ("cls", "named"),
    [("malignant", "class malignant"), (1, "class 1"), ("class_0", "class_0"), ("Class A", "Class A"), ("class2", "class2"),
     ("classic", "class classic")],
)  # fmt: skip
def test_a_class_is_called_class_once(cls: object, named: str) -> None:
    assert charts.class_name(cls) == named


def test_the_labels_class_shares_stand_in_the_schema_s_order_each_one_drawn() -> None:
    classes = ("low", "mid", "high")
    reference = pd.DataFrame({TARGET: [2, 2, 2, 1, 1, 0]})  # "high" most frequent, "low" least
    current = pd.DataFrame({TARGET: [0, 0, 1]})  # "high" gone from the batch
    fig = charts.label_overlay(reference, current, classes, "Cycle 3 batch")
    assert [list(bar.x) for bar in fig.data] == [list(classes), list(classes)]
    assert list(fig.data[1].y) == pytest.approx([2 / 3, 1 / 3, 0.0])


def test_every_coefficient_is_named_on_a_line_of_its_own() -> None:
    names = [f"mean {i} of the cell nuclei" for i in range(30)]
    two = {"v1.0.0": {"linear": {"names": names, "coef": [list(np.linspace(-1, 1, 30))]}},
           "v1.1.0": {"linear": {"names": names, "coef": [list(np.linspace(1, -1, 30))]}}}  # fmt: skip
    fig = charts.coefficients(two, [], ("malignant", "benign"))
    assert [bar.orientation for bar in fig.data] == ["h", "h"] and list(fig.layout.yaxis.tickvals) == names
    assert fig.layout.height >= 20 * 30  # a bar group's height for each name: Plotly names them all
    title = fig.layout.title.text  # wrapped to fit a half-width column
    assert "<br>" in title and title.replace("<br>", " ") == "Coefficients (per sd; + is towards class benign)", title
    plain = charts.coefficients({"v1.0.0": {"linear": {"coef": [0.5, -0.2]}}}, ["feature_1", "feature_2"])
    assert list(plain.data[0].y) == ["feature_1", "feature_2"] and list(plain.data[0].x) == [0.5, -0.2]


def test_psi_read_off_too_few_rows_is_drawn_hollow_where_the_table_says_so(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(policy="never", stream_batch_size=40)  # 40 rows against ten bins: PSI is mostly noise
    rt.loop.run_cycle()
    rt.loop.set_controls(stream_batch_size=400)
    rt.loop.run_cycle()
    history = rt.store.drift_history()
    assert history.sort_values("ts").groupby("feature")["psi_too_few"].apply(list).tolist() == [[True, False]] * 2
    fig = charts.drift_statistics(history, 0.1, 0.2, 0.1)
    psi = [t for t in fig.data if t.yaxis == "y3" and t.name in ("feature_1", "feature_2")]
    assert [list(t.marker.symbol) for t in psi] == [["circle-open", "circle"]] * 2
    assert "hollow: too few rows" in " ".join(a.text for a in fig.layout.annotations)


def test_a_long_input_name_is_shortened_beside_its_coefficient_and_whole_in_its_hover() -> None:
    names = ["alcohol", "od280/od315_of_diluted_wines"]
    fig = charts.coefficients({"v1.0.0": {"linear": {"names": names, "coef": [[0.3, -0.4]]}}}, [], ("a", "b"))
    assert list(fig.layout.yaxis.ticktext) == ["alcohol", "od280/od315_of_dilute…"] and list(fig.data[0].y) == names
    assert list(fig.data[0].customdata) == names and fig.data[0].hovertemplate.startswith("%{customdata}")


def _history(tests: list[str]) -> pd.DataFrame:
    ts = pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:05"])
    return pd.DataFrame([{"ts": t, "feature": f"{kind}_col", "test": kind, "p_value": 0.5, "threshold": 0.01, "effect": 0.2, "psi": 0.3,
                          "statistic": 0.1, "drifted": False} for kind in tests for t in ts])  # fmt: skip


def test_the_drift_levels_are_legend_entries_naming_only_the_tests_the_history_holds() -> None:
    wine = charts.drift_statistics(_history(["ks", "chi2"]), 0.1, 0.25, 0.1)  # numbers and class shares, no missing values
    titles = " ".join(a.text for a in wine.layout.annotations)
    assert "Effect (sd; Jensen-Shannon for categories)" in titles and "missing" not in titles
    named = {t.name: (t.yaxis, t.line.dash) for t in wine.data if t.mode == "lines" and t.showlegend is not False}
    assert named == {"threshold (α / tests)": ("y", "dash"), "effect floor 0.1 (Wasserstein sd, Jensen-Shannon)": ("y2", "dash"),
                     "PSI high ≥ 0.25": ("y3", "dash"), "PSI moderate ≥ 0.1": ("y3", "dot")}  # fmt: skip
    threshold = next(t for t in wine.data if t.name == "threshold (α / tests)")
    assert threshold.line.shape == "hv"  # flat through each cycle, not slanted from one cycle's count of tests to the next (tour 21)
    lines = {(shape.yref, shape.y0, shape.line.dash) for shape in wine.layout.shapes}  # each across its whole panel
    assert lines == {("y2", 0.1, "dash"), ("y3", 0.25, "dash"), ("y3", 0.1, "dot")}
    assert not [a.text for a in wine.layout.annotations if a.text in ("high", "moderate") or a.text.startswith("floor")]
    table = charts.drift_statistics(_history(["ks", "chi2", "missing"]), 0.1, 0.25, 0.1)
    assert "share for missing rates" in " ".join(a.text for a in table.layout.annotations)
    floors = {(shape.y0, shape.line.dash) for shape in table.layout.shapes if shape.yref == "y2"}
    assert floors == {(0.1, "dash"), (0.05, "dashdot")}  # a missing rate's floor is its own line, below the others'
    named = {t.name: t.line.dash for t in table.data if (t.name or "").startswith("effect floor")}
    assert named == {"effect floor 0.1 (Wasserstein sd, Jensen-Shannon)": "dash", "effect floor 0.05 (missing share)": "dashdot"}
    categories = charts.drift_statistics(_history(["chi2"]), 0.3, 0.25, 0.1)  # no KS test: its floor is not drawn
    assert {t.name for t in categories.data if (t.name or "").startswith("effect floor")} == {"effect floor 0.1 (Jensen-Shannon)"}


def test_every_series_of_the_drift_history_is_drawn_in_a_line_of_its_own() -> None:
    """Ten columns, the labels and the predicted class: twelve series, more than the palette's colours."""
    history = pd.concat([_history(["ks"]).assign(feature=f"column_{i}") for i in range(10)]
                        + [_history(["chi2"]).assign(feature=name) for name in ("(label)", "(predicted class)")])  # fmt: skip
    fig = charts.drift_statistics(history, 0.1, 0.25, 0.1)
    styles = {t.name: (t.line.color, t.line.dash) for t in fig.data if t.yaxis == "y" and t.legendgroup}
    assert len(styles) == 12 and len(set(styles.values())) == 12, styles


def test_cycles_after_the_last_that_read_data_are_a_shaded_span_to_the_newest() -> None:
    history = pd.DataFrame({"ts": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:30"]),
                            "last_ts": pd.to_datetime(["2026-01-01 10:20", "2026-01-01 10:40"]),
                            "realised": [0.9, 0.8], "estimated": [0.88, 0.82]})  # fmt: skip
    newest = pd.Timestamp("2026-01-01 11:30")  # the replay ended at 10:40; the loop ran on, reading nothing
    fig = charts.accuracy_history(history, None, newest)
    (span,) = [s for s in fig.layout.shapes if s.type == "rect"]
    assert (pd.Timestamp(span.x0), pd.Timestamp(span.x1)) == (pd.Timestamp("2026-01-01 10:40"), newest)
    assert "No new data (cycles that read nothing)" in [t.name for t in fig.data]
    fresh = charts.accuracy_history(history, None, pd.Timestamp("2026-01-01 10:40"))  # the newest cycle read data
    assert not [s for s in fresh.layout.shapes if s.type == "rect"] and not [t for t in fresh.data if (t.name or "").startswith("No new")]


def test_a_long_idle_span_runs_off_the_right_edge_instead_of_squeezing_the_measured_cycles() -> None:
    history = pd.DataFrame({"ts": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:30"]),
                            "last_ts": pd.to_datetime(["2026-01-01 10:20", "2026-01-01 10:40"]),
                            "realised": [0.9, 0.8], "estimated": [0.88, 0.82]})  # fmt: skip
    newest = pd.Timestamp("2026-01-02 10:40")  # a day of cycles that read nothing after 40 minutes that read data
    fig = charts.accuracy_history(history, None, newest)
    (span,) = [s for s in fig.layout.shapes if s.type == "rect"]
    assert pd.Timestamp(span.x1) == newest  # the span still runs to the newest cycle ...
    low, high = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert low < pd.Timestamp("2026-01-01 10:00") and high == pd.Timestamp("2026-01-01 10:50")  # ... past the edge


def test_the_accuracy_lines_break_where_no_cycle_ran() -> None:
    """The workspace was closed for ten minutes: the lines drew a straight line through them, as if measured."""
    before, after = history(10), history(10).assign(ts=lambda h: h["ts"] + pd.Timedelta(minutes=15))
    fig = charts.accuracy_history(pd.concat([before, after], ignore_index=True))
    realised = next(t for t in fig.data if t.name.startswith("Realised"))
    assert len(realised.y) == 21 and np.isnan(realised.y[10]) and not realised.connectgaps  # one break, in the pause
    assert realised.x[9] < realised.x[10] < realised.x[11]
    banded = pd.concat([before, after], ignore_index=True).assign(estimated_low=0.85, estimated_high=0.91)
    fills = [t for t in charts.accuracy_history(banded).data if t.fill == "tonexty"]
    assert [len(t.y) for t in fills] == [10, 11] and [t.showlegend for t in fills] == [True, False]  # a band each side
    slower = pd.concat([history(120), history(60).assign(ts=lambda h: T0 + pd.Timedelta(hours=1) + (h["ts"] - T0) * 10)])
    breaks = next(t for t in charts.accuracy_history(slower.reset_index(drop=True)).data if t.name.startswith("Realised")).y
    assert int(np.isnan(np.asarray(breaks, dtype=float)).sum()) <= 1  # the interval went from 30 s to 5 min: no break at each step
    steady = charts.accuracy_history(history(20))
    assert len(next(t for t in steady.data if t.name.startswith("Realised")).y) == 20  # 30 s steps: no break


def test_a_long_category_name_is_shortened_under_its_bar_and_whole_in_its_hover() -> None:
    """ "Nantes-Saint-Nazaire Métropole" slanted under a half-width chart left the plot 5 px tall at 1024 px."""
    long = "Nantes-Saint-Nazaire Métropole"
    frame = pd.DataFrame({"city": [long, "Lyon", long, None]})
    fig = charts.distribution_overlay(frame, frame, "city", "Current batch")
    assert list(fig.data[0].x) == [long, "Lyon", "(missing)"]  # the hover's name, whole
    assert list(fig.layout.xaxis.ticktext) == ["Nantes-Saint-Nazaire …", "Lyon", "(missing)"]
    short = charts.distribution_overlay(frame.replace(long, "Nantes"), frame.replace(long, "Nantes"), "city", "Current batch")
    assert fig.layout.height > short.layout.height  # the slanted names take height, given back to the plot


def test_long_category_names_that_share_their_start_are_told_apart_under_their_bars() -> None:
    """Two names alike in their first 21 characters were both cut to "Nantes-Saint-Nazaire …"."""
    names = ["Nantes-Saint-Nazaire Métropole", "Nantes-Saint-Nazaire Estuaire", "Lyon"]
    same = ["x" * 25 + "a" + "y" * 25, "x" * 25 + "b" + "y" * 25]  # alike at both ends
    frame = pd.DataFrame({"city": names + same})
    ticks = list(charts.distribution_overlay(frame, frame, "city", "Current batch").layout.xaxis.ticktext)
    assert len(set(ticks)) == len(ticks) == 5 and ticks[2] == "Lyon", ticks
    assert all(len(t) <= charts.NAME_CHARS + 4 for t in ticks) and ticks[0].startswith("Nantes") and ticks[0].endswith("pole"), ticks


def test_an_explanation_s_labels_add_up_to_the_total_its_title_shows() -> None:
    """Parts of +0.714, +1.576 and -0.004 round to +0.71, +1.58 and -0.00: +2.29 under a title of +2.28."""
    parts = [0.714, 1.576, -0.004, -0.0049]
    explained = {"features": ["a", "b", "c"], "contributions": parts[:3], "intercept": parts[3], "logit": sum(parts),
                 "towards": 1, "per_class": []}  # fmt: skip
    fig = charts.contributions(explained, "91 %")
    labels = list(fig.data[0].text)
    assert "+2.28" in fig.layout.title.text
    assert round(sum(float(t) for t in labels), 2) == 2.28
    assert "-0.00" not in labels and "+0.00" not in labels, labels
    missing = charts.contributions(explained | {"values": [1.0, None, 3.0]}, "91 %")  # tour 19: "magnesium +0.01", nothing else
    assert list(missing.layout.yaxis.ticktext) == ["a", "b (missing)", "c", "intercept"]
    assert list(missing.layout.yaxis.tickvals) == ["a", "b", "c", "intercept"]


@pytest.mark.parametrize("seed", range(20))
def test_cents_always_add_up_and_move_no_part_by_more_than_a_cent(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = rng.normal(0, rng.choice([0.01, 1.0, 5.0]), rng.integers(1, 30)).tolist()
    cents = charts.cents_adding_up(parts, sum(parts))
    assert sum(cents) == round(sum(parts) * 100)
    assert all(abs(c - p * 100) < 1.0 + 1e-9 for c, p in zip(cents, parts, strict=True))


def test_a_far_value_does_not_squeeze_the_rest_into_one_bar() -> None:
    """Weather's sea-level pressure holds 5,503 hPa among values near 1,015: over the whole range, 40 bins put every
    other row in one bar. The bins span the values near the rest, the far ones are drawn in the end bars, and the title
    says how many."""
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"pressure": np.r_[rng.normal(1015, 8, 2000), [5503.0]]})
    current = pd.DataFrame({"pressure": np.r_[rng.normal(1010, 8, 199), [-9999.0]]})
    fig = charts.distribution_overlay(reference, current, "pressure", "Cycle 3 batch")
    bins = fig.data[0].xbins
    assert bins.start > 960 and bins.end < 1070 and bins.size < 2.0
    assert fig.layout.title.text.endswith("<br>2 far values in the end bars") and fig.layout.xaxis.title.text == "pressure"
    drawn = [np.asarray(t.x, dtype=float) for t in fig.data]
    assert [len(d) for d in drawn] == [2001, 200]  # every row still counted in the densities
    assert all(bins.start <= d.min() and d.max() <= bins.end for d in drawn)
    plain = pd.DataFrame({"x": rng.normal(0, 1, 5000)})  # no far value: the whole range, and no line about it
    assert "far value" not in charts.distribution_overlay(plain, plain, "x", "Cycle 3 batch").layout.title.text
    moved = pd.DataFrame({"x": rng.normal(50, 1, 30)})  # a small batch far from a large reference: the shift, drawn whole
    shifted = charts.distribution_overlay(pd.DataFrame({"x": rng.normal(0, 1, 20_000)}), moved, "x", "Cycle 3 batch")
    assert "far value" not in shifted.layout.title.text and shifted.data[1].x.max() == moved["x"].max()


def test_a_tiny_p_value_leaves_the_threshold_readable() -> None:
    """Tour 9: once a p-value reached 1e-252 the log axis ran down to it and the threshold's line sat flat against 1."""
    history = _history(["ks"]).assign(p_value=[0.5, 1e-252], threshold=0.00025)
    fig = charts.drift_statistics(history, 0.1, 0.25, 0.1)
    points = next(t for t in fig.data if t.name == "ks_col")
    low, high = fig.layout.yaxis.range
    assert list(points.y) == [0.5, 1e-10] and list(points.customdata) == [0.5, 1e-252]  # drawn at the floor, hovered true
    assert low < -10 < high and high >= 0 and low > -11 and math.log10(0.00025) > low + 6  # six decades under the line


def test_the_drift_tests_lines_break_where_no_cycle_ran() -> None:
    """Tour 10: a 2.5-minute pause drew each feature's line straight across it on the Drift page, where the Overview's
    accuracy lines break."""
    ts = [pd.Timestamp("2026-01-01 10:00") + pd.Timedelta(seconds=30 * k) for k in range(6)]
    ts += [ts[-1] + pd.Timedelta(minutes=3) + pd.Timedelta(seconds=30 * k) for k in range(6)]
    rows = [{"ts": t, "feature": name, "test": "ks", "p_value": 0.5, "threshold": 0.01, "effect": 0.2, "psi": 0.3,
             "statistic": 0.1, "drifted": False, "psi_too_few": False} for name in ("a", "b") for t in ts]  # fmt: skip
    fig = charts.drift_statistics(pd.DataFrame(rows), 0.1, 0.25, 0.1)
    drawn = [t for t in fig.data if t.legendgroup in ("a", "b")] + [t for t in fig.data if t.name == "threshold (α / tests)"]
    assert len(drawn) == 7  # three panels a feature, and the threshold
    for trace in drawn:
        y = np.asarray(trace.y, dtype=float)
        assert len(y) == 13 and np.isnan(y[6]) and np.isnan(y).sum() == 1, trace.name  # one break, in the pause
        assert trace.x[5] < trace.x[6] < trace.x[7] and not trace.connectgaps
    hovers = next(t for t in fig.data if t.legendgroup == "a" and t.yaxis == "y2").customdata
    assert hovers[0] == "KS statistic 0.10, shift 0.20 sd" and pd.isna(hovers[6])


def test_far_values_in_the_rows_a_test_compared_are_named_beside_the_shift_they_inflate() -> None:
    """Weather's 5,503 hPa among pressures near 1,015 read "shift 6.08 sd" beside KS 0.17 with no word why."""
    from core.services.compared import Compared, ComparedRows

    rng = np.random.default_rng(0)
    pressure = np.append(rng.normal(1015, 7, 198), [5503.8, 5503.1])
    batch = pd.DataFrame({"pressure": pressure, "wind": rng.normal(10, 3, 200)})
    pooled = Compared(pd.DataFrame({"pressure": rng.normal(1015, 7, 600), "wind": np.append(rng.normal(10, 3, 599), 900.0)}), (1, 2, 3))
    compared = ComparedRows(Compared(batch, (3,)), {"pressure": Compared(batch, (3,)), "wind": pooled})
    reference = pd.DataFrame({"pressure": np.append(rng.normal(1015, 7, 999), 9999.0), "wind": rng.normal(10, 3, 1000)})
    note = charts.far_note(compared, ["pressure", "wind"], reference)
    assert note is not None and "10 interquartile ranges" in note
    assert "pressure 1 of 1,000 in the reference and 2 of 200 compared; wind 1 of 600 compared." in note
    # tour 19: each chart's title counts both sides; the note's counts add up to it
    for column, rows, said in (("pressure", batch, 3), ("wind", pooled.rows, 1)):
        title = charts.distribution_overlay(reference, rows, column, "batch").layout.title.text
        assert f"{said} far value{'s' if said > 1 else ''} in the end bars" in title, title
    moved = ComparedRows(Compared(batch.assign(pressure=rng.normal(1200, 7, 200)), (3,)), {})  # a whole batch moved far: no far value
    assert charts.far_note(moved, ["pressure"], reference.iloc[:999]) is None


def test_what_a_realised_accuracy_rests_on_gives_labels_and_rows_served_as_two_counts() -> None:
    """Labels a cycle reads may be late ones for rows served before it: "200 labels for 200 rows" read as one count."""
    assert charts.rests_on(20, 200, 0.1, 30.0) == "on 20 labels; 200 rows served (coverage 10 %, label delay p50 30 s)"
    assert charts.rests_on(0, 200, None, None) == "no labels; 200 rows served"
    assert charts.rests_on(0, 0, None, None) == "no labels and no rows served"


def test_availability_breaks_where_nothing_was_checked() -> None:
    """The workspace closed for an hour: the step line held the last healthy share across it, as if checked."""
    ts = [T0 + pd.Timedelta(minutes=k) for k in range(6)] + [T0 + pd.Timedelta(minutes=66 + k) for k in range(6)]
    fig = charts.availability(pd.DataFrame({"ts": ts, "availability": [1.0] * 12}))
    y = np.asarray(fig.data[0].y, dtype=float)
    assert len(y) == 13 and np.isnan(y[6]) and np.isnan(y).sum() == 1


def test_a_test_made_in_some_cycles_breaks_only_where_no_cycle_ran() -> None:
    """The labels' test, made in labelled cycles only: its line broke between two labelled cycles with cycles between."""
    ts = [T0 + pd.Timedelta(seconds=30 * k) for k in range(60)]
    rows = [{"ts": t, "feature": "a", "test": "ks", "p_value": 0.5, "threshold": 0.01, "effect": 0.2, "psi": 0.3,
             "statistic": 0.1, "drifted": False, "psi_too_few": False} for t in ts]  # fmt: skip
    rows += [dict(r, feature="(label)", test="chi2") for r in rows[:6] + rows[50:56]]  # labels stopped for 22 minutes
    fig = charts.drift_statistics(pd.DataFrame(rows), 0.1, 0.25, 0.1)
    label = next(t for t in fig.data if t.legendgroup == "(label)" and t.yaxis == "y")
    assert not np.isnan(np.asarray(label.y, dtype=float)).any() and len(label.y) == 12


def test_three_class_curves_of_two_versions_compared_are_both_drawn_and_named() -> None:
    """Tour 11: comparing v1.1.0 with v1.0.0 on a three-class table drew v1.1.0's one-vs-rest curves only, unnamed."""

    def evaluation(auc: float) -> dict:
        curve = {"fpr": [0, 0.2, 1], "tpr": [0, 0.8, 1], "auc": auc, "recall": [0, 0.5, 1], "precision": [1, 0.8, 0.4],
                 "average_precision": auc - 0.1}  # fmt: skip
        return {"per_class": [{"roc": curve, "pr": curve}] * 3}

    classes = ("low", "mid", "high")
    for kind, measure in (("roc", "AUC"), ("pr", "AP")):
        fig = charts.one_vs_rest({"v1.1.0": evaluation(0.9), "v1.0.0": evaluation(0.8)}, classes, kind)
        lines = {t.name: (t.line.color, t.line.dash) for t in fig.data if t.name != "chance"}
        assert len(lines) == 6 and f"v1.0.0 · high · {measure} {0.8 - (kind == 'pr') * 0.1:.3f}" in lines
        assert len({c for c, _ in lines.values()}) == 3 and len({d for _, d in lines.values()}) == 2  # a colour a class, a dash a version


def test_a_column_of_many_categories_draws_the_largest_and_one_bar_for_the_rest_with_readable_ticks() -> None:
    """Tour 13: 300 shop ids drew 300 overlapping names and a share axis reading "1%, 1%, 0%, 0%, 0%"."""
    rng = np.random.default_rng(2)
    ids = [f"id_{i:04d}" for i in range(300)]
    reference = pd.DataFrame({"shop id": rng.choice(ids, 3000)})
    current = pd.DataFrame({"shop id": np.r_[rng.choice(ids, 400), ["id_new"] * 100]})  # a new id, the largest share now
    fig = charts.distribution_overlay(reference, current, "shop id", "Cycle 8 batch")
    names = list(fig.data[0].x)
    assert len(names) == charts.MAX_CATEGORY_BARS and "id_new" in names  # among the largest in the current rows, so drawn
    rest = [1 - sum(bar.y) for bar in fig.data]  # the axis says what share of each frame's rows the others hold
    axis = fig.layout.xaxis.title.text
    assert axis == f"shop id: {charts.MAX_CATEGORY_BARS} largest of 301<br>the rest: {rest[0]:.0%} of reference, {rest[1]:.0%} here"
    assert charts.distribution_overlay(reference, reference, "shop id", "Cycle 8 batch").layout.yaxis.tickformat == ".1%"  # not 0 %, 0 %
    few = pd.DataFrame({"plan": ["gold", "silver"] * 50})
    assert charts.distribution_overlay(few, few, "plan", "Cycle 8 batch").layout.yaxis.tickformat == ".0%"
    assert list(charts.distribution_overlay(few, few, "plan", "Cycle 8 batch").data[0].x) == ["gold", "silver"]
    skewed = pd.DataFrame({"shop id": [*(f"big_{i}" for i in range(12) for _ in range(83)), "tiny_1", "tiny_2"]})  # 2 of 998 rows
    assert charts.distribution_overlay(skewed, skewed, "shop id", "now").layout.xaxis.title.text.endswith(
        "the rest: under 1% of reference, under 1% here")  # fmt: skip
    empty = pd.DataFrame({"plan": pd.Series([], dtype=object)})  # no rows yet: an empty chart, not a TypeError
    assert [list(bar.y) for bar in charts.category_overlay(empty, empty, "plan", "now", "reference").data] == [[], []]


def test_a_weights_chart_of_hundreds_of_inputs_draws_the_largest_and_says_so() -> None:
    """Tour 13: a 300-category column made the coefficients chart 4,500 px tall, naming every other bar."""
    names = ["income", *(f"shop id = id_{i:04d}" for i in range(311))]
    coef = np.random.default_rng(3).normal(0, 0.1, size=(3, 312))
    coef[2, 7] = 5.0  # one class's largest weight
    fig = charts.coefficients({"v1.1.0": {"linear": {"names": names, "coef": coef.tolist()}}}, [], ("a", "b", "c"))
    drawn, most = list(fig.data[0].y), charts.MAX_WEIGHT_BARS // 3  # three classes, a bar each per input
    assert len(drawn) == most and names[7] in drawn and drawn == sorted(drawn, key=names.index)  # the model's order
    assert all(len(bar.x) == most for bar in fig.data)
    largest = np.sort(np.abs(coef).max(axis=0))[::-1][:most]
    assert sorted(np.abs(np.array([bar.x for bar in fig.data])).max(axis=0))[::-1] == pytest.approx(largest)
    assert f"the {most} largest of 312" in fig.layout.title.text.replace("<br>", " ") and fig.layout.height < 1500
    assert "(per sd or per category)" in fig.layout.title.text  # income, and the shop ids
    numbers = {"v1.0.0": {"linear": {"names": ["temp", "wind"], "coef": [[0.5, -0.2]]}}}  # tour 14: weather has no category
    assert "(per sd; + is towards" in charts.coefficients(numbers, [], ("no", "yes")).layout.title.text


def test_the_class_balance_axis_names_the_target_and_the_why_chart_leaves_room_for_its_labels() -> None:
    """Tour 14: the class balance axis read "target" for a column named grade; the why chart's label of a negative bar
    reaching the plot's edge was written over the column names at 1024 px ("x3-0.11")."""
    assert charts.class_balance({0: 1}, {0: 1}, "now", ("a", "b"), "grade").layout.xaxis.title.text == "grade"
    explained = {"features": ["flag", "x3", "x1"], "contributions": [-0.22, -0.11, 0.9], "intercept": -0.01, "logit": 0.56,
                 "towards": 1, "per_class": []}  # fmt: skip
    low, high = charts.contributions(explained, "64 %").layout.xaxis.range
    assert low < -0.22 - 0.2 * (0.9 + 0.22) and high > 0.9 + 0.2 * (0.9 + 0.22)  # a fifth of the span beyond each end


def test_ten_classes_each_keep_a_colour_of_their_own_and_their_curves_a_plot_to_stand_in() -> None:
    """Tour 20: with digits' ten classes the eight colours repeated ("eight" as "two", "five" as "zero") in the
    curves, the weights and the scatter, and the curves' legend took the chart's height, the plot 50 px tall."""
    classes = tuple(f"digit {i}" for i in range(10))
    curve = {
        "fpr": [0, 0.2, 1],
        "tpr": [0, 0.8, 1],
        "auc": 0.9,
        "recall": [0, 0.5, 1],
        "precision": [1, 0.8, 0.4],
        "average_precision": 0.8,
    }
    fig = charts.one_vs_rest({"v1.5.0": {"per_class": [{"roc": curve, "pr": curve}] * 10}}, classes, "roc")
    lines = [t for t in fig.data if t.name != "chance"]
    assert len({t.line.color for t in lines}) == 10 and lines[2].name == "digit 2 · AUC 0.900"  # one version: no prefix
    three = charts.one_vs_rest({"v1.0.0": {"per_class": [{"roc": curve, "pr": curve}] * 3}}, classes[:3], "roc")
    assert fig.layout.height >= three.layout.height + 7 * charts.LEGEND_ROW_PX  # room for seven more legend rows
    frame = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0), "target": np.arange(50) % 10})
    scatter = charts.scatter_by_class(frame, "a", "b", "rows", classes=classes)
    assert len({t.marker.color for t in scatter.data}) == 10
    weights = {"v1.5.0": {"linear": {"names": ["a", "b"], "coef": [[0.1, 0.2]] * 10}}}
    bars = charts.encoded_coefficients(weights, classes)
    assert len({t.marker.color for t in bars.data}) == 10
    assert {t.line.color for t in three.data if t.name != "chance"} == set(charts.CLASS_COLOURS[:3])  # few classes: as before


def _lab(colour: str) -> tuple[float, float, float]:
    """An sRGB colour (#rrggbb) in CIE L*a*b* (D65): distances there follow what eyes tell apart, as RGB's do not."""
    linear = [((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92 for c in (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))]
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    f = [v ** (1 / 3) if v > 0.008856 else 7.787 * v + 16 / 116 for v in xyz / np.array([0.95047, 1.0, 1.08883])]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


@pytest.mark.parametrize("n_classes", range(3, 9))
def test_a_few_classes_take_colours_far_apart(n_classes: int) -> None:
    """Tour 21: six classes were two greens and three warm browns and yellows (ColorBrewer's Dark2 in its order: its
    closest pair 32 apart in L*a*b*). Each pair of the first n now at least 39 apart; the binary demo's two unchanged."""
    shown = [charts.class_colour(i, n_classes) for i in range(n_classes)]
    closest = min(math.dist(_lab(a), _lab(b)) for i, a in enumerate(shown) for b in shown[i + 1 :])
    assert closest >= 39, (n_classes, shown)
    assert charts.class_colour(0, 2) == charts.COLOURS["class_0"] and charts.class_colour(1, 2) == charts.COLOURS["class_1"]


def test_six_classes_take_one_legend_entry_each_on_the_decision_boundary() -> None:
    """Tour 21: six classes' rings and crosses were twelve entries, a third of the chart. One entry per class, which toggles
    the class's reference rings and batch crosses together; two classes keep both, as before."""
    from types import SimpleNamespace

    def view(k: int) -> SimpleNamespace:
        rows = pd.DataFrame({"a": np.arange(60.0), "b": np.arange(60.0), "target": np.arange(60) % k})
        return SimpleNamespace(x_feature="a", y_feature="b", classes=tuple(f"c{i}" for i in range(k)), regions=None,
                               reference=rows, batch=rows, cycle_id=4, lines={}, x_range=(0, 60), y_range=(0, 60))  # fmt: skip

    six = charts.decision_boundary(view(6))
    shown = [t.name for t in six.data if t.showlegend is not False]
    assert shown == [f"reference · class c{i}" for i in range(6)], shown
    crosses = [t for t in six.data if t.name.startswith("cycle 4 batch")]
    assert len(crosses) == 6 and [t.legendgroup for t in crosses] == [f"class {i}" for i in range(6)]
    two = charts.decision_boundary(view(2))
    assert len([t for t in two.data if t.showlegend is not False]) == 4


def test_the_latency_lines_break_where_no_prediction_was_served() -> None:
    """Tour 20: a straight line crossed ten minutes in which nothing was served (23:46 to 23:56)."""
    ts = pd.to_datetime(["2026-12-07 23:40", "2026-12-07 23:41", "2026-12-07 23:42", "2026-12-07 23:43", "2026-12-07 23:44",
                         "2026-12-07 23:56", "2026-12-07 23:57", "2026-12-07 23:58"])  # fmt: skip
    fig = charts.latency(pd.DataFrame({"ts": ts, "p50_ms": 2.0, "p95_ms": 5.0}))
    for line in fig.data:
        gaps = [x for x, y in zip(line.x, line.y, strict=True) if y is None or (isinstance(y, float) and math.isnan(y))]
        assert len(gaps) == 1 and pd.Timestamp("2026-12-07 23:44") < pd.Timestamp(gaps[0]) < pd.Timestamp("2026-12-07 23:56"), line.name
