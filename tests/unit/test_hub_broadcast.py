"""A room broadcast in the hub (``Hub._deliver_room``): each member once, the sender's
copy with its ``ref``, seats joining or behind served as before; a connection gone
before its join took its seat is not in the room."""

from __future__ import annotations

import asyncio
from typing import Any

from service.hub import Connection, Hub
from service.metrics import Metrics
from tests.unit.test_hub_resync import Socket as RecordingSocket

TRIP = "650000000000000000000100"


class Socket(RecordingSocket):
    def close(self, code: int, reason: str) -> None:
        raise AssertionError("closed")


def hub() -> Hub:
    return Hub(None, Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event())  # type: ignore[arg-type]


def member(h: Hub, n: int, *, seated: bool = True) -> tuple[Connection, Socket]:
    socket = Socket()
    conn = Connection(f"s{n}", f"u{n}", None, "user", False, "127.0.0.1", "test", "2026-01-01T00:00:00.000Z", socket)
    h.add(conn)
    if seated:
        h.enter(conn, TRIP)
        h.open_seat(conn, TRIP, 0)
    return conn, socket


def record(seq: int, sender: str | None = None, ref: str | None = None) -> dict[str, Any]:
    data = {"tripId": TRIP, "seq": seq, "message": {"id": f"m{seq}", "text": "hi"}}
    message = {"kind": "room", "tripId": TRIP, "seq": seq, "event": "chat_message", "data": data}
    return {**message, "sender": sender, "ref": ref}


def test_a_record_reaches_every_member_once_and_the_sender_with_its_ref() -> None:
    h = hub()
    sockets = [member(h, n)[1] for n in range(4)]
    h.deliver(record(1, sender="s2", ref="r1"))
    h.deliver(record(2))
    for n, socket in enumerate(sockets):
        assert [f["data"]["seq"] for f in socket.frames] == [1, 2]
        assert [f.get("ref") for f in socket.frames] == (["r1", None] if n == 2 else [None, None])


def test_a_joining_member_gets_the_room_once_its_seat_opens() -> None:
    h = hub()
    _, early = member(h, 0)
    late, socket = member(h, 1, seated=False)
    h.enter(late, TRIP)  # joining: frames wait for its seat to open
    h.deliver(record(1))
    assert socket.frames == []
    h.open_seat(late, TRIP, 0)
    assert [f["data"]["seq"] for f in socket.frames] == [1]
    assert [f["data"]["seq"] for f in early.frames] == [1]


def test_a_connection_gone_before_its_join_takes_no_seat() -> None:
    h = hub()
    _, other = member(h, 0)
    gone, socket = member(h, 1, seated=False)
    h.remove(gone)  # closed while its join was still checking access
    assert h.enter(gone, TRIP) is None
    assert TRIP not in gone.seats
    h.deliver(record(1))
    assert socket.frames == []
    assert [f["data"]["seq"] for f in other.frames] == [1]
