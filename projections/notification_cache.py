"""Recent users' notifications, each folded from the records that notify that user.

A serving node reads one user's notifications from the store by recipient
(``EventStore.read_notifications``), never by folding the whole log, and keeps
those of the users asked about most recently within a budget of bytes: what it
drops is read again from the store, so answers never depend on what it holds.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from eventlog.records import RecordView
from projections.digests import item_bytes
from projections.notifications import NOTIFICATION_CREATED, NOTIFICATION_READ, notification_view

USER_OVERHEAD = 400  # about what holding a user takes besides their notifications, in bytes
ITEM_OVERHEAD = 250  # about what a held notification takes besides its JSON, in bytes


class UserNotifications:
    """One user's notifications in the order created, folded from the records that notify them."""

    __slots__ = ("_items", "counted", "position", "user_id", "weight")

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.position = 0  # the newest record folded
        self.weight = USER_OVERHEAD  # about what holding them takes, in bytes
        self.counted = 0  # the weight the cache counted them at
        self._items: dict[str, dict[str, Any]] = {}

    def apply(self, record: RecordView) -> bool:
        """Fold a record that notifies this user (the events for other users in it are skipped)."""
        if record.position <= self.position:
            return False
        self.position = record.position
        for event in record.events:
            kind = event["type"]
            if kind not in (NOTIFICATION_CREATED, NOTIFICATION_READ):
                continue
            data = event["data"]
            if data["userId"] != self.user_id:
                continue
            if kind == NOTIFICATION_CREATED:
                view = {**notification_view(data, record.at), "read": False}
                if data["notificationId"] not in self._items:
                    self.weight += ITEM_OVERHEAD + len(item_bytes(view))
                self._items[data["notificationId"]] = view
            else:
                found = self._items.get(data["notificationId"])
                if found is not None:
                    found["read"] = True
        return True

    def of(self, unread_only: bool = False) -> list[dict[str, Any]]:
        return [dict(n) for n in self._items.values() if not (unread_only and n["read"])]

    def find(self, notification_id: str) -> dict[str, Any] | None:
        found = self._items.get(notification_id)
        return dict(found) if found is not None else None


class RecentNotifications:
    """The users whose notifications a node holds, least recently used first, within ``budget`` bytes
    (None: no limit).  The users just asked about are always held."""

    def __init__(self, budget: int | None) -> None:
        self._budget = budget
        self._held: OrderedDict[str, UserNotifications] = OrderedDict()
        self.held_bytes = 0

    def get(self, user_id: str) -> UserNotifications:
        """The user's notifications as held (caught up to ``position``), else an empty fold to catch up."""
        found = self._held.get(user_id)
        return found if found is not None else UserNotifications(user_id)

    def hold(self, notes: UserNotifications) -> None:
        """Count the user as just used, at their current weight; drop the least recently used past the budget."""
        before = self._held.pop(notes.user_id, None)
        if before is not None:
            self.held_bytes -= before.counted
        self._held[notes.user_id] = notes
        notes.counted = notes.weight
        self.held_bytes += notes.counted
        while self._budget is not None and self.held_bytes > self._budget and len(self._held) > 1:
            _, dropped = self._held.popitem(last=False)
            self.held_bytes -= dropped.counted

    def holds(self, user_id: str) -> bool:
        return user_id in self._held

    @property
    def held_users(self) -> int:
        return len(self._held)
