"""Health for monitors and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from core.api.deps import RuntimeDep, now
from core.api.errors import without_paths
from core.api.schemas import HealthReply
from core.domain.clock import process_uptime
from core.services.health import HealthReport

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthReply, responses={503: {"model": HealthReply}})
def health(rt: RuntimeDep, request: Request) -> JSONResponse:
    """Each component checked for real; 503 when any required one fails, so an HTTP monitor needs no keyword."""
    report = rt.health.check()
    failing = [name for name in report.required if not report.checks[name].ok]
    # uptime_seconds is the workspace's (a switch starts it again); the process's says whether the server restarted
    return health_response(report, failing, request.app.version, process_uptime_seconds=round(process_uptime(), 3))


def health_response(report: HealthReport, failing: list[str], version: str, **extra: object) -> JSONResponse:
    """The /health body, for the workbench and a replica alike: 503 when a required component fails. It answers
    without a token (monitors call it), so the details name no server folder; the Operations page shows them whole."""
    body = HealthReply(
        status="ok" if not failing else f"degraded: {', '.join(failing)}", timestamp=now(), version=version,
        uptime_seconds=round(report.uptime_seconds, 3),
        components={name: {"ok": c.ok, "detail": without_paths(c.detail)} for name, c in report.checks.items()}, **extra,
    )  # fmt: skip
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if report.healthy else 503)


@router.get("/health/live")
def live() -> dict[str, str]:
    """The process answers (no component is asked)."""
    return {"status": "alive", "timestamp": now()}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(rt: RuntimeDep) -> PlainTextResponse:
    """Prometheus text format, read from the runtime at each scrape."""
    from core.api.metrics import exposition

    body, content_type = exposition(rt)
    return PlainTextResponse(body, media_type=content_type)
