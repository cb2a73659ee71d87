"""Discord webhook alerts: embeds that fit Discord's limits, sent from a queue, every one logged.

The monitoring loop only enqueues: a sender thread does the HTTP, with a timeout,
retries with exponential backoff on 5xx and connection errors, and 429's
`retry_after` honoured. Every message is stored with its delivery status, attempts,
HTTP code and error; with no webhook set, messages are stored as `not_sent`. The
webhook URL is a secret: it never reaches a log line or a stored error.

Discord hears what has consequences (performance drops, retrain outcomes, promotions,
rollbacks, a failing loop). An informational alert (data drift the model's performance
does not feel) is stored and shown with delivery `info`, and never sent: an alarm that
rings with every season is one nobody reads.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from datetime import datetime
from urllib.parse import urlsplit

import requests

from core.config import mask_secret
from core.domain.deliveries import INFO_DELIVERY
from core.domain.validation import clipped
from core.store import Store, utcnow

log = logging.getLogger(__name__)
# urllib3 logs request paths at DEBUG, and a webhook's path holds its token.
logging.getLogger("urllib3").setLevel(logging.WARNING)

COLOURS = {"success": 0x2ECC71, "failure": 0xE74C3C, "warning": 0xF1C40F, "info": 0x3498DB}
LIMITS = {"title": 256, "description": 4096, "fields": 25, "field_name": 256, "field_value": 1024, "footer": 2048, "total": 6000}
FOOTER = "IA Continu · continuous training monitor"  # then the workspace: one channel may hear several
MAX_RETRY_AFTER = 60.0


def build_embed(
    title: str, description: str, level: str, fields: dict[str, object] | None = None, when: datetime | None = None, workspace: str = ""
) -> dict:
    """One embed, every part cut to Discord's limits and the whole to 6000 characters; its footer names `workspace`."""
    items = list((fields or {}).items())[: LIMITS["fields"]]
    embed = {
        "title": clipped(title, LIMITS["title"]),
        "description": clipped(description, LIMITS["description"]),
        "color": COLOURS.get(level, COLOURS["info"]),
        "fields": [
            {"name": clipped(str(k), LIMITS["field_name"]) or "-", "value": clipped(str(v), LIMITS["field_value"]) or "-", "inline": True}
            for k, v in items
        ],
        "timestamp": (when or utcnow()).isoformat() + "Z",
        "footer": {"text": clipped(f"{FOOTER} · workspace {workspace}" if workspace else FOOTER, LIMITS["footer"])},
    }
    while embed_length(embed) > LIMITS["total"] and embed["fields"]:
        embed["fields"].pop()  # fields go first: the description says what happened
    overflow = embed_length(embed) - LIMITS["total"]
    if overflow > 0:
        embed["description"] = clipped(embed["description"], max(1, len(embed["description"]) - overflow))
    return embed


def embed_length(embed: dict) -> int:
    """Characters Discord counts towards the 6000 limit."""
    fields = sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    return len(embed.get("title", "")) + len(embed.get("description", "")) + fields + len(embed.get("footer", {}).get("text", ""))


class Notifier:
    """Stores and sends alerts; one sender thread per process."""

    def __init__(
        self,
        store: Store,
        webhook_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 1.0,
        cooldown: float = 300.0,
        deadline: float = 20.0,
        workspace: str = "",
    ) -> None:
        self.store = store
        self.webhook_url = webhook_url
        self.workspace = workspace  # named in every embed's footer
        self.timeout, self.retries, self.backoff, self.cooldown, self.deadline = timeout, retries, backoff, cooldown, deadline
        self._session = requests.Session()
        self._queue: queue.Queue[tuple[int, dict] | None] = queue.Queue()
        self._last_sent: dict[tuple[str, str], tuple[float, object]] = {}
        self._dedupe_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="discord-notifier", daemon=True)
        self._thread.start()

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url)

    @property
    def masked_url(self) -> str:
        return mask_secret(self.webhook_url)

    def notify(
        self,
        kind: str,
        level: str,
        title: str,
        description: str,
        fields: dict[str, object] | None = None,
        collapse: bool = True,
        *,
        cycle_id: int | None = None,
        episode: object = None,
        info: bool = False,
    ) -> int:
        """Store the alert and queue it. A repeat of the same alert in the same episode (a drift episode
        starts at its first drifted cycle) inside the cooldown is stored as collapsed; a new episode is
        news, however soon it follows the last one. `info`: stored for the screens, never sent."""
        embed = build_embed(title, description, level, fields, workspace=self.workspace)
        delivery = INFO_DELIVERY if info else "pending" if self.configured else "not_sent"
        if collapse and not info and self._is_repeat(kind, title, episode):
            delivery = "collapsed"
        record = {
            "created_at": utcnow(),
            "kind": kind,
            "level": level,
            "title": embed["title"],
            "description": embed["description"],
            "payload": json.dumps({"username": "IA Continu", "embeds": [embed]}),
            "delivery": delivery,
            "cycle_id": cycle_id,
        }
        notification_id = self.store.insert_notification(record)
        if delivery == "pending":
            self._queue.put((notification_id, json.loads(record["payload"])))
        return notification_id

    def resend(self, notification_id: int, payload: str) -> None:
        """Queue a stored alert again (one a stop left pending)."""
        self._queue.put((notification_id, json.loads(payload)))

    def send_test(self) -> int:
        return self.notify(
            "test", "info", "Test message", "IA Continu can reach this channel.", {"Webhook": self.masked_url}, collapse=False
        )

    def _is_repeat(self, kind: str, title: str, episode: object) -> bool:
        now = time.monotonic()
        key = (kind, title)
        with self._dedupe_lock:
            last = self._last_sent.get(key)
            if last is not None and last[1] == episode and now - last[0] < self.cooldown:
                return True
            self._last_sent[key] = (now, episode)
            return False

    # the sender thread --------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            except Exception:  # a bug here must not kill the sender
                log.exception("notification sender failed")
            finally:
                self._queue.task_done()

    def _deliver(self, notification_id: int, payload: dict) -> None:
        """Send with retries, all inside the alert's deadline: a webhook that accepts and never
        answers costs one deadline, not retries x timeout plus backoff."""
        attempts, status, error = 0, None, None
        give_up = time.monotonic() + self.deadline
        while attempts <= self.retries:
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                error = f"{error or 'no answer'}; gave up at the {self.deadline:g} s deadline (IA_NOTIFY_DEADLINE)"
                break
            attempts += 1
            delay = None
            try:
                response = self._session.post(self.webhook_url, json=payload, timeout=min(self.timeout, remaining))
                status = response.status_code
                if 200 <= status < 300:
                    self.store.update_notification(
                        notification_id, delivery="sent", attempts=attempts, http_status=status, error=None, sent_at=utcnow()
                    )
                    return
                error = f"HTTP {status}: {self._scrub(response.text[:300])}"
                if status == 429:
                    delay = _retry_after(response)
                elif status < 500:
                    break  # a 4xx other than 429 will not get better by retrying
            except requests.RequestException as exc:
                status, error = None, f"{type(exc).__name__}: {self._scrub(str(exc))}"
            if attempts <= self.retries:
                wait = delay if delay is not None else self.backoff * 2 ** (attempts - 1)
                if time.monotonic() + wait >= give_up:
                    error = f"{error}; gave up at the {self.deadline:g} s deadline (IA_NOTIFY_DEADLINE)"
                    break
                log.warning("Discord send %s failed (%s); retry %s in %.1f s", notification_id, error, attempts, wait)
                if self._stopping.wait(wait):
                    return  # stays pending: retried at the next start
        log.error("Discord send %s failed after %s attempts: %s", notification_id, attempts, error)
        self.store.update_notification(notification_id, delivery="failed", attempts=attempts, http_status=status, error=error)

    def _scrub(self, text: str) -> str:
        """Remove the webhook (and its path, which holds the token) from any text."""
        if not self.webhook_url:
            return text
        path = urlsplit(self.webhook_url).path
        text = text.replace(self.webhook_url, self.masked_url)
        return text.replace(path, "/…") if path and path != "/" else text

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty (for tests and shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 5.0) -> None:
        """Give queued messages a short grace, then stop retrying and end the thread."""
        self.flush(timeout)
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout)
        self._session.close()


class HeldAlerts:
    """A cycle's alerts, held until the cycle they name is stored: an alert never points at a cycle the store
    does not have. It takes `notify` calls as a `Notifier` does (the gate's announcements go through it too)."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self._held: list[tuple[tuple, dict]] = []

    def notify(self, kind: str, level: str, title: str, description: str, fields: dict[str, object] | None = None,
               **options: object) -> None:  # fmt: skip
        self._held.append(((kind, level, title, description, fields), options))

    def release(self, final: dict[str, object] | None = None) -> None:
        """Store and send every held alert, in the order they were raised; one that cannot be stored is logged.
        `final`: the cycle's figures as it ended, over those an alert took when raised (a drop alert raised before
        the cycle failed said Status: ok)."""
        held, self._held = self._held, []
        for (*args, fields), options in held:
            if final and fields:
                fields = {**fields, **{k: v for k, v in final.items() if k in fields}}
            try:
                self.notifier.notify(*args, fields, **options)
            except Exception:
                log.exception("could not record the %s alert", args[0])


def _retry_after(response: requests.Response) -> float:
    """Discord's 429 carries retry_after (seconds) in the JSON body and a Retry-After header."""
    try:
        value = float(response.json().get("retry_after"))
    except (ValueError, AttributeError, TypeError):
        try:
            value = float(response.headers.get("Retry-After", 1.0))
        except ValueError:
            value = 1.0
    return min(max(value, 0.0), MAX_RETRY_AFTER)
