"""Starting, pausing, running and tuning the loop: the run-time controls, the stream, cycles and maintenance now,
and the scheduler's state.

Every change a door asks for is validated whole before any part is applied, stored in the workspace
(so it survives a restart) and applied to the live scheduler at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from core.config import Settings
from core.data import synthetic_stream
from core.domain import validation
from core.domain.outcomes import CycleRecord, LoopState
from core.errors import UserInputError, every_refusal, refusals_of, together
from core.loop.pipeline import MonitoringPipeline
from core.loop.scheduler import RunNowResult, Scheduler, SchedulerStatus
from core.services import controls
from core.services.health import loop_state
from core.services.reference import Reference
from core.services.stream_source import (
    check_stream_source,
    copies_ahead,
    idle_headline,
    idle_reason,
    store_stream_source,
    stream_source,
)
from core.store import Store

SENT_AS = {"scheduler_interval": "interval"}  # a control PUT /loop takes under another name
THRESHOLDS = tuple(name for name in controls.CONTROLS if name not in ("policy", "scheduler_interval"))  # PUT /loop's thresholds


class LoopControl:
    def __init__(
        self, store: Store, scheduler: Scheduler, pipeline: MonitoringPipeline, settings: Settings,
        maintenance: Callable[[], dict[str, int]],
    ) -> None:  # fmt: skip
        self.store, self.scheduler, self.pipeline, self.settings = store, scheduler, pipeline, settings
        self.maintenance = maintenance

    def run_cycle(self, trigger: str = "manual") -> CycleRecord:
        """One cycle now, on the caller's thread, after any cycle under way (scripts, notebooks, tests, an orchestrator)."""
        return self.pipeline.run_cycle(trigger)

    def run_now(self, trigger: str = "manual") -> RunNowResult:
        """One cycle now on the worker; refused while one runs (the dashboard's button, `manual`, and the API's, `api`)."""
        return self.scheduler.run_now(trigger)

    def run_maintenance(self) -> dict[str, int]:
        """Retention and a checkpoint now (`core.services.retention.run_maintenance`), between cycles."""
        return self.maintenance()

    def worker_status(self) -> SchedulerStatus:
        """The worker: its state, interval, next run and heartbeat."""
        return self.scheduler.status()

    def status(self) -> LoopState:
        """The loop as every door shows it: the worker's state, and whether its cycles fail, since when and why."""
        return loop_state(self.store, self.scheduler.state, self.pipeline.unstored)

    def reference(self) -> Reference | None:
        """The champion's drift reference in force (None before the first model)."""
        champion = self.pipeline.registry.champion_version
        return None if champion is None else self.pipeline.reference(champion)

    def stream_state(self) -> controls.StreamState:
        return controls.stream_state(self.store)

    def set_stream_scenario(self, scenario: str, strength: float) -> controls.StreamState:
        return controls.set_stream_scenario(self.store, scenario, strength)

    def live_settings(self) -> Settings:
        """Settings with the user's run-time choices (policy, interval, stream, thresholds) applied."""
        return controls.effective_settings(self.settings, self.store)

    def set_controls(self, **changes: object) -> Settings:
        """Change run-time controls; validated all at once, stored, the interval applied live."""
        controls.update_controls(self.store, self.live_settings(), **changes)
        live = self.live_settings()
        if "scheduler_interval" in changes:
            self.scheduler.set_interval(live.scheduler_interval)
        return live

    # The store first: a closed workspace's refuses (WorkspaceClosedError) before a worker is started on it (a stale
    # tab's Start, a review of tour 20's fix).
    def start(self) -> None:
        self.store.set_setting("scheduler.state", "running")
        self.scheduler.start()

    def pause(self) -> None:
        self.store.set_setting("scheduler.state", "paused")
        self.scheduler.pause()

    def resume(self) -> None:
        self.store.set_setting("scheduler.state", "running")
        self.scheduler.resume()

    def state(self) -> dict[str, object]:
        live = self.live_settings()
        return {
            "state": self.scheduler.state, "interval": self.scheduler.interval, "policy": live.policy,
            "next_run": self.scheduler.next_run.isoformat() if self.scheduler.next_run else None,
            "thresholds": {name: getattr(live, name) for name in THRESHOLDS},
        }  # fmt: skip

    def update(self, state: object = None, interval: object = None, policy: object = None, thresholds: dict | None = None) -> None:
        """Change the loop from one call: every value is validated before any is applied."""
        with _named_as_sent(SENT_AS if interval is not None else {}):
            self._update(state, interval, policy, thresholds)

    def _update(self, state: object, interval: object, policy: object, thresholds: dict | None) -> None:
        changes = {name: value for name, value in (thresholds or {}).items() if name in THRESHOLDS}  # the rest: refused below
        if interval is not None:
            changes["scheduler_interval"] = interval
        if policy is not None:
            changes["policy"] = policy
        every_refusal(
            *(partial(_threshold, name) for name in thresholds or {}),
            lambda: controls.check_controls(**changes),
            lambda: state is None or validation.choice(state, "state", ("running", "paused")),
        )
        if changes:
            self.set_controls(**changes)
        if state == "running":
            self.resume()
        elif state == "paused":
            self.pause()

    def stream_info(self) -> dict[str, object]:
        """The stream as GET /stream and the Operations page show it: the simulator's scenario, or the replay's
        source and position, the labels' delay, and the labels of rows it served still to come."""
        live, stream = self.live_settings(), controls.stream_state(self.store)
        source = stream_source(self.store, live.stream_batch_size)
        pending, due_by = self.store.pending_labels()
        return {"enabled": live.stream_enabled, "scenario": stream.scenario, "strength": stream.strength,
                "batch_size": live.stream_batch_size, "since_cycle": stream.since_cycle,
                "label_delay_cycles": live.label_delay_cycles, "labels_pending": pending, "labels_due_by": due_by, **source.as_dict(),
                "idle_reason": idle_reason(self.store, live.stream_enabled, source),
                "idle_headline": idle_headline(self.store, live.stream_enabled, source), "copies_ahead": copies_ahead(source)}  # fmt: skip

    def update_stream(
        self, enabled: object = None, scenario: object = None, strength: object = None, batch_size: object = None,
        label_delay_cycles: object = None, source: object = None, position: object = None, at_end: object = None,
    ) -> None:  # fmt: skip
        """Every change validated before any is stored (the replay's source, position and end rule last, as they are
        checked against the datasets)."""
        with _named_as_sent({"stream_enabled": "enabled", "stream_batch_size": "batch_size"}):
            self._update_stream(enabled, scenario, strength, batch_size, label_delay_cycles, source, position, at_end)

    def _update_stream(
        self, enabled: object, scenario: object, strength: object, batch_size: object, label_delay_cycles: object, source: object,
        position: object, at_end: object,
    ) -> None:  # fmt: skip
        current = controls.stream_state(self.store)
        changes = {k: v for k, v in (("stream_enabled", enabled), ("stream_batch_size", batch_size),
                                     ("label_delay_cycles", label_delay_cycles)) if v is not None}  # fmt: skip
        simulated = scenario is not None or strength is not None
        replay = source is not None or position is not None or at_end is not None
        spec, _, checked = every_refusal(
            lambda: synthetic_stream.Scenario(current.scenario if scenario is None else scenario,
                                              current.strength if strength is None else strength) if simulated else None,
            lambda: controls.check_controls(**changes),
            lambda: check_stream_source(self.store, source, position, at_end) if replay else None,
        )  # fmt: skip
        if changes:
            self.set_controls(**changes)
        if spec is not None:
            controls.set_stream_scenario(self.store, spec.name, spec.strength)
        if checked is not None:
            store_stream_source(self.store, *checked, at_end)


def _threshold(name: str) -> None:
    """`name` refused by name when PUT /loop does not take it among its thresholds."""
    if name in THRESHOLDS:
        return
    if name in ("policy", "scheduler_interval"):
        raise UserInputError(f"thresholds.{name}", f"is not a threshold: send it as {SENT_AS.get(name, name)}, beside thresholds")
    raise UserInputError(f"thresholds.{name}", f"is not a threshold (one of {', '.join(THRESHOLDS)})")


@contextmanager
def _named_as_sent(sent: dict[str, str]) -> Iterator[None]:
    """A refusal names the field as the request did: `interval`, not `scheduler_interval`, the setting it changes."""
    try:
        yield
    except UserInputError as refused:
        each = refusals_of(refused)
        if not any(one.field in sent for one in each):
            raise
        renamed = [type(one)(sent[one.field], one.message) if one.field in sent else one for one in each]
        raise together(renamed) from None
