"""The container image and the compose stack, built and run for real with Podman (`../shared/containers.md`).

Needs podman (and runc here); skipped without it, except in CI (`IA_REQUIRE_CONTAINERS=1`), where a skip is a
failure. `IA_TEST_IMAGE_BASE` names a local base image when no public registry is reachable (.ci/run makes one with
debootstrap). Every container runs on the host's network (this sandbox has no bridge), each server on its own port.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.servers import clean_environ, free_port, wait_for_url
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("IA_TEST_IMAGE", "localhost/ia-continu:test")
REQUIRED = os.environ.get("IA_REQUIRE_CONTAINERS") == "1"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
TOKEN = "container-test-token"
POLL = 5.0  # the replicas' IA_REPLICA_POLL_SECONDS in the stack: the default


def podman_env(tmp: Path) -> dict[str, str]:
    """This sandbox refuses setrlimit: a containers.conf with no default ulimits (harmless elsewhere)."""
    env = clean_environ()  # compose interpolates from here
    if "CONTAINERS_CONF" not in env:
        conf = tmp / "containers.conf"
        conf.write_text("[containers]\ndefault_ulimits = []\n")
        env["CONTAINERS_CONF"] = str(conf)
    return env


PODMAN = ["podman", *(["--runtime", "runc"] if shutil.which("runc") else [])]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("podman") is None:
        if REQUIRED:
            pytest.fail("podman is missing, and IA_REQUIRE_CONTAINERS=1 (CI) needs the container tests to run")
        pytest.skip("podman is not installed")
    return podman_env(tmp_path_factory.mktemp("podman"))


def run(env: dict[str, str], *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run([*PODMAN, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode:
        raise AssertionError(f"podman {' '.join(args[:3])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def build_flags() -> str:
    """podman build flags for this machine: the host network, and the machine's certificate bundle for package
    downloads when it has one (containers.md)."""
    flags = "--network host"
    if HOST_CA.exists():
        flags += f" --volume {HOST_CA}:/etc/ssl/certs/host-ca.crt:ro --build-arg PIP_CERT=/etc/ssl/certs/host-ca.crt"
        flags += " --build-arg SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt"
    return flags


def make_image(env: dict[str, str], image: str, extra_flags: str = "") -> subprocess.CompletedProcess:
    """`make image` of this checkout, on `IA_TEST_IMAGE_BASE` when that names a local base."""
    args = ["make", "-s", "image", f"ENGINE={' '.join(PODMAN)}", f"IMAGE={image}", f"BUILD_FLAGS={build_flags()} {extra_flags}".strip()]
    if os.environ.get("IA_TEST_IMAGE_BASE"):
        args.append(f"BASE={os.environ['IA_TEST_IMAGE_BASE']}")
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def image(env: dict[str, str]) -> str:
    """The image built from this checkout's Containerfile by `make image` (layers cached by podman between runs)."""
    started = time.monotonic()
    built = make_image(env, IMAGE)
    assert built.returncode == 0, f"make image failed: {built.stdout[-1500:]} {built.stderr[-3000:]}"
    print(f"image {IMAGE} built in {time.monotonic() - started:.0f} s")
    return IMAGE


def exec_in(env: dict[str, str], name: str, command: str) -> str:
    return run(env, "exec", name, "sh", "-c", command, check=False).stdout.strip()


@pytest.fixture
def container(env: dict[str, str], image: str) -> Iterator[dict[str, object]]:
    name, volume = f"ia-test-{uuid.uuid4().hex[:8]}", f"ia-test-data-{uuid.uuid4().hex[:8]}"
    api, ui = free_port(), free_port()
    spec = {"name": name, "volume": volume, "api": f"http://127.0.0.1:{api}", "ui": f"http://127.0.0.1:{ui}"}
    spec["start"] = lambda: run(env, "run", "-d", "--name", name, "--network", "host", "-e", f"API_PORT={api}", "-e", f"UI_PORT={ui}",
                                "-v", f"{volume}:/data", image)  # fmt: skip
    yield spec
    run(env, "rm", "-f", name, check=False)
    run(env, "volume", "rm", "-f", volume, check=False)


def test_the_image_serves_the_dashboard_and_the_api_and_keeps_its_workspace_across_a_restart(
    env: dict[str, str], container: dict[str, object]
) -> None:
    name, api = container["name"], container["api"]
    started = time.monotonic()
    container["start"]()
    wait_for_url(f"{api}/health")
    print(f"cold start to a healthy /health: {time.monotonic() - started:.1f} s")
    assert httpx.get(f"{container['ui']}/_stcore/health", timeout=10).text == "ok"  # the dashboard's server

    token = exec_in(env, name, "cat /data/api-token")
    assert len(token) >= 32
    assert httpx.post(f"{api}/predict", json={"features": [0.5, 1.0]}, timeout=10).status_code == 401  # all interfaces: a token
    auth = {"Authorization": f"Bearer {token}"}
    served = httpx.post(f"{api}/predict", json={"features": [0.5, 1.0]}, headers=auth, timeout=10)
    assert served.status_code == 200 and served.json()["model_version"] == "v1.0.0"
    assert run(env, "healthcheck", "run", name, check=False).returncode == 0  # the image's HEALTHCHECK passes

    assert exec_in(env, name, "id -u") == "10001"  # not root
    assert exec_in(env, name, "command -v gcc cc uv pytest ruff; ls /root/.cache /opt/venv/lib/python3*/site-packages/uv 2>/dev/null") == ""
    loaded_compiled = "import os, mlflow, sklearn, streamlit, core.runtime as r; print(all(os.path.exists(m.__cached__) for m in (mlflow, sklearn, streamlit, r)))"
    assert exec_in(env, name, f"python3 -c '{loaded_compiled}'") == "True"  # bytecode in the image: a start compiles nothing

    trained = httpx.post(f"{api}/retrain", json={"window_rows": 700, "promote": False}, headers=auth, timeout=120).json()
    promoted = httpx.post(f"{api}/models/{trained['model_version']}/promote", headers=auth, timeout=60)
    assert promoted.status_code == 200, promoted.text
    datasets = httpx.get(f"{api}/datasets", timeout=10).json()

    run(env, "stop", "-t", "30", name)
    run(env, "start", name)
    wait_for_url(f"{api}/health")
    health = httpx.get(f"{api}/health", timeout=10).json()
    assert health["components"]["champion"]["detail"] == f"{trained['model_version']} loaded"  # models and champion kept
    after = {d["dataset_id"]: d for d in httpx.get(f"{api}/datasets", timeout=10).json()}
    assert after[datasets[-1]["dataset_id"]] == datasets[-1]  # data kept: the starter as it was, the stream's rows and more
    assert all(after[d["dataset_id"]]["n_rows"] >= d["n_rows"] for d in datasets)
    again = httpx.post(f"{api}/predict", json={"features": [0.5, 1.0]}, headers=auth, timeout=10)  # and the token
    assert again.status_code == 200 and again.json()["model_version"] == trained["model_version"]


class Load:
    """Requests to each replica on threads until stopped: every answer's status, version and id."""

    def __init__(self, urls: list[str]) -> None:
        self.answers: dict[str, list[tuple[int, str, str]]] = {url: [] for url in urls}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._hammer, args=(url,)) for url in urls]
        for thread in self.threads:
            thread.start()

    def _hammer(self, url: str) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                try:
                    reply = client.post("/predict", json={"features": [(i % 11) / 4 - 1, 0.5]})
                    body = reply.json()
                    self.answers[url].append((reply.status_code, body.get("model_version", ""), body.get("prediction_id", "")))
                except httpx.HTTPError as exc:
                    self.answers[url].append((0, type(exc).__name__, ""))
                i += 1

    def count(self) -> int:
        return sum(len(a) for a in self.answers.values())

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


@pytest.fixture
def stack(env: dict[str, str], image: str) -> Iterator[dict[str, str]]:
    project = f"iatest{uuid.uuid4().hex[:6]}"
    ports = {name: str(free_port()) for name in ("MLFLOW", "API", "UI", "REPLICA_1", "REPLICA_2")}
    compose_env = {**env, "IA_IMAGE": image, "IA_API_TOKEN": TOKEN, "IA_REPLICA_POLL_SECONDS": str(POLL), "IA_SCHEDULER_AUTOSTART": "false",
                   **{f"IA_CI_{name}_PORT": port for name, port in ports.items()}}  # fmt: skip
    compose = [str(Path(sys.executable).parent / "podman-compose"), "--podman-args", " ".join(PODMAN[1:]), "-p", project,
               "-f", str(ROOT / "compose.yaml"), "-f", str(ROOT / "compose.ci.yaml")]  # fmt: skip
    up = subprocess.run([*compose, "up", "-d"], env=compose_env, capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stderr[-3000:]
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    yield {"project": project, **urls}
    subprocess.run([*compose, "down", "-v", "-t", "10"], env=compose_env, capture_output=True, text=True, timeout=300)


def champion_of(url: str) -> str:
    return httpx.get(f"{url}/health", timeout=10).json()["components"]["champion"]["detail"]


def test_the_compose_stack_serves_the_champion_on_two_replicas_follows_a_promotion_and_logs_every_prediction_once(
    env: dict[str, str], stack: dict[str, str]
) -> None:
    api, replicas, project = stack["API"], [stack["REPLICA_1"], stack["REPLICA_2"]], stack["project"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    wait_for_url(f"{api}/health")
    alias = httpx.get(f"{stack['MLFLOW']}/api/2.0/mlflow/registered-models/alias",
                      params={"name": "ia-continu-classifier", "alias": "champion"}, timeout=10).json()  # fmt: skip
    assert alias["model_version"]["version"] == "1"  # the workbench trained and registered on the tracking server
    for url in replicas:
        wait_for_url(f"{url}/health")
        assert champion_of(url) == "serving v1.0.0"

    load = Load(replicas)
    try:
        wait_until(lambda: load.count() > 200, what="load on both replicas")
        trained = httpx.post(f"{api}/retrain", json={"window_rows": 700, "promote": False}, headers=auth, timeout=120).json()
        label = trained["model_version"]
        assert httpx.post(f"{api}/models/{label}/promote", headers=auth, timeout=60).status_code == 200
        for url in replicas:  # within two polls, counted in test_replicas: here, that both replicas of the stack follow
            wait_until(lambda url=url: champion_of(url) == f"serving {label}", what=f"{url} to serve {label}")

        seen = load.count()
        run(env, "kill", "--signal", "KILL", f"{project}_workbench_1")  # the workbench dies mid-load
        wait_until(lambda: load.count() > seen + 300, what="the replicas to serve on while the workbench is down")
        if "running" not in run(env, "inspect", "--format", "{{.State.Status}}", f"{project}_workbench_1").stdout:
            run(env, "start", f"{project}_workbench_1")
        wait_for_url(f"{api}/health")
        seen = load.count()
        wait_until(lambda: load.count() > seen + 200, what="load after the restart")
    finally:
        load.finish()

    for url, answers in load.answers.items():
        assert [a for a in answers if a[0] != 200] == [], url  # zero failed requests
        versions = [a[1] for a in answers]
        assert versions[0] == "v1.0.0" and versions[-1] == label
    acknowledged = {url: {a[2] for a in answers} for url, answers in load.answers.items()}
    total = sum(len(ids) for ids in acknowledged.values())

    def held() -> int:
        return sum(r["predictions"] for r in httpx.get(f"{api}/replicas", timeout=30).json()["replicas"])

    wait_until(lambda: held() >= total, what="every acknowledged prediction on the workbench")
    run(env, "stop", "-t", "30", f"{project}_workbench_1")
    volume = run(env, "volume", "inspect", "--format", "{{.Mountpoint}}", f"{project}_ia-data").stdout.strip()
    with duckdb.connect(str(Path(volume) / "ia_continu.duckdb"), read_only=True) as db:
        rows = db.execute("SELECT replica, prediction_id FROM predictions WHERE replica IS NOT NULL").fetchall()
    by_replica = {name: [pid for r, pid in rows if r == name] for name in ("replica-1", "replica-2")}
    for name, url in zip(("replica-1", "replica-2"), replicas, strict=True):
        ids = by_replica[name]
        assert len(ids) == len(set(ids)) and set(ids) == acknowledged[url], name  # exactly once, named by its replica
    print(json.dumps({"requests": total}))
