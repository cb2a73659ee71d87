import codecs

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data.csv_import import CsvImportError, parse_labelled_csv

LIMIT = 1e12
GOOD = "feature_1,feature_2,target\n1.5,2.3,1\n-0.2,0.1,0\n"


def test_a_valid_file_parses_to_arrays() -> None:
    parsed = parse_labelled_csv(GOOD, 2, 100, LIMIT)
    assert np.array_equal(parsed.X, [[1.5, 2.3], [-0.2, 0.1]]) and parsed.y.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("feature_1,feature_2,target\n", "no rows"),
        ("feature_1,target\n1,0\n", "missing column(s) 'feature_2'"),
        ("feature_1,feature_2,extra,target\n1,2,3,0\n", "unexpected column(s) 'extra'"),
        ("feature_1,feature_2,target\n1,abc,0\n", "column feature_2, row 2: 'abc' is not a number"),
        ("feature_1,feature_2,target\n1,2,0\nnan,2,1\n", "column feature_1, row 3: 'nan' is empty or NaN"),
        ("feature_1,feature_2,target\n1,,0\n", "column feature_2, row 2: '' is empty or NaN"),
        ("feature_1,feature_2,target\ninf,2,0\n", "column feature_1, row 2: 'inf' is infinite"),
        ("feature_1,feature_2,target\n1,2,2\n", "column target, row 2: '2' must be 0 or 1"),
        ("feature_1,feature_2,target\n1,2,0\n1,2,1\n1,2,0\n1,2,1\n", "limit per file is 3"),
    ],
)
def test_each_problem_is_named_with_column_row_or_limit(text: str, expected: str) -> None:
    with pytest.raises(CsvImportError) as caught:
        parse_labelled_csv(text, 2, 3, LIMIT)
    assert expected in str(caught.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(CsvImportError) as caught:
        parse_labelled_csv("feature_1,feature_2,target\nx,2,0\n1,y,5\n", 2, 100, LIMIT)
    assert len(caught.value.problems) == 3


def test_feature_csv_for_batch_prediction_ignores_a_target_and_checks_the_rest() -> None:
    from core.data.csv_import import parse_feature_csv

    assert parse_feature_csv("feature_1,feature_2\n1,2\n3,4\n", 2, 10, LIMIT).tolist() == [[1, 2], [3, 4]]
    assert parse_feature_csv(GOOD, 2, 10, LIMIT).shape == (2, 2)
    with pytest.raises(CsvImportError, match="column feature_1, row 3: 'x' is not a number"):
        parse_feature_csv("feature_1,feature_2\n1,2\nx,4\n", 2, 10, LIMIT)


@pytest.mark.parametrize(
    ("data", "expected_X", "expected_y"),
    [
        ("feature_1 ,feature_2,target\n1,2,0\n", [[1, 2]], [0]),  # a trailing space in a header name
        (" Feature_1 , FEATURE_2 , Target \n 1 , 2 , 1 \n", [[1, 2]], [1]),
        ("target,feature_2,feature_1\n1,2,3\n", [[3, 2]], [1]),  # any column order
        (codecs.BOM_UTF8 + b"feature_1,feature_2,target\n1,2,0\n", [[1, 2]], [0]),
        ("feature_1,feature_2,target\r\n1,2,0\r\n", [[1, 2]], [0]),
        ("\ufefffeature_1,feature_2,target\n1,2,0\n", [[1, 2]], [0]),
        ("feature_1,feature_2,target\n1,2,0\n".encode("utf-16"), [[1, 2]], [0]),
        ("feature_1;feature_2;target\n1,5;-2,25;1\n", [[1.5, -2.25]], [1]),  # a European export
        ("feature_1\tfeature_2\ttarget\n1.5\t2\t0\n", [[1.5, 2]], [0]),
        ('"feature_1","feature_2","target"\n"1.5","2e3","1"\n', [[1.5, 2000]], [1]),
        ("feature_1,feature_2,target\n1,2,0\n\n3,4,1\n", [[1, 2], [3, 4]], [0, 1]),  # a blank line
        ("feature_1,feature_2,target\n1e12,-1e12,1.0\n", [[1e12, -1e12]], [1]),  # the limit itself
    ],
)
def test_what_spreadsheets_commonly_vary_is_accepted(data: bytes | str, expected_X: list, expected_y: list) -> None:
    parsed = parse_labelled_csv(data, 2, 100, LIMIT)
    assert parsed.X.tolist() == expected_X and parsed.y.tolist() == expected_y


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("feature_1,feature_2,target\n1,2,0,1\n", "row 2 has 4 fields but the header has 3"),
        ("feature_1,feature_2,target\n1,2,0\n1,2,0,1\n", "row 3 has 4 fields but the header has 3"),
        ("feature_1,feature_2,target\n1,2,0\n1,2\n", "row 3 has 2 fields but the header has 3"),
        ("feature_1,feature_2,target\n1e308,2,0\n", "column feature_1, row 2: '1e308' is beyond the limit of ±1e+12"),
        ("feature_1,feature_1,target\n1,2,0\n", "duplicate column(s) 'feature_1'"),
        ("feature_1,feature_2,target\n1,234.5,2,0\n", "row 2 has 4 fields"),
        ('feature_1,feature_2,target\n"1,234.5",2,0\n', "'1,234.5' is not a number"),
        ("feat_1,feat_2,target\n1,2,0\n", "missing column(s) 'feature_1', 'feature_2'"),
        (b"\x00\x01\x02garbage", "binary file"),
        (b"feature_1,feature_2,target\n1,\xe9,0\n", "not UTF-8 text (byte 30"),
        ('feature_1,feature_2,target\n"1,2,0\n', "not a readable CSV"),
    ],
)
def test_what_would_be_stored_wrong_is_refused_with_its_row(data: bytes | str, expected: str) -> None:
    with pytest.raises(CsvImportError) as caught:
        parse_labelled_csv(data, 2, 100, LIMIT)
    assert expected in str(caught.value)


def test_a_ten_megabyte_single_line_gets_a_short_message_quickly() -> None:
    data = ("x" * 10_000_000 + "\n").encode()
    with pytest.raises(CsvImportError) as caught:
        parse_labelled_csv(data, 2, 100, LIMIT)
    assert len(str(caught.value)) < 400 and "missing column(s)" in str(caught.value)  # the header is not echoed whole
    wide = ",".join(f"col{i}" for i in range(100_000)) + "\n"
    with pytest.raises(CsvImportError) as caught:
        parse_labelled_csv(wide, 2, 100, LIMIT)
    assert "and 99980 more" in str(caught.value) and len(str(caught.value)) < 600  # 20 named, as every table check names them


def _check_outcome(data: bytes | str) -> None:
    try:
        parsed = parse_labelled_csv(data, 2, 50, LIMIT)
    except CsvImportError as exc:
        assert str(exc).startswith("CSV: ") and len(str(exc)) < 1500
    else:
        assert parsed.X.shape == (parsed.y.shape[0], 2) and parsed.y.shape[0] >= 1
        assert np.isfinite(parsed.X).all() and np.abs(parsed.X).max() <= LIMIT and set(parsed.y.tolist()) <= {0, 1}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_parse_or_are_refused_clearly(data: bytes) -> None:
    _check_outcome(data)
    _check_outcome(b"feature_1,feature_2,target\n" + data)


cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 5).map(str),
    st.sampled_from(["", " ", "0", "1", "nan", "NaN", "inf", "1,5", '"2"', "1e400", "-0", "abc", "é", '"', "0x10", "1_000"]),
)
headers = st.lists(st.sampled_from(["feature_1", "feature_2", "target", " feature_1 ", "FEATURE_2", "extra", ""]), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(headers, st.lists(st.lists(cells, min_size=1, max_size=5), min_size=0, max_size=8), st.sampled_from([",", ";", "\t", "|"]))
def test_generated_csv_files_parse_or_are_refused_clearly(header: list[str], rows: list[list[str]], delimiter: str) -> None:
    text = "\n".join(delimiter.join(r) for r in [header, *rows]) + "\n"
    _check_outcome(text)
    _check_outcome(text.encode("utf-16"))
