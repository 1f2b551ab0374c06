"""Announcements (admin broadcasts kept until they expire): a user lists them and marks them
read, as notifications (docs/openapi.yaml)."""

from __future__ import annotations

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
            items = await self.announcements.of(identity, self.bool_arg("unread"))
            self.send_json({"announcements": items})

        await self.answer(read)


class AnnouncementReadHandler(AnnouncementApiHandler):
    async def post(self, announcement_id: str) -> None:
        async def mark() -> None:
            identity = self.authenticate()
            key = self.path_id(announcement_id, "announcementId")
            self.send_json(await self.announcements.mark_read(self.origin, identity, key))

        await self.answer(mark, command="mark_announcement_read")
