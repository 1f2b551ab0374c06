"""The read side: every projection, kept current from the log.

Projections are derived from the log only.  A node applies the records it
appends itself at once, and reads the log for anything it has not seen (records
other nodes wrote, or a gap); ``rebuild`` folds a whole log into a fresh read
side, which is what ``replay`` compares with the live one.

A *compact* read side (``compact=True``) keeps chat histories and notifications
as counts and digests (``projections/digests.py``): what a rebuild needs to be
compared, in memory that grows with the number of trips and notifications
rather than with the number of messages.  A serving node is never compact.

Projections take any ``RecordView``; what a read side reads from the log
itself are ``SlimRecord`` values (the store's slim reads).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from domain.trip_model import Trip
from eventlog.ports import EventStore, RecordFilter
from eventlog.records import LogRecord, RecordView
from projections.audit import AuditViews
from projections.chat import ChatHistories, chat_message_view
from projections.notifications import (
    NOTIFICATION_CREATED,
    NOTIFICATION_READ,
    NOTIFYING_COMMANDS,
    Notifications,
    notification_view,
)
from projections.read_models import NotificationRead, ReadModelChange, ReadModelWriter, TripView
from projections.trips import StreamGap, TripStates

PAGE = 5000
Progress = Callable[[int], None]  # told how many records were just folded


class ReadSide:
    def __init__(
        self,
        store: EventStore,
        *,
        compact: bool = False,
        page: int | None = None,
        writer: ReadModelWriter | None = None,
    ) -> None:
        self._store = store
        self._writer = writer  # mirrors what this side folds into external read models (None: nowhere)
        # records per read (default: what suits the store)
        self._page = page or store.fold_page
        # a compact side only reads: the items' recent changes (for conflicts) are not kept
        self.trips = TripStates(remember_changes=not compact)
        self.chat = ChatHistories(compact=compact)
        self.notifications = Notifications(compact=compact)
        self.audit = AuditViews()
        self.gaps: dict[str, str] = {}  # rebuilds: stream -> the gap that stopped it
        self.folded = 0  # the furthest log position this side has folded (the projection lag metric)
        self._loaded: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._notifications_lock = asyncio.Lock()
        self._audit_lock = asyncio.Lock()

    async def _read_all(self, after_position: int, limit: int, where: RecordFilter | None) -> Sequence[RecordView]:
        return await self._store.read_all_slim(after_position, limit, where)

    async def _read_stream(self, stream: str, after_version: int, limit: int | None) -> Sequence[RecordView]:
        return await self._store.read_stream_slim(stream, after_version, limit)

    def apply(self, record: LogRecord) -> None:
        """Apply a record this node appended; a gap is left for the next catch-up."""
        if record.position > self.folded:
            self.folded = record.position
        change = ReadModelChange() if self._writer is not None else None
        if change is not None and record.command in NOTIFYING_COMMANDS:
            _notification_changes(record, change)
        if record.stream is not None and record.version is not None:
            try:
                applied = self.trips.apply(record)
                self.chat.apply(record)
            except StreamGap:
                self._loaded.discard(record.stream)
            else:
                if change is not None and applied:
                    change.trip = self._trip_view(record.stream)
                    message = chat_message_view(record)
                    if message is not None:
                        change.messages.append(message)
        if self._writer is not None and change is not None:
            self._writer.submit(change)

    def _trip_view(self, trip_id: str) -> TripView:
        state = self.trips.get(trip_id)
        return TripView(trip_id, self.trips.version(trip_id), state.to_json() if state is not None else None)

    def _seen(self, records: Sequence[RecordView]) -> None:
        if records:
            self.folded = max(self.folded, max(record.position for record in records))

    async def catch_up_trip(self, trip_id: str) -> Trip | None:
        lock = self._locks.setdefault(trip_id, asyncio.Lock())
        async with lock:
            after = min(self.trips.version(trip_id), self.chat.version(trip_id))
            change = ReadModelChange() if self._writer is not None else None
            while True:
                records = await self._read_stream(trip_id, after, self._page)
                for record in records:
                    applied = self.trips.apply(record)
                    if self.chat.apply(record) and change is not None:
                        message = chat_message_view(record)
                        if message is not None:
                            change.messages.append(message)
                    if applied and change is not None:
                        change.trip = TripView(trip_id, 0, None)  # filled in below, once
                self._seen(records)
                if len(records) < self._page:
                    break
                after = records[-1].version or after
            self._loaded.add(trip_id)
            if self._writer is not None and change is not None:
                if change.trip is not None:
                    change.trip = self._trip_view(trip_id)
                self._writer.submit(change)
        return self.trips.get(trip_id)

    async def trip(self, trip_id: str, *, fresh: bool = True) -> Trip | None:
        """The trip's state; ``fresh=False`` trusts what this node has seen."""
        if fresh or trip_id not in self._loaded:
            return await self.catch_up_trip(trip_id)
        return self.trips.get(trip_id)

    async def catch_up_notifications(self, progress: Progress | None = None) -> None:
        async with self._notifications_lock:
            where = RecordFilter(commands=NOTIFYING_COMMANDS)
            while True:
                records = await self._read_all(self.notifications.position, self._page, where)
                change = ReadModelChange() if self._writer is not None else None
                for record in records:
                    if self.notifications.apply(record) and change is not None:
                        _notification_changes(record, change)
                if self._writer is not None and change is not None:
                    self._writer.submit(change)
                self._seen(records)
                if progress is not None:
                    progress(len(records))
                if len(records) < self._page:
                    return

    async def catch_up_audit(self) -> None:
        async with self._audit_lock:
            while True:
                records = await self._read_all(self.audit.position, self._page, None)
                for record in records:
                    self.audit.apply(record)
                self._seen(records)
                if len(records) < self._page:
                    return

    async def catch_up_all(self) -> int:
        """Catch every projection up with the whole log, every trip in it included.

        Returns the position the audit views cover (trips may be a little ahead
        when records arrive meanwhile).
        """
        await self.catch_up_audit()
        await self.catch_up_notifications()
        for trip_id in sorted(self.audit.streams):
            await self.catch_up_trip(trip_id)
        return self.audit.position

    async def drain(self) -> None:
        """Wait until the external read models hold what this side has folded so far."""
        if self._writer is not None:
            await self._writer.drain()

    def apply_any(self, record: RecordView) -> None:
        """Fold any record in position order (used by rebuilds)."""
        self.trips.apply(record)
        self.chat.apply(record)
        if record.command in NOTIFYING_COMMANDS:
            self.notifications.apply(record)
        self.audit.apply(record)

    @classmethod
    async def rebuild(
        cls,
        store: EventStore,
        progress: Progress | None = None,
        *,
        compact: bool = False,
        until: int | None = None,
        page: int | None = None,
    ) -> ReadSide:
        """A fresh read side folded from the log in position order (up to position ``until``).

        Does what ``apply_any`` does for each record, unrolled.  A stream with a
        gap (a version missing) stops being applied; ``gaps`` says where.
        """
        fresh = cls(store, compact=compact, page=page)
        trips, chat, notifications, audit = (
            fresh.trips.apply,
            fresh.chat.apply,
            fresh.notifications.apply,
            fresh.audit.apply,
        )
        gaps, read, page = fresh.gaps, fresh._read_all, fresh._page
        notifying = frozenset(NOTIFYING_COMMANDS)
        position, done = 0, False
        while not done:
            records = await read(position, page, None)
            done = len(records) < page
            if until is not None and records and records[-1].position > until:
                records = [record for record in records if record.position <= until]
                done = True
            for record in records:
                if record.version is not None:
                    try:
                        trips(record)
                        chat(record)
                    except StreamGap as gap:
                        gaps.setdefault(record.stream or "", str(gap))
                if record.command in notifying:
                    notifications(record)
                audit(record)
            if progress is not None:
                progress(len(records))
            if records:
                position = records[-1].position
        return fresh

    def snapshot(self, *, audit: bool = False) -> dict[str, Any]:
        """Every projection as JSON; ``audit=True`` adds the audit views."""
        views = {
            "trips": self.trips.snapshot(),
            "chat": self.chat.snapshot(),
            "notifications": self.notifications.snapshot(),
        }
        if audit:
            views["audit"] = self.audit.snapshot()
        return views


def _notification_changes(record: RecordView, change: ReadModelChange) -> None:
    """The notifications a record creates or marks read, as external read model writes."""
    for event in record.events:
        data = event["data"]
        if event["type"] == NOTIFICATION_CREATED:
            view = notification_view(data, record.at)
            change.created.append({**view, "userId": data["userId"], "position": record.position})
        elif event["type"] == NOTIFICATION_READ:
            change.reads.append(NotificationRead(data["notificationId"], data["userId"], record.position))
