"""The service layer on in-memory adapters: a connection's frames through
``ClientSession``, ``TripService``/``RoomService``, the ``Pipeline`` and its reactions,
to the other members' outboxes and the log.  Everything is the shipped code wired by
``app.build``, with ``MemoryEventStore`` (held to the store contract in
``tests/contract``) and the in-process bus; only the socket is a stand-in."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from config import Limits
from domain.trip_events import NOTIFICATION_CREATED
from eventlog.records import ACCEPTED, REFUSED, LogRecord
from handlers.websocket import SHUTTING_DOWN
from service.auth import Identity
from service.container import Services
from service.hub import Connection
from service.pipeline import Origin
from service.session import ClientSession
from tests.integration.conftest import built_node

pytestmark = pytest.mark.integration

OWNER = "650000000000000000000001"
FRIEND = "650000000000000000000002"
AWAY = "650000000000000000000003"  # a member who is not in the room


class FakeSocket:
    """Stands in for the WebSocket only: keeps the frames written to it."""

    pending_bytes = 0

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def send(self, payload: bytes) -> None:
        self.frames.append(orjson.loads(payload))

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame["event"] == name]


class Client:
    """One connection, its frames submitted as Tornado would: the next once ``passed``."""

    def __init__(self, services: Services, user_id: str) -> None:
        self.socket = FakeSocket()
        self.identity = Identity(user_id, "user", f"user {user_id[-1]}", int(time.time()) + 3600)
        self.conn = Connection(
            session_id=f"session-{user_id[-2:]}",
            user_id=user_id,
            name=self.identity.name,
            role="user",
            hidden=False,
            ip="127.0.0.1",
            user_agent="test",
            connected_at="2026-12-07T00:00:00.000Z",
            outlet=self.socket,
        )
        self.session = ClientSession(services.session, self.conn, self.identity)
        self.tasks: list[Any] = []

    async def send(self, event: str, data: dict[str, Any], ref: str | None = None) -> None:
        frame: dict[str, Any] = {"event": event, "data": data}
        if ref is not None:
            frame["ref"] = ref
        task, passed = self.session.submit(orjson.dumps(frame))
        self.tasks.append(task)
        await passed

    async def settled(self) -> None:
        for task in self.tasks:
            await task


async def trip_with_room(services: Services, *joined: str) -> tuple[str, dict[str, Client]]:
    owner = Identity(OWNER, "user", "owner", int(time.time()) + 3600)
    trip = await services.trips.create(
        Origin("rest", OWNER, "user"),
        owner,
        {"title": "Lisbon", "collaborators": [FRIEND, AWAY], "days": [{"date": "2026-12-04", "title": "Arrival"}]},
    )
    clients = {}
    for user in joined:
        client = clients[user] = Client(services, user)
        await client.session.start()
        await client.send("join_trip_room", {"tripId": trip.trip_id}, f"join-{user[-1]}")
        await client.settled()
    return trip.trip_id, clients


async def log_of(services: Services, command: str) -> list[LogRecord]:
    return [record for record in await services.store.read_all(limit=10_000) if record.command == command]


def chat(trip_id: str, message: str) -> dict[str, Any]:
    return {"tripId": trip_id, "message": message, "type": "text"}


async def test_a_chat_message_reaches_every_member_in_the_room_once_and_is_logged_once(node: Services) -> None:
    trip_id, clients = await trip_with_room(node, OWNER, FRIEND)
    sender, other = clients[OWNER], clients[FRIEND]
    await sender.send("chat_message", chat(trip_id, "hello"), "c1")
    await sender.settled()
    [mine] = sender.socket.events("chat_message")
    [theirs] = other.socket.events("chat_message")
    assert mine["ref"] == "c1" and "ref" not in theirs  # the sender's copy is its answer
    assert mine["data"] == theirs["data"]
    assert (theirs["data"]["message"], theirs["data"]["userId"]) == ("hello", OWNER)
    [record] = await log_of(node, "chat_message")
    assert (record.outcome, record.ref, record.stream, record.session_id) == (ACCEPTED, "c1", trip_id, "session-01")
    assert record.version == theirs["data"]["seq"]


async def test_a_refused_trip_update_is_recorded_once_and_answered_with_an_error(node: Services) -> None:
    trip_id, clients = await trip_with_room(node, OWNER, FRIEND)
    sender, other = clients[OWNER], clients[FRIEND]
    seen = len(other.socket.frames)
    no_such_day = {"dayId": "6500000000000000000000ff", "title": "Belém"}
    await sender.send("trip_update", {"tripId": trip_id, "updateType": "update_day", "data": no_such_day}, "u1")
    await sender.settled()
    [error] = sender.socket.events("error")
    assert (error["ref"], error["data"]["event"], error["data"]["code"]) == ("u1", "trip_update", "VALIDATION_ERROR")
    [record] = await log_of(node, "trip_update")
    assert (record.outcome, record.ref, record.trip_id, record.version) == (REFUSED, "u1", trip_id, None)
    assert record.error is not None and record.error["code"] == "VALIDATION_ERROR"
    assert other.socket.frames[seen:] == []  # nothing reached the room


async def test_a_connection_gets_its_answers_in_the_order_it_sent_its_frames(node: Services) -> None:
    trip_id, clients = await trip_with_room(node, OWNER, FRIEND)
    sender = clients[OWNER]
    sent = []
    for n in range(12):
        ref = f"r{n}"
        sent.append(ref)
        if n % 4 == 3:  # a refused frame between accepted ones
            await sender.send("chat_message", {"tripId": trip_id, "message": "", "type": "text"}, ref)
        elif n % 4 == 1:  # a frame outside the pipeline
            await sender.send("typing", {"tripId": trip_id, "isTyping": True}, ref)
        else:
            await sender.send("chat_message", chat(trip_id, f"m{n}"), ref)
    await sender.settled()
    answered = [frame["ref"] for frame in sender.socket.frames if frame.get("ref") in sent]
    assert answered == [ref for ref in sent if sent.index(ref) % 4 != 1]  # typing is not echoed
    messages = [frame["data"]["message"] for frame in clients[FRIEND].socket.events("chat_message")]
    assert messages == ["m0", "m2", "m4", "m6", "m8", "m10"]
    versions = [r.version for r in await log_of(node, "chat_message") if r.outcome == ACCEPTED]
    assert versions == sorted(versions)


async def test_a_repeated_ref_is_answered_with_the_original_to_the_sender_alone(node: Services) -> None:
    trip_id, clients = await trip_with_room(node, OWNER, FRIEND)
    sender = clients[OWNER]
    await sender.send("chat_message", chat(trip_id, "once"), "same")
    await sender.settled()
    await sender.send("chat_message", chat(trip_id, "once"), "same")  # a resend: the answer was lost
    await sender.settled()
    first, repeat = sender.socket.events("chat_message")
    assert first == repeat  # the original, its id and seq included
    assert len(clients[FRIEND].socket.events("chat_message")) == 1
    accepted = [r for r in await log_of(node, "chat_message") if r.outcome == ACCEPTED]
    assert len(accepted) == 1


async def test_members_outside_the_room_are_notified_of_a_chat_message(node: Services) -> None:
    trip_id, clients = await trip_with_room(node, OWNER, FRIEND)
    away = Client(node, AWAY)  # connected, not in the room
    await away.session.start()
    await clients[OWNER].send("chat_message", chat(trip_id, "dinner at 8?"), "c1")
    await clients[OWNER].settled()
    [notification] = away.socket.events("notification")
    assert away.socket.events("chat_message") == []
    assert clients[FRIEND].socket.events("notification") == []  # in the room: the message itself
    [record] = await log_of(node, "chat_message")
    notified = [e["data"]["userId"] for e in record.events if e["type"] == NOTIFICATION_CREATED]
    assert notified == [AWAY]
    assert notification["data"]["tripId"] == trip_id
    identity = Identity(AWAY, "user", None, 0)
    assert [n["tripId"] for n in await node.notifications.of(identity, True)] == [trip_id]


async def test_a_room_event_without_a_seat_is_not_in_room_and_a_malformed_trip_id_invalid(node: Services) -> None:
    trip_id, clients = await trip_with_room(node, OWNER)
    outsider = Client(node, FRIEND)  # a member, connected, not in the room
    await outsider.session.start()
    await outsider.send("chat_message", chat(trip_id, "hi"), "c1")
    await outsider.send("chat_message", chat("not-an-id", "hi"), "c2")
    await outsider.send("chat_message", chat(trip_id.upper(), "hi"), "c3")  # the id is checked, then the seat
    await outsider.settled()
    codes = [(frame["ref"], frame["data"]["code"]) for frame in outsider.socket.events("error")]
    assert codes == [("c1", "NOT_IN_ROOM"), ("c2", "VALIDATION_ERROR"), ("c3", "NOT_IN_ROOM")]
    assert clients[OWNER].socket.events("chat_message") == []


async def test_frames_refused_as_a_draining_node_refuses_them_pay_their_rate_token_and_a_flood_is_rate_limited(
    tmp_path: Path,
) -> None:
    """A draining node submits every frame with ``SHUTTING_DOWN`` (``UNAVAILABLE``, retry;
    ``RealtimeSocket.on_message``): those refusals take a token as any frame does, so a
    client resending as fast as it can meets the same limit and the same one
    ``RATE_LIMITED`` record per burst."""
    async with built_node(tmp_path, Limits(rate_burst=3, rate_per_second=0.01)) as node:
        client = Client(node, FRIEND)
        await client.session.start()
        for n in range(5):
            frame = {"event": "chat_message", "data": chat("6500000000000000000000aa", "hi"), "ref": f"r{n}"}
            task, passed = client.session.submit(orjson.dumps(frame), refusal=SHUTTING_DOWN)
            await passed
            await task
        records = await log_of(node, "chat_message")
    recorded = [(record.ref, record.error and record.error["code"]) for record in records]
    codes = [(frame["ref"], frame["data"]["code"]) for frame in client.socket.events("error")]
    refused = ["UNAVAILABLE"] * 3 + ["RATE_LIMITED"] * 2  # a burst of 3, then no token left
    assert codes == [(f"r{n}", code) for n, code in enumerate(refused)]
    assert recorded == [(f"r{n}", code) for n, code in enumerate(refused[:4])]  # one RATE_LIMITED record a burst
