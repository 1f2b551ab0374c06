"""Every ``SessionClaims`` adapter (this process's count, the shared Redis) keeps the
same promises: each claim of a session is higher than all before it, concurrent
claims never share a number, and sessions are counted apart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from eventlog.claims import MemoryClaims
from eventlog.redis_claims import RedisClaims
from eventlog.redis_cluster import open_client
from eventlog.session_port import SessionClaims


@pytest.fixture(params=["memory", "redis"])
async def claims(request: pytest.FixtureRequest) -> AsyncIterator[SessionClaims]:
    if request.param == "memory":
        yield MemoryClaims()
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("prefix")
    client = open_client(url, socket_timeout=5.0)
    try:
        yield RedisClaims(client, prefix, ttl=60)
    finally:
        await client.aclose()


async def test_an_unclaimed_session_has_no_holder_and_each_claim_is_higher_than_the_last(
    claims: SessionClaims,
) -> None:
    assert await claims.latest("s1") == 0
    first = await claims.claim("s1")
    second = await claims.claim("s1")
    assert 1 <= first < second
    assert await claims.latest("s1") == second


async def test_concurrent_claims_of_one_session_get_distinct_numbers_and_the_latest_is_the_highest(
    claims: SessionClaims,
) -> None:
    numbers = await asyncio.gather(*(claims.claim("s1") for _ in range(20)))
    assert len(set(numbers)) == 20
    assert await claims.latest("s1") == max(numbers)


async def test_sessions_are_claimed_apart(claims: SessionClaims) -> None:
    await claims.claim("s1")
    await claims.claim("s1")
    assert await claims.claim("s2") == 1
    assert await claims.latest("s1") == 2
