"""The audit cannot be blinded: a flood of refusals from one source becomes one
aggregate record with its count, and the next source's refusal is still recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from domain.errors import CommandRefused, ErrorCode
from eventlog.factory import open_store
from eventlog.ports import EventStore, RecordFilter
from eventlog.records import LogRecord
from projections.read_side import ReadSide
from service.admin import AGGREGATE_COMMAND, SecurityEvents
from service.ids import ObjectIdFactory
from service.metrics import Metrics
from service.pipeline import Origin, Pipeline

pytestmark = pytest.mark.integration


class _Quiet:
    """No reactions: these records are refusals, nothing is delivered."""

    async def committed(self, record: LogRecord) -> None:
        return None


def pipeline_on(store: Any, clock: Any) -> Pipeline:
    return Pipeline(store, ReadSide(store), _Quiet(), clock, ObjectIdFactory())


class StoppedClock:
    """Time that moves only when the test says (the flood happens in one instant)."""

    def __init__(self) -> None:
        self.seconds = 1_000.0

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.seconds, dt.UTC)

    def monotonic(self) -> float:
        return self.seconds


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    opened = open_store(f"sqlite:///{tmp_path}/events.db")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def bad_token() -> CommandRefused:
    return CommandRefused(ErrorCode.UNAUTHORIZED, "token refused: Signature verification failed")


async def all_records(store: EventStore) -> list[LogRecord]:
    return list(await store.read_all(0, where=RecordFilter()))


async def test_a_flood_from_one_address_is_one_aggregate_and_does_not_hide_the_next_source(
    store: EventStore,
) -> None:
    clock = StoppedClock()
    security = SecurityEvents(pipeline_on(store, clock), clock, Metrics(), window_seconds=60)
    for _ in range(400):
        await security.record(Origin("rest"), "rest_unauthorized", bad_token(), {"ip": "10.0.0.1"})
    await security.record(Origin("ws"), "ws_handshake", bad_token(), {"ip": "10.0.0.2"})  # the real attempt
    records = await all_records(store)
    assert [r.meta["ip"] for r in records if r.command == "ws_handshake"] == ["10.0.0.2"]
    individual = [r for r in records if r.command == "rest_unauthorized"]
    assert len(individual) == 10  # the source's burst
    await security.close()
    (aggregate,) = [r for r in await all_records(store) if r.command == AGGREGATE_COMMAND]
    assert aggregate.error["details"]["count"] == 390
    assert aggregate.error["details"]["commands"] == {"rest_unauthorized": 390}
    assert aggregate.meta["source"] == "ip:10.0.0.1" and aggregate.meta["ips"] == ["10.0.0.1"]


async def test_a_signed_in_users_refusals_are_counted_per_user_across_addresses(store: EventStore) -> None:
    clock = StoppedClock()
    security = SecurityEvents(pipeline_on(store, clock), clock, Metrics(), source_burst=2)
    user = Origin("rest", "a" * 24, "user")
    for n in range(12):
        await security.record(user, "rest_rate_limited", bad_token(), {"ip": f"10.0.1.{n}"})
    await security.close()
    records = await all_records(store)
    assert len([r for r in records if r.command == "rest_rate_limited"]) == 2
    (aggregate,) = [r for r in records if r.command == AGGREGATE_COMMAND]
    assert aggregate.user_id == "a" * 24 and aggregate.error["details"]["count"] == 10
    assert len(aggregate.meta["ips"]) == 10


async def test_the_aggregate_is_written_when_its_window_ends_without_another_event(store: EventStore) -> None:
    clock = StoppedClock()
    security = SecurityEvents(pipeline_on(store, clock), clock, Metrics(), source_burst=1, window_seconds=0.05)
    for _ in range(5):
        await security.record(Origin("rest"), "rest_unauthorized", bad_token(), {"ip": "10.0.0.3"})
    clock.seconds += 1  # the window is over
    for _ in range(100):  # the timer fires on the loop's own clock
        if any(r.command == AGGREGATE_COMMAND for r in await all_records(store)):
            break
        await asyncio.sleep(0.02)
    (aggregate,) = [r for r in await all_records(store) if r.command == AGGREGATE_COMMAND]
    assert aggregate.error["details"]["count"] == 4
    await security.close()


async def test_past_max_sources_the_rest_share_one_aggregate(store: EventStore) -> None:
    clock = StoppedClock()
    security = SecurityEvents(pipeline_on(store, clock), clock, Metrics(), burst=1, per_second=0, max_sources=3)
    for n in range(50):  # 50 addresses, one refusal each: only the first gets the node's one record
        await security.record(Origin("ws"), "ws_handshake", bad_token(), {"ip": f"10.9.0.{n}"})
    await security.close()
    records = await all_records(store)
    aggregates = [r for r in records if r.command == AGGREGATE_COMMAND]
    assert len([r for r in records if r.command == "ws_handshake"]) == 1
    assert len(aggregates) == 3 + 1  # three sources of their own, and the one the rest share
    assert "sources:other" in {a.meta["source"] for a in aggregates}
    assert sum(a.error["details"]["count"] for a in aggregates) == 49
