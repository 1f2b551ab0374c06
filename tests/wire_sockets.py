"""What the accept path's tests share (``handlers.upgrade``): Tornado's own WebSocket
server, to compare answers with, and a ``WireSocket`` that keeps what it sees in a box."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web
import tornado.websocket

from handlers.frame_writer import FrameWriter
from handlers.upgrade import Upgrade, WireSocket


class TornadosOwn(tornado.websocket.WebSocketHandler):
    """Tornado's own accept path (``WebSocketHandler``): what was answered before ``handlers.upgrade``."""

    def initialize(self, compress: bool) -> None:
        self.compress = compress

    def get_compression_options(self) -> dict[str, Any] | None:
        return {} if self.compress else None


@contextlib.asynccontextmanager
async def tornados_own(compress: bool = True) -> AsyncIterator[int]:
    """A plain Tornado server with ``TornadosOwn`` at ``/ws`` on a loopback port (yielded);
    stopped, its connections closed, on leaving."""
    app = tornado.web.Application([(r"/ws", TornadosOwn, {"compress": compress})])
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets([sock])
    try:
        yield sock.getsockname()[1]
    finally:
        server.stop()
        await server.close_all_connections()


class BoxSocket(WireSocket):
    """A ``WireSocket`` with a ``box`` (a dict) for a test's subclass to keep what it sees in;
    Tornado's default ``max_message_size``."""

    def __init__(
        self, upgrade: Upgrade, stream: tornado.iostream.IOStream, writer: FrameWriter, box: dict[str, Any]
    ) -> None:
        super().__init__(upgrade, stream, writer, 10 << 20)
        self.box = box
