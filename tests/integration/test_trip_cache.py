"""A serving read side holds trips in a cache with a budget, loads them from snapshots, and reads
older chat pages from the store: whatever it drops and reloads, it answers what a read side that
folded every whole stream and kept everything answers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.replay_bench import LogGenerator
from domain.trip_codec import trip_to_snapshot
from domain.trip_model import Trip
from eventlog.ports import TripSnapshot
from eventlog.records import SlimRecord
from eventlog.sqlite_store import SqliteEventStore
from projections.read_side import FOLD_SLICE, ReadSide, TripCache

RECORDS = 3000
TRIPS = 12


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    store = SqliteEventStore(str(tmp_path / "events.db"), synchronous="OFF")
    await store.open()
    await asyncio.gather(*(store.append(record) for record in LogGenerator(7, TRIPS, 6).records(RECORDS)))
    yield store
    await store.close()


async def trip_ids(store: SqliteEventStore) -> list[str]:
    side = await ReadSide.rebuild(store)
    return sorted(side.audit.streams)


async def whole(store: SqliteEventStore, trip_id: str) -> ReadSide:
    side = ReadSide(store)
    await side.catch_up_trip(trip_id)
    return side


def full_state(trip: Trip | None) -> object:
    return trip_to_snapshot(trip) if trip is not None else None


async def test_a_small_budget_holds_a_few_trips_and_every_state_it_answers_is_right(store: SqliteEventStore) -> None:
    trips = await trip_ids(store)
    budget = 40_000
    side = ReadSide(store, cache=TripCache(budget, snapshot_every=100, chat_tail=10))
    order = trips * 3
    random.Random(1).shuffle(order)
    for trip_id in order:
        state = await side.trip(trip_id)
        reference = (await whole(store, trip_id)).trips.get(trip_id)
        assert full_state(state) == full_state(reference)
        assert side.held_bytes <= budget or side.held_trips == 1
    assert side.held_trips < len(trips)
    await side.drain()


async def test_a_dropped_trip_is_snapshotted_and_a_fresh_node_loads_it_from_there(store: SqliteEventStore) -> None:
    trips = await trip_ids(store)
    side = ReadSide(store, cache=TripCache(1, snapshot_every=1 << 30))  # holds one trip at a time
    for trip_id in trips:
        await side.trip(trip_id)
    await side.drain()
    schema = TripCache(None).schema
    for trip_id in trips[:-1]:  # the last one is still held
        snapshot = await store.load_snapshot(trip_id, schema)
        reference = (await whole(store, trip_id)).trips.get(trip_id)
        assert snapshot is not None and snapshot.state == full_state(reference)


async def test_a_trip_is_loaded_from_its_snapshot_and_only_what_follows_is_folded(store: SqliteEventStore) -> None:
    trip_id = (await trip_ids(store))[0]
    reference = (await whole(store, trip_id)).trips.get(trip_id)
    assert reference is not None
    cache = TripCache(None, snapshot_every=None)
    marked = trip_to_snapshot(reference) | {"title": "only the snapshot says this"}
    await store.save_snapshot(TripSnapshot(trip_id, reference.version, cache.schema, marked))
    loaded = await ReadSide(store, cache=cache).trip(trip_id)
    assert loaded is not None and loaded.title == "only the snapshot says this"
    assert loaded.version == reference.version


async def test_a_snapshot_made_by_other_code_is_ignored(store: SqliteEventStore) -> None:
    trip_id = (await trip_ids(store))[0]
    reference = (await whole(store, trip_id)).trips.get(trip_id)
    assert reference is not None
    marked = trip_to_snapshot(reference) | {"title": "stale"}
    await store.save_snapshot(TripSnapshot(trip_id, reference.version, "an older schema", marked))
    loaded = await ReadSide(store, cache=TripCache(None, snapshot_every=None)).trip(trip_id)
    assert full_state(loaded) == full_state(reference)


async def test_every_chat_page_equals_the_page_of_the_whole_history(store: SqliteEventStore) -> None:
    trips = await trip_ids(store)
    side = ReadSide(store, cache=TripCache(20_000, snapshot_every=50, chat_tail=5))
    for trip_id in trips:
        reference = await whole(store, trip_id)
        await side.trip(trip_id)
        for limit in (1, 7, 50):
            before: str | None = None
            while True:
                expected = reference.chat.page(trip_id, limit, before)
                assert await side.chat_page(trip_id, limit, before) == expected
                if not expected:
                    break
                before = expected[0]["messageId"]
        assert await side.chat_page(trip_id, 10, "no such message") is None
    await side.drain()


async def test_records_applied_after_a_load_keep_held_trips_and_chat_current(tmp_path: Path) -> None:
    store = SqliteEventStore(str(tmp_path / "events.db"), synchronous="OFF")
    await store.open()
    try:
        records = list(LogGenerator(3, 4, 5).records(1500))
        await asyncio.gather(*(store.append(record) for record in records[:1000]))
        side = ReadSide(store, cache=TripCache(1 << 20, snapshot_every=40, chat_tail=5))
        for trip_id in await trip_ids(store):
            await side.trip(trip_id)
        for record in records[1000:]:
            side.apply(await store.append(record))
        for trip_id in await trip_ids(store):
            reference = await whole(store, trip_id)
            assert full_state(await side.trip(trip_id, fresh=False)) == full_state(reference.trips.get(trip_id))
            assert await side.chat_page(trip_id, 3, None) == reference.chat.page(trip_id, 3, None)
        await side.drain()
    finally:
        await store.close()


async def test_a_long_fold_lets_other_requests_run_between_slices_of_its_records(tmp_path: Path) -> None:
    store = SqliteEventStore(str(tmp_path / "one-trip.db"), synchronous="OFF")
    await store.open()
    await asyncio.gather(*(store.append(record) for record in LogGenerator(7, 1, 6).records(1000)))
    (trip_id,) = await trip_ids(store)
    size = len(await store.read_stream(trip_id))
    side = ReadSide(store, cache=TripCache(None, snapshot_every=None), page=10_000)  # the whole stream in one read
    turns = 0
    folding = True

    async def other_request() -> None:
        nonlocal turns
        while folding:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_request())
    await asyncio.sleep(0)
    turns = 0
    await side.catch_up_trip(trip_id)
    folding = False
    await other
    # without slices, only the store's reads (a few) let it run
    assert size > 10 * FOLD_SLICE and turns >= size // FOLD_SLICE
    reference = (await whole(store, trip_id)).trips.get(trip_id)
    assert full_state(side.trips.get(trip_id)) == full_state(reference)
    await store.close()


async def test_a_trip_is_folded_in_reads_of_the_stores_stream_page_not_its_fold_page(tmp_path: Path) -> None:
    """The store's one reader serves every request: a history page asked for while a long stream is
    folded waits for one of the fold's reads, so those stay short where reads are cheap."""
    store = SqliteEventStore(str(tmp_path / "one-trip.db"), synchronous="OFF")
    await store.open()
    await asyncio.gather(*(store.append(record) for record in LogGenerator(7, 1, 6).records(600)))
    (trip_id,) = await trip_ids(store)
    size = len(await store.read_stream(trip_id))
    assert store.stream_page < store.fold_page < size
    reads: list[int] = []
    read_stream_slim = store.read_stream_slim

    async def counted(stream: str, after_version: int = 0, limit: int | None = None) -> list[SlimRecord]:
        found = await read_stream_slim(stream, after_version, limit)
        reads.append(len(found))
        return found

    store.read_stream_slim = counted  # type: ignore[method-assign]
    side = ReadSide(store, cache=TripCache(None, snapshot_every=None))
    await side.catch_up_trip(trip_id)
    assert sum(reads) == size and max(reads) == store.stream_page
    await store.close()
