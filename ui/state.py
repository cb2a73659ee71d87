"""The runtime as a Streamlit resource, cached reads keyed by the data version, and safe actions.

One runtime per server process (`st.cache_resource`, closed on release), shared by
every browser tab. Reads are cached by the workspace and the store's data version, so a
page shows new cycles as soon as the loop writes them, without the worker touching
Streamlit, and never shows one workspace's rows in another (two workspaces can share a
data version).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import streamlit as st

from core.config import Settings, SettingsError
from core.domain.deliveries import DELIVERY_WORDS
from core.domain.outcomes import version_label
from core.domain.validation import ago_words, clipped, plural
from core.errors import (
    BusyError,
    NoModelError,
    StorageError,
    UserInputError,
    WorkspaceClosedError,
    WorkspaceError,
    plain_fault,
    refusals_of,
)
from core.rules.verdicts import decision_words
from core.runtime import Runtime, built, close_runtime, get_runtime
from core.startup import Startup, chosen_settings, opening_settings, start_in_background, switch_workspace, workspace_names

if TYPE_CHECKING:
    from core.actions.models import ModelActions
    from core.services.insights import Insights

log = logging.getLogger(__name__)
TILE_LINE = 28  # characters of a metric tile's line beneath its value that fit at 1024 px


def _close(released: Runtime) -> None:
    close_runtime(released)  # stops the worker and releases the DuckDB file, unless a switch replaced it already


@st.cache_resource(show_spinner=False, on_release=_close)
def _runtime() -> Runtime:
    return get_runtime(chosen_settings())


def runtime() -> Runtime:
    """The process's runtime. While it is being built (it starts with the server, see ui.launch) the
    page shows the steps with their progress, then carries on; a bad setting or a workspace held by
    another process stops the page with a clear message, and the next page view tries again."""
    startup = start_in_background()
    if not startup.finished.is_set():
        _show_progress(startup)
    if startup.error is not None:
        exc = startup.error
        st.error(str(exc) if isinstance(exc, WorkspaceError | SettingsError) else f"The workspace could not be opened: {plain_fault(exc)}")
        if not isinstance(exc, SettingsError):  # another workspace may open: the way to it stays
            with st.sidebar:
                _switcher(opening_settings())
        st.stop()
    rt = _runtime()
    if rt.closed:  # a switch in another tab closed it: this run starts again on the workspace opening now
        _runtime.clear()
        st.rerun()
    return rt


def _show_progress(startup: Startup) -> None:
    holder = st.empty()
    while True:
        with holder.container():
            st.subheader("Starting IA Continu")
            st.progress(startup.fraction, text=f"Opening the workspace · {time.monotonic() - startup.began:.0f} s")
            for step in startup.steps():
                mark = ":material/check_circle:" if step.done else ":material/progress_activity:"
                st.markdown(f"{mark} {step.name} · {step.seconds:.1f} s")
        if startup.finished.wait(0.25):
            break
    holder.empty()


def switch_to(name: str, current: Settings | None = None, from_select: bool = False) -> bool:
    """Serve workspace `name` instead of `current` (the one served): its loop stops and its file is released; every
    cached read is dropped, and so is every choice made on a page (see forget_views). A workspace another app holds
    is refused before this one closes, False is returned and REFUSED_SWITCH says why; called by the sidebar's select
    (`from_select`, in its callback, the one moment its value may be set), the select goes back to this one."""
    current = current or runtime().settings
    try:
        switch_workspace(current, name)
    except WorkspaceError as refused:
        if from_select:
            st.session_state[_switcher_key(current)] = current.workspace_name
        st.session_state[REFUSED_SWITCH] = str(refused)
        return False
    _runtime.clear()
    cached_read.clear()
    _run.expires = 0.0
    forget_views()
    return True


DRAWN_FOR = "drawn_for"
SWITCHED_UNDER = "switched_under"


def _opening(rt: Runtime) -> tuple[str, float]:
    """This opening of this workspace: its store and when it was opened, so a workspace closed and opened again (by
    a switch away and back) is another opening."""
    return str(rt.settings.duckdb_path), rt.started_at


def _drawn(rt: Runtime) -> tuple[str, float, str]:
    return *_opening(rt), rt.settings.workspace_name


def _stale(drawn: tuple | list | None, served: Runtime | None) -> bool:
    """Whether a tab drawn for `drawn` (its `DRAWN_FOR`, None before its first run) shows another opening than the
    one `served` now."""
    return drawn is not None and (served is None or served.closed or tuple(drawn[:2]) != _opening(served))


def fragment(run_every: float | None = None) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """`st.fragment` for a part of a page that redraws on its own: each run first checks that the workspace the page
    was drawn for is still the one served, and redraws the whole page otherwise (with keep_to_served_workspace's
    words). A stale tab's Operations showed a closed workspace's traceback every 2 s, and its Overview drew another
    workspace's champion inside a page drawn for the one left (a review of tour 20's fix)."""

    def wrap(draw: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(draw)
        def checked() -> None:
            if _stale(st.session_state.get(DRAWN_FOR), built()):
                st.rerun(scope="app")
            draw()

        return st.fragment(checked, run_every=run_every)

    return wrap


def keep_to_served_workspace(rt: Runtime) -> None:
    """Called once per full run, before the page: when the page this tab shows was drawn for a workspace that a switch
    in another tab (or through the API) has closed since, what was clicked on it is not done: the run starts over
    (which drops the clicks), with the URL's choices cleared, and the page says why. A stale tab's Train now trained
    the workspace switched to, and its Predict was answered by the closed one (tour 20)."""
    served = _drawn(rt)
    drawn = st.session_state.get(DRAWN_FOR)
    if _stale(drawn, rt):
        # Not forget_views: a widget whose state is deleted reads as changed at the next run, and its callback then
        # ran on nothing (KeyError) or, for the sidebar's select, would switch the app back. Pages keep to the
        # workspace served on their own (the form boxes show what is in force, a cycle not of it falls back).
        st.query_params.clear()
        st.session_state[SWITCHED_UNDER] = (
            f"This tab showed workspace {drawn[2]}, and {served[2]} is served now (switched in another tab, or through the "
            f"API): the page is drawn again for {served[2]}, and what you last clicked or typed was not done."
            if drawn[2] != served[2] else
            f"Workspace {served[2]} was closed and opened again since this tab was drawn (switched away and back in another "
            "tab, or through the API): the page is drawn again, and what you last clicked or typed was not done."
        )  # fmt: skip
        st.session_state[DRAWN_FOR] = served
        st.rerun()
    st.session_state[DRAWN_FOR] = served
    said = st.session_state.pop(SWITCHED_UNDER, None)
    if said:
        st.warning(said, icon=":material/swap_horiz:")


def forget_views() -> None:
    """A cycle, a version, a typed interval or a form's values were chosen among one workspace's things: kept, they
    would open another's pages on its cycle 12 or show the interval typed for the one left as this one's. The
    session starts over, but for the upload counters (`*_round`), which keep a file uploader from showing a file
    sent before; the URL's ?cycle= and ?version= go with the choices they named."""
    for key in [k for k in st.session_state if not str(k).endswith("_round")]:
        del st.session_state[key]
    st.query_params.clear()


def workspace_switcher() -> None:
    """The sidebar's choice of workspace: the demo and every workspace made from a file."""
    _switcher(runtime().settings)


REFUSED_SWITCH = "workspace_refused"


def _switcher_key(settings: Settings) -> str:
    return f"workspace_{settings.workspace_name}"


def _switcher(settings: Settings) -> None:
    names = workspace_names(settings)
    current = settings.workspace_name
    if current not in names:
        names.append(current)
    key = _switcher_key(settings)
    if st.session_state.get(key) not in names:  # the select's value lives in the session only: a default beside it
        st.session_state[key] = current  # logged a warning each time a refused switch set it back
    st.selectbox("Workspace", names, key=key, help="One workspace is served at a time: "
                 "switching stops this one's loop. Make a new one on the Data page (Start from your own data).",
                 on_change=lambda: _chosen_in_select(key, settings))  # fmt: skip
    if refused := st.session_state.pop(REFUSED_SWITCH, None):
        st.error(refused)


def _chosen_in_select(key: str, drawn_for: Settings) -> None:
    """The select's choice, switched to, unless the select was drawn for a workspace no longer served: a tab left open
    while another switched forgets its choices (keep_to_served_workspace), which Streamlit reads as its select changed,
    and its callback must not switch the app back (nor read a value forgotten)."""
    served, chosen = built(), st.session_state.get(key)
    if chosen is None or (served is not None and str(served.settings.duckdb_path) != str(drawn_for.duckdb_path)):
        return
    switch_to(chosen, drawn_for, from_select=True)


_run = threading.local()  # Streamlit runs each script run (and fragment run) on its own thread
VERSION_REUSE_SECONDS = 1.0


def data_version() -> tuple:
    """The workspace served and its store's data version, asked once per script run rather than once per
    read; an action in this run forgets it, so reads after the action see its effect."""
    now, rt = time.monotonic(), runtime()
    workspace = _opening(rt)
    if getattr(_run, "expires", 0.0) < now or _run.version[:2] != workspace:
        _run.version, _run.expires = (*workspace, *rt.insights.data_version()), now + VERSION_REUSE_SECONDS
    return _run.version


@st.cache_data(max_entries=64, show_spinner=False)
def cached_read(owner: str, name: str, version: tuple, *args: Any) -> Any:
    """`runtime().<owner>.<name>(*args)`, recomputed only when the workspace or its data version changes."""
    del version  # part of the cache key only
    return getattr(getattr(runtime(), owner), name)(*args)


class _Cached:
    """One use case of the runtime whose every method is read through `cached_read`."""

    def __init__(self, owner: str) -> None:
        self._owner = owner

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return lambda *args: cached_read(self._owner, name, data_version(), *args)


class CachedReads:
    """The runtime's reads as pages show them: `cached.insights.cycles(10)` is `runtime().insights.cycles(10)`,
    read once per data version (typed as the use case itself, so a misspelt read fails in the editor)."""

    @property
    def insights(self) -> Insights:
        return cast("Insights", _Cached("insights"))

    @property
    def models(self) -> ModelActions:
        return cast("ModelActions", _Cached("models"))


cached = CachedReads()


def act(
    action: Callable[[], Any], success: str | Callable[[Any], str] | None = None, labels: Mapping[str, str] | None = None,
    under: str | None = None,
) -> Any:  # fmt: skip
    """Run a user action: user errors shown with st.error (a field named by its label on the page where `labels` has
    it), system faults logged and summarised, never a traceback. A callback runs before the page is drawn, so its
    error would come first, at the top of the page, far from the box it is about: with `under`, it is kept for
    `said_under(under)` to draw beside the form instead."""
    _run.expires = 0.0

    def say(kind: str, message: str) -> None:
        if under is None:
            getattr(st, kind)(message)
        else:
            st.session_state[SAID + under] = (kind, message)

    try:
        result = action()
    except UserInputError as exc:
        labels = labels or {}
        refused = refusals_of(exc)
        said = "; ".join(f"{labels[one.field]}: {one.message}" if one.field in labels else str(one) for one in refused)
        say("error", said + ("; nothing was changed" if any(one.field in labels for one in refused) else ""))
        return None
    except WorkspaceClosedError:  # drawn for a workspace a switch closed since: the page is drawn again for the one served
        st.rerun(scope="app")
    except (NoModelError, BusyError) as exc:
        say("warning", str(exc))
        return None
    except StorageError as exc:
        say("error", f"Not done: {exc}")
        return None
    except Exception as exc:
        log.exception("action failed")
        say("error", f"That did not work: {plain_fault(exc)}. The details are in the server log.")
        return None
    if success:
        st.toast(success(result) if callable(success) else success)
    return result


SAID = "said_under:"


def said_under(name: str) -> None:
    """Draw here what an `act(..., under=name)` was refused for, once."""
    if said := st.session_state.pop(SAID + name, None):
        getattr(st, said[0])(said[1])


DRAWN = "drawn:"  # a form box's value as last drawn, beside its key


def in_force(values: Mapping[str, Any]) -> None:
    """Draw a form's boxes (by key) with the values in force: a box keeps its value by its key across reruns, whatever
    its `value=`, so after the loop stopped a replay, or PUT /loop changed the policy, the form still showed the old
    values, and Save or Apply put them back without a word; a refused value stayed in its box. A form's values reach
    the session only when it is sent, and its callback has applied or refused them by now. Set through the session,
    as the browser shows only a value the server sets so (hence `disableWidgetStateDuplicationWarning`). What each
    box was drawn with is kept for `changed`."""
    for key, value in values.items():
        st.session_state[key] = st.session_state[DRAWN + key] = value


def changed(key: str) -> Any:
    """The value sent in a form's box, or None where it was sent as drawn: a form sends every box, so a tab drawn
    before a change made elsewhere (another tab, the API) put the old values back on Save; only what the person
    changed is applied."""
    value = st.session_state.get(key)
    return None if value == st.session_state.get(DRAWN + key) else value


def empty_state(message: str) -> None:
    st.info(message, icon=":material/info:")


EMPTY_CELL = "—"
"""What a table cell shows where a value is missing (`dataframe` below; `st.data_editor(placeholder=EMPTY_CELL)`): Streamlit's own is the word
"None", which read as a value (an HTTP status "None", a true label "None")."""


ROW_PX = 35  # glide-data-grid's row (and header) height in Streamlit's theme


HEADERS = {
    "cycle_id": "cycle", "champion_version": "champion", "model_version": "version", "dataset_id": "dataset",
    "notification_id": "alert", "http_status": "HTTP status", "run_id": "MLflow run id", "n_rows": "rows", "ts": "time (UTC)",
    "created_at": "created (UTC)", "started_at": "started (UTC)", "last_prediction": "last prediction (UTC)",
    "last_received": "last received (UTC)", "cutoff": "cutoff (UTC)", "p_value": "p-value", "window_batches": "batches pooled",
    "n_reference": "reference rows", "n_current": "current rows", "challenger_score": "challenger", "champion_score": "champion",
    "own_challenger_score": "challenger (own holdout)", "own_champion_score": "champion (own holdout)", "own_n_rows": "own holdout rows",
}  # fmt: skip
"""A stored column's header where a page names it no other way; any other stored name reads with spaces for `_`."""


COUNT = "%,d"
"""A count in a table as every sentence writes it (1,234) whatever the browser's language: "localized" wrote 1.234
in a German browser, beside sentences saying 1,234."""
COUNTS = frozenset({"n_rows", "rows_seen", "labelled_rows", "own_n_rows", "n_train", "n_holdout", "n_reference", "n_current",
                    "predictions", "batches", "attempts"})  # fmt: skip
"""Stored columns that hold a count: `dataframe` writes them with COUNT unless a page configures them in full."""


def header(name: str) -> str:
    """The header a person reads for the stored column `name`: created_at is "created (UTC)", rows_seen "rows seen"."""
    return HEADERS.get(name, name.replace("_", " "))


def dataframe(frame: pd.DataFrame, into: Any = st, ours: bool = True, **options: Any) -> None:
    """`st.dataframe` as every page draws one, in `into` (a tab, a column): a dash where a value is missing
    (EMPTY_CELL), the one place that says so; a `height` is a cap, so a table of two rows has no empty rows under them.
    `ours`: the columns are the store's, each headed as `header` writes it unless `column_config` names it; False for
    a user's rows, whose columns keep the names their file gave them."""
    if isinstance(options.get("height"), int):
        options["height"] = min(options["height"], ROW_PX * (len(frame) + 1) + 3)
    if ours:
        given = options.get("column_config") or {}
        named = {c: header(c) for c in frame.columns if isinstance(c, str) and header(c) != c}
        counted = {c: st.column_config.NumberColumn(given.get(c, header(c)), format=COUNT)
                   for c in frame.columns if c in COUNTS and isinstance(given.get(c, ""), str)}  # fmt: skip
        options["column_config"] = named | given | counted
    else:
        options["column_config"] = utc_headers(frame) | (options.get("column_config") or {})
    into.dataframe(frame, **{"placeholder": EMPTY_CELL, **options})


def utc_headers(frame: pd.DataFrame) -> dict[str, Any]:
    """A user's column of times, as the store keeps them (UTC, no zone written), headed "<name> (UTC)" as every table of
    ours heads its times: without it a reader takes 09:00 for their own clock."""
    return {c: st.column_config.DatetimeColumn(f"{c} (UTC)", format="YYYY-MM-DD HH:mm:ss")
            for c in frame.columns if isinstance(c, str) and pd.api.types.is_datetime64_dtype(frame[c])}  # fmt: skip


def table(frame: pd.DataFrame, columns: list[str], empty: str, **options: Any) -> None:
    """A table of `columns`, a dash where a value is missing, or the empty state saying what to do next."""
    if frame.empty:
        empty_state(empty)
    else:
        dataframe(frame[columns], hide_index=True, **options)


def as_shown(typed: float | None, places: int) -> float | None:
    """A number field's value as the field shows it with `places` decimals ("%.{places}f"): the browser rounds only
    the text, so 2.5 typed in a whole-number field showed 3 and was sent as 2.5. Halves go away from zero on the exact
    binary value, as the browser's toFixed does."""
    if typed is None:
        return None
    if not math.isfinite(typed) or abs(typed) >= 2**53:  # no fraction left to round
        return typed
    with localcontext(prec=40):  # 2**53's 16 digits and 15 decimals: the default 28 raised on 1e13 shown with 15 (tour 21:
        # quantize raised on 1e300, and the Predict form gave way to Streamlit's error box)
        return float(Decimal(typed).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)) + 0.0


def percent(value: float | None) -> str:
    """A share as a percentage with as many decimals as it takes not to round to 100 % (0.9997 is 99.97 %, not 100.0 %)."""
    if value is None or pd.isna(value):
        return "—"
    for decimals in range(1, 7):
        text = f"{value * 100:.{decimals}f} %"
        if value >= 1.0 or not text.startswith("100."):
            return text
    return f"{value * 100:.6f} %"


def choice_from_url(param: str, key: str, options: list, parse: Callable[[str], Any]) -> None:
    """A link names a view (?cycle=12, ?version=v1.2.0): when the URL's value is new, it picks the widget
    `key` (called before the widget is drawn). A value that does not parse or is not offered is ignored."""
    raw = st.query_params.get(param)
    if raw is None or raw == st.session_state.get(f"_url_{param}"):
        return
    st.session_state[f"_url_{param}"] = raw
    try:
        value = parse(raw)
    except (ValueError, UserInputError):
        return
    if value in options:
        st.session_state[key] = value


def keep_in_url(param: str, text: str) -> None:
    """Write the view's choice into the URL, so the address bar is a link to this very view."""
    if st.query_params.get(param) != text:
        st.query_params[param] = text
    st.session_state[f"_url_{param}"] = text


def shown_rows(shown: int, total: int) -> str:
    """What a chart of a sample holds, said as it is: "all its 300 rows", or "a seeded sample of 20,000 of its
    191,000 rows", never a cap larger than the table."""
    return f"all its {plural(total, 'row')}" if shown >= total else f"a seeded sample of {shown:,} of its {plural(total, 'row')}"


def version_column(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Version numbers shown as their labels (v1.2.0), and "—" where there is none."""
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = [version_label(None if pd.isna(v) else int(v)) for v in out[column]]
    return out


def tile_line(parts: list[str], sep: str = ", ") -> str | None:
    """Parts joined as far as they fit a tile's line at 1024 px (TILE_LINE characters), those left out counted ("+2
    more"); the tile's help says them all. Past that width the line was cut mid-word.

    >>> tile_line(["feature drift", "realised-accuracy drop"])
    'feature drift +1 more'
    """
    if not parts:
        return None
    for shown in range(len(parts), 0, -1):
        rest = f" +{len(parts) - shown} more" if shown < len(parts) else ""
        line = sep.join(parts[:shown])
        if len(line + rest) <= TILE_LINE or shown == 1:
            room = TILE_LINE - len(rest)
            return clipped(line, room) + rest
    return None


def realised_as_of(realised: dict, champion: int | None, newest: int | None) -> str | None:
    """What the realised figure shown is, in the line beneath its tile, most telling first: whose it was when not
    today's champion's, how many cycles ago when cycles ran since (labels that stopped coming left a figure 116 cycles
    old looking current), else its cycle, and its labels where room is left. TILE_LINE characters fit at 1024 px; the
    tile's help gives the cycle, its time and its labels in full."""
    if not realised:
        return None
    served = realised.get("champion_version")
    ago = (newest or 0) - int(realised["cycle_id"])
    parts = [] if served == champion else [f"{version_label(served)}'s"]
    if ago > 0:  # "v1.10.0's · 12,345 ago"
        parts.append(ago_words(ago, TILE_LINE - sum(len(p) + len(" · ") for p in parts)))
    elif not parts:
        parts.append(f"cycle {realised['cycle_id']}")
    labels = plural(int(realised["realised_on"]), "label")
    if len(parts) < 2 and len(" · ".join([*parts, labels])) <= TILE_LINE:  # "1,234 cycles ago · 1,000 labels" was cut
        parts.append(labels)
    return " · ".join(parts)


def decision_of(cycle: dict) -> str:
    """A stored cycle's decision in words (`core.rules.verdicts.decision_words`), from a row that may hold NaN."""
    new, promoted, outcome = (None if pd.isna(cycle.get(k)) else cycle.get(k) for k in ("new_version", "promoted", "gate_outcome"))
    run = cycle.get("idle_cycles")  # a run of cycles with no new data, shown as one row (`StoredFacts.latest_cycles`)
    if run is not None and not pd.isna(run) and run > 1:
        return f"no new data, cycles {int(cycle['idle_from'])}–{int(cycle['cycle_id'])}"
    later = cycle.get("decided_later")
    return decision_words(cycle["decision"], None if new is None else int(new), promoted, outcome, failed=cycle.get("status") == "error",
                          decided_later=later if isinstance(later, str) else None)  # fmt: skip


CYCLE_STATUS = {"ok": "ok", "no_data": "no data", "error": "failed"}  # a cycle's stored status as a table shows it


def decisions(cycles: pd.DataFrame) -> pd.DataFrame:
    """Cycles with their decisions and status in words ("no data", not no_data); call before `version_column` turns
    the versions into labels."""
    if cycles.empty:
        return cycles
    worded = cycles.assign(decision=[decision_of(row) for row in cycles.to_dict("records")])
    return worded.assign(status=worded["status"].map(CYCLE_STATUS).fillna(worded["status"])) if "status" in worded else worded


def deliveries(alerts: pd.DataFrame) -> pd.DataFrame:
    """Alerts with their delivery in words: an informational alert is never read as sent to Discord."""
    if alerts.empty:
        return alerts
    return alerts.assign(delivery=alerts["delivery"].map(lambda d: DELIVERY_WORDS.get(d, d)))


NOTHING_JUDGED = {"error": ("failed", "failed, so it judged nothing"), "no_data": ("no data", "found no new data, so it judged nothing")}
"""A cycle's signals tile where it judged nothing: "0" read as a cycle that tested and found nothing."""


def signals_tile(cycle: dict, fired: list[str]) -> tuple[str, str | None]:
    """The signals tile's value for a cycle, and why nothing was judged (None when it judged): one wording for the
    Overview's latest cycle and the Drift page's chosen one."""
    if cycle.get("status") in NOTHING_JUDGED:
        said, reason = NOTHING_JUDGED[cycle["status"]]
        return said, f"Cycle {cycle['cycle_id']} {reason}: {cycle.get('reason')}."
    return "—" if not cycle else plural(len(fired), "signal") if fired else "no signal", None
