"""Register -> challenger -> gate -> champion -> reload -> rollback, on a real MLflow store."""

import json
from dataclasses import replace

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from core.data.synthetic_stream import generate
from core.domain.outcomes import version_label
from core.errors import NotFoundError, UserInputError
from core.ml import training
from core.runtime import Runtime
from tests.fixtures import make_settings


def _client(rt: Runtime) -> MlflowClient:
    """The workspace's own MLflow store, named for tracking and registry alike: a client given only the tracking
    URI takes its registry from process-wide state that another test in the same worker may have set."""
    uri = rt.settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _aliases(rt: Runtime) -> dict[str, int]:
    found = {}
    for alias in ("champion", "challenger"):
        version = rt.tracker.alias_version(alias)
        if version is not None:
            found[alias] = version
    return found


def test_version_labels_follow_the_original_style() -> None:
    assert [version_label(v) for v in (1, 2, 11)] == ["v1.0.0", "v1.1.0", "v1.10.0"]


def test_first_model_becomes_champion_with_a_full_mlflow_run(runtime: Runtime) -> None:
    runtime.data.generate(1000, seed=1, role="incoming")
    outcome = runtime.models.train()
    assert outcome.label == "v1.0.0" and outcome.decision.promoted
    record = runtime.store.model(1)
    assert record["status"] == "champion" and record["n_train"] + record["n_holdout"] == 1000
    assert _aliases(runtime) == {"champion": 1}
    run = _client(runtime).get_run(record["run_id"])
    assert run.data.metrics["accuracy"] == pytest.approx(record["accuracy"])
    assert set(run.data.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert run.data.tags["n_rows"] == "1000" and run.data.tags["data_hash"] == record["data_hash"]
    assert run.data.tags["dataset_ids"] == "[1]"


def test_a_better_challenger_is_promoted_and_served(runtime: Runtime) -> None:
    runtime.data.generate(1000, seed=1, role="incoming")
    runtime.models.train()
    assert runtime.serving.predict([0.3, -1.0]).model_version == 1
    runtime.data.generate(2000, "concept_drift", 1.0, seed=2, role="incoming")
    outcome = runtime.models.train(window_rows=2000)
    d = outcome.decision
    assert d.promoted and d.challenger_score > d.champion_score + 0.2 and "promoted" in d.reason
    assert runtime.store.model(1)["status"] == "archived" and runtime.store.model(2)["status"] == "champion"
    assert _aliases(runtime) == {"champion": 2}
    assert runtime.serving.predict([0.3, -1.0]).model_version == 2  # serving reloaded
    event = runtime.store.model_events().iloc[0]
    assert (event["kind"], event["version"], event["previous_champion"], bool(event["promoted"])) == ("gate", 2, 1, True)


def test_a_worse_challenger_is_rejected_with_both_scores(runtime: Runtime) -> None:
    runtime.data.generate(2000, seed=1, role="incoming")
    runtime.models.train()
    runtime.data.generate(2000, "concept_drift", 1.0, seed=2, role="incoming")
    challenger = runtime.registry.train_challenger(runtime.store.recent_window(2000), "manual")
    # Gate on fresh stable data, where the rotated challenger is worse than the stable champion.
    X, y = generate(600, 2, seed=3)
    metrics = training.evaluate(runtime.registry.load(challenger.version), X, y)  # a challenger's metrics are its holdout's
    d = runtime.registry.gate(replace(challenger, X_holdout=X, y_holdout=y, metrics=metrics))
    assert not d.promoted and "rejected" in d.reason and d.champion_score is not None
    assert runtime.store.model(2)["status"] == "rejected" and runtime.registry.champion_version == 1
    assert _aliases(runtime) == {"champion": 1}
    event = runtime.store.model_events().iloc[0]
    assert event["challenger_score"] == pytest.approx(d.challenger_score) and event["champion_score"] == pytest.approx(d.champion_score)


def test_rollback_promotes_an_older_version(runtime: Runtime) -> None:
    runtime.data.generate(1000, seed=1, role="incoming")
    runtime.models.train()
    runtime.data.generate(2000, "concept_drift", 1.0, seed=2, role="incoming")
    runtime.models.train(window_rows=2000)
    decision = runtime.models.rollback(1)
    assert decision.promoted and "rollback" in decision.reason
    assert runtime.registry.champion_version == 1 and runtime.store.champion_version() == 1
    assert _aliases(runtime) == {"champion": 1}
    assert runtime.serving.predict([0.3, -1.0]).model_version == 1
    with pytest.raises(UserInputError, match="already the champion"):
        runtime.models.rollback(1)
    with pytest.raises(NotFoundError, match=r"no version v1\.98\.0"):
        runtime.models.rollback(99)


def test_a_promotion_that_fails_midway_leaves_the_old_champion(runtime: Runtime) -> None:
    runtime.data.generate(1000, seed=1, role="incoming")
    runtime.models.train()
    runtime.data.generate(2000, "concept_drift", 1.0, seed=2, role="incoming")
    runtime.models.train(window_rows=2000)
    runtime.models.rollback(1)
    # Someone deletes version 2 in the MLflow UI: moving the alias to it now fails inside the promotion.
    _client(runtime).delete_model_version(runtime.settings.registered_model_name, "2")
    with pytest.raises(MlflowException):
        runtime.models.rollback(2)
    assert runtime.registry.champion_version == 1 and runtime.store.champion_version() == 1
    assert runtime.store.model(2)["status"] == "archived"
    assert _aliases(runtime) == {"champion": 1}
    assert runtime.serving.predict([0.3, -1.0]).model_version == 1
    assert len(runtime.store.model_events()) == 3  # the failed rollback left no event


def test_duckdb_is_the_record_and_mlflow_alias_is_repaired_on_start(runtime: Runtime, settings) -> None:
    runtime.data.generate(1000, seed=1, role="incoming")
    runtime.models.train()
    runtime.tracker.delete_alias("champion")
    runtime.close()
    again = Runtime(settings)
    try:
        assert again.tracker.alias_version("champion") == 1
    finally:
        again.close()


def test_only_former_champions_and_candidates_can_be_promoted_back(tmp_path, mlflow_template) -> None:
    rt = Runtime(make_settings(tmp_path / "w", mlflow_template, starter_model=True, gate_margin=1.0))  # every challenger passes
    try:
        rt.loop.run_cycle()
        second = rt.models.train()  # promoted: v1.0.0 becomes a former champion
        rt.loop.run_cycle()
        third = rt.models.train()  # promoted: v1.1.0 becomes a former champion, replaced last
        rt.loop.run_cycle()
        candidate = rt.models.train(promote=False)
        rt.loop.set_controls(policy="approve")
        rt.loop.run_cycle()
        refused = rt.models.train()
        rt.models.reject(refused.version)
        assert rt.registry.champion_version == third.version
        assert rt.models.promotable_versions() == [second.version, 1, candidate.version]
        with pytest.raises(UserInputError, match="rejected by the gate"):
            rt.models.rollback(refused.version)
        rt.models.promote(1)
        assert rt.models.promotable_versions()[0] == third.version
    finally:
        rt.close()


def test_a_version_trained_on_a_window_s_newest_rows_names_only_the_datasets_it_trained_on(runtime: Runtime) -> None:
    """The loop's challenger trains on the tail of a window; its lineage named every dataset the whole window read."""
    from core.ml.window_choice import tail

    first = runtime.data.generate(600, seed=1, role="incoming")
    second = runtime.data.generate(600, seed=2, role="incoming")
    window = runtime.store.recent_window(1200)
    assert window.dataset_ids == (first.dataset_id, second.dataset_id)
    challenger = runtime.registry.train_challenger(tail(window, 500), "challenge")
    assert json.loads(runtime.store.model(challenger.version)["dataset_ids"]) == [second.dataset_id]
    assert challenger.dataset_ids == (second.dataset_id,)
    assert json.loads(_client(runtime).get_run(challenger.run_id).data.tags["dataset_ids"]) == [second.dataset_id]
