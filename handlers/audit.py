"""``GET /api/audit/events``: the log itself, oldest first, for analysts (admins).

The only place besides the connections list where a client's IP and user
agent (record ``meta``) can be read.
"""

from __future__ import annotations

from domain.errors import invalid
from handlers.admin import AdminServiceHandler
from service.admin import AuditQuery

MAX_TYPE_LENGTH = 100


class AuditEventsHandler(AdminServiceHandler):
    command_name = "admin_audit_query"

    def _id_arg(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return None if value is None else self.path_id(value, name)

    def _query(self) -> AuditQuery:
        command = self.get_query_argument("type", None)
        if command is not None and not 1 <= len(command) <= MAX_TYPE_LENGTH:
            raise invalid("type", f"must be 1 to {MAX_TYPE_LENGTH} characters")
        return AuditQuery(
            trip_id=self._id_arg("tripId"),
            user_id=self._id_arg("userId"),
            command=command,
            since=self.time_arg("from"),
            until=self.time_arg("to"),
            after=self.int_arg("after", 0, 0, None),
            limit=self.int_arg("limit", 100, 1, 1000),
        )

    async def get(self) -> None:
        async def read() -> None:
            self.require_admin()
            self.send_json(await self.admin_service.audit(self.origin, self._query()))

        await self.admin(read, self.command_name)
