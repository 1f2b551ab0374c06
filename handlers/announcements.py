"""Announcements (admin broadcasts kept until they expire): a user lists them and marks them
read, as notifications (docs/openapi.yaml)."""

from __future__ import annotations

from domain.errors import CommandRefused, ErrorCode
from handlers.base import ApiHandler


class AnnouncementsHandler(ApiHandler):
    async def get(self) -> None:
        async def read() -> None:
            identity = self.authenticate()
            unread = self.get_query_argument("unread", "false").lower()
            if unread not in ("true", "false", "1", "0"):
                raise CommandRefused(
                    ErrorCode.VALIDATION_ERROR, "unread: must be true or false", {"unread": ["must be true or false"]}
                )
            items = await self.services.announcements.of(identity, unread in ("true", "1"))
            self.send_json({"announcements": items})

        await self.answer(read)


class AnnouncementReadHandler(ApiHandler):
    async def post(self, announcement_id: str) -> None:
        async def mark() -> None:
            identity = self.authenticate()
            key = self.path_id(announcement_id, "announcementId")
            self.send_json(await self.services.announcements.mark_read(self.origin, identity, key))

        await self.answer(mark, command="mark_announcement_read")
