"""Dashboard benchmarks: cold start beside a bare hello-world app, the time until the runtime is
built (starter data and v1.0.0 trained) when launched as `make run` does, and server-side render
time of every page and view on a large workspace (1,000,000 samples, 2,000 cycles, 100,000
predictions, two versions with stored evaluations).

Run: .venv/bin/python -m benchmarks.bench_ui   (about three minutes)
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.timing import compare, fmt, median_seconds, print_table
from core.config import Settings
from core.runtime import Runtime
from tests.servers import free_port, wait_for_url

ROOT = Path(__file__).resolve().parent.parent


def cold_start(command: list[str], env: dict[str, str], ready: str = "/_stcore/health", api: bool = False) -> float:
    """Seconds from starting `command` (a streamlit server) until `ready` answers: on Streamlit's port,
    or with `api`, on the REST API's, which the runtime starts as its last step."""
    port, api_port = free_port(), free_port()
    start = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--server.port", str(port), "--server.headless", "true"], cwd=ROOT, stdout=subprocess.DEVNULL,
        env=env | {"API_PORT": str(api_port), "IA_API_ENABLED": "true" if api else "false"}, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_url(f"http://127.0.0.1:{api_port if api else port}{ready}", process, timeout=300, any_status=api)  # a 503: up
        return time.perf_counter() - start
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
    streamlit = [sys.executable, "-m", "streamlit", "run"]
    pairs = [(cold_start([*streamlit, str(ROOT / "app.py")], env), cold_start([*streamlit, str(hello)], env)) for _ in range(7)]
    ours, base = (statistics.median(side) for side in zip(*pairs, strict=True))  # alternated: both meet the same load
    compare("cold start (streamlit run until /_stcore/health)", "app.py", ours, "hello-world Streamlit app", base, "close to 1")
    launch = [sys.executable, "-m", "ui.launch"]
    built = []
    for i in range(3):  # a fresh workspace each time: starter data and v1.0.0 trained on every start
        built.append(cold_start(launch, env | {"IA_DATA_DIR": str(folder / f"fresh{i}")}, ready="/health", api=True))
    compare("start to a built runtime (make run's ui.launch: starter trained, API up)", "ui.launch", statistics.median(built),
            "hello-world Streamlit app healthy", base, "what a first visitor waits, beside a bare server")  # fmt: skip


def populate(data_dir: Path) -> None:
    settings = Settings.from_env({}, data_dir=data_dir, scheduler_autostart=False, log_level="WARNING", policy="never", api_enabled=False)
    rt = Runtime(settings)
    try:
        rt.data.generate(1_000_000 - settings.starter_rows - 2000 * settings.stream_batch_size, seed=3)
        for i in range(2000):
            if i == 1000:
                rt.loop.set_stream_scenario("covariate_shift", 0.5)
            rt.loop.run_cycle()
        rt.models.train(window_rows=20_000)  # a second version, so Models compares two stored evaluations
        rt.serving.predict_batch(np.random.default_rng(1).standard_normal((100_000, 2)))
        rt.serving.flush()
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
        rt.serving.predict([0.0, 0.0])
        rt.serving.flush()

    at.switch_page("app_pages/models.py").run()
    at.selectbox(key="eval_compare").set_value(1).run()  # Models renders two evaluations side by side from here on

    for page in ("overview", "data", "models", "predict", "drift", "operations"):

        def render(page: str = page) -> None:
            at.switch_page(f"app_pages/{page}.py").run()
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
