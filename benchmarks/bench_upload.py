"""A ~200 MB CSV uploaded to a real API process (`python -m core.api`): the peak RSS growth of the API process
and of the child process that makes the workspace, beside a bare `duckdb.read_csv(...).df()` of the same file
in this process (what holding the table once costs). Peaks are the kernel's (VmHWM, reset through clear_refs
before each step), so nothing between two samples is missed; Linux only.

The table: bench_tables' mixed table (10 numeric and 5 categorical columns, three classes), ROWS rows.
Run: .venv/bin/python -m benchmarks.bench_upload   (about five minutes on 2 cores, most of it the child's training)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import requests

from benchmarks.bench_tables import mixed_table
from core.config import PROJECT_ROOT
from tests.servers import free_port, wait_for_url

ROWS = 900_000
MB = 2**20


def status(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in bytes (VmRSS now, VmHWM the peak since the last reset); 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def watch_children(pid: int, peaks: dict[int, int], done: threading.Event) -> None:
    """The peak of every child of `pid`, read until `done` (a child's VmHWM is gone with it, so it is read while it lives)."""
    while not done.is_set():
        for child in children(pid):
            peaks[child] = max(peaks.get(child, 0), status(child, "VmHWM"))
        time.sleep(0.05)


def post(url: str, path: Path, data: dict[str, str]) -> requests.Response:
    with path.open("rb") as handle:
        return requests.post(url, files={"file": (path.name, handle)}, data=data, timeout=1800)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    path = folder / "mixed.csv"
    duckdb.from_df(mixed_table(ROWS, 7)).write_csv(str(path))
    size = path.stat().st_size / MB
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "IA_", "API_"))}
    env |= {"IA_DATA_DIR": str(folder / "data"), "API_PORT": str(port), "IA_MAX_UPLOAD_MB": "400", "IA_SCHEDULER_AUTOSTART": "false",
            "LOG_LEVEL": "WARNING"}  # fmt: skip
    api = subprocess.Popen([sys.executable, "-m", "core.api"], cwd=PROJECT_ROOT, env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_for_url(f"{base}/health", api, timeout=180, any_status=True)
        baseline = status(api.pid, "VmRSS")
        for step, route, data in (("preview", "/workspaces/preview", {"target": "label"}),
                                  ("create", "/workspaces", {"target": "label", "name": "mixed"})):  # fmt: skip
            before = status(api.pid, "VmRSS")
            reset_peak(api.pid)
            peaks: dict[int, int] = {}
            done = threading.Event()
            watcher = threading.Thread(target=watch_children, args=(api.pid, peaks, done))
            watcher.start()
            began = time.perf_counter()
            reply = post(f"{base}{route}", path, data)
            seconds = time.perf_counter() - began
            done.set()
            watcher.join()
            assert reply.status_code in (200, 201), reply.text[:500]
            time.sleep(2)
            child = max(peaks.values(), default=0)
            rows.append((step, seconds, status(api.pid, "VmHWM") - before, status(api.pid, "VmRSS") - baseline, child))
        own = status(os.getpid(), "VmRSS")
        reset_peak(os.getpid())
        began = time.perf_counter()
        frame = duckdb.read_csv(str(path)).df()
        bare = (time.perf_counter() - began, status(os.getpid(), "VmHWM") - own, len(frame))
    finally:
        api.terminate()
        api.wait(60)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nfile {size:.0f} MB, {ROWS:,} rows; API process at rest {baseline / MB:.0f} MB")
    print(f"{'step':<10}{'seconds':>9}{'API peak growth':>17}{'API after':>11}{'child peak RSS':>16}   (after: over the API at rest)")
    for step, seconds, peak, after, child in rows:
        print(f"{step:<10}{seconds:>9.1f}{peak / MB:>14.0f} MB{after / MB:>8.0f} MB{(f'{child / MB:.0f} MB' if child else '—'):>16}")
    print(f"{'bare':<10}{bare[0]:>9.1f}{bare[1] / MB:>14.0f} MB{'':>11}{'':>16}  duckdb.read_csv(...).df() here, {bare[2]:,} rows")


if __name__ == "__main__":
    main()
