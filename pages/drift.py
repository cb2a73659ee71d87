"""Drift: the latest report, each statistic against its threshold over time, and the distributions."""

import streamlit as st

from ui import charts
from ui.state import empty_state, read, runtime

rt = runtime()
st.title("Drift")
th = rt.live_settings()
st.caption(
    f"Per feature: KS of the newest batch and of the newest {th.drift_window_batches} batches pooled against the reference. "
    f"A feature drifts when its p-value is below the family-wise rate {th.ks_alpha:g} divided by every test made (Bonferroni) "
    f"and its effect (Wasserstein / reference std) is at least {th.wasserstein_threshold:g}; the dataset drifts when any "
    f"feature does. PSI ≥ {th.psi_threshold:g} drift, ≥ {th.psi_warning:g} warning, shown beside the verdict."
)

report = read("drift_results")
if report.empty:
    empty_state("No drift report yet: reports are made by each cycle once a champion exists (Operations: run a cycle now).")
    st.stop()

cycle = int(report["cycle_id"].iloc[0])
st.subheader(f"Latest report (cycle {cycle})")
verdict = rt.cycle_verdict(cycle)
if verdict:
    st.info(verdict, icon=":material/insights:")
st.dataframe(
    report[["feature", "test", "statistic", "p_value", "threshold", "effect", "window_batches", "psi", "psi_status", "drifted",
            "n_reference", "n_current"]],
    hide_index=True,
    column_config={"statistic": st.column_config.NumberColumn(format="%.4f"), "p_value": st.column_config.NumberColumn(format="%.4g"),
                   "threshold": st.column_config.NumberColumn(format="%.4g"), "psi": st.column_config.NumberColumn(format="%.3f")},
)  # fmt: skip

st.plotly_chart(charts.drift_statistics(read("drift_history", 300)), key="drift_history")

history = read("accuracy_history", 400)
st.plotly_chart(charts.accuracy_history(history), key="realised_vs_estimated")

window = rt.reference_window()
batch = rt.latest_batch()
drifted = report.loc[report["drifted"], "feature"].tolist()
if window and batch:
    st.subheader("Reference vs current batch" + (f": drifted features {', '.join(drifted)}" if drifted else " (no feature drifted)"))
    reference = read("sample_features", window[0], window[1], 20_000)
    current = read("sample_features", batch[0], batch[1], 20_000)
    cols = st.columns(2)
    for i, feature in enumerate(drifted or rt.store.features):
        cols[i % 2].plotly_chart(charts.distribution_overlay(reference, current, feature, "Current batch"), key=f"drift_dist_{feature}")
