"""Digests of projection items, so that two read sides can be compared without
holding every chat message and notification of a long log.

A *compact* projection keeps, per trip or per user, a count and a running digest
of its items in order instead of the items; ``compact_chat`` and
``compact_notifications`` turn a full snapshot into the same form, so a full read
side (a live node's) and a compact one (a rebuild) compare exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

DIGEST_BYTES = 16


def item_digest(item: Any) -> bytes:
    """The digest of one JSON item (keys sorted, so key order never matters)."""
    return hashlib.blake2b(orjson.dumps(item, option=orjson.OPT_SORT_KEYS), digest_size=DIGEST_BYTES).digest()


class Running:
    """A count and a digest of items in order; two equal sequences give equal digests."""

    __slots__ = ("_hash", "count")

    def __init__(self) -> None:
        self.count = 0
        self._hash = hashlib.blake2b(digest_size=DIGEST_BYTES)

    def add(self, part: bytes) -> None:
        self.count += 1
        self._hash.update(part)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def chat_summary(running: Running) -> dict[str, Any]:
    return {"messages": running.count, "digest": running.hexdigest()}


def compact_chat(messages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A trip's chat history as a compact read side keeps it."""
    running = Running()
    for message in messages:
        running.add(item_digest(message))
    return chat_summary(running)


def notification_part(view_digest: bytes, read: bool) -> bytes:
    return view_digest + (b"\x01" if read else b"\x00")


def notifications_summary(parts: Iterable[bytes]) -> dict[str, Any]:
    running = Running()
    unread = 0
    for part in parts:
        running.add(part)
        unread += part[-1] == 0
    return {"notifications": running.count, "unread": unread, "digest": running.hexdigest()}


def compact_notifications(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A user's notifications (as ``Notifications.snapshot`` lists them) as a compact read side keeps them."""
    return notifications_summary(
        notification_part(item_digest({k: v for k, v in item.items() if k != "read"}), bool(item.get("read")))
        for item in items
    )
