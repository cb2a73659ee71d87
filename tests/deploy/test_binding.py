"""A plain `streamlit run app.py` (no Makefile, no --server.address) and a plain `python -m core.api` listen on loopback only."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import clean_environ, free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


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


@contextmanager
def _serving(args: list[str], port: int, tmp_path: Path, **env: str) -> Iterator[None]:
    """Start a server with no address given (its default binding), until `port` listens."""
    base = clean_environ()
    base |= {"IA_DATA_DIR": str(tmp_path / "data"), "IA_SCHEDULER_AUTOSTART": "false", "IA_STARTER_MODEL": "false", **env}
    proc = subprocess.Popen(args, cwd=ROOT, env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _listening_addresses(port), interval=0.2, what=f"a listener on port {port}")
        yield
    finally:
        proc.terminate()
        proc.wait(30)


def test_plain_streamlit_run_binds_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    with _serving([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)], port, tmp_path):
        assert _listening_addresses(port) == {"127.0.0.1"}


def test_the_headless_api_binds_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    with _serving([sys.executable, "-m", "core.api"], port, tmp_path, API_PORT=str(port)):
        assert _listening_addresses(port) == {"127.0.0.1"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=10) as reply:
            assert reply.status == 200
