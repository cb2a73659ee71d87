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
CLASS_WEIGHTS = ("none", "balanced")
C_LIMITS = (1e-4, 1e4)


class NotEnoughRows(UserInputError):
    """A window with too few rows of a class to split and fit: for the loop a reason to wait, not a fault."""


@dataclass(frozen=True)
class TrainingOptions:
    """What a user may set for one training; recorded as MLflow params and in the parameters' hash."""

    C: float = 1.0
    class_weight: str = "none"

    def __post_init__(self) -> None:
        if not isinstance(self.C, int | float) or isinstance(self.C, bool) or not C_LIMITS[0] <= float(self.C) <= C_LIMITS[1]:
            raise UserInputError("C", f"expected a number from {C_LIMITS[0]:g} to {C_LIMITS[1]:g}, got {str(self.C)[:40]}")
        if self.class_weight not in CLASS_WEIGHTS:
            raise UserInputError("class_weight", f"expected one of {', '.join(CLASS_WEIGHTS)}, got {str(self.class_weight)[:40]}")

    def model_params(self) -> dict[str, object]:
        return {**MODEL_PARAMS, "C": float(self.C), "class_weight": None if self.class_weight == "none" else self.class_weight}


DEFAULT_OPTIONS = TrainingOptions()


@dataclass(frozen=True)
class TrainResult:
    model: Pipeline
    metrics: dict[str, float]
    X_holdout: np.ndarray
    y_holdout: np.ndarray
    n_train: int
    params: dict[str, object]


def build_pipeline(options: TrainingOptions = DEFAULT_OPTIONS) -> Pipeline:
    return Pipeline([("scaler", StandardScaler()), ("classifier", LogisticRegression(**options.model_params()))])


def fit(
    X: np.ndarray, y: np.ndarray, holdout_fraction: float = 0.3, seed: int = 0, options: TrainingOptions = DEFAULT_OPTIONS
) -> TrainResult:
    """Stratified seeded split, fit on the train part, metrics on the holdout."""
    check_trainable(y, holdout_fraction)
    holdout = stratified_holdout_mask(y, holdout_fraction, seed)
    X_train, X_hold, y_train, y_hold = X[~holdout], X[holdout], y[~holdout], y[holdout]
    model = build_pipeline(options).fit(X_train, y_train)
    params = {**MODEL_PARAMS, "C": float(options.C), "class_weight": options.class_weight, "model": "StandardScaler+LogisticRegression",
              "holdout_fraction": holdout_fraction, "seed": seed}  # fmt: skip
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
        raise NotEnoughRows(
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


def params_hash(holdout_fraction: float, seed: int, options: TrainingOptions = DEFAULT_OPTIONS) -> str:
    """Fingerprint of everything besides the data that decides the fitted model (default options hash as
    they did before options existed, so earlier versions still match)."""
    extra = () if options == DEFAULT_OPTIONS else (float(options.C), options.class_weight)
    text = repr((sorted(MODEL_PARAMS.items()), "StandardScaler+LogisticRegression", float(holdout_fraction), int(seed), *extra))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def data_hash(X: np.ndarray, y: np.ndarray) -> str:
    """Fingerprint of exactly the rows a model saw, so a run can be traced to its data."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int8).tobytes())
    return digest.hexdigest()
