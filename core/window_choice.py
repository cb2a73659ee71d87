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

from core import training
from core.schema import Schema

if TYPE_CHECKING:
    from core.store import Window

CANDIDATE_LENGTHS = (1000, 2000)  # besides the post-drift rows and the full training window
WINDOW_TIE = 0.02  # accuracy points on the newest rows within which the longer window is preferred
MIN_CHECK_ROWS = 60


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
    if post_drift_rows >= n or check < MIN_CHECK_ROWS:
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
