"""The feature contract: column names. Serving, CSV import and storage all speak of
`feature_1 .. feature_n`; defining the names once keeps them from disagreeing.
(The checks every feature matrix passes live in `core.domain.validation`.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

TARGET = "target"
INPUT_MARK = " (input)"


def inputs_beside(names: Iterable[str], ours: Collection[str]) -> list[str]:
    """The user's column names as one table shows them beside the workbench's own columns (a batch's results, the
    prediction log): a column named like one of ours is shown as "name (input)", so neither overwrites the other.

    >>> inputs_beside(["confidence", "age"], ["prediction", "confidence"])
    ['confidence (input)', 'age']
    """
    return [f"{name}{INPUT_MARK}" if name in ours else name for name in names]


def feature_names(n_features: int) -> list[str]:
    return [f"feature_{i}" for i in range(1, n_features + 1)]


def input_name(shown: str) -> str:
    """The name the user gave a column `inputs_beside` shows, whether or not it was marked."""
    return shown.removesuffix(INPUT_MARK)
