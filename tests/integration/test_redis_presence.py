"""Room rosters and the connection directory on a real Redis, with several
``RedisPresence`` instances standing for nodes (short TTLs keep this fast).

Every test given ``redis_url`` runs twice: on the shared Redis, and on a
three-master Redis Cluster of the suite's own (``tests/redis_cluster.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from redis.cluster import RedisCluster

from domain.room import MemberBack, MemberGone, RoomMember, RosterNews, visible_members
from eventlog.redis_bus import stop_task
from eventlog.redis_presence import RedisPresence
from tests.redis_server import PrivateRedis, delete_prefix, private_prefix, unique_prefix

pytestmark = pytest.mark.integration

TRIP = "650000000000000000000100"
INTERVAL, TTL = 0.2, 0.6


@pytest.fixture(params=["redis", "redis-cluster"])
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    if request.param == "redis-cluster":
        cluster: str = request.getfixturevalue("redis_cluster_url")
        return cluster
    return redis_url


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    if redis_url.startswith("redis+cluster://"):
        yield unique_prefix()  # the cluster is the suite's own, and goes with its keys
        return
    with private_prefix(redis_url) as name:
        yield name


def sync_client(url: str) -> redis.Redis | RedisCluster:
    if url.startswith("redis+cluster://"):
        return RedisCluster.from_url(url.replace("redis+cluster://", "redis://"))
    return redis.Redis.from_url(url)


def delete_everything_under(url: str, prefix: str) -> None:
    """As a Redis restart without persistence would (on a cluster: every master's keys, one by one)."""
    if not url.startswith("redis+cluster://"):
        delete_prefix(url, prefix)
        return
    client = sync_client(url)
    try:
        for key in list(client.scan_iter(match=f"{prefix}:*")):
            client.delete(key)
    finally:
        client.close()


def member(session: str, user: str, *, hidden: bool = False, name: str | None = None) -> RoomMember:
    return RoomMember(session, user, name, hidden, "online", 0.0)


class Announcements:
    """What each node's rosters told (``news``), as (node, trip, user) triples."""

    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[RosterNews]] = {}
        self._gone: list[tuple[str, str, str]] = []
        self._back: list[tuple[str, str, str]] = []

    def queue(self, node_id: str) -> asyncio.Queue[RosterNews]:
        return self._queues.setdefault(node_id, asyncio.Queue())

    def _drain(self) -> None:
        for node_id, queue in self._queues.items():
            while not queue.empty():
                match queue.get_nowait():
                    case MemberGone(trip_id, user_id):
                        self._gone.append((node_id, trip_id, user_id))
                    case MemberBack(trip_id, m):
                        self._back.append((node_id, trip_id, m.user_id))

    @property
    def gone(self) -> list[tuple[str, str, str]]:
        self._drain()
        return self._gone

    @property
    def back(self) -> list[tuple[str, str, str]]:
        self._drain()
        return self._back


async def eventually(test: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = test()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def kill(node: RedisPresence) -> None:
    """As kill -9 would: the heartbeat stops and nothing is cleaned up."""
    node._closing = True
    if node._task is not None:
        await stop_task(node._task)
    if node._directory is not None:
        await node._directory.stop()
    await node.client.aclose()


@contextlib.asynccontextmanager
async def nodes(
    url: str,
    prefix: str,
    *names: str,
    heard: Announcements | None = None,
    changed: dict[str, asyncio.Event] | None = None,
    dead_grace: float = 0.0,
    **local: Any,
) -> AsyncIterator[list[RedisPresence]]:
    opened: list[RedisPresence] = []
    try:
        for name in names:
            news = heard.queue(name) if heard is not None else None
            node = RedisPresence(
                url, node_id=name, prefix=prefix, interval=INTERVAL, ttl=TTL, news=news, dead_grace=dead_grace
            )
            if name in local:
                node.directory(local[name], (changed or {}).get(name) or asyncio.Event())
            await node.start()
            opened.append(node)
        yield opened
    finally:
        for node in opened:
            if not node._closing:
                await node.close()


async def test_members_and_visibility_span_every_node(redis_url: str, prefix: str) -> None:
    async with nodes(redis_url, prefix, "a", "b") as [a, b]:
        assert await a.rosters.join(TRIP, member("s1", "u1", name="Ada")) is True
        assert await b.rosters.join(TRIP, member("s2", "u1", name="Ada")) is False  # already shown by node a
        assert await b.rosters.join(TRIP, member("s3", "u2", hidden=True)) is False  # hidden: never shown
        assert await b.rosters.join(TRIP, member("s2", "u1")) is False  # joining twice changes nothing
        seen = await a.rosters.members(TRIP)
        assert sorted(m.session_id for m in seen) == ["s1", "s2", "s3"]
        assert visible_members(seen) == [{"userId": "u1", "name": "Ada", "status": "online"}]

        await b.rosters.set_status(TRIP, "s2", "busy", 0.0)
        assert visible_members(await a.rosters.members(TRIP)) == [{"userId": "u1", "name": "Ada", "status": "busy"}]

        left, gone = await a.rosters.leave(TRIP, "s1")
        assert left is not None and left.user_id == "u1" and gone is False  # still there on node b
        left, gone = await b.rosters.leave(TRIP, "s2")
        assert left is not None and gone is True
        assert await b.rosters.leave(TRIP, "nope") == (None, False)
        assert [m.session_id for m in await a.rosters.members(TRIP)] == ["s3"]


async def test_the_users_in_a_room_span_every_node_hidden_ones_too(redis_url: str, prefix: str) -> None:
    async with nodes(redis_url, prefix, "a", "b") as [a, b]:
        assert await a.rosters.users(TRIP) == frozenset()
        await a.rosters.join(TRIP, member("s1", "u1"))
        await b.rosters.join(TRIP, member("s2", "u2", hidden=True))
        assert await a.rosters.users(TRIP) == await b.rosters.users(TRIP) == {"u1", "u2"}
        await a.rosters.leave(TRIP, "s1")
        assert await b.rosters.users(TRIP) == {"u2"}


async def test_a_dead_nodes_users_are_announced_gone_once_and_dropped_from_member_lists(
    redis_url: str, prefix: str
) -> None:
    heard = Announcements()
    async with nodes(redis_url, prefix, "a", "b", "c", heard=heard) as [a, b, c]:
        await a.rosters.join(TRIP, member("s1", "u1"))
        await a.rosters.join(TRIP, member("s4", "u3"))
        await b.rosters.join(TRIP, member("s2", "u2"))
        await b.rosters.join(TRIP, member("s3", "u3"))
        await b.rosters.join(TRIP, member("s5", "u5", hidden=True))
        await c.rosters.join(TRIP, member("s6", "u4"))
        started = time.monotonic()
        await kill(b)

        async def b_gone() -> bool:
            return {m.session_id for m in await a.rosters.members(TRIP)} == {"s1", "s4", "s6"}

        await eventually(b_gone)
        await eventually(lambda: heard.gone)
        took = time.monotonic() - started
        await asyncio.sleep(3 * INTERVAL)  # more sweeps: nothing is announced twice
        assert [(trip, user) for _, trip, user in heard.gone] == [(TRIP, "u2")]  # u3 is still on node a
        assert took < TTL + 2 * INTERVAL + 0.5
        assert heard.back == []


async def test_a_dead_nodes_members_wait_out_the_grace_and_one_resumed_elsewhere_is_never_announced_gone(
    redis_url: str, prefix: str
) -> None:
    heard = Announcements()
    # a grace of 25 intervals: the checks below must all land within it on a busy machine
    async with nodes(redis_url, prefix, "a", "b", heard=heard, dead_grace=25 * INTERVAL) as [a, b]:
        await a.rosters.join(TRIP, member("s0", "u0"))  # node a's heartbeat sweeps the room
        await b.rosters.join(TRIP, member("s1", "u1"))
        await b.rosters.join(TRIP, member("s2", "u2"))
        await kill(b)

        def in_grace() -> set[str]:
            client = sync_client(redis_url)
            try:
                raw = client.hgetall(a.room_key(TRIP))
            finally:
                client.close()
            names = (s.decode() if isinstance(s, bytes) else s for s, body in raw.items() if "d" in orjson.loads(body))
            return set(names)

        await eventually(lambda: in_grace() == {"s1", "s2"})  # b's death noticed: its members wait
        assert heard.gone == []
        assert {m.session_id for m in await a.rosters.members(TRIP)} == {"s0", "s1", "s2"}
        assert await a.rosters.join(TRIP, member("s1", "u1")) is False  # s1 resumed on node a: still shown

        await eventually(lambda: heard.gone, timeout=40 * INTERVAL)
        await asyncio.sleep(3 * INTERVAL)  # more sweeps: nothing more is announced
        assert [(trip, user) for _, trip, user in heard.gone] == [(TRIP, "u2")]
        assert {m.session_id for m in await a.rosters.members(TRIP)} == {"s0", "s1"}


async def test_a_session_taken_over_keeps_the_entry_of_its_highest_claim(redis_url: str, prefix: str) -> None:
    heard = Announcements()
    async with nodes(redis_url, prefix, "a", "b", heard=heard) as [a, b]:
        assert await a.rosters.join(TRIP, member("s1", "u1")) is True
        resumed = dataclasses.replace(member("s1", "u1"), claim=2)
        assert await b.rosters.join(TRIP, resumed) is False  # taken over by node b: still shown, nobody told
        assert await a.rosters.join(TRIP, dataclasses.replace(resumed, claim=1)) is False  # a lower claim loses
        await a.rosters.seen(TRIP, "s1", "2026-01-01T10:00:00.000Z")  # node a's stale copy writes nothing
        assert (await a.rosters.expire(TRIP, "s1"))[1] is False  # nor does its grace's end
        [kept] = await b.rosters.members(TRIP)
        assert (kept.claim, kept.last_seen) == (2, None)
        assert heard.gone == []


async def test_every_script_sweeps_so_a_joiner_never_sees_a_dead_member(redis_url: str, prefix: str) -> None:
    heard = Announcements()
    async with nodes(redis_url, prefix, "a", "b", heard=heard) as [a, b]:
        await b.rosters.join(TRIP, member("s2", "u2"))
        # the room's hash expires with its last node's heartbeat; keep it, as in the
        # moment between a node's key expiring and the hash's own TTL
        client = sync_client(redis_url)
        client.pexpire(a.room_key(TRIP), 10_000)
        client.close()
        await kill(b)
        await asyncio.sleep(TTL + 0.1)  # b's key expired; a has no member in the room, so no sweep ran
        assert heard.gone == []
        assert await a.rosters.join(TRIP, member("s1", "u1")) is True
        assert heard.gone == [("a", TRIP, "u2")]  # the join removed and announced it
        assert [m.session_id for m in await a.rosters.members(TRIP)] == ["s1"]


async def test_a_node_rewrites_its_members_when_redis_lost_them(redis_url: str, prefix: str) -> None:
    heard = Announcements()
    async with nodes(redis_url, prefix, "a", "b", heard=heard) as [a, b]:
        await a.rosters.join(TRIP, member("s1", "u1"))
        await b.rosters.join(TRIP, member("s2", "u2"))
        delete_everything_under(redis_url, prefix)
        assert await a.rosters.members(TRIP) == []

        async def both_back() -> bool:
            return {m.session_id for m in await a.rosters.members(TRIP)} == {"s1", "s2"}

        await eventually(both_back, timeout=3 * INTERVAL + 1)
        assert a.repairs == 1 and b.repairs == 1
        assert heard.back == [] and heard.gone == []  # nobody was told they left: nothing to take back


async def test_a_node_that_stalled_past_the_ttl_comes_back_and_says_so(redis_url: str, prefix: str) -> None:
    heard = Announcements()
    async with nodes(redis_url, prefix, "a", "b", heard=heard) as [a, b]:
        await a.rosters.join(TRIP, member("s1", "u1"))
        await b.rosters.join(TRIP, member("s2", "u2"))
        assert b._task is not None
        await stop_task(b._task)  # b stalls: no heartbeat
        await eventually(lambda: heard.gone, timeout=TTL + 1)
        assert [(n, user) for n, _, user in heard.gone] == [("a", "u2")]
        await b.beat()  # b wakes up, finds its key gone and its member swept
        assert ("b", TRIP, "u2") in heard.back
        assert {m.session_id for m in await a.rosters.members(TRIP)} == {"s1", "s2"}


async def test_a_start_that_holds_the_loop_after_the_first_heartbeat_does_not_let_the_key_expire(
    redis_url: str, prefix: str
) -> None:
    heard = Announcements()
    async with nodes(redis_url, prefix, "a", heard=heard) as [a]:
        # what a node's start does after build(): seconds of synchronous work (parsing the
        # API documents) before the loop runs anything else; less than the TTL in all
        time.sleep(TTL - INTERVAL / 2)
        await a.rosters.join(TRIP, member("s1", "u1"))  # a first client, as soon as it listens
        await asyncio.sleep(2 * INTERVAL)  # the overdue heartbeat found its key, then one more
        assert a.beats >= 2 and a.repairs == 0
        assert heard.back == [] and heard.gone == []


async def test_the_directory_lists_every_live_nodes_connections(redis_url: str, prefix: str) -> None:
    def conn(session: str, user: str, node: str, at: str) -> dict[str, Any]:
        return {
            "userId": user,
            "sessionId": session,
            "connectionTime": at,
            "lastActivity": at,
            "ip": "127.0.0.1",
            "userAgent": None,
            "rooms": [],
            "status": "connected",
            "node": node,
        }

    on_a = [conn("s1", "u1", "a", "2026-01-01T00:00:01.000Z")]
    on_b = [conn("s2", "u2", "b", "2026-01-01T00:00:02.000Z"), conn("s3", "u1", "b", "2026-01-01T00:00:03.000Z")]
    changed = {"a": asyncio.Event(), "b": asyncio.Event()}  # the hubs' "a connection changed"
    async with nodes(redis_url, prefix, "a", "b", changed=changed, a=lambda: list(on_a), b=lambda: list(on_b)) as [
        a,
        b,
    ]:
        directory_a = a.directory(lambda: list(on_a), changed["a"])
        b.directory(lambda: list(on_b), changed["b"])
        assert [e["sessionId"] for e in await directory_a.list()] == ["s1", "s2", "s3"]
        assert await directory_a.count_user("u1") == 2

        on_b.append(conn("s4", "u4", "b", "2026-01-01T00:00:04.000Z"))
        on_b[0]["rooms"] = [TRIP]
        changed["b"].set()  # as the hub does: written at once, not at the next heartbeat

        async def s4_listed() -> bool:
            return await directory_a.count_user("u4") == 1

        await eventually(s4_listed, timeout=0.5)
        listed = {e["sessionId"]: e for e in await directory_a.list()}
        assert listed["s2"]["rooms"] == [TRIP] and listed["s2"]["node"] == "b"

        on_b.pop()
        changed["b"].set()

        async def s4_gone() -> bool:
            return await directory_a.count_user("u4") == 0

        await eventually(s4_gone, timeout=0.5)
        await kill(b)

        async def only_a() -> bool:
            return [e["sessionId"] for e in await directory_a.list()] == ["s1"]

        await eventually(only_a, timeout=TTL + 1)


async def test_redis_down_keeps_this_nodes_members_and_repairs_them_later(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path / "redis").start()
    try:
        async with nodes(server.url, "ts-test", "a") as [a]:
            await a.rosters.join(TRIP, member("s1", "u1"))
            server.stop()
            assert await a.rosters.join(TRIP, member("s2", "u2")) is True  # this node's view answers
            assert {m.session_id for m in await a.rosters.members(TRIP)} == {"s1", "s2"}
            left, gone = await a.rosters.leave(TRIP, "s1")
            assert left is not None and gone is True
            server.start()

            async def repaired() -> bool:
                try:
                    return [m.session_id for m in await a.rosters.members(TRIP)] == ["s2"]
                except Exception:
                    return False

            await eventually(repaired, timeout=5)
    finally:
        server.stop()


async def test_member_lists_read_from_memory_during_an_outage_log_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = PrivateRedis(tmp_path / "redis").start()
    try:
        async with nodes(server.url, "ts-test", "a") as [a]:
            await a.rosters.join(TRIP, member("s1", "u1"))
            server.stop()
            with caplog.at_level("WARNING", logger="travelsense.presence"):
                for _ in range(5):  # a member list per chat message
                    assert [m.session_id for m in await a.rosters.members(TRIP)] == ["s1"]
            from_memory = [r for r in caplog.records if "from memory" in r.getMessage()]
            assert len(from_memory) == 1
            assert a.rosters.failures == 5  # each one still counted (/metrics)
    finally:
        server.stop()


async def test_a_leave_that_failed_is_written_at_the_next_heartbeat(redis_url: str, prefix: str) -> None:
    async with nodes(redis_url, prefix, "a", "b") as [a, b]:
        await a.rosters.join(TRIP, member("s1", "u1"))
        await b.rosters.join(TRIP, member("s2", "u2"))
        working = a.rosters._leave

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise redis.ConnectionError("Redis went away")

        a.rosters._leave = broken  # type: ignore[assignment]
        left, gone = await a.rosters.leave(TRIP, "s1")  # a's last member in the room
        assert left is not None and gone is True  # answered from a's own view
        a.rosters._leave = working
        assert {m.session_id for m in await b.rosters.members(TRIP)} == {"s1", "s2"}  # not yet written

        async def written() -> bool:
            return {m.session_id for m in await b.rosters.members(TRIP)} == {"s2"}

        await eventually(written, timeout=3 * INTERVAL + 1)
        assert a.rosters.failures == 1


async def test_the_listed_members_of_a_shared_roster_are_capped_with_the_joiner_and_counted(
    redis_url: str, prefix: str
) -> None:
    async with nodes(redis_url, prefix, "a", "b") as [a, b]:
        for i in range(3):
            await (a if i % 2 else b).rosters.join(TRIP, member(f"s{i}", f"u{i}"))
        await a.rosters.join(TRIP, member("h", "admin", hidden=True))
        listed, shown = await b.rosters.listed(TRIP, 1, "u2")
        assert shown == 3
        assert len(listed) == 2 and {"userId": "u2", "status": "online"} in listed
        everyone, _ = await a.rosters.listed(TRIP, 100, "u0")
        assert sorted(e["userId"] for e in everyone) == ["u0", "u1", "u2"]
