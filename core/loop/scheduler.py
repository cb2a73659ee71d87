"""The background worker: one daemon thread with its own `schedule.Scheduler`.

The thread ticks every fraction of a second: it stamps a heartbeat (so a stalled
worker shows), runs the health job on its own interval, and, while running (not
paused), the monitoring cycle on the cycle interval. Cycles never overlap: the
pipeline's lock is taken without waiting, so "run now" during a cycle is refused
with the reason instead of queued. An exception escaping a cycle is logged and
recorded by the callback, and the next tick goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import schedule

log = logging.getLogger(__name__)
TICK_SECONDS = 0.2


@dataclass(frozen=True)
class RunNowResult:
    accepted: bool
    reason: str


@dataclass(frozen=True)
class SchedulerStatus:
    state: str
    interval: float
    next_run: datetime | None
    heartbeat_age: float | None


class Scheduler:
    """Start, pause, resume, stop, change the interval, run now. Thread-safe; one thread at most.

    `cycle` is called with the trigger while `cycle_lock` is held by the scheduler.
    """

    def __init__(
        self,
        cycle: Callable[[str], object],
        cycle_lock: threading.Lock,
        interval: float,
        *,
        health: Callable[[], object] | None = None,
        health_interval: float = 60.0,
        maintenance: Callable[[], object] | None = None,
        maintenance_interval: float = 600.0,
        on_error: Callable[[str, BaseException], None] | None = None,
        on_state: Callable[[str, bool], None] | None = None,
    ) -> None:
        self._cycle = cycle
        self._cycle_lock = cycle_lock
        self._health = health
        self._on_error = on_error or (lambda _where, _exc: None)
        self._on_state = on_state or (lambda _state, _paused: None)
        self._jobs = schedule.Scheduler()
        self._control = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._paused = False
        self.interval = float(interval)
        self.heartbeat: float | None = None
        self.cycle_started_at: float | None = None
        self.cycles_run = 0
        self._cycle_job = self._jobs.every(self.interval).seconds.do(self._scheduled_cycle)
        if health is not None:
            self._jobs.every(health_interval).seconds.do(self._guarded, "health", health)
        if maintenance is not None:
            self._jobs.every(maintenance_interval).seconds.do(self._guarded, "maintenance", maintenance)

    # state --------------------------------------------------------------------
    @property
    def state(self) -> str:
        if self._thread is None or not self._thread.is_alive():
            return "stopped"
        return "paused" if self._paused else "running"

    @property
    def running_cycle(self) -> bool:
        return self._cycle_lock.locked()

    @property
    def next_run(self) -> datetime | None:
        """In UTC, as every screen labels it: `schedule` keeps the machine's local time (a naive datetime), and on a
        machine not set to UTC the Overview's "next run (UTC)" was hours off."""
        return None if self.state != "running" else self._cycle_job.next_run.astimezone(UTC)

    def heartbeat_age(self) -> float | None:
        return None if self.heartbeat is None else time.time() - self.heartbeat

    # controls -------------------------------------------------------------------
    def status(self) -> SchedulerStatus:
        return SchedulerStatus(self.state, self.interval, self.next_run, self.heartbeat_age())

    def start(self, paused: bool = False) -> bool:
        """Start the worker (paused: heartbeat and health only); False if it was already alive."""
        with self._control:
            if self._thread is not None and self._thread.is_alive():
                self._paused = paused
                return False
            self._stop.clear()
            self._paused = paused
            self._cycle_job.next_run = datetime.now()  # first cycle soon after start, then every interval
            self._thread = threading.Thread(target=self._loop, name="ia-continu-scheduler", daemon=True)
            self._thread.start()
        self._on_state("started", paused)
        return True

    def pause(self) -> None:
        with self._control:
            self._paused = True

    def resume(self) -> None:
        with self._control:
            if self.state == "stopped":
                self.start()
                return
            self._paused = False
            self._cycle_job.next_run = datetime.now()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the cycle under way (if any) and join the thread."""
        with self._control:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return
            self._stop.set()
        thread.join(timeout)
        self._on_state("stopped", False)

    def set_interval(self, seconds: float) -> None:
        """Reschedule the cycle job; the next run is one new interval after the last one."""
        if seconds < 1:
            raise ValueError("interval must be at least 1 second")
        with self._control:
            self._jobs.cancel_job(self._cycle_job)
            self.interval = float(seconds)
            self._cycle_job = self._jobs.every(self.interval).seconds.do(self._scheduled_cycle)

    def run_now(self, trigger: str = "manual") -> RunNowResult:
        """Run a cycle at once on its own thread, unless one is under way."""
        if not self._cycle_lock.acquire(blocking=False):
            since = f" (started {time.time() - self.cycle_started_at:.0f} s ago)" if self.cycle_started_at else ""
            return RunNowResult(False, f"A cycle is already running{since}: wait for it to finish.")
        # The lock is handed to the thread, so no scheduled cycle can slip in between.
        thread = threading.Thread(target=self._run_cycle, args=(trigger, True), name="ia-continu-run-now", daemon=True)
        thread.start()
        return RunNowResult(True, "Cycle started.")

    # the worker -------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self.heartbeat = time.time()
            try:
                with self._control:
                    due = [job for job in self._jobs.jobs if job.should_run]
                for job in due:
                    if job is self._cycle_job and self._paused:
                        job.next_run = datetime.now() + timedelta(seconds=self.interval)
                        continue
                    job.run()
            except Exception as exc:  # the worker must outlive any bug in a job
                log.exception("scheduler tick failed")
                self._on_error("scheduler", exc)
            self._stop.wait(TICK_SECONDS)

    def _scheduled_cycle(self) -> None:
        self._run_cycle("schedule")

    def _run_cycle(self, trigger: str, locked: bool = False) -> None:
        """Run the cycle callable holding the cycle lock (taken here unless handed over)."""
        if not locked and not self._cycle_lock.acquire(blocking=False):
            log.info("%s cycle skipped: a cycle is already running", trigger)
            return
        self.cycle_started_at = time.time()
        try:
            self._guarded("cycle", self._cycle, trigger)
        finally:
            self.cycles_run += 1
            self.cycle_started_at = None
            self._cycle_lock.release()

    def _guarded(self, where: str, fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:
            log.exception("%s failed", where)
            self._on_error(where, exc)
