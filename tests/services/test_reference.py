"""The champion's drift reference, read by its one owner: every view shows the rows the drift test used."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from core.actions.models import train_and_gate
from core.ml.window_choice import tail
from core.runtime import Runtime
from core.services.reference import Reference, reference_of


def test_views_of_the_reference_show_exactly_the_rows_the_drift_test_used(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    # A library dataset and an import stored inside the champion's sample-id span must not join its reference.
    champion = rt.store.model(rt.registry.champion_version)
    rt.data.generate(3000, "covariate_shift", 2.0, seed=8)
    rt.models.train(dataset_ids=[1, 2])  # a version whose window spans the library dataset, trained on both
    cycle = rt.loop.run_cycle()
    ref = Reference.from_json(cycle.reference)
    assert ref == reference_of(rt.store, cycle.champion_version)
    tested = rt.pipeline.monitor.rows  # what the cycle's drift test compared with
    shown_ref, shown = rt.insights.reference_sample(cycle.cycle_id)
    assert shown_ref == ref
    assert np.array_equal(shown[rt.store.features].to_numpy(), tested)
    boundary = rt.insights.boundary(cycle.cycle_id, "feature_1", "feature_2")
    merged = boundary.reference.merge(shown, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()  # the cloud is a subset of the tested rows
    assert champion["dataset_ids"] == "[1]"
    detail = rt.insights.cycle_detail(cycle.cycle_id)
    assert detail.reference == ref


def test_the_reference_of_a_champion_trained_while_a_library_dataset_was_stored_leaves_it_out(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    library = rt.data.generate(5000, "covariate_shift", 2.0, seed=3)  # shifted: it would move the histograms
    rt.loop.run_cycle()
    rt.loop.set_controls(policy="always")
    cycle = rt.loop.run_cycle()  # trains on the newest window, which spans the library dataset's ids
    assert cycle.promoted
    ref = reference_of(rt.store, rt.registry.champion_version)
    assert ref.first_sample_id <= library.first_sample_id <= ref.last_sample_id
    assert library.dataset_id not in ref.dataset_ids
    _ref, rows = rt.insights.reference_sample()
    assert len(rows) > 0 and rows["feature_1"].mean() < 1.0  # the library data is shifted by 2 sd
    assert f"dataset{'s' if len(ref.dataset_ids) > 1 else ''} {', '.join(map(str, ref.dataset_ids))}" in ref.describe()


def test_the_reference_names_only_the_datasets_holding_rows_in_its_range(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(policy="never")
    for _ in range(3):
        rt.loop.run_cycle()  # stream batches after the starter dataset
    newest = rt.store.datasets().iloc[0]
    window = tail(rt.store.recent_window(rt.settings.training_window), 200)  # the loop's post-drift window: the newest batch
    trained = train_and_gate(rt.registry, rt.notifier, window, "drop")
    assert trained.decision.promoted and rt.registry.champion_version == trained.version
    assert json.loads(rt.store.model(trained.version)["dataset_ids"]) == [int(newest["dataset_id"])]  # what it trained on
    ref = reference_of(rt.store, trained.version)
    assert newest["first_sample_id"] <= ref.first_sample_id and ref.last_sample_id == newest["last_sample_id"]
    assert ref.dataset_ids == (int(newest["dataset_id"]),)
    assert ref.describe() == (f"the champion's training window, its holdout included (dataset {newest['dataset_id']}, "
                              f"sample ids {ref.first_sample_id:,}–{ref.last_sample_id:,})")  # fmt: skip
    cycle = rt.loop.run_cycle()
    assert rt.insights.cycle_detail(cycle.cycle_id).reference == ref  # the Drift page's caption reads this one
    wide = replace(ref, dataset_ids=(1, 2, 3, int(newest["dataset_id"])))  # a cycle stored with the model's every dataset
    with rt.store.transaction() as tx:
        tx.execute("UPDATE cycles SET reference = ? WHERE cycle_id = ?", [wide.to_json(), cycle.cycle_id])
    assert rt.insights.cycle_detail(cycle.cycle_id).reference == ref


def test_a_moved_reference_does_not_say_the_champion_held_on_when_it_was_promoted() -> None:
    """Tour 9: v1.5.0, promoted from a window reaching back before the drift, had its reference described as "post-drift
    incoming rows the champion held on": it had replaced the champion, not held on. Either way the rows are the same."""
    moved = Reference(5, 11_001, 11_600, None)
    assert moved.describe() == "the post-drift incoming rows, the regime it serves (sample ids 11,001–11,600)"
    assert moved.legend == "Reference (post-drift rows)"
