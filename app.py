"""IA Continu dashboard (placeholder until the multipage UI lands): the champion and a prediction form."""

import streamlit as st

from core.runtime import get_runtime

st.set_page_config(page_title="IA Continu", layout="wide")
runtime = st.cache_resource(get_runtime)()
st.title("IA Continu")
champion = runtime.registry.champion_version
st.metric("Champion", "none yet" if champion is None else f"v1.{champion - 1}.0")
with st.form("predict"):
    values = [st.number_input(name, value=0.0) for name in runtime.store.features]
    if st.form_submit_button("Predict"):
        result = runtime.predict(values, source="ui")
        st.write(result.as_dict())
