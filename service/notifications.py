"""Notifications: created by chat (for collaborators outside the room) and by
other services (``POST /api/realtime/notify``), listed and marked read by their user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.errors import CommandRefused, ErrorCode
from projections.notifications import NOTIFICATION_CREATED, NOTIFICATION_READ, notification_view
from projections.read_side import ReadSide
from service.auth import Identity
from service.broadcaster import Broadcaster
from service.recorder import Origin, Recorder


class NotificationService:
    def __init__(
        self, read_side: ReadSide, recorder: Recorder, broadcaster: Broadcaster, new_id: Callable[[], str]
    ) -> None:
        self._read_side = read_side
        self._recorder = recorder
        self._broadcaster = broadcaster
        self._new_id = new_id

    async def of(self, identity: Identity, unread_only: bool) -> list[dict[str, Any]]:
        await self._read_side.catch_up_notifications()
        return self._read_side.notifications.of(identity.user_id, unread_only)

    async def mark_read(self, origin: Origin, identity: Identity, notification_id: str) -> dict[str, Any]:
        await self._read_side.catch_up_notifications()
        found = self._read_side.notifications.find(identity.user_id, notification_id)
        if found is None:
            raise CommandRefused(ErrorCode.NOT_FOUND, "no such notification")
        if not found["read"]:
            marked = await self._recorder.accepted(
                origin,
                "mark_notification_read",
                payload={"notificationId": notification_id},
                events=(
                    {
                        "type": NOTIFICATION_READ,
                        "data": {"notificationId": notification_id, "userId": identity.user_id},
                    },
                ),
            )
            self._read_side.apply(marked)  # mirrors the read flag into external read models, if any
        return {**found, "read": True}

    async def notify(self, origin: Origin, body: dict[str, Any]) -> tuple[str, int, str]:
        """Store a notification and push it live; returns (id, user id, created at)."""
        notification_id = self._new_id()
        data = {"notificationId": notification_id, **body}
        record = await self._recorder.accepted(
            origin, "notify", payload=body, events=({"type": NOTIFICATION_CREATED, "data": data},)
        )
        self._read_side.apply(record)  # mirrors the notification into external read models, if any
        await self._broadcaster.to_user(body["userId"], "notification", notification_view(data, record.at))
        return notification_id, 0, record.at
