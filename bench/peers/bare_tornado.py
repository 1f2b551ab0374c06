"""The floor for the connection cases: a bare Tornado WebSocket server on the same
Tornado as TravelSense, doing nothing a connection does not need.

``GET /ws``: the upgrade, then one ``connected`` frame (what the load generator
waits for); frames from the client are ignored.  No token check, no log, no
session, no rooms: what is left of a connection's cost is Tornado's HTTP and
WebSocket handshake and the kernel's work, which TravelSense pays too.  Its row
beside ours in ``idle_*`` says how much of our cost per connection is ours.

Run: ``python bench/peers/bare_tornado.py --port 9000``.  Bench-only: product
code never imports it.
"""

from __future__ import annotations

import argparse
import asyncio

import tornado.netutil
import tornado.web
import tornado.websocket
from tornado.httpserver import HTTPServer

CONNECTED = b'{"event":"connected","data":{}}'


class Socket(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin: str) -> bool:
        return True

    def open(self, *args: str, **kwargs: str) -> None:
        self.write_message(CONNECTED)

    def on_message(self, message: str | bytes) -> None:
        pass


class Health(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write({"status": "ok"})


async def serve(port: int) -> None:
    app = tornado.web.Application([(r"/ws", Socket), (r"/healthz", Health)])
    server = HTTPServer(app)
    # app.py's default --listen-backlog (config.Limits; this script runs alone, without the project on its path)
    server.add_sockets(tornado.netutil.bind_sockets(port, "127.0.0.1", backlog=4096))
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
