"""Which rows of a replayed dataset the loop has already received, as sorted half-open spans of row positions.

A replay's position can be set back (or wrap at its end), and the rows it sends again arrive as new rows (the store
reads each once in a window, `samples.replay_of`, but the champion is scored on them and the drift tests see them).
Knowing the spans sent makes that a fact to show before it happens, not a guess: the position alone forgets what was
sent before it moved.
"""

from __future__ import annotations

import json

Spans = list[tuple[int, int]]
SENT_AGAIN = ("they arrive again as new rows, so the champion may be scored on rows it trained on (its realised accuracy "
              "flatters it) and the drift tests compare copies of reference rows. Training and the gate read each row once, "
              "at its newest copy, so no challenger is chosen on a row it trained on.")  # fmt: skip


def added(spans: Spans, lo: int, hi: int) -> Spans:
    """`spans` with [lo, hi) added, merged where they touch or overlap.

    >>> added([(0, 200), (500, 700)], 200, 500), added([(0, 200)], 400, 600), added([], 5, 5)
    ([(0, 700)], [(0, 200), (400, 600)], [])
    """
    if hi <= lo:
        return list(spans)
    merged: Spans = []
    for a, b in sorted([*spans, (lo, hi)]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def within(spans: Spans, lo: int, hi: int) -> Spans:
    """The parts of [lo, hi) that `spans` cover.

    >>> within([(0, 200), (400, 600)], 100, 500)
    [(100, 200), (400, 500)]
    """
    return [(max(a, lo), min(b, hi)) for a, b in spans if max(a, lo) < min(b, hi)]


def rows(spans: Spans) -> int:
    return sum(b - a for a, b in spans)


def to_text(spans: Spans) -> str:
    return json.dumps([list(s) for s in spans])


def from_text(text: str | None) -> Spans:
    """Spans as stored; a missing or unreadable value is no span (a replay stored before spans were kept)."""
    try:
        return [(int(a), int(b)) for a, b in json.loads(text or "[]")]
    except (ValueError, TypeError):
        return []
