"""Monitoring cycles, their per-feature drift results, and the dashboard's aggregated views."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import pandas as pd

from core.domain.clock import EPOCH
from core.domain.outcomes import FailingStreak
from core.stats.drift import NO_VALUES
from core.store.base import StoreBase, insert_records, insert_row
from core.store.migrations import REALISED_ON

# The model event that ended the wait of the version a cycle left awaiting approval (an approval, a rejection, a withdrawal):
# a cycle's "awaits approval" read as still true long after a person decided (tour 22). `{cycles}`: the cycles' alias.
DECIDED_LATER = """(SELECT e.kind FROM model_events e WHERE e.version = {cycles}.new_version
                     AND e.kind IN ('approval', 'rejection', 'superseded') ORDER BY e.event_id DESC LIMIT 1) AS decided_later"""


class TestedBatch(NamedTuple):
    """What a cycle that made a drift test read: its samples (none when only predictions came) and the
    predictions served in (served_since, served_until] (the pipeline's reading position, as `_new_data` keeps it)."""

    cycle_id: int
    first_sample_id: int | None
    last_sample_id: int | None
    served_since: datetime
    served_until: datetime | None


class CycleQueries(StoreBase):
    def next_cycle_id(self) -> int:
        # fetchall, not fetchone: a half-read result keeps its autocommit transaction open, and one that
        # moved a sequence is a write transaction that makes every CHECKPOINT fail until the next query.
        return self.cur.execute("SELECT nextval('cycle_id_seq')").fetchall()[0][0]

    def insert_cycle(self, record: dict, drift_rows: list[dict]) -> None:
        """The cycle and its per-feature drift results, together."""
        with self.transaction() as tx:
            insert_row(tx, "cycles", record)
            insert_records(tx, "drift_results", ({"cycle_id": record["cycle_id"], **r} for r in drift_rows))

    def cycle_verdict(self, cycle_id: int) -> str | None:
        row = self.cur.execute("SELECT verdict FROM cycles WHERE cycle_id = ?", [cycle_id]).fetchone()
        return row[0] if row else None

    def cycles_page(self, limit: int, offset: int) -> pd.DataFrame:
        return self.cur.execute("SELECT * EXCLUDE (error) FROM cycles ORDER BY cycle_id DESC LIMIT ? OFFSET ?", [limit, offset]).df()

    def last_cycle_id(self) -> int:
        return self.cur.execute("SELECT coalesce(max(cycle_id), 0) FROM cycles").fetchone()[0]

    def cycle(self, cycle_id: int) -> dict | None:
        return self._one(
            f"SELECT *, {REALISED_ON} AS realised_on, {DECIDED_LATER.format(cycles='cycles')} FROM cycles WHERE cycle_id = ?", [cycle_id]
        )

    def cycle_ids(self, limit: int = 500) -> list[int]:
        """The newest cycles' ids, newest first, for pickers and sliders."""
        return [row[0] for row in self.cur.execute("SELECT cycle_id FROM cycles ORDER BY cycle_id DESC LIMIT ?", [limit]).fetchall()]

    def last_cycle(self) -> dict | None:
        return self._one("SELECT * FROM cycles ORDER BY cycle_id DESC LIMIT 1")

    def data_since(self) -> str:
        """Since when a cycle with no new data has had none, in words: the newest cycle that read rows ("since cycle 8",
        not the empty cycle before), "since before cycle N" where retention archived it, or "yet"."""
        last, oldest = self.cur.execute("SELECT max(cycle_id) FILTER (WHERE rows_seen > 0), min(cycle_id) FROM cycles").fetchone()
        if last is not None:
            return f"since cycle {last}"
        return f"since before cycle {oldest}" if oldest is not None and oldest > 1 else "yet"

    def read_position(self) -> dict | None:
        """How far the loop has read: the newest cycle that got as far as reading (a cycle that failed before it
        leaves the position where it was), with its last sample id and the time its predictions were read to."""
        return self._one(
            "SELECT cycle_id, last_sample_id, predictions_until FROM cycles WHERE predictions_until IS NOT NULL ORDER BY cycle_id DESC LIMIT 1"
        )

    def unannounced_episode(self) -> FailingStreak | None:
        """The failed cycles since the newest "Monitoring loop failing" alert when no "recovered" came after it: a
        restart must not leave the channel's last word "failing" for good."""
        row = self._one(
            """WITH alert AS (SELECT kind, cycle_id FROM notifications WHERE kind IN ('loop_failing', 'loop_recovered')
                              ORDER BY notification_id DESC LIMIT 1)
               SELECT count(*) AS cycles, min(c.cycle_id) AS first_cycle, max(c.cycle_id) AS last_cycle, min(c.started_at) AS since,
                      arg_max(c.reason, c.cycle_id) AS reason, max(c.ended_at) AS last_at
               FROM cycles c, alert WHERE alert.kind = 'loop_failing' AND c.status = 'error' AND c.cycle_id >= alert.cycle_id"""
        )
        return FailingStreak(**row) if row and row["cycles"] else None

    def failing_streak(self) -> FailingStreak | None:
        """The cycles that failed in a row up to the newest one, or None when the newest did not fail."""
        row = self._one(
            """WITH settled AS (SELECT coalesce(max(cycle_id), 0) AS cycle_id FROM cycles WHERE status <> 'error')
               SELECT count(*) AS cycles, min(c.cycle_id) AS first_cycle, max(c.cycle_id) AS last_cycle, min(c.started_at) AS since,
                      arg_max(c.reason, c.cycle_id) AS reason, max(c.ended_at) AS last_at
               FROM cycles c, settled WHERE c.status = 'error' AND c.cycle_id > settled.cycle_id"""
        )
        return FailingStreak(**row) if row and row["cycles"] else None

    def last_realised(self) -> dict | None:
        """The newest cycle that measured a realised accuracy: the figure stays true until a newer one exists."""
        return self._one(
            f"SELECT *, {REALISED_ON} AS realised_on FROM cycles WHERE realised_accuracy IS NOT NULL ORDER BY cycle_id DESC LIMIT 1"
        )

    def last_estimated(self) -> dict | None:
        """The newest cycle that estimated its rows' accuracy: a cycle that found no new data estimates nothing, and
        the last estimate stays the one of the newest rows served."""
        return self._one("SELECT * FROM cycles WHERE estimated_accuracy IS NOT NULL ORDER BY cycle_id DESC LIMIT 1")

    def cycles(self, limit: int = 100) -> pd.DataFrame:
        """The newest cycles, each with `realised_on`: the labels its realised accuracy rests on."""
        return self.cur.execute(
            f"SELECT *, {REALISED_ON} AS realised_on, {DECIDED_LATER.format(cycles='cycles')} FROM cycles ORDER BY cycle_id DESC LIMIT ?",
            [limit],
        ).df()

    def cycles_idle_runs(self, limit: int = 10, scanned: int = 10_000) -> pd.DataFrame:
        """The newest cycles as `cycles` gives them, but each run of cycles in a row that read no new data as one row:
        its newest, with `idle_from` (the run's first cycle) and `idle_cycles` (how many), null for the others. A
        replay that ended wrote a no-data cycle every interval, and ten of them pushed every cycle that did something
        out of the Overview's table (tour 21). Runs are found among the newest `scanned` cycles."""
        # The runs are found on the ids alone, and only the rows shown are read whole: reading and deciding every scanned
        # row took 84 ms at 20,000 cycles, on every Overview refresh (15 ms so).
        return self.cur.execute(
            f"""WITH c AS (SELECT cycle_id, status = 'no_data' AS idle,
                                  row_number() OVER (ORDER BY cycle_id)
                                  - row_number() OVER (PARTITION BY status = 'no_data' ORDER BY cycle_id) AS run
                           FROM cycles WHERE cycle_id > (SELECT coalesce(max(cycle_id), 0) FROM cycles) - ?),
                    k AS (SELECT cycle_id, idle, min(cycle_id) OVER w AS first_of_run, max(cycle_id) OVER w AS last_of_run,
                                 count(*) OVER w AS in_run
                          FROM c WINDOW w AS (PARTITION BY idle, run)),
                    shown AS (SELECT * FROM k WHERE NOT idle OR cycle_id = last_of_run ORDER BY cycle_id DESC LIMIT ?)
               SELECT r.*, {REALISED_ON} AS realised_on, {DECIDED_LATER.format(cycles="r")},
                      CASE WHEN s.idle THEN s.first_of_run END AS idle_from, CASE WHEN s.idle THEN s.in_run END AS idle_cycles
               FROM shown s JOIN cycles r USING (cycle_id) ORDER BY cycle_id DESC""",
            [scanned, limit],
        ).df()

    def last_event_cycle(self) -> dict | None:
        """The newest cycle that did something worth seeing: a signal fired, it retrained, or it failed."""
        return self._one(
            """SELECT cycle_id, started_at, status, policy, signals, verdict, decision, reason, new_version, promoted, gate_outcome,
                      champion_version, realised_accuracy
               FROM cycles WHERE (signals IS NOT NULL AND signals <> '[]') OR new_version IS NOT NULL OR status = 'error'
               ORDER BY cycle_id DESC LIMIT 1"""
        )

    def recent_drift_flags(self, limit: int) -> list[tuple[int, bool, int | None, bool]]:
        """(cycle_id, drifted, first_sample_id, promoted) of the newest cycles that saw data."""
        return self.cur.execute(
            """SELECT cycle_id, coalesce(dataset_drift, false) OR coalesce(performance_drift, false), first_sample_id,
                      coalesce(promoted, false)
               FROM cycles WHERE rows_seen > 0 ORDER BY cycle_id DESC LIMIT ?""",
            [limit],
        ).fetchall()

    def last_retrain_cycle(self, performance_only: bool = False) -> int | None:
        """The newest cycle that retrained; with `performance_only`, the newest retrained on a performance drop."""
        extra = " AND coalesce(performance_drift, false)" if performance_only else ""
        return self.cur.execute(f"SELECT max(cycle_id) FROM cycles WHERE decision = 'retrain'{extra}").fetchone()[0]

    def tested_batches(self, cycle_id: int, limit: int) -> list[TestedBatch]:
        """The newest `limit` cycles up to `cycle_id` that made a drift test, newest first, with what each read: the
        batches a windowed test can have pooled (the monitor pools the newest tested batches)."""
        rows = self.cur.execute(
            """SELECT cycle_id, first_sample_id, last_sample_id,
                      coalesce((SELECT max(p.predictions_until) FROM cycles p WHERE p.cycle_id < c.cycle_id), ?),
                      predictions_until
               FROM cycles c WHERE cycle_id <= ?
               AND EXISTS (SELECT 1 FROM drift_results d WHERE d.cycle_id = c.cycle_id) ORDER BY cycle_id DESC LIMIT ?""",
            [EPOCH, cycle_id, limit],  # a first cycle read every prediction served before it (the pipeline's _new_data)
        ).fetchall()
        return [TestedBatch(*row) for row in rows]

    def drift_results(self, cycle_id: int | None = None) -> pd.DataFrame:
        if cycle_id is None:
            cycle_id = self.cur.execute("SELECT max(cycle_id) FROM drift_results").fetchone()[0]
        return self.cur.execute("SELECT * FROM drift_results WHERE cycle_id = ? ORDER BY feature", [cycle_id]).df()

    def accuracy_history(self, max_points: int = 400) -> pd.DataFrame:
        """Realised and estimated accuracy per cycle, averaged into at most `max_points` buckets; the cycles that read
        data and the ones that failed (a failing loop shows on the chart, it does not just stop)."""
        return self.cur.execute(
            f"""WITH c AS (SELECT *, {REALISED_ON} AS realised_on, ntile(?) OVER (ORDER BY cycle_id) AS bucket FROM cycles
                           WHERE rows_seen > 0 OR status = 'error')
               SELECT min(started_at) AS ts, max(started_at) AS last_ts, min(cycle_id) AS first_cycle, max(cycle_id) AS last_cycle,
                      count(*) AS cycles,
                      avg(realised_accuracy) AS realised, avg(estimated_accuracy) AS estimated,
                      avg(estimated_low) AS estimated_low, avg(estimated_high) AS estimated_high,
                      sum(realised_on) AS labelled, sum(served_rows) AS served,
                      sum(labelled_rows) / nullif(sum(served_rows), 0) AS coverage, median(label_delay_p50_s) AS delay_p50,
                      bool_or(coalesce(dataset_drift, false) OR coalesce(performance_drift, false)) AS drift,
                      bool_or(coalesce(promoted, false)) AS promoted,
                      bool_or(gate_outcome = 'rejected') AS rejected,  -- not one waiting for approval, nor a candidate
                      max(new_version) AS new_version, bool_or(status = 'error') AS error,
                      max(CASE WHEN coalesce(dataset_drift, false) OR coalesce(performance_drift, false) OR new_version IS NOT NULL
                               OR status = 'error' THEN cycle_id END) AS marked_cycle
               FROM c GROUP BY bucket ORDER BY ts""",
            [max_points],
        ).df()

    def drift_history(self, max_points: int = 300) -> pd.DataFrame:
        """Each feature's statistic and threshold over time, averaged into at most `max_points` buckets (a test of a
        column with no value present measured nothing: no point)."""
        return self.cur.execute(
            """WITH d AS (SELECT r.*, c.started_at, dense_rank() OVER (ORDER BY r.cycle_id) AS k FROM drift_results r
                          JOIN cycles c USING (cycle_id) WHERE r.psi_status <> ?),
                    n AS (SELECT max(k) AS n FROM d)
               SELECT feature, min(started_at) AS ts, any_value(test) AS test, avg(statistic) AS statistic,
                      avg(p_value) AS p_value, min(p_value) AS min_p_value, avg(threshold) AS threshold, avg(effect) AS effect,
                      max(effect) AS max_effect, avg(psi) AS psi, bool_and(psi_status = 'too_few') AS psi_too_few,
                      bool_or(drifted) AS drifted
               FROM d, n GROUP BY feature, floor((k - 1) * ? / n.n) ORDER BY feature, ts""",
            [NO_VALUES, max_points],
        ).df()
