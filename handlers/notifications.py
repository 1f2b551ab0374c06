"""A user's own notifications (docs/openapi.yaml)."""

from __future__ import annotations

from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.notifications import NotificationService


class NotificationsApiHandler(ApiHandler):
    def initialize(self, edge: RestEdge, notifications: NotificationService) -> None:
        self.edge = edge
        self.notifications = notifications


class NotificationsHandler(NotificationsApiHandler):
    async def get(self) -> None:
        async def read() -> None:
            identity = self.authenticate()
            items = await self.notifications.of(identity, self.bool_arg("unread"))
            self.send_json({"notifications": items})

        await self.answer(read)


class NotificationReadHandler(NotificationsApiHandler):
    async def post(self, notification_id: str) -> None:
        async def mark() -> None:
            identity = self.authenticate()
            key = self.path_id(notification_id, "notificationId")
            self.send_json(await self.notifications.mark_read(self.origin, identity, key))

        await self.answer(mark, command="mark_notification_read")
