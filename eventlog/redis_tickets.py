"""``SpentTickets`` (``eventlog.ticket_port``) on Redis: one key per spent ticket,
``<prefix>:ticket:<id>``, set with ``SET NX PX`` (atomic: of any number of nodes
spending one ticket, exactly one sets it), expiring once the ticket would have."""

from __future__ import annotations

from eventlog.ports import StoreUnavailable
from eventlog.redis_cluster import REDIS_FAILURES, RedisClient


class RedisSpentTickets:
    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    async def spend(self, ticket_id: str, keep_seconds: float) -> bool:
        keep_ms = max(1, int(keep_seconds * 1000) + 1)
        try:
            first = await self._client.set(f"{self._prefix}:ticket:{ticket_id}", b"1", nx=True, px=keep_ms)
        except REDIS_FAILURES as exc:
            raise StoreUnavailable(f"spent tickets (Redis) are unavailable: {exc}") from exc
        return bool(first)
