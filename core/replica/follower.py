"""The champion a replica serves, followed in the shared registry.

A poller thread asks the registry for `@champion` every `IA_REPLICA_POLL_SECONDS`. A new version is
loaded on that thread, beside the one in service, and then swapped in with one assignment: a request
already under way finishes on the model it started with, and no request waits for a load. A registry
that does not answer, or has no champion yet, is recorded and said at `/health`; the replica keeps
serving what it has, and serves as soon as a champion exists.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from core.domain.outcomes import version_label
from core.domain.schema import Schema
from core.errors import NoModelError, plain_fault

log = logging.getLogger(__name__)


class Registry(Protocol):
    """What the follower asks of the registry (`core.tracking.RegistryReader`)."""

    def alias_version(self, alias: str) -> int | None: ...

    def load(self, version: int) -> tuple[object, str | None]: ...


@dataclass(frozen=True)
class FollowState:
    version: int | None
    last_poll_at: float | None
    polls: int
    swaps: int
    error: str | None  # why the last poll or load failed, or why there is nothing to serve


class ChampionFollower:
    """The model and schema in service; `champion_version` and `load` are what the predictor asks (`core.services.predictor.Champion`)."""

    def __init__(self, registry: Registry, poll_seconds: float, alias: str = "champion") -> None:
        self.registry, self.poll_seconds, self.alias = registry, poll_seconds, alias
        self.champion_version: int | None = None
        self._schema: Schema | None = None
        self._models: dict[int, object] = {}
        self.polls = self.swaps = 0
        self.last_poll_at: float | None = None
        self.error: str | None = "not asked the registry yet"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            raise NoModelError(f"no champion to serve: {self.error}")
        return self._schema

    def load(self, version: int) -> object:
        try:
            return self._models[version]
        except KeyError:
            raise NoModelError(f"{version_label(version)} is no longer served here") from None

    def start(self) -> None:
        self.poll()
        self._thread = threading.Thread(target=self._run, name="champion-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def state(self) -> FollowState:
        return FollowState(self.champion_version, self.last_poll_at, self.polls, self.swaps, self.error)

    def poll(self) -> bool:
        """Ask the registry once; True when a new champion was swapped in. Never raises."""
        self.polls += 1
        try:
            version = self.registry.alias_version(self.alias)
            self.last_poll_at = time.time()
            if version is None:
                self.error = f"the registry has no @{self.alias} yet (train and promote a model on the workbench)"
                return False
            if version == self.champion_version:
                self.error = None
                return False
            self._swap(version)
            self.error = None
            return True
        except Exception as exc:  # a registry that does not answer, a model that does not load: said at /health
            error = f"the registry could not be read: {plain_fault(exc)[:300]}"
            if error != self.error:  # logged when it starts or changes, not at every poll
                log.warning("champion poll failed: %s", error)
            self.error = error
            return False

    def _swap(self, version: int) -> None:
        model, schema_json = self.registry.load(version)
        schema = Schema.from_json(schema_json) if schema_json else _schema_of_plain(model, version)
        if self._schema is not None and schema != self._schema:
            raise ValueError(f"{version_label(version)} takes other columns than the version served: one replica serves one workspace")
        previous = self.champion_version
        self._models = {v: m for v, m in self._models.items() if v == previous} | {version: model}  # the old one for requests under way
        self._schema = schema
        self.champion_version = version  # the swap: the predictor loads the new version at its next request
        self.swaps += 1
        log.info("serving %s (was %s)", version_label(version), version_label(previous) if previous else "nothing")

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.poll()


def _schema_of_plain(model: object, version: int) -> Schema:
    """A version logged before schemas were written beside models: the synthetic demo's float rows, if that is what it takes."""
    if hasattr(model, "feature_names_in_"):
        raise ValueError(f"{version_label(version)} has no schema artifact (it predates replicas): retrain it on the workbench")
    return Schema.demo(int(model.n_features_in_))
