"""``handlers.frame_writer``: frames on the wire are what Tornado's own writer would
send, in ``send`` order, coalesced per loop iteration, bounded, flushed before a close."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import tornado.netutil
import tornado.web
import tornado.websocket

from handlers.frame_writer import Deflate, FrameWriter, SocketOutbox, text_frame
from handlers.upgrade import UpgradingServer
from tests.wire_sockets import BoxSocket


def parse_frame(data: bytes) -> tuple[int, bytes, bytes]:
    """(first byte, payload, rest) of one unmasked frame."""
    first, second = data[0], data[1]
    assert second & 0x80 == 0, "server frames are not masked"
    size, at = second & 0x7F, 2
    if size == 126:
        (size,), at = struct.unpack("!H", data[2:4]), 4
    elif size == 127:
        (size,), at = struct.unpack("!Q", data[2:10]), 10
    return first, data[at : at + size], data[at + size :]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frame_header_and_payload(size: int) -> None:
    payload = b"x" * size
    first, body, rest = parse_frame(text_frame(payload))
    assert first == 0x81  # FIN + text
    assert body == payload
    assert rest == b""


async def test_frame_is_encoded_once_per_payload_and_counted_per_flush() -> None:
    counted: list[tuple[bytes, int]] = []
    writer = FrameWriter(lambda payload, n: counted.append((payload, n)))
    a, b = b'{"event":"a"}', b'{"event":"b"}'
    assert writer.frame(a) is writer.frame(a)
    writer.frame(b)
    writer.frame(a)
    writer.flush()
    assert sorted(counted) == [(a, 3), (b, 1)]
    writer.frame(a)
    writer.flush()
    assert counted[-1] == (a, 1)  # each flush starts counting afresh


class Outbox(SocketOutbox):
    __slots__ = ("slow", "wire")

    def __init__(self, wire: Socket, max_frames: int, max_bytes: int) -> None:
        assert wire.ws is not None
        super().__init__(wire.ws, wire.writer, max_frames, max_bytes)  # the protocol, from the 101 on
        self.wire = wire
        self.slow = False

    def too_slow(self) -> None:
        self.slow = True
        self.wire.close(4009, "too slow")


class Socket(BoxSocket):
    def open(self) -> None:
        self.box["outbox"] = Outbox(self, self.box.get("max_frames", 1000), self.box.get("max_bytes", 1 << 30))
        self.box["opened"].set_result(self)


async def serve(box: dict[str, Any], compress: bool = False) -> tuple[UpgradingServer, int]:
    box["opened"] = asyncio.get_running_loop().create_future()
    # compress: Tornado's own per-connection compression (the shared kind: tests/unit/test_deflate.py)
    writer = FrameWriter(deflate=Deflate("per-connection" if compress else "off"))
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = UpgradingServer(
        tornado.web.Application([]), endpoint=lambda upgrade, stream: Socket(upgrade, stream, writer, box)
    )
    server.add_sockets([sock])
    return server, sock.getsockname()[1]


async def connect(port: int, compress: bool = False) -> tornado.websocket.WebSocketClientConnection:
    return await tornado.websocket.websocket_connect(
        f"ws://127.0.0.1:{port}/ws", compression_options={} if compress else None, max_message_size=1 << 30
    )


@contextlib.asynccontextmanager
async def opened(box: dict[str, Any], compress: bool = False) -> AsyncIterator[tuple[Any, Socket, Outbox]]:
    """A server with one socket open to it: (the client, the server's socket, its outbox)."""
    server, port = await serve(box, compress)
    client = None
    try:
        client = await connect(port, compress)
        wire = await box["opened"]
        assert wire.ws is not None and (wire.ws._compressor is not None) is compress  # negotiated as asked
        yield client, wire, box["outbox"]
    finally:
        if client is not None:
            client.close()  # again, if the test did: no harm
        server.stop()


async def read_all(client: tornado.websocket.WebSocketClientConnection, n: int) -> list[str | bytes | None]:
    return [await asyncio.wait_for(client.read_message(), 10) for _ in range(n)]


@pytest.mark.parametrize("compress", [False, True])
async def test_frames_arrive_in_send_order_across_iterations(compress: bool) -> None:
    box: dict[str, Any] = {}
    async with opened(box, compress) as (client, _wire, outbox):
        sent = [f'{{"n":{i}}}'.encode() for i in range(50)]
        for payload in sent[:25]:
            outbox.send(payload)  # one iteration: coalesced into one write
        await asyncio.sleep(0)
        for payload in sent[25:]:
            outbox.send(payload)
        got = await read_all(client, 50)
        assert [g.encode() if isinstance(g, str) else g for g in got] == sent
        client.close()


async def test_a_write_larger_than_the_socket_buffer_goes_through_tornado_and_keeps_order() -> None:
    box: dict[str, Any] = {}
    async with opened(box) as (client, wire, outbox):
        big = b'"' + b"y" * (8 << 20) + b'"'
        outbox.send(big)
        await asyncio.sleep(0)
        assert wire.ws.stream.writing() or outbox.pending_frames == 0
        outbox.send(b'"after"')  # queued behind the remainder Tornado holds
        wire.ws.write_ping(b"p")  # Tornado's own frames interleave at frame boundaries
        got = await read_all(client, 2)
        assert got[0] == big.decode()
        assert got[1] == '"after"'
        client.close()


async def test_over_the_frame_limit_the_socket_is_closed_as_too_slow() -> None:
    box: dict[str, Any] = {"max_frames": 3}
    async with opened(box) as (client, _wire, outbox):
        for i in range(4):  # the 4th in one iteration is over the bound
            outbox.send(f'"{i}"'.encode())
        assert outbox.slow
        messages = []
        while (message := await asyncio.wait_for(client.read_message(), 10)) is not None:
            messages.append(message)
        assert client.close_code == 4009
        assert messages == []  # closing drops what was queued after the bound was hit


@pytest.mark.parametrize("compress", [False, True])
async def test_the_byte_bound_counts_frames_queued_or_unwritten_and_written_ones_free_it(compress: bool) -> None:
    box: dict[str, Any] = {"max_bytes": 100}
    async with opened(box, compress) as (client, _wire, outbox):
        frame = b'"' + b"x" * 58 + b'"'  # 60 bytes: one fits, two in one iteration do not
        for _ in range(5):  # 300 bytes in all, each written before the next
            outbox.send(frame)
            assert await asyncio.wait_for(client.read_message(), 10) == frame.decode()
        assert not outbox.slow
        assert outbox.pending_bytes == 0 and outbox.pending_frames == 0
        outbox.send(frame)
        assert outbox.pending_bytes == 60
        outbox.send(frame)  # 120 > 100
        assert outbox.slow
        assert await asyncio.wait_for(client.read_message(), 10) is None  # closing drops what was queued
        assert client.close_code == 4009


async def test_a_remainder_tornado_holds_counts_until_written() -> None:
    big = b'"' + b"y" * (8 << 20) + b'"'
    box: dict[str, Any] = {"max_bytes": len(big) + 100}
    async with opened(box) as (client, wire, outbox):
        # small kernel buffers on both ends: the kernel takes far less than the 8 MB at once,
        # whatever the machine's defaults, so a remainder is certain to be left to Tornado
        wire.ws.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        client.protocol.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        outbox.send(big)
        await asyncio.sleep(0)  # flushed: what the kernel did not take is Tornado's to write
        assert wire.ws.stream.writing()
        assert outbox.pending_bytes == len(big) and outbox.pending_frames == 1
        assert await asyncio.wait_for(client.read_message(), 10) == big.decode()
        await asyncio.sleep(0.05)
        assert outbox.pending_bytes == 0 and outbox.pending_frames == 0
        outbox.send(big)  # the whole budget is back
        assert not outbox.slow
        assert await asyncio.wait_for(client.read_message(), 10) == big.decode()
        client.close()


async def test_queued_frames_go_out_before_the_close_frame() -> None:
    box: dict[str, Any] = {}
    async with opened(box) as (client, wire, outbox):
        outbox.send(b'"last words"')
        outbox.flush_now()
        wire.close(4003, "bye")
        assert await asyncio.wait_for(client.read_message(), 10) == '"last words"'
        assert await asyncio.wait_for(client.read_message(), 10) is None
        assert client.close_code == 4003
        outbox.send(b'"too late"')  # after the close: dropped, no error


async def test_with_a_coalescing_interval_a_socket_is_written_at_most_that_often() -> None:
    writer = FrameWriter(min_interval=0.05)
    flushed: list[float] = []

    class Probe(SocketOutbox):
        __slots__ = ()

        def flush(self) -> None:
            flushed.append(asyncio.get_running_loop().time())

    probe = Probe.__new__(Probe)
    loop = asyncio.get_running_loop()
    writer.schedule(probe)  # nothing written recently: at once
    await asyncio.sleep(0.001)
    writer.schedule(probe)  # within the interval: waits for it
    await asyncio.sleep(0.1)
    assert len(flushed) == 2
    assert flushed[1] - flushed[0] >= 0.049
    start = loop.time()
    await asyncio.sleep(0.06)
    writer.schedule(probe)  # the interval has passed: at once again
    await asyncio.sleep(0.001)
    assert len(flushed) == 3 and flushed[2] - start < 0.07


class TimedProbe(SocketOutbox):
    """An outbox whose flush takes ``cost`` seconds of (busy) time and logs when it ran."""

    __slots__ = ("cost", "flushed")
    cost: float
    flushed: list[float]

    def flush(self) -> None:
        loop = asyncio.get_running_loop()
        self.flushed.append(loop.time())
        until = loop.time() + self.cost
        while loop.time() < until:
            pass


def timed_probe(cost: float) -> TimedProbe:
    probe = TimedProbe.__new__(TimedProbe)
    probe.cost, probe.flushed = cost, []
    return probe


async def schedule_in_turn(writer: FrameWriter, probe: TimedProbe, times: int) -> None:
    """Schedule ``probe`` ``times`` times, two loop iterations apart (no timer fires in between)."""
    for _ in range(times):
        writer.schedule(probe)
        await asyncio.sleep(0)
        await asyncio.sleep(0)


async def test_after_a_long_flush_the_next_one_waits_as_long_so_frames_coalesce() -> None:
    writer = FrameWriter(pace=1.0)
    probe = timed_probe(0.01)
    writer.schedule(probe)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(probe.flushed) == 1
    ended = asyncio.get_running_loop().time()
    writer.schedule(probe)  # right after a 10 ms flush: held back about 10 ms
    await asyncio.sleep(0.005)
    assert len(probe.flushed) == 1
    await asyncio.sleep(0.03)
    assert len(probe.flushed) == 2
    assert probe.flushed[1] - ended >= 0.009


async def test_a_cheap_flush_is_followed_by_no_pause() -> None:
    writer = FrameWriter(pace=1.0)
    probe = timed_probe(0.0)
    await schedule_in_turn(writer, probe, 3)
    assert len(probe.flushed) == 3  # one loop iteration each, no timer


async def test_a_pause_never_exceeds_its_cap_and_pace_zero_turns_it_off() -> None:
    from handlers.frame_writer import PACE_MAX

    loop = asyncio.get_running_loop()
    writer = FrameWriter(pace=100.0)
    probe = timed_probe(0.002)  # 100 x 2 ms would be 200 ms
    writer.schedule(probe)
    await asyncio.sleep(0.01)
    ended = loop.time()
    writer.schedule(probe)
    await asyncio.sleep(PACE_MAX + 0.03)
    assert len(probe.flushed) == 2 and probe.flushed[1] - ended <= PACE_MAX + 0.02
    slow = timed_probe(0.01)
    await schedule_in_turn(FrameWriter(pace=0.0), slow, 2)
    assert len(slow.flushed) == 2
