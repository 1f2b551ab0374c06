"""Announcements: admin broadcasts kept until they expire, sent to users who connect after
them until read (``domain/announcements.py`` decides, ``projections/announcements.py`` holds)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from domain import announcements as rules
from projections.read_side import ReadSide
from service.auth import Identity
from service.clock import Clock, iso
from service.pipeline import Origin, Pipeline, Request

log = logging.getLogger("travelsense.announcements")


def broadcast_view(announcement: dict[str, Any]) -> dict[str, Any]:
    """An announcement as the ``broadcast`` frame carries it (live, and on connect)."""
    return {
        "broadcastId": announcement["announcementId"],
        "message": announcement["message"],
        "type": announcement["type"],
        "timestamp": announcement["createdAt"],
        "from": announcement["from"],
        "expiresAt": announcement["expiresAt"],
    }


class AnnouncementService:
    def __init__(self, read_side: ReadSide, pipeline: Pipeline, clock: Clock, *, store_timeout: float) -> None:
        self._read_side = read_side
        self._pipeline = pipeline
        self._clock = clock
        self._store_timeout = store_timeout  # how long a new connection may wait for them

    async def of(self, identity: Identity, unread_only: bool) -> list[dict[str, Any]]:
        await self._read_side.catch_up_announcements()
        return self._read_side.announcements.shown_to(identity.user_id, iso(self._clock.now()), unread_only=unread_only)

    async def waiting(self, user_id: str) -> list[dict[str, Any]]:
        """The unexpired announcements the user has not read, as ``broadcast`` frames' data (for a new
        connection); none when the log cannot be read now (the connection is not held up by it)."""
        try:
            # the shared read, shielded, awaited as a future: no task per connection to wrap a coroutine in
            await asyncio.wait_for(asyncio.shield(self._read_side.announcements_read()), self._store_timeout)
        except Exception:
            log.warning("could not read the announcements for a new connection of %s", user_id)
            return []
        shown = self._read_side.announcements.shown_to(user_id, iso(self._clock.now()), unread_only=True)
        return [broadcast_view(announcement) for announcement in shown]

    async def mark_read(self, origin: Origin, identity: Identity, announcement_id: str) -> dict[str, Any]:
        await self._read_side.catch_up_announcements()
        found = self._read_side.announcements.find(announcement_id)
        event = rules.read(found, identity.user_id, iso(self._clock.now()))
        assert found is not None
        await self._pipeline.record(
            Request(origin, "mark_announcement_read", {"announcementId": announcement_id}), (event,)
        )
        return {**found, "read": True}
