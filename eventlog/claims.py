"""``SessionClaims`` (``eventlog.session_port``) in one process: its own count, for a
node without shared presence (every holder of a session is then on this node)."""

from __future__ import annotations


class MemoryClaims:
    def __init__(self) -> None:
        self._latest: dict[str, int] = {}

    async def claim(self, session_id: str) -> int:
        number = self._latest[session_id] = self._latest.get(session_id, 0) + 1
        return number

    async def latest(self, session_id: str) -> int:
        return self._latest.get(session_id, 0)
