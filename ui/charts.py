"""Plotly figures built from the aggregated frames the store returns (already downsampled)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.registry import version_label

COLOURS = {
    "realised": "#1f77b4", "estimated": "#9467bd", "holdout": "#2ca02c", "drift": "#ff7f0e", "rejected": "#d62728",
    "reference": "#7f8c8d", "current": "#ff7f0e",
}  # fmt: skip


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 380) -> go.Figure:
    fig.update_layout(
        title=title, xaxis_title=x, yaxis_title=y, height=height, margin={"l": 40, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.28},
    )  # fmt: skip
    return fig


def accuracy_history(history: pd.DataFrame, models: pd.DataFrame | None = None) -> go.Figure:
    """Realised and estimated accuracy per cycle, each model's holdout accuracy, drift and promotion markers."""
    fig = go.Figure()
    fig.add_scatter(
        x=history["ts"], y=history["realised"], name="Realised accuracy (labelled batch)", mode="lines", line_color=COLOURS["realised"]
    )
    fig.add_scatter(
        x=history["ts"],
        y=history["estimated"],
        name="Estimated accuracy (label-free)",
        mode="lines",
        line={"color": COLOURS["estimated"], "dash": "dot"},
    )
    if models is not None and not models.empty:
        fig.add_scatter(
            x=models["created_at"], y=models["accuracy"], name="Model holdout accuracy", mode="markers+text",
            text=models["label"], textposition="top center", marker={"color": COLOURS["holdout"], "size": 9, "symbol": "diamond"},
        )  # fmt: skip
    for column, name, colour, symbol in (("drift", "Drift detected", COLOURS["drift"], "x"), ("promoted", "Promoted", COLOURS["holdout"], "star"),
                                         ("rejected", "Rejected", COLOURS["rejected"], "triangle-down")):  # fmt: skip
        marked = history[history[column].fillna(False).astype(bool)]
        if not marked.empty:
            y = marked["realised"].fillna(marked["estimated"])
            fig.add_scatter(x=marked["ts"], y=y, name=name, mode="markers", marker={"color": colour, "size": 11, "symbol": symbol})
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return _layout(fig, "Accuracy over time", "time (UTC)", "accuracy")


def drift_statistics(history: pd.DataFrame) -> go.Figure:
    """One panel per feature: the test statistic against its threshold, per cycle."""
    features = list(dict.fromkeys(history["feature"]))
    fig = make_subplots(rows=len(features), cols=1, shared_xaxes=True, subplot_titles=features, vertical_spacing=0.08)
    for i, feature in enumerate(features, start=1):
        rows = history[history["feature"] == feature]
        test = rows["test"].iloc[-1]
        label = "KS p-value" if test == "ks" else "normalised Wasserstein"
        fig.add_scatter(x=rows["ts"], y=rows["statistic"] if test != "ks" else rows["p_value"], name=f"{feature}: {label}",
                        mode="lines+markers", row=i, col=1)  # fmt: skip
        fig.add_scatter(
            x=rows["ts"],
            y=rows["threshold"],
            name=f"{feature}: threshold",
            mode="lines",
            line={"dash": "dash", "color": "grey"},
            row=i,
            col=1,
        )
    fig.update_yaxes(title_text="statistic")
    fig.update_xaxes(title_text="time (UTC)", row=len(features), col=1)
    return _layout(
        fig, "Drift statistic against its threshold (KS: drift when the p-value is below)", "", "", height=220 * len(features) + 80
    )


def distribution_overlay(reference: pd.DataFrame, current: pd.DataFrame, feature: str, current_name: str) -> go.Figure:
    fig = go.Figure()
    fig.add_histogram(
        x=reference[feature], name="Reference (champion's training data)", histnorm="probability density", opacity=0.55, nbinsx=40
    )
    fig.add_histogram(x=current[feature], name=current_name, histnorm="probability density", opacity=0.55, nbinsx=40)
    fig.update_layout(barmode="overlay")
    return _layout(fig, f"{feature}: reference vs {current_name.lower()}", f"{feature} (synthetic units)", "density", height=320)


def class_balance(reference: dict[int, int], current: dict[int, int], current_name: str) -> go.Figure:
    fig = go.Figure()
    for counts, name, colour in ((reference, "Reference", COLOURS["reference"]), (current, current_name, COLOURS["current"])):
        total = sum(counts.values()) or 1
        fig.add_bar(x=["class 0", "class 1"], y=[counts.get(0, 0) / total, counts.get(1, 0) / total], name=name, marker_color=colour)
    fig.update_yaxes(tickformat=".0%")
    return _layout(fig, "Class balance", "target", "share of rows", height=320)


def latency(history: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=history["ts"], y=history["p50_ms"], name="p50", mode="lines+markers")
    fig.add_scatter(x=history["ts"], y=history["p95_ms"], name="p95", mode="lines+markers")
    return _layout(fig, "Prediction latency over time", "time (UTC)", "latency (ms)", height=320)


def availability(history: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=history["ts"], y=history["availability"], name="healthy share", mode="lines+markers", line_shape="hv")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return _layout(fig, "Availability (share of healthy checks)", "time (UTC)", "healthy", height=300)


def compare_metrics(a: dict, b: dict, metrics: list[str]) -> go.Figure:
    fig = go.Figure()
    for record in (a, b):
        fig.add_bar(x=metrics, y=[record[m] for m in metrics], name=version_label(record["version"]))
    return _layout(fig, "Holdout metrics (log loss: lower is better)", "metric", "value", height=340)


def confidence_gauge(confidence: float, prediction: int) -> go.Figure:
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number", value=confidence * 100, number={"suffix": " %"},
            title={"text": f"Confidence in class {prediction}"},
            gauge={"axis": {"range": [50, 100]}, "bar": {"color": COLOURS["realised"]}},
        )
    )  # fmt: skip
    fig.update_layout(height=250, margin={"l": 20, "r": 20, "t": 60, "b": 10})
    return fig
