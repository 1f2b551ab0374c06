"""Announcements (admin broadcasts kept with an expiry) and who has read which, folded from
the log in position order."""

from __future__ import annotations

from typing import Any

from domain.announcements import ANNOUNCEMENT_CREATED, ANNOUNCEMENT_READ
from eventlog.records import RecordView
from projections.folded import FoldedInOrder

ANNOUNCING_COMMANDS = ("admin_broadcast", "mark_announcement_read")


class Announcements(FoldedInOrder):
    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, dict[str, Any]] = {}  # id -> the announcement, oldest first
        self._read: set[tuple[str, str]] = set()  # (user id, announcement id)

    def fold(self, event: Any, record: RecordView) -> bool:
        data = event["data"]
        if event["type"] == ANNOUNCEMENT_CREATED:
            self._items[data["announcementId"]] = dict(data)
            return True
        if event["type"] == ANNOUNCEMENT_READ:
            self._read.add((data["userId"], data["announcementId"]))
            return True
        return False

    def find(self, announcement_id: str) -> dict[str, Any] | None:
        return self._items.get(announcement_id)

    def shown_to(self, user_id: str, now: str, *, unread_only: bool = False) -> list[dict[str, Any]]:
        """The announcements not expired at ``now`` (ISO 8601 UTC), oldest first, each with the user's ``read``."""
        shown = []
        for announcement in self._items.values():
            if announcement["expiresAt"] <= now:
                continue
            was_read = (user_id, announcement["announcementId"]) in self._read
            if not (unread_only and was_read):
                shown.append({**announcement, "read": was_read})
        return shown
