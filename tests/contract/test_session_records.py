"""Every ``SessionRecords`` adapter (SQLite, MongoDB through the real driver on
nx-27017) keeps the same promises: conditional saves, blanking that sticks,
queries by user, status and time in pages, compaction to counts, one lease holder."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from eventlog.mongo_sessions import MongoSessionRecords
from eventlog.session_port import CONNECTED, DISCONNECTED, SessionQuery, SessionRecord, SessionRecords
from eventlog.sqlite_sessions import SqliteSessionRecords

Factory = Callable[[], contextlib.AbstractAsyncContextManager[SessionRecords]]


def sqlite_sessions(tmp_path: Path) -> Factory:
    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[SessionRecords]:
        records = SqliteSessionRecords(str(tmp_path / "events-sessions.db"))
        await records.open()
        try:
            yield records
        finally:
            await records.close()

    return make


def mongo_sessions(request: pytest.FixtureRequest) -> Factory:
    url: str = request.getfixturevalue("mongo_url")
    database: str = request.getfixturevalue("mongo_database")

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[SessionRecords]:
        records = MongoSessionRecords(url, database=database)
        await records.open()
        try:
            yield records
        finally:
            await records.close()

    return make


@pytest.fixture(params=["sqlite", "mongo"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionRecords]:
    factory = sqlite_sessions(tmp_path) if request.param == "sqlite" else mongo_sessions(request)
    async with factory() as opened:
        yield opened


def session(
    n: int, *, user: str = "u1", day: str = "2026-01-01", position: int = 1, **changes: object
) -> SessionRecord:
    at = f"{day}T10:00:{n:02d}.000Z"
    base = SessionRecord(
        session_id=f"s{n:02d}",
        user_id=user,
        node="node-a.1",
        connection_time=at,
        last_activity=at,
        ip="203.0.113.7",
        user_agent="Browser/1",
        rooms=(),
        status=CONNECTED,
        position=position,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_a_saved_session_reads_back_with_every_field(sessions: SessionRecords) -> None:
    saved = session(
        1, rooms=("t1", "t2"), status=DISCONNECTED, disconnected_at="2026-01-01T11:00:00.000Z", close_code=1001
    )
    await sessions.save(saved)
    assert await sessions.get("s01") == saved
    assert await sessions.get("nope") is None


async def test_a_save_never_moves_a_session_back(sessions: SessionRecords) -> None:
    await sessions.save(session(1, rooms=("t1",), position=5))
    await sessions.save(session(1, rooms=(), position=3))  # late, from an earlier record
    found = await sessions.get("s01")
    assert found is not None and found.rooms == ("t1",) and found.position == 5
    await sessions.save(session(1, status=DISCONNECTED, position=9, disconnected_at="2026-01-01T12:00:00.000Z"))
    found = await sessions.get("s01")
    assert found is not None and found.status == DISCONNECTED and found.position == 9


async def test_a_batch_saves_each_session_as_save_would_and_moves_none_back(sessions: SessionRecords) -> None:
    await sessions.save(session(1, rooms=("t1",), position=5))
    await sessions.save(session(2, position=1))
    newer = session(2, rooms=("t2",), position=4, ip="198.51.100.1")  # a known session: its IP is kept
    fresh = session(3, rooms=("t3",), position=6)

    await sessions.save_many([session(1, rooms=(), position=3), newer, fresh])  # the first is late

    one, two, three = [await sessions.get(f"s0{n}") for n in (1, 2, 3)]
    assert one is not None and one.rooms == ("t1",) and one.position == 5
    assert two == replace(newer, ip="203.0.113.7")
    assert three == fresh
    await sessions.save_many([])


async def test_a_known_session_keeps_the_user_and_connection_time_of_its_first_save(
    sessions: SessionRecords,
) -> None:
    await sessions.save(session(1, position=2))
    later = session(1, user="u2", connection_time="2026-01-01T11:00:00.000Z", rooms=("t1",), position=4)
    await sessions.save(later)
    await sessions.save_many([replace(later, position=6, status=DISCONNECTED)])
    found = await sessions.get("s01")
    first = session(1)
    assert found == replace(
        later, user_id=first.user_id, connection_time=first.connection_time, position=6, status=DISCONNECTED
    )
    assert [s.session_id for s in await sessions.find(SessionQuery(user_id="u1"))] == ["s01"]


async def test_activity_only_moves_forward(sessions: SessionRecords) -> None:
    await sessions.save(session(1))
    await sessions.touch("s01", "2026-01-01T11:00:00.000Z")
    await sessions.touch("s01", "2026-01-01T10:30:00.000Z")
    found = await sessions.get("s01")
    assert found is not None and found.last_activity == "2026-01-01T11:00:00.000Z" and found.position == 1


async def test_blanking_takes_ip_and_user_agent_of_old_sessions_only_and_sticks(sessions: SessionRecords) -> None:
    await sessions.save(session(1, day="2026-01-01"))
    await sessions.save(session(2, day="2026-02-01"))
    assert await sessions.blank_personal("2026-01-15T00:00:00.000Z") == 1
    assert await sessions.blank_personal("2026-01-15T00:00:00.000Z") == 0
    await sessions.save(session(1, day="2026-01-01", position=7, status=DISCONNECTED))  # a later fold
    old, new = await sessions.get("s01"), await sessions.get("s02")
    assert old is not None and (old.ip, old.user_agent, old.status) == ("", "", DISCONNECTED)
    assert new is not None and (new.ip, new.user_agent) == ("203.0.113.7", "Browser/1")


async def test_sessions_are_found_by_user_status_and_time_in_pages(sessions: SessionRecords) -> None:
    for n in range(1, 8):
        status = DISCONNECTED if n % 2 else CONNECTED
        await sessions.save(session(n, user="u1" if n <= 5 else "u2", status=status))
    mine = await sessions.find(SessionQuery(user_id="u1"))
    assert [s.session_id for s in mine] == ["s01", "s02", "s03", "s04", "s05"]
    connected = await sessions.find(SessionQuery(status=CONNECTED))
    assert [s.session_id for s in connected] == ["s02", "s04", "s06"]
    window = await sessions.find(SessionQuery(since="2026-01-01T10:00:03.000Z", until="2026-01-01T10:00:05.000Z"))
    assert [s.session_id for s in window] == ["s03", "s04"]
    pages: list[str] = []
    after = None
    while True:
        page = await sessions.find(SessionQuery(after=after, limit=3))
        pages += [s.session_id for s in page]
        if len(page) < 3:
            break
        after = (page[-1].connection_time, page[-1].session_id)
    assert pages == [f"s{n:02d}" for n in range(1, 8)]
    await sessions.save(session(8, user="u1", status=DISCONNECTED, connection_time="2026-01-01T10:00:05.000Z"))
    after = ("2026-01-01T10:00:03.000Z", "s03")
    later = await sessions.find(SessionQuery(user_id="u1", status=DISCONNECTED, after=after, limit=5))
    assert [s.session_id for s in later] == ["s05", "s08"]  # a tie on time ordered by id


async def test_connected_sessions_are_listed_per_node(sessions: SessionRecords) -> None:
    await sessions.save(session(1))
    await sessions.save(session(2, node="node-b.2"))
    await sessions.save(session(3, node="node-b.2", status=DISCONNECTED))
    assert await sessions.connected_nodes() == {"node-a.1", "node-b.2"}
    assert [s.session_id for s in await sessions.connected_on("node-b.2")] == ["s02"]


async def test_compaction_turns_old_disconnected_sessions_into_counts_per_day(sessions: SessionRecords) -> None:
    ended = "2026-01-02T00:00:00.000Z"
    await sessions.save(session(1, status=DISCONNECTED, disconnected_at=ended))
    await sessions.save(session(2, status=DISCONNECTED, disconnected_at=ended))
    await sessions.save(session(3, day="2026-01-03", status=DISCONNECTED, disconnected_at="2026-01-03T12:00:00.000Z"))
    await sessions.save(session(4))  # still connected: kept whatever its age
    assert await sessions.compact("2026-01-03T00:00:00.000Z") == 2
    assert await sessions.counts() == {"2026-01-01": 2}
    assert await sessions.compact("2026-02-01T00:00:00.000Z") == 1
    assert await sessions.counts() == {"2026-01-01": 2, "2026-01-03": 1}
    assert [s.session_id for s in await sessions.find(SessionQuery())] == ["s04"]


async def test_the_latest_presence_choice_is_kept(sessions: SessionRecords) -> None:
    assert await sessions.hidden("u1") is False
    await sessions.save_hidden("u1", True, 5)
    await sessions.save_hidden("u1", False, 3)  # late, from an earlier record
    assert await sessions.hidden("u1") is True
    await sessions.save_hidden("u1", False, 8)
    assert await sessions.hidden("u1") is False
    assert await sessions.hidden("u2") is False


async def test_a_lease_has_one_holder_until_it_expires(sessions: SessionRecords) -> None:
    assert await sessions.take_lease("retention", "a", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z")
    assert not await sessions.take_lease("retention", "b", "2026-01-01T00:00:30Z", "2026-01-01T00:01:30Z")
    assert await sessions.take_lease("retention", "a", "2026-01-01T00:00:40Z", "2026-01-01T00:01:40Z")
    assert await sessions.take_lease("retention", "b", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z")
    assert not await sessions.take_lease("retention", "a", "2026-01-01T00:02:10Z", "2026-01-01T00:03:10Z")
