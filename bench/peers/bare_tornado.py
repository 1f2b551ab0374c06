"""The floor for the connection cases and a baseline for the fan-out cases: a bare
Tornado WebSocket server on the same Tornado as TravelSense, doing nothing a connection
or a fan-out does not need.

``GET /ws``: the upgrade, then one ``connected`` frame (what the load generator
waits for).  ``POST /api/trips`` answers a trip id.  A ``join_trip_room`` frame puts
the connection in that trip's room and is answered ``trip_room_joined``; a
``chat_message`` frame is encoded and framed once, as a ``chat_message`` broadcast,
and the same bytes are sent to every connection in its room (the sender included),
straight to the socket as TravelSense's frame writer sends them (Tornado's
``write_message`` per member, which frames each copy anew, cost ~26 µs per delivery,
and ``IOStream.write`` per member ~13).  Any other frame, or one that is not a JSON
object with an object ``data``, is ignored.  No token check, no validation, no log,
no durability, no acknowledgement: what is left is Tornado's handshake and frame
writes and the kernel's work, which TravelSense pays too.  Its rows beside ours in
``idle_*`` say how much of our cost per connection is ours; in ``fanout_*`` it sends
each delivery on its own (no coalescing), so where several frames for one member can
share a ``send`` (``fanout_a``) it is no floor.

Run: ``python bench/peers/bare_tornado.py --port 9000``.  Bench-only: product
code never imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import struct
from collections import defaultdict

import tornado.netutil
import tornado.web
import tornado.websocket
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream

CONNECTED = b'{"event":"connected","data":{}}'
COMPACT = (",", ":")  # as TravelSense encodes: the load generator knows a frame by its first bytes


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented text frame (RFC 6455 section 5.2), uncompressed."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + payload


def send(stream: IOStream, data: bytes) -> None:
    """The same bytes to each member, framed once: straight to the socket when nothing is
    queued before them (as TravelSense's frame writer sends), through the stream otherwise."""
    sent = 0
    if not stream.writing():
        try:
            sent = stream.socket.send(data)
        except OSError:  # would block, or broken: the stream's write copes
            sent = 0
    if sent < len(data):
        stream.write(data[sent:])


ROOMS: defaultdict[str, set[Socket]] = defaultdict(set)
TRIP_IDS = (f"{n:024x}" for n in itertools.count(0xB00000))


class Socket(tornado.websocket.WebSocketHandler):
    rooms: set[str]

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self, *args: str, **kwargs: str) -> None:
        self.rooms = set()
        self.write_message(CONNECTED)

    def on_message(self, message: str | bytes) -> None:
        try:
            frame = json.loads(message)
        except ValueError:
            return
        data = frame.get("data") if isinstance(frame, dict) else None
        if not isinstance(data, dict):
            return
        trip_id = str(data.get("tripId"))
        if frame.get("event") == "join_trip_room":
            ROOMS[trip_id].add(self)
            self.rooms.add(trip_id)
            joined = {"tripId": trip_id, "members": [], "seq": 0, "recovered": False}
            answer = {"event": "trip_room_joined", "data": joined, "ref": frame.get("ref")}
            self.write_message(json.dumps(answer, separators=COMPACT))
        elif frame.get("event") == "chat_message":
            view = {"tripId": trip_id, "message": data.get("message"), "ref": frame.get("ref")}
            broadcast = text_frame(json.dumps({"event": "chat_message", "data": view}, separators=COMPACT).encode())
            for member in ROOMS[trip_id]:
                connection = member.ws_connection
                stream = connection.stream if connection is not None else None
                if stream is not None and not stream.closed():
                    send(stream, broadcast)

    def on_close(self) -> None:
        for trip_id in self.rooms:
            ROOMS[trip_id].discard(self)


class Trips(tornado.web.RequestHandler):
    def post(self) -> None:
        self.set_status(201)
        self.write({"tripId": next(TRIP_IDS)})


class Health(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write({"status": "ok"})


async def serve(port: int) -> None:
    app = tornado.web.Application([(r"/ws", Socket), (r"/api/trips", Trips), (r"/healthz", Health)])
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
