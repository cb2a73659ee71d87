"""One mapping from an error to its status and body, for every route and for the /predict fast path."""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.api.gate import problem
from core.errors import BusyError, NoModelError, RateLimited, StorageError, UserInputError, plain_fault
from core.faults import component_of

log = logging.getLogger(__name__)


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


def install_error_handlers(app: FastAPI) -> None:
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
