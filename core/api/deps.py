"""What every route depends on: the runtime it serves, the token guard, the path and query types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam

from core.api.request_guard import MUTATING, token_refusal
from core.api.schemas import VERSION_PATTERN, Problem
from core.domain.validation import MAX_SHOWN_NAME, clipped, named
from core.errors import UserInputError
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
    why = token_refusal([v.encode("latin-1") for v in request.headers.getlist("authorization")], token.encode())
    if why:
        raise HTTPException(401, why, headers={"WWW-Authenticate": "Bearer"})


async def known_form_fields(request: Request) -> None:
    """A form's field the route does not read is refused by name, as an unknown JSON field is (tour 20: POST /workspaces
    with foo=1 created the workspace without a word). Starlette keeps the form it parsed: it is not read twice."""
    takes = {param.alias for param in request.scope["route"].dependant.body_params}
    unknown = [name for name in dict.fromkeys((await request.form()).keys()) if name not in takes]
    if unknown:
        raise UserInputError(
            clipped(unknown[0], MAX_SHOWN_NAME), f"unknown field(s) {named(unknown)}: the form takes {', '.join(sorted(takes))}"
        )


RuntimeDep = Annotated[Runtime, Depends(current_runtime)]
GUARD = [Depends(authorised)]
FORM_GUARD = [*GUARD, Depends(known_form_fields)]
VersionPath = Annotated[str, PathParam(pattern=VERSION_PATTERN, max_length=12, description="v1.2.0 or a registry number")]
DatasetIdPath = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
