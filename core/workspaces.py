"""Workspaces built from a user's own table: preview the schema a file suggests, then create the folder.

A workspace is a folder (DuckDB file, MLflow store, artifacts): the demo lives in `data/`, the ones
made from a file in `data/workspaces/<name>/` (or the folder IA_WORKSPACES_DIR names). Creating one
checks everything before the folder exists (the file reads, the schema holds, every class has rows
enough to train), so a refusal leaves nothing behind; then the file becomes the workspace's first
incoming data and model v1.0.0 is trained on it. One process serves one workspace; this module opens
the new one only to fill it.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pickle
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from core.config import DEMO_WORKSPACE, PROJECT_ROOT, WORKSPACE_NAME, WORKSPACE_RULE, WORKSPACES_DIR, Settings
from core.data.table_check import ONE_VALUE, Encoded, encode, infer_schema, ordered_by_time
from core.domain.schema import Kind, Schema
from core.domain.validation import integer, plural
from core.errors import ConflictError, UserInputError, WorkspaceError
from core.io.table_files import content_digest, read_table
from core.ml import training

PREVIEW_ROWS = 20
MLFLOW_TEMPLATE = ".mlflow-template.db"  # a migrated, empty MLflow store each new workspace starts from
MIN_INITIAL_ROWS = 50
PREVIEW_IN_PROCESS_BYTES = 16 * 2**20  # larger files are previewed by a child process (Parquet past an eighth of it: it compresses)
LOCKS = ".locks"  # under the workspaces folder: one lock file per name being created
NAME_TAKEN = 3  # the exit code of `python -m core.workspaces` when the name is taken
# A server's child runs `main` imported, not as __main__, so what it pickles (a preview) names this module's classes.
CHILD = "import sys; from core.workspaces import main; sys.exit(main())"


def default_initial_rows(n_rows: int, most: int = 2000) -> int:
    """The first model's rows when a file is to be replayed: at most `most` (Weather's 2,000, as in bench_replay) and at
    most half the file in hundreds, so the stream has rows to bring (1,499 of 1,500 left "1 batch of 1").

    >>> default_initial_rows(18_000), default_initial_rows(1_500), default_initial_rows(120)
    (2000, 700, 50)
    """
    return max(MIN_INITIAL_ROWS, min(most, n_rows // 2 // 100 * 100))


def rows_of(encoded: Encoded, start: int, stop: int) -> Encoded:
    times = None if encoded.times is None else encoded.times[start:stop]
    return Encoded(encoded.X.iloc[start:stop].reset_index(drop=True), encoded.y[start:stop], encoded.unseen, times)


@dataclass(frozen=True)
class TableChoice:
    """What a user chooses about a file: the column to predict, kinds overriding the inferred ones, and the
    optional time and id columns."""

    target: str
    kinds: dict[str, Kind] = field(default_factory=dict)
    time_column: str | None = None
    id_column: str | None = None
    initial_rows: int | None = None  # train v1 on these first rows and replay the rest as the stream

    def arguments(self) -> list[str]:
        """The command-line options that say the same (`python -m core.workspaces`)."""
        args = ["--target", self.target]
        for option, kind in (("--numeric", "numeric"), ("--categorical", "categorical"), ("--ignore", "ignored")):
            chosen = [c for c, k in self.kinds.items() if k == kind]
            args += [option, ",".join(chosen)] if chosen else []
        args += ["--time-column", self.time_column] if self.time_column else []
        args += ["--initial-rows", str(self.initial_rows)] if self.initial_rows is not None else []  # 0 is refused, not "all"
        return args + (["--id-column", self.id_column] if self.id_column else [])


@dataclass(frozen=True)
class Preview:
    """What a file would become, before anything is stored."""

    schema: Schema
    n_rows: int
    head: pd.DataFrame
    class_counts: dict[str, int]

    def document(self) -> dict[str, object]:
        return {"schema": self.schema.document(), "n_rows": self.n_rows, "class_counts": self.class_counts}


@dataclass(frozen=True)
class Created:
    name: str
    folder: Path
    schema: Schema
    n_rows: int
    dataset_id: int
    champion: str
    metrics: dict[str, float]
    replay_dataset_id: int | None = None  # the rows after `initial_rows`, the stream's source


def checked_name(name: object) -> str:
    """A new workspace's name, or one to open: "demo" is the data folder itself, so a folder of that name could be
    neither listed apart from it nor opened (tour 20: the sidebar showed demo twice, each opening the demo)."""
    if not isinstance(name, str) or not WORKSPACE_NAME.fullmatch(name):
        raise UserInputError("name", f"{WORKSPACE_RULE}, got {str(name)[:70]!r}")
    if name == DEMO_WORKSPACE:
        raise ConflictError("name", f"{DEMO_WORKSPACE!r} is the demo's name (the data folder itself): choose another")
    return name


def list_workspaces(root: Path) -> list[str]:
    """The named workspaces under the data folder (each holds a DuckDB file)."""
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if (p / "ia_continu.duckdb").is_file() and WORKSPACE_NAME.fullmatch(p.name) and p.name != DEMO_WORKSPACE
    )


def table_columns(source: Path | bytes, filename: str) -> list[str]:
    """The file's column names, for choosing the target before anything is inferred."""
    return list(read_table(source, filename).columns)


def preview(
    source: Path | bytes, filename: str, choice: TableChoice, max_rows: int | None = None, holdout_fraction: float = 0.3
) -> tuple[Preview, Encoded]:
    """Read the file, infer its schema with the user's overrides, check it trains: nothing is stored."""
    frame = read_table(source, filename, max_rows)
    schema = infer_schema(frame, choice.target, choice.kinds, choice.time_column, choice.id_column)
    times = None
    if choice.time_column is not None:
        frame, times = ordered_by_time(frame, choice.time_column)
    encoded = replace(encode(frame, schema, labelled=True), times=times)
    if choice.initial_rows is not None:
        integer(choice.initial_rows, "initial_rows", MIN_INITIAL_ROWS, max(MIN_INITIAL_ROWS, len(frame) - 1))
        training.check_trainable(encoded.y[: choice.initial_rows], holdout_fraction, schema.classes)
    training.check_trainable(encoded.y, holdout_fraction, schema.classes)
    counts = pd.Series(encoded.y).value_counts()
    class_counts = {str(c): int(counts.get(i, 0)) for i, c in enumerate(schema.classes)}
    return Preview(schema, len(frame), frame.head(PREVIEW_ROWS), class_counts), encoded


def create(
    base: Settings, name: str, source: Path | bytes, filename: str, choice: TableChoice, progress: Callable[[str], None] | None = None
) -> Created:
    """A new workspace from a file: checked in full first, then the folder, the data and model v1.0.0."""
    step = progress or (lambda _message: None)
    name = checked_name(name)
    with claimed(base.workspaces_dir, name):
        check_free(base.workspaces_dir, name)
        step(f"Reading {filename} and inferring its schema")
        found, encoded = preview(source, filename, choice, base.max_samples_per_request, base.holdout_fraction)
        if constant := [name for name in found.schema.names if encoded.X[name].nunique() == 1]:
            step(f"Note: {', '.join(constant)} hold{'s' if len(constant) == 1 else ''} {ONE_VALUE}: kept, watched for drift, "
                 "but nothing to learn from until it varies")  # fmt: skip
        digest = content_digest(source if isinstance(source, Path) else bytes(source))
        return _filled(base, name, found, encoded, filename, choice, step, digest)


def free_name(root: Path, name: object) -> str:
    """`name` as a new workspace of `root` may take it: well formed and no workspace's yet (what a creation checks first)."""
    checked = checked_name(name)
    check_free(root, checked)
    return checked


def open_command(root: Path, name: str) -> str:
    """The command that serves workspace `name` of the workspaces folder `root` (Settings.workspaces_dir). `make run
    WORKSPACE=name` looks in the folder IA_WORKSPACES_DIR names, data/workspaces when none: another is named before it."""
    default = root.expanduser().resolve() == WORKSPACES_DIR.resolve()
    return f"{'' if default else f'IA_WORKSPACES_DIR={shlex.quote(str(root))} '}make run WORKSPACE={name}"


def check_free(root: Path, name: str) -> None:
    """Refuse a name an existing workspace has (an empty folder of that name may be taken)."""
    folder = root / name
    if folder.exists() and any(folder.iterdir()):
        raise ConflictError("name", f"a workspace named {name!r} exists already ({folder}): choose another name")


@contextmanager
def claimed(root: Path, name: str) -> Iterator[None]:
    """`name` held for one creation: another creation of the same name, in this process or another, is refused at
    once and changes nothing. An OS lock on a file of its own, so a creator that dies (even killed) lets go of it."""
    locks = root / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / name).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError("name", f"a workspace named {name!r} is being created by another request: choose another name") from None
        yield


def _filled(
    base: Settings,
    name: str,
    found: Preview,
    encoded: Encoded,
    filename: str,
    choice: TableChoice,
    step: Callable[[str], None],
    digest: str,
) -> Created:
    """The workspace's folder, its data and model v1.0.0; the folder is removed again if any of it fails. The file's
    digest goes with its first rows' dataset: the same file imported later is named a copy of it."""
    folder = base.workspaces_dir / name
    settings = workspace_settings(base, folder)
    try:
        step(f"Creating the workspace {name} with {len(found.schema.features)} feature columns")
        _open_store(settings, found.schema)
        from core.runtime import Runtime  # MLflow is imported only once the file is known to be good
        from core.tracking import seed_store

        seed_store(settings.mlflow_tracking_uri, base.workspaces_dir / MLFLOW_TEMPLATE)

        rt = Runtime(settings, progress=step)
        try:
            first = choice.initial_rows or found.n_rows
            step(f"Storing {first:,} rows as the first incoming data")
            part = filename if first == found.n_rows else f"{filename} · rows 1 to {first:,}"  # the other rows are a dataset too
            info = rt.data.import_encoded(rows_of(encoded, 0, first), name=part, role="incoming", content_hash=digest)
            step(f"Training v1.0.0 on {'all ' if first == found.n_rows else 'the first '}{first:,} rows")
            outcome = rt.models.train(trigger="starter", dataset_ids=[info.dataset_id])
            replay = None
            if first < found.n_rows:
                step(f"Storing the other {plural(found.n_rows - first, 'row')} to replay as the stream, a batch per cycle")
                rest = rows_of(encoded, first, found.n_rows)
                replay = rt.data.import_encoded(rest, name=f"{filename} · rows {first + 1:,} to {found.n_rows:,}", role="library")
                rt.loop.update_stream(source=replay.dataset_id, at_end="stop")
            return Created(name, folder, found.schema, found.n_rows, info.dataset_id, outcome.label, outcome.metrics,
                           None if replay is None else replay.dataset_id)  # fmt: skip
        finally:
            rt.close()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def workspace_settings(base: Settings, folder: Path) -> Settings:
    """The base settings pointed at `folder`, with nothing started: no starter, no stream, no loop, no API."""
    return replace(
        Settings.from_env({"IA_DATA_DIR": str(folder)}, **carried(base)),
        starter_model=False, stream_enabled=False, scheduler_autostart=False, api_enabled=False,
    )  # fmt: skip


def served_settings(base: Settings, name: str) -> Settings:
    """The settings that serve workspace `name` in place of `base`'s: its folder's paths, everything else as `base`
    has it. Built from `base`, never from the process's environment, where a library may have left another's paths."""
    return Settings.from_env({"IA_WORKSPACE": checked_name(name)}, **carried(base))


def carried(base: Settings) -> dict[str, object]:
    """Everything but the paths, which follow the new folder."""
    paths = {"workspace", "data_dir", "duckdb_path", "mlflow_tracking_uri", "mlflow_artifacts_dir"}  # workspaces_dir is kept
    return {k: v for k, v in vars(base).items() if k not in paths}


def _open_store(settings: Settings, schema: Schema) -> None:
    from core.store import Store

    Store(settings.duckdb_path, schema).close()


def create_in_subprocess(
    base: Settings, name: str, path: Path, filename: str, choice: TableChoice, progress: Callable[[str], None] | None = None
) -> str:
    """`create` in a child process, for a running workbench: reading a large file and training on it grow the child,
    whose memory goes back to the system when it ends, never the server's. Returns the child's last line."""
    lines = _in_child(base, [str(path), "--name", checked_name(name), "--filename", filename, *choice.arguments()], progress)
    return next((line for line in reversed(lines) if line.startswith("Workspace ")), lines[-1] if lines else "")


def create_from_upload(
    base: Settings, name: str, source: Path | bytes, filename: str, choice: TableChoice, progress: Callable[[str], None] | None = None
) -> str:
    """An uploaded file (the dashboard's bytes, or the path the API streamed it to) made a workspace by a child process,
    which checks it in full before anything exists: this process does not read the table. A name taken is refused here
    at once (and by the child, which holds the name while it creates, if two requests race for it)."""
    free_name(base.workspaces_dir, name)
    if isinstance(source, Path):
        return create_in_subprocess(base, name, source, filename, choice, progress)
    suffix = ".parquet" if filename.lower().endswith(".parquet") else ".csv"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(source)
        return create_in_subprocess(base, name, path, filename, choice, progress)


def preview_file(base: Settings, path: Path, filename: str, choice: TableChoice) -> Preview:
    """`preview` of a file on disk: in this process when it is small, in a child process past PREVIEW_IN_PROCESS_BYTES,
    so a server does not grow by a large file's table (pandas holds it at several times its size on disk)."""
    parquet = filename.lower().endswith(".parquet") or path.suffix.lower() == ".parquet"
    if path.stat().st_size * (8 if parquet else 1) <= PREVIEW_IN_PROCESS_BYTES:
        return preview(path, filename, choice, base.max_samples_per_request, base.holdout_fraction)[0]
    with tempfile.TemporaryDirectory(prefix="ia-continu-preview-") as folder:
        result = Path(folder) / "preview.pickle"
        _in_child(base, [str(path), "--filename", filename, "--preview-to", str(result), *choice.arguments()])
        return pickle.loads(result.read_bytes())  # written just now by our own child, in a folder of ours


def _in_child(base: Settings, arguments: list[str], progress: Callable[[str], None] | None = None) -> list[str]:
    """`main(ARGUMENTS)` in a child process with `base`'s settings (its workspaces folder, and no workspace paths from
    this process's environment), its steps passed to `progress`; its refusal raised here as the same error."""
    step = progress or (lambda _message: None)
    args = [sys.executable, "-c", CHILD, *arguments]
    paths = ("IA_WORKSPACE", "IA_DATA_DIR", "IA_DUCKDB_PATH", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "IA_MLFLOW_ARTIFACTS_DIR")
    env = {**{k: v for k, v in os.environ.items() if k not in paths}, "IA_WORKSPACES_DIR": str(base.workspaces_dir),
           "IA_MAX_SAMPLES_PER_REQUEST": str(base.max_samples_per_request), "IA_HOLDOUT_FRACTION": str(base.holdout_fraction)}  # fmt: skip
    # One stream: a child that logs much to stderr while nobody reads it would block on a full pipe.
    child = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in child.stdout:
        lines.append(line.rstrip())
        if line.startswith("· "):
            step(line[2:].strip())
    code = child.wait()
    if code != 0:
        message = next((line[len("error: ") :] for line in lines if line.startswith("error: ")), "")
        if message:
            field_name, _, text = message.partition(": ")
            raise (ConflictError if code == NAME_TAKEN else UserInputError)(field_name, text)
        raise RuntimeError(f"the workspace child process failed: {lines[-1] if lines else 'no output'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m core.workspaces FILE --name NAME --target COLUMN [...]` (what `make workspace` runs)."""
    parser = argparse.ArgumentParser(
        prog="python -m core.workspaces", usage="%(prog)s FILE --name NAME --target COLUMN [options]",
        description="Create a workspace from a CSV or Parquet file (what make workspace FILE=... NAME=... TARGET=... runs).",
    )  # fmt: skip
    parser.add_argument("file", type=Path, metavar="FILE", help="a CSV or Parquet file with a header row")
    parser.add_argument("--name", help=f"the workspace's name (required): {WORKSPACE_RULE.removeprefix('a workspace name is ')}")
    parser.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict (two or more classes)")
    for kind, how in (("numeric", "read as numbers"), ("categorical", "read as categories"), ("ignore", "the model does not read")):
        parser.add_argument(f"--{kind}", default="", metavar="COLUMNS", help=f"comma-separated columns {how}")
    parser.add_argument("--time-column", metavar="COLUMN", help="the rows' time: they are ordered by it, and it is no input")
    parser.add_argument("--id-column", metavar="COLUMN", help="the rows' identifier: no input of the model")
    parser.add_argument(
        "--initial-rows", type=int, metavar="N", help="train v1.0.0 on the first N rows; the rest are replayed as the stream"
    )
    parser.add_argument("--filename", help="the file's name as the user gave it (an upload's temporary file has another)")
    parser.add_argument("--preview-to", type=Path, help="only preview the file, its result pickled to this path (a server's child)")
    args = parser.parse_args(argv)
    if args.name is None and args.preview_to is None:
        parser.error("--name is required")
    kinds: dict[str, Kind] = {}
    for option, kind in (("numeric", "numeric"), ("categorical", "categorical"), ("ignore", "ignored")):
        kinds |= {c.strip(): kind for c in getattr(args, option).split(",") if c.strip()}
    try:
        choice = TableChoice(args.target, kinds, args.time_column, args.id_column, args.initial_rows)
        settings, filename = Settings.from_env(), args.filename or args.file.name
        if args.preview_to is not None:
            found, _ = preview(args.file, filename, choice, settings.max_samples_per_request, settings.holdout_fraction)
            args.preview_to.write_bytes(pickle.dumps(found))
            return 0
        created = create(settings, args.name, args.file, filename, choice, progress=lambda message: print(f"· {message}", flush=True))
    except ConflictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return NAME_TAKEN
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WorkspaceError as exc:
        print(f"error: workspace: {exc}", file=sys.stderr)
        return 2
    accuracy = created.metrics.get("accuracy", float("nan"))
    print(f"Workspace {created.name} created in {created.folder}: {created.n_rows:,} rows, champion {created.champion} "
          f"(holdout accuracy {accuracy:.3f}). Open it with: {open_command(settings.workspaces_dir, created.name)}")  # fmt: skip
    if created.replay_dataset_id is not None:  # tour 22: opened as told, the loop replayed 600 rows before a policy was chosen
        print(f"Opened, its loop starts at once and replays the rows after the first {choice.initial_rows:,}, a batch per cycle, "
              f"under policy {settings.policy}; to choose first, open it with IA_SCHEDULER_AUTOSTART=false (and IA_POLICY) "
              "and start the loop on the Operations page.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
