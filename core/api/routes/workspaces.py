"""Workspaces built from a user's table: list them, preview what a file would become, create one."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from core import workspaces
from core.api import replies
from core.api.deps import ERRORS, GUARD, RuntimeDep
from core.errors import UserInputError
from core.schema import KINDS

router = APIRouter(tags=["workspaces"])


@router.get("/workspaces")
def listed(rt: RuntimeDep) -> dict[str, Any]:
    """The named workspaces under the data folder, and the one this process serves (`demo`: data/ itself)."""
    return {"current": rt.settings.workspace or "demo", "workspaces": workspaces.list_workspaces(rt.settings.workspaces_dir)}


@router.post("/workspaces/preview", responses=ERRORS, dependencies=GUARD)
def preview(
    rt: RuntimeDep,
    file: Annotated[UploadFile, File(description="A CSV or Parquet file with a header row")],
    target: Annotated[str, Form(description="The column to predict")],
    kinds: Annotated[str | None, Form(description='JSON object of column kinds to override, e.g. {"plan": "categorical"}')] = None,
    time_column: Annotated[str | None, Form()] = None,
    id_column: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    """The schema the file suggests (with the overrides), its rows and classes, and its first rows: nothing is stored."""
    choice = workspaces.TableChoice(target, _kinds(kinds), time_column or None, id_column or None)
    found, _ = workspaces.preview(
        _upload(rt, file), file.filename or "upload.csv", choice, rt.settings.max_samples_per_request, rt.settings.holdout_fraction
    )
    return {**found.document(), "head": replies.records(found.head)}


@router.post("/workspaces", status_code=201, responses=ERRORS, dependencies=GUARD)
def create(
    rt: RuntimeDep,
    file: Annotated[UploadFile, File(description="A CSV or Parquet file with a header row")],
    name: Annotated[str, Form(description="1 to 64 letters, digits, - or _")],
    target: Annotated[str, Form(description="The column to predict")],
    kinds: Annotated[str | None, Form(description='JSON object of column kinds to override, e.g. {"plan": "categorical"}')] = None,
    time_column: Annotated[str | None, Form()] = None,
    id_column: Annotated[str | None, Form()] = None,
    initial_rows: Annotated[
        int | None, Form(description="Train v1.0.0 on the first N rows and replay the rest as the stream (default: all rows)")
    ] = None,
) -> dict[str, Any]:
    """A new workspace from the file, trained (v1.0.0) and ready to serve with `make run WORKSPACE=name`.
    This process keeps serving its own workspace."""
    steps: list[str] = []
    choice = workspaces.TableChoice(target, _kinds(kinds), time_column or None, id_column or None, initial_rows)
    summary = workspaces.create_from_upload(rt.settings, name, _upload(rt, file), file.filename or "upload.csv", choice, steps.append)
    return {"name": name, "steps": steps, "summary": summary, "workspaces": workspaces.list_workspaces(rt.settings.workspaces_dir)}


def _upload(rt: RuntimeDep, file: UploadFile) -> bytes:
    limit = int(rt.settings.max_upload_mb * 2**20)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise UserInputError("file", f"larger than the limit of {rt.settings.max_upload_mb:g} MB (IA_MAX_UPLOAD_MB)")
    return data


def _kinds(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise UserInputError("kinds", 'expected a JSON object such as {"plan": "categorical"}') from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and v in KINDS for k, v in value.items()):
        raise UserInputError("kinds", f"expected an object of column names to one of {', '.join(KINDS)}")
    return value
