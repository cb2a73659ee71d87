"""The monitoring loop on a real workspace: real DuckDB, real MLflow store, real models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.data import synthetic_stream
from core.data.synthetic_stream import Scenario
from core.domain.outcomes import version_label
from core.ml import training
from core.runtime import Runtime
from tests.fixtures import make_settings


def run(rt: Runtime, n: int) -> list[dict]:
    return [rt.loop.run_cycle() for _ in range(n)]


def test_stable_stream_rarely_flags_drift_and_never_retrains(trained_runtime: Runtime) -> None:
    records = run(trained_runtime, 50)
    flagged = sum(bool(r.dataset_drift) for r in records)
    assert flagged <= 2  # at most 5 % of 50 cycles
    assert [r.decision for r in records].count("retrain") == 0
    assert all(r.rows_seen == 200 and r.labelled for r in records)
    assert all(0.8 <= r.realised_accuracy <= 1.0 and 0.8 <= r.estimated_accuracy <= 1.0 for r in records)
    stored = trained_runtime.store.cycles(100)
    assert len(stored) == 50 and set(stored["status"]) == {"ok"}
    assert len(trained_runtime.store.drift_results(50)) == 2  # one row per feature per cycle


def test_concept_drift_is_detected_retrained_and_the_new_champion_is_better(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    run(rt, 3)
    old = rt.registry.load(rt.registry.champion_version)
    rt.loop.set_stream_scenario("concept_drift", 1.0)
    records = run(rt, 2)
    detected = [r for r in records if r.performance_drift or r.dataset_drift]
    assert detected, "drift not detected within 2 cycles"
    promoted = [r for r in records if r.promoted]
    assert promoted and promoted[0].new_version == 2 and rt.registry.champion_version == 2
    assert promoted[0].performance_drift and promoted[0].gate_outcome == "promoted" and promoted[0].decision == "retrain"
    X, y = synthetic_stream.generate(5000, 2, Scenario("concept_drift", 1.0), seed=999)
    old_acc = training.evaluate(old, X, y)["accuracy"]
    new_acc = training.evaluate(rt.registry.load(2), X, y)["accuracy"]
    assert new_acc - old_acc >= 0.10
    assert rt.store.model(2)["window_first_sample"] > rt.store.model(1)["window_last_sample"]  # trained on post-drift rows only
    kinds = set(rt.store.notifications()["kind"])
    assert {"drift", "promoted"} <= kinds
    alert = rt.store.notifications().query("kind == 'promoted'").iloc[0]
    fields = {f["name"]: f["value"] for f in json.loads(alert["payload"])["embeds"][0]["fields"]}
    gate = rt.store.model_events_of(2).iloc[-1]
    assert fields["Champion this cycle"] == "v1.0.0" and "Accuracy" not in fields and "Model version" not in fields
    assert fields["Champion's accuracy this cycle"] == f"{promoted[0].realised_accuracy:.1%}"  # v1.0.0's, named so
    assert fields["v1.1.0 at the gate"] == f"accuracy {gate['challenger_score']:.3f} on {gate['n_rows']:,} rows"
    assert fields["v1.0.0 at the gate"] == f"accuracy {gate['champion_score']:.3f} on the same rows"
    assert gate["challenger_score"] - promoted[0].realised_accuracy >= 0.2  # two different figures, each under its name
    rt.loop.run_cycle()  # the reference follows the new champion: its post-drift training window
    assert set(rt.store.drift_results()["n_reference"]) == {rt.store.model(2)["n_train"] + rt.store.model(2)["n_holdout"]}


def test_covariate_shift_flags_dataset_drift(trained_runtime: Runtime) -> None:
    trained_runtime.loop.set_stream_scenario("covariate_shift", 1.0)
    records = run(trained_runtime, 2)
    assert all(r.dataset_drift and r.drift_share == 1.0 for r in records)
    report = trained_runtime.store.drift_results()
    assert report["drifted"].all() and (report["psi_status"] == "drift").all()


def test_never_policy_monitors_only(trained_runtime: Runtime) -> None:
    trained_runtime.loop.set_controls(policy="never")
    trained_runtime.loop.set_stream_scenario("concept_drift", 1.0)
    records = run(trained_runtime, 4)
    assert all(r.performance_drift for r in records)
    assert {r.decision for r in records} == {"none"} and trained_runtime.registry.champion_version == 1


def test_random_policy_retrains_exactly_on_draws_below_half(tmp_path, mlflow_template) -> None:
    decisions = []
    for run_no in range(2):
        settings = make_settings(tmp_path / f"w{run_no}", mlflow_template, starter_model=True, policy="random", retrain_cooldown_cycles=0)
        rt = Runtime(settings)
        try:
            decisions.append([(r.draw, r.decision) for r in run(rt, 12)])
        finally:
            rt.close()
    assert decisions[0] == decisions[1]  # the same seed gives the same draws
    draws = [d for d, _ in decisions[0]]
    assert all(0 <= d < 1 for d in draws) and any(d < 0.5 for d in draws) and any(d >= 0.5 for d in draws)
    assert all((decision == "retrain") == (draw < 0.5) for draw, decision in decisions[0])


def test_cooldown_holds(trained_runtime: Runtime) -> None:
    trained_runtime.loop.set_controls(policy="always", retrain_cooldown_cycles=2)
    decisions = [r.decision for r in run(trained_runtime, 7)]
    assert decisions == ["retrain", "cooldown", "cooldown", "retrain", "cooldown", "cooldown", "retrain"]


def test_dataset_drift_waits_for_persistence_then_retrains(trained_runtime: Runtime) -> None:
    trained_runtime.loop.set_controls(policy="drift", drift_persistence=2, perf_tolerance=1.0)  # isolate dataset drift
    trained_runtime.loop.set_stream_scenario("covariate_shift", 1.0)
    first, second = run(trained_runtime, 2)
    assert first.decision == "wait" and "1 so far" in first.reason
    assert second.decision == "retrain" and "for 2 cycles" in second.reason
    # A covariate shift leaves the boundary where it was: the older rows still help, and the window choice keeps them.
    assert "window of 2,400 rows chosen on the newest 120 post-drift rows (400 rows" in second.reason
    assert trained_runtime.store.model(2)["n_train"] + trained_runtime.store.model(2)["n_holdout"] == 2400


def test_a_window_with_too_few_rows_of_a_class_is_a_wait_verdict_not_an_error(tmp_path, mlflow_template) -> None:
    rt = Runtime(make_settings(tmp_path / "w", mlflow_template, training_window=100))
    try:
        rt.loop.set_controls(stream_enabled=False)
        rt.store.insert_dataset(np.zeros((50, 2)), np.ones(50, dtype=np.int8), source="imported", name="one class", role="incoming")
        waiting = rt.loop.run_cycle()  # no champion yet: it tries to train the first model, on one class
        assert waiting.status == "ok" and waiting.decision == "wait" and waiting.error is None
        assert "waiting for more rows" in waiting.reason and "has 0 of class 0" in waiting.reason
        assert "retrain_failed" not in rt.store.notifications()["kind"].tolist()
        assert rt.faults.get("mlflow") is None and rt.faults.get("duckdb") is None
        rt.loop.set_controls(stream_enabled=True)
        after = rt.loop.run_cycle()
        assert after.status == "ok" and after.rows_seen == 200 and after.promoted
        stored = rt.store.cycles()
        assert stored["status"].tolist() == ["ok", "ok"] and stored["decision"].tolist() == ["retrain", "wait"]
    finally:
        rt.close()


def test_stream_off_checks_what_users_added(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    read = rt.loop.run_cycle()
    rt.loop.set_controls(stream_enabled=False)
    empty, again = rt.loop.run_cycle(), rt.loop.run_cycle()
    assert empty.status == "no_data" and empty.rows_seen == 0 and "no new data" in empty.reason
    assert again.reason.startswith(f"no new data since cycle {read.cycle_id}:"), again.reason  # the last that read rows
    rt.data.generate(300, "covariate_shift", 1.0, seed=5, role="incoming")
    labelled = rt.loop.run_cycle()
    assert labelled.rows_seen == 300 and labelled.labelled and labelled.dataset_drift
    for i in range(40):
        rt.serving.predict([float(i % 5), 1.0], source="api")
    rt.predictor.flush()
    unlabelled = rt.loop.run_cycle()
    assert unlabelled.rows_seen == 40 and not unlabelled.labelled
    assert unlabelled.realised_accuracy is None and 0.5 <= unlabelled.estimated_accuracy <= 1.0
    assert unlabelled.estimated_low < unlabelled.estimated_accuracy < unlabelled.estimated_high
    assert "the label-free estimate alone judged it" in unlabelled.reason and "estimate alone judged" in unlabelled.verdict
    assert "estimate alone" not in labelled.reason


def test_each_cycle_stores_its_estimate_band_and_the_estimator_is_the_versions_own(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    champion = rt.registry.champion_version
    stored = rt.store.estimator(champion)
    assert stored is not None and len(stored["correct"]) == rt.store.model(champion)["n_holdout"]
    records = run(rt, 3)
    assert all(r.estimated_low < r.estimated_accuracy < r.estimated_high for r in records)
    assert all(r.estimated_high - r.estimated_low < 0.2 for r in records)
    row = rt.store.cycles(1).iloc[0]
    assert (row["estimated_low"], row["estimated_high"]) == (records[-1].estimated_low, records[-1].estimated_high)
    history = rt.store.accuracy_history()
    assert history["estimated_low"].notna().all() and (history["estimated_low"] <= history["estimated"]).all()


def test_labels_that_hold_the_accuracy_overrule_an_estimated_drop(trained_runtime: Runtime) -> None:
    """Rows near the boundary make the champion unsure, so its estimate drops; labelled as it served them, they are all
    right, and the labels, not the estimate, say how it did: no estimated drop, no "Performance drop" alert."""
    rt = trained_runtime
    rt.loop.set_controls(policy="never", stream_enabled=False)
    model = rt.registry.load(rt.registry.champion_version)
    X = np.random.default_rng(2).uniform(-4, 4, size=(20_000, 2))
    proba = model.predict_proba(X)
    near = X[proba.max(axis=1) < 0.6][:300]
    served = training.predicted_class(model.predict_proba(near))
    csv = "feature_1,feature_2,target\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(near, served, strict=True))
    rt.data.import_csv(csv, name="boundary.csv", role="incoming")
    record = rt.loop.run_cycle()
    assert record.realised_accuracy == 1.0 and record.estimated_accuracy < 0.65  # unsure, and right every time
    assert "estimated-accuracy drop" not in json.loads(record.signals)
    assert not [a for a in rt.store.notifications(20).to_dict("records") if a["title"] == "Performance drop"]


def test_a_version_stored_without_its_estimator_gets_it_from_its_recomputed_holdout(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    champion = rt.registry.champion_version
    stored = rt.store.estimator(champion)
    with rt.store.transaction() as tx:
        tx.execute("UPDATE models SET estimator = NULL")
    assert rt.store.estimator(champion) is None
    rebuilt = rt.registry.estimator(champion)
    assert rebuilt.to_dict() == stored and rt.store.estimator(champion) == stored


def test_restart_keeps_scenario_policy_interval_and_history(tmp_path, mlflow_template) -> None:
    settings = make_settings(tmp_path / "w", mlflow_template, starter_model=True)
    rt = Runtime(settings)
    rt.loop.set_controls(policy="never", scheduler_interval=7)
    rt.loop.set_stream_scenario("gradual", 0.5)
    run(rt, 3)
    rt.close()
    again = Runtime(settings)
    try:
        assert again.loop.live_settings().policy == "never" and again.loop.live_settings().scheduler_interval == 7.0
        assert again.scheduler.interval == 7.0
        state = again.loop.stream_state()
        assert (state.scenario, state.strength) == ("gradual", 0.5)
        assert len(again.store.cycles()) == 3 and len(again.store.models()) == 1
        assert again.serving.predict([0.1, 0.2]).model_version == 1
        assert again.loop.run_cycle().cycle_id == 4 and again.store.last_cycle()["scenario"] == "gradual"
    finally:
        again.close()


def test_bad_controls_are_refused_and_change_nothing(trained_runtime: Runtime) -> None:
    from core.errors import UserInputError

    with pytest.raises(UserInputError, match="scheduler_interval"):
        trained_runtime.loop.set_controls(policy="always", scheduler_interval=-1)
    with pytest.raises(UserInputError, match="policy"):
        trained_runtime.loop.set_controls(policy="sometimes")
    with pytest.raises(UserInputError, match="strength"):
        trained_runtime.loop.set_stream_scenario("concept_drift", 5.0)
    assert trained_runtime.loop.live_settings().policy == "challenge" and trained_runtime.loop.stream_state().scenario == "stable"


def test_every_gate_outcome_is_announced(trained_runtime: Runtime) -> None:
    trained_runtime.loop.set_controls(policy="always", retrain_cooldown_cycles=0)
    records = run(trained_runtime, 8)
    alerts = trained_runtime.store.notifications(100)
    for r in records:
        label = version_label(r.new_version)
        expected = f"New champion {label}" if r.promoted else f"Challenger {label} rejected"
        assert expected in alerts["title"].tolist()
    assert {True, False} <= {r.promoted for r in records}  # this seed exercises both branches
    assert set(alerts["kind"]) == {"promoted", "rejected"}


def test_a_system_fault_is_recorded_and_announced_and_the_loop_goes_on(tmp_path, mlflow_template) -> None:
    import shutil

    settings = make_settings(tmp_path / "w", mlflow_template, starter_model=True)
    Runtime(settings).close()
    rt = Runtime(settings)
    shutil.rmtree(settings.mlflow_artifacts_dir)  # the model files vanish under a running workspace (a bad clean-up)
    try:
        first, second = run(rt, 2)
        for record in (first, second):
            assert record.status == "error" and record.reason.startswith("cycle failed") and "Traceback" in record.error
            assert "model's files are missing from the artifact folder" in record.reason
        assert rt.store.notifications()["kind"].tolist() == ["loop_failing"]  # one alert for the episode, not one per cycle
        assert not rt.health.check().checks["champion"].ok
        assert len(rt.store.cycles()) == 2
    finally:
        rt.close()


def test_after_a_drift_retrain_the_reference_is_the_post_drift_rows_so_the_loop_settles(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(policy="drift", retrain_cooldown_cycles=0)
    rt.loop.set_stream_scenario("covariate_shift", 1.0)  # the boundary stays: the champion keeps doing well
    wait, retrain, *after = run(rt, 6)
    assert (wait.decision, retrain.decision) == ("wait", "retrain")
    # Whichever model serves next (the champion holding, or one that also learnt the older rows), its drift
    # reference is the post-drift rows: what the loop must now look like.
    assert retrain.gate_outcome in ("rejected", "promoted") and rt.registry.champion_version == (2 if retrain.promoted else 1)
    ref = rt.loop.reference()
    assert ref.moved and (ref.first_sample_id, ref.last_sample_id) == (retrain.first_sample_id - 200, retrain.last_sample_id)
    assert not any(r.dataset_drift for r in after) and {r.decision for r in after} == {"none"}


def test_a_new_drift_episode_alerts_even_inside_the_cooldown_of_the_last(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    # drift, the policy that sends feature drift, never persisting long enough to retrain: the reference stays
    rt.loop.set_controls(policy="drift", drift_persistence=100, drift_window_batches=1)
    rt.loop.set_stream_scenario("covariate_shift", 1.5)
    first, repeat = rt.loop.run_cycle(), rt.loop.run_cycle()
    rt.loop.set_stream_scenario("stable", 0.0)
    calm = rt.loop.run_cycle()
    rt.loop.set_stream_scenario("covariate_shift", 1.5)
    again = rt.loop.run_cycle()
    assert first.dataset_drift and repeat.dataset_drift and not calm.dataset_drift and again.dataset_drift
    alerts = rt.store.notifications().query("kind == 'drift'").sort_values("notification_id")
    assert alerts["cycle_id"].tolist() == [first.cycle_id, repeat.cycle_id, again.cycle_id]
    assert alerts["delivery"].tolist() == ["not_sent", "collapsed", "not_sent"]
    detail = rt.insights.cycle_detail(again.cycle_id)
    assert [a["kind"] for a in detail.alerts] == ["drift"]


def test_under_never_feature_drift_with_no_drop_is_one_informational_alert_per_episode(trained_runtime: Runtime) -> None:
    """Tour 22: under never (monitor only) feature drift with the accuracy holding was sent as "Drift detected", while
    under challenge it was informational. Only `drift`, which retrains on it, sends it."""
    rt = trained_runtime
    rt.loop.set_controls(policy="never", drift_window_batches=1)
    rt.loop.set_stream_scenario("covariate_shift", 1.5)
    drifted = [rt.loop.run_cycle() for _ in range(2)]
    assert all(r.dataset_drift and not r.performance_drift for r in drifted)
    alerts = rt.store.notifications().query("kind == 'drift'")
    assert alerts["level"].tolist() == ["info"] and alerts["cycle_id"].tolist() == [drifted[0].cycle_id]
    assert rt.insights.last_event().kind == "info"


def test_a_rejected_drift_retrain_makes_the_post_drift_rows_the_champions_reference(trained_runtime: Runtime) -> None:
    from core.actions.models import TrainOutcome
    from core.domain.outcomes import CycleRecord, Decision
    from core.services.registry import GateDecision
    from core.store import utcnow

    rt = trained_runtime
    rt.loop.run_cycle()
    rejected = GateDecision(2, 1, "accuracy", 0.8, 0.9, 100, False, "worse", outcome="rejected")
    record = CycleRecord(9, utcnow(), champion_version=1, reason="dataset drift")
    decision = Decision("retrain", "dataset drift", onset_sample_id=2001)
    rt.pipeline._after_gate(
        TrainOutcome(2, "v1.1.0", {}, 300, rejected, 210, 90), decision, rt.loop.live_settings(), record, 2001, 2200, True
    )
    ref = rt.loop.reference()
    assert ref.moved and (ref.first_sample_id, ref.last_sample_id) == (2001, 2200)
    assert record.reason.endswith("the champion holds on the post-drift rows, so they become its drift reference")
