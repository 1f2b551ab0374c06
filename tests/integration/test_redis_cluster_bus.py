"""The Redis Streams bus on a three-master Redis Cluster: its shards spread over the masters, every
node gets every message, a trip's messages (and an origin's, per shard) keep their order."""

from __future__ import annotations

from redis.asyncio.cluster import RedisCluster

from eventlog.redis_bus import RedisStreamsBus
from eventlog.redis_cluster import shard_of
from tests.integration.test_redis_bus import buses
from tests.redis_server import unique_prefix


def cluster_client(url: str) -> RedisCluster:
    return RedisCluster.from_url(url.replace("redis+cluster://", "redis://"))


async def test_the_bus_shards_spread_over_every_master(redis_cluster_url: str) -> None:
    bus = RedisStreamsBus(redis_cluster_url, node_id="a", prefix=unique_prefix())
    client = cluster_client(redis_cluster_url)
    try:
        await client.initialize()
        masters = {client.get_node_from_key(key).name for key in bus.keys}
        assert len(bus.keys) > 1 and len(masters) == 3
    finally:
        await client.aclose()
        await bus.close()


async def test_every_node_gets_every_message_and_each_trips_messages_in_order(redis_cluster_url: str) -> None:
    trips = [f"{n:024x}" for n in range(8)]
    async with buses(redis_cluster_url, unique_prefix(), "a", "b", "c") as nodes:
        (a, _), (b, _), _ = nodes
        shards = {shard_of(trip, len(a.keys)) for trip in trips}
        assert len(shards) > 1  # the trips really are spread over several streams
        for i in range(40):
            for trip in trips:
                await a.publish({"kind": "room", "tripId": trip, "from": "a", "i": i})
                await b.publish({"kind": "room", "tripId": trip, "from": "b", "i": i})
            await b.publish({"kind": "user", "userId": "u1", "i": i})
        total = 40 * (2 * len(trips) + 1)
        for _, inbox in nodes:
            await inbox.wait_for(lambda inbox=inbox: len(inbox.payloads) == total, timeout=20)
        for _, inbox in nodes:
            assert inbox.resyncs == 0, [(n.stats.missed, n.stats.read_failures, n.stats.duplicates) for n, _ in nodes]
            for trip in trips:
                of_trip = [(m["from"], m["i"]) for m in inbox.payloads if m.get("tripId") == trip]
                assert of_trip == [(m["from"], m["i"]) for m in nodes[0][1].payloads if m.get("tripId") == trip]
                for origin in ("a", "b"):
                    assert [i for f, i in of_trip if f == origin] == list(range(40))
            assert [m["i"] for m in inbox.payloads if m.get("userId") == "u1"] == list(range(40))
        assert a.stats.duplicates == 0 and a.stats.missed == 0
