"""Chat history per trip, in stream order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventlog.records import RecordView
from projections.digests import Running, chat_summary, item_bytes
from projections.trips import CHAT_MESSAGE, StreamGap


def chat_message_view(record: RecordView) -> dict[str, Any] | None:
    """The message as clients see it (REST history and the live broadcast)."""
    event = record.stream_event
    if event is None or event["type"] != CHAT_MESSAGE:
        return None
    return _message_view(event["data"], record.stream, record.version, record.at)


def _message_view(data: dict[str, Any], trip_id: str | None, seq: int | None, at: str) -> dict[str, Any]:
    view: dict[str, Any] = {"messageId": data["messageId"], "tripId": trip_id, "userId": data["userId"]}
    name = data.get("name")
    if name is not None:
        view["name"] = name
    view["message"] = data["message"]
    view["type"] = data["type"]
    view["timestamp"] = at
    view["seq"] = seq
    return view


@dataclass
class _TripChat:
    version: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)  # messageId -> position in messages
    running: Running | None = None  # compact histories: a count and a digest instead of messages


class ChatHistories:
    """``compact=True`` keeps a count and a digest per trip instead of the messages
    (for rebuilds that are only compared, see ``projections/digests.py``)."""

    def __init__(self, *, compact: bool = False) -> None:
        self._trips: dict[str, _TripChat] = {}
        self.compact = compact

    def version(self, trip_id: str) -> int:
        chat = self._trips.get(trip_id)
        return chat.version if chat else 0

    def apply(self, record: RecordView) -> bool:
        stream, version = record.stream, record.version
        if stream is None or version is None:
            return False
        chat = self._trips.get(stream)
        if chat is None:
            chat = self._trips[stream] = _TripChat(running=Running() if self.compact else None)
        if version <= chat.version:
            return False
        if version != chat.version + 1:
            raise StreamGap(f"{stream}: have {chat.version}, got {version}")
        chat.version = version
        events = record.events  # a stream record's first event is its stream event
        if events and events[0]["type"] == CHAT_MESSAGE:
            message = _message_view(events[0]["data"], stream, version, record.at)
            if chat.running is not None:
                chat.running.add(item_bytes(message))
            else:
                chat.index[message["messageId"]] = len(chat.messages)
                chat.messages.append(message)
        return True

    def page(self, trip_id: str, limit: int, before: str | None) -> list[dict[str, Any]] | None:
        """Up to ``limit`` messages, newest last, older than ``before``; None if ``before`` is unknown."""
        chat = self._trips.get(trip_id, _TripChat())
        end = len(chat.messages)
        if before is not None:
            found = chat.index.get(before)
            if found is None:
                return None
            end = found
        return chat.messages[max(0, end - limit) : end]

    def forget(self, trip_id: str) -> None:
        self._trips.pop(trip_id, None)

    def snapshot(self) -> dict[str, Any]:
        """trip id -> its messages (compact: ``{"messages": count, "digest"}``), trips with messages only."""
        out: dict[str, Any] = {}
        for trip_id, chat in sorted(self._trips.items()):
            if chat.running is not None:
                if chat.running.count:
                    out[trip_id] = chat_summary(chat.running)
            elif chat.messages:
                out[trip_id] = chat.messages
        return out
