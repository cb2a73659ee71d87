"""Overview: the champion, the latest cycle, the loop, and accuracy over time; refreshes itself."""

import json

import streamlit as st

from core.outcomes import version_label
from core.store.clock import utcnow
from ui import charts
from ui.state import empty_state, percent, plural, read, runtime, table, version_column

EVENT_BOXES = {"drift": st.warning, "rejected": st.warning, "promoted": st.success, "approval": st.success, "rollback": st.info,
               "failure": st.error}  # fmt: skip
EVENT_ICONS = {"drift": ":material/warning:", "rejected": ":material/block:", "promoted": ":material/workspace_premium:",
               "approval": ":material/workspace_premium:", "rollback": ":material/undo:", "awaiting": ":material/hourglass_top:",
               "failure": ":material/error:"}  # fmt: skip
SIGNALS_OF = {"error": "cycle failed", "no_data": "no new data"}  # a cycle that judged nothing says why, not "no signal"

st.title("Overview")
st.caption("Every figure below is measured from what is stored in this workspace (generated data comes from the seeded generator).")


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {sec:02d}s"


def _open_clicked() -> None:
    """Runs before the rerun a click causes: the clicked point's cycle is kept for the page to open."""
    points = st.session_state["accuracy_history"].selection.points
    cycles = [p["customdata"] for p in points if p.get("customdata") is not None]
    if cycles:
        st.session_state["open_cycle"] = int(cycles[0])


def _as_of(realised: dict, champion: int | None) -> str | None:
    """When and on how many labels the realised figure shown was measured, and by whom if not today's champion."""
    if not realised:
        return None
    served = realised.get("champion_version")
    by = "" if served == champion else f" of {version_label(served)}"
    return (f"as of cycle {realised['cycle_id']}, {realised['started_at']:%H:%M} UTC, on "
            f"{plural(int(realised['realised_on']), 'label')}{by}")  # fmt: skip


@st.fragment(run_every=5)
def live() -> None:
    rt = runtime()
    ov = rt.overview()
    last = ov.last_cycle or {}
    next_run = ov.next_run.strftime("%H:%M:%S") if ov.next_run else "—"
    top, bottom = st.columns(3), st.columns(3)  # two rows of three: labels and values fit at 1024 px
    top[0].metric("Champion", version_label(ov.champion), help="The model in service (MLflow alias `champion`).")
    top[1].metric("Holdout accuracy", percent(ov.champion_accuracy), help="The champion's accuracy on its own holdout.")
    loop = ov.loop
    failing = None if loop.failing is None else f"since {loop.failing.since:%H:%M} UTC: {loop.failing.reason}"
    top[2].metric("Loop", loop.headline, delta=failing, delta_color="inverse", delta_arrow="off",
                  help=f"Worker {loop.worker}, every {ov.interval:g} s; next run {next_run}. {loop.describe()}")  # fmt: skip
    realised = ov.realised or {}
    bottom[0].metric(
        "Realised accuracy", percent(realised.get("realised_accuracy")), delta=_as_of(realised, ov.champion), delta_color="off",
        delta_arrow="off", help="The served classes against the labels that arrived for the champion's own predictions and the "
        "stream rows it scored; it stays until a newer cycle measures one. A figure on a few labels moves a lot: read it with its "
        f"count. {'That cycle: ' + charts.label_facts(realised) + '.' if realised else 'No cycle has measured one yet.'}",
    )  # fmt: skip
    bottom[1].metric("Estimated accuracy", percent(last.get("estimated_accuracy")), help="Mean max(p, 1 − p): no labels needed (CBPE).")
    fired = json.loads(last.get("signals") or "[]")
    drift = "—" if not last else SIGNALS_OF.get(last.get("status"), ", ".join(fired) if fired else "no signal")
    bottom[2].metric("Signals (latest cycle)", drift, help=f"Features drifted: {percent(last.get('drift_share'))}")
    per_version = read("realised_by_version")
    if per_version:
        st.caption("Realised accuracy per served version (every label received for its predictions): " + " · ".join(
            f"{version_label(v.version)} {percent(v.accuracy)} on {plural(v.labels, 'label')}" for v in per_version))  # fmt: skip
    event = read("last_event")
    if event is not None:
        show = EVENT_BOXES.get(event.kind, st.info)
        when = f"{event.at:%H:%M:%S} UTC, {_duration((utcnow() - event.at).total_seconds())} ago"
        show(f"**Last event · {event.title}** · {when}  \n{event.detail}", icon=EVENT_ICONS.get(event.kind, ":material/info:"))
        if event.cycle_id is not None:
            st.page_link("pages/drift.py", label=f"Open cycle {event.cycle_id} in full", icon=":material/arrow_forward:",
                         query_params={"cycle": str(event.cycle_id)})  # fmt: skip
    if last.get("verdict") and (event is None or event.cycle_id != last["cycle_id"]):
        st.caption(f"Latest cycle {last['cycle_id']}: {last['verdict']}")
    c = ov.counts
    st.caption(
        f"Uptime {_duration(ov.uptime_seconds)} · {plural(c['datasets'], 'dataset')} · {plural(c['samples'], 'sample')} · "
        f"{plural(c['models'], 'model')} · {plural(c['predictions'], 'prediction')} · next cycle {next_run}"
    )
    history = read("accuracy_history", 400)
    if history.empty and last:
        empty_state(f"No cycle has read data yet: the newest, cycle {last['cycle_id']} at {last['started_at']:%H:%M:%S} UTC, found "
                    f"{last['reason']}.")  # fmt: skip
    elif history.empty:
        empty_state("No cycles yet: the loop runs its first cycle shortly after start (Operations page to start it or run one now).")
    else:
        st.plotly_chart(charts.accuracy_history(history, read("model_events", 500)), key="accuracy_history", on_select=_open_clicked,
                        selection_mode="points")  # fmt: skip
        if "open_cycle" in st.session_state:  # a point or a marker was clicked: the whole page reruns and opens it (below)
            st.rerun(scope="app")
        st.caption("Click a point or a drift marker to open that cycle in full.")
    left, right = st.columns(2)
    with left:
        st.subheader("Latest cycles")
        columns = ["cycle_id", "started_at", "champion_version", "realised_accuracy", "realised_on", "estimated_accuracy", "decision",
                   "verdict"]  # fmt: skip
        labels = {"cycle_id": st.column_config.NumberColumn("cycle", width="small"), "champion_version": "champion",
                  "started_at": st.column_config.DatetimeColumn("started (UTC)", format="HH:mm:ss"),
                  "realised_accuracy": "realised", "estimated_accuracy": "estimated",
                  "realised_on": st.column_config.NumberColumn("labels", help="Labels the realised accuracy rests on: the "
                                                               "champion's own predictions' and the stream rows it scored"),
                  "decision": st.column_config.TextColumn("decision", width="small"),
                  "verdict": st.column_config.TextColumn("verdict", width="large", help="Hover a cell for the whole verdict.")}  # fmt: skip
        cycles = version_column(read("cycles", 10), "champion_version")
        if not cycles.empty:  # shares as percentages, and a dash where a cycle had none (no labels, no verdict)
            cycles = cycles.assign(realised_accuracy=cycles["realised_accuracy"].map(percent),
                                   estimated_accuracy=cycles["estimated_accuracy"].map(percent), verdict=cycles["verdict"].fillna("—"))  # fmt: skip
        table(cycles, columns, "No cycles yet.", column_config=labels)
    with right:
        st.subheader("Latest alerts")
        table(
            read("notifications", 10),
            ["created_at", "level", "title", "delivery"],
            "No alerts yet.",
            column_config={"created_at": st.column_config.DatetimeColumn("sent (UTC)", format="HH:mm:ss")},
        )


if "open_cycle" in st.session_state:
    # A click on the chart, switched to its cycle from a whole-page run rather than from the timed fragment: a switch from
    # inside the fragment left its 5 s timer armed in the browser until the new page arrived, and a tick in that window
    # reran the old fragment over the Drift page's first run, leaving it blank. A whole-page run clears the timer first.
    st.switch_page("pages/drift.py", query_params={"cycle": str(st.session_state.pop("open_cycle"))})
if runtime().champion_version is None:
    empty_state("No model yet: train one on the Models page.")
live()
