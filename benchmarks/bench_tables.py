"""A workspace of your own table, each step beside its bare baseline in the same process: medians and ratios.

The table: 10 numeric and 5 categorical columns (one with 50 categories), 5 % missing values in three
of them, three classes. Run: .venv/bin/python -m benchmarks.bench_tables   (about four minutes on 2 cores)
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from benchmarks.timing import compare, paired_medians, print_table
from core import workspaces
from core.config import Settings
from core.data.table_check import encode
from core.ml import training
from core.runtime import Runtime
from core.stats.drift import DriftThresholds, table_report

MILLION = 1_000_000
TRAIN_ROWS = 200_000
DRIFT_ROWS = 100_000
NUMERIC = [f"x{i}" for i in range(10)]
CATEGORICAL = {"plan": ["basic", "plus", "pro"], "channel": ["web", "store", "phone", "partner"], "size": ["s", "m", "l", "xl"],
               "segment": [f"seg{i}" for i in range(8)], "city": [f"city{i:02d}" for i in range(50)]}  # fmt: skip


def mixed_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.standard_normal(n) for name in NUMERIC})
    for name, values in CATEGORICAL.items():
        frame[name] = rng.choice(np.array(values, dtype=object), n)
    for name in ("x0", "x1", "channel"):
        frame.loc[rng.random(n) < 0.05, name] = np.nan
    score = frame[NUMERIC[:4]].fillna(0).to_numpy() @ np.array([1.0, -0.8, 0.6, 0.4]) + (frame["plan"] == "pro") * 0.8
    cuts = np.quantile(score, [0.4, 0.75])
    frame["label"] = np.array(["low", "mid", "high"], dtype=object)[np.searchsorted(cuts, score + rng.normal(0, 0.5, n))]
    return frame


def bare_pipeline() -> Pipeline:
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False)
    return Pipeline([("preprocess", ColumnTransformer([("numeric", numeric, NUMERIC), ("categorical", encoder, list(CATEGORICAL))])),
                     ("classifier", LogisticRegression(**training.MODEL_PARAMS))])  # fmt: skip


def bench_import(rt: Runtime, folder: Path) -> None:
    path = folder / "million.csv"
    duckdb.from_df(mixed_table(MILLION, 1)).write_csv(str(path))
    data = path.read_bytes()
    raw = duckdb.connect(str(folder / "baseline.duckdb"))
    tables = iter(range(100))

    def baseline() -> None:
        raw.execute(f"CREATE TABLE t{next(tables)} AS SELECT * FROM read_csv('{path}')")

    ours, base = paired_medians(lambda: rt.data.import_csv(data, name="million.csv", role="library"), baseline, 3)
    compare("import a 1,000,000-row mixed CSV", "read, check by schema, store", ours, "DuckDB read_csv into a table", base, "ratio <= 1.5")
    raw.close()


def bench_training(schema: object) -> None:
    frame = mixed_table(TRAIN_ROWS, 2)
    data = encode(frame, schema, labelled=True)
    holdout = training.stratified_holdout_mask(data.y, 0.3, 0, len(schema.classes))
    X_train, y_train = data.X[~holdout], data.y[~holdout]

    def ours() -> None:
        training.fit(data.X, data.y, 0.3, 0, schema=schema)

    def baseline() -> None:
        bare_pipeline().fit(X_train, y_train)

    ours_s, base_s = paired_medians(ours, baseline, 3)
    compare(f"train on {TRAIN_ROWS:,} mixed rows", "split, fit, holdout metrics", ours_s, "the same pipeline's fit", base_s,
            "ratio <= 1.5")  # fmt: skip


def bench_prediction(rt: Runtime) -> None:
    frame = mixed_table(1, 3)
    row = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in frame.drop(columns=["label"]).iloc[0].items()}
    model = rt.registry.load(rt.models.champion_version)
    one = pd.DataFrame([row])

    ours, base = paired_medians(lambda: rt.serving.predict(row, source="bench"), lambda: model.predict_proba(one), 300)
    compare("one prediction, named features", "check, predict, journal", ours, "pipeline.predict_proba on a one-row DataFrame", base,
            "ratio <= 1.0")  # fmt: skip


def bench_drift(schema: object) -> None:
    reference = encode(mixed_table(DRIFT_ROWS, 4), schema, labelled=False).X
    current = encode(mixed_table(DRIFT_ROWS, 5), schema, labelled=False).X

    def baseline() -> None:
        for name in NUMERIC:
            stats.ks_2samp(reference[name].dropna(), current[name].dropna())
        for name in CATEGORICAL:
            counts = pd.concat([reference[name].value_counts(), current[name].value_counts()], axis=1).fillna(0)
            stats.chi2_contingency(counts.to_numpy().T)

    ours, base = paired_medians(lambda: table_report(reference, [current], schema, DriftThresholds()), baseline, 5)
    compare(f"drift report, {DRIFT_ROWS:,} rows against {DRIFT_ROWS:,}", "KS, chi-square, missing rates", ours,
            "scipy ks_2samp + chi2_contingency per column", base, "ratio <= 1.3")  # fmt: skip


def bench_weather_upload(base: Settings) -> None:
    """The dashboard's "Start from your own data" path for the weather file (checked here, created by a child
    process: read, infer, store, train v1.0.0), beside what a person would do by hand: read the CSV with pandas
    and fit the same kind of pipeline. Run once each: the bar is an absolute one (under 60 s on screen)."""
    path = Path(__file__).resolve().parent.parent / "examples" / "weather.csv"
    data = path.read_bytes()
    runs = iter(range(100))

    def ours() -> None:
        workspaces.create_from_upload(base, f"weather-{next(runs)}", data, "weather.csv", workspaces.TableChoice("rain"))

    def baseline() -> None:
        frame = pd.read_csv(path)
        Pipeline([("scale", StandardScaler()), ("classifier", LogisticRegression(**training.MODEL_PARAMS))]).fit(
            frame.drop(columns=["rain"]), frame["rain"]
        )

    ours_s, base_s = paired_medians(ours, baseline, 3)
    compare("weather.csv (18,159 rows) to a trained champion", "check, create, store, train, register", ours_s,
            "pandas read_csv + the pipeline's fit", base_s, "under 60 s")  # fmt: skip


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        first = folder / "first.csv"
        mixed_table(5000, 0).to_csv(first, index=False)
        base = Settings.from_env({}, data_dir=folder / "demo", log_level="WARNING", trainings_per_minute=10_000)
        created = workspaces.create(base, "bench", first, "first.csv", workspaces.TableChoice("label"))
        rt = Runtime(workspaces.workspace_settings(base, created.folder))
        try:
            bench_prediction(rt)
            bench_drift(created.schema)
            bench_training(created.schema)
            bench_import(rt, folder)
            bench_weather_upload(base)
        finally:
            rt.close()
    print_table()


if __name__ == "__main__":
    main()
