"""The REST API: the original product's HTTP contract and every dashboard action, over the runtime.

The second door into the same `Runtime` the dashboard uses, so the two always see the
same models, data and loop; neither holds logic the other lacks. It runs in the
dashboard's process (started by the runtime on API_HOST:API_PORT) or headless with
`python -m core.api` (the API and the loop, no UI). Both bind 127.0.0.1 by default;
with IA_API_TOKEN set every mutating call needs `Authorization: Bearer <token>`, and a
non-loopback address without a token refuses to start.

Errors: bad input is a 422 naming the field and its limit (the validation layer's
message), no model yet a 503, a conflict (a training or a cycle under way) a 409, an
internal error a 500 with an error id that is also in the log, never a traceback.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import threading
import uuid
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.api_gate import MUTATING, RequestGate, problem, reply
from core.api_schemas import (
    VERSION_PATTERN,
    BatchReply,
    BatchRequest,
    DatasetReply,
    DatasetUpdate,
    GenerateRequest,
    HealthReply,
    LoopUpdate,
    PredictReply,
    PredictRequest,
    Problem,
    RetrainReply,
    RetrainRequest,
    StreamUpdate,
    stated_limits,
)  # fmt: skip
from core.config import Settings, SettingsError
from core.errors import BusyError, NoModelError, RateLimited, StorageError, UserInputError, WorkspaceError, plain_fault
from core.faults import component_of
from core.registry import parse_version, version_label
from core.runtime import Runtime
from core.training import TrainingOptions

log = logging.getLogger(__name__)
ERRORS = {401: {"model": Problem}, 415: {"model": Problem}, 422: {"model": Problem}, 503: {"model": Problem}}


def package_version_text() -> str:
    try:
        return package_version("ia-continu")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        return tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]["version"]


VersionPath = Annotated[str, PathParam(pattern=VERSION_PATTERN, max_length=12, description="v1.2.0 or a registry number")]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-safe rows: timestamps in ISO 8601, NaN as null."""
    return json.loads(frame.to_json(orient="records", date_format="iso")) if not frame.empty else []


def _model_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "version": version_label(row["version"]), "registry_version": row["version"]}


def create_app(rt: Runtime) -> FastAPI:
    """The API over one runtime."""
    app = FastAPI(
        title="IA Continu", version=package_version_text(),
        description="Continuous training workbench: predict, retrain, generate, and every dashboard action.",
    )  # fmt: skip
    token = rt.settings.api_token

    def authorised(request: Request) -> None:
        """Checked before any body is read by `RequestGate`; here again so /docs shows which routes need it."""
        if not token or request.method not in MUTATING:
            return
        given = request.headers.getlist("authorization")
        if len(given) != 1 or not hmac.compare_digest(given[0].encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "missing or wrong bearer token (IA_API_TOKEN)", headers={"WWW-Authenticate": "Bearer"})

    _install_error_handlers(app)
    app.add_middleware(RequestGate, token=token, router=app.router)
    _state_limits(app, rt)
    guard = [Depends(authorised)]

    @app.get("/health", response_model=HealthReply, responses={503: {"model": HealthReply}}, tags=["health"])
    def health() -> JSONResponse:
        """Each component checked for real; 503 when any required one fails, so an HTTP monitor needs no keyword."""
        report = rt.check_health()
        failing = [name for name in report.required if not report.checks[name].ok]
        body = HealthReply(
            status="ok" if not failing else f"degraded: {', '.join(failing)}", timestamp=_now(), version=app.version,
            uptime_seconds=round(report.uptime_seconds, 3),
            components={name: {"ok": c.ok, "detail": c.detail} for name, c in report.checks.items()},
        )  # fmt: skip
        return JSONResponse(body.model_dump(), status_code=200 if not failing else 503)

    @app.get("/health/live", tags=["health"])
    def live() -> dict[str, str]:
        """The process answers (no component is asked)."""
        return {"status": "alive", "timestamp": _now()}

    @app.post("/predict", response_model=PredictReply, responses=ERRORS, dependencies=guard, tags=["serving"])
    def predict(body: PredictRequest) -> PredictReply:
        """One row. Served by `FastPredict` in front of the app (same runtime call, same errors);
        this route documents it and answers when the app is used without the fast path."""
        result = rt.predict(body.features, source="api")
        return PredictReply(
            prediction=result.prediction, confidence=result.confidence, probability=result.probability,
            model_version=result.version_label, timestamp=result.timestamp.isoformat() + "Z",
        )  # fmt: skip

    @app.post("/predict/batch", response_model=BatchReply, responses=ERRORS, dependencies=guard, tags=["serving"])
    def predict_batch(body: BatchRequest) -> BatchReply:
        result = rt.predict_batch(body.rows, source="api-batch")
        return BatchReply(
            predictions=result.predictions.tolist(), confidences=result.confidence.tolist(), probabilities=result.proba.tolist(),
            model_version=version_label(result.model_version), count=len(result.proba), timestamp=result.timestamp.isoformat() + "Z",
        )  # fmt: skip

    @app.post("/retrain", response_model=RetrainReply, responses={**ERRORS, 409: {"model": Problem}, 429: {"model": Problem}},
              dependencies=guard, tags=["models"])  # fmt: skip
    def retrain(body: RetrainRequest | None = None) -> RetrainReply:
        body = body or RetrainRequest()
        if not isinstance(body.promote, bool):
            raise UserInputError("promote", f"expected true or false, got {str(body.promote)[:40]}")
        options = TrainingOptions(body.C, body.class_weight)
        outcome = rt.train(trigger="api", window_rows=body.window_rows, dataset_ids=body.dataset_ids, options=options, promote=body.promote)
        if outcome.equal_to:
            status, promoted, reason = "unchanged", False, f"nothing registered: the data and parameters equal {outcome.label}'s"
        else:
            promoted, reason = outcome.decision.promoted, outcome.decision.reason
            status = {"awaiting": "awaiting_approval", "candidate": "candidate"}.get(
                outcome.decision.outcome, "promoted" if promoted else "rejected"
            )
        return RetrainReply(
            status=status, model_version=outcome.label, training_samples=outcome.n_rows, accuracy=outcome.metrics.get("accuracy"),
            promoted=promoted, reason=reason, timestamp=_now(),
        )  # fmt: skip

    @app.post("/generate", response_model=DatasetReply, responses=ERRORS, dependencies=guard, tags=["data"])
    def generate(body: GenerateRequest) -> DatasetReply:
        info = rt.generate_dataset(body.samples, body.scenario, body.strength, body.seed, body.role)
        return DatasetReply(
            dataset_id=info.dataset_id, samples_created=info.n_rows, first_sample_id=info.first_sample_id,
            last_sample_id=info.last_sample_id, timestamp=_now(),
        )  # fmt: skip

    @app.get("/models", tags=["models"])
    def models() -> list[dict[str, Any]]:
        return [_model_row(r) for r in _records(rt.read("models"))]

    @app.get("/models/{version}", responses=ERRORS | {404: {"model": Problem}}, tags=["models"])
    def model(version: VersionPath) -> dict[str, Any]:
        record = rt.store.model(parse_version(version))
        if record is None:
            raise HTTPException(404, f"no version {version}")
        return _model_row(_records(pd.DataFrame([record]))[0])

    @app.get("/models/{version}/evaluation", responses=ERRORS | {404: {"model": Problem}}, tags=["models"])
    def evaluation(version: VersionPath) -> dict[str, Any]:
        """What the Models page draws: confusion counts, ROC and PR curves, calibration bins, intervals and
        coefficients, computed from the version's holdout when it was trained."""
        number = parse_version(version)
        stored = rt.read("evaluation", number)
        if stored is None:
            raise HTTPException(404, f"no evaluation for {version}: unknown, or trained before evaluations were stored")
        return {"model_version": version_label(number), **stored}

    @app.post("/explain", responses=ERRORS, dependencies=guard, tags=["serving"])
    def explain(
        body: PredictRequest, version: Annotated[str | None, Query(pattern=VERSION_PATTERN, max_length=12)] = None
    ) -> dict[str, Any]:
        """Why the champion (or `version`) predicts what it does for one row: each feature's contribution to
        the log-odds of class 1. Nothing is logged: this is not a prediction."""
        explained = rt.explain(body.features, parse_version(version) if version else None)
        return {**explained, "model_version": version_label(explained.pop("version"))}

    @app.post("/models/{version}/promote", responses=ERRORS, dependencies=guard, tags=["models"])
    def promote(version: VersionPath) -> dict[str, Any]:
        """Promote a version: approve a challenger waiting under the approve policy, or roll back to an earlier one."""
        decision = rt.promote(parse_version(version))
        return {"model_version": version_label(decision.version), "promoted": True, "reason": decision.reason}

    @app.post("/models/{version}/reject", responses=ERRORS, dependencies=guard, tags=["models"])
    def reject(version: VersionPath) -> dict[str, Any]:
        decision = rt.reject(parse_version(version))
        return {"model_version": version_label(decision.version), "promoted": False, "reason": decision.reason}

    @app.get("/datasets", tags=["data"])
    def datasets() -> list[dict[str, Any]]:
        return _records(rt.read("datasets"))

    @app.post("/datasets", response_model=DatasetReply, responses=ERRORS, dependencies=guard, tags=["data"])
    def upload(
        file: Annotated[UploadFile, File()], role: Annotated[str, Form()] = "library", name: Annotated[str | None, Form()] = None
    ) -> DatasetReply:
        """A labelled CSV (feature_1..feature_n, target) as a library dataset, or sent to the loop (role incoming)."""
        limit = int(rt.settings.max_upload_mb * 2**20)
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise UserInputError("file", f"larger than the limit of {rt.settings.max_upload_mb:g} MB (IA_MAX_UPLOAD_MB)")
        info = rt.import_csv(data, name=name or file.filename or "upload.csv", role=role)
        return DatasetReply(
            dataset_id=info.dataset_id, samples_created=info.n_rows, first_sample_id=info.first_sample_id,
            last_sample_id=info.last_sample_id, timestamp=_now(),
        )  # fmt: skip

    @app.patch("/datasets/{dataset_id}", responses=ERRORS, dependencies=guard, tags=["data"])
    def update_dataset(dataset_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], body: DatasetUpdate) -> dict[str, Any]:
        """Rename or tag a dataset."""
        return _records(pd.DataFrame([rt.update_dataset(dataset_id, body.name, body.tags)]))[0]

    @app.delete("/datasets/{dataset_id}", responses=ERRORS, dependencies=guard, tags=["data"])
    def delete_dataset(dataset_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]) -> dict[str, Any]:
        """Delete a library dataset; 422 with the reason for data the loop read or a model was trained on."""
        return {"dataset_id": dataset_id, "deleted_rows": rt.delete_dataset(dataset_id)}

    @app.get("/cycles", tags=["loop"])
    def cycles(limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> dict[str, Any]:
        """Monitoring cycles, newest first."""
        return {"cycles": _records(rt.store.cycles_page(limit, offset)), "limit": limit, "offset": offset}

    @app.get("/cycles/{cycle_id}", responses={404: {"model": Problem}}, tags=["loop"])
    def cycle(cycle_id: Annotated[int, PathParam(ge=1, le=2**62)]) -> dict[str, Any]:
        """One cycle in full: its record and verdict, per-feature tests, the gate's events and its alerts."""
        detail = rt.cycle_detail(cycle_id)
        if detail is None:
            raise HTTPException(404, f"no cycle {cycle_id} (archived by retention, or not run yet)")
        alerts = [{k: v for k, v in a.items() if k != "payload"} for a in detail.alerts]
        return {"cycle": _records(pd.DataFrame([detail.cycle]))[0], "drift": _records(detail.drift),
                "gate_events": _records(detail.gate_events), "alerts": _records(pd.DataFrame(alerts))}  # fmt: skip

    @app.post("/cycles", status_code=202, responses={409: {"model": Problem}}, dependencies=guard, tags=["loop"])
    def run_cycle() -> dict[str, str]:
        """Run one cycle now, in the background; 409 while one runs."""
        outcome = rt.run_cycle_now()
        if not outcome.accepted:
            raise BusyError(outcome.reason)
        return {"status": "started", "detail": outcome.reason}

    @app.get("/drift/latest", tags=["loop"])
    def drift_latest() -> dict[str, Any]:
        report = rt.read("drift_results")
        cycle = int(report["cycle_id"].iloc[0]) if not report.empty else None
        return {"cycle_id": cycle, "verdict": rt.cycle_verdict(cycle) if cycle else None, "features": _records(report)}

    @app.get("/loop", tags=["loop"])
    def get_loop() -> dict[str, Any]:
        return rt.loop_state()

    @app.put("/loop", responses=ERRORS, dependencies=guard, tags=["loop"])
    def put_loop(body: LoopUpdate) -> dict[str, Any]:
        rt.update_loop(body.state, body.interval, body.policy, body.thresholds or {})
        return rt.loop_state()

    @app.get("/stream", tags=["loop"])
    def get_stream() -> dict[str, Any]:
        return rt.stream_info()

    @app.put("/stream", responses=ERRORS, dependencies=guard, tags=["loop"])
    def put_stream(body: StreamUpdate) -> dict[str, Any]:
        rt.update_stream(body.enabled, body.scenario, body.strength, body.batch_size)
        return rt.stream_info()

    @app.get("/alerts", tags=["alerts"])
    def alerts(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        return _records(rt.read("notifications", limit))

    @app.post("/alerts/test", dependencies=guard, tags=["alerts"])
    def test_alert() -> dict[str, Any]:
        return {"notification_id": rt.send_test_message(), "webhook": rt.notifier.masked_url}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["health"])
    def metrics() -> PlainTextResponse:
        """Prometheus text format, read from the runtime at each scrape."""
        from core.metrics import exposition

        body, content_type = exposition(rt)
        return PlainTextResponse(body, media_type=content_type)

    return app


def _state_limits(app: FastAPI, rt: Runtime) -> None:
    """The OpenAPI document with every bound the validation layer enforces for this workspace's settings."""
    from fastapi.openapi.utils import get_openapi

    from core.controls import CONTROLS
    from core.datagen import SCENARIO_LABELS
    from core.store.datasets import ROLES

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            limits = stated_limits(rt.settings, rt.store.n_features, CONTROLS, list(SCENARIO_LABELS), ROLES)
            for name, properties in limits.items():
                body = schema["components"]["schemas"][name]
                for prop, stated in properties.items():
                    body["properties"][prop] = {**{k: v for k, v in body["properties"][prop].items() if k in ("description", "examples",
                                                                                                           "title")}, **stated}  # fmt: skip
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def problem_of(exc: BaseException, where: str = "") -> tuple[int, dict[str, Any]]:
    """The status and body for an error: one mapping for every route and for the /predict fast path. A
    store that cannot be written (MLflow's or DuckDB's: read-only, full) is a 503, like a missing model."""
    if isinstance(exc, UserInputError):
        return 422, {"error": str(exc), "field": exc.field, "error_id": None}
    if isinstance(exc, RateLimited):
        return 429, {"error": str(exc), "field": None, "error_id": None}
    if isinstance(exc, BusyError):
        return 409, {"error": str(exc), "field": None, "error_id": None}
    if isinstance(exc, NoModelError | StorageError) or _storage_fault(exc):
        return 503, {
            "error": str(exc) if isinstance(exc, NoModelError | StorageError) else plain_fault(exc),
            "field": None,
            "error_id": None,
        }
    error_id = uuid.uuid4().hex[:12]
    log.error("API error %s on %s", error_id, where, exc_info=exc)
    message = f"internal error ({plain_fault(exc)[:200]}); see the server log for error id {error_id}"
    return 500, {"error": message, "field": None, "error_id": error_id}


def _storage_fault(exc: BaseException) -> bool:
    """A write refused by a store (read-only, full, an I/O error): the service is unavailable, not broken."""
    lowered = plain_fault(exc).lower()
    return component_of(exc) in ("mlflow", "duckdb", "disk") and any(
        word in lowered for word in ("read-only", "disk is full", "cannot be written", "quota", "permission")
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):  # Starlette's word for a body that is not UTF-8
            return JSONResponse(problem("body: not valid JSON (not UTF-8 text)", "body"), status_code=422)
        return JSONResponse(problem(str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    def bad_body(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid body"}
        if first.get("type") == "json_invalid":  # its loc holds a character offset, not a field
            at = first.get("loc", (None, None))[1]
            detail = (first.get("ctx") or {}).get("error", "JSON decode error")
            return JSONResponse(problem(f"body: not valid JSON at character {at}: {detail}"[:300], "body"), status_code=422)
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "body"
        if first.get("type") == "extra_forbidden":
            return JSONResponse(problem(f"{field}: unknown field: the API does not take it", field), status_code=422)
        return JSONResponse(problem(f"{field}: {first.get('msg', 'invalid')}"[:300], field), status_code=422)

    def known(request: Request, exc: Exception) -> JSONResponse:
        status, body = problem_of(exc, f"{request.method} {request.url.path}")
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))} if isinstance(exc, RateLimited) else None
        return JSONResponse(body, status_code=status, headers=headers)

    for kind in (UserInputError, NoModelError, StorageError, BusyError, Exception):
        app.add_exception_handler(kind, known)


class FastPredict:
    """POST /predict as plain ASGI in front of FastAPI: the one call load tests hammer.

    FastAPI's routing, dependency injection and body model cost several times the prediction
    itself; this path parses the JSON, checks the token, calls the same `Runtime.predict` and
    maps errors with the same `problem_of`. The FastAPI route stays for /docs and the schema.
    """

    MAX_BODY = 1 << 20

    def __init__(self, app: Any, rt: Runtime) -> None:
        self.app, self.rt = app, rt
        self.gate = RequestGate(app, rt.settings.api_token, app.router)  # the same checks, in the same order, as every route

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        refused = self.gate.refusal(scope)  # token, then content type: before the body is read
        if refused is not None:
            await reply(send, *refused)
            return
        body, more = b"", True
        while more and len(body) <= self.MAX_BODY:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        await reply(send, *self._answer(body))

    def _answer(self, body: bytes) -> tuple[int, dict[str, Any], list]:
        try:
            if len(body) > self.MAX_BODY:
                raise UserInputError("body", f"larger than {self.MAX_BODY:,} bytes: send one row of features")
            try:
                data = json.loads(body)
            except ValueError:  # a UnicodeDecodeError too
                raise UserInputError("body", 'not valid JSON: expected {"features": [1.5, 2.3]}') from None
            if not isinstance(data, dict) or "features" not in data:
                raise UserInputError("features", 'Field required: expected {"features": [1.5, 2.3]}')
            unknown = sorted(set(data) - {"features"})
            if unknown:
                raise UserInputError(unknown[0], f"unknown field: the API does not take it (only features); got {', '.join(unknown)[:100]}")
            result = self.rt.predict(data["features"], source="api")
        except Exception as exc:
            status, reply = problem_of(exc, "POST /predict")
            return status, reply, []
        reply = {
            "prediction": result.prediction, "confidence": result.confidence, "probability": result.probability,
            "model_version": result.version_label, "timestamp": result.timestamp.isoformat() + "Z",
        }  # fmt: skip
        return 200, reply, []


# running it ------------------------------------------------------------------------------------
def check_binding(settings: Settings) -> None:
    """Only loopback without a token: anyone who can reach the port could otherwise retrain or promote."""
    if settings.api_token:
        return
    host = settings.api_host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SettingsError(
            f"API_HOST={host!r}: the API would accept calls from the network with no authentication. "
            "Set IA_API_TOKEN (every mutating call then needs 'Authorization: Bearer <token>'), or bind 127.0.0.1."
        )


class ApiServer:
    """Uvicorn on a thread, for the API beside the dashboard; stopped with the runtime."""

    def __init__(self, rt: Runtime) -> None:
        import uvicorn

        check_binding(rt.settings)
        config = uvicorn.Config(FastPredict(create_app(rt), rt), host=rt.settings.api_host, port=rt.settings.api_port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.address = f"http://{rt.settings.api_host}:{rt.settings.api_port}"
        self.thread = threading.Thread(target=self._serve, name="ia-continu-api", daemon=True)
        self.error: str | None = None
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # a port in use ends uvicorn with SystemExit
            self.error = f"the API could not start on {self.address}: {exc}"
            log.error(self.error)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def main() -> None:
    """Headless: the API and the loop, no UI (`python -m core.api`, `make api`)."""
    from dataclasses import replace

    import uvicorn

    from core.runtime import close_runtime, get_runtime

    try:
        settings = Settings.from_env()
        check_binding(settings)
        rt = get_runtime(replace(settings, api_enabled=False))
    except (SettingsError, WorkspaceError) as exc:
        raise SystemExit(f"ia-continu: {exc}") from None
    try:
        uvicorn.run(FastPredict(create_app(rt), rt), host=settings.api_host, port=settings.api_port, log_level=settings.log_level.lower())
    finally:
        close_runtime()


if __name__ == "__main__":
    main()
