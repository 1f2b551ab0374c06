"""A connection retired by a resume while it is joining or being reseated (``RoomService``):
the room's roster entry and held place under its session id are the session's new
connection's, and its failure or refusal must not end them.  Before, a join that failed
after its connection was retired left the roster (removing the new connection's entry),
and a reseat refused for a retired connection had already cancelled the held place's grace
(the place then stayed for ever).  The service layer is the shipped one, wired by
``app.build`` on the in-memory store; only the rosters' ``listed`` waits until the test lets
it answer, then fails, as a shared roster's lost round trip does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from config import Limits
from domain.errors import CommandRefused, ErrorCode
from service.auth import Identity
from service.container import Services
from service.hub import Connection
from service.pipeline import Origin
from service.presence import LocalRosters
from service.rooms import RoomService
from tests.integration.conftest import built_node
from tests.integration.test_takeover_graces import Socket, room_service

pytestmark = pytest.mark.integration

OWNER = "650000000000000000000001"
SESSION = "owner-session"
GRACE = 0.05  # the held place's grace: short, the test waits it out


class FailingListedRosters(LocalRosters):
    """The single-node rosters, whose first ``listed`` answers only once ``answer`` is set,
    and then fails (a shared roster's round trip lost); later ones answer at once."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = asyncio.Event()
        self.asked = asyncio.Event()
        self.failing = True

    async def listed(self, trip_id: str, limit: int, joiner: str) -> tuple[list[dict[str, Any]], int]:
        if self.failing:
            self.failing = False
            self.asked.set()
            await self.answer.wait()
            raise OSError("the roster's answer was lost")
        return await super().listed(trip_id, limit, joiner)


def connection(generation: int) -> Connection:
    conn = Connection(SESSION, OWNER, "owner", "user", False, "127.0.0.1", "test", "2026-12-07T00:00:00.000Z", Socket())
    conn.generation = generation
    return conn


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Services]:
    async with built_node(tmp_path, Limits(presence_grace_seconds=GRACE)) as services:
        yield services


async def owners_trip(node: Services, rosters: LocalRosters) -> tuple[RoomService, Identity, str]:
    """The room service on ``rosters``, OWNER's identity, and a trip of OWNER's."""
    owner = Identity(OWNER, "user", "owner", int(time.time()) + 3600)
    trip = await node.trips.create(Origin("rest", OWNER, "user"), owner, {"title": "Lisbon"})
    return room_service(node, rosters), owner, trip.trip_id


async def test_a_join_that_fails_after_a_resume_retired_its_connection_keeps_the_new_connections_entry(
    node: Services,
) -> None:
    rosters = FailingListedRosters()
    rooms, owner, trip_id = await owners_trip(node, rosters)
    old = connection(0)
    node.hub.add(old)
    joining = asyncio.ensure_future(
        rooms.join(old, Origin("ws", OWNER, "user", SESSION), owner, {"tripId": trip_id}, "j1")
    )
    await rosters.asked.wait()  # seated, in the roster, its member list on the way

    # meanwhile the session resumes on this node: the old connection is retired, the new one reseated
    new = connection(1)
    node.hub.add(new)
    assert old.handed_over is not None
    await rooms.reseat(new, owner, trip_id, None)
    rosters.answer.set()
    with pytest.raises(OSError):
        await joining

    assert SESSION in {m.session_id for m in await rosters.members(trip_id)}, "the new connection's entry was removed"
    assert node.hub.seated(SESSION, trip_id)


async def test_a_reseat_refused_for_a_retired_connection_leaves_the_held_place_its_grace(node: Services) -> None:
    rosters = LocalRosters()
    rooms, owner, trip_id = await owners_trip(node, rosters)
    dropped = connection(0)
    node.hub.add(dropped)
    await rooms.join(dropped, Origin("ws", OWNER, "user", SESSION), owner, {"tripId": trip_id}, "j1")
    await rooms.leave_all(dropped, dropped=True)  # the network went: its place is held for the grace
    node.hub.remove(dropped)

    resumed = connection(1)  # a resume here, which a later resume elsewhere takes over at once
    node.hub.add(resumed)
    node.hub.supersede(SESSION, 2)
    assert resumed.handed_over is not None
    await rooms.reseat(resumed, owner, trip_id, None)
    await asyncio.sleep(GRACE * 6)  # the held place's grace is over: no resume sat in it here

    assert SESSION not in {m.session_id for m in await rosters.members(trip_id)}, "the place was held for ever"


async def test_a_join_of_a_connection_closed_while_its_access_was_checked_is_refused_so_it_is_recorded(
    node: Services,
) -> None:
    rooms, owner, trip_id = await owners_trip(node, LocalRosters())
    gone = connection(0)
    node.hub.add(gone)
    node.hub.remove(gone)  # it closed while its join was checking access
    with pytest.raises(CommandRefused) as refused:
        await rooms.join(gone, Origin("ws", OWNER, "user", SESSION), owner, {"tripId": trip_id}, "j1")
    assert refused.value.code == ErrorCode.UNAVAILABLE  # the session records a refusal: the join's one record
    assert trip_id not in gone.seats and not node.hub.seated(SESSION, trip_id)
