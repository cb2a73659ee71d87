"""The registry: list, inspect, train, promote, reject."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from core.api import replies
from core.api.deps import ERRORS, GUARD, NOT_FOUND, RuntimeDep, VersionPath, now
from core.api.schemas import Problem, RetrainReply, RetrainRequest
from core.domain.outcomes import no_such_version, parse_version, version_label
from core.errors import UserInputError
from core.ml.training import TrainingOptions

router = APIRouter(tags=["models"])


@router.get("/models")
def models(rt: RuntimeDep) -> list[dict[str, Any]]:
    return [replies.model_row(r) for r in replies.stored(rt.insights.models())]


@router.get("/models/{version}", responses=NOT_FOUND)
def model(rt: RuntimeDep, version: VersionPath) -> dict[str, Any]:
    """The version's record, and its realised accuracy: every label received for the predictions it served
    (whoever served when the labels came), `accuracy` null when none came."""
    number = parse_version(version)
    found = rt.insights.model(number)
    if found is None:
        raise no_such_version(number)
    realised = rt.insights.realised_of(number)
    return replies.model_row(replies.record(found)) | {"realised": {"labels": realised.labels, "accuracy": realised.accuracy}}


@router.get("/models/{version}/evaluation", responses=NOT_FOUND)
def evaluation(rt: RuntimeDep, version: VersionPath) -> dict[str, Any]:
    """What the Models page draws: confusion counts, ROC and PR curves, calibration bins, intervals and
    coefficients, computed from the version's holdout when it was trained."""
    number = parse_version(version)
    stored = rt.insights.evaluation(number)
    if stored is None:
        raise HTTPException(404, f"no evaluation for {version}: unknown, or trained before evaluations were stored")
    return {"model_version": version_label(number), **stored}


@router.post("/retrain", response_model=RetrainReply, responses={**ERRORS, 409: {"model": Problem}, 429: {"model": Problem}},
             dependencies=GUARD)  # fmt: skip
def retrain(rt: RuntimeDep, body: RetrainRequest | None = None) -> RetrainReply:
    body = body or RetrainRequest()
    if not isinstance(body.promote, bool):
        raise UserInputError("promote", f"expected true or false, got {str(body.promote)[:40]}")
    options = TrainingOptions(body.C, body.class_weight)
    outcome = rt.models.train(
        trigger="api", window_rows=body.window_rows, dataset_ids=body.dataset_ids, options=options, promote=body.promote
    )
    return RetrainReply(
        status=outcome.status, model_version=outcome.label, training_samples=outcome.n_rows, accuracy=outcome.metrics.get("accuracy"),
        promoted=outcome.decision is not None and outcome.decision.promoted, reason=outcome.reason, timestamp=now(),
    )  # fmt: skip


@router.post("/models/{version}/promote", responses=NOT_FOUND, dependencies=GUARD)
def promote(rt: RuntimeDep, version: VersionPath) -> dict[str, Any]:
    """Promote a version: approve a challenger waiting under the approve policy, or roll back to an earlier one."""
    decision = rt.models.promote(parse_version(version))
    return {"model_version": version_label(decision.version), "promoted": True, "reason": decision.reason}


@router.post("/models/{version}/reject", responses=NOT_FOUND, dependencies=GUARD)
def reject(rt: RuntimeDep, version: VersionPath) -> dict[str, Any]:
    decision = rt.models.reject(parse_version(version))
    return {"model_version": version_label(decision.version), "promoted": False, "reason": decision.reason}
