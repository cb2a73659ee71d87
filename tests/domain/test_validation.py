"""The validation layer: feature matrices, scalar arguments, and property tests over every JSON shape."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.domain import validation
from core.domain.validation import feature_matrix
from core.errors import UserInputError
from core.ml import training

LIMIT = 1e12
finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-LIMIT, max_value=LIMIT)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
)


@given(arrays(np.float64, st.tuples(st.integers(1, 30), st.just(3)), elements=finite))
def test_finite_matrices_pass_unchanged(matrix: np.ndarray) -> None:
    assert np.array_equal(feature_matrix(matrix, 3, 100, LIMIT), matrix)
    assert feature_matrix(matrix.tolist(), 3, 100, LIMIT).tolist() == matrix.tolist()


@given(
    arrays(np.float64, st.tuples(st.integers(1, 30), st.just(3)), elements=finite),
    st.data(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e13, -1e308]),
)
def test_one_bad_value_is_found_where_it_is(matrix: np.ndarray, data: st.DataObject, bad: float) -> None:
    row = data.draw(st.integers(0, matrix.shape[0] - 1))
    col = data.draw(st.integers(0, 2))
    matrix = matrix.copy()
    matrix[row, col] = bad
    with pytest.raises(UserInputError, match=f"row {row + 1}, feature_{col + 1} is"):
        feature_matrix(matrix, 3, 100, LIMIT)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([10**400, 1], "beyond the limit of a 64-bit float"),
        ([1e308, 1.0], "beyond the limit of ±1e+12 (IA_FEATURE_MAX_ABS)"),
        (np.array([True, False]), "got an array of booleans"),
        (np.array(["1", "2"]), "got an array of strings"),
        (np.array([1, None], dtype=object), "got an array of Python objects"),
        ([[1.0, 2.0], np.array(["a", "b"])], "row 2: expected numbers, got an array of strings"),
        ([[1.0, 2.0], [1.0]], "row 2 holds 1 values"),
        ([None, 1.0], "null is not a number"),
        ({"features": [1, 2]}, "expected a list of 2 numbers"),
        ([[1.0, 2.0], 3.0], "row 2: expected a list of 2 numbers"),
        (b"12", "expected a list"),
    ],
)
def test_inputs_that_used_to_crash_get_a_named_refusal(rows: object, expected: str) -> None:
    with pytest.raises(UserInputError) as caught:
        feature_matrix(rows, 2, 100, LIMIT)
    assert expected in str(caught.value) and str(caught.value).startswith("features:")


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_is_a_matrix_or_a_short_named_refusal(value: object) -> None:
    try:
        matrix = feature_matrix(value, 2, 100, LIMIT)
    except UserInputError as exc:
        assert str(exc).startswith("features:") and len(str(exc)) < 300
    else:
        assert matrix.shape[1] == 2 and np.isfinite(matrix).all() and np.abs(matrix).max() <= LIMIT


BAD_NUMBERS = ["100", None, True, 2**63, "a", math.nan, math.inf, 10**400, [1], -1]


@pytest.mark.parametrize(
    ("call", "field", "bad"),
    [
        (lambda v: validation.integer(v, "samples", 1, 100), "samples", [*BAD_NUMBERS, 1.5]),
        (validation.seed, "seed", [*BAD_NUMBERS, 1.5]),
        (lambda v: validation.number(v, "strength", 0.0, 2.0), "strength", BAD_NUMBERS),
    ],
)
def test_scalars_refuse_every_wrong_type_and_range_naming_the_field(call, field: str, bad: list) -> None:
    for value in bad:
        with pytest.raises(UserInputError) as caught:
            call(value)
        assert str(caught.value).startswith(f"{field}:") and len(str(caught.value)) < 200, value


def test_whole_floats_and_numpy_integers_are_accepted_as_counts() -> None:
    assert validation.integer(100.0, "samples", 1, 100) == 100
    assert validation.integer(np.int64(7), "samples", 1, 100) == 7
    assert validation.number(np.float32(0.5), "strength", 0, 2) == 0.5


def test_summaries_list_the_first_problems_and_count_the_rest() -> None:
    message = validation.summarise([f"problem {i}" for i in range(30)])
    assert message.startswith("problem 0; problem 1") and message.endswith("and 22 more") and "problem 8" not in message
    assert validation.shown("x" * 10_000).endswith("…") and len(validation.shown("x" * 10_000)) == validation.MAX_SHOWN_VALUE


def test_training_survives_values_at_the_documented_limit() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 2))
    y = (X.sum(axis=1) > 0).astype(np.int8)
    X[:5, 0] = LIMIT
    X[5:10, 1] = -LIMIT
    result = training.fit(X, y, 0.3, 0)
    assert all(np.isfinite(v) for v in result.metrics.values())
    assert np.isfinite(result.model.predict_proba(np.array([[LIMIT, -LIMIT]]))).all()
