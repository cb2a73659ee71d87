"""What serving replicas send the workbench (their prediction logs) and what it knows of them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from core.api import replies
from core.api.deps import ERRORS, GUARD, RuntimeDep
from core.api.request_guard import problem
from core.errors import UserInputError
from core.services.ingest import ARROW_STREAM, BATCH_HEADER, REPLICA_HEADER

router = APIRouter(tags=["replicas"])

ARROW_BODY = {"requestBody": {"required": True, "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}}}}


@router.post("/ingest/predictions", responses=ERRORS, dependencies=GUARD, openapi_extra=ARROW_BODY)
async def ingest_predictions(
    rt: RuntimeDep,
    request: Request,
    replica: Annotated[str | None, Header(alias=REPLICA_HEADER, max_length=64)] = None,
    batch: Annotated[str | None, Header(alias=BATCH_HEADER, max_length=64)] = None,
) -> Any:
    """A replica's prediction log, one journal segment a request, as an Arrow IPC stream in the log's columns. Stored
    with the replica named on each row, once: the same replica and batch id sent again stores nothing (`stored: false`)."""
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given != ARROW_STREAM:
        return JSONResponse(problem(f"Content-Type {given or 'none'} is not accepted here: send {ARROW_STREAM}", "Content-Type"), 415)
    limit = int(rt.settings.max_upload_mb * 2**20)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise UserInputError("body", f"larger than the limit of {rt.settings.max_upload_mb:g} MB (IA_MAX_UPLOAD_MB)")
    return await run_in_threadpool(rt.serving.ingest_forwarded, replica, batch, bytes(body))


@router.get("/replicas")
def replicas(rt: RuntimeDep) -> dict[str, Any]:
    """Each replica that forwarded predictions: its batches and rows still kept, and when it last sent."""
    return {"replicas": replies.records(rt.insights.replica_traffic())}
