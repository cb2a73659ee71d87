"""Generating a dataset through the data use case: a bad argument is refused naming its field, and nothing is stored."""

import math

import pytest

from core.errors import UserInputError
from core.runtime import Runtime


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_samples": 1.5}, "samples"),
        ({"n_samples": "100"}, "samples"),
        ({"n_samples": None}, "samples"),
        ({"n_samples": True}, "samples"),
        ({"n_samples": 2**63}, "samples"),
        ({"n_samples": 10, "seed": "a"}, "seed"),
        ({"n_samples": 10, "seed": 1.5}, "seed"),
        ({"n_samples": 10, "seed": 2**63}, "seed"),
        ({"n_samples": 10, "strength": "1"}, "strength"),
        ({"n_samples": 10, "strength": math.nan}, "strength"),
        ({"n_samples": 10, "scenario": "drifty"}, "scenario"),
        ({"n_samples": 10, "scenario": None}, "scenario"),
    ],
)
def test_generate_refuses_bad_arguments_and_stores_nothing(runtime: Runtime, kwargs: dict, field: str) -> None:
    with pytest.raises(UserInputError) as caught:
        runtime.data.generate(**kwargs)
    assert str(caught.value).startswith(f"{field}:")
    assert set(runtime.store.counts().values()) == {0}  # nothing stored, of any kind
    assert runtime.data.generate(10.0, seed=3).n_rows == 10  # a whole float is a count
