"""The only module that imports mlflow: runs, registered versions, aliases, loading.

Every call goes through an `MlflowClient` holding this workspace's tracking and registry URIs.
MLflow's fluent API keeps its URIs process-global, and its URI setter also exports
MLFLOW_TRACKING_URI into the process's environment: a process that opens one workspace after
another would then read or write the first one's store. So nothing here sets a global, runs
are made with the client, models are saved to a temporary folder and logged as MLflow 3
logged models, and loading goes from a version's download URI with the URI passed along.
Models are logged with explicit pip requirements: inferring them spawns a subprocess and
costs seconds a model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
import warnings
from contextlib import closing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import mlflow
import mlflow.artifacts
import mlflow.sklearn
import numpy as np
import sklearn
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput, Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature, infer_signature
from mlflow.tracking.context import registry as run_context
from mlflow.types import ColSpec
from mlflow.types import Schema as MlflowSchema
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

from core.config import Settings, sqlite_path
from core.domain.schema import Schema
from core.errors import WorkspaceError

log = logging.getLogger(__name__)

# skops (MLflow's safe format) refuses types it does not know; a table pipeline's one-hot encoder keeps its output dtype.
SKOPS_TRUSTED = ["numpy.dtype"]
SCHEMA_ARTIFACT = "ia_continu_schema.json"  # the workspace's schema beside each model, so a replica serves it without the workspace
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # MLflow's codes for a model or an alias that is not there
EXISTS = ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS")
PIP_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"]


@dataclass(frozen=True)
class LoggedModel:
    version: int
    run_id: str


class Tracker:
    """One experiment and one registered model in one MLflow store, reached through one client."""

    def __init__(self, tracking_uri: str, artifacts_dir: Path | None, experiment_name: str, model_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
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
        """One run with params, metrics and tags, and the workspace's schema as an artifact; the model logged
        under the run (an MLflow 3 logged model) and registered as a new version. A failure ends the run FAILED."""
        context = run_context.resolve_tags()  # who and what logged it (user, source), as MLflow's fluent API records it
        run_id = self.client.create_run(self.experiment_id, tags={**context, **tags}).info.run_id
        try:
            model_id, location = self._log_run(run_id, model, params, metrics, X_example, schema_json, context)
            version = self._register(model_id, location, run_id)
        except BaseException:
            self.client.set_terminated(run_id, status="FAILED")
            raise
        self.client.set_terminated(run_id)
        return LoggedModel(version, run_id)

    def _log_run(
        self, run_id: str, model: object, params: dict, metrics: dict[str, float], X_example: np.ndarray, schema_json: str,
        context: dict[str, str],
    ) -> tuple[str, str]:  # fmt: skip
        """The run's params and metrics (the metrics also on the logged model, as the MLflow UI shows them), its
        schema artifact, and the model saved with its signature and input example: the logged model's id and place."""
        texts = {key: str(value) for key, value in params.items()}
        logged = self.client.create_logged_model(self.experiment_id, name="model", source_run_id=run_id, tags=context, params=texts)
        now = int(time.time() * 1000)
        finite = [Metric(k, float(v), now, 0, model_id=logged.model_id) for k, v in metrics.items() if np.isfinite(v)]
        self.client.log_batch(run_id, metrics=finite, params=[Param(k, v) for k, v in texts.items()])
        self.client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
        if schema_json:
            self.client.log_text(run_id, schema_json, SCHEMA_ARTIFACT)
        with tempfile.TemporaryDirectory(prefix="ia-continu-model-") as folder:
            path = os.path.join(folder, "model")
            save_model(model, path, Model(artifact_path=logged.artifact_location, run_id=run_id, model_uuid=logged.model_id,
                                          model_id=logged.model_id), X_example[:5], _inputs_of(schema_json))  # fmt: skip
            self.client.log_model_artifacts(logged.model_id, path)
        self.client.finalize_logged_model(logged.model_id, "READY")
        return logged.model_id, logged.artifact_location

    def _register(self, model_id: str, location: str, run_id: str) -> int:
        """A new version of our registered model (created on first use) from the logged model. Its source is the
        model's artifact location, which MLflow's SQL registry stores as is: given `models:/<id>`, it would look
        the model up through a client on the process-global tracking URI, another workspace's or none. The logged
        model names its versions in a tag, as MLflow's own registration does, for the UI's link between the two."""
        try:
            self.client.create_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code not in EXISTS:
                raise
        version = self.client.create_model_version(self.model_name, location, run_id=run_id, model_id=model_id).version
        self.client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps([{"name": self.model_name, "version": version}])})
        return int(version)

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
        return load_version(self.client, self.tracking_uri, self.model_name, version)

    def run_links(self, run_ids: list[str], ui_url: str) -> list[str | None]:
        """Each run's page in the MLflow UI at `ui_url` (IA_MLFLOW_UI_URL), or None when no UI address is set."""
        base = ui_url.rstrip("/")
        if not base:
            return [None] * len(run_ids)
        return [f"{base}/#/experiments/{self.experiment_id}/runs/{run_id}" for run_id in run_ids]

    def ui_command(self) -> str:
        """The command that opens the MLflow UI over this store."""
        return f'mlflow ui --backend-store-uri "{self.tracking_uri}" --port 5000'

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
        self.client.set_model_version_tag(self.model_name, str(version), "ia_continu.archived", "true")
        location = self.client.get_model_version_download_uri(self.model_name, str(version))  # the model's own folder
        if location.startswith("file:"):
            path = Path(_local_path(location))
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


def _inputs_of(schema_json: str) -> list[dict[str, object]] | None:
    """The signature's inputs a table's schema states (its columns, types and required flags), None without one."""
    return Schema.from_json(schema_json).signature_inputs() if schema_json else None


def save_model(model: object, path: str, metadata: Model, example: np.ndarray, inputs: list[dict[str, object]] | None = None) -> None:
    """The model in MLflow's format at `path`: its signature and input example, explicit pip requirements,
    probabilities from a pyfunc (a serving replica, `mlflow models serve`) and skops's safe format. A table's
    inputs come from its schema, not from the example: inferred, a column with a null in five rows would be
    optional, and a request leaving it out would pass MLflow and fail in the pipeline."""
    signature = infer_signature(example, model.predict_proba(example))
    if inputs is not None:
        columns = [ColSpec(c["type"], c["name"], required=c["required"]) for c in inputs]
        signature = ModelSignature(inputs=MlflowSchema(columns), outputs=signature.outputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            model, path, mlflow_model=metadata, signature=signature, input_example=example, pip_requirements=PIP_REQUIREMENTS,
            pyfunc_predict_fn="predict_proba", skops_trusted_types=SKOPS_TRUSTED,
        )  # fmt: skip


def load_version(client: MlflowClient, tracking_uri: str, model_name: str, version: int) -> object:
    """A registered version's model, read from where the registry says its files are: a local folder as it is,
    anything else (a tracking server's artifact store) downloaded with this store's URI, never the process's."""
    uri = client.get_model_version_download_uri(model_name, str(version))
    if urlsplit(uri).scheme in ("", "file"):
        return mlflow.sklearn.load_model(_local_path(uri))
    with tempfile.TemporaryDirectory(prefix="ia-continu-model-") as folder:
        return mlflow.sklearn.load_model(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=folder, tracking_uri=tracking_uri))


def _local_path(uri: str) -> str:
    """The folder behind a `file:` URI (or a plain path), as the operating system spells it."""
    return url2pathname(urlsplit(uri).path) if uri.startswith("file:") else uri


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
        model = load_version(self.client, self.tracking_uri, self.model_name, version)
        run_id = self.client.get_model_version(self.model_name, str(version)).run_id
        if not run_id:
            return model, None
        try:
            with tempfile.TemporaryDirectory(prefix="ia-continu-schema-") as folder:
                schema = Path(self.client.download_artifacts(run_id, SCHEMA_ARTIFACT, folder)).read_text()
        except (MlflowException, OSError):
            schema = None
        return model, schema


def check_mlflow_files(settings: Settings, models: int) -> None:
    """MLflow silently creates an empty store where its file is missing; a workspace recording `models` versions
    would then fail later with "Registered Model ... not found". Say so now, with the path."""
    path = sqlite_path(settings.mlflow_tracking_uri)
    if not models or path is None:
        return
    what = f"but the workspace {settings.duckdb_path} records {models} model versions"
    if not path.exists():
        raise WorkspaceError(
            f"The MLflow store {path} is missing, {what}. Restore {path.name} from a backup, or move "
            f"{settings.duckdb_path.name} aside (or set IA_DATA_DIR to an empty folder) to start a fresh workspace."
        )
    if settings.mlflow_artifacts_dir is not None and not settings.mlflow_artifacts_dir.exists():
        raise WorkspaceError(
            f"The model artifact folder {settings.mlflow_artifacts_dir} is missing, {what}. Restore the folder from a "
            "backup, or start a fresh workspace (IA_DATA_DIR); the models cannot be loaded without it."
        )


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
