"""The label-free accuracy estimate, with its sampling band and its drop thresholds (NannyML's CBPE, multiclass).

A model's top-class probability is its accuracy only when the model is calibrated; a strongly regularised
multinomial spreads its probabilities towards uniform and stays right far more often than its top
probability says. So the estimator is fitted on the champion's labelled holdout: it calibrates each class's
probability one-vs-rest (Platt's sigmoid or isotonic, then renormalised) when its top probability is
credibly off the holdout's accuracy, the map chosen by cross-validation on that holdout, and estimates a
batch's accuracy as the mean calibrated probability of the class the model serves, row by row.

Pure: arrays in, numbers and a JSON-ready dict out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold

from core.errors import UserInputError

METHODS = ("uncalibrated", "platt", "isotonic", "confidence")
FOLDS = 5
MIN_CALIBRATION_ROWS = 100  # below this a calibration map learns the holdout's noise
MAX_FIT_ROWS = 20_000  # holdout rows (seeded sample) a calibration is chosen and fitted on
MAX_REFERENCE_ROWS = 5000  # rows kept (in order, seeded) for the thresholds' chunks
RESAMPLED_CHUNKS = 500
MIN_CHUNKS = 6  # contiguous chunks needed before their spread counts beside the resampled one
EVIDENCE = 2.0  # paired standard errors a calibration's Brier gain must exceed
SPREAD = 3.0  # NannyML's default: an alert below mean - 3 standard deviations of the reference's chunks
Z95 = 1.959963984540054


def threshold_words(n_rows: int) -> str:
    """What an estimated drop is measured against, in words: one phrase for the verdict and the decision's reason."""
    spread = {2.0: "two", 3.0: "three"}.get(SPREAD, f"{SPREAD:g}")
    return (f"the model's own estimate on its reference data less {spread} standard deviations of its holdout's accuracy "
            f"over chunks of {n_rows:,} rows")  # fmt: skip


_EPS = 1e-6


@dataclass(frozen=True)
class Estimate:
    """The estimated accuracy of `n` rows and its 95 % sampling band: where the realised accuracy of these
    rows would fall if the calibrated probabilities are right."""

    value: float
    low: float
    high: float
    n: int
    method: str


@dataclass(frozen=True)
class Thresholds:
    """Drop thresholds for a batch of `n` rows: below `realised` the realised accuracy, below `estimated` the
    estimate, is lower than the reference's own chunk-to-chunk variation allows; `spread` is that allowance."""

    n: int
    realised: float
    estimated: float
    spread: float


def predicted_class(proba: np.ndarray) -> np.ndarray:
    """The served class of each row: class 1 from P >= 0.5 with two classes, else the most probable."""
    if proba.shape[1] == 2:
        return (proba[:, 1] >= 0.5).astype(np.int64)
    return proba.argmax(axis=1)


@dataclass
class AccuracyEstimator:
    """Fitted on a labelled holdout's probabilities, estimates the accuracy of unlabelled batches.

    A calibration is fitted only when the holdout says the mean top probability is off its accuracy, and is
    then chosen by the 5-fold cross-validated Brier score of the probability that the served class is right
    (the quantity the estimate averages).
    The band is the binomial one at the estimate, widened by the holdout's own uncertainty about the
    calibration: given calibrated probabilities q_i that each row is served right, the number right is a sum
    of independent Bernoulli(q_i) (Poisson-binomial), whose variance is at most n v (1 - v) at their mean v.
    The bound is used rather than sum q_i (1 - q_i) because isotonic maps set q_i to exactly 0 or 1 on the
    extremes, where the true chance is not quite that, and the exact sum then claims a band too narrow (86 %
    coverage for 95 % in tests). The calibration's error in the large (the mean of right - q_i over the
    holdout, its standard error) is added in quadrature: it does not shrink with the batch. Closed form, so
    a cycle costs one pass; a bootstrap would add resampling noise to the same quantity.

    >>> rng = np.random.default_rng(0)
    >>> p1 = rng.uniform(0, 1, 2000)
    >>> y = (rng.uniform(0, 1, 2000) < p1).astype(int)
    >>> est = AccuracyEstimator.fit(np.column_stack([1 - p1, p1]), y)
    >>> e = est.estimate(np.column_stack([1 - p1[:200], p1[:200]]))
    >>> e.low < e.value < e.high, e.n, round(e.value, 2)
    (True, 200, 0.76)
    >>> t = est.thresholds(200)
    >>> t.estimated < e.value and t.realised < e.value
    True
    >>> AccuracyEstimator.from_dict(est.to_dict()).estimate(np.column_stack([1 - p1[:200], p1[:200]])) == e
    True
    """

    n_classes: int
    method: str = "uncalibrated"
    reason: str = ""
    maps: list[dict] = field(default_factory=list)  # one per class: {"a", "b"} (Platt) or {"x", "y"} (isotonic)
    served_right: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the holdout's calibrated q_i, in order
    correct: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # whether each was right
    scores: dict[str, float] = field(default_factory=dict)  # the cross-validated Brier score of each method tried
    seed: int = 0
    _thresholds: dict[int, Thresholds] = field(default_factory=dict, repr=False, compare=False)

    # fitting -----------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, probabilities: np.ndarray, labels: np.ndarray, classes: tuple | list | None = None, seed: int = 0) -> AccuracyEstimator:
        """Fit on a holdout: every class's probability per row (or class 1's alone with two classes) and the
        true labels (class indices, or values of `classes` given in the columns' order)."""
        proba = _probabilities(probabilities)
        y = _labels(labels, proba.shape[0], proba.shape[1], classes)
        if proba.shape[0] > MAX_FIT_ROWS:  # a million-row holdout calibrates no better than 20,000 rows, at 50 times the cost
            kept = np.sort(np.random.default_rng(seed).choice(proba.shape[0], MAX_FIT_ROWS, replace=False))
            proba, y = proba[kept], y[kept]
        k, n = proba.shape[1], proba.shape[0]
        counts = np.bincount(y, minlength=k)
        est = cls(k, seed=seed)
        if n < MIN_CALIBRATION_ROWS:
            est.reason = f"uncalibrated: the holdout has {n:,} rows, calibration needs at least {MIN_CALIBRATION_ROWS}"
        elif np.count_nonzero(counts) < 2:
            est.reason = "uncalibrated: the holdout holds one class, so nothing says how often the model is wrong"
        elif counts.min() < 2 * FOLDS:
            est.reason = (
                f"uncalibrated: class {int(counts.argmin())} has {int(counts.min())} holdout rows, calibration needs {2 * FOLDS} of each"
            )
        else:
            est._choose(proba, y)
        served = predicted_class(proba)
        est.served_right = _served_right(est.method, est.maps, proba)
        est.correct = served == y
        if n > MAX_REFERENCE_ROWS:
            kept = np.sort(np.random.default_rng(seed).choice(n, MAX_REFERENCE_ROWS, replace=False))
            est.served_right, est.correct = est.served_right[kept], est.correct[kept]
        return est

    def _choose(self, proba: np.ndarray, y: np.ndarray) -> None:
        """A calibration is taken only when the mean top probability is off the holdout's accuracy by more than
        twice its standard error; then the one with the lowest out-of-fold Brier score among those that beat none
        by more than twice the paired standard error (with more than two classes, among all when none does). The estimate is a mean, so a model right in the
        large needs no map: a map that sharpens it (a credible Brier gain) also stretches its probabilities,
        and stretching extrapolates on batches beyond the holdout's range. Measured on Weather with a C = 0.001
        model over 20 stretches (`benchmarks/bench_estimate.py`): 0.075 mean absolute error with the map where
        the Brier score asked for one, 0.052 without it."""
        folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=self.seed).split(proba, y))
        served = predicted_class(proba)
        right = served == y
        losses = {}
        for method in METHODS:
            out = np.empty(proba.shape[0])
            for train, test in folds:
                maps = [] if method == "uncalibrated" else _fit_maps(method, proba[train], y[train])
                out[test] = _served_right(method, maps, proba[test])
            losses[method] = (out - right) ** 2
        self.scores = {m: float(losses[m].mean()) for m in METHODS}
        gains = {m: losses["uncalibrated"] - losses[m] for m in METHODS[1:]}
        credible = [m for m, g in gains.items() if g.mean() > EVIDENCE * g.std(ddof=1) / math.sqrt(g.shape[0])]
        top = proba[np.arange(proba.shape[0]), served]
        off = right - top  # the uncalibrated estimate's error on the holdout, row by row
        biased = abs(off.mean()) > EVIDENCE * off.std(ddof=1) / math.sqrt(off.shape[0])
        # Two classes: logistic regression's score equations hold the mean probability to the training rate, so a bias on
        # the holdout is mostly the holdout's noise, and a map must also credibly lower the Brier score. More classes: a
        # regularised multinomial's top probability is flattened for certain (0.49 read where 0.70 came), bias enough.
        allowed = credible if self.n_classes == 2 else credible or list(METHODS[1:])
        best = min(allowed, key=lambda m: self.scores[m]) if biased and allowed else "uncalibrated"
        self.method = best
        self.maps = [] if best == "uncalibrated" else _fit_maps(best, proba, y)
        shown = ", ".join(f"{m} {self.scores[m]:.4f}" for m in METHODS)
        if biased and best != "uncalibrated":
            self.reason = (f"{best}: the top probability is off the holdout's accuracy by {off.mean():+.3f}; lowest cross-validated "
                           f"Brier score of the served class being right ({shown})")  # fmt: skip
        elif biased:
            self.reason = (f"uncalibrated: the top probability is off the holdout's accuracy by {off.mean():+.3f}, but no map lowers "
                           f"the cross-validated Brier score by {EVIDENCE:g} standard errors, and with two classes such an offset "
                           f"is the holdout's noise more often than the model's ({shown})")  # fmt: skip
        else:
            self.reason = (f"uncalibrated: the mean top probability is within {EVIDENCE:g} standard errors of the holdout's accuracy "
                           f"({top.mean():.3f} vs {right.mean():.3f}), so a map would only stretch it ({shown})")  # fmt: skip

    # using it ----------------------------------------------------------------------------------------
    def estimate(self, probabilities: np.ndarray) -> Estimate:
        """The batch's estimated accuracy: the mean calibrated probability of the served class, with its band."""
        proba = _probabilities(probabilities, self.n_classes)
        n = proba.shape[0]
        q = _served_right(self.method, self.maps, proba)
        value = float(q.mean())
        half = Z95 * math.sqrt(value * (1 - value) / n + self._calibration_variance())
        return Estimate(value, max(0.0, value - half), min(1.0, value + half), n, self.method)

    def _calibration_variance(self) -> float:
        """The squared standard error of the holdout's mean of (right - q_i): what the calibration may be off by."""
        m = self.correct.shape[0]
        return float(np.var(self.correct - self.served_right, ddof=1)) / m if m > 1 else 0.0

    def thresholds(self, n: int, level: float | None = None) -> Thresholds:
        """Drop thresholds for a batch of `n` rows, from the holdout's own chunk-to-chunk variation: chunks of
        `n` rows resampled from it (500, seeded) and, where it holds at least six, its contiguous chunks in
        order (they carry any drift inside the holdout); the larger spread of the two counts. Realised and
        estimated accuracy per chunk; threshold = mean - 3 standard deviations of the realised accuracy
        (NannyML's way: a drop matters when it is beyond what the labels themselves vary by), clipped to
        [0, 1]. `level`: the estimate on the model's reference in force, when it moved off the holdout."""
        n = int(n)
        if n < 1:
            raise UserInputError("n", f"a threshold needs a batch of at least 1 row, got {n}")
        if n not in self._thresholds:
            self._thresholds[n] = self._chunk_thresholds(n)
        t = self._thresholds[n]
        if level is None:
            return t
        return Thresholds(n, t.realised, float(np.clip(level - t.spread, 0.0, 1.0)), t.spread)

    def _chunk_thresholds(self, n: int) -> Thresholds:
        q, right = self.served_right, self.correct.astype(np.float64)
        if q.shape[0] == 0:
            return Thresholds(n, 0.0, 0.0, 1.0)
        rows = np.random.default_rng(self.seed).integers(0, q.shape[0], (RESAMPLED_CHUNKS, n))
        realised = right[rows].mean(axis=1)
        sd = float(realised.std(ddof=1))
        chunks = q.shape[0] // n
        if chunks >= MIN_CHUNKS:
            sd = max(sd, float(right[: chunks * n].reshape(chunks, n).mean(axis=1).std(ddof=1)))
        # At least a binomial chunk's spread at the holdout's accuracy with half a count of prior: a perfect holdout
        # resamples to a spread of 0, which put the threshold at the estimate itself and called a drop every cycle.
        p = (right.sum() + 0.5) / (right.shape[0] + 1)
        sd = max(sd, math.sqrt(p * (1 - p) / n))
        spread = SPREAD * sd
        return Thresholds(n, float(np.clip(right.mean() - spread, 0.0, 1.0)), float(np.clip(q.mean() - spread, 0.0, 1.0)), spread)

    # storing it --------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready: the calibration maps and the holdout's per-row figures the thresholds are drawn from."""
        return {
            "n_classes": self.n_classes, "method": self.method, "reason": self.reason, "maps": self.maps, "seed": self.seed,
            "scores": self.scores, "served_right": [float(v) for v in self.served_right],
            "correct": "".join("1" if c else "0" for c in self.correct),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict) -> AccuracyEstimator:
        method = raw["method"]
        if method not in METHODS:
            raise UserInputError("method", f"expected one of {', '.join(METHODS)}, got {str(method)[:40]}")
        maps = [{k: (float(v) if k in ("a", "b") else [float(x) for x in v]) for k, v in m.items()} for m in raw["maps"]]
        return cls(
            int(raw["n_classes"]), method, str(raw["reason"]), maps,
            np.asarray(raw["served_right"], dtype=np.float64), np.frombuffer(raw["correct"].encode(), dtype=np.uint8) == ord("1"),
            {str(k): float(v) for k, v in raw.get("scores", {}).items()}, int(raw.get("seed", 0)),
        )  # fmt: skip


def _fit_maps(method: str, proba: np.ndarray, y: np.ndarray) -> list[dict]:
    """One map per class (Platt or isotonic, one-vs-rest), then an isotonic map of the served class's
    renormalised probability against whether it was right: renormalising calibrated classes leaves the
    served class's mean off its accuracy (by 0.05 on a flattened three-class model), and the last map puts
    it back. `confidence` is that last map alone, on the model's own top probability."""
    served = predicted_class(proba)
    right = (served == y).astype(np.float64)
    per_class = [] if method == "confidence" else _class_maps(method, proba, y)
    return [*per_class, _isotonic(_served_right(method, [*per_class, _IDENTITY], proba), right)]


_IDENTITY = {"x": [0.0, 1.0], "y": [0.0, 1.0]}


def _class_maps(method: str, proba: np.ndarray, y: np.ndarray) -> list[dict]:
    maps = []
    for c in range(proba.shape[1]):
        target = (y == c).astype(np.float64)
        if method == "platt":
            logit = _logit(proba[:, c]).reshape(-1, 1)
            if target.min() == target.max():
                maps.append({"a": 0.0, "b": float(_logit(np.array([target[0] * (1 - 2 * _EPS) + _EPS]))[0])})
                continue
            a, b = _platt(logit[:, 0], target)
            maps.append({"a": a, "b": b})
        else:
            maps.append(_isotonic(proba[:, c], target))
    return maps


def _isotonic(x: np.ndarray, target: np.ndarray) -> dict:
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, target)
    return {"x": [float(v) for v in iso.X_thresholds_], "y": [float(v) for v in iso.y_thresholds_]}


def _served_right(method: str, maps: list[dict], proba: np.ndarray) -> np.ndarray:
    """The calibrated probability that each row's served class is right."""
    rows, served = np.arange(proba.shape[0]), predicted_class(proba)
    if method == "uncalibrated":
        return proba[rows, served]
    top = proba[rows, served] if method == "confidence" else _apply(method, maps[:-1], proba)[rows, served]
    return np.interp(top, maps[-1]["x"], maps[-1]["y"])


def _platt(x: np.ndarray, target: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Platt's sigmoid P = 1 / (1 + exp(-(a x + b))) by Newton's method on the log loss, with Platt's smoothed
    targets (they keep a separable class from pushing a and b to infinity)."""
    positives = float(target.sum())
    negatives = target.shape[0] - positives
    t = np.where(target > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = expit(a * x + b)
        w = np.maximum(p * (1 - p), 1e-12)
        g = np.array([np.sum((p - t) * x), np.sum(p - t)])
        h = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def _apply(method: str, maps: list[dict], proba: np.ndarray) -> np.ndarray:
    if method == "platt":
        out = np.column_stack([expit(m["a"] * _logit(proba[:, c]) + m["b"]) for c, m in enumerate(maps)])
    else:
        out = np.column_stack([np.interp(proba[:, c], m["x"], m["y"]) for c, m in enumerate(maps)])
    total = out.sum(axis=1, keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), proba)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _probabilities(probabilities: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    proba = np.asarray(probabilities, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise UserInputError(
            "probabilities", f"expected one row per example and one column per class (at least 2), got shape {proba.shape}"
        )
    if proba.shape[0] == 0:
        raise UserInputError("probabilities", "expected at least 1 row, got none")
    if n_classes is not None and proba.shape[1] != n_classes:
        raise UserInputError(
            "probabilities", f"expected {n_classes} columns (the classes the estimator was fitted on), got {proba.shape[1]}"
        )
    if not np.isfinite(proba).all():
        raise UserInputError("probabilities", f"{int(np.count_nonzero(~np.isfinite(proba)))} values are NaN or infinite")
    if proba.min() < 0 or proba.max() > 1:
        raise UserInputError("probabilities", f"values must lie in [0, 1], got {proba.min():g} to {proba.max():g}")
    return proba


def _labels(labels: np.ndarray, n: int, k: int, classes: tuple | list | None) -> np.ndarray:
    raw = np.asarray(labels)
    if raw.ndim != 1 or raw.shape[0] != n:
        raise UserInputError("labels", f"expected one label per row of probabilities ({n:,}), got shape {raw.shape}")
    if classes is not None:
        if len(classes) != k:
            raise UserInputError("classes", f"expected {k} classes (one per column of probabilities), got {len(classes)}")
        index = {c: i for i, c in enumerate(classes)}
        unknown = [v for v in raw.tolist() if v not in index]
        if unknown:
            raise UserInputError("labels", f"{len(unknown):,} labels are not among the classes, e.g. {str(unknown[0])[:40]}")
        return np.array([index[v] for v in raw.tolist()], dtype=np.int64)
    if raw.dtype.kind == "f" and not np.isfinite(raw).all():
        raise UserInputError("labels", f"{int(np.count_nonzero(~np.isfinite(raw)))} labels are NaN or infinite")
    if raw.dtype.kind not in "iufb" or (raw.dtype.kind == "f" and not np.all(raw == np.round(raw))):
        raise UserInputError("labels", "expected class indices (whole numbers) or `classes` naming them")
    y = raw.astype(np.int64)
    if y.min() < 0 or y.max() >= k:
        raise UserInputError("labels", f"class indices must lie in 0..{k - 1}, got {y.min()} to {y.max()}")
    return y
