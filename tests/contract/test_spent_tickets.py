"""Every ``SpentTickets`` adapter (this process's memory, the shared Redis) keeps the same
promises: a ticket is spent once, however many spend it at the same time, each ticket is
its own, and a spent ticket is forgotten once it would have expired."""

from __future__ import annotations

import asyncio

import pytest

from eventlog.memory_tickets import MemorySpentTickets
from eventlog.redis_tickets import RedisSpentTickets
from eventlog.ticket_port import SpentTickets
from tests.contract.conftest import RedisPlace


@pytest.fixture
def spent(redis_place: RedisPlace) -> SpentTickets:
    return MemorySpentTickets() if redis_place is None else RedisSpentTickets(*redis_place)


async def test_a_ticket_is_spent_once_and_refused_after(spent: SpentTickets) -> None:
    assert await spent.spend("t1", 30) is True
    assert await spent.spend("t1", 30) is False
    assert await spent.spend("t1", 30) is False


async def test_concurrent_spends_of_one_ticket_let_exactly_one_through(spent: SpentTickets) -> None:
    answers = await asyncio.gather(*(spent.spend("t1", 30) for _ in range(20)))
    assert answers.count(True) == 1


async def test_each_ticket_is_spent_on_its_own(spent: SpentTickets) -> None:
    assert await spent.spend("t1", 30) is True
    assert await spent.spend("t2", 30) is True
    assert await spent.spend("t1", 30) is False


async def test_a_spent_ticket_is_forgotten_once_its_keep_has_passed(spent: SpentTickets) -> None:
    assert await spent.spend("short", 0.05) is True
    await asyncio.sleep(0.3)  # long past the keep: the adapter holds nothing more for it
    assert await spent.spend("short", 30) is True  # (the ticket itself has expired by then: refused before)


def test_the_memory_adapter_holds_only_tickets_not_yet_forgotten() -> None:
    now = [0.0]
    spent = MemorySpentTickets(lambda: now[0])

    async def run() -> None:
        for n in range(100):
            assert await spent.spend(f"t{n}", 30)
        now[0] = 31.0
        assert await spent.spend("late", 30)

    asyncio.run(run())
    assert len(spent._spent) == 1 and len(spent._forget) == 1
