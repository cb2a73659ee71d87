"""Predictions people and programs ask for: one row, a batch, a file of rows, and the batches replicas forward.

The predictor (`core.services.predictor`) scores and logs; this is what the doors call, so a CSV is read
and checked here once for the Predict page and any script alike.
"""

from __future__ import annotations

import pandas as pd

from core.config import Settings
from core.data.csv_import import parse_feature_csv
from core.data.table_check import encode
from core.domain.clock import utc_csv
from core.domain.features import UNSEEN_COLUMN
from core.domain.schema import Schema
from core.io.table_files import read_table
from core.services.ingest import store_forwarded
from core.services.predictor import BatchPrediction, Prediction, Predictor
from core.store import Store


class Serving:
    def __init__(self, store: Store, predictor: Predictor, settings: Settings) -> None:
        self.store, self.predictor, self.settings = store, predictor, settings

    @property
    def schema(self) -> Schema:
        """The columns a row is checked against (a refusal shows a body of them)."""
        return self.store.schema

    def predict(self, features: object, source: str = "api", prediction_id: object = None) -> Prediction:
        return self.predictor.predict_one(features, source, prediction_id)

    def predict_batch(self, rows: object, source: str = "batch", prediction_ids: object = None) -> BatchPrediction:
        return self.predictor.predict_batch(rows, source, prediction_ids)

    def predict_csv(self, data: bytes | str) -> pd.DataFrame:
        """Batch prediction of a CSV of feature columns: the rows with prediction, confidence, version.
        A workspace with its own schema takes its columns by name (a CSV or Parquet file), checked by the schema, and
        gives back every column of the file."""
        schema, limit = self.store.schema, self.settings.max_samples_per_request
        if not schema.plain:
            frame = read_table(bytes(data.encode() if isinstance(data, str) else data), "batch.csv", limit, text=schema.carried)
            X = encode(frame, schema, labelled=False, field="batch").X
            # The file's own id, time, ignored and target columns are carried through in its order, so the results join
            # back to the rows they came from; the features as the model read them.
            inputs = frame.reset_index(drop=True).assign(**{name: X[name] for name in X.columns})
            return self.predict_batch(X, source="batch").to_frame(inputs, schema.names)
        X = parse_feature_csv(data, self.store.n_features, limit, self.settings.feature_max_abs)
        return self.predict_batch(X, source="batch").to_frame(X, self.store.features)

    @staticmethod
    def results_csv(results: pd.DataFrame) -> str:
        """A batch's results as a file: each row's unseen columns written "a; b" (a name may hold a comma), and the time
        in ISO 8601 UTC with its Z, as the API answers it (a naive "2026-12-07 10:00:00" reads as local time elsewhere)."""
        if UNSEEN_COLUMN in results:
            results = results.assign(**{UNSEEN_COLUMN: results[UNSEEN_COLUMN].map("; ".join)})
        return utc_csv(results, ["timestamp"])  # ours; a user's own time column, renamed "… (input)", is theirs

    @staticmethod
    def unseen_values(results: pd.DataFrame, most: int = 5) -> dict[str, str]:
        """Per column, the values of a batch's results the model never saw as a category, most frequent first with their
        counts ("'dream' ×3, 'yes' ×1"): a file writing Dream as dream is scored as an unknown category, and says so."""
        if UNSEEN_COLUMN not in results:
            return {}
        found: dict[str, str] = {}
        flagged = results[UNSEEN_COLUMN]  # per row, a list of column names (a name may hold a comma)
        for column in sorted({c for row in flagged for c in row if c in results}):
            values = results.loc[flagged.map(lambda cs, c=column: c in cs), column].astype(str).value_counts()
            shown = ", ".join(f"'{v}' ×{n:,}" for v, n in values.head(most).items())
            found[column] = shown + (f" and {len(values) - most:,} more" if len(values) > most else "")
        return found

    def flush(self) -> int:
        """Write the logged predictions to DuckDB now (they are journalled already): a page shows its own at once."""
        return self.predictor.flush()

    def ingest_forwarded(self, replica: str | None, batch_id: str | None, body: bytes) -> dict[str, object]:
        """A serving replica's prediction batch (`core.services.ingest`), stored as if it had been served here."""
        return store_forwarded(self.store, self.settings.max_samples_per_request, replica, batch_id, body)
