"""The one validation layer: every value that comes in (forms, CSV files, core calls,
API bodies) is checked here, and every refusal is a `UserInputError` naming the
field and its limit, short enough to read.

Doors (the pages, `Runtime`, the REST API) call these functions; none keeps rules of
its own. Values are checked strictly: a string is not a number and True is not 1,
because a lenient parse is how wrong data gets stored silently.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from core.domain.features import feature_names
from core.errors import UserInputError

MAX_MESSAGE_PROBLEMS = 8
MAX_SHOWN_VALUE = 40
SEED_MAX = 2**32 - 1
# Training squares deviations and sums them over up to a million rows; values beyond
# this make StandardScaler's variance overflow to inf, so the next training fails.
FEATURE_ABS_CEILING = 1e150


def plural(n: int, noun: str) -> str:
    """ "1 model", "2 models": a count a person reads."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def whole_percent(share: float) -> str:
    """A share in whole percent that never rounds a few rows away: 0.4 % is "under 1%", 99.6 % "over 99%"."""
    if 0 < share < 0.01:
        return "under 1%"
    if 0.99 < share < 1:
        return "over 99%"
    return f"{share:.0%}"


def ago_words(ago: int, room: int | None = None) -> str:
    """How many cycles ago, in `room` characters: "3 cycles ago", else "12,345 ago" (a tile's line at 1024 px).

    >>> ago_words(1), ago_words(12_345, 12)
    ('1 cycle ago', '12,345 ago')
    """
    said = f"{plural(ago, 'cycle')} ago"
    return said if room is None or len(said) <= room else f"{ago:,} ago"


def capitalised(text: str) -> str:
    """`text` with its first letter capitalised, the rest as written (`str.capitalize` lowers "KS" and "MLflow").

    >>> capitalised("no new inputs"), capitalised("")
    ('No new inputs', '')
    """
    return text[:1].upper() + text[1:]


def clipped(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, an ellipsis marking a cut: the one rule for every place that shortens.

    >>> clipped("realised-accuracy drop", 10), clipped("drop", 10)
    ('realised-…', 'drop')
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: object) -> str:
    """A value as it appears in a message, cut so one huge value cannot flood it; true, false and null as JSON, where
    they come from, writes them (a JSON true read "got True").

    >>> shown(True), shown(None), shown("True"), shown(np.int64(1))
    ('true', 'null', "'True'", '1')
    """
    value = value.item() if isinstance(value, np.generic) else value  # 1, not numpy 2's np.int64(1)
    text = {True: "true", False: "false"}[value] if isinstance(value, bool) else "null" if value is None else repr(value)
    return clipped(text, MAX_SHOWN_VALUE)


def summarise(problems: Sequence[str], limit: int = MAX_MESSAGE_PROBLEMS) -> str:
    """The first problems, then "and N more": a message stays readable whatever the input."""
    head = "; ".join(problems[:limit])
    return head + (f"; and {len(problems) - limit} more" if len(problems) > limit else "")


MAX_NAMED = 20
MAX_SHOWN_NAME = 130  # a column's name is at most 128 characters (core.domain.schema.MAX_NAME), quoted


def named(names: Sequence[object], limit: int = MAX_NAMED) -> str:
    """Names quoted, every one up to `limit`, then "and N more": a refusal names what it refuses, not only the first."""
    texts = [repr(str(n)) for n in names[:limit]]
    head = ", ".join(clipped(t, MAX_SHOWN_NAME) for t in texts)
    return head + (f" and {len(names) - limit} more" if len(names) > limit else "")


# scalars -------------------------------------------------------------------------------
def not_a_whole_number(value: object, minimum: int, maximum: int) -> str:
    """The one wording of a refused whole number, here and at the API's query and path parameters."""
    return f"expected a whole number from {minimum:,} to {maximum:,}, got {shown(value)}"


def integer(value: object, field: str, minimum: int, maximum: int) -> int:
    """A whole number in [minimum, maximum]; floats with a fraction, strings and bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral | float | np.floating):
        raise UserInputError(field, not_a_whole_number(value, minimum, maximum))
    if isinstance(value, float | np.floating) and (not math.isfinite(value) or value != int(value)):
        raise UserInputError(field, not_a_whole_number(value, minimum, maximum))
    number = int(value)
    if not minimum <= number <= maximum:
        raise UserInputError(field, f"{shown(number)} is out of range: must be from {minimum:,} to {maximum:,}")
    return number


def number(value: object, field: str, minimum: float, maximum: float) -> float:
    """A finite real number in [minimum, maximum]; strings and bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserInputError(field, f"expected a number from {minimum:g} to {maximum:g}, got {shown(value)}")
    try:
        result = float(value)
    except OverflowError:
        raise UserInputError(field, f"{shown(value)} is out of range: must be from {minimum:g} to {maximum:g}") from None
    if not math.isfinite(result) or not minimum <= result <= maximum:
        raise UserInputError(field, f"{shown(value)} is out of range: must be a finite number from {minimum:g} to {maximum:g}")
    return result


def choice(value: object, field: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise UserInputError(field, f"{shown(value)} is not one of {', '.join(choices)}")
    return value


# categories --------------------------------------------------------------------------------
# A number written in text: JSON's grammar, plus "3." and ".5" (which DuckDB's CSV reader reads as numbers too).
# A sign is "-" only and the integer part has no leading zero, so "+3", "007" and "01" stay text: codes whose
# zeros carry meaning. Written for Python's `re` and RE2 (DuckDB's regexp_full_match) alike: one grammar for both.
NUMBER_TEXT = r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
INTEGER_TEXT = r"-?[0-9]+"
EXACT_INTEGERS = 2**53  # below this, every whole float is exact: written as the integer it is
_NUMBER_TEXT, _INTEGER_TEXT = re.compile(NUMBER_TEXT, re.ASCII), re.compile(INTEGER_TEXT, re.ASCII)


def category(value: object) -> str | None:
    """The canonical text of a category, so one value is one category however a door wrote it; None where missing.

    - missing (None, NaN, pandas' NA) is None;
    - true and false (a JSON or Parquet boolean) are "true" and "false";
    - a whole number is written as the integer: 3, 3.0, "3.0", 3e0, "3e0" and "-0" are "3" (or "0"); 1e3 is "1000".
      A float beyond ±2**53 (where whole floats stop being exact) keeps its float form ("1e+20"), as a
      number with a fraction does: the shortest text that reads back as the same float (2.50 is "2.5");
    - text is a number when it is one by NUMBER_TEXT (surrounding spaces aside): "2007.0" is "2007".
      Other text stays as written, case and spaces included ("01", "+3", "True", " a" are themselves).

    The bulk import applies the same rule in SQL (`core.io.table_files.category_sql`); a test holds the two equal.
    """
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return _float_text(float(value))
    text = str(value)
    stripped = text.strip()
    if not _NUMBER_TEXT.fullmatch(stripped):
        return text
    if _INTEGER_TEXT.fullmatch(stripped):
        return str(int(stripped))
    return _float_text(float(stripped))


BLANKS = " \t\n\r"  # what a true or false may be padded with, trimmed alike in Python and in SQL (category_sql)


def boolean_word(text: str) -> str | None:
    """ "true" or "false" for text that spells a boolean in any case ("True" as pandas writes one to a CSV, "TRUE" as R
    and spreadsheets do), else None."""
    folded = text.strip(BLANKS).lower()
    return folded if folded in ("true", "false") else None


def boolean_spellings(known: Iterable[object], pair: bool = True) -> dict[str, str]:
    """Each boolean word to the one known category that spells it, for a column whose first data held booleans: a
    Parquet or JSON true is "true", a CSV's True stays "True" (text keeps its case), and either door must find the
    other's category. A word two known categories spell ("True" and "true" both seen) maps to neither: ambiguous.
    A column that has seen only one of the two words spells the other in the same case (`pair`), so that the unseen
    word is one unseen category in whatever case it comes, not one per case; a target's classes are not paired: a
    word that is not a class is refused as a label, not spelled as one.

    >>> boolean_spellings(["True", "False", "n/a"]), boolean_spellings(["TRUE"]), boolean_spellings(["True", "true"])
    ({'true': 'True', 'false': 'False'}, {'true': 'TRUE', 'false': 'FALSE'}, {})
    >>> boolean_spellings(["True", "pending"], pair=False)
    {'true': 'True'}
    """
    found: dict[str, list[str]] = {}
    for value in known:
        word = boolean_word(str(value))
        if word is not None:
            found.setdefault(word, []).append(str(value))
    spellings = {word: spelled[0] for word, spelled in found.items() if len(spelled) == 1}
    if pair and len(found) == 1 and spellings:
        ((word, spelled),) = spellings.items()
        other = "false" if word == "true" else "true"
        spellings[other] = _same_case(other, spelled.strip(BLANKS))
    return spellings


def _same_case(word: str, like: str) -> str:
    return word.upper() if like.isupper() else word.capitalize() if like[:1].isupper() else word


def known_spelling(text: str, spellings: dict[str, str]) -> str:
    """`text` as the column's known category spells it when it is the same boolean in another case, else unchanged."""
    if not spellings:
        return text
    word = boolean_word(text)
    return spellings.get(word, text) if word is not None else text


def _float_text(number: float) -> str:
    if number.is_integer() and abs(number) < EXACT_INTEGERS:
        return str(int(number))
    return repr(number)


def seed(value: object, field: str = "seed") -> int:
    return integer(value, field, 0, SEED_MAX)


def text(value: object, field: str, max_length: int = 200) -> str:
    """A short single-line text (names of datasets); control characters are refused."""
    if not isinstance(value, str):
        raise UserInputError(field, f"expected text, got {shown(value)}")
    cleaned = value.strip()
    if not cleaned or len(cleaned) > max_length or any(ord(c) < 32 for c in cleaned):
        raise UserInputError(field, f"expected 1 to {max_length} printable characters, got {shown(value)}")
    return cleaned


# feature matrices ------------------------------------------------------------------------
MAX_TAGS = 10


def tags(value: object, field: str = "tags") -> list[str]:
    """Up to MAX_TAGS short labels (letters, digits, spaces, - _ . :), each at most 40 characters; duplicates dropped."""
    if not isinstance(value, list | tuple):
        raise UserInputError(field, f"expected a list of up to {MAX_TAGS} words, got {shown(value)}")
    if len(value) > MAX_TAGS:
        raise UserInputError(field, f"at most {MAX_TAGS} tags, got {len(value)}")
    cleaned = []
    for item in value:
        tag = text(item, field, 40)
        if not all(c.isalnum() or c in " -_.:" for c in tag):
            raise UserInputError(field, f"{tag!r}: use letters, digits, spaces and - _ . : only")
        if tag and tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def feature_matrix(rows: object, n_features: int, max_rows: int, max_abs: float, field: str = "features") -> np.ndarray:
    """One row or a batch as a finite float64 (n, n_features) matrix within ±max_abs, or a clear refusal."""
    matrix = _to_float_matrix(rows, n_features, field)
    if matrix.shape[0] == 0:
        raise UserInputError(field, "the batch is empty: send at least one row")
    if matrix.shape[0] > max_rows:
        raise UserInputError(field, f"{matrix.shape[0]:,} rows is more than the limit of {max_rows:,} per request")
    if matrix.shape[1] != n_features:
        raise UserInputError(
            field, f"expected {n_features} features per row ({', '.join(feature_names(n_features))}), got {matrix.shape[1]}"
        )
    # One reduction is much cheaper than a mask; NaN and inf propagate, and a big value shows in the max.
    if not np.abs(matrix).max() <= max_abs:
        row, col = np.argwhere(~(np.abs(matrix) <= max_abs))[0]
        value = matrix[row, col]
        where = f"row {row + 1}, {feature_names(n_features)[col]}"
        if not math.isfinite(value):
            raise UserInputError(field, f"{where} is {value}: values must be finite numbers")
        raise UserInputError(field, f"{where} is {value:g}: beyond the limit of ±{max_abs:g} (IA_FEATURE_MAX_ABS)")
    return matrix


def _to_float_matrix(rows: object, n_features: int, field: str) -> np.ndarray:
    if isinstance(rows, np.ndarray):
        if rows.dtype.kind not in "fiu":
            raise UserInputError(field, f"expected numbers, got an array of {_dtype_name(rows.dtype)}")
        matrix = rows.astype(np.float64, copy=False)
    else:
        if isinstance(rows, str | bytes) or not isinstance(rows, Sequence):
            raise UserInputError(field, f"expected a list of {n_features} numbers or a list of such rows, got {shown(rows)}")
        flat = _flatten(rows, n_features, field)
        try:
            matrix = np.array(flat, dtype=np.float64)
        except OverflowError:
            big = next(v for v in flat if isinstance(v, numbers.Integral) and abs(v) > 1e308)
            raise UserInputError(field, f"{shown(big)} is beyond the limit of a 64-bit float") from None
        if rows and _is_row(rows[0]):
            matrix = matrix.reshape(len(rows), -1) if len(rows) else matrix
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1) if matrix.size else matrix.reshape(0, n_features)
    if matrix.ndim != 2:
        raise UserInputError(field, f"expected rows of {n_features} numbers, got an array of {matrix.ndim} dimensions")
    return matrix


def _is_row(value: object) -> bool:
    return isinstance(value, Sequence | np.ndarray) and not isinstance(value, str | bytes)


def _flatten(rows: Sequence, n_features: int, field: str) -> list:
    """Check every value is a real number (not a bool, a string or None) and every row the same length."""
    nested = bool(rows) and _is_row(rows[0])
    values: list = []
    for index, row in enumerate(rows if nested else [rows]):
        if not _is_row(row):
            raise UserInputError(field, f"row {index + 1}: expected a list of {n_features} numbers, got {shown(row)}")
        if isinstance(row, np.ndarray) and row.dtype.kind not in "fiu":
            raise UserInputError(field, f"row {index + 1}: expected numbers, got an array of {_dtype_name(row.dtype)}")
        if nested and len(row) != n_features:
            raise UserInputError(field, f"row {index + 1} holds {len(row)} values: every row must hold exactly {n_features} numbers")
        for value in row:
            if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
                where = f"row {index + 1}: " if nested else ""
                raise UserInputError(field, f"{where}{shown(value)} is not a number")
        values.extend(row)
    return values


def _dtype_name(dtype: np.dtype) -> str:
    return {"b": "booleans", "U": "strings", "S": "bytes", "O": "Python objects", "c": "complex numbers"}.get(dtype.kind, str(dtype))
