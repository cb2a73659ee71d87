"""One way for a test to wait: for the event it needs, with a generous deadline, never a fixed sleep.

The machines are shared and have two cores: a fixed delay that is long enough on a quiet machine is
too short under load, and an assertion on elapsed time fails for reasons the code under test does
not control. Waiting for the condition itself is as fast as the code and as patient as the machine.
Its deadline, `HANG`, only says the code hangs: a slow machine makes a test slower, never red. A test that
needs the loop to act drives the cycle itself (`Runtime.run_cycle`, `POST /cycles?wait=true`) where it can.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

HANG = 600.0
"""Seconds after which a wait fails: no machine, however busy, takes that long for what the tests wait on."""
HANG_MS = HANG * 1000  # the same, for Playwright's waits


def wait_until(
    condition: Callable[[], T], timeout: float = HANG, interval: float = 0.05, what: str = "the condition",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:  # fmt: skip
    """Call `condition` until it returns something true and return that; fail naming `what` after
    `timeout` seconds. Exceptions of the `ignore` types count as "not yet" (a server still starting)."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except ignore as exc:
            last = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {type(last).__name__}: {last})" if last is not None else ""
            raise AssertionError(f"{what} did not happen within {timeout:g} s{detail}")
        time.sleep(interval)
