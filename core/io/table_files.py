"""Read a user's CSV or Parquet file into a DataFrame, with DuckDB's reader, refusing what cannot be a table.

DuckDB's CSV sniffer finds the delimiter, the quoting and each column's type in one pass and reads a
million rows in about a second; pandas' reader takes several times as long on mixed columns. What the
sniffer would quietly repair (a missing header, two columns of one name) is refused here instead,
because a table read wrong trains a model on the wrong columns. Each read has a DuckDB connection of
its own: the module-level one that `duckdb.read_csv` uses is shared by the process, and two requests
reading at once on it fail with "connection is busy".
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pandas as pd

from core.domain.validation import BLANKS, EXACT_INTEGERS, INTEGER_TEXT, NUMBER_TEXT, shown
from core.errors import UserInputError
from core.store.base import quoted

# No BOOLEAN: DuckDB would read yes/no as true/false, and labels are kept as the user wrote them.
TYPES = ["BIGINT", "DOUBLE", "TIMESTAMP", "DATE", "VARCHAR"]
NULL_TEXTS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?"]
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _reader() -> duckdb.DuckDBPyConnection:
    """A connection for one read: a cursor of the process's in-memory database (about 1 ms; a new database costs 50)."""
    return duckdb.default_connection().cursor()


def read_table(source: Path | bytes, filename: str = "", max_rows: int | None = None, text: Sequence[str] = ()) -> pd.DataFrame:
    """The file's rows with typed columns (numbers, booleans, text; None or NaN where a value is missing). A CSV's
    `text` columns are kept as written: an id "007" or a time "2025-01-01T06:30" handed back reformatted no longer
    joins with the file it came from."""
    parquet = filename.lower().endswith(".parquet") or (isinstance(source, Path) and source.suffix.lower() == ".parquet")
    if isinstance(source, bytes):
        with tempfile.NamedTemporaryFile(suffix=".parquet" if parquet else ".csv") as handle:
            handle.write(source)
            handle.flush()
            return read_table(Path(handle.name), filename or handle.name, max_rows, text)
    if not source.is_file():
        raise UserInputError("file", f"{source} is not a file")
    if parquet:
        return _read_parquet(source, max_rows)
    as_written = {name: "VARCHAR" for name in _check_header(source) if name in text}
    try:
        with _reader() as con:
            relation = con.read_csv(str(source), header=True, na_values=NULL_TEXTS, sample_size=-1, auto_type_candidates=TYPES,
                                    dtype=as_written or None)  # fmt: skip
            frame = (relation.limit(max_rows + 1) if max_rows else relation).df()
    except duckdb.Error as exc:
        raise UserInputError("file", f"not a readable CSV: {shown(str(exc).splitlines()[0])}") from None
    return _checked(frame, max_rows)


def checked_sources(
    path: Path, filename: str, numeric: list[str], categories: Mapping[str, dict[str, str]] | None = None
) -> tuple[str, str]:
    """A file as two DuckDB table expressions for a bulk import, after the header checks `read_table` makes:
    typed (the `numeric` columns as DOUBLE, every other one as text: one fast read that fails on the first
    value that is not a number) and all text (slower, for naming every problem when the typed read fails).
    The `categories` columns (the categorical features and the target, each with its `Schema.spellings`) come as
    their canonical text (`validation.category`) spelled as the column's known ones, as every other door writes them."""
    categories = categories or {}
    literal = "'" + str(path).replace("'", "''") + "'"
    if filename.lower().endswith(".parquet") or path.suffix.lower() == ".parquet":
        try:
            with _reader() as con:
                names = con.read_parquet(str(path)).columns
        except duckdb.Error as exc:
            raise UserInputError("file", f"not a readable Parquet file: {shown(str(exc).splitlines()[0])}") from None
        _check_names(list(names))
        source = _canonical(f"read_parquet({literal})", {n: s for n, s in categories.items() if n in names})
        return source, source
    names = _check_header(path)
    nulls = ", ".join("'" + n.replace("'", "''") + "'" for n in NULL_TEXTS)
    types = ", ".join(f"'{n.replace(chr(39), chr(39) * 2)}': '{'DOUBLE' if n in numeric else 'VARCHAR'}'" for n in names)
    common = f"{literal}, header = true, nullstr = [{nulls}]"
    wanted = {n: s for n, s in categories.items() if n in names}
    return (_canonical(f"read_csv({common}, types = {{{types}}})", wanted),
            _canonical(f"read_csv({common}, all_varchar = true)", wanted))  # fmt: skip


def _canonical(source: str, columns: Mapping[str, dict[str, str]]) -> str:
    if not columns:
        return source
    replaced = ", ".join(f"{category_sql(quoted(n), spellings)} AS {quoted(n)}" for n, spellings in columns.items())
    return f"(SELECT * REPLACE ({replaced}) FROM {source})"


def category_sql(expression: str, spellings: Mapping[str, str] | None = None) -> str:
    """`validation.category` in DuckDB's SQL, for a value of any type (NULL stays NULL): the bulk import writes
    categories as the row-by-row doors do. The same grammar (NUMBER_TEXT, INTEGER_TEXT) and the same float text
    (DuckDB's shortest round-trip text of a double is Python's repr: tested); with a column's `spellings`, a true
    or false in another case as the column spells it (`validation.known_spelling`)."""
    text = f"CAST({expression} AS VARCHAR)"
    trimmed = f"trim({text})"
    if spellings:
        whens = " ".join(f"WHEN '{word}' THEN '{spelled.replace(chr(39), chr(39) * 2)}'" for word, spelled in spellings.items())
        padding = " || ".join(f"chr({ord(c)})" for c in BLANKS)
        return f"CASE lower(trim({text}, {padding})) {whens} ELSE {category_sql(expression)} END"
    number = f"CAST({trimmed} AS DOUBLE)"
    whole = f"isfinite({number}) AND {number} = trunc({number}) AND abs({number}) < {EXACT_INTEGERS}"
    as_float = f"CASE WHEN {whole} THEN CAST(CAST({number} AS BIGINT) AS VARCHAR) ELSE CAST({number} AS VARCHAR) END"
    as_integer = f"CASE WHEN {trimmed} = '-0' THEN '0' ELSE {trimmed} END"  # no leading zero: the digits are canonical
    return (
        f"CASE WHEN NOT regexp_full_match({trimmed}, '{NUMBER_TEXT}') THEN {text} "
        f"WHEN regexp_full_match({trimmed}, '{INTEGER_TEXT}') THEN {as_integer} ELSE {as_float} END"
    )


def _read_parquet(path: Path, max_rows: int | None) -> pd.DataFrame:
    try:
        with _reader() as con:
            relation = con.read_parquet(str(path))
            names = relation.columns
            frame = (relation.limit(max_rows + 1) if max_rows else relation).df()
    except duckdb.Error as exc:
        raise UserInputError("file", f"not a readable Parquet file: {shown(str(exc).splitlines()[0])}") from None
    _check_names(list(names))
    return _checked(frame, max_rows)


def _check_header(path: Path) -> list[str]:
    """The first line must name every column, once each."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
        first = handle.readline()
    if not first.strip():
        raise UserInputError("file", "the file is empty or its first line is blank: expected a header line naming the columns")
    dialect = csv.Sniffer().sniff(first, delimiters=",;\t|") if any(d in first for d in ",;\t|") else csv.excel
    names = [n.strip() for n in next(csv.reader(io.StringIO(first), dialect))]
    _check_names(names)
    return names


def _check_names(names: list[str]) -> None:
    if names and all(_NUMBER.match(n) for n in names if n):
        raise UserInputError("file", f"the first line holds values ({shown(', '.join(names[:4]))}), not column names: add a header line")
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank:
        raise UserInputError("file", f"column {blank[0]} has no name in the header: every column needs one")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserInputError("file", f"duplicate column name(s) {', '.join(map(repr, duplicates))}: every column needs its own name")


def _checked(frame: pd.DataFrame, max_rows: int | None) -> pd.DataFrame:
    if max_rows is not None and len(frame) > max_rows:
        raise UserInputError("file", f"more than {max_rows:,} rows: the limit per file is {max_rows:,} (IA_MAX_SAMPLES_PER_REQUEST)")
    if len(frame) == 0:
        raise UserInputError("file", "the file has a header but no rows: add at least one row")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def content_digest(raw: bytes | Path) -> str:
    """A file's bytes as the duplicate check knows them: an import of the same bytes is named a copy. A path is
    hashed as it is read, in chunks, not loaded whole beside the table read from it."""
    if isinstance(raw, Path):
        with raw.open("rb") as handle:
            return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).hexdigest()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()
