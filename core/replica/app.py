"""A replica's HTTP door: the workbench's prediction routes and /predict fast path over a `Replica`, with its own
/health and /metrics. Nothing else: the workbench keeps training, feedback and every other action."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi_offline import FastAPIOffline

from core.api.app import package_version_text
from core.api.deps import now
from core.api.errors import install_error_handlers
from core.api.fast import FastPredict
from core.api.request_guard import RequestGate, routes_of
from core.api.routes.health import health_response
from core.api.routes.serving import predict_router
from core.api.schemas import HealthReply
from core.replica.wiring import Replica


def replica_app(replica: Replica) -> Any:
    app = FastAPIOffline(title=f"IA Continu replica {replica.name}", version=package_version_text(),
                  description="A serving replica: it follows the registry's @champion and forwards its predictions to the workbench.")  # fmt: skip
    app.state.runtime = replica
    install_error_handlers(app)
    app.include_router(predict_router)

    @app.get("/health", response_model=HealthReply, responses={503: {"model": HealthReply}}, tags=["health"])
    def health(request: Request) -> JSONResponse:
        """503 while there is no champion to serve; the registry and forwarding are said whatever they are."""
        report = replica.check_health()
        failing = [name for name, check in report.checks.items() if not check.ok]  # all said; only the required make it 503
        return health_response(report, failing, request.app.version, replica=replica.name)

    @app.get("/health/live", tags=["health"])
    def live() -> dict[str, str]:
        return {"status": "alive", "timestamp": now()}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["health"])
    def metrics() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        from core.replica.metrics import ReplicaCollector

        registry = CollectorRegistry()
        registry.register(ReplicaCollector(replica))
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.state.api_routes = routes_of(app)
    app.add_middleware(RequestGate, token=replica.settings.api_token, routes=app.state.api_routes)
    return FastPredict(app, replica)
