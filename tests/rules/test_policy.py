"""The retrain policy on plain sequences, river's way: a list of past cycles stands in for the store.

`Past` is not a mock of our store: it is a second, in-memory implementation of the small `History`
interface the policy reads, so each rule is checked in milliseconds, with no runtime and no MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from core.config import Settings
from core.domain.outcomes import ACTIONS, Decision, Measurement
from core.rules.policy import FOLLOW_UP_GROWTH, CycleFacts, History, RetrainPolicy
from core.stats.drift import DriftReport, FeatureDrift

BATCH = 200


@dataclass
class Cycle:
    cycle_id: int
    first_sample_id: int
    drifted: bool = False
    performance: bool = False
    retrained: bool = False
    promoted: bool = False


@dataclass
class Past:
    """The loop's past as a list, newest last; incoming rows are BATCH per cycle."""

    cycles: list[Cycle] = field(default_factory=list)
    followups: dict[int, int] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    newest_sample: int = 0

    def last_retrain_cycle(self, performance_only: bool = False) -> int | None:
        ids = [c.cycle_id for c in self.cycles if c.retrained and (c.performance or not performance_only)]
        return max(ids) if ids else None

    def count_incoming(self, since_sample_id: int) -> int:
        return max(0, self.newest_sample - since_sample_id + 1)

    def recent_drift_flags(self, limit: int) -> list[tuple[int, bool, int | None, bool]]:
        return [(c.cycle_id, c.drifted or c.performance, c.first_sample_id, c.promoted) for c in reversed(self.cycles)][:limit]

    def followup_onset(self, version: int) -> int | None:
        return self.followups.get(version)

    def training_rows(self, version: int) -> int:
        return self.sizes.get(version, 1000)


def settings(**changes: object) -> Settings:
    base = Settings.from_env({})
    return replace(base, **{"policy": "drift", "retrain_cooldown_cycles": 3, "drift_persistence": 2, "min_retrain_rows": 200, "challenge_every": 0,
                            "training_window": 5000, **changes})  # fmt: skip


def report(drifted: bool) -> DriftReport:
    feature = FeatureDrift(
        "feature_1", "ks", 0.5, 1e-9 if drifted else 0.5, 0.002, 1.0 if drifted else 0.0, drifted, 0.3, "drift", BATCH, 1
    )
    return DriftReport([feature], float(drifted), drifted, 1000, BATCH, 0.004)


def measured(performance: bool = False, labelled: bool = True, champion: int | None = 1) -> Measurement:
    realised = (0.6 if performance else 0.9) if labelled else None
    return Measurement(champion, 0.9, realised, realised and realised + 0.03, 0.85, performance, 0.88, "holdout", BATCH)


def feed(policy: RetrainPolicy, past: Past, signals: list[str], start: int = 1) -> list[Decision]:
    """Cycles one after another: '.' quiet, 'd' feature drift, 'p' accuracy drop; each decision is recorded
    in the past as the pipeline records it (a retrain promotes, which ends the drift episode)."""
    decisions = []
    for offset, signal in enumerate(signals):
        cycle_id = start + offset
        first = past.newest_sample + 1
        past.newest_sample += BATCH
        facts = CycleFacts(cycle_id, True, first)
        decision = policy.decide(facts, report(signal == "d"), measured(signal == "p"), past)
        retrained = decision.action == "retrain"
        past.cycles.append(Cycle(cycle_id, first, signal == "d", signal == "p", retrained, promoted=retrained))
        decisions.append(decision)
    return decisions


def actions(decisions: list[Decision]) -> str:
    return "".join({"retrain": "R", "challenge": "C", "none": ".", "wait": "w", "cooldown": "c"}[d.action] for d in decisions)


def test_the_past_list_answers_the_whole_history_interface() -> None:
    past: History = Past()
    assert past.last_retrain_cycle() is None and past.count_incoming(1) == 0 and past.followup_onset(1) is None


def test_feature_drift_retrains_once_it_persisted_and_an_accuracy_drop_at_once() -> None:
    assert actions(feed(RetrainPolicy(settings()), Past(), list("..dd..d."))) == "..wR..w."
    assert actions(feed(RetrainPolicy(settings(drift_persistence=3)), Past(), list("ddd"))) == "wwR"
    assert actions(feed(RetrainPolicy(settings()), Past(), list(".p."))) == ".R."


def test_a_retrain_learns_from_the_onset_of_its_drift_episode() -> None:
    past = Past()
    decisions = feed(RetrainPolicy(settings(drift_persistence=3)), past, list("..ddd"))
    assert decisions[-1].action == "retrain" and decisions[-1].onset_sample_id == 2 * BATCH + 1  # the first drifted batch
    assert "for 3 cycles" in decisions[-1].reason
    assert [d.episode_onset for d in decisions] == [1, BATCH + 1, 2 * BATCH + 1, 2 * BATCH + 1, 2 * BATCH + 1]  # alerts collapse by it


def test_the_cooldown_holds_feature_drift_but_not_a_first_accuracy_drop() -> None:
    policy = RetrainPolicy(settings(drift_persistence=1, retrain_cooldown_cycles=3))
    assert actions(feed(policy, Past(), list("dddddd"))) == "RcccRc"
    assert actions(feed(policy, Past(), list("dp.p.p"))) == "RR.c.R"  # a drop is cooled only by an earlier drop


def test_too_few_post_drift_rows_wait_for_more() -> None:
    policy = RetrainPolicy(settings(drift_persistence=1, min_retrain_rows=500))
    assert actions(feed(policy, Past(), list("ddd"))) == "wwR"  # 200, 400, then 600 rows since the onset
    assert "collecting post-drift rows (200 of 500)" in feed(policy, Past(), ["d"])[0].reason


def test_the_follow_up_of_a_small_window_champion_comes_when_its_regime_has_grown() -> None:
    past = Past(followups={1: 1}, sizes={1: BATCH})
    policy = RetrainPolicy(settings())
    decisions = feed(policy, past, ["."] * FOLLOW_UP_GROWTH)
    assert actions(decisions) == "." * (FOLLOW_UP_GROWTH - 1) + "R"  # 5 x 200 rows of the new regime
    assert decisions[-1].trigger == "follow-up" and decisions[-1].onset_sample_id == 1
    assert "5x its training rows" in decisions[-1].reason
    unlabelled = policy.decide(CycleFacts(99, False, None), None, measured(labelled=False), past)
    assert unlabelled.action == "none"  # a follow-up trains on labelled rows only


def test_the_periodic_challenger_runs_every_n_cycles_of_labelled_data() -> None:
    policy = RetrainPolicy(settings(challenge_every=4))
    decisions = feed(policy, Past(), ["."] * 9)
    assert actions(decisions) == "...R...R."
    assert {d.trigger for d in decisions if d.action == "retrain"} == {"periodic"}


def test_fixed_policies_follow_their_name() -> None:
    assert actions(feed(RetrainPolicy(settings(policy="never")), Past(), list("dpd"))) == "..."
    assert actions(feed(RetrainPolicy(settings(policy="always", retrain_cooldown_cycles=0)), Past(), list(".d."))) == "RRR"


def test_approve_decides_like_the_default_the_gate_holds_the_promotion() -> None:
    signals = list("..dd.p..")
    assert actions(feed(RetrainPolicy(settings(policy="approve")), Past(), signals)) == actions(
        feed(RetrainPolicy(settings(policy="challenge")), Past(), signals)
    )


def test_random_is_the_seeded_coin_of_the_original_product() -> None:
    draws = [d.draw for d in feed(RetrainPolicy(settings(policy="random", retrain_cooldown_cycles=0)), Past(), ["."] * 40)]
    again = [d.draw for d in feed(RetrainPolicy(settings(policy="random", retrain_cooldown_cycles=0)), Past(), ["."] * 40)]
    assert draws == again and all(0 <= d < 1 for d in draws)
    decided = feed(RetrainPolicy(settings(policy="random", retrain_cooldown_cycles=0)), Past(), ["."] * 40)
    assert all((d.action == "retrain") == (d.draw < 0.5) for d in decided) and 10 < actions(decided).count("R") < 30


def test_no_champion_trains_the_first_model_on_labelled_data_only() -> None:
    policy = RetrainPolicy(settings())
    assert policy.decide(CycleFacts(1, True, 1), None, measured(champion=None), Past()).action == "retrain"
    assert policy.decide(CycleFacts(1, False, None), None, measured(champion=None, labelled=False), Past()).action == "none"


@pytest.mark.parametrize("name", ["challenge", "drift", "approve", "always", "never", "random"])
def test_every_decision_is_one_of_the_typed_actions(name: str) -> None:
    decisions = feed(RetrainPolicy(settings(policy=name)), Past(), list(".ddp..d.p."))
    assert {d.action for d in decisions} <= set(ACTIONS)


def test_the_default_challenges_every_labelled_cycle_and_feature_drift_alone_decides_nothing() -> None:
    policy = RetrainPolicy(settings(policy=Settings.from_env({}).policy))
    assert actions(feed(policy, Past(), list("..dd..d."))) == "CCCCCCCC"  # drift is shown, not acted on
    unlabelled = policy.decide(CycleFacts(99, False, None), None, measured(labelled=False), Past())
    assert unlabelled.action == "none" and "no labels" in unlabelled.reason


def test_a_drop_retrains_at_once_from_its_onset_and_a_cooled_drop_still_challenges() -> None:
    policy = RetrainPolicy(settings(policy="challenge", retrain_cooldown_cycles=2))
    decisions = feed(policy, Past(), list("..pp.p"))
    assert actions(decisions) == "..RC.R".replace(".", "C")
    assert decisions[2].trigger == "drop" and decisions[2].onset_sample_id == 2 * BATCH + 1
    assert "so a challenger instead" in decisions[3].reason


def test_an_estimated_drop_without_labels_retrains_on_the_newest_labelled_rows() -> None:
    policy = RetrainPolicy(settings(policy="challenge"))
    dropped = replace(measured(labelled=False), estimated_drop=True)
    decision = policy.decide(CycleFacts(5, False, None), None, dropped, Past())
    assert decision.action == "retrain" and decision.trigger == "drop" and "without labels" in decision.reason
