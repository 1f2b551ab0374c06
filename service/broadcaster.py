"""What a node delivers: to its own sockets at once (``deliver_here``, the hub), and
through the bus to every other node, which turn these messages into frames for
theirs (see ``hub``).  Local delivery never waits for Redis."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from eventlog.ports import BusMessage, Deliver, EventBus
from eventlog.records import LogRecord
from service.frames import stream_broadcast

ROOM = "room"
USER = "user"
ALL = "all"
REVOKE = "revoke"
DISCONNECT = "disconnect"
VISIBILITY = "visibility"
TAKEOVER = "takeover"


class Broadcaster:
    def __init__(
        self,
        bus: EventBus,
        deliver_here: Deliver,
        origin: str,
        seal_live: Callable[[BusMessage], Awaitable[BusMessage]] | None = None,
    ) -> None:
        """``origin``: this process's own name on the bus (its messages come back to it too);
        ``seal_live``: seals live personal data (names) before it goes through the bus."""
        self._seal_live = seal_live
        self._bus = bus
        self._deliver_here = deliver_here
        self._origin = origin

    async def _send(self, message: BusMessage) -> None:
        message["origin"] = self._origin
        message.setdefault("acceptedAt", time.time())  # epoch seconds: delivery latency and bus lag
        self._deliver_here(message)
        await self._bus.publish(message)

    async def stream_record(
        self, record: LogRecord, *, ref: str | None = None, sender: str | None = None
    ) -> tuple[str, dict[str, Any]] | None:
        """Deliver a stream record's frame to its room; returns the frame (None: not broadcast)."""
        frame = stream_broadcast(record)
        if frame is None or record.stream is None:
            return None
        event, data = frame
        await self._send(
            {
                "kind": ROOM,
                "tripId": record.stream,
                "seq": record.version,
                "event": event,
                "data": data,
                "ref": ref,
                "sender": sender,
            }
        )
        return frame

    async def room_signal(
        self,
        trip_id: str,
        event: str,
        data: dict[str, Any],
        *,
        exclude_user: str | None = None,
        ref: str | None = None,
        sender: str | None = None,
    ) -> None:
        message = {
            "kind": ROOM,
            "tripId": trip_id,
            "seq": None,
            "event": event,
            "data": data,
            "ref": ref,
            "sender": sender,
            "excludeUser": exclude_user,
        }
        # a room signal's data is live, not from the log: its names are sealed here (the rest is)
        await self._send(await self._seal_live(message) if self._seal_live is not None else message)

    async def to_user(
        self, user_id: str, event: str, data: dict[str, Any], *, ref: str | None = None, sender: str | None = None
    ) -> None:
        """To every connection of the user, on any node; the ``sender`` session's copy echoes ``ref``."""
        message: BusMessage = {"kind": USER, "userId": user_id, "event": event, "data": data}
        if ref is not None and sender is not None:
            message.update(ref=ref, sender=sender)
        await self._send(message)

    async def to_all(self, event: str, data: dict[str, Any]) -> None:
        await self._send({"kind": ALL, "event": event, "data": data})

    async def revoke(self, trip_id: str, user_id: str) -> None:
        await self._send({"kind": REVOKE, "tripId": trip_id, "userId": user_id})

    async def visibility(self, user_id: str, hidden: bool) -> None:
        """The user's presence choice, for their connections on every node."""
        await self._send({"kind": VISIBILITY, "userId": user_id, "hidden": hidden})

    async def takeover(self, session_id: str, generation: int) -> None:
        """A resume claimed the session (``eventlog.claims``): older connections of it close, on every node."""
        await self._send({"kind": TAKEOVER, "sessionId": session_id, "generation": generation})

    async def disconnect(self, user_id: str, code: int, reason: str) -> None:
        await self._send({"kind": DISCONNECT, "userId": user_id, "code": code, "reason": reason})
