"""The notification log: every alert with its delivery status."""

from __future__ import annotations

import pandas as pd

from core.store.base import StoreBase, insert_row, plain


class AlertQueries(StoreBase):
    def insert_notification(self, record: dict) -> int:
        with self.transaction() as tx:
            return insert_row(tx, "notifications", record, returning="notification_id")

    def update_notification(self, notification_id: int, **values: object) -> None:
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as tx:
            tx.execute(f"UPDATE notifications SET {assignments} WHERE notification_id = ?", [*map(plain, values.values()), notification_id])

    def notifications(self, limit: int = 100) -> pd.DataFrame:
        return self.cur.execute("SELECT * FROM notifications ORDER BY notification_id DESC LIMIT ?", [limit]).df()

    def recent_deliveries(self, limit: int) -> list[tuple[str, int | None, str | None]]:
        """(delivery, http_status, error) of the newest alerts that were sent or failed, newest first."""
        return self.cur.execute(
            """SELECT delivery, http_status, error FROM notifications WHERE delivery IN ('sent', 'failed')
               ORDER BY notification_id DESC LIMIT ?""",
            [limit],
        ).fetchall()

    def cycle_notifications(self, cycle_id: int) -> list[dict]:
        """The alerts a cycle sent (migration 7 gave older alerts their cycle id from their embed)."""
        return (
            self.cur.execute("SELECT * FROM notifications WHERE cycle_id = ? ORDER BY notification_id", [cycle_id]).df().to_dict("records")
        )

    def notification(self, notification_id: int) -> dict | None:
        return self._one("SELECT * FROM notifications WHERE notification_id = ?", [notification_id])

    def pending_notifications(self) -> list[dict]:
        """Alerts stored but never delivered: a stop came before the sender finished them."""
        cur = self.cur.execute("SELECT notification_id, created_at, payload FROM notifications WHERE delivery = 'pending' ORDER BY 1")
        return [dict(zip(("notification_id", "created_at", "payload"), row, strict=True)) for row in cur.fetchall()]
