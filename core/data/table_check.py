"""A user's table against a schema: infer one from a first file, then check every later table by it.

The inference rule (docs/own-data.md states it): numbers are numeric, except whole numbers with at most
`LOW_CARDINALITY` distinct values; text and booleans are categorical; a text column whose every value
differs is an identifier and ignored. The user reviews and overrides it. A table is then turned into
what training, drift and serving take: the features by the user's names (floats, NaN where missing;
text, None where missing) and the class index of each label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.domain.schema import MAX_CATEGORIES, MAX_CLASSES, ClassLabel, Column, Kind, Schema
from core.domain.validation import (
    INTEGER_TEXT,
    boolean_word,
    category,
    feature_matrix,
    known_spelling,
    named,
    plural,
    shown,
    summarise,
)
from core.errors import MAX_REFUSALS, Refusals, UserInputError

LOW_CARDINALITY = 10
_INTEGER = re.compile(INTEGER_TEXT, re.ASCII)
SHOWN_ROWS = 3


@dataclass(frozen=True)
class Encoded:
    """A table as the model takes it: the features by name and the labels as class indices (or None)."""

    X: pd.DataFrame
    y: np.ndarray | None
    unseen: dict[str, int]  # per categorical column, values never seen in the first data
    times: np.ndarray | None = None  # the time column's values (datetime64), where it holds dates and times

    @property
    def n_rows(self) -> int:
        return len(self.X)


def infer_schema(
    frame: pd.DataFrame,
    target: str,
    kinds: dict[str, Kind] | None = None,
    time_column: str | None = None,
    id_column: str | None = None,
) -> Schema:
    """The schema a first file suggests, with the user's overrides applied, or a refusal naming the column."""
    kinds = dict(kinds or {})
    names = [str(c) for c in frame.columns]
    for role, name in (("target", target), ("time_column", time_column), ("id_column", id_column), *(("columns", k) for k in kinds)):
        if name is not None and name not in names:
            raise UserInputError(role, f"no column named {name!r} in the file (its columns: {summarise([repr(n) for n in names], 12)})")
    if len(frame) == 0:
        raise UserInputError("file", "the file has a header but no rows: add at least one row")
    for role, name in (("time_column", time_column), ("id_column", id_column)):  # tour 20: the target as the id was taken
        if name is not None and name == target:
            raise UserInputError(role, f"{name!r} is the target: the column to predict cannot also be {role.replace('_', ' ')}")
    if time_column is not None and time_column == id_column:
        raise UserInputError("id_column", f"{id_column!r} is the time column: one column has one role")
    roles = {time_column: "the time column", id_column: "the identifier column"}
    for name in (time_column, id_column):
        if name is not None:
            kinds[name] = "ignored"
    columns = tuple(_infer_column(frame[name], name, kinds.get(name), roles.get(name)) for name in names if name != target)
    classes = infer_classes(frame[target], target)
    return Schema(columns, target, classes, time_column, id_column)


ONE_VALUE = "one value only"  # a column's note when every value present is the same


def _infer_column(values: pd.Series, name: str, kind: Kind | None, role: str | None = None) -> Column:
    present = values.dropna()
    missing = len(present) < len(values)
    if kind == "ignored":  # not an input of the model; a time or identifier column says what it is used for instead
        return Column(name, "ignored", missing, note=f"{role}: not an input" if role else "ignored by choice")
    if len(present) == 0:
        raise UserInputError(name, "every value is missing: fill the column or ignore it")
    numeric_dtype = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric_dtype and not pd.api.types.is_bool_dtype(values):
        _refuse_mixed(present, name, kind)
    distinct = present.nunique() if numeric_dtype else category_text(present).nunique()
    if kind is None:
        kind, note = _suggested_kind(present, numeric_dtype, distinct)
        if kind == "ignored":
            return Column(name, "ignored", missing, note=note)
    else:
        note = "set by choice"
    if distinct == 1:  # kept: a stuck sensor that comes loose is drift worth seeing; said, since it teaches nothing now
        note = f"{note}; {ONE_VALUE} ({shown(present.iloc[0])}): nothing to learn from until it varies"
    if kind == "numeric":
        if not numeric_dtype:
            example = present.iloc[0]
            raise UserInputError(name, f"cannot be numeric: it holds text such as {shown(example)}")
        return Column(name, "numeric", missing, note=note)
    if distinct > MAX_CATEGORIES:
        raise UserInputError(
            name, f"{distinct:,} distinct values is more than the {MAX_CATEGORIES:,} categories a column may have: ignore it "
            "(an identifier or free text) or, if it holds numbers, make it numeric",
        )  # fmt: skip
    categories = tuple(category_text(present).value_counts(sort=True).index)
    return Column(name, "categorical", missing, categories, note)


def _suggested_kind(present: pd.Series, numeric_dtype: bool, distinct: int) -> tuple[Kind, str]:
    if numeric_dtype:
        whole = bool(np.all(np.mod(present.to_numpy(dtype=np.float64), 1) == 0))
        if whole and distinct <= LOW_CARDINALITY:
            return "categorical", f"whole numbers with {distinct} distinct values"
        return "numeric", "numbers"
    if pd.api.types.is_bool_dtype(present) or (distinct <= 10 and all(boolean_word(str(v)) for v in present.unique())):
        return "categorical", "true or false"  # a CSV's True/False with a gap in it is text to pandas
    if pd.api.types.is_datetime64_any_dtype(present):
        return "ignored", "a date or time: choose it as the time column"
    if distinct == len(present) and distinct > LOW_CARDINALITY and distinct > MAX_CATEGORIES // 10:
        if _all_times(present):  # "9 May 2024" is text to pandas: said what it is, and offered as the time column (tour 17)
            return "ignored", "a date or time: choose it as the time column"
        return "ignored", f"an identifier or free text: all {distinct:,} values differ"
    return "categorical", "text"


def _all_times(present: pd.Series) -> bool:
    """The values read as dates or times by the time column's own rule (`time_order`) and hold a digit (a month's name
    alone is a category): checked on 1,000 of them, since parsing text of any format costs about 40 µs a value, and this
    only names an ignored column (choosing it as the time column checks every value)."""
    values = present.astype(str).sample(min(len(present), 1000), random_state=0)
    return bool(values.str.contains(r"\d").all() and parsed_times(values).notna().all())


def parsed_times(values: pd.Series) -> pd.Series:
    """Text as UTC times in any common format (2024-05-09, 9 May 2024, 2024-05-09T14:30:00Z), NaT where it is not one:
    the one rule for a time column's text (`time_order`) and for calling a column a date (`_all_times`)."""
    return pd.to_datetime(values.astype(str), errors="coerce", format="mixed", utc=True)


def _refuse_mixed(present: pd.Series, name: str, kind: Kind | None) -> None:
    """Text columns whose values are mostly numbers, with some that are not, are a broken file, not categories."""
    as_numbers = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    numbers = int(as_numbers.notna().sum())
    if 0 < numbers < len(present) and (numbers * 2 > len(present) or kind == "numeric"):
        bad = present[as_numbers.isna()]
        rows = ", ".join(f"row {int(i) + 2}: {shown(v)}" for i, v in bad.head(SHOWN_ROWS).items())
        raise UserInputError(name, f"mixes numbers and text ({len(bad):,} of {len(present):,} values are not numbers; {rows})")


def infer_classes(values: pd.Series, target: str) -> tuple[ClassLabel, ...]:
    """The target's classes as written: whole numbers as ints, anything else as text, sorted."""
    missing = int(values.isna().sum())
    if missing:
        first = int(np.flatnonzero(values.isna().to_numpy())[0]) + 2
        rows = "1 row has" if missing == 1 else f"{missing:,} rows have"
        raise UserInputError(target, f"{rows} no label (the first is row {first}): every row needs one")
    labels = list(dict.fromkeys(as_written(v) for v in pd.unique(values)))  # 1 and 1.0 are one class
    if len(labels) > MAX_CLASSES:
        raise UserInputError(target, f"{len(labels):,} distinct labels is more than the {MAX_CLASSES} classes a model may have")
    if len(labels) < 2:
        raise UserInputError(target, f"one class only ({shown(labels[0]) if labels else 'none'}): a model needs at least two")
    if all(isinstance(v, int) for v in labels):
        return tuple(sorted(labels))
    return tuple(sorted(str(v) for v in labels))


def as_written(value: object) -> ClassLabel:
    """A class as written, by the one rule of `validation.category`: whole numbers as ints (3, not 3.0 or "3.0"),
    booleans as true/false, anything else as its canonical text."""
    text = category(value)
    if text is not None and _INTEGER.fullmatch(text):
        return int(text)
    return str(value) if text is None else text


def class_lookup(schema: Schema) -> dict[str, int]:
    """Each class's index by its canonical text: a label written 1, 1.0 or "1.0" finds the class 1, and a class
    stored in another spelling ("1.0") is found by its canonical text too; a class spelling true or false in one
    case ("True" from a CSV) is found by the word too, so a JSON true or a file's TRUE finds it."""
    lookup = {category(c) or str(c): i for i, c in enumerate(schema.classes)}
    for word, spelled in schema.spellings(schema.target).items():
        lookup.setdefault(word, lookup[category(spelled) or spelled])
    return lookup


def class_index(value: object, lookup: dict[str, int]) -> int | None:
    """A label's class index, or None for a value that is not one of the classes (or not a single value)."""
    if value is None or isinstance(value, list | dict | tuple):
        return None
    text = category(value)
    if text is None:
        return None
    found = lookup.get(text)
    return lookup.get(boolean_word(text) or "") if found is None else found


def category_text(values: pd.Series) -> pd.Series:
    """Categories as their canonical text (`validation.category`: 3 not 3.0, true not True), NaN where missing;
    vectorised over the distinct values, so a million rows cost a factorisation, not a million conversions."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([category(u) for u in uniques] + [np.nan], dtype=object)
    texts[pd.isna(texts)] = np.nan
    return pd.Series(texts[codes], index=values.index, dtype=object)


def as_known(text: pd.Series, spellings: dict[str, str]) -> pd.Series:
    """Canonical categories spelled as the column's known ones where only the case of a true or false differs
    (`validation.known_spelling`), worked out per distinct value."""
    if not spellings:
        return text
    changes = {u: known_spelling(u, spellings) for u in text.dropna().unique()}
    changes = {was: now for was, now in changes.items() if was != now}
    return text.replace(changes) if changes else text


def ordered_by_time(frame: pd.DataFrame, column: str) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The rows in the time column's order (`time_order`), and the times themselves in that order."""
    order, times = time_order(frame[column], column)
    return frame.iloc[order].reset_index(drop=True), times


def time_order(values: pd.Series, column: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The positions of a time column's values in time order (stable: rows with the same time keep the file's
    order). Numbers (a year, seconds since the epoch) order as numbers, text as dates and times; a value that is
    neither is refused, naming its row, since sorting it as text would put 10 May before 9 May. Also the times
    themselves in that order (naive UTC datetime64), or None for numbers. One rule for a first file and every
    later import, whether pandas or DuckDB read it."""
    values = values.reset_index(drop=True)
    if values.isna().any():
        first = int(np.flatnonzero(values.isna().to_numpy())[0]) + 2
        raise UserInputError(column, f"the time column has {plural(int(values.isna().sum()), 'missing value')}, first at row {first}: "
                             "every row needs a time to be replayed in order")  # fmt: skip
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_datetime64_any_dtype(values):
        numbers = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
        if numbers.notna().all():  # a year or epoch seconds read as text (a later CSV's time column): numbers, as pandas read the first
            values = numbers
    if pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values, utc=True)
    elif not pd.api.types.is_numeric_dtype(values):
        parsed = parsed_times(values)
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if len(bad):
            raise UserInputError(column, f"row {int(bad[0]) + 2}: {shown(values.iloc[bad[0]])} is not a date or time "
                                 f"({plural(len(bad), 'such row')}); write times as 2024-05-09 or 2024-05-09T14:30:00")  # fmt: skip
        values = parsed
    order = np.argsort(values.to_numpy(), kind="stable")
    times = None if pd.api.types.is_numeric_dtype(values) else values.dt.tz_convert(None).to_numpy()[order]
    return order, times


# One wording for each refusal, whether pandas (a row, a first file) or DuckDB (a bulk import) found it.
def not_a_number(column: str, row: int, value: object, count: int) -> str:
    return f"column {column}, row {row}: {shown(value)} is not a number ({plural(count, 'such row')})"


def not_finite(column: str, row: int) -> str:
    return f"column {column}, row {row}: values must be finite numbers"


def missing_not_allowed(column: str, count: int, row: int) -> str:
    return f"column {column}: {plural(count, 'missing value')}, first at row {row}; this column allows none"


def unknown_label(schema: Schema, row: int, value: object, count: int) -> str:
    what = "is missing" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{shown(value)} is not a known class"
    return f"column {schema.target}, row {row}: {what} ({plural(count, 'such row')}); the classes are {', '.join(map(str, schema.classes))}"


def encode(frame: pd.DataFrame, schema: Schema, labelled: bool, field: str = "file") -> Encoded:
    """Check a table by name against the schema and return what the model takes, or refuse naming the columns.

    Columns are matched by name in any order; the target (when `labelled`) must be there; ignored,
    time and id columns may be. Categories never seen in the first data are accepted and counted."""
    names = [str(c) for c in frame.columns]
    check_columns(names, schema, labelled, field)
    problems: list[str] = []
    data: dict[str, object] = {}
    unseen: dict[str, int] = {}
    for column in schema.features:
        values = frame[column.name]
        if column.kind == "numeric":
            data[column.name] = _numbers(values, column, problems)
        else:
            text = as_known(category_text(values), column.spellings)
            data[column.name] = text
            unseen[column.name] = int((~text.isin(column.categories) & text.notna()).sum())
        if not column.missing:
            empty = np.flatnonzero(pd.isna(frame[column.name]).to_numpy())
            if len(empty):
                problems.append(missing_not_allowed(column.name, len(empty), int(empty[0]) + 2))
    y = _labels(frame[schema.target], schema, problems) if labelled else None
    if problems:
        raise UserInputError(field, summarise(problems))
    return Encoded(pd.DataFrame(data, index=range(len(frame))), y, unseen)


def check_columns(names: list[str], schema: Schema, labelled: bool, field: str) -> None:
    """The columns a table must have by name (any order): the features, the target when labelled; ignored,
    time and id columns may be there. Refused with what is missing and what is extra."""
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserInputError(field, f"duplicate column name(s) {', '.join(map(repr, duplicates))}")
    expected = [*schema.names, *([schema.target] if labelled else [])]
    optional = {*schema.carried, schema.time_column, schema.id_column} - {None}
    missing = [n for n in expected if n not in names]
    extra = [n for n in names if n not in expected and n not in optional]
    if missing or extra:
        parts = [f"missing column(s) {named(missing)}"] if missing else []
        parts += [f"unexpected column(s) {named(extra)}"] if extra else []
        raise UserInputError(field, "; ".join(parts) + f"; expected: {', '.join(expected)}")


def _numbers(values: pd.Series, column: Column, problems: list[str]) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        problems.append(f"column {column.name}: expected numbers, got true/false values")
        return np.zeros(len(values))
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(numbers) & values.notna().to_numpy())
    if len(bad):
        problems.append(not_a_number(column.name, int(bad[0]) + 2, values.iloc[bad[0]], len(bad)))
    infinite = np.flatnonzero(np.isinf(numbers))
    if len(infinite):
        problems.append(f"column {column.name}, row {int(infinite[0]) + 2}: values must be finite numbers")
    return numbers


def _labels(values: pd.Series, schema: Schema, problems: list[str]) -> np.ndarray:
    lookup = class_lookup(schema)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    per_unique = np.array([-1 if (i := class_index(u, lookup)) is None else i for u in uniques] + [-1], dtype=np.int64)
    found = per_unique[codes]
    bad = np.flatnonzero(found < 0)
    if len(bad):
        first = values.iloc[bad[0]]
        problems.append(unknown_label(schema, int(bad[0]) + 2, None if pd.isna(first) else first, len(bad)))
        return np.zeros(len(values), dtype=np.int8)
    return found.astype(np.int8)


def model_input(columns: Mapping[str, object], schema: Schema, keys: list[str]) -> np.ndarray | pd.DataFrame:
    """Feature columns read under `keys` (storage or user names, in the schema's order) as the model takes
    them: float rows for the synthetic schema, else the table by the user's names, with floats (NaN where
    missing) and text (NaN where missing: scikit-learn's encoders and the drift tests read it as missing)."""
    if schema.plain:
        if not len(columns[keys[0]]):
            return np.empty((0, len(keys)))
        return np.column_stack([np.asarray(columns[k], dtype=np.float64) for k in keys])
    table = {}
    for column, key in zip(schema.features, keys, strict=True):
        values = columns[key]
        if column.kind == "numeric":
            table[column.name] = np.ma.filled(np.ma.asarray(values, dtype=np.float64), np.nan)
        else:
            text = np.ma.filled(np.ma.asarray(values, dtype=object), np.nan) if isinstance(values, np.ma.MaskedArray) else values
            table[column.name] = pd.Series(text, dtype=object).where(pd.notna(text), np.nan).to_numpy(dtype=object)
    return pd.DataFrame(table, columns=schema.names)


MAX_TEXT = 200


def named_rows(rows: object, schema: Schema, max_rows: int, max_abs: float, field: str = "features") -> pd.DataFrame:
    """`checked_rows` as the model's input table."""
    values = checked_rows(rows, schema, max_rows, max_abs, field)
    table = {c.name: np.asarray(values[c.name], dtype=np.float64 if c.kind == "numeric" else object) for c in schema.features}
    return pd.DataFrame(table, columns=schema.names)


def plain_rows(rows: object, schema: Schema, max_rows: int, max_abs: float, field: str = "features") -> np.ndarray:
    """The synthetic schema's rows as floats, sent as lists of numbers or named as /predict takes them: one reading
    for every door (tour 20: /explain refused the names /predict served)."""
    if isinstance(rows, dict) or (isinstance(rows, list) and rows and isinstance(rows[0], dict)):
        return named_rows(rows, schema, max_rows, max_abs, field).to_numpy(dtype=np.float64)
    return feature_matrix(rows, len(schema.features), max_rows, max_abs, field=field)


def checked_rows(rows: object, schema: Schema, max_rows: int, max_abs: float, field: str = "features") -> dict[str, list]:
    """One row (a mapping of column to value) or a batch (a list of them), checked against the schema, as
    each column's values (floats, NaN where missing; text or NaN). Numbers must be finite numbers within ±max_abs.
    A category is text, a number or true/false, kept as its canonical text (`validation.category`: 3, 3.0 and
    "3.0" are the category "3"). Every column must be sent, as a file must hold every column: a missing value
    is null, accepted where the schema allows missing values; a column left out is refused, so a client that
    forgot one is told, not served an imputed value (and the MLflow signature requires every column too).
    A category never seen in training is accepted: the model scores it as `core.ml.training.build_pipeline` says."""
    batch = [rows] if isinstance(rows, Mapping) else rows
    if isinstance(batch, str | bytes) or not isinstance(batch, list | tuple):
        raise UserInputError(field, f"expected an object of {len(schema.names)} named values, or a list of such objects, got {shown(rows)}")
    if not batch:
        raise UserInputError(field, "the batch is empty: send at least one row")
    if not isinstance(batch[0], Mapping):
        raise UserInputError(
            field, f"expected an object of {len(schema.names)} named values ({', '.join(schema.names[:8])}"
            f"{', …' if len(schema.names) > 8 else ''}), got {shown(rows)}",
        )  # fmt: skip
    if len(batch) > max_rows:
        raise UserInputError(field, f"{len(batch):,} rows is more than the limit of {max_rows:,} per request")
    values: dict[str, list] = {name: [] for name in schema.names}
    names = tuple(schema.names)
    known = frozenset(names)
    refused = Refusals(MAX_REFUSALS)  # every bad row and value, up to the limit: a batch is fixed in one round (tour 20)
    for index, row in enumerate(batch):
        where = f"row {index + 1}: " if len(batch) > 1 else ""
        with refused.collected():
            _check_row(row, names, known, field, where)
            for column in schema.features:
                with refused.collected():
                    values[column.name].append(_value(row.get(column.name), column.name in row, column, max_abs, f"{field}.{column.name}", where))
        if refused.full:
            break
    refused.raise_any("the batch was read no further")
    return values


def _check_row(row: object, names: tuple[str, ...], known: frozenset[str], field: str, where: str) -> None:
    """A row is an object of exactly the schema's columns (one left out is that column's own refusal, in `_value`)."""
    if not isinstance(row, Mapping):
        raise UserInputError(field, f"{where}expected an object of named values, got {shown(row)}")
    unknown = [str(k) for k in row if k not in known]
    absent = [] if not unknown and len(row) == len(names) else [name for name in names if name not in row]
    if unknown:  # every one named, and what is missing beside them: a misspelt column is both
        missing = f"; missing column(s) {named(absent)}" if absent else ""
        raise UserInputError(field, f"{where}unknown column(s) {named(unknown)}{missing}; the columns are {', '.join(names)}")
    if len(absent) > 1:  # one column left out is that column's refusal (`_value`), several are the row's
        raise UserInputError(
            field, f"{where}missing column(s) {named(absent)}: send every column (null for a missing value where one is allowed)"
        )


def _value(value: object, given: bool, column: Column, max_abs: float, field: str, where: str) -> object:
    if not given:
        allowed = "send null for a missing value" if column.missing else "this column allows no missing value"
        raise UserInputError(field, f"{where}is missing: send every column ({allowed})")
    if value is None or (isinstance(value, float) and np.isnan(value) and column.kind == "categorical"):
        if not column.missing:  # NaN named as sent (tour 20: a NaN was refused as "is null")
            sent = "is null" if value is None else "is NaN, a missing value"
            raise UserInputError(field, f"{where}{sent}: this column allows no missing value")
        return np.nan
    if column.kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise UserInputError(field, f"{where}expected a number, got {shown(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer past a 64-bit float (10**400): refused like any number past the limit
            number = float("inf")
        if not np.isfinite(number) or abs(number) > max_abs:
            raise UserInputError(field, f"{where}{shown(value)} must be a finite number within ±{max_abs:g} (IA_FEATURE_MAX_ABS)")
        return number
    if not isinstance(value, str | int | float | np.integer | np.floating | np.bool_):
        raise UserInputError(field, f"{where}expected a category (text, a number or true/false), got {shown(value)}")
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        raise UserInputError(field, f"{where}{shown(value)} is not a category: a number used as one must be finite")
    text = category(value)
    if not text or len(text) > MAX_TEXT:
        raise UserInputError(field, f"{where}expected 1 to {MAX_TEXT} characters, got {shown(value)}")
    return known_spelling(text, column.spellings)
