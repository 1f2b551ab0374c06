"""The read models as MongoDB collections (``eventlog/mongo_read_models.py``).

Runs on nx-27017 unless MONGO_URL points at a real MongoDB.  A session on
SQLite makes real records; they are then mirrored into MongoDB through a
``ReadSide`` with a writer, in order, twice, and out of order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pymongo import AsyncMongoClient

from app import build
from config import Settings
from eventlog.mongo_read_models import MongoReadModels
from eventlog.mongo_store import MongoEventStore
from eventlog.records import LogRecord
from projections.read_models import ReadModelChange, ReadModelSink, ReadModelWriter, TripView
from projections.read_side import ReadSide
from service.auth import Identity
from service.container import Services
from service.pipeline import Origin

OWNER, FRIEND = "0" * 23 + "1", "0" * 23 + "2"


def who(user: str) -> Identity:
    return Identity(user, "user", f"user-{user[-1]}", 2**31)


def url_of(mongo_url: str, database: str) -> str:
    return urlunsplit(urlsplit(mongo_url)._replace(path=f"/{database}"))


@pytest.fixture
async def raw(mongo_url: str, mongo_database: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    yield client[mongo_database]
    await client.close()


async def session(services: Services) -> str:
    """A trip with updates and chat, a notification created and read; returns the trip id."""
    trip = await services.trips.create(Origin("rest", OWNER), who(OWNER), {"title": "Porto", "collaborators": [FRIEND]})
    trip_id = trip.trip_id
    origin = Origin("ws", FRIEND, "user", "s1")
    for n in range(3):
        await (
            await services.trips.chat(
                origin, who(FRIEND), trip_id, {"tripId": trip_id, "message": f"hi {n}", "type": "text"}, f"r{n}"
            )
        )
        await (
            await services.trips.update(
                origin,
                who(FRIEND),
                trip_id,
                {"tripId": trip_id, "updateType": "day_added"},
                {"day": {"date": f"2026-12-0{n + 1}"}},
                None,
            )
        )
    first, _ = await services.notifications.notify(Origin("rest", OWNER, "admin"), {"userId": FRIEND, "title": "a"})
    await services.notifications.notify(Origin("rest", OWNER, "admin"), {"userId": FRIEND, "title": "b"})
    await services.notifications.mark_read(Origin("rest", FRIEND), who(FRIEND), first)
    return trip_id


async def dump(raw: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        name: await raw[name].find({}).sort("_id", 1).to_list(None)
        for name in ("trips", "chat_messages", "notifications")
    }


@pytest.fixture
async def logged(tmp_path: Path) -> AsyncIterator[tuple[list[LogRecord], Services, str]]:
    services = await build(Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}", jwt_secret="s" * 32))
    try:
        trip_id = await session(services)
        await services.read_side.catch_up_notifications()
        yield await services.store.read_all(0, 10_000), services, trip_id
    finally:
        await services.store.close()


async def mirror(records: list[LogRecord], sink: ReadModelSink) -> None:
    side = ReadSide(_NoStore(), writer=ReadModelWriter(sink))  # type: ignore[arg-type]
    for record in records:
        side.apply(record)
        await side.drain()  # in order, one after another


class _NoStore:
    """Applying what this node appended never reads the log."""

    fold_page = 1000
    stream_page = 1000


class _Kept:
    """A sink that keeps the changes, to write them later in another order."""

    def __init__(self) -> None:
        self.changes: list[ReadModelChange] = []

    async def write(self, change: ReadModelChange) -> None:
        self.changes.append(change)

    async def close(self) -> None:
        pass


async def test_applying_records_in_order_fills_the_three_collections(
    logged: tuple[list[LogRecord], Services, str], mongo_url: str, mongo_database: str, raw: Any
) -> None:
    records, services, trip_id = logged
    migrator = MongoEventStore(mongo_url, database=mongo_database)
    assert "m0002_read_models" in await migrator.migrate()
    await migrator.close()
    sink = MongoReadModels(mongo_url, database=mongo_database, opener=services.opener)
    try:
        await mirror(records, sink)
    finally:
        await sink.close()
    views = await dump(raw)

    trip = services.read_side.trips.get(trip_id)
    assert trip is not None and services.opener is not None
    # personal data is sealed in the log and mirrored opened
    assert views["trips"] == [{"_id": trip_id, "version": trip.version, "state": services.opener.open(trip.to_json())}]
    assert [m["message"] for m in views["chat_messages"]] == ["hi 0", "hi 1", "hi 2"]
    assert all(m["tripId"] == trip_id and m["_id"] == m["messageId"] for m in views["chat_messages"])
    assert sorted(m["seq"] for m in views["chat_messages"]) == [2, 4, 6]
    live = {
        n["notificationId"]: {**n, "userId": user}
        for user in (OWNER, FRIEND)
        for n in services.read_side.notifications.of(user)
    }
    assert {n["_id"]: bool(n["read"]) for n in views["notifications"]} == {k: v["read"] for k, v in live.items()}
    assert sorted(bool(n["read"]) for n in views["notifications"] if n["userId"] == FRIEND) == [False, True]
    for stored in views["notifications"]:
        expected = live[stored["_id"]]
        assert stored["userId"] == expected["userId"] and stored["createdAt"] == expected["createdAt"]


async def test_replays_and_older_writes_never_move_a_view_back(
    logged: tuple[list[LogRecord], Services, str], mongo_url: str, mongo_database: str, raw: Any
) -> None:
    records, _, trip_id = logged
    sink = MongoReadModels(mongo_url, database=mongo_database)
    try:
        await mirror(records, sink)
        once = await dump(raw)
        await mirror(records, sink)  # the whole log again: nothing changes
        assert await dump(raw) == once
        # an older trip state after the newest one: ignored
        await sink.write(ReadModelChange(trip=TripView(trip_id, 1, {"title": "old"})))
        # a chat message again, and a notification created again after it was read
        message = dict(once["chat_messages"][0])
        del message["_id"]
        read = next(n for n in once["notifications"] if n["read"])
        created = {k: v for k, v in read.items() if k not in ("_id", "read", "readPosition")}
        await sink.write(ReadModelChange(messages=[message], created=[created]))
        # every change written again from scratch, newest first (background writes may land so)
        kept = _Kept()
        await mirror(records, kept)
        for name in ("trips", "chat_messages", "notifications"):
            await raw[name].delete_many({})
        for change in reversed(kept.changes):
            await sink.write(change)
    finally:
        await sink.close()
    assert await dump(raw) == once
    assert await raw["chat_messages"].count_documents({"messageId": message["messageId"]}) == 1


async def test_a_mongodb_node_keeps_the_collections_current(mongo_url: str, mongo_database: str, raw: Any) -> None:
    services = await build(Settings(store_url=url_of(mongo_url, mongo_database), jwt_secret="s" * 32, migrate=True))
    try:
        trip_id = await session(services)
        await services.read_side.drain()  # the writes are in the background
        trip = await services.trips.visible_trip(who(OWNER), trip_id)  # what GET /api/trips/{id} serves
        await services.read_side.drain()
        [stored] = await raw["trips"].find({}).to_list(None)
        assert services.opener is not None  # personal data is sealed in the log and mirrored opened
        assert stored == {"_id": trip_id, "version": trip.version, "state": services.opener.open(trip.to_json())}
        assert await raw["chat_messages"].count_documents({"tripId": trip_id}) == 3
        friend = await raw["notifications"].find({"userId": FRIEND}).to_list(None)
        assert sorted(bool(n["read"]) for n in friend) == [False, True]
    finally:
        for adapter in services.closing:
            await adapter.close()
        await services.bus.close()
        await services.store.close()
