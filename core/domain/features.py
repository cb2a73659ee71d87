"""The feature contract: column names. Serving, CSV import and storage all speak of
`feature_1 .. feature_n`; defining the names once keeps them from disagreeing.
(The checks every feature matrix passes live in `core.domain.validation`.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

TARGET = "target"
INPUT_MARK = " (input)"
UNSEEN_COLUMN = "unseen categories"  # a batch's results: per row, the columns whose value the model never saw in training
RENAMED_INPUTS = "renamed inputs"  # a results frame's attrs: {the user's name: the name shown}, for the names it changed
RESULT_COLUMNS = ("prediction", "confidence", "model_version", "timestamp", "prediction_id", UNSEEN_COLUMN)  # beside the inputs


def inputs_beside(names: Iterable[str], ours: Collection[str]) -> dict[str, str]:
    """Each of the user's column names as one table shows it beside the workbench's own columns (a batch's results, the
    prediction log): one named like one of ours is shown as "name (input)", so neither overwrites the other (marked
    again if the user has that name too).

    >>> inputs_beside(["confidence", "age", "confidence (input)"], ["prediction", "confidence"])
    {'confidence': 'confidence (input) (input)', 'age': 'age', 'confidence (input)': 'confidence (input)'}
    """
    names = list(names)
    taken, shown = {*names, *ours}, {}
    for name in names:
        marked = name
        while name in ours and marked in taken:
            marked += INPUT_MARK
        taken.add(marked)
        shown[name] = marked
    return shown


def feature_names(n_features: int) -> list[str]:
    return [f"feature_{i}" for i in range(1, n_features + 1)]
