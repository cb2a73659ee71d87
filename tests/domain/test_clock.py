"""The stored times as files write them."""

from __future__ import annotations

import io

import pandas as pd

from core.domain.clock import utc_csv


def test_a_download_writes_every_stored_time_in_iso_utc_with_its_z_and_leaves_the_rest_as_it_is() -> None:
    """Review: the alerts and cycles downloads wrote "2026-12-07 10:00:00", which a spreadsheet elsewhere reads as local time."""
    frame = pd.DataFrame({"cycle_id": [1, 2], "started_at": pd.to_datetime(["2026-12-07 10:00:00", "2026-12-07 10:00:30.25"], format="ISO8601"),
                          "finished_at": pd.to_datetime(["2026-12-07 10:00:01", None]), "reason": ["a, b", "c"]})  # fmt: skip
    written = pd.read_csv(io.StringIO(utc_csv(frame)), keep_default_na=False)
    assert written["started_at"].tolist() == ["2026-12-07T10:00:00.000000Z", "2026-12-07T10:00:30.250000Z"]
    assert written["finished_at"].tolist() == ["2026-12-07T10:00:01.000000Z", ""]  # a time not yet known stays empty
    assert written["reason"].tolist() == ["a, b", "c"] and written["cycle_id"].tolist() == [1, 2]
    only = pd.read_csv(io.StringIO(utc_csv(frame, ["started_at", "absent"])))
    assert only["started_at"][0].endswith("Z") and only["finished_at"][0] == "2026-12-07 10:00:01"  # only the columns named
