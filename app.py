"""IA Continu: the router. Page config, the shared runtime, navigation over the pages."""

import logging

import streamlit as st

from core.errors import plain_fault
from ui.state import keep_to_served_workspace, runtime, workspace_switcher
from ui.theme import keep_theme_across_pages

st.set_page_config(page_title="IA Continu", page_icon=":material/autorenew:", layout="wide")

# The pages live in app_pages/, not pages/: with a pages/ folder beside app.py, Streamlit runs a fresh server's first
# request in its older pages-folder mode, where a page opened by its URL runs without app.py (no menu, no page config).
PAGES = {  # each page's file under app_pages/ (its URL path too), title and icon; the first is the default
    "overview": ("Overview", ":material/monitoring:"),
    "data": ("Data", ":material/database:"),
    "models": ("Models", ":material/model_training:"),
    "predict": ("Predict", ":material/online_prediction:"),
    "drift": ("Drift", ":material/query_stats:"),
    "operations": ("Operations", ":material/settings:"),
}
pages = [st.Page(f"app_pages/{name}.py", title=title, icon=icon, default=name == "overview") for name, (title, icon) in PAGES.items()]
# The default page is served at "/" only (Streamlit gives it the empty path): the same file again, hidden from the
# menu, answers at /overview as every other page answers at its name.
at_its_name = st.Page("app_pages/overview.py", title="Overview", icon=PAGES["overview"][1], url_path="overview", visibility="hidden")
pages[0] = st.Page("app_pages/overview.py", title="Overview", icon=PAGES["overview"][1], url_path="home", default=True)
# Our own menu (the config hides Streamlit's): drawn before the workspace opens, so the sidebar names the
# pages from the first instant, while the runtime is still being built.
page = st.navigation([*pages, at_its_name], position="hidden")
with st.sidebar:
    for entry in pages:
        st.page_link(entry)
keep_to_served_workspace(runtime())  # one runtime (and worker) per server process, shared by every tab; shows its start-up
with st.sidebar:
    workspace_switcher()
    keep_theme_across_pages(list(PAGES))  # the Settings menu's light or dark, for a page opened by its URL too
try:
    page.run()
except Exception as exc:  # Streamlit's rerun/stop signals are BaseException and pass through
    logging.getLogger("ia_continu.ui").exception("page %s failed", page.title)
    st.error(f"This page hit an error: {plain_fault(exc)}. The details are in the server log.")
