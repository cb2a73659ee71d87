"""The champion's drift reference, read by its one owner: every view shows the rows the drift test used."""

from __future__ import annotations

import numpy as np

from core.reference import Reference, reference_of
from core.runtime import Runtime


def test_views_of_the_reference_show_exactly_the_rows_the_drift_test_used(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    # A library dataset and an import stored inside the champion's sample-id span must not join its reference.
    champion = rt.store.model(rt.registry.champion_version)
    rt.generate_dataset(3000, "covariate_shift", 2.0, seed=8)
    rt.train(dataset_ids=[1, 2])  # a version whose window spans the library dataset, trained on both
    cycle = rt.run_cycle()
    ref = Reference.from_json(cycle.reference)
    assert ref == reference_of(rt.store, cycle.champion_version)
    s = rt.live_settings()
    tested = rt.pipeline.monitor.fit(cycle.champion_version, s.reference_max_rows, s.seed).rows  # what the test compared with
    shown_ref, shown = rt.read("reference_sample", cycle.cycle_id)
    assert shown_ref == ref
    assert np.array_equal(shown[rt.store.features].to_numpy(), tested)
    boundary = rt.read("boundary", cycle.cycle_id, "feature_1", "feature_2")
    merged = boundary.reference.merge(shown, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()  # the cloud is a subset of the tested rows
    assert champion["dataset_ids"] == "[1]"
    detail = rt.read("cycle_detail", cycle.cycle_id)
    assert detail.reference == ref


def test_the_reference_of_a_champion_trained_while_a_library_dataset_was_stored_leaves_it_out(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    library = rt.generate_dataset(5000, "covariate_shift", 2.0, seed=3)  # shifted: it would move the histograms
    rt.run_cycle()
    rt.set_controls(policy="always")
    cycle = rt.run_cycle()  # trains on the newest window, which spans the library dataset's ids
    assert cycle.promoted
    ref = reference_of(rt.store, rt.registry.champion_version)
    assert ref.first_sample_id <= library.first_sample_id <= ref.last_sample_id
    assert library.dataset_id not in ref.dataset_ids
    _ref, rows = rt.read("reference_sample")
    assert len(rows) > 0 and rows["feature_1"].mean() < 1.0  # the library data is shifted by 2 sd
    assert f"dataset{'s' if len(ref.dataset_ids) > 1 else ''} {', '.join(map(str, ref.dataset_ids))}" in ref.describe()
