"""Overview: the champion, the latest cycle, the loop, and accuracy over time; refreshes itself."""

import json

import streamlit as st

from core.registry import version_label
from ui import charts
from ui.state import empty_state, percent, read, runtime, table, version_column

st.title("Overview")
st.caption("Synthetic data: every figure below is measured from what is stored in this workspace.")


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {sec:02d}s"


@st.fragment(run_every=5)
def live() -> None:
    rt = runtime()
    ov = rt.overview()
    last = ov.last_cycle or {}
    next_run = ov.next_run.strftime("%H:%M:%S") if ov.next_run else "—"
    top, bottom = st.columns(3), st.columns(3)  # two rows of three: labels and values fit at 1024 px
    top[0].metric("Champion", version_label(ov.champion), help="The model in service (MLflow alias `champion`).")
    top[1].metric("Holdout accuracy", percent(ov.champion_accuracy), help="The champion's accuracy on its own holdout.")
    top[2].metric("Loop", ov.scheduler_state, help=f"Every {ov.interval:g} s; next run {next_run}")
    bottom[0].metric(
        "Realised accuracy", percent(last.get("realised_accuracy")), help="The champion's accuracy on the newest labelled batch."
    )
    bottom[1].metric("Estimated accuracy", percent(last.get("estimated_accuracy")), help="Mean max(p, 1 − p): no labels needed (CBPE).")
    fired = json.loads(last.get("signals") or "[]")
    drift = "—" if not last else (", ".join(fired) if fired else "no signal")
    bottom[2].metric("Signals (latest cycle)", drift, help=f"Features drifted: {percent(last.get('drift_share'))}")
    if last.get("verdict"):
        st.info(f"**Cycle {last['cycle_id']}:** {last['verdict']}", icon=":material/insights:")
    c = ov.counts
    st.caption(
        f"Uptime {_duration(ov.uptime_seconds)} · {c['datasets']:,} datasets · {c['samples']:,} samples · "
        f"{c['models']:,} models · {c['predictions']:,} predictions · next cycle {next_run}"
    )
    history = read("accuracy_history", 400)
    if history.empty:
        empty_state("No cycles yet: the loop runs its first cycle shortly after start (Operations page to start it or run one now).")
    else:
        st.plotly_chart(charts.accuracy_history(history, read("model_events", 500)), key="accuracy_history")
    left, right = st.columns(2)
    with left:
        st.subheader("Latest cycles")
        shares = {"realised_accuracy": st.column_config.NumberColumn("realised", format="percent"),
                   "estimated_accuracy": st.column_config.NumberColumn("estimated", format="percent")}  # fmt: skip
        columns = ["cycle_id", "started_at", "scenario", "champion_version", "rows_seen", "realised_accuracy", "estimated_accuracy",
                   "decision", "reason"]  # fmt: skip
        table(version_column(read("cycles", 10), "champion_version"), columns, "No cycles yet.", column_config=shares)
    with right:
        st.subheader("Latest alerts")
        table(read("notifications", 10), ["created_at", "level", "title", "delivery"], "No alerts yet.")


if runtime().registry.champion_version is None:
    empty_state("No model yet: train one on the Models page.")
live()
