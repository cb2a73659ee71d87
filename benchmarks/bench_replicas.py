"""Replica benchmark: one serving replica's /predict beside `mlflow models serve` of the same champion, and what
forwarding its prediction log to the workbench costs.

Four processes on loopback, on one MLflow store: the workbench (`python -m core.api`, the loop off) that trained the
champion and receives the forwarded log; a replica forwarding to it (`python -m core.serve`); the same replica
with forwarding off (IA_WORKBENCH_URL empty: it still journals every prediction); and MLflow's scoring server on
`models:/...@champion`. wrk (Debian's package) drives each with 1, 8 and 32 keep-alive connections, the servers
taking turns at each level (five rounds by default: medians) so they meet the same background load. After the runs, the workbench must hold every
prediction the forwarding replica answered, once.

Run: apt-get install wrk; .venv/bin/python -m benchmarks.bench_replicas [--seconds 8] [--json]   (about six minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.bench_api import _load, _start
from tests.servers import clean_environ, free_port

ROOT = Path(__file__).resolve().parent.parent
BODY = {"features": [1.5, 2.3]}


def _servers(folder: Path, env: dict[str, str]) -> tuple[list, dict[str, str], str]:
    data = folder / "workbench"
    ports = {name: free_port() for name in ("workbench", "forwarding", "local", "mlflow")}
    common = env | {"LOG_LEVEL": "WARNING", "IA_SCHEDULER_AUTOSTART": "false"}
    workbench = f"http://127.0.0.1:{ports['workbench']}"
    procs = [_start([sys.executable, "-m", "core.api"], common | {"IA_DATA_DIR": str(data), "API_PORT": str(ports["workbench"])},
                    f"{workbench}/health/live", ROOT)]  # fmt: skip
    store = f"sqlite:///{data / 'mlflow.db'}"
    for name, target in (("forwarding", workbench), ("local", "")):
        replica_env = common | {"IA_DATA_DIR": str(folder / name), "MLFLOW_TRACKING_URI": store, "IA_WORKBENCH_URL": target,
                                "IA_REPLICA_NAME": f"bench-{name}", "API_PORT": str(ports[name])}  # fmt: skip
        procs.append(_start([sys.executable, "-m", "core.serve"], replica_env, f"http://127.0.0.1:{ports[name]}/health", ROOT))
    procs.append(_start(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/ia-continu-classifier@champion", "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(ports["mlflow"])], env | {"MLFLOW_TRACKING_URI": store}, f"http://127.0.0.1:{ports['mlflow']}/ping",
        folder,
    ))  # fmt: skip
    targets = {
        "replica, forwarding": f"http://127.0.0.1:{ports['forwarding']}",
        "replica, not forwarding": f"http://127.0.0.1:{ports['local']}",
        "mlflow models serve": f"http://127.0.0.1:{ports['mlflow']}",
    }
    return procs, targets, workbench


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc), every thread counted."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(url: str, body: dict, clients: int, seconds: int, folder: Path, server: int, workbench: int) -> tuple[tuple, tuple]:
    """One wrk run, and the CPU milliseconds the server and the workbench spent per 1,000 answered predictions."""
    before = _cpu_seconds(server), _cpu_seconds(workbench)
    result = _load(url, body, clients, seconds, folder)
    per_thousand = 1e6 / (result[0] * seconds)
    return result, ((_cpu_seconds(server) - before[0]) * per_thousand, (_cpu_seconds(workbench) - before[1]) * per_thousand)


def _held(workbench: str, replica: str) -> int:
    rows = httpx.get(f"{workbench}/replicas", timeout=30).json()["replicas"]
    return sum(r["predictions"] for r in rows if r["replica"] == replica)


def _served(url: str) -> int:
    """Predictions the replica answered, from its own /metrics."""
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("ia_continu_predictions_total"):
            return int(float(line.split()[-1]))
    raise RuntimeError(f"{url}/metrics has no ia_continu_predictions_total")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="turns of every server at every level; medians are reported")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    env = clean_environ()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        procs, targets, workbench = _servers(folder, env)
        try:
            for clients in (1, 8, 32):
                runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in targets}
                cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
                for _round in range(args.rounds):
                    for (name, url), server in zip(targets.items(), procs[1:], strict=True):
                        path = "/invocations" if name.startswith("mlflow") else "/predict"
                        body = {"inputs": [BODY["features"]]} if name.startswith("mlflow") else BODY
                        result, spent = _measured(url + path, body, clients, args.seconds, folder, server.pid, procs[0].pid)
                        runs[name].append(result)
                        cpu[name].append(spent)
                for name, measured in runs.items():
                    rps, p50, p99 = (statistics.median(m[i] for m in measured) for i in range(3))
                    server_cpu, workbench_cpu = (statistics.median(c[i] for c in cpu[name]) for i in range(2))
                    rows.append({"clients": clients, "server": name, "rps": rps, "p50_ms": p50, "p99_ms": p99,
                                 "rps_runs": [round(m[0]) for m in measured], "cpu_ms_per_1000": server_cpu,
                                 "workbench_cpu_ms_per_1000": workbench_cpu})  # fmt: skip
                    print(f"{clients:>2} clients  {name:<26} {rps:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
                          f"(runs {', '.join(str(round(m[0])) for m in measured)})", flush=True)  # fmt: skip
            served = _served(targets["replica, forwarding"])
            deadline = time.monotonic() + 120
            while _held(workbench, "bench-forwarding") < served and time.monotonic() < deadline:
                time.sleep(0.5)
            held = _held(workbench, "bench-forwarding")
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)
    print("\n| clients | server | requests/s (median) | p50 | p99 |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['clients']} | {r['server']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms |")
    by = {(r["clients"], r["server"]): r for r in rows}
    for clients in (1, 8, 32):
        fwd, local, ml = (by[(clients, name)] for name in targets)
        print(f"{clients} clients: CPU per 1,000 predictions: replica forwarding {fwd['cpu_ms_per_1000']:.0f} ms + workbench "
              f"{fwd['workbench_cpu_ms_per_1000']:.1f} ms ingesting; replica not forwarding {local['cpu_ms_per_1000']:.0f} ms")  # fmt: skip
        print(f"{clients} clients: throughput replica/mlflow {fwd['rps'] / ml['rps']:.2f}x (target >= 2), p99 replica/mlflow "
              f"{fwd['p99_ms'] / ml['p99_ms']:.2f}x; forwarding/not forwarding {fwd['rps'] / local['rps']:.2f}x (target >= 0.9)")  # fmt: skip
    print(f"forwarded: the workbench holds {held:,} of the {served:,} predictions the forwarding replica answered")
    if held != served:
        raise SystemExit("the workbench does not hold every forwarded prediction exactly once")
    if args.json:
        print(json.dumps({"rows": rows, "served": served, "held": held}))


if __name__ == "__main__":
    main()
