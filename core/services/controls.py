"""Settings a user changes while the loop runs, stored so they survive a restart.

Each control is a Settings field: the environment gives its first value, the
workspace table keeps the user's choice, and the limits come from the same field
metadata, so a control is validated exactly like its environment variable. The
simulated stream's scenario lives here too.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, fields, replace
from functools import partial

import numpy as np

from core.config import Settings, SettingsError, parse_setting
from core.data import synthetic_stream
from core.domain.validation import shown
from core.errors import UserInputError, every_refusal
from core.store import Store

CONTROLS = (
    "policy",
    "scheduler_interval",
    "retrain_cooldown_cycles",
    "drift_persistence",
    "stream_enabled",
    "stream_batch_size",
    "ks_alpha",
    "wasserstein_threshold",
    "psi_threshold",
    "psi_warning",
    "drift_window_batches",
    "challenge_every",
    "label_delay_cycles",
    "perf_tolerance",
    "gate_margin",
)
_PREFIX = "control."
_FIELDS = {f.name: f for f in fields(Settings)}


@dataclass(frozen=True)
class StreamState:
    scenario: str
    strength: float
    since_cycle: int

    def at_cycle(self, cycle_id: int) -> synthetic_stream.Scenario:
        """The scenario for this cycle; gradual drift grows with the cycles since it was set."""
        return synthetic_stream.Scenario(self.scenario, self.strength, step=max(0, cycle_id - self.since_cycle))


def effective_settings(settings: Settings, store: Store) -> Settings:
    """Environment settings with the user's stored choices applied."""
    stored = store.settings_map()
    changes = {}
    for name in CONTROLS:
        raw = stored.get(_PREFIX + name)
        if raw is not None:
            changes[name] = parse_setting(_FIELDS[name], raw)
    return replace(settings, **changes) if changes else settings


def update_controls(store: Store, live: Settings, **changes: object) -> None:
    """Validate every change first, each alone and then against the others in force (`live`), then store them; a bad
    value changes nothing."""
    parsed = check_controls(**changes)
    if {"psi_warning", "psi_threshold"} & parsed.keys():  # only what was sent: a pair set apart by the environment blocks nothing else
        _check_levels(replace(live, **parsed), parsed)
    for name, value in parsed.items():
        store.set_setting(_PREFIX + name, str(value).lower() if isinstance(value, bool) else str(value))


def _check_levels(after: Settings, changed: dict[str, object]) -> None:
    """PSI's moderate level starts at or below its high one (tour 20: a warning level of 50 over a high one of 0.2 was
    stored, every moderate PSI then read high)."""
    if after.psi_warning > after.psi_threshold:
        field = "psi_warning" if "psi_warning" in changed else "psi_threshold"
        raise UserInputError(field, f"the moderate level (psi_warning {after.psi_warning:g}) must not be above the high one "
                                    f"(psi_threshold {after.psi_threshold:g}): nothing was changed")  # fmt: skip


def check_controls(**changes: object) -> dict[str, object]:
    """The changes parsed and checked against their Settings field's limits, naming every bad one."""
    checked = every_refusal(*(partial(_checked, name, value) for name, value in changes.items()))
    return dict(zip(changes, checked, strict=True))


def _checked(name: str, value: object) -> object:
    if name not in CONTROLS:
        raise UserInputError(name, f"is not a run-time control (one of {', '.join(CONTROLS)})")
    kind = _FIELDS[name].type
    if kind == "bool" and not isinstance(value, bool):  # 1, 0 and "yes" are not true or false
        raise UserInputError(name, f"expected true or false, got {shown(value)}")
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)
    if (kind in ("int", "float") and not number) or (kind == "str" and not isinstance(value, str)):
        raise UserInputError(name, f"expected {expected(name)}, got {shown(value)}")  # "5" is text, as every other door says
    raw = str(value).lower() if isinstance(value, bool) else str(value)
    try:
        return parse_setting(_FIELDS[name], raw)
    except SettingsError as exc:
        raise UserInputError(name, _refusal(_FIELDS[name], str(exc).split(": ", 1)[-1], value)) from None


def _refusal(f: Field, reason: str, value: object) -> str:
    """A number's refusal with its limits and the value sent: "expected a number (float)" said neither, and "must be
    at most 86400.0" did not say the lowest."""
    if f.type not in ("int", "float"):
        return reason
    return f"expected {expected(f.name)}, got {shown(value)}"


def expected(name: str) -> str:
    """What a control takes, as a refusal says it: "true or false", "a whole number from 10 to 10,000"."""
    f = _FIELDS[name]
    if f.type == "bool":
        return "true or false"
    if f.type not in ("int", "float"):
        return "one of " + ", ".join(f.metadata["choices"]) if "choices" in f.metadata else "text"
    meta = f.metadata
    limits = f" from {_limit(meta['min'])} to {_limit(meta['max'])}" if "min" in meta and "max" in meta else ""
    return ("a whole number" if f.type == "int" else "a number") + limits


def _limit(value: float) -> str:
    """A limit as a person writes it: 1,000,000 and 0.000001, not 1e+06 and 1e-06."""
    return f"{int(value):,}" if float(value).is_integer() else np.format_float_positional(float(value), trim="-")


def stream_state(store: Store) -> StreamState:
    stored = store.settings_map()
    return StreamState(
        stored.get("stream.scenario", "stable"), float(stored.get("stream.strength", 1.0)), int(stored.get("stream.since_cycle", 0))
    )


def set_stream_scenario(store: Store, scenario: str, strength: float) -> StreamState:
    """Switch the simulated stream; gradual drift starts growing from the next cycle."""
    synthetic_stream.Scenario(scenario, strength)  # validates both, naming the field
    since = store.last_cycle_id()
    store.set_setting("stream.scenario", scenario)
    store.set_setting("stream.strength", repr(float(strength)))
    store.set_setting("stream.since_cycle", str(since))
    return stream_state(store)
