"""The rows each of a cycle's drift tests compared with the reference, read again for its charts.

A test takes the newest batch alone or pooled with the batches tested before it (whichever reads
stronger, `window_batches`), so a chart of the cycle's batch alone is not what a pooled test saw. The
pooled rows are the newest tested cycles' batches; each is read again as the cycle read it (its samples
and the inputs of the predictions served still unlabelled), and kept for a feature only where its count
of values present equals the test's (`n_current`). Where the rows cannot be read again (archived by
retention, or too many to draw), the feature's chart shows the cycle's batch alone and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from core.domain.features import TARGET
from core.stats.drift import LABELS
from core.store import Store, TestedBatch


@dataclass(frozen=True)
class Compared:
    rows: pd.DataFrame
    cycles: tuple[int, ...]  # whose batches the rows are, oldest first

    @property
    def name(self) -> str:
        """What a legend calls the rows: one cycle's batch, or the batches pooled."""
        if len(self.cycles) == 1:
            return f"Cycle {self.cycles[0]} batch"
        return f"Cycles {self.cycles[0]}–{self.cycles[-1]}: {len(self.cycles)} batches pooled"

    @property
    def short_name(self) -> str:
        """What a chart's title calls them, the same length whatever the cycles' numbers (the legend names them)."""
        return f"cycle {self.cycles[0]} batch" if len(self.cycles) == 1 else f"{len(self.cycles)} batches pooled"


@dataclass(frozen=True)
class ComparedRows:
    batch: Compared  # the cycle's own batch: what a chart shows where a test's rows cannot be read again
    by_feature: dict[str, Compared]  # per tested column (and LABELS), the rows its test compared
    unread: tuple[str, ...] = ()  # tested columns whose test's rows cannot all be read again: shown as the batch
    windows: dict[int, Compared] = field(default_factory=dict)  # k: the newest k tested batches as read again, oldest first

    def of(self, feature: str) -> Compared:
        return self.by_feature.get(feature, self.batch)


def compared_rows(store: Store, cycle_id: int, max_rows: int) -> ComparedRows | None:
    """Per tested feature, the rows its test compared (the cycle's batch up to `max_rows`, each earlier one up to
    `max_rows` over the deepest window: a larger one is sampled, and its chart is the batch's); None for a cycle that
    made no drift test."""
    drift = store.drift_results(cycle_id)
    if drift.empty:
        return None
    deepest = int(drift["window_batches"].fillna(1).max())
    tested = store.tested_batches(cycle_id, deepest)
    if not tested or tested[0].cycle_id != cycle_id:
        return None
    pooled: dict[int, Compared] = {}  # k: the newest k tested batches, oldest first
    frames: list[pd.DataFrame] = []
    for batch in tested:
        cap = max_rows if not frames else max_rows // deepest  # a pooled chart holds at most about twice one batch's rows
        frames.append(_read_again(store, batch, cap))
        cycles = tuple(b.cycle_id for b in tested[: len(frames)])[::-1]
        pooled[len(frames)] = Compared(pd.concat(frames[::-1], ignore_index=True), cycles)
    by_feature, unread = {}, []
    for row in drift.itertuples(index=False):
        column = TARGET if row.feature == LABELS else row.feature
        if column not in pooled[1].rows:
            continue  # a missing-rate or predicted-class test: no chart of its own
        window = pooled.get(1 if pd.isna(row.window_batches) else int(row.window_batches))
        if window is not None and int(window.rows[column].notna().sum()) == int(row.n_current):
            by_feature[row.feature] = window
        else:
            unread.append(row.feature)
    return ComparedRows(pooled[1], by_feature, tuple(unread), pooled)


def _read_again(store: Store, batch: TestedBatch, cap: int) -> pd.DataFrame:
    """What one cycle's test read, as it read it: its samples but the labels of predictions served before it (an earlier
    cycle tested their inputs), then the inputs of the predictions served that were still unlabelled (a sample of either
    when there are more than `cap`: the counts then differ from the test's)."""
    parts = []
    if batch.first_sample_id is not None:
        parts.append(store.incoming_rows(batch.first_sample_id, batch.last_sample_id, cap, batch.served_since))
    if batch.served_until is not None:
        parts.append(store.served_inputs(batch.served_since, batch.served_until, batch.last_sample_id or 0, cap))
    read = [part for part in parts if not part.empty] or parts[:1]  # an empty part adds no row (and no dtype warning)
    return pd.concat(read, ignore_index=True) if len(read) > 1 else read[0] if read else pd.DataFrame()
