"""An event store held in this process's memory, for fast service-layer tests.

It keeps the ``EventStore`` port's promises exactly as the SQLite and MongoDB
adapters do (``tests/contract`` runs the same suite on it): appends are queued and
group-committed in the order queued, a stream record whose version or idempotency key
is taken fails and takes the records of its stream queued behind it down with it,
records are hash-chained, and what is read back is decoded from stored bytes (so a
caller never shares a record's objects with the log).  The log itself is a
``MemoryLog``: a store reopened on the same one sees what was written.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Collection
from dataclasses import dataclass, field

import orjson

from eventlog.appends import Pending, fail_successors, in_stream
from eventlog.chain import ChainBatch, Chains, link_hash
from eventlog.notices import recipients
from eventlog.ports import DuplicateCommand, RecordFilter, StoreError, StoreUnavailable, TripSnapshot, VersionConflict
from eventlog.records import JSON, LogRecord, SlimRecord, from_document, slim_from_document

CHAT_MESSAGE = "chat_message"


@dataclass
class MemoryLog:
    """What a memory store keeps: the stored documents and the indexes a database would."""

    documents: list[bytes] = field(default_factory=list)  # position N is documents[N - 1]
    streams: dict[str, dict[int, int]] = field(default_factory=dict)  # stream -> version -> position
    keys: dict[str, int] = field(default_factory=dict)  # idempotency key -> position
    record_ids: set[str] = field(default_factory=set)
    messages: dict[tuple[str, str], int] = field(default_factory=dict)  # (stream, message id) -> version
    notices: dict[str, list[int]] = field(default_factory=dict)  # user id -> positions of records notifying them
    # stream -> its newest snapshot: (version, schema, state)
    snapshots: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)


def _message_id(record: LogRecord) -> str | None:
    if not in_stream(record) or not record.events:
        return None
    event = record.events[0]
    if not isinstance(event, dict) or event.get("type") != CHAT_MESSAGE:
        return None
    data = event.get("data")
    found = data.get("messageId") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None


def _matches(document: dict[str, JSON], where: RecordFilter | None) -> bool:
    if where is None:
        return True
    at = document["at"]
    assert isinstance(at, str)
    return (
        (where.trip_id is None or document.get("tripId") == where.trip_id)
        and (where.user_id is None or document.get("userId") == where.user_id)
        and (where.commands is None or document["command"] in where.commands)
        and (where.since is None or at >= where.since)
        and (where.until is None or at < where.until)
    )


class MemoryEventStore:
    fold_page = 200
    stream_page = 200

    def __init__(self, log: MemoryLog | None = None) -> None:
        self.log = log if log is not None else MemoryLog()
        self._chains = Chains()
        self._pending: list[Pending] = []
        self._flushing: asyncio.Future[None] | None = None
        self._open = False

    async def open(self) -> None:
        self._open = True

    def _check_open(self) -> None:
        if not self._open:
            raise StoreUnavailable("the memory store is closed")

    # appends ---------------------------------------------------------------

    async def append(self, record: LogRecord) -> LogRecord:
        return await self.enqueue(record)

    def enqueue(self, record: LogRecord) -> asyncio.Future[LogRecord]:
        future: asyncio.Future[LogRecord] = asyncio.get_running_loop().create_future()
        self._pending.append(Pending(record, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())
        return future

    async def _flush(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # the commit: appends queued meanwhile share it
            batch, self._pending = self._pending, []
            chain = self._chains.batch()
            broken: set[str] = set()
            written: list[LogRecord] = []
            for pending in batch:
                record = pending.record
                outcome: LogRecord | Exception
                if not self._open:
                    outcome = StoreUnavailable("the memory store is closed")
                elif in_stream(record) and record.stream in broken:
                    outcome = VersionConflict(record.stream or "", record.version or 0)
                else:
                    outcome = self._insert(chain, record)
                if isinstance(outcome, Exception):
                    if in_stream(record):
                        broken.add(record.stream or "")
                    if not pending.future.done():
                        pending.future.set_exception(outcome)
                    continue
                written.append(outcome)
                if not pending.future.done():
                    pending.future.set_result(outcome)
            chain.commit(written)
            self._pending = fail_successors(self._pending, broken)

    def _insert(self, chain: ChainBatch, record: LogRecord) -> LogRecord | Exception:
        log = self.log
        stream, version, key = record.stream, record.version, record.idempotency_key
        if stream is not None and version is not None and version in log.streams.get(stream, {}):
            return VersionConflict(stream, version)
        if key is not None and key in log.keys:
            return DuplicateCommand(key)
        if record.record_id in log.record_ids:
            return StoreError(f"record id {record.record_id} is taken")
        needed = chain.predecessor(record)
        found = None
        if needed is not None:
            position = log.streams.get(needed[0], {}).get(needed[1])
            found = {needed: link_hash(self._record(position)) if position is not None else None}
        linked, document = chain.link(record, found)
        position = len(log.documents) + 1
        log.documents.append(orjson.dumps(document))
        log.record_ids.add(linked.record_id)
        if stream is not None and version is not None:
            log.streams.setdefault(stream, {})[version] = position
            message = _message_id(linked)
            if message is not None:
                log.messages[(stream, message)] = version
        if key is not None:
            log.keys[key] = position
        for user in recipients(linked.events):
            log.notices.setdefault(user, []).append(position)
        chain.advance(linked)
        return linked.stored_at(position)

    # reads -----------------------------------------------------------------

    def _document(self, position: int) -> dict[str, JSON]:
        document: dict[str, JSON] = orjson.loads(self.log.documents[position - 1])
        document["position"] = position
        return document

    def _record(self, position: int) -> LogRecord:
        return from_document(self._document(position))

    def _stream_positions(self, stream: str, after_version: int, limit: int | None) -> list[int]:
        self._check_open()
        versions = self.log.streams.get(stream, {})
        positions = [versions[v] for v in sorted(versions) if v > after_version]
        return positions if limit is None else positions[:limit]

    def _all_positions(self, after_position: int, limit: int, where: RecordFilter | None) -> list[int]:
        self._check_open()
        found: list[int] = []
        for position in range(after_position + 1, len(self.log.documents) + 1):
            if len(found) >= limit:
                break
            if _matches(self._document(position), where):
                found.append(position)
        return found

    async def read_stream(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[LogRecord]:
        return [self._record(p) for p in self._stream_positions(stream, after_version, limit)]

    async def read_stream_slim(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[SlimRecord]:
        return [slim_from_document(self._document(p)) for p in self._stream_positions(stream, after_version, limit)]

    async def stream_version(self, stream: str) -> int:
        self._check_open()
        return max(self.log.streams.get(stream, {}), default=0)

    async def read_all(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[LogRecord]:
        return [self._record(p) for p in self._all_positions(after_position, limit, where)]

    async def read_all_slim(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[SlimRecord]:
        return [slim_from_document(self._document(p)) for p in self._all_positions(after_position, limit, where)]

    async def head_position(self) -> int:
        self._check_open()
        return len(self.log.documents)

    async def find_by_idempotency_key(self, key: str) -> LogRecord | None:
        self._check_open()
        position = self.log.keys.get(key)
        return self._record(position) if position is not None else None

    async def read_chat_page(self, stream: str, limit: int, before: str | None = None) -> list[LogRecord] | None:
        self._check_open()
        below: int | None = None
        if before is not None:
            below = self.log.messages.get((stream, before))
            if below is None:
                return None
        versions = sorted(
            version
            for (message_stream, _), version in self.log.messages.items()
            if message_stream == stream and (below is None or version < below)
        )
        positions = self.log.streams[stream] if versions else {}
        return [self._record(positions[v]) for v in versions[-limit:]] if limit > 0 else []

    async def find_chat_message(self, stream: str, message_id: str) -> LogRecord | None:
        self._check_open()
        version = self.log.messages.get((stream, message_id))
        return None if version is None else self._record(self.log.streams[stream][version])

    async def count_chat_messages(
        self, stream: str, after_version: int, not_by: str, limit: int, excluding: Collection[str] = ()
    ) -> int:
        self._check_open()
        positions = self.log.streams.get(stream, {})
        left_out = frozenset(excluding)
        count = 0
        for (message_stream, message_id), version in self.log.messages.items():
            if count >= limit:
                break
            if message_stream == stream and version > after_version and message_id not in left_out:
                count += self._document(positions[version]).get("userId") != not_by
        return count

    async def read_notifications(self, user_id: str, after_position: int = 0, limit: int = 1000) -> list[SlimRecord]:
        self._check_open()
        positions = self.log.notices.get(user_id, [])
        start = bisect.bisect_right(positions, after_position)
        return [slim_from_document(self._document(p)) for p in positions[start : start + max(limit, 0)]]

    async def save_snapshot(self, snapshot: TripSnapshot) -> None:
        self._check_open()
        newest = self.log.snapshots.get(snapshot.stream)
        if newest is None or newest[0] < snapshot.version:
            self.log.snapshots[snapshot.stream] = (snapshot.version, snapshot.schema, orjson.dumps(snapshot.state))

    async def load_snapshot(self, stream: str, schema: str) -> TripSnapshot | None:
        self._check_open()
        newest = self.log.snapshots.get(stream)
        if newest is None or newest[1] != schema:
            return None
        return TripSnapshot(stream, newest[0], schema, orjson.loads(newest[2]))

    async def read_snapshots(self, after_stream: str = "", limit: int = 1000) -> list[TripSnapshot]:
        self._check_open()
        streams = sorted(stream for stream in self.log.snapshots if stream > after_stream)[:limit]
        return [
            TripSnapshot(stream, version, schema, orjson.loads(state))
            for stream in streams
            for version, schema, state in (self.log.snapshots[stream],)
        ]

    async def ping(self) -> None:
        self._check_open()

    async def close(self) -> None:
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        self._open = False
