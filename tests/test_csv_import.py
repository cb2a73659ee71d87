import numpy as np
import pytest

from core.csv_import import CsvImportError, parse_labelled_csv
from core.runtime import Runtime

GOOD = "feature_1,feature_2,target\n1.5,2.3,1\n-0.2,0.1,0\n"


def test_a_valid_file_parses_to_arrays() -> None:
    parsed = parse_labelled_csv(GOOD, 2, 100)
    assert np.array_equal(parsed.X, [[1.5, 2.3], [-0.2, 0.1]]) and parsed.y.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("feature_1,feature_2,target\n", "no rows"),
        ("feature_1,target\n1,0\n", "missing column(s) feature_2"),
        ("feature_1,feature_2,extra,target\n1,2,3,0\n", "unexpected column(s) extra"),
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
        parse_labelled_csv(text, 2, 3)
    assert expected in str(caught.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(CsvImportError) as caught:
        parse_labelled_csv("feature_1,feature_2,target\nx,2,0\n1,y,5\n", 2, 100)
    assert len(caught.value.problems) == 3


def test_a_rejected_import_stores_nothing(runtime: Runtime) -> None:
    with pytest.raises(CsvImportError):
        runtime.import_csv("feature_1,feature_2,target\n1,2,0\n1,oops,1\n")
    assert runtime.store.counts()["datasets"] == 0 and runtime.store.counts()["samples"] == 0
    info = runtime.import_csv(GOOD.encode(), name="mine.csv")
    assert info.n_rows == 2 and runtime.store.datasets()["source"].tolist() == ["imported"]


def test_feature_csv_for_batch_prediction_ignores_a_target_and_checks_the_rest() -> None:
    from core.csv_import import parse_feature_csv

    assert parse_feature_csv("feature_1,feature_2\n1,2\n3,4\n", 2, 10).tolist() == [[1, 2], [3, 4]]
    assert parse_feature_csv(GOOD, 2, 10).shape == (2, 2)
    with pytest.raises(CsvImportError, match="column feature_1, row 3: 'x' is not a number"):
        parse_feature_csv("feature_1,feature_2\n1,2\nx,4\n", 2, 10)
