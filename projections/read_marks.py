"""How far each user has read each trip's chat, folded from the ``mark_chat_read`` records."""

from __future__ import annotations

from typing import Any

from domain.read_marks import CHAT_READ
from eventlog.records import RecordView
from projections.folded import FoldedInOrder

READ_COMMANDS = ("mark_chat_read",)


class ReadMarks(FoldedInOrder):
    def __init__(self) -> None:
        super().__init__()
        self._marks: dict[tuple[str, str], int] = {}  # (user id, trip id) -> the seq read up to

    def fold(self, event: Any, record: RecordView) -> bool:
        if event["type"] != CHAT_READ:
            return False
        data = event["data"]
        key = (data["userId"], data["tripId"])
        if data["seq"] <= self._marks.get(key, 0):
            return False
        self._marks[key] = data["seq"]
        return True

    def of(self, user_id: str, trip_id: str) -> int:
        return self._marks.get((user_id, trip_id), 0)
