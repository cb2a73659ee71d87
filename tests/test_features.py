import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.errors import UserInputError
from core.features import as_feature_matrix

finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e12, max_value=1e12)


@given(arrays(np.float64, st.tuples(st.integers(1, 30), st.just(3)), elements=finite))
def test_finite_matrices_pass_unchanged(matrix: np.ndarray) -> None:
    assert np.array_equal(as_feature_matrix(matrix, 3, 100), matrix)
    assert as_feature_matrix(matrix.tolist(), 3, 100).tolist() == matrix.tolist()


@given(
    arrays(np.float64, st.tuples(st.integers(1, 30), st.just(3)), elements=finite),
    st.data(),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_one_bad_value_is_found_where_it_is(matrix: np.ndarray, data: st.DataObject, bad: float) -> None:
    row = data.draw(st.integers(0, matrix.shape[0] - 1))
    col = data.draw(st.integers(0, 2))
    matrix = matrix.copy()
    matrix[row, col] = bad
    with pytest.raises(UserInputError, match=f"row {row + 1}, feature_{col + 1} is"):
        as_feature_matrix(matrix, 3, 100)


def test_huge_finite_values_that_overflow_a_sum_are_still_accepted() -> None:
    matrix = np.full((2, 2), 1e308)
    assert np.array_equal(as_feature_matrix(matrix, 2, 10), matrix)
