"""Two models scored on the same rows: is one better, or is the difference chunk noise?

Both models see the same rows, so what matters is where they disagree: rows only the challenger gets
right (`gained`) against rows only the champion gets right (`lost`). Under "no better", each such row
is a fair coin (McNemar's exact test, one-sided); the rows both get right or both get wrong say nothing
about which is better. A paired test needs far fewer rows than comparing two accuracies each with its
own interval: on 400 rows two models 3 points apart usually disagree on 10-20 % of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom


@dataclass(frozen=True)
class PairedScore:
    """Two models on the same `n` rows: how many each got right, and how many only one of them did."""

    n: int
    challenger_right: int
    champion_right: int
    gained: int  # rows the challenger gets right and the champion wrong
    lost: int  # rows the champion gets right and the challenger wrong

    @property
    def p_better(self) -> float:
        """One-sided exact McNemar p-value of "the challenger is no better than the champion".

        >>> PairedScore(400, 330, 310, 30, 10).p_better < 0.01
        True
        >>> round(PairedScore(400, 312, 310, 12, 10).p_better, 2)
        0.42
        """
        return mcnemar_greater(self.gained, self.lost)

    def difference(self) -> float:
        return (self.challenger_right - self.champion_right) / self.n if self.n else 0.0


def paired(champion_right: np.ndarray, challenger_right: np.ndarray) -> PairedScore:
    """Count agreements and disagreements of two boolean "was right" arrays over the same rows.

    >>> paired(np.array([True, True, False, False]), np.array([True, False, True, True]))
    PairedScore(n=4, challenger_right=3, champion_right=2, gained=2, lost=1)
    """
    a, b = np.asarray(champion_right, dtype=bool), np.asarray(challenger_right, dtype=bool)
    return PairedScore(int(a.shape[0]), int(b.sum()), int(a.sum()), int(np.count_nonzero(b & ~a)), int(np.count_nonzero(a & ~b)))


def mcnemar_greater(gained: int, lost: int) -> float:
    """P(at least `gained` of the gained + lost disagreements go the challenger's way | each a fair coin).

    >>> mcnemar_greater(0, 0)
    1.0
    >>> round(mcnemar_greater(8, 0), 4)  # 8 disagreements, all the challenger's: 1 / 2**8
    0.0039
    """
    n = gained + lost
    if n == 0:
        return 1.0
    return float(binom.sf(gained - 1, n, 0.5))
