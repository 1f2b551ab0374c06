"""The session-records port: every WebSocket session as the log tells it, kept in
the store so that any node can list, resume and age it.

A read model (``projections/sessions.py`` folds the log into ``SessionRecord``
values); the adapters are ``eventlog/sqlite_sessions.py`` and
``eventlog/mongo_sessions.py``, both run by ``tests/contract/test_session_records.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

CONNECTED = "connected"
DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: str
    user_id: str
    node: str  # the process instance that held the socket
    connection_time: str  # ISO 8601 UTC, as the log writes ``at``
    last_activity: str
    ip: str  # "" once blanked by the retention job
    user_agent: str
    rooms: tuple[str, ...]
    status: str  # CONNECTED or DISCONNECTED
    disconnected_at: str | None = None
    close_code: int | None = None
    position: int = 0  # the log position of the newest record folded in: a save never moves a record back

    def to_json(self) -> dict[str, object]:
        return {
            "userId": self.user_id,
            "sessionId": self.session_id,
            "connectionTime": self.connection_time,
            "lastActivity": self.last_activity,
            "ip": self.ip,
            "userAgent": self.user_agent,
            "rooms": list(self.rooms),
            "status": self.status,
            "disconnectedAt": self.disconnected_at,
            "closeCode": self.close_code,
            "node": self.node,
        }


@dataclass(frozen=True, slots=True)
class SessionQuery:
    user_id: str | None = None
    status: str | None = None
    since: str | None = None  # connection time, inclusive
    until: str | None = None  # connection time, exclusive
    after: tuple[str, str] | None = None  # (connection time, session id) of the previous page's last
    limit: int = 100


class SessionRecords(Protocol):
    async def open(self) -> None: ...

    async def save(self, session: SessionRecord) -> None:
        """Keep ``session`` unless the stored one has folded a later record (``position``).
        ``ip`` and ``user_agent`` are written only when the session is new: a blanked
        record stays blank.  So are ``user_id`` and ``connection_time``: its ``connect``
        gave them, and no later record changes them (``fold_session``); written again,
        they would cost the store their indexes' entries on every save."""
        ...

    async def save_many(self, sessions: Sequence[SessionRecord]) -> None:
        """``save`` each of ``sessions`` (of distinct sessions), in one round trip to the store:
        a storm of connects and joins writes its records a batch at a time."""
        ...

    async def touch(self, session_id: str, at: str) -> None:
        """Move the session's ``lastActivity`` forward to ``at`` (never back)."""
        ...

    async def get(self, session_id: str) -> SessionRecord | None: ...

    async def find(self, query: SessionQuery) -> list[SessionRecord]:
        """Sessions by connection time, then session id, oldest first."""
        ...

    async def connected_nodes(self) -> set[str]:
        """The nodes that hold sessions still recorded as connected."""
        ...

    async def connected_on(self, node: str) -> list[SessionRecord]: ...

    async def blank_personal(self, before: str) -> int:
        """Blank the IP and user agent of sessions connected before ``before``; how many were."""
        ...

    async def compact(self, before: str) -> int:
        """Fold disconnected sessions that ended before ``before`` into counts per day of
        connection (``counts``) and delete them; how many were."""
        ...

    async def counts(self) -> dict[str, int]:
        """Compacted sessions per day of connection (``YYYY-MM-DD``)."""
        ...

    async def take_lease(self, name: str, holder: str, now: str, until: str) -> bool:
        """Hold the lease ``name`` until ``until`` if it is free (expired before ``now``)
        or held by ``holder`` already; whether ``holder`` holds it."""
        ...

    async def save_hidden(self, user_id: str, hidden: bool, position: int) -> None:
        """Keep the user's presence choice unless a later one (``position``) is kept already."""
        ...

    async def hidden(self, user_id: str) -> bool:
        """The user's saved presence choice (False: never chosen)."""
        ...

    async def close(self) -> None: ...


class SessionClaims(Protocol):
    """Who holds a session (adapters: ``eventlog.claims``, ``eventlog.redis_claims``).

    A resume takes its session over from whatever connection held it (a socket whose
    network went half-open, a node that died a moment ago): the resume token proves
    the session is the client's.  Each takeover claims the session and gets a number
    higher than every earlier claim's; a connection of the session holding a lower
    number is stale and is closed (``service.takeover``).  Two resumes of one token
    at the same time thus end with exactly one holder: the higher number.
    """

    async def claim(self, session_id: str) -> int:
        """A number for a new holder of the session, higher than any claim given before, of
        any session (>= 1): a session whose last claim was forgotten still orders its holders."""
        ...

    async def latest(self, session_id: str) -> int:
        """The highest number given for the session (0: never claimed)."""
        ...
