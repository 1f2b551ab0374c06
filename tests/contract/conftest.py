"""Every EventStore adapter runs the same contract suite.

Adapters register a factory here; a factory is an async context manager that
yields an opened, empty store and cleans up after itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eventlog.mongo_store import MongoEventStore
from eventlog.ports import EventStore
from eventlog.sqlite_store import SqliteEventStore
from tests import mongo_server

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


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``$MONGO_URL`` when set, else an nx-27017 started for this session (only if a test asks)."""
    with mongo_server.mongo_url(tmp_path_factory.mktemp("nx-27017")) as url:
        yield url


@pytest.fixture
def mongo_database(mongo_url: str) -> Iterator[str]:
    """A database of this test's own, dropped when the test ends."""
    name = mongo_server.unique_database()
    yield name
    mongo_server.drop_database(mongo_url, name)


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
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return STORE_FACTORIES[request.param](request, tmp_path)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[EventStore]:
    async with store_factory() as opened:
        yield opened
