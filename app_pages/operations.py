"""Operations: the loop's controls, policy and thresholds, the stream, alerts, health and pipeline runs."""

import pandas as pd
import streamlit as st

from core.config import POLICIES
from core.data.synthetic_stream import MAX_STRENGTH, SCENARIO_LABELS
from core.domain.clock import utc_csv
from core.domain.pace import labels_to_come, replay_time
from core.domain.spans import SENT_AGAIN
from ui import charts
from ui.state import (
    act,
    cached,
    changed,
    dataframe,
    decisions,
    deliveries,
    empty_state,
    fragment,
    in_force,
    percent,
    runtime,
    said_under,
    table,
    version_column,
)

rt = runtime()
st.title("Operations")

# Every action runs as a widget callback, before the page is drawn, so each value below already
# reflects it (drawn first and acted on after, the interval showed 30 s just after setting 5 s).


def _start() -> None:
    act(rt.loop.start if rt.loop.worker_status().state == "stopped" else rt.loop.resume, "Loop started", under="scheduler")


# The number boxes set no minimum or maximum: Streamlit keeps a value typed beyond them out of the form without a word,
# and Apply then saved the old one while the box showed the new. The controls refuse it, named by these labels.
LABELS = {"scheduler_interval": "Interval (s)", "retrain_cooldown_cycles": "Cooldown (cycles)",
          "drift_persistence": "Dataset drift persistence (cycles)", "perf_tolerance": "Accuracy tolerance",
          "drift_window_batches": "Drift window (batches)", "ks_alpha": "Family-wise α", "wasserstein_threshold": "Minimum effect (sd)",
          "batch_size": "Batch size", "label_delay_cycles": "Label delay (cycles)", "position": "Replay position (rows replayed)"}  # fmt: skip


def _set_interval() -> None:
    value = st.session_state["interval"]
    if not act(lambda: rt.loop.set_controls(scheduler_interval=value) or True, f"Interval set to {value:g} s", LABELS, "scheduler"):
        st.session_state["interval"] = float(rt.loop.worker_status().interval)  # refused: the box shows what is in force


POLICY_BOXES = {"policy": "policy", "retrain_cooldown_cycles": "cooldown", "drift_persistence": "persistence",
                "perf_tolerance": "tolerance", "drift_window_batches": "windows", "ks_alpha": "alpha", "wasserstein_threshold": "min_effect"}  # fmt: skip


def _save_policy() -> None:
    sent = {name: changed(key) for name, key in POLICY_BOXES.items()}
    sent = {name: value for name, value in sent.items() if value is not None}  # what was left as drawn stays as it is now
    if not sent:
        st.toast("Nothing changed in the form: nothing saved")
        return
    act(lambda: rt.loop.set_controls(**sent), "Saved: " + ", ".join(LABELS.get(n, n.capitalize()) for n in sent), LABELS, "policy")


def _apply_stream() -> None:
    v = st.session_state
    info = rt.loop.stream_info()
    # Moved by the person, not by the replay since the box was drawn: sent back as drawn, it set the replay back.
    typed = changed("stream_position")
    position = int(typed) if typed is not None and v["stream_source"] == info["source"] else None

    def apply() -> dict:  # only what the person changed: a box sent as drawn is left as it is now (another tab, the API)
        rt.loop.update_stream(
            enabled=changed("stream_on"), batch_size=changed("stream_batch"), label_delay_cycles=changed("stream_delay"),
            source=changed("stream_source"), at_end=changed("stream_at_end"), position=position,
            scenario=changed("stream_scenario"), strength=changed("stream_strength"),
        )  # fmt: skip
        return rt.loop.stream_info()

    act(apply, lambda now: f"Stream: {_described(now)}, {'on' if now['enabled'] else 'off'}", LABELS, "stream")


def _labels_come(delay: int, info: dict) -> str:
    """When a replayed batch's labels come, and that none will while it runs where the delay outlasts it (tour 18)."""
    when = f"its labels come {delay:,} cycles later"
    left = info["batches_left"] or 0
    if info["at_end"] == "stop" and delay > left:
        when += f", after the replay's end ({left:,} {'batch' if left == 1 else 'batches'} left): no label comes while it runs"
    return when


def _labels_pending(info: dict, enabled: bool) -> str:
    """The labels of rows the stream served that are still to come: they come with the stream off too."""
    said = labels_to_come(info["labels_pending"], info["labels_due_by"])
    return said + ("; the stream is off, and they come when due all the same." if not enabled else ".")


def _described(info: dict) -> str:
    if info["source"] == "simulator":
        return f"{SCENARIO_LABELS[info['scenario']]}, strength {info['strength']:g}"
    return f"replay of dataset {info['source']}"


st.subheader("Scheduler")
sched = rt.loop.worker_status()
b1, b2, b3, b4 = st.columns(4)
b1.button("Start", disabled=sched.state == "running", on_click=_start)
b2.button("Pause", disabled=sched.state != "running", on_click=lambda: act(rt.loop.pause, "Loop paused", under="scheduler"))
if b3.button("Run a cycle now"):
    outcome = rt.loop.run_now()
    (st.toast if outcome.accepted else st.warning)(outcome.reason)
st.session_state["interval"] = float(sched.interval)  # in force, however it was set (PUT /loop, another tab)
b4.number_input("Interval (s)", step=5.0, key="interval", on_change=_set_interval)
said_under("scheduler")
live = rt.loop.live_settings()


@fragment(run_every=2)
def scheduler_state() -> None:
    """Redrawn every 2 s on its own: "next run" and the heartbeat's age change while nobody clicks."""
    sched = rt.loop.worker_status()
    age = sched.heartbeat_age
    top, bottom = st.columns(2), st.columns(2)  # two rows of two: the values fit at 1024 px
    loop = rt.loop.status()
    top[0].metric("State", sched.state, delta=None if loop.ok else "cycles failing", delta_color="inverse", delta_arrow="off",
                  help=f"The worker's state; its cycles: {loop.describe()}")  # fmt: skip
    top[1].metric("Interval", f"{sched.interval:g} s")
    bottom[0].metric("Next run (UTC)", sched.next_run.strftime("%H:%M:%S") if sched.next_run else "—")
    bottom[1].metric("Heartbeat age", "—" if age is None else f"{age:.1f} s", help="Seconds since the worker last reported alive.")


scheduler_state()

st.subheader("Policy and thresholds")
in_force({key: getattr(live, name) for name, key in POLICY_BOXES.items()})
with st.form("policy_and_thresholds"):  # not "policy": the selectbox has that key
    c1, c2, c3 = st.columns(3)
    c1.selectbox(
        "Policy", POLICIES, index=POLICIES.index(live.policy), key="policy",
        help="challenge (a challenger every labelled cycle, promoted when credibly better on the newest labels; a credible "
        "drop retrains at once) · approve (the same, a person promotes) · drift (retrain on a drop or on persistent drift "
        "of the columns or a table's class shares) · always · never (monitor only) · random (the original rule)",
    )  # fmt: skip
    c2.number_input(LABELS["retrain_cooldown_cycles"], value=live.retrain_cooldown_cycles, key="cooldown")
    c3.number_input(LABELS["drift_persistence"], value=live.drift_persistence, key="persistence")
    c4, c5 = st.columns(2)
    c6, c7 = st.columns(2)  # two by two: four inputs side by side cut their values at 1024 px
    c4.number_input(LABELS["perf_tolerance"], value=live.perf_tolerance, step=0.01, key="tolerance")
    c5.number_input(LABELS["drift_window_batches"], value=live.drift_window_batches, key="windows")
    c6.number_input(LABELS["ks_alpha"], value=live.ks_alpha, step=0.001, format="%.4f", key="alpha")
    c7.number_input(LABELS["wasserstein_threshold"], value=live.wasserstein_threshold, step=0.05, key="min_effect")
    st.form_submit_button("Save", on_click=_save_policy)
said_under("policy")

st.subheader("Stream")
info = rt.loop.stream_info()
library = cached.insights.datasets().query("role == 'library'")
sources = ["simulator", *library["dataset_id"].tolist()]
names = dict(zip(library["dataset_id"], library["name"], strict=True))
in_force({"stream_on": live.stream_enabled, "stream_source": info["source"] if info["source"] in sources else sources[0],
          "stream_batch": live.stream_batch_size, "stream_scenario": info["scenario"], "stream_strength": float(info["strength"]),
          "stream_delay": live.label_delay_cycles, "stream_at_end": info["at_end"], "stream_position": int(info["position"])})  # fmt: skip
with st.form("stream"):
    st.toggle("Stream on", value=live.stream_enabled, key="stream_on")
    s2, s3 = st.columns([2, 1])  # the source and the scenario wide: at 1024 px a third cut "Replay 2: edge.csv ·"
    s2.selectbox(
        "Source", sources, index=sources.index(info["source"]) if info["source"] in sources else 0, key="stream_source",
        format_func=lambda v: "Simulator (synthetic)" if v == "simulator" else f"Replay {v}: {names.get(v, '')}",
        help="The simulator draws synthetic rows (the demo's columns); a library dataset is replayed a batch per cycle, in its "
        "row order (its time column's, when the workspace has one).",
    )  # fmt: skip
    s3.number_input(LABELS["batch_size"], value=live.stream_batch_size, step=50, key="stream_batch")
    s4, s5 = st.columns([2, 1])
    # the simulator draws the demo's two columns: on a table's workspace its controls could change nothing (tour 21)
    no_simulator = None if rt.schema.plain else ("The simulator draws the demo's columns (feature_1, feature_2) and cannot feed "
                                                 "this workspace's table: replay one of its datasets as the source.")  # fmt: skip
    s4.selectbox("Scenario (simulator)", list(SCENARIO_LABELS), index=list(SCENARIO_LABELS).index(info["scenario"]),
                 format_func=SCENARIO_LABELS.get, key="stream_scenario", disabled=no_simulator is not None, help=no_simulator)  # fmt: skip
    s5.slider("Strength (simulator)", 0.0, MAX_STRENGTH, float(info["strength"]), 0.1, key="stream_strength",
              disabled=no_simulator is not None, help=no_simulator)  # fmt: skip
    s6, s7, s8 = st.columns(3)
    s6.number_input(LABELS["label_delay_cycles"], value=live.label_delay_cycles, key="stream_delay",
                    help="The stream (the simulator, or a replay) serves each batch's predictions first and sends their labels this "
                    "many cycles later, through the same feedback path as POST /feedback (0: the rows arrive labelled).")  # fmt: skip
    s7.radio("At the end of a replay", ["stop", "restart"], index=["stop", "restart"].index(info["at_end"]), key="stream_at_end",
             horizontal=True)  # fmt: skip
    s8.number_input(LABELS["position"], step=1, key="stream_position",
                    help="Where the replay stood when the page was drawn; the line under the form follows it as it moves. Apply "
                    "moves the replay only when you changed this box (Start over, below the form, sets it to 0 at once).")  # fmt: skip
    st.form_submit_button("Apply", on_click=_apply_stream)
said_under("stream")
if info["source"] != "simulator":
    st.button("Start over", help="Sets this replay back to its first row now; the rows it sends again are sent twice.",
              on_click=lambda: act(lambda: rt.loop.update_stream(position=0), f"Replay of dataset {info['source']} set back to row 0", under="stream"))  # fmt: skip


@fragment(run_every=3)
def stream_status() -> None:
    """Redrawn on its own: a running replay's position and what is left move every cycle (drawn once, they stood still
    while the replay went on), and a replay with the stream off is said to stand, not to be replaying."""
    info, live, interval = rt.loop.stream_info(), rt.loop.live_settings(), rt.loop.worker_status().interval
    if info["idle_reason"] and live.stream_enabled:
        st.warning(f"The stream sends the loop nothing: {info['idle_reason']}.")
    elif info["source"] == "simulator":
        delay = f"labels {live.label_delay_cycles} cycles after the predictions" if live.label_delay_cycles else "labelled rows"
        since = f"since cycle {info['since_cycle']:,}" if info["since_cycle"] else "from the first cycle"
        st.caption(
            f"{'Active' if live.stream_enabled else 'Stream off; set'}: the simulator, {SCENARIO_LABELS[info['scenario']]}, strength "
            f"{info['strength']:g}, {since}; {live.stream_batch_size:,} rows per cycle, {delay}."
        )
    else:
        total, position = info["total_rows"], info["position"]
        reached = f", up to {info['time_reached']}" if info["time_reached"] else ""
        if live.stream_enabled:
            text = (f"Replaying dataset {info['source']} ({info['dataset_name']}): {position:,} of {total:,} rows{reached}; left: "
                    f"{replay_time(total - position, live.stream_batch_size, interval)}; at the end: {info['at_end']}"
                    + (" (finished)" if info["finished"] else ""))  # fmt: skip
        else:
            text = (f"Stream off: the replay of dataset {info['source']} ({info['dataset_name']}) stands at {position:,} of {total:,} rows"
                    f"{reached}; turn the stream on to go on")  # fmt: skip
        st.progress(position / total if total else 0.0, text=text)
        if live.label_delay_cycles:
            st.caption(f"Each batch is served by the champion as it arrives; {_labels_come(live.label_delay_cycles, info)} "
                       "(until then the estimate alone judges it).")  # fmt: skip
        if info["copies_ahead"]:
            st.warning(info["copies_ahead"], icon=":material/content_copy:")
        elif info["at_end"] == "restart":
            st.caption(f"Starting over sends the same rows again: {SENT_AGAIN}")
    if info["labels_pending"] and not (info["idle_reason"] and live.stream_enabled):  # the warning above says it then
        st.caption(_labels_pending(info, live.stream_enabled))


stream_status()

st.subheader("Alerts")
webhook, configured = rt.health.webhook()
st.write(f"Discord webhook: `{webhook}`" + ("" if configured else " — set DISCORD_WEBHOOK_URL to send alerts"))
if st.button("Send test message"):
    sent = act(rt.health.send_test_message, "Test message queued" if configured else None)
    if sent is not None and not configured:  # a toast said "queued" while nothing could be sent
        st.warning("No webhook is set: the test message is stored as not sent (the alert table shows it). Set "
                   "DISCORD_WEBHOOK_URL and restart to send alerts to Discord.")  # fmt: skip


@fragment(run_every=3)
def alert_table() -> None:
    """Redrawn on its own: a queued alert reads as sent once the webhook answered, not at the next click."""
    alerts = deliveries(cached.insights.notifications(100))
    table(alerts, ["notification_id", "created_at", "kind", "level", "title", "delivery", "attempts", "http_status", "error"],
          "No alerts yet.", column_config={"created_at": "raised (UTC)"})  # fmt: skip
    if not alerts.empty:
        st.download_button("Download alerts (CSV)", data=lambda: utc_csv(cached.insights.notifications(100_000).drop(columns=["payload"])),
                           file_name="alerts.csv", mime="text/csv", icon=":material/download:")  # fmt: skip


alert_table()

st.subheader("REST API")
api = rt.health.api_status()
if api["running"]:
    st.write(f"Listening on `{api['address']}`: [interactive docs]({api['address']}/docs) · `{api['address']}/openapi.json` · "
             f"`{api['address']}/metrics`" + (" · mutating calls need the bearer token (IA_API_TOKEN)" if api["token"] else ""))  # fmt: skip
else:
    st.write(api["detail"])

st.subheader("Serving replicas")
table(
    cached.insights.replica_traffic(), ["replica", "predictions", "batches", "last_prediction", "last_received"],
    "No replica has forwarded predictions yet: a replica (make serve, or the compose stack) sends its log to this workbench's "
    "POST /ingest/predictions, and its rows then count in the drift tests and charts like the ones served here.",
)  # fmt: skip

st.subheader("Health")
health = rt.health.check()
dead = configured and not health.checks["webhook"].ok  # set, and its last deliveries all failed (unset is the default)
aside = ("; alerts are not reaching Discord either (the webhook fails)" if not health.healthy else
         ", but alerts are not reaching Discord (the webhook fails). `/health` answers 200 all the same, since a dead channel is "
         "no reason to restart the app; a monitor reads `components.webhook.ok`.")  # fmt: skip
st.write(f"Overall: **{'healthy' if health.healthy else 'degraded'}**" + (aside if dead else ""))
dataframe(
    pd.DataFrame([{"component": k, "ok": v.ok, "detail": v.detail} for k, v in health.checks.items()]),
    hide_index=True,
)
availability = cached.insights.availability(200)
if availability.empty:
    stopped = " once started (Start, above): it is stopped" if rt.loop.worker_status().state == "stopped" else ""
    empty_state(f"No health records yet: the worker stores one every {rt.settings.health_interval:g} s{stopped}.")
else:
    st.plotly_chart(charts.availability(availability), key="availability")

repairs = cached.insights.repairs(50)
if not repairs.empty:
    st.caption("Repairs made at start (what a stopped or killed process had left half-done):")
    dataframe(repairs[["ts", "component", "action", "detail"]], hide_index=True)

st.subheader("Pipeline runs")
cycles = version_column(decisions(cached.insights.cycles(200)), "champion_version", "new_version")
if not cycles.empty:  # a share, written as every sentence writes one (a backlog of labels reads above 100 %)
    cycles["label_coverage"] = cycles["label_coverage"].map(lambda v: None if pd.isna(v) else percent(v))
table(
    cycles,
    ["cycle_id", "started_at", "trigger", "status", "champion_version", "rows_seen", "labelled_rows", "label_coverage", "policy",
     "decision", "verdict", "reason", "new_version", "promoted", "error"],
    "No cycles yet.",
)  # fmt: skip
if not cycles.empty:
    st.download_button("Download cycles (CSV)", data=lambda: utc_csv(cached.insights.cycles(1_000_000)), file_name="cycles.csv",
                       mime="text/csv", icon=":material/download:")  # fmt: skip

st.subheader("Retention")
s = rt.settings
st.caption(
    f"Kept: stream samples {s.retain_stream_days:g} days, predictions {s.retain_predictions_days:g} days, cycles and alerts "
    f"{s.retain_cycles_days:g} days, health records {s.retain_health_days:g} days (0 = for ever); model files of the newest "
    f"{s.keep_model_versions} versions besides champion and challenger. Older rows are archived to Parquet under "
    f"`{s.data_dir / 'archive'}` before they are deleted; runs every {s.retention_interval:g} s with a DuckDB checkpoint."
)
table(cached.insights.archives(50), ["ts", "kind", "n_rows", "cutoff", "path"], "Nothing archived yet.")

with st.expander("Settings (environment variables)"):
    dataframe(pd.DataFrame(rt.settings.describe()), hide_index=True)
