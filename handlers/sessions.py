"""``GET /api/realtime/sessions``: session records, connected and disconnected (admins)."""

from __future__ import annotations

from domain.errors import invalid
from handlers.admin import AdminApiHandler
from handlers.bounded import RestEdge
from service.sessions import STATUSES, SessionListing, SessionService


class SessionsHandler(AdminApiHandler):
    command_name = "admin_list_sessions"

    def initialize(self, edge: RestEdge, sessions: SessionService) -> None:
        self.edge = edge
        self.sessions = sessions

    def _listing(self) -> SessionListing:
        user = self.get_query_argument("userId", None)
        status = self.get_query_argument("status", None)
        if status is not None and status not in STATUSES:
            raise invalid("status", "must be connected or disconnected")
        cursor = self.get_query_argument("after", None)
        if cursor is not None and len(cursor) > 400:
            raise invalid("after", "must be a cursor from a previous page's next")
        return SessionListing.of(
            user_id=None if user is None else self.path_id(user, "userId"),
            status=status,
            since=self.time_arg("from"),
            until=self.time_arg("to"),
            cursor=cursor,
            limit=self.int_arg("limit", 100, 1, 1000),
        )

    async def get(self) -> None:
        async def listing() -> None:
            self.require_admin()
            self.send_json(await self.sessions.list(self.origin, self._listing()))

        await self.admin(listing, self.command_name)
