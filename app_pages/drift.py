"""Drift: any cycle in full (verdict, gate, alerts, per-feature tests, distributions), the tests over
time, and the decision boundary replayed over cycles."""

import json

import pandas as pd
import streamlit as st

from core.domain.outcomes import version_label
from core.rules.policy import warns
from core.rules.verdicts import FEATURE, drift_found, drops
from core.stats.drift import JS_FLOOR, LABELS, MISSING_FLOOR, NO_VALUES, PREDICTED, described
from core.stats.estimate import threshold_words
from ui import charts
from ui.report import drift_report_html
from ui.state import (
    COUNT,
    cached,
    choice_from_url,
    dataframe,
    decision_of,
    deliveries,
    empty_state,
    keep_in_url,
    percent,
    runtime,
    signals_tile,
    table,
    tile_line,
    version_column,
)

rt = runtime()
st.title("Drift")
th = rt.loop.live_settings()
st.caption(
    f"Per feature: KS of the newest batch and of it pooled with the batches before it, up to {th.drift_window_batches} "
    "(IA_DRIFT_WINDOW_BATCHES), against the reference; the window that reads strongest is the test's. "
    f"A feature drifts when its p-value is below the family-wise rate {th.ks_alpha:g} divided by every test made (Bonferroni) "
    f"and its effect (Wasserstein / reference std) is at least {th.wasserstein_threshold:g}; the dataset drifts when any "
    f"feature does. PSI's level (≥ {th.psi_threshold:g} high, ≥ {th.psi_warning:g} moderate) is shown beside the verdict, not part of it."
)
also = [f"each category column by chi-square (drift needs a Jensen-Shannon distance of at least {JS_FLOOR:g})"] if any(
    c.kind != "numeric" for c in rt.schema.features) else []  # fmt: skip
also += [f"each missing-value rate by chi-square (drift needs a move of at least {MISSING_FLOOR * 100:.0f} points)"] if any(
    c.missing for c in rt.schema.features) else []  # fmt: skip
if not rt.schema.plain:  # a table's monitor tests the class shares too (core.loop.monitor)
    also += [f"the champion's predicted classes and, where labels came with the batch, the labels' classes, by chi-square "
             f"(Jensen-Shannon at least {JS_FLOOR:g}); when only these move, the cycle shows a class-share shift, not feature drift"]  # fmt: skip
if also:  # said only where this workspace has such columns
    st.caption(f"In this table, the same family also tests {'; '.join(also)}.")

cycle_ids = cached.insights.cycle_ids(500)
if not cycle_ids:
    empty_state("No cycles yet: reports are made by each cycle once a champion exists (Operations: run a cycle now).")
    st.stop()

st.subheader("A cycle in full")
if st.session_state.get("drill_cycle") not in cycle_ids:  # archived by retention, or a fresh session: the newest cycle that
    tested = cached.insights.drift_results()  # made a drift test (a cycle that read nothing has nothing to show)
    st.session_state["drill_cycle"] = (
        int(tested["cycle_id"].iloc[0]) if not tested.empty and tested["cycle_id"].iloc[0] in cycle_ids else cycle_ids[0]
    )
choice_from_url("cycle", "drill_cycle", cycle_ids, int)
chosen = st.selectbox("Cycle", cycle_ids, format_func=lambda c: f"cycle {c}" + (" (newest)" if c == cycle_ids[0] else ""),
                      key="drill_cycle", help="The newest 500 cycles; older ones are archived by retention.")  # fmt: skip
keep_in_url("cycle", str(chosen))
detail = cached.insights.cycle_detail(chosen)
if detail is None:
    empty_state(f"Cycle {chosen} was archived by retention a moment ago: pick another.")
    st.stop()
cycle = detail.cycle
fired = json.loads(cycle.get("signals") or "[]")
# as its alert: a warning when sent to Discord (tour 21: a drop's verdict sat in the same calm box as "No signal")
verdict_box = st.warning if warns(fired, cycle.get("policy")) else st.info
verdict_box(cycle.get("verdict") or "No verdict stored for this cycle (made before verdicts were recorded).", icon=":material/insights:")
dropped = drops(fired)
if dropped and FEATURE not in fired:
    st.warning(
        f"Trigger: **performance drift** ({', '.join(dropped)}), not feature drift: the inputs' distributions did not move "
        "enough to flag, but the champion's accuracy fell. That is what concept drift looks like.",
        icon=":material/trending_down:",
    )
top, bottom = st.columns(3), st.columns(3)  # two rows of three: each value fits at 1024 px
top[0].metric("Champion then", version_label(cycle.get("champion_version")))
upper = cycle.get("realised_upper")
top[1].metric("Realised accuracy", percent(cycle.get("realised_accuracy")), help="On the labels that came this cycle for rows the "
              "champion served (with a label delay, rows it served that many cycles before). Beneath it, the upper end of its "
              "confidence interval: the figure a drop is called on, so a few labels are not read as a fall.",
              delta=None if upper is None or pd.isna(upper) else f"upper bound {percent(upper)}", delta_color="off", delta_arrow="off")  # fmt: skip
top[2].metric("Estimated accuracy", percent(cycle.get("estimated_accuracy")), delta=charts.estimate_band(cycle), delta_color="off",
              delta_arrow="off", help="Without labels, from the champion's calibrated confidence on this batch; the band is where "
              "the realised accuracy should fall, 95 % of the time.")  # fmt: skip
if pd.isna(cycle.get("realised_accuracy")) and not pd.isna(cycle.get("estimated_threshold")):  # tour 16: the bar of labels
    bottom[0].metric("Estimate's threshold", percent(cycle.get("estimated_threshold")), help="No labels came for the champion's rows: "
                     f"the estimate was judged, and a drop is called when it falls below this threshold: "
                     f"{threshold_words(int(cycle['rows_seen'] or 0))}.")  # fmt: skip
else:
    bottom[0].metric("Accuracy bar", percent(cycle.get("performance_bar")), help="A drop is called only when the realised accuracy's "
                     "upper confidence bound (IA_PERF_CONFIDENCE) falls below this bar less the tolerance (IA_PERF_TOLERANCE). The bar "
                     "is what the champion's holdout vouches for (its lower bound) until the champion has served more labelled rows "
                     "than its holdout holds, and at least 1,000, then its realised accuracy on the rows it served: it moves as they "
                     "come. The verdict above names which, and the tolerance this cycle used.")  # fmt: skip
bottom[1].metric("New version", version_label(cycle.get("new_version")), help="The version this cycle registered, if any.")
late = charts.late_labels(cycle.get("label_delay_p50_s"), rt.loop.worker_status().interval, "this realised accuracy")
said, nothing = signals_tile(cycle, fired)
bottom[2].metric("Signals", said, delta=tile_line(fired), delta_color="inverse", delta_arrow="off",
                 help=nothing or ", ".join(fired) or "No signal fired in this cycle.")  # fmt: skip
if late and not pd.isna(cycle.get("realised_accuracy")):  # tour 19: only the tile's help said whose rows they were
    st.caption(late)
policy = f" (policy {cycle['policy']})" if isinstance(cycle.get("policy"), str) else ""  # tour 16: a switch showed nowhere
st.write(f"**Decision{policy}: {decision_of(cycle)}.** {cycle['reason']}")
if not detail.gate_events.empty:
    st.caption("The gate's scores and reason")
    events = version_column(detail.gate_events, "version", "previous_champion")
    dataframe(events[["ts", "kind", "version", "previous_champion", "metric", "challenger_score", "champion_score", "n_rows",
                      "own_challenger_score", "promoted", "reason"]], hide_index=True,
              column_config={"previous_champion": "champion then", "n_rows": "gate rows"})  # fmt: skip
if detail.alerts:
    st.caption("Alerts this cycle raised, and where each went (an informational one is shown here, never sent)")
    dataframe(deliveries(pd.DataFrame(detail.alerts))[["created_at", "kind", "level", "title", "delivery", "http_status", "error"]],
              hide_index=True, column_config={"created_at": "raised (UTC)"})  # fmt: skip
table(
    described(detail.drift),
    # Which feature drifted first, then why in words; the raw statistic is in the report (`measured` says it here).
    ["feature", "test", "drifted", "measured", "p_value", "threshold", "effect", "window_batches", "psi", "psi_status", "n_reference",
     "n_current"],
    "This cycle made no drift test (no champion or no new rows).",
    column_config={"feature": st.column_config.TextColumn("feature", width="medium"),  # "income · missing rate" whole at 1024 px
                   # "Jensen-Shannon distance 0.38, 0% unseen" read "0% un…" at 1024 px: the words a reader reads first
                   "measured": st.column_config.TextColumn("measured", width="large"),
                   "p_value": st.column_config.NumberColumn("p-value", format="%.3g"),
                   "window_batches": "batches pooled",
                   "n_reference": st.column_config.NumberColumn("reference rows", format=COUNT, help="The reference's rows the test read: its "
                                                                "values present (every row for a missing rate)"),
                   "n_current": st.column_config.NumberColumn("current rows", format=COUNT, help="The rows the test compared (values present; "
                                                              "every row for a missing rate): this cycle's batch, or the batches it pooled"),
                   "psi_status": st.column_config.TextColumn("PSI level", help="PSI of this cycle's batch alone, never pooled"),
                   "threshold": st.column_config.NumberColumn("p threshold", format="%.3g"),
                   "effect": st.column_config.NumberColumn("effect", format="%.3f", help="Wasserstein in reference sd (numbers), Jensen-Shannon distance (categories), change in the missing share"), "psi": st.column_config.NumberColumn("PSI", format="%.3f", help="Of this cycle's batch alone, never pooled: beside the verdict, not part of it")},
)  # fmt: skip

figures = []
compared = cached.insights.compared_rows(chosen) if detail.reference is not None else None
_ref, reference = cached.insights.reference_sample(chosen) if compared is not None else (None, None)
far = charts.far_note(compared, rt.schema.numeric, reference) if compared is not None else None
if far:
    st.caption(far)  # beside the table whose shifts they inflate
if compared is not None:  # None: this cycle made no drift test, as its table says
    if compared.batch.rows.empty:
        empty_state(f"Cycle {chosen}'s batch was archived by retention: its distributions are in the Parquet archive.")
    else:
        drifted = detail.drift.loc[detail.drift["drifted"], "feature"].tolist()
        st.caption(f"Distributions this cycle's tests compared{drift_found(drifted)}. Each chart shows the rows its feature's test "
                   f"used: this cycle's batch, or the newest batches the test pooled with it. Reference: {detail.reference.describe()}, "
                   f"the {len(reference):,} rows the test used.")  # fmt: skip
        if compared.unread:
            st.caption(f"For {', '.join(compared.unread)}, the chart shows {compared.batch.name.lower()} as stored, not every row "
                       "the test compared (rows archived by retention, or a sample of a window too large to draw whole).")  # fmt: skip
        untested = detail.drift[detail.drift["psi_status"] == NO_VALUES]
        for side, empty in (("the rows the test compared", untested["n_current"] == 0), ("the reference", untested["n_reference"] == 0)):
            if empty.any():
                st.caption(f"For {', '.join(untested.loc[empty, 'feature'])}, no value was present in {side}: nothing was compared, "
                           "and the missing rate's test measures the change.")  # fmt: skip
        tested_classes = PREDICTED in set(detail.drift["feature"])
        predicted = cached.insights.predicted_classes(chosen) if tested_classes else None
        if predicted is None and tested_classes:
            st.caption(f"For {PREDICTED}, no chart: the champion's model, or the rows it predicted on, cannot all be read again "
                       "(the table says how far the class shares moved).")  # fmt: skip
        cols = st.columns(2)

        def place(figure: object, key: str) -> None:
            figures.append(figure)
            cols[(len(figures) - 1) % 2].plotly_chart(figure, key=key)

        for feature in rt.schema.names:
            rows = compared.of(feature)
            place(charts.distribution_overlay(reference, rows.rows, feature, rows.name, detail.reference.legend, rows.short_name),
                  f"drift_dist_{feature}")  # fmt: skip
        if LABELS in compared.by_feature or LABELS in compared.unread:  # the labels were tested: show their shares
            rows = compared.of(LABELS)
            place(charts.label_overlay(reference, rows.rows, rt.schema.classes, rows.name, detail.reference.legend, rows.short_name),
                  "drift_dist_labels")  # fmt: skip
        if predicted is not None:  # the champion's classes, on the rows its test compared
            on_reference, rows = predicted
            place(charts.label_overlay(on_reference, rows.rows, rt.schema.classes, rows.name, detail.reference.legend, rows.short_name,
                                       column=PREDICTED), "drift_dist_predicted")  # fmt: skip
features = rt.schema.names


def _report() -> str:
    """The cycle in one file, with its decision boundary: for concept drift the distributions say "no drift"."""
    plane = features if rt.schema.plain else rt.schema.numeric
    boundary = charts.decision_boundary(cached.insights.boundary(chosen, plane[0], plane[1])) if len(plane) >= 2 else None
    return drift_report_html(detail, figures, boundary, [far] if far else [])


st.download_button("Download this report (HTML)", data=_report, file_name=f"drift_report_cycle_{chosen}.html", mime="text/html",
                   icon=":material/download:")  # fmt: skip

st.subheader("Tests over time")
history = cached.insights.drift_history(300)
if history.empty:
    empty_state("No drift tests yet.")
else:
    st.plotly_chart(charts.drift_statistics(history, th.wasserstein_threshold, th.psi_threshold, th.psi_warning), key="drift_history")
newest = cached.insights.cycles(1)  # the span after the last cycle that read data is drawn as such
accuracy = cached.insights.accuracy_history(400)
if accuracy.empty:  # drawn empty, its axis read 0, 2, 4, 6 under a lone version marker
    empty_state("No accuracy over time yet: no cycle has read data (the realised and estimated accuracy are measured on it).")
else:
    st.plotly_chart(charts.accuracy_history(accuracy, cached.insights.model_events(500), newest["started_at"].iloc[0]),
                    key="realised_vs_estimated")  # fmt: skip

st.subheader("Decision boundary")
plane = features if rt.schema.plain else rt.schema.numeric
if len(plane) < 2:
    empty_state("The boundary is drawn in the plane of two numeric columns, and this table has fewer.")
    st.stop()
if rt.schema.plain:
    st.caption(
        "The champion's reference (open rings) and a cycle's labelled batch (crosses), coloured by class, with the champion's "
        "line and the line of the challenger that cycle trained. Concept drift: the crosses stop matching the line. A promotion: "
        "the line turns."
    )
else:
    st.caption(
        "Two numeric columns: the champion's reference (open rings) and a cycle's labelled batch (crosses), coloured by class, "
        "over the class the champion predicts in each part of the plane (shaded), the other columns held at the reference's "
        "median or most frequent category."
    )
x_feature, y_feature = plane[0], plane[1]
if len(plane) > 2:
    fx, fy = st.columns(2)
    x_feature = fx.selectbox("x feature", plane, index=0, key="boundary_x")
    y_feature = fy.selectbox("y feature", [f for f in plane if f != x_feature], index=0, key="boundary_y")
replay = sorted(cycle_ids[:200])
if st.session_state.get("_boundary_follows") != chosen:  # a cycle picked above (or by a link): the replay starts there
    st.session_state["_boundary_follows"] = chosen
    st.session_state["boundary_cycle"] = chosen if chosen in replay else replay[-1]
if st.session_state.get("boundary_cycle") not in replay:
    st.session_state["boundary_cycle"] = replay[-1]
at = st.select_slider("Replay cycles", replay, key="boundary_cycle") if len(replay) > 1 else replay[0]
view = cached.insights.boundary(at, x_feature, y_feature)
if view.note:
    st.caption(view.note)
st.plotly_chart(charts.decision_boundary(view), key="boundary")
