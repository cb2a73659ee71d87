"""First run from a clean clone: `make run` until the dashboard answers and until the runtime is built
(starter data and v1.0.0 trained, the REST API up), with uv (the default) and with plain pip (UV=0)
as the baseline. Each run gets a fresh clone and empty uv and pip caches, as on a fresh machine.

Run: .venv/bin/python -m benchmarks.bench_first_run [--runs 1]   (a few minutes; needs the package registry)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.timing import compare, print_table
from tests.servers import free_port, wait_for_url

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 900.0


def first_run(folder: Path, uv: bool) -> tuple[float, float]:
    """(seconds until Streamlit's health answers, seconds until the runtime's API answers) for one clean clone."""
    clone = folder / ("uv" if uv else "pip")
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    ui_port, api_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "IA_"))}
    env |= {"UV_CACHE_DIR": str(folder / "uv-cache"), "PIP_CACHE_DIR": str(folder / f"pip-cache-{uv}"), "API_PORT": str(api_port)}
    start = time.perf_counter()
    process = subprocess.Popen(
        ["make", "run", f"UV={int(uv)}", f"UI_PORT={ui_port}"], cwd=clone, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_url(f"http://127.0.0.1:{ui_port}/_stcore/health", process, TIMEOUT)
        healthy = time.perf_counter() - start
        wait_for_url(f"http://127.0.0.1:{api_port}/health", process, TIMEOUT, any_status=True)  # a 503 still means it is up
        return healthy, time.perf_counter() - start
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    results = {True: [], False: []}
    for _ in range(args.runs):
        for uv in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                results[uv].append(first_run(Path(tmp), uv))
                print(f"{'uv ' if uv else 'pip'}: dashboard healthy {results[uv][-1][0]:.0f} s, runtime built {results[uv][-1][1]:.0f} s",
                      flush=True)  # fmt: skip
    median = {uv: sorted(r, key=lambda t: t[1])[len(r) // 2] for uv, r in results.items()}
    compare("clean clone: make run until the dashboard's health answers", "uv", median[True][0], "pip (UV=0)", median[False][0], "< 90 s")
    compare("clean clone: make run until the runtime is built (v1.0.0)", "uv", median[True][1], "pip (UV=0)", median[False][1], "< 90 s")
    print_table()


if __name__ == "__main__":
    main()
