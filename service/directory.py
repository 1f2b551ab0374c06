"""Where the live connections are: this node's, or every node's.

The admin API asks a ``ConnectionDirectory`` rather than the hub, so the same
handlers answer for one node (``LocalDirectory``) and for many (a directory kept
on Redis).  A connection is described as the contract's ``GET
/api/realtime/connections`` lists it.
"""

from __future__ import annotations

from typing import Any, Protocol

from service.clock import iso
from service.hub import Connection, Hub


class ConnectionDirectory(Protocol):
    async def list(self) -> list[dict[str, Any]]:
        """Every live connection, on every node the directory knows."""
        ...

    async def count_user(self, user_id: str) -> int:
        """How many live connections the user has, on every node."""
        ...


def connection_view(conn: Connection, node: str) -> dict[str, Any]:
    """A connection as the admin API shows it (the only place with ip and user agent)."""
    return {
        "userId": conn.user_id,
        "sessionId": conn.session_id,
        "connectionTime": conn.connected_at,
        "lastActivity": iso(conn.last_activity) if conn.last_activity is not None else conn.connected_at,
        "ip": conn.ip,
        "userAgent": conn.user_agent or None,
        "rooms": sorted(conn.seats),
        "status": "connected",
        "node": node,
    }


class LocalDirectory:
    """One node: the hub is the directory."""

    def __init__(self, hub: Hub, node_id: str) -> None:
        self._hub = hub
        self._node_id = node_id

    async def list(self) -> list[dict[str, Any]]:
        return [connection_view(conn, self._node_id) for conn in self._hub.connections()]

    async def count_user(self, user_id: str) -> int:
        return self._hub.count_for_user(user_id)
