"""Session resume: the token ``connected`` carries, and whether a reconnecting client
gets its session back (docs/asyncapi.yaml, ``resume``).

The token is ``<session id>.<HMAC-SHA256(user id, session id)>`` (base64url),
signed with a secret every node shares: opaque to the client, bound to the user
and the session, not guessable.  A session is resumed when the token is good for
the user of the new connection's (still valid) JWT, and its record
(``projections/sessions.py``) shows it ended less than ``window`` seconds ago:
closed, or on a node found dead (counted from the node's last heartbeat).  A
session still recorded as held by a connection on a live node is resumed too:
the token proves it is the client's, and the resume takes it over
(``service.takeover``: the old connection, a half-open socket or one on a node
killed a moment ago, is closed without a leave being announced).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from eventlog.session_port import CONNECTED, SessionRecord, SessionRecords
from service.clock import Clock, parse_iso

MAX_TOKEN_LENGTH = 200


class NodeLiveness(Protocol):
    async def alive(self, nodes: Collection[str]) -> set[str]:
        """Which of ``nodes`` (process instances) are alive."""
        ...

    async def last_seen(self, node: str) -> float | None:
        """When the node last showed it was alive (epoch seconds; None: unknown)."""
        ...


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class ResumeAsk:
    """What a reconnecting client sent: its token, and the last ``seq`` it has per room."""

    token: str
    last_seqs: dict[str, int]


class SessionResumer:
    def __init__(
        self, records: SessionRecords, liveness: NodeLiveness, clock: Clock, *, secret: bytes, window: float
    ) -> None:
        self._records = records
        self._liveness = liveness
        self._clock = clock
        self._secret = secret
        self.window = window

    def _signature(self, user_id: str, session_id: str) -> str:
        mac = hmac.new(self._secret, f"{user_id}\x00{session_id}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def token(self, user_id: str, session_id: str) -> str:
        return f"{session_id}.{self._signature(user_id, session_id)}"

    def session_of(self, user_id: str, token: str) -> str | None:
        """The session id a token names, if it is good for ``user_id``."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or token.count(".") != 1:
            return None
        session_id, signature = token.split(".")
        if not session_id or not hmac.compare_digest(signature, self._signature(user_id, session_id)):
            return None
        return session_id

    async def resumable(self, user_id: str, token: str) -> SessionRecord | None:
        """The session to resume, or None (a fresh session): see the module's doc."""
        session_id = self.session_of(user_id, token)
        if session_id is None:
            return None
        record = await self._records.get(session_id)
        if record is None or record.user_id != user_id:
            return None
        now = self._clock.now()
        if record.status != CONNECTED:
            ended = parse_iso(record.disconnected_at) if record.disconnected_at else None
        elif await self._liveness.alive([record.node]):
            return record  # held by a connection that may not know its network went: taken over
        else:
            seen = await self._liveness.last_seen(record.node)
            ended = dt.datetime.fromtimestamp(seen, dt.UTC) if seen is not None else parse_iso(record.last_activity)
        if ended is None or (now - ended).total_seconds() > self.window:
            return None
        return record
