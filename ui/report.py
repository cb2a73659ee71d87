"""A cycle's drift report as one self-contained HTML file (plotly.js inlined once: opens offline)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

from core.domain.outcomes import version_label
from core.stats.drift import described
from ui.charts import estimate_band, label_facts
from ui.state import decision_of, deliveries, header, percent

if TYPE_CHECKING:
    from core.services.insights import CycleDetail

STYLE = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1b1f24}
table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #ccd;padding:.25rem .5rem;text-align:right}
th{background:#f3f6fa}.verdict{background:#eef5ff;border-left:4px solid #1f77b4;padding:.75rem 1rem}"""

DRIFT_COLUMNS = ["feature", "test", "statistic", "p_value", "threshold", "measured", "window_batches", "psi", "psi_status", "drifted",
                 "n_reference", "n_current"]  # fmt: skip


def drift_report_html(detail: CycleDetail, figures: list[go.Figure], boundary: go.Figure | None = None, notes: Sequence[str] = ()) -> str:
    """The cycle in one file; `notes` are the lines the page writes beneath its tests table (far values)."""
    c = detail.cycle
    facts = {  # the Drift page's figures, written as it writes them (accuracies in %, counts with commas, whole seconds)
        "Started (UTC)": f"{c['started_at']:%Y-%m-%d %H:%M:%S}", "Trigger": c["trigger"], "Status": c["status"],
        "Rows seen": f"{int(c['rows_seen'] or 0):,}", "Champion": version_label(c.get("champion_version")),
        "Realised accuracy": percent(c.get("realised_accuracy")), "Its upper bound (a drop is called on it)": percent(c.get("realised_upper")),
        "Labels": label_facts(c) or "—",
        "Estimated accuracy": percent(c.get("estimated_accuracy")), "Estimate's band": estimate_band(c),
        "Accuracy bar": percent(c.get("performance_bar")),
        "Signals": ", ".join(json.loads(c.get("signals") or "[]")) or "none", "Decision": decision_of(c),
        "New version": version_label(c.get("new_version")) if c.get("new_version") else "—", "Reason": c["reason"],
    }  # fmt: skip
    parts = [
        f"<h1>IA Continu · drift report · cycle {c['cycle_id']}</h1>",
        f"<p class='verdict'>{html.escape(str(c.get('verdict') or 'No verdict stored for this cycle.'))}</p>",
        _table(pd.DataFrame({"": list(facts), "value": [_cell(v) for v in facts.values()]})),
        "<h2>Per-feature tests</h2>",
        _table(_drift_rows(detail.drift)) if not detail.drift.empty else "<p>No drift rows.</p>",
        *(f"<p>{html.escape(note)}</p>" for note in notes),
    ]
    if not detail.gate_events.empty:
        events = detail.gate_events.assign(version=detail.gate_events["version"].map(version_label))
        parts += [
            "<h2>Gate</h2>",
            _table(
                events[
                    ["ts", "kind", "version", "metric", "challenger_score", "champion_score", "n_rows", "own_challenger_score", "reason"]
                ]
            ),
        ]
    if detail.alerts:
        alerts = deliveries(pd.DataFrame(detail.alerts))[["created_at", "kind", "level", "title", "delivery", "http_status"]]
        parts += ["<h2>Alerts</h2>", _table(alerts)]
    drawn = [("<h2>Decision boundary at this cycle</h2>", boundary)] if boundary is not None else []
    drawn += [("<h2>Distributions compared</h2>" if i == 0 else "", figure) for i, figure in enumerate(figures)]
    for i, (heading, figure) in enumerate(drawn):
        parts += [heading, figure.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)]
    body = "\n".join(parts)
    title = f"IA Continu drift report, cycle {c['cycle_id']}"
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{STYLE}</style></head><body>{body}</body></html>"


def _drift_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Each test by name, with what it measured in its own unit (the raw effect has a different unit per test)."""
    shown = described(rows)
    return shown[[col for col in DRIFT_COLUMNS if col in shown]].rename(columns={"psi_status": "PSI level (beside the verdict)"})


def _table(frame: pd.DataFrame) -> str:
    """A table headed as the dashboard heads it (`header`): "p-value", "created (UTC)", not p_value, created_at."""
    frame = frame.rename(columns=header)
    for column in frame.select_dtypes(include="datetime").columns:  # to the second, as the page shows them
        frame[column] = frame[column].dt.strftime("%Y-%m-%d %H:%M:%S")
    # A None in a text column was written "None" (an alert's HTTP status), and a nullable integer's missing value
    # "<NA>" (the gate's row count of a superseded challenger): na_rep reaches neither.
    text = [
        c for c, kind in frame.dtypes.items() if pd.api.types.is_object_dtype(kind) or isinstance(kind, pd.api.extensions.ExtensionDtype)
    ]
    frame[text] = frame[text].astype(object).where(frame[text].notna(), "—")
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="—", escape=True)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
