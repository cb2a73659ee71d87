"""The DuckDB schema as numbered migrations; a workspace file records which it has seen.

A migration only ever adds: a workspace made by an older version opens in place.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import duckdb

from core.domain.clock import utcnow
from core.domain.features import TARGET
from core.domain.schema import Schema

Migration = Callable[[duckdb.DuckDBPyConnection, Schema], None]
# The labels a cycle's realised accuracy rests on: the champion's own predictions' and the stream rows it scored (a cycle
# stored before these were counted apart: every label that arrived, or every row before labels were counted).
REALISED_ON = "coalesce(realised_rows, CASE WHEN realised_accuracy IS NOT NULL THEN coalesce(labelled_rows, rows_seen) END)"


def _m001_core(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    n_features = len(schema.features)
    features = ", ".join(f"{name} {sql_type}" for name, sql_type in schema.storage_sql_types())
    cur.execute("CREATE TABLE workspace (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL)")
    cur.execute(
        "INSERT INTO workspace VALUES ('n_features', ?, ?), ('created_at', ?, ?)",
        [str(n_features), utcnow(), utcnow().isoformat(), utcnow()],
    )
    cur.execute("CREATE SEQUENCE dataset_id_seq START 1")
    cur.execute(
        """CREATE TABLE datasets (
            dataset_id INTEGER PRIMARY KEY DEFAULT nextval('dataset_id_seq'),
            name VARCHAR NOT NULL,
            source VARCHAR NOT NULL CHECK (source IN ('generated', 'imported', 'stream', 'starter')),
            scenario VARCHAR, strength DOUBLE, seed BIGINT,
            n_rows BIGINT NOT NULL, first_sample_id BIGINT NOT NULL, last_sample_id BIGINT NOT NULL,
            created_at TIMESTAMP NOT NULL)"""
    )
    cur.execute(f"CREATE TABLE samples (sample_id BIGINT NOT NULL, dataset_id INTEGER NOT NULL, {features}, {TARGET} TINYINT NOT NULL)")
    cur.execute(
        """CREATE TABLE models (
            version INTEGER PRIMARY KEY, label VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
            n_train BIGINT NOT NULL, n_holdout BIGINT NOT NULL,
            window_first_sample BIGINT NOT NULL, window_last_sample BIGINT NOT NULL,
            dataset_ids VARCHAR NOT NULL, data_hash VARCHAR NOT NULL, trigger VARCHAR NOT NULL,
            accuracy DOUBLE, precision DOUBLE, recall DOUBLE, f1 DOUBLE, roc_auc DOUBLE, log_loss DOUBLE,
            status VARCHAR NOT NULL CHECK (status IN ('champion', 'challenger', 'archived', 'rejected')),
            created_at TIMESTAMP NOT NULL, promoted_at TIMESTAMP)"""
    )
    cur.execute("CREATE SEQUENCE model_event_seq START 1")
    cur.execute(
        """CREATE TABLE model_events (
            event_id BIGINT PRIMARY KEY DEFAULT nextval('model_event_seq'), ts TIMESTAMP NOT NULL,
            kind VARCHAR NOT NULL, version INTEGER NOT NULL, previous_champion INTEGER,
            metric VARCHAR, challenger_score DOUBLE, champion_score DOUBLE, n_rows BIGINT,
            promoted BOOLEAN NOT NULL, reason VARCHAR NOT NULL)"""
    )
    cur.execute(
        f"""CREATE TABLE predictions (
            ts TIMESTAMP NOT NULL, model_version INTEGER NOT NULL, {features},
            prediction TINYINT NOT NULL, confidence DOUBLE NOT NULL, latency_ms DOUBLE NOT NULL,
            source VARCHAR NOT NULL)"""
    )


def _m002_monitoring(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    cur.execute("CREATE SEQUENCE cycle_id_seq START 1")
    cur.execute(
        """CREATE TABLE cycles (
            cycle_id BIGINT PRIMARY KEY, started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP NOT NULL,
            trigger VARCHAR NOT NULL, status VARCHAR NOT NULL, rows_seen BIGINT NOT NULL, labelled BOOLEAN NOT NULL,
            first_sample_id BIGINT, last_sample_id BIGINT, predictions_until TIMESTAMP,
            scenario VARCHAR, strength DOUBLE, policy VARCHAR NOT NULL,
            champion_version INTEGER, champion_holdout_accuracy DOUBLE,
            realised_accuracy DOUBLE, realised_upper DOUBLE, estimated_accuracy DOUBLE,
            drift_share DOUBLE, dataset_drift BOOLEAN, performance_drift BOOLEAN,
            decision VARCHAR NOT NULL, reason VARCHAR NOT NULL, draw DOUBLE,
            new_version INTEGER, promoted BOOLEAN, error VARCHAR, step_ms VARCHAR)"""
    )
    cur.execute(
        """CREATE TABLE drift_results (
            cycle_id BIGINT NOT NULL, feature VARCHAR NOT NULL, test VARCHAR NOT NULL, statistic DOUBLE NOT NULL,
            p_value DOUBLE, threshold DOUBLE NOT NULL, drifted BOOLEAN NOT NULL, psi DOUBLE NOT NULL,
            psi_status VARCHAR NOT NULL, n_reference BIGINT NOT NULL, n_current BIGINT NOT NULL)"""
    )
    cur.execute("CREATE SEQUENCE notification_id_seq START 1")
    cur.execute(
        """CREATE TABLE notifications (
            notification_id BIGINT PRIMARY KEY DEFAULT nextval('notification_id_seq'), created_at TIMESTAMP NOT NULL,
            kind VARCHAR NOT NULL, level VARCHAR NOT NULL, title VARCHAR NOT NULL, description VARCHAR NOT NULL,
            payload VARCHAR NOT NULL, delivery VARCHAR NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            http_status INTEGER, error VARCHAR, sent_at TIMESTAMP)"""
    )
    cur.execute(
        """CREATE TABLE health_checks (
            ts TIMESTAMP NOT NULL, healthy BOOLEAN NOT NULL, duckdb_ok BOOLEAN NOT NULL, mlflow_ok BOOLEAN NOT NULL,
            champion_ok BOOLEAN NOT NULL, worker_ok BOOLEAN NOT NULL, webhook_configured BOOLEAN NOT NULL,
            latency_p50_ms DOUBLE, latency_p95_ms DOUBLE, detail VARCHAR)"""
    )


def _m003_durability(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    cur.execute("CREATE TABLE journal_applied (segment VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)")
    cur.execute("CREATE SEQUENCE repair_id_seq START 1")
    cur.execute(
        """CREATE TABLE repairs (
            repair_id BIGINT PRIMARY KEY DEFAULT nextval('repair_id_seq'), ts TIMESTAMP NOT NULL,
            component VARCHAR NOT NULL, action VARCHAR NOT NULL, detail VARCHAR NOT NULL)"""
    )
    cur.execute(
        """CREATE TABLE archives (
            ts TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, path VARCHAR NOT NULL, n_rows BIGINT NOT NULL,
            cutoff TIMESTAMP, detail VARCHAR)"""
    )
    cur.execute("ALTER TABLE models ADD COLUMN pruned_at TIMESTAMP")


def _m004_roles_and_verdicts(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    cur.execute("ALTER TABLE datasets ADD COLUMN role VARCHAR DEFAULT 'library'")
    cur.execute("UPDATE datasets SET role = 'incoming' WHERE source IN ('stream', 'starter')")
    cur.execute("ALTER TABLE models ADD COLUMN params_hash VARCHAR")
    cur.execute("ALTER TABLE models ADD COLUMN training_data VARCHAR")
    cur.execute("ALTER TABLE cycles ADD COLUMN verdict VARCHAR")
    cur.execute("ALTER TABLE cycles ADD COLUMN signals VARCHAR")
    cur.execute("ALTER TABLE cycles ADD COLUMN performance_bar DOUBLE")
    cur.execute("ALTER TABLE drift_results ADD COLUMN effect DOUBLE")
    cur.execute("ALTER TABLE drift_results ADD COLUMN window_batches INTEGER")


def _m005_evaluations(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    cur.execute("CREATE TABLE model_evaluations (version INTEGER PRIMARY KEY, evaluation VARCHAR NOT NULL)")
    cur.execute("ALTER TABLE datasets ADD COLUMN content_hash VARCHAR")


def _m006_references_and_episodes(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    cur.execute("ALTER TABLE cycles ADD COLUMN reference VARCHAR")  # core.services.reference.Reference as JSON: what the drift test used
    cur.execute("ALTER TABLE notifications ADD COLUMN cycle_id BIGINT")
    cur.execute("ALTER TABLE datasets ADD COLUMN tags VARCHAR DEFAULT '[]'")
    for column in ("gate_set VARCHAR", "own_challenger_score DOUBLE", "own_champion_score DOUBLE", "own_n_rows INTEGER"):
        cur.execute(f"ALTER TABLE model_events ADD COLUMN {column}")
    # A new status, 'candidate' (trained without promoting): DuckDB cannot alter a CHECK, so the table is rebuilt.
    cur.execute("ALTER TABLE models RENAME TO models_before_6")
    cur.execute(
        """CREATE TABLE models (
            version INTEGER PRIMARY KEY, label VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
            n_train BIGINT NOT NULL, n_holdout BIGINT NOT NULL,
            window_first_sample BIGINT NOT NULL, window_last_sample BIGINT NOT NULL,
            dataset_ids VARCHAR NOT NULL, data_hash VARCHAR NOT NULL, trigger VARCHAR NOT NULL,
            accuracy DOUBLE, precision DOUBLE, recall DOUBLE, f1 DOUBLE, roc_auc DOUBLE, log_loss DOUBLE,
            status VARCHAR NOT NULL CHECK (status IN ('champion', 'challenger', 'archived', 'rejected', 'candidate')),
            created_at TIMESTAMP NOT NULL, promoted_at TIMESTAMP, pruned_at TIMESTAMP, params_hash VARCHAR, training_data VARCHAR)"""
    )
    cur.execute("INSERT INTO models BY NAME SELECT * FROM models_before_6")
    cur.execute("DROP TABLE models_before_6")


def _m007_monitoring_state(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """The drift monitor's state per version as columns (it was `reference.{v}` and `followup.{v}` strings in
    `workspace`), and the cycle of alerts stored before they carried one, read once from their embed."""
    cur.execute(
        """CREATE TABLE model_monitoring (
            version INTEGER PRIMARY KEY, moved_first_sample BIGINT, moved_last_sample BIGINT, followup_onset_sample BIGINT,
            CHECK ((moved_first_sample IS NULL) = (moved_last_sample IS NULL)))"""
    )
    cur.execute(
        """INSERT INTO model_monitoring (version, moved_first_sample, moved_last_sample)
           SELECT CAST(split_part(key, '.', 2) AS INTEGER), CAST(split_part(value, '-', 1) AS BIGINT),
                  CAST(split_part(value, '-', 2) AS BIGINT)
           FROM workspace WHERE key LIKE 'reference.%' AND value LIKE '%-%'"""
    )
    cur.execute(
        """INSERT INTO model_monitoring (version, followup_onset_sample)
           SELECT CAST(split_part(key, '.', 2) AS INTEGER), CAST(value AS BIGINT) FROM workspace
           WHERE key LIKE 'followup.%' AND value <> ''
           ON CONFLICT (version) DO UPDATE SET followup_onset_sample = excluded.followup_onset_sample"""
    )
    cur.execute("DELETE FROM workspace WHERE key LIKE 'reference.%' OR key LIKE 'followup.%'")
    cur.execute("ALTER TABLE cycles ADD COLUMN gate_outcome VARCHAR")  # core.domain.outcomes.GateOutcome of the version it trained
    cur.execute(
        """UPDATE cycles SET gate_outcome = CASE
               WHEN coalesce(promoted, false) THEN 'promoted'
               WHEN EXISTS (SELECT 1 FROM model_events e WHERE e.version = cycles.new_version AND e.kind = 'awaiting') THEN 'awaiting'
               ELSE 'rejected' END
           WHERE new_version IS NOT NULL"""
    )
    for notification_id, payload in cur.execute(
        "SELECT notification_id, payload FROM notifications WHERE cycle_id IS NULL AND payload LIKE '%\"Cycle\"%'"
    ).fetchall():
        cycle_id = _embed_cycle(payload)
        if cycle_id is not None:
            cur.execute("UPDATE notifications SET cycle_id = ? WHERE notification_id = ?", [cycle_id, notification_id])


def _embed_cycle(payload: str) -> int | None:
    """The "Cycle" field the loop put in its embeds before alerts carried their cycle id."""
    try:
        fields = json.loads(payload)["embeds"][0].get("fields", [])
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    found = next((f.get("value") for f in fields if isinstance(f, dict) and f.get("name") == "Cycle"), None)
    return int(found) if found is not None and str(found).isdigit() else None


def _m008_schema(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """The workspace's schema (core.domain.schema.Schema as JSON): a workspace from before it has the synthetic one."""
    cur.execute("INSERT INTO workspace VALUES ('schema', ?, ?) ON CONFLICT (key) DO NOTHING", [schema.to_json(), utcnow()])
    cur.execute("ALTER TABLE drift_results ADD COLUMN unseen_share DOUBLE")  # categories: share of values the reference never had


def _m009_feedback(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """Prediction ids, labels that arrive later, and each cycle's label coverage and delay."""
    cur.execute("ALTER TABLE predictions ADD COLUMN prediction_id VARCHAR")
    cur.execute(
        """CREATE TABLE feedback (
            prediction_id VARCHAR PRIMARY KEY, label TINYINT NOT NULL, served TINYINT NOT NULL, model_version INTEGER NOT NULL,
            predicted_at TIMESTAMP NOT NULL, received_at TIMESTAMP NOT NULL, corrected_at TIMESTAMP, sample_id BIGINT NOT NULL)"""
    )
    cur.execute("ALTER TABLE samples ADD COLUMN event_time TIMESTAMP")  # the time column's value, where the workspace has one
    cur.execute("CREATE TABLE pending_labels (due_cycle BIGINT NOT NULL, prediction_id VARCHAR NOT NULL, label TINYINT NOT NULL)")
    for column in ("served_rows BIGINT", "labelled_rows BIGINT", "label_coverage DOUBLE", "label_delay_p50_s DOUBLE",
                   "label_delay_p90_s DOUBLE"):  # fmt: skip
        cur.execute(f"ALTER TABLE cycles ADD COLUMN {column}")


def _m010_replicas(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """Serving replicas' forwarded predictions: the replica named on each row, and each batch received once."""
    cur.execute("ALTER TABLE predictions ADD COLUMN replica VARCHAR")  # NULL: served by the workbench itself
    cur.execute(
        """CREATE TABLE forwarded_batches (
            replica VARCHAR NOT NULL, batch VARCHAR NOT NULL, n_rows BIGINT NOT NULL, first_ts TIMESTAMP, last_ts TIMESTAMP,
            received_at TIMESTAMP NOT NULL, PRIMARY KEY (replica, batch))"""
    )


def _m011_realised_per_version(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """The labels a champion's realised accuracy rests on (its own predictions' and the stream rows it scored), and
    the labels of other versions' predictions a cycle received, per version (JSON), counted for those versions."""
    cur.execute("ALTER TABLE cycles ADD COLUMN realised_rows BIGINT")
    cur.execute("ALTER TABLE cycles ADD COLUMN realised_versions VARCHAR")


def _m012_accuracy_estimate(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """Each version's label-free accuracy estimator (core.stats.estimate.AccuracyEstimator as JSON: its calibration and
    its holdout's figures), and each cycle's estimate band."""
    cur.execute("ALTER TABLE models ADD COLUMN estimator VARCHAR")  # NULL: trained before, rebuilt from its holdout when needed
    cur.execute("ALTER TABLE cycles ADD COLUMN estimated_low DOUBLE")
    cur.execute("ALTER TABLE cycles ADD COLUMN estimated_high DOUBLE")


def _m013_scored_on_arrival(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """The rows a cycle read with their labels (a stream batch, data sent to the loop) and how many the champion got
    right: labels known at once, which no logged prediction joins, counted for the version that scored them. A cycle
    stored before gets them from its realised figures less the champion's own labels of served predictions in its range."""
    cur.execute("ALTER TABLE cycles ADD COLUMN scored_rows BIGINT")
    cur.execute("ALTER TABLE cycles ADD COLUMN scored_correct BIGINT")
    cur.execute(
        f"""UPDATE cycles SET scored_rows = greatest(old.n - old.fed, 0), scored_correct = greatest(old.hits - old.fed_hits, 0)
            FROM (SELECT c.cycle_id, any_value({REALISED_ON}) AS n, any_value(round(c.realised_accuracy * {REALISED_ON})) AS hits,
                         count(f.sample_id) AS fed, count(f.sample_id) FILTER (WHERE f.label = f.served) AS fed_hits
                  FROM cycles c LEFT JOIN feedback f ON f.model_version = c.champion_version
                       AND f.sample_id BETWEEN c.first_sample_id AND c.last_sample_id
                  WHERE c.realised_accuracy IS NOT NULL GROUP BY c.cycle_id) old
            WHERE cycles.cycle_id = old.cycle_id"""
    )


def _m014_replayed_rows(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """Each replayed row's source row (`replay_of`: its sample id in the replayed dataset), so a row the loop receives
    again (a replay set back or started over) is read once, not as a new row; rows replayed before are left without."""
    cur.execute("ALTER TABLE samples ADD COLUMN replay_of BIGINT")


def _m015_estimate_threshold(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """Each cycle's estimate threshold (below it the estimate is a drop), so a cycle without labels shows the bar it was
    judged on; cycles stored before have none."""
    cur.execute("ALTER TABLE cycles ADD COLUMN estimated_threshold DOUBLE")


def _m016_replayed_labels(cur: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """Each held-back label's replayed source row, so a replayed row served first and labelled later is stored as a
    copy of its library row (`samples.replay_of`), read once and counted as replayed, like a row replayed labelled."""
    cur.execute("ALTER TABLE pending_labels ADD COLUMN replay_of BIGINT")


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "core tables: workspace, datasets, samples, models, model_events, predictions", _m001_core),
    (2, "monitoring: cycles, drift_results, notifications, health_checks", _m002_monitoring),
    (3, "durability and retention: journal_applied, repairs, archives, models.pruned_at", _m003_durability),
    (4, "data roles (incoming or library), identical-version check, cycle verdicts, drift effects", _m004_roles_and_verdicts),
    (5, "model evaluations stored at training time, imported files' content hash", _m005_evaluations),
    (
        6,
        "each cycle's drift reference, alerts tied to their cycle, the gate's set beside the own holdout, candidates, dataset tags",
        _m006_references_and_episodes,
    ),
    (
        7,
        "the drift monitor's moved reference and follow-up onset as columns, each cycle's gate outcome, every alert tied to its cycle",
        _m007_monitoring_state,
    ),
    (8, "the workspace's schema: named numeric and categorical columns, missing values, the target's classes", _m008_schema),
    (9, "prediction ids, late labels (feedback, pending simulated labels), each cycle's label coverage and delay", _m009_feedback),
    (10, "serving replicas: the replica on each forwarded prediction, each forwarded batch received once", _m010_replicas),
    (11, "each cycle's realised accuracy per served version, the champion's own apart", _m011_realised_per_version),
    (12, "each version's label-free accuracy estimator, each cycle's estimate band", _m012_accuracy_estimate),
    (13, "each cycle's rows that came labelled, scored by the champion on arrival", _m013_scored_on_arrival),
    (14, "each replayed row's source row, so a row sent again is read once", _m014_replayed_rows),
    (15, "each cycle's estimate threshold, the bar a cycle without labels is judged on", _m015_estimate_threshold),
    (16, "each held-back label's replayed source row, so a replayed row labelled late is a copy", _m016_replayed_labels),
]
