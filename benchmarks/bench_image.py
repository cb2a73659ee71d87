"""Image benchmark: what `make image` builds, how long it takes, and how long a container takes to be healthy.

Our path against a bare baseline on the same base, in the same run:
- build, no layer cache, the base already present: `make image` (Containerfile) against a bare Containerfile that
  only installs the same requirements with uv into a venv (no app, no user, no clean-up);
- size: the two images;
- start: a container of our image on a new volume to `/health` 200 (that includes generating the starter data and
  training v1.0.0), the same container stopped and started again, against the same image running a bare
  `python3 -m http.server` (what a container and a Python process cost before any of our code).

Podman, as in tests/deploy/test_containers.py (`IA_TEST_IMAGE_BASE` names a local base where no registry is reachable).
Run: .venv/bin/python -m benchmarks.bench_image [--rounds 3] [--json]   (about six minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.deploy.test_containers import PODMAN, build_flags, make_image, podman_env, run
from tests.servers import free_port, wait_for_url

ROOT = Path(__file__).resolve().parent.parent
IMAGE, BARE = "localhost/ia-continu:bench", "localhost/ia-continu-bare:bench"
BARE_CONTAINERFILE = """ARG BASE=python:3.12-slim
FROM ${BASE}
ARG PIP_CERT=
ARG SSL_CERT_FILE=
RUN if ! command -v python3 >/dev/null 2>&1; then apt-get update && apt-get install -y --no-install-recommends python3 python3-venv; fi
COPY requirements.txt /requirements.txt
RUN python3 -m venv /venv && /venv/bin/python -m pip install uv && /venv/bin/python -m uv pip install --python /venv/bin/python -r /requirements.txt
"""


def _timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def _build(env: dict[str, str], folder: Path) -> dict[str, float]:
    started = time.monotonic()
    built = make_image(env, IMAGE, "--no-cache")
    ours = time.monotonic() - started
    if built.returncode:
        raise RuntimeError(f"make image failed: {built.stderr[-2000:]}")
    (folder / "Containerfile").write_text(BARE_CONTAINERFILE)
    (folder / "requirements.txt").write_bytes((ROOT / "requirements.txt").read_bytes())
    base = [f"--build-arg=BASE={os.environ['IA_TEST_IMAGE_BASE']}"] if os.environ.get("IA_TEST_IMAGE_BASE") else []
    command = ["build", "--no-cache", *build_flags().split(), *base, "-t", BARE, str(folder)]
    bare = _timed(lambda: run(env, *command, timeout=1800))
    return {"ours": ours, "bare": bare}


def _size_mb(env: dict[str, str], image: str) -> float:
    return int(run(env, "image", "inspect", "--format", "{{.Size}}", image).stdout.strip()) / 1e6


def _largest_packages(env: dict[str, str]) -> str:
    command = "du -sm /opt/venv/lib/python3*/site-packages/* | sort -rn | head -6"
    return run(env, "run", "--rm", "--entrypoint", "sh", IMAGE, "-c", command).stdout


def _starts(env: dict[str, str]) -> tuple[float, float]:
    """A new volume to a healthy /health, then a stop and a start on that volume to a healthy /health again."""
    name, volume, api, ui = f"ia-bench-{uuid.uuid4().hex[:8]}", f"ia-bench-{uuid.uuid4().hex[:8]}", free_port(), free_port()
    try:
        cold = _timed(lambda: (run(env, "run", "-d", "--name", name, "--network", "host", "-e", f"API_PORT={api}", "-e", f"UI_PORT={ui}",
                                   "-v", f"{volume}:/data", IMAGE), wait_for_url(f"http://127.0.0.1:{api}/health")))  # fmt: skip
        run(env, "stop", "-t", "30", name)
        warm = _timed(lambda: (run(env, "start", name), wait_for_url(f"http://127.0.0.1:{api}/health")))
        return cold, warm
    finally:
        run(env, "rm", "-f", name, check=False)
        run(env, "volume", "rm", "-f", volume, check=False)


def _bare_start(env: dict[str, str]) -> float:
    name, port = f"ia-bench-bare-{uuid.uuid4().hex[:8]}", free_port()
    try:
        return _timed(lambda: (run(env, "run", "-d", "--name", name, "--network", "host", "--entrypoint", "python3", IMAGE,
                                   "-m", "http.server", str(port)), wait_for_url(f"http://127.0.0.1:{port}/")))  # fmt: skip
    finally:
        run(env, "rm", "-f", name, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="container starts of each kind; medians are reported")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = podman_env(folder)
        build = _build(env, folder)
        sizes = {"ours": _size_mb(env, IMAGE), "bare": _size_mb(env, BARE)}
        print(f"build, no layer cache: ours {build['ours']:.0f} s, bare requirements install {build['bare']:.0f} s "
              f"({build['ours'] / build['bare']:.2f}x)", flush=True)  # fmt: skip
        print(f"size: ours {sizes['ours']:,.0f} MB, bare {sizes['bare']:,.0f} MB ({sizes['ours'] / sizes['bare']:.2f}x)", flush=True)
        print(f"largest packages in our image (MB):\n{_largest_packages(env)}", flush=True)
        cold, warm, bare = [], [], []
        for _round in range(args.rounds):
            started, restarted = _starts(env)
            cold.append(started)
            warm.append(restarted)
            bare.append(_bare_start(env))
            print(
                f"round {_round + 1}: new volume {started:.1f} s, restart {restarted:.1f} s, bare http.server {bare[-1]:.1f} s", flush=True
            )
        run(env, "rmi", "-f", BARE, check=False)
    medians = {name: statistics.median(values) for name, values in (("cold", cold), ("restart", warm), ("bare", bare))}
    print("\n| what | ours (median) | bare baseline (median) | ratio |\n|---|---|---|---|")
    print(f"| build, no layer cache, base present | {build['ours']:.0f} s | requirements only: {build['bare']:.0f} s | "
          f"{build['ours'] / build['bare']:.2f} |")  # fmt: skip
    print(
        f"| image size | {sizes['ours']:,.0f} MB | requirements only, caches left: {sizes['bare']:,.0f} MB | {sizes['ours'] / sizes['bare']:.2f} |"
    )
    for key, label in (("cold", "new volume to a healthy /health"), ("restart", "stop, start to a healthy /health")):
        print(f"| {label} | {medians[key]:.1f} s | `python3 -m http.server` in the image: {medians['bare']:.1f} s | "
              f"{medians[key] / medians['bare']:.1f} |")  # fmt: skip
    if args.json:
        print(json.dumps({"build_s": build, "size_mb": sizes, "cold_s": cold, "restart_s": warm, "bare_s": bare, "engine": PODMAN}))


if __name__ == "__main__":
    main()
