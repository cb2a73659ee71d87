"""Fit and evaluate the classifier: arrays in, model and metrics out.

Pure on purpose: no storage, no MLflow, so the numbers are testable with plain arrays
and the same `evaluate` scores a challenger and a champion on one holdout.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.errors import UserInputError

MIN_ROWS_PER_CLASS = 5
MODEL_PARAMS = {"C": 1.0, "max_iter": 1000, "solver": "lbfgs"}


@dataclass(frozen=True)
class TrainResult:
    model: Pipeline
    metrics: dict[str, float]
    X_holdout: np.ndarray
    y_holdout: np.ndarray
    n_train: int
    params: dict[str, object]


def build_pipeline() -> Pipeline:
    return Pipeline([("scaler", StandardScaler()), ("classifier", LogisticRegression(**MODEL_PARAMS))])


def fit(X: np.ndarray, y: np.ndarray, holdout_fraction: float = 0.3, seed: int = 0) -> TrainResult:
    """Stratified seeded split, fit on the train part, metrics on the holdout."""
    check_trainable(y, holdout_fraction)
    holdout = stratified_holdout_mask(y, holdout_fraction, seed)
    X_train, X_hold, y_train, y_hold = X[~holdout], X[holdout], y[~holdout], y[holdout]
    model = build_pipeline().fit(X_train, y_train)
    params = {**MODEL_PARAMS, "model": "StandardScaler+LogisticRegression", "holdout_fraction": holdout_fraction, "seed": seed}
    return TrainResult(model, evaluate(model, X_hold, y_hold), X_hold, y_hold, int(y_train.shape[0]), params)


def stratified_holdout_mask(y: np.ndarray, holdout_fraction: float, seed: int) -> np.ndarray:
    """Seeded stratified split as a boolean mask: the same share of each class held out.

    Vectorised (one permutation, one stable sort) because sklearn's splitter costs a
    third of a million-row training; the rows keep their original order on both sides.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(y.shape[0])
    by_class = order[np.argsort(y[order], kind="stable")]
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    mask = np.zeros(y.shape[0], dtype=bool)
    for start, count in zip(starts, counts, strict=True):
        mask[by_class[start : start + round(count * holdout_fraction)]] = True
    return mask


def check_trainable(y: np.ndarray, holdout_fraction: float) -> None:
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
    if len(counts) > 2:
        raise UserInputError("target", "labels must be 0 or 1")
    needed = int(np.ceil(MIN_ROWS_PER_CLASS / min(holdout_fraction, 1 - holdout_fraction)))
    if counts.min() < needed:
        raise UserInputError(
            "training data", f"needs at least {needed} rows of each class, has {counts[0]} of class 0 and {counts[1]} of class 1"
        )


def evaluate(model: Pipeline, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The six holdout metrics; ROC AUC is undefined (NaN) when the batch holds one class."""
    proba = model.predict_proba(X)[:, 1]
    return metrics_from_proba(np.asarray(y) == 1, proba)


def metrics_from_proba(truth: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Confusion counts in numpy (sklearn's per-metric validation costs more than the maths)."""
    predicted = proba >= 0.5
    tp = int(np.count_nonzero(predicted & truth))
    fp = int(np.count_nonzero(predicted)) - tp
    positives = int(np.count_nonzero(truth))
    fn = positives - tp
    n = truth.shape[0]
    tn = n - tp - fp - fn
    eps = np.finfo(np.float64).eps
    clipped = np.clip(proba, eps, 1 - eps)
    return {
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / positives if positives else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "roc_auc": float(roc_auc_score(truth, proba)) if 0 < positives < n else float("nan"),
        "log_loss": float(-np.mean(np.where(truth, np.log(clipped), np.log1p(-clipped)))),
    }


def expected_accuracy(proba_positive: np.ndarray) -> float:
    """Label-free estimate: a calibrated classifier is right with probability max(p, 1 - p) (CBPE)."""
    return float(np.mean(np.maximum(proba_positive, 1.0 - proba_positive)))


def params_hash(holdout_fraction: float, seed: int) -> str:
    """Fingerprint of everything besides the data that decides the fitted model."""
    text = repr((sorted(MODEL_PARAMS.items()), "StandardScaler+LogisticRegression", float(holdout_fraction), int(seed)))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def data_hash(X: np.ndarray, y: np.ndarray) -> str:
    """Fingerprint of exactly the rows a model saw, so a run can be traced to its data."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int8).tobytes())
    return digest.hexdigest()
