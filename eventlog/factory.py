"""Chooses the adapters from configuration: the only place that knows them all."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.room import RosterNews
from eventlog.claims import MemoryClaims
from eventlog.key_cache import FETCH_TIMEOUT, CachedKeyStore
from eventlog.memory_bus import InProcessBus
from eventlog.memory_people import MemoryPeopleSeen
from eventlog.memory_tickets import MemorySpentTickets
from eventlog.ports import EventBus, EventStore, StoreError, StoreMissing
from eventlog.sealing import Opener
from eventlog.sqlite_store import SqliteEventStore, sqlite_path

if TYPE_CHECKING:
    from eventlog.mongo_store import MongoEventStore
    from eventlog.people_port import PeopleSeen
    from eventlog.read_model_port import ReadModelSink
    from eventlog.redis_presence import RedisPresence
    from eventlog.session_port import SessionClaims, SessionRecords
    from eventlog.ticket_port import SpentTickets


def open_store(
    url: str, *, migrate: bool = False, commit_steady: float | None = None, timeout: float | None = None
) -> EventStore:
    """``migrate``: bring a MongoDB schema up to date on open (SQLite always does);
    ``commit_steady``: see ``SqliteEventStore`` (None: its default); ``timeout``: how long
    MongoDB may take to be found before a command is refused (None: the adapter's default,
    or what the URL says); with it, a MongoDB read that failed is not retried either (a
    retry waits for a server again: a probe would take the timeout and more), unless the
    URL says so."""
    if url.startswith("sqlite:///"):
        if commit_steady is None:
            return SqliteEventStore(sqlite_path(url))
        return SqliteEventStore(sqlite_path(url), steady=commit_steady)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from eventlog.mongo_store import MongoEventStore  # imported only when asked for

        if timeout is None:
            return MongoEventStore(url, migrate=migrate)
        options: dict[str, Any] = {}
        if "serverselectiontimeoutms" not in url.lower():
            options["serverSelectionTimeoutMS"] = int(timeout * 1000)
        if "retryreads" not in url.lower():
            options["retryReads"] = False
        return MongoEventStore(url, migrate=migrate, **options)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH or mongodb://...")


def open_mongo_store(url: str) -> MongoEventStore:
    """The MongoDB store itself, for the operator commands that use its extras (``migrate``)."""
    from eventlog.mongo_store import MongoEventStore  # imported only when asked for

    return MongoEventStore(url)


def open_sqlite_reader(url: str) -> SqliteEventStore:
    """The embedded store itself, read-only, for the operator commands that use its extras (``status``)."""
    return SqliteEventStore(sqlite_path(url), read_only=True)


def open_reader(url: str) -> EventStore:
    """A store for the analyst commands: never created, migrated or written (SQLite opened ``mode=ro``;
    MongoDB refuses a database whose migrations are behind the code)."""
    if url.startswith("sqlite:///"):
        return SqliteEventStore(sqlite_path(url), read_only=True)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from eventlog.mongo_store import MongoEventStore

        return MongoEventStore(url)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH or mongodb://...")


def open_read_models(url: str, opener: Opener | None = None) -> ReadModelSink | None:
    """Where the read models are mirrored for a store URL: MongoDB collections, or nowhere (SQLite);
    ``opener``: opens sealed personal data before it is mirrored."""
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from eventlog.mongo_read_models import MongoReadModels  # imported only when asked for

        return MongoReadModels(url, opener=opener)
    return None


def open_session_records(url: str) -> SessionRecords:
    """Where session records are kept: beside the SQLite log (a file of their own), or in the MongoDB database."""
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from eventlog.mongo_sessions import MongoSessionRecords  # imported only when asked for

        return MongoSessionRecords(url)
    from eventlog.sqlite_sessions import SqliteSessionRecords, sessions_path

    return SqliteSessionRecords(sessions_path(sqlite_path(url)))


def open_bus(redis_url: str | None, node_id: str | None = None, prefix: str = "travelsense") -> EventBus:
    if not redis_url:
        return InProcessBus(node_id)
    from eventlog.redis_bus import RedisStreamsBus  # imported only when asked for

    return RedisStreamsBus(redis_url, node_id=node_id, prefix=prefix)


def open_presence(
    redis_url: str | None,
    node_id: str,
    prefix: str = "travelsense",
    news: asyncio.Queue[RosterNews] | None = None,
    *,
    dead_grace: float = 0.0,
) -> RedisPresence | None:
    """Room rosters and the connection directory shared by every node (None: single node,
    the service keeps them in memory); ``news``: where members gone with their node, or
    back, are told; ``dead_grace``: how long a dead node's members stay, awaiting a resume."""
    if not redis_url:
        return None
    from eventlog.redis_presence import RedisPresence  # imported only when asked for

    return RedisPresence(redis_url, node_id=node_id, prefix=prefix, news=news, dead_grace=dead_grace)


def open_claims(presence: RedisPresence | None, *, ttl: float) -> SessionClaims:
    """Who holds each session (``eventlog.claims``): on the shared Redis when there is one,
    kept ``ttl`` seconds after the last claim; else this process's own count."""
    if presence is None:
        return MemoryClaims()
    from eventlog.redis_claims import RedisClaims  # imported only when asked for

    return RedisClaims(presence.client, presence.prefix, ttl=ttl)


def open_people_seen(presence: RedisPresence | None, *, capacity: int) -> PeopleSeen:
    """Who signed in lately (``eventlog.people_port``), the ``capacity`` most recent: on the
    shared Redis when there is one (every node's, kept across restarts); else in this process."""
    if presence is None:
        return MemoryPeopleSeen(capacity)
    from eventlog.redis_people import RedisPeopleSeen  # imported only when asked for

    return RedisPeopleSeen(presence.client, presence.prefix, capacity)


def open_spent_tickets(presence: RedisPresence | None) -> SpentTickets:
    """Which WebSocket tickets were used (``eventlog.ticket_port``): on the shared Redis when
    there is one, so a ticket is spent once on every node; else in this process."""
    if presence is None:
        return MemorySpentTickets()
    from eventlog.redis_tickets import RedisSpentTickets  # imported only when asked for

    return RedisSpentTickets(presence.client, presence.prefix)


def memory_key_store() -> CachedKeyStore:
    """Keys in memory, for service-layer tests on in-memory adapters."""
    from eventlog.memory_keys import MemoryKeyStore

    return CachedKeyStore(MemoryKeyStore())


def open_key_store(url: str, *, timeout: float = FETCH_TIMEOUT) -> CachedKeyStore:
    """The data keys of the log at a store URL, behind the cache: a SQLite file of their own
    beside the log's (``events.keys.db``), or a MongoDB collection of their own (``data_keys``).
    ``timeout``: how long a read ahead (``CachedKeyStore.fetch``) waits for the store, and how
    long any one call to MongoDB may take (the whole call: see ``eventlog/mongo_keys.py``)."""
    if url.startswith("sqlite:///"):
        from eventlog.sqlite_keys import SqliteKeyStore, keys_path

        return CachedKeyStore(SqliteKeyStore(keys_path(sqlite_path(url))), fetch_timeout=timeout)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from eventlog.mongo_keys import MongoKeyStore  # imported only when asked for

        return CachedKeyStore(MongoKeyStore(url, timeout=timeout), fetch_timeout=timeout)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH or mongodb://...")


def open_key_reader(url: str) -> CachedKeyStore:
    """The data keys of the log at a store URL, read-only, for the analyst commands: nothing is
    created or written (``StoreMissing``: a SQLite log without its key file beside it)."""
    if url.startswith("sqlite:///"):
        from eventlog.sqlite_keys import SqliteKeyStore, keys_path

        path = keys_path(sqlite_path(url))
        if not Path(path).is_file():
            raise StoreMissing(f"no key store at {path}")
        try:
            return CachedKeyStore(SqliteKeyStore(path, read_only=True))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the key store {path}: {exc}") from None
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from eventlog.mongo_keys import MongoKeyStore  # imported only when asked for

        return CachedKeyStore(MongoKeyStore(url, read_only=True))
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH or mongodb://...")
