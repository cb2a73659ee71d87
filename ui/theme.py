"""The light/dark choice of Streamlit's Settings menu, kept for every page of the app.

Streamlit 1.67 stores the choice in the browser's localStorage under a key holding the URL path the app was
loaded from (`stActiveTheme-<window.location.pathname>-v2`, its frontend's theme utilities), so dark chosen on
/ is unknown to /drift opened by its URL, which comes up light. The script below, run once per page load in
the app's own document, writes every choice Streamlit stores under the key of each page's path as well.
"""

from __future__ import annotations

import json

import streamlit as st

_MIRROR = """<script>
(() => {
  if (window.__iaThemeMirror) return;
  window.__iaThemeMirror = true;
  const paths = %s;
  const store = Storage.prototype.setItem;
  Storage.prototype.setItem = function (name, value) {
    store.call(this, name, value);
    const chosen = /^stActiveTheme-.*-(v[0-9]+)$/.exec(name);
    if (this === window.localStorage && chosen) {
      for (const path of paths) store.call(this, `stActiveTheme-${path}-${chosen[1]}`, value);
    }
  };
})();
</script>"""


def page_paths(names: list[str], base: str = "") -> list[str]:
    """Every pathname a page of the app can be loaded from (the default page at / and at its name), with and
    without a trailing slash, under the base URL path (server.baseUrlPath)."""
    root = "/" + base.strip("/") if base.strip("/") else ""
    return sorted({f"{root}/", *(f"{root}/{name}{end}" for name in names for end in ("", "/"))})


def keep_theme_across_pages(names: list[str]) -> None:
    """Install the mirror for the pages of these URL paths (a zero-height element: call it at the end of the sidebar)."""
    base = str(st.get_option("server.baseUrlPath") or "")
    st.html(_MIRROR % json.dumps(page_paths(names, base)), unsafe_allow_javascript=True)
