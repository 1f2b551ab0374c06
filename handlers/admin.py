"""Admin REST of the realtime layer (docs/openapi.yaml): connections, broadcast,
disconnect and notify.  Admins only: 401 without a valid token, 403 for a user."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from domain import schemas
from domain.errors import CommandRefused, ErrorCode
from handlers.base import ApiHandler
from handlers.bounded import RestEdge
from service.admin import AdminService

log = logging.getLogger("travelsense.admin")


class AdminApiHandler(ApiHandler):
    """``answer`` for admin commands: an unexpected failure is logged, recorded as
    refused with ``INTERNAL`` when the log still takes records, and answered as
    a bare 500 that says nothing about the cause."""

    command_name = "admin"

    async def admin(self, work: Callable[[], Awaitable[None]], command: str) -> None:
        try:
            await self.answer(work, command=command)
        except Exception:
            log.exception("admin command %s failed", command)
            refusal = CommandRefused(ErrorCode.INTERNAL, "internal error")
            await self.edge.pipeline.refuse(self._request(command), refusal)
            if not self.answered:
                self.send_refusal(refusal)

    def on_finish(self) -> None:
        if self.get_status() >= 400:
            action = self.command_name.removeprefix("admin_")
            self.edge.metrics.admin_action(action, "refused")


class AdminServiceHandler(AdminApiHandler):
    """An admin command the admin service answers."""

    def initialize(self, edge: RestEdge, admin: AdminService) -> None:
        self.edge = edge
        self.admin_service = admin


class ConnectionsHandler(AdminServiceHandler):
    command_name = "admin_list_connections"

    async def get(self) -> None:
        async def listing() -> None:
            self.require_admin()
            self.send_json(await self.admin_service.connections(self.origin))

        await self.admin(listing, self.command_name)


class BroadcastHandler(AdminServiceHandler):
    command_name = "admin_broadcast"

    async def post(self) -> None:
        async def broadcast() -> None:
            admin = self.require_admin()
            body = schemas.check_body("broadcast", self.json_body())
            self.send_json(await self.admin_service.broadcast(self.origin, body, sender_name=admin.name))

        await self.admin(broadcast, self.command_name)


class DisconnectHandler(AdminServiceHandler):
    command_name = "admin_disconnect"

    async def post(self, user_id: str) -> None:
        async def disconnect() -> None:
            self.require_admin()
            target = self.path_id(user_id, "userId")
            self.send_json(await self.admin_service.disconnect(self.origin, target))

        await self.admin(disconnect, self.command_name)


class NotifyHandler(AdminServiceHandler):
    command_name = "notify"

    async def post(self) -> None:
        async def notify() -> None:
            self.require_admin()
            body: dict[str, Any] = schemas.check_body("notify", self.json_body())
            body["userId"] = body["userId"].lower()
            self.send_json(await self.admin_service.notify(self.origin, body))

        await self.admin(notify, self.command_name)
