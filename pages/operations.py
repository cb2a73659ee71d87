"""Operations: the loop's controls, policy and thresholds, the stream, alerts, health and pipeline runs."""

import pandas as pd
import streamlit as st

from core.config import POLICIES
from core.datagen import MAX_STRENGTH, SCENARIO_LABELS
from ui import charts
from ui.state import act, empty_state, read, runtime, table

rt = runtime()
live = rt.live_settings()
st.title("Operations")

st.subheader("Scheduler")
sched = rt.scheduler
age = sched.heartbeat_age()
cols = st.columns(4)
cols[0].metric("State", sched.state)
cols[1].metric("Interval", f"{sched.interval:g} s")
cols[2].metric("Next run", sched.next_run.strftime("%H:%M:%S") if sched.next_run else "—")
cols[3].metric("Heartbeat", "—" if age is None else f"{age:.1f} s ago")
b1, b2, b3, b4 = st.columns(4)
if b1.button("Start", disabled=sched.state == "running"):
    if sched.state == "stopped":
        act(rt.start_loop, "Loop started")
    else:
        act(rt.resume_loop, "Loop resumed")
    st.rerun()
if b2.button("Pause", disabled=sched.state != "running"):
    act(rt.pause_loop, "Loop paused")
    st.rerun()
if b3.button("Run a cycle now"):
    outcome = rt.run_cycle_now()
    (st.toast if outcome.accepted else st.warning)(outcome.reason)
interval = b4.number_input("Interval (s)", min_value=1.0, value=float(sched.interval), step=5.0, key="interval")
if interval != sched.interval:
    act(lambda: rt.set_controls(scheduler_interval=interval), f"Interval set to {interval:g} s")

st.subheader("Policy and thresholds")
with st.form("policy"):
    c1, c2, c3 = st.columns(3)
    policy = c1.selectbox(
        "Policy",
        POLICIES,
        index=POLICIES.index(live.policy),
        help="drift · approve (retrain and gate, a person promotes) · always · never (monitor only) · random (the original rule)",
    )
    cooldown = c2.number_input("Cooldown (cycles)", min_value=0, value=live.retrain_cooldown_cycles)
    persistence = c3.number_input("Dataset drift persistence (cycles)", min_value=1, value=live.drift_persistence)
    c4, c5, c6, c7 = st.columns(4)
    tolerance = c4.number_input("Accuracy tolerance", 0.0, 1.0, live.perf_tolerance, 0.01)
    windows = c5.number_input("Drift window (batches)", 1, 20, live.drift_window_batches)
    alpha = c6.number_input("Family-wise α", 0.000001, 0.5, live.ks_alpha, 0.001, format="%.4f")
    wasserstein = c7.number_input("Minimum effect (sd)", 0.0, 10.0, live.wasserstein_threshold, 0.05)
    if st.form_submit_button("Save"):
        act(lambda: rt.set_controls(policy=policy, retrain_cooldown_cycles=int(cooldown), drift_persistence=int(persistence),
                                    perf_tolerance=tolerance, drift_window_batches=int(windows), ks_alpha=alpha,
                                    wasserstein_threshold=wasserstein),
            "Policy and thresholds saved")  # fmt: skip

st.subheader("Simulated stream")
stream = rt.stream_state()
with st.form("stream"):
    s1, s2, s3, s4 = st.columns(4)
    enabled = s1.toggle("Stream on", value=live.stream_enabled)
    scenario = s2.selectbox(
        "Scenario", list(SCENARIO_LABELS), index=list(SCENARIO_LABELS).index(stream.scenario), format_func=SCENARIO_LABELS.get
    )
    strength = s3.slider("Strength", 0.0, MAX_STRENGTH, float(stream.strength), 0.1)
    batch = s4.number_input("Batch size", min_value=10, max_value=100_000, value=live.stream_batch_size, step=50)
    if st.form_submit_button("Apply"):

        def apply() -> None:
            rt.set_controls(stream_enabled=enabled, stream_batch_size=int(batch))
            rt.set_stream_scenario(scenario, float(strength))

        act(apply, f"Stream: {SCENARIO_LABELS[scenario]}, strength {strength:g}, {'on' if enabled else 'off'}")
st.caption(f"Active: {SCENARIO_LABELS[stream.scenario]}, strength {stream.strength:g}, since cycle {stream.since_cycle}.")

st.subheader("Alerts")
a1, a2 = st.columns([3, 1])
a1.write(f"Discord webhook: `{rt.notifier.masked_url}`" + ("" if rt.notifier.configured else " — set DISCORD_WEBHOOK_URL to send alerts"))
if a2.button("Send test message"):
    act(rt.send_test_message, "Test message queued")
table(
    read("notifications", 100),
    ["notification_id", "created_at", "kind", "level", "title", "delivery", "attempts", "http_status", "error"],
    "No alerts yet.",
)

st.subheader("REST API")
api = rt.api_status()
if api["running"]:
    st.write(f"Listening on `{api['address']}`: [interactive docs]({api['address']}/docs) · `{api['address']}/openapi.json` · "
             f"`{api['address']}/metrics`" + (" · mutating calls need the bearer token (IA_API_TOKEN)" if api["token"] else ""))  # fmt: skip
else:
    st.write(api["detail"])

st.subheader("Health")
health = rt.check_health()
st.write(f"Overall: **{'healthy' if health.healthy else 'degraded'}**")
st.dataframe(pd.DataFrame([{"component": k, "ok": v.ok, "detail": v.detail} for k, v in health.checks.items()]), hide_index=True)
availability = read("availability", 200)
if availability.empty:
    empty_state(f"No health records yet: the worker stores one every {rt.settings.health_interval:g} s.")
else:
    st.plotly_chart(charts.availability(availability), key="availability")

repairs = read("repairs", 50)
if not repairs.empty:
    st.caption("Repairs made at start (what a stopped or killed process had left half-done):")
    st.dataframe(repairs[["ts", "component", "action", "detail"]], hide_index=True)

st.subheader("Pipeline runs")
table(
    read("cycles", 200),
    ["cycle_id", "started_at", "trigger", "status", "rows_seen", "decision", "verdict", "reason", "new_version", "promoted", "error"],
    "No cycles yet.",
)

st.subheader("Retention")
s = rt.settings
st.caption(
    f"Kept: stream samples {s.retain_stream_days:g} days, predictions {s.retain_predictions_days:g} days, cycles and alerts "
    f"{s.retain_cycles_days:g} days, health records {s.retain_health_days:g} days (0 = for ever); model files of the newest "
    f"{s.keep_model_versions} versions besides champion and challenger. Older rows are archived to Parquet under "
    f"`{s.data_dir / 'archive'}` before they are deleted; runs every {s.retention_interval:g} s with a DuckDB checkpoint."
)
table(read("archives", 50), ["ts", "kind", "n_rows", "cutoff", "path"], "Nothing archived yet.")

with st.expander("Settings (environment variables)"):
    st.dataframe(pd.DataFrame(rt.settings.describe()), hide_index=True)
