"""Predict: one row from a form, a batch from a CSV, and the prediction log."""

import streamlit as st

from core.domain.features import RENAMED_INPUTS, UNSEEN_COLUMN
from ui import charts
from ui.state import act, as_shown, cached, dataframe, empty_state, fragment, percent, plural, runtime, version_column

LOG_COLUMNS = {
    "model_version": "version", "confidence": st.column_config.TextColumn("confidence", help="Never rounded up to 100 %."),
    "ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss.SSS"),
    "timestamp": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss.SSS"),
    "latency_ms": st.column_config.NumberColumn("latency (ms)", format="%.2f"),
    "true_label": "true label", "prediction_id": "prediction id",
}  # fmt: skip

rt = runtime()
schema = rt.schema
OTHER, MISSING = "other…", "(missing)"
st.title("Predict")
if rt.models.champion_version is None:
    empty_state("No model yet: train one on the Models page.")

single, batch = st.columns(2)


def _key(name: str) -> str:
    """A field's widget key, by workspace and column: a value typed in one workspace never fills another's form."""
    return f"in_{rt.settings.workspace or 'demo'}_{name}"


def _plain_inputs() -> list[float]:
    defaults = [1.5, 2.3]  # the original API's example: {"features": [1.5, 2.3]}
    return [
        st.number_input(name, value=defaults[i] if i < len(defaults) else 0.0, format="%.4f", key=_key(name))
        for i, name in enumerate(rt.schema.names)
    ]


def _table_inputs() -> dict[str, object]:
    """A field per column, starting at the reference's typical row (a number's median, the most frequent category):
    numbers (emptied where missing is allowed), a known category or another one."""
    typical = cached.insights.typical_row() if rt.models.champion_version is not None else {}
    decimals = cached.insights.input_decimals() if rt.models.champion_version is not None else {}
    values: dict[str, object] = {}
    for column in schema.features:
        key, usual = _key(column.name), typical.get(column.name)
        places = decimals.get(column.name, 4)  # as the reference writes the column: 22042, not 22042.0000
        written = {"format": f"%.{places}f", "step": 10.0**-places}
        if column.kind == "numeric" and column.missing:
            # A field given a starting value reverts to it when emptied; one started from the session state can be emptied.
            st.session_state.setdefault(key, usual)
            typed = st.number_input(column.name, value=None, key=key, placeholder="empty: missing", **written)
            values[column.name] = as_shown(typed, places)
            continue
        if column.kind == "numeric":
            typed = st.number_input(column.name, value=usual if usual is not None else 0.0, key=key, **written)
            values[column.name] = as_shown(typed, places)
            continue
        options = [*column.categories, OTHER, *([MISSING] if column.missing else [])]
        picked = st.selectbox(column.name, options, index=options.index(usual) if usual in column.categories else 0, key=key)
        if picked == OTHER:
            picked = st.text_input(f"{column.name}: another category", key=f"{key}_other", max_chars=200) or None
        values[column.name] = None if picked == MISSING else picked
    return values


@fragment()
def one_prediction() -> None:
    """Its own fragment: a prediction reruns this form and its explanation, not the whole page."""
    st.subheader("One prediction")
    with st.form("predict_one"):
        values = _plain_inputs() if schema.plain else _table_inputs()
        submitted = st.form_submit_button("Predict", type="primary")
    if submitted:
        result = act(lambda: rt.serving.predict(values, source="ui"))
        if result:
            rt.serving.flush()  # in the log at once; the prediction itself did not wait
            st.session_state["last_prediction"] = (result, values)
            st.rerun(scope="app")  # the log below is outside this fragment: redraw it with the new row
        return
    if "last_prediction" not in st.session_state:
        return
    result, values = st.session_state["last_prediction"]
    label = result.prediction if result.label is None else result.label
    st.success(f"Class **{label}** with {percent(result.confidence)} confidence, by {result.version_label}")
    st.caption(f"{result.latency_ms:.2f} ms · {result.timestamp.isoformat()}Z")
    st.code(result.prediction_id, language=None, wrap_lines=True)  # whole at 1024 px, not scrolled
    st.caption("The prediction's id: send its true label later (labels file below, or POST /feedback) and the loop learns from it.")
    explained = act(lambda: rt.insights.explain(values, result.model_version))
    if explained:
        st.plotly_chart(charts.contributions(explained, percent(explained["probability"])), key="contributions")
        if not schema.plain:
            total = ("the served log-odds" if charts.explanation_unit(explained) == "log-odds"
                     else "the served class's score (logit); the softmax of every class's score gives the probabilities")  # fmt: skip
            if explained.get("from_average", True):
                how = ("how far its inputs stand from the average of the rows the model learnt from (a number's standardised value; "
                       "a category's one-hot column less its share there) times their weights, so a column that never varies "
                       "explains nothing; with the intercept, the average row's,")  # fmt: skip
            else:  # the rows it learnt from were archived by retention: no average to measure from
                how = ("its inputs (a number's standardised value, a category's one-hot column: the rows the model learnt from "
                       "are archived, so no average to measure from) times their weights; with the intercept")  # fmt: skip
            st.caption(f"Each column's part is {how} they sum to {total}. The labels are rounded so they add up too; the hover "
                       "gives three decimals.")  # fmt: skip
            return
        x, y = rt.schema.names[:2]
        view = cached.insights.boundary(None, x, y)
        point = (explained["values"][0], explained["values"][1])
        st.plotly_chart(charts.decision_boundary(view, point), key="prediction_boundary")
        if len(rt.schema.names) > 2:
            st.caption(f"The line is drawn in the plane of {x} and {y} with the other features at the reference's means.")


with single:
    one_prediction()

with batch:
    st.subheader("Batch from a CSV")
    kept = ", ".join(dict.fromkeys([c for c in (schema.id_column, schema.time_column) if c]
                                   + [c.name for c in schema.columns if c.kind == "ignored"] + [schema.target]))  # into the results  # fmt: skip
    extra = "a target column is ignored" if schema.plain else f"{kept} may be there too, kept in the results and not read by the model"
    st.caption(f"Columns{' by name' if not schema.plain else ''}: {', '.join(rt.schema.names)} ({extra}). "
               f"At most {rt.settings.max_samples_per_request:,} rows.")  # fmt: skip
    file = st.file_uploader("Features CSV", type=["csv"], key="batch_csv")
    if file is not None and st.button("Predict the batch", type="primary"):
        st.session_state.pop("batch_results", None)  # a refused file leaves no earlier file's results under its error
        results = act(lambda: rt.serving.predict_csv(file.getvalue()), lambda r: f"{len(r):,} predictions")
        rt.serving.flush()
        if results is not None:
            st.session_state["batch_results"] = (file.name, results)
    if isinstance(st.session_state.get("batch_results"), tuple):  # (file name, results)
        name, results = st.session_state["batch_results"]
        st.caption(f"{plural(len(results), 'prediction')} for {name}" + (", the first 200 shown" if len(results) > 200 else ""))
        renamed = results.attrs.get(RENAMED_INPUTS, {})  # as the results named them: every column of the file
        input_of = {shown: name for name, shown in renamed.items()}
        for column, values in rt.serving.unseen_values(results).items():
            st.warning(f"{column}: {values} never seen in training: scored with no category of its own (check how the "
                       f"file writes it: the known ones are {', '.join(schema.column(input_of.get(column, column)).categories[:8])})")  # fmt: skip
        if renamed:
            st.caption(f"{', '.join(renamed)}: named like a column of the results, so kept as {', '.join(renamed.values())} "
                       "beside the model's own.")  # fmt: skip
        shown = results.head(200)
        # What was predicted first, after the row's own id: at 1024 px the file's first columns (an id, a time) filled the
        # half-width table and the predictions sat off-screen to the right. The download keeps the file's order.
        ours = [c for c in ("prediction", "confidence", UNSEEN_COLUMN) if c in shown]
        first = list(dict.fromkeys([c for c in (schema.id_column,) if c in shown] + ours))
        dataframe(shown.assign(confidence=shown["confidence"].map(percent)), ours=False, hide_index=True, height=240,
                  column_config=LOG_COLUMNS, column_order=[*first, *(c for c in shown.columns if c not in first)])  # fmt: skip
        st.download_button(
            "Download the predictions", data=lambda: rt.serving.results_csv(results), file_name="predictions.csv", mime="text/csv"
        )

st.subheader("Labels that came later")
st.caption(
    "A CSV of `prediction_id,label` rows: each label joins its served prediction, and the prediction becomes a labelled row of "
    f"the loop (its realised accuracy, label coverage and delay). At most {rt.settings.max_labels_per_request:,} labels per file; "
    f"the classes are {', '.join(map(str, schema.classes))}."
)
labels_file = st.file_uploader("Labels CSV", type=["csv"], key="labels_csv")
correct = st.checkbox("Replace labels already given (corrections)", key="labels_correct")
if labels_file is not None and st.button("Send the labels", type="primary"):
    st.session_state.pop("labels_reply", None)  # a refused file leaves no earlier file's reply under its error
    reply = act(lambda: rt.feedback.send_csv(labels_file.getvalue(), correct))
    if reply is not None:
        st.session_state["labels_reply"] = reply
reply = st.session_state.get("labels_reply")
if reply is not None:
    st.success(f"{plural(reply.stored, 'label')} stored, {reply.corrected:,} corrected, of {reply.received:,} received "
               f"({plural(reply.matched, 'id')} matched).")  # fmt: skip
    for ids, what in ((reply.unknown, "unknown (no such prediction)"), (reply.expired, "older than the prediction log's retention"),
                      (reply.already_labelled, "already labelled (tick the box to replace)")):  # fmt: skip
        if ids:
            st.warning(f"{plural(len(ids), 'id')} {what}: {', '.join(ids[:10])}{' …' if len(ids) > 10 else ''}")

st.subheader("Recent predictions")
latency = cached.insights.latency_percentiles()
if not latency["count"]:
    empty_state("No predictions yet: use the form above.")
else:
    a, b, c = st.columns(3)
    a.metric("Predictions logged", f"{latency['count']:,}", help=f"{latency['single']:,} single requests, the rest rows of batches")
    ms = {q: "—" if latency[q] is None else f"{latency[q]:.2f} ms" for q in ("p50_ms", "p95_ms")}
    b.metric("Latency p50", ms["p50_ms"], help="Single requests only: batch rows are left out, each shares its batch's time.")
    c.metric("Latency p95", ms["p95_ms"], help="Single requests only.")
    if latency["single"]:
        st.plotly_chart(charts.latency(cached.insights.latency_history(200)), key="latency")
    log = version_column(cached.insights.recent_predictions(100), "model_version")
    log["confidence"] = log["confidence"].map(percent)
    dataframe(log, ours=False, hide_index=True, height=260, column_config=LOG_COLUMNS)  # no label yet: a dash
