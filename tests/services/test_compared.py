"""The rows a cycle's drift charts show are the rows each feature's test compared: its batch, or the batches it pooled."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from core import workspaces
from core.domain.features import TARGET
from core.runtime import Runtime
from core.stats.drift import PREDICTED, category_shares
from tests.fixtures import make_settings
from tests.loop.test_replay import WEATHER


def _cycles(rt: Runtime, n: int) -> list[int]:
    rt.loop.set_stream_scenario("covariate_shift", 0.3)  # mild: three batches pooled read stronger than one
    return [rt.loop.run_cycle().cycle_id for _ in range(n)]


def test_a_pooled_test_s_chart_shows_every_batch_it_pooled(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    ids = _cycles(rt, 3)
    drift = rt.store.drift_results(ids[-1]).set_index("feature")
    assert (drift["window_batches"] == 3).all()  # the stream's shift is read pooled (else the test proves nothing)
    compared = rt.insights.compared_rows(ids[-1])
    batches = [rt.insights.cycle_detail(c).batch_range for c in ids]
    expected = pd.concat([rt.insights.batch_sample(*r) for r in batches], ignore_index=True)
    for feature in rt.store.features:
        shown = compared.of(feature)
        assert shown.cycles == tuple(ids) and shown.name == f"Cycles {ids[0]}–{ids[-1]}: 3 batches pooled"
        assert shown.short_name == "3 batches pooled"
        assert len(shown.rows) == drift.loc[feature, "n_current"] == 600
        np.testing.assert_array_equal(shown.rows[feature].to_numpy(), expected[feature].to_numpy())
    assert compared.batch.cycles == (ids[-1],) and compared.batch.name == f"Cycle {ids[-1]} batch" and len(compared.batch.rows) == 200
    assert compared.unread == ()


def test_a_pooled_window_too_large_to_draw_whole_is_named_and_its_batch_drawn(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    ids = _cycles(rt, 3)
    compared = rt.insights.compared_rows(ids[-1], max_rows=300)  # the older batches are read at 100 of their 200 rows
    assert set(compared.unread) == set(rt.store.features) and len(compared.batch.rows) == 200
    assert all(compared.of(f) is compared.batch for f in rt.store.features)


def test_a_test_on_one_batch_shows_that_batch(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    first = _cycles(rt, 1)[0]
    compared = rt.insights.compared_rows(first)
    assert all(compared.of(f) is compared.batch for f in rt.store.features) and compared.batch.cycles == (first,)


def test_inputs_of_served_predictions_are_drawn_with_the_batch_they_were_tested_with(trained_runtime: Runtime) -> None:
    """A cycle's test reads its samples and the inputs of the predictions served since the last cycle; its charts show
    both, even after labels of those predictions came back (they were unlabelled when it tested)."""
    rt = trained_runtime
    rt.loop.set_stream_scenario("covariate_shift", 0.3)
    rt.loop.run_cycle()
    served = rt.predictor.predict_batch(np.random.default_rng(0).normal(loc=6.0, size=(50, 2)))  # far from every batch row
    cycle = rt.loop.run_cycle().cycle_id
    drift = rt.store.drift_results(cycle).set_index("feature")
    assert (drift.loc[rt.store.features, "n_current"] == 250).all()  # the test read them: the chart must too
    rt.feedback.send([{"prediction_id": i, "label": 1} for i in served.prediction_ids[:20]])
    rt.loop.run_cycle()  # reads those labels as samples of its own
    compared = rt.insights.compared_rows(cycle)
    assert compared.unread == ()
    for feature in rt.store.features:
        shown = compared.of(feature).rows[feature]
        assert len(shown) == 250 and (shown > 4.0).sum() >= 45  # the 50 served rows, labels or not
    assert len(compared.batch.rows) == 250


def test_a_label_stored_while_a_cycle_reads_leaves_its_row_where_the_test_and_the_chart_both_see_it(
    trained_runtime: Runtime,
) -> None:
    """The cycle took its last sample, then read the unlabelled served rows while 20 labels were being stored: the
    test left those rows out (any label counted) and the chart put them back (labels up to the last sample), so the
    page called every column unread. Both now cut at the cycle's last sample."""
    rt = trained_runtime
    rt.loop.set_stream_scenario("covariate_shift", 0.3)
    rt.loop.run_cycle()
    served = rt.predictor.predict_batch(np.random.default_rng(0).normal(loc=6.0, size=(50, 2)))
    store, read = rt.store, type(rt.store).prediction_features_since

    def labels_land_meanwhile(*args: object) -> object:  # the store's own read, run once 20 labels are stored
        rt.feedback.send([{"prediction_id": i, "label": 1} for i in served.prediction_ids[:20]])
        return read(store, *args)

    store.prediction_features_since = labels_land_meanwhile
    try:
        cycle = rt.loop.run_cycle().cycle_id
    finally:
        del store.prediction_features_since
    drift = rt.store.drift_results(cycle).set_index("feature")
    compared = rt.insights.compared_rows(cycle)
    assert (drift.loc[rt.store.features, "n_current"] == 250).all() and compared.unread == ()
    assert len(compared.batch.rows) == 250


def test_a_cycle_that_read_only_served_predictions_draws_them(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(stream_enabled=False)
    rt.loop.run_cycle()  # a first cycle reads from its own start: the predictions come after it
    rt.predictor.predict_batch(np.random.default_rng(1).normal(loc=3.0, size=(300, 2)))
    cycle = rt.loop.run_cycle().cycle_id
    assert not rt.store.drift_results(cycle).empty and rt.insights.cycle_detail(cycle).batch_range is None
    compared = rt.insights.compared_rows(cycle)
    assert compared.unread == () and len(compared.batch.rows) == 300
    assert compared.batch.rows[rt.store.features[0]].mean() > 2.0


def test_a_cycle_that_tested_nothing_has_no_compared_rows(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(stream_enabled=False)
    assert rt.insights.compared_rows(rt.loop.run_cycle().cycle_id) is None


def test_the_predicted_classes_chart_shows_the_classes_the_champion_s_test_compared(tmp_path: Path, mlflow_template: Path) -> None:
    """The champion's predicted classes are tested, not stored: predicted again by the cycle's champion on the reference
    and on the rows the test pooled, their shares give the stored test's effect to the last digit."""
    base = make_settings(tmp_path / "base", mlflow_template)
    created = workspaces.create(base, "weather", WEATHER, "weather.csv", workspaces.TableChoice("rain", initial_rows=1000))
    rt = Runtime(replace(workspaces.workspace_settings(base, created.folder), stream_enabled=True, stream_batch_size=200))
    try:
        ids = [rt.loop.run_cycle().cycle_id for _ in range(3)]
        test = rt.store.drift_results(ids[-1]).set_index("feature").loc[PREDICTED]
        on_reference, shown = rt.insights.predicted_classes(ids[-1])
        assert (len(on_reference), len(shown.rows)) == (test["n_reference"], test["n_current"])
        assert shown.cycles == tuple(ids[-int(test["window_batches"]) :])
        classes = sorted(str(c) for c in rt.schema.classes)
        ref, current = (category_shares(f[TARGET].map(lambda i: str(rt.schema.classes[i])).value_counts(), classes)
                        for f in (on_reference, shown.rows))  # fmt: skip
        assert jensenshannon(ref, current) == pytest.approx(test["effect"], abs=1e-12)
        rt.store.cur.execute("UPDATE models SET pruned_at = now() WHERE version = ?", [rt.store.cycle(ids[-1])["champion_version"]])
        assert rt.insights.predicted_classes(ids[-1]) is None  # its model is gone: no chart claims to be its classes
    finally:
        rt.close()


def test_a_category_only_served_predictions_brought_is_in_its_chart(tmp_path: Path, mlflow_template: Path) -> None:
    """A table's categorical column: the category that drifted came with predictions served through the API, and the chart
    of its test shows it (before, the chart was the stream batch's alone and showed no shift under "drifted")."""
    rng = np.random.default_rng(3)
    n = 2_400
    colour = rng.choice(["red", "blue"], size=n)
    x = rng.normal(size=n)
    table = pd.DataFrame({"colour": colour, "x": x, "y": np.where(x + (colour == "red") > 0.5, "yes", "no")})
    base = make_settings(tmp_path / "base", mlflow_template)
    choice = workspaces.TableChoice("y", initial_rows=1_000)
    created = workspaces.create(base, "colours", table.to_csv(index=False).encode(), "colours.csv", choice)
    rt = Runtime(replace(workspaces.workspace_settings(base, created.folder), stream_enabled=True, stream_batch_size=200))
    try:
        rt.loop.run_cycle()
        rt.predictor.predict_batch(pd.DataFrame({"colour": ["green"] * 150, "x": rng.normal(size=150)}), source="api-batch")
        cycle = rt.loop.run_cycle().cycle_id
        test = rt.store.drift_results(cycle).set_index("feature").loc["colour"]
        assert bool(test["drifted"]) and test["n_current"] >= 350
        shown = rt.insights.compared_rows(cycle).of("colour").rows["colour"]
        assert len(shown) == test["n_current"] and (shown == "green").sum() == 150
    finally:
        rt.close()
