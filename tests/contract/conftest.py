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
from eventlog.sqlite_store import SqliteEventStore

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
