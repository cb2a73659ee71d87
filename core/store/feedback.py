"""Labels that arrive after their prediction: joined by prediction id, stored with the row they label.

A label for a served prediction becomes an incoming sample (the prediction's inputs and the label) in
the same transaction that records it, so the loop reads it as new labelled data, and a commit that
DuckDB acknowledged survives a kill (its WAL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from core.domain.clock import EPOCH
from core.domain.features import TARGET
from core.domain.outcomes import VersionLabels
from core.store.base import StoreBase, insert_arrow
from core.store.datasets import replay_moved, stream_segment

FEEDBACK_SEGMENT = "Labels sent back for served predictions"


@dataclass(frozen=True)
class FeedbackResult:
    """What a request of labels came to, id by id."""

    matched: int
    stored: int
    corrected: int
    unknown: list[str] = field(default_factory=list)
    already_labelled: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ArrivedLabels:
    """The labels of served predictions among a cycle's new rows: what was served, and how late the label came."""

    sample_ids: np.ndarray
    served: np.ndarray
    delay_seconds: np.ndarray
    versions: np.ndarray  # the version that served each prediction
    predicted_at: np.ndarray  # when each prediction was served (naive UTC)


class FeedbackQueries(StoreBase):
    def apply_feedback(
        self, ids: list[str], labels: np.ndarray, correct: bool, now: datetime, replay_of: list[int | None] | None = None
    ) -> FeedbackResult:
        """Join the labels to the logged predictions and store them in one transaction: a new label as a
        feedback row and an incoming sample; with `correct`, a label that was already there replaced (in
        both). Ids the log does not hold, and (without `correct`) ids already labelled, are only reported.
        `replay_of`: per label, the library row a replay served (the sample is a copy of it), or None."""
        given = pa.table(
            {"pos": pa.array(np.arange(len(ids), dtype=np.int64)), "prediction_id": pa.array(ids, type=pa.string()),
             "label": pa.array(np.asarray(labels, dtype=np.int8)),
             "replay_of": pa.array(replay_of if replay_of is not None else [None] * len(ids), type=pa.int64())}
        )  # fmt: skip
        features = ", ".join(f"p.{f}" for f in self.features)
        with self.private_transaction() as tx:
            tx.register("_labels", given)
            tx.execute(
                f"""CREATE OR REPLACE TEMP TABLE _matched AS
                    SELECT l.pos, l.prediction_id, l.label, l.replay_of, p.ts, p.model_version, p.prediction, {features},
                           f.label AS old_label, f.sample_id AS old_sample
                    FROM _labels l
                    JOIN (SELECT * FROM predictions WHERE prediction_id IN (SELECT prediction_id FROM _labels)
                          QUALIFY row_number() OVER (PARTITION BY prediction_id ORDER BY ts) = 1) p USING (prediction_id)
                    LEFT JOIN feedback f USING (prediction_id)"""
            )
            try:
                result = self._store_matched(tx, ids, correct, now)
            finally:
                tx.execute("DROP TABLE IF EXISTS _matched")
                tx.unregister("_labels")
        return result

    def _store_matched(self, tx: object, ids: list[str], correct: bool, now: datetime) -> FeedbackResult:
        matched = {r[0]: r[1] for r in tx.execute("SELECT prediction_id, old_label IS NOT NULL FROM _matched").fetchall()}
        fresh = sum(1 for labelled in matched.values() if not labelled)
        if fresh:
            dataset_id, first = stream_segment(tx, fresh, name=FEEDBACK_SEGMENT, scenario="feedback", strength=0.0, seed=None)
            cols = ", ".join(self.features)
            numbered = "SELECT *, ? + row_number() OVER (ORDER BY pos) - 1 AS new_sample FROM _matched WHERE old_label IS NULL"
            tx.execute(
                f"""INSERT INTO samples (sample_id, dataset_id, replay_of, {cols}, {TARGET})
                    SELECT new_sample, ?, replay_of, {cols}, label FROM ({numbered})""",
                [dataset_id, first],
            )
            tx.execute(
                f"""INSERT INTO feedback (prediction_id, label, served, model_version, predicted_at, received_at, sample_id)
                    SELECT prediction_id, label, prediction, model_version, ts, ?, new_sample FROM ({numbered})""",
                [now, first],
            )
        corrected = 0
        if correct:
            corrected = tx.execute("SELECT count(*) FROM _matched WHERE old_label IS NOT NULL").fetchall()[0][0]
            tx.execute(
                """UPDATE feedback SET label = m.label, corrected_at = ? FROM _matched m
                   WHERE feedback.prediction_id = m.prediction_id AND m.old_label IS NOT NULL""",
                [now],
            )
            tx.execute(f"UPDATE samples SET {TARGET} = m.label FROM _matched m WHERE samples.sample_id = m.old_sample")
        return FeedbackResult(
            matched=len(matched), stored=fresh, corrected=corrected, unknown=[i for i in ids if i not in matched],
            already_labelled=[] if correct else [i for i in ids if matched.get(i)],
        )  # fmt: skip

    def arrived_labels(self, first_sample_id: int, last_sample_id: int) -> ArrivedLabels:
        """Rows in a range that are labels of served predictions: the served class and the label's delay."""
        arrays = self.cur.execute(
            """SELECT sample_id, served, epoch(received_at) - epoch(predicted_at) AS delay, model_version, predicted_at FROM feedback
               WHERE sample_id BETWEEN ? AND ? ORDER BY sample_id""",
            [first_sample_id, last_sample_id],
        ).fetchnumpy()
        return ArrivedLabels(
            np.asarray(arrays["sample_id"], dtype=np.int64), np.asarray(arrays["served"], dtype=np.int64),
            np.asarray(arrays["delay"], dtype=np.float64), np.asarray(arrays["model_version"], dtype=np.int64),
            np.asarray(arrays["predicted_at"], dtype="datetime64[us]"),
        )  # fmt: skip

    def realised_by_version(self, version: int | None = None) -> list[VersionLabels]:
        """Per version (or for `version` alone), every label received for the rows it served and how many it got
        right: the labels of its logged predictions (joined by prediction id) and the rows that came labelled while
        it was champion (scored on arrival, counted by their cycle). Never the same row twice: a label of a
        prediction is a feedback row, never a row scored on arrival. Whoever serves now does not matter."""
        where, params = ("WHERE version = ?", [version]) if version is not None else ("", [])
        rows = self.cur.execute(
            f"""WITH labels AS (
                    SELECT model_version AS version, count(*) AS n, count(*) FILTER (WHERE label = served) AS hits
                    FROM feedback GROUP BY model_version
                    UNION ALL
                    SELECT champion_version, sum(scored_rows), sum(scored_correct) FROM cycles
                    WHERE scored_rows > 0 AND champion_version IS NOT NULL GROUP BY champion_version)
                SELECT version, sum(n), sum(hits) FROM labels {where} GROUP BY version ORDER BY version DESC""",
            params,
        ).fetchall()
        return [VersionLabels(int(v), int(n), int(right)) for v, n, right in rows]

    def served_count(self, since: datetime | None, until: datetime) -> int:
        """Predictions logged in (since, until]."""
        return self.cur.execute("SELECT count(*) FROM predictions WHERE ts > ? AND ts <= ?", [since or EPOCH, until]).fetchall()[0][0]

    def feedback_count(self) -> int:
        return self.cur.execute("SELECT count(*) FROM feedback").fetchall()[0][0]

    # labels the simulator holds back (IA_LABEL_DELAY_CYCLES) ---------------------------------------
    def queue_labels(self, due_cycle: int, ids: list[str], labels: np.ndarray) -> None:
        with self.private_transaction() as tx:
            insert_arrow(tx, "pending_labels", _pending(due_cycle, ids, labels))

    def queue_replayed_labels(
        self, due_cycle: int, ids: list[str], labels: np.ndarray, replay_of: np.ndarray, *, offset: int, position_key: str, sent_key: str
    ) -> None:
        """The labels of a replayed batch served now, due at `due_cycle`, and the replay moved past the batch, in one
        transaction: a restart neither loses the labels of a batch it counts as sent nor sends one twice. `replay_of`:
        each row's sample id in the replayed dataset, which its labelled copy will carry."""
        with self.private_transaction() as tx:
            insert_arrow(tx, "pending_labels", _pending(due_cycle, ids, labels, replay_of))
            replay_moved(tx, position_key, sent_key, offset, len(ids))

    def due_labels(self, cycle_id: int) -> tuple[list[str], np.ndarray, list[int | None]]:
        """The held-back labels due by `cycle_id`: prediction ids, labels, and each replayed row's source (None for the
        simulator's)."""
        rows = self.cur.execute(
            # in the order the rows were served: a replay's in its file's order, a batch's made ids `<id>-<row>` by row
            # number (as text, row 10 came before row 2)
            """SELECT prediction_id, label, replay_of FROM pending_labels WHERE due_cycle <= ?
               ORDER BY due_cycle, replay_of, split_part(prediction_id, '-', 1), TRY_CAST(split_part(prediction_id, '-', 2) AS BIGINT),
                        prediction_id""",
            [cycle_id],
        ).fetchall()
        return [str(r[0]) for r in rows], np.array([r[1] for r in rows], dtype=np.int8), [r[2] for r in rows]

    def pending_labels(self) -> tuple[int, int | None]:
        """How many held-back labels are still to come, and the cycle the last is due at (None: none)."""
        n, last = self.cur.execute("SELECT count(*), max(due_cycle) FROM pending_labels").fetchall()[0]
        return int(n), None if last is None else int(last)

    def forget_due_labels(self, cycle_id: int) -> None:
        with self.transaction() as tx:
            tx.execute("DELETE FROM pending_labels WHERE due_cycle <= ?", [cycle_id])


def _pending(due_cycle: int, ids: list[str], labels: np.ndarray, replay_of: np.ndarray | None = None) -> pa.Table:
    return pa.table(
        {"due_cycle": pa.array(np.full(len(ids), due_cycle, dtype=np.int64)), "prediction_id": pa.array(ids, type=pa.string()),
         "label": pa.array(np.asarray(labels, dtype=np.int8)),
         "replay_of": pa.array(np.asarray(replay_of, dtype=np.int64) if replay_of is not None else [None] * len(ids), type=pa.int64())}
    )  # fmt: skip
