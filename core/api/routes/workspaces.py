"""Workspaces built from a user's table: list them, preview what a file would become, create one.

An upload reaches a route as Starlette's spooled file (on disk past 1 MB); it is copied in chunks to a named
file of its own, which DuckDB reads (a small file's preview) or a child process reads (a large file's preview,
every creation): the bytes are never held in this process, nor a large table. Each request has its own file
and its own DuckDB connection, so requests run at once.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, File, Form, UploadFile

from core import workspaces
from core.api import replies
from core.api.deps import ERRORS, FORM_GUARD, RuntimeDep
from core.api.schemas import Problem
from core.domain.schema import KINDS
from core.domain.validation import shown
from core.errors import UserInputError

router = APIRouter(tags=["workspaces"])


@router.get("/workspaces")
def listed(rt: RuntimeDep) -> dict[str, Any]:
    """The named workspaces under the data folder, and the one this process serves (`demo`: data/ itself)."""
    return {"current": rt.settings.workspace_name, "workspaces": workspaces.list_workspaces(rt.settings.workspaces_dir)}


@router.post("/workspaces/preview", responses=ERRORS, dependencies=FORM_GUARD)
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
    filename = file.filename or "upload.csv"
    with uploaded(file.file, filename, rt.settings.max_upload_mb) as path:
        found = workspaces.preview_file(rt.settings, path, filename, choice)
    return {**found.document(), "head": replies.records(found.head)}


@router.post("/workspaces", status_code=201, responses={**ERRORS, 409: {"model": Problem}}, dependencies=FORM_GUARD)
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
    """A new workspace from the file, trained (v1.0.0); its `summary` names its folder and the command that serves it.
    This process keeps serving its own workspace. A name taken (or being created by another request) is a 409."""
    steps: list[str] = []
    choice = workspaces.TableChoice(target, _kinds(kinds), time_column or None, id_column or None, initial_rows)
    filename = file.filename or "upload.csv"
    with uploaded(file.file, filename, rt.settings.max_upload_mb) as path:
        summary = workspaces.create_from_upload(rt.settings, name, path, filename, choice, steps.append)
    return {"name": name, "steps": steps, "summary": summary, "workspaces": workspaces.list_workspaces(rt.settings.workspaces_dir)}


CHUNK = 2**20


@contextmanager
def uploaded(source: BinaryIO, filename: str, max_mb: float) -> Iterator[Path]:
    """The upload copied, a chunk at a time, to a file of its own named like it (DuckDB tells Parquet from CSV by the
    name), removed afterwards; past `max_mb` it is refused before the rest is copied."""
    limit = int(max_mb * 2**20)
    suffix = ".parquet" if filename.lower().endswith(".parquet") else ".csv"
    with tempfile.NamedTemporaryFile(prefix="ia-continu-upload-", suffix=suffix) as target:
        copied = 0
        while chunk := source.read(CHUNK):
            copied += len(chunk)
            if copied > limit:
                raise UserInputError("file", f"larger than the limit of {max_mb:g} MB (IA_MAX_UPLOAD_MB)")
            target.write(chunk)
        target.flush()
        yield Path(target.name)


def _kinds(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise UserInputError("kinds", 'expected a JSON object such as {"plan": "categorical"}') from None
    if not isinstance(value, dict):
        raise UserInputError("kinds", f"expected an object of column names to one of {', '.join(KINDS)}, got {str(value)[:60]}")
    wrong = [f"{k} = {shown(v)}" for k, v in value.items() if not isinstance(v, str) or v not in KINDS]
    if wrong:  # each column named with what it was given (tour 11: neither was)
        raise UserInputError("kinds", f"a kind is one of {', '.join(KINDS)}; got {', '.join(wrong)[:200]}")
    return value
