"""Validate a CSV of labelled samples before anything is stored.

Every problem is reported with its column, its row (as a spreadsheet shows it: the
header is line 1) and the limit it breaks, so a user can fix the file in one pass.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import UserInputError
from core.features import TARGET, feature_names

MAX_PROBLEMS_PER_COLUMN = 3


class CsvImportError(UserInputError):
    """The file cannot become a dataset; `problems` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:20]
        more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        super().__init__("CSV", "; ".join(shown) + more)
        self.problems = problems


@dataclass(frozen=True)
class ParsedCsv:
    X: np.ndarray
    y: np.ndarray | None


def parse_labelled_csv(data: bytes | str, n_features: int, max_rows: int) -> ParsedCsv:
    """Return the features and 0/1 targets of a CSV, or raise CsvImportError listing every problem."""
    return _parse(data, n_features, max_rows, labelled=True)


def parse_feature_csv(data: bytes | str, n_features: int, max_rows: int) -> np.ndarray:
    """Features for batch prediction; a `target` column, if present, is ignored."""
    return _parse(data, n_features, max_rows, labelled=False).X


def _parse(data: bytes | str, n_features: int, max_rows: int, labelled: bool) -> ParsedCsv:
    features = feature_names(n_features)
    expected = [*features, TARGET] if labelled else features
    frame = _read(data, max_rows)
    if not labelled and TARGET in frame.columns:
        frame = frame.drop(columns=[TARGET])
    _check_columns(list(frame.columns), expected)
    if len(frame) == 0:
        raise CsvImportError(["the file has a header but no rows: add at least one sample"])
    if len(frame) > max_rows:
        raise CsvImportError([f"more than {max_rows:,} rows: the limit per file is {max_rows:,} (IA_MAX_SAMPLES_PER_REQUEST)"])
    problems: list[str] = []
    numeric = {}
    for column in expected:
        numeric[column] = _numeric_column(frame[column], column, problems)
    target = numeric.get(TARGET)
    if target is not None:
        bad = np.flatnonzero(np.isfinite(target) & ~np.isin(target, (0.0, 1.0)))
        problems += [f"column {TARGET}, row {i + 2}: {frame[TARGET].iloc[i]!r} must be 0 or 1" for i in bad[:MAX_PROBLEMS_PER_COLUMN]]
    if problems:
        raise CsvImportError(problems)
    X = np.column_stack([numeric[c] for c in features])
    return ParsedCsv(X, None if target is None else target.astype(np.int8))


def _read(data: bytes | str, max_rows: int) -> pd.DataFrame:
    buffer = io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data)
    try:
        return pd.read_csv(buffer, dtype=str, keep_default_na=False, nrows=max_rows + 1, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise CsvImportError(["the file is empty: expected a header line and rows"]) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CsvImportError([f"not a readable CSV: {str(exc).strip()}"]) from None


def _check_columns(found: list[str], expected: list[str]) -> None:
    found = [c.strip() for c in found]
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(extra)}")
    if problems:
        problems.append(f"expected exactly: {','.join(expected)}")
        raise CsvImportError(problems)


def _numeric_column(raw: pd.Series, column: str, problems: list[str]) -> np.ndarray:
    values = pd.to_numeric(raw.str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    not_number = np.flatnonzero(np.isnan(values) & ~raw.str.strip().str.lower().isin(("nan", "")))
    missing = np.flatnonzero(raw.str.strip().str.lower().isin(("nan", "")))
    infinite = np.flatnonzero(np.isinf(values))
    for rows, what in ((not_number, "is not a number"), (missing, "is empty or NaN"), (infinite, "is infinite")):
        problems += [f"column {column}, row {i + 2}: {raw.iloc[i]!r} {what}" for i in rows[:MAX_PROBLEMS_PER_COLUMN]]
        if len(rows) > MAX_PROBLEMS_PER_COLUMN:
            problems.append(f"column {column}: {len(rows) - MAX_PROBLEMS_PER_COLUMN} more rows where the value {what}")
    return values
