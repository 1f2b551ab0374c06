"""One Redis or a Redis Cluster, chosen by the URL: ``redis://`` (or ``rediss://``) is one Redis,
``redis+cluster://host:port`` (or ``rediss+cluster://``) a cluster reached through any of its nodes.

On a cluster every key the service writes is placed on purpose: the bus is
several streams (shards) whose hash tags fall in slot ranges spread evenly over
the 16,384 slots, so consecutive shards land on different masters, and each
message goes to the shard of its trip (or user), which keeps a trip's messages
in order.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

RedisClient = aioredis.Redis | RedisCluster
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

# what a call to Redis raises when Redis cannot answer it (down, unreachable, too slow)
REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


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


class ShardClients:
    """The client to use for each of a few keys: on one Redis, its one client; on a cluster, a plain
    client of the master that holds the key.

    redis-py's cluster client spends much of a hot path's CPU routing each command (a pipeline of
    ``XADD`` costs it several times what it costs a plain client), so the bus talks to each
    master directly and asks the cluster only where its keys are: at first use, and again after
    ``forget`` (a failure: a master moved or failed over).
    """

    def __init__(self, url: str, keys: list[str], *, socket_timeout: float, retries: int = 0) -> None:
        self._url = url
        self._keys = keys
        self._options: dict[str, Any] = {"socket_timeout": socket_timeout, "retries": retries}
        self._single = None if is_cluster(url) else open_client(url, **self._options)
        self._cluster: RedisCluster | None = None
        self._by_key: dict[str, RedisClient] = {}
        self._by_node: dict[str, RedisClient] = {}

    async def client(self, key: str) -> RedisClient:
        if self._single is not None:
            return self._single
        found = self._by_key.get(key)
        if found is None:
            try:
                await self._route()
            except RedisClusterException as exc:  # not a RedisError: the callers' back-off must see one
                raise RedisConnectionError(f"the cluster does not answer: {exc}") from exc
            found = self._by_key[key]
        return found

    async def _route(self) -> None:
        if self._cluster is None:
            cluster = open_client(self._url, **self._options)
            assert isinstance(cluster, RedisCluster)
            self._cluster = cluster
        await self._cluster.initialize()
        scheme = CLUSTER_SCHEMES[self._url.split("://", 1)[0]]
        for key in self._keys:
            node = self._cluster.get_node_from_key(key)
            if node is None:
                raise RedisConnectionError(f"no node holds the slot of {key}")
            address = f"{node.host}:{node.port}"
            if address not in self._by_node:
                self._by_node[address] = open_client(f"{scheme}://{address}", **self._options)
            self._by_key[key] = self._by_node[address]

    async def forget(self) -> None:
        """Ask the cluster again where the keys are, at the next use."""
        if self._single is not None:
            return
        self._by_key.clear()
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            await cluster.aclose()

    async def ping(self) -> None:
        await (await self.client(self._keys[0])).ping()

    async def aclose(self) -> None:
        clients = [self._single] if self._single is not None else list(self._by_node.values())
        if self._cluster is not None:
            clients.append(self._cluster)
        for client in clients:
            await client.aclose()
