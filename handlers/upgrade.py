"""The WebSocket accept path: an upgrade to ``/ws`` is answered here, without Tornado's
HTTP/1 connection, router, ``RequestHandler`` and ``WebSocketHandler``.

A reconnect storm is mostly handshakes.  Through Tornado's path (``HTTP1Connection``
reading the request, ``HTTPServerRequest``, the router, ``RequestHandler.__init__``
with its UI namespaces and default headers, ``WebSocketHandler.get``,
``_accept_connection``, ``HTTP1Connection.write_headers``, detaching) a bare
WebSocket server spends ~320 µs of CPU per connection on this project's bench
machine; reading the request head and writing the 101 here, ~70 µs
(``bench/RESULTS.md``, "The accept path").  Frames still go through Tornado's
RFC 6455 implementation (``WebSocketProtocol13``: framing, masks, fragments,
control frames, inflating, the close handshake), on the same ``IOStream``.

How a connection is told apart: ``UpgradingServer.handle_stream`` reads the first
request's head (the same size bound and timeout as Tornado's).  ``GET <path>`` over
HTTP/1.1 is the WebSocket endpoint's; anything else is given back to Tornado's
HTTP/1 connection with the head unread, and served as before.  A WebSocket upgrade
that is not a connection's first request is Tornado's too, and its application hands
it to the endpoint (``LaterUpgradeHandler``): a proxy that pools its connections sends
those; browsers and WebSocket clients open a connection of its own for every socket.

Tornado API this relies on (6.x; ``requirements.txt`` pins it), public except where
marked; ``tests/unit/test_upgrade.py`` fails loudly if it changes:

* ``HTTPServer.handle_stream``, ``conn_params`` (``max_header_size``, ``header_timeout``),
  ``xheaders``, ``protocol`` and ``trusted_downstream``;
* ``TCPServer.handle_stream`` gets the ``IOStream`` (an ``SSLIOStream`` with TLS) and the
  peer's address; ``client_of`` works out the client as Tornado's ``_HTTPRequestContext`` does;
* ``IOStream._read_buffer`` and ``_read_buffer_size`` (private): the head given back;
* ``WebSocketProtocol13(handler, mask_outgoing, params)`` with ``_WebSocketParams``
  (private), its ``stream``, ``_create_compressors`` (private), ``_receive_frame_loop``
  (private) and the calls it makes on its handler: ``on_message``, ``on_ping``,
  ``on_pong``, ``on_ws_connection_close``, ``log_exception``;
* for ``LaterUpgradeHandler``: ``HTTP1Connection.detach()`` and ``RequestHandler._auto_finish``
  (private: nothing is written once the connection is the socket's).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import logging
import re
import socket
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, overload

import orjson
import tornado
import tornado.httpserver
import tornado.httputil
import tornado.iostream
import tornado.log
import tornado.netutil
import tornado.web
import tornado.websocket

from handlers.base import error_body
from handlers.frame_writer import Deflate, FrameWriter
from service.admission import Refusal

log = logging.getLogger("travelsense.access")

_HEAD_END = rb"\r?\n\r?\n"  # the end of a request head, as Tornado reads it
_SERVER = f"TornadoServer/{tornado.version}"
# RFC 9110's field-name and field-value as Tornado checks them (``httputil._ABNF``), and its host
_FIELD = re.compile(
    r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*"
    r"((?:[\x21-\x7e\x80-\xff](?:[\x21-\x7e\x80-\xff \t]*[\x21-\x7e\x80-\xff])?)?)[ \t]*"
)
_HOST = re.compile(r"(?:[\[\]:A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*(?::[0-9]*)?")
_REQUEST_LINE = re.compile(rb"GET ([\x21-\x7e\x80-\xff]+) HTTP/1\.1")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")  # what Tornado's get_argument turns into spaces
_DEFLATE_PARAMETERS = frozenset(
    ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits")
)


class RequestHeaders:
    """An upgrade request's headers, read by name in any case (repeated ones joined with ",",
    as Tornado joins them)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields  # by lower-cased name

    @classmethod
    def parse(cls, lines: str) -> RequestHeaders | None:
        """The header lines of a request head; None: one Tornado refuses (it answers those 400):
        a line that is not ``name: value`` by RFC 9110's rules, a folded line, no ``Host`` or an
        invalid one (two ``Host`` headers included)."""
        fields: dict[str, str] = {}
        for line in lines.split("\n"):
            line = line.removesuffix("\r")
            if not line:
                continue
            field = _FIELD.fullmatch(line)
            if field is None:
                return None
            name, value = field.group(1).lower(), field.group(2)
            fields[name] = f"{fields[name]},{value}" if name in fields else value
        host = fields.get("host")
        if host is None or "," in host or _HOST.fullmatch(host) is None:
            return None
        return cls(fields)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        return self._fields.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]


@dataclass(slots=True)
class Upgrade:
    """What a WebSocket endpoint may read of its upgrade request."""

    path: str
    query: dict[str, list[str]]  # as ``parse_qs`` gives it, percent-decoded as Latin-1 bytes
    headers: RequestHeaders
    remote_ip: str
    protocol: str  # "http" or "https", as the client sees it (a trusted proxy's word included)
    started: float = field(default_factory=time.monotonic)

    @property
    def host(self) -> str:
        return self.headers.get("Host") or ""

    def argument(self, name: str, default: str | None = None) -> str | None:
        """The last value of query argument ``name``, as Tornado's ``get_query_argument``
        gives it (control characters made spaces, stripped); one that is not UTF-8 is
        taken as absent."""
        values = self.query.get(name)
        if not values:
            return default
        try:
            text = bytes(values[-1], "latin-1").decode("utf-8")
        except UnicodeError:
            return default
        return _CONTROL_CHARS.sub(" ", text).strip()


def header_problem(headers: RequestHeaders) -> Refusal | None:
    """What is wrong with an upgrade's WebSocket headers (RFC 6455 §4.2.1), as Tornado's
    ``WebSocketHandler.get`` and ``accept_connection`` check them, except that a missing
    ``Sec-WebSocket-Version`` is answered 426 as an unsupported one is (RFC 6455 §4.4:
    Tornado answered 400), and a request with a body is refused."""
    if (headers.get("Upgrade") or "").lower() != "websocket":
        return Refusal(400, "VALIDATION_ERROR", 'can "Upgrade" only to "websocket"')
    if "upgrade" not in (part.strip().lower() for part in (headers.get("Connection") or "").split(",")):
        return Refusal(400, "VALIDATION_ERROR", '"Connection" must be "Upgrade"')
    if headers.get("Transfer-Encoding") is not None or not _no_length(headers.get("Content-Length")):
        # its body would be read as WebSocket frames
        return Refusal(400, "VALIDATION_ERROR", "a WebSocket upgrade has no body")
    if headers.get("Sec-WebSocket-Version") != "13":  # missing too: RFC 6455 §4.4
        return Refusal(426, "VALIDATION_ERROR", "WebSocket version 13 only")  # answered with the version we speak
    if not (headers.get("Host") and headers.get("Sec-WebSocket-Key")):
        return Refusal(400, "VALIDATION_ERROR", "missing or invalid WebSocket headers")
    return None


def _no_length(value: str | None) -> bool:
    """A ``Content-Length`` that announces no body: absent, or zero."""
    return value is None or (value.isascii() and value.isdigit() and int(value) == 0)


def accept_value(key: str) -> str:
    """``Sec-WebSocket-Accept`` for ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2), as Tornado computes it."""
    return tornado.websocket.WebSocketProtocol13.compute_accept_value(key)


def _window_bits_ok(value: str | None, at_least: int, at_most: int) -> bool:
    return value is None or (value.isascii() and value.isdigit() and at_least <= int(value) <= at_most)


def deflate_answer(offers: str, deflate: Deflate) -> dict[str, str | None] | None:
    """The parameters agreed for the first ``permessage-deflate`` offer of a
    ``Sec-WebSocket-Extensions`` header (the one Tornado answered); None: not negotiated.

    * ``"shared"``: both sides without context takeover (RFC 7692 lets a server add both
      to any offer), so that no message depends on an earlier one and a frame may go to
      many sockets; an offer whose server window is under the shared compressor's is declined;
    * ``"per-connection"``: the offer as it is (a context each way);
    * an offer with a parameter RFC 7692 does not define is declined (Tornado dropped the connection).
    """
    if deflate.mode == "off":
        return None
    for text in offers.split(","):
        name, _, rest = text.partition(";")
        if name.strip().lower() != "permessage-deflate":
            continue
        params: dict[str, str | None] = {}
        for part in rest.split(";"):
            if part.strip():
                key, sep, value = part.partition("=")
                params[key.strip().lower()] = value.strip().strip('"') if sep else None
        if not set(params) <= _DEFLATE_PARAMETERS or not _window_bits_ok(params.get("client_max_window_bits"), 9, 15):
            return None
        if deflate.mode == "shared":
            if not _window_bits_ok(params.get("server_max_window_bits"), deflate.window_bits, 15):
                return None
            params["server_no_context_takeover"] = None
            params["client_no_context_takeover"] = None
        elif not _window_bits_ok(params.get("server_max_window_bits"), 9, 15):
            return None
        if "client_max_window_bits" in params and params["client_max_window_bits"] is None:
            del params["client_max_window_bits"]  # an offer without a value is not echoed
        return params
    return None


def _extension_header(params: dict[str, str | None]) -> str:
    """As Tornado writes it: the parameters sorted by name."""
    parts = ["permessage-deflate"]
    parts += [key if value is None else f"{key}={value}" for key, value in sorted(params.items())]
    return "; ".join(parts)


def _reply(status: int, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status} {http.client.responses[status]}", *(f"{k}: {v}" for k, v in headers)]
    return bytes("\r\n".join(lines) + "\r\n\r\n", "latin-1") + body


def client_of(
    stream: tornado.iostream.IOStream,
    address: Any,
    headers: RequestHeaders,
    protocol: str | None,
    proxy: frozenset[str] | None,
) -> tuple[str, str]:
    """(address, scheme) of the client, as Tornado's ``HTTPServer`` works them out; ``proxy``
    (its ``xheaders``: the trusted downstream addresses) reads them from a proxy's headers."""
    sock = stream.socket
    family = sock.family if sock is not None else None
    ip = address[0] if family in (socket.AF_INET, socket.AF_INET6) and address is not None else "0.0.0.0"
    scheme = protocol or ("https" if isinstance(stream, tornado.iostream.SSLIOStream) else "http")
    if proxy is None:
        return ip, scheme
    forwarded = headers.get("X-Forwarded-For") or ip
    for candidate in reversed(forwarded.split(",")):  # the last address not of a trusted proxy
        forwarded = candidate.strip()
        if forwarded not in proxy:
            break
    forwarded = headers.get("X-Real-Ip", forwarded)
    if tornado.netutil.is_valid_ip(forwarded):
        ip = forwarded
    said = headers.get("X-Scheme", headers.get("X-Forwarded-Proto", scheme))
    said = said.split(",")[-1].strip()
    return ip, said if said in ("http", "https") else scheme


class _FrameReader(tornado.websocket.WebSocketProtocol13):
    """Tornado's RFC 6455 protocol with its frame loop in a task of its own: what Tornado's
    ``accept_connection`` does when the loop fails (abort the connection) is done here."""

    _reader: asyncio.Task[None] | None = None

    def read_frames(self) -> None:
        # a task held here: asyncio keeps only weak references to tasks
        self._reader = asyncio.get_running_loop().create_task(self._read_frames())

    async def _read_frames(self) -> None:
        try:
            await self._receive_frame_loop()
        except asyncio.CancelledError:
            self._abort()
        except ValueError:
            tornado.log.gen_log.debug("Malformed WebSocket request received", exc_info=True)
            self._abort()
        except Exception:  # e.g. a frame that does not inflate: logged as Tornado logs what escapes a handler
            tornado.log.app_log.error("Uncaught exception reading WebSocket frames", exc_info=True)
            self._abort()
        finally:
            self._reader = None


class WireSocket:
    """One connection to the WebSocket endpoint.  ``serve`` runs the handshake: ``admit``
    (a subclass's checks), the WebSocket headers, the 101 (permessage-deflate as the
    ``writer``'s ``Deflate`` says), ``open``, then frames until the connection ends and
    ``on_close`` runs, once.  A subclass writes frames through an outbox on ``ws``
    (``handlers.frame_writer.SocketOutbox``); ``close`` and ``ping`` are Tornado's."""

    def __init__(
        self, upgrade: Upgrade, stream: tornado.iostream.IOStream, writer: FrameWriter, max_message_size: int
    ) -> None:
        self.request = upgrade
        self.stream = stream
        self.writer = writer
        self.max_message_size = max_message_size
        self.ws: tornado.websocket.WebSocketProtocol13 | None = None  # once the 101 is written
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._closed = False

    # what a subclass decides --------------------------------------------------------

    async def admit(self) -> Refusal | None:
        """Checks before the upgrade; a refusal is answered as an HTTP error."""
        return None

    def open(self) -> Awaitable[None] | None:
        return None

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        return None

    def on_ping(self, data: bytes) -> None:
        pass

    def on_pong(self, data: bytes) -> None:
        pass

    def on_close(self) -> None:
        pass

    def on_refused(self, refusal: Refusal) -> None:
        """Called once for each refusal ``refuse`` answers (``admit``'s, the WebSocket
        headers', the HTTP version's, or a 503 when the handshake failed), before it is written."""

    # the handshake --------------------------------------------------------------------

    async def serve(self) -> None:
        try:
            refusal = await self.admit() or header_problem(self.request.headers)
        except Exception:
            self.log_exception()
            refusal = Refusal(503, "UNAVAILABLE", "the handshake could not be completed, retry")
        if refusal is not None:
            await self.refuse(refusal)
            return
        try:
            self._accept()
        except tornado.iostream.StreamClosedError:
            return  # gone before its 101
        except Exception:  # not ours to crash on: logged, the connection closed
            self.log_exception()
            self.stream.close()
            return
        log.info("101 GET %s %.1fms", self.request.path, 1000 * (time.monotonic() - self.request.started))
        ws = self.ws
        assert isinstance(ws, _FrameReader)
        try:
            opened = self.open()
            if opened is not None:
                await opened
        except Exception:
            self.log_exception()
            ws._abort()
            return
        ws.read_frames()

    def _accept(self) -> None:
        headers = self.request.headers
        agreed = deflate_answer(headers.get("Sec-WebSocket-Extensions") or "", self.writer.deflate)
        options: dict[str, Any] | None = {} if agreed is not None else None
        params = tornado.websocket._WebSocketParams(max_message_size=self.max_message_size, compression_options=options)
        ws = _FrameReader(self, False, params)
        ws.stream = self.stream
        answer = [
            ("Server", _SERVER),
            ("Date", self.writer.http_date(time.time())),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept_value(headers["Sec-WebSocket-Key"])),
        ]
        if agreed is not None:
            ws._create_compressors("server", agreed, options)
            answer.append(("Sec-WebSocket-Extensions", _extension_header(agreed)))
        stream = self.stream
        stream.set_nodelay(True)
        reply = _reply(101, answer)
        if not stream.writing():  # as the frame writer does: no future when the kernel takes it all
            with contextlib.suppress(OSError):  # would block, interrupted, or broken: IOStream.write copes
                reply = reply[stream.socket.send(reply) :]
        if reply:
            stream.write(reply)
        self.ws = ws

    async def refuse(self, refusal: Refusal) -> None:
        """Answer ``refusal`` instead of upgrading, as ``serve`` does when a check fails.
        Public because the application refuses an upgrade that is not over HTTP/1.1 before
        any check, and every refusal goes through ``on_refused`` (which a node counts)."""
        self.on_refused(refusal)
        await self._answer(refusal)

    async def _answer(self, refusal: Refusal) -> None:
        body = orjson.dumps(error_body(refusal.code, refusal.message, refusal.details))
        headers = [
            ("Server", _SERVER),
            ("Date", self.writer.http_date(time.time())),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
        if refusal.retry_after_seconds is not None:
            headers.append(("Retry-After", str(refusal.retry_after_seconds)))
        if refusal.status == 426:
            headers.append(("Sec-WebSocket-Version", "13"))
        level = logging.WARNING if refusal.status < 500 else logging.ERROR  # as app.log_request
        took = 1000 * (time.monotonic() - self.request.started)
        log.log(level, "%d GET %s %.1fms", refusal.status, self.request.path, took)
        with contextlib.suppress(tornado.iostream.StreamClosedError):
            await self.stream.write(_reply(refusal.status, headers, body))
        self.stream.close()

    # while open -------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """Whether no frame can be written any more (or none could yet)."""
        ws = self.ws
        return ws is None or ws.is_closing()

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if self.ws is not None:
            self.ws.close(code, reason)

    def ping(self, data: bytes = b"") -> None:
        ws = self.ws
        if ws is None or ws.is_closing():
            raise tornado.websocket.WebSocketClosedError()
        ws.write_ping(data)

    def on_ws_connection_close(self, close_code: int | None = None, close_reason: str | None = None) -> None:
        """Tornado's call once the frame loop has ended: the connection is gone."""
        self.close_code, self.close_reason = close_code, close_reason
        if self.ws is not None:
            self.ws.on_connection_close()
        if not self._closed:
            self._closed = True
            self.on_close()
        self.ws = None  # the protocol points back here: no cycle left for the collector

    def log_exception(self, *exc_info: Any) -> None:
        tornado.log.app_log.error("Uncaught exception on a WebSocket (%s)", self.request.path, exc_info=True)


Endpoint = Callable[[Upgrade, tornado.iostream.IOStream], WireSocket]


class LaterUpgradeHandler(tornado.web.RequestHandler):
    """``GET /ws`` that reached the application: an upgrade that is not its connection's first
    request (a proxy that pools its connections to the node, as nginx with ``keepalive`` does,
    sends upgrades on connections that served REST requests), or not over HTTP/1.1.  The
    connection is taken from Tornado and upgraded by the ``endpoint`` all the same, or
    refused by it when not over HTTP/1.1 (counted with the endpoint's other refusals)."""

    def initialize(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def get(self) -> None:
        request = self.request
        headers = RequestHeaders({name.lower(): value for name, value in request.headers.items()})
        query = {name: [bytes(v).decode("latin-1") for v in values] for name, values in request.query_arguments.items()}
        upgrade = Upgrade(request.path, query, headers, request.remote_ip or "", request.protocol)
        self._auto_finish = False  # the connection is the socket's now: nothing more is written here
        assert request.connection is not None
        stream = request.connection.detach()  # type: ignore[attr-defined]  # HTTP1Connection's
        wire = self.endpoint(upgrade, stream)
        if request.version != "HTTP/1.1":  # refused before admission: no ticket or seat is used
            await wire.refuse(Refusal(400, "VALIDATION_ERROR", "a WebSocket upgrade needs HTTP/1.1"))
            return
        await wire.serve()


class UpgradingServer(tornado.httpserver.HTTPServer):
    """Tornado's ``HTTPServer``, with upgrades to ``path`` answered by ``endpoint``'s sockets
    (see the module's docstring); every other request is served by the application."""

    def initialize(  # type: ignore[override]  # Tornado's Configurable passes the constructor's arguments here
        self, request_callback: Any, *, endpoint: Endpoint, path: str = "/ws", **kwargs: Any
    ) -> None:
        super().initialize(request_callback, **kwargs)
        self._endpoint = endpoint
        self._ws_path = path.encode()
        self._proxy = frozenset(self.trusted_downstream or ()) if self.xheaders else None
        self._handshakes: set[asyncio.Task[None]] = set()
        # streams whose first request head is awaited, by when it is due (the order they came
        # in: the timeout is the same for all): one timer for all of them, not one each
        self._heads_due: OrderedDict[tornado.iostream.IOStream, float] = OrderedDict()
        self._sweep: asyncio.TimerHandle | None = None

    def handle_stream(self, stream: tornado.iostream.IOStream, address: tuple[Any, ...]) -> None:
        timeout = self.conn_params.header_timeout
        if timeout is not None:
            loop = asyncio.get_running_loop()
            self._heads_due[stream] = loop.time() + timeout
            if self._sweep is None:
                self._sweep = loop.call_later(timeout, self._close_late)
        task = asyncio.ensure_future(self._first_request(stream, address))
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    def _close_late(self) -> None:
        """Closes the streams whose head did not come in time (what Tornado's HTTP/1
        connection does: closed, unanswered); their reads then fail."""
        self._sweep = None
        due, now = self._heads_due, asyncio.get_running_loop().time()
        while due:
            stream, when = next(iter(due.items()))
            if when > now:
                self._sweep = asyncio.get_running_loop().call_at(when, self._close_late)
                return
            del due[stream]
            stream.close()

    async def _first_request(self, stream: tornado.iostream.IOStream, address: tuple[Any, ...]) -> None:
        try:
            head = await stream.read_until_regex(_HEAD_END, max_bytes=self.conn_params.max_header_size)
        except tornado.iostream.StreamClosedError:
            stream.close()
            return
        finally:
            self._heads_due.pop(stream, None)
        upgrade = self._upgrade(head, stream, address)
        if upgrade is None:
            # not the endpoint's: Tornado reads the head again (IOStream internals, 6.x)
            stream._read_buffer[:0] = head
            stream._read_buffer_size += len(head)
            super().handle_stream(stream, address)
            return
        await self._endpoint(upgrade, stream).serve()

    def _upgrade(self, head: bytes, stream: tornado.iostream.IOStream, address: tuple[Any, ...]) -> Upgrade | None:
        """The upgrade request in ``head``; None: not a ``GET`` of the endpoint's path over HTTP/1.1."""
        # blank lines before the request line are ignored (RFC 9112 §2.2), as Tornado's
        # HTTP1Connection._parse_headers ignores them (a head of blank lines alone is Tornado's)
        head = head.lstrip(b"\r\n")
        line_end = head.find(b"\n")
        start = _REQUEST_LINE.fullmatch(head[:line_end].removesuffix(b"\r"))
        if start is None:
            return None
        path, _, query = start.group(1).partition(b"?")
        if path != self._ws_path:
            return None
        headers = RequestHeaders.parse(head[line_end:].decode("latin-1"))
        if headers is None:
            return None  # Tornado answers it (400)
        ip, scheme = client_of(stream, address, headers, self.protocol, self._proxy)
        arguments = urllib.parse.parse_qs(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
        return Upgrade(path.decode("latin-1"), arguments, headers, ip, scheme)
