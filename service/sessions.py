"""Session records for admins, and the sweep that closes sessions whose node died.

The records are a read model of the log (``projections/sessions.py``); listing
them is an admin command (one record, ``admin_list_sessions``).  A node found
dead (its presence key expired: ``NodeLiveness``) leaves sessions recorded as
connected; ``sweep`` writes one ``sessions_lost`` record per such node, which
folds them into ``disconnected`` (close code 1006).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson

from domain.errors import invalid
from eventlog.session_port import CONNECTED, DISCONNECTED, SessionQuery, SessionRecords
from service.pipeline import Origin, Pipeline, Request
from service.resume import NodeLiveness

SYSTEM = Origin("system")
STATUSES = (CONNECTED, DISCONNECTED)


class LocalLiveness:
    """One node without shared presence: only this process is alive."""

    def __init__(self, node: str) -> None:
        self._node = node

    async def alive(self, nodes: Collection[str]) -> set[str]:
        return {self._node} & set(nodes)

    async def last_seen(self, node: str) -> float | None:
        return None  # a process before this one: its sessions' last activity tells


def cursor_of(connection_time: str, session_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([connection_time, session_id])).decode().rstrip("=")


def parse_cursor(text: str) -> tuple[str, str]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise invalid("after", "must be a cursor from a previous page's next") from None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise invalid("after", "must be a cursor from a previous page's next")
    return value[0], value[1]


@dataclass(frozen=True, slots=True)
class SessionListing:
    query: SessionQuery
    cursor: str | None  # as the client sent it

    @classmethod
    def of(
        cls,
        *,
        user_id: str | None,
        status: str | None,
        since: str | None,
        until: str | None,
        cursor: str | None,
        limit: int,
    ) -> SessionListing:
        after = None if cursor is None else parse_cursor(cursor)
        return cls(SessionQuery(user_id, status, since, until, after, limit), cursor)

    def as_payload(self) -> dict[str, Any]:
        q = self.query
        fields = {"userId": q.user_id, "status": q.status, "from": q.since, "to": q.until, "after": self.cursor}
        return {key: value for key, value in fields.items() if value is not None} | {"limit": q.limit}


class SessionService:
    def __init__(self, records: SessionRecords, pipeline: Pipeline, liveness: NodeLiveness) -> None:
        self._records = records
        self._pipeline = pipeline
        self._liveness = liveness

    async def list(self, origin: Origin, listing: SessionListing) -> dict[str, Any]:
        found = await self._records.find(listing.query)
        await self._pipeline.record(
            Request(origin, "admin_list_sessions", listing.as_payload()),
            ({"type": "sessions_listed", "data": {"count": len(found)}},),
        )
        last = found[-1] if len(found) == listing.query.limit else None
        return {
            "sessions": [session.to_json() for session in found],
            "next": cursor_of(last.connection_time, last.session_id) if last is not None else None,
        }

    async def sweep(self) -> int:
        """Record the sessions of dead nodes as lost; how many were."""
        nodes = await self._records.connected_nodes()
        if not nodes:
            return 0
        dead = sorted(nodes - await self._liveness.alive(nodes))
        lost = 0
        for node in dead:
            sessions = await self._records.connected_on(node)
            if not sessions:
                continue
            ids = [session.session_id for session in sessions]
            await self._pipeline.record(
                Request(SYSTEM, "sessions_lost", {"node": node}),
                ({"type": "sessions_lost", "data": {"node": node, "sessionIds": ids}},),
            )
            lost += len(ids)
        return lost
