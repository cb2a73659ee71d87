"""Core engine benchmarks: ours beside a bare baseline, same process, medians and ratios.

Run: .venv/bin/python -m benchmarks.bench_core   (about three minutes on 2 cores)
"""

from __future__ import annotations

import itertools
import logging
import platform
import sys
import tempfile
import tracemalloc
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.timing import compare, median_seconds, paired_medians, print_table
from core.config import Settings
from core.ml.training import TrainingOptions
from core.runtime import Runtime

MILLION = 1_000_000


def make_runtime(folder: Path, **overrides: object) -> Runtime:
    # The benchmark trains back to back, faster than the per-minute limit a person or an API client gets.
    options = {"starter_model": False, "scheduler_autostart": False, "log_level": "WARNING", "api_enabled": False,
               "trainings_per_minute": 10_000, **overrides}  # fmt: skip
    settings = Settings.from_env({}, data_dir=folder, **options)
    return Runtime(settings)


def bench_generate_and_store(rt: Runtime, folder: Path) -> None:
    raw = duckdb.connect(str(folder / "baseline.duckdb"))
    raw.execute("CREATE TABLE samples (sample_id BIGINT, dataset_id INTEGER, feature_1 DOUBLE, feature_2 DOUBLE, target TINYINT)")

    def baseline() -> None:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((MILLION, 2))
        y = (X.sum(axis=1) > 0).astype(np.int8)
        frame = pd.DataFrame(  # noqa: F841 - read by DuckDB by name
            {"sample_id": np.arange(MILLION), "dataset_id": 1, "feature_1": X[:, 0], "feature_2": X[:, 1], "target": y}
        )
        raw.execute("INSERT INTO samples SELECT * FROM frame")

    ours, base = paired_medians(lambda: rt.data.generate(MILLION, seed=1, role="incoming"), baseline, 5)
    compare("generate + store 1,000,000 rows", "datagen + store", ours, "numpy draw + one DuckDB insert", base, "ratio <= 1.5")
    raw.close()


_runs = itertools.count(1)


def _train_anew(rt: Runtime, rows: int) -> None:
    """A real training each call: the same rows with the same parameters register nothing (an identical
    version is found by its data and parameters hash), so C moves by a negligible amount each time."""
    rt.models.train(window_rows=rows, options=TrainingOptions(C=1.0 + next(_runs) * 1e-9))


def bench_train_small(rt: Runtime) -> None:
    import mlflow
    import mlflow.sklearn

    _train_anew(rt, 1000)  # warm: imports, experiment, registered model exist
    mlflow.set_tracking_uri(rt.settings.mlflow_tracking_uri)  # the bare baseline uses MLflow's process-wide store; ours names it
    X, y = rt.store.recent_window(1000).X, rt.store.recent_window(1000).y

    def naive() -> None:
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
        with warnings.catch_warnings(), mlflow.start_run(experiment_id=rt.tracker.experiment_id):
            warnings.simplefilter("ignore")
            mlflow.sklearn.log_model(model, name="model", input_example=X[:5])

    ours = median_seconds(lambda: _train_anew(rt, 1000), 5)
    base = median_seconds(naive, 3)
    compare(
        "train + register, 1,000 rows (warm)",
        "whole training path",
        ours,
        "naive log_model (inferred requirements)",
        base,
        ">= 20x faster than naive",
    )


def _bare_fit_and_score(X: np.ndarray, y: np.ndarray) -> None:
    X_tr, X_ho, y_tr, y_ho = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)
    proba = model.predict_proba(X_ho)[:, 1]
    pred = proba >= 0.5
    for metric in (accuracy_score, precision_score, recall_score, f1_score):
        metric(y_ho, pred)
    roc_auc_score(y_ho, proba)
    log_loss(y_ho, proba)


def bench_train_large(rt: Runtime) -> None:
    window = rt.store.recent_window(MILLION)
    ours, base = paired_medians(lambda: _train_anew(rt, MILLION), lambda: _bare_fit_and_score(window.X, window.y), 3)
    compare("train + register, 1,000,000 rows", "whole training path", ours, "bare fit + holdout scoring", base, "ratio <= 1.5")
    tracemalloc.start()
    _train_anew(rt, MILLION)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"peak memory allocated while training on 1,000,000 rows (tracemalloc): {peak / 2**20:.0f} MiB", flush=True)


def bench_predictions(rt: Runtime) -> None:
    _version, model = rt.predictor.model()
    row = [1.5, 2.3]
    array_row = np.array([row])
    ours, base = paired_medians(lambda: rt.serving.predict(row), lambda: model.predict_proba(array_row), 3000)
    compare("one prediction", "serving incl. validation and logging", ours, "pipeline predict_proba on one row", base, "ratio <= 1.5")
    X = np.random.default_rng(5).standard_normal((MILLION, 2))
    ours, base = paired_medians(lambda: rt.serving.predict_batch(X), lambda: model.predict_proba(X), 9, setup=rt.serving.flush)
    compare("batch of 1,000,000", "serving batch", ours, "bare predict_proba", base, "ratio <= 1.2")


def bench_fsync_prediction(folder: Path) -> None:
    """The journal's durable mode: an fsync per prediction, for power loss rather than kill -9."""
    rt = make_runtime(folder / "fsync", prediction_fsync=True, starter_model=True)
    try:
        _version, model = rt.predictor.model()
        array_row = np.array([[1.5, 2.3]])
        ours, base = paired_medians(lambda: rt.serving.predict([1.5, 2.3]), lambda: model.predict_proba(array_row), 1000)
        compare(
            "one prediction, IA_PREDICTION_FSYNC=true",
            "serving + fsync'd journal",
            ours,
            "pipeline predict_proba on one row",
            base,
            "reported",
        )
    finally:
        rt.close()


def main() -> None:
    logging.disable(logging.INFO)
    only_predictions = "--predictions-only" in sys.argv
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rt = make_runtime(folder / "ws", training_window=MILLION, max_samples_per_request=MILLION, prediction_flush_rows=MILLION)
        try:
            if only_predictions:
                rt.data.generate(5000, seed=1, role="incoming")
                rt.models.train(window_rows=5000)
            else:
                bench_generate_and_store(rt, folder)
                bench_train_small(rt)
                bench_train_large(rt)
            bench_predictions(rt)
        finally:
            rt.close()
        bench_fsync_prediction(folder)
    print_table()


if __name__ == "__main__":
    main()
