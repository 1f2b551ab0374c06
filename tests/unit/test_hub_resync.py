"""The hub across nodes: a bus that may have lost messages asks for a resync,
and every seat is filled from the log before anything newer; frames from two
nodes that reach a seat out of ``seq`` order are put back in order; the
sender's own copy keeps its ``ref`` when it comes from the log."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from eventlog.ports import RESYNC_KIND
from eventlog.records import LogRecord
from service.hub import GAP_PAGE, Connection, Hub
from service.metrics import Metrics
from tests.log_records import chat_record

TRIP = "650000000000000000000100"


class Log:
    """Just enough of an EventStore: one trip's stream."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.read: list[int] = []  # how many records each read_stream returned

    def add(self, version: int, *, session: str | None = None, ref: str | None = None) -> LogRecord:
        record = chat_record(f"r{version}", TRIP, version, user="u1", session=session, ref=ref)
        self.records.append(record)
        return record

    async def read_stream(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[LogRecord]:
        found = [r for r in self.records if r.stream == stream and (r.version or 0) > after_version]
        found = found[:limit] if limit is not None else found
        self.read.append(len(found))
        return found


class Socket:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def send(self, payload: bytes) -> None:
        self.frames.append(json.loads(payload))

    def close(self, code: int, reason: str) -> None:
        pass

    @property
    def seqs(self) -> list[int]:
        return [f["data"]["seq"] for f in self.frames if "seq" in f["data"]]


def seated(hub: Hub, session: str, last_seq: int) -> tuple[Connection, Socket]:
    socket = Socket()
    conn = Connection(session, "u1", None, "user", False, "127.0.0.1", "test", "2026-01-01T00:00:00.000Z", socket)
    hub.add(conn)
    hub.enter(conn, TRIP)
    hub.open_seat(conn, TRIP, last_seq)
    return conn, socket


def room_message(record: LogRecord, *, sender: str | None = None) -> dict[str, Any]:
    from service.frames import stream_broadcast

    frame = stream_broadcast(record)
    assert frame is not None
    return {
        "kind": "room",
        "tripId": TRIP,
        "seq": record.version,
        "event": frame[0],
        "data": frame[1],
        "ref": record.ref,
        "sender": sender,
    }


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_resync_fills_every_seat_from_the_log_before_anything_newer() -> None:
    log = Log()
    hub = Hub(log, Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event())  # type: ignore[arg-type]
    _, socket = seated(hub, "s1", 1)
    for version in (1, 2, 3):
        log.add(version)  # 2 and 3 were published while Redis was away: never delivered
    hub.deliver({"kind": RESYNC_KIND})
    hub.deliver(room_message(log.add(4)))  # newer: held while the seat fills
    assert socket.seqs == []
    await settle()
    assert socket.seqs == [2, 3, 4]
    hub.deliver(room_message(log.records[2]))  # a late copy of 3 from the bus: dropped
    assert socket.seqs == [2, 3, 4]


async def test_frames_two_nodes_publish_out_of_seq_order_reach_the_seat_in_order() -> None:
    log = Log()
    hub = Hub(log, Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event())  # type: ignore[arg-type]
    _, socket = seated(hub, "s1", 0)
    first, second = log.add(1), log.add(2)
    hub.deliver(room_message(second))  # node b's XADD won the race
    hub.deliver(room_message(first))
    await settle()
    assert socket.seqs == [1, 2]


async def test_the_senders_own_copy_filled_from_the_log_keeps_its_ref() -> None:
    log = Log()
    hub = Hub(log, Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event())  # type: ignore[arg-type]
    _, mine = seated(hub, "s1", 0)
    _, other = seated(hub, "s2", 0)
    log.add(1, session="s1", ref="my-ref")
    hub.deliver({"kind": RESYNC_KIND})
    await settle()
    assert [(f["data"]["seq"], f.get("ref")) for f in mine.frames] == [(1, "my-ref")]
    assert [(f["data"]["seq"], f.get("ref")) for f in other.frames] == [(1, None)]


async def test_a_resync_during_a_join_fills_again_when_the_seat_opens() -> None:
    log = Log()
    hub = Hub(log, Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event())  # type: ignore[arg-type]
    socket = Socket()
    conn = Connection("s1", "u1", None, "user", False, "127.0.0.1", "test", "2026-01-01T00:00:00.000Z", socket)
    hub.add(conn)
    hub.enter(conn, TRIP)  # joining: the head (1) was read, the snapshot is being sent
    log.add(1)
    log.add(2)  # published while the bus was away
    hub.deliver({"kind": RESYNC_KIND})
    hub.open_seat(conn, TRIP, 1)
    await settle()
    assert socket.seqs == [2]


async def test_a_seat_far_behind_is_filled_a_page_at_a_time_in_order() -> None:
    log = Log()
    hub = Hub(log, Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event())  # type: ignore[arg-type]
    _, socket = seated(hub, "s1", 0)
    behind = 2 * GAP_PAGE + 7
    for version in range(1, behind + 1):
        log.add(version)  # published while Redis was away
    hub.deliver({"kind": RESYNC_KIND})
    hub.deliver(room_message(log.add(behind + 1)))  # newer: held while the seat fills
    for _ in range(10):
        await settle()
    assert socket.seqs == list(range(1, behind + 2))
    assert log.read == [GAP_PAGE, GAP_PAGE, 8]  # never more than a page of the stream at once
