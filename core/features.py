"""The feature contract: column names and the checks every feature matrix passes.

Serving, CSV import and storage all speak of `feature_1 .. feature_n`; defining the
names and the validation once keeps the three from disagreeing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import UserInputError

TARGET = "target"


def feature_names(n_features: int) -> list[str]:
    return [f"feature_{i}" for i in range(1, n_features + 1)]


def as_feature_matrix(rows: object, n_features: int, max_rows: int, field: str = "features") -> np.ndarray:
    """Turn one row or a batch into a finite float64 (n, n_features) matrix, or say what is wrong."""
    matrix = _to_float_matrix(rows, n_features, field)
    if matrix.shape[0] == 0:
        raise UserInputError(field, "the batch is empty: send at least one row")
    if matrix.shape[0] > max_rows:
        raise UserInputError(field, f"{matrix.shape[0]:,} rows is more than the limit of {max_rows:,} per request")
    if matrix.shape[1] != n_features:
        raise UserInputError(
            field, f"expected {n_features} features per row ({', '.join(feature_names(n_features))}), got {matrix.shape[1]}"
        )
    # One reduction is much cheaper than a boolean mask; NaN and inf propagate into the sum.
    if not np.isfinite(np.add.reduce(matrix, axis=None)):
        finite = np.isfinite(matrix)
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            raise UserInputError(
                field, f"row {row + 1}, {feature_names(n_features)[col]} is {matrix[row, col]}: values must be finite numbers"
            )
    return matrix


def _to_float_matrix(rows: object, n_features: int, field: str) -> np.ndarray:
    if isinstance(rows, np.ndarray) and rows.dtype.kind in "fiu":
        matrix = rows.astype(np.float64, copy=False)
    else:
        if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence | np.ndarray):
            raise UserInputError(field, f"expected a list of {n_features} numbers or a list of such rows")
        _reject_non_numbers(rows, field)
        try:
            matrix = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError):
            raise UserInputError(field, f"every row must hold exactly {n_features} numbers") from None
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1) if matrix.size else matrix.reshape(0, n_features)
    if matrix.ndim != 2:
        raise UserInputError(field, f"expected rows of {n_features} numbers, got an array of {matrix.ndim} dimensions")
    return matrix


def _reject_non_numbers(rows: Sequence, field: str) -> None:
    """np.asarray would turn '1.5' or True into numbers; a prediction API should not."""
    flat = rows if not rows or not isinstance(rows[0], Sequence | np.ndarray) else [v for r in rows for v in r]
    for value in flat:
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise UserInputError(field, f"{value!r} is not a number")
