"""The workspace doors of the REST API under concurrent use, on a real server (uvicorn on a port, over a real
runtime): previews at once each read their own file, two creations of one name leave the first one's workspace
and answer the second with a 409 naming it, and an upload is copied to a file a chunk at a time."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from core import workspaces
from core.api import ApiServer
from core.api.routes.workspaces import CHUNK, uploaded
from core.config import Settings
from core.errors import UserInputError
from core.runtime import Runtime
from core.store import Store
from tests.core.test_workspace_switching import SPECIES, penguins
from tests.fixtures import make_settings
from tests.servers import free_port
from tests.waiting import wait_until


@pytest.fixture
def server(tmp_path: Path, mlflow_template: Path) -> Iterator[tuple[str, Settings]]:
    settings = replace(make_settings(tmp_path / "data", mlflow_template), api_enabled=True, api_port=free_port())
    rt = Runtime(settings)
    api = ApiServer(rt)
    rt.attach_server(api)
    base = f"http://127.0.0.1:{settings.api_port}"
    try:
        wait_until(lambda: _answers(f"{base}/health"), what="the API to listen")
        yield base, settings
    finally:
        rt.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.ConnectionError:
        return False


def _csv(rows: int, seed: int) -> bytes:
    return penguins(rows, seed).to_csv(index=False).encode()


def test_sixty_previews_at_once_all_answer_with_the_file_s_schema(server: tuple[str, Settings]) -> None:
    base, settings = server
    data = _csv(600, seed=3)

    def preview(i: int) -> requests.Response:
        return requests.post(f"{base}/workspaces/preview", files={"file": (f"penguins-{i}.csv", data)}, data={"target": "species"},
                             timeout=120)  # fmt: skip

    with ThreadPoolExecutor(60) as pool:
        replies = list(pool.map(preview, range(60)))
    failed = [(r.status_code, r.text[:200]) for r in replies if r.status_code != 200]
    assert not failed, f"{len(failed)} of 60 failed: {failed[:3]}"
    assert {r.json()["n_rows"] for r in replies} == {600}
    assert {tuple(sorted(r.json()["class_counts"])) for r in replies} == {SPECIES}
    assert not (settings.workspaces_dir / "penguins").exists()  # a preview stores nothing


def test_two_creations_of_one_name_at_once_the_first_wins_the_second_is_a_409_naming_it(server: tuple[str, Settings]) -> None:
    base, settings = server
    files = {300: _csv(300, seed=4), 420: _csv(420, seed=5)}

    def create(rows: int) -> requests.Response:
        return requests.post(f"{base}/workspaces", files={"file": ("penguins.csv", files[rows])}, data={"name": "penguins",
                             "target": "species"}, timeout=300)  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        replies = dict(zip(files, pool.map(create, files), strict=True))
    assert sorted(r.status_code for r in replies.values()) == [201, 409], {n: r.text[:300] for n, r in replies.items()}
    won = next(rows for rows, r in replies.items() if r.status_code == 201)
    refused = next(r for r in replies.values() if r.status_code == 409).json()
    assert refused["field"] == "name" and "'penguins'" in refused["error"] and refused["error_id"] is None
    store = Store(settings.workspaces_dir / "penguins" / "ia_continu.duckdb", 2)  # the winner's rows, its model: untouched
    try:
        assert store.counts()["samples"] == won and store.champion_version() == 1
    finally:
        store.close()
    again = requests.post(f"{base}/workspaces", files={"file": ("penguins.csv", files[300])}, data={"name": "penguins", "target": "species"},
                          timeout=60)  # fmt: skip
    assert again.status_code == 409 and again.json()["field"] == "name" and "exists already" in again.json()["error"]


class Reads(io.BytesIO):
    """A file whose every read is recorded: the size asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(-1 if size is None else size)
        return super().read(size)


def test_an_upload_is_copied_to_a_file_of_its_own_a_chunk_at_a_time_and_removed_after() -> None:
    data = b"a,b,y\n" + b"1,2,0\n" * 700_000  # 4.2 MB
    source = Reads(data)
    with uploaded(source, "rows.csv", 10) as path:
        assert path.suffix == ".csv" and path.read_bytes() == data
    assert not path.exists()
    assert source.asked and all(0 < size <= CHUNK for size in source.asked)  # never the whole body at once
    too_big = Reads(data)
    with pytest.raises(UserInputError, match="larger than the limit of 2 MB"), uploaded(too_big, "rows.parquet", 2):
        pass
    assert len(too_big.asked) <= 3  # refused at the chunk that crossed the limit


def test_a_large_file_is_previewed_by_a_child_process_with_the_same_result_and_the_same_refusals(
    tmp_path: Path, mlflow_template: Path
) -> None:
    base = make_settings(tmp_path / "data", mlflow_template)
    path = tmp_path / "big.csv"
    penguins(180_000, seed=6).to_csv(path, index=False, float_format="%.15f")  # long numbers: past the in-process bound
    assert path.stat().st_size > workspaces.PREVIEW_IN_PROCESS_BYTES
    choice = workspaces.TableChoice("species")
    found = workspaces.preview_file(base, path, "big.csv", choice)
    here, _ = workspaces.preview(path, "big.csv", choice, base.max_samples_per_request, base.holdout_fraction)
    assert found.schema == here.schema and found.n_rows == here.n_rows == 180_000 and found.class_counts == here.class_counts
    assert found.head.equals(here.head)
    with pytest.raises(UserInputError) as refused:
        workspaces.preview_file(base, path, "big.csv", workspaces.TableChoice("nope"))
    assert refused.value.field == "target" and "no column named 'nope'" in str(refused.value)
    with pytest.raises(UserInputError, match="more than 100,000 rows"):
        workspaces.preview_file(replace(base, max_samples_per_request=100_000), path, "big.csv", choice)
