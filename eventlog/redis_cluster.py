"""One Redis or a Redis Cluster, chosen by the URL: ``redis://`` (or ``rediss://``) is one Redis,
``redis+cluster://host:port`` (or ``rediss+cluster://``) a cluster reached through any of its nodes.

On a cluster every key the service writes is placed on purpose: the bus is
several streams (shards) whose hash tags fall in slot ranges spread evenly over
the 16,384 slots, so consecutive shards land on different masters, and each
message goes to the shard of its trip (or user), which keeps a trip's messages
in order.
"""

from __future__ import annotations

import zlib
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.retry import Retry

RedisClient = aioredis.Redis | RedisCluster
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster(url: str) -> bool:
    return url.split("://", 1)[0] in CLUSTER_SCHEMES


def open_client(url: str, *, socket_timeout: float, retries: int = 0, **options: Any) -> RedisClient:
    """A client of the Redis or the cluster at ``url``; at most ``retries`` driver retries."""
    common: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": 2.0,
        "retry": Retry(NoBackoff(), retries),
        "health_check_interval": 0,
        **options,
    }
    scheme, rest = url.split("://", 1)
    if scheme in CLUSTER_SCHEMES:
        return RedisCluster.from_url(f"{CLUSTER_SCHEMES[scheme]}://{rest}", **common)
    return aioredis.Redis.from_url(url, **common)


def shard_tags(count: int) -> list[str]:
    """``count`` hash tags, the i-th one hashing into the i-th of ``count`` equal slot ranges."""
    tags = []
    for shard in range(count):
        low = shard * REDIS_CLUSTER_HASH_SLOTS // count
        high = (shard + 1) * REDIS_CLUSTER_HASH_SLOTS // count
        n = 0
        while not low <= key_slot(f"s{shard}.{n}".encode()) < high:
            n += 1
        tags.append(f"s{shard}.{n}")
    return tags


def shard_of(key: str, count: int) -> int:
    """Which of ``count`` shards a trip's or a user's messages go to (the same on every node)."""
    return zlib.crc32(key.encode()) % count if count > 1 else 0


async def prepare(client: RedisClient) -> None:
    """Learn a cluster's slots once, before tasks share the client (they would each start learning them)."""
    if isinstance(client, RedisCluster):
        await client.initialize()
