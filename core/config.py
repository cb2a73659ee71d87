"""One frozen Settings object, built from environment variables with defaults.

Every tunable of the workbench is read here and nowhere else, so docs/settings.md,
the validation messages and the code cannot drift apart. Invalid values fail at
start with a message naming the variable and its limit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKSPACES_DIR = PROJECT_ROOT / "data" / "workspaces"
WORKSPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
DEMO_WORKSPACE = "demo"  # the data folder itself, as the switcher, the API and the alerts name it
WORKSPACE_RULE = "a workspace name is 1 to 64 letters, digits, - or _, starting with a letter or digit"
POLICIES = ("challenge", "approve", "drift", "always", "never", "random")
GATE_METRICS = ("accuracy", "f1", "roc_auc", "precision", "recall")


class SettingsError(ValueError):
    """A setting from the environment is malformed or out of range."""


def _env(name: str, default: str, help_text: str, **limits: object) -> object:
    return field(default=None, metadata={"env": name, "default": default, "help": help_text, **limits})


@dataclass(frozen=True)
class Settings:
    """Workbench configuration. Field metadata holds the variable name and limits."""

    workspace: str = _env(
        "IA_WORKSPACE", "", "Workspace to open: a folder of the workspaces folder made by make workspace (empty or demo = the demo)"
    )
    workspaces_dir: Path = _env(
        "IA_WORKSPACES_DIR", "", "Folder of the named workspaces (default data/workspaces, or <IA_DATA_DIR>/workspaces)"
    )
    data_dir: Path = _env(
        "IA_DATA_DIR", "", "The demo's folder (DuckDB file, MLflow store, artifacts; default data/); a named workspace has its own"
    )
    duckdb_path: Path = _env("IA_DUCKDB_PATH", "", "DuckDB file (default <data dir>/ia_continu.duckdb)")
    mlflow_tracking_uri: str = _env("MLFLOW_TRACKING_URI", "", "MLflow store (default sqlite:///<data dir>/mlflow.db)")
    mlflow_artifacts_dir: Path | None = _env(
        "IA_MLFLOW_ARTIFACTS_DIR", "", "Model artifacts (default <data dir>/mlartifacts; with an http(s) tracking URI, the server's store)"
    )
    experiment_name: str = _env("IA_EXPERIMENT_NAME", "ia-continu", "MLflow experiment")
    registered_model_name: str = _env("IA_REGISTERED_MODEL", "ia-continu-classifier", "MLflow registered model")
    mlflow_ui_url: str = _env(
        "IA_MLFLOW_UI_URL", "", "Address of an MLflow UI on the same store (e.g. http://127.0.0.1:5000): versions link to their runs"
    )
    discord_webhook_url: str = _env("DISCORD_WEBHOOK_URL", "", "Discord webhook; empty = alerts stored, not sent")
    api_enabled: bool = _env("IA_API_ENABLED", "true", "Start the REST API beside the dashboard")
    api_host: str = _env("API_HOST", "127.0.0.1", "Address the REST API listens on (not loopback: IA_API_TOKEN required)")
    api_port: int = _env("API_PORT", "8000", "Port the REST API listens on (the dashboard's is make run UI_PORT=, 8501)", min=1, max=65535)
    api_token: str = _env("IA_API_TOKEN", "", "Bearer token every mutating API call must carry; empty = none (loopback only)")
    replica_poll_seconds: float = _env(
        "IA_REPLICA_POLL_SECONDS", "5", "How often a serving replica (make serve) checks the registry's @champion", min=0.2, max=3600.0
    )
    workbench_url: str = _env(
        "IA_WORKBENCH_URL", "", "Workbench API a replica forwards its prediction log to (e.g. http://workbench:8000; empty = not kept)"
    )
    workbench_token: str = _env("IA_WORKBENCH_TOKEN", "", "The workbench's IA_API_TOKEN, for a replica's forwarding (default IA_API_TOKEN)")
    replica_name: str = _env("IA_REPLICA_NAME", "", "A replica's name on the rows it forwards (default the host name)")
    replica_batch_rows: int = _env(
        "IA_REPLICA_BATCH_ROWS",
        "10000",
        "Predictions a replica gathers into one forwarded batch (or fewer, every IA_PREDICTION_FLUSH_SECONDS)",
        min=1,
        max=1_000_000,
    )
    log_level: str = _env("LOG_LEVEL", "INFO", "Python log level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    n_features: int = _env("IA_N_FEATURES", "2", "Feature columns of a new workspace", min=2, max=50)
    seed: int = _env("IA_SEED", "42", "Seed of the synthetic data, splits and the random policy", min=0)
    starter_model: bool = _env("IA_STARTER_MODEL", "true", "Create a starter dataset and model v1.0.0 in an empty workspace")
    starter_rows: int = _env("IA_STARTER_ROWS", "2000", "Rows of the starter dataset", min=100, max=1_000_000)
    training_window: int = _env("IA_TRAINING_WINDOW", "5000", "Most recent labelled samples a training uses", min=50)
    trainings_per_minute: int = _env(
        "IA_TRAININGS_PER_MINUTE", "6", "Trainings people and API clients may start per minute (the loop's own are bounded by the cooldown)",
        min=1, max=10_000,
    )  # fmt: skip
    holdout_fraction: float = _env("IA_HOLDOUT_FRACTION", "0.3", "Share of the window held out for metrics", min=0.05, max=0.5)
    feature_max_abs: float = _env(
        "IA_FEATURE_MAX_ABS", "1e12", "Largest absolute feature value accepted (training overflows past 1e150)", min=1.0, max=1e150
    )
    max_samples_per_request: int = _env("IA_MAX_SAMPLES_PER_REQUEST", "1000000", "Largest generate, import or batch predict", min=1)
    max_upload_mb: float = _env("IA_MAX_UPLOAD_MB", "200", "Largest CSV upload through the API, in MB", min=0.001, max=10_000)
    prediction_flush_rows: int = _env("IA_PREDICTION_FLUSH_ROWS", "500", "Buffered predictions that trigger a flush", min=1)
    prediction_flush_seconds: float = _env("IA_PREDICTION_FLUSH_SECONDS", "1.0", "Longest a prediction waits in the buffer", min=0.05)
    prediction_fsync: bool = _env(
        "IA_PREDICTION_FSYNC", "false", "fsync the prediction journal per prediction (survives power loss, not only kill -9)"
    )
    gate_metric: str = _env("IA_GATE_METRIC", "accuracy", "Metric the promotion gate compares", choices=GATE_METRICS)
    gate_margin: float = _env("IA_GATE_MARGIN", "0.0", "Challenger promoted if metric >= champion's - margin", min=0.0, max=1.0)
    scheduler_interval: float = _env("IA_SCHEDULER_INTERVAL", "30", "Seconds between monitoring cycles", min=1.0, max=86_400.0)
    scheduler_autostart: bool = _env("IA_SCHEDULER_AUTOSTART", "true", "Start the loop with the app")
    policy: str = _env(
        "IA_POLICY", "challenge", "Retrain policy: challenge (a challenger every labelled cycle, promoted when it is credibly better), "
        "approve (the same, a person promotes), drift (retrain on persistent drift), always, never, random", choices=POLICIES,
    )  # fmt: skip
    challenge_every: int = _env(
        "IA_CHALLENGE_EVERY", "0", "Train a challenger on the recent window every N cycles (0 = off)", min=0, max=1_000_000
    )
    retrain_cooldown_cycles: int = _env("IA_RETRAIN_COOLDOWN_CYCLES", "2", "Cycles after a retrain with no retrain", min=0, max=1_000_000)
    drift_persistence: int = _env("IA_DRIFT_PERSISTENCE", "2", "Consecutive dataset-drift cycles before a retrain", min=1, max=10_000)
    stream_enabled: bool = _env("IA_STREAM_ENABLED", "true", "Simulated stream on at first start")
    stream_batch_size: int = _env(
        "IA_STREAM_BATCH_SIZE", "200", "Rows the stream adds per cycle (simulated, or replayed from a dataset)", min=10, max=100_000
    )
    label_delay_cycles: int = _env(
        "IA_LABEL_DELAY_CYCLES", "0", "Cycles the stream's labels (simulated or replayed) arrive after its predictions (0 = with the rows)",
        min=0, max=1000,
    )  # fmt: skip
    max_labels_per_request: int = _env(
        "IA_MAX_LABELS_PER_REQUEST", "100000", "Most labels one feedback request or labels file may carry", min=1, max=1_000_000
    )
    min_retrain_rows: int = _env("IA_MIN_RETRAIN_ROWS", "200", "Fewest post-drift rows a drift retrain trains on", min=20)
    reference_max_rows: int = _env("IA_REFERENCE_MAX_ROWS", "5000", "Largest drift reference (seeded sample)", min=50)
    ks_alpha: float = _env(
        "IA_DRIFT_KS_ALPHA", "0.004", "Family-wise false-alarm rate of the drift test per cycle (KS, Bonferroni)", min=1e-6, max=0.5
    )
    drift_window_batches: int = _env("IA_DRIFT_WINDOW_BATCHES", "3", "Newest batches pooled into the drift test's windows", min=1, max=20)
    drift_min_rows: int = _env(
        "IA_DRIFT_MIN_ROWS",
        "30",
        "Fewest rows a cycle must read to test drift and estimate its accuracy without labels; below it neither is made",
        min=2,
        max=100_000,
    )
    wasserstein_threshold: float = _env(
        "IA_DRIFT_WASSERSTEIN", "0.1", "Effect a drifted feature must also show (Wasserstein / reference std)", min=0.0, max=100.0
    )
    psi_threshold: float = _env(
        "IA_DRIFT_PSI", "0.2", "PSI from which its level reads high (beside the verdict, not part of it)", min=0.0, max=100.0
    )
    psi_warning: float = _env("IA_DRIFT_PSI_WARNING", "0.1", "PSI from which its level reads moderate", min=0.0, max=100.0)
    perf_tolerance: float = _env("IA_PERF_TOLERANCE", "0.05", "Accuracy drop below holdout that is performance drift", min=0.0, max=1.0)
    perf_confidence: float = _env("IA_PERF_CONFIDENCE", "0.95", "Confidence the drop is real (0 = plain comparison)", min=0.0, max=0.999)
    alert_cooldown_seconds: float = _env("IA_ALERT_COOLDOWN_SECONDS", "300", "Identical alerts inside this window are collapsed", min=0.0)
    notify_timeout: float = _env("IA_NOTIFY_TIMEOUT", "5", "Discord request timeout in seconds", min=0.1)
    notify_retries: int = _env("IA_NOTIFY_RETRIES", "3", "Retries after a failed Discord send", min=0, max=10)
    notify_backoff: float = _env("IA_NOTIFY_BACKOFF", "1.0", "First retry delay in seconds, doubled each retry", min=0.0)
    notify_deadline: float = _env("IA_NOTIFY_DEADLINE", "20", "Longest one alert may take, retries included, before it is failed", min=0.5)
    alert_max_age_seconds: float = _env(
        "IA_ALERT_MAX_AGE_SECONDS", "3600", "Alerts left pending by a stop are retried at start if younger, else abandoned", min=0.0
    )
    min_free_mb: float = _env("IA_MIN_FREE_MB", "100", "Free disk space under the data folder below which health is degraded", min=0.0)
    retain_stream_days: float = _env("IA_RETAIN_STREAM_DAYS", "2", "Days of simulated-stream samples kept (0 = all)", min=0.0)
    retain_predictions_days: float = _env("IA_RETAIN_PREDICTIONS_DAYS", "7", "Days of the prediction log kept (0 = all)", min=0.0)
    retain_cycles_days: float = _env("IA_RETAIN_CYCLES_DAYS", "14", "Days of cycles, drift results and sent alerts kept (0 = all)", min=0.0)
    retain_health_days: float = _env("IA_RETAIN_HEALTH_DAYS", "14", "Days of health records kept (0 = all)", min=0.0)
    keep_model_versions: int = _env(
        "IA_KEEP_MODEL_VERSIONS", "20", "Newest versions whose artifacts are kept, besides champion and challenger (0 = all)", min=0
    )
    retention_interval: float = _env("IA_RETENTION_INTERVAL", "600", "Seconds between retention runs and DuckDB checkpoints", min=1.0)
    health_interval: float = _env("IA_HEALTH_INTERVAL", "60", "Seconds between stored health records", min=1.0)
    heartbeat_stale_seconds: float = _env("IA_HEARTBEAT_STALE_SECONDS", "0", "Heartbeat age called stale (0 = 3 intervals + 30 s)", min=0.0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read every field from `environ` (default os.environ); keyword overrides win."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name in overrides:
                values[f.name] = overrides[f.name]
                continue
            raw = environ.get(f.metadata["env"], "").strip() or f.metadata["default"]
            values[f.name] = parse_setting(f, raw)
        return _with_derived_paths(values)

    def describe(self) -> list[dict[str, str]]:
        """Rows for the Operations page: variable, value, help. Secrets masked."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = mask_secret(value) if f.name == "discord_webhook_url" else str(value)
            if f.name in ("api_token", "workbench_token"):
                shown = "(set)" if value else "(not set)"
            rows.append({"variable": f.metadata["env"], "value": shown, "help": f.metadata["help"]})
        return rows

    @property
    def workspace_name(self) -> str:
        """The workspace as people name it: its folder's name, or "demo" for the data folder itself."""
        return self.workspace or DEMO_WORKSPACE

    @property
    def stale_after_seconds(self) -> float:
        return self.heartbeat_stale_seconds or 3 * self.scheduler_interval + 30


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_setting(f: Field, raw: str) -> object:
    """Parse and check one value against its field's type and limits."""
    meta, type_name = f.metadata, f.type
    name = meta["env"]
    if type_name == "bool":
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise SettingsError(f"{name}={raw!r}: expected true or false")
    if type_name in ("int", "float"):
        convert: Callable[[str], float] = int if type_name == "int" else float
        try:
            value = convert(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: expected a number ({type_name})") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(f"{name}={raw!r}: expected a finite number")
        if "min" in meta and value < meta["min"]:
            raise SettingsError(f"{name}={raw!r}: must be at least {meta['min']}")
        if "max" in meta and value > meta["max"]:
            raise SettingsError(f"{name}={raw!r}: must be at most {meta['max']}")
        return value
    if "choices" in meta:
        choices = meta["choices"]
        value = raw.upper() if name == "LOG_LEVEL" else raw.lower()
        if value not in choices:
            raise SettingsError(f"{name}={raw!r}: must be one of {', '.join(choices)}")
        return value
    return raw


def _with_derived_paths(values: dict[str, object]) -> Settings:
    if values["mlflow_ui_url"] and not values["mlflow_ui_url"].startswith(("http://", "https://")):
        raise SettingsError(f"IA_MLFLOW_UI_URL={values['mlflow_ui_url']!r}: must start with http:// or https://")
    if values["workbench_url"] and not values["workbench_url"].startswith(("http://", "https://")):
        raise SettingsError(f"IA_WORKBENCH_URL={values['workbench_url']!r}: must start with http:// or https://")
    if values["psi_warning"] > values["psi_threshold"]:  # the moderate level starts at or below the high one
        raise SettingsError(f"IA_DRIFT_PSI_WARNING={values['psi_warning']:g} is above IA_DRIFT_PSI={values['psi_threshold']:g}: "
                            "the moderate level must not start above the high one")  # fmt: skip
    if values["workspace"] == DEMO_WORKSPACE:  # the name the switcher, the API and the alerts give the data folder itself
        values["workspace"] = ""
    workspace = values["workspace"]
    if workspace and not WORKSPACE_NAME.fullmatch(workspace):
        raise SettingsError(f"IA_WORKSPACE={workspace!r}: {WORKSPACE_RULE}")
    # IA_DATA_DIR is the demo's folder and, unless IA_WORKSPACES_DIR says otherwise, holds the named workspaces: a named
    # workspace is always served from its own folder. (It read IA_DATA_DIR instead, so the image, which sets it, served
    # the demo under a workspace's name.)
    given = values["data_dir"]
    workspaces = values["workspaces_dir"] or (Path(given) / "workspaces" if given else WORKSPACES_DIR)
    values["workspaces_dir"] = Path(workspaces).expanduser().resolve()
    data_dir = values["workspaces_dir"] / workspace if workspace else Path(given or PROJECT_ROOT / "data").expanduser().resolve()
    values["data_dir"] = data_dir
    values["duckdb_path"] = Path(values["duckdb_path"] or data_dir / "ia_continu.duckdb").expanduser().resolve()
    values["mlflow_tracking_uri"] = values["mlflow_tracking_uri"] or f"sqlite:///{data_dir / 'mlflow.db'}"
    artifacts = values["mlflow_artifacts_dir"]
    if not artifacts and values["mlflow_tracking_uri"].startswith(("http://", "https://")):
        values["mlflow_artifacts_dir"] = None  # the tracking server's own artifact store, so replicas elsewhere can load models
    else:
        values["mlflow_artifacts_dir"] = Path(artifacts or data_dir / "mlartifacts").expanduser().resolve()
    return Settings(**values)


def sqlite_path(tracking_uri: str) -> Path | None:
    """The file behind a `sqlite:///` URI, or None for a server or another store."""
    return Path(tracking_uri.removeprefix("sqlite:///")) if tracking_uri.startswith("sqlite:///") else None


def mask_secret(url: str) -> str:
    """Show enough of a webhook to recognise it (host and last four characters), never the token."""
    if not url:
        return "(not set)"
    parts = urlsplit(url)
    host = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "webhook"
    return f"{host}/…{url[-4:]}" if len(url) > 24 else f"{host}/…"
