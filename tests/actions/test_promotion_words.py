"""A version put in service by hand is called what it is: a newer one a promotion by hand, an older one a rollback."""

from __future__ import annotations

import pandas as pd

from core.runtime import Runtime
from tests.fixtures import make_settings


def test_a_newer_version_put_in_service_by_hand_is_a_promotion_by_hand_and_an_older_one_a_rollback(tmp_path, mlflow_template) -> None:
    rt = Runtime(make_settings(tmp_path / "w", mlflow_template))
    try:
        rt.data.generate(1000, seed=1, role="incoming")
        rt.models.train()
        rt.data.generate(2000, "concept_drift", 1.0, seed=2, role="incoming")
        candidate = rt.models.train(window_rows=2000, promote=False)
        newer = rt.models.promote(candidate.version)
        assert newer.outcome == "by_hand" and newer.reason.startswith("promotion by hand: v1.1.0")
        assert rt.insights.last_event().title == "Promoted by hand: v1.1.0"
        older = rt.models.promote(1)
        assert older.outcome == "rollback" and older.reason.startswith("rollback: v1.0.0")
        assert rt.insights.last_event().title == "Rollback to v1.0.0"
        events = rt.store.model_events()
        assert events["kind"].tolist()[:2] == ["rollback", "by_hand"]  # newest first
        by_hand = events.iloc[0]  # no gate set scored it: its score is its own holdout's, with no gate rows
        assert pd.isna(by_hand["challenger_score"]) and pd.isna(by_hand["n_rows"])
        assert by_hand["own_challenger_score"] == rt.store.model(1)["accuracy"]
        alerts = rt.store.notifications()
        assert alerts[["kind", "title"]].head(2).values.tolist() == [["rollback", "Rollback to v1.0.0"],
                                                                     ["by_hand", "Promoted by hand: v1.1.0"]]  # fmt: skip
        rt.models.promote(candidate.version)  # the same two changes again, inside the alert cooldown
        rt.models.promote(1)
        again = rt.store.notifications().head(4)
        assert again["title"].tolist() == ["Rollback to v1.0.0", "Promoted by hand: v1.1.0"] * 2
        assert "collapsed" not in set(again["delivery"]), again  # each change of champion is news: the channel names the one serving
    finally:
        rt.close()


def test_an_older_candidate_that_never_served_is_promoted_by_hand_not_rolled_back_to(tmp_path, mlflow_template) -> None:
    rt = Runtime(make_settings(tmp_path / "w", mlflow_template))
    try:
        rt.data.generate(3000, seed=1, role="incoming")
        rt.models.train(window_rows=500)  # v1.0.0, the first champion
        older = rt.models.train(window_rows=1000, promote=False)
        newer = rt.models.train(window_rows=2000, promote=False)
        assert (older.version, newer.version) == (2, 3)
        rt.models.promote(newer.version)
        assert (rt.models.manual_kind(older.version), rt.models.manual_kind(1)) == ("by_hand", "rollback")  # what the page asks
        put_in = rt.models.promote(older.version)  # older than the champion, but it never served
        assert put_in.outcome == "by_hand" and put_in.reason.startswith("promotion by hand: v1.1.0")
        assert rt.insights.last_event().title == "Promoted by hand: v1.1.0"
        assert rt.store.notifications()["title"].iloc[0] == "Promoted by hand: v1.1.0"
        back = rt.models.promote(newer.version)  # a former champion, but newer than the champion: not a rollback either
        assert back.outcome == "by_hand"
        assert rt.models.promote(1).reason.startswith("rollback: v1.0.0, a former champion")
    finally:
        rt.close()
