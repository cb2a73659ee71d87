"""IA Continu: the router. Page config, the shared runtime, navigation over the pages."""

import logging

import streamlit as st

from core.errors import plain_fault
from ui.state import runtime, workspace_switcher

st.set_page_config(page_title="IA Continu", page_icon=":material/autorenew:", layout="wide")

pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/database:"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/online_prediction:"),
    st.Page("pages/drift.py", title="Drift", icon=":material/query_stats:"),
    st.Page("pages/operations.py", title="Operations", icon=":material/settings:"),
]
# Our own menu (the config hides Streamlit's): drawn before the workspace opens, so the sidebar names the
# pages from the first instant, where Streamlit's would list the raw files of pages/ until st.navigation ran.
page = st.navigation(pages, position="hidden")
with st.sidebar:
    for entry in pages:
        st.page_link(entry)
runtime()  # one runtime (and one worker) per server process, shared by every tab; shows its start-up steps
with st.sidebar:
    workspace_switcher()
try:
    page.run()
except Exception as exc:  # Streamlit's rerun/stop signals are BaseException and pass through
    logging.getLogger("ia_continu.ui").exception("page %s failed", page.title)
    st.error(f"This page hit an error: {plain_fault(exc)}. The details are in the server log.")
