"""The hub when a resume takes a session over (``service.takeover``): a connection of
the session whose claim is lower is closed with 4010 and unregistered, its rooms noted;
the session's newer connection keeps its registrations whatever the stale one does."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from service.hub import Connection, Hub
from service.metrics import Metrics

TRIP = "650000000000000000000100"


class Socket:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: int | None = None

    def send(self, payload: bytes) -> None:
        self.frames.append(json.loads(payload))

    def close(self, code: int, reason: str) -> None:
        self.closed = code

    @property
    def pending_bytes(self) -> int:
        return 0


def connection(generation: int) -> tuple[Connection, Socket]:
    socket = Socket()
    conn = Connection("s1", "u1", None, "user", False, "127.0.0.1", "test", "2026-01-01T00:00:00.000Z", socket)
    conn.generation = generation
    return conn, socket


def hub() -> Hub:
    return Hub(None, Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event())  # type: ignore[arg-type]


def seat(h: Hub, conn: Connection) -> None:
    h.enter(conn, TRIP)
    h.open_seat(conn, TRIP, 0)


def room_message() -> dict[str, Any]:
    data = {"tripId": TRIP, "userId": "u2", "isTyping": True}
    return {"kind": "room", "tripId": TRIP, "seq": None, "event": "user_typing", "data": data}


def test_a_takeover_from_another_node_closes_the_older_connection_and_notes_its_rooms() -> None:
    h = hub()
    old, old_socket = connection(0)
    h.add(old)
    seat(h, old)

    h.deliver({"kind": "takeover", "sessionId": "s1", "generation": 1})

    assert (old_socket.closed, old.handed_over, h.holds("s1"), h.room_count()) == (4010, (TRIP,), False, 0)
    h.deliver({"kind": "takeover", "sessionId": "s1", "generation": 1})  # told twice: nothing more
    assert old.handed_over == (TRIP,)


def test_a_resume_here_retires_the_older_connection_and_the_stale_ones_close_leaves_the_new_one_alone() -> None:
    h = hub()
    old, old_socket = connection(0)
    h.add(old)
    seat(h, old)
    new, new_socket = connection(2)

    h.add(new)
    seat(h, new)
    h.remove(old)  # the stale socket's close comes later
    h.deliver(room_message())

    assert (old_socket.closed, new_socket.closed, h.holds("s1"), h.count(), h.room_count()) == (4010, None, True, 1, 1)
    assert [f["event"] for f in new_socket.frames] == ["user_typing"] and old_socket.frames == []


def test_of_two_resumes_the_lower_claim_is_closed_whichever_comes_first() -> None:
    h = hub()
    winner, winner_socket = connection(3)
    loser, loser_socket = connection(2)
    h.add(winner)
    h.add(loser)  # arrives after the winner: closed at once
    h.deliver({"kind": "takeover", "sessionId": "s1", "generation": 2})  # the loser's news changes nothing
    assert (winner_socket.closed, loser_socket.closed, loser.handed_over) == (None, 4010, ())
    assert h.holds("s1") and h.of_user("u1") == [winner]


def test_a_connection_retired_before_it_took_its_seat_takes_none_and_its_close_leaves_the_room_alone() -> None:
    h = hub()
    old, old_socket = connection(1)
    h.add(old)  # a resume, still giving its rooms back (reading the trip) when a later one wins
    new, new_socket = connection(2)
    h.add(new)
    seat(h, new)

    assert h.enter(old, TRIP) is None  # the reseat under way goes on to take its seat: refused
    for trip_id in list(old.seats):  # its close (``ClientSession.stop``) vacates what it sits in
        h.exit(old, trip_id)
    h.remove(old)
    h.deliver(room_message())

    assert (old_socket.closed, old.seats, h.room_count()) == (4010, {}, 1)
    assert [f["event"] for f in new_socket.frames] == ["user_typing"] and old_socket.frames == []
