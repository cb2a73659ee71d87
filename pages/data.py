"""Data: generate or import datasets, browse them, compare their distributions with the reference."""

import streamlit as st

from core.datagen import MAX_STRENGTH, SCENARIO_LABELS
from ui import charts
from ui.state import act, empty_state, read, runtime

rt = runtime()
limit = rt.settings.max_samples_per_request
st.title("Data")
st.caption(
    "Generated data is synthetic, from the seeded generator; imported data is yours. A dataset is either in the library "
    "(for training and exploration: the loop never reads it) or sent to the loop as incoming data, read by the next cycle."
)
ROLE_HELP = "Library: for training and exploration. Send to the loop: the next cycle reads it as new production data."

generate, upload = st.columns(2)
with generate, st.form("generate"):
    st.subheader("Generate a dataset")
    samples = st.number_input("Samples", min_value=1, max_value=limit, value=1000, step=1000, help=f"1 to {limit:,}")
    scenario = st.selectbox("Scenario", list(SCENARIO_LABELS), format_func=SCENARIO_LABELS.get)
    strength = st.slider("Strength", 0.0, MAX_STRENGTH, 1.0, 0.1, help="How far the scenario moves the data")
    seed = st.number_input("Seed", min_value=0, value=rt.settings.seed, step=1)
    to_loop = st.checkbox("Send to the loop", key="generate_to_loop", help=ROLE_HELP)
    if st.form_submit_button("Generate", type="primary"):
        with st.status(f"Generating {int(samples):,} rows…", expanded=int(samples) >= 100_000) as status:
            st.write("Drawing from the seeded generator and storing in one bulk insert")
            role = "incoming" if to_loop else "library"
            info = act(lambda: rt.generate_dataset(int(samples), scenario, float(strength), int(seed), role),
                       lambda i: f"Dataset {i.dataset_id} stored: {i.n_rows:,} rows")  # fmt: skip
            status.update(label="Dataset stored" if info else "Nothing stored", state="complete" if info else "error")

with upload:
    st.subheader("Import a CSV")
    st.caption(f"Columns exactly: {', '.join(rt.store.features)}, target (0 or 1). At most {limit:,} rows.")
    file = st.file_uploader("Labelled CSV", type=["csv"], key="import_csv")
    import_to_loop = st.checkbox("Send to the loop", key="import_to_loop", help=ROLE_HELP)
    if file is not None and st.button("Import", type="primary"):
        role = "incoming" if import_to_loop else "library"
        act(
            lambda: rt.import_csv(file.getvalue(), name=file.name, role=role),
            lambda i: f"Imported {i.n_rows:,} rows as dataset {i.dataset_id}",
        )

st.subheader("Datasets")
datasets = read("datasets")
if datasets.empty:
    empty_state("No datasets yet: generate one or import a CSV above.")
    st.stop()
st.dataframe(
    datasets[["dataset_id", "name", "role", "source", "scenario", "strength", "seed", "n_rows", "created_at"]], hide_index=True, height=240
)

chosen = st.selectbox(
    "Dataset", datasets["dataset_id"].tolist(), format_func=lambda i: f"{i} · {datasets.set_index('dataset_id').loc[i, 'name']}"
)
row = datasets.set_index("dataset_id").loc[chosen]
if row["role"] == "library" and st.button("Send this dataset to the loop", help=ROLE_HELP):
    act(lambda: rt.send_to_loop(chosen), lambda i: f"Sent: dataset {i.dataset_id} holds a copy as incoming data for the next cycle")
first, last = int(row["first_sample_id"]), int(row["last_sample_id"])
current = read("sample_features", first, last, 20_000)
window = rt.reference_window()
if window is None:
    empty_state("No champion yet, so no reference to compare with: train a model on the Models page.")
    reference = current.iloc[0:0]
    reference_balance = {}
else:
    reference = read("sample_features", window[0], window[1], 20_000)
    reference_balance = read("class_balance", window[0], window[1])
st.caption(f"Distributions drawn from a seeded sample of at most 20,000 rows of each side ({int(row['n_rows']):,} rows in this dataset).")
cols = st.columns(min(3, len(rt.store.features)))
for i, feature in enumerate(rt.store.features):
    cols[i % len(cols)].plotly_chart(charts.distribution_overlay(reference, current, feature, "This dataset"), key=f"dist_{feature}")
st.plotly_chart(charts.class_balance(reference_balance, read("class_balance", first, last), "This dataset"), key="balance")
st.download_button(
    "Download as CSV", data=lambda: read("dataset_frame", chosen).to_csv(index=False), file_name=f"dataset_{chosen}.csv", mime="text/csv"
)
