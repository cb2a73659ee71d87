"""The decimals a column's values are written with: where the Predict form starts and how it shows a number."""

import numpy as np
import pandas as pd
import pytest

from core.domain.schema import Column, Schema
from core.services.insights import decimals_written, typical_row


@pytest.mark.parametrize(
    ("values", "places"),
    [
        ([22042, 18000, 7], 0),
        ([1019.6, 1006.2, 1010.0], 1),
        ([33.57, 57.05, 27.0], 2),
        ([0.1 + 0.2, 0.5], 1),  # 0.30000000000000004 is written 0.3, not float noise
        ([np.pi, np.e], 4),  # a measurement: the most shown
        ([1e12, 3e12 + 0.5], 1),
        ([None, np.nan, 4.0, np.inf], 0),  # missing and infinite values say nothing of the writing
        ([1.1e-5, 1.2e-5, 3e-5, 4.25e-5], 7),  # small values written exactly
        ([np.pi * 1e-5, np.e * 1e-5], 8),  # small measurements: 4 significant digits, not 0.0000
        ([np.pi * 1e4, np.e * 1e4], 4),
    ],
)
def test_the_decimals_are_the_fewest_that_write_every_value(values: list, places: int) -> None:
    assert decimals_written(pd.Series(values, dtype=float)) == places


def test_an_all_missing_column_is_written_with_no_decimals() -> None:
    assert decimals_written(pd.Series([None, None], dtype=float)) == 0


def test_a_typical_row_writes_a_median_as_its_column_does() -> None:
    """An even count of whole numbers has a median of x.5: a form showing "2" must not send 1.5."""
    schema = Schema(
        (Column("calls", "numeric"), Column("fee", "numeric"), Column("plan", "categorical", categories=("a", "b"))), "outcome", ("x", "y")
    )
    reference = pd.DataFrame({"calls": [1, 2, 1, 2], "fee": [10.25, 10.5, 11.0, 12.0], "plan": ["a", "b", "b", "b"]})
    assert typical_row(reference, schema) == {"calls": 2.0, "fee": 10.75, "plan": "b"}


def test_a_typical_row_of_small_measurements_is_not_zero_nor_minus_zero() -> None:
    schema = Schema((Column("conc", "numeric"), Column("shift", "numeric")), "outcome", ("x", "y"))
    reference = pd.DataFrame({"conc": [1.1e-5, 1.2e-5, 3e-5, 4e-5], "shift": [-4e-5 * np.pi, -1e-5 * np.pi, 2e-5 * np.pi, 0.0]})
    row = typical_row(reference, schema)
    assert row["conc"] == pytest.approx(2.1e-5) and row["shift"] == pytest.approx(-0.5e-5 * np.pi, rel=1e-3), row
