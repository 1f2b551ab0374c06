"""What only the MongoDB adapter has: driver error mapping, migrations, batching, reachability.

Runs on nx-27017 unless MONGO_URL points at a real MongoDB.  The tests use
the driver directly only to observe what the store did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pymongo import AsyncMongoClient, monitoring

from eventlog.migrations import runner
from eventlog.mongo_store import MongoEventStore, SchemaNotMigrated, duplicated_key
from eventlog.ports import DuplicateCommand, StoreError, StoreUnavailable, VersionConflict
from tests import mongo_server
from tests.contract.test_event_store import TRIP_A, TRIP_B, record

ALL_MIGRATIONS = ["m0001_log_collection", "m0002_read_models", "m0003_snapshots", "m0004_notification_recipients"]


class CommandLog(monitoring.CommandListener):
    """Records the commands a client sent and the replies it got."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.replies.append(dict(event.reply))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def sent(self, name: str, collection: str) -> int:
        return sum(1 for command in self.commands if command.get(name) == collection)


@pytest.fixture
async def raw(mongo_url: str, mongo_database: str) -> AsyncIterator[Any]:
    """The test's database through the bare driver, to look at what the store wrote."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=3000)
    try:
        yield client[mongo_database]
    finally:
        await client.close()


async def test_a_duplicate_key_from_the_server_is_a_version_conflict(mongo_url: str, mongo_database: str) -> None:
    commands = CommandLog()
    store = MongoEventStore(mongo_url, database=mongo_database, migrate=True, event_listeners=[commands])
    await store.open()
    try:
        await store.append(record(TRIP_A, 1, key="u:1"))
        with pytest.raises(VersionConflict) as conflict:
            await store.append(record(TRIP_A, 1))
        with pytest.raises(DuplicateCommand) as duplicate:
            await store.append(record(TRIP_B, 1, key="u:1"))
    finally:
        await store.close()
    assert (conflict.value.stream, conflict.value.version) == (TRIP_A, 1)
    assert duplicate.value.key == "u:1"
    # the server refused the inserts (no read-before-write in the adapter)
    codes = [error["code"] for reply in commands.replies for error in reply.get("writeErrors", [])]
    assert codes == [11000, 11000]


def test_duplicate_key_errors_are_read_in_both_shapes() -> None:
    mongodb = {
        "index": 0,
        "code": 11000,
        "keyPattern": {"stream": 1, "version": 1},
        "keyValue": {"stream": TRIP_A, "version": 1},
        "errmsg": "E11000 duplicate key error collection: travelsense.log index: stream_version dup key: { ... }",
    }
    assert duplicated_key(mongodb) == "version"
    assert duplicated_key({**mongodb, "keyPattern": {"idempotencyKey": 1}}) == "idempotency"
    assert duplicated_key({**mongodb, "keyPattern": {"_id": 1}}) == "other"
    # without keyPattern the index name decides, never the database name or the values
    older = 'E11000 duplicate key error collection: stream.log index: _id_ dup key: { _id: "version" }'
    assert duplicated_key({"code": 11000, "errmsg": older}) == "other"
    nx = {"index": 0, "code": 11000, "errmsg": "UNIQUE constraint failed: index 'idx_log_stream_version'"}
    assert duplicated_key(nx) == "version"
    assert duplicated_key({**nx, "errmsg": "UNIQUE constraint failed: index 'idx_log_idempotencyKey'"}) == "idempotency"
    assert duplicated_key({**nx, "errmsg": "UNIQUE constraint failed: log._id"}) == "other"
    assert duplicated_key({"code": 121, "errmsg": "Document failed validation"}) is None


async def test_migrations_are_idempotent_and_recorded_in_the_ledger(
    mongo_url: str, mongo_database: str, raw: Any
) -> None:
    store = MongoEventStore(mongo_url, database=mongo_database)
    with pytest.raises(SchemaNotMigrated):
        await store.open()  # never migrates by itself
    assert await store.migrate() == ALL_MIGRATIONS
    assert await store.migrate() == []
    await store.open()
    await store.close()

    ledger = await raw["migrations"].find({}).to_list(None)
    assert [entry["_id"] for entry in ledger] == ALL_MIGRATIONS
    assert all("appliedAt" in entry for entry in ledger)
    keys = {tuple(k for k, _ in index["key"]): index for index in (await raw["log"].index_information()).values()}
    assert keys[("position",)].get("unique") and keys[("stream", "version")].get("unique")
    assert keys[("idempotencyKey",)].get("unique")
    assert {("tripId", "position"), ("userId", "position"), ("command", "position")} <= set(keys)
    assert ("events.data.userId", "position") in keys  # notifications by recipient (m0004)


async def test_two_processes_migrating_at_once_record_each_migration_once(
    mongo_url: str, mongo_database: str, raw: Any
) -> None:
    first, second = (MongoEventStore(mongo_url, database=mongo_database) for _ in range(2))
    try:
        applied = await asyncio.gather(first.migrate(), second.migrate())
    finally:
        await first.close()
        await second.close()
    assert sorted(applied[0] + applied[1]) == ALL_MIGRATIONS
    assert await raw["migrations"].count_documents({}) == len(ALL_MIGRATIONS)


async def test_an_unreachable_server_is_store_unavailable_quickly() -> None:
    closed = f"mongodb://127.0.0.1:{mongo_server.free_port()}/?serverSelectionTimeoutMS=500"
    store = MongoEventStore(closed, migrate=True)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.append(record(TRIP_A, 1))
    assert time.monotonic() - started < 3
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.append(record(TRIP_A, 1))  # closed


async def test_concurrent_appends_share_insert_many_calls(mongo_url: str, mongo_database: str) -> None:
    commands = CommandLog()
    store = MongoEventStore(mongo_url, database=mongo_database, migrate=True, event_listeners=[commands])
    await store.open()
    try:
        # one record per stream and batch (an unordered insert cannot stop at a failed version): 100 streams
        stored = await asyncio.gather(*(store.append(record(f"{n:024x}", 1)) for n in range(1, 101)))
    finally:
        await store.close()
    inserts = commands.sent("insert", "log")
    assert 1 <= inserts < 100
    assert commands.sent("findAndModify", "counters") == inserts  # one position block per batch
    positions = [r.position for r in stored]
    assert positions == sorted(set(positions))  # unique and increasing in append order


async def test_two_stores_on_one_database_never_share_a_position(mongo_url: str, mongo_database: str) -> None:
    stores = [MongoEventStore(mongo_url, database=mongo_database, migrate=True) for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        stored = await asyncio.gather(*(stores[n % 2].append(record(None, None, command="typing")) for n in range(200)))
        everything = await stores[0].read_all(limit=1000)
    finally:
        for store in stores:
            await store.close()
    assert len({r.position for r in stored}) == 200
    assert [r.position for r in everything] == sorted(r.position for r in stored)


async def test_null_stream_fields_are_left_out_of_the_document(mongo_url: str, mongo_database: str, raw: Any) -> None:
    store = MongoEventStore(mongo_url, database=mongo_database, migrate=True)
    await store.open()
    try:
        typing = await store.append(record(TRIP_A, None, command="typing"))
        found = await store.read_all()
    finally:
        await store.close()
    document = await raw["log"].find_one({"_id": typing.record_id})
    assert document["stream"] == TRIP_A and "version" not in document and "idempotencyKey" not in document
    assert document["recordId"] == typing.record_id and document["position"] == typing.position
    assert found == [typing]


async def test_the_database_comes_from_the_url_path(mongo_url: str, mongo_database: str, raw: Any) -> None:
    parts = urlsplit(mongo_url)
    store = MongoEventStore(urlunsplit(parts._replace(path=f"/{mongo_database}")), migrate=True)
    await store.open()
    try:
        written = await store.append(record(TRIP_A, 1))
    finally:
        await store.close()
    assert await raw["log"].count_documents({"_id": written.record_id}) == 1


async def test_an_unacknowledged_write_concern_is_refused(mongo_url: str, mongo_database: str) -> None:
    parts = urlsplit(mongo_url)
    query = "&".join(option for option in (parts.query, "w=0") if option)
    store = MongoEventStore(urlunsplit(parts._replace(query=query)), database=mongo_database)
    with pytest.raises(StoreError, match="w=0"):
        await store.open()
    await store.close()


async def test_migrating_holds_a_lock_that_a_second_migrator_waits_for(
    mongo_url: str, mongo_database: str, raw: Any
) -> None:
    async with runner.locked(raw) as owner:
        assert (await raw[runner.LOCK].find_one({"_id": "migrate"}))["owner"] == owner
        with pytest.raises(runner.MigrationLocked):
            await runner.migrate(raw, wait=0.3)  # another holds it: waits, then gives up
    assert await raw[runner.LOCK].count_documents({}) == 0  # released
    assert await runner.migrate(raw, wait=0.3) == ALL_MIGRATIONS


async def test_a_lock_whose_holder_died_is_taken_over(mongo_url: str, mongo_database: str, raw: Any) -> None:
    long_ago = datetime.now(UTC) - runner.LOCK_TTL * 2
    await raw[runner.LOCK].insert_one({"_id": "migrate", "owner": "dead", "since": long_ago, "until": long_ago})
    assert await runner.migrate(raw, wait=0.3) == ALL_MIGRATIONS


async def test_migration_status_lists_applied_and_pending(mongo_url: str, mongo_database: str) -> None:
    store = MongoEventStore(mongo_url, database=mongo_database)
    try:
        assert await store.migration_status() == ([], ALL_MIGRATIONS)
        await store.migrate()
        assert await store.migration_status() == (ALL_MIGRATIONS, [])
    finally:
        await store.close()
