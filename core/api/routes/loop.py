"""The loop: its cycles, the latest drift tests, its state and controls, the stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi import Path as PathParam

from core.api import replies
from core.api.deps import ERRORS, GUARD, RuntimeDep
from core.api.schemas import LoopUpdate, Problem, StreamUpdate
from core.errors import BusyError

router = APIRouter(tags=["loop"])


@router.get("/cycles")
def cycles(
    rt: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Annotated[int, Query(ge=0, le=10**9)] = 0
) -> dict[str, Any]:
    """Monitoring cycles, newest first."""
    return {"cycles": replies.stored(rt.insights.cycles_page(limit, offset)), "limit": limit, "offset": offset}


@router.get("/cycles/{cycle_id}", responses={404: {"model": Problem}})
def cycle(rt: RuntimeDep, cycle_id: Annotated[int, PathParam(ge=1, le=2**62)]) -> dict[str, Any]:
    """One cycle in full: its record and verdict, per-feature tests, the gate's events and its alerts."""
    detail = rt.insights.cycle_detail(cycle_id)
    if detail is None:
        page = rt.insights.cycles_page(1, 0)
        newest = int(page["cycle_id"].iloc[0]) if not page.empty else 0
        why = ("not run yet" if cycle_id > newest else
               "archived by retention, or stopped before it was recorded (a process killed mid-cycle: the next cycle read its rows)")  # fmt: skip
        raise HTTPException(404, f"no cycle {cycle_id}: {why}; the newest is {newest}")
    alerts = [{k: v for k, v in a.items() if k != "payload"} for a in detail.alerts]
    return {"cycle": replies.record(detail.cycle), "drift": replies.records(detail.drift),
            "gate_events": replies.records(detail.gate_events), "alerts": [replies.record(a) for a in alerts]}  # fmt: skip


@router.post("/cycles", status_code=202, responses={200: {"description": "The cycle ran (wait=true)"}, 409: {"model": Problem}},
             dependencies=GUARD)  # fmt: skip
def run_cycle(
    rt: RuntimeDep,
    response: Response,
    wait: Annotated[bool, Query(description="Run the cycle in this request (after one under way) and answer with its record")] = False,
) -> dict[str, Any]:
    """Run one cycle now, in the background (202; 409 while one runs); with `wait=true`, in this request, answering
    200 with the cycle's status (`ok` or `error`) and record: what an orchestrator (`orchestration/flow.py`) calls."""
    if wait:
        record = rt.loop.run_cycle("api")
        response.status_code = 200
        return {"status": record.status, "cycle": replies.record(record.row())}
    outcome = rt.loop.run_now("api")
    if not outcome.accepted:
        raise BusyError(outcome.reason)
    return {"status": "started", "detail": outcome.reason}


@router.post("/maintenance", responses=ERRORS, dependencies=GUARD)
def maintenance(rt: RuntimeDep) -> dict[str, Any]:
    """Retention (archive to Parquet, then delete) and a DuckDB checkpoint, between cycles: what the in-process worker does
    every IA_RETENTION_INTERVAL, for a workbench whose cycles an orchestrator runs (IA_SCHEDULER_AUTOSTART=false)."""
    return {"moved": rt.loop.run_maintenance()}


@router.get("/drift/latest")
def drift_latest(rt: RuntimeDep) -> dict[str, Any]:
    report = rt.insights.drift_results()
    cycle_id = int(report["cycle_id"].iloc[0]) if not report.empty else None
    return {"cycle_id": cycle_id, "verdict": rt.insights.cycle_verdict(cycle_id) if cycle_id else None, "features": replies.records(report)}


@router.get("/loop")
def get_loop(rt: RuntimeDep) -> dict[str, Any]:
    return rt.loop.state()


@router.put("/loop", responses=ERRORS, dependencies=GUARD)
def put_loop(rt: RuntimeDep, body: LoopUpdate) -> dict[str, Any]:
    rt.loop.update(body.state, body.interval, body.policy, body.thresholds or {})
    return rt.loop.state()


@router.get("/stream")
def get_stream(rt: RuntimeDep) -> dict[str, Any]:
    return rt.loop.stream_info()


@router.put("/stream", responses=ERRORS, dependencies=GUARD)
def put_stream(rt: RuntimeDep, body: StreamUpdate) -> dict[str, Any]:
    rt.loop.update_stream(**body.model_dump(exclude_none=True))
    return rt.loop.stream_info()
