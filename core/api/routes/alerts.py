"""The alert log and a test message to the webhook."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from core.api import replies
from core.api.deps import GUARD, RuntimeDep

router = APIRouter(tags=["alerts"])


@router.get("/alerts")
def alerts(rt: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    return replies.records(rt.insights.notifications(limit))


@router.post("/alerts/test", dependencies=GUARD)
def test_alert(rt: RuntimeDep) -> dict[str, Any]:
    """Queued to the webhook; with none set, stored as not sent, and the reply says so (`sent` false)."""
    masked_url, configured = rt.health.webhook()
    said = {} if configured else {"detail": "no webhook is set (DISCORD_WEBHOOK_URL): stored as not sent"}
    return {"notification_id": rt.health.send_test_message(), "webhook": masked_url, "sent": configured, **said}
