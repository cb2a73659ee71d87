"""The loop in real use, on real workspaces: only its own data, false alarms and detection rates over
seeds, no identical versions, an honest bar, the periodic challenger, the approve policy, verdicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.api.replies import model_row
from core.domain.deliveries import INFO_DELIVERY
from core.domain.outcomes import version_label
from core.errors import UserInputError
from core.rules import verdicts
from core.runtime import Runtime
from core.stats.drift import lower_bound
from tests.fixtures import make_settings

SEEDS = range(1, 11)


def run(rt: Runtime, n: int) -> list[dict]:
    return [rt.loop.run_cycle("manual") for _ in range(n)]


def workspace(tmp_path: Path, template: Path, name: str, **overrides: object) -> Runtime:
    return Runtime(make_settings(tmp_path / name, template, starter_model=True, **overrides))


def test_a_users_datasets_do_not_move_the_loop_until_sent_to_it(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    run(rt, 2)
    rt.data.generate(3200, "concept_drift", 1.0, seed=7)  # a library dataset of another regime
    rt.data.import_csv(b"feature_1,feature_2,target\n" + b"".join(b"%d,%d,1\n" % (i, -i) for i in range(50)), name="mine.csv")
    after = run(rt, 3)
    assert all(r.rows_seen == 200 for r in after)  # the stream batch only
    assert not any(r.performance_drift or r.dataset_drift for r in after) and rt.registry.champion_version == 1
    sent = rt.data.send_to_loop(int(rt.store.datasets().query("name.str.startswith('Concept')")["dataset_id"].iloc[0]))
    record = rt.loop.run_cycle("manual")
    assert record.rows_seen == 200 + sent.n_rows and record.performance_drift
    assert rt.store.datasets().set_index("dataset_id").loc[sent.dataset_id, "role"] == "incoming"


def test_train_now_on_chosen_datasets_records_them_and_identical_training_registers_nothing(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    mine = rt.data.generate(1500, "concept_drift", 1.0, seed=5)
    first = rt.models.train(dataset_ids=[mine.dataset_id])
    assert first.equal_to is None and first.n_rows == 1500
    record = rt.store.model(first.version)
    assert record["training_data"] == f"datasets {mine.dataset_id}" and record["dataset_ids"] == f"[{mine.dataset_id}]"
    versions = rt.tracker.registered_versions()
    again = rt.models.train(dataset_ids=[mine.dataset_id])
    assert again.equal_to == first.version and again.decision is None
    assert (again.n_train, again.n_holdout) == (first.n_train, first.n_holdout) == (record["n_train"], record["n_holdout"])
    assert rt.tracker.registered_versions() == versions and len(rt.store.models()) == 2
    assert rt.models.train().equal_to == 1  # the loop window is still the starter's: v1.0.0's data


def test_a_loop_retrain_on_unchanged_data_registers_nothing(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(policy="always", retrain_cooldown_cycles=0, stream_enabled=False)
    rt.data.generate(300, seed=3, role="incoming")
    first = run(rt, 1)[0]
    assert first.new_version == 2
    rt.data.generate(1, seed=4, role="library")  # library data moves nothing
    rt.serving.predict_batch([[0.1, 0.2], [0.3, -0.4], [1.0, 1.0]])  # unlabelled inputs: a cycle, but the same training window
    rt.serving.flush()
    second = rt.loop.run_cycle("manual")
    assert second.status == "ok" and second.rows_seen == 3 and not second.labelled and second.decision == "retrain"
    assert second.new_version is None and "retrain skipped: nothing registered" in second.reason and "v1.1.0" in second.reason
    assert len(rt.store.models()) == 2


def _flags_and_retrains(rt: Runtime, n: int) -> tuple[int, int]:
    records = run(rt, n)
    return sum(bool(r.dataset_drift) for r in records), sum(r.decision == "retrain" for r in records)


@pytest.mark.slow
def test_stable_streams_flag_under_one_percent_over_ten_seeds_and_never_retrain(tmp_path: Path, mlflow_template: Path) -> None:
    rates, retrains = [], 0
    for seed in SEEDS:
        rt = workspace(tmp_path, mlflow_template, f"s{seed}", seed=seed)
        try:
            flags, retrained = _flags_and_retrains(rt, 100)
        finally:
            rt.close()
        rates.append(flags / 100)
        retrains += retrained
    assert np.mean(rates) <= 0.01 and max(rates) <= 0.03 and retrains == 0, rates


@pytest.mark.slow
@pytest.mark.parametrize("n_features", [2, 20])
def test_covariate_shift_and_concept_drift_are_caught_fast_over_ten_seeds(tmp_path: Path, mlflow_template: Path, n_features: int) -> None:
    caught = {"shift 0.5 at once": 0, "shift 0.25 within 3": 0, "concept at once": 0}
    for seed in SEEDS:
        for name, scenario, strength, within in (
            ("shift 0.5 at once", "covariate_shift", 0.5, 1),
            ("shift 0.25 within 3", "covariate_shift", 0.25, 3),
            ("concept at once", "concept_drift", 1.0, 1),
        ):
            rt = workspace(tmp_path, mlflow_template, f"{name}-{seed}", seed=seed, n_features=n_features, policy="never")
            try:
                run(rt, 3)
                rt.loop.set_stream_scenario(scenario, strength)
                after = run(rt, within)
            finally:
                rt.close()
            signal = "performance_drift" if scenario == "concept_drift" else "dataset_drift"
            caught[name] += any(getattr(r, signal) for r in after)
    assert caught["shift 0.5 at once"] >= 10 and caught["shift 0.25 within 3"] >= 9 and caught["concept at once"] == 10, caught


def test_the_bar_after_a_small_window_retrain_and_the_follow_up_retrain(tmp_path: Path, mlflow_template: Path) -> None:
    rt = workspace(tmp_path, mlflow_template, "w", policy="drift", training_window=1200, retrain_cooldown_cycles=0)
    try:
        rt.loop.set_stream_scenario("concept_drift", 1.0)
        records = run(rt, 3)
        promoted = next(r for r in records if r.promoted)
        small = promoted.new_version
        assert rt.store.model(small)["n_train"] + rt.store.model(small)["n_holdout"] < 1200
        assert rt.store.followup_onset(small) is not None  # a follow-up is owed from the drift onset
        served = run(rt, 8)
        bars = [r.performance_bar for r in served]
        model = rt.store.model(small)
        lower = lower_bound(round(model["accuracy"] * model["n_holdout"]), model["n_holdout"], rt.settings.perf_confidence)
        assert bars[0] == pytest.approx(lower) and lower < model["accuracy"]  # what a small holdout can vouch for
        assert bars[-1] != pytest.approx(lower) and "served rows" in served[-1].reason + served[-1].verdict
        follow = [r for r in served if r.reason.startswith("follow-up")]
        assert follow and all(r.new_version is not None for r in follow)  # through the gate, whatever it decided
        assert "5x its training rows" in follow[0].reason or "a full window" in follow[0].reason
        assert rt.store.model(follow[0].new_version)["trigger"] == "follow-up"
        assert [r.new_version for r in follow] == sorted(r.new_version for r in follow)
    finally:
        rt.close()


def test_a_periodic_challenger_replaces_a_weak_champion_when_the_data_improves(tmp_path: Path, mlflow_template: Path) -> None:
    rt = workspace(tmp_path, mlflow_template, "w", policy="drift", challenge_every=4, retrain_cooldown_cycles=0, training_window=800)
    try:
        rt.data.generate(400, "label_noise", 2.0, seed=1, role="incoming")  # half the labels flipped
        weak = rt.models.train(window_rows=400, promote=False)  # a candidate, put in service by hand
        rt.models.promote(weak.version)
        assert rt.registry.champion_version == weak.version
        records = run(rt, 8)  # the stream is clean again; the weak champion's low bar never calls a drop
        periodic = [r for r in records if r.new_version and rt.store.model(r.new_version)["trigger"] == "periodic"]
        assert periodic and periodic[0].gate_outcome == "promoted" and rt.registry.champion_version != weak.version
        assert rt.store.model(rt.registry.champion_version)["trigger"] == "periodic"
    finally:
        rt.close()


def test_the_approve_policy_waits_for_a_person_end_to_end(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(policy="approve", retrain_cooldown_cycles=0)
    rt.loop.set_stream_scenario("concept_drift", 1.0)
    records = run(rt, 3)
    gated = [r for r in records if r.new_version]
    waiting = gated[-1].new_version
    assert {r.gate_outcome for r in gated} == {"awaiting"} and rt.registry.champion_version == 1
    assert rt.models.awaiting_approval() == [waiting] and rt.tracker.alias_version("challenger") == waiting  # the freshest waits
    assert all(rt.store.model(r.new_version)["status"] == "rejected" for r in gated[:-1])
    alerts = rt.store.notifications()
    assert "awaiting" in alerts["kind"].tolist() and "awaits approval" in alerts.query("kind == 'awaiting'")["title"].iloc[0]
    waits = alerts.query("kind == 'awaiting'").sort_values("notification_id")
    assert len(gated) >= 2 and len(waits) == len(gated)  # each winner shown; one message per wait for the person deciding
    assert waits["delivery"].tolist() == [waits["delivery"].iloc[0]] + [INFO_DELIVERY] * (len(gated) - 1)
    assert waits["delivery"].iloc[0] != INFO_DELIVERY
    assert f"it replaces {version_label(gated[-2].new_version)}, which was waiting" in gated[-1].reason
    # it passed the gate and waits: never called promoted, rejected, nor drawn as a rejection
    assert all("passed the gate: accuracy" in r.reason and "promoted:" not in r.reason for r in gated), [r.reason for r in gated]
    assert not rt.store.accuracy_history()["rejected"].any()
    older = model_row(rt.store.model(gated[0].new_version))
    assert (older["status"], older["status_label"]) == ("rejected", "superseded")  # stored as before; read as what happened
    with pytest.raises(UserInputError, match="withdrawn while awaiting approval"):
        rt.models.promote(gated[0].new_version)
    rt.close()
    rt.__init__(rt.settings)  # a restart keeps the waiting challenger waiting
    assert rt.models.awaiting_approval() == [waiting]
    waited = next(r.cycle_id for r in gated if r.new_version == waiting)
    assert rt.store.cycle(waited)["decided_later"] is None
    rt.models.approve(waiting)
    assert rt.registry.champion_version == waiting and rt.tracker.alias_version("champion") == waiting
    assert rt.tracker.alias_version("challenger") is None
    # the cycle that left it waiting says what became of it (tour 22: "awaits approval" long after), and so do the older ones
    assert rt.store.cycle(waited)["decided_later"] == "approval"
    assert rt.store.cycle(gated[0].cycle_id)["decided_later"] == "superseded"
    assert set(rt.store.cycles(20).dropna(subset=["new_version"])["decided_later"]) == {"approval", "superseded"}


def _scrape(rt: Runtime) -> dict[str, float]:
    from fastapi.testclient import TestClient
    from prometheus_client.parser import text_string_to_metric_families

    from core.api import create_app

    text = TestClient(create_app(rt)).get("/metrics").text
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_a_challenger_left_waiting_is_withdrawn_when_another_version_takes_service(trained_runtime: Runtime) -> None:
    """Tour 22: one left waiting under approve stayed a challenger after the policy became challenge; approved 74 cycles
    later, it went into service over a newer champion with no word. Its gate judged it against a champion that no longer
    serves: it is withdrawn when another version takes service, and can be neither approved nor promoted by hand."""
    rt = trained_runtime
    rt.loop.set_controls(policy="approve", retrain_cooldown_cycles=0)
    rt.loop.set_stream_scenario("concept_drift", 1.0)
    gated = [r for r in run(rt, 3) if r.new_version]
    (waiting,) = rt.models.awaiting_approval()
    scraped = _scrape(rt)  # tour 22: retrains 3 beside 11 versions trained, the starter counted a promotion, no waiting gauge
    assert (scraped["ia_continu_awaiting_approval"], scraped["ia_continu_promotions_total"]) == (1.0, 0.0)
    assert scraped["ia_continu_retrains_total"] == len(gated)
    rt.loop.set_controls(policy="challenge")
    promoted = next((r for r in run(rt, 6) if r.promoted), None)
    assert promoted is not None and rt.registry.champion_version == promoted.new_version
    assert rt.models.awaiting_approval() == [] and rt.tracker.alias_version("challenger") is None
    assert (_scrape(rt)["ia_continu_awaiting_approval"], _scrape(rt)["ia_continu_promotions_total"]) == (0.0, 1.0)
    events = rt.store.model_events_of(waiting)
    said = events.query("kind == 'superseded'")["reason"].iloc[0]
    assert said == (f"withdrawn while awaiting approval: {version_label(promoted.new_version)} took service, and its gate had judged "
                    f"it against {version_label(promoted.champion_version)}")  # fmt: skip
    for act in (rt.models.approve, rt.models.promote):
        with pytest.raises(UserInputError, match=r"not a challenger awaiting approval|withdrawn while awaiting approval"):
            act(waiting)
    assert rt.registry.champion_version == promoted.new_version


def test_a_rejected_approval_keeps_the_champion(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(policy="approve")
    rt.data.generate(1500, "concept_drift", 1.0, seed=2, role="incoming")
    outcome = rt.models.train(window_rows=1500)
    assert outcome.decision.outcome == "awaiting" and outcome.status == "awaiting_approval"
    rt.models.reject(outcome.version)
    assert rt.registry.champion_version == 1 and rt.store.model(outcome.version)["status"] == "rejected"
    assert rt.models.awaiting_approval() == []


def test_each_signal_has_a_verdict_saying_what_it_cannot_see(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(policy="never")
    quiet = run(rt, 1)[0]
    assert quiet.verdict.startswith("No signal") and quiet.signals == "[]"
    rt.loop.set_stream_scenario("covariate_shift", 1.5)
    shifted = run(rt, 1)[0]
    assert verdicts.FEATURE in shifted.signals and "Feature drift" in shifted.verdict
    assert verdicts.BLIND[verdicts.FEATURE] in shifted.verdict
    rt.loop.set_stream_scenario("concept_drift", 1.0)
    concept = run(rt, 1)[0]
    assert verdicts.REALISED in concept.signals and verdicts.ESTIMATED not in concept.signals
    assert "Realised-accuracy drop" in concept.verdict and verdicts.BLIND[verdicts.REALISED] in concept.verdict
    drift_alert = rt.store.notifications().query("kind == 'drift'")["description"].iloc[0]
    assert "It means" in drift_alert
    rt.loop.set_controls(stream_enabled=False)
    rt.loop.set_stream_scenario("stable", 1.0)
    rt.serving.predict_batch(np.zeros((300, 2)))  # unlabelled inputs right on the boundary: confidence collapses
    rt.predictor.flush()
    unlabelled = run(rt, 1)[0]
    assert not unlabelled.labelled and verdicts.ESTIMATED in unlabelled.signals
    assert verdicts.BLIND[verdicts.ESTIMATED] in unlabelled.verdict
