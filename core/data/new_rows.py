"""What a cycle reads: the labelled rows that arrived since the last one and the predictions still unlabelled.

Pure: the pipeline reads the parts from the store; this says what they add up to. The realised accuracy
of a served prediction is the class that was served (not what today's champion would say), the label
coverage is the labels that arrived per row served, and the label delay is how long the labels of served
predictions took (rows that arrive labelled, like a stream batch, have none to wait for).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from core.config import Settings
    from core.store import ArrivedLabels, Window


@dataclass(frozen=True)
class NewData:
    labelled: Window | None
    unlabelled: np.ndarray | pd.DataFrame
    arrived: ArrivedLabels | None  # which labelled rows are labels of served predictions
    predictions_served: int  # predictions logged since the last cycle
    read_since: object = None  # where this cycle's reading of predictions starts (None: every one, a first cycle)

    @property
    def n_labelled(self) -> int:
        return 0 if self.labelled is None else self.labelled.n_rows

    @property
    def n_rows(self) -> int:
        return self.n_labelled + len(self.unlabelled)

    @property
    def n_feedback(self) -> int:
        return 0 if self.arrived is None else len(self.arrived.sample_ids)

    @cached_property
    def fresh(self) -> np.ndarray:
        """Per row of `features`, whether its inputs are new to the loop: not a label of a prediction an earlier cycle
        already read (its inputs were tested and estimated then, as an unlabelled row; tour 18 saw a 200-row batch
        counted, estimated and drift-tested again as 400 when its labels came three cycles later)."""
        read = np.zeros(len(self.features), dtype=bool)
        if self.n_feedback and self.read_since is not None:
            earlier = self.arrived.predicted_at < np.datetime64(self.read_since, "us")
            read[: self.n_labelled] = self._per_row(np.zeros(self.n_labelled, dtype=bool), earlier)
        return ~read

    @property
    def n_inputs(self) -> int:
        """The rows whose inputs this cycle meets first: what it estimates and drift-tests."""
        return int(np.count_nonzero(self.fresh))

    def testable(self, settings: Settings) -> bool:
        """Whether this cycle meets enough new inputs (IA_DRIFT_MIN_ROWS) to drift-test and estimate them: two rows cannot
        show the inputs match, nor one prediction's confidence an accuracy."""
        return self.n_inputs >= settings.drift_min_rows

    @property
    def inputs_came_labelled(self) -> bool:
        """Whether the rows met first include rows that arrived with their labels (a stream batch, data sent to the
        loop), not only inputs of predictions: the drift pool keeps the two kinds apart. Labels of predictions, late or
        not, do not make a cycle's inputs labelled: those rows are prediction inputs."""
        return self.labelled is not None and bool(np.any(self.came_labelled()))

    @cached_property
    def inputs(self) -> np.ndarray | pd.DataFrame:
        """`features` without the rows an earlier cycle already met."""
        if self.fresh.all():
            return self.features
        if isinstance(self.features, pd.DataFrame):
            return self.features[self.fresh].reset_index(drop=True)
        return self.features[self.fresh]

    @cached_property
    def features(self) -> np.ndarray | pd.DataFrame:
        """The labelled rows, then the unlabelled ones: every input the champion met since the last cycle
        (joined once: the estimate and the drift tests both read it)."""
        if self.labelled is None:
            return self.unlabelled
        if not len(self.unlabelled):
            return self.labelled.X
        if isinstance(self.labelled.X, pd.DataFrame):
            return pd.concat([self.labelled.X, self.unlabelled], ignore_index=True)
        return np.vstack([self.labelled.X, self.unlabelled])

    def served_classes(self, champion_classes: np.ndarray) -> np.ndarray:
        """Per labelled row, the class it was served: the logged prediction for a label that came back, the
        champion's for a row that arrived labelled."""
        return self._per_row(np.asarray(champion_classes).copy(), self.arrived.served if self.arrived is not None else None)

    def served_versions(self, champion: int) -> np.ndarray:
        """Per labelled row, the version that served it: the logged prediction's for a label that came back, the
        champion's for a row that arrived labelled (it scores those now)."""
        versions = np.full(self.n_labelled, champion, dtype=np.int64)
        return self._per_row(versions, self.arrived.versions if self.arrived is not None else None)

    def came_labelled(self) -> np.ndarray:
        """Per labelled row, whether it arrived with its label (a stream batch, data sent to the loop): the champion
        scores it now, and its label is known at once, so no logged prediction is there to join it later."""
        return self._per_row(np.ones(self.n_labelled, dtype=bool), np.zeros(self.n_feedback, dtype=bool))

    def _per_row(self, values: np.ndarray, served: np.ndarray | None) -> np.ndarray:
        """`values` with the labelled rows that are labels of served predictions set from `served`."""
        if self.n_feedback and self.labelled is not None and self.labelled.sample_ids is not None:
            rows, labels = self.labelled.sample_ids, self.arrived.sample_ids  # both in sample order
            values[np.isin(rows, labels)] = served[np.isin(labels, rows)]
        return values

    @property
    def served_rows(self) -> int:
        """Rows the champion served since the last cycle: predictions, and stream rows it scored as they arrived."""
        return self.predictions_served + self.n_labelled - self.n_feedback

    @property
    def coverage(self) -> float | None:
        """Labels that arrived per row served (above 1 when a backlog of labels comes in at once)."""
        return None if self.served_rows == 0 else self.n_labelled / self.served_rows

    def delay_seconds(self, quantile: float) -> float | None:
        if not self.n_feedback:
            return None
        return float(np.quantile(self.arrived.delay_seconds, quantile))
