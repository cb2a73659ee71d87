"""POST /predict as plain ASGI in front of FastAPI: the one call load tests hammer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from core.api import replies
from core.api.errors import problem_of
from core.api.request_guard import TOO_DEEP, TOO_MANY_DIGITS, RequestGate, reply, too_many_digits
from core.errors import UserInputError

if TYPE_CHECKING:
    from core.runtime import Runtime


class FastPredict:
    """POST /predict as plain ASGI in front of FastAPI: the one call load tests hammer.

    FastAPI's routing, dependency injection and body model cost several times the prediction
    itself; this path parses the JSON, checks the token, calls the same `Serving.predict` and
    maps errors with the same `problem_of`. The FastAPI route stays for /docs and the schema.
    """

    MAX_BODY = 1 << 20

    def __init__(self, app: Any, rt: Runtime) -> None:
        self.app, self.rt = app, rt
        self.gate = RequestGate(app, rt.settings.api_token, app.state.api_routes)  # the same checks, in the same order, as every route

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

    def _expected(self) -> str:
        """A body this workspace takes, in a refusal: the demo's list of numbers, or a table's named values (the list
        form is refused there, so suggesting it sent people the wrong way)."""
        schema = self.rt.serving.schema
        if schema is None or schema.plain:
            return json.dumps({"features": [1.5] * (2 if schema is None else len(schema.names))})
        shown = {c.name: (c.categories[0] if c.categories else "...") if c.kind == "categorical" else 1.5 for c in schema.features[:3]}
        return json.dumps({"features": shown} if len(schema.features) <= 3 else {"features": shown | {"...": "..."}}, ensure_ascii=False)

    def _answer(self, body: bytes) -> tuple[int, dict[str, Any], list]:
        try:
            if len(body) > self.MAX_BODY:
                raise UserInputError("body", f"larger than {self.MAX_BODY:,} bytes: send one row of features")
            try:
                data = json.loads(body)
            except ValueError as unread:  # a UnicodeDecodeError too
                if too_many_digits(unread):
                    raise UserInputError("body", TOO_MANY_DIGITS) from None
                raise UserInputError("body", f"not valid JSON: expected {self._expected()}") from None
            except RecursionError:
                raise UserInputError("body", TOO_DEEP) from None
            if not isinstance(data, dict) or "features" not in data:
                raise UserInputError("features", f"Field required: expected {self._expected()}")
            unknown = sorted(set(data) - {"features", "prediction_id"})
            if unknown:
                raise UserInputError(
                    unknown[0], f"unknown field: the API does not take it (only features and prediction_id); got {', '.join(unknown)[:100]}"
                )
            result = self.rt.serving.predict(data["features"], source="api", prediction_id=data.get("prediction_id"))
        except Exception as exc:
            status, body = problem_of(exc, "POST /predict")
            return status, body, []
        return 200, replies.prediction(result), []
