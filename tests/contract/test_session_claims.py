"""Every ``SessionClaims`` adapter (this process's count, the shared Redis) keeps the
same promises: each claim is higher than all before it, concurrent claims never
share a number, and each session's latest is its own."""

from __future__ import annotations

import asyncio

import pytest

from eventlog.claims import MemoryClaims
from eventlog.redis_claims import RedisClaims
from eventlog.session_port import SessionClaims
from tests.contract.conftest import RedisPlace


@pytest.fixture
def claims(redis_place: RedisPlace) -> SessionClaims:
    return MemoryClaims() if redis_place is None else RedisClaims(*redis_place, ttl=60)


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


async def test_a_claim_is_higher_than_every_claim_before_it_of_any_session(claims: SessionClaims) -> None:
    first = await claims.claim("s1")
    other = await claims.claim("s2")
    assert other > first  # so a session whose latest claim was forgotten still orders its holders
    assert (await claims.latest("s1"), await claims.latest("s2")) == (first, other)
