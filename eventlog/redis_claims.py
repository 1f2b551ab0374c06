"""``SessionClaims`` on Redis (``eventlog.claims``): one counter per session,
``<prefix>:claim:<sessionId>``, raised atomically by ``INCR`` and kept as long as
the session may still be resumed (``ttl``), so every node sees one order of holders."""

from __future__ import annotations

import asyncio

from redis.exceptions import RedisError

from eventlog.ports import StoreUnavailable
from eventlog.redis_cluster import RedisClient

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class RedisClaims:
    def __init__(self, client: RedisClient, prefix: str, *, ttl: float) -> None:
        """``ttl``: seconds a count is kept after its last claim (longer than the resume window)."""
        self._client = client
        self._prefix = prefix
        self._ttl_ms = max(1000, int(ttl * 1000))

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}:claim:{session_id}"

    async def claim(self, session_id: str) -> int:
        key = self._key(session_id)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.pexpire(key, self._ttl_ms)
                number, _ = await pipe.execute()
        except _FAILURES as exc:
            raise StoreUnavailable(f"session claims (Redis) are unavailable: {exc}") from exc
        return int(number)

    async def latest(self, session_id: str) -> int:
        try:
            value = await self._client.get(self._key(session_id))
        except _FAILURES as exc:
            raise StoreUnavailable(f"session claims (Redis) are unavailable: {exc}") from exc
        return int(value) if value is not None else 0
