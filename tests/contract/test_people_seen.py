"""Every ``PeopleSeen`` adapter (this process's memory, the shared Redis) keeps the same
promises: the most recently seen first, each person once with their latest name and role,
no more than the capacity (the least recent forgotten), and a forgotten person gone."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eventlog.memory_people import MemoryPeopleSeen
from eventlog.people_port import PeopleSeen, SeenPerson
from eventlog.redis_people import RedisPeopleSeen
from tests.contract.conftest import RedisPlace

Open = Callable[[int], PeopleSeen]


@pytest.fixture
def people_seen(redis_place: RedisPlace) -> Open:
    """``people_seen(capacity)``: an adapter keeping that many (on Redis, all on one prefix)."""
    if redis_place is None:
        return MemoryPeopleSeen
    client, prefix = redis_place
    return lambda capacity: RedisPeopleSeen(client, prefix, capacity)


def person(n: int, name: str = "", role: str = "user") -> SeenPerson:
    return SeenPerson(f"{n:024x}", name or f"sealed-name-{n}", role)


async def test_the_most_recently_seen_come_first_each_once_with_their_latest_name(people_seen: Open) -> None:
    seen = people_seen(10)
    assert await seen.recent() == []
    await seen.saw(person(1), 100.0)
    await seen.saw(person(2), 101.0)
    await seen.saw(person(1, "renamed", "admin"), 102.0)
    assert await seen.recent() == [person(1, "renamed", "admin"), person(2)]


async def test_a_sighting_older_than_the_one_kept_changes_nothing(people_seen: Open) -> None:
    seen = people_seen(10)
    await seen.saw(person(1, "newer"), 200.0)
    await seen.saw(person(2), 150.0)
    await seen.saw(person(1, "older"), 100.0)  # a slow node's report of an earlier sign-in
    assert await seen.recent() == [person(1, "newer"), person(2)]


async def test_no_more_than_the_capacity_are_kept_the_least_recent_forgotten(people_seen: Open) -> None:
    seen = people_seen(3)
    for n in range(1, 6):
        await seen.saw(person(n), float(n))
    assert await seen.recent() == [person(5), person(4), person(3)]
    await seen.saw(person(3), 10.0)  # seen again: the most recent now
    await seen.saw(person(6), 11.0)
    assert await seen.recent() == [person(6), person(3), person(5)]


async def test_a_forgotten_person_is_gone_and_forgetting_a_stranger_is_nothing(people_seen: Open) -> None:
    seen = people_seen(10)
    await seen.saw(person(1), 1.0)
    await seen.saw(person(2), 2.0)
    await seen.forget(person(1).user_id)
    await seen.forget(person(9).user_id)
    assert await seen.recent() == [person(2)]
    await seen.saw(person(1), 3.0)  # signed in again
    assert await seen.recent() == [person(1), person(2)]


async def test_what_one_node_saw_another_lists_on_the_shared_adapter(people_seen: Open) -> None:
    node_a, node_b = people_seen(10), people_seen(10)
    await node_a.saw(person(1), 1.0)
    listed = await node_b.recent()
    if isinstance(node_a, MemoryPeopleSeen):
        assert listed == []  # one node's own
    else:
        assert listed == [person(1)]
        await node_b.forget(person(1).user_id)
        assert await node_a.recent() == []
