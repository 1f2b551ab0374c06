"""The two ports of the log: where records are kept, and how nodes hear of them.

Adapters translate their driver's errors into the errors below, so nothing
outside ``eventlog/`` ever sees a driver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from eventlog.records import LogRecord, SlimRecord


class StoreError(Exception):
    """Base of everything an event store raises."""


class VersionConflict(StoreError):
    """Another writer appended this version of the stream first."""

    def __init__(self, stream: str, version: int) -> None:
        super().__init__(f"stream {stream} already has version {version}")
        self.stream = stream
        self.version = version


class DuplicateCommand(StoreError):
    """A record with this idempotency key is in the log already."""

    def __init__(self, key: str) -> None:
        super().__init__(f"a command with idempotency key {key!r} was recorded already")
        self.key = key


class StoreUnavailable(StoreError):
    """The store cannot be reached: nothing was written (an adapter that cannot tell
    whether a record was written says so with a plain ``StoreError``)."""


class StoreMissing(StoreError):
    """A store opened for reading only is not there (no file, no log): nothing is created."""


class SchemaMismatch(StoreError):
    """A store opened for reading only has another schema version than this code reads."""


@dataclass(frozen=True, slots=True)
class RecordFilter:
    trip_id: str | None = None
    user_id: str | None = None
    commands: tuple[str, ...] | None = None
    since: str | None = None  # ISO 8601 UTC, inclusive
    until: str | None = None  # ISO 8601 UTC, exclusive


@dataclass(frozen=True, slots=True)
class TripSnapshot:
    """A trip's state as folded up to ``version`` of its stream, kept so that a load folds only what follows."""

    stream: str
    version: int
    schema: str  # what folded it (snapshot format, event schema, domain code): a snapshot of another is stale
    state: dict[str, Any]


class EventStore(Protocol):
    """Where records are kept.  Appends are group-committed: ``enqueue`` queues one and
    returns at once; its future resolves when the record is durable."""

    fold_page: int
    """How many records a long fold best reads at a time: few where a read costs little, so that
    what one page decodes is folded while it is still in the CPU's cache; more where each read is a
    round trip."""

    stream_page: int
    """How many records of one trip's stream a trip's fold reads at a time.  The store's reads wait
    for each other: where a read is cheap, few, so that a history page asked for while a long
    stream is folded for someone else waits for a short read, not a long one."""

    async def open(self) -> None: ...

    def enqueue(self, record: LogRecord) -> asyncio.Future[LogRecord]:
        """Queue the record; the future resolves with it (and its position) once durable.

        Records are written in the order queued.  The future fails with VersionConflict
        when ``record.version`` is taken in its stream, and with DuplicateCommand when
        its idempotency key is.  When a stream record fails, every record of the same
        stream queued after it fails unwritten with VersionConflict (it may have been
        decided on the failed one), so a stream's next command may be decided before the
        previous one is durable.
        """
        ...

    async def append(self, record: LogRecord) -> LogRecord:
        """``await enqueue(record)``."""
        ...

    async def read_stream(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[LogRecord]:
        """The stream's records (those with a version), in version order."""
        ...

    async def stream_version(self, stream: str) -> int: ...

    async def read_all(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[LogRecord]:
        """Every record, in position order, after a position."""
        ...

    async def read_all_slim(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[SlimRecord]:
        """What projections need only (``SlimRecord``) of the records ``read_all`` gives, for long folds."""
        ...

    async def read_stream_slim(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[SlimRecord]:
        """What projections need only of the records ``read_stream`` gives."""
        ...

    async def head_position(self) -> int:
        """The position of the newest record (0: none)."""
        ...

    async def find_by_idempotency_key(self, key: str) -> LogRecord | None: ...

    async def read_chat_page(self, stream: str, limit: int, before: str | None = None) -> list[LogRecord] | None:
        """Up to ``limit`` chat message records of the stream, oldest first, the newest ones older than
        the message ``before`` (its ``messageId``; None: the newest); None when ``before`` is no message
        of the stream.  Read through an index, whatever the length of the stream."""
        ...

    async def find_chat_message(self, stream: str, message_id: str) -> LogRecord | None:
        """The record that posted the message ``message_id`` in the stream (None: none did), through an index."""
        ...

    async def count_chat_messages(
        self, stream: str, after_version: int, not_by: str, limit: int, excluding: Collection[str] = ()
    ) -> int:
        """How many chat messages the stream has after ``after_version`` that ``not_by`` did not post,
        leaving out the messages ``excluding`` names (those deleted since), counted up to ``limit``,
        through an index."""
        ...

    async def read_notifications(self, user_id: str, after_position: int = 0, limit: int = 1000) -> list[SlimRecord]:
        """Up to ``limit`` records after a position, in position order, that create a notification for
        ``user_id`` or mark one of theirs read (``eventlog/notices.py``; the records may hold other users'
        too).  Read through an index written with the records, whatever the length of the log."""
        ...

    async def save_snapshot(self, snapshot: TripSnapshot) -> None:
        """Keep the snapshot unless its stream has a newer one; the older ones of the stream go."""
        ...

    async def load_snapshot(self, stream: str, schema: str) -> TripSnapshot | None:
        """The stream's latest snapshot made by ``schema``, if any."""
        ...

    async def read_snapshots(self, after_stream: str = "", limit: int = 1000) -> list[TripSnapshot]:
        """Every stream's latest snapshot (whatever made it), in stream order, after ``after_stream``."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


BusMessage = dict[str, Any]
Deliver = Callable[[BusMessage], None]

RESYNC_KIND = "resync"
"""A bus that may have lost messages (its reader reconnected, or an origin's
counter skipped) delivers ``{"kind": RESYNC_KIND}`` before anything newer: the
receiver fills what it holds from the event log."""


class EventBus(Protocol):
    """Carries delivery messages to every node, this one included (a node delivers its
    own at once and skips them when the bus brings them back)."""

    node_id: str

    async def start(self, deliver: Deliver) -> None: ...

    async def publish(self, message: BusMessage) -> None: ...

    async def ping(self) -> None: ...

    def metrics(self) -> dict[str, float]:
        """Counters and gauges, named for Prometheus (none for a bus without any)."""
        ...

    async def close(self) -> None: ...
