"""The only module that imports mlflow: runs, registered versions, aliases, loading.

MLflow's tracking URI and active experiment are process-global, so this adapter sets
the URI once and then passes `experiment_id` explicitly; runs are started with the
fluent API only inside one call, which is per thread. Models are logged with explicit
pip requirements: inferring them spawns a subprocess and costs seconds a model.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

log = logging.getLogger(__name__)

PIP_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"]


@dataclass(frozen=True)
class LoggedModel:
    version: int
    run_id: str


class Tracker:
    """One experiment and one registered model in one MLflow store."""

    def __init__(self, tracking_uri: str, artifacts_dir: Path, experiment_name: str, model_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.experiment_id = self._experiment(experiment_name, artifacts_dir)

    def _experiment(self, name: str, artifacts_dir: Path) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        return self.client.create_experiment(name, artifact_location=artifacts_dir.as_uri())

    def log_model(self, model: object, params: dict, metrics: dict[str, float], tags: dict[str, str], X_example: np.ndarray) -> LoggedModel:
        """One run with params, metrics and tags; the model registered as a new version."""
        example = X_example[:5]
        signature = infer_signature(example, model.predict_proba(example))
        with warnings.catch_warnings(), mlflow.start_run(experiment_id=self.experiment_id, tags=tags) as run:
            warnings.simplefilter("ignore")
            mlflow.log_params(params)
            mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=example,
                pip_requirements=PIP_REQUIREMENTS,
                registered_model_name=self.model_name,
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
        try:
            return int(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            return None

    def load_model(self, version: int) -> object:
        return mlflow.sklearn.load_model(f"models:/{self.model_name}/{version}")

    def ping(self) -> bool:
        """The store answers a query."""
        self.client.get_experiment(self.experiment_id)
        return True
