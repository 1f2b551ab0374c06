"""permessage-deflate as ``handlers.frame_writer`` negotiates and writes it.

Negotiated by ``handlers.upgrade`` (``deflate_answer``, the 101), written by
``handlers.frame_writer``.  Clients offer it exactly as Chromium does
(``permessage-deflate; client_max_window_bits``): through a raw socket that sees the
frames' bytes, and through the ``websockets`` client, which decodes them as a browser
would.  These tests also pin the Tornado behaviour and internals ``frame_writer`` and
``upgrade`` rely on: an upgrade of Tornado that changes them fails here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import gc
import hashlib
import logging
import os
import struct
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import tornado
import tornado.http1connection
import tornado.httputil
import tornado.netutil
import tornado.web
import tornado.websocket
import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, PerMessageDeflate

from config import load_settings
from handlers.frame_writer import (
    REUSED_FRAMES,
    REUSED_MAX_BYTES,
    Deflate,
    FrameWriter,
    Lane,
    SharedDeflater,
    SocketOutbox,
    text_frame,
)
from handlers.upgrade import UpgradingServer
from tests.wire_sockets import BoxSocket, tornados_own

CHROMIUM_OFFER = "permessage-deflate; client_max_window_bits"
SMALL = b'{"event":"chat_message","data":{"message":"hi"}}'
LARGE = (
    b'{"event":"trip_room_joined","data":{"members":['
    + b",".join(b'{"userId":"%024x","name":"User %d","role":"collaborator"}' % (i, i) for i in range(60))
    + b"]}}"
)


class Outbox(SocketOutbox):
    __slots__ = ("wire",)

    def __init__(self, wire: Socket, max_frames: int, max_bytes: int) -> None:
        assert wire.ws is not None
        super().__init__(wire.ws, wire.writer, max_frames, max_bytes)  # the protocol, from the 101 on
        self.wire = wire

    def too_slow(self) -> None:
        self.wire.close(4009, "too slow")


class Socket(BoxSocket):
    def open(self) -> None:
        self.box.setdefault("outboxes", []).append(Outbox(self, 1000, 1 << 30))
        self.box.setdefault("sockets", []).append(self)

    def on_message(self, message: str | bytes) -> None:
        self.box.setdefault("received", []).append(message)

    def on_close(self) -> None:
        self.box["closed"] = self.box.get("closed", 0) + 1


@contextlib.asynccontextmanager
async def serving(deflate: Deflate) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    box: dict[str, Any] = {}
    writer = FrameWriter(deflate=deflate)
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = UpgradingServer(
        tornado.web.Application([]), endpoint=lambda upgrade, stream: Socket(upgrade, stream, writer, box)
    )
    server.add_sockets([sock])
    try:
        yield sock.getsockname()[1], box
    finally:
        server.stop()


class RawClient:
    """A WebSocket client on a bare socket: sends the offer it is given, keeps the
    server's answer (its status line, and its headers by lower-cased name), and reads
    frames as bytes (first byte, payload)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: str, fields: list[tuple[str, str]]
    ) -> None:
        self.reader, self.writer, self.status, self.fields = reader, writer, status, fields
        self.answer = dict(fields)

    @classmethod
    async def connect(cls, port: int, offer: str | None = CHROMIUM_OFFER, key: str | None = None) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = key or base64.b64encode(os.urandom(16)).decode()
        lines = [
            "GET /ws HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if offer is not None:
            lines.append(f"Sec-WebSocket-Extensions: {offer}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status, *lines = head.decode().split("\r\n")
        assert " 101 " in status, status
        fields = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines if line)]
        return cls(reader, writer, status, fields)

    async def frame(self) -> tuple[int, bytes]:
        first, second = await asyncio.wait_for(self.reader.readexactly(2), 10)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first, await self.reader.readexactly(size)

    def close(self) -> None:
        self.writer.close()


def inflate_alone(body: bytes) -> bytes:
    """A compressed message decoded with a fresh context: what no context takeover means."""
    return zlib.decompressobj(-15).decompress(body + b"\x00\x00\xff\xff")


async def wait_for_sockets(box: dict[str, Any], n: int) -> list[Outbox]:
    for _ in range(500):
        if len(box.get("outboxes", [])) >= n:
            return list(box["outboxes"])
        await asyncio.sleep(0.01)
    raise AssertionError(f"{n} sockets did not open")


async def test_a_chromium_offer_is_answered_with_no_context_takeover_on_both_sides() -> None:
    async with serving(Deflate()) as (port, _box):
        client = await RawClient.connect(port)
        answer = client.answer["sec-websocket-extensions"]
        client.close()
    parts = [p.strip() for p in answer.split(";")]
    assert parts[0] == "permessage-deflate"
    assert set(parts[1:]) == {"server_no_context_takeover", "client_no_context_takeover"}


@pytest.mark.parametrize(("mode", "zlib_state_kept"), [("shared", False), ("per-connection", True)])
async def test_a_shared_deflate_connection_keeps_no_zlib_context(mode: str, zlib_state_kept: bool) -> None:
    # Reads Tornado internals on purpose: if a Tornado upgrade renames them, this fails.
    async with serving(Deflate(mode)) as (port, box):
        client = await RawClient.connect(port)
        await wait_for_sockets(box, 1)
        conn = box["sockets"][0].ws
        compressor, decompressor = conn._compressor, conn._decompressor
        assert compressor is not None and decompressor is not None
        assert (compressor._compressor is not None) is zlib_state_kept
        assert (decompressor._decompressor is not None) is zlib_state_kept
        client.close()


async def test_large_payloads_go_deflated_to_every_socket_and_small_ones_plain() -> None:
    async with serving(Deflate(min_bytes=1024)) as (port, box):
        clients = [await RawClient.connect(port) for _ in range(5)]
        outboxes = await wait_for_sockets(box, 5)
        for payload in (SMALL, LARGE, SMALL, LARGE):
            for outbox in outboxes:
                outbox.send(payload)
            await asyncio.sleep(0)
        seen: list[list[tuple[int, bytes]]] = [[await c.frame() for _ in range(4)] for c in clients]
        for c in clients:
            c.close()
    assert len(LARGE) > 1024 > len(SMALL)
    for frames in seen:
        assert [first for first, _ in frames] == [0x81, 0xC1, 0x81, 0xC1]  # RSV1 only on the large ones
        assert frames[0][1] == frames[2][1] == SMALL
        assert inflate_alone(frames[1][1]) == inflate_alone(frames[3][1]) == LARGE
        assert len(frames[1][1]) < len(LARGE) // 2
    assert all(frames == seen[0] for frames in seen)  # the same bytes for every socket


async def test_a_websockets_client_negotiating_as_chromium_reads_every_broadcast_and_is_read() -> None:
    sizes = [10, 2000, 300, 100_000, 1023, 1024, 5000]
    payloads = [b'"' + (b"%d " % i) * (size // 4 + 1) + b'"' for i, size in enumerate(sizes)]
    async with serving(Deflate()) as (port, box):
        clients = [
            await websockets.connect(
                f"ws://127.0.0.1:{port}/ws",
                extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=True)],
                compression=None,
                max_size=None,
            )
            for _ in range(20)
        ]
        outboxes = await wait_for_sockets(box, 20)
        for client in clients:
            [extension] = client.protocol.extensions
            assert isinstance(extension, PerMessageDeflate)
            assert extension.remote_no_context_takeover and extension.local_no_context_takeover
        for payload in payloads * 3:
            for outbox in outboxes:
                outbox.send(payload)
            await asyncio.sleep(0)
        got = [[await asyncio.wait_for(c.recv(), 10) for _ in range(len(payloads) * 3)] for c in clients]
        for i, client in enumerate(clients[:3]):
            pad = "x" * 3000
            await client.send(f'{{"n":{i},"pad":"{pad}"}}')  # compressed by the client, no takeover
            await client.send(f'{{"n":{i}}}')
        for _ in range(500):
            if len(box.get("received", [])) == 6:
                break
            await asyncio.sleep(0.01)
        for client in clients:
            await client.close()
    expected = [p.decode() for p in payloads * 3]
    assert all(messages == expected for messages in got)
    assert sorted(len(m) for m in box["received"]) == sorted([len('{"n":0,"pad":"' + "x" * 3000 + '"}')] * 3 + [7] * 3)


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_max_window_bits=10",  # our shared frames use a 15-bit window
        "permessage-deflate; client_max_window_bits; x-unknown=1",
        "permessage-deflate; client_max_window_bits=8",  # zlib's raw deflate has no 8-bit window
        "permessage-deflate; x-unknown=1, permessage-deflate",  # the first offer is the one answered
        "x-webkit-deflate-frame",
    ],
)
async def test_an_offer_the_shared_frames_do_not_suit_is_declined_and_frames_go_plain(offer: str) -> None:
    async with serving(Deflate(min_bytes=0)) as (port, box):
        client = await RawClient.connect(port, offer)
        [outbox] = await wait_for_sockets(box, 1)
        outbox.send(LARGE)
        first, body = await client.frame()
        client.close()
    assert "sec-websocket-extensions" not in client.answer
    assert (first, body) == (0x81, LARGE)


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; client_max_window_bits; x-unknown=1",  # Tornado's own path dropped the connection
        "permessage-deflate; server_max_window_bits=8",  # zlib's raw deflate has no 8-bit window
        "permessage-deflate; client_max_window_bits=16",
    ],
)
async def test_in_per_connection_mode_an_offer_zlib_cannot_take_is_declined_and_frames_go_plain(offer: str) -> None:
    async with serving(Deflate("per-connection", min_bytes=0)) as (port, box):
        client = await RawClient.connect(port, offer)
        [outbox] = await wait_for_sockets(box, 1)
        assert outbox.wire.ws is not None and outbox.wire.ws._compressor is None
        outbox.send(LARGE)
        first, body = await client.frame()
        client.close()
    assert "sec-websocket-extensions" not in client.answer
    assert (first, body) == (0x81, LARGE)


async def test_with_deflate_off_nothing_is_negotiated() -> None:
    async with serving(Deflate("off", min_bytes=0)) as (port, box):
        client = await RawClient.connect(port)
        [outbox] = await wait_for_sockets(box, 1)
        outbox.send(LARGE)
        first, body = await client.frame()
        client.close()
    assert "sec-websocket-extensions" not in client.answer
    assert (first, body) == (0x81, LARGE)


def test_a_lane_encodes_each_payload_once_per_flush_for_all_its_sockets() -> None:
    encoded: list[bytes] = []

    def encode(payload: bytes) -> bytes:
        encoded.append(payload)
        return text_frame(payload)

    lane = Lane(encode)
    a, b = b'"a"', b'"b"'
    queues = [[a], [a], [a, b], [b], [a, b]]
    data = [lane.frames(q) for q in queues]
    assert encoded == [a, b]
    assert data[0] is data[1] and data[2] == text_frame(a) + text_frame(b)
    assert sorted(lane.take_counts()) == [(a, 4), (b, 3)]
    lane.frames([a])
    assert encoded == [a, b, a]  # a new flush frames afresh


def _inflated(frame: bytes) -> bytes:
    """The payload of one compressed text frame as a browser inflates it."""
    assert frame[0] == 0xC1  # FIN, RSV1, text
    length = frame[1] & 0x7F
    start = 2 + {126: 2, 127: 8}.get(length, 0)
    return zlib.decompressobj(-15).decompress(frame[start:] + b"\x00\x00\xff\xff")


def test_an_equal_large_payload_reuses_its_frame_until_newer_ones_push_it_out() -> None:
    deflater = SharedDeflater(Deflate())
    answer = b'{"event":"trip_room_joined","data":{"members":[' + b'"m",' * 600 + b'"m"]}}'
    first = deflater(answer)
    again = deflater(bytes(bytearray(answer)))  # equal, another object: as each joiner's own answer is
    assert again is first and _inflated(first) == answer
    for n in range(REUSED_FRAMES - 1):  # the others it keeps beside the first
        deflater(answer.replace(b'"m"', f'"{n}"'.encode(), 1))
    assert deflater(answer) is first
    deflater(answer.replace(b'"m"', b'"one more"', 1))  # the first is the oldest kept: it goes
    assert deflater(answer) is not first and _inflated(deflater(answer)) == answer


def test_a_payload_over_the_reuse_bound_is_deflated_afresh_each_time() -> None:
    deflater = SharedDeflater(Deflate())
    at_bound = b'"' + b"x" * (REUSED_MAX_BYTES - 2) + b'"'
    assert deflater(at_bound) is deflater(at_bound)  # kept up to the bound itself
    big = at_bound + b" "
    first = deflater(big)
    assert deflater(big) is not first and _inflated(first) == big


def test_deflate_settings_come_from_flags_and_a_bad_mode_is_refused() -> None:
    limits = load_settings(["--deflate", "off", "--deflate-min-bytes", "200"], env={}).limits
    assert (limits.deflate, limits.deflate_min_bytes) == ("off", 200)
    assert load_settings([], env={}).limits.deflate == "shared"
    with pytest.raises(ValueError, match="deflate mode"):
        Deflate("always")


HTTP1_KINDS = (
    tornado.http1connection.HTTP1Connection,
    tornado.http1connection.HTTP1ServerConnection,
    tornado.httputil.HTTPServerRequest,
    tornado.httputil.HTTPHeaders,
    tornado.web.RequestHandler,
)


def http1_objects() -> list[object]:
    """Tornado's HTTP/1 exchange objects alive in this process (unreachable ones collected first)."""
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, HTTP1_KINDS)]


@pytest.mark.parametrize("mode", ["shared", "off"])
async def test_an_open_socket_holds_no_http1_exchange_and_still_reads_writes_and_closes(mode: str) -> None:
    # Tornado's accept path kept the HTTP/1 connection, the request, its headers and the handler's
    # for the socket's life; the upgrade path makes none of them (held here: no id is reused)
    before = http1_objects()
    known = {id(o) for o in before}
    async with serving(Deflate(mode, min_bytes=0)) as (port, box):
        client = await RawClient.connect(port)
        [outbox] = await wait_for_sockets(box, 1)
        [wire] = box["sockets"]
        assert [o for o in http1_objects() if id(o) not in known] == []
        # the handshake's coroutines ended once open had: frames are read by a task of their own
        running = {task.get_coro().__qualname__ for task in asyncio.all_tasks()}  # type: ignore[union-attr]
        assert "_FrameReader._read_frames" in running
        assert not running & {"UpgradingServer._first_request", "WireSocket.serve"}
        assert isinstance(wire.ws, tornado.websocket.WebSocketProtocol13) and wire.ws.stream is wire.stream
        outbox.send(LARGE)
        first, body = await client.frame()
        assert (first == 0xC1) is (mode == "shared")
        assert (inflate_alone(body) if first == 0xC1 else body) == LARGE
        mask = os.urandom(4)
        payload = b'{"event":"hello"}'
        client.writer.write(
            bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        )
        for _ in range(500):
            if box.get("received"):
                break
            await asyncio.sleep(0.01)
        assert box["received"] == [payload.decode()]
        client.close()
        for _ in range(500):
            if box.get("closed"):
                break
            await asyncio.sleep(0.01)
        assert box["closed"] == 1
    del before


def test_the_date_header_is_formatted_once_per_second_by_each_writer() -> None:
    writer = FrameWriter()
    first = writer.http_date(1_800_000_000.2)
    assert first == tornado.httputil.format_timestamp(1_800_000_000)
    assert writer.http_date(1_800_000_000.9) is first  # the same second: not formatted again
    assert writer.http_date(1_800_000_001.0) == tornado.httputil.format_timestamp(1_800_000_001)
    assert FrameWriter().http_date(1_800_000_000.5) == first  # no state shared between writers


NO_TAKEOVER = "client_no_context_takeover; server_no_context_takeover"
WINDOWS_OFFER = "permessage-deflate; server_max_window_bits=15; client_max_window_bits=12"


@pytest.mark.parametrize(
    ("mode", "offer", "extension"),
    [
        ("shared", CHROMIUM_OFFER, f"permessage-deflate; {NO_TAKEOVER}"),
        ("per-connection", CHROMIUM_OFFER, "permessage-deflate"),
        ("off", CHROMIUM_OFFER, None),
        (
            "shared",
            WINDOWS_OFFER,
            "permessage-deflate; client_max_window_bits=12; client_no_context_takeover; "
            "server_max_window_bits=15; server_no_context_takeover",
        ),
        ("per-connection", WINDOWS_OFFER, "permessage-deflate; client_max_window_bits=12; server_max_window_bits=15"),
    ],
)
async def test_the_101_is_tornados_own_with_the_extension_each_mode_agrees_to(
    mode: str, offer: str, extension: str | None
) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    async with serving(Deflate(mode)) as (port, box):
        ours = await RawClient.connect(port, offer, key)
        [outbox] = await wait_for_sockets(box, 1)
        conn = outbox.wire.ws
        assert conn is not None and (conn._compressor is not None) is (extension is not None)
        ours.close()
    async with tornados_own(compress=mode != "off") as port:
        theirs = await RawClient.connect(port, offer, key)
        theirs.close()
    assert ours.status == theirs.status == "HTTP/1.1 101 Switching Protocols"
    names = sorted(name for name, _ in ours.fields)
    assert names == sorted(name for name, _ in theirs.fields)
    assert names == sorted(
        ["server", "date", "upgrade", "connection", "sec-websocket-accept"]
        + (["sec-websocket-extensions"] if extension is not None else [])
    )  # each once
    assert ours.answer.get("sec-websocket-extensions") == extension
    if mode != "shared":  # Tornado's own answer; shared mode adds no context takeover on both sides to it
        assert theirs.answer.get("sec-websocket-extensions") == extension
    else:
        assert extension is not None
        assert theirs.answer["sec-websocket-extensions"] == extension.replace(
            "; client_no_context_takeover", ""
        ).replace("; server_no_context_takeover", "")
    alike = ("server", "upgrade", "connection", "sec-websocket-accept")
    assert {k: ours.answer[k] for k in alike} == {k: theirs.answer[k] for k in alike}
    assert ours.answer["server"] == f"TornadoServer/{tornado.version}"
    accept = base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    assert ours.answer["sec-websocket-accept"] == accept.decode()  # RFC 6455 section 4.2.2
    for client in (ours, theirs):
        assert abs(email.utils.parsedate_to_datetime(client.answer["date"]).timestamp() - time.time()) < 5


async def test_a_frame_that_does_not_inflate_closes_its_connection_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # zlib.error is neither Tornado's ValueError nor a cancellation: the reader task must end the
    # connection and log it, not leave "Task exception was never retrieved" to the collector
    async with serving(Deflate("shared", min_bytes=0)) as (port, box):
        client = await RawClient.connect(port)
        await wait_for_sockets(box, 1)
        garbage, mask = b"\xff" * 16, os.urandom(4)
        client.writer.write(
            bytes((0xC1, 0x80 | len(garbage))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(garbage))
        )
        with caplog.at_level(logging.ERROR, logger="tornado.application"):
            assert await asyncio.wait_for(client.reader.read(), 10) == b""  # the server closed it
            for _ in range(100):
                if caplog.records:
                    break
                await asyncio.sleep(0.01)
        client.close()
    assert [r.getMessage() for r in caplog.records] == ["Uncaught exception reading WebSocket frames"]
    assert caplog.records[0].exc_info is not None and caplog.records[0].exc_info[0] is zlib.error
