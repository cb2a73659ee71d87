"""Predict: one row from a form, a batch from a CSV, and the prediction log."""

import streamlit as st

from ui import charts
from ui.state import act, empty_state, percent, read, runtime, version_column

LOG_COLUMNS = {
    "model_version": "version", "confidence": st.column_config.TextColumn("confidence", help="Never rounded up to 100 %."),
    "ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss.SSS"),
    "timestamp": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss.SSS"),
    "latency_ms": st.column_config.NumberColumn("latency (ms)", format="%.2f"),
}  # fmt: skip

rt = runtime()
st.title("Predict")
if rt.champion_version is None:
    empty_state("No model yet: train one on the Models page.")

single, batch = st.columns(2)


@st.fragment
def one_prediction() -> None:
    """Its own fragment: a prediction reruns this form and its explanation, not the whole page."""
    st.subheader("One prediction")
    with st.form("predict_one"):
        defaults = [1.5, 2.3]  # the original API's example: {"features": [1.5, 2.3]}
        values = [
            st.number_input(name, value=defaults[i] if i < len(defaults) else 0.0, format="%.4f", key=f"in_{name}")
            for i, name in enumerate(rt.features)
        ]
        submitted = st.form_submit_button("Predict", type="primary")
    if submitted:
        result = act(lambda: rt.predict(values, source="ui"))
        if result:
            rt.flush_predictions()  # in the log at once; the prediction itself did not wait
            st.session_state["last_prediction"] = (result, values)
            st.rerun(scope="app")  # the log below is outside this fragment: redraw it with the new row
        return
    if "last_prediction" not in st.session_state:
        return
    result, values = st.session_state["last_prediction"]
    st.success(f"Class **{result.prediction}** with {percent(result.confidence)} confidence, by {result.version_label}")
    st.caption(f"{result.latency_ms:.2f} ms · {result.timestamp.isoformat()}Z")
    explained = act(lambda: rt.explain(values, result.model_version))
    if explained:
        st.plotly_chart(charts.contributions(explained), key="contributions")
        x, y = rt.features[:2]
        view = read("boundary", None, x, y)
        point = (explained["values"][0], explained["values"][1])
        st.plotly_chart(charts.decision_boundary(view, point), key="prediction_boundary")
        if len(rt.features) > 2:
            st.caption(f"The line is drawn in the plane of {x} and {y} with the other features at the reference's means.")


with single:
    one_prediction()

with batch:
    st.subheader("Batch from a CSV")
    st.caption(f"Columns: {', '.join(rt.features)} (a target column is ignored). At most {rt.settings.max_samples_per_request:,} rows.")
    file = st.file_uploader("Features CSV", type=["csv"], key="batch_csv")
    if file is not None and st.button("Predict the batch", type="primary"):
        results = act(lambda: rt.predict_csv(file.getvalue()), lambda r: f"{len(r):,} predictions")
        rt.flush_predictions()
        if results is not None:
            st.session_state["batch_results"] = results
    results = st.session_state.get("batch_results")
    if results is not None:
        shown = results.head(200)
        st.dataframe(shown.assign(confidence=shown["confidence"].map(percent)), hide_index=True, height=240, column_config=LOG_COLUMNS)
        st.download_button(
            "Download the predictions", data=lambda: results.to_csv(index=False), file_name="predictions.csv", mime="text/csv"
        )

st.subheader("Recent predictions")
latency = read("latency_percentiles")
if not latency["count"]:
    empty_state("No predictions yet: use the form above.")
else:
    a, b, c = st.columns(3)
    a.metric("Predictions logged", f"{latency['count']:,}", help=f"{latency['single']:,} single requests, the rest rows of batches")
    ms = {q: "—" if latency[q] is None else f"{latency[q]:.2f} ms" for q in ("p50_ms", "p95_ms")}
    b.metric("Latency p50", ms["p50_ms"], help="Single requests only: batch rows are left out, each shares its batch's time.")
    c.metric("Latency p95", ms["p95_ms"], help="Single requests only.")
    if latency["single"]:
        st.plotly_chart(charts.latency(read("latency_history", 200)), key="latency")
    log = version_column(read("recent_predictions", 100), "model_version")
    log["confidence"] = log["confidence"].map(percent)
    st.dataframe(log, hide_index=True, height=260, column_config=LOG_COLUMNS)
