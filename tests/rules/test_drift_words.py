"""Drift in the right words: each test named, each effect in its own unit, in the verdict, the policy's reason,
the HTML report and the Drift page's table."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from core.config import Settings
from core.domain.outcomes import Measurement
from core.domain.schema import Column, Schema
from core.rules.policy import CycleFacts, RetrainPolicy
from core.rules.verdicts import CLASS_SHIFT, FEATURE, signals, verdict
from core.stats.drift import LABELS, DriftReport, DriftThresholds, FeatureDrift, described, table_report
from ui import charts

SCHEMA = Schema(
    (Column("island", "categorical", categories=("Biscoe", "Dream", "Torgersen")), Column("bill", "numeric"),
     Column("sex", "categorical", missing=True, categories=("male", "female"))),
    "species", ("a", "b"),
)  # fmt: skip


def _table(n: int, seed: int, island_p: tuple[float, float, float], bill_shift: float, sex_missing: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], n).astype(object)
    sex[rng.random(n) < sex_missing] = np.nan
    return pd.DataFrame({"island": rng.choice(["Biscoe", "Dream", "Torgersen"], n, p=island_p),
                         "bill": rng.normal(44 + bill_shift * 5, 5, n), "sex": sex})  # fmt: skip


@pytest.fixture(scope="module")
def report() -> DriftReport:
    """Every kind of test drifted: islands reshuffled, the bill 0.6 sd longer, sex missing in a third of the rows, not 5 %."""
    reference = _table(3000, 1, (0.45, 0.35, 0.2), 0.0, 0.05)
    batch = _table(600, 2, (0.15, 0.25, 0.6), 0.6, 0.36)
    found = table_report(reference, [batch], SCHEMA, DriftThresholds())
    assert {f.feature: f.drifted for f in found.features} == {"island": True, "bill": True, "sex": False, "sex · missing rate": True}
    return found


def test_the_verdict_names_each_test_and_speaks_in_its_unit(report: DriftReport) -> None:
    m = Measurement(1, 0.9, None, None, 0.9, False)
    text = verdict([FEATURE], report, m, Settings.from_env({}))
    by = {f.feature: f for f in report.features}
    island, bill, missing = by["island"], by["bill"], by["sex · missing rate"]
    assert f"island (chi-square p={island.p_value:.1e}; Jensen-Shannon distance {island.effect:.2f}; 1 batch)" in text
    assert f"bill (KS p={bill.p_value:.1e}; KS statistic {bill.statistic:.2f}, shift {bill.effect:.2f} sd; 1 batch)" in text
    assert f"sex · missing rate (chi-square p={missing.p_value:.1e}; missing rate moved {missing.effect * 100:.0f} points; 1 batch)" in text
    assert "missing rate moved 28 points" in text  # 5 % missing in the reference, 33 % in the batch
    assert text.count(" sd") == 1  # the bill's shift only: a distance between shares and a rate are not standard deviations


def test_the_policy_s_reason_names_the_test_that_fired(report: DriftReport) -> None:
    settings = replace(Settings.from_env({}), policy="drift", drift_persistence=2)  # the policy that acts on drift tests
    m = Measurement(1, 0.9, None, None, 0.9, False)

    class Quiet:  # no past: the first drifted cycle
        def last_retrain_cycle(self, performance_only: bool = False) -> None:
            return None

        def count_incoming(self, since_sample_id: int) -> int:
            return 0

        def recent_drift_flags(self, limit: int) -> list:
            return []

        def followup_onset(self, version: int) -> None:
            return None

        def training_rows(self, version: int) -> int:
            return 1000

    decision = RetrainPolicy(settings).decide(CycleFacts(5, True, 1), report, m, Quiet())
    assert decision.reason.startswith(
        "dataset drift: island (chi-square), bill (KS), sex · missing rate (chi-square) drifted (family-wise α"
    )
    assert "(KS, family-wise" not in decision.reason
    # tour 16: the class shares shifting alone were called "dataset drift", while the verdict said no input moved
    shares = replace(report, features=[replace(f, drifted=False) for f in report.features] + [replace(report.features[0], feature=LABELS)])
    decision = RetrainPolicy(settings).decide(CycleFacts(5, True, 1), shares, m, Quiet())
    assert decision.reason.startswith("class-share shift: (label) (chi-square) shifted (family-wise α"), decision.reason


def test_the_report_and_the_drift_page_table_say_what_each_test_measured(report: DriftReport) -> None:
    rows = described(pd.DataFrame(report.rows()))
    words = dict(zip(rows["feature"], rows["measured"], strict=True))
    assert words["island"].startswith("Jensen-Shannon distance") and words["bill"].startswith("KS statistic")
    assert words["sex · missing rate"].startswith("missing rate moved") and words["sex"].startswith("Jensen-Shannon distance")
    assert dict(zip(rows["feature"], rows["test"], strict=True)) == {"island": "chi-square", "bill": "KS", "sex": "chi-square",
                                                                     "sex · missing rate": "chi-square"}  # fmt: skip
    unseen = table_report(
        _table(3000, 1, (0.5, 0.5, 0.0), 0.0, 0.05), [_table(600, 3, (0.4, 0.3, 0.3), 0.0, 0.05)], SCHEMA, DriftThresholds()
    )
    share = next(f.unseen_share for f in unseen.features if f.feature == "island")  # Torgersen: never in the reference
    assert described(pd.DataFrame(unseen.rows())).set_index("feature").loc["island", "measured"].endswith(f", {share:.0%} unseen")


def test_the_drift_chart_of_a_table_does_not_call_every_effect_a_standard_deviation(report: DriftReport) -> None:
    history = pd.DataFrame(report.rows()).assign(ts=pd.Timestamp("2026-01-01"))
    figure = charts.drift_statistics(history, 0.1, 0.2, 0.1)
    titles = [a.text for a in figure.layout.annotations]
    assert "Effect (sd; Jensen-Shannon for categories; share for missing rates)" in titles
    assert figure.layout.yaxis2.title.text == "effect"
    hovers = {trace.name: trace.customdata[0] for trace in figure.data if trace.customdata is not None and trace.yaxis == "y2"}
    assert hovers["island"].startswith("Jensen-Shannon distance") and hovers["sex · missing rate"].startswith("missing rate moved")


def test_a_shift_in_the_class_shares_alone_is_not_called_the_inputs_moving() -> None:
    """Only the labels and the predicted classes moved (more of class b): the verdict calls it a class-share shift and
    never says the inputs no longer look like the reference."""
    rng = np.random.default_rng(4)
    reference, batch = _table(3000, 1, (0.45, 0.35, 0.2), 0.0, 0.05), _table(600, 2, (0.45, 0.35, 0.2), 0.0, 0.05)
    outputs = {name: (pd.Series(rng.choice(["a", "b"], 3000, p=[0.7, 0.3])), [pd.Series(rng.choice(["a", "b"], 600, p=[0.3, 0.7]))])
               for name in ("(predicted class)", "(label)")}  # fmt: skip
    found = table_report(reference, [batch], SCHEMA, DriftThresholds(), outputs)
    assert {f.feature for f in found.features if f.drifted} == {"(predicted class)", "(label)"}
    quiet = Measurement(1, 0.9, None, None, 0.9, False)
    assert signals(found, quiet) == [CLASS_SHIFT]  # the signal's name too: the Signals help said "feature drift"
    text = verdict(signals(found, quiet), found, quiet, Settings.from_env({}))
    assert text.startswith("Class-share shift: (predicted class) (chi-square p=") and "no input column moved" in text
    assert "inputs no longer look like" not in text and "Feature drift" not in text
    with_inputs = verdict([FEATURE], table_report(_table(3000, 1, (0.45, 0.35, 0.2), 0.0, 0.05),
                                                  [_table(600, 2, (0.15, 0.25, 0.6), 0.6, 0.36)], SCHEMA, DriftThresholds(), outputs),
                          Measurement(1, 0.9, None, None, 0.9, False), Settings.from_env({}))  # fmt: skip
    assert (
        with_inputs.startswith("Feature drift: island")
        and "Class-share shift, within the same feature-drift signal: (predicted class)" in with_inputs
    )
    moved = table_report(_table(3000, 1, (0.45, 0.35, 0.2), 0.0, 0.05), [_table(600, 2, (0.15, 0.25, 0.6), 0.6, 0.36)], SCHEMA,
                         DriftThresholds(), outputs)  # fmt: skip
    assert signals(moved, quiet) == [FEATURE]
    assert "the class shares moved too" in with_inputs


def test_psi_reads_as_a_level_beside_the_verdict_not_a_second_verdict(report: DriftReport) -> None:
    """A row that did not drift but whose PSI is over 0.2 read "drift" beside drifted False, in the page and the report."""
    from ui.report import _drift_rows

    rows = pd.DataFrame(report.rows())
    rows.loc[rows["feature"] == "sex", "psi_status"] = "drift"
    shown = described(rows).set_index("feature")
    assert not shown.loc["sex", "drifted"] and shown.loc["sex", "psi_status"] == "high"
    assert set(shown["psi_status"]) <= {"high", "moderate", "low", "—"}  # "—": a missing rate has no PSI
    table = _drift_rows(rows)
    assert "PSI level (beside the verdict)" in table and "drift" not in set(table["PSI level (beside the verdict)"])


# a promotion by hand is not a rollback -----------------------------------------------------------------------


def test_a_quiet_verdict_says_the_test_it_made_not_an_accuracy_above_its_bar() -> None:
    """0.880 is below its bar 0.909: it holds because its upper bound 0.925 is not below the bar less the tolerance."""
    settings = Settings.from_env({})
    m = Measurement(1, 0.9, 0.88, 0.925, 0.9, False, 0.909, "realised on 1,200 served rows", 200)
    text = verdict([], None, m, settings)
    assert (
        text
        == "No signal: accuracy 0.880 on 200 labels (upper bound 0.925) holds against its bar 0.909 (realised on 1,200 served rows) less the tolerance 0.05."
    )
    assert settings.perf_tolerance == 0.05 and "0.880 holds" not in text


def test_a_verdict_with_another_signal_still_says_why_an_accuracy_under_its_bar_is_no_drop() -> None:
    """Tour 18: "upper bound 73.6 %" beside "bar 74.7 %" and only feature drift fired; the tolerance was nowhere on screen."""
    m = Measurement(1, 0.9, 0.685, 0.736, 0.9, False, 0.747, "realised on 1,200 served rows", 200)
    bill = FeatureDrift("bill", "ks", 0.3, 1e-6, 0.01, 0.5, True, 0.2, "significant", 200, 1, n_reference=2000)
    report = DriftReport([bill], 1.0, True, 2000, 200, 0.05)
    text = verdict(signals(report, m), report, m, Settings.from_env({}))
    assert text.startswith("Feature drift: bill")
    assert text.endswith("The realised accuracy 0.685 on 200 labels (upper bound 0.736) holds against its bar 0.747 (realised on 1,200 served rows) "
                         "less the tolerance 0.05.")  # fmt: skip


def test_a_drop_is_the_first_signal_so_its_alert_opens_on_it() -> None:
    """Tour 22: a "Performance drop" alert opened on "Feature drift: … it cannot tell whether the model is now wrong"."""
    from types import SimpleNamespace

    from core.rules.verdicts import REALISED, signals

    drifted = SimpleNamespace(dataset_drift=True, inputs_drifted=True)
    assert signals(drifted, Measurement(1, 0.9, 0.5, 0.6, 0.9, True)) == [REALISED, FEATURE]
