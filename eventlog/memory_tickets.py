"""``SpentTickets`` (``eventlog.ticket_port``) in one process: for a node without a
shared Redis, where every ticket it issues is redeemed by itself."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable


class MemorySpentTickets:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._spent: dict[str, float] = {}  # ticket id -> until when it is remembered
        self._forget: list[tuple[float, str]] = []  # the same, soonest first: memory stays bounded

    async def spend(self, ticket_id: str, keep_seconds: float) -> bool:
        now = self._monotonic()
        while self._forget and self._forget[0][0] <= now:
            until, old = heapq.heappop(self._forget)
            if self._spent.get(old) == until:
                del self._spent[old]
        if ticket_id in self._spent:
            return False
        until = now + max(keep_seconds, 0.001)
        self._spent[ticket_id] = until
        heapq.heappush(self._forget, (until, ticket_id))
        return True
