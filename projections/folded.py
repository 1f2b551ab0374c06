"""What every read model folded from the log in position order shares: a record is applied
once (one at or before the last position folded is skipped), each of its events in turn."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from eventlog.records import RecordView


class FoldedInOrder(ABC):
    def __init__(self) -> None:
        self.position = 0  # the newest record folded

    def apply(self, record: RecordView) -> bool:
        """Fold ``record`` unless it was folded already; whether the model changed."""
        if record.position <= self.position:
            return False
        self.position = record.position
        changed = False
        for event in record.events:
            changed = self.fold(event, record) or changed
        return changed

    @abstractmethod
    def fold(self, event: Any, record: RecordView) -> bool:
        """Fold one event of ``record``; whether the model changed."""
