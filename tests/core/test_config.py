from pathlib import Path

import pytest

from core.config import Settings, SettingsError, mask_secret


def test_defaults_put_everything_under_the_data_folder(tmp_path: Path) -> None:
    s = Settings.from_env({"IA_DATA_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path.resolve()
    assert s.duckdb_path == tmp_path.resolve() / "ia_continu.duckdb"
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert s.mlflow_artifacts_dir.parent == tmp_path.resolve()
    assert (s.scheduler_interval, s.n_features, s.policy, s.discord_webhook_url) == (30.0, 2, "challenge", "")


def test_original_variable_names_are_read() -> None:
    env = {
        "MLFLOW_TRACKING_URI": "sqlite:////tmp/x.db",
        "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/abcdef",
        "API_HOST": "0.0.0.0",
        "API_PORT": "9000",
        "LOG_LEVEL": "debug",
    }
    s = Settings.from_env(env)
    assert (s.mlflow_tracking_uri, s.api_host, s.api_port, s.log_level) == ("sqlite:////tmp/x.db", "0.0.0.0", 9000, "DEBUG")
    assert s.discord_webhook_url.endswith("abcdef")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"IA_SCHEDULER_INTERVAL": "-5"}, "IA_SCHEDULER_INTERVAL"),
        ({"IA_DRIFT_KS_ALPHA": "abc"}, "IA_DRIFT_KS_ALPHA"),
        ({"IA_DRIFT_PSI": "nan"}, "IA_DRIFT_PSI"),
        ({"API_PORT": "70000"}, "API_PORT"),
        ({"IA_POLICY": "sometimes"}, "IA_POLICY"),
        ({"IA_STARTER_MODEL": "maybe"}, "IA_STARTER_MODEL"),
        ({"IA_N_FEATURES": "2.5"}, "IA_N_FEATURES"),
        ({"IA_DRIFT_PSI_WARNING": "0.5"}, "IA_DRIFT_PSI_WARNING=0.5 is above IA_DRIFT_PSI=0.2"),  # the moderate level above the high
    ],
)
def test_invalid_values_fail_naming_the_variable(env: dict, named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_settings_are_frozen() -> None:
    s = Settings.from_env({})
    with pytest.raises(AttributeError):
        s.policy = "always"  # type: ignore[misc]


def test_webhook_is_masked_in_descriptions() -> None:
    url = "https://discord.com/api/webhooks/123456789/SECRET-TOKEN-abcd"
    rows = Settings.from_env({"DISCORD_WEBHOOK_URL": url}).describe()
    shown = next(r["value"] for r in rows if r["variable"] == "DISCORD_WEBHOOK_URL")
    assert "SECRET" not in shown and "123456789" not in shown and shown.endswith("abcd")
    assert mask_secret("") == "(not set)"


def test_a_named_workspace_is_served_from_its_own_folder_whatever_the_data_folder(tmp_path: Path) -> None:
    """The image sets IA_DATA_DIR=/data; `-e IA_WORKSPACE=wine` served /data's demo under the name "wine"."""
    s = Settings.from_env({"IA_DATA_DIR": str(tmp_path), "IA_WORKSPACE": "wine"})
    assert s.workspaces_dir == tmp_path / "workspaces" and s.data_dir == tmp_path / "workspaces" / "wine"
    assert s.duckdb_path == s.data_dir / "ia_continu.duckdb" and s.mlflow_tracking_uri == f"sqlite:///{s.data_dir / 'mlflow.db'}"
    elsewhere = Settings.from_env({"IA_DATA_DIR": str(tmp_path), "IA_WORKSPACE": "wine", "IA_WORKSPACES_DIR": str(tmp_path / "ws")})
    assert elsewhere.data_dir == tmp_path / "ws" / "wine"
    demo = Settings.from_env({"IA_DATA_DIR": str(tmp_path)})
    assert demo.data_dir == tmp_path and demo.workspaces_dir == tmp_path / "workspaces"
