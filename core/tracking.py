"""The only module that imports mlflow: runs, registered versions, aliases, loading.

MLflow's tracking URI and active experiment are process-global, so this adapter sets
the URI once and then passes `experiment_id` explicitly; runs are started with the
fluent API only inside one call, which is per thread. Models are logged with explicit
pip requirements: inferring them spawns a subprocess and costs seconds a model.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import warnings
from contextlib import closing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

import mlflow
import mlflow.sklearn
import numpy as np
import sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from core.config import sqlite_path

log = logging.getLogger(__name__)

# skops (MLflow's safe format) refuses types it does not know; a table pipeline's one-hot encoder keeps its output dtype.
SKOPS_TRUSTED = ["numpy.dtype"]
SCHEMA_ARTIFACT = "ia_continu_schema.json"  # the workspace's schema beside each model, so a replica serves it without the workspace
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # MLflow's codes for a model or an alias that is not there
PIP_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"]


@dataclass(frozen=True)
class LoggedModel:
    version: int
    run_id: str


class Tracker:
    """One experiment and one registered model in one MLflow store."""

    def __init__(self, tracking_uri: str, artifacts_dir: Path | None, experiment_name: str, model_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.experiment_id = self._experiment(experiment_name, artifacts_dir)

    def _experiment(self, name: str, artifacts_dir: Path | None) -> str:
        """Ours, created on first use: with a local folder as its artifact location, or, with none (a
        tracking server), the server's default, so every replica that reaches the server can load models."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        if artifacts_dir is None:
            return self.client.create_experiment(name)
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        return self.client.create_experiment(name, artifact_location=artifacts_dir.as_uri())

    def log_model(
        self, model: object, params: dict, metrics: dict[str, float], tags: dict[str, str], X_example: np.ndarray, schema_json: str = ""
    ) -> LoggedModel:
        """One run with params, metrics and tags, and the workspace's schema as an artifact; the model registered as a new version."""
        example = X_example[:5]
        signature = infer_signature(example, model.predict_proba(example))
        with warnings.catch_warnings(), mlflow.start_run(experiment_id=self.experiment_id, tags=tags) as run:
            warnings.simplefilter("ignore")
            mlflow.log_params(params)
            mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
            if schema_json:
                mlflow.log_text(schema_json, SCHEMA_ARTIFACT)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=example,
                pip_requirements=PIP_REQUIREMENTS,
                registered_model_name=self.model_name,
                pyfunc_predict_fn="predict_proba",  # a serving replica (mlflow models serve) returns probabilities too
                skops_trusted_types=SKOPS_TRUSTED,
            )
        return LoggedModel(int(info.registered_model_version), run.info.run_id)

    def set_alias(self, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(self.model_name, alias, str(version))

    def delete_alias(self, alias: str) -> None:
        try:
            self.client.delete_registered_model_alias(self.model_name, alias)
        except MlflowException:
            log.debug("alias %s was not set", alias)

    def alias_version(self, alias: str) -> int | None:
        return alias_version(self.client, self.model_name, alias)

    def load_model(self, version: int) -> object:
        return mlflow.sklearn.load_model(f"models:/{self.model_name}/{version}")

    def ping(self) -> bool:
        """The store answers a query."""
        self.client.get_experiment(self.experiment_id)
        return True

    def check_writable(self, artifacts_dir: Path | None) -> tuple[bool, str]:
        """The store answers and can take a write: a local SQLite file must exist and take a write
        lock (a read-only or immutable file refuses it), and the artifact folder must be writable."""
        self.ping()
        path = sqlite_path(self.tracking_uri)
        if path is not None:
            if not path.exists():
                return False, f"the MLflow store {path} is missing"
            try:
                if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
                    raise sqlite3.OperationalError("the file or its folder is read-only")
                with closing(sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=2)) as conn:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("CREATE TABLE _ia_continu_write_probe (x INTEGER)")  # rolled back: nothing stays
                    conn.rollback()
            except sqlite3.Error as exc:
                return False, f"the MLflow store {path} refuses writes ({exc}): make it and its folder writable"
        if artifacts_dir is not None and self.uses_local_artifacts and not os.access(artifacts_dir, os.W_OK):
            state = "missing" if not artifacts_dir.exists() else "read-only"
            return False, f"the artifact folder {artifacts_dir} is {state}: models cannot be saved"
        return True, "answers, writable"

    @cached_property
    def uses_local_artifacts(self) -> bool:
        """The experiment's artifact location is fixed when it is created: asked once, not at every health check."""
        return self.client.get_experiment(self.experiment_id).artifact_location.startswith("file:")

    def running_runs(self) -> list[str]:
        """Runs of our experiment still RUNNING: at start, only a killed process leaves them so."""
        runs = self.client.search_runs([self.experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000)
        return [r.info.run_id for r in runs]

    def kill_run(self, run_id: str) -> None:
        self.client.set_terminated(run_id, status="KILLED")

    def prune_version(self, version: int) -> str:
        """Tag a version archived and delete its local artifact files (the registry entry and run stay,
        so its metrics and lineage remain browsable); returns what was done."""
        mv = self.client.get_model_version(self.model_name, str(version))
        self.client.set_model_version_tag(self.model_name, str(version), "ia_continu.archived", "true")
        model_id = mv.model_id or mv.source.removeprefix("models:/")
        location = self.client.get_logged_model(model_id).artifact_location if model_id.startswith("m-") else ""
        if location.startswith("file:"):
            path = Path(urlsplit(location).path)
            shutil.rmtree(path, ignore_errors=True)
            return f"artifacts deleted from {path}"
        return "tagged archived (artifacts are on a remote store and were left there)"

    def registered_versions(self) -> list[int]:
        return sorted(int(v.version) for v in self.client.search_model_versions(f"name = '{self.model_name}'", max_results=10_000))


def alias_version(client: MlflowClient, model_name: str, alias: str) -> int | None:
    """The version behind `alias`, None when the model or the alias does not exist; a store that does not answer raises."""
    try:
        return int(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        if exc.error_code in NOT_FOUND:
            return None
        raise


class RegistryReader:
    """A serving replica's read-only view of the registry: it creates no experiment and writes nothing.

    MLflow retries a request to a tracking server that does not answer for minutes by default; a replica
    polls every few seconds and must say at once that the server is down, so its requests are not retried.
    """

    def __init__(self, tracking_uri: str, model_name: str, timeout: float = 10.0) -> None:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(timeout)))
        self.tracking_uri, self.model_name = tracking_uri, model_name
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def alias_version(self, alias: str) -> int | None:
        return alias_version(self.client, self.model_name, alias)

    def load(self, version: int) -> tuple[object, str | None]:
        """The version's model and its workspace schema (JSON; None for a version logged before schemas were)."""
        mv = self.client.get_model_version(self.model_name, str(version))
        model = mlflow.sklearn.load_model(f"models:/{self.model_name}/{version}")
        try:
            schema = mlflow.artifacts.load_text(f"runs:/{mv.run_id}/{SCHEMA_ARTIFACT}")
        except (MlflowException, OSError):
            schema = None
        return model, schema


def seed_store(tracking_uri: str, template: Path) -> bool:
    """Give a new workspace a migrated MLflow sqlite store by copying `template` (made here the first time):
    creating one runs MLflow's migrations, about 4 s, every time. False when the URI is not a new sqlite file."""
    path = sqlite_path(tracking_uri)
    if path is None or path.exists():
        return False
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        making = template.with_name(f"{template.name}.{os.getpid()}.tmp")
        MlflowClient(tracking_uri=f"sqlite:///{making}").search_experiments()
        os.replace(making, template)  # whole or absent, even with two creators at once
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, path)
    return True
