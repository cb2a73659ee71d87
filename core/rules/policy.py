"""The retrain policy: given a cycle's measurement, its drift report and a little history, what to do.

Pure, like a river detector: it reads the past only through `History` (a handful of facts the
store answers in production and a list answers in a test), so every path (cooldown, persistence,
follow-ups, the periodic challenger, `approve`, `random`) is checked in milliseconds on plain
sequences, without a runtime or MLflow.

`challenge` (the default) and `approve` follow performance, not the inputs: every cycle with labelled
rows trains a challenger on the newest labelled window and promotes it only when it beats the
champion on the newest labelled rows neither trained on, by a margin McNemar's paired test trusts
(`promotion`); a credible drop in realised accuracy, or in the label-free estimate when no labels
come, retrains at once, and then a challenger not worse than the champion on the newest rows
replaces it. Feature drift is shown and explains, it decides nothing. Measured on real and River's
streams (`benchmarks/bench_replay.py`): refitting often on a recent window beats waiting for a drift
test, and a concept change with stable inputs shows only in the labels.

`drift` is the rule before it: a credible accuracy drop retrains at once; feature drift retrains once
it persisted `drift_persistence` cycles; with neither, a champion trained on a small post-drift window
is challenged again when FOLLOW_UP_GROWTH times its rows of the new regime have arrived, and a
periodic challenger runs every `challenge_every` cycles. A retrain then waits out the cooldown (an
accuracy-drop retrain is cooled down only by another one) and, after drift, for `min_retrain_rows`
post-drift rows. `never`, `always` and `random` follow their name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from core.config import Settings
from core.domain.outcomes import Decision, Measurement, version_label
from core.rules.verdicts import CLASS_SHIFT, drops
from core.stats.drift import DriftReport
from core.stats.estimate import threshold_words
from core.stats.paired import PairedScore

RANDOM_POLICY_THRESHOLD = 0.5
CHALLENGING = ("challenge", "approve")  # the policies that challenge the champion every labelled cycle
CHALLENGE_ALPHA = 0.10  # McNemar's one-sided false-promotion rate per challenge, over every window it tried (Bonferroni)
SINGLE_ALPHA = 0.05  # and never looser than one test at 0.05, as when one window is tried
MIN_CHECK_ROWS = 50  # fewest labelled rows the champion did not train on that a challenge is judged on
MAX_CHECK_ROWS = 1000  # newest such rows a challenge is judged on: enough power for ~2 points, fresh enough
FOLLOW_UP_GROWTH = 5
STREAK_LOOKBACK = 50
BETTER, NOT_WORSE = "credibly better", "not worse"  # the tests a challenge passes, as `promotion` words them
FAILING, FOLLOWED_UP = "the failing champion", "the champion it follows up"


def stopgap(model: dict, shortest: int, onset: int | None) -> bool:
    """A champion a drop put in service on the few rows since it (fewer than the shortest window a challenger
    tries, all from the drop's `onset` on, as recorded with the model): the next challengers learn from its
    regime's rows as they come, not from the rows before the drop. A drop champion fitted on every row a small
    workspace had, most of them older than the drop, is not one.

    >>> stopgap({"trigger": "drop", "n_train": 140, "window_first_sample": 5001}, 1000, onset=5001)
    True
    >>> stopgap({"trigger": "drop", "n_train": 600, "window_first_sample": 1}, 1000, onset=5001)  # mostly older rows
    False
    >>> stopgap({"trigger": "challenge", "n_train": 140, "window_first_sample": 5001}, 1000, onset=5001)
    False
    """
    return (model.get("trigger") == "drop" and int(model.get("n_train") or 0) < shortest and onset is not None
            and int(model.get("window_first_sample") or 0) >= onset)  # fmt: skip


class History(Protocol):
    """What the policy may know of the past (the store implements it)."""

    def last_retrain_cycle(self, performance_only: bool = False) -> int | None: ...

    def count_incoming(self, since_sample_id: int) -> int: ...

    def recent_drift_flags(self, limit: int) -> list[tuple[int, bool, int | None, bool]]:
        """(cycle_id, drifted, first_sample_id, promoted) of the newest cycles that saw data, newest first."""
        ...

    def followup_onset(self, version: int) -> int | None:
        """The drift onset a small-window champion still owes a follow-up from, or None."""
        ...

    def training_rows(self, version: int) -> int: ...


@dataclass(frozen=True)
class CycleFacts:
    """The current cycle as the policy sees it."""

    cycle_id: int
    labelled: bool
    first_sample_id: int | None


@dataclass(frozen=True)
class Promotion:
    """Whether a challenger replaces the champion, from both scored on the same rows, and why."""

    promote: bool
    reason: str


def promotion(
    score: PairedScore,
    urgent: bool,
    margin: float = 0.0,
    alpha: float = CHALLENGE_ALPHA,
    tried: int = 1,
    against: str = FAILING,
) -> Promotion:
    """Promote a challenger only when it is credibly better on rows neither model trained on; after a
    credible drop (`urgent`), when it is not worse than the champion by more than `margin` (the champion is
    already failing, and waiting for proof costs more than a tie). The challenger is the best of `tried`
    windows scored on the same rows, so its p-value must clear `alpha / tried` (Bonferroni: the best of
    three is better by chance more often than one), and never more than SINGLE_ALPHA (one window, one test).

    >>> from core.stats.paired import PairedScore
    >>> promotion(PairedScore(400, 330, 310, 30, 10), urgent=False).promote  # 20 more rows right, 30 to 10
    True
    >>> promotion(PairedScore(400, 312, 310, 12, 10), urgent=False)  # 2 more rows right: chunk noise
    Promotion(promote=False, reason='challenger 0.780 vs champion 0.775 on the same 400 rows (12 gained, 10 lost): not credibly better (McNemar p = 0.42 >= 0.05)')
    >>> promotion(PairedScore(400, 322, 310, 29, 17), urgent=False).promote  # p = 0.052: one window, one test at 0.05
    False
    >>> promotion(PairedScore(400, 323, 310, 30, 17), urgent=False, tried=3).reason[-84:]  # p = 0.039: the best of 3 needs 0.033
    'not credibly better (McNemar p = 0.039 >= 0.033: 0.1 divided by the 3 windows tried)'
    >>> promotion(PairedScore(100, 62, 62, 5, 5), urgent=True).promote  # after a drop, a tie replaces the champion
    True
    """
    p, n = score.p_better, score.n
    figures = (f"challenger {score.challenger_right / n:.3f} vs champion {score.champion_right / n:.3f} on the same {n:,} rows "
               f"({score.gained} gained, {score.lost} lost)")  # fmt: skip
    if urgent:
        ok = score.difference() >= -margin
        return Promotion(ok, f"{figures}: {NOT_WORSE if ok else 'worse'} than {against} (margin {margin:g})")
    bar = min(SINGLE_ALPHA, alpha / tried)
    over = f"{bar:.2g}: {alpha:g} divided by the {tried} windows tried" if tried > 1 else f"{bar:g}"
    if p < bar and score.gained > score.lost:
        return Promotion(True, f"{figures}: {BETTER} (McNemar p = {p:.2g} < {over})")
    return Promotion(False, f"{figures}: not {BETTER} (McNemar p = {p:.2g} >= {over})")


def warns(signals: list[str], policy: str | None) -> bool:
    """Whether a cycle's signals are a warning (sent to Discord) or informational (stored and shown): a performance drop
    always warns; feature drift alone only under `drift`, the one policy that retrains on it. Under `never` (monitor
    only) it was sent as "Drift detected" while the accuracy held and nothing would be done (tour 22).

    >>> warns(["feature drift"], "challenge"), warns(["feature drift"], "never"), warns(["feature drift"], "drift")
    (False, False, True)
    >>> warns(["realised-accuracy drop"], "never")
    True
    """
    return bool(drops(signals)) or (bool(signals) and policy == "drift")


def promoted_as(reason: str) -> str | None:
    """Which test a promoted challenge passed, read back from its cycle's reason in the words `promotion` wrote: "better"
    (credibly better), "after a drop" (not worse than a failing champion), "follow-up" (a champion fitted after a drop,
    grown to its regime's rows, not worse). The Overview's headline said "credibly better" for all three (tour 21).

    >>> promoted_as("challenger 0.777 vs champion 0.753 on the same 300 rows (14 gained, 7 lost): not worse than the champion it follows up (margin 0)")
    'follow-up'
    >>> promoted_as("challenger 0.8 vs champion 0.7 …: credibly better (McNemar p = 0.001 < 0.05)")
    'better'
    """
    if f": {NOT_WORSE} than {FOLLOWED_UP}" in reason:
        return "follow-up"
    if f": {NOT_WORSE} than {FAILING}" in reason:
        return "after a drop"
    return "better" if f": {BETTER} (McNemar" in reason else None


class RetrainPolicy:
    """What a cycle does, by the policy in force (see the module's docstring).

    >>> from dataclasses import replace
    >>> from core.config import Settings
    >>> quiet = Measurement(1, 0.9, 0.89, 0.93, 0.88, False, 0.88, "holdout", 200)
    >>> policy = RetrainPolicy(replace(Settings.from_env({}), policy="challenge"))
    >>> policy.challenge_or_drop(CycleFacts(7, True, 1201), quiet, 0).action  # labelled rows: a challenger
    'challenge'
    >>> dropped = replace(quiet, realised=0.6, realised_upper=0.66, performance_drift=True)
    >>> policy.challenge_or_drop(CycleFacts(7, True, 1201), dropped, 0).trigger  # a credible drop: retrain at once
    'drop'
    >>> policy.challenge_or_drop(CycleFacts(7, False, None), replace(quiet, realised=None), 0).action  # no labels, no drop
    'none'
    """

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def decide(self, cycle: CycleFacts, report: DriftReport | None, m: Measurement, history: History) -> Decision:
        """Apply the policy, then the cooldown and the post-drift row minimum; the decision carries the
        drift episode's onset (the history is read once for both)."""
        streak = self.drift_streak(cycle, report, m, history)
        return replace(self._decide(cycle, report, m, history, streak), episode_onset=streak[-1])

    def _decide(self, cycle: CycleFacts, report: DriftReport | None, m: Measurement, history: History, streak: list[int]) -> Decision:
        if m.champion is None:
            if cycle.labelled:
                return Decision("retrain", "no champion yet: training the first model")
            return Decision("none", "no champion yet and no labelled data: import or generate a dataset")
        wanted = self._wanted(cycle, report, m, history, streak)
        if wanted.action != "retrain":
            return wanted
        s = self.s
        # A credible accuracy drop is urgent: only another accuracy-drop retrain cools it down, not a
        # planned follow-up or a feature-drift retrain that happened to come just before it.
        last = history.last_retrain_cycle(performance_only=m.performance_drift)
        if last is not None and cycle.cycle_id - last <= s.retrain_cooldown_cycles:
            if s.policy in CHALLENGING and cycle.labelled:  # the drop was just retrained on: the challenger goes on
                return Decision("challenge", f"{wanted.reason}; a drop retrain ran at cycle {last} (cooldown "
                                f"{s.retrain_cooldown_cycles} cycles), so a challenger instead", trigger="challenge")  # fmt: skip
            return Decision("cooldown", f"{wanted.reason}; but cooling down: last retrain at cycle {last}, "
                            f"cooldown {s.retrain_cooldown_cycles} cycles", draw=wanted.draw)  # fmt: skip
        if wanted.onset_sample_id is not None:
            post_drift = history.count_incoming(wanted.onset_sample_id)
            if post_drift < s.min_retrain_rows:
                return Decision(
                    "wait", f"{wanted.reason}; collecting post-drift rows ({post_drift} of {s.min_retrain_rows})", draw=wanted.draw
                )
        return wanted

    def drift_streak(self, cycle: CycleFacts, report: DriftReport | None, m: Measurement, history: History) -> list[int]:
        """First sample ids of the current run of drifted cycles, newest first, back to the last promotion;
        its last item is the episode's onset."""
        streak = [cycle.first_sample_id]
        if not ((report is not None and report.dataset_drift) or m.performance_drift):
            return streak
        for _cycle_id, drifted, first_sample, promoted in history.recent_drift_flags(STREAK_LOOKBACK):
            if not drifted or promoted or first_sample is None:
                break
            streak.append(int(first_sample))
        return streak

    def _wanted(self, cycle: CycleFacts, report: DriftReport | None, m: Measurement, history: History, streak: list[int]) -> Decision:
        s = self.s
        if s.policy in CHALLENGING:
            return self.challenge_or_drop(cycle, m, streak[-1])
        if s.policy == "never":
            return Decision("none", f"policy never: monitor only ({summary(report, m)})")
        if s.policy == "always":
            return Decision("retrain", "policy always: retrain every cycle")
        if s.policy == "random":
            draw = float(np.random.default_rng([s.seed, cycle.cycle_id]).random())
            if draw < RANDOM_POLICY_THRESHOLD:
                return Decision("retrain", f"policy random: draw {draw:.3f} < {RANDOM_POLICY_THRESHOLD}", draw=draw)
            return Decision("none", f"policy random: draw {draw:.3f} >= {RANDOM_POLICY_THRESHOLD}", draw=draw)
        if m.performance_drift:
            reason = (f"performance drift: accuracy {m.realised:.3f} (upper bound {m.realised_upper:.3f}) < "
                      f"bar {m.bar:.3f} ({m.bar_source}) less the tolerance {s.perf_tolerance:g}")  # fmt: skip
            return Decision("retrain", reason, onset_sample_id=streak[-1])
        if report is not None and report.dataset_drift:
            inputs = report.inputs_drifted
            what = "dataset drift" if inputs else CLASS_SHIFT
            reason = f"{what}: {report.drifted_by_test()} {'drifted' if inputs else 'shifted'} (family-wise α {s.ks_alpha:g})"
            if len(streak) >= s.drift_persistence:
                return Decision("retrain", f"{reason} for {len(streak)} cycles", onset_sample_id=streak[-1])
            return Decision("wait", f"{reason}; waiting for {s.drift_persistence} consecutive drifted cycles ({len(streak)} so far)")
        return self._scheduled(cycle, report, m, history)

    def challenge_or_drop(self, cycle: CycleFacts, m: Measurement, onset: int | None) -> Decision:
        """The default policy's rule: a credible drop (realised, or estimated when no labels came) retrains at
        once from the drop's onset; otherwise every cycle with labels challenges the champion."""
        if m.performance_drift:
            reason = (f"performance drop: accuracy {m.realised:.3f} (upper bound {m.realised_upper:.3f}) < "
                      f"bar {m.bar:.3f} ({m.bar_source}) less the tolerance {self.s.perf_tolerance:g}")  # fmt: skip
            return Decision("retrain", reason, onset_sample_id=onset, trigger="drop")
        if m.estimated_drop and m.realised is None:
            below = f"{m.estimated_threshold:.3f}, " if m.estimated_threshold is not None else ""
            reason = (f"estimated drop without labels: estimated accuracy {m.estimated:.3f} fell below {below}"
                      f"{threshold_words(m.estimated_rows)}; retraining on the newest labelled rows")  # fmt: skip
            return Decision("retrain", reason, trigger="drop")
        if cycle.labelled:
            return Decision("challenge", "labelled rows came, so the champion is challenged", trigger="challenge")
        return Decision("none", f"no labels this cycle and no estimated drop ({summary(None, m)})")

    def _scheduled(self, cycle: CycleFacts, report: DriftReport | None, m: Measurement, history: History) -> Decision:
        """With no drift: the follow-up retrain of a small-window champion, or the periodic challenger
        (IA_CHALLENGE_EVERY); both go through the gate. A champion trained on n post-drift rows is
        challenged once FOLLOW_UP_GROWTH x n rows of its regime have arrived (200, 1,000, then the full
        window): a model on 200 rows serves noticeably worse than one on 1,000, and waiting for the
        full window alone would leave it in service for 25 cycles at the default sizes."""
        s = self.s
        onset = history.followup_onset(m.champion) if cycle.labelled else None
        if onset is not None:
            target = min(s.training_window, FOLLOW_UP_GROWTH * history.training_rows(m.champion))
            arrived = history.count_incoming(onset)
            if arrived >= target:
                full = "a full window" if target == s.training_window else f"{FOLLOW_UP_GROWTH}x its training rows"
                return Decision("retrain", f"follow-up: {version_label(m.champion)} was trained on a small post-drift window; "
                                f"{full} ({arrived:,} rows) of the new regime has arrived", onset,
                                trigger="follow-up")  # fmt: skip
        if s.challenge_every and cycle.labelled:
            last = history.last_retrain_cycle() or 0
            if cycle.cycle_id - last >= s.challenge_every:
                return Decision("retrain", f"periodic challenger: {cycle.cycle_id - last} cycles since the last retrain "
                                f"(IA_CHALLENGE_EVERY={s.challenge_every})", trigger="periodic")  # fmt: skip
        return Decision("none", f"{'no drift' if report is not None else 'no drift test'} ({summary(report, m)})")


def summary(report: DriftReport | None, m: Measurement) -> str:
    """The figures a quiet decision rests on, in one line."""
    parts = []
    if m.realised is not None:
        parts.append(f"accuracy {m.realised:.3f} vs bar {m.bar:.3f}, {m.bar_source}")
    if m.estimated is not None:
        parts.append(f"estimated {m.estimated:.3f}")
    if report is not None:
        parts.append(f"drift share {report.drift_share:.2f}")
    return ", ".join(parts) or "nothing measured"
