"""Overview: the champion, the latest cycle, the loop, and accuracy over time; refreshes itself."""

import json

import streamlit as st

from core.registry import version_label
from ui import charts
from ui.state import empty_state, read, runtime, table

st.title("Overview")
st.caption("Synthetic data: every figure below is measured from what is stored in this workspace.")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {sec:02d}s"


@st.fragment(run_every=5)
def live() -> None:
    rt = runtime()
    ov = rt.overview()
    last = ov.last_cycle or {}
    cols = st.columns(6)
    cols[0].metric("Champion", version_label(ov.champion), help="The model in service (MLflow alias `champion`).")
    cols[1].metric("Champion holdout accuracy", _pct(ov.champion_accuracy))
    cols[2].metric(
        "Latest realised accuracy", _pct(last.get("realised_accuracy")), help="Champion's accuracy on the newest labelled batch."
    )
    cols[3].metric("Latest estimated accuracy", _pct(last.get("estimated_accuracy")), help="Mean max(p, 1 − p): no labels needed.")
    fired = json.loads(last.get("signals") or "[]")
    drift = "—" if not last else (", ".join(fired) if fired else "no signal")
    cols[4].metric("Signals (latest cycle)", drift, help=f"Features drifted: {_pct(last.get('drift_share'))}")
    next_run = ov.next_run.strftime("%H:%M:%S") if ov.next_run else "—"
    cols[5].metric("Loop", ov.scheduler_state, help=f"Every {ov.interval:g} s; next run {next_run}")
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
        st.plotly_chart(charts.accuracy_history(history, read("models")), key="accuracy_history")
    left, right = st.columns(2)
    with left:
        st.subheader("Latest cycles")
        percent = {"realised_accuracy": st.column_config.NumberColumn("realised", format="percent"),
                   "estimated_accuracy": st.column_config.NumberColumn("estimated", format="percent")}  # fmt: skip
        columns = ["cycle_id", "started_at", "scenario", "rows_seen", "realised_accuracy", "estimated_accuracy", "decision", "reason"]
        table(read("cycles", 10), columns, "No cycles yet.", column_config=percent)
    with right:
        st.subheader("Latest alerts")
        table(read("notifications", 10), ["created_at", "level", "title", "delivery"], "No alerts yet.")


if runtime().registry.champion_version is None:
    empty_state("No model yet: train one on the Models page.")
live()
