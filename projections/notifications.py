"""Each user's notifications, folded from the whole log in position order."""

from __future__ import annotations

from typing import Any

from eventlog.records import LogRecord

NOTIFICATION_CREATED = "notification_created"
NOTIFICATION_READ = "notification_read"
# The commands whose records may carry notification events.
NOTIFYING_COMMANDS = ("chat_message", "notify", "mark_notification_read")


def notification_view(data: dict[str, Any], at: str) -> dict[str, Any]:
    """A notification as its user sees it, live and over REST."""
    return {**{k: v for k, v in data.items() if k != "userId"}, "createdAt": at}


class Notifications:
    def __init__(self) -> None:
        self.position = 0
        self._by_user: dict[str, dict[str, dict[str, Any]]] = {}

    def apply(self, record: LogRecord) -> bool:
        if record.position <= self.position:
            return False
        self.position = record.position
        changed = False
        for event in record.events:
            data = event["data"]
            if event["type"] == NOTIFICATION_CREATED:
                view = {**notification_view(data, record.at), "read": False}
                self._by_user.setdefault(data["userId"], {})[data["notificationId"]] = view
                changed = True
            elif event["type"] == NOTIFICATION_READ:
                found = self._by_user.get(data["userId"], {}).get(data["notificationId"])
                if found is not None:
                    found["read"] = True
                    changed = True
        return changed

    def of(self, user_id: str, unread_only: bool = False) -> list[dict[str, Any]]:
        items = list(self._by_user.get(user_id, {}).values())
        return [dict(n) for n in items if not (unread_only and n["read"])]

    def find(self, user_id: str, notification_id: str) -> dict[str, Any] | None:
        return self._by_user.get(user_id, {}).get(notification_id)

    def snapshot(self) -> dict[str, Any]:
        return {user: list(items.values()) for user, items in sorted(self._by_user.items())}
