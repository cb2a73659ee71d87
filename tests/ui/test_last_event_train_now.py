"""The Overview's last event is the newest of everything that changed what is served or what the loop did: a loop
cycle, and also a training a person asked for (Train now, POST /retrain) with what its gate decided, and the changes
made by hand. A promotion by Train now used to leave an older loop event on screen."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.api import create_app
from core.runtime import get_runtime
from tests.ui.test_pages import button, open_page, workspace  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.usefixtures("workspace")  # a fresh app workspace for every test here


def _last_event(at) -> str:
    (said,) = [box.value for box in [*at.info, *at.warning, *at.success, *at.error] if "Last event" in box.value]
    return said


def test_a_promotion_by_train_now_is_the_overviews_last_event_after_a_loop_event() -> None:
    rt = get_runtime()
    rt.loop.set_controls(perf_tolerance=1.0)  # feature drift alone: an informational loop event, no retrain
    rt.loop.run_cycle()
    rt.loop.set_stream_scenario("covariate_shift", 1.5)
    drifted = rt.loop.run_cycle()
    assert drifted.dataset_drift and rt.registry.champion_version == 1
    assert f"Open cycle {drifted.cycle_id} in full" in [link.proto.label for link in open_page().get("page_link")]
    rt.data.generate(2000, "concept_drift", 1.0, seed=3, role="incoming")
    at = open_page("models")
    button(at, "Train now").click().run()
    assert not at.exception and not at.error and rt.registry.champion_version == 2
    at = open_page()
    said = _last_event(at)
    assert said.startswith("**Last event · New champion v1.1.0 from Train now** ·"), said
    assert "promoted: accuracy" in said  # the gate's reason, with the figures it rested on
    assert any(box.value == said for box in at.success)  # a promotion's box, not the drift's
    assert not any(link.proto.label.startswith("Open cycle") for link in at.get("page_link"))  # no cycle made it


def test_a_training_over_the_api_and_a_rollback_by_hand_each_replace_the_last_event() -> None:
    rt = get_runtime()
    rt.data.generate(2000, "concept_drift", 1.0, seed=3, role="incoming")
    with TestClient(create_app(rt)) as client:
        assert client.post("/retrain", json={"window_rows": 2000}).json()["status"] == "promoted"
    assert _last_event(open_page()).startswith("**Last event · New champion v1.1.0 from POST /retrain** ·")
    rt.data.generate(300, seed=5, role="incoming")
    kept = rt.models.train(promote=False)  # a training a person asked for that changes nothing served is still one
    at = open_page()
    assert _last_event(at).startswith(f"**Last event · Candidate {kept.label} from Train now, kept without promoting** ·")
    (box,) = [box for box in at.info if "Last event" in box.value]  # a candidate's own box: neither a warning nor plain info
    assert box.proto.icon == ":material/inventory_2:"
    rt.models.promote(1)
    assert _last_event(open_page()).startswith("**Last event · Rollback to v1.0.0** ·")


def test_a_challenger_awaiting_approval_is_a_warning_a_person_must_act_on() -> None:
    rt = get_runtime()
    rt.loop.set_controls(policy="approve")
    rt.loop.set_stream_scenario("concept_drift", 1.0)
    for _ in range(10):
        rt.loop.run_cycle()
        at = open_page()
        if "awaits approval" in _last_event(at):
            break
    (box,) = [box for box in at.warning if "Last event" in box.value]
    assert "awaits approval" in box.value and box.proto.icon == ":material/hourglass_top:"
