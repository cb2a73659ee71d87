"""Fit and evaluate the classifier: arrays in, model and metrics out.

Pure on purpose: no storage, no MLflow, so the numbers are testable with plain arrays
and the same `evaluate` scores a challenger and a champion on one holdout.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from core.domain.schema import Schema
from core.domain.validation import shown
from core.errors import UserInputError
from core.stats import estimate
from core.stats.estimate import AccuracyEstimator

MIN_ROWS_PER_CLASS = 5
MIN_CATEGORY_ROWS = 5  # categories rarer than this in a training window share one "infrequent" column
TABULAR_MODEL = "Impute+Scale+OneHot+LogisticRegression"
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
        if not isinstance(self.C, int | float) or isinstance(self.C, bool) or not C_LIMITS[0] <= self.C <= C_LIMITS[1]:
            raise UserInputError("C", f"expected a number from {C_LIMITS[0]:g} to {C_LIMITS[1]:g}, got {shown(self.C)}")
        if self.class_weight not in CLASS_WEIGHTS:
            raise UserInputError("class_weight", f"expected one of {', '.join(CLASS_WEIGHTS)}, got {str(self.class_weight)[:40]}")

    def model_params(self) -> dict[str, object]:
        return {**MODEL_PARAMS, "C": float(self.C), "class_weight": None if self.class_weight == "none" else self.class_weight}


DEFAULT_OPTIONS = TrainingOptions()


Features = np.ndarray | pd.DataFrame  # float rows (the synthetic schema) or a table by the user's column names


@dataclass(frozen=True)
class TrainResult:
    model: Pipeline
    metrics: dict[str, float]
    X_holdout: Features
    y_holdout: np.ndarray
    n_train: int
    params: dict[str, object]
    extra_metrics: dict[str, float]  # weighted precision, recall and F1 with more than two classes (logged to MLflow)
    estimator: AccuracyEstimator  # the label-free accuracy estimate, calibrated on this holdout
    encoded_mean: list[float] | None = None  # a table model's encoded window, averaged: what its explanations start from


def build_pipeline(options: TrainingOptions = DEFAULT_OPTIONS, schema: Schema | None = None) -> Pipeline:
    """The synthetic schema's scaler and logistic regression; for a user's table, one scikit-learn pipeline
    that takes it as it is: numbers imputed (median) and scaled, categories one-hot encoded with the rare
    ones in an "infrequent" column and unseen ones mapped there (or to zeros), missing as its own category."""
    classifier = LogisticRegression(**options.model_params())
    if schema is None or schema.plain:
        return Pipeline([("scaler", StandardScaler()), ("classifier", classifier)])
    parts = []
    if schema.numeric:
        parts.append(("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), schema.numeric))
    if schema.categorical:
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=MIN_CATEGORY_ROWS, sparse_output=False)
        parts.append(("categorical", encoder, schema.categorical))
    return Pipeline([("preprocess", ColumnTransformer(parts, verbose_feature_names_out=True)), ("classifier", classifier)])


def fit(
    X: Features,
    y: np.ndarray,
    holdout_fraction: float = 0.3,
    seed: int = 0,
    options: TrainingOptions = DEFAULT_OPTIONS,
    schema: Schema | None = None,
    holdout: np.ndarray | None = None,
) -> TrainResult:
    """Stratified seeded split, fit on the train part, metrics and the label-free estimator on the holdout. A given
    `holdout` mask (the newest rows, in the loop's challenge) replaces the split: the model is judged on rows after
    the ones it learnt."""
    classes = schema.classes if schema is not None else (0, 1)
    check_trainable(y, holdout_fraction, classes)
    if holdout is None:
        holdout = stratified_holdout_mask(y, holdout_fraction, seed, len(classes))
    X_train, X_hold, y_train, y_hold = X[~holdout], X[holdout], y[~holdout], y[holdout]
    model = build_pipeline(options, schema).fit(X_train, y_train)
    params = {**MODEL_PARAMS, "C": float(options.C), "class_weight": options.class_weight, "model": model_name(schema),
              "holdout_fraction": holdout_fraction, "seed": seed}  # fmt: skip
    proba = model.predict_proba(X_hold)
    metrics = metrics_of(proba, y_hold)
    extra = weighted_metrics(y_hold, proba) if len(classes) > 2 else {}
    estimator = AccuracyEstimator.fit(proba, y_hold, seed=seed)
    return TrainResult(model, metrics, X_hold, y_hold, int(y_train.shape[0]), params, extra, estimator, encoded_mean(model, X))


def encoded_mean(model: Pipeline, X: Features) -> list[float] | None:
    """The mean of a table model's encoded inputs over `X` (its window, the rows its lineage names): the average row an
    explanation measures a prediction's parts from, as a linear model's Shapley values are. Kept at training, so the first explanation of a
    version does not read its rows back on the click, and still has them once they are archived. None for the
    synthetic schema, whose explanations start from its scaler's zero."""
    if "preprocess" not in model.named_steps:
        return None
    encoded = model.named_steps["preprocess"].transform(X)
    return np.asarray(encoded.mean(axis=0), dtype=np.float64).ravel().tolist()


def stratified_holdout_mask(y: np.ndarray, holdout_fraction: float, seed: int, n_classes: int = 2) -> np.ndarray:
    """Seeded stratified split as a boolean mask: the same share of each class held out.

    Vectorised (one permutation, one stable sort) because sklearn's splitter costs a
    third of a million-row training; the rows keep their original order on both sides.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(y.shape[0])
    by_class = order[np.argsort(y[order], kind="stable")]
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    mask = np.zeros(y.shape[0], dtype=bool)
    for start, count in zip(starts, counts, strict=True):
        mask[by_class[start : start + round(count * holdout_fraction)]] = True
    return mask


def check_trainable(y: np.ndarray, holdout_fraction: float, classes: tuple = (0, 1)) -> None:
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(classes))
    if len(counts) > len(classes):
        raise UserInputError("target", f"labels must be one of {', '.join(map(str, classes))}")
    needed = int(np.ceil(MIN_ROWS_PER_CLASS / min(holdout_fraction, 1 - holdout_fraction)))
    if counts.min() < needed:
        parts = [f"{n} of class {c}" for c, n in zip(classes, counts, strict=True)]
        held = ", ".join(parts[:-1]) + " and " + parts[-1]
        raise NotEnoughRows("training data", f"needs at least {needed} rows of each class, has {held}")


def evaluate(model: Pipeline, X: Features, y: np.ndarray) -> dict[str, float]:
    """The six holdout metrics; ROC AUC is undefined (NaN) when the batch holds one class. With more than
    two classes, precision, recall and F1 are macro averages and ROC AUC is one-vs-rest (macro)."""
    return metrics_of(model.predict_proba(X), y)


def metrics_of(proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
    if proba.shape[1] == 2:
        return metrics_from_proba(np.asarray(y) == 1, proba[:, 1])
    return multiclass_metrics(np.asarray(y, dtype=np.int64), proba)


def multiclass_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    k = proba.shape[1]
    predicted = proba.argmax(axis=1)
    labels = list(range(k))
    present = np.unique(y)
    eps = np.finfo(np.float64).eps
    return {
        "accuracy": float(np.mean(predicted == y)),
        "precision": float(precision_score(y, predicted, labels=labels, average="macro", zero_division=0)),
        "recall": float(recall_score(y, predicted, labels=labels, average="macro", zero_division=0)),
        "f1": float(f1_score(y, predicted, labels=labels, average="macro", zero_division=0)),
        "roc_auc": float(roc_auc_score(y, proba, multi_class="ovr", labels=labels)) if len(present) == k else float("nan"),
        "log_loss": float(-np.mean(np.log(np.clip(proba[np.arange(y.shape[0]), y], eps, 1.0)))),
    }


def weighted_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 weighted by each class's share: beside the macro ones when classes are unbalanced."""
    predicted, labels = proba.argmax(axis=1), list(range(proba.shape[1]))
    return {
        f"{name}_weighted": float(score(y, predicted, labels=labels, average="weighted", zero_division=0))
        for name, score in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score))
    }


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


predicted_class = estimate.predicted_class  # the served class of each row, as the metrics above count it


def model_name(schema: Schema | None) -> str:
    return "StandardScaler+LogisticRegression" if schema is None or schema.plain else TABULAR_MODEL


def params_hash(holdout_fraction: float, seed: int, options: TrainingOptions = DEFAULT_OPTIONS, schema: Schema | None = None) -> str:
    """Fingerprint of everything besides the data that decides the fitted model (default options hash as
    the bare parameters do, so a version trained without options matches)."""
    extra = () if options == DEFAULT_OPTIONS else (float(options.C), options.class_weight)
    text = repr((sorted(MODEL_PARAMS.items()), model_name(schema), float(holdout_fraction), int(seed), *extra))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def data_hash(X: Features, y: np.ndarray) -> str:
    """Fingerprint of exactly the rows a model saw, so a run can be traced to its data."""
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(X, pd.DataFrame):
        digest.update(repr(list(X.columns)).encode())
        digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    else:
        digest.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int8).tobytes())
    return digest.hexdigest()
