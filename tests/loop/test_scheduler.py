"""The worker thread: one per process, controls, no overlap, survives failures."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta

from core.loop.scheduler import Scheduler
from core.runtime import Runtime
from tests.fixtures import make_settings
from tests.waiting import wait_until


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ia-continu-scheduler"]


def test_many_starts_from_many_threads_make_one_worker() -> None:
    calls: list[str] = []
    scheduler = Scheduler(calls.append, threading.Lock(), 3600)
    threads = [threading.Thread(target=scheduler.start) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(workers()) == 1 and scheduler.state == "running"
    finally:
        scheduler.stop()
    assert workers() == [] and scheduler.state == "stopped"


def test_interval_change_takes_effect_while_running() -> None:
    calls: list[str] = []
    scheduler = Scheduler(calls.append, threading.Lock(), 3600)
    scheduler.start()
    try:
        wait_until(lambda: len(calls) == 1)  # the first cycle runs at start
        ticked = scheduler.heartbeat
        wait_until(lambda: scheduler.heartbeat > ticked)  # the worker looked at its jobs again
        assert len(calls) == 1  # the next one is an hour away
        scheduler.set_interval(1)
        wait_until(lambda: len(calls) >= 3)
        assert set(calls) == {"schedule"} and scheduler.interval == 1.0
    finally:
        scheduler.stop()


def test_run_now_is_refused_during_a_cycle() -> None:
    inside, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_cycle(trigger: str) -> None:
        calls.append(trigger)
        inside.set()
        release.wait(10)

    scheduler = Scheduler(slow_cycle, threading.Lock(), 3600)
    first = scheduler.run_now()
    assert first.accepted and inside.wait(5)
    second = scheduler.run_now()
    assert not second.accepted and "already running" in second.reason and scheduler.running_cycle
    release.set()
    wait_until(lambda: not scheduler.running_cycle)
    assert scheduler.run_now().accepted
    wait_until(lambda: len(calls) == 2)
    assert calls == ["manual", "manual"]


def test_a_cycle_that_raises_is_reported_and_the_next_runs() -> None:
    errors: list[tuple[str, str]] = []
    calls: list[int] = []

    def flaky(_trigger: str) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    scheduler = Scheduler(flaky, threading.Lock(), 1, on_error=lambda where, exc: errors.append((where, str(exc))))
    scheduler.start()
    try:
        wait_until(lambda: len(calls) >= 2)
        assert errors == [("cycle", "boom")] and scheduler.state == "running"
    finally:
        scheduler.stop()


def test_pause_stops_cycles_but_not_the_heartbeat_and_stop_joins() -> None:
    calls: list[str] = []
    states: list[tuple[str, bool]] = []
    scheduler = Scheduler(calls.append, threading.Lock(), 1, on_state=lambda state, paused: states.append((state, paused)))
    scheduler.start()
    wait_until(lambda: len(calls) >= 1)
    scheduler.pause()
    wait_until(lambda: not scheduler.running_cycle)
    seen = len(calls)
    beat = scheduler.heartbeat
    wait_until(lambda: scheduler.heartbeat > beat + 1.5)  # ticks over more than an interval: the cycle fell due, paused
    assert len(calls) == seen and scheduler.state == "paused"
    scheduler.resume()
    wait_until(lambda: len(calls) > seen)
    scheduler.stop()
    assert scheduler.state == "stopped" and workers() == [] and states == [("started", False), ("stopped", False)]
    scheduler.start(paused=True)  # a start that keeps the loop paused says so
    scheduler.stop()
    assert states[2:] == [("started", True), ("stopped", False)]


def test_a_stalled_worker_shows_in_its_heartbeat() -> None:
    release = threading.Event()
    scheduler = Scheduler(lambda _trigger: release.wait(10), threading.Lock(), 3600)
    scheduler.start()
    try:
        wait_until(lambda: scheduler.running_cycle)
        stalled_at = scheduler.heartbeat
        wait_until(lambda: scheduler.heartbeat_age() >= 1.0)  # inside a cycle, the worker does not tick
        assert scheduler.heartbeat == stalled_at
        release.set()
        wait_until(lambda: scheduler.heartbeat > stalled_at)  # and ticks again once the cycle ends
    finally:
        release.set()
        scheduler.stop()


def test_the_runtime_loop_runs_real_cycles_and_stops_cleanly(tmp_path, mlflow_template) -> None:
    settings = make_settings(
        tmp_path / "w", mlflow_template, starter_model=True, scheduler_autostart=True, scheduler_interval=1, health_interval=1
    )
    rt = Runtime(settings)
    try:
        wait_until(lambda: len(rt.store.cycles()) >= 2)
        wait_until(lambda: len(rt.store.health_history()) >= 1)  # the periodic health record
        assert rt.scheduler.state == "running" and rt.health.check().checks["worker"].ok
        refused = None
        with rt.pipeline.lock:  # a cycle "under way"
            refused = rt.loop.run_now()
        assert not refused.accepted
        rt.loop.pause()
        assert rt.store.get_setting("scheduler.state") == "paused"
    finally:
        rt.close()
    assert workers() == []
    again = Runtime(settings)  # paused survives a restart, and no cycle runs on the way up
    try:
        seen = len(again.store.cycles())
        beat = again.scheduler.heartbeat
        wait_until(lambda: again.scheduler.heartbeat is not None and again.scheduler.heartbeat > (beat or 0) + 1.5)
        assert again.scheduler.state == "paused" and len(again.store.cycles()) == seen  # > 1 interval of ticks, no cycle
        titles = again.store.notifications()["title"].tolist()
        assert "Scheduler started" in titles and "Scheduler stopped" in titles
    finally:
        again.close()


def test_the_next_run_is_in_utc_on_a_machine_that_is_not() -> None:
    """`schedule` keeps local time; the Overview and Operations label the next run UTC and /loop gave no zone."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"  # UTC+5:30
    time.tzset()
    scheduler = Scheduler(lambda _trigger: None, threading.Lock(), 3600)
    try:
        scheduler.start()
        wait_until(lambda: scheduler.next_run is not None and scheduler.next_run > datetime.now(UTC) + timedelta(minutes=30))
        ahead = scheduler.next_run - datetime.now(UTC)  # an aware UTC time, an interval ahead
        assert scheduler.next_run.utcoffset() == timedelta(0) and timedelta(minutes=55) < ahead <= timedelta(hours=1)
    finally:
        scheduler.stop()
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()
