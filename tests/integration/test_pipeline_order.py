"""The command pipeline keeps one connection's commands in the order sent, on every
store and with several nodes: a lost version race (another node appended first)
never reorders, refuses or loses a later command of the same connection.

Two pipelines ("nodes") share one real store (a SQLite file, or a MongoDB database
through the real driver); each has its own read side, as two server processes do.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from domain.errors import CommandRefused, ErrorCode
from domain.trip_decider import Actor, CreateTrip, PostChatMessage, UpdateTrip
from eventlog.mongo_store import MongoEventStore
from eventlog.ports import EventStore, StoreUnavailable
from eventlog.records import LogRecord
from eventlog.sqlite_store import SqliteEventStore
from projections.read_side import ReadSide
from service.breaker import StoreBreaker
from service.clock import SystemClock
from service.ids import ObjectIdFactory
from service.metrics import Metrics
from service.pipeline import Handle, Origin, Outcome, Pipeline, Request

TRIP = "650000000000000000000100"
OWNER = "650000000000000000000001"


class Heard:
    """Reactions that keep the records each node committed, in the order it reacted."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    async def committed(self, record: LogRecord) -> None:
        self.records.append(record)


@contextlib.asynccontextmanager
async def two_nodes(stores: list[EventStore]) -> AsyncIterator[list[Pipeline]]:
    new_id = ObjectIdFactory()
    for store in stores:
        await store.open()
    try:
        yield [Pipeline(store, ReadSide(store), Heard(), SystemClock(), new_id) for store in stores]
    finally:
        for store in stores:
            await store.close()


@pytest.fixture(params=["sqlite", "mongo"])
def shared_stores(request: pytest.FixtureRequest, tmp_path: Path) -> list[EventStore]:
    if request.param == "sqlite":
        path = str(tmp_path / "events.db")
        return [SqliteEventStore(path), SqliteEventStore(path)]
    url: str = request.getfixturevalue("mongo_url")
    database: str = request.getfixturevalue("mongo_database")
    return [MongoEventStore(url, database=database, migrate=True) for _ in range(2)]


def request_of(user: str, command: str, ref: str, session: str) -> Request:
    return Request(Origin("ws", user, "user", session), command, {"ref": ref}, ref, TRIP)


async def create(node: Pipeline) -> None:
    await node.run(Request(Origin("rest", OWNER, "user"), "create_trip", {}, trip_id=TRIP), created())


def created() -> CreateTrip:
    return CreateTrip(TRIP, "Lisbon", OWNER, (), (), ())


def driven(handle: Handle) -> asyncio.Future[Outcome]:
    """The command's outcome awaited at once, in a task of its own, as a connection's
    frame task awaits it (a lost race is decided again there)."""
    return asyncio.ensure_future(handle.outcome)


async def test_a_connections_day_then_activity_never_fails_when_another_node_races(
    shared_stores: list[EventStore],
) -> None:
    """The reproduction of the report: each connection sends ``day_added`` and at once an
    ``activity_added`` into that day, on two nodes appending to one trip."""
    async with two_nodes(shared_stores) as nodes:
        await create(nodes[0])
        handles: list[tuple[int, asyncio.Future[Outcome], asyncio.Future[Outcome]]] = []

        async def connection(n: int, node: Pipeline) -> None:
            """One client: a day, then at once an activity in it, round after round."""
            for round_ in range(12):
                day_id = f"{round_:012x}{n:012x}"
                actor = Actor(OWNER)
                date = (dt.date(2027, 1, 1) + dt.timedelta(days=2 * round_ + n)).isoformat()  # one day per date
                day = UpdateTrip(actor, "day_added", {"day": {"dayId": day_id, "date": date}}, None, ())
                activity = UpdateTrip(
                    actor, "activity_added", {"dayId": day_id, "activity": {"title": "x"}}, None, (f"{day_id}aa"[-24:],)
                )
                first = await node.submit(request_of(OWNER, "trip_update", f"d{round_}", f"s{n}"), day)
                second = await node.submit(request_of(OWNER, "trip_update", f"a{round_}", f"s{n}"), activity)
                handles.append((n, driven(first), driven(second)))

        await asyncio.gather(*(connection(n, node) for n, node in enumerate(nodes)))
        outcomes = await asyncio.gather(*(h for _, a, b in handles for h in (a, b)), return_exceptions=True)
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        assert refused == []
        for _, first, second in handles:
            assert first.result().record.version < second.result().record.version  # type: ignore[operator]
        versions = [r.version for r in await shared_stores[0].read_stream(TRIP)]
        assert versions == list(range(1, 2 + 2 * len(handles)))  # no gap, nothing twice


async def test_a_connections_chat_messages_take_effect_in_the_order_sent(shared_stores: list[EventStore]) -> None:
    async with two_nodes(shared_stores) as nodes:
        await create(nodes[0])
        sent: dict[int, list[asyncio.Future[Outcome]]] = {0: [], 1: []}

        async def connection(n: int, node: Pipeline) -> None:
            for i in range(40):
                command = PostChatMessage(Actor(OWNER), ObjectIdFactory()(), f"{n}:{i}", "text")
                sent[n].append(driven(await node.submit(request_of(OWNER, "chat_message", f"m{i}", f"s{n}"), command)))

        await asyncio.gather(*(connection(n, node) for n, node in enumerate(nodes)))
        for n in (0, 1):
            seqs = [(await handle).record.version for handle in sent[n]]
            assert seqs == sorted(seqs)  # each connection's messages in the order it sent them
        texts_in_log = [r.events[0]["data"]["message"] for r in await shared_stores[0].read_stream(TRIP, 1)]
        for n in (0, 1):
            mine = [t for t in texts_in_log if t.startswith(f"{n}:")]
            assert mine == [f"{n}:{i}" for i in range(40)]


async def test_a_refusal_decided_on_appends_not_yet_durable_is_decided_again(tmp_path: Path) -> None:
    """An update naming a day that an earlier queued command adds is never refused
    because the day is not durable yet; one naming a day nobody added is."""
    async with two_nodes([SqliteEventStore(str(tmp_path / "events.db"))]) as [node]:
        await create(node)
        actor = Actor(OWNER)
        day = UpdateTrip(actor, "day_added", {"day": {"dayId": "d" * 24, "date": "2026-12-04"}}, None, ())
        good = UpdateTrip(actor, "activity_added", {"dayId": "d" * 24, "activity": {"title": "x"}}, None, ("a" * 24,))
        bad = UpdateTrip(actor, "activity_added", {"dayId": "e" * 24, "activity": {"title": "x"}}, None, ("b" * 24,))
        handles = [await node.submit(request_of(OWNER, "trip_update", r, "s"), c) for r, c in (("1", day), ("2", good))]
        refused = await node.submit(request_of(OWNER, "trip_update", "3", "s"), bad)
        assert [(await h).record.version for h in handles] == [2, 3]
        with pytest.raises(CommandRefused) as caught:
            await refused
        assert caught.value.code == ErrorCode.VALIDATION_ERROR


async def test_a_repeated_ref_is_answered_with_the_original_and_appends_nothing(tmp_path: Path) -> None:
    store = SqliteEventStore(str(tmp_path / "events.db"))
    async with two_nodes([store]) as [node]:
        await create(node)
        message = PostChatMessage(Actor(OWNER), "1" * 24, "hello", "text")
        key = f"{OWNER}:{TRIP}:chat_message:r1"
        request = Request(Origin("ws", OWNER, "user", "s"), "chat_message", {}, "r1", TRIP, key)
        first = await node.run(request, message)
        again = await node.run(request, PostChatMessage(Actor(OWNER), "2" * 24, "hello", "text"))
        assert again.duplicate and again.record.record_id == first.record.record_id
        assert [r.version for r in await store.read_stream(TRIP)] == [1, 2]


async def test_commands_are_refused_unavailable_in_bounded_time_while_mongodb_is_down(
    mongo_url: str, mongo_database: str
) -> None:
    """A MongoDB that cannot be reached refuses commands within the store timeout, and
    nothing refused is written; the node recovers by itself (no state to reset)."""
    from tests import mongo_server

    port = mongo_server.free_port()
    unreachable = f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300"
    store = MongoEventStore(unreachable, database=mongo_database)
    node = Pipeline(store, ReadSide(store), Heard(), SystemClock(), ObjectIdFactory(), store_timeout=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    results: list[Any] = await asyncio.gather(
        *(
            node.run(Request(Origin("rest", OWNER, "user"), "create_trip", {}, trip_id=TRIP), created())
            for _ in range(20)
        ),
        return_exceptions=True,
    )
    took = loop.time() - started
    await store.close()
    assert all(type(r).__name__ in {"StoreUnavailable", "CommandRefused"} for r in results), results
    # refused together, not one server selection after another (20 x 0.3 s)
    assert took < 4.0


async def test_once_mongodb_did_not_answer_later_commands_are_refused_without_trying_it(
    mongo_url: str, mongo_database: str
) -> None:
    """One command after another (as one connection sends them) while MongoDB cannot be
    reached: after the first that waited for the server, the others are refused at once by
    the breaker, one at a time trying the server (the probe); none is written."""
    from tests import mongo_server

    port = mongo_server.free_port()
    unreachable = f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300"
    store = MongoEventStore(unreachable, database=mongo_database)
    metrics = Metrics()
    node = Pipeline(
        store,
        ReadSide(store),
        Heard(),
        SystemClock(),
        ObjectIdFactory(),
        store_timeout=0.5,
        breaker=StoreBreaker(metrics),
    )
    refused = 0
    for n in range(10):
        with pytest.raises(StoreUnavailable):
            await node.run(Request(Origin("ws", OWNER, "user"), "chat_message", {}, f"r{n}", TRIP), created())
        refused += 1
    await store.close()
    assert refused == 10
    # the first waited for the server; the probes went to it one at a time; the rest never did
    exposition = metrics.exposition().decode()
    assert "travelsense_store_breaker_open 1.0" in exposition
    at_once = next(
        line for line in exposition.splitlines() if line.startswith("travelsense_store_breaker_refusals_total")
    )
    assert float(at_once.split()[-1]) >= 8, exposition
