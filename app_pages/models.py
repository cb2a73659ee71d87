"""Models: train now, the registry, compare versions, roll back, and the MLflow UI."""

import pandas as pd
import streamlit as st

from core.domain.outcomes import METRICS, RetrainStatus, parse_version, version_label
from core.domain.outcomes import STATUS_LABELS as STATUS_WORDS
from core.domain.validation import capitalised
from core.ml.training import C_LIMITS, CLASS_WEIGHTS, TrainingOptions
from core.runtime import TrainOutcome
from ui import charts
from ui.state import COUNT, act, cached, choice_from_url, dataframe, empty_state, keep_in_url, percent, plural, runtime, version_column

rt = runtime()
st.title("Models")
flash = st.session_state.pop("models_flash", None)  # a message from before a rerun (a promotion, a rollback)
if flash:
    st.success(flash, icon=":material/check_circle:")

datasets = cached.insights.datasets()
source = st.radio(
    "Training data", ["The loop's newest window", "Chosen datasets"], horizontal=True,
    help=f"The loop's window is its newest {rt.settings.training_window:,} incoming labelled samples; or pick any datasets. "
    "Either way the gate judges the challenger on the loop's recent incoming data, the traffic it would serve.",
)  # fmt: skip
chosen = []
if source == "Chosen datasets":
    names = dict(zip(datasets["dataset_id"], datasets["name"], strict=True)) if not datasets.empty else {}
    chosen = st.multiselect("Datasets", list(names), format_func=lambda i: f"{i} · {names[i]}")
with st.expander("Training options (recorded in MLflow)"):
    o1, o2, o3 = st.columns(3)
    # No min or max on the box: Streamlit keeps a value typed beyond them out of the form, and Train used the old one.
    c_value = o1.number_input("C (inverse regularisation)", value=1.0, format="%.4g", key="train_c",
                              help=f"Smaller C: stronger regularisation, a simpler model ({C_LIMITS[0]:g} to {C_LIMITS[1]:,g}).")  # fmt: skip
    weights = o2.selectbox("Class weights", CLASS_WEIGHTS, key="train_weights", help="balanced: rare classes weigh more.")
    hold = o3.checkbox("Train without promoting", key="train_hold", help="Register and score it as a candidate; promote it later by hand.")


def metric_table(metrics: dict, evaluation: dict) -> pd.DataFrame:
    """Each metric with its 95 % interval and the rows it rests on."""
    rows = []
    for metric in METRICS:
        interval = evaluation["intervals"].get(metric, {})
        low, high = interval.get("low"), interval.get("high")
        rows.append({"metric": metric, "value": metrics[metric], "95 % interval": "—" if low is None else f"{low:.4f} – {high:.4f}",
                     "rows": interval.get("n")})  # fmt: skip
    return pd.DataFrame(rows).astype({"value": float})


MARKS = {"champion": "★ ", "challenger": "◆ "}  # the words are every door's (core.domain.outcomes), the marks the table's
STATUS_LABELS = {status: MARKS.get(status, "") + words for status, words in STATUS_WORDS.items()}
METRIC_NAMES = {"roc_auc": "ROC AUC", "log_loss": "log loss"}  # headers as a person writes them
VERBS: dict[RetrainStatus, str] = {"promoted": "promoted", "awaiting_approval": "awaits approval", "candidate": "kept as a candidate",
                                   "rejected": "rejected", "unchanged": "unchanged"}  # fmt: skip


def _train_message(o: TrainOutcome) -> str:
    return f"{o.label}: {o.reason}"


if st.button("Train now", type="primary", disabled=source == "Chosen datasets" and not chosen):
    with st.status("Training…", expanded=True) as status:
        options = act(lambda: TrainingOptions(float(c_value), weights))
        outcome = options and act(lambda: rt.models.train(on_step=st.write, dataset_ids=chosen or None, options=options, promote=not hold),
                                  _train_message, {"dataset_ids": "Datasets"})  # fmt: skip
        if outcome and outcome.status == "unchanged":
            st.info(capitalised(outcome.reason))
            status.update(label=f"Unchanged: equals {outcome.label}", state="complete")
        elif outcome:
            st.write(outcome.reason)
            status.update(label=f"{outcome.label} {VERBS[outcome.status]}", state="complete")
            st.session_state["eval_version"] = outcome.version  # the evaluation below shows what was just trained
            st.session_state.pop("eval_compare", None)
        else:  # left open: the reason is inside, and a closed box reads as nothing having happened
            status.update(label="Training did not complete", state="error", expanded=True)

waiting = rt.models.awaiting_approval()
if waiting:
    st.subheader("Awaiting approval")
    policy = rt.loop.live_settings().policy
    st.caption("Policy approve: these challengers passed the gate; a person decides." if policy == "approve" else
               f"These challengers passed the gate under policy approve and wait for a person; the policy is {policy} now, so "
               "no new one will wait, and one is withdrawn when another version takes service.")  # fmt: skip
    for version in waiting:
        c1, c2, c3 = st.columns([2, 1, 1])
        c1.write(f"**{version_label(version)}**")
        gate = cached.insights.waiting_reason(version)
        if gate:
            c1.caption(capitalised(gate))
        if c2.button(f"Promote {version_label(version)}", key=f"approve_{version}", type="primary"):
            if act(lambda v=version: rt.models.approve(v)):
                st.session_state["models_flash"] = f"{version_label(version)} is champion"
            st.rerun()
        if c3.button(f"Reject {version_label(version)}", key=f"reject_{version}"):
            if act(lambda v=version: rt.models.reject(v)):
                st.session_state["models_flash"] = f"{version_label(version)} rejected; {version_label(rt.models.champion_version)} stays"
            st.rerun()

models = cached.insights.models()
if models.empty:
    empty_state("No model yet: generate or import data on the Data page, then train.")
    st.stop()

st.subheader("Registry")
realised = {v.version: f"{percent(v.accuracy)} on {plural(v.labels, 'label')}" for v in cached.insights.realised_by_version()}
# a version the gate turned down (or a person, or a fresher one) never served: "no labels yet" promised some (tour 22)
never = set(models.loc[models["status"] == "rejected", "version"])
table = models.assign(mlflow_run=rt.models.run_links(models["run_id"].tolist()),
                      realised=[realised.get(v, "never served" if v in never else "no labels yet") for v in models["version"]])  # fmt: skip
table["status"] = table["status"].where(~table["superseded"].astype(bool), "superseded").map(STATUS_LABELS).fillna(table["status"])
links = {"mlflow_run": st.column_config.LinkColumn("MLflow run", display_text="open run")} if rt.settings.mlflow_ui_url else {}
dataframe(
    table[["label", "status", "realised", "created_at", "n_train", "n_holdout", *METRICS, "trigger", "training_data", "run_id",
           *(["mlflow_run"] if links else [])]],
    hide_index=True,
    column_config={m: st.column_config.NumberColumn(METRIC_NAMES.get(m, m), format="%.4f") for m in METRICS} | links | {
        "n_train": st.column_config.NumberColumn("trained on", format=COUNT, help="Rows the version was fitted on"),
        "n_holdout": st.column_config.NumberColumn("holdout", format=COUNT, help="Rows held out of its training: its metrics here rest on them"),
        "realised": st.column_config.TextColumn(
        "realised (served)", help="Every label received for the predictions this version served, whoever served when they came: "
        "its accuracy in service, beside the holdout metrics.")},
)  # fmt: skip
if not links:
    st.caption("Set IA_MLFLOW_UI_URL (e.g. http://127.0.0.1:5000) to link each version to its run in the MLflow UI.")

st.subheader("Evaluation")
versions = models["version"].tolist()
champion = rt.models.champion_version
left, right = st.columns(2)
if st.session_state.get("eval_version") not in versions:
    st.session_state["eval_version"] = champion if champion in versions else versions[0]
choice_from_url("version", "eval_version", versions, parse_version)
first = left.selectbox("Version", versions, format_func=version_label, key="eval_version")
keep_in_url("version", version_label(first))


def _compare_on_shared_set() -> None:
    """Two versions on their own holdouts are not comparable: picking a second one switches to a shared set."""
    if st.session_state.get("eval_compare") is not None and st.session_state.get("eval_basis") == "own":
        st.session_state["eval_basis"] = "loop"


second = right.selectbox("Compare with", [None, *[v for v in versions if v != first]], format_func=lambda v: "—" if v is None else
                         version_label(v), key="eval_compare", on_change=_compare_on_shared_set)  # fmt: skip
chosen = [v for v in (first, second) if v is not None]
SHARED = {"loop": "the loop's newest incoming rows", "dataset": "a dataset I pick", "own": "each version's own holdout"}
st.session_state.setdefault("eval_basis", "loop" if second else "own")
basis = st.radio("Scored on", list(SHARED), format_func=SHARED.get, horizontal=True, key="eval_basis",
                 help="One shared set makes two versions comparable; each version's own holdout is what it was scored on when "
                 "trained (stored then, not recomputed).")  # fmt: skip
evaluations: dict[str, dict] = {}
metrics: dict[str, dict] = {}
classes = rt.schema.classes
if basis == "own":
    st.caption("Each version on its own holdout, scored once when it was trained. Two holdouts differ (their class mix, "
               "their rows): compare on a shared set instead. Intervals are 95 %: "
               + ("Wilson for accuracy, a Bayesian bootstrap of the confusion matrix for the macro precision, recall and F1, "
                  "the mean of each class's one-vs-rest ROC AUC bounds." if len(classes) > 2 else "Wilson for proportions, a Bayesian bootstrap of "
                  "the confusion counts for F1, Wilson at Hanley-McNeil's effective size for ROC AUC."))  # fmt: skip
    for v in chosen:
        ev = cached.insights.evaluation(v)
        if ev is None:
            st.info(f"{version_label(v)}: trained before evaluations were stored, so only the registry metrics above exist.")
            continue
        evaluations[version_label(v)] = ev
        metrics[version_label(v)] = models.set_index("version").loc[v, list(METRICS)].to_dict()
    set_names = {label: f"own holdout, {ev['n_holdout']:,} rows" for label, ev in evaluations.items()}
else:
    dataset = None
    if basis == "dataset":
        ids = datasets["dataset_id"].tolist()
        names = dict(zip(ids, datasets["name"], strict=True))
        dataset = st.selectbox("Dataset", ids, format_func=lambda i: f"{i} · {names[i]}", key="eval_dataset")
    comparison = act(lambda: cached.models.compare(tuple(chosen), dataset))
    if comparison:
        seen = "; ".join(f"{label}'s training window holds {n:,} of them" for label, n in comparison.seen.items() if n)
        st.caption(f"Every figure below rests on the same {comparison.n_rows:,} rows: {comparison.description}."
                   + (f" Careful: {seen} (fitted on, or held out to score it), so its figures may flatter it." if seen
                      else " No version trained on any of them."))  # fmt: skip
        evaluations = comparison.evaluations
        metrics = {label: ev["metrics"] for label, ev in evaluations.items()}
        set_names = dict.fromkeys(evaluations, f"shared set, {comparison.n_rows:,} rows")
if evaluations:
    columns = st.columns(len(evaluations))
    for column, (label, ev) in zip(columns, evaluations.items(), strict=True):
        record = models.set_index("version").loc[next(v for v in chosen if version_label(v) == label)]
        with column:
            st.markdown(f"**{label}** · trained on {int(record['n_train']):,} rows · scored on {set_names[label]}")
            dataframe(
                metric_table(metrics[label], ev),
                hide_index=True,
                column_config={"value": st.column_config.NumberColumn(format="%.4f"), "rows": st.column_config.NumberColumn(format=COUNT)},
            )  # 1.0000, as its interval reads
            st.plotly_chart(charts.confusion_matrix(ev, label, classes), key=f"confusion_{label}")
    a, b = st.columns(2)
    label, ev = next(iter(evaluations.items()))
    if "per_class" in ev:  # more than two classes: each class against the rest, each version in its own dash
        a.plotly_chart(charts.one_vs_rest(evaluations, classes, "roc"), key="roc")
        b.plotly_chart(charts.one_vs_rest(evaluations, classes, "pr"), key="pr")
    else:
        a.plotly_chart(charts.roc_curves(evaluations), key="roc")
        b.plotly_chart(charts.pr_curves(evaluations), key="pr")
    a.plotly_chart(charts.calibration_curves(evaluations, classes), key="calibration")
    b.plotly_chart(charts.coefficients(evaluations, rt.schema.names, classes), key="coefficients")
    st.markdown(f"**Decision threshold** · {label}")
    if "per_class" in ev:
        st.caption(f"With {len(classes)} classes the served class is the most probable one: there is no single threshold to move.")
    elif not ev.get("thresholds"):
        st.caption(f"{label} was trained before per-threshold counts were stored: score it on a shared set to see them.")
    else:
        by_t = {row["threshold"]: row for row in ev["thresholds"]}
        negative, positive = charts.class_name(classes[0]), charts.class_name(classes[1])
        t = st.select_slider(f"Predict {positive} when {charts.probability_of(classes[1])} ≥", list(by_t), value=0.5, key="eval_threshold")
        st.caption(f"Below it a row is called {negative}; precision and recall are those of {positive}. Served predictions use 0.50.")
        row = by_t[t]
        k1, k2, k3 = st.columns(3)
        k1.metric("Precision", percent(row["precision"]), help=f"Of the rows called {positive}, the share that truly were.")
        k2.metric("Recall", percent(row["recall"]), help=f"Of the rows that were {positive}, the share called so.")
        k3.metric("Accuracy", percent(row["accuracy"]))
        st.plotly_chart(charts.confusion_matrix({"confusion": {k: row[k] for k in ("tn", "fp", "fn", "tp")}}, f"{label} at {t:.2f}",
                                                classes), key="confusion_threshold")  # fmt: skip

st.subheader("Promote another version")
st.caption("An older former champion put back is a rollback; a candidate put in service is a promotion by hand.")
events = cached.insights.model_events(500)
others = rt.models.promotable_versions()
if not others:
    rejected = (models["status"] == "rejected").any()  # tour 22: said when nothing had been rejected
    empty_state("No earlier champion or candidate to promote" + (": rejected challengers cannot serve." if rejected else "."))
else:
    kinds = models.set_index("version")["status"].map(STATUS_LABELS).to_dict()
    target = st.selectbox("Version to promote", others, format_func=lambda v: f"{version_label(v)} · {kinds.get(v, '')}",
                          key="rollback_target", help="Former champions (newest first) and candidates trained without promoting.")  # fmt: skip
    back = rt.models.manual_kind(target) == "rollback"
    if st.button(f"{'Roll back to' if back else 'Promote'} {version_label(target)}…", key="rollback_ask"):
        st.session_state["rollback_pending"] = target
    if st.session_state.get("rollback_pending") == target:
        st.warning(f"{version_label(target)} will replace {version_label(champion)} as champion, in MLflow and here"
                   f"{' (a rollback)' if back else ''}. Confirm?")  # fmt: skip
        yes, no = st.columns(2)
        if yes.button("Confirm rollback" if back else "Confirm promotion", type="primary", key="rollback_confirm"):
            st.session_state.pop("rollback_pending")
            if act(lambda: rt.models.promote(target)):
                done = "rolled back to" if back else "promoted by hand:"
                st.session_state["models_flash"] = (
                    f"Champion {done} {version_label(target)}; {version_label(champion)} is a former champion"
                )
                st.rerun()
        if no.button("Cancel", key="rollback_cancel"):
            st.session_state.pop("rollback_pending")
            st.rerun()

st.subheader("Gate decisions")
st.caption("Scores on the gate's set (the loop's recent incoming data the challenger will serve), and beside them on the "
           "challenger's own holdout.")  # fmt: skip
gate_events = version_column(events.head(50), "version", "previous_champion")
dataframe(
    gate_events[["ts", "kind", "version", "previous_champion", "promoted", "metric", "challenger_score", "champion_score", "n_rows",
                 "gate_set", "own_challenger_score", "own_champion_score", "own_n_rows", "reason"]],
    hide_index=True,
    column_config={"previous_champion": "champion then", "n_rows": "gate rows",
                   "challenger_score": st.column_config.NumberColumn("challenger", format="%.4f"),
                   "champion_score": st.column_config.NumberColumn("champion", format="%.4f"),
                   "gate_set": "gate set", "own_challenger_score": st.column_config.NumberColumn("challenger (own holdout)", format="%.4f"),
                   "own_champion_score": st.column_config.NumberColumn("champion (own holdout)", format="%.4f"),
                   "own_n_rows": "own holdout rows"},
)  # fmt: skip

kept = cached.insights.cycles(100)
kept = kept[(kept["decision"] == "challenge") & kept["new_version"].isna()] if not kept.empty else kept
st.caption("A challenger that was not credibly better than the champion is never registered, so it is no gate decision: "
           + (f"the newest {plural(len(kept), 'such challenge')} of the last 100 cycles, each with its figures in words."
              if not kept.empty else "none in the last 100 cycles."))  # fmt: skip
if not kept.empty:
    kept = version_column(kept, "champion_version")
    dataframe(kept[["cycle_id", "started_at", "champion_version", "reason"]].head(20), hide_index=True, height=220,
                 column_config={"cycle_id": "cycle", "champion_version": "champion kept",
                                "reason": st.column_config.TextColumn("why (hover for the whole)", width="large")})  # fmt: skip

with st.expander("Open the MLflow UI on the same store"):
    st.write("Runs, metrics, artifacts and the registry (aliases `champion` and `challenger`) are in MLflow. In a second terminal:")
    st.code(f".venv/bin/{rt.models.mlflow_ui_command()}", language="bash")
    st.write("then open http://127.0.0.1:5000.")
