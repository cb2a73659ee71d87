"""Plotly figures built from the aggregated frames and stored evaluations the core returns.

One palette: reference against current is always the same blue/orange pair, classes are
always green/purple, the champion's line magenta and the challenger's dashed olive, so a
colour means the same thing on every page and in both light and dark themes.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.domain.features import TARGET
from core.domain.outcomes import version_label
from core.domain.validation import ago_words, clipped, whole_percent
from core.stats.drift import JS_FLOOR, LABELS, MISSING_FLOOR, described

if TYPE_CHECKING:
    from core.services.compared import ComparedRows

VERSION_DASHES = ("solid", "dash", "longdash", "dashdot")  # versions compared on a chart of per-class lines (dot: chance)
COLOURS = {
    "realised": "#1f77b4", "estimated": "#9467bd", "drift": "#ff7f0e", "rejected": "#d62728",
    "promotion": "#2ca02c", "rollback": "#d62728", "reference": "#4c72b0", "current": "#dd8452",
    "class_0": "#1b9e77", "class_1": "#7570b3", "champion": "#e7298a", "challenger": "#66a61e", "error": "#8b0000",
}  # fmt: skip
# The first two are class_0/1's; each next one the farthest (CIE Lab) from those before it, so a few classes never share
# a hue family: Dark2's order gave six classes two greens and three warm browns and yellows (tour 21).
CLASS_COLOURS = ("#1b9e77", "#7570b3", "#ff7f00", "#e7298a", "#bcbd22", "#8c564b", "#a6cee3", "#e31a1c")
# More than eight classes take a palette of as many colours as there are classes (Plotly's Dark24, then Alphabet: up to
# 50, the most a workspace takes): digits' ten classes repeated the eight above, "eight" coloured as "two" (tour 20).
_FAINT = {"#222A2A", "#F7E1A0", "#E2E2E2"}  # near-black on the dark theme, near-white on the light one
MANY_CLASS_COLOURS = tuple(
    c
    for c in (*plotly.colors.qualitative.Dark24, *plotly.colors.qualitative.Alphabet, *plotly.colors.qualitative.Plotly[:3])
    if c not in _FAINT
)


def class_colour(index: int, n_classes: int) -> str:
    """Class `index`'s colour among `n_classes`: the same in every chart of a workspace, none shared below 51."""
    palette = CLASS_COLOURS if n_classes <= len(CLASS_COLOURS) else MANY_CLASS_COLOURS
    return palette[index % len(palette)]


VERSION_COLOURS = ("#1f77b4", "#dd8452")  # version A and version B when two are compared
MIN_TIME_SPAN = timedelta(minutes=10)
RANGE_BUTTONS = [
    {"count": 1, "label": "1h", "step": "hour", "stepmode": "backward"},
    {"count": 6, "label": "6h", "step": "hour", "stepmode": "backward"},
    {"count": 1, "label": "1d", "step": "day", "stepmode": "backward"},
    {"step": "all", "label": "all"},
]
PANEL_TITLE_PX = 26  # a subplot's title above its panel, kept free of the legend (range buttons make room of their own)
BAR_PX = 20  # a horizontal bar's height with its name beside it
BAND_FILL = "rgba(148, 103, 189, 0.18)"  # the estimate's colour, faint
PAUSE_STEPS = 5  # a step between cycles this many times the usual one is a pause, where the accuracy lines break
LABEL_GAP = 1 / 30  # of the time shown: version labels closer than this share one (a label is about 14 px wide)


def class_name(c: object) -> str:
    """A class as every chart, slider and caption names it: the schema's class as written ("class malignant"; the
    demo's classes are 0 and 1), never its index. A class already named as one ("class_0", "Class A") is not called
    "class class_0".

    >>> class_name("malignant"), class_name(1), class_name("class_0"), class_name("Class A"), class_name("classic")
    ('class malignant', 'class 1', 'class_0', 'Class A', 'class classic')
    """
    text = str(c)
    return text if re.match(r"class(\b|_|\d)", text, re.IGNORECASE) else f"class {text}"


def probability_of(c: object) -> str:
    """The probability a two-class model gives its second class (schema.classes[1]), named: "P(class malignant)"."""
    return f"P({class_name(c)})"


TITLE_LINE = 34  # characters: what fits beside the modebar in a half-width column at 1024 px
TITLE_TOP = 12  # px from the figure's top to its title's
TITLE_LINE_PX = 22  # px a title's line takes
LEGEND_GAP = 8  # px left free under a legend's last row
LEGEND_ROW_PX = 22  # px a legend's row takes
LEGEND_PER_ROW = 1  # entries of a curve's legend ("v1.0.0 · eight · AUC 0.998") a row holds in a half-width column at 1024 px
OUTLIER_REACH = 10.0  # values farther than this many interquartile ranges beyond their column's quartiles: the end bars


def _wrapped(title: str) -> tuple[str, int]:
    """The title in lines of at most TITLE_LINE characters (a chart cannot shrink its title), and their count."""
    if "<br>" in title:
        return title, title.count("<br>") + 1
    lines: list[str] = []
    for word in title.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= TITLE_LINE:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines), len(lines)


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 380, top: int = 60, gap: int = LEGEND_GAP) -> go.Figure:
    # The modebar stands upright in the right margin, and long titles wrap: lying along the top, the modebar
    # covered the ends of titles at 1024 px, and long titles ran past their charts.
    text, lines = _wrapped(title)
    total = height + 20 * (lines - 1)
    legend_top = TITLE_TOP + TITLE_LINE_PX * lines + 4
    # The legend lies between the title and the plot: below the plot it ran over the x-axis title and slanted tick
    # labels of a half-width chart. Title and legend are placed from the figure's top, the legend under the title's
    # last line, and the plot starts under the legend's last row, however many rows it wraps into (placed from the
    # plot's top, a legend that wrapped at 1024 px grew upwards over the title; Plotly centres a title's lines on its
    # anchor, so the anchor is moved down by half of the lines after the first). Its transparent border keeps `gap` px
    # free under its last row for what stands just above a plot (a panel's title, the top tick label), and its entries
    # are moved back left by as much as Plotly allows, beside the plot's left edge.
    title_y = 1 - (TITLE_TOP + TITLE_LINE_PX * (lines - 1) / 2) / total
    fig.update_layout(title={"text": text, "yref": "container", "y": title_y, "yanchor": "top"}, height=total,
                      margin={"l": 50, "r": 40, "t": max(top, legend_top + gap), "b": 40}, modebar={"orientation": "v"},
                      legend={"orientation": "h", "x": 0, "xanchor": "left", "yref": "container", "y": 1 - (legend_top - gap) / total,
                              "yanchor": "top", "borderwidth": gap, "bordercolor": "rgba(0,0,0,0)", "indentation": -min(gap, 15)})  # fmt: skip
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    if x:
        fig.update_layout(xaxis_title=x)
    if y:  # subplot figures name their own axes
        fig.update_layout(yaxis_title=y)
    return fig


def _time_axis(fig: go.Figure, ts: pd.Series, selector: bool = False) -> None:
    """At least ten minutes wide (one cycle no longer gives a millisecond-wide axis), ending a little after the newest
    point: centred, an early chart's axis ran five minutes into a future no cycle had reached. Range buttons on request."""
    if ts.empty:
        return
    low, high = pd.Timestamp(ts.min()), pd.Timestamp(ts.max())
    span = _least_span(ts)
    if high - low < span:
        pad = span / 40  # room for a marker's half at either end
        end = high + pad
        fig.update_xaxes(range=[min(low - pad, end - span), end])
    if selector:
        fig.update_xaxes(rangeselector={"buttons": RANGE_BUTTONS, "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"})


def _least_span(ts: pd.Series) -> timedelta:
    """The narrowest a time axis is drawn: ten minutes, or twenty of the usual steps between its points when they are
    shorter, a minute at the least. At a 5 s interval the first twenty cycles sat in the right tenth of a ten-minute
    axis, the drift they showed squeezed into a strip (tour 21)."""
    times = pd.Series(pd.to_datetime(ts).dropna().unique()).sort_values()
    if len(times) < 3:
        return MIN_TIME_SPAN
    return min(MIN_TIME_SPAN, max(timedelta(minutes=1), 20 * times.diff().median()))


def accuracy_history(history: pd.DataFrame, events: pd.DataFrame | None = None, newest: object = None) -> go.Figure:
    """Realised and estimated accuracy per cycle, drift and rejection markers, and a vertical line at each
    promotion and rollback (when it happened, not where the accuracy dipped). Given the newest cycle's start, the
    cycles after the last that read data (a replay ended, a stream stopped) are a shaded span to it: the loop ran on,
    and the chart does not end as if it had stopped."""
    fig = go.Figure()
    history = _broken_at_pauses(history)
    # Every point carries the cycle a click opens: the bucket's marked cycle (drift, a retrain), else its newest.
    opens = history["marked_cycle"].fillna(history["last_cycle"]) if {"marked_cycle", "last_cycle"} <= set(history) else None
    hover = {"customdata": opens, "hovertemplate": "%{y:.1%} · cycle %{customdata}: click to open it"} if opens is not None else {}
    realised_hover, marker = hover, {"size": 4}
    if "coverage" in history and history["coverage"].notna().any() and opens is not None:
        delay = history["delay_p50"] if "delay_p50" in history else pd.Series(np.nan, index=history.index)
        texts = [rests_on(n, s, f, d) for n, s, f, d in zip(history["labelled"].fillna(0), history["served"].fillna(0),
                                                            history["coverage"].fillna(0), delay, strict=True)]  # fmt: skip
        realised_hover = {**hover, "text": texts, "hovertemplate": "%{y:.1%} %{text} · cycle %{customdata}: click to open it"}
        # A point's size is its label coverage: a figure on a few labels is a dot, one on every row served a full marker.
        marker = {"size": (3 + 7 * history["coverage"].fillna(0).clip(0, 1)).tolist(), "sizemode": "diameter"}
    fig.add_scatter(x=history["ts"], y=history["realised"], name="Realised accuracy (labels that arrived)", mode="lines+markers",
                    line_color=COLOURS["realised"], marker=marker, **realised_hover)  # fmt: skip
    if {"estimated_low", "estimated_high"} <= set(history) and history["estimated_high"].notna().any():
        # The estimate's 95 % sampling band: a realised accuracy inside it is chunk noise, not a drop. A band per run of
        # cycles between pauses: a fill to the next trace spans the gaps a line breaks at.
        runs = history["ts"].isin(history["ts"][history["estimated"].isna() & history["realised"].isna()]).cumsum()
        for i, (_, run) in enumerate(history.groupby(runs.to_numpy())):
            fig.add_scatter(x=run["ts"], y=run["estimated_high"], mode="lines", line={"width": 0}, showlegend=False,
                            hoverinfo="skip", legendgroup="band")  # fmt: skip
            fig.add_scatter(x=run["ts"], y=run["estimated_low"], name="Estimate's 95 % band", mode="lines", line={"width": 0},
                            fill="tonexty", fillcolor=BAND_FILL, hoverinfo="skip", legendgroup="band", showlegend=i == 0)  # fmt: skip
    fig.add_scatter(x=history["ts"], y=history["estimated"], name="Estimated accuracy (label-free)", mode="lines+markers",
                    line={"color": COLOURS["estimated"], "dash": "dot"}, marker={"size": 4}, **hover)  # fmt: skip
    for column, name, colour, symbol in (("drift", "Drift detected", COLOURS["drift"], "x"), ("rejected", "Challenger rejected",
                                         COLOURS["rejected"], "triangle-down"), ("error", "Cycle failed", COLOURS["error"], "square")):  # fmt: skip
        if column not in history:
            continue
        marked = history[history[column].fillna(False).astype(bool)]
        if not marked.empty:
            y = marked["realised"].fillna(marked["estimated"])
            if column == "error":  # a failed cycle measured nothing: its mark sits on the axis, where a failing loop shows
                y = y.fillna(0.0)
            cycle = marked["marked_cycle"] if "marked_cycle" in marked else marked["first_cycle"]
            fig.add_scatter(x=marked["ts"], y=y, name=name, mode="markers", marker={"color": colour, "size": 12, "symbol": symbol},
                            customdata=cycle, hovertemplate="cycle %{customdata}: click to open it<extra>" + name + "</extra>")  # fmt: skip
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    ts = history["ts"]
    measured = pd.Timestamp(history["last_ts"].max()) if "last_ts" in history else None
    if newest is not None and measured is not None and pd.Timestamp(newest) > measured:
        # Named in the legend, not on the span: a span of seconds put its label over the last point and a version's line.
        fig.add_vrect(x0=measured, x1=pd.Timestamp(newest), fillcolor="grey", opacity=0.15, line_width=0)
        fig.add_scatter(x=[None], y=[None], mode="markers", name="No new data (cycles that read nothing)",
                        marker={"symbol": "square", "size": 12, "color": "rgba(128, 128, 128, 0.3)"})  # fmt: skip
        idle, active = pd.Timestamp(newest) - measured, measured - pd.Timestamp(ts.min())
        if idle > active / 4 and active >= MIN_TIME_SPAN:  # a long idle span runs off the right edge ("all" shows it whole)
            fig.update_xaxes(range=[pd.Timestamp(ts.min()) - active / 50, measured + active / 4])
        else:
            ts = pd.concat([ts, pd.Series([pd.Timestamp(newest)])], ignore_index=True)
    changes = events[events["promoted"].fillna(False).astype(bool)] if events is not None and not events.empty else None
    if changes is not None and not changes.empty:
        # A rollback made while the loop is paused comes after every cycle: its line is drawn, not left off the axis
        # while the Champion tile names the version it put back.
        newest_change = pd.Timestamp(changes["ts"].max())
        ts = pd.concat([ts, pd.Series([newest_change])], ignore_index=True)
        shown = fig.layout.xaxis.range
        if shown and newest_change > pd.Timestamp(shown[1]):  # the long-idle view set its own range: widen it to the change
            fig.update_xaxes(range=[shown[0], newest_change + (newest_change - pd.Timestamp(shown[0])) / 50])
    _time_axis(fig, ts, selector=True)
    shown = fig.layout.xaxis.range
    _model_changes(
        fig, events, pd.Timestamp(shown[1]) - pd.Timestamp(shown[0]) if shown else pd.Timestamp(ts.max()) - pd.Timestamp(ts.min())
    )
    return _layout(fig, "Accuracy over time", "time (UTC)", "accuracy", height=420)


def _broken_at_pauses(history: pd.DataFrame, breaks: pd.Series | None = None) -> pd.DataFrame:
    """An empty row in each pause (the workspace closed, the loop stopped: a step PAUSE_STEPS times the usual one, and a
    minute at least), so the lines break there instead of drawing a straight line through time no cycle measured.
    `breaks`: `_pause_marks` of every cycle's time, found once, when `history` holds only some of them (a test made in
    some cycles breaks where no cycle ran, not where it was not made)."""
    breaks = _pause_marks(history["ts"]) if breaks is None else breaks
    if breaks.empty:
        return history
    return pd.concat([history, pd.DataFrame({"ts": breaks})], ignore_index=True).sort_values("ts", kind="stable", ignore_index=True)


def _pause_marks(times: pd.Series) -> pd.Series:
    """Where the lines drawn over `times` break: the middle of each pause."""
    return _pauses(pd.to_datetime(times).drop_duplicates().sort_values(ignore_index=True))


def _pauses(ts: pd.Series) -> pd.Series:
    """The middle of each pause between sorted times."""
    if len(ts) < 3:
        return ts.iloc[:0]
    steps = ts.diff()
    # The usual step is the local one, the larger median of the five steps before and the five after: the interval can
    # be changed while the loop runs, and against a global median every step after a longer interval was a pause.
    seconds = steps.dt.total_seconds()
    before = seconds.shift(1).rolling(5, min_periods=1).median()
    after = seconds[::-1].shift(1).rolling(5, min_periods=1).median()[::-1]
    usual = np.fmax(before, after).fillna(seconds.median())
    paused = seconds > (usual * PAUSE_STEPS).clip(lower=60.0)
    return (ts[paused] - steps[paused] / 2).reset_index(drop=True)


def estimate_band(cycle: dict, newest_cycle: object = None, champion: int | None = None, room: int | None = None) -> str | None:
    """The estimate's 95 % band in words, for a tile and a table; None when the cycle has none. Given the newest
    cycle's id, an estimate from an older cycle (the newest estimated none) says how many cycles ago, in the words the
    realised tile beside it uses ("1 cycle ago" beside "cycle 1" read as two cycles, tour 19), in `room` characters;
    given today's champion, an estimate of another version's rows (made before a promotion) names that version."""
    low, high = cycle.get("estimated_low"), cycle.get("estimated_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return None
    band = f"{float(low) * 100:.1f}–{float(high) * 100:.1f} %"
    served = cycle.get("champion_version")
    if champion is not None and served is not None and not pd.isna(served) and int(served) != champion:
        return f"{version_label(int(served))}'s · {band}"
    if newest_cycle is not None and cycle.get("cycle_id") != newest_cycle:  # the help names the band
        ago = int(newest_cycle) - int(cycle["cycle_id"])
        return f"{ago_words(ago, None if room is None else room - len(f' · {band}'))} · {band}"
    return f"95 % band {band}"


def explanation_unit(explained: dict) -> str:
    """What an explanation's parts add up to: the log-odds with two classes; with more, the served class's score
    (its logit, whose softmax against the other classes' gives the probabilities)."""
    return "class score (logit)" if len(explained.get("per_class", [])) > 1 else "log-odds"


def rests_on(labelled: float, served: float, coverage: float | None, delay_p50: float | None) -> str:
    """What a realised accuracy rests on, in the words the chart's hover and the Overview's figure share; with no
    labels, only that (nothing about coverage or how labels came, since none did)."""
    if not labelled:
        return f"no labels; {int(served):,} rows served" if served else "no labels and no rows served"
    delay = f"label delay p50 {seconds(delay_p50)}" if delay_p50 is not None and pd.notna(delay_p50) else "labels came with the rows"
    share = "—" if coverage is None or pd.isna(coverage) else f"{coverage * 100:.0f} %"  # as every share is written
    return f"on {int(labelled):,} labels; {int(served):,} rows served (coverage {share}, {delay})"


def label_facts(cycle: dict) -> str | None:
    """`rests_on` for a stored cycle: the labels its realised accuracy rests on (`realised_on`, the champion's own;
    every label that arrived for a cycle read without it); None for cycles stored before label counts existed."""
    labelled = next((v for v in (cycle.get("realised_on"), cycle.get("labelled_rows")) if v is not None and pd.notna(v)), None)
    if labelled is None:
        return None
    return rests_on(labelled, cycle.get("served_rows") or 0, cycle.get("label_coverage"), cycle.get("label_delay_p50_s"))


def late_labels(delay_p50: object, interval: float, subject: str = "a realised accuracy") -> str | None:
    """What a realised accuracy whose labels came a cycle or more after their rows is not (tour 18: 78.5 % of rows served
    three cycles before sat beside the estimate of the newest rows, as if of the same rows); None for labels sooner."""
    if delay_p50 is None or pd.isna(delay_p50) or float(delay_p50) < interval:
        return None
    return (f"Labels came late (delay p50 {seconds(float(delay_p50))}): {subject} sits at the cycle its labels came "
            "and judges rows served that long before, while the estimate beside it is of that cycle's own rows.")  # fmt: skip


def seconds(value: float) -> str:
    """A duration as people read it: 850 ms, 42 s, 3.5 min, 2.0 h."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.0f} s"
    return f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.1f} h"


def _model_changes(fig: go.Figure, events: pd.DataFrame | None, span: pd.Timedelta) -> None:
    """A dashed line at each promotion and rollback, and its version written at the foot of the plot, under the
    accuracy lines and markers. Changes closer than LABEL_GAP of the time shown share one label ("v1.1.0–v1.7.0"):
    staggered labels of a replay's seven promotions ran over each other and over the drift markers."""
    if events is None or events.empty:
        return
    changes = events[events["promoted"].astype(bool)].sort_values("ts")
    legend: set[str] = set()
    for _, event in changes.iterrows():
        name, colour = ("Rollback", COLOURS["rollback"]) if event["kind"] == "rollback" else ("Promotion", COLOURS["promotion"])
        fig.add_vline(x=event["ts"], line={"color": colour, "dash": "dash", "width": 1.5})
        if name not in legend:  # one legend entry per kind
            legend.add(name)
            fig.add_scatter(x=[None], y=[None], mode="lines", name=name, line={"color": colour, "dash": "dash"})
    for group in _close_groups(changes, span * LABEL_GAP if pd.notna(span) else pd.Timedelta(0)):
        first, last = group.iloc[0], group.iloc[-1]
        text = version_label(first["version"]) + ("" if len(group) == 1 else f"–{version_label(last['version'])}")
        colour = COLOURS["rollback"] if first["kind"] == "rollback" else COLOURS["promotion"]  # a run is of one kind
        fig.add_annotation(x=last["ts"], y=0.03, yref="y", text=text, showarrow=False, textangle=-90, xanchor="right",
                           yanchor="bottom", font={"size": 10, "color": colour})  # fmt: skip


def _close_groups(changes: pd.DataFrame, gap: pd.Timedelta) -> list[pd.DataFrame]:
    """Runs of changes of one kind (promotions, rollbacks) within `gap` of the run's first: a run chained change by
    change could span half the chart under one label far from most of its lines."""
    groups: list[list[int]] = []
    first, kind = None, None
    for i, (ts, event_kind) in enumerate(zip(changes["ts"], changes["kind"] == "rollback", strict=True)):
        if first is None or ts - first >= gap or event_kind != kind:
            groups.append([])
            first, kind = ts, event_kind
        groups[-1].append(i)
    return [changes.iloc[rows] for rows in groups]


def drift_statistics(history: pd.DataFrame, min_effect: float, psi_threshold: float, psi_warning: float) -> go.Figure:
    """One panel per kind of number: KS p-values (log scale) against each cycle's Bonferroni threshold,
    the effect size against its floor, PSI against its bands. A feature drifts when it is below the
    first line and above the second."""
    kinds = set(history["test"])
    mixed = kinds - {"ks"}  # a table: chi-square tests too, whose effects are not in sd
    # A panel's title is one line: at 1024 px about 70 characters fit, and the longer ones were cut (the y axis and the
    # hover say each test's unit). Only the kinds of test this history holds are named.
    units = [u for k, u in (("ks", "sd"), ("chi2", "Jensen-Shannon for categories"), ("missing", "share for missing rates")) if k in kinds]
    effect = f"Effect ({'; '.join(units)})" if mixed else "Effect: Wasserstein / reference sd (drift needs it above the floor)"
    titles = ("p-value (drift below the threshold; tinier ones at the floor)", effect,
              "PSI (beside the verdict; hollow: too few rows to read it)")  # fmt: skip
    floor = p_floor(history["threshold"])
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.09)
    breaks = _pause_marks(history["ts"])  # every cycle's time: a test left out of some cycles does not break there
    for i, feature in enumerate(dict.fromkeys(history["feature"])):
        rows = history[history["feature"] == feature]
        rows = _broken_at_pauses(rows.assign(measured=described(rows)["measured"]), breaks)  # as the Overview's break
        common = {"mode": "lines+markers", "marker": {"size": 4}, "line": _series_line(i), "legendgroup": feature}
        fig.add_scatter(x=rows["ts"], y=rows["p_value"].clip(lower=floor), name=feature, row=1, col=1, customdata=rows["p_value"],
                        hovertemplate="p %{customdata:.2e}<extra>" + feature + "</extra>", **common)  # fmt: skip
        fig.add_scatter(x=rows["ts"], y=rows["effect"], name=feature, showlegend=False, row=2, col=1, customdata=rows["measured"],
                        hovertemplate="%{customdata}<extra>" + feature + "</extra>", **common)  # fmt: skip
        # A batch too small for PSI's level (core.stats.drift.psi_noise) is drawn hollow: its value is mostly noise.
        small = (
            rows["psi_too_few"].astype("boolean").fillna(False).astype(bool)
            if "psi_too_few" in rows
            else pd.Series(False, index=rows.index)
        )
        fig.add_scatter(x=rows["ts"], y=rows["psi"], name=feature, showlegend=False, row=3, col=1,
                        customdata=np.where(small, ": too few rows to read its level", ""),
                        hovertemplate="PSI %{y:.3f}%{customdata}<extra>" + feature + "</extra>",
                        **common | {"marker": {"size": 6, "symbol": np.where(small, "circle-open", "circle")}})  # fmt: skip
    threshold = _broken_at_pauses(history.groupby("ts", as_index=False)["threshold"].mean(), breaks)
    # a step per cycle: the tests' count differs between cycles (labels' tests only when labels came), and a straight line
    # between two cycles' thresholds slanted under each cluster of points (tour 21)
    fig.add_scatter(x=threshold["ts"], y=threshold["threshold"], name="threshold (α / tests)", mode="lines", line={"dash": "dash",
                    "color": "grey", "shape": "hv"}, row=1, col=1)  # fmt: skip
    # The levels are legend entries like the threshold, not labels on the lines: at the right edge "high" and
    # "moderate" sat on each other and the floor's label under the features' lines.
    levels = [*_effect_floors(kinds, min_effect),
              (f"PSI high ≥ {psi_threshold:g}", psi_threshold, "dash", COLOURS["rejected"], 3),
              (f"PSI moderate ≥ {psi_warning:g}", psi_warning, "dot", COLOURS["drift"], 3)]  # fmt: skip
    for name, y, dash, colour, row in levels:  # the line across the panel; its name in the legend (a trace with no point)
        fig.add_hline(y=y, line={"dash": dash, "color": colour}, row=row, col=1)
        fig.add_scatter(x=[None], y=[None], name=name, mode="lines", line={"dash": dash, "color": colour}, row=row, col=1)
    fig.update_yaxes(type="log", title_text="p-value", exponentformat="power", range=[math.log10(floor) - 0.3, 0.1], row=1, col=1)
    fig.update_yaxes(title_text="effect" if mixed else "effect (sd)", rangemode="tozero", row=2, col=1)
    fig.update_yaxes(title_text="PSI", rangemode="tozero", row=3, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=3, col=1)
    _time_axis(fig, history["ts"])
    features = history["feature"].nunique()  # a legend entry each: the panels keep their height under a legend of many rows
    _layout(fig, "Drift tests per cycle", "", "", height=760 + 8 * max(0, features - 4), gap=PANEL_TITLE_PX)
    # A group per feature: Plotly's gap between groups made every row twice as tall, and moving a group's entries left
    # drew each name over its own line.
    return fig.update_layout(legend_tracegroupgap=0, legend_indentation=0)


def p_floor(thresholds: pd.Series) -> float:
    """The p-value panel's floor, six decades under the lowest threshold: p-values of 1e-252 stretched the log axis
    until the threshold's line sat flat against 1 and could not be read. Smaller values are drawn on it (their hover
    gives them).

    >>> p_floor(pd.Series([0.00025, 0.004]))
    1e-10
    """
    lowest = float(thresholds.min()) if len(thresholds) and thresholds.min() > 0 else 1e-4
    return 10.0 ** (math.floor(math.log10(lowest)) - 6)


SERIES_COLOURS = ("#1f77b4", "#dd8452", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
SERIES_DASHES = ("solid", "dot", "dash", "longdash", "dashdot")


def _series_line(i: int) -> dict:
    """The i-th series' line: the colours first, then the colours again with another dash, so the 9th series (a
    table's tenth column, the labels) is never drawn as the 1st."""
    return {"color": SERIES_COLOURS[i % len(SERIES_COLOURS)], "dash": SERIES_DASHES[i // len(SERIES_COLOURS) % len(SERIES_DASHES)]}


def _effect_floors(kinds: set[str], min_effect: float) -> list[tuple[str, float, str, str, int]]:
    """A line at each floor the history's tests use, named by the tests it is the floor of: one line at 0.1 drawn for
    three floors showed a missing rate of 0.063, above its own 0.05, as below the line."""
    by_value: dict[float, list[str]] = {}
    for kind, test, floor in (
        ("ks", "Wasserstein sd", min_effect),
        ("chi2", "Jensen-Shannon", JS_FLOOR),
        ("missing", "missing share", MISSING_FLOOR),
    ):
        if kind in kinds:
            by_value.setdefault(floor, []).append(test)
    dashes = ("dash", "dashdot", "longdashdot")
    return [
        (f"effect floor {floor:g} ({', '.join(tests)})", floor, dashes[i], "grey", 2) for i, (floor, tests) in enumerate(by_value.items())
    ]


def distribution_overlay(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    feature: str,
    current_name: str,
    reference_name: str = "Reference",
    short_name: str | None = None,
) -> go.Figure:
    """A column's distribution, reference over current; `short_name` (default `current_name`) is what the title calls
    the current rows, where the legend's full name would not fit a half-width chart at 1024 px."""
    if not pd.api.types.is_numeric_dtype(reference[feature]) or not pd.api.types.is_numeric_dtype(current[feature]):
        return category_overlay(reference, current, feature, current_name, reference_name, short_name=short_name)
    fig = go.Figure()
    bins = _shared_bins(reference[feature], current[feature])
    title = _overlay_title(feature, short_name or current_name)
    if bins is not None and bins.get("clip"):
        beyond = _beyond(reference[feature], bins)[0] + _beyond(current[feature], bins)[0]  # as `far_note` counts them
        low, high = bins.pop("clip")
        title += f"<br>{beyond:,} far value{'' if beyond == 1 else 's'} in the end bars"  # a third line: on the axis, it was cut at 1024 px
        reference, current = (frame.assign(**{feature: frame[feature].clip(low, high)}) for frame in (reference, current))
    fig.add_histogram(x=reference[feature], name=reference_name, histnorm="probability density",
                      opacity=0.6, xbins=bins, marker_color=COLOURS["reference"])  # fmt: skip
    fig.add_histogram(x=current[feature], name=current_name, histnorm="probability density", opacity=0.6, xbins=bins,
                      marker_color=COLOURS["current"])  # fmt: skip
    fig.update_layout(barmode="overlay")
    return _layout(fig, title, feature, "density", height=320)


def _shared_bins(*columns: pd.Series, n: int = 40) -> dict | None:
    """One set of `n` bins over both columns' values: binned apart, a narrow batch got bars a fraction of the
    reference's width, and the two densities could not be read against each other. Where a few values lie far from the
    rest of their own column (a sentinel 5,503 among pressures of 1,000), the bins span the others and `clip` gives
    the range the far ones are drawn at. Far is judged within each column, so a whole batch that moved far from the
    reference is its own bulk, drawn where it is."""
    parts = [column.to_numpy(dtype=float, na_value=np.nan) for column in columns]
    parts = [part[np.isfinite(part)] for part in parts]
    values = np.concatenate(parts)
    if not len(values):
        return None
    near = np.concatenate([part[~_far(part)] for part in parts])
    clip = len(near) < len(values)
    low, high = (float(near.min()), float(near.max())) if clip else (float(values.min()), float(values.max()))
    whole = np.all(values == np.round(values))
    if whole and clip:
        low, high = float(np.floor(low)), float(np.ceil(high))
    size = (high - low) / n if high > low else 1.0
    if whole:  # whole numbers: whole bins centred on them, or every few bins holds one value less
        size = float(np.ceil(size))
        low -= 0.5
    bins = {"start": low, "end": high + size / 2, "size": size}
    return bins | {"clip": (low + 0.5 if whole else low, high)} if clip else bins


def far_note(compared: ComparedRows, columns: list[str], reference: pd.DataFrame) -> str | None:
    """Which numeric columns hold values far from the rest (`_far`, judged within each side), in the reference and in
    the rows compared, counted as the distribution charts count the values they draw in their end bars, and why that
    matters for the table: a few of them make the Wasserstein shift large while KS barely moves (Weather's 5,503 hPa
    read "shift 6.08 sd" beside KS 0.17). The compared rows alone were counted once, and a chart's "26 far values"
    sat beside "2 of 200" (tour 19)."""
    counts = []
    for column in columns:
        rows = compared.of(column).rows
        if column not in rows or column not in reference:  # a cycle stored before its rows could be read again
            continue
        bins = _shared_bins(reference[column], rows[column])
        sides = [_beyond(part, bins) for part in (reference[column], rows[column])]
        said = [f"{n:,} of {total:,} {side}" for (n, total), side in zip(sides, ("in the reference", "compared"), strict=True) if n]
        if said:
            counts.append(f"{column} {' and '.join(said)}")
    if not counts:
        return None
    return (f"Far values (more than {OUTLIER_REACH:g} interquartile ranges beyond their side's quartiles, drawn in the charts' end "
            f"bars): {'; '.join(counts)}. The shift in sd (Wasserstein) weighs each value by its distance, so a few far values "
            "(a sentinel such as 9999) can make it large while the KS statistic, which counts rows, barely moves.")  # fmt: skip


def _beyond(values: pd.Series, bins: dict | None) -> tuple[int, int]:
    """How many of a side's values lie beyond the range its chart draws in full (its end bars), of its values present."""
    present = values.to_numpy(dtype=float, na_value=np.nan)
    present = present[np.isfinite(present)]
    if bins is None or not bins.get("clip"):
        return 0, len(present)
    low, high = bins["clip"]
    return int(((present < low) | (present > high)).sum()), len(present)


def _far(values: np.ndarray) -> np.ndarray:
    """Which values lie more than OUTLIER_REACH interquartile ranges beyond their column's quartiles (none where the
    quartiles meet: a column of mostly one value has no spread to measure far by)."""
    if len(values) < 4:
        return np.zeros(len(values), dtype=bool)
    q1, q3 = np.quantile(values, [0.25, 0.75])
    reach = OUTLIER_REACH * (q3 - q1)
    if reach <= 0:
        return np.zeros(len(values), dtype=bool)
    return (values < q1 - reach) | (values > q3 + reach)


def category_overlay(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    feature: str,
    current_name: str,
    reference_name: str,
    order: list | None = None,
    short_name: str | None = None,
) -> go.Figure:
    """A categorical column's share of each category (and of missing values), reference beside current; in `order`
    when given (then every category of it is drawn, an absent one at 0), else the reference's most frequent first."""
    fig = go.Figure()
    shares = [frame[feature].astype(object).where(frame[feature].notna(), "(missing)").value_counts(normalize=True)
              for frame in (reference, current)]  # fmt: skip
    seen = list(shares[0].index) + [c for c in shares[1].index if c not in shares[0].index]
    if order is None:
        order, rest = _most_shared(seen, shares)
    else:
        order, rest = list(order) + [c for c in seen if c not in order], []
    names = [str(c) for c in order]
    highest = 0.0
    for share, name, colour in zip(shares, (reference_name, current_name), (COLOURS["reference"], COLOURS["current"]), strict=True):
        heights = [float(share.get(c, 0.0)) for c in order]
        highest = max([highest, *heights])
        fig.add_bar(x=names, y=heights, name=name, marker_color=colour, hovertemplate="%{x}: %{y:.1%}")
    # Long category names are shortened under their bars (whole in the hover): one 30-character city slanted under a
    # half-width chart took the plot's height at 1024 px.
    shown = _short(names)
    fig.update_xaxes(tickmode="array", tickvals=names, ticktext=shown)
    fig.update_yaxes(tickformat=".0%" if highest >= 0.1 else ".1%")  # 300 ids' shares of 0.3 % read "0%, 0%" in whole percent
    slanted = 5 * max(0, max(map(len, shown), default=0) - 8)  # the height slanted names take from the plot, given back
    axis = feature if not rest else (f"{clipped(feature, 14)}: {len(order)} largest of {len(seen):,}<br>"
                                     f"the rest: {_rest_share(shares[0], rest)} of reference, {_rest_share(shares[1], rest)} here")  # fmt: skip
    return _layout(fig, _overlay_title(feature, short_name or current_name), axis, "share of rows", height=320 + slanted)


def _rest_share(share: pd.Series, rest: list) -> str:
    return whole_percent(float(share.reindex(rest).fillna(0.0).sum()))


MAX_CATEGORY_BARS = 12  # categories drawn; the axis gives the rest's share (300 ids' names overlapped into a smear)


def _most_shared(seen: list, shares: list[pd.Series]) -> tuple[list, list]:
    """The MAX_CATEGORY_BARS categories with the largest share in either frame, in `seen`'s order, and the rest: a
    category new in the current rows is drawn when it is among the largest there."""
    if len(seen) <= MAX_CATEGORY_BARS:
        return seen, []
    largest = pd.concat(shares, axis=1).max(axis=1).nlargest(MAX_CATEGORY_BARS).index
    return [c for c in seen if c in largest], [c for c in seen if c not in largest]


def label_overlay(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    classes: tuple,
    current_name: str,
    reference_name: str = "Reference",
    short_name: str | None = None,
    column: str = LABELS,
) -> go.Figure:
    """Class shares (TARGET's class indices), reference beside current: the picture of a "(label)" drift test, or of a
    "(predicted class)" one given the champion's predicted classes as TARGET. The classes stand in the schema's order,
    each one drawn, so two cycles' charts line up and a class gone is a gap."""
    names = np.array([str(c) for c in classes], dtype=object)
    frames = [pd.DataFrame({column: names[f[TARGET].dropna().to_numpy(dtype=np.int64)]}) for f in (reference, current)]
    return category_overlay(*frames, column, current_name, reference_name, order=list(names), short_name=short_name)


def _overlay_title(feature: str, current_name: str) -> str:
    """The column on a line of its own: with "reference vs cycle 12 batch" beside it, a long column name ran under the
    modebar of a half-width chart at 1024 px."""
    return f"{feature}<br>reference vs {current_name.lower()}"


def class_balance(
    reference: dict[int, int], current: dict[int, int], current_name: str, classes: tuple = (0, 1), target: str = "target"
) -> go.Figure:
    fig = go.Figure()
    for counts, name, colour in ((reference, "Reference", COLOURS["reference"]), (current, current_name, COLOURS["current"])):
        total = sum(counts.values()) or 1
        fig.add_bar(x=[class_name(c) for c in classes], y=[counts.get(i, 0) / total for i in range(len(classes))], name=name,
                    marker_color=colour)  # fmt: skip
    fig.update_yaxes(tickformat=".0%")
    return _layout(fig, "Class balance", target, "share of rows", height=320)


def scatter_by_class(frame: pd.DataFrame, x: str, y: str, title: str, target: str = "target", classes: tuple = (0, 1)) -> go.Figure:
    """Two features, coloured by class: concept drift shows here and in no one-feature histogram."""
    fig = go.Figure()
    _class_points(fig, frame, x, y, target, "", "circle", 0.6, classes)
    return _layout(fig, title, x, y, height=420)


def _class_points(
    fig: go.Figure, frame: pd.DataFrame, x: str, y: str, target: str, prefix: str, symbol: str, opacity: float, classes: tuple = (0, 1),
    legend: bool = True,
) -> None:  # fmt: skip
    """A trace per class, grouped by class: a legend entry toggles the class's points wherever drawn (`legend` False:
    grouped, without entries of their own)."""
    for index, label in enumerate(classes):
        rows = frame[frame[target] == index]
        fig.add_scattergl(x=rows[x], y=rows[y], mode="markers", name=prefix + class_name(label), legendgroup=f"class {index}",
                          showlegend=legend, marker={"color": class_colour(index, len(classes)), "size": 5, "symbol": symbol,
                                                     "opacity": opacity})  # fmt: skip


def decision_boundary(view: object, point: tuple[float, float] | None = None) -> go.Figure:
    """The reference (open rings) and the cycle's batch (crosses) by class, the models' 0.5 lines, and
    optionally the point being predicted."""
    fig = go.Figure()
    x, y = view.x_feature, view.y_feature
    classes = getattr(view, "classes", (0, 1))
    if getattr(view, "regions", None):
        _class_regions(fig, view.regions, classes)
    # Open rings at a middle opacity: faint filled dots vanished on the dark theme's background.
    _class_points(fig, view.reference, x, y, "target", "reference · ", "circle-open", 0.55, classes)
    if not view.batch.empty:  # with more than two classes, a legend entry per class, not two: twelve took a third of the
        # chart for six classes (tour 21); the caption says rings are the reference and crosses the batch
        _class_points(fig, view.batch, x, y, "target", f"cycle {view.cycle_id} batch · ", "x", 0.8, classes, legend=len(classes) <= 2)
    for name, line in view.lines.items():
        role = "challenger" if name.startswith("challenger") else "champion"
        dash = "dash" if role == "challenger" else "solid"
        xs, ys = line["x"], line["y"]
        if ys is None:  # the model ignores the y feature: a vertical line
            fig.add_vline(x=xs[0], line={"color": COLOURS[role], "dash": dash, "width": 3})
            fig.add_scatter(x=[None], y=[None], mode="lines", name=name, line={"color": COLOURS[role], "dash": dash})
        else:
            fig.add_scatter(x=xs, y=ys, mode="lines", name=name, line={"color": COLOURS[role], "dash": dash, "width": 3})
    if point is not None:
        fig.add_scatter(x=[point[0]], y=[point[1]], mode="markers", name="this prediction",
                        marker={"symbol": "star", "size": 18, "color": "#ffbf00", "line": {"width": 1, "color": "#333"}})  # fmt: skip
    fig.update_xaxes(range=list(view.x_range))
    fig.update_yaxes(range=list(view.y_range))
    title = f"Decision boundary at cycle {view.cycle_id}" if view.cycle_id else "Decision boundary"
    return _layout(fig, title, x, y, height=520)


def _class_regions(fig: go.Figure, regions: dict, classes: tuple) -> None:
    """The class a model predicts over the plane, in each class's colour, faint under the points."""
    k = len(classes)
    scale = []
    for i in range(k):
        colour = class_colour(i, k)
        scale += [[i / k, colour], [(i + 1) / k, colour]]
    fig.add_heatmap(x=regions["x"], y=regions["y"], z=regions["z"], zmin=-0.5, zmax=k - 0.5, colorscale=scale, opacity=0.22,
                    showscale=False, hoverinfo="skip", name=f"{regions.get('version', 'champion')} regions")  # fmt: skip


def contributions(explained: dict, probability: str) -> go.Figure:
    """Each feature's push towards the served class (right) or away (left): in log-odds with two classes, in the
    class's score (its logit, whose softmax against the other classes' gives the probabilities) with more.
    `probability`: the served class's, formatted as the page's headline shows it."""
    names = [*explained["features"], "intercept"]
    values = [*explained["contributions"], explained["intercept"]]
    colours = [COLOURS["class_1"] if v >= 0 else COLOURS["class_0"] for v in values]
    text = [f"{c / 100:+.2f}" if c else "0.00" for c in cents_adding_up(values, explained["logit"])]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color=colours, text=text, textposition="auto", cliponaxis=False))
    fig.add_vline(x=0, line={"color": "grey"})
    # Room beyond the longest bars for their labels: a label outside a bar reaching the plot's left edge was written
    # over the column names at 1024 px ("x3-0.11").
    low, high = min(0.0, *values), max(0.0, *values)
    room = LABEL_ROOM * ((high - low) or 1.0)
    fig.update_xaxes(range=[low - room if low < 0 else low, high + room if high > 0 else high])
    towards = explained["towards"]  # the class the probability is of, as the schema names it
    unit = explanation_unit(explained)
    title = f"Why: {probability_of(towards)} = {probability}<br>{unit} {explained['logit']:+.2f}"  # two short lines fit a column
    axis = "log-odds" if unit == "log-odds" else "score"  # the longer name is cut at 1024 px
    fig.update_xaxes(title_text=f"contribution to the {axis}", hoverformat="+.3f")
    # Every bar named, and a bar's height for each name: in a fixed height, Plotly named every other bar of a table's
    # dozen columns at 1024 px.
    # A value left empty is missing, filled by the model's imputer: its bar is that fill's push, and says so (tour 19).
    values_in = explained.get("values") or [0.0] * len(explained["features"])
    shown = [f"{n} (missing)" if v is None else n for n, v in zip(explained["features"], values_in, strict=True)] + ["intercept"]
    fig.update_yaxes(tickmode="array", tickvals=names, ticktext=shown)
    return _layout(fig, title, "", "", height=max(320, 150 + BAR_PX * len(names)), top=80)


LABEL_ROOM = 0.25  # of the bars' span, beyond each end of the contributions chart, for the labels written outside


def cents_adding_up(parts: list[float], total: float) -> list[int]:
    """Each part in hundredths, rounded so they add up to `total` in hundredths as its label shows it (largest
    remainder): parts labelled +0.71 and +1.58 under a total of +2.28 read as an error. Ties go to the larger part."""
    exact = np.asarray(parts, dtype=float) * 100
    cents = np.round(exact).astype(int)
    short = round(float(f"{total:.2f}") * 100) - int(cents.sum())  # the title's own figure, rounded as it shows it
    step = 1 if short > 0 else -1
    order = sorted(range(len(cents)), key=lambda i: (-(exact[i] - cents[i]) * step, -abs(exact[i])))
    for i in order[: abs(short)]:
        cents[i] += step
    return cents.tolist()


def latency(history: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    history = _broken_at_pauses(history)  # no prediction for a while: no line through it (tour 20: 23:46 to 23:56)
    fig.add_scatter(x=history["ts"], y=history["p50_ms"], name="p50", mode="lines+markers")
    fig.add_scatter(x=history["ts"], y=history["p95_ms"], name="p95", mode="lines+markers")
    _time_axis(fig, history["ts"])
    # From 0 (a latency is never below it) to a little above the highest point: autorange padded one steady point
    # below 0, and with "tozero" alone one point sat above the top gridline.
    highest = pd.concat([history["p50_ms"], history["p95_ms"]]).max()
    fig.update_yaxes(range=[0, float(highest) * 1.15 if pd.notna(highest) and highest > 0 else 1.0])
    return _layout(fig, "Single-request latency (batch rows excluded)", "time (UTC)", "latency (ms)", height=320)


def availability(history: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    history = _broken_at_pauses(history)  # closed or stopped, nothing was checked: not a share held healthy
    fig.add_scatter(x=history["ts"], y=history["availability"], name="healthy share", mode="lines+markers", line_shape="hv")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    _time_axis(fig, history["ts"])
    return _layout(fig, "Availability (share of healthy checks)", "time (UTC)", "healthy", height=300)


def confusion_matrix(evaluation: dict, label: str, classes: tuple = (0, 1)) -> go.Figure:
    """Actual class by predicted class, each axis named by the schema's classes (two classes: the second is the
    positive one, tp is actual and predicted classes[1])."""
    if "confusion_matrix" in evaluation:
        return _confusion_k(evaluation["confusion_matrix"], label, classes)
    c = evaluation["confusion"]
    return _confusion_k([[c["tn"], c["fp"]], [c["fn"], c["tp"]]], label, classes)


def _confusion_k(z: list[list[int]], label: str, classes: tuple) -> go.Figure:
    # The title is short: the page says which rows, and it fits at 1024 px.
    n = sum(map(sum, z)) or 1
    text = [[f"{v:,}<br>{v / n:.1%}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[f"predicted {c}" for c in classes], y=[f"actual {c}" for c in classes], text=text,
                               texttemplate="%{text}", colorscale="Blues", showscale=False))  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"{label} · {n:,} rows", "", "", height=320 + 20 * max(0, len(classes) - 3))


def one_vs_rest(evaluations: dict[str, dict], classes: tuple, kind: str) -> go.Figure:
    """ROC ("roc") or precision-recall ("pr") curves, one line per class against the rest, for every version
    compared: a class keeps its colour, a version its dash (only the first version was drawn, its name nowhere)."""
    fig = go.Figure()
    if kind == "roc":
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"})
    for version, (name, evaluation) in enumerate(evaluations.items()):
        for index, (label, curves) in enumerate(zip(classes, evaluation.get("per_class", []), strict=False)):
            curve = curves.get(kind)
            if not curve:
                continue
            line = {"color": class_colour(index, len(classes)), "dash": VERSION_DASHES[version % len(VERSION_DASHES)]}
            whose = f"{name} · {label}" if len(evaluations) > 1 else str(label)  # one version: its name heads the section
            if kind == "roc":
                fig.add_scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=f"{whose} · AUC {curve['auc']:.3f}", line=line)
            else:
                fig.add_scatter(x=curve["recall"], y=curve["precision"], mode="lines",
                                name=f"{whose} · AP {curve['average_precision']:.3f}", line=line)  # fmt: skip
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    axes = ("false positive rate", "true positive rate") if kind == "roc" else ("recall", "precision")
    # Taller by the legend's rows past two (an entry a row in a half-width column): with ten classes it took the
    # chart's height and scrolled, the plot squeezed to 50 px, two classes out of sight (tour 20).
    rows = math.ceil(len(fig.data) / LEGEND_PER_ROW)
    title = f"{'ROC' if kind == 'roc' else 'Precision-recall'} curves, each class against the rest"
    return _layout(fig, title, *axes, height=360 + LEGEND_ROW_PX * max(0, rows - 2))


def roc_curves(evaluations: dict[str, dict]) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"})
    for (label, ev), colour in zip(evaluations.items(), VERSION_COLOURS, strict=False):
        if ev.get("roc"):
            fig.add_scatter(x=ev["roc"]["fpr"], y=ev["roc"]["tpr"], mode="lines", name=f"{label} · AUC {ev['roc']['auc']:.3f}",
                            line={"color": colour})  # fmt: skip
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return _layout(fig, "ROC curve", "false positive rate", "true positive rate", height=360)


def pr_curves(evaluations: dict[str, dict]) -> go.Figure:
    fig = go.Figure()
    for (label, ev), colour in zip(evaluations.items(), VERSION_COLOURS, strict=False):
        pr = ev.get("pr")
        if pr:
            fig.add_scatter(x=pr["recall"], y=pr["precision"], mode="lines", name=f"{label} · AP {pr['average_precision']:.3f}",
                            line={"color": colour})  # fmt: skip
            fig.add_hline(y=pr["base_rate"], line={"dash": "dot", "color": colour}, annotation_text=f"{label} base rate")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return _layout(fig, "Precision-recall curve", "recall", "precision", height=360)


def calibration_curves(evaluations: dict[str, dict], classes: tuple = (0, 1)) -> go.Figure:
    """With two classes, the probability of the second (classes[1]) against how often it was the truth; with more,
    there is no one class to follow: the top-label calibration core.stats.evaluation computes, the served confidence
    against how often it was right."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line={"dash": "dot", "color": "grey"})
    for (label, ev), colour in zip(evaluations.items(), VERSION_COLOURS, strict=False):
        bins = ev["calibration"]
        fig.add_scatter(x=[b["predicted"] for b in bins], y=[b["observed"] for b in bins], mode="lines+markers", name=label,
                        line={"color": colour}, text=[f"{b['n']:,} rows" for b in bins],
                        hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (%{text})")  # fmt: skip
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    if any("per_class" in ev for ev in evaluations.values()):
        return _layout(fig, "Calibration of the confidence (top label)", "confidence in the top class", "share right", height=360)
    positive = classes[1]
    return _layout(
        fig, "Calibration (reliability)", f"predicted {probability_of(positive)}", f"share of {class_name(positive)}", height=360
    )


def coefficients(evaluations: dict[str, dict], features: list[str], classes: tuple = (0, 1)) -> go.Figure:
    first = next(iter(evaluations.values()), {})
    if "names" in first.get("linear", {}):
        return encoded_coefficients(evaluations, classes)
    bars = [(label, ev["linear"]["coef"], colour) for (label, ev), colour in zip(evaluations.items(), VERSION_COLOURS, strict=False)]
    return _weights(bars, list(features), f"Coefficients (per sd; + is towards {class_name(classes[1])})", "weight per sd")


def encoded_coefficients(evaluations: dict[str, dict], classes: tuple) -> go.Figure:
    """A table pipeline's weights by encoded input ("plan = gold"): one bar group per version with two classes
    (towards the second class), one per class of the first version shown with more."""
    label, ev = next(iter(evaluations.items()))
    linear = ev["linear"]
    if len(linear["coef"]) == 1:
        bars = [(name, ev2["linear"]["coef"][0], colour) for (name, ev2), colour in zip(evaluations.items(), VERSION_COLOURS, strict=False)]
        return _weights(bars, linear["names"], f"Coefficients ({_per(linear['names'])}; + is towards {class_name(classes[1])})", "weight")
    bars = [(class_name(cls), row, class_colour(i, len(classes))) for i, (cls, row) in enumerate(zip(classes, linear["coef"], strict=True))]
    return _weights(bars, linear["names"], f"{label}: coefficients per class ({_per(linear['names'])})", "weight")


def _per(names: list[str]) -> str:
    """What a weight is per: a number's sd, or a category's one-hot input ("plan = gold"); said only where there are."""
    categories, numbers = any(" = " in n for n in names), any(" = " not in n for n in names)
    return " or ".join([*(["per sd"] if numbers else []), *(["per category"] if categories else [])]) or "per sd"


NAME_CHARS = 22  # an input's name beside its bar in a half-width chart: longer, it squeezed the bars at 1024 px (hover: whole)


def _short(names: list[str]) -> list[str]:
    """Each name cut to NAME_CHARS, and still told apart: two that share their start keep their ends instead
    ("customer_segment_…north" beside "…south"), and any still alike get a number."""
    cut = [clipped(n, NAME_CHARS) for n in names]
    half = (NAME_CHARS - 1) // 2
    cut = [n[:half] + "…" + n[-(NAME_CHARS - 1 - half) :] if c != n and cut.count(c) > 1 else c for n, c in zip(names, cut, strict=True)]
    return [f"{c} ({cut[:i].count(c) + 1})" if cut.count(c) > 1 and c not in names else c for i, c in enumerate(cut)]


MAX_WEIGHT_BARS = 60  # bars in a weights chart: a 300-category column made it 4,500 px tall, every other bar unnamed
MIN_INPUTS = 10  # inputs drawn however many classes share each


def _largest(bars: list[tuple[str, list[float], str]], names: list[str], title: str) -> tuple[list, list[str], str]:
    """The inputs with the largest weight in any bar (as many as MAX_WEIGHT_BARS bars hold), in the model's order, and
    the title saying so."""
    most = max(MIN_INPUTS, MAX_WEIGHT_BARS // max(1, len(bars)))
    if len(names) <= most:
        return bars, names, title
    largest = np.abs(np.array([values for _name, values, _colour in bars], dtype=float)).max(axis=0)
    kept = np.sort(np.argsort(-largest, kind="stable")[:most])
    bars = [(name, [values[i] for i in kept], colour) for name, values, colour in bars]
    return bars, [names[i] for i in kept], f"{title}: the {most} largest of {len(names):,}"


def _weights(bars: list[tuple[str, list[float], str]], names: list[str], title: str, unit: str) -> go.Figure:
    """Weights as horizontal bars, every input named on its own line (as the Why chart): upright, a table's thirty
    inputs in a half-width column at 1024 px showed every other name, slanted and cut."""
    bars, names, title = _largest(bars, names, title)
    fig = go.Figure()
    for name, values, colour in bars:
        fig.add_bar(
            x=list(values),
            y=names,
            orientation="h",
            name=name,
            marker_color=colour,
            customdata=names,
            hovertemplate="%{customdata}: %{x:+.3f}",
        )  # the whole name: %{y} shows the shortened tick
    fig.add_vline(x=0, line={"color": "grey"})
    fig.update_yaxes(tickmode="array", tickvals=names, ticktext=_short(names), autorange="reversed")  # the first on top
    rows = len(names) * max(1, (len(bars) + 1) // 2)  # a group of several bars needs more than one bar's height
    return _layout(fig, title, unit, "", height=max(340, 150 + BAR_PX * rows))
