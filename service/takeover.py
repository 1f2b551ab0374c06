"""A resume takes its session over from the connection that held it.

The resume token proves the session is the client's, so a resume never waits for
the old connection to be noticed gone (a half-open socket, a node killed a moment
ago): it claims the session (``eventlog.claims``: a number higher than every
earlier holder's), takes the rooms back, then tells every node over the bus
(kind ``takeover``).  A node holding an older connection of the session closes it
with 4010 and announces nothing (``Hub.supersede``; the room service's
``hand_over``); a dead node never answers, and needs not.  After telling, the
claim is read again: a resume that claimed later meanwhile wins, and this one
closes, so two resumes of one token end with exactly one holder.
"""

from __future__ import annotations

from eventlog.session_port import SessionClaims
from service.broadcaster import Broadcaster
from service.hub import Connection, Hub


class SessionTakeover:
    def __init__(self, claims: SessionClaims, broadcaster: Broadcaster, hub: Hub) -> None:
        self._claims = claims
        self._broadcaster = broadcaster
        self._hub = hub

    async def claim(self, conn: Connection) -> None:
        """Make ``conn`` the session's newest holder (``StoreError``: the claims are unavailable)."""
        conn.generation = await self._claims.claim(conn.session_id)

    async def announce(self, conn: Connection) -> None:
        """Close the session's older connections on every node; close ``conn`` if a later resume won."""
        await self._broadcaster.takeover(conn.session_id, conn.generation)
        latest = await self._claims.latest(conn.session_id)
        if latest > conn.generation:
            self._hub.supersede(conn.session_id, latest)
