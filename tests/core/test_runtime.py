import json

import pytest

from core import runtime as runtime_module
from core.errors import UserInputError
from core.runtime import Runtime
from tests.fixtures import make_settings


def test_an_empty_workspace_gets_a_starter_dataset_and_v1(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    datasets = rt.store.datasets()
    assert datasets["source"].tolist() == ["starter"] and datasets["n_rows"].tolist() == [2000]
    models = rt.store.models()
    assert models["label"].tolist() == ["v1.0.0"] and models["status"].tolist() == ["champion"]
    assert 0.85 <= models["accuracy"].iloc[0] <= 0.96
    assert rt.serving.predict([1.5, 2.3]).prediction == 1


def test_restart_serves_the_champion_without_retraining(tmp_path, mlflow_template) -> None:
    settings = make_settings(tmp_path / "d", mlflow_template, starter_model=True)
    Runtime(settings).close()
    again = Runtime(settings)
    try:
        assert len(again.store.models()) == 1 and again.serving.predict([0.0, 1.0]).model_version == 1
    finally:
        again.close()


def test_starter_can_be_turned_off(runtime: Runtime) -> None:
    assert set(runtime.store.counts().values()) == {0}  # nothing stored, of any kind


def test_get_runtime_is_idempotent_and_close_releases_the_file(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    first = runtime_module.get_runtime(settings)
    assert runtime_module.get_runtime() is first
    runtime_module.close_runtime()
    second = runtime_module.get_runtime(settings)  # the DuckDB lock was released
    assert second is not first
    runtime_module.close_runtime()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_samples": 0}, "samples"),
        ({"n_samples": 10**9}, "samples"),
        ({"n_samples": 10, "seed": -1}, "seed"),
        ({"n_samples": 10, "scenario": "x"}, "scenario"),
    ],
)
def test_bad_generate_requests_store_nothing(runtime: Runtime, kwargs: dict, field: str) -> None:
    with pytest.raises(UserInputError, match=field):
        runtime.data.generate(**kwargs)
    assert runtime.store.counts()["datasets"] == 0


def test_training_with_no_data_says_what_to_do(runtime: Runtime) -> None:
    with pytest.raises(UserInputError, match="no incoming samples yet: turn the stream on, send a dataset to the loop"):
        runtime.models.train()


def test_close_waits_for_a_cycle_started_by_run_now(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    for _ in range(3):  # a cycle with a retrain takes long enough for close() to meet it
        rt.loop.set_controls(policy="always", retrain_cooldown_cycles=0)
        assert rt.loop.run_now().accepted
        rt.close()
        rt.__init__(rt.settings)
    cycles = rt.store.cycles()
    assert len(cycles) == 3 and set(cycles["status"]) == {"ok"}
    assert "cycle_error" not in rt.store.notifications()["kind"].tolist()


def test_datasets_are_renamed_tagged_and_deleted_unless_something_needs_them(trained_runtime) -> None:
    rt = trained_runtime
    spare = rt.data.generate(300, seed=4)
    used = rt.data.generate(400, seed=5)
    rt.models.train(dataset_ids=[used.dataset_id])
    saved = rt.data.update(spare.dataset_id, "  spare rows ", ["baseline", "q3"])
    assert saved["name"] == "spare rows" and json.loads(saved["tags"]) == ["baseline", "q3"]
    for bad, field in ((dict(name=""), "name"), (dict(tags="a,b"), "tags"), (dict(tags=["x"] * 11), "tags"), (dict(tags=["a/b"]), "tags")):
        with pytest.raises(UserInputError) as raised:
            rt.data.update(spare.dataset_id, **bad)
        assert raised.value.field == field
    assert rt.store.dataset(spare.dataset_id)["name"] == "spare rows"  # nothing changed by the refusals
    with pytest.raises(UserInputError, match="sent to the loop"):
        rt.data.delete(1)  # the starter: incoming
    with pytest.raises(UserInputError, match=r"training data of v1\.1\.0"):
        rt.data.delete(used.dataset_id)
    assert rt.data.delete(spare.dataset_id) == 300
    assert rt.store.dataset(spare.dataset_id) is None and rt.store.counts()["samples"] == 2000 + 400
    with pytest.raises(UserInputError, match="no dataset"):
        rt.data.delete(spare.dataset_id)
