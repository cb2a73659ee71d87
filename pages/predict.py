"""Predict: one row from a form, a batch from a CSV, and the prediction log."""

import streamlit as st

from ui import charts
from ui.state import act, empty_state, read, runtime

rt = runtime()
st.title("Predict")
if rt.registry.champion_version is None:
    empty_state("No model yet: train one on the Models page.")

single, batch = st.columns(2)
with single:
    st.subheader("One prediction")
    with st.form("predict_one"):
        defaults = [1.5, 2.3]  # the original API's example: {"features": [1.5, 2.3]}
        values = [
            st.number_input(name, value=defaults[i] if i < len(defaults) else 0.0, format="%.4f", key=f"in_{name}")
            for i, name in enumerate(rt.store.features)
        ]
        submitted = st.form_submit_button("Predict", type="primary")
    if submitted:
        result = act(lambda: rt.predict(values, source="ui"))
        rt.predictor.flush()  # show it in the log below at once; the prediction itself did not wait
        if result:
            st.success(f"Class **{result.prediction}** with {result.confidence:.1%} confidence, by {result.version_label}")
            st.plotly_chart(charts.confidence_gauge(result.confidence, result.prediction), key="gauge")
            st.caption(f"{result.latency_ms:.2f} ms · {result.timestamp.isoformat()}Z")

with batch:
    st.subheader("Batch from a CSV")
    st.caption(
        f"Columns: {', '.join(rt.store.features)} (a target column is ignored). At most {rt.settings.max_samples_per_request:,} rows."
    )
    file = st.file_uploader("Features CSV", type=["csv"], key="batch_csv")
    if file is not None and st.button("Predict the batch", type="primary"):
        results = act(lambda: rt.predict_csv(file.getvalue()), lambda r: f"{len(r):,} predictions")
        rt.predictor.flush()
        if results is not None:
            st.session_state["batch_results"] = results
    results = st.session_state.get("batch_results")
    if results is not None:
        st.dataframe(results.head(200), hide_index=True, height=240)
        st.download_button(
            "Download the predictions", data=lambda: results.to_csv(index=False), file_name="predictions.csv", mime="text/csv"
        )

st.subheader("Recent predictions")
latency = read("latency_percentiles")
if not latency["count"]:
    empty_state("No predictions yet: use the form above.")
else:
    a, b, c = st.columns(3)
    a.metric("Predictions logged", f"{latency['count']:,}")
    b.metric("Latency p50", f"{latency['p50_ms']:.2f} ms")
    c.metric("Latency p95", f"{latency['p95_ms']:.2f} ms")
    st.plotly_chart(charts.latency(read("latency_history", 200)), key="latency")
    st.dataframe(read("recent_predictions", 100), hide_index=True, height=260)
