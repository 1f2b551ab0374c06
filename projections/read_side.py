"""The read side: every projection, kept current from the log.

Projections are derived from the log only.  A node applies the records it
appends itself at once, and reads the log for anything it has not seen (records
other nodes wrote, or a gap); ``rebuild`` folds a whole log into a fresh read
side, which is what ``replay`` compares with the live one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from domain.trip_model import Trip
from eventlog.ports import EventStore, RecordFilter
from eventlog.records import LogRecord
from projections.chat import ChatHistories
from projections.notifications import NOTIFYING_COMMANDS, Notifications
from projections.trips import StreamGap, TripStates

PAGE = 5000


class ReadSide:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.trips = TripStates()
        self.chat = ChatHistories()
        self.notifications = Notifications()
        self._loaded: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._notifications_lock = asyncio.Lock()

    def apply(self, record: LogRecord) -> None:
        """Apply a record this node appended; a gap is left for the next catch-up."""
        if record.stream is None or record.version is None:
            return
        try:
            self.trips.apply(record)
            self.chat.apply(record)
        except StreamGap:
            self._loaded.discard(record.stream)

    async def catch_up_trip(self, trip_id: str) -> Trip | None:
        lock = self._locks.setdefault(trip_id, asyncio.Lock())
        async with lock:
            after = min(self.trips.version(trip_id), self.chat.version(trip_id))
            while True:
                records = await self._store.read_stream(trip_id, after_version=after, limit=PAGE)
                for record in records:
                    self.trips.apply(record)
                    self.chat.apply(record)
                if len(records) < PAGE:
                    break
                after = records[-1].version or after
            self._loaded.add(trip_id)
        return self.trips.get(trip_id)

    async def trip(self, trip_id: str, *, fresh: bool = True) -> Trip | None:
        """The trip's state; ``fresh=False`` trusts what this node has seen."""
        if fresh or trip_id not in self._loaded:
            return await self.catch_up_trip(trip_id)
        return self.trips.get(trip_id)

    async def catch_up_notifications(self) -> None:
        async with self._notifications_lock:
            where = RecordFilter(commands=NOTIFYING_COMMANDS)
            while True:
                records = await self._store.read_all(self.notifications.position, PAGE, where)
                for record in records:
                    self.notifications.apply(record)
                if len(records) < PAGE:
                    return

    def apply_any(self, record: LogRecord) -> None:
        """Fold any record in position order (used by rebuilds)."""
        self.trips.apply(record)
        self.chat.apply(record)
        if record.command in NOTIFYING_COMMANDS:
            self.notifications.apply(record)

    @classmethod
    async def rebuild(cls, store: EventStore, progress: Any = None) -> ReadSide:
        fresh = cls(store)
        position = 0
        while True:
            records = await store.read_all(position, PAGE)
            for record in records:
                fresh.apply_any(record)
            if progress is not None:
                progress(len(records))
            if len(records) < PAGE:
                break
            position = records[-1].position
        return fresh

    def snapshot(self) -> dict[str, Any]:
        return {
            "trips": self.trips.snapshot(),
            "chat": self.chat.snapshot(),
            "notifications": self.notifications.snapshot(),
        }
