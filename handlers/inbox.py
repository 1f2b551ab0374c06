"""What a user lists and marks read, alike for their own notifications and the announcements
shown to them: one handler for both services, told apart by the ``Inbox`` each route is given
(docs/openapi.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.auth import Identity
from service.pipeline import Origin


class ReadByUser(Protocol):
    """``NotificationService`` and ``AnnouncementService``."""

    async def of(self, identity: Identity, unread_only: bool, /) -> list[dict[str, Any]]: ...

    async def mark_read(self, origin: Origin, identity: Identity, item_id: str, /) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Inbox:
    service: ReadByUser
    items: str  # the list's name in the answer, ``notifications``
    item_id: str  # the path's id, as a refusal names it: ``notificationId``
    mark_command: str  # what a mark is recorded as (refused too): ``mark_notification_read``


class InboxApiHandler(ApiHandler):
    def initialize(self, edge: RestEdge, inbox: Inbox) -> None:
        self.edge = edge
        self.inbox = inbox


class InboxHandler(InboxApiHandler):
    async def get(self) -> None:
        async def read() -> None:
            identity = self.authenticate()
            items = await self.inbox.service.of(identity, self.bool_arg("unread"))
            self.send_json({self.inbox.items: items})

        await self.answer(read)


class InboxReadHandler(InboxApiHandler):
    async def post(self, item_id: str) -> None:
        async def mark() -> None:
            identity = self.authenticate()
            key = self.path_id(item_id, self.inbox.item_id)
            self.send_json(await self.inbox.service.mark_read(self.origin, identity, key))

        await self.answer(mark, command=self.inbox.mark_command)
