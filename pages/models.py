"""Models: train now, the registry, compare versions, roll back, and the MLflow UI."""

import streamlit as st

from core.registry import version_label
from core.store import METRICS
from ui import charts
from ui.state import act, empty_state, read, runtime

rt = runtime()
st.title("Models")

if st.button("Train now", type="primary", help=f"Trains on the newest {rt.settings.training_window:,} labelled samples, then gates"):
    with st.status("Training…", expanded=True) as status:
        outcome = act(lambda: rt.train(on_step=st.write), lambda o: f"{o.label}: {o.decision.reason}")
        if outcome:
            st.write(outcome.decision.reason)
            status.update(label=f"{outcome.label} {'promoted' if outcome.decision.promoted else 'rejected'}", state="complete")
        else:
            status.update(label="Training did not complete", state="error")

models = read("models")
if models.empty:
    empty_state("No model yet: generate or import data on the Data page, then train.")
    st.stop()

st.subheader("Registry")
table = models.assign(rows=models["n_train"] + models["n_holdout"])
table["status"] = table["status"].map({"champion": "★ champion", "challenger": "◆ challenger"}).fillna(table["status"])
st.dataframe(
    table[["label", "status", "created_at", "rows", *METRICS, "trigger", "run_id"]],
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
