"""The EventStore contract, written once and run against every adapter."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from eventlog.ports import DuplicateCommand, EventStore, RecordFilter, VersionConflict
from eventlog.records import ACCEPTED, REFUSED, LogRecord, SlimRecord

_ids = itertools.count(1)
TRIP_A = "a" * 24
TRIP_B = "b" * 24


def record(
    stream: str | None = None,
    version: int | None = None,
    *,
    command: str = "trip_update",
    key: str | None = None,
    user: str = "c" * 24,
    at: str = "2026-11-25T10:00:00.000Z",
    outcome: str = ACCEPTED,
) -> LogRecord:
    n = next(_ids)
    return LogRecord(
        record_id=f"{n:024x}",
        at=at,
        source="ws",
        command=command,
        outcome=outcome,
        user_id=user,
        session_id="s1",
        trip_id=stream,
        payload={"n": n, "text": "café ✈"},
        events=({"type": "trip_updated", "data": {"n": n}},) if version is not None else (),
        stream=stream,
        version=version,
        idempotency_key=key,
    )


async def test_append_returns_the_record_with_an_increasing_position(store: EventStore) -> None:
    first = await store.append(record(TRIP_A, 1))
    second = await store.append(record(None, None, command="typing"))
    assert 0 < first.position < second.position
    assert second.command == "typing"


async def test_a_record_reads_back_exactly_as_written(store: EventStore) -> None:
    written = record(TRIP_A, 1, key="u:r1")
    stored = await store.append(written)
    [read] = await store.read_stream(TRIP_A)
    assert read.payload == written.payload
    assert read.events == written.events
    assert (read.record_id, read.version, read.idempotency_key, read.position) == (
        written.record_id,
        1,
        "u:r1",
        stored.position,
    )


async def test_read_stream_returns_only_versioned_records_in_version_order(store: EventStore) -> None:
    for version in (1, 2, 3):
        await store.append(record(TRIP_A, version))
        await store.append(record(TRIP_A, None, command="typing"))
    await store.append(record(TRIP_B, 1))
    versions = [r.version for r in await store.read_stream(TRIP_A)]
    assert versions == [1, 2, 3]
    assert [r.version for r in await store.read_stream(TRIP_A, after_version=1, limit=1)] == [2]
    assert await store.stream_version(TRIP_A) == 3
    assert await store.stream_version("f" * 24) == 0


async def test_a_taken_version_is_a_version_conflict(store: EventStore) -> None:
    await store.append(record(TRIP_A, 1))
    with pytest.raises(VersionConflict):
        await store.append(record(TRIP_A, 1))
    assert [r.version for r in await store.read_stream(TRIP_A)] == [1]


async def test_a_taken_idempotency_key_is_a_duplicate_command(store: EventStore) -> None:
    await store.append(record(TRIP_A, 1, key="user:ref-1"))
    with pytest.raises(DuplicateCommand):
        await store.append(record(TRIP_A, 2, key="user:ref-1"))
    found = await store.find_by_idempotency_key("user:ref-1")
    assert found is not None and found.version == 1
    assert await store.find_by_idempotency_key("user:other") is None


async def test_records_without_version_or_key_never_collide(store: EventStore) -> None:
    for _ in range(5):
        await store.append(record(TRIP_A, None, command="typing", outcome=REFUSED))
    assert len(await store.read_all()) == 5


async def test_concurrent_appenders_to_one_stream_leave_no_gap_and_no_duplicate(store: EventStore) -> None:
    """Many writers race for the next version; losers re-read the head and retry."""

    async def writer() -> int:
        wins = 0
        for _ in range(10):
            while True:
                head = await store.stream_version(TRIP_A)
                try:
                    await store.append(record(TRIP_A, head + 1))
                    wins += 1
                    break
                except VersionConflict:
                    continue
        return wins

    wins = await asyncio.gather(*(writer() for _ in range(8)))
    assert sum(wins) == 80
    versions = [r.version for r in await store.read_stream(TRIP_A)]
    assert versions == list(range(1, 81))


async def test_a_failed_append_in_a_batch_does_not_fail_the_others(store: EventStore) -> None:
    await store.append(record(TRIP_A, 1))
    results = await asyncio.gather(
        store.append(record(TRIP_A, 1)),
        store.append(record(TRIP_B, 1)),
        store.append(record(None, None, command="typing")),
        return_exceptions=True,
    )
    assert isinstance(results[0], VersionConflict)
    assert isinstance(results[1], LogRecord) and isinstance(results[2], LogRecord)


async def test_read_all_pages_by_position_and_filters(store: EventStore) -> None:
    await store.append(record(TRIP_A, 1, user="1" * 24, at="2026-11-25T10:00:00.000Z"))
    await store.append(record(TRIP_B, 1, user="2" * 24, at="2026-11-25T11:00:00.000Z"))
    await store.append(record(TRIP_A, None, command="typing", user="2" * 24, at="2026-11-25T12:00:00.000Z"))
    everything = await store.read_all()
    assert len(everything) == 3
    page = await store.read_all(after_position=everything[0].position, limit=1)
    assert [r.record_id for r in page] == [everything[1].record_id]
    by_trip = await store.read_all(where=RecordFilter(trip_id=TRIP_A))
    assert [r.record_id for r in by_trip] == [everything[0].record_id, everything[2].record_id]
    by_user = await store.read_all(where=RecordFilter(user_id="2" * 24, commands=("typing",)))
    assert [r.record_id for r in by_user] == [everything[2].record_id]
    in_window = await store.read_all(
        where=RecordFilter(since="2026-11-25T10:30:00.000Z", until="2026-11-25T12:00:00.000Z")
    )
    assert [r.record_id for r in in_window] == [everything[1].record_id]


async def test_records_survive_closing_and_reopening(store_factory) -> None:  # type: ignore[no-untyped-def]
    async with store_factory() as store:
        await store.append(record(TRIP_A, 1))
    async with store_factory() as store:
        assert [r.version for r in await store.read_stream(TRIP_A)] == [1]


def slim_of(record: LogRecord) -> SlimRecord:
    """What a slim read must give for a record read in full."""
    return SlimRecord(
        record.position, record.at, record.command, record.outcome, record.user_id, record.session_id,
        record.trip_id, record.stream, record.version, record.error_code, record.schema_version, list(record.events),
    )  # fmt: skip


def as_compared(records: list[SlimRecord]) -> list[SlimRecord]:
    return [r._replace(events=list(r.events)) for r in records]


async def test_slim_reads_give_what_projections_read_of_the_same_records(store: EventStore) -> None:
    slim = store
    await store.append(record(TRIP_A, 1, user="1" * 24))
    await store.append(record(TRIP_A, None, command="chat_message", outcome=REFUSED))
    await store.append(
        LogRecord(
            record_id=f"{next(_ids):024x}", at="2026-11-25T10:05:00.000Z", source="ws", command="chat_message",
            outcome=REFUSED, user_id="2" * 24, session_id="s2", trip_id=TRIP_B, payload={"message": "hi"},
            error={"code": "NOT_IN_ROOM", "message": "join first"}, meta={"role": "user"},
        )
    )  # fmt: skip
    await store.append(record(TRIP_B, 1, command="chat_message", user="2" * 24))
    await store.append(record(TRIP_A, 2, command="chat_message"))
    await store.append(record(None, None, command="connect"))
    full = await store.read_all()
    assert [r.error_code for r in full] == [None, None, "NOT_IN_ROOM", None, None, None]
    assert as_compared(await slim.read_all_slim()) == [slim_of(r) for r in full]
    for after, limit, where in [
        (full[0].position, 2, None),
        (0, 10, RecordFilter(commands=("chat_message", "connect"))),
        (full[1].position, 1, RecordFilter(commands=("chat_message", "connect"))),
        (0, 10, RecordFilter(trip_id=TRIP_B, user_id="2" * 24, commands=("chat_message",))),
        (0, 10, RecordFilter(since="2026-11-25T10:01:00.000Z")),
    ]:
        expected = [slim_of(r) for r in await store.read_all(after, limit, where)]
        assert as_compared(await slim.read_all_slim(after, limit, where)) == expected and expected
    for stream, after_version, stream_limit in [(TRIP_A, 0, None), (TRIP_A, 1, 1), (TRIP_B, 0, 5)]:
        expected = [slim_of(r) for r in await store.read_stream(stream, after_version, stream_limit)]
        assert as_compared(await slim.read_stream_slim(stream, after_version, stream_limit)) == expected and expected
    assert await slim.read_stream_slim(TRIP_A, 2) == []


async def test_a_refusal_whose_details_hold_any_key_or_value_is_recorded(store: EventStore) -> None:
    """Details echo what a client sent: keys with NUL, ``$`` or ``.``, huge integers, lone
    surrogates.  Every store records the refusal (escaped), and the hash chain holds."""
    from domain.errors import CommandRefused, ErrorCode
    from eventlog.chain import content_hash
    from projections.read_side import ReadSide
    from service.clock import SystemClock
    from service.ids import ObjectIdFactory
    from service.pipeline import Origin, Pipeline, Request

    class Quiet:
        async def committed(self, record: LogRecord) -> None:
            return None

    details = {
        "\x00": ["keys may not contain control characters"],
        "$where": ["keys may not start with '$'"],
        "a.b": ["keys may not start with '$' or contain '.'"],
        "100%": [2**70, -(2**64), float("nan"), "\ud800"],
        "nested": {"$gt": {"x.y\x00": 1}},
    }
    pipeline = Pipeline(store, ReadSide(store), Quiet(), SystemClock(), ObjectIdFactory())
    refusal = CommandRefused(ErrorCode.VALIDATION_ERROR, "refused", details)
    request = Request(Origin("ws", "c" * 24, "user"), "trip_update", meta={"\x00ip": 2**80})
    written = await pipeline.refuse(request, refusal)
    assert written is not None
    (stored,) = [r for r in await store.read_all(written.position - 1) if r.record_id == written.record_id]
    assert stored.error == {
        "code": "VALIDATION_ERROR",
        "message": "refused",
        "details": {
            "%00": ["keys may not contain control characters"],
            "%24where": ["keys may not start with '$'"],
            "a%2Eb": ["keys may not start with '$' or contain '.'"],
            "100%25": [str(2**70), str(-(2**64)), "nan", "\\ud800"],
            "nested": {"%24gt": {"x%2Ey%00": 1}},
        },
    }
    assert stored.meta == {"role": "user", "%00ip": str(2**80)}
    assert stored.extra.get("hash") == content_hash(stored)


async def test_a_failed_stream_record_fails_the_records_of_its_stream_queued_behind_it(store: EventStore) -> None:
    """``enqueue``'s promise: what was decided on a failed record is not written; other
    streams' records, and the stream's records queued once the failure is known, are."""
    await store.append(record(TRIP_A, 1))
    taken = store.enqueue(record(TRIP_A, 1))  # version 1 again: conflicts
    behind = [store.enqueue(record(TRIP_A, version)) for version in (2, 3)]  # decided on it
    other = store.enqueue(record(TRIP_B, 1))
    results = await asyncio.gather(taken, *behind, other, return_exceptions=True)
    assert all(isinstance(result, VersionConflict) for result in results[:3]), results
    assert isinstance(results[3], LogRecord)
    assert [r.version for r in await store.read_stream(TRIP_A)] == [1]
    assert (await store.enqueue(record(TRIP_A, 2))).version == 2  # decided again: written
