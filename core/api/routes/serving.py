"""Predictions (`predict_router`, which serving replicas mount too), labels for them and explanations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from core.api import replies
from core.api.deps import ERRORS, GUARD, NOT_FOUND, RuntimeDep
from core.api.schemas import (
    VERSION_PATTERN,
    BatchReply,
    BatchRequest,
    FeedbackReply,
    FeedbackRequest,
    PredictReply,
    PredictRequest,
)
from core.domain.outcomes import parse_version, version_label
from core.domain.prediction_ids import checked_id

router = APIRouter(tags=["serving"])
predict_router = APIRouter(tags=["serving"])


@predict_router.post("/predict", response_model=PredictReply, responses=ERRORS, dependencies=GUARD)
def predict(rt: RuntimeDep, body: PredictRequest) -> dict[str, Any]:
    """One row. Served by `FastPredict` in front of the app (same runtime call, same reply, same errors);
    this route documents it and answers when the app is used without the fast path."""
    return replies.prediction(rt.serving.predict(body.features, source="api", prediction_id=body.prediction_id))


@predict_router.post("/predict/batch", response_model=BatchReply, responses=ERRORS, dependencies=GUARD)
def predict_batch(rt: RuntimeDep, body: BatchRequest) -> BatchReply:
    result = rt.serving.predict_batch(body.rows, source="api-batch", prediction_ids=body.prediction_ids)
    return BatchReply(
        predictions=result.labels, confidences=result.confidence.tolist(), probabilities=result.proba.tolist(),
        model_version=version_label(result.model_version), count=len(result.proba), timestamp=result.timestamp.isoformat() + "Z",
        prediction_ids=result.prediction_ids, unseen=result.unseen or [[] for _ in result.prediction_ids],
    )  # fmt: skip


@router.post("/feedback", response_model=FeedbackReply, responses=ERRORS, dependencies=GUARD)
def feedback(rt: RuntimeDep, body: FeedbackRequest) -> dict[str, Any]:
    """Labels for served predictions, by prediction id. Each new label becomes an incoming labelled row of the
    loop (the next cycle's realised accuracy, coverage and delay rest on it), stored before the reply. Unknown
    ids, ids whose prediction was archived (expired) and ids already labelled are listed, not stored; the rest are."""
    return rt.feedback.send(body.labels, body.correct).as_dict()


@router.post("/explain", responses=NOT_FOUND, dependencies=GUARD)
def explain(
    rt: RuntimeDep, body: PredictRequest, version: Annotated[str | None, Query(pattern=VERSION_PATTERN, max_length=12)] = None
) -> dict[str, Any]:
    """Why the champion (or `version`) predicts what it does for one row: each feature's contribution to
    the log-odds of class 1. In a workspace built from a table, `columns` holds one entry per schema column, in
    the schema's order: its value as checked, its contribution (its one-hot parts added up) and whether the model
    never saw its category (`unseen`); `features`, `values` and `contributions` are the same, as parallel lists.
    Nothing is logged: this is not a prediction."""
    if body.prediction_id is not None:  # the body is /predict's: an id in it is held to the same rule
        checked_id(body.prediction_id)
    explained = rt.insights.explain(body.features, parse_version(version) if version else None)
    return {**explained, "model_version": version_label(explained.pop("version"))}
