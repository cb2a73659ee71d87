"""One serving replica: the champion follower, the predictor over it, and the forwarder of its log.

It opens no DuckDB file and trains nothing: everything it knows of the workspace comes from the
registry (the model and the schema logged beside it), and everything it serves goes back to the
workbench through the forwarder. It is its own `serving`, with the two methods the prediction routes call on a
runtime's (`predict`, `predict_batch`), so the workbench's routes and /predict fast path serve it unchanged.
"""

from __future__ import annotations

import socket
import threading
import time

from core.config import Settings, SettingsError
from core.domain.outcomes import version_label
from core.domain.schema import Schema
from core.errors import NoModelError, UserInputError
from core.replica.follower import ChampionFollower
from core.replica.forwarder import Forwarder, ForwardState
from core.services.health import Check, HealthReport
from core.services.ingest import checked_name
from core.services.predictor import BatchPrediction, Prediction, Predictor
from core.store.journal import Journal


def replica_name(settings: Settings) -> str:
    try:
        return checked_name(settings.replica_name or socket.gethostname(), "IA_REPLICA_NAME")
    except UserInputError as exc:
        raise SettingsError(f"IA_REPLICA_NAME: {exc}") from None


class Replica:
    def __init__(self, settings: Settings) -> None:
        from core.tracking import RegistryReader  # mlflow costs seconds to import: only when a replica is built

        self.settings = settings
        self.name = replica_name(settings)
        self.started_at = time.time()
        self.journal = Journal(settings.data_dir / "replicas" / self.name / "journal", settings.prediction_fsync)
        self.follower = ChampionFollower(RegistryReader(settings.mlflow_tracking_uri, settings.registered_model_name),
                                         settings.replica_poll_seconds)  # fmt: skip
        token = settings.workbench_token or settings.api_token
        self.forwarder = Forwarder(self.journal, settings.workbench_url, token, self.name, lambda: self.follower.schema)
        self.follower.start()
        self.predictor = Predictor(
            self.follower, self.follower, settings.max_samples_per_request, settings.replica_batch_rows,
            settings.prediction_flush_seconds, settings.feature_max_abs, journal=self.journal, writer=self.forwarder,
        )  # fmt: skip
        self.served_rows = 0
        self._served_lock = threading.Lock()  # single rows on the event loop, batches on the thread pool

    @property
    def serving(self) -> Replica:
        return self

    @property
    def schema(self) -> Schema | None:
        """The champion's columns, once it has been read from the registry; None before (a refusal then shows the
        list form, not a 503 for a body that was wrong anyway)."""
        try:
            return self.follower.schema
        except NoModelError:
            return None

    def predict(self, features: object, source: str = "api", prediction_id: object = None) -> Prediction:
        result = self.predictor.predict_one(features, source, prediction_id)
        with self._served_lock:
            self.served_rows += 1
        return result

    def predict_batch(self, rows: object, source: str = "api-batch", prediction_ids: object = None) -> BatchPrediction:
        result = self.predictor.predict_batch(rows, source, prediction_ids)
        with self._served_lock:
            self.served_rows += len(result.proba)
        return result

    def check_health(self) -> HealthReport:
        """Serving needs a champion (required: 503 without one); the registry and forwarding are said, not required, since
        the replica serves on through a registry or workbench outage and its journal keeps what it cannot send yet."""
        follow, sent = self.follower.state(), self.forwarder.state()
        checks = {
            "champion": Check(
                follow.version is not None, f"serving {version_label(follow.version)}" if follow.version else str(follow.error)
            ),
            "registry": Check(follow.error is None, follow.error or f"@champion checked every {self.settings.replica_poll_seconds:g} s"),
            "forwarding": _forwarding(sent),
            "journal": Check(self.predictor.last_flush_error is None, self.predictor.last_flush_error or "writable"),
        }
        return HealthReport(self.started_at, time.time() - self.started_at, checks, None, None, required=("champion", "journal"))

    def close(self) -> None:
        self.follower.stop()
        self.predictor.close()
        self.forwarder.close()


def _forwarding(sent: ForwardState) -> Check:
    if not sent.target:
        return Check(True, "not forwarded (IA_WORKBENCH_URL is empty): the workbench does not see this replica's traffic")
    if sent.error:
        return Check(False, f"{sent.error}; {sent.waiting_segments} batch(es) kept in the journal and retried")
    if sent.refused_segments:  # set aside, not lost: said until someone looks at them
        return Check(False, f"{sent.refused_segments} batch(es) set aside; the last: {sent.last_refusal or 'refused at an earlier run'}")
    return Check(True, f"{sent.sent_rows:,} predictions in {sent.sent_batches:,} batch(es) sent; {sent.waiting_segments} waiting")
