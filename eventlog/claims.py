"""``SessionClaims`` (``eventlog.session_port``) in one process: its own count, for a
node without shared presence (every holder of a session is then on this node)."""

from __future__ import annotations


class MemoryClaims:
    def __init__(self) -> None:
        self._count = 0  # one for every session: a claim is higher than any before it
        self._latest: dict[str, int] = {}

    async def claim(self, session_id: str) -> int:
        self._count += 1
        self._latest[session_id] = self._count
        return self._count

    async def latest(self, session_id: str) -> int:
        return self._latest.get(session_id, 0)
