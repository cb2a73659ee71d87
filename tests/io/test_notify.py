"""The notifier against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.io.notify import LIMITS, HeldAlerts, Notifier, build_embed, embed_length
from core.store import Store
from tests.discord_server import FakeDiscord

SECRET = "s3cr3t-T0KEN-value"


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "w.duckdb", 2)
    yield s
    s.close()


def notifier(store: Store, url: str, **kw: object) -> Notifier:
    options = {"timeout": 0.5, "retries": 2, "backoff": 0.05, "cooldown": 300.0} | kw
    return Notifier(store, url, **options)


def test_204_is_stored_as_sent_with_the_embed(store: Store) -> None:
    with FakeDiscord([204]) as discord:
        n = notifier(store, discord.url)
        nid = n.notify(
            "promoted", "success", "New champion v1.1.0", "promoted: accuracy 0.9", {"Model version": "v1.1.0", "Accuracy": "90%"}
        )
        assert n.flush(5)
        n.close()
    row = store.notification(nid)
    assert (row["delivery"], row["attempts"], row["http_status"], row["error"]) == ("sent", 1, 204, None)
    embed = discord.received[0][1]["embeds"][0]
    assert embed["title"] == "New champion v1.1.0" and embed["color"] == 0x2ECC71
    assert {f["name"] for f in embed["fields"]} == {"Model version", "Accuracy"}
    assert embed["timestamp"].endswith("Z") and "IA Continu" in embed["footer"]["text"]


def test_a_delivery_moves_the_pages_data_version(store: Store) -> None:
    """Tour 9: a test message read "queued" on Operations after Discord had answered 204: the pages' caches were keyed
    on the alerts raised, not on their deliveries."""
    with FakeDiscord([204]) as discord:
        n = notifier(store, discord.url)
        nid = n.notify("test", "info", "Test message", "a delivery to come", collapse=False)
        assert n.flush(5)
        n.close()
    sent = store.data_version()
    store.update_notification(nid, delivery="pending")  # as it was before the webhook answered
    assert store.data_version() != sent


def test_every_embed_names_its_workspace_and_an_info_alert_is_never_sent(store: Store) -> None:
    with FakeDiscord([204]) as discord:
        n = notifier(store, discord.url, workspace="penguins")
        quiet = n.notify("scheduler", "info", "Scheduler stopped", "a person's action", info=True)
        loud = n.notify("promoted", "success", "New champion v1.1.0", "promoted")
        assert n.flush(5)
        n.close()
    assert [p["embeds"][0]["title"] for _at, p in discord.received] == ["New champion v1.1.0"]
    assert discord.received[0][1]["embeds"][0]["footer"]["text"] == "IA Continu · continuous training monitor · workspace penguins"
    assert (store.notification(quiet)["delivery"], store.notification(loud)["delivery"]) == ("info", "sent")
    assert "workspace penguins" in store.notification(quiet)["payload"]  # stored as it would have been sent


def test_500_then_204_is_retried_and_sent(store: Store) -> None:
    with FakeDiscord([500, 204]) as discord:
        n = notifier(store, discord.url)
        nid = n.notify("drift", "warning", "Drift detected", "x")
        assert n.flush(5)
        n.close()
    row = store.notification(nid)
    assert (row["delivery"], row["attempts"], row["http_status"]) == ("sent", 2, 204)
    assert len(discord.received) == 2


def test_429_retry_after_is_waited_out(store: Store) -> None:
    with FakeDiscord([("429", 0.4), 204]) as discord:
        n = notifier(store, discord.url, backoff=0.0)
        nid = n.notify("drift", "warning", "Drift detected", "x")
        assert n.flush(5)
        n.close()
    (first, _), (second, _) = discord.received
    assert second - first >= 0.4  # a lower bound, the wait Discord asked for: load can only lengthen it
    assert store.notification(nid)["delivery"] == "sent" and store.notification(nid)["attempts"] == 2


def test_a_server_that_never_answers_ends_failed_without_blocking_the_caller(store: Store) -> None:
    with FakeDiscord(default="hang") as discord:
        n = notifier(store, discord.url, timeout=2.0, retries=1)
        nid = n.notify("cycle_error", "failure", "Monitoring cycle failed", "x")
        assert store.notification(nid)["delivery"] == "pending"  # enqueued, not sent inline: sending takes 2 timeouts
        assert n.flush(10)
        n.close()
    row = store.notification(nid)
    assert row["delivery"] == "failed" and row["attempts"] == 2 and "Timeout" in row["error"]


def test_4xx_is_not_retried(store: Store) -> None:
    with FakeDiscord([404]) as discord:
        n = notifier(store, discord.url)
        nid = n.notify("drift", "warning", "Drift detected", "x")
        assert n.flush(5)
        n.close()
    assert store.notification(nid)["delivery"] == "failed" and len(discord.received) == 1


def test_the_webhook_url_never_reaches_logs_or_stored_errors(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeDiscord([500, 500, 500]) as discord:
        n = notifier(store, discord.url)
        n.notify("drift", "warning", "Drift detected", "x")
        assert n.flush(5)
        url = discord.url
    # and a connection refused, whose exception text names the URL
    n2 = notifier(store, url, retries=1)
    n2.notify("drift", "warning", "Another", "x")
    assert n2.flush(10)
    n.close()
    n2.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    stored = " ".join(str(e) for e in store.notifications()["error"])
    assert "ConnectionError" in stored or "ConnectTimeout" in stored
    assert SECRET not in logged and SECRET not in stored and "123456789" not in stored
    assert SECRET not in n.masked_url


def test_no_webhook_stores_not_sent(store: Store) -> None:
    n = notifier(store, "")
    nid = n.notify("drift", "warning", "Drift detected", "x")
    n.close()
    assert store.notification(nid)["delivery"] == "not_sent" and not n.configured


def test_identical_alerts_inside_the_cooldown_are_collapsed(store: Store) -> None:
    with FakeDiscord() as discord:
        n = notifier(store, discord.url, cooldown=300)
        first = n.notify("drift", "warning", "Drift detected", "share 0.5")
        second = n.notify("drift", "warning", "Drift detected", "share 1.0")
        other = n.notify("promoted", "success", "New champion v1.2.0", "x")
        test = n.send_test()
        assert n.flush(5)
        n.close()
    deliveries = [store.notification(i)["delivery"] for i in (first, second, other, test)]
    assert deliveries == ["sent", "collapsed", "sent", "sent"] and len(discord.received) == 3


def test_only_repeats_of_the_same_drift_episode_are_collapsed(store: Store) -> None:
    n = notifier(store, "", cooldown=300)
    first = n.notify("drift", "warning", "Drift detected", "a", episode=401, cycle_id=3)
    repeat = n.notify("drift", "warning", "Drift detected", "a again", episode=401, cycle_id=4)
    another = n.notify("drift", "warning", "Drift detected", "b", episode=1201, cycle_id=9)  # a later, different episode
    n.close()
    assert [store.notification(i)["delivery"] for i in (first, repeat, another)] == ["not_sent", "collapsed", "not_sent"]
    assert [store.notification(i)["cycle_id"] for i in (first, repeat, another)] == [3, 4, 9]


def test_embeds_over_the_limits_are_truncated_to_fit() -> None:
    fields = {f"field {i} " + "n" * 300: "v" * 2000 for i in range(40)}
    embed = build_embed("t" * 1000, "d" * 10_000, "failure", fields)
    assert len(embed["title"]) == LIMITS["title"] and len(embed["description"]) <= LIMITS["description"]
    assert len(embed["fields"]) <= LIMITS["fields"]
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in embed["fields"])
    assert embed_length(embed) <= LIMITS["total"] and embed["color"] == 0xE74C3C
    small = build_embed("ok", "fine", "info", {"a": 1})
    assert small["title"] == "ok" and small["fields"][0]["value"] == "1"


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(max_size=600),
    description=st.text(max_size=9000),
    fields=st.dictionaries(st.text(max_size=400), st.text(max_size=1500), max_size=40),
)
def test_any_embed_fits_discords_limits(title: str, description: str, fields: dict[str, str]) -> None:
    embed = build_embed(title, description, "warning", fields)
    assert len(embed["title"]) <= LIMITS["title"] and len(embed["description"]) <= LIMITS["description"]
    assert len(embed["fields"]) <= LIMITS["fields"] and embed_length(embed) <= LIMITS["total"]
    assert all(0 < len(f["name"]) <= LIMITS["field_name"] and 0 < len(f["value"]) <= LIMITS["field_value"] for f in embed["fields"])


def test_a_held_alert_carries_the_cycle_s_status_as_it_ended(store: Store) -> None:
    """A drop alert raised before its cycle failed said Status: ok beside the failing loop's Status: error."""
    with FakeDiscord([204, 204]) as discord:
        n = notifier(store, discord.url)
        held = HeldAlerts(n)
        held.notify("drift", "warning", "Performance drop", "accuracy fell", {"Status": "ok", "Decision": "retrain", "Cycle": 11},
                    cycle_id=11)  # fmt: skip
        held.notify("drift", "warning", "Drift detected", "by keyword", fields={"Status": "ok", "Cycle": 11}, cycle_id=11)
        held.release({"Status": "error", "Decision": "error", "Not carried": "x"})
        assert n.flush(5)
        n.close()
    fields = [{f["name"]: f["value"] for f in body["embeds"][0]["fields"]} for _at, body in discord.received]
    assert fields == [{"Status": "error", "Decision": "error", "Cycle": "11"}, {"Status": "error", "Cycle": "11"}]
