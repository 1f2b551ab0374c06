"""Chat pages read through the store's index, and trip snapshots: the contract every store adapter keeps."""

from __future__ import annotations

import itertools

from eventlog.ports import EventStore, TripSnapshot
from eventlog.records import ACCEPTED, LogRecord

_ids = itertools.count(1)
TRIP_A = "a" * 24
TRIP_B = "b" * 24


def stream_record(stream: str, version: int, *, chat: str | None = None) -> LogRecord:
    n = next(_ids)
    event = (
        {"type": "chat_message", "data": {"messageId": chat, "userId": "u", "message": f"m{n}", "type": "text"}}
        if chat is not None
        else {"type": "trip_updated", "data": {"n": n}}
    )
    return LogRecord(
        record_id=f"{n:024x}",
        at="2026-11-25T10:00:00.000Z",
        source="ws",
        command="chat_message" if chat is not None else "trip_update",
        outcome=ACCEPTED,
        user_id="u",
        trip_id=stream,
        events=(event,),
        stream=stream,
        version=version,
    )


async def _fill(store: EventStore) -> None:
    """TRIP_A: versions 1..10, chat messages m2, m4, ... m10 at even versions; TRIP_B: one message b1."""
    for version in range(1, 11):
        await store.append(stream_record(TRIP_A, version, chat=f"m{version}" if version % 2 == 0 else None))
    await store.append(stream_record(TRIP_B, 1, chat="b1"))


def _ids_of(records: list[LogRecord] | None) -> list[str] | None:
    return None if records is None else [r.events[0]["data"]["messageId"] for r in records]


async def test_a_chat_page_holds_the_newest_messages_oldest_first(store: EventStore) -> None:
    await _fill(store)
    assert _ids_of(await store.read_chat_page(TRIP_A, 3)) == ["m6", "m8", "m10"]
    assert _ids_of(await store.read_chat_page(TRIP_A, 100)) == ["m2", "m4", "m6", "m8", "m10"]
    assert _ids_of(await store.read_chat_page("f" * 24, 10)) == []


async def test_a_chat_page_before_a_message_holds_the_ones_older_than_it(store: EventStore) -> None:
    await _fill(store)
    assert _ids_of(await store.read_chat_page(TRIP_A, 2, "m8")) == ["m4", "m6"]
    assert _ids_of(await store.read_chat_page(TRIP_A, 5, "m2")) == []
    page = await store.read_chat_page(TRIP_A, 1, "m10")
    assert page is not None and [(r.stream, r.version) for r in page] == [(TRIP_A, 8)]


async def test_a_chat_page_before_an_unknown_message_or_one_of_another_trip_is_none(store: EventStore) -> None:
    await _fill(store)
    assert await store.read_chat_page(TRIP_A, 10, "nope") is None
    assert await store.read_chat_page(TRIP_A, 10, "b1") is None


async def test_the_latest_snapshot_of_the_schema_asked_for_is_loaded(store: EventStore) -> None:
    assert await store.load_snapshot(TRIP_A, "s1") is None
    await store.save_snapshot(TripSnapshot(TRIP_A, 5, "s1", {"v": 5, "text": "café ✈"}))
    await store.save_snapshot(TripSnapshot(TRIP_A, 8, "s1", {"v": 8}))
    await store.save_snapshot(TripSnapshot(TRIP_B, 2, "s1", {"v": 2}))
    assert await store.load_snapshot(TRIP_A, "s1") == TripSnapshot(TRIP_A, 8, "s1", {"v": 8})
    assert await store.load_snapshot(TRIP_B, "s1") == TripSnapshot(TRIP_B, 2, "s1", {"v": 2})


async def test_an_older_snapshot_never_replaces_a_newer_one(store: EventStore) -> None:
    await store.save_snapshot(TripSnapshot(TRIP_A, 8, "s1", {"v": 8}))
    await store.save_snapshot(TripSnapshot(TRIP_A, 5, "s1", {"v": 5}))
    await store.save_snapshot(TripSnapshot(TRIP_A, 8, "s1", {"v": "again"}))
    assert await store.load_snapshot(TRIP_A, "s1") == TripSnapshot(TRIP_A, 8, "s1", {"v": 8})


async def test_a_snapshot_made_by_another_schema_is_not_loaded(store: EventStore) -> None:
    await store.save_snapshot(TripSnapshot(TRIP_A, 5, "old", {"v": 5}))
    assert await store.load_snapshot(TRIP_A, "new") is None
    await store.save_snapshot(TripSnapshot(TRIP_A, 6, "new", {"v": 6}))
    assert await store.load_snapshot(TRIP_A, "new") == TripSnapshot(TRIP_A, 6, "new", {"v": 6})
    assert await store.load_snapshot(TRIP_A, "old") is None  # replaced by the newer one


async def test_read_snapshots_pages_through_every_streams_newest_snapshot(store: EventStore) -> None:
    streams = [f"{n:024x}" for n in range(5)]
    for n, stream in enumerate(streams):
        await store.save_snapshot(TripSnapshot(stream, 1, "s1", {"n": n}))
        await store.save_snapshot(TripSnapshot(stream, 2, "s2", {"n": n}))
    first = await store.read_snapshots(limit=3)
    rest = await store.read_snapshots(first[-1].stream, limit=3)
    assert [s.stream for s in first + rest] == streams
    assert {(s.version, s.schema) for s in first + rest} == {(2, "s2")}


async def test_a_chat_message_is_found_by_its_id_within_its_stream_only(store: EventStore) -> None:
    await _fill(store)
    found = await store.find_chat_message(TRIP_A, "m4")
    assert found is not None and (found.stream, found.version) == (TRIP_A, 4)
    assert found.events[0]["data"]["messageId"] == "m4"
    assert await store.find_chat_message(TRIP_B, "m4") is None  # another trip's message
    assert await store.find_chat_message(TRIP_A, "m3") is None  # no message has that id


async def test_chat_messages_of_others_after_a_version_are_counted_up_to_a_limit(store: EventStore) -> None:
    await _fill(store)  # TRIP_A: messages at versions 2, 4, 6, 8, 10, all by "u"
    await store.append(stream_record(TRIP_A, 11, chat="m11").but(user_id="v"))
    assert await store.count_chat_messages(TRIP_A, 0, "someone", 100) == 6
    assert await store.count_chat_messages(TRIP_A, 6, "someone", 100) == 3
    assert await store.count_chat_messages(TRIP_A, 6, "someone", 2) == 2
    assert await store.count_chat_messages(TRIP_A, 0, "u", 100) == 1  # the user's own messages are not counted
    assert await store.count_chat_messages(TRIP_A, 11, "someone", 100) == 0
    # the messages named as deleted since are left out; naming none leaves out nothing
    assert await store.count_chat_messages(TRIP_A, 0, "someone", 100, ["m4", "m11", "m-none"]) == 4
    assert await store.count_chat_messages(TRIP_A, 6, "someone", 100, ["m8"]) == 2
    assert await store.count_chat_messages(TRIP_A, 0, "someone", 100, []) == 6
