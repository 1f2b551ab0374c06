"""``service.signin.RealtimeTickets``: what a ticket proves by itself (who, until when, that
this service's nodes signed it) and what it takes the spent-tickets port to know (that it
was not used before)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from domain.errors import CommandRefused, ErrorCode
from eventlog.memory_tickets import MemorySpentTickets
from eventlog.ports import StoreUnavailable
from service.auth import Identity, InvalidToken
from service.signin import RealtimeTickets

ADA = Identity("650000000000000000000001", "user", "Ada", 2_000_000_000)


class StoppedClock:
    def __init__(self) -> None:
        self.at = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.at

    def monotonic(self) -> float:
        return 0.0


class UnreachableStore:
    async def spend(self, ticket_id: str, keep_seconds: float) -> bool:
        raise StoreUnavailable("Redis is down")


def test_a_ticket_stands_for_its_buyer_on_another_node_sharing_the_secret_and_store() -> None:
    clock, spent = StoppedClock(), MemorySpentTickets()
    ticket = RealtimeTickets(b"shared", spent, clock).issue(ADA)
    other_node = RealtimeTickets(b"shared", spent, clock)
    assert asyncio.run(other_node.redeem(ticket)) == ADA
    with pytest.raises(InvalidToken, match="used"):
        asyncio.run(RealtimeTickets(b"shared", spent, clock).redeem(ticket))


def test_a_ticket_signed_with_another_secret_is_refused() -> None:
    clock = StoppedClock()
    ticket = RealtimeTickets(b"theirs", MemorySpentTickets(), clock).issue(ADA)
    with pytest.raises(InvalidToken, match="not a ticket"):
        asyncio.run(RealtimeTickets(b"ours", MemorySpentTickets(), clock).redeem(ticket))


def test_a_ticket_is_good_for_its_seconds_only() -> None:
    clock = StoppedClock()
    tickets = RealtimeTickets(b"shared", MemorySpentTickets(), clock, seconds=30)
    early, late = tickets.issue(ADA), tickets.issue(ADA)
    clock.at += dt.timedelta(seconds=29)
    assert asyncio.run(tickets.redeem(early)) == ADA
    clock.at += dt.timedelta(seconds=2)
    with pytest.raises(InvalidToken, match="expired"):
        asyncio.run(tickets.redeem(late))


@pytest.mark.parametrize("ticket", ["", "a.b.c", "é.x", "x" * 5000, "eyJ4Ijo.x"])
def test_what_is_not_a_ticket_is_refused_without_asking_the_store(ticket: str) -> None:
    tickets = RealtimeTickets(b"shared", UnreachableStore(), StoppedClock())
    with pytest.raises(InvalidToken):
        asyncio.run(tickets.redeem(ticket))


def test_a_good_ticket_whose_use_cannot_be_checked_is_refused_as_unavailable() -> None:
    tickets = RealtimeTickets(b"shared", UnreachableStore(), StoppedClock())
    with pytest.raises(CommandRefused) as refused:
        asyncio.run(tickets.redeem(tickets.issue(ADA)))
    assert refused.value.code is ErrorCode.UNAVAILABLE


def test_a_ticket_is_refused_once_the_sign_in_it_was_bought_with_has_expired() -> None:
    clock = StoppedClock()
    signed_in_until = int(clock.at.timestamp()) + 10
    tickets = RealtimeTickets(b"shared", MemorySpentTickets(), clock, seconds=30)
    ticket = tickets.issue(Identity(ADA.user_id, "user", "Ada", signed_in_until))
    clock.at += dt.timedelta(seconds=10)  # the ticket has 20 s left, the bearer token none
    with pytest.raises(InvalidToken, match="sign-in"):
        asyncio.run(tickets.redeem(ticket))


class Ticking:
    """The shared spent-tickets memory's own clock (a Redis key's time to live)."""

    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


def test_a_ticket_spent_on_one_node_stays_spent_on_a_node_whose_clock_is_behind() -> None:
    ahead, behind, ticking = StoppedClock(), StoppedClock(), Ticking()
    behind.at -= dt.timedelta(seconds=40)
    spent = MemorySpentTickets(ticking)
    ticket = RealtimeTickets(b"shared", spent, ahead, seconds=30).issue(ADA)
    assert asyncio.run(RealtimeTickets(b"shared", spent, ahead).redeem(ticket)) == ADA
    ticking.at += 31  # past the ticket's expiry, by the clock of the node that spent it
    behind.at += dt.timedelta(seconds=31)  # to this node the ticket has 39 s left
    with pytest.raises(InvalidToken, match="used"):
        asyncio.run(RealtimeTickets(b"shared", spent, behind).redeem(ticket))
