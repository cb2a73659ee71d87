"""What every request passes before a route reads its body: the token, the methods of its path, its content type,
the query parameters its route reads (one it does not read is refused by name, as an unknown body field is).

In this order, so that a caller without the token learns nothing about the body it sent
(a malformed body is a 401 without the token, never a 422), and
with one reading of the `Authorization` header (two headers are refused: the fast path
and the routes would otherwise each pick a different one). The methods a path allows
are those of every route on it (Starlette alone would answer `OPTIONS /loop` and a wrong method
with `Allow: GET` only, though `/loop` also takes PUT). Every refusal has the documented
error shape (`error`, `field`, `error_id`).
"""

from __future__ import annotations

import hmac
import json
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from fastapi.params import File, Form

from core.domain.validation import MAX_SHOWN_NAME, clipped, named

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# Probes and scrapers may add a cache-busting parameter; they must get their answer, and nothing there reads one.
PROBES = frozenset({"/health", "/health/live", "/metrics"})
MAX_REMEMBERED_PATHS = 256
TOO_DEEP = f"JSON nested too deep to read (more than about {sys.getrecursionlimit():,} levels): send a flatter body"

Refusal = tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]


def problem(message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": message, "field": field, "error_id": None}


class RequestGate:
    """Pure ASGI middleware (no body is read here); `refusal` is also called by the /predict fast path."""

    def __init__(self, app: Any, token: str | None, routes: Sequence[Any]) -> None:
        self.app = app
        self.api_routes = routes
        self.expected = token.encode() if token else None
        self._routes: list[tuple[Any, frozenset[str], tuple[str, ...], frozenset[str] | None]] | None = None
        self._allowed: dict[str, frozenset[str]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refused = self.refusal(scope)
            if refused is not None:
                await reply(send, *refused)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: dict) -> Refusal | None:
        method, headers = scope["method"], scope["headers"]
        allowed = self.allowed(scope["path"])
        if not allowed:
            return None  # the router answers 404 in the same shape
        allow = [(b"allow", ", ".join(sorted(allowed | {"OPTIONS"})).encode())]
        if method == "OPTIONS":
            return 204, {}, allow
        if method not in allowed and not (method == "HEAD" and "GET" in allowed):
            return 405, problem(f"{method} is not allowed on {scope['path']}: use {', '.join(sorted(allowed))}", "method"), allow
        if method in MUTATING and self.expected is not None:
            why = token_refusal([v for k, v in headers if k == b"authorization"], self.expected)
            if why:
                return 401, problem(why, "Authorization"), [(b"www-authenticate", b"Bearer")]
        if method in MUTATING and _has_body(headers):
            wanted = self.content_types(scope["path"], method)
            given_type = _header(headers, b"content-type").split(";")[0].strip().lower()
            if wanted and given_type not in wanted:
                shown = given_type or "none"
                return 415, problem(f"Content-Type {shown} is not accepted here: send {' or '.join(wanted)}", "Content-Type"), []
        if scope.get("query_string") and scope["path"] not in PROBES:
            return self._unknown_query(scope["path"], method, scope["query_string"])
        return None

    def _unknown_query(self, path: str, method: str, query: bytes) -> Refusal | None:
        """A query parameter the route does not take is refused, as an unknown body field is: `?limt=3` was ignored,
        and the default limit answered as if it had been read."""
        takes = next((names for regex, methods, _types, names in self.routes() if method in methods and regex.match(path)), None)
        if takes is None:
            return None  # not one of ours (the docs, the metrics): left to it
        unknown = sorted({key for key, _value in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if key} - takes)
        if not unknown:
            return None
        accepted = f"{path} takes {', '.join(sorted(takes))}" if takes else f"{path} takes none"
        return 422, problem(f"unknown query parameter(s) {named(unknown)}: {accepted}", clipped(unknown[0], MAX_SHOWN_NAME)), []

    def allowed(self, path: str) -> frozenset[str]:
        """The methods of every route on `path`, remembered per path: /predict asks on every request."""
        known = self._allowed.get(path)
        if known is None:
            methods: set[str] = set()
            for regex, route_methods, _types, _query in self.routes():
                if regex.match(path):
                    methods |= route_methods
            known = frozenset(methods - {"HEAD"})
            if len(self._allowed) < MAX_REMEMBERED_PATHS:  # ids in paths make them many; the hot ones come first
                self._allowed[path] = known
        return known

    def content_types(self, path: str, method: str) -> tuple[str, ...]:
        for regex, route_methods, types, _query in self.routes():
            if method in route_methods and regex.match(path):
                return types
        return ()

    def routes(self) -> list[tuple[Any, frozenset[str], tuple[str, ...], frozenset[str] | None]]:
        """Each route's path pattern, methods, the content types its body takes and the query parameters it reads (None
        for a route not built by FastAPI's dependencies); read once, at the first request."""
        if self._routes is None:
            # A route kept out of the schema (/docs, /redoc, their OAuth redirect) reads what it likes: left to it.
            self._routes = [(r.path_regex, frozenset(r.methods or ()), _body_types(r),
                             _query_names(getattr(r, "dependant", None)) if getattr(r, "include_in_schema", True) else None)
                            for r in self.api_routes if hasattr(r, "methods")]  # fmt: skip
        return self._routes


def token_refusal(given: list[bytes], expected: bytes) -> str | None:
    """Why the `Authorization` headers sent do not carry the token, or None when they do. The scheme is
    case-insensitive (RFC 9110): `bearer` is `Bearer`. The token is only ever read from this header,
    never from the query string, which proxies and access logs keep."""
    if len(given) > 1:
        return "send one Authorization header"
    scheme, _, credentials = given[0].strip().partition(b" ") if given else (b"", b"", b"")
    if scheme.lower() != b"bearer" or not hmac.compare_digest(credentials.strip(), expected):
        return "missing or wrong bearer token (IA_API_TOKEN): send the header Authorization: Bearer <token>"
    return None


def routes_of(app: Any) -> list[Any]:
    """Every route of an app with its path pattern, those of included routers too: FastAPI (0.16x) keeps an
    included router as one lazy entry, which a gate reading only `app.router.routes` would never match."""
    found: list[Any] = []
    pending = list(app.router.routes)
    while pending:
        route = pending.pop(0)
        included = getattr(route, "original_router", None)
        if included is not None:
            pending[:0] = included.routes
        elif hasattr(route, "path_regex"):
            found.append(route)
    return found


def _query_names(dependant: Any) -> frozenset[str] | None:
    """The query parameters a route reads, those of its dependencies too."""
    if dependant is None:
        return None
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub) or set()
    return frozenset(names)


def _body_types(route: Any) -> tuple[str, ...]:
    params = getattr(getattr(route, "dependant", None), "body_params", None)
    if not params:
        return ()
    if any(isinstance(p.field_info, Form | File) for p in params):
        return FORM_TYPES
    return (JSON,)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k == name), "")


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    length = _header(headers, b"content-length")
    return bool(_header(headers, b"transfer-encoding")) or (length.isdigit() and int(length) > 0)


async def reply(send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode() if status != 204 else b""
    content = [(b"content-type", b"application/json")] if payload else []
    await send({"type": "http.response.start", "status": status,
                "headers": [*content, (b"content-length", str(len(payload)).encode()), *headers]})  # fmt: skip
    await send({"type": "http.response.body", "body": payload})
