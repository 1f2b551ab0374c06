"""Server-to-client frames, encoded once and written as they are."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from domain.chat_notes import ChatNote, noted_view, reactions_json
from domain.errors import CommandRefused
from domain.trip_model import Trip
from eventlog.records import LogRecord
from eventlog.sealing import Opener
from projections.chat import CHAT_CHANGES, chat_change_view, chat_message_view


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
        self._lists: dict[int, tuple[list[Any], orjson.Fragment]] = {}  # id -> (list, its JSON), this iteration

    def shared_list(self, entries: list[Any]) -> orjson.Fragment:
        """``entries`` opened and encoded, to put in a frame's data as they are: once per loop
        iteration for every frame that carries that very list (a room's member list, which a
        storm of joiners all get: opened and encoded once instead of once per joiner).  Held
        for this iteration only, so a key destroyed meanwhile masks what the next ones send."""
        found = self._lists.get(id(entries))
        if found is not None and found[0] is entries:
            return found[1]
        encoded = orjson.Fragment(orjson.dumps(entries) if self._opener is None else self._opener.dumps(entries))
        if not self._lists:
            asyncio.get_running_loop().call_soon(self._lists.clear)
        self._lists[id(entries)] = (entries, encoded)  # holding the list keeps its id its own
        return encoded

    def encode(self, event: str, data: dict[str, Any], ref: str | None = None) -> bytes:
        if self._opener is None:
            return encode(event, data, ref)
        frame: dict[str, Any] = {"event": event, "data": data}
        if ref is not None:
            frame["ref"] = ref
        return self._opener.dumps(frame)


def error_data(refusal: CommandRefused, client_event: str | None) -> dict[str, Any]:
    """An ``error`` frame's data; its details may quote the trip's sealed values (a CONFLICT's
    values), so it is encoded by ``Hub.encode``, which opens them."""
    data: dict[str, Any] = {"code": refusal.code.value, "message": refusal.message, "event": client_event}
    if refusal.details is not None:
        data["details"] = refusal.details
    return data


def stream_broadcast(
    record: LogRecord, notes: Mapping[str, ChatNote] | None = None
) -> tuple[str, dict[str, Any]] | None:
    """The frame every room member gets for a trip-stream record (None: not broadcast).

    ``notes`` (a recovery's): a message edited or deleted since is sent as it is now."""
    event = record.stream_event
    if event is None:
        return None
    if event["type"] == "chat_message":
        view = chat_message_view(record)
        if view is not None and notes:
            view = noted_view(view, notes.get(view["messageId"]))
        return ("chat_message", view) if view is not None else None
    if event["type"] in CHAT_CHANGES:
        change = chat_change_view(record)
        if change is None:
            return None
        if "reactions" in change:
            return ("chat_reactions", change)
        return ("chat_message_deleted", change) if change.get("deleted") else ("chat_message_edited", change)
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


def chat_change_frame(record: LogRecord) -> dict[str, object]:
    """An accepted edit, delete or reaction as its REST answer: what the room was told."""
    view = chat_change_view(record)
    assert view is not None
    return view


def unchanged_reactions(trip: Trip, record: LogRecord) -> dict[str, Any]:
    """The answer to a reaction that changed nothing: the message's reactions as they are (no
    ``seq``: it took no place in the stream)."""
    payload = record.payload
    note = trip.chat_notes.get(payload["messageId"])
    return {
        "messageId": payload["messageId"],
        "tripId": trip.trip_id,
        "userId": record.user_id,
        "emoji": payload["emoji"],
        "added": record.command == "add_reaction",
        "reactions": reactions_json(note.reactions) if note is not None else [],
    }


def message_reactions(trip: Trip, message_id: str) -> dict[str, Any]:
    """A message's reactions as they are (a REST reaction's answer)."""
    note = trip.chat_notes.get(message_id)
    return {
        "messageId": message_id,
        "tripId": trip.trip_id,
        "reactions": reactions_json(note.reactions) if note is not None else [],
    }
