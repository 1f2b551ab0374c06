"""``SessionClaims`` on Redis (``eventlog.session_port``): one counter for every
session, ``<prefix>:{claims}:counter``, so a claim is higher than any claim before it
of any session (a session's last claim may have expired while it stayed connected),
and each session's latest claim, ``<prefix>:{claims}:<sessionId>``, kept as long as
the session may still be resumed (``ttl``).  One script sets both, atomically; the
hash tag keeps them in one slot of a Redis Cluster."""

from __future__ import annotations

from eventlog.ports import StoreUnavailable
from eventlog.redis_cluster import REDIS_FAILURES, RedisClient

# KEYS: the counter, the session's latest; ARGV: ttl ms
_CLAIM = """
local number = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], number, 'PX', ARGV[1])
return number
"""


class RedisClaims:
    def __init__(self, client: RedisClient, prefix: str, *, ttl: float) -> None:
        """``ttl``: seconds a session's latest claim is kept (longer than the resume window)."""
        self._client = client
        self._prefix = prefix
        self._ttl_ms = max(1000, int(ttl * 1000))

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{{claims}}:{name}"

    async def claim(self, session_id: str) -> int:
        try:
            # EVAL, not EVALSHA: a claim is rare (one per resume), and a cluster loads no scripts for us
            number = await self._client.eval(_CLAIM, 2, self._key("counter"), self._key(session_id), self._ttl_ms)  # type: ignore[misc]
        except REDIS_FAILURES as exc:
            raise StoreUnavailable(f"session claims (Redis) are unavailable: {exc}") from exc
        return int(number)

    async def latest(self, session_id: str) -> int:
        try:
            value = await self._client.get(self._key(session_id))
        except REDIS_FAILURES as exc:
            raise StoreUnavailable(f"session claims (Redis) are unavailable: {exc}") from exc
        return int(value) if value is not None else 0
