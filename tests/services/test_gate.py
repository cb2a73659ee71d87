"""The gate judges a challenger on what it will serve: the loop's recent incoming data, with its own holdout beside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import UserInputError
from core.ml import training
from core.runtime import Runtime
from tests.fixtures import make_settings


def test_a_challenger_trained_on_a_library_dataset_is_gated_on_the_loops_data(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    library = rt.data.generate(3000, "covariate_shift", 0.8, seed=11)
    outcome = rt.models.train(dataset_ids=[library.dataset_id])
    decision = outcome.decision
    loop = rt.store.recent_window(1500)  # IA_TRAINING_WINDOW 5000 x holdout 0.3: the loop's newest incoming rows
    assert library.dataset_id not in loop.dataset_ids and decision.n_rows == loop.n_rows
    challenger, champion = rt.registry.load(outcome.version), rt.registry.load(decision.champion)
    assert decision.challenger_score == pytest.approx(training.evaluate(challenger, loop.X, loop.y)["accuracy"])
    assert decision.champion_score == pytest.approx(training.evaluate(champion, loop.X, loop.y)["accuracy"])
    assert decision.own_n_rows == 900 and decision.own_challenger_score != decision.challenger_score
    assert "the loop's newest 1,500 incoming rows" in decision.reason and "on its own holdout (900 rows)" in decision.reason
    event = rt.store.model_events_of(outcome.version).iloc[-1]
    assert event["gate_set"] == decision.gate_set and event["own_n_rows"] == 900
    assert event["own_champion_score"] == pytest.approx(decision.own_champion_score)


def test_a_dataset_challenger_with_no_loop_rows_to_judge_on_is_kept_as_a_candidate(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    outcome = rt.models.train(dataset_ids=[1])  # the starter: the loop's only incoming data, so nothing fresh is left
    assert outcome.equal_to == 1  # the same rows as v1.0.0: nothing registered
    outcome = rt.models.train(dataset_ids=[1], options=training.TrainingOptions(C=0.1))
    assert outcome.decision.outcome == "candidate" and not outcome.decision.promoted
    assert "no recent incoming rows outside its training datasets" in outcome.decision.reason
    assert rt.store.model(outcome.version)["status"] == "candidate" and rt.registry.champion_version == 1


def test_train_without_promoting_keeps_a_candidate_that_can_be_promoted_later(tmp_path: Path, mlflow_template: Path) -> None:
    rt = Runtime(make_settings(tmp_path / "w", mlflow_template, starter_model=True, gate_margin=1.0))  # any challenger passes
    try:
        rt.loop.run_cycle()
        held = rt.models.train(promote=False, options=training.TrainingOptions(C=0.5, class_weight="balanced"))
        assert held.decision.outcome == "candidate" and "it would have passed the gate" in held.decision.reason
        assert rt.registry.champion_version == 1 and rt.store.model(held.version)["status"] == "candidate"
        params = rt.tracker.client.get_run(rt.store.model(held.version)["run_id"]).data.params
        assert (params["C"], params["class_weight"]) == ("0.5", "balanced")
        rt.models.promote(held.version)
        assert rt.registry.champion_version == held.version
        rt.loop.run_cycle()
        promoted = rt.models.train()
        assert promoted.decision.promoted
        titles = rt.store.notifications()["title"].tolist()
        assert f"New champion {promoted.label}" in titles  # a manual training that promotes is announced
    finally:
        rt.close()


@pytest.mark.parametrize(("options", "field"), [({"C": 0}, "C"), ({"C": "big"}, "C"), ({"class_weight": "heavy"}, "class_weight")])
def test_bad_training_options_name_their_field(options: dict, field: str) -> None:
    with pytest.raises(UserInputError) as raised:
        training.TrainingOptions(**options)
    assert raised.value.field == field


def test_options_change_the_fitted_model_and_its_parameters_hash() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] + rng.normal(size=400) > 1.2).astype(int)  # unbalanced classes
    plain = training.fit(X, y, 0.3, 0)
    weighted = training.fit(X, y, 0.3, 0, training.TrainingOptions(class_weight="balanced"))
    assert plain.metrics["recall"] < weighted.metrics["recall"]
    assert training.params_hash(0.3, 0) != training.params_hash(0.3, 0, training.TrainingOptions(C=2.0))


def test_every_training_sends_the_gates_alert_whoever_asked_for_it(trained_runtime: Runtime) -> None:
    """ "Train now" and the API go through the loop's own train_and_gate: a new champion is announced
    from either, a rejected challenger too, each with the version it names."""
    from fastapi.testclient import TestClient

    from core.api import create_app

    rt = trained_runtime
    assert rt.store.notifications().empty  # the starter model comes with the workspace: no alert
    rt.data.generate(1500, "concept_drift", 1.0, seed=4, role="incoming")
    manual = rt.models.train(window_rows=1500)
    assert manual.status == "promoted"
    alerts = rt.store.notifications()
    assert alerts[["kind", "title"]].values.tolist() == [["promoted", f"New champion {manual.label}"]]
    assert alerts["description"].iloc[0] == manual.reason and alerts["cycle_id"].isna().all()  # no cycle asked for it
    with TestClient(create_app(rt)) as client:  # the same rows, regularised to a near-constant model: worse than the champion
        reply = client.post("/retrain", json={"window_rows": 1500, "C": 0.0001}).json()
    assert reply["status"] == "rejected" and not reply["promoted"]
    newest = rt.store.notifications().iloc[0]
    assert (newest["kind"], newest["title"]) == ("rejected", f"Challenger {reply['model_version']} rejected")
