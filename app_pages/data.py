"""Data: generate or import datasets, browse them, compare their distributions with the reference."""

import json

import pandas as pd
import streamlit as st

from core.data.synthetic_stream import MAX_STRENGTH, SCENARIO_LABELS
from core.domain.clock import utc_csv
from ui import charts
from ui.own_data import in_progress, start_from_your_own_data
from ui.state import COUNT, act, cached, changed, dataframe, empty_state, in_force, plural, runtime, said_under, shown_rows

rt = runtime()
limit = rt.settings.max_samples_per_request
schema = rt.schema
st.title("Data")
st.caption(
    ("Generated data is synthetic, from the seeded generator; imported data is yours. " if schema.plain else "")
    + "A dataset is either in the library (for training and exploration: the loop reads it only as the copies a replay "
    "sends, when it is the stream's source) or sent to the loop as incoming data, read by the next cycle."
)
ROLE_HELP = "Library: for training and exploration. Send to the loop: the next cycle reads it as new production data."

with st.expander(f"Schema of this workspace ({rt.settings.workspace or 'demo'}): {len(schema.features)} feature columns, "
                 f"target {schema.target} with {len(schema.classes)} classes"):  # fmt: skip
    st.table(
        pd.DataFrame(
            [
                {
                    "column": c.name,
                    "kind": c.kind,
                    "missing allowed": "yes" if c.missing else "no",
                    "categories": ", ".join(c.categories[:12]) + (" …" if len(c.categories) > 12 else ""),
                    "why": c.note or "—",
                }
                for c in schema.columns
            ]
        ).set_index("column")
    )
    extra = [f"time column `{schema.time_column}`"] if schema.time_column else []
    extra += [f"id column `{schema.id_column}`"] if schema.id_column else []
    st.caption(f"Target `{schema.target}`, classes {', '.join(map(str, schema.classes))}" + (f"; {', '.join(extra)}" if extra else "")
               + (". The synthetic generator's schema." if schema.synthetic else ". Inferred from the first file and reviewed."))  # fmt: skip


def _generate_form() -> None:
    with st.form("generate"):
        st.subheader("Generate a dataset")
        samples = st.number_input("Samples", value=1000, step=1000, help=f"1 to {limit:,} (IA_MAX_SAMPLES_PER_REQUEST)")
        scenario = st.selectbox("Scenario", list(SCENARIO_LABELS), format_func=SCENARIO_LABELS.get)
        strength = st.slider("Strength", 0.0, MAX_STRENGTH, 1.0, 0.1, help="How far the scenario moves the data")
        seed = st.number_input("Seed", min_value=0, value=rt.settings.seed, step=1)
        to_loop = st.checkbox("Send to the loop", key="generate_to_loop", help=ROLE_HELP)
        if st.form_submit_button("Generate", type="primary"):
            big = int(samples) >= 100_000  # out of range: the core says so
            with st.status(f"Generating {int(samples):,} rows…", expanded=big) as status:
                st.write("Drawing from the seeded generator and storing in one bulk insert")
                role = "incoming" if to_loop else "library"
                info = act(lambda: rt.data.generate(int(samples), scenario, float(strength), int(seed), role),
                           lambda i: f"Dataset {i.dataset_id} stored: {i.n_rows:,} rows")  # fmt: skip
                status.update(label="Dataset stored" if info else "Nothing stored", state="complete" if info else "error",
                              expanded=big or not info)  # fmt: skip
                if info:
                    st.session_state["dataset_pick"] = info.dataset_id  # show what was just made


generate, upload = st.columns(2)
if schema.plain:
    with generate:
        _generate_form()
else:  # the generator draws the demo's columns only: no form this workspace could not use
    generate.subheader("Generate a dataset")
    generate.info(f"The generator makes the demo's columns (feature_1 …): this workspace takes files of its own columns "
                  f"({', '.join(rt.schema.names[:4])}{' …' if len(rt.schema.names) > 4 else ''}): import one under Import a file.",
                  icon=":material/info:")  # fmt: skip

with upload:
    st.subheader("Import a CSV" if schema.plain else "Import a file")
    if schema.plain:
        st.caption(f"Columns exactly: {', '.join(rt.schema.names)}, target (0 or 1). At most {limit:,} rows.")
    else:
        st.caption(f"Columns by name, in any order: {', '.join(rt.schema.names)} and {schema.target} "
                   f"({', '.join(map(str, schema.classes))}). At most {limit:,} rows.")  # fmt: skip
    uploads = st.session_state.setdefault("import_round", 0)  # a new key empties the uploader once a file is stored
    file = st.file_uploader("Labelled CSV" if schema.plain else "Labelled CSV or Parquet", type=["csv"] if schema.plain else ["csv", "parquet"],
                            key=f"import_csv_{uploads}")  # fmt: skip
    import_to_loop = st.checkbox("Send to the loop", key="import_to_loop", help=ROLE_HELP)
    if file is not None and st.button("Import", type="primary"):
        role = "incoming" if import_to_loop else "library"
        info = act(
            lambda: rt.data.import_csv(file.getvalue(), name=file.name, role=role),
            lambda i: f"Imported {i.n_rows:,} rows as dataset {i.dataset_id}",
        )
        if info:
            st.session_state["dataset_pick"] = info.dataset_id
            st.session_state["import_round"] = uploads + 1
            st.session_state["import_done"] = info
            st.rerun()
    done = st.session_state.pop("import_done", None)
    if done is not None:
        st.success(f"Imported {done.n_rows:,} rows as dataset {done.dataset_id}", icon=":material/check_circle:")
        if done.duplicate_of:
            st.warning(
                f"This file has exactly the bytes of the file dataset {done.duplicate_of} was made from, imported before: dataset "
                f"{done.dataset_id} is a "
                "second copy. Keep it if that was intended; otherwise delete it below (Rename, tag or delete).",
                icon=":material/content_copy:",
            )


with st.expander("Start from your own data", icon=":material/upload_file:", expanded=in_progress()):
    start_from_your_own_data()


def _send_to_loop(dataset_id: int) -> None:
    info = act(
        lambda: rt.data.send_to_loop(dataset_id), lambda i: f"Sent: dataset {i.dataset_id} holds a copy as incoming data for the next cycle"
    )
    if info:
        st.session_state["dataset_pick"] = info.dataset_id


st.subheader("Datasets")
all_datasets = cached.insights.datasets()
if all_datasets.empty:
    empty_state("No datasets yet: generate one or import a CSV above." if schema.plain else "No datasets yet: import a file above.")
    st.stop()
SOURCES = {"generated": "generated", "imported": "imported", "starter": "starter", "stream": "stream segments"}
shown_sources = st.pills("Show", list(SOURCES), default=["generated", "imported", "starter"], format_func=SOURCES.get,
                         selection_mode="multi", key="dataset_sources", help="The stream's segments are hidden by default, so "
                         "your own datasets are easy to find.")  # fmt: skip
datasets = all_datasets[all_datasets["source"].isin(shown_sources or [])]
if datasets.empty:
    empty_state(f"No dataset of these kinds ({len(all_datasets):,} in all): choose more kinds above.")
    st.stop()
stream = rt.loop.stream_info()  # the library dataset the stream replays, if any: its role says so
replaying = "library, replayed to its end" if stream["finished"] else "library, being replayed"
roles = datasets["role"].map({"incoming": "sent to the loop", "library": "library"})
scenarios = [
    s if pd.isna(of) else f"replay of dataset {int(of)}" for s, of in zip(datasets["scenario"], datasets["replay_of"], strict=True)
]
datasets = datasets.assign(role=roles.where(datasets["dataset_id"] != stream["source"], replaying),
                           tags=datasets["tags"].map(lambda t: ", ".join(json.loads(t or "[]"))),
                           scenario=scenarios)  # fmt: skip
dataframe(
    datasets[["dataset_id", "name", "tags", "role", "source", "scenario", "strength", "seed", "n_rows", "created_at"]], hide_index=True,
    height=240,
    column_config={"dataset_id": st.column_config.NumberColumn("id", width="small"), "scenario": st.column_config.TextColumn(width="medium")},
)  # fmt: skip
hidden = len(all_datasets) - len(datasets)
if hidden:
    st.caption(f"{plural(hidden, 'dataset')} of other kinds hidden (ids are shared by every kind): choose more kinds above to see them.")

ids = datasets["dataset_id"].tolist()
names = dict(zip(ids, datasets["name"], strict=True))
if st.session_state.get("dataset_pick") not in ids:
    st.session_state.pop("dataset_pick", None)  # gone or filtered out: the first shown
chosen = st.selectbox("Dataset", ids, format_func=lambda i: f"{i} · {names[i]}", key="dataset_pick")
row = datasets.set_index("dataset_id").loc[chosen]
if stream["source"] == chosen and stream["finished"]:
    st.write(f"**Role:** {replaying}: the replay reached its end, row {stream['position']:,} of {stream['total_rows']:,}, and the "
             "loop reads no more of it (Operations, Stream: set the position back to replay it again, or choose another source).")  # fmt: skip
elif stream["source"] == chosen:
    st.write(f"**Role:** {replaying}: the loop reads it a batch per cycle ({stream['position']:,} of "
             f"{stream['total_rows']:,} rows so far; Operations, Stream, sets the source).")  # fmt: skip
elif row["role"] == "library":
    st.write("**Role:** library (for training and exploration; the loop never reads it).")
    st.button("Send this dataset to the loop", help=ROLE_HELP, on_click=_send_to_loop, args=(chosen,))
else:
    st.write("**Role:** sent to the loop (the loop reads it as incoming data).")
    st.caption("Data the loop has read cannot go back to the library: its cycles and drift references were computed from it.")


DATASET_BOX = {"dataset_id": "Dataset", "name": "Name", "tags": "Tags (comma-separated)"}  # a refusal named by its box, not the API's field


def _save_dataset(dataset_id: int) -> None:
    name, tagged = changed(f"dataset_name_{dataset_id}"), changed(f"dataset_tags_{dataset_id}")  # as drawn: left as it is now
    tags = None if tagged is None else [t.strip() for t in tagged.split(",") if t.strip()]
    act(lambda: rt.data.update(dataset_id, name, tags), f"Dataset {dataset_id} saved", DATASET_BOX, under="dataset")


def _delete_dataset(dataset_id: int) -> None:
    if (
        act(lambda: rt.data.delete(dataset_id), lambda n: f"Dataset {dataset_id} deleted ({n:,} rows)", DATASET_BOX, under="dataset")
        is not None
    ):
        st.session_state.pop("dataset_pick", None)


with st.expander("Rename, tag or delete"):
    in_force({f"dataset_name_{chosen}": row["name"], f"dataset_tags_{chosen}": row["tags"]})  # renamed by PATCH: not put back
    with st.form(f"dataset_edit_{chosen}"):
        # Keys of this dataset's own: with one key for all, the box kept the dataset shown before, and Save gave its name to
        # this one (tour 17).
        st.text_input("Name", value=row["name"], key=f"dataset_name_{chosen}", max_chars=200)
        st.text_input("Tags (comma-separated)", value=row["tags"], key=f"dataset_tags_{chosen}")
        st.form_submit_button("Save", on_click=_save_dataset, args=(chosen,))
    st.button(f"Delete dataset {chosen}", on_click=_delete_dataset, args=(chosen,), help="Refused, with the reason, for data "
              "the loop read or a model was trained on.")  # fmt: skip
    said_under("dataset")

preview, stats = st.tabs(["First rows", "Summary statistics"])
dataframe(cached.insights.dataset_frame(chosen, 100), into=preview, ours=False, hide_index=True, height=240)
dataframe(cached.insights.dataset_summary(chosen), into=stats, hide_index=True, column_config={
    c: st.column_config.NumberColumn(format="%.4g") for c in ("mean", "std", "min", "q25", "median", "q75", "max")} | {
    c: st.column_config.NumberColumn(format=COUNT) for c in ("count", "missing", "distinct")})  # fmt: skip
if not schema.plain:
    stats.caption("Numbers: mean, spread and quartiles of the values present. Categories: distinct values and the most frequent.")

first, last = int(row["first_sample_id"]), int(row["last_sample_id"])
current = cached.insights.sample_features(first, last, 20_000)
features = rt.schema.names
numeric = schema.numeric
if len(numeric) >= 2:
    fx, fy = (numeric[0], numeric[1])
    if len(numeric) > 2:
        a, b = st.columns(2)
        fx = a.selectbox("x feature", numeric, index=0, key="scatter_x")
        fy = b.selectbox("y feature", [f for f in numeric if f != fx], index=0, key="scatter_y")
    st.plotly_chart(charts.scatter_by_class(current, fx, fy, f"Dataset {chosen}: {fx} against {fy}, by class", classes=schema.classes),
                    key="scatter")  # fmt: skip
ref, reference = cached.insights.reference_sample()
if ref is None:
    empty_state("No champion yet, so no reference to compare with: train a model on the Models page.")
else:
    st.caption(f"Reference: {ref.describe()}: the {len(reference):,} rows the champion's drift tests compare with. "
               f"This dataset: {shown_rows(len(current), int(row['n_rows']))}.")  # fmt: skip
reference_balance = reference["target"].value_counts().to_dict()
cols = st.columns(2)  # two per row, as on the Drift page: three cut titles, legends and category names at 1024 px
for i, feature in enumerate(features):
    cols[i % 2].plotly_chart(
        charts.distribution_overlay(reference, current, feature, "This dataset", ref.legend if ref else "Reference"), key=f"dist_{feature}"
    )
st.plotly_chart(
    charts.class_balance(reference_balance, cached.insights.class_balance(first, last), "This dataset", schema.classes, schema.target),
    key="balance",
)
st.download_button(
    "Download as CSV",
    data=lambda: utc_csv(cached.insights.dataset_frame(chosen)),
    file_name=f"dataset_{chosen}.csv",
    mime="text/csv",
)
