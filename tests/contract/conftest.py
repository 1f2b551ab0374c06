"""Every EventStore adapter runs the same contract suite.

Adapters register a factory here; a factory is an async context manager that
yields an opened, empty store and cleans up after itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from eventlog.memory_store import MemoryEventStore, MemoryLog
from eventlog.mongo_store import MongoEventStore
from eventlog.ports import EventStore
from eventlog.redis_cluster import open_client
from eventlog.sqlite_store import SqliteEventStore
from tests.redis_server import unique_prefix

StoreFactory = Callable[[], contextlib.AbstractAsyncContextManager[EventStore]]


def sqlite_factory(tmp_path: Path) -> StoreFactory:
    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[EventStore]:
        store = SqliteEventStore(str(tmp_path / "events.db"))
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    return make


def memory_factory() -> StoreFactory:
    """Every store a test opens keeps the same log, so reopening sees what was written."""
    log = MemoryLog()

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[EventStore]:
        store = MemoryEventStore(log)
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    return make


def mongo_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """Every store a test opens uses the same database, so reopening sees what was written."""
    url: str = request.getfixturevalue("mongo_url")
    database: str = request.getfixturevalue("mongo_database")

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[EventStore]:
        store = MongoEventStore(url, database=database, migrate=True)
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    return make


STORE_FACTORIES: dict[str, Callable[[Any, Path], StoreFactory]] = {
    "sqlite": lambda request, tmp_path: sqlite_factory(tmp_path),
    "mongo": lambda request, tmp_path: mongo_factory(request),
    "memory": lambda request, tmp_path: memory_factory(),
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return STORE_FACTORIES[request.param](request, tmp_path)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[EventStore]:
    async with store_factory() as opened:
        yield opened


RedisPlace = tuple[Any, str] | None  # a connected client and a key prefix; None: the in-memory adapter


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def redis_place(request: pytest.FixtureRequest) -> AsyncIterator[RedisPlace]:
    """Where a Redis-backed port's adapters run: nowhere (its in-memory adapter), the suite's
    Redis, or the suite's Redis Cluster (a prefix of its own, which goes with its keys)."""
    if request.param == "memory":
        yield None
        return
    if request.param == "redis-cluster":
        url: str = request.getfixturevalue("redis_cluster_url")
        prefix = unique_prefix()
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("prefix")
    client = open_client(url, socket_timeout=5.0)
    try:
        await client.ping()  # connected first, as the node's presence client is by its first heartbeat
        yield client, prefix
    finally:
        await client.aclose()
