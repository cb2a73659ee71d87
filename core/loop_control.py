"""Starting, pausing and tuning the loop: the run-time controls, the stream, and the scheduler's state.

Every change a door asks for is validated whole before any part is applied, stored in the workspace
(so it survives a restart) and applied to the live scheduler at once.
"""

from __future__ import annotations

from core import controls, datagen, validation
from core.config import Settings
from core.errors import UserInputError
from core.scheduler import Scheduler
from core.store import Store
from core.stream_source import check_stream_source, store_stream_source, stream_source


class LoopControl:
    def __init__(self, store: Store, scheduler: Scheduler, settings: Settings) -> None:
        self.store, self.scheduler, self.settings = store, scheduler, settings

    def live_settings(self) -> Settings:
        """Settings with the user's run-time choices (policy, interval, stream, thresholds) applied."""
        return controls.effective_settings(self.settings, self.store)

    def set_controls(self, **changes: object) -> Settings:
        """Change run-time controls; validated all at once, stored, the interval applied live."""
        controls.update_controls(self.store, **changes)
        live = self.live_settings()
        if "scheduler_interval" in changes:
            self.scheduler.set_interval(live.scheduler_interval)
        return live

    def start(self) -> None:
        self.scheduler.start()
        self.store.set_setting("scheduler.state", "running")

    def pause(self) -> None:
        self.scheduler.pause()
        self.store.set_setting("scheduler.state", "paused")

    def resume(self) -> None:
        self.scheduler.resume()
        self.store.set_setting("scheduler.state", "running")

    def state(self) -> dict[str, object]:
        live = self.live_settings()
        return {
            "state": self.scheduler.state, "interval": self.scheduler.interval, "policy": live.policy,
            "next_run": self.scheduler.next_run.isoformat() if self.scheduler.next_run else None,
            "thresholds": {name: getattr(live, name) for name in controls.CONTROLS if name not in ("policy", "scheduler_interval")},
        }  # fmt: skip

    def update(self, state: object = None, interval: object = None, policy: object = None, thresholds: dict | None = None) -> None:
        """Change the loop from one call: every value is validated before any is applied."""
        changes = dict(thresholds or {})
        if interval is not None:
            changes["scheduler_interval"] = interval
        if policy is not None:
            changes["policy"] = policy
        if state is not None:
            validation.choice(state, "state", ("running", "paused"))
        for name, value in changes.items():
            if not isinstance(value, bool | int | float | str):
                raise UserInputError(name, f"expected a number, a word or true/false, got {validation.shown(value)}")
        if changes:
            self.set_controls(**changes)
        if state == "running":
            self.resume()
        elif state == "paused":
            self.pause()

    def stream_info(self) -> dict[str, object]:
        """The stream as GET /stream and the Operations page show it: the simulator's scenario, or the replay's
        source and position, and the labels' delay."""
        live, stream = self.live_settings(), controls.stream_state(self.store)
        source = stream_source(self.store, live.stream_batch_size)
        return {"enabled": live.stream_enabled, "scenario": stream.scenario, "strength": stream.strength,
                "batch_size": live.stream_batch_size, "since_cycle": stream.since_cycle,
                "label_delay_cycles": live.label_delay_cycles, **source.as_dict()}  # fmt: skip

    def update_stream(
        self, enabled: object = None, scenario: object = None, strength: object = None, batch_size: object = None,
        label_delay_cycles: object = None, source: object = None, position: object = None, at_end: object = None,
    ) -> None:  # fmt: skip
        """Every change validated before any is stored (the replay's source, position and end rule last, as they are
        checked against the datasets)."""
        current = controls.stream_state(self.store)
        changes = {k: v for k, v in (("stream_enabled", enabled), ("stream_batch_size", batch_size),
                                     ("label_delay_cycles", label_delay_cycles)) if v is not None}  # fmt: skip
        if scenario is not None or strength is not None:
            spec = datagen.Scenario(current.scenario if scenario is None else scenario, current.strength if strength is None else strength)
        for name, value in changes.items():
            if not isinstance(value, bool | int | float):
                raise UserInputError(
                    name, f"expected {'true or false' if name == 'stream_enabled' else 'a whole number'}, got {validation.shown(value)}"
                )
        controls.check_controls(**changes)
        replay = source is not None or position is not None or at_end is not None
        checked = check_stream_source(self.store, source, position, at_end) if replay else None
        if changes:
            self.set_controls(**changes)
        if scenario is not None or strength is not None:
            controls.set_stream_scenario(self.store, spec.name, spec.strength)
        if checked is not None:
            store_stream_source(self.store, *checked, at_end)
