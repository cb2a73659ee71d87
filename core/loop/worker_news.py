"""What the background worker tells the workspace about itself: its starts and stops, and its errors.

Kept apart from the runtime, which only wires: the worker's news are stored alerts, a start or a stop being
informational (never sent to Discord), a start after an unclean stop (a kill, a crash) a warning, and an error a failure.
"""

from __future__ import annotations

import logging

from core.config import Settings
from core.io.notify import Notifier
from core.services import controls
from core.store import Store

log = logging.getLogger(__name__)
WORKER_LIVE = "scheduler.live"  # "1" from a worker's start to its stop: still set at a start, the one before was not stopped


class WorkerNews:
    def __init__(self, store: Store, notifier: Notifier, settings: Settings) -> None:
        self.store, self.notifier, self.settings = store, notifier, settings

    def error(self, where: str, exc: BaseException) -> None:
        try:
            self.notifier.notify("worker_error", "failure", f"Worker error in {where}", f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("could not record the worker error")

    def state(self, state: str, paused: bool) -> None:
        """A person's action (a start, a stop, a workspace switch) with no consequence for the channel: stored and shown,
        never sent to Discord, but for a start after an unclean stop, which is a warning. A start says when the loop comes back paused, and when the worker before it ended without
        being stopped (the process killed, or the worker crashed): the workspace's mark of a live worker was still set."""
        live = controls.effective_settings(self.settings, self.store)
        description = f"Policy {live.policy}, every {live.scheduler_interval:g} s, stream {'on' if live.stream_enabled else 'off'}."
        if paused:
            description += " Paused as it was left: no scheduled cycle runs until Start (Operations) or PUT /loop; one can be run by hand."
        unclean = state == "started" and self.store.get_setting(WORKER_LIVE) == "1"
        if unclean:
            description += " The worker before it ended without being stopped (the process killed, or the worker crashed)."
        try:
            self.store.set_setting(WORKER_LIVE, "0" if state == "stopped" else "1")
        except Exception:  # a store refusing writes must not stop the worker starting or stopping
            log.exception("could not record the worker's state")
        shown = f"{state} (paused)" if paused else state
        if unclean:  # a loop that died unseen is a failing loop: the channel hears of it (tour 21: "never sent")
            self.notifier.notify("scheduler", "warning", f"Scheduler {shown} after an unclean stop", description, {"Status": shown})
        else:
            self.notifier.notify("scheduler", "info", f"Scheduler {shown}", description, {"Status": shown}, info=True)
