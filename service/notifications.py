"""Notifications: created by chat (for collaborators outside the room) and by
other services (``POST /api/realtime/notify``), listed and marked read by their user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.errors import CommandRefused, ErrorCode
from projections.notifications import NOTIFICATION_CREATED, NOTIFICATION_READ
from projections.read_side import ReadSide
from service.auth import Identity
from service.pipeline import Origin, Pipeline, Request


class NotificationService:
    def __init__(self, read_side: ReadSide, pipeline: Pipeline, new_id: Callable[[], str]) -> None:
        self._read_side = read_side
        self._pipeline = pipeline
        self._new_id = new_id

    async def of(self, identity: Identity, unread_only: bool) -> list[dict[str, Any]]:
        return (await self._read_side.notifications_of(identity.user_id)).of(unread_only)

    async def mark_read(self, origin: Origin, identity: Identity, notification_id: str) -> dict[str, Any]:
        found = (await self._read_side.notifications_of(identity.user_id)).find(notification_id)
        if found is None:
            raise CommandRefused(ErrorCode.NOT_FOUND, "no such notification")
        if not found["read"]:
            await self._pipeline.record(
                Request(origin, "mark_notification_read", {"notificationId": notification_id}),
                ({"type": NOTIFICATION_READ, "data": {"notificationId": notification_id, "userId": identity.user_id}},),
            )
        return {**found, "read": True}

    async def notify(self, origin: Origin, body: dict[str, Any]) -> tuple[str, str]:
        """Store a notification (pushed live by the record's reactions); returns (its id, created at)."""
        notification_id = self._new_id()
        data = {"notificationId": notification_id, **body}
        record = await self._pipeline.record(
            Request(origin, "notify", body), ({"type": NOTIFICATION_CREATED, "data": data},)
        )
        return notification_id, record.at
