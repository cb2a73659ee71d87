"""Retention on a real workspace: stream segments, archives that hold exactly what was deleted, pruned versions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from core.errors import UserInputError
from core.runtime import Runtime
from core.services.retention import apply_retention
from core.store import utcnow
from tests.fixtures import make_settings


def run(rt: Runtime, n: int) -> list[dict]:
    return [rt.loop.run_cycle("manual") for _ in range(n)]


def test_stream_batches_join_one_dataset_per_scenario_segment(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    run(rt, 4)
    rt.loop.set_stream_scenario("covariate_shift", 0.5)
    run(rt, 2)
    rt.data.generate(100, seed=5)  # a user's dataset in between starts a new segment after it
    run(rt, 1)
    streams = rt.store.datasets().query("source == 'stream'").sort_values("dataset_id")
    assert streams["n_rows"].tolist() == [800, 400, 200]
    assert streams["scenario"].tolist() == ["stable", "covariate_shift", "covariate_shift"]
    for row in streams.itertuples():
        assert row.last_sample_id - row.first_sample_id + 1 == row.n_rows == len(rt.store.dataset_frame(row.dataset_id))


def test_old_rows_are_archived_to_parquet_then_deleted_and_the_loop_goes_on(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    user = rt.data.generate(300, seed=9)
    run(rt, 5)
    served = [rt.serving.predict([float(i), 0.0]).prediction_id for i in range(30)]
    rt.feedback.send([{"prediction_id": p, "label": 1} for p in served[:4]])
    rt.predictor.flush()
    rt.health.record()
    before = rt.store.counts()
    cycles_before = len(rt.store.cycles(1000))
    moved = apply_retention(rt.store, rt.tracker, rt.settings, now=utcnow() + timedelta(days=30))
    assert moved["samples"] == 5 * 200 and moved["predictions"] == 30 and moved["cycles"] == cycles_before
    assert moved["feedback"] == 4 and rt.store.feedback_count() == 0  # a label goes with its prediction (its row, unread, stays)
    assert moved["health_checks"] >= 1
    after = rt.store.counts()
    assert after["predictions"] == 0 and after["samples"] == before["samples"] - 1000
    assert len(rt.store.dataset_frame(user.dataset_id)) == 300  # a library dataset is the user's: never pruned
    archives = rt.store.archives()
    for kind, n in (("samples", 1000), ("predictions", 30)):
        path = archives[archives["kind"] == kind]["path"].iloc[0]
        assert duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0] == n
    assert rt.store.datasets().query("source == 'stream'")["scenario"].tolist() == ["feedback"]  # only the unread labels' rows
    assert {r.status for r in run(rt, 2)} == {"ok"}  # the loop reads on as before


def test_samples_that_models_in_service_read_are_kept(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(retrain_cooldown_cycles=0)
    rt.loop.set_stream_scenario("concept_drift", 1.0)
    records = run(rt, 4)
    assert any(r.promoted for r in records)
    champion = rt.store.model(rt.registry.champion_version)
    apply_retention(rt.store, rt.tracker, rt.settings, now=utcnow() + timedelta(days=30))
    window = rt.store.read_samples(int(champion["window_first_sample"]), int(champion["window_last_sample"]))
    assert window.n_rows == champion["window_last_sample"] - champion["window_first_sample"] + 1
    assert run(rt, 1)[0].status == "ok"


def test_versions_beyond_the_kept_count_lose_their_files_and_cannot_be_rolled_back(tmp_path: Path, mlflow_template: Path) -> None:
    rt = Runtime(make_settings(tmp_path / "d", mlflow_template, starter_model=True, keep_model_versions=1))
    try:
        for k in range(3):
            rt.data.generate(600, "concept_drift", 0.5 + 0.5 * k, seed=k, role="incoming")
            rt.models.train(window_rows=600)
        champion = rt.registry.champion_version
        moved = apply_retention(rt.store, rt.tracker, replace(rt.settings, retain_stream_days=0))
        pruned = rt.store.models().dropna(subset=["pruned_at"])["version"].tolist()
        assert moved["model_versions"] == len(pruned) >= 1 and champion not in pruned
        assert rt.tracker.client.get_model_version(rt.settings.registered_model_name, str(pruned[0])).tags["ia_continu.archived"] == "true"
        with pytest.raises(UserInputError, match="pruned by retention"):
            rt.models.rollback(pruned[0])
        rt.registry._models.clear()
        assert rt.serving.predict([1.0, 1.0]).model_version == champion  # the champion's files were kept
    finally:
        rt.close()


def test_a_failed_archive_deletes_nothing(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    for i in range(10):
        rt.serving.predict([float(i), 0.0])
    rt.predictor.flush()
    blocker = rt.settings.data_dir / "archive"
    blocker.write_text("a file where the archive folder should be")
    with pytest.raises(Exception):  # noqa: B017 - the OS words it; the point is that nothing is lost
        apply_retention(rt.store, None, replace(rt.settings, retain_stream_days=0), now=utcnow() + timedelta(days=30))
    assert rt.store.counts()["predictions"] == 10
