"""One mapping from an error to its status and body, for every route and for the /predict fast path."""

from __future__ import annotations

import logging
import math
import re
import typing
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from core.api.request_guard import TOO_DEEP, TOO_MANY_DIGITS, problem, refusal, too_many_digits
from core.api.schemas import VERSION_PATTERN
from core.domain.faults import component_of
from core.domain.validation import not_a_whole_number, shown
from core.errors import (
    MAX_REFUSALS,
    BusyError,
    ConflictError,
    NoModelError,
    NotFoundError,
    RateLimited,
    StorageError,
    UserInputError,
    WorkspaceClosedError,
    plain_fault,
    refusals_of,
)

log = logging.getLogger(__name__)


def problem_of(exc: BaseException, where: str = "") -> tuple[int, dict[str, Any]]:
    """The status and body for an error: one mapping for every route and for the /predict fast path. A
    store that cannot be written (MLflow's or DuckDB's: read-only, full) is a 503, like a missing model."""
    if isinstance(exc, UserInputError):
        refused = [(one.field, without_paths(str(one))) for one in refusals_of(exc)]
        return 409 if isinstance(exc, ConflictError) else 404 if isinstance(exc, NotFoundError) else 422, refusal(refused)
    if isinstance(exc, RateLimited):
        return 429, {"error": str(exc), "field": None, "error_id": None}
    if isinstance(exc, BusyError):
        return 409, {"error": str(exc), "field": None, "error_id": None}
    if isinstance(exc, NoModelError | StorageError | WorkspaceClosedError) or _storage_fault(exc):
        said = str(exc) if isinstance(exc, NoModelError | StorageError | WorkspaceClosedError) else plain_fault(exc)
        return 503, {"error": without_paths(said), "field": None, "error_id": None}
    error_id = uuid.uuid4().hex[:12]
    log.error("API error %s on %s", error_id, where, exc_info=exc)
    message = f"internal error ({without_paths(plain_fault(exc))[:200]}); see the server log for error id {error_id}"
    return 500, {"error": message, "field": None, "error_id": error_id}


_SERVER_PATH = re.compile(r"(?<![\w:/.~-])/(?:[^\s/()'\"]+/)+([^\s/()'\"]+)")


def without_paths(message: str) -> str:
    """A message for a caller, without the server's folders: an absolute path is cut to its last part
    (`…/journal`). The server log and the dashboard, which are the operator's, keep the whole path."""
    return _SERVER_PATH.sub(r"…/\1", message)


def unreadable_body(exc: StarletteHTTPException) -> dict[str, Any] | None:
    """A 400 that Starlette or FastAPI raised for a body they could not read, as our 422 on the field `body`
    saying why: a multipart form that does not parse, JSON nested too deep for the parser, bytes that are not
    UTF-8 text. None for any other 400."""
    if exc.status_code != 400:
        return None
    if isinstance(exc.__context__, MultiPartException):
        return problem(f"body: not a readable multipart form ({exc.detail}): send the file as multipart/form-data", "body")
    cause = exc.__cause__
    if isinstance(cause, RecursionError):
        return problem(f"body: {TOO_DEEP}", "body")
    if isinstance(cause, UnicodeDecodeError):
        return problem("body: not valid JSON (not UTF-8 text)", "body")
    if too_many_digits(cause):
        return problem(f"body: {TOO_MANY_DIGITS}", "body")
    if cause is not None and "parsing the body" in str(exc.detail):
        return problem(f"body: not readable ({type(cause).__name__})", "body")
    return None


def _storage_fault(exc: BaseException) -> bool:
    """A write refused by a store (read-only, full, an I/O error): the service is unavailable, not broken."""
    lowered = plain_fault(exc).lower()
    return component_of(exc) in ("mlflow", "duckdb", "disk") and any(
        word in lowered for word in ("read-only", "disk is full", "cannot be written", "quota", "permission")
    )


def fields_beside(request: Request, loc: tuple) -> list[str]:
    """The fields the route's body takes, for an unknown one sent at its top level (`loc` is ("body", name)), so a
    misspelt `intervall` is answered with `interval` beside it; [] elsewhere (no body model has nested ones)."""
    model = getattr(getattr(getattr(request.scope.get("route"), "body_field", None), "field_info", None), "annotation", None)
    model = next((m for m in typing.get_args(model) if hasattr(m, "model_fields")), model)  # an optional body (POST /retrain)
    fields = getattr(model, "model_fields", None) if len(loc) == 2 else None
    return [f.alias or name for name, f in (fields or {}).items()]


BOUNDED = ("greater_than_equal", "less_than_equal", "int_parsing", "int_from_float")


def bounds_refusal(request: Request, error: dict) -> str | None:
    """A whole-number query or path parameter refused with both its limits and the value sent, as every other
    number's refusal is ("limit: expected a whole number from 1 to 1,000, got 0"), not Pydantic's one side of it."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") not in BOUNDED or len(loc) != 2 or loc[0] not in ("query", "path"):
        return None
    dependant = getattr(request.scope.get("route"), "dependant", None)
    params = [*getattr(dependant, "query_params", ()), *getattr(dependant, "path_params", ())]
    param = next((p for p in params if p.alias == loc[1]), None)
    if param is None or param.field_info.annotation is not int:
        return None
    low = next((m.ge for m in param.field_info.metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in param.field_info.metadata if hasattr(m, "le")), None)
    if low is None or high is None:
        return None
    return not_a_whole_number(error.get("input"), low, high)


def _refused(request: Request, error: dict) -> tuple[str, str]:
    """One field Pydantic refused, and why, as every other refusal says it."""
    field = ".".join(str(p) for p in error.get("loc", ())[1:]) or "body"
    if error.get("type") == "extra_forbidden":
        takes = fields_beside(request, tuple(error.get("loc", ())))
        told = f" (it takes {', '.join(takes)})" if takes else ""
        return field, f"{field}: unknown field: the API does not take it{told}"[:400]
    bounded = bounds_refusal(request, error)
    if bounded is not None:
        return field, f"{field}: {bounded}"[:300]
    said = _in_our_words(error)
    return field, f"{field}: {said or error.get('msg', 'invalid')}"[:300]


_EXPECTED = {  # Pydantic's error types, as every other refusal words them (tour 20: "Input should be a valid boolean, …")
    "bool_parsing": "true or false", "bool_type": "true or false", "dict_type": "a JSON object",
    "model_attributes_type": "a JSON object", "model_type": "a JSON object", "list_type": "a list",
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number", "string_type": "text",
}  # fmt: skip


def _in_our_words(error: dict) -> str | None:
    """A Pydantic refusal said as ours are: what the field takes and the value sent; a version path that is no
    version says how one is written, not the regular expression it failed."""
    sent = shown(error.get("input"))
    if error.get("type") in _EXPECTED:
        return f"expected {_EXPECTED[error['type']]}, got {sent}"
    if error.get("type") == "string_pattern_mismatch" and (error.get("ctx") or {}).get("pattern") == VERSION_PATTERN:
        return f"{sent} is not a version: write it as its label, v1.N.0 (v1.0.0 is the first), or as its registry number (1)"
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        unreadable = unreadable_body(exc)
        if unreadable is not None:
            return JSONResponse(unreadable, status_code=422)
        return JSONResponse(problem(without_paths(str(exc.detail))), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors() or [{"loc": ("body",), "msg": "invalid body"}]
        if errors[0].get("type") == "json_invalid":  # its loc holds a character offset, not a field
            at = errors[0].get("loc", (None, None))[1]
            detail = (errors[0].get("ctx") or {}).get("error", "JSON decode error")
            return JSONResponse(problem(f"body: not valid JSON at character {at}: {detail}"[:300], "body"), status_code=422)
        return JSONResponse(refusal([_refused(request, error) for error in errors[:MAX_REFUSALS]]), status_code=422)

    def known(request: Request, exc: Exception) -> JSONResponse:
        status, body = problem_of(exc, f"{request.method} {request.url.path}")
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))} if isinstance(exc, RateLimited) else None
        return JSONResponse(body, status_code=status, headers=headers)

    for kind in (UserInputError, NoModelError, StorageError, BusyError, WorkspaceClosedError, Exception):
        app.add_exception_handler(kind, known)
