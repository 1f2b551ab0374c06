"""How far each user has read each trip's chat, folded from the ``mark_chat_read`` records."""

from __future__ import annotations

from domain.read_marks import CHAT_READ
from eventlog.records import RecordView

READ_COMMANDS = ("mark_chat_read",)


class ReadMarks:
    def __init__(self) -> None:
        self.position = 0
        self._marks: dict[tuple[str, str], int] = {}  # (user id, trip id) -> the seq read up to

    def apply(self, record: RecordView) -> bool:
        if record.position <= self.position:
            return False
        self.position = record.position
        changed = False
        for event in record.events:
            if event["type"] == CHAT_READ:
                data = event["data"]
                key = (data["userId"], data["tripId"])
                if data["seq"] > self._marks.get(key, 0):
                    self._marks[key] = data["seq"]
                    changed = True
        return changed

    def of(self, user_id: str, trip_id: str) -> int:
        return self._marks.get((user_id, trip_id), 0)
