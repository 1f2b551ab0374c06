"""Digests of projection items, so that two read sides can be compared without
holding every chat message and notification of a long log.

A *compact* projection keeps, per trip or per user, a count and a running digest
of its items in order instead of the items; ``compact_chat`` and
``compact_notifications`` turn a full snapshot into the same form, so a full read
side (a live node's) and a compact one (a rebuild) compare exactly.

The digests tell two folds apart; they are not tamper evidence (the hash chain
of ``eventlog/chain.py`` is).  So they are cheap checksums: CRC-32 and Adler-32
run over the canonical JSON of the items (keys sorted), one after the other.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS


def item_bytes(item: Any) -> bytes:
    """One JSON item's canonical bytes (keys sorted, so key order never matters)."""
    return orjson.dumps(item, option=_SORTED)


class Running:
    """A count and a checksum of items in order; equal sequences give equal digests."""

    __slots__ = ("_adler", "_crc", "count")

    def __init__(self) -> None:
        self.count = 0
        self._crc = 0
        self._adler = 1

    def add(self, item: bytes) -> None:
        """Add one item's canonical bytes (a JSON object: the concatenation stays unambiguous)."""
        self.count += 1
        self._crc = zlib.crc32(item, self._crc)
        self._adler = zlib.adler32(item, self._adler)

    def hexdigest(self) -> str:
        return f"{self._crc:08x}{self._adler:08x}"


def chat_summary(running: Running) -> dict[str, Any]:
    return {"messages": running.count, "digest": running.hexdigest()}


# what an edit or a delete changes in a message view after it is posted: a compact
# side digests a message once, as posted, so the digests leave these out (the
# changes themselves are compared in the trips' states, ``chatNotes``)
CHANGING_CHAT_FIELDS = frozenset({"message", "edited", "editedAt", "deleted", "deletedBy", "deletedAt", "reactions"})


def chat_item_bytes(message: dict[str, Any]) -> bytes:
    """A chat message view's canonical bytes, without what edits and deletes change."""
    return item_bytes({key: value for key, value in message.items() if key not in CHANGING_CHAT_FIELDS})


def compact_chat(messages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A trip's chat history as a compact read side keeps it."""
    running = Running()
    for message in messages:
        running.add(chat_item_bytes(message))
    return chat_summary(running)


def id_digest(item_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=8).digest(), "big")


class UserNotifications:
    """A user's notifications, compact: their views in order, and which were read."""

    __slots__ = ("created", "read")

    def __init__(self) -> None:
        self.created = Running()
        self.read: set[int] = set()  # digests of the ids marked read

    def summary(self) -> dict[str, Any]:
        read_sum = sum(self.read) % (1 << 64)
        return {
            "notifications": self.created.count,
            "unread": self.created.count - len(self.read),
            "digest": f"{self.created.hexdigest()}{read_sum:016x}",
        }


# a notification's read flag changes after it is created, and so does a chat notification's
# preview (emptied when its message is deleted): a compact side digests neither
_CHANGING_NOTIFICATION_FIELDS = frozenset({"read", "preview"})


def notification_without_flag(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in _CHANGING_NOTIFICATION_FIELDS}


def compact_notifications(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A user's notifications (as ``Notifications.snapshot`` lists them) as a compact read side keeps them."""
    user = UserNotifications()
    for item in items:
        user.created.add(item_bytes(notification_without_flag(item)))
        if item.get("read"):
            user.read.add(id_digest(item["notificationId"]))
    return user.summary()
