"""Datasets: generate, upload, list, rename or tag, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from core.api import replies
from core.api.deps import ERRORS, FORM_GUARD, GUARD, DatasetIdPath, RuntimeDep, now
from core.api.schemas import DatasetReply, DatasetUpdate, GenerateRequest
from core.errors import UserInputError

router = APIRouter(tags=["data"])


@router.post("/generate", response_model=DatasetReply, responses=ERRORS, dependencies=GUARD)
def generate(rt: RuntimeDep, body: GenerateRequest) -> DatasetReply:
    return replies.dataset(rt.data.generate(body.samples, body.scenario, body.strength, body.seed, body.role), now())


@router.get("/schema")
def schema(rt: RuntimeDep) -> dict[str, Any]:
    """The workspace's columns (numeric, categorical or ignored; missing values allowed or not; the known
    categories), its target and classes, and its time and id columns: what /predict and imports take."""
    return rt.schema.document()


@router.get("/datasets")
def datasets(rt: RuntimeDep) -> list[dict[str, Any]]:
    return replies.stored(rt.insights.datasets())


@router.post("/datasets", response_model=DatasetReply, responses=ERRORS, dependencies=FORM_GUARD)
def upload(
    rt: RuntimeDep,
    file: Annotated[UploadFile, File()],
    role: Annotated[str, Form()] = "library",
    name: Annotated[str | None, Form()] = None,
) -> DatasetReply:
    """A labelled CSV (feature_1..feature_n, target) as a library dataset, or sent to the loop (role incoming)."""
    limit = int(rt.settings.max_upload_mb * 2**20)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise UserInputError("file", f"larger than the limit of {rt.settings.max_upload_mb:g} MB (IA_MAX_UPLOAD_MB)")
    return replies.dataset(rt.data.import_csv(data, name=name or file.filename or "upload.csv", role=role), now())


@router.patch("/datasets/{dataset_id}", responses=ERRORS, dependencies=GUARD)
def update_dataset(rt: RuntimeDep, dataset_id: DatasetIdPath, body: DatasetUpdate) -> dict[str, Any]:
    """Rename or tag a dataset."""
    return replies.record(rt.data.update(dataset_id, body.name, body.tags))


@router.delete("/datasets/{dataset_id}", responses=ERRORS, dependencies=GUARD)
def delete_dataset(rt: RuntimeDep, dataset_id: DatasetIdPath) -> dict[str, Any]:
    """Delete a library dataset; 422 with the reason for data the loop read or a model was trained on."""
    return {"dataset_id": dataset_id, "deleted_rows": rt.data.delete(dataset_id)}
