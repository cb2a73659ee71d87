"""The Data page's "Start from your own data": a file, the inferred schema to review, then a new workspace."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core import workspaces
from core.data.synthetic_table import generate_table
from core.domain.pace import replay_time
from core.domain.schema import KINDS, Column
from core.errors import UserInputError
from ui.state import EMPTY_CELL, REFUSED_SWITCH, act, dataframe, runtime, switch_to


def start_from_your_own_data() -> None:
    rt = runtime()
    st.caption(
        "A CSV or Parquet file with a header row becomes a workspace of its own: its columns (numbers, categories, missing "
        "values), its target with two or more classes, and model v1.0.0 trained on it. Nothing is stored before you create it."
    )
    file = st.file_uploader("Your table", type=["csv", "parquet"], key=uploader_key())
    if file is None:
        st.caption("No file at hand? The generator's realistic mode makes one: a subscription table with numbers, categories "
                   "(one of 50 regions), missing values and three classes, labelled as synthetic.")  # fmt: skip
        st.button("Use a generated mixed table", key="own_generated", on_click=st.session_state.update, kwargs={"own_sample": True})
        if not st.session_state.get("own_sample"):
            return
        data, filename = _generated_table(), "synthetic-subscriptions.csv"
    else:
        data, filename = file.getvalue(), file.name
    columns = act(lambda: _columns(data, filename))
    if not columns:
        return
    a, b, c = st.columns(3)
    target = a.selectbox("Target (the column to predict)", columns, index=None, placeholder="Choose a column", key="own_target")
    if target is None:  # no column is the target by its place: the user names it
        st.info("Choose the column the model is to predict: its values are the classes.", icon=":material/ads_click:")
        return
    others = [None, *[col for col in columns if col != target]]
    time_column = b.selectbox("Time column (optional)", others, format_func=lambda v: "—" if v is None else v, key="own_time")
    id_column = c.selectbox("Id column (optional)", others, format_func=lambda v: "—" if v is None else v, key="own_id")
    inferred = act(lambda: _preview(data, filename, target, {}, time_column, id_column))
    if inferred is None:
        return
    st.markdown(f"**Inferred schema** · {inferred.n_rows:,} rows · review the kinds, then create")
    table = pd.DataFrame(
        [
            {"column": c.name, "kind": c.kind, "missing allowed": c.missing, "categories": len(c.categories) or None}
            for c in inferred.schema.columns
        ]
    )
    edited = st.data_editor(
        table, hide_index=True, disabled=["column", "missing allowed", "categories"], key=f"own_kinds_{target}", placeholder=EMPTY_CELL,
        column_config={"kind": st.column_config.SelectboxColumn("kind", options=list(KINDS), required=True)},
    )  # fmt: skip
    st.caption(_reasons(inferred.schema.columns))
    kinds = {row["column"]: row["kind"] for _, row in edited.iterrows() if row["kind"] != inferred.schema.column(row["column"]).kind}
    found = act(lambda: _preview(data, filename, target, kinds, time_column, id_column)) if kinds else inferred
    if found is None:
        return
    classes = ", ".join(f"{label} ({n:,})" for label, n in found.class_counts.items())
    st.write(f"**Target** `{target}`: {len(found.class_counts)} classes: {classes}.")
    dataframe(found.head, ours=False, hide_index=True, height=200)
    name = st.text_input("Workspace name", value=_suggested_name(filename), max_chars=64, key="own_name",
                         help=f"Letters, digits, - and _: the folder {rt.settings.workspaces_dir / '<name>'}")  # fmt: skip
    created = st.session_state.get("own_created")
    made = bool(created) and created[0] == name  # made just now: its success is shown below, not a refusal of its name
    refusal = None if made else _refusal(rt.settings.workspaces_dir, name)
    if refusal:  # beside the name, before anything runs: a name taken or malformed is refused at once
        st.error(refusal, icon=":material/block:")
    replay = st.toggle("Train on the first rows and replay the rest as the stream", key="own_replay",
                       help="The first model learns the first rows only; the loop then receives the other rows a batch per cycle, in "
                       "the file's order (the time column's, when one is chosen), as a real stream would bring them.")  # fmt: skip
    initial = None
    if replay:
        most = max(workspaces.MIN_INITIAL_ROWS, found.n_rows - 1)
        initial = int(st.number_input("Rows for the first model", workspaces.MIN_INITIAL_ROWS, most,
                                      min(workspaces.default_initial_rows(found.n_rows), most), step=100,
                                      key="own_initial"))  # fmt: skip
        batch, interval = rt.settings.stream_batch_size, rt.settings.scheduler_interval
        st.caption(f"The other {max(0, found.n_rows - initial):,} rows come as the stream: {replay_time(found.n_rows - initial, batch, interval)} "
                   "(IA_STREAM_BATCH_SIZE and IA_SCHEDULER_INTERVAL; the Operations page changes both).")  # fmt: skip
    if st.button("Create the workspace", type="primary", key="own_create", disabled=made or refusal is not None):
        with st.status(f"Creating {name}…", expanded=True) as status:
            choice = workspaces.TableChoice(target, kinds, time_column, id_column, initial)
            summary = act(lambda: workspaces.create_from_upload(rt.settings, name, data, filename, choice, st.write))
            if summary:
                status.update(label=f"Workspace {name} created", state="complete")
            else:  # left open: the reason is inside, and a closed box reads as nothing having happened
                status.update(label="Nothing created", state="error", expanded=True)
        if summary:
            created = st.session_state["own_created"] = (name, summary)
    if created:
        st.success(created[1], icon=":material/check_circle:")
        if st.button(f"Open {created[0]} now", type="primary", key="own_open"):
            _open(created[0])


def _refusal(root: Path, name: str) -> str | None:
    """Why `name` cannot be a new workspace of `root` (taken, or malformed), in the words a creation would refuse it with."""
    try:
        workspaces.free_name(root, name)
    except UserInputError as exc:
        return str(exc)
    return None


def _reasons(columns: tuple[Column, ...]) -> str:
    """Why each column got its kind, grouped by reason, as a caption: it wraps at any width, where a grid's cell
    cut the longer reasons off at 1024 px."""
    by_reason: dict[str, list[str]] = {}
    for column in columns:
        by_reason.setdefault(column.note or column.kind, []).append(column.name)
    return "Why these kinds: " + "; ".join(f"{reason}: {', '.join(names)}" for reason, names in by_reason.items()) + "."


def uploader_key() -> str:
    """The file uploader's key: a new one empties it (a file uploader's value cannot be set)."""
    return f"own_file_{st.session_state.get('own_round', 0)}"


def in_progress() -> bool:
    """A file, or the generated table, is being turned into a workspace: its section stays open across reruns."""
    return st.session_state.get(uploader_key()) is not None or bool(st.session_state.get("own_sample"))


def _open(name: str) -> None:
    """Serve the new workspace and show its Overview, the form emptied for the next file; refused (another app holds
    it), the form stays, with its Open button, under the reason."""
    round_ = st.session_state.get("own_round", 0) + 1
    if not switch_to(name):
        st.error(st.session_state.pop(REFUSED_SWITCH, f"{name} could not be opened"))
        return
    for key in [k for k in st.session_state if str(k).startswith("own_")]:
        del st.session_state[key]
    st.session_state["own_round"] = round_
    st.switch_page("app_pages/overview.py")


@st.cache_data(max_entries=1, show_spinner=False)
def _generated_table() -> bytes:
    return generate_table(5000, seed=runtime().settings.seed, n_classes=3).to_csv(index=False).encode()


@st.cache_data(max_entries=4, show_spinner="Reading the file")
def _columns(data: bytes, filename: str) -> list[str]:
    return workspaces.table_columns(data, filename)


@st.cache_data(max_entries=8, show_spinner="Inferring the schema")
def _preview(data: bytes, filename: str, target: str, kinds: dict, time_column: str | None, id_column: str | None) -> workspaces.Preview:
    return workspaces.preview(data, filename, workspaces.TableChoice(target, kinds, time_column, id_column))[0]


def _suggested_name(filename: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in filename.rsplit(".", 1)[0]).strip("-_")
    return (stem or "my-data")[:64]
