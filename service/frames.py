"""Server-to-client frames, encoded once and written as they are."""

from __future__ import annotations

from typing import Any

import orjson

from domain.errors import CommandRefused
from eventlog.records import LogRecord
from eventlog.sealing import Opener
from projections.chat import chat_message_view


def encode(event: str, data: dict[str, Any], ref: str | None = None) -> bytes:
    frame: dict[str, Any] = {"event": event, "data": data}
    if ref is not None:
        frame["ref"] = ref
    return orjson.dumps(frame)


class FrameEncoder:
    """``encode`` with the frame's sealed values opened (or masked): where frames are
    encoded is where personal data leaves the log's form (once per frame, not per member)."""

    def __init__(self, opener: Opener | None) -> None:
        self._opener = opener

    def encode(self, event: str, data: dict[str, Any], ref: str | None = None) -> bytes:
        if self._opener is None:
            return encode(event, data, ref)
        frame: dict[str, Any] = {"event": event, "data": data}
        if ref is not None:
            frame["ref"] = ref
        return self._opener.dumps(frame)


def error_frame(refusal: CommandRefused, client_event: str | None, ref: str | None) -> bytes:
    data: dict[str, Any] = {"code": refusal.code.value, "message": refusal.message, "event": client_event}
    if refusal.details is not None:
        data["details"] = refusal.details
    return encode("error", data, ref)


def stream_broadcast(record: LogRecord) -> tuple[str, dict[str, Any]] | None:
    """The frame every room member gets for a trip-stream record (None: not broadcast)."""
    event = record.stream_event
    if event is None:
        return None
    if event["type"] == "chat_message":
        view = chat_message_view(record)
        return ("chat_message", view) if view is not None else None
    if event["type"] == "trip_updated":
        return (
            "trip_updated",
            {
                "tripId": record.stream,
                "updateType": event["data"]["updateType"],
                "data": event["data"]["data"],
                "version": record.version,
                "seq": record.version,
                "userId": record.user_id,
                "timestamp": record.at,
            },
        )
    return None
