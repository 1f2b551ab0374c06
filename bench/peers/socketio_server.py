"""The python-socketio peer for the benchmark: same room semantics and message shape.

What it does, kept close to TravelSense's WebSocket protocol so the two are
compared on the same work:

* connect: ``/socket.io/?EIO=4&transport=websocket&token=JWT``; the JWT is
  verified (HS256, PyJWT, as TravelSense does) in the ``connect`` handler;
* ``join_trip_room`` {tripId}: enters the Socket.IO room, answers
  ``trip_room_joined``;
* ``chat_message`` {tripId, message, ref?}: builds the same view TravelSense
  broadcasts (messageId, tripId, userId, message, type, timestamp, seq) and emits
  it to the room, sender included.  Nothing is persisted (the peer has no log).

Its fastest mode: WebSocket transport only (no long-polling), orjson as its JSON
module, and the async server of ``--mode`` (``aiohttp`` default, or ``uvicorn``
ASGI with uvloop and the ``websockets`` protocol implementation).

Run: ``python bench/peers/socketio_server.py --port 9000 [--mode aiohttp|uvicorn]``
(JWT_SECRET from the environment).  Bench-only: product code never imports it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import secrets
from typing import Any
from urllib.parse import parse_qs

import jwt
import orjson
import socketio


class OrJson:
    """The ``json`` module python-socketio/engineio call: orjson behind it."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return orjson.loads(text)


def build(mode: str) -> tuple[socketio.AsyncServer, Any]:
    sio = socketio.AsyncServer(
        async_mode="aiohttp" if mode == "aiohttp" else "asgi",
        json=OrJson,
        transports=["websocket"],
        cors_allowed_origins="*",
        logger=False,
        engineio_logger=False,
    )
    secret = os.environ["JWT_SECRET"]
    seq: dict[str, itertools.count[int]] = {}
    node = secrets.token_hex(4)
    ids = itertools.count(1)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        raw = (query.get("token") or [None])[0]
        if raw is None:
            return False
        try:
            claims = jwt.decode(raw, secret, algorithms=["HS256"])
        except Exception:
            return False
        await sio.save_session(sid, {"userId": claims["sub"], "name": claims.get("name")})
        return True

    @sio.on("join_trip_room")
    async def join(sid: str, data: dict[str, Any]) -> None:
        trip_id = data["tripId"]
        await sio.enter_room(sid, trip_id)
        await sio.emit("trip_room_joined", {"tripId": trip_id, "members": [], "seq": 0, "recovered": False}, to=sid)

    @sio.on("chat_message")
    async def chat(sid: str, data: dict[str, Any]) -> None:
        session = await sio.get_session(sid)
        trip_id = data["tripId"]
        counter = seq.setdefault(trip_id, itertools.count(1))
        view = {
            "messageId": f"{node}{next(ids):016x}",
            "tripId": trip_id,
            "userId": session["userId"],
            "message": data["message"],
            "type": data.get("type", "text"),
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "seq": next(counter),
        }
        await sio.emit("chat_message", view, room=trip_id)

    if mode == "aiohttp":
        from aiohttp import web

        app = web.Application()
        sio.attach(app)

        async def healthz(_: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app.router.add_get("/healthz", healthz)
        return sio, app
    asgi = socketio.ASGIApp(sio)

    async def app_with_health(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": b'{"status":"ok"}'})
            return
        await asgi(scope, receive, send)

    return sio, app_with_health


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mode", choices=("aiohttp", "uvicorn"), default="aiohttp")
    args = parser.parse_args()
    _, app = build(args.mode)
    if args.mode == "aiohttp":
        import asyncio

        import uvloop
        from aiohttp import web

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, backlog=4096)
    else:
        import uvicorn

        http = "httptools" if _has("httptools") else "h11"
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            loop="uvloop",
            http=http,
            ws="websockets",
            log_level="warning",
            access_log=False,
            backlog=4096,
        )


def _has(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    main()
