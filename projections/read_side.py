"""The read side: every projection, kept current from the log.

Projections are derived from the log only.  A node applies the records it
appends itself at once, and reads the log for anything it has not seen (records
other nodes wrote, or a gap); ``rebuild`` folds a whole log into a fresh read
side, which is what ``replay`` compares with the live one.

A *compact* read side (``compact=True``) keeps chat histories and notifications
as counts and digests (``projections/digests.py``): what a rebuild needs to be
compared, in memory that grows with the number of trips and notifications
rather than with the number of messages.  A serving node is never compact.

A *serving* read side (built with a ``TripCache``) holds trip states and the
recent chat of each trip in a cache with a budget, dropping the least recently
used trips past it: a node's memory does not grow with the log.  A trip it does
not hold is loaded from its latest snapshot in the store plus the records after
it; snapshots are written in the background every ``snapshot_every`` records
and when a trip is dropped.  Chat pages older than what it holds are read from
the store (``chat_page``).

A user's notifications are read from the store by recipient (``notifications_of``,
``projections/notification_cache.py``) on every read side, the recent users' held
within ``notification_budget`` bytes; ``notifications``, the whole log's, is folded
only by rebuilds and ``catch_up_notifications`` (never on a serving node's path).

Projections take any ``RecordView``; what a read side reads from the log
itself are ``SlimRecord`` values (the store's slim reads).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from domain.chat_notes import noted_view
from domain.trip_codec import trip_from_snapshot, trip_to_snapshot
from domain.trip_events import CHAT_MESSAGE_DELETED
from domain.trip_model import Trip
from eventlog.ports import EventStore, RecordFilter, TripSnapshot
from eventlog.records import LogRecord, RecordView
from projections.announcements import ANNOUNCING_COMMANDS, Announcements
from projections.audit import AuditViews
from projections.chat import ChatHistories, NotHeld, chat_change_view, chat_message_view
from projections.notification_cache import RecentNotifications, UserNotifications
from projections.notifications import (
    NOTIFICATION_CREATED,
    NOTIFICATION_READ,
    NOTIFYING_COMMANDS,
    Notifications,
    notification_view,
)
from projections.read_marks import READ_COMMANDS, ReadMarks
from projections.read_models import NotificationRead, ReadModelChange, ReadModelWriter, TripView
from projections.sessions import SessionFolder
from projections.snapshot_schema import snapshot_schema
from projections.trips import StreamGap, TripStates

log = logging.getLogger("travelsense.read_side")

PAGE = 5000
Progress = Callable[[int], None]  # told how many records were just folded
CHAT_TAIL = 50  # newest messages a serving node holds per trip (a default history page; it holds up to twice as many)
TRIP_OVERHEAD = 800  # about what holding a trip takes besides its state and chat, in bytes
WHOLE_HISTORY = 1 << 62  # a chat page that holds every message
# Records folded between two turns of the event loop: a trip's first open with no snapshot folds
# thousands (~30 µs each), and every other request on the node waits while it runs (a history
# page's p99 went from 5 to 14 ms during such a sweep, bench/RESULTS.md S9).  50 keeps each
# stretch near a millisecond and costs a few microseconds per slice.
FOLD_SLICE = 50


@dataclass(frozen=True, slots=True)
class TripCache:
    """How a serving read side holds trips (see the module's doc)."""

    budget: int | None  # bytes of trip states and chat held; None: no limit
    snapshot_every: int | None = 1000  # records folded since a trip's last snapshot before the next; None: never
    schema: str = field(default_factory=snapshot_schema)  # what this code's snapshots are made by
    chat_tail: int | None = CHAT_TAIL  # newest messages held per trip; None: whole histories


class ReadSide:
    def __init__(
        self,
        store: EventStore,
        *,
        compact: bool = False,
        page: int | None = None,
        writer: ReadModelWriter | None = None,
        cache: TripCache | None = None,
        sessions: SessionFolder | None = None,
        notification_budget: int | None = None,
    ) -> None:
        self._store = store
        self._cache = cache  # None: every trip folded from its whole stream and held for good
        self._sessions = sessions  # folds session records from what this node appends (None: not kept)
        self._writer = writer  # mirrors what this side folds into external read models (None: nowhere)
        # records per read (default: what suits the store)
        self._page = page or store.fold_page
        self._stream_page = page or store.stream_page  # a trip's stream, when it is folded
        # a compact side only reads: the items' recent changes (for conflicts) are not kept
        self.trips = TripStates(remember_changes=not compact, weigh=cache is not None and cache.budget is not None)
        self.chat = ChatHistories(compact=compact, tail=cache.chat_tail if cache is not None else None)
        self.notifications = Notifications(compact=compact)  # the whole log's (rebuilds; never caught up when serving)
        # users' notifications read by recipient, the recent ones held within ``notification_budget`` bytes
        self.recent_notifications = RecentNotifications(notification_budget)
        self.audit = AuditViews()
        self.read_marks = ReadMarks()
        self._read_marks_lock = asyncio.Lock()
        self.announcements = Announcements()
        self._announcements_read: asyncio.Future[None] | None = None  # the catch-up running, if any
        self.gaps: dict[str, str] = {}  # rebuilds: stream -> the gap that stopped it
        self.folded = 0  # the furthest log position this side has folded (the projection lag metric)
        self._loaded: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._notifications_lock = asyncio.Lock()
        self._audit_lock = asyncio.Lock()
        self._held: OrderedDict[str, int] = OrderedDict()  # trips held, least recently used first -> their weight
        self.held_bytes = 0  # about what the trips held take (their states, chat and bookkeeping)
        self._pinned: set[str] = set()  # trips being loaded or caught up: never dropped meanwhile
        self._snapshotted: dict[str, int] = {}  # trip -> the version of its newest snapshot known
        self._saving: dict[str, asyncio.Task[None]] = {}  # trip -> its snapshot being written

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
                if self._cache is not None and applied:
                    self._hold(record.stream)
                if change is not None and applied:
                    change.trip = self._trip_view(record.stream)
                    _message_changes(record, change)
        if self._writer is not None and change is not None:
            self._writer.submit(change)
        if self._sessions is not None:
            self._sessions.apply(record)

    def _trip_view(self, trip_id: str) -> TripView:
        state = self.trips.get(trip_id)
        return TripView(trip_id, self.trips.version(trip_id), state.to_json() if state is not None else None)

    def _seen(self, records: Sequence[RecordView]) -> None:
        if records:
            self.folded = max(self.folded, max(record.position for record in records))

    async def catch_up_trip(self, trip_id: str) -> Trip | None:
        lock = self._locks.setdefault(trip_id, asyncio.Lock())
        async with lock:
            self._pinned.add(trip_id)
            try:
                await self._fold_trip(trip_id)
            finally:
                self._pinned.discard(trip_id)
            if self._cache is not None:
                self._hold(trip_id)
        return self.trips.get(trip_id)

    async def _load(self, trip_id: str, cache: TripCache) -> None:
        """Start a trip this side does not hold from its latest snapshot (if any), with its newest chat."""
        snapshot = await self._store.load_snapshot(trip_id, cache.schema)
        version = snapshot.version if snapshot is not None else 0
        self.trips.seed(trip_id, trip_from_snapshot(snapshot.state) if snapshot is not None else None, version)
        if snapshot is not None:
            self._snapshotted[trip_id] = version
        if self.chat.compact:
            return
        limit = cache.chat_tail or WHOLE_HISTORY
        records = await self._store.read_chat_page(trip_id, limit) if version else []
        messages = self._noted(
            trip_id,
            [
                view
                for record in records or ()
                if (record.version or 0) <= version and (view := chat_message_view(record)) is not None
            ],
        )
        self.chat.seed(trip_id, version, messages, complete=version == 0 or len(records or ()) < limit)

    async def _fold_trip(self, trip_id: str) -> None:
        if self._cache is not None and not self.trips.held(trip_id):
            await self._load(trip_id, self._cache)
        after = min(self.trips.version(trip_id), self.chat.version(trip_id))
        change = ReadModelChange() if self._writer is not None else None
        while True:
            records = await self._read_stream(trip_id, after, self._stream_page)
            for start in range(0, len(records), FOLD_SLICE):
                if start:
                    await asyncio.sleep(0)  # let other requests run (see FOLD_SLICE); the trip is pinned meanwhile
                for record in records[start : start + FOLD_SLICE]:
                    applied = self.trips.apply(record)
                    if self.chat.apply(record) and change is not None:
                        _message_changes(record, change)
                    if applied and change is not None:
                        change.trip = TripView(trip_id, 0, None)  # filled in below, once
            self._seen(records)
            if len(records) < self._stream_page:
                break
            after = records[-1].version or after
        self._loaded.add(trip_id)
        if self._writer is not None and change is not None:
            if change.trip is not None:
                change.trip = self._trip_view(trip_id)
            self._writer.submit(change)

    def holds(self, trip_id: str) -> bool:
        """Whether ``trip(trip_id, fresh=False)`` answers from memory, reading nothing."""
        return trip_id in self._loaded

    async def trip(self, trip_id: str, *, fresh: bool = True) -> Trip | None:
        """The trip's state; ``fresh=False`` trusts what this node has seen."""
        if fresh or trip_id not in self._loaded:
            return await self.catch_up_trip(trip_id)
        if self._cache is not None:
            self._hold(trip_id)
        return self.trips.get(trip_id)

    async def chat_page(self, trip_id: str, limit: int, before: str | None) -> list[dict[str, Any]] | None:
        """Up to ``limit`` messages, newest last, older than ``before``; None if ``before`` is unknown.

        From what this side holds when that answers, else from the store (by index, never a fold)."""
        found = self.chat.held_page(trip_id, limit, before)
        if not isinstance(found, NotHeld):
            return found
        records = await self._store.read_chat_page(trip_id, limit, before)
        if records is None:
            return None
        return self._noted(trip_id, [view for record in records if (view := chat_message_view(record)) is not None])

    async def chat_author(self, trip_id: str, message_id: str) -> str | None:
        """Who posted the message in the trip (None: no such message), from memory or the store's index."""
        held = self.chat.held_message(trip_id, message_id)
        if held is not None:
            return str(held["userId"])
        record = await self._store.find_chat_message(trip_id, message_id)
        view = chat_message_view(record) if record is not None else None
        return str(view["userId"]) if view is not None else None

    def _noted(self, trip_id: str, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Messages read from the log as posted, in their current form (edited, or tombstones)
        as the trip's state notes them (the state as of the last change other than a post)."""
        state = self.trips.membership(trip_id)
        notes = state.chat_notes if state is not None else {}
        if not notes:
            return views
        return [noted_view(view, notes.get(view["messageId"])) for view in views]

    # the cache ------------------------------------------------------------------

    def _hold(self, trip_id: str) -> None:
        """Count the trip as just used, at its current weight; drop the least recently used past the budget."""
        cache = self._cache
        assert cache is not None
        weight = TRIP_OVERHEAD + self.trips.weight(trip_id) + self.chat.weight(trip_id)
        before = self._held.get(trip_id)
        if before is None:
            self._held[trip_id] = weight
        else:
            self._held.move_to_end(trip_id)
            self._held[trip_id] = weight
        self.held_bytes += weight - (before or 0)
        every = cache.snapshot_every
        if every is not None and self.trips.version(trip_id) - self._snapshotted.get(trip_id, 0) >= every:
            self._snapshot_later(trip_id, cache)
        if cache.budget is not None and self.held_bytes > cache.budget:
            self._drop_over_budget(cache.budget)

    def _drop_over_budget(self, budget: int) -> None:
        skipped = 0
        while self.held_bytes > budget and len(self._held) - skipped > 1:
            trip_id, weight = self._held.popitem(last=False)
            if trip_id in self._pinned:
                self._held[trip_id] = weight  # to the back: it is being used
                skipped += 1
                continue
            self.held_bytes -= weight
            self._drop(trip_id)

    def _drop(self, trip_id: str) -> None:
        assert self._cache is not None
        if self.trips.version(trip_id) > self._snapshotted.get(trip_id, 0) and self._cache.snapshot_every is not None:
            self._snapshot_later(trip_id, self._cache)
        self.trips.forget(trip_id)
        self.chat.forget(trip_id)
        self._loaded.discard(trip_id)
        self._snapshotted.pop(trip_id, None)
        lock = self._locks.get(trip_id)
        if lock is not None and not lock.locked():
            del self._locks[trip_id]

    def _snapshot_later(self, trip_id: str, cache: TripCache) -> None:
        """Write the trip's snapshot in the background (one at a time per trip)."""
        state = self.trips.get(trip_id)
        if state is None or trip_id in self._saving:
            return
        self._snapshotted[trip_id] = state.version  # not again before ``snapshot_every`` more, whatever comes of it
        task = asyncio.get_running_loop().create_task(self._save(trip_id, state, cache.schema))
        self._saving[trip_id] = task

    async def _save(self, trip_id: str, state: Trip, schema: str) -> None:
        """Encode the (frozen) state once the request that asked for it has been answered, then write it."""
        try:
            await asyncio.sleep(0)
            await self._store.save_snapshot(TripSnapshot(trip_id, state.version, schema, trip_to_snapshot(state)))
        except Exception:
            log.warning("could not save the snapshot of trip %s at %d", trip_id, state.version, exc_info=True)
        finally:
            self._saving.pop(trip_id, None)

    @property
    def held_trips(self) -> int:
        return len(self._held)

    async def whole_model(self) -> tuple[int, dict[str, Any]]:
        """Catch up with the whole log, every trip in it, and return ``(position, snapshot(audit=True))``.

        A serving side folds the trips and the audit views for it into a read side
        of its own, made for the call, that loads trips the same way (snapshots,
        then the log) but holds them all: the node keeps none of it afterwards (the
        audit views grow with the log's users, trips and sessions)."""
        if self._cache is None or self._cache.budget is None:
            position = await self.catch_up_all()
            return position, self.snapshot(audit=True)
        whole = ReadSide(self._store, cache=replace(self._cache, budget=None, snapshot_every=None, chat_tail=None))
        await whole.catch_up_audit()
        await whole.catch_up_notifications()
        for trip_id in sorted(whole.audit.streams):
            await whole.catch_up_trip(trip_id)
        views = whole.snapshot()
        views["audit"] = whole.audit.snapshot()
        return whole.audit.position, views

    async def notifications_of(self, user_id: str) -> UserNotifications:
        """The user's notifications, caught up with the store through its index by recipient (never a fold
        of the log), then held as the most recently used."""
        notes = self.recent_notifications.get(user_id)
        while True:
            records = await self._store.read_notifications(user_id, notes.position, self._page)
            change = ReadModelChange() if self._writer is not None else None
            for record in records:
                if notes.apply(record) and change is not None:
                    _notification_changes(record, change)
            if self._writer is not None and change is not None:
                self._writer.submit(change)
            if len(records) < self._page:
                break
        self.recent_notifications.hold(notes)
        return notes

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

    async def catch_up_read_marks(self) -> None:
        async with self._read_marks_lock:
            where = RecordFilter(commands=READ_COMMANDS)
            while True:
                records = await self._read_all(self.read_marks.position, self._page, where)
                for record in records:
                    self.read_marks.apply(record)
                self._seen(records)
                if len(records) < self._page:
                    return

    async def catch_up_announcements(self) -> None:
        """Read the announcements appended since the last catch-up.  Every new connection asks (a
        join storm asks at once): callers while one read is running share it instead of each
        reading in turn; the read is shielded, so a caller that stops waiting does not stop it."""
        await asyncio.shield(self.announcements_read())

    def announcements_read(self) -> asyncio.Future[None]:
        """The read ``catch_up_announcements`` awaits: the one under way, or a new one.  A caller
        awaiting it directly shields it (it is shared)."""
        running = self._announcements_read
        if running is None or running.done():
            running = self._announcements_read = asyncio.ensure_future(self._read_announcements())
        return running

    async def _read_announcements(self) -> None:
        where = RecordFilter(commands=ANNOUNCING_COMMANDS)
        while True:
            records = await self._read_all(self.announcements.position, self._page, where)
            for record in records:
                self.announcements.apply(record)
            self._seen(records)
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
        if self._sessions is not None:
            await self._sessions.drain()
        while self._saving:
            await asyncio.gather(*self._saving.values())

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


def _message_changes(record: RecordView, change: ReadModelChange) -> None:
    """A chat message, or an edit or a delete of one, as an external read model write."""
    message = chat_message_view(record)
    if message is not None:
        change.messages.append(message)
        return
    changed = chat_change_view(record)
    if changed is not None:
        change.message_changes.append(changed)


def _notification_changes(record: RecordView, change: ReadModelChange) -> None:
    """The notifications a record creates or marks read, as external read model writes."""
    for event in record.events:
        data = event["data"]
        if event["type"] == NOTIFICATION_CREATED:
            view = notification_view(data, record.at)
            change.created.append({**view, "userId": data["userId"], "position": record.position})
        elif event["type"] == CHAT_MESSAGE_DELETED:
            change.deleted_previews.append(data["messageId"])
        elif event["type"] == NOTIFICATION_READ:
            change.reads.append(NotificationRead(data["notificationId"], data["userId"], record.position))
