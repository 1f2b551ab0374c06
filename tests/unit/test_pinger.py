"""``handlers.pinger``: Tornado's keep-alive behaviour from one timer for all sockets."""

from __future__ import annotations

import asyncio
import gc

from handlers.pinger import Pinger


class Target:
    def __init__(self, answers: bool) -> None:
        self.answers = answers
        self.awaiting_pong = False
        self.ping_sent_at = 0.0
        self.pings: list[float] = []
        self.timed_out_at: float | None = None
        self.open = True
        self.paused = False  # its frames wait unread behind one of its own

    def reading_paused(self) -> bool:
        return self.paused

    def ping_open(self) -> bool:
        return self.open

    def send_ping(self) -> None:
        self.pings.append(asyncio.get_running_loop().time())
        if self.answers:
            asyncio.get_running_loop().call_later(0.01, Pinger.pong, self)

    def ping_timed_out(self) -> None:
        self.timed_out_at = asyncio.get_running_loop().time()
        self.open = False


async def test_pings_every_interval_and_closes_a_socket_that_never_answers() -> None:
    pinger = Pinger(0.1, 0.05)
    start = asyncio.get_running_loop().time()
    alive, dead = Target(answers=True), Target(answers=False)
    pinger.add(alive)
    pinger.add(dead)
    await asyncio.sleep(0.48)
    assert len(alive.pings) >= 3 and alive.timed_out_at is None and alive.open
    assert all(b - a >= 0.099 for a, b in zip(alive.pings, alive.pings[1:], strict=False))
    assert alive.pings[0] - start >= 0.099  # the first ping one interval after opening
    assert len(dead.pings) == 1
    assert dead.timed_out_at is not None and 0.049 <= dead.timed_out_at - dead.pings[0] < 0.1


async def test_a_timeout_longer_than_the_interval_pings_right_after_each_check() -> None:
    pinger = Pinger(0.05, 0.1)
    target = Target(answers=True)
    pinger.add(target)
    await asyncio.sleep(0.42)
    gaps = [b - a for a, b in zip(target.pings, target.pings[1:], strict=False)]
    assert gaps and all(0.099 <= gap < 0.15 for gap in gaps)


async def test_closed_and_collected_sockets_are_dropped() -> None:
    pinger = Pinger(0.05, 0.05)
    closed, gone = Target(answers=True), Target(answers=True)
    closed.open = False
    pinger.add(closed)
    pinger.add(gone)
    del gone
    gc.collect()
    await asyncio.sleep(0.12)
    assert closed.pings == []
    assert len(pinger) == 0


async def test_no_interval_no_pings() -> None:
    pinger = Pinger(0, 0)
    target = Target(answers=False)
    pinger.add(target)
    await asyncio.sleep(0.05)
    assert target.pings == [] and len(pinger) == 0


async def test_a_socket_whose_frames_wait_unread_is_timed_out_only_once_they_are_read_again() -> None:
    pinger = Pinger(0.05, 0.05)
    loop = asyncio.get_running_loop()
    dead, slow = Target(answers=False), Target(answers=False)
    dead.paused = slow.paused = True
    pinger.add(dead)
    pinger.add(slow)
    await asyncio.sleep(0.35)  # five timeouts while their pongs (if any) wait unread
    assert dead.timed_out_at is None and slow.timed_out_at is None
    assert len(dead.pings) == 1 and len(slow.pings) == 1  # no new ping while one is unanswered
    resumed = loop.time()
    dead.paused = slow.paused = False
    Pinger.pong(slow)  # read at last: its pong was there
    slow.answers = True
    await asyncio.sleep(0.25)
    assert dead.timed_out_at is not None and dead.timed_out_at - resumed < 0.1
    assert slow.timed_out_at is None and len(slow.pings) >= 3  # pinged as before
