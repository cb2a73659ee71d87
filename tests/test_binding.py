"""A plain `streamlit run app.py` (no Makefile, no --server.address) and a plain `python -m core.api` listen on loopback only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on `port`, read from the kernel's tables (no traffic sent)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address if width == 32 else socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_plain_streamlit_run_binds_loopback_only_and_so_does_its_api(tmp_path: Path) -> None:
    port, api_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "IA_", "API_"))}
    env |= {
        "IA_DATA_DIR": str(tmp_path / "data"),
        "IA_SCHEDULER_AUTOSTART": "false",
        "IA_STARTER_MODEL": "false",
        "API_PORT": str(api_port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        assert _listening_addresses(port) == {"127.0.0.1"}
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_headless_api_binds_loopback_only(tmp_path: Path) -> None:
    api_port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "IA_", "API_"))}
    env |= {
        "IA_DATA_DIR": str(tmp_path / "data"),
        "IA_SCHEDULER_AUTOSTART": "false",
        "IA_STARTER_MODEL": "false",
        "API_PORT": str(api_port),
    }
    proc = subprocess.Popen([sys.executable, "-m", "core.api"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not _listening_addresses(api_port):
            time.sleep(0.2)
        assert _listening_addresses(api_port) == {"127.0.0.1"}
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/health/live", timeout=10) as reply:
            assert reply.status == 200
    finally:
        proc.terminate()
        proc.wait(30)
