"""The two ports of the log: where records are kept, and how nodes hear of them.

Adapters translate their driver's errors into the errors below, so nothing
outside ``eventlog/`` ever sees a driver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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
    """The store cannot be reached; nothing was written."""


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
    async def open(self) -> None: ...

    async def append(self, record: LogRecord) -> LogRecord:
        """Make the record durable; returns it with its position.

        Raises VersionConflict when ``record.version`` is taken in its stream and
        DuplicateCommand when its idempotency key is.
        """
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

    async def find_by_idempotency_key(self, key: str) -> LogRecord | None: ...

    async def read_chat_page(self, stream: str, limit: int, before: str | None = None) -> list[LogRecord] | None:
        """Up to ``limit`` chat message records of the stream, oldest first, the newest ones older than
        the message ``before`` (its ``messageId``; None: the newest); None when ``before`` is no message
        of the stream.  Read through an index, whatever the length of the stream."""
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


@runtime_checkable
class SlimReads(Protocol):
    """Reads of what projections need only (``SlimRecord``), for long folds.

    The same records, order and filters as ``read_all`` and ``read_stream``;
    every store adapter offers them.  A separate port so that a wrapper of an
    ``EventStore`` (metrics, say) is one without them; a fold then reads
    ``LogRecord`` values instead (``slim_reads``).
    """

    fold_page: int
    """How many records a long fold best reads at a time: few where a read costs little, so that
    what one page decodes is folded while it is still in the CPU's cache; more where each read is a
    round trip."""

    async def read_all_slim(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[SlimRecord]: ...

    async def read_stream_slim(
        self, stream: str, after_version: int = 0, limit: int | None = None
    ) -> list[SlimRecord]: ...


def slim_reads(store: EventStore) -> SlimReads | None:
    """The store's slim reads, when it has them."""
    return store if isinstance(store, SlimReads) else None


BusMessage = dict[str, Any]
Deliver = Callable[[BusMessage], None]

RESYNC_KIND = "resync"
"""A bus that may have lost messages (its reader reconnected, or an origin's
counter skipped) delivers ``{"kind": RESYNC_KIND}`` before anything newer: the
receiver fills what it holds from the event log."""


class EventBus(Protocol):
    """Carries delivery messages to every node, this one included."""

    node_id: str

    async def start(self, deliver: Deliver) -> None: ...

    async def publish(self, message: BusMessage) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
