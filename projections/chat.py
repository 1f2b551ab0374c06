"""Chat history per trip, in stream order."""

from __future__ import annotations

from dataclasses import dataclass, field
from sys import intern
from typing import Any

from domain.chat_notes import ChatNote, noted_view, reactions_json
from domain.trip_events import CHAT_MESSAGE_DELETED, CHAT_MESSAGE_EDITED, CHAT_REACTIONS_CHANGED
from eventlog.records import RecordView
from projections.digests import Running, chat_item_bytes, chat_summary
from projections.trips import CHAT_MESSAGE, StreamGap

CHAT_CHANGES = frozenset({CHAT_MESSAGE_EDITED, CHAT_MESSAGE_DELETED, CHAT_REACTIONS_CHANGED})


def chat_message_view(record: RecordView) -> dict[str, Any] | None:
    """The message as clients see it (REST history and the live broadcast)."""
    event = record.stream_event
    if event is None or event["type"] != CHAT_MESSAGE:
        return None
    return _message_view(event["data"], record.stream, record.version, record.at)


def chat_change_view(record: RecordView) -> dict[str, Any] | None:
    """An edit, a delete or a reaction as the room is told of it (``chat_message_edited``,
    ``chat_message_deleted``, ``chat_reactions``)."""
    event = record.stream_event
    if event is None or event["type"] not in CHAT_CHANGES:
        return None
    data = event["data"]
    view: dict[str, Any] = {"messageId": data["messageId"], "tripId": record.stream, "userId": data["userId"]}
    if event["type"] == CHAT_MESSAGE_EDITED:
        view.update(message=data["message"], edited=True, editedAt=data["editedAt"])
    elif event["type"] == CHAT_MESSAGE_DELETED:
        view.update(deleted=True, deletedBy=data["deletedBy"], deletedAt=data["deletedAt"])
    else:
        view.update(emoji=data["emoji"], added=data["added"], reactions=_summary(data["reactions"]))
    view["seq"] = record.version
    return view


def _summary(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return reactions_json(tuple((item["emoji"], tuple(item["userIds"])) for item in raw))


def changed_view(view: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """A held message's view after an edit, a delete or a reaction (the same as ``noted_view``
    gives from the trip's note after it)."""
    data = event["data"]
    if event["type"] == CHAT_MESSAGE_DELETED:
        return noted_view(view, ChatNote(data["userId"], deleted_by=data["deletedBy"], deleted_at=data["deletedAt"]))
    if view.get("deleted"):
        return view
    changed = dict(view)
    if event["type"] == CHAT_MESSAGE_EDITED:
        changed.update(message=data["message"], edited=True, editedAt=data["editedAt"])
    elif data["reactions"]:
        changed["reactions"] = _summary(data["reactions"])
    else:
        changed.pop("reactions", None)
    return changed


def _message_view(data: dict[str, Any], trip_id: str | None, seq: int | None, at: str) -> dict[str, Any]:
    view: dict[str, Any] = {"messageId": data["messageId"], "tripId": trip_id, "userId": data["userId"]}
    name = data.get("name")
    if name is not None:
        view["name"] = name
    view["message"] = data["message"]
    view["type"] = data["type"]
    mentions = data.get("mentions")
    if mentions:
        view["mentions"] = mentions
    view["timestamp"] = at
    view["seq"] = seq
    return view


@dataclass
class _TripChat:
    version: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)  # messageId -> base + its position in messages
    running: Running | None = None  # compact histories: a count and a digest instead of messages
    complete: bool = True  # False: older messages than these exist (a tail; the store has them)
    base: int = 0  # how many messages were dropped from the front since this was complete or seeded
    weight: int = 0  # about how many bytes the messages take (kept for tails only)


class NotHeld:
    """A page a tail cannot answer: it reaches past the oldest message held."""


NOT_HELD = NotHeld()
MESSAGE_OVERHEAD = 900  # about what one message view takes besides its text, in bytes


# Strings every message of a trip repeats: a view read from the log has its own copy of each
# (~250 bytes a message; a node holds tens of thousands), so a view held shares them.
SHARED_FIELDS = ("tripId", "userId", "name", "type")


def _sharing(message: dict[str, Any]) -> dict[str, Any]:
    for key in SHARED_FIELDS:
        value = message.get(key)
        if isinstance(value, str):
            message[key] = intern(value)
    return message


def _message_weight(message: dict[str, Any]) -> int:
    return MESSAGE_OVERHEAD + len(message.get("message", ""))


class ChatHistories:
    """``compact=True`` keeps a count and a digest per trip instead of the messages
    (for rebuilds that are only compared, see ``projections/digests.py``).

    ``tail=N`` keeps, per trip it holds, only its most recent messages (between N
    and 2N) and only for trips seeded (``seed``) or created since: a serving
    node's cache, whose older pages are read from the store.  Without it every
    message of every trip applied is kept.
    """

    def __init__(self, *, compact: bool = False, tail: int | None = None) -> None:
        self._trips: dict[str, _TripChat] = {}
        self.compact = compact
        self._tail = tail

    def version(self, trip_id: str) -> int:
        chat = self._trips.get(trip_id)
        return chat.version if chat else 0

    def weight(self, trip_id: str) -> int:
        chat = self._trips.get(trip_id)
        return chat.weight if chat else 0

    def seed(self, trip_id: str, version: int, messages: list[dict[str, Any]], *, complete: bool) -> None:
        """Hold the trip's chat as of ``version``: its newest ``messages`` (all of them when ``complete``)."""
        chat = self._trips[trip_id] = _TripChat(version=version, complete=complete)
        for message in messages:
            self._add(chat, message)

    def _add(self, chat: _TripChat, message: dict[str, Any]) -> None:
        chat.index[message["messageId"]] = chat.base + len(chat.messages)
        chat.messages.append(_sharing(message))
        if self._tail is not None:
            chat.weight += _message_weight(message)
            if len(chat.messages) > 2 * self._tail:
                dropped, chat.messages = chat.messages[: self._tail], chat.messages[self._tail :]
                for old in dropped:
                    del chat.index[old["messageId"]]
                    chat.weight -= _message_weight(old)
                chat.base += len(dropped)
                chat.complete = False

    def apply(self, record: RecordView) -> bool:
        stream, version = record.stream, record.version
        if stream is None or version is None:
            return False
        chat = self._trips.get(stream)
        if chat is None:
            if self._tail is not None and version != 1:
                return False  # a trip a tail does not hold, unless it starts here
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
                chat.running.add(chat_item_bytes(message))
            else:
                self._add(chat, message)
        elif events and events[0]["type"] in CHAT_CHANGES and chat.running is None:
            self._change(chat, events[0])
        return True

    def _change(self, chat: _TripChat, event: dict[str, Any]) -> None:
        """An edit, a delete or a reaction of a message held: its view becomes the current one (a
        deleted one keeps no text).  One not held is shown so by ``ReadSide.chat_page``."""
        found = chat.index.get(event["data"]["messageId"])
        if found is None or found < chat.base:
            return
        old = chat.messages[found - chat.base]
        new = changed_view(old, event)
        chat.messages[found - chat.base] = new
        if self._tail is not None:
            chat.weight += _message_weight(new) - _message_weight(old)

    def held_message(self, trip_id: str, message_id: str) -> dict[str, Any] | None:
        """The message's view if held (None: not held, which does not mean it does not exist)."""
        chat = self._trips.get(trip_id)
        found = chat.index.get(message_id) if chat is not None else None
        if chat is None or found is None or found < chat.base:
            return None
        return chat.messages[found - chat.base]

    def held_page(self, trip_id: str, limit: int, before: str | None) -> list[dict[str, Any]] | NotHeld | None:
        """``page``, or ``NOT_HELD`` when what is held cannot tell (a tail, or a trip not held)."""
        chat = self._trips.get(trip_id)
        if chat is None:
            if self._tail is not None:
                return NOT_HELD
            chat = _TripChat()
        end = chat.base + len(chat.messages)
        if before is not None:
            found = chat.index.get(before)
            if found is None:
                return None if chat.complete else NOT_HELD
            end = found
        start = max(0, end - limit)
        if start < chat.base and not chat.complete:
            return NOT_HELD
        return chat.messages[max(0, start - chat.base) : end - chat.base]

    def page(self, trip_id: str, limit: int, before: str | None) -> list[dict[str, Any]] | None:
        """Up to ``limit`` messages, newest last, older than ``before``; None if ``before`` is unknown.

        A tail answers from what it holds (None also when that cannot tell):
        ``ReadSide.chat_page`` reads such pages from the store."""
        found = self.held_page(trip_id, limit, before)
        return None if isinstance(found, NotHeld) else found

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
