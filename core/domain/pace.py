"""How long the loop takes to go through rows it receives a batch a cycle: a replay, or any stream."""

from __future__ import annotations


def batches(rows: int, batch_size: int) -> int:
    """The cycles `rows` take at `batch_size` a cycle (the last batch may be short)."""
    return -(-max(0, rows) // batch_size)


def replay_time(rows: int, batch_size: int, interval: float) -> str:
    """How long a replay of `rows` takes, one batch of `batch_size` a cycle every `interval` seconds, in words:
    the batches (rows / batch size, rounded up) times the interval. Fewer rows than a batch are one batch of those rows.

    >>> replay_time(78, 100, 5), replay_time(450, 200, 30)
    ('1 batch of 78, about 5 s at one every 5 s', '3 batches of 200, about 2 min at one every 30 s')
    >>> replay_time(0, 200, 30)  # a replay at its end: not "0 batches of 200, about 0 s"
    'none'
    """
    if rows <= 0:
        return "none"
    count = batches(rows, batch_size)
    batch_size = min(batch_size, rows) if count == 1 else batch_size
    minutes = count * interval / 60
    if minutes < 1.5:
        length = f"{count * interval:,.0f} s"
    elif minutes < 90:
        length = f"{minutes:,.0f} min"
    elif minutes < 48 * 60:
        length = f"{int(minutes // 60)} h {int(minutes % 60):02d} min"
    else:
        length = f"{minutes / 1440:,.1f} days"
    return f"{count:,} batch{'' if count == 1 else 'es'} of {batch_size:,}, about {length} at one every {interval:g} s"


def labels_to_come(pending: int, due_by: int) -> str:
    """Labels of rows the stream already served that are held back until their cycle, in one wording for a cycle's
    reason, GET /stream and the Operations page.

    >>> labels_to_come(1, 3), labels_to_come(1200, 14)
    ('1 label of rows already served still to come, the last due at cycle 3', '1,200 labels of rows already served still to come, the last due at cycle 14')
    """
    return f"{pending:,} label{'' if pending == 1 else 's'} of rows already served still to come, the last due at cycle {due_by:,}"
