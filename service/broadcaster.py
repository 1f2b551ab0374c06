"""What a node asks the bus to deliver.  Every node, this one included, turns
these messages into frames for its own sockets (see ``hub``)."""

from __future__ import annotations

import time
from typing import Any

from eventlog.ports import EventBus
from eventlog.records import LogRecord
from service.frames import stream_broadcast

ROOM = "room"
USER = "user"
ALL = "all"
REVOKE = "revoke"
DISCONNECT = "disconnect"


class Broadcaster:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def _send(self, message: dict[str, Any]) -> None:
        message["origin"] = self._bus.node_id
        message.setdefault("acceptedAt", time.time())  # epoch seconds: delivery latency and bus lag
        await self._bus.publish(message)

    async def stream_record(self, record: LogRecord, *, ref: str | None = None, sender: str | None = None) -> None:
        frame = stream_broadcast(record)
        if frame is None or record.stream is None:
            return
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
        await self._send(
            {
                "kind": ROOM,
                "tripId": trip_id,
                "seq": None,
                "event": event,
                "data": data,
                "ref": ref,
                "sender": sender,
                "excludeUser": exclude_user,
            }
        )

    async def to_user(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        await self._send({"kind": USER, "userId": user_id, "event": event, "data": data})

    async def to_all(self, event: str, data: dict[str, Any]) -> None:
        await self._send({"kind": ALL, "event": event, "data": data})

    async def revoke(self, trip_id: str, user_id: str) -> None:
        await self._send({"kind": REVOKE, "tripId": trip_id, "userId": user_id})

    async def disconnect(self, user_id: str, code: int, reason: str) -> None:
        await self._send({"kind": DISCONNECT, "userId": user_id, "code": code, "reason": reason})
