"""``PeopleSeen`` (``eventlog.people_port``) on Redis, shared by every node and kept across
restarts: ``<prefix>:{people}:seen``, a sorted set of user ids by when each was last
seen, and ``<prefix>:{people}:names``, a hash of each one's sealed name and role.  One
script records a sighting and trims both to the capacity, atomically; the hash tag keeps
both keys in one slot of a Redis Cluster."""

from __future__ import annotations

import orjson

from eventlog.people_port import SeenPerson
from eventlog.ports import StoreUnavailable
from eventlog.redis_cluster import REDIS_FAILURES, RedisClient

# KEYS: seen, names; ARGV: user id, when, [name, role] as JSON, capacity
_SAW = """
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
if held and tonumber(held) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  local gone = redis.call('ZRANGE', KEYS[1], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
  redis.call('HDEL', KEYS[2], unpack(gone))
end
return 1
"""


class RedisPeopleSeen:
    def __init__(self, client: RedisClient, prefix: str, capacity: int) -> None:
        self._client = client
        self._seen = f"{prefix}:{{people}}:seen"
        self._names = f"{prefix}:{{people}}:names"
        self._capacity = max(1, capacity)

    async def saw(self, person: SeenPerson, at: float) -> None:
        held = orjson.dumps([person.name, person.role])
        try:
            # EVAL, not EVALSHA: a cluster loads no scripts for us, and a sighting is one per sign-in
            await self._client.eval(_SAW, 2, self._seen, self._names, person.user_id, at, held, self._capacity)  # type: ignore[misc]
        except REDIS_FAILURES as exc:
            raise StoreUnavailable(f"the people seen (Redis) are unavailable: {exc}") from exc

    async def recent(self) -> list[SeenPerson]:
        try:
            ids: list[bytes] = list(await self._client.zrevrange(self._seen, 0, self._capacity - 1))  # type: ignore[arg-type]
            held = await self._client.hmget(self._names, ids) if ids else []  # type: ignore[misc]
        except REDIS_FAILURES as exc:
            raise StoreUnavailable(f"the people seen (Redis) are unavailable: {exc}") from exc
        people = []
        for user_id, value in zip(ids, held, strict=True):
            if value is not None:  # forgotten between the two reads
                name, role = orjson.loads(value)
                people.append(SeenPerson(user_id.decode(), name, role))
        return people

    async def forget(self, user_id: str) -> None:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zrem(self._seen, user_id)
                pipe.hdel(self._names, user_id)
                await pipe.execute()
        except REDIS_FAILURES as exc:
            raise StoreUnavailable(f"the people seen (Redis) are unavailable: {exc}") from exc
