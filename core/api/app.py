"""The FastAPI application over one runtime: its routers, the request gate, the error handlers, the
OpenAPI document stating this workspace's limits; `serving_app` puts the /predict fast path in front."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from core.api.errors import install_error_handlers
from core.api.request_guard import RequestGate
from core.api.routes import alerts, data, health, loop, models, replicas, serving, workspaces
from core.api.schemas import stated_limits
from core.runtime import Runtime


def package_version_text() -> str:
    try:
        return package_version("ia-continu")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        return tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["version"]


def create_app(rt: Runtime) -> FastAPI:
    """The API over one runtime."""
    app = FastAPIOffline(  # /docs with no network: FastAPI's own page loads Swagger UI from a CDN
        title="IA Continu", version=package_version_text(),
        description="Continuous training workbench: predict, retrain, generate, and every dashboard action.",
    )  # fmt: skip
    app.state.runtime = rt
    install_error_handlers(app)
    routers = [serving.predict_router, *(module.router for module in (health, serving, models, data, loop, alerts, workspaces, replicas))]
    for router in routers:
        app.include_router(router)
    # Every route with its path pattern, for the gate: FastAPI (0.16x) keeps included routers as lazy entries.
    app.state.api_routes = [*(r for r in app.router.routes if hasattr(r, "path_regex")), *(r for rr in routers for r in rr.routes)]
    app.add_middleware(RequestGate, token=rt.settings.api_token, routes=app.state.api_routes)
    state_limits(app, rt)
    return app


def serving_app(rt: Runtime) -> Any:
    """What a server runs: the app behind the plain-ASGI /predict fast path."""
    from core.api.fast import FastPredict

    return FastPredict(create_app(rt), rt)


def _workspace_examples(parts: dict[str, Any], rt: Runtime) -> None:
    """A table's workspace shows its own row and classes in /docs' examples, not the demo's [1.5, 2.3] and class 1 (tour
    20: digits' PredictRequest showed the demo's row, which /predict refuses): the champion's typical reference row."""
    if rt.schema.plain:
        return
    row = rt.insights.typical_row() if rt.models.champion_version is not None else {}
    if row:
        parts["PredictRequest"]["properties"]["features"]["examples"] = [row]
        parts["BatchRequest"]["properties"]["rows"]["examples"] = [[row]]
    label = {"prediction_id": "order-1842", "label": rt.schema.classes[-1]}
    parts["FeedbackRequest"]["properties"]["labels"]["examples"] = [[label]]


def state_limits(app: FastAPI, rt: Runtime) -> None:
    """The OpenAPI document with every bound the validation layer enforces for this workspace's settings."""
    from fastapi.openapi.utils import get_openapi

    from core.data.synthetic_stream import SCENARIO_LABELS
    from core.services.controls import CONTROLS
    from core.store.datasets import ROLES

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            limits = stated_limits(rt.settings, rt.schema, CONTROLS, list(SCENARIO_LABELS), ROLES)
            for name, properties in limits.items():
                body = schema["components"]["schemas"][name]
                for prop, stated in properties.items():
                    body["properties"][prop] = {**{k: v for k, v in body["properties"][prop].items() if k in ("description", "examples",
                                                                                                           "title")}, **stated}  # fmt: skip
            _workspace_examples(schema["components"]["schemas"], rt)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
