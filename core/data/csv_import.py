"""Validate a CSV of samples before anything is stored: the CSV door of the validation layer.

Every problem is reported with its column, its row (as a spreadsheet shows it: the
header is row 1) and the limit it breaks, so a user can fix the file in one pass;
the message lists the first problems and counts the rest. What a spreadsheet
export commonly varies is accepted: a UTF-8 or UTF-16 byte-order mark, `;`, tab or
`|` as the delimiter (with `;` or tab, a decimal comma), quoted values, spaces around
names and values, header names in any case and order. What would be stored wrong
is refused: rows with more or fewer fields than the header, duplicate columns,
text, empty, infinite or too-large values.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import UserInputError
from core.domain.features import TARGET, feature_names
from core.domain.validation import named, shown, summarise

MAX_PROBLEMS_PER_COLUMN = 3
DELIMITERS = (",", ";", "\t", "|")
_BAD_LINE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


class CsvImportError(UserInputError):
    """The file cannot become a dataset; `problems` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("CSV", summarise(problems))
        self.problems = problems


@dataclass(frozen=True)
class ParsedCsv:
    X: np.ndarray
    y: np.ndarray | None


def parse_labelled_csv(data: bytes | str, n_features: int, max_rows: int, max_abs: float) -> ParsedCsv:
    """Return the features and 0/1 targets of a CSV, or raise CsvImportError listing the problems."""
    return _parse(data, n_features, max_rows, max_abs, labelled=True)


def parse_feature_csv(data: bytes | str, n_features: int, max_rows: int, max_abs: float) -> np.ndarray:
    """Features for batch prediction; a `target` column, if present, is ignored."""
    return _parse(data, n_features, max_rows, max_abs, labelled=False).X


def _parse(data: bytes | str, n_features: int, max_rows: int, max_abs: float, labelled: bool) -> ParsedCsv:
    features = feature_names(n_features)
    expected = [*features, TARGET] if labelled else features
    text = _decode(data)
    delimiter = _delimiter(text)
    frame = _read(text, delimiter, max_rows)
    columns = _columns(frame, expected, optional=() if labelled else (TARGET,))
    _check_field_counts(text, delimiter, frame.shape[1], max_rows)
    body = frame.iloc[1:]
    if len(body) == 0:
        raise CsvImportError(["the file has a header but no rows: add at least one sample"])
    if len(body) > max_rows:
        raise CsvImportError([f"more than {max_rows:,} rows: the limit per file is {max_rows:,} (IA_MAX_SAMPLES_PER_REQUEST)"])
    problems: list[str] = []
    numeric = {name: _numeric(body[columns[name]], name, delimiter != ",", max_abs, problems) for name in expected}
    target = numeric.get(TARGET)
    if target is not None:
        bad = np.flatnonzero(np.isfinite(target) & ~np.isin(target, (0.0, 1.0)))
        problems += [
            f"column {TARGET}, row {i + 2}: {shown(body[columns[TARGET]].iloc[i])} must be 0 or 1" for i in bad[:MAX_PROBLEMS_PER_COLUMN]
        ]
        if len(bad) > MAX_PROBLEMS_PER_COLUMN:
            problems.append(f"column {TARGET}: {len(bad) - MAX_PROBLEMS_PER_COLUMN} more rows that are not 0 or 1")
    if problems:
        raise CsvImportError(problems)
    X = np.column_stack([numeric[c] for c in features])
    return ParsedCsv(X, None if target is None else target.astype(np.int8))


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        text = data
    else:
        for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
            if data.startswith(bom):
                data, chosen = data[len(bom) :], encoding
                break
        else:
            chosen = "utf-8"
        try:
            text = data.decode(chosen)
        except UnicodeDecodeError as exc:
            raise CsvImportError(
                [f"not {chosen.upper()} text (byte {exc.start + 1} is {data[exc.start : exc.start + 1]!r}): save the file as CSV UTF-8"]
            ) from None
    if "\x00" in text:
        raise CsvImportError(["the file holds NUL bytes: it is a binary file, not a CSV"])
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise CsvImportError(["the file is empty: expected a header line and rows"])
    return text


def _delimiter(text: str) -> str:
    """The delimiter is the candidate the header line uses most (a comma when it uses none)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read(text: str, delimiter: str, max_rows: int) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(text), sep=delimiter, header=None, dtype=str, keep_default_na=False, nrows=max_rows + 2, engine="c")
    except pd.errors.EmptyDataError:
        raise CsvImportError(["the file is empty: expected a header line and rows"]) from None
    except pd.errors.ParserError as exc:
        found = _BAD_LINE.search(str(exc))
        if found:
            fields, line, saw = found.groups()
            raise CsvImportError(
                [f"row {line} has {saw} fields but the header has {fields}: every row needs one value per column"]
            ) from None
        raise CsvImportError([f"not a readable CSV: {shown(str(exc).strip())}"]) from None


def _columns(frame: pd.DataFrame, expected: list[str], optional: tuple[str, ...]) -> dict[str, int]:
    """Map each expected name to its column position; names are trimmed and matched in any case."""
    names = [str(v).strip().strip('"').strip().lower() for v in frame.iloc[0]]
    problems = []
    duplicates = sorted(n for n, k in Counter(names).items() if k > 1 and n)
    if duplicates:  # worded as every other table check words its columns (validation.named)
        problems.append(f"duplicate column(s) {named(duplicates)}")
    missing = [c for c in expected if c not in names]
    extra = [n for n in names if n not in expected and n not in optional]
    if missing:
        problems.append(f"missing column(s) {named(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {named(extra)}")
    if problems:
        problems.append(f"expected exactly: {','.join(expected)}")
        raise CsvImportError(problems)
    return {name: names.index(name) for name in expected}


def _check_field_counts(text: str, delimiter: str, n_fields: int, max_rows: int) -> None:
    """Every row must have as many fields as the header: pandas pads a short row with empty
    values, and a row with one extra field everywhere would shift every column."""
    lines = text.splitlines()[: max_rows + 2]
    counts = [len(r) for r in csv.reader(lines, delimiter=delimiter)] if '"' in text else [line.count(delimiter) + 1 for line in lines]
    bad = [(i, n) for i, n in enumerate(counts) if n != n_fields and lines[i].strip()]
    if bad:
        problems = [f"row {i + 1} has {n} fields but the header has {n_fields}: every row needs one value per column" for i, n in bad[:5]]
        if len(bad) > 5:
            problems.append(f"{len(bad) - 5} more rows with the wrong number of fields")
        raise CsvImportError(problems)


def _numeric(raw: pd.Series, column: str, decimal_comma: bool, max_abs: float, problems: list[str]) -> np.ndarray:
    cleaned = raw.str.strip().str.strip('"').str.strip()
    if decimal_comma:
        cleaned = cleaned.str.replace(",", ".", regex=False)
    values = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64)
    lowered = cleaned.str.lower()
    empty = lowered.isin(("nan", "")).to_numpy()
    checks = (
        (np.isnan(values) & ~empty, "is not a number"),
        (empty, "is empty or NaN"),
        (np.isinf(values), "is infinite"),
        (np.isfinite(values) & (np.abs(values) > max_abs), f"is beyond the limit of ±{max_abs:g} (IA_FEATURE_MAX_ABS)"),
    )
    for mask, what in checks:
        rows = np.flatnonzero(mask)
        problems += [f"column {column}, row {i + 2}: {shown(raw.iloc[i])} {what}" for i in rows[:MAX_PROBLEMS_PER_COLUMN]]
        if len(rows) > MAX_PROBLEMS_PER_COLUMN:
            problems.append(f"column {column}: {len(rows) - MAX_PROBLEMS_PER_COLUMN} more rows where the value {what}")
    return values
