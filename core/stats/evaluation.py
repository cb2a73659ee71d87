"""A model version's evaluation, computed once at training time from its holdout predictions.

Pure (arrays and a fitted pipeline in, a JSON-ready dict out) so the dashboard draws the
confusion matrix, ROC, precision-recall and calibration curves, coefficients and confidence
intervals from what was stored, never by re-scoring on page load. Curves are thinned to at
most `MAX_CURVE_POINTS` so a million-row holdout stores the same few kilobytes as a small one.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score, roc_curve
from sklearn.pipeline import Pipeline

MAX_CURVE_POINTS = 200
CALIBRATION_BINS = 10
Z95 = 1.959963984540054
BOOTSTRAP_DRAWS = 2000


def evaluate_version(model: Pipeline, X_holdout: object, y_holdout: np.ndarray, seed: int = 0) -> dict:
    """Everything the Models page shows for one version, from one scoring of its holdout."""
    scores = model.predict_proba(X_holdout)
    if scores.shape[1] > 2:
        return multiclass_evaluation(model, scores, np.asarray(y_holdout, dtype=np.int64), seed)
    truth = np.asarray(y_holdout) == 1
    proba = scores[:, 1]
    evaluation = {"n_holdout": int(truth.shape[0]), "confusion": confusion(truth, proba), "calibration": calibration(truth, proba)}
    evaluation["intervals"] = intervals(evaluation["confusion"], truth, proba, seed)
    evaluation |= curves(truth, proba)
    evaluation["thresholds"] = by_threshold(truth, proba)
    evaluation["linear"] = linear_terms(model)
    return evaluation


THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.05))


def by_threshold(truth: np.ndarray, proba: np.ndarray) -> list[dict]:
    """Confusion counts, precision and recall if class 1 were predicted from P >= t, for t in 0.05..0.95:
    what moving the decision threshold would trade, from the same holdout."""
    rows = []
    for t in THRESHOLDS:
        counts = confusion(truth, proba, t)
        predicted, positives = counts["tp"] + counts["fp"], counts["tp"] + counts["fn"]
        rows.append({"threshold": t, **counts, "precision": counts["tp"] / predicted if predicted else None,
                     "recall": counts["tp"] / positives if positives else None,
                     "accuracy": (counts["tp"] + counts["tn"]) / max(truth.shape[0], 1)})  # fmt: skip
    return rows


def majority(evaluation: dict) -> tuple[int, float] | None:
    """The holdout's most frequent class (its index) and its share: the accuracy of always predicting it. On a table
    with 4.8 % positives a model that never says yes scores 95.2 %; beside this figure, that is no skill at all.
    None for an evaluation with no counts.

    >>> majority({"confusion": {"tn": 431, "fp": 0, "fn": 19, "tp": 0}})
    (0, 0.9577777777777777)
    >>> majority({"confusion_matrix": [[5, 1, 0], [2, 10, 0], [0, 1, 1]]})
    (1, 0.6)
    """
    if "confusion_matrix" in evaluation:
        actual = np.asarray(evaluation["confusion_matrix"], dtype=float).sum(axis=1)
    elif "confusion" in evaluation:
        c = evaluation["confusion"]
        actual = np.array([c["tn"] + c["fp"], c["fn"] + c["tp"]], dtype=float)
    else:
        return None
    return (int(actual.argmax()), float(actual.max() / actual.sum())) if actual.sum() else None


def confusion(truth: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> dict[str, int]:
    predicted = proba >= threshold
    return {
        "tn": int(np.count_nonzero(~predicted & ~truth)),
        "fp": int(np.count_nonzero(predicted & ~truth)),
        "fn": int(np.count_nonzero(~predicted & truth)),
        "tp": int(np.count_nonzero(predicted & truth)),
    }


def curves(truth: np.ndarray, proba: np.ndarray) -> dict:
    """ROC and precision-recall curves with their areas; None where the holdout holds one class."""
    if truth.all() or not truth.any():
        return {"roc": None, "pr": None}
    fpr, tpr, _ = roc_curve(truth, proba)
    precision, recall, _ = precision_recall_curve(truth, proba)
    # roc_auc_score and average_precision_score are these two sums over the same curves (sklearn computes
    # them so): taken from the curves, a million-row holdout is sorted twice instead of four times.
    return {
        "roc": {"fpr": _thin(fpr), "tpr": _thin(tpr), "auc": float(auc(fpr, tpr))},
        "pr": {
            "recall": _thin(recall),
            "precision": _thin(precision),
            "average_precision": float(-np.sum(np.diff(recall) * precision[:-1])),
            "auc": float(auc(recall, precision)),
            "base_rate": float(truth.mean()),
        },
    }


def _thin(values: np.ndarray) -> list[float]:
    """At most MAX_CURVE_POINTS points, always keeping both ends (curves start and end somewhere meaningful)."""
    if values.shape[0] > MAX_CURVE_POINTS:
        values = values[np.unique(np.linspace(0, values.shape[0] - 1, MAX_CURVE_POINTS).round().astype(int))]
    return [round(float(v), 6) for v in values]


def calibration(truth: np.ndarray, proba: np.ndarray) -> list[dict]:
    """Reliability bins of equal width: mean predicted probability against the observed share of class 1."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    index = np.clip(np.digitize(proba, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    bins = []
    for b in range(CALIBRATION_BINS):
        chosen = index == b
        n = int(np.count_nonzero(chosen))
        if n:
            bins.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": n,
                         "predicted": float(proba[chosen].mean()), "observed": float(truth[chosen].mean())})  # fmt: skip
    return bins


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Two-sided Wilson score interval of a proportion; None when there is nothing to estimate from."""
    if n <= 0:
        return None
    return _wilson_at(successes / n, n, z)


def intervals(counts: dict[str, int], truth: np.ndarray, proba: np.ndarray, seed: int) -> dict[str, dict]:
    """95 % intervals, each with the number of rows it rests on.

    Accuracy, precision and recall are proportions (Wilson); F1 from a Bayesian bootstrap of the
    confusion counts (`_count_draws`: no closed form, and O(1) in the holdout size); ROC AUC by Wilson at
    Hanley and McNeil's effective size; log loss is a mean (normal interval)."""
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    n = tp + fp + fn + tn
    out = {
        "accuracy": _interval(wilson(tp + tn, n), n),
        "precision": _interval(wilson(tp, tp + fp), tp + fp),
        "recall": _interval(wilson(tp, tp + fn), tp + fn),
        "f1": _interval(_f1_bootstrap(counts, seed), n),
        "roc_auc": _interval(_auc_interval(truth, proba), n),
        "log_loss": _interval(_log_loss_interval(truth, proba), n),
    }
    return out


def _interval(bounds: tuple[float, float] | None, n: int) -> dict:
    return {"low": None if bounds is None else float(bounds[0]), "high": None if bounds is None else float(bounds[1]), "n": int(n)}


def _f1_bootstrap(counts: dict[str, int], seed: int) -> tuple[float, float] | None:
    n = sum(counts.values())
    if n == 0:
        return None
    cells = np.array([counts["tp"], counts["fp"], counts["fn"], counts["tn"]], dtype=float)
    draws = _count_draws(cells, np.random.default_rng(seed))
    tp, fp, fn = draws[:, 0], draws[:, 1], draws[:, 2]
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros(BOOTSTRAP_DRAWS), where=denominator > 0)
    both = 2 * cells[0] + cells[1] + cells[2]
    return _around(f1, 2 * cells[0] / both if both else 0.0)


def _auc_interval(truth: np.ndarray, proba: np.ndarray) -> tuple[float, float] | None:
    """Wilson's interval at Hanley and McNeil's effective size: their variance, read as a proportion's over
    `n_eff` rows, carried to where it vanishes (an AUC of 0 or 1). Their normal interval collapses to [1, 1]
    at a perfect separation however few rows show it; Wilson's leaves room for the pairs a small holdout
    could not show (0.93 - 1 with 26 positives and 27 negatives, as for 53 of 53 right)."""
    truth = np.asarray(truth, dtype=bool)
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if not positives or not negatives:
        return None
    a = float(roc_auc_score(truth, proba))
    return _wilson_at(a, _hanley_mcneil_size(min(max(a, 1e-9), 1 - 1e-9), positives, negatives))


def _hanley_mcneil_size(a: float, positives: int, negatives: int) -> float:
    """The rows a proportion `a` would rest on to have Hanley and McNeil's (1982) variance of an AUC `a`."""
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    variance = (a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a)) / (positives * negatives)
    return a * (1 - a) / variance


def _wilson_at(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _macro_auc_interval(y: np.ndarray, proba: np.ndarray) -> tuple[float, float] | None:
    """The one-vs-rest macro AUC's interval: the mean of each class's bounds (`_auc_interval`). The bounds of
    a mean of intervals hold it when the classes' errors move together and are wider otherwise, so the 95 %
    is kept; a bootstrap of rows cannot do that at a perfect separation (it gave [1, 1])."""
    bounds = [_auc_interval(y == c, proba[:, c]) for c in range(proba.shape[1])]
    if any(b is None for b in bounds):
        return None
    return float(np.mean([b[0] for b in bounds])), float(np.mean([b[1] for b in bounds]))


def _log_loss_interval(truth: np.ndarray, proba: np.ndarray) -> tuple[float, float] | None:
    if truth.shape[0] < 2:
        return None
    eps = np.finfo(np.float64).eps
    clipped = np.clip(proba, eps, 1 - eps)
    losses = -np.where(truth, np.log(clipped), np.log1p(-clipped))
    half = Z95 * float(losses.std(ddof=1)) / math.sqrt(losses.shape[0])
    mean = float(losses.mean())
    return max(0.0, mean - half), mean + half


def multiclass_evaluation(model: Pipeline, proba: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """With more than two classes: the k x k confusion matrix, one-vs-rest ROC and precision-recall curves
    per class, the calibration of the served confidence (the top class's probability against how often
    it was right), 95 % intervals and the coefficients per class."""
    k, n = proba.shape[1], y.shape[0]
    predicted = proba.argmax(axis=1)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y, predicted), 1)
    per_class = [curves(y == c, proba[:, c]) for c in range(k)]
    correct = predicted == y
    return {
        "n_holdout": int(n),
        "classes": k,
        "confusion_matrix": matrix.tolist(),
        "per_class": per_class,
        "calibration": calibration(correct, proba.max(axis=1)),
        "intervals": multiclass_intervals(matrix, y, proba, seed),
        "linear": linear_terms(model),
    }


def _count_draws(cells: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Confusion counts as they might have been: the cells' shares drawn from their Dirichlet posterior, half
    a count per true class spread over its cells (Jeffreys' prior for each class's proportions), times the
    rows. Resampling the observed shares alone cannot leave a perfect matrix (53 right of 53 gave the
    interval 1.0000 - 1.0000); the half count leaves room for the errors a few dozen rows can hide, as
    Wilson's interval does for a proportion (0.93 - 1 at 53 of 53)."""
    k = math.isqrt(cells.size)
    return rng.dirichlet(cells.ravel() + 0.5 / k, size=BOOTSTRAP_DRAWS) * cells.sum()


def _around(values: np.ndarray, observed: float) -> tuple[float, float]:
    """The draws' 95 % interval, stretched to hold the observed value (a prior pulls a perfect score's draws
    below it)."""
    low, high = _quantiles(values)
    return min(low, observed), max(high, observed)


def multiclass_intervals(matrix: np.ndarray, y: np.ndarray, proba: np.ndarray, seed: int) -> dict[str, dict]:
    """Accuracy by Wilson; macro precision, recall and F1 by a Bayesian bootstrap of the confusion matrix
    (`_count_draws`, O(1) in the holdout); the one-vs-rest macro ROC AUC from each class's interval; log loss as
    a mean."""
    n, k = int(matrix.sum()), matrix.shape[0]
    rng = np.random.default_rng(seed)
    draws = _macro(_count_draws(np.asarray(matrix, dtype=float), rng).reshape(-1, k, k))
    observed = _macro(np.asarray(matrix, dtype=float)[None])
    eps = np.finfo(np.float64).eps
    losses = -np.log(np.clip(proba[np.arange(n), y], eps, 1.0))
    log_loss = None
    if n >= 2:
        half = Z95 * float(losses.std(ddof=1)) / math.sqrt(n)
        log_loss = (max(0.0, float(losses.mean()) - half), float(losses.mean()) + half)
    return {
        "accuracy": _interval(wilson(int(np.trace(matrix)), n), n),
        **{m: _interval(_around(draws[m], float(observed[m][0])) if n else None, n) for m in ("precision", "recall", "f1")},
        "roc_auc": _interval(_macro_auc_interval(y, proba), n),
        "log_loss": _interval(log_loss, n),
    }


def _macro(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """Macro precision, recall and F1 of each confusion matrix in a stack (actual rows, predicted columns)."""
    tp = np.diagonal(matrices, axis1=1, axis2=2).astype(float)
    predicted, actual = matrices.sum(axis=1), matrices.sum(axis=2)
    return {
        "precision": np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0).mean(axis=1),
        "recall": np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0).mean(axis=1),
        "f1": np.divide(2 * tp, predicted + actual, out=np.zeros_like(tp), where=(predicted + actual) > 0).mean(axis=1),
    }


def _quantiles(values: np.ndarray) -> tuple[float, float]:
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def linear_terms(model: Pipeline) -> dict:
    """The scaler's means and scales and the logistic regression's weights on standardised inputs:
    enough to explain a prediction and to draw the decision boundary without loading the model.
    For a user's table, the weights of every encoded input, named by their column (and category),
    one row per class (one row in all with two classes)."""
    if "preprocess" in model.named_steps:
        return encoded_terms(model)
    scaler, classifier = model.named_steps["scaler"], model.named_steps["classifier"]
    return {
        "mean": [float(v) for v in scaler.mean_],
        "scale": [float(v) for v in scaler.scale_],
        "coef": [float(v) for v in classifier.coef_[0]],
        "intercept": float(classifier.intercept_[0]),
    }


def encoded_terms(model: Pipeline) -> dict:
    """The weights of a table pipeline by encoded input: `sources` names each input's column, `names` the
    column or "column = category" (or "column = (infrequent)")."""
    preprocess, classifier = model.named_steps["preprocess"], model.named_steps["classifier"]
    names, sources = [], []
    for part, transformer, columns in preprocess.transformers_:
        if part == "numeric":
            names += list(columns)
            sources += list(columns)
        elif part == "categorical":
            for column, categories, infrequent in zip(columns, transformer.categories_, _infrequent(transformer), strict=True):
                kept = [c for c in categories if infrequent is None or c not in set(infrequent)]
                labels = [f"{column} = {'(missing)' if not isinstance(c, str) else c}" for c in kept]
                if infrequent is not None:
                    labels.append(f"{column} = (infrequent)")
                names += labels
                sources += [column] * len(labels)
    return {
        "names": names,
        "sources": sources,
        "coef": [[float(v) for v in row] for row in classifier.coef_],
        "intercept": [float(v) for v in classifier.intercept_],
    }


def _infrequent(encoder: object) -> list:
    found = getattr(encoder, "infrequent_categories_", None)
    return list(found) if found is not None else [None] * len(encoder.categories_)


def contributions(linear: dict, values: list[float]) -> dict:
    """Each feature's share of the log-odds: weight x standardised value; with the intercept they sum
    to the logit, so P(class 1) = sigmoid(sum) is exactly what the model serves."""
    x = np.asarray(values, dtype=float)
    standardised = (x - np.asarray(linear["mean"])) / np.asarray(linear["scale"])
    parts = np.asarray(linear["coef"]) * standardised
    logit = float(parts.sum() + linear["intercept"])
    return {
        "standardised": [float(v) for v in standardised],
        "contributions": [float(v) for v in parts],
        "intercept": float(linear["intercept"]),
        "logit": logit,
        "probability": float(1.0 / (1.0 + math.exp(-logit))) if logit > -700 else 0.0,
    }


def table_contributions(model: Pipeline, row: object, classes: tuple, baseline: np.ndarray | None = None) -> dict:
    """A table row's explanation: each encoded input's weight x its distance from `baseline` (the encoded inputs' mean
    over the rows the model learnt from), added up per original column: a number's standardised value, a one-hot
    column less its category's share. A column the same in every row then explains nothing (tour 20: three constant
    pixels read +0.11 each, their one-hot 1 times a weight that is really intercept), and the intercept becomes the
    logit of the average row. Each class's parts and intercept still sum to its logit, so the served probabilities
    are exactly sigmoid (two classes) or the softmax of the logits (more). The predicted class's parts are shown;
    every class's are returned. Without `baseline`, each input's distance from 0."""
    linear = encoded_terms(model)
    encoded = np.asarray(model.named_steps["preprocess"].transform(row), dtype=np.float64)[0]
    base = np.zeros_like(encoded) if baseline is None else np.asarray(baseline, dtype=np.float64)
    sources = linear["sources"]
    columns = [c for c in row.columns if c in sources]  # the row's order (the schema's), not the encoder's
    per_class = []
    for coef, intercept in zip(linear["coef"], linear["intercept"], strict=True):
        parts = np.asarray(coef) * (encoded - base)
        grouped = [float(parts[[i for i, s in enumerate(sources) if s == c]].sum()) for c in columns]
        average = float(intercept + np.dot(coef, base))  # the logit of the baseline row
        per_class.append({"contributions": grouped, "intercept": average, "logit": float(parts.sum() + average)})
    if len(per_class) == 1:  # two classes: one logit, towards the second class
        logit = per_class[0]["logit"]
        probability = float(1.0 / (1.0 + math.exp(-logit))) if logit > -700 else 0.0
        shown, towards = per_class[0], classes[1]
    else:
        logits = np.array([p["logit"] for p in per_class])
        soft = np.exp(logits - logits.max())
        soft /= soft.sum()
        best = int(soft.argmax())
        shown, towards, probability = per_class[best], classes[best], float(soft[best])
        for p, c, value in zip(per_class, classes, soft, strict=True):
            p |= {"class": c, "probability": float(value)}
    return {"features": columns, "contributions": shown["contributions"], "intercept": shown["intercept"], "logit": shown["logit"],
            "probability": probability, "towards": towards, "per_class": per_class}  # fmt: skip


def boundary_line(linear: dict, x_index: int, y_index: int, fixed: list[float], x_range: tuple[float, float]) -> dict | None:
    """The 0.5-probability line in the plane of features `x_index` and `y_index`, the others held at
    `fixed` (the reference means): two end points over `x_range`, or a vertical line when the model
    ignores the y feature; None when it ignores both."""
    w = np.asarray(linear["coef"]) / np.asarray(linear["scale"])  # weights on raw inputs
    b = linear["intercept"] - float(np.sum(w * np.asarray(linear["mean"])))
    rest = b + sum(w[i] * fixed[i] for i in range(len(w)) if i not in (x_index, y_index))
    wx, wy = float(w[x_index]), float(w[y_index])
    if abs(wy) > 1e-12:
        xs = [float(x_range[0]), float(x_range[1])]
        return {"x": xs, "y": [-(rest + wx * x) / wy for x in xs]}
    if abs(wx) > 1e-12:
        return {"x": [-rest / wx] * 2, "y": None}
    return None
