"""How much history a drift retrain learns from, chosen on the newest rows instead of assumed.

After an abrupt change, the rows since the change are the only ones that describe the new regime
(what ADWIN keeps); on a real stream whose drift is seasonal and slow (Weather), the detector fires
again and again, and a model fitted on the few hundred rows since the last alarm serves worse than one
fitted on thousands (measured: 0.775 against 0.780, `benchmarks/bench_replay.py`). So the candidates
are the post-drift rows and longer windows up to IA_TRAINING_WINDOW; each is fitted without the newest
post-drift rows and scored on them, and the longest window within WINDOW_TIE of the best wins: more
rows make a steadier model unless the older ones clearly mislead it. Pure: windows in, a window out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from core.domain.schema import Schema
from core.ml import training

if TYPE_CHECKING:
    from core.store import Window

CANDIDATE_LENGTHS = (1000, 2000)  # besides the post-drift rows and the full training window
WINDOW_TIE = 0.02  # accuracy points on the newest rows within which the longer window is preferred
MIN_ROWS = 60  # fewest rows a candidate window is fitted on, or a choice of window scored on


@dataclass(frozen=True)
class WindowChoice:
    window: Window
    scores: dict[int, float]  # accuracy on the newest rows, per candidate length
    check_rows: int

    def describe(self) -> str:
        shown = ", ".join(f"{length:,} rows {score:.3f}" for length, score in sorted(self.scores.items()))
        return f"window of {self.window.n_rows:,} rows chosen on the newest {self.check_rows:,} post-drift rows ({shown})"


def choose_window(full: Window, post_drift_rows: int, schema: Schema, holdout_fraction: float) -> WindowChoice | None:
    """The newest rows of `full` to retrain on, from the last `post_drift_rows` up to all of it; None when there
    is nothing to choose (no older rows, or too few new ones to judge by)."""
    n = full.n_rows
    check = round(post_drift_rows * holdout_fraction)
    if post_drift_rows >= n or check < MIN_ROWS:
        return None
    lengths = sorted({post_drift_rows, n, *(c for c in CANDIDATE_LENGTHS if post_drift_rows < c < n)})
    y_check = full.y[n - check :]
    X_check = _rows(full.X, n - check, n)
    scores = {}
    for length in lengths:
        lo, hi = n - length, n - check
        y = full.y[lo:hi]
        if len(np.unique(y)) < 2:
            continue
        model = training.build_pipeline(training.DEFAULT_OPTIONS, schema).fit(_rows(full.X, lo, hi), y)
        scores[length] = float(np.mean(training.predicted_class(model.predict_proba(X_check)) == y_check))
    if not scores:
        return None
    best = max(scores.values())
    length = max(k for k, v in scores.items() if v >= best - WINDOW_TIE)
    return WindowChoice(tail(full, length), scores, check)


def tail(window: Window, length: int) -> Window:
    """The newest `length` rows of a window."""
    n = window.n_rows
    ids = window.sample_ids[n - length :] if window.sample_ids is not None else None
    first = int(ids[0]) if ids is not None and len(ids) else window.first_sample_id
    return replace(window, X=_rows(window.X, n - length, n), y=window.y[n - length :], first_sample_id=first, sample_ids=ids)


def _rows(X: object, lo: int, hi: int) -> object:
    return X.iloc[lo:hi] if hasattr(X, "iloc") else X[lo:hi]


@dataclass(frozen=True)
class Challenge:
    """The best of a few windows, each fitted on the rows before the newest `check_rows` and scored on them."""

    length: int  # training rows of the best window (before the check rows)
    right: np.ndarray  # where its predictions of the check rows were right
    scores: dict[int, float]
    check_rows: int
    skipped: tuple[tuple[int, str], ...] = ()  # candidate lengths not fitted, and why

    def describe(self) -> str:
        shown = ", ".join(f"{length:,} rows {score:.3f}" for length, score in sorted(self.scores.items()))
        # One window fitted (the others too short or of one class): no choice was made, so none is claimed.
        how = "scored on" if len(self.scores) == 1 else "the window that scored best on"
        left = "; not fitted: " + ", ".join(f"{length:,} rows ({why})" for length, why in self.skipped) if self.skipped else ""
        return (f"trained on the {self.length:,} rows before the newest {self.check_rows:,}, {how} those {self.check_rows:,} "
                f"({shown}{left})")  # fmt: skip


def challenge(full: Window, check_rows: int, lengths: tuple[int, ...], schema: Schema) -> Challenge | NoChallenger:
    """Forward validation: each candidate length of rows just before the newest `check_rows` is fitted and scored
    on them; the best wins, the longer one on a tie (a steadier model). NoChallenger says why none could be fitted."""
    n = full.n_rows
    before = n - check_rows
    candidates = sorted({min(length, before) for length in lengths if length > 0})
    y_check, X_check = full.y[before:], _rows(full.X, before, n)
    with threadpool_limits(1):  # a few thousand rows: BLAS threads only contend (5x slower on a busy 2-core machine)
        return _best(full, before, candidates, X_check, y_check, schema, check_rows)


def _best(
    full: Window, before: int, candidates: list[int], X_check: object, y_check: np.ndarray, schema: Schema, check_rows: int
) -> Challenge | NoChallenger:
    scores, rights, skipped = {}, {}, []
    for length in candidates:
        y = full.y[before - length : before]
        if length < MIN_ROWS or len(np.unique(y)) < 2:  # tour 16: a window of one class left the list unsaid
            skipped.append((length, f"fewer than {MIN_ROWS}" if length < MIN_ROWS else ONE_CLASS))
            continue
        model = training.build_pipeline(training.DEFAULT_OPTIONS, schema).fit(_rows(full.X, before - length, before), y)
        rights[length] = training.predicted_class(model.predict_proba(X_check)) == y_check
        scores[length] = float(np.mean(rights[length]))
    if not scores:
        return NoChallenger(before, check_rows, tuple(skipped))
    best = max(scores.values())
    length = max(k for k, v in scores.items() if v >= best)
    return Challenge(length, rights[length], scores, check_rows, tuple(skipped))


ONE_CLASS = "one class only"


@dataclass(frozen=True)
class NoChallenger:
    """No candidate window could be fitted, and why: every reason was "no window holds two classes", also said when
    there were no rows at all before the check rows (tour 20: a replay started over sends rows the loop has read,
    and a window reads each row once, so nothing was left to train on, cycle after cycle)."""

    before: int  # labelled rows before the check rows: what every candidate is cut from
    check_rows: int
    skipped: tuple[tuple[int, str], ...]

    def describe(self) -> str:
        if self.before < MIN_ROWS:
            return (f"no challenger yet: one trains on the labelled rows before the {self.check_rows:,} newest it is judged on, "
                    f"and there are {self.before:,} ({MIN_ROWS} needed; a row a replay sent again counts once)")  # fmt: skip
        if all(why == ONE_CLASS for _length, why in self.skipped):
            return "waiting for more rows: no candidate window holds two classes"
        return "waiting for more rows: no candidate window could be fitted (" + ", ".join(
            f"{length:,} rows: {why}" for length, why in self.skipped) + ")"  # fmt: skip
