"""Announcements (admin broadcasts kept until they expire): a user lists them and marks them
read, as notifications (docs/openapi.yaml)."""

from __future__ import annotations

from domain.errors import CommandRefused, ErrorCode
from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.announcements import AnnouncementService


class AnnouncementApiHandler(ApiHandler):
    def initialize(self, edge: RestEdge, announcements: AnnouncementService) -> None:
        self.edge = edge
        self.announcements = announcements


class AnnouncementsHandler(AnnouncementApiHandler):
    async def get(self) -> None:
        async def read() -> None:
            identity = self.authenticate()
            unread = self.get_query_argument("unread", "false").lower()
            if unread not in ("true", "false", "1", "0"):
                raise CommandRefused(
                    ErrorCode.VALIDATION_ERROR, "unread: must be true or false", {"unread": ["must be true or false"]}
                )
            items = await self.announcements.of(identity, unread in ("true", "1"))
            self.send_json({"announcements": items})

        await self.answer(read)


class AnnouncementReadHandler(AnnouncementApiHandler):
    async def post(self, announcement_id: str) -> None:
        async def mark() -> None:
            identity = self.authenticate()
            key = self.path_id(announcement_id, "announcementId")
            self.send_json(await self.announcements.mark_read(self.origin, identity, key))

        await self.answer(mark, command="mark_announcement_read")
