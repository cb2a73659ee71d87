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
TOO_MANY_DIGITS = (f"holds a number of more than {sys.get_int_max_str_digits():,} digits, which Python will not read: no "
                   "field takes one that long")  # fmt: skip


def too_many_digits(exc: BaseException | None) -> bool:
    """Valid JSON that Python's parser refuses: an integer past its digit limit (tour 20: 5,000 digits read "not valid
    JSON" on /predict and "not readable (ValueError)" elsewhere)."""
    return isinstance(exc, ValueError) and "integer string conversion" in str(exc)


NO_BODY_READ = 64  # bytes of a body sent where none is read: enough to tell `{}` from something
Refusal = tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]
RouteFacts = tuple[Any, frozenset[str], tuple[str, ...], frozenset[str] | None, bool]


def problem(message: str, field: str | None = None) -> dict[str, Any]:
    """The error body every refusal has; one naming a field lists it in `errors` too, as `refusal` lists several."""
    return {"error": message, "field": field, "error_id": None} if field is None else refusal([(field, message)])


def refusal(refused: list[tuple[str, str]]) -> dict[str, Any]:
    """Bad input's body: `error` says every field refused, `field` names the first, and `errors` lists each one's
    field and message, so a caller fixes them all in one round."""
    return {"error": "; ".join(message for _field, message in refused), "field": refused[0][0], "error_id": None,
            "errors": [{"field": field, "error": message} for field, message in refused]}  # fmt: skip


class RequestGate:
    """Pure ASGI middleware (no body is read here); `refusal` is also called by the /predict fast path."""

    def __init__(self, app: Any, token: str | None, routes: Sequence[Any]) -> None:
        self.app = app
        self.api_routes = routes
        self.expected = token.encode() if token else None
        self._routes: list[RouteFacts] | None = None
        self._allowed: dict[str, frozenset[str]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if scope["method"] == "HEAD" and "GET" in self.allowed(scope["path"]):
                scope, send = {**scope, "method": "GET"}, _headers_only(send)
            refused = self.refusal(scope)
            if refused is None and self.takes_no_body(scope):
                sent, receive = await _first_bytes(receive, NO_BODY_READ)
                refused = self._unwanted_body(scope, sent)
            if refused is not None:
                await reply(send, *refused)
                return
        await self.app(scope, receive, send)

    def takes_no_body(self, scope: dict) -> bool:
        """A route of ours with nothing to read in a body (POST /cycles, DELETE /datasets/3), sent one anyway."""
        if scope["method"] not in MUTATING or not _has_body(scope["headers"]):
            return False
        route = self._route(scope["path"], scope["method"])
        return route is not None and route[4]

    def _unwanted_body(self, scope: dict, sent: bytes) -> Refusal | None:
        """A body where none is read was ignored, as if its fields had been applied: refused, as an unknown field is.
        Nothing at all, or an empty JSON object (what some clients send by default), is no body."""
        if sent.strip() in (b"", b"{}"):
            return None
        route = self._route(scope["path"], scope["method"])
        takes = sorted(route[3] or ()) if route else []
        options = f" (its options are query parameters: {', '.join(takes)})" if takes else ""
        return 422, problem(f"{scope['method']} {scope['path']} takes no body{options}: send none", "body"), []

    def refusal(self, scope: dict) -> Refusal | None:
        method, headers = scope["method"], scope["headers"]
        allowed = self.allowed(scope["path"])
        if not allowed:
            return None  # the router answers 404 in the same shape
        allow = [(b"allow", ", ".join(sorted(allowed | {"OPTIONS"} | ({"HEAD"} if "GET" in allowed else set()))).encode())]
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
        route = self._route(path, method)
        takes = route[3] if route else None
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
            for regex, route_methods, *_ in self.routes():
                if regex.match(path):
                    methods |= route_methods
            known = frozenset(methods - {"HEAD"})
            if len(self._allowed) < MAX_REMEMBERED_PATHS:  # ids in paths make them many; the hot ones come first
                self._allowed[path] = known
        return known

    def content_types(self, path: str, method: str) -> tuple[str, ...]:
        route = self._route(path, method)
        return route[2] if route else ()

    def _route(self, path: str, method: str) -> RouteFacts | None:
        return next((r for r in self.routes() if method in r[1] and r[0].match(path)), None)

    def routes(self) -> list[RouteFacts]:
        """Each route's path pattern, methods, the content types its body takes, the query parameters it reads (None
        for a route not built by FastAPI's dependencies) and whether it reads no body at all; read once, at the first
        request."""
        if self._routes is None:
            # A route kept out of the schema (/docs, /redoc, their OAuth redirect) reads what it likes: left to it.
            self._routes = [(r.path_regex, frozenset(r.methods or ()), _body_types(r),
                             _query_names(getattr(r, "dependant", None)) if getattr(r, "include_in_schema", True) else None,
                             _reads_no_body(r))
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


def _reads_no_body(route: Any) -> bool:
    """A route of ours that neither declares a body nor reads the request itself (the replicas' Arrow ingest does)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None or not getattr(route, "include_in_schema", True):
        return False
    return not dependant.body_params and dependant.request_param_name is None


async def _first_bytes(receive: Any, limit: int) -> tuple[bytes, Any]:
    """Up to `limit` bytes of the body (more is not needed to refuse it), and a `receive` that hands them on."""
    sent, more = b"", True
    while more and len(sent) <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return sent, receive
        sent += message.get("body", b"")
        more = message.get("more_body", False)
    pending = [{"type": "http.request", "body": sent, "more_body": more}]

    async def replay() -> dict:
        return pending.pop() if pending else await receive()

    return sent, replay


def _headers_only(send: Any) -> Any:
    """HEAD answered as GET without its body (RFC 9110: a server supports HEAD wherever GET is; uptime probes send
    it): FastAPI's routes take GET alone, and answered 405 to HEAD /health."""

    async def headers_only(message: dict) -> None:
        await send({**message, "body": b""} if message["type"] == "http.response.body" else message)

    return headers_only


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
