"""The dashboard as a browser test starts it: `make run`'s command on a free port, in a clean environment.

Every browser test serves its own dashboard the same way, so this one helper does it (a module of its own rather
than a test module, so that a test file imports it without importing another file's fixtures and tests).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.servers import clean_environ, free_port, wait_for_url

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def launched(log: Path, settings: Mapping[str, str]) -> Iterator[str]:
    """`make run`'s command (python -m ui.launch) on a free port, stopped afterwards; yields its URL.

    Its environment is this process's without any inherited MLFLOW_*, IA_* or API_* variable (tests.servers.
    clean_environ), plus `settings`; its output goes to the file `log`, opened here and closed once it has stopped.
    """
    port = free_port()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ui.launch", "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=clean_environ() | dict(settings), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_url(f"{url}/_stcore/health", process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
