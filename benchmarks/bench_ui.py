"""Dashboard benchmarks: cold start beside a bare hello-world app, and server-side render time
of Overview and Drift on a large workspace (1,000,000 samples, 2,000 cycles, 100,000 predictions).

Run: .venv/bin/python -m benchmarks.bench_ui   (about two minutes)
"""

from __future__ import annotations

import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks.timing import compare, fmt, median_seconds, print_table
from core.config import Settings
from core.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_start(script: Path, env: dict[str, str]) -> float:
    """Seconds from `streamlit run` to the first 200 from /_stcore/health."""
    port = _port()
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(30)


def bench_cold_start(folder: Path) -> None:
    hello = folder / "hello.py"
    hello.write_text('import streamlit as st\nst.write("hello")\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | {
        "IA_DATA_DIR": str(folder / "cold"),
        "IA_API_ENABLED": "false",
    }
    ours = statistics.median(cold_start(ROOT / "app.py", env) for _ in range(3))
    base = statistics.median(cold_start(hello, env) for _ in range(3))
    compare("cold start (streamlit run until /_stcore/health)", "app.py", ours, "hello-world Streamlit app", base, "close to 1")


def populate(data_dir: Path) -> None:
    settings = Settings.from_env({}, data_dir=data_dir, scheduler_autostart=False, log_level="WARNING", policy="never", api_enabled=False)
    rt = Runtime(settings)
    try:
        rt.generate_dataset(1_000_000 - settings.starter_rows - 2000 * settings.stream_batch_size, seed=3)
        for i in range(2000):
            if i == 1000:
                rt.set_stream_scenario("covariate_shift", 0.5)
            rt.pipeline.run_cycle()
        rt.predict_batch(np.random.default_rng(1).standard_normal((100_000, 2)))
        rt.predictor.flush()
        print(f"workspace: {rt.store.counts()}, {len(rt.store.cycles(5000))} cycles", flush=True)
    finally:
        rt.close()


def bench_render(data_dir: Path) -> None:
    from streamlit.testing.v1 import AppTest

    from core.runtime import get_runtime

    os.environ.update(IA_DATA_DIR=str(data_dir), IA_SCHEDULER_AUTOSTART="false", IA_API_ENABLED="false")
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        del os.environ[key]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()  # builds the runtime once, as the server does on its first page load
    rt = get_runtime()

    def new_data() -> None:
        """One more logged prediction moves the data version, so every cached read misses."""
        rt.predict([0.0, 0.0])
        rt.predictor.flush()

    for page in ("overview", "drift"):

        def render(page: str = page) -> None:
            at.switch_page(f"pages/{page}.py").run()
            assert not at.exception, at.exception

        cold = median_seconds(render, 5, setup=new_data)
        warm = median_seconds(render, 5)
        print(
            f"render {page}: {fmt(cold)} after new data (every read from DuckDB), {fmt(warm)} unchanged data (cached reads); target < 1 s",
            flush=True,
        )


def main() -> None:
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_cold_start(folder)
        populate(folder / "big")
        bench_render(folder / "big")
    print_table()


if __name__ == "__main__":
    main()
