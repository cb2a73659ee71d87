"""A Prefect flow that runs the workbench's monitoring cycle through its API, instead of the in-process scheduler.

The workbench runs with `IA_SCHEDULER_AUTOSTART=false`; each flow run checks `/health`, runs one cycle
(`POST /cycles?wait=true`, answered with the cycle's record when it is over) and fails when the workbench is
unhealthy or the cycle ends in error, so the orchestrator's own alerting, history and retries apply. A request
that does not get through is retried with exponential backoff; a cycle that ran and failed is not retried (it
is recorded on the workbench, and a second attempt would be another cycle).

    python -m orchestration.flow                 one run, now
    python -m orchestration.flow serve 30        a run every 30 s, and retention every 600 s (flow.serve)

Settings: IA_API_URL (http://127.0.0.1:8000), IA_API_TOKEN; PREFECT_API_URL for a Prefect server.
Only Prefect and httpx are needed (requirements-orchestrate.txt): nothing of the app is imported.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx
from prefect import flow, get_run_logger, serve, task
from prefect.tasks import exponential_backoff

DEFAULT_URL = "http://127.0.0.1:8000"


class WorkbenchUnhealthy(RuntimeError):
    """The workbench answered /health with 503: a required component fails."""


class CycleFailed(RuntimeError):
    """The cycle ran and ended in error (its record and traceback are on the workbench)."""


def _headers(token: str | None) -> dict[str, str]:
    token = token if token is not None else os.environ.get("IA_API_TOKEN", "")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _transient(_task: Any, _run: Any, state: Any) -> bool:
    """Retry what may pass (a refused connection, a timeout, a 5xx), not a cycle that ran and failed."""
    try:
        state.result()
    except CycleFailed:
        return False
    except Exception:
        return True
    return False


@task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=2), retry_jitter_factor=0.2, retry_condition_fn=_transient)
def check_health(api_url: str) -> dict[str, Any]:
    """The workbench's /health: 200, or the run fails naming the failing components. Failing cycles alone (the
    `loop` component) do not stop the run: a cycle is how the loop recovers, and one that fails fails the run."""
    reply = httpx.get(f"{api_url}/health", timeout=15)
    body = reply.json()
    if reply.status_code != 200 and str(body.get("status")) != "degraded: loop":  # the status names the required ones failing
        failing = {name: c["detail"] for name, c in body.get("components", {}).items() if not c.get("ok")}
        raise WorkbenchUnhealthy(f"{api_url} is unhealthy ({body.get('status')}): {failing}")
    return body


@task(retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=5), retry_jitter_factor=0.2, retry_condition_fn=_transient)
def run_cycle(api_url: str, token: str | None, timeout: float) -> dict[str, Any]:
    """One cycle, waited for; its record, or CycleFailed with the workbench's reason."""
    reply = httpx.post(f"{api_url}/cycles", params={"wait": "true"}, headers=_headers(token), timeout=timeout)
    if reply.status_code != 200:
        raise RuntimeError(f"POST /cycles answered {reply.status_code}: {reply.text[:500]}")
    body = reply.json()
    cycle = body["cycle"]
    if body["status"] == "error":
        raise CycleFailed(f"cycle {cycle.get('cycle_id')} failed: {cycle.get('reason')}")
    return cycle


@flow(name="ia-continu-cycle")
def monitoring_cycle(api_url: str = "", token: str | None = None, retries: int = 3, timeout: float = 600.0) -> dict[str, Any]:
    """Health, then one cycle; the cycle's id, decision and reason as the run's result."""
    api_url = (api_url or os.environ.get("IA_API_URL", DEFAULT_URL)).rstrip("/")
    check_health.with_options(retries=retries)(api_url)
    cycle = run_cycle.with_options(retries=retries)(api_url, token, timeout)
    get_run_logger().info("cycle %s: %s (%s)", cycle.get("cycle_id"), cycle.get("decision"), cycle.get("reason"))
    return {key: cycle.get(key) for key in ("cycle_id", "status", "decision", "reason", "rows_seen", "new_version")}


@flow(name="ia-continu-maintenance")
def maintenance(api_url: str = "", token: str | None = None) -> dict[str, Any]:
    """Retention and a checkpoint: what the in-process worker does every IA_RETENTION_INTERVAL."""
    api_url = (api_url or os.environ.get("IA_API_URL", DEFAULT_URL)).rstrip("/")
    reply = httpx.post(f"{api_url}/maintenance", headers=_headers(token), timeout=600)
    reply.raise_for_status()
    return reply.json()


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        interval = float(argv[1]) if len(argv) > 1 else 30.0
        serve(monitoring_cycle.to_deployment(name="cycle", interval=interval),
              maintenance.to_deployment(name="maintenance", interval=600))  # fmt: skip
    else:
        print(monitoring_cycle())


if __name__ == "__main__":
    main(sys.argv[1:])
