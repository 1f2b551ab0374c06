"""Each user's notifications, folded from the whole log in position order."""

from __future__ import annotations

from typing import Any

from domain.trip_events import CHAT_MESSAGE_DELETED, NOTIFICATION_CREATED
from eventlog.records import RecordView
from projections.digests import UserNotifications, id_digest, item_bytes, notification_without_flag
from projections.folded import FoldedInOrder

__all__ = ["NOTIFICATION_CREATED", "NOTIFICATION_READ", "NOTIFYING_COMMANDS", "Notifications", "notification_view"]

NOTIFICATION_READ = "notification_read"
# The commands whose records may carry notification events (a change tells the people
# outside the room whose values it replaced; a deleted message's notifications lose their preview).
NOTIFYING_COMMANDS = (
    *("chat_message", "notify", "mark_notification_read", "delete_message"),
    *("trip_update", "undo", "redo", "restore_trip"),
)


def notification_view(data: dict[str, Any], at: str) -> dict[str, Any]:
    """A notification as its user sees it, live and over REST."""
    view = dict(data)
    view.pop("userId", None)
    view["createdAt"] = at
    return view


class Notifications(FoldedInOrder):
    """``compact=True`` keeps per user a count and a digest of the views, and the
    ids read, instead of the views (for rebuilds that are only compared, see
    ``projections/digests.py``).  A compact fold takes every read in the log for
    one of a notification the user has (the service records no other)."""

    def __init__(self, *, compact: bool = False) -> None:
        super().__init__()
        self.compact = compact
        self._by_user: dict[str, dict[str, dict[str, Any]]] = {}
        self._compact: dict[str, UserNotifications] = {}
        # chat message id -> the (user, notification id) of the notifications that preview it
        self._previews: dict[str, list[tuple[str, str]]] = {}

    def fold(self, event: Any, record: RecordView) -> bool:
        kind = event["type"]
        if kind == NOTIFICATION_CREATED:
            data = event["data"]
            view = notification_view(data, record.at)
            if self.compact:
                self._user(data["userId"]).created.add(item_bytes(notification_without_flag(view)))
            else:
                self._by_user.setdefault(data["userId"], {})[data["notificationId"]] = {**view, "read": False}
                if "messageId" in data and "preview" in data:
                    entry = (data["userId"], data["notificationId"])
                    self._previews.setdefault(data["messageId"], []).append(entry)
            return True
        if kind == CHAT_MESSAGE_DELETED:
            return self._forget_preview(event["data"]["messageId"])
        if kind == NOTIFICATION_READ:
            data = event["data"]
            return self._mark_read(data["userId"], data["notificationId"])
        return False

    def _forget_preview(self, message_id: str) -> bool:
        """A deleted message's text leaves the notifications that previewed it (their ``preview`` is empty)."""
        for user_id, notification_id in self._previews.pop(message_id, ()):
            found = self._by_user.get(user_id, {}).get(notification_id)
            if found is not None:
                found["preview"] = ""
        return True

    def _user(self, user_id: str) -> UserNotifications:
        found = self._compact.get(user_id)
        if found is None:
            found = self._compact[user_id] = UserNotifications()
        return found

    def _mark_read(self, user_id: str, notification_id: str) -> bool:
        if self.compact:
            self._user(user_id).read.add(id_digest(notification_id))
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
            return {user: notes.summary() for user, notes in sorted(self._compact.items()) if notes.created.count}
        return {user: list(items.values()) for user, items in sorted(self._by_user.items())}
