"""The rows a cycle's drift charts show are the rows each feature's test compared: its batch, or the batches it pooled."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.runtime import Runtime


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


def test_rows_the_store_cannot_give_back_are_named_and_the_batch_is_shown(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_stream_scenario("covariate_shift", 0.3)
    rt.loop.run_cycle()
    rt.predictor.predict_batch(np.random.default_rng(0).normal(size=(50, 2)))  # served inputs join the next test, not the samples
    cycle = rt.loop.run_cycle().cycle_id
    assert (rt.store.drift_results(cycle)["n_current"] > 200).any()
    compared = rt.insights.compared_rows(cycle)
    assert set(compared.unread) == set(rt.store.features)
    assert all(compared.of(f) is compared.batch for f in rt.store.features) and len(compared.batch.rows) == 200


def test_a_cycle_that_tested_nothing_has_no_compared_rows(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    rt.loop.set_controls(stream_enabled=False)
    assert rt.insights.compared_rows(rt.loop.run_cycle().cycle_id) is None
