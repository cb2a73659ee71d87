"""A cycle's verdict in words: which signal fired, what it means, and what it cannot see.

Three signals watch a model, and each is blind to something. Saying so on every cycle
(and in every alert) keeps a quiet screen from being read as "all is well":

- feature drift (KS on numbers, chi-square on categories and missing rates) sees the inputs move, with or without labels, but
  not whether the model is now wrong: a shift along the boundary leaves it right;
- a realised-accuracy drop sees the model being wrong, including concept drift, but
  only where labels arrive;
- an estimated-accuracy drop (the calibrated confidence, CBPE) needs no labels and sees
  inputs moving towards the boundary, but not concept drift: a rotated boundary
  leaves the model exactly as confident, and wrong.
"""

from __future__ import annotations

from core.config import Settings
from core.domain.outcomes import Measurement, version_label
from core.domain.validation import capitalised, plural
from core.stats.drift import OUTPUTS, DriftReport, evidence
from core.stats.estimate import threshold_words

FEATURE = "feature drift"
CLASS_SHIFT = "class-share shift"  # the drift family fired on the labels or predicted classes alone, no input moved
REALISED = "realised-accuracy drop"
ESTIMATED = "estimated-accuracy drop"

MEANS = {
    FEATURE: "the inputs no longer look like the reference data",
    REALISED: "the model is wrong more often than its bar allows",
    ESTIMATED: "the model is less confident on these inputs, so it is expected to be wrong more often",
}
CLASS_SHIFT_MEANS = (
    "the classes the model predicts, or the labels that came, are in other shares than on the reference, while no input "
    "column moved enough to flag: a change in the class mix, or in the concept, that the inputs alone do not show"
)
CLASS_SHIFT_BLIND = "a shift in shares alone does not say the model is wrong: the realised accuracy does"
BLIND = {
    FEATURE: "it cannot tell whether the model is now wrong (a shift along the boundary can leave accuracy intact)",
    REALISED: "it needs labels: on unlabelled prediction inputs it is silent",
    ESTIMATED: "it cannot see concept drift: a rotated boundary leaves the model as confident as before, and wrong",
}


DRIFT_FAMILY = (FEATURE, CLASS_SHIFT)  # the signals of the per-column drift tests; the others are performance drops
DROP_TITLE = "Performance drop"  # a drop's alert and event, for Discord
INFO_TITLE = "Data drift, performance holds"  # drift the model's performance does not feel: informational, never sent
INFO_TITLE_ESTIMATED = "Data drift, estimated performance holds"  # the same, with no realised accuracy: the estimate judged


def info_title(realised: bool) -> str:
    """What an informational drift alert and event are called: with no realised accuracy (no label, or only labels of
    another version's predictions), the performance that holds is the estimate's (116 cycles of 'performance holds'
    stood beside a realised accuracy last measured at cycle 33)."""
    return INFO_TITLE if realised else INFO_TITLE_ESTIMATED


QUIET_DECISIONS = {"none": "no action", "wait": "waiting", "cooldown": "cooling down", "error": "failed"}

NO_LABELS = "No labels came for the champion's rows this cycle: the estimate alone judged it."


def drops(signals: list[str]) -> list[str]:
    """The performance drops among a cycle's signals (realised, estimated): what a "Performance drop" is about.

    >>> drops(["realised-accuracy drop", "feature drift"]), drops(["feature drift"])
    (['realised-accuracy drop'], [])
    """
    return [name for name in signals if name not in DRIFT_FAMILY]


def signals(report: DriftReport | None, measured: Measurement) -> list[str]:
    """The signals a cycle fired, by name. A drift family that flagged only the class shares ("(label)",
    "(predicted class)") is a class-share shift, not feature drift: no input moved."""
    fired = []  # a drop first: an alert's first sentence is its title's evidence (tour 22: a drop alert opened on drift)
    if measured.performance_drift:
        fired.append(REALISED)
    if measured.estimated_drop:
        fired.append(ESTIMATED)
    if report is not None and report.dataset_drift:
        fired.append(FEATURE if report.inputs_drifted else CLASS_SHIFT)
    return fired


def too_few(n_rows: int, s: Settings) -> str:
    """Why a cycle made no drift test and no estimate: a handful of rows cannot show the inputs match, nor that they
    moved, and their mean confidence is no accuracy.

    >>> too_few(2, Settings.from_env({}))
    'too few rows (2) to test drift or estimate the accuracy: at least 30 are needed (IA_DRIFT_MIN_ROWS)'
    >>> too_few(0, Settings.from_env({}))
    'no new inputs to test for drift: only labels came, of rows an earlier cycle tested'
    """
    if n_rows == 0:  # only late labels came (a cycle reads nothing at all is "no new data")
        return "no new inputs to test for drift: only labels came, of rows an earlier cycle tested"
    return f"too few rows ({n_rows:,}) to test drift or estimate the accuracy: at least {s.drift_min_rows:,} are needed (IA_DRIFT_MIN_ROWS)"


def sentence(clause: str) -> str:
    """A clause as a sentence of its own: its first letter capitalised, a full stop after it.

    >>> sentence("no new inputs to test for drift"), sentence("too few rows (2) to test drift")
    ('No new inputs to test for drift.', 'Too few rows (2) to test drift.')
    """
    return f"{capitalised(clause)}."


def verdict(fired: list[str], report: DriftReport | None, m: Measurement, s: Settings, untested: int | None = None) -> str:
    """Sentences for a person: the evidence of each fired signal, or what the quiet signals do not cover. `untested`: the
    rows of a cycle too small to test drift on."""
    if m.champion is None:
        return "No champion yet: nothing to judge."
    parts = [sentence(too_few(untested, s))] if untested is not None else []
    parts += [_evidence(name, report, m, s) for name in fired]
    if not fired:
        parts.append(_quiet(report, m, s))
    elif m.realised is not None and REALISED not in fired:  # tour 18: an upper bound under the bar, and no word why no drop
        parts.append(f"The realised {held(m, s)}.")
    if m.realised is None and m.estimated is not None:
        parts.append(NO_LABELS)
    elif contradicted(m):
        parts.append(
            f"The labels contradict the label-free estimate: the realised accuracy's upper bound {m.realised_upper:.3f} is "
            f"below the estimate's 95 % band ({m.estimated_low:.3f}–{m.estimated_high:.3f}). The estimate reads the champion's "
            "own confidence, which assumes the concept it learnt still holds: a change in what the inputs mean shows only in "
            "labels."
        )  # fmt: skip
    if m.one_class is not None:
        label, count = m.one_class
        parts.append(f"All {count:,} labels of this cycle are {label!r}: accuracy on them says how often the model answers "
                     f"{label!r}, and no challenger is judged on such rows unless the champion is failing.")  # fmt: skip
    return " ".join(parts)


def contradicted(m: Measurement) -> bool:
    """Whether the labels of the cycle's own rows credibly say the champion is worse than its label-free estimate of
    those rows could be: the realised accuracy's upper bound under the estimate's band (tour 21: realised 0.420 beside an
    estimate of 0.889, band 0.835–0.942, in a concept change, with nothing said). A few labels' noise is no
    contradiction, nor are labels of other rows (late ones, a few sent by hand) or labels all of one class.

    >>> from core.domain.outcomes import VersionLabels
    >>> own = VersionLabels(1, 200, 84)
    >>> contradicted(Measurement(1, 0.9, 0.42, 0.48, 0.889, True, n_rows=200, estimated_low=0.835, estimated_high=0.942, scored=own))
    True
    >>> contradicted(Measurement(1, 0.9, 0.6, 0.9, 0.889, False, n_rows=3, estimated_low=0.835, estimated_high=0.942,
    ...                          scored=VersionLabels(1, 3, 2)))  # 3 labels: no credible contradiction
    False
    >>> contradicted(Measurement(1, 0.9, 0.42, 0.48, 0.889, True, n_rows=200, estimated_low=0.835, estimated_high=0.942))
    False
    """
    own_rows = m.scored is not None and m.scored.labels == m.n_rows  # every label came with its row this cycle: the
    # estimate's rows, not late labels of rows served before nor /feedback's chosen few (review of tour 21's fix)
    return (
        own_rows and m.one_class is None and m.realised_upper is not None and m.estimated_low is not None
        and m.estimated is not None and m.realised_upper < m.estimated_low
    )  # fmt: skip


def _evidence(name: str, report: DriftReport | None, m: Measurement, s: Settings) -> str:
    if name in DRIFT_FAMILY and report is not None:
        return _drift_evidence(report, s)
    if name == REALISED:
        what = (
            f"Realised-accuracy drop: {m.realised:.3f} on {plural(m.n_rows, 'label')} (upper bound {m.realised_upper:.3f}) "
            f"against a bar of {m.bar:.3f} ({m.bar_source}) less the tolerance {s.perf_tolerance:g}."
        )
    else:
        band = f" (95 % band {m.estimated_low:.3f}–{m.estimated_high:.3f})" if m.estimated_low is not None else ""
        below = f"{m.estimated_threshold:.3f}" if m.estimated_threshold is not None else "its threshold"
        what = f"Estimated-accuracy drop: {m.estimated:.3f}{band} without labels, below {below}: {threshold_words(m.estimated_rows)}."
    return f"{what} It means {MEANS[name]}; {BLIND[name]}."


def _drift_evidence(report: DriftReport, s: Settings) -> str:
    """The drift family's evidence, the inputs apart from the predicted classes and labels: a shift in the class shares
    alone is not the inputs moving, and must not be called so."""
    drifted = [f for f in report.features if f.drifted]
    inputs = [f for f in drifted if f.feature not in OUTPUTS]
    outputs = [f for f in drifted if f.feature in OUTPUTS]
    rate = f"against a family-wise false-alarm rate of {s.ks_alpha:g}"
    parts = []
    if inputs:
        parts.append(f"Feature drift: {', '.join(map(evidence, inputs))}, {rate}. It means {MEANS[FEATURE]}; {BLIND[FEATURE]}.")
    if outputs:
        # with inputs drifted too, one signal (feature drift) holds both: "2 signals" beside three paragraphs (tour 21)
        named = "Class-share shift, within the same feature-drift signal" if inputs else "Class-share shift"
        shifted = f"{named}: {', '.join(map(evidence, outputs))}" + ("." if inputs else f", {rate}.")
        parts.append(f"{shifted} It means {CLASS_SHIFT_MEANS if not inputs else 'the class shares moved too'}; {CLASS_SHIFT_BLIND}.")
    return " ".join(parts)


def drift_found(drifted: list[str] | None) -> str:
    """What a cycle's drift tests found, in the words a caption continues with: the inputs that drifted apart from the
    class shares that shifted (as `_drift_evidence` splits them), or that no test finished (None).

    >>> drift_found(["age", "(label)"]), drift_found(["(label)", "(predicted class)"]), drift_found([]), drift_found(None)
    (': drifted age; class shares shifted: (label)', ' (no feature drifted; class shares shifted: (label), (predicted class))', \
' (no feature drifted)', ' (no drift test finished in this cycle)')
    """
    if drifted is None:
        return " (no drift test finished in this cycle)"
    inputs, shifted = [f for f in drifted if f not in OUTPUTS], [f for f in drifted if f in OUTPUTS]
    classes = f"class shares shifted: {', '.join(shifted)}" if shifted else ""
    if inputs:
        return f": drifted {', '.join(inputs)}" + (f"; {classes}" if classes else "")
    return f" (no feature drifted{'; ' + classes if classes else ''})"


def held(m: Measurement, s: Settings) -> str:
    """The realised-accuracy test as made: the batch's upper confidence bound against the bar less the tolerance, so
    an accuracy below its bar that holds says why, and the bar says what it is (beside a holdout accuracy of 0.912,
    a bar of 0.891 read as a mistake).

    >>> held(Measurement(1, 0.9, 0.88, 0.925, 0.9, False, 0.909, "realised on 1,200 served rows", 200), Settings.from_env({}))
    'accuracy 0.880 on 200 labels (upper bound 0.925) holds against its bar 0.909 (realised on 1,200 served rows) less the tolerance 0.05'

    The count says why 0.000 can hold: on one label (tour 19), its upper bound is 0.950.
    """
    source = f" ({m.bar_source})" if m.bar_source else ""
    on = f" on {plural(m.n_rows, 'label')}" if m.n_rows else ""
    return (f"accuracy {m.realised:.3f}{on} (upper bound {m.realised_upper:.3f}) holds against its bar {m.bar:.3f}{source} "
            f"less the tolerance {s.perf_tolerance:g}")  # fmt: skip


def _quiet(report: DriftReport | None, m: Measurement, s: Settings) -> str:
    watched = []
    if report is not None:
        watched.append("the inputs match the reference")
    if m.realised is not None:
        watched.append(held(m, s))
        return f"No signal: {' and '.join(watched)}."
    if m.estimated is not None:
        watched.append(f"estimated accuracy {m.estimated:.3f} holds")
    unlabelled = (
        "The labels that came are of other versions' predictions, so concept drift could not show for the champion here."
        if m.others
        else "These inputs carry no labels, so concept drift could not show here."
    )  # tour 22: said beside 100 labels
    # nothing watched (too few rows to test or estimate, no labels): "No signal: ." said nothing (review of tour 21's fix)
    return f"No signal: {' and '.join(watched)}. {unlabelled}" if watched else unlabelled


def decision_words(
    decision: str, new_version: int | None, promoted: bool | None, gate_outcome: str | None, failed: bool = False,
    decided_later: str | None = None,
) -> str:  # fmt: skip
    """A cycle's decision as a person reads it in a table: a challenge says whether its challenger won (the default policy
    challenges every labelled cycle, so "challenge" alone would not say whether the champion changed), a retrain what
    the gate made of it; one it left awaiting approval, what became of it since (`decided_later`: the event that ended
    the wait, `Store.cycles`' `decided_later`).

    >>> decision_words("challenge", None, None, None)
    'challenged: champion kept'
    >>> decision_words("challenge", 3, True, "promoted")
    'challenger v1.2.0 promoted'
    >>> decision_words("retrain", 3, False, "awaiting")
    'retrained: v1.2.0 awaits approval'
    >>> decision_words("retrain", 3, False, "awaiting", decided_later="approval")  # as it reads once a person decided
    'retrained: v1.2.0 awaited approval, then approved'
    >>> decision_words("cooldown", None, None, None)
    'cooling down'
    >>> decision_words("retrain", None, None, None, failed=True)  # the cycle failed while retraining
    'retrain failed: champion kept'
    """
    if failed and decision in ("challenge", "retrain") and new_version is None:
        return f"{decision} failed: champion kept"
    if decision not in ("challenge", "retrain"):
        return QUIET_DECISIONS.get(decision, decision)
    if new_version is None:
        return "challenged: champion kept" if decision == "challenge" else "retrain: champion kept"
    outcome = "promoted" if promoted else "awaits approval" if gate_outcome == "awaiting" else "rejected"
    if gate_outcome == "awaiting" and decided_later in AWAITED:  # tour 22: "awaits approval" long after a person decided
        outcome = f"awaited approval, {AWAITED[decided_later]}"
    return f"{'challenger' if decision == 'challenge' else 'retrained:'} {version_label(new_version)} {outcome}"


AWAITED = {"approval": "then approved", "rejection": "then rejected", "superseded": "then withdrawn"}
"""What became of a version a cycle left awaiting approval, by the model event that ended its wait."""
