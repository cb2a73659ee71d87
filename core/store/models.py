"""Model versions, their status (champion, challenger, archived, rejected) and events."""

from __future__ import annotations

import json
from collections.abc import Iterable

import duckdb
import pandas as pd

from core.domain.outcomes import BY_HAND_EVENT_KINDS, GATE_EVENT_KINDS, MANUAL_TRIGGERS
from core.store.base import StoreBase, insert_row, utcnow
from core.store.migrations import REALISED_ON

# A version stored "rejected" because a fresher challenger replaced it while both awaited approval: it passed the gate.
SUPERSEDED = "EXISTS (SELECT 1 FROM model_events e WHERE e.version = m.version AND e.kind = 'superseded') AS superseded"


class ModelQueries(StoreBase):
    def insert_model(self, record: dict, evaluation: dict | None = None) -> None:
        """The version and its evaluation, together: a version on screen always has its views."""
        with self.transaction() as tx:
            insert_row(tx, "models", record)
            if evaluation is not None:
                self._put_evaluation(tx, record["version"], evaluation)

    def insert_evaluation(self, version: int, evaluation: dict) -> None:
        with self.transaction() as tx:
            self._put_evaluation(tx, version, evaluation)

    @staticmethod
    def _put_evaluation(tx: duckdb.DuckDBPyConnection, version: int, evaluation: dict) -> None:
        tx.execute("INSERT OR REPLACE INTO model_evaluations VALUES (?, ?)", [version, json.dumps(evaluation)])

    def estimator(self, version: int) -> dict | None:
        """The version's stored `core.stats.estimate.AccuracyEstimator` (as its dict), None when it has none yet."""
        row = self.cur.execute("SELECT estimator FROM models WHERE version = ?", [version]).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def set_estimator(self, version: int, estimator: dict) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE models SET estimator = ? WHERE version = ?", [json.dumps(estimator), version])

    def versions_without_evaluation(self) -> list[int]:
        """Versions whose model files still exist and that have no stored evaluation (trained before migration 5)."""
        return [
            row[0]
            for row in self.cur.execute(
                """SELECT version FROM models m WHERE pruned_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM model_evaluations e WHERE e.version = m.version) ORDER BY version"""
            ).fetchall()
        ]

    def evaluation(self, version: int) -> dict | None:
        """What `core.stats.evaluation.evaluate_version` computed at training time (None for versions trained before it)."""
        rows = self.cur.execute("SELECT evaluation FROM model_evaluations WHERE version = ?", [version]).fetchall()
        return json.loads(rows[0][0]) if rows else None

    def models(self) -> pd.DataFrame:
        return self.cur.execute(f"SELECT * EXCLUDE (estimator), {SUPERSEDED} FROM models m ORDER BY version DESC").df()

    def model(self, version: int) -> dict | None:
        return self._one(f"SELECT * EXCLUDE (estimator), {SUPERSEDED} FROM models m WHERE version = ?", [version])

    def identical_version(self, data_hash: str, params_hash: str) -> int | None:
        """A version trained on exactly these rows with exactly these parameters, if any."""
        row = self.cur.execute(
            "SELECT min(version) FROM models WHERE data_hash = ? AND params_hash = ?", [data_hash, params_hash]
        ).fetchone()
        return row[0]

    def awaiting_approval(self) -> list[int]:
        """Challengers that passed the gate under the `approve` policy and wait for a person."""
        return [
            row[0]
            for row in self.cur.execute(
                """SELECT version FROM models m WHERE status = 'challenger'
                   AND EXISTS (SELECT 1 FROM model_events e WHERE e.version = m.version AND e.kind = 'awaiting')
                   ORDER BY version"""
            ).fetchall()
        ]

    def served_accuracy(self, version: int) -> tuple[int, int]:
        """(correct, rows) the champion scored on the labelled cycles it served without a drift flag, on the labels
        its realised accuracy rested on (its own predictions' and the stream rows it scored; never another
        version's): better founded than a small holdout once enough rows have passed."""
        row = self.cur.execute(
            f"""WITH c AS (SELECT realised_accuracy, {REALISED_ON} AS n FROM cycles
                          WHERE champion_version = ? AND labelled AND realised_accuracy IS NOT NULL
                          AND NOT coalesce(dataset_drift, false) AND NOT coalesce(performance_drift, false))
               SELECT coalesce(sum(round(realised_accuracy * n)), 0), coalesce(sum(n), 0) FROM c""",
            [version],
        ).fetchone()
        return int(row[0]), int(row[1])

    def rows_trained_on(self, version: int, first_sample_id: int, last_sample_id: int, dataset_ids: tuple[int, ...]) -> int:
        """How many samples of [first, last] in `dataset_ids` lie inside `version`'s training data (its
        datasets within its window; the holdout part included: an upper bound on what it saw)."""
        model = self.model(version)
        trained = set(json.loads(model["dataset_ids"] or "[]")) & {int(d) for d in dataset_ids}
        if not trained:
            return 0
        marks = ", ".join(str(int(d)) for d in trained)
        low, high = max(first_sample_id, int(model["window_first_sample"])), min(last_sample_id, int(model["window_last_sample"]))
        return self.cur.execute(
            f"SELECT count(*) FROM samples WHERE sample_id BETWEEN ? AND ? AND dataset_id IN ({marks})", [low, high]
        ).fetchall()[0][0]

    def promotable_versions(self) -> list[int]:
        """What a person may promote back: former champions, the most recently replaced first, then candidates
        trained without promoting; never a rejected challenger, nor a version whose files were pruned."""
        return [
            row[0]
            for row in self.cur.execute(
                """SELECT version FROM models WHERE status IN ('archived', 'candidate') AND pruned_at IS NULL
                   ORDER BY status = 'archived' DESC, promoted_at DESC NULLS LAST, version DESC"""
            ).fetchall()
        ]

    def versions_with_status(self, status: str) -> list[int]:
        return [row[0] for row in self.cur.execute("SELECT version FROM models WHERE status = ? ORDER BY version", [status]).fetchall()]

    def prunable_versions(self, keep: int) -> list[int]:
        """Archived or rejected versions beyond the newest `keep` versions, artifacts not yet pruned."""
        return [
            row[0]
            for row in self.cur.execute(
                """SELECT version FROM models WHERE status IN ('archived', 'rejected', 'candidate') AND pruned_at IS NULL
                   AND version < (SELECT coalesce(min(version), 0) FROM (SELECT version FROM models ORDER BY version DESC LIMIT ?))
                   ORDER BY version""",
                [keep],
            ).fetchall()
        ]

    def mark_pruned(self, version: int) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE models SET pruned_at = ? WHERE version = ?", [utcnow(), version])

    def protected_ranges(self) -> list[tuple[int, int]]:
        """Sample-id ranges that models in service still read: training windows and moved drift references."""
        windows = self.cur.execute(
            "SELECT window_first_sample, window_last_sample FROM models WHERE status IN ('champion', 'challenger')"
        ).fetchall()
        moved = self.cur.execute(
            "SELECT moved_first_sample, moved_last_sample FROM model_monitoring WHERE moved_first_sample IS NOT NULL"
        ).fetchall()
        return [(int(a), int(b)) for a, b in [*windows, *moved]]

    # the drift monitor's state per version ----------------------------------------------
    def moved_reference(self, version: int) -> tuple[int, int] | None:
        """The post-drift sample-id range `version`'s reference was moved to, if it was."""
        rows = self.cur.execute(
            "SELECT moved_first_sample, moved_last_sample FROM model_monitoring WHERE version = ? AND moved_first_sample IS NOT NULL",
            [version],
        ).fetchall()
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def move_reference(self, version: int, first_sample_id: int, last_sample_id: int) -> None:
        with self.transaction() as tx:
            tx.execute(
                """INSERT INTO model_monitoring (version, moved_first_sample, moved_last_sample) VALUES (?, ?, ?)
                   ON CONFLICT (version) DO UPDATE SET moved_first_sample = excluded.moved_first_sample,
                                                       moved_last_sample = excluded.moved_last_sample""",
                [version, first_sample_id, last_sample_id],
            )

    def followup_onset(self, version: int) -> int | None:
        """The drift onset a champion trained on a small post-drift window still owes a follow-up from."""
        rows = self.cur.execute("SELECT followup_onset_sample FROM model_monitoring WHERE version = ?", [version]).fetchall()
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def set_followup(self, version: int, onset_sample_id: int | None) -> None:
        with self.transaction() as tx:
            tx.execute(
                """INSERT INTO model_monitoring (version, followup_onset_sample) VALUES (?, ?)
                   ON CONFLICT (version) DO UPDATE SET followup_onset_sample = excluded.followup_onset_sample""",
                [version, onset_sample_id],
            )

    def training_rows(self, version: int) -> int:
        """Rows `version` was trained and scored on (its training split and holdout)."""
        rows = self.cur.execute("SELECT n_train + n_holdout FROM models WHERE version = ?", [version]).fetchall()
        return int(rows[0][0]) if rows else 0

    def champion_version(self) -> int | None:
        row = self.cur.execute("SELECT version FROM models WHERE status = 'champion'").fetchone()
        return row[0] if row else None

    @staticmethod
    def set_champion(tx: duckdb.DuckDBPyConnection, version: int, previous: int | None) -> None:
        """Inside a caller's transaction: the old champion is archived, `version` crowned."""
        if previous is not None:
            tx.execute("UPDATE models SET status = 'archived' WHERE version = ?", [previous])
        tx.execute("UPDATE models SET status = 'champion', promoted_at = ? WHERE version = ?", [utcnow(), version])

    @staticmethod
    def set_status(tx: duckdb.DuckDBPyConnection, version: int, status: str) -> None:
        tx.execute("UPDATE models SET status = ? WHERE version = ?", [status, version])

    @staticmethod
    def add_model_event(tx: duckdb.DuckDBPyConnection, event: dict) -> None:
        insert_row(tx, "model_events", {"ts": utcnow(), **event})

    def model_events_of(self, version: int) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM model_events WHERE version = ? ORDER BY event_id", [version]).df()

    def last_person_event(self) -> dict | None:
        """The newest thing a person did to models (`core.domain.outcomes`): a training asked for from the dashboard or
        the API and what its gate decided, or a champion change or rejection made by hand; with the version's `trigger`."""
        return self._one(
            f"""SELECT e.*, m.trigger FROM model_events e LEFT JOIN models m USING (version)
               WHERE e.kind IN ({_quoted(BY_HAND_EVENT_KINDS)})
                  OR (e.kind IN ({_quoted(GATE_EVENT_KINDS)}) AND m.trigger IN ({_quoted(MANUAL_TRIGGERS)}))
               ORDER BY e.event_id DESC LIMIT 1"""
        )

    def model_events(self, limit: int = 200) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM model_events ORDER BY event_id DESC LIMIT ?", [limit]).df()


def dumps_ids(ids: tuple[int, ...]) -> str:
    return json.dumps(list(ids))


def _quoted(words: Iterable[str]) -> str:
    """Our own fixed words (`core.domain.outcomes`, never a user's) as an SQL list."""
    return ", ".join(f"'{w}'" for w in words)
