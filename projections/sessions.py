"""Session records, folded from the log (the read model behind ``GET /api/realtime/sessions``
and session resume).

``fold_session`` is pure: a session's record and one log record give the next
record.  The records that shape a session are its ``connect`` (who, where from,
which node), its room joins and leaves, its ``disconnect`` (when, with what close
code), a ``resume`` on any node, and ``sessions_lost`` (its node was found dead:
written by the node that found it).  Any other record of the session moves its
``lastActivity``.

``SessionFolder`` applies the records this node appends, in order, a batch at a
time in a background task (a command never waits for it), holding this node's
connected sessions in memory; ``lastActivity`` alone is written every
``flush_seconds`` rather than per frame.  A failed write is tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from domain.frozen import replacer
from eventlog.ports import EventStore
from eventlog.records import ACCEPTED, LogRecord
from eventlog.session_port import CONNECTED, DISCONNECTED, SessionRecord, SessionRecords

log = logging.getLogger("travelsense.sessions")

JOINED = frozenset({"join_trip_room"})
LEFT = frozenset({"leave_trip_room", "room_access_revoked"})
CONNECT, DISCONNECT, RESUME, SESSIONS_LOST = "connect", "disconnect", "resume", "sessions_lost"
PRESENCE_VISIBILITY = "presence_visibility"  # a user's saved presence choice (kept per user, not per session)
SESSION_SHAPING = frozenset({CONNECT, DISCONNECT, RESUME, SESSIONS_LOST, PRESENCE_VISIBILITY, *JOINED, *LEFT})
SAVE_BATCH = 500  # session records saved in one call to the store
SAVE_TRIES = 3  # a failed batch is tried this many times in all before its records are saved one by one
RETRY_PAUSE = 0.1  # seconds before a batch is tried again (doubled each time)
CLOSE_ABNORMAL = 1006  # what a session whose node died is recorded as closed with
CLOSE_TAKEN_OVER = 4010  # a resume took the session over from this connection (``service.takeover``)
replace = replacer(SessionRecord)  # ``dataclasses.replace`` for the records a storm folds, without its introspection


def _meta(record: LogRecord) -> dict[str, Any]:
    return record.meta if isinstance(record.meta, dict) else {}


def _event_data(record: LogRecord) -> dict[str, Any]:
    if record.events and isinstance(record.events[0], dict):
        data = record.events[0].get("data")
        if isinstance(data, dict):
            return data
    return {}


def lost_sessions(record: LogRecord) -> list[str]:
    """The sessions a ``sessions_lost`` record closes."""
    ids = _event_data(record).get("sessionIds")
    return [str(i) for i in ids] if isinstance(ids, list) else []


def fold_session(current: SessionRecord | None, record: LogRecord, session_id: str) -> SessionRecord | None:
    """``current`` (None: unknown) after ``record`` for session ``session_id``; None when the
    record says nothing of a session it does not know."""
    command, at = record.command, record.at
    if command == CONNECT:
        meta = _meta(record)
        return SessionRecord(
            session_id=session_id,
            user_id=record.user_id or "",
            node=str(meta.get("node", "")),
            connection_time=at,
            last_activity=at,
            ip=str(meta.get("ip", "")),
            user_agent=str(meta.get("userAgent", "")),
            rooms=(),
            status=CONNECTED,
            position=record.position,
        )
    if current is None:
        return None
    if command == RESUME:
        data = _event_data(record)
        rooms = data.get("rooms")
        return replace(
            current,
            node=str(_meta(record).get("node", current.node)),
            last_activity=at,
            rooms=tuple(str(r) for r in rooms) if isinstance(rooms, list) else current.rooms,
            status=CONNECTED,
            disconnected_at=None,
            close_code=None,
            position=record.position,
        )
    if command == DISCONNECT:
        code = _event_data(record).get("code")
        if code == CLOSE_TAKEN_OVER:  # a resume holds the session now (its record may come first)
            return replace(current, position=record.position)
        return replace(
            current,
            last_activity=at,
            status=DISCONNECTED,
            disconnected_at=at,
            close_code=code if isinstance(code, int) else None,
            position=record.position,
        )
    if command == SESSIONS_LOST:
        if current.status != CONNECTED or current.node != _event_data(record).get("node", current.node):
            return current  # resumed on another node before the sweep found this one dead
        return replace(
            current, status=DISCONNECTED, disconnected_at=at, close_code=CLOSE_ABNORMAL, position=record.position
        )
    trip_id = record.trip_id
    if command in JOINED and trip_id is not None and trip_id not in current.rooms:
        return replace(current, rooms=(*current.rooms, trip_id), last_activity=at, position=record.position)
    if command in LEFT and trip_id is not None and trip_id in current.rooms:
        rooms = tuple(r for r in current.rooms if r != trip_id)
        return replace(current, rooms=rooms, last_activity=at, position=record.position)
    return replace(current, last_activity=at, position=record.position)


async def rebuild_sessions(store: EventStore, records: SessionRecords, *, page: int = 1000) -> int:
    """Fold the whole log into ``records`` (saves are conditional: a store in use may be
    rebuilt); how many sessions it holds.  What the live fold writes, from scratch."""
    sessions: dict[str, SessionRecord] = {}
    choices: dict[str, tuple[bool, int]] = {}
    position = 0
    while True:
        batch = await store.read_all(position, page)
        for record in batch:
            if record.outcome != ACCEPTED:
                continue
            if record.command == PRESENCE_VISIBILITY:
                hidden = _event_data(record).get("hidden")
                if record.user_id is not None and isinstance(hidden, bool):
                    choices[record.user_id] = (hidden, record.position)
            if record.command in SESSION_SHAPING and record.command != PRESENCE_VISIBILITY:
                targets = lost_sessions(record) if record.command == SESSIONS_LOST else [record.session_id]
                for session_id in targets:
                    if session_id is not None:
                        folded = fold_session(sessions.get(session_id), record, session_id)
                        if folded is not None:
                            sessions[session_id] = folded
            elif record.session_id is not None and record.session_id in sessions:
                current = sessions[record.session_id]
                if current.status == CONNECTED and record.at > current.last_activity:
                    sessions[record.session_id] = replace(current, last_activity=record.at)
        if len(batch) < page:
            break
        position = batch[-1].position
    saved = list(sessions.values())
    for start in range(0, len(saved), SAVE_BATCH):
        await records.save_many(saved[start : start + SAVE_BATCH])
    for user_id, (hidden, at) in choices.items():
        await records.save_hidden(user_id, hidden, at)
    return len(sessions)


@dataclass(slots=True)
class _BatchChanges:
    """What a batch does to the sessions, applied once it is saved."""

    folded: dict[str, SessionRecord] = field(default_factory=dict)  # the sessions to save, as folded
    live: dict[str, SessionRecord | None] = field(default_factory=dict)  # this node's connected (None: no more)
    activity: dict[str, str] = field(default_factory=dict)  # lastActivity taken from what was not written yet


class SessionFolder:
    """Folds the records this node appends into the session records (see the module's doc).

    What it holds of a session (``_live``, ``_active``) changes only once the batch that
    changed it is saved.  A batch that fails is tried again (``save_tries`` times, a pause
    between), then its records are saved one at a time, so that a brief store hiccup loses
    nothing and a record that cannot be written costs only itself: those are counted in
    ``lost`` and logged (``python app.py rebuild-sessions`` writes them from the log)."""

    def __init__(
        self,
        records: SessionRecords,
        *,
        flush_seconds: float = 10.0,
        save_tries: int = SAVE_TRIES,
        retry_pause: float = RETRY_PAUSE,
    ) -> None:
        self._records = records
        self._flush_seconds = flush_seconds
        self._save_tries = max(save_tries, 1)
        self._retry_pause = retry_pause
        self._live: dict[str, SessionRecord] = {}  # this node's connected sessions, as last saved
        self._active: dict[str, str] = {}  # session -> lastActivity not written yet
        self._queue: asyncio.Queue[LogRecord | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.failures = 0  # failed writes (each tried again)
        self.lost = 0  # records not written after every try (the log still has them)
        self._failing = False

    def apply(self, record: LogRecord) -> None:
        if record.outcome != ACCEPTED:
            return
        if record.command in SESSION_SHAPING:
            self._queue.put_nowait(record)
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._work())
        elif record.session_id is not None and record.session_id in self._live:
            self._active[record.session_id] = record.at

    async def _work(self) -> None:
        while True:
            try:
                first = await asyncio.wait_for(self._queue.get(), self._flush_seconds)
            except TimeoutError:
                await self._write([None])  # nothing queued for a while: the activity flushed
                continue
            # what queued meanwhile goes with it: a storm's connects and joins are saved a batch at a time
            batch = [first]
            while len(batch) < SAVE_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[LogRecord | None]) -> None:
        """Save the batch, tried again after a failure, then one record at a time (a ``None``
        in it: activity is flushed too, afterwards)."""
        records = [record for record in batch if record is not None]
        if records:
            await self._save(records)
        if len(records) < len(batch):
            try:
                await self._flush_activity()
                self._written()
            except Exception:
                self._failed()

    async def _save(self, records: list[LogRecord]) -> None:
        for attempt in range(self._save_tries):
            if attempt:
                await asyncio.sleep(self._retry_pause * 2 ** (attempt - 1))
            try:
                await self._fold_batch(records)
            except Exception:
                self._failed()
            else:
                self._written()
                return
        if len(records) == 1:
            unwritten = records
        else:  # the batch failed whole: one record at a time, so that one bad record costs only itself
            unwritten = []
            for record in records:
                try:
                    await self._fold_batch([record])
                except Exception:
                    self._failed()
                    unwritten.append(record)
                else:
                    self._written()
        if unwritten:
            self.lost += len(unwritten)
            log.error(
                "%d session records could not be written (positions %s...; rebuild-sessions writes them from the log)",
                len(unwritten),
                [record.position for record in unwritten[:5]],
            )

    def _failed(self) -> None:
        self.failures += 1
        if not self._failing:  # one line per outage, not one per record
            self._failing = True
            log.exception("a session record could not be written (tried again; the log stays the source of truth)")

    def _written(self) -> None:
        if self._failing:
            self._failing = False
            log.warning("session records are written again (%d writes failed)", self.failures)

    async def _fold_batch(self, batch: list[LogRecord]) -> None:
        """Fold the records in order, then save the sessions they changed in one call; what
        this node holds of the sessions changes only once they are saved, so a failed batch
        can be tried again."""
        changes = _BatchChanges()
        for record in batch:
            await self._fold(record, changes)
        await self._records.save_many(list(changes.folded.values()))
        for session_id, after in changes.live.items():
            if after is None:
                self._live.pop(session_id, None)
            else:
                self._live[session_id] = after
        for session_id, at in changes.activity.items():
            if self._active.get(session_id) == at:  # none newer noted while saving
                del self._active[session_id]

    async def _fold(self, record: LogRecord, changes: _BatchChanges) -> None:
        """Fold ``record`` into ``changes`` (the batch's sessions as they will be saved)."""
        if record.command == PRESENCE_VISIBILITY:
            hidden = _event_data(record).get("hidden")
            if record.user_id is not None and isinstance(hidden, bool):
                await self._records.save_hidden(record.user_id, hidden, record.position)
            self._touch(record)
            return
        targets = lost_sessions(record) if record.command == SESSIONS_LOST else [record.session_id]
        for session_id in targets:
            if session_id is None:
                continue
            current = changes.folded.get(session_id) or self._live.get(session_id)
            if current is None and record.command != CONNECT:
                current = await self._records.get(session_id)
            after = fold_session(current, record, session_id)
            if after is None:
                continue
            if session_id not in changes.activity:
                activity = self._active.get(session_id)
                if activity is not None:
                    changes.activity[session_id] = activity
                    if activity > after.last_activity:
                        after = replace(after, last_activity=activity)
            changes.folded[session_id] = after
            live = changes.live[session_id] is not None if session_id in changes.live else session_id in self._live
            if after.status != CONNECTED:
                changes.live[session_id] = None
            elif record.command in (CONNECT, RESUME) or live:
                changes.live[session_id] = after

    def _touch(self, record: LogRecord) -> None:
        if record.session_id is not None and record.session_id in self._live:
            self._active[record.session_id] = record.at

    async def _flush_activity(self) -> None:
        active, self._active = self._active, {}
        pending = list(active.items())
        for done, (session_id, at) in enumerate(pending):
            current = self._live.get(session_id)
            if current is None or at <= current.last_activity:
                continue
            try:
                await self._records.touch(session_id, at)
            except BaseException:
                for unwritten, when in pending[done:]:  # kept for the next flush (unless newer came)
                    self._active.setdefault(unwritten, when)
                raise
            self._live[session_id] = replace(current, last_activity=at)

    async def drain(self) -> None:
        """Wait until every record applied so far is written (and pending activity too)."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._queue.join()

    async def close(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._records.close()
