"""A cycle's verdict in words: which signal fired, what it means, and what it cannot see.

Three signals watch a model, and each is blind to something. Saying so on every cycle
(and in every alert) keeps a quiet screen from being read as "all is well":

- feature drift (KS on numbers, chi-square on categories and missing rates) sees the inputs move, with or without labels, but
  not whether the model is now wrong: a shift along the boundary leaves it right;
- a realised-accuracy drop sees the model being wrong, including concept drift, but
  only where labels arrive;
- an estimated-accuracy drop (the mean confidence, CBPE) needs no labels and sees
  inputs moving towards the boundary, but not concept drift: a rotated boundary
  leaves the model exactly as confident, and wrong.
"""

from __future__ import annotations

from core.config import Settings
from core.drift import DriftReport, evidence
from core.outcomes import Measurement

FEATURE = "feature drift"
REALISED = "realised-accuracy drop"
ESTIMATED = "estimated-accuracy drop"

MEANS = {
    FEATURE: "the inputs no longer look like the reference data",
    REALISED: "the model is wrong more often than its bar allows",
    ESTIMATED: "the model is less confident on these inputs, so it is expected to be wrong more often",
}
BLIND = {
    FEATURE: "it cannot tell whether the model is now wrong (a shift along the boundary can leave accuracy intact)",
    REALISED: "it needs labels: on unlabelled prediction inputs it is silent",
    ESTIMATED: "it cannot see concept drift: a rotated boundary leaves the model as confident as before, and wrong",
}


def signals(report: DriftReport | None, measured: Measurement) -> list[str]:
    fired = []
    if report is not None and report.dataset_drift:
        fired.append(FEATURE)
    if measured.performance_drift:
        fired.append(REALISED)
    if measured.estimated_drop:
        fired.append(ESTIMATED)
    return fired


def verdict(fired: list[str], report: DriftReport | None, m: Measurement, s: Settings) -> str:
    """Sentences for a person: the evidence of each fired signal, or what the quiet signals do not cover."""
    if m.champion is None:
        return "No champion yet: nothing to judge."
    parts = [_evidence(name, report, m, s) for name in fired]
    if not fired:
        parts.append(_quiet(report, m))
    return " ".join(parts)


def _evidence(name: str, report: DriftReport | None, m: Measurement, s: Settings) -> str:
    if name == FEATURE and report is not None:
        worst = ", ".join(evidence(f) for f in report.features if f.drifted)
        what = f"Feature drift: {worst}, against a family-wise false-alarm rate of {s.ks_alpha:g}."
    elif name == REALISED:
        what = (
            f"Realised-accuracy drop: {m.realised:.3f} on {m.n_rows:,} labelled rows (upper bound {m.realised_upper:.3f}) "
            f"against a bar of {m.bar:.3f} ({m.bar_source}) minus {s.perf_tolerance:g}."
        )
    else:
        what = (
            f"Estimated-accuracy drop: {m.estimated:.3f} without labels, below the model's own estimate on its reference data "
            f"minus {s.perf_tolerance:g}."
        )
    return f"{what} It means {MEANS[name]}; {BLIND[name]}."


def _quiet(report: DriftReport | None, m: Measurement) -> str:
    watched = []
    if report is not None:
        watched.append("the inputs match the reference")
    if m.realised is not None:
        watched.append(f"accuracy {m.realised:.3f} holds against its bar {m.bar:.3f}")
        return f"No signal: {' and '.join(watched)}."
    if m.estimated is not None:
        watched.append(f"estimated accuracy {m.estimated:.3f} holds")
    return f"No signal: {' and '.join(watched)}. These inputs carry no labels, so concept drift could not show here."
