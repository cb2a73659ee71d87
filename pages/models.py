"""Models: train now, the registry, compare versions, roll back, and the MLflow UI."""

import streamlit as st

from core.registry import version_label
from core.store import METRICS
from ui import charts
from ui.state import act, empty_state, read, runtime

rt = runtime()
st.title("Models")

datasets = read("datasets")
source = st.radio(
    "Training data", ["The loop's newest window", "Chosen datasets"], horizontal=True,
    help=f"The loop's window is its newest {rt.settings.training_window:,} incoming labelled samples; or pick any datasets.",
)  # fmt: skip
chosen = []
if source == "Chosen datasets":
    names = dict(zip(datasets["dataset_id"], datasets["name"], strict=True)) if not datasets.empty else {}
    chosen = st.multiselect("Datasets", list(names), format_func=lambda i: f"{i} · {names[i]}")


def _train_message(o: object) -> str:
    return f"Nothing registered: the data and parameters equal {o.label}'s" if o.equal_to else f"{o.label}: {o.decision.reason}"


if st.button("Train now", type="primary", disabled=source == "Chosen datasets" and not chosen):
    with st.status("Training…", expanded=True) as status:
        outcome = act(lambda: rt.train(on_step=st.write, dataset_ids=chosen or None), _train_message)
        if outcome and outcome.equal_to:
            st.info(_train_message(outcome))
            status.update(label=f"Unchanged: equals {outcome.label}", state="complete")
        elif outcome:
            st.write(outcome.decision.reason)
            verb = "promoted" if outcome.decision.promoted else ("awaits approval" if "awaiting" in outcome.decision.reason else "rejected")
            status.update(label=f"{outcome.label} {verb}", state="complete")
        else:
            status.update(label="Training did not complete", state="error")

waiting = rt.awaiting_approval()
if waiting:
    st.subheader("Awaiting approval")
    st.caption("Policy approve: these challengers passed the gate; a person decides.")
    for version in waiting:
        c1, c2, c3 = st.columns([2, 1, 1])
        c1.write(f"**{version_label(version)}**")
        if c2.button(f"Promote {version_label(version)}", key=f"approve_{version}", type="primary"):
            act(lambda v=version: rt.approve(v), f"{version_label(version)} is champion")
            st.rerun()
        if c3.button(f"Reject {version_label(version)}", key=f"reject_{version}"):
            act(lambda v=version: rt.reject(v), f"{version_label(version)} rejected")
            st.rerun()

models = read("models")
if models.empty:
    empty_state("No model yet: generate or import data on the Data page, then train.")
    st.stop()

st.subheader("Registry")
table = models.assign(rows=models["n_train"] + models["n_holdout"])
table["status"] = table["status"].map({"champion": "★ champion", "challenger": "◆ challenger"}).fillna(table["status"])
st.dataframe(
    table[["label", "status", "created_at", "rows", *METRICS, "trigger", "training_data", "run_id"]],
    hide_index=True,
    column_config={m: st.column_config.NumberColumn(m, format="%.4f") for m in METRICS},
)

st.subheader("Compare two versions")
versions = models["version"].tolist()
if len(versions) < 2:
    empty_state("One version so far: train again to compare two.")
else:
    left, right = st.columns(2)
    a = left.selectbox("Version A", versions, index=0, format_func=version_label)
    b = right.selectbox("Version B", versions, index=1, format_func=version_label)
    record_a, record_b = (models.set_index("version").loc[v].to_dict() | {"version": v} for v in (a, b))
    st.plotly_chart(charts.compare_metrics(record_a, record_b, list(METRICS)), key="compare")

st.subheader("Promote an earlier version (rollback)")
champion = rt.registry.champion_version
others = [v for v in versions if v != champion]
if not others:
    empty_state("Only one version so far: nothing to roll back to.")
else:
    target = st.selectbox("Version to promote", others, format_func=version_label, key="rollback_target")
    if st.button(f"Promote {version_label(target)}…", key="rollback_ask"):
        st.session_state["rollback_pending"] = target
    if st.session_state.get("rollback_pending") == target:
        st.warning(f"{version_label(target)} will replace {version_label(champion)} as champion, in MLflow and here. Confirm?")
        yes, no = st.columns(2)
        if yes.button("Confirm promotion", type="primary", key="rollback_confirm"):
            st.session_state.pop("rollback_pending")
            if act(lambda: rt.rollback(target), f"{version_label(target)} is champion"):
                st.rerun()
        if no.button("Cancel", key="rollback_cancel"):
            st.session_state.pop("rollback_pending")
            st.rerun()

st.subheader("Gate decisions")
st.dataframe(read("model_events", 50), hide_index=True, height=220)

with st.expander("Open the MLflow UI on the same store"):
    st.write("Runs, metrics, artifacts and the registry (aliases `champion` and `challenger`) are in MLflow. In a second terminal:")
    st.code(f".venv/bin/{rt.mlflow_ui_command()}", language="bash")
    st.write("then open http://127.0.0.1:5000.")
