"""Two workspaces whose registry versions collide (the demo's v1 and a penguins table's v1, one registered-model
name in two MLflow stores), switched back and forth in one process: each serves its own model, refuses the
other's columns with a clear error, and runs cycles that are not errors. Through the runtime the launcher
builds, through the REST API on the same port, and, in test_e2e_switching.py, through a browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import runtime as runtime_module
from core import startup, workspaces
from core.api.errors import problem_of
from core.config import Settings
from core.domain.outcomes import version_label
from core.errors import UserInputError, WorkspaceClosedError, WorkspaceInUseError
from core.runtime import Runtime
from tests.discord_server import FakeDiscord
from tests.fixtures import make_settings
from tests.servers import free_port
from tests.waiting import wait_until

SPECIES = ("Adelie", "Chinstrap", "Gentoo")
PENGUIN = {"island": "Biscoe", "bill_length_mm": 45.1, "bill_depth_mm": 14.5, "flipper_length_mm": 215.0, "body_mass_g": None,
           "sex": "female", "year": 2008}  # fmt: skip
DEMO_ROW = [0.3, -0.1]
ROUNDS = 4
PATHS = ("data_dir", "duckdb_path", "mlflow_tracking_uri", "mlflow_artifacts_dir")


def penguins(n: int, seed: int) -> pd.DataFrame:
    """A penguins-like table: categorical island, sex and year, numeric measures with missing values, three string classes."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, n)
    frame = pd.DataFrame({
        "species": np.array(SPECIES)[kind],
        "island": np.where(kind == 2, "Biscoe", rng.choice(["Dream", "Torgersen", "Biscoe"], n)),
        "bill_length_mm": np.round(np.array([38.8, 48.8, 47.5])[kind] + rng.normal(0, 2.5, n), 1),
        "bill_depth_mm": np.round(np.array([18.3, 18.4, 15.0])[kind] + rng.normal(0, 1.0, n), 1),
        "flipper_length_mm": np.round(np.array([190.0, 196.0, 217.0])[kind] + rng.normal(0, 6.0, n)),
        "body_mass_g": np.round(np.array([3700.0, 3733.0, 5076.0])[kind] + rng.normal(0, 400.0, n), -1),
        "sex": rng.choice(["male", "female"], n).astype(object),
        "year": rng.choice([2007, 2008, 2009], n),
    })  # fmt: skip
    frame.loc[rng.random(n) < 0.05, "body_mass_g"] = np.nan
    frame.loc[rng.random(n) < 0.05, "sex"] = None
    return frame


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Path:
    """A demo data folder holding a penguins workspace made from a file: two workspaces, each with its own v1."""
    data = tmp_path_factory.mktemp("home") / "data"
    base = make_settings(data, mlflow_template)
    path = data.parent / "penguins.csv"
    penguins(400, seed=1).to_csv(path, index=False)
    created = workspaces.create(base, "penguins", path, "penguins.csv", workspaces.TableChoice("species"))
    assert created.champion == "v1.0.0" and created.schema.classes == SPECIES
    return data


@pytest.fixture
def launched(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The process as `make run` starts it on the demo in `home`: its environment, and the Settings it reads from it."""
    for name in [k for k in os.environ if k.startswith(("MLFLOW_", "IA_", "API_"))]:
        monkeypatch.delenv(name)
    environ = {"IA_DATA_DIR": str(home), "IA_API_ENABLED": "false", "IA_SCHEDULER_AUTOSTART": "false", "IA_PREDICTION_FLUSH_SECONDS": "0.05",
               "IA_STREAM_BATCH_SIZE": "100", "LOG_LEVEL": "WARNING"}  # fmt: skip
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(startup, "_chosen", None)
    monkeypatch.setattr(startup, "_demo", None, raising=False)
    runtime_module.close_runtime()
    yield Settings.from_env()
    runtime_module.close_runtime()


def opened(settings: Settings | None = None) -> Runtime:
    """The runtime the launcher builds (the one chosen by the last switch when `settings` is None)."""
    build = startup.start_in_background(settings)
    assert build.finished.wait(240), "the workspace did not open"
    assert build.error is None, build.error
    return runtime_module.get_runtime()


def serves_its_own(rt: Runtime, name: str, seed: int) -> None:
    """The workspace's own columns are predicted by its own v1-numbered model; the other's are refused; a cycle runs."""
    if name == "demo":
        served = rt.serving.predict(DEMO_ROW)
        assert served.prediction in (0, 1) and len(served.probabilities) == 2
        assert rt.predictor.model()[1].n_features_in_ == 2
        with pytest.raises(UserInputError) as refused:
            rt.serving.predict(PENGUIN)
        assert refused.value.field == "features"
    else:
        rt.data.import_csv(penguins(120, seed).to_csv(index=False).encode(), name=f"visit {seed}", role="incoming")
        served = rt.serving.predict(PENGUIN)
        assert served.label in SPECIES and len(served.probabilities) == 3
        with pytest.raises(UserInputError, match="named values"):
            rt.serving.predict(DEMO_ROW)
    record = rt.loop.run_cycle()
    assert record.status == "ok" and record.error is None, f"{name}: {record.error}"
    assert record.rows_seen > 0 and record.champion_version == rt.models.champion_version


def test_two_workspaces_whose_versions_collide_each_serve_their_own_model_switch_after_switch(launched: Settings, home: Path) -> None:
    rt = opened(launched)
    assert rt.settings.data_dir == home and rt.models.champion_version == 1
    serves_its_own(rt, "demo", seed=0)
    for visit in range(ROUNDS):
        for name in ("penguins", "demo"):
            chosen = startup.switch_workspace(rt.settings, name)
            assert not runtime_module.is_built()  # the one left is closed before the next opens
            rt = opened()
            assert rt.settings == chosen and rt.settings.data_dir == (home if name == "demo" else home / "workspaces" / "penguins")
            assert rt.settings.mlflow_tracking_uri == f"sqlite:///{rt.settings.data_dir / 'mlflow.db'}"
            assert rt.settings.scheduler_autostart is False and rt.scheduler.state != "running"  # the launch's settings, carried
            serves_its_own(rt, name, seed=10 + visit)


def test_a_workspace_left_refuses_what_still_reaches_it_and_logs_nothing(launched: Settings, home: Path) -> None:
    """Tour 20: a page drawn before a switch still held the closed runtime, whose model answered and whose journal took
    the prediction. Its doors now refuse (the API says 503: try again on the workspace served)."""
    left = opened(launched)
    startup.switch_workspace(left.settings, "penguins")
    served = opened()
    doors = (lambda: left.serving.predict(DEMO_ROW), lambda: left.store.counts(), lambda: left.feedback.apply(["x"], [0], None),
             left.loop.start, left.loop.resume)  # fmt: skip
    for door in doors:
        with pytest.raises(WorkspaceClosedError, match="another one is served now"):
            door()
    assert left.scheduler.state != "running"  # a stale tab's Start started no worker on the workspace left
    assert not list((home / "journal").glob("*.journal"))  # nothing was journaled in the workspace left
    status, body = problem_of(WorkspaceClosedError())
    assert status == 503 and "nothing was done" in body["error"]
    assert served.serving.predict(PENGUIN).label in SPECIES


def test_building_and_using_a_runtime_leaves_the_process_environment_as_it_was(launched: Settings, tmp_path: Path) -> None:
    import core.tracking  # noqa: F401 - importing MLflow once (its telemetry notes a session id) is not opening a workspace

    before = dict(os.environ)
    rt = Runtime(fresh_demo(launched, tmp_path))
    try:
        rt.serving.predict(DEMO_ROW)
        rt.loop.run_cycle()
        assert rt.registry.load(1) is not None and rt.tracker.registered_versions() == [1]
    finally:
        rt.close()
    assert dict(os.environ) == before


def fresh_demo(settings: Settings, tmp_path: Path) -> Settings:
    """`settings` over an empty demo folder of its own (a migrated MLflow store), with the starter model."""
    folder = tmp_path / "fresh"
    folder.mkdir()
    shutil.copy(settings.workspaces_dir / workspaces.MLFLOW_TEMPLATE, folder / "mlflow.db")
    return replace(settings, **{f: getattr(Settings.from_env({"IA_DATA_DIR": str(folder)}), f) for f in PATHS}, starter_model=True)


def _call(url: str, body: object | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _api_serves(base: str, name: str) -> bool:
    try:
        return _call(f"{base}/workspaces")[1].get("current") == name
    except OSError:
        return False


def test_the_rest_api_on_the_same_port_serves_the_workspace_switched_to(launched: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("IA_API_ENABLED", "true")
    monkeypatch.setenv("API_PORT", str(port))
    base = f"http://127.0.0.1:{port}"
    rt = opened(Settings.from_env())
    own = {"demo": {"features": DEMO_ROW}, "penguins": {"features": PENGUIN}}
    for step, name in enumerate(["demo", *["penguins", "demo"] * ROUNDS]):
        if step:
            startup.switch_workspace(rt.settings, name)
            rt = opened()
        wait_until(lambda name=name: _api_serves(base, name), what=f"the API to serve {name}")
        status, body = _call(f"{base}/predict", own[name])
        assert status == 200, body
        assert body["model_version"] == version_label(rt.models.champion_version)
        assert set(body["probabilities"]) == ({"0", "1"} if name == "demo" else set(SPECIES))
        status, body = _call(f"{base}/predict", own["penguins" if name == "demo" else "demo"])
        assert status == 422 and body["field"] == "features", body


def test_a_switch_is_no_news_for_discord_and_every_alert_names_its_workspace(launched: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each switch stops one scheduler and starts the next: a person's action, stored and shown, never sent. What is
    sent says which workspace it came from: one channel hears every workspace, and both have a v1.1.0."""
    with FakeDiscord() as discord:
        monkeypatch.setenv("DISCORD_WEBHOOK_URL", discord.url)
        monkeypatch.setenv("IA_SCHEDULER_AUTOSTART", "true")
        rt = opened(Settings.from_env())
        tested = []
        for name in ("demo", "penguins", "demo"):
            if name != rt.settings.workspace_name:
                startup.switch_workspace(rt.settings, name)
                rt = opened()
            assert rt.scheduler.state == "running" and rt.settings.workspace_name == name
            rt.notifier.send_test()
            tested.append(name)
            assert rt.notifier.flush(10)
            stored = rt.store.notifications(500).query("kind == 'scheduler'")
            assert "Scheduler started" in stored["title"].tolist() and set(stored["delivery"]) == {"info"}
        runtime_module.close_runtime()
    sent = [payload["embeds"][0] for _at, payload in discord.received]
    assert [e["title"] for e in sent if e["title"].startswith("Scheduler")] == []
    assert [e["footer"]["text"].rsplit(" · workspace ", 1)[-1] for e in sent if e["title"] == "Test message"] == tested
    assert all(e["footer"]["text"].endswith(("workspace demo", "workspace penguins")) for e in sent), sent


def held_by_another_process(path: Path) -> subprocess.Popen:
    """Another process holding a workspace's DuckDB file, as a second app serving it does."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from pathlib import Path; from core.store import Store; "
         f"s = Store(Path({str(path)!r}), 2); print('ready', flush=True); time.sleep(60)"],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_a_switch_to_a_workspace_another_app_holds_is_refused_and_this_one_goes_on_serving(launched: Settings, home: Path) -> None:
    """Tour 13: the switch closed the workspace served (its API and loop with it), then failed to open the other,
    leaving a page with no way back."""
    rt = opened(launched)
    holder = held_by_another_process(home / "workspaces" / "penguins" / "ia_continu.duckdb")
    try:
        with pytest.raises(WorkspaceInUseError, match=rf"in use by another process \(PID {holder.pid}\).*open another workspace"):
            startup.switch_workspace(rt.settings, "penguins")
        assert runtime_module.is_built() and not rt.closed and runtime_module.get_runtime() is rt
        assert startup.chosen_settings() is None  # nothing was chosen: the next page view still opens this one
        serves_its_own(rt, "demo", seed=3)
    finally:
        holder.kill()
        holder.wait()
    startup.switch_workspace(rt.settings, "penguins")  # let go: the same switch now goes through
    assert rt.closed and opened().settings.workspace_name == "penguins"
