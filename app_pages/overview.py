"""Overview: the champion, the latest cycle, the loop, and accuracy over time; refreshes itself."""

import json
from typing import TYPE_CHECKING

import streamlit as st

from core.domain.clock import process_uptime, utcnow
from core.domain.outcomes import version_label
from core.domain.validation import clipped
from ui import charts
from ui.state import (
    TILE_LINE,
    cached,
    decisions,
    deliveries,
    empty_state,
    fragment,
    percent,
    plural,
    realised_as_of,
    runtime,
    signals_tile,
    table,
    tile_line,
    version_column,
)

if TYPE_CHECKING:
    from core.services.insights import Overview

# Every kind of last event (core.services.insights.Event) its own box: one awaiting a person is a warning.
EVENT_BOXES = {"drift": st.warning, "info": st.info, "rejected": st.warning, "promoted": st.success, "approval": st.success,
               "rollback": st.info, "by_hand": st.success, "failure": st.error, "awaiting": st.warning, "candidate": st.info}  # fmt: skip
EVENT_ICONS = {"drift": ":material/warning:", "info": ":material/info:", "rejected": ":material/block:",
               "promoted": ":material/workspace_premium:", "approval": ":material/workspace_premium:", "rollback": ":material/undo:",
               "awaiting": ":material/hourglass_top:", "by_hand": ":material/workspace_premium:", "failure": ":material/error:",
               "candidate": ":material/inventory_2:"}  # fmt: skip
# A cycle that judged nothing says so in a word that fits the tile at 1024 px, and why in the tile's help.

st.title("Overview")
st.caption(
    "Every figure below is measured from what is stored in this workspace"
    + (
        " (generated data comes from the seeded generator)."
        if runtime().schema.synthetic
        else " (built from your own file: nothing here is generated)."
    )
)


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {sec:02d}s"


def _copies(replayed: int) -> str:
    """A replay's rows are stored twice, its library dataset and the loop's copies: the footer says which are copies."""
    return f" ({replayed:,} of them copies of library rows, replayed)" if replayed else ""


def _open_clicked() -> None:
    """Runs before the rerun a click causes: the clicked point's cycle is kept for the page to open."""
    points = st.session_state["accuracy_history"].selection.points
    cycles = [p["customdata"] for p in points if p.get("customdata") is not None]
    if cycles:
        st.session_state["open_cycle"] = int(cycles[0])


def base_rate(ov: "Overview") -> dict[str, str]:
    """The holdout accuracy's help, and a warning beside it when it is no better than always predicting the most
    frequent class: 95.8 % on a table with 4.2 % positives can be a model that never says yes."""
    rows = f" of {ov.holdout_rows:,} rows" if ov.holdout_rows else ""
    said = {"help": f"The champion's accuracy on its own holdout{rows}: read it with the count (a figure on a few rows promises little)."}
    if ov.holdout_rows:  # beneath the figure, unless the warning below takes the line
        said |= {"delta": f"on {plural(ov.holdout_rows, 'holdout row')}", "delta_color": "off", "delta_arrow": "off"}
    if ov.majority is None or ov.champion_accuracy is None:
        return said
    label, share = ov.majority
    said["help"] += f" Always predicting {charts.class_name(label)} would score {percent(share)} there."
    if ov.champion_accuracy < share + 0.01:
        name = clipped(charts.class_name(label), TILE_LINE - len(f"always : {percent(share)}"))  # the share kept whole
        said |= {"delta": f"always {name}: {percent(share)}", "delta_color": "inverse", "delta_arrow": "off"}
    return said


@fragment(run_every=5)
def live() -> None:
    rt = runtime()
    ov = rt.insights.overview()
    last = ov.last_cycle or {}
    next_run = ov.next_run.strftime("%H:%M:%S UTC") if ov.next_run else "—"
    top, bottom = st.columns(3), st.columns(3)  # two rows of three: labels and values fit at 1024 px
    top[0].metric("Champion", version_label(ov.champion), help="The model in service (MLflow alias `champion`).")
    top[1].metric("Holdout accuracy", percent(ov.champion_accuracy), **base_rate(ov))
    loop = ov.loop
    failing = None if loop.failing is None else f"since {loop.failing.since:%H:%M} UTC, {plural(loop.failing.cycles, 'cycle')}"
    # Running, but its cycles read nothing (a replay that ended, the stream off): "running" alone read as working.
    quiet = loop.worker == "running" and failing is None and last.get("status") == "no_data"  # rows sent by the API count
    stream = rt.loop.stream_info() if quiet else {}
    idle, headline = stream.get("idle_reason"), stream.get("idle_headline")
    top[2].metric("Loop", loop.headline, delta=failing or (headline and clipped(f"idle: {headline}", TILE_LINE)),
                  delta_color="inverse" if failing else "off", delta_arrow="off",
                  help=f"Worker {loop.worker}, every {ov.interval:g} s; next run {next_run}. {loop.describe()}"
                  + (f". Idle: {idle}." if idle else ""))  # fmt: skip
    realised = ov.realised or {}
    measured = (f"Cycle {realised['cycle_id']} at {realised['started_at']:%H:%M} UTC: {charts.label_facts(realised)}." if realised
                else "No cycle has measured one yet.")  # fmt: skip
    bottom[0].metric(
        "Realised accuracy", percent(realised.get("realised_accuracy")), delta=realised_as_of(realised, ov.champion, last.get("cycle_id")), delta_color="off",
        delta_arrow="off", help="The served classes against the labels that arrived for the champion's own predictions and the "
        "stream rows it scored; it stays until a newer cycle measures one. A figure on a few labels moves a lot: read it with its "
        f"count. {measured}" + (f" {late}" if (late := charts.late_labels(realised.get("label_delay_p50_s"), ov.interval)) else ""),
    )  # fmt: skip
    estimated = ov.estimated or {}
    band = charts.estimate_band(estimated, last.get("cycle_id"), ov.champion, TILE_LINE)
    estimated_at = (f" Cycle {estimated['cycle_id']} at {estimated['started_at']:%H:%M} UTC on {int(estimated['rows_seen']):,} rows; it "
                    f"stays until a newer cycle reads {rt.loop.live_settings().drift_min_rows:,} new rows or more (IA_DRIFT_MIN_ROWS)."
                    if estimated else " No cycle has estimated one yet.")  # fmt: skip
    bottom[1].metric("Estimated accuracy", percent(estimated.get("estimated_accuracy")), delta=band, delta_color="off", delta_arrow="off",
                     help="No labels needed: the mean probability that the served class is right, calibrated on the champion's "
                     "holdout (CBPE). The band is where the realised accuracy of these rows should fall, 95 % of the time."
                     + estimated_at)  # fmt: skip
    fired = json.loads(last.get("signals") or "[]")
    # The count in the tile and the names beneath it: a name ("realised-accuracy drop") is wider than a tile at 1280 px.
    said, nothing = signals_tile(last, fired)
    why = (
        nothing
        or f"{', '.join(fired) or 'No signal'}. Drift tests that flagged (columns, and a table's class shares): {percent(last.get('drift_share'))}"
    )
    bottom[2].metric("Signals (latest cycle)", said, delta=tile_line(fired), delta_color="inverse", delta_arrow="off",
                     help=why)  # fmt: skip
    per_version = cached.insights.realised_by_version()
    if per_version:
        st.caption("Realised accuracy per served version (every label received for the rows it served): " + " · ".join(
            f"{version_label(v.version)} {percent(v.accuracy)} on {plural(v.labels, 'label')}" for v in per_version))  # fmt: skip
    event = cached.insights.last_event()
    if event is not None:
        show = EVENT_BOXES[event.kind]
        when = f"{event.at:%H:%M:%S} UTC, {_duration((utcnow() - event.at).total_seconds())} ago"
        show(f"**Last event · {event.title}** · {when}  \n{event.detail}", icon=EVENT_ICONS[event.kind])
        if event.cycle_id is not None:
            st.page_link("app_pages/drift.py", label=f"Open cycle {event.cycle_id} in full", icon=":material/arrow_forward:",
                         query_params={"cycle": str(event.cycle_id)})  # fmt: skip
    if last.get("verdict") and (event is None or event.cycle_id != last["cycle_id"]):
        st.caption(f"Latest cycle {last['cycle_id']}: {last['verdict']}")
    c = ov.counts
    st.caption(
        f"Server up {_duration(process_uptime())} · workspace open {_duration(ov.uptime_seconds)} · received by the loop: "
        f"{plural(c['incoming_datasets'], 'dataset')}, {plural(c['incoming_samples'], 'sample')}{_copies(c['replayed_samples'])} · in the library: "
        f"{plural(c['datasets'] - c['incoming_datasets'], 'dataset')}, {plural(c['samples'] - c['incoming_samples'], 'sample')} · "
        f"{plural(c['models'], 'model')} · {plural(c['predictions'], 'prediction')} logged (served by any door: the Predict page, the API, "
        f"replicas, and the stream's batches (simulated or replayed) while their labels come late; a batch that arrives labelled is scored without "
        f"logging) · next cycle {next_run}"
    )
    history = cached.insights.accuracy_history(400)
    if history.empty and last:
        empty_state(f"No cycle has read data yet: the newest, cycle {last['cycle_id']} at {last['started_at']:%H:%M:%S} UTC, found "
                    f"{last['reason']}.")  # fmt: skip
    elif history.empty:
        empty_state(f"No cycles yet: {ov.loop.first_cycle()}.")
    else:
        figure = charts.accuracy_history(history, cached.insights.model_events(500), last["started_at"] if last else None)
        st.plotly_chart(figure, key="accuracy_history", on_select=_open_clicked, selection_mode="points")
        if "open_cycle" in st.session_state:  # a point or a marker was clicked: the whole page reruns and opens it (below)
            st.rerun(scope="app")
        late = charts.late_labels(history["delay_p50"].median() if "delay_p50" in history else None, ov.interval)
        st.caption(f"{late + ' ' if late else ''}Click a point or a drift marker to open that cycle in full.")
    # One table above the other, each the page's width, the decision next to the cycle: side by side, a cycle's decision
    # and an alert's delivery needed a horizontal scroll at 1280 px. The labels a figure rests on are in the Realised tile.
    st.subheader("Latest cycles")
    # Each narrow column as wide as its header ("small", 75 px, cut "started (UTC)" off at every width), and the
    # decision as wide as "challenger v1.12.0 promoted": every column but the verdict whole at 1024 px (tour 18).
    columns = ["cycle_id", "started_at", "decision", "champion_version", "realised_accuracy", "estimated_accuracy", "verdict"]
    labels = {"cycle_id": st.column_config.NumberColumn("cycle", width=55),
              "champion_version": st.column_config.TextColumn("champion", width=72),
              "started_at": st.column_config.DatetimeColumn("started (UTC)", format="HH:mm:ss", width=100),
              "realised_accuracy": st.column_config.TextColumn("realised", width=66),
              "estimated_accuracy": st.column_config.TextColumn("estimated", width=74),
              "decision": st.column_config.TextColumn("decision", width=190, help="A challenge says whether its "
                                                      "challenger won; a retrain, what the gate made of it"),
              "verdict": st.column_config.TextColumn("verdict", width="large", help="Hover a cell for the whole verdict.")}  # fmt: skip
    cycles = version_column(decisions(cached.insights.latest_cycles(10)), "champion_version")
    if not cycles.empty:  # shares as percentages, and a dash where a cycle had none (no labels, no verdict)
        cycles = cycles.assign(realised_accuracy=cycles["realised_accuracy"].map(percent),
                               estimated_accuracy=cycles["estimated_accuracy"].map(percent), verdict=cycles["verdict"].fillna("—"))  # fmt: skip
    table(cycles, columns, "No cycles yet.", column_config=labels)
    st.subheader("Latest alerts")
    table(
        deliveries(cached.insights.notifications(10)),
        ["created_at", "level", "title", "delivery"],
        "No alerts yet.",
        column_config={"created_at": st.column_config.DatetimeColumn("raised (UTC)", format="HH:mm:ss")},
    )


if "open_cycle" in st.session_state:
    # A click on the chart, switched to its cycle from a whole-page run rather than from the timed fragment: a switch from
    # inside the fragment left its 5 s timer armed in the browser until the new page arrived, and a tick in that window
    # reran the old fragment over the Drift page's first run, leaving it blank. A whole-page run clears the timer first.
    st.switch_page("app_pages/drift.py", query_params={"cycle": str(st.session_state.pop("open_cycle"))})
if runtime().models.champion_version is None:
    empty_state("No model yet: train one on the Models page.")
live()
