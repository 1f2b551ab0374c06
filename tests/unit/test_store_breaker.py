"""The store breaker (``service/breaker.py``): open once the store did not answer, one
append at a time let through while open, closed by the first append written."""

from __future__ import annotations

import asyncio

import pytest

from eventlog.ports import StoreUnavailable, VersionConflict
from service.breaker import StoreBreaker
from service.metrics import Metrics


async def settle() -> None:
    await asyncio.sleep(0)  # done callbacks run on the next turn of the loop


async def test_a_closed_breaker_lets_every_call_through() -> None:
    breaker = StoreBreaker()
    breaker.check()
    assert [breaker.admit() for _ in range(3)] == [False, False, False]  # none of them a probe
    assert not breaker.open


async def test_an_append_refused_for_an_unreachable_store_opens_it_and_reads_are_refused_at_once() -> None:
    breaker = StoreBreaker()
    append: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    breaker.watch(append, breaker.admit())
    append.set_exception(StoreUnavailable("down"))
    await settle()
    assert breaker.open
    with pytest.raises(StoreUnavailable):
        breaker.check()


async def test_while_open_one_append_at_a_time_goes_to_the_store_and_the_first_written_closes_it() -> None:
    metrics = Metrics()
    breaker = StoreBreaker(metrics)
    breaker.failed(StoreUnavailable("down"))
    loop = asyncio.get_running_loop()
    probe: asyncio.Future[str] = loop.create_future()
    assert breaker.admit() is True  # the probe
    breaker.watch(probe, True)
    for _ in range(5):  # refused at once while it is out
        with pytest.raises(StoreUnavailable):
            breaker.admit()
    probe.set_exception(StoreUnavailable("still down"))
    await settle()
    assert breaker.open
    second: asyncio.Future[str] = loop.create_future()
    assert breaker.admit() is True  # the next probe, once the first failed
    breaker.watch(second, True)
    second.set_result("written")
    await settle()
    assert not breaker.open
    assert breaker.admit() is False
    assert b"travelsense_store_breaker_refusals_total 5.0" in metrics.exposition()
    assert b"travelsense_store_breaker_open 0.0" in metrics.exposition()


async def test_a_lost_version_race_is_an_answer_from_the_store_and_closes_it() -> None:
    breaker = StoreBreaker()
    breaker.failed(StoreUnavailable("down"))
    probe: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    breaker.watch(probe, breaker.admit())
    probe.set_exception(VersionConflict("t", 2))
    await settle()
    assert not breaker.open
