"""A resume that takes a session over while the old connection's place is still being
held (``RoomService.hand_over``): the held place must end nothing once the session's new
connection sits in the room.  On Redis, keeping the place (``RoomRosters.seen``) is a round
trip, and the new connection can resume on this node meanwhile: the grace then expired
the new connection's own roster entry and the room was told ``user_left`` for a user who
never left.  The service layer here is the shipped one, wired by ``app.build`` on the
in-memory store; only the rosters' ``seen`` waits until the test lets it answer, as a
shared roster's round trip does."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from config import Limits
from domain.trip_model import Trip
from service.auth import Identity
from service.container import Services
from service.hub import Connection
from service.pipeline import Origin
from service.presence import LocalRosters
from service.resume import ResumeAsk
from service.rooms import RoomService
from service.session import ClientSession, SessionServices
from tests.integration.conftest import built_node

pytestmark = pytest.mark.integration

OWNER = "650000000000000000000001"
FRIEND = "650000000000000000000002"
GRACE = 0.05  # the held place's grace: short, the test waits it out


class SlowSeenRosters(LocalRosters):
    """The single-node rosters, whose ``seen`` (keeping a dropped member's place) answers
    only once ``answer`` is set: a shared roster's round trip, made as long as the test needs."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = asyncio.Event()
        self.asked = asyncio.Event()

    async def seen(self, trip_id: str, session_id: str, at: str) -> None:
        self.asked.set()
        await self.answer.wait()
        await super().seen(trip_id, session_id, at)


class Socket:
    pending_bytes = 0

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: int | None = None

    def send(self, payload: bytes) -> None:
        self.frames.append(orjson.loads(payload))

    def close(self, code: int, reason: str) -> None:
        self.closed = code

    def events(self, name: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["event"] == name]


def connect(services: SessionServices, user_id: str, session_id: str) -> tuple[ClientSession, Socket]:
    socket = Socket()
    identity = Identity(user_id, "user", f"user {user_id[-1]}", int(time.time()) + 3600)
    conn = Connection(
        session_id, user_id, identity.name, "user", False, "127.0.0.1", "test", "2026-12-07T00:00:00.000Z", socket
    )
    return ClientSession(services, conn, identity), socket


def room_service(node: Services, rosters: LocalRosters) -> RoomService:
    return RoomService(
        trips=node.trips,
        hub=node.hub,
        rosters=rosters,
        broadcaster=node.broadcaster,
        pipeline=node.pipeline,
        store=node.store,
        clock=node.clock,
        limits=node.settings.limits,
    )


@dataclasses.dataclass
class Room:
    rooms: RoomService
    services: SessionServices
    owner: Identity
    trip: Trip


async def owner_and_friend_in_a_room(
    node: Services, rosters: LocalRosters
) -> tuple[Room, Socket, ClientSession, Socket]:
    """A trip of OWNER's with FRIEND a collaborator, both connected and in its room (the
    owner's connection's session is "owner-session"): the room, the friend's socket, the
    owner's session and socket."""
    rooms = room_service(node, rosters)
    services = dataclasses.replace(node.session, rooms=rooms)
    owner = Identity(OWNER, "user", "owner", int(time.time()) + 3600)
    trip = await node.trips.create(Origin("rest", OWNER, "user"), owner, {"title": "Lisbon", "collaborators": [FRIEND]})
    friend, friend_socket = connect(services, FRIEND, "friend-session")
    await friend.start()
    mine, my_socket = connect(services, OWNER, "owner-session")
    await mine.start()
    for session in (friend, mine):
        task, _ = session.submit(orjson.dumps({"event": "join_trip_room", "data": {"tripId": trip.trip_id}}))
        await task
    return Room(rooms, services, owner, trip), friend_socket, mine, my_socket


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Services]:
    async with built_node(tmp_path, Limits(presence_grace_seconds=GRACE)) as services:
        yield services


async def test_a_place_held_for_a_session_taken_over_elsewhere_ends_nothing_once_it_resumes_here(
    node: Services,
) -> None:
    rosters = SlowSeenRosters()
    room, friend_socket, old, old_socket = await owner_and_friend_in_a_room(node, rosters)
    services, trip = room.services, room.trip
    token = old_socket.events("connected")[0]["data"]["resumeToken"]
    records = services.session_records
    assert records is not None
    for _ in range(500):  # until its record names the room (records are folded in the background)
        record = await records.get("owner-session")
        if record is not None and trip.trip_id in record.rooms:
            break
        await asyncio.sleep(0.01)
    takeover = services.takeover
    assert takeover is not None

    # a resume on another node claims the session and tells every node: the old connection closes
    elsewhere = Connection(
        "owner-session", OWNER, "owner", "user", False, "10.0.0.2", "test", "2026-12-07T00:00:00.000Z", Socket()
    )
    await takeover.claim(elsewhere)
    await node.broadcaster.takeover("owner-session", elsewhere.generation)
    assert old_socket.closed == 4010
    # its close is handled: nothing holds the session here, so its place is kept, which takes a round trip
    stopping = asyncio.ensure_future(old.stop(4010, "session resumed on another connection"))
    await rosters.asked.wait()
    # meanwhile the client resumes again, on this node this time, and wins
    new, new_socket = connect(services, OWNER, "fresh-session")
    await new.start(ResumeAsk(token, {trip.trip_id: trip.version}))
    assert new_socket.events("connected")[0]["data"]["resumed"] is True
    assert new_socket.closed is None and node.hub.holds("owner-session")
    rosters.answer.set()
    await stopping
    await asyncio.sleep(GRACE * 6)  # the held place's grace is over (its timer fires first, and tells the room at once)

    left = [f for f in friend_socket.events("user_left") if f["data"]["userId"] == OWNER]
    assert left == [], "the room was told that a user who is in it left"
    assert OWNER in {m.user_id for m in await rosters.members(trip.trip_id)}


async def test_a_dropped_session_that_comes_back_here_and_joins_the_room_itself_is_not_ended_by_its_grace(
    node: Services,
) -> None:
    """The session resumes on this node without the room given back (its record's rooms lag
    behind, or its access was revoked then granted again) and its client joins the room: the
    grace set at the drop must not end the new seat (a join, unlike a reseat, leaves it set)."""
    rosters = LocalRosters()
    room, friend_socket, dropped, _ = await owner_and_friend_in_a_room(node, rosters)
    rooms, services, owner, trip = room.rooms, room.services, room.owner, room.trip
    await dropped.stop(None, None)  # the network went: the place is held for the grace

    back, _ = connect(services, OWNER, "owner-session")
    node.hub.add(back.conn)
    await rooms.join(back.conn, back.origin, owner, {"tripId": trip.trip_id}, None)
    assert node.hub.seated("owner-session", trip.trip_id)
    await asyncio.sleep(GRACE * 6)  # the grace set at the drop is over

    left = [f for f in friend_socket.events("user_left") if f["data"]["userId"] == OWNER]
    assert left == [], "the room was told that a user who is in it left"
    assert "owner-session" in {m.session_id for m in await rosters.members(trip.trip_id)}
