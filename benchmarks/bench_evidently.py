"""Our drift report on a mixed table beside Evidently's DataDriftPreset on the same frames, in one process.

Evidently is not one of the app's dependencies, and its 0.7 line imports a pandas 2 internal, so this
benchmark runs in a venv of its own (`make bench-evidently` makes it from requirements-bench.txt).
The table is bench_tables': 10 numeric and 5 categorical columns, 5 % missing values in three.
"""

from __future__ import annotations

import warnings

from benchmarks.bench_tables import CATEGORICAL, NUMERIC, mixed_table
from benchmarks.timing import compare, paired_medians, print_table
from core.data.table_check import encode, infer_schema
from core.stats.drift import DriftThresholds, table_report

SIZES = (10_000, 100_000)


def main() -> None:
    warnings.simplefilter("ignore")
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    schema = infer_schema(mixed_table(5000, 0), "label")
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=list(CATEGORICAL))
    for n in SIZES:
        reference = encode(mixed_table(n, 4), schema, labelled=False).X
        current = encode(mixed_table(n, 5), schema, labelled=False).X
        sets = [Dataset.from_pandas(frame, data_definition=definition) for frame in (reference, current)]
        ours_s, theirs = paired_medians(
            lambda reference=reference, current=current: table_report(reference, [current], schema, DriftThresholds()),
            lambda sets=sets: Report([DataDriftPreset()]).run(reference_data=sets[0], current_data=sets[1]),
            5,
        )
        compare(f"drift report, {n:,} vs {n:,} rows, 15 columns", "table_report", ours_s, "Evidently DataDriftPreset", theirs,
                "ratio <= 0.2 (5x faster)")  # fmt: skip
    print_table()


if __name__ == "__main__":
    main()
