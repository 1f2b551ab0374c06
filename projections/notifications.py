"""Each user's notifications, folded from the whole log in position order."""

from __future__ import annotations

from typing import Any

from eventlog.records import LogRecord
from projections.digests import item_digest, notification_part, notifications_summary

NOTIFICATION_CREATED = "notification_created"
NOTIFICATION_READ = "notification_read"
# The commands whose records may carry notification events.
NOTIFYING_COMMANDS = ("chat_message", "notify", "mark_notification_read")


def notification_view(data: dict[str, Any], at: str) -> dict[str, Any]:
    """A notification as its user sees it, live and over REST."""
    return {**{k: v for k, v in data.items() if k != "userId"}, "createdAt": at}


class Notifications:
    """``compact=True`` keeps a digest and a read flag per notification instead of
    its view (for rebuilds that are only compared, see ``projections/digests.py``)."""

    def __init__(self, *, compact: bool = False) -> None:
        self.position = 0
        self.compact = compact
        self._by_user: dict[str, dict[str, dict[str, Any]]] = {}
        self._parts: dict[str, dict[str, bytes]] = {}  # compact: user -> notification id -> digest + read flag

    def apply(self, record: LogRecord) -> bool:
        if record.position <= self.position:
            return False
        self.position = record.position
        changed = False
        for event in record.events:
            data = event["data"]
            if event["type"] == NOTIFICATION_CREATED:
                view = notification_view(data, record.at)
                if self.compact:
                    self._parts.setdefault(data["userId"], {})[data["notificationId"]] = notification_part(
                        item_digest(view), False
                    )
                else:
                    self._by_user.setdefault(data["userId"], {})[data["notificationId"]] = {**view, "read": False}
                changed = True
            elif event["type"] == NOTIFICATION_READ:
                changed = self._mark_read(data["userId"], data["notificationId"]) or changed
        return changed

    def _mark_read(self, user_id: str, notification_id: str) -> bool:
        if self.compact:
            parts = self._parts.get(user_id, {})
            part = parts.get(notification_id)
            if part is None:
                return False
            parts[notification_id] = notification_part(part[:-1], True)
            return True
        found = self._by_user.get(user_id, {}).get(notification_id)
        if found is None:
            return False
        found["read"] = True
        return True

    def of(self, user_id: str, unread_only: bool = False) -> list[dict[str, Any]]:
        items = list(self._by_user.get(user_id, {}).values())
        return [dict(n) for n in items if not (unread_only and n["read"])]

    def find(self, user_id: str, notification_id: str) -> dict[str, Any] | None:
        return self._by_user.get(user_id, {}).get(notification_id)

    def snapshot(self) -> dict[str, Any]:
        """user id -> their notifications (compact: ``{"notifications", "unread", "digest"}``)."""
        if self.compact:
            return {user: notifications_summary(parts.values()) for user, parts in sorted(self._parts.items())}
        return {user: list(items.values()) for user, items in sorted(self._by_user.items())}
