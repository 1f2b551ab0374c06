"""``handlers.upgrade``: the WebSocket accept path that answers ``GET /ws`` itself.

Real servers on loopback: an ``UpgradingServer`` around a small Tornado application
(a REST route that reports what Tornado made of a request, and the application's own
``WebSocketFirstHandler`` for an upgrade that reached it), with an echoing
``WireSocket`` as the endpoint.  Raw ``asyncio`` sockets where the bytes matter, the
``websockets`` client where a real client is wanted.  Where the module claims to do
what Tornado does (the request head's checks, ``client_of``, the query arguments, the
101's headers), the same request is put to Tornado itself and the answers compared:
a Tornado upgrade that changes them fails here.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import functools
import logging
import os
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import tornado
import tornado.iostream
import tornado.netutil
import tornado.web
import tornado.websocket
from websockets.asyncio.client import connect

from handlers.base import error_body
from handlers.frame_writer import Deflate, FrameWriter
from handlers.upgrade import LaterUpgradeHandler, Upgrade, UpgradingServer, WireSocket, accept_value, deflate_answer
from service.admission import Refusal
from tests.wire_sockets import tornados_own

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example
CHROMIUM_OFFER = "permessage-deflate; client_max_window_bits"
FIREFOX_OFFER = "permessage-deflate"
WAIT = 5.0  # the longest any single answer may take here


# the servers ---------------------------------------------------------------------------


@dataclasses.dataclass
class Box:
    """What the endpoint saw."""

    upgrades: list[Upgrade] = dataclasses.field(default_factory=list)
    sockets: list[EchoSocket] = dataclasses.field(default_factory=list)
    opened: int = 0
    closed: int = 0
    fail_open: bool = False
    fail_admit: bool = False
    refuse_admit: Refusal | None = None  # what ``admit`` answers
    refused: list[Refusal] = dataclasses.field(default_factory=list)  # each ``refused`` call's
    closes: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


class EchoSocket(WireSocket):
    """Echoes every message; counts ``open`` and ``on_close``, keeps ``on_refused``'s refusals."""

    def __init__(self, box: Box, writer: FrameWriter, upgrade: Upgrade, stream: tornado.iostream.IOStream) -> None:
        super().__init__(upgrade, stream, writer, 1 << 20)
        self.box = box
        box.upgrades.append(upgrade)
        box.sockets.append(self)

    async def admit(self) -> Refusal | None:
        if self.box.fail_admit:
            raise RuntimeError("the admission store is down")
        return self.box.refuse_admit

    def on_refused(self, refusal: Refusal) -> None:
        self.box.refused.append(refusal)

    def open(self) -> None:
        self.box.opened += 1
        if self.box.fail_open:
            raise RuntimeError("open failed")

    def on_message(self, message: str | bytes) -> None:
        assert self.ws is not None
        self.ws.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        self.box.closed += 1
        self.box.closes.set()


class Rest(tornado.web.RequestHandler):
    """What Tornado made of the request: the client's address and scheme, the query's arguments."""

    def get(self) -> None:
        arguments = {name: self.get_query_argument(name) for name in self.request.query_arguments}
        self.write({"remote_ip": self.request.remote_ip, "protocol": self.request.protocol, "arguments": arguments})

    def post(self) -> None:
        self.write({"body": self.request.body.decode()})


@dataclasses.dataclass
class Served:
    port: int
    box: Box
    server: UpgradingServer


@contextlib.asynccontextmanager
async def serving(deflate: Deflate | None = None, *, later: bool = True, **options: Any) -> AsyncIterator[Served]:
    """``later``: the application upgrades a ``GET /ws`` that reaches it (``LaterUpgradeHandler``);
    without it, the application answers those 404: only the fast path upgrades."""
    box = Box()
    writer = FrameWriter(deflate=deflate or Deflate())
    endpoint = functools.partial(EchoSocket, box, writer)
    routes: list[Any] = [(r"/rest", Rest)]
    if later:
        routes.append((r"/ws", LaterUpgradeHandler, {"endpoint": endpoint}))
    app = tornado.web.Application(routes)
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = UpgradingServer(app, endpoint=endpoint, **options)
    server.add_sockets([sock])
    try:
        yield Served(sock.getsockname()[1], box, server)
    finally:
        server.stop()
        for ws in box.sockets:
            ws.stream.close()
        await server.close_all_connections()
        deadline = time.monotonic() + WAIT
        while server._handshakes and time.monotonic() < deadline:  # every connection's task has ended
            await asyncio.sleep(0.01)
        for task in list(server._handshakes):
            task.cancel()


# raw clients -----------------------------------------------------------------------------


def ws_request(*extra: str, path: str = "/ws", version: str = "HTTP/1.1", omit: tuple[str, ...] = ()) -> bytes:
    """A browser's upgrade request; ``extra`` header lines are added, ``omit`` names left out."""
    fields = {
        "Host": "127.0.0.1",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    lines = [f"GET {path} {version}", *(f"{k}: {v}" for k, v in fields.items() if k not in omit), *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def rest_request(method: str = "GET", target: str = "/rest", *extra: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *extra]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclasses.dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]  # as written, in order
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else None

    def json(self) -> Any:
        return orjson.loads(self.body)


class Raw:
    """One TCP connection, bytes in and out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, data: bytes = b"") -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer)
        if data:
            raw.send(data)
        return raw

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def response(self) -> Response:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), WAIT)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines if line)]
        response = Response(int(status_line.split(" ")[1]), headers, b"")
        length = response.header("Content-Length")
        if length is not None:
            response.body = await asyncio.wait_for(self.reader.readexactly(int(length)), WAIT)
        elif response.status != 101:  # as Tornado answers a malformed request: no length, then closed
            response.body = await self.rest()
        return response

    async def rest(self) -> bytes:
        """What the server still sends before it closes the connection (fails if it does not)."""
        return await asyncio.wait_for(self.reader.read(), WAIT)

    async def frame(self) -> tuple[int, bytes]:
        """A server frame (unmasked, short): (first byte, payload)."""
        first, size = await asyncio.wait_for(self.reader.readexactly(2), WAIT)
        assert size < 126
        return first, await asyncio.wait_for(self.reader.readexactly(size), WAIT)

    def close(self) -> None:
        self.writer.close()

    def drop(self) -> None:
        """Gone without a close frame (nor a FIN): a reset."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A final, masked client frame."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked


async def served_by_tornado(port: int, data: bytes) -> Response:
    raw = await Raw.open(port, data)
    try:
        return await raw.response()
    finally:
        raw.close()


# 1. the first request of a connection that is not an upgrade ------------------------------


async def test_rest_first_requests_are_served_by_the_application_with_their_bodies_and_keep_alive() -> None:
    async with serving() as served:
        raw = await Raw.open(served.port, rest_request("GET", "/rest?n=1"))
        first = await raw.response()
        assert first.status == 200
        assert first.json()["arguments"] == {"n": "1"}
        raw.send(rest_request("POST", "/rest", body=b"a body on a kept-alive connection"))
        second = await raw.response()
        assert second.status == 200
        assert second.json() == {"body": "a body on a kept-alive connection"}
        raw.close()

        # a POST as the first request, its body and a pipelined second request in the same write:
        # the head given back comes before the bytes read with it
        raw = await Raw.open(served.port, rest_request("POST", body=b"x" * 3000) + rest_request("GET", "/rest?n=2"))
        posted, pipelined = await raw.response(), await raw.response()
        assert (posted.status, posted.json()) == (200, {"body": "x" * 3000})
        assert (pipelined.status, pipelined.json()["arguments"]) == (200, {"n": "2"})
        raw.close()

        assert served.box.upgrades == []


# 2. an upgrade that is not a connection's first request -----------------------------------


async def test_a_ws_upgrade_that_is_not_its_connections_first_request_is_upgraded_all_the_same() -> None:
    """A proxy that pools its connections to the node (nginx with ``keepalive``) sends an
    upgrade on a connection that served a REST request: the application hands it over."""
    async with serving() as served:
        raw = await Raw.open(served.port, rest_request("GET", "/rest"))
        assert (await raw.response()).status == 200
        raw.send(ws_request())
        answer = await raw.response()
        assert answer.status == 101
        assert answer.header("Sec-WebSocket-Accept") == accept_value(KEY)
        assert len(served.box.upgrades) == 1
        raw.close()
        # an upgrade over HTTP/1.0, first request or not, is refused by the application, counted as
        # every refusal is, before admission (which would refuse these with a 401) and never opened
        served.box.refuse_admit = Refusal(401, "UNAUTHORIZED", "admission ran")
        answer = await served_by_tornado(served.port, ws_request(version="HTTP/1.0"))
        assert (answer.status, answer.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
        raw = await Raw.open(served.port, rest_request("GET", "/rest"))
        assert (await raw.response()).status == 200
        raw.send(ws_request(version="HTTP/1.0"))  # on a connection that served a REST request
        answer = await raw.response()
        assert (answer.status, answer.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
        raw.close()
        assert [refusal.message for refusal in served.box.refused] == ["a WebSocket upgrade needs HTTP/1.1"] * 2
        assert served.box.opened == 1


# 3. the header timeout ---------------------------------------------------------------------


async def test_a_head_not_finished_within_the_header_timeout_is_closed_and_one_finished_in_time_is_not() -> None:
    async with serving(idle_connection_timeout=0.5) as served:
        started = time.monotonic()
        slow = await Raw.open(served.port, ws_request()[:40])
        timely = await Raw.open(served.port, ws_request()[:40])
        await asyncio.sleep(0.1)
        timely.send(ws_request()[40:])
        assert (await timely.response()).status == 101

        assert await slow.rest() == b""  # closed, unanswered
        assert time.monotonic() - started >= 0.5
        await asyncio.sleep(0.3)  # well past the timeout: the upgraded connection lives on
        timely.send(client_frame(b"still here"))
        assert await timely.frame() == (0x81, b"still here")
        slow.close()
        timely.close()
        assert len(served.box.upgrades) == 1


async def test_many_slow_heads_are_all_closed_each_after_its_own_timeout() -> None:
    spacing, timeout = 0.08, 0.3

    async def slow_client(i: int) -> float:
        await asyncio.sleep(i * spacing)
        started = time.monotonic()  # before the server's clock for it starts
        raw = await Raw.open(served.port, b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        assert await raw.rest() == b""
        raw.close()
        return time.monotonic() - started

    async with serving(idle_connection_timeout=timeout) as served:
        lived = await asyncio.gather(*(slow_client(i) for i in range(6)))
    assert all(timeout <= t <= timeout + 1.0 for t in lived), lived


# 4. the head's size bound --------------------------------------------------------------------


async def test_a_head_over_max_header_size_is_closed_without_being_served() -> None:
    async with serving(max_header_size=1024) as served:
        padding = "X-Padding: " + "p" * 1100
        for request in (ws_request(padding), rest_request("GET", "/rest", padding)):
            raw = await Raw.open(served.port, request)
            assert await raw.rest() == b""
            raw.close()
        # unfinished, and already over the bound
        raw = await Raw.open(served.port, b"GET /ws HTTP/1.1\r\n" + b"X-Padding: " + b"p" * 1100)
        assert await raw.rest() == b""
        raw.close()
        assert served.box.upgrades == []
        # just under the bound: served
        under = ws_request("X-Padding: " + "p" * (1000 - len(ws_request())))
        assert len(under) <= 1024
        raw = await Raw.open(served.port, under)
        assert (await raw.response()).status == 101
        raw.close()


# 5. header lines Tornado refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(ws_request("NoColonHere"), id="no-colon"),
        pytest.param(ws_request("X-Nul: a\x00b"), id="nul"),
        pytest.param(ws_request("Bad Name: x"), id="space-in-name"),
        pytest.param(ws_request().replace(b"\r\n", b"\r\n X-Leading: space\r\n", 1), id="continuation-of-nothing"),
        pytest.param(ws_request("X-Cr: a\rb"), id="bare-cr"),
        pytest.param(ws_request(omit=("Host",)), id="no-host"),
        pytest.param(
            ws_request("X-Folded: a", "  b"),
            id="folded-line",
        ),
        pytest.param(
            ws_request("X(y): 1"),
            id="non-token-name",
        ),
        pytest.param(
            ws_request("X-Ctl: a\x01b"),
            id="control-character-in-value",
        ),
        pytest.param(
            ws_request("Host: other.example"),
            id="two-host-headers",
        ),
        pytest.param(
            ws_request("Host: a b", omit=("Host",)),
            id="invalid-host",
        ),
        pytest.param(
            ws_request(path="/ws?a b"),
            id="space-in-target",
        ),
    ],
)
async def test_malformed_head_lines_on_a_ws_get_are_answered_by_tornado_not_the_endpoint(request_bytes: bytes) -> None:
    async with tornados_own() as plain_port:  # Tornado's own WebSocket path refuses it
        assert (await served_by_tornado(plain_port, request_bytes)).status == 400
    async with serving() as served:
        answer = await served_by_tornado(served.port, request_bytes)
        assert answer.status == 400
        assert answer.header("Content-Type") is None  # Tornado's bare 400, not a JSON refusal
        assert served.box.upgrades == []


@pytest.mark.parametrize(
    ("blank", "status"),
    [
        pytest.param(b"\r\n", 101, id="crlf"),
        pytest.param(b"\n", 101, id="lf"),
        pytest.param(b"\r\r\n", 101, id="cr-crlf"),
        pytest.param(b"\r\n\r\n", 400, id="a-head-of-blank-lines"),  # the blank lines are the head
    ],
)
async def test_blank_lines_before_the_request_line_are_skipped_by_the_fast_path_as_tornado_skips_them(
    blank: bytes, status: int
) -> None:
    """RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    Tornado's ``HTTP1Connection`` does; the upgrade is the endpoint's, not handed to the
    application (which answers a ``GET /ws`` 404 here)."""
    request = blank + ws_request()
    async with tornados_own() as plain_port:
        assert (await served_by_tornado(plain_port, request)).status == status
    async with serving(later=False) as served:
        answer = await served_by_tornado(served.port, request)
        assert answer.status == status
        if status == 101:
            assert answer.header("Sec-WebSocket-Accept") == accept_value(KEY)
            assert len(served.box.upgrades) == 1
        else:
            assert answer.header("Content-Type") is None  # Tornado's bare 400
            assert served.box.upgrades == []


# 6. Upgrade.argument ---------------------------------------------------------------------------


async def test_upgrade_argument_reads_the_query_as_tornados_get_query_argument() -> None:
    query = "a=1&a=2&word=%C3%A9t%C3%A9&ctl=%01x%1Fy%0B&spaced=+%20in+between%20+&plus=a+b&blank=&only"
    async with serving() as served:
        tornado_says = (await served_by_tornado(served.port, rest_request("GET", f"/rest?{query}"))).json()
        raw = await Raw.open(served.port, ws_request(path=f"/ws?{query}&latin=%FF%E9&half=%C3"))
        assert (await raw.response()).status == 101
        raw.close()
    [upgrade] = served.box.upgrades
    expected = {"a": "2", "word": "été", "ctl": "x y", "spaced": "in between", "plus": "a b", "blank": "", "only": ""}
    assert tornado_says["arguments"] == expected
    assert {name: upgrade.argument(name) for name in expected} == expected
    # not UTF-8: absent (Tornado's get_query_argument answers 400 instead)
    assert upgrade.argument("latin") is None
    assert upgrade.argument("half", "default") == "default"
    assert upgrade.argument("missing") is None
    assert upgrade.argument("missing", "default") == "default"
    assert upgrade.path == "/ws"


# 7. client_of ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param((), id="none"),
        pytest.param(("X-Forwarded-For: 203.0.113.7",), id="xff"),
        pytest.param(("X-Forwarded-For: 203.0.113.7, 10.0.0.1",), id="xff-trusted-last"),
        pytest.param(("X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.0.0.1, 10.0.0.2",), id="xff-two-trusted"),
        pytest.param(("X-Forwarded-For: 198.51.100.1, 203.0.113.7",), id="xff-untrusted-last"),
        pytest.param(("X-Forwarded-For: 10.0.0.1, 10.0.0.2",), id="xff-all-trusted"),
        pytest.param(("X-Forwarded-For: 198.51.100.1", "X-Forwarded-For: 203.0.113.7, 10.0.0.1"), id="xff-twice"),
        pytest.param(("X-Forwarded-For: not-an-address",), id="xff-garbage"),
        pytest.param(("X-Forwarded-For: 2001:db8::1",), id="xff-ipv6"),
        pytest.param(("X-Real-Ip: 203.0.113.9", "X-Forwarded-For: 198.51.100.1"), id="real-ip-wins"),
        pytest.param(("X-Real-Ip: nonsense", "X-Forwarded-For: 198.51.100.1"), id="real-ip-garbage"),
        pytest.param(("X-Forwarded-Proto: https",), id="proto"),
        pytest.param(("X-Forwarded-Proto: http, https",), id="proto-last"),
        pytest.param(("X-Forwarded-Proto: ftp",), id="proto-unknown"),
        pytest.param(("X-Scheme: http", "X-Forwarded-Proto: https"), id="x-scheme-wins"),
        pytest.param(("X-Scheme: https",), id="x-scheme"),
        pytest.param(
            ("X-Forwarded-For: 203.0.113.7", "X-Real-Ip:"),
            id="empty-real-ip",
        ),
        pytest.param(
            ("X-Scheme:", "X-Forwarded-Proto: https"),
            id="empty-x-scheme",
        ),
    ],
)
async def test_client_of_with_xheaders_gives_what_tornados_httpserver_gives(lines: tuple[str, ...]) -> None:
    async with serving(xheaders=True, trusted_downstream=["10.0.0.1", "10.0.0.2"]) as served:
        await check_client_as_tornado_sees_it(served, lines)


@pytest.mark.parametrize("options", [{}, {"protocol": "https"}], ids=["plain", "protocol-https"])
async def test_client_of_without_xheaders_is_the_peer_and_ignores_forwarding_headers(options: dict[str, Any]) -> None:
    lines = ("X-Forwarded-For: 203.0.113.7", "X-Real-Ip: 203.0.113.9", "X-Forwarded-Proto: https", "X-Scheme: https")
    async with serving(**options) as served:
        upgrade = await check_client_as_tornado_sees_it(served, lines)
    assert (upgrade.remote_ip, upgrade.protocol) == ("127.0.0.1", options.get("protocol", "http"))


async def check_client_as_tornado_sees_it(served: Served, lines: tuple[str, ...]) -> Upgrade:
    tornado_says = (await served_by_tornado(served.port, rest_request("GET", "/rest", *lines))).json()
    raw = await Raw.open(served.port, ws_request(*lines))
    assert (await raw.response()).status == 101
    raw.close()
    [upgrade] = served.box.upgrades
    assert (upgrade.remote_ip, upgrade.protocol) == (tornado_says["remote_ip"], tornado_says["protocol"])
    return upgrade


# 8. header_problem -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "message", "extra"),
    [
        pytest.param(
            ws_request("Upgrade: h2c", omit=("Upgrade",)), 400, 'can "Upgrade" only to "websocket"', None, id="upgrade"
        ),
        pytest.param(ws_request(omit=("Upgrade",)), 400, 'can "Upgrade" only to "websocket"', None, id="no-upgrade"),
        pytest.param(
            ws_request("Connection: keep-alive", omit=("Connection",)),
            400,
            '"Connection" must be "Upgrade"',
            None,
            id="connection",
        ),
        pytest.param(
            ws_request("Sec-WebSocket-Version: 8", omit=("Sec-WebSocket-Version",)),
            426,
            "WebSocket version 13 only",
            ("Sec-WebSocket-Version", "13"),
            id="version",
        ),
        pytest.param(
            ws_request(omit=("Sec-WebSocket-Key",)), 400, "missing or invalid WebSocket headers", None, id="no-key"
        ),
        pytest.param(
            ws_request(omit=("Sec-WebSocket-Version",)),
            426,  # RFC 6455 §4.4 (Tornado answered 400)
            "WebSocket version 13 only",
            ("Sec-WebSocket-Version", "13"),
            id="no-version",
        ),
        pytest.param(
            ws_request("Content-Length: 5") + b"hello", 400, "a WebSocket upgrade has no body", None, id="body"
        ),
        pytest.param(
            ws_request("Transfer-Encoding: chunked") + b"5\r\nhello\r\n0\r\n\r\n",
            400,
            "a WebSocket upgrade has no body",
            None,
            id="chunked-body",
        ),
        pytest.param(
            ws_request("Transfer-Encoding: identity"),
            400,
            "a WebSocket upgrade has no body",
            None,
            id="any-transfer-encoding",
        ),
    ],
)
async def test_header_problems_are_refused_with_json_and_the_connection_closed(
    request_bytes: bytes, status: int, message: str, extra: tuple[str, str] | None
) -> None:
    async with serving() as served:
        raw = await Raw.open(served.port, request_bytes)
        answer = await raw.response()
        assert await raw.rest() == b""  # closed after the refusal
        raw.close()
        assert served.box.opened == 0
    assert answer.status == status
    assert answer.json() == error_body("VALIDATION_ERROR", message)
    assert answer.header("Content-Type") == "application/json"
    assert answer.header("Content-Length") == str(len(answer.body))
    assert answer.header("Connection") == "close"
    assert answer.header("Server") == f"TornadoServer/{tornado.version}"
    if extra is not None:
        assert answer.header(extra[0]) == extra[1]
    assert len(served.box.upgrades) == 1  # the endpoint's refusal, not Tornado's
    assert served.box.refused == [Refusal(status, "VALIDATION_ERROR", message)]  # told once


async def test_an_upgrade_with_a_body_is_refused_on_a_kept_alive_connection_too_and_a_zero_length_is_not() -> None:
    """Its body would be read as WebSocket frames: here a masked text frame, that the echoing
    endpoint would answer."""
    body = client_frame(b"a frame in the body")
    with_body = ws_request(f"Content-Length: {len(body)}") + body
    async with serving() as served:
        raw = await Raw.open(served.port, rest_request("GET", "/rest"))
        assert (await raw.response()).status == 200
        raw.send(with_body)  # not the connection's first request: through LaterUpgradeHandler
        answer = await raw.response()
        assert (answer.status, answer.json()) == (
            400,
            error_body("VALIDATION_ERROR", "a WebSocket upgrade has no body"),
        )
        assert await raw.rest() == b""
        raw.close()

        raw = await Raw.open(served.port, ws_request("Content-Length: 0"))
        assert (await raw.response()).status == 101
        raw.send(client_frame(b"still a socket"))
        assert await raw.frame() == (0x81, b"still a socket")
        raw.close()
        assert served.box.opened == 1


async def test_refused_is_told_once_of_admits_refusal_and_not_at_all_of_an_upgrade() -> None:
    limited = Refusal(429, "RATE_LIMITED", "too many", retry_after_seconds=2)
    async with serving() as served:
        served.box.refuse_admit = limited
        answer = await served_by_tornado(served.port, ws_request(omit=("Sec-WebSocket-Version",)))
        assert (answer.status, answer.header("Retry-After")) == (429, "2")  # admission's, before the headers'
        assert served.box.refused == [limited]
        served.box.refuse_admit = None
        raw = await Raw.open(served.port, ws_request())
        assert (await raw.response()).status == 101
        raw.close()
        assert served.box.refused == [limited]


async def test_an_admit_that_raises_is_answered_503_json_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with serving() as served:
        served.box.fail_admit = True
        raw = await Raw.open(served.port, ws_request())
        with caplog.at_level(logging.ERROR, logger="tornado.application"):
            answer = await raw.response()
            assert await raw.rest() == b""
        raw.close()
    assert answer.status == 503
    assert answer.json() == error_body("UNAVAILABLE", "the handshake could not be completed, retry")
    assert any("Uncaught exception on a WebSocket" in r.getMessage() for r in caplog.records)
    assert served.box.opened == 0
    assert served.box.refused == [Refusal(503, "UNAVAILABLE", "the handshake could not be completed, retry")]


# 9. the accept value, and a real client ------------------------------------------------------------


def test_accept_value_is_rfc_6455s_example() -> None:
    assert accept_value(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert accept_value(KEY) == tornado.websocket.WebSocketProtocol13.compute_accept_value(KEY)


@pytest.mark.parametrize("mode", ["shared", "per-connection", "off"])
async def test_a_websockets_client_connects_sends_and_receives(mode: str) -> None:
    large = "".join(f"member {i}, " for i in range(500))
    async with serving(Deflate(mode)) as served, connect(f"ws://127.0.0.1:{served.port}/ws?token=t") as client:
        assert client.response is not None
        agreed = client.response.headers.get("Sec-WebSocket-Extensions")
        assert (agreed is not None) is (mode != "off")
        for message in ("hello", large, b"\x00\x01binary", large):
            await client.send(message)
            assert await asyncio.wait_for(client.recv(), WAIT) == message
        assert served.box.opened == 1
        assert served.box.upgrades[0].argument("token") == "t"


# 10. the 101 as Tornado's WebSocketHandler writes it ---------------------------------------------------


def _as_tornado_compares(
    response: Response, skip: tuple[str, ...] = ("date",), leave_out: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    return sorted(
        (k.lower(), "" if k.lower() in skip else v) for k, v in response.headers if k.lower() not in leave_out
    )


@pytest.mark.parametrize(
    "offer",
    [None, CHROMIUM_OFFER, FIREFOX_OFFER, "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"],
    ids=["no-offer", "chromium", "firefox", "window-bits"],
)
async def test_the_101_has_the_headers_tornados_websockethandler_answers(offer: str | None) -> None:
    extra = () if offer is None else (f"Sec-WebSocket-Extensions: {offer}",)
    request = ws_request(*extra)
    async with tornados_own() as plain_port:
        tornado_101 = await served_by_tornado(plain_port, request)
    async with serving(Deflate("per-connection")) as served:
        ours = await served_by_tornado(served.port, request)
    async with serving(Deflate("shared")) as served:
        shared = await served_by_tornado(served.port, request)
    assert tornado_101.status == ours.status == shared.status == 101
    assert (tornado_101.header("Sec-WebSocket-Extensions") is None) is (offer is None)
    # names (case aside: Tornado writes "Sec-Websocket-Accept") and values, the date aside
    assert _as_tornado_compares(ours) == _as_tornado_compares(tornado_101)
    # shared deflate answers the offer its own way (test_deflate_answer_agrees_as_its_mode_says);
    # every other header is Tornado's
    extension = ("sec-websocket-extensions",)
    assert _as_tornado_compares(shared, leave_out=extension) == _as_tornado_compares(tornado_101, leave_out=extension)
    for response in (ours, shared):
        assert response.header("Date") is not None
        assert abs(_date(response) - _date(tornado_101)) <= 2


@pytest.mark.parametrize(
    ("line", "replaces"),
    [("Sec-WebSocket-Key: " + KEY + "\xa0", "Sec-WebSocket-Key"), ("Upgrade: websocket\xa0", "Upgrade")],
    ids=["key", "upgrade"],
)
async def test_header_values_are_stripped_of_spaces_and_tabs_only_as_tornado_strips_them(
    line: str, replaces: str
) -> None:
    request = ws_request(line, omit=(replaces,))
    async with tornados_own() as plain_port:
        tornado_says = await served_by_tornado(plain_port, request)
    async with serving() as served:
        ours = await served_by_tornado(served.port, request)
    assert (ours.status, ours.header("Sec-WebSocket-Accept")) == (
        tornado_says.status,
        tornado_says.header("Sec-WebSocket-Accept"),
    )


def _date(response: Response) -> float:
    date = response.header("Date")
    assert date is not None
    return email.utils.parsedate_to_datetime(date).timestamp()


# 11. deflate_answer -------------------------------------------------------------------------------------

BOTH_NO_TAKEOVER: dict[str, str | None] = {"server_no_context_takeover": None, "client_no_context_takeover": None}


@pytest.mark.parametrize(
    ("offers", "deflate", "agreed"),
    [
        pytest.param(CHROMIUM_OFFER, Deflate("shared"), BOTH_NO_TAKEOVER, id="chromium-shared"),
        pytest.param(CHROMIUM_OFFER, Deflate("per-connection"), {}, id="chromium-per-connection"),
        pytest.param(CHROMIUM_OFFER, Deflate("off"), None, id="chromium-off"),
        pytest.param(FIREFOX_OFFER, Deflate("shared"), BOTH_NO_TAKEOVER, id="firefox-shared"),
        pytest.param(FIREFOX_OFFER, Deflate("per-connection"), {}, id="firefox-per-connection"),
        pytest.param(FIREFOX_OFFER, Deflate("off"), None, id="firefox-off"),
        pytest.param(
            "permessage-deflate; client_max_window_bits=10",
            Deflate("per-connection"),
            {"client_max_window_bits": "10"},
            id="client-window-echoed",
        ),
        pytest.param(
            'permessage-deflate; client_max_window_bits="12"',
            Deflate("shared"),
            {"client_max_window_bits": "12", **BOTH_NO_TAKEOVER},
            id="quoted-window",
        ),
        pytest.param("permessage-deflate; client_max_window_bits=8", Deflate("shared"), None, id="client-window-8"),
        pytest.param("permessage-deflate; foo=1", Deflate("shared"), None, id="unknown-parameter-shared"),
        pytest.param("permessage-deflate; foo", Deflate("per-connection"), None, id="unknown-parameter-per-connection"),
        pytest.param(
            "permessage-deflate; server_max_window_bits=10", Deflate("shared"), None, id="server-window-under-shared"
        ),
        pytest.param(
            "permessage-deflate; server_max_window_bits=10",
            Deflate("per-connection"),
            {"server_max_window_bits": "10"},
            id="server-window-per-connection",
        ),
        pytest.param(
            "permessage-deflate; server_max_window_bits=12",
            Deflate("shared", window_bits=12),
            {"server_max_window_bits": "12", **BOTH_NO_TAKEOVER},
            id="server-window-at-shared",
        ),
        pytest.param(
            "permessage-deflate; server_max_window_bits=16", Deflate("per-connection"), None, id="server-window-16"
        ),
        pytest.param(
            "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits",
            Deflate("shared"),
            BOTH_NO_TAKEOVER,
            id="after-another-extension",
        ),
        pytest.param(
            "permessage-deflate; foo=1, permessage-deflate", Deflate("per-connection"), None, id="first-offer-declined"
        ),
        pytest.param(
            "permessage-deflate; server_max_window_bits=10, permessage-deflate",
            Deflate("shared"),
            None,
            id="first-offer-under-shared-window",
        ),
        pytest.param(
            "permessage-deflate; client_max_window_bits=9, permessage-deflate; client_max_window_bits=15",
            Deflate("per-connection"),
            {"client_max_window_bits": "9"},
            id="first-offer-agreed",
        ),
        pytest.param("x-webkit-deflate-frame", Deflate("shared"), None, id="no-permessage-deflate"),
        pytest.param("", Deflate("shared"), None, id="no-offer"),
    ],
)
def test_deflate_answer_agrees_as_its_mode_says(
    offers: str, deflate: Deflate, agreed: dict[str, str | None] | None
) -> None:
    assert deflate_answer(offers, deflate) == agreed


# 12. open and on_close ------------------------------------------------------------------------------------


async def test_on_close_runs_once_when_the_client_closes_cleanly() -> None:
    async with serving() as served:
        async with connect(f"ws://127.0.0.1:{served.port}/ws") as client:
            await client.send("hi")
            assert await client.recv() == "hi"
        await asyncio.wait_for(served.box.closes.wait(), WAIT)
        await asyncio.sleep(0.1)  # a second call would come now
        assert served.box.closed == 1
        assert served.box.sockets[0].close_code == 1000


async def test_on_close_runs_once_when_the_client_drops_the_connection() -> None:
    async with serving() as served:
        raw = await Raw.open(served.port, ws_request())
        assert (await raw.response()).status == 101
        raw.send(client_frame(b"hi"))
        assert await raw.frame() == (0x81, b"hi")
        raw.drop()
        await asyncio.wait_for(served.box.closes.wait(), WAIT)
        await asyncio.sleep(0.1)
        assert served.box.closed == 1
        assert served.box.sockets[0].close_code is None


async def test_an_exception_in_open_aborts_the_connection_and_the_server_serves_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving() as served:
        served.box.fail_open = True
        with caplog.at_level(logging.ERROR, logger="tornado.application"):
            raw = await Raw.open(served.port, ws_request())
            assert (await raw.response()).status == 101
            assert await raw.rest() == b""  # aborted: no close frame, just the end of the connection
            raw.close()
        assert any("Uncaught exception on a WebSocket" in r.getMessage() for r in caplog.records)
        served.box.fail_open = False
        async with connect(f"ws://127.0.0.1:{served.port}/ws") as client:
            await client.send("next")
            assert await client.recv() == "next"
        assert served.box.opened == 2
