"""Models: train now, the registry, compare versions, roll back, and the MLflow UI."""

import pandas as pd
import streamlit as st

from core.registry import version_label
from core.store import METRICS
from ui import charts
from ui.state import act, empty_state, read, runtime, version_column

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


def metric_table(record: object, evaluation: dict) -> pd.DataFrame:
    """Each holdout metric with its 95 % interval and the rows it rests on."""
    rows = []
    for metric in METRICS:
        interval = evaluation["intervals"].get(metric, {})
        low, high = interval.get("low"), interval.get("high")
        rows.append({"metric": metric, "value": record[metric], "95 % interval": "—" if low is None else f"{low:.4f} – {high:.4f}",
                     "rows": interval.get("n")})  # fmt: skip
    return pd.DataFrame(rows).astype({"value": float})


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
table = models.assign(rows=models["n_train"] + models["n_holdout"], mlflow_run=rt.run_links(models["run_id"].tolist()))
table["status"] = table["status"].map({"champion": "★ champion", "challenger": "◆ challenger"}).fillna(table["status"])
links = {"mlflow_run": st.column_config.LinkColumn("MLflow run", display_text="open run")} if rt.settings.mlflow_ui_url else {}
st.dataframe(
    table[["label", "status", "created_at", "rows", *METRICS, "trigger", "training_data", "run_id", *(["mlflow_run"] if links else [])]],
    hide_index=True,
    column_config={m: st.column_config.NumberColumn(m, format="%.4f") for m in METRICS} | links,
)
if not links:
    st.caption("Set IA_MLFLOW_UI_URL (e.g. http://127.0.0.1:5000) to link each version to its run in the MLflow UI.")

st.subheader("Evaluation")
st.caption(
    "From each version's own holdout, scored once when it was trained and stored: nothing is recomputed here. "
    "Intervals are 95 %: Wilson for proportions, a bootstrap of the confusion counts for F1, Hanley-McNeil for ROC AUC."
)
versions = models["version"].tolist()
champion = rt.registry.champion_version
left, right = st.columns(2)
first = left.selectbox("Version", versions, index=versions.index(champion) if champion in versions else 0, format_func=version_label,
                       key="eval_version")  # fmt: skip
second = right.selectbox("Compare with", [None, *[v for v in versions if v != first]], format_func=lambda v: "—" if v is None else
                         version_label(v), key="eval_compare")  # fmt: skip
chosen = [v for v in (first, second) if v is not None]
evaluations = {version_label(v): read("evaluation", v) for v in chosen}
missing = [label for label, ev in evaluations.items() if ev is None]
if missing:
    st.info(f"{', '.join(missing)}: trained before evaluations were stored, so only the registry metrics above exist.")
evaluations = {label: ev for label, ev in evaluations.items() if ev is not None}
if evaluations:
    columns = st.columns(len(evaluations))
    for column, (label, ev) in zip(columns, evaluations.items(), strict=True):
        record = models.set_index("version").loc[next(v for v in chosen if version_label(v) == label)]
        with column:
            st.markdown(f"**{label}** · trained on {int(record['n_train']):,} rows · holdout {ev['n_holdout']:,} rows")
            st.dataframe(metric_table(record, ev), hide_index=True)
            st.plotly_chart(charts.confusion_matrix(ev, label), key=f"confusion_{label}")
    a, b = st.columns(2)
    a.plotly_chart(charts.roc_curves(evaluations), key="roc")
    b.plotly_chart(charts.pr_curves(evaluations), key="pr")
    a.plotly_chart(charts.calibration_curves(evaluations), key="calibration")
    b.plotly_chart(charts.coefficients(evaluations, rt.store.features), key="coefficients")

st.subheader("Promote an earlier version (rollback)")
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
events = version_column(read("model_events", 50), "version", "previous_champion")
st.dataframe(
    events[["ts", "kind", "version", "previous_champion", "promoted", "metric", "challenger_score", "champion_score", "n_rows", "reason"]],
    hide_index=True, height=220,
    column_config={"previous_champion": "champion then", "challenger_score": st.column_config.NumberColumn(format="%.4f"),
                   "champion_score": st.column_config.NumberColumn(format="%.4f")},
)  # fmt: skip

with st.expander("Open the MLflow UI on the same store"):
    st.write("Runs, metrics, artifacts and the registry (aliases `champion` and `challenger`) are in MLflow. In a second terminal:")
    st.code(f".venv/bin/{rt.mlflow_ui_command()}", language="bash")
    st.write("then open http://127.0.0.1:5000.")
