"""What every route depends on: the runtime it serves, the token guard, the path and query types."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam

from core.api.gate import MUTATING
from core.api.schemas import VERSION_PATTERN, Problem
from core.runtime import Runtime

ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Problem}, 415: {"model": Problem}, 422: {"model": Problem},
                                           503: {"model": Problem}}  # fmt: skip
NOT_FOUND = ERRORS | {404: {"model": Problem}}


def current_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def authorised(request: Request) -> None:
    """Checked before any body is read by `RequestGate`; here again so /docs shows which routes need it."""
    token = current_runtime(request).settings.api_token
    if not token or request.method not in MUTATING:
        return
    given = request.headers.getlist("authorization")
    if len(given) != 1 or not hmac.compare_digest(given[0].encode(), f"Bearer {token}".encode()):
        raise HTTPException(401, "missing or wrong bearer token (IA_API_TOKEN)", headers={"WWW-Authenticate": "Bearer"})


RuntimeDep = Annotated[Runtime, Depends(current_runtime)]
GUARD = [Depends(authorised)]
VersionPath = Annotated[str, PathParam(pattern=VERSION_PATTERN, max_length=12, description="v1.2.0 or a registry number")]
DatasetIdPath = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
