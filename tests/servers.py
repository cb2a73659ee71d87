"""Helpers for tests that start a server of their own (the app, the API, a replica, a container): wait for it to
answer, give it a clean environment, find it a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import urllib.error
import urllib.request

from tests.waiting import HANG, wait_until


def wait_for_url(url: str, process: subprocess.Popen | None = None, timeout: float = HANG, any_status: bool = False) -> None:
    """Return once `url` answers 200 (with `any_status`, any HTTP answer: the server is up); fail at once,
    with the tail of its stderr when piped, if `process` ends first, and after `timeout` seconds."""

    def answered() -> bool:
        if process is not None and process.poll() is not None:
            tail = process.stderr.read()[-3000:] if process.stderr else ""
            raise AssertionError(f"{process.args[:4]} ended with {process.returncode} before {url} answered {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200 or any_status
        except urllib.error.HTTPError:
            return any_status
        except OSError:
            return False

    wait_until(answered, timeout, what=f"an answer from {url}")


def clean_environ() -> dict[str, str]:
    """This process's environment without our settings and MLflow's, for a server a test starts: MLflow's
    `set_tracking_uri` exports MLFLOW_TRACKING_URI here for whatever store another test opened."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "IA_", "API_"))}


def free_port() -> int:
    """A port nothing listens on now, on loopback, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
