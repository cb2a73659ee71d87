"""API benchmark: /predict throughput and latency beside `mlflow models serve` and a bare FastAPI endpoint.

Three servers, each its own process on loopback, serving the same registered model:
ours (`python -m core.api`, the loop paused), MLflow's scoring server
(`mlflow models serve --env-manager local` on `models:/...@champion`), and a bare FastAPI
app whose endpoint calls `predict_proba` on the loaded model and nothing else. One load
generator (an async httpx client with keep-alive connections) drives each with 1, 8
and 32 concurrent clients, the servers taking turns at each level so they meet the
same background load. The load generator is `wrk` (Debian's package wrk: a C client,
so the generator is not what is measured; a Python client tops out near the servers'
own rates). Reports requests per second and p50/p99 latency.

Run: apt-get install wrk; .venv/bin/python -m benchmarks.bench_api [--seconds 8]   (about two minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
BARE_APP = """
import os
import mlflow.sklearn
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

model = mlflow.sklearn.load_model(os.environ["MODEL_URI"])
app = FastAPI()


class Body(BaseModel):
    features: list[float]


@app.post("/predict")
def predict(body: Body) -> dict:
    return {"probability": float(model.predict_proba(np.array([body.features]))[0, 1])}
"""


def _start(args: list[str], env: dict[str, str], ready: str, cwd: Path) -> subprocess.Popen:
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(ready, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{args[:4]} did not start")


def _load(url: str, body: dict, clients: int, seconds: int, folder: Path) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms) from wrk with `clients` keep-alive connections on one thread."""
    script = folder / "post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\nwrk.headers["Content-Type"] = "application/json"\n')
    subprocess.run(["wrk", "-t1", "-c1", "-d1s", "-s", str(script), url], capture_output=True, check=True)  # warm-up
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)), _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "IA_", "API_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "data"
        ports = {name: free_port() for name in ("ours", "mlflow", "bare")}
        ours_env = env | {
            "IA_DATA_DIR": str(data),
            "IA_SCHEDULER_AUTOSTART": "false",
            "API_PORT": str(ports["ours"]),
            "LOG_LEVEL": "WARNING",
        }
        servers = [_start([sys.executable, "-m", "core.api"], ours_env, f"http://127.0.0.1:{ports['ours']}/health/live", ROOT)]
        model_uri = "models:/ia-continu-classifier@champion"
        store_env = env | {"MLFLOW_TRACKING_URI": f"sqlite:///{data / 'mlflow.db'}"}
        servers.append(_start(
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local", "-h", "127.0.0.1",
             "-p", str(ports["mlflow"])], store_env, f"http://127.0.0.1:{ports['mlflow']}/ping", folder,
        ))  # fmt: skip
        (folder / "bare_app.py").write_text(BARE_APP)
        servers.append(_start(
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1", "--port", str(ports["bare"]), "--log-level", "warning"],
            store_env | {"MODEL_URI": model_uri}, f"http://127.0.0.1:{ports['bare']}/docs", folder,
        ))  # fmt: skip
        targets = {
            "ours (/predict)": (f"http://127.0.0.1:{ports['ours']}/predict", {"features": [1.5, 2.3]}),
            "mlflow models serve (/invocations)": (f"http://127.0.0.1:{ports['mlflow']}/invocations", {"inputs": [[1.5, 2.3]]}),
            "bare FastAPI + predict_proba": (f"http://127.0.0.1:{ports['bare']}/predict", {"features": [1.5, 2.3]}),
        }
        try:
            rows = []
            for clients in (1, 8, 32):
                for name, (url, body) in targets.items():
                    rps, p50, p99 = _load(url, body, clients, args.seconds, folder)
                    rows.append((clients, name, rps, p50, p99))
                    print(f"{clients:>2} clients  {name:<36} {rps:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms", flush=True)
        finally:
            for proc in servers:
                proc.terminate()
                proc.wait(30)
    print("\n| clients | server | requests/s | p50 | p99 |\n|---|---|---|---|---|")
    for clients, name, rps, p50, p99 in rows:
        print(f"| {clients} | {name} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms |")
    by = {(c, n): (r, p50, p99) for c, n, r, p50, p99 in rows}
    for clients in (1, 8, 32):
        ours, ml, bare = (by[(clients, n)] for n in targets)
        print(
            f"{clients} clients: throughput ours/mlflow {ours[0] / ml[0]:.2f}x (target >= 1.5), p99 ours/mlflow {ours[2] / ml[2]:.2f}x "
            f"(target <= 1); p50 ours/bare {ours[1] / bare[1]:.2f}x (target <= 1.3)"
        )


if __name__ == "__main__":
    main()
