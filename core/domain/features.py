"""The feature contract: column names. Serving, CSV import and storage all speak of
`feature_1 .. feature_n`; defining the names once keeps them from disagreeing.
(The checks every feature matrix passes live in `core.domain.validation`.)
"""

from __future__ import annotations

TARGET = "target"


def feature_names(n_features: int) -> list[str]:
    return [f"feature_{i}" for i in range(1, n_features + 1)]
