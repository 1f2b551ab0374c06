"""``POST /api/realtime/erasures/{userId}`` (admin): erase a person (see ``service/erasure.py``)."""

from __future__ import annotations

from domain.errors import CommandRefused, ErrorCode
from handlers.admin import AdminApiHandler
from handlers.bounded import RestEdge
from service.erasure import Erasure


class ErasureHandler(AdminApiHandler):
    command_name = "admin_erase_person"

    def initialize(self, edge: RestEdge, erasure: Erasure | None) -> None:
        self.edge = edge
        self.erasure = erasure

    async def post(self, user_id: str) -> None:
        async def erase() -> None:
            self.require_admin()
            target = self.path_id(user_id, "userId")
            erasure = self.erasure
            if erasure is None:
                raise CommandRefused(ErrorCode.UNAVAILABLE, "personal data is not sealed on this node")
            record = await erasure.erase_person(self.origin, target)
            destroyed = record.events[0]["data"]["keysDestroyed"]
            self.send_json({"userId": target, "erasedAt": record.at, "keysDestroyed": destroyed})

        await self.admin(erase, self.command_name)
